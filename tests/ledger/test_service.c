/* The ledger's durable log: state built by the service batch by batch (with expiries by the
 * tick) and committed to a store is rebuilt byte for byte by replaying the log into an empty
 * ledger, on SQLite and on PostgreSQL; an uncommitted batch leaves no trace. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mopay/ledger_service.h"
#include "mopay/store.h"

static char url[1024];

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void id_of(uint64_t n, uint8_t tag, struct mopay_id *out)
{
    memset(out, 0, sizeof(*out));
    out->bytes[0] = tag;
    memcpy(out->bytes + 8, &n, sizeof(n));
}

#define ACCOUNTS 40
static const struct mopay_ledger_limits limits = {.accounts_max = 64, .transfers_max = 100000};

/* A batch of random transfers: plain, pending with short timeouts, posts and voids of earlier
 * pendings, some linked; many fail, which the log must replay the same way. */
static size_t random_batch(struct mopay_ledger_transfer *t, size_t n, uint64_t *serial)
{
    memset(t, 0, n * sizeof(*t));
    for (size_t i = 0; i < n; i++) {
        id_of(++*serial, 0x7f, &t[i].id);
        uint64_t kind = next() % 10;
        if (kind < 2 && *serial > 20) { /* resolve an earlier one, which may or may not be pending */
            id_of(*serial - 1 - next() % 20, 0x7f, &t[i].pending_id);
            t[i].flags = kind == 0 ? MOPAY_LEDGER_POST_PENDING : MOPAY_LEDGER_VOID_PENDING;
            continue;
        }
        id_of(1 + next() % ACCOUNTS, 0xac, &t[i].debit_account_id);
        id_of(1 + next() % ACCOUNTS, 0xac, &t[i].credit_account_id);
        t[i].amount = 1 + next() % 500;
        t[i].currency = 840;
        if (kind < 5) {
            t[i].flags = MOPAY_LEDGER_PENDING;
            t[i].timeout_s = (uint32_t)(next() % 3);
        }
        if (next() % 7 == 0 && i + 1 < n)
            t[i].flags |= MOPAY_LEDGER_LINKED;
    }
    return n;
}

static struct mopay_store *open_store(void)
{
    char err[512];
    struct mopay_store *s = mopay_store_open(url, err, sizeof(err));
    if (s == NULL)
        fprintf(stderr, "open %s: %s\n", url, err);
    assert_non_null(s);
    return s;
}

