#ifndef MOPAY_STORE_H
#define MOPAY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mopay/err.h"

/* The durable store: a table of function pointers with a SQLite and a PostgreSQL backend.
 *
 * A store handle is used by one thread at a time (the writer thread, or the CLI). Writes happen
 * inside begin/commit; commit returns only once the transaction is durable (SQLite WAL with
 * synchronous=FULL; PostgreSQL with synchronous_commit on). Every function returns MOPAY_OK or
 * an operating error (store_unavailable, store_failed); on failure inside a transaction the
 * caller rolls back. The schema is created by versioned SQL migrations (src/store/migrations/)
 * that mopay_store_open applies. */

struct mopay_admin_key {
    char id[40];            /* "adk_" + 32 hex */
    char name[65];
    uint8_t hash[32];       /* keyed BLAKE2b-256 of the secret key */
    int64_t created_at_ns;
    int64_t revoked_at_ns;  /* 0 when live */
};

/* A stored result of an idempotent request. */
struct mopay_idem_record {
    char principal[48];     /* who sent it: an admin key id, merchant id or customer id */
    char key[256];          /* the Idempotency-Key header, at most 255 bytes */
    uint8_t request_hash[32]; /* keyed hash of method, path and body (mopay_keys_idem_hash) */
    int status;             /* HTTP status of the first answer */
    char *body;             /* its body; from idem_get, malloc'd and owned by the caller */
    size_t body_len;
    int64_t created_at_ns;
};

#define MOPAY_STORE_ERROR_BYTES 256

struct mopay_store {
    const char *backend;    /* "sqlite" or "postgres" */
    /* The database's one-line reason for the most recent failed call, for logs; "" before any. */
    char last_error[MOPAY_STORE_ERROR_BYTES];

    enum mopay_err (*begin)(struct mopay_store *store);
    enum mopay_err (*commit)(struct mopay_store *store);
    enum mopay_err (*rollback)(struct mopay_store *store);

    /* The highest migration version applied. */
    enum mopay_err (*schema_version)(struct mopay_store *store, int *out_version);

    /* Small key/value settings (for example "admin_initialized"). meta_get: found=false and
     * value untouched when absent; value is NUL-terminated, truncated to value_cap. */
    enum mopay_err (*meta_get)(struct mopay_store *store, const char *key, char *value,
                               size_t value_cap, bool *found);
    enum mopay_err (*meta_put)(struct mopay_store *store, const char *key, const char *value);

    enum mopay_err (*admin_key_insert)(struct mopay_store *store, const struct mopay_admin_key *key);
    /* found=false when no live key has this id. */
    enum mopay_err (*admin_key_revoke)(struct mopay_store *store, const char *id,
                                       int64_t revoked_at_ns, bool *found);
    /* Calls `each` for every key, live or revoked, oldest first; stops early if it returns false. */
    enum mopay_err (*admin_keys_load)(struct mopay_store *store,
                                      bool (*each)(void *ctx, const struct mopay_admin_key *key),
                                      void *ctx);

    /* found=false when (principal, key) has no record. */
    enum mopay_err (*idem_get)(struct mopay_store *store, const char *principal, const char *key,
                               struct mopay_idem_record *out, bool *found);
    /* Inserting an existing (principal, key) is a programmer error: callers idem_get first
     * inside the same transaction. */
    enum mopay_err (*idem_put)(struct mopay_store *store, const struct mopay_idem_record *record);
    /* Deletes records created before `before_ns`; reports how many. */
    enum mopay_err (*idem_purge)(struct mopay_store *store, int64_t before_ns, int64_t *out_deleted);
    /* Records written before request hashes were keyed hold a plain digest: replaces each with
     * `rekey`'s image of it, in the caller's transaction; reports how many. */
    enum mopay_err (*idem_rekey)(struct mopay_store *store, void (*rekey)(void *ctx, const uint8_t in[32], uint8_t out[32]),
                                 void *ctx, int64_t *out_rekeyed);
    /* How many records there are, for admission control at start. */
    enum mopay_err (*idem_count)(struct mopay_store *store, int64_t *out_count);

