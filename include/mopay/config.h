#ifndef MOPAY_CONFIG_H
#define MOPAY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "mopay/limits.h"

/* Configuration, from (weakest first) built-in defaults, an optional file (`--config FILE` or
 * MOPAY_CONFIG; lines of `name = value`, '#' comments), the environment (MOPAY_<NAME>, dashes as
 * underscores) and command-line flags (`--name value` or `--name=value`). Every option is
 * described once, in config.c's table, from which --help is printed. */
struct mopay_config {
    char db[MOPAY_CONFIG_VALUE_BYTES_MAX];
    char listen[MOPAY_CONFIG_VALUE_BYTES_MAX];
    char metrics_listen[MOPAY_CONFIG_VALUE_BYTES_MAX]; /* "" = /metrics only on --listen, with the operator's key */
    long threads;
    char tls_cert[MOPAY_CONFIG_VALUE_BYTES_MAX];
    char tls_key[MOPAY_CONFIG_VALUE_BYTES_MAX];
    char master_key_file[MOPAY_CONFIG_VALUE_BYTES_MAX];
    char log_level[16];
    char access_log[MOPAY_CONFIG_VALUE_BYTES_MAX];
    char test_clock[64];
    char config[MOPAY_CONFIG_VALUE_BYTES_MAX];
    long ledger_accounts_max;
    long ledger_transfers_max;
    bool check_invariants;
    bool ledger_prefault;
    long tier0_balance_cap, tier0_daily_outflow;
    long tier1_balance_cap, tier1_daily_outflow;
    long tier2_balance_cap, tier2_daily_outflow;
    long session_ttl_s;
    long topup_ttl_s;
    long sim_callback_delay_s;
    long pin_above;
    long paycode_window;
    char fx_spreads[MOPAY_CONFIG_VALUE_BYTES_MAX];
    long fx_rate_max_age_s;
    char tax_rules[MOPAY_CONFIG_VALUE_BYTES_MAX];
    bool risk;
    char risk_model[MOPAY_CONFIG_VALUE_BYTES_MAX];
    char risk_rules[MOPAY_CONFIG_VALUE_BYTES_MAX];
    bool webhook_allow_private;
    bool webhook_allow_insecure;
    long rate_anonymous_max, rate_bad_token_max, rate_principal_max; /* per minute; 0: off */
    char trusted_proxies[MOPAY_CONFIG_VALUE_BYTES_MAX];
    long signup_address_max, signup_prefix_max; /* per hour; 0: off */
    long wrong_codes_max, wrong_codes_window_s;
    /* admission control (mopay/limits.h) */
    long customers_max, wallets_max, merchants_max, orders_max, quotes_max, payments_max;
    long outbox_events_max, outbox_events_per_merchant_max;
    long connections_max, connections_per_address_max;
    long idempotency_records_max, idempotency_records_per_principal_max;
    long quotes_per_customer_max, declines_per_customer_max; /* an hour; 0: off */
};

/* Which options a command takes. */
#define MOPAY_CONFIG_STORE 0x1u   /* db, master-key-file, ledger limits, check-invariants, KYC
                                     tiers, TTLs, the network simulator */
#define MOPAY_CONFIG_SERVER 0x2u  /* listen, threads, tls-*, access-log, test-clock */
#define MOPAY_CONFIG_COMMON 0x4u  /* config, log-level */

/* Fills `cfg` for a command that takes the options in `mask`. Positional arguments are moved,
 * in order, to the front of argv[1..]; their count goes to *out_positional. Returns false with
 * a one-line reason in `err` on an unknown option, a missing value, a bad number or an
 * unreadable or malformed config file. `--help` sets *out_help and stops parsing. */
bool mopay_config_load(struct mopay_config *cfg, unsigned mask, int argc, char **argv, int *out_positional,
                       bool *out_help, char *err, size_t err_cap);

/* Prints the options in `mask`: name, environment variable, default, description. */
void mopay_config_usage(FILE *out, unsigned mask);

#endif
