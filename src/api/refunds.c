/* GET /v1/payments/{id}, POST /v1/payments/{id}/confirm, POST /v1/refunds, GET /v1/refunds/{id}. */
#include "internal.h"
#include "mopay/assert.h"

json_t *api_refund_json(const struct mopay_refund *r)
{
    const struct mopay_currency *c = r->payment->merchant->currency;
    return json_pack("{s:o, s:o, s:s, s:o, s:s, s:o, s:s, s:o}", "id", api_id_json(MOPAY_ID_REFUND, &r->id),
                     "payment_id", api_id_json(MOPAY_ID_PAYMENT, &r->payment->id), "status", "succeeded", "amount",
                     api_money_json(r->amount_minor, c), "currency", c->alpha, "fee_returned",
                     api_money_json(r->fee_returned_minor, c), "reason", r->reason, "created_at",
                     api_time_json(r->created_at_ns));
}

enum payment_op { PAYMENT_GET, PAYMENT_CONFIRM, REFUND_CREATE, REFUND_GET };

struct payment_op_cmd {
    struct mopay_http_command base;
    enum payment_op op;
    struct mopay_id id;
    struct mopay_str payment_text, amount_text, reason, pin;
    int64_t amount_minor;
    bool pin_ok;
    enum mopay_err refusal; /* a wrong PIN, counted */
    struct mopay_payment *payment;
    struct mopay_refund *refund;
};

/* The amount is read here, where the payment's currency is known. */
static enum mopay_err refund_create(struct mopay_api *api, struct mopay_store *store, int64_t now_ns,
                                    struct payment_op_cmd *c)
{
    struct api_need need = {.events = 1, .merchant = c->payment->merchant};
    enum mopay_err room = api_admit(api, &c->base, &need); /* its webhook goes last, after its other writes */
    if (room != MOPAY_OK)
        return room;
    if (c->amount_text.ptr != NULL) {
        enum mopay_err err = mopay_money_parse(c->amount_text.ptr, c->amount_text.len, c->payment->merchant->currency, 0,
                                               &c->amount_minor);
        if (err == MOPAY_OK && c->amount_minor == 0)
            err = MOPAY_ERR_amount_invalid;
        if (err != MOPAY_OK) {
            c->base.err_field = "/amount";
            c->base.err_detail = "a positive decimal string in the payment's currency";
            return err;
        }
    }
    enum mopay_err err = mopay_pay_refund(api->pay, store, now_ns, c->payment, c->amount_minor,
                                          c->reason.ptr != NULL ? c->reason.ptr : "", &c->refund);
    if (err == MOPAY_ERR_refund_exceeds_payment)
        c->base.err_field = "/amount";
    return err;
}

static enum mopay_err payment_op_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    struct payment_op_cmd *c = (struct payment_op_cmd *)cmd;
    struct mopay_api *api = cmd->app;
    const struct mopay_principal *p = mopay_http_principal(cmd->req);
    if (c->op == REFUND_GET) {
        c->refund = mopay_pay_refund_get(api->pay, &c->id);
        c->payment = c->refund != NULL ? c->refund->payment : NULL;
    } else {
        c->payment = mopay_pay_payment(api->pay, &c->id);
    }
    if (c->payment == NULL || !api_payment_visible(p, c->payment)) {
        cmd->err_detail = "nothing with this id";
        cmd->err_field = c->op == REFUND_CREATE ? "/payment_id" : NULL;
        return MOPAY_ERR_resource_not_found;
    }
    switch (c->op) {
    case PAYMENT_CONFIRM: {
        struct api_need need = {.events = 2, .merchant = c->payment->merchant};
        if (api_admit(api, cmd, &need) != MOPAY_OK)
            return MOPAY_ERR_capacity_exhausted;
        enum mopay_err err =
            api_pin_attempt(api, store, now_ns, c->payment->customer, &c->pin, c->pin_ok, &c->refusal);
        if (err != MOPAY_OK || c->refusal != MOPAY_OK)
            return err; /* a wrong PIN's count stands; the render says it was wrong */
        return mopay_pay_confirm(api->pay, store, now_ns, c->payment);
    }
    case REFUND_CREATE:
        return refund_create(api, store, now_ns, c);
    default:
        return MOPAY_OK;
    }
}

static json_t *payment_op_render(struct mopay_http_command *cmd, int *status)
{
    struct payment_op_cmd *c = (struct payment_op_cmd *)cmd;
    if (c->refusal != MOPAY_OK)
        return api_pin_refusal(cmd, c->refusal, status);
    *status = c->op == REFUND_CREATE ? 201 : 200;
    return c->op == REFUND_CREATE || c->op == REFUND_GET ? api_refund_json(c->refund)
                                                         : api_payment_json_full(cmd->app, c->payment);
}

static struct payment_op_cmd *payment_op_new(struct mopay_http_request *req, enum payment_op op)
{
    struct payment_op_cmd *c = mopay_http_command_new(req, sizeof(*c), payment_op_apply, payment_op_render);
    if (c == NULL)
        api_reply_oom(req);
    else
        c->op = op;
    return c;
}

void api_payment_get(struct mopay_http_request *req)
{
    struct payment_op_cmd *c = payment_op_new(req, PAYMENT_GET);
    if (c != NULL && api_path_id(req, 0, MOPAY_ID_PAYMENT, &c->id))
        mopay_http_submit(req, &c->base);
}

void api_refund_get(struct mopay_http_request *req)
{
    struct payment_op_cmd *c = payment_op_new(req, REFUND_GET);
    if (c != NULL && api_path_id(req, 0, MOPAY_ID_REFUND, &c->id))
        mopay_http_submit(req, &c->base);
}

const struct mopay_json_field api_refund_fields[] = {
    {.name = "payment_id", .kind = MOPAY_JSON_STRING, .required = true,
     .offset = offsetof(struct payment_op_cmd, payment_text), .min_len = 1, .max_len = 40},
    {.name = "amount", .kind = MOPAY_JSON_STRING, .offset = offsetof(struct payment_op_cmd, amount_text),
     .min_len = 1, .max_len = 32},
    {.name = "reason", .kind = MOPAY_JSON_STRING, .offset = offsetof(struct payment_op_cmd, reason),
     .max_len = MOPAY_DESCRIPTION_BYTES_MAX},
    {0},
};

void api_refunds_create(struct mopay_http_request *req)
{
    struct payment_op_cmd *c = payment_op_new(req, REFUND_CREATE);
    if (c == NULL || !mopay_http_json_read(req, mopay_http_body(req), api_refund_fields, c) ||
        !api_body_id(req, &c->payment_text, MOPAY_ID_PAYMENT, "/payment_id", &c->id) ||
        (c->reason.ptr != NULL && !api_text_ok(req, &c->reason, "/reason")))
        return;
    mopay_http_submit(req, &c->base);
}

/* --- confirm: the PIN is checked off the loop, like a login's (pin.c) --- */

const struct mopay_json_field api_confirm_fields[] = {
    {.name = "pin", .kind = MOPAY_JSON_STRING, .required = true, .offset = offsetof(struct payment_op_cmd, pin),
     .min_len = 1, .max_len = 16},
    {0},
};

void api_payment_confirm(struct mopay_http_request *req)
{
    struct payment_op_cmd *c = payment_op_new(req, PAYMENT_CONFIRM);
    if (c == NULL || !api_path_id(req, 0, MOPAY_ID_PAYMENT, &c->id) ||
        !mopay_http_json_read(req, mopay_http_body(req), api_confirm_fields, c))
        return;
    api_submit_with_pin(req, &c->base, &c->pin, &c->pin_ok); /* the field is required: always checked */
}
