/* Merchants and the four ways to pay them, over HTTP, on a server with a manual clock:
 *   a merchant is created -> its static QR paid with an amount -> an order's dynamic QR paid ->
 *   the paid order refused the second time -> a payment code computed from the device secret
 *   pays once; its reuse, an expired code and a revoked device's code are refused -> an NFC tap
 *   pays; its replay and a backwards counter are refused -> partial refunds up to the total, one
 *   more refused -> a real HTTP receiver gets every event with a valid signature, including the
 *   ones sent while it was down -> merchant A refunding merchant B's payment gets 404;
 *   a large payment waits for the PIN; bad input for every new endpoint changes nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "consumers.h"
#include "mopay/nfc.h"
#include "mopay/paycode.h"
#include "support/receiver.h"

static struct server srv;
static int64_t clock_s = TEST_CLOCK_START_S;

struct merchant {
    char id[48], key[80], secret[80], name[64];
    uint8_t id_bytes[16];
};

static struct merchant shop, other;
static struct person payer;
static char payer_wallet[48];

static int group_setup(void **state)
{
    (void)state;
    /* the risk step off: this story pays faster than people do (test_risk covers that step) */
    static const char *const args[] = {"--check-invariants",      "--risk=false",
                                       "--test-clock",            TEST_CLOCK_START,
                                       "--webhook-allow-private", "--webhook-allow-insecure",
                                       NULL};
    rx_start(0);
    server_start(&srv, NULL, args);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    rx_stop();
    return server_stop(&srv) == 0 ? 0 : -1;
}

static void call(const char *method, const char *path, const char *token, const char *body, struct response *r)
{
    http_call(&srv, method, path, token, body, NULL, r);
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

static void merchant_create(struct merchant *m, const char *name, const char *webhook)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"name\":\"%s\",\"mcc\":\"5812\",\"country\":\"CN\",\"city\":\"Shanghai\",\"currency\":\"CNY\","
             "\"fee_bps\":60,\"settlement_account\":\"CN-ACC-001\",\"webhook_url\":\"%s\"}",
             name, webhook);
    struct response r;
    expect("POST", "/v1/merchants", srv.admin_key, body, 201, NULL, &r);
    json_t *mj = json_object_get(r.json, "merchant");
    snprintf(m->id, sizeof(m->id), "%s", jstr(mj, "id"));
    snprintf(m->key, sizeof(m->key), "%s", jstr(r.json, "api_key"));
    snprintf(m->secret, sizeof(m->secret), "%s", jstr(r.json, "webhook_secret"));
    assert_int_equal(strncmp(m->secret, "whsec_", 6), 0);
    snprintf(m->name, sizeof(m->name), "%s", name);
    size_t n = 0;
    assert_int_equal(sodium_hex2bin(m->id_bytes, 16, m->id + 4, 32, NULL, &n, NULL), 0);
    response_free(&r);
}

static long long merchant_balance(const struct merchant *m)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/ledger/accounts/acc_%s", m->id + 4);
    struct response r;
    expect("GET", path, srv.admin_key, NULL, 200, NULL, &r);
    long long v = minor_of(jstr(r.json, "credits_posted")) - minor_of(jstr(r.json, "debits_posted"));
    response_free(&r);
    return v;
}

/* A payment; returns its id and status. */
static void pay(const char *token, const char *body, long status, const char *code, char *id_out, char *status_out)
{
    struct response r;
    expect("POST", "/v1/payments", token, body, status, code, &r);
    if (id_out != NULL)
        snprintf(id_out, 48, "%s", jstr(r.json, "id"));
    if (status_out != NULL)
        snprintf(status_out, 32, "%s", jstr(r.json, "status"));
    response_free(&r);
}

