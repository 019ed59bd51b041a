/* POST /v1/payments: one endpoint, four ways in, one pipeline (mopay/pay.h).
 *   the customer scans a merchant's QR   {qr, amount?, tip?, wallet_id?}
 *   the customer pays an order online    {order_id, wallet_id?}
 *   the merchant scans a payment code    {payment_code, amount, currency, reference}
 *   the merchant's NFC terminal          {nfc: {token, atc, amount, currency, unpredictable_number, cryptogram}}
 * The handler works out, on its loop, everything the request itself says (the QR is decoded and
 * checked there); the command resolves what needs the state (merchant, order, device) and runs
 * the pipeline on the sequencer. */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/cpm.h"
#include "mopay/log.h"
#include "mopay/paycode.h"
#include "mopay/qr.h"
#include "mopay/text.h"

json_t *api_payment_json(const struct mopay_payment *x)
{
    const struct mopay_currency *c = x->merchant->currency;
    json_t *j = json_pack("{s:o, s:s, s:s, s:o, s:o, s:o, s:s, s:o, s:o, s:o, s:s, s:o}", "id",
                          api_id_json(MOPAY_ID_PAYMENT, &x->id), "status", mopay_payment_status_name(x->status),
                          "method", mopay_payment_method_name(x->method), "merchant_id",
                          api_id_json(MOPAY_ID_MERCHANT, &x->merchant->id), "customer_id",
                          api_id_json(MOPAY_ID_CUSTOMER, &x->customer->id), "amount",
                          api_money_json(x->amount_minor, c), "currency", c->alpha, "tip",
                          api_money_json(x->tip_minor, c), "fee", api_money_json(x->fee_minor, c), "refunded",
                          api_money_json(x->refunded_minor, c), "merchant_name", x->merchant->name, "created_at",
                          api_time_json(x->created_at_ns));
    if (x->wallet != NULL)
        json_object_set_new(j, "wallet_id", api_id_json(MOPAY_ID_WALLET, &x->wallet->id));
    if (x->order != NULL)
        json_object_set_new(j, "order_id", api_id_json(MOPAY_ID_ORDER, &x->order->id));
    if (x->reference[0] != '\0')
        json_object_set_new(j, "reference", json_string(x->reference));
    if (x->coupon != NULL) {
        json_object_set_new(j, "coupon_id", api_id_json(MOPAY_ID_COUPON, &x->coupon->id));
        json_object_set_new(j, "discount", api_money_json(x->discount_minor, c));
    }
    if (x->fx.wallet_minor != 0) {
        char rate[MOPAY_FX_RATE_TEXT_BYTES];
        mopay_fx_rate_format((struct mopay_fx_rate){x->fx.rate_units}, rate);
        json_object_set_new(j, "fx", json_pack("{s:o, s:s, s:o}", "quote_id", api_id_json(MOPAY_ID_QUOTE, &x->fx.quote_id),
                                               "rate", rate, "fee", api_money_json(x->fx.fx_fee_minor, x->wallet->currency)));
    }
    if (x->wallet != NULL) {
        json_object_set_new(j, "wallet_amount", api_money_json(mopay_payment_wallet_amount(x), x->wallet->currency));
        json_object_set_new(j, "wallet_currency", json_string(x->wallet->currency->alpha));
    }
    if (x->status == MOPAY_PAYMENT_DECLINED)
        json_object_set_new(j, "decline_code", json_string(x->decline_code));
    if (x->status == MOPAY_PAYMENT_REQUIRES_CONFIRMATION)
        json_object_set_new(j, "confirm_by", api_time_json(x->confirm_by_ns));
    return j;
}

/* The payment with its tax-free form, when it has one. */
json_t *api_payment_json_full(struct mopay_api *api, const struct mopay_payment *x)
{
    json_t *j = api_payment_json(x);
    const struct mopay_tax_form *f = mopay_tax_form(api->tax, &x->id);
    if (f != NULL)
        json_object_set_new(j, "tax_free_form", api_tax_form_json(f));
    return j;
}

