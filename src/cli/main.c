/* mopay's command line: init, serve, errors, bench, demo, qr, fx, version. Everything a person
 * reads goes to stderr; stdout carries only what a script would capture (the admin key, the error
 * table, bench results, the demo's story, the rates an import loaded). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include <sodium.h>

#include "bench.h"
#include "demo.h"
#include "fx.h"
#include "qr.h"
#include "risk.h"
#include "mopay/api.h"
#include "mopay/arena.h"
#include "mopay/clock.h"
#include "mopay/config.h"
#include "mopay/http.h"
#include "mopay/limits.h"
#include "mopay/log.h"
#include "mopay/seq.h"
#include "mopay/store.h"

struct command {
    const char *name;
    const char *summary;
    unsigned options;
    int (*run)(const struct mopay_config *cfg, int argc, char **argv);
};

static int cmd_init(const struct mopay_config *cfg, int argc, char **argv);
static int cmd_serve(const struct mopay_config *cfg, int argc, char **argv);
static int cmd_errors(const struct mopay_config *cfg, int argc, char **argv);
static int cmd_version(const struct mopay_config *cfg, int argc, char **argv);
static int cmd_bench(const struct mopay_config *cfg, int argc, char **argv);
static int cmd_demo(const struct mopay_config *cfg, int argc, char **argv);
static int cmd_qr(const struct mopay_config *cfg, int argc, char **argv);
static int cmd_sim(const struct mopay_config *cfg, int argc, char **argv);
static int cmd_risk(const struct mopay_config *cfg, int argc, char **argv);
static int cmd_fx(const struct mopay_config *cfg, int argc, char **argv);

static const struct command commands[] = {
    {"init", "create the database and print the first admin key", MOPAY_CONFIG_STORE, cmd_init},
    {"serve", "run the server (creates and initializes the database on first start)",
     MOPAY_CONFIG_STORE | MOPAY_CONFIG_SERVER, cmd_serve},
    {"errors", "print the error-code registry (--markdown for the docs table)", 0, cmd_errors},
    {"bench", "benchmarks: 'mopay bench ledger' runs the ledger engine in process, durable", 0, cmd_bench},
    {"demo", "walk a small story through a running server over HTTP, saying what happens", 0, cmd_demo},
    {"qr", "EMV merchant QR codes: 'mopay qr decode|encode|render'", 0, cmd_qr},
    {"sim", "simulate customers and fraud as labelled CSV: 'mopay sim --seed N'", 0, cmd_sim},
    {"risk", "the fraud model on simulated data: 'mopay risk train|eval'", 0, cmd_risk},
    {"fx", "FX rates: 'mopay fx import FILE.csv' loads a rates file into a running server", 0, cmd_fx},
    {"version", "print the version", 0, cmd_version},
};
#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
    fprintf(out, "mopay %s: a mobile payment platform\n\nUsage: mopay COMMAND [OPTIONS]\n\nCommands:\n",
            MOPAY_VERSION);
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'mopay COMMAND --help' for a command's options.\n");
}

/* Opens the store and the keys; on failure prints why and returns false. */
static bool open_store(const struct mopay_config *cfg, struct mopay_store **store, const struct mopay_keys **keys)
{
    char err[512];
    *keys = mopay_keys_load(cfg->master_key_file, err, sizeof(err));
    if (*keys == NULL) {
        MOPAY_LOG_ERROR("cannot load the master key", "reason=\"%s\"", err);
        return false;
    }
    *store = mopay_store_open(cfg->db, err, sizeof(err));
    if (*store == NULL) {
        char db[MOPAY_STORE_URL_BYTES_MAX + 1];
        mopay_store_url_printable(cfg->db, db, sizeof(db));
        MOPAY_LOG_ERROR("cannot open the database", "db=\"%s\" reason=\"%s\"", db, err);
        mopay_keys_free(*keys);
        return false;
    }
    return true;
}

