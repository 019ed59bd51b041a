/* Currency table and money text: lookups, exponents, parse/format round trips, every refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mopay/money.h"

/* A value no parse can produce by accident, to prove failures leave the out parameter alone. */
#define SENTINEL ((int64_t)0x5A5A5A5A5A5A5A5A)

static const struct mopay_currency *currency(const char *alpha)
{
    const struct mopay_currency *c = mopay_currency_by_alpha(alpha, strlen(alpha));
    if (c == NULL)
        fail_msg("currency %s missing", alpha);
    return c;
}

/* Parses from a heap copy of exactly `len` bytes and no NUL, so ASan sees any read past `len`. */
static enum mopay_err parse_exact(const char *s, size_t len, const struct mopay_currency *c,
                                  unsigned flags, int64_t *out)
{
    char *copy = malloc(len > 0 ? len : 1);
    assert_non_null(copy);
    memcpy(copy, s, len);
    enum mopay_err err = mopay_money_parse(copy, len, c, flags, out);
    free(copy);
    return err;
}

/* ---- currency table ---- */

static void currency_lookup_round_trips(void **state)
{
    (void)state;
    size_t count = mopay_currency_count();
    for (size_t i = 0; i < count; i++) {
        const struct mopay_currency *c = mopay_currency_at(i);
        assert_int_equal(strlen(c->alpha), 3);
        for (size_t k = 0; k < 3; k++)
            assert_true(c->alpha[k] >= 'A' && c->alpha[k] <= 'Z');
        assert_true(c->numeric > 0 && c->numeric < 1000);
        assert_true(c->exponent <= 4);
        assert_non_null(c->name);
        assert_true(strlen(c->name) > 0);
        assert_ptr_equal(mopay_currency_by_alpha(c->alpha, 3), c);
        assert_ptr_equal(mopay_currency_by_numeric(c->numeric), c);
    }
}

static void currency_table_sorted_without_duplicates(void **state)
{
    (void)state;
    size_t count = mopay_currency_count();
    for (size_t i = 1; i < count; i++)
        if (strcmp(mopay_currency_at(i - 1)->alpha, mopay_currency_at(i)->alpha) >= 0)
            fail_msg("%s is not before %s", mopay_currency_at(i - 1)->alpha,
                     mopay_currency_at(i)->alpha);
    for (size_t i = 0; i < count; i++)
        for (size_t j = i + 1; j < count; j++)
            if (mopay_currency_at(i)->numeric == mopay_currency_at(j)->numeric)
                fail_msg("%s and %s share %u", mopay_currency_at(i)->alpha, mopay_currency_at(j)->alpha,
                         mopay_currency_at(i)->numeric);
}

static void currency_known_entries(void **state)
{
    (void)state;
    static const struct {
        const char *alpha;
        uint16_t numeric;
        uint8_t exponent;
    } known[] = {
        {"USD", 840, 2}, {"EUR", 978, 2}, {"JPY", 392, 0}, {"KRW", 410, 0}, {"CNY", 156, 2},
        {"KWD", 414, 3}, {"BHD", 48, 3},  {"IQD", 368, 3}, {"TND", 788, 3}, {"CLF", 990, 4},
        {"UYW", 927, 4}, {"UYI", 940, 0}, {"CLP", 152, 0}, {"ISK", 352, 0}, {"VND", 704, 0},
        {"XAF", 950, 0}, {"XOF", 952, 0}, {"XPF", 953, 0}, {"XCD", 951, 2}, {"XCG", 532, 2},
        {"SLE", 925, 2}, {"VED", 926, 2}, {"VES", 928, 2}, {"ZWG", 924, 2}, {"MRU", 929, 2},
        {"STN", 930, 2}, {"BYN", 933, 2}, {"ALL", 8, 2},   {"MGA", 969, 2}, {"CHE", 947, 2},
    };
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        const struct mopay_currency *c = currency(known[i].alpha);
        assert_int_equal(c->numeric, known[i].numeric);
        assert_int_equal(c->exponent, known[i].exponent);
    }
    assert_string_equal(currency("XCG")->name, "Caribbean Guilder");
    assert_ptr_equal(mopay_currency_by_numeric(532), currency("XCG"));

    /* Withdrawn, or with no minor unit ("N.A."). */
    static const char *absent[] = {"HRK", "ANG", "CUC", "SLL", "ZWL", "BGN", "VEF", "MRO", "STD", "BYR",
                                   "XAU", "XAG", "XPD", "XPT", "XBA", "XDR", "XSU", "XUA", "XTS", "XXX"};
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
        if (mopay_currency_by_alpha(absent[i], 3) != NULL)
            fail_msg("%s should not be active", absent[i]);
    assert_null(mopay_currency_by_numeric(191)); /* HRK */
    assert_null(mopay_currency_by_numeric(959)); /* XAU */
    assert_null(mopay_currency_by_numeric(999)); /* XXX */
    assert_null(mopay_currency_by_numeric(0));
    assert_null(mopay_currency_by_numeric(1000));
    assert_int_equal(mopay_currency_count(), 165);
}