/* Who can see a payment: the operator, its merchant, its customer. */
bool api_payment_visible(const struct mopay_principal *p, const struct mopay_payment *x)
{
    char id[MOPAY_ID_TEXT_BYTES];
    if (p->kind == MOPAY_PRINCIPAL_OPERATOR)
        return true;
    if (p->kind == MOPAY_PRINCIPAL_MERCHANT)
        mopay_id_format(MOPAY_ID_MERCHANT, &x->merchant->id, id);
    else
        mopay_id_format(MOPAY_ID_CUSTOMER, &x->customer->id, id);
    return strcmp(p->id, id) == 0;
}

enum payment_way { WAY_QR, WAY_ORDER, WAY_CODE, WAY_NFC };

struct payment_cmd {
    struct mopay_http_command base;
    /* the body */
    struct mopay_str qr_text, amount_text, tip_text, wallet_text, order_text, code_text, currency_text, reference,
        coupon_text, quote_text, terminal_text;
    struct mopay_str nfc_token, nfc_amount, nfc_currency, nfc_un, nfc_cryptogram;
    int64_t nfc_atc;
    bool nfc_given, wallet_given, coupon_given, quote_given;
    struct mopay_id coupon_id, quote_id;
    struct mopay_pay_fx fx;
    struct mopay_quote *quote;
    /* what the handler worked out */
    enum payment_way way;
    struct mopay_id merchant_id, order_id, wallet_id;
    bool order_given, dynamic;
    const struct mopay_currency *currency;
    int64_t amount_minor, tip_minor;
    char reference_text[MOPAY_REFERENCE_BYTES_MAX + 1];
    char code[MOPAY_PAYCODE_BYTES];
    struct mopay_nfc_tap tap;
    uint8_t cryptogram[MOPAY_NFC_CRYPTOGRAM_BYTES];
    /* resolved on the sequencer, spent with the payment */
    struct mopay_device *device;
    int64_t code_step;
    struct mopay_nfc_token *token;
    /* the result */
    struct mopay_payment *payment;
};

/* A terminal newly throttled for wrong codes: one line for the operator, once per spell (the
 * terminal id is checked to hold only safe characters, terminal_id_read). */
static void guessing_log(struct mopay_api *api, const struct mopay_merchant *m, const char *terminal,
                         const struct mopay_risk_guess_stats *before)
{
    struct mopay_risk_guess_stats after;
    mopay_risk_guessing_stats(mopay_pay_guessing(api->pay), &after);
    if (after.alerts == before->alerts)
        return;
    char id[MOPAY_ID_TEXT_BYTES];
    mopay_id_format(MOPAY_ID_MERCHANT, &m->id, id);
    MOPAY_LOG_WARN("merchant terminal throttled for wrong payment codes", "merchant_id=%s terminal_id=\"%s\"", id,
                   terminal);
}

/* A payment code or a tap: the device, and so the customer, that pays; the merchant is the
 * one whose key sent it. Checks only: the code or counter is spent with the payment. */
static enum mopay_err resolve_instrument(struct mopay_api *api, struct payment_cmd *c, int64_t now_ns,
                                         struct mopay_pay_request *req)
{
    struct mopay_http_command *cmd = &c->base;
    req->merchant = api_principal_merchant(api, mopay_http_principal(cmd->req));
    MOPAY_ASSERT(req->merchant != NULL); /* its key authenticated the request */
    if (c->currency != req->merchant->currency) {
        cmd->err_field = c->way == WAY_NFC ? "/nfc/currency" : "/currency";
        return MOPAY_ERR_currency_mismatch;
    }
    enum mopay_err err;
    struct mopay_pay_terminal who = {.merchant = req->merchant,
                                     .terminal_id = c->terminal_text.ptr != NULL ? c->terminal_text.ptr : ""};
    struct mopay_risk_guess_stats before;
    mopay_risk_guessing_stats(mopay_pay_guessing(api->pay), &before);
    if (c->way == WAY_CODE) {
        err = mopay_pay_code_check(api->pay, now_ns, &who, c->code, MOPAY_PAYCODE_DIGITS, &c->device, &c->code_step);
        cmd->err_field = "/payment_code";
    } else {
        memcpy(c->tap.merchant_id, req->merchant->id.bytes, MOPAY_NFC_MERCHANT_ID_BYTES);
        err = mopay_pay_nfc_check(api->pay, now_ns, &who, c->nfc_token.ptr, &c->tap, c->cryptogram, &c->token);
        c->device = c->token != NULL ? c->token->device : NULL;
        cmd->err_field = "/nfc";
    }
    if (err == MOPAY_ERR_rate_limited) {
        cmd->err_field = c->terminal_text.ptr != NULL ? "/terminal_id" : NULL;
        cmd->err_detail = "this terminal submitted too many wrong codes; it may try again after Retry-After";
        cmd->retry_after_s = who.retry_after_s;
        guessing_log(api, req->merchant, who.terminal_id, &before);
    }
    if (err != MOPAY_OK)
        return err;
    cmd->err_field = NULL;
    req->customer = c->device->customer;
    req->method = c->way == WAY_CODE ? MOPAY_PAY_PAYMENT_CODE : MOPAY_PAY_NFC;
    req->amount_minor = c->amount_minor;
    req->reference = c->reference_text;
    return MOPAY_OK;
}

