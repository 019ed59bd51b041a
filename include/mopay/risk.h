#ifndef MOPAY_RISK_H
#define MOPAY_RISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Real-time risk: every money-moving event is scored before the ledger commits it.
 *
 * The engine is a pure state machine like the ledger: an event and the per-customer state give
 * features, rules and a model score; no I/O, no clock (times are the caller's), no locks (one
 * writer, the sequencer). Memory is bounded: a fixed-size state per customer (rings of the last
 * MOPAY_RISK_OUTFLOWS_KEPT outflows, MOPAY_RISK_PAYEES_KEPT payees, ...), at most
 * config.customers_max customers, and malloc only when a customer is first seen.
 *
 *   mopay_risk_score   read-only: the decision (APPROVE / CONFIRM / DECLINE), the model score,
 *                      up to four reasons and the features the model saw;
 *   mopay_risk_commit  once the event has happened: the state learns from it.
 *
 * The server scores, then commits only what the ledger committed. Features and the model are
 * statistics and use double; amounts in events stay int64 minor units. */

/* Limits (every ring and set has a fixed size; see the feature list for what each bounds). */
#define MOPAY_RISK_OUTFLOWS_KEPT 64  /* the windows below count at most this many outflows */
#define MOPAY_RISK_PAYEES_KEPT 32    /* recent distinct payees per customer */
#define MOPAY_RISK_TOPUPS_KEPT 16    /* recent top-ups per customer */
#define MOPAY_RISK_INFLOWS_KEPT 8    /* recent P2P receipts per customer */
#define MOPAY_RISK_WRONG_PINS_KEPT 8 /* recent wrong PINs per customer */
#define MOPAY_RISK_COUNTRIES_KEPT 4  /* recent payee countries per customer */
#define MOPAY_RISK_CUSTOMERS_MAX_DEFAULT 50000000u

#define MOPAY_RISK_NS_PER_S INT64_C(1000000000)
#define MOPAY_RISK_MINUTE_NS (60 * MOPAY_RISK_NS_PER_S)
#define MOPAY_RISK_HOUR_NS (3600 * MOPAY_RISK_NS_PER_S)
#define MOPAY_RISK_DAY_NS (86400 * MOPAY_RISK_NS_PER_S)

enum mopay_risk_kind {
    MOPAY_RISK_PAYMENT,    /* to a merchant (payee = merchant id) */
    MOPAY_RISK_P2P_OUT,    /* to another customer (payee = the receiving customer's id) */
    MOPAY_RISK_WITHDRAWAL, /* cash-out to a bank account (payee = the account's key, or zero) */
    MOPAY_RISK_TOPUP,      /* money in from a card or bank (card = the card's key, or zero) */
    MOPAY_RISK_KIND_COUNT
};

/* One money-moving event, as the server knows it when it asks. Ids and keys are 16 bytes (an
 * id's bytes, or mopay_index_key_of_text of a phone number or card fingerprint); all-zero means
 * "none". Times are Unix nanoseconds; 0 means unknown for the *_created_ns fields. */
struct mopay_risk_event {
    int64_t time_ns;
    enum mopay_risk_kind kind;
    uint8_t customer[16];
    uint8_t device[16];
    uint8_t payee[16];
    uint8_t phone[16]; /* the customer's phone, for the phone blocklist */
    uint8_t card[16];  /* the funding card, for the card blocklist */
    int64_t amount_minor; /* > 0, in the wallet's currency */
    uint8_t currency_exponent;
    char customer_country[3];  /* ISO 3166-1 alpha-2, NUL-terminated */
    char payee_country[3];     /* the merchant's, the receiving customer's, the card's issuer's */
    uint16_t mcc;              /* the merchant's category code, 0 if none */
    uint8_t kyc_tier;          /* 0 (none) .. 3 (full) */
    int64_t device_created_ns;
    int64_t funding_created_ns; /* when the card or bank account was added; 0: none (the wallet) */
    int64_t customer_created_ns;
    int16_t utc_offset_min;     /* the customer's local time: mopay_risk_utc_offset_min */
};

