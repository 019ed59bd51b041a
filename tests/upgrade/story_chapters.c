/* The upgrade fixture's story, chapter by chapter (story.h). Each chapter leaves rows of kinds
 * the check must find again: the comments name them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <sodium.h>

#include "mopay/paycode.h"
#include "story.h"

static json_t *story(void)
{
    return json_object_get(fixture, "story");
}

static void story_keep(const char *name, const char *value)
{
    json_object_set_new(story(), name, json_string(value));
}

/* The server's clock `days` from now, as RFC 3339. */
static void clock_after_days(int days, char out[32])
{
    time_t t = (time_t)(clock_s + (int64_t)days * 86400);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
}

/* Waits (at most 20 s) until the unlabelled metric reaches `at_least`. */
static void metric_wait(const char *name, long long at_least)
{
    long long v = -1;
    for (int i = 0; i < 400 && (v = upgrade_metric(&srv, srv.admin_key, name)) < at_least; i++)
        usleep(50 * 1000);
    if (v < at_least)
        fprintf(stderr, "%s is %lld, waited for %lld\n", name, v, at_least);
    assert_true(v >= at_least);
}

/* Webhook events, one dead ("failed"): Hook Shop's receiver is down (nothing listens on its
 * port) and the clock is moved past each back-off until its first event has used its 15
 * attempts, 1 s, 2 s, ... 2048 s, then 3600 s apart. */
void chapter_webhook_dies(void)
{
    char url[96];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hooks", webhook_port);
    shop_new("hook_shop", "/v1/merchants", "Hook Shop", "5812", "CN", "Shanghai", "CNY", url);
    /* a week to pay it: it outlives the back-off, so its order.created is the only event */
    json_decref(order_new("hook_shop", "story-order-first",
                          "{\"amount\":\"9.90\",\"currency\":\"CNY\",\"reference\":\"FIRST\",\"expires_in\":604800}"));
    int64_t delay = 1;
    for (long long attempt = 1; attempt <= 15; attempt++) {
        metric_wait("mopay_webhooks_failed_attempts_total", attempt);
        if (attempt == 15)
            break;
        clock_advance(delay);
        delay = delay * 2 > 3600 ? 3600 : delay * 2;
    }
    metric_wait("mopay_webhooks_dead", 1);
}

/* `mopay demo`: customers, devices, sessions, wallets, cards (one lost), top-ups (one declined),
 * a withdrawal, P2P, KYC, merchants, orders, payments by QR, order and payment code, a refund,
 * FX rates, an offer and its coupon, a locked quote and a payment with both, a spot quote, a
 * tax-free form and its validated refund. It signs with the real clock: the server's is moved up
 * to it first. */
void chapter_demo(void)
{
    int64_t now = (int64_t)time(NULL);
    assert_true(now > clock_s);
    clock_advance(now - clock_s);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", srv.port);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(STDERR_FILENO, STDOUT_FILENO);
        execl(mopay_bin, mopay_bin, "demo", "--url", url, "--admin-key", srv.admin_key, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Admin keys: one more live ("ops", with an Idempotency-Key), one revoked ("retired"). */
void chapter_operators(void)
{
    json_t *j = sendf("POST", "/v1/admin-keys", "admin", "story-admin-ops", 201, "{\"name\":\"ops\"}");
    json_object_set_new(principals(), "ops",
                        json_pack("{s:s, s:s, s:s}", "kind", "operator", "id", jstr(j, "id"), "key", jstr(j, "key")));
    json_decref(j);
    j = sendf("POST", "/v1/admin-keys", "admin", NULL, 201, "{\"name\":\"retired\"}");
    json_object_set_new(principals(), "retired",
                        json_pack("{s:s, s:s, s:s, s:b}", "kind", "operator", "id", jstr(j, "id"), "key",
                                  jstr(j, "key"), "revoked", 1));
    char path[96];
    snprintf(path, sizeof(path), "/v1/admin-keys/%s", jstr(j, "id"));
    json_decref(j);
    json_decref(sendf("DELETE", path, "admin", NULL, 200, NULL));
}

/* Merchants: Hook Shop's first key replaced (and revoked), a shop in Korea, a biller, and a
 * shop the operator will blocklist. */
void chapter_shops(void)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/merchants/%s/api-keys", field("hook_shop", "id"));
    json_t *j = sendf("POST", path, "hook_shop", NULL, 201, "{\"revoke_others\":true}");
    json_object_set_new(principals(), "hook_shop_old",
                        json_pack("{s:s, s:s, s:s, s:b}", "kind", "merchant", "id", field("hook_shop", "id"), "key",
                                  field("hook_shop", "key"), "revoked", 1));
    json_object_set_new(upgrade_principal(fixture, "hook_shop"), "key", json_string(jstr(j, "api_key")));
    json_decref(j);
    shop_new("jeju_mart", "/v1/merchants", "Jeju Mart", "5411", "KR", "Jeju", "KRW", NULL);
    shop_new("city_power", "/v1/billers", "City Power", "4900", "CN", "Beijing", "CNY", NULL);
    shop_new("shady_shop", "/v1/merchants", "Shady Shop", "5967", "CN", "Shenzhen", "CNY", NULL);
}

static void topup(const char *label, const char *amount)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"wallet_id\":\"%s\",\"amount\":\"%s\",\"currency\":\"CNY\"}",
             field(label, "wallet_id"), amount);
    json_decref(outflow("/v1/topups", label, NULL, body));
}

