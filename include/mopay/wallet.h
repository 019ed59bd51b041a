#ifndef MOPAY_WALLET_H
#define MOPAY_WALLET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mopay/connector.h"
#include "mopay/codec.h"
#include "mopay/err.h"
#include "mopay/id.h"
#include "mopay/journal.h"
#include "mopay/keys.h"
#include "mopay/ledger_service.h"
#include "mopay/money.h"
#include "mopay/store.h"
#include "mopay/validate.h"

/* The consumer half of the wallet: customers, their devices and sessions, KYC tiers and their
 * limits, wallets (one ledger account each), funding sources, top-ups, withdrawals and
 * person-to-person transfers.
 *
 * The state lives in memory and changes only on the sequencer thread, inside the batch's
 * transaction: every operation below checks everything first and then changes memory, the
 * ledger (through the ledger service, so the event is logged) and the journal together, or
 * returns an operating error having changed nothing. The domain never reads the clock (the
 * sequencer hands it `now_ns`) and does no network I/O (the connector answers at once or later
 * through mopay_wallet_tick). Each change puts the changed objects' images (mopay/codec.h) into
 * the batch's journal record: customers, devices, wallets, funding sources, movements and
 * sessions are rebuilt by replaying the journal at start, in the order they were written.
 * mopay_wallet_load reads the JSON records of a database from before the journal.
 *
 * The one exception to "sequencer thread only" is mopay_wallet_session_find, which event-loop
 * threads call to authenticate requests; the session table has its own read-write lock. */

#define MOPAY_WALLET_TIERS 3
#define MOPAY_NAME_BYTES_MAX 64          /* display names, device names, card holders */
#define MOPAY_DEVICES_PER_CUSTOMER_MAX 5 /* live devices */
#define MOPAY_WALLETS_PER_CUSTOMER_MAX 16
#define MOPAY_SOURCES_PER_CUSTOMER_MAX 16
#define MOPAY_NOTE_BYTES_MAX 140
#define MOPAY_PIN_HASH_BYTES 128         /* crypto_pwhash_STRBYTES */
#define MOPAY_PIN_FAILURES_MAX 5         /* wrong PINs in a row before the lock */
#define MOPAY_PIN_LOCK_S (15 * 60)
#define MOPAY_SESSION_SKEW_S (5 * 60)    /* a signed timestamp within this of the server's clock */
#define MOPAY_DEVICE_SECRET_BYTES 32     /* offline payment-code secret */
#define MOPAY_SESSION_TOKEN_BYTES 68     /* "st_" + 64 hex + NUL */

/* Ledger transfer codes: what a wallet movement was. */
enum mopay_wallet_code {
    MOPAY_WALLET_CODE_TOPUP = 1,
    MOPAY_WALLET_CODE_WITHDRAWAL = 2,
    MOPAY_WALLET_CODE_P2P = 3,
};

struct mopay_wallet_tier_limits {
    int64_t balance_cap_major;   /* in the wallet's currency's major units */
    int64_t daily_outflow_major;
};

/* A movement the risk step looks at before the ledger (the API wires the risk engine in). */
struct mopay_wallet_move {
    int kind; /* enum mopay_risk_kind (mopay/risk.h) */
    const struct mopay_wallet *wallet;
    const struct mopay_customer *counterparty;  /* P2P: the receiver; else NULL */
    const struct mopay_funding_source *source; /* top-ups and withdrawals */
    int64_t amount_minor;
    bool pin_verified; /* the request carried the customer's PIN, checked */
};

struct mopay_wallet_risk {
    /* On the sequencer, changing nothing: MOPAY_OK lets the movement through; risk_declined or
     * confirmation_required (the PIN was not given) refuse it. */
    enum mopay_err (*allow)(void *ctx, const struct mopay_wallet_move *m, int64_t now_ns);
    /* The movement happened (a top-up or withdrawal: was asked for). */
    void (*commit)(void *ctx, const struct mopay_wallet_move *m, int64_t now_ns);
    void (*wrong_pin)(void *ctx, const struct mopay_customer *c, int64_t now_ns);
    void (*device_revoked)(void *ctx, const struct mopay_customer *c, int64_t now_ns);
    void *ctx;
};

