/* Crash test for payments (issue 12, item 7): from concurrent clients, customers pay merchants'
 * static QR codes, merchants refund part of payments already acknowledged, and customers send
 * each other money, each POST with an Idempotency-Key of its own. The server is killed with
 * SIGKILL at a random (seeded) moment and restarted on the same database and master key. Then:
 *   - every POST is sent again with its key: an acknowledged one replays its first answer byte
 *     for byte (the same id, no second payment); one in flight at the kill either replays (it
 *     was committed) or is applied now, so that every operation sent is applied exactly once;
 *   - every payment, refund and P2P transfer is there by its id, with its amounts, and each
 *     payment's refunded sum is its refunds';
 *   - every wallet and merchant account holds exactly what all the operations say, and each
 *     wallet's history lists each of its operations once and nothing else;
 *   - GET /v1/ledger/check is ok after the restart and at the end.
 * MOPAY_CRASH_SEED repeats a run's choices (mix, amounts, the kill's moment); the seed is printed.
 * argv[3] (optional): seconds of load before the kill (default 1.5; `make bench` runs longer). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "consumers.h"

#define CUSTOMERS 8
#define MERCHANTS 3
#define CLIENTS 16
/* Each wallet starts with CNY 400,000.00 at KYC tier 2 (a balance up to 500,000), the server
 * started with a tier-2 daily outflow of 10,000,000, and no operation moves more than CNY 20.00,
 * far below the PIN step-up (2,000): nothing is declined for want of money or limits in a minute
 * of load (2 cores serve about 3,500 operations a second, half of them payments), so every
 * operation sent must end applied. */
#define TOPUP_MINOR 40000000LL
#define OP_AMOUNT_MAX_MINOR 2000
/* operations a client may send per second of load, above what 2 cores serve (about 220) */
#define OPS_PER_SECOND_MAX 1000
#define HISTORY_PAGE_MAX 100
#define WHY_BYTES 768
#define TIME_TEXT_BYTES 32

static const int merchant_fee_bps[MERCHANTS] = {60, 125, 0};

struct customer {
    struct person p;
    char wallet[48];
    char topup[48];
};

struct shop {
    char id[48], key[96], qr[600];
    int fee_bps;
};

enum op_kind { OP_PAY, OP_REFUND, OP_P2P };

struct op {
    enum op_kind kind;
    int from, to; /* PAY: customer, merchant; REFUND: merchant, customer; P2P: customer, customer */
    long long amount_minor;
    long long fee_minor;          /* PAY: its fee; REFUND: the fee it returned, as answered */
    long long refunds_sent_minor; /* PAY: what refunds sent for it ask back, answered or not */
    long long refunded_minor;     /* PAY: the sum of its refunds, once all are answered */
    struct op *payment;           /* REFUND: the payment it refunds (the same client's) */
    char key[48];
    char *body;
    bool acked;                 /* a 201 came back before the kill */
    bool committed_before_kill; /* in flight, and its retry replayed an answer made before the kill */
    char *reply;                /* the first 201's body, byte for byte */
    size_t reply_len;
    char id[48];
};

struct client {
    int index;
    uint64_t rng;
    struct op *ops;
    size_t n, cap;
    size_t *paid; /* indices of its acknowledged payments: what it may refund */
    size_t paid_n;
    char why[WHY_BYTES]; /* the first thing that went wrong, for the main thread to report */
};

static struct server srv;
static struct customer customers[CUSTOMERS];
static struct shop shops[MERCHANTS];
static struct client clients[CLIENTS];
static double load_seconds = 1.5;
static unsigned long long seed;
static _Atomic bool killed;
static _Atomic size_t acked_total;
static char kill_time[TIME_TEXT_BYTES]; /* RFC 3339 with milliseconds, as the server writes times */

/* splitmix64: a client's choices follow from the seed alone */
static uint64_t rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static long long rng_below(uint64_t *state, long long n)
{
    return (long long)(rng_next(state) % (uint64_t)n);
}

static void money_text(long long minor, char *out, size_t cap)
{
    snprintf(out, cap, "%lld.%02lld", minor / 100, minor % 100);
}

