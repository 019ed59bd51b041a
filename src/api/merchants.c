/* Merchants (operator-created), their API keys, and their orders. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/validate.h"

/* A new merchant API key and its keyed hash, made on the loop (randomness is not the domain's). */
static void merchant_key_make(const struct mopay_keys *keys, char key[MOPAY_MERCHANT_KEY_BYTES], uint8_t hash[32])
{
    uint8_t raw[32];
    randombytes_buf(raw, sizeof(raw));
    memcpy(key, "sk_", 3);
    sodium_bin2hex(key + 3, MOPAY_MERCHANT_KEY_BYTES - 3, raw, sizeof(raw));
    sodium_memzero(raw, sizeof(raw));
    mopay_keys_hash_secret(keys, key, strlen(key), hash);
}

static json_t *merchant_json(const struct mopay_merchant *m)
{
    json_t *keys = json_array();
    for (size_t i = 0; i < m->key_count; i++)
        json_array_append_new(keys, json_pack("{s:s, s:s, s:o, s:o}", "last4", m->keys[i].last4, "status",
                                              m->keys[i].revoked_at_ns != 0 ? "revoked" : "active", "created_at",
                                              api_time_json(m->keys[i].created_at_ns), "revoked_at",
                                              api_time_json(m->keys[i].revoked_at_ns)));
    return json_pack("{s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:o, s:o}", "id",
                     api_id_json(MOPAY_ID_MERCHANT, &m->id), "kind", m->kind == MOPAY_MERCHANT_BILLER ? "biller" : "merchant",
                     "name", m->name, "mcc", m->mcc, "country", m->country,
                     "city", m->city, "currency", m->currency->alpha, "fee_bps", m->fee_bps, "settlement_account",
                     m->settlement_account, "webhook_url", m->webhook_url, "api_keys", keys, "created_at",
                     api_time_json(m->created_at_ns));
}

struct mopay_merchant *api_merchant_visible(struct mopay_api *api, const struct mopay_principal *p,
                                            const struct mopay_id *id)
{
    struct mopay_merchant *m = mopay_merchant_get(api->merchant, id);
    if (m == NULL || p->kind == MOPAY_PRINCIPAL_OPERATOR)
        return m;
    char mine[MOPAY_ID_TEXT_BYTES];
    mopay_id_format(MOPAY_ID_MERCHANT, &m->id, mine);
    return p->kind == MOPAY_PRINCIPAL_MERCHANT && strcmp(p->id, mine) == 0 ? m : NULL;
}

struct mopay_merchant *api_principal_merchant(struct mopay_api *api, const struct mopay_principal *p)
{
    struct mopay_id id;
    if (p->kind != MOPAY_PRINCIPAL_MERCHANT || mopay_id_parse(MOPAY_ID_MERCHANT, p->id, strlen(p->id), &id) != MOPAY_OK)
        return NULL;
    return mopay_merchant_get(api->merchant, &id);
}

/* --- POST /v1/merchants --- */

struct merchant_create {
    struct mopay_http_command base;
    struct mopay_str name, mcc, country, city, currency, settlement, webhook_url;
    int64_t fee_bps;
    struct mopay_merchant_input in;
    struct mopay_merchant *made;
    struct mopay_webhook_target target;
    enum mopay_err resolved;
    const char *why;
};

/* On the worker pool: the name's addresses now (getaddrinfo blocks). */
static void merchant_url_resolve(void *arg)
{
    struct merchant_create *c = arg;
    struct mopay_api *api = c->base.app;
    struct sockaddr_storage addrs[MOPAY_WEBHOOK_ADDRS_MAX];
    size_t count;
    c->resolved = mopay_webhook_resolve(&c->target, &api->webhook_policy, addrs, &count, &c->why);
}

/* Back on the loop: a name that resolves to an address refused is refused; one that does not
 * resolve yet is taken (each delivery checks again). */
static void merchant_url_resolved(struct mopay_http_request *req, void *arg)
{
    struct merchant_create *c = arg;
    if (c->resolved == MOPAY_ERR_url_forbidden) {
        mopay_http_reply_error(req, MOPAY_ERR_url_forbidden, "/webhook_url", c->why);
        return;
    }
    mopay_http_submit(req, &c->base);
}

static enum mopay_err merchant_create_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    struct merchant_create *c = (struct merchant_create *)cmd;
    struct mopay_api *api = cmd->app;
    struct api_need need = {.merchants = 1}; /* and its ledger account */
    enum mopay_err err = api_admit(api, cmd, &need);
    if (err != MOPAY_OK)
        return err;
    return mopay_merchant_create(api->merchant, store, now_ns, &c->in, &c->made);
}

static json_t *merchant_create_render(struct mopay_http_command *cmd, int *status)
{
    struct merchant_create *c = (struct merchant_create *)cmd;
    char secret[MOPAY_WEBHOOK_SECRET_TEXT_BYTES]; /* this command's, even if a later one rotated it */
    mopay_merchant_webhook_secret_format(c->in.webhook_secret, secret);
    json_t *j = json_pack("{s:o, s:s, s:s}", "merchant", merchant_json(c->made), "api_key", c->in.key,
                          "webhook_secret", secret);
    sodium_memzero(secret, sizeof(secret));
    sodium_memzero(c->in.key, sizeof(c->in.key));
    sodium_memzero(c->in.webhook_secret, sizeof(c->in.webhook_secret));
    *status = 201;
    return j;
}

