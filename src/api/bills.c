/* Bills: POST /v1/bills (operator or the biller), GET /v1/bills?biller_id=&reference=, and
 * POST /v1/bill-payments (customer), which goes through the payment pipeline and answers with a
 * receipt. */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/clock.h"

static json_t *bill_json(const struct mopay_bill *b)
{
    const struct mopay_currency *c = b->biller->currency;
    return json_pack("{s:o, s:o, s:s, s:s, s:o, s:o, s:s, s:o, s:b, s:s, s:o, s:o}", "id",
                     api_id_json(MOPAY_ID_BILL, &b->id), "biller_id", api_id_json(MOPAY_ID_MERCHANT, &b->biller->id),
                     "biller_name", b->biller->name, "reference", b->reference, "amount",
                     api_money_json(b->amount_minor, c), "amount_due", api_money_json(b->due_minor, c), "currency",
                     c->alpha, "due_date", api_time_json(b->due_at_ns), "partial_allowed", b->partial_allowed, "status",
                     mopay_bill_status_name(b->status), "created_at", api_time_json(b->created_at_ns), "paid_at",
                     api_time_json(b->paid_at_ns));
}

enum bill_op { BILL_CREATE, BILL_FIND, BILL_PAY };

struct bill_cmd {
    struct mopay_http_command base;
    enum bill_op op;
    struct mopay_id biller_id, wallet_id;
    bool biller_given, wallet_given, partial_allowed;
    struct mopay_str biller_text, reference, amount, due_text, wallet_text;
    char reference_copy[MOPAY_BILL_REFERENCE_BYTES_MAX + 1];
    int64_t due_at_ns;
    struct mopay_bill *bill;
    struct mopay_payment *payment;
};

/* The biller: named, or the merchant principal itself. */
static struct mopay_merchant *bill_biller(struct mopay_api *api, struct bill_cmd *c)
{
    const struct mopay_principal *p = mopay_http_principal(c->base.req);
    struct mopay_merchant *m = p->kind == MOPAY_PRINCIPAL_MERCHANT ? api_principal_merchant(api, p)
                                                                    : mopay_merchant_get(api->merchant, &c->biller_id);
    if (m != NULL && p->kind == MOPAY_PRINCIPAL_MERCHANT && c->biller_given && memcmp(&m->id, &c->biller_id, 16) != 0)
        return NULL; /* a biller loads its own bills */
    return m;
}

/* A bill payment: the pipeline, then the bill. */
static enum mopay_err bill_pay_apply(struct mopay_api *api, struct bill_cmd *c, struct mopay_store *store, int64_t now_ns)
{
    int64_t amount = c->bill->due_minor;
    if (c->amount.ptr != NULL) {
        enum mopay_err err = mopay_money_parse(c->amount.ptr, c->amount.len, c->bill->biller->currency, 0, &amount);
        if (err != MOPAY_OK) {
            c->base.err_field = "/amount";
            return err;
        }
    }
    enum mopay_err err = mopay_bill_payable(c->bill, amount);
    if (err != MOPAY_OK) {
        c->base.err_field = err == MOPAY_ERR_bill_amount_invalid ? "/amount" : NULL;
        return err;
    }
    struct mopay_pay_request req = {.customer = api_principal_customer(api, mopay_http_principal(c->base.req)),
                                    .merchant = c->bill->biller,
                                    .method = MOPAY_PAY_BILL,
                                    .amount_minor = amount,
                                    .reference = c->bill->reference,
                                    .pin_verified = true, /* bills are paid to known billers: no step-up */
                                    .bill = c->bill};
    if (c->wallet_given) {
        req.wallet = mopay_wallet_get(api->wallet, &c->wallet_id);
        if (req.wallet == NULL || req.wallet->customer != req.customer) {
            c->base.err_field = "/wallet_id";
            return MOPAY_ERR_wallet_not_found;
        }
    }
    struct api_need need = {.payments = 1, .events = 2, .merchant = req.merchant};
    if ((err = api_admit(api, &c->base, &need)) != MOPAY_OK)
        return err; /* its webhooks go last, after its other writes */
    return mopay_pay_execute(api->pay, store, now_ns, &req, &c->payment);
}

static enum mopay_err bill_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    struct bill_cmd *c = (struct bill_cmd *)cmd;
    struct mopay_api *api = cmd->app;
    struct mopay_merchant *biller = bill_biller(api, c);
    if (biller == NULL || biller->kind != MOPAY_MERCHANT_BILLER) {
        cmd->err_field = "/biller_id";
        return biller == NULL ? MOPAY_ERR_resource_not_found : MOPAY_ERR_not_a_biller;
    }
    if (c->op == BILL_CREATE) {
        int64_t amount = 0;
        enum mopay_err err = mopay_money_parse(c->amount.ptr, c->amount.len, biller->currency, 0, &amount);
        if (err == MOPAY_OK && amount == 0)
            err = MOPAY_ERR_amount_invalid;
        if (err != MOPAY_OK) {
            cmd->err_field = "/amount";
            return err;
        }
        return mopay_bill_create(api->merchant, store, now_ns, biller, c->reference_copy, amount, c->due_at_ns,
                                 c->partial_allowed, &c->bill);
    }
    c->bill = mopay_bill_find(api->merchant, biller, c->reference_copy);
    if (c->bill == NULL) {
        cmd->err_detail = "the biller has no bill under this reference";
        return MOPAY_ERR_resource_not_found;
    }
    return c->op == BILL_PAY ? bill_pay_apply(api, c, store, now_ns) : MOPAY_OK;
}

