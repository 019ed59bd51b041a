/* A wave-1 database upgrades in place (tests/upgrade/make-fixture.sh says what the fixture is):
 * its dump is restored into a fresh database, and the server under test starts on it with the
 * fixture's master key, at the fixture's clock, with the options the story's server had. Then:
 *   1. every answer in expected.jsonl comes back as wave 1 gave it: every stored record's GETs,
 *      each principal's own views, the idempotent replays byte for byte, the webhook gauges;
 *   2. the credentials still work or still fail: fresh log-ins with the devices' keys, the
 *      story's sessions, the revoked admin and merchant keys refused;
 *   3. the upgraded database takes new writes: a payment with a coupon the story claimed, its
 *      refund, a P2P, the payment that waited for its PIN confirmed, an NFC tap on the story's
 *      key batch, a payment code from the story's device secret; a blocklisted phone and a
 *      frozen customer are still refused; every balance moves by what it should;
 *   4. a second start gives every answer of the first one again (state survives it);
 *   5. Hook Shop's pending webhook events, sealed under wave 1, are delivered once its receiver
 *      listens, signed with its current secret; the dead one stays dead;
 *   6. the ledger check is ok and the server stops cleanly.
 *
 * argv: MOPAY sqlite|@PG_URL_FILE FIXTURE_DIR MASTER_KEY RISK_MODEL */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ftw.h>
#include <unistd.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <sqlite3.h>

#include "mopay/paycode.h"
#include "support/receiver.h"
#include "upgrade.h"

#define PIN "123456"

static struct server srv;
static json_t *fixture, *expected;
static const char *fixture_dir, *master_key_path, *risk_model, *store_arg;
static const char *clock_text;
static int64_t clock_s;
static json_t *replays_new; /* the check's own writes with an Idempotency-Key */
static json_t *gets_new;    /* GETs of what the check's writes made */
static json_t *snapshot;    /* every answer just before the second start */

/* --- the fixture's database, restored --- */

static void restore_sqlite(const char *dump_path, const char *db_path)
{
    char *sql = upgrade_file_read(dump_path, NULL);
    assert_non_null(sql);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK)
        fprintf(stderr, "restoring %s: %s\n", dump_path, err ? err : sqlite3_errmsg(db));
    assert_int_equal(rc, SQLITE_OK);
    sqlite3_close(db);
    free(sql);
}

/* A new database on the test cluster, filled by psql from the pg_dump (which psql alone reads:
 * its COPY blocks and meta-commands); its URL into `url`. */
static void restore_postgres(const char *dump_path, char *url, size_t cap)
{
    char *base = upgrade_file_read(store_arg + 1, NULL), name[64], sql[128];
    assert_non_null(base);
    base[strcspn(base, "\r\n")] = '\0';
    snprintf(name, sizeof(name), "mopay_upgrade_%d", (int)getpid());
    PGconn *c = PQconnectdb(base);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
    PGresult *r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(c);
    const char *query = strchr(base, '?');
    snprintf(url, cap, "postgresql:///%s%s", name, query ? query : "");
    free(base);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, STDOUT_FILENO);
        execlp("psql", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", dump_path, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "psql could not restore %s (status %d; 127: no psql, see scripts/deps.sh)\n", dump_path,
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* The master key file, private as the server wants it (git keeps no modes). */
static void master_key_copy(const char *dir)
{
    size_t len = 0;
    char *key = upgrade_file_read(master_key_path, &len), path[256];
    assert_non_null(key);
    snprintf(path, sizeof(path), "%s/master.key", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, key, len), (ssize_t)len);
    close(fd);
    free(key);
}

static void server_up(void)
{
    const char *args[] = {"--test-clock", clock_text, "--check-invariants", "--risk-model", risk_model,
                          "--webhook-allow-private", "--webhook-allow-insecure", NULL};
    server_start(&srv, &srv, args);
}

