#ifndef MOPAY_MONEY_H
#define MOPAY_MONEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mopay/err.h"

/* An active ISO 4217 currency. `exponent` is the number of minor-unit digits (JPY 0, USD 2,
 * KWD 3, CLF 4). Codes whose minor unit ISO lists as "N.A." (gold, SDR, test codes) are not
 * money mopay moves and are not in the table. */
struct mopay_currency {
    char alpha[4];      /* "USD", NUL-terminated */
    uint16_t numeric;   /* 840 */
    uint8_t exponent;   /* 2 */
    const char *name;   /* "US Dollar" */
};

/* NULL when `alpha` (exactly `len` bytes, uppercase) is not an active code. */
const struct mopay_currency *mopay_currency_by_alpha(const char *alpha, size_t len);
/* NULL when `numeric` is not the numeric code of an active currency. */
const struct mopay_currency *mopay_currency_by_numeric(uint16_t numeric);
size_t mopay_currency_count(void);
const struct mopay_currency *mopay_currency_at(size_t index);

/* Money is a signed 64-bit count of minor units, never a float. */
#define MOPAY_MONEY_ALLOW_NEGATIVE 0x1u

/* Parses a decimal string ("12.34", "-0.5", "1200") of exactly `len` bytes into minor units of
 * `currency`. `s` need not be NUL-terminated and no byte past `len` is read; a NUL or any other
 * byte inside the string is just an invalid character. Refuses, checked in this order:
 *  - amount_invalid: anything but an optional '-', ASCII digits and at most one '.' with digits
 *    on both sides ("", ".", "1.", ".5", "+1", " 1", "1e3", "1,000" are all refused), and
 *    leading zeros before other digits ("007", "00.5"; "0" and "0.5" are fine);
 *  - amount_negative: a '-' unless flags has MOPAY_MONEY_ALLOW_NEGATIVE. "-0" and "-0.00" are
 *    refused too: a sign the caller may not send is refused whatever follows it. With the flag
 *    they parse as 0, since int64 has no negative zero;
 *  - amount_too_precise: more decimals than the currency's exponent, even when they are zeros
 *    ("1.230" for USD, "1.0" for JPY): trailing zeros usually mean the client has the wrong
 *    exponent for the currency, and guessing would move the wrong amount;
 *  - amount_overflow: beyond int64 minor units. INT64_MIN itself ("-92233720368547758.08" USD)
 *    parses, so that everything mopay_money_format writes parses back.
 * On failure `*out_minor` is untouched. */
enum mopay_err mopay_money_parse(const char *s, size_t len, const struct mopay_currency *currency,
                                 unsigned flags, int64_t *out_minor);

/* Longest formatted amount: sign, 19 digits, point, NUL. */
#define MOPAY_MONEY_TEXT_BYTES 24

/* Formats minor units with exactly the currency's decimals ("12.30", "1200", "-0.05"), '-' for
 * negatives, no '+', no separators: the one canonical text mopay_money_parse reads back to the
 * same value (with MOPAY_MONEY_ALLOW_NEGATIVE for negatives). Every int64, INT64_MIN included,
 * formats. Returns the length written (without the NUL). `buf` must hold MOPAY_MONEY_TEXT_BYTES. */
size_t mopay_money_format(int64_t amount_minor, const struct mopay_currency *currency,
                          char buf[MOPAY_MONEY_TEXT_BYTES]);

/* Overflow-checked arithmetic: false (and *out untouched) on overflow. */
bool mopay_money_add(int64_t a, int64_t b, int64_t *out);
bool mopay_money_sub(int64_t a, int64_t b, int64_t *out);

#endif
