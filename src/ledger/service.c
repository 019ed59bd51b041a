/* The ledger's durable log and its replay. See mopay/ledger_service.h.
 *
 * A log record is one sequencer batch:
 *   u32 magic "MLG1", u32 version 1, then groups until the end:
 *   u32 type (1 accounts, 2 transfers, 3 expire), u32 count, i64 timestamp, count fixed-size
 *   events (struct mopay_ledger_account or struct mopay_ledger_transfer as submitted).
 * The structs are fixed-layout and little-endian on every platform mopay builds for; the
 * version number changes if they ever do. */
#include "mopay/ledger_service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mopay/assert.h"
#include "mopay/limits.h"
#include "mopay/log.h"

#define LOG_MAGIC 0x31474c4du /* "MLG1" */
#define LOG_VERSION 1u

enum group_type { GROUP_ACCOUNTS = 1, GROUP_TRANSFERS = 2, GROUP_EXPIRE = 3 };

struct group_header {
    uint32_t type;
    uint32_t count;
    int64_t timestamp;
};

_Static_assert(sizeof(struct group_header) == 16, "log group header layout");
_Static_assert(sizeof(struct mopay_ledger_transfer) % 8 == 0, "transfer records stay aligned");
_Static_assert(sizeof(struct mopay_ledger_account) % 8 == 0, "account records stay aligned");

struct mopay_ledger_service {
    struct mopay_ledger *ledger;
    uint32_t accounts_max;
    bool check_invariants;
    int64_t next_seq;
    uint8_t *record; /* this batch's log record, preallocated for the largest batch */
    size_t record_len, record_cap;
    uint8_t *replay_results;
};

static size_t record_cap_for_batches(void)
{
    size_t event = sizeof(struct mopay_ledger_transfer) > sizeof(struct mopay_ledger_account)
                       ? sizeof(struct mopay_ledger_transfer)
                       : sizeof(struct mopay_ledger_account);
    /* a batch holds MOPAY_WRITER_BATCH_EVENTS_MAX events, or one command alone that may be
     * heavier; one group per command, plus the tick's expire group */
    size_t events = MOPAY_WRITER_BATCH_EVENTS_MAX + MOPAY_LEDGER_EVENTS_PER_COMMAND_MAX;
    return 8 + events * event + (MOPAY_WRITER_BATCH_COMMANDS_MAX + 1) * sizeof(struct group_header);
}

struct mopay_ledger_service *mopay_ledger_service_new(const struct mopay_ledger_limits *limits,
                                                      bool check_invariants)
{
    struct mopay_ledger_service *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->ledger = mopay_ledger_new(limits);
    s->accounts_max = limits->accounts_max;
    s->record_cap = record_cap_for_batches();
    s->record = malloc(s->record_cap);
    s->replay_results = malloc(MOPAY_LEDGER_EVENTS_PER_COMMAND_MAX);
    if (s->ledger == NULL || s->record == NULL || s->replay_results == NULL) {
        mopay_ledger_service_free(s);
        return NULL;
    }
    s->check_invariants = check_invariants;
    s->next_seq = 1;
    return s;
}

void mopay_ledger_service_free(struct mopay_ledger_service *s)
{
    if (s == NULL)
        return;
    if (s->ledger != NULL)
        mopay_ledger_free(s->ledger);
    free(s->record);
    free(s->replay_results);
    free(s);
}

struct mopay_ledger *mopay_ledger_service_ledger(struct mopay_ledger_service *s)
{
    return s->ledger;
}