/* Carol's sources: a card (primary), a bank account by IBAN (backup), a card reported lost. */
static void carol_sources(void)
{
    char bank[48], lost[48], path[128];
    source_add("carol",
               "{\"type\":\"card\",\"card\":{\"number\":\"4242 4242 4242 4242\",\"exp_month\":12,\"exp_year\":2030,"
               "\"holder\":\"Carol Zhang\"}}",
               NULL);
    source_add("carol",
               "{\"type\":\"bank_account\",\"bank_account\":{\"iban\":\"GB82 WEST 1234 5698 7654 32\","
               "\"holder\":\"Carol Zhang\"},\"backup\":true}",
               bank);
    json_object_set_new(upgrade_principal(fixture, "carol"), "bank_source_id", json_string(bank));
    source_add("carol",
               "{\"type\":\"card\",\"card\":{\"number\":\"5555 5555 5555 4444\",\"exp_month\":6,\"exp_year\":2031,"
               "\"holder\":\"Carol Zhang\"}}",
               lost);
    snprintf(path, sizeof(path), "/v1/funding-sources/%s/lost", lost);
    json_decref(sendf("POST", path, "carol", NULL, 200, NULL));
}

/* A second device for Carol, revoked: the lost-phone button. */
static void carol_device_revoked(void)
{
    uint8_t pk[32], sk[64];
    char pk64[64], path[128];
    crypto_sign_keypair(pk, sk);
    sodium_bin2base64(pk64, sizeof(pk64), pk, sizeof(pk), sodium_base64_VARIANT_ORIGINAL);
    snprintf(path, sizeof(path), "/v1/customers/%s/devices", field("carol", "id"));
    json_t *j = sendf("POST", path, "carol", NULL, 201, "{\"public_key\":\"%s\",\"name\":\"Carol's old phone\"}", pk64);
    snprintf(path, sizeof(path), "/v1/devices/%s", jstr(j, "id"));
    json_decref(j);
    json_decref(sendf("DELETE", path, "carol", NULL, 200, NULL));
}

/* Customers (Dave's sign-up with an Idempotency-Key), their sessions and wallets (Carol's in two
 * currencies), KYC, funding sources, top-ups, a revoked device, a frozen customer. */
void chapter_customers(void)
{
    customer_new("carol", "+8615000001001", "Carol Zhang", "CN", NULL);
    customer_new("dave", "+8615000001002", "Dave Liu", "CN", "story-signup-dave");
    customer_new("mallory", "+8615000001003", "Mallory Wu", "CN", NULL);
    customer_new("erin", "+8615000001004", "Erin Zhou", "CN", NULL);
    char path[128];
    snprintf(path, sizeof(path), "/v1/customers/%s/kyc", field("carol", "id"));
    json_decref(sendf("POST", path, "admin", NULL, 200,
                      "{\"tier\":2,\"document_type\":\"passport\",\"document_number\":\"E12345678\"}"));
    wallet_open("carol", "CNY", "wallet_id");
    wallet_open("carol", "USD", "wallet_usd_id");
    wallet_open("dave", "CNY", "wallet_id");
    wallet_open("mallory", "CNY", "wallet_id");
    wallet_open("erin", "CNY", "wallet_id");
    carol_sources();
    source_add("dave",
               "{\"type\":\"card\",\"card\":{\"number\":\"6200 0000 0000 0005\",\"exp_month\":1,\"exp_year\":2031,"
               "\"holder\":\"Dave Liu\"}}",
               NULL);
    source_add("dave",
               "{\"type\":\"bank_account\",\"bank_account\":{\"account_number\":\"6222020200112233\","
               "\"bank_code\":\"ICBKCNBJ\",\"holder\":\"Dave Liu\"}}",
               NULL);
    source_add("mallory",
               "{\"type\":\"card\",\"card\":{\"number\":\"5105 1051 0510 5100\",\"exp_month\":3,\"exp_year\":2030,"
               "\"holder\":\"Mallory Wu\"}}",
               NULL);
    topup("carol", "5000.00");
    topup("dave", "600.00");
    topup("mallory", "80.00");
    carol_device_revoked();
    snprintf(path, sizeof(path), "/v1/customers/%s/freeze", field("erin", "id"));
    json_decref(sendf("POST", path, "admin", NULL, 200, "{\"reason\":\"documents requested\"}"));
}

