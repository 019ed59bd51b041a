#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/ledger_service.h"
#include "mopay/clock.h"
#include "mopay/log.h"

/* The route table: every endpoint mopay serves. */
static const struct mopay_route api_routes[] = {
    {"healthz", "GET", "/healthz", 0, 0, api_healthz},
    {"metrics", "GET", "/metrics", 0, 0, api_metrics},
    {"admin_keys_create", "POST", "/v1/admin-keys", MOPAY_PRINCIPAL_OPERATOR, 0, api_admin_keys_create},
    {"admin_keys_revoke", "DELETE", "/v1/admin-keys/{id}", MOPAY_PRINCIPAL_OPERATOR, 0, api_admin_keys_revoke},
    {"ledger_accounts_create", "POST", "/v1/ledger/accounts", MOPAY_PRINCIPAL_OPERATOR, MOPAY_ROUTE_BULK_BODY,
     api_ledger_accounts_create},
    {"ledger_transfers_create", "POST", "/v1/ledger/transfers", MOPAY_PRINCIPAL_OPERATOR,
     MOPAY_ROUTE_BULK_BODY | MOPAY_ROUTE_RAW_BODY, api_ledger_transfers_create},
    {"ledger_account_get", "GET", "/v1/ledger/accounts/{id}", MOPAY_PRINCIPAL_OPERATOR, 0, api_ledger_account_get},
    {"ledger_transfer_get", "GET", "/v1/ledger/transfers/{id}", MOPAY_PRINCIPAL_OPERATOR, 0,
     api_ledger_transfer_get},
    {"ledger_check", "GET", "/v1/ledger/check", MOPAY_PRINCIPAL_OPERATOR, 0, api_ledger_check},
};

static bool load_admin_key(void *ctx, const struct mopay_admin_key *key)
{
    struct mopay_api *api = ctx;
    struct mopay_principal p = {MOPAY_PRINCIPAL_OPERATOR, ""};
    snprintf(p.id, sizeof(p.id), "%s", key->id);
    return auth_insert(&api->auth, key->hash, &p, key->revoked_at_ns != 0);
}

struct mopay_api *mopay_api_new(struct mopay_store *store, const struct mopay_keys *keys,
                                const struct mopay_api_options *options, char *err, size_t err_cap)
{
    struct mopay_api *api = calloc(1, sizeof(*api));
    if (api == NULL) {
        snprintf(err, err_cap, "out of memory");
        return NULL;
    }
    api->keys = keys;
    api->backend = store->backend;
    auth_init(&api->auth);
    enum mopay_err e = store->admin_keys_load(store, load_admin_key, api);
    if (e != MOPAY_OK) {
        snprintf(err, err_cap, "loading admin keys: %s", mopay_err_code(e));
        goto fail;
    }
    api->ledger = mopay_ledger_service_new(&options->ledger_limits, options->check_invariants);
    if (api->ledger == NULL) {
        snprintf(err, err_cap, "cannot reserve memory for %u accounts and %u transfers",
                 options->ledger_limits.accounts_max, options->ledger_limits.transfers_max);
        goto fail;
    }
    int64_t t0 = mopay_clock_monotonic_ns();
    uint64_t records = 0;
    if (mopay_ledger_service_recover(api->ledger, store, &records, err, err_cap) != MOPAY_OK)
        goto fail;
    struct mopay_ledger *ledger = mopay_ledger_service_ledger(api->ledger);
    MOPAY_LOG_INFO("ledger recovered", "log_records=%llu accounts=%u transfers=%u ms=%lld",
                   (unsigned long long)records, mopay_ledger_account_count(ledger),
                   mopay_ledger_transfer_count(ledger), (long long)((mopay_clock_monotonic_ns() - t0) / 1000000));
    return api;
fail:
    mopay_api_free(api);
    return NULL;
}

void mopay_api_free(struct mopay_api *api)
{
    if (api == NULL)
        return;
    auth_deinit(&api->auth);
    mopay_ledger_service_free(api->ledger);
    free(api);
}

void mopay_api_http_config(struct mopay_api *api, struct mopay_http_config *config)
{
    config->routes = api_routes;
    config->route_count = sizeof(api_routes) / sizeof(api_routes[0]);
    config->authenticate = api_authenticate;
    config->auth_ctx = api;
    config->app = api;
    config->keys = api->keys;
}

static enum mopay_err api_tick(void *ctx, struct mopay_store *store, int64_t now_ns)
{
    struct mopay_api *api = ctx;
    enum mopay_err err = mopay_ledger_service_tick(api->ledger, store, now_ns);
    if (err != MOPAY_OK)
        return err;
    int64_t deleted = 0;
    int64_t before_ns = now_ns - (int64_t)MOPAY_IDEMPOTENCY_TTL_S * 1000000000;
    if (before_ns <= 0)
        return MOPAY_OK;
    err = store->idem_purge(store, before_ns, &deleted);
    if (err == MOPAY_OK && deleted > 0)
        MOPAY_LOG_DEBUG("expired idempotency records", "deleted=%lld", (long long)deleted);
    return err;
}

static enum mopay_err api_before_commit(void *ctx, struct mopay_store *store, int64_t now_ns)
{
    struct mopay_api *api = ctx;
    return mopay_ledger_service_before_commit(api->ledger, store, now_ns);
}

void mopay_api_seq_hooks(struct mopay_api *api, struct mopay_seq_hooks *hooks)
{
    *hooks = (struct mopay_seq_hooks){.ctx = api, .tick_interval_ns = MOPAY_API_TICK_INTERVAL_NS, .tick = api_tick,
                                      .before_commit = api_before_commit};
}

void mopay_api_attach(struct mopay_api *api, struct mopay_seq *seq, struct mopay_http_server *server)
{
    api->seq = seq;
    api->server = server;
}

enum mopay_err mopay_api_bootstrap_admin(struct mopay_store *store, const struct mopay_keys *keys, bool *created,
                                         char secret[MOPAY_ADMIN_KEY_SECRET_BYTES])
{
    *created = false;
    enum mopay_err err = store->begin(store);
    if (err != MOPAY_OK)
        return err;
    char value[8];
    bool found = false;
    if ((err = store->meta_get(store, "admin_bootstrapped", value, sizeof(value), &found)) != MOPAY_OK || found) {
        store->rollback(store);
        return err;
    }
    struct mopay_admin_key key;
    memset(&key, 0, sizeof(key));
    int64_t now = mopay_clock_now_ns();
    struct mopay_id id;
    mopay_id_new(now, &id);
    mopay_id_format(MOPAY_ID_ADMIN_KEY, &id, key.id);
    strcpy(key.name, "initial");
    key.created_at_ns = now;
    admin_key_make(keys, secret, key.hash);
    if ((err = store->admin_key_insert(store, &key)) != MOPAY_OK ||
        (err = store->meta_put(store, "admin_bootstrapped", "1")) != MOPAY_OK ||
        (err = store->commit(store)) != MOPAY_OK) {
        store->rollback(store);
        sodium_memzero(secret, MOPAY_ADMIN_KEY_SECRET_BYTES);
        return err;
    }
    *created = true;
    return MOPAY_OK;
}
