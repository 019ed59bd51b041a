/* FX rates and quotes in the journal: their tables, and how replay puts them back with the checks
 * their JSON records were loaded with (load.c, for databases from before). A rate is keyed by
 * its pair, not an id: replay finds it by its two currencies. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"

static void *ref_customer(void *state, const struct mopay_id *id)
{
    return mopay_wallet_customer(((struct mopay_quotes_state *)state)->wallets, id);
}

/* --- rates --- */

#define R struct mopay_fx_pair_rate
static const struct mopay_codec_field rate_fields[] = {
    MOPAY_CODEC_CURRENCY_FIELD(R, base),
    MOPAY_CODEC_CURRENCY_FIELD(R, quote),
    MOPAY_CODEC_UINT_FIELD(R, rate.units),
    MOPAY_CODEC_TEXT_FIELD(R, source),
    MOPAY_CODEC_INT_FIELD(R, as_of_ns),
    MOPAY_CODEC_INT_FIELD(R, updated_at_ns),
};
#undef R

static enum mopay_err rate_apply(void *state, const void *image, char *why, size_t why_cap)
{
    struct mopay_quotes_state *s = state;
    const struct mopay_fx_pair_rate *in = image;
    if (in->base == NULL || in->quote == NULL || in->base == in->quote || in->rate.units == 0)
        return mopay_codec_refuse(why, why_cap, "fx rate", "no pair, or no rate");
    struct mopay_fx_pair_rate *p = pair_put(s, in->base, in->quote);
    if (p == NULL)
        return mopay_codec_refuse(why, why_cap, "fx rate", "out of memory, or more pairs than the table holds");
    mopay_codec_copy(&mopay_quotes_rate_kind, p, in);
    return MOPAY_OK;
}

static void rate_each(void *state, bool (*fn)(void *ctx, const void *record), void *ctx)
{
    mopay_index_each(&((struct mopay_quotes_state *)state)->pairs, fn, ctx);
}

const struct mopay_record_kind mopay_quotes_rate_kind = {
    .name = "fxrate",
    .tag = MOPAY_RECORD_FX_RATE,
    .version = 1,
    .size = sizeof(struct mopay_fx_pair_rate),
    .fields = rate_fields,
    .field_count = sizeof(rate_fields) / sizeof(rate_fields[0]),
    .apply = rate_apply,
    .each = rate_each,
};

/* --- quotes --- */

#define Q struct mopay_quote
static const struct mopay_codec_field quote_fields[] = {
    MOPAY_CODEC_ID_FIELD(Q, id),
    MOPAY_CODEC_REF_FIELD(Q, customer, ref_customer),
    MOPAY_CODEC_CURRENCY_FIELD(Q, q.sell),
    MOPAY_CODEC_CURRENCY_FIELD(Q, q.buy),
    MOPAY_CODEC_UINT_FIELD(Q, q.rate.units),
    MOPAY_CODEC_UINT_FIELD(Q, q.spread_bps),
    MOPAY_CODEC_INT_FIELD(Q, q.base_minor),
    MOPAY_CODEC_INT_FIELD(Q, q.fee_minor),
    MOPAY_CODEC_INT_FIELD(Q, q.sell_minor),
    MOPAY_CODEC_INT_FIELD(Q, q.buy_minor),
    MOPAY_CODEC_INT_FIELD(Q, created_at_ns),
    MOPAY_CODEC_INT_FIELD(Q, expires_at_ns),
    MOPAY_CODEC_BOOL_FIELD(Q, used),
    MOPAY_CODEC_ID_FIELD(Q, payment_id),
};
#undef Q
_Static_assert(offsetof(struct mopay_customer, id) == 0, "a record a REF field names begins with its id");

static bool quote_valid(const struct mopay_quote *x)
{
    int64_t sell = 0;
    return x->customer != NULL && x->q.sell != NULL && x->q.buy != NULL && x->q.rate.units > 0 &&
           x->q.spread_bps <= MOPAY_FX_SPREAD_BPS_MAX && x->q.base_minor > 0 && x->q.fee_minor >= 0 &&
           !__builtin_add_overflow(x->q.base_minor, x->q.fee_minor, &sell) && x->q.sell_minor == sell &&
           x->q.buy_minor > 0;
}

static enum mopay_err quote_apply(void *state, const void *image, char *why, size_t why_cap)
{
    struct mopay_quotes_state *s = state;
    const struct mopay_quote *in = image;
    if (!quote_valid(in))
        return mopay_codec_refuse(why, why_cap, "quote", "no customer or currencies, or amounts out of range");
    struct mopay_quote *x = mopay_quote_get(s, &in->id);
    if (x != NULL) { /* used or not is a field: nothing kept beside it */
        mopay_codec_copy(&mopay_quotes_quote_kind, x, in);
        return MOPAY_OK;
    }
    if ((x = malloc(sizeof(*x))) == NULL)
        return mopay_codec_refuse(why, why_cap, "quote", "out of memory");
    memcpy(x, in, sizeof(*x));
    if (!mopay_index_put(&s->quotes, x->id.bytes, x)) {
        free(x);
        return mopay_codec_refuse(why, why_cap, "quote", "out of memory");
    }
    return MOPAY_OK;
}

static void quote_each(void *state, bool (*fn)(void *ctx, const void *record), void *ctx)
{
    mopay_index_each(&((struct mopay_quotes_state *)state)->quotes, fn, ctx);
}

const struct mopay_record_kind mopay_quotes_quote_kind = {
    .name = "quote",
    .tag = MOPAY_RECORD_QUOTE,
    .version = 1,
    .size = sizeof(struct mopay_quote),
    .fields = quote_fields,
    .field_count = sizeof(quote_fields) / sizeof(quote_fields[0]),
    .apply = quote_apply,
    .each = quote_each,
};

void quotes_records_register(struct mopay_quotes_state *s)
{
    mopay_journal_register(s->journal, &mopay_quotes_rate_kind, s);
    mopay_journal_register(s->journal, &mopay_quotes_quote_kind, s);
}

enum mopay_err pair_record(struct mopay_quotes_state *s, int64_t now_ns, const struct mopay_fx_pair_rate *p)
{
    return mopay_journal_put(s->journal, &mopay_quotes_rate_kind, p, now_ns);
}

enum mopay_err quote_record(struct mopay_quotes_state *s, int64_t now_ns, const struct mopay_quote *x)
{
    return mopay_journal_put(s->journal, &mopay_quotes_quote_kind, x, now_ns);
}