static int cmd_init(const struct mopay_config *cfg, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    struct mopay_store *store;
    const struct mopay_keys *keys;
    if (!open_store(cfg, &store, &keys))
        return 1;
    char secret[MOPAY_ADMIN_KEY_SECRET_BYTES];
    bool created = false;
    enum mopay_err err = mopay_api_bootstrap_admin(store, keys, &created, secret);
    int rc = 0;
    char db[MOPAY_STORE_URL_BYTES_MAX + 1];
    mopay_store_url_printable(cfg->db, db, sizeof(db));
    if (err != MOPAY_OK) {
        MOPAY_LOG_ERROR("cannot create the first admin key", "code=%s", mopay_err_code(err));
        rc = 1;
    } else if (!created) {
        MOPAY_LOG_ERROR("the database is already initialized; its admin key was shown when it was made",
                        "db=\"%s\"", db);
        rc = 1;
    } else {
        fprintf(stderr, "mopay: database ready at %s; the admin key follows (shown once, keep it safe)\n", db);
        printf("%s\n", secret);
        fflush(stdout);
        sodium_memzero(secret, sizeof(secret));
    }
    store->close(store);
    mopay_keys_free(keys);
    return rc;
}

static bool start_clock(const struct mopay_config *cfg)
{
    if (cfg->test_clock[0] == '\0')
        return true;
    int64_t ns;
    if (mopay_time_parse(cfg->test_clock, strlen(cfg->test_clock), &ns) != MOPAY_OK) {
        MOPAY_LOG_ERROR("--test-clock is not an RFC 3339 time", "value=\"%s\"", cfg->test_clock);
        return false;
    }
    mopay_clock_set_ns(ns);
    MOPAY_LOG_WARN("the clock is manual (tests only)", "now=\"%s\"", cfg->test_clock);
    return true;
}

static void announce_admin_key(const struct mopay_config *cfg, struct mopay_store *store,
                               const struct mopay_keys *keys, bool *ok)
{
    char secret[MOPAY_ADMIN_KEY_SECRET_BYTES];
    bool created = false;
    enum mopay_err err = mopay_api_bootstrap_admin(store, keys, &created, secret);
    *ok = err == MOPAY_OK;
    if (!*ok) {
        MOPAY_LOG_ERROR("cannot initialize the database", "code=%s", mopay_err_code(err));
    } else if (created) {
        char db[MOPAY_STORE_URL_BYTES_MAX + 1];
        mopay_store_url_printable(cfg->db, db, sizeof(db));
        fprintf(stderr, "mopay: new database at %s; its admin key (shown once) is:\n", db);
        printf("%s\n", secret);
        fflush(stdout);
        sodium_memzero(secret, sizeof(secret));
    }
}

/* A limit option as the 32 bits the limiters count in (larger: as good as none). */
static uint32_t limit_u32(long v)
{
    return v > (long)UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static int serve_until_signal(const struct mopay_config *cfg, struct mopay_store *store, struct mopay_api *api)
{
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, NULL); /* threads started below inherit the mask */

    struct mopay_seq *seq = mopay_seq_start(store, MOPAY_WRITER_QUEUE_DEPTH);
    if (seq == NULL) {
        MOPAY_LOG_ERROR("cannot start the sequencer", "%s", "");
        return 1;
    }
    struct mopay_seq_hooks hooks;
    mopay_api_seq_hooks(api, &hooks);
    mopay_seq_set_hooks(seq, &hooks);
    struct mopay_http_config http = {.listen = cfg->listen, .metrics_listen = cfg->metrics_listen,
                                     .threads = (int)cfg->threads,
                                     .tls_cert = cfg->tls_cert, .tls_key = cfg->tls_key,
                                     .access_log = cfg->access_log, .seq = seq,
                                     .limits = {.anonymous_per_min = limit_u32(cfg->rate_anonymous_max),
                                                .bad_token_per_min = limit_u32(cfg->rate_bad_token_max),
                                                .principal_per_min = limit_u32(cfg->rate_principal_max),
                                                .idem_records_per_principal_per_day =
                                                    limit_u32(cfg->idempotency_records_per_principal_max),
                                                .trusted_proxies = cfg->trusted_proxies},
                                     .connections_max = (size_t)cfg->connections_max,
                                     .connections_per_address_max = (size_t)cfg->connections_per_address_max,
                                     .idempotency_records_max = (uint64_t)cfg->idempotency_records_max};
    mopay_api_http_config(api, &http);
    char err[512];
    struct mopay_http_server *server = mopay_http_start(&http, err, sizeof(err));
    if (server == NULL) {
        MOPAY_LOG_ERROR("cannot start the HTTP server", "reason=\"%s\"", err);
        mopay_seq_free(seq);
        return 1;
    }
    mopay_api_attach(api, seq, server);
    MOPAY_LOG_INFO("mopay is serving", "listen=%s port=%d metrics_port=%d tls=%s store=%s", cfg->listen,
                   mopay_http_port(server), mopay_http_metrics_port(server), cfg->tls_cert[0] ? "on" : "off",
                   store->backend);
    int sig = 0;
    sigwait(&signals, &sig);
    MOPAY_LOG_INFO("shutting down: draining requests", "signal=%d", sig);
    mopay_http_stop(server); /* no new requests; in-flight ones answered */
    mopay_api_quiesce(api);  /* the webhook deliverer stops submitting */
    mopay_seq_stop(seq);     /* everything queued is applied and committed */
    mopay_api_attach(api, NULL, NULL);
    mopay_http_free(server);
    mopay_seq_free(seq);
    MOPAY_LOG_INFO("stopped", "%s", "");
    return 0;
}

