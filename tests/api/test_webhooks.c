/* Webhooks against hostile URLs and with Stripe-compatible secrets (findings 7 and 10 of issue
 * 11), over HTTP on a real server:
 *   every URL of the finding is refused when set (422 url_forbidden, nothing stored) by a server
 *   started without --webhook-allow-private and --webhook-allow-insecure, and taken by one with
 *   them -> a name that resolves to loopback, set while private addresses were allowed, is
 *   refused at delivery by the server restarted without the flag (nothing sent, the reason in
 *   the log), and delivered once the flag is back -> Stripe's own library
 *   (stripe.webhooks.constructEvent, tests/node/receiver.js) verifies every event of a new
 *   merchant with the secret exactly as mopay showed it, and after POST
 *   /v1/merchants/{id}/webhook-secret with the new one; a merchant made before secrets were
 *   text (a JSON row of a database from before the journal, which the first start moves into the
 *   journal) keeps its 64 hex digits, across a restart too, until it rotates. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <sodium.h>

#include "consumers.h"
#include "mopay/journal.h"
#include "mopay/keys.h"
#include "mopay/ledger.h"
#include "mopay/store.h"
#include "mopay/text.h"
#include "support/receiver.h"

static const char *const open_flags[] = {"--webhook-allow-private", "--webhook-allow-insecure", NULL};
static const char *const insecure_only[] = {"--webhook-allow-insecure", NULL};

struct merchant {
    char id[48], key[80], secret[80];
};

/* POST /v1/merchants with this webhook URL: the answer's status, and the merchant when made. */
static long merchant_try(const struct server *s, const char *url, struct merchant *m, struct response *r)
{
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"name\":\"Hook Shop\",\"mcc\":\"5812\",\"country\":\"CN\",\"city\":\"Shanghai\",\"currency\":\"CNY\","
             "\"fee_bps\":60,\"settlement_account\":\"CN-ACC-001\",\"webhook_url\":\"%s\"}",
             url);
    http_call(s, "POST", "/v1/merchants", s->admin_key, body, NULL, r);
    if (r->status == 201 && m != NULL) {
        snprintf(m->id, sizeof(m->id), "%s", jstr(json_object_get(r->json, "merchant"), "id"));
        snprintf(m->key, sizeof(m->key), "%s", jstr(r->json, "api_key"));
        snprintf(m->secret, sizeof(m->secret), "%s", jstr(r->json, "webhook_secret"));
    }
    return r->status;
}

static void merchant_make(const struct server *s, const char *url, struct merchant *m)
{
    struct response r;
    assert_int_equal(merchant_try(s, url, m, &r), 201);
    response_free(&r);
}

static void order_make(const struct server *s, const struct merchant *m, const char *reference)
{
    char body[128];
    snprintf(body, sizeof(body), "{\"amount\":\"1.00\",\"currency\":\"CNY\",\"reference\":\"%s\"}", reference);
    api_expect(s, "POST", "/v1/orders", m->key, body, 201, NULL, NULL);
}

/* The merchant records of a stopped server's database, each handed to `each`. */
static void merchant_records(const struct server *s, bool (*each)(void *, const char *, const char *, size_t),
                             void *ctx)
{
    char err[256];
    struct mopay_store *store = mopay_store_open(s->db, err, sizeof(err));
    assert_non_null(store);
    assert_int_equal(store->records_load(store, "merchant", each, ctx), MOPAY_OK);
    store->close(store);
}

static bool count_each(void *ctx, const char *id, const char *json, size_t len)
{
    (void)id, (void)json, (void)len;
    (*(size_t *)ctx)++;
    return true;
}

/* The record images of one kind in a log record's groups (mopay/journal.h), counted. */
struct log_images {
    uint32_t tag;
    size_t count;
    int64_t last_seq;
};

