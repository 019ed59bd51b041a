#ifndef MOPAY_FX_H
#define MOPAY_FX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mopay/err.h"
#include "mopay/money.h"

/* Foreign exchange: exact rates, conversions between minor units, quotes, and the rates file.
 * Pure functions: no I/O, no clock, no allocation, integers only (a binary fraction cannot hold
 * 0.1, let alone 0.000721, and a rounding error in a rate is paid on every amount it converts).
 *
 * THE ROUNDING RULE. The platform never creates money: every rounding is by less than one minor
 * unit, and always in the direction that leaves the platform whole.
 *
 *   Selling. A customer who hands over an amount receives its conversion rounded down:
 *       buy = floor(base * rate * 10^(e_buy - e_sell))                 mopay_fx_convert_down
 *   Buying. A customer who asks to receive an amount pays the least amount whose rounded-down
 *   conversion reaches it, so what they pay is rounded up:
 *       base = min { s : floor(s * rate * 10^(e_buy - e_sell)) >= buy } mopay_fx_sell_for_buy
 *   Fees. The spread is never hidden in the rate: every conversion uses the mid rate, and the
 *   spread is a fee in the sell currency, charged on top and shown, rounded up:
 *       fee = ceil(base * spread_bps / 10000)                          mopay_fx_fee
 *
 * e_x is the currency's exponent (money.h: JPY 0, USD 2, KWD 3), rate is units / 10^12. To check
 * a quote by hand, with R = rate * 10^(e_buy - e_sell) the value of one sell minor unit in buy
 * minor units (an exact fraction):
 *   - buy_minor <= base_minor * R: the customer never receives more than the base is worth;
 *   - for a sell quote, base_minor * R < buy_minor + 1: they lose less than one buy minor unit;
 *   - for a buy quote, (base_minor - 1) * R < buy_minor: they pay at most one sell minor unit
 *     more than needed (and, when R > 1, the platform keeps the few buy minor units that last
 *     sell minor unit is worth beyond buy_minor);
 *   - sell_minor = base_minor + fee_minor exactly, and fee_minor >= ceil(base_minor * bps / 10000).
 * So converting back at the same rate, rounding the same way, never returns more than was sold,
 * and with a spread it returns strictly less of any amount above zero. */

/* Rates have 12 decimals. A KRW->USD rate is about 0.00072: 6 decimals would keep 3 significant
 * digits (an error of up to 0.14% on every amount), 12 keep 9. A USD->VND rate is about 25,000:
 * the rate's last digit is worth 10^-12 VND per USD, so even 10^9 USD convert to within 0.001 VND
 * of the exact rate. And uint64 still holds rates up to 18,446,744.07, above any real cross rate
 * (IRR per KWD is about 137,000). */
#define MOPAY_FX_RATE_DECIMALS 12
#define MOPAY_FX_RATE_SCALE 1000000000000u /* 10^12 units = a rate of 1 */

/* A rate between two currencies, exactly units / 10^12: 1 unit of the base (sell) currency is
 * worth rate units of the quote (buy) currency. Always positive: only mopay_fx_rate_parse and
 * mopay_fx_rate_invert make rates, and the functions below assert units > 0. */
struct mopay_fx_rate {
    uint64_t units;
};

/* Longest formatted rate: 20 digits, the point, NUL ("18446744.073709551615"). */
#define MOPAY_FX_RATE_TEXT_BYTES 24

/* Parses a rate of exactly `len` bytes (no NUL needed; nothing past `len` is read):
 * (0|[1-9][0-9]*)(\.[0-9]{1,12})?, positive, at most 18446744.073709551615. Trailing zeros are
 * fine ("7.1000", as rate feeds write them); a sign, exponent, space, leading zero ("07.1"),
 * more than 12 decimals (even zeros: the source has a precision mopay would silently drop),
 * zero and overflow are fx_rate_invalid, and *out is then untouched. */
enum mopay_err mopay_fx_rate_parse(const char *s, size_t len, struct mopay_fx_rate *out);

/* The canonical text of a rate: no trailing zeros, no point for whole rates ("7.1234", "1380",
 * "0.000721"), which mopay_fx_rate_parse reads back to the same rate. Returns the length
 * written, without the NUL. */
size_t mopay_fx_rate_format(struct mopay_fx_rate rate, char buf[MOPAY_FX_RATE_TEXT_BYTES]);

