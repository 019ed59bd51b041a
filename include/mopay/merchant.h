#ifndef MOPAY_MERCHANT_H
#define MOPAY_MERCHANT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mopay/err.h"
#include "mopay/id.h"
#include "mopay/keys.h"
#include "mopay/ledger_service.h"
#include "mopay/money.h"
#include "mopay/store.h"

/* Merchants and their orders: who money is paid to.
 *
 * State in memory, changed only on the sequencer thread inside the batch's transaction, each
 * change written as the record's image in the batch's journal record (mopay/journal.h), which
 * start-up replays; mopay_merchant_load reads the JSON records of a database from before the
 * journal. A merchant's webhook secret is sealed in its image, its API keys are keyed hashes
 * there. Every merchant has a ledger account
 * (kind merchant) in its currency that payments credit; its fee goes to the platform's revenue
 * account in that currency. mopay_merchant_key_find is the one call made from event-loop
 * threads (to authenticate merchant API keys); the key table has its own lock. */

#define MOPAY_MERCHANT_NAME_BYTES_MAX 64
#define MOPAY_MERCHANT_CITY_BYTES_MAX 32
#define MOPAY_URL_BYTES_MAX 512
#define MOPAY_MERCHANT_KEYS_MAX 8          /* API keys per merchant, live and revoked */
#define MOPAY_MERCHANT_KEY_BYTES 68        /* "sk_" + 64 hex + NUL */
#define MOPAY_WEBHOOK_SECRET_BYTES 32
/* The secret's text: "whsec_" + the 32 bytes in URL-safe base64 without padding, and a NUL. */
#define MOPAY_WEBHOOK_SECRET_TEXT_BYTES (6 + 43 + 1)
#define MOPAY_FEE_BPS_MAX 10000
#define MOPAY_REFERENCE_BYTES_MAX 64
#define MOPAY_DESCRIPTION_BYTES_MAX 256
#define MOPAY_ORDER_TTL_S_MAX (7LL * 86400)

struct mopay_merchant_key {
    uint8_t hash[32]; /* keyed BLAKE2b of the secret */
    char last4[5];
    int64_t created_at_ns, revoked_at_ns;
};

enum mopay_merchant_kind { MOPAY_MERCHANT_SHOP, MOPAY_MERCHANT_BILLER };

struct mopay_merchant {
    struct mopay_id id; /* also its ledger account's id */
    enum mopay_merchant_kind kind; /* a biller takes bill payments */
    char name[MOPAY_MERCHANT_NAME_BYTES_MAX + 1];
    char mcc[5];
    char country[3];
    char city[MOPAY_MERCHANT_CITY_BYTES_MAX + 1];
    const struct mopay_currency *currency;
    int fee_bps;
    char settlement_account[64];
    char webhook_url[MOPAY_URL_BYTES_MAX + 1];
    uint8_t webhook_secret[MOPAY_WEBHOOK_SECRET_BYTES]; /* sealed in its image */
    /* The secret's form. true: shown as "whsec_..." and the HMAC key is that text's bytes, as
     * Stripe's libraries use it. false (merchants made before, until they rotate): shown as 64
     * hex digits, and the key is the 32 bytes they spell. */
    bool webhook_secret_text;
    struct mopay_merchant_key keys[MOPAY_MERCHANT_KEYS_MAX];
    size_t key_count;
    int64_t created_at_ns;
};

enum mopay_order_status { MOPAY_ORDER_OPEN, MOPAY_ORDER_PAID, MOPAY_ORDER_EXPIRED };
const char *mopay_order_status_name(enum mopay_order_status status);

struct mopay_order {
    struct mopay_id id;
    struct mopay_merchant *merchant;
    int64_t amount_minor; /* in the merchant's currency */
    char reference[MOPAY_REFERENCE_BYTES_MAX + 1];
    char description[MOPAY_DESCRIPTION_BYTES_MAX + 1];
    int64_t vat_minor;    /* tax-free data: the VAT included in the amount; 0 when not tax-free */
    bool tax_free;
    enum mopay_order_status status;
    struct mopay_id payment_id; /* when paid */
    int64_t created_at_ns, expires_at_ns, paid_at_ns;
    struct mopay_order *next_open; /* the list of open orders the tick expires */
};

struct mopay_merchant_options {
    const struct mopay_keys *keys;
    struct mopay_ledger_service *ledger;
    struct mopay_journal *journal; /* where merchants, orders and bills are recorded */
    /* Called on the sequencer for each order the tick expires, in its transaction (the API
     * tells the merchant); NULL for none. */
    enum mopay_err (*order_expired)(void *ctx, struct mopay_store *store, int64_t now_ns,
                                    const struct mopay_order *order);
    /* Before the tick expires an order: whether order_expired will have room for its event.
     * When not, the order is left as it is (open, but no longer payable: its expiry has passed)
     * and tried again at the next tick; NULL: always room. */
    bool (*order_expiry_room)(void *ctx, const struct mopay_order *order);
    void *ctx;
};

struct mopay_merchant_state;

struct mopay_merchant_state *mopay_merchant_state_new(const struct mopay_merchant_options *options);
void mopay_merchant_state_free(struct mopay_merchant_state *m);
/* Records written before the journal, after it was replayed (a database from before it). */
enum mopay_err mopay_merchant_load(struct mopay_merchant_state *m, struct mopay_store *store, char *err,
                                   size_t err_cap);

