#include "mopay/seq.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "mopay/assert.h"
#include "mopay/clock.h"
#include "mopay/limits.h"
#include "mopay/log.h"

struct mopay_seq {
    struct mopay_store *store;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t nonempty;
    struct mopay_seq_cmd **ring; /* capacity slots, allocated once at start */
    size_t capacity;
    size_t head;                 /* next to take */
    size_t count;
    bool stopping;
    struct mopay_seq_cmd **batch; /* MOPAY_WRITER_BATCH_COMMANDS_MAX slots */
    struct mopay_seq_hooks hooks;
    int64_t tick_due_ns;          /* monotonic */

    _Atomic uint64_t batches, commands, rejected_full, commit_ns_total, tick_errors;
    _Atomic uint64_t batch_size_buckets[14];
};

enum mopay_err mopay_seq_submit(struct mopay_seq *seq, struct mopay_seq_cmd *cmd)
{
    MOPAY_ASSERT(cmd->apply != NULL && cmd->done != NULL);
    enum mopay_err err = MOPAY_OK;
    pthread_mutex_lock(&seq->lock);
    if (seq->stopping) {
        err = MOPAY_ERR_shutting_down;
    } else if (seq->count == seq->capacity) {
        err = MOPAY_ERR_overloaded;
        atomic_fetch_add_explicit(&seq->rejected_full, 1, memory_order_relaxed);
    } else {
        seq->ring[(seq->head + seq->count) % seq->capacity] = cmd;
        if (seq->count++ == 0)
            pthread_cond_signal(&seq->nonempty);
    }
    pthread_mutex_unlock(&seq->lock);
    return err;
}

static bool seq_tick_due(struct mopay_seq *seq)
{
    return seq->hooks.tick != NULL && mopay_clock_monotonic_ns() >= seq->tick_due_ns;
}

/* Waits for work or for the next tick; returns how many commands it moved into seq->batch. */
static size_t seq_take_batch(struct mopay_seq *seq)
{
    pthread_mutex_lock(&seq->lock);
    while (seq->count == 0 && !seq->stopping && !seq_tick_due(seq)) {
        if (seq->hooks.tick == NULL) {
            pthread_cond_wait(&seq->nonempty, &seq->lock);
            continue;
        }
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        int64_t wait_ns = seq->tick_due_ns - mopay_clock_monotonic_ns();
        wait_ns = wait_ns < 0 ? 0 : wait_ns;
        deadline.tv_sec += (time_t)(wait_ns / 1000000000);
        deadline.tv_nsec += (long)(wait_ns % 1000000000);
        if (deadline.tv_nsec >= 1000000000) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&seq->nonempty, &seq->lock, &deadline);
    }
    size_t n = 0;
    uint64_t weight = 0;
    while (n < seq->count && n < MOPAY_WRITER_BATCH_COMMANDS_MAX) {
        struct mopay_seq_cmd *cmd = seq->ring[(seq->head + n) % seq->capacity];
        uint64_t w = cmd->weight > 0 ? cmd->weight : 1;
        if (n > 0 && weight + w > MOPAY_WRITER_BATCH_EVENTS_MAX)
            break;
        weight += w;
        seq->batch[n++] = cmd;
    }
    seq->head = (seq->head + n) % seq->capacity;
    seq->count -= n;
    pthread_mutex_unlock(&seq->lock);
    return n;
}

static _Noreturn void seq_fail_stop(struct mopay_seq *seq, const char *what, enum mopay_err err)
{
    MOPAY_LOG_ERROR("store failed; stopping so that nothing unacknowledged is lost", "backend=%s step=%s code=%s",
                    seq->store->backend, what, mopay_err_code(err));
    abort();
}

static void seq_tick_failed(struct mopay_seq *seq, enum mopay_err err)
{
    if (atomic_fetch_add_explicit(&seq->tick_errors, 1, memory_order_relaxed) % 1000 == 0)
        MOPAY_LOG_WARN("tick could not finish; it is tried again at the next tick", "code=%s", mopay_err_code(err));
}