static void time_now_text(char *out, size_t cap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char whole[24];
    strftime(whole, sizeof(whole), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, cap, "%.19s.%03dZ", whole, (int)(ts.tv_nsec / 1000000));
}

static bool why_set(char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Notes the first failure (later ones are consequences); always false, for `return why_set(...)`. */
static bool why_set(char *why, const char *fmt, ...)
{
    if (why[0] != '\0')
        return false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, WHY_BYTES, fmt, ap);
    va_end(ap);
    return false;
}

/* --- the world: merchants, and customers with money --- */

static void merchant_make(struct shop *m, int index)
{
    char body[512], path[160];
    snprintf(body, sizeof(body),
             "{\"name\":\"Crash Shop %d\",\"mcc\":\"5812\",\"country\":\"CN\",\"city\":\"Shanghai\",\"currency\":\"CNY\","
             "\"fee_bps\":%d,\"settlement_account\":\"CN-ACC-%03d\"}",
             index, merchant_fee_bps[index], index);
    struct response r;
    api_expect(&srv, "POST", "/v1/merchants", srv.admin_key, body, 201, NULL, &r);
    snprintf(m->id, sizeof(m->id), "%s", jstr(json_object_get(r.json, "merchant"), "id"));
    snprintf(m->key, sizeof(m->key), "%s", jstr(r.json, "api_key"));
    m->fee_bps = merchant_fee_bps[index];
    response_free(&r);
    snprintf(path, sizeof(path), "/v1/merchants/%.47s/qr?format=text", m->id);
    api_expect(&srv, "GET", path, m->key, NULL, 200, NULL, &r);
    assert_true(r.len < sizeof(m->qr));
    snprintf(m->qr, sizeof(m->qr), "%.*s", (int)r.len, r.body);
    response_free(&r);
}

static void customer_make(struct customer *c, int index)
{
    char phone[32], name[32], path[128], body[512];
    snprintf(phone, sizeof(phone), "+86137%08d", 12000 + index);
    snprintf(name, sizeof(name), "Crash Payer%d", index);
    person_signup(&srv, &c->p, phone, name, "CN");
    person_login(&srv, &c->p, (int64_t)time(NULL));
    snprintf(path, sizeof(path), "/v1/customers/%s/kyc", c->p.id);
    api_expect(&srv, "POST", path, srv.admin_key,
               "{\"tier\":2,\"document_type\":\"passport\",\"document_number\":\"E1200000\"}", 200, NULL, NULL);
    struct response r;
    api_expect(&srv, "POST", "/v1/wallets", c->p.token, "{\"currency\":\"CNY\"}", 201, NULL, &r);
    snprintf(c->wallet, sizeof(c->wallet), "%s", jstr(r.json, "id"));
    response_free(&r);
    api_expect(&srv, "POST", "/v1/funding-sources", c->p.token,
               "{\"type\":\"card\",\"card\":{\"number\":\"4242424242424242\",\"exp_month\":12,\"exp_year\":2035,"
               "\"holder\":\"Crash Payer\"}}",
               201, NULL, NULL);
    char amount[32];
    money_text(TOPUP_MINOR, amount, sizeof(amount));
    snprintf(body, sizeof(body), "{\"wallet_id\":\"%s\",\"amount\":\"%s\",\"currency\":\"CNY\"}", c->wallet, amount);
    api_expect(&srv, "POST", "/v1/topups", c->p.token, body, 201, NULL, &r);
    assert_string_equal(jstr(r.json, "status"), "succeeded");
    snprintf(c->topup, sizeof(c->topup), "%s", jstr(r.json, "id"));
    response_free(&r);
}

/* --- one operation: what it is, its request, and what its answer must say --- */

static const char *op_path(const struct op *op)
{
    return op->kind == OP_PAY ? "/v1/payments" : op->kind == OP_REFUND ? "/v1/refunds" : "/v1/transfers";
}

static const char *op_token(const struct op *op)
{
    return op->kind == OP_REFUND ? shops[op->from].key : customers[op->from].p.token;
}

static const char *op_name(const struct op *op)
{
    return op->kind == OP_PAY ? "payment" : op->kind == OP_REFUND ? "refund" : "P2P transfer";
}