static void record_group(struct mopay_ledger_service *s, uint32_t type, const void *events, size_t count,
                         size_t event_size, int64_t timestamp)
{
    size_t bytes = sizeof(struct group_header) + count * event_size;
    if (s->record_len == 0)
        s->record_len = 8; /* room for the record's head, written when it is appended */
    MOPAY_ASSERT(count <= MOPAY_LEDGER_EVENTS_PER_COMMAND_MAX);
    MOPAY_ASSERT(s->record_len + bytes <= s->record_cap); /* commands' seq weights keep it so */
    struct group_header h = {type, (uint32_t)count, timestamp};
    memcpy(s->record + s->record_len, &h, sizeof(h));
    if (count > 0)
        memcpy(s->record + s->record_len + sizeof(h), events, count * event_size);
    s->record_len += bytes;
}

size_t mopay_ledger_service_create_accounts(struct mopay_ledger_service *s, const struct mopay_ledger_account *a,
                                            size_t count, int64_t now_ns, uint8_t *results)
{
    record_group(s, GROUP_ACCOUNTS, a, count, sizeof(*a), now_ns);
    return mopay_ledger_create_accounts(s->ledger, a, count, now_ns, results);
}

size_t mopay_ledger_service_create_transfers(struct mopay_ledger_service *s, const struct mopay_ledger_transfer *t,
                                             size_t count, int64_t now_ns, uint8_t *results)
{
    record_group(s, GROUP_TRANSFERS, t, count, sizeof(*t), now_ns);
    return mopay_ledger_create_transfers(s->ledger, t, count, now_ns, results);
}

enum mopay_err mopay_ledger_service_tick(struct mopay_ledger_service *s, struct mopay_store *store, int64_t now_ns)
{
    (void)store;
    size_t expired = mopay_ledger_expire(s->ledger, now_ns);
    if (expired > 0) { /* an expiry that voided nothing changed nothing: no need to log it */
        record_group(s, GROUP_EXPIRE, NULL, 0, 0, now_ns);
        MOPAY_LOG_DEBUG("voided expired pending transfers", "count=%zu", expired);
    }
    return MOPAY_OK;
}

static void check_or_stop(struct mopay_ledger_service *s)
{
    struct mopay_ledger_check *check = malloc(sizeof(*check));
    MOPAY_ASSERT(check != NULL);
    mopay_ledger_check(s->ledger, check);
    if (!check->ok)
        MOPAY_LOG_ERROR("ledger invariant broken; stopping before the batch commits", "accounts_breaking_flags=%llu",
                        (unsigned long long)check->accounts_breaking_flags);
    MOPAY_ASSERT(check->ok);
    free(check);
}

enum mopay_err mopay_ledger_service_before_commit(struct mopay_ledger_service *s, struct mopay_store *store,
                                                  int64_t now_ns)
{
    (void)now_ns;
    if (s->check_invariants)
        check_or_stop(s);
    if (s->record_len == 0)
        return MOPAY_OK;
    uint32_t head[2] = {LOG_MAGIC, LOG_VERSION};
    memcpy(s->record, head, sizeof(head));
    enum mopay_err err = store->ledger_log_append(store, s->next_seq, s->record, s->record_len);
    s->record_len = 0;
    if (err == MOPAY_OK)
        s->next_seq++;
    return err;
}

struct replay {
    struct mopay_ledger_service *service;
    uint64_t records;
    int64_t expected_seq;
};

/* Applies one record's groups. Every length was written by record_group, so a mismatch means
 * the log was damaged: stop rather than rebuild a different ledger. */