/* The features, in the model's order. Windows are (t - W, t]: an event exactly W old is out. The
 * event being scored counts in its own windows ("this would be the 6th outflow this minute").
 * Outflows are payments, P2P and withdrawals; top-ups are inflows. Counts and sums over windows
 * see the last MOPAY_RISK_OUTFLOWS_KEPT outflows only, so they saturate there.
 *
 *   log_amount           log(1 + amount in major units)
 *   amount_z             (log(1 + a) - mean) / max(sd, 0.25) over the customer's past outflows'
 *                        log amounts (Welford); 0 before 3 outflows or for top-ups; in [-8, 8]
 *   amount_over_max      log((1 + a) / (1 + largest past outflow)); 0 without history; [-10, 10]
 *   history_outflows     log(1 + number of past outflows)
 *   count_1m|1h|24h      log(1 + outflows in the window)
 *   sum_1h|24h           log(1 + outflow amounts in the window, major units)
 *   device_age           log(1 + hours since the device was added); unknown (0) counts as new
 *   funding_age          log(1 + hours since the card or bank account was added); none counts
 *                        as ten years (the feature is about fresh cards)
 *   account_age          log(1 + days since sign-up)
 *   device_account_gap   how much younger the device is than the account, log-scaled:
 *                        max(0, account_age - log(1 + days since the device was added)); about 0
 *                        for a customer still on the device they signed up with, large for an old
 *                        account on a device added today (a new phone, or a takeover)
 *   new_payee            1 when an outflow goes to a payee not among the customer's last
 *                        MOPAY_RISK_PAYEES_KEPT payees or last paid 30 days ago or more
 *   cross_border         1 when the payee's country differs from the customer's
 *   new_country          1 when cross-border and the customer sent nothing to that country in
 *                        the last 30 days (among its last MOPAY_RISK_COUNTRIES_KEPT countries)
 *   night                1 when the customer's local hour is 0-5
 *   night_abroad         night * cross_border
 *   wrong_pins_24h       wrong PINs in the last 24 h (mopay_risk_note_wrong_pin)
 *   device_revoked_7d    1 when one of the customer's devices was revoked in the last 7 days
 *   mcc_risk             mopay_risk_mcc_risk of the merchant's category (0 when not a payment)
 *   withdrawal_share_1h  withdrawals / outflows in the last hour, by amount
 *   payees_1h            distinct people and accounts (payees of P2P and withdrawals) paid in
 *                        the last hour (mule fan-out); merchants do not count
 *   new_payees_1h        of those, the ones that were new (new_payee) when paid: a takeover's or
 *                        a mule's several new people and accounts in a short time
 *   small_topups_1h      top-ups below config.small_topup_major in the last hour (card testing)
 *   p2p_in_1h            log(1 + P2P received in the last hour) (mules pass money straight on)
 *   kyc_tier             the customer's KYC tier
 *   is_p2p, is_withdrawal, is_topup   the event's kind, one-hot (payments are all zero) */
