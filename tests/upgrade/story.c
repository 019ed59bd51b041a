/* The story behind the upgrade fixtures (tests/upgrade/make-fixture.sh runs it against a wave-1
 * server on a manual clock; see that script for why):
 *
 *   upgrade_story story MOPAY PORT ADMIN_KEY WEBHOOK_PORT FIXTURE_JSON
 *       plays the story: a merchant whose webhook receiver is down until one event is dead, then
 *       `MOPAY demo` (which signs with the real clock, so the server's clock is moved up to it
 *       first), then a row of every record kind the domain writes that the demo does not make;
 *       writes what the clients kept (credentials, device keys, the clock) to FIXTURE_JSON.
 *   upgrade_story record PORT FIXTURE_JSON RECORDS_JSONL EXPECTED_JSONL
 *       against the same database restarted at the story's last clock: for every stored record
 *       the GETs that show it (RECORDS_JSONL: {"kind", "id", "data"} a line, read from the
 *       database), the principals' own views, the idempotent replays, the webhook gauges, all
 *       written to EXPECTED_JSONL as the answers the check must get again.
 *
 * The risk step is on, with the shipped model, as `make run` serves: where it asks for the PIN
 * the clients give it, as a phone would. */
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

#include "story.h"

struct server srv;
int64_t clock_s;
json_t *fixture;
const char *mopay_bin;
int webhook_port;
static const char *fixture_path, *records_path, *expected_path;

/* --- requests --- */

/* One request as `as`; with an Idempotency-Key, the exchange is kept among the fixture's
 * replays, answer and all. Returns the status; *out (when given) takes the answer's JSON. */
long exchange(const char *method, const char *path, const char *as, const char *key, const char *body,
                     json_t **out)
{
    struct response r;
    upgrade_call(&srv, method, path, upgrade_token(fixture, as), body, key, &r);
    if (key != NULL)
        json_array_append_new(json_object_get(fixture, "replays"),
                              json_pack("{s:s, s:s, s:s, s:s, s:s?, s:i, s:s}", "method", method, "path", path, "as",
                                        as ? as : "anonymous", "idempotency_key", key, "request", body, "status",
                                        (int)r.status, "text", r.body ? r.body : ""));
    long status = r.status;
    if (out != NULL)
        *out = json_incref(r.json);
    response_free(&r);
    return status;
}

/* exchange() that must answer `status`; returns the answer's JSON (the caller's). */
json_t *sendf(const char *method, const char *path, const char *as, const char *key, long status,
                     const char *fmt, ...)
{
    char body[4096];
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(body, sizeof(body), fmt, ap);
        va_end(ap);
        assert_true(n > 0 && (size_t)n < sizeof(body));
    }
    json_t *j = NULL;
    long got = exchange(method, path, as, key, fmt != NULL ? body : NULL, &j);
    if (got != status) {
        char *said = j ? json_dumps(j, JSON_COMPACT) : NULL;
        fprintf(stderr, "%s %s as %s: expected %ld, got %ld: %s\n", method, path, as ? as : "anonymous", status, got,
                said ? said : "");
        free(said);
    }
    assert_int_equal(got, status);
    return j;
}

json_t *principals(void)
{
    return json_object_get(fixture, "principals");
}

const char *field(const char *as, const char *name)
{
    const char *v = jstr(upgrade_principal(fixture, as), name);
    assert_non_null(v);
    return v;
}

void clock_advance(int64_t seconds)
{
    test_clock_advance(&srv, &clock_s, seconds);
}

/* The server's clock, read by moving it on a second. */
static void clock_read(void)
{
    json_t *j = sendf("POST", "/v1/test-clock/advance", "admin", NULL, 200, "{\"seconds\":1}");
    struct tm tm = {0};
    assert_non_null(strptime(jstr(j, "now"), "%Y-%m-%dT%H:%M:%S", &tm));
    clock_s = (int64_t)timegm(&tm);
    json_decref(j);
}

/* --- the cast --- */

/* Signs `label` up on a new device (with an Idempotency-Key when `key` is given), logs it in and
 * keeps what its phone keeps. */
