/* Hostile and careless clients against the HTTP core (issue 11): an Idempotency-Key on the
 * anonymous routes, request hashes the database alone cannot test guesses against, GETs that
 * leave no idempotency record, a body over h2o's own cap, and a second server on one SQLite file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cmocka.h>
#include <sodium.h>

#include "consumers.h"
#include "log_images.h"
#include "mopay/codec.h"
#include "mopay/wallet.h"
#include "harness.h"
#include "mopay/limits.h"
#include "mopay/store.h"

static struct server srv;
static bool on_sqlite;

static int group_setup(void **state)
{
    (void)state;
    const char *args[] = {"--test-clock", TEST_CLOCK_START, "--risk=false", NULL};
    server_start(&srv, NULL, args);
    on_sqlite = strncmp(srv.db, "sqlite:", 7) == 0;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    return server_stop(&srv) == 0 ? 0 : -1;
}

static void signup_body(const char *phone, const uint8_t pk[32], char *out, size_t cap)
{
    char pk64[64];
    sodium_bin2base64(pk64, sizeof(pk64), pk, 32, sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, cap,
             "{\"phone\":\"%s\",\"name\":\"Retry Ren\",\"country\":\"CN\",\"pin\":\"123456\","
             "\"device\":{\"public_key\":\"%s\",\"name\":\"phone\"}}",
             phone, pk64);
}

static void expect_alive_at(const struct server *s)
{
    struct response r;
    http_call(s, "GET", "/healthz", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    response_free(&r);
}

static void expect_alive(void)
{
    expect_alive_at(&srv);
}

/* The store's record for (principal, key), read behind the server's back; false when none. */
static bool idem_record(const char *principal, const char *key, struct mopay_idem_record *out)
{
    char err[256];
    struct mopay_store *store = mopay_store_open(srv.db, err, sizeof err);
    if (store == NULL)
        fail_msg("mopay_store_open: %s", err);
    bool found = false;
    memset(out, 0, sizeof *out);
    assert_int_equal(store->idem_get(store, principal, key, out, &found), MOPAY_OK);
    store->close(store);
    return found;
}

/* Writes a record behind the server's back, as someone with the database could. */
static void idem_record_put(const struct mopay_idem_record *rec)
{
    char err[256];
    struct mopay_store *store = mopay_store_open(srv.db, err, sizeof err);
    if (store == NULL)
        fail_msg("mopay_store_open: %s", err);
    assert_int_equal(store->begin(store), MOPAY_OK);
    assert_int_equal(store->idem_put(store, rec), MOPAY_OK);
    assert_int_equal(store->commit(store), MOPAY_OK);
    store->close(store);
}

/* Finding 1: a mobile app that retries sign-up with an Idempotency-Key gets the first answer
 * back (the same customer and payment-code secret) for the same body, 409 for another body, and
 * the server stays up. */
static void signup_takes_an_idempotency_key(void **state)
{
    (void)state;
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    char body[512], other[512];
    signup_body("+8613700000001", pk, body, sizeof body);
    signup_body("+8613700000002", pk, other, sizeof other);
    const char *key[] = {"Idempotency-Key: signup-retry-1", NULL};
    struct response first, again, changed;
    http_call(&srv, "POST", "/v1/customers", NULL, body, key, &first);
    assert_int_equal(first.status, 201);
    http_call(&srv, "POST", "/v1/customers", NULL, body, key, &again);
    assert_int_equal(again.status, 201);
    assert_string_equal(first.body, again.body);
    http_call(&srv, "POST", "/v1/customers", NULL, other, key, &changed);
    expect_problem(&changed, 409, "idempotency_key_reused", NULL);
    expect_alive();
    /* the other body's phone was not signed up by the refused request */
    struct response fresh;
    http_call(&srv, "POST", "/v1/customers", NULL, other, NULL, &fresh);
    assert_int_equal(fresh.status, 201);
    response_free(&fresh);

    /* Finding 5: the stored hash is keyed, not the plain digest anyone can compute from a guess. */
    struct mopay_idem_record rec;
    assert_true(idem_record("anon:customers_create", "signup-retry-1", &rec));
    uint8_t digest[32];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const unsigned char *)"POST\n/v1/customers\n", 19);
    crypto_generichash_update(&st, (const unsigned char *)body, strlen(body));
    crypto_generichash_final(&st, digest, 32);
    assert_memory_not_equal(rec.request_hash, digest, 32);
    const char *secret = jstr(json_object_get(first.json, "device"), "payment_code_secret");
    assert_null(strstr(rec.body, secret)); /* the reply is sealed */

    /* Sealed for its row: the same record copied under another key does not replay there. */
    snprintf(rec.key, sizeof rec.key, "signup-retry-copied");
    idem_record_put(&rec);
    const char *copied[] = {"Idempotency-Key: signup-retry-copied", NULL};
    struct response moved;
    http_call(&srv, "POST", "/v1/customers", NULL, body, copied, &moved);
    expect_problem(&moved, 500, "internal", NULL);
    assert_null(strstr(moved.body, secret));
    response_free(&moved);
    expect_alive();
    free(rec.body);
    response_free(&first);
    response_free(&again);
    response_free(&changed);
}

