/* libFuzzer harness for money text, the parser that sees amounts from every request body.
 *
 * For each of a few currencies (exponents 0, 2, 3, 4) and both sign policies, the input is
 * parsed as an amount. Whatever parses must format to text that parses back to the same value,
 * and in canonical form (exactly the currency's decimals, no "-0") must format to the input
 * itself. Refusals must leave the out parameter alone. The input also drives the currency
 * lookup and the overflow-checked arithmetic. Any broken property aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mopay/money.h"

#define SENTINEL ((int64_t)0x5A5A5A5A5A5A5A5A)

static void check(int ok)
{
    if (!ok)
        abort();
}

/* True when `s` is already what mopay_money_format would write for its value. */
static int is_canonical(const char *s, size_t len, uint8_t exponent)
{
    const char *point = memchr(s, '.', len);
    size_t decimals = point ? len - (size_t)(point - s) - 1 : 0;
    if (decimals != exponent)
        return 0;
    if (len > 0 && s[0] == '-') { /* "-0.00" formats as "0.00" */
        for (size_t i = 1; i < len; i++)
            if (s[i] != '0' && s[i] != '.')
                return 1;
        return 0;
    }
    return 1;
}

static void fuzz_parse(const char *s, size_t len, const struct mopay_currency *c, unsigned flags)
{
    int64_t value = SENTINEL;
    enum mopay_err err = mopay_money_parse(s, len, c, flags, &value);
    if (err != MOPAY_OK) {
        check(value == SENTINEL);
        check(err == MOPAY_ERR_amount_invalid || err == MOPAY_ERR_amount_too_precise ||
              err == MOPAY_ERR_amount_negative || err == MOPAY_ERR_amount_overflow);
        return;
    }
    check(value >= 0 || (flags & MOPAY_MONEY_ALLOW_NEGATIVE));

    char buf[MOPAY_MONEY_TEXT_BYTES];
    size_t n = mopay_money_format(value, c, buf);
    check(n < sizeof(buf) && buf[n] == '\0' && strlen(buf) == n);

    int64_t back = SENTINEL;
    check(mopay_money_parse(buf, n, c, MOPAY_MONEY_ALLOW_NEGATIVE, &back) == MOPAY_OK);
    check(back == value);
    if (is_canonical(s, len, c->exponent))
        check(n == len && memcmp(buf, s, len) == 0);
}

static void fuzz_arithmetic(const uint8_t *data, size_t size)
{
    if (size < 16)
        return;
    int64_t a, b, out = SENTINEL;
    memcpy(&a, data, sizeof(a));
    memcpy(&b, data + 8, sizeof(b));
    __int128 sum = (__int128)a + b;
    __int128 difference = (__int128)a - b;
    int sum_fits = sum >= INT64_MIN && sum <= INT64_MAX;
    int difference_fits = difference >= INT64_MIN && difference <= INT64_MAX;
    check(mopay_money_add(a, b, &out) == sum_fits);
    check(sum_fits ? out == (int64_t)sum : out == SENTINEL);
    out = SENTINEL;
    check(mopay_money_sub(a, b, &out) == difference_fits);
    check(difference_fits ? out == (int64_t)difference : out == SENTINEL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *alphas[] = {"JPY", "USD", "KWD", "CLF"};
    /* A heap copy of exactly `size` bytes, so ASan catches any read past the length. */
    char *s = malloc(size > 0 ? size : 1);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);

    for (size_t i = 0; i < sizeof(alphas) / sizeof(alphas[0]); i++) {
        const struct mopay_currency *c = mopay_currency_by_alpha(alphas[i], 3);
        check(c != NULL);
        fuzz_parse(s, size, c, 0);
        fuzz_parse(s, size, c, MOPAY_MONEY_ALLOW_NEGATIVE);
    }

    const struct mopay_currency *found = mopay_currency_by_alpha(s, size < 3 ? size : 3);
    if (found != NULL)
        check(size >= 3 && memcmp(found->alpha, s, 3) == 0 &&
              mopay_currency_by_numeric(found->numeric) == found);

    fuzz_arithmetic(data, size);
    free(s);
    return 0;
}