static void replay_gives_the_same_digest(void **state)
{
    (void)state;
    struct mopay_store *store = open_store();
    struct mopay_ledger_service *svc = mopay_ledger_service_new(&limits, true, NULL);
    assert_non_null(svc);
    uint64_t records = 0;
    char err[256];
    assert_int_equal(mopay_ledger_service_recover(svc, store, &records, err, sizeof(err)), MOPAY_OK);
    assert_int_equal(records, 0);

    static struct mopay_ledger_account accounts[ACCOUNTS];
    static struct mopay_ledger_transfer transfers[500];
    static uint8_t results[500];
    memset(accounts, 0, sizeof(accounts));
    for (int a = 0; a < ACCOUNTS; a++) {
        id_of((uint64_t)a + 1, 0xac, &accounts[a].id);
        accounts[a].currency = 840;
        accounts[a].flags = a % 3 == 0 ? MOPAY_LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS : 0;
    }
    int64_t now = 1700000000000000000;
    uint64_t serial = 0;
    size_t expired_total = 0;
    assert_int_equal(store->begin(store), MOPAY_OK);
    mopay_ledger_service_create_accounts(svc, accounts, ACCOUNTS, now, results);
    assert_int_equal(mopay_ledger_service_before_commit(svc, store, now), MOPAY_OK);
    assert_int_equal(store->commit(store), MOPAY_OK);
    for (int batch = 0; batch < 60; batch++) {
        now += 400000000; /* 0.4 s: timeouts of 0 to 2 s expire along the way */
        assert_int_equal(store->begin(store), MOPAY_OK);
        uint32_t before = mopay_ledger_transfer_count(mopay_ledger_service_ledger(svc));
        assert_int_equal(mopay_ledger_service_tick(svc, store, now), MOPAY_OK);
        (void)before;
        for (int cmd = 0; cmd < 3; cmd++) {
            size_t n = random_batch(transfers, 1 + next() % 200, &serial);
            mopay_ledger_service_create_transfers(svc, transfers, n, now, results);
        }
        assert_int_equal(mopay_ledger_service_before_commit(svc, store, now), MOPAY_OK);
        assert_int_equal(store->commit(store), MOPAY_OK);
    }
    (void)expired_total;
    /* a batch that never commits: applied in memory, rolled back in the store */
    struct mopay_ledger_service *shadow = NULL;
    uint8_t digest[32], recovered[32];
    mopay_ledger_digest(mopay_ledger_service_ledger(svc), digest);

    struct mopay_store *other = open_store();
    shadow = mopay_ledger_service_new(&limits, true, NULL);
    assert_int_equal(mopay_ledger_service_recover(shadow, other, &records, err, sizeof(err)), MOPAY_OK);
    assert_int_equal(records, 61);
    mopay_ledger_digest(mopay_ledger_service_ledger(shadow), recovered);
    assert_memory_equal(digest, recovered, 32);
    assert_int_equal(mopay_ledger_transfer_count(mopay_ledger_service_ledger(shadow)),
                     mopay_ledger_transfer_count(mopay_ledger_service_ledger(svc)));
    mopay_ledger_service_free(shadow);

    assert_int_equal(store->begin(store), MOPAY_OK);
    size_t n = random_batch(transfers, 100, &serial);
    mopay_ledger_service_create_transfers(svc, transfers, n, now + 1000, results);
    assert_int_equal(mopay_ledger_service_before_commit(svc, store, now + 1000), MOPAY_OK);
    assert_int_equal(store->rollback(store), MOPAY_OK);
    shadow = mopay_ledger_service_new(&limits, true, NULL);
    assert_int_equal(mopay_ledger_service_recover(shadow, other, &records, err, sizeof(err)), MOPAY_OK);
    mopay_ledger_digest(mopay_ledger_service_ledger(shadow), recovered);
    assert_memory_equal(digest, recovered, 32); /* the rolled-back batch is not in the log */
    mopay_ledger_service_free(shadow);
    mopay_ledger_service_free(svc);
    other->close(other);
    store->close(store);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s sqlite: | @PG_URL_FILE\n", argv[0]);
        return 2;
    }
    char dir[] = "/tmp/mopay-ledger-svc-XXXXXX";
    if (strcmp(argv[1], "sqlite:") == 0) {
        if (mkdtemp(dir) == NULL)
            return 1;
        snprintf(url, sizeof(url), "sqlite:%s/ledger.db", dir);
    } else {
        FILE *f = fopen(argv[1] + 1, "r");
        if (f == NULL || fgets(url, sizeof(url), f) == NULL)
            return 1;
        fclose(f);
        url[strcspn(url, "\r\n")] = '\0';
        /* a database of its own, so the log starts empty */
        char sql[128], base[1024];
        snprintf(base, sizeof(base), "%s", url);
        char name[64];
        snprintf(name, sizeof(name), "mopay_svc_%d", (int)getpid());
        char cmd[1400];
        const char *q = strchr(base, '?');
        snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
        snprintf(cmd, sizeof(cmd), "psql -X -q '%s' -c '%s' >/dev/null", base, sql);
        if (system(cmd) != 0)
            return 1;
        snprintf(url, sizeof(url), "postgresql:///%s%s", name, q ? q : "");
    }
    const struct CMUnitTest tests[] = {cmocka_unit_test(replay_gives_the_same_digest)};
    int rc = cmocka_run_group_tests_name("ledger_service", tests, NULL, NULL);
    if (strcmp(argv[1], "sqlite:") == 0) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            rc++;
    }
    return rc;
}
