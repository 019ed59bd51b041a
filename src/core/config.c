#include "mopay/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mopay/assert.h"

enum option_type { OPTION_STRING, OPTION_LONG, OPTION_BOOL };

struct option_spec {
    const char *name;
    const char *env;
    enum option_type type;
    size_t offset;
    size_t cap;
    const char *fallback;
    unsigned mask;
    const char *help;
};

#define STRING_OPTION(field, name, env, fallback, mask, help) \
    {name, env, OPTION_STRING, offsetof(struct mopay_config, field), \
     sizeof(((struct mopay_config *)0)->field), fallback, mask, help}

/* A limit of mopay/limits.h as the text of its default */
#define TEXT_(x) #x
#define TEXT(x) TEXT_(x)
#define MOPAY_STR_(x) #x
#define MOPAY_STR(x) MOPAY_STR_(x)

#define LONG_OPTION(field, name, env, fallback, mask, help) \
    {name, env, OPTION_LONG, offsetof(struct mopay_config, field), sizeof(long), fallback, mask, help}

static const struct option_spec option_specs[] = {
    STRING_OPTION(db, "db", "MOPAY_DB", "sqlite:./data/mopay.db", MOPAY_CONFIG_STORE,
                  "database URL: sqlite:PATH or postgres://..."),
    STRING_OPTION(master_key_file, "master-key-file", "MOPAY_MASTER_KEY_FILE", "./data/master.key", MOPAY_CONFIG_STORE,
                  "file holding the 32-byte master key (created when missing)"),
    STRING_OPTION(listen, "listen", "MOPAY_LISTEN", "127.0.0.1:8080", MOPAY_CONFIG_SERVER, "HOST:PORT to serve on"),
    STRING_OPTION(metrics_listen, "metrics-listen", "MOPAY_METRICS_LISTEN", "", MOPAY_CONFIG_SERVER,
                  "HOST:PORT serving GET /metrics alone, without a key (none when empty)"),
    {"threads", "MOPAY_THREADS", OPTION_LONG, offsetof(struct mopay_config, threads), sizeof(long), "0",
     MOPAY_CONFIG_SERVER, "event-loop threads (0: one per core)"},
    STRING_OPTION(tls_cert, "tls-cert", "MOPAY_TLS_CERT", "", MOPAY_CONFIG_SERVER, "PEM certificate chain; enables TLS with --tls-key"),
    STRING_OPTION(tls_key, "tls-key", "MOPAY_TLS_KEY", "", MOPAY_CONFIG_SERVER, "PEM private key"),
    STRING_OPTION(access_log, "access-log", "MOPAY_ACCESS_LOG", "-", MOPAY_CONFIG_SERVER, "access log file, '-' for stderr, 'off'"),
    STRING_OPTION(test_clock, "test-clock", "MOPAY_TEST_CLOCK", "", MOPAY_CONFIG_SERVER,
                  "start a manual clock at this RFC 3339 time (tests only)"),
    {"ledger-accounts-max", "MOPAY_LEDGER_ACCOUNTS_MAX", OPTION_LONG, offsetof(struct mopay_config, ledger_accounts_max),
     sizeof(long), "1000000", MOPAY_CONFIG_STORE, "ledger accounts the server has room for"},
    {"ledger-transfers-max", "MOPAY_LEDGER_TRANSFERS_MAX", OPTION_LONG,
     offsetof(struct mopay_config, ledger_transfers_max), sizeof(long), "20000000", MOPAY_CONFIG_STORE,
     "ledger transfers the server has room for (memory is reserved, and used as they come)"},
    {"ledger-prefault", "MOPAY_LEDGER_PREFAULT", OPTION_BOOL, offsetof(struct mopay_config, ledger_prefault),
     sizeof(bool), "false", MOPAY_CONFIG_STORE,
     "back the ledger's memory for its limits at start (no page faults while serving)"},
    {"check-invariants", "MOPAY_CHECK_INVARIANTS", OPTION_BOOL, offsetof(struct mopay_config, check_invariants),
     sizeof(bool), "false", MOPAY_CONFIG_STORE, "verify the ledger's invariants after every batch (tests)"},
    LONG_OPTION(tier0_balance_cap, "tier0-balance-cap", "MOPAY_TIER0_BALANCE_CAP", "1000", MOPAY_CONFIG_STORE,
                "KYC tier 0 (phone only): balance cap, in the wallet currency's major units"),
    LONG_OPTION(tier0_daily_outflow, "tier0-daily-outflow", "MOPAY_TIER0_DAILY_OUTFLOW", "500", MOPAY_CONFIG_STORE,
                "KYC tier 0: money out per UTC day, major units"),
    LONG_OPTION(tier1_balance_cap, "tier1-balance-cap", "MOPAY_TIER1_BALANCE_CAP", "20000", MOPAY_CONFIG_STORE,
                "KYC tier 1 (ID checked): balance cap, major units"),
    LONG_OPTION(tier1_daily_outflow, "tier1-daily-outflow", "MOPAY_TIER1_DAILY_OUTFLOW", "5000", MOPAY_CONFIG_STORE,
                "KYC tier 1: money out per UTC day, major units"),
    LONG_OPTION(tier2_balance_cap, "tier2-balance-cap", "MOPAY_TIER2_BALANCE_CAP", "500000", MOPAY_CONFIG_STORE,
                "KYC tier 2 (full): balance cap, major units"),
    LONG_OPTION(tier2_daily_outflow, "tier2-daily-outflow", "MOPAY_TIER2_DAILY_OUTFLOW", "100000",
                MOPAY_CONFIG_STORE, "KYC tier 2: money out per UTC day, major units"),
    LONG_OPTION(session_ttl_s, "session-ttl", "MOPAY_SESSION_TTL", "43200", MOPAY_CONFIG_STORE,
                "seconds a customer session lasts"),
    LONG_OPTION(topup_ttl_s, "topup-pending-ttl", "MOPAY_TOPUP_PENDING_TTL", "900", MOPAY_CONFIG_STORE,
                "seconds a top-up or withdrawal waits for the network's answer before it is voided"),
    LONG_OPTION(sim_callback_delay_s, "sim-callback-delay", "MOPAY_SIM_CALLBACK_DELAY", "30", MOPAY_CONFIG_STORE,
                "seconds the built-in network simulator takes to answer a request that timed out"),
    LONG_OPTION(pin_above, "payment-pin-above", "MOPAY_PAYMENT_PIN_ABOVE", "2000", MOPAY_CONFIG_STORE,
                "payments of at least this many major units wait for the customer's PIN (0: never)"),
    LONG_OPTION(paycode_window, "paycode-window", "MOPAY_PAYCODE_WINDOW", "4", MOPAY_CONFIG_STORE,
                "offline payment codes this many 30-second steps old still pay (0 to 8)"),
    STRING_OPTION(fx_spreads, "fx-spreads", "MOPAY_FX_SPREADS", "50", MOPAY_CONFIG_STORE,
                  "FX spread in basis points, for every corridor or by corridor: '*:50,CNY/USD:30'"),
    LONG_OPTION(fx_rate_max_age_s, "fx-rate-max-age", "MOPAY_FX_RATE_MAX_AGE", "3600", MOPAY_CONFIG_STORE,
                "seconds a mid rate may be old and still quoted"),
    STRING_OPTION(tax_rules, "tax-rules", "MOPAY_TAX_RULES", "", MOPAY_CONFIG_STORE,
                  "tourist tax-refund rules added to or replacing the built-in ones (include/mopay/taxrules.h)"),
    {"risk", "MOPAY_RISK", OPTION_BOOL, offsetof(struct mopay_config, risk), sizeof(bool), "true", MOPAY_CONFIG_STORE,
     "score every money-moving command with the risk engine (rules, blocklists and the model)"},
    STRING_OPTION(risk_model, "risk-model", "MOPAY_RISK_MODEL", "models/risk-v1.txt", MOPAY_CONFIG_STORE,
                  "the risk model file (mopay risk train); missing: the rules alone"),
    STRING_OPTION(risk_rules, "risk-rules", "MOPAY_RISK_RULES", "", MOPAY_CONFIG_STORE,
                  "risk thresholds and rule actions over the defaults: 'velocity_1m_max=5,amount_24h_max=10000,"
                  "night_abroad=decline' (see docs/api.md, Risk)"),
    {"webhook-allow-private", "MOPAY_WEBHOOK_ALLOW_PRIVATE", OPTION_BOOL,
     offsetof(struct mopay_config, webhook_allow_private), sizeof(bool), "false", MOPAY_CONFIG_STORE,
     "let webhook URLs name or resolve to loopback, private, link-local and other non-public addresses "
     "(tests, development)"},
    {"webhook-allow-insecure", "MOPAY_WEBHOOK_ALLOW_INSECURE", OPTION_BOOL,
     offsetof(struct mopay_config, webhook_allow_insecure), sizeof(bool), "false", MOPAY_CONFIG_STORE,
     "accept http:// webhook URLs as well as https:// (tests, development)"},
    LONG_OPTION(rate_anonymous_max, "rate-anonymous-max", "MOPAY_RATE_ANONYMOUS_MAX", TEXT(MOPAY_RATE_ANONYMOUS_PER_MIN), MOPAY_CONFIG_SERVER,
                "requests a minute from one client address to the anonymous routes that change something "
                "(sign-up, log-in); more: 429 (0: no limit)"),
    LONG_OPTION(rate_bad_token_max, "rate-bad-token-max", "MOPAY_RATE_BAD_TOKEN_MAX", TEXT(MOPAY_RATE_BAD_TOKEN_PER_MIN), MOPAY_CONFIG_SERVER,
                "unknown or revoked bearer credentials a minute from one client address; more: 429 (0: no limit)"),
    LONG_OPTION(rate_principal_max, "rate-principal-max", "MOPAY_RATE_PRINCIPAL_MAX", TEXT(MOPAY_RATE_PRINCIPAL_PER_MIN), MOPAY_CONFIG_SERVER,
                "requests a minute by one merchant key or customer session (operator keys are not limited); more: "
                "429 (0: no limit)"),
    STRING_OPTION(trusted_proxies, "trusted-proxies", "MOPAY_TRUSTED_PROXIES", "", MOPAY_CONFIG_SERVER,
                  "CIDR[,CIDR]: peers whose X-Forwarded-For names the client (its right-most untrusted address)"),
    LONG_OPTION(signup_address_max, "signup-address-max", "MOPAY_SIGNUP_ADDRESS_MAX", TEXT(MOPAY_SIGNUP_ADDRESS_PER_HOUR), MOPAY_CONFIG_SERVER,
                "sign-ups an hour from one client address; more: 429 (0: no limit)"),
    LONG_OPTION(signup_prefix_max, "signup-prefix-max", "MOPAY_SIGNUP_PREFIX_MAX", TEXT(MOPAY_SIGNUP_PREFIX_PER_HOUR), MOPAY_CONFIG_SERVER,
                "sign-ups an hour for one phone-number prefix (the number less its last 4 digits); more: 429 "
                "(0: no limit)"),
    LONG_OPTION(wrong_codes_max, "wrong-codes-max", "MOPAY_WRONG_CODES_MAX", TEXT(MOPAY_WRONG_CODES_MAX), MOPAY_CONFIG_STORE,
                "wrong payment codes or NFC cryptograms one merchant terminal (or key naming none) may submit in "
                "--wrong-codes-window; more: 429 and a risk report (0: no limit)"),
    LONG_OPTION(wrong_codes_window_s, "wrong-codes-window", "MOPAY_WRONG_CODES_WINDOW", TEXT(MOPAY_WRONG_CODES_WINDOW_S), MOPAY_CONFIG_STORE,
                "seconds over which --wrong-codes-max counts"),
    LONG_OPTION(customers_max, "customers-max", "MOPAY_CUSTOMERS_MAX", MOPAY_STR(MOPAY_CUSTOMERS_MAX_DEFAULT),
                MOPAY_CONFIG_STORE, "customers the server has room for; more sign-ups: 503 capacity_exhausted"),
    LONG_OPTION(wallets_max, "wallets-max", "MOPAY_WALLETS_MAX", MOPAY_STR(MOPAY_WALLETS_MAX_DEFAULT),
                MOPAY_CONFIG_STORE, "wallets the server has room for (each is also a ledger account)"),
    LONG_OPTION(merchants_max, "merchants-max", "MOPAY_MERCHANTS_MAX", MOPAY_STR(MOPAY_MERCHANTS_MAX_DEFAULT),
                MOPAY_CONFIG_STORE, "merchants the server has room for (each is also a ledger account)"),
    LONG_OPTION(orders_max, "orders-max", "MOPAY_ORDERS_MAX", MOPAY_STR(MOPAY_ORDERS_MAX_DEFAULT), MOPAY_CONFIG_STORE,
                "orders kept in memory, open or not"),
    LONG_OPTION(quotes_max, "quotes-max", "MOPAY_QUOTES_MAX", MOPAY_STR(MOPAY_QUOTES_MAX_DEFAULT), MOPAY_CONFIG_STORE,
                "FX quotes kept in memory"),
    LONG_OPTION(payments_max, "payments-max", "MOPAY_PAYMENTS_MAX", MOPAY_STR(MOPAY_PAYMENTS_MAX_DEFAULT),
                MOPAY_CONFIG_STORE, "payments kept in memory"),
    LONG_OPTION(outbox_events_max, "outbox-events-max", "MOPAY_OUTBOX_EVENTS_MAX",
                MOPAY_STR(MOPAY_OUTBOX_EVENTS_MAX_DEFAULT), MOPAY_CONFIG_STORE,
                "undelivered webhook events, all merchants together"),
    LONG_OPTION(outbox_events_per_merchant_max, "outbox-events-per-merchant-max",
                "MOPAY_OUTBOX_EVENTS_PER_MERCHANT_MAX", MOPAY_STR(MOPAY_OUTBOX_EVENTS_PER_MERCHANT_MAX_DEFAULT),
                MOPAY_CONFIG_STORE,
                "undelivered webhook events of one merchant (a merchant whose webhook is down fills only this)"),
    LONG_OPTION(quotes_per_customer_max, "quotes-per-customer-max", "MOPAY_QUOTES_PER_CUSTOMER_MAX",
                MOPAY_STR(MOPAY_QUOTES_PER_CUSTOMER_PER_HOUR), MOPAY_CONFIG_STORE,
                "FX quotes one customer may make an hour (they stay in memory); more: 429 (0: no limit)"),
    LONG_OPTION(declines_per_customer_max, "declines-per-customer-max", "MOPAY_DECLINES_PER_CUSTOMER_MAX",
                MOPAY_STR(MOPAY_DECLINES_PER_CUSTOMER_PER_HOUR), MOPAY_CONFIG_STORE,
                "declined payments one customer may make an hour (they stay in memory); then its payments: 429 "
                "(0: no limit)"),
    LONG_OPTION(idempotency_records_max, "idempotency-records-max", "MOPAY_IDEMPOTENCY_RECORDS_MAX",
                MOPAY_STR(MOPAY_IDEMPOTENCY_RECORDS_MAX_DEFAULT), MOPAY_CONFIG_SERVER,
                "stored Idempotency-Key answers (each kept 24 hours); a write with a new key past it: 503"),
    LONG_OPTION(idempotency_records_per_principal_max, "idempotency-records-per-principal-max",
                "MOPAY_IDEMPOTENCY_RECORDS_PER_PRINCIPAL_MAX", MOPAY_STR(MOPAY_IDEMPOTENCY_RECORDS_PER_PRINCIPAL_MAX_DEFAULT),
                MOPAY_CONFIG_SERVER,
                "new Idempotency-Key answers one merchant key or customer may have stored in 24 hours (its share of "
                "--idempotency-records-max); more: 429 (operator keys and anonymous routes not counted; 0: no limit)"),
    LONG_OPTION(connections_per_address_max, "connections-per-address-max", "MOPAY_CONNECTIONS_PER_ADDRESS_MAX",
                MOPAY_STR(MOPAY_HTTP_CONNECTIONS_PER_ADDRESS_MAX_DEFAULT), MOPAY_CONFIG_SERVER,
                "open connections from one client address (an IPv6 /64); one more is closed at once (0: no limit)"),
    LONG_OPTION(connections_max, "connections-max", "MOPAY_CONNECTIONS_MAX",
                MOPAY_STR(MOPAY_HTTP_CONNECTIONS_MAX_DEFAULT), MOPAY_CONFIG_SERVER,
                "open client connections; one more is closed at once"),
    STRING_OPTION(log_level, "log-level", "MOPAY_LOG_LEVEL", "info", MOPAY_CONFIG_COMMON, "debug, info, warn or error"),
    STRING_OPTION(config, "config", "MOPAY_CONFIG", "", MOPAY_CONFIG_COMMON, "optional file of 'name = value' lines"),
};

