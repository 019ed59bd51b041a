/* Tax-free forms and tax refunds in the journal: their tables, and how replay puts them back.
 *
 * A form names its payment; a refund names its customer, its wallet and its forms. The form's
 * link to its refund is not in the form's image: the refund's image makes it (a refund is written
 * after its forms, so a form's image can never name a refund that is not there yet). */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"

static void *ref_payment(void *state, const struct mopay_id *id)
{
    return mopay_pay_payment(((struct mopay_tax_state *)state)->pay, id);
}

static void *ref_customer(void *state, const struct mopay_id *id)
{
    return mopay_wallet_customer(((struct mopay_tax_state *)state)->wallets, id);
}

static void *ref_wallet(void *state, const struct mopay_id *id)
{
    return mopay_wallet_get(((struct mopay_tax_state *)state)->wallets, id);
}

_Static_assert(offsetof(struct mopay_payment, id) == 0 && offsetof(struct mopay_customer, id) == 0 &&
                   offsetof(struct mopay_wallet, id) == 0,
               "a record a REF field names begins with its id");

/* --- forms --- */

#define F struct mopay_tax_form
static const struct mopay_codec_field form_fields[] = {
    MOPAY_CODEC_REF_FIELD(F, payment, ref_payment),
    MOPAY_CODEC_TEXT_FIELD(F, country),
    MOPAY_CODEC_INT_FIELD(F, gross_minor),
    MOPAY_CODEC_INT_FIELD(F, vat_minor),
    MOPAY_CODEC_INT_FIELD(F, eligibility),
    MOPAY_CODEC_INT_FIELD(F, created_at_ns),
};
#undef F

/* What loading a form checks, as the records before the journal were checked. */
static bool form_valid(const struct mopay_tax_form *f)
{
    return f->payment != NULL && strlen(f->country) == 2 && f->gross_minor > 0 && f->vat_minor >= 0 &&
           f->vat_minor < f->gross_minor;
}

static enum mopay_err form_apply(void *state, const void *image, char *why, size_t why_cap)
{
    struct mopay_tax_state *t = state;
    const struct mopay_tax_form *in = image;
    if (!form_valid(in))
        return mopay_codec_refuse(why, why_cap, "tax-free form", "no payment, or country or amounts out of range");
    struct mopay_tax_form *f = mopay_tax_form(t, &in->payment->id);
    if (f != NULL) {
        mopay_codec_copy(&mopay_tax_form_kind, f, in); /* its refund, not in the image, stays */
        return MOPAY_OK;
    }
    if ((f = malloc(sizeof(*f))) == NULL)
        return mopay_codec_refuse(why, why_cap, "tax-free form", "out of memory");
    memcpy(f, in, sizeof(*f));
    f->refund = NULL; /* the refund's image links it */
    if (!mopay_index_put(&t->forms, f->payment->id.bytes, f)) {
        free(f);
        return mopay_codec_refuse(why, why_cap, "tax-free form", "out of memory");
    }
    return MOPAY_OK;
}

static void form_each(void *state, bool (*fn)(void *ctx, const void *record), void *ctx)
{
    mopay_index_each(&((struct mopay_tax_state *)state)->forms, fn, ctx);
}

const struct mopay_record_kind mopay_tax_form_kind = {
    .name = "taxform",
    .tag = MOPAY_RECORD_TAX_FORM,
    .version = 1,
    .size = sizeof(struct mopay_tax_form),
    .fields = form_fields,
    .field_count = sizeof(form_fields) / sizeof(form_fields[0]),
    .apply = form_apply,
    .each = form_each,
};

/* --- refunds --- */

/* The refund's forms, after form_count: their payments' ids, 16 bytes each. Each must be a form
 * that is there. */
static size_t forms_encode(void *state, const void *record, uint8_t *out, size_t cap)
{
    (void)state;
    const struct mopay_tax_refund *r = record;
    MOPAY_ASSERT(r->form_count > 0 && r->form_count <= MOPAY_TAX_FORMS_PER_REFUND_MAX && cap >= 16 * r->form_count);
    for (size_t i = 0; i < r->form_count; i++)
        memcpy(out + 16 * i, r->forms[i]->payment->id.bytes, 16);
    return 16 * r->form_count;
}

static bool forms_decode(void *state, void *record, const uint8_t *in, size_t len)
{
    struct mopay_tax_refund *r = record;
    if (r->form_count == 0 || r->form_count > MOPAY_TAX_FORMS_PER_REFUND_MAX || len != 16 * r->form_count)
        return false;
    for (size_t i = 0; i < r->form_count; i++) {
        struct mopay_id id;
        memcpy(id.bytes, in + 16 * i, 16);
        if ((r->forms[i] = mopay_tax_form(state, &id)) == NULL)
            return false;
    }
    return true;
}

static const struct mopay_codec_custom forms_codec = {forms_encode, forms_decode,
                                                      16 * MOPAY_TAX_FORMS_PER_REFUND_MAX};