#define MOPAY_RISK_FEATURES(X)  \
    X(LOG_AMOUNT, "log_amount") \
    X(AMOUNT_Z, "amount_z") \
    X(AMOUNT_OVER_MAX, "amount_over_max") \
    X(HISTORY_OUTFLOWS, "history_outflows") \
    X(COUNT_1M, "count_1m") \
    X(COUNT_1H, "count_1h") \
    X(COUNT_24H, "count_24h") \
    X(SUM_1H, "sum_1h") \
    X(SUM_24H, "sum_24h") \
    X(DEVICE_AGE, "device_age") \
    X(FUNDING_AGE, "funding_age") \
    X(ACCOUNT_AGE, "account_age") \
    X(DEVICE_ACCOUNT_GAP, "device_account_gap") \
    X(NEW_PAYEE, "new_payee") \
    X(CROSS_BORDER, "cross_border") \
    X(NEW_COUNTRY, "new_country") \
    X(NIGHT, "night") \
    X(NIGHT_ABROAD, "night_abroad") \
    X(WRONG_PINS_24H, "wrong_pins_24h") \
    X(DEVICE_REVOKED_7D, "device_revoked_7d") \
    X(MCC_RISK, "mcc_risk") \
    X(WITHDRAWAL_SHARE_1H, "withdrawal_share_1h") \
    X(PAYEES_1H, "payees_1h") \
    X(NEW_PAYEES_1H, "new_payees_1h") \
    X(SMALL_TOPUPS_1H, "small_topups_1h") \
    X(P2P_IN_1H, "p2p_in_1h") \
    X(KYC_TIER, "kyc_tier") \
    X(IS_P2P, "is_p2p") \
    X(IS_WITHDRAWAL, "is_withdrawal") \
    X(IS_TOPUP, "is_topup")

enum mopay_risk_feature {
#define MOPAY_RISK_FEATURE_ENUM(name, text) MOPAY_RISK_F_##name,
    MOPAY_RISK_FEATURES(MOPAY_RISK_FEATURE_ENUM)
#undef MOPAY_RISK_FEATURE_ENUM
    MOPAY_RISK_FEATURE_COUNT
};

/* "log_amount", ...; index < MOPAY_RISK_FEATURE_COUNT. */
const char *mopay_risk_feature_name(size_t index);

enum mopay_risk_action {
    MOPAY_RISK_APPROVE, /* also: a rule configured to do nothing */
    MOPAY_RISK_CONFIRM, /* requires_confirmation: a PIN step-up */
    MOPAY_RISK_DECLINE, /* risk_declined */
};
#define MOPAY_RISK_REASONS_MAX 4 /* reasons a decision gives */

/* "approve", "confirm", "decline". */
const char *mopay_risk_action_name(enum mopay_risk_action action);

/* The rules, in the order their reasons are listed (declines before confirmations, then this
 * order): name, stable code, default action, the sentence a reviewer or customer reads. */
#define MOPAY_RISK_RULES(X) \
    X(BLOCKLISTED_DEVICE, "blocklisted_device", DECLINE, "The device is on the blocklist.") \
    X(BLOCKLISTED_PHONE, "blocklisted_phone", DECLINE, "The customer's phone number is on the blocklist.") \
    X(BLOCKLISTED_CARD, "blocklisted_card", DECLINE, "The funding card is on the blocklist.") \
    X(BLOCKLISTED_MERCHANT, "blocklisted_merchant", DECLINE, "The merchant is on the blocklist.") \
    X(CARD_TESTING, "card_testing", DECLINE, \
      "Many small top-ups in the last hour, the way stolen cards are tested.") \
    X(MODEL_HIGH, "model_high", DECLINE, "The fraud model's score is above the decline threshold.") \
    X(VELOCITY_1M, "velocity_1m", CONFIRM, "More outgoing payments in the last minute than allowed.") \
    X(VELOCITY_1H, "velocity_1h", CONFIRM, "More outgoing payments in the last hour than allowed.") \
    X(AMOUNT_24H, "amount_24h", CONFIRM, "More money sent in the last 24 hours than allowed.") \
    X(AMOUNT_UNUSUAL, "amount_unusual", CONFIRM, \
      "The amount is far above what this customer usually pays, and above anything they paid before.") \
    X(NEW_DEVICE_LARGE_AMOUNT, "new_device_large_amount", CONFIRM, \
      "A large amount from a device added less than a day ago to an existing account.") \
    X(NIGHT_ABROAD, "night_abroad", CONFIRM, \
      "A large payment in a new country abroad in the middle of the customer's night.") \
    X(WRONG_PINS, "wrong_pins", CONFIRM, "Several wrong PINs were entered in the last 24 hours.") \
    X(DEVICE_REVOKED_RECENTLY, "device_revoked_recently", CONFIRM, \
      "Money to a new person or account soon after one of the customer's devices was revoked.") \
    X(MULE_FAN_OUT, "mule_fan_out", CONFIRM, \
      "Money went to many different people or accounts in the last hour.") \
    X(MODEL_ELEVATED, "model_elevated", CONFIRM, "The fraud model's score asks for a confirmation.")

