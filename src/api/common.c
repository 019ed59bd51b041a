/* What the consumer endpoints share: reading ids, amounts and pages; who may see what; and the
 * JSON shapes of customers, devices, wallets, funding sources and movements. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/clock.h"

void api_reply_oom(struct mopay_http_request *req)
{
    mopay_http_reply_error(req, MOPAY_ERR_internal, NULL, "out of memory");
}

bool api_path_id(struct mopay_http_request *req, size_t n, enum mopay_id_kind kind, struct mopay_id *out)
{
    size_t len;
    const char *text = mopay_http_param(req, n, &len);
    if (mopay_id_parse(kind, text, len, out) == MOPAY_OK)
        return true;
    mopay_http_reply_error(req, MOPAY_ERR_id_invalid, NULL, "expected %s_ and 32 lowercase hex digits",
                           mopay_id_prefix(kind));
    return false;
}

bool api_body_id(struct mopay_http_request *req, const struct mopay_str *s, enum mopay_id_kind kind,
                 const char *pointer, struct mopay_id *out)
{
    if (mopay_id_parse(kind, s->ptr, s->len, out) == MOPAY_OK)
        return true;
    mopay_http_reply_error(req, MOPAY_ERR_field_invalid, pointer, "expected %s_ and 32 lowercase hex digits",
                           mopay_id_prefix(kind));
    return false;
}

bool api_amount_read(struct mopay_http_request *req, const struct mopay_str *amount, const struct mopay_str *currency,
                     const struct mopay_currency **out_currency, int64_t *out_minor)
{
    const struct mopay_currency *c = mopay_currency_by_alpha(currency->ptr, currency->len);
    if (c == NULL) {
        mopay_http_reply_error(req, MOPAY_ERR_currency_unknown, "/currency", "not an active ISO 4217 code");
        return false;
    }
    enum mopay_err err = mopay_money_parse(amount->ptr, amount->len, c, 0, out_minor);
    if (err == MOPAY_OK && *out_minor == 0)
        err = MOPAY_ERR_amount_invalid;
    if (err != MOPAY_OK) {
        mopay_http_reply_error(req, err, "/amount", "a positive decimal string with at most %d decimals for %s",
                               c->exponent, c->alpha);
        return false;
    }
    *out_currency = c;
    return true;
}

bool api_text_ok(struct mopay_http_request *req, const struct mopay_str *s, const char *pointer)
{
    for (size_t i = 0; i < s->len; i++)
        if ((unsigned char)s->ptr[i] < 0x20 || s->ptr[i] == 0x7f) {
            mopay_http_reply_error(req, MOPAY_ERR_field_invalid, pointer, "control characters are not allowed");
            return false;
        }
    return true;
}

bool api_is_operator(struct mopay_http_request *req)
{
    return mopay_http_principal(req)->kind == MOPAY_PRINCIPAL_OPERATOR;
}

struct mopay_customer *api_customer_visible(struct mopay_api *api, const struct mopay_principal *p,
                                            const struct mopay_id *id)
{
    struct mopay_customer *c = mopay_wallet_customer(api->wallet, id);
    if (c == NULL || p->kind == MOPAY_PRINCIPAL_OPERATOR)
        return c;
    char mine[MOPAY_ID_TEXT_BYTES];
    mopay_id_format(MOPAY_ID_CUSTOMER, &c->id, mine);
    return p->kind == MOPAY_PRINCIPAL_CUSTOMER && strcmp(p->id, mine) == 0 ? c : NULL;
}

struct mopay_customer *api_principal_customer(struct mopay_api *api, const struct mopay_principal *p)
{
    struct mopay_id id;
    if (p->kind != MOPAY_PRINCIPAL_CUSTOMER || mopay_id_parse(MOPAY_ID_CUSTOMER, p->id, strlen(p->id), &id) != MOPAY_OK)
        return NULL;
    return mopay_wallet_customer(api->wallet, &id);
}

bool api_limit_read(struct mopay_http_request *req, size_t *out)
{
    size_t len;
    bool malformed;
    const char *v = mopay_http_query(req, "limit", &len, &malformed);
    *out = 20;
    if (v == NULL && !malformed)
        return true;
    long n = 0;
    bool ok = v != NULL && len >= 1 && len <= 3;
    for (size_t i = 0; ok && i < len; i++) {
        ok = v[i] >= '0' && v[i] <= '9';
        n = n * 10 + (v[i] - '0');
    }
    if (!ok || n < 1 || n > 100) {
        mopay_http_reply_error(req, MOPAY_ERR_query_invalid, NULL, "limit must be a whole number from 1 to 100");
        return false;
    }
    *out = (size_t)n;
    return true;
}

/* --- shapes --- */

