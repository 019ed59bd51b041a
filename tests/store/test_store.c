/* The store suite: every test runs against the store URL in argv[1], so the same assertions
 * hold for SQLite and PostgreSQL.
 *
 *   test_store sqlite:          a fresh temporary folder for this run, deleted at the end
 *   test_store sqlite:PATH      that file
 *   test_store postgresql://... that database
 *   test_store @FILE            the URL written in FILE (scripts/pg-test-cluster.sh)
 *
 * Rows carry a per-run random prefix so reruns against the same PostgreSQL database do not
 * collide; the purge test, which counts rows, first empties the table. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define _XOPEN_SOURCE_EXTENDED 1
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mopay/limits.h"
#include "mopay/store.h"

#define URL_CAP (MOPAY_STORE_URL_BYTES_MAX + 1)
#define CONCURRENT_OPENERS 6
#define TIME_BASE_NS INT64_C(1700000000000000000)

static struct {
    char url[URL_CAP];
    char concurrent_url[URL_CAP]; /* a database nobody opened yet, when we can make one */
    char temp_dir[PATH_MAX];      /* "" unless we made it */
    char nonce[17];               /* 16 random hex digits, unique to this run */
    int latest_version;
} suite;

/* ---- Helpers ------------------------------------------------------------------------------- */

static struct mopay_store *open_or_fail(const char *url)
{
    char err[256] = "";
    struct mopay_store *store = mopay_store_open(url, err, sizeof err);
    if (store == NULL) {
        fail_msg("mopay_store_open(%s): %s", url, err);
    }
    return store;
}

static void check_ok(struct mopay_store *store, enum mopay_err rc)
{
    if (rc != MOPAY_OK) {
        fail_msg("store call failed: %s: %s", mopay_err_code(rc), store->last_error);
    }
}

static int store_setup(void **state)
{
    char err[256] = "";
    struct mopay_store *store = mopay_store_open(suite.url, err, sizeof err);
    if (store == NULL) {
        print_error("mopay_store_open(%s): %s\n", suite.url, err);
        return -1;
    }
    *state = store;
    return 0;
}

static int store_teardown(void **state)
{
    struct mopay_store *store = *state;
    store->rollback(store);
    store->close(store);
    return 0;
}

static struct mopay_admin_key make_admin_key(unsigned n, int64_t created_at_ns)
{
    struct mopay_admin_key key;
    memset(&key, 0, sizeof key);
    snprintf(key.id, sizeof key.id, "adk_%s%016x", suite.nonce, n);
    snprintf(key.name, sizeof key.name, "test key %u", n);
    memcpy(key.hash, suite.nonce, 16);
    key.hash[16] = (uint8_t)n;
    key.hash[17] = (uint8_t)(n >> 8);
    for (size_t i = 18; i < sizeof key.hash; i++) {
        key.hash[i] = (uint8_t)(i * 7 + n);
    }
    key.created_at_ns = created_at_ns;
    return key;
}

static struct mopay_idem_record make_idem(const char *key, int status, const char *body, int64_t created_at_ns)
{
    struct mopay_idem_record record;
    memset(&record, 0, sizeof record);
    snprintf(record.principal, sizeof record.principal, "p_%s", suite.nonce);
    snprintf(record.key, sizeof record.key, "%s", key);
    for (size_t i = 0; i < sizeof record.request_hash; i++) {
        record.request_hash[i] = (uint8_t)(0xa0 + i + (size_t)status);
    }
    record.status = status;
    record.body = (char *)body;
    record.body_len = strlen(body);
    record.created_at_ns = created_at_ns;
    return record;
}

static void meta_key(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "test_%s_%s", suite.nonce, name);
}

static bool meta_found(struct mopay_store *store, const char *key, char *value, size_t cap)
{
    bool found = false;
    check_ok(store, store->meta_get(store, key, value, cap, &found));
    return found;
}

static bool idem_found(struct mopay_store *store, const char *key)
{
    struct mopay_idem_record out;
    memset(&out, 0, sizeof out);
    bool found = false;
    char principal[48];
    snprintf(principal, sizeof principal, "p_%s", suite.nonce);
    check_ok(store, store->idem_get(store, principal, key, &out, &found));
    free(out.body);
    return found;
}

/* Collects this run's admin keys (other runs may have left theirs in a PostgreSQL database). */
struct key_list {
    struct mopay_admin_key keys[16];
    size_t count;
    size_t calls;
    size_t stop_after; /* 0: never stop early */
};

static bool collect_key(void *ctx, const struct mopay_admin_key *key)
{
    struct key_list *list = ctx;
    list->calls++;
    if (strncmp(key->id + 4, suite.nonce, 16) == 0) {
        assert_true(list->count < 16);
        list->keys[list->count++] = *key;
    }
    return list->stop_after == 0 || list->calls < list->stop_after;
}

static void load_keys(struct mopay_store *store, struct key_list *list)
{
    memset(list, 0, sizeof *list);
    check_ok(store, store->admin_keys_load(store, collect_key, list));
}

static const struct mopay_admin_key *find_key(const struct key_list *list, const char *id)
{
    for (size_t i = 0; i < list->count; i++) {
        if (strcmp(list->keys[i].id, id) == 0) {
            return &list->keys[i];
        }
    }
    return NULL;
}

/* ---- Opening and migrations ------------------------------------------------------------------ */

/* Several processes opening a database nobody migrated yet: each must end up with the full
 * schema and none may fail (the migration lock). */
