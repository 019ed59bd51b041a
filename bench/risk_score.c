/* Risk scoring cost, in memory, one thread: the simulator's 100,000 customers over 7 days; the
 * first 2 days warm the engine (score and commit, untimed), then each of the next 5 days is one
 * timed run of mopay_risk_score followed by mopay_risk_commit on every transaction, as the
 * server does (the day's wrong-PIN and revoked-device notes run too, and are not counted as
 * events). Making the records is not timed: a day is buffered first. One line:
 *   bench: risk score+commit N events, X ns/event (median of 5)
 * Optional arguments (for profiling runs): customers, days. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mopay/risk.h"

#define WARM_DAYS 2
#define RUNS_MAX 64

struct bench {
    struct mopay_risk_engine *engine;
    struct mopay_risk_sim_record *day; /* the records of the day being buffered */
    size_t count, capacity;
    int64_t day_end_ns;
    uint32_t days_done;
    uint32_t days; /* the simulated days: what comes after is a partial day */
    double runs_ns_per_event[RUNS_MAX];
    size_t runs;
    size_t events_timed;
    uint64_t declined; /* so the decisions are used */
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *why)
{
    fprintf(stderr, "risk_score: %s\n", why);
    exit(1);
}

/* Scores and commits the buffered day; returns the transactions. */
static size_t day_run(struct bench *b)
{
    size_t transactions = 0;
    for (size_t i = 0; i < b->count; i++) {
        const struct mopay_risk_sim_record *r = &b->day[i];
        bool ok;
        if (r->type == MOPAY_RISK_SIM_WRONG_PIN) {
            ok = mopay_risk_note_wrong_pin(b->engine, r->event.customer, r->event.time_ns);
        } else if (r->type == MOPAY_RISK_SIM_DEVICE_REVOKED) {
            ok = mopay_risk_note_device_revoked(b->engine, r->event.customer, r->event.time_ns);
        } else {
            struct mopay_risk_decision decision;
            mopay_risk_score(b->engine, &r->event, &decision);
            b->declined += decision.action == MOPAY_RISK_DECLINE;
            ok = mopay_risk_commit(b->engine, &r->event);
            transactions++;
        }
        if (!ok)
            die("out of memory");
    }
    return transactions;
}

static void day_finish(struct bench *b)
{
    int64_t start = now_ns();
    size_t transactions = day_run(b);
    int64_t elapsed = now_ns() - start;
    bool timed = b->days_done >= WARM_DAYS && b->days_done < b->days;
    b->days_done++;
    if (timed && b->runs < RUNS_MAX && transactions > 0) {
        b->runs_ns_per_event[b->runs++] = (double)elapsed / (double)transactions;
        b->events_timed += transactions;
    }
    b->count = 0;
    b->day_end_ns += MOPAY_RISK_DAY_NS;
}

static bool each(const struct mopay_risk_sim_record *record, void *ctx)
{
    struct bench *b = ctx;
    while (record->event.time_ns >= b->day_end_ns)
        day_finish(b);
    if (b->count == b->capacity) {
        b->capacity = b->capacity ? b->capacity * 2 : 1 << 16;
        b->day = realloc(b->day, b->capacity * sizeof(*b->day));
        if (b->day == NULL)
            die("out of memory");
    }
    b->day[b->count++] = *record;
    return true;
}

/* Scoring costs the same whatever the weights: a fixed model stands in for a trained one. */
static void model_fixed(struct mopay_risk_model *m)
{
    memset(m, 0, sizeof(*m));
    for (size_t i = 0; i < MOPAY_RISK_FEATURE_COUNT; i++) {
        m->scale[i] = 1;
        m->weight[i] = 0.1;
    }
    m->bias = -8;
    m->confirm_at = 0.9;
    m->decline_at = 0.99;
}

static int double_compare(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

int main(int argc, char **argv)
{
    struct mopay_risk_sim_options options;
    mopay_risk_sim_options_default(&options);
    options.customers = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 100000;
    options.days = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : WARM_DAYS + 5;
    struct mopay_risk_config config;
    mopay_risk_config_default(&config);
    struct mopay_risk_model model;
    model_fixed(&model);
    struct bench b = {.engine = mopay_risk_engine_new(&config, options.customers * 2u), .days = options.days};
    if (b.engine == NULL)
        die("out of memory");
    mopay_risk_engine_set_model(b.engine, &model);
    b.day_end_ns = options.start_ns + MOPAY_RISK_DAY_NS;
    if (!mopay_risk_sim_run(42, &options, each, &b))
        die("the simulation failed");
    if (b.count > 0)
        day_finish(&b); /* records past the last day: not a full day, not timed */
    if (b.runs == 0)
        die("no timed day (days must exceed 2)");
    qsort(b.runs_ns_per_event, b.runs, sizeof(double), double_compare);
    printf("bench: risk score+commit %zu events, %.0f ns/event (median of %zu)\n", b.events_timed,
           b.runs_ns_per_event[b.runs / 2], b.runs);
    mopay_risk_engine_free(b.engine);
    free(b.day);
    return 0;
}
