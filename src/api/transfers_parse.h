/* POST /v1/ledger/transfers without a JSON tree: a strict, single-pass, allocation-free reader of
 * {"transfers": [...]} that gives the outcome the jansson path gives (http_body_parse's depth and
 * syntax checks, batch_items, then transfer_spec item by item): the same fields, or the same error
 * code and JSON pointer. */
#ifndef MOPAY_API_TRANSFERS_PARSE_H
#define MOPAY_API_TRANSFERS_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mopay/json.h"

#define API_TRANSFER_FLAGS_MAX 4 /* transfer_spec's max_len of "flags" */

struct transfer_fields {
    struct mopay_str id, debit, credit, amount, currency, pending_id;
    json_t *flags_json; /* the jansson path only (transfer_spec fills it); api_transfers_parse leaves NULL */
    struct mopay_str flags[API_TRANSFER_FLAGS_MAX]; /* ptr NULL: that item is not a JSON string */
    size_t flags_count;
    int64_t code, user_data, timeout_s;
};

/* In the header so that the jansson path (ledger.c) and the tests share one table; the raw reader
 * takes its kinds and limits from it too. */
static const struct mopay_json_field transfer_spec[] = {
    {.name = "id", .kind = MOPAY_JSON_STRING, .offset = offsetof(struct transfer_fields, id), .max_len = 64},
    {.name = "debit_account_id", .kind = MOPAY_JSON_STRING, .offset = offsetof(struct transfer_fields, debit),
     .max_len = 64},
    {.name = "credit_account_id", .kind = MOPAY_JSON_STRING, .offset = offsetof(struct transfer_fields, credit),
     .max_len = 64},
    {.name = "amount", .kind = MOPAY_JSON_STRING, .offset = offsetof(struct transfer_fields, amount), .max_len = 32},
    {.name = "currency", .kind = MOPAY_JSON_STRING, .offset = offsetof(struct transfer_fields, currency),
     .min_len = 3, .max_len = 3},
    {.name = "pending_id", .kind = MOPAY_JSON_STRING, .offset = offsetof(struct transfer_fields, pending_id),
     .max_len = 64},
    {.name = "flags", .kind = MOPAY_JSON_ARRAY, .offset = offsetof(struct transfer_fields, flags_json),
     .max_len = API_TRANSFER_FLAGS_MAX},
    {.name = "code", .kind = MOPAY_JSON_INTEGER, .offset = offsetof(struct transfer_fields, code), .min = 0,
     .max = UINT16_MAX},
    {.name = "user_data", .kind = MOPAY_JSON_INTEGER, .offset = offsetof(struct transfer_fields, user_data),
     .min = 0, .max = INT64_MAX},
    {.name = "timeout_s", .kind = MOPAY_JSON_INTEGER, .offset = offsetof(struct transfer_fields, timeout_s),
     .min = 0, .max = UINT32_MAX},
    {0},
};

/* Reads {"transfers": [...]} into fields[0..*count). Strings point into `scratch` (NUL-terminated,
 * escapes decoded); scratch_cap >= len + 1 always suffices (asserted), and so does fields_cap >=
 * MOPAY_LEDGER_EVENTS_PER_COMMAND_MAX (asserted). `body` may be NULL when len is 0 (no body).
 *
 * On failure fills `error` as the jansson path would (code, pointer such as "/transfers/7/amount",
 * detail; json_malformed's detail is not jansson's text) and returns false. *count is then the
 * number of leading items that passed the spec: the jansson path converts each item (ids,
 * currency, amount, flags) before it checks the next one, so the caller must convert
 * fields[0..*count) in order and report the first conversion error before `error`. For errors of
 * the whole document (syntax, depth, top level, item count) *count is 0. */
bool api_transfers_parse(const char *body, size_t len, struct transfer_fields *fields, size_t fields_cap,
                         size_t *count, char *scratch, size_t scratch_cap, struct mopay_json_error *error);

/* For the jansson path: fills f->flags and f->flags_count from f->flags_json (NULL: none), so the
 * two paths yield the same struct. */
void api_transfer_flags_from_json(struct transfer_fields *f);

#endif
