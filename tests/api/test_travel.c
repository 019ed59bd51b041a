/* Cross-border and value-added services over HTTP, on a server with a manual clock:
 *   a CNY wallet pays a USD merchant's dynamic QR with a 5-minute quote: debited exactly the
 *   quoted CNY, the merchant credited exactly the USD less its fee, every currency's ledger
 *   balanced; an expired quote (quote_expired) and a used one (quote_used) move nothing; a coupon
 *   is applied, and a refund gives the coupon's share back to its funder and the rest at the
 *   locked rate; a Korean tax-free purchase is refunded at once, then validated; another is not
 *   validated by the deadline and is clawed back; a bill is paid in two parts; the ledger check
 *   is clean at the end;
 *   100 simultaneous claims and payments on an offer with a budget for 10 never overspend it. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "consumers.h"

static struct server srv;
static int64_t clock_s = TEST_CLOCK_START_S;

struct shop {
    char id[48], key[80];
};
static struct shop usd_shop, krw_shop;
static struct person traveller;
static char cny_wallet[48];

static int group_setup(void **state)
{
    (void)state;
    /* the risk step off: this story pays faster than people do (test_risk covers that step) */
    static const char *const args[] = {"--check-invariants", "--risk=false", "--test-clock", TEST_CLOCK_START,
                                       "--fx-spreads", "*:50", "--fx-rate-max-age", "86400",
                                       "--payment-pin-above", "0", NULL};
    server_start(&srv, NULL, args);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    return server_stop(&srv) == 0 ? 0 : -1;
}

static void expect(const char *method, const char *path, const char *token, const char *body, long status,
                   const char *code, struct response *out)
{
    api_expect(&srv, method, path, token, body, status, code, out);
}

static void clock_advance(int64_t seconds)
{
    test_clock_advance(&srv, &clock_s, seconds);
}

/* Minor units of a money string with `decimals` decimals. */
static long long minor_n(const char *amount, int decimals)
{
    assert_non_null(amount);
    long long v = 0;
    int seen = -1, sign = 1;
    for (const char *p = amount; *p; p++) {
        if (*p == '-')
            sign = -1;
        else if (*p == '.')
            seen = 0;
        else {
            v = v * 10 + (*p - '0');
            if (seen >= 0)
                seen++;
        }
    }
    for (int i = seen < 0 ? 0 : seen; i < decimals; i++)
        v *= 10;
    return sign * v;
}

static void shop_create(struct shop *s, const char *name, const char *country, const char *city,
                        const char *currency, const char *path)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"name\":\"%s\",\"mcc\":\"5311\",\"country\":\"%s\",\"city\":\"%s\",\"currency\":\"%s\","
             "\"fee_bps\":60,\"settlement_account\":\"ACC-1\"}",
             name, country, city, currency);
    struct response r;
    expect("POST", path, srv.admin_key, body, 201, NULL, &r);
    snprintf(s->id, sizeof(s->id), "%s", jstr(json_object_get(r.json, "merchant"), "id"));
    snprintf(s->key, sizeof(s->key), "%s", jstr(r.json, "api_key"));
    response_free(&r);
}

/* credits_posted - debits_posted of a ledger account, in minor units. */
static long long account_balance(const char *acc_hex, int decimals)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/ledger/accounts/acc_%s", acc_hex);
    struct response r;
    expect("GET", path, srv.admin_key, NULL, 200, NULL, &r);
    long long v = minor_n(jstr(r.json, "credits_posted"), decimals) - minor_n(jstr(r.json, "debits_posted"), decimals);
    response_free(&r);
    return v;
}

static long long shop_balance(const struct shop *s, int decimals)
{
    return account_balance(s->id + 4, decimals);
}

static long long wallet_cny(void)
{
    return wallet_amount(&srv, traveller.token, cny_wallet, "balance");
}

static void ledger_clean(void)
{
    struct response r;
    expect("GET", "/v1/ledger/check", srv.admin_key, NULL, 200, NULL, &r);
    assert_true(json_is_true(json_object_get(r.json, "ok")));
    response_free(&r);
}

