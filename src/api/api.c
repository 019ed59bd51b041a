#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/journal.h"
#include "mopay/ledger_service.h"
#include "mopay/clock.h"
#include "mopay/log.h"

#define OPERATOR_OR_CUSTOMER (MOPAY_PRINCIPAL_OPERATOR | MOPAY_PRINCIPAL_CUSTOMER)
#define OPERATOR_OR_MERCHANT (MOPAY_PRINCIPAL_OPERATOR | MOPAY_PRINCIPAL_MERCHANT)
#define MERCHANT_OR_CUSTOMER (MOPAY_PRINCIPAL_MERCHANT | MOPAY_PRINCIPAL_CUSTOMER)
#define ANYONE_SIGNED_IN (MOPAY_PRINCIPAL_OPERATOR | MOPAY_PRINCIPAL_MERCHANT | MOPAY_PRINCIPAL_CUSTOMER)

/* The route table: every endpoint mopay serves. */
static const struct mopay_route api_routes[] = {
    {"healthz", "GET", "/healthz", 0, 0, api_healthz, NULL},
    {"metrics", "GET", "/metrics", MOPAY_PRINCIPAL_OPERATOR, MOPAY_ROUTE_METRICS, api_metrics, NULL},
    {"admin_keys_create", "POST", "/v1/admin-keys", MOPAY_PRINCIPAL_OPERATOR, 0,
     api_admin_keys_create, api_admin_key_create_fields},
    {"admin_keys_revoke", "DELETE", "/v1/admin-keys/{id}", MOPAY_PRINCIPAL_OPERATOR, 0, api_admin_keys_revoke, NULL},
    {"ledger_accounts_create", "POST", "/v1/ledger/accounts", MOPAY_PRINCIPAL_OPERATOR, MOPAY_ROUTE_BULK_BODY,
     api_ledger_accounts_create, api_ledger_account_fields},
    {"ledger_transfers_create", "POST", "/v1/ledger/transfers", MOPAY_PRINCIPAL_OPERATOR,
     MOPAY_ROUTE_BULK_BODY | MOPAY_ROUTE_RAW_BODY, api_ledger_transfers_create, api_ledger_transfers_fields},
    {"ledger_account_get", "GET", "/v1/ledger/accounts/{id}", MOPAY_PRINCIPAL_OPERATOR, 0,
     api_ledger_account_get, NULL},
    {"ledger_transfer_get", "GET", "/v1/ledger/transfers/{id}", MOPAY_PRINCIPAL_OPERATOR, 0,
     api_ledger_transfer_get, NULL},
    {"ledger_check", "GET", "/v1/ledger/check", MOPAY_PRINCIPAL_OPERATOR, 0, api_ledger_check, NULL},
    {"customers_create", "POST", "/v1/customers", 0, 0, api_customers_create, api_signup_fields},
    {"customer_get", "GET", "/v1/customers/{id}", OPERATOR_OR_CUSTOMER, 0, api_customer_get, NULL},
    {"customer_trust", "GET", "/v1/customers/{id}/trust", OPERATOR_OR_CUSTOMER, 0, api_customer_trust, NULL},
    {"customer_kyc", "POST", "/v1/customers/{id}/kyc", MOPAY_PRINCIPAL_OPERATOR, 0, api_customer_kyc, api_kyc_fields},
    {"customer_freeze", "POST", "/v1/customers/{id}/freeze", MOPAY_PRINCIPAL_OPERATOR, 0,
     api_customer_freeze, api_freeze_fields},
    {"customer_unfreeze", "POST", "/v1/customers/{id}/unfreeze", MOPAY_PRINCIPAL_OPERATOR, 0,
     api_customer_unfreeze, api_freeze_fields},
    {"devices_create", "POST", "/v1/customers/{id}/devices", OPERATOR_OR_CUSTOMER, 0,
     api_devices_create, api_device_fields},
    {"device_revoke", "DELETE", "/v1/devices/{id}", OPERATOR_OR_CUSTOMER, 0, api_device_revoke, NULL},
    {"sessions_create", "POST", "/v1/sessions", 0, MOPAY_ROUTE_NO_REPLAY, api_sessions_create, api_session_fields},
    {"wallets_create", "POST", "/v1/wallets", MOPAY_PRINCIPAL_CUSTOMER, 0, api_wallets_create, api_wallet_open_fields},
    {"wallets_list", "GET", "/v1/wallets", OPERATOR_OR_CUSTOMER, 0, api_wallets_list, NULL},
    {"wallet_get", "GET", "/v1/wallets/{id}", OPERATOR_OR_CUSTOMER, 0, api_wallet_get, NULL},
    {"wallet_history", "GET", "/v1/wallets/{id}/transactions", OPERATOR_OR_CUSTOMER, 0, api_wallet_history, NULL},
    {"sources_create", "POST", "/v1/funding-sources", MOPAY_PRINCIPAL_CUSTOMER, 0,
     api_sources_create, api_source_fields},
    {"sources_list", "GET", "/v1/funding-sources", MOPAY_PRINCIPAL_CUSTOMER, 0, api_sources_list, NULL},
    {"source_lost", "POST", "/v1/funding-sources/{id}/lost", OPERATOR_OR_CUSTOMER, MOPAY_ROUTE_NO_BODY,
     api_source_lost, NULL},
    {"topups_create", "POST", "/v1/topups", MOPAY_PRINCIPAL_CUSTOMER, 0, api_topups_create, api_movement_fields},
    {"topup_get", "GET", "/v1/topups/{id}", OPERATOR_OR_CUSTOMER, 0, api_topup_get, NULL},
    {"withdrawals_create", "POST", "/v1/withdrawals", MOPAY_PRINCIPAL_CUSTOMER, 0,
     api_withdrawals_create, api_movement_fields},
    {"withdrawal_get", "GET", "/v1/withdrawals/{id}", OPERATOR_OR_CUSTOMER, 0, api_withdrawal_get, NULL},
    {"p2p_create", "POST", "/v1/transfers", MOPAY_PRINCIPAL_CUSTOMER, 0, api_p2p_create, api_p2p_fields},
    {"test_clock_advance", "POST", "/v1/test-clock/advance", MOPAY_PRINCIPAL_OPERATOR, 0,
     api_test_clock_advance, api_clock_advance_fields},
    {"nfc_keys_create", "POST", "/v1/devices/{id}/nfc-keys", OPERATOR_OR_CUSTOMER, 0,
     api_nfc_keys_create, api_nfc_key_fields},
    {"merchants_create", "POST", "/v1/merchants", MOPAY_PRINCIPAL_OPERATOR, 0,
     api_merchants_create, api_merchant_fields},
    {"merchant_get", "GET", "/v1/merchants/{id}", OPERATOR_OR_MERCHANT, 0, api_merchant_get, NULL},
    {"merchant_keys_create", "POST", "/v1/merchants/{id}/api-keys", OPERATOR_OR_MERCHANT, 0,
     api_merchant_keys_create, api_merchant_key_fields},
    {"merchant_qr", "GET", "/v1/merchants/{id}/qr", OPERATOR_OR_MERCHANT, 0, api_merchant_qr_get, NULL},
    {"merchant_webhook_secret_rotate", "POST", "/v1/merchants/{id}/webhook-secret", OPERATOR_OR_MERCHANT,
     MOPAY_ROUTE_NO_BODY, api_merchant_webhook_secret_rotate, NULL},
    {"orders_create", "POST", "/v1/orders", MOPAY_PRINCIPAL_MERCHANT, 0, api_orders_create, api_order_fields},
    {"order_get", "GET", "/v1/orders/{id}", ANYONE_SIGNED_IN, 0, api_order_get, NULL},
    {"payments_create", "POST", "/v1/payments", MERCHANT_OR_CUSTOMER, 0, api_payments_create, api_payment_fields},
    {"payment_get", "GET", "/v1/payments/{id}", ANYONE_SIGNED_IN, 0, api_payment_get, NULL},
    {"payment_confirm", "POST", "/v1/payments/{id}/confirm", MOPAY_PRINCIPAL_CUSTOMER, 0,
     api_payment_confirm, api_confirm_fields},
    {"refunds_create", "POST", "/v1/refunds", MOPAY_PRINCIPAL_MERCHANT, 0, api_refunds_create, api_refund_fields},
    {"refund_get", "GET", "/v1/refunds/{id}", ANYONE_SIGNED_IN, 0, api_refund_get, NULL},
    {"offers_create", "POST", "/v1/offers", OPERATOR_OR_MERCHANT, 0, api_offers_create, api_offer_fields},
    {"offer_get", "GET", "/v1/offers/{id}", ANYONE_SIGNED_IN, 0, api_offer_get, NULL},
    {"offer_claim", "POST", "/v1/offers/{id}/claim", MOPAY_PRINCIPAL_CUSTOMER, MOPAY_ROUTE_NO_BODY,
     api_offer_claim, NULL},
    {"coupons_list", "GET", "/v1/coupons", MOPAY_PRINCIPAL_CUSTOMER, 0, api_coupons_list, NULL},
    {"billers_create", "POST", "/v1/billers", MOPAY_PRINCIPAL_OPERATOR, 0, api_billers_create, api_merchant_fields},
    {"bills_create", "POST", "/v1/bills", OPERATOR_OR_MERCHANT, 0, api_bills_create, api_bill_fields},
    {"bills_find", "GET", "/v1/bills", ANYONE_SIGNED_IN, 0, api_bills_find, NULL},
    {"bill_payments_create", "POST", "/v1/bill-payments", MOPAY_PRINCIPAL_CUSTOMER, 0,
     api_bill_payments_create, api_bill_pay_fields},
    {"fx_rates_put", "PUT", "/v1/fx/rates", MOPAY_PRINCIPAL_OPERATOR, 0, api_fx_rates_put, api_fx_rates_fields},
    {"fx_rates_list", "GET", "/v1/fx/rates", ANYONE_SIGNED_IN, 0, api_fx_rates_list, NULL},
    {"fx_quotes_create", "POST", "/v1/fx/quotes", MOPAY_PRINCIPAL_CUSTOMER, 0,
     api_fx_quotes_create, api_fx_quote_fields},
    {"fx_quote_get", "GET", "/v1/fx/quotes/{id}", OPERATOR_OR_CUSTOMER, 0, api_fx_quote_get, NULL},
    {"risk_reviews_list", "GET", "/v1/risk/reviews", MOPAY_PRINCIPAL_OPERATOR, 0, api_risk_reviews_list, NULL},
    {"risk_guessing_list", "GET", "/v1/risk/guessing", MOPAY_PRINCIPAL_OPERATOR, 0, api_risk_guessing_list, NULL},
    {"risk_review_label", "POST", "/v1/risk/reviews/{id}", MOPAY_PRINCIPAL_OPERATOR, 0,
     api_risk_review_label, api_review_label_fields},
    {"risk_block", "POST", "/v1/risk/blocklist", MOPAY_PRINCIPAL_OPERATOR, 0, api_risk_block, api_block_fields},
    {"risk_unblock", "POST", "/v1/risk/blocklist/remove", MOPAY_PRINCIPAL_OPERATOR, 0,
     api_risk_unblock, api_block_fields},
    {"tax_refunds_create", "POST", "/v1/tax-refunds", MOPAY_PRINCIPAL_CUSTOMER, 0,
     api_tax_refunds_create, api_tax_refund_fields},
    {"tax_refund_get", "GET", "/v1/tax-refunds/{id}", OPERATOR_OR_CUSTOMER, 0, api_tax_refund_get, NULL},
    {"tax_refund_validate", "POST", "/v1/tax-refunds/{id}/validate", MOPAY_PRINCIPAL_OPERATOR, MOPAY_ROUTE_NO_BODY,
     api_tax_refund_validate, NULL},
};