static int cmd_serve(const struct mopay_config *cfg, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    if (!start_clock(cfg))
        return 1;
    struct mopay_store *store;
    const struct mopay_keys *keys;
    if (!open_store(cfg, &store, &keys))
        return 1;
    if (store->claim(store) != MOPAY_OK) {
        MOPAY_LOG_ERROR("cannot serve this database", "reason=\"%s\"", store->last_error);
        store->close(store);
        mopay_keys_free(keys);
        return 1;
    }
    bool ok;
    announce_admin_key(cfg, store, keys, &ok);
    int rc = 1;
    char err[512];
    struct mopay_api_options options = {
        .capacity = {.customers_max = (size_t)cfg->customers_max,
                     .wallets_max = (size_t)cfg->wallets_max,
                     .merchants_max = (size_t)cfg->merchants_max,
                     .orders_max = (size_t)cfg->orders_max,
                     .quotes_max = (size_t)cfg->quotes_max,
                     .payments_max = (size_t)cfg->payments_max,
                     .outbox_events_max = (size_t)cfg->outbox_events_max,
                     .outbox_events_per_merchant_max = (size_t)cfg->outbox_events_per_merchant_max,
                     .quotes_per_customer_per_hour = limit_u32(cfg->quotes_per_customer_max),
                     .declines_per_customer_per_hour = limit_u32(cfg->declines_per_customer_max)},
        .ledger_limits = {.accounts_max = (uint32_t)cfg->ledger_accounts_max,
                          .transfers_max = (uint32_t)cfg->ledger_transfers_max,
                          .prefault = cfg->ledger_prefault},
        .check_invariants = cfg->check_invariants,
        .tiers = {{cfg->tier0_balance_cap, cfg->tier0_daily_outflow},
                  {cfg->tier1_balance_cap, cfg->tier1_daily_outflow},
                  {cfg->tier2_balance_cap, cfg->tier2_daily_outflow}},
        .session_ttl_s = cfg->session_ttl_s,
        .topup_pending_ttl_s = cfg->topup_ttl_s,
        .sim_callback_delay_s = cfg->sim_callback_delay_s,
        .pin_above_major = cfg->pin_above,
        .paycode_window_steps = (int)cfg->paycode_window,
        .fx_spreads = cfg->fx_spreads,
        .fx_rate_max_age_s = cfg->fx_rate_max_age_s,
        .tax_rules = cfg->tax_rules,
        .risk = cfg->risk,
        .risk_model = cfg->risk_model,
        .risk_rules = cfg->risk_rules,
        .webhook_allow_private = cfg->webhook_allow_private,
        .webhook_allow_insecure = cfg->webhook_allow_insecure,
        .signup_address_per_hour = limit_u32(cfg->signup_address_max),
        .signup_prefix_per_hour = limit_u32(cfg->signup_prefix_max),
        .wrong_codes_max = limit_u32(cfg->wrong_codes_max),
        .wrong_codes_window_s = cfg->wrong_codes_window_s,
    };
    struct mopay_api *api = ok ? mopay_api_new(store, keys, &options, err, sizeof(err)) : NULL;
    if (ok && api == NULL)
        MOPAY_LOG_ERROR("cannot load state", "reason=\"%s\"", err);
    if (api != NULL)
        rc = serve_until_signal(cfg, store, api);
    mopay_api_free(api);
    store->close(store);
    mopay_keys_free(keys);
    return rc;
}