static bool replay_record(void *ctx, int64_t seq, const void *data, size_t len)
{
    struct replay *r = ctx;
    struct mopay_ledger_service *s = r->service;
    const uint8_t *p = data, *end = p + len;
    uint32_t head[2];
    MOPAY_ASSERT(seq == r->expected_seq && len >= 8 && len <= s->record_cap);
    memcpy(head, p, sizeof(head));
    MOPAY_ASSERT(head[0] == LOG_MAGIC && head[1] == LOG_VERSION);
    for (p += 8; p < end;) {
        struct group_header h;
        MOPAY_ASSERT((size_t)(end - p) >= sizeof(h));
        memcpy(&h, p, sizeof(h));
        p += sizeof(h);
        MOPAY_ASSERT(h.type >= GROUP_ACCOUNTS && h.type <= GROUP_EXPIRE);
        size_t size = h.type == GROUP_ACCOUNTS    ? sizeof(struct mopay_ledger_account)
                      : h.type == GROUP_TRANSFERS ? sizeof(struct mopay_ledger_transfer)
                                                  : 0;
        MOPAY_ASSERT(h.count <= MOPAY_LEDGER_EVENTS_PER_COMMAND_MAX && (size_t)(end - p) >= h.count * size);
        if (h.type == GROUP_EXPIRE) {
            mopay_ledger_expire(s->ledger, h.timestamp);
            continue;
        }
        /* copied out: the store's buffer need not be aligned for the structs */
        memcpy(s->record, p, h.count * size);
        if (h.type == GROUP_ACCOUNTS)
            mopay_ledger_create_accounts(s->ledger, (const void *)s->record, h.count, h.timestamp,
                                         s->replay_results);
        else
            mopay_ledger_create_transfers(s->ledger, (const void *)s->record, h.count, h.timestamp,
                                          s->replay_results);
        p += h.count * size;
    }
    r->records++;
    r->expected_seq++;
    return true;
}

enum mopay_err mopay_ledger_service_recover(struct mopay_ledger_service *s, struct mopay_store *store,
                                            uint64_t *out_records, char *err, size_t err_cap)
{
    MOPAY_ASSERT(mopay_ledger_account_count(s->ledger) == 0 && mopay_ledger_transfer_count(s->ledger) == 0);
    struct replay r = {s, 0, 1};
    enum mopay_err e = store->ledger_log_load(store, replay_record, &r);
    s->record_len = 0;
    if (e != MOPAY_OK) {
        snprintf(err, err_cap, "reading the ledger log: %s", store->last_error);
        return e;
    }
    s->next_seq = r.expected_seq;
    *out_records = r.records;
    if (s->check_invariants)
        check_or_stop(s);
    return MOPAY_OK;
}

enum mopay_err mopay_ledger_service_system_account(struct mopay_ledger_service *s, enum mopay_ledger_kind kind,
                                                   uint16_t currency, int64_t now_ns, struct mopay_id *out)
{
    /* A fixed id per (kind, currency), so every start and every replica names the same account. */
    char name[64];
    snprintf(name, sizeof(name), "mopay.system.%s.%u", mopay_ledger_kind_name(kind), (unsigned)currency);
    crypto_generichash(out->bytes, 16, (const unsigned char *)name, strlen(name), NULL, 0);
    if (mopay_ledger_account_get(mopay_ledger_service_ledger(s), out) != NULL)
        return MOPAY_OK;
    struct mopay_ledger_account a;
    memset(&a, 0, sizeof(a));
    a.id = *out;
    a.currency = currency;
    a.kind = (uint16_t)kind;
    uint8_t result = 0;
    mopay_ledger_service_create_accounts(s, &a, 1, now_ns, &result);
    return result == MOPAY_LEDGER_ok ? MOPAY_OK : MOPAY_ERR_ledger_rejected;
}

enum mopay_err mopay_ledger_service_accounts_room(struct mopay_ledger_service *s, size_t accounts)
{
    /* The platform's own accounts (one per kind and currency, made at first use inside a
     * command) keep a reserve that customers and merchants cannot take. */
    uint32_t reserve = s->accounts_max > 4 * MOPAY_LEDGER_SYSTEM_ACCOUNTS_RESERVE ? MOPAY_LEDGER_SYSTEM_ACCOUNTS_RESERVE
                                                                                   : s->accounts_max / 4;
    uint64_t used = (uint64_t)mopay_ledger_account_count(s->ledger) + reserve;
    return used + accounts <= s->accounts_max ? MOPAY_OK : MOPAY_ERR_capacity_exhausted;
}