static void op_body(struct op *op)
{
    char amount[32], body[1024];
    money_text(op->amount_minor, amount, sizeof(amount));
    if (op->kind == OP_PAY)
        snprintf(body, sizeof(body), "{\"qr\":\"%s\",\"amount\":\"%s\"}", shops[op->to].qr, amount);
    else if (op->kind == OP_REFUND)
        snprintf(body, sizeof(body), "{\"payment_id\":\"%s\",\"amount\":\"%s\",\"reason\":\"crash test\"}",
                 op->payment->id, amount);
    else
        snprintf(body, sizeof(body), "{\"to\":{\"wallet_id\":\"%s\"},\"amount\":\"%s\",\"currency\":\"CNY\","
                 "\"note\":\"crash test\"}", customers[op->to].wallet, amount);
    op->body = strdup(body);
    assert_non_null(op->body);
}

/* A partial refund of one of the client's acknowledged payments: at most half of what no refund
 * sent so far asks back, so that the refunds never add up to more than the payment. */
static bool op_plan_refund(struct client *c, struct op *op)
{
    if (c->paid_n == 0)
        return false;
    struct op *p = &c->ops[c->paid[rng_below(&c->rng, (long long)c->paid_n)]];
    long long left = p->amount_minor - p->refunds_sent_minor;
    if (left < 2)
        return false;
    *op = (struct op){.kind = OP_REFUND, .from = p->to, .to = p->from, .payment = p};
    op->amount_minor = 1 + rng_below(&c->rng, left / 2);
    p->refunds_sent_minor += op->amount_minor;
    return true;
}

/* The next operation of client c: half payments, a quarter refunds, a quarter P2P. */
static void op_plan(struct client *c, struct op *op)
{
    long long dice = rng_below(&c->rng, 4);
    if (dice == 3 && op_plan_refund(c, op)) {
        /* planned */
    } else if (dice == 2) {
        int from = (int)rng_below(&c->rng, CUSTOMERS);
        int to = (from + 1 + (int)rng_below(&c->rng, CUSTOMERS - 1)) % CUSTOMERS;
        *op = (struct op){.kind = OP_P2P, .from = from, .to = to};
        op->amount_minor = 1 + rng_below(&c->rng, OP_AMOUNT_MAX_MINOR);
    } else {
        *op = (struct op){.kind = OP_PAY, .from = (int)rng_below(&c->rng, CUSTOMERS),
                          .to = (int)rng_below(&c->rng, MERCHANTS)};
        op->amount_minor = 1 + rng_below(&c->rng, OP_AMOUNT_MAX_MINOR);
    }
    snprintf(op->key, sizeof(op->key), "crashpay-%llx-%d-%zu", seed, c->index, c->n);
    op_body(op);
}

static bool op_send(const struct op *op, struct response *r)
{
    char header[80];
    snprintf(header, sizeof(header), "Idempotency-Key: %s", op->key);
    const char *const headers[] = {header, NULL};
    return http_try_with(&srv, "POST", op_path(op), op_token(op), op->body, headers, r);
}

static bool field_is(json_t *j, const char *key, const char *want)
{
    const char *got = jstr(j, key);
    return got != NULL && strcmp(got, want) == 0;
}

static bool money_is(json_t *j, const char *key, long long want_minor)
{
    char want[32];
    money_text(want_minor, want, sizeof(want));
    return field_is(j, key, want);
}

/* Checks a first answer (a 201) against the operation and keeps its id and fee. */
static bool op_take(struct op *op, const struct response *r, char *why)
{
    json_t *j = r->json;
    const char *id = jstr(j, "id");
    bool ok = r->status == 201 && id != NULL && strlen(id) < sizeof(op->id) && field_is(j, "status", "succeeded") &&
              money_is(j, "amount", op->amount_minor);
    if (ok && op->kind == OP_PAY) {
        op->fee_minor = op->amount_minor * shops[op->to].fee_bps / 10000; /* rounded down */
        ok = field_is(j, "merchant_id", shops[op->to].id) && field_is(j, "wallet_id", customers[op->from].wallet) &&
             money_is(j, "fee", op->fee_minor) && money_is(j, "refunded", 0);
    } else if (ok && op->kind == OP_REFUND) {
        const char *fee = jstr(j, "fee_returned");
        op->fee_minor = fee != NULL ? minor_of(fee) : -1;
        ok = field_is(j, "payment_id", op->payment->id) && op->fee_minor >= 0 &&
             op->fee_minor <= op->payment->fee_minor;
    } else if (ok) {
        ok = field_is(j, "from_wallet_id", customers[op->from].wallet) &&
             field_is(j, "to_wallet_id", customers[op->to].wallet);
    }
    if (!ok)
        return why_set(why, "%s %s (key %s) answered %ld: %s", op_name(op), op->body, op->key, r->status,
                       r->body != NULL ? r->body : "");
    snprintf(op->id, sizeof(op->id), "%s", id);
    return true;
}

