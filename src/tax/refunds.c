/* The instant refund of tax-free forms into the wallet that paid, and its end: validated by
 * customs, or clawed back past the deadline. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"

#define NS_PER_DAY (86400LL * 1000000000LL)

/* The customer's instant refunds (by their purchases' gross) in a country over the last trip. */
static int64_t trip_gross(struct mopay_tax_state *t, const struct mopay_customer *c, const char *country,
                          int64_t now_ns)
{
    int64_t sum = 0;
    for (size_t i = 0; i < t->refunds.capacity; i++) {
        const struct mopay_tax_refund *r = t->refunds.slots[i].value;
        if (r != NULL && r->customer == c && strcmp(r->country, country) == 0 &&
            r->created_at_ns > now_ns - MOPAY_TAX_TRIP_DAYS * NS_PER_DAY && r->status != MOPAY_TAX_REFUND_CLAWED_BACK)
            sum += r->gross_minor;
    }
    return sum;
}

/* Every form the customer's, eligible, unrefunded, of one country, paid from one wallet. */
static enum mopay_err forms_check(const struct mopay_customer *c, struct mopay_tax_form **forms, size_t count)
{
    if (count == 0 || count > MOPAY_TAX_FORMS_PER_REFUND_MAX)
        return MOPAY_ERR_tax_form_unusable;
    for (size_t i = 0; i < count; i++) {
        const struct mopay_tax_form *f = forms[i];
        bool ok = f->payment->customer == c && f->eligibility == MOPAY_OK && f->refund == NULL &&
                  strcmp(f->country, forms[0]->country) == 0 && f->payment->wallet == forms[0]->payment->wallet;
        for (size_t j = 0; ok && j < i; j++)
            ok = forms[j] != f;
        if (!ok)
            return MOPAY_ERR_tax_form_unusable;
    }
    return MOPAY_OK;
}

/* The refund of the forms under the rules (in the purchases' currency), and what it is in the
 * wallet's: the payment's own conversion, in proportion, for a wallet in another currency. */
static enum mopay_err refund_amounts(struct mopay_tax_state *t, struct mopay_tax_refund *r, int64_t now_ns)
{
    const struct mopay_taxrule *rule = mopay_taxrules_find(&t->rules, r->country);
    MOPAY_ASSERT(rule != NULL); /* the forms were eligible under it */
    int64_t trip = trip_gross(t, r->customer, r->country, now_ns);
    for (size_t i = 0; i < r->form_count; i++) {
        const struct mopay_tax_form *f = r->forms[i];
        int64_t refund = 0;
        enum mopay_err err = mopay_taxrules_instant_refund(rule, f->gross_minor, f->vat_minor, trip, &refund);
        if (err != MOPAY_OK)
            return err;
        if (refund == 0)
            return MOPAY_ERR_tax_free_not_instant;
        const struct mopay_payment *x = f->payment;
        int64_t credited = x->fx.wallet_minor == 0
                               ? refund
                               : (int64_t)(((__int128)(x->fx.wallet_minor - x->fx.fx_fee_minor) * refund) /
                                           mopay_payment_share(x));
        trip += f->gross_minor;
        r->gross_minor += f->gross_minor;
        r->refund_minor += refund;
        r->credited_minor += credited;
    }
    r->deadline_ns = mopay_taxrules_deadline_ns(rule, r->forms[0]->payment->created_at_ns);
    return r->credited_minor > 0 ? MOPAY_OK : MOPAY_ERR_tax_free_not_instant;
}

/* A chain between the refund pool and the wallet: pool -> wallet (out) or back (in), through
 * the FX positions when the wallet is in another currency. `wallet_minor` moves on the
 * wallet's side, `receivable_minor` (in only) is booked as owed instead of taken. */
