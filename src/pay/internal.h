#ifndef MOPAY_PAY_INTERNAL_H
#define MOPAY_PAY_INTERNAL_H

#include <stdatomic.h>

#include <jansson.h>

#include "mopay/index.h"
#include "mopay/journal.h"
#include "mopay/pay.h"
#include "mopay/risk.h"
#include "mopay/text.h"

struct mopay_pay_state {
    struct mopay_pay_options options;
    struct mopay_index payments;
    struct mopay_index refunds;
    struct mopay_payment *unconfirmed; /* waiting for their PIN, newest first */
    struct mopay_index nfc_tokens;     /* key of the token text -> token */
    _Atomic uint64_t made[MOPAY_PAY_METHODS][MOPAY_PAY_STATUSES];
    _Atomic uint64_t refunds_made;
    struct mopay_risk_guessing *guessing; /* wrong codes per terminal; NULL: no limit */
    _Atomic uint64_t timeouts_deferred;
};

/* payments.c: ledger chains, shared with refunds */
#define PAY_LEGS_MAX 6
struct chain {
    struct mopay_ledger_transfer t[PAY_LEGS_MAX];
    size_t n;
};
/* Adds a leg (none for amount 0). */
void chain_leg(struct chain *c, const struct mopay_id *debit, const struct mopay_id *credit, int64_t amount,
               uint16_t currency, uint16_t code, int64_t now_ns);
enum mopay_err chain_post(struct mopay_pay_state *p, struct chain *c, int64_t now_ns);
enum mopay_err platform_account(struct mopay_pay_state *p, enum mopay_ledger_kind kind,
                                const struct mopay_currency *c, int64_t now_ns, struct mopay_id *out);

bool nfc_add(struct mopay_pay_state *p, struct mopay_nfc_token *t);
struct mopay_nfc_token *nfc_find(struct mopay_pay_state *p, const char *token);

/* records.c: the journal's record kinds, and the record of a change in this batch. */
extern const struct mopay_record_kind mopay_pay_payment_kind, mopay_pay_refund_kind, mopay_pay_nfc_kind;
void pay_records_register(struct mopay_pay_state *p);
enum mopay_err payment_record(struct mopay_pay_state *p, int64_t now_ns, const struct mopay_payment *payment);
enum mopay_err refund_record(struct mopay_pay_state *p, int64_t now_ns, const struct mopay_refund *refund);
enum mopay_err nfc_record(struct mopay_pay_state *p, int64_t now_ns, const struct mopay_nfc_token *t);
bool payment_add(struct mopay_pay_state *p, struct mopay_payment *payment);
void payment_unconfirmed_unlink(struct mopay_pay_state *p, struct mopay_payment *payment);

#endif