static void setup_world(void)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"rates\":[{\"pair\":\"USD/CNY\",\"rate\":\"7.1234\",\"source\":\"test feed\",\"time\":\"%s\"},"
             "{\"pair\":\"CNY/KRW\",\"rate\":\"194.7\",\"source\":\"test feed\",\"time\":\"%s\"}]}",
             TEST_CLOCK_START, TEST_CLOCK_START);
    expect("PUT", "/v1/fx/rates", srv.admin_key, body, 200, NULL, NULL);
    shop_create(&usd_shop, "Liberty Books", "US", "New York", "USD", "/v1/merchants");
    shop_create(&krw_shop, "Seoul Beauty", "KR", "Seoul", "KRW", "/v1/merchants");
    person_signup(&srv, &traveller, "+8613900000001", "Lin Wei", "CN");
    person_login(&srv, &traveller, clock_s);
    char path[128];
    snprintf(path, sizeof(path), "/v1/customers/%s/kyc", traveller.id);
    expect("POST", path, srv.admin_key, "{\"tier\":2,\"document_type\":\"passport\",\"document_number\":\"E11223344\"}",
           200, NULL, NULL);
    struct response r;
    expect("POST", "/v1/wallets", traveller.token, "{\"currency\":\"CNY\"}", 201, NULL, &r);
    snprintf(cny_wallet, sizeof(cny_wallet), "%s", jstr(r.json, "id"));
    response_free(&r);
    expect("POST", "/v1/funding-sources", traveller.token,
           "{\"type\":\"card\",\"card\":{\"number\":\"6200000000000005\",\"exp_month\":1,\"exp_year\":2031,\"holder\":\"L\"}}",
           201, NULL, NULL);
    snprintf(body, sizeof(body), "{\"wallet_id\":\"%s\",\"amount\":\"20000.00\",\"currency\":\"CNY\"}", cny_wallet);
    expect("POST", "/v1/topups", traveller.token, body, 201, NULL, NULL);
}

/* An order of the shop's and its dynamic QR. */
static void order(const struct shop *s, const char *amount, const char *currency, const char *extra, char *qr,
                  char *id)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"amount\":\"%s\",\"currency\":\"%s\",\"reference\":\"R-%lld\"%s}", amount, currency,
             (long long)clock_s % 100000, extra);
    struct response r;
    expect("POST", "/v1/orders", s->key, body, 201, NULL, &r);
    snprintf(qr, 600, "%s", jstr(r.json, "qr"));
    if (id != NULL)
        snprintf(id, 48, "%s", jstr(r.json, "id"));
    response_free(&r);
}

static void quote(const char *body, char *id, long long *sell_minor)
{
    struct response r;
    expect("POST", "/v1/fx/quotes", traveller.token, body, 201, NULL, &r);
    snprintf(id, 48, "%s", jstr(r.json, "id"));
    *sell_minor = minor_of(jstr(r.json, "sell_amount"));
    assert_string_equal(jstr(r.json, "rate"), "0.140382401662");
    response_free(&r);
}

static void quoted_payment(void)
{
    char qr[600], quote_id[48], body[1024];
    long long sell = 0;
    order(&usd_shop, "20.00", "USD", "", qr, NULL);
    quote("{\"sell_currency\":\"CNY\",\"buy_currency\":\"USD\",\"buy_amount\":\"20.00\",\"lock\":\"5m\"}", quote_id, &sell);
    long long wallet_before = wallet_cny(), shop_before = shop_balance(&usd_shop, 2);
    snprintf(body, sizeof(body), "{\"qr\":\"%s\",\"quote_id\":\"%s\"}", qr, quote_id);
    struct response r;
    expect("POST", "/v1/payments", traveller.token, body, 201, NULL, &r);
    assert_string_equal(jstr(r.json, "status"), "succeeded");
    assert_string_equal(jstr(json_object_get(r.json, "fx"), "quote_id"), quote_id);
    response_free(&r);
    assert_int_equal(wallet_cny(), wallet_before - sell);           /* exactly the quoted CNY */
    assert_int_equal(shop_balance(&usd_shop, 2), shop_before + 2000 - 12); /* exactly 20.00 USD less 0.12 */
    ledger_clean();
    /* the same quote again: used */
    order(&usd_shop, "20.00", "USD", "", qr, NULL);
    snprintf(body, sizeof(body), "{\"qr\":\"%s\",\"quote_id\":\"%s\"}", qr, quote_id);
    expect("POST", "/v1/payments", traveller.token, body, 409, "quote_used", NULL);
    /* a quote past its lock: expired, and nothing moves */
    quote("{\"sell_currency\":\"CNY\",\"buy_currency\":\"USD\",\"buy_amount\":\"20.00\",\"lock\":\"30s\"}", quote_id, &sell);
    clock_advance(31);
    wallet_before = wallet_cny();
    shop_before = shop_balance(&usd_shop, 2);
    snprintf(body, sizeof(body), "{\"qr\":\"%s\",\"quote_id\":\"%s\"}", qr, quote_id);
    expect("POST", "/v1/payments", traveller.token, body, 422, "quote_expired", NULL);
    assert_int_equal(wallet_cny(), wallet_before);
    assert_int_equal(shop_balance(&usd_shop, 2), shop_before);
}

