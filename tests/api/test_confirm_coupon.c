/* A payment waiting for its PIN holds a coupon's discount, worked out when it was made. Confirmed
 * after that coupon paid another payment, or after the offer's budget went to another customer's
 * coupon, it is refused (coupon_not_usable, offer_budget_exhausted), moves nothing, and the server
 * stays up; before, any customer with a coupon stopped the process with two payments at or above
 * --payment-pin-above (the assertion in mopay_coupon_redeem), and again after a restart with
 * the second payment still waiting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "consumers.h"

static struct server srv;
static int64_t clock_s = TEST_CLOCK_START_S;
static const char *const server_args[] = {"--check-invariants", "--risk=false", "--test-clock", TEST_CLOCK_START,
                                          "--payment-pin-above", "10", NULL};

struct shop {
    char id[48], key[80];
};

static void expect(const char *method, const char *path, const char *token, const char *body, long status,
                   const char *code, struct response *out)
{
    api_expect(&srv, method, path, token, body, status, code, out);
}

static void shop_create(struct shop *s)
{
    struct response r;
    expect("POST", "/v1/merchants", srv.admin_key,
           "{\"name\":\"Tea House\",\"mcc\":\"5812\",\"country\":\"CN\",\"city\":\"Hangzhou\",\"currency\":\"CNY\","
           "\"fee_bps\":60,\"settlement_account\":\"ACC-1\"}",
           201, NULL, &r);
    snprintf(s->id, sizeof(s->id), "%s", jstr(json_object_get(r.json, "merchant"), "id"));
    snprintf(s->key, sizeof(s->key), "%s", jstr(r.json, "api_key"));
    response_free(&r);
}

/* A customer with 1,000.00 CNY. */
static void customer(struct person *p, const char *phone, char *wallet)
{
    person_signup(&srv, p, phone, "Chen Jie", "CN");
    person_login(&srv, p, clock_s);
    char path[128], body[256];
    snprintf(path, sizeof(path), "/v1/customers/%s/kyc", p->id);
    expect("POST", path, srv.admin_key, "{\"tier\":1,\"document_type\":\"passport\",\"document_number\":\"E1234567\"}",
           200, NULL, NULL);
    struct response r;
    expect("POST", "/v1/wallets", p->token, "{\"currency\":\"CNY\"}", 201, NULL, &r);
    snprintf(wallet, 48, "%s", jstr(r.json, "id"));
    response_free(&r);
    expect("POST", "/v1/funding-sources", p->token,
           "{\"type\":\"card\",\"card\":{\"number\":\"6200000000000005\",\"exp_month\":1,\"exp_year\":2031,\"holder\":\"C\"}}",
           201, NULL, NULL);
    snprintf(body, sizeof(body), "{\"wallet_id\":\"%s\",\"amount\":\"1000.00\",\"currency\":\"CNY\"}", wallet);
    expect("POST", "/v1/topups", p->token, body, 201, NULL, NULL);
}

/* A fixed 5.00 offer with this budget; its id. */
static void offer(const struct shop *s, const char *budget, char *id)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"name\":\"5 off\",\"kind\":\"fixed\",\"amount\":\"5.00\",\"min_spend\":\"10.00\",\"budget\":\"%s\","
             "\"valid_from\":\"2026-11-21T00:00:00Z\",\"valid_until\":\"2026-12-21T00:00:00Z\","
             "\"per_customer_limit\":1,\"funded_by\":\"merchant\"}",
             budget);
    struct response r;
    expect("POST", "/v1/offers", s->key, body, 201, NULL, &r);
    snprintf(id, 48, "%s", jstr(r.json, "id"));
    response_free(&r);
}

static void claim(const struct person *p, const char *offer_id, char *coupon)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/offers/%s/claim", offer_id);
    struct response r;
    expect("POST", path, p->token, NULL, 201, NULL, &r);
    snprintf(coupon, 48, "%s", jstr(r.json, "id"));
    response_free(&r);
}