/* 1 / rate, rounded down to 12 decimals. For two uses only:
 *   - showing a rate the other way round ("1 USD = 1386.96 KRW" next to "1 KRW = 0.000721 USD");
 *   - quoting a pair the rates feed gives one way only (USD/KRW, and a customer sells KRW).
 *     Rounding the inverse down values the customer's sell currency a little lower, so a
 *     conversion at the inverse still never creates money.
 * Not for undoing a conversion: a refund uses the payment's locked rate and amounts, since
 * inverting twice need not give the rate back. fx_rate_invalid when the inverse is above the
 * largest rate (rates below 0.000000054211). */
enum mopay_err mopay_fx_rate_invert(struct mopay_fx_rate rate, struct mopay_fx_rate *out);

/* amount_minor of `from` in minor units of `to`, at `rate` (1 from = rate to):
 *   down: floor(amount * rate * 10^(e_to - e_from)), what a customer selling `amount` receives;
 *   up:   ceil(the same), what to charge in `to` for a price set in `from`, when the rate is
 *         quoted from the price's currency (a 1.00 USD fee taken from a KRW wallet at USD/KRW).
 * amount_minor >= 0 (asserted: amounts reach here parsed without MOPAY_MONEY_ALLOW_NEGATIVE).
 * amount_overflow when the result is beyond int64, and *out_minor is then untouched; the
 * arithmetic is exact 128-bit integers, so no amount that fits is refused. */
enum mopay_err mopay_fx_convert_down(int64_t amount_minor, const struct mopay_currency *from,
                                     const struct mopay_currency *to, struct mopay_fx_rate rate,
                                     int64_t *out_minor);
enum mopay_err mopay_fx_convert_up(int64_t amount_minor, const struct mopay_currency *from,
                                   const struct mopay_currency *to, struct mopay_fx_rate rate,
                                   int64_t *out_minor);

/* The least sell amount (minor units of `sell`) whose mopay_fx_convert_down into `buy` is at
 * least buy_minor: ceil(buy_minor / (rate * 10^(e_buy - e_sell))), computed exactly. Hence
 * convert_down(result) >= buy_minor and convert_down(result - 1) < buy_minor; the function
 * asserts both before returning. It uses the same rate as the forward conversion rather than
 * an inverted one, so a buy quote and the payment that executes it agree to the minor unit.
 * buy_minor >= 0 (asserted). amount_overflow when the result or its conversion is beyond int64;
 * *sell_minor is then untouched. */
enum mopay_err mopay_fx_sell_for_buy(int64_t buy_minor, const struct mopay_currency *sell,
                                     const struct mopay_currency *buy, struct mopay_fx_rate rate,
                                     int64_t *sell_minor);

/* A spread is at most 100%. The sell quote relies on it: then fee(b + 1) - fee(b) <= 1, so
 * what a sell amount cannot convert is at most one minor unit (see mopay_fx_quote_sell). */
#define MOPAY_FX_SPREAD_BPS_MAX 10000u

/* ceil(amount_minor * spread_bps / 10000), in the amount's currency. Cannot fail: the fee is at
 * most the amount, so it returns the fee rather than an error code. amount_minor >= 0 and
 * spread_bps <= MOPAY_FX_SPREAD_BPS_MAX are asserted (the corridor's spread is checked when the
 * configuration is read). */
int64_t mopay_fx_fee(int64_t amount_minor, uint32_t spread_bps);

/* A quote: what the customer pays (sell) and receives (buy), and why. */
struct mopay_fx_quote {
    const struct mopay_currency *sell;
    const struct mopay_currency *buy;
    struct mopay_fx_rate rate; /* the mid rate, applied to base as it is: 1 sell = rate buy */
    uint32_t spread_bps;
    int64_t base_minor;        /* sell currency: the part converted at the mid rate */
    int64_t fee_minor;         /* sell currency: the spread, charged on top of base */
    int64_t sell_minor;        /* base_minor + fee_minor: the total the customer pays */
    int64_t buy_minor;         /* buy currency: what the customer receives */
};

/* The customer sells exactly sell_minor, fee included:
 *   base = the largest b with b + fee(b) <= sell_minor = floor(sell * 10000 / (10000 + bps))
 *   fee  = sell_minor - base = ceil(sell * bps / (10000 + bps))
 *   buy  = convert_down(base)
 * fee is fee(base), or fee(base) + 1 when base + 1 would cost sell_minor + 1: that one unit
 * cannot be converted without charging more than the customer offered, and is kept as fee so
 * that sell = base + fee holds. buy_minor may be 0 for tiny amounts; the caller decides whether
 * to offer such a quote. amount_overflow when buy is beyond int64; *out is then untouched. */
