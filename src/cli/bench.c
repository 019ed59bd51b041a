/* `mopay bench ledger`: the ledger engine in process, durable: the sequencer applies batches of
 * transfers to the ledger and group-commits each batch's log record to the store, exactly as the
 * server does, minus HTTP. Prints one line per case:
 *   bench: ledger uniform sqlite 1234567 transfers/s */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "mopay/assert.h"
#include "mopay/clock.h"
#include "mopay/ledger_service.h"
#include "mopay/seq.h"
#include "mopay/limits.h"
#include "mopay/log.h"
#include "mopay/money.h"

#define BENCH_BATCH MOPAY_LEDGER_EVENTS_PER_COMMAND_MAX
#define BENCH_WINDOW 48 /* commands in flight: enough to fill several group commits */

struct bench_cmd {
    struct mopay_seq_cmd seq;
    struct mopay_ledger_service *service;
    bool accounts;
    size_t count;
    void *events;
    uint8_t *results;
    _Atomic int *in_flight;
    _Atomic uint64_t *failed;
};

static enum mopay_err bench_apply(struct mopay_seq_cmd *c, struct mopay_store *store, int64_t now_ns)
{
    (void)store;
    struct bench_cmd *b = (struct bench_cmd *)c;
    size_t ok = b->accounts ? mopay_ledger_service_create_accounts(b->service, b->events, b->count, now_ns, b->results)
                            : mopay_ledger_service_create_transfers(b->service, b->events, b->count, now_ns,
                                                                    b->results);
    atomic_fetch_add_explicit(b->failed, b->count - ok, memory_order_relaxed);
    return MOPAY_OK;
}

static void bench_done(struct mopay_seq_cmd *c)
{
    struct bench_cmd *b = (struct bench_cmd *)c;
    atomic_fetch_sub_explicit(b->in_flight, 1, memory_order_release);
}

static enum mopay_err bench_before_commit(void *ctx, struct mopay_store *store, int64_t now_ns)
{
    return mopay_ledger_service_before_commit(ctx, store, now_ns);
}

struct bench_run {
    struct mopay_seq *seq;
    struct mopay_ledger_service *service;
    struct bench_cmd cmds[BENCH_WINDOW];
    _Atomic int in_flight;
    _Atomic uint64_t failed;
    uint64_t next_id;
    uint64_t rng;
};