static void setup_world(void)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/hooks", rx_port());
    merchant_create(&shop, "Noodle House", url);
    merchant_create(&other, "Tea Corner", "");
    person_signup(&srv, &payer, "+8613300133000", "Mei Chen", "CN");
    person_login(&srv, &payer, clock_s);
    struct response r;
    expect("POST", "/v1/wallets", payer.token, "{\"currency\":\"CNY\"}", 201, NULL, &r);
    snprintf(payer_wallet, sizeof(payer_wallet), "%s", jstr(r.json, "id"));
    response_free(&r);
    expect("POST", "/v1/funding-sources", payer.token,
           "{\"type\":\"card\",\"card\":{\"number\":\"4242424242424242\",\"exp_month\":1,\"exp_year\":2031,"
           "\"holder\":\"Mei\"}}",
           201, NULL, NULL);
    char body[256];
    snprintf(body, sizeof(body), "{\"wallet_id\":\"%s\",\"amount\":\"900.00\",\"currency\":\"CNY\"}", payer_wallet);
    expect("POST", "/v1/topups", payer.token, body, 201, NULL, NULL);
}

/* The merchant's static code with a tip indicator (EMV 55): paying 20.00 costs `total`. */
static void qr_tip_pay(const char *query, const char *tip_body, const char *total, const char *tip)
{
    char path[160], qr[600], body[1024];
    struct response r;
    snprintf(path, sizeof(path), "/v1/merchants/%s/qr?format=text&%s", shop.id, query);
    expect("GET", path, shop.key, NULL, 200, NULL, &r);
    snprintf(qr, sizeof(qr), "%.*s", (int)r.len, r.body);
    response_free(&r);
    snprintf(body, sizeof(body), "{\"qr\":\"%s\",\"amount\":\"20.00\"%s}", qr, tip_body);
    expect("POST", "/v1/payments", payer.token, body, 201, NULL, &r);
    assert_string_equal(jstr(r.json, "amount"), total);
    assert_string_equal(jstr(r.json, "tip"), tip);
    response_free(&r);
}

static void qr_tips(void)
{
    qr_tip_pay("fee=1.50", "", "21.50", "1.50");
    qr_tip_pay("fee_percent=3.5", "", "20.70", "0.70");
    qr_tip_pay("tip=prompt", ",\"tip\":\"2.00\"", "22.00", "2.00");
    qr_tip_pay("tip=prompt", "", "20.00", "0.00");
    char path[160];
    snprintf(path, sizeof(path), "/v1/merchants/%s/qr?fee=1.00&fee_percent=2", shop.id);
    expect("GET", path, shop.key, NULL, 400, "query_invalid", NULL);
    snprintf(path, sizeof(path), "/v1/merchants/%s/qr?fee_percent=100", shop.id);
    expect("GET", path, shop.key, NULL, 400, "query_invalid", NULL);
    struct response r;
    snprintf(path, sizeof(path), "/v1/merchants/%s/qr?format=text&fee=1.00", shop.id);
    expect("GET", path, shop.key, NULL, 200, NULL, &r);
    char body[1024];
    snprintf(body, sizeof(body), "{\"qr\":\"%.*s\",\"amount\":\"20.00\",\"tip\":\"1.00\"}", (int)r.len, r.body);
    response_free(&r);
    expect("POST", "/v1/payments", payer.token, body, 422, "field_invalid", NULL); /* a fixed fee takes no tip */
}

static void qr_payments(void)
{
    char path[128], body[1024], id[48], status[32];
    struct response r;
    snprintf(path, sizeof(path), "/v1/merchants/%s/qr?format=text", shop.id);
    expect("GET", path, shop.key, NULL, 200, NULL, &r);
    char qr[600];
    snprintf(qr, sizeof(qr), "%.*s", (int)r.len, r.body);
    response_free(&r);
    assert_non_null(strstr(qr, "com.mopay"));
    /* static: the payer enters the amount */
    snprintf(body, sizeof(body), "{\"qr\":\"%s\"}", qr);
    pay(payer.token, body, 422, "amount_required", NULL, NULL);
    snprintf(body, sizeof(body), "{\"qr\":\"%s\",\"amount\":\"25.00\"}", qr);
    pay(payer.token, body, 201, NULL, id, status);
    assert_string_equal(status, "succeeded");
    assert_int_equal(merchant_balance(&shop), 2500 - 15); /* 0.6 % fee */
    assert_int_equal(wallet_amount(&srv, payer.token, payer_wallet, "balance"), 90000 - 2500);
    qr_tips();
    /* a QR code of another scheme is well-formed but not payable; a broken CRC is refused */
    pay(payer.token,
        "{\"qr\":\"00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-4266554400005204000053039865802BR5913"
        "Fulano de Tal6008BRASILIA62070503***63041D3D\",\"amount\":\"1.00\"}",
        422, "qr_not_payable", NULL, NULL);
    qr[strlen(qr) - 1] = qr[strlen(qr) - 1] == '0' ? '1' : '0';
    snprintf(body, sizeof(body), "{\"qr\":\"%s\",\"amount\":\"1.00\"}", qr);
    pay(payer.token, body, 422, "invalid_qr_crc", NULL, NULL);
}