/* A 10 % merchant-funded coupon on a USD purchase paid from CNY at a rate made on the spot; then a
 * full refund: the coupon's share stays with its funder (the merchant never had it), and the
 * wallet gets back exactly what was converted, at the locked rate (the FX fee is not refunded). */
static void coupon_and_refund(void)
{
    struct response r;
    expect("POST", "/v1/offers", usd_shop.key,
           "{\"name\":\"10% off books\",\"kind\":\"percent\",\"percent\":\"10\",\"min_spend\":\"10.00\","
           "\"budget\":\"50.00\",\"valid_until\":\"2027-01-01T00:00:00Z\",\"per_customer_limit\":2}",
           201, NULL, &r);
    char offer[48], path[128], coupon[48], qr[600], body[1024], pay_id[48];
    snprintf(offer, sizeof(offer), "%s", jstr(r.json, "id"));
    response_free(&r);
    snprintf(path, sizeof(path), "/v1/offers/%s/claim", offer);
    expect("POST", path, traveller.token, NULL, 201, NULL, &r);
    snprintf(coupon, sizeof(coupon), "%s", jstr(r.json, "id"));
    response_free(&r);
    order(&usd_shop, "30.00", "USD", "", qr, NULL);
    long long wallet_before = wallet_cny(), shop_before = shop_balance(&usd_shop, 2);
    snprintf(body, sizeof(body), "{\"qr\":\"%s\",\"coupon_id\":\"%s\"}", qr, coupon);
    expect("POST", "/v1/payments", traveller.token, body, 201, NULL, &r);
    assert_string_equal(jstr(r.json, "discount"), "3.00");
    assert_string_equal(jstr(r.json, "fee"), "0.16"); /* 0.6 % of the 27.00 received */
    snprintf(pay_id, sizeof(pay_id), "%s", jstr(r.json, "id"));
    long long paid = minor_of(jstr(r.json, "wallet_amount")), fx_fee = minor_of(jstr(json_object_get(r.json, "fx"), "fee"));
    response_free(&r);
    assert_int_equal(wallet_cny(), wallet_before - paid);
    assert_int_equal(shop_balance(&usd_shop, 2), shop_before + 2700 - 16);
    snprintf(path, sizeof(path), "/v1/coupons");
    expect("GET", path, traveller.token, NULL, 200, NULL, &r);
    assert_string_equal(jstr(json_array_get(json_object_get(r.json, "data"), 0), "status"), "used");
    response_free(&r);
    snprintf(body, sizeof(body), "{\"payment_id\":\"%s\",\"reason\":\"wrong edition\"}", pay_id);
    expect("POST", "/v1/refunds", usd_shop.key, body, 201, NULL, &r);
    assert_string_equal(jstr(r.json, "amount"), "30.00");
    response_free(&r);
    assert_int_equal(wallet_cny(), wallet_before - fx_fee);
    assert_int_equal(shop_balance(&usd_shop, 2), shop_before);
    snprintf(path, sizeof(path), "/v1/offers/%s", offer);
    expect("GET", path, usd_shop.key, NULL, 200, NULL, &r); /* its owner sees the budget */
    assert_string_equal(jstr(r.json, "spent"), "0.00"); /* the budget has the share back */
    response_free(&r);
    ledger_clean();
}

static void tax_refund(const char *gross, const char *vat, char *refund_id, long long *credited)
{
    char qr[600], extra[64], body[1024], pay_id[48];
    snprintf(extra, sizeof(extra), ",\"tax_free\":{\"vat_amount\":\"%s\"}", vat);
    order(&krw_shop, gross, "KRW", extra, qr, NULL);
    snprintf(body, sizeof(body), "{\"qr\":\"%s\"}", qr);
    struct response r;
    expect("POST", "/v1/payments", traveller.token, body, 201, NULL, &r);
    snprintf(pay_id, sizeof(pay_id), "%s", jstr(r.json, "id"));
    assert_true(json_is_true(json_object_get(json_object_get(r.json, "tax_free_form"), "eligible")));
    response_free(&r);
    long long before = wallet_cny();
    snprintf(body, sizeof(body), "{\"payment_ids\":[\"%s\"]}", pay_id);
    expect("POST", "/v1/tax-refunds", traveller.token, body, 201, NULL, &r);
    assert_string_equal(jstr(r.json, "status"), "pending_validation");
    assert_string_equal(jstr(r.json, "refund"), vat);
    snprintf(refund_id, 48, "%s", jstr(r.json, "id"));
    *credited = minor_of(jstr(r.json, "credited"));
    response_free(&r);
    assert_true(*credited > 0);
    assert_int_equal(wallet_cny(), before + *credited);
    expect("POST", "/v1/tax-refunds", traveller.token, body, 422, "tax_form_unusable", NULL); /* once */
}

