/* The webhook outbox over a real sequencer and SQLite file, delivering to a real HTTP receiver on
 * loopback: signatures and exact bodies, failed commands, refused connections, 5xx retries with
 * doubling waits, the dead letter, restarts, and exactly one delivery per event on 200. The
 * manual clock drives the back-off; the delivery thread naps in real time, so the checks that
 * nothing happens wait a little longer than one nap. Also where webhooks may go: the URL check,
 * names resolved and checked, a refused target never sent to, and a rotated key. The events' images
 * in the journal are read back through the outbox's own table (white box: src/outbox/internal.h),
 * and a replay gives back the events as they were. */
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

#include "internal.h" /* white box: the events' kind and the events themselves */
#include "mopay/clock.h"
#include "mopay/journal.h"
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

/* --- the world: a store, the journal, the sequencer over them, the outbox --- */

static const struct mopay_keys *keys;
static char db_path[64], url[128], merchant[MOPAY_ID_TEXT_BYTES];
static const uint8_t secret[32] = "whsec-0123456789abcdef012345678";
/* The HMAC key events are added with and checked against: the 32 bytes of a secret made before
 * secrets were text, or a "whsec_..." text's bytes. */
static const uint8_t *hmac_key = secret;
static size_t hmac_key_len = sizeof(secret);

/* The receiver is on loopback over http: these tests allow both, as the server's tests do. */
static struct mopay_outbox_options test_options(void)
{
    struct mopay_outbox_options options = mopay_outbox_options_default(keys);
    options.policy = (struct mopay_webhook_policy){.allow_private = true, .allow_insecure = true};
    return options;
}

