/* The ledger endpoints (operator only): POST /v1/ledger/accounts, POST /v1/ledger/transfers,
 * GET /v1/ledger/accounts/{id}, GET /v1/ledger/transfers/{id}, GET /v1/ledger/check.
 *
 * Bodies are checked and turned into ledger events on the event loop; the sequencer applies
 * them and they are logged in the same batch transaction; reads go through the sequencer too, so
 * a reader sees exactly the committed state in order with the writes. */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "transfers_parse.h"
#include "mopay/assert.h"
#include "mopay/clock.h"
#include "mopay/ledger_service.h"
#include "mopay/money.h"

/* --- shared parsing --- */

static const char *const transfer_flag_names[] = {"linked", "pending", "post_pending", "void_pending"};
static const uint16_t transfer_flag_bits[] = {MOPAY_LEDGER_LINKED, MOPAY_LEDGER_PENDING, MOPAY_LEDGER_POST_PENDING,
                                              MOPAY_LEDGER_VOID_PENDING};
static const char *const account_flag_names[] = {"debits_must_not_exceed_credits", "credits_must_not_exceed_debits"};
static const uint16_t account_flag_bits[] = {MOPAY_LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS,
                                             MOPAY_LEDGER_CREDITS_MUST_NOT_EXCEED_DEBITS};

/* Adds the flag `name` (NULL: that item was not a string) found at /flags/j to *out; false, with
 * the error filled, when it is not one of `names`. */
static bool flag_add(const char *name, size_t j, const char *const *names, const uint16_t *bits, size_t count,
                     uint16_t *out, struct mopay_json_error *e, const char *pointer)
{
    for (size_t k = 0; name != NULL && k < count; k++) {
        if (strcmp(name, names[k]) == 0) {
            *out |= bits[k];
            return true;
        }
    }
    e->code = name != NULL ? MOPAY_ERR_field_invalid : MOPAY_ERR_field_wrong_type;
    snprintf(e->pointer, sizeof(e->pointer), "%s/flags/%zu", pointer, j);
    snprintf(e->detail, sizeof(e->detail), "not a flag this ledger knows");
    return false;
}

/* Reads a JSON array of flag names. */
static bool flags_read(json_t *array, const char *const *names, const uint16_t *bits, size_t count, uint16_t *out,
                       struct mopay_json_error *e, const char *pointer)
{
    *out = 0;
    size_t i;
    json_t *v;
    json_array_foreach(array, i, v) {
        if (!flag_add(json_string_value(v), i, names, bits, count, out, e, pointer))
            return false;
    }
    return true;
}

/* Puts where an item sits in the body ("/transfers/7") in front of a pointer into the item. */
static void pointer_prefix(struct mopay_json_error *e, const char *prefix)
{
    char inner[sizeof(e->pointer)];
    memcpy(inner, e->pointer, sizeof(inner));
    size_t p = strlen(prefix), i = strnlen(inner, sizeof(inner) - 1);
    MOPAY_ASSERT(p < sizeof(e->pointer));
    if (p + i >= sizeof(e->pointer))
        i = sizeof(e->pointer) - 1 - p;
    memcpy(e->pointer, prefix, p);
    memcpy(e->pointer + p, inner, i);
    e->pointer[p + i] = '\0';
}

/* An id of `kind`, or a fresh one when the field was left out. */
static bool id_read(const struct mopay_str *s, enum mopay_id_kind kind, struct mopay_id *out, bool make,
                    struct mopay_json_error *e, const char *pointer, const char *field)
{
    if (s->ptr == NULL) {
        if (make)
            mopay_id_new(mopay_clock_now_ns(), out);
        else
            memset(out, 0, sizeof(*out));
        return true;
    }
    if (mopay_id_parse(kind, s->ptr, s->len, out) == MOPAY_OK)
        return true;
    e->code = MOPAY_ERR_field_invalid;
    snprintf(e->pointer, sizeof(e->pointer), "%s/%s", pointer, field);
    snprintf(e->detail, sizeof(e->detail), "%s must be %s_ and 32 lowercase hex digits", field,
             mopay_id_prefix(kind));
    return false;
}

