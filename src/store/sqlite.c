/* The SQLite backend: one connection in WAL mode with synchronous=FULL, so COMMIT returns only
 * once the transaction is in the WAL on disk. Every statement is prepared once at open and
 * reused, since the writer thread calls these on its hot path. */

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/limits.h"

/* How long a statement waits for another connection's lock before giving up with
 * store_unavailable. (A candidate for limits.h.) */
#define SQLITE_BUSY_TIMEOUT_MS 5000

enum sqlite_stmt {
    STMT_BEGIN,
    STMT_COMMIT,
    STMT_ROLLBACK,
    STMT_SCHEMA_VERSION,
    STMT_META_GET,
    STMT_META_PUT,
    STMT_ADMIN_KEY_INSERT,
    STMT_ADMIN_KEY_REVOKE,
    STMT_ADMIN_KEYS_LOAD,
    STMT_IDEM_GET,
    STMT_IDEM_PUT,
    STMT_IDEM_PURGE,
    STMT_IDEM_LEGACY,
    STMT_IDEM_COUNT,
    STMT_IDEM_REKEY,
    STMT_LEDGER_LOG_APPEND,
    STMT_LEDGER_LOG_LOAD,
    STMT_RECORD_PUT,
    STMT_RECORD_DELETE,
    STMT_RECORDS_CLEAR,
    STMT_RECORDS_LOAD,
    STMT_ENTRY_APPEND,
    STMT_ENTRIES_FIRST,
    STMT_ENTRIES_BEFORE,
    STMT_COUNT
};

static const char *const sqlite_sql[STMT_COUNT] = {
    [STMT_BEGIN] = "BEGIN IMMEDIATE",
    [STMT_COMMIT] = "COMMIT",
    [STMT_ROLLBACK] = "ROLLBACK",
    [STMT_SCHEMA_VERSION] = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
    [STMT_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [STMT_META_PUT] = "INSERT INTO meta (key, value) VALUES (?1, ?2) "
                      "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    [STMT_ADMIN_KEY_INSERT] = "INSERT INTO admin_keys (id, name, key_hash, created_at_ns, revoked_at_ns) "
                              "VALUES (?1, ?2, ?3, ?4, ?5)",
    [STMT_ADMIN_KEY_REVOKE] = "UPDATE admin_keys SET revoked_at_ns = ?2 WHERE id = ?1 AND revoked_at_ns = 0",
    [STMT_ADMIN_KEYS_LOAD] = "SELECT id, name, key_hash, created_at_ns, revoked_at_ns FROM admin_keys "
                             "ORDER BY created_at_ns, id",
    [STMT_IDEM_GET] = "SELECT request_hash, status, body, created_at_ns FROM idempotency "
                      "WHERE principal = ?1 AND key = ?2",
    [STMT_IDEM_PUT] = "INSERT INTO idempotency (principal, key, request_hash, status, body, created_at_ns) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [STMT_IDEM_PURGE] = "DELETE FROM idempotency WHERE created_at_ns < ?1",
    [STMT_IDEM_LEGACY] = "SELECT principal, key, request_hash FROM idempotency WHERE length(request_hash) = 64",
    [STMT_IDEM_COUNT] = "SELECT COUNT(*) FROM idempotency",
    [STMT_IDEM_REKEY] = "UPDATE idempotency SET request_hash = ?3 WHERE principal = ?1 AND key = ?2",
    [STMT_LEDGER_LOG_APPEND] = "INSERT INTO ledger_log (seq, data) VALUES (?1, ?2)",
    [STMT_LEDGER_LOG_LOAD] = "SELECT seq, data FROM ledger_log ORDER BY seq",
    [STMT_RECORD_PUT] = "INSERT INTO records (kind, id, data, updated_at_ns) VALUES (?1, ?2, ?3, ?4) "
                        "ON CONFLICT (kind, id) DO UPDATE SET data = excluded.data, "
                        "updated_at_ns = excluded.updated_at_ns",
    [STMT_RECORD_DELETE] = "DELETE FROM records WHERE kind = ?1 AND id = ?2",
    [STMT_RECORDS_CLEAR] = "DELETE FROM records WHERE kind = ?1",
    [STMT_RECORDS_LOAD] = "SELECT id, data FROM records WHERE kind = ?1 ORDER BY id",
    [STMT_ENTRY_APPEND] = "INSERT INTO entries (owner, at_ns, id, data) VALUES (?1, ?2, ?3, ?4)",
    /* Both fetch one row more than the page holds, to tell whether older entries remain. */
    [STMT_ENTRIES_FIRST] = "SELECT at_ns, id, data FROM entries WHERE owner = ?1 "
                           "ORDER BY at_ns DESC, id DESC LIMIT ?2",
    [STMT_ENTRIES_BEFORE] = "SELECT at_ns, id, data FROM entries WHERE owner = ?1 AND (at_ns, id) < (?2, ?3) "
                            "ORDER BY at_ns DESC, id DESC LIMIT ?4",
};

struct sqlite_store {
    struct mopay_store base; /* first: a struct mopay_store * is a struct sqlite_store * */
    sqlite3 *db;
    sqlite3_stmt *stmts[STMT_COUNT];
    int claim_fd; /* holds flock(LOCK_EX) on the database file once claimed, else -1 */
};

static struct sqlite_store *sqlite_of(struct mopay_store *store)
{
    MOPAY_ASSERT(store != NULL && store->backend != NULL && strcmp(store->backend, "sqlite") == 0);
    struct sqlite_store *s = (struct sqlite_store *)store;
    MOPAY_ASSERT(s->db != NULL);
    return s;
}

/* Busy (after busy_timeout), I/O, a full disk: conditions that may pass, so 503 and retry. */
static enum mopay_err sqlite_code(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
        return MOPAY_ERR_store_unavailable;
    default:
        return MOPAY_ERR_store_failed;
    }
}