void customer_new(const char *label, const char *phone, const char *name, const char *country,
                         const char *key)
{
    uint8_t pk[32], sk[64];
    char pk64[64], sk64[128];
    crypto_sign_keypair(pk, sk);
    sodium_bin2base64(pk64, sizeof(pk64), pk, sizeof(pk), sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(sk64, sizeof(sk64), sk, sizeof(sk), sodium_base64_VARIANT_ORIGINAL);
    json_t *j = sendf("POST", "/v1/customers", NULL, key, 201,
                      "{\"phone\":\"%s\",\"name\":\"%s\",\"country\":\"%s\",\"pin\":\"" PIN "\","
                      "\"device\":{\"public_key\":\"%s\",\"name\":\"%s's phone\"}}",
                      phone, name, country, pk64, name);
    json_t *c = json_object_get(j, "customer"), *d = json_object_get(j, "device");
    json_object_set_new(principals(), label,
                        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O}", "kind", "customer", "id",
                                  jstr(c, "id"), "phone", jstr(c, "phone"), "name", name, "pin", PIN, "device_id",
                                  jstr(d, "id"), "device_sk", sk64, "paycode_secret",
                                  jstr(d, "payment_code_secret"), "paycode_index",
                                  json_object_get(d, "payment_code_index")));
    json_decref(j);
    struct person p;
    upgrade_person_of(upgrade_principal(fixture, label), &p);
    person_login(&srv, &p, clock_s);
    json_object_set_new(upgrade_principal(fixture, label), "token", json_string(p.token));
}

void wallet_open(const char *label, const char *currency, const char *name)
{
    json_t *j = sendf("POST", "/v1/wallets", label, NULL, 201, "{\"currency\":\"%s\"}", currency);
    json_object_set_new(upgrade_principal(fixture, label), name, json_string(jstr(j, "id")));
    json_decref(j);
}

/* A funding source; returns its id into `id` (48 bytes) when given. */
void source_add(const char *label, const char *body, char *id)
{
    json_t *j = sendf("POST", "/v1/funding-sources", label, NULL, 201, "%s", body);
    if (id != NULL)
        snprintf(id, 48, "%s", jstr(j, "id"));
    json_decref(j);
}

/* A merchant (or, with path /v1/billers, a biller) and what it keeps: its key, its webhook
 * secret, and its static QR code's payload. */