struct mopay_wallet_options {
    struct mopay_wallet_tier_limits tiers[MOPAY_WALLET_TIERS];
    int64_t session_ttl_s;
    int64_t topup_pending_ttl_s; /* a top-up the network has not answered is voided after this */
    const struct mopay_keys *keys;
    struct mopay_ledger_service *ledger;
    struct mopay_connector *connector;
    struct mopay_journal *journal; /* where customers, devices, wallets, sources, movements and
                                      sessions are recorded; their kinds are registered with it */
    struct mopay_wallet_risk risk; /* allow NULL: no risk step */
};

struct mopay_customer;
struct mopay_wallet;

/* The trust rating, 350 to 950: from tenure, KYC tier, bills paid on time, balance stability
 * (payments refused for want of funds), refunds received, and fraud flags. It raises a tier's
 * limits within the tier's bounds (at most half as much again, never past the next tier's
 * figure) and makes tax refunds guaranteed (mopay/tax.h). */
#define MOPAY_TRUST_MIN 350
#define MOPAY_TRUST_MAX 950
#define MOPAY_TRUST_GUARANTEE 750 /* from here, instant tax refunds are guaranteed */
struct mopay_trust_inputs {
    uint32_t bills_on_time, bills_late, refunds_received, short_of_funds, fraud_flags;
};
#define MOPAY_TRUST_FACTORS 6
struct mopay_trust {
    int score;
    struct {
        const char *name;  /* "tenure", "kyc_tier", "bills", "balance", "refunds", "fraud" */
        int points;        /* what it adds to (or takes from) the base of 500 */
        char sentence[96]; /* the factor in words */
    } factors[MOPAY_TRUST_FACTORS];
    size_t factor_count; /* ordered by weight, largest effect first */
    int limit_bonus_pct; /* 0, 25 or 50 */
};
void mopay_wallet_trust(const struct mopay_customer *c, int64_t now_ns, struct mopay_trust *out);
/* The score alone, cheap enough for every payment. */
int mopay_wallet_trust_score(const struct mopay_customer *c, int64_t now_ns);
enum mopay_trust_event { MOPAY_TRUST_BILL_ON_TIME, MOPAY_TRUST_BILL_LATE, MOPAY_TRUST_REFUND, MOPAY_TRUST_SHORT,
                         MOPAY_TRUST_FRAUD };

struct mopay_device {
    struct mopay_id id;
    struct mopay_customer *customer;
    char name[MOPAY_NAME_BYTES_MAX + 1];
    uint8_t public_key[32];                       /* Ed25519 */
    uint8_t code_secret[MOPAY_DEVICE_SECRET_BYTES]; /* sealed in its image */
    int64_t created_at_ns;
    int64_t revoked_at_ns; /* 0: live */
    int64_t last_signed_ns; /* newest signed session timestamp: older or equal ones are replays */
    uint32_t code_index;    /* names the device in its offline payment codes (mopay/paycode.h) */
    int64_t code_last_step; /* the newest step a payment code of it paid: older ones are used */
    atomic_bool revoked;    /* read by event-loop threads when they authenticate a session */
};

struct mopay_customer {
    struct mopay_id id;
    char phone[MOPAY_PHONE_BYTES];
    uint8_t phone_fingerprint[16]; /* mopay_wallet_fingerprint of the phone: what blocklists match */
    char name[MOPAY_NAME_BYTES_MAX + 1];
    char country[3];
    char pin_hash[MOPAY_PIN_HASH_BYTES];
    int kyc_tier;
    char kyc_document_type[24];
    char kyc_document_last4[5];
    char kyc_document_sealed[112]; /* base64 of the number sealed under the secret seal */
    bool frozen;
    int failed_pins;
    int64_t locked_until_ns;
    struct mopay_trust_inputs trust; /* what the trust rating is made of, kept as it happens */
    int64_t created_at_ns;
    struct mopay_device *devices[MOPAY_DEVICES_PER_CUSTOMER_MAX * 4]; /* live and revoked */
    size_t device_count;
    struct mopay_wallet *wallets[MOPAY_WALLETS_PER_CUSTOMER_MAX];
    size_t wallet_count;
    struct mopay_funding_source *sources[MOPAY_SOURCES_PER_CUSTOMER_MAX];
    size_t source_count;
};

