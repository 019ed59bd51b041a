#include "mopay/id.h"

#include <string.h>

#include <sodium.h>

#include "mopay/assert.h"

static const char *const id_prefixes[MOPAY_ID_KIND_COUNT] = {
#define ID_PREFIX(name, prefix) prefix,
    MOPAY_ID_KINDS(ID_PREFIX)
#undef ID_PREFIX
};

static const char hex_digits[] = "0123456789abcdef";

/* Per-thread generator state: seeded once from the OS, then pure arithmetic. */
static _Thread_local struct {
    int seeded;
    uint16_t tag;
    uint64_t counter;
    uint64_t last_ms;
} id_state;

const char *mopay_id_prefix(enum mopay_id_kind kind)
{
    MOPAY_ASSERT(kind >= 0 && kind < MOPAY_ID_KIND_COUNT);
    return id_prefixes[kind];
}

void mopay_id_new(int64_t now_ns, struct mopay_id *out)
{
    MOPAY_ASSERT(now_ns >= 0);
    if (!id_state.seeded) {
        randombytes_buf(&id_state.tag, sizeof(id_state.tag));
        randombytes_buf(&id_state.counter, sizeof(id_state.counter));
        id_state.seeded = 1;
    }
    uint64_t ms = (uint64_t)now_ns / 1000000u;
    if (ms < id_state.last_ms)
        ms = id_state.last_ms; /* the clock stepped back: keep the order */
    id_state.last_ms = ms;
    uint64_t counter = id_state.counter++;

    for (int i = 0; i < 6; i++)
        out->bytes[i] = (uint8_t)(ms >> (8 * (5 - i)));
    out->bytes[6] = (uint8_t)(id_state.tag >> 8);
    out->bytes[7] = (uint8_t)id_state.tag;
    for (int i = 0; i < 8; i++)
        out->bytes[8 + i] = (uint8_t)(counter >> (8 * (7 - i)));
}

size_t mopay_id_format(enum mopay_id_kind kind, const struct mopay_id *id, char buf[MOPAY_ID_TEXT_BYTES])
{
    const char *prefix = mopay_id_prefix(kind);
    size_t n = strlen(prefix);
    MOPAY_ASSERT(n + 1 + 32 < MOPAY_ID_TEXT_BYTES);
    memcpy(buf, prefix, n);
    buf[n++] = '_';
    for (int i = 0; i < 16; i++) {
        buf[n++] = hex_digits[id->bytes[i] >> 4];
        buf[n++] = hex_digits[id->bytes[i] & 15];
    }
    buf[n] = '\0';
    return n;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

bool mopay_id_parse_text(enum mopay_id_kind kind, const char *text, struct mopay_id *out)
{
    return text != NULL && mopay_id_parse(kind, text, strlen(text), out) == MOPAY_OK;
}

enum mopay_err mopay_id_parse(enum mopay_id_kind kind, const char *s, size_t len, struct mopay_id *out)
{
    const char *prefix = mopay_id_prefix(kind);
    size_t n = strlen(prefix);
    if (len != n + 1 + 32 || memcmp(s, prefix, n) != 0 || s[n] != '_')
        return MOPAY_ERR_id_invalid;
    struct mopay_id id;
    const char *hex = s + n + 1;
    for (int i = 0; i < 16; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return MOPAY_ERR_id_invalid;
        id.bytes[i] = (uint8_t)(hi << 4 | lo);
    }
    *out = id;
    return MOPAY_OK;
}
