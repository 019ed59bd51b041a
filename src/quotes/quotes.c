/* Rates, spreads and quotes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mopay/assert.h"
#include "mopay/index.h"
#include "mopay/quotes.h"
#include "mopay/text.h"

struct mopay_quotes_state {
    struct mopay_quotes_options options;
    struct mopay_wallet_state *wallets;
    struct mopay_index pairs;  /* key of (base, quote) -> pair rate */
    struct mopay_index quotes; /* id -> quote */
    size_t sweep_slot;         /* where mopay_quotes_tick goes on from */
};

static void pair_key(uint16_t base, uint16_t quote, uint8_t key[16])
{
    memset(key, 0, 16);
    memcpy(key, &base, 2);
    memcpy(key + 2, &quote, 2);
}

struct mopay_quotes_state *mopay_quotes_new(const struct mopay_quotes_options *options,
                                            struct mopay_wallet_state *wallets)
{
    struct mopay_quotes_state *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->options = *options;
    s->wallets = wallets;
    if (!mopay_index_init(&s->pairs, 64) || !mopay_index_init(&s->quotes, 256)) {
        mopay_quotes_free(s);
        return NULL;
    }
    return s;
}

void mopay_quotes_free(struct mopay_quotes_state *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; s->pairs.slots != NULL && i < s->pairs.capacity; i++)
        free(s->pairs.slots[i].value);
    for (size_t i = 0; s->quotes.slots != NULL && i < s->quotes.capacity; i++)
        free(s->quotes.slots[i].value);
    mopay_index_deinit(&s->pairs);
    mopay_index_deinit(&s->quotes);
    free(s);
}

static enum mopay_err pair_record(struct mopay_store *store, int64_t now_ns, const struct mopay_fx_pair_rate *p)
{
    char id[16], rate[MOPAY_FX_RATE_TEXT_BYTES];
    snprintf(id, sizeof(id), "%s/%s", p->base->alpha, p->quote->alpha);
    mopay_fx_rate_format(p->rate, rate);
    json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I}", "pair", id, "rate", rate, "source", p->source, "as_of_ns",
                          (json_int_t)p->as_of_ns, "updated_at_ns", (json_int_t)p->updated_at_ns);
    return mopay_store_record_put_json(store, "fxrate", id, j, now_ns);
}

/* Puts a pair in memory; NULL when out of memory or the table is full. */
static struct mopay_fx_pair_rate *pair_put(struct mopay_quotes_state *s, const struct mopay_currency *base,
                                           const struct mopay_currency *quote)
{
    uint8_t key[16];
    pair_key(base->numeric, quote->numeric, key);
    struct mopay_fx_pair_rate *p = mopay_index_get(&s->pairs, key);
    if (p != NULL)
        return p;
    if (s->pairs.count >= MOPAY_FX_PAIRS_MAX || (p = calloc(1, sizeof(*p))) == NULL)
        return NULL;
    p->base = base;
    p->quote = quote;
    if (!mopay_index_put(&s->pairs, key, p)) {
        free(p);
        return NULL;
    }
    return p;
}

enum mopay_err mopay_fx_rate_set(struct mopay_quotes_state *s, struct mopay_store *store, int64_t now_ns,
                                 const struct mopay_currency *base, const struct mopay_currency *quote,
                                 struct mopay_fx_rate rate, const char *source, int64_t as_of_ns)
{
    MOPAY_ASSERT(base != quote && rate.units > 0 && strlen(source) <= MOPAY_FX_SOURCE_BYTES_MAX);
    struct mopay_fx_pair_rate *p = pair_put(s, base, quote);
    if (p == NULL)
        return MOPAY_ERR_overloaded;
    p->rate = rate;
    mopay_text_copy(p->source, sizeof(p->source), source);
    p->as_of_ns = as_of_ns;
    p->updated_at_ns = now_ns;
    return store != NULL ? pair_record(store, now_ns, p) : MOPAY_OK;
}