void shop_new(const char *label, const char *path, const char *name, const char *mcc, const char *country,
                     const char *city, const char *currency, const char *webhook_url)
{
    char hook[256] = "";
    if (webhook_url != NULL)
        snprintf(hook, sizeof(hook), ",\"webhook_url\":\"%s\"", webhook_url);
    json_t *j = sendf("POST", path, "admin", NULL, 201,
                      "{\"name\":\"%s\",\"mcc\":\"%s\",\"country\":\"%s\",\"city\":\"%s\",\"currency\":\"%s\","
                      "\"fee_bps\":60,\"settlement_account\":\"ACC-%s\"%s}",
                      name, mcc, country, city, currency, label, hook);
    json_t *m = json_object_get(j, "merchant");
    json_object_set_new(principals(), label,
                        json_pack("{s:s, s:s, s:s, s:s, s:s}", "kind", "merchant", "id", jstr(m, "id"), "name", name,
                                  "key", jstr(j, "api_key"), "webhook_secret", jstr(j, "webhook_secret")));
    json_decref(j);
    char qr_path[128];
    snprintf(qr_path, sizeof(qr_path), "/v1/merchants/%s/qr?format=text", field(label, "id"));
    struct response r;
    http_call(&srv, "GET", qr_path, field(label, "key"), NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    json_object_set_new(upgrade_principal(fixture, label), "qr", json_string(r.body));
    response_free(&r);
}

/* --- money --- */

/* The body with the PIN added, for a request the risk step wants confirmed. */
void with_pin(const char *body, char *out, size_t cap)
{
    size_t len = strlen(body);
    assert_true(len > 2 && body[len - 1] == '}' && len + 20 < cap);
    snprintf(out, cap, "%.*s,\"pin\":\"" PIN "\"}", (int)(len - 1), body);
}

/* A P2P transfer, top-up or withdrawal by `as`, given the PIN if the risk step asks for it. */
json_t *outflow(const char *path, const char *as, const char *key, const char *body)
{
    json_t *j = NULL;
    long status = exchange("POST", path, as, key, body, &j);
    if (status == 428) {
        char again[4096], key_pin[128];
        with_pin(body, again, sizeof(again));
        snprintf(key_pin, sizeof(key_pin), "%s-pin", key ? key : "");
        json_decref(j);
        status = exchange("POST", path, as, key ? key_pin : NULL, again, &j);
    }
    if (status != 201) {
        char *said = j ? json_dumps(j, JSON_COMPACT) : NULL;
        fprintf(stderr, "POST %s as %s: %ld %s\n", path, as, status, said ? said : "");
        free(said);
    }
    assert_int_equal(status, 201);
    return j;
}

/* A payment sent by `as` (the payer, or the merchant scanning its code or taking its tap); when
 * it waits for the PIN and `confirm` says so, `payer` confirms it. Returns the payment. */
json_t *pay(const char *as, const char *payer, const char *key, const char *body, bool confirm)
{
    json_t *j = sendf("POST", "/v1/payments", as, key, 201, "%s", body);
    if (confirm && strcmp(jstr(j, "status"), "requires_confirmation") == 0) {
        char path[128];
        snprintf(path, sizeof(path), "/v1/payments/%s/confirm", jstr(j, "id"));
        json_decref(j);
        j = sendf("POST", path, payer, NULL, 200, "{\"pin\":\"" PIN "\"}");
    }
    return j;
}

json_t *order_new(const char *shop, const char *key, const char *fmt, ...)
{
    char body[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof(body), fmt, ap);
    va_end(ap);
    return sendf("POST", "/v1/orders", shop, key, 201, "%s", body);
}

/* --- main --- */

static void story_run(void **state)
{
    (void)state;
    fixture = json_pack("{s:i, s:i, s:{s:{s:s, s:s}}, s:[], s:{}}", "wave", 1, "webhook_port", webhook_port,
                        "principals", "admin", "kind", "operator", "key", srv.admin_key, "replays", "story");
    clock_read();
    chapter_webhook_dies();
    chapter_demo();
    chapter_operators();
    chapter_shops();
    chapter_customers();
    chapter_offers();
    chapter_hook_payments();
    chapter_travel();
    chapter_bills();
    chapter_transfers();
    chapter_risk();
    chapter_waiting_payment();
    char now[32];
    time_t t = (time_t)clock_s;
    strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    json_object_set_new(fixture, "clock", json_string(now));
    assert_int_equal(json_dump_file(fixture, fixture_path, JSON_INDENT(2) | JSON_SORT_KEYS), 0);
    printf("the story ends at %s\n", now);
    json_decref(fixture);
    fixture = NULL;
}

static void record_test(void **state)
{
    (void)state;
    record_run(fixture_path, records_path, expected_path);
}

static int usage(void)
{
    fprintf(stderr, "usage: upgrade_story story MOPAY PORT ADMIN_KEY WEBHOOK_PORT FIXTURE_JSON\n"
                    "       upgrade_story record PORT FIXTURE_JSON RECORDS_JSONL EXPECTED_JSONL\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 1;
    if (argc == 7 && strcmp(argv[1], "story") == 0) {
        mopay_bin = argv[2];
        srv.port = atoi(argv[3]);
        snprintf(srv.admin_key, sizeof(srv.admin_key), "%s", argv[4]);
        webhook_port = atoi(argv[5]);
        fixture_path = argv[6];
        char *args[] = {argv[0], (char *)mopay_bin, NULL};
        harness_init(2, args);
        const struct CMUnitTest tests[] = {cmocka_unit_test(story_run)};
        return cmocka_run_group_tests_name("upgrade_story", tests, NULL, NULL);
    }
    if (argc == 6 && strcmp(argv[1], "record") == 0) {
        srv.port = atoi(argv[2]);
        fixture_path = argv[3];
        records_path = argv[4];
        expected_path = argv[5];
        char *args[] = {argv[0], (char *)"mopay", NULL};
        harness_init(2, args);
        const struct CMUnitTest tests[] = {cmocka_unit_test(record_test)};
        return cmocka_run_group_tests_name("upgrade_record", tests, NULL, NULL);
    }
    return usage();
}