static bool load_admin_key(void *ctx, const struct mopay_admin_key *key)
{
    struct mopay_api *api = ctx;
    struct mopay_principal p = {MOPAY_PRINCIPAL_OPERATOR, ""};
    snprintf(p.id, sizeof(p.id), "%s", key->id);
    return auth_insert(&api->auth, key->hash, &p, key->revoked_at_ns != 0);
}

/* The consumers' side: the network connector and the wallet state (api_recover fills it). */
static bool api_wallet_start(struct mopay_api *api, const struct mopay_api_options *options, char *err,
                             size_t err_cap)
{
    struct mopay_connector_sim_options sim = {.callback_delay_s = options->sim_callback_delay_s};
    api->connector = mopay_connector_sim_new(&sim);
    if (api->connector == NULL) {
        snprintf(err, err_cap, "cannot start the network simulator");
        return false;
    }
    if (options->session_ttl_s < 1 || options->topup_pending_ttl_s < 1) {
        snprintf(err, err_cap, "session-ttl and topup-pending-ttl must be at least 1 second");
        return false;
    }
    struct mopay_wallet_options wo = {.session_ttl_s = options->session_ttl_s,
                                      .topup_pending_ttl_s = options->topup_pending_ttl_s,
                                      .keys = api->keys,
                                      .ledger = api->ledger,
                                      .connector = api->connector,
                                      .journal = api->journal};
    memcpy(wo.tiers, options->tiers, sizeof(wo.tiers));
    api->wallet = mopay_wallet_new(&wo);
    if (api->wallet == NULL) {
        snprintf(err, err_cap, "out of memory");
        return false;
    }
    return true;
}