static const struct mopay_currency *currency_read(const struct mopay_str *s, struct mopay_json_error *e,
                                                  const char *pointer)
{
    const struct mopay_currency *c = mopay_currency_by_alpha(s->ptr, s->len);
    if (c == NULL) {
        e->code = MOPAY_ERR_currency_unknown;
        snprintf(e->pointer, sizeof(e->pointer), "%s/currency", pointer);
        snprintf(e->detail, sizeof(e->detail), "not an active ISO 4217 code");
    }
    return c;
}

/* Balances are unsigned 64-bit (sums 128-bit) minor units: formatted here, not by
 * mopay_money_format, whose int64 they may outgrow. */
static size_t format_minor_u128(unsigned __int128 v, unsigned exponent, char *buf, size_t cap)
{
    char digits[48];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v != 0 || n <= exponent);
    size_t len = 0;
    for (size_t i = n; i > 0 && len + 2 < cap; i--) {
        buf[len++] = digits[i - 1];
        if (exponent > 0 && i - 1 == exponent)
            buf[len++] = '.';
    }
    buf[len] = '\0';
    return len;
}

static json_t *amount_json(unsigned __int128 v, uint16_t currency)
{
    const struct mopay_currency *c = mopay_currency_by_numeric(currency);
    char buf[64];
    format_minor_u128(v, c ? c->exponent : 0, buf, sizeof(buf));
    return json_string(buf);
}

static json_t *id_json(enum mopay_id_kind kind, const struct mopay_id *id)
{
    char text[MOPAY_ID_TEXT_BYTES];
    mopay_id_format(kind, id, text);
    return json_string(text);
}

static json_t *time_json(int64_t ns)
{
    char text[MOPAY_TIME_TEXT_BYTES];
    mopay_time_format(ns, text);
    return json_string(text);
}

static json_t *flags_json(uint16_t flags, const char *const *names, const uint16_t *bits, size_t count)
{
    json_t *a = json_array();
    for (size_t i = 0; i < count; i++)
        if (flags & bits[i])
            json_array_append_new(a, json_string(names[i]));
    return a;
}

static bool id_is_zero(const struct mopay_id *id)
{
    static const struct mopay_id zero;
    return memcmp(id, &zero, sizeof(zero)) == 0;
}

static json_t *account_json(const struct mopay_ledger_account *a)
{
    const struct mopay_currency *c = mopay_currency_by_numeric(a->currency);
    json_t *j = json_object();
    json_object_set_new(j, "id", id_json(MOPAY_ID_ACCOUNT, &a->id));
    json_object_set_new(j, "currency", json_string(c ? c->alpha : "???"));
    json_object_set_new(j, "kind", json_string(mopay_ledger_kind_name(a->kind)));
    json_object_set_new(j, "flags", flags_json(a->flags, account_flag_names, account_flag_bits, 2));
    json_object_set_new(j, "debits_posted", amount_json(a->debits_posted, a->currency));
    json_object_set_new(j, "credits_posted", amount_json(a->credits_posted, a->currency));
    json_object_set_new(j, "debits_pending", amount_json(a->debits_pending, a->currency));
    json_object_set_new(j, "credits_pending", amount_json(a->credits_pending, a->currency));
    json_object_set_new(j, "user_data", json_integer((json_int_t)a->user_data));
    json_object_set_new(j, "created_at", time_json(a->timestamp));
    return j;
}

static json_t *transfer_json(const struct mopay_ledger *ledger, const struct mopay_ledger_transfer *t)
{
    static const char *const states[] = {NULL, "pending", "posted", "voided", "expired"};
    const struct mopay_currency *c = mopay_currency_by_numeric(t->currency);
    json_t *j = json_object();
    json_object_set_new(j, "id", id_json(MOPAY_ID_TRANSFER, &t->id));
    json_object_set_new(j, "debit_account_id", id_json(MOPAY_ID_ACCOUNT, &t->debit_account_id));
    json_object_set_new(j, "credit_account_id", id_json(MOPAY_ID_ACCOUNT, &t->credit_account_id));
    json_object_set_new(j, "amount", amount_json(t->amount, t->currency));
    json_object_set_new(j, "currency", json_string(c ? c->alpha : "???"));
    json_object_set_new(j, "code", json_integer(t->code));
    json_object_set_new(j, "user_data", json_integer((json_int_t)t->user_data));
    json_object_set_new(j, "flags", flags_json(t->flags, transfer_flag_names, transfer_flag_bits, 4));
    if (!id_is_zero(&t->pending_id))
        json_object_set_new(j, "pending_id", id_json(MOPAY_ID_TRANSFER, &t->pending_id));
    if (t->flags & MOPAY_LEDGER_PENDING) {
        json_object_set_new(j, "timeout_s", json_integer(t->timeout_s));
        enum mopay_ledger_pending_state st = mopay_ledger_transfer_state(ledger, t);
        if (st > MOPAY_LEDGER_NOT_PENDING && st <= MOPAY_LEDGER_STATE_EXPIRED)
            json_object_set_new(j, "state", json_string(states[st]));
    }
    json_object_set_new(j, "created_at", time_json(t->timestamp));
    return j;
}

