/* Spreads from the configuration, and rates and quotes from their JSON records at start (a
 * database from before the journal). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/text.h"

/* One "SELL/BUY:bps" or "*:bps" item. */
static bool spread_item(const char *item, size_t len, struct mopay_quotes_options *out)
{
    const char *colon = memchr(item, ':', len);
    if (colon == NULL || colon == item + len - 1 || (size_t)(item + len - colon - 1) > 5)
        return false;
    unsigned bps = 0;
    for (const char *p = colon + 1; p < item + len; p++) {
        if (*p < '0' || *p > '9')
            return false;
        bps = bps * 10 + (unsigned)(*p - '0');
    }
    if (bps > MOPAY_FX_SPREAD_BPS_MAX)
        return false;
    size_t key_len = (size_t)(colon - item);
    if (key_len == 1 && item[0] == '*') {
        out->spread_default_bps = bps;
        return true;
    }
    const struct mopay_currency *sell = key_len == 7 && item[3] == '/' ? mopay_currency_by_alpha(item, 3) : NULL;
    const struct mopay_currency *buy = sell != NULL ? mopay_currency_by_alpha(item + 4, 3) : NULL;
    if (buy == NULL || buy == sell || out->spread_count == MOPAY_FX_SPREADS_MAX)
        return false;
    out->spreads[out->spread_count].sell = sell->numeric;
    out->spreads[out->spread_count].buy = buy->numeric;
    out->spreads[out->spread_count++].bps = bps;
    return true;
}

enum mopay_err mopay_quotes_spreads_parse(const char *text, struct mopay_quotes_options *out, char *err,
                                          size_t err_cap)
{
    out->spread_count = 0;
    char every[16];
    if (strchr(text, ':') == NULL && strlen(text) < 8) { /* one figure for every corridor */
        snprintf(every, sizeof(every), "*:%s", text);
        text = every;
    }
    for (const char *p = text; *p != '\0';) {
        size_t len = strcspn(p, ",");
        if (!spread_item(p, len, out)) {
            snprintf(err, err_cap, "fx-spreads: '%.*s' is not SELL/BUY:bps or *:bps (bps 0 to 10000)", (int)len, p);
            return MOPAY_ERR_config_invalid;
        }
        p += len + (p[len] == ',');
    }
    return MOPAY_OK;
}

struct load_ctx {
    struct mopay_quotes_state *s;
    char *err;
    size_t err_cap;
    bool failed;
};

static bool load_fail(struct load_ctx *ctx, const char *kind, const char *id)
{
    snprintf(ctx->err, ctx->err_cap, "%s record %s: malformed, or what it names is missing", kind, id);
    ctx->failed = true;
    return false;
}

static bool load_rate(void *arg, const char *id, const char *text, size_t len)
{
    struct load_ctx *ctx = arg;
    json_t *j = json_loadb(text, len, 0, NULL);
    const char *pair = NULL, *rate_text = NULL, *source = NULL;
    json_int_t as_of = 0, updated = 0;
    struct mopay_fx_rate rate;
    const struct mopay_currency *base = NULL, *quote = NULL;
    bool ok = j != NULL &&
              json_unpack(j, "{s:s, s:s, s:s, s:I, s:I}", "pair", &pair, "rate", &rate_text, "source", &source,
                          "as_of_ns", &as_of, "updated_at_ns", &updated) == 0 &&
              strlen(pair) == 7 && pair[3] == '/' && (base = mopay_currency_by_alpha(pair, 3)) != NULL &&
              (quote = mopay_currency_by_alpha(pair + 4, 3)) != NULL && base != quote &&
              mopay_fx_rate_parse(rate_text, strlen(rate_text), &rate) == MOPAY_OK &&
              strlen(source) <= MOPAY_FX_SOURCE_BYTES_MAX &&
              pair_set(ctx->s, base, quote, rate, source, as_of, updated) != NULL;
    json_decref(j);
    return ok ? true : load_fail(ctx, "fx rate", id);
}

static bool quote_read(struct load_ctx *ctx, json_t *j, struct mopay_quote *x)
{
    const char *id = NULL, *cid = NULL, *sell = NULL, *buy = NULL, *pid = NULL;
    json_int_t v[8] = {0};
    int used = 0;
    struct mopay_id customer;
    bool ok = json_unpack(j, "{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:s}", "id", &id,
                          "customer_id", &cid, "sell", &sell, "buy", &buy, "rate_units", &v[0], "spread_bps", &v[1],
                          "base_minor", &v[2], "fee_minor", &v[3], "sell_minor", &v[4], "buy_minor", &v[5],
                          "created_at_ns", &v[6], "expires_at_ns", &v[7], "used", &used, "payment_id", &pid) == 0 &&
              mopay_id_parse(MOPAY_ID_QUOTE, id, strlen(id), &x->id) == MOPAY_OK &&
              mopay_id_parse(MOPAY_ID_CUSTOMER, cid, strlen(cid), &customer) == MOPAY_OK &&
              mopay_id_parse(MOPAY_ID_PAYMENT, pid, strlen(pid), &x->payment_id) == MOPAY_OK &&
              (x->customer = mopay_wallet_customer(ctx->s->wallets, &customer)) != NULL &&
              (x->q.sell = mopay_currency_by_alpha(sell, strlen(sell))) != NULL &&
              (x->q.buy = mopay_currency_by_alpha(buy, strlen(buy))) != NULL && v[0] > 0 && v[1] >= 0 &&
              v[1] <= MOPAY_FX_SPREAD_BPS_MAX && v[2] > 0 && v[3] >= 0 && v[4] == v[2] + v[3] && v[5] > 0;
    x->q.rate.units = (uint64_t)v[0], x->q.spread_bps = (uint32_t)v[1];
    x->q.base_minor = v[2], x->q.fee_minor = v[3], x->q.sell_minor = v[4], x->q.buy_minor = v[5];
    x->created_at_ns = v[6], x->expires_at_ns = v[7], x->used = used != 0;
    return ok;
}

static bool load_quote(void *arg, const char *id, const char *text, size_t len)
{
    struct load_ctx *ctx = arg;
    json_t *j = json_loadb(text, len, 0, NULL);
    struct mopay_quote *x = calloc(1, sizeof(*x));
    bool ok = j != NULL && x != NULL && quote_read(ctx, j, x) && mopay_index_put(&ctx->s->quotes, x->id.bytes, x);
    json_decref(j);
    if (!ok) {
        free(x);
        return load_fail(ctx, "quote", id);
    }
    return true;
}

enum mopay_err mopay_quotes_load(struct mopay_quotes_state *s, struct mopay_store *store, char *err, size_t err_cap)
{
    struct load_ctx ctx = {s, err, err_cap, false};
    enum mopay_err e = store->records_load(store, "fxrate", load_rate, &ctx);
    if (e == MOPAY_OK && !ctx.failed)
        e = store->records_load(store, "quote", load_quote, &ctx);
    if (ctx.failed)
        return MOPAY_ERR_store_failed;
    if (e != MOPAY_OK)
        snprintf(err, err_cap, "loading fx records: %s", store->last_error);
    return e;
}
