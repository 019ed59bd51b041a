/* Rates, spreads and quotes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/text.h"

static void pair_key(uint16_t base, uint16_t quote, uint8_t key[16])
{
    memset(key, 0, 16);
    memcpy(key, &base, 2);
    memcpy(key + 2, &quote, 2);
}

struct mopay_quotes_state *mopay_quotes_new(const struct mopay_quotes_options *options,
                                            struct mopay_wallet_state *wallets, struct mopay_journal *journal)
{
    MOPAY_ASSERT(wallets != NULL && journal != NULL);
    struct mopay_quotes_state *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->options = *options;
    s->wallets = wallets;
    s->journal = journal;
    if (!mopay_index_init(&s->pairs, 64) || !mopay_index_init(&s->quotes, 256)) {
        mopay_quotes_free(s);
        return NULL;
    }
    quotes_records_register(s);
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

struct mopay_fx_pair_rate *pair_put(struct mopay_quotes_state *s, const struct mopay_currency *base,
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

struct mopay_fx_pair_rate *pair_set(struct mopay_quotes_state *s, const struct mopay_currency *base,
                                    const struct mopay_currency *quote, struct mopay_fx_rate rate, const char *source,
                                    int64_t as_of_ns, int64_t updated_at_ns)
{
    struct mopay_fx_pair_rate *p = pair_put(s, base, quote);
    if (p == NULL)
        return NULL;
    p->rate = rate;
    mopay_text_copy(p->source, sizeof(p->source), source);
    p->as_of_ns = as_of_ns;
    p->updated_at_ns = updated_at_ns;
    return p;
}

enum mopay_err mopay_fx_rate_set(struct mopay_quotes_state *s, struct mopay_store *store, int64_t now_ns,
                                 const struct mopay_currency *base, const struct mopay_currency *quote,
                                 struct mopay_fx_rate rate, const char *source, int64_t as_of_ns)
{
    (void)store; /* the rate's record goes to the journal */
    MOPAY_ASSERT(base != quote && rate.units > 0 && strlen(source) <= MOPAY_FX_SOURCE_BYTES_MAX);
    struct mopay_fx_pair_rate *p = pair_set(s, base, quote, rate, source, as_of_ns, now_ns);
    return p != NULL ? pair_record(s, now_ns, p) : MOPAY_ERR_overloaded;
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

enum mopay_err mopay_quote_create(struct mopay_quotes_state *s, struct mopay_store *store, int64_t now_ns,
                                  struct mopay_customer *customer, const struct mopay_currency *sell,
                                  const struct mopay_currency *buy, int64_t sell_minor, int64_t buy_minor,
                                  int64_t lock_s, struct mopay_quote **out)
{
    (void)store; /* the quote's record goes to the journal */
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
    return quote_record(s, now_ns, x);
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
    (void)store; /* the quote's record goes to the journal */
    MOPAY_ASSERT(!x->used);
    x->used = true;
    x->payment_id = *payment_id;
    return quote_record(s, now_ns, x);
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
