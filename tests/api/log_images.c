#include "log_images.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "mopay/codec.h"
#include "mopay/store.h"

static const size_t group_sizes[5] = {0, 72, 104, 0, 1}; /* docs/log.md, by group type */

struct scan {
    log_image_fn fn;
    void *ctx;
    int64_t last;
};

static bool scan_record(void *arg, int64_t seq, const void *data, size_t len)
{
    struct scan *s = arg;
    const uint8_t *p = data, *end = p + len;
    uint32_t head[2];
    assert_true(len >= 8);
    memcpy(head, p, 8);
    assert_true(head[0] == 0x31474c4du && (head[1] == 1 || head[1] == 2));
    for (p += 8; p < end;) {
        uint32_t type, count;
        assert_true(end - p >= 16);
        memcpy(&type, p, 4);
        memcpy(&count, p + 4, 4);
        p += 16;
        assert_true(type >= 1 && type <= 4);
        size_t bytes = (size_t)count * group_sizes[type];
        assert_true((size_t)(end - p) >= bytes);
        for (size_t at = 0; type == 4 && at < bytes;) {
            struct mopay_codec_header h;
            size_t n = mopay_codec_header_read(p + at, bytes - at, &h);
            assert_true(n > 0);
            if (s->fn != NULL)
                s->fn(s->ctx, seq, h.tag, p + at + n, h.payload_len);
            at += n + h.payload_len;
        }
        p += bytes;
    }
    s->last = seq;
    return true;
}

static struct mopay_store *open_db(const char *db)
{
    char err[256];
    struct mopay_store *store = mopay_store_open(db, err, sizeof(err));
    if (store == NULL)
        fail_msg("store: %s", err);
    return store;
}

int64_t log_scan(const char *db, log_image_fn fn, void *ctx)
{
    struct mopay_store *store = open_db(db);
    struct scan s = {fn, ctx, 0};
    assert_int_equal(store->ledger_log_load(store, scan_record, &s), MOPAY_OK);
    store->close(store);
    return s.last;
}

void log_append(const char *db, int64_t seq, const uint8_t *images, size_t len)
{
    uint8_t record[8 + 16 + 4096];
    assert_true(len <= 4096);
    uint32_t head[2] = {0x31474c4du, 2}, group[2] = {4, (uint32_t)len};
    int64_t ts = 1;
    memcpy(record, head, 8);
    memcpy(record + 8, group, 8);
    memcpy(record + 16, &ts, 8);
    memcpy(record + 24, images, len);
    struct mopay_store *store = open_db(db);
    assert_int_equal(store->begin(store), MOPAY_OK);
    assert_int_equal(store->ledger_log_append(store, seq, record, 24 + len), MOPAY_OK);
    assert_int_equal(store->commit(store), MOPAY_OK);
    store->close(store);
}

void log_delete(const char *db, int64_t seq)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "DELETE FROM ledger_log WHERE seq = %lld", (long long)seq);
    if (strncmp(db, "sqlite:", 7) == 0) {
        sqlite3 *conn = NULL;
        assert_int_equal(sqlite3_open(db + 7, &conn), SQLITE_OK);
        assert_int_equal(sqlite3_exec(conn, sql, NULL, NULL, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_changes(conn), 1);
        sqlite3_close(conn);
        return;
    }
    PGconn *conn = PQconnectdb(db);
    assert_int_equal(PQstatus(conn), CONNECTION_OK);
    PGresult *res = PQexec(conn, sql);
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    assert_string_equal(PQcmdTuples(res), "1");
    PQclear(res);
    PQfinish(conn);
}

size_t log_image(uint32_t tag, const uint8_t *payload, size_t len, uint8_t *out)
{
    size_t n = mopay_codec_varint_put(out, tag);
    n += mopay_codec_varint_put(out + n, 1);
    n += mopay_codec_varint_put(out + n, 0);
    n += mopay_codec_varint_put(out + n, len);
    memcpy(out + n, payload, len);
    return n + len;
}
