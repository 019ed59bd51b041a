/* `mopay sim` and `mopay risk train|eval`: the simulator's labelled records as CSV, and the
 * risk model trained on one seed and evaluated on another, replayed through the engine exactly
 * as the server runs it (score before commit). stdout carries the CSV and the eval figures;
 * progress and refusals go to stderr. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "risk.h"
#include "mopay/assert.h"
#include "mopay/risk.h"

static const char sim_usage[] =
    "Usage: mopay sim [--seed N] [--customers N] [--days N] [--fraud-scale X] [--out FILE]\n\n"
    "Simulates customers, merchants and fraud (account takeover, card testing, mule chains,\n"
    "stolen payment codes, bursts at night abroad) and writes every record in time order as CSV,\n"
    "labelled legit or with its fraud pattern. The same seed gives the same records.\n"
    "Defaults: --seed 1 --customers 3000 --days 30 --fraud-scale 1; stdout without --out.\n";

static const char risk_usage[] =
    "Usage: mopay risk COMMAND ...\n\n"
    "The fraud model, on the simulator's data (see mopay sim --help).\n\n"
    "Commands:\n"
    "  train --seed N [--customers N] [--days N] --out FILE\n"
    "        simulate, replay through the engine (score, then commit), train the logistic\n"
    "        model, choose its thresholds and write it\n"
    "  eval --model FILE --seed N [--customers N] [--days N]\n"
    "        replay another seed with the model and print precision, recall and false-positive\n"
    "        rate at its thresholds, ROC AUC and recall at 1 % false positives\n";

struct option {
    const char *name;
    const char **value;
};

static bool is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/* Reads "--flag VALUE" pairs; false, having said why, on anything else. */
static bool args_parse(const char *command, int argc, char **argv, const struct option *options, size_t count,
                       bool *help)
{
    for (int i = 1; i < argc; i++) {
        if (is_help(argv[i])) {
            *help = true;
            continue;
        }
        const struct option *o = NULL;
        for (size_t k = 0; k < count; k++)
            if (strcmp(argv[i], options[k].name) == 0)
                o = &options[k];
        if (o == NULL || i + 1 >= argc) {
            fprintf(stderr, "mopay %s: bad argument %s (see mopay %s --help)\n", command, argv[i], command);
            return false;
        }
        *o->value = argv[++i];
    }
    return true;
}

/* A decimal in [lo, hi] from an option's text (NULL: keep *out); false, having said why. */
static bool number_of(const char *command, const char *name, const char *text, uint64_t lo, uint64_t hi,
                      uint64_t *out)
{
    if (text == NULL)
        return true;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 || v < lo || v > hi) {
        fprintf(stderr, "mopay %s: %s must be a whole number from %" PRIu64 " to %" PRIu64 "\n", command, name, lo,
                hi);
        return false;
    }
    *out = v;
    return true;
}

/* --seed, --customers and --days into seed and options. */
static bool sim_args(const char *command, const char *seed_text, const char *customers, const char *days,
                     uint64_t *seed, struct mopay_risk_sim_options *options)
{
    uint64_t c = options->customers, d = options->days;
    if (!number_of(command, "--seed", seed_text, 0, UINT64_MAX, seed) ||
        !number_of(command, "--customers", customers, 2, MOPAY_RISK_SIM_CUSTOMERS_MAX, &c) ||
        !number_of(command, "--days", days, 1, MOPAY_RISK_SIM_DAYS_MAX, &d))
        return false;
    options->customers = (uint32_t)c;
    options->days = (uint32_t)d;
    return true;
}

static const char *const kind_names[MOPAY_RISK_KIND_COUNT] = {"payment", "p2p_out", "withdrawal", "topup"};

static void hex(FILE *out, const uint8_t id[16])
{
    for (int i = 0; i < 16; i++)
        fprintf(out, "%02x", id[i]);
}

static bool csv_record(const struct mopay_risk_sim_record *record, void *ctx)
{
    FILE *out = ctx;
    const struct mopay_risk_event *e = &record->event;
    static const char *const types[] = {"transaction", "wrong_pin", "device_revoked"};
    bool transaction = record->type == MOPAY_RISK_SIM_TRANSACTION;
    fprintf(out, "%" PRId64 ",%s,%s,", e->time_ns, types[record->type], transaction ? kind_names[e->kind] : "");
    hex(out, e->customer);
    fputc(',', out);
    hex(out, e->device);
    fputc(',', out);
    hex(out, e->payee);
    fputc(',', out);
    hex(out, e->card);
    fprintf(out, ",%" PRId64 ",%u,%s,%s,%u,%u,%" PRId64 ",%" PRId64 ",%" PRId64 ",%d,%s\n",
            transaction ? e->amount_minor : 0, e->currency_exponent, e->customer_country, e->payee_country, e->mcc,
            e->kyc_tier, e->device_created_ns, e->funding_created_ns, e->customer_created_ns, e->utc_offset_min,
            mopay_risk_pattern_name(record->pattern));
    return !ferror(out);
}