static uint64_t rng_next(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

static void id_of(uint64_t n, uint8_t tag, struct mopay_id *out)
{
    memset(out, 0, sizeof(*out));
    out->bytes[0] = tag;
    for (int i = 0; i < 8; i++)
        out->bytes[8 + i] = (uint8_t)(n >> (8 * (7 - i)));
}

/* Submits a command; a full sequencer queue is waited out (this is a benchmark's client). */
static void bench_submit(struct bench_run *r, struct bench_cmd *cmd)
{
    atomic_fetch_add(&r->in_flight, 1);
    for (;;) {
        enum mopay_err err = mopay_seq_submit(r->seq, &cmd->seq);
        if (err == MOPAY_OK)
            return;
        MOPAY_ASSERT(err == MOPAY_ERR_overloaded);
        usleep(100);
    }
}

static void bench_drain(struct bench_run *r)
{
    while (atomic_load_explicit(&r->in_flight, memory_order_acquire) > 0)
        usleep(100);
}

static void fill_accounts(struct bench_cmd *cmd, uint64_t first, size_t n, uint16_t currency)
{
    struct mopay_ledger_account *a = cmd->events;
    memset(a, 0, n * sizeof(*a));
    for (size_t i = 0; i < n; i++) {
        id_of(first + i + 1, 0xac, &a[i].id);
        a[i].currency = currency;
    }
    cmd->accounts = true;
    cmd->count = n;
}

static void fill_transfers(struct bench_run *r, struct bench_cmd *cmd, size_t n, uint64_t accounts, bool hot,
                           uint16_t currency)
{
    struct mopay_ledger_transfer *t = cmd->events;
    memset(t, 0, n * sizeof(*t));
    for (size_t i = 0; i < n; i++) {
        uint64_t debit = rng_next(&r->rng) % accounts, credit = hot ? 0 : rng_next(&r->rng) % accounts;
        if (credit == debit)
            debit = (debit + 1) % accounts;
        id_of(++r->next_id, 0x7f, &t[i].id);
        id_of(debit + 1, 0xac, &t[i].debit_account_id);
        id_of(credit + 1, 0xac, &t[i].credit_account_id);
        t[i].amount = 1 + rng_next(&r->rng) % 10000;
        t[i].currency = currency;
    }
    cmd->accounts = false;
    cmd->count = n;
}

static struct bench_cmd *slot(struct bench_run *r, uint64_t i)
{
    return &r->cmds[i % BENCH_WINDOW];
}

static double bench_case(struct bench_run *r, uint64_t accounts, uint64_t transfers, bool hot, uint16_t currency)
{
    uint64_t submitted = 0, i = 0;
    int64_t t0 = mopay_clock_monotonic_ns();
    while (submitted < transfers) {
        size_t n = transfers - submitted < BENCH_BATCH ? (size_t)(transfers - submitted) : BENCH_BATCH;
        /* The window is a ring. Commands finish in submission order, so once fewer than
         * BENCH_WINDOW are in flight, the slot used BENCH_WINDOW commands ago is done. */
        while (atomic_load_explicit(&r->in_flight, memory_order_acquire) >= BENCH_WINDOW)
            usleep(50);
        struct bench_cmd *cmd = slot(r, i++);
        fill_transfers(r, cmd, n, accounts, hot, currency);
        cmd->seq.weight = (uint32_t)n;
        bench_submit(r, cmd);
        submitted += n;
    }
    bench_drain(r);
    double seconds = (double)(mopay_clock_monotonic_ns() - t0) / 1e9;
    return (double)transfers / seconds;
}

static void create_accounts(struct bench_run *r, uint64_t accounts, uint16_t currency)
{
    uint64_t i = 0;
    for (uint64_t done = 0; done < accounts;) {
        size_t n = accounts - done < BENCH_BATCH ? (size_t)(accounts - done) : BENCH_BATCH;
        while (atomic_load_explicit(&r->in_flight, memory_order_acquire) >= BENCH_WINDOW)
            usleep(50);
        struct bench_cmd *cmd = slot(r, i++);
        fill_accounts(cmd, done, n, currency);
        cmd->seq.weight = (uint32_t)n;
        bench_submit(r, cmd);
        done += n;
    }
    bench_drain(r);
}

static bool bench_run_init(struct bench_run *r, struct mopay_store *store, uint64_t accounts, uint64_t transfers)
{
    memset(r, 0, sizeof(*r));
    r->rng = 0x9e3779b97f4a7c15ull;
    struct mopay_ledger_limits limits = {.accounts_max = (uint32_t)accounts,
                                         .transfers_max = (uint32_t)(2 * transfers + 2 * BENCH_BATCH),
                                         .prefault = true};
    r->service = mopay_ledger_service_new(&limits, false, NULL);
    r->seq = r->service ? mopay_seq_start(store, 4 * BENCH_WINDOW) : NULL;
    if (r->seq == NULL)
        return false;
    struct mopay_seq_hooks hooks = {.ctx = r->service, .before_commit = bench_before_commit};
    mopay_seq_set_hooks(r->seq, &hooks);
    size_t event = sizeof(struct mopay_ledger_transfer);
    for (int i = 0; i < BENCH_WINDOW; i++) {
        r->cmds[i] = (struct bench_cmd){.seq = {.apply = bench_apply, .done = bench_done}, .service = r->service,
                                        .in_flight = &r->in_flight, .failed = &r->failed};
        r->cmds[i].events = malloc(BENCH_BATCH * event);
        r->cmds[i].results = malloc(BENCH_BATCH);
        if (r->cmds[i].events == NULL || r->cmds[i].results == NULL)
            return false;
    }
    return true;
}

static void bench_run_free(struct bench_run *r)
{
    if (r->seq != NULL)
        mopay_seq_free(r->seq);
    mopay_ledger_service_free(r->service);
    for (int i = 0; i < BENCH_WINDOW; i++) {
        free(r->cmds[i].events);
        free(r->cmds[i].results);
    }
}

/* One case on a fresh database: create the accounts, then time the transfers. */
static int bench_one(const char *url, const char *name, uint64_t accounts, uint64_t transfers, bool hot)
{
    char err[512];
    struct mopay_store *store = mopay_store_open(url, err, sizeof(err));
    if (store == NULL) {
        char printable[MOPAY_STORE_URL_BYTES_MAX + 1];
        mopay_store_url_printable(url, printable, sizeof(printable));
        fprintf(stderr, "mopay bench: cannot open %s: %s\n", printable, err);
        return 1;
    }
    struct bench_run *r = malloc(sizeof(*r));
    int rc = 1;
    if (r == NULL || !bench_run_init(r, store, accounts, transfers)) {
        fprintf(stderr, "mopay bench: out of memory\n");
        goto done;
    }
    const struct mopay_currency *usd = mopay_currency_by_alpha("USD", 3);
    create_accounts(r, accounts, usd->numeric);
    double rate = bench_case(r, accounts, transfers, hot, usd->numeric);
    struct mopay_ledger_check *check = malloc(sizeof(*check));
    mopay_ledger_check(mopay_ledger_service_ledger(r->service), check);
    bool ok = check->ok && atomic_load(&r->failed) == 0 &&
              mopay_ledger_transfer_count(mopay_ledger_service_ledger(r->service)) == transfers;
    free(check);
    if (!ok) {
        fprintf(stderr, "mopay bench: the ledger does not balance or transfers failed (%llu)\n",
                (unsigned long long)atomic_load(&r->failed));
        goto done;
    }
    printf("bench: ledger %s %s %.0f transfers/s\n", name, store->backend, rate);
    fflush(stdout);
    rc = 0;
done:
    if (r != NULL)
        bench_run_free(r);
    free(r);
    store->close(store);
    return rc;
}

static bool parse_count(const char *flag, const char *value, uint64_t *out)
{
    char *end;
    unsigned long long v = strtoull(value, &end, 10);
    if (end == value || *end != '\0' || v == 0 || v > UINT32_MAX / 4) {
        fprintf(stderr, "mopay bench: %s needs a positive count\n", flag);
        return false;
    }
    *out = v;
    return true;
}

int mopay_cli_bench(int argc, char **argv)
{
    uint64_t accounts = 100000, transfers = 10000000;
    const char *db = NULL, *cases = "uniform,hot";
    if (argc < 2 || strcmp(argv[1], "ledger") != 0 || (argc > 2 && strcmp(argv[2], "--help") == 0)) {
        printf("Usage: mopay bench ledger [--db URL] [--accounts N] [--transfers N] [--cases uniform,hot]\n\n"
               "The ledger engine in process, durable: prints 'bench: ledger CASE STORE N transfers/s'.\n"
               "Without --db each case runs on a new SQLite file in a temporary folder.\n");
        bool asked = argc >= 2 && (strcmp(argv[1], "ledger") == 0 || strcmp(argv[1], "--help") == 0 ||
                                   strcmp(argv[1], "-h") == 0);
        return asked ? 0 : 2;
    }
    for (int i = 2; i < argc; i += 2) {
        const char *flag = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = value != NULL;
        if (ok && strcmp(flag, "--db") == 0)
            db = value;
        else if (ok && strcmp(flag, "--cases") == 0)
            cases = value;
        else if (ok && strcmp(flag, "--accounts") == 0)
            ok = parse_count(flag, value, &accounts);
        else if (ok && strcmp(flag, "--transfers") == 0)
            ok = parse_count(flag, value, &transfers);
        else
            ok = false;
        if (!ok) {
            fprintf(stderr, "mopay bench: bad option %s (see mopay bench ledger --help)\n", flag);
            return 2;
        }
    }
    if (db != NULL && strchr(cases, ',') != NULL) {
        fprintf(stderr, "mopay bench: with --db, name one case (--cases uniform or hot): each needs an empty database\n");
        return 2;
    }
    int rc = 0;
    const char *names[] = {"uniform", "hot"};
    for (int c = 0; c < 2; c++) {
        if (strstr(cases, names[c]) == NULL)
            continue;
        char url[1024], dir[] = "/tmp/mopay-bench-XXXXXX";
        if (db == NULL) {
            if (mkdtemp(dir) == NULL)
                return 1;
            snprintf(url, sizeof(url), "sqlite:%s/ledger.db", dir);
        }
        rc |= bench_one(db ? db : url, names[c], accounts, transfers, c == 1);
        if (db == NULL) {
            char cmd[1100];
            snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
            if (system(cmd) != 0)
                fprintf(stderr, "mopay bench: could not remove %s\n", dir);
        }
    }
    return rc;
}
