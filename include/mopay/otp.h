#ifndef MOPAY_OTP_H
#define MOPAY_OTP_H

#include <stddef.h>
#include <stdint.h>

/* One-time passwords: HOTP (RFC 4226) and TOTP (RFC 6238), the core of the offline payment codes
 * (paycode.h). Pure functions: no I/O, no clock (the caller passes the time), no allocation of
 * mopay's own.
 *
 * The HMACs are OpenSSL's for all three hashes. libsodium, mopay's usual crypto library, has
 * HMAC-SHA256 and HMAC-SHA512 but no HMAC-SHA1, which RFC 4226 and most authenticator apps
 * use; one implementation for the three keeps them behaving alike. OpenSSL allocates its MAC
 * context internally on each call; it fails only when out of memory or when its default provider
 * cannot be loaded, and a process in that state stops (MOPAY_ASSERT) rather than answer with a
 * wrong code. */

enum mopay_otp_hash {
    MOPAY_OTP_SHA1,
    MOPAY_OTP_SHA256,
    MOPAY_OTP_SHA512,
};

/* RFC 4226 requires at least 6 digits. Dynamic truncation yields a 31-bit number (at most
 * 2,147,483,647), so a 10-digit code is that number itself, zero-padded: it always starts with
 * 0, 1 or 2 and carries 31 bits, not the 33 its length suggests. Beyond 10 digits the extra
 * digits would all be zeros. */
#define MOPAY_OTP_DIGITS_MIN 6
#define MOPAY_OTP_DIGITS_MAX 10
#define MOPAY_OTP_BYTES (MOPAY_OTP_DIGITS_MAX + 1) /* digits and NUL */

/* HOTP: `digits` decimal digits of HMAC(key, counter as 8 bytes big-endian) after dynamic
 * truncation, zero-padded, NUL-terminated in `out`. key_len > 0. */
void mopay_otp_hotp(enum mopay_otp_hash hash, const uint8_t *key, size_t key_len, uint64_t counter,
                    int digits, char out[MOPAY_OTP_BYTES]);

/* TOTP: HOTP with counter floor(unix_time / step_s), time counted from the Unix epoch (RFC 6238's
 * T0 = 0). unix_time >= 0, step_s > 0; RFC 6238's default step is 30 seconds. */
void mopay_otp_totp(enum mopay_otp_hash hash, const uint8_t *key, size_t key_len, int64_t unix_time,
                    int64_t step_s, int digits, char out[MOPAY_OTP_BYTES]);

#endif