static enum mopay_err pool_chain(struct mopay_tax_state *t, const struct mopay_tax_refund *r, bool out,
                                 int64_t wallet_minor, int64_t receivable_minor, int64_t now_ns)
{
    const struct mopay_currency *p = r->currency, *w = r->wallet->currency;
    struct mopay_ledger_transfer legs[4];
    memset(legs, 0, sizeof(legs));
    size_t n = 0;
    struct mopay_id pool, pos_p, pos_w, receivable;
    enum mopay_err err = mopay_ledger_service_system_account(t->ledger, MOPAY_LEDGER_KIND_REFUND_POOL, p->numeric,
                                                             now_ns, &pool);
    bool fx = p != w;
    if (err == MOPAY_OK && fx)
        err = mopay_ledger_service_system_account(t->ledger, MOPAY_LEDGER_KIND_FX_POSITION, p->numeric, now_ns, &pos_p);
    if (err == MOPAY_OK && fx)
        err = mopay_ledger_service_system_account(t->ledger, MOPAY_LEDGER_KIND_FX_POSITION, w->numeric, now_ns, &pos_w);
    if (err == MOPAY_OK && receivable_minor > 0)
        err = mopay_wallet_receivable(t->wallets, r->wallet, now_ns, &receivable);
    if (err != MOPAY_OK)
        return err;
    const struct mopay_id *wallet_side = fx ? &pos_w : &pool;
    struct { const struct mopay_id *debit, *credit; int64_t amount; uint16_t currency; } plan[4] = {
        {out ? &pool : &pos_p, out ? &pos_p : &pool, fx ? r->refund_minor : 0, p->numeric},
        {out ? wallet_side : &r->wallet->id, out ? &r->wallet->id : wallet_side, wallet_minor, w->numeric},
        {&receivable, wallet_side, receivable_minor, w->numeric},
    };
    for (size_t i = 0; i < 3; i++) {
        if (plan[i].amount == 0)
            continue;
        mopay_id_new(now_ns, &legs[n].id);
        legs[n] = (struct mopay_ledger_transfer){.id = legs[n].id, .debit_account_id = *plan[i].debit,
                                                 .credit_account_id = *plan[i].credit, .amount = (uint64_t)plan[i].amount,
                                                 .currency = plan[i].currency, .code = MOPAY_TAX_CODE_REFUND};
        n++;
    }
    for (size_t i = 0; i + 1 < n; i++)
        legs[i].flags = MOPAY_LEDGER_LINKED;
    uint8_t results[4] = {0};
    if (n == 0 || mopay_ledger_service_create_transfers(t->ledger, legs, n, now_ns, results) == n)
        return MOPAY_OK;
    return MOPAY_ERR_ledger_rejected;
}

enum mopay_err mopay_tax_refund(struct mopay_tax_state *t, struct mopay_store *store, int64_t now_ns,
                                struct mopay_customer *customer, struct mopay_tax_form **forms, size_t count,
                                struct mopay_tax_refund **out)
{
    enum mopay_err err = forms_check(customer, forms, count);
    if (err != MOPAY_OK)
        return err;
    struct mopay_tax_refund *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return MOPAY_ERR_internal;
    r->customer = customer;
    r->wallet = forms[0]->payment->wallet;
    mopay_text_copy(r->country, sizeof(r->country), forms[0]->country);
    r->currency = forms[0]->payment->merchant->currency;
    memcpy(r->forms, forms, count * sizeof(*forms));
    r->form_count = count;
    if ((err = refund_amounts(t, r, now_ns)) == MOPAY_OK)
        err = mopay_wallet_inflow_check(t->wallets, r->wallet, r->credited_minor, now_ns);
    if (err == MOPAY_OK)
        err = pool_chain(t, r, true, r->credited_minor, 0, now_ns);
    if (err != MOPAY_OK) {
        free(r); /* nothing reached the ledger, or the ledger refused it whole */
        return err;
    }
    mopay_id_new(now_ns, &r->id);
    r->created_at_ns = now_ns;
    r->guaranteed = mopay_wallet_trust_score(customer, now_ns) >= MOPAY_TRUST_GUARANTEE;
    MOPAY_ASSERT(tax_refund_add(t, r));
    for (size_t i = 0; i < count; i++)
        forms[i]->refund = r;
    *out = r;
    char id[MOPAY_ID_TEXT_BYTES];
    mopay_id_format(MOPAY_ID_TAX_REFUND, &r->id, id);
    /* the forms' images do not change: the refund's image names them, which links them again */
    err = mopay_wallet_history_add(store, r->wallet, now_ns, id, "tax_refund", r->credited_minor,
                                   forms[0]->payment->merchant->name, NULL);
    return err != MOPAY_OK ? err : tax_refund_record(t, now_ns, r);
}

