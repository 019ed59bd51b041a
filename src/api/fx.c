/* The FX desk: PUT /v1/fx/rates (operator), GET /v1/fx/rates, POST /v1/fx/quotes (customer),
 * GET /v1/fx/quotes/{id}. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/clock.h"

json_t *api_quote_json(const struct mopay_quote *x)
{
    char rate[MOPAY_FX_RATE_TEXT_BYTES];
    mopay_fx_rate_format(x->q.rate, rate);
    json_t *j = json_pack("{s:o, s:s, s:s, s:s, s:I, s:o, s:o, s:o, s:o, s:o, s:s}", "id",
                          api_id_json(MOPAY_ID_QUOTE, &x->id), "sell_currency", x->q.sell->alpha, "buy_currency",
                          x->q.buy->alpha, "rate", rate, "spread_bps", (json_int_t)x->q.spread_bps, "fee",
                          api_money_json(x->q.fee_minor, x->q.sell), "sell_amount",
                          api_money_json(x->q.sell_minor, x->q.sell), "buy_amount",
                          api_money_json(x->q.buy_minor, x->q.buy), "created_at", api_time_json(x->created_at_ns),
                          "expires_at", api_time_json(x->expires_at_ns), "status", x->used ? "used" : "open");
    if (x->used)
        json_object_set_new(j, "payment_id", api_id_json(MOPAY_ID_PAYMENT, &x->payment_id));
    return j;
}

/* --- rates --- */

#define RATES_PER_PUT_MAX 256

struct rate_in {
    const struct mopay_currency *base, *quote;
    struct mopay_fx_rate rate;
    const char *source;
    int64_t as_of_ns;
};

struct rates_cmd {
    struct mopay_http_command base;
    struct rate_in rates[RATES_PER_PUT_MAX];
    size_t count;
};

static enum mopay_err rates_put_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    struct rates_cmd *c = (struct rates_cmd *)cmd;
    struct mopay_api *api = cmd->app;
    if (mopay_fx_rates(api->quotes, NULL, 0) + c->count > MOPAY_FX_PAIRS_MAX) {
        cmd->err_detail = "mopay holds at most 4096 pairs";
        return MOPAY_ERR_overloaded; /* checked before anything is written */
    }
    for (size_t i = 0; i < c->count; i++) {
        const struct rate_in *r = &c->rates[i];
        enum mopay_err err = mopay_fx_rate_set(api->quotes, store, now_ns, r->base, r->quote, r->rate, r->source,
                                               r->as_of_ns);
        if (err != MOPAY_OK)
            return err;
    }
    return MOPAY_OK;
}

static json_t *rates_render(struct mopay_http_command *cmd, int *status)
{
    struct mopay_api *api = cmd->app;
    const struct mopay_fx_pair_rate *pairs[MOPAY_FX_PAIRS_MAX];
    size_t n = mopay_fx_rates(api->quotes, pairs, MOPAY_FX_PAIRS_MAX);
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++) {
        char pair[8], rate[MOPAY_FX_RATE_TEXT_BYTES];
        snprintf(pair, sizeof(pair), "%s/%s", pairs[i]->base->alpha, pairs[i]->quote->alpha);
        mopay_fx_rate_format(pairs[i]->rate, rate);
        json_array_append_new(data, json_pack("{s:s, s:s, s:s, s:o}", "pair", pair, "rate", rate, "source",
                                              pairs[i]->source, "time", api_time_json(pairs[i]->as_of_ns)));
    }
    *status = 200;
    return json_pack("{s:o, s:n}", "data", data, "next_cursor");
}

static enum mopay_err rates_get_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    (void)cmd, (void)store, (void)now_ns;
    return MOPAY_OK;
}

struct rate_text {
    struct mopay_str pair, rate, source, time;
};

static const struct mopay_json_field rate_fields[] = {
    {.name = "pair", .kind = MOPAY_JSON_STRING, .required = true, .offset = offsetof(struct rate_text, pair)},
    {.name = "rate", .kind = MOPAY_JSON_STRING, .required = true, .offset = offsetof(struct rate_text, rate)},
    {.name = "source", .kind = MOPAY_JSON_STRING, .required = true, .offset = offsetof(struct rate_text, source)},
    {.name = "time", .kind = MOPAY_JSON_STRING, .required = true, .offset = offsetof(struct rate_text, time)},
    {0},
};

/* PUT /v1/fx/rates: {"rates": [{pair, rate, source, time}, ...]}; the handler checks the items. */
const struct mopay_json_field api_fx_rates_fields[] = {
    {.name = "rates", .kind = MOPAY_JSON_ARRAY, .required = true, .min_len = 1, .max_len = RATES_PER_PUT_MAX,
     .fields = rate_fields},
    {0},
};