static void seq_run_batch(struct mopay_seq *seq, size_t n)
{
    int64_t now_ns = mopay_clock_now_ns();
    int64_t t0 = mopay_clock_monotonic_ns();
    enum mopay_err err = seq->store->begin(seq->store);
    if (err != MOPAY_OK)
        seq_fail_stop(seq, "begin", err);
    if (seq_tick_due(seq)) {
        seq->tick_due_ns = mopay_clock_monotonic_ns() + seq->hooks.tick_interval_ns;
        err = seq->hooks.tick(seq->hooks.ctx, seq->store, now_ns);
        if (mopay_store_err_fatal(err))
            seq_fail_stop(seq, "tick", err);
        if (err != MOPAY_OK) /* an operating error (no room, say): what the tick did stands, and
                                the next tick tries the rest again; the process goes on */
            seq_tick_failed(seq, err);
    }
    for (size_t i = 0; i < n; i++) {
        struct mopay_seq_cmd *cmd = seq->batch[i];
        cmd->applied_at_ns = now_ns;
        cmd->result = cmd->apply(cmd, seq->store, now_ns);
        if (mopay_store_err_fatal(cmd->result))
            seq_fail_stop(seq, "apply", cmd->result);
    }
    if (seq->hooks.before_commit != NULL) {
        err = seq->hooks.before_commit(seq->hooks.ctx, seq->store, now_ns);
        if (err != MOPAY_OK)
            seq_fail_stop(seq, "before_commit", err);
    }
    err = seq->store->commit(seq->store);
    if (err != MOPAY_OK)
        seq_fail_stop(seq, "commit", err);
    atomic_fetch_add_explicit(&seq->commit_ns_total, (uint64_t)(mopay_clock_monotonic_ns() - t0),
                              memory_order_relaxed);
    for (size_t i = 0; i < n; i++)
        seq->batch[i]->done(seq->batch[i]);
    if (n == 0)
        return; /* a tick alone */

    size_t bucket = 0;
    while (bucket < 13 && ((size_t)1 << bucket) < n)
        bucket++;
    atomic_fetch_add_explicit(&seq->batch_size_buckets[bucket], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&seq->batches, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&seq->commands, n, memory_order_relaxed);
}

static void *seq_main(void *arg)
{
    struct mopay_seq *seq = arg;
    for (;;) {
        size_t n = seq_take_batch(seq);
        if (n == 0 && !seq_tick_due(seq))
            break; /* stopping and drained */
        seq_run_batch(seq, n);
    }
    return NULL;
}

struct mopay_seq *mopay_seq_start(struct mopay_store *store, size_t queue_capacity)
{
    MOPAY_ASSERT(store != NULL && queue_capacity > 0);
    struct mopay_seq *seq = calloc(1, sizeof(*seq));
    if (seq == NULL)
        return NULL;
    seq->store = store;
    seq->capacity = queue_capacity;
    seq->ring = calloc(queue_capacity, sizeof(*seq->ring));
    seq->batch = calloc(MOPAY_WRITER_BATCH_COMMANDS_MAX, sizeof(*seq->batch));
    if (seq->ring == NULL || seq->batch == NULL)
        goto fail;
    pthread_mutex_init(&seq->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&seq->nonempty, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&seq->thread, NULL, seq_main, seq) != 0) {
        pthread_cond_destroy(&seq->nonempty);
        pthread_mutex_destroy(&seq->lock);
        goto fail;
    }
    return seq;
fail:
    free(seq->ring);
    free(seq->batch);
    free(seq);
    return NULL;
}

void mopay_seq_set_hooks(struct mopay_seq *seq, const struct mopay_seq_hooks *hooks)
{
    MOPAY_ASSERT(hooks->tick == NULL || hooks->tick_interval_ns > 0);
    pthread_mutex_lock(&seq->lock);
    seq->hooks = *hooks;
    seq->tick_due_ns = mopay_clock_monotonic_ns();
    pthread_cond_signal(&seq->nonempty);
    pthread_mutex_unlock(&seq->lock);
}

void mopay_seq_stop(struct mopay_seq *seq)
{
    pthread_mutex_lock(&seq->lock);
    bool was_stopping = seq->stopping;
    seq->stopping = true;
    pthread_cond_signal(&seq->nonempty);
    pthread_mutex_unlock(&seq->lock);
    if (!was_stopping)
        pthread_join(seq->thread, NULL);
}

void mopay_seq_free(struct mopay_seq *seq)
{
    if (seq == NULL)
        return;
    mopay_seq_stop(seq);
    pthread_cond_destroy(&seq->nonempty);
    pthread_mutex_destroy(&seq->lock);
    free(seq->ring);
    free(seq->batch);
    free(seq);
}

void mopay_seq_stats(struct mopay_seq *seq, struct mopay_seq_stats *out)
{
    out->batches = atomic_load(&seq->batches);
    out->commands = atomic_load(&seq->commands);
    out->rejected_full = atomic_load(&seq->rejected_full);
    out->tick_errors = atomic_load(&seq->tick_errors);
    out->commit_ns_total = atomic_load(&seq->commit_ns_total);
    for (int i = 0; i < 14; i++)
        out->batch_size_buckets[i] = atomic_load(&seq->batch_size_buckets[i]);
    pthread_mutex_lock(&seq->lock);
    out->queue_depth = seq->count;
    out->queue_capacity = seq->capacity;
    pthread_mutex_unlock(&seq->lock);
}
