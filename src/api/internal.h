#ifndef MOPAY_API_INTERNAL_H
#define MOPAY_API_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "mopay/api.h"
#include "mopay/limits.h"
#include "mopay/merchant.h"
#include "mopay/offers.h"
#include "mopay/quotes.h"
#include "mopay/tax.h"
#include "mopay/outbox.h"
#include "mopay/pay.h"
#include "mopay/qr.h"
#include "mopay/ratelimit.h"

/* Bearer credentials in memory: the keyed hash of each key, open addressing. Loop threads read
 * under the read lock; the sequencer thread alone writes. */
#define AUTH_SLOTS (2 * MOPAY_ADMIN_KEYS_MAX)

struct auth_entry {
    uint8_t hash[32];
    struct mopay_principal principal;
    bool used;
    bool revoked;
};

struct auth_table {
    pthread_rwlock_t lock;
    struct auth_entry entries[AUTH_SLOTS];
    size_t count;
};

struct mopay_api {
    const struct mopay_keys *keys;
    struct auth_table auth;
    struct mopay_seq *seq;
    struct mopay_http_server *server;
    const char *backend;
    struct mopay_journal *journal;
    struct mopay_ledger_service *ledger;
    struct mopay_connector *connector;
    struct mopay_wallet_state *wallet;
    struct mopay_merchant_state *merchant;
    struct mopay_offers_state *offers;
    struct mopay_quotes_state *quotes;
    struct mopay_pay_state *pay;
    struct mopay_tax_state *tax;
    struct mopay_risk_engine *risk;
    struct mopay_outbox *outbox;
    struct mopay_webhook_policy webhook_policy; /* where webhook URLs may point */
    struct mopay_ratelimit *signup_address_limit, *signup_prefix_limit; /* NULL: off */
    struct mopay_api_capacity capacity; /* defaults filled in */
    _Atomic uint64_t capacity_refused;  /* commands answered capacity_exhausted */
    uint64_t idem_records;              /* stored Idempotency-Key answers at start */
    struct mopay_ratelimit *quote_share, *decline_share; /* per customer, on the sequencer; NULL: off */
};

/* customers.c: the sign-up throttles (per client address, per phone prefix). */
bool api_signup_limits_init(struct mopay_api *api, const struct mopay_api_options *options, char *err,
                            size_t err_cap);
void api_signup_limits_free(struct mopay_api *api);

/* capacity.c: admission control. What one command will make; events go to `merchant`. */
struct api_need {
    size_t customers, wallets, merchants, orders, quotes, payments;
    size_t ledger_accounts; /* besides those of the wallets and merchants */
    size_t events;
    const struct mopay_merchant *merchant;
};
bool api_capacity_init(struct mopay_api *api, const struct mopay_api_capacity *in, char *err, size_t err_cap);
void api_capacity_deinit(struct mopay_api *api);
/* A customer's share (quote_share or decline_share): MOPAY_OK while it has room, else
 * rate_limited with cmd's Retry-After and detail set. _take counts one. */
enum mopay_err api_share_check(struct mopay_api *api, struct mopay_ratelimit *share, const struct mopay_customer *c,
                               struct mopay_http_command *cmd, int64_t now_ns, const char *detail);
void api_share_take(struct mopay_ratelimit *share, const struct mopay_customer *c, int64_t now_ns);
/* First thing in an apply: MOPAY_OK when everything `need` names fits, otherwise
 * capacity_exhausted with cmd->err_detail naming the resource (cmd may be NULL). */
enum mopay_err api_admit(struct mopay_api *api, struct mopay_http_command *cmd, const struct api_need *need);
/* Whether `events` more webhook events for `merchant` fit (true when it has no webhook). */
bool api_events_room(struct mopay_api *api, const struct mopay_merchant *merchant, size_t events);

