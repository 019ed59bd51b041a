#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "mopay/nfc.h"
#include "mopay/paycode.h"
#include "upgrade.h"

json_t *upgrade_principal(json_t *fixture, const char *as)
{
    return json_object_get(json_object_get(fixture, "principals"), as);
}

const char *upgrade_token(json_t *fixture, const char *as)
{
    if (as == NULL || strcmp(as, "anonymous") == 0)
        return NULL;
    json_t *p = upgrade_principal(fixture, as);
    const char *token = jstr(p, "key") ? jstr(p, "key") : jstr(p, "token");
    if (token == NULL)
        fprintf(stderr, "the fixture has no principal \"%s\" with a key or token\n", as);
    assert_non_null(token);
    return token;
}

void upgrade_call(const struct server *s, const char *method, const char *path, const char *token, const char *body,
                  const char *key, struct response *out)
{
    char header[sizeof(UPGRADE_IDEMPOTENCY_HEADER) + 256];
    const char *headers[] = {header, NULL};
    if (key != NULL)
        snprintf(header, sizeof(header), UPGRADE_IDEMPOTENCY_HEADER "%s", key);
    http_call(s, method, path, token, body, key != NULL ? headers : NULL, out);
}

json_t *upgrade_get_line(const char *path, const char *as, const struct response *r)
{
    json_t *line = json_pack("{s:s, s:s, s:s, s:i}", "method", "GET", "path", path, "as", as, "status", (int)r->status);
    assert_non_null(line);
    if (r->status >= 400)
        json_object_set_new(line, "fields", json_pack("{s:s?}", "code", jstr(r->json, "code")));
    else if (r->json != NULL)
        json_object_set(line, "body", r->json);
    else
        json_object_set_new(line, "text", json_string(r->body ? r->body : ""));
    return line;
}

long long upgrade_metric(const struct server *s, const char *admin_key, const char *name)
{
    struct response r;
    http_call(s, "GET", "/metrics", admin_key, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    long long value = -1;
    size_t len = strlen(name);
    for (const char *line = r.body; line != NULL && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (strncmp(line, name, len) == 0 && line[len] == ' ')
            value = strtoll(line + len + 1, NULL, 10);
    response_free(&r);
    return value;
}

void upgrade_person_of(json_t *customer, struct person *p)
{
    memset(p, 0, sizeof(*p));
    assert_non_null(customer);
    snprintf(p->phone, sizeof(p->phone), "%s", jstr(customer, "phone"));
    snprintf(p->name, sizeof(p->name), "%s", jstr(customer, "name"));
    snprintf(p->id, sizeof(p->id), "%s", jstr(customer, "id"));
    snprintf(p->device_id, sizeof(p->device_id), "%s", jstr(customer, "device_id"));
    snprintf(p->token, sizeof(p->token), "%s", jstr(customer, "token"));
    snprintf(p->secret_b64, sizeof(p->secret_b64), "%s", jstr(customer, "paycode_secret"));
    p->code_index = (uint32_t)json_integer_value(json_object_get(customer, "paycode_index"));
    const char *sk = jstr(customer, "device_sk");
    size_t n = 0;
    assert_non_null(sk);
    assert_int_equal(
        sodium_base642bin(p->sk, sizeof(p->sk), sk, strlen(sk), NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
    assert_int_equal(n, sizeof(p->sk));
    crypto_sign_ed25519_sk_to_pk(p->pk, p->sk);
}

char *upgrade_file_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap);
    while (buf != NULL && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 < cap)
            continue;
        char *grown = realloc(buf, cap * 2);
        if (grown == NULL)
            free(buf);
        buf = grown;
        cap *= 2;
    }
    fclose(f);
    if (buf == NULL)
        return NULL;
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}

json_t *upgrade_jsonl_load(const char *path)
{
    char *text = upgrade_file_read(path, NULL);
    if (text == NULL)
        return NULL;
    json_t *lines = json_array();
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        json_error_t e;
        json_t *j = json_loads(line, 0, &e);
        if (j == NULL) {
            fprintf(stderr, "%s: line %d: %s\n", path, e.line, e.text);
            json_decref(lines);
            free(text);
            return NULL;
        }
        json_array_append_new(lines, j);
    }
    free(text);
    return lines;
}

void upgrade_account_of(const char *id, char out[48])
{
    assert_non_null(id);
    assert_true(strlen(id) == 36 && id[3] == '_');
    snprintf(out, 48, "acc_%s", id + 4);
}

void upgrade_nfc_body(const char *token, const char *luk_b64, const char *merchant_id, unsigned atc,
                      int64_t amount_minor, char *out, size_t cap)
{
    uint8_t luk[MOPAY_NFC_LUK_BYTES], cryptogram[MOPAY_NFC_CRYPTOGRAM_BYTES];
    size_t n = 0;
    assert_non_null(luk_b64);
    assert_int_equal(sodium_base642bin(luk, sizeof(luk), luk_b64, strlen(luk_b64), NULL, &n, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    assert_int_equal(n, sizeof(luk));
    struct mopay_nfc_tap tap = {.amount_minor = amount_minor, .currency_numeric = 156, .atc = (uint16_t)atc};
    assert_int_equal(sodium_hex2bin(tap.merchant_id, sizeof(tap.merchant_id), merchant_id + 4, 32, NULL, &n, NULL), 0);
    randombytes_buf(tap.unpredictable_number, sizeof(tap.unpredictable_number));
    mopay_nfc_cryptogram(luk, &tap, cryptogram);
    char un[9], cg[17];
    sodium_bin2hex(un, sizeof(un), tap.unpredictable_number, sizeof(tap.unpredictable_number));
    sodium_bin2hex(cg, sizeof(cg), cryptogram, sizeof(cryptogram));
    snprintf(out, cap,
             "{\"nfc\":{\"token\":\"%s\",\"atc\":%u,\"amount\":\"%lld.%02lld\",\"currency\":\"CNY\","
             "\"unpredictable_number\":\"%s\",\"cryptogram\":\"%s\"},\"terminal_id\":\"till-2\"}",
             token, atc, (long long)(amount_minor / 100), (long long)(amount_minor % 100), un, cg);
}

void upgrade_paycode(const struct person *p, int64_t unix_s, char *out)
{
    uint8_t secret[MOPAY_PAYCODE_SECRET_BYTES];
    size_t n = 0;
    assert_int_equal(sodium_base642bin(secret, sizeof(secret), p->secret_b64, strlen(p->secret_b64), NULL, &n, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    assert_int_equal(n, sizeof(secret));
    mopay_paycode_make(secret, p->code_index, unix_s, out);
    sodium_memzero(secret, sizeof(secret));
}
