/* The journal: one log record per sequencer batch. See mopay/journal.h. */
#include "mopay/journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mopay/assert.h"
#include "mopay/log.h"
#include "internal.h"

struct mopay_journal *mopay_journal_new(void)
{
    struct mopay_journal *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return NULL;
    j->record = malloc(RECORD_INITIAL_BYTES);
    if (j->record == NULL) {
        free(j);
        return NULL;
    }
    j->record_cap = RECORD_INITIAL_BYTES;
    j->next_seq = 1;
    j->types[MOPAY_JOURNAL_GROUP_RECORDS] = (struct group_type){1, NULL, NULL, true};
    return j;
}

void mopay_journal_free(struct mopay_journal *j)
{
    if (j == NULL)
        return;
    free(j->record);
    free(j->scratch);
    free(j);
}

void mopay_journal_group_type(struct mopay_journal *j, uint32_t type, size_t event_size,
                              mopay_journal_group_fn replay, void *ctx)
{
    MOPAY_ASSERT(type > 0 && type <= MOPAY_JOURNAL_GROUP_TYPES_MAX && type != MOPAY_JOURNAL_GROUP_RECORDS);
    MOPAY_ASSERT(!j->types[type].known && replay != NULL);
    j->types[type] = (struct group_type){event_size, replay, ctx, true};
}

void mopay_journal_register(struct mopay_journal *j, const struct mopay_record_kind *kind, void *state)
{
    char why[160];
    if (!mopay_codec_kind_valid(kind, why, sizeof(why)))
        MOPAY_LOG_ERROR("a record kind's table is wrong", "why=%s", why);
    MOPAY_ASSERT(mopay_codec_kind_valid(kind, why, sizeof(why)));
    MOPAY_ASSERT(kind->tag < MOPAY_JOURNAL_KIND_TAGS_MAX && j->kinds[kind->tag].kind == NULL);
    j->kinds[kind->tag] = (struct kind_slot){kind, state};
    j->order[j->kind_count++] = kind->tag;
    size_t max = mopay_codec_image_max(kind);
    j->image_max = max > j->image_max ? max : j->image_max;
    if (kind->size > j->scratch_size) {
        free(j->scratch);
        j->scratch = malloc(kind->size);
        MOPAY_ASSERT(j->scratch != NULL);
        j->scratch_size = kind->size;
    }
}

/* Room for `bytes` more in the record. Growing is the one allocation the journal makes while
 * serving: it happens until the record has been as large as the largest batch, and a machine
 * without the memory for it cannot commit the batch, so it stops. */
static void record_reserve(struct mopay_journal *j, size_t bytes)
{
    if (j->record_len == 0)
        j->record_len = RECORD_HEAD_BYTES;
    if (j->record_cap - j->record_len >= bytes)
        return;
    size_t cap = j->record_cap;
    while (cap - j->record_len < bytes)
        cap *= 2;
    uint8_t *grown = realloc(j->record, cap);
    if (grown == NULL)
        MOPAY_LOG_ERROR("out of memory for the batch's log record; stopping before it commits", "bytes=%zu", cap);
    MOPAY_ASSERT(grown != NULL);
    j->record = grown;
    j->record_cap = cap;
}

void mopay_journal_group(struct mopay_journal *j, uint32_t type, const void *events, uint32_t count,
                         int64_t timestamp)
{
    MOPAY_ASSERT(type <= MOPAY_JOURNAL_GROUP_TYPES_MAX && j->types[type].known && type != MOPAY_JOURNAL_GROUP_RECORDS);
    size_t bytes = (size_t)count * j->types[type].event_size;
    record_reserve(j, sizeof(struct journal_group_header) + bytes);
    struct journal_group_header h = {type, count, timestamp};
    memcpy(j->record + j->record_len, &h, sizeof(h));
    if (bytes > 0)
        memcpy(j->record + j->record_len + sizeof(h), events, bytes);
    j->record_len += sizeof(h) + bytes;
    j->records_group = 0;
}

static enum mopay_err journal_image(struct mopay_journal *j, const struct mopay_record_kind *kind, uint32_t flags,
                                    const void *record, int64_t now_ns)
{
    MOPAY_ASSERT(kind->tag < MOPAY_JOURNAL_KIND_TAGS_MAX && j->kinds[kind->tag].kind == kind);
    record_reserve(j, sizeof(struct journal_group_header) + j->image_max);
    struct journal_group_header h;
    if (j->records_group != 0)
        memcpy(&h, j->record + j->records_group, sizeof(h));
    if (j->records_group == 0 || h.timestamp != now_ns) {
        h = (struct journal_group_header){MOPAY_JOURNAL_GROUP_RECORDS, 0, now_ns};
        j->records_group = j->record_len;
        j->record_len += sizeof(h);
    }
    size_t n = mopay_codec_encode(kind, j->kinds[kind->tag].state, flags, record, j->record + j->record_len,
                                  j->record_cap - j->record_len);
    if (n == 0) {
        MOPAY_LOG_ERROR("a record could not be encoded", "kind=%s", kind->name);
        return MOPAY_ERR_store_failed;
    }
    MOPAY_ASSERT((uint64_t)h.count + n <= UINT32_MAX);
    h.count += (uint32_t)n;
    memcpy(j->record + j->records_group, &h, sizeof(h));
    j->record_len += n;
    return MOPAY_OK;
}

