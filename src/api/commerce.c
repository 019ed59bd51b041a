/* The merchants' side of the API state: merchants and orders, payments and refunds, and the
 * webhook outbox that tells merchants about them. Every state change of an order, payment or
 * refund adds an event to the outbox inside the same batch transaction as the change. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/qr.h"

/* An event for the merchant, when it has a webhook URL. */
static enum mopay_err merchant_event(struct mopay_api *api, int64_t now_ns, const struct mopay_merchant *m,
                                     const char *type, json_t *data)
{
    if (m->webhook_url[0] == '\0') {
        json_decref(data);
        return MOPAY_OK;
    }
    char merchant[MOPAY_ID_TEXT_BYTES], id[MOPAY_ID_TEXT_BYTES];
    uint8_t key[MOPAY_WEBHOOK_SECRET_TEXT_BYTES];
    mopay_id_format(MOPAY_ID_MERCHANT, &m->id, merchant);
    size_t key_len = mopay_merchant_webhook_key(m, key);
    enum mopay_err err = mopay_outbox_add(api->outbox, now_ns, merchant, m->webhook_url, key, key_len, type, data,
                                          id);
    sodium_memzero(key, sizeof(key));
    return err;
}

/* The hooks below are handed the store; events go to the journal instead. */
static enum mopay_err on_order_expired(void *ctx, struct mopay_store *store, int64_t now_ns,
                                       const struct mopay_order *o)
{
    (void)store;
    struct mopay_api *api = ctx;
    return merchant_event(api, now_ns, o->merchant, "order.expired", api_order_json(api, o));
}

/* The tick's changes that make an event wait for room (api_events_room). */
static bool order_expiry_room(void *ctx, const struct mopay_order *o)
{
    return api_events_room(ctx, o->merchant, 1);
}

static bool payment_room(void *ctx, const struct mopay_payment *x)
{
    return api_events_room(ctx, x->merchant, 1); /* payment.declined */
}

static enum mopay_err on_payment(void *ctx, struct mopay_store *store, int64_t now_ns, const struct mopay_payment *x)
{
    struct mopay_api *api = ctx;
    enum mopay_err tax = mopay_tax_on_payment(api->tax, store, now_ns, x); /* a tax-free order's form */
    if (tax != MOPAY_OK)
        return tax;
    char type[48];
    snprintf(type, sizeof(type), "payment.%s", mopay_payment_status_name(x->status));
    enum mopay_err err = merchant_event(api, now_ns, x->merchant, type, api_payment_json(x));
    if (err == MOPAY_OK && x->order != NULL && x->status == MOPAY_PAYMENT_SUCCEEDED)
        err = merchant_event(api, now_ns, x->merchant, "order.paid", api_order_json(api, x->order));
    return err;
}

static enum mopay_err on_refund(void *ctx, struct mopay_store *store, int64_t now_ns, const struct mopay_refund *r)
{
    (void)store;
    struct mopay_api *api = ctx;
    return merchant_event(api, now_ns, r->payment->merchant, "refund.succeeded", api_refund_json(r));
}

enum mopay_err api_order_created(struct mopay_api *api, int64_t now_ns, const struct mopay_order *o)
{
    return merchant_event(api, now_ns, o->merchant, "order.created", api_order_json(api, o));
}

bool api_commerce_start(struct mopay_api *api, const struct mopay_api_options *options, char *err, size_t err_cap)
{
    struct mopay_outbox_options oo = mopay_outbox_options_default(api->keys);
    oo.journal = api->journal;
    api->webhook_policy = (struct mopay_webhook_policy){.allow_private = options->webhook_allow_private,
                                                        .allow_insecure = options->webhook_allow_insecure};
    oo.policy = api->webhook_policy;
    oo.pending_max = api->capacity.outbox_events_max;
    oo.per_merchant_max = api->capacity.outbox_events_per_merchant_max;
    struct mopay_merchant_options mo = {.keys = api->keys, .ledger = api->ledger, .journal = api->journal,
                                        .order_expired = on_order_expired, .order_expiry_room = order_expiry_room,
                                        .ctx = api};
    if ((api->outbox = mopay_outbox_new(&oo)) == NULL || (api->merchant = mopay_merchant_state_new(&mo)) == NULL) {
        snprintf(err, err_cap, "out of memory");
        return false;
    }
    if ((api->offers = mopay_offers_new(api->merchant, api->wallet, api->journal)) == NULL) {
        snprintf(err, err_cap, "out of memory");
        return false;
    }
    struct mopay_quotes_options qo = {.rate_max_age_s = options->fx_rate_max_age_s};
    if (mopay_quotes_spreads_parse(options->fx_spreads != NULL ? options->fx_spreads : "50", &qo, err, err_cap) !=
        MOPAY_OK)
        return false;
    if ((api->quotes = mopay_quotes_new(&qo, api->wallet, api->journal)) == NULL) {
        snprintf(err, err_cap, "out of memory");
        return false;
    }
    struct mopay_pay_options po = {.journal = api->journal,
                                   .offers = api->offers,
                                   .wallet = api->wallet,
                                   .merchant = api->merchant,
                                   .ledger = api->ledger,
                                   .confirm_above_major = options->pin_above_major,
                                   .confirm_ttl_s = MOPAY_PAYMENT_CONFIRM_TTL_S,
                                   .paycode_window_steps = options->paycode_window_steps,
                                   .nfc_issuer_key = api->keys->nfc_issuer,
                                   .events = {.payment = on_payment, .refund = on_refund,
                                              .payment_room = payment_room, .ctx = api},
                                   .risk = api_pay_risk(api, options->risk),
                                   .wrong_codes_max = options->wrong_codes_max,
                                   .wrong_codes_window_s = options->wrong_codes_window_s};
    if (options->wrong_codes_max > 0 && options->wrong_codes_window_s < 1) {
        snprintf(err, err_cap, "wrong-codes-window must be at least 1 second");
        return false;
    }
    if (options->paycode_window_steps < 0 || options->paycode_window_steps > 8) {
        snprintf(err, err_cap, "paycode-window must be 0 to 8 steps");
        return false;
    }
    if (!api_risk_start(api, options, err, err_cap))
        return false;
    if ((api->pay = mopay_pay_new(&po)) == NULL) {
        snprintf(err, err_cap, "out of memory");
        return false;
    }
    struct mopay_taxrules rules;
    mopay_taxrules_defaults(&rules);
    if (options->tax_rules != NULL && options->tax_rules[0] != '\0' &&
        mopay_taxrules_parse(options->tax_rules, strlen(options->tax_rules), &rules, err, err_cap) != MOPAY_OK)
        return false;
    if ((api->tax = mopay_tax_new(&rules, api->pay, api->wallet, api->ledger, api->journal)) == NULL) {
        snprintf(err, err_cap, "out of memory");
        return false;
    }
    return true;
}

