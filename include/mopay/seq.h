#ifndef MOPAY_SEQ_H
#define MOPAY_SEQ_H

#include <stddef.h>
#include <stdint.h>

#include "mopay/err.h"
#include "mopay/store.h"

/* The sequencer: the one thread that changes state.
 *
 * Any thread submits commands into a bounded queue; a full queue is refused at once
 * (overloaded), never waited on. The sequencer thread takes the queued commands as a batch,
 * reads the clock once, applies each command in order inside one store transaction, commits
 * the batch (group commit), and only then calls each command's `done`. So a submitter learns its
 * result only once that result is durable. A failed commit stops the process (fail-stop): what
 * was acknowledged is on disk, what was not is not, and a restart loads the state again. */

struct mopay_seq_cmd;

/* Runs on the sequencer thread inside the batch's transaction; `now_ns` is the batch's time.
 * Returns MOPAY_OK or an operating error for this command alone: a command that fails must
 * have written nothing. store_failed / store_unavailable from the store are fatal. */
typedef enum mopay_err (*mopay_seq_apply_fn)(struct mopay_seq_cmd *cmd, struct mopay_store *store,
                                             int64_t now_ns);
/* Runs on the sequencer thread after the batch is durable; must not block. */
typedef void (*mopay_seq_done_fn)(struct mopay_seq_cmd *cmd);

struct mopay_seq_cmd {
    mopay_seq_apply_fn apply;
    mopay_seq_done_fn done;
    uint32_t weight;       /* events it carries (0 counts as 1); a batch holds at most
                              MOPAY_WRITER_BATCH_EVENTS_MAX, or one heavier command alone */
    enum mopay_err result; /* what apply returned; set before done */
    int64_t applied_at_ns; /* the batch's time */
};

struct mopay_seq_stats {
    uint64_t batches;
    uint64_t commands;
    uint64_t rejected_full;
    uint64_t tick_errors; /* ticks that ended on an operating error (the process went on) */
    uint64_t queue_depth;
    uint64_t queue_capacity;
    uint64_t commit_ns_total;
    /* batch sizes: <=1, <=2, <=4, ... <=8192 (14 buckets, not cumulative) */
    uint64_t batch_size_buckets[14];
};

struct mopay_seq;

/* Starts the sequencer thread over `store`, which it then owns until mopay_seq_stop. */
struct mopay_seq *mopay_seq_start(struct mopay_store *store, size_t queue_capacity);
/* overloaded when the queue is full, shutting_down after stop began; MOPAY_OK otherwise, and
 * then `done` will be called exactly once. */
enum mopay_err mopay_seq_submit(struct mopay_seq *seq, struct mopay_seq_cmd *cmd);
/* What the sequencer calls besides commands, all on its thread, inside the batch's
 * transaction, with the same rules as apply (store errors are fatal):
 *   tick           work done by the sequencer's own clock (expiring pending transfers and old
 *                  idempotency records), at most once per tick_interval_ns, before the batch's
 *                  commands, with or without commands waiting. Unlike an apply, a tick that
 *                  returns an operating error (not a store error) does not stop anything: what
 *                  it did is committed with the batch and it runs again at the next interval, so
 *                  it must keep memory and records in step as it goes, and put off work it has
 *                  no room for rather than fail (counted in tick_errors);
 *   before_commit  after the batch's commands and before its commit (writing what the batch
 *                  gathered, such as the ledger's log record; checking invariants).
 * Set them before the first command is submitted. */
struct mopay_seq_hooks {
    void *ctx;
    int64_t tick_interval_ns; /* 0: no tick */
    enum mopay_err (*tick)(void *ctx, struct mopay_store *store, int64_t now_ns);
    enum mopay_err (*before_commit)(void *ctx, struct mopay_store *store, int64_t now_ns);
};
void mopay_seq_set_hooks(struct mopay_seq *seq, const struct mopay_seq_hooks *hooks);

/* Refuses new commands, applies and commits everything already queued, joins the thread. The
 * store is still open afterwards and belongs to the caller again. */
void mopay_seq_stop(struct mopay_seq *seq);
void mopay_seq_free(struct mopay_seq *seq);
void mopay_seq_stats(struct mopay_seq *seq, struct mopay_seq_stats *out);

#endif
