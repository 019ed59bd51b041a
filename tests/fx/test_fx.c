/* FX: rate text, inversion, conversions, fees and quotes against exact fractions, the rounding
 * rule as properties over many random amounts, rates and currency pairs, and the rates file.
 *
 * The exact arithmetic here is deliberately not the module's: one from minor unit is worth
 * N / D to minor units with N = units * 10^e_to and D = 10^(12 + e_from), unreduced, and every
 * claim is checked as an inequality of 128-bit products. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "mopay/fx.h"

typedef unsigned __int128 u128;

#define U128_MAX (~(u128)0)
#define SENTINEL ((uint64_t)0x5A5A5A5A5A5A5A5A)
#define TEXT(literal) literal, sizeof(literal) - 1
#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* Every exponent mopay's table has: 0 (JPY, KRW, VND), 2 (USD, CNY), 3 (KWD), 4 (CLF). */
static const char *const alphas[] = {"JPY", "KRW", "VND", "USD", "CNY", "KWD", "CLF"};

static const struct mopay_currency *currency(const char *alpha)
{
    const struct mopay_currency *c = mopay_currency_by_alpha(alpha, strlen(alpha));
    if (c == NULL)
        fail_msg("currency %s missing", alpha);
    return c;
}

static u128 pow10_u128(unsigned n)
{
    u128 p = 1;
    while (n-- > 0)
        p *= 10;
    return p;
}

/* a * b, or U128_MAX when it does not fit: larger than any bound compared against here. */
static u128 mul_sat(u128 a, u128 b)
{
    return a != 0 && b > U128_MAX / a ? U128_MAX : a * b;
}

/* ---- a seeded PRNG: deterministic runs, values spread over every magnitude ---- */

static uint64_t prng_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* 0..INT64_MAX, about as often below 10 as below 10^18. */
static int64_t random_amount(uint64_t *x)
{
    uint64_t r = prng_next(x);
    return (int64_t)((r & (uint64_t)INT64_MAX) >> (prng_next(x) % 63));
}

/* A rate between 10^-6 and 10^6: units in [10^k, 10^(k+1)) for k = 6..17. */
static struct mopay_fx_rate random_rate(uint64_t *x)
{
    uint64_t low = (uint64_t)pow10_u128(6 + (unsigned)(prng_next(x) % 12));
    return (struct mopay_fx_rate){low + prng_next(x) % (9 * low)};
}

static uint32_t random_bps(uint64_t *x)
{
    static const uint32_t common[] = {0, 1, 25, 50, 100, 150, 300, 9999, 10000};
    uint64_t r = prng_next(x);
    return r % 2 ? common[r / 2 % COUNT(common)] : (uint32_t)(r / 2 % (MOPAY_FX_SPREAD_BPS_MAX + 1));
}

static const struct mopay_currency *random_currency(uint64_t *x)
{
    return currency(alphas[prng_next(x) % COUNT(alphas)]);
}

/* One minor unit of `from` is n / d minor units of `to`. d <= 10^16, so 2^63 * d fits. */
struct exact {
    u128 n, d;
};

static struct exact exact_ratio(const struct mopay_currency *from, const struct mopay_currency *to,
                                struct mopay_fx_rate rate)
{
    return (struct exact){(u128)rate.units * pow10_u128(to->exponent), pow10_u128(12 + from->exponent)};
}

static struct mopay_fx_rate rate_of(const char *text)
{
    struct mopay_fx_rate r;
    assert_int_equal(mopay_fx_rate_parse(text, strlen(text), &r), MOPAY_OK);
    return r;
}

/* ---- rate text ---- */

/* Parses from a heap copy of exactly `len` bytes and no NUL, so ASan sees any read past `len`. */
static enum mopay_err parse_exact(const char *s, size_t len, struct mopay_fx_rate *out)
{
    char *copy = malloc(len > 0 ? len : 1);
    assert_non_null(copy);
    memcpy(copy, s, len);
    enum mopay_err err = mopay_fx_rate_parse(copy, len, out);
    free(copy);
    return err;
}

static void rate_parse_accepts(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t units;
    } cases[] = {
        {"7.1234", 7123400000000u},         {"0.000721", 721000000u},
        {"1380.5", 1380500000000000u},      {"1", 1000000000000u},
        {"25432.123456789012", 25432123456789012u}, {"0.000000000001", 1u},
        {"7.1000", 7100000000000u},         {"7.100000000000", 7100000000000u},
        {"0.5", 500000000000u},             {"10", 10000000000000u},
        {"18446744.073709551615", UINT64_MAX}, {"18446744", 18446744000000000000u},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        struct mopay_fx_rate r = {SENTINEL};
        if (parse_exact(cases[i].text, strlen(cases[i].text), &r) != MOPAY_OK)
            fail_msg("\"%s\" refused", cases[i].text);
        if (r.units != cases[i].units)
            fail_msg("\"%s\" gave %llu units", cases[i].text, (unsigned long long)r.units);
    }
}

static void rate_parse_refuses(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t len;
    } cases[] = {
        {TEXT("")},  {TEXT("0")},  {TEXT("0.0")},  {TEXT("0.000000000000")}, {TEXT("-1")},
        {TEXT("-0.5")}, {TEXT("+1")}, {TEXT("1e3")}, {TEXT("1E-3")}, {TEXT(" 1")}, {TEXT("1 ")},
        {TEXT("1.")}, {TEXT(".5")}, {TEXT(".")}, {TEXT("07.1")}, {TEXT("00")}, {TEXT("00.5")},
        {TEXT("1.0000000000001")}, {TEXT("1.0000000000000")}, {TEXT("0.0000000000001")},
        {TEXT("18446744.073709551616")}, {TEXT("18446745")}, {TEXT("99999999999999999999")},
        {TEXT("1,5")}, {TEXT("1.2.3")}, {TEXT("0x10")}, {TEXT("inf")}, {TEXT("nan")},
        {TEXT("1\0")}, {TEXT("\0" "1")}, {TEXT("\xd9\xa1")}, {TEXT("7.1234\n")}, {TEXT("\"7.1\"")},
        {TEXT("123456789012345678901234567890.5")},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        struct mopay_fx_rate r = {SENTINEL};
        if (parse_exact(cases[i].text, cases[i].len, &r) != MOPAY_ERR_fx_rate_invalid)
            fail_msg("case %zu (\"%s\") not refused", i, cases[i].text);
        if (r.units != SENTINEL)
            fail_msg("case %zu (\"%s\") wrote its out parameter", i, cases[i].text);
    }
}

