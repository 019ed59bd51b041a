/* The raw reader of POST /v1/ledger/transfers bodies (see transfers_parse.h).
 *
 * What it must agree with, in the order the jansson path checks it:
 *   1. mopay_json_depth_ok's bracket count (json_too_deep), then json_loadb with
 *      JSON_REJECT_DUPLICATES over the whole document (json_malformed): RFC 8259 only, strict
 *      UTF-8, \u0000 refused, integers that overflow int64 and reals that overflow a double refused,
 *      a top level that is neither object nor array refused;
 *   2. a top-level array: field_wrong_type at "";
 *   3. batch_items: "transfers" missing or not an array, then the first other key, then 1 to
 *      MOPAY_LEDGER_EVENTS_PER_COMMAND_MAX items;
 *   4. transfer_spec on each item in turn, keys in document order.
 * So syntax is checked to the end of the document before any spec error is reported: the first
 * spec error is remembered and parsing goes on without storing.
 *
 * Memory: nothing is allocated. Kept strings grow up from the bottom of `scratch`; the keys of open
 * objects that need a duplicate check (every key of a nested object, unknown keys of the top level
 * and of items; known keys use a bit mask) grow down from its top. Each decoded string takes at
 * most its raw length minus one byte, so with scratch_cap >= len + 1 the gap between the two is
 * never smaller than the unread rest of the body plus one byte: a string always decodes into the
 * gap, a number's text fits there for strtod, and when an object closes each of its n stacked
 * keys has left at least 4 unused bytes (quote, colon, value, separator) for the uint32 offsets
 * the duplicate check sorts. */
#include "transfers_parse.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mopay/assert.h"
#include "mopay/ledger_service.h"
#include "mopay/limits.h"

/* transfer_spec's rows, by position; transfers_parse's test checks the names. */
enum transfer_field {
    FIELD_ID,
    FIELD_DEBIT,
    FIELD_CREDIT,
    FIELD_AMOUNT,
    FIELD_CURRENCY,
    FIELD_PENDING_ID,
    FIELD_FLAGS,
    FIELD_CODE,
    FIELD_USER_DATA,
    FIELD_TIMEOUT_S,
    FIELD_UNKNOWN,
};

enum root_transfers { TRANSFERS_MISSING, TRANSFERS_ARRAY, TRANSFERS_OTHER };

struct parse {
    const unsigned char *p, *end;
    char *bottom, *top;
    bool too_deep;
    struct transfer_fields *fields;
    size_t fields_cap, items;
    /* the first spec error of an item: nothing is stored after it */
    bool item_failed;
    size_t item_failed_index;
    struct mopay_json_error item_error;
    /* the top level */
    enum root_transfers transfers;
    bool root_unknown;
    struct mopay_json_error root_error;
};

static bool value_skip(struct parse *ps, int depth);

static inline void ws_skip(struct parse *ps)
{
    const unsigned char *p = ps->p, *end = ps->end;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    ps->p = p;
}

/* Whether the next byte is `c`; consumes it if so. */
static inline bool byte_take(struct parse *ps, unsigned char c)
{
    if (ps->p < ps->end && *ps->p == c) {
        ps->p++;
        return true;
    }
    return false;
}

/* 1: bytes a string copies as they are; everything else needs a look ('"', '\\', controls,
 * non-ASCII). */