static enum mopay_err sqlite_fail(struct sqlite_store *s, int rc, const char *what)
{
    return mopay_store_error(sqlite_code(rc), s->base.last_error, sizeof s->base.last_error,
                             "sqlite %s: %s (%s)", what, sqlite3_errmsg(s->db), sqlite3_errstr(rc));
}

/* Readies a statement for the next call whatever happened, releasing the read snapshot a
 * half-stepped SELECT would hold. */
static void stmt_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Steps a statement that returns no rows, then resets it. */
static enum mopay_err stmt_run(struct sqlite_store *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    enum mopay_err result = rc == SQLITE_DONE ? MOPAY_OK : sqlite_fail(s, rc, what);
    stmt_done(st);
    return result;
}

/* ---- Transactions ------------------------------------------------------------------------ */

static enum mopay_err sqlite_begin(struct mopay_store *store)
{
    struct sqlite_store *s = sqlite_of(store);
    MOPAY_ASSERT(sqlite3_get_autocommit(s->db)); /* no nested transactions */
    return stmt_run(s, s->stmts[STMT_BEGIN], "begin");
}

static enum mopay_err sqlite_commit(struct mopay_store *store)
{
    struct sqlite_store *s = sqlite_of(store);
    MOPAY_ASSERT(!sqlite3_get_autocommit(s->db));
    return stmt_run(s, s->stmts[STMT_COMMIT], "commit");
}

/* Succeeds when no transaction is open: SQLite rolls back by itself after some errors (a full
 * disk, an I/O error), and the caller's rollback must not fail on that. */
static enum mopay_err sqlite_rollback(struct mopay_store *store)
{
    struct sqlite_store *s = sqlite_of(store);
    if (sqlite3_get_autocommit(s->db)) {
        return MOPAY_OK;
    }
    return stmt_run(s, s->stmts[STMT_ROLLBACK], "rollback");
}

static enum mopay_err sqlite_schema_version(struct mopay_store *store, int *out_version)
{
    struct sqlite_store *s = sqlite_of(store);
    MOPAY_ASSERT(out_version != NULL);
    sqlite3_stmt *st = s->stmts[STMT_SCHEMA_VERSION];
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        enum mopay_err result = sqlite_fail(s, rc, "schema_version");
        stmt_done(st);
        return result;
    }
    int64_t version = sqlite3_column_int64(st, 0);
    stmt_done(st);
    MOPAY_ASSERT(version > 0 && version <= MOPAY_STORE_MIGRATIONS_MAX);
    *out_version = (int)version;
    return MOPAY_OK;
}

/* ---- Meta ---------------------------------------------------------------------------------- */

static enum mopay_err sqlite_meta_get(struct mopay_store *store, const char *key, char *value,
                                      size_t value_cap, bool *found)
{
    struct sqlite_store *s = sqlite_of(store);
    MOPAY_ASSERT(key != NULL && value != NULL && value_cap > 0 && found != NULL);
    sqlite3_stmt *st = s->stmts[STMT_META_GET];
    int rc = sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (rc != SQLITE_OK) {
        goto fail;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        *found = false;
    } else if (rc == SQLITE_ROW) {
        const unsigned char *text = sqlite3_column_text(st, 0);
        if (text == NULL) {
            rc = SQLITE_NOMEM;
            goto fail;
        }
        size_t len = (size_t)sqlite3_column_bytes(st, 0);
        len = len < value_cap - 1 ? len : value_cap - 1;
        memcpy(value, text, len);
        value[len] = '\0';
        *found = true;
    } else {
        goto fail;
    }
    stmt_done(st);
    return MOPAY_OK;

fail:;
    enum mopay_err result = sqlite_fail(s, rc, "meta_get");
    stmt_done(st);
    return result;
}

static enum mopay_err sqlite_meta_put(struct mopay_store *store, const char *key, const char *value)
{
    struct sqlite_store *s = sqlite_of(store);
    enum mopay_err result = mopay_store_check_meta(store, key, value);
    if (result != MOPAY_OK) {
        return result;
    }
    sqlite3_stmt *st = s->stmts[STMT_META_PUT];
    int rc = sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    }
    if (rc != SQLITE_OK) {
        result = sqlite_fail(s, rc, "meta_put");
        stmt_done(st);
        return result;
    }
    return stmt_run(s, st, "meta_put");
}

/* ---- Admin keys ------------------------------------------------------------------------------ */

