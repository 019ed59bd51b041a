#ifndef MOPAY_API_H
#define MOPAY_API_H

#include <stdbool.h>
#include <stddef.h>

#include "mopay/http.h"
#include "mopay/keys.h"
#include "mopay/ledger.h"
#include "mopay/store.h"
#include "mopay/wallet.h"

/* The API: mopay's route table, its handlers, and the in-memory state they read (which the
 * sequencer alone changes). */
struct mopay_api;

/* "ak_" + 64 hex digits + NUL */
#define MOPAY_ADMIN_KEY_SECRET_BYTES 68

/* Admission control: how many of each the server has room for (0: the mopay/limits.h default).
 * A request that would need more answers 503 capacity_exhausted and changes nothing. */
struct mopay_api_capacity {
    size_t customers_max, wallets_max, merchants_max, orders_max, quotes_max, payments_max;
    size_t outbox_events_max, outbox_events_per_merchant_max;
    /* One customer's share of what stays in memory, an hour: FX quotes made, payments declined
     * (0: no limit). More answer 429 rate_limited with Retry-After. */
    uint32_t quotes_per_customer_per_hour, declines_per_customer_per_hour;
};

struct mopay_api_options {
    struct mopay_api_capacity capacity;
    struct mopay_ledger_limits ledger_limits;
    bool check_invariants; /* verify the ledger after every batch (stops the process if broken) */
    struct mopay_wallet_tier_limits tiers[MOPAY_WALLET_TIERS];
    int64_t session_ttl_s;
    int64_t topup_pending_ttl_s;
    int64_t sim_callback_delay_s; /* the built-in network simulator's late answers */
    int64_t pin_above_major;      /* payments this large wait for the PIN; 0: never */
    int paycode_window_steps;
    const char *fx_spreads;       /* mopay_quotes_spreads_parse */
    int64_t fx_rate_max_age_s;
    const char *tax_rules;        /* mopay_taxrules_parse, over the built-in rules */
    bool risk;                    /* score money-moving commands */
    const char *risk_model;       /* its model file; missing: the rules alone */
    const char *risk_rules;       /* thresholds and actions: api_risk_rules_parse */
    bool webhook_allow_private;   /* webhook URLs may name non-public addresses (mopay/outbox.h) */
    bool webhook_allow_insecure;  /* and http:// */
    uint32_t signup_address_per_hour; /* sign-ups per client address; 0: no limit */
    uint32_t signup_prefix_per_hour;  /* sign-ups per phone prefix; 0: no limit */
    uint32_t wrong_codes_max;         /* wrong codes and cryptograms per terminal in the window; 0: no limit */
    int64_t wrong_codes_window_s;
};

/* Loads what the API keeps in memory from `store`: admin keys, the ledger by replaying its log,
 * and the customers' and wallets' records. NULL with a reason in `err`. */
struct mopay_api *mopay_api_new(struct mopay_store *store, const struct mopay_keys *keys,
                                const struct mopay_api_options *options, char *err, size_t err_cap);
void mopay_api_free(struct mopay_api *api);

/* The route table (every endpoint, with its body's field spec) and its length, for tools and tests. */
const struct mopay_route *mopay_api_routes(size_t *count);
/* Fills an HTTP configuration's routes, authenticator and app pointer. */
void mopay_api_http_config(struct mopay_api *api, struct mopay_http_config *config);
/* Called once the server runs, so /metrics can report the sequencer and the server, and the
 * webhook deliverer can submit its commands; with NULLs after they stopped. */
void mopay_api_attach(struct mopay_api *api, struct mopay_seq *seq, struct mopay_http_server *server);
/* Stops the API's own threads that submit commands (the webhook deliverer): call it before the
 * sequencer stops. */
void mopay_api_quiesce(struct mopay_api *api);

/* The sequencer's hooks for the API's state: a tick every MOPAY_API_TICK_INTERVAL_NS voids
 * expired pending transfers and forgets idempotent replies older than MOPAY_IDEMPOTENCY_TTL_S;
 * before each commit the ledger's log record is appended. */
#define MOPAY_API_TICK_INTERVAL_NS (1LL * 1000000000)
void mopay_api_seq_hooks(struct mopay_api *api, struct mopay_seq_hooks *hooks);

/* Creates the first admin key when the database has none yet, in its own transaction. On
 * *created, `secret` holds the key, which is shown this once and stored only as a hash. */
enum mopay_err mopay_api_bootstrap_admin(struct mopay_store *store, const struct mopay_keys *keys, bool *created,
                                         char secret[MOPAY_ADMIN_KEY_SECRET_BYTES]);

#endif