enum mopay_risk_rule {
#define MOPAY_RISK_RULE_ENUM(name, code, action, text) MOPAY_RISK_RULE_##name,
    MOPAY_RISK_RULES(MOPAY_RISK_RULE_ENUM)
#undef MOPAY_RISK_RULE_ENUM
    MOPAY_RISK_RULE_COUNT
};

/* Rules' thresholds and actions. mopay_risk_config_default fills in the defaults given here. */
struct mopay_risk_config {
    /* What each rule does when it fires: its default above; APPROVE turns it off. The model
     * rules fire only when a model is set, at its confirm_at and decline_at. */
    enum mopay_risk_action rule_actions[MOPAY_RISK_RULE_COUNT];
    uint32_t velocity_1m_max;         /* 5 outflows in a minute; a 6th fires velocity_1m */
    uint32_t velocity_1h_max;         /* 20 */
    double amount_24h_major_max;      /* 10000 major units sent in 24 h */
    double amount_unusual_z;          /* 4.0: amount_z at or above this fires amount_unusual, */
    double amount_unusual_max_multiple; /* 5.0: when the amount is also above 5x the largest past one */
    uint32_t amount_unusual_history_min; /* 10 past outflows before amount_unusual applies */
    int64_t new_device_age_ns;        /* 24 h */
    double new_device_amount_major;   /* 300 */
    int64_t signup_device_window_ns;  /* 1 h: a device added this soon after sign-up is the one the
                                         customer signed up on, not a new device on their account:
                                         new_device_large_amount leaves it alone */
    double night_abroad_amount_major; /* 100, in a country not paid in the last 30 days */
    uint32_t wrong_pins_max;          /* 3 wrong PINs in 24 h fire wrong_pins */
    int64_t device_revoked_window_ns; /* 24 h: P2P or withdrawal to a new payee this soon after a
                                         device was revoked fires device_revoked_recently */
    double small_topup_major;         /* 10: a top-up below this is small */
    uint32_t small_topups_max;        /* 4 small top-ups in an hour; a 5th fires card_testing */
    uint32_t fan_out_payees_max;      /* 4 payees in an hour; a 5th fires mule_fan_out */
    int64_t new_payee_window_ns;      /* 30 days */
    size_t customers_max;             /* MOPAY_RISK_CUSTOMERS_MAX_DEFAULT */
};

void mopay_risk_config_default(struct mopay_risk_config *config);

/* The model: logistic regression over standardised features,
 *   score = 1 / (1 + exp(-(bias + sum_i weight[i] * (x[i] - mean[i]) / scale[i]))),
 * with the thresholds the decision uses and what it was trained on. */
struct mopay_risk_model {
    double mean[MOPAY_RISK_FEATURE_COUNT];
    double scale[MOPAY_RISK_FEATURE_COUNT]; /* > 0 */
    double weight[MOPAY_RISK_FEATURE_COUNT];
    double bias;
    double confirm_at; /* score >= confirm_at: CONFIRM (model_elevated) */
    double decline_at; /* score >= decline_at: DECLINE (model_high); confirm_at <= decline_at */
    struct mopay_risk_model_trained {
        uint64_t seed;      /* the simulator's, 0 for other data */
        uint32_t customers; /* the simulator's options */
        uint32_t days;
        uint64_t samples;
        uint64_t positives;
        double l2;
        double positive_weight;
        uint32_t iterations;
        double loss; /* the weighted training loss reached */
    } trained;
};

struct mopay_risk_reason {
    enum mopay_risk_rule rule;
    const char *code; /* "velocity_1m": static, stable */
    const char *text; /* a sentence: static */
};

