/* libFuzzer harness for FX: the rate parser and the rates file of `mopay fx import`, the two
 * parsers that see outside text, and the arithmetic they feed.
 *
 * The input is parsed as a rate: what parses must format to text that parses back to the same
 * rate, canonical input must format to itself, a refusal must leave the out parameter alone,
 * and an inverse must be the floor of 10^24 / units. The input is parsed as a rates file: every
 * row handed over must be well-formed and point inside the input, a refusal must name a line of
 * the file, and rows reach the callback only when the whole file is good. The input's first
 * bytes also drive conversions, checked against exact 128-bit arithmetic, and quotes. Any broken
 * property aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mopay/fx.h"

#define SENTINEL ((uint64_t)0x5A5A5A5A5A5A5A5A)
#define U128_MAX (~(unsigned __int128)0)

static void check(int ok)
{
    if (!ok)
        abort();
}

static unsigned __int128 pow10_u128(unsigned n)
{
    unsigned __int128 p = 1;
    while (n-- > 0)
        p *= 10;
    return p;
}

static void fuzz_rate(const char *s, size_t len)
{
    struct mopay_fx_rate rate = {SENTINEL};
    enum mopay_err err = mopay_fx_rate_parse(s, len, &rate);
    if (err != MOPAY_OK) {
        check(err == MOPAY_ERR_fx_rate_invalid && rate.units == SENTINEL);
        return;
    }
    check(rate.units > 0);
    char buf[MOPAY_FX_RATE_TEXT_BYTES];
    size_t n = mopay_fx_rate_format(rate, buf);
    check(n < sizeof(buf) && buf[n] == '\0' && strlen(buf) == n);
    struct mopay_fx_rate back = {SENTINEL};
    check(mopay_fx_rate_parse(buf, n, &back) == MOPAY_OK && back.units == rate.units);
    int canonical = memchr(s, '.', len) == NULL || s[len - 1] != '0';
    if (canonical)
        check(n == len && memcmp(buf, s, len) == 0);

    struct mopay_fx_rate inverse = {SENTINEL};
    unsigned __int128 one_squared = pow10_u128(24);
    if (mopay_fx_rate_invert(rate, &inverse) == MOPAY_OK)
        check((unsigned __int128)inverse.units * rate.units <= one_squared &&
              ((unsigned __int128)inverse.units + 1) * rate.units > one_squared);
    else
        check(inverse.units == SENTINEL && one_squared / rate.units > UINT64_MAX);
}

struct csv_seen {
    const char *text;
    size_t len;
    size_t rows;
    size_t last_line;
    size_t stop_at; /* return an error at this row (1-based); 0 never */
};

static enum mopay_err csv_row_check(void *ctx, const struct mopay_fx_csv_row *row)
{
    struct csv_seen *seen = ctx;
    check(row->line > seen->last_line && row->line >= 2);
    check(row->base != NULL && row->quote != NULL && row->base != row->quote);
    check(row->rate.units > 0 && row->time_ns >= 0);
    check(row->source_len >= 1 && row->source_len <= MOPAY_FX_SOURCE_BYTES_MAX);
    check(row->source >= seen->text && row->source + row->source_len <= seen->text + seen->len);
    for (size_t i = 0; i < row->source_len; i++)
        check(row->source[i] >= 0x20 && row->source[i] <= 0x7E && row->source[i] != ',' &&
              row->source[i] != '"');
    seen->last_line = row->line;
    seen->rows++;
    check(seen->rows <= MOPAY_FX_CSV_ROWS_MAX);
    return seen->rows == seen->stop_at ? MOPAY_ERR_internal : MOPAY_OK;
}