static void order_payments(void)
{
    struct response r;
    expect("POST", "/v1/orders", shop.key,
           "{\"amount\":\"38.50\",\"currency\":\"CNY\",\"reference\":\"T12-0042\",\"description\":\"two bowls\","
           "\"expires_in\":600}",
           201, NULL, &r);
    char order[48], qr[600], body[1024];
    snprintf(order, sizeof(order), "%s", jstr(r.json, "id"));
    snprintf(qr, sizeof(qr), "%s", jstr(r.json, "qr"));
    response_free(&r);
    snprintf(body, sizeof(body), "{\"qr\":\"%s\",\"amount\":\"1.00\"}", qr);
    pay(payer.token, body, 422, "amount_mismatch", NULL, NULL);
    snprintf(body, sizeof(body), "{\"qr\":\"%s\"}", qr);
    char id[48], status[32];
    pay(payer.token, body, 201, NULL, id, status);
    assert_string_equal(status, "succeeded");
    pay(payer.token, body, 409, "order_paid", NULL, NULL);
    snprintf(body, sizeof(body), "{\"order_id\":\"%s\"}", order);
    pay(payer.token, body, 409, "order_paid", NULL, NULL);
    char path[128];
    snprintf(path, sizeof(path), "/v1/orders/%s", order);
    expect("GET", path, shop.key, NULL, 200, NULL, &r);
    assert_string_equal(jstr(r.json, "status"), "paid");
    assert_string_equal(jstr(r.json, "payment_id"), id);
    response_free(&r);
    /* online, by id, and an order that expires first */
    expect("POST", "/v1/orders", shop.key, "{\"amount\":\"5.00\",\"currency\":\"CNY\",\"reference\":\"W-1\"}", 201, NULL,
           &r);
    snprintf(body, sizeof(body), "{\"order_id\":\"%s\"}", jstr(r.json, "id"));
    response_free(&r);
    pay(payer.token, body, 201, NULL, NULL, status);
    expect("POST", "/v1/orders", shop.key,
           "{\"amount\":\"5.00\",\"currency\":\"CNY\",\"reference\":\"W-2\",\"expires_in\":60}", 201, NULL, &r);
    snprintf(body, sizeof(body), "{\"order_id\":\"%s\"}", jstr(r.json, "id"));
    response_free(&r);
    clock_advance(61);
    pay(payer.token, body, 422, "order_expired", NULL, NULL);
}