struct mopay_risk_decision {
    enum mopay_risk_action action;
    double score; /* the model's, in [0, 1]; 0 without a model */
    size_t reason_count;
    struct mopay_risk_reason reasons[MOPAY_RISK_REASONS_MAX];
    /* What the model saw: for the review queue and for retraining on reviewed labels. */
    double features[MOPAY_RISK_FEATURE_COUNT];
};

enum mopay_risk_list {
    MOPAY_RISK_LIST_DEVICE,   /* event.device */
    MOPAY_RISK_LIST_PHONE,    /* event.phone */
    MOPAY_RISK_LIST_CARD,     /* event.card */
    MOPAY_RISK_LIST_MERCHANT, /* event.payee of a payment */
    MOPAY_RISK_LIST_COUNT
};

struct mopay_risk_engine;

/* NULL when out of memory. The index is sized for customers_expected (0 is fine). */
struct mopay_risk_engine *mopay_risk_engine_new(const struct mopay_risk_config *config, size_t customers_expected);
void mopay_risk_engine_free(struct mopay_risk_engine *engine);
/* Copies the model (NULL: rules only, score 0). The model must be valid (model_io checks files). */
void mopay_risk_engine_set_model(struct mopay_risk_engine *engine, const struct mopay_risk_model *model);
size_t mopay_risk_engine_customers(const struct mopay_risk_engine *engine);

/* Blocklists of 16-byte keys; the caller hashes phones and cards (mopay_index_key_of_text).
 * block: false when out of memory (nothing changed). unblock: false when the key was not there. */
bool mopay_risk_block(struct mopay_risk_engine *engine, enum mopay_risk_list list, const uint8_t key[16]);
bool mopay_risk_unblock(struct mopay_risk_engine *engine, enum mopay_risk_list list, const uint8_t key[16]);
/* Every entry of every blocklist, list by list; stops when `fn` returns false. */
void mopay_risk_block_each(const struct mopay_risk_engine *engine,
                           bool (*fn)(void *ctx, enum mopay_risk_list list, const uint8_t key[16]), void *ctx);

/* A blocklist entry as the journal records it (mopay/journal.h, kind "riskblock", whose state is
 * the engine): its image put when the entry is added, removed when it is taken off. Replay
 * blocks and unblocks; a removal of an entry that is not there is a damaged log. */
struct mopay_risk_block_entry {
    uint8_t list; /* enum mopay_risk_list */
    uint8_t key[16];
};
struct mopay_record_kind;
extern const struct mopay_record_kind mopay_risk_block_kind;

/* The features of `event` against the current state, as listed above. */
void mopay_risk_features(const struct mopay_risk_engine *engine, const struct mopay_risk_event *event,
                         double features[MOPAY_RISK_FEATURE_COUNT]);
/* The decision on `event`. Read-only: changes nothing. Never allocates. */
void mopay_risk_score(const struct mopay_risk_engine *engine, const struct mopay_risk_event *event,
                      struct mopay_risk_decision *decision);
/* Records an event that happened. Allocates only for a customer seen for the first time (the
 * payer, or the receiver of a P2P). false, and nothing recorded for the customer concerned, when
 * out of memory or at config.customers_max. */
bool mopay_risk_commit(struct mopay_risk_engine *engine, const struct mopay_risk_event *event);
/* A wrong PIN entered for `customer` at time_ns; false as for commit. */
bool mopay_risk_note_wrong_pin(struct mopay_risk_engine *engine, const uint8_t customer[16], int64_t time_ns);
/* One of `customer`'s devices was revoked at time_ns; false as for commit. */
bool mopay_risk_note_device_revoked(struct mopay_risk_engine *engine, const uint8_t customer[16], int64_t time_ns);