/* A code or tap that made a payment (succeeded, declined or waiting) cannot make another. */
static enum mopay_err spend_instrument(struct mopay_api *api, struct mopay_store *store, struct payment_cmd *c,
                                       int64_t now_ns)
{
    if (c->way == WAY_CODE)
        return mopay_pay_code_spend(api->pay, store, now_ns, c->device, c->code_step);
    if (c->way == WAY_NFC)
        return mopay_pay_nfc_spend(api->pay, store, now_ns, c->token, c->tap.atc);
    return MOPAY_OK;
}

/* The merchant and order a QR payment or an online payment names, checked against the state. */
static enum mopay_err resolve_merchant(struct mopay_api *api, struct payment_cmd *c, int64_t now_ns,
                                       struct mopay_pay_request *req)
{
    struct mopay_http_command *cmd = &c->base;
    if (c->order_given) {
        req->order = mopay_order_get(api->merchant, &c->order_id);
        bool mine = req->order != NULL && (c->way == WAY_ORDER || memcmp(&req->order->merchant->id, &c->merchant_id,
                                                                         sizeof(c->merchant_id)) == 0);
        if (!mine) {
            cmd->err_field = c->way == WAY_ORDER ? "/order_id" : "/qr";
            return c->way == WAY_ORDER ? MOPAY_ERR_resource_not_found : MOPAY_ERR_qr_not_payable;
        }
        enum mopay_err err = mopay_order_payable(req->order, now_ns);
        if (err != MOPAY_OK)
            return err;
        if (c->way == WAY_QR && req->order->amount_minor + c->tip_minor != c->amount_minor) {
            cmd->err_field = "/qr";
            return MOPAY_ERR_amount_mismatch;
        }
        req->merchant = req->order->merchant;
        req->amount_minor = c->way == WAY_ORDER ? req->order->amount_minor : c->amount_minor;
        req->reference = req->order->reference;
        return MOPAY_OK;
    }
    req->merchant = mopay_merchant_get(api->merchant, &c->merchant_id);
    if (req->merchant == NULL || req->merchant->currency != c->currency) {
        cmd->err_field = "/qr";
        cmd->err_detail = "the QR code names no mopay merchant, or not in the merchant's currency";
        return MOPAY_ERR_qr_not_payable;
    }
    req->amount_minor = c->amount_minor;
    req->reference = c->reference_text;
    return MOPAY_OK;
}

/* The wallet a customer pays from: named, the one its quote sells from, the one in the
 * merchant's currency, or else its first (its home wallet). */
static struct mopay_wallet *payer_wallet(struct mopay_api *api, struct payment_cmd *c,
                                         const struct mopay_pay_request *req)
{
    if (c->wallet_given) {
        struct mopay_wallet *w = mopay_wallet_get(api->wallet, &c->wallet_id);
        return w != NULL && w->customer == req->customer ? w : NULL;
    }
    if (c->quote != NULL)
        return mopay_wallet_of(req->customer, c->quote->q.sell);
    struct mopay_wallet *same = mopay_wallet_of(req->customer, req->merchant->currency);
    return same != NULL || req->customer->wallet_count == 0 ? same : req->customer->wallets[0];
}

/* Across currencies, the payment runs at a quote's rate: the one named, or one made on the spot
 * for exactly the customer's share, which the result shows. */
