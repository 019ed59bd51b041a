/* Decimal amount text <-> int64 minor units, and overflow-checked arithmetic.
 *
 * Integers only: a float cannot hold 0.10 exactly, and strtod accepts whitespace, '+', hex,
 * exponents and locale separators that an API must refuse. Parsing is a strict two-pass affair:
 * first the syntax of the whole string, then the value, so that a malformed string is always
 * amount_invalid however large it looks. */
#include "mopay/money.h"

#include "mopay/assert.h"

/* 10^18 is the largest power of ten in int64; this also keeps the longest text ("-0." and 18
 * digits, or a sign and 19 digits with a point) inside MOPAY_MONEY_TEXT_BYTES. ISO's largest
 * exponent is 4. */
#define MONEY_EXPONENT_MAX 18
_Static_assert(1 + 19 + 1 + 1 <= MOPAY_MONEY_TEXT_BYTES, "text buffer holds sign, digits, point, NUL");

struct amount_text {
    bool negative;
    const char *int_digits;
    size_t int_len;
    const char *frac_digits;
    size_t frac_len;
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static size_t digits_span(const char *s, size_t len)
{
    size_t n = 0;
    while (n < len && is_digit(s[n]))
        n++;
    return n;
}

/* Splits `s` into sign, integer digits and fraction digits. False when it is not
 * -?(0|[1-9][0-9]*)(\.[0-9]+)? exactly; never reads past `len`. */
static bool amount_split(const char *s, size_t len, struct amount_text *t)
{
    size_t i = 0;
    t->negative = len > 0 && s[0] == '-';
    if (t->negative)
        i++;

    t->int_digits = s + i;
    t->int_len = digits_span(s + i, len - i);
    i += t->int_len;
    if (t->int_len == 0)
        return false;
    if (t->int_len > 1 && t->int_digits[0] == '0')
        return false;

    t->frac_digits = s + i;
    t->frac_len = 0;
    if (i < len && s[i] == '.') {
        i++;
        t->frac_digits = s + i;
        t->frac_len = digits_span(s + i, len - i);
        i += t->frac_len;
        if (t->frac_len == 0)
            return false;
    }
    return i == len;
}

/* *acc = *acc * 10 + digit, for each digit. False on uint64 overflow (*acc is then garbage). */
static bool amount_accumulate(uint64_t *acc, const char *digits, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (__builtin_mul_overflow(*acc, 10u, acc))
            return false;
        if (__builtin_add_overflow(*acc, (uint64_t)(digits[i] - '0'), acc))
            return false;
    }
    return true;
}

/* The int64 whose magnitude is `m` (m <= 2^63), without ever negating INT64_MIN. */
static int64_t amount_negate(uint64_t m)
{
    return m == 0 ? 0 : -(int64_t)(m - 1) - 1;
}

enum mopay_err mopay_money_parse(const char *s, size_t len, const struct mopay_currency *currency,
                                 unsigned flags, int64_t *out_minor)
{
    MOPAY_ASSERT(s != NULL || len == 0);
    MOPAY_ASSERT(currency != NULL);
    MOPAY_ASSERT(currency->exponent <= MONEY_EXPONENT_MAX);
    MOPAY_ASSERT((flags & ~MOPAY_MONEY_ALLOW_NEGATIVE) == 0);
    MOPAY_ASSERT(out_minor != NULL);

    struct amount_text t;
    if (!amount_split(s, len, &t))
        return MOPAY_ERR_amount_invalid;
    if (t.negative && !(flags & MOPAY_MONEY_ALLOW_NEGATIVE))
        return MOPAY_ERR_amount_negative;
    if (t.frac_len > currency->exponent)
        return MOPAY_ERR_amount_too_precise;

    /* uint64 holds at most 20 digits, so these loops stop early on long input. */
    uint64_t magnitude = 0;
    if (!amount_accumulate(&magnitude, t.int_digits, t.int_len) ||
        !amount_accumulate(&magnitude, t.frac_digits, t.frac_len))
        return MOPAY_ERR_amount_overflow;
    for (size_t k = t.frac_len; k < currency->exponent; k++)
        if (__builtin_mul_overflow(magnitude, 10u, &magnitude))
            return MOPAY_ERR_amount_overflow;

    uint64_t limit = t.negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (magnitude > limit)
        return MOPAY_ERR_amount_overflow;

    *out_minor = t.negative ? amount_negate(magnitude) : (int64_t)magnitude;
    MOPAY_ASSERT(t.negative ? *out_minor <= 0 : *out_minor >= 0);
    return MOPAY_OK;
}

size_t mopay_money_format(int64_t amount_minor, const struct mopay_currency *currency,
                          char buf[MOPAY_MONEY_TEXT_BYTES])
{
    MOPAY_ASSERT(currency != NULL);
    MOPAY_ASSERT(currency->exponent <= MONEY_EXPONENT_MAX);
    MOPAY_ASSERT(buf != NULL);
    size_t exponent = currency->exponent;

    /* Unsigned arithmetic, so INT64_MIN's magnitude 2^63 needs no special case. */
    uint64_t m = amount_minor < 0 ? (uint64_t)0 - (uint64_t)amount_minor : (uint64_t)amount_minor;
    char digits[20]; /* least significant first */
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + m % 10);
        m /= 10;
    } while (m != 0);
    while (n <= exponent) /* "5" minor units of USD is "0.05" */
        digits[n++] = '0';

    size_t len = 0;
    if (amount_minor < 0)
        buf[len++] = '-';
    while (n > exponent)
        buf[len++] = digits[--n];
    if (exponent > 0) {
        buf[len++] = '.';
        while (n > 0)
            buf[len++] = digits[--n];
    }
    MOPAY_ASSERT(len < MOPAY_MONEY_TEXT_BYTES);
    buf[len] = '\0';
    return len;
}

bool mopay_money_add(int64_t a, int64_t b, int64_t *out)
{
    MOPAY_ASSERT(out != NULL);
    int64_t sum;
    if (__builtin_add_overflow(a, b, &sum))
        return false;
    *out = sum;
    return true;
}

bool mopay_money_sub(int64_t a, int64_t b, int64_t *out)
{
    MOPAY_ASSERT(out != NULL);
    int64_t difference;
    if (__builtin_sub_overflow(a, b, &difference))
        return false;
    *out = difference;
    return true;
}