struct world {
    struct mopay_store *store;
    struct mopay_journal *journal;
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

/* Each batch's images go into its log record, committed with it (the server's before_commit). */
static enum mopay_err journal_commit(void *ctx, struct mopay_store *store, int64_t now_ns)
{
    (void)now_ns;
    return mopay_journal_commit(ctx, store);
}

/* The outbox over a new journal on `store`, its log replayed and the outbox loaded: the start of
 * a server without its sequencer. */
static struct mopay_outbox *outbox_recover(struct mopay_store *store, const struct mopay_outbox_options *options,
                                           struct mopay_journal **out_journal)
{
    char err[256];
    struct mopay_outbox_options o = *options;
    o.journal = *out_journal = mopay_journal_new();
    assert_non_null(o.journal);
    struct mopay_outbox *outbox = mopay_outbox_new(&o);
    assert_non_null(outbox);
    struct mopay_journal_replay_stats stats;
    if (mopay_journal_replay(o.journal, store, &stats, err, sizeof(err)) != MOPAY_OK)
        fail_msg("replay: %s", err);
    assert_int_equal(mopay_outbox_load(outbox, store, err, sizeof(err)), MOPAY_OK);
    return outbox;
}

/* A server start: open, replay and load, start the sequencer, then the delivery thread. */
static void world_start(struct world *w, const struct mopay_outbox_options *options)
{
    live = w;
    w->store = open_store();
    w->outbox = outbox_recover(w->store, options, &w->journal);
    w->seq = mopay_seq_start(w->store, 1024);
    assert_non_null(w->seq);
    struct mopay_seq_hooks hooks = {.ctx = w->journal, .before_commit = journal_commit};
    mopay_seq_set_hooks(w->seq, &hooks);
    assert_int_equal(mopay_outbox_start(w->outbox, w->seq), MOPAY_OK);
}

/* A server stop, in the order the server stops: deliveries first, then the sequencer. */
static void world_stop(struct world *w)
{
    mopay_outbox_stop(w->outbox);
    mopay_seq_free(w->seq);
    mopay_outbox_free(w->outbox);
    mopay_journal_free(w->journal);
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
        err = mopay_outbox_add(c->outbox, now_ns, to, url, hmac_key, hmac_key_len, "payment.succeeded", data,
                               c->ids[i]);
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
    crypto_auth_hmacsha256_init(&st, hmac_key, hmac_key_len);
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

/* The events as the journal keeps them, read once the world has stopped through a store of its
 * own: every image decoded by the outbox's table (its key opened as the event's), and the last
 * one of each event kept, a removal taking the event out: what the JSON records held before. */
struct record {
    struct mopay_id id;
    bool dead;
    uint32_t attempts;
    int last_status;
    int64_t next_attempt_at_ns;
};

struct records {
    size_t count;
    struct record items[64];
};

static struct records *spied;

static struct record *spied_find(const struct mopay_id *id)
{
    for (size_t i = 0; i < spied->count; i++)
        if (memcmp(spied->items[i].id.bytes, id->bytes, 16) == 0)
            return &spied->items[i];
    return NULL;
}

static enum mopay_err spy_apply(void *state, const void *image, char *why, size_t why_cap)
{
    (void)state, (void)why, (void)why_cap;
    const struct outbox_event *ev = image;
    struct record *r = spied_find(&ev->id);
    if (r == NULL) {
        assert_true(spied->count < 64);
        r = &spied->items[spied->count++];
    }
    *r = (struct record){ev->id, ev->dead, ev->attempts, ev->last_status, ev->next_attempt_at_ns};
    return MOPAY_OK;
}

static enum mopay_err spy_remove(void *state, const void *image, char *why, size_t why_cap)
{
    (void)state, (void)why, (void)why_cap;
    struct record *r = spied_find(&((const struct outbox_event *)image)->id);
    assert_non_null(r);
    *r = spied->items[--spied->count];
    return MOPAY_OK;
}

static void records_read(struct records *out)
{
    char err[256];
    struct mopay_store *s = open_store();
    struct mopay_outbox_options options = test_options();
    options.journal = mopay_journal_new();
    struct mopay_outbox *decoder = mopay_outbox_new(&options); /* the keys the images' seals open with */
    assert_non_null(decoder);
    struct mopay_record_kind spy = mopay_outbox_event_kind;
    spy.apply = spy_apply;
    spy.remove = spy_remove;
    struct mopay_journal *journal = mopay_journal_new();
    mopay_journal_register(journal, &spy, decoder);
    out->count = 0;
    spied = out;
    struct mopay_journal_replay_stats stats;
    if (mopay_journal_replay(journal, s, &stats, err, sizeof(err)) != MOPAY_OK)
        fail_msg("replay: %s", err);
    spied = NULL;
    mopay_journal_free(journal);
    mopay_outbox_free(decoder);
    mopay_journal_free(options.journal);
    s->close(s);
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
    hmac_key = secret;
    hmac_key_len = sizeof(secret);
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
    struct mopay_outbox_options options = test_options();
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
    assert_int_equal(records.count, 0); /* delivered events are removed */
    assert_true(meta_present("order-1") && meta_present("order-2"));
}

/* A command that fails does so in its checks, before any write, and so before any event. */
static void failed_commands_add_no_events(void **state)
{
    (void)state;
    static struct world w;
    struct mopay_outbox_options options = test_options();
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
    struct mopay_outbox_options options = test_options();
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
    struct mopay_outbox_options options = test_options();
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
    struct mopay_outbox_options options = test_options();
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
    const struct record *r = &records.items[0];
    assert_true(r->dead);
    assert_int_equal(r->attempts, MOPAY_WEBHOOK_ATTEMPTS_MAX);
    assert_int_equal(r->last_status, 500);

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
    struct mopay_outbox_options options = test_options();
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
    struct mopay_outbox_options options = test_options();
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
        const struct record *r = &records.items[i];
        assert_false(r->dead);
        assert_int_equal(r->attempts, 1);
        assert_int_equal(r->next_attempt_at_ns, T0 + 1 * S);
    }

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
    struct mopay_outbox_options options = test_options();
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

/* --- where webhooks may go (finding 7 of issue 11) --- */

struct url_case {
    const char *url;
    enum mopay_err expected;
};

static void assert_url_cases(const struct url_case *cases, size_t n, const struct mopay_webhook_policy *policy)
{
    for (size_t i = 0; i < n; i++) {
        struct mopay_webhook_target t;
        const char *why = "";
        enum mopay_err err = mopay_webhook_url_check(cases[i].url, strlen(cases[i].url), policy, &t, &why);
        if (err != cases[i].expected)
            fail_msg("%s: %s (%s), expected %s", cases[i].url, mopay_err_code(err), why,
                     mopay_err_code(cases[i].expected));
    }
}

/* Every form of a refused address, literal or embedded, is refused; public ones and names pass
 * the form check (names are resolved later). */
static void webhook_urls_are_checked(void **state)
{
    (void)state;
    static const struct url_case strict[] = {
        {"http://127.0.0.1/", MOPAY_ERR_url_forbidden},       /* http, and loopback */
        {"http://example.com/", MOPAY_ERR_url_forbidden},     /* http */
        {"https://127.0.0.1/", MOPAY_ERR_url_forbidden},
        {"https://169.254.169.254/latest/meta-data", MOPAY_ERR_url_forbidden},
        {"https://[::1]:22", MOPAY_ERR_url_forbidden},
        {"https://0x7f000001/", MOPAY_ERR_url_forbidden},
        {"https://2130706433/", MOPAY_ERR_url_forbidden},
        {"https://127.1/", MOPAY_ERR_url_forbidden},
        {"https://0177.0.0.1/", MOPAY_ERR_url_forbidden},
        {"https://0/", MOPAY_ERR_url_forbidden},
        {"https://0.0.0.0/", MOPAY_ERR_url_forbidden},
        {"https://user:pass@10.0.0.1/", MOPAY_ERR_url_forbidden},
        {"https://user@example.com/", MOPAY_ERR_url_forbidden},
        {"https://10.1.2.3/", MOPAY_ERR_url_forbidden},
        {"https://172.16.0.1/", MOPAY_ERR_url_forbidden},
        {"https://172.31.255.255/", MOPAY_ERR_url_forbidden},
        {"https://192.168.1.1/", MOPAY_ERR_url_forbidden},
        {"https://100.64.0.1/", MOPAY_ERR_url_forbidden},
        {"https://224.0.0.1/", MOPAY_ERR_url_forbidden},
        {"https://255.255.255.255/", MOPAY_ERR_url_forbidden},
        {"https://[::]/", MOPAY_ERR_url_forbidden},
        {"https://[::ffff:127.0.0.1]/", MOPAY_ERR_url_forbidden},
        {"https://[::ffff:a9fe:a9fe]/", MOPAY_ERR_url_forbidden},
        {"https://[::127.0.0.1]/", MOPAY_ERR_url_forbidden},
        {"https://[64:ff9b::7f00:1]/", MOPAY_ERR_url_forbidden},
        {"https://[2002:7f00:1::1]/", MOPAY_ERR_url_forbidden},
        {"https://[2002:c0a8:101::1]/", MOPAY_ERR_url_forbidden},
        {"https://[fc00::1]/", MOPAY_ERR_url_forbidden},
        {"https://[fd12:3456::1]/", MOPAY_ERR_url_forbidden},
        {"https://[fe80::1]/", MOPAY_ERR_url_forbidden},
        {"https://[ff02::1]/", MOPAY_ERR_url_forbidden},
        {"https://[2001:db8::1]/", MOPAY_ERR_url_forbidden},
        {"https://[2001::1]/", MOPAY_ERR_url_forbidden},
        {"https://example.com/hooks#frag", MOPAY_ERR_url_invalid},
        {"ftp://example.com/", MOPAY_ERR_url_invalid},
        {"https://", MOPAY_ERR_url_invalid},
        {"https:///path", MOPAY_ERR_url_invalid},
        {"https://exa mple.com/", MOPAY_ERR_url_invalid},
        {"https://example.com:0/", MOPAY_ERR_url_invalid},
        {"https://example.com:65536/", MOPAY_ERR_url_invalid},
        {"https://example.com:/", MOPAY_ERR_url_invalid},
        {"https://[::1/", MOPAY_ERR_url_invalid},
        {"https://[example.com]/", MOPAY_ERR_url_invalid},
        {"https://[fe80::1%25eth0]/", MOPAY_ERR_url_invalid},
        {"https://exa%6dple.com/", MOPAY_ERR_url_invalid},
        {"https://example.com/hooks", MOPAY_OK},
        {"HTTPS://Example.COM:8443/a?b=c", MOPAY_OK},
        {"https://localhost/", MOPAY_OK}, /* a name: refused when it resolves */
        {"https://93.184.216.34/", MOPAY_OK},
        {"https://8.8.8.8:443/", MOPAY_OK},
        {"https://[2606:2800:220:1:248:1893:25c8:1946]/", MOPAY_OK},
        {"https://[::ffff:8.8.8.8]/", MOPAY_OK},
        {"https://[2002:808:808::1]/", MOPAY_OK},
    };
    struct mopay_webhook_policy policy = {0};
    assert_url_cases(strict, sizeof(strict) / sizeof(strict[0]), &policy);
    static const struct url_case open[] = {
        {"http://127.0.0.1:8080/hooks", MOPAY_OK},
        {"https://[::1]:22", MOPAY_OK},
        {"https://0x7f000001/", MOPAY_OK},
        {"https://user:pass@10.0.0.1/", MOPAY_ERR_url_forbidden}, /* never credentials */
        {"http://example.com/a#b", MOPAY_ERR_url_invalid},
    };
    policy = (struct mopay_webhook_policy){.allow_private = true, .allow_insecure = true};
    assert_url_cases(open, sizeof(open) / sizeof(open[0]), &policy);
}

/* localhost resolves through /etc/hosts, on no network: refused unless private is allowed; a
 * name that does not resolve (yet) is not refused. */
static void webhook_names_are_resolved_and_checked(void **state)
{
    (void)state;
    struct mopay_webhook_target t;
    struct sockaddr_storage addrs[MOPAY_WEBHOOK_ADDRS_MAX];
    size_t count = 0;
    const char *why = "";
    struct mopay_webhook_policy strict = {0}, open = {.allow_private = true};
    assert_int_equal(mopay_webhook_url_check("https://localhost:9/", 20, &strict, &t, &why), MOPAY_OK);
    assert_int_equal(mopay_webhook_resolve(&t, &strict, addrs, &count, &why), MOPAY_ERR_url_forbidden);
    assert_int_equal(mopay_webhook_resolve(&t, &open, addrs, &count, &why), MOPAY_OK);
    assert_true(count >= 1);
    /* a 64-byte label cannot be put in a DNS query, so this name fails without leaving the machine */
    static const char unresolvable[] =
        "https://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example/";
    assert_int_equal(mopay_webhook_url_check(unresolvable, strlen(unresolvable), &strict, &t, &why), MOPAY_OK);
    assert_int_equal(mopay_webhook_resolve(&t, &strict, addrs, &count, &why), MOPAY_ERR_resource_not_found);
}

/* The delivery checks again: events whose URL names or resolves to loopback are failed attempts
 * that send nothing, while the same receiver gets them when private addresses are allowed. */
static void refused_targets_are_never_sent(void **state)
{
    (void)state;
    static struct world w;
    struct mopay_outbox_options options = test_options();
    options.policy.allow_private = false;
    world_start(&w, &options);
    const char *forms[] = {"http://localhost:%u/hooks", "http://127.0.0.1:%u/hooks", "http://127.1:%u/hooks",
                           "http://0x7f000001:%u/hooks", "http://2130706433:%u/hooks", "http://[::ffff:127.0.0.1]:%u/h"};
    static struct add_cmd c[6];
    for (size_t i = 0; i < 6; i++) {
        snprintf(url, sizeof(url), forms[i], rx_port());
        assert_int_equal(add_events(&w, &c[i], "order", 1, 100), MOPAY_OK);
    }
    WAIT_FOR(stats_of(&w).failed_attempts == 6);
    usleep(NAP_US);
    assert_int_equal(rx_count(), 0);
    assert_int_equal(stats_of(&w).delivered, 0);
    world_stop(&w);

    options.policy.allow_private = true; /* the same events, the same receiver */
    world_start(&w, &options);
    mopay_clock_advance_ns(1 * S);
    WAIT_FOR(stats_of(&w).delivered == 6);
    assert_int_equal(rx_count(), 6);
}

struct rekey_cmd {
    struct mopay_seq_cmd seq;
    struct mopay_outbox *outbox;
    const uint8_t *key;
    size_t key_len;
    _Atomic bool done;
};

static enum mopay_err rekey_apply(struct mopay_seq_cmd *cmd, struct mopay_store *store, int64_t now_ns)
{
    struct rekey_cmd *c = (struct rekey_cmd *)cmd;
    (void)store;
    return mopay_outbox_rekey(c->outbox, now_ns, merchant, c->key, c->key_len);
}

static void rekey_done(struct mopay_seq_cmd *cmd)
{
    atomic_store(&((struct rekey_cmd *)cmd)->done, true);
}

/* A merchant rotates its secret while events wait: they go out signed with the new key (the
 * text's bytes), also after a restart, and the events of other merchants keep theirs. */
static void rekeyed_events_are_signed_with_the_new_key(void **state)
{
    (void)state;
    static const char text[] = "whsec_q83vEjRWeJC73u_-ASNFZ4mrze8BI0VniavN7wEjRWc";
    static struct world w;
    struct mopay_outbox_options options = test_options();
    world_start(&w, &options);
    rx_stop();
    static struct add_cmd old;
    assert_int_equal(add_events(&w, &old, "order-1", 2, 100), MOPAY_OK);
    WAIT_FOR(stats_of(&w).failed_attempts == 2);
    static struct rekey_cmd r;
    r = (struct rekey_cmd){.seq = {.apply = rekey_apply, .done = rekey_done}, .outbox = w.outbox,
                           .key = (const uint8_t *)text, .key_len = strlen(text)};
    assert_int_equal(mopay_seq_submit(w.seq, &r.seq), MOPAY_OK);
    WAIT_FOR(atomic_load(&r.done));
    assert_int_equal(r.seq.result, MOPAY_OK);
    world_stop(&w);

    rx_start(rx_port());
    world_start(&w, &options);
    mopay_clock_advance_ns(1 * S);
    WAIT_FOR(stats_of(&w).delivered == 2);
    world_stop(&w);
    hmac_key = (const uint8_t *)text;
    hmac_key_len = strlen(text);
    assert_int_equal(rx_count(), 2);
    for (size_t i = 0; i < 2; i++)
        assert_signed(rx_request_at(i), T0 / S + 1);
}

/* The same while the event is in flight: the report of its attempt (signed with the old key)
 * keeps the new key, in memory and in its record, for the next attempt. */
static void events_in_flight_take_the_new_key_after_their_attempt(void **state)
{
    (void)state;
    static const char text[] = "whsec_q83vEjRWeJC73u_-ASNFZ4mrze8BI0VniavN7wEjRWc";
    static struct world w;
    struct mopay_outbox_options options = test_options();
    options.request_timeout_ms = 60000; /* the receiver holds the answer until the key is changed */
    world_start(&w, &options);
    rx_answer(500);
    rx_hold(true);
    static struct add_cmd c;
    assert_int_equal(add_events(&w, &c, "order-1", 1, 100), MOPAY_OK);
    WAIT_FOR(rx_count() == 1); /* in flight: its POST waits for the answer */
    static struct rekey_cmd r;
    r = (struct rekey_cmd){.seq = {.apply = rekey_apply, .done = rekey_done}, .outbox = w.outbox,
                           .key = (const uint8_t *)text, .key_len = strlen(text)};
    assert_int_equal(mopay_seq_submit(w.seq, &r.seq), MOPAY_OK);
    WAIT_FOR(atomic_load(&r.done));
    assert_int_equal(r.seq.result, MOPAY_OK);
    rx_answer(200);
    rx_hold(false); /* the held answer is the 500 */
    WAIT_FOR(stats_of(&w).failed_attempts == 1);
    world_stop(&w);

    world_start(&w, &options); /* the record holds the new key */
    mopay_clock_advance_ns(1 * S);
    WAIT_FOR(stats_of(&w).delivered == 1);
    world_stop(&w);
    assert_int_equal(rx_count(), 2);
    assert_signed(rx_request_at(0), T0 / S);
    hmac_key = (const uint8_t *)text;
    hmac_key_len = strlen(text);
    assert_signed(rx_request_at(1), T0 / S + 1);
}

/* --- the journal: replay, and the records from before it --- */

/* What an outbox holds, event by event in id order, copied for comparing two outboxes. */
struct held {
    size_t count;
    struct outbox_event events[8];
    char bodies[8][512];
};

static bool held_one(void *ctx, const void *record)
{
    struct held *h = ctx;
    const struct outbox_event *ev = record;
    assert_true(h->count < 8 && ev->body_len < sizeof(h->bodies[0]));
    size_t i = h->count++;
    while (i > 0 && memcmp(h->events[i - 1].id.bytes, ev->id.bytes, 16) > 0) {
        h->events[i] = h->events[i - 1];
        memcpy(h->bodies[i], h->bodies[i - 1], sizeof(h->bodies[i]));
        i--;
    }
    h->events[i] = *ev;
    memcpy(h->bodies[i], ev->body, ev->body_len + 1);
    return true;
}

static void held_of(struct mopay_outbox *o, struct held *out)
{
    out->count = 0;
    mopay_outbox_event_kind.each(o, held_one, out);
}

static void assert_same_event(const struct outbox_event *a, const char *a_body, const struct outbox_event *b,
                              const char *b_body)
{
    assert_memory_equal(a->id.bytes, b->id.bytes, 16);
    assert_string_equal(a->id_text, b->id_text);
    assert_string_equal(a->merchant_id, b->merchant_id);
    assert_memory_equal(a->merchant_key, b->merchant_key, 16);
    assert_string_equal(a->type, b->type);
    assert_string_equal(a->url, b->url);
    assert_int_equal(a->secret_sealed_len, b->secret_sealed_len);
    assert_memory_equal(a->secret_sealed, b->secret_sealed, a->secret_sealed_len);
    assert_int_equal(a->body_len, b->body_len);
    assert_string_equal(a_body, b_body);
    assert_int_equal(a->created_at_ns, b->created_at_ns);
    assert_int_equal(a->next_attempt_at_ns, b->next_attempt_at_ns);
    assert_int_equal(a->attempts, b->attempts);
    assert_int_equal(a->last_status, b->last_status);
    assert_false(a->dead || b->dead);
}

struct log_scan {
    const uint8_t *needle;
    size_t len;
    size_t found;
};

static bool log_scan_one(void *ctx, int64_t seq, const void *data, size_t len)
{
    (void)seq;
    struct log_scan *s = ctx;
    if (memmem(data, len, s->needle, s->len) != NULL)
        s->found++;
    return true;
}

/* How many log records hold these bytes. */
static size_t log_holds(struct mopay_store *store, const void *needle, size_t len)
{
    struct log_scan scan = {needle, len, 0};
    assert_int_equal(store->ledger_log_load(store, log_scan_one, &scan), MOPAY_OK);
    return scan.found;
}

/* Events dead, waiting after a failed attempt under a rotated key, and delivered: a replay over
 * the same log gives back the waiting ones field for field (their shares and the counts too),
 * the delivered one stays gone, the dead ones are counted; no key is in the log in the clear. */
static void replay_gives_the_same_events_back(void **state)
{
    (void)state;
    static const char text[] = "whsec_q83vEjRWeJC73u_-ASNFZ4mrze8BI0VniavN7wEjRWc";
    static struct world w;
    struct mopay_outbox_options options = test_options();
    options.attempts_max = 2;
    world_start(&w, &options);
    rx_answer(500);
    static struct add_cmd dying, waiting, delivered;
    assert_int_equal(add_events(&w, &dying, "order-1", 2, 100), MOPAY_OK);
    WAIT_FOR(stats_of(&w).failed_attempts == 2);
    mopay_clock_advance_ns(1 * S);
    WAIT_FOR(stats_of(&w).dead == 2);
    assert_int_equal(add_events(&w, &waiting, "order-2", 2, 200), MOPAY_OK);
    WAIT_FOR(stats_of(&w).failed_attempts == 6); /* the next attempts at T0 + 2 s */
    static struct rekey_cmd r;
    r = (struct rekey_cmd){.seq = {.apply = rekey_apply, .done = rekey_done}, .outbox = w.outbox,
                           .key = (const uint8_t *)text, .key_len = strlen(text)};
    assert_int_equal(mopay_seq_submit(w.seq, &r.seq), MOPAY_OK);
    WAIT_FOR(atomic_load(&r.done));
    assert_int_equal(r.seq.result, MOPAY_OK);
    rx_answer(200);
    assert_int_equal(add_events(&w, &delivered, "order-3", 1, 300), MOPAY_OK);
    WAIT_FOR(stats_of(&w).delivered == 1);
    mopay_outbox_stop(w.outbox);
    mopay_seq_free(w.seq);
    w.seq = NULL;
    static struct held before, after;
    held_of(w.outbox, &before);
    assert_int_equal(before.count, 2);
    size_t share = (uintptr_t)mopay_index_get(&w.outbox->shares, before.events[0].merchant_key);
    assert_int_equal(share, 2);
    mopay_outbox_free(w.outbox);
    mopay_journal_free(w.journal);
    w.store->close(w.store);
    live = NULL;

    struct mopay_store *s = open_store();
    struct mopay_journal *journal = NULL;
    struct mopay_outbox *replayed = outbox_recover(s, &options, &journal);
    held_of(replayed, &after);
    assert_int_equal(after.count, before.count);
    for (size_t i = 0; i < before.count; i++)
        assert_same_event(&before.events[i], before.bodies[i], &after.events[i], after.bodies[i]);
    for (size_t i = 0; i < after.count; i++) /* the waiting ones, in id order */
        assert_string_equal(after.events[i].id_text, waiting.ids[i]);
    assert_int_equal((uintptr_t)mopay_index_get(&replayed->shares, after.events[0].merchant_key), share);
    struct mopay_outbox_stats st;
    mopay_outbox_stats(replayed, &st);
    assert_int_equal(st.pending, 2);
    assert_int_equal(st.dead, 2);
    assert_int_equal(st.delivered, 0);
    for (size_t i = 0; i < after.count; i++) /* the delivered event is not back */
        assert_string_not_equal(after.events[i].id_text, delivered.ids[0]);
    assert_int_equal(log_holds(s, secret, sizeof(secret)), 0);
    assert_int_equal(log_holds(s, text, strlen(text)), 0);
    assert_true(log_holds(s, "\"amount_minor\":300", 18) > 0); /* the scan sees the images */
    mopay_outbox_free(replayed);
    mopay_journal_free(journal);
    s->close(s);
}

/* A JSON record of an event, as the outbox wrote them before the journal; the key sealed without
 * associated data, as the oldest ones are. */
static void legacy_record(struct mopay_store *store, const char *id, int amount_minor, const char *status,
                          int attempts, int last_status, int64_t next_ns)
{
    uint8_t sealed[sizeof(secret) + MOPAY_SEAL_OVERHEAD];
    char b64[sodium_base64_ENCODED_LEN(sizeof(sealed), sodium_base64_VARIANT_ORIGINAL)], body[512];
    mopay_keys_seal(keys->secret_seal, secret, sizeof(secret), sealed);
    sodium_bin2base64(b64, sizeof(b64), sealed, sizeof(sealed), sodium_base64_VARIANT_ORIGINAL);
    expected_body(id, amount_minor, body, sizeof(body));
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:I, s:I}", "id", id, "merchant_id",
                          merchant, "type", "payment.succeeded", "url", url, "secret_sealed", b64, "body", body,
                          "status", status, "attempts", attempts, "last_status", last_status, "next_attempt_at_ns",
                          (json_int_t)next_ns, "created_at_ns", (json_int_t)T0);
    assert_int_equal(mopay_store_record_put_json(store, "webhook", id, j, T0), MOPAY_OK);
}