/* The payer's device's code for `unix_s`, as its phone computes it offline. */
static void paycode(const struct person *p, int64_t unix_s, char out[MOPAY_PAYCODE_BYTES])
{
    uint8_t secret[32];
    size_t n = 0;
    assert_int_equal(sodium_base642bin(secret, sizeof(secret), p->secret_b64, strlen(p->secret_b64), NULL, &n, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    mopay_paycode_make(secret, p->code_index, unix_s, out);
}

static void code_payments(void)
{
    char code[MOPAY_PAYCODE_BYTES], body[512], status[32];
    paycode(&payer, clock_s, code);
    snprintf(body, sizeof(body), "{\"payment_code\":\"%s\",\"amount\":\"12.00\",\"currency\":\"CNY\",\"reference\":\"r1\"}",
             code);
    pay(shop.key, body, 201, NULL, NULL, status);
    assert_string_equal(status, "succeeded");
    pay(shop.key, body, 409, "payment_code_used", NULL, NULL);
    paycode(&payer, clock_s - 5 * 30, code); /* older than the 4-step window */
    snprintf(body, sizeof(body), "{\"payment_code\":\"%s\",\"amount\":\"1.00\",\"currency\":\"CNY\"}", code);
    pay(shop.key, body, 422, "payment_code_expired", NULL, NULL);
    /* a code one digit off is not a code */
    paycode(&payer, clock_s + 30, code);
    code[17] = code[17] == '9' ? '0' : (char)(code[17] + 1);
    snprintf(body, sizeof(body), "{\"payment_code\":\"%s\",\"amount\":\"1.00\",\"currency\":\"CNY\"}", code);
    pay(shop.key, body, 422, "payment_code_invalid", NULL, NULL);
    /* a customer cannot present a code as a merchant */
    pay(payer.token, body, 403, "forbidden", NULL, NULL);
}

static void nfc_tap(const char *token, const uint8_t luk[32], uint16_t atc, int64_t amount_minor, char *body,
                    size_t cap)
{
    struct mopay_nfc_tap tap = {.amount_minor = amount_minor, .currency_numeric = 156, .atc = atc};
    memcpy(tap.merchant_id, shop.id_bytes, 16);
    randombytes_buf(tap.unpredictable_number, 4);
    uint8_t cryptogram[8];
    mopay_nfc_cryptogram(luk, &tap, cryptogram);
    char un[9], cg[17], amount[24];
    sodium_bin2hex(un, sizeof(un), tap.unpredictable_number, 4);
    sodium_bin2hex(cg, sizeof(cg), cryptogram, 8);
    snprintf(amount, sizeof(amount), "%lld.%02lld", (long long)(amount_minor / 100), (long long)(amount_minor % 100));
    snprintf(body, cap,
             "{\"nfc\":{\"token\":\"%s\",\"atc\":%u,\"amount\":\"%s\",\"currency\":\"CNY\",\"unpredictable_number\":\"%s\","
             "\"cryptogram\":\"%s\"}}",
             token, atc, amount, un, cg);
}

static json_t *nfc_batch; /* the keys of the last batch provisioned */

/* Provisions a batch for the payer's device; returns its token in `token`. */
static void nfc_provision(const char *body, char token[32])
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/devices/%s/nfc-keys", payer.device_id);
    struct response r;
    expect("POST", path, payer.token, body, 201, NULL, &r);
    snprintf(token, 32, "%s", jstr(r.json, "token"));
    json_decref(nfc_batch);
    nfc_batch = json_incref(json_object_get(r.json, "keys"));
    response_free(&r);
}

/* Key k of the last batch, as the phone received it. */
static void nfc_luk(size_t k, uint8_t luk[32])
{
    const char *b64 = jstr(json_array_get(nfc_batch, k), "key");
    size_t n = 0;
    assert_non_null(b64);
    assert_int_equal(sodium_base642bin(luk, 32, b64, strlen(b64), NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
    assert_int_equal(n, 32);
}

static void nfc_payments(void)
{
    char token[32], again[32], body[512], status[32];
    uint8_t luk[32];
    nfc_provision("{\"keys\":2,\"taps_per_key\":2}", token);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(nfc_batch, 0), "atc_first")), 1);
    nfc_luk(0, luk);
    nfc_tap(token, luk, 1, 800, body, sizeof(body));
    pay(shop.key, body, 201, NULL, NULL, status);
    assert_string_equal(status, "succeeded");
    pay(shop.key, body, 409, "nfc_replay", NULL, NULL);
    nfc_tap(token, luk, 2, 300, body, sizeof(body));
    pay(shop.key, body, 201, NULL, NULL, status);
    nfc_tap(token, luk, 1, 300, body, sizeof(body));
    pay(shop.key, body, 409, "nfc_counter_backwards", NULL, NULL);
    nfc_tap(token, luk, 3, 300, body, sizeof(body)); /* counter 3 belongs to the second key */
    pay(shop.key, body, 422, "nfc_cryptogram_invalid", NULL, NULL);
    /* the second key: counters 3 and 4, then the batch is used up */
    nfc_luk(1, luk);
    nfc_tap(token, luk, 4, 300, body, sizeof(body));
    pay(shop.key, body, 201, NULL, NULL, status);
    nfc_tap(token, luk, 5, 300, body, sizeof(body));
    pay(shop.key, body, 422, "nfc_key_exhausted", NULL, NULL);
    /* a new batch that lasts a minute: the same token, the counter going on */
    nfc_provision("{\"keys\":1,\"taps_per_key\":5,\"ttl_s\":60}", again);
    assert_string_equal(again, token);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(nfc_batch, 0), "atc_first")), 5);
    nfc_luk(0, luk);
    clock_advance(61);
    nfc_tap(token, luk, 5, 300, body, sizeof(body));
    pay(shop.key, body, 422, "nfc_key_expired", NULL, NULL);
    json_decref(nfc_batch);
    nfc_batch = NULL;
}