struct mopay_wallet {
    struct mopay_id id; /* also its ledger account's id */
    struct mopay_customer *customer;
    const struct mopay_currency *currency;
    int64_t created_at_ns;
    int64_t outflow_day;       /* UTC days since 1970 that outflow_minor counts */
    int64_t outflow_minor;     /* paid out that day (reservations included) */
};

enum mopay_source_type { MOPAY_SOURCE_CARD, MOPAY_SOURCE_BANK_ACCOUNT };

struct mopay_funding_source {
    struct mopay_id id;
    struct mopay_customer *customer;
    enum mopay_source_type type;
    enum mopay_card_brand brand;  /* cards */
    int exp_month, exp_year;      /* cards */
    char bank_code[12];           /* bank accounts */
    bool iban;                    /* bank accounts: the number is an IBAN */
    char last4[5];
    char holder[MOPAY_NAME_BYTES_MAX + 1];
    bool primary, backup, lost;
    uint8_t sealed_number[34 + MOPAY_SEAL_AD_OVERHEAD]; /* the card, IBAN or account number (<= 34), sealed
                                                           for this source (mopay_keys_seal_ad) */
    size_t sealed_len;
    uint8_t fingerprint[16]; /* keyed hash of the number: what blocklists match */
    int64_t created_at_ns;
};

enum mopay_movement_kind { MOPAY_MOVEMENT_TOPUP, MOPAY_MOVEMENT_WITHDRAWAL };
enum mopay_movement_status {
    MOPAY_MOVEMENT_PENDING,
    MOPAY_MOVEMENT_SUCCEEDED,
    MOPAY_MOVEMENT_DECLINED,
    MOPAY_MOVEMENT_EXPIRED,
};
const char *mopay_movement_status_name(enum mopay_movement_status status);

/* A top-up or a withdrawal: a pending ledger transfer (its id is the movement's), posted when
 * the connector approves, voided when it declines, times out, or the answer never comes. */
struct mopay_movement {
    struct mopay_id id;
    enum mopay_movement_kind kind;
    struct mopay_wallet *wallet;
    struct mopay_funding_source *source;
    int64_t amount_minor;
    enum mopay_movement_status status;
    char decline_code[32];
    char network_reference[40];
    int64_t created_at_ns, resolved_at_ns, expires_at_ns;
    struct mopay_movement *next_pending; /* the list of unresolved movements */
};

struct mopay_session {
    uint8_t hash[32]; /* keyed BLAKE2b of the token */
    struct mopay_customer *customer;
    struct mopay_device *device;
    int64_t created_at_ns, expires_at_ns;
    struct mopay_session *next; /* creation order = expiry order */
};

struct mopay_wallet_state;

struct mopay_wallet_state *mopay_wallet_new(const struct mopay_wallet_options *options);
void mopay_wallet_free(struct mopay_wallet_state *w);
/* Loads the JSON records a database from before the journal holds (after the journal's replay;
 * the caller then moves them into the journal with mopay_journal_absorb_records). */
enum mopay_err mopay_wallet_load(struct mopay_wallet_state *w, struct mopay_store *store, char *err,
                                 size_t err_cap);
const struct mopay_wallet_options *mopay_wallet_options(const struct mopay_wallet_state *w);
/* Wires the risk step in, before the sequencer starts. */
void mopay_wallet_set_risk(struct mopay_wallet_state *w, const struct mopay_wallet_risk *risk);

/* --- customers, devices, sessions --- */
struct mopay_signup {
    char phone[MOPAY_PHONE_BYTES];
    const char *name, *country;
    char pin_hash[MOPAY_PIN_HASH_BYTES]; /* crypto_pwhash_str of the PIN, made off the sequencer */
    uint8_t public_key[32];
    const char *device_name;
    uint8_t code_secret[MOPAY_DEVICE_SECRET_BYTES];
};
/* phone_taken when the phone is registered. */
enum mopay_err mopay_wallet_signup(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns,
                                   const struct mopay_signup *s, struct mopay_customer **out_customer,
                                   struct mopay_device **out_device);
struct mopay_customer *mopay_wallet_customer(struct mopay_wallet_state *w, const struct mopay_id *id);
struct mopay_customer *mopay_wallet_customer_by_phone(struct mopay_wallet_state *w, const char *phone);
struct mopay_device *mopay_wallet_device(struct mopay_wallet_state *w, const struct mopay_id *id);
enum mopay_err mopay_wallet_kyc_set(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns,
                                    struct mopay_customer *c, int tier, const char *document_type,
                                    const char *document_number);