static void test_concurrent_open(void **state)
{
    (void)state;
    int barrier[2];
    assert_int_equal(pipe(barrier), 0);
    pid_t children[CONCURRENT_OPENERS];
    for (int i = 0; i < CONCURRENT_OPENERS; i++) {
        children[i] = fork();
        assert_true(children[i] >= 0);
        if (children[i] == 0) {
            char go;
            close(barrier[1]);
            (void)!read(barrier[0], &go, 1); /* returns 0 when the parent closes its end */
            char err[256] = "";
            struct mopay_store *store = mopay_store_open(suite.concurrent_url, err, sizeof err);
            if (store == NULL) {
                fprintf(stderr, "child %d: %s\n", i, err);
                _exit(1);
            }
            int version = 0;
            enum mopay_err rc = store->schema_version(store, &version);
            store->close(store);
            _exit(rc == MOPAY_OK && version == suite.latest_version ? 0 : 2);
        }
    }
    close(barrier[0]);
    close(barrier[1]);
    for (int i = 0; i < CONCURRENT_OPENERS; i++) {
        int status = 0;
        assert_int_equal(waitpid(children[i], &status, 0), children[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
}

static void test_migrations_embedded(void **state)
{
    (void)state;
    size_t count = mopay_store_migration_count();
    assert_true(count >= 1);
    const struct mopay_migration *first = mopay_store_migration_at(0);
    assert_int_equal(first->version, 1);
    assert_string_equal(first->name, "init");
    assert_non_null(strstr(first->sql, "CREATE TABLE idempotency"));
    for (size_t i = 1; i < count; i++) {
        assert_int_equal(mopay_store_migration_at(i)->version, mopay_store_migration_at(i - 1)->version + 1);
    }
}

static void test_open_creates_schema(void **state)
{
    (void)state;
    struct mopay_store *store = open_or_fail(suite.url);
    int version = 0;
    check_ok(store, store->schema_version(store, &version));
    assert_int_equal(version, suite.latest_version);
    assert_string_equal(store->backend, strncmp(suite.url, "sqlite:", 7) == 0 ? "sqlite" : "postgres");
    /* The tables exist: every kind of row can be read. */
    char value[8];
    assert_false(meta_found(store, "test_no_such_key", value, sizeof value));
    assert_false(idem_found(store, "no-such-key"));
    store->close(store);
    if (suite.temp_dir[0] != '\0') {
        struct stat st;
        assert_int_equal(stat(suite.url + strlen("sqlite:"), &st), 0); /* and its folders */
        assert_true(S_ISREG(st.st_mode));
    }
}

static void test_reopen_is_idempotent(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        struct mopay_store *store = open_or_fail(suite.url);
        int version = 0;
        check_ok(store, store->schema_version(store, &version));
        assert_int_equal(version, suite.latest_version);
        store->close(store);
    }
}

static void test_sqlite_memory(void **state)
{
    (void)state;
    struct mopay_store *store = open_or_fail("sqlite::memory:");
    int version = 0;
    check_ok(store, store->schema_version(store, &version));
    assert_int_equal(version, suite.latest_version);
    check_ok(store, store->begin(store));
    check_ok(store, store->meta_put(store, "k", "v"));
    check_ok(store, store->commit(store));
    char value[8];
    assert_true(meta_found(store, "k", value, sizeof value));
    assert_string_equal(value, "v");
    store->close(store);
}

static void assert_one_line(const char *err)
{
    assert_true(strlen(err) > 10);
    assert_null(strchr(err, '\n'));
}

static void test_bad_url(void **state)
{
    (void)state;
    char err[256];
    const char *bad[] = {"mysql://user:secret@host/db", "no-scheme-at-all", "", "sqlite:", "postgres:/x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        strcpy(err, "");
        assert_null(mopay_store_open(bad[i], err, sizeof err));
        assert_one_line(err);
        assert_null(strstr(err, "secret")); /* a password is never echoed */
    }
    strcpy(err, "");
    assert_null(mopay_store_open("mysql://user:secret@host/db", err, sizeof err));
    assert_non_null(strstr(err, "mysql:"));
}

static void test_unreachable_postgres(void **state)
{
    (void)state;
    const char *urls[] = {
        "postgresql:///mopay_none?host=/nonexistent/mopay-no-socket&connect_timeout=2",
        "postgres://mopay@127.0.0.1:1/mopay_none?connect_timeout=2",
    };
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        char err[256] = "";
        assert_null(mopay_store_open(urls[i], err, sizeof err));
        assert_one_line(err);
        assert_non_null(strstr(err, "postgres: cannot connect"));
    }
}

/* ---- Meta ---------------------------------------------------------------------------------- */

static void test_meta(void **state)
{
    struct mopay_store *store = *state;
    char key[64], value[32];
    meta_key(key, sizeof key, "meta");
    strcpy(value, "untouched");
    assert_false(meta_found(store, key, value, sizeof value));
    assert_string_equal(value, "untouched");

    check_ok(store, store->begin(store));
    check_ok(store, store->meta_put(store, key, "first"));
    assert_true(meta_found(store, key, value, sizeof value));
    assert_string_equal(value, "first");
    check_ok(store, store->meta_put(store, key, "second, longer value"));
    check_ok(store, store->commit(store));

    assert_true(meta_found(store, key, value, sizeof value));
    assert_string_equal(value, "second, longer value");
    char small[7];
    assert_true(meta_found(store, key, small, sizeof small));
    assert_string_equal(small, "second");
}

/* ---- Admin keys ------------------------------------------------------------------------------ */

static void test_admin_keys_load_order(void **state)
{
    struct mopay_store *store = *state;
    struct mopay_admin_key keys[3] = {
        make_admin_key(1, TIME_BASE_NS + 300),
        make_admin_key(2, TIME_BASE_NS + 100),
        make_admin_key(3, TIME_BASE_NS + 200),
    };
    check_ok(store, store->begin(store));
    for (size_t i = 0; i < 3; i++) {
        check_ok(store, store->admin_key_insert(store, &keys[i]));
    }
    check_ok(store, store->commit(store));

    struct key_list list;
    load_keys(store, &list);
    assert_int_equal(list.count, 3);
    const struct mopay_admin_key *expected[3] = {&keys[1], &keys[2], &keys[0]}; /* oldest first */
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(list.keys[i].id, expected[i]->id);
        assert_string_equal(list.keys[i].name, expected[i]->name);
        assert_memory_equal(list.keys[i].hash, expected[i]->hash, sizeof expected[i]->hash);
        assert_int_equal(list.keys[i].created_at_ns, expected[i]->created_at_ns);
        assert_int_equal(list.keys[i].revoked_at_ns, 0);
    }

    memset(&list, 0, sizeof list);
    list.stop_after = 1;
    check_ok(store, store->admin_keys_load(store, collect_key, &list));
    assert_int_equal(list.calls, 1);
}

static void test_admin_key_revoke(void **state)
{
    struct mopay_store *store = *state;
    struct mopay_admin_key key = make_admin_key(10, TIME_BASE_NS + 1000);
    check_ok(store, store->begin(store));
    check_ok(store, store->admin_key_insert(store, &key));
    check_ok(store, store->commit(store));

    bool found = false;
    check_ok(store, store->begin(store));
    check_ok(store, store->admin_key_revoke(store, key.id, TIME_BASE_NS + 2000, &found));
    assert_true(found);
    check_ok(store, store->admin_key_revoke(store, key.id, TIME_BASE_NS + 3000, &found));
    assert_false(found); /* no longer live */
    char unknown[40];
    snprintf(unknown, sizeof unknown, "adk_%s%016x", suite.nonce, 0xffffu);
    found = true;
    check_ok(store, store->admin_key_revoke(store, unknown, TIME_BASE_NS + 3000, &found));
    assert_false(found);
    check_ok(store, store->commit(store));

    struct key_list list;
    load_keys(store, &list);
    const struct mopay_admin_key *loaded = find_key(&list, key.id);
    assert_non_null(loaded);
    assert_int_equal(loaded->revoked_at_ns, TIME_BASE_NS + 2000); /* the first revocation stands */
}

