/* libFuzzer harness for the request-body path of src/http/json.c, without an HTTP request: the
 * depth pre-scan (mopay_json_depth_ok), then json_loadb with JSON_REJECT_DUPLICATES into a request
 * arena, then the arena reset that ends every request.
 *
 * The pre-scan exists so a too-deep document is refused before jansson builds any of it; its
 * verdict is checked against the tree jansson builds with no depth limit of ours (only its own
 * JSON_PARSER_MAX_DEPTH), using malloc rather than the arena:
 *   - a refusal is right only if that tree nests deeper than MOPAY_JSON_DEPTH_MAX or jansson
 *     refuses the document anyway (then no client sees the difference);
 *   - an acceptance is right only if that tree, when there is one, nests no deeper than the max;
 *   - on a document jansson accepts, the count is exact: wrapped in brackets up to the max it
 *     passes, one more and it fails. This lets a miscount of one level show on small inputs.
 * When the pre-scan accepts, parsing into the arena must agree with parsing into malloc memory.
 * Refused input is never an error in itself; any broken property aborts. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "internal.h"
#include "mopay/arena.h"
#include "mopay/json.h"
#include "mopay/limits.h"

static void check(int ok)
{
    if (!ok)
        abort();
}

/* Levels of arrays and objects: "[]" is 1, a scalar 0. jansson caps nesting at
 * JSON_PARSER_MAX_DEPTH, which bounds the recursion. */
static int tree_depth(json_t *v)
{
    int deepest = 0;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            int d = tree_depth(json_array_get(v, i));
            deepest = d > deepest ? d : deepest;
        }
        return 1 + deepest;
    }
    if (json_is_object(v)) {
        const char *key;
        json_t *value;
        json_object_foreach(v, key, value) {
            int d = tree_depth(value);
            deepest = d > deepest ? d : deepest;
        }
        return 1 + deepest;
    }
    return 0;
}

/* What http_body_parse does once the pre-scan has passed; returns whether jansson accepted. */
static bool body_parse_in_arena(struct mopay_arena *arena, const char *s, size_t len)
{
    json_error_t error;
    mopay_arena_json_use(arena);
    json_t *root = json_loadb(s, len, JSON_REJECT_DUPLICATES, &error);
    mopay_arena_json_use(NULL);
    if (root != NULL)
        check(json_is_object(root) || json_is_array(root)); /* no JSON_DECODE_ANY */
    /* No json_decref: like a request, the tree dies with the arena. */
    mopay_arena_reset(arena);
    return root != NULL;
}

/* `s` is a document jansson accepts, nesting `depth` <= MOPAY_JSON_DEPTH_MAX levels. Whether
 * the pre-scan accepts it inside `extra` more arrays must depend on the sum alone. */
static void check_depth_exact(const char *s, size_t len, int depth)
{
    for (int extra = MOPAY_JSON_DEPTH_MAX - depth; extra <= MOPAY_JSON_DEPTH_MAX - depth + 1; extra++) {
        size_t wrapped_len = len + 2 * (size_t)extra;
        char *wrapped = malloc(wrapped_len);
        if (wrapped == NULL)
            return;
        memset(wrapped, '[', (size_t)extra);
        memcpy(wrapped + extra, s, len);
        memset(wrapped + extra + len, ']', (size_t)extra);
        check(mopay_json_depth_ok(wrapped, wrapped_len) == (depth + extra <= MOPAY_JSON_DEPTH_MAX));
        free(wrapped);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct mopay_arena arena;
    static bool ready;
    if (!ready) {
        mopay_arena_json_install();
        mopay_arena_init(&arena);
        ready = true;
    }
    /* The server refuses larger bodies before they reach the parser. */
    if (size > MOPAY_HTTP_BODY_BULK_BYTES_MAX)
        return 0;
    /* A heap copy of exactly `size` bytes, so ASan catches any read past the length. */
    char *s = malloc(size > 0 ? size : 1);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);

    bool depth_ok = mopay_json_depth_ok(s, size);
    bool arena_accepted = depth_ok && body_parse_in_arena(&arena, s, size);

    json_error_t error;
    json_t *reference = json_loadb(s, size, JSON_REJECT_DUPLICATES, &error);
    int depth = reference != NULL ? tree_depth(reference) : -1;
    if (!depth_ok)
        check(reference == NULL || depth > MOPAY_JSON_DEPTH_MAX);
    else if (reference != NULL)
        check(depth <= MOPAY_JSON_DEPTH_MAX);
    if (depth_ok && reference != NULL)
        check_depth_exact(s, size, depth);
    /* Bodies of ordinary endpoints cannot fill the arena, so the allocator must not matter;
     * bulk bodies may legitimately hit MOPAY_ARENA_BYTES_MAX and be refused. */
    if (depth_ok && size <= MOPAY_HTTP_BODY_BYTES_MAX)
        check(arena_accepted == (reference != NULL));
    json_decref(reference);
    free(s);
    return 0;
}
