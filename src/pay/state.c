/* Payments and refunds in memory, their records, and loading them at start. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"

const char *mopay_payment_method_name(enum mopay_payment_method method)
{
    static const char *const names[] = {"qr_static", "qr_dynamic", "payment_code", "nfc", "online", "bill"};
    MOPAY_ASSERT(method >= 0 && method <= MOPAY_PAY_BILL);
    return names[method];
}

struct mopay_risk_guessing *mopay_pay_guessing(struct mopay_pay_state *p)
{
    return p->guessing;
}

const char *mopay_payment_status_name(enum mopay_payment_status status)
{
    static const char *const names[] = {"succeeded", "declined", "requires_confirmation"};
    MOPAY_ASSERT(status >= 0 && status <= MOPAY_PAYMENT_REQUIRES_CONFIRMATION);
    return names[status];
}

struct mopay_pay_state *mopay_pay_new(const struct mopay_pay_options *options)
{
    MOPAY_ASSERT(options->wallet != NULL && options->merchant != NULL && options->ledger != NULL &&
                 options->journal != NULL);
    struct mopay_pay_state *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->options = *options;
    p->guessing = mopay_risk_guessing_new(options->wrong_codes_max, options->wrong_codes_window_s * 1000000000LL);
    if (!mopay_index_init(&p->payments, 1024) || !mopay_index_init(&p->refunds, 256) ||
        !mopay_index_init(&p->nfc_tokens, 256) || (options->wrong_codes_max > 0 && p->guessing == NULL)) {
        mopay_pay_free(p);
        return NULL;
    }
    pay_records_register(p);
    return p;
}

void mopay_pay_free(struct mopay_pay_state *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; p->payments.slots != NULL && i < p->payments.capacity; i++)
        free(p->payments.slots[i].value);
    for (size_t i = 0; p->refunds.slots != NULL && i < p->refunds.capacity; i++)
        free(p->refunds.slots[i].value);
    for (size_t i = 0; p->nfc_tokens.slots != NULL && i < p->nfc_tokens.capacity; i++)
        free(p->nfc_tokens.slots[i].value);
    mopay_index_deinit(&p->payments);
    mopay_index_deinit(&p->refunds);
    mopay_index_deinit(&p->nfc_tokens);
    mopay_risk_guessing_free(p->guessing);
    free(p);
}

struct mopay_payment *mopay_pay_payment(struct mopay_pay_state *p, const struct mopay_id *id)
{
    return mopay_index_get(&p->payments, id->bytes);
}

struct mopay_refund *mopay_pay_refund_get(struct mopay_pay_state *p, const struct mopay_id *id)
{
    return mopay_index_get(&p->refunds, id->bytes);
}

bool payment_add(struct mopay_pay_state *p, struct mopay_payment *payment)
{
    if (!mopay_index_put(&p->payments, payment->id.bytes, payment))
        return false;
    if (payment->status == MOPAY_PAYMENT_REQUIRES_CONFIRMATION) {
        payment->next_unconfirmed = p->unconfirmed;
        p->unconfirmed = payment;
    }
    return true;
}

void payment_unconfirmed_unlink(struct mopay_pay_state *p, struct mopay_payment *payment)
{
    for (struct mopay_payment **link = &p->unconfirmed; *link != NULL; link = &(*link)->next_unconfirmed)
        if (*link == payment) {
            *link = payment->next_unconfirmed;
            payment->next_unconfirmed = NULL;
            return;
        }
}

void mopay_pay_stats(const struct mopay_pay_state *p, struct mopay_pay_stats *out)
{
    for (int m = 0; m < MOPAY_PAY_METHODS; m++)
        for (int s = 0; s < MOPAY_PAY_STATUSES; s++)
            out->payments[m][s] = atomic_load(&p->made[m][s]);
    out->refunds = atomic_load(&p->refunds_made);
    out->timeouts_deferred = atomic_load(&p->timeouts_deferred);
}

size_t mopay_pay_reviews(struct mopay_pay_state *p, struct mopay_payment **out, size_t cap)
{
    MOPAY_ASSERT(cap > 0);
    size_t n = 0;
    for (size_t i = 0; i < p->payments.capacity; i++) {
        struct mopay_payment *x = p->payments.slots[i].value;
        if (x == NULL || x->review != MOPAY_REVIEW_OPEN)
            continue;
        /* keep the `cap` newest: ids are time-ordered */
        size_t at = n < cap ? n++ : cap;
        if (at == cap && memcmp(&out[cap - 1]->id, &x->id, 16) > 0)
            continue;
        at = at == cap ? cap - 1 : at;
        out[at] = x;
        for (; at > 0 && memcmp(&out[at - 1]->id, &out[at]->id, 16) < 0; at--) {
            struct mopay_payment *t = out[at];
            out[at] = out[at - 1];
            out[at - 1] = t;
        }
    }
    return n;
}

enum mopay_err mopay_pay_review(struct mopay_pay_state *p, struct mopay_store *store, int64_t now_ns,
                                struct mopay_payment *x, bool fraud)
{
    if (x->review != MOPAY_REVIEW_OPEN)
        return MOPAY_ERR_review_not_open;
    x->review = fraud ? MOPAY_REVIEW_FRAUD : MOPAY_REVIEW_LEGITIMATE;
    enum mopay_err err = payment_record(p, now_ns, x);
    if (err == MOPAY_OK && fraud)
        err = mopay_wallet_trust_note(p->options.wallet, store, now_ns, x->customer, MOPAY_TRUST_FRAUD);
    return err;
}

size_t mopay_pay_payment_count(const struct mopay_pay_state *p)
{
    return p->payments.count;
}