static void test_admin_key_duplicates_refused(void **state)
{
    struct mopay_store *store = *state;
    struct mopay_admin_key first = make_admin_key(20, TIME_BASE_NS + 1);
    struct mopay_admin_key same_hash = make_admin_key(21, TIME_BASE_NS + 2);
    memcpy(same_hash.hash, first.hash, sizeof first.hash);

    check_ok(store, store->begin(store));
    check_ok(store, store->admin_key_insert(store, &first));
    assert_int_equal(store->admin_key_insert(store, &same_hash), MOPAY_ERR_store_failed);
    assert_true(strlen(store->last_error) > 0);
    check_ok(store, store->rollback(store));

    struct key_list list;
    load_keys(store, &list);
    assert_null(find_key(&list, first.id)); /* the rollback took the first one too */
    assert_null(find_key(&list, same_hash.id));

    check_ok(store, store->begin(store));
    check_ok(store, store->admin_key_insert(store, &first));
    check_ok(store, store->commit(store));
    struct mopay_admin_key same_id = make_admin_key(22, TIME_BASE_NS + 3);
    memcpy(same_id.id, first.id, sizeof first.id);
    check_ok(store, store->begin(store));
    assert_int_equal(store->admin_key_insert(store, &same_id), MOPAY_ERR_store_failed);
    check_ok(store, store->rollback(store));
}

/* ---- Idempotency --------------------------------------------------------------------------- */

static void assert_idem_equal(const struct mopay_idem_record *got, const struct mopay_idem_record *want)
{
    assert_string_equal(got->principal, want->principal);
    assert_string_equal(got->key, want->key);
    assert_memory_equal(got->request_hash, want->request_hash, sizeof want->request_hash);
    assert_int_equal(got->status, want->status);
    assert_int_equal(got->body_len, want->body_len);
    assert_non_null(got->body);
    assert_memory_equal(got->body, want->body, want->body_len);
    assert_int_equal(got->body[got->body_len], '\0');
    assert_int_equal(got->created_at_ns, want->created_at_ns);
}

static void test_idem_roundtrip(void **state)
{
    struct mopay_store *store = *state;
    char long_key[MOPAY_IDEMPOTENCY_KEY_BYTES_MAX + 1];
    memset(long_key, 'k', MOPAY_IDEMPOTENCY_KEY_BYTES_MAX);
    long_key[MOPAY_IDEMPOTENCY_KEY_BYTES_MAX] = '\0';
    struct mopay_idem_record records[3] = {
        make_idem("order-1", 201, "{\"id\":\"pay_1\",\"note\":\"caf\xc3\xa9 \xe2\x82\xac\"}", TIME_BASE_NS + 5),
        make_idem(long_key, 422, "{\"type\":\"field_invalid\"}", TIME_BASE_NS + 6),
        make_idem("empty-body", 204, "", TIME_BASE_NS + 7),
    };
    assert_false(idem_found(store, "order-1"));

    check_ok(store, store->begin(store));
    for (size_t i = 0; i < 3; i++) {
        check_ok(store, store->idem_put(store, &records[i]));
    }
    check_ok(store, store->commit(store));

    for (size_t i = 0; i < 3; i++) {
        struct mopay_idem_record got;
        memset(&got, 0, sizeof got);
        bool found = false;
        check_ok(store, store->idem_get(store, records[i].principal, records[i].key, &got, &found));
        assert_true(found);
        assert_idem_equal(&got, &records[i]);
        free(got.body);
    }
    bool found = true;
    struct mopay_idem_record other;
    check_ok(store, store->idem_get(store, "p_someone_else", "order-1", &other, &found));
    assert_false(found);
}

/* The body may carry bytes that are not NUL-terminated: only body_len counts. */
static void test_idem_body_length_counts(void **state)
{
    struct mopay_store *store = *state;
    char body[] = "{\"a\":1}TRAILING";
    struct mopay_idem_record record = make_idem("length-only", 200, body, TIME_BASE_NS + 8);
    record.body_len = 7;
    check_ok(store, store->begin(store));
    check_ok(store, store->idem_put(store, &record));
    check_ok(store, store->commit(store));
    struct mopay_idem_record got;
    bool found = false;
    check_ok(store, store->idem_get(store, record.principal, record.key, &got, &found));
    assert_true(found);
    assert_int_equal(got.body_len, 7);
    assert_string_equal(got.body, "{\"a\":1}");
    free(got.body);
}

/* Both backends refuse what PostgreSQL cannot store, so SQLite tests do not hide it. */
static void test_invalid_text_refused(void **state)
{
    struct mopay_store *store = *state;
    char key[64];
    meta_key(key, sizeof key, "bad");
    check_ok(store, store->begin(store));
    assert_int_equal(store->meta_put(store, key, "bad \xff byte"), MOPAY_ERR_store_failed);
    struct mopay_idem_record overlong = make_idem("bad-1", 200, "\xc0\xaf", TIME_BASE_NS + 9);
    assert_int_equal(store->idem_put(store, &overlong), MOPAY_ERR_store_failed);
    char with_nul[] = "a\0b";
    struct mopay_idem_record nul = make_idem("bad-2", 200, with_nul, TIME_BASE_NS + 9);
    nul.body_len = 3;
    assert_int_equal(store->idem_put(store, &nul), MOPAY_ERR_store_failed);
    assert_non_null(strstr(store->last_error, "UTF-8"));
    check_ok(store, store->rollback(store));
    assert_false(idem_found(store, "bad-1"));
    assert_false(idem_found(store, "bad-2"));
}

static void test_idem_purge(void **state)
{
    struct mopay_store *store = *state;
    int64_t deleted = -1;
    check_ok(store, store->begin(store));
    check_ok(store, store->idem_purge(store, INT64_MAX, &deleted)); /* start from an empty table */
    const char *keys[3] = {"purge-100", "purge-200", "purge-300"};
    for (int i = 0; i < 3; i++) {
        struct mopay_idem_record record = make_idem(keys[i], 200, "{}", TIME_BASE_NS + 100 * (i + 1));
        check_ok(store, store->idem_put(store, &record));
    }
    check_ok(store, store->commit(store));

    check_ok(store, store->begin(store));
    check_ok(store, store->idem_purge(store, TIME_BASE_NS + 250, &deleted));
    assert_int_equal(deleted, 2);
    check_ok(store, store->commit(store));
    assert_false(idem_found(store, "purge-100"));
    assert_false(idem_found(store, "purge-200"));
    assert_true(idem_found(store, "purge-300"));

    check_ok(store, store->begin(store));
    check_ok(store, store->idem_purge(store, TIME_BASE_NS + 250, &deleted));
    assert_int_equal(deleted, 0);
    check_ok(store, store->idem_purge(store, TIME_BASE_NS + 300, &deleted)); /* strictly before */
    assert_int_equal(deleted, 0);
    check_ok(store, store->idem_purge(store, TIME_BASE_NS + 301, &deleted));
    assert_int_equal(deleted, 1);
    check_ok(store, store->commit(store));
}

/* Runs one statement on the suite's database behind the store's back, as an older mopay (or a
 * person with the database) would. */
static void raw_exec(const char *sql)
{
    if (strncmp(suite.url, "sqlite:", 7) == 0) {
        sqlite3 *db = NULL;
        char *err = NULL;
        assert_int_equal(sqlite3_open(suite.url + 7, &db), SQLITE_OK);
        sqlite3_busy_timeout(db, 5000);
        if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
            fail_msg("%s: %s", sql, err);
        sqlite3_close(db);
        return;
    }
    PGconn *conn = PQconnectdb(suite.url);
    assert_int_equal(PQstatus(conn), CONNECTION_OK);
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(conn));
    PQclear(res);
    PQfinish(conn);
}