static enum mopay_err fx_apply(struct mopay_api *api, struct mopay_store *store, struct payment_cmd *c,
                               int64_t now_ns, struct mopay_pay_request *req)
{
    const struct mopay_currency *sell = req->wallet->currency, *buy = req->merchant->currency;
    int64_t share = req->amount_minor - req->discount_minor;
    enum mopay_err err = MOPAY_OK;
    c->base.err_field = "/quote_id";
    if (c->quote != NULL)
        err = mopay_quote_usable(c->quote, req->customer, sell, buy, share, now_ns);
    else if (sell != buy)
        err = mopay_quote_create(api->quotes, store, now_ns, req->customer, sell, buy, 0, share, 0, &c->quote);
    if (err != MOPAY_OK || sell == buy)
        return err;
    c->base.err_field = NULL;
    c->fx = (struct mopay_pay_fx){.quote_id = c->quote->id, .rate_units = c->quote->q.rate.units,
                                  .wallet_minor = c->quote->q.sell_minor, .fx_fee_minor = c->quote->q.fee_minor};
    req->fx = &c->fx;
    return MOPAY_OK;
}

/* The coupon's discount on the amount before any tip. */
static enum mopay_err coupon_apply(struct mopay_api *api, struct payment_cmd *c, int64_t now_ns,
                                   struct mopay_pay_request *req)
{
    c->base.err_field = "/coupon_id";
    req->coupon = mopay_coupon_get(api->offers, &c->coupon_id);
    if (req->coupon == NULL)
        return MOPAY_ERR_coupon_not_usable;
    enum mopay_err err = mopay_coupon_discount(req->coupon, req->customer, req->merchant,
                                               req->amount_minor - req->tip_minor, now_ns, &req->discount_minor);
    if (err != MOPAY_OK)
        return err;
    c->base.err_field = NULL;
    return MOPAY_OK;
}

static enum mopay_err payment_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    struct payment_cmd *c = (struct payment_cmd *)cmd;
    struct mopay_api *api = cmd->app;
    struct mopay_pay_request req;
    memset(&req, 0, sizeof(req));
    enum mopay_err err;
    if (c->way == WAY_CODE || c->way == WAY_NFC) {
        err = resolve_instrument(api, c, now_ns, &req);
    } else {
        req.customer = api_principal_customer(api, mopay_http_principal(cmd->req));
        MOPAY_ASSERT(req.customer != NULL); /* its session authenticated the request */
        req.method = c->way == WAY_ORDER ? MOPAY_PAY_ONLINE
                     : c->dynamic        ? MOPAY_PAY_QR_DYNAMIC
                                         : MOPAY_PAY_QR_STATIC;
        req.tip_minor = c->tip_minor;
        err = resolve_merchant(api, c, now_ns, &req);
    }
    if (err != MOPAY_OK)
        return err;
    /* another customer's quote answers as an unknown one: its id tells the payer nothing */
    if (c->quote_given && ((c->quote = mopay_quote_get(api->quotes, &c->quote_id)) == NULL ||
                           c->quote->customer != req.customer)) {
        c->quote = NULL;
        cmd->err_field = "/quote_id";
        cmd->err_detail = "no quote has this id";
        return MOPAY_ERR_resource_not_found;
    }
    if ((req.wallet = payer_wallet(api, c, &req)) == NULL) {
        cmd->err_field = c->wallet_given ? "/wallet_id" : NULL;
        return MOPAY_ERR_wallet_not_found;
    }
    /* everything above only reads: the payment, a quote made on the spot, and the webhooks (which
     * go last, after its other writes) must all fit before anything changes */
    struct api_need need = {.payments = 1, .events = 2, .merchant = req.merchant,
                            .quotes = c->quote == NULL && req.wallet->currency != req.merchant->currency};
    if ((err = api_admit(api, cmd, &need)) != MOPAY_OK)
        return err;
    if ((err = api_share_check(api, api->decline_share, req.customer, cmd, now_ns,
                               "too many of this customer's payments were declined in the last hour "
                               "(--declines-per-customer-max)")) != MOPAY_OK)
        return err;
    if (c->coupon_given && (err = coupon_apply(api, c, now_ns, &req)) != MOPAY_OK)
        return err;
    if ((err = fx_apply(api, store, c, now_ns, &req)) != MOPAY_OK)
        return err;
    err = mopay_pay_execute(api->pay, store, now_ns, &req, &c->payment);
    if (err == MOPAY_OK && c->payment->status == MOPAY_PAYMENT_DECLINED) /* kept in memory, moved nothing */
        api_share_take(api->decline_share, req.customer, now_ns);
    if (err == MOPAY_OK && c->quote != NULL && c->payment->status != MOPAY_PAYMENT_DECLINED)
        err = mopay_quote_use(api->quotes, store, now_ns, c->quote, &c->payment->id);
    return err == MOPAY_OK ? spend_instrument(api, store, c, now_ns) : err;
}