#define R struct mopay_tax_refund
static const struct mopay_codec_field refund_fields[] = {
    MOPAY_CODEC_ID_FIELD(R, id),
    MOPAY_CODEC_REF_FIELD(R, customer, ref_customer),
    MOPAY_CODEC_REF_FIELD(R, wallet, ref_wallet),
    MOPAY_CODEC_TEXT_FIELD(R, country),
    MOPAY_CODEC_CURRENCY_FIELD(R, currency),
    MOPAY_CODEC_UINT_FIELD(R, form_count),
    MOPAY_CODEC_CUSTOM_FIELD(R, forms, &forms_codec),
    MOPAY_CODEC_INT_FIELD(R, gross_minor),
    MOPAY_CODEC_INT_FIELD(R, refund_minor),
    MOPAY_CODEC_INT_FIELD(R, credited_minor),
    MOPAY_CODEC_INT_FIELD(R, clawed_minor),
    MOPAY_CODEC_INT_FIELD(R, owed_minor),
    MOPAY_CODEC_INT_FIELD(R, status),
    MOPAY_CODEC_BOOL_FIELD(R, guaranteed),
    MOPAY_CODEC_INT_FIELD(R, created_at_ns),
    MOPAY_CODEC_INT_FIELD(R, deadline_ns),
    MOPAY_CODEC_INT_FIELD(R, resolved_at_ns),
};
#undef R

/* What loading a refund checks, as the records before the journal were checked, and that each of
 * its forms is refunded by it alone (`r`: the refund the image changes, NULL for a new one). */
static bool refund_valid(const struct mopay_tax_refund *in, const struct mopay_tax_refund *r)
{
    static const struct mopay_id zero;
    bool ok = memcmp(in->id.bytes, zero.bytes, sizeof(zero.bytes)) != 0 && in->customer != NULL && in->wallet != NULL &&
              strlen(in->country) == 2 && in->currency != NULL && in->form_count > 0 &&
              in->form_count <= MOPAY_TAX_FORMS_PER_REFUND_MAX && in->status >= MOPAY_TAX_REFUND_PENDING_VALIDATION &&
              in->status <= MOPAY_TAX_REFUND_GUARANTEED && in->refund_minor >= 0 && in->credited_minor >= 0 &&
              in->clawed_minor >= 0 && in->owed_minor >= 0;
    for (size_t i = 0; ok && i < in->form_count; i++)
        ok = in->forms[i]->refund == NULL || in->forms[i]->refund == r;
    /* a refund leaves pending_validation once, for good */
    return ok && (r == NULL || r->status == MOPAY_TAX_REFUND_PENDING_VALIDATION ||
                  in->status != MOPAY_TAX_REFUND_PENDING_VALIDATION);
}

static void forms_link(struct mopay_tax_refund *r, struct mopay_tax_refund *to)
{
    for (size_t i = 0; i < r->form_count; i++)
        r->forms[i]->refund = to;
}

static enum mopay_err refund_apply(void *state, const void *image, char *why, size_t why_cap)
{
    struct mopay_tax_state *t = state;
    const struct mopay_tax_refund *in = image;
    struct mopay_tax_refund *r = mopay_tax_refund_get(t, &in->id);
    if (!refund_valid(in, r))
        return mopay_codec_refuse(why, why_cap, "tax refund",
                                  "malformed, a form refunded by another, or back to pending_validation");
    if (r != NULL) {
        bool was_pending = r->status == MOPAY_TAX_REFUND_PENDING_VALIDATION;
        forms_link(r, NULL);
        mopay_codec_copy(&mopay_tax_refund_kind, r, in);
        forms_link(r, r);
        if (was_pending && r->status != MOPAY_TAX_REFUND_PENDING_VALIDATION)
            tax_pending_unlink(t, r);
        return MOPAY_OK;
    }
    if ((r = malloc(sizeof(*r))) == NULL)
        return mopay_codec_refuse(why, why_cap, "tax refund", "out of memory");
    memcpy(r, in, sizeof(*r));
    r->next_pending = NULL;
    if (!tax_refund_add(t, r)) {
        free(r);
        return mopay_codec_refuse(why, why_cap, "tax refund", "out of memory");
    }
    forms_link(r, r);
    return MOPAY_OK;
}

static void refund_each(void *state, bool (*fn)(void *ctx, const void *record), void *ctx)
{
    mopay_index_each(&((struct mopay_tax_state *)state)->refunds, fn, ctx);
}

const struct mopay_record_kind mopay_tax_refund_kind = {
    .name = "taxrefund",
    .tag = MOPAY_RECORD_TAX_REFUND,
    .version = 1,
    .size = sizeof(struct mopay_tax_refund),
    .fields = refund_fields,
    .field_count = sizeof(refund_fields) / sizeof(refund_fields[0]),
    .apply = refund_apply,
    .each = refund_each,
};

/* Forms first: a refund's image names its forms. */
void tax_records_register(struct mopay_tax_state *t)
{
    mopay_journal_register(t->journal, &mopay_tax_form_kind, t);
    mopay_journal_register(t->journal, &mopay_tax_refund_kind, t);
}

enum mopay_err tax_form_record(struct mopay_tax_state *t, int64_t now_ns, const struct mopay_tax_form *f)
{
    return mopay_journal_put(t->journal, &mopay_tax_form_kind, f, now_ns);
}

enum mopay_err tax_refund_record(struct mopay_tax_state *t, int64_t now_ns, const struct mopay_tax_refund *r)
{
    return mopay_journal_put(t->journal, &mopay_tax_refund_kind, r, now_ns);
}