static void rekey_xor(void *ctx, const uint8_t in[32], uint8_t out[32])
{
    (void)ctx;
    for (size_t i = 0; i < 32; i++)
        out[i] = in[i] ^ 0x5a;
}

/* A record written before hashes were keyed holds the plain digest as 64 hex digits: idem_rekey
 * replaces it with its keyed image, once, and leaves records already keyed alone. */
static void test_idem_rekey_legacy(void **state)
{
    struct mopay_store *store = *state;
    int64_t rekeyed = -1;
    check_ok(store, store->begin(store));
    check_ok(store, store->idem_rekey(store, rekey_xor, NULL, &rekeyed)); /* whatever others left */
    struct mopay_idem_record keyed = make_idem("rekey-new", 201, "{}", TIME_BASE_NS + 400);
    check_ok(store, store->idem_put(store, &keyed));
    check_ok(store, store->commit(store));
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO idempotency (principal, key, request_hash, status, body, created_at_ns) VALUES "
             "('p_%s', 'rekey-old', '%s', 201, '{}', %" PRId64 ")",
             suite.nonce, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", TIME_BASE_NS + 401);
    raw_exec(sql);

    check_ok(store, store->begin(store));
    check_ok(store, store->idem_rekey(store, rekey_xor, NULL, &rekeyed));
    assert_int_equal(rekeyed, 1);
    check_ok(store, store->idem_rekey(store, rekey_xor, NULL, &rekeyed));
    assert_int_equal(rekeyed, 0);
    check_ok(store, store->commit(store));

    struct mopay_idem_record got;
    bool found = false;
    check_ok(store, store->idem_get(store, keyed.principal, "rekey-old", &got, &found));
    assert_true(found);
    for (size_t i = 0; i < 32; i++)
        assert_int_equal(got.request_hash[i], (uint8_t)((i % 16) * 0x11) ^ 0x5a);
    free(got.body);
    check_ok(store, store->idem_get(store, keyed.principal, "rekey-new", &got, &found));
    assert_true(found);
    assert_idem_equal(&got, &keyed);
    free(got.body);
}

/* ---- Ledger log ---------------------------------------------------------------------------- */

struct log_seen {
    int64_t last_seq;
    int count;
    int stop_after;
    uint8_t data[3][64];
    size_t len[3];
    bool in_order;
};

static bool log_collect(void *ctx, int64_t seq, const void *data, size_t len)
{
    struct log_seen *seen = ctx;
    seen->in_order &= seq > seen->last_seq;
    seen->last_seq = seq;
    if (seen->count < 3 && len <= sizeof seen->data[0]) {
        memcpy(seen->data[seen->count], data, len);
        seen->len[seen->count] = len;
    }
    seen->count++;
    return seen->stop_after == 0 || seen->count < seen->stop_after;
}

static void test_ledger_log(void **state)
{
    struct mopay_store *store = *state;
    struct log_seen before = {.in_order = true};
    check_ok(store, store->ledger_log_load(store, log_collect, &before)); /* a rerun starts after */
    int64_t base = before.last_seq;
    const uint8_t records[3][5] = {{0, 1, 2, 0, 255}, {9, 0, 0, 0, 9}, {0xde, 0xad, 0, 0xbe, 0xef}};
    check_ok(store, store->begin(store));
    check_ok(store, store->ledger_log_append(store, base + 1, records[0], 5));
    check_ok(store, store->ledger_log_append(store, base + 2, records[1], 3));
    check_ok(store, store->commit(store));
    check_ok(store, store->begin(store));
    check_ok(store, store->ledger_log_append(store, base + 3, records[2], 5));
    check_ok(store, store->rollback(store)); /* not durable: gone */
    check_ok(store, store->begin(store));
    assert_int_equal(store->ledger_log_append(store, base + 2, records[2], 5), MOPAY_ERR_store_failed);
    check_ok(store, store->rollback(store));
    check_ok(store, store->begin(store));
    check_ok(store, store->ledger_log_append(store, base + 3, records[2], 5));
    check_ok(store, store->commit(store));

    struct log_seen all = {.in_order = true};
    check_ok(store, store->ledger_log_load(store, log_collect, &all));
    assert_true(all.in_order);
    assert_int_equal(all.count, before.count + 3);
    assert_int_equal(all.last_seq, base + 3);
    /* another connection sees the same log */
    struct log_seen tail = {.in_order = true};
    struct mopay_store *other = open_or_fail(suite.url);
    check_ok(other, other->ledger_log_load(other, log_collect, &tail));
    assert_int_equal(tail.count, all.count);
    other->close(other);
    if (before.count == 0) { /* byte for byte, zero bytes included */
        assert_int_equal(all.len[0], 5);
        assert_memory_equal(all.data[0], records[0], 5);
        assert_int_equal(all.len[1], 3);
        assert_memory_equal(all.data[1], records[1], 3);
        assert_int_equal(all.len[2], 5);
        assert_memory_equal(all.data[2], records[2], 5);
    }
    /* stopping early leaves the connection usable */
    struct log_seen first = {.in_order = true, .stop_after = 1};
    check_ok(store, store->ledger_log_load(store, log_collect, &first));
    assert_int_equal(first.count, 1);
    check_ok(store, store->begin(store));
    check_ok(store, store->ledger_log_append(store, base + 4, records[0], 1));
    check_ok(store, store->commit(store));
}

/* ---- Domain records ------------------------------------------------------------------------ */

/* store.h: a kind, id or owner holds at most 63 bytes; a page at most 1000 entries. */
#define KEY_BYTES_MAX 63
#define PAGE_MAX 1000

/* A kind of this run's own, so reruns against the same PostgreSQL database see only their rows. */
static void record_kind(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "t%s%s", suite.nonce, name);
}

struct record_list {
    char ids[8][KEY_BYTES_MAX + 1];
    char json[8][64];
    size_t len[8];
    size_t count;
    size_t stop_after; /* 0: never stop early */
};

static bool collect_record(void *ctx, const char *id, const char *json, size_t len)
{
    struct record_list *list = ctx;
    assert_true(list->count < 8);
    assert_true(len < sizeof list->json[0]);
    assert_int_equal(json[len], '\0'); /* NUL-terminated, as the contract says */
    snprintf(list->ids[list->count], sizeof list->ids[0], "%s", id);
    memcpy(list->json[list->count], json, len + 1);
    list->len[list->count++] = len;
    return list->stop_after == 0 || list->count < list->stop_after;
}

static void load_records(struct mopay_store *store, const char *kind, struct record_list *list)
{
    memset(list, 0, sizeof *list);
    check_ok(store, store->records_load(store, kind, collect_record, list));
}

static void put_record(struct mopay_store *store, const char *kind, const char *id, const char *json)
{
    check_ok(store, store->record_put(store, kind, id, json, strlen(json), TIME_BASE_NS + 1));
}