/* auth.c */
void auth_init(struct auth_table *t);
void auth_deinit(struct auth_table *t);
/* false when the table is full or the hash is already there. */
bool auth_insert(struct auth_table *t, const uint8_t hash[32], const struct mopay_principal *p, bool revoked);
/* false when no live credential has this id. */
bool auth_revoke(struct auth_table *t, const char *id);
bool auth_is_live(struct auth_table *t, const char *id);
size_t auth_live_count(struct auth_table *t, enum mopay_principal_kind kind);
bool api_authenticate(void *ctx, const char *token, size_t len, struct mopay_principal *out);

/* The body specs the route table names (each defined next to its handler). */
extern const struct mopay_json_field api_admin_key_create_fields[];
extern const struct mopay_json_field api_bill_fields[];
extern const struct mopay_json_field api_bill_pay_fields[];
extern const struct mopay_json_field api_block_fields[];
extern const struct mopay_json_field api_clock_advance_fields[];
extern const struct mopay_json_field api_confirm_fields[];
extern const struct mopay_json_field api_device_fields[];
extern const struct mopay_json_field api_freeze_fields[];
extern const struct mopay_json_field api_fx_quote_fields[];
extern const struct mopay_json_field api_fx_rates_fields[];
extern const struct mopay_json_field api_kyc_fields[];
extern const struct mopay_json_field api_ledger_account_fields[];
extern const struct mopay_json_field api_ledger_transfers_fields[];
extern const struct mopay_json_field api_merchant_fields[];
extern const struct mopay_json_field api_merchant_key_fields[];
extern const struct mopay_json_field api_movement_fields[];
extern const struct mopay_json_field api_nfc_key_fields[];
extern const struct mopay_json_field api_offer_fields[];
extern const struct mopay_json_field api_order_fields[];
extern const struct mopay_json_field api_p2p_fields[];
extern const struct mopay_json_field api_payment_fields[];
extern const struct mopay_json_field api_refund_fields[];
extern const struct mopay_json_field api_review_label_fields[];
extern const struct mopay_json_field api_session_fields[];
extern const struct mopay_json_field api_signup_fields[];
extern const struct mopay_json_field api_source_fields[];
extern const struct mopay_json_field api_tax_refund_fields[];
extern const struct mopay_json_field api_wallet_open_fields[];

/* handlers */
void api_healthz(struct mopay_http_request *req);
void api_metrics(struct mopay_http_request *req);
void api_admin_keys_create(struct mopay_http_request *req);
void api_admin_keys_revoke(struct mopay_http_request *req);
void api_ledger_accounts_create(struct mopay_http_request *req);
void api_ledger_transfers_create(struct mopay_http_request *req);
void api_ledger_account_get(struct mopay_http_request *req);
void api_ledger_transfer_get(struct mopay_http_request *req);
void api_ledger_check(struct mopay_http_request *req);
void api_customers_create(struct mopay_http_request *req);
void api_customer_get(struct mopay_http_request *req);
void api_customer_trust(struct mopay_http_request *req);
void api_risk_reviews_list(struct mopay_http_request *req);
void api_risk_guessing_list(struct mopay_http_request *req);
void api_risk_review_label(struct mopay_http_request *req);
void api_risk_block(struct mopay_http_request *req);
void api_risk_unblock(struct mopay_http_request *req);
/* risk.c */
bool api_risk_start(struct mopay_api *api, const struct mopay_api_options *options, char *err, size_t err_cap);
/* Blocklist entries written before the journal, after its replay (api_commerce_load). */
bool api_risk_load(struct mopay_api *api, struct mopay_store *store, char *err, size_t err_cap);
/* pin.c: a PIN sent with a payment's confirmation, a P2P transfer or a withdrawal. api_submit_with_pin checks the PIN off
 * the loop (setting *pin_ok) and then submits cmd; without a PIN (pin->ptr NULL) it submits cmd at
 * once. The command's apply calls api_pin_attempt first, which counts a wrong PIN (the count
 * stands: return its error, then render api_pin_refusal when *refusal is set). */
