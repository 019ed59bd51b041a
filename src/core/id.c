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

/* Per-thread generator state. The random bits come from a per-thread buffer refilled from
 * libsodium's generator a page at a time, so an ID costs no system call on the hot path. */
enum { ID_RANDOM_BUFFER_BYTES = 4096, ID_RANDOM_BYTES = 8, ID_SEQ_MAX = 0xffff };
static _Thread_local struct {
    uint64_t last_ms;
    uint32_t seq;
    size_t random_used;
    uint8_t random[ID_RANDOM_BUFFER_BYTES];
} id_state = {.random_used = ID_RANDOM_BUFFER_BYTES};

const char *mopay_id_prefix(enum mopay_id_kind kind)
{
    MOPAY_ASSERT(kind >= 0 && kind < MOPAY_ID_KIND_COUNT);
    return id_prefixes[kind];
}

static const uint8_t *id_random_take(size_t n)
{
    MOPAY_ASSERT(n <= ID_RANDOM_BUFFER_BYTES);
    if (ID_RANDOM_BUFFER_BYTES - id_state.random_used < n) {
        randombytes_buf(id_state.random, sizeof(id_state.random));
        id_state.random_used = 0;
    }
    const uint8_t *p = id_state.random + id_state.random_used;
    id_state.random_used += n;
    return p;
}

void mopay_id_new(int64_t now_ns, struct mopay_id *out)
{
    MOPAY_ASSERT(now_ns >= 0);
    uint64_t ms = (uint64_t)now_ns / 1000000u;
    if (ms <= id_state.last_ms) {
        /* the same millisecond, or the clock stepped back: count up so the order holds, and
         * borrow the next millisecond when the count runs out */
        ms = id_state.last_ms;
        if (id_state.seq == ID_SEQ_MAX) {
            ms++;
            id_state.seq = 0;
        } else {
            id_state.seq++;
        }
    } else {
        /* a new millisecond: the count starts at a random value below half its range, so its
         * first value tells nothing of how many IDs came before */
        const uint8_t *r = id_random_take(2);
        id_state.seq = (uint32_t)(r[0] << 8 | r[1]) & 0x7fff;
    }
    id_state.last_ms = ms;

    for (int i = 0; i < 6; i++)
        out->bytes[i] = (uint8_t)(ms >> (8 * (5 - i)));
    out->bytes[6] = (uint8_t)(id_state.seq >> 8);
    out->bytes[7] = (uint8_t)id_state.seq;
    memcpy(out->bytes + 8, id_random_take(ID_RANDOM_BYTES), ID_RANDOM_BYTES);
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