static void test_records_put_load(void **state)
{
    struct mopay_store *store = *state;
    char kind[32], other[32];
    record_kind(kind, sizeof kind, "load");
    record_kind(other, sizeof other, "loadother");
    check_ok(store, store->begin(store));
    put_record(store, kind, "cus_b", "{\"n\":2}");
    put_record(store, kind, "cus_c", "{\"name\":\"caf\xc3\xa9\"}");
    put_record(store, kind, "cus_a", "{\"n\":1}");
    put_record(store, kind, "cus_B", "{\"n\":0}");
    put_record(store, other, "cus_a", "{\"other\":true}");
    check_ok(store, store->commit(store));

    struct record_list list;
    load_records(store, kind, &list);
    assert_int_equal(list.count, 4); /* only this kind */
    const char *ids[4] = {"cus_B", "cus_a", "cus_b", "cus_c"}; /* ascending, as bytes */
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(list.ids[i], ids[i]);
    }
    assert_string_equal(list.json[1], "{\"n\":1}");
    assert_int_equal(list.len[3], strlen("{\"name\":\"caf\xc3\xa9\"}"));
    assert_string_equal(list.json[3], "{\"name\":\"caf\xc3\xa9\"}");

    memset(&list, 0, sizeof list);
    list.stop_after = 2;
    check_ok(store, store->records_load(store, kind, collect_record, &list));
    assert_int_equal(list.count, 2);
    record_kind(other, sizeof other, "empty");
    load_records(store, other, &list);
    assert_int_equal(list.count, 0);
}

static void test_record_put_replaces(void **state)
{
    struct mopay_store *store = *state;
    char kind[32];
    record_kind(kind, sizeof kind, "replace");
    check_ok(store, store->begin(store));
    put_record(store, kind, "wal_1", "{\"balance\":100,\"note\":\"a longer first version\"}");
    check_ok(store, store->commit(store));
    check_ok(store, store->begin(store));
    check_ok(store, store->record_put(store, kind, "wal_1", "{\"balance\":5}", 13, TIME_BASE_NS + 2));
    check_ok(store, store->commit(store));

    struct record_list list;
    load_records(store, kind, &list);
    assert_int_equal(list.count, 1);
    assert_string_equal(list.ids[0], "wal_1");
    assert_int_equal(list.len[0], 13);
    assert_string_equal(list.json[0], "{\"balance\":5}");
}

static void test_record_delete(void **state)
{
    struct mopay_store *store = *state;
    char kind[32];
    record_kind(kind, sizeof kind, "delete");
    check_ok(store, store->begin(store));
    put_record(store, kind, "ses_1", "{}");
    put_record(store, kind, "ses_2", "{}");
    check_ok(store, store->commit(store));

    bool found = false;
    check_ok(store, store->begin(store));
    check_ok(store, store->record_delete(store, kind, "ses_1", &found));
    assert_true(found);
    check_ok(store, store->record_delete(store, kind, "ses_1", &found));
    assert_false(found); /* already gone */
    found = true;
    check_ok(store, store->record_delete(store, kind, "ses_none", &found));
    assert_false(found);
    check_ok(store, store->commit(store));

    struct record_list list;
    load_records(store, kind, &list);
    assert_int_equal(list.count, 1);
    assert_string_equal(list.ids[0], "ses_2");
}

static void test_record_rollback_discards(void **state)
{
    struct mopay_store *store = *state;
    char kind[32];
    record_kind(kind, sizeof kind, "rollback");
    check_ok(store, store->begin(store));
    put_record(store, kind, "top_1", "{\"kept\":true}");
    check_ok(store, store->commit(store));

    check_ok(store, store->begin(store));
    put_record(store, kind, "top_2", "{}");
    check_ok(store, store->record_put(store, kind, "top_1", "{\"kept\":false}", 14, TIME_BASE_NS + 3));
    struct record_list list;
    load_records(store, kind, &list);
    assert_int_equal(list.count, 2); /* visible inside */
    check_ok(store, store->rollback(store));

    load_records(store, kind, &list);
    assert_int_equal(list.count, 1);
    assert_string_equal(list.ids[0], "top_1");
    assert_string_equal(list.json[0], "{\"kept\":true}");
}

struct entry_list {
    int64_t at_ns[16];
    char ids[16][KEY_BYTES_MAX + 1];
    char json[16][32];
    size_t count;
    size_t stop_after; /* 0: never stop early */
};

static bool collect_entry(void *ctx, int64_t at_ns, const char *id, const char *json, size_t len)
{
    struct entry_list *list = ctx;
    assert_true(list->count < 16);
    assert_true(len < sizeof list->json[0]);
    list->at_ns[list->count] = at_ns;
    snprintf(list->ids[list->count], sizeof list->ids[0], "%s", id);
    memcpy(list->json[list->count], json, len);
    list->json[list->count][len] = '\0';
    list->count++;
    return list->stop_after == 0 || list->count < list->stop_after;
}

/* One page into a fresh list; returns *out_more. */
static bool page(struct mopay_store *store, const char *owner, int64_t before_at_ns, const char *before_id,
                 size_t limit, struct entry_list *list)
{
    bool more = true;
    memset(list, 0, sizeof *list);
    check_ok(store, store->entries_page(store, owner, before_at_ns, before_id, limit, collect_entry, list, &more));
    return more;
}

/* Refused before anything is sent, so the transaction stays usable: the good row commits alone. */
static void test_record_bad_text_refused(void **state)
{
    struct mopay_store *store = *state;
    char kind[32], long_kind[KEY_BYTES_MAX + 2], long_id[KEY_BYTES_MAX + 2], max_id[KEY_BYTES_MAX + 1];
    record_kind(kind, sizeof kind, "bad");
    memset(long_kind, 'k', KEY_BYTES_MAX + 1);
    long_kind[KEY_BYTES_MAX + 1] = '\0';
    memset(long_id, 'i', KEY_BYTES_MAX + 1);
    long_id[KEY_BYTES_MAX + 1] = '\0';
    memcpy(max_id, long_id, KEY_BYTES_MAX);
    max_id[KEY_BYTES_MAX] = '\0';
    const char with_nul[] = "{\"a\":\"\0\"}";

    check_ok(store, store->begin(store));
    assert_int_equal(store->record_put(store, kind, "x_1", with_nul, sizeof with_nul - 1, TIME_BASE_NS),
                     MOPAY_ERR_store_failed);
    assert_non_null(strstr(store->last_error, "UTF-8"));
    const char *bad_byte = "{\"a\":\"\xff\"}";
    assert_int_equal(store->record_put(store, kind, "x_2", bad_byte, strlen(bad_byte), TIME_BASE_NS),
                     MOPAY_ERR_store_failed);
    assert_int_equal(store->record_put(store, kind, "x_\xc0\xaf", "{}", 2, TIME_BASE_NS), MOPAY_ERR_store_failed);
    assert_int_equal(store->record_put(store, "k\xed\xa0\x80", "x_3", "{}", 2, TIME_BASE_NS),
                     MOPAY_ERR_store_failed);
    assert_int_equal(store->record_put(store, kind, long_id, "{}", 2, TIME_BASE_NS), MOPAY_ERR_store_failed);
    assert_non_null(strstr(store->last_error, "longer than 63 bytes"));
    assert_int_equal(store->record_put(store, long_kind, "x_4", "{}", 2, TIME_BASE_NS), MOPAY_ERR_store_failed);
    assert_int_equal(store->entry_append(store, kind, TIME_BASE_NS, "e_1", with_nul, sizeof with_nul - 1),
                     MOPAY_ERR_store_failed);
    assert_int_equal(store->entry_append(store, kind, TIME_BASE_NS, "e_\xff", "{}", 2), MOPAY_ERR_store_failed);
    assert_int_equal(store->entry_append(store, long_id, TIME_BASE_NS, "e_2", "{}", 2), MOPAY_ERR_store_failed);
    put_record(store, kind, max_id, "{}"); /* 63 bytes is still fine */
    check_ok(store, store->commit(store));

    struct record_list list;
    load_records(store, kind, &list);
    assert_int_equal(list.count, 1);
    assert_string_equal(list.ids[0], max_id);
    struct entry_list entries;
    assert_false(page(store, kind, 0, NULL, 10, &entries));
    assert_int_equal(entries.count, 0);
}