static enum mopay_err sqlite_admin_key_insert(struct mopay_store *store, const struct mopay_admin_key *key)
{
    struct sqlite_store *s = sqlite_of(store);
    enum mopay_err result = mopay_store_check_admin_key(store, key);
    if (result != MOPAY_OK) {
        return result;
    }
    char hash_hex[2 * sizeof key->hash + 1];
    mopay_store_hex_encode(key->hash, sizeof key->hash, hash_hex);
    sqlite3_stmt *st = s->stmts[STMT_ADMIN_KEY_INSERT];
    int rc = sqlite3_bind_text(st, 1, key->id, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(st, 2, key->name, -1, SQLITE_STATIC);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(st, 3, hash_hex, -1, SQLITE_STATIC);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 4, key->created_at_ns);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 5, key->revoked_at_ns);
    }
    if (rc != SQLITE_OK) {
        result = sqlite_fail(s, rc, "admin_key_insert");
        stmt_done(st);
        return result;
    }
    /* A duplicate id or hash is a constraint violation: store_failed, as the contract says. */
    return stmt_run(s, st, "admin_key_insert");
}

static enum mopay_err sqlite_admin_key_revoke(struct mopay_store *store, const char *id, int64_t revoked_at_ns,
                                              bool *found)
{
    struct sqlite_store *s = sqlite_of(store);
    MOPAY_ASSERT(id != NULL && found != NULL);
    MOPAY_ASSERT(revoked_at_ns > 0);
    sqlite3_stmt *st = s->stmts[STMT_ADMIN_KEY_REVOKE];
    int rc = sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 2, revoked_at_ns);
    }
    if (rc != SQLITE_OK) {
        enum mopay_err result = sqlite_fail(s, rc, "admin_key_revoke");
        stmt_done(st);
        return result;
    }
    enum mopay_err result = stmt_run(s, st, "admin_key_revoke");
    if (result == MOPAY_OK) {
        int changes = sqlite3_changes(s->db);
        MOPAY_ASSERT(changes == 0 || changes == 1); /* id is the primary key */
        *found = changes == 1;
    }
    return result;
}

/* Reads the current row of STMT_ADMIN_KEYS_LOAD; every column was checked when written. */
static void admin_key_from_row(sqlite3_stmt *st, struct mopay_admin_key *key)
{
    const char *id = (const char *)sqlite3_column_text(st, 0);
    size_t id_len = (size_t)sqlite3_column_bytes(st, 0);
    const char *name = (const char *)sqlite3_column_text(st, 1);
    size_t name_len = (size_t)sqlite3_column_bytes(st, 1);
    const char *hash = (const char *)sqlite3_column_text(st, 2);
    size_t hash_len = (size_t)sqlite3_column_bytes(st, 2);
    MOPAY_ASSERT(id != NULL && name != NULL && hash != NULL);
    mopay_store_copy_text(key->id, sizeof key->id, id, id_len);
    mopay_store_copy_text(key->name, sizeof key->name, name, name_len);
    bool hash_ok = mopay_store_hex_decode(hash, hash_len, key->hash, sizeof key->hash);
    MOPAY_ASSERT(hash_ok);
    key->created_at_ns = sqlite3_column_int64(st, 3);
    key->revoked_at_ns = sqlite3_column_int64(st, 4);
    MOPAY_ASSERT(key->created_at_ns > 0 && key->revoked_at_ns >= 0);
}

