/* libFuzzer harness of api_transfers_parse (src/api/transfers_parse.c) against the jansson path
 * it replaces: http_body_parse's depth check and json_loadb with JSON_REJECT_DUPLICATES, the top
 * level as batch_items checks it, then mopay_json_read with transfer_spec item by item. Both must
 * give the same fields, or the same error code, pointer and item count (and the same detail,
 * except for json_malformed, whose text is jansson's). Any disagreement aborts.
 *
 * tests/api/test_transfers_parse.c links this file too and calls transfers_agree directly. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mopay/ledger_service.h"
#include "transfers_parse.h"

/* src/http/json.c (declared in src/http/internal.h, which needs h2o's headers). */

#define ITEMS_MAX MOPAY_LEDGER_EVENTS_PER_COMMAND_MAX

struct outcome {
    bool ok;
    size_t count;
    struct mopay_json_error error;
    struct transfer_fields *fields; /* ITEMS_MAX */
};

/* ledger.c's pointer_prefix. */
static void oracle_pointer_prefix(struct mopay_json_error *e, const char *prefix)
{
    char inner[sizeof(e->pointer)];
    memcpy(inner, e->pointer, sizeof(inner));
    size_t p = strlen(prefix), i = strnlen(inner, sizeof(inner) - 1);
    if (p + i >= sizeof(e->pointer))
        i = sizeof(e->pointer) - 1 - p;
    memcpy(e->pointer, prefix, p);
    memcpy(e->pointer + p, inner, i);
    e->pointer[p + i] = '\0';
}

static void oracle_fail(struct outcome *o, enum mopay_err code, const char *pointer, const char *detail)
{
    o->ok = false;
    o->error.code = code;
    snprintf(o->error.pointer, sizeof(o->error.pointer), "%s", pointer);
    snprintf(o->error.detail, sizeof(o->error.detail), "%s", detail);
}

/* The jansson path; returns the tree the fields point into (NULL when none). */
static json_t *oracle_run(const char *s, size_t len, struct outcome *o)
{
    char detail[256];
    o->count = 0;
    if (len == 0) {
        oracle_fail(o, MOPAY_ERR_field_missing, "/transfers", "transfers must be an array");
        return NULL;
    }
    if (!mopay_json_depth_ok(s, len)) {
        snprintf(detail, sizeof(detail), "JSON may nest at most %d levels", MOPAY_JSON_DEPTH_MAX);
        oracle_fail(o, MOPAY_ERR_json_too_deep, "", detail);
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb(s, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        oracle_fail(o, MOPAY_ERR_json_malformed, "", jerr.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        oracle_fail(o, MOPAY_ERR_field_wrong_type, "", "the body must be a JSON object");
        return root;
    }
    json_t *items = json_object_get(root, "transfers");
    if (!json_is_array(items)) {
        oracle_fail(o, items ? MOPAY_ERR_field_wrong_type : MOPAY_ERR_field_missing, "/transfers",
                    "transfers must be an array");
        return root;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "transfers") != 0) {
            char p[MOPAY_JSON_POINTER_BYTES_MAX];
            snprintf(p, sizeof(p), "/%s", key);
            snprintf(detail, sizeof(detail), "unknown field '%s'", key);
            oracle_fail(o, MOPAY_ERR_field_unknown, p, detail);
            return root;
        }
    }
    size_t n = json_array_size(items);
    if (n == 0 || n > ITEMS_MAX) {
        snprintf(detail, sizeof(detail), "transfers must have 1 to %d items", ITEMS_MAX);
        oracle_fail(o, MOPAY_ERR_field_invalid, "/transfers", detail);
        return root;
    }
    for (size_t i = 0; i < n; i++) {
        struct transfer_fields *f = &o->fields[i];
        memset(f, 0, sizeof(*f));
        if (!mopay_json_read(json_array_get(items, i), transfer_spec, f, &o->error)) {
            char prefix[48];
            snprintf(prefix, sizeof(prefix), "/transfers/%zu", i);
            oracle_pointer_prefix(&o->error, prefix);
            o->ok = false;
            o->count = i;
            return root;
        }
        api_transfer_flags_from_json(f);
        f->flags_json = NULL;
    }
    o->ok = true;
    o->count = n;
    return root;
}

