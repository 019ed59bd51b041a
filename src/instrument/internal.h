#ifndef MOPAY_INSTRUMENT_INTERNAL_H
#define MOPAY_INSTRUMENT_INTERNAL_H

/* What the files of src/instrument share: one HMAC for every hash, and RFC 4226's truncation. */
#include <stddef.h>
#include <stdint.h>

#include "mopay/otp.h"

#define INSTRUMENT_HMAC_BYTES_MAX 64 /* SHA-512 */

/* Writes the low `n` bytes of `v` big-endian, the byte order of RFC 4226's counter and of every
 * number inside mopay's MACs. */
static inline void instrument_put_be(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = n; i > 0; i--) {
        p[i - 1] = (uint8_t)v;
        v >>= 8;
    }
}

/* HMAC-`hash` of `msg` under `key` into `out`; returns the MAC's length (20, 32 or 64). */
size_t instrument_hmac(enum mopay_otp_hash hash, const uint8_t *key, size_t key_len, const uint8_t *msg,
                       size_t msg_len, uint8_t out[INSTRUMENT_HMAC_BYTES_MAX]);

/* RFC 4226 dynamic truncation of `mac` (at least 20 bytes), reduced modulo 10^digits and written
 * as `digits` zero-padded decimal digits and a NUL. */
void instrument_otp_digits(const uint8_t *mac, size_t mac_len, int digits, char *out);

#endif