static void refunds(void)
{
    char body[512], pay_id[48];
    snprintf(body, sizeof(body), "{\"order_id\":\"%s\"}", "");
    struct response r;
    expect("POST", "/v1/orders", shop.key, "{\"amount\":\"100.00\",\"currency\":\"CNY\",\"reference\":\"R-1\"}", 201,
           NULL, &r);
    snprintf(body, sizeof(body), "{\"order_id\":\"%s\"}", jstr(r.json, "id"));
    response_free(&r);
    pay(payer.token, body, 201, NULL, pay_id, NULL);
    long long wallet_before = wallet_amount(&srv, payer.token, payer_wallet, "balance");
    long long shop_before = merchant_balance(&shop);
    snprintf(body, sizeof(body), "{\"payment_id\":\"%s\",\"amount\":\"30.00\",\"reason\":\"cold soup\"}", pay_id);
    expect("POST", "/v1/refunds", other.key, body, 404, "resource_not_found", NULL); /* not Tea Corner's payment */
    expect("POST", "/v1/refunds", shop.key, body, 201, NULL, &r);
    assert_string_equal(jstr(r.json, "fee_returned"), "0.18");
    response_free(&r);
    snprintf(body, sizeof(body), "{\"payment_id\":\"%s\",\"amount\":\"70.01\"}", pay_id);
    expect("POST", "/v1/refunds", shop.key, body, 422, "refund_exceeds_payment", NULL);
    snprintf(body, sizeof(body), "{\"payment_id\":\"%s\",\"amount\":\"70.00\"}", pay_id);
    expect("POST", "/v1/refunds", shop.key, body, 201, NULL, &r);
    assert_string_equal(jstr(r.json, "fee_returned"), "0.42"); /* the rest of the 0.60 fee */
    response_free(&r);
    snprintf(body, sizeof(body), "{\"payment_id\":\"%s\",\"amount\":\"0.01\"}", pay_id);
    expect("POST", "/v1/refunds", shop.key, body, 422, "refund_exceeds_payment", NULL);
    assert_int_equal(wallet_amount(&srv, payer.token, payer_wallet, "balance"), wallet_before + 10000);
    assert_int_equal(merchant_balance(&shop), shop_before - 10000 + 60);
    char path[128];
    snprintf(path, sizeof(path), "/v1/payments/%s", pay_id);
    expect("GET", path, other.key, NULL, 404, NULL, NULL);
    expect("GET", path, shop.key, NULL, 200, NULL, &r);
    assert_string_equal(jstr(r.json, "refunded"), "100.00");
    response_free(&r);
}

/* A revoked device's codes fail (after everything else the device did). */
static void revoked_device(void)
{
    char code[MOPAY_PAYCODE_BYTES], body[512], path[128];
    clock_advance(30);
    paycode(&payer, clock_s, code);
    snprintf(path, sizeof(path), "/v1/devices/%s", payer.device_id);
    expect("DELETE", path, srv.admin_key, NULL, 200, NULL, NULL);
    snprintf(body, sizeof(body), "{\"payment_code\":\"%s\",\"amount\":\"1.00\",\"currency\":\"CNY\"}", code);
    pay(shop.key, body, 422, "payment_code_invalid", NULL, NULL);
}

static bool signature_ok(const struct rx_request *q, const struct merchant *m)
{
    long long t = 0;
    char v1[80];
    if (sscanf(q->signature, "t=%lld,v1=%64s", &t, v1) != 2)
        return false;
    uint8_t mac[32];
    char prefix[32];
    int plen = snprintf(prefix, sizeof(prefix), "%lld.", t);
    crypto_auth_hmacsha256_state st; /* the key is the secret's text, as Stripe's libraries use it */
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)m->secret, strlen(m->secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)prefix, (size_t)plen);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)q->body, q->body_len);
    crypto_auth_hmacsha256_final(&st, mac);
    char hex[65];
    sodium_bin2hex(hex, sizeof(hex), mac, 32);
    return strcmp(hex, v1) == 0;
}