static bool log_images_each(void *ctx, int64_t seq, const void *data, size_t len)
{
    struct log_images *li = ctx;
    const uint8_t *p = (const uint8_t *)data + 8, *end = (const uint8_t *)data + len;
    li->last_seq = seq;
    while (end - p >= 16) {
        uint32_t type, count;
        memcpy(&type, p, 4);
        memcpy(&count, p + 4, 4);
        p += 16;
        size_t bytes = type == 1   ? count * sizeof(struct mopay_ledger_account)
                       : type == 2 ? count * sizeof(struct mopay_ledger_transfer)
                                   : type == MOPAY_JOURNAL_GROUP_RECORDS ? count : 0;
        assert_true(bytes <= (size_t)(end - p));
        for (const uint8_t *q = p; type == MOPAY_JOURNAL_GROUP_RECORDS && q < p + bytes;) {
            struct mopay_codec_header h;
            size_t n = mopay_codec_header_read(q, (size_t)(p + bytes - q), &h);
            assert_true(n > 0);
            li->count += h.tag == li->tag;
            q += n + h.payload_len;
        }
        p += bytes;
    }
    return true;
}

/* How many images of `tag` a stopped server's log holds; its last record's number. */
static size_t log_images(const struct server *s, uint32_t tag, int64_t *out_last_seq)
{
    char err[256];
    struct mopay_store *store = mopay_store_open(s->db, err, sizeof(err));
    assert_non_null(store);
    struct log_images li = {tag, 0, 0};
    assert_int_equal(store->ledger_log_load(store, log_images_each, &li), MOPAY_OK);
    store->close(store);
    if (out_last_seq != NULL)
        *out_last_seq = li.last_seq;
    return li.count;
}

static bool log_has(const struct server *s, const char *needle)
{
    FILE *f = fopen(s->log_path, "r");
    assert_non_null(f);
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f) != NULL)
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

/* --- finding 7: where webhooks may go --- */

static const char *const finding_urls[] = {
    "http://127.0.0.1/hooks", "https://169.254.169.254/latest/meta-data", "https://[::1]:22",
    "https://0x7f000001/",    "https://2130706433/",                    "https://127.1/",
    "https://10.0.0.1/",      "https://localhost/hooks",                "https://localhost:8443/hooks",
    "http://example.com/hooks",
};

static void urls_are_refused_when_set(void **state)
{
    (void)state;
    static struct server s;
    server_start(&s, NULL, NULL);
    struct response r;
    for (size_t i = 0; i < sizeof(finding_urls) / sizeof(finding_urls[0]); i++) {
        if (merchant_try(&s, finding_urls[i], NULL, &r) != 422)
            fail_msg("%s: %ld %s", finding_urls[i], r.status, r.body);
        expect_problem(&r, 422, "url_forbidden", "/webhook_url");
        response_free(&r);
    }
    merchant_try(&s, "https://user:pass@10.0.0.1/", NULL, &r);
    expect_problem(&r, 422, "url_forbidden", "/webhook_url");
    response_free(&r);
    merchant_try(&s, "https://example.com/hooks#x", NULL, &r);
    expect_problem(&r, 422, "url_invalid", "/webhook_url");
    response_free(&r);
    merchant_try(&s, "https://[fe80::1%25eth0]/", NULL, &r);
    expect_problem(&r, 422, "url_invalid", "/webhook_url");
    response_free(&r);
    assert_int_equal(server_stop(&s), 0);
    size_t merchants = 0;
    merchant_records(&s, count_each, &merchants);
    assert_int_equal(merchants, 0); /* nothing stored */
    assert_int_equal(log_images(&s, MOPAY_RECORD_MERCHANT, NULL), 0);

    server_start(&s, &s, NULL);
    /* a public address, and a name that does not resolve (yet: each delivery checks again; a
     * 64-byte label never makes a DNS query, so this stays on the machine) */
    struct merchant m;
    merchant_make(&s, "https://93.184.216.34/hooks", &m);
    assert_int_equal(strncmp(m.secret, "whsec_", 6), 0);
    merchant_make(&s, "https://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example/hooks", &m);
    assert_int_equal(server_stop(&s), 0);
}

static void flags_let_private_targets_be_set(void **state)
{
    (void)state;
    static struct server s;
    server_start(&s, NULL, open_flags);
    struct merchant m;
    for (size_t i = 0; i < sizeof(finding_urls) / sizeof(finding_urls[0]); i++)
        merchant_make(&s, finding_urls[i], &m);
    struct response r; /* never credentials */
    merchant_try(&s, "https://user:pass@10.0.0.1/", NULL, &r);
    expect_problem(&r, 422, "url_forbidden", "/webhook_url");
    response_free(&r);
    assert_int_equal(server_stop(&s), 0);
}