/* --- POST /v1/ledger/accounts --- */

struct account_fields {
    struct mopay_str id, currency, kind;
    json_t *flags;
    int64_t user_data;
};

const struct mopay_json_field api_ledger_account_fields[] = {
    {.name = "id", .kind = MOPAY_JSON_STRING, .offset = offsetof(struct account_fields, id), .max_len = 64},
    {.name = "currency", .kind = MOPAY_JSON_STRING, .required = true,
     .offset = offsetof(struct account_fields, currency), .min_len = 3, .max_len = 3},
    {.name = "kind", .kind = MOPAY_JSON_STRING, .offset = offsetof(struct account_fields, kind), .max_len = 32},
    {.name = "flags", .kind = MOPAY_JSON_ARRAY, .offset = offsetof(struct account_fields, flags), .max_len = 2},
    {.name = "user_data", .kind = MOPAY_JSON_INTEGER, .offset = offsetof(struct account_fields, user_data),
     .min = 0, .max = INT64_MAX},
    {0},
};

/* One account object into a ledger event; `pointer` is where it sits in the body. */
static bool account_read(json_t *object, struct mopay_ledger_account *out, struct mopay_json_error *e,
                         const char *pointer)
{
    struct account_fields f = {0};
    if (!mopay_json_read(object, api_ledger_account_fields, &f, e)) {
        pointer_prefix(e, pointer);
        return false;
    }
    memset(out, 0, sizeof(*out));
    const struct mopay_currency *c = currency_read(&f.currency, e, pointer);
    if (c == NULL || !id_read(&f.id, MOPAY_ID_ACCOUNT, &out->id, true, e, pointer, "id"))
        return false;
    enum mopay_ledger_kind kind = MOPAY_LEDGER_KIND_GENERAL;
    if (f.kind.ptr != NULL && !mopay_ledger_kind_parse(f.kind.ptr, &kind)) {
        e->code = MOPAY_ERR_field_invalid;
        snprintf(e->pointer, sizeof(e->pointer), "%s/kind", pointer);
        snprintf(e->detail, sizeof(e->detail), "not an account kind (general, customer_wallet, merchant, ...)");
        return false;
    }
    if (f.flags != NULL && !flags_read(f.flags, account_flag_names, account_flag_bits, 2, &out->flags, e, pointer))
        return false;
    out->currency = c->numeric;
    out->kind = (uint16_t)kind;
    out->user_data = (uint64_t)f.user_data;
    return true;
}

struct ledger_batch {
    struct mopay_http_command base;
    size_t count;
    bool single;   /* one account object, not a batch: answered with the account itself */
    void *events;  /* struct mopay_ledger_account[] or struct mopay_ledger_transfer[], in the arena */
    uint8_t *results;
};

static enum mopay_err accounts_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    (void)store;
    struct ledger_batch *b = (struct ledger_batch *)cmd;
    struct mopay_api *api = cmd->app;
    mopay_ledger_service_create_accounts(api->ledger, b->events, b->count, now_ns, b->results);
    if (b->single && b->results[0] != MOPAY_LEDGER_ok && b->results[0] != MOPAY_LEDGER_exists) {
        cmd->err_detail = mopay_ledger_result_name(b->results[0]);
        return MOPAY_ERR_ledger_rejected;
    }
    return MOPAY_OK;
}

/* Text rendering of {"results": [...]}: a batch answers thousands of items and the sequencer
 * thread should not build a JSON tree for them. */
