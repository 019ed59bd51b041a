/* The sequencer: order, group commit, durability before `done`, back-pressure, stop, ticks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stdatomic.h>

#include <cmocka.h>

#include "mopay/clock.h"
#include "mopay/limits.h"
#include "mopay/seq.h"
#include "mopay/store.h"

struct test_cmd {
    struct mopay_seq_cmd seq;
    int index;
    bool fail;
    _Atomic int *done_count;
    int *order;          /* apply order log */
    _Atomic int *applied;
};

static enum mopay_err test_apply(struct mopay_seq_cmd *c, struct mopay_store *store, int64_t now_ns)
{
    struct test_cmd *t = (struct test_cmd *)c;
    (void)now_ns;
    if (t->fail)
        return MOPAY_ERR_field_invalid;
    char key[32], value[32];
    snprintf(key, sizeof(key), "k%d", t->index);
    snprintf(value, sizeof(value), "v%d", t->index);
    t->order[atomic_fetch_add(t->applied, 1)] = t->index;
    return store->meta_put(store, key, value);
}

static void test_done(struct mopay_seq_cmd *c)
{
    struct test_cmd *t = (struct test_cmd *)c;
    atomic_fetch_add(t->done_count, 1);
}

static char db_path[64];

static struct mopay_store *open_store(void)
{
    char err[256], url[96];
    snprintf(url, sizeof(url), "sqlite:%s", db_path);
    struct mopay_store *s = mopay_store_open(url, err, sizeof(err));
    assert_non_null(s);
    return s;
}