enum mopay_err mopay_wallet_freeze(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns,
                                   struct mopay_customer *c, bool frozen);
/* devices_max when the customer has the most live devices. */
enum mopay_err mopay_wallet_device_add(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns,
                                       struct mopay_customer *c, const uint8_t public_key[32], const char *name,
                                       const uint8_t code_secret[MOPAY_DEVICE_SECRET_BYTES],
                                       struct mopay_device **out);
/* The lost-phone button: its sessions stop authenticating at once. */
enum mopay_err mopay_wallet_device_revoke(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns,
                                          struct mopay_device *d);

/* The live or revoked device whose payment codes carry this index; NULL when none. */
struct mopay_device *mopay_wallet_device_by_code(struct mopay_wallet_state *w, uint32_t code_index);
/* A payment code of `step` paid: later codes of earlier or equal steps are used. */
enum mopay_err mopay_wallet_code_used(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns,
                                      struct mopay_device *d, int64_t step);

/* A PIN entered for something other than a session (a payment's confirmation): a wrong one is
 * counted like a login's, the fifth in a row locking the customer; a right one clears the count.
 * Returns MOPAY_OK with *out_refusal pin_incorrect or customer_locked when the PIN was wrong (the
 * count stands), or customer_locked, changing nothing, when the customer is locked already. */
enum mopay_err mopay_wallet_pin_attempt(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns,
                                        struct mopay_customer *c, bool pin_ok, enum mopay_err *out_refusal);
/* The checks before a session's PIN is verified: customer_locked, device_revoked, or
 * signature_invalid for a device that is not this customer's. */
enum mopay_err mopay_wallet_session_precheck(const struct mopay_customer *c, const struct mopay_device *d,
                                             int64_t now_ns);
/* After the PIN was verified (pin_ok) or not. A wrong PIN is counted (and may lock the customer)
 * and the signature is used up either way: the call returns MOPAY_OK with *out_refusal set to
 * pin_incorrect or customer_locked, and the change stands. Errors that change nothing:
 * signature_replayed, device_revoked, customer_locked. On success a session for token_hash. */
enum mopay_err mopay_wallet_session_open(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns,
                                         struct mopay_device *d, int64_t signed_ns, bool pin_ok,
                                         const uint8_t token_hash[32], enum mopay_err *out_refusal,
                                         struct mopay_session **out);
/* Any thread: the live session for this token hash; false when unknown, expired or its device
 * was revoked. */
bool mopay_wallet_session_find(struct mopay_wallet_state *w, const uint8_t token_hash[32], int64_t now_ns,
                               struct mopay_id *out_customer);

/* --- wallets --- */
struct mopay_wallet *mopay_wallet_get(struct mopay_wallet_state *w, const struct mopay_id *id);
/* How many customers and wallets there are (sequencer thread): for admission control. */
size_t mopay_wallet_customer_count(const struct mopay_wallet_state *w);
size_t mopay_wallet_count(const struct mopay_wallet_state *w);
struct mopay_wallet *mopay_wallet_of(const struct mopay_customer *c, const struct mopay_currency *currency);
/* wallet_exists when the customer has one in this currency. */
enum mopay_err mopay_wallet_open(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns,
                                 struct mopay_customer *c, const struct mopay_currency *currency,
                                 struct mopay_wallet **out);
struct mopay_wallet_balance {
    int64_t balance_minor;   /* posted credits - posted debits */
    int64_t available_minor; /* balance - pending debits (reserved withdrawals) */
    int64_t incoming_minor;  /* pending credits (unanswered top-ups) */
    int64_t balance_cap_minor, daily_outflow_minor, used_today_minor;
};
void mopay_wallet_balance(struct mopay_wallet_state *w, const struct mopay_wallet *wallet, int64_t now_ns,
                          struct mopay_wallet_balance *out);

/* --- funding sources --- */
struct mopay_source_input {
    enum mopay_source_type type;
    char number[36];  /* card digits, IBAN, or account number: checked by the caller */
    enum mopay_card_brand brand;
    int exp_month, exp_year;
    char bank_code[12];
    bool iban;
    const char *holder;
    bool backup;
};
enum mopay_err mopay_wallet_source_add(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns,
                                       struct mopay_customer *c, const struct mopay_source_input *in,
                                       struct mopay_funding_source **out);