static void rate_format_is_canonical(void **state)
{
    (void)state;
    static const struct {
        uint64_t units;
        const char *text;
    } cases[] = {
        {7123400000000u, "7.1234"}, {721000000u, "0.000721"}, {1380500000000000u, "1380.5"},
        {1000000000000u, "1"},      {1u, "0.000000000001"},   {UINT64_MAX, "18446744.073709551615"},
        {10000000000000u, "10"},    {100u, "0.0000000001"},   {1000000000001u, "1.000000000001"},
    };
    char buf[MOPAY_FX_RATE_TEXT_BYTES];
    for (size_t i = 0; i < COUNT(cases); i++) {
        size_t n = mopay_fx_rate_format((struct mopay_fx_rate){cases[i].units}, buf);
        assert_string_equal(buf, cases[i].text);
        assert_int_equal(n, strlen(cases[i].text));
    }
    /* Every rate formats to canonical text that parses back to it. */
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (int i = 0; i < 100000; i++) {
        uint64_t units = prng_next(&x) >> (prng_next(&x) % 64);
        struct mopay_fx_rate r = {units != 0 ? units : 1}, back = {SENTINEL};
        size_t n = mopay_fx_rate_format(r, buf);
        assert_true(n == strlen(buf) && n < sizeof(buf));
        assert_true(buf[n - 1] != '.' && (strchr(buf, '.') == NULL || buf[n - 1] != '0'));
        assert_int_equal(mopay_fx_rate_parse(buf, n, &back), MOPAY_OK);
        assert_true(back.units == r.units);
    }
}

static void rate_invert_rounds_down(void **state)
{
    (void)state;
    struct mopay_fx_rate inv = {SENTINEL};
    char buf[MOPAY_FX_RATE_TEXT_BYTES];
    assert_int_equal(mopay_fx_rate_invert(rate_of("0.000721"), &inv), MOPAY_OK);
    mopay_fx_rate_format(inv, buf);
    assert_string_equal(buf, "1386.962552011095"); /* 1386.9625520110957004... */
    assert_int_equal(mopay_fx_rate_invert(rate_of("3"), &inv), MOPAY_OK);
    mopay_fx_rate_format(inv, buf);
    assert_string_equal(buf, "0.333333333333");
    assert_int_equal(mopay_fx_rate_invert(rate_of("1"), &inv), MOPAY_OK);
    assert_true(inv.units == MOPAY_FX_RATE_SCALE);
    assert_int_equal(mopay_fx_rate_invert((struct mopay_fx_rate){UINT64_MAX}, &inv), MOPAY_OK);
    assert_true(inv.units == 54210u);

    /* The smallest rate whose inverse fits, and the largest that does not. */
    assert_int_equal(mopay_fx_rate_invert((struct mopay_fx_rate){54211u}, &inv), MOPAY_OK);
    assert_true(inv.units == 18446440759255501650u);
    inv.units = SENTINEL;
    assert_int_equal(mopay_fx_rate_invert((struct mopay_fx_rate){54210u}, &inv), MOPAY_ERR_fx_rate_invalid);
    assert_int_equal(mopay_fx_rate_invert((struct mopay_fx_rate){1u}, &inv), MOPAY_ERR_fx_rate_invalid);
    assert_true(inv.units == SENTINEL);

    uint64_t x = 0xD1B54A32D192ED03u;
    const u128 one_squared = pow10_u128(24);
    for (int i = 0; i < 100000; i++) {
        struct mopay_fx_rate r = random_rate(&x);
        assert_int_equal(mopay_fx_rate_invert(r, &inv), MOPAY_OK);
        assert_true((u128)inv.units * r.units <= one_squared);
        assert_true(((u128)inv.units + 1) * r.units > one_squared);
    }
}

/* ---- conversions ---- */

static void convert_known_amounts(void **state)
{
    (void)state;
    static const struct {
        const char *from, *to, *rate;
        int64_t amount, down, up;
    } cases[] = {
        {"USD", "CNY", "7.1234", 10000, 71234, 71234},         /* 100.00 USD = 712.34 CNY */
        {"KRW", "USD", "0.000721", 1000000, 72100, 72100},     /* 1,000,000 KRW = 721.00 USD */
        {"USD", "VND", "25432.5", 100, 25432, 25433},          /* 1.00 USD = 25,432.5 VND */
        {"JPY", "KWD", "0.00205", 1000, 2050, 2050},           /* 1,000 JPY = 2.050 KWD */
        {"KWD", "JPY", "487.654321", 1000, 487, 488},          /* 1.000 KWD = 487.65 JPY */
        {"USD", "CNY", "7.1234", 1, 7, 8},                     /* 0.01 USD = 0.071234 CNY */
        {"KRW", "USD", "0.000721", 1, 0, 1},                   /* 1 KRW = 0.0721 cents */
        {"USD", "JPY", "151.37", 0, 0, 0},
        {"CLF", "USD", "42.5", 12345, 5246, 5247},             /* 1.2345 CLF = 52.46625 USD */
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        const struct mopay_currency *from = currency(cases[i].from), *to = currency(cases[i].to);
        int64_t down = -1, up = -1;
        assert_int_equal(mopay_fx_convert_down(cases[i].amount, from, to, rate_of(cases[i].rate), &down), MOPAY_OK);
        assert_int_equal(mopay_fx_convert_up(cases[i].amount, from, to, rate_of(cases[i].rate), &up), MOPAY_OK);
        if (down != cases[i].down || up != cases[i].up)
            fail_msg("case %zu: %lld/%lld, expected %lld/%lld", i, (long long)down, (long long)up,
                     (long long)cases[i].down, (long long)cases[i].up);
    }
}