#define MC(m) offsetof(struct merchant_create, m)
const struct mopay_json_field api_merchant_fields[] = {
    {.name = "name", .kind = MOPAY_JSON_STRING, .required = true, .offset = MC(name), .min_len = 1,
     .max_len = MOPAY_MERCHANT_NAME_BYTES_MAX},
    {.name = "mcc", .kind = MOPAY_JSON_STRING, .required = true, .offset = MC(mcc), .min_len = 4, .max_len = 4},
    {.name = "country", .kind = MOPAY_JSON_STRING, .required = true, .offset = MC(country), .min_len = 1,
     .max_len = 8},
    {.name = "city", .kind = MOPAY_JSON_STRING, .required = true, .offset = MC(city), .min_len = 1,
     .max_len = MOPAY_MERCHANT_CITY_BYTES_MAX},
    {.name = "currency", .kind = MOPAY_JSON_STRING, .required = true, .offset = MC(currency), .min_len = 1,
     .max_len = 8},
    {.name = "fee_bps", .kind = MOPAY_JSON_INTEGER, .required = true, .offset = MC(fee_bps), .min = 0,
     .max = MOPAY_FEE_BPS_MAX},
    {.name = "settlement_account", .kind = MOPAY_JSON_STRING, .required = true, .offset = MC(settlement),
     .min_len = 1, .max_len = 63},
    {.name = "webhook_url", .kind = MOPAY_JSON_STRING, .offset = MC(webhook_url), .max_len = MOPAY_URL_BYTES_MAX},
    {0},
};

/* Whether a webhook URL may be set: its form, and the address it names when it is one. A name
 * is resolved after this, off the loop (merchant_url_resolve). */
bool api_url_ok(struct mopay_http_request *req, const struct mopay_str *url, struct mopay_webhook_target *target)
{
    struct mopay_api *api = mopay_http_app(req);
    const char *why = "";
    enum mopay_err err = mopay_webhook_url_check(url->ptr, url->len, &api->webhook_policy, target, &why);
    if (err != MOPAY_OK)
        mopay_http_reply_error(req, err, "/webhook_url", why);
    return err == MOPAY_OK;
}

static bool merchant_check(struct mopay_http_request *req, struct merchant_create *c)
{
    bool mcc = true;
    for (size_t i = 0; i < 4; i++)
        mcc &= c->mcc.ptr[i] >= '0' && c->mcc.ptr[i] <= '9';
    if (!mcc) {
        mopay_http_reply_error(req, MOPAY_ERR_field_invalid, "/mcc", "a merchant category code is four digits");
        return false;
    }
    if (!mopay_country_valid(c->country.ptr, c->country.len)) {
        mopay_http_reply_error(req, MOPAY_ERR_country_unknown, "/country", "expected ISO 3166-1 alpha-2");
        return false;
    }
    if ((c->in.currency = mopay_currency_by_alpha(c->currency.ptr, c->currency.len)) == NULL) {
        mopay_http_reply_error(req, MOPAY_ERR_currency_unknown, "/currency", "not an active ISO 4217 code");
        return false;
    }
    if (c->webhook_url.len > 0 && !api_url_ok(req, &c->webhook_url, &c->target))
        return false;
    return api_text_ok(req, &c->name, "/name") && api_text_ok(req, &c->city, "/city") &&
           api_text_ok(req, &c->settlement, "/settlement_account");
}

static void merchant_create(struct mopay_http_request *req, enum mopay_merchant_kind kind)
{
    struct merchant_create *c = mopay_http_command_new(req, sizeof(*c), merchant_create_apply, merchant_create_render);
    if (c == NULL) {
        api_reply_oom(req);
        return;
    }
    if (!mopay_http_json_read(req, mopay_http_body(req), api_merchant_fields, c) || !merchant_check(req, c))
        return;
    struct mopay_api *api = mopay_http_app(req);
    c->in = (struct mopay_merchant_input){.kind = kind, .name = c->name.ptr, .mcc = c->mcc.ptr, .country = c->country.ptr,
                                          .city = c->city.ptr, .currency = c->in.currency, .fee_bps = (int)c->fee_bps,
                                          .settlement_account = c->settlement.ptr,
                                          .webhook_url = c->webhook_url.ptr != NULL ? c->webhook_url.ptr : ""};
    randombytes_buf(c->in.webhook_secret, sizeof(c->in.webhook_secret));
    merchant_key_make(api->keys, c->in.key, c->in.key_hash);
    if (c->webhook_url.len > 0 && !c->target.literal)
        mopay_http_offload(req, merchant_url_resolve, merchant_url_resolved, c);
    else
        mopay_http_submit(req, &c->base);
}

void api_merchants_create(struct mopay_http_request *req)
{
    merchant_create(req, MOPAY_MERCHANT_SHOP);
}