size_t mopay_fx_rates(struct mopay_quotes_state *s, const struct mopay_fx_pair_rate **out, size_t cap)
{
    if (out == NULL)
        return s->pairs.count;
    size_t n = 0;
    for (size_t i = 0; i < s->pairs.capacity && n < cap; i++)
        if (s->pairs.slots[i].value != NULL)
            out[n++] = s->pairs.slots[i].value;
    return n;
}

/* The mid rate of 1 sell in buy: the pair as given, or the other way round inverted (rounded
 * down, mopay/fx.h). Its time, to judge its age. */
static enum mopay_err rate_of(struct mopay_quotes_state *s, const struct mopay_currency *sell,
                              const struct mopay_currency *buy, struct mopay_fx_rate *rate, int64_t *as_of_ns)
{
    uint8_t key[16];
    pair_key(sell->numeric, buy->numeric, key);
    const struct mopay_fx_pair_rate *p = mopay_index_get(&s->pairs, key);
    if (p != NULL) {
        *rate = p->rate;
        *as_of_ns = p->as_of_ns;
        return MOPAY_OK;
    }
    pair_key(buy->numeric, sell->numeric, key);
    if ((p = mopay_index_get(&s->pairs, key)) == NULL)
        return MOPAY_ERR_fx_rate_missing;
    *as_of_ns = p->as_of_ns;
    return mopay_fx_rate_invert(p->rate, rate);
}

static uint32_t spread_of(const struct mopay_quotes_state *s, uint16_t sell, uint16_t buy)
{
    for (size_t i = 0; i < s->options.spread_count; i++)
        if (s->options.spreads[i].sell == sell && s->options.spreads[i].buy == buy)
            return s->options.spreads[i].bps;
    return s->options.spread_default_bps;
}

static enum mopay_err quote_record(struct mopay_store *store, int64_t now_ns, const struct mopay_quote *x)
{
    char id[MOPAY_ID_TEXT_BYTES], customer[MOPAY_ID_TEXT_BYTES], payment[MOPAY_ID_TEXT_BYTES];
    mopay_id_format(MOPAY_ID_QUOTE, &x->id, id);
    mopay_id_format(MOPAY_ID_CUSTOMER, &x->customer->id, customer);
    mopay_id_format(MOPAY_ID_PAYMENT, &x->payment_id, payment);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:s}", "id", id,
                          "customer_id", customer, "sell", x->q.sell->alpha, "buy", x->q.buy->alpha, "rate_units",
                          (json_int_t)x->q.rate.units, "spread_bps", (json_int_t)x->q.spread_bps, "base_minor",
                          (json_int_t)x->q.base_minor, "fee_minor", (json_int_t)x->q.fee_minor, "sell_minor",
                          (json_int_t)x->q.sell_minor, "buy_minor", (json_int_t)x->q.buy_minor, "created_at_ns",
                          (json_int_t)x->created_at_ns, "expires_at_ns", (json_int_t)x->expires_at_ns, "used", x->used,
                          "payment_id", payment);
    return mopay_store_record_put_json(store, "quote", id, j, now_ns);
}

