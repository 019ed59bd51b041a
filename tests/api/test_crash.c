/* Crash test: clients post transfer batches concurrently, the server is killed with SIGKILL at a
 * random moment and restarted. Then: every acknowledged transfer is there, the invariants hold,
 * and resubmitting every transfer with its id gives ok or exists, never a second application,
 * so every account ends with exactly the balance the whole plan implies.
 *
 * argv[3] (optional): seconds of load before the kill (default 1.5; `make bench` runs longer). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define ACCOUNTS 50
#define CLIENTS 4
#define PER_BATCH 100
/* Far more than a client gets through before the kill: about 4,000 batches per 1.5 s of load
 * would do on a fast machine; the plan is set from the load time in main. */
static uint64_t batches_per_client = 4000;
#define BATCHES_PER_CLIENT batches_per_client

static struct server srv;
static double load_seconds = 1.5;
static _Atomic bool killed;
static _Atomic uint8_t *acked; /* per transfer: 1 once a 200 carried its result */

static uint64_t plan_transfers(void)
{
    return (uint64_t)CLIENTS * BATCHES_PER_CLIENT * PER_BATCH;
}

/* Transfer k of the plan: always the same accounts and amount, so it can be resubmitted. */
static void plan(uint64_t k, int *debit, int *credit, unsigned *cents)
{
    *debit = (int)(k * 7 % ACCOUNTS);
    *credit = (int)((k * 13 + 1) % ACCOUNTS);
    if (*credit == *debit)
        *credit = (*credit + 1) % ACCOUNTS;
    *cents = 1 + (unsigned)(k % 997);
}

static size_t batch_body(char *out, size_t cap, uint64_t first)
{
    size_t n = (size_t)snprintf(out, cap, "{\"transfers\":[");
    for (uint64_t k = first; k < first + PER_BATCH; k++) {
        int d, c;
        unsigned cents;
        plan(k, &d, &c, &cents);
        n += (size_t)snprintf(out + n, cap - n,
                              "%s{\"id\":\"trf_%032llx\",\"debit_account_id\":\"acc_%032x\","
                              "\"credit_account_id\":\"acc_%032x\",\"amount\":\"%u.%02u\",\"currency\":\"USD\"}",
                              k == first ? "" : ",", (unsigned long long)k + 1, d + 1, c + 1, cents / 100,
                              cents % 100);
    }
    n += (size_t)snprintf(out + n, cap - n, "]}");
    return n;
}

struct client {
    int index;
    uint64_t sent_batches;
};

static void *client_main(void *arg)
{
    struct client *c = arg;
    static _Thread_local char body[PER_BATCH * 200];
    for (uint64_t b = 0; b < BATCHES_PER_CLIENT && !atomic_load(&killed); b++) {
        uint64_t first = ((uint64_t)c->index * BATCHES_PER_CLIENT + b) * PER_BATCH;
        batch_body(body, sizeof(body), first);
        struct response r;
        if (!http_try(&srv, "POST", "/v1/ledger/transfers", srv.admin_key, body, &r))
            break; /* the server died under us */
        c->sent_batches = b + 1;
        if (r.status == 200) {
            for (size_t i = 0; i < PER_BATCH; i++) {
                const char *result = json_string_value(
                    json_object_get(json_array_get(json_object_get(r.json, "results"), i), "result"));
                assert_non_null(result);
                assert_true(strcmp(result, "ok") == 0 || strcmp(result, "exists") == 0);
                atomic_store(&acked[first + i], 1);
            }
        }
        response_free(&r);
    }
    return NULL;
}

static void create_accounts(void)
{
    char body[ACCOUNTS * 80 + 32];
    size_t n = (size_t)snprintf(body, sizeof(body), "{\"accounts\":[");
    for (int a = 0; a < ACCOUNTS; a++)
        n += (size_t)snprintf(body + n, sizeof(body) - n, "%s{\"id\":\"acc_%032x\",\"currency\":\"USD\"}",
                              a ? "," : "", a + 1);
    snprintf(body + n, sizeof(body) - n, "]}");
    struct response r;
    http_call(&srv, "POST", "/v1/ledger/accounts", srv.admin_key, body, NULL, &r);
    assert_int_equal(r.status, 200);
    response_free(&r);
}

static int64_t cents_of(const char *amount)
{
    const char *dot = strchr(amount, '.');
    assert_non_null(dot);
    return strtoll(amount, NULL, 10) * 100 + strtoll(dot + 1, NULL, 10);
}

/* After resubmitting every batch any client started, each account holds exactly the sums of
 * those batches' transfers: nothing lost, nothing applied twice. */
