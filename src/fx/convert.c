/* Conversions between minor units, fees and quotes (fx.h), in exact integers.
 *
 * One sell minor unit is worth num / den buy minor units, where
 *     num / den = (units / 10^12) * 10^(e_to - e_from)
 * with the power of ten on whichever side keeps it whole. Every result is then one product and
 * one division of unsigned 128-bit integers, rounded by the remainder: no intermediate
 * rounding, so floor and ceiling are exact and the rounding rule can be checked to the unit. */
#include "mopay/fx.h"

#include "mopay/assert.h"

/* money.c's limit: 10^18 is the largest power of ten in int64. With it, den <= 10^30 and
 * num <= (2^64 - 1) * 10^18 < 2^124: both fit in 128 bits before any amount is involved. */
#define FX_EXPONENT_MAX 18

typedef unsigned __int128 u128;

#define U128_MAX (~(u128)0)

/* num / den buy minor units per sell minor unit. */
struct fx_ratio {
    u128 num;
    u128 den;
};

static u128 pow10_u128(unsigned n)
{
    MOPAY_ASSERT(n <= MOPAY_FX_RATE_DECIMALS + FX_EXPONENT_MAX);
    u128 p = 1;
    for (unsigned i = 0; i < n; i++)
        p *= 10;
    return p;
}

static struct fx_ratio fx_ratio_make(const struct mopay_currency *from, const struct mopay_currency *to,
                                     struct mopay_fx_rate rate)
{
    MOPAY_ASSERT(from != NULL && to != NULL);
    MOPAY_ASSERT(from->exponent <= FX_EXPONENT_MAX && to->exponent <= FX_EXPONENT_MAX);
    MOPAY_ASSERT(rate.units > 0);
    struct fx_ratio r = {.num = rate.units, .den = MOPAY_FX_RATE_SCALE};
    if (to->exponent >= from->exponent)
        r.num *= pow10_u128((unsigned)(to->exponent - from->exponent));
    else
        r.den *= pow10_u128((unsigned)(from->exponent - to->exponent));
    return r;
}

static bool mul_u128(u128 a, u128 b, u128 *out)
{
    if (a != 0 && b > U128_MAX / a)
        return false;
    *out = a * b;
    return true;
}

/* a * num / den, rounded down or up, into *out. False when the result is beyond int64.
 * Refusing a product above 2^128 refuses no result that fits, for the ratios fx_ratio_make
 * builds: with a < 2^63, the other factor is above 2^65, so it carries a power of ten, and then
 * the divisor is 10^12 (converting) or units < 2^64 (sell_for_buy): the quotient passes 2^64. */
static bool mul_div(int64_t a, u128 num, u128 den, bool up, int64_t *out)
{
    MOPAY_ASSERT(a >= 0);
    MOPAY_ASSERT(den > 0);
    u128 product;
    if (!mul_u128((u128)a, num, &product))
        return false;
    u128 q = product / den;
    if (up && product % den != 0)
        q++;
    if (q > INT64_MAX)
        return false;
    *out = (int64_t)q;
    return true;
}

static enum mopay_err convert(int64_t amount_minor, const struct mopay_currency *from,
                              const struct mopay_currency *to, struct mopay_fx_rate rate, bool up,
                              int64_t *out_minor)
{
    MOPAY_ASSERT(amount_minor >= 0);
    MOPAY_ASSERT(out_minor != NULL);
    struct fx_ratio r = fx_ratio_make(from, to, rate);
    int64_t result;
    if (!mul_div(amount_minor, r.num, r.den, up, &result))
        return MOPAY_ERR_amount_overflow;
    *out_minor = result;
    return MOPAY_OK;
}

enum mopay_err mopay_fx_convert_down(int64_t amount_minor, const struct mopay_currency *from,
                                     const struct mopay_currency *to, struct mopay_fx_rate rate,
                                     int64_t *out_minor)
{
    return convert(amount_minor, from, to, rate, false, out_minor);
}

enum mopay_err mopay_fx_convert_up(int64_t amount_minor, const struct mopay_currency *from,
                                   const struct mopay_currency *to, struct mopay_fx_rate rate,
                                   int64_t *out_minor)
{
    return convert(amount_minor, from, to, rate, true, out_minor);
}

/* floor(s * num / den) >= b  <=>  s * num >= b * den  <=>  s >= b * den / num, so the least such
 * s is ceil(b * den / num): the same ratio the forward conversion uses, turned over. */
