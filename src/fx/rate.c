/* Rates as text, and their inverse (fx.h).
 *
 * A strict parser of our own rather than strtod or strtoull: those accept signs, spaces,
 * exponents, hex and locale separators, and go through binary fractions that cannot hold 0.1.
 * As in money.c, the syntax of the whole string is checked before its value, so a malformed
 * string is refused the same way however long it is. */
#include "mopay/fx.h"

#include "mopay/assert.h"

_Static_assert(MOPAY_FX_RATE_SCALE == 1000000000000u, "the scale is 10^MOPAY_FX_RATE_DECIMALS");
/* UINT64_MAX's 20 digits, a point and NUL; the smallest rate is "0." and 12 digits. */
_Static_assert(20 + 1 + 1 <= MOPAY_FX_RATE_TEXT_BYTES, "text buffer holds digits, point, NUL");

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

/* Splits `s` into integer and fraction digits. False unless it is (0|[1-9][0-9]*)(\.[0-9]+)?
 * exactly; never reads past `len`. */
static bool rate_split(const char *s, size_t len, size_t *int_len, const char **frac, size_t *frac_len)
{
    *int_len = digits_span(s, len);
    if (*int_len == 0 || (*int_len > 1 && s[0] == '0'))
        return false;
    size_t i = *int_len;
    *frac = s + i;
    *frac_len = 0;
    if (i < len && s[i] == '.') {
        i++;
        *frac = s + i;
        *frac_len = digits_span(s + i, len - i);
        i += *frac_len;
        if (*frac_len == 0)
            return false;
    }
    return i == len;
}

/* *acc = *acc * 10 + digit, for each digit. False on uint64 overflow (*acc is then garbage). */
static bool rate_accumulate(uint64_t *acc, const char *digits, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (__builtin_mul_overflow(*acc, 10u, acc))
            return false;
        if (__builtin_add_overflow(*acc, (uint64_t)(digits[i] - '0'), acc))
            return false;
    }
    return true;
}

enum mopay_err mopay_fx_rate_parse(const char *s, size_t len, struct mopay_fx_rate *out)
{
    MOPAY_ASSERT(s != NULL || len == 0);
    MOPAY_ASSERT(out != NULL);

    size_t int_len, frac_len;
    const char *frac;
    if (!rate_split(s, len, &int_len, &frac, &frac_len) || frac_len > MOPAY_FX_RATE_DECIMALS)
        return MOPAY_ERR_fx_rate_invalid;

    /* uint64 holds at most 20 digits, so these loops stop early on long input. */
    uint64_t units = 0;
    if (!rate_accumulate(&units, s, int_len) || !rate_accumulate(&units, frac, frac_len))
        return MOPAY_ERR_fx_rate_invalid;
    for (size_t k = frac_len; k < MOPAY_FX_RATE_DECIMALS; k++)
        if (__builtin_mul_overflow(units, 10u, &units))
            return MOPAY_ERR_fx_rate_invalid;
    if (units == 0)
        return MOPAY_ERR_fx_rate_invalid;

    out->units = units;
    return MOPAY_OK;
}

size_t mopay_fx_rate_format(struct mopay_fx_rate rate, char buf[MOPAY_FX_RATE_TEXT_BYTES])
{
    MOPAY_ASSERT(rate.units > 0);
    MOPAY_ASSERT(buf != NULL);

    char digits[20]; /* least significant first, at least 13 so that there is an integer digit */
    size_t n = 0;
    uint64_t m = rate.units;
    do {
        digits[n++] = (char)('0' + m % 10);
        m /= 10;
    } while (m != 0);
    while (n <= MOPAY_FX_RATE_DECIMALS) /* 721 * 10^-9 is "0.000000721" */
        digits[n++] = '0';

    size_t zeros = 0; /* trailing zeros of the fraction, which the canonical text drops */
    while (zeros < MOPAY_FX_RATE_DECIMALS && digits[zeros] == '0')
        zeros++;

    size_t len = 0;
    while (n > MOPAY_FX_RATE_DECIMALS)
        buf[len++] = digits[--n];
    if (zeros < MOPAY_FX_RATE_DECIMALS) {
        buf[len++] = '.';
        while (n > zeros)
            buf[len++] = digits[--n];
    }
    MOPAY_ASSERT(len < MOPAY_FX_RATE_TEXT_BYTES);
    buf[len] = '\0';
    return len;
}

enum mopay_err mopay_fx_rate_invert(struct mopay_fx_rate rate, struct mopay_fx_rate *out)
{
    MOPAY_ASSERT(rate.units > 0);
    MOPAY_ASSERT(out != NULL);

    /* 1 / (u / 10^12) = 10^24 / u in units of 10^-12, floored. 10^24 > 2^64, hence 128 bits. */
    const unsigned __int128 one_squared = (unsigned __int128)MOPAY_FX_RATE_SCALE * MOPAY_FX_RATE_SCALE;
    unsigned __int128 inverse = one_squared / rate.units;
    if (inverse > UINT64_MAX)
        return MOPAY_ERR_fx_rate_invalid;
    /* units < 2^64 < 10^24, so the inverse is at least 1 unit: never a zero rate. */
    MOPAY_ASSERT(inverse > 0);
    out->units = (uint64_t)inverse;
    return MOPAY_OK;
}