/* A second traveller gets a refund and then sends everything away: the claw-back will find
 * nothing to take and book it all as owed. Returns what was credited. */
static long long short_wallet_refund(char refund_id[48])
{
    struct person t2;
    person_signup(&srv, &t2, "+8613900000002", "Zhao Min", "CN");
    person_login(&srv, &t2, clock_s);
    struct response r;
    char wallet[48], body[1024], qr[600], pay_id[48];
    expect("POST", "/v1/wallets", t2.token, "{\"currency\":\"CNY\"}", 201, NULL, &r);
    snprintf(wallet, sizeof(wallet), "%s", jstr(r.json, "id"));
    response_free(&r);
    expect("POST", "/v1/funding-sources", t2.token,
           "{\"type\":\"card\",\"card\":{\"number\":\"4242424242424242\",\"exp_month\":1,\"exp_year\":2031,\"holder\":\"Z\"}}",
           201, NULL, NULL);
    snprintf(body, sizeof(body), "{\"wallet_id\":\"%s\",\"amount\":\"250.00\",\"currency\":\"CNY\"}", wallet);
    expect("POST", "/v1/topups", t2.token, body, 201, NULL, NULL);
    order(&krw_shop, "33000", "KRW", ",\"tax_free\":{\"vat_amount\":\"3000\"}", qr, NULL);
    snprintf(body, sizeof(body), "{\"qr\":\"%s\"}", qr);
    expect("POST", "/v1/payments", t2.token, body, 201, NULL, &r);
    snprintf(pay_id, sizeof(pay_id), "%s", jstr(r.json, "id"));
    response_free(&r);
    snprintf(body, sizeof(body), "{\"payment_ids\":[\"%s\"]}", pay_id);
    expect("POST", "/v1/tax-refunds", t2.token, body, 201, NULL, &r);
    snprintf(refund_id, 48, "%s", jstr(r.json, "id"));
    long long credited = minor_of(jstr(r.json, "credited"));
    response_free(&r);
    long long left = wallet_amount(&srv, t2.token, wallet, "balance");
    snprintf(body, sizeof(body), "{\"to\":{\"phone\":\"%s\"},\"amount\":\"%lld.%02lld\",\"currency\":\"CNY\"}",
             traveller.phone, left / 100, left % 100);
    expect("POST", "/v1/transfers", t2.token, body, 201, NULL, NULL);
    assert_int_equal(wallet_amount(&srv, t2.token, wallet, "balance"), 0);
    return credited;
}