/* ---- Entries ------------------------------------------------------------------------------- */

static void append_entry(struct mopay_store *store, const char *owner, int64_t at_ns, const char *id)
{
    char json[32];
    snprintf(json, sizeof json, "{\"id\":\"%s\"}", id);
    check_ok(store, store->entry_append(store, owner, at_ns, id, json, strlen(json)));
}

static void entry_owner(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "wal_%s_%s", suite.nonce, name);
}

/* Seven entries, three sharing one time and two another, appended out of order. */
static const struct {
    int64_t at;
    const char *id;
} paging_entries[7] = {
    {5, "e5"}, {1, "e1"}, {2, "e3"}, {5, "e7"}, {3, "e4"}, {2, "e2"}, {5, "e6"},
};
static const char *const paging_newest_first[7] = {"e7", "e6", "e5", "e4", "e3", "e2", "e1"};

static void test_entries_paging(void **state)
{
    struct mopay_store *store = *state;
    char owner[64];
    entry_owner(owner, sizeof owner, "paging");
    check_ok(store, store->begin(store));
    for (size_t i = 0; i < 7; i++) {
        append_entry(store, owner, TIME_BASE_NS + paging_entries[i].at, paging_entries[i].id);
    }
    check_ok(store, store->commit(store));

    for (size_t limit = 1; limit <= 4; limit++) {
        size_t seen = 0, pages = 0;
        struct entry_list list = {.count = 0};
        bool more = page(store, owner, 0, NULL, limit, &list);
        for (;;) {
            pages++;
            assert_int_equal(list.count, seen + limit <= 7 ? limit : 7 - seen);
            for (size_t i = 0; i < list.count; i++, seen++) {
                assert_string_equal(list.ids[i], paging_newest_first[seen]);
                char want[KEY_BYTES_MAX + 16];
                snprintf(want, sizeof want, "{\"id\":\"%s\"}", list.ids[i]);
                assert_string_equal(list.json[i], want);
            }
            assert_int_equal(more, seen < 7);
            if (!more) {
                break;
            }
            char cursor[KEY_BYTES_MAX + 1];
            int64_t cursor_at = list.at_ns[list.count - 1];
            memcpy(cursor, list.ids[list.count - 1], sizeof cursor);
            more = page(store, owner, cursor_at, cursor, limit, &list);
        }
        assert_int_equal(seen, 7);
        assert_int_equal(pages, (7 + limit - 1) / limit);
    }
}

/* *out_more is exact: false when the page ends on the oldest entry, however it is reached. */
static void test_entries_more_at_boundary(void **state)
{
    struct mopay_store *store = *state;
    char owner[64];
    entry_owner(owner, sizeof owner, "boundary");
    check_ok(store, store->begin(store));
    for (int i = 1; i <= 4; i++) {
        char id[8];
        snprintf(id, sizeof id, "b%d", i);
        append_entry(store, owner, TIME_BASE_NS + i, id);
    }
    check_ok(store, store->commit(store));

    struct entry_list list = {.count = 0};
    assert_false(page(store, owner, 0, NULL, 4, &list)); /* exactly all of them */
    assert_int_equal(list.count, 4);
    assert_true(page(store, owner, 0, NULL, 3, &list));
    assert_int_equal(list.count, 3);
    assert_false(page(store, owner, 0, NULL, PAGE_MAX, &list));
    assert_int_equal(list.count, 4);
    assert_false(page(store, owner, TIME_BASE_NS + 2, "b2", 1, &list)); /* the oldest, alone */
    assert_int_equal(list.count, 1);
    assert_string_equal(list.ids[0], "b1");
    assert_true(page(store, owner, TIME_BASE_NS + 3, "b3", 1, &list));
    assert_false(page(store, owner, TIME_BASE_NS + 1, "b1", 1, &list)); /* past the oldest */
    assert_int_equal(list.count, 0);
    assert_false(page(store, owner, TIME_BASE_NS + 2, "b3", 5, &list)); /* same time, greater id */
    assert_int_equal(list.count, 2);
    assert_string_equal(list.ids[0], "b2");

    /* Stopping early: more is about what follows the last one given. */
    bool more = false;
    struct entry_list first = {.stop_after = 2};
    check_ok(store, store->entries_page(store, owner, 0, NULL, 4, collect_entry, &first, &more));
    assert_int_equal(first.count, 2);
    assert_true(more);
    struct entry_list last = {.stop_after = 2};
    check_ok(store, store->entries_page(store, owner, TIME_BASE_NS + 3, "b3", 4, collect_entry, &last, &more));
    assert_int_equal(last.count, 2);
    assert_false(more);
}

static void test_entry_duplicate_refused(void **state)
{
    struct mopay_store *store = *state;
    char owner[64];
    entry_owner(owner, sizeof owner, "duplicate");
    check_ok(store, store->begin(store));
    append_entry(store, owner, TIME_BASE_NS + 1, "d1");
    check_ok(store, store->commit(store));

    check_ok(store, store->begin(store));
    assert_int_equal(store->entry_append(store, owner, TIME_BASE_NS + 1, "d1", "{\"x\":1}", 7),
                     MOPAY_ERR_store_failed);
    check_ok(store, store->rollback(store));
    check_ok(store, store->begin(store));
    append_entry(store, owner, TIME_BASE_NS + 2, "d1"); /* another time: another entry */
    append_entry(store, owner, TIME_BASE_NS + 1, "d2");
    check_ok(store, store->commit(store));

    struct entry_list list = {.count = 0};
    assert_false(page(store, owner, 0, NULL, 10, &list));
    assert_int_equal(list.count, 3);
    assert_string_equal(list.json[2], "{\"id\":\"d1\"}"); /* the first one, unchanged */
}