enum mopay_err mopay_tax_validate(struct mopay_tax_state *t, struct mopay_store *store, int64_t now_ns,
                                  struct mopay_tax_refund *r)
{
    (void)store; /* the change goes to the journal */
    if (r->status != MOPAY_TAX_REFUND_PENDING_VALIDATION)
        return MOPAY_ERR_tax_refund_not_pending;
    r->status = MOPAY_TAX_REFUND_VALIDATED;
    r->resolved_at_ns = now_ns;
    tax_pending_unlink(t, r);
    return tax_refund_record(t, now_ns, r);
}

/* Takes back what the wallet holds of the refund; books the rest as owed. */
static enum mopay_err claw_back(struct mopay_tax_state *t, struct mopay_store *store, int64_t now_ns,
                                struct mopay_tax_refund *r)
{
    struct mopay_wallet_balance b;
    mopay_wallet_balance(t->wallets, r->wallet, now_ns, &b);
    int64_t take = b.available_minor < r->credited_minor ? b.available_minor : r->credited_minor;
    if (take < 0)
        take = 0;
    enum mopay_err err = pool_chain(t, r, false, take, r->credited_minor - take, now_ns);
    MOPAY_ASSERT(err == MOPAY_OK || mopay_store_err_fatal(err)); /* sized by the balance just read */
    if (err != MOPAY_OK)
        return err;
    r->clawed_minor = take;
    r->owed_minor = r->credited_minor - take;
    r->status = MOPAY_TAX_REFUND_CLAWED_BACK;
    r->resolved_at_ns = now_ns;
    tax_pending_unlink(t, r);
    char id[MOPAY_ID_TEXT_BYTES];
    mopay_id_format(MOPAY_ID_TAX_REFUND, &r->id, id);
    if (take > 0 && (err = mopay_wallet_history_add(store, r->wallet, now_ns, id, "tax_clawback", -take,
                                                    r->forms[0]->payment->merchant->name, NULL)) != MOPAY_OK)
        return err;
    return tax_refund_record(t, now_ns, r);
}

/* A guaranteed refund past its deadline: the platform keeps the loss. */
static enum mopay_err keep_guaranteed(struct mopay_tax_state *t, int64_t now_ns, struct mopay_tax_refund *r)
{
    r->status = MOPAY_TAX_REFUND_GUARANTEED;
    r->resolved_at_ns = now_ns;
    tax_pending_unlink(t, r);
    return tax_refund_record(t, now_ns, r);
}

enum mopay_err mopay_tax_tick(struct mopay_tax_state *t, struct mopay_store *store, int64_t now_ns)
{
    struct mopay_tax_refund *r = t->pending;
    while (r != NULL) {
        struct mopay_tax_refund *next = r->next_pending;
        /* a claw-back may book what the wallet cannot pay as owed, on an account it may have
         * to open: without room in the ledger it waits for a later tick */
        bool room = r->guaranteed || mopay_wallet_receivable_room(t->wallets, r->wallet) == MOPAY_OK;
        if (r->deadline_ns <= now_ns && room) {
            enum mopay_err err = r->guaranteed ? keep_guaranteed(t, now_ns, r) : claw_back(t, store, now_ns, r);
            if (err != MOPAY_OK)
                return err;
        }
        r = next;
    }
    return MOPAY_OK;
}