static char *results_render(struct ledger_batch *b, size_t event_size, enum mopay_id_kind kind, size_t *len)
{
    size_t cap = 16 + b->count * (MOPAY_ID_TEXT_BYTES + 80), n = 0;
    char *out = malloc(cap);
    MOPAY_ASSERT(out != NULL);
    n += (size_t)snprintf(out, cap, "{\"results\":[");
    for (size_t i = 0; i < b->count; i++) {
        const struct mopay_id *id = (const struct mopay_id *)((const char *)b->events + i * event_size);
        char text[MOPAY_ID_TEXT_BYTES];
        mopay_id_format(kind, id, text);
        n += (size_t)snprintf(out + n, cap - n, "%s{\"id\":\"%s\",\"result\":\"%s\"}", i ? "," : "", text,
                              mopay_ledger_result_name(b->results[i]));
    }
    n += (size_t)snprintf(out + n, cap - n, "]}");
    MOPAY_ASSERT(n < cap);
    *len = n;
    return out;
}

static char *accounts_render_text(struct mopay_http_command *cmd, int *status, size_t *len)
{
    struct ledger_batch *b = (struct ledger_batch *)cmd;
    struct mopay_api *api = cmd->app;
    if (!b->single) {
        *status = 200;
        return results_render(b, sizeof(struct mopay_ledger_account), MOPAY_ID_ACCOUNT, len);
    }
    const struct mopay_ledger_account *events = b->events;
    const struct mopay_ledger_account *a = mopay_ledger_account_get(mopay_ledger_service_ledger(api->ledger),
                                                                    &events[0].id);
    MOPAY_ASSERT(a != NULL);
    *status = b->results[0] == MOPAY_LEDGER_ok ? 201 : 200;
    json_t *j = account_json(a);
    char *text = mopay_http_json_text(j, len);
    json_decref(j);
    return text;
}

/* Allocates a batch command with room for `count` events of `event_size` and their results. */
static struct ledger_batch *batch_new(struct mopay_http_request *req, size_t count, size_t event_size,
                                      mopay_http_apply_fn apply, mopay_http_render_text_fn render_text)
{
    struct ledger_batch *b = mopay_http_command_new(req, sizeof(*b), apply, NULL);
    struct mopay_arena *arena = mopay_http_arena(req);
    if (b == NULL || (b->events = mopay_arena_alloc(arena, count * event_size + 1)) == NULL ||
        (b->results = mopay_arena_alloc(arena, count + 1)) == NULL) {
        mopay_http_reply_error(req, MOPAY_ERR_body_too_large, NULL, "the batch does not fit in memory");
        return NULL;
    }
    b->base.render_text = render_text;
    b->base.seq.weight = (uint32_t)count;
    b->count = count;
    return b;
}

/* The body's item array under `name`, 1 to MOPAY_LEDGER_EVENTS_PER_COMMAND_MAX items. */
static json_t *batch_items(struct mopay_http_request *req, json_t *body, const char *name)
{
    json_t *items = json_object_get(body, name);
    char pointer[32];
    snprintf(pointer, sizeof(pointer), "/%s", name);
    if (!json_is_array(items)) {
        mopay_http_reply_error(req, items ? MOPAY_ERR_field_wrong_type : MOPAY_ERR_field_missing, pointer,
                               "%s must be an array", name);
        return NULL;
    }
    if (json_object_size(body) != 1) {
        const char *key;
        json_t *v;
        json_object_foreach(body, key, v) {
            if (strcmp(key, name) != 0) {
                char p[MOPAY_JSON_POINTER_BYTES_MAX];
                snprintf(p, sizeof(p), "/%s", key);
                mopay_http_reply_error(req, MOPAY_ERR_field_unknown, p, "unknown field '%s'", key);
                return NULL;
            }
        }
    }
    size_t n = json_array_size(items);
    if (n == 0 || n > MOPAY_LEDGER_EVENTS_PER_COMMAND_MAX) {
        mopay_http_reply_error(req, MOPAY_ERR_field_invalid, pointer, "%s must have 1 to %d items", name,
                               MOPAY_LEDGER_EVENTS_PER_COMMAND_MAX);
        return NULL;
    }
    return items;
}