static void tax_refunds(void)
{
    char first[48], second[48], path[128];
    long long credited = 0;
    tax_refund("550000", "50000", first, &credited);
    snprintf(path, sizeof(path), "/v1/tax-refunds/%s/validate", first);
    struct response r;
    expect("POST", path, srv.admin_key, NULL, 200, NULL, &r);
    assert_string_equal(jstr(r.json, "status"), "validated");
    response_free(&r);
    expect("POST", path, srv.admin_key, NULL, 409, "tax_refund_not_pending", NULL);
    /* a purchase over the instant cap goes to customs */
    char qr[600], body[1024];
    order(&krw_shop, "1100000", "KRW", ",\"tax_free\":{\"vat_amount\":\"100000\"}", qr, NULL);
    snprintf(body, sizeof(body), "{\"qr\":\"%s\"}", qr);
    expect("POST", "/v1/payments", traveller.token, body, 201, NULL, &r);
    snprintf(body, sizeof(body), "{\"payment_ids\":[\"%s\"]}", jstr(r.json, "id"));
    response_free(&r);
    expect("POST", "/v1/tax-refunds", traveller.token, body, 422, "tax_free_not_instant", NULL);
    /* one not validated in time is clawed back; another, from a wallet spent empty, is owed */
    char owed_id[48];
    long long owed = short_wallet_refund(owed_id);
    tax_refund("330000", "30000", second, &credited);
    long long before = wallet_cny();
    clock_advance(91 * 86400);
    usleep(2200 * 1000); /* the sequencer's tick */
    person_login(&srv, &traveller, clock_s); /* the session expired meanwhile */
    snprintf(path, sizeof(path), "/v1/tax-refunds/%s", second);
    expect("GET", path, traveller.token, NULL, 200, NULL, &r);
    assert_string_equal(jstr(r.json, "status"), "clawed_back");
    assert_int_equal(minor_of(jstr(r.json, "clawed_back")), credited);
    response_free(&r);
    assert_int_equal(wallet_cny(), before - credited);
    snprintf(path, sizeof(path), "/v1/tax-refunds/%s", owed_id);
    expect("GET", path, srv.admin_key, NULL, 200, NULL, &r);
    assert_string_equal(jstr(r.json, "status"), "clawed_back");
    assert_int_equal(minor_of(jstr(r.json, "clawed_back")), 0);
    assert_int_equal(minor_of(jstr(r.json, "owed")), owed);
    response_free(&r);
    snprintf(path, sizeof(path), "/v1/tax-refunds/%s", first);
    expect("GET", path, traveller.token, NULL, 200, NULL, &r);
    assert_string_equal(jstr(r.json, "status"), "validated"); /* validated ones stay */
    response_free(&r);
    ledger_clean();
}

static void bills(void)
{
    struct shop biller;
    shop_create(&biller, "City Power", "CN", "Beijing", "CNY", "/v1/billers");
    char body[512], path[256];
    snprintf(body, sizeof(body),
             "{\"biller_id\":\"%s\",\"reference\":\"ACC-42\",\"amount\":\"120.00\",\"due_date\":\"2027-03-01T00:00:00Z\","
             "\"partial_allowed\":true}",
             biller.id);
    expect("POST", "/v1/bills", srv.admin_key, body, 201, NULL, NULL);
    expect("POST", "/v1/bills", srv.admin_key, body, 409, "bill_exists", NULL);
    snprintf(path, sizeof(path), "/v1/bills?biller_id=%s&reference=ACC-42", biller.id);
    struct response r;
    expect("GET", path, traveller.token, NULL, 200, NULL, &r);
    assert_string_equal(jstr(r.json, "amount_due"), "120.00");
    response_free(&r);
    snprintf(body, sizeof(body), "{\"biller_id\":\"%s\",\"reference\":\"ACC-42\",\"amount\":\"200.00\"}", biller.id);
    expect("POST", "/v1/bill-payments", traveller.token, body, 422, "bill_amount_invalid", NULL);
    snprintf(body, sizeof(body), "{\"biller_id\":\"%s\",\"reference\":\"ACC-42\",\"amount\":\"50.00\"}", biller.id);
    expect("POST", "/v1/bill-payments", traveller.token, body, 201, NULL, &r);
    assert_string_equal(jstr(json_object_get(r.json, "bill"), "amount_due"), "70.00");
    assert_string_equal(jstr(json_object_get(r.json, "payment"), "status"), "succeeded");
    response_free(&r);
    snprintf(body, sizeof(body), "{\"biller_id\":\"%s\",\"reference\":\"ACC-42\"}", biller.id);
    expect("POST", "/v1/bill-payments", traveller.token, body, 201, NULL, &r);
    assert_string_equal(jstr(json_object_get(r.json, "bill"), "status"), "paid");
    response_free(&r);
    expect("POST", "/v1/bill-payments", traveller.token, body, 409, "bill_paid", NULL);
    snprintf(body, sizeof(body), "{\"biller_id\":\"%s\",\"reference\":\"X\"}", usd_shop.id);
    expect("POST", "/v1/bill-payments", traveller.token, body, 422, "not_a_biller", NULL);
}

static void travel_story(void **state)
{
    (void)state;
    setup_world();
    quoted_payment();
    coupon_and_refund();
    bills();
    tax_refunds();
    ledger_clean();
}

/* --- 100 simultaneous claims and payments on an offer with a budget for 10 --- */

#define RACE_CUSTOMERS 50
#define RACE_THREADS 100

static struct person racers[RACE_CUSTOMERS];
static char race_offer[48], race_qr[600];

struct race_result {
    int index;
    long claim_status, pay_status;
    char pay_code[48];
    bool discounted;
};

