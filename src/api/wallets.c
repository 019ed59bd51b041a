/* Wallets: open one per currency, list them, read one, and its history newest first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"

enum wallet_op { WALLET_OPEN, WALLET_LIST, WALLET_GET, WALLET_HISTORY };

struct wallet_cmd {
    struct mopay_http_command base;
    enum wallet_op op;
    struct mopay_str currency_text;
    const struct mopay_currency *currency;
    struct mopay_id id; /* the wallet (get, history) or the customer (an operator's list) */
    bool for_customer;
    struct mopay_customer *customer;
    struct mopay_wallet *wallet;
    size_t limit;
    int64_t before_at_ns;
    char before_id[MOPAY_ID_TEXT_BYTES];
    json_t *entries;
    bool more;
};

/* The wallet named in the path, when the principal may see it. */
static struct mopay_wallet *wallet_visible(struct mopay_api *api, const struct mopay_principal *p,
                                           const struct mopay_id *id)
{
    struct mopay_wallet *w = mopay_wallet_get(api->wallet, id);
    return w != NULL && api_customer_visible(api, p, &w->customer->id) != NULL ? w : NULL;
}

static bool entry_each(void *ctx, int64_t at_ns, const char *id, const char *json, size_t len)
{
    (void)id;
    struct wallet_cmd *w = ctx;
    json_t *entry = json_loadb(json, len, 0, NULL);
    MOPAY_ASSERT(entry != NULL); /* the domain wrote it */
    json_object_set_new(entry, "created_at", api_time_json(at_ns));
    json_object_set_new(entry, "cursor_at_ns", json_integer(at_ns));
    json_array_append_new(w->entries, entry);
    return true;
}

static enum mopay_err wallet_history(struct wallet_cmd *w, struct mopay_store *store)
{
    char owner[MOPAY_ID_TEXT_BYTES];
    mopay_id_format(MOPAY_ID_WALLET, &w->wallet->id, owner);
    w->entries = json_array();
    MOPAY_ASSERT(w->entries != NULL);
    return store->entries_page(store, owner, w->before_at_ns, w->before_id[0] != '\0' ? w->before_id : NULL, w->limit,
                               entry_each, w, &w->more);
}

static enum mopay_err wallet_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    struct wallet_cmd *w = (struct wallet_cmd *)cmd;
    struct mopay_api *api = cmd->app;
    const struct mopay_principal *p = mopay_http_principal(cmd->req);
    if (w->op == WALLET_OPEN || w->op == WALLET_LIST) {
        w->customer = w->for_customer ? api_customer_visible(api, p, &w->id) : api_principal_customer(api, p);
        if (w->customer == NULL) {
            cmd->err_detail = "no customer has this id";
            return MOPAY_ERR_resource_not_found;
        }
        if (w->op == WALLET_LIST)
            return MOPAY_OK;
        struct api_need need = {.wallets = 1}; /* and its ledger account */
        enum mopay_err err = api_admit(api, cmd, &need);
        if (err != MOPAY_OK)
            return err;
        return mopay_wallet_open(api->wallet, store, now_ns, w->customer, w->currency, &w->wallet);
    }
    if ((w->wallet = wallet_visible(api, p, &w->id)) == NULL) {
        cmd->err_detail = "no wallet has this id";
        return MOPAY_ERR_resource_not_found;
    }
    return w->op == WALLET_HISTORY ? wallet_history(w, store) : MOPAY_OK;
}

static json_t *history_json(struct wallet_cmd *w)
{
    json_t *next = json_null();
    size_t n = json_array_size(w->entries);
    if (w->more && n > 0) {
        json_t *last = json_array_get(w->entries, n - 1);
        char cursor[64];
        snprintf(cursor, sizeof(cursor), "%lld-%s", (long long)json_integer_value(json_object_get(last, "cursor_at_ns")),
                 json_string_value(json_object_get(last, "id")));
        next = json_string(cursor);
    }
    for (size_t i = 0; i < n; i++)
        json_object_del(json_array_get(w->entries, i), "cursor_at_ns");
    return json_pack("{s:o, s:o}", "data", w->entries, "next_cursor", next);
}

static json_t *wallet_render(struct mopay_http_command *cmd, int *status)
{
    struct wallet_cmd *w = (struct wallet_cmd *)cmd;
    struct mopay_api *api = cmd->app;
    int64_t now_ns = cmd->seq.applied_at_ns;
    *status = w->op == WALLET_OPEN ? 201 : 200;
    if (w->op == WALLET_HISTORY)
        return history_json(w);
    if (w->op != WALLET_LIST)
        return api_wallet_json(api, w->wallet, now_ns);
    json_t *data = json_array();
    for (size_t i = 0; i < w->customer->wallet_count; i++)
        json_array_append_new(data, api_wallet_json(api, w->customer->wallets[i], now_ns));
    return json_pack("{s:o, s:n}", "data", data, "next_cursor");
}