static bool rx_has_reference(const char *reference)
{
    char needle[64];
    snprintf(needle, sizeof(needle), "\"reference\":\"%s\"", reference);
    for (size_t i = 0; i < rx_count(); i++)
        if (strstr(rx_request_at(i)->body, needle) != NULL)
            return true;
    return false;
}

static void wait_for_reference(const char *reference)
{
    for (int i = 0; i < 200 && !rx_has_reference(reference); i++)
        usleep(50 * 1000);
    assert_true(rx_has_reference(reference));
}

/* localhost resolves to loopback through /etc/hosts: set while private targets were allowed, it
 * is refused at the delivery of a server that no longer allows them. */
static void delivery_checks_the_target_again(void **state)
{
    (void)state;
    static struct server s;
    rx_clear();
    rx_answer(200);
    rx_start(0);
    server_start(&s, NULL, open_flags);
    char url[96];
    snprintf(url, sizeof(url), "http://localhost:%u/hooks", rx_port());
    struct merchant m;
    merchant_make(&s, url, &m);
    order_make(&s, &m, "ALLOWED-1");
    wait_for_reference("ALLOWED-1");
    assert_int_equal(server_stop(&s), 0);

    server_start(&s, &s, insecure_only);
    order_make(&s, &m, "REFUSED-1");
    for (int i = 0; i < 200 && !log_has(&s, "webhook attempt refused"); i++)
        usleep(50 * 1000);
    assert_true(log_has(&s, "webhook attempt refused"));
    usleep(500 * 1000);
    assert_false(rx_has_reference("REFUSED-1"));
    assert_int_equal(server_stop(&s), 0);

    server_start(&s, &s, open_flags); /* the same event, once allowed again */
    wait_for_reference("REFUSED-1");
    assert_int_equal(server_stop(&s), 0);
    rx_stop();
}

/* --- finding 10: Stripe's library verifies what mopay signs --- */

static pid_t node_pid;
static int node_stdin = -1, node_port;