    /* The ledger's event log: records numbered from 1 without gaps, appended inside the batch
     * transaction (a duplicate seq is store_failed), loaded in order at start. `data` handed to
     * `each` is valid only during the call; loading stops early when `each` returns false. */
    enum mopay_err (*ledger_log_append)(struct mopay_store *store, int64_t seq, const void *data, size_t len);
    enum mopay_err (*ledger_log_load)(struct mopay_store *store,
                                      bool (*each)(void *ctx, int64_t seq, const void *data, size_t len),
                                      void *ctx);

    /* Domain records: the durable image of the domain's in-memory state (customers, devices,
     * sessions, wallets, funding sources, top-ups, ...). One row per (kind, id) holding the
     * record as JSON text; the domain writes a record in the same batch transaction as the change
     * that made it, and loads every record of a kind at start. kind is a short lowercase word,
     * id a typed ID or another short key (at most 63 bytes each); json is UTF-8 without NUL.
     * record_put inserts or replaces. record_delete: found=false when absent. records_load calls
     * `each` for every record of `kind` in ascending id order ("json" NUL-terminated, valid only
     * during the call), stopping early when it returns false. */
    enum mopay_err (*record_put)(struct mopay_store *store, const char *kind, const char *id, const char *json,
                                 size_t len, int64_t updated_at_ns);
    enum mopay_err (*record_delete)(struct mopay_store *store, const char *kind, const char *id, bool *found);
    /* Deletes every record of `kind`; reports how many (the move of a kind into the journal). */
    enum mopay_err (*records_clear)(struct mopay_store *store, const char *kind, int64_t *out_deleted);
    enum mopay_err (*records_load)(struct mopay_store *store, const char *kind,
                                   bool (*each)(void *ctx, const char *id, const char *json, size_t len),
                                   void *ctx);

    /* Entries: append-only histories, such as a wallet's transactions. An entry belongs to an
     * owner (a wallet id), is ordered by (at_ns, id) and is immutable once appended (appending
     * an existing (owner, at_ns, id) is store_failed). entries_page calls `each` for the
     * owner's entries newest first, at most `limit` (1..1000) of them, starting strictly before
     * the cursor (before_at_ns, before_id) when before_id is not NULL; *out_more says whether
     * older entries remain past the last one given. */
    enum mopay_err (*entry_append)(struct mopay_store *store, const char *owner, int64_t at_ns, const char *id,
                                   const char *json, size_t len);
    enum mopay_err (*entries_page)(struct mopay_store *store, const char *owner, int64_t before_at_ns,
                                   const char *before_id, size_t limit,
                                   bool (*each)(void *ctx, int64_t at_ns, const char *id, const char *json,
                                                size_t len),
                                   void *ctx, bool *out_more);

    /* Claims the database for this process's writes until close (mopay serve): on SQLite an
     * exclusive lock on the file, so a second server on it is refused with store_unavailable and
     * the reason in last_error. PostgreSQL: nothing yet (the high-availability lease will fence). */
    enum mopay_err (*claim)(struct mopay_store *store);

    void (*close)(struct mopay_store *store);
};

/* The store's own failures: in the sequencer they stop the process (fail-stop). */
static inline bool mopay_store_err_fatal(enum mopay_err err)
{
    return err == MOPAY_ERR_store_failed || err == MOPAY_ERR_store_unavailable;
}

/* record_put of a JSON object, which it frees (it takes the reference). */
struct json_t;
enum mopay_err mopay_store_record_put_json(struct mopay_store *store, const char *kind, const char *id,
                                           struct json_t *json, int64_t updated_at_ns);

/* Opens (creating when absent) the database named by `url` and applies pending migrations:
 *   sqlite:PATH             a file, its folder created when missing (sqlite::memory: for tests)
 *   postgres://... or postgresql://...   a libpq connection URI
 * On failure returns NULL and writes a one-line reason into `err` (err_cap bytes). */
struct mopay_store *mopay_store_open(const char *url, char *err, size_t err_cap);

/* What may be printed of a store URL: a SQLite URL whole (a path), a PostgreSQL URL as its
 * scheme and host (and port) only, never its user, password, database or parameters (which may
 * hold a password too); anything else as its scheme. Always NUL-terminates `out`. */
void mopay_store_url_printable(const char *url, char *out, size_t cap);

/* The embedded migrations, in version order. */
struct mopay_migration {
    int version;
    const char *name;
    const char *sql;
};
size_t mopay_store_migration_count(void);
const struct mopay_migration *mopay_store_migration_at(size_t index);

#endif