struct mopay_merchant_input {
    enum mopay_merchant_kind kind;
    const char *name, *mcc, *country, *city;
    const struct mopay_currency *currency;
    int fee_bps;
    const char *settlement_account, *webhook_url;
    uint8_t webhook_secret[MOPAY_WEBHOOK_SECRET_BYTES];
    char key[MOPAY_MERCHANT_KEY_BYTES]; /* the first API key, made off the sequencer */
    uint8_t key_hash[32];
};
enum mopay_err mopay_merchant_create(struct mopay_merchant_state *m, struct mopay_store *store, int64_t now_ns,
                                     const struct mopay_merchant_input *in, struct mopay_merchant **out);
struct mopay_merchant *mopay_merchant_get(struct mopay_merchant_state *m, const struct mopay_id *id);
/* How many merchants and orders are held in memory (sequencer thread): for admission control. */
size_t mopay_merchant_count(const struct mopay_merchant_state *m);
/* Order expiries the tick put off for want of room for their event, since start. */
uint64_t mopay_merchant_expiries_deferred(const struct mopay_merchant_state *m);
size_t mopay_order_count(const struct mopay_merchant_state *m);
/* A new API key; with revoke_others, the merchant's other keys stop working at once. */
enum mopay_err mopay_merchant_key_add(struct mopay_merchant_state *m, struct mopay_store *store, int64_t now_ns,
                                      struct mopay_merchant *merchant, const char *key, const uint8_t hash[32],
                                      bool revoke_others);
/* A secret's "whsec_..." text. */
void mopay_merchant_webhook_secret_format(const uint8_t secret[MOPAY_WEBHOOK_SECRET_BYTES],
                                          char out[MOPAY_WEBHOOK_SECRET_TEXT_BYTES]);
/* The secret's text as shown to the merchant ("whsec_..." or, made before, 64 hex digits). */
void mopay_merchant_webhook_secret_text(const struct mopay_merchant *merchant,
                                        char out[MOPAY_WEBHOOK_SECRET_TEXT_BYTES + 16]);
/* The HMAC key webhooks are signed with (see webhook_secret_text); returns its length. */
size_t mopay_merchant_webhook_key(const struct mopay_merchant *merchant, uint8_t key[MOPAY_WEBHOOK_SECRET_TEXT_BYTES]);
/* A new secret in the "whsec_" form, made off the sequencer; the old one stops signing. */
enum mopay_err mopay_merchant_webhook_secret_set(struct mopay_merchant_state *m, struct mopay_store *store,
                                                 int64_t now_ns, struct mopay_merchant *merchant,
                                                 const uint8_t secret[MOPAY_WEBHOOK_SECRET_BYTES]);
/* Any thread: the merchant a live key belongs to. */
bool mopay_merchant_key_find(struct mopay_merchant_state *m, const uint8_t hash[32], struct mopay_id *out);

/* The fee on an amount, rounded down (the merchant is never charged a fraction it did not owe). */
int64_t mopay_merchant_fee(const struct mopay_merchant *merchant, int64_t amount_minor);

/* --- orders --- */
struct mopay_order_input {
    int64_t amount_minor;
    const char *reference, *description;
    int64_t expires_in_s;
    bool tax_free;
    int64_t vat_minor;
};
enum mopay_err mopay_order_create(struct mopay_merchant_state *m, struct mopay_store *store, int64_t now_ns,
                                  struct mopay_merchant *merchant, const struct mopay_order_input *in,
                                  struct mopay_order **out);
struct mopay_order *mopay_order_get(struct mopay_merchant_state *m, const struct mopay_id *id);
/* Whether it can be paid now: order_paid, order_expired. */
enum mopay_err mopay_order_payable(const struct mopay_order *order, int64_t now_ns);
enum mopay_err mopay_order_mark_paid(struct mopay_merchant_state *m, struct mopay_store *store, int64_t now_ns,
                                     struct mopay_order *order, const struct mopay_id *payment_id);
/* --- bills: what a biller's customers owe, by the reference they pay under --- */
#define MOPAY_BILL_REFERENCE_BYTES_MAX 32
enum mopay_bill_status { MOPAY_BILL_OPEN, MOPAY_BILL_PAID };
struct mopay_bill {
    struct mopay_id id;
    struct mopay_merchant *biller;
    char reference[MOPAY_BILL_REFERENCE_BYTES_MAX + 1]; /* the customer's account number at the biller */
    int64_t amount_minor, due_minor; /* billed, and still owed */
    int64_t due_at_ns;
    bool partial_allowed;
    enum mopay_bill_status status;
    int64_t created_at_ns, paid_at_ns;
};
const char *mopay_bill_status_name(enum mopay_bill_status status);
/* bill_exists when the reference has an open bill at this biller. */
enum mopay_err mopay_bill_create(struct mopay_merchant_state *m, struct mopay_store *store, int64_t now_ns,
                                 struct mopay_merchant *biller, const char *reference, int64_t amount_minor,
                                 int64_t due_at_ns, bool partial_allowed, struct mopay_bill **out);
struct mopay_bill *mopay_bill_get(struct mopay_merchant_state *m, const struct mopay_id *id);
/* The open bill of a reference, or else the newest one; NULL when none. */
struct mopay_bill *mopay_bill_find(struct mopay_merchant_state *m, const struct mopay_merchant *biller,
                                   const char *reference);
/* Whether `amount` may pay the bill now: bill_paid, bill_amount_invalid (more than owed, or part
 * of a bill that must be paid whole). */
enum mopay_err mopay_bill_payable(const struct mopay_bill *bill, int64_t amount_minor);
enum mopay_err mopay_bill_pay(struct mopay_merchant_state *m, struct mopay_store *store, int64_t now_ns,
                              struct mopay_bill *bill, int64_t amount_minor);

/* The sequencer tick: open orders past their expiry become expired. */
enum mopay_err mopay_merchant_tick(struct mopay_merchant_state *m, struct mopay_store *store, int64_t now_ns);

#endif
