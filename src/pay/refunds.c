/* Refunds: money back from the merchant to the wallet that paid. In the same linked chain, the
 * fee comes back from revenue in proportion, a platform-funded coupon's share goes back to the
 * offer budget, and a cross-currency payment's share goes back through the FX positions at the
 * payment's locked rate (its FX fee is not refunded). */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"

/* `part` of `total` rounded down, or exactly what is left when this part completes it. */
static int64_t share_of(int64_t whole, int64_t done, int64_t part, int64_t total, int64_t total_done)
{
    if (total_done + part == total)
        return whole - done;
    return (int64_t)(((__int128)whole * part) / total);
}

struct refund_split {
    int64_t fee, coupon, customer, wallet; /* merchant's currency; the last in the wallet's */
};

static void refund_split(const struct mopay_payment *x, int64_t amount, struct refund_split *s)
{
    s->fee = share_of(x->fee_minor, x->fee_refunded_minor, amount, x->amount_minor, x->refunded_minor);
    s->coupon = x->coupon != NULL ? mopay_coupon_refund_share(x->coupon, amount, x->refunded_minor, x->amount_minor) : 0;
    s->customer = amount - s->coupon;
    if (x->fx.wallet_minor == 0) {
        s->wallet = s->customer;
        return;
    }
    /* the customer's part converts back at the locked rate: in proportion to what was converted */
    int64_t converted = x->fx.wallet_minor - x->fx.fx_fee_minor, share = mopay_payment_share(x);
    s->wallet = share_of(converted, x->wallet_refunded_minor, s->customer, share,
                         x->refunded_minor - (x->coupon != NULL ? x->coupon->refunded_minor : 0));
}

static enum mopay_err refund_post(struct mopay_pay_state *p, const struct mopay_refund *r,
                                  const struct refund_split *s, int64_t now_ns)
{
    const struct mopay_payment *x = r->payment;
    const struct mopay_currency *m = x->merchant->currency, *w = x->wallet->currency;
    struct chain c = {.n = 0};
    struct mopay_id revenue, budget, pos_m, pos_w;
    enum mopay_err err = platform_account(p, MOPAY_LEDGER_KIND_REVENUE, m, now_ns, &revenue);
    if (err != MOPAY_OK)
        return err;
    chain_leg(&c, &revenue, &x->merchant->id, s->fee, m->numeric, MOPAY_PAY_CODE_FEE_REFUND, now_ns);
    if (s->coupon > 0 && x->coupon->offer->funder == MOPAY_OFFER_PLATFORM_FUNDED) {
        if ((err = platform_account(p, MOPAY_LEDGER_KIND_OFFER_BUDGET, m, now_ns, &budget)) != MOPAY_OK)
            return err;
        chain_leg(&c, &x->merchant->id, &budget, s->coupon, m->numeric, MOPAY_PAY_CODE_DISCOUNT, now_ns);
    }
    if (x->fx.wallet_minor == 0) {
        chain_leg(&c, &x->merchant->id, &x->wallet->id, s->customer, m->numeric, MOPAY_PAY_CODE_REFUND, now_ns);
    } else {
        if ((err = platform_account(p, MOPAY_LEDGER_KIND_FX_POSITION, m, now_ns, &pos_m)) != MOPAY_OK ||
            (err = platform_account(p, MOPAY_LEDGER_KIND_FX_POSITION, w, now_ns, &pos_w)) != MOPAY_OK)
            return err;
        chain_leg(&c, &x->merchant->id, &pos_m, s->customer, m->numeric, MOPAY_PAY_CODE_FX, now_ns);
        chain_leg(&c, &pos_w, &x->wallet->id, s->wallet, w->numeric, MOPAY_PAY_CODE_REFUND, now_ns);
    }
    if (c.n == 0)
        return MOPAY_OK;
    c.t[c.n - 1].id = r->id; /* the leg that reaches the wallet carries the refund's id */
    return chain_post(p, &c, now_ns);
}

static enum mopay_err refund_bookkeeping(struct mopay_pay_state *p, struct mopay_store *store, int64_t now_ns,
                                         const struct mopay_refund *r, const struct refund_split *s)
{
    struct mopay_payment *x = r->payment;
    char id[MOPAY_ID_TEXT_BYTES];
    mopay_id_format(MOPAY_ID_REFUND, &r->id, id);
    enum mopay_err err = MOPAY_OK;
    if (x->coupon != NULL)
        err = mopay_coupon_refunded(p->options.offers, store, now_ns, x->coupon, s->coupon);
    if (err == MOPAY_OK && s->wallet > 0)
        err = mopay_wallet_history_add(store, x->wallet, now_ns, id, "refund", s->wallet, x->merchant->name, r->reason);
    if (err == MOPAY_OK)
        err = mopay_wallet_trust_note(p->options.wallet, store, now_ns, x->customer, MOPAY_TRUST_REFUND);
    if (err == MOPAY_OK)
        err = refund_record(p, now_ns, r);
    if (err == MOPAY_OK)
        err = payment_record(p, now_ns, x);
    if (err == MOPAY_OK && p->options.events.refund != NULL)
        err = p->options.events.refund(p->options.events.ctx, store, now_ns, r);
    return err;
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
    struct refund_split split;
    refund_split(x, amount_minor, &split);
    struct mopay_refund *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return MOPAY_ERR_internal;
    mopay_id_new(now_ns, &r->id);
    r->payment = x;
    r->amount_minor = amount_minor;
    r->fee_returned_minor = split.fee;
    mopay_text_copy(r->reason, sizeof(r->reason), reason);
    r->created_at_ns = now_ns;
    enum mopay_err err = refund_post(p, r, &split, now_ns);
    if (err == MOPAY_OK && !mopay_index_put(&p->refunds, r->id.bytes, r))
        err = MOPAY_ERR_internal;
    if (err != MOPAY_OK) {
        free(r); /* the ledger refused it whole, or it never reached it: nothing changed */
        return err;
    }
    atomic_fetch_add(&p->refunds_made, 1);
    x->refunded_minor += amount_minor;
    x->fee_refunded_minor += split.fee;
    x->wallet_refunded_minor += split.wallet;
    *out = r;
    return refund_bookkeeping(p, store, now_ns, r, &split);
}