static void claim(const char *label, const char *offer, const char *keep_as)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/offers/%s/claim", offer);
    json_t *j = sendf("POST", path, label, NULL, 201, NULL);
    story_keep(keep_as, jstr(j, "id"));
    json_decref(j);
}

/* Offers (one the merchant funds, one the platform funds) and Carol's coupons. */
void chapter_offers(void)
{
    char until[32];
    clock_after_days(365, until);
    json_t *j = sendf("POST", "/v1/offers", "hook_shop", NULL, 201,
                      "{\"name\":\"5 off 20\",\"kind\":\"fixed\",\"amount\":\"5.00\",\"min_spend\":\"20.00\","
                      "\"budget\":\"50.00\",\"valid_until\":\"%s\",\"per_customer_limit\":2}",
                      until);
    story_keep("hook_offer", jstr(j, "id"));
    json_decref(j);
    j = sendf("POST", "/v1/offers", "admin", NULL, 201,
              "{\"merchant_id\":\"%s\",\"name\":\"Platform 10%%\",\"kind\":\"percent\",\"percent\":\"10\","
              "\"cap\":\"3.00\",\"min_spend\":\"10.00\",\"budget\":\"30.00\",\"valid_until\":\"%s\","
              "\"funded_by\":\"platform\"}",
              field("hook_shop", "id"), until);
    story_keep("platform_offer", jstr(j, "id"));
    json_decref(j);
    claim("carol", jstr(story(), "hook_offer"), "coupon_used");
    claim("carol", jstr(story(), "hook_offer"), "coupon_unused");
    claim("carol", jstr(story(), "platform_offer"), "coupon_platform");
}

/* Dave's NFC token and keys, and his first tap at Hook Shop. */
static void dave_taps(void)
{
    char path[128], body[512];
    snprintf(path, sizeof(path), "/v1/devices/%s/nfc-keys", field("dave", "device_id"));
    json_t *batch = sendf("POST", path, "dave", NULL, 201, "{\"keys\":2,\"taps_per_key\":3}");
    json_object_set(upgrade_principal(fixture, "dave"), "nfc", batch);
    upgrade_nfc_body(jstr(batch, "token"), jstr(json_array_get(json_object_get(batch, "keys"), 0), "key"),
                     field("hook_shop", "id"), 1, 800, body, sizeof(body));
    json_decref(batch);
    json_decref(pay("hook_shop", "dave", NULL, body, true));
    json_object_set_new(upgrade_principal(fixture, "dave"), "nfc_atc_used", json_integer(1));
}

/* Dave's offline payment code, scanned at Hook Shop's till. */
static void dave_code(void)
{
    struct person p;
    upgrade_person_of(upgrade_principal(fixture, "dave"), &p);
    char code[MOPAY_PAYCODE_BYTES], body[256];
    upgrade_paycode(&p, clock_s, code);
    snprintf(body, sizeof(body),
             "{\"payment_code\":\"%s\",\"amount\":\"12.00\",\"currency\":\"CNY\",\"reference\":\"till 1\","
             "\"terminal_id\":\"till-1\"}",
             code);
    json_decref(pay("hook_shop", "dave", "story-pay-code", body, true));
}

/* An order paid (with the platform's coupon) and partly refunded; an order whose payment is
 * declined (over Dave's daily limit at KYC tier 0); one left open; one expired by the sequencer's
 * tick. */
