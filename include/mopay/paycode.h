#ifndef MOPAY_PAYCODE_H
#define MOPAY_PAYCODE_H

#include <stddef.h>
#include <stdint.h>

#include "mopay/err.h"

/* Offline payment codes. The customer's phone derives a one-time code from its device's
 * payment-code secret and the time, with no network; the merchant scans it (an 18-digit barcode,
 * or inside an EMV consumer-presented QR, cpm.h) and mopay verifies it. Pure functions: no I/O,
 * no clock (the caller passes the time), no allocation of mopay's own.
 *
 * The code, 18 decimal digits:
 *
 *     87 DDDDDDDD S OOOOOOO
 *     |  |        | '-- OTP, 7 digits: HMAC-SHA256(secret, message), truncated as in RFC 4226
 *     |  |        '---- step hint, 1 digit: the time step modulo 10
 *     |  '------------- device index, 8 digits, zero-padded: assigned by mopay at registration
 *     '---------------- prefix "87": a mopay code
 *
 *     step    = floor(unix_time / 30)
 *     message = "mopay paycode v1" (16 ASCII bytes) || step (8 bytes, big-endian)
 *               || device index (8 bytes, big-endian)
 *     secret  = 32 random bytes per device, made by mopay at registration and kept by the
 *               phone and (sealed) by the server
 *
 * Why these parts, in these sizes (16 digits to share after the prefix):
 * - Prefix "87". Point-of-sale software sends a scanned code to a wallet by its first two
 *   digits: WeChat Pay's codes start with 10 to 15, Alipay's with 25 to 30 (28 was Alipay's
 *   first prefix and is routed to Alipay everywhere), UnionPay's with 62. Numbers of 16 to 19
 *   digits that start with 2 to 6 also look like card numbers (Mastercard's 2-series, Amex and
 *   JCB, Visa, Mastercard, Discover and UnionPay) to software that routes on the BIN. A first
 *   digit of 8 avoids all of these. The prefix is only a routing hint: it is not secret and
 *   not checked by the MAC.
 * - Device index, 8 digits. The server reads it, looks the device and its secret up (one keyed
 *   lookup, the same cost with ten devices or ten million), and checks one HMAC. Without it
 *   the server would have to try the secret of every device against every code. 10^8 slots are
 *   ten times the 10 million accounts mopay is sized for, so indexes can be drawn at random,
 *   revealing neither sign-up order nor the number of customers. The index is a pseudonym, not
 *   a customer id, but it is the same on every code of a device, so merchants who pool the
 *   codes they saw can link one device's payments: that is the price of a lookup that needs no
 *   key shared by all phones. Registering the device again gives it a new index.
 * - Step hint, 1 digit. It names which step of the server's window the phone used, so the
 *   server computes one HMAC per code rather than one per step of the window, and a wider
 *   window does not multiply a guesser's chances. Its ten values cover the steps from 8 before
 *   the server's current step to 1 after it (a phone whose clock runs fast).
 * - OTP, 7 digits (23 bits). A guessed code passes with probability 1 in 10^7 per try. The
 *   secret never leaves the phone and the server, so guessing online is the attack, and the
 *   caller bounds it (below). An 8-digit OTP would have left 7 for the index: 10 million
 *   devices, no room to draw them at random.
 * The message binds the step and the device index, so a code cannot be moved to another step
 * or device; its label keeps these MACs apart from any other use of the secret.
 *
 * What the caller (the server) keeps and checks, as these functions hold no state:
 * - The device: mopay_paycode_parse gives the index; an index with no live device (never
 *   assigned, or revoked) is payment_code_invalid, so a revoked device's codes fail.
 * - "Each code pays once": the last step used per device. mopay_paycode_verify gives the step
 *   of a good code; a step not above the device's last one is payment_code_used, and the new
 *   last step is stored in the same transaction as the payment. A device therefore pays at
 *   most once per 30-second step, and a code shown before a newer one that has paid is used.
 * - Guessing: failed verifications are counted per merchant terminal (the terminal_id a payment
 *   names, or the merchant's key when it names none; mopay/risk.h, "Guessing"): past
 *   --wrong-codes-max (100) in --wrong-codes-window (600 s) that terminal is refused 429 until
 *   the window lets one more through (one every 6 s), and reported to the operator. At that rate
 *   a 1 in 10^7 guess takes about two years per terminal, and a merchant's terminals together
 *   get ten times the rate. Nothing is counted per device: a device refused because someone
 *   else guessed at its codes would be a way to stop a customer paying. */

#define MOPAY_PAYCODE_DIGITS 18
#define MOPAY_PAYCODE_BYTES (MOPAY_PAYCODE_DIGITS + 1) /* digits and NUL */
#define MOPAY_PAYCODE_PREFIX "87"
#define MOPAY_PAYCODE_SECRET_BYTES 32
#define MOPAY_PAYCODE_STEP_S 30
#define MOPAY_PAYCODE_DEVICE_INDEX_MAX 99999999u /* 8 digits */
#define MOPAY_PAYCODE_WINDOW_STEPS_MAX 8         /* what the 1-digit step hint can name */

/* The code for `unix_time` (>= 0) into `out`, NUL-terminated; device_index <= the maximum. */
void mopay_paycode_make(const uint8_t secret[MOPAY_PAYCODE_SECRET_BYTES], uint64_t device_index,
                        int64_t unix_time, char out[MOPAY_PAYCODE_BYTES]);

/* Reads the device index and the step hint (0 to 9) of `code`, exactly `len` bytes with no
 * separators. payment_code_invalid unless it is 18 ASCII digits starting with the prefix; out
 * parameters are untouched then. Says nothing about whether the code is genuine. */
enum mopay_err mopay_paycode_parse(const char *code, size_t len, uint64_t *device_index, int *step_hint);

/* Checks `code` (exactly `len` bytes) against the device's secret and index at `unix_time`
 * (>= 0), taking codes from `window_steps` (0 to MOPAY_PAYCODE_WINDOW_STEPS_MAX) steps before
 * the current step to 1 step after it. On MOPAY_OK, *step_used is the code's step, which the
 * caller must compare with and then store as the device's last used step (above). Refuses:
 *  - payment_code_invalid: not a code (see parse), another device's index, or not the OTP of
 *    the step its hint names. A code more than 8 steps old names a step ahead, so it is
 *    invalid rather than expired;
 *  - payment_code_expired: a genuine code of a step before the window.
 * The comparison takes the same time wherever the digits differ. */
enum mopay_err mopay_paycode_verify(const uint8_t secret[MOPAY_PAYCODE_SECRET_BYTES], uint64_t device_index,
                                    const char *code, size_t len, int64_t unix_time, int window_steps,
                                    int64_t *step_used);

#endif