static void idem_rekey_one(void *ctx, const uint8_t in[32], uint8_t out[32])
{
    mopay_keys_idem_hash(ctx, in, out);
}

/* Idempotency records stored before their request hashes were keyed would let a reader of the
 * database test guesses of a body (a PIN) against them: key them in place, once, at start. */
static bool api_idem_rekey(struct mopay_store *store, const struct mopay_keys *keys, uint64_t *out_count, char *err,
                           size_t err_cap)
{
    int64_t rekeyed = 0, count = 0;
    enum mopay_err e = store->begin(store);
    if (e == MOPAY_OK)
        e = store->idem_rekey(store, idem_rekey_one, (void *)keys, &rekeyed);
    if (e == MOPAY_OK)
        e = store->idem_count(store, &count);
    if (e == MOPAY_OK)
        e = store->commit(store);
    else
        store->rollback(store);
    if (e != MOPAY_OK) {
        snprintf(err, err_cap, "keying stored idempotency hashes: %s", store->last_error);
        return false;
    }
    if (rekeyed > 0)
        MOPAY_LOG_INFO("keyed the hashes of idempotency records stored before", "records=%lld", (long long)rekeyed);
    *out_count = (uint64_t)count;
    return true;
}

/* Records written before the journal (a database from before it) are loaded by their modules,
 * then moved into the journal in one transaction: from then on the journal alone holds them. */