static void test_entries_other_owner_unseen(void **state)
{
    struct mopay_store *store = *state;
    char mine[64], theirs[64], none[64];
    entry_owner(mine, sizeof mine, "mine");
    entry_owner(theirs, sizeof theirs, "theirs");
    entry_owner(none, sizeof none, "none");
    check_ok(store, store->begin(store));
    for (int i = 1; i <= 6; i++) {
        append_entry(store, i % 2 == 0 ? mine : theirs, TIME_BASE_NS + i, i % 2 == 0 ? "m" : "t");
    }
    check_ok(store, store->commit(store));

    struct entry_list list = {.count = 0};
    assert_false(page(store, mine, 0, NULL, 10, &list));
    assert_int_equal(list.count, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(list.ids[i], "m");
        assert_int_equal(list.at_ns[i], TIME_BASE_NS + 6 - 2 * (int64_t)i);
    }
    assert_false(page(store, mine, TIME_BASE_NS + 4, "m", 1, &list)); /* next one is theirs: not counted */
    assert_int_equal(list.count, 1);
    assert_false(page(store, none, 0, NULL, 10, &list));
    assert_int_equal(list.count, 0);
}

/* ---- Large JSON ---------------------------------------------------------------------------- */

#define LARGE_JSON_BYTES (100 * 1024)

struct large_seen {
    const char *want;
    size_t count;
};

static bool match_large_record(void *ctx, const char *id, const char *json, size_t len)
{
    struct large_seen *seen = ctx;
    (void)id;
    assert_int_equal(len, LARGE_JSON_BYTES);
    assert_memory_equal(json, seen->want, LARGE_JSON_BYTES);
    assert_int_equal(json[len], '\0');
    seen->count++;
    return true;
}

static bool match_large_entry(void *ctx, int64_t at_ns, const char *id, const char *json, size_t len)
{
    (void)at_ns;
    return match_large_record(ctx, id, json, len);
}

/* {"blob":"..."} of exactly LARGE_JSON_BYTES bytes, with multi-byte characters in it. */
static char *make_large_json(void)
{
    char *json = malloc(LARGE_JSON_BYTES + 1);
    assert_non_null(json);
    size_t len = strlen("{\"blob\":\"");
    memcpy(json, "{\"blob\":\"", len);
    while (len < LARGE_JSON_BYTES - 2) {
        if (len % 7 == 0 && len + 3 <= LARGE_JSON_BYTES - 2) {
            memcpy(json + len, "\xe2\x82\xac", 3); /* U+20AC */
            len += 3;
        } else {
            json[len] = (char)('a' + len % 26);
            len++;
        }
    }
    memcpy(json + len, "\"}", 3);
    assert_int_equal(strlen(json), LARGE_JSON_BYTES);
    return json;
}

static void test_large_json_roundtrip(void **state)
{
    struct mopay_store *store = *state;
    char kind[32], owner[64];
    record_kind(kind, sizeof kind, "large");
    entry_owner(owner, sizeof owner, "large");
    char *json = make_large_json();
    check_ok(store, store->begin(store));
    check_ok(store, store->record_put(store, kind, "big_1", json, LARGE_JSON_BYTES, TIME_BASE_NS));
    check_ok(store, store->entry_append(store, owner, TIME_BASE_NS, "big_1", json, LARGE_JSON_BYTES));
    check_ok(store, store->commit(store));

    struct large_seen seen = {.want = json};
    check_ok(store, store->records_load(store, kind, match_large_record, &seen));
    bool more = true;
    check_ok(store, store->entries_page(store, owner, 0, NULL, 1, match_large_entry, &seen, &more));
    assert_false(more);
    assert_int_equal(seen.count, 2);
    free(json);
}

/* ---- Transactions ------------------------------------------------------------------------ */

static void test_rollback_discards(void **state)
{
    struct mopay_store *store = *state;
    char key[64], value[16];
    meta_key(key, sizeof key, "rollback");
    struct mopay_admin_key admin = make_admin_key(30, TIME_BASE_NS + 30);
    struct mopay_idem_record record = make_idem("rollback-1", 200, "{}", TIME_BASE_NS + 30);

    check_ok(store, store->begin(store));
    check_ok(store, store->meta_put(store, key, "never"));
    check_ok(store, store->admin_key_insert(store, &admin));
    check_ok(store, store->idem_put(store, &record));
    assert_true(meta_found(store, key, value, sizeof value)); /* visible inside */
    check_ok(store, store->rollback(store));

    assert_false(meta_found(store, key, value, sizeof value));
    assert_false(idem_found(store, "rollback-1"));
    struct key_list list;
    load_keys(store, &list);
    assert_null(find_key(&list, admin.id));
    check_ok(store, store->rollback(store)); /* nothing open: still fine */

    /* The store is usable afterwards, and the same rows can now be written. */
    check_ok(store, store->begin(store));
    check_ok(store, store->idem_put(store, &record));
    check_ok(store, store->commit(store));
    assert_true(idem_found(store, "rollback-1"));
}

static void test_commit_persists_across_reopen(void **state)
{
    struct mopay_store *store = *state;
    char key[64], value[16];
    meta_key(key, sizeof key, "durable");
    struct mopay_admin_key admin = make_admin_key(40, TIME_BASE_NS + 40);
    struct mopay_idem_record record = make_idem("durable-1", 201, "{\"ok\":true}", TIME_BASE_NS + 40);
    check_ok(store, store->begin(store));
    check_ok(store, store->meta_put(store, key, "kept"));
    check_ok(store, store->admin_key_insert(store, &admin));
    check_ok(store, store->idem_put(store, &record));
    check_ok(store, store->commit(store));
    store->close(store);

    store = open_or_fail(suite.url);
    *state = store; /* the teardown closes this one */
    assert_true(meta_found(store, key, value, sizeof value));
    assert_string_equal(value, "kept");
    assert_true(idem_found(store, "durable-1"));
    struct key_list list;
    load_keys(store, &list);
    assert_non_null(find_key(&list, admin.id));
}

/* Two handles on one database, as the server and a CLI would be: each sees what the other
 * committed, and not what it has not. */
static void test_two_stores_share_committed_rows(void **state)
{
    struct mopay_store *first = *state;
    struct mopay_store *second = open_or_fail(suite.url);
    char key[64], value[16];
    meta_key(key, sizeof key, "shared");

    check_ok(first, first->begin(first));
    check_ok(first, first->meta_put(first, key, "from first"));
    assert_false(meta_found(second, key, value, sizeof value));
    check_ok(first, first->commit(first));
    assert_true(meta_found(second, key, value, sizeof value));
    assert_string_equal(value, "from first");

    check_ok(second, second->begin(second));
    check_ok(second, second->meta_put(second, key, "from second"));
    check_ok(second, second->commit(second));
    assert_true(meta_found(first, key, value, sizeof value));
    assert_string_equal(value, "from second");
    second->close(second);
}

/* ---- PostgreSQL only: a connection the server drops ------------------------------------------- */

/* Opens the suite's database under a unique application_name and terminates that session from a
 * second, plain libpq connection. */
