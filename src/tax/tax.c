/* Tax-free forms, instant refunds into the wallet, validation and claw-back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"

#define NS_PER_DAY (86400LL * 1000000000LL)

const char *mopay_tax_refund_status_name(enum mopay_tax_refund_status status)
{
    static const char *const names[] = {"pending_validation", "validated", "clawed_back", "guaranteed"};
    MOPAY_ASSERT(status >= 0 && status <= MOPAY_TAX_REFUND_GUARANTEED);
    return names[status];
}

struct mopay_tax_state *mopay_tax_new(const struct mopay_taxrules *rules, struct mopay_pay_state *pay,
                                      struct mopay_wallet_state *wallets, struct mopay_ledger_service *ledger,
                                      struct mopay_journal *journal)
{
    MOPAY_ASSERT(pay != NULL && wallets != NULL && ledger != NULL && journal != NULL);
    struct mopay_tax_state *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->rules = *rules;
    t->pay = pay;
    t->wallets = wallets;
    t->ledger = ledger;
    t->journal = journal;
    if (!mopay_index_init(&t->forms, 256) || !mopay_index_init(&t->refunds, 256)) {
        mopay_tax_free(t);
        return NULL;
    }
    tax_records_register(t);
    return t;
}

void mopay_tax_free(struct mopay_tax_state *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; t->forms.slots != NULL && i < t->forms.capacity; i++)
        free(t->forms.slots[i].value);
    for (size_t i = 0; t->refunds.slots != NULL && i < t->refunds.capacity; i++)
        free(t->refunds.slots[i].value);
    mopay_index_deinit(&t->forms);
    mopay_index_deinit(&t->refunds);
    free(t);
}

struct mopay_tax_form *mopay_tax_form(struct mopay_tax_state *t, const struct mopay_id *payment_id)
{
    return mopay_index_get(&t->forms, payment_id->bytes);
}

struct mopay_tax_refund *mopay_tax_refund_get(struct mopay_tax_state *t, const struct mopay_id *id)
{
    return mopay_index_get(&t->refunds, id->bytes);
}

bool tax_refund_add(struct mopay_tax_state *t, struct mopay_tax_refund *r)
{
    if (!mopay_index_put(&t->refunds, r->id.bytes, r))
        return false;
    if (r->status == MOPAY_TAX_REFUND_PENDING_VALIDATION) {
        r->next_pending = t->pending;
        t->pending = r;
    }
    return true;
}

void tax_pending_unlink(struct mopay_tax_state *t, struct mopay_tax_refund *r)
{
    for (struct mopay_tax_refund **link = &t->pending; *link != NULL; link = &(*link)->next_pending)
        if (*link == r) {
            *link = r->next_pending;
            r->next_pending = NULL;
            return;
        }
}

enum mopay_err mopay_tax_on_payment(struct mopay_tax_state *t, struct mopay_store *store, int64_t now_ns,
                                    const struct mopay_payment *x)
{
    (void)store; /* the form goes to the journal */
    if (x->status != MOPAY_PAYMENT_SUCCEEDED || x->order == NULL || !x->order->tax_free ||
        mopay_tax_form(t, &x->id) != NULL)
        return MOPAY_OK;
    struct mopay_tax_form *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return MOPAY_ERR_internal;
    f->payment = (struct mopay_payment *)x;
    mopay_text_copy(f->country, sizeof(f->country), x->merchant->country);
    f->gross_minor = x->order->amount_minor;
    f->vat_minor = x->order->vat_minor;
    const struct mopay_taxrule *rule = mopay_taxrules_find(&t->rules, f->country);
    f->eligibility = rule == NULL ? MOPAY_ERR_tax_free_country_unsupported
                                  : mopay_taxrules_eligible(rule, f->gross_minor, x->customer->country, f->country);
    if (rule != NULL && strcmp(rule->currency, x->merchant->currency->alpha) != 0)
        f->eligibility = MOPAY_ERR_tax_free_country_unsupported; /* priced in another currency */
    f->created_at_ns = now_ns;
    if (!mopay_index_put(&t->forms, x->id.bytes, f)) {
        free(f);
        return MOPAY_ERR_internal;
    }
    return tax_form_record(t, now_ns, f);
}