enum mopay_err mopay_fx_sell_for_buy(int64_t buy_minor, const struct mopay_currency *sell,
                                     const struct mopay_currency *buy, struct mopay_fx_rate rate,
                                     int64_t *sell_minor)
{
    MOPAY_ASSERT(buy_minor >= 0);
    MOPAY_ASSERT(sell_minor != NULL);
    struct fx_ratio r = fx_ratio_make(sell, buy, rate);
    int64_t s, bought;
    /* A refused product b * den means s > 2^64: den > 10^12 only when num = units < 2^64. */
    if (!mul_div(buy_minor, r.den, r.num, true, &s))
        return MOPAY_ERR_amount_overflow;
    /* The payment converts s forward; a quote it cannot execute is no quote. */
    if (!mul_div(s, r.num, r.den, false, &bought))
        return MOPAY_ERR_amount_overflow;
    MOPAY_ASSERT(bought >= buy_minor);
    if (s > 0) {
        int64_t short_by_one;
        bool ok = mul_div(s - 1, r.num, r.den, false, &short_by_one);
        MOPAY_ASSERT(ok && short_by_one < buy_minor);
    }
    *sell_minor = s;
    return MOPAY_OK;
}

int64_t mopay_fx_fee(int64_t amount_minor, uint32_t spread_bps)
{
    MOPAY_ASSERT(amount_minor >= 0);
    MOPAY_ASSERT(spread_bps <= MOPAY_FX_SPREAD_BPS_MAX);
    /* amount * 10^4 < 2^77 and the fee is at most the amount: neither step can fail. */
    int64_t fee;
    bool ok = mul_div(amount_minor, spread_bps, 10000, true, &fee);
    MOPAY_ASSERT(ok && fee <= amount_minor);
    return fee;
}

static void quote_start(const struct mopay_currency *sell, const struct mopay_currency *buy,
                        struct mopay_fx_rate rate, uint32_t spread_bps, struct mopay_fx_quote *q)
{
    MOPAY_ASSERT(sell != NULL && buy != NULL);
    MOPAY_ASSERT(rate.units > 0);
    MOPAY_ASSERT(spread_bps <= MOPAY_FX_SPREAD_BPS_MAX);
    *q = (struct mopay_fx_quote){.sell = sell, .buy = buy, .rate = rate, .spread_bps = spread_bps};
}

enum mopay_err mopay_fx_quote_sell(int64_t sell_minor, const struct mopay_currency *sell,
                                   const struct mopay_currency *buy, struct mopay_fx_rate rate,
                                   uint32_t spread_bps, struct mopay_fx_quote *out)
{
    MOPAY_ASSERT(sell_minor >= 0);
    MOPAY_ASSERT(out != NULL);
    struct mopay_fx_quote q;
    quote_start(sell, buy, rate, spread_bps, &q);

    /* b + ceil(b * bps / 10^4) <= S  <=>  b * bps / 10^4 <= S - b  <=>  b * (10^4 + bps) <= S * 10^4,
     * so the largest such b is a floor; S * 10^4 < 2^77 cannot fail. */
    const u128 scaled = (u128)sell_minor * 10000, per_base = 10000 + spread_bps;
    bool ok = mul_div(sell_minor, 10000, per_base, false, &q.base_minor);
    MOPAY_ASSERT(ok && q.base_minor <= sell_minor);
    MOPAY_ASSERT((u128)q.base_minor * per_base <= scaled && ((u128)q.base_minor + 1) * per_base > scaled);
    q.fee_minor = sell_minor - q.base_minor;
    q.sell_minor = sell_minor;
    /* What base leaves over beyond its own fee is at most one unit (the spread is <= 100%). */
    int64_t over = q.fee_minor - mopay_fx_fee(q.base_minor, spread_bps);
    MOPAY_ASSERT(over == 0 || over == 1);

    enum mopay_err err = mopay_fx_convert_down(q.base_minor, sell, buy, rate, &q.buy_minor);
    if (err != MOPAY_OK)
        return err;
    *out = q;
    return MOPAY_OK;
}

enum mopay_err mopay_fx_quote_buy(int64_t buy_minor, const struct mopay_currency *sell,
                                  const struct mopay_currency *buy, struct mopay_fx_rate rate,
                                  uint32_t spread_bps, struct mopay_fx_quote *out)
{
    MOPAY_ASSERT(buy_minor >= 0);
    MOPAY_ASSERT(out != NULL);
    struct mopay_fx_quote q;
    quote_start(sell, buy, rate, spread_bps, &q);

    enum mopay_err err = mopay_fx_sell_for_buy(buy_minor, sell, buy, rate, &q.base_minor);
    if (err != MOPAY_OK)
        return err;
    q.fee_minor = mopay_fx_fee(q.base_minor, spread_bps);
    if (__builtin_add_overflow(q.base_minor, q.fee_minor, &q.sell_minor))
        return MOPAY_ERR_amount_overflow;
    q.buy_minor = buy_minor;
    *out = q;
    return MOPAY_OK;
}