static void hook_orders(void)
{
    json_t *o = order_new("hook_shop", "story-order-t7",
                          "{\"amount\":\"38.50\",\"currency\":\"CNY\",\"reference\":\"T7\","
                          "\"description\":\"two bowls\"}");
    char body[512];
    snprintf(body, sizeof(body), "{\"order_id\":\"%s\",\"coupon_id\":\"%s\"}", jstr(o, "id"),
             jstr(story(), "coupon_platform"));
    json_decref(o);
    json_t *p = pay("carol", "carol", NULL, body, true);
    assert_string_equal(jstr(p, "status"), "succeeded");
    snprintf(body, sizeof(body), "{\"payment_id\":\"%s\",\"amount\":\"10.00\",\"reason\":\"one bowl was cold\"}",
             jstr(p, "id"));
    json_decref(p);
    json_decref(sendf("POST", "/v1/refunds", "hook_shop", "story-refund-t7", 201, "%s", body));
    o = order_new("hook_shop", NULL, "{\"amount\":\"800.00\",\"currency\":\"CNY\",\"reference\":\"D800\"}");
    snprintf(body, sizeof(body), "{\"order_id\":\"%s\"}", jstr(o, "id"));
    json_decref(o);
    p = pay("dave", "dave", NULL, body, false);
    assert_string_equal(jstr(p, "status"), "declined");
    json_decref(p);
    o = order_new("hook_shop", NULL,
                  "{\"amount\":\"66.00\",\"currency\":\"CNY\",\"reference\":\"T9\",\"description\":\"left open\"}");
    story_keep("open_order", jstr(o, "id"));
    json_decref(o);
    o = order_new("hook_shop", NULL,
                  "{\"amount\":\"5.00\",\"currency\":\"CNY\",\"reference\":\"X1\",\"expires_in\":60}");
    char path[96];
    snprintf(path, sizeof(path), "/v1/orders/%s", jstr(o, "id"));
    json_decref(o);
    clock_advance(120);
    const char *status = "";
    for (int i = 0; i < 100 && strcmp(status, "expired") != 0; i++) {
        usleep(50 * 1000);
        o = sendf("GET", path, "hook_shop", NULL, 200, NULL);
        status = strcmp(jstr(o, "status"), "expired") == 0 ? "expired" : "";
        json_decref(o);
    }
    assert_string_equal(status, "expired");
}

/* Payments at Hook Shop, each with its webhook events left pending: a static QR with a coupon,
 * an order, a payment code, an NFC tap; then its webhook secret is rotated, which re-seals the
 * pending events. */
void chapter_hook_payments(void)
{
    char body[1024];
    snprintf(body, sizeof(body), "{\"qr\":\"%s\",\"amount\":\"25.00\",\"coupon_id\":\"%s\"}", field("hook_shop", "qr"),
             jstr(story(), "coupon_used"));
    json_t *p = pay("carol", "carol", "story-pay-qr", body, true);
    assert_string_equal(jstr(p, "status"), "succeeded");
    json_decref(p);
    dave_code();
    dave_taps();
    hook_orders();
    char path[128];
    snprintf(path, sizeof(path), "/v1/merchants/%s/webhook-secret", field("hook_shop", "id"));
    json_t *j = sendf("POST", path, "hook_shop", NULL, 201, NULL);
    json_object_set_new(upgrade_principal(fixture, "hook_shop"), "webhook_secret",
                        json_string(jstr(j, "webhook_secret")));
    json_decref(j);
}

/* Cross-border: a tax-free purchase in Korea paid from CNY at a spot quote, its tax refund left
 * waiting for customs; and a quote locked for a day, not used. */
void chapter_travel(void)
{
    json_t *o = order_new("jeju_mart", NULL,
                          "{\"amount\":\"55000\",\"currency\":\"KRW\",\"reference\":\"JEJU-1\","
                          "\"tax_free\":{\"vat_amount\":\"5000\"}}");
    char body[512];
    snprintf(body, sizeof(body), "{\"order_id\":\"%s\",\"wallet_id\":\"%s\"}", jstr(o, "id"),
             field("carol", "wallet_id"));
    json_decref(o);
    json_t *p = pay("carol", "carol", NULL, body, true);
    assert_string_equal(jstr(p, "status"), "succeeded");
    snprintf(body, sizeof(body), "{\"payment_ids\":[\"%s\"]}", jstr(p, "id"));
    json_decref(p);
    json_t *t = sendf("POST", "/v1/tax-refunds", "carol", "story-tax-refund", 201, "%s", body);
    assert_string_equal(jstr(t, "status"), "pending_validation");
    json_decref(t);
    json_t *q = sendf("POST", "/v1/fx/quotes", "carol", NULL, 201,
                      "{\"sell_currency\":\"CNY\",\"buy_currency\":\"USD\",\"buy_amount\":\"20.00\",\"lock\":\"24h\"}");
    story_keep("open_quote", jstr(q, "id"));
    json_decref(q);
}