static int group_setup(void **state)
{
    (void)state;
    char path[512];
    memset(&srv, 0, sizeof(srv));
    strcpy(srv.dir, "/tmp/mopay-upgrade-XXXXXX");
    assert_non_null(mkdtemp(srv.dir));
    snprintf(srv.log_path, sizeof(srv.log_path), "%s/server.log", srv.dir);
    snprintf(srv.admin_key, sizeof(srv.admin_key), "%s", upgrade_token(fixture, "admin"));
    master_key_copy(srv.dir);
    snprintf(path, sizeof(path), "%s/dump.sql", fixture_dir);
    if (store_arg[0] == '@') {
        restore_postgres(path, srv.db, sizeof(srv.db));
    } else {
        char file[256];
        snprintf(file, sizeof(file), "%s/mopay.db", srv.dir);
        restore_sqlite(path, file);
        snprintf(srv.db, sizeof(srv.db), "sqlite:%s", file);
    }
    server_up();
    return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int group_teardown(void **state)
{
    (void)state;
    rx_stop();
    if (srv.pid > 0) { /* a test failed before the clean stop: the folder stays, for its log */
        fprintf(stderr, "the server's folder is kept: %s\n", srv.dir);
        return server_stop(&srv) == 0 ? 0 : -1;
    }
    return nftw(srv.dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* --- answers compared --- */

/* Prints where `got` differs from `want` (at most `budget` places, JSON pointers from `at`). */
static size_t json_diff(json_t *want, json_t *got, char *at, size_t at_cap, size_t budget)
{
    if (budget == 0 || (want != NULL && got != NULL && json_equal(want, got)))
        return 0;
    size_t len = strlen(at), n = 0;
    const char *k;
    json_t *v;
    if (json_is_object(want) && json_is_object(got)) {
        json_object_foreach(want, k, v) {
            snprintf(at + len, at_cap - len, "/%s", k);
            n += json_diff(v, json_object_get(got, k), at, at_cap, budget - n);
        }
        json_object_foreach(got, k, v) {
            if (json_object_get(want, k) != NULL || n >= budget)
                continue;
            char *g = json_dumps(v, JSON_ENCODE_ANY);
            fprintf(stderr, "    %s/%s: not expected, got %.300s\n", at, k, g ? g : "");
            free(g);
            n++;
        }
    } else if (json_is_array(want) && json_is_array(got) && json_array_size(want) == json_array_size(got)) {
        for (size_t i = 0; i < json_array_size(want) && n < budget; i++) {
            snprintf(at + len, at_cap - len, "/%zu", i);
            n += json_diff(json_array_get(want, i), json_array_get(got, i), at, at_cap, budget - n);
        }
    } else {
        char *w = want ? json_dumps(want, JSON_ENCODE_ANY) : NULL, *g = got ? json_dumps(got, JSON_ENCODE_ANY) : NULL;
        fprintf(stderr, "    %s: expected %.300s, got %.300s\n", at[0] ? at : "(the body)", w ? w : "(absent)",
                g ? g : "(absent)");
        free(w);
        free(g);
        n = 1;
    }
    at[len] = '\0';
    return n;
}

static int dump_compare(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A copy of `body` whose array `member` is in a canonical order (lines marked "unordered": a list
 * the server gives in an order of its own, such as GET /v1/fx/rates, its rates in hash order). */
static json_t *canonical(json_t *body, const char *member)
{
    json_t *copy = json_deep_copy(body), *list = json_object_get(copy, member);
    size_t n = json_array_size(list);
    if (member == NULL || n < 2)
        return copy;
    char **dumps = calloc(n, sizeof(*dumps));
    assert_non_null(dumps);
    for (size_t i = 0; i < n; i++)
        dumps[i] = json_dumps(json_array_get(list, i), JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    qsort(dumps, n, sizeof(*dumps), dump_compare);
    json_array_clear(list);
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(list, json_loads(dumps[i], JSON_DECODE_ANY, NULL));
        free(dumps[i]);
    }
    free(dumps);
    return copy;
}

/* Whether the answer `r` is the one `line` expects: its status, and its whole JSON body, its
 * exact text, or the fields named. Says how it differs when it does not. */
static bool answer_matches(json_t *line, const struct response *r)
{
    char at[512] = "";
    json_t *body = json_object_get(line, "body"), *fields = json_object_get(line, "fields");
    const char *text = jstr(line, "text");
    long status = (long)json_integer_value(json_object_get(line, "status"));
    size_t wrong = r->status != status;
    if (wrong)
        fprintf(stderr, "    status: expected %ld, got %ld\n", status, r->status);
    if (body != NULL) {
        const char *unordered = jstr(line, "unordered");
        json_t *want = canonical(body, unordered), *got = r->json ? canonical(r->json, unordered) : NULL;
        wrong += json_diff(want, got, at, sizeof(at), 8);
        json_decref(want);
        json_decref(got);
    }
    if (text != NULL && (r->body == NULL || strcmp(text, r->body) != 0) && ++wrong)
        fprintf(stderr, "    text: expected %.400s\n          got %.400s\n", text, r->body ? r->body : "");
    const char *k;
    json_t *v;
    json_object_foreach(fields, k, v) {
        snprintf(at, sizeof(at), "/%s", k);
        wrong += json_diff(v, json_object_get(r->json, k), at, sizeof(at), 4);
    }
    return wrong == 0;
}

static void line_send(json_t *line, struct response *r)
{
    upgrade_call(&srv, jstr(line, "method"), jstr(line, "path"), upgrade_token(fixture, jstr(line, "as")),
                 jstr(line, "request"), jstr(line, "idempotency_key"), r);
}

/* Checks every request and metric line of `lines`; returns how many differ (each is printed). */
static size_t lines_check(json_t *lines, const char *when)
{
    size_t wrong = 0, i;
    json_t *line;
    json_array_foreach(lines, i, line) {
        if (jstr(line, "metric") != NULL) {
            long long want = json_integer_value(json_object_get(line, "value"));
            long long got = upgrade_metric(&srv, srv.admin_key, jstr(line, "metric"));
            if (got != want && ++wrong)
                fprintf(stderr, "%s: %s is %lld, expected %lld\n", when, jstr(line, "metric"), got, want);
            continue;
        }
        if (jstr(line, "method") == NULL)
            continue;
        struct response r;
        line_send(line, &r);
        if (!answer_matches(line, &r) && ++wrong)
            fprintf(stderr, "%s: ^ %s %s as %s (line %zu)\n", when, jstr(line, "method"), jstr(line, "path"),
                    jstr(line, "as"), i + 1);
        response_free(&r);
    }
    return wrong;
}

/* The GET and metric lines of `lines`, each with the answer the server gives now. */
static void answers_now(json_t *lines, json_t *into)
{
    size_t i;
    json_t *line;
    json_array_foreach(lines, i, line) {
        if (jstr(line, "metric") != NULL) {
            long long v = upgrade_metric(&srv, srv.admin_key, jstr(line, "metric"));
            json_array_append_new(into,
                                  json_pack("{s:s, s:I}", "metric", jstr(line, "metric"), "value", (json_int_t)v));
            continue;
        }
        if (jstr(line, "method") == NULL || strcmp(jstr(line, "method"), "GET") != 0)
            continue;
        struct response r;
        line_send(line, &r);
        json_t *now = upgrade_get_line(jstr(line, "path"), jstr(line, "as"), &r);
        if (jstr(line, "unordered") != NULL)
            json_object_set_new(now, "unordered", json_string(jstr(line, "unordered")));
        json_array_append_new(into, now);
        response_free(&r);
    }
}

static const char *story_fact(const char *name)
{
    const char *v = jstr(json_object_get(fixture, "story"), name);
    assert_non_null(v);
    return v;
}

static const char *principal_field(const char *as, const char *name)
{
    const char *v = jstr(upgrade_principal(fixture, as), name);
    assert_non_null(v);
    return v;
}

/* --- 1. the fixture's answers --- */

static void fixture_answers_after_upgrade(void **state)
{
    (void)state;
    size_t wrong = lines_check(expected, "after the upgrade");
    printf("%zu expected answers checked after the upgrade, %zu differ\n", json_array_size(expected), wrong);
    assert_int_equal(wrong, 0);
}

/* --- 2. credentials --- */

static struct person carol, dave, mallory, erin;

/* Logs `p` in afresh with its device's key, and makes its new session a principal of its own
 * ("<label>_new") for the checks after the second start. */
static void login_again(const char *label, struct person *p)
{
    char as[32];
    upgrade_person_of(upgrade_principal(fixture, label), p);
    person_login(&srv, p, clock_s + 60);
    snprintf(as, sizeof(as), "%s_new", label);
    json_object_set_new(json_object_get(fixture, "principals"), as, json_pack("{s:s}", "token", p->token));
}

static void credentials_after_upgrade(void **state)
{
    (void)state;
    struct response r;
    upgrade_person_of(upgrade_principal(fixture, "mallory"), &mallory);
    person_session_try(&srv, &mallory, clock_s + 30, "000000", &r); /* the PIN's hash still judges */
    expect_problem(&r, 401, "pin_incorrect", NULL);
    response_free(&r);
    login_again("carol", &carol);
    login_again("dave", &dave);
    login_again("mallory", &mallory);
    login_again("erin", &erin);
    http_call(&srv, "GET", "/v1/ledger/check", upgrade_token(fixture, "retired"), NULL, NULL, &r);
    expect_problem(&r, 401, "auth_invalid", NULL);
    response_free(&r);
    http_call(&srv, "GET", "/v1/ledger/check", upgrade_token(fixture, "ops"), NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    response_free(&r);
}

/* --- 3. new writes --- */

struct balances {
    long long carol, dave, mallory, hook;
};

static long long account_balance(const char *id)
{
    char account[48], path[96];
    upgrade_account_of(id, account);
    snprintf(path, sizeof(path), "/v1/ledger/accounts/%s", account);
    struct response r;
    http_call(&srv, "GET", path, srv.admin_key, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    long long v = minor_of(jstr(r.json, "credits_posted")) - minor_of(jstr(r.json, "debits_posted"));
    response_free(&r);
    return v;
}

static void balances_read(struct balances *b)
{
    b->carol = wallet_amount(&srv, srv.admin_key, principal_field("carol", "wallet_id"), "balance");
    b->dave = wallet_amount(&srv, srv.admin_key, principal_field("dave", "wallet_id"), "balance");
    b->mallory = wallet_amount(&srv, srv.admin_key, principal_field("mallory", "wallet_id"), "balance");
    b->hook = account_balance(principal_field("hook_shop", "id"));
}

/* One write as `as`; one with an Idempotency-Key is kept, to be replayed after the second start.
 * Returns the status; *out takes the answer's JSON. */
static long write_as(const char *as, const char *method, const char *path, const char *key, const char *body,
                     json_t **out)
{
    struct response r;
    upgrade_call(&srv, method, path, upgrade_token(fixture, as), body, key, &r);
    if (key != NULL)
        json_array_append_new(replays_new, json_pack("{s:s, s:s, s:s, s:s, s:s?, s:i, s:s}", "method", method, "path",
                                                     path, "as", as, "idempotency_key", key, "request", body,
                                                     "status", (int)r.status, "text", r.body ? r.body : ""));
    long status = r.status;
    if (status >= 300)
        fprintf(stderr, "%s %s as %s: %ld %s\n", method, path, as, status, r.body ? r.body : "");
    *out = json_incref(r.json);
    response_free(&r);
    return status;
}

static void get_new(const char *as, const char *fmt, const char *id)
{
    char path[256];
    snprintf(path, sizeof(path), fmt, id);
    json_array_append_new(gets_new, json_pack("{s:s, s:s, s:s}", "method", "GET", "path", path, "as", as));
}

/* A payment, confirmed by `payer` with its PIN when the risk step asks; must succeed. Returns
 * it, and adds its wallet amount less its fee to *merchant_gets. */
static json_t *pay_now(const char *as, const char *payer, const char *key, const char *body, long long *merchant_gets)
{
    json_t *p = NULL;
    assert_int_equal(write_as(as, "POST", "/v1/payments", key, body, &p), 201);
    if (strcmp(jstr(p, "status"), "requires_confirmation") == 0) {
        char path[128];
        snprintf(path, sizeof(path), "/v1/payments/%s/confirm", jstr(p, "id"));
        json_decref(p);
        assert_int_equal(write_as(payer, "POST", path, NULL, "{\"pin\":\"" PIN "\"}", &p), 200);
    }
    assert_string_equal(jstr(p, "status"), "succeeded");
    *merchant_gets += minor_of(jstr(p, "wallet_amount")) - minor_of(jstr(p, "fee"));
    get_new("admin", "/v1/payments/%s", jstr(p, "id"));
    return p;
}

/* A P2P transfer, sent again with the PIN when the risk step asks for it. */
static long p2p(const char *as, const char *key, const char *to_phone, const char *amount)
{
    char body[256], again[300], key_pin[64];
    snprintf(body, sizeof(body), "{\"to\":{\"phone\":\"%s\"},\"amount\":\"%s\",\"currency\":\"CNY\"}", to_phone,
             amount);
    json_t *t = NULL;
    long status = write_as(as, "POST", "/v1/transfers", key, body, &t);
    if (status == 428) {
        snprintf(again, sizeof(again), "%.*s,\"pin\":\"" PIN "\"}", (int)strlen(body) - 1, body);
        snprintf(key_pin, sizeof(key_pin), "%s-pin", key);
        json_decref(t);
        status = write_as(as, "POST", "/v1/transfers", key_pin, again, &t);
    }
    json_decref(t);
    return status;
}

/* The payment the story left waiting for Carol's PIN is confirmed, then partly refunded. */
static void waiting_payment_confirmed(long long *hook_gets)
{
    char path[128], body[256];
    json_t *p = NULL, *r = NULL;
    snprintf(path, sizeof(path), "/v1/payments/%s/confirm", story_fact("waiting_payment"));
    assert_int_equal(write_as("carol_new", "POST", path, NULL, "{\"pin\":\"" PIN "\"}", &p), 200);
    assert_string_equal(jstr(p, "status"), "succeeded");
    *hook_gets += minor_of(jstr(p, "wallet_amount")) - minor_of(jstr(p, "fee"));
    snprintf(body, sizeof(body), "{\"payment_id\":\"%s\",\"amount\":\"100.00\",\"reason\":\"after the upgrade\"}",
             jstr(p, "id"));
    json_decref(p);
    assert_int_equal(write_as("hook_shop", "POST", "/v1/refunds", "check-refund", body, &r), 201);
    *hook_gets -= 10000 - minor_of(jstr(r, "fee_returned"));
    get_new("admin", "/v1/refunds/%s", jstr(r, "id"));
    json_decref(r);
}

/* Dave's next tap on the key batch the story provisioned, and his payment code now. */
static void dave_pays_offline(long long *hook_gets, long long *dave_pays)
{
    json_t *d = upgrade_principal(fixture, "dave"), *nfc = json_object_get(d, "nfc");
    unsigned atc = (unsigned)json_integer_value(json_object_get(d, "nfc_atc_used")) + 1;
    char body[512], code[MOPAY_PAYCODE_BYTES];
    upgrade_nfc_body(jstr(nfc, "token"), jstr(json_array_get(json_object_get(nfc, "keys"), 0), "key"),
                     principal_field("hook_shop", "id"), atc, 300, body, sizeof(body));
    json_t *p = pay_now("hook_shop", "dave_new", "check-pay-nfc", body, hook_gets);
    *dave_pays += minor_of(jstr(p, "wallet_amount"));
    json_decref(p);
    upgrade_paycode(&dave, clock_s, code);
    snprintf(body, sizeof(body), "{\"payment_code\":\"%s\",\"amount\":\"4.00\",\"currency\":\"CNY\"}", code);
    p = pay_now("hook_shop", "dave_new", NULL, body, hook_gets);
    *dave_pays += minor_of(jstr(p, "wallet_amount"));
    json_decref(p);
}

static void writes_after_upgrade(void **state)
{
    (void)state;
    struct balances before, after;
    balances_read(&before);
    long long hook_gets = 0, carol_pays = 0, dave_pays = 0;
    char body[1024];
    snprintf(body, sizeof(body), "{\"qr\":\"%s\",\"amount\":\"20.00\",\"coupon_id\":\"%s\"}",
             principal_field("hook_shop", "qr"), story_fact("coupon_unused"));
    json_t *p = pay_now("carol_new", "carol_new", "check-pay-coupon", body, &hook_gets);
    carol_pays += minor_of(jstr(p, "wallet_amount"));
    json_decref(p);
    waiting_payment_confirmed(&hook_gets);
    carol_pays += 250000 - 10000;
    assert_int_equal(p2p("carol_new", "check-p2p", principal_field("dave", "phone"), "30.00"), 201);
    dave_pays_offline(&hook_gets, &dave_pays);
    /* still refused: Mallory's phone is blocklisted, Erin is frozen */
    json_t *j = NULL;
    snprintf(body, sizeof(body), "{\"to\":{\"phone\":\"%s\"},\"amount\":\"10.00\",\"currency\":\"CNY\"}",
             principal_field("carol", "phone"));
    assert_int_equal(write_as("mallory_new", "POST", "/v1/transfers", NULL, body, &j), 422);
    assert_string_equal(jstr(j, "code"), "risk_declined");
    json_decref(j);
    assert_int_equal(write_as("erin_new", "POST", "/v1/transfers", NULL, body, &j), 403);
    assert_string_equal(jstr(j, "code"), "customer_frozen");
    json_decref(j);
    balances_read(&after);
    assert_int_equal(after.carol - before.carol, -carol_pays - 3000);
    assert_int_equal(after.dave - before.dave, 3000 - dave_pays);
    assert_int_equal(after.mallory, before.mallory);
    assert_int_equal(after.hook - before.hook, hook_gets);
    get_new("carol_new", "/v1/wallets%s", "");
    get_new("dave_new", "/v1/customers/%s", dave.id);
}

/* --- 4. a second start --- */

static void second_start(void **state)
{
    (void)state;
    snapshot = json_array();
    answers_now(expected, snapshot);
    answers_now(gets_new, snapshot);
    json_t *replays = json_array(), *line;
    size_t i;
    json_array_foreach(expected, i, line) {
        if (jstr(line, "idempotency_key") != NULL)
            json_array_append(replays, line);
    }
    json_array_extend(replays, replays_new);
    assert_int_equal(server_stop(&srv), 0);
    server_up();
    size_t wrong = lines_check(snapshot, "after the second start");
    wrong += lines_check(replays, "replayed after the second start");
    printf("%zu answers and %zu replays checked after the second start, %zu differ\n", json_array_size(snapshot),
           json_array_size(replays), wrong);
    json_decref(replays);
    assert_int_equal(wrong, 0);
}

/* --- 5. webhooks --- */

static bool signature_ok(const struct rx_request *q, const char *secret)
{
    long long t = 0;
    char v1[80], prefix[32], hex[65];
    if (sscanf(q->signature, "t=%lld,v1=%64s", &t, v1) != 2)
        return false;
    uint8_t mac[32];
    int plen = snprintf(prefix, sizeof(prefix), "%lld.", t);
    crypto_auth_hmacsha256_state st; /* keyed by the secret's text, as Stripe's libraries take it */
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)prefix, (size_t)plen);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)q->body, q->body_len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
    return strcmp(hex, v1) == 0;
}

static const struct rx_request *delivered(const char *event_id)
{
    for (size_t i = 0; i < rx_count(); i++)
        if (strcmp(rx_request_at(i)->event_id, event_id) == 0 && rx_request_at(i)->answered == 200)
            return rx_request_at(i);
    return NULL;
}

static void webhooks_delivered(void **state)
{
    (void)state;
    long long dead = upgrade_metric(&srv, srv.admin_key, "mopay_webhooks_dead");
    assert_true(upgrade_metric(&srv, srv.admin_key, "mopay_webhooks_pending") > 0);
    rx_start((uint16_t)json_integer_value(json_object_get(fixture, "webhook_port")));
    /* every back-off is over within the hour */
    struct response r;
    http_call(&srv, "POST", "/v1/test-clock/advance", srv.admin_key, "{\"seconds\":3601}", NULL, &r);
    assert_int_equal(r.status, 200);
    response_free(&r);
    for (int i = 0; i < 600 && upgrade_metric(&srv, srv.admin_key, "mopay_webhooks_pending") > 0; i++)
        usleep(50 * 1000);
    assert_int_equal(upgrade_metric(&srv, srv.admin_key, "mopay_webhooks_pending"), 0);
    assert_int_equal(upgrade_metric(&srv, srv.admin_key, "mopay_webhooks_dead"), dead);
    const char *secret = principal_field("hook_shop", "webhook_secret");
    size_t i, pending = 0;
    json_t *line;
    json_array_foreach(expected, i, line) {
        const char *id = jstr(line, "webhook");
        if (id == NULL)
            continue;
        const struct rx_request *q = delivered(id);
        bool want = strcmp(jstr(line, "status"), "pending") == 0;
        if (want != (q != NULL))
            fprintf(stderr, "webhook %s (%s, %s) %s\n", id, jstr(line, "type"), jstr(line, "status"),
                    q ? "was delivered" : "was not delivered");
        assert_true(want == (q != NULL));
        pending += want;
        assert_true(q == NULL || (signature_ok(q, secret) && strstr(q->body, id) != NULL &&
                                  strstr(q->body, jstr(line, "type")) != NULL));
    }
    for (i = 0; i < rx_count(); i++)
        assert_true(signature_ok(rx_request_at(i), secret));
    printf("%zu webhook events from the fixture delivered (%zu deliveries in all)\n", pending, rx_count());
}

/* --- 6. the ledger, and a clean stop --- */

static void ledger_balances_after_all(void **state)
{
    (void)state;
    struct response r;
    http_call(&srv, "GET", "/v1/ledger/check", srv.admin_key, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(json_object_get(r.json, "ok")));
    response_free(&r);
    assert_int_equal(server_stop(&srv), 0);
    srv.pid = 0;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s MOPAY sqlite|@PG_URL_FILE FIXTURE_DIR MASTER_KEY RISK_MODEL\n", argv[0]);
        return 2;
    }
    harness_init(argc, argv);
    store_arg = argv[2];
    fixture_dir = argv[3];
    master_key_path = argv[4];
    risk_model = argv[5];
    char path[512];
    json_error_t e;
    snprintf(path, sizeof(path), "%s/fixture.json", fixture_dir);
    fixture = json_load_file(path, 0, &e);
    snprintf(path, sizeof(path), "%s/expected.jsonl", fixture_dir);
    expected = upgrade_jsonl_load(path);
    if (fixture == NULL || expected == NULL || sodium_init() < 0) {
        fprintf(stderr, "cannot read the fixture in %s (%s)\n", fixture_dir, e.text);
        return 1;
    }
    clock_text = jstr(fixture, "clock");
    struct tm tm = {0};
    if (clock_text == NULL || strptime(clock_text, "%Y-%m-%dT%H:%M:%SZ", &tm) == NULL)
        return 1;
    clock_s = (int64_t)timegm(&tm);
    replays_new = json_array();
    gets_new = json_array();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixture_answers_after_upgrade), cmocka_unit_test(credentials_after_upgrade),
        cmocka_unit_test(writes_after_upgrade),           cmocka_unit_test(second_start),
        cmocka_unit_test(webhooks_delivered),             cmocka_unit_test(ledger_balances_after_all),
    };
    int failed = cmocka_run_group_tests_name(store_arg[0] == '@' ? "upgrade_postgres" : "upgrade_sqlite", tests,
                                             group_setup, group_teardown);
    json_decref(snapshot);
    json_decref(gets_new);
    json_decref(replays_new);
    json_decref(expected);
    json_decref(fixture);
    return failed;
}
