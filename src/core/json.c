#include "mopay/json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool json_fail(struct mopay_json_error *e, enum mopay_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool json_fail(struct mopay_json_error *e, enum mopay_err code, const char *fmt, ...)
{
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
    va_end(ap);
    return false;
}

/* Appends "/name" to the error's JSON pointer, escaping '~' and '/' (RFC 6901); returns the new
 * length. A pointer that would pass the cap is cut short, never overrun. */
static size_t pointer_push(struct mopay_json_error *e, size_t len, const char *name)
{
    char *ptr = e->pointer;
    size_t cap = sizeof(e->pointer);
    if (len + 1 < cap)
        ptr[len++] = '/';
    for (const char *p = name; *p != '\0' && len + 2 < cap; p++) {
        if (*p == '~' || *p == '/') {
            ptr[len++] = '~';
            ptr[len++] = *p == '~' ? '0' : '1';
        } else {
            ptr[len++] = *p;
        }
    }
    ptr[len] = '\0';
    return len;
}

static const char *json_kind_name(enum mopay_json_kind kind)
{
    static const char *const names[] = {"a string", "an integer", "a boolean", "an object", "an array"};
    return names[kind];
}

static bool field_type_ok(const struct mopay_json_field *f, json_t *v)
{
    switch (f->kind) {
    case MOPAY_JSON_STRING: return json_is_string(v);
    case MOPAY_JSON_INTEGER: return json_is_integer(v);
    case MOPAY_JSON_BOOL: return json_is_boolean(v);
    case MOPAY_JSON_OBJECT: return json_is_object(v);
    case MOPAY_JSON_ARRAY: return json_is_array(v);
    }
    return false;
}

static bool read_object(json_t *object, const struct mopay_json_field *spec, void *out, struct mopay_json_error *e,
                        size_t ptr_len);

/* Checks one present field and stores it. */
static bool read_field(const struct mopay_json_field *f, json_t *v, void *out, struct mopay_json_error *e,
                       size_t ptr_len)
{
    char *dst = (char *)out + f->offset;
    if (!field_type_ok(f, v))
        return json_fail(e, MOPAY_ERR_field_wrong_type, "%s must be %s", f->name, json_kind_name(f->kind));
    if (f->kind == MOPAY_JSON_STRING) {
        size_t len = json_string_length(v);
        if (len < f->min_len || (f->max_len > 0 && len > f->max_len))
            return json_fail(e, MOPAY_ERR_field_invalid, "%s must be %zu to %zu bytes long", f->name, f->min_len,
                             f->max_len);
        struct mopay_str s = {json_string_value(v), len};
        memcpy(dst, &s, sizeof(s));
    } else if (f->kind == MOPAY_JSON_INTEGER) {
        int64_t n = json_integer_value(v);
        if ((f->min != 0 || f->max != 0) && (n < f->min || n > f->max))
            return json_fail(e, MOPAY_ERR_field_invalid, "%s must be between %lld and %lld", f->name,
                             (long long)f->min, (long long)f->max);
        memcpy(dst, &n, sizeof(n));
    } else if (f->kind == MOPAY_JSON_BOOL) {
        bool b = json_is_true(v);
        memcpy(dst, &b, sizeof(b));
    } else if (f->kind == MOPAY_JSON_ARRAY) {
        size_t n = json_array_size(v);
        if (n < f->min_len || (f->max_len > 0 && n > f->max_len))
            return json_fail(e, MOPAY_ERR_field_invalid, "%s must have %zu to %zu items", f->name, f->min_len,
                             f->max_len);
        memcpy(dst, &v, sizeof(v));
    } else if (!read_object(v, f->fields, out, e, ptr_len)) {
        return false;
    }
    if (f->present != 0)
        *((bool *)((char *)out + f->present - 1)) = true;
    return true;
}

static bool read_object(json_t *object, const struct mopay_json_field *spec, void *out, struct mopay_json_error *e,
                        size_t ptr_len)
{
    const char *key;
    json_t *value;
    json_object_foreach(object, key, value) {
        const struct mopay_json_field *f = spec;
        while (f->name != NULL && strcmp(f->name, key) != 0)
            f++;
        size_t len = pointer_push(e, ptr_len, key);
        if (f->name == NULL)
            return json_fail(e, MOPAY_ERR_field_unknown, "unknown field '%s'", key);
        if (!read_field(f, value, out, e, len))
            return false;
        e->pointer[ptr_len] = '\0';
    }
    for (const struct mopay_json_field *f = spec; f->name != NULL; f++) {
        if (f->required && json_object_get(object, f->name) == NULL) {
            pointer_push(e, ptr_len, f->name);
            return json_fail(e, MOPAY_ERR_field_missing, "%s is required", f->name);
        }
    }
    return true;
}

bool mopay_json_read(json_t *object, const struct mopay_json_field *spec, void *out, struct mopay_json_error *error)
{
    error->code = MOPAY_OK;
    error->pointer[0] = '\0';
    error->detail[0] = '\0';
    if (!json_is_object(object))
        return json_fail(error, MOPAY_ERR_field_wrong_type, "the body must be a JSON object");
    return read_object(object, spec, out, error, 0);
}

bool mopay_json_depth_ok(const char *s, size_t len)
{
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > MOPAY_JSON_DEPTH_MAX)
                return false;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return true;
}

struct dump_buffer {
    char *text;
    size_t len, cap;
    bool failed;
};

static int dump_append(const char *buffer, size_t size, void *data)
{
    struct dump_buffer *b = data;
    if (b->len + size + 1 > b->cap) {
        size_t cap = b->cap * 2 > b->len + size + 1 ? b->cap * 2 : b->len + size + 1;
        char *grown = realloc(b->text, cap);
        if (grown == NULL) {
            b->failed = true;
            return -1;
        }
        b->text = grown;
        b->cap = cap;
    }
    memcpy(b->text + b->len, buffer, size);
    b->len += size;
    return 0;
}

/* One pass, into a buffer that grows: dumping twice (once to size, once to fill) cost a
 * quarter of a payment's time on the sequencer. */
char *mopay_json_dump(json_t *j, size_t *len)
{
    struct dump_buffer b = {.text = malloc(512), .cap = 512};
    if (b.text == NULL || json_dump_callback(j, dump_append, &b, JSON_COMPACT) != 0 || b.failed) {
        free(b.text);
        return NULL;
    }
    b.text[b.len] = '\0';
    *len = b.len;
    return b.text;
}