static int setup(void **state)
{
    (void)state;
    snprintf(db_path, sizeof(db_path), "/tmp/mopay-seq-%d.db", (int)getpid());
    unlink(db_path);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char p[96];
    unlink(db_path);
    snprintf(p, sizeof(p), "%s-wal", db_path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", db_path);
    unlink(p);
    return 0;
}

static void wait_for(_Atomic int *counter, int target)
{
    for (int i = 0; i < 2000 && atomic_load(counter) < target; i++)
        usleep(1000);
    assert_int_equal(atomic_load(counter), target);
}

static void applies_in_order_and_commits_before_done(void **state)
{
    (void)state;
    struct mopay_store *store = open_store();
    struct mopay_seq *seq = mopay_seq_start(store, 1024);
    enum { N = 500 };
    static struct test_cmd cmds[N];
    static int order[N];
    _Atomic int done = 0, applied = 0;
    for (int i = 0; i < N; i++) {
        cmds[i] = (struct test_cmd){{.apply = test_apply, .done = test_done}, i, i == 7, &done, order, &applied};
        assert_int_equal(mopay_seq_submit(seq, &cmds[i].seq), MOPAY_OK);
    }
    wait_for(&done, N);
    for (int i = 0; i < N - 1; i++)
        assert_true(i < 7 ? order[i] == i : order[i] == i + 1); /* submission order; #7 failed */
    assert_int_equal(cmds[7].seq.result, MOPAY_ERR_field_invalid);
    assert_int_equal(cmds[8].seq.result, MOPAY_OK);
    struct mopay_seq_stats st;
    mopay_seq_stats(seq, &st);
    assert_int_equal(st.commands, N);
    assert_true(st.batches >= 1 && st.batches <= N);
    mopay_seq_free(seq);
    /* durable: another connection sees every value */
    struct mopay_store *other = open_store();
    char value[16];
    bool found;
    assert_int_equal(other->meta_get(other, "k499", value, sizeof(value), &found), MOPAY_OK);
    assert_true(found);
    assert_string_equal(value, "v499");
    assert_int_equal(other->meta_get(other, "k7", value, sizeof(value), &found), MOPAY_OK);
    assert_false(found);
    other->close(other);
    store->close(store);
}

static enum mopay_err slow_apply(struct mopay_seq_cmd *c, struct mopay_store *store, int64_t now_ns)
{
    (void)store;
    (void)now_ns;
    (void)c;
    usleep(20000);
    return MOPAY_OK;
}

static void full_queue_is_refused_and_stop_drains(void **state)
{
    (void)state;
    struct mopay_store *store = open_store();
    struct mopay_seq *seq = mopay_seq_start(store, 4);
    static struct test_cmd cmds[64];
    _Atomic int done = 0, applied = 0;
    static int order[64];
    int accepted = 0, refused = 0;
    for (int i = 0; i < 64; i++) {
        cmds[i] = (struct test_cmd){{.apply = slow_apply, .done = test_done}, i, false, &done, order, &applied};
        enum mopay_err err = mopay_seq_submit(seq, &cmds[i].seq);
        assert_true(err == MOPAY_OK || err == MOPAY_ERR_overloaded);
        accepted += err == MOPAY_OK;
        refused += err == MOPAY_ERR_overloaded;
    }
    assert_true(refused > 0);
    mopay_seq_stop(seq); /* everything accepted is applied */
    assert_int_equal(atomic_load(&done), accepted);
    struct test_cmd late = {{.apply = slow_apply, .done = test_done}, 99, false, &done, order, &applied};
    assert_int_equal(mopay_seq_submit(seq, &late.seq), MOPAY_ERR_shutting_down);
    struct mopay_seq_stats st;
    mopay_seq_stats(seq, &st);
    assert_int_equal(st.rejected_full, (uint64_t)refused);
    mopay_seq_free(seq);
    store->close(store);
}

static void weighed_done(struct mopay_seq_cmd *c)
{
    struct test_cmd *t = (struct test_cmd *)c;
    atomic_fetch_add(t->done_count, 1);
}

/* Heavy commands are batched by the events they carry, not only by their count. */
static void batches_are_capped_by_weight(void **state)
{
    (void)state;
    struct mopay_store *store = open_store();
    struct mopay_seq *seq = mopay_seq_start(store, 64);
    static struct test_cmd cmds[40];
    static int order[40];
    _Atomic int done = 0, applied = 0;
    /* hold the sequencer so all 40 queue up, then let them through */
    struct test_cmd blocker = {{.apply = slow_apply, .done = weighed_done}, 0, false, &done, order, &applied};
    assert_int_equal(mopay_seq_submit(seq, &blocker.seq), MOPAY_OK);
    for (int i = 0; i < 40; i++) {
        cmds[i] = (struct test_cmd){{.apply = test_apply, .done = weighed_done, .weight = MOPAY_WRITER_BATCH_EVENTS_MAX / 4},
                                    i, false, &done, order, &applied};
        assert_int_equal(mopay_seq_submit(seq, &cmds[i].seq), MOPAY_OK);
    }
    wait_for(&done, 41);
    struct mopay_seq_stats st;
    mopay_seq_stats(seq, &st);
    assert_true(st.batches >= 1 + 40 / 4); /* at most four quarter-weight commands per batch */
    mopay_seq_free(seq);
    store->close(store);
}

static _Atomic int ticks;

static enum mopay_err count_tick(void *ctx, struct mopay_store *store, int64_t now_ns)
{
    (void)ctx;
    (void)now_ns;
    atomic_fetch_add(&ticks, 1);
    return store->meta_put(store, "ticked", "yes");
}

static void ticks_run_without_commands(void **state)
{
    (void)state;
    struct mopay_store *store = open_store();
    struct mopay_seq *seq = mopay_seq_start(store, 16);
    struct mopay_seq_hooks hooks = {.tick = count_tick, .tick_interval_ns = 20 * 1000000LL};
    mopay_seq_set_hooks(seq, &hooks);
    for (int i = 0; i < 2000 && atomic_load(&ticks) < 3; i++)
        usleep(1000);
    assert_true(atomic_load(&ticks) >= 3);
    mopay_seq_free(seq);
    char value[8];
    bool found;
    assert_int_equal(store->meta_get(store, "ticked", value, sizeof(value), &found), MOPAY_OK);
    assert_true(found);
    store->close(store);
}

/* A tick with no room for its work (an operating error) writes what it did and returns the
 * error: the batch commits it, the sequencer counts the error and goes on ticking. */
static enum mopay_err full_tick(void *ctx, struct mopay_store *store, int64_t now_ns)
{
    (void)ctx;
    (void)now_ns;
    atomic_fetch_add(&ticks, 1);
    enum mopay_err err = store->meta_put(store, "partly", "yes");
    return err != MOPAY_OK ? err : MOPAY_ERR_capacity_exhausted;
}

static void a_tick_without_room_does_not_stop(void **state)
{
    (void)state;
    atomic_store(&ticks, 0);
    struct mopay_store *store = open_store();
    struct mopay_seq *seq = mopay_seq_start(store, 16);
    struct mopay_seq_hooks hooks = {.tick = full_tick, .tick_interval_ns = 20 * 1000000LL};
    mopay_seq_set_hooks(seq, &hooks);
    for (int i = 0; i < 2000 && atomic_load(&ticks) < 3; i++)
        usleep(1000);
    assert_true(atomic_load(&ticks) >= 3);
    struct mopay_seq_stats st;
    mopay_seq_stats(seq, &st);
    assert_true(st.tick_errors >= 2);
    mopay_seq_free(seq);
    char value[8];
    bool found;
    assert_int_equal(store->meta_get(store, "partly", value, sizeof(value), &found), MOPAY_OK);
    assert_true(found);
    store->close(store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(applies_in_order_and_commits_before_done, setup, teardown),
        cmocka_unit_test_setup_teardown(full_queue_is_refused_and_stop_drains, setup, teardown),
        cmocka_unit_test_setup_teardown(ticks_run_without_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(a_tick_without_room_does_not_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(batches_are_capped_by_weight, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
