#ifndef MOPAY_STORE_INTERNAL_H
#define MOPAY_STORE_INTERNAL_H

/* What store.c shares with the two backends; not part of the public API. */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mopay/store.h"

/* A record's kind and id, an entry's owner and id: the longest, in bytes (store.h's contract).
 * An entries page holds at most MOPAY_STORE_ENTRIES_PAGE_MAX entries. (Candidates for limits.h.) */
#define MOPAY_STORE_KEY_BYTES_MAX 63
#define MOPAY_STORE_ENTRIES_PAGE_MAX 1000

/* Generated at build time from migrations/ (see embed_migrations.cmake). */
extern const struct mopay_migration mopay_store_migrations_embedded[];
extern const size_t mopay_store_migrations_embedded_count;

/* The backends. `path` is what follows "sqlite:"; `url` is the whole libpq URI. Both return NULL
 * with a one-line reason in err when the database cannot be opened, configured or migrated. */
struct mopay_store *mopay_store_sqlite_open(const char *path, char *err, size_t err_cap);
struct mopay_store *mopay_store_pg_open(const char *url, char *err, size_t err_cap);

/* What the migration runner needs from a backend's raw connection, before any statement is
 * prepared. exec runs one or more statements that return no rows; query_int runs a query whose
 * first column of its only row is an integer. Both fill err and return store_unavailable or
 * store_failed on failure. */
struct mopay_store_migrator {
    void *conn;
    const char *begin_sql;        /* starts a transaction that excludes other migrators */
    const char *lock_sql;         /* held across the whole run when begin_sql does not exclude */
    const char *unlock_sql;
    const char *table_exists_sql; /* 1 when schema_migrations exists, else 0 */
    enum mopay_err (*exec)(void *conn, const char *sql, char *err, size_t err_cap);
    enum mopay_err (*query_int)(void *conn, const char *sql, int64_t *out, char *err, size_t err_cap);
};

/* Applies every embedded migration newer than the database's version, each in its own
 * transaction. Safe when several processes migrate the same database at once: each re-reads the
 * version while holding the lock. Refuses a database newer than this build. On failure the
 * failed migration is rolled back and err says which one and why. */
enum mopay_err mopay_store_migrate(const struct mopay_store_migrator *migrator, char *err,
                                   size_t err_cap);

/* printf into err (when err_cap > 0), flattened to one line: newlines become spaces and trailing
 * blanks are dropped. Returns `code`, so a failure path can `return mopay_store_error(...)`. */
enum mopay_err mopay_store_error(enum mopay_err code, char *err, size_t err_cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Lowercase hex: out holds 2 * len + 1 bytes. decode accepts exactly 2 * len lowercase digits. */
void mopay_store_hex_encode(const uint8_t *in, size_t len, char *out);
bool mopay_store_hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t len);

/* Both sides of the persistence boundary, shared so the backends behave the same. The checks
 * before writing assert the caller's invariants and return store_failed (with the reason in
 * store->last_error) for text PostgreSQL would refuse: NUL bytes or invalid UTF-8, which SQLite
 * would otherwise accept. */
enum mopay_err mopay_store_check_meta(struct mopay_store *store, const char *key, const char *value);
enum mopay_err mopay_store_check_admin_key(struct mopay_store *store, const struct mopay_admin_key *key);
enum mopay_err mopay_store_check_idem(struct mopay_store *store, const struct mopay_idem_record *record);

/* An idempotency record's request hash in its column: "k:" and 64 hex digits; a plain digest
 * written before hashes were keyed is 64 hex digits alone (idem_rekey converts those). */
#define MOPAY_STORE_IDEM_HASH_PREFIX "k:"
#define MOPAY_STORE_IDEM_HASH_TEXT_BYTES (2 + 64)
void mopay_store_idem_hash_encode(const uint8_t hash[32], char out[MOPAY_STORE_IDEM_HASH_TEXT_BYTES + 1]);
/* False for a column that is not a keyed hash. */
bool mopay_store_idem_hash_decode(const char *text, size_t len, uint8_t out[32]);

/* The legacy rows idem_rekey found, read first and rewritten after (a table is not updated under
 * its own open cursor). */
struct mopay_store_idem_rekeys {
    struct mopay_store_idem_rekey {
        char principal[48];
        char key[256];
        char hash[MOPAY_STORE_IDEM_HASH_TEXT_BYTES + 1];
    } *rows;
    size_t count, cap;
};
/* Appends a legacy row with its new hash; false when out of memory or the row is malformed. */
bool mopay_store_idem_rekeys_add(struct mopay_store_idem_rekeys *list, const char *principal, const char *key,
                                 const char *digest_hex, size_t digest_len,
                                 void (*rekey)(void *ctx, const uint8_t in[32], uint8_t out[32]), void *ctx);
/* Records and entries: a kind, id or owner longer than MOPAY_STORE_KEY_BYTES_MAX is refused too. */
enum mopay_err mopay_store_check_record(struct mopay_store *store, const char *kind, const char *id,
                                        const char *json, size_t len, int64_t updated_at_ns);
enum mopay_err mopay_store_check_entry(struct mopay_store *store, const char *owner, int64_t at_ns,
                                       const char *id, const char *json, size_t len);

/* Copies a column read back from the database into a fixed field; the write side guaranteed it
 * fits, so a longer value means the database was changed behind our back. */
void mopay_store_copy_text(char *dst, size_t dst_cap, const char *src, size_t src_len);

#endif