static struct mopay_store *open_named(char *app, size_t app_cap)
{
    snprintf(app, app_cap, "mopay_test_%s", suite.nonce);
    char url[URL_CAP + 128];
    snprintf(url, sizeof url, "%s%sapplication_name=%s", suite.url, strchr(suite.url, '?') ? "&" : "?", app);
    return open_or_fail(url);
}

static void terminate_session(const char *app)
{
    PGconn *conn = PQconnectdb(suite.url);
    assert_int_equal(PQstatus(conn), CONNECTION_OK);
    const char *values[1] = {app};
    PGresult *res = PQexecParams(conn, "SELECT pid FROM pg_stat_activity WHERE application_name = $1", 1, NULL,
                                 values, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        fail_msg("looking up session %s: %s (%d rows)", app, PQerrorMessage(conn), PQntuples(res));
    }
    values[0] = PQgetvalue(res, 0, 0);
    PGresult *killed = PQexecParams(conn, "SELECT pg_terminate_backend($1::integer, 5000)", 1, NULL, values,
                                    NULL, NULL, 0);
    if (PQresultStatus(killed) != PGRES_TUPLES_OK || strcmp(PQgetvalue(killed, 0, 0), "t") != 0) {
        fail_msg("terminating session %s: %s", app, PQerrorMessage(conn));
    }
    PQclear(killed);
    PQclear(res);
    PQfinish(conn);
}

static void test_pg_reconnects_between_transactions(void **state)
{
    (void)state;
    char app[64], key[64], value[16];
    meta_key(key, sizeof key, "reconnect");
    struct mopay_store *store = open_named(app, sizeof app);
    terminate_session(app);
    check_ok(store, store->begin(store)); /* nothing done yet: begin reconnects and retries */
    check_ok(store, store->meta_put(store, key, "after"));
    check_ok(store, store->commit(store));
    assert_true(meta_found(store, key, value, sizeof value));
    store->close(store);
}

static void test_pg_connection_lost_inside_transaction(void **state)
{
    (void)state;
    char app[64], key[64], value[16];
    meta_key(key, sizeof key, "lost");
    struct mopay_store *store = open_named(app, sizeof app);
    check_ok(store, store->begin(store));
    check_ok(store, store->meta_put(store, key, "lost"));
    terminate_session(app);
    assert_int_equal(store->meta_put(store, key, "lost again"), MOPAY_ERR_store_unavailable);
    assert_int_equal(store->commit(store), MOPAY_ERR_store_unavailable);
    check_ok(store, store->rollback(store));
    assert_false(meta_found(store, key, value, sizeof value)); /* reconnected; nothing committed */
    store->close(store);
}

/* ---- Running ------------------------------------------------------------------------------- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Fills suite.url and friends from argv[1]. Returns false with a message when it cannot. */
static bool suite_init(const char *arg)
{
    uint8_t random[8];
    if (getrandom(random, sizeof random, 0) != (ssize_t)sizeof random) {
        fprintf(stderr, "getrandom: %s\n", strerror(errno));
        return false;
    }
    for (size_t i = 0; i < sizeof random; i++) {
        snprintf(suite.nonce + 2 * i, 3, "%02x", random[i]);
    }
    suite.latest_version = mopay_store_migration_at(mopay_store_migration_count() - 1)->version;
    if (arg[0] == '@') {
        FILE *file = fopen(arg + 1, "r");
        if (file == NULL || fgets(suite.url, sizeof suite.url, file) == NULL) {
            fprintf(stderr, "test_store: cannot read a store URL from %s: %s\n", arg + 1,
                    file == NULL ? strerror(errno) : "empty file");
            if (file != NULL) {
                fclose(file);
            }
            return false;
        }
        fclose(file);
        suite.url[strcspn(suite.url, "\r\n")] = '\0';
    } else if (strcmp(arg, "sqlite:") == 0) {
        const char *tmp = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
        snprintf(suite.temp_dir, sizeof suite.temp_dir, "%s/mopay-store-test.XXXXXX", tmp);
        if (mkdtemp(suite.temp_dir) == NULL) {
            fprintf(stderr, "mkdtemp %s: %s\n", suite.temp_dir, strerror(errno));
            return false;
        }
        int url_len = snprintf(suite.url, sizeof suite.url, "sqlite:%s/nested/folders/store.db", suite.temp_dir);
        int concurrent_len = snprintf(suite.concurrent_url, sizeof suite.concurrent_url,
                                      "sqlite:%s/concurrent/store.db", suite.temp_dir);
        if (url_len >= (int)sizeof suite.url || concurrent_len >= (int)sizeof suite.concurrent_url) {
            fprintf(stderr, "test_store: TMPDIR %s is too long\n", tmp);
            return false;
        }
    } else {
        snprintf(suite.url, sizeof suite.url, "%s", arg);
    }
    if (suite.concurrent_url[0] == '\0') {
        memcpy(suite.concurrent_url, suite.url, sizeof suite.url);
    }
    return true;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s STORE_URL | sqlite: | @URL_FILE\n", argv[0]);
        return 2;
    }
    if (!suite_init(argv[1])) {
        return 1;
    }
    fprintf(stderr, "store suite against %s (run %s)\n", suite.url, suite.nonce);

    const struct CMUnitTest common[] = {
        cmocka_unit_test(test_concurrent_open), /* first: on a fresh database it races the migration */
        cmocka_unit_test(test_migrations_embedded),
        cmocka_unit_test(test_open_creates_schema),
        cmocka_unit_test(test_reopen_is_idempotent),
        cmocka_unit_test(test_sqlite_memory),
        cmocka_unit_test(test_bad_url),
        cmocka_unit_test(test_unreachable_postgres),
        cmocka_unit_test_setup_teardown(test_meta, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_admin_keys_load_order, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_admin_key_revoke, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_admin_key_duplicates_refused, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_idem_roundtrip, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_idem_body_length_counts, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_text_refused, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_idem_purge, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_idem_rekey_legacy, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_ledger_log, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_records_put_load, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_record_put_replaces, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_record_delete, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_record_rollback_discards, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_record_bad_text_refused, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_entries_paging, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_entries_more_at_boundary, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_entry_duplicate_refused, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_entries_other_owner_unseen, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_large_json_roundtrip, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_rollback_discards, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_commit_persists_across_reopen, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_two_stores_share_committed_rows, store_setup, store_teardown),
    };
    const struct CMUnitTest postgres_only[] = {
        cmocka_unit_test(test_pg_reconnects_between_transactions),
        cmocka_unit_test(test_pg_connection_lost_inside_transaction),
    };
    bool postgres = strncmp(suite.url, "postgres", strlen("postgres")) == 0;
    int failed = cmocka_run_group_tests_name(postgres ? "store_postgres" : "store_sqlite", common, NULL, NULL);
    if (postgres) {
        failed += cmocka_run_group_tests_name("store_postgres_connection", postgres_only, NULL, NULL);
    }
    if (suite.temp_dir[0] != '\0') {
        nftw(suite.temp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    return failed == 0 ? 0 : 1;
}