static void *race_main(void *arg)
{
    struct race_result *res = arg;
    struct person *p = &racers[res->index % RACE_CUSTOMERS];
    char path[128], body[1024];
    snprintf(path, sizeof(path), "/v1/offers/%s/claim", race_offer);
    struct response r;
    http_call(&srv, "POST", path, p->token, NULL, NULL, &r);
    res->claim_status = r.status;
    char coupon[48] = "";
    if (r.status == 201)
        snprintf(coupon, sizeof(coupon), "%s", jstr(r.json, "id"));
    response_free(&r);
    if (coupon[0] == '\0')
        return NULL;
    snprintf(body, sizeof(body), "{\"qr\":\"%s\",\"amount\":\"10.00\",\"coupon_id\":\"%s\"}", race_qr, coupon);
    http_call(&srv, "POST", "/v1/payments", p->token, body, NULL, &r);
    res->pay_status = r.status;
    const char *code = jstr(r.json, "code");
    snprintf(res->pay_code, sizeof(res->pay_code), "%s", code != NULL ? code : "");
    res->discounted = r.status == 201 && jstr(r.json, "discount") != NULL;
    response_free(&r);
    return NULL;
}

static void race_setup(void)
{
    struct shop tea;
    shop_create(&tea, "Tea House", "CN", "Hangzhou", "CNY", "/v1/merchants");
    struct response r;
    expect("POST", "/v1/offers", tea.key,
           "{\"name\":\"1 yuan off\",\"kind\":\"fixed\",\"amount\":\"1.00\",\"min_spend\":\"5.00\",\"budget\":\"10.00\","
           "\"valid_until\":\"2028-01-01T00:00:00Z\",\"per_customer_limit\":2}",
           201, NULL, &r);
    snprintf(race_offer, sizeof(race_offer), "%s", jstr(r.json, "id"));
    response_free(&r);
    char path[128], body[256];
    snprintf(path, sizeof(path), "/v1/merchants/%s/qr?format=text", tea.id);
    expect("GET", path, tea.key, NULL, 200, NULL, &r);
    snprintf(race_qr, sizeof(race_qr), "%.*s", (int)r.len, r.body);
    response_free(&r);
    for (int i = 0; i < RACE_CUSTOMERS; i++) {
        char phone[32], wallet[48];
        snprintf(phone, sizeof(phone), "+861370000%04d", i);
        person_signup(&srv, &racers[i], phone, "Racer", "CN");
        person_login(&srv, &racers[i], clock_s);
        expect("POST", "/v1/wallets", racers[i].token, "{\"currency\":\"CNY\"}", 201, NULL, &r);
        snprintf(wallet, sizeof(wallet), "%s", jstr(r.json, "id"));
        response_free(&r);
        expect("POST", "/v1/funding-sources", racers[i].token,
               "{\"type\":\"card\",\"card\":{\"number\":\"4242424242424242\",\"exp_month\":1,\"exp_year\":2031,"
               "\"holder\":\"R\"}}",
               201, NULL, NULL);
        snprintf(body, sizeof(body), "{\"wallet_id\":\"%s\",\"amount\":\"100.00\",\"currency\":\"CNY\"}", wallet);
        expect("POST", "/v1/topups", racers[i].token, body, 201, NULL, NULL);
    }
}

static void offer_budget_race(void **state)
{
    (void)state;
    race_setup();
    static struct race_result results[RACE_THREADS];
    pthread_t threads[RACE_THREADS];
    for (int i = 0; i < RACE_THREADS; i++) {
        results[i] = (struct race_result){.index = i};
        assert_int_equal(pthread_create(&threads[i], NULL, race_main, &results[i]), 0);
    }
    int discounted = 0;
    for (int i = 0; i < RACE_THREADS; i++) {
        pthread_join(threads[i], NULL);
        discounted += results[i].discounted;
        /* a claim is refused once the budget is spent; a coupon payment once it cannot be covered */
        assert_true(results[i].claim_status == 201 || results[i].claim_status == 409);
        if (results[i].claim_status == 201 && results[i].pay_status != 201)
            assert_string_equal(results[i].pay_code, "offer_budget_exhausted");
    }
    assert_int_equal(discounted, 10);
    char path[128];
    snprintf(path, sizeof(path), "/v1/offers/%s", race_offer);
    struct response r;
    expect("GET", path, srv.admin_key, NULL, 200, NULL, &r);
    assert_string_equal(jstr(r.json, "spent"), "10.00");
    response_free(&r);
    ledger_clean();
}

int main(int argc, char **argv)
{
    harness_init(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(travel_story),
        cmocka_unit_test(offer_budget_race),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