int mopay_cli_sim(int argc, char **argv)
{
    const char *seed_text = NULL, *customers = NULL, *days = NULL, *scale = NULL, *path = NULL;
    const struct option options[] = {{"--seed", &seed_text}, {"--customers", &customers}, {"--days", &days},
                                     {"--fraud-scale", &scale}, {"--out", &path}};
    bool help = false;
    if (!args_parse("sim", argc, argv, options, sizeof(options) / sizeof(options[0]), &help))
        return 2;
    if (help) {
        fputs(sim_usage, stdout);
        return 0;
    }
    uint64_t seed = 1;
    struct mopay_risk_sim_options o;
    mopay_risk_sim_options_default(&o);
    if (!sim_args("sim", seed_text, customers, days, &seed, &o))
        return 2;
    if (scale != NULL) {
        char *end;
        o.fraud_scale = strtod(scale, &end);
        if (*end != '\0' || end == scale || !(o.fraud_scale >= 0 && o.fraud_scale <= 100)) {
            fprintf(stderr, "mopay sim: --fraud-scale must be a number from 0 to 100\n");
            return 2;
        }
    }
    FILE *out = path != NULL ? fopen(path, "w") : stdout;
    if (out == NULL) {
        fprintf(stderr, "mopay sim: cannot create %s: %s\n", path, strerror(errno));
        return 1;
    }
    fputs("time_ns,type,kind,customer,device,payee,card,amount_minor,currency_exponent,customer_country,"
          "payee_country,mcc,kyc_tier,device_created_ns,funding_created_ns,customer_created_ns,utc_offset_min,"
          "label\n", out);
    bool ok = mopay_risk_sim_run(seed, &o, csv_record, out);
    ok = fflush(out) == 0 && ok;
    if (out != stdout)
        ok = fclose(out) == 0 && ok;
    if (!ok)
        fprintf(stderr, "mopay sim: writing the records failed (out of memory or a full disk)\n");
    return ok ? 0 : 1;
}

/* The seed's records replayed through an engine with `model` (NULL: rules only). */
static bool replay(const char *command, uint64_t seed, const struct mopay_risk_sim_options *options,
                   const struct mopay_risk_model *model, struct mopay_risk_samples *samples)
{
    struct mopay_risk_config config;
    mopay_risk_config_default(&config);
    if (mopay_risk_replay(seed, options, &config, model, samples))
        return true;
    fprintf(stderr, "mopay risk %s: out of memory while replaying the simulation\n", command);
    return false;
}

static int risk_train(int argc, char **argv)
{
    const char *seed_text = NULL, *customers = NULL, *days = NULL, *path = NULL;
    const struct option options[] = {{"--seed", &seed_text}, {"--customers", &customers}, {"--days", &days},
                                     {"--out", &path}};
    bool help = false;
    if (!args_parse("risk train", argc, argv, options, sizeof(options) / sizeof(options[0]), &help))
        return 2;
    if (help) {
        fputs(risk_usage, stdout);
        return 0;
    }
    uint64_t seed = 1;
    struct mopay_risk_sim_options o;
    mopay_risk_sim_options_default(&o);
    if (!sim_args("risk train", seed_text, customers, days, &seed, &o))
        return 2;
    if (path == NULL || seed_text == NULL) {
        fprintf(stderr, "mopay risk train: --seed and --out are required (see mopay risk --help)\n");
        return 2;
    }
    struct mopay_risk_samples samples;
    if (!replay("train", seed, &o, NULL, &samples))
        return 1;
    struct mopay_risk_train_options train;
    mopay_risk_train_options_default(&train);
    struct mopay_risk_model model;
    bool trained = mopay_risk_model_train(samples.features, samples.labels, samples.count, &train, &model);
    mopay_risk_samples_free(&samples);
    if (!trained) {
        fprintf(stderr, "mopay risk train: cannot train (out of memory, or no frauds in this simulation)\n");
        return 1;
    }
    model.trained.seed = seed;
    model.trained.customers = o.customers;
    model.trained.days = o.days;
    char err[512];
    if (!mopay_risk_model_save(&model, path, err, sizeof(err))) {
        fprintf(stderr, "mopay risk train: %s\n", err);
        return 1;
    }
    fprintf(stderr,
            "mopay risk train: %" PRIu64 " events, %" PRIu64 " frauds, %" PRIu32 " iterations, loss %.4f; "
            "confirm_at %.4f, decline_at %.4f; written to %s\n",
            model.trained.samples, model.trained.positives, model.trained.iterations, model.trained.loss,
            model.confirm_at, model.decline_at, path);
    return 0;
}

