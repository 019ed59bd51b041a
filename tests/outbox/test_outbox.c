/* The webhook outbox over a real sequencer and SQLite file, delivering to a real HTTP receiver on
 * loopback: signatures and exact bodies, failed commands, refused connections, 5xx retries with
 * doubling waits, the dead letter, restarts, and exactly one delivery per event on 200. The
 * manual clock drives the back-off; the delivery thread naps in real time, so the checks that
 * nothing happens wait a little longer than one nap. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "mopay/clock.h"
#include "mopay/keys.h"
#include "mopay/limits.h"
#include "mopay/outbox.h"
#include "mopay/seq.h"
#include "mopay/store.h"
#include "support/receiver.h"

#define S INT64_C(1000000000)
#define MS INT64_C(1000000)
#define T0 (INT64_C(1699956000) * S) /* 2023-11-14T10:00:00Z */
#define T0_TEXT "2023-11-14T10:00:00.000Z"
#define NAP_US (2 * MOPAY_WEBHOOK_IDLE_WAIT_MS * 1000) /* longer than one nap of the delivery thread */

/* Polls for up to 10 s of real time. */
#define WAIT_FOR(expr)                                      \
    do {                                                    \
        for (int wait_i = 0; wait_i < 10000 && !(expr); wait_i++) \
            usleep(1000);                                   \
        assert_true(expr);                                  \
    } while (0)

/* --- the world: a store, the sequencer over it, the outbox --- */

static const struct mopay_keys *keys;
static char db_path[64], url[64], merchant[MOPAY_ID_TEXT_BYTES];
static const uint8_t secret[32] = "whsec-0123456789abcdef012345678";

struct world {
    struct mopay_store *store;
    struct mopay_seq *seq;
    struct mopay_outbox *outbox;
};

static struct mopay_store *open_store(void)
{
    char err[256], store_url[96];
    snprintf(store_url, sizeof(store_url), "sqlite:%s", db_path);
    struct mopay_store *s = mopay_store_open(store_url, err, sizeof(err));
    assert_non_null(s);
    return s;
}

/* The started world (a static of its test), which teardown stops when a failed check left the
 * test early, so that its threads do not run into the next test. */
static struct world *live;

/* A server start: open, load, start the sequencer, then the delivery thread. */
static void world_start(struct world *w, const struct mopay_outbox_options *options)
{
    char err[256];
    live = w;
    w->store = open_store();
    w->outbox = mopay_outbox_new(options);
    assert_non_null(w->outbox);
    assert_int_equal(mopay_outbox_load(w->outbox, w->store, err, sizeof(err)), MOPAY_OK);
    w->seq = mopay_seq_start(w->store, 1024);
    assert_non_null(w->seq);
    assert_int_equal(mopay_outbox_start(w->outbox, w->seq), MOPAY_OK);
}

/* A server stop, in the order the server stops: deliveries first, then the sequencer. */
static void world_stop(struct world *w)
{
    mopay_outbox_stop(w->outbox);
    mopay_seq_free(w->seq);
    mopay_outbox_free(w->outbox);
    w->store->close(w->store);
    live = NULL;
}

static struct mopay_outbox_stats stats_of(struct world *w)
{
    struct mopay_outbox_stats st;
    mopay_outbox_stats(w->outbox, &st);
    return st;
}

/* A command as a domain module writes one: checks first (room in the outbox among them), then
 * its change (a meta key), then its events, last. */
struct add_cmd {
    struct mopay_seq_cmd seq;
    struct mopay_outbox *outbox;
    const char *change; /* the meta key its change writes */
    int events;
    int amount_minor;   /* of the first event; the next ones count up */
    bool fail;          /* a check of its own fails */
    bool skip_room;     /* neither checks room nor changes anything: only adds */
    const char *merchant_id; /* whose events; NULL: the test's merchant */
    char ids[16][MOPAY_ID_TEXT_BYTES];
    _Atomic bool done;
};

