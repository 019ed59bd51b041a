/* Admission control and exhaustion (issue 11, findings 2 and 3; SPEC section 6): servers started
 * with small limits are driven past each one. Every refusal is a 503 capacity_exhausted
 * problem naming the resource; it changes nothing (balances, counts, the ledger's check); the
 * server stays up; and after a restart it comes up on the full database, holding everything it
 * had, and still refuses more.
 *   full_ledger          finding 3: wallets, a P2P to a phone without a wallet and a merchant
 *                        answer 503 when the ledger has no room for another account
 *   webhook_down         finding 2: a merchant whose webhook does not answer fills its own share
 *                        of the outbox with orders that expire in 1 s; the tick puts their expiry
 *                        off; other merchants are paid; the outbox as a whole fills too
 *   customers_wallets    --customers-max and --wallets-max
 *   commerce_limits      --merchants-max, --orders-max, --payments-max and --quotes-max
 *   connections          --connections-max
 * Webhook URLs name 127.0.0.1 (port 9, where nothing listens, for a merchant whose endpoint is
 * down); once URLs to private addresses are refused these servers need
 * --webhook-allow-private --webhook-allow-insecure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <sodium.h>

#include "consumers.h"
#include "mopay/limits.h"
#include "mopay/quotes.h"
#include "support/receiver.h"

#define DOWN_URL "http://127.0.0.1:9/hooks"
#define ARGS_MAX 24

struct merchant {
    char id[48], key[80];
};

/* The common options and then `extra` (NULL-terminated), into `out`. */
static const char *const *server_args(const char *const *extra, const char **out)
{
    static const char *const common[] = {"--check-invariants",        "--risk=false", "--test-clock", TEST_CLOCK_START,
                                         "--webhook-allow-private", "--webhook-allow-insecure"};
    size_t n = 0;
    for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
        out[n++] = common[i];
    for (size_t i = 0; extra[i] != NULL && n + 1 < ARGS_MAX; i++)
        out[n++] = extra[i];
    out[n] = NULL;
    return out;
}

static void start(struct server *s, const struct server *reuse, const char *const *extra)
{
    const char *args[ARGS_MAX];
    server_start(s, reuse, server_args(extra, args));
}

/* Stops `s` cleanly and starts it again on its database with `extra`. */
static void restart(struct server *s, const char *const *extra)
{
    assert_int_equal(server_stop(s), 0);
    struct server again;
    start(&again, s, extra);
    *s = again;
}

/* A 503 capacity_exhausted whose detail names `what`. */
static void expect_full(const struct server *s, const char *method, const char *path, const char *token,
                        const char *body, const char *what)
{
    struct response r;
    http_call(s, method, path, token, body, NULL, &r);
    if (r.status != 503)
        fprintf(stderr, "%s %s: %ld %.*s\n", method, path, r.status, (int)r.len, r.body);
    expect_problem(&r, 503, "capacity_exhausted", NULL);
    const char *detail = jstr(r.json, "detail");
    if (detail == NULL || strstr(detail, what) == NULL)
        fprintf(stderr, "detail '%s' does not name '%s'\n", detail != NULL ? detail : "(none)", what);
    assert_true(detail != NULL && strstr(detail, what) != NULL);
    response_free(&r);
}

static void ledger_check_ok(const struct server *s)
{
    struct response r;
    api_expect(s, "GET", "/v1/ledger/check", s->admin_key, NULL, 200, NULL, &r);
    assert_true(json_is_true(json_object_get(r.json, "ok")));
    response_free(&r);
}

static void merchant_body(const char *name, const char *webhook, char *out, size_t cap)
{
    snprintf(out, cap,
             "{\"name\":\"%s\",\"mcc\":\"5812\",\"country\":\"CN\",\"city\":\"Shanghai\",\"currency\":\"CNY\","
             "\"fee_bps\":60,\"settlement_account\":\"CN-ACC-001\",\"webhook_url\":\"%s\"}",
             name, webhook);
}