static void currency_alpha_is_exact(void **state)
{
    (void)state;
    assert_null(mopay_currency_by_alpha("usd", 3));
    assert_null(mopay_currency_by_alpha("Usd", 3));
    assert_null(mopay_currency_by_alpha("USD ", 4));
    assert_null(mopay_currency_by_alpha("US", 2));
    assert_null(mopay_currency_by_alpha("US\0", 3));
    assert_null(mopay_currency_by_alpha("", 0));
    assert_null(mopay_currency_by_alpha("AAA", 3)); /* before the first entry */
    assert_null(mopay_currency_by_alpha("ZZZ", 3)); /* after the last */
    /* Only `len` bytes count: the rest of the caller's buffer is not part of the code. */
    assert_ptr_equal(mopay_currency_by_alpha("USDX", 3), currency("USD"));
    char exact[3] = {'E', 'U', 'R'};
    assert_ptr_equal(mopay_currency_by_alpha(exact, sizeof(exact)), currency("EUR"));
}

/* ---- format ---- */

static void format_known_texts(void **state)
{
    (void)state;
    static const struct {
        const char *alpha;
        int64_t minor;
        const char *text;
    } cases[] = {
        {"USD", 1230, "12.30"},
        {"USD", 0, "0.00"},
        {"USD", 5, "0.05"},
        {"USD", -5, "-0.05"},
        {"USD", -100, "-1.00"},
        {"USD", INT64_MAX, "92233720368547758.07"},
        {"USD", INT64_MIN, "-92233720368547758.08"},
        {"JPY", 1200, "1200"},
        {"JPY", 0, "0"},
        {"JPY", -7, "-7"},
        {"JPY", INT64_MAX, "9223372036854775807"},
        {"JPY", INT64_MIN, "-9223372036854775808"},
        {"KWD", 1, "0.001"},
        {"KWD", 1234, "1.234"},
        {"KWD", INT64_MIN, "-9223372036854775.808"},
        {"CLF", 1, "0.0001"},
        {"CLF", -12345, "-1.2345"},
        {"CLF", INT64_MAX, "922337203685477.5807"},
        {"CLF", INT64_MIN, "-922337203685477.5808"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[MOPAY_MONEY_TEXT_BYTES];
        memset(buf, 'x', sizeof(buf));
        size_t len = mopay_money_format(cases[i].minor, currency(cases[i].alpha), buf);
        assert_string_equal(buf, cases[i].text);
        assert_int_equal(len, strlen(cases[i].text));
    }
}

/* ---- round trips ---- */

static void round_trip_one(int64_t value, const struct mopay_currency *c)
{
    char buf[MOPAY_MONEY_TEXT_BYTES];
    size_t len = mopay_money_format(value, c, buf);
    assert_true(len < MOPAY_MONEY_TEXT_BYTES);
    assert_int_equal(len, strlen(buf));

    int64_t back = SENTINEL;
    enum mopay_err err = parse_exact(buf, len, c, MOPAY_MONEY_ALLOW_NEGATIVE, &back);
    if (err != MOPAY_OK || back != value)
        fail_msg("%s %s: %s, %lld -> %lld", c->alpha, buf, mopay_err_code(err), (long long)value,
                 (long long)back);

    back = SENTINEL;
    err = parse_exact(buf, len, c, 0, &back);
    if (value < 0) {
        assert_int_equal(err, MOPAY_ERR_amount_negative);
        assert_true(back == SENTINEL);
    } else {
        assert_int_equal(err, MOPAY_OK);
        assert_true(back == value);
    }
}

static void parse_format_round_trips(void **state)
{
    (void)state;
    static const char *alphas[] = {"JPY", "USD", "KWD", "CLF"};
    int64_t fixed[] = {0, 1, 9, 10, 99, 100, 101, 999, 1000, 1001, 12345, 100000, 999999999,
                       INT64_MAX, INT64_MAX - 1, INT64_MAX / 10, INT64_MAX / 100, INT64_MAX / 1000};
    for (size_t a = 0; a < sizeof(alphas) / sizeof(alphas[0]); a++) {
        const struct mopay_currency *c = currency(alphas[a]);
        for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
            round_trip_one(fixed[i], c);
            round_trip_one(-fixed[i], c);
        }
        round_trip_one(INT64_MIN, c);
        round_trip_one(INT64_MIN + 1, c);
        for (int64_t p = 1; p <= INT64_MAX / 10; p *= 10) {
            round_trip_one(p, c);
            round_trip_one(p - 1, c);
            round_trip_one(-p - 1, c);
        }
        /* A fixed-seed xorshift spreads values over every magnitude; deterministic across runs. */
        uint64_t x = 0x9E3779B97F4A7C15u + a;
        for (int i = 0; i < 20000; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            int shift = (int)(x % 64);
            round_trip_one((int64_t)((x >> shift) & (uint64_t)INT64_MAX) * ((x & 1) ? -1 : 1), c);
        }
    }
}