static void fuzz_csv(const char *s, size_t len)
{
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += s[i] == '\n';
    struct csv_seen seen = {.text = s, .len = len};
    struct mopay_fx_csv_error error = {.line = 12345};
    enum mopay_err err = mopay_fx_csv_parse(s, len, csv_row_check, &seen, &error);
    if (err != MOPAY_OK) {
        check(err == MOPAY_ERR_fx_csv_invalid || err == MOPAY_ERR_fx_rate_invalid ||
              err == MOPAY_ERR_currency_unknown);
        check(seen.rows == 0); /* all or nothing */
        check(error.line <= lines && (error.line > 0 || len > MOPAY_FX_CSV_BYTES_MAX));
        return;
    }
    check(error.line == 0 && error.field == NULL);
    if (seen.rows == 0)
        return;
    /* The callback's error stops the walk at its row and comes back as it is. */
    struct csv_seen stop = {.text = s, .len = len, .stop_at = (seen.rows + 1) / 2};
    check(mopay_fx_csv_parse(s, len, csv_row_check, &stop, &error) == MOPAY_ERR_internal);
    check(stop.rows == stop.stop_at && error.line == stop.last_line);
}

/* convert_down/up and sell_for_buy of the first bytes, against the exact fraction a * N / D. */
static void fuzz_convert(const uint8_t *data, size_t size)
{
    static const char *alphas[] = {"JPY", "USD", "KWD", "CLF"};
    if (size < 19)
        return;
    uint64_t units, raw;
    memcpy(&units, data, 8);
    memcpy(&raw, data + 8, 8);
    int64_t a = (int64_t)(raw >> (data[16] % 64)) & INT64_MAX;
    uint32_t bps = (uint32_t)(data[17] | data[16] << 8) % (MOPAY_FX_SPREAD_BPS_MAX + 1);
    const struct mopay_currency *from = mopay_currency_by_alpha(alphas[data[18] % 4], 3);
    const struct mopay_currency *to = mopay_currency_by_alpha(alphas[data[18] / 4 % 4], 3);
    struct mopay_fx_rate rate = {units != 0 ? units : 1};
    /* One from minor unit is N / D to minor units. D <= 10^16 and 2^63 * D fits in 128 bits. */
    unsigned __int128 n = (unsigned __int128)rate.units * pow10_u128(to->exponent);
    unsigned __int128 d = pow10_u128(12 + from->exponent);
    unsigned __int128 limit = ((unsigned __int128)INT64_MAX + 1) * d;
    int fits = a == 0 || n <= U128_MAX / (unsigned __int128)a;
    unsigned __int128 an = fits ? (unsigned __int128)a * n : U128_MAX;

    int64_t down = -1, up = -1;
    enum mopay_err err = mopay_fx_convert_down(a, from, to, rate, &down);
    check(err == MOPAY_OK ? an < limit && an / d == (unsigned __int128)down
                          : err == MOPAY_ERR_amount_overflow && down == -1 && an >= limit);
    err = mopay_fx_convert_up(a, from, to, rate, &up);
    unsigned __int128 ceiling = an / d + (an % d != 0);
    check(err == MOPAY_OK ? fits && ceiling == (unsigned __int128)up
                          : err == MOPAY_ERR_amount_overflow && up == -1 && (!fits || ceiling > INT64_MAX));

    /* sell_for_buy asserts its own two inequalities; the quotes theirs. */
    int64_t sell = -1;
    if (mopay_fx_sell_for_buy(a, from, to, rate, &sell) == MOPAY_OK)
        check(sell >= 0);
    struct mopay_fx_quote q;
    if (mopay_fx_quote_sell(a, from, to, rate, bps, &q) == MOPAY_OK)
        check(q.sell_minor == a && q.base_minor + q.fee_minor == a && q.buy_minor >= 0);
    if (mopay_fx_quote_buy(a, from, to, rate, bps, &q) == MOPAY_OK)
        check(q.buy_minor == a && q.sell_minor - q.fee_minor == q.base_minor);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A heap copy of exactly `size` bytes, so ASan catches any read past the length. */
    char *s = malloc(size > 0 ? size : 1);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    fuzz_rate(s, size);
    fuzz_csv(s, size);
    fuzz_convert(data, size);
    free(s);
    return 0;
}