static bool count_one(void *ctx, const char *id, const char *json, size_t len)
{
    (void)id, (void)json, (void)len;
    ++*(size_t *)ctx;
    return true;
}

/* A database from before the journal: its pending and dead events move into the journal once,
 * their rows deleted in the same transaction; the pending one is then delivered as it was, the
 * dead one stays counted. */
static void records_before_the_journal_move_into_it(void **state)
{
    (void)state;
    char pending_id[MOPAY_ID_TEXT_BYTES], dead_id[MOPAY_ID_TEXT_BYTES];
    struct mopay_id id;
    mopay_id_new(T0, &id);
    mopay_id_format(MOPAY_ID_EVENT, &id, pending_id);
    mopay_id_new(T0, &id);
    mopay_id_format(MOPAY_ID_EVENT, &id, dead_id);
    struct mopay_store *s = open_store();
    assert_int_equal(s->begin(s), MOPAY_OK);
    legacy_record(s, pending_id, 100, "pending", 1, 500, T0 + 1 * S);
    legacy_record(s, dead_id, 200, "failed", MOPAY_WEBHOOK_ATTEMPTS_MAX, 503, T0);
    assert_int_equal(s->commit(s), MOPAY_OK);

    struct mopay_outbox_options options = test_options();
    struct mopay_journal *journal = NULL;
    struct mopay_outbox *o = outbox_recover(s, &options, &journal); /* the start that moves them */
    int64_t moved = 0;
    assert_int_equal(s->begin(s), MOPAY_OK);
    assert_int_equal(mopay_journal_absorb_records(journal, s, T0, &moved), MOPAY_OK);
    assert_int_equal(moved, 2);
    assert_int_equal(mopay_journal_commit(journal, s), MOPAY_OK);
    assert_int_equal(s->commit(s), MOPAY_OK);
    mopay_outbox_free(o);
    mopay_journal_free(journal);
    size_t rows = 0;
    assert_int_equal(s->records_load(s, "webhook", count_one, &rows), MOPAY_OK);
    assert_int_equal(rows, 0);
    s->close(s);

    struct records records;
    records_read(&records);
    assert_int_equal(records.count, 2);
    for (size_t i = 0; i < 2; i++) {
        char text[MOPAY_ID_TEXT_BYTES];
        mopay_id_format(MOPAY_ID_EVENT, &records.items[i].id, text);
        bool dead = strcmp(text, dead_id) == 0;
        assert_true(dead || strcmp(text, pending_id) == 0);
        assert_int_equal(records.items[i].dead, dead);
        assert_int_equal(records.items[i].attempts, dead ? MOPAY_WEBHOOK_ATTEMPTS_MAX : 1);
        assert_int_equal(records.items[i].last_status, dead ? 503 : 500);
    }

    static struct world w;
    world_start(&w, &options);
    assert_int_equal(stats_of(&w).pending, 1);
    assert_int_equal(stats_of(&w).dead, 1);
    mopay_clock_advance_ns(1 * S);
    WAIT_FOR(stats_of(&w).delivered == 1);
    world_stop(&w);
    assert_int_equal(rx_count(), 1);
    char body[512];
    expected_body(pending_id, 100, body, sizeof(body));
    assert_string_equal(rx_request_at(0)->body, body);
    assert_string_equal(rx_request_at(0)->event_id, pending_id);
    assert_signed(rx_request_at(0), T0 / S + 1);
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
        cmocka_unit_test(webhook_urls_are_checked),
        cmocka_unit_test(webhook_names_are_resolved_and_checked),
        cmocka_unit_test_setup_teardown(refused_targets_are_never_sent, setup, teardown),
        cmocka_unit_test_setup_teardown(rekeyed_events_are_signed_with_the_new_key, setup, teardown),
        cmocka_unit_test_setup_teardown(events_in_flight_take_the_new_key_after_their_attempt, setup, teardown),
        cmocka_unit_test_setup_teardown(replay_gives_the_same_events_back, setup, teardown),
        cmocka_unit_test_setup_teardown(records_before_the_journal_move_into_it, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
