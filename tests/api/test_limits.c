/* Rate limits over HTTP (issue 11: findings 4, 8's sign-up half and 9's bad bearer tokens), each
 * on a server started with small limits:
 *   wrong payment codes: a merchant terminal past --wrong-codes-max gets 429 with Retry-After,
 *   right codes too, until its window lets one through; another terminal of the same merchant,
 *   another merchant and the victim's device are unaffected; the terminal is reported at
 *   GET /v1/risk/guessing and in /metrics; a merchant naming a new terminal for each guess hits
 *   the merchant-wide limit; NFC taps with unknown tokens count the same way;
 *   sign-up: a flood from one address gets 429, X-Forwarded-For is ignored unless the peer is a
 *   trusted proxy, and then its right-most untrusted address counts; a flood for one phone prefix
 *   gets 429 while other numbers still sign up;
 *   bad bearer tokens from one address, requests by one principal, anonymous writes from one
 *   address: 429 past their limits, others unaffected;
 *   and the figure: how many wrong codes a second one merchant key gets judged with the defaults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sodium.h>

#include "consumers.h"
#include "mopay/paycode.h"

struct merchant {
    char id[48], key[80];
};

static void merchant_create(const struct server *s, struct merchant *m, const char *name)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"name\":\"%s\",\"mcc\":\"5812\",\"country\":\"CN\",\"city\":\"Shanghai\",\"currency\":\"CNY\","
             "\"fee_bps\":60,\"settlement_account\":\"CN-ACC-001\",\"webhook_url\":\"\"}",
             name);
    struct response r;
    api_expect(s, "POST", "/v1/merchants", s->admin_key, body, 201, NULL, &r);
    snprintf(m->id, sizeof(m->id), "%s", jstr(json_object_get(r.json, "merchant"), "id"));
    snprintf(m->key, sizeof(m->key), "%s", jstr(r.json, "api_key"));
    response_free(&r);
}

/* The device's code for `unix_s`; `wrong` changes its last digit. */
static void paycode(const struct person *p, int64_t unix_s, bool wrong, char out[MOPAY_PAYCODE_BYTES])
{
    uint8_t secret[32];
    size_t n = 0;
    assert_int_equal(sodium_base642bin(secret, sizeof(secret), p->secret_b64, strlen(p->secret_b64), NULL, &n, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    mopay_paycode_make(secret, p->code_index, unix_s, out);
    if (wrong)
        out[17] = out[17] == '9' ? '0' : (char)(out[17] + 1);
}

static void code_body(const char *code, const char *terminal, char *out, size_t cap)
{
    char term[64] = "";
    if (terminal != NULL)
        snprintf(term, sizeof(term), ",\"terminal_id\":\"%s\"", terminal);
    snprintf(out, cap, "{\"payment_code\":\"%s\",\"amount\":\"1.00\",\"currency\":\"CNY\"%s}", code, term);
}

/* A 429 rate_limited with a Retry-After of whole seconds >= 1; returns it. */
static long expect_rate_limited(struct response *r)
{
    expect_problem(r, 429, "rate_limited", NULL);
    char v[32];
    assert_true(response_header(r, "retry-after", v, sizeof(v)));
    char *end;
    long s = strtol(v, &end, 10);
    assert_true(*end == '\0' && s >= 1);
    return s;
}

static void pay_code(const struct server *s, const struct merchant *m, const char *code, const char *terminal,
                     long status, const char *err, long *retry_after)
{
    char body[256];
    code_body(code, terminal, body, sizeof(body));
    struct response r;
    http_call(s, "POST", "/v1/payments", m->key, body, NULL, &r);
    if (r.status != status)
        fprintf(stderr, "payment code via %s: %ld %s\n", terminal ? terminal : "(key)", r.status, r.body);
    if (status == 429) {
        long retry = expect_rate_limited(&r);
        if (retry_after != NULL)
            *retry_after = retry;
    } else if (err != NULL) {
        expect_problem(&r, status, err, NULL);
    } else {
        assert_int_equal(r.status, status);
        assert_string_equal(jstr(r.json, "status"), "succeeded");
    }
    response_free(&r);
}

/* A customer with money in a CNY wallet, on a server with a manual clock. */
static void payer_ready(const struct server *s, struct person *p, const char *phone, int64_t clock_s)
{
    person_signup(s, p, phone, "Mei Chen", "CN");
    person_login(s, p, clock_s);
    struct response r;
    api_expect(s, "POST", "/v1/wallets", p->token, "{\"currency\":\"CNY\"}", 201, NULL, &r);
    char wallet[48], card[48], body[256];
    snprintf(wallet, sizeof(wallet), "%s", jstr(r.json, "id"));
    response_free(&r);
    api_expect(s, "POST", "/v1/funding-sources", p->token,
               "{\"type\":\"card\",\"card\":{\"number\":\"4242424242424242\",\"exp_month\":1,\"exp_year\":2031,"
               "\"holder\":\"Mei\"}}",
               201, NULL, &r);
    snprintf(card, sizeof(card), "%s", jstr(r.json, "id"));
    response_free(&r);
    snprintf(body, sizeof(body), "{\"wallet_id\":\"%s\",\"funding_source_id\":\"%s\",\"amount\":\"100.00\",\"currency\":\"CNY\"}",
             wallet, card);
    api_expect(s, "POST", "/v1/topups", p->token, body, 201, NULL, NULL);
}

/* A tap with a token no device has: counted like a wrong code. */
static void tap_unknown(const struct server *s, const struct merchant *m, const char *terminal, long status)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"nfc\":{\"token\":\"8700000000000000\",\"atc\":1,\"amount\":\"1.00\",\"currency\":\"CNY\","
             "\"unpredictable_number\":\"01020304\",\"cryptogram\":\"00112233445566ff\"},\"terminal_id\":\"%s\"}",
             terminal);
    struct response r;
    http_call(s, "POST", "/v1/payments", m->key, body, NULL, &r);
    if (status == 429)
        expect_rate_limited(&r);
    else
        expect_problem(&r, status, "nfc_token_unknown", "/nfc");
    response_free(&r);
}

