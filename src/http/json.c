/* Request bodies: depth and syntax checks, then declarative field specs. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* jansson has no depth option, so nesting is measured before parsing: a too-deep document is
 * refused without building any of it. */
bool http_json_depth_ok(const char *s, size_t len)
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

bool http_body_parse(struct mopay_http_request *req, const char *body, size_t len)
{
    if (!http_json_depth_ok(body, len)) {
        mopay_http_reply_error(req, MOPAY_ERR_json_too_deep, NULL, "JSON may nest at most %d levels",
                               MOPAY_JSON_DEPTH_MAX);
        return false;
    }
    json_error_t error;
    mopay_arena_json_use(&req->arena);
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &error);
    mopay_arena_json_use(NULL);
    if (root == NULL && req->arena.refused) {
        mopay_http_reply_error(req, MOPAY_ERR_body_too_large, NULL, "the body's JSON needs more than %d MiB to hold",
                               MOPAY_ARENA_BYTES_MAX / (1024 * 1024));
        return false;
    }
    if (root == NULL) {
        mopay_http_reply_error(req, MOPAY_ERR_json_malformed, NULL, "line %d, column %d: %s", error.line,
                               error.column, error.text);
        return false;
    }
    if (!json_is_object(root)) {
        mopay_http_reply_error(req, MOPAY_ERR_field_wrong_type, "", "the body must be a JSON object");
        return false;
    }
    req->body = root;
    return true;
}

/* Appends "/name" to a JSON pointer, escaping '~' and '/' (RFC 6901). */
static size_t pointer_push(char *ptr, size_t len, const char *name)
{
    size_t cap = MOPAY_JSON_POINTER_BYTES_MAX;
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

static bool json_read_object(struct mopay_http_request *req, json_t *object, const struct mopay_json_field *spec,
                             void *out, char *ptr, size_t ptr_len);

/* Checks one present field and stores it; replies and returns false when it is bad. */
static bool json_read_field(struct mopay_http_request *req, const struct mopay_json_field *f, json_t *v, void *out,
                            char *ptr, size_t ptr_len)
{
    char *dst = (char *)out + f->offset;
    if (!field_type_ok(f, v)) {
        mopay_http_reply_error(req, MOPAY_ERR_field_wrong_type, ptr, "%s must be %s", f->name,
                               json_kind_name(f->kind));
        return false;
    }
    if (f->kind == MOPAY_JSON_STRING) {
        size_t len = json_string_length(v);
        if (len < f->min_len || (f->max_len > 0 && len > f->max_len)) {
            mopay_http_reply_error(req, MOPAY_ERR_field_invalid, ptr, "%s must be %zu to %zu bytes long", f->name,
                                   f->min_len, f->max_len);
            return false;
        }
        struct mopay_str s = {json_string_value(v), len};
        memcpy(dst, &s, sizeof(s));
    } else if (f->kind == MOPAY_JSON_INTEGER) {
        int64_t n = json_integer_value(v);
        if ((f->min != 0 || f->max != 0) && (n < f->min || n > f->max)) {
            mopay_http_reply_error(req, MOPAY_ERR_field_invalid, ptr, "%s must be between %lld and %lld", f->name,
                                   (long long)f->min, (long long)f->max);
            return false;
        }
        memcpy(dst, &n, sizeof(n));
    } else if (f->kind == MOPAY_JSON_BOOL) {
        bool b = json_is_true(v);
        memcpy(dst, &b, sizeof(b));
    } else if (f->kind == MOPAY_JSON_ARRAY) {
        size_t n = json_array_size(v);
        if (n < f->min_len || (f->max_len > 0 && n > f->max_len)) {
            mopay_http_reply_error(req, MOPAY_ERR_field_invalid, ptr, "%s must have %zu to %zu items", f->name,
                                   f->min_len, f->max_len);
            return false;
        }
        memcpy(dst, &v, sizeof(v));
    } else if (!json_read_object(req, v, f->fields, out, ptr, ptr_len)) {
        return false;
    }
    if (f->present_offset >= 0)
        *((bool *)((char *)out + f->present_offset)) = true;
    return true;
}

static bool json_read_object(struct mopay_http_request *req, json_t *object, const struct mopay_json_field *spec,
                             void *out, char *ptr, size_t ptr_len)
{
    const char *key;
    json_t *value;
    json_object_foreach(object, key, value) {
        const struct mopay_json_field *f = spec;
        while (f->name != NULL && strcmp(f->name, key) != 0)
            f++;
        size_t len = pointer_push(ptr, ptr_len, key);
        if (f->name == NULL) {
            mopay_http_reply_error(req, MOPAY_ERR_field_unknown, ptr, "unknown field '%s'", key);
            return false;
        }
        if (!json_read_field(req, f, value, out, ptr, len))
            return false;
        ptr[ptr_len] = '\0';
    }
    for (const struct mopay_json_field *f = spec; f->name != NULL; f++) {
        if (f->required && json_object_get(object, f->name) == NULL) {
            pointer_push(ptr, ptr_len, f->name);
            mopay_http_reply_error(req, MOPAY_ERR_field_missing, ptr, "%s is required", f->name);
            return false;
        }
    }
    return true;
}

bool mopay_http_json_read(struct mopay_http_request *req, json_t *object, const struct mopay_json_field *spec,
                          void *out)
{
    char ptr[MOPAY_JSON_POINTER_BYTES_MAX];
    ptr[0] = '\0';
    if (object == NULL) {
        mopay_http_reply_error(req, MOPAY_ERR_body_required, NULL, "send a JSON object");
        return false;
    }
    return json_read_object(req, object, spec, out, ptr, 0);
}