static enum mopay_err sqlite_admin_keys_load(struct mopay_store *store,
                                             bool (*each)(void *ctx, const struct mopay_admin_key *key),
                                             void *ctx)
{
    struct sqlite_store *s = sqlite_of(store);
    MOPAY_ASSERT(each != NULL);
    sqlite3_stmt *st = s->stmts[STMT_ADMIN_KEYS_LOAD];
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct mopay_admin_key key;
        admin_key_from_row(st, &key);
        if (!each(ctx, &key)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    enum mopay_err result = rc == SQLITE_DONE ? MOPAY_OK : sqlite_fail(s, rc, "admin_keys_load");
    stmt_done(st);
    return result;
}

/* ---- Idempotency --------------------------------------------------------------------------- */

/* Fills out from the current row of STMT_IDEM_GET. Returns false only when malloc fails. */
static bool idem_from_row(sqlite3_stmt *st, const char *principal, const char *key, struct mopay_idem_record *out)
{
    const char *hash = (const char *)sqlite3_column_text(st, 0);
    size_t hash_len = (size_t)sqlite3_column_bytes(st, 0);
    int64_t status = sqlite3_column_int64(st, 1);
    const char *body = (const char *)sqlite3_column_text(st, 2);
    size_t body_len = (size_t)sqlite3_column_bytes(st, 2);
    MOPAY_ASSERT(hash != NULL && body != NULL);
    MOPAY_ASSERT(status >= 100 && status <= 599);
    char *copy = malloc(body_len + 1);
    if (copy == NULL) {
        return false;
    }
    memcpy(copy, body, body_len);
    copy[body_len] = '\0';
    mopay_store_copy_text(out->principal, sizeof out->principal, principal, strlen(principal));
    mopay_store_copy_text(out->key, sizeof out->key, key, strlen(key));
    bool hash_ok = mopay_store_idem_hash_decode(hash, hash_len, out->request_hash);
    MOPAY_ASSERT(hash_ok); /* idem_rekey converted every plain digest at start */
    out->status = (int)status;
    out->body = copy;
    out->body_len = body_len;
    out->created_at_ns = sqlite3_column_int64(st, 3);
    MOPAY_ASSERT(out->created_at_ns > 0);
    return true;
}

static enum mopay_err sqlite_idem_get(struct mopay_store *store, const char *principal, const char *key,
                                      struct mopay_idem_record *out, bool *found)
{
    struct sqlite_store *s = sqlite_of(store);
    MOPAY_ASSERT(principal != NULL && key != NULL && out != NULL && found != NULL);
    sqlite3_stmt *st = s->stmts[STMT_IDEM_GET];
    int rc = sqlite3_bind_text(st, 1, principal, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    }
    if (rc != SQLITE_OK) {
        goto fail;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        *found = false;
    } else if (rc == SQLITE_ROW) {
        if (!idem_from_row(st, principal, key, out)) {
            rc = SQLITE_NOMEM;
            goto fail;
        }
        *found = true;
    } else {
        goto fail;
    }
    stmt_done(st);
    return MOPAY_OK;

fail:;
    enum mopay_err result = sqlite_fail(s, rc, "idem_get");
    stmt_done(st);
    return result;
}

static enum mopay_err sqlite_idem_put(struct mopay_store *store, const struct mopay_idem_record *record)
{
    struct sqlite_store *s = sqlite_of(store);
    enum mopay_err result = mopay_store_check_idem(store, record);
    if (result != MOPAY_OK) {
        return result;
    }
    char hash_hex[MOPAY_STORE_IDEM_HASH_TEXT_BYTES + 1];
    mopay_store_idem_hash_encode(record->request_hash, hash_hex);
    MOPAY_ASSERT(record->body_len <= INT32_MAX);
    sqlite3_stmt *st = s->stmts[STMT_IDEM_PUT];
    int rc = sqlite3_bind_text(st, 1, record->principal, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(st, 2, record->key, -1, SQLITE_STATIC);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(st, 3, hash_hex, -1, SQLITE_STATIC);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int(st, 4, record->status);
    }
    if (rc == SQLITE_OK) {
        /* A zero-length body still needs a non-NULL pointer, or SQLite binds NULL. */
        rc = sqlite3_bind_text(st, 5, record->body_len > 0 ? record->body : "", (int)record->body_len,
                               SQLITE_STATIC);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 6, record->created_at_ns);
    }
    if (rc != SQLITE_OK) {
        result = sqlite_fail(s, rc, "idem_put");
        stmt_done(st);
        return result;
    }
    rc = sqlite3_step(st);
    /* The contract: callers idem_get first in the same transaction, so a duplicate is a bug. */
    MOPAY_ASSERT(rc != SQLITE_CONSTRAINT_PRIMARYKEY);
    result = rc == SQLITE_DONE ? MOPAY_OK : sqlite_fail(s, rc, "idem_put");
    stmt_done(st);
    return result;
}

static enum mopay_err sqlite_idem_purge(struct mopay_store *store, int64_t before_ns, int64_t *out_deleted)
{
    struct sqlite_store *s = sqlite_of(store);
    MOPAY_ASSERT(out_deleted != NULL);
    sqlite3_stmt *st = s->stmts[STMT_IDEM_PURGE];
    int rc = sqlite3_bind_int64(st, 1, before_ns);
    if (rc != SQLITE_OK) {
        enum mopay_err result = sqlite_fail(s, rc, "idem_purge");
        stmt_done(st);
        return result;
    }
    enum mopay_err result = stmt_run(s, st, "idem_purge");
    if (result == MOPAY_OK) {
        *out_deleted = sqlite3_changes64(s->db);
        MOPAY_ASSERT(*out_deleted >= 0);
    }
    return result;
}

static enum mopay_err sqlite_idem_count(struct mopay_store *store, int64_t *out_count)
{
    struct sqlite_store *s = sqlite_of(store);
    sqlite3_stmt *st = s->stmts[STMT_IDEM_COUNT];
    int rc = sqlite3_step(st);
    enum mopay_err result = rc == SQLITE_ROW ? MOPAY_OK : sqlite_fail(s, rc, "idem_count");
    if (result == MOPAY_OK)
        *out_count = sqlite3_column_int64(st, 0);
    stmt_done(st);
    MOPAY_ASSERT(result != MOPAY_OK || *out_count >= 0);
    return result;
}

static enum mopay_err sqlite_idem_rekey_read(struct sqlite_store *s, struct mopay_store_idem_rekeys *list,
                                             void (*rekey)(void *ctx, const uint8_t in[32], uint8_t out[32]),
                                             void *ctx)
{
    sqlite3_stmt *st = s->stmts[STMT_IDEM_LEGACY];
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!mopay_store_idem_rekeys_add(list, (const char *)sqlite3_column_text(st, 0),
                                         (const char *)sqlite3_column_text(st, 1),
                                         (const char *)sqlite3_column_text(st, 2), (size_t)sqlite3_column_bytes(st, 2),
                                         rekey, ctx)) {
            stmt_done(st);
            return mopay_store_error(MOPAY_ERR_store_failed, s->base.last_error, sizeof s->base.last_error,
                                     "sqlite idem_rekey: out of memory or a malformed record");
        }
    }
    enum mopay_err result = rc == SQLITE_DONE ? MOPAY_OK : sqlite_fail(s, rc, "idem_rekey");
    stmt_done(st);
    return result;
}