/* convert_down and convert_up of `a` agree with floor and ceiling of a * n / d, refusals
 * included: a result is refused exactly when it is beyond int64. */
static void check_convert(int64_t a, const struct mopay_currency *from, const struct mopay_currency *to,
                          struct mopay_fx_rate rate)
{
    struct exact e = exact_ratio(from, to, rate);
    u128 an = mul_sat((u128)a, e.n);
    bool exact_fits = an != U128_MAX;
    u128 floor = an / e.d, ceiling = floor + (an % e.d != 0);
    int64_t down = -1, up = -1;

    enum mopay_err err = mopay_fx_convert_down(a, from, to, rate, &down);
    if (exact_fits && floor <= INT64_MAX) {
        assert_int_equal(err, MOPAY_OK);
        assert_true((u128)down == floor);
    } else {
        assert_int_equal(err, MOPAY_ERR_amount_overflow);
        assert_int_equal(down, -1);
    }
    err = mopay_fx_convert_up(a, from, to, rate, &up);
    if (exact_fits && ceiling <= INT64_MAX) {
        assert_int_equal(err, MOPAY_OK);
        assert_true((u128)up == ceiling);
        assert_true(up - down <= 1 && (up == down) == (an % e.d == 0));
    } else {
        assert_int_equal(err, MOPAY_ERR_amount_overflow);
        assert_int_equal(up, -1);
    }
}

static void convert_rounds_as_documented(void **state)
{
    (void)state;
    uint64_t x = 0x2545F4914F6CDD1Du;
    for (size_t f = 0; f < COUNT(alphas); f++)
        for (size_t t = 0; t < COUNT(alphas); t++)
            for (int i = 0; i < 4000; i++)
                check_convert(random_amount(&x), currency(alphas[f]), currency(alphas[t]), random_rate(&x));
    /* Rates anywhere in uint64, not only 10^-6..10^6. */
    for (int i = 0; i < 100000; i++) {
        uint64_t units = prng_next(&x) >> (prng_next(&x) % 64);
        check_convert(random_amount(&x), random_currency(&x), random_currency(&x),
                      (struct mopay_fx_rate){units != 0 ? units : 1});
    }
}

/* At the largest amount each direction can convert, and one more. */
static void convert_overflow_boundaries(void **state)
{
    (void)state;
    uint64_t x = 0xBF58476D1CE4E5B9u;
    int checked = 0;
    for (int i = 0; i < 50000; i++) {
        const struct mopay_currency *from = random_currency(&x), *to = random_currency(&x);
        struct mopay_fx_rate rate = random_rate(&x);
        struct exact e = exact_ratio(from, to, rate);
        int64_t out;
        /* down fits while a * n < 2^63 * d; up while a * n <= INT64_MAX * d. */
        u128 down_max = (((u128)INT64_MAX + 1) * e.d + e.n - 1) / e.n - 1;
        u128 up_max = (u128)INT64_MAX * e.d / e.n;
        if (down_max < INT64_MAX) {
            assert_int_equal(mopay_fx_convert_down((int64_t)down_max, from, to, rate, &out), MOPAY_OK);
            assert_int_equal(mopay_fx_convert_down((int64_t)down_max + 1, from, to, rate, &out),
                             MOPAY_ERR_amount_overflow);
            checked++;
        }
        if (up_max < INT64_MAX) {
            assert_int_equal(mopay_fx_convert_up((int64_t)up_max, from, to, rate, &out), MOPAY_OK);
            assert_int_equal(mopay_fx_convert_up((int64_t)up_max + 1, from, to, rate, &out),
                             MOPAY_ERR_amount_overflow);
        }
    }
    assert_true(checked > 10000);
    int64_t out = -1;
    assert_int_equal(mopay_fx_convert_down(INT64_MAX, currency("USD"), currency("VND"), rate_of("25000"), &out),
                     MOPAY_ERR_amount_overflow);
    assert_int_equal(mopay_fx_convert_up(INT64_MAX, currency("JPY"), currency("CLF"),
                                         (struct mopay_fx_rate){UINT64_MAX}, &out),
                     MOPAY_ERR_amount_overflow);
    assert_int_equal(out, -1);
    /* The largest amount at the smallest rate across the widest exponent gap (d = 10^16). */
    assert_int_equal(mopay_fx_convert_down(INT64_MAX, currency("CLF"), currency("JPY"),
                                           (struct mopay_fx_rate){1}, &out), MOPAY_OK);
    assert_int_equal(out, INT64_MAX / 10000000000000000);
}

/* sell_for_buy(b) = s: s * n >= b * d > (s - 1) * n, so convert_down(s) >= b > convert_down(s - 1). */
static void check_sell_for_buy(int64_t b, const struct mopay_currency *sell, const struct mopay_currency *buy,
                               struct mopay_fx_rate rate)
{
    struct exact e = exact_ratio(sell, buy, rate);
    u128 bd = (u128)b * e.d; /* b < 2^63, d <= 10^16 */
    u128 least = bd / e.n + (bd % e.n != 0);
    bool executable = least <= INT64_MAX && mul_sat(least, e.n) / e.d <= INT64_MAX;
    int64_t s = -1, got = -1;
    enum mopay_err err = mopay_fx_sell_for_buy(b, sell, buy, rate, &s);
    if (!executable) {
        assert_int_equal(err, MOPAY_ERR_amount_overflow);
        assert_int_equal(s, -1);
        return;
    }
    assert_int_equal(err, MOPAY_OK);
    assert_true((u128)s == least);
    assert_int_equal(mopay_fx_convert_down(s, sell, buy, rate, &got), MOPAY_OK);
    assert_true(got >= b);
    if (s > 0) {
        assert_int_equal(mopay_fx_convert_down(s - 1, sell, buy, rate, &got), MOPAY_OK);
        assert_true(got < b);
    }
}

