/* The table-driven record codec. See mopay/codec.h for the format. */
#include "mopay/codec.h"

#include <stdio.h>
#include <string.h>

#include "mopay/assert.h"
#include "mopay/money.h"

#define VARINT_BYTES_MAX 10
#define HEADER_BYTES_MAX (4 * VARINT_BYTES_MAX)

size_t mopay_codec_varint_put(uint8_t *out, uint64_t value)
{
    size_t n = 0;
    while (value >= 0x80) {
        out[n++] = (uint8_t)(value | 0x80);
        value >>= 7;
    }
    out[n++] = (uint8_t)value;
    return n;
}

size_t mopay_codec_varint_get(const uint8_t *in, size_t len, uint64_t *out)
{
    uint64_t value = 0;
    for (size_t i = 0; i < len && i < VARINT_BYTES_MAX; i++) {
        uint64_t bits = in[i] & 0x7f;
        if (i == 9 && bits > 1)
            return 0; /* more than 64 bits */
        value |= bits << (7 * i);
        if ((in[i] & 0x80) == 0) {
            *out = value;
            return i + 1;
        }
    }
    return 0;
}

static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t u)
{
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static int64_t int_load(const uint8_t *at, uint32_t size)
{
    switch (size) {
    case 1: { int8_t v; memcpy(&v, at, 1); return v; }
    case 2: { int16_t v; memcpy(&v, at, 2); return v; }
    case 4: { int32_t v; memcpy(&v, at, 4); return v; }
    default: { int64_t v; memcpy(&v, at, 8); return v; }
    }
}

static uint64_t uint_load(const uint8_t *at, uint32_t size)
{
    switch (size) {
    case 1: return at[0];
    case 2: { uint16_t v; memcpy(&v, at, 2); return v; }
    case 4: { uint32_t v; memcpy(&v, at, 4); return v; }
    default: { uint64_t v; memcpy(&v, at, 8); return v; }
    }
}

/* Stores v into a field of `size` bytes; false when it does not fit. */
static bool int_store(uint8_t *at, uint32_t size, int64_t v)
{
    switch (size) {
    case 1: { if (v < INT8_MIN || v > INT8_MAX) return false; int8_t x = (int8_t)v; memcpy(at, &x, 1); return true; }
    case 2: { if (v < INT16_MIN || v > INT16_MAX) return false; int16_t x = (int16_t)v; memcpy(at, &x, 2); return true; }
    case 4: { if (v < INT32_MIN || v > INT32_MAX) return false; int32_t x = (int32_t)v; memcpy(at, &x, 4); return true; }
    default: memcpy(at, &v, 8); return true;
    }
}

static bool uint_store(uint8_t *at, uint32_t size, uint64_t v)
{
    switch (size) {
    case 1: { if (v > UINT8_MAX) return false; at[0] = (uint8_t)v; return true; }
    case 2: { if (v > UINT16_MAX) return false; uint16_t x = (uint16_t)v; memcpy(at, &x, 2); return true; }
    case 4: { if (v > UINT32_MAX) return false; uint32_t x = (uint32_t)v; memcpy(at, &x, 4); return true; }
    default: memcpy(at, &v, 8); return true;
    }
}

static size_t field_bytes_max(const struct mopay_codec_field *f)
{
    switch (f->type) {
    case MOPAY_CODEC_INT:
    case MOPAY_CODEC_UINT: return VARINT_BYTES_MAX;
    case MOPAY_CODEC_BOOL: return 1;
    case MOPAY_CODEC_BYTES: return f->size;
    case MOPAY_CODEC_ID:
    case MOPAY_CODEC_REF: return 17;
    case MOPAY_CODEC_TEXT: return VARINT_BYTES_MAX + f->size;
    case MOPAY_CODEC_CURRENCY: return 1 + 3;
    default: return VARINT_BYTES_MAX + f->custom->bytes_max;
    }
}

size_t mopay_codec_image_max(const struct mopay_record_kind *kind)
{
    size_t n = HEADER_BYTES_MAX;
    for (size_t i = 0; i < kind->field_count; i++)
        n += field_bytes_max(&kind->fields[i]);
    return n;
}

static size_t id_put(uint8_t *out, const uint8_t *id)
{
    static const uint8_t zero[16];
    if (id == NULL || memcmp(id, zero, 16) == 0) {
        out[0] = 0;
        return 1;
    }
    out[0] = 1;
    memcpy(out + 1, id, 16);
    return 17;
}

/* One field's bytes at out; SIZE_MAX when a CUSTOM field cannot encode or a CURRENCY is missing. */
static size_t field_encode(const struct mopay_codec_field *f, void *state, const void *record, uint8_t *out)
{
    const uint8_t *at = (const uint8_t *)record + f->offset;
    switch (f->type) {
    case MOPAY_CODEC_INT: return mopay_codec_varint_put(out, zigzag(int_load(at, f->size)));
    case MOPAY_CODEC_UINT: return mopay_codec_varint_put(out, uint_load(at, f->size));
    case MOPAY_CODEC_BOOL: out[0] = *(const bool *)at ? 1 : 0; return 1;
    case MOPAY_CODEC_BYTES: memcpy(out, at, f->size); return f->size;
    case MOPAY_CODEC_ID: return id_put(out, at);
    case MOPAY_CODEC_REF: {
        const uint8_t *target;
        memcpy(&target, at, sizeof(target));
        return id_put(out, target); /* a referenced record begins with its id */
    }
    case MOPAY_CODEC_TEXT: {
        size_t len = strnlen((const char *)at, f->size);
        MOPAY_ASSERT(len < f->size);
        size_t n = mopay_codec_varint_put(out, len);
        memcpy(out + n, at, len);
        return n + len;
    }
    case MOPAY_CODEC_CURRENCY: {
        const struct mopay_currency *c;
        memcpy(&c, at, sizeof(c));
        if (c == NULL)
            return SIZE_MAX; /* a record without its currency cannot be written */
        out[0] = 3;
        memcpy(out + 1, c->alpha, 3);
        return 4;
    }
    default: {
        uint8_t scratch[VARINT_BYTES_MAX];
        size_t len = f->custom->encode(state, record, out + VARINT_BYTES_MAX, f->custom->bytes_max);
        if (len == SIZE_MAX)
            return SIZE_MAX;
        MOPAY_ASSERT(len <= f->custom->bytes_max);
        size_t n = mopay_codec_varint_put(scratch, len);
        memmove(out + n, out + VARINT_BYTES_MAX, len);
        memcpy(out, scratch, n);
        return n + len;
    }
    }
}

size_t mopay_codec_encode(const struct mopay_record_kind *kind, void *state, uint32_t flags, const void *record,
                          uint8_t *out, size_t cap)
{
    MOPAY_ASSERT(cap >= mopay_codec_image_max(kind));
    /* the payload goes after room for the longest header, then moves up to its place */
    uint8_t *payload = out + HEADER_BYTES_MAX;
    size_t len = 0;
    for (size_t i = 0; i < kind->field_count; i++) {
        size_t n = field_encode(&kind->fields[i], state, record, payload + len);
        if (n == SIZE_MAX)
            return 0;
        len += n;
    }
    uint8_t head[HEADER_BYTES_MAX];
    size_t h = mopay_codec_varint_put(head, kind->tag);
    h += mopay_codec_varint_put(head + h, kind->version);
    h += mopay_codec_varint_put(head + h, flags);
    h += mopay_codec_varint_put(head + h, len);
    memmove(out + h, payload, len);
    memcpy(out, head, h);
    return h + len;
}

size_t mopay_codec_header_read(const uint8_t *in, size_t len, struct mopay_codec_header *out)
{
    uint64_t v[4];
    size_t at = 0;
    for (int i = 0; i < 4; i++) {
        size_t n = mopay_codec_varint_get(in + at, len - at, &v[i]);
        if (n == 0 || (i < 3 && v[i] > UINT32_MAX))
            return 0;
        at += n;
    }
    if (v[3] > len - at)
        return 0;
    out->tag = (uint32_t)v[0], out->version = (uint32_t)v[1], out->flags = (uint32_t)v[2];
    out->payload_len = (size_t)v[3];
    return at;
}

static bool decode_fail(const struct mopay_record_kind *kind, const struct mopay_codec_field *f, char *why,
                        size_t why_cap, const char *what)
{
    snprintf(why, why_cap, "%s image, field %s: %s", kind->name, f->name, what);
    return false;
}

/* Reads an ID's bytes into id (zero when absent); returns the bytes read, 0 when damaged. */
static size_t id_get(const uint8_t *in, size_t len, struct mopay_id *id)
{
    memset(id, 0, sizeof(*id));
    if (len < 1 || in[0] > 1)
        return 0;
    if (in[0] == 0)
        return 1;
    if (len < 17)
        return 0;
    memcpy(id->bytes, in + 1, 16);
    return 17;
}

/* One field from in[0..len); returns the bytes read, 0 when damaged (reason in why). */
static size_t field_decode(const struct mopay_record_kind *kind, const struct mopay_codec_field *f, void *state,
                           const uint8_t *in, size_t len, void *record, char *why, size_t why_cap)
{
    uint8_t *at = (uint8_t *)record + f->offset;
    uint64_t u = 0;
    size_t n = 0;
    switch (f->type) {
    case MOPAY_CODEC_INT:
        if ((n = mopay_codec_varint_get(in, len, &u)) == 0 || !int_store(at, f->size, unzigzag(u)))
            return decode_fail(kind, f, why, why_cap, "not an integer that fits"), 0;
        return n;
    case MOPAY_CODEC_UINT:
        if ((n = mopay_codec_varint_get(in, len, &u)) == 0 || !uint_store(at, f->size, u))
            return decode_fail(kind, f, why, why_cap, "not an integer that fits"), 0;
        return n;
    case MOPAY_CODEC_BOOL:
        if (len < 1 || in[0] > 1)
            return decode_fail(kind, f, why, why_cap, "not 0 or 1"), 0;
        *(bool *)at = in[0] == 1;
        return 1;
    case MOPAY_CODEC_BYTES:
        if (len < f->size)
            return decode_fail(kind, f, why, why_cap, "truncated"), 0;
        memcpy(at, in, f->size);
        return f->size;
    case MOPAY_CODEC_ID:
        if ((n = id_get(in, len, (struct mopay_id *)(void *)at)) == 0)
            return decode_fail(kind, f, why, why_cap, "not an id"), 0;
        return n;
    case MOPAY_CODEC_REF: {
        struct mopay_id id;
        if ((n = id_get(in, len, &id)) == 0)
            return decode_fail(kind, f, why, why_cap, "not an id"), 0;
        void *target = NULL;
        if (n == 17 && (target = f->resolve(state, &id)) == NULL)
            return decode_fail(kind, f, why, why_cap, "names a record that is not there"), 0;
        memcpy(at, &target, sizeof(target));
        return n;
    }
    case MOPAY_CODEC_TEXT:
        if ((n = mopay_codec_varint_get(in, len, &u)) == 0 || u >= f->size || u > len - n ||
            memchr(in + n, 0, (size_t)u) != NULL)
            return decode_fail(kind, f, why, why_cap, "not text that fits"), 0;
        memcpy(at, in + n, (size_t)u);
        at[u] = 0;
        return n + (size_t)u;
    case MOPAY_CODEC_CURRENCY: {
        const struct mopay_currency *c = NULL;
        if ((n = mopay_codec_varint_get(in, len, &u)) == 0 || u > len - n ||
            (c = mopay_currency_by_alpha((const char *)in + n, (size_t)u)) == NULL)
            return decode_fail(kind, f, why, why_cap, "not a currency"), 0;
        memcpy(at, &c, sizeof(c));
        return n + (size_t)u;
    }
    default:
        if ((n = mopay_codec_varint_get(in, len, &u)) == 0 || u > len - n || u > f->custom->bytes_max)
            return decode_fail(kind, f, why, why_cap, "truncated"), 0;
        if (!f->custom->decode(state, record, in + n, (size_t)u))
            return decode_fail(kind, f, why, why_cap, "not a valid value"), 0;
        return n + (size_t)u;
    }
}

bool mopay_codec_decode(const struct mopay_record_kind *kind, void *state, const uint8_t *payload, size_t len,
                        void *record, char *why, size_t why_cap)
{
    memset(record, 0, kind->size);
    size_t at = 0;
    for (size_t i = 0; i < kind->field_count && at < len; i++) {
        size_t n = field_decode(kind, &kind->fields[i], state, payload + at, len - at, record, why, why_cap);
        if (n == 0)
            return false;
        at += n;
    }
    if (at != len) {
        snprintf(why, why_cap, "%s image: %zu bytes after its last field", kind->name, len - at);
        return false;
    }
    return true;
}

void mopay_codec_copy(const struct mopay_record_kind *kind, void *dst, const void *src)
{
    for (size_t i = 0; i < kind->field_count; i++) {
        const struct mopay_codec_field *f = &kind->fields[i];
        memcpy((uint8_t *)dst + f->offset, (const uint8_t *)src + f->offset, f->size);
    }
}

bool mopay_codec_kind_valid(const struct mopay_record_kind *kind, char *why, size_t why_cap)
{
    if (kind->tag == 0 || kind->version == 0 || kind->apply == NULL || kind->each == NULL) {
        snprintf(why, why_cap, "%s: no tag, version, apply or each", kind->name);
        return false;
    }
    for (size_t i = 0; i < kind->field_count; i++) {
        const struct mopay_codec_field *f = &kind->fields[i];
        bool sized = f->size == 1 || f->size == 2 || f->size == 4 || f->size == 8;
        bool ok = f->offset + f->size <= kind->size;
        switch (f->type) {
        case MOPAY_CODEC_INT:
        case MOPAY_CODEC_UINT: ok = ok && sized; break;
        case MOPAY_CODEC_BOOL: ok = ok && f->size == sizeof(bool); break;
        case MOPAY_CODEC_BYTES: ok = ok && f->size > 0; break;
        case MOPAY_CODEC_ID: ok = ok && f->size == sizeof(struct mopay_id); break;
        case MOPAY_CODEC_REF: ok = ok && f->size == sizeof(void *) && f->resolve != NULL; break;
        case MOPAY_CODEC_TEXT: ok = ok && f->size > 1; break;
        case MOPAY_CODEC_CUSTOM: ok = ok && f->custom != NULL && f->custom->encode != NULL && f->custom->decode != NULL; break;
        case MOPAY_CODEC_CURRENCY: ok = ok && f->size == sizeof(void *); break;
        default: ok = false;
        }
        if (!ok) {
            snprintf(why, why_cap, "%s: field %s does not fit its type", kind->name, f->name);
            return false;
        }
    }
    return true;
}

enum mopay_err mopay_codec_refuse(char *why, size_t why_cap, const char *what, const char *reason)
{
    snprintf(why, why_cap, "%s: %s", what, reason);
    return MOPAY_ERR_store_failed;
}

/* One field's length at in[0..len) by its type alone; 0 when damaged. */
static size_t field_span(const struct mopay_codec_field *f, const uint8_t *in, size_t len)
{
    uint64_t u = 0;
    size_t n = 0;
    switch (f->type) {
    case MOPAY_CODEC_INT:
    case MOPAY_CODEC_UINT: return mopay_codec_varint_get(in, len, &u);
    case MOPAY_CODEC_BOOL: return len >= 1 ? 1 : 0;
    case MOPAY_CODEC_BYTES: return len >= f->size ? f->size : 0;
    case MOPAY_CODEC_ID:
    case MOPAY_CODEC_REF: return len < 1 || in[0] > 1 ? 0 : in[0] == 0 ? 1 : len >= 17 ? 17 : 0;
    default:
        if ((n = mopay_codec_varint_get(in, len, &u)) == 0 || u > len - n)
            return 0;
        return n + (size_t)u;
    }
}

bool mopay_codec_spans(const struct mopay_record_kind *kind, const uint8_t *payload, size_t len,
                       struct mopay_codec_span *spans, size_t *count)
{
    size_t at = 0, i = 0;
    for (; i < kind->field_count && at < len; i++) {
        size_t n = field_span(&kind->fields[i], payload + at, len - at);
        if (n == 0)
            return false;
        spans[i] = (struct mopay_codec_span){at, n};
        at += n;
    }
    *count = i;
    return at == len;
}