static struct wallet_cmd *wallet_cmd_new(struct mopay_http_request *req, enum wallet_op op)
{
    struct wallet_cmd *w = mopay_http_command_new(req, sizeof(*w), wallet_apply, wallet_render);
    if (w == NULL)
        api_reply_oom(req);
    else
        w->op = op;
    return w;
}

const struct mopay_json_field api_wallet_open_fields[] = {
    {.name = "currency", .kind = MOPAY_JSON_STRING, .required = true,
     .offset = offsetof(struct wallet_cmd, currency_text), .min_len = 1, .max_len = 8},
    {0},
};

void api_wallets_create(struct mopay_http_request *req)
{
    struct wallet_cmd *w = wallet_cmd_new(req, WALLET_OPEN);
    if (w == NULL || !mopay_http_json_read(req, mopay_http_body(req), api_wallet_open_fields, w))
        return;
    w->currency = mopay_currency_by_alpha(w->currency_text.ptr, w->currency_text.len);
    if (w->currency == NULL) {
        mopay_http_reply_error(req, MOPAY_ERR_currency_unknown, "/currency", "not an active ISO 4217 code");
        return;
    }
    mopay_http_submit(req, &w->base);
}

void api_wallets_list(struct mopay_http_request *req)
{
    struct wallet_cmd *w = wallet_cmd_new(req, WALLET_LIST);
    if (w == NULL)
        return;
    size_t len;
    bool malformed;
    const char *customer = mopay_http_query(req, "customer_id", &len, &malformed);
    if (api_is_operator(req) &&
        (customer == NULL || mopay_id_parse(MOPAY_ID_CUSTOMER, customer, len, &w->id) != MOPAY_OK)) {
        mopay_http_reply_error(req, MOPAY_ERR_query_invalid, NULL, "an operator names the customer: ?customer_id=cus_...");
        return;
    }
    w->for_customer = api_is_operator(req);
    mopay_http_submit(req, &w->base);
}

void api_wallet_get(struct mopay_http_request *req)
{
    struct wallet_cmd *w = wallet_cmd_new(req, WALLET_GET);
    if (w != NULL && api_path_id(req, 0, MOPAY_ID_WALLET, &w->id))
        mopay_http_submit(req, &w->base);
}

/* "<at_ns>-<id>", as history_json wrote it. */
static bool cursor_read(struct mopay_http_request *req, struct wallet_cmd *w)
{
    size_t len;
    bool malformed;
    const char *c = mopay_http_query(req, "cursor", &len, &malformed);
    if (c == NULL && !malformed)
        return true;
    const char *dash = c != NULL ? memchr(c, '-', len) : NULL;
    bool ok = dash != NULL && dash > c && dash - c <= 19;
    long long at = 0;
    for (const char *p = c; ok && p < dash; p++) {
        ok = *p >= '0' && *p <= '9' && at <= (INT64_MAX - 9) / 10;
        at = at * 10 + (*p - '0');
    }
    struct mopay_id id;
    size_t id_len = ok ? len - (size_t)(dash + 1 - c) : 0;
    static const enum mopay_id_kind kinds[] = {MOPAY_ID_TRANSFER, MOPAY_ID_TOPUP, MOPAY_ID_WITHDRAWAL,
                                               MOPAY_ID_PAYMENT, MOPAY_ID_REFUND};
    bool known = false;
    for (size_t i = 0; ok && !known && i < sizeof(kinds) / sizeof(kinds[0]); i++)
        known = mopay_id_parse(kinds[i], dash + 1, id_len, &id) == MOPAY_OK;
    ok = ok && known;
    if (!ok) {
        mopay_http_reply_error(req, MOPAY_ERR_query_invalid, NULL, "cursor must be a next_cursor this endpoint gave");
        return false;
    }
    w->before_at_ns = at;
    memcpy(w->before_id, dash + 1, id_len);
    w->before_id[id_len] = '\0';
    return true;
}

void api_wallet_history(struct mopay_http_request *req)
{
    struct wallet_cmd *w = wallet_cmd_new(req, WALLET_HISTORY);
    if (w != NULL && api_path_id(req, 0, MOPAY_ID_WALLET, &w->id) && api_limit_read(req, &w->limit) &&
        cursor_read(req, w))
        mopay_http_submit(req, &w->base);
}