#define OPTION_COUNT (sizeof(option_specs) / sizeof(option_specs[0]))

static const struct option_spec *option_find(const char *name, size_t len, unsigned mask)
{
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const struct option_spec *o = &option_specs[i];
        if ((o->mask & mask) && strlen(o->name) == len && memcmp(o->name, name, len) == 0)
            return o;
    }
    return NULL;
}

static bool option_set(struct mopay_config *cfg, const struct option_spec *o, const char *value, char *err,
                       size_t err_cap)
{
    char *field = (char *)cfg + o->offset;
    if (o->type == OPTION_BOOL) {
        bool on = strcmp(value, "true") == 0 || strcmp(value, "1") == 0;
        if (!on && strcmp(value, "false") != 0 && strcmp(value, "0") != 0) {
            snprintf(err, err_cap, "--%s: '%s' is not true or false", o->name, value);
            return false;
        }
        *(bool *)field = on;
        return true;
    }
    if (o->type == OPTION_LONG) {
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (errno != 0 || end == value || *end != '\0' || v < 0) {
            snprintf(err, err_cap, "--%s: '%s' is not a non-negative number", o->name, value);
            return false;
        }
        *(long *)field = v;
        return true;
    }
    if (strlen(value) >= o->cap) {
        snprintf(err, err_cap, "--%s: value longer than %zu bytes", o->name, o->cap - 1);
        return false;
    }
    strcpy(field, value);
    return true;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static bool config_file_load(struct mopay_config *cfg, const char *path, unsigned mask, char *err, size_t err_cap)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, err_cap, "config file %s: %s", path, strerror(errno));
        return false;
    }
    char line[MOPAY_CONFIG_VALUE_BYTES_MAX + 128];
    int lineno = 0;
    bool ok = true;
    size_t total = 0;
    while (ok && fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        total += strlen(line);
        if (total > MOPAY_CONFIG_FILE_BYTES_MAX) {
            snprintf(err, err_cap, "config file %s: larger than %d bytes", path, MOPAY_CONFIG_FILE_BYTES_MAX);
            ok = false;
            break;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            snprintf(err, err_cap, "config file %s:%d: expected 'name = value'", path, lineno);
            ok = false;
            break;
        }
        *eq = '\0';
        char *name = trim(s), *value = trim(eq + 1);
        const struct option_spec *o = option_find(name, strlen(name), mask);
        if (o == NULL || strcmp(o->name, "config") == 0) {
            snprintf(err, err_cap, "config file %s:%d: unknown option '%s'", path, lineno, name);
            ok = false;
        } else {
            ok = option_set(cfg, o, value, err, err_cap);
        }
    }
    fclose(f);
    return ok;
}