static void sell_for_buy_is_least(void **state)
{
    (void)state;
    uint64_t x = 0x94D049BB133111EBu;
    for (size_t f = 0; f < COUNT(alphas); f++)
        for (size_t t = 0; t < COUNT(alphas); t++)
            for (int i = 0; i < 4000; i++)
                check_sell_for_buy(random_amount(&x), currency(alphas[f]), currency(alphas[t]), random_rate(&x));
    int64_t s = -1;
    assert_int_equal(mopay_fx_sell_for_buy(0, currency("USD"), currency("KRW"), rate_of("1386.96"), &s), MOPAY_OK);
    assert_int_equal(s, 0);
    /* 1,000,000 KRW at 13.8696 KRW a cent: 72,100.13 cents, so 72,101, which buys 1,000,012. */
    assert_int_equal(mopay_fx_sell_for_buy(1000000, currency("USD"), currency("KRW"), rate_of("1386.96"), &s),
                     MOPAY_OK);
    assert_int_equal(s, 72101);
    assert_int_equal(mopay_fx_sell_for_buy(INT64_MAX, currency("USD"), currency("KRW"), rate_of("0.000001"), &s),
                     MOPAY_ERR_amount_overflow);
}

/* ---- the rounding rule: sell -> buy -> sell never creates money ---- */

/* Sells s of `a` for `b` and converts what came back at the same rate, every way the rule
 * allows; returns false when an amount was beyond int64 and nothing could be checked. */
static bool round_trip(int64_t s, const struct mopay_currency *a, const struct mopay_currency *b,
                       struct mopay_fx_rate rate, uint32_t bps)
{
    struct mopay_fx_rate inverse;
    int64_t bought, back;
    assert_int_equal(mopay_fx_rate_invert(rate, &inverse), MOPAY_OK);
    if (mopay_fx_convert_down(s, a, b, rate, &bought) != MOPAY_OK)
        return false;
    /* What buys `bought` at the same rate costs no more than s, and buys at least as much. */
    assert_int_equal(mopay_fx_sell_for_buy(bought, a, b, rate, &back), MOPAY_OK);
    assert_true(back <= s);
    /* Selling it back at the inverse, rounded down, returns no more than s. */
    assert_int_equal(mopay_fx_convert_down(bought, b, a, inverse, &back), MOPAY_OK);
    assert_true(back <= s);

    /* With the spread, both ways: strictly less whenever a fee was charged. */
    struct mopay_fx_quote there, again;
    assert_int_equal(mopay_fx_quote_sell(s, a, b, rate, bps, &there), MOPAY_OK);
    assert_int_equal(mopay_fx_quote_sell(there.buy_minor, b, a, inverse, bps, &again), MOPAY_OK);
    assert_true(again.buy_minor <= s);
    if (s > 0 && bps > 0)
        assert_true(again.buy_minor < s);

    /* Asking to receive `bought`: paid at least its worth, and selling it back returns less. */
    if (mopay_fx_quote_buy(bought, a, b, rate, bps, &there) != MOPAY_OK)
        return true;
    assert_true(there.sell_minor >= there.base_minor && there.base_minor <= s);
    assert_int_equal(mopay_fx_convert_down(bought, b, a, inverse, &back), MOPAY_OK);
    assert_true(back <= there.base_minor);
    return true;
}

static void round_trips_never_create_money(void **state)
{
    (void)state;
    uint64_t x = 0x853C49E6748FEA9Bu;
    int checked = 0, total = 0;
    for (size_t f = 0; f < COUNT(alphas); f++)
        for (size_t t = 0; t < COUNT(alphas); t++)
            for (int i = 0; i < 3000; i++, total++)
                checked += round_trip(random_amount(&x), currency(alphas[f]), currency(alphas[t]),
                                      random_rate(&x), random_bps(&x));
    /* Most random amounts convert; the rest are refusals checked above. */
    assert_true(checked > total / 2);
}

/* ---- fees and quotes ---- */

static void fee_rounds_up(void **state)
{
    (void)state;
    assert_int_equal(mopay_fx_fee(10000, 150), 150);
    assert_int_equal(mopay_fx_fee(1, 1), 1);
    assert_int_equal(mopay_fx_fee(9852, 150), 148); /* 147.78 */
    assert_int_equal(mopay_fx_fee(0, 10000), 0);
    assert_int_equal(mopay_fx_fee(123456, 0), 0);
    assert_int_equal(mopay_fx_fee(INT64_MAX, 10000), INT64_MAX);
    assert_int_equal(mopay_fx_fee(INT64_MAX, 1), INT64_MAX / 10000 + 1);
    uint64_t x = 0xA0761D6478BD642Fu;
    for (int i = 0; i < 200000; i++) {
        int64_t a = random_amount(&x);
        uint32_t bps = random_bps(&x);
        int64_t fee = mopay_fx_fee(a, bps);
        assert_true((u128)fee * 10000 >= (u128)a * bps);
        assert_true(fee == 0 || ((u128)fee - 1) * 10000 < (u128)a * bps);
    }
}

