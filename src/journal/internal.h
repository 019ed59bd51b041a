#ifndef MOPAY_JOURNAL_INTERNAL_H
#define MOPAY_JOURNAL_INTERNAL_H

#include "mopay/journal.h"

#define JOURNAL_MAGIC 0x31474c4du /* "MLG1" */
#define JOURNAL_VERSION 2u
#define RECORD_HEAD_BYTES 8u
#define RECORD_INITIAL_BYTES ((size_t)1 << 20)

struct journal_group_header {
    uint32_t type;
    uint32_t count;
    int64_t timestamp;
};
_Static_assert(sizeof(struct journal_group_header) == 16, "log group header layout");

struct group_type {
    size_t event_size;
    mopay_journal_group_fn replay;
    void *ctx;
    bool known;
};

struct kind_slot {
    const struct mopay_record_kind *kind;
    void *state;
};

struct mopay_journal {
    uint8_t *record; /* this batch's record; grows to the largest batch, then stays */
    size_t record_len, record_cap;
    size_t records_group; /* offset of the open record-images group's header; 0: none */
    int64_t next_seq;
    struct group_type types[MOPAY_JOURNAL_GROUP_TYPES_MAX + 1];
    struct kind_slot kinds[MOPAY_JOURNAL_KIND_TAGS_MAX];
    uint16_t order[MOPAY_JOURNAL_KIND_TAGS_MAX]; /* tags in registration order */
    size_t kind_count;
    size_t image_max; /* the largest image of any kind */
    void *scratch;    /* replay: a decoded image (the largest kind) */
    size_t scratch_size;
};

#endif