void api_submit_with_pin(struct mopay_http_request *req, struct mopay_http_command *cmd, const struct mopay_str *pin,
                         bool *pin_ok);
enum mopay_err api_pin_attempt(struct mopay_api *api, struct mopay_store *store, int64_t now_ns,
                               struct mopay_customer *c, const struct mopay_str *pin, bool pin_ok,
                               enum mopay_err *refusal);
json_t *api_pin_refusal(struct mopay_http_command *cmd, enum mopay_err refusal, int *status);
bool api_risk_rules_parse(const char *text, struct mopay_risk_config *config, char *err, size_t err_cap);
struct mopay_pay_risk api_pay_risk(struct mopay_api *api, bool on);
void api_customer_kyc(struct mopay_http_request *req);
void api_customer_freeze(struct mopay_http_request *req);
void api_customer_unfreeze(struct mopay_http_request *req);
void api_devices_create(struct mopay_http_request *req);
void api_device_revoke(struct mopay_http_request *req);
void api_sessions_create(struct mopay_http_request *req);
void api_wallets_create(struct mopay_http_request *req);
void api_wallets_list(struct mopay_http_request *req);
void api_wallet_get(struct mopay_http_request *req);
void api_wallet_history(struct mopay_http_request *req);
void api_sources_create(struct mopay_http_request *req);
void api_sources_list(struct mopay_http_request *req);
void api_source_lost(struct mopay_http_request *req);
void api_topups_create(struct mopay_http_request *req);
void api_topup_get(struct mopay_http_request *req);
void api_withdrawals_create(struct mopay_http_request *req);
void api_withdrawal_get(struct mopay_http_request *req);
void api_p2p_create(struct mopay_http_request *req);
void api_test_clock_advance(struct mopay_http_request *req);
void api_merchants_create(struct mopay_http_request *req);
void api_merchant_get(struct mopay_http_request *req);
void api_merchant_keys_create(struct mopay_http_request *req);
void api_merchant_qr_get(struct mopay_http_request *req);
void api_orders_create(struct mopay_http_request *req);
void api_order_get(struct mopay_http_request *req);
void api_payments_create(struct mopay_http_request *req);
void api_payment_get(struct mopay_http_request *req);
void api_payment_confirm(struct mopay_http_request *req);
void api_refunds_create(struct mopay_http_request *req);
void api_refund_get(struct mopay_http_request *req);
void api_nfc_keys_create(struct mopay_http_request *req);
void api_offers_create(struct mopay_http_request *req);
void api_offer_get(struct mopay_http_request *req);
void api_offer_claim(struct mopay_http_request *req);
void api_coupons_list(struct mopay_http_request *req);
void api_billers_create(struct mopay_http_request *req);
void api_bills_create(struct mopay_http_request *req);
void api_bills_find(struct mopay_http_request *req);
void api_bill_payments_create(struct mopay_http_request *req);
json_t *api_offer_json(const struct mopay_offer *x, bool whole);
void api_fx_rates_put(struct mopay_http_request *req);
void api_fx_rates_list(struct mopay_http_request *req);
void api_fx_quotes_create(struct mopay_http_request *req);
void api_fx_quote_get(struct mopay_http_request *req);
void api_tax_refunds_create(struct mopay_http_request *req);
void api_tax_refund_get(struct mopay_http_request *req);
void api_tax_refund_validate(struct mopay_http_request *req);
json_t *api_quote_json(const struct mopay_quote *x);
json_t *api_tax_form_json(const struct mopay_tax_form *f);
json_t *api_coupon_json(const struct mopay_coupon *c);

/* commerce.c: merchants, payments and their webhooks */
bool api_commerce_start(struct mopay_api *api, const struct mopay_api_options *options, char *err, size_t err_cap);
/* Records written before the journal, once the journal is replayed. */
bool api_commerce_load(struct mopay_api *api, struct mopay_store *store, char *err, size_t err_cap);
void api_commerce_free(struct mopay_api *api);
enum mopay_err api_order_created(struct mopay_api *api, int64_t now_ns, const struct mopay_order *o);
/* A merchant's QR payload: dynamic with amount_minor > 0, for an order when o is not NULL,
 * asking for a tip or convenience fee when tip is not NULL. */