json_t *api_money_json(int64_t minor, const struct mopay_currency *c)
{
    char text[MOPAY_MONEY_TEXT_BYTES];
    mopay_money_format(minor, c, text);
    return json_string(text);
}

json_t *api_time_json(int64_t ns)
{
    if (ns == 0)
        return json_null();
    char text[MOPAY_TIME_TEXT_BYTES];
    mopay_time_format(ns, text);
    return json_string(text);
}

json_t *api_id_json(enum mopay_id_kind kind, const struct mopay_id *id)
{
    char text[MOPAY_ID_TEXT_BYTES];
    mopay_id_format(kind, id, text);
    return json_string(text);
}

json_t *api_device_json(const struct mopay_device *d, bool with_secret)
{
    json_t *j = json_pack("{s:o, s:o, s:s, s:s, s:o, s:o}", "id", api_id_json(MOPAY_ID_DEVICE, &d->id), "customer_id",
                          api_id_json(MOPAY_ID_CUSTOMER, &d->customer->id), "name", d->name, "status",
                          d->revoked_at_ns != 0 ? "revoked" : "active", "created_at", api_time_json(d->created_at_ns),
                          "revoked_at", api_time_json(d->revoked_at_ns));
    json_object_set_new(j, "payment_code_index", json_integer(d->code_index));
    if (with_secret) {
        char b64[sodium_base64_ENCODED_LEN(MOPAY_DEVICE_SECRET_BYTES, sodium_base64_VARIANT_ORIGINAL)];
        sodium_bin2base64(b64, sizeof(b64), d->code_secret, sizeof(d->code_secret), sodium_base64_VARIANT_ORIGINAL);
        json_object_set_new(j, "payment_code_secret", json_string(b64));
        sodium_memzero(b64, sizeof(b64));
    }
    return j;
}

json_t *api_wallet_json(struct mopay_api *api, const struct mopay_wallet *wallet, int64_t now_ns)
{
    struct mopay_wallet_balance b;
    mopay_wallet_balance(api->wallet, wallet, now_ns, &b);
    const struct mopay_currency *c = wallet->currency;
    int64_t remaining = b.daily_outflow_minor - b.used_today_minor;
    json_t *limits = json_pack("{s:o, s:o, s:o, s:o}", "balance_cap", api_money_json(b.balance_cap_minor, c),
                               "daily_outflow", api_money_json(b.daily_outflow_minor, c), "used_today",
                               api_money_json(b.used_today_minor, c), "remaining_today",
                               api_money_json(remaining > 0 ? remaining : 0, c));
    return json_pack("{s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:o}", "id", api_id_json(MOPAY_ID_WALLET, &wallet->id),
                     "customer_id", api_id_json(MOPAY_ID_CUSTOMER, &wallet->customer->id), "currency", c->alpha,
                     "balance", api_money_json(b.balance_minor, c), "available", api_money_json(b.available_minor, c),
                     "incoming", api_money_json(b.incoming_minor, c), "limits", limits, "created_at",
                     api_time_json(wallet->created_at_ns));
}

static const char *customer_status(const struct mopay_customer *c, int64_t now_ns)
{
    if (c->frozen)
        return "frozen";
    return c->locked_until_ns > now_ns ? "locked" : "active";
}