static void node_start(void)
{
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    node_pid = fork();
    assert_true(node_pid >= 0);
    if (node_pid == 0) {
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        close(in[1]);
        close(out[0]);
        execlp("node", "node", MOPAY_SOURCE_DIR "/tests/node/receiver.js", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    node_stdin = in[1];
    FILE *f = fdopen(out[0], "r");
    assert_non_null(f);
    if (fscanf(f, "port %d", &node_port) != 1)
        fail_msg("the Node receiver did not start: is tests/node/node_modules installed (scripts/deps.sh)?");
    fclose(f);
}

static void node_stop(void)
{
    if (node_pid <= 0)
        return;
    close(node_stdin);
    kill(node_pid, SIGTERM);
    waitpid(node_pid, NULL, 0);
    node_pid = 0;
}

static size_t node_collect(char *data, size_t size, size_t count, void *ctx)
{
    struct response *r = ctx;
    size_t n = size * count;
    char *grown = realloc(r->body, r->len + n + 1);
    assert_non_null(grown);
    memcpy(grown + r->len, data, n);
    r->body = grown;
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

/* A request to the Node receiver; its JSON answer in r->json. */
static void node_call(const char *method, const char *path, const char *body, struct response *r)
{
    memset(r, 0, sizeof(*r));
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", node_port, path);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body != NULL)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, node_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(c);
    r->json = r->len > 0 ? json_loadb(r->body, r->len, 0, NULL) : NULL;
}

static void node_secret(const char *label, const char *secret)
{
    char path[64];
    snprintf(path, sizeof(path), "/secrets/%s", label);
    struct response r;
    node_call("POST", path, secret, &r);
    assert_int_equal(r.status, 204);
    response_free(&r);
}

/* How many of `label`'s events verified; fails at once on any that did not. */
static size_t node_verified(const char *label)
{
    struct response r;
    node_call("GET", "/results", NULL, &r);
    assert_non_null(r.json);
    json_t *mine = json_object_get(r.json, label);
    json_t *bad = json_object_get(mine, "bad");
    if (json_array_size(bad) > 0)
        fail_msg("Stripe's constructEvent refused an event of %s: %s", label,
                 json_string_value(json_array_get(bad, 0)));
    size_t ok = json_array_size(json_object_get(mine, "ok"));
    response_free(&r);
    return ok;
}

static void wait_verified(const char *label, size_t n)
{
    for (int i = 0; i < 200 && node_verified(label) < n; i++)
        usleep(50 * 1000);
    assert_int_equal(node_verified(label), n);
}

static struct merchant rotate(const struct server *s, const struct merchant *m, const char *token)
{
    char path[96];
    snprintf(path, sizeof(path), "/v1/merchants/%s/webhook-secret", m->id);
    struct response r;
    api_expect(s, "POST", path, token, NULL, 201, NULL, &r);
    struct merchant rotated = *m;
    snprintf(rotated.secret, sizeof(rotated.secret), "%s", jstr(r.json, "webhook_secret"));
    assert_int_equal(strncmp(rotated.secret, "whsec_", 6), 0);
    assert_string_not_equal(rotated.secret, m->secret);
    response_free(&r);
    return rotated;
}

static void stripe_verifies_new_and_rotated_secrets(void **state)
{
    (void)state;
    static struct server s;
    node_start();
    server_start(&s, NULL, open_flags);
    char url[96];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hooks/new", node_port);
    struct merchant m, other;
    merchant_make(&s, url, &m);
    node_secret("new", m.secret); /* exactly as mopay showed it */
    order_make(&s, &m, "N-1");
    order_make(&s, &m, "N-2");
    wait_verified("new", 2);

    merchant_make(&s, "https://93.184.216.34/hooks", &other);
    char path[96];
    snprintf(path, sizeof(path), "/v1/merchants/%s/webhook-secret", m.id);
    api_expect(&s, "POST", path, other.key, NULL, 404, "resource_not_found", NULL); /* another merchant's */
    struct merchant by_operator = rotate(&s, &m, s.admin_key);
    struct merchant by_itself = rotate(&s, &by_operator, m.key);
    node_secret("new", by_itself.secret);
    order_make(&s, &m, "N-3");
    wait_verified("new", 3);
    assert_int_equal(server_stop(&s), 0);
    server_start(&s, &s, open_flags); /* the new secret survives a restart */
    order_make(&s, &m, "N-4");
    wait_verified("new", 4);
    assert_int_equal(server_stop(&s), 0);
    node_stop();
}

/* A merchant as a database from before the journal holds it, made before secrets were text:
 * its ledger account in a log record of the ledger's events alone (version 1), and its JSON row
 * without webhook_secret_form, its secret sealed for its row. m gets its id, API key and secret
 * (64 hex digits, as mopay showed secrets then). */
static void merchant_make_legacy(const struct server *s, const char *url, struct merchant *m)
{
    char keyfile[256], err[256], ad[MOPAY_SEAL_AD_BYTES], sealed[MOPAY_SEALED_B64_BYTES], hash_hex[65];
    snprintf(keyfile, sizeof(keyfile), "%s/master.key", s->dir);
    const struct mopay_keys *keys = mopay_keys_load(keyfile, err, sizeof(err));
    assert_non_null(keys);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    struct mopay_id id;
    mopay_id_new(now, &id);
    mopay_id_format(MOPAY_ID_MERCHANT, &id, m->id);
    uint8_t raw[32], secret[32], hash[32]; /* the webhook secret: 32 bytes */
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(hash_hex, sizeof(hash_hex), raw, sizeof(raw));
    snprintf(m->key, sizeof(m->key), "sk_%s", hash_hex);
    mopay_keys_hash_secret(keys, m->key, strlen(m->key), hash);
    sodium_bin2hex(hash_hex, sizeof(hash_hex), hash, sizeof(hash));
    randombytes_buf(secret, sizeof(secret));
    sodium_bin2hex(m->secret, sizeof(m->secret), secret, sizeof(secret));
    mopay_seal_ad(ad, "merchant", m->id, "webhook_secret");
    mopay_seal_b64(keys->secret_seal, ad, secret, sizeof(secret), sealed);
    mopay_keys_free(keys);

    struct mopay_ledger_account a;
    memset(&a, 0, sizeof(a));
    a.id = id;
    a.currency = 156; /* CNY */
    a.kind = MOPAY_LEDGER_KIND_MERCHANT;
    a.flags = MOPAY_LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS;
    uint8_t record[8 + 16 + sizeof(a)];
    uint32_t version = 1, type = 1, count = 1;
    memcpy(record, "MLG1", 4);
    memcpy(record + 4, &version, 4);
    memcpy(record + 8, &type, 4);
    memcpy(record + 12, &count, 4);
    memcpy(record + 16, &now, 8);
    memcpy(record + 24, &a, sizeof(a));
    int64_t last_seq = 0;
    log_images(s, MOPAY_RECORD_MERCHANT, &last_seq);

    json_t *row = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:[{s:s, s:s, s:I, s:I}], s:I}",
                            "id", m->id, "kind", 0, "name", "Old Hook Shop", "mcc", "5812", "country", "CN", "city",
                            "Shanghai", "currency", "CNY", "fee_bps", 60, "settlement_account", "CN-ACC-001",
                            "webhook_url", url, "webhook_secret_sealed", sealed, "keys", "hash", hash_hex, "last4",
                            m->key + strlen(m->key) - 4, "created_at_ns", (json_int_t)now, "revoked_at_ns",
                            (json_int_t)0, "created_at_ns", (json_int_t)now);
    assert_non_null(row);
    struct mopay_store *store = mopay_store_open(s->db, err, sizeof(err));
    assert_non_null(store);
    assert_int_equal(store->begin(store), MOPAY_OK);
    assert_int_equal(store->ledger_log_append(store, last_seq + 1, record, sizeof(record)), MOPAY_OK);
    assert_int_equal(mopay_store_record_put_json(store, "merchant", m->id, row, now), MOPAY_OK);
    assert_int_equal(store->commit(store), MOPAY_OK);
    store->close(store);
}

static void old_secrets_keep_working_until_rotated(void **state)
{
    (void)state;
    static struct server s;
    node_start();
    server_start(&s, NULL, open_flags);
    assert_int_equal(server_stop(&s), 0);
    char url[96];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hooks/old", node_port);
    struct merchant m;
    merchant_make_legacy(&s, url, &m);

    server_start(&s, &s, open_flags); /* moves the row into the journal */
    /* "hex:": the receiver's own HMAC over the 32 bytes, which no Stripe library does */
    char legacy[96];
    snprintf(legacy, sizeof(legacy), "hex:%s", m.secret);
    node_secret("old", legacy);
    order_make(&s, &m, "O-1");
    wait_verified("old", 1);
    assert_int_equal(server_stop(&s), 0);
    size_t rows = 0;
    merchant_records(&s, count_each, &rows);
    assert_int_equal(rows, 0);
    assert_int_equal(log_images(&s, MOPAY_RECORD_MERCHANT, NULL), 1);

    server_start(&s, &s, open_flags); /* from the journal alone: the old form kept */
    order_make(&s, &m, "O-2");
    wait_verified("old", 2);
    struct merchant rotated = rotate(&s, &m, m.key);
    node_secret("old", rotated.secret); /* Stripe's library from now on */
    order_make(&s, &m, "O-3");
    wait_verified("old", 3);
    assert_int_equal(server_stop(&s), 0);
    node_stop();
}

static int teardown(void **state)
{
    (void)state;
    node_stop();
    rx_stop();
    return 0;
}

int main(int argc, char **argv)
{
    harness_init(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(urls_are_refused_when_set, teardown),
        cmocka_unit_test_teardown(flags_let_private_targets_be_set, teardown),
        cmocka_unit_test_teardown(delivery_checks_the_target_again, teardown),
        cmocka_unit_test_teardown(stripe_verifies_new_and_rotated_secrets, teardown),
        cmocka_unit_test_teardown(old_secrets_keep_working_until_rotated, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
