/* POST /v1/admin-keys and DELETE /v1/admin-keys/{id}: operator keys. A key is shown once, in
 * the reply that creates it; the store keeps only its keyed hash. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/clock.h"

void admin_key_make(const struct mopay_keys *keys, char secret[MOPAY_ADMIN_KEY_SECRET_BYTES], uint8_t hash[32])
{
    uint8_t raw[32];
    randombytes_buf(raw, sizeof(raw));
    memcpy(secret, "ak_", 3);
    sodium_bin2hex(secret + 3, MOPAY_ADMIN_KEY_SECRET_BYTES - 3, raw, sizeof(raw));
    sodium_memzero(raw, sizeof(raw));
    mopay_keys_hash_secret(keys, secret, strlen(secret), hash);
}

struct admin_key_create {
    struct mopay_http_command base;
    struct mopay_str name;
    struct mopay_admin_key key;
    char secret[MOPAY_ADMIN_KEY_SECRET_BYTES];
};

static enum mopay_err admin_key_create_apply(struct mopay_http_command *cmd, struct mopay_store *store,
                                             int64_t now_ns)
{
    struct admin_key_create *c = (struct admin_key_create *)cmd;
    struct mopay_api *api = cmd->app;
    struct mopay_id id;
    mopay_id_new(now_ns, &id);
    mopay_id_format(MOPAY_ID_ADMIN_KEY, &id, c->key.id);
    memcpy(c->key.name, c->name.ptr, c->name.len + 1);
    c->key.created_at_ns = now_ns;
    admin_key_make(api->keys, c->secret, c->key.hash);
    struct mopay_principal p = {MOPAY_PRINCIPAL_OPERATOR, ""};
    strcpy(p.id, c->key.id);
    if (!auth_insert(&api->auth, c->key.hash, &p, false)) {
        cmd->err_detail = "at most 1024 admin keys, live or revoked";
        return MOPAY_ERR_field_invalid;
    }
    return store->admin_key_insert(store, &c->key);
}

static json_t *admin_key_create_render(struct mopay_http_command *cmd, int *status)
{
    struct admin_key_create *c = (struct admin_key_create *)cmd;
    char created[MOPAY_TIME_TEXT_BYTES];
    mopay_time_format(c->key.created_at_ns, created);
    *status = 201;
    json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "id", c->key.id, "name", c->key.name, "key", c->secret,
                             "created_at", created);
    sodium_memzero(c->secret, sizeof(c->secret));
    return body;
}

const struct mopay_json_field api_admin_key_create_fields[] = {
    {.name = "name", .kind = MOPAY_JSON_STRING, .required = true, .offset = offsetof(struct admin_key_create, name),
     .min_len = 1, .max_len = MOPAY_ADMIN_KEY_NAME_BYTES_MAX},
    {0},
};

void api_admin_keys_create(struct mopay_http_request *req)
{
    struct admin_key_create *c =
        mopay_http_command_new(req, sizeof(*c), admin_key_create_apply, admin_key_create_render);
    if (c == NULL) {
        mopay_http_reply_error(req, MOPAY_ERR_internal, NULL, "out of memory");
        return;
    }
    if (!mopay_http_json_read(req, mopay_http_body(req), api_admin_key_create_fields, c))
        return;
    mopay_http_submit(req, &c->base);
}

struct admin_key_revoke {
    struct mopay_http_command base;
    char id[MOPAY_ID_TEXT_BYTES];
    int64_t revoked_at_ns;
};

static enum mopay_err admin_key_revoke_apply(struct mopay_http_command *cmd, struct mopay_store *store,
                                             int64_t now_ns)
{
    struct admin_key_revoke *c = (struct admin_key_revoke *)cmd;
    struct mopay_api *api = cmd->app;
    if (!auth_is_live(&api->auth, c->id)) {
        cmd->err_detail = "no live admin key has this id";
        return MOPAY_ERR_resource_not_found;
    }
    if (auth_live_count(&api->auth, MOPAY_PRINCIPAL_OPERATOR) <= 1) {
        cmd->err_detail = "create another admin key first";
        return MOPAY_ERR_admin_key_last;
    }
    bool found = false;
    enum mopay_err err = store->admin_key_revoke(store, c->id, now_ns, &found);
    if (err != MOPAY_OK)
        return err;
    MOPAY_ASSERT(found); /* the store and memory agree on which keys are live */
    bool revoked = auth_revoke(&api->auth, c->id);
    MOPAY_ASSERT(revoked);
    c->revoked_at_ns = now_ns;
    return MOPAY_OK;
}

static json_t *admin_key_revoke_render(struct mopay_http_command *cmd, int *status)
{
    struct admin_key_revoke *c = (struct admin_key_revoke *)cmd;
    char revoked[MOPAY_TIME_TEXT_BYTES];
    mopay_time_format(c->revoked_at_ns, revoked);
    *status = 200;
    return json_pack("{s:s, s:s}", "id", c->id, "revoked_at", revoked);
}

void api_admin_keys_revoke(struct mopay_http_request *req)
{
    size_t len;
    const char *id = mopay_http_param(req, 0, &len);
    struct mopay_id parsed;
    if (mopay_id_parse(MOPAY_ID_ADMIN_KEY, id, len, &parsed) != MOPAY_OK) {
        mopay_http_reply_error(req, MOPAY_ERR_id_invalid, NULL, "expected adk_ and 32 lowercase hex digits");
        return;
    }
    struct admin_key_revoke *c =
        mopay_http_command_new(req, sizeof(*c), admin_key_revoke_apply, admin_key_revoke_render);
    if (c == NULL) {
        mopay_http_reply_error(req, MOPAY_ERR_internal, NULL, "out of memory");
        return;
    }
    memcpy(c->id, id, len + 1);
    mopay_http_submit(req, &c->base);
}