enum mopay_err mopay_journal_put(struct mopay_journal *j, const struct mopay_record_kind *kind, const void *record,
                                 int64_t now_ns)
{
    return journal_image(j, kind, 0, record, now_ns);
}

enum mopay_err mopay_journal_remove(struct mopay_journal *j, const struct mopay_record_kind *kind,
                                    const void *record, int64_t now_ns)
{
    MOPAY_ASSERT(kind->remove != NULL);
    return journal_image(j, kind, MOPAY_CODEC_REMOVED, record, now_ns);
}

enum mopay_err mopay_journal_commit(struct mopay_journal *j, struct mopay_store *store)
{
    if (j->record_len == 0)
        return MOPAY_OK;
    uint32_t head[2] = {JOURNAL_MAGIC, JOURNAL_VERSION};
    memcpy(j->record, head, sizeof(head));
    enum mopay_err err = store->ledger_log_append(store, j->next_seq, j->record, j->record_len);
    j->record_len = 0;
    j->records_group = 0;
    if (err == MOPAY_OK)
        j->next_seq++;
    return err;
}

void mopay_journal_discard(struct mopay_journal *j)
{
    j->record_len = 0;
    j->records_group = 0;
}

int64_t mopay_journal_next_seq(const struct mopay_journal *j)
{
    return j->next_seq;
}

struct put_all {
    const void **records;
    size_t count, cap;
    bool failed;
    struct mopay_journal *journal; /* a kind not keyed by an id: put at once */
    const struct mopay_record_kind *kind;
    int64_t now_ns;
};

static bool put_all_now(void *ctx, const void *record)
{
    struct put_all *p = ctx;
    p->failed = mopay_journal_put(p->journal, p->kind, record, p->now_ns) != MOPAY_OK;
    return !p->failed;
}

static bool put_all_collect(void *ctx, const void *record)
{
    struct put_all *p = ctx;
    if (p->count == p->cap) {
        size_t cap = p->cap == 0 ? 1024 : 2 * p->cap;
        const void **grown = realloc(p->records, cap * sizeof(*grown));
        if (grown == NULL) {
            p->failed = true;
            return false;
        }
        p->records = grown;
        p->cap = cap;
    }
    p->records[p->count++] = record;
    return true;
}

static int by_id(const void *a, const void *b)
{
    return memcmp(*(const void *const *)a, *(const void *const *)b, sizeof(struct mopay_id));
}

/* Records go in the order they were made: by their time-ordered ids, where the kind is keyed by
 * one (its first field), so that what replay rebuilds in order of arrival (a customer's wallets,
 * devices and cards as listed) comes back as it was. The records `each` hands over are kept only
 * for those kinds (they are the live records); other kinds' may be made for the call, and are
 * put at once. */
enum mopay_err mopay_journal_put_all(struct mopay_journal *j, int64_t now_ns)
{
    for (size_t i = 0; i < j->kind_count; i++) {
        const struct mopay_record_kind *kind = j->kinds[j->order[i]].kind;
        struct put_all p = {NULL, 0, 0, false, j, kind, now_ns};
        bool by_ids = kind->field_count > 0 && kind->fields[0].type == MOPAY_CODEC_ID && kind->fields[0].offset == 0;
        kind->each(j->kinds[j->order[i]].state, by_ids ? put_all_collect : put_all_now, &p);
        if (!p.failed && by_ids && p.count > 1) /* qsort takes no NULL, even for nothing */
            qsort(p.records, p.count, sizeof(*p.records), by_id);
        enum mopay_err err = p.failed ? MOPAY_ERR_store_failed : MOPAY_OK;
        for (size_t r = 0; r < p.count && err == MOPAY_OK; r++)
            err = mopay_journal_put(j, kind, p.records[r], now_ns);
        free(p.records);
        if (err != MOPAY_OK)
            return err;
    }
    return MOPAY_OK;
}

enum mopay_err mopay_journal_absorb_records(struct mopay_journal *j, struct mopay_store *store, int64_t now_ns,
                                            int64_t *out_moved)
{
    *out_moved = 0;
    for (size_t i = 0; i < j->kind_count; i++) {
        int64_t deleted = 0;
        enum mopay_err err = store->records_clear(store, j->kinds[j->order[i]].kind->name, &deleted);
        if (err != MOPAY_OK)
            return err;
        *out_moved += deleted;
    }
    return *out_moved > 0 ? mopay_journal_put_all(j, now_ns) : MOPAY_OK;
}
