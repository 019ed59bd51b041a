/* The store's front door: URL dispatch, the migration runner and the checks both backends share.
 * The SQL itself lives in sqlite.c, pg.c and migrations/. */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "internal.h"
#include "mopay/json.h"
#include "mopay/assert.h"
#include "mopay/limits.h"

size_t mopay_store_migration_count(void)
{
    size_t count = mopay_store_migrations_embedded_count;
    MOPAY_ASSERT(count > 0 && count <= MOPAY_STORE_MIGRATIONS_MAX);
    return count;
}

const struct mopay_migration *mopay_store_migration_at(size_t index)
{
    MOPAY_ASSERT(index < mopay_store_migration_count());
    const struct mopay_migration *migration = &mopay_store_migrations_embedded[index];
    /* embed_migrations.cmake numbers them 1, 2, 3... without gaps. */
    MOPAY_ASSERT(migration->version == (int)index + 1);
    MOPAY_ASSERT(migration->name != NULL && migration->sql != NULL);
    return migration;
}

enum mopay_err mopay_store_error(enum mopay_err code, char *err, size_t err_cap, const char *fmt, ...)
{
    MOPAY_ASSERT(code != MOPAY_OK);
    if (err == NULL || err_cap == 0) {
        return code;
    }
    va_list args;
    va_start(args, fmt);
    vsnprintf(err, err_cap, fmt, args);
    va_end(args);
    size_t len = strlen(err);
    for (size_t i = 0; i < len; i++) {
        if (err[i] == '\n' || err[i] == '\r' || err[i] == '\t') {
            err[i] = ' ';
        }
    }
    while (len > 0 && err[len - 1] == ' ') {
        err[--len] = '\0';
    }
    return code;
}

static bool scheme_is(const char *url, const char *scheme)
{
    return strncmp(url, scheme, strlen(scheme)) == 0;
}

void mopay_store_url_printable(const char *url, char *out, size_t cap)
{
    MOPAY_ASSERT(url != NULL && out != NULL && cap > 0);
    if (scheme_is(url, "sqlite:")) {
        snprintf(out, cap, "%s", url);
        return;
    }
    size_t scheme_len = strcspn(url, ":/?@");
    if (url[scheme_len] != ':' || scheme_len > 32) {
        snprintf(out, cap, "(a store URL without a scheme)");
        return;
    }
    const char *rest = url + scheme_len + 1;
    if (strncmp(rest, "//", 2) != 0) {
        snprintf(out, cap, "%.*s:", (int)scheme_len, url);
        return;
    }
    rest += 2;
    size_t authority = strcspn(rest, "/?#");
    const char *host = rest;
    for (size_t i = 0; i < authority; i++) /* the host follows the last '@' of the authority */
        if (rest[i] == '@')
            host = rest + i + 1;
    snprintf(out, cap, "%.*s://%.*s", (int)scheme_len, url, (int)(rest + authority - host), host);
}

struct mopay_store *mopay_store_open(const char *url, char *err, size_t err_cap)
{
    MOPAY_ASSERT(url != NULL);
    MOPAY_ASSERT(err != NULL || err_cap == 0);
    if (err_cap > 0) {
        err[0] = '\0';
    }
    if (strnlen(url, MOPAY_STORE_URL_BYTES_MAX + 1) > MOPAY_STORE_URL_BYTES_MAX) {
        mopay_store_error(MOPAY_ERR_config_invalid, err, err_cap, "store URL is longer than %d bytes",
                          MOPAY_STORE_URL_BYTES_MAX);
        return NULL;
    }
    if (scheme_is(url, "sqlite:")) {
        return mopay_store_sqlite_open(url + strlen("sqlite:"), err, err_cap);
    }
    if (scheme_is(url, "postgres://") || scheme_is(url, "postgresql://")) {
        return mopay_store_pg_open(url, err, err_cap);
    }
    /* Name only the scheme: the rest of a URL may hold a password. */
    size_t scheme_len = strcspn(url, ":/?@");
    if (url[scheme_len] != ':' || scheme_len == 0 || scheme_len > 32) {
        mopay_store_error(MOPAY_ERR_config_invalid, err, err_cap,
                          "store URL has no scheme (want sqlite:PATH, postgres:// or postgresql://)");
        return NULL;
    }
    mopay_store_error(MOPAY_ERR_config_invalid, err, err_cap,
                      "unsupported store URL scheme \"%.*s:\" (want sqlite:PATH, postgres:// or postgresql://)",
                      (int)scheme_len, url);
    return NULL;
}

/* ---- Migrations ---------------------------------------------------------------------------- */