static void guessing_reported(const struct server *s, const struct merchant *m, const char *terminal)
{
    struct response r;
    api_expect(s, "GET", "/v1/risk/guessing", s->admin_key, NULL, 200, NULL, &r);
    json_t *data = json_object_get(r.json, "data"), *a;
    size_t i;
    bool found = false;
    json_array_foreach(data, i, a)
    {
        json_t *t = json_object_get(a, "terminal_id");
        if (strcmp(jstr(a, "merchant_id"), m->id) == 0 && json_is_string(t) && strcmp(json_string_value(t), terminal) == 0) {
            found = true;
            assert_string_equal(jstr(a, "instrument"), "payment_code");
            assert_true(json_integer_value(json_object_get(a, "refused")) >= 2);
        }
    }
    assert_true(found);
    response_free(&r);
    api_expect(s, "GET", "/v1/risk/guessing", m->key, NULL, 404, "route_not_found", NULL);
}

static bool log_says(const struct server *s, const char *text)
{
    FILE *f = fopen(s->log_path, "r");
    assert_non_null(f);
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f) != NULL)
        found = strstr(line, text) != NULL;
    fclose(f);
    return found;
}

static long long metric(const struct server *s, const char *line_start)
{
    struct response r;
    api_expect(s, "GET", "/metrics", s->admin_key, NULL, 200, NULL, &r); /* the operator's */
    const char *at = strstr(r.body, line_start);
    assert_non_null(at);
    long long v = atoll(at + strlen(line_start));
    response_free(&r);
    return v;
}

