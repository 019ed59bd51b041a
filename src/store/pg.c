/* The PostgreSQL backend through libpq. Statements are prepared once per session and run with
 * PQexecPrepared; hashes travel as lowercase hex TEXT and int64 values as BIGINT. The session
 * pins synchronous_commit=on and client_encoding=UTF8, so COMMIT returns only once the
 * transaction is durable and text means what store.c's checks assume. A connection lost between
 * transactions is re-established by the next call; one lost inside a transaction fails that
 * transaction with store_unavailable. */

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/limits.h"

/* Serialises migrations across processes: pg_advisory_lock takes a bigint; this one is "mopay_mi". */
#define PG_MIGRATION_LOCK "7885351539340257641"
#define PG_CONNECT_TIMEOUT_S "10"

enum pg_stmt {
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

struct pg_statement {
    const char *name;
    const char *sql;
    int params;
};

static const struct pg_statement pg_statements[STMT_COUNT] = {
    [STMT_SCHEMA_VERSION] = {"mopay_schema_version", "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", 0},
    [STMT_META_GET] = {"mopay_meta_get", "SELECT value FROM meta WHERE key = $1", 1},
    [STMT_META_PUT] = {"mopay_meta_put",
                       "INSERT INTO meta (key, value) VALUES ($1, $2) "
                       "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                       2},
    [STMT_ADMIN_KEY_INSERT] = {"mopay_admin_key_insert",
                               "INSERT INTO admin_keys (id, name, key_hash, created_at_ns, revoked_at_ns) "
                               "VALUES ($1, $2, $3, $4, $5)",
                               5},
    [STMT_ADMIN_KEY_REVOKE] = {"mopay_admin_key_revoke",
                               "UPDATE admin_keys SET revoked_at_ns = $2 WHERE id = $1 AND revoked_at_ns = 0", 2},
    [STMT_ADMIN_KEYS_LOAD] = {"mopay_admin_keys_load",
                              "SELECT id, name, key_hash, created_at_ns, revoked_at_ns FROM admin_keys "
                              "ORDER BY created_at_ns, id",
                              0},
    [STMT_IDEM_GET] = {"mopay_idem_get",
                       "SELECT request_hash, status, body, created_at_ns FROM idempotency "
                       "WHERE principal = $1 AND key = $2",
                       2},
    [STMT_IDEM_PUT] = {"mopay_idem_put",
                       "INSERT INTO idempotency (principal, key, request_hash, status, body, created_at_ns) "
                       "VALUES ($1, $2, $3, $4, $5, $6)",
                       6},
    [STMT_IDEM_PURGE] = {"mopay_idem_purge", "DELETE FROM idempotency WHERE created_at_ns < $1", 1},
    [STMT_IDEM_LEGACY] = {"mopay_idem_legacy",
                          "SELECT principal, key, request_hash FROM idempotency WHERE length(request_hash) = 64", 0},
    [STMT_IDEM_COUNT] = {"mopay_idem_count", "SELECT COUNT(*) FROM idempotency", 0},
    [STMT_IDEM_REKEY] = {"mopay_idem_rekey",
                         "UPDATE idempotency SET request_hash = $3 WHERE principal = $1 AND key = $2", 3},
    [STMT_LEDGER_LOG_APPEND] = {"mopay_ledger_log_append", "INSERT INTO ledger_log (seq, data) VALUES ($1, $2)", 2},
    [STMT_LEDGER_LOG_LOAD] = {"mopay_ledger_log_load", "SELECT seq, data FROM ledger_log ORDER BY seq", 0},
    [STMT_RECORD_PUT] = {"mopay_record_put",
                         "INSERT INTO records (kind, id, data, updated_at_ns) VALUES ($1, $2, $3, $4) "
                         "ON CONFLICT (kind, id) DO UPDATE SET data = excluded.data, "
                         "updated_at_ns = excluded.updated_at_ns",
                         4},
    [STMT_RECORD_DELETE] = {"mopay_record_delete", "DELETE FROM records WHERE kind = $1 AND id = $2", 2},
    [STMT_RECORDS_CLEAR] = {"mopay_records_clear", "DELETE FROM records WHERE kind = $1", 1},
    /* Ids compare as bytes (COLLATE "C"), as SQLite's do, whatever the database's default
     * collation: both backends then load records and page entries in the same order. */
    [STMT_RECORDS_LOAD] = {"mopay_records_load",
                           "SELECT id, data FROM records WHERE kind = $1 ORDER BY id COLLATE \"C\"", 1},
    [STMT_ENTRY_APPEND] = {"mopay_entry_append",
                           "INSERT INTO entries (owner, at_ns, id, data) VALUES ($1, $2, $3, $4)", 4},
    /* Both fetch one row more than the page holds, to tell whether older entries remain. */
    [STMT_ENTRIES_FIRST] = {"mopay_entries_first",
                            "SELECT at_ns, id, data FROM entries WHERE owner = $1 "
                            "ORDER BY at_ns DESC, id COLLATE \"C\" DESC LIMIT $2",
                            2},
    [STMT_ENTRIES_BEFORE] = {"mopay_entries_before",
                             "SELECT at_ns, id, data FROM entries "
                             "WHERE owner = $1 AND (at_ns, id COLLATE \"C\") < ($2, $3) "
                             "ORDER BY at_ns DESC, id COLLATE \"C\" DESC LIMIT $4",
                             4},
};

struct pg_store {
    struct mopay_store base; /* first: a struct mopay_store * is a struct pg_store * */
    PGconn *conn;
    bool session_ready;      /* settings pinned and statements prepared on this session */
    bool in_transaction;     /* between a successful begin and commit or rollback */
    char sqlstate[6];        /* of the last failed statement, "" when none was given */
};

static struct pg_store *pg_of(struct mopay_store *store)
{
    MOPAY_ASSERT(store != NULL && store->backend != NULL && strcmp(store->backend, "postgres") == 0);
    struct pg_store *s = (struct pg_store *)store;
    MOPAY_ASSERT(s->conn != NULL);
    return s;
}

/* A lost connection, a server shutting down or out of resources, a serialization failure or a
 * deadlock may pass: 503 and retry. Everything else is a refusal. */
static enum mopay_err pg_code(PGconn *conn, const PGresult *res)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (PQstatus(conn) == CONNECTION_BAD || state == NULL) {
        return MOPAY_ERR_store_unavailable;
    }
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0 || strncmp(state, "57", 2) == 0 ||
        strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0) {
        return MOPAY_ERR_store_unavailable;
    }
    return MOPAY_ERR_store_failed;
}