/* Finding 1: a log-in is never replayed: the same signed body with the same key is the second use
 * of its signed timestamp. */
static void login_is_never_replayed(void **state)
{
    (void)state;
    struct person p;
    person_signup(&srv, &p, "+8613700000003", "Login Li", "CN");
    char body[1024];
    session_body(&p, TEST_CLOCK_START_S, "123456", body, sizeof body);
    const char *key[] = {"Idempotency-Key: login-retry-1", NULL};
    struct response first, again;
    http_call(&srv, "POST", "/v1/sessions", NULL, body, key, &first);
    assert_int_equal(first.status, 201);
    http_call(&srv, "POST", "/v1/sessions", NULL, body, key, &again);
    expect_problem(&again, 401, "signature_replayed", NULL);
    expect_alive();
    struct mopay_idem_record rec;
    assert_false(idem_record("anon:sessions_create", "login-retry-1", &rec));
    response_free(&first);
    response_free(&again);
}

/* Finding 8: a GET with an Idempotency-Key reads and stores nothing. */
static void get_with_idempotency_key_stores_nothing(void **state)
{
    (void)state;
    struct person p;
    person_signup(&srv, &p, "+8613700000004", "Reader Wu", "CN");
    person_login(&srv, &p, TEST_CLOCK_START_S);
    char path[128];
    snprintf(path, sizeof path, "/v1/customers/%s", p.id);
    const char *key[] = {"Idempotency-Key: get-1", NULL};
    struct response r;
    for (int i = 0; i < 2; i++) {
        http_call(&srv, "GET", path, p.token, NULL, key, &r);
        assert_int_equal(r.status, 200);
        response_free(&r);
    }
    struct mopay_idem_record rec;
    assert_false(idem_record(p.id, "get-1", &rec));
    /* a write with a key is still remembered under the customer */
    const char *wkey[] = {"Idempotency-Key: wallet-1", NULL};
    http_call(&srv, "POST", "/v1/wallets", p.token, "{\"currency\":\"CNY\"}", wkey, &r);
    assert_int_equal(r.status, 201);
    response_free(&r);
    assert_true(idem_record(p.id, "wallet-1", &rec));
    free(rec.body);
}

/* Finding 11: a body over the largest mopay takes gets problem+json 413 like any other. */
static void body_over_the_bulk_cap_is_problem_json(void **state)
{
    (void)state;
    size_t n = MOPAY_HTTP_BODY_BULK_BYTES_MAX + 4096;
    char *body = malloc(n + 1);
    assert_non_null(body);
    memset(body, ' ', n);
    body[0] = '[';
    body[n - 1] = ']';
    body[n] = '\0';
    struct response r;
    /* As curl sends a large body: h2o answers before the body is sent, so the client never has
     * its upload cut by the closed connection. */
    const char *expect[] = {"Expect: 100-continue", NULL};
    http_call(&srv, "POST", "/v1/ledger/transfers", srv.admin_key, body, expect, &r);
    expect_problem(&r, 413, "body_too_large", NULL);
    response_free(&r);
    http_call(&srv, "POST", "/v1/customers", NULL, body, expect, &r);
    expect_problem(&r, 413, "body_too_large", NULL);
    response_free(&r);
    free(body);
    expect_alive();
}