bool api_merchant_qr(const struct mopay_merchant *m, const struct mopay_order *o, int64_t amount_minor,
                     const char *reference, const struct mopay_qr_tip *tip, char out[MOPAY_QR_PAYLOAD_BYTES_MAX + 1]);
bool api_order_qr(struct mopay_api *api, const struct mopay_order *o, char out[MOPAY_QR_PAYLOAD_BYTES_MAX + 1]);
/* merchants.c, orders.c, payments.c, refunds.c */
void api_merchant_webhook_secret_rotate(struct mopay_http_request *req);
bool api_url_ok(struct mopay_http_request *req, const struct mopay_str *url, struct mopay_webhook_target *target);
struct mopay_merchant *api_merchant_visible(struct mopay_api *api, const struct mopay_principal *p,
                                            const struct mopay_id *id);
struct mopay_merchant *api_principal_merchant(struct mopay_api *api, const struct mopay_principal *p);
json_t *api_order_json(struct mopay_api *api, const struct mopay_order *o);
json_t *api_payment_json(const struct mopay_payment *x);
json_t *api_payment_json_full(struct mopay_api *api, const struct mopay_payment *x);
json_t *api_refund_json(const struct mopay_refund *r);
bool api_payment_visible(const struct mopay_principal *p, const struct mopay_payment *x);

/* common.c: for the consumer endpoints. The readers reply with the error themselves and
 * return false; a missing resource or one the principal may not see is NULL (404). */
void api_reply_oom(struct mopay_http_request *req);
bool api_path_id(struct mopay_http_request *req, size_t n, enum mopay_id_kind kind, struct mopay_id *out);
bool api_body_id(struct mopay_http_request *req, const struct mopay_str *s, enum mopay_id_kind kind,
                 const char *pointer, struct mopay_id *out);
/* A positive amount at "/amount" in the currency at "/currency". */
bool api_amount_read(struct mopay_http_request *req, const struct mopay_str *amount, const struct mopay_str *currency,
                     const struct mopay_currency **out_currency, int64_t *out_minor);
/* Display text without control characters. */
bool api_text_ok(struct mopay_http_request *req, const struct mopay_str *s, const char *pointer);
bool api_limit_read(struct mopay_http_request *req, size_t *out);
/* A percentage of at most two digits and two decimals, 0.01 to 99.99, as basis points; 0 when
 * malformed. */
uint16_t api_percent_bps(const char *s, size_t len);
bool api_is_operator(struct mopay_http_request *req);
/* On the sequencer thread: the customer, when the principal is the operator or this customer. */
struct mopay_customer *api_customer_visible(struct mopay_api *api, const struct mopay_principal *p,
                                            const struct mopay_id *id);
struct mopay_customer *api_principal_customer(struct mopay_api *api, const struct mopay_principal *p);
json_t *api_money_json(int64_t minor, const struct mopay_currency *c);
json_t *api_time_json(int64_t ns);
json_t *api_id_json(enum mopay_id_kind kind, const struct mopay_id *id);
json_t *api_device_json(const struct mopay_device *d, bool with_secret);
json_t *api_wallet_json(struct mopay_api *api, const struct mopay_wallet *wallet, int64_t now_ns);
json_t *api_customer_json(struct mopay_api *api, const struct mopay_customer *c, int64_t now_ns);
json_t *api_source_json(const struct mopay_funding_source *s);
json_t *api_movement_json(const struct mopay_movement *m);

/* admin_keys.c: a new key's secret and its hash */
void admin_key_make(const struct mopay_keys *keys, char secret[MOPAY_ADMIN_KEY_SECRET_BYTES], uint8_t hash[32]);

#endif
