#ifndef MOPAY_PAY_H
#define MOPAY_PAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mopay/err.h"
#include "mopay/id.h"
#include "mopay/merchant.h"
#include "mopay/nfc.h"
#include "mopay/offers.h"
#include "mopay/risk.h"
#include "mopay/store.h"
#include "mopay/wallet.h"

/* Payments from customers' wallets to merchants, and their refunds.
 *
 * Every way in (a merchant QR the customer scans, the customer's payment code the merchant
 * scans, an NFC tap, an online order) is resolved by the API to the same request: who pays,
 * from which wallet, to which merchant, how much. Then one pipeline:
 *   authorize  the customer may pay (not frozen), the wallet is in the merchant's currency,
 *              an order is still payable;
 *   risk       the rules: the wallet's balance and daily limit, and a PIN step-up above the
 *              confirmation threshold (requires_confirmation, confirmed with the PIN);
 *   ledger     one linked chain: wallet -> merchant for the amount, merchant -> revenue for the
 *              fee, so both happen or neither does;
 *   bookkeeping the wallet's daily outflow and history, the order, the merchant's webhook.
 * A refusal by authorize or risk is a payment with status declined and its code: it is recorded
 * (the customer and merchant see it), and it moved no money.
 *
 * Like the other domain modules: in memory, changed on the sequencer thread only, each change
 * written as a record in the batch's transaction, loaded at start. */

enum mopay_payment_method {
    MOPAY_PAY_QR_STATIC,
    MOPAY_PAY_QR_DYNAMIC,
    MOPAY_PAY_PAYMENT_CODE,
    MOPAY_PAY_NFC,
    MOPAY_PAY_ONLINE,
    MOPAY_PAY_BILL,
};
const char *mopay_payment_method_name(enum mopay_payment_method method);

enum mopay_payment_status {
    MOPAY_PAYMENT_SUCCEEDED,
    MOPAY_PAYMENT_DECLINED,
    MOPAY_PAYMENT_REQUIRES_CONFIRMATION,
};
const char *mopay_payment_status_name(enum mopay_payment_status status);

/* Ledger transfer codes of payments (the wallet module's are 1..3). */
enum mopay_pay_code {
    MOPAY_PAY_CODE_PAYMENT = 10,
    MOPAY_PAY_CODE_FEE = 11,
    MOPAY_PAY_CODE_REFUND = 12,
    MOPAY_PAY_CODE_FEE_REFUND = 13,
    MOPAY_PAY_CODE_FX = 14,          /* a cross-currency leg through the FX positions */
    MOPAY_PAY_CODE_FX_FEE = 15,
    MOPAY_PAY_CODE_DISCOUNT = 16,    /* a platform-funded coupon's share, from the offer budget */
};

/* A cross-currency payment's conversion, locked by a quote: the wallet pays wallet_minor in its
 * currency, fx_fee_minor of it the FX fee (to revenue), and the rest converts at rate_units
 * (mopay/fx.h's fixed point) to exactly the customer's share in the merchant's currency. */
struct mopay_pay_fx {
    struct mopay_id quote_id;
    uint64_t rate_units;
    int64_t wallet_minor, fx_fee_minor;
};