/* --- the load, and the kill --- */

static void op_acked(struct client *c, struct op *op, struct response *r)
{
    op->acked = true;
    op->reply = r->body; /* kept for the replay's byte-for-byte comparison */
    op->reply_len = r->len;
    r->body = NULL;
    if (op->kind == OP_PAY)
        c->paid[c->paid_n++] = (size_t)(op - c->ops);
    atomic_fetch_add(&acked_total, 1);
}

static void *client_load(void *arg)
{
    struct client *c = arg;
    while (!atomic_load(&killed) && c->n < c->cap && c->why[0] == '\0') {
        struct op *op = &c->ops[c->n];
        op_plan(c, op);
        c->n++; /* sent from here on: in flight until a 201 says otherwise */
        struct response r;
        if (!op_send(op, &r))
            break; /* the server died under us */
        /* a 429 or 5xx is not stored with the key: like one in flight, the retry settles it */
        if (r.status == 201 && op_take(op, &r, c->why))
            op_acked(c, op, &r);
        else if (r.status != 201 && r.status != 429 && r.status < 500)
            why_set(c->why, "%s %s (key %s) answered %ld during the load: %s", op_name(op), op->body, op->key,
                    r.status, r.body != NULL ? r.body : "");
        response_free(&r);
    }
    return NULL;
}

/* Runs the clients, and kills the server at a moment drawn from the seed once payments flow. */
static double load_and_kill(void)
{
    pthread_t threads[CLIENTS];
    size_t cap = (size_t)(OPS_PER_SECOND_MAX * (load_seconds * 1.5 + 2));
    for (int i = 0; i < CLIENTS; i++) {
        clients[i] = (struct client){.index = i, .rng = seed * 31 + (uint64_t)i, .cap = cap};
        clients[i].ops = calloc(cap, sizeof(struct op));
        clients[i].paid = calloc(cap, sizeof(size_t));
        assert_true(clients[i].ops != NULL && clients[i].paid != NULL);
        assert_int_equal(pthread_create(&threads[i], NULL, client_load, &clients[i]), 0);
    }
    /* a slow, busy machine may take a while to acknowledge the first operation */
    for (int i = 0; i < 2000 && atomic_load(&acked_total) == 0; i++)
        usleep(10000);
    uint64_t rng = seed ^ 0x6b696c6cULL;
    double wait_s = load_seconds * (0.5 + (double)rng_below(&rng, 1000000) / 1e6);
    usleep((useconds_t)(wait_s * 1e6));
    atomic_store(&killed, true);
    server_kill(&srv);
    time_now_text(kill_time, sizeof(kill_time)); /* anything the server made, it made before this */
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(threads[i], NULL);
    for (int i = 0; i < CLIENTS; i++) {
        if (clients[i].why[0] != '\0')
            fprintf(stderr, "client %d: %s\n", i, clients[i].why);
        assert_true(clients[i].why[0] == '\0');
    }
    return wait_s;
}

/* --- after the restart --- */

/* Every operation sent again with its key: the acknowledged ones replay their answer, the rest
 * replay (committed before the kill) or are applied now; either way each is answered 201. */
