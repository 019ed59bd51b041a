/* libFuzzer harness for typed IDs, which arrive in every path ("/v1/admin-keys/{id}") and in
 * request bodies.
 *
 * The input is parsed as an ID of every kind. A parse that succeeds must format back to exactly
 * the input, since the text form is canonical (lowercase hex, fixed length); a refusal must be
 * id_invalid and leave the out parameter alone. Any broken property aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mopay/id.h"

static void check(int ok)
{
    if (!ok)
        abort();
}

static void fuzz_kind(enum mopay_id_kind kind, const char *s, size_t len)
{
    struct mopay_id id, untouched;
    memset(&id, 0x5a, sizeof(id));
    untouched = id;
    enum mopay_err err = mopay_id_parse(kind, s, len, &id);
    if (err != MOPAY_OK) {
        check(err == MOPAY_ERR_id_invalid);
        check(memcmp(&id, &untouched, sizeof(id)) == 0);
        return;
    }
    char buf[MOPAY_ID_TEXT_BYTES];
    size_t n = mopay_id_format(kind, &id, buf);
    check(n < sizeof(buf) && buf[n] == '\0');
    check(n == len && memcmp(buf, s, len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A heap copy of exactly `size` bytes, so ASan catches any read past the length. */
    char *s = malloc(size > 0 ? size : 1);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    for (int kind = 0; kind < MOPAY_ID_KIND_COUNT; kind++)
        fuzz_kind((enum mopay_id_kind)kind, s, size);
    free(s);
    return 0;
}