/* Counts distinct delivered events of a type. */
static size_t delivered(const char *type)
{
    size_t n = 0;
    for (size_t i = 0; i < rx_count(); i++) {
        const struct rx_request *q = rx_request_at(i);
        bool first = true;
        for (size_t j = 0; j < i; j++)
            first &= strcmp(rx_request_at(j)->event_id, q->event_id) != 0 || rx_request_at(j)->answered != 200;
        char needle[80];
        snprintf(needle, sizeof(needle), "\"type\":\"%s\"", type);
        n += q->answered == 200 && first && strstr(q->body, needle) != NULL;
    }
    return n;
}

static void webhooks(void)
{
    /* everything so far was delivered while the receiver listened */
    /* the order expiry comes from the sequencer's tick, once a second */
    for (int i = 0; i < 100 && (delivered("refund.succeeded") < 2 || delivered("order.expired") < 1); i++)
        usleep(50 * 1000);
    assert_int_equal(delivered("refund.succeeded"), 2);
    assert_true(delivered("payment.succeeded") >= 7);
    assert_int_equal(delivered("order.paid"), 3);
    assert_int_equal(delivered("order.expired"), 1);
    for (size_t i = 0; i < rx_count(); i++)
        assert_true(signature_ok(rx_request_at(i), &shop));
    /* down: a payment now is retried until the receiver is back */
    rx_stop();
    expect("POST", "/v1/orders", shop.key, "{\"amount\":\"2.00\",\"currency\":\"CNY\",\"reference\":\"D-1\"}", 201,
           NULL, NULL);
    usleep(600 * 1000); /* a few refused attempts */
    rx_start(rx_port());
    for (int i = 0; i < 12 && delivered("order.created") < 5; i++) {
        clock_advance(60); /* past the back-off */
        usleep(400 * 1000);
    }
    assert_int_equal(delivered("order.created"), 5);
}

/* The payer's history pages through payments and refunds by its cursor, newest first. */
static void history_pages(void)
{
    char path[256], cursor[128] = "";
    size_t seen = 0, refunds = 0, payments = 0;
    for (int page = 0; page < 50; page++) {
        snprintf(path, sizeof(path), "/v1/wallets/%s/transactions?limit=3%s%s", payer_wallet, cursor[0] ? "&cursor=" : "",
                 cursor);
        struct response r;
        expect("GET", path, payer.token, NULL, 200, NULL, &r);
        json_t *data = json_object_get(r.json, "data");
        for (size_t i = 0; i < json_array_size(data); i++) {
            const char *type = jstr(json_array_get(data, i), "type");
            refunds += strcmp(type, "refund") == 0;
            payments += strcmp(type, "payment") == 0;
        }
        seen += json_array_size(data);
        const char *next = jstr(r.json, "next_cursor");
        snprintf(cursor, sizeof(cursor), "%s", next != NULL ? next : "");
        response_free(&r);
        if (cursor[0] == '\0')
            break;
    }
    assert_int_equal(refunds, 2);
    assert_true(payments >= 10);
    assert_int_equal(seen, payments + refunds + 1); /* and the top-up */
}

static void merchant_story(void **state)
{
    (void)state;
    setup_world();
    qr_payments();
    order_payments();
    code_payments();
    nfc_payments();
    refunds();
    history_pages();
    revoked_device();
    webhooks();
    struct response r;
    expect("GET", "/v1/ledger/check", srv.admin_key, NULL, 200, NULL, &r);
    assert_true(json_is_true(json_object_get(r.json, "ok")));
    response_free(&r);
}