static void *client_retry(void *arg)
{
    struct client *c = arg;
    for (size_t i = 0; i < c->n && c->why[0] == '\0'; i++) {
        struct op *op = &c->ops[i];
        struct response r;
        if (!op_send(op, &r)) {
            why_set(c->why, "%s (key %s): no answer from the restarted server", op_name(op), op->key);
            break;
        }
        if (op->acked) {
            if (r.status != 201 || r.len != op->reply_len || memcmp(r.body, op->reply, r.len) != 0)
                why_set(c->why, "acknowledged %s %s (key %s) not replayed after the restart: %ld %s, first %s",
                        op_name(op), op->id, op->key, r.status, r.body != NULL ? r.body : "", op->reply);
        } else if (op_take(op, &r, c->why)) {
            const char *created = jstr(r.json, "created_at");
            op->committed_before_kill = created != NULL && strcmp(created, kill_time) < 0;
        }
        if (op->kind == OP_REFUND)
            op->payment->refunded_minor += op->amount_minor;
        response_free(&r);
    }
    return NULL;
}

/* Two ids with the same 32 hex digits behind their prefixes (acc_ and wal_). */
static bool same_hex(const char *a, const char *b)
{
    return a != NULL && b != NULL && strlen(a) == 36 && strlen(b) == 36 && strcmp(a + 4, b + 4) == 0;
}

static bool op_reads_back(const struct op *op, char *why)
{
    char path[160];
    if (op->kind == OP_P2P)
        snprintf(path, sizeof(path), "/v1/ledger/transfers/%s", op->id);
    else
        snprintf(path, sizeof(path), "/v1/%s/%s", op->kind == OP_PAY ? "payments" : "refunds", op->id);
    struct response r;
    if (!http_try(&srv, "GET", path, srv.admin_key, NULL, &r))
        return why_set(why, "GET %s: no answer", path);
    json_t *j = r.json;
    bool ok = r.status == 200 && field_is(j, "id", op->id) && money_is(j, "amount", op->amount_minor);
    if (ok && op->kind == OP_PAY)
        ok = field_is(j, "status", "succeeded") && money_is(j, "fee", op->fee_minor) &&
             money_is(j, "refunded", op->refunded_minor);
    else if (ok && op->kind == OP_REFUND)
        ok = field_is(j, "status", "succeeded") && field_is(j, "payment_id", op->payment->id) &&
             money_is(j, "fee_returned", op->fee_minor);
    else if (ok) /* a wallet's ledger account has the wallet's id */
        ok = same_hex(jstr(j, "debit_account_id"), customers[op->from].wallet) &&
             same_hex(jstr(j, "credit_account_id"), customers[op->to].wallet);
    if (!ok)
        why_set(why, "GET %s -> %ld %s (expected amount %lld, fee %lld, refunded %lld)", path, r.status,
                r.body != NULL ? r.body : "", op->amount_minor, op->fee_minor, op->refunded_minor);
    response_free(&r);
    return ok;
}

static void *client_read_back(void *arg)
{
    struct client *c = arg;
    for (size_t i = 0; i < c->n && op_reads_back(&c->ops[i], c->why); i++)
        continue;
    return NULL;
}

static void clients_run(void *(*each)(void *))
{
    pthread_t threads[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, each, &clients[i]), 0);
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(threads[i], NULL);
    for (int i = 0; i < CLIENTS; i++) {
        if (clients[i].why[0] != '\0')
            fprintf(stderr, "client %d: %s\n", i, clients[i].why);
        assert_true(clients[i].why[0] == '\0');
    }
}

/* --- balances and histories from the operations --- */

/* What every wallet and merchant account must hold, every operation applied once. */
static void expected_balances(long long wallet_minor[CUSTOMERS], long long merchant_minor[MERCHANTS])
{
    for (int k = 0; k < CUSTOMERS; k++)
        wallet_minor[k] = TOPUP_MINOR;
    for (int k = 0; k < MERCHANTS; k++)
        merchant_minor[k] = 0;
    for (int i = 0; i < CLIENTS; i++) {
        for (size_t n = 0; n < clients[i].n; n++) {
            const struct op *op = &clients[i].ops[n];
            if (op->kind == OP_PAY) {
                wallet_minor[op->from] -= op->amount_minor;
                merchant_minor[op->to] += op->amount_minor - op->fee_minor;
            } else if (op->kind == OP_REFUND) {
                merchant_minor[op->from] -= op->amount_minor - op->fee_minor;
                wallet_minor[op->to] += op->amount_minor;
            } else {
                wallet_minor[op->from] -= op->amount_minor;
                wallet_minor[op->to] += op->amount_minor;
            }
        }
    }
}