/* The UTC offset in minutes of a country's main time zone, standard time: an approximation
 * (no daylight saving; one zone for countries that span several: US = New York, BR = Sao Paulo,
 * CN = Beijing, ...). For 17 countries (AE BR CN DE FR GB ID IN JP KE KR NG PH SG TH US VN); *known
 * is false, and 0 returned, for the rest. */
int mopay_risk_utc_offset_min(const char country[2], bool *known);
/* A merchant category's risk in [0, 1]: gambling 7995, money transfer 4829 and quasi-cash 6051
 * highest, then jewellery 5944, electronics 5732, digital goods; everyday categories low;
 * 0 for 0 (no merchant); 0.3 for a category not in the table. */
double mopay_risk_mcc_risk(uint16_t mcc);

/* ---- the model ---- */

struct mopay_risk_train_options {
    double l2;              /* 1e-4: the penalty on the standardised weights */
    double positive_weight; /* 10; 0: balanced (negatives / positives, about 80 on the simulator).
                               Less than balanced ranks the few riskiest events better, which is
                               where the thresholds are: on held-out seeds recall at them is about
                               3 points higher at 10 (5 does as well, 20 a point less) */
    uint32_t iterations_max; /* 300 L-BFGS iterations */
    double tolerance;       /* 1e-7: stop when the gradient's largest component is below */
    double confirm_fpr;     /* 0.004: confirm_at flags this share of training negatives */
    double decline_fpr;     /* 0.0005 */
};

void mopay_risk_train_options_default(struct mopay_risk_train_options *options);

/* Trains on n rows of MOPAY_RISK_FEATURE_COUNT features (row-major) with labels 0/1: L-BFGS on
 * the weighted, L2-penalised log loss; deterministic. Sets the thresholds from the training
 * scores (mopay_risk_model_set_thresholds) and model->trained (seed, customers and days are left
 * 0 for the caller). false when out of memory or when either class is missing. */
bool mopay_risk_model_train(const double *samples, const uint8_t *labels, size_t n,
                            const struct mopay_risk_train_options *options, struct mopay_risk_model *model);
/* The model's score of one feature vector, in [0, 1]. Never allocates. */
double mopay_risk_model_score(const struct mopay_risk_model *model, const double features[MOPAY_RISK_FEATURE_COUNT]);
/* confirm_at and decline_at: the lowest scores that flag at most confirm_fpr (decline_fpr) of
 * the negatives among `scores`. false when out of memory or without negatives. */
bool mopay_risk_model_set_thresholds(struct mopay_risk_model *model, const double *scores, const uint8_t *labels,
                                     size_t n, double confirm_fpr, double decline_fpr);
/* true when every number is finite, scales positive and 0 <= confirm_at <= decline_at <= 1. */
bool mopay_risk_model_valid(const struct mopay_risk_model *model);

/* The text file "mopay-risk-model v1" (model_io.c; stdio, never on the scoring path). Each
 * returns false with a sentence in err on failure. load refuses a file whose feature names or
 * their order differ from this engine's, a newer version, and any number out of range. */
bool mopay_risk_model_save(const struct mopay_risk_model *model, const char *path, char *err, size_t err_size);
bool mopay_risk_model_load(struct mopay_risk_model *model, const char *path, char *err, size_t err_size);

/* ---- the simulator (sim.c) ---- */

/* Labels: legit, or the fraud pattern that made the event. */
#define MOPAY_RISK_PATTERNS(X) \
    X(LEGIT, "legit") \
    X(ACCOUNT_TAKEOVER, "account_takeover") \
    X(CARD_TESTING, "card_testing") \
    X(MULE_CHAIN, "mule_chain") \
    X(STOLEN_CODE, "stolen_code") \
    X(NIGHT_ABROAD, "night_abroad")

enum mopay_risk_pattern {
#define MOPAY_RISK_PATTERN_ENUM(name, text) MOPAY_RISK_PATTERN_##name,
    MOPAY_RISK_PATTERNS(MOPAY_RISK_PATTERN_ENUM)
#undef MOPAY_RISK_PATTERN_ENUM
    MOPAY_RISK_PATTERN_COUNT
};