/* Sends `req` on a new loopback connection and reads what comes back (at most cap - 1 bytes, 2 s). */
static size_t raw_exchange(const struct server *s, const char *req, size_t req_len, char *out, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    assert_int_equal(write(fd, req, req_len), (ssize_t)req_len);
    size_t got = 0;
    for (ssize_t n; got + 1 < cap && (n = read(fd, out + got, cap - 1 - got)) > 0;)
        got += (size_t)n;
    out[got] = '\0';
    close(fd);
    return got;
}

/* HTTP/2 is spoken over TLS only (ALPN). In clear text h2o took it too, by the preface or by
 * "Upgrade: h2c", and there a stream still receiving its body has no request timeout: one
 * connection trickling a byte every few seconds held 100 bodies of 4 MiB (400 MB) for good. */
static void no_http2_in_clear_text(void **state)
{
    (void)state;
    char buf[4096];
    /* the connection preface and an empty SETTINGS frame */
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";
    size_t n = raw_exchange(&srv, preface, sizeof preface - 1, buf, sizeof buf);
    if (n >= 9 && buf[3] == 0x04) /* a SETTINGS frame back: the server speaks HTTP/2 */
        fail_msg("the server answered the HTTP/2 preface in clear text with a SETTINGS frame");
    static const char upgrade[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                                  "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n";
    raw_exchange(&srv, upgrade, sizeof upgrade - 1, buf, sizeof buf);
    if (strncmp(buf, "HTTP/1.1 200", 12) != 0)
        fail_msg("Upgrade: h2c was not answered as HTTP/1.1: %.60s", buf);
    expect_alive();
}

/* Finding 12: a second server on the same SQLite file refuses to start and says why; the first
 * goes on serving. (PostgreSQL's single writer is the lease of the high-availability work.) */
static void second_server_on_one_sqlite_file_refuses(void **state)
{
    (void)state;
    if (!on_sqlite)
        skip();
    char log[4096];
    int status = server_start_expect_exit(&srv, NULL, log, sizeof log);
    if (status <= 0)
        fail_msg("the second server did not refuse to start (status %d): %s", status, log);
    assert_non_null(strstr(log, "another mopay"));
    expect_alive();
}

/* The customer's latest image in the log, and its PIN hash. */
struct pin_hash_ctx {
    struct mopay_id id;
    char hash[256];
    uint8_t payload[2048];
    size_t len;
};

static void customer_image_each(void *arg, int64_t seq, uint32_t tag, const uint8_t *payload, size_t len)
{
    (void)seq;
    struct pin_hash_ctx *c = arg;
    if (tag != mopay_wallet_customer_kind.tag || len < 17 || payload[0] != 1 || memcmp(payload + 1, c->id.bytes, 16) != 0)
        return;
    struct mopay_codec_span spans[64];
    size_t count = 0;
    assert_true(mopay_codec_spans(&mopay_wallet_customer_kind, payload, len, spans, &count) && len <= sizeof c->payload);
    const struct mopay_codec_span *pin = &spans[4]; /* id, phone, name, country, pin_hash */
    assert_string_equal(mopay_wallet_customer_kind.fields[4].name, "pin_hash");
    uint64_t text_len = 0;
    size_t n = mopay_codec_varint_get(payload + pin->offset, pin->len, &text_len);
    assert_true(n > 0 && text_len < sizeof c->hash);
    memcpy(c->hash, payload + pin->offset + n, (size_t)text_len);
    c->hash[text_len] = '\0';
    memcpy(c->payload, payload, len);
    c->len = len;
}

/* A six-digit PIN's Argon2id hash alone falls to a million guesses (hours on one core): the hash
 * the database keeps is of the PIN keyed under the master key, so the database alone cannot test
 * guesses; a hash stored before (of the PIN itself) still logs in. */
static void pin_hashes_are_peppered(void **state)
{
    (void)state;
    struct person p;
    person_signup(&srv, &p, "+8613600000009", "Pepper Pan", "CN");
    person_login(&srv, &p, TEST_CLOCK_START_S);
    struct pin_hash_ctx c;
    memset(&c, 0, sizeof c);
    assert_true(mopay_id_parse_text(MOPAY_ID_CUSTOMER, p.id, &c.id));
    assert_int_equal(server_stop(&srv), 0);
    int64_t last = log_scan(srv.db, customer_image_each, &c);
    assert_true(c.hash[0] != '\0');
    assert_int_not_equal(crypto_pwhash_str_verify(c.hash, "123456", 6), 0);
    assert_true(strncmp(c.hash, "mp1", 3) == 0);
    assert_int_not_equal(crypto_pwhash_str_verify(c.hash + 3, "123456", 6), 0);

    /* a customer whose hash was stored before PINs were peppered still logs in */
    char legacy[crypto_pwhash_STRBYTES];
    assert_int_equal(crypto_pwhash_str(legacy, "123456", 6, 2, 19u * 1024 * 1024), 0);
    struct mopay_codec_span spans[64];
    size_t count = 0;
    assert_true(mopay_codec_spans(&mopay_wallet_customer_kind, c.payload, c.len, spans, &count));
    uint8_t payload[2048], image[2200];
    size_t n = spans[4].offset;
    memcpy(payload, c.payload, n);
    n += mopay_codec_varint_put(payload + n, strlen(legacy));
    memcpy(payload + n, legacy, strlen(legacy));
    n += strlen(legacy);
    size_t tail = c.len - spans[4].offset - spans[4].len;
    memcpy(payload + n, c.payload + spans[4].offset + spans[4].len, tail);
    n += tail;
    log_append(srv.db, last + 1, image, log_image(mopay_wallet_customer_kind.tag, payload, n, image));
    const char *args[] = {"--test-clock", TEST_CLOCK_START, "--risk=false", NULL};
    struct server again;
    server_start(&again, &srv, args);
    srv = again;
    person_login(&srv, &p, TEST_CLOCK_START_S + 1);
    struct response r;
    person_session_try(&srv, &p, TEST_CLOCK_START_S + 2, "654321", &r);
    expect_problem(&r, 401, "pin_incorrect", NULL);
    response_free(&r);
    /* and that log-in replaced its hash with a peppered one */
    assert_int_equal(server_stop(&srv), 0);
    memset(c.hash, 0, sizeof c.hash);
    log_scan(srv.db, customer_image_each, &c);
    assert_true(strncmp(c.hash, "mp1", 3) == 0);
    assert_int_not_equal(crypto_pwhash_str_verify(c.hash + 3, "123456", 6), 0);
    server_start(&again, &srv, args);
    srv = again;
    person_login(&srv, &p, TEST_CLOCK_START_S + 3);
}

/* The database file (and its write-ahead log) holds PIN hashes and sealed values: like the
 * master key, it is made readable by its owner alone, whatever the umask. */
static void sqlite_files_are_the_owners_alone(void **state)
{
    (void)state;
    if (!on_sqlite)
        skip();
    char path[2048];
    const char *suffixes[] = {"", "-wal"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(path, sizeof path, "%s%s", srv.db + strlen("sqlite:"), suffixes[i]);
        struct stat st;
        if (stat(path, &st) != 0)
            fail_msg("%s: missing", path);
        if ((st.st_mode & 077) != 0)
            fail_msg("%s has mode %04o: group or others may read it", path, (unsigned)(st.st_mode & 07777));
    }
}

/* Idempotency records are a bounded resource: past --idempotency-records-max a write with a new
 * key is 503 capacity_exhausted and changes nothing, a replay and a write without a key still
 * work, and a restart counts what the store holds. */
static void idempotency_records_are_bounded(void **state)
{
    (void)state;
    struct server s, again;
    const char *args[] = {"--test-clock", TEST_CLOCK_START, "--risk=false", "--idempotency-records-max", "2", NULL};
    server_start(&s, NULL, args);
    struct response r;
    char key[64];
    const char *currencies[] = {"CNY", "USD", "EUR", "JPY"};
    struct person p;
    person_signup(&s, &p, "+8613700000005", "Keeper Ke", "CN");
    person_login(&s, &p, TEST_CLOCK_START_S);
    for (int i = 0; i < 2; i++) {
        snprintf(key, sizeof key, "Idempotency-Key: wallet-%d", i);
        const char *h[] = {key, NULL};
        char body[64];
        snprintf(body, sizeof body, "{\"currency\":\"%s\"}", currencies[i]);
        http_call(&s, "POST", "/v1/wallets", p.token, body, h, &r);
        assert_int_equal(r.status, 201);
        response_free(&r);
    }
    for (int round = 0; round < 2; round++) {
        const char *full[] = {"Idempotency-Key: wallet-2", NULL};
        http_call(&s, "POST", "/v1/wallets", p.token, "{\"currency\":\"EUR\"}", full, &r);
        expect_problem(&r, 503, "capacity_exhausted", NULL);
        response_free(&r);
        const char *old[] = {"Idempotency-Key: wallet-0", NULL};
        http_call(&s, "POST", "/v1/wallets", p.token, "{\"currency\":\"CNY\"}", old, &r);
        assert_int_equal(r.status, 201); /* the first answer, replayed */
        response_free(&r);
        http_call(&s, "GET", "/v1/wallets", p.token, NULL, NULL, &r);
        assert_int_equal(json_array_size(json_object_get(r.json, "data")), 2 + (size_t)round);
        response_free(&r);
        if (round == 0) { /* without a key it is an ordinary write */
            http_call(&s, "POST", "/v1/wallets", p.token, "{\"currency\":\"JPY\"}", NULL, &r);
            assert_int_equal(r.status, 201);
            response_free(&r);
            assert_int_equal(server_stop(&s), 0);
            server_start(&again, &s, args);
            s = again;
            person_login(&s, &p, TEST_CLOCK_START_S + 1);
        }
    }
    expect_alive_at(&s);
    assert_int_equal(server_stop(&s), 0);
}

/* One customer (sign-up is free) filled --idempotency-records-max with keyed writes that failed
 * (409 wallet_exists), and from then on every other client's write with a new key was 503
 * capacity_exhausted, for the 24 hours the records are kept. Each merchant key or customer now
 * has a share a day: past it 429, and the others are served. */
static void one_principal_cannot_fill_the_idempotency_store(void **state)
{
    (void)state;
    struct server s;
    const char *args[] = {"--test-clock", TEST_CLOCK_START, "--risk=false", "--idempotency-records-max", "6",
                          "--idempotency-records-per-principal-max", "3", NULL};
    server_start(&s, NULL, args);
    struct person mallory, alice;
    person_signup(&s, &mallory, "+8613700000011", "Mallory Ma", "CN");
    person_login(&s, &mallory, TEST_CLOCK_START_S);
    person_signup(&s, &alice, "+8613700000012", "Alice Al", "CN");
    person_login(&s, &alice, TEST_CLOCK_START_S);
    struct response r;
    char key[64];
    for (int i = 0; i < 8; i++) {
        snprintf(key, sizeof key, "Idempotency-Key: junk-%d", i);
        const char *h[] = {key, NULL};
        http_call(&s, "POST", "/v1/wallets", mallory.token, "{\"currency\":\"CNY\"}", h, &r);
        if (i < 3)
            assert_true(r.status == 201 || r.status == 409);
        else
            expect_problem(&r, 429, "rate_limited", NULL);
        response_free(&r);
    }
    const char *old[] = {"Idempotency-Key: junk-0", NULL}; /* a stored answer is still replayed */
    http_call(&s, "POST", "/v1/wallets", mallory.token, "{\"currency\":\"CNY\"}", old, &r);
    assert_int_equal(r.status, 201);
    response_free(&r);
    const char *mine[] = {"Idempotency-Key: alice-1", NULL};
    http_call(&s, "POST", "/v1/wallets", alice.token, "{\"currency\":\"CNY\"}", mine, &r);
    assert_int_equal(r.status, 201);
    response_free(&r);
    expect_alive_at(&s);
    assert_int_equal(server_stop(&s), 0);
}

int main(int argc, char **argv)
{
    harness_init(argc, argv);
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(signup_takes_an_idempotency_key),
        cmocka_unit_test(login_is_never_replayed),
        cmocka_unit_test(get_with_idempotency_key_stores_nothing),
        cmocka_unit_test(body_over_the_bulk_cap_is_problem_json),
        cmocka_unit_test(no_http2_in_clear_text),
        cmocka_unit_test(second_server_on_one_sqlite_file_refuses),
        cmocka_unit_test(sqlite_files_are_the_owners_alone),
        cmocka_unit_test(pin_hashes_are_peppered),
        cmocka_unit_test(idempotency_records_are_bounded),
        cmocka_unit_test(one_principal_cannot_fill_the_idempotency_store),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
