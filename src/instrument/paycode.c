/* Offline payment codes (paycode.h): 87 | device index | step hint | OTP. */
#include "mopay/paycode.h"

#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"

#define PREFIX_DIGITS 2
#define INDEX_DIGITS 8
#define OTP_DIGITS 7
#define HINT_AT (PREFIX_DIGITS + INDEX_DIGITS)
#define OTP_AT (HINT_AT + 1)
#define STEPS_AHEAD 1 /* a phone whose clock runs one step fast still pays */
#define MAC_LABEL "mopay paycode v1"
#define MAC_LABEL_BYTES 16

_Static_assert(OTP_AT + OTP_DIGITS == MOPAY_PAYCODE_DIGITS, "the parts fill the code");
_Static_assert(sizeof(MOPAY_PAYCODE_PREFIX) - 1 == PREFIX_DIGITS, "prefix size");
_Static_assert(sizeof(MAC_LABEL) - 1 == MAC_LABEL_BYTES, "label size");
_Static_assert(MOPAY_PAYCODE_WINDOW_STEPS_MAX + 1 + STEPS_AHEAD == 10, "the hint names 10 steps");

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static void put_digits(char *out, uint64_t value, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        out[i] = (char)('0' + value % 10);
        value /= 10;
    }
}

/* The whole code of `step`, NUL-terminated: what the phone shows and what the server expects. */
static void paycode_of_step(const uint8_t secret[MOPAY_PAYCODE_SECRET_BYTES], uint64_t device_index,
                            int64_t step, char out[MOPAY_PAYCODE_BYTES])
{
    memcpy(out, MOPAY_PAYCODE_PREFIX, PREFIX_DIGITS);
    put_digits(out + PREFIX_DIGITS, device_index, INDEX_DIGITS);
    out[HINT_AT] = (char)('0' + step % 10);

    uint8_t msg[MAC_LABEL_BYTES + 8 + 8];
    memcpy(msg, MAC_LABEL, MAC_LABEL_BYTES);
    instrument_put_be(msg + MAC_LABEL_BYTES, (uint64_t)step, 8);
    instrument_put_be(msg + MAC_LABEL_BYTES + 8, device_index, 8);
    uint8_t mac[INSTRUMENT_HMAC_BYTES_MAX];
    size_t mac_len = instrument_hmac(MOPAY_OTP_SHA256, secret, MOPAY_PAYCODE_SECRET_BYTES, msg, sizeof(msg), mac);
    instrument_otp_digits(mac, mac_len, OTP_DIGITS, out + OTP_AT);
    sodium_memzero(mac, sizeof(mac));
}

void mopay_paycode_make(const uint8_t secret[MOPAY_PAYCODE_SECRET_BYTES], uint64_t device_index,
                        int64_t unix_time, char out[MOPAY_PAYCODE_BYTES])
{
    MOPAY_ASSERT(secret != NULL && out != NULL);
    MOPAY_ASSERT(device_index <= MOPAY_PAYCODE_DEVICE_INDEX_MAX);
    MOPAY_ASSERT(unix_time >= 0);
    paycode_of_step(secret, device_index, unix_time / MOPAY_PAYCODE_STEP_S, out);
}

enum mopay_err mopay_paycode_parse(const char *code, size_t len, uint64_t *device_index, int *step_hint)
{
    MOPAY_ASSERT(code != NULL || len == 0);
    MOPAY_ASSERT(device_index != NULL && step_hint != NULL);
    if (len != MOPAY_PAYCODE_DIGITS || memcmp(code, MOPAY_PAYCODE_PREFIX, PREFIX_DIGITS) != 0)
        return MOPAY_ERR_payment_code_invalid;
    uint64_t index = 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(code[i]))
            return MOPAY_ERR_payment_code_invalid;
        if (i >= PREFIX_DIGITS && i < HINT_AT)
            index = index * 10 + (uint64_t)(code[i] - '0');
    }
    *device_index = index;
    *step_hint = code[HINT_AT] - '0';
    return MOPAY_OK;
}

enum mopay_err mopay_paycode_verify(const uint8_t secret[MOPAY_PAYCODE_SECRET_BYTES], uint64_t device_index,
                                    const char *code, size_t len, int64_t unix_time, int window_steps,
                                    int64_t *step_used)
{
    MOPAY_ASSERT(secret != NULL && step_used != NULL);
    MOPAY_ASSERT(device_index <= MOPAY_PAYCODE_DEVICE_INDEX_MAX);
    MOPAY_ASSERT(unix_time >= 0);
    MOPAY_ASSERT(window_steps >= 0 && window_steps <= MOPAY_PAYCODE_WINDOW_STEPS_MAX);
    uint64_t code_index;
    int hint;
    if (mopay_paycode_parse(code, len, &code_index, &hint) != MOPAY_OK || code_index != device_index)
        return MOPAY_ERR_payment_code_invalid;

    /* The ten steps from latest - 9 to latest end in ten different digits: the hint names one. */
    int64_t now = unix_time / MOPAY_PAYCODE_STEP_S;
    int64_t latest = now + STEPS_AHEAD;
    int64_t step = latest - (latest % 10 - hint + 10) % 10;
    if (step < 0)
        return MOPAY_ERR_payment_code_invalid; /* within 9 steps of the epoch */

    char expected[MOPAY_PAYCODE_BYTES];
    paycode_of_step(secret, device_index, step, expected);
    int differs = sodium_memcmp(expected, code, MOPAY_PAYCODE_DIGITS);
    sodium_memzero(expected, sizeof(expected));
    if (differs != 0)
        return MOPAY_ERR_payment_code_invalid;
    /* Checked after the MAC, so that "expired" means a genuine code the customer should refresh. */
    if (step < now - window_steps)
        return MOPAY_ERR_payment_code_expired;
    *step_used = step;
    return MOPAY_OK;
}
