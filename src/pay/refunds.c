/* Refunds: money back from the merchant to the wallet that paid, the fee back from revenue to the
 * merchant in proportion. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"

/* The fee's share of a refund, rounded down; the refund that completes the payment returns all
 * that is left, so a fully refunded payment leaves no fee behind. */
static int64_t fee_share(const struct mopay_payment *x, int64_t amount_minor)
{
    if (x->refunded_minor + amount_minor == x->amount_minor)
        return x->fee_minor - x->fee_refunded_minor;
    return (int64_t)(((__int128)x->fee_minor * amount_minor) / x->amount_minor);
}

/* revenue -> merchant for the fee's share first, so that the merchant has it, then merchant ->
 * wallet for the refund: linked, both or neither. */
static enum mopay_err refund_post(struct mopay_pay_state *p, const struct mopay_refund *r, int64_t now_ns)
{
    const struct mopay_payment *x = r->payment;
    uint16_t currency = x->merchant->currency->numeric;
    struct mopay_ledger_transfer t[2];
    memset(t, 0, sizeof(t));
    size_t n = 0;
    if (r->fee_returned_minor > 0) {
        enum mopay_err err = mopay_ledger_service_system_account(p->options.ledger, MOPAY_LEDGER_KIND_REVENUE,
                                                                 currency, now_ns, &t[0].debit_account_id);
        if (err != MOPAY_OK)
            return err;
        mopay_id_new(now_ns, &t[0].id);
        t[0].credit_account_id = x->merchant->id;
        t[0].amount = (uint64_t)r->fee_returned_minor;
        t[0].currency = currency;
        t[0].code = MOPAY_PAY_CODE_FEE_REFUND;
        t[0].flags = MOPAY_LEDGER_LINKED;
        n = 1;
    }
    t[n].id = r->id; /* the refund's own transfer carries its id */
    t[n].debit_account_id = x->merchant->id;
    t[n].credit_account_id = x->wallet->id;
    t[n].amount = (uint64_t)r->amount_minor;
    t[n].currency = currency;
    t[n].code = MOPAY_PAY_CODE_REFUND;
    uint8_t results[2] = {0, 0};
    if (mopay_ledger_service_create_transfers(p->options.ledger, t, n + 1, now_ns, results) == n + 1)
        return MOPAY_OK;
    return results[n] == MOPAY_LEDGER_exceeds_credits ? MOPAY_ERR_insufficient_funds : MOPAY_ERR_ledger_rejected;
}

enum mopay_err mopay_pay_refund(struct mopay_pay_state *p, struct mopay_store *store, int64_t now_ns,
                                struct mopay_payment *x, int64_t amount_minor, const char *reason,
                                struct mopay_refund **out)
{
    MOPAY_ASSERT(amount_minor >= 0);
    if (x->status != MOPAY_PAYMENT_SUCCEEDED)
        return MOPAY_ERR_payment_not_refundable;
    int64_t left = x->amount_minor - x->refunded_minor;
    if (amount_minor == 0)
        amount_minor = left;
    if (amount_minor == 0 || amount_minor > left)
        return MOPAY_ERR_refund_exceeds_payment;
    struct mopay_refund *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return MOPAY_ERR_internal;
    mopay_id_new(now_ns, &r->id);
    r->payment = x;
    r->amount_minor = amount_minor;
    r->fee_returned_minor = fee_share(x, amount_minor);
    mopay_text_copy(r->reason, sizeof(r->reason), reason);
    r->created_at_ns = now_ns;
    enum mopay_err err = refund_post(p, r, now_ns);
    if (err == MOPAY_OK && !mopay_index_put(&p->refunds, r->id.bytes, r))
        err = MOPAY_ERR_internal;
    if (err != MOPAY_OK) {
        free(r); /* the ledger refused it whole, or it never reached it: nothing changed */
        return err;
    }
    atomic_fetch_add(&p->refunds_made, 1);
    x->refunded_minor += amount_minor;
    x->fee_refunded_minor += r->fee_returned_minor;
    *out = r;
    char id[MOPAY_ID_TEXT_BYTES];
    mopay_id_format(MOPAY_ID_REFUND, &r->id, id);
    if ((err = mopay_wallet_history_add(store, x->wallet, now_ns, id, "refund", amount_minor, x->merchant->name,
                                        r->reason)) != MOPAY_OK ||
        (err = refund_record(store, now_ns, r)) != MOPAY_OK || (err = payment_record(store, now_ns, x)) != MOPAY_OK)
        return err;
    return p->options.events.refund != NULL ? p->options.events.refund(p->options.events.ctx, store, now_ns, r)
                                            : MOPAY_OK;
}
