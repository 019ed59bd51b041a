/* Orders: a merchant asks for an exact amount; the customer pays it online (by id) or by
 * scanning its dynamic QR code. */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"

json_t *api_order_json(struct mopay_api *api, const struct mopay_order *o)
{
    const struct mopay_currency *c = o->merchant->currency;
    json_t *j = json_pack("{s:o, s:o, s:o, s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "id", api_id_json(MOPAY_ID_ORDER, &o->id),
                          "merchant_id", api_id_json(MOPAY_ID_MERCHANT, &o->merchant->id), "amount",
                          api_money_json(o->amount_minor, c), "currency", c->alpha, "reference", o->reference,
                          "description", o->description, "status", mopay_order_status_name(o->status), "created_at",
                          api_time_json(o->created_at_ns), "expires_at", api_time_json(o->expires_at_ns), "paid_at",
                          api_time_json(o->paid_at_ns));
    if (o->tax_free)
        json_object_set_new(j, "tax_free", json_pack("{s:o}", "vat_amount", api_money_json(o->vat_minor, c)));
    if (o->status == MOPAY_ORDER_PAID)
        json_object_set_new(j, "payment_id", api_id_json(MOPAY_ID_PAYMENT, &o->payment_id));
    char qr[MOPAY_QR_PAYLOAD_BYTES_MAX + 1];
    if (api_order_qr(api, o, qr))
        json_object_set_new(j, "qr", json_string(qr));
    return j;
}

enum order_view { ORDER_VIEW_NONE, ORDER_VIEW_CHECKOUT, ORDER_VIEW_WHOLE };

struct order_cmd {
    struct mopay_http_command base;
    bool get;
    enum order_view view;
    struct mopay_id id;
    struct mopay_str amount_text, currency_text, reference, description, vat_text;
    int64_t expires_in;
    bool tax_free_given;
    const struct mopay_currency *currency;
    struct mopay_order_input in;
    struct mopay_order *order;
};

static enum mopay_err order_create_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    struct order_cmd *c = (struct order_cmd *)cmd;
    struct mopay_api *api = cmd->app;
    struct mopay_merchant *m = api_principal_merchant(api, mopay_http_principal(cmd->req));
    MOPAY_ASSERT(m != NULL); /* its key authenticated the request */
    if (c->currency != m->currency) {
        cmd->err_field = "/currency";
        cmd->err_detail = "an order is in the merchant's currency";
        return MOPAY_ERR_currency_mismatch;
    }
    struct api_need need = {.orders = 1, .events = 1, .merchant = m};
    enum mopay_err err = api_admit(api, cmd, &need);
    if (err == MOPAY_OK)
        err = mopay_order_create(api->merchant, store, now_ns, m, &c->in, &c->order);
    return err == MOPAY_OK ? api_order_created(api, now_ns, c->order) : err;
}

/* Who reads an order, and how much of it (SPEC section 6): its merchant and the operator all
 * of it, the customer who paid it all of it, any other customer holding its id only its
 * checkout view while it is open; nobody else learns that it exists. */
static bool order_paid_by(struct mopay_api *api, const struct mopay_principal *p, const struct mopay_order *o)
{
    if (o->status != MOPAY_ORDER_PAID)
        return false;
    const struct mopay_payment *x = mopay_pay_payment(api->pay, &o->payment_id);
    return x != NULL && x->customer != NULL && api_payment_visible(p, x);
}

static enum order_view order_view_of(struct mopay_api *api, const struct mopay_principal *p,
                                     const struct mopay_order *o, int64_t now_ns)
{
    switch (p->kind) {
    case MOPAY_PRINCIPAL_OPERATOR:
        return ORDER_VIEW_WHOLE;
    case MOPAY_PRINCIPAL_MERCHANT:
        return api_merchant_visible(api, p, &o->merchant->id) != NULL ? ORDER_VIEW_WHOLE : ORDER_VIEW_NONE;
    case MOPAY_PRINCIPAL_CUSTOMER:
        if (order_paid_by(api, p, o))
            return ORDER_VIEW_WHOLE;
        /* open and not yet past its expiry, which the tick may not have reached */
        return o->status == MOPAY_ORDER_OPEN && now_ns < o->expires_at_ns ? ORDER_VIEW_CHECKOUT : ORDER_VIEW_NONE;
    default:
        return ORDER_VIEW_NONE;
    }
}

/* What a payer sees before paying: never the merchant's reference, its id or the QR payload. */
static json_t *order_checkout_json(const struct mopay_order *o)
{
    const struct mopay_currency *c = o->merchant->currency;
    return json_pack("{s:o, s:s, s:o, s:s, s:s, s:s, s:o, s:s}", "id", api_id_json(MOPAY_ID_ORDER, &o->id),
                     "merchant_name", o->merchant->name, "amount", api_money_json(o->amount_minor, c), "currency",
                     c->alpha, "description", o->description, "status", mopay_order_status_name(o->status),
                     "expires_at", api_time_json(o->expires_at_ns), "view", "checkout");
}