/* One {pair, rate, source, time}; replies with the error at its pointer. */
static bool rate_read(struct mopay_http_request *req, json_t *item, size_t i, struct rate_in *out)
{
    char field[64];
    struct rate_text t = {0};
    struct mopay_json_error e;
    snprintf(field, sizeof(field), "/rates/%zu", i);
    if (!mopay_json_read(item, rate_fields, &t, &e)) {
        mopay_http_reply_error(req, MOPAY_ERR_field_invalid, field, "{pair, rate, source, time}, all strings");
        return false;
    }
    const char *pair = t.pair.ptr, *rate = t.rate.ptr, *source = t.source.ptr, *time = t.time.ptr;
    out->base = strlen(pair) == 7 && pair[3] == '/' ? mopay_currency_by_alpha(pair, 3) : NULL;
    out->quote = out->base != NULL ? mopay_currency_by_alpha(pair + 4, 3) : NULL;
    size_t slen = strlen(source);
    bool source_ok = slen >= 1 && slen <= MOPAY_FX_SOURCE_BYTES_MAX;
    for (size_t k = 0; source_ok && k < slen; k++)
        source_ok = source[k] >= 0x20 && source[k] < 0x7f;
    enum mopay_err err = out->quote == NULL || out->quote == out->base ? MOPAY_ERR_currency_unknown
                         : mopay_fx_rate_parse(rate, strlen(rate), &out->rate) != MOPAY_OK ? MOPAY_ERR_fx_rate_invalid
                         : !source_ok                                                        ? MOPAY_ERR_field_invalid
                         : mopay_time_parse(time, strlen(time), &out->as_of_ns) != MOPAY_OK ? MOPAY_ERR_field_invalid
                                                                                             : MOPAY_OK;
    if (err != MOPAY_OK) {
        mopay_http_reply_error(req, err, field, "pair BASE/QUOTE of two currencies, a rate of at most 12 decimals, "
                                                "a source of 1 to 64 printable characters, an RFC 3339 time");
        return false;
    }
    out->source = source;
    return true;
}

void api_fx_rates_put(struct mopay_http_request *req)
{
    struct rates_cmd *c = mopay_http_command_new(req, sizeof(*c), rates_put_apply, rates_render);
    if (c == NULL) {
        api_reply_oom(req);
        return;
    }
    json_t *body = mopay_http_body(req), *rates = NULL;
    struct mopay_json_error e;
    if (body == NULL || !mopay_json_read(body, api_fx_rates_fields, &rates, &e)) {
        mopay_http_reply_error(req, MOPAY_ERR_field_invalid, "/rates", "{\"rates\": [1 to 256 rates]}");
        return;
    }
    for (size_t i = 0; i < json_array_size(rates); i++)
        if (!rate_read(req, json_array_get(rates, i), i, &c->rates[i]))
            return;
    c->count = json_array_size(rates);
    mopay_http_submit(req, &c->base);
}

void api_fx_rates_list(struct mopay_http_request *req)
{
    struct rates_cmd *c = mopay_http_command_new(req, sizeof(struct mopay_http_command), rates_get_apply, rates_render);
    if (c == NULL)
        api_reply_oom(req);
    else
        mopay_http_submit(req, &c->base);
}

/* --- quotes --- */

struct quote_cmd {
    struct mopay_http_command base;
    struct mopay_id id;
    struct mopay_str sell_text, buy_text, sell_amount, buy_amount, lock;
    const struct mopay_currency *sell, *buy;
    int64_t sell_minor, buy_minor, lock_s;
    struct mopay_quote *quote;
};

static enum mopay_err quote_create_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    struct quote_cmd *c = (struct quote_cmd *)cmd;
    struct mopay_api *api = cmd->app;
    struct mopay_customer *customer = api_principal_customer(api, mopay_http_principal(cmd->req));
    MOPAY_ASSERT(customer != NULL);
    struct api_need need = {.quotes = 1};
    enum mopay_err err = api_admit(api, cmd, &need);
    if (err == MOPAY_OK)
        err = api_share_check(api, api->quote_share, customer, cmd, now_ns,
                              "this customer made too many quotes in the last hour (--quotes-per-customer-max)");
    if (err != MOPAY_OK)
        return err;
    err = mopay_quote_create(api->quotes, store, now_ns, customer, c->sell, c->buy, c->sell_minor, c->buy_minor,
                             c->lock_s, &c->quote);
    if (err == MOPAY_OK)
        api_share_take(api->quote_share, customer, now_ns);
    return err;
}

