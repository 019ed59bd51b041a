/* Ledger apply throughput, in memory, one thread: 100,000 accounts, then 10,000,000 transfers in
 * batches of 8,190, between random pairs ("uniform") or all crediting one account ("hot"). Only
 * mopay_ledger_create_transfers is timed; making the batches is not. One line per case:
 *   bench: ledger-apply <case> memory <N> transfers/s
 * Optional arguments (for profiling runs): transfers, accounts, and "uniform" or "hot" for one case. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "mopay/id.h"
#include "mopay/ledger.h"

#define BATCH 8190
#define EUR 978

static uint64_t rng_state = 0x6c6564676572;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Ids as the server makes them: time-ordered, on a clock that moves 1 µs per id. */
static int64_t id_clock = INT64_C(1700000000000000000);

static void accounts_create(struct mopay_ledger *ledger, struct mopay_id *ids, uint32_t count)
{
    static struct mopay_ledger_account batch[BATCH];
    static uint8_t results[BATCH];
    for (uint32_t done = 0; done < count;) {
        uint32_t n = count - done < BATCH ? count - done : BATCH;
        memset(batch, 0, sizeof batch);
        for (uint32_t i = 0; i < n; i++) {
            mopay_id_new(id_clock += 1000, &ids[done + i]);
            batch[i].id = ids[done + i];
            batch[i].currency = EUR;
        }
        if (mopay_ledger_create_accounts(ledger, batch, n, id_clock, results) != n) {
            fprintf(stderr, "ledger_apply: creating accounts failed\n");
            exit(1);
        }
        done += n;
    }
}

/* This runs on a VM whose host backs guest memory lazily: the first touch of a page the guest has
 * not used lately costs the hypervisor about a microsecond per 4 KiB, more than the ledger's own
 * work per transfer, and how much of it a run meets depends on what ran before. A server pays
 * that once, at start-up; so before each case the bench touches and releases as much memory as
 * the case will fill (untimed). The guest's own page faults and zeroing stay in the timing. */
static void memory_warm(size_t bytes)
{
    char *memory = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (memory == MAP_FAILED)
        return;
    (void)madvise(memory, bytes, MADV_HUGEPAGE);
    memset(memory, 1, bytes);
    munmap(memory, bytes);
}

/* Transfers per second over `transfers` transfers; credit account 0 always when `hot`. */
static double run(bool hot, uint32_t accounts, uint32_t transfers)
{
    /* records, states and index: about 136 bytes a transfer, 104 an account */
    memory_warm((size_t)transfers * 140 + (size_t)accounts * 110);
    struct mopay_ledger_limits limits = {accounts, transfers, false};
    struct mopay_ledger *ledger = mopay_ledger_new(&limits);
    struct mopay_id *ids = calloc(accounts, sizeof *ids);
    static struct mopay_ledger_transfer batch[BATCH];
    static uint8_t results[BATCH];
    if (ledger == NULL || ids == NULL) {
        fprintf(stderr, "ledger_apply: out of memory\n");
        exit(1);
    }
    accounts_create(ledger, ids, accounts);
    int64_t elapsed = 0;
    for (uint32_t done = 0; done < transfers;) {
        uint32_t n = transfers - done < BATCH ? transfers - done : BATCH;
        memset(batch, 0, sizeof batch);
        for (uint32_t i = 0; i < n; i++) {
            uint32_t credit = hot ? 0 : (uint32_t)(rng_next() % accounts);
            uint32_t debit = (uint32_t)(rng_next() % (accounts - 1));
            debit += debit >= credit;
            mopay_id_new(id_clock += 1000, &batch[i].id);
            batch[i].debit_account_id = ids[debit];
            batch[i].credit_account_id = ids[credit];
            batch[i].amount = 1 + rng_next() % 10000;
            batch[i].currency = EUR;
            batch[i].code = 1;
        }
        int64_t start = now_ns();
        size_t ok = mopay_ledger_create_transfers(ledger, batch, n, id_clock, results);
        elapsed += now_ns() - start;
        if (ok != n) {
            fprintf(stderr, "ledger_apply: %zu of %u transfers failed\n", n - ok, n);
            exit(1);
        }
        done += n;
    }
    mopay_ledger_free(ledger);
    free(ids);
    return (double)transfers * 1e9 / (double)elapsed;
}

int main(int argc, char **argv)
{
    uint32_t transfers = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 10000000;
    uint32_t accounts = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 100000;
    if (transfers == 0 || accounts < 2) {
        fprintf(stderr, "usage: %s [transfers] [accounts >= 2] [uniform|hot]\n", argv[0]);
        return 2;
    }
    const char *only = argc > 3 ? argv[3] : "";
    if (strcmp(only, "hot") != 0)
        printf("bench: ledger-apply uniform memory %.0f transfers/s\n", run(false, accounts, transfers));
    fflush(stdout);
    if (strcmp(only, "uniform") != 0)
        printf("bench: ledger-apply hot memory %.0f transfers/s\n", run(true, accounts, transfers));
    return 0;
}