static void expect_balances(void)
{
    long long wallet_minor[CUSTOMERS], merchant_minor[MERCHANTS];
    expected_balances(wallet_minor, merchant_minor);
    for (int k = 0; k < CUSTOMERS; k++) {
        long long got = wallet_amount(&srv, srv.admin_key, customers[k].wallet, "balance");
        if (got != wallet_minor[k])
            fprintf(stderr, "wallet %s holds %lld, the operations say %lld\n", customers[k].wallet, got,
                    wallet_minor[k]);
        assert_int_equal(got, wallet_minor[k]);
    }
    for (int k = 0; k < MERCHANTS; k++) {
        char path[128];
        snprintf(path, sizeof(path), "/v1/ledger/accounts/acc_%s", shops[k].id + 4);
        struct response r;
        api_expect(&srv, "GET", path, srv.admin_key, NULL, 200, NULL, &r);
        long long got = minor_of(jstr(r.json, "credits_posted")) - minor_of(jstr(r.json, "debits_posted"));
        response_free(&r);
        if (got != merchant_minor[k])
            fprintf(stderr, "merchant %s holds %lld, the operations say %lld\n", shops[k].id, got, merchant_minor[k]);
        assert_int_equal(got, merchant_minor[k]);
    }
}

struct lines {
    char **v;
    size_t n, cap;
};

static void lines_add(struct lines *l, const char *type, const char *id, long long signed_minor)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->v = realloc(l->v, l->cap * sizeof(char *));
        assert_non_null(l->v);
    }
    char amount[32], line[160];
    money_text(signed_minor < 0 ? -signed_minor : signed_minor, amount, sizeof(amount));
    snprintf(line, sizeof(line), "%s %s %s%s", type, id, signed_minor < 0 ? "-" : "", amount);
    l->v[l->n] = strdup(line);
    assert_non_null(l->v[l->n]);
    l->n++;
}

static int line_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void lines_free(struct lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    *l = (struct lines){0};
}

/* The entries customer k's wallet history must hold: "type id amount", each once. */
static void history_expected(int k, struct lines *l)
{
    lines_add(l, "topup", customers[k].topup, TOPUP_MINOR);
    for (int i = 0; i < CLIENTS; i++) {
        for (size_t n = 0; n < clients[i].n; n++) {
            const struct op *op = &clients[i].ops[n];
            if (op->kind == OP_PAY && op->from == k)
                lines_add(l, "payment", op->id, -op->amount_minor);
            else if (op->kind == OP_REFUND && op->to == k)
                lines_add(l, "refund", op->id, op->amount_minor);
            if (op->kind == OP_P2P && op->from == k)
                lines_add(l, "p2p_out", op->id, -op->amount_minor);
            if (op->kind == OP_P2P && op->to == k)
                lines_add(l, "p2p_in", op->id, op->amount_minor);
        }
    }
}

/* The wallet's history as the server pages it, every page, in the same form. */
static void history_read(int k, size_t pages_max, struct lines *l)
{
    char path[256], cursor[128] = "";
    for (size_t page = 0; page < pages_max; page++) {
        snprintf(path, sizeof(path), "/v1/wallets/%s/transactions?limit=%d%s%s", customers[k].wallet,
                 HISTORY_PAGE_MAX, cursor[0] ? "&cursor=" : "", cursor);
        struct response r;
        api_expect(&srv, "GET", path, srv.admin_key, NULL, 200, NULL, &r);
        json_t *data = json_object_get(r.json, "data");
        for (size_t i = 0; i < json_array_size(data); i++) {
            json_t *e = json_array_get(data, i);
            lines_add(l, jstr(e, "type"), jstr(e, "id"), minor_of(jstr(e, "amount")));
        }
        const char *next = jstr(r.json, "next_cursor");
        snprintf(cursor, sizeof(cursor), "%s", next != NULL ? next : "");
        response_free(&r);
        if (cursor[0] == '\0')
            return;
    }
    fail_msg("wallet %s: its history goes on past %zu pages", customers[k].wallet, pages_max);
}

