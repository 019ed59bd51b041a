/* Tax-free forms and tax refunds written before the journal, as JSON records: read once at start,
 * after the journal's replay, then moved into the journal (mopay_journal_absorb_records). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"

struct load_ctx {
    struct mopay_tax_state *t;
    char *err;
    size_t err_cap;
    bool failed;
    /* forms name their refund, which loads after them: linked once both are in */
};

static bool load_fail(struct load_ctx *ctx, const char *kind, const char *id)
{
    snprintf(ctx->err, ctx->err_cap, "%s record %s: malformed, or what it names is missing", kind, id);
    ctx->failed = true;
    return false;
}

static bool load_form(void *arg, const char *id, const char *text, size_t len)
{
    struct load_ctx *ctx = arg;
    json_t *j = json_loadb(text, len, 0, NULL);
    struct mopay_tax_form *f = calloc(1, sizeof(*f));
    const char *pid = NULL, *country = NULL, *refund = NULL;
    json_int_t gross = 0, vat = 0, created = 0;
    int eligibility = 0;
    struct mopay_id payment;
    bool ok = j != NULL && f != NULL &&
              json_unpack(j, "{s:s, s:s, s:I, s:I, s:i, s:s, s:I}", "payment_id", &pid, "country", &country,
                          "gross_minor", &gross, "vat_minor", &vat, "eligibility", &eligibility, "refund_id", &refund,
                          "created_at_ns", &created) == 0 &&
              mopay_id_parse(MOPAY_ID_PAYMENT, pid, strlen(pid), &payment) == MOPAY_OK &&
              (f->payment = mopay_pay_payment(ctx->t->pay, &payment)) != NULL && strlen(country) == 2 && gross > 0 &&
              vat >= 0 && vat < gross;
    if (ok) {
        mopay_text_copy(f->country, sizeof(f->country), country);
        f->gross_minor = gross, f->vat_minor = vat, f->created_at_ns = created;
        f->eligibility = (enum mopay_err)eligibility;
        ok = mopay_index_put(&ctx->t->forms, payment.bytes, f);
    }
    json_decref(j);
    if (!ok) {
        free(f);
        return load_fail(ctx, "tax-free form", id);
    }
    return true;
}

/* Links a refund to its forms, which loaded before it. */
static bool refund_forms(struct load_ctx *ctx, json_t *forms, struct mopay_tax_refund *r)
{
    if (!json_is_array(forms) || json_array_size(forms) == 0 || json_array_size(forms) > MOPAY_TAX_FORMS_PER_REFUND_MAX)
        return false;
    for (size_t i = 0; i < json_array_size(forms); i++) {
        const char *pid = json_string_value(json_array_get(forms, i));
        struct mopay_id payment;
        if (pid == NULL || mopay_id_parse(MOPAY_ID_PAYMENT, pid, strlen(pid), &payment) != MOPAY_OK ||
            (r->forms[i] = mopay_tax_form(ctx->t, &payment)) == NULL)
            return false;
        r->forms[i]->refund = r;
    }
    r->form_count = json_array_size(forms);
    return true;
}

static bool refund_read(struct load_ctx *ctx, json_t *j, struct mopay_tax_refund *r)
{
    const char *id = NULL, *cid = NULL, *wid = NULL, *country = NULL, *currency = NULL;
    json_t *forms = NULL;
    json_int_t v[8] = {0};
    int status = 0, guaranteed = 0;
    struct mopay_id customer, wallet;
    bool ok = json_unpack(j, "{s:s, s:s, s:s, s:s, s:s, s:o, s:I, s:I, s:I, s:I, s:I, s:i, s:b, s:I, s:I, s:I}", "id", &id,
                          "customer_id", &cid, "wallet_id", &wid, "country", &country, "currency", &currency, "forms",
                          &forms, "gross_minor", &v[0], "refund_minor", &v[1], "credited_minor", &v[2],
                          "clawed_minor", &v[3], "owed_minor", &v[4], "status", &status, "guaranteed", &guaranteed,
                          "created_at_ns", &v[5],
                          "deadline_ns", &v[6], "resolved_at_ns", &v[7]) == 0 &&
              mopay_id_parse(MOPAY_ID_TAX_REFUND, id, strlen(id), &r->id) == MOPAY_OK &&
              mopay_id_parse(MOPAY_ID_CUSTOMER, cid, strlen(cid), &customer) == MOPAY_OK &&
              mopay_id_parse(MOPAY_ID_WALLET, wid, strlen(wid), &wallet) == MOPAY_OK &&
              (r->customer = mopay_wallet_customer(ctx->t->wallets, &customer)) != NULL &&
              (r->wallet = mopay_wallet_get(ctx->t->wallets, &wallet)) != NULL && strlen(country) == 2 &&
              (r->currency = mopay_currency_by_alpha(currency, strlen(currency))) != NULL &&
              status >= MOPAY_TAX_REFUND_PENDING_VALIDATION && status <= MOPAY_TAX_REFUND_GUARANTEED &&
              refund_forms(ctx, forms, r);
    if (!ok)
        return false;
    mopay_text_copy(r->country, sizeof(r->country), country);
    r->gross_minor = v[0], r->refund_minor = v[1], r->credited_minor = v[2], r->clawed_minor = v[3];
    r->owed_minor = v[4], r->created_at_ns = v[5], r->deadline_ns = v[6], r->resolved_at_ns = v[7];
    r->status = (enum mopay_tax_refund_status)status;
    r->guaranteed = guaranteed != 0;
    return true;
}

static bool load_refund(void *arg, const char *id, const char *text, size_t len)
{
    struct load_ctx *ctx = arg;
    json_t *j = json_loadb(text, len, 0, NULL);
    struct mopay_tax_refund *r = calloc(1, sizeof(*r));
    bool ok = j != NULL && r != NULL && refund_read(ctx, j, r) && tax_refund_add(ctx->t, r);
    json_decref(j);
    if (!ok) {
        free(r);
        return load_fail(ctx, "tax refund", id);
    }
    return true;
}

enum mopay_err mopay_tax_load(struct mopay_tax_state *t, struct mopay_store *store, char *err, size_t err_cap)
{
    struct load_ctx ctx = {t, err, err_cap, false};
    enum mopay_err e = store->records_load(store, "taxform", load_form, &ctx);
    if (e == MOPAY_OK && !ctx.failed)
        e = store->records_load(store, "taxrefund", load_refund, &ctx);
    if (ctx.failed)
        return MOPAY_ERR_store_failed;
    if (e != MOPAY_OK)
        snprintf(err, err_cap, "loading tax records: %s", store->last_error);
    return e;
}