enum mopay_err mopay_quote_create(struct mopay_quotes_state *s, struct mopay_store *store, int64_t now_ns,
                                  struct mopay_customer *customer, const struct mopay_currency *sell,
                                  const struct mopay_currency *buy, int64_t sell_minor, int64_t buy_minor,
                                  int64_t lock_s, struct mopay_quote **out)
{
    MOPAY_ASSERT((sell_minor > 0) != (buy_minor > 0) && sell != buy && lock_s >= 0 &&
                 lock_s <= MOPAY_QUOTE_LOCK_S_MAX);
    struct mopay_fx_rate rate;
    int64_t as_of_ns = 0;
    enum mopay_err err = rate_of(s, sell, buy, &rate, &as_of_ns);
    if (err != MOPAY_OK)
        return err;
    if (now_ns - as_of_ns > s->options.rate_max_age_s * 1000000000LL)
        return MOPAY_ERR_fx_rate_stale;
    uint32_t bps = spread_of(s, sell->numeric, buy->numeric);
    struct mopay_fx_quote q;
    err = sell_minor > 0 ? mopay_fx_quote_sell(sell_minor, sell, buy, rate, bps, &q)
                         : mopay_fx_quote_buy(buy_minor, sell, buy, rate, bps, &q);
    if (err != MOPAY_OK)
        return err;
    if (q.buy_minor <= 0 || q.base_minor <= 0)
        return MOPAY_ERR_amount_invalid; /* too small to convert to anything */
    struct mopay_quote *x = calloc(1, sizeof(*x));
    if (x == NULL)
        return MOPAY_ERR_internal;
    mopay_id_new(now_ns, &x->id);
    x->customer = customer;
    x->q = q;
    x->created_at_ns = now_ns;
    x->expires_at_ns = now_ns + lock_s * 1000000000LL;
    if (!mopay_index_put(&s->quotes, x->id.bytes, x)) {
        free(x);
        return MOPAY_ERR_internal;
    }
    *out = x;
    return quote_record(store, now_ns, x);
}

struct mopay_quote *mopay_quote_get(struct mopay_quotes_state *s, const struct mopay_id *id)
{
    return mopay_index_get(&s->quotes, id->bytes);
}

enum mopay_err mopay_quote_usable(const struct mopay_quote *x, const struct mopay_customer *customer,
                                  const struct mopay_currency *sell, const struct mopay_currency *buy,
                                  int64_t buy_minor, int64_t now_ns)
{
    if (x->customer != customer || x->q.sell != sell || x->q.buy != buy || x->q.buy_minor != buy_minor)
        return MOPAY_ERR_quote_mismatch;
    if (x->used)
        return MOPAY_ERR_quote_used;
    /* a quote made on the spot for its payment (lock 0) is used in the same step */
    if (now_ns > x->expires_at_ns || (now_ns == x->expires_at_ns && x->expires_at_ns != x->created_at_ns))
        return MOPAY_ERR_quote_expired;
    return MOPAY_OK;
}

enum mopay_err mopay_quote_use(struct mopay_quotes_state *s, struct mopay_store *store, int64_t now_ns,
                               struct mopay_quote *x, const struct mopay_id *payment_id)
{
    (void)s;
    MOPAY_ASSERT(!x->used);
    x->used = true;
    x->payment_id = *payment_id;
    return quote_record(store, now_ns, x);
}

/* load.c */
enum mopay_err quotes_load_into(struct mopay_quotes_state *s, struct mopay_wallet_state *wallets,
                                struct mopay_index *quotes, struct mopay_store *store, char *err, size_t err_cap);

enum mopay_err mopay_quotes_load(struct mopay_quotes_state *s, struct mopay_store *store, char *err, size_t err_cap)
{
    return quotes_load_into(s, s->wallets, &s->quotes, store, err, err_cap);
}

size_t mopay_quotes_count(const struct mopay_quotes_state *s)
{
    return s->quotes.count;
}

/* Whether a quote is done with (used, or its lock over) for long enough to leave memory. */
static bool quote_spent(const struct mopay_quote *x, int64_t now_ns)
{
    return now_ns - x->expires_at_ns >= (int64_t)MOPAY_QUOTE_RETENTION_S * 1000000000LL;
}

size_t mopay_quotes_tick(struct mopay_quotes_state *s, int64_t now_ns)
{
    size_t dropped = 0;
    for (size_t seen = 0; seen < MOPAY_QUOTES_SWEEP_SLOTS && s->quotes.count > 0; seen++) {
        if (s->sweep_slot >= s->quotes.capacity)
            s->sweep_slot = 0;
        struct mopay_quote *x = s->quotes.slots[s->sweep_slot].value;
        if (x == NULL || !quote_spent(x, now_ns)) {
            s->sweep_slot++;
            continue;
        }
        /* the slot is filled again by a later entry (backward-shift deletion): look at it anew */
        mopay_index_remove(&s->quotes, x->id.bytes);
        free(x);
        dropped++;
    }
    return dropped;
}