/* The risk step's verdict on a payment about to be made (the API wires the risk engine in). */
struct mopay_risk_verdict {
    enum mopay_risk_action action;
    uint32_t score_ppm; /* the model's probability of fraud, in millionths */
    size_t reason_count;
    char reasons[MOPAY_RISK_REASONS_MAX][32]; /* stable snake_case codes */
};
struct mopay_payment {
    struct mopay_id id;
    struct mopay_merchant *merchant;
    struct mopay_customer *customer;
    struct mopay_wallet *wallet;
    struct mopay_order *order; /* online and dynamic-QR payments of an order */
    enum mopay_payment_method method;
    enum mopay_payment_status status;
    char decline_code[32];
    int64_t amount_minor; /* what the customer pays, tip and convenience fee included */
    int64_t tip_minor;    /* of which tip or convenience fee */
    int64_t fee_minor;    /* the merchant's fee to the platform */
    int64_t refunded_minor, fee_refunded_minor;
    struct mopay_coupon *coupon; /* NULL: none */
    int64_t discount_minor;      /* what the coupon took off amount_minor */
    struct mopay_pay_fx fx;      /* wallet_minor 0: the wallet is in the merchant's currency */
    int64_t wallet_refunded_minor; /* in the wallet's currency */
    struct mopay_id bill_id;     /* a bill payment's bill; zero otherwise */
    struct mopay_risk_verdict risk; /* what the risk step said */
    enum { MOPAY_REVIEW_NONE, MOPAY_REVIEW_OPEN, MOPAY_REVIEW_FRAUD, MOPAY_REVIEW_LEGITIMATE } review;
    char reference[MOPAY_REFERENCE_BYTES_MAX + 1];
    int64_t created_at_ns, confirm_by_ns;
    struct mopay_payment *next_unconfirmed;
};

/* What the customer pays in the merchant's currency, and in the wallet's. */
static inline int64_t mopay_payment_share(const struct mopay_payment *x)
{
    return x->amount_minor - x->discount_minor;
}
static inline int64_t mopay_payment_wallet_amount(const struct mopay_payment *x)
{
    return x->fx.wallet_minor != 0 ? x->fx.wallet_minor : mopay_payment_share(x);
}

struct mopay_refund {
    struct mopay_id id;
    struct mopay_payment *payment;
    int64_t amount_minor, fee_returned_minor;
    char reason[MOPAY_DESCRIPTION_BYTES_MAX + 1];
    int64_t created_at_ns;
};

/* What a payment's status change tells the merchant (the API's webhook), on the sequencer
 * inside the batch's transaction. */
struct mopay_pay_events {
    enum mopay_err (*payment)(void *ctx, struct mopay_store *store, int64_t now_ns, const struct mopay_payment *p);
    enum mopay_err (*refund)(void *ctx, struct mopay_store *store, int64_t now_ns, const struct mopay_refund *r);
    /* Before the tick declines a payment whose PIN did not come: whether `payment` will have
     * room for its events. When not, it waits (no longer confirmable) for the next tick; NULL:
     * always room. */
    bool (*payment_room)(void *ctx, const struct mopay_payment *p);
    void *ctx;
};

/* A device's NFC payment token and its batch of limited-use keys (mopay/nfc.h): key k of the
 * batch is the one for application transaction counters atc_base + k * taps_per_key + 1 to
 * atc_base + (k + 1) * taps_per_key, so phone and server always agree on which key a tap used
 * without any key number travelling. */
#define MOPAY_NFC_TOKEN_DIGITS 16
struct mopay_nfc_token {
    char token[MOPAY_NFC_TOKEN_DIGITS + 1]; /* 16 digits: not a card number, not a wallet id */
    struct mopay_device *device;
    uint32_t key_first, key_count, taps_per_key;
    uint32_t atc_base, atc_last;
    int64_t provisioned_at_ns, expires_at_ns;
};

struct mopay_pay_risk {
    /* On the sequencer, before the ledger; changes nothing. */
    void (*score)(void *ctx, const struct mopay_payment *x, int64_t now_ns, struct mopay_risk_verdict *out);
    /* Once the payment succeeded: the risk state learns it. */
    void (*commit)(void *ctx, const struct mopay_payment *x, int64_t now_ns);
    void *ctx;
};