/* Bills: one loaded by the operator and paid in part, one loaded by the biller itself. */
void chapter_bills(void)
{
    char due[32];
    clock_after_days(30, due);
    const char *biller = field("city_power", "id");
    json_decref(sendf("POST", "/v1/bills", "admin", NULL, 201,
                      "{\"biller_id\":\"%s\",\"reference\":\"ACC-7\",\"amount\":\"120.00\",\"due_date\":\"%s\","
                      "\"partial_allowed\":true}",
                      biller, due));
    json_decref(sendf("POST", "/v1/bills", "city_power", NULL, 201,
                      "{\"biller_id\":\"%s\",\"reference\":\"ACC-8\",\"amount\":\"80.00\",\"due_date\":\"%s\"}",
                      biller, due));
    json_t *j = sendf("POST", "/v1/bill-payments", "carol", "story-bill", 201,
                      "{\"biller_id\":\"%s\",\"reference\":\"ACC-7\",\"amount\":\"50.00\"}", biller);
    json_t *p = json_object_get(j, "payment");
    if (strcmp(jstr(p, "status"), "requires_confirmation") == 0) {
        char path[128];
        snprintf(path, sizeof(path), "/v1/payments/%s/confirm", jstr(p, "id"));
        json_decref(sendf("POST", path, "carol", NULL, 200, "{\"pin\":\"" PIN "\"}"));
    }
    json_decref(j);
}

/* P2P both ways (by phone, with an Idempotency-Key; by wallet id) and a withdrawal to Carol's
 * bank account. */
void chapter_transfers(void)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"to\":{\"phone\":\"%s\"},\"amount\":\"50.00\",\"currency\":\"CNY\",\"note\":\"for lunch\"}",
             field("dave", "phone"));
    json_decref(outflow("/v1/transfers", "carol", "story-p2p", body));
    snprintf(body, sizeof(body), "{\"to\":{\"wallet_id\":\"%s\"},\"amount\":\"5.00\",\"currency\":\"CNY\"}",
             field("carol", "wallet_id"));
    json_decref(outflow("/v1/transfers", "dave", NULL, body));
    snprintf(body, sizeof(body),
             "{\"wallet_id\":\"%s\",\"funding_source_id\":\"%s\",\"amount\":\"100.00\",\"currency\":\"CNY\"}",
             field("carol", "wallet_id"), field("carol", "bank_source_id"));
    json_decref(outflow("/v1/withdrawals", "carol", "story-withdrawal", body));
}

static void block(const char *route, const char *list, const char *value)
{
    json_decref(sendf("POST", route, "admin", NULL, 200, "{\"list\":\"%s\",\"value\":\"%s\"}", list, value));
}

/* Blocklists (each list; one entry added and removed), payments the risk step declines, the
 * review queue: one labelled, one left open. */
void chapter_risk(void)
{
    block("/v1/risk/blocklist", "merchant", field("shady_shop", "id"));
    block("/v1/risk/blocklist", "phone", field("mallory", "phone"));
    block("/v1/risk/blocklist", "device", field("erin", "device_id"));
    block("/v1/risk/blocklist", "card", "4000056655665556");
    block("/v1/risk/blocklist", "card", "4012888888881881");
    block("/v1/risk/blocklist/remove", "card", "4012888888881881");
    char body[512], path[128];
    snprintf(body, sizeof(body), "{\"qr\":\"%s\",\"amount\":\"9.00\"}", field("shady_shop", "qr"));
    json_t *p = pay("carol", "carol", NULL, body, false);
    assert_string_equal(jstr(p, "status"), "declined");
    snprintf(path, sizeof(path), "/v1/risk/reviews/%s", jstr(p, "id"));
    json_decref(p);
    json_decref(sendf("POST", path, "admin", NULL, 200, "{\"label\":\"legitimate\"}"));
    p = pay("dave", "dave", NULL, body, false);
    assert_string_equal(jstr(p, "status"), "declined");
    json_decref(p);
}

/* Last, so that its ten minutes have not run out when the database is dumped: a payment over
 * the PIN threshold, waiting for Carol's PIN. */
void chapter_waiting_payment(void)
{
    char body[1024];
    snprintf(body, sizeof(body), "{\"qr\":\"%s\",\"amount\":\"2500.00\"}", field("hook_shop", "qr"));
    json_t *p = pay("carol", "carol", "story-pay-waiting", body, false);
    assert_string_equal(jstr(p, "status"), "requires_confirmation");
    story_keep("waiting_payment", jstr(p, "id"));
    json_decref(p);
}