/* Finding 4: a merchant terminal guessing a customer's code is throttled; nobody else is. */
static void wrong_codes_throttle_the_terminal(void **state)
{
    (void)state;
    static const char *const args[] = {"--risk=false", "--test-clock", TEST_CLOCK_START, "--wrong-codes-max", "5",
                                       "--wrong-codes-window", "600", NULL};
    struct server srv;
    server_start(&srv, NULL, args);
    int64_t clock_s = TEST_CLOCK_START_S;
    struct merchant shop, other, rotator;
    merchant_create(&srv, &shop, "Noodle House");
    merchant_create(&srv, &other, "Tea Corner");
    merchant_create(&srv, &rotator, "Rotator");
    struct person victim;
    payer_ready(&srv, &victim, "+8613300133000", clock_s);
    char wrong[MOPAY_PAYCODE_BYTES], right[MOPAY_PAYCODE_BYTES];
    paycode(&victim, clock_s, true, wrong);
    paycode(&victim, clock_s, false, right);
    for (int i = 0; i < 5; i++)
        pay_code(&srv, &shop, wrong, "till-1", 422, "payment_code_invalid", NULL);
    long retry = 0;
    pay_code(&srv, &shop, wrong, "till-1", 429, NULL, &retry);
    assert_int_equal(retry, 120); /* 600 s / 5: when the next guess is allowed */
    pay_code(&srv, &shop, right, "till-1", 429, NULL, NULL); /* the terminal's own throttle */
    /* the same merchant's other till, another merchant: unaffected; the victim's code pays */
    pay_code(&srv, &other, wrong, NULL, 422, "payment_code_invalid", NULL);
    pay_code(&srv, &shop, right, "till-2", 201, NULL, NULL);
    guessing_reported(&srv, &shop, "till-1");
    assert_true(log_says(&srv, "merchant terminal throttled for wrong payment codes"));
    /* a terminal id is a merchant's, of safe characters */
    pay_code(&srv, &shop, wrong, "till 1", 422, "field_invalid", NULL);
    pay_code(&srv, &shop, wrong, "till\\\"1", 422, "field_invalid", NULL);
    assert_true(metric(&srv, "\nmopay_wrong_codes_refused_total ") >= 2);
    assert_true(metric(&srv, "\nmopay_wrong_codes_total{instrument=\"payment_code\"} ") >= 6);
    /* once the window lets one through, the till pays again with a right code */
    test_clock_advance(&srv, &clock_s, retry);
    paycode(&victim, clock_s, false, right);
    pay_code(&srv, &shop, right, "till-1", 201, NULL, NULL);
    /* the key naming no terminal is a terminal of its own; NFC taps count the same way */
    for (int i = 0; i < 5; i++)
        pay_code(&srv, &other, wrong, NULL, 422, "payment_code_invalid", NULL);
    pay_code(&srv, &other, wrong, NULL, 429, NULL, NULL);
    for (int i = 0; i < 5; i++)
        tap_unknown(&srv, &shop, "nfc-1", 422);
    tap_unknown(&srv, &shop, "nfc-1", 429);
    /* a merchant naming a new terminal for every guess meets the limit of all its terminals (x10) */
    char terminal[32];
    for (int i = 0; i < 50; i++) {
        snprintf(terminal, sizeof(terminal), "t-%d", i);
        pay_code(&srv, &rotator, wrong, terminal, 422, "payment_code_invalid", NULL);
    }
    pay_code(&srv, &rotator, wrong, "t-new", 429, NULL, NULL);
    /* and still the victim's device pays, at another merchant */
    test_clock_advance(&srv, &clock_s, 30);
    paycode(&victim, clock_s, false, right);
    pay_code(&srv, &shop, right, "till-3", 201, NULL, NULL);
    assert_int_equal(server_stop(&srv), 0);
}

/* A sign-up with an X-Forwarded-For header (NULL: none); returns the status. */
static long signup(const struct server *s, const char *phone, const char *forwarded, long *retry_after)
{
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    char pk64[64], body[512], header[128];
    sodium_bin2base64(pk64, sizeof(pk64), pk, 32, sodium_base64_VARIANT_ORIGINAL);
    snprintf(body, sizeof(body),
             "{\"phone\":\"%s\",\"name\":\"Flood\",\"country\":\"CN\",\"pin\":\"123456\","
             "\"device\":{\"public_key\":\"%s\",\"name\":\"phone\"}}",
             phone, pk64);
    snprintf(header, sizeof(header), "X-Forwarded-For: %s", forwarded != NULL ? forwarded : "");
    const char *const headers[] = {header, NULL};
    struct response r;
    http_call(s, "POST", "/v1/customers", NULL, body, forwarded != NULL ? headers : NULL, &r);
    long status = r.status;
    if (status == 429) {
        long retry = expect_rate_limited(&r);
        if (retry_after != NULL)
            *retry_after = retry;
    } else if (status != 201) {
        fprintf(stderr, "sign-up %s: %ld %s\n", phone, r.status, r.body);
    }
    response_free(&r);
    return status;
}