const char *mopay_risk_pattern_name(enum mopay_risk_pattern pattern);

enum mopay_risk_sim_type {
    MOPAY_RISK_SIM_TRANSACTION,    /* score, then commit */
    MOPAY_RISK_SIM_WRONG_PIN,      /* mopay_risk_note_wrong_pin(event.customer, event.time_ns) */
    MOPAY_RISK_SIM_DEVICE_REVOKED, /* mopay_risk_note_device_revoked(event.customer, ...) */
};

struct mopay_risk_sim_record {
    enum mopay_risk_sim_type type;
    enum mopay_risk_pattern pattern; /* legit or the fraud pattern; for notes too */
    struct mopay_risk_event event;   /* for notes: time, customer and device only */
};

struct mopay_risk_sim_options {
    uint32_t customers; /* 3000; at most MOPAY_RISK_SIM_CUSTOMERS_MAX */
    uint32_t days;      /* 30; at most MOPAY_RISK_SIM_DAYS_MAX */
    int64_t start_ns;   /* midnight UTC of the first day: 2025-01-06 */
    double fraud_scale; /* 1: multiplies every fraud pattern's rate */
};

#define MOPAY_RISK_SIM_CUSTOMERS_MAX 1000000u
#define MOPAY_RISK_SIM_DAYS_MAX 3660u

void mopay_risk_sim_options_default(struct mopay_risk_sim_options *options);

/* Simulates, in the spirit of PaySim: customers with daily rhythms, salaries and top-ups,
 * shopping at merchants of many categories and countries, P2P among friends, cash-outs, new
 * phones and cards, trips abroad; a quarter of them signing up during the run, with the first
 * hours of a new customer (top-ups from the new card, payments, money to a friend); and the
 * fraud patterns above. Calls each(record, ctx) for
 * every record in time order (ties in a fixed order); the same seed and options give the same
 * records (with the same libm: the draws go through exp, log and cos). each returns false to
 * stop. false when out of memory, when stopped, or for options out of range. */
bool mopay_risk_sim_run(uint64_t seed, const struct mopay_risk_sim_options *options,
                        bool (*each)(const struct mopay_risk_sim_record *record, void *ctx), void *ctx);

/* ---- replay and evaluation (replay.c): the simulator through an engine, as the server runs ---- */

/* Per transaction: the decision's features, score and action, and the label. */
struct mopay_risk_samples {
    size_t count;
    size_t capacity;
    double *features; /* count * MOPAY_RISK_FEATURE_COUNT */
    double *scores;
    uint8_t *labels;   /* 1: fraud */
    uint8_t *patterns; /* enum mopay_risk_pattern */
    uint8_t *actions;  /* enum mopay_risk_action */
};

void mopay_risk_samples_free(struct mopay_risk_samples *samples);

/* Simulates seed/options and replays every record through a fresh engine with `config` and
 * `model` (NULL: rules only): each transaction is scored, recorded in *samples, then committed
 * (all of them: the simulated events happened); notes go to the note functions. false when out
 * of memory (*samples is then freed). */
bool mopay_risk_replay(uint64_t seed, const struct mopay_risk_sim_options *options,
                       const struct mopay_risk_config *config, const struct mopay_risk_model *model,
                       struct mopay_risk_samples *samples);

struct mopay_risk_eval {
    size_t events;
    size_t frauds;
    size_t flagged;  /* CONFIRM or DECLINE */
    size_t declined;
    size_t true_positives;
    size_t false_positives;
    double precision; /* of the flagged */
    double recall;    /* frauds flagged */
    double false_positive_rate; /* legit events flagged */
    double roc_auc;   /* of the score */
    double recall_at_1pct_fpr; /* the best recall of a score threshold flagging <= 1 % of legit */
    size_t pattern_events[MOPAY_RISK_PATTERN_COUNT];
    size_t pattern_flagged[MOPAY_RISK_PATTERN_COUNT];
};