void api_ledger_accounts_create(struct mopay_http_request *req)
{
    json_t *body = mopay_http_body(req);
    if (body == NULL) {
        mopay_http_reply_error(req, MOPAY_ERR_body_required, NULL, "send an account, or {\"accounts\": [...]}");
        return;
    }
    bool single = json_object_get(body, "accounts") == NULL;
    json_t *items = single ? NULL : batch_items(req, body, "accounts");
    if (!single && items == NULL)
        return;
    size_t count = single ? 1 : json_array_size(items);
    struct ledger_batch *b =
        batch_new(req, count, sizeof(struct mopay_ledger_account), accounts_apply, accounts_render_text);
    if (b == NULL)
        return;
    b->single = single;
    struct mopay_ledger_account *events = b->events;
    struct mopay_json_error e;
    for (size_t i = 0; i < count; i++) {
        char pointer[48] = "";
        if (!single)
            snprintf(pointer, sizeof(pointer), "/accounts/%zu", i);
        if (!account_read(single ? body : json_array_get(items, i), &events[i], &e, pointer)) {
            mopay_http_reply_error(req, e.code, e.pointer, "%s", e.detail);
            return;
        }
    }
    mopay_http_submit(req, &b->base);
}

/* --- POST /v1/ledger/transfers --- */

/* {"transfers": [...]}: read by api_transfers_parse (transfers_parse.c), each item by transfer_spec. */
const struct mopay_json_field api_ledger_transfers_fields[] = {
    {.name = "transfers", .kind = MOPAY_JSON_ARRAY, .required = true, .min_len = 1,
     .max_len = MOPAY_LEDGER_EVENTS_PER_COMMAND_MAX, .fields = transfer_spec},
    {0},
};

static bool field_error(struct mopay_json_error *e, enum mopay_err code, const char *pointer, const char *field,
                        const char *detail)
{
    e->code = code;
    snprintf(e->pointer, sizeof(e->pointer), "%s/%s", pointer, field);
    snprintf(e->detail, sizeof(e->detail), "%s", detail);
    return false;
}

/* The amount in the currency's minor units; a post or void may leave both out (the pending
 * transfer's are used), but an amount needs its currency to be read. */
static bool transfer_amount_read(const struct transfer_fields *f, struct mopay_ledger_transfer *out,
                                 struct mopay_json_error *e, const char *pointer)
{
    bool resolves = out->flags & (MOPAY_LEDGER_POST_PENDING | MOPAY_LEDGER_VOID_PENDING);
    if (f->currency.ptr == NULL) {
        if (!resolves)
            return field_error(e, MOPAY_ERR_field_missing, pointer, "currency", "currency is required");
        if (f->amount.ptr != NULL)
            return field_error(e, MOPAY_ERR_field_missing, pointer, "currency", "an amount needs its currency");
        return true;
    }
    const struct mopay_currency *c = currency_read(&f->currency, e, pointer);
    if (c == NULL)
        return false;
    out->currency = c->numeric;
    if (f->amount.ptr == NULL) {
        if (!resolves)
            return field_error(e, MOPAY_ERR_field_missing, pointer, "amount", "amount is required");
        return true;
    }
    int64_t minor;
    enum mopay_err err = mopay_money_parse(f->amount.ptr, f->amount.len, c, 0, &minor);
    if (err != MOPAY_OK)
        return field_error(e, err, pointer, "amount", mopay_err_title(err));
    out->amount = (uint64_t)minor;
    return true;
}

/* The transfer's flags from the reader's strings. */
static bool transfer_flags_read(const struct transfer_fields *f, uint16_t *out, struct mopay_json_error *e,
                                const char *pointer)
{
    *out = 0;
    for (size_t j = 0; j < f->flags_count; j++)
        if (!flag_add(f->flags[j].ptr, j, transfer_flag_names, transfer_flag_bits, 4, out, e, pointer))
            return false;
    return true;
}

