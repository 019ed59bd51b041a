/* GET /v1/merchants/{id}/qr: a merchant's EMV QR code as text, PNG or SVG; and
 * POST /v1/devices/{id}/nfc-keys: a device's NFC payment token and a batch of limited-use keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/qr.h"

enum qr_format { QR_TEXT, QR_PNG, QR_SVG };

struct qr_cmd {
    struct mopay_http_command base;
    struct mopay_id id;
    enum qr_format format;
    int64_t amount_minor;
    const char *amount_text, *reference, *fee_text;
    size_t amount_len, fee_len;
    struct mopay_qr_tip tip;
    char payload[MOPAY_QR_PAYLOAD_BYTES_MAX + 1];
};

static enum mopay_err qr_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    (void)store;
    (void)now_ns;
    struct qr_cmd *c = (struct qr_cmd *)cmd;
    struct mopay_api *api = cmd->app;
    const struct mopay_merchant *m = api_merchant_visible(api, mopay_http_principal(cmd->req), &c->id);
    if (m == NULL) {
        cmd->err_detail = "no merchant has this id";
        return MOPAY_ERR_resource_not_found;
    }
    if (c->amount_text != NULL) {
        enum mopay_err err = mopay_money_parse(c->amount_text, c->amount_len, m->currency, 0, &c->amount_minor);
        if (err == MOPAY_OK && c->amount_minor == 0)
            err = MOPAY_ERR_amount_invalid;
        if (err != MOPAY_OK) {
            cmd->err_detail = "amount: a positive decimal string in the merchant's currency";
            return err;
        }
    }
    if (c->tip.kind == MOPAY_QR_TIP_FIXED) {
        enum mopay_err err = mopay_money_parse(c->fee_text, c->fee_len, m->currency, 0, &c->tip.fee_minor);
        if (err != MOPAY_OK || c->tip.fee_minor == 0) {
            cmd->err_detail = "fee: a positive decimal string in the merchant's currency";
            return err != MOPAY_OK ? err : MOPAY_ERR_amount_invalid;
        }
    }
    if (!api_merchant_qr(m, NULL, c->amount_minor, c->reference, &c->tip, c->payload)) {
        cmd->err_detail = "the amount or reference does not fit an EMV QR code";
        return MOPAY_ERR_query_invalid;
    }
    return MOPAY_OK;
}

/* Drawn on the loop, after the sequencer read the merchant. */
static void qr_then(struct mopay_http_command *cmd)
{
    struct qr_cmd *c = (struct qr_cmd *)cmd;
    size_t len = strlen(c->payload);
    if (c->format == QR_TEXT) {
        mopay_http_reply_raw(cmd->req, 200, "text/plain; charset=utf-8", c->payload, len);
        return;
    }
    unsigned char *image = NULL;
    size_t image_len = 0;
    enum mopay_err err = c->format == QR_PNG ? mopay_qr_render_png(c->payload, len, 8, 4, &image, &image_len)
                                             : mopay_qr_render_svg(c->payload, len, 8, 4, (char **)&image, &image_len);
    if (err != MOPAY_OK) {
        mopay_http_reply_error(cmd->req, err, NULL, "the QR code could not be drawn");
        return;
    }
    mopay_http_reply_raw(cmd->req, 200, c->format == QR_PNG ? "image/png" : "image/svg+xml", (const char *)image,
                         image_len);
    free(image);
}

/* ?tip=prompt, ?fee=1.50 or ?fee_percent=3.5: what the code asks the payer to add (EMV 55). */
static bool tip_read(struct mopay_http_request *req, struct qr_cmd *c)
{
    size_t len = 0;
    bool bad[3] = {false, false, false};
    const char *prompt = mopay_http_query(req, "tip", &len, &bad[0]);
    c->fee_text = mopay_http_query(req, "fee", &c->fee_len, &bad[1]);
    const char *percent = mopay_http_query(req, "fee_percent", &len, &bad[2]);
    bool ok = !bad[0] && !bad[1] && !bad[2] && (prompt != NULL) + (c->fee_text != NULL) + (percent != NULL) <= 1 &&
              (prompt == NULL || strcmp(prompt, "prompt") == 0);
    c->tip.kind = prompt != NULL ? MOPAY_QR_TIP_PROMPT : c->fee_text != NULL ? MOPAY_QR_TIP_FIXED
                  : percent != NULL                                           ? MOPAY_QR_TIP_PERCENT
                                                                              : MOPAY_QR_TIP_NONE;
    if (ok && percent != NULL)
        ok = (c->tip.fee_bps = api_percent_bps(percent, len)) != 0;
    if (!ok)
        mopay_http_reply_error(req, MOPAY_ERR_query_invalid, NULL,
                               "at most one of tip=prompt, fee=<amount>, fee_percent=<0.01 to 99.99>");
    return ok;
}