/* Finding 8: sign-up per client address; X-Forwarded-For is believed from trusted peers only. */
static void signup_flood_per_address(void **state)
{
    (void)state;
    static const char *const args[] = {"--signup-address-max", "3", NULL};
    struct server srv;
    server_start(&srv, NULL, args);
    assert_int_equal(signup(&srv, "+8613800000001", "203.0.113.1", NULL), 201);
    assert_int_equal(signup(&srv, "+8613900000001", "203.0.113.2", NULL), 201);
    assert_int_equal(signup(&srv, "+8613700000001", "203.0.113.3", NULL), 201);
    long retry = 0;
    /* the peer is not a trusted proxy: its X-Forwarded-For says nothing */
    assert_int_equal(signup(&srv, "+8613600000001", "203.0.113.4", &retry), 429);
    assert_int_equal(retry, 1200); /* 3 an hour: one every 1,200 s */
    assert_int_equal(server_stop(&srv), 0);

    static const char *const proxied[] = {"--signup-address-max", "3", "--trusted-proxies", "127.0.0.1/32,10.0.0.0/8",
                                          NULL};
    server_start(&srv, NULL, proxied);
    assert_int_equal(signup(&srv, "+8613800000001", "203.0.113.1", NULL), 201);
    assert_int_equal(signup(&srv, "+8613900000001", "203.0.113.1, 10.1.2.3", NULL), 201); /* a proxy chain */
    assert_int_equal(signup(&srv, "+8613700000001", "203.0.113.1", NULL), 201);
    assert_int_equal(signup(&srv, "+8613600000001", "203.0.113.1", NULL), 429);
    /* what the client writes on the left is not believed: the right-most untrusted address is */
    assert_int_equal(signup(&srv, "+8613600000001", "198.51.100.7, 203.0.113.1", NULL), 429);
    /* another client behind the proxy still signs up */
    assert_int_equal(signup(&srv, "+8613600000001", "203.0.113.2", NULL), 201);
    /* an IPv6 subscriber holds a /64 at least: every address in it is one client (each address
     * counted alone, a flood from fresh addresses of one /64 was never refused) */
    assert_int_equal(signup(&srv, "+8613500000001", "2001:db8:1:2::1", NULL), 201);
    assert_int_equal(signup(&srv, "+8613400000001", "2001:db8:1:2::2", NULL), 201);
    assert_int_equal(signup(&srv, "+8613300000001", "2001:db8:1:2:ffff::3", NULL), 201);
    assert_int_equal(signup(&srv, "+8613200000001", "2001:db8:1:2:abcd:ef01:2345:6789", NULL), 429);
    assert_int_equal(signup(&srv, "+8613200000001", "2001:db8:1:3::1", NULL), 201); /* the next /64 */
    assert_int_equal(server_stop(&srv), 0);
}

/* Finding 8: sign-up per phone prefix (the number less its last 4 digits), any address. */
static void signup_flood_per_prefix(void **state)
{
    (void)state;
    static const char *const args[] = {"--signup-prefix-max", "2", "--trusted-proxies", "127.0.0.1", NULL};
    struct server srv;
    server_start(&srv, NULL, args);
    assert_int_equal(signup(&srv, "+8613512340001", "203.0.113.1", NULL), 201);
    assert_int_equal(signup(&srv, "+8613512340002", "203.0.113.2", NULL), 201);
    assert_int_equal(signup(&srv, "+8613512349999", "203.0.113.3", NULL), 429);
    assert_int_equal(signup(&srv, "+8613512350001", "203.0.113.3", NULL), 201); /* the next block */
    assert_int_equal(server_stop(&srv), 0);
}

static long call_from(const struct server *s, const char *method, const char *path, const char *token,
                      const char *body, const char *forwarded)
{
    char header[128];
    snprintf(header, sizeof(header), "X-Forwarded-For: %s", forwarded);
    const char *const headers[] = {header, NULL};
    struct response r;
    http_call(s, method, path, token, body, headers, &r);
    long status = r.status;
    if (status == 429)
        expect_rate_limited(&r);
    response_free(&r);
    return status;
}