struct mopay_pay_options {
    struct mopay_journal *journal; /* where payments, refunds and NFC tokens are recorded */
    struct mopay_offers_state *offers;
    struct mopay_wallet_state *wallet;
    struct mopay_merchant_state *merchant;
    struct mopay_ledger_service *ledger;
    int64_t confirm_above_major; /* a PIN step-up at or above this many major units; 0: never */
    int64_t confirm_ttl_s;       /* how long a payment waits for its PIN */
    int paycode_window_steps;    /* payment codes this many 30 s steps old still pay */
    const uint8_t *nfc_issuer_key; /* MOPAY_NFC_ISSUER_KEY_BYTES, from the master key */
    struct mopay_pay_events events;
    struct mopay_pay_risk risk; /* score NULL: the rules alone */
    uint32_t wrong_codes_max;   /* wrong codes and cryptograms per terminal in the window; 0: no limit */
    int64_t wrong_codes_window_s;
};

struct mopay_pay_state;

struct mopay_pay_state *mopay_pay_new(const struct mopay_pay_options *options);
void mopay_pay_free(struct mopay_pay_state *p);
/* Records written before the journal, after the wallet and merchant modules loaded theirs. */
enum mopay_err mopay_pay_load(struct mopay_pay_state *p, struct mopay_store *store, char *err, size_t err_cap);

struct mopay_pay_request {
    struct mopay_customer *customer;
    struct mopay_wallet *wallet; /* NULL: the customer's wallet in the merchant's currency */
    struct mopay_merchant *merchant;
    struct mopay_order *order;   /* NULL unless paying an order */
    enum mopay_payment_method method;
    int64_t amount_minor;        /* tip included */
    int64_t tip_minor;
    const char *reference;
    bool pin_verified;           /* the customer proved the PIN for this payment (skips the step-up) */
    struct mopay_coupon *coupon; /* checked by mopay_coupon_discount; NULL: none */
    int64_t discount_minor;
    const struct mopay_pay_fx *fx; /* cross-currency; NULL: the wallet is in the merchant's currency */
    struct mopay_bill *bill;     /* a bill payment; the amount is checked by mopay_bill_payable */
};

/* The pipeline. Errors (bad request, order not payable) change nothing and make no payment;
 * a decline or a step-up makes a payment with that status. */
enum mopay_err mopay_pay_execute(struct mopay_pay_state *p, struct mopay_store *store, int64_t now_ns,
                                 const struct mopay_pay_request *req, struct mopay_payment **out);
struct mopay_payment *mopay_pay_payment(struct mopay_pay_state *p, const struct mopay_id *id);
/* How many payments are held in memory (sequencer thread): for admission control. */
size_t mopay_pay_payment_count(const struct mopay_pay_state *p);
/* A payment waiting for its PIN, once the PIN was verified: runs the pipeline again from the
 * ledger step (limits are checked again: time has passed). payment_not_confirmable otherwise. */
enum mopay_err mopay_pay_confirm(struct mopay_pay_state *p, struct mopay_store *store, int64_t now_ns,
                                 struct mopay_payment *payment);

/* Refunds back to the original wallet; with amount 0, whatever is left. Partial refunds add up
 * to at most the payment; the fee comes back in proportion, the last refund returning exactly
 * what is left of it. */
enum mopay_err mopay_pay_refund(struct mopay_pay_state *p, struct mopay_store *store, int64_t now_ns,
                                struct mopay_payment *payment, int64_t amount_minor, const char *reason,
                                struct mopay_refund **out);
struct mopay_refund *mopay_pay_refund_get(struct mopay_pay_state *p, const struct mopay_id *id);

/* --- instruments: what pays, resolved to a device and its customer --- */

/* Who presents a payment code or a tap: the merchant whose key sent it and the terminal it names
 * ("": none, the key itself). Wrong codes and cryptograms are counted per terminal
 * (mopay/risk.h, "Guessing"); a terminal past its limit gets rate_limited, with retry_after_s,
 * before its code is looked at. Nothing is counted against the device a code names. */
struct mopay_pay_terminal {
    const struct mopay_merchant *merchant;
    const char *terminal_id;
    int64_t retry_after_s; /* out, with rate_limited */
};

