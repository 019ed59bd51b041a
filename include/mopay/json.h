#ifndef MOPAY_JSON_H
#define MOPAY_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "mopay/err.h"
#include "mopay/limits.h"

/* Declarative JSON field specs: a handler describes the object it takes as a table, and one
 * reader checks a parsed body against it and fills a C struct. No HTTP here: the HTTP layer
 * turns a failure into problem+json. */

enum mopay_json_kind {
    MOPAY_JSON_STRING,  /* -> struct mopay_str */
    MOPAY_JSON_INTEGER, /* -> int64_t */
    MOPAY_JSON_BOOL,    /* -> bool */
    MOPAY_JSON_OBJECT,  /* nested spec, filling the same output struct */
    MOPAY_JSON_ARRAY,   /* -> json_t * (the handler walks the items) */
};

struct mopay_str {
    const char *ptr; /* NUL-terminated; lives as long as the JSON it came from */
    size_t len;
};

struct mopay_json_field {
    const char *name;
    enum mopay_json_kind kind;
    bool required;
    size_t offset;           /* of the output in the caller's struct */
    size_t min_len, max_len; /* strings (bytes) and arrays (items); max 0 = no limit */
    int64_t min, max;        /* integers; both 0 = no limit */
    const struct mopay_json_field *fields; /* objects: a table ended by a NULL name; arrays: the spec of
                                              their items when they are objects, which the handler
                                              checks itself (mopay_json_read does not look) */
    size_t present;          /* MOPAY_JSON_PRESENT(...) of a bool set when given; 0 = none */
};

/* Where the "given" flag of an optional field lives: offsetof + 1, so that 0 can mean none. */
#define MOPAY_JSON_PRESENT(type, member) (offsetof(type, member) + 1)

struct mopay_json_error {
    enum mopay_err code;  /* field_missing, field_wrong_type, field_invalid, field_unknown */
    char pointer[MOPAY_JSON_POINTER_BYTES_MAX]; /* RFC 6901, "" for the whole document */
    char detail[256];
};

/* Checks `object` against `spec` (a table ended by a NULL name) and fills `out`. Unknown fields
 * are refused. On failure fills `error` with the first offending field in document order and
 * returns false; `out` may then be partly filled. */
bool mopay_json_read(json_t *object, const struct mopay_json_field *spec, void *out,
                     struct mopay_json_error *error);

/* Whether the document nests at most MOPAY_JSON_DEPTH_MAX levels, counted on the raw bytes
 * (brackets inside strings do not count) before any parsing, so that a too-deep document is
 * refused without building any of it, and so that broken JSON too is judged "too deep" first. */
bool mopay_json_depth_ok(const char *s, size_t len);

/* Compact JSON text, keys in insertion order, in plain malloc'd memory,
 * NUL-terminated, freed with free(); NULL when out of memory. jansson's own json_dumps allocates
 * through the request-arena hooks and must not be freed with free(). */
char *mopay_json_dump(json_t *j, size_t *len);

#endif