/* The documented definition of a sell quote, checked from its parts. */
static void check_quote_sell(int64_t s, const struct mopay_currency *a, const struct mopay_currency *b,
                             struct mopay_fx_rate rate, uint32_t bps)
{
    struct mopay_fx_quote q;
    enum mopay_err err = mopay_fx_quote_sell(s, a, b, rate, bps, &q);
    if (err == MOPAY_ERR_amount_overflow)
        return; /* the conversion of base overflows: check_convert covers those */
    assert_int_equal(err, MOPAY_OK);
    assert_true(q.sell == a && q.buy == b && q.rate.units == rate.units && q.spread_bps == bps);
    assert_int_equal(q.sell_minor, s);
    assert_int_equal(q.base_minor + q.fee_minor, s);
    /* base is the largest b with b + fee(b) <= s. */
    assert_true(q.base_minor + mopay_fx_fee(q.base_minor, bps) <= s);
    assert_true(q.base_minor == s || (u128)q.base_minor + 1 + (u128)mopay_fx_fee(q.base_minor + 1, bps) > (u128)s);
    /* fee = ceil(s * bps / (10000 + bps)), at most one unit above fee(base). */
    u128 sb = (u128)s * bps, per = 10000 + bps;
    assert_true((u128)q.fee_minor == sb / per + (sb % per != 0));
    int64_t over = q.fee_minor - mopay_fx_fee(q.base_minor, bps);
    assert_true(over == 0 || over == 1);
    int64_t down;
    assert_int_equal(mopay_fx_convert_down(q.base_minor, a, b, rate, &down), MOPAY_OK);
    assert_int_equal(q.buy_minor, down);
}

static void check_quote_buy(int64_t bought, const struct mopay_currency *a, const struct mopay_currency *b,
                            struct mopay_fx_rate rate, uint32_t bps)
{
    struct mopay_fx_quote q;
    int64_t base;
    enum mopay_err err = mopay_fx_quote_buy(bought, a, b, rate, bps, &q);
    if (mopay_fx_sell_for_buy(bought, a, b, rate, &base) != MOPAY_OK ||
        (u128)base + (u128)mopay_fx_fee(base, bps) > INT64_MAX) {
        assert_int_equal(err, MOPAY_ERR_amount_overflow);
        return;
    }
    assert_int_equal(err, MOPAY_OK);
    assert_true(q.sell == a && q.buy == b && q.rate.units == rate.units && q.spread_bps == bps);
    assert_int_equal(q.buy_minor, bought);
    assert_int_equal(q.base_minor, base);
    assert_int_equal(q.fee_minor, mopay_fx_fee(base, bps));
    assert_int_equal(q.sell_minor, base + q.fee_minor);
    int64_t down;
    assert_int_equal(mopay_fx_convert_down(q.base_minor, a, b, rate, &down), MOPAY_OK);
    assert_true(down >= bought);
}

static void quotes_follow_their_definitions(void **state)
{
    (void)state;
    uint64_t x = 0xE7037ED1A0B428DBu;
    for (size_t f = 0; f < COUNT(alphas); f++)
        for (size_t t = 0; t < COUNT(alphas); t++)
            for (int i = 0; i < 3000; i++) {
                struct mopay_fx_rate rate = random_rate(&x);
                uint32_t bps = random_bps(&x);
                check_quote_sell(random_amount(&x), currency(alphas[f]), currency(alphas[t]), rate, bps);
                check_quote_buy(random_amount(&x), currency(alphas[f]), currency(alphas[t]), rate, bps);
            }
}

static void quotes_known_amounts(void **state)
{
    (void)state;
    struct mopay_fx_quote q;
    /* Sell 100.00 USD for CNY at 7.1234 with a 1.5% spread: 98.52 converts, 1.48 is the fee. */
    assert_int_equal(mopay_fx_quote_sell(10000, currency("USD"), currency("CNY"), rate_of("7.1234"), 150, &q),
                     MOPAY_OK);
    assert_int_equal(q.base_minor, 9852);
    assert_int_equal(q.fee_minor, 148);
    assert_int_equal(q.sell_minor, 10000);
    assert_int_equal(q.buy_minor, 70179); /* 701.797368 CNY */
    /* Receive 1,000,000 KRW paying USD at 1386.96 with a 1% spread: 721.01 + 7.22. */
    assert_int_equal(mopay_fx_quote_buy(1000000, currency("USD"), currency("KRW"), rate_of("1386.96"), 100, &q),
                     MOPAY_OK);
    assert_int_equal(q.base_minor, 72101);
    assert_int_equal(q.fee_minor, 722);
    assert_int_equal(q.sell_minor, 72823);
    assert_int_equal(q.buy_minor, 1000000);
    /* No spread: the whole amount converts. */
    assert_int_equal(mopay_fx_quote_sell(10000, currency("USD"), currency("JPY"), rate_of("151.37"), 0, &q),
                     MOPAY_OK);
    assert_true(q.base_minor == 10000 && q.fee_minor == 0 && q.buy_minor == 15137);
    /* Refusals leave the quote alone. */
    memset(&q, 0x5A, sizeof(q));
    struct mopay_fx_quote untouched = q;
    assert_int_equal(mopay_fx_quote_buy(INT64_MAX, currency("USD"), currency("CNY"), rate_of("1"), 1, &q),
                     MOPAY_ERR_amount_overflow); /* base fits, base + fee does not */
    assert_int_equal(mopay_fx_quote_sell(INT64_MAX, currency("USD"), currency("VND"), rate_of("25000"), 0, &q),
                     MOPAY_ERR_amount_overflow);
    assert_memory_equal(&q, &untouched, sizeof(q));
}

/* ---- the rates file ---- */

#define ROWS_SEEN_MAX 8

struct rows_seen {
    size_t count;
    struct mopay_fx_csv_row rows[ROWS_SEEN_MAX];
    size_t stop_at; /* fail this row (1-based); 0 never */
};