static const char *pg_message(PGconn *conn, const PGresult *res)
{
    const char *message = res != NULL ? PQresultErrorMessage(res) : "";
    return message[0] != '\0' ? message : PQerrorMessage(conn);
}

static enum mopay_err pg_fail(struct pg_store *s, const PGresult *res, const char *what)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    snprintf(s->sqlstate, sizeof s->sqlstate, "%s", state != NULL ? state : "");
    return mopay_store_error(pg_code(s->conn, res), s->base.last_error, sizeof s->base.last_error,
                             "postgres %s: %s", what, pg_message(s->conn, res));
}

static bool result_ok(const PGresult *res)
{
    ExecStatusType status = PQresultStatus(res);
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

/* ---- Session set-up, shared by open and reconnect -------------------------------------------- */

static void pg_notice_ignore(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static bool pg_exec_ok(PGconn *conn, const char *sql, char *err, size_t err_cap)
{
    PGresult *res = PQexec(conn, sql);
    bool ok = result_ok(res);
    if (!ok) {
        mopay_store_error(pg_code(conn, res), err, err_cap, "postgres: %s: %s", sql, pg_message(conn, res));
    }
    PQclear(res);
    return ok;
}

/* Pins the settings durability depends on and checks they hold: a role or database default of
 * synchronous_commit=off would otherwise make COMMIT return before the WAL is flushed. */
static bool pg_session_setup(PGconn *conn, char *err, size_t err_cap)
{
    PQsetNoticeProcessor(conn, pg_notice_ignore, NULL);
    if (!pg_exec_ok(conn, "SET synchronous_commit TO on", err, err_cap)) {
        return false;
    }
    PGresult *res = PQexec(conn, "SHOW synchronous_commit");
    bool on = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "on") == 0;
    PQclear(res);
    if (!on) {
        mopay_store_error(MOPAY_ERR_store_failed, err, err_cap, "postgres: synchronous_commit did not stay on");
        return false;
    }
    const char *encoding = pg_encoding_to_char(PQclientEncoding(conn));
    if (strcmp(encoding, "UTF8") != 0) {
        mopay_store_error(MOPAY_ERR_store_failed, err, err_cap, "postgres: client_encoding is %s, not UTF8", encoding);
        return false;
    }
    return true;
}

static bool pg_prepare_all(PGconn *conn, char *err, size_t err_cap)
{
    for (size_t i = 0; i < STMT_COUNT; i++) {
        const struct pg_statement *stmt = &pg_statements[i];
        PGresult *res = PQprepare(conn, stmt->name, stmt->sql, stmt->params, NULL);
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (!ok) {
            mopay_store_error(pg_code(conn, res), err, err_cap, "postgres: preparing %s: %s", stmt->name,
                              pg_message(conn, res));
        }
        PQclear(res);
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* Called before every operation: outside a transaction a lost connection is re-established in a
 * fresh session with its settings and prepared statements; inside one it fails the call, and
 * the next call after the caller's rollback retries. */
static enum mopay_err pg_ready(struct pg_store *s)
{
    if (s->session_ready && PQstatus(s->conn) == CONNECTION_OK) {
        return MOPAY_OK;
    }
    s->session_ready = false;
    if (s->in_transaction) {
        return mopay_store_error(MOPAY_ERR_store_unavailable, s->base.last_error, sizeof s->base.last_error,
                                 "postgres: the connection was lost inside a transaction: %s",
                                 PQerrorMessage(s->conn));
    }
    PQreset(s->conn);
    if (PQstatus(s->conn) != CONNECTION_OK) {
        return mopay_store_error(MOPAY_ERR_store_unavailable, s->base.last_error, sizeof s->base.last_error,
                                 "postgres: reconnecting failed: %s", PQerrorMessage(s->conn));
    }
    if (!pg_session_setup(s->conn, s->base.last_error, sizeof s->base.last_error) ||
        !pg_prepare_all(s->conn, s->base.last_error, sizeof s->base.last_error)) {
        return MOPAY_ERR_store_unavailable;
    }
    s->session_ready = true;
    return MOPAY_OK;
}

/* Runs a prepared statement. Returns its result for the caller to PQclear, or NULL with the
 * reason in last_error and *out_err set. `formats` may be NULL (all text). */
static PGresult *pg_run(struct pg_store *s, enum pg_stmt which, const char *const *values, const int *lengths,
                        const int *formats, enum mopay_err *out_err)
{
    const struct pg_statement *stmt = &pg_statements[which];
    s->sqlstate[0] = '\0';
    *out_err = pg_ready(s);
    if (*out_err != MOPAY_OK) {
        return NULL;
    }
    PGresult *res = PQexecPrepared(s->conn, stmt->name, stmt->params, values, lengths, formats, 0);
    if (result_ok(res)) {
        return res;
    }
    *out_err = pg_fail(s, res, stmt->name + strlen("mopay_"));
    PQclear(res);
    return NULL;
}

/* Integers read back were written as BIGINT or INTEGER by us: anything unparsable is corruption. */
static int64_t pg_parse_int64(const char *text)
{
    char *end = NULL;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    MOPAY_ASSERT(errno == 0 && end != text && *end == '\0');
    return (int64_t)value;
}

/* Runs a prepared statement in single-row mode, handing each row to `row` until it returns false,
 * so a long result never sits in memory as one. Drains every result, even after stopping, to
 * leave the connection usable. `values` as for pg_run, all text; results in `result_format`. */
static enum mopay_err pg_stream(struct pg_store *s, enum pg_stmt which, const char *const *values, int result_format,
                                bool (*row)(void *ctx, const PGresult *res), void *ctx)
{
    const struct pg_statement *stmt = &pg_statements[which];
    const char *what = stmt->name + strlen("mopay_");
    s->sqlstate[0] = '\0';
    enum mopay_err result = pg_ready(s);
    if (result != MOPAY_OK) {
        return result;
    }
    if (!PQsendQueryPrepared(s->conn, stmt->name, stmt->params, values, NULL, NULL, result_format) ||
        !PQsetSingleRowMode(s->conn)) {
        return pg_fail(s, NULL, what);
    }
    bool stopped = false;
    PGresult *res;
    while ((res = PQgetResult(s->conn)) != NULL) {
        ExecStatusType status = PQresultStatus(res);
        if (status == PGRES_SINGLE_TUPLE && !stopped) {
            stopped = !row(ctx, res);
        } else if (status != PGRES_SINGLE_TUPLE && status != PGRES_TUPLES_OK && result == MOPAY_OK) {
            result = pg_fail(s, res, what);
        }
        PQclear(res);
    }
    return result;
}

/* ---- Transactions ------------------------------------------------------------------------ */

static enum mopay_err pg_tx_exec(struct pg_store *s, const char *sql, const char *expect_tag)
{
    PGresult *res = PQexec(s->conn, sql);
    enum mopay_err result = MOPAY_OK;
    if (!result_ok(res)) {
        result = pg_fail(s, res, sql);
    } else if (strcmp(PQcmdStatus(res), expect_tag) != 0) {
        /* COMMIT of a failed transaction "succeeds" with the tag ROLLBACK. */
        result = mopay_store_error(MOPAY_ERR_store_failed, s->base.last_error, sizeof s->base.last_error,
                                   "postgres %s: the server answered %s", sql, PQcmdStatus(res));
    }
    PQclear(res);
    return result;
}

/* A connection the server dropped while idle is only noticed when BEGIN fails on it; since
 * nothing was done yet, reconnect and try once more. */
static enum mopay_err pg_begin(struct mopay_store *store)
{
    struct pg_store *s = pg_of(store);
    MOPAY_ASSERT(!s->in_transaction); /* no nested transactions */
    enum mopay_err result = MOPAY_ERR_store_unavailable;
    for (int attempt = 0; attempt < 2 && result == MOPAY_ERR_store_unavailable; attempt++) {
        if (attempt > 0 && PQstatus(s->conn) == CONNECTION_OK) {
            break; /* the server answered: not a dropped connection */
        }
        result = pg_ready(s);
        if (result == MOPAY_OK) {
            result = pg_tx_exec(s, "BEGIN", "BEGIN");
        }
    }
    s->in_transaction = result == MOPAY_OK;
    return result;
}

/* On failure the transaction stays open for the caller's rollback. */
static enum mopay_err pg_commit(struct mopay_store *store)
{
    struct pg_store *s = pg_of(store);
    MOPAY_ASSERT(s->in_transaction);
    enum mopay_err result = pg_ready(s);
    if (result != MOPAY_OK) {
        return result;
    }
    if (PQtransactionStatus(s->conn) == PQTRANS_INERROR) {
        return mopay_store_error(MOPAY_ERR_store_failed, s->base.last_error, sizeof s->base.last_error,
                                 "postgres commit: a statement in this transaction failed; roll back");
    }
    result = pg_tx_exec(s, "COMMIT", "COMMIT");
    if (result == MOPAY_OK) {
        s->in_transaction = false;
    }
    return result;
}

/* Succeeds when the connection is gone: the server discarded the transaction with it. */
static enum mopay_err pg_rollback(struct mopay_store *store)
{
    struct pg_store *s = pg_of(store);
    if (!s->in_transaction) {
        return MOPAY_OK;
    }
    s->in_transaction = false;
    if (PQstatus(s->conn) != CONNECTION_OK) {
        return MOPAY_OK;
    }
    return pg_tx_exec(s, "ROLLBACK", "ROLLBACK");
}

static enum mopay_err pg_schema_version(struct mopay_store *store, int *out_version)
{
    struct pg_store *s = pg_of(store);
    MOPAY_ASSERT(out_version != NULL);
    enum mopay_err result;
    PGresult *res = pg_run(s, STMT_SCHEMA_VERSION, NULL, NULL, NULL, &result);
    if (res == NULL) {
        return result;
    }
    MOPAY_ASSERT(PQntuples(res) == 1);
    int64_t version = pg_parse_int64(PQgetvalue(res, 0, 0));
    PQclear(res);
    MOPAY_ASSERT(version > 0 && version <= MOPAY_STORE_MIGRATIONS_MAX);
    *out_version = (int)version;
    return MOPAY_OK;
}

/* ---- Meta ---------------------------------------------------------------------------------- */

static enum mopay_err pg_meta_get(struct mopay_store *store, const char *key, char *value, size_t value_cap,
                                  bool *found)
{
    struct pg_store *s = pg_of(store);
    MOPAY_ASSERT(key != NULL && value != NULL && value_cap > 0 && found != NULL);
    const char *values[1] = {key};
    enum mopay_err result;
    PGresult *res = pg_run(s, STMT_META_GET, values, NULL, NULL, &result);
    if (res == NULL) {
        return result;
    }
    MOPAY_ASSERT(PQntuples(res) <= 1); /* key is the primary key */
    *found = PQntuples(res) == 1;
    if (*found) {
        size_t len = (size_t)PQgetlength(res, 0, 0);
        len = len < value_cap - 1 ? len : value_cap - 1;
        memcpy(value, PQgetvalue(res, 0, 0), len);
        value[len] = '\0';
    }
    PQclear(res);
    return MOPAY_OK;
}

static enum mopay_err pg_meta_put(struct mopay_store *store, const char *key, const char *value)
{
    struct pg_store *s = pg_of(store);
    enum mopay_err result = mopay_store_check_meta(store, key, value);
    if (result != MOPAY_OK) {
        return result;
    }
    const char *values[2] = {key, value};
    PGresult *res = pg_run(s, STMT_META_PUT, values, NULL, NULL, &result);
    PQclear(res);
    return result;
}

/* ---- Admin keys ------------------------------------------------------------------------------ */

static enum mopay_err pg_admin_key_insert(struct mopay_store *store, const struct mopay_admin_key *key)
{
    struct pg_store *s = pg_of(store);
    enum mopay_err result = mopay_store_check_admin_key(store, key);
    if (result != MOPAY_OK) {
        return result;
    }
    char hash_hex[2 * sizeof key->hash + 1];
    char created[24], revoked[24];
    mopay_store_hex_encode(key->hash, sizeof key->hash, hash_hex);
    snprintf(created, sizeof created, "%" PRId64, key->created_at_ns);
    snprintf(revoked, sizeof revoked, "%" PRId64, key->revoked_at_ns);
    const char *values[5] = {key->id, key->name, hash_hex, created, revoked};
    /* A duplicate id or hash is a unique violation: store_failed, as the contract says. */
    PGresult *res = pg_run(s, STMT_ADMIN_KEY_INSERT, values, NULL, NULL, &result);
    PQclear(res);
    return result;
}

static enum mopay_err pg_admin_key_revoke(struct mopay_store *store, const char *id, int64_t revoked_at_ns,
                                          bool *found)
{
    struct pg_store *s = pg_of(store);
    MOPAY_ASSERT(id != NULL && found != NULL);
    MOPAY_ASSERT(revoked_at_ns > 0);
    char revoked[24];
    snprintf(revoked, sizeof revoked, "%" PRId64, revoked_at_ns);
    const char *values[2] = {id, revoked};
    enum mopay_err result;
    PGresult *res = pg_run(s, STMT_ADMIN_KEY_REVOKE, values, NULL, NULL, &result);
    if (res == NULL) {
        return result;
    }
    int64_t changes = pg_parse_int64(PQcmdTuples(res));
    PQclear(res);
    MOPAY_ASSERT(changes == 0 || changes == 1); /* id is the primary key */
    *found = changes == 1;
    return MOPAY_OK;
}

/* Reads one row of STMT_ADMIN_KEYS_LOAD; every column was checked when written. */
static void admin_key_from_row(const PGresult *res, int row, struct mopay_admin_key *key)
{
    mopay_store_copy_text(key->id, sizeof key->id, PQgetvalue(res, row, 0), (size_t)PQgetlength(res, row, 0));
    mopay_store_copy_text(key->name, sizeof key->name, PQgetvalue(res, row, 1), (size_t)PQgetlength(res, row, 1));
    bool hash_ok = mopay_store_hex_decode(PQgetvalue(res, row, 2), (size_t)PQgetlength(res, row, 2), key->hash,
                                          sizeof key->hash);
    MOPAY_ASSERT(hash_ok);
    key->created_at_ns = pg_parse_int64(PQgetvalue(res, row, 3));
    key->revoked_at_ns = pg_parse_int64(PQgetvalue(res, row, 4));
    MOPAY_ASSERT(key->created_at_ns > 0 && key->revoked_at_ns >= 0);
}

static enum mopay_err pg_admin_keys_load(struct mopay_store *store,
                                         bool (*each)(void *ctx, const struct mopay_admin_key *key), void *ctx)
{
    struct pg_store *s = pg_of(store);
    MOPAY_ASSERT(each != NULL);
    enum mopay_err result;
    PGresult *res = pg_run(s, STMT_ADMIN_KEYS_LOAD, NULL, NULL, NULL, &result);
    if (res == NULL) {
        return result;
    }
    int rows = PQntuples(res);
    for (int row = 0; row < rows; row++) {
        struct mopay_admin_key key;
        admin_key_from_row(res, row, &key);
        if (!each(ctx, &key)) {
            break;
        }
    }
    PQclear(res);
    return MOPAY_OK;
}

/* ---- Idempotency --------------------------------------------------------------------------- */

/* Fills out from the only row of STMT_IDEM_GET. Returns false only when malloc fails. */
static bool idem_from_row(const PGresult *res, const char *principal, const char *key,
                          struct mopay_idem_record *out)
{
    size_t body_len = (size_t)PQgetlength(res, 0, 2);
    int64_t status = pg_parse_int64(PQgetvalue(res, 0, 1));
    MOPAY_ASSERT(status >= 100 && status <= 599);
    char *copy = malloc(body_len + 1);
    if (copy == NULL) {
        return false;
    }
    memcpy(copy, PQgetvalue(res, 0, 2), body_len);
    copy[body_len] = '\0';
    mopay_store_copy_text(out->principal, sizeof out->principal, principal, strlen(principal));
    mopay_store_copy_text(out->key, sizeof out->key, key, strlen(key));
    bool hash_ok = mopay_store_idem_hash_decode(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0),
                                                out->request_hash);
    MOPAY_ASSERT(hash_ok); /* idem_rekey converted every plain digest at start */
    out->status = (int)status;
    out->body = copy;
    out->body_len = body_len;
    out->created_at_ns = pg_parse_int64(PQgetvalue(res, 0, 3));
    MOPAY_ASSERT(out->created_at_ns > 0);
    return true;
}

static enum mopay_err pg_idem_get(struct mopay_store *store, const char *principal, const char *key,
                                  struct mopay_idem_record *out, bool *found)
{
    struct pg_store *s = pg_of(store);
    MOPAY_ASSERT(principal != NULL && key != NULL && out != NULL && found != NULL);
    const char *values[2] = {principal, key};
    enum mopay_err result;
    PGresult *res = pg_run(s, STMT_IDEM_GET, values, NULL, NULL, &result);
    if (res == NULL) {
        return result;
    }
    MOPAY_ASSERT(PQntuples(res) <= 1); /* (principal, key) is the primary key */
    *found = PQntuples(res) == 1;
    if (*found && !idem_from_row(res, principal, key, out)) {
        result = mopay_store_error(MOPAY_ERR_store_failed, store->last_error, sizeof store->last_error,
                                   "postgres idem_get: out of memory for a %d-byte body", PQgetlength(res, 0, 2));
    }
    PQclear(res);
    return result;
}

static enum mopay_err pg_idem_put(struct mopay_store *store, const struct mopay_idem_record *record)
{
    struct pg_store *s = pg_of(store);
    enum mopay_err result = mopay_store_check_idem(store, record);
    if (result != MOPAY_OK) {
        return result;
    }
    MOPAY_ASSERT(record->body_len <= INT32_MAX);
    char hash_hex[MOPAY_STORE_IDEM_HASH_TEXT_BYTES + 1];
    char status[16], created[24];
    mopay_store_idem_hash_encode(record->request_hash, hash_hex);
    snprintf(status, sizeof status, "%d", record->status);
    snprintf(created, sizeof created, "%" PRId64, record->created_at_ns);
    /* The body goes in binary format, which for TEXT is its bytes with an explicit length: it
     * need not be NUL-terminated, and the server still checks its encoding. */
    const char *values[6] = {record->principal, record->key, hash_hex, status,
                             record->body_len > 0 ? record->body : "", created};
    const int lengths[6] = {0, 0, 0, 0, (int)record->body_len, 0};
    const int formats[6] = {0, 0, 0, 0, 1, 0};
    PGresult *res = pg_run(s, STMT_IDEM_PUT, values, lengths, formats, &result);
    if (res == NULL) {
        /* The contract: callers idem_get first in the same transaction, so a duplicate is a bug. */
        MOPAY_ASSERT(strcmp(s->sqlstate, "23505") != 0);
        return result;
    }
    PQclear(res);
    return MOPAY_OK;
}

static enum mopay_err pg_idem_purge(struct mopay_store *store, int64_t before_ns, int64_t *out_deleted)
{
    struct pg_store *s = pg_of(store);
    MOPAY_ASSERT(out_deleted != NULL);
    char before[24];
    snprintf(before, sizeof before, "%" PRId64, before_ns);
    const char *values[1] = {before};
    enum mopay_err result;
    PGresult *res = pg_run(s, STMT_IDEM_PURGE, values, NULL, NULL, &result);
    if (res == NULL) {
        return result;
    }
    *out_deleted = pg_parse_int64(PQcmdTuples(res));
    PQclear(res);
    MOPAY_ASSERT(*out_deleted >= 0);
    return MOPAY_OK;
}

static enum mopay_err pg_idem_count(struct mopay_store *store, int64_t *out_count)
{
    struct pg_store *s = pg_of(store);
    enum mopay_err result;
    PGresult *res = pg_run(s, STMT_IDEM_COUNT, NULL, NULL, NULL, &result);
    if (res == NULL)
        return result;
    MOPAY_ASSERT(PQntuples(res) == 1);
    *out_count = pg_parse_int64(PQgetvalue(res, 0, 0));
    PQclear(res);
    MOPAY_ASSERT(*out_count >= 0);
    return MOPAY_OK;
}

struct pg_idem_rekey_read {
    struct mopay_store_idem_rekeys list;
    void (*rekey)(void *ctx, const uint8_t in[32], uint8_t out[32]);
    void *ctx;
    bool failed;
};

static bool pg_idem_rekey_row(void *ctx, const PGresult *res)
{
    struct pg_idem_rekey_read *read = ctx;
    read->failed = !mopay_store_idem_rekeys_add(&read->list, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
                                                PQgetvalue(res, 0, 2), (size_t)PQgetlength(res, 0, 2), read->rekey,
                                                read->ctx);
    return !read->failed;
}

static enum mopay_err pg_idem_rekey(struct mopay_store *store,
                                    void (*rekey)(void *ctx, const uint8_t in[32], uint8_t out[32]), void *ctx,
                                    int64_t *out_rekeyed)
{
    struct pg_store *s = pg_of(store);
    struct pg_idem_rekey_read read = {.rekey = rekey, .ctx = ctx};
    enum mopay_err result = pg_stream(s, STMT_IDEM_LEGACY, NULL, 0, pg_idem_rekey_row, &read);
    if (result == MOPAY_OK && read.failed)
        result = mopay_store_error(MOPAY_ERR_store_failed, store->last_error, sizeof store->last_error,
                                   "postgres idem_rekey: out of memory or a malformed record");
    for (size_t i = 0; result == MOPAY_OK && i < read.list.count; i++) {
        const char *values[3] = {read.list.rows[i].principal, read.list.rows[i].key, read.list.rows[i].hash};
        PQclear(pg_run(s, STMT_IDEM_REKEY, values, NULL, NULL, &result));
    }
    *out_rekeyed = result == MOPAY_OK ? (int64_t)read.list.count : 0;
    free(read.list.rows);
    return result;
}

/* Several servers on one PostgreSQL database are fenced by the lease of the high-availability
 * work (issue 18), not here: PostgreSQL's own locks keep each transaction whole meanwhile. */
static enum mopay_err pg_claim(struct mopay_store *store)
{
    (void)pg_of(store);
    return MOPAY_OK;
}

/* ---- Ledger log ---------------------------------------------------------------------------- */

static enum mopay_err pg_ledger_log_append(struct mopay_store *store, int64_t seq, const void *data, size_t len)
{
    struct pg_store *s = pg_of(store);
    MOPAY_ASSERT(seq > 0 && data != NULL && len > 0 && len <= INT32_MAX);
    char seq_text[24];
    snprintf(seq_text, sizeof seq_text, "%" PRId64, seq);
    const char *values[2] = {seq_text, data};
    const int lengths[2] = {0, (int)len};
    const int formats[2] = {0, 1}; /* the log record goes as raw bytes */
    enum mopay_err result;
    PGresult *res = pg_run(s, STMT_LEDGER_LOG_APPEND, values, lengths, formats, &result);
    PQclear(res);
    return result;
}

static int64_t be64_read(const char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | (uint8_t)p[i];
    return (int64_t)v;
}

struct ledger_log_load_ctx {
    bool (*each)(void *ctx, int64_t seq, const void *data, size_t len);
    void *ctx;
};

static bool ledger_log_load_row(void *ctx, const PGresult *res)
{
    struct ledger_log_load_ctx *load = ctx;
    MOPAY_ASSERT(PQgetlength(res, 0, 0) == 8 && PQgetlength(res, 0, 1) > 0); /* check after reading */
    return load->each(load->ctx, be64_read(PQgetvalue(res, 0, 0)), PQgetvalue(res, 0, 1),
                      (size_t)PQgetlength(res, 0, 1));
}

static enum mopay_err pg_ledger_log_load(struct mopay_store *store,
                                         bool (*each)(void *ctx, int64_t seq, const void *data, size_t len),
                                         void *ctx)
{
    struct pg_store *s = pg_of(store);
    MOPAY_ASSERT(each != NULL);
    struct ledger_log_load_ctx load = {each, ctx};
    return pg_stream(s, STMT_LEDGER_LOG_LOAD, NULL, 1, ledger_log_load_row, &load);
}

/* ---- Domain records ------------------------------------------------------------------------ */

static enum mopay_err pg_record_put(struct mopay_store *store, const char *kind, const char *id, const char *json,
                                    size_t len, int64_t updated_at_ns)
{
    struct pg_store *s = pg_of(store);
    enum mopay_err result = mopay_store_check_record(store, kind, id, json, len, updated_at_ns);
    if (result != MOPAY_OK) {
        return result;
    }
    char updated[24];
    snprintf(updated, sizeof updated, "%" PRId64, updated_at_ns);
    /* The JSON goes in binary format, TEXT's bytes with an explicit length (see pg_idem_put). */
    const char *values[4] = {kind, id, json, updated};
    const int lengths[4] = {0, 0, (int)len, 0};
    const int formats[4] = {0, 0, 1, 0};
    PGresult *res = pg_run(s, STMT_RECORD_PUT, values, lengths, formats, &result);
    PQclear(res);
    return result;
}

static enum mopay_err pg_record_delete(struct mopay_store *store, const char *kind, const char *id, bool *found)
{
    struct pg_store *s = pg_of(store);
    MOPAY_ASSERT(kind != NULL && id != NULL && found != NULL);
    const char *values[2] = {kind, id};
    enum mopay_err result;
    PGresult *res = pg_run(s, STMT_RECORD_DELETE, values, NULL, NULL, &result);
    if (res == NULL) {
        return result;
    }
    int64_t changes = pg_parse_int64(PQcmdTuples(res));
    PQclear(res);
    MOPAY_ASSERT(changes == 0 || changes == 1); /* (kind, id) is the primary key */
    *found = changes == 1;
    return MOPAY_OK;
}

static enum mopay_err pg_records_clear(struct mopay_store *store, const char *kind, int64_t *out_deleted)
{
    struct pg_store *s = pg_of(store);
    MOPAY_ASSERT(kind != NULL && out_deleted != NULL);
    const char *values[1] = {kind};
    enum mopay_err result;
    PGresult *res = pg_run(s, STMT_RECORDS_CLEAR, values, NULL, NULL, &result);
    if (res == NULL)
        return result;
    *out_deleted = pg_parse_int64(PQcmdTuples(res));
    PQclear(res);
    return MOPAY_OK;
}

struct records_load_ctx {
    bool (*each)(void *ctx, const char *id, const char *json, size_t len);
    void *ctx;
};

static bool records_load_row(void *ctx, const PGresult *res)
{
    struct records_load_ctx *load = ctx;
    int id_len = PQgetlength(res, 0, 0);
    int len = PQgetlength(res, 0, 1);
    /* check after reading: what record_put let through */
    MOPAY_ASSERT(id_len > 0 && id_len <= MOPAY_STORE_KEY_BYTES_MAX && len > 0);
    return load->each(load->ctx, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), (size_t)len);
}

/* Streamed: a kind may hold more records than should sit in memory twice. */
static enum mopay_err pg_records_load(struct mopay_store *store, const char *kind,
                                      bool (*each)(void *ctx, const char *id, const char *json, size_t len),
                                      void *ctx)
{
    struct pg_store *s = pg_of(store);
    MOPAY_ASSERT(kind != NULL && each != NULL);
    const char *values[1] = {kind};
    struct records_load_ctx load = {each, ctx};
    return pg_stream(s, STMT_RECORDS_LOAD, values, 0, records_load_row, &load);
}

/* ---- Entries ------------------------------------------------------------------------------- */

static enum mopay_err pg_entry_append(struct mopay_store *store, const char *owner, int64_t at_ns, const char *id,
                                      const char *json, size_t len)
{
    struct pg_store *s = pg_of(store);
    enum mopay_err result = mopay_store_check_entry(store, owner, at_ns, id, json, len);
    if (result != MOPAY_OK) {
        return result;
    }
    char at[24];
    snprintf(at, sizeof at, "%" PRId64, at_ns);
    const char *values[4] = {owner, at, id, json};
    const int lengths[4] = {0, 0, 0, (int)len};
    const int formats[4] = {0, 0, 0, 1}; /* the JSON as TEXT's bytes with a length, like record_put */
    /* An existing (owner, at_ns, id) is a unique violation: store_failed, as the contract says. */
    PGresult *res = pg_run(s, STMT_ENTRY_APPEND, values, lengths, formats, &result);
    PQclear(res);
    return result;
}

static enum mopay_err pg_entries_page(struct mopay_store *store, const char *owner, int64_t before_at_ns,
                                      const char *before_id, size_t limit,
                                      bool (*each)(void *ctx, int64_t at_ns, const char *id, const char *json,
                                                   size_t len),
                                      void *ctx, bool *out_more)
{
    struct pg_store *s = pg_of(store);
    MOPAY_ASSERT(owner != NULL && each != NULL && out_more != NULL);
    MOPAY_ASSERT(limit >= 1 && limit <= MOPAY_STORE_ENTRIES_PAGE_MAX);
    char before_at[24], fetch[24];
    snprintf(before_at, sizeof before_at, "%" PRId64, before_at_ns);
    snprintf(fetch, sizeof fetch, "%zu", limit + 1);
    const char *first[2] = {owner, fetch};
    const char *before[4] = {owner, before_at, before_id, fetch};
    enum mopay_err result;
    PGresult *res = before_id != NULL ? pg_run(s, STMT_ENTRIES_BEFORE, before, NULL, NULL, &result)
                                      : pg_run(s, STMT_ENTRIES_FIRST, first, NULL, NULL, &result);
    if (res == NULL) {
        return result;
    }
    int rows = PQntuples(res);
    MOPAY_ASSERT(rows >= 0 && (size_t)rows <= limit + 1);
    int row = 0;
    bool stopped = false;
    for (; row < rows && (size_t)row < limit && !stopped; row++) {
        int64_t at_ns = pg_parse_int64(PQgetvalue(res, row, 0));
        int id_len = PQgetlength(res, row, 1);
        int len = PQgetlength(res, row, 2);
        /* check after reading: what entry_append let through */
        MOPAY_ASSERT(at_ns > 0 && id_len > 0 && id_len <= MOPAY_STORE_KEY_BYTES_MAX && len > 0);
        stopped = !each(ctx, at_ns, PQgetvalue(res, row, 1), PQgetvalue(res, row, 2), (size_t)len);
    }
    *out_more = row < rows; /* a row left over is an older entry past the last one given */
    PQclear(res);
    return MOPAY_OK;
}

/* ---- Open and close ------------------------------------------------------------------------ */

static void pg_close(struct mopay_store *store)
{
    if (store == NULL) {
        return;
    }
    struct pg_store *s = (struct pg_store *)store;
    PQfinish(s->conn); /* an open transaction is rolled back by the server */
    free(s);
}

/* The migration runner's view of the raw connection (see internal.h). */
static enum mopay_err migrator_exec(void *conn, const char *sql, char *err, size_t err_cap)
{
    PGresult *res = PQexec(conn, sql);
    enum mopay_err result = MOPAY_OK;
    if (!result_ok(res)) {
        result = mopay_store_error(pg_code(conn, res), err, err_cap, "%s", pg_message(conn, res));
    }
    PQclear(res);
    return result;
}

static enum mopay_err migrator_query_int(void *conn, const char *sql, int64_t *out, char *err, size_t err_cap)
{
    PGresult *res = PQexec(conn, sql);
    enum mopay_err result = MOPAY_OK;
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) < 1) {
        result = mopay_store_error(pg_code(conn, res), err, err_cap, "%s", pg_message(conn, res));
    } else {
        *out = pg_parse_int64(PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return result;
}

static void pg_set_ops(struct pg_store *s)
{
    s->base.backend = "postgres";
    s->base.begin = pg_begin;
    s->base.commit = pg_commit;
    s->base.rollback = pg_rollback;
    s->base.schema_version = pg_schema_version;
    s->base.meta_get = pg_meta_get;
    s->base.meta_put = pg_meta_put;
    s->base.admin_key_insert = pg_admin_key_insert;
    s->base.admin_key_revoke = pg_admin_key_revoke;
    s->base.admin_keys_load = pg_admin_keys_load;
    s->base.idem_get = pg_idem_get;
    s->base.idem_put = pg_idem_put;
    s->base.idem_purge = pg_idem_purge;
    s->base.idem_rekey = pg_idem_rekey;
    s->base.idem_count = pg_idem_count;
    s->base.claim = pg_claim;
    s->base.ledger_log_append = pg_ledger_log_append;
    s->base.ledger_log_load = pg_ledger_log_load;
    s->base.record_put = pg_record_put;
    s->base.record_delete = pg_record_delete;
    s->base.records_clear = pg_records_clear;
    s->base.records_load = pg_records_load;
    s->base.entry_append = pg_entry_append;
    s->base.entries_page = pg_entries_page;
    s->base.close = pg_close;
}

/* Keywords are applied in order, so the URL may change the timeout and application name but not
 * the client encoding the text checks rely on. */
static PGconn *pg_connect(const char *url)
{
    const char *const keywords[] = {"connect_timeout", "application_name", "dbname", "client_encoding", NULL};
    const char *const values[] = {PG_CONNECT_TIMEOUT_S, "mopay", url, "UTF8", NULL};
    return PQconnectdbParams(keywords, values, 1);
}

struct mopay_store *mopay_store_pg_open(const char *url, char *err, size_t err_cap)
{
    MOPAY_ASSERT(url != NULL);
    struct pg_store *s = calloc(1, sizeof *s);
    if (s == NULL) {
        mopay_store_error(MOPAY_ERR_store_unavailable, err, err_cap, "postgres: out of memory");
        return NULL;
    }
    s->conn = pg_connect(url);
    if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK) {
        mopay_store_error(MOPAY_ERR_store_unavailable, err, err_cap, "postgres: cannot connect: %s",
                          s->conn != NULL ? PQerrorMessage(s->conn) : "out of memory");
        goto fail;
    }
    if (!pg_session_setup(s->conn, err, err_cap)) {
        goto fail;
    }
    const struct mopay_store_migrator migrator = {
        .conn = s->conn,
        .begin_sql = "BEGIN",
        .lock_sql = "SELECT pg_advisory_lock(" PG_MIGRATION_LOCK ")",
        .unlock_sql = "SELECT pg_advisory_unlock(" PG_MIGRATION_LOCK ")",
        .table_exists_sql = "SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN 0 ELSE 1 END",
        .exec = migrator_exec,
        .query_int = migrator_query_int,
    };
    if (mopay_store_migrate(&migrator, err, err_cap) != MOPAY_OK || !pg_prepare_all(s->conn, err, err_cap)) {
        goto fail;
    }
    s->session_ready = true;
    pg_set_ops(s);
    return &s->base;

fail:
    pg_close(&s->base);
    return NULL;
}