static enum mopay_err sqlite_idem_rekey(struct mopay_store *store,
                                        void (*rekey)(void *ctx, const uint8_t in[32], uint8_t out[32]), void *ctx,
                                        int64_t *out_rekeyed)
{
    struct sqlite_store *s = sqlite_of(store);
    struct mopay_store_idem_rekeys list = {0};
    enum mopay_err result = sqlite_idem_rekey_read(s, &list, rekey, ctx);
    sqlite3_stmt *st = s->stmts[STMT_IDEM_REKEY];
    for (size_t i = 0; result == MOPAY_OK && i < list.count; i++) {
        int rc = sqlite3_bind_text(st, 1, list.rows[i].principal, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_text(st, 2, list.rows[i].key, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_text(st, 3, list.rows[i].hash, -1, SQLITE_STATIC);
        if (rc != SQLITE_OK) {
            result = sqlite_fail(s, rc, "idem_rekey");
            stmt_done(st);
            break;
        }
        result = stmt_run(s, st, "idem_rekey");
    }
    *out_rekeyed = result == MOPAY_OK ? (int64_t)list.count : 0;
    free(list.rows);
    return result;
}

/* ---- Ledger log ---------------------------------------------------------------------------- */

static enum mopay_err sqlite_ledger_log_append(struct mopay_store *store, int64_t seq, const void *data, size_t len)
{
    struct sqlite_store *s = sqlite_of(store);
    MOPAY_ASSERT(seq > 0 && data != NULL && len > 0 && len <= INT32_MAX);
    sqlite3_stmt *st = s->stmts[STMT_LEDGER_LOG_APPEND];
    int rc = sqlite3_bind_int64(st, 1, seq);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_blob(st, 2, data, (int)len, SQLITE_STATIC);
    }
    if (rc != SQLITE_OK) {
        enum mopay_err result = sqlite_fail(s, rc, "ledger_log_append");
        stmt_done(st);
        return result;
    }
    return stmt_run(s, st, "ledger_log_append");
}

static enum mopay_err sqlite_ledger_log_load(struct mopay_store *store,
                                             bool (*each)(void *ctx, int64_t seq, const void *data, size_t len),
                                             void *ctx)
{
    struct sqlite_store *s = sqlite_of(store);
    MOPAY_ASSERT(each != NULL);
    sqlite3_stmt *st = s->stmts[STMT_LEDGER_LOG_LOAD];
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0);
        const void *data = sqlite3_column_blob(st, 1);
        int len = sqlite3_column_bytes(st, 1);
        MOPAY_ASSERT(seq > 0 && data != NULL && len > 0); /* check after reading */
        if (!each(ctx, seq, data, (size_t)len)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    enum mopay_err result = rc == SQLITE_DONE ? MOPAY_OK : sqlite_fail(s, rc, "ledger_log_load");
    stmt_done(st);
    return result;
}

/* ---- Domain records ------------------------------------------------------------------------ */

static enum mopay_err sqlite_record_put(struct mopay_store *store, const char *kind, const char *id,
                                        const char *json, size_t len, int64_t updated_at_ns)
{
    struct sqlite_store *s = sqlite_of(store);
    enum mopay_err result = mopay_store_check_record(store, kind, id, json, len, updated_at_ns);
    if (result != MOPAY_OK) {
        return result;
    }
    sqlite3_stmt *st = s->stmts[STMT_RECORD_PUT];
    int rc = sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(st, 3, json, (int)len, SQLITE_STATIC);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 4, updated_at_ns);
    }
    if (rc != SQLITE_OK) {
        result = sqlite_fail(s, rc, "record_put");
        stmt_done(st);
        return result;
    }
    return stmt_run(s, st, "record_put");
}

static enum mopay_err sqlite_record_delete(struct mopay_store *store, const char *kind, const char *id, bool *found)
{
    struct sqlite_store *s = sqlite_of(store);
    MOPAY_ASSERT(kind != NULL && id != NULL && found != NULL);
    sqlite3_stmt *st = s->stmts[STMT_RECORD_DELETE];
    int rc = sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    }
    if (rc != SQLITE_OK) {
        enum mopay_err result = sqlite_fail(s, rc, "record_delete");
        stmt_done(st);
        return result;
    }
    enum mopay_err result = stmt_run(s, st, "record_delete");
    if (result == MOPAY_OK) {
        int changes = sqlite3_changes(s->db);
        MOPAY_ASSERT(changes == 0 || changes == 1); /* (kind, id) is the primary key */
        *found = changes == 1;
    }
    return result;
}