/* The figures of replayed samples. false when out of memory. */
bool mopay_risk_evaluate(const struct mopay_risk_samples *samples, struct mopay_risk_eval *eval);

/* --- Guessing: wrong payment codes and NFC cryptograms per merchant terminal ---
 *
 * A payment code's one-time part is 7 digits, so it is safe only while guesses are few. Each
 * merchant terminal (the terminal_id a payment names, or the merchant's key when it names none)
 * may submit at most `max` wrong codes or cryptograms in `window_ns` (a burst of max, then one
 * every window / max); all of one merchant's terminals together MOPAY_WRONG_CODES_MERCHANT_FACTOR
 * times that (a merchant cannot dodge the limit by naming a new terminal each time). Past it,
 * that terminal's codes (right ones too) are refused until the window lets one more through, and
 * the terminal is reported: an alert naming the merchant and terminal, kept for the operator
 * (GET /v1/risk/guessing) and counted in /metrics. Nothing is counted against the customer
 * whose code was guessed: their device keeps paying with its right codes.
 *
 * Like the engine: no I/O, no clock, no locks (the sequencer alone calls it; the counters are
 * atomics that /metrics reads), bounded memory (mopay/ratelimit.h tables, at most
 * MOPAY_WRONG_CODES_ALERTS_MAX alerts, the oldest replaced). Counts live in memory only: a
 * restart forgets them. */
#define MOPAY_RISK_TERMINAL_ID_BYTES 33 /* up to 32 printable characters and NUL */

enum mopay_risk_guess_kind { MOPAY_RISK_GUESS_PAYMENT_CODE, MOPAY_RISK_GUESS_NFC, MOPAY_RISK_GUESS_KINDS };

struct mopay_risk_guessing;

struct mopay_risk_guess_alert {
    uint8_t merchant[16];                       /* the merchant's id bytes */
    char terminal[MOPAY_RISK_TERMINAL_ID_BYTES]; /* "" : the merchant's key, naming no terminal */
    enum mopay_risk_guess_kind kind;            /* what it submitted when last refused */
    uint64_t refused;                           /* requests refused while throttled */
    int64_t first_throttled_ns, last_throttled_ns;
};

struct mopay_risk_guess_stats {
    uint64_t wrong[MOPAY_RISK_GUESS_KINDS]; /* judged wrong, all terminals */
    uint64_t refused;                       /* refused by a terminal's throttle */
    uint64_t alerts;                        /* terminals reported (once per throttled spell) */
};

/* max 0: no limit (NULL, which every call takes as "allow", and no alerts). NULL also when out of
 * memory: check max to tell them apart. */
struct mopay_risk_guessing *mopay_risk_guessing_new(uint32_t max, int64_t window_ns);
void mopay_risk_guessing_free(struct mopay_risk_guessing *g);
/* Before a code is judged: false (and *retry_after_s, whole seconds) when the terminal, or the
 * merchant's terminals together, are over their limit; the refusal is reported. */
bool mopay_risk_guessing_admit(struct mopay_risk_guessing *g, const uint8_t merchant[16], const char *terminal,
                               enum mopay_risk_guess_kind kind, int64_t now_ns, int64_t *retry_after_s);
/* A code or cryptogram judged wrong: counted against the terminal and its merchant. */
void mopay_risk_guessing_wrong(struct mopay_risk_guessing *g, const uint8_t merchant[16], const char *terminal,
                               enum mopay_risk_guess_kind kind, int64_t now_ns);
/* The alerts, the latest throttled first, at most `cap`. */
size_t mopay_risk_guessing_alerts(const struct mopay_risk_guessing *g, struct mopay_risk_guess_alert *out,
                                  size_t cap);
/* Any thread. Zeros for NULL. */
void mopay_risk_guessing_stats(const struct mopay_risk_guessing *g, struct mopay_risk_guess_stats *out);

#endif