/* An order of 20.00 paid with the coupon: it waits for the PIN (at least --payment-pin-above). */
static void pending_payment(const struct shop *s, const struct person *p, const char *coupon, char *payment)
{
    struct response r;
    expect("POST", "/v1/orders", s->key, "{\"amount\":\"20.00\",\"currency\":\"CNY\",\"reference\":\"T1\"}", 201, NULL,
           &r);
    char body[256];
    snprintf(body, sizeof(body), "{\"order_id\":\"%s\",\"coupon_id\":\"%s\"}", jstr(r.json, "id"), coupon);
    response_free(&r);
    expect("POST", "/v1/payments", p->token, body, 201, NULL, &r);
    assert_string_equal(jstr(r.json, "status"), "requires_confirmation");
    snprintf(payment, 48, "%s", jstr(r.json, "id"));
    response_free(&r);
}

static void confirm(const struct person *p, const char *payment, long status, const char *code)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/payments/%s/confirm", payment);
    struct response r;
    expect("POST", path, p->token, "{\"pin\":\"123456\"}", status, code, &r);
    if (status == 200)
        assert_string_equal(jstr(r.json, "status"), "succeeded");
    response_free(&r);
}

static void ledger_clean(void)
{
    struct response r;
    expect("GET", "/v1/ledger/check", srv.admin_key, NULL, 200, NULL, &r);
    assert_true(json_is_true(json_object_get(r.json, "ok")));
    response_free(&r);
}

static void used_coupon_and_spent_budget(void **state)
{
    (void)state;
    server_start(&srv, NULL, server_args);
    struct shop shop;
    shop_create(&shop);
    struct person alice, bob;
    char alice_wallet[48], bob_wallet[48];
    customer(&alice, "+8613700000001", alice_wallet);
    customer(&bob, "+8613800000002", bob_wallet);

    /* one coupon, two payments waiting for the PIN (a third waits over the restart) */
    char offer_id[48], coupon[48], first[48], second[48], third[48];
    offer(&shop, "100.00", offer_id);
    claim(&alice, offer_id, coupon);
    pending_payment(&shop, &alice, coupon, first);
    pending_payment(&shop, &alice, coupon, second);
    pending_payment(&shop, &alice, coupon, third);
    confirm(&alice, first, 200, NULL);
    long long after_first = wallet_amount(&srv, alice.token, alice_wallet, "balance");
    assert_int_equal(after_first, 100000 - 1500);
    confirm(&alice, second, 422, "coupon_not_usable");
    assert_int_equal(wallet_amount(&srv, alice.token, alice_wallet, "balance"), after_first);

    /* a budget for one discount, two customers' coupons waiting */
    char small_offer[48], alice_coupon[48], bob_coupon[48], alice_pay[48], bob_pay[48];
    offer(&shop, "5.00", small_offer);
    claim(&alice, small_offer, alice_coupon);
    claim(&bob, small_offer, bob_coupon);
    pending_payment(&shop, &alice, alice_coupon, alice_pay);
    pending_payment(&shop, &bob, bob_coupon, bob_pay);
    confirm(&alice, alice_pay, 200, NULL);
    confirm(&bob, bob_pay, 409, "offer_budget_exhausted");
    assert_int_equal(wallet_amount(&srv, bob.token, bob_wallet, "balance"), 100000);
    ledger_clean();

    /* the server held up, and a restart holding the waiting payments still refuses them */
    assert_int_equal(server_stop(&srv), 0);
    struct server again;
    server_start(&again, &srv, server_args);
    srv = again;
    person_login(&srv, &alice, clock_s + 1);
    confirm(&alice, third, 422, "coupon_not_usable");
    assert_int_equal(wallet_amount(&srv, alice.token, alice_wallet, "balance"), after_first - 1500);
    ledger_clean();
    assert_int_equal(server_stop(&srv), 0);
}

int main(int argc, char **argv)
{
    harness_init(argc, argv);
    const struct CMUnitTest tests[] = {cmocka_unit_test(used_coupon_and_spent_budget)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