static enum mopay_err add_apply(struct mopay_seq_cmd *cmd, struct mopay_store *store, int64_t now_ns)
{
    struct add_cmd *c = (struct add_cmd *)cmd;
    const char *to = c->merchant_id != NULL ? c->merchant_id : merchant;
    struct mopay_id to_id;
    assert_int_equal(mopay_id_parse(MOPAY_ID_MERCHANT, to, strlen(to), &to_id), MOPAY_OK);
    enum mopay_err err = c->skip_room ? MOPAY_OK : mopay_outbox_check_room(c->outbox, (size_t)c->events);
    if (err == MOPAY_OK && !c->skip_room)
        err = mopay_outbox_merchant_room(c->outbox, &to_id, (size_t)c->events);
    if (err != MOPAY_OK)
        return err;
    if (c->fail)
        return MOPAY_ERR_field_invalid;
    if (!c->skip_room && (err = store->meta_put(store, c->change, "done")) != MOPAY_OK)
        return err;
    for (int i = 0; i < c->events && err == MOPAY_OK; i++) {
        json_t *data = json_pack("{s:s, s:i}", "object", "payment", "amount_minor", c->amount_minor + i);
        err = mopay_outbox_add(c->outbox, store, now_ns, to, url, secret, "payment.succeeded", data, c->ids[i]);
    }
    return err;
}

static void add_done(struct mopay_seq_cmd *cmd)
{
    atomic_store(&((struct add_cmd *)cmd)->done, true);
}

/* Submits a command adding `events` events and waits for its result. */
static enum mopay_err add_events(struct world *w, struct add_cmd *c, const char *change, int events, int amount_minor)
{
    assert_true(events <= 16);
    c->seq = (struct mopay_seq_cmd){.apply = add_apply, .done = add_done};
    c->outbox = w->outbox;
    c->change = change;
    c->events = events;
    c->amount_minor = amount_minor;
    atomic_store(&c->done, false);
    assert_int_equal(mopay_seq_submit(w->seq, &c->seq), MOPAY_OK);
    WAIT_FOR(atomic_load(&c->done));
    return c->seq.result;
}

/* --- checks --- */

static void expected_body(const char *id, int amount_minor, char *out, size_t cap)
{
    snprintf(out, cap,
             "{\"id\":\"%s\",\"type\":\"payment.succeeded\",\"created_at\":\"" T0_TEXT "\",\"data\":"
             "{\"object\":\"payment\",\"amount_minor\":%d}}",
             id, amount_minor);
}

/* The request's signature is ours over "t.body" and t is `t_s`. */
static void assert_signed(const struct rx_request *r, int64_t t_s)
{
    long long t = 0;
    char v1[65] = "", hex[65], prefix[32];
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    assert_int_equal(sscanf(r->signature, "t=%lld,v1=%64[0-9a-f]", &t, v1), 2);
    assert_int_equal(t, t_s);
    int prefix_len = snprintf(prefix, sizeof(prefix), "%lld.", t);
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, secret, sizeof(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)prefix, (size_t)prefix_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)r->body, r->body_len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
    assert_string_equal(v1, hex);
}

static const struct rx_request *rx_find(const char *event_id, size_t nth)
{
    for (size_t i = 0; i < rx_count(); i++)
        if (strcmp(rx_request_at(i)->event_id, event_id) == 0 && nth-- == 0)
            return rx_request_at(i);
    return NULL;
}

static size_t rx_times(const char *event_id)
{
    size_t n = 0;
    while (rx_find(event_id, n) != NULL)
        n++;
    return n;
}

/* The webhook records, read through a connection of their own once the world has stopped. */
struct records {
    size_t count;
    json_t *items[64];
};

static bool records_each(void *ctx, const char *id, const char *json, size_t len)
{
    struct records *r = ctx;
    (void)id;
    assert_true(r->count < 64);
    r->items[r->count] = json_loadb(json, len, 0, NULL);
    assert_non_null(r->items[r->count]);
    r->count++;
    return true;
}

static void records_read(struct records *out)
{
    struct mopay_store *s = open_store();
    out->count = 0;
    assert_int_equal(s->records_load(s, "webhook", records_each, out), MOPAY_OK);
    s->close(s);
}