static json_t *payment_render(struct mopay_http_command *cmd, int *status)
{
    struct payment_cmd *c = (struct payment_cmd *)cmd;
    *status = 201;
    return api_payment_json_full(cmd->app, c->payment);
}

#define PC(m) offsetof(struct payment_cmd, m)
static const struct mopay_json_field nfc_fields[] = {
    {.name = "token", .kind = MOPAY_JSON_STRING, .required = true, .offset = PC(nfc_token), .min_len = 1,
     .max_len = 32},
    {.name = "atc", .kind = MOPAY_JSON_INTEGER, .required = true, .offset = PC(nfc_atc), .min = 1, .max = 65535},
    {.name = "amount", .kind = MOPAY_JSON_STRING, .required = true, .offset = PC(nfc_amount), .min_len = 1,
     .max_len = 32},
    {.name = "currency", .kind = MOPAY_JSON_STRING, .required = true, .offset = PC(nfc_currency), .min_len = 1,
     .max_len = 8},
    {.name = "unpredictable_number", .kind = MOPAY_JSON_STRING, .required = true, .offset = PC(nfc_un),
     .min_len = 8, .max_len = 8},
    {.name = "cryptogram", .kind = MOPAY_JSON_STRING, .required = true, .offset = PC(nfc_cryptogram),
     .min_len = 16, .max_len = 16},
    {0},
};

const struct mopay_json_field api_payment_fields[] = {
    {.name = "qr", .kind = MOPAY_JSON_STRING, .offset = PC(qr_text), .min_len = 1,
     .max_len = MOPAY_QR_PAYLOAD_BYTES_MAX},
    {.name = "order_id", .kind = MOPAY_JSON_STRING, .offset = PC(order_text), .min_len = 1, .max_len = 40},
    {.name = "payment_code", .kind = MOPAY_JSON_STRING, .offset = PC(code_text), .min_len = 1, .max_len = 512},
    {.name = "nfc", .kind = MOPAY_JSON_OBJECT, .fields = nfc_fields,
     .present = MOPAY_JSON_PRESENT(struct payment_cmd, nfc_given)},
    {.name = "amount", .kind = MOPAY_JSON_STRING, .offset = PC(amount_text), .min_len = 1, .max_len = 32},
    {.name = "currency", .kind = MOPAY_JSON_STRING, .offset = PC(currency_text), .min_len = 1, .max_len = 8},
    {.name = "tip", .kind = MOPAY_JSON_STRING, .offset = PC(tip_text), .min_len = 1, .max_len = 32},
    {.name = "reference", .kind = MOPAY_JSON_STRING, .offset = PC(reference), .max_len = 25},
    {.name = "wallet_id", .kind = MOPAY_JSON_STRING, .offset = PC(wallet_text), .min_len = 1, .max_len = 40,
     .present = MOPAY_JSON_PRESENT(struct payment_cmd, wallet_given)},
    {.name = "coupon_id", .kind = MOPAY_JSON_STRING, .offset = PC(coupon_text), .min_len = 1, .max_len = 40,
     .present = MOPAY_JSON_PRESENT(struct payment_cmd, coupon_given)},
    {.name = "quote_id", .kind = MOPAY_JSON_STRING, .offset = PC(quote_text), .min_len = 1, .max_len = 40,
     .present = MOPAY_JSON_PRESENT(struct payment_cmd, quote_given)},
    {.name = "terminal_id", .kind = MOPAY_JSON_STRING, .offset = PC(terminal_text), .min_len = 1,
     .max_len = MOPAY_RISK_TERMINAL_ID_BYTES - 1},
    {0},
};

/* The tip or convenience fee the QR code asks for (EMV 55): the payer's for a prompt, fixed, or
 * a percentage of the amount rounded down. */