static const unsigned char plain[256] = {
    [' '] = 1, ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['('] = 1, [')'] = 1,
    ['*'] = 1, ['+'] = 1, [','] = 1, ['-'] = 1, ['.'] = 1, ['/'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1,
    ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, [':'] = 1, [';'] = 1,
    ['<'] = 1, ['='] = 1, ['>'] = 1, ['?'] = 1, ['@'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1,
    ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1,
    ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1,
    ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['['] = 1, [']'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1,
    ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
    ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1, ['{'] = 1,
    ['|'] = 1, ['}'] = 1, ['~'] = 1, [0x7f] = 1,
};

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Four hex digits after "\u"; -1 when they are not. */
static int32_t hex4_read(const unsigned char *p, const unsigned char *end)
{
    if (end - p < 4)
        return -1;
    int32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex_value(p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

static char *utf8_put(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xc0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xe0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *o++ = (char)(0xf0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    }
    return o;
}

/* A \u escape at `p` (just after the backslash and 'u'), as jansson reads it: surrogates in
 * pairs only, no U+0000. Returns past it, or NULL. */
static const unsigned char *escape_u_read(const unsigned char *p, const unsigned char *end, char **o)
{
    int32_t v = hex4_read(p, end);
    if (v <= 0 || (v >= 0xdc00 && v <= 0xdfff))
        return NULL;
    p += 4;
    uint32_t cp = (uint32_t)v;
    if (v >= 0xd800 && v <= 0xdbff) {
        if (end - p < 2 || p[0] != '\\' || p[1] != 'u')
            return NULL;
        int32_t lo = hex4_read(p + 2, end);
        if (lo < 0xdc00 || lo > 0xdfff)
            return NULL;
        cp = 0x10000 + (((uint32_t)v - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
        p += 6;
    }
    *o = utf8_put(*o, cp);
    return p;
}

/* One UTF-8 sequence of two or more bytes at `p`, checked as jansson's utf8_check_full does (no
 * overlong forms, no surrogates, nothing past U+10FFFF); copied to *o. Returns past it, or NULL. */
static const unsigned char *utf8_copy(const unsigned char *p, const unsigned char *end, char **o)
{
    unsigned c = p[0];
    size_t n;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return NULL;
    }
    if ((size_t)(end - p) < n)
        return NULL;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return NULL;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return NULL;
    memcpy(*o, p, n);
    *o += n;
    return p + n;
}

/* The string whose opening quote was just read, decoded and NUL-terminated at `dst` (inside the
 * gap, which it always fits: see the top of the file). Sets *len; false when it is not valid. */
static bool string_read(struct parse *ps, char *dst, size_t *len)
{
    const unsigned char *p = ps->p, *end = ps->end;
    char *o = dst;
    for (;;) {
        while (p < end && plain[*p])
            *o++ = (char)*p++;
        if (p >= end)
            return false;
        unsigned char c = *p;
        if (c == '"') {
            p++;
            break;
        }
        if (c < 0x20)
            return false;
        if (c != '\\') {
            p = utf8_copy(p, end, &o);
        } else if (p + 1 >= end) {
            return false;
        } else {
            static const char simple[256] = {['"'] = '"', ['\\'] = '\\', ['/'] = '/', ['b'] = '\b',
                                             ['f'] = '\f', ['n'] = '\n', ['r'] = '\r', ['t'] = '\t'};
            unsigned char e = p[1];
            if (e == 'u') {
                p = escape_u_read(p + 2, end, &o);
            } else if (simple[e] != 0) {
                *o++ = simple[e];
                p += 2;
            } else {
                return false;
            }
        }
        if (p == NULL)
            return false;
    }
    MOPAY_ASSERT(o < ps->top);
    *o = '\0';
    *len = (size_t)(o - dst);
    ps->p = p;
    return true;
}

/* jansson refuses a real that overflows a double ("real number overflow"); strtod decides, on a
 * NUL-terminated copy in the gap. */
static bool real_fits(struct parse *ps, const unsigned char *start)
{
    size_t n = (size_t)(ps->p - start);
    MOPAY_ASSERT(ps->bottom + n < ps->top);
    memcpy(ps->bottom, start, n);
    ps->bottom[n] = '\0';
    errno = 0;
    double v = strtod(ps->bottom, NULL);
    return !((v == HUGE_VAL || v == -HUGE_VAL) && errno == ERANGE);
}

/* jansson reads one byte past a number or a literal and puts it back; a NUL put back is lost
 * (stream_get refills when the byte under its cursor is 0), so one NUL right after such a token
 * acts as a separator. */
static void token_nul_skip(struct parse *ps)
{
    if (ps->p < ps->end && *ps->p == '\0')
        ps->p++;
}

/* A number as jansson lexes it. Sets *is_integer and, for integers, *value; false when it is not
 * a number or does not fit (int64 for integers, double for reals). */
static bool number_read(struct parse *ps, bool *is_integer, int64_t *value)
{
    const unsigned char *start = ps->p, *p = ps->p, *end = ps->end;
    bool negative = p < end && *p == '-';
    p += negative;
    if (p >= end || *p < '0' || *p > '9')
        return false;
    uint64_t mag = 0;
    bool overflow = false;
    if (*p == '0') {
        p++;
        if (p < end && *p >= '0' && *p <= '9')
            return false;
    } else {
        while (p < end && *p >= '0' && *p <= '9') {
            unsigned d = (unsigned)(*p++ - '0');
            if (mag > (UINT64_MAX - d) / 10)
                overflow = true;
            else
                mag = mag * 10 + d;
        }
    }
    if (p >= end || (*p != '.' && *p != 'e' && *p != 'E')) {
        ps->p = p;
        if (overflow || mag > (negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
            return false;
        *is_integer = true;
        *value = negative ? (int64_t)(0 - mag) : (int64_t)mag;
        token_nul_skip(ps);
        return true;
    }
    if (*p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9')
            return false;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || *p < '0' || *p > '9')
            return false;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    ps->p = p;
    *is_integer = false;
    if (!real_fits(ps, start))
        return false;
    token_nul_skip(ps);
    return true;
}

static bool literal_read(struct parse *ps, const char *word, size_t n)
{
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return false;
    ps->p += n;
    token_nul_skip(ps);
    return true;
}

/* --- duplicate keys --- */

static uint32_t index_get(const char *base, size_t i)
{
    uint32_t v;
    memcpy(&v, base + 4 * i, 4);
    return v;
}

static void index_set(char *base, size_t i, uint32_t v)
{
    memcpy(base + 4 * i, &v, 4);
}

static void heap_sift(char *idx, const char *keys, size_t root, size_t n)
{
    while (2 * root + 1 < n) {
        size_t child = 2 * root + 1;
        if (child + 1 < n && strcmp(keys + index_get(idx, child), keys + index_get(idx, child + 1)) < 0)
            child++;
        uint32_t a = index_get(idx, root), b = index_get(idx, child);
        if (strcmp(keys + a, keys + b) >= 0)
            return;
        index_set(idx, root, b);
        index_set(idx, child, a);
        root = child;
    }
}

/* Whether the n keys stacked in [ps->top, region_end) differ; the stack is left as it is. Sorts
 * their offsets in the gap: O(n log n) on any input, no allocation. */
static bool keys_unique(struct parse *ps, const char *region_end, size_t n)
{
    if (n < 2)
        return true;
    const char *keys = ps->top;
    char *idx = ps->bottom;
    MOPAY_ASSERT(idx + 4 * n <= ps->top);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        index_set(idx, i, (uint32_t)off);
        off += strlen(keys + off) + 1;
    }
    MOPAY_ASSERT(keys + off == region_end);
    for (size_t i = n / 2; i > 0; i--)
        heap_sift(idx, keys, i - 1, n);
    for (size_t end = n - 1; end > 0; end--) {
        uint32_t a = index_get(idx, 0);
        index_set(idx, 0, index_get(idx, end));
        index_set(idx, end, a);
        heap_sift(idx, keys, 0, end);
    }
    for (size_t i = 1; i < n; i++)
        if (strcmp(keys + index_get(idx, i - 1), keys + index_get(idx, i)) == 0)
            return false;
    return true;
}

/* Moves a key decoded at the bottom of the gap onto the key stack. */
static void key_push(struct parse *ps, size_t len)
{
    ps->top -= len + 1;
    MOPAY_ASSERT(ps->top >= ps->bottom);
    memmove(ps->top, ps->bottom, len + 1);
}

/* --- any value --- */

/* An object or array inside another value at `depth`; too_deep past MOPAY_JSON_DEPTH_MAX. */
static bool depth_enter(struct parse *ps, int depth)
{
    if (depth > MOPAY_JSON_DEPTH_MAX) {
        ps->too_deep = true;
        return false;
    }
    return true;
}

/* An object at `depth` whose '{' was just read; only its syntax and keys matter. */
static bool object_skip(struct parse *ps, int depth)
{
    char *region_end = ps->top;
    size_t n = 0, len;
    ws_skip(ps);
    if (byte_take(ps, '}'))
        return true;
    for (;;) {
        if (!byte_take(ps, '"') || !string_read(ps, ps->bottom, &len))
            return false;
        key_push(ps, len);
        n++;
        ws_skip(ps);
        if (!byte_take(ps, ':'))
            return false;
        ws_skip(ps);
        if (!value_skip(ps, depth))
            return false;
        ws_skip(ps);
        if (byte_take(ps, '}'))
            break;
        if (!byte_take(ps, ','))
            return false;
        ws_skip(ps);
    }
    if (!keys_unique(ps, region_end, n))
        return false;
    ps->top = region_end;
    return true;
}

/* An array at `depth` whose '[' was just read. */
static bool array_skip(struct parse *ps, int depth)
{
    ws_skip(ps);
    if (byte_take(ps, ']'))
        return true;
    for (;;) {
        if (!value_skip(ps, depth))
            return false;
        ws_skip(ps);
        if (byte_take(ps, ']'))
            return true;
        if (!byte_take(ps, ','))
            return false;
        ws_skip(ps);
    }
}

/* Any value inside a container at `depth`, checked and dropped. */
static bool value_skip(struct parse *ps, int depth)
{
    if (ps->p >= ps->end)
        return false;
    size_t len;
    bool is_integer;
    int64_t v;
    switch (*ps->p++) {
    case '{': return depth_enter(ps, depth + 1) && object_skip(ps, depth + 1);
    case '[': return depth_enter(ps, depth + 1) && array_skip(ps, depth + 1);
    case '"': return string_read(ps, ps->bottom, &len);
    case 't': return literal_read(ps, "rue", 3);
    case 'f': return literal_read(ps, "alse", 4);
    case 'n': return literal_read(ps, "ull", 3);
    default: ps->p--; return number_read(ps, &is_integer, &v);
    }
}

/* --- the transfers body --- */

/* pointer_push and pointer_prefix of the jansson path (src/core/json.c, ledger.c), cuts included:
 * "/transfers/<index>" then "/<key>" with '~' and '/' escaped (RFC 6901); key NULL for the item. */
static void item_pointer(struct mopay_json_error *e, size_t index, const char *key)
{
    char inner[sizeof(e->pointer)];
    size_t len = 0, cap = sizeof(inner);
    if (key != NULL) {
        if (len + 1 < cap)
            inner[len++] = '/';
        for (const char *k = key; *k != '\0' && len + 2 < cap; k++) {
            if (*k == '~' || *k == '/') {
                inner[len++] = '~';
                inner[len++] = *k == '~' ? '0' : '1';
            } else {
                inner[len++] = *k;
            }
        }
    }
    inner[len] = '\0';
    char prefix[48];
    snprintf(prefix, sizeof(prefix), "/transfers/%zu", index);
    size_t p = strlen(prefix);
    if (p + len >= cap)
        len = cap - 1 - p;
    memcpy(e->pointer, prefix, p);
    memcpy(e->pointer + p, inner, len);
    e->pointer[p + len] = '\0';
}

static void item_fail(struct parse *ps, const char *key, enum mopay_err code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Remembers the first spec error of the batch (the jansson path's mopay_json_read failure). */
static void item_fail(struct parse *ps, const char *key, enum mopay_err code, const char *fmt, ...)
{
    if (ps->item_failed)
        return;
    ps->item_failed = true;
    ps->item_failed_index = ps->items;
    struct mopay_json_error *e = &ps->item_error;
    e->code = code;
    item_pointer(e, ps->items, key);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
    va_end(ap);
}

static enum transfer_field field_lookup(const char *k, size_t n)
{
    switch (n) {
    case 2: return memcmp(k, "id", 2) == 0 ? FIELD_ID : FIELD_UNKNOWN;
    case 4: return memcmp(k, "code", 4) == 0 ? FIELD_CODE : FIELD_UNKNOWN;
    case 5: return memcmp(k, "flags", 5) == 0 ? FIELD_FLAGS : FIELD_UNKNOWN;
    case 6: return memcmp(k, "amount", 6) == 0 ? FIELD_AMOUNT : FIELD_UNKNOWN;
    case 8: return memcmp(k, "currency", 8) == 0 ? FIELD_CURRENCY : FIELD_UNKNOWN;
    case 9:
        if (memcmp(k, "user_data", 9) == 0)
            return FIELD_USER_DATA;
        return memcmp(k, "timeout_s", 9) == 0 ? FIELD_TIMEOUT_S : FIELD_UNKNOWN;
    case 10: return memcmp(k, "pending_id", 10) == 0 ? FIELD_PENDING_ID : FIELD_UNKNOWN;
    case 16: return memcmp(k, "debit_account_id", 16) == 0 ? FIELD_DEBIT : FIELD_UNKNOWN;
    case 17: return memcmp(k, "credit_account_id", 17) == 0 ? FIELD_CREDIT : FIELD_UNKNOWN;
    default: return FIELD_UNKNOWN;
    }
}

static const char *kind_name(enum mopay_json_kind kind)
{
    static const char *const names[] = {"a string", "an integer", "a boolean", "an object", "an array"};
    return names[kind];
}

/* "flags" ('[' just read, the array at `depth`): up to API_TRANSFER_FLAGS_MAX items kept, strings
 * as such and anything else as a NULL string, for flags_read to judge. */
static bool flags_read(struct parse *ps, struct transfer_fields *f, const struct mopay_json_field *spec, int depth)
{
    size_t n = 0, len;
    ws_skip(ps);
    if (!byte_take(ps, ']')) {
        for (;;) {
            bool keep = !ps->item_failed && n < API_TRANSFER_FLAGS_MAX;
            if (byte_take(ps, '"')) {
                if (!string_read(ps, ps->bottom, &len))
                    return false;
                if (keep) {
                    f->flags[n] = (struct mopay_str){ps->bottom, len};
                    ps->bottom += len + 1;
                }
            } else if (!value_skip(ps, depth)) {
                return false;
            }
            n++;
            ws_skip(ps);
            if (byte_take(ps, ']'))
                break;
            if (!byte_take(ps, ','))
                return false;
            ws_skip(ps);
        }
    }
    if (n < spec->min_len || (spec->max_len > 0 && n > spec->max_len))
        item_fail(ps, spec->name, MOPAY_ERR_field_invalid, "%s must have %zu to %zu items", spec->name,
                  spec->min_len, spec->max_len);
    else if (!ps->item_failed)
        f->flags_count = n;
    return true;
}

/* The value of a known field of an item at `depth`, checked against its transfer_spec row. */
static bool field_read(struct parse *ps, struct transfer_fields *f, enum transfer_field which, int depth)
{
    const struct mopay_json_field *spec = &transfer_spec[which];
    if (ps->p >= ps->end)
        return false;
    unsigned char c = *ps->p;
    size_t len;
    if (spec->kind == MOPAY_JSON_STRING && c == '"') {
        ps->p++;
        if (!string_read(ps, ps->bottom, &len))
            return false;
        if (len < spec->min_len || (spec->max_len > 0 && len > spec->max_len)) {
            item_fail(ps, spec->name, MOPAY_ERR_field_invalid, "%s must be %zu to %zu bytes long", spec->name,
                      spec->min_len, spec->max_len);
        } else if (!ps->item_failed) {
            struct mopay_str s = {ps->bottom, len};
            memcpy((char *)f + spec->offset, &s, sizeof(s));
            ps->bottom += len + 1;
        }
        return true;
    }
    if (spec->kind == MOPAY_JSON_INTEGER && (c == '-' || (c >= '0' && c <= '9'))) {
        bool is_integer;
        int64_t v = 0;
        if (!number_read(ps, &is_integer, &v))
            return false;
        if (!is_integer)
            item_fail(ps, spec->name, MOPAY_ERR_field_wrong_type, "%s must be %s", spec->name,
                      kind_name(spec->kind));
        else if ((spec->min != 0 || spec->max != 0) && (v < spec->min || v > spec->max))
            item_fail(ps, spec->name, MOPAY_ERR_field_invalid, "%s must be between %lld and %lld", spec->name,
                      (long long)spec->min, (long long)spec->max);
        else if (!ps->item_failed)
            memcpy((char *)f + spec->offset, &v, sizeof(v));
        return true;
    }
    if (spec->kind == MOPAY_JSON_ARRAY && c == '[') {
        ps->p++;
        return depth_enter(ps, depth + 1) && flags_read(ps, f, spec, depth + 1);
    }
    MOPAY_ASSERT(spec->kind == MOPAY_JSON_STRING || spec->kind == MOPAY_JSON_INTEGER ||
                 spec->kind == MOPAY_JSON_ARRAY);
    item_fail(ps, spec->name, MOPAY_ERR_field_wrong_type, "%s must be %s", spec->name, kind_name(spec->kind));
    return value_skip(ps, depth);
}

/* An item's key: the usual plain one compared where it lies, anything else decoded first. Leaves
 * the decoded key at ps->bottom for unknown ones. */
static bool item_key_read(struct parse *ps, enum transfer_field *which, size_t *len)
{
    const unsigned char *k = ps->p, *q = k, *end = ps->end;
    while (q < end && plain[*q])
        q++;
    if (q < end && *q == '"') {
        *len = (size_t)(q - k);
        *which = field_lookup((const char *)k, *len);
        ps->p = q + 1;
        if (*which == FIELD_UNKNOWN) {
            memcpy(ps->bottom, k, *len);
            ps->bottom[*len] = '\0';
        }
        return true;
    }
    if (!string_read(ps, ps->bottom, len))
        return false;
    *which = field_lookup(ps->bottom, *len);
    return true;
}

/* One item ('{' just read, the object at `depth`) into *f, as mopay_json_read with transfer_spec. */
static bool item_read(struct parse *ps, struct transfer_fields *f, int depth)
{
    char *region_end = ps->top;
    size_t unknown = 0, len;
    unsigned seen = 0;
    ws_skip(ps);
    if (byte_take(ps, '}'))
        return true;
    for (;;) {
        enum transfer_field which;
        if (!byte_take(ps, '"') || !item_key_read(ps, &which, &len))
            return false;
        if (which == FIELD_UNKNOWN) {
            key_push(ps, len);
            unknown++;
            item_fail(ps, ps->top, MOPAY_ERR_field_unknown, "unknown field '%s'", ps->top);
        } else if (seen & (1u << which)) {
            return false; /* jansson: "duplicate object key" */
        } else {
            seen |= 1u << which;
        }
        ws_skip(ps);
        if (!byte_take(ps, ':'))
            return false;
        ws_skip(ps);
        if (!(which == FIELD_UNKNOWN ? value_skip(ps, depth) : field_read(ps, f, which, depth)))
            return false;
        ws_skip(ps);
        if (byte_take(ps, '}'))
            break;
        if (!byte_take(ps, ','))
            return false;
        ws_skip(ps);
    }
    if (!keys_unique(ps, region_end, unknown))
        return false;
    ps->top = region_end;
    return true;
}

/* The items ('[' just read, the array at `depth`). */
static bool items_read(struct parse *ps, int depth)
{
    ws_skip(ps);
    if (byte_take(ps, ']'))
        return true;
    for (;;) {
        struct transfer_fields spare;
        struct transfer_fields *f = ps->items < ps->fields_cap ? &ps->fields[ps->items] : &spare;
        memset(f, 0, sizeof(*f));
        if (byte_take(ps, '{')) {
            if (!depth_enter(ps, depth + 1) || !item_read(ps, f, depth + 1))
                return false;
        } else {
            item_fail(ps, NULL, MOPAY_ERR_field_wrong_type, "the body must be a JSON object");
            if (!value_skip(ps, depth))
                return false;
        }
        ps->items++;
        ws_skip(ps);
        if (byte_take(ps, ']'))
            return true;
        if (!byte_take(ps, ','))
            return false;
        ws_skip(ps);
    }
}

/* The top-level object ('{' just read, at depth 1): "transfers" and what batch_items refuses. */
static bool root_read(struct parse *ps)
{
    char *region_end = ps->top;
    size_t unknown = 0, len;
    ws_skip(ps);
    if (byte_take(ps, '}'))
        return true;
    for (;;) {
        if (!byte_take(ps, '"') || !string_read(ps, ps->bottom, &len))
            return false;
        bool transfers = len == 9 && memcmp(ps->bottom, "transfers", 9) == 0;
        if (transfers && ps->transfers != TRANSFERS_MISSING)
            return false; /* duplicate key */
        if (!transfers) {
            key_push(ps, len);
            unknown++;
            if (!ps->root_unknown) {
                ps->root_unknown = true;
                snprintf(ps->root_error.pointer, sizeof(ps->root_error.pointer), "/%s", ps->top);
                snprintf(ps->root_error.detail, sizeof(ps->root_error.detail), "unknown field '%s'", ps->top);
            }
        }
        ws_skip(ps);
        if (!byte_take(ps, ':'))
            return false;
        ws_skip(ps);
        bool ok;
        if (transfers && byte_take(ps, '[')) {
            ps->transfers = TRANSFERS_ARRAY;
            ok = depth_enter(ps, 2) && items_read(ps, 2);
        } else {
            ps->transfers = transfers ? TRANSFERS_OTHER : ps->transfers;
            ok = value_skip(ps, 1);
        }
        if (!ok)
            return false;
        ws_skip(ps);
        if (byte_take(ps, '}'))
            break;
        if (!byte_take(ps, ','))
            return false;
        ws_skip(ps);
    }
    if (!keys_unique(ps, region_end, unknown))
        return false;
    ps->top = region_end;
    return true;
}

static bool parse_fail(struct mopay_json_error *e, enum mopay_err code, const char *pointer, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static bool parse_fail(struct mopay_json_error *e, enum mopay_err code, const char *pointer, const char *fmt, ...)
{
    e->code = code;
    snprintf(e->pointer, sizeof(e->pointer), "%s", pointer);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
    va_end(ap);
    return false;
}

/* What batch_items and the item loop decide once the whole document has parsed. */
static bool batch_check(struct parse *ps, size_t *count, struct mopay_json_error *e)
{
    if (ps->transfers != TRANSFERS_ARRAY)
        return parse_fail(e, ps->transfers == TRANSFERS_MISSING ? MOPAY_ERR_field_missing : MOPAY_ERR_field_wrong_type,
                          "/transfers", "transfers must be an array");
    if (ps->root_unknown) {
        *e = ps->root_error;
        e->code = MOPAY_ERR_field_unknown;
        return false;
    }
    if (ps->items == 0 || ps->items > MOPAY_LEDGER_EVENTS_PER_COMMAND_MAX)
        return parse_fail(e, MOPAY_ERR_field_invalid, "/transfers", "transfers must have 1 to %d items",
                          MOPAY_LEDGER_EVENTS_PER_COMMAND_MAX);
    if (ps->item_failed) {
        *count = ps->item_failed_index;
        *e = ps->item_error;
        return false;
    }
    *count = ps->items;
    return true;
}

bool api_transfers_parse(const char *body, size_t len, struct transfer_fields *fields, size_t fields_cap,
                         size_t *count, char *scratch, size_t scratch_cap, struct mopay_json_error *error)
{
    MOPAY_ASSERT(scratch_cap >= len + 1 && len < UINT32_MAX);
    MOPAY_ASSERT(fields_cap >= MOPAY_LEDGER_EVENTS_PER_COMMAND_MAX);
    MOPAY_ASSERT(body != NULL || len == 0);
    *count = 0;
    error->code = MOPAY_OK;
    error->pointer[0] = '\0';
    error->detail[0] = '\0';
    if (len == 0) /* no body: the jansson path's NULL tree */
        return parse_fail(error, MOPAY_ERR_field_missing, "/transfers", "transfers must be an array");
    struct parse ps = {
        .p = (const unsigned char *)body,
        .end = (const unsigned char *)body + len,
        .bottom = scratch,
        .top = scratch + scratch_cap,
        .fields = fields,
        .fields_cap = fields_cap,
    };
    ws_skip(&ps);
    bool ok = false, array = false;
    if (byte_take(&ps, '{')) {
        ok = root_read(&ps);
    } else if (byte_take(&ps, '[')) {
        array = true;
        ok = array_skip(&ps, 1);
    }
    ws_skip(&ps);
    if (!ok || ps.p != ps.end) {
        if (ps.too_deep || !mopay_json_depth_ok(body, len))
            return parse_fail(error, MOPAY_ERR_json_too_deep, "", "JSON may nest at most %d levels",
                              MOPAY_JSON_DEPTH_MAX);
        return parse_fail(error, MOPAY_ERR_json_malformed, "", "not valid JSON, near byte %zu",
                          (size_t)(ps.p - (const unsigned char *)body));
    }
    if (array)
        return parse_fail(error, MOPAY_ERR_field_wrong_type, "", "the body must be a JSON object");
    return batch_check(&ps, count, error);
}

void api_transfer_flags_from_json(struct transfer_fields *f)
{
    memset(f->flags, 0, sizeof(f->flags));
    f->flags_count = 0;
    if (f->flags_json == NULL)
        return;
    size_t i;
    json_t *v;
    json_array_foreach(f->flags_json, i, v) {
        MOPAY_ASSERT(i < API_TRANSFER_FLAGS_MAX); /* transfer_spec's max_len */
        if (json_is_string(v))
            f->flags[i] = (struct mopay_str){json_string_value(v), json_string_length(v)};
        f->flags_count = i + 1;
    }
}