static enum mopay_err sqlite_records_clear(struct mopay_store *store, const char *kind, int64_t *out_deleted)
{
    struct sqlite_store *s = sqlite_of(store);
    MOPAY_ASSERT(kind != NULL && out_deleted != NULL);
    sqlite3_stmt *st = s->stmts[STMT_RECORDS_CLEAR];
    int rc = sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    if (rc != SQLITE_OK) {
        enum mopay_err result = sqlite_fail(s, rc, "records_clear");
        stmt_done(st);
        return result;
    }
    enum mopay_err result = stmt_run(s, st, "records_clear");
    if (result == MOPAY_OK)
        *out_deleted = sqlite3_changes(s->db);
    return result;
}

static enum mopay_err sqlite_records_load(struct mopay_store *store, const char *kind,
                                          bool (*each)(void *ctx, const char *id, const char *json, size_t len),
                                          void *ctx)
{
    struct sqlite_store *s = sqlite_of(store);
    MOPAY_ASSERT(kind != NULL && each != NULL);
    sqlite3_stmt *st = s->stmts[STMT_RECORDS_LOAD];
    int rc = sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    if (rc != SQLITE_OK) {
        enum mopay_err result = sqlite_fail(s, rc, "records_load");
        stmt_done(st);
        return result;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        size_t id_len = (size_t)sqlite3_column_bytes(st, 0);
        const char *json = (const char *)sqlite3_column_text(st, 1);
        size_t len = (size_t)sqlite3_column_bytes(st, 1);
        /* check after reading: what record_put let through */
        MOPAY_ASSERT(id != NULL && id_len > 0 && id_len <= MOPAY_STORE_KEY_BYTES_MAX);
        MOPAY_ASSERT(json != NULL && len > 0);
        if (!each(ctx, id, json, len)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    enum mopay_err result = rc == SQLITE_DONE ? MOPAY_OK : sqlite_fail(s, rc, "records_load");
    stmt_done(st);
    return result;
}

/* ---- Entries ------------------------------------------------------------------------------- */

static enum mopay_err sqlite_entry_append(struct mopay_store *store, const char *owner, int64_t at_ns,
                                          const char *id, const char *json, size_t len)
{
    struct sqlite_store *s = sqlite_of(store);
    enum mopay_err result = mopay_store_check_entry(store, owner, at_ns, id, json, len);
    if (result != MOPAY_OK) {
        return result;
    }
    sqlite3_stmt *st = s->stmts[STMT_ENTRY_APPEND];
    int rc = sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 2, at_ns);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(st, 4, json, (int)len, SQLITE_STATIC);
    }
    if (rc != SQLITE_OK) {
        result = sqlite_fail(s, rc, "entry_append");
        stmt_done(st);
        return result;
    }
    /* An existing (owner, at_ns, id) is a constraint violation: store_failed, as the contract says. */
    return stmt_run(s, st, "entry_append");
}

/* Binds the page query: the cursor only when there is one, and one row past the page. */
static int entries_page_bind(sqlite3_stmt *st, const char *owner, int64_t before_at_ns, const char *before_id,
                             size_t limit)
{
    int rc = sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
    int next = 2;
    if (rc == SQLITE_OK && before_id != NULL) {
        rc = sqlite3_bind_int64(st, next++, before_at_ns);
        if (rc == SQLITE_OK) {
            rc = sqlite3_bind_text(st, next++, before_id, -1, SQLITE_STATIC);
        }
    }
    return rc == SQLITE_OK ? sqlite3_bind_int64(st, next, (int64_t)limit + 1) : rc;
}

static enum mopay_err sqlite_entries_page(struct mopay_store *store, const char *owner, int64_t before_at_ns,
                                          const char *before_id, size_t limit,
                                          bool (*each)(void *ctx, int64_t at_ns, const char *id, const char *json,
                                                       size_t len),
                                          void *ctx, bool *out_more)
{
    struct sqlite_store *s = sqlite_of(store);
    MOPAY_ASSERT(owner != NULL && each != NULL && out_more != NULL);
    MOPAY_ASSERT(limit >= 1 && limit <= MOPAY_STORE_ENTRIES_PAGE_MAX);
    sqlite3_stmt *st = s->stmts[before_id != NULL ? STMT_ENTRIES_BEFORE : STMT_ENTRIES_FIRST];
    int rc = entries_page_bind(st, owner, before_at_ns, before_id, limit);
    if (rc != SQLITE_OK) {
        enum mopay_err result = sqlite_fail(s, rc, "entries_page");
        stmt_done(st);
        return result;
    }
    size_t given = 0;
    bool stopped = false;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && given < limit && !stopped) {
        int64_t at_ns = sqlite3_column_int64(st, 0);
        const char *id = (const char *)sqlite3_column_text(st, 1);
        size_t id_len = (size_t)sqlite3_column_bytes(st, 1);
        const char *json = (const char *)sqlite3_column_text(st, 2);
        size_t len = (size_t)sqlite3_column_bytes(st, 2);
        /* check after reading: what entry_append let through */
        MOPAY_ASSERT(at_ns > 0 && id != NULL && id_len > 0 && id_len <= MOPAY_STORE_KEY_BYTES_MAX);
        MOPAY_ASSERT(json != NULL && len > 0);
        given++;
        stopped = !each(ctx, at_ns, id, json, len);
    }
    /* A row left over is an older entry past the last one given. */
    bool more = rc == SQLITE_ROW;
    enum mopay_err result = rc == SQLITE_DONE || more ? MOPAY_OK : sqlite_fail(s, rc, "entries_page");
    stmt_done(st);
    if (result == MOPAY_OK) {
        *out_more = more;
    }
    return result;
}