static bool qr_tip(struct mopay_http_request *req, struct payment_cmd *c, const struct mopay_qr *qr)
{
    struct mopay_qr_tip tip;
    mopay_qr_tip(qr, &tip);
    if (tip.kind != MOPAY_QR_TIP_PROMPT && c->tip_text.ptr != NULL) {
        mopay_http_reply_error(req, MOPAY_ERR_field_invalid, "/tip", "this QR code does not ask for a tip");
        return false;
    }
    if (tip.kind == MOPAY_QR_TIP_PROMPT && c->tip_text.ptr != NULL) {
        enum mopay_err err = mopay_money_parse(c->tip_text.ptr, c->tip_text.len, c->currency, 0, &c->tip_minor);
        if (err != MOPAY_OK) {
            mopay_http_reply_error(req, err, "/tip", "a decimal string in the QR code's currency");
            return false;
        }
    } else if (tip.kind == MOPAY_QR_TIP_FIXED) {
        c->tip_minor = tip.fee_minor;
    } else if (tip.kind == MOPAY_QR_TIP_PERCENT) {
        c->tip_minor = (int64_t)(((__int128)c->amount_minor * tip.fee_bps) / 10000);
    }
    if (!mopay_money_add(c->amount_minor, c->tip_minor, &c->amount_minor)) {
        mopay_http_reply_error(req, MOPAY_ERR_amount_overflow, "/amount", "the amount and tip are too large");
        return false;
    }
    return true;
}

/* The amount: fixed by a dynamic code (the payer may repeat it), entered for a static one. */
static bool qr_amount(struct mopay_http_request *req, struct payment_cmd *c, const struct mopay_qr *qr)
{
    c->dynamic = mopay_qr_initiation(qr) == MOPAY_QR_INITIATION_DYNAMIC;
    int64_t fixed = 0, given = 0;
    bool has_fixed = mopay_qr_amount(qr, &fixed);
    if (c->amount_text.ptr != NULL) {
        enum mopay_err err = mopay_money_parse(c->amount_text.ptr, c->amount_text.len, c->currency, 0, &given);
        if (err == MOPAY_OK && given == 0)
            err = MOPAY_ERR_amount_invalid;
        if (err != MOPAY_OK) {
            mopay_http_reply_error(req, err, "/amount", "a positive decimal string in the QR code's currency");
            return false;
        }
        if (has_fixed && given != fixed) {
            mopay_http_reply_error(req, MOPAY_ERR_amount_mismatch, "/amount", "the QR code fixes the amount");
            return false;
        }
    } else if (!has_fixed) {
        mopay_http_reply_error(req, MOPAY_ERR_amount_required, "/amount", "this QR code leaves the amount to the payer");
        return false;
    }
    c->amount_minor = has_fixed ? fixed : given;
    return qr_tip(req, c, qr);
}

/* A sub-object of mopay's template as an id of `kind`; false when absent or malformed. */
static bool qr_id(const struct mopay_qr *qr, const struct mopay_qr_object *tmpl, unsigned sub, enum mopay_id_kind kind,
                  struct mopay_id *out)
{
    size_t len = 0;
    const char *v = mopay_qr_value(qr, mopay_qr_find_sub(qr, tmpl, sub), &len);
    return v != NULL && mopay_id_parse(kind, v, len, out) == MOPAY_OK;
}

static bool qr_read(struct mopay_http_request *req, struct payment_cmd *c)
{
    struct mopay_qr *qr = mopay_arena_alloc(mopay_http_arena(req), sizeof(*qr));
    if (qr == NULL) {
        api_reply_oom(req);
        return false;
    }
    enum mopay_err err = mopay_qr_decode(c->qr_text.ptr, c->qr_text.len, qr);
    if (err != MOPAY_OK) {
        mopay_http_reply_error(req, err, "/qr", "not a well-formed EMV merchant-presented payload");
        return false;
    }
    const struct mopay_qr_object *tmpl = mopay_qr_find_template(qr, MOPAY_QR_GUID);
    c->currency = mopay_qr_currency(qr);
    if (tmpl == NULL || c->currency == NULL || !qr_id(qr, tmpl, MOPAY_QR_SUB_MERCHANT_ID, MOPAY_ID_MERCHANT,
                                                      &c->merchant_id)) {
        mopay_http_reply_error(req, MOPAY_ERR_qr_not_payable, "/qr", "a well-formed QR code of another scheme");
        return false;
    }
    c->order_given = qr_id(qr, tmpl, MOPAY_QR_SUB_ORDER_ID, MOPAY_ID_ORDER, &c->order_id);
    size_t len = 0;
    const char *ref = mopay_qr_value(qr, mopay_qr_find_sub(qr, mopay_qr_find(qr, MOPAY_QR_ID_ADDITIONAL_DATA),
                                                           MOPAY_QR_SUB_REFERENCE), &len);
    if (ref != NULL && len < sizeof(c->reference_text)) {
        memcpy(c->reference_text, ref, len);
        c->reference_text[len] = '\0';
    }
    return qr_amount(req, c, qr);
}