static enum mopay_err migrate_read_version(const struct mopay_store_migrator *migrator, int64_t *out,
                                           char *err, size_t err_cap)
{
    int64_t exists = 0;
    enum mopay_err rc = migrator->query_int(migrator->conn, migrator->table_exists_sql, &exists, err, err_cap);
    if (rc != MOPAY_OK) {
        return rc;
    }
    if (exists == 0) {
        *out = 0;
        return MOPAY_OK;
    }
    return migrator->query_int(migrator->conn, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                               out, err, err_cap);
}

static int64_t migrate_now_ns(void)
{
    struct timespec now;
    int rc = clock_gettime(CLOCK_REALTIME, &now);
    MOPAY_ASSERT(rc == 0);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

/* One migration in one transaction. Another process may have applied it between our first
 * version read and taking the lock; then this commits the empty transaction and succeeds. */
static enum mopay_err migrate_one(const struct mopay_store_migrator *migrator,
                                  const struct mopay_migration *migration, char *err, size_t err_cap)
{
    char insert[192];
    int64_t version = 0;
    enum mopay_err rc = migrator->exec(migrator->conn, migrator->begin_sql, err, err_cap);
    if (rc != MOPAY_OK) {
        return rc;
    }
    rc = migrate_read_version(migrator, &version, err, err_cap);
    if (rc != MOPAY_OK) {
        goto fail;
    }
    if (version < migration->version) {
        /* The name is [a-z0-9_]+ (embed_migrations.cmake), so it needs no quoting. */
        MOPAY_ASSERT(strspn(migration->name, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(migration->name));
        int len = snprintf(insert, sizeof insert,
                           "INSERT INTO schema_migrations (version, name, applied_at_ns) "
                           "VALUES (%d, '%s', %" PRId64 ")",
                           migration->version, migration->name, migrate_now_ns());
        MOPAY_ASSERT(len > 0 && (size_t)len < sizeof insert);
        rc = migrator->exec(migrator->conn, migration->sql, err, err_cap);
        if (rc == MOPAY_OK) {
            rc = migrator->exec(migrator->conn, insert, err, err_cap);
        }
        if (rc != MOPAY_OK) {
            goto fail;
        }
    }
    rc = migrator->exec(migrator->conn, "COMMIT", err, err_cap);
    if (rc != MOPAY_OK) {
        goto fail;
    }
    return MOPAY_OK;

fail:;
    char ignored[MOPAY_STORE_ERROR_BYTES];
    migrator->exec(migrator->conn, "ROLLBACK", ignored, sizeof ignored);
    return rc;
}

static enum mopay_err migrate_pending(const struct mopay_store_migrator *migrator, int64_t version,
                                      char *err, size_t err_cap)
{
    char reason[MOPAY_STORE_ERROR_BYTES] = "";
    size_t count = mopay_store_migration_count();
    for (size_t i = 0; i < count; i++) {
        const struct mopay_migration *migration = mopay_store_migration_at(i);
        if (migration->version <= version) {
            continue;
        }
        enum mopay_err rc = migrate_one(migrator, migration, reason, sizeof reason);
        if (rc != MOPAY_OK) {
            return mopay_store_error(rc, err, err_cap, "migration %04d_%s failed: %s", migration->version,
                                     migration->name, reason);
        }
    }
    return MOPAY_OK;
}

enum mopay_err mopay_store_migrate(const struct mopay_store_migrator *migrator, char *err, size_t err_cap)
{
    MOPAY_ASSERT(migrator != NULL && migrator->exec != NULL && migrator->query_int != NULL);
    MOPAY_ASSERT(migrator->begin_sql != NULL && migrator->table_exists_sql != NULL);
    MOPAY_ASSERT((migrator->lock_sql == NULL) == (migrator->unlock_sql == NULL));
    char reason[MOPAY_STORE_ERROR_BYTES] = "";
    int latest = mopay_store_migration_at(mopay_store_migration_count() - 1)->version;
    int64_t version = 0;

    enum mopay_err rc = migrate_read_version(migrator, &version, reason, sizeof reason);
    if (rc != MOPAY_OK) {
        return mopay_store_error(rc, err, err_cap, "reading the schema version failed: %s", reason);
    }
    if (version > latest) {
        return mopay_store_error(MOPAY_ERR_store_failed, err, err_cap,
                                 "the database's schema version %" PRId64 " is newer than this build's %d; "
                                 "run a newer mopay",
                                 version, latest);
    }
    if (version == latest) {
        return MOPAY_OK;
    }
    if (migrator->lock_sql != NULL) {
        rc = migrator->exec(migrator->conn, migrator->lock_sql, reason, sizeof reason);
        if (rc != MOPAY_OK) {
            return mopay_store_error(rc, err, err_cap, "taking the migration lock failed: %s", reason);
        }
    }
    rc = migrate_pending(migrator, version, err, err_cap);
    if (migrator->unlock_sql != NULL) {
        /* Closing the connection releases the lock too, and a failed open closes it. */
        migrator->exec(migrator->conn, migrator->unlock_sql, reason, sizeof reason);
    }
    return rc;
}

/* ---- Checks shared by the backends ---------------------------------------------------------- */

void mopay_store_hex_encode(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

bool mopay_store_hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t len)
{
    if (hex_len != 2 * len) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        int high = hex_digit(hex[2 * i]);
        int low = hex_digit(hex[2 * i + 1]);
        if (high < 0 || low < 0) {
            return false;
        }
        out[i] = (uint8_t)(high << 4 | low);
    }
    return true;
}

/* True when s[0..len) is UTF-8 without NUL bytes, overlong forms, surrogates or code points past
 * U+10FFFF: the text PostgreSQL's UTF8 encoding accepts in a TEXT column. */
static bool text_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        size_t extra;
        uint32_t cp;
        if (c == 0) {
            return false;
        } else if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            extra = 1, cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            extra = 2, cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            extra = 3, cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i <= extra) {
            return false;
        }
        for (size_t k = 1; k <= extra; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return false;
            }
            cp = cp << 6 | (p[i + k] & 0x3f);
        }
        if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        i += extra + 1;
    }
    return true;
}