/* At or above 2,000 a payment waits for the PIN; the PIN, not just any six digits, releases it. */
static void pin_step_up(void **state)
{
    (void)state;
    struct person rich;
    person_signup(&srv, &rich, "+8613200132000", "Lan Zhao", "CN");
    person_login(&srv, &rich, clock_s);
    char path[128], body[256], wallet[48], id[48], status[32];
    snprintf(path, sizeof(path), "/v1/customers/%s/kyc", rich.id);
    expect("POST", path, srv.admin_key, "{\"tier\":2,\"document_type\":\"passport\",\"document_number\":\"E7654321\"}",
           200, NULL, NULL);
    struct response r;
    expect("POST", "/v1/wallets", rich.token, "{\"currency\":\"CNY\"}", 201, NULL, &r);
    snprintf(wallet, sizeof(wallet), "%s", jstr(r.json, "id"));
    response_free(&r);
    expect("POST", "/v1/funding-sources", rich.token,
           "{\"type\":\"card\",\"card\":{\"number\":\"6200000000000005\",\"exp_month\":1,\"exp_year\":2031,\"holder\":\"L\"}}",
           201, NULL, NULL);
    snprintf(body, sizeof(body), "{\"wallet_id\":\"%s\",\"amount\":\"5000.00\",\"currency\":\"CNY\"}", wallet);
    expect("POST", "/v1/topups", rich.token, body, 201, NULL, NULL);
    expect("POST", "/v1/orders", shop.key, "{\"amount\":\"2500.00\",\"currency\":\"CNY\",\"reference\":\"BIG\"}", 201,
           NULL, &r);
    snprintf(body, sizeof(body), "{\"order_id\":\"%s\"}", jstr(r.json, "id"));
    response_free(&r);
    pay(rich.token, body, 201, NULL, id, status);
    assert_string_equal(status, "requires_confirmation");
    assert_int_equal(wallet_amount(&srv, rich.token, wallet, "balance"), 500000);
    snprintf(path, sizeof(path), "/v1/payments/%s/confirm", id);
    expect("POST", path, rich.token, "{\"pin\":\"000000\"}", 401, "pin_incorrect", NULL);
    expect("POST", path, rich.token, "{\"pin\":\"123456\"}", 200, NULL, &r);
    assert_string_equal(jstr(r.json, "status"), "succeeded");
    response_free(&r);
    assert_int_equal(wallet_amount(&srv, rich.token, wallet, "balance"), 250000);
    expect("POST", path, rich.token, "{\"pin\":\"123456\"}", 409, "payment_not_confirmable", NULL);
}