/* A biller is a merchant that takes bill payments (a utility, a phone company). */
void api_billers_create(struct mopay_http_request *req)
{
    merchant_create(req, MOPAY_MERCHANT_BILLER);
}

/* --- GET /v1/merchants/{id}, POST /v1/merchants/{id}/api-keys --- */

struct merchant_cmd {
    struct mopay_http_command base;
    struct mopay_id id;
    bool rotate, revoke_others;
    char key[MOPAY_MERCHANT_KEY_BYTES];
    uint8_t hash[32];
    bool rotate_secret;
    uint8_t secret[MOPAY_WEBHOOK_SECRET_BYTES];
    struct mopay_merchant *merchant;
};

/* The merchant's new webhook secret; from now on every event of its (those already queued
 * too) is signed with it. */
static enum mopay_err merchant_secret_rotate(struct mopay_api *api, struct mopay_store *store, int64_t now_ns,
                                             struct merchant_cmd *c)
{
    char id[MOPAY_ID_TEXT_BYTES];
    uint8_t key[MOPAY_WEBHOOK_SECRET_TEXT_BYTES];
    mopay_id_format(MOPAY_ID_MERCHANT, &c->merchant->id, id);
    enum mopay_err err = mopay_merchant_webhook_secret_set(api->merchant, store, now_ns, c->merchant, c->secret);
    size_t key_len = mopay_merchant_webhook_key(c->merchant, key);
    if (err == MOPAY_OK)
        err = mopay_outbox_rekey(api->outbox, now_ns, id, key, key_len);
    sodium_memzero(key, sizeof(key));
    return err; /* c->secret stays for the render, which wipes it */
}

static enum mopay_err merchant_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    struct merchant_cmd *c = (struct merchant_cmd *)cmd;
    struct mopay_api *api = cmd->app;
    c->merchant = api_merchant_visible(api, mopay_http_principal(cmd->req), &c->id);
    if (c->merchant == NULL) {
        cmd->err_detail = "no merchant has this id";
        return MOPAY_ERR_resource_not_found;
    }
    if (c->rotate_secret)
        return merchant_secret_rotate(api, store, now_ns, c);
    if (!c->rotate)
        return MOPAY_OK;
    return mopay_merchant_key_add(api->merchant, store, now_ns, c->merchant, c->key, c->hash, c->revoke_others);
}

static json_t *merchant_render(struct mopay_http_command *cmd, int *status)
{
    struct merchant_cmd *c = (struct merchant_cmd *)cmd;
    *status = c->rotate || c->rotate_secret ? 201 : 200;
    if (c->rotate_secret) { /* this command's secret, even if a later one in the batch rotated again */
        char secret[MOPAY_WEBHOOK_SECRET_TEXT_BYTES];
        mopay_merchant_webhook_secret_format(c->secret, secret);
        json_t *j = json_pack("{s:o, s:s}", "merchant", merchant_json(c->merchant), "webhook_secret", secret);
        sodium_memzero(secret, sizeof(secret));
        sodium_memzero(c->secret, sizeof(c->secret));
        return j;
    }
    if (!c->rotate)
        return merchant_json(c->merchant);
    json_t *j = json_pack("{s:o, s:s}", "merchant", merchant_json(c->merchant), "api_key", c->key);
    sodium_memzero(c->key, sizeof(c->key));
    return j;
}

static struct merchant_cmd *merchant_cmd_new(struct mopay_http_request *req)
{
    struct merchant_cmd *c = mopay_http_command_new(req, sizeof(*c), merchant_apply, merchant_render);
    if (c == NULL)
        api_reply_oom(req);
    return c != NULL && api_path_id(req, 0, MOPAY_ID_MERCHANT, &c->id) ? c : NULL;
}

void api_merchant_get(struct mopay_http_request *req)
{
    struct merchant_cmd *c = merchant_cmd_new(req);
    if (c != NULL)
        mopay_http_submit(req, &c->base);
}

const struct mopay_json_field api_merchant_key_fields[] = {
    {.name = "revoke_others", .kind = MOPAY_JSON_BOOL, .offset = offsetof(struct merchant_cmd, revoke_others)},
    {0},
};

void api_merchant_keys_create(struct mopay_http_request *req)
{
    struct merchant_cmd *c = merchant_cmd_new(req);
    json_t *body = mopay_http_body(req);
    if (c == NULL || (body != NULL && !mopay_http_json_read(req, body, api_merchant_key_fields, c)))
        return;
    c->rotate = true;
    merchant_key_make(((struct mopay_api *)mopay_http_app(req))->keys, c->key, c->hash);
    mopay_http_submit(req, &c->base);
}

/* --- POST /v1/merchants/{id}/webhook-secret --- */

void api_merchant_webhook_secret_rotate(struct mopay_http_request *req)
{
    struct merchant_cmd *c = merchant_cmd_new(req);
    if (c == NULL)
        return;
    c->rotate_secret = true;
    randombytes_buf(c->secret, sizeof(c->secret));
    mopay_http_submit(req, &c->base);
}