static enum mopay_err check_text(struct mopay_store *store, const char *what, const char *s, size_t len)
{
    if (text_valid(s, len)) {
        return MOPAY_OK;
    }
    return mopay_store_error(MOPAY_ERR_store_failed, store->last_error, sizeof store->last_error,
                             "%s is not UTF-8 text without NUL bytes", what);
}

enum mopay_err mopay_store_check_meta(struct mopay_store *store, const char *key, const char *value)
{
    MOPAY_ASSERT(store != NULL && key != NULL && value != NULL);
    MOPAY_ASSERT(key[0] != '\0');
    enum mopay_err rc = check_text(store, "meta key", key, strlen(key));
    return rc != MOPAY_OK ? rc : check_text(store, "meta value", value, strlen(value));
}

enum mopay_err mopay_store_check_admin_key(struct mopay_store *store, const struct mopay_admin_key *key)
{
    MOPAY_ASSERT(store != NULL && key != NULL);
    size_t id_len = strnlen(key->id, sizeof key->id);
    size_t name_len = strnlen(key->name, sizeof key->name);
    MOPAY_ASSERT(id_len > 0 && id_len < sizeof key->id);
    MOPAY_ASSERT(name_len < sizeof key->name && name_len <= MOPAY_ADMIN_KEY_NAME_BYTES_MAX);
    MOPAY_ASSERT(key->created_at_ns > 0);
    MOPAY_ASSERT(key->revoked_at_ns >= 0);
    enum mopay_err rc = check_text(store, "admin key id", key->id, id_len);
    return rc != MOPAY_OK ? rc : check_text(store, "admin key name", key->name, name_len);
}

enum mopay_err mopay_store_check_idem(struct mopay_store *store, const struct mopay_idem_record *record)
{
    MOPAY_ASSERT(store != NULL && record != NULL);
    size_t principal_len = strnlen(record->principal, sizeof record->principal);
    size_t key_len = strnlen(record->key, sizeof record->key);
    MOPAY_ASSERT(principal_len > 0 && principal_len < sizeof record->principal);
    MOPAY_ASSERT(key_len > 0 && key_len <= MOPAY_IDEMPOTENCY_KEY_BYTES_MAX && key_len < sizeof record->key);
    MOPAY_ASSERT(record->status >= 100 && record->status <= 599);
    MOPAY_ASSERT(record->body != NULL || record->body_len == 0);
    MOPAY_ASSERT(record->created_at_ns > 0);
    enum mopay_err rc = check_text(store, "idempotency principal", record->principal, principal_len);
    if (rc == MOPAY_OK) {
        rc = check_text(store, "Idempotency-Key", record->key, key_len);
    }
    if (rc == MOPAY_OK && record->body_len > 0) {
        rc = check_text(store, "idempotent response body", record->body, record->body_len);
    }
    return rc;
}