static void merchant_create(const struct server *s, struct merchant *m, const char *name, const char *webhook)
{
    char body[512];
    merchant_body(name, webhook, body, sizeof(body));
    struct response r;
    api_expect(s, "POST", "/v1/merchants", s->admin_key, body, 201, NULL, &r);
    snprintf(m->id, sizeof(m->id), "%s", jstr(json_object_get(r.json, "merchant"), "id"));
    snprintf(m->key, sizeof(m->key), "%s", jstr(r.json, "api_key"));
    response_free(&r);
}

static void wallet_open(const struct server *s, const struct person *p, char *id_out)
{
    struct response r;
    api_expect(s, "POST", "/v1/wallets", p->token, "{\"currency\":\"CNY\"}", 201, NULL, &r);
    if (id_out != NULL)
        snprintf(id_out, 48, "%s", jstr(r.json, "id"));
    response_free(&r);
}

/* A customer with a CNY wallet topped up with 900.00 from a card. */
static void payer_make(const struct server *s, struct person *p, const char *phone, char *wallet)
{
    person_signup(s, p, phone, "Mei Chen", "CN");
    person_login(s, p, TEST_CLOCK_START_S);
    wallet_open(s, p, wallet);
    api_expect(s, "POST", "/v1/funding-sources", p->token,
               "{\"type\":\"card\",\"card\":{\"number\":\"4242424242424242\",\"exp_month\":1,\"exp_year\":2031,"
               "\"holder\":\"Mei\"}}",
               201, NULL, NULL);
    char body[256];
    snprintf(body, sizeof(body), "{\"wallet_id\":\"%s\",\"amount\":\"900.00\",\"currency\":\"CNY\"}", wallet);
    api_expect(s, "POST", "/v1/topups", p->token, body, 201, NULL, NULL);
    assert_int_equal(wallet_amount(s, p->token, wallet, "balance"), 90000);
}

static size_t wallet_count(const struct server *s, const struct person *p)
{
    struct response r;
    api_expect(s, "GET", "/v1/wallets", p->token, NULL, 200, NULL, &r);
    size_t n = json_array_size(json_object_get(r.json, "data"));
    response_free(&r);
    return n;
}

static void p2p_body(const char *phone, const char *amount, char *out, size_t cap)
{
    snprintf(out, cap, "{\"to\":{\"phone\":\"%s\"},\"amount\":\"%s\",\"currency\":\"CNY\",\"note\":\"lunch\"}", phone,
             amount);
}

/* A sign-up body with a fresh device key. */
static void signup_body(const char *phone, char *out, size_t cap)
{
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    char pk64[64];
    sodium_bin2base64(pk64, sizeof(pk64), pk, 32, sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, cap,
             "{\"phone\":\"%s\",\"name\":\"Late Comer\",\"country\":\"CN\",\"pin\":\"123456\","
             "\"device\":{\"public_key\":\"%s\",\"name\":\"phone\"}}",
             phone, pk64);
}

