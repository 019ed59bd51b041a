/* Replaying the journal at start: every record in order, each group to what replays it. A record
 * that does not read as it was written means a damaged log: the server refuses to start and
 * names the record, rather than rebuild a different state. */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "mopay/journal.h"

struct replay {
    struct mopay_journal *journal;
    struct mopay_journal_replay_stats *stats;
    int64_t expected_seq;
    char *err;
    size_t err_cap;
    bool failed;
};

static bool replay_fail(struct replay *r, int64_t seq, const char *why)
{
    snprintf(r->err, r->err_cap, "log record %lld: %s", (long long)seq, why);
    r->failed = true;
    return false;
}

static bool replay_images(struct replay *r, int64_t seq, const uint8_t *p, size_t len)
{
    struct mopay_journal *j = r->journal;
    char why[200];
    while (len > 0) {
        struct mopay_codec_header h;
        size_t n = mopay_codec_header_read(p, len, &h);
        if (n == 0)
            return replay_fail(r, seq, "a record image is damaged");
        const struct mopay_record_kind *kind = h.tag < MOPAY_JOURNAL_KIND_TAGS_MAX ? j->kinds[h.tag].kind : NULL;
        if (kind == NULL || h.version != kind->version || (h.flags & ~MOPAY_CODEC_REMOVED) != 0 ||
            ((h.flags & MOPAY_CODEC_REMOVED) != 0 && kind->remove == NULL)) {
            snprintf(why, sizeof(why), "a record image of tag %u version %u flags %u, which this mopay does not know "
                     "(written by a newer one?)", h.tag, h.version, h.flags);
            return replay_fail(r, seq, why);
        }
        void *state = j->kinds[h.tag].state;
        if (!mopay_codec_decode(kind, state, p + n, h.payload_len, j->scratch, why, sizeof(why)))
            return replay_fail(r, seq, why);
        enum mopay_err e = (h.flags & MOPAY_CODEC_REMOVED) != 0 ? kind->remove(state, j->scratch, why, sizeof(why))
                                                                 : kind->apply(state, j->scratch, why, sizeof(why));
        if (e != MOPAY_OK)
            return replay_fail(r, seq, why);
        r->stats->images++;
        p += n + h.payload_len;
        len -= n + h.payload_len;
    }
    return true;
}

static bool replay_record(void *ctx, int64_t seq, const void *data, size_t len)
{
    struct replay *r = ctx;
    struct mopay_journal *j = r->journal;
    const uint8_t *p = data, *end = p + len;
    uint32_t head[2];
    char why[200];
    if (seq != r->expected_seq)
        return replay_fail(r, seq, "out of order: the log has a gap");
    if (len < 8)
        return replay_fail(r, seq, "shorter than its head");
    memcpy(head, p, sizeof(head));
    if (head[0] != JOURNAL_MAGIC || head[1] < 1 || head[1] > JOURNAL_VERSION)
        return replay_fail(r, seq, "not a log record this mopay knows");
    for (p += 8; p < end;) {
        struct journal_group_header h;
        if ((size_t)(end - p) < sizeof(h))
            return replay_fail(r, seq, "a group's header is cut short");
        memcpy(&h, p, sizeof(h));
        p += sizeof(h);
        if (h.type == 0 || h.type > MOPAY_JOURNAL_GROUP_TYPES_MAX || !j->types[h.type].known)
            return replay_fail(r, seq, "a group of a type this mopay does not know");
        uint64_t bytes = (uint64_t)h.count * j->types[h.type].event_size;
        if ((uint64_t)(end - p) < bytes)
            return replay_fail(r, seq, "a group runs past the record's end");
        if (h.type == MOPAY_JOURNAL_GROUP_RECORDS) {
            if (!replay_images(r, seq, p, (size_t)bytes))
                return false;
        } else if (!j->types[h.type].replay(j->types[h.type].ctx, h.type, p, h.count, h.timestamp, why, sizeof(why))) {
            return replay_fail(r, seq, why);
        }
        p += bytes;
    }
    r->stats->records++;
    r->stats->bytes += len;
    r->expected_seq++;
    return true;
}

enum mopay_err mopay_journal_replay(struct mopay_journal *j, struct mopay_store *store,
                                    struct mopay_journal_replay_stats *out, char *err, size_t err_cap)
{
    memset(out, 0, sizeof(*out));
    struct replay r = {j, out, 1, err, err_cap, false};
    enum mopay_err e = store->ledger_log_load(store, replay_record, &r);
    mopay_journal_discard(j);
    if (r.failed)
        return MOPAY_ERR_store_failed;
    if (e != MOPAY_OK) {
        snprintf(err, err_cap, "reading the log: %s", store->last_error);
        return e;
    }
    j->next_seq = r.expected_seq;
    return MOPAY_OK;
}