static enum mopay_err rows_collect(void *ctx, const struct mopay_fx_csv_row *row)
{
    struct rows_seen *seen = ctx;
    if (seen->count < ROWS_SEEN_MAX)
        seen->rows[seen->count] = *row;
    seen->count++;
    return seen->count == seen->stop_at ? MOPAY_ERR_store_failed : MOPAY_OK;
}

/* Parses from a heap copy of exactly `len` bytes, so ASan sees any read past `len`. */
static enum mopay_err csv_exact(const char *text, size_t len, struct rows_seen *seen, struct mopay_fx_csv_error *error)
{
    char *copy = malloc(len > 0 ? len : 1);
    assert_non_null(copy);
    memcpy(copy, text, len);
    enum mopay_err err = mopay_fx_csv_parse(copy, len, rows_collect, seen, error);
    /* Sources point into the text: keep them readable for the caller's checks. */
    for (size_t i = 0; i < seen->count && i < ROWS_SEEN_MAX; i++)
        seen->rows[i].source = text + (seen->rows[i].source - copy);
    free(copy);
    return err;
}

static void check_row(const struct mopay_fx_csv_row *row, size_t line, const char *base, const char *quote,
                      const char *rate, const char *source, int64_t time_ns)
{
    assert_int_equal(row->line, line);
    assert_ptr_equal(row->base, currency(base));
    assert_ptr_equal(row->quote, currency(quote));
    assert_true(row->rate.units == rate_of(rate).units);
    assert_int_equal(row->source_len, strlen(source));
    assert_memory_equal(row->source, source, row->source_len);
    assert_int_equal(row->time_ns, time_ns);
}

static void csv_reads_good_files(void **state)
{
    (void)state;
    static const char good[] = "pair,rate,source,time\r\n"
                               "USD/CNY,7.1234,ECB reference,2026-11-21T08:30:00Z\r\n"
                               "USD/KRW,1386.96,Reuters (close),2026-11-21T08:30:00.123+09:00\n"
                               "KRW/USD,0.000721,x,1970-01-01T00:00:01Z\r\n"
                               "\r\n"
                               "\n";
    struct rows_seen seen = {0};
    struct mopay_fx_csv_error error = {.line = 99, .field = "x"};
    assert_int_equal(csv_exact(TEXT(good), &seen, &error), MOPAY_OK);
    assert_int_equal(error.line, 0);
    assert_null(error.field);
    assert_int_equal(seen.count, 3);
    check_row(&seen.rows[0], 2, "USD", "CNY", "7.1234", "ECB reference", 1795249800000000000);
    check_row(&seen.rows[1], 3, "USD", "KRW", "1386.96", "Reuters (close)", 1795217400123000000);
    check_row(&seen.rows[2], 4, "KRW", "USD", "0.000721", "x", 1000000000);

    /* No final newline; the header alone; one source of exactly 64 characters. */
    static const char bare[] = "pair,rate,source,time\nJPY/KWD,0.00205,"
                               "0123456789012345678901234567890123456789012345678901234567890123"
                               ",2026-01-01T00:00:00Z";
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(csv_exact(TEXT(bare), &seen, &error), MOPAY_OK);
    assert_int_equal(seen.count, 1);
    assert_int_equal(seen.rows[0].source_len, MOPAY_FX_SOURCE_BYTES_MAX);
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(csv_exact(TEXT("pair,rate,source,time\n"), &seen, &error), MOPAY_OK);
    assert_int_equal(csv_exact(TEXT("pair,rate,source,time"), &seen, &error), MOPAY_OK);
    assert_int_equal(seen.count, 0);
}

struct csv_bad {
    const char *text;
    size_t len;
    enum mopay_err err;
    size_t line;
    const char *field; /* NULL: the line as a whole */
};

#define HEAD "pair,rate,source,time\n"
#define ROW "USD/CNY,7.1234,ECB,2026-11-21T08:30:00Z\n"

