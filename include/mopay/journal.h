#ifndef MOPAY_JOURNAL_H
#define MOPAY_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mopay/codec.h"
#include "mopay/err.h"
#include "mopay/store.h"

/* The journal: the one durable log every change of state goes to. Each sequencer batch that
 * changed something is one log record, appended in the batch's own transaction, so the log holds
 * exactly the committed changes in order, and replaying it from empty rebuilds the state.
 *
 * A record: u32 magic "MLG1", u32 version 2, then groups until its end, each
 *   u32 type, u32 count, i64 timestamp (ns), then count * size(type) bytes
 * Types 1 to 3 are the ledger's fixed-size events (mopay/ledger_service.h); type 4 holds record
 * images (mopay/codec.h) one after another, its count being their length in bytes. Version 1
 * records (before record images) hold only the ledger's groups and read the same. All of it
 * runs on the sequencer thread, or at start before it runs. */

#define MOPAY_JOURNAL_GROUP_RECORDS 4u
#define MOPAY_JOURNAL_GROUP_TYPES_MAX 8u
#define MOPAY_JOURNAL_KIND_TAGS_MAX 64u

struct mopay_journal;

struct mopay_journal *mopay_journal_new(void);
void mopay_journal_free(struct mopay_journal *journal);

/* At start: a kind of group other than record images (the ledger's), its events' size and what
 * replays it. `replay` returns false with a reason in `why` when it cannot. */
typedef bool (*mopay_journal_group_fn)(void *ctx, uint32_t type, const uint8_t *events, uint32_t count,
                                       int64_t timestamp, char *why, size_t why_cap);
void mopay_journal_group_type(struct mopay_journal *journal, uint32_t type, size_t event_size,
                              mopay_journal_group_fn replay, void *ctx);

/* At start: a record kind and the state its images come from and go back to. */
void mopay_journal_register(struct mopay_journal *journal, const struct mopay_record_kind *kind, void *state);

/* Sequencer: a group of `count` events of a registered group type, applied at `timestamp`. */
void mopay_journal_group(struct mopay_journal *journal, uint32_t type, const void *events, uint32_t count,
                         int64_t timestamp);

/* Sequencer: `record` of a registered kind as it is now (put) or gone (remove), in this batch's
 * record. MOPAY_OK, or store_failed when a CUSTOM field could not be encoded (the batch must not
 * commit: the sequencer stops). */
enum mopay_err mopay_journal_put(struct mopay_journal *journal, const struct mopay_record_kind *kind,
                                 const void *record, int64_t now_ns);
enum mopay_err mopay_journal_remove(struct mopay_journal *journal, const struct mopay_record_kind *kind,
                                    const void *record, int64_t now_ns);

/* Sequencer, before the batch commits: appends the batch's record, when it holds anything. */
enum mopay_err mopay_journal_commit(struct mopay_journal *journal, struct mopay_store *store);

/* The batch's record so far was not committed (a failed transaction): forget it. */
void mopay_journal_discard(struct mopay_journal *journal);

/* At start, every kind and group type registered: replays the store's log into them, in order.
 * On failure a reason goes to `err`, naming the record. */
struct mopay_journal_replay_stats {
    uint64_t records, images, bytes;
};
enum mopay_err mopay_journal_replay(struct mopay_journal *journal, struct mopay_store *store,
                                    struct mopay_journal_replay_stats *out, char *err, size_t err_cap);

/* Puts an image of every live record of every registered kind, in registration order, into the
 * batch's record: what an upgrade from the older records writes (and a snapshot will). */
enum mopay_err mopay_journal_put_all(struct mopay_journal *journal, int64_t now_ns);

/* At start, after replay and after each module loaded its records written before the journal (a
 * database from before it): inside the caller's transaction, deletes those rows of every
 * registered kind (its name is their kind) and, when there were any, puts the image of every live
 * record into the batch's record; the caller commits the journal and the transaction, so the move
 * happens once and whole. Reports how many rows it moved. */
enum mopay_err mopay_journal_absorb_records(struct mopay_journal *journal, struct mopay_store *store, int64_t now_ns,
                                            int64_t *out_moved);

/* The next record's number (records are numbered from 1 without gaps). */
int64_t mopay_journal_next_seq(const struct mopay_journal *journal);

#endif