static void expect_histories(void)
{
    for (int k = 0; k < CUSTOMERS; k++) {
        struct lines want = {0}, got = {0};
        history_expected(k, &want);
        history_read(k, want.n / HISTORY_PAGE_MAX + 2, &got);
        qsort(want.v, want.n, sizeof(char *), line_cmp);
        qsort(got.v, got.n, sizeof(char *), line_cmp);
        for (size_t i = 0; i < want.n || i < got.n; i++) {
            const char *w = i < want.n ? want.v[i] : "(nothing)", *g = i < got.n ? got.v[i] : "(nothing)";
            if (strcmp(w, g) != 0)
                fail_msg("wallet %s: history entry %zu is '%s', the operations say '%s' (%zu entries, %zu expected)",
                         customers[k].wallet, i, g, w, got.n, want.n);
        }
        lines_free(&want);
        lines_free(&got);
    }
}

static void check_ok(void)
{
    struct response r;
    api_expect(&srv, "GET", "/v1/ledger/check", srv.admin_key, NULL, 200, NULL, &r);
    if (!json_is_true(json_object_get(r.json, "ok")))
        fprintf(stderr, "ledger check: %s\n", r.body);
    assert_true(json_is_true(json_object_get(r.json, "ok")));
    response_free(&r);
}

static void report(double wait_s)
{
    size_t acked[3] = {0}, in_flight = 0, committed = 0;
    for (int i = 0; i < CLIENTS; i++) {
        for (size_t n = 0; n < clients[i].n; n++) {
            const struct op *op = &clients[i].ops[n];
            acked[op->kind] += op->acked;
            in_flight += !op->acked;
            committed += op->committed_before_kill;
        }
    }
    fprintf(stderr,
            "crash-payments test: %zu operations acknowledged (%zu payments, %zu refunds, %zu P2P) before SIGKILL at "
            "%.2f s; %zu unanswered (%zu had committed, %zu applied at the retry); seed %llu\n",
            acked[OP_PAY] + acked[OP_REFUND] + acked[OP_P2P], acked[OP_PAY], acked[OP_REFUND], acked[OP_P2P], wait_s,
            in_flight, committed, in_flight - committed, seed);
}

static void killed_mid_payments_loses_and_doubles_nothing(void **state)
{
    (void)state;
    /* the risk step off: these clients pay faster than people do (test_risk covers that step) */
    static const char *const args[] = {"--check-invariants", "--risk=false", "--tier2-daily-outflow", "10000000", NULL};
    server_start(&srv, NULL, args);
    for (int k = 0; k < MERCHANTS; k++)
        merchant_make(&shops[k], k);
    for (int k = 0; k < CUSTOMERS; k++)
        customer_make(&customers[k], k);
    check_ok();
    double wait_s = load_and_kill();

    struct server again;
    server_start(&again, &srv, args);
    srv = again;
    check_ok();
    clients_run(client_retry);
    clients_run(client_read_back);
    expect_balances();
    expect_histories();
    check_ok();
    report(wait_s);
    assert_true(atomic_load(&acked_total) > 0);
    assert_int_equal(server_stop(&srv), 0);
    for (int i = 0; i < CLIENTS; i++) {
        for (size_t n = 0; n < clients[i].n; n++) {
            free(clients[i].ops[n].body);
            free(clients[i].ops[n].reply);
        }
        free(clients[i].ops);
        free(clients[i].paid);
    }
}

int main(int argc, char **argv)
{
    harness_init(argc, argv);
    if (argc > 3)
        load_seconds = atof(argv[3]);
    const char *fixed = getenv("MOPAY_CRASH_SEED");
    seed = fixed != NULL ? strtoull(fixed, NULL, 0) : (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 16);
    fprintf(stderr, "crash-payments: seed %llu (MOPAY_CRASH_SEED=%llu repeats its choices), %.1f s of load\n", seed,
            seed, load_seconds);
    const struct CMUnitTest tests[] = {cmocka_unit_test(killed_mid_payments_loses_and_doubles_nothing)};
    return cmocka_run_group_tests_name("crash_payments", tests, NULL, NULL);
}