/* ---- Open and close ------------------------------------------------------------------------ */

/* flock on a descriptor of our own: independent of the POSIX locks SQLite takes on its own
 * descriptors, so neither can release the other's, and the kernel drops it if we die. */
static enum mopay_err sqlite_claim(struct mopay_store *store)
{
    struct sqlite_store *s = sqlite_of(store);
    const char *path = sqlite3_db_filename(s->db, "main");
    if (s->claim_fd >= 0 || path == NULL || path[0] == '\0') /* claimed already, or in memory */
        return MOPAY_OK;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return mopay_store_error(MOPAY_ERR_store_unavailable, store->last_error, sizeof store->last_error,
                                 "sqlite: cannot open %s to claim it: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        return mopay_store_error(MOPAY_ERR_store_unavailable, store->last_error, sizeof store->last_error,
                                 e == EWOULDBLOCK ? "another mopay is serving %s: stop it first, or give this one "
                                                    "another --db"
                                                  : "sqlite: cannot lock %s: %s",
                                 path, strerror(e));
    }
    s->claim_fd = fd;
    return MOPAY_OK;
}

static void sqlite_close(struct mopay_store *store)
{
    if (store == NULL) {
        return;
    }
    struct sqlite_store *s = (struct sqlite_store *)store;
    if (s->claim_fd >= 0)
        close(s->claim_fd);
    for (size_t i = 0; i < STMT_COUNT; i++) {
        sqlite3_finalize(s->stmts[i]);
    }
    /* With every statement finalized, close cannot be busy; an open transaction rolls back. */
    int rc = sqlite3_close(s->db);
    MOPAY_ASSERT(rc == SQLITE_OK);
    free(s);
}

/* The migration runner's view of a raw connection (see internal.h). */
static enum mopay_err migrator_exec(void *conn, const char *sql, char *err, size_t err_cap)
{
    char *message = NULL;
    int rc = sqlite3_exec(conn, sql, NULL, NULL, &message);
    if (rc == SQLITE_OK) {
        return MOPAY_OK;
    }
    mopay_store_error(sqlite_code(rc), err, err_cap, "%s", message != NULL ? message : sqlite3_errstr(rc));
    sqlite3_free(message);
    return sqlite_code(rc);
}

static enum mopay_err migrator_query_int(void *conn, const char *sql, int64_t *out, char *err, size_t err_cap)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(conn, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_ROW) {
        mopay_store_error(sqlite_code(rc), err, err_cap, "%s", sqlite3_errmsg(conn));
        sqlite3_finalize(st);
        return sqlite_code(rc);
    }
    *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return MOPAY_OK;
}

/* Creates the folders above the database file, so `sqlite:var/mopay.db` works in a fresh
 * checkout. Fails with a reason when a folder cannot be made. */
static bool make_parent_dirs(const char *path, char *err, size_t err_cap)
{
    char dir[MOPAY_STORE_URL_BYTES_MAX + 1];
    size_t len = strlen(path);
    MOPAY_ASSERT(len < sizeof dir);
    memcpy(dir, path, len + 1);
    for (size_t i = 1; i < len; i++) {
        if (dir[i] != '/' || dir[i - 1] == '/') {
            continue;
        }
        dir[i] = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            mopay_store_error(MOPAY_ERR_store_unavailable, err, err_cap, "sqlite: cannot create folder %s: %s",
                              dir, strerror(errno));
            return false;
        }
        dir[i] = '/';
    }
    return true;
}

/* Switches to WAL. SQLite does not call the busy handler when two connections switch a new file
 * at the same moment, so retry a busy answer for up to the busy timeout. Reads the mode back,
 * since SQLite keeps another journal mode silently when it cannot switch. */
static bool sqlite_enable_wal(struct sqlite_store *s, bool memory, char *err, size_t err_cap)
{
    const char *want = memory ? "memory" : "wal";
    char mode[16] = "";
    int rc = SQLITE_BUSY;
    for (int waited_ms = 0; (rc & 0xff) == SQLITE_BUSY && waited_ms <= SQLITE_BUSY_TIMEOUT_MS; waited_ms += 10) {
        if (waited_ms > 0) {
            sqlite3_sleep(10);
        }
        sqlite3_stmt *st = NULL;
        rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
        if (rc == SQLITE_OK) {
            rc = sqlite3_step(st);
        }
        if (rc == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL) {
            snprintf(mode, sizeof mode, "%s", (const char *)sqlite3_column_text(st, 0));
        }
        sqlite3_finalize(st);
    }
    if (rc != SQLITE_ROW || strcmp(mode, want) != 0) {
        mopay_store_error(MOPAY_ERR_store_unavailable, err, err_cap, "sqlite: cannot enable WAL: %s",
                          rc == SQLITE_ROW ? mode : sqlite3_errmsg(s->db));
        return false;
    }
    return true;
}