/* Finding 9's bad bearer tokens, and the per-principal and anonymous limits. */
static void tokens_principals_and_anonymous(void **state)
{
    (void)state;
    static const char *const args[] = {"--rate-bad-token-max", "5", "--rate-principal-max", "10",
                                       "--rate-anonymous-max", "3", "--trusted-proxies", "127.0.0.1", NULL};
    struct server srv;
    server_start(&srv, NULL, args);
    struct merchant m;
    merchant_create(&srv, &m, "Busy Shop");
    const char *bogus = "sk_0000000000000000000000000000000000000000000000000000000000000000";
    char path[96];
    snprintf(path, sizeof(path), "/v1/merchants/%s", m.id);
    for (int i = 0; i < 5; i++)
        assert_int_equal(call_from(&srv, "GET", path, bogus, NULL, "203.0.113.5"), 401);
    assert_int_equal(call_from(&srv, "GET", path, bogus, NULL, "203.0.113.5"), 429);
    /* the address's bad credentials are throttled, never a good one from the same address (a
     * carrier's NAT); another address is not */
    assert_int_equal(call_from(&srv, "GET", path, m.key, NULL, "203.0.113.5"), 200);
    assert_int_equal(call_from(&srv, "GET", path, bogus, NULL, "203.0.113.5"), 429);
    assert_int_equal(call_from(&srv, "GET", path, bogus, NULL, "203.0.113.6"), 401);
    /* one merchant key: 10 a minute, from any address, then 429; operator keys are not limited */
    for (int i = 0; i < 9; i++) /* one was used above */
        assert_int_equal(call_from(&srv, "GET", path, m.key, NULL, "203.0.113.8"), 200);
    assert_int_equal(call_from(&srv, "GET", path, m.key, NULL, "203.0.113.9"), 429);
    for (int i = 0; i < 12; i++)
        assert_int_equal(call_from(&srv, "GET", "/v1/ledger/check", srv.admin_key, NULL, "203.0.113.8"), 200);
    /* anonymous writes from one address: 3 a minute, whatever they say */
    for (int i = 0; i < 3; i++)
        assert_int_equal(call_from(&srv, "POST", "/v1/sessions", NULL, "{}", "203.0.113.7"), 422);
    assert_int_equal(call_from(&srv, "POST", "/v1/sessions", NULL, "{}", "203.0.113.7"), 429);
    assert_int_equal(call_from(&srv, "POST", "/v1/sessions", NULL, "{}", "203.0.113.10"), 422);
    for (int i = 0; i < 3; i++) { /* one IPv6 /64, a new address each time */
        char addr[64];
        snprintf(addr, sizeof addr, "2001:db8:5:6::%x", i + 1);
        assert_int_equal(call_from(&srv, "POST", "/v1/sessions", NULL, "{}", addr), 422);
    }
    assert_int_equal(call_from(&srv, "POST", "/v1/sessions", NULL, "{}", "2001:db8:5:6::99"), 429);
    assert_int_equal(call_from(&srv, "GET", "/healthz", NULL, NULL, "203.0.113.7"), 200);
    assert_int_equal(server_stop(&srv), 0);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* The finding's figure, with the default limits: wrong codes one merchant key gets judged. Before,
 * 5,861 a second without end; now a burst of 100, then one every 6 s. Printed, and checked
 * against the limit (the elapsed time only widens the bound). */
static void wrong_code_rate_with_defaults(void **state)
{
    (void)state;
    static const char *const args[] = {"--risk=false", NULL};
    struct server srv;
    server_start(&srv, NULL, args);
    struct merchant m;
    merchant_create(&srv, &m, "Guesser");
    char body[256];
    code_body("870000000150000000", NULL, body, sizeof(body));
    int judged = 0, refused = 0, tries = 400;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < tries; i++) {
        struct response r;
        http_call(&srv, "POST", "/v1/payments", m.key, body, NULL, &r);
        judged += r.status == 422;
        refused += r.status == 429;
        response_free(&r);
    }
    double elapsed = seconds_since(&t0);
    printf("figure: %d wrong codes submitted in %.2f s by one merchant key: %d judged (%.1f/s), %d refused 429; "
           "sustained limit 1 per %d s\n",
           tries, elapsed, judged, judged / elapsed, refused, 600 / 100);
    assert_int_equal(judged + refused, tries);
    assert_true(judged >= 100 && judged <= 100 + 1 + (int)(elapsed / 6));
    assert_int_equal(server_stop(&srv), 0);
}

int main(int argc, char **argv)
{
    harness_init(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wrong_codes_throttle_the_terminal),
        cmocka_unit_test(signup_flood_per_address),
        cmocka_unit_test(signup_flood_per_prefix),
        cmocka_unit_test(tokens_principals_and_anonymous),
        cmocka_unit_test(wrong_code_rate_with_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