static bool str_same(const struct mopay_str *a, const struct mopay_str *b)
{
    if (a->ptr == NULL || b->ptr == NULL)
        return a->ptr == b->ptr && a->len == 0 && b->len == 0;
    return a->len == b->len && memcmp(a->ptr, b->ptr, a->len) == 0 && a->ptr[a->len] == '\0' &&
           b->ptr[b->len] == '\0';
}

static bool fields_same(const struct transfer_fields *a, const struct transfer_fields *b)
{
    if (!str_same(&a->id, &b->id) || !str_same(&a->debit, &b->debit) || !str_same(&a->credit, &b->credit) ||
        !str_same(&a->amount, &b->amount) || !str_same(&a->currency, &b->currency) ||
        !str_same(&a->pending_id, &b->pending_id) || a->flags_count != b->flags_count || a->code != b->code ||
        a->user_data != b->user_data || a->timeout_s != b->timeout_s || a->flags_json != b->flags_json)
        return false;
    for (size_t i = 0; i < a->flags_count; i++)
        if (!str_same(&a->flags[i], &b->flags[i]))
            return false;
    return true;
}

/* Whether both readers agree on `s`; when not, a line saying how goes to `why`. */
bool transfers_agree(const char *s, size_t len, char *why, size_t why_cap);

bool transfers_agree(const char *s, size_t len, char *why, size_t why_cap)
{
    static struct transfer_fields *mine_fields, *ref_fields;
    if (mine_fields == NULL) {
        mine_fields = calloc(ITEMS_MAX, sizeof(*mine_fields));
        ref_fields = calloc(ITEMS_MAX, sizeof(*ref_fields));
        if (mine_fields == NULL || ref_fields == NULL)
            abort();
    }
    struct outcome ref = {.fields = ref_fields}, mine = {.fields = mine_fields};
    json_t *tree = oracle_run(s, len, &ref);
    char *scratch = malloc(len + 1);
    if (scratch == NULL)
        abort();
    mine.ok = api_transfers_parse(s, len, mine.fields, ITEMS_MAX, &mine.count, scratch, len + 1, &mine.error);
    bool same = mine.ok == ref.ok && mine.count == ref.count;
    if (same && !ref.ok)
        same = mine.error.code == ref.error.code && strcmp(mine.error.pointer, ref.error.pointer) == 0 &&
               (ref.error.code == MOPAY_ERR_json_malformed || strcmp(mine.error.detail, ref.error.detail) == 0);
    size_t bad_item = SIZE_MAX;
    for (size_t i = 0; same && i < ref.count; i++)
        if (!fields_same(&mine.fields[i], &ref.fields[i])) {
            same = false;
            bad_item = i;
        }
    if (!same)
        snprintf(why, why_cap, "jansson: ok %d count %zu code %s pointer '%s' detail '%s' | raw: ok %d count %zu code %s "
                 "pointer '%s' detail '%s' | first differing item %zu",
                 ref.ok, ref.count, mopay_err_code(ref.error.code), ref.ok ? "" : ref.error.pointer,
                 ref.ok ? "" : ref.error.detail, mine.ok, mine.count, mopay_err_code(mine.error.code),
                 mine.ok ? "" : mine.error.pointer, mine.ok ? "" : mine.error.detail, bad_item);
    free(scratch);
    json_decref(tree);
    return same;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MOPAY_HTTP_BODY_BULK_BYTES_MAX)
        return 0;
    /* A heap copy of exactly `size` bytes, so ASan catches any read past the length. */
    char *s = malloc(size > 0 ? size : 1);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    char why[1024];
    if (!transfers_agree(size > 0 ? s : NULL, size, why, sizeof(why))) {
        fprintf(stderr, "fuzz_transfers: %s\n", why);
        abort();
    }
    free(s);
    return 0;
}