/* A figure from /metrics (-1 when absent). */
static double metric(const struct server *s, const char *name)
{
    struct response r;
    http_call(s, "GET", "/metrics", s->admin_key, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    char key[128];
    snprintf(key, sizeof(key), "\n%s ", name);
    const char *at = strstr(r.body, key);
    double v = at != NULL ? strtod(at + strlen(key), NULL) : -1;
    response_free(&r);
    return v;
}

/* Waits (a bounded number of naps) until the metric reaches `at_least`; asserts it did. */
static void metric_reaches(const struct server *s, const char *name, double at_least)
{
    for (int i = 0; i < 400 && metric(s, name) < at_least; i++)
        usleep(25 * 1000);
    if (metric(s, name) < at_least) {
        struct response r;
        http_call(s, "GET", "/metrics", s->admin_key, NULL, NULL, &r);
        fprintf(stderr, "%s < %g:\n%.*s\n", name, at_least, (int)r.len, r.body);
        response_free(&r);
    }
    assert_true(metric(s, name) >= at_least);
}

static void alive(const struct server *s)
{
    api_expect(s, "GET", "/healthz", NULL, NULL, 200, NULL, NULL);
}

/* --- finding 3: a full ledger --- */

static void full_ledger_refusals(const struct server *s, const struct person *alice, const char *alice_wallet,
                                 const struct person *bob, long long alice_balance)
{
    char body[512];
    p2p_body(bob->phone, "10.00", body, sizeof(body));
    expect_full(s, "POST", "/v1/transfers", alice->token, body, "ledger");
    expect_full(s, "POST", "/v1/wallets", bob->token, "{\"currency\":\"CNY\"}", "ledger");
    merchant_body("One Too Many", "", body, sizeof(body));
    expect_full(s, "POST", "/v1/merchants", s->admin_key, body, "ledger");
    assert_int_equal(wallet_amount(s, alice->token, alice_wallet, "balance"), alice_balance);
    assert_int_equal(wallet_count(s, bob), 0);
    ledger_check_ok(s);
}

static void full_ledger(void **state)
{
    (void)state;
    /* 16 accounts, the last 4 kept for the platform's own (bank clearing, revenue, ...) */
    static const char *const limits[] = {"--ledger-accounts-max", "16", NULL};
    struct server s;
    start(&s, NULL, limits);
    struct merchant shop;
    merchant_create(&s, &shop, "Noodle House", "");
    struct person alice, bob, other[16];
    char alice_wallet[48], phone[32];
    payer_make(&s, &alice, "+8613300133000", alice_wallet);
    size_t opened = 0;
    for (size_t i = 0; i < 16; i++) { /* customers with a wallet each, until the ledger is full */
        snprintf(phone, sizeof(phone), "+86133001331%02zu", i);
        person_signup(&s, &other[i], phone, "Filler", "CN");
        person_login(&s, &other[i], TEST_CLOCK_START_S);
        struct response r;
        http_call(&s, "POST", "/v1/wallets", other[i].token, "{\"currency\":\"CNY\"}", NULL, &r);
        bool full = r.status == 503;
        if (!full)
            assert_int_equal(r.status, 201);
        response_free(&r);
        if (full)
            break;
        opened++;
    }
    assert_true(opened > 0 && opened < 16);
    /* sign-up opens no account: it still works (--customers-max bounds it) */
    person_signup(&s, &bob, "+8613900139000", "Bob", "CN");
    person_login(&s, &bob, TEST_CLOCK_START_S);
    full_ledger_refusals(&s, &alice, alice_wallet, &bob, 90000);
    /* money still moves between accounts that exist */
    char body[256];
    p2p_body(other[0].phone, "10.00", body, sizeof(body));
    api_expect(&s, "POST", "/v1/transfers", alice.token, body, 201, NULL, NULL);
    alive(&s);

    restart(&s, limits);
    full_ledger_refusals(&s, &alice, alice_wallet, &bob, 89000);
    assert_int_equal(wallet_count(&s, &other[0]), 1);
    assert_int_equal(server_stop(&s), 0);
}

/* --- finding 2: a merchant whose webhook is down --- */

static int order_fill(const struct server *s, const struct merchant *m, char first_order[48])
{
    int made = 0;
    for (int i = 0; i < 32; i++) {
        struct response r;
        http_call(s, "POST", "/v1/orders", m->key,
                  "{\"amount\":\"1.00\",\"currency\":\"CNY\",\"reference\":\"X-1\",\"expires_in\":1}", NULL, &r);
        bool full = r.status == 503;
        if (!full)
            assert_int_equal(r.status, 201);
        if (!full && made == 0 && first_order != NULL)
            snprintf(first_order, 48, "%s", jstr(r.json, "id"));
        response_free(&r);
        if (full)
            break;
        made++;
    }
    return made;
}

static void static_qr_body(const struct server *s, const struct merchant *m, const char *amount, char *out, size_t cap)
{
    char path[128];
    struct response r;
    snprintf(path, sizeof(path), "/v1/merchants/%s/qr?format=text", m->id);
    api_expect(s, "GET", path, m->key, NULL, 200, NULL, &r);
    snprintf(out, cap, "{\"qr\":\"%.*s\",\"amount\":\"%s\"}", (int)r.len, r.body, amount);
    response_free(&r);
}

/* The down merchant's share is full: its orders and payments to it are refused, naming its
 * queue; the order whose expiry waits cannot be paid; the merchant that answers is paid. */
static void webhook_down_checks(const struct server *s, const struct merchant *down, const struct merchant *up,
                                const struct person *payer, const char *order)
{
    char body[1024];
    expect_full(s, "POST", "/v1/orders", down->key,
                "{\"amount\":\"1.00\",\"currency\":\"CNY\",\"reference\":\"X-2\",\"expires_in\":1}", "webhook queue");
    static_qr_body(s, down, "2.00", body, sizeof(body));
    expect_full(s, "POST", "/v1/payments", payer->token, body, "webhook queue");
    snprintf(body, sizeof(body), "{\"order_id\":\"%s\"}", order);
    api_expect(s, "POST", "/v1/payments", payer->token, body, 422, "order_expired", NULL);
    static_qr_body(s, up, "3.00", body, sizeof(body));
    api_expect(s, "POST", "/v1/payments", payer->token, body, 201, NULL, NULL);
    ledger_check_ok(s);
    alive(s);
}

static void webhook_down(void **state)
{
    (void)state;
    static const char *const limits[] = {"--outbox-events-per-merchant-max", "4", "--outbox-events-max", "7",
                                         "--payment-pin-above", "5", NULL};
    rx_start(0);
    char up_url[128];
    snprintf(up_url, sizeof(up_url), "http://127.0.0.1:%u/hooks", rx_port());
    struct server s;
    start(&s, NULL, limits);
    struct merchant down, up, late;
    merchant_create(&s, &down, "Gone Fishing", DOWN_URL);
    merchant_create(&s, &up, "Always There", up_url);
    merchant_create(&s, &late, "Also Gone", DOWN_URL);
    struct person payer;
    char wallet[48], order[48];
    payer_make(&s, &payer, "+8613300133000", wallet);

    /* a payment that waits for the PIN (one event), then orders until the share is full */
    char body[1024], waiting[48], path[128];
    static_qr_body(&s, &down, "6.00", body, sizeof(body));
    struct response r;
    api_expect(&s, "POST", "/v1/payments", payer.token, body, 201, NULL, &r);
    assert_string_equal(jstr(r.json, "status"), "requires_confirmation");
    snprintf(waiting, sizeof(waiting), "%s", jstr(r.json, "id"));
    response_free(&r);
    assert_int_equal(order_fill(&s, &down, order), 3);
    /* every order expired, the payment's PIN never came: the tick has no room for their events */
    int64_t clock_s = TEST_CLOCK_START_S;
    test_clock_advance(&s, &clock_s, MOPAY_PAYMENT_CONFIRM_TTL_S + 5);
    metric_reaches(&s, "mopay_order_expiries_deferred_total", 1);
    metric_reaches(&s, "mopay_payment_timeouts_deferred_total", 1);
    snprintf(path, sizeof(path), "/v1/payments/%s", waiting);
    api_expect(&s, "GET", path, payer.token, NULL, 200, NULL, &r);
    assert_string_equal(jstr(r.json, "status"), "requires_confirmation"); /* put off, not lost */
    response_free(&r);
    webhook_down_checks(&s, &down, &up, &payer, order);
    /* the paid merchant's payment.succeeded is delivered, and leaves the outbox */
    for (int i = 0; i < 400 && metric(&s, "mopay_webhooks_pending") > 4; i++)
        usleep(25 * 1000);
    assert_true(metric(&s, "mopay_webhooks_pending") == 4);
    /* the outbox as a whole: 7, of which the first merchant holds 4 */
    assert_int_equal(order_fill(&s, &late, NULL), 3);
    expect_full(&s, "POST", "/v1/orders", late.key,
                "{\"amount\":\"1.00\",\"currency\":\"CNY\",\"reference\":\"X-3\",\"expires_in\":1}",
                "--outbox-events-max");

    /* a restart on the full outbox comes up, runs its ticks, and serves */
    restart(&s, limits);
    clock_s = TEST_CLOCK_START_S; /* a restarted manual clock starts again */
    test_clock_advance(&s, &clock_s, 10);
    metric_reaches(&s, "mopay_order_expiries_deferred_total", 1);
    alive(&s);
    expect_full(&s, "POST", "/v1/orders", down.key,
                "{\"amount\":\"1.00\",\"currency\":\"CNY\",\"reference\":\"X-2\",\"expires_in\":1}",
                "--outbox-events");
    assert_true(metric(&s, "mopay_webhooks_pending") == 7);
    ledger_check_ok(&s);
    /* a lower limit than the events already pending: all are kept, new ones refused */
    static const char *const lower[] = {"--outbox-events-max", "5", NULL};
    restart(&s, lower);
    assert_true(metric(&s, "mopay_webhooks_pending") == 7);
    static_qr_body(&s, &up, "3.00", body, sizeof(body));
    expect_full(&s, "POST", "/v1/payments", payer.token, body, "--outbox-events-max");
    assert_int_equal(server_stop(&s), 0);
    rx_stop();
}

/* --- customers and wallets --- */

static void customers_wallets(void **state)
{
    (void)state;
    static const char *const limits[] = {"--customers-max", "3", "--wallets-max", "2", NULL};
    struct server s;
    start(&s, NULL, limits);
    struct person p[3];
    char phone[32], body[512];
    for (int i = 0; i < 3; i++) {
        snprintf(phone, sizeof(phone), "+86133001332%02d", i);
        person_signup(&s, &p[i], phone, "Early", "CN");
        person_login(&s, &p[i], TEST_CLOCK_START_S);
    }
    signup_body("+8613300133299", body, sizeof(body));
    expect_full(&s, "POST", "/v1/customers", NULL, body, "--customers-max");
    wallet_open(&s, &p[0], NULL);
    wallet_open(&s, &p[1], NULL);
    expect_full(&s, "POST", "/v1/wallets", p[2].token, "{\"currency\":\"CNY\"}", "--wallets-max");
    assert_int_equal(wallet_count(&s, &p[2]), 0);

    restart(&s, limits);
    signup_body("+8613300133299", body, sizeof(body));
    expect_full(&s, "POST", "/v1/customers", NULL, body, "--customers-max");
    expect_full(&s, "POST", "/v1/wallets", p[2].token, "{\"currency\":\"CNY\"}", "--wallets-max");
    assert_int_equal(wallet_count(&s, &p[0]), 1);

    /* with room, the refused phone signs up: nothing of it was kept */
    static const char *const roomier[] = {"--customers-max", "4", "--wallets-max", "3", NULL};
    restart(&s, roomier);
    signup_body("+8613300133299", body, sizeof(body));
    api_expect(&s, "POST", "/v1/customers", NULL, body, 201, NULL, NULL);
    wallet_open(&s, &p[2], NULL);
    ledger_check_ok(&s);
    assert_int_equal(server_stop(&s), 0);
}

/* --- merchants, orders, payments, quotes --- */

static void commerce_refusals(const struct server *s, const struct person *payer, const char *wallet,
                              const struct merchant *shop, const char *open_order, long long balance)
{
    char body[512];
    merchant_body("Third Shop", "", body, sizeof(body));
    expect_full(s, "POST", "/v1/merchants", s->admin_key, body, "--merchants-max");
    expect_full(s, "POST", "/v1/orders", shop->key, "{\"amount\":\"5.00\",\"currency\":\"CNY\",\"reference\":\"O-3\"}",
                "--orders-max");
    snprintf(body, sizeof(body), "{\"order_id\":\"%s\"}", open_order);
    expect_full(s, "POST", "/v1/payments", payer->token, body, "--payments-max");
    expect_full(s, "POST", "/v1/fx/quotes", payer->token,
                "{\"sell_currency\":\"CNY\",\"buy_currency\":\"USD\",\"buy_amount\":\"20.00\",\"lock\":\"5m\"}",
                "--quotes-max");
    char path[128];
    struct response r;
    snprintf(path, sizeof(path), "/v1/orders/%s", open_order);
    api_expect(s, "GET", path, shop->key, NULL, 200, NULL, &r);
    assert_string_equal(jstr(r.json, "status"), "open");
    response_free(&r);
    assert_int_equal(wallet_amount(s, payer->token, wallet, "balance"), balance);
    ledger_check_ok(s);
}

/* An hour after its lock ended a quote leaves memory (its record stays): GET answers 404 and
 * its room takes a new one. */
static void quotes_leave_memory(const struct server *s, const struct person *payer, const char *quote_path)
{
    int64_t clock_s = TEST_CLOCK_START_S;
    test_clock_advance(s, &clock_s, 300 + MOPAY_QUOTE_RETENTION_S);
    struct response r;
    bool gone = false;
    for (int i = 0; i < 400 && !gone; i++) {
        http_call(s, "GET", quote_path, payer->token, NULL, NULL, &r);
        gone = r.status == 404;
        response_free(&r);
        if (!gone)
            usleep(25 * 1000);
    }
    assert_true(gone);
    char body[256], at[32];
    time_t t = (time_t)clock_s;
    strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    snprintf(body, sizeof(body),
             "{\"rates\":[{\"pair\":\"USD/CNY\",\"rate\":\"7.1234\",\"source\":\"test feed\",\"time\":\"%s\"}]}", at);
    api_expect(s, "PUT", "/v1/fx/rates", s->admin_key, body, 200, NULL, NULL);
    api_expect(s, "POST", "/v1/fx/quotes", payer->token,
               "{\"sell_currency\":\"CNY\",\"buy_currency\":\"USD\",\"buy_amount\":\"20.00\",\"lock\":\"5m\"}", 201,
               NULL, NULL);
}

static void commerce_limits(void **state)
{
    (void)state;
    static const char *const limits[] = {"--merchants-max", "2", "--orders-max", "2", "--payments-max", "1",
                                         "--quotes-max", "1", NULL};
    struct server s;
    start(&s, NULL, limits);
    struct merchant shop, other;
    merchant_create(&s, &shop, "Noodle House", "");
    merchant_create(&s, &other, "Tea Corner", "");
    char body[512];
    snprintf(body, sizeof(body),
             "{\"rates\":[{\"pair\":\"USD/CNY\",\"rate\":\"7.1234\",\"source\":\"test feed\",\"time\":\"%s\"}]}",
             TEST_CLOCK_START);
    api_expect(&s, "PUT", "/v1/fx/rates", s.admin_key, body, 200, NULL, NULL);
    struct person payer;
    char wallet[48], orders[2][48];
    payer_make(&s, &payer, "+8613300133000", wallet);
    for (int i = 0; i < 2; i++) {
        struct response r;
        api_expect(&s, "POST", "/v1/orders", shop.key,
                   "{\"amount\":\"5.00\",\"currency\":\"CNY\",\"reference\":\"O-1\"}", 201, NULL, &r);
        snprintf(orders[i], sizeof(orders[i]), "%s", jstr(r.json, "id"));
        response_free(&r);
    }
    snprintf(body, sizeof(body), "{\"order_id\":\"%s\"}", orders[0]);
    api_expect(&s, "POST", "/v1/payments", payer.token, body, 201, NULL, NULL);
    struct response r;
    api_expect(&s, "POST", "/v1/fx/quotes", payer.token,
               "{\"sell_currency\":\"CNY\",\"buy_currency\":\"USD\",\"buy_amount\":\"20.00\",\"lock\":\"5m\"}", 201,
               NULL, &r);
    char quote_path[128];
    snprintf(quote_path, sizeof(quote_path), "/v1/fx/quotes/%s", jstr(r.json, "id"));
    response_free(&r);
    commerce_refusals(&s, &payer, wallet, &shop, orders[1], 89500);
    alive(&s);
    restart(&s, limits);
    commerce_refusals(&s, &payer, wallet, &shop, orders[1], 89500);
    api_expect(&s, "GET", quote_path, payer.token, NULL, 200, NULL, NULL);
    quotes_leave_memory(&s, &payer, quote_path);
    assert_int_equal(server_stop(&s), 0);
}

/* --- one customer's share --- */

/* One customer making quotes, or payments declined for want of money, fills only its own hourly
 * share of what stays in memory (429 with Retry-After), never --quotes-max or --payments-max for
 * everyone: another customer goes on quoting and paying, and the hour gives the share back. */
static void customer_shares(void **state)
{
    (void)state;
    static const char *const limits[] = {"--quotes-per-customer-max", "3", "--declines-per-customer-max", "2",
                                         "--quotes-max", "100", "--payments-max", "100", NULL};
    static const char quote[] =
        "{\"sell_currency\":\"CNY\",\"buy_currency\":\"USD\",\"buy_amount\":\"1.00\",\"lock\":\"1m\"}";
    struct server s;
    start(&s, NULL, limits);
    char body[512], broke_wallet[48], wallet[48];
    snprintf(body, sizeof(body),
             "{\"rates\":[{\"pair\":\"USD/CNY\",\"rate\":\"7.1234\",\"source\":\"test feed\",\"time\":\"%s\"}]}",
             TEST_CLOCK_START);
    api_expect(&s, "PUT", "/v1/fx/rates", s.admin_key, body, 200, NULL, NULL);
    struct merchant shop;
    merchant_create(&s, &shop, "Noodle House", "");
    struct person broke, payer;
    person_signup(&s, &broke, "+8613300133100", "Broke Bo", "CN");
    person_login(&s, &broke, TEST_CLOCK_START_S);
    wallet_open(&s, &broke, broke_wallet);
    payer_make(&s, &payer, "+8613300133101", wallet);
    struct response r;
    for (int i = 0; i < 3; i++)
        api_expect(&s, "POST", "/v1/fx/quotes", broke.token, quote, 201, NULL, NULL);
    api_expect(&s, "POST", "/v1/fx/quotes", broke.token, quote, 429, "rate_limited", &r);
    char retry[16];
    assert_true(response_header(&r, "retry-after", retry, sizeof retry) && atoi(retry) >= 1);
    response_free(&r);
    api_expect(&s, "POST", "/v1/fx/quotes", payer.token, quote, 201, NULL, NULL);
    static_qr_body(&s, &shop, "100.00", body, sizeof body);
    for (int i = 0; i < 2; i++) {
        api_expect(&s, "POST", "/v1/payments", broke.token, body, 201, NULL, &r);
        assert_string_equal(jstr(r.json, "status"), "declined");
        response_free(&r);
    }
    api_expect(&s, "POST", "/v1/payments", broke.token, body, 429, "rate_limited", NULL);
    api_expect(&s, "POST", "/v1/payments", payer.token, body, 201, NULL, &r);
    assert_string_equal(jstr(r.json, "status"), "succeeded");
    response_free(&r);
    int64_t clock_s = TEST_CLOCK_START_S;
    test_clock_advance(&s, &clock_s, 3600);
    api_expect(&s, "POST", "/v1/fx/quotes", broke.token, quote, 201, NULL, NULL);
    api_expect(&s, "POST", "/v1/payments", broke.token, body, 201, NULL, NULL);
    ledger_check_ok(&s);
    assert_int_equal(server_stop(&s), 0);
}

/* --- connections --- */

/* A connection to the server from `from`, a loopback address of this machine (127.x.y.z). */
static int connect_from(const struct server *s, const char *from)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in src = {.sin_family = AF_INET};
    assert_int_equal(inet_pton(AF_INET, from, &src.sin_addr), 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static int connect_to(const struct server *s)
{
    return connect_from(s, "127.0.0.1");
}

/* One keep-alive request on `fd`: true when the server answered 200 (the connection stays open),
 * false when it closed the connection without a word. */
static bool keepalive_ok(int fd)
{
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    assert_int_equal(write(fd, req, sizeof(req) - 1), (ssize_t)(sizeof(req) - 1));
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[512];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    return strncmp(buf, "HTTP/1.1 200", 12) == 0;
}

static void connections(void **state)
{
    (void)state;
    static const char *const limits[] = {"--connections-max", "4", NULL};
    struct server s;
    start(&s, NULL, limits);
    /* Open connections until one is closed at accept: never more than 4 are served at once
     * (the harness's own last connection may still be counted a moment, so at least 3). */
    int fds[8];
    size_t kept = 0;
    for (; kept < 8; kept++) {
        fds[kept] = connect_to(&s);
        if (!keepalive_ok(fds[kept])) {
            close(fds[kept]);
            break;
        }
    }
    assert_true(kept >= 3 && kept <= 4);
    struct response r;
    assert_false(http_try(&s, "GET", "/healthz", NULL, NULL, &r));
    for (size_t i = 0; i < kept; i++)
        close(fds[i]);
    /* the server is up and serves again once they are gone */
    bool served = false;
    for (int i = 0; i < 400 && !served; i++) {
        served = http_try(&s, "GET", "/healthz", NULL, NULL, &r);
        if (served)
            response_free(&r);
        else
            usleep(25 * 1000);
    }
    assert_true(served);
    assert_true(metric(&s, "mopay_http_connections_refused_total") >= 2);
    assert_int_equal(server_stop(&s), 0);
}

/* One address cannot take every connection: past --connections-per-address-max its new ones are
 * closed at accept, while another address is served. */
static void connections_per_address(void **state)
{
    (void)state;
    static const char *const limits[] = {"--connections-max", "20", "--connections-per-address-max", "3", NULL};
    struct server s;
    start(&s, NULL, limits);
    int fds[8];
    size_t kept = 0;
    for (; kept < 8; kept++) {
        fds[kept] = connect_from(&s, "127.0.0.9");
        if (!keepalive_ok(fds[kept])) {
            close(fds[kept]);
            break;
        }
    }
    assert_int_equal(kept, 3);
    int other = connect_from(&s, "127.0.0.10");
    assert_true(keepalive_ok(other));
    close(other);
    for (size_t i = 0; i < kept; i++)
        close(fds[i]);
    bool served = false; /* and the first address is served again once its connections are gone */
    for (int i = 0; i < 400 && !served; i++) {
        int fd = connect_from(&s, "127.0.0.9");
        served = keepalive_ok(fd);
        close(fd);
        if (!served)
            usleep(25 * 1000);
    }
    assert_true(served);
    assert_int_equal(server_stop(&s), 0);
}

int main(int argc, char **argv)
{
    harness_init(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_ledger),     cmocka_unit_test(webhook_down),    cmocka_unit_test(customers_wallets),
        cmocka_unit_test(commerce_limits), cmocka_unit_test(connections),      cmocka_unit_test(customer_shares),
        cmocka_unit_test(connections_per_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