static void config_defaults(struct mopay_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    char err[256];
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        bool ok = option_set(cfg, &option_specs[i], option_specs[i].fallback, err, sizeof(err));
        MOPAY_ASSERT(ok); /* the defaults are valid values */
    }
}

static bool config_env_load(struct mopay_config *cfg, unsigned mask, bool config_only, char *err, size_t err_cap)
{
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const struct option_spec *o = &option_specs[i];
        bool is_config = strcmp(o->name, "config") == 0;
        if (!(o->mask & mask) || is_config != config_only)
            continue;
        const char *v = getenv(o->env);
        if (v != NULL && !option_set(cfg, o, v, err, err_cap))
            return false;
    }
    return true;
}

/* One pass over argv: with `config_only`, only --config is taken (so the file can be read
 * before the other flags override it); otherwise every flag. */
static bool config_args_load(struct mopay_config *cfg, unsigned mask, int argc, char **argv, bool config_only,
                             int *out_positional, bool *out_help, char *err, size_t err_cap)
{
    int positional = 0;
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            *out_help = true;
            return true;
        }
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            if (!config_only)
                argv[1 + positional++] = arg;
            continue;
        }
        const char *name = arg + 2, *eq = strchr(name, '='), *value;
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        const struct option_spec *o = option_find(name, name_len, mask);
        if (o == NULL) {
            snprintf(err, err_cap, "unknown option '%s' (see --help)", arg);
            return false;
        }
        if (eq != NULL) {
            value = eq + 1;
        } else if (o->type == OPTION_BOOL) {
            value = "true"; /* a bare --flag turns it on */
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            snprintf(err, err_cap, "option --%s needs a value", o->name);
            return false;
        }
        bool is_config = strcmp(o->name, "config") == 0;
        if (is_config == config_only && !option_set(cfg, o, value, err, err_cap))
            return false;
    }
    if (!config_only)
        *out_positional = positional;
    return true;
}