json_t *api_customer_json(struct mopay_api *api, const struct mopay_customer *c, int64_t now_ns)
{
    const struct mopay_wallet_tier_limits *tier = &mopay_wallet_options(api->wallet)->tiers[c->kyc_tier];
    json_t *wallets = json_array(), *devices = json_array();
    for (size_t i = 0; i < c->wallet_count; i++)
        json_array_append_new(wallets, api_wallet_json(api, c->wallets[i], now_ns));
    for (size_t i = 0; i < c->device_count; i++)
        json_array_append_new(devices, api_device_json(c->devices[i], false));
    json_t *limits = json_pack("{s:i, s:I, s:I, s:o}", "kyc_tier", c->kyc_tier, "balance_cap_major",
                               (json_int_t)tier->balance_cap_major, "daily_outflow_major",
                               (json_int_t)tier->daily_outflow_major, "wallets", wallets);
    json_t *kyc = c->kyc_document_type[0] == '\0'
                      ? json_null()
                      : json_pack("{s:s, s:s}", "document_type", c->kyc_document_type, "document_last4",
                                  c->kyc_document_last4);
    return json_pack("{s:o, s:s, s:s, s:s, s:i, s:o, s:s, s:o, s:o, s:o, s:o}", "id",
                     api_id_json(MOPAY_ID_CUSTOMER, &c->id), "phone", c->phone, "name", c->name, "country",
                     c->country, "kyc_tier", c->kyc_tier, "kyc", kyc, "status", customer_status(c, now_ns),
                     "locked_until", api_time_json(c->locked_until_ns > now_ns ? c->locked_until_ns : 0), "limits",
                     limits, "devices", devices, "created_at", api_time_json(c->created_at_ns));
}

json_t *api_source_json(const struct mopay_funding_source *s)
{
    bool card = s->type == MOPAY_SOURCE_CARD;
    json_t *j = json_pack("{s:o, s:o, s:s, s:s, s:s, s:b, s:b, s:s, s:o}", "id",
                          api_id_json(MOPAY_ID_FUNDING_SOURCE, &s->id), "customer_id",
                          api_id_json(MOPAY_ID_CUSTOMER, &s->customer->id), "type", card ? "card" : "bank_account",
                          "last4", s->last4, "holder", s->holder, "primary", s->primary, "backup", s->backup,
                          "status", s->lost ? "lost" : "active", "created_at", api_time_json(s->created_at_ns));
    if (card) {
        json_object_set_new(j, "brand", json_string(mopay_card_brand_name(s->brand)));
        json_object_set_new(j, "exp_month", json_integer(s->exp_month));
        json_object_set_new(j, "exp_year", json_integer(s->exp_year));
    } else {
        json_object_set_new(j, "scheme", json_string(s->iban ? "iban" : "account_number"));
        if (s->bank_code[0] != '\0')
            json_object_set_new(j, "bank_code", json_string(s->bank_code));
    }
    return j;
}

json_t *api_movement_json(const struct mopay_movement *m)
{
    bool topup = m->kind == MOPAY_MOVEMENT_TOPUP;
    json_t *j = json_pack("{s:o, s:o, s:o, s:o, s:s, s:s, s:s, s:o, s:o, s:o}", "id",
                          api_id_json(topup ? MOPAY_ID_TOPUP : MOPAY_ID_WITHDRAWAL, &m->id), "wallet_id",
                          api_id_json(MOPAY_ID_WALLET, &m->wallet->id), "funding_source_id",
                          api_id_json(MOPAY_ID_FUNDING_SOURCE, &m->source->id), "amount",
                          api_money_json(m->amount_minor, m->wallet->currency), "currency",
                          m->wallet->currency->alpha, "status", mopay_movement_status_name(m->status),
                          "network_reference", m->network_reference, "created_at", api_time_json(m->created_at_ns),
                          "resolved_at", api_time_json(m->resolved_at_ns), "expires_at",
                          api_time_json(m->status == MOPAY_MOVEMENT_PENDING ? m->expires_at_ns : 0));
    if (m->decline_code[0] != '\0')
        json_object_set_new(j, "decline_code", json_string(m->decline_code));
    return j;
}

/* A percentage of at most two digits and two decimals, 0.01 to 99.99, as basis points ("3.5" is
 * 350); 0 when malformed. */
uint16_t api_percent_bps(const char *s, size_t len)
{
    const char *point = memchr(s, '.', len);
    size_t whole_len = point != NULL ? (size_t)(point - s) : len;
    size_t frac_len = point != NULL ? len - whole_len - 1 : 0;
    if (whole_len < 1 || whole_len > 2 || (point != NULL && (frac_len < 1 || frac_len > 2)))
        return 0;
    unsigned bps = 0;
    for (size_t i = 0; i < len; i++) {
        if (s + i == point)
            continue;
        if (s[i] < '0' || s[i] > '9')
            return 0;
        bps = bps * 10 + (unsigned)(s[i] - '0');
    }
    for (size_t i = frac_len; i < 2; i++)
        bps *= 10;
    return bps >= 1 && bps <= 9999 ? (uint16_t)bps : 0;
}