/* One checked item into a ledger event. */
static bool transfer_convert(const struct transfer_fields *f, struct mopay_ledger_transfer *out,
                             struct mopay_json_error *e, const char *pointer)
{
    memset(out, 0, sizeof(*out));
    if (!transfer_flags_read(f, &out->flags, e, pointer))
        return false;
    if (!id_read(&f->id, MOPAY_ID_TRANSFER, &out->id, true, e, pointer, "id") ||
        !id_read(&f->debit, MOPAY_ID_ACCOUNT, &out->debit_account_id, false, e, pointer, "debit_account_id") ||
        !id_read(&f->credit, MOPAY_ID_ACCOUNT, &out->credit_account_id, false, e, pointer, "credit_account_id") ||
        !id_read(&f->pending_id, MOPAY_ID_TRANSFER, &out->pending_id, false, e, pointer, "pending_id") ||
        !transfer_amount_read(f, out, e, pointer))
        return false;
    bool resolves = out->flags & (MOPAY_LEDGER_POST_PENDING | MOPAY_LEDGER_VOID_PENDING);
    if (!resolves && f->debit.ptr == NULL)
        return field_error(e, MOPAY_ERR_field_missing, pointer, "debit_account_id", "debit_account_id is required");
    if (!resolves && f->credit.ptr == NULL)
        return field_error(e, MOPAY_ERR_field_missing, pointer, "credit_account_id", "credit_account_id is required");
    out->code = (uint16_t)f->code;
    out->user_data = (uint64_t)f->user_data;
    out->timeout_s = (uint32_t)f->timeout_s;
    return true;
}

static enum mopay_err transfers_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    (void)store;
    struct ledger_batch *b = (struct ledger_batch *)cmd;
    struct mopay_api *api = cmd->app;
    mopay_ledger_service_create_transfers(api->ledger, b->events, b->count, now_ns, b->results);
    return MOPAY_OK;
}

static char *transfers_render_text(struct mopay_http_command *cmd, int *status, size_t *len)
{
    *status = 200;
    return results_render((struct ledger_batch *)cmd, sizeof(struct mopay_ledger_transfer), MOPAY_ID_TRANSFER, len);
}

static void reply_parse_error(struct mopay_http_request *req, const struct mopay_json_error *e)
{
    bool document = e->code == MOPAY_ERR_json_malformed || e->code == MOPAY_ERR_json_too_deep;
    mopay_http_reply_error(req, e->code, document ? NULL : e->pointer, "%s", e->detail);
}

/* The body is read without a JSON tree (transfers_parse.c), which is most of what this endpoint
 * costs; the outcome is the one the generic path would give, down to the error's pointer. */
void api_ledger_transfers_create(struct mopay_http_request *req)
{
    size_t len, count = 0;
    const char *body = mopay_http_raw_body(req, &len);
    struct mopay_arena *arena = mopay_http_arena(req);
    struct transfer_fields *fields =
        mopay_arena_alloc(arena, MOPAY_LEDGER_EVENTS_PER_COMMAND_MAX * sizeof(struct transfer_fields));
    char *scratch = mopay_arena_alloc(arena, len + 1);
    if (fields == NULL || scratch == NULL) {
        mopay_http_reply_error(req, MOPAY_ERR_body_too_large, NULL, "the batch does not fit in memory");
        return;
    }
    struct mopay_json_error parse_error;
    bool parsed = api_transfers_parse(body, len, fields, MOPAY_LEDGER_EVENTS_PER_COMMAND_MAX, &count, scratch,
                                      len + 1, &parse_error);
    if (!parsed && count == 0) {
        reply_parse_error(req, &parse_error);
        return;
    }
    struct ledger_batch *b =
        batch_new(req, count, sizeof(struct mopay_ledger_transfer), transfers_apply, transfers_render_text);
    if (b == NULL)
        return;
    b->base.render_on_loop = true; /* results and ids belong to the command: no shared state */
    struct mopay_ledger_transfer *events = b->events;
    struct mopay_json_error e;
    for (size_t i = 0; i < count; i++) { /* items are converted in order, as they were checked */
        char pointer[48];
        snprintf(pointer, sizeof(pointer), "/transfers/%zu", i);
        if (!transfer_convert(&fields[i], &events[i], &e, pointer)) {
            mopay_http_reply_error(req, e.code, e.pointer, "%s", e.detail);
            return;
        }
    }
    if (!parsed) {
        reply_parse_error(req, &parse_error);
        return;
    }
    mopay_http_submit(req, &b->base);
}

/* --- reads --- */

struct ledger_read {
    struct mopay_http_command base;
    struct mopay_id id;
    bool transfer;
};