bool mopay_config_load(struct mopay_config *cfg, unsigned mask, int argc, char **argv, int *out_positional,
                       bool *out_help, char *err, size_t err_cap)
{
    mask |= MOPAY_CONFIG_COMMON;
    *out_help = false;
    *out_positional = 0;
    config_defaults(cfg);
    if (!config_env_load(cfg, mask, true, err, err_cap) ||
        !config_args_load(cfg, mask, argc, argv, true, out_positional, out_help, err, err_cap))
        return false;
    if (*out_help)
        return true;
    if (cfg->config[0] != '\0' && !config_file_load(cfg, cfg->config, mask, err, err_cap))
        return false;
    return config_env_load(cfg, mask, false, err, err_cap) &&
           config_args_load(cfg, mask, argc, argv, false, out_positional, out_help, err, err_cap);
}

void mopay_config_usage(FILE *out, unsigned mask)
{
    mask |= MOPAY_CONFIG_COMMON;
    fprintf(out, "Options (flag, environment variable, default):\n");
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const struct option_spec *o = &option_specs[i];
        if (!(o->mask & mask))
            continue;
        fprintf(out, "  --%-16s %-22s %s\n  %-18s %s\n", o->name, o->env,
                o->fallback[0] ? o->fallback : "(none)", "", o->help);
    }
}