/* ---- parse: accepted ---- */

#define TEXT(literal) literal, sizeof(literal) - 1

struct parse_case {
    const char *alpha;
    const char *text;
    size_t len;
    unsigned flags;
    enum mopay_err err;
    int64_t minor; /* when err == MOPAY_OK */
};

#define NEG MOPAY_MONEY_ALLOW_NEGATIVE

static void run_parse_cases(const struct parse_case *cases, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const struct parse_case *k = &cases[i];
        int64_t out = SENTINEL;
        enum mopay_err err = parse_exact(k->text, k->len, currency(k->alpha), k->flags, &out);
        if (err != k->err)
            fail_msg("case %zu (%s, %zu bytes): got %s, want %s", i, k->alpha, k->len,
                     mopay_err_code(err), mopay_err_code(k->err));
        if (err == MOPAY_OK && out != k->minor)
            fail_msg("case %zu (%s): got %lld, want %lld", i, k->alpha, (long long)out,
                     (long long)k->minor);
        if (err != MOPAY_OK && out != SENTINEL)
            fail_msg("case %zu (%s): out parameter written on failure", i, k->alpha);
    }
}

static void parse_accepts(void **state)
{
    (void)state;
    static const struct parse_case cases[] = {
        {"USD", TEXT("12.34"), 0, MOPAY_OK, 1234},
        {"USD", TEXT("12.3"), 0, MOPAY_OK, 1230},
        {"USD", TEXT("12"), 0, MOPAY_OK, 1200},
        {"USD", TEXT("0"), 0, MOPAY_OK, 0},
        {"USD", TEXT("0.5"), 0, MOPAY_OK, 50},
        {"USD", TEXT("0.05"), 0, MOPAY_OK, 5},
        {"USD", TEXT("0.00"), 0, MOPAY_OK, 0},
        {"USD", TEXT("100"), 0, MOPAY_OK, 10000},
        {"USD", TEXT("-0.5"), NEG, MOPAY_OK, -50},
        {"USD", TEXT("-12.34"), NEG, MOPAY_OK, -1234},
        {"USD", TEXT("-0"), NEG, MOPAY_OK, 0},
        {"USD", TEXT("-0.00"), NEG, MOPAY_OK, 0},
        {"USD", TEXT("12.34"), NEG, MOPAY_OK, 1234},
        {"JPY", TEXT("1200"), 0, MOPAY_OK, 1200},
        {"JPY", TEXT("-1"), NEG, MOPAY_OK, -1},
        {"KWD", TEXT("1.234"), 0, MOPAY_OK, 1234},
        {"KWD", TEXT("1.2"), 0, MOPAY_OK, 1200},
        {"CLF", TEXT("1.2345"), 0, MOPAY_OK, 12345},
        {"CLF", TEXT("0.0001"), 0, MOPAY_OK, 1},
        {"XCG", TEXT("7.50"), 0, MOPAY_OK, 750},
        /* Only `len` bytes are the amount. */
        {"USD", "12.345", 4, 0, MOPAY_OK, 1230},
        {"USD", "1x", 1, 0, MOPAY_OK, 100},
    };
    run_parse_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

/* ---- parse: refusals ---- */

static void parse_refuses_malformed(void **state)
{
    (void)state;
    static const struct parse_case cases[] = {
        {"USD", TEXT(""), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("."), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("1."), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT(".5"), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("-"), NEG, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("-."), NEG, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("-.5"), NEG, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("--1"), NEG, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("-abc"), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("+1"), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("+1"), NEG, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("1+"), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT(" 1"), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("1 "), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("1 000"), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("\t1"), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("1\n"), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("- 1"), NEG, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("1e3"), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("1E3"), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("1.5e2"), 0, MOPAY_ERR_amount_invalid, 0},
        {"JPY", TEXT("1e0"), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("0x10"), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("1,000"), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("1,5"), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("1_000"), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("1..2"), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("1.2.3"), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("1.-2"), NEG, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("12a"), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("NaN"), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("inf"), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("-inf"), NEG, MOPAY_ERR_amount_invalid, 0},
        /* Leading zeros. */
        {"USD", TEXT("00"), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("007"), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("00.5"), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("01.00"), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("-01"), NEG, MOPAY_ERR_amount_invalid, 0},
        {"JPY", TEXT("0001"), 0, MOPAY_ERR_amount_invalid, 0},
        /* Embedded NUL: a C string would stop there, the parser must not. */
        {"USD", TEXT("\0"), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("1\0"), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("1\0002"), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("1.\0005"), 0, MOPAY_ERR_amount_invalid, 0},
        /* Non-ASCII: NBSP, full-width one, Arabic-Indic five, one half, a lone 0xFF byte. */
        {"USD", TEXT("1\xC2\xA0"), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("\xEF\xBC\x91"), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("\xD9\xA5"), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("\xC2\xBD"), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("1\xFF"), 0, MOPAY_ERR_amount_invalid, 0},
        {"USD", TEXT("\xB1\x31"), 0, MOPAY_ERR_amount_invalid, 0},
    };
    run_parse_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void parse_refuses_sign_and_precision(void **state)
{
    (void)state;
    static const struct parse_case cases[] = {
        {"USD", TEXT("-1"), 0, MOPAY_ERR_amount_negative, 0},
        {"USD", TEXT("-0"), 0, MOPAY_ERR_amount_negative, 0},
        {"USD", TEXT("-0.00"), 0, MOPAY_ERR_amount_negative, 0},
        {"USD", TEXT("-0.5"), 0, MOPAY_ERR_amount_negative, 0},
        {"JPY", TEXT("-5"), 0, MOPAY_ERR_amount_negative, 0},
        /* The sign is judged before precision and size. */
        {"USD", TEXT("-1.234"), 0, MOPAY_ERR_amount_negative, 0},
        {"USD", TEXT("-99999999999999999999"), 0, MOPAY_ERR_amount_negative, 0},
        /* Too many decimals, zeros included. */
        {"USD", TEXT("1.230"), 0, MOPAY_ERR_amount_too_precise, 0},
        {"USD", TEXT("1.000"), 0, MOPAY_ERR_amount_too_precise, 0},
        {"USD", TEXT("0.001"), 0, MOPAY_ERR_amount_too_precise, 0},
        {"USD", TEXT("-1.234"), NEG, MOPAY_ERR_amount_too_precise, 0},
        {"JPY", TEXT("1.5"), 0, MOPAY_ERR_amount_too_precise, 0},
        {"JPY", TEXT("1.0"), 0, MOPAY_ERR_amount_too_precise, 0},
        {"JPY", TEXT("0.0"), 0, MOPAY_ERR_amount_too_precise, 0},
        {"KRW", TEXT("100.00"), 0, MOPAY_ERR_amount_too_precise, 0},
        {"KWD", TEXT("0.0001"), 0, MOPAY_ERR_amount_too_precise, 0},
        {"KWD", TEXT("1.2340"), 0, MOPAY_ERR_amount_too_precise, 0},
        {"CLF", TEXT("0.00001"), 0, MOPAY_ERR_amount_too_precise, 0},
        /* Precision is judged before size. */
        {"USD", TEXT("99999999999999999999.999"), 0, MOPAY_ERR_amount_too_precise, 0},
    };
    run_parse_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void parse_overflow_boundaries(void **state)
{
    (void)state;
    static const struct parse_case cases[] = {
        /* exponent 0: INT64_MAX = 9223372036854775807 */
        {"JPY", TEXT("9223372036854775806"), 0, MOPAY_OK, INT64_MAX - 1},
        {"JPY", TEXT("9223372036854775807"), 0, MOPAY_OK, INT64_MAX},
        {"JPY", TEXT("9223372036854775808"), 0, MOPAY_ERR_amount_overflow, 0},
        {"JPY", TEXT("9223372036854775809"), 0, MOPAY_ERR_amount_overflow, 0},
        {"JPY", TEXT("-9223372036854775807"), NEG, MOPAY_OK, INT64_MIN + 1},
        {"JPY", TEXT("-9223372036854775808"), NEG, MOPAY_OK, INT64_MIN},
        {"JPY", TEXT("-9223372036854775809"), NEG, MOPAY_ERR_amount_overflow, 0},
        {"JPY", TEXT("18446744073709551615"), 0, MOPAY_ERR_amount_overflow, 0}, /* UINT64_MAX */
        {"JPY", TEXT("18446744073709551616"), 0, MOPAY_ERR_amount_overflow, 0}, /* 2^64 wraps to 0 */
        {"JPY", TEXT("18446744073709551617"), 0, MOPAY_ERR_amount_overflow, 0}, /* 2^64 + 1 wraps to 1 */
        {"JPY", TEXT("99999999999999999999"), 0, MOPAY_ERR_amount_overflow, 0},
        {"JPY", TEXT("100000000000000000000000000000000000000000"), 0, MOPAY_ERR_amount_overflow, 0},
        /* exponent 2 */
        {"USD", TEXT("92233720368547758"), 0, MOPAY_OK, 9223372036854775800},
        {"USD", TEXT("92233720368547758.06"), 0, MOPAY_OK, INT64_MAX - 1},
        {"USD", TEXT("92233720368547758.07"), 0, MOPAY_OK, INT64_MAX},
        {"USD", TEXT("92233720368547758.08"), 0, MOPAY_ERR_amount_overflow, 0},
        {"USD", TEXT("92233720368547758.1"), 0, MOPAY_ERR_amount_overflow, 0},
        {"USD", TEXT("92233720368547759"), 0, MOPAY_ERR_amount_overflow, 0},
        {"USD", TEXT("-92233720368547758.08"), NEG, MOPAY_OK, INT64_MIN},
        {"USD", TEXT("-92233720368547758.09"), NEG, MOPAY_ERR_amount_overflow, 0},
        {"USD", TEXT("184467440737095516.16"), 0, MOPAY_ERR_amount_overflow, 0}, /* 2^64 minor units */
        {"USD", TEXT("184467440737095517"), 0, MOPAY_ERR_amount_overflow, 0},    /* wraps in the * 100 */
        /* exponent 3 */
        {"KWD", TEXT("9223372036854775.807"), 0, MOPAY_OK, INT64_MAX},
        {"KWD", TEXT("9223372036854775.808"), 0, MOPAY_ERR_amount_overflow, 0},
        {"KWD", TEXT("9223372036854775.81"), 0, MOPAY_ERR_amount_overflow, 0},
        {"KWD", TEXT("9223372036854776"), 0, MOPAY_ERR_amount_overflow, 0},
        {"KWD", TEXT("-9223372036854775.808"), NEG, MOPAY_OK, INT64_MIN},
        {"KWD", TEXT("-9223372036854775.809"), NEG, MOPAY_ERR_amount_overflow, 0},
        {"KWD", TEXT("18446744073709551.616"), 0, MOPAY_ERR_amount_overflow, 0},
        /* exponent 4 */
        {"CLF", TEXT("922337203685477.5807"), 0, MOPAY_OK, INT64_MAX},
        {"CLF", TEXT("922337203685477.5808"), 0, MOPAY_ERR_amount_overflow, 0},
        {"CLF", TEXT("922337203685477.581"), 0, MOPAY_ERR_amount_overflow, 0},
        {"CLF", TEXT("922337203685478"), 0, MOPAY_ERR_amount_overflow, 0},
        {"CLF", TEXT("-922337203685477.5808"), NEG, MOPAY_OK, INT64_MIN},
        {"CLF", TEXT("-922337203685477.5809"), NEG, MOPAY_ERR_amount_overflow, 0},
        {"CLF", TEXT("1844674407370955.1616"), 0, MOPAY_ERR_amount_overflow, 0},
        {"UYW", TEXT("922337203685477.5808"), 0, MOPAY_ERR_amount_overflow, 0},
    };
    run_parse_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void parse_leaves_out_untouched(void **state)
{
    (void)state;
    int64_t out = 42;
    assert_int_equal(mopay_money_parse("1.5", 3, currency("JPY"), 0, &out),
                     MOPAY_ERR_amount_too_precise);
    assert_true(out == 42);
    assert_int_equal(mopay_money_parse("-1", 2, currency("USD"), 0, &out), MOPAY_ERR_amount_negative);
    assert_true(out == 42);
    assert_int_equal(mopay_money_parse("", 0, currency("USD"), 0, &out), MOPAY_ERR_amount_invalid);
    assert_true(out == 42);
    assert_int_equal(mopay_money_parse(NULL, 0, currency("USD"), 0, &out), MOPAY_ERR_amount_invalid);
    assert_true(out == 42);
    assert_int_equal(mopay_money_parse("9223372036854775808", 19, currency("JPY"), 0, &out),
                     MOPAY_ERR_amount_overflow);
    assert_true(out == 42);
}

/* ---- arithmetic ---- */

static void add_sub_overflow(void **state)
{
    (void)state;
    int64_t out = 42;
    assert_true(mopay_money_add(1, 2, &out));
    assert_true(out == 3);
    assert_true(mopay_money_add(INT64_MAX, INT64_MIN, &out));
    assert_true(out == -1);
    assert_true(mopay_money_add(INT64_MAX - 1, 1, &out));
    assert_true(out == INT64_MAX);

    out = 42;
    assert_false(mopay_money_add(INT64_MAX, 1, &out));
    assert_false(mopay_money_add(1, INT64_MAX, &out));
    assert_false(mopay_money_add(INT64_MIN, -1, &out));
    assert_false(mopay_money_add(INT64_MIN, INT64_MIN, &out));
    assert_false(mopay_money_add(INT64_MAX, INT64_MAX, &out));
    assert_true(out == 42);

    assert_true(mopay_money_sub(5, 7, &out));
    assert_true(out == -2);
    assert_true(mopay_money_sub(-1, INT64_MIN, &out));
    assert_true(out == INT64_MAX);
    assert_true(mopay_money_sub(INT64_MIN + 1, 1, &out));
    assert_true(out == INT64_MIN);

    out = 42;
    assert_false(mopay_money_sub(INT64_MIN, 1, &out));
    assert_false(mopay_money_sub(0, INT64_MIN, &out));
    assert_false(mopay_money_sub(INT64_MAX, -1, &out));
    assert_false(mopay_money_sub(INT64_MAX, INT64_MIN, &out));
    assert_false(mopay_money_sub(INT64_MIN, INT64_MAX, &out));
    assert_true(out == 42);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(currency_lookup_round_trips),
        cmocka_unit_test(currency_table_sorted_without_duplicates),
        cmocka_unit_test(currency_known_entries),
        cmocka_unit_test(currency_alpha_is_exact),
        cmocka_unit_test(format_known_texts),
        cmocka_unit_test(parse_format_round_trips),
        cmocka_unit_test(parse_accepts),
        cmocka_unit_test(parse_refuses_malformed),
        cmocka_unit_test(parse_refuses_sign_and_precision),
        cmocka_unit_test(parse_overflow_boundaries),
        cmocka_unit_test(parse_leaves_out_untouched),
        cmocka_unit_test(add_sub_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