static const struct csv_bad csv_bad_cases[] = {
    {TEXT(""), MOPAY_ERR_fx_csv_invalid, 1, NULL},
    {TEXT("\n" HEAD ROW), MOPAY_ERR_fx_csv_invalid, 1, NULL},
    {TEXT("pair,rate,source\n" ROW), MOPAY_ERR_fx_csv_invalid, 1, NULL},
    {TEXT("Pair,Rate,Source,Time\n" ROW), MOPAY_ERR_fx_csv_invalid, 1, NULL},
    {TEXT("\xef\xbb\xbf" HEAD ROW), MOPAY_ERR_fx_csv_invalid, 1, NULL}, /* a BOM */
    {TEXT(HEAD "USD/CNY,7.1,ECB\n"), MOPAY_ERR_fx_csv_invalid, 2, NULL},
    {TEXT(HEAD "USD/CNY,7.1,ECB,2026-11-21T08:30:00Z,x\n"), MOPAY_ERR_fx_csv_invalid, 2, NULL},
    {TEXT(HEAD ROW "usd/cny,7.1,ECB,2026-11-21T08:30:00Z\n"), MOPAY_ERR_fx_csv_invalid, 3, "pair"},
    {TEXT(HEAD "USD-CNY,7.1,ECB,2026-11-21T08:30:00Z\n"), MOPAY_ERR_fx_csv_invalid, 2, "pair"},
    {TEXT(HEAD "USDCNY,7.1,ECB,2026-11-21T08:30:00Z\n"), MOPAY_ERR_fx_csv_invalid, 2, "pair"},
    {TEXT(HEAD "USD/CNYX,7.1,ECB,2026-11-21T08:30:00Z\n"), MOPAY_ERR_fx_csv_invalid, 2, "pair"},
    {TEXT(HEAD "\"USD/CNY\",7.1,ECB,2026-11-21T08:30:00Z\n"), MOPAY_ERR_fx_csv_invalid, 2, "pair"},
    {TEXT(HEAD "USD/USD,1,ECB,2026-11-21T08:30:00Z\n"), MOPAY_ERR_fx_csv_invalid, 2, "pair"},
    {TEXT(HEAD "XXX/USD,7.1,ECB,2026-11-21T08:30:00Z\n"), MOPAY_ERR_currency_unknown, 2, "pair"},
    {TEXT(HEAD "USD/HRK,7.1,ECB,2026-11-21T08:30:00Z\n"), MOPAY_ERR_currency_unknown, 2, "pair"},
    {TEXT(HEAD "USD/CNY,0,ECB,2026-11-21T08:30:00Z\n"), MOPAY_ERR_fx_rate_invalid, 2, "rate"},
    {TEXT(HEAD "USD/CNY, 7.1,ECB,2026-11-21T08:30:00Z\n"), MOPAY_ERR_fx_rate_invalid, 2, "rate"},
    {TEXT(HEAD "USD/CNY,-7.1,ECB,2026-11-21T08:30:00Z\n"), MOPAY_ERR_fx_rate_invalid, 2, "rate"},
    {TEXT(HEAD "USD/CNY,7.1234567890123,ECB,2026-11-21T08:30:00Z\n"), MOPAY_ERR_fx_rate_invalid, 2, "rate"},
    {TEXT(HEAD "USD/CNY,,ECB,2026-11-21T08:30:00Z\n"), MOPAY_ERR_fx_rate_invalid, 2, "rate"},
    {TEXT(HEAD "USD/CNY,\"7.1\",ECB,2026-11-21T08:30:00Z\n"), MOPAY_ERR_fx_rate_invalid, 2, "rate"},
    {TEXT(HEAD "USD/CNY,7.1,,2026-11-21T08:30:00Z\n"), MOPAY_ERR_fx_csv_invalid, 2, "source"},
    {TEXT(HEAD "USD/CNY,7.1,\"ECB\",2026-11-21T08:30:00Z\n"), MOPAY_ERR_fx_csv_invalid, 2, "source"},
    {TEXT(HEAD "USD/CNY,7.1,E\tCB,2026-11-21T08:30:00Z\n"), MOPAY_ERR_fx_csv_invalid, 2, "source"},
    {TEXT(HEAD "USD/CNY,7.1,B\xc3\xa9nin,2026-11-21T08:30:00Z\n"), MOPAY_ERR_fx_csv_invalid, 2, "source"},
    {TEXT(HEAD "USD/CNY,7.1,E\0CB,2026-11-21T08:30:00Z\n"), MOPAY_ERR_fx_csv_invalid, 2, "source"},
    {TEXT(HEAD "USD/CNY,7.1,01234567890123456789012345678901234567890123456789012345678901234,"
               "2026-11-21T08:30:00Z\n"), MOPAY_ERR_fx_csv_invalid, 2, "source"},
    {TEXT(HEAD "USD/CNY,7.1,ECB,2026-11-21\n"), MOPAY_ERR_fx_csv_invalid, 2, "time"},
    {TEXT(HEAD "USD/CNY,7.1,ECB,yesterday\n"), MOPAY_ERR_fx_csv_invalid, 2, "time"},
    {TEXT(HEAD "USD/CNY,7.1,ECB,\n"), MOPAY_ERR_fx_csv_invalid, 2, "time"},
    {TEXT(HEAD "USD/CNY,7.1,ECB,2026-11-21T08:30:00Z \n"), MOPAY_ERR_fx_csv_invalid, 2, "time"},
    {TEXT(HEAD "USD/CNY,7.1,ECB,2026-11-21T08:30:00Z\r"), MOPAY_ERR_fx_csv_invalid, 2, "time"},
    /* A lone CR ends no line: this is one line of seven commas. */
    {TEXT(HEAD "USD/CNY,7.1,ECB,2026-11-21T08:30:00Z\rUSD/JPY,151,ECB,2026-11-21T08:30:00Z\n"),
     MOPAY_ERR_fx_csv_invalid, 2, NULL},
    {TEXT(HEAD ROW "\n" ROW), MOPAY_ERR_fx_csv_invalid, 3, NULL},
    {TEXT(HEAD ROW "\r\n\n" ROW "\n"), MOPAY_ERR_fx_csv_invalid, 3, NULL},
    {TEXT(HEAD ROW " \n"), MOPAY_ERR_fx_csv_invalid, 3, NULL},
    {TEXT(HEAD ROW ROW ROW "USD/CNY,7.1,ECB,2026-13-01T00:00:00Z\n"), MOPAY_ERR_fx_csv_invalid, 5, "time"},
};

static void csv_refuses_bad_lines(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(csv_bad_cases); i++) {
        const struct csv_bad *k = &csv_bad_cases[i];
        struct rows_seen seen = {0};
        struct mopay_fx_csv_error error = {0};
        enum mopay_err err = csv_exact(k->text, k->len, &seen, &error);
        if (err != k->err || error.line != k->line)
            fail_msg("case %zu: %s at line %zu, expected %s at line %zu", i, mopay_err_code(err), error.line,
                     mopay_err_code(k->err), k->line);
        if (k->field == NULL ? error.field != NULL : error.field == NULL || strcmp(error.field, k->field) != 0)
            fail_msg("case %zu: field %s, expected %s", i, error.field ? error.field : "(line)",
                     k->field ? k->field : "(line)");
        /* All or nothing: a bad line anywhere means no row was handed over. */
        if (seen.count != 0)
            fail_msg("case %zu: %zu rows handed over", i, seen.count);
    }
}

/* A file of `rows` copies of `line` (with its newline) after the header; the caller frees it. */
static char *csv_repeat(const char *line, size_t rows, size_t *len)
{
    size_t head = strlen(HEAD), n = strlen(line);
    char *text = malloc(head + rows * n + 1);
    assert_non_null(text);
    memcpy(text, HEAD, head);
    for (size_t i = 0; i < rows; i++)
        memcpy(text + head + i * n, line, n);
    *len = head + rows * n;
    text[*len] = '\0';
    return text;
}