static enum mopay_err quote_get_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    (void)store, (void)now_ns;
    struct quote_cmd *c = (struct quote_cmd *)cmd;
    struct mopay_api *api = cmd->app;
    c->quote = mopay_quote_get(api->quotes, &c->id);
    if (c->quote == NULL || api_customer_visible(api, mopay_http_principal(cmd->req), &c->quote->customer->id) == NULL)
        return MOPAY_ERR_resource_not_found;
    return MOPAY_OK;
}

static json_t *quote_render(struct mopay_http_command *cmd, int *status)
{
    struct quote_cmd *c = (struct quote_cmd *)cmd;
    *status = cmd->apply == quote_create_apply ? 201 : 200;
    return api_quote_json(c->quote);
}

/* "30s".."24h": a number and s, m or h. */
static bool lock_read(const struct mopay_str *s, int64_t *out)
{
    if (s->len < 2 || s->len > 6)
        return false;
    int64_t n = 0;
    for (size_t i = 0; i + 1 < s->len; i++) {
        if (s->ptr[i] < '0' || s->ptr[i] > '9')
            return false;
        n = n * 10 + (s->ptr[i] - '0');
    }
    char unit = s->ptr[s->len - 1];
    int64_t mul = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : 0;
    *out = n * mul;
    return mul != 0 && *out >= MOPAY_QUOTE_LOCK_S_MIN && *out <= MOPAY_QUOTE_LOCK_S_MAX;
}

#define QC(m) offsetof(struct quote_cmd, m)
const struct mopay_json_field api_fx_quote_fields[] = {
    {.name = "sell_currency", .kind = MOPAY_JSON_STRING, .required = true, .offset = QC(sell_text), .min_len = 1,
     .max_len = 8},
    {.name = "buy_currency", .kind = MOPAY_JSON_STRING, .required = true, .offset = QC(buy_text), .min_len = 1,
     .max_len = 8},
    {.name = "sell_amount", .kind = MOPAY_JSON_STRING, .offset = QC(sell_amount), .min_len = 1, .max_len = 32},
    {.name = "buy_amount", .kind = MOPAY_JSON_STRING, .offset = QC(buy_amount), .min_len = 1, .max_len = 32},
    {.name = "lock", .kind = MOPAY_JSON_STRING, .required = true, .offset = QC(lock), .min_len = 1, .max_len = 8},
    {0},
};

static bool quote_check(struct mopay_http_request *req, struct quote_cmd *c)
{
    c->sell = mopay_currency_by_alpha(c->sell_text.ptr, c->sell_text.len);
    c->buy = mopay_currency_by_alpha(c->buy_text.ptr, c->buy_text.len);
    if (c->sell == NULL || c->buy == NULL || c->sell == c->buy) {
        mopay_http_reply_error(req, MOPAY_ERR_currency_unknown, c->sell == NULL ? "/sell_currency" : "/buy_currency",
                               "two different active ISO 4217 codes");
        return false;
    }
    bool selling = c->sell_amount.ptr != NULL;
    if (selling == (c->buy_amount.ptr != NULL)) {
        mopay_http_reply_error(req, MOPAY_ERR_field_missing, "/sell_amount", "give sell_amount or buy_amount");
        return false;
    }
    const struct mopay_str *amount = selling ? &c->sell_amount : &c->buy_amount;
    int64_t *minor = selling ? &c->sell_minor : &c->buy_minor;
    enum mopay_err err = mopay_money_parse(amount->ptr, amount->len, selling ? c->sell : c->buy, 0, minor);
    if (err == MOPAY_OK && *minor == 0)
        err = MOPAY_ERR_amount_invalid;
    if (err != MOPAY_OK) {
        mopay_http_reply_error(req, err, selling ? "/sell_amount" : "/buy_amount", "a positive amount in its currency");
        return false;
    }
    if (!lock_read(&c->lock, &c->lock_s)) {
        mopay_http_reply_error(req, MOPAY_ERR_field_invalid, "/lock", "30s to 24h, such as \"5m\"");
        return false;
    }
    return true;
}

void api_fx_quotes_create(struct mopay_http_request *req)
{
    struct quote_cmd *c = mopay_http_command_new(req, sizeof(*c), quote_create_apply, quote_render);
    if (c == NULL) {
        api_reply_oom(req);
        return;
    }
    if (mopay_http_json_read(req, mopay_http_body(req), api_fx_quote_fields, c) && quote_check(req, c))
        mopay_http_submit(req, &c->base);
}

void api_fx_quote_get(struct mopay_http_request *req)
{
    struct quote_cmd *c = mopay_http_command_new(req, sizeof(*c), quote_get_apply, quote_render);
    if (c == NULL) {
        api_reply_oom(req);
        return;
    }
    if (api_path_id(req, 0, MOPAY_ID_QUOTE, &c->id))
        mopay_http_submit(req, &c->base);
}