static void records_free(struct records *r)
{
    for (size_t i = 0; i < r->count; i++)
        json_decref(r->items[i]);
}

static bool meta_present(const char *key)
{
    struct mopay_store *s = open_store();
    char value[16];
    bool found = false;
    assert_int_equal(s->meta_get(s, key, value, sizeof(value), &found), MOPAY_OK);
    s->close(s);
    return found;
}

/* --- fixtures --- */

static int setup(void **state)
{
    (void)state;
    snprintf(db_path, sizeof(db_path), "/tmp/mopay-outbox-%d.db", (int)getpid());
    unlink(db_path);
    mopay_clock_set_ns(T0);
    rx_clear();
    rx_answer(200);
    rx_start(0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/hooks", rx_port());
    struct mopay_id id;
    mopay_id_new(T0, &id);
    mopay_id_format(MOPAY_ID_MERCHANT, &id, merchant);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (live != NULL)
        world_stop(live);
    rx_stop();
    char p[96];
    unlink(db_path);
    snprintf(p, sizeof(p), "%s-wal", db_path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", db_path);
    unlink(p);
    return 0;
}

static int group_setup(void **state)
{
    (void)state;
    char err[256];
    setenv("MOPAY_MASTER_KEY", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 1);
    keys = mopay_keys_load("/nonexistent/master.key", err, sizeof(err));
    return keys == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
    (void)state;
    mopay_keys_free(keys);
    return 0;
}

/* --- tests --- */

static void committed_events_are_delivered_signed(void **state)
{
    (void)state;
    static struct world w;
    struct mopay_outbox_options options = mopay_outbox_options_default(keys);
    world_start(&w, &options);
    static struct add_cmd first, second;
    assert_int_equal(add_events(&w, &first, "order-1", 3, 100), MOPAY_OK);
    assert_int_equal(add_events(&w, &second, "order-2", 2, 500), MOPAY_OK);
    WAIT_FOR(stats_of(&w).delivered == 5);
    struct mopay_outbox_stats st = stats_of(&w);
    assert_int_equal(st.failed_attempts, 0);
    assert_int_equal(st.pending, 0);
    world_stop(&w);

    assert_int_equal(rx_count(), 5);
    const struct add_cmd *cmds[] = {&first, &second};
    for (int c = 0; c < 2; c++) {
        for (int i = 0; i < cmds[c]->events; i++) {
            const struct rx_request *r = rx_find(cmds[c]->ids[i], 0);
            char body[512];
            assert_non_null(r);
            expected_body(cmds[c]->ids[i], cmds[c]->amount_minor + i, body, sizeof(body));
            assert_string_equal(r->body, body);
            assert_string_equal(r->request_line, "POST /hooks HTTP/1.1");
            assert_string_equal(r->content_type, "application/json");
            assert_signed(r, T0 / S);
        }
    }
    struct records records;
    records_read(&records);
    assert_int_equal(records.count, 0); /* delivered events are deleted */
    assert_true(meta_present("order-1") && meta_present("order-2"));
}

/* A command that fails does so in its checks, before any write, and so before any event. */
static void failed_commands_add_no_events(void **state)
{
    (void)state;
    static struct world w;
    struct mopay_outbox_options options = mopay_outbox_options_default(keys);
    options.pending_max = 2;
    world_start(&w, &options);
    rx_stop(); /* nothing is delivered for now: the outbox stays full */
    static struct add_cmd failing, ok, full, unchecked;
    failing.fail = true;
    assert_int_equal(add_events(&w, &failing, "order-failing", 1, 300), MOPAY_ERR_field_invalid);
    assert_int_equal(add_events(&w, &ok, "order-ok", 2, 100), MOPAY_OK);
    assert_int_equal(add_events(&w, &full, "order-full", 1, 200), MOPAY_ERR_capacity_exhausted);
    unchecked.skip_room = true;
    assert_int_equal(add_events(&w, &unchecked, "order-unchecked", 1, 400), MOPAY_ERR_capacity_exhausted);
    WAIT_FOR(stats_of(&w).failed_attempts == 2);

    rx_start(rx_port());
    mopay_clock_advance_ns(1 * S);
    WAIT_FOR(stats_of(&w).delivered == 2);
    mopay_clock_advance_ns(3600 * S);
    usleep(NAP_US);
    world_stop(&w);

    assert_int_equal(rx_count(), 2);
    assert_int_equal(rx_times(ok.ids[0]), 1);
    assert_int_equal(rx_times(ok.ids[1]), 1);
    struct records records;
    records_read(&records);
    assert_int_equal(records.count, 0);
    assert_true(meta_present("order-ok"));
    assert_false(meta_present("order-full") || meta_present("order-failing"));
}

static void refused_connections_are_retried_after_back_off(void **state)
{
    (void)state;
    static struct world w;
    struct mopay_outbox_options options = mopay_outbox_options_default(keys);
    world_start(&w, &options);
    rx_stop();
    static struct add_cmd c;
    assert_int_equal(add_events(&w, &c, "order-1", 1, 100), MOPAY_OK);
    WAIT_FOR(stats_of(&w).failed_attempts == 1); /* at T0; the next at T0 + 1 s */
    mopay_clock_advance_ns(1 * S);
    WAIT_FOR(stats_of(&w).failed_attempts == 2); /* the next at T0 + 3 s */

    rx_start(rx_port());
    mopay_clock_advance_ns(2 * S - MS);
    usleep(NAP_US);
    assert_int_equal(rx_count(), 0); /* up, but the back-off has not passed */
    mopay_clock_advance_ns(MS);
    WAIT_FOR(stats_of(&w).delivered == 1);
    assert_int_equal(stats_of(&w).failed_attempts, 2);
    world_stop(&w);

    assert_int_equal(rx_count(), 1);
    char body[512];
    expected_body(c.ids[0], 100, body, sizeof(body));
    assert_string_equal(rx_request_at(0)->body, body);
    assert_signed(rx_request_at(0), T0 / S + 3);
    struct records records;
    records_read(&records);
    assert_int_equal(records.count, 0);
}

/* Each wait is twice the last; every attempt sends the same bytes, signed anew. */
static void server_errors_are_retried_with_doubling_waits(void **state)
{
    (void)state;
    static struct world w;
    struct mopay_outbox_options options = mopay_outbox_options_default(keys);
    world_start(&w, &options);
    rx_answer(500);
    static struct add_cmd c;
    assert_int_equal(add_events(&w, &c, "order-1", 1, 100), MOPAY_OK);
    WAIT_FOR(stats_of(&w).failed_attempts == 1);
    int64_t sent_s[5] = {0};
    for (int k = 0; k < 4; k++) {
        int64_t wait_s = INT64_C(1) << k;
        mopay_clock_advance_ns(wait_s * S - MS);
        usleep(NAP_US);
        assert_int_equal(rx_count(), (size_t)k + 1); /* not yet */
        if (k == 3)
            rx_answer(200);
        mopay_clock_advance_ns(MS);
        sent_s[k + 1] = sent_s[k] + wait_s;
        if (k < 3)
            WAIT_FOR(stats_of(&w).failed_attempts == (uint64_t)k + 2);
    }
    WAIT_FOR(stats_of(&w).delivered == 1);
    world_stop(&w);

    assert_int_equal(rx_count(), 5);
    char body[512];
    expected_body(c.ids[0], 100, body, sizeof(body));
    for (int k = 0; k < 5; k++) {
        assert_string_equal(rx_request_at(k)->event_id, c.ids[0]);
        assert_string_equal(rx_request_at(k)->body, body);
        assert_int_equal(rx_request_at(k)->answered, k < 4 ? 500 : 200);
        assert_signed(rx_request_at(k), T0 / S + sent_s[k]);
    }
}

/* 15 failed attempts, the waits capped at an hour, then kept as failed and never sent again,
 * not even after a restart. */
static void events_are_dead_after_the_last_attempt(void **state)
{
    (void)state;
    static struct world w;
    struct mopay_outbox_options options = mopay_outbox_options_default(keys);
    world_start(&w, &options);
    rx_answer(500);
    static struct add_cmd c;
    assert_int_equal(add_events(&w, &c, "order-1", 1, 100), MOPAY_OK);
    for (uint64_t k = 1; k < MOPAY_WEBHOOK_ATTEMPTS_MAX; k++) {
        WAIT_FOR(stats_of(&w).failed_attempts == k);
        int64_t wait_s = k - 1 < 12 ? INT64_C(1) << (k - 1) : MOPAY_WEBHOOK_RETRY_MAX_S;
        if (k == 13) { /* 4096 s, capped */
            mopay_clock_advance_ns(wait_s * S - MS);
            usleep(NAP_US);
            assert_int_equal(rx_count(), 13);
            wait_s = 0;
            mopay_clock_advance_ns(MS);
        }
        mopay_clock_advance_ns(wait_s * S);
    }
    WAIT_FOR(stats_of(&w).dead == 1);
    assert_int_equal(stats_of(&w).failed_attempts, MOPAY_WEBHOOK_ATTEMPTS_MAX);
    assert_int_equal(stats_of(&w).pending, 0);
    mopay_clock_advance_ns(24 * 3600 * S);
    usleep(NAP_US);
    world_stop(&w);
    assert_int_equal(rx_count(), MOPAY_WEBHOOK_ATTEMPTS_MAX);

    struct records records;
    records_read(&records);
    assert_int_equal(records.count, 1);
    json_t *r = records.items[0];
    assert_string_equal(json_string_value(json_object_get(r, "status")), "failed");
    assert_int_equal(json_integer_value(json_object_get(r, "attempts")), MOPAY_WEBHOOK_ATTEMPTS_MAX);
    assert_int_equal(json_integer_value(json_object_get(r, "last_status")), 500);
    records_free(&records);

    world_start(&w, &options);
    assert_int_equal(stats_of(&w).dead, 1);
    assert_int_equal(stats_of(&w).pending, 0);
    usleep(NAP_US);
    world_stop(&w);
    assert_int_equal(rx_count(), MOPAY_WEBHOOK_ATTEMPTS_MAX);
}

/* Stopped with events pending: they, their attempts and their bodies come back from the store. */
/* A merchant whose endpoint is down fills its own share (per_merchant_max), not the outbox; the
 * shares and the whole are counted again at a start, which keeps every pending event even
 * beyond a lowered pending_max; deliveries give the room back. */
static void each_merchant_fills_its_own_share(void **state)
{
    (void)state;
    static struct world w;
    struct mopay_outbox_options options = mopay_outbox_options_default(keys);
    options.per_merchant_max = 2;
    options.pending_max = 5;
    world_start(&w, &options);
    rx_stop();
    char other[2][MOPAY_ID_TEXT_BYTES];
    for (int i = 0; i < 2; i++) {
        struct mopay_id id;
        mopay_id_new(T0 + i + 1, &id);
        mopay_id_format(MOPAY_ID_MERCHANT, &id, other[i]);
    }
    static struct add_cmd a, a_more, b, b_more, c, c_more;
    assert_int_equal(add_events(&w, &a, "a-1", 2, 100), MOPAY_OK);
    assert_int_equal(add_events(&w, &a_more, "a-2", 1, 100), MOPAY_ERR_capacity_exhausted);
    b.merchant_id = b_more.merchant_id = other[0];
    assert_int_equal(add_events(&w, &b, "b-1", 2, 100), MOPAY_OK);
    assert_int_equal(add_events(&w, &b_more, "b-2", 1, 100), MOPAY_ERR_capacity_exhausted);
    c.merchant_id = c_more.merchant_id = other[1];
    assert_int_equal(add_events(&w, &c, "c-1", 1, 100), MOPAY_OK);
    assert_int_equal(add_events(&w, &c_more, "c-2", 1, 100), MOPAY_ERR_capacity_exhausted); /* 5 in all */
    world_stop(&w);
    assert_false(meta_present("a-2") || meta_present("b-2") || meta_present("c-2"));

    options.pending_max = 3; /* lowered: the 5 pending are all kept */
    world_start(&w, &options);
    assert_int_equal(stats_of(&w).pending, 5);
    static struct add_cmd a_again, b_again;
    assert_int_equal(add_events(&w, &a_again, "a-3", 1, 100), MOPAY_ERR_capacity_exhausted);
    rx_start(rx_port());
    mopay_clock_advance_ns(3600 * S);
    WAIT_FOR(stats_of(&w).delivered == 5);
    b_again.merchant_id = other[0];
    assert_int_equal(add_events(&w, &b_again, "b-3", 2, 100), MOPAY_OK);
    world_stop(&w);
}

static void pending_events_survive_a_restart(void **state)
{
    (void)state;
    static struct world w;
    struct mopay_outbox_options options = mopay_outbox_options_default(keys);
    world_start(&w, &options);
    rx_answer(500);
    static struct add_cmd c;
    assert_int_equal(add_events(&w, &c, "order-1", 3, 100), MOPAY_OK);
    WAIT_FOR(stats_of(&w).failed_attempts == 3);
    world_stop(&w);

    struct records records;
    records_read(&records);
    assert_int_equal(records.count, 3);
    for (size_t i = 0; i < records.count; i++) {
        json_t *r = records.items[i];
        assert_string_equal(json_string_value(json_object_get(r, "status")), "pending");
        assert_int_equal(json_integer_value(json_object_get(r, "attempts")), 1);
        assert_int_equal(json_integer_value(json_object_get(r, "next_attempt_at_ns")), T0 + 1 * S);
    }
    records_free(&records);

    rx_answer(200);
    world_start(&w, &options);
    assert_int_equal(stats_of(&w).pending, 3);
    mopay_clock_advance_ns(1 * S);
    WAIT_FOR(stats_of(&w).delivered == 3);
    world_stop(&w);

    assert_int_equal(rx_count(), 6);
    for (int i = 0; i < 3; i++) {
        char body[512];
        expected_body(c.ids[i], 100 + i, body, sizeof(body));
        const struct rx_request *before = rx_find(c.ids[i], 0), *after = rx_find(c.ids[i], 1);
        assert_non_null(before);
        assert_non_null(after);
        assert_int_equal(before->answered, 500);
        assert_int_equal(after->answered, 200);
        assert_string_equal(before->body, body);
        assert_string_equal(after->body, body);
        assert_signed(after, T0 / S + 1);
    }
    records_read(&records);
    assert_int_equal(records.count, 0);
}

static void each_event_is_delivered_once_on_200(void **state)
{
    (void)state;
    enum { COMMANDS = 20, PER_COMMAND = 10 };
    static struct world w;
    struct mopay_outbox_options options = mopay_outbox_options_default(keys);
    world_start(&w, &options);
    static struct add_cmd cmds[COMMANDS];
    static char changes[COMMANDS][16];
    for (int i = 0; i < COMMANDS; i++) {
        snprintf(changes[i], sizeof(changes[i]), "order-%d", i);
        assert_int_equal(add_events(&w, &cmds[i], changes[i], PER_COMMAND, i * PER_COMMAND), MOPAY_OK);
    }
    WAIT_FOR(stats_of(&w).delivered == COMMANDS * PER_COMMAND);
    mopay_clock_advance_ns(24 * 3600 * S); /* any retry would be due by now */
    usleep(NAP_US);
    assert_int_equal(stats_of(&w).failed_attempts, 0);
    world_stop(&w);

    assert_int_equal(rx_count(), COMMANDS * PER_COMMAND);
    for (int i = 0; i < COMMANDS; i++)
        for (int j = 0; j < PER_COMMAND; j++)
            assert_int_equal(rx_times(cmds[i].ids[j]), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(committed_events_are_delivered_signed, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_commands_add_no_events, setup, teardown),
        cmocka_unit_test_setup_teardown(refused_connections_are_retried_after_back_off, setup, teardown),
        cmocka_unit_test_setup_teardown(server_errors_are_retried_with_doubling_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(events_are_dead_after_the_last_attempt, setup, teardown),
        cmocka_unit_test_setup_teardown(pending_events_survive_a_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(each_merchant_fills_its_own_share, setup, teardown),
        cmocka_unit_test_setup_teardown(each_event_is_delivered_once_on_200, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