void mopay_store_idem_hash_encode(const uint8_t hash[32], char out[MOPAY_STORE_IDEM_HASH_TEXT_BYTES + 1])
{
    memcpy(out, MOPAY_STORE_IDEM_HASH_PREFIX, 2);
    mopay_store_hex_encode(hash, 32, out + 2);
}

bool mopay_store_idem_hash_decode(const char *text, size_t len, uint8_t out[32])
{
    return len == MOPAY_STORE_IDEM_HASH_TEXT_BYTES && memcmp(text, MOPAY_STORE_IDEM_HASH_PREFIX, 2) == 0 &&
           mopay_store_hex_decode(text + 2, len - 2, out, 32);
}

bool mopay_store_idem_rekeys_add(struct mopay_store_idem_rekeys *list, const char *principal, const char *key,
                                 const char *digest_hex, size_t digest_len,
                                 void (*rekey)(void *ctx, const uint8_t in[32], uint8_t out[32]), void *ctx)
{
    uint8_t digest[32], keyed[32];
    struct mopay_store_idem_rekey row;
    if (strlen(principal) >= sizeof row.principal || strlen(key) >= sizeof row.key ||
        !mopay_store_hex_decode(digest_hex, digest_len, digest, sizeof digest))
        return false;
    if (list->count == list->cap) {
        size_t cap = list->cap == 0 ? 64 : list->cap * 2;
        struct mopay_store_idem_rekey *rows = realloc(list->rows, cap * sizeof *rows);
        if (rows == NULL)
            return false;
        list->rows = rows;
        list->cap = cap;
    }
    rekey(ctx, digest, keyed);
    strcpy(row.principal, principal);
    strcpy(row.key, key);
    mopay_store_idem_hash_encode(keyed, row.hash);
    list->rows[list->count++] = row;
    return true;
}

/* A record's kind or id, an entry's owner or id: a short key the domain made, so empty is a bug,
 * while one too long or not text is refused like any other text PostgreSQL would refuse. */
static enum mopay_err check_key(struct mopay_store *store, const char *what, const char *key)
{
    MOPAY_ASSERT(key != NULL && key[0] != '\0');
    size_t len = strnlen(key, MOPAY_STORE_KEY_BYTES_MAX + 1);
    if (len > MOPAY_STORE_KEY_BYTES_MAX) {
        return mopay_store_error(MOPAY_ERR_store_failed, store->last_error, sizeof store->last_error,
                                 "%s is longer than %d bytes", what, MOPAY_STORE_KEY_BYTES_MAX);
    }
    return check_text(store, what, key, len);
}

enum mopay_err mopay_store_check_record(struct mopay_store *store, const char *kind, const char *id,
                                        const char *json, size_t len, int64_t updated_at_ns)
{
    MOPAY_ASSERT(store != NULL && json != NULL);
    MOPAY_ASSERT(len > 0 && len <= INT32_MAX); /* JSON is never empty; the backends bind an int length */
    MOPAY_ASSERT(updated_at_ns > 0);
    enum mopay_err rc = check_key(store, "record kind", kind);
    if (rc == MOPAY_OK) {
        rc = check_key(store, "record id", id);
    }
    return rc != MOPAY_OK ? rc : check_text(store, "record JSON", json, len);
}

enum mopay_err mopay_store_check_entry(struct mopay_store *store, const char *owner, int64_t at_ns,
                                       const char *id, const char *json, size_t len)
{
    MOPAY_ASSERT(store != NULL && json != NULL);
    MOPAY_ASSERT(len > 0 && len <= INT32_MAX);
    MOPAY_ASSERT(at_ns > 0);
    enum mopay_err rc = check_key(store, "entry owner", owner);
    if (rc == MOPAY_OK) {
        rc = check_key(store, "entry id", id);
    }
    return rc != MOPAY_OK ? rc : check_text(store, "entry JSON", json, len);
}

void mopay_store_copy_text(char *dst, size_t dst_cap, const char *src, size_t src_len)
{
    MOPAY_ASSERT(dst != NULL && src != NULL);
    MOPAY_ASSERT(src_len < dst_cap);
    memcpy(dst, src, src_len);
    dst[src_len] = '\0';
}

enum mopay_err mopay_store_record_put_json(struct mopay_store *store, const char *kind, const char *id,
                                           struct json_t *json, int64_t updated_at_ns)
{
    MOPAY_ASSERT(json != NULL);
    size_t len;
    char *text = mopay_json_dump(json, &len);
    json_decref(json);
    MOPAY_ASSERT(text != NULL);
    enum mopay_err err = store->record_put(store, kind, id, text, len, updated_at_ns);
    free(text);
    return err;
}