static bool api_absorb_records(struct mopay_api *api, struct mopay_store *store, char *err, size_t err_cap)
{
    if (mopay_wallet_load(api->wallet, store, err, err_cap) != MOPAY_OK ||
        !api_commerce_load(api, store, err, err_cap))
        return false;
    int64_t moved = 0;
    enum mopay_err e = store->begin(store);
    if (e == MOPAY_OK)
        e = mopay_journal_absorb_records(api->journal, store, mopay_clock_now_ns(), &moved);
    if (e == MOPAY_OK && moved > 0)
        e = mopay_journal_commit(api->journal, store);
    if (e == MOPAY_OK)
        e = moved > 0 ? store->commit(store) : store->rollback(store);
    else
        store->rollback(store);
    mopay_journal_discard(api->journal);
    if (e != MOPAY_OK) {
        snprintf(err, err_cap, "moving records into the log: %s", store->last_error);
        return false;
    }
    if (moved > 0)
        MOPAY_LOG_INFO("moved the records written before the log into it", "records=%lld", (long long)moved);
    return true;
}

/* Every module's state back into memory: the log replayed in order (the ledger's events and the
 * domain's record images), then what a database from before the log holds apart. */
static bool api_recover(struct mopay_api *api, struct mopay_store *store, char *err, size_t err_cap)
{
    int64_t t0 = mopay_clock_monotonic_ns();
    uint64_t records = 0;
    if (mopay_ledger_service_recover(api->ledger, store, &records, err, err_cap) != MOPAY_OK)
        return false;
    struct mopay_ledger *ledger = mopay_ledger_service_ledger(api->ledger);
    MOPAY_LOG_INFO("log replayed", "log_records=%llu accounts=%u transfers=%u payments=%zu ms=%lld",
                   (unsigned long long)records, mopay_ledger_account_count(ledger),
                   mopay_ledger_transfer_count(ledger), mopay_pay_payment_count(api->pay),
                   (long long)((mopay_clock_monotonic_ns() - t0) / 1000000));
    return api_absorb_records(api, store, err, err_cap);
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
    if (!api_capacity_init(api, &options->capacity, err, err_cap))
        goto fail;
    enum mopay_err e = store->admin_keys_load(store, load_admin_key, api);
    if (e != MOPAY_OK) {
        snprintf(err, err_cap, "loading admin keys: %s", mopay_err_code(e));
        goto fail;
    }
    if (!api_idem_rekey(store, keys, &api->idem_records, err, err_cap))
        goto fail;
    api->journal = mopay_journal_new();
    api->ledger = api->journal != NULL ? mopay_ledger_service_new(&options->ledger_limits, options->check_invariants,
                                                                  api->journal)
                                       : NULL;
    if (api->ledger == NULL) {
        snprintf(err, err_cap, "cannot reserve memory for %u accounts and %u transfers",
                 options->ledger_limits.accounts_max, options->ledger_limits.transfers_max);
        goto fail;
    }
    if (!api_wallet_start(api, options, err, err_cap) ||
        !api_commerce_start(api, options, err, err_cap) || !api_recover(api, store, err, err_cap) ||
        !api_signup_limits_init(api, options, err, err_cap))
        goto fail;
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
    api_signup_limits_free(api);
    api_capacity_deinit(api);
    api_commerce_free(api);
    mopay_wallet_free(api->wallet);
    if (api->connector != NULL)
        api->connector->free(api->connector);
    mopay_ledger_service_free(api->ledger);
    mopay_journal_free(api->journal);
    free(api);
}

