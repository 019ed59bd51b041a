#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sodium.h>

#include "consumers.h"

const char *jstr(json_t *j, const char *key)
{
    return json_string_value(json_object_get(j, key));
}

long long minor_of(const char *amount)
{
    assert_non_null(amount);
    long long whole = 0, frac = 0;
    int sign = 1;
    if (*amount == '-') {
        sign = -1;
        amount++;
    }
    assert_int_equal(sscanf(amount, "%lld.%2lld", &whole, &frac), 2);
    return sign * (whole * 100 + frac);
}

long long wallet_amount(const struct server *s, const char *token, const char *wallet_id, const char *field)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/wallets/%s", wallet_id);
    struct response r;
    http_call(s, "GET", path, token, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    long long v = minor_of(jstr(r.json, field));
    response_free(&r);
    return v;
}

void api_expect(const struct server *s, const char *method, const char *path, const char *token, const char *body,
                long status, const char *code, struct response *out)
{
    struct response r;
    http_call(s, method, path, token, body, NULL, &r);
    if (r.status != status)
        fprintf(stderr, "%s %s -> %ld %s\n", method, path, r.status, r.body);
    if (code != NULL)
        expect_problem(&r, status, code, NULL);
    assert_int_equal(r.status, status);
    if (out != NULL)
        *out = r;
    else
        response_free(&r);
}

void test_clock_advance(const struct server *s, int64_t *clock_s, int64_t seconds)
{
    char body[64];
    snprintf(body, sizeof(body), "{\"seconds\":%lld}", (long long)seconds);
    api_expect(s, "POST", "/v1/test-clock/advance", s->admin_key, body, 200, NULL, NULL);
    *clock_s += seconds;
}

void person_signup(const struct server *s, struct person *p, const char *phone, const char *name,
                   const char *country)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->phone, sizeof(p->phone), "%s", phone);
    snprintf(p->name, sizeof(p->name), "%s", name);
    crypto_sign_keypair(p->pk, p->sk);
    char pk64[64], body[512];
    sodium_bin2base64(pk64, sizeof(pk64), p->pk, 32, sodium_base64_VARIANT_ORIGINAL);
    snprintf(body, sizeof(body),
             "{\"phone\":\"%s\",\"name\":\"%s\",\"country\":\"%s\",\"pin\":\"123456\","
             "\"device\":{\"public_key\":\"%s\",\"name\":\"phone of %s\"}}",
             phone, name, country, pk64, name);
    struct response r;
    http_call(s, "POST", "/v1/customers", NULL, body, NULL, &r);
    assert_int_equal(r.status, 201);
    json_t *customer = json_object_get(r.json, "customer"), *device = json_object_get(r.json, "device");
    snprintf(p->id, sizeof(p->id), "%s", jstr(customer, "id"));
    snprintf(p->device_id, sizeof(p->device_id), "%s", jstr(device, "id"));
    snprintf(p->secret_b64, sizeof(p->secret_b64), "%s", jstr(device, "payment_code_secret"));
    p->code_index = (uint32_t)json_integer_value(json_object_get(device, "payment_code_index"));
    assert_int_equal(json_integer_value(json_object_get(customer, "kyc_tier")), 0);
    response_free(&r);
}

void session_body(const struct person *p, int64_t unix_s, const char *pin, char *out, size_t cap)
{
    char ts[32], msg[256], sig64[128];
    time_t t = (time_t)unix_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    int n = snprintf(msg, sizeof(msg), "%s|%s|%s", p->phone, p->device_id, ts);
    uint8_t sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, (const unsigned char *)msg, (size_t)n, p->sk);
    sodium_bin2base64(sig64, sizeof(sig64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, cap, "{\"phone\":\"%s\",\"pin\":\"%s\",\"device_id\":\"%s\",\"timestamp\":\"%s\",\"signature\":\"%s\"}",
             p->phone, pin, p->device_id, ts, sig64);
}

void person_session_try(const struct server *s, struct person *p, int64_t unix_s, const char *pin,
                        struct response *r)
{
    char body[1024];
    session_body(p, unix_s, pin, body, sizeof(body));
    http_call(s, "POST", "/v1/sessions", NULL, body, NULL, r);
}

void person_login(const struct server *s, struct person *p, int64_t unix_s)
{
    struct response r;
    person_session_try(s, p, unix_s, "123456", &r);
    assert_int_equal(r.status, 201);
    snprintf(p->token, sizeof(p->token), "%s", jstr(r.json, "token"));
    assert_string_equal(jstr(r.json, "customer_id"), p->id);
    response_free(&r);
}