static void expect_balances(const uint64_t batches[CLIENTS])
{
    static int64_t debits[ACCOUNTS], credits[ACCOUNTS];
    memset(debits, 0, sizeof(debits));
    memset(credits, 0, sizeof(credits));
    for (int i = 0; i < CLIENTS; i++) {
        uint64_t first = (uint64_t)i * BATCHES_PER_CLIENT * PER_BATCH;
        for (uint64_t k = first; k < first + batches[i] * PER_BATCH; k++) {
            int d, c;
            unsigned cents;
            plan(k, &d, &c, &cents);
            debits[d] += cents;
            credits[c] += cents;
        }
    }
    for (int a = 0; a < ACCOUNTS; a++) {
        char path[96];
        snprintf(path, sizeof(path), "/v1/ledger/accounts/acc_%032x", a + 1);
        struct response r;
        http_call(&srv, "GET", path, srv.admin_key, NULL, NULL, &r);
        assert_int_equal(r.status, 200);
        assert_int_equal(cents_of(json_string_value(json_object_get(r.json, "debits_posted"))), debits[a]);
        assert_int_equal(cents_of(json_string_value(json_object_get(r.json, "credits_posted"))), credits[a]);
        response_free(&r);
    }
}

static void check_ok(void)
{
    struct response r;
    http_call(&srv, "GET", "/v1/ledger/check", srv.admin_key, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(json_object_get(r.json, "ok")));
    response_free(&r);
}

static void killed_mid_load_loses_and_doubles_nothing(void **state)
{
    (void)state;
    static const char *const args[] = {"--check-invariants", NULL};
    acked = calloc(plan_transfers(), 1);
    server_start(&srv, NULL, args);
    create_accounts();
    struct client clients[CLIENTS];
    pthread_t threads[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        clients[i] = (struct client){i, 0};
        pthread_create(&threads[i], NULL, client_main, &clients[i]);
    }
    /* the kill comes at a random moment once writes are flowing (a slow, busy machine may take
     * a while to acknowledge the first batch) */
    static _Atomic uint64_t first_ack_seen;
    for (int i = 0; i < 2000 && !atomic_load(&first_ack_seen); i++) {
        for (uint64_t k = 0; k < plan_transfers() && !atomic_load(&first_ack_seen); k += PER_BATCH)
            if (atomic_load(&acked[k]))
                atomic_store(&first_ack_seen, 1);
        usleep(10000);
    }
    srand((unsigned)time(NULL));
    double wait = load_seconds * (0.5 + (double)rand() / RAND_MAX);
    usleep((useconds_t)(wait * 1e6));
    atomic_store(&killed, true);
    server_kill(&srv);
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(threads[i], NULL);

    struct server again;
    server_start(&again, &srv, args);
    srv = again;
    check_ok();
    uint64_t acked_count = 0;
    for (uint64_t k = 0; k < plan_transfers(); k++) {
        if (!atomic_load(&acked[k]))
            continue;
        acked_count++;
        if (k % 97 == 0) { /* spot-check reads; the balance check below covers them all */
            char path[64];
            snprintf(path, sizeof(path), "/v1/ledger/transfers/trf_%032llx", (unsigned long long)k + 1);
            struct response r;
            http_call(&srv, "GET", path, srv.admin_key, NULL, NULL, &r);
            assert_int_equal(r.status, 200);
            response_free(&r);
        }
    }
    assert_true(acked_count > 0);
    /* resubmit every batch any client started (the one in flight at the kill included): each
     * transfer is ok (it was lost before it was acknowledged) or exists, never applied again */
    uint64_t batches[CLIENTS];
    static char body[PER_BATCH * 200];
    for (int i = 0; i < CLIENTS; i++) {
        batches[i] = clients[i].sent_batches + 1 < BATCHES_PER_CLIENT ? clients[i].sent_batches + 1
                                                                      : BATCHES_PER_CLIENT;
        for (uint64_t b = 0; b < batches[i]; b++) {
            uint64_t first = ((uint64_t)i * BATCHES_PER_CLIENT + b) * PER_BATCH;
            batch_body(body, sizeof(body), first);
            struct response r;
            http_call(&srv, "POST", "/v1/ledger/transfers", srv.admin_key, body, NULL, &r);
            assert_int_equal(r.status, 200);
            for (size_t t = 0; t < PER_BATCH; t++) {
                const char *result = json_string_value(
                    json_object_get(json_array_get(json_object_get(r.json, "results"), t), "result"));
                assert_non_null(result);
                if (atomic_load(&acked[first + t]))
                    assert_string_equal(result, "exists");
                else
                    assert_true(strcmp(result, "ok") == 0 || strcmp(result, "exists") == 0);
            }
            response_free(&r);
        }
    }
    check_ok();
    expect_balances(batches);
    fprintf(stderr, "crash test: %llu transfers acknowledged before SIGKILL at %.2f s\n",
            (unsigned long long)acked_count, wait);
    assert_int_equal(server_stop(&srv), 0);
    free((void *)acked);
}

int main(int argc, char **argv)
{
    harness_init(argc, argv);
    if (argc > 3)
        load_seconds = atof(argv[3]);
    if (load_seconds > 1.5)
        batches_per_client = (uint64_t)(4000 * (load_seconds / 1.5 + 1));
    const struct CMUnitTest tests[] = {cmocka_unit_test(killed_mid_load_loses_and_doubles_nothing)};
    return cmocka_run_group_tests_name("crash", tests, NULL, NULL);
}