struct mopay_funding_source *mopay_wallet_source(struct mopay_wallet_state *w, const struct mopay_id *id);
/* The keyed fingerprint of a card or account number, or of a phone number: stable across restarts
 * (keyed by a subkey of the master key), so blocklists can name them. */
void mopay_wallet_fingerprint(const struct mopay_keys *keys, const char *text, uint8_t out[16]);
/* Marks it lost; when it was the primary, the backup becomes the primary at once. */
enum mopay_err mopay_wallet_source_lost(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns,
                                        struct mopay_funding_source *s);

/* --- money --- */
/* A top-up or withdrawal: reserve, ask the connector, and post or void when it answers now. */
enum mopay_err mopay_wallet_movement_start(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns,
                                           enum mopay_movement_kind kind, struct mopay_wallet *wallet,
                                           struct mopay_funding_source *source, int64_t amount_minor,
                                           bool pin_verified, struct mopay_movement **out);
struct mopay_movement *mopay_wallet_movement(struct mopay_wallet_state *w, const struct mopay_id *id);

struct mopay_p2p {
    struct mopay_id id; /* trf_: also the ledger transfer's id */
    struct mopay_wallet *from, *to;
    int64_t amount_minor;
    const char *note;
};
/* Person to person. The receiver's wallet in the currency is opened when missing. pin_verified
 * (here and for movements): the request carried the customer's PIN, so the risk step's
 * confirmation is given. */
enum mopay_err mopay_wallet_p2p(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns,
                                struct mopay_customer *from, struct mopay_customer *to,
                                const struct mopay_currency *currency, int64_t amount_minor, const char *note,
                                bool pin_verified, struct mopay_p2p *out);

/* For the other modules that move a wallet's money (payments, refunds): the same limit checks
 * and bookkeeping the wallet's own movements use. The checks change nothing; _outflow_count
 * counts `amount` (negative: gives back one made at `made_ns`, which counts only the same UTC
 * day) against today's limit and puts the wallet's image in the journal; _history_add appends an
 * entry to its history (amount negative for money out). */
enum mopay_err mopay_wallet_outflow_check(struct mopay_wallet_state *w, const struct mopay_wallet *wallet,
                                          int64_t amount_minor, int64_t now_ns);
enum mopay_err mopay_wallet_inflow_check(struct mopay_wallet_state *w, const struct mopay_wallet *wallet,
                                         int64_t amount_minor, int64_t now_ns);
enum mopay_err mopay_wallet_outflow_count(struct mopay_wallet_state *w, struct mopay_store *store,
                                          struct mopay_wallet *wallet, int64_t amount_minor, int64_t made_ns,
                                          int64_t now_ns);
enum mopay_err mopay_wallet_history_add(struct mopay_store *store, const struct mopay_wallet *wallet, int64_t now_ns,
                                        const char *id, const char *type, int64_t amount_minor,
                                        const char *counterparty, const char *note);

/* Counts an event of the customer's history for the trust rating (on the sequencer, written with
 * the change that caused it). */
enum mopay_err mopay_wallet_trust_note(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns,
                                       struct mopay_customer *c, enum mopay_trust_event event);

/* The wallet's receivable account (kind receivable, created on first use): what its customer owes
 * the platform, booked there rather than by taking the wallet below zero. */
enum mopay_err mopay_wallet_receivable(struct mopay_wallet_state *w, const struct mopay_wallet *wallet, int64_t now_ns,
                                       struct mopay_id *out);
/* MOPAY_OK when the wallet's receivable account exists or the ledger has room to open it;
 * capacity_exhausted otherwise (checked before a change that would open it). */
enum mopay_err mopay_wallet_receivable_room(struct mopay_wallet_state *w, const struct mopay_wallet *wallet);

/* The sequencer tick: late connector answers, and movements nobody answered voided. */
enum mopay_err mopay_wallet_tick(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns);

/* The wallet's record kinds in the journal (docs/log.md): their tables, for tools and tests
 * that read the log. */
extern const struct mopay_record_kind mopay_wallet_customer_kind, mopay_wallet_device_kind, mopay_wallet_wallet_kind,
    mopay_wallet_source_kind, mopay_wallet_movement_kind, mopay_wallet_session_kind;

#endif