void api_merchant_qr_get(struct mopay_http_request *req)
{
    struct qr_cmd *c = mopay_http_command_new(req, sizeof(*c), qr_apply, NULL);
    if (c == NULL) {
        api_reply_oom(req);
        return;
    }
    c->base.then = qr_then;
    size_t len = 0;
    bool bad_amount = false, bad_format = false, bad_reference = false;
    const char *format = mopay_http_query(req, "format", &len, &bad_format);
    c->format = format == NULL ? QR_TEXT : strcmp(format, "png") == 0 ? QR_PNG : strcmp(format, "svg") == 0 ? QR_SVG
                                                                                                        : QR_TEXT;
    bad_format |= format != NULL && c->format == QR_TEXT && strcmp(format, "text") != 0;
    c->amount_text = mopay_http_query(req, "amount", &c->amount_len, &bad_amount);
    c->reference = mopay_http_query(req, "reference", &len, &bad_reference);
    bad_reference |= c->reference != NULL && (len == 0 || len > 25);
    if (bad_format || bad_amount || bad_reference) {
        mopay_http_reply_error(req, MOPAY_ERR_query_invalid, NULL,
                               "format is text, png or svg; amount a decimal; reference 1 to 25 characters");
        return;
    }
    if (tip_read(req, c) && api_path_id(req, 0, MOPAY_ID_MERCHANT, &c->id))
        mopay_http_submit(req, &c->base);
}

/* --- NFC keys --- */

struct nfc_cmd {
    struct mopay_http_command base;
    struct mopay_id id;
    int64_t keys, taps, ttl_s;
    struct mopay_nfc_token *token;
};

static enum mopay_err nfc_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    struct nfc_cmd *c = (struct nfc_cmd *)cmd;
    struct mopay_api *api = cmd->app;
    struct mopay_device *d = mopay_wallet_device(api->wallet, &c->id);
    if (d == NULL || api_customer_visible(api, mopay_http_principal(cmd->req), &d->customer->id) == NULL) {
        cmd->err_detail = "no device has this id";
        return MOPAY_ERR_resource_not_found;
    }
    return mopay_pay_nfc_provision(api->pay, store, now_ns, d, (uint32_t)c->keys, (uint32_t)c->taps, c->ttl_s,
                                   &c->token);
}

/* The keys themselves are derived here for the phone and never stored. */
static json_t *nfc_render(struct mopay_http_command *cmd, int *status)
{
    struct nfc_cmd *c = (struct nfc_cmd *)cmd;
    struct mopay_api *api = cmd->app;
    const struct mopay_nfc_token *t = c->token;
    json_t *keys = json_array();
    for (uint32_t k = 0; k < t->key_count; k++) {
        uint8_t luk[MOPAY_NFC_LUK_BYTES];
        char b64[sodium_base64_ENCODED_LEN(MOPAY_NFC_LUK_BYTES, sodium_base64_VARIANT_ORIGINAL)];
        mopay_nfc_luk_derive(api->keys->nfc_issuer, (const uint8_t *)t->token, strlen(t->token), t->key_first + k, luk);
        sodium_bin2base64(b64, sizeof(b64), luk, sizeof(luk), sodium_base64_VARIANT_ORIGINAL);
        sodium_memzero(luk, sizeof(luk));
        uint32_t first_atc = t->atc_base + k * t->taps_per_key + 1;
        json_array_append_new(keys, json_pack("{s:I, s:s, s:I, s:I}", "index", (json_int_t)(t->key_first + k), "key",
                                              b64, "atc_first", (json_int_t)first_atc, "atc_last",
                                              (json_int_t)(first_atc + t->taps_per_key - 1)));
        sodium_memzero(b64, sizeof(b64));
    }
    *status = 201;
    return json_pack("{s:s, s:o, s:I, s:I, s:o, s:o}", "token", t->token, "device_id",
                     api_id_json(MOPAY_ID_DEVICE, &t->device->id), "taps_per_key", (json_int_t)t->taps_per_key,
                     "atc_next", (json_int_t)(t->atc_base + 1), "expires_at", api_time_json(t->expires_at_ns), "keys",
                     keys);
}

const struct mopay_json_field api_nfc_key_fields[] = {
    {.name = "keys", .kind = MOPAY_JSON_INTEGER, .offset = offsetof(struct nfc_cmd, keys), .min = 1,
     .max = MOPAY_NFC_KEYS_PER_BATCH_MAX},
    {.name = "taps_per_key", .kind = MOPAY_JSON_INTEGER, .offset = offsetof(struct nfc_cmd, taps), .min = 1,
     .max = MOPAY_NFC_TAPS_PER_KEY_MAX},
    {.name = "ttl_s", .kind = MOPAY_JSON_INTEGER, .offset = offsetof(struct nfc_cmd, ttl_s), .min = 60,
     .max = MOPAY_NFC_TTL_S_MAX},
    {0},
};

void api_nfc_keys_create(struct mopay_http_request *req)
{
    struct nfc_cmd *c = mopay_http_command_new(req, sizeof(*c), nfc_apply, nfc_render);
    if (c == NULL) {
        api_reply_oom(req);
        return;
    }
    json_t *body = mopay_http_body(req);
    if (!api_path_id(req, 0, MOPAY_ID_DEVICE, &c->id) ||
        (body != NULL && !mopay_http_json_read(req, body, api_nfc_key_fields, c)))
        return;
    c->keys = c->keys > 0 ? c->keys : 5;      /* a handful of keys, */
    c->taps = c->taps > 0 ? c->taps : 3;      /* each good for a few taps */
    c->ttl_s = c->ttl_s > 0 ? c->ttl_s : 3 * 86400; /* and a few days */
    mopay_http_submit(req, &c->base);
}