static void csv_limits(void **state)
{
    (void)state;
    struct rows_seen seen = {0};
    struct mopay_fx_csv_error error;
    size_t len;
    char *text = csv_repeat(ROW, MOPAY_FX_CSV_ROWS_MAX, &len);
    assert_int_equal(csv_exact(text, len, &seen, &error), MOPAY_OK);
    assert_int_equal(seen.count, MOPAY_FX_CSV_ROWS_MAX);
    free(text);
    memset(&seen, 0, sizeof(seen));
    text = csv_repeat(ROW, MOPAY_FX_CSV_ROWS_MAX + 1, &len);
    assert_int_equal(csv_exact(text, len, &seen, &error), MOPAY_ERR_fx_csv_invalid);
    assert_int_equal(error.line, MOPAY_FX_CSV_ROWS_MAX + 2);
    assert_int_equal(seen.count, 0);
    free(text);

    /* A line of exactly 256 bytes passes the length check (and is then a bad time); 257 does
     * not. Rows of the longest legal line, CRLF each, with a blank line, fit the byte cap. */
    char line[MOPAY_FX_CSV_LINE_BYTES_MAX + 3];
    memset(line, '0', sizeof(line));
    memcpy(line, "USD/CNY,7.1,ECB,", 16);
    memcpy(line + MOPAY_FX_CSV_LINE_BYTES_MAX, "\n", 2);
    text = csv_repeat(line, 1, &len);
    assert_int_equal(csv_exact(text, len, &seen, &error), MOPAY_ERR_fx_csv_invalid);
    assert_string_equal(error.field, "time");
    free(text);
    memcpy(line + MOPAY_FX_CSV_LINE_BYTES_MAX, "0\n", 3);
    text = csv_repeat(line, 1, &len);
    assert_int_equal(csv_exact(text, len, &seen, &error), MOPAY_ERR_fx_csv_invalid);
    assert_null(error.field);
    assert_int_equal(error.line, 2);
    free(text);

    text = calloc(MOPAY_FX_CSV_BYTES_MAX + 1, 1);
    assert_non_null(text);
    error.line = 99;
    assert_int_equal(mopay_fx_csv_parse(text, MOPAY_FX_CSV_BYTES_MAX + 1, rows_collect, &seen, &error),
                     MOPAY_ERR_fx_csv_invalid);
    assert_int_equal(error.line, 0);
    free(text);
}

static void csv_callback_error_stops(void **state)
{
    (void)state;
    struct rows_seen seen = {.stop_at = 2};
    struct mopay_fx_csv_error error;
    assert_int_equal(csv_exact(TEXT(HEAD ROW "\n" "USD/JPY,151.37,ECB,2026-11-21T08:30:00Z\n" ROW), &seen, &error),
                     MOPAY_ERR_fx_csv_invalid);
    assert_int_equal(seen.count, 0);
    assert_int_equal(csv_exact(TEXT(HEAD ROW "USD/JPY,151.37,ECB,2026-11-21T08:30:00Z\n" ROW), &seen, &error),
                     MOPAY_ERR_store_failed);
    assert_int_equal(seen.count, 2);
    assert_int_equal(error.line, 3);
    assert_null(error.field);
}

/* ---- the module stays pure ---- */

/* Fails when `path` names anything the module promises not to use. */
static void check_source_pure(const char *path)
{
    static const char *const forbidden[] = {"float", "double", "malloc", "calloc", "realloc", "stdio.h",
                                            "math.h", "time.h", "mopay_clock_now", "mopay_clock_monotonic"};
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot read %s", path);
    char line[1024];
    for (int number = 1; fgets(line, sizeof(line), f) != NULL; number++)
        for (size_t i = 0; i < COUNT(forbidden); i++)
            for (const char *p = line; *p != '\0'; p++)
                if (strncasecmp(p, forbidden[i], strlen(forbidden[i])) == 0)
                    fail_msg("%s:%d uses \"%s\"", path, number, forbidden[i]);
    fclose(f);
}

static void sources_are_integer_only(void **state)
{
    (void)state;
    const char *dir_path = MOPAY_SOURCE_DIR "/src/fx";
    DIR *dir = opendir(dir_path);
    assert_non_null(dir);
    int files = 0;
    for (struct dirent *e; (e = readdir(dir)) != NULL;) {
        size_t n = strlen(e->d_name);
        const char *suffix = n >= 3 ? e->d_name + n - 2 : "";
        if (e->d_name[0] == '.' || (strcmp(suffix, ".c") != 0 && strcmp(suffix, ".h") != 0))
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir_path, e->d_name);
        check_source_pure(path);
        files++;
    }
    closedir(dir);
    assert_true(files >= 3);
    check_source_pure(MOPAY_SOURCE_DIR "/include/mopay/fx.h");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rate_parse_accepts),
        cmocka_unit_test(rate_parse_refuses),
        cmocka_unit_test(rate_format_is_canonical),
        cmocka_unit_test(rate_invert_rounds_down),
        cmocka_unit_test(convert_known_amounts),
        cmocka_unit_test(convert_rounds_as_documented),
        cmocka_unit_test(convert_overflow_boundaries),
        cmocka_unit_test(sell_for_buy_is_least),
        cmocka_unit_test(round_trips_never_create_money),
        cmocka_unit_test(fee_rounds_up),
        cmocka_unit_test(quotes_follow_their_definitions),
        cmocka_unit_test(quotes_known_amounts),
        cmocka_unit_test(csv_reads_good_files),
        cmocka_unit_test(csv_refuses_bad_lines),
        cmocka_unit_test(csv_limits),
        cmocka_unit_test(csv_callback_error_stops),
        cmocka_unit_test(sources_are_integer_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