static json_t *bill_render(struct mopay_http_command *cmd, int *status)
{
    struct bill_cmd *c = (struct bill_cmd *)cmd;
    *status = c->op == BILL_FIND ? 200 : 201;
    if (c->op != BILL_PAY)
        return bill_json(c->bill);
    /* the receipt */
    return json_pack("{s:o, s:o, s:o}", "receipt_id", api_id_json(MOPAY_ID_PAYMENT, &c->payment->id), "payment",
                     api_payment_json(c->payment), "bill", bill_json(c->bill));
}

#define BC(m) offsetof(struct bill_cmd, m)
const struct mopay_json_field api_bill_fields[] = {
    {.name = "biller_id", .kind = MOPAY_JSON_STRING, .offset = BC(biller_text), .min_len = 1, .max_len = 40,
     .present = MOPAY_JSON_PRESENT(struct bill_cmd, biller_given)},
    {.name = "reference", .kind = MOPAY_JSON_STRING, .required = true, .offset = BC(reference), .min_len = 1,
     .max_len = MOPAY_BILL_REFERENCE_BYTES_MAX},
    {.name = "amount", .kind = MOPAY_JSON_STRING, .required = true, .offset = BC(amount), .min_len = 1, .max_len = 32},
    {.name = "due_date", .kind = MOPAY_JSON_STRING, .required = true, .offset = BC(due_text), .min_len = 1,
     .max_len = 40},
    {.name = "partial_allowed", .kind = MOPAY_JSON_BOOL, .offset = BC(partial_allowed)},
    {0},
};

const struct mopay_json_field api_bill_pay_fields[] = {
    {.name = "biller_id", .kind = MOPAY_JSON_STRING, .required = true, .offset = BC(biller_text), .min_len = 1,
     .max_len = 40, .present = MOPAY_JSON_PRESENT(struct bill_cmd, biller_given)},
    {.name = "reference", .kind = MOPAY_JSON_STRING, .required = true, .offset = BC(reference), .min_len = 1,
     .max_len = MOPAY_BILL_REFERENCE_BYTES_MAX},
    {.name = "amount", .kind = MOPAY_JSON_STRING, .offset = BC(amount), .min_len = 1, .max_len = 32},
    {.name = "wallet_id", .kind = MOPAY_JSON_STRING, .offset = BC(wallet_text), .min_len = 1, .max_len = 40,
     .present = MOPAY_JSON_PRESENT(struct bill_cmd, wallet_given)},
    {0},
};

static struct bill_cmd *bill_cmd_new(struct mopay_http_request *req, enum bill_op op)
{
    struct bill_cmd *c = mopay_http_command_new(req, sizeof(*c), bill_apply, bill_render);
    if (c == NULL)
        api_reply_oom(req);
    else
        c->op = op;
    return c;
}

/* The biller id when given (the operator must give it), and the reference as text. */
static bool bill_names(struct mopay_http_request *req, struct bill_cmd *c, const struct mopay_str *reference)
{
    if (c->biller_text.ptr == NULL && api_is_operator(req)) {
        mopay_http_reply_error(req, MOPAY_ERR_field_missing, "/biller_id", "the operator names the biller");
        return false;
    }
    if (c->biller_text.ptr != NULL && !api_body_id(req, &c->biller_text, MOPAY_ID_MERCHANT, "/biller_id", &c->biller_id))
        return false;
    c->biller_given = c->biller_text.ptr != NULL;
    if (!api_text_ok(req, reference, "/reference")) /* its length the field spec checked */
        return false;
    memcpy(c->reference_copy, reference->ptr, reference->len + 1);
    return true;
}

void api_bills_create(struct mopay_http_request *req)
{
    struct bill_cmd *c = bill_cmd_new(req, BILL_CREATE);
    if (c == NULL || !mopay_http_json_read(req, mopay_http_body(req), api_bill_fields, c) || !bill_names(req, c, &c->reference))
        return;
    if (mopay_time_parse(c->due_text.ptr, c->due_text.len, &c->due_at_ns) != MOPAY_OK) {
        mopay_http_reply_error(req, MOPAY_ERR_field_invalid, "/due_date", "an RFC 3339 time");
        return;
    }
    mopay_http_submit(req, &c->base);
}

void api_bills_find(struct mopay_http_request *req)
{
    struct bill_cmd *c = bill_cmd_new(req, BILL_FIND);
    if (c == NULL)
        return;
    size_t len = 0;
    bool bad = false;
    const char *biller = mopay_http_query(req, "biller_id", &len, &bad);
    if (biller == NULL || mopay_id_parse(MOPAY_ID_MERCHANT, biller, len, &c->biller_id) != MOPAY_OK) {
        mopay_http_reply_error(req, MOPAY_ERR_query_invalid, NULL, "biller_id=mch_... and reference= are needed");
        return;
    }
    c->biller_given = true;
    struct mopay_str reference = {.ptr = mopay_http_query(req, "reference", &reference.len, &bad)};
    if (bad || reference.ptr == NULL || reference.len == 0 || reference.len > MOPAY_BILL_REFERENCE_BYTES_MAX) {
        mopay_http_reply_error(req, MOPAY_ERR_query_invalid, NULL, "reference= is 1 to 32 characters");
        return;
    }
    memcpy(c->reference_copy, reference.ptr, reference.len + 1);
    mopay_http_submit(req, &c->base);
}

void api_bill_payments_create(struct mopay_http_request *req)
{
    struct bill_cmd *c = bill_cmd_new(req, BILL_PAY);
    if (c == NULL || !mopay_http_json_read(req, mopay_http_body(req), api_bill_pay_fields, c) ||
        !bill_names(req, c, &c->reference) ||
        (c->wallet_given && !api_body_id(req, &c->wallet_text, MOPAY_ID_WALLET, "/wallet_id", &c->wallet_id)))
        return;
    mopay_http_submit(req, &c->base);
}