static double percent(size_t part, size_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0;
}

static void eval_print(const char *path, const struct mopay_risk_model *m, uint64_t seed,
                       const struct mopay_risk_sim_options *o, const struct mopay_risk_eval *e)
{
    printf("risk eval: model %s (trained on seed %" PRIu64 ", %" PRIu32 " customers, %" PRIu32 " days), "
           "seed %" PRIu64 ", %" PRIu32 " customers, %" PRIu32 " days\n",
           path, m->trained.seed, m->trained.customers, m->trained.days, seed, o->customers, o->days);
    printf("events               %zu\n", e->events);
    printf("frauds               %zu (%.2f %%)\n", e->frauds, percent(e->frauds, e->events));
    printf("flagged              %zu (confirm %zu, decline %zu) at confirm_at %.4f, decline_at %.4f\n",
           e->flagged, e->flagged - e->declined, e->declined, m->confirm_at, m->decline_at);
    printf("precision            %.4f\n", e->precision);
    printf("recall               %.4f\n", e->recall);
    printf("false_positive_rate  %.4f\n", e->false_positive_rate);
    printf("roc_auc              %.4f\n", e->roc_auc);
    printf("recall_at_1pct_fpr   %.4f\n", e->recall_at_1pct_fpr);
    printf("flagged by pattern  ");
    for (int p = 0; p < MOPAY_RISK_PATTERN_COUNT; p++)
        printf(" %s %zu/%zu", mopay_risk_pattern_name((enum mopay_risk_pattern)p), e->pattern_flagged[p],
               e->pattern_events[p]);
    printf("\n");
}

static int risk_eval(int argc, char **argv)
{
    const char *seed_text = NULL, *customers = NULL, *days = NULL, *path = NULL;
    const struct option options[] = {{"--seed", &seed_text}, {"--customers", &customers}, {"--days", &days},
                                     {"--model", &path}};
    bool help = false;
    if (!args_parse("risk eval", argc, argv, options, sizeof(options) / sizeof(options[0]), &help))
        return 2;
    if (help) {
        fputs(risk_usage, stdout);
        return 0;
    }
    uint64_t seed = 2;
    struct mopay_risk_sim_options o;
    mopay_risk_sim_options_default(&o);
    if (!sim_args("risk eval", seed_text, customers, days, &seed, &o))
        return 2;
    if (path == NULL || seed_text == NULL) {
        fprintf(stderr, "mopay risk eval: --model and --seed are required (see mopay risk --help)\n");
        return 2;
    }
    struct mopay_risk_model model;
    char err[512];
    if (!mopay_risk_model_load(&model, path, err, sizeof(err))) {
        fprintf(stderr, "mopay risk eval: %s\n", err);
        return 1;
    }
    if (model.trained.seed == seed)
        fprintf(stderr, "mopay risk eval: warning: seed %" PRIu64 " is the training seed\n", seed);
    struct mopay_risk_samples samples;
    if (!replay("eval", seed, &o, &model, &samples))
        return 1;
    struct mopay_risk_eval e;
    bool ok = mopay_risk_evaluate(&samples, &e);
    mopay_risk_samples_free(&samples);
    if (!ok) {
        fprintf(stderr, "mopay risk eval: out of memory\n");
        return 1;
    }
    eval_print(path, &model, seed, &o, &e);
    return fflush(stdout) == 0 ? 0 : 1;
}

int mopay_cli_risk(int argc, char **argv)
{
    if (argc < 2 || is_help(argv[1])) {
        fputs(risk_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "train") == 0)
        return risk_train(argc - 1, argv + 1);
    if (strcmp(argv[1], "eval") == 0)
        return risk_eval(argc - 1, argv + 1);
    fprintf(stderr, "mopay risk: unknown command '%s' (see mopay risk --help)\n", argv[1]);
    return 2;
}