static void bad_input(void **state)
{
    (void)state;
    static const struct {
        char who; /* 'A' operator, 'M' merchant, 'C' customer */
        const char *method, *path, *body;
        long status;
        const char *code;
    } cases[] = {
        {'A', "POST", "/v1/merchants", "{\"name\":\"x\",\"mcc\":\"58a2\",\"country\":\"CN\",\"city\":\"c\",\"currency\":\"CNY\","
                                       "\"fee_bps\":1,\"settlement_account\":\"a\"}", 422, "field_invalid"},
        {'A', "POST", "/v1/merchants", "{\"name\":\"x\",\"mcc\":\"5812\",\"country\":\"XX\",\"city\":\"c\",\"currency\":\"CNY\","
                                       "\"fee_bps\":1,\"settlement_account\":\"a\"}", 422, "country_unknown"},
        {'A', "POST", "/v1/merchants", "{\"name\":\"x\",\"mcc\":\"5812\",\"country\":\"CN\",\"city\":\"c\",\"currency\":\"XYZ\","
                                       "\"fee_bps\":1,\"settlement_account\":\"a\"}", 422, "currency_unknown"},
        {'A', "POST", "/v1/merchants", "{\"name\":\"x\",\"mcc\":\"5812\",\"country\":\"CN\",\"city\":\"c\",\"currency\":\"CNY\","
                                       "\"fee_bps\":10001,\"settlement_account\":\"a\"}", 422, "field_invalid"},
        {'A', "POST", "/v1/merchants", "{\"name\":\"x\",\"mcc\":\"5812\",\"country\":\"CN\",\"city\":\"c\",\"currency\":\"CNY\","
                                       "\"fee_bps\":1,\"settlement_account\":\"a\",\"webhook_url\":\"ftp://x\"}", 422,
         "url_invalid"},
        {'M', "POST", "/v1/merchants", "{}", 404, NULL},
        {'M', "POST", "/v1/orders", "{\"amount\":\"1.234\",\"currency\":\"CNY\",\"reference\":\"x\"}", 422,
         "amount_too_precise"},
        {'M', "POST", "/v1/orders", "{\"amount\":\"-1\",\"currency\":\"CNY\",\"reference\":\"x\"}", 422, "amount_negative"},
        {'M', "POST", "/v1/orders", "{\"amount\":\"1.00\",\"currency\":\"USD\",\"reference\":\"x\"}", 422,
         "currency_mismatch"},
        {'M', "POST", "/v1/orders", "{\"amount\":\"1.00\",\"currency\":\"CNY\",\"reference\":\"x\",\"tax_free\":"
                                    "{\"vat_amount\":\"2.00\"}}", 422, "field_invalid"},
        {'M', "POST", "/v1/orders", "{\"amount\":\"1.00\",\"currency\":\"CNY\"}", 422, "field_missing"},
        {'C', "POST", "/v1/payments", "{}", 422, "field_missing"},
        {'C', "POST", "/v1/payments", "{\"qr\":\"hello\",\"order_id\":\"ord_00000000000000000000000000000000\"}", 422,
         "field_missing"},
        {'C', "POST", "/v1/payments", "{\"qr\":\"000201\"}", 422, "invalid_qr_format"},
        {'C', "POST", "/v1/payments", "{\"order_id\":\"ord_1\"}", 422, "field_invalid"},
        {'C', "POST", "/v1/payments", "{\"order_id\":\"ord_00000000000000000000000000000000\"}", 404,
         "resource_not_found"},
        {'M', "POST", "/v1/payments", "{\"payment_code\":\"123\",\"amount\":\"1.00\",\"currency\":\"CNY\"}", 422,
         "cpm_invalid"},
        {'M', "POST", "/v1/payments", "{\"payment_code\":\"870000000100000000\",\"amount\":\"1.00\"}", 422,
         "field_missing"},
        {'M', "POST", "/v1/payments", "{\"payment_code\":\"870000000100000000\",\"amount\":\"0\",\"currency\":\"CNY\"}",
         422, "amount_invalid"},
        {'M', "POST", "/v1/payments", "{\"nfc\":{\"token\":\"x\",\"atc\":1,\"amount\":\"1.00\",\"currency\":\"CNY\","
                                      "\"unpredictable_number\":\"zzzzzzzz\",\"cryptogram\":\"00112233445566ff\"}}", 422,
         "field_invalid"},
        {'M', "POST", "/v1/payments", "{\"nfc\":{\"token\":\"8700000000000000\",\"atc\":1,\"amount\":\"1.00\","
                                      "\"currency\":\"CNY\",\"unpredictable_number\":\"01020304\",\"cryptogram\":"
                                      "\"00112233445566ff\"}}", 422, "nfc_token_unknown"},
        {'M', "POST", "/v1/refunds", "{\"payment_id\":\"pay_x\"}", 422, "field_invalid"},
        {'M', "POST", "/v1/refunds", "{\"payment_id\":\"pay_00000000000000000000000000000000\"}", 404,
         "resource_not_found"},
        {'M', "GET", "/v1/merchants/mch_00000000000000000000000000000000/qr", NULL, 404, NULL},
        {'A', "GET", "/v1/merchants/mch_00000000000000000000000000000000/qr?format=gif", NULL, 400, "query_invalid"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *token = cases[i].who == 'A' ? srv.admin_key : cases[i].who == 'M' ? shop.key : NULL;
        if (cases[i].who == 'C') {
            static struct person c;
            if (c.token[0] == '\0') {
                person_signup(&srv, &c, "+8613100131000", "Bad Input", "CN");
                person_login(&srv, &c, clock_s);
            }
            token = c.token;
        }
        struct response r;
        call(cases[i].method, cases[i].path, token, cases[i].body, &r);
        if (r.status != cases[i].status)
            fprintf(stderr, "case %zu: %s %s -> %ld %s\n", i, cases[i].method, cases[i].path, r.status, r.body);
        assert_int_equal(r.status, cases[i].status);
        if (cases[i].code != NULL)
            expect_problem(&r, cases[i].status, cases[i].code, NULL);
        response_free(&r);
    }
    struct response r;
    expect("GET", "/v1/ledger/check", srv.admin_key, NULL, 200, NULL, &r);
    assert_true(json_is_true(json_object_get(r.json, "ok")));
    response_free(&r);
}

int main(int argc, char **argv)
{
    harness_init(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(merchant_story),
        cmocka_unit_test(pin_step_up),
        cmocka_unit_test(bad_input),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