const struct mopay_route *mopay_api_routes(size_t *count)
{
    *count = sizeof(api_routes) / sizeof(api_routes[0]);
    return api_routes;
}

void mopay_api_http_config(struct mopay_api *api, struct mopay_http_config *config)
{
    config->routes = api_routes;
    config->route_count = sizeof(api_routes) / sizeof(api_routes[0]);
    config->authenticate = api_authenticate;
    config->auth_ctx = api;
    config->app = api;
    config->keys = api->keys;
    config->idempotency_records = api->idem_records;
}

/* Keeps the tick's first error, or its fatal (store) one, which ends the tick: true then. A
 * step's operating error does not keep the later steps from running. */
static bool tick_step(enum mopay_err *kept, enum mopay_err err)
{
    bool fatal = mopay_store_err_fatal(err);
    if (fatal || (err != MOPAY_OK && *kept == MOPAY_OK))
        *kept = err;
    return fatal;
}

static enum mopay_err api_tick(void *ctx, struct mopay_store *store, int64_t now_ns)
{
    struct mopay_api *api = ctx;
    enum mopay_err err = MOPAY_OK;
    if (tick_step(&err, mopay_ledger_service_tick(api->ledger, store, now_ns)) ||
        tick_step(&err, mopay_wallet_tick(api->wallet, store, now_ns)) ||
        tick_step(&err, mopay_merchant_tick(api->merchant, store, now_ns)) ||
        tick_step(&err, mopay_pay_tick(api->pay, store, now_ns)) ||
        tick_step(&err, mopay_tax_tick(api->tax, store, now_ns)))
        return err;
    mopay_quotes_tick(api->quotes, now_ns);
    int64_t deleted = 0;
    int64_t before_ns = now_ns - (int64_t)MOPAY_IDEMPOTENCY_TTL_S * 1000000000;
    if (before_ns > 0 && tick_step(&err, store->idem_purge(store, before_ns, &deleted)))
        return err;
    if (deleted > 0)
        MOPAY_LOG_DEBUG("expired idempotency records", "deleted=%lld", (long long)deleted);
    if (deleted > 0 && api->server != NULL)
        mopay_http_idem_forgotten(api->server, deleted);
    return err; /* an operating error: the sequencer counts it, and the next tick tries again */
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
    if (seq != NULL && mopay_outbox_start(api->outbox, seq) != MOPAY_OK)
        MOPAY_LOG_ERROR("cannot start the webhook deliverer", "%s", "webhooks wait in the outbox until a restart");
}

void mopay_api_quiesce(struct mopay_api *api)
{
    mopay_outbox_stop(api->outbox);
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