bool api_commerce_load(struct mopay_api *api, struct mopay_store *store, char *err, size_t err_cap)
{
    return api_risk_load(api, store, err, err_cap) &&
           mopay_merchant_load(api->merchant, store, err, err_cap) == MOPAY_OK &&
           mopay_offers_load(api->offers, store, err, err_cap) == MOPAY_OK &&
           mopay_quotes_load(api->quotes, store, err, err_cap) == MOPAY_OK &&
           mopay_pay_load(api->pay, store, err, err_cap) == MOPAY_OK &&
           mopay_tax_load(api->tax, store, err, err_cap) == MOPAY_OK &&
           mopay_outbox_load(api->outbox, store, err, err_cap) == MOPAY_OK;
}

void api_commerce_free(struct mopay_api *api)
{
    mopay_tax_free(api->tax);
    mopay_risk_engine_free(api->risk);
    mopay_pay_free(api->pay);
    mopay_quotes_free(api->quotes);
    mopay_offers_free(api->offers);
    mopay_merchant_state_free(api->merchant);
    mopay_outbox_free(api->outbox);
}

/* Up to `max` characters of `s` (UTF-8), whole characters only. */
static void utf8_cut(const char *s, size_t max, char *out, size_t cap)
{
    size_t bytes = 0, chars = 0;
    while (s[bytes] != '\0' && chars < max) {
        size_t n = 1;
        while ((s[bytes + n] & 0xC0) == 0x80)
            n++;
        if (bytes + n >= cap)
            break;
        bytes += n;
        chars++;
    }
    memcpy(out, s, bytes);
    out[bytes] = '\0';
}

bool api_merchant_qr(const struct mopay_merchant *m, const struct mopay_order *o, int64_t amount_minor,
                     const char *reference, const struct mopay_qr_tip *tip, char out[MOPAY_QR_PAYLOAD_BYTES_MAX + 1])
{
    char merchant[MOPAY_ID_TEXT_BYTES], order[MOPAY_ID_TEXT_BYTES], name[4 * 25 + 1], city[4 * 15 + 1];
    mopay_id_format(MOPAY_ID_MERCHANT, &m->id, merchant);
    if (o != NULL)
        mopay_id_format(MOPAY_ID_ORDER, &o->id, order);
    utf8_cut(m->name, 25, name, sizeof(name)); /* EMV's widths for 59 and 60 */
    utf8_cut(m->city, 15, city, sizeof(city));
    struct mopay_qr_input in = {.guid = MOPAY_QR_GUID,
                                .merchant_id = merchant,
                                .order_id = o != NULL ? order : NULL,
                                .merchant_name = name,
                                .merchant_city = city,
                                .country = m->country,
                                .mcc = m->mcc,
                                .currency = m->currency,
                                .dynamic = amount_minor > 0,
                                .amount_minor = amount_minor,
                                .reference = reference != NULL && reference[0] != '\0' ? reference : NULL,
                                .tip = tip != NULL ? *tip : (struct mopay_qr_tip){.kind = MOPAY_QR_TIP_NONE}};
    size_t len = 0;
    return mopay_qr_encode(&in, out, &len) == MOPAY_OK;
}

bool api_order_qr(struct mopay_api *api, const struct mopay_order *o, char out[MOPAY_QR_PAYLOAD_BYTES_MAX + 1])
{
    (void)api;
    return o->status == MOPAY_ORDER_OPEN && api_merchant_qr(o->merchant, o, o->amount_minor, o->reference, NULL, out);
}