static int cmd_errors(const struct mopay_config *cfg, int argc, char **argv)
{
    (void)cfg;
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("Usage: mopay errors [--markdown]\n\nPrints every error code mopay answers with: its stable "
               "name, HTTP status and title.\n");
        return 0;
    }
    bool markdown = argc > 1 && strcmp(argv[1], "--markdown") == 0;
    if (markdown)
        printf("| code | HTTP status | number | title |\n|---|---|---|---|\n");
    for (size_t i = 0; i < mopay_err_count(); i++) {
        enum mopay_err e = mopay_err_at(i);
        if (markdown)
            printf("| `%s` | %d | %d | %s |\n", mopay_err_code(e), mopay_err_status(e), (int)e, mopay_err_title(e));
        else
            printf("%-28s %d %s\n", mopay_err_code(e), mopay_err_status(e), mopay_err_title(e));
    }
    return 0;
}

static int cmd_bench(const struct mopay_config *cfg, int argc, char **argv)
{
    (void)cfg;
    mopay_log_set_level(MOPAY_LOG_WARN);
    return mopay_cli_bench(argc, argv);
}

static int cmd_sim(const struct mopay_config *cfg, int argc, char **argv)
{
    (void)cfg;
    return mopay_cli_sim(argc, argv);
}

static int cmd_risk(const struct mopay_config *cfg, int argc, char **argv)
{
    (void)cfg;
    return mopay_cli_risk(argc, argv);
}

static int cmd_qr(const struct mopay_config *cfg, int argc, char **argv)
{
    (void)cfg;
    return mopay_cli_qr(argc, argv);
}

static int cmd_fx(const struct mopay_config *cfg, int argc, char **argv)
{
    (void)cfg;
    return mopay_cli_fx(argc, argv);
}

static int cmd_demo(const struct mopay_config *cfg, int argc, char **argv)
{
    (void)cfg;
    return mopay_cli_demo(argc, argv);
}

static int cmd_version(const struct mopay_config *cfg, int argc, char **argv)
{
    (void)cfg;
    (void)argc;
    (void)argv;
    printf("mopay %s\n", MOPAY_VERSION);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const struct command *cmd = NULL;
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            cmd = &commands[i];
    if (cmd == NULL) {
        fprintf(stderr, "mopay: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
        return 2;
    }
    if (cmd->run == cmd_errors || cmd->run == cmd_bench || cmd->run == cmd_demo ||
        cmd->run == cmd_qr || cmd->run == cmd_sim || cmd->run == cmd_risk || cmd->run == cmd_fx) /* they take their own flags */
        return cmd->run(NULL, argc - 1, argv + 1);
    struct mopay_config cfg;
    char err[512];
    int positional;
    bool help;
    if (!mopay_config_load(&cfg, cmd->options, argc - 1, argv + 1, &positional, &help, err, sizeof(err))) {
        fprintf(stderr, "mopay %s: %s\n", cmd->name, err);
        return 2;
    }
    if (help) {
        printf("Usage: mopay %s [OPTIONS]\n\n%s\n\n", cmd->name, cmd->summary);
        mopay_config_usage(stdout, cmd->options);
        return 0;
    }
    enum mopay_log_level level;
    if (!mopay_log_level_parse(cfg.log_level, &level)) {
        fprintf(stderr, "mopay %s: --log-level must be debug, info, warn or error\n", cmd->name);
        return 2;
    }
    mopay_log_set_level(level);
    mopay_arena_json_install();
    return cmd->run(&cfg, positional + 1, argv + 1);
}