/* An offline payment code's 18 digits (taken out of an EMV consumer-presented QR by the caller):
 * the device whose code it is, and the step it was made for. rate_limited (the terminal's
 * throttle), payment_code_invalid (not mopay's, no such device, a revoked device, a wrong OTP),
 * payment_code_expired (these two are counted as wrong), payment_code_used (a step not after the
 * last one that paid). Changes nothing but the count: mopay_pay_code_spend does, with the
 * payment. */
enum mopay_err mopay_pay_code_check(struct mopay_pay_state *p, int64_t now_ns, struct mopay_pay_terminal *who,
                                    const char *code, size_t len, struct mopay_device **out_device,
                                    int64_t *out_step);
enum mopay_err mopay_pay_code_spend(struct mopay_pay_state *p, struct mopay_store *store, int64_t now_ns,
                                    struct mopay_device *device, int64_t step);

/* A new token (or a fresh batch for the device's token): keys_count keys of taps_per_key taps,
 * all expiring after ttl_s. The keys themselves are derived (mopay_nfc_luk_derive) for the
 * reply, never stored. */
enum mopay_err mopay_pay_nfc_provision(struct mopay_pay_state *p, struct mopay_store *store, int64_t now_ns,
                                       struct mopay_device *device, uint32_t keys_count, uint32_t taps_per_key,
                                       int64_t ttl_s, struct mopay_nfc_token **out);
/* A tap, checked in the order mopay/nfc.h gives, after the terminal's throttle (rate_limited):
 * nfc_token_unknown (also a revoked device's), nfc_cryptogram_invalid (these two are counted as
 * wrong), nfc_replay, nfc_counter_backwards, nfc_key_exhausted, nfc_key_expired. Changes
 * nothing but the count: mopay_pay_nfc_spend records the counter with the payment. */
enum mopay_err mopay_pay_nfc_check(struct mopay_pay_state *p, int64_t now_ns, struct mopay_pay_terminal *who,
                                   const char *token,
                                   const struct mopay_nfc_tap *tap, const uint8_t cryptogram[8],
                                   struct mopay_nfc_token **out);
enum mopay_err mopay_pay_nfc_spend(struct mopay_pay_state *p, struct mopay_store *store, int64_t now_ns,
                                   struct mopay_nfc_token *t, uint16_t atc);

/* Payment outcomes since start, by method (a payment that waited for its PIN counts once
 * waiting and once more succeeded or declined), and refunds; any thread may read them. */
#define MOPAY_PAY_METHODS 6
#define MOPAY_PAY_STATUSES 3
struct mopay_pay_stats {
    uint64_t payments[MOPAY_PAY_METHODS][MOPAY_PAY_STATUSES];
    uint64_t refunds;
    uint64_t timeouts_deferred; /* confirmation timeouts the tick put off for want of room */
};
void mopay_pay_stats(const struct mopay_pay_state *p, struct mopay_pay_stats *out);
/* The wrong-code counts and the terminals reported for guessing (NULL when there is no limit). */
struct mopay_risk_guessing *mopay_pay_guessing(struct mopay_pay_state *p);

/* The operator's review queue: payments the risk step flagged and nobody has labelled, newest
 * first, at most `cap`. */
size_t mopay_pay_reviews(struct mopay_pay_state *p, struct mopay_payment **out, size_t cap);
/* Labels a flagged payment fraud or legitimate (review_not_open otherwise); fraud counts against
 * the customer's trust. The labels stay with the payments, for retraining. */
enum mopay_err mopay_pay_review(struct mopay_pay_state *p, struct mopay_store *store, int64_t now_ns,
                                struct mopay_payment *x, bool fraud);

/* The sequencer tick: payments that waited too long for their PIN are declined. */
enum mopay_err mopay_pay_tick(struct mopay_pay_state *p, struct mopay_store *store, int64_t now_ns);

#endif