/* A merchant's amount and currency, for a payment code or a tap. */
static bool merchant_amount(struct mopay_http_request *req, struct payment_cmd *c, const struct mopay_str *amount,
                            const struct mopay_str *currency, const char *prefix)
{
    char field[32];
    if (amount->ptr == NULL || currency->ptr == NULL) {
        snprintf(field, sizeof(field), "%s/%s", prefix, amount->ptr == NULL ? "amount" : "currency");
        mopay_http_reply_error(req, MOPAY_ERR_field_missing, field, "the merchant states the amount and currency");
        return false;
    }
    if ((c->currency = mopay_currency_by_alpha(currency->ptr, currency->len)) == NULL) {
        snprintf(field, sizeof(field), "%s/currency", prefix);
        mopay_http_reply_error(req, MOPAY_ERR_currency_unknown, field, "not an active ISO 4217 code");
        return false;
    }
    enum mopay_err err = mopay_money_parse(amount->ptr, amount->len, c->currency, 0, &c->amount_minor);
    if (err == MOPAY_OK && c->amount_minor == 0)
        err = MOPAY_ERR_amount_invalid;
    if (err != MOPAY_OK) {
        snprintf(field, sizeof(field), "%s/amount", prefix);
        mopay_http_reply_error(req, err, field, "a positive decimal string in the currency");
    }
    return err == MOPAY_OK;
}

/* The 18 digits, bare or out of an EMV consumer-presented QR. */
static bool code_read(struct mopay_http_request *req, struct payment_cmd *c)
{
    if (c->code_text.len == MOPAY_PAYCODE_DIGITS) {
        memcpy(c->code, c->code_text.ptr, MOPAY_PAYCODE_DIGITS + 1);
        return true;
    }
    struct mopay_cpm *cpm = mopay_arena_alloc(mopay_http_arena(req), sizeof(*cpm));
    enum mopay_err err = cpm != NULL ? mopay_cpm_decode(c->code_text.ptr, c->code_text.len, cpm, c->code)
                                     : MOPAY_ERR_internal;
    if (err == MOPAY_OK && c->code[0] == '\0')
        err = MOPAY_ERR_payment_code_invalid; /* another wallet's code */
    if (err != MOPAY_OK)
        mopay_http_reply_error(req, err, "/payment_code", "18 digits, or an EMV consumer-presented QR of mopay's");
    return err == MOPAY_OK;
}

static bool hex_field(struct mopay_http_request *req, const struct mopay_str *s, uint8_t *out, size_t len,
                      const char *field)
{
    if (mopay_hex_decode(s->ptr, out, len))
        return true;
    mopay_http_reply_error(req, MOPAY_ERR_field_invalid, field, "%zu hex digits", 2 * len);
    return false;
}

static bool instrument_read(struct mopay_http_request *req, struct payment_cmd *c)
{
    if (c->reference.ptr != NULL)
        mopay_text_copy(c->reference_text, sizeof(c->reference_text), c->reference.ptr);
    if (c->way == WAY_CODE)
        return merchant_amount(req, c, &c->amount_text, &c->currency_text, "") && code_read(req, c);
    if (c->amount_text.ptr != NULL || c->currency_text.ptr != NULL) {
        mopay_http_reply_error(req, MOPAY_ERR_field_invalid, c->amount_text.ptr != NULL ? "/amount" : "/currency",
                               "a tap carries its amount and currency inside nfc");
        return false;
    }
    if (!merchant_amount(req, c, &c->nfc_amount, &c->nfc_currency, "/nfc") ||
        !hex_field(req, &c->nfc_un, c->tap.unpredictable_number, MOPAY_NFC_UN_BYTES, "/nfc/unpredictable_number") ||
        !hex_field(req, &c->nfc_cryptogram, c->cryptogram, MOPAY_NFC_CRYPTOGRAM_BYTES, "/nfc/cryptogram"))
        return false;
    c->tap.amount_minor = c->amount_minor;
    c->tap.currency_numeric = c->currency->numeric;
    c->tap.atc = (uint16_t)c->nfc_atc;
    return true;
}

