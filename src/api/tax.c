/* Tourist tax refunds: POST /v1/tax-refunds {payment_ids} (customer), GET /v1/tax-refunds/{id},
 * POST /v1/tax-refunds/{id}/validate (operator, for customs). */
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"

json_t *api_tax_form_json(const struct mopay_tax_form *f)
{
    const struct mopay_currency *c = f->payment->merchant->currency;
    json_t *j = json_pack("{s:s, s:o, s:o, s:b}", "country", f->country, "gross", api_money_json(f->gross_minor, c),
                          "vat", api_money_json(f->vat_minor, c), "eligible", f->eligibility == MOPAY_OK);
    if (f->eligibility != MOPAY_OK)
        json_object_set_new(j, "reason", json_string(mopay_err_code(f->eligibility)));
    if (f->refund != NULL)
        json_object_set_new(j, "tax_refund_id", api_id_json(MOPAY_ID_TAX_REFUND, &f->refund->id));
    return j;
}

static json_t *refund_json(const struct mopay_tax_refund *r)
{
    json_t *payments = json_array();
    for (size_t i = 0; i < r->form_count; i++)
        json_array_append_new(payments, api_id_json(MOPAY_ID_PAYMENT, &r->forms[i]->payment->id));
    const struct mopay_currency *w = r->wallet->currency;
    json_t *j = json_pack("{s:o, s:o, s:o, s:s, s:o, s:s, s:o, s:o, s:s, s:s, s:o, s:o, s:o}", "id",
                          api_id_json(MOPAY_ID_TAX_REFUND, &r->id), "customer_id",
                          api_id_json(MOPAY_ID_CUSTOMER, &r->customer->id), "wallet_id",
                          api_id_json(MOPAY_ID_WALLET, &r->wallet->id), "country", r->country, "refund",
                          api_money_json(r->refund_minor, r->currency), "currency", r->currency->alpha, "credited",
                          api_money_json(r->credited_minor, w), "payment_ids", payments, "wallet_currency", w->alpha,
                          "status", mopay_tax_refund_status_name(r->status), "created_at",
                          api_time_json(r->created_at_ns), "validate_by", api_time_json(r->deadline_ns), "resolved_at",
                          api_time_json(r->resolved_at_ns));
    json_object_set_new(j, "guaranteed", json_boolean(r->guaranteed));
    if (r->status == MOPAY_TAX_REFUND_CLAWED_BACK) {
        json_object_set_new(j, "clawed_back", api_money_json(r->clawed_minor, w));
        json_object_set_new(j, "owed", api_money_json(r->owed_minor, w));
    }
    return j;
}

enum tax_op { TAX_CREATE, TAX_GET, TAX_VALIDATE };

struct tax_cmd {
    struct mopay_http_command base;
    enum tax_op op;
    struct mopay_id id;
    json_t *payment_ids;
    struct mopay_id payments[MOPAY_TAX_FORMS_PER_REFUND_MAX];
    size_t count;
    struct mopay_tax_refund *refund;
};

static enum mopay_err tax_create_apply(struct mopay_api *api, struct tax_cmd *c, struct mopay_store *store,
                                       int64_t now_ns)
{
    struct mopay_customer *customer = api_principal_customer(api, mopay_http_principal(c->base.req));
    struct mopay_tax_form *forms[MOPAY_TAX_FORMS_PER_REFUND_MAX];
    for (size_t i = 0; i < c->count; i++) {
        forms[i] = mopay_tax_form(api->tax, &c->payments[i]);
        if (forms[i] == NULL || forms[i]->payment->customer != customer) {
            c->base.err_field = "/payment_ids";
            c->base.err_detail = "a payment has no tax-free form of this customer";
            return MOPAY_ERR_tax_form_unusable;
        }
        if (forms[i]->eligibility != MOPAY_OK) {
            c->base.err_field = "/payment_ids";
            return forms[i]->eligibility; /* why the form is not eligible */
        }
    }
    return mopay_tax_refund(api->tax, store, now_ns, customer, forms, c->count, &c->refund);
}

static enum mopay_err tax_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    struct tax_cmd *c = (struct tax_cmd *)cmd;
    struct mopay_api *api = cmd->app;
    if (c->op == TAX_CREATE)
        return tax_create_apply(api, c, store, now_ns);
    c->refund = mopay_tax_refund_get(api->tax, &c->id);
    if (c->refund == NULL || api_customer_visible(api, mopay_http_principal(cmd->req), &c->refund->customer->id) == NULL)
        return MOPAY_ERR_resource_not_found;
    return c->op == TAX_VALIDATE ? mopay_tax_validate(api->tax, store, now_ns, c->refund) : MOPAY_OK;
}

static json_t *tax_render(struct mopay_http_command *cmd, int *status)
{
    struct tax_cmd *c = (struct tax_cmd *)cmd;
    *status = c->op == TAX_CREATE ? 201 : 200;
    return refund_json(c->refund);
}

static struct tax_cmd *tax_cmd_new(struct mopay_http_request *req, enum tax_op op)
{
    struct tax_cmd *c = mopay_http_command_new(req, sizeof(*c), tax_apply, tax_render);
    if (c == NULL)
        api_reply_oom(req);
    else
        c->op = op;
    return c;
}

const struct mopay_json_field api_tax_refund_fields[] = {
    {.name = "payment_ids", .kind = MOPAY_JSON_ARRAY, .required = true, .offset = offsetof(struct tax_cmd, payment_ids),
     .min_len = 1, .max_len = MOPAY_TAX_FORMS_PER_REFUND_MAX},
    {0},
};

void api_tax_refunds_create(struct mopay_http_request *req)
{
    struct tax_cmd *c = tax_cmd_new(req, TAX_CREATE);
    if (c == NULL || !mopay_http_json_read(req, mopay_http_body(req), api_tax_refund_fields, c))
        return;
    c->count = json_array_size(c->payment_ids);
    for (size_t i = 0; i < c->count; i++) {
        const char *id = json_string_value(json_array_get(c->payment_ids, i));
        if (id == NULL || mopay_id_parse(MOPAY_ID_PAYMENT, id, strlen(id), &c->payments[i]) != MOPAY_OK) {
            mopay_http_reply_error(req, MOPAY_ERR_field_invalid, "/payment_ids", "payment ids: pay_ and 32 hex digits");
            return;
        }
    }
    mopay_http_submit(req, &c->base);
}

void api_tax_refund_get(struct mopay_http_request *req)
{
    struct tax_cmd *c = tax_cmd_new(req, TAX_GET);
    if (c != NULL && api_path_id(req, 0, MOPAY_ID_TAX_REFUND, &c->id))
        mopay_http_submit(req, &c->base);
}

void api_tax_refund_validate(struct mopay_http_request *req)
{
    struct tax_cmd *c = tax_cmd_new(req, TAX_VALIDATE);
    if (c != NULL && api_path_id(req, 0, MOPAY_ID_TAX_REFUND, &c->id))
        mopay_http_submit(req, &c->base);
}
