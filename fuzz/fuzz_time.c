/* libFuzzer harness for RFC 3339 times, which clients send in query strings and bodies.
 *
 * Whatever parses must be a time mopay can hold (ns >= 0), must format to text that parses back
 * to the same instant truncated to milliseconds (the precision mopay writes), and, when the input
 * is already in mopay's own form ("2026-11-21T08:30:00.123Z"), must format to the input itself.
 * Refusals must be field_invalid. Any broken property aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mopay/clock.h"

#define NS_PER_MS 1000000

static void check(int ok)
{
    if (!ok)
        abort();
}

/* True when `s` has the exact shape mopay_time_format writes. */
static int is_canonical(const char *s, size_t len)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (len != sizeof(shape) - 1)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (shape[i] == 'd' ? s[i] < '0' || s[i] > '9' : s[i] != shape[i])
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A heap copy of exactly `size` bytes, so ASan catches any read past the length. */
    char *s = malloc(size > 0 ? size : 1);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);

    int64_t ns = -1;
    enum mopay_err err = mopay_time_parse(s, size, &ns);
    if (err != MOPAY_OK) {
        check(err == MOPAY_ERR_field_invalid);
        free(s);
        return 0;
    }
    check(ns >= 0);

    char buf[MOPAY_TIME_TEXT_BYTES];
    size_t n = mopay_time_format(ns, buf);
    check(n < sizeof(buf) && buf[n] == '\0' && strlen(buf) == n);

    int64_t back = -1;
    check(mopay_time_parse(buf, n, &back) == MOPAY_OK);
    check(back == ns - ns % NS_PER_MS);
    if (is_canonical(s, size))
        check(n == size && memcmp(buf, s, size) == 0);
    free(s);
    return 0;
}