static enum mopay_err order_get_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    (void)store;
    struct order_cmd *c = (struct order_cmd *)cmd;
    struct mopay_api *api = cmd->app;
    c->order = mopay_order_get(api->merchant, &c->id);
    c->view = c->order != NULL ? order_view_of(api, mopay_http_principal(cmd->req), c->order, now_ns)
                               : ORDER_VIEW_NONE;
    if (c->view == ORDER_VIEW_NONE) {
        cmd->err_detail = "no order has this id";
        return MOPAY_ERR_resource_not_found;
    }
    return MOPAY_OK;
}

static json_t *order_render(struct mopay_http_command *cmd, int *status)
{
    struct order_cmd *c = (struct order_cmd *)cmd;
    *status = c->get ? 200 : 201;
    if (c->get && c->view == ORDER_VIEW_CHECKOUT)
        return order_checkout_json(c->order);
    return api_order_json(cmd->app, c->order);
}

#define OC(m) offsetof(struct order_cmd, m)
static const struct mopay_json_field tax_free_fields[] = {
    {.name = "vat_amount", .kind = MOPAY_JSON_STRING, .required = true, .offset = OC(vat_text), .min_len = 1,
     .max_len = 32},
    {0},
};

const struct mopay_json_field api_order_fields[] = {
    {.name = "amount", .kind = MOPAY_JSON_STRING, .required = true, .offset = OC(amount_text), .min_len = 1,
     .max_len = 32},
    {.name = "currency", .kind = MOPAY_JSON_STRING, .required = true, .offset = OC(currency_text), .min_len = 1,
     .max_len = 8},
    {.name = "reference", .kind = MOPAY_JSON_STRING, .required = true, .offset = OC(reference), .min_len = 1,
     .max_len = 25},
    {.name = "description", .kind = MOPAY_JSON_STRING, .offset = OC(description),
     .max_len = MOPAY_DESCRIPTION_BYTES_MAX},
    {.name = "expires_in", .kind = MOPAY_JSON_INTEGER, .offset = OC(expires_in), .min = 1,
     .max = MOPAY_ORDER_TTL_S_MAX},
    {.name = "tax_free", .kind = MOPAY_JSON_OBJECT, .fields = tax_free_fields,
     .present = MOPAY_JSON_PRESENT(struct order_cmd, tax_free_given)},
    {0},
};

/* The reference goes into the QR code's additional data (25 characters at most there). */
static bool order_check(struct mopay_http_request *req, struct order_cmd *c)
{
    if (!api_amount_read(req, &c->amount_text, &c->currency_text, &c->currency, &c->in.amount_minor) ||
        !api_text_ok(req, &c->reference, "/reference") ||
        (c->description.ptr != NULL && !api_text_ok(req, &c->description, "/description")))
        return false;
    if (c->tax_free_given) {
        enum mopay_err err = mopay_money_parse(c->vat_text.ptr, c->vat_text.len, c->currency, 0, &c->in.vat_minor);
        if (err == MOPAY_OK && (c->in.vat_minor <= 0 || c->in.vat_minor >= c->in.amount_minor))
            err = MOPAY_ERR_field_invalid;
        if (err != MOPAY_OK) {
            mopay_http_reply_error(req, err, "/tax_free/vat_amount", "the VAT included: more than 0, less than the amount");
            return false;
        }
    }
    c->in.tax_free = c->tax_free_given;
    c->in.reference = c->reference.ptr;
    c->in.description = c->description.ptr != NULL ? c->description.ptr : "";
    c->in.expires_in_s = c->expires_in > 0 ? c->expires_in : 900;
    return true;
}

void api_orders_create(struct mopay_http_request *req)
{
    struct order_cmd *c = mopay_http_command_new(req, sizeof(*c), order_create_apply, order_render);
    if (c == NULL) {
        api_reply_oom(req);
        return;
    }
    if (mopay_http_json_read(req, mopay_http_body(req), api_order_fields, c) && order_check(req, c))
        mopay_http_submit(req, &c->base);
}

void api_order_get(struct mopay_http_request *req)
{
    struct order_cmd *c = mopay_http_command_new(req, sizeof(*c), order_get_apply, order_render);
    if (c == NULL) {
        api_reply_oom(req);
        return;
    }
    c->get = true;
    if (api_path_id(req, 0, MOPAY_ID_ORDER, &c->id))
        mopay_http_submit(req, &c->base);
}