/* A merchant's terminal_id: letters, digits and - _ . : / # (it is logged and shown to the
 * operator as it is). */
static bool terminal_id_read(struct mopay_http_request *req, const struct mopay_str *s, bool customer)
{
    bool ok = !customer;
    for (size_t i = 0; ok && i < s->len; i++) {
        char ch = s->ptr[i];
        ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
             (ch != '\0' && strchr("-_.:/#", ch) != NULL);
    }
    if (!ok)
        mopay_http_reply_error(req, MOPAY_ERR_field_invalid, "/terminal_id",
                               customer ? "a merchant's terminal names itself"
                                        : "letters, digits and - _ . : / # only");
    return ok;
}

/* Which way in: exactly one instrument, and the principal that may use it. */
static bool way_read(struct mopay_http_request *req, struct payment_cmd *c)
{
    bool customer = mopay_http_principal(req)->kind == MOPAY_PRINCIPAL_CUSTOMER;
    int given = (c->qr_text.ptr != NULL) + (c->order_text.ptr != NULL) + (c->code_text.ptr != NULL) + c->nfc_given;
    if (given != 1) {
        mopay_http_reply_error(req, MOPAY_ERR_field_missing, NULL,
                               "give exactly one of qr, order_id (customers), payment_code, nfc (merchants)");
        return false;
    }
    c->way = c->qr_text.ptr != NULL ? WAY_QR : c->order_text.ptr != NULL ? WAY_ORDER
             : c->code_text.ptr != NULL                                    ? WAY_CODE
                                                                           : WAY_NFC;
    if (customer != (c->way == WAY_QR || c->way == WAY_ORDER)) {
        static const char *const fields[] = {"/qr", "/order_id", "/payment_code", "/nfc"};
        mopay_http_reply_error(req, MOPAY_ERR_forbidden, fields[c->way],
                               customer ? "a merchant submits payment codes and NFC taps"
                                        : "a customer scans QR codes and pays orders");
        return false;
    }
    if (c->terminal_text.ptr != NULL && !terminal_id_read(req, &c->terminal_text, customer))
        return false;
    if ((c->wallet_given || c->coupon_given || c->quote_given) && !customer) {
        mopay_http_reply_error(req, MOPAY_ERR_field_invalid, "/wallet_id", "the customer's code picks the wallet");
        return false;
    }
    return (!c->wallet_given || api_body_id(req, &c->wallet_text, MOPAY_ID_WALLET, "/wallet_id", &c->wallet_id)) &&
           (!c->coupon_given || api_body_id(req, &c->coupon_text, MOPAY_ID_COUPON, "/coupon_id", &c->coupon_id)) &&
           (!c->quote_given || api_body_id(req, &c->quote_text, MOPAY_ID_QUOTE, "/quote_id", &c->quote_id));
}

void api_payments_create(struct mopay_http_request *req)
{
    struct payment_cmd *c = mopay_http_command_new(req, sizeof(*c), payment_apply, payment_render);
    if (c == NULL) {
        api_reply_oom(req);
        return;
    }
    if (!mopay_http_json_read(req, mopay_http_body(req), api_payment_fields, c) || !way_read(req, c))
        return;
    bool ok = true;
    if (c->way == WAY_QR)
        ok = qr_read(req, c);
    else if (c->way == WAY_ORDER)
        ok = api_body_id(req, &c->order_text, MOPAY_ID_ORDER, "/order_id", &c->order_id);
    else
        ok = instrument_read(req, c);
    c->order_given = c->order_given || c->way == WAY_ORDER;
    if (ok)
        mopay_http_submit(req, &c->base);
}