/* WAL with synchronous=FULL makes COMMIT durable; the settings are read back to be sure. */
static bool sqlite_configure(struct sqlite_store *s, bool memory, char *err, size_t err_cap)
{
    sqlite3_busy_timeout(s->db, SQLITE_BUSY_TIMEOUT_MS);
    if (!sqlite_enable_wal(s, memory, err, err_cap)) {
        return false;
    }
    int64_t synchronous = 0, foreign_keys = 0;
    if (migrator_exec(s->db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", err, err_cap) != MOPAY_OK ||
        migrator_query_int(s->db, "PRAGMA synchronous", &synchronous, err, err_cap) != MOPAY_OK ||
        migrator_query_int(s->db, "PRAGMA foreign_keys", &foreign_keys, err, err_cap) != MOPAY_OK) {
        return false;
    }
    if (synchronous != 2 || foreign_keys != 1) {
        mopay_store_error(MOPAY_ERR_store_failed, err, err_cap, "sqlite: synchronous=FULL or foreign_keys=ON did not stick");
        return false;
    }
    return true;
}

static bool sqlite_prepare_all(struct sqlite_store *s, char *err, size_t err_cap)
{
    for (size_t i = 0; i < STMT_COUNT; i++) {
        int rc = sqlite3_prepare_v3(s->db, sqlite_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->stmts[i], NULL);
        if (rc != SQLITE_OK) {
            mopay_store_error(MOPAY_ERR_store_failed, err, err_cap, "sqlite: preparing \"%s\": %s", sqlite_sql[i],
                              sqlite3_errmsg(s->db));
            return false;
        }
    }
    return true;
}

static void sqlite_set_ops(struct sqlite_store *s)
{
    s->base.backend = "sqlite";
    s->base.begin = sqlite_begin;
    s->base.commit = sqlite_commit;
    s->base.rollback = sqlite_rollback;
    s->base.schema_version = sqlite_schema_version;
    s->base.meta_get = sqlite_meta_get;
    s->base.meta_put = sqlite_meta_put;
    s->base.admin_key_insert = sqlite_admin_key_insert;
    s->base.admin_key_revoke = sqlite_admin_key_revoke;
    s->base.admin_keys_load = sqlite_admin_keys_load;
    s->base.idem_get = sqlite_idem_get;
    s->base.idem_put = sqlite_idem_put;
    s->base.idem_purge = sqlite_idem_purge;
    s->base.idem_rekey = sqlite_idem_rekey;
    s->base.idem_count = sqlite_idem_count;
    s->base.claim = sqlite_claim;
    s->base.ledger_log_append = sqlite_ledger_log_append;
    s->base.ledger_log_load = sqlite_ledger_log_load;
    s->base.record_put = sqlite_record_put;
    s->base.record_delete = sqlite_record_delete;
    s->base.records_clear = sqlite_records_clear;
    s->base.records_load = sqlite_records_load;
    s->base.entry_append = sqlite_entry_append;
    s->base.entries_page = sqlite_entries_page;
    s->base.close = sqlite_close;
}

struct mopay_store *mopay_store_sqlite_open(const char *path, char *err, size_t err_cap)
{
    MOPAY_ASSERT(path != NULL);
    if (path[0] == '\0') {
        mopay_store_error(MOPAY_ERR_config_invalid, err, err_cap, "sqlite: URL needs a path (sqlite:PATH or sqlite::memory:)");
        return NULL;
    }
    bool memory = strcmp(path, ":memory:") == 0;
    if (!memory && !make_parent_dirs(path, err, err_cap)) {
        return NULL;
    }
    struct sqlite_store *s = calloc(1, sizeof *s);
    if (s == NULL) {
        mopay_store_error(MOPAY_ERR_store_unavailable, err, err_cap, "sqlite: out of memory");
        return NULL;
    }
    s->claim_fd = -1;
    /* A new database file is the owner's alone, like the master key beside it: it holds PIN
     * hashes, sealed values and every record. SQLite would make it (and its -wal and -shm files,
     * which take the database file's mode) 0644 under the usual umask. An empty file is an empty
     * database. */
    if (!memory) {
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0)
            close(fd);
    }
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    int rc = sqlite3_open_v2(path, &s->db, flags, NULL);
    if (rc != SQLITE_OK) {
        mopay_store_error(sqlite_code(rc), err, err_cap, "sqlite: cannot open %s: %s", path,
                          s->db != NULL ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto fail;
    }
    if (!sqlite_configure(s, memory, err, err_cap)) {
        goto fail;
    }
    const struct mopay_store_migrator migrator = {
        .conn = s->db,
        .begin_sql = "BEGIN IMMEDIATE",
        .table_exists_sql = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
        .exec = migrator_exec,
        .query_int = migrator_query_int,
    };
    if (mopay_store_migrate(&migrator, err, err_cap) != MOPAY_OK || !sqlite_prepare_all(s, err, err_cap)) {
        goto fail;
    }
    sqlite_set_ops(s);
    return &s->base;

fail:
    sqlite_close(&s->base);
    return NULL;
}