static enum mopay_err read_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    (void)store;
    (void)now_ns;
    struct ledger_read *r = (struct ledger_read *)cmd;
    struct mopay_api *api = cmd->app;
    struct mopay_ledger *ledger = mopay_ledger_service_ledger(api->ledger);
    bool found = r->transfer ? mopay_ledger_transfer_get(ledger, &r->id) != NULL
                             : mopay_ledger_account_get(ledger, &r->id) != NULL;
    if (!found) {
        cmd->err_detail = r->transfer ? "no transfer has this id" : "no account has this id";
        return MOPAY_ERR_resource_not_found;
    }
    return MOPAY_OK;
}

static json_t *read_render(struct mopay_http_command *cmd, int *status)
{
    struct ledger_read *r = (struct ledger_read *)cmd;
    struct mopay_api *api = cmd->app;
    struct mopay_ledger *ledger = mopay_ledger_service_ledger(api->ledger);
    *status = 200;
    if (r->transfer)
        return transfer_json(ledger, mopay_ledger_transfer_get(ledger, &r->id));
    return account_json(mopay_ledger_account_get(ledger, &r->id));
}

static void ledger_get(struct mopay_http_request *req, enum mopay_id_kind kind)
{
    size_t len;
    const char *text = mopay_http_param(req, 0, &len);
    struct mopay_id id;
    if (mopay_id_parse(kind, text, len, &id) != MOPAY_OK) {
        mopay_http_reply_error(req, MOPAY_ERR_id_invalid, NULL, "expected %s_ and 32 lowercase hex digits",
                               mopay_id_prefix(kind));
        return;
    }
    struct ledger_read *r = mopay_http_command_new(req, sizeof(*r), read_apply, read_render);
    if (r == NULL) {
        mopay_http_reply_error(req, MOPAY_ERR_internal, NULL, "out of memory");
        return;
    }
    r->id = id;
    r->transfer = kind == MOPAY_ID_TRANSFER;
    mopay_http_submit(req, &r->base);
}

void api_ledger_account_get(struct mopay_http_request *req)
{
    ledger_get(req, MOPAY_ID_ACCOUNT);
}

void api_ledger_transfer_get(struct mopay_http_request *req)
{
    ledger_get(req, MOPAY_ID_TRANSFER);
}

static enum mopay_err check_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    (void)cmd;
    (void)store;
    (void)now_ns;
    return MOPAY_OK;
}

static json_t *check_render(struct mopay_http_command *cmd, int *status)
{
    struct mopay_api *api = cmd->app;
    struct mopay_ledger_check *check = malloc(sizeof(*check));
    MOPAY_ASSERT(check != NULL);
    mopay_ledger_check(mopay_ledger_service_ledger(api->ledger), check);
    json_t *currencies = json_array();
    for (size_t i = 0; i < check->currency_count; i++) {
        const struct mopay_currency *c = mopay_currency_by_numeric(check->currencies[i].currency);
        uint16_t code = check->currencies[i].currency;
        json_array_append_new(
            currencies,
            json_pack("{s:s, s:I, s:o, s:o, s:o, s:o}", "currency", c ? c->alpha : "???", "accounts",
                      (json_int_t)check->currencies[i].accounts, "debits_posted",
                      amount_json(check->currencies[i].debits_posted, code), "credits_posted",
                      amount_json(check->currencies[i].credits_posted, code), "debits_pending",
                      amount_json(check->currencies[i].debits_pending, code), "credits_pending",
                      amount_json(check->currencies[i].credits_pending, code)));
    }
    struct mopay_ledger *ledger = mopay_ledger_service_ledger(api->ledger);
    json_t *j = json_pack("{s:b, s:o, s:I, s:I, s:I}", "ok", check->ok, "currencies", currencies,
                          "accounts_breaking_flags", (json_int_t)check->accounts_breaking_flags, "accounts",
                          (json_int_t)mopay_ledger_account_count(ledger), "transfers",
                          (json_int_t)mopay_ledger_transfer_count(ledger));
    free(check);
    *status = 200;
    return j;
}

void api_ledger_check(struct mopay_http_request *req)
{
    struct mopay_http_command *cmd = mopay_http_command_new(req, sizeof(*cmd), check_apply, check_render);
    if (cmd == NULL) {
        mopay_http_reply_error(req, MOPAY_ERR_internal, NULL, "out of memory");
        return;
    }
    mopay_http_submit(req, cmd);
}