enum mopay_err mopay_fx_quote_sell(int64_t sell_minor, const struct mopay_currency *sell,
                                   const struct mopay_currency *buy, struct mopay_fx_rate rate,
                                   uint32_t spread_bps, struct mopay_fx_quote *out);

/* The customer receives exactly buy_minor:
 *   base = sell_for_buy(buy_minor)     (convert_down(base) >= buy_minor, by less than the worth
 *                                       of one sell minor unit)
 *   fee  = fee(base)
 *   sell = base + fee
 * amount_overflow when base or sell is beyond int64; *out is then untouched. */
enum mopay_err mopay_fx_quote_buy(int64_t buy_minor, const struct mopay_currency *sell,
                                  const struct mopay_currency *buy, struct mopay_fx_rate rate,
                                  uint32_t spread_bps, struct mopay_fx_quote *out);

/* The rates file of `mopay fx import FILE.csv`:
 *
 *     pair,rate,source,time
 *     USD/CNY,7.1234,ECB reference,2026-11-21T08:30:00Z
 *     USD/KRW,1386.96,Reuters,2026-11-21T08:30:00.123+09:00
 *
 * The first line is exactly that header. Each further line is one rate: the pair BASE/QUOTE of
 * two different active ISO 4217 codes (1 BASE = rate QUOTE), a rate as mopay_fx_rate_parse
 * reads it, the source (1..64 printable ASCII characters: it is shown to operators and stored
 * as it is), and the time the source published the rate, RFC 3339. Lines end in LF or CRLF;
 * the last one may have no line ending, and blank lines may follow the last rate (an editor's
 * trailing newline) but not come between rates, where they suggest a file cut and pasted
 * together. CSV quoting is not supported (rate feeds never need it): a '"' anywhere is refused,
 * and a comma always ends a field. Spaces are part of their field: "USD/CNY, 7.1" is a bad rate,
 * and " ECB" a source with a leading space. */
#define MOPAY_FX_CSV_ROWS_MAX 4096        /* rates per file, header not counted */
#define MOPAY_FX_CSV_LINE_BYTES_MAX 256   /* per line, without its LF or CRLF */
#define MOPAY_FX_SOURCE_BYTES_MAX 64
/* Header, every row and one blank line, each with CRLF: no valid file is longer, so the CLI
 * can read at most this many bytes (and one more, to tell a file that is too long). */
#define MOPAY_FX_CSV_BYTES_MAX ((MOPAY_FX_CSV_ROWS_MAX + 2) * (MOPAY_FX_CSV_LINE_BYTES_MAX + 2))

struct mopay_fx_csv_row {
    size_t line;                        /* 1-based, in the file; the header is line 1 */
    const struct mopay_currency *base;  /* USD in USD/CNY */
    const struct mopay_currency *quote; /* CNY: 1 base = rate quote */
    struct mopay_fx_rate rate;
    const char *source;                 /* inside the caller's text, not NUL-terminated */
    size_t source_len;
    int64_t time_ns;                    /* since the Unix epoch, UTC */
};

/* Where a file was refused. */
struct mopay_fx_csv_error {
    size_t line;       /* 1-based; 0 for the file as a whole (longer than MOPAY_FX_CSV_BYTES_MAX) */
    const char *field; /* "pair", "rate", "source" or "time"; NULL for the line as a whole */
};

/* Checks all of `text` (exactly `len` bytes), then hands each row to `each` in file order. Since
 * nothing is handed over before the whole file is known good, a bad line never leaves an import
 * half done. Returns, with *error naming the line:
 *   - currency_unknown: a pair whose codes are well-formed but not active currencies;
 *   - fx_rate_invalid: a bad rate;
 *   - fx_csv_invalid: anything else (no or another header, a line too long, not 4 fields, a
 *     malformed pair or one currency twice, a bad source or time, a blank line between rates,
 *     more than MOPAY_FX_CSV_ROWS_MAX rows, a file too long);
 *   - whatever `each` returns other than MOPAY_OK, which stops the walk at that row.
 * A pair may appear more than once (rates at several times): the caller decides which counts.
 * On MOPAY_OK, error->line is 0 and error->field NULL. */
enum mopay_err mopay_fx_csv_parse(const char *text, size_t len,
                                  enum mopay_err (*each)(void *ctx, const struct mopay_fx_csv_row *row),
                                  void *ctx, struct mopay_fx_csv_error *error);

#endif
