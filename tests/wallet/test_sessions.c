/* Sessions: the PIN lock (five wrong in a row, fifteen minutes), signed timestamps used once,
 * revoked devices cut off at once, and expired sessions purged from memory and from the store by
 * the tick. Session TTL here: 600 s. */
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"

#define WRONG_PIN "000000"

struct person {
    struct mopay_customer *c;
    struct mopay_device *phone;
};

static struct person person(struct wt *t, int64_t now_ns, const char *name)
{
    struct person p;
    p.c = wt_signup(t, now_ns, name, &p.phone);
    return p;
}

/* Restarts and refreshes p's pointers (the old objects are freed with the old world). */
static void person_restart(struct wt *t, struct person *p)
{
    struct mopay_id c = p->c->id, phone = p->phone->id;
    wt_restart(t);
    p->c = mopay_wallet_customer(t->world.w, &c);
    p->phone = mopay_wallet_device(t->world.w, &phone);
    assert_non_null(p->c);
    assert_non_null(p->phone);
}

/* One attempt that must be accepted as an attempt (MOPAY_OK); its refusal, if any. */
static enum mopay_err attempt(struct wt *t, int64_t now_ns, struct mopay_device *d, const char *pin, int token)
{
    enum mopay_err refusal = MOPAY_ERR_internal;
    struct mopay_session *s = NULL;
    assert_int_equal(wt_session(t, now_ns, d, now_ns, pin, token, &refusal, &s), MOPAY_OK);
    assert_true((refusal == MOPAY_OK) == (s != NULL));
    return refusal;
}

static void five_wrong_pins_lock_for_fifteen_minutes(void **state)
{
    struct wt *t = *state;
    struct person p = person(t, WT_T0, "Eve Moneypenny");
    int64_t now = WT_T0 + WT_S;
    /* a right PIN in between starts the count again */
    for (int i = 0; i < 3; i++)
        assert_int_equal(attempt(t, now += WT_S, p.phone, WRONG_PIN, 0), MOPAY_ERR_pin_incorrect);
    assert_int_equal(p.c->failed_pins, 3);
    assert_int_equal(attempt(t, now += WT_S, p.phone, WT_PIN, 1), MOPAY_OK);
    assert_int_equal(p.c->failed_pins, 0);
    for (int i = 1; i < MOPAY_PIN_FAILURES_MAX; i++) {
        assert_int_equal(attempt(t, now += WT_S, p.phone, WRONG_PIN, 0), MOPAY_ERR_pin_incorrect);
        assert_int_equal(p.c->failed_pins, i);
        assert_int_equal(p.c->locked_until_ns, 0);
    }
    int64_t fifth = now += WT_S;
    assert_int_equal(attempt(t, fifth, p.phone, WRONG_PIN, 0), MOPAY_ERR_customer_locked);
    int64_t until = fifth + (int64_t)MOPAY_PIN_LOCK_S * WT_S;
    assert_int_equal(p.c->locked_until_ns, until);
    /* locked: even the right PIN is refused, and the refusal changes nothing */
    int64_t last_signed = p.phone->last_signed_ns;
    assert_int_equal(mopay_wallet_session_precheck(p.c, p.phone, until - 1), MOPAY_ERR_customer_locked);
    enum mopay_err refusal;
    struct mopay_session *s = NULL;
    assert_int_equal(wt_session(t, until - 1, p.phone, until - 1, WT_PIN, 2, &refusal, &s), MOPAY_ERR_customer_locked);
    assert_null(s);
    assert_int_equal(p.phone->last_signed_ns, last_signed);
    assert_false(wt_session_live(t, 2, until - 1, NULL));
    /* the lock is durable */
    person_restart(t, &p);
    assert_int_equal(p.c->locked_until_ns, until);
    assert_int_equal(mopay_wallet_session_precheck(p.c, p.phone, until - 1), MOPAY_ERR_customer_locked);
    /* fifteen minutes on, it lifts */
    assert_int_equal(mopay_wallet_session_precheck(p.c, p.phone, until), MOPAY_OK);
    assert_int_equal(attempt(t, until, p.phone, WT_PIN, 3), MOPAY_OK);
    assert_true(wt_session_live(t, 3, until, p.c));
    assert_int_equal(p.c->failed_pins, 0);
}

static void signed_timestamp_reuse_is_a_replay(void **state)
{
    struct wt *t = *state;
    struct person p = person(t, WT_T0, "Felix Leiter");
    int64_t now = WT_T0 + WT_S, signed_ns = now;
    enum mopay_err refusal;
    struct mopay_session *s = NULL;
    assert_int_equal(wt_session(t, now, p.phone, signed_ns, WT_PIN, 1, &refusal, &s), MOPAY_OK);
    assert_non_null(s);
    assert_int_equal(p.phone->last_signed_ns, signed_ns);
    /* the same timestamp, or an older one: replayed, nothing opened or counted */
    assert_int_equal(wt_session(t, now + WT_S, p.phone, signed_ns, WT_PIN, 2, &refusal, &s),
                     MOPAY_ERR_signature_replayed);
    assert_null(s);
    assert_int_equal(wt_session(t, now + WT_S, p.phone, signed_ns - 1, WRONG_PIN, 2, &refusal, &s),
                     MOPAY_ERR_signature_replayed);
    assert_int_equal(p.c->failed_pins, 0);
    assert_false(wt_session_live(t, 2, now + WT_S, NULL));
    /* a wrong PIN uses the signature up too */
    assert_int_equal(wt_session(t, now + WT_S, p.phone, signed_ns + 1, WRONG_PIN, 3, &refusal, &s), MOPAY_OK);
    assert_int_equal(refusal, MOPAY_ERR_pin_incorrect);
    assert_int_equal(wt_session(t, now + WT_S, p.phone, signed_ns + 1, WT_PIN, 3, &refusal, &s),
                     MOPAY_ERR_signature_replayed);
    /* used timestamps are durable: a restart does not make them new */
    person_restart(t, &p);
    assert_int_equal(p.phone->last_signed_ns, signed_ns + 1);
    assert_int_equal(wt_session(t, now + 2 * WT_S, p.phone, signed_ns + 1, WT_PIN, 4, &refusal, &s),
                     MOPAY_ERR_signature_replayed);
    assert_int_equal(wt_session(t, now + 2 * WT_S, p.phone, signed_ns + 2, WT_PIN, 4, &refusal, &s), MOPAY_OK);
    assert_true(wt_session_live(t, 4, now + 2 * WT_S, p.c));
    assert_true(wt_session_live(t, 1, now + 2 * WT_S, p.c));
}

static void revoked_device_sessions_stop_at_once(void **state)
{
    struct wt *t = *state;
    struct person p = person(t, WT_T0, "Gina Carano");
    struct person q = person(t, WT_T0, "Hank Pym");
    struct mopay_device *tablet = wt_device_add(t, WT_T0, p.c, "tablet");
    int64_t now = WT_T0 + WT_S;
    assert_int_equal(attempt(t, now, p.phone, WT_PIN, 1), MOPAY_OK);
    assert_int_equal(attempt(t, now, tablet, WT_PIN, 2), MOPAY_OK);
    assert_true(wt_session_live(t, 2, now, p.c));
    assert_int_equal(wt_revoke(t, now + 1, tablet), MOPAY_OK);
    /* at once, before any tick: the tablet's session is dead, the phone's lives */
    assert_false(wt_session_live(t, 2, now + 1, NULL));
    assert_true(wt_session_live(t, 1, now + 1, p.c));
    assert_int_equal(wt_revoke(t, now + 2, tablet), MOPAY_ERR_device_revoked);
    assert_int_equal(mopay_wallet_session_precheck(p.c, tablet, now + 2), MOPAY_ERR_device_revoked);
    assert_int_equal(mopay_wallet_session_precheck(q.c, p.phone, now + 2), MOPAY_ERR_signature_invalid);
    assert_int_equal(mopay_wallet_session_precheck(p.c, NULL, now + 2), MOPAY_ERR_signature_invalid);
    enum mopay_err refusal;
    struct mopay_session *s = NULL;
    assert_int_equal(wt_session(t, now + 3, tablet, now + 3, WT_PIN, 3, &refusal, &s), MOPAY_ERR_device_revoked);
    assert_null(s);
    /* the tick forgets it, in the store too; a restart still refuses it */
    assert_int_equal(wt_records(t, "session"), 2);
    assert_int_equal(wt_tick(t, now + 4), MOPAY_OK);
    assert_int_equal(wt_records(t, "session"), 1);
    person_restart(t, &p);
    assert_false(wt_session_live(t, 2, now + 5, NULL));
    assert_true(wt_session_live(t, 1, now + 5, p.c));
}

/* Ticks every `step` from `from` to `to` (both included). */
static void tick_through(struct wt *t, int64_t from, int64_t to, int64_t step)
{
    for (int64_t now = from; now <= to; now += step)
        assert_int_equal(wt_tick(t, now), MOPAY_OK);
}

static void expired_sessions_are_purged_by_the_tick(void **state)
{
    struct wt *t = *state;
    struct person p = person(t, WT_T0, "Iris West");
    int64_t ttl = t->options.session_ttl_s * WT_S;
    assert_int_equal(wt_tick(t, WT_T0), MOPAY_OK);
    assert_int_equal(attempt(t, WT_T0, p.phone, WT_PIN, 1), MOPAY_OK);
    assert_int_equal(attempt(t, WT_T0 + 300 * WT_S, p.phone, WT_PIN, 2), MOPAY_OK);
    assert_int_equal(wt_records(t, "session"), 2);
    tick_through(t, WT_T0 + WT_S, WT_T0 + ttl - WT_S, 10 * WT_S);
    assert_true(wt_session_live(t, 1, WT_T0 + ttl - 1, p.c));
    assert_int_equal(wt_records(t, "session"), 2);
    /* expired: refused at once, and gone from the store within 60 s of ticks */
    assert_false(wt_session_live(t, 1, WT_T0 + ttl, NULL));
    tick_through(t, WT_T0 + ttl, WT_T0 + ttl + 60 * WT_S, WT_S);
    assert_int_equal(wt_records(t, "session"), 1);
    assert_true(wt_session_live(t, 2, WT_T0 + ttl + 60 * WT_S, p.c));
    /* a restart sees no trace of it, even asked at a time it was live */
    person_restart(t, &p);
    assert_false(wt_session_live(t, 1, WT_T0 + 1, NULL));
    assert_true(wt_session_live(t, 2, WT_T0 + 301 * WT_S, p.c));
    int64_t second = WT_T0 + 300 * WT_S + ttl;
    tick_through(t, second, second + 60 * WT_S, WT_S);
    assert_int_equal(wt_records(t, "session"), 0);
    wt_restart(t);
    assert_false(wt_session_live(t, 2, WT_T0 + 301 * WT_S, NULL));
}

static void devices_live_at_most_five(void **state)
{
    struct wt *t = *state;
    struct person p = person(t, WT_T0, "Jean Grey");
    struct mopay_device *extra[MOPAY_DEVICES_PER_CUSTOMER_MAX];
    char name[16];
    for (int i = 1; i < MOPAY_DEVICES_PER_CUSTOMER_MAX; i++) {
        snprintf(name, sizeof(name), "device %d", i);
        extra[i] = wt_device_add(t, WT_T0, p.c, name);
    }
    uint8_t key[32] = {0}, secret[MOPAY_DEVICE_SECRET_BYTES] = {0};
    struct mopay_device *d = NULL;
    wt_begin(t);
    assert_int_equal(mopay_wallet_device_add(t->world.w, t->store, WT_T0, p.c, key, "one more", secret, &d),
                     MOPAY_ERR_devices_max);
    wt_commit(t, WT_T0);
    assert_int_equal(p.c->device_count, MOPAY_DEVICES_PER_CUSTOMER_MAX);
    /* a revoked one makes room */
    assert_int_equal(wt_revoke(t, WT_T0 + WT_S, extra[1]), MOPAY_OK);
    d = wt_device_add(t, WT_T0 + WT_S, p.c, "replacement");
    assert_int_equal(p.c->device_count, MOPAY_DEVICES_PER_CUSTOMER_MAX + 1);
    assert_int_equal(wt_records(t, "device"), MOPAY_DEVICES_PER_CUSTOMER_MAX + 1);
}

static void phone_and_wallet_taken(void **state)
{
    struct wt *t = *state;
    struct person p = person(t, WT_T0, "Kara Thrace");
    struct mopay_signup s;
    memset(&s, 0, sizeof(s));
    snprintf(s.phone, sizeof(s.phone), "%s", p.c->phone);
    s.name = "Someone Else", s.country = "GB", s.device_name = "phone";
    memcpy(s.pin_hash, t->pin_hash, sizeof(s.pin_hash));
    struct mopay_customer *c = NULL;
    struct mopay_device *d = NULL;
    wt_begin(t);
    assert_int_equal(mopay_wallet_signup(t->world.w, t->store, WT_T0, &s, &c, &d), MOPAY_ERR_phone_taken);
    wt_commit(t, WT_T0);
    assert_ptr_equal(mopay_wallet_customer_by_phone(t->world.w, p.c->phone), p.c);
    assert_int_equal(wt_records(t, "customer"), 1);
    struct mopay_wallet *usd = wt_wallet_open(t, WT_T0, p.c, t->usd), *again = NULL;
    wt_begin(t);
    assert_int_equal(mopay_wallet_open(t->world.w, t->store, WT_T0, p.c, t->usd, &again), MOPAY_ERR_wallet_exists);
    wt_commit(t, WT_T0);
    assert_ptr_equal(mopay_wallet_of(p.c, t->usd), usd);
    assert_int_equal(p.c->wallet_count, 1);
}

/* --- event-loop threads authenticating while the sequencer opens, revokes and purges --- */

struct readers {
    struct mopay_wallet_state *w;
    struct mopay_id customer;
    int tokens;
    atomic_llong now_ns;
    atomic_bool stop;
    atomic_int started;
    atomic_ullong found, wrong;
};

static void *reader_main(void *arg)
{
    struct readers *r = arg;
    uint8_t hash[32];
    atomic_fetch_add(&r->started, 1);
    while (!atomic_load(&r->stop)) {
        for (int i = 0; i < r->tokens; i++) {
            struct mopay_id who;
            wt_token_hash(i, hash);
            if (!mopay_wallet_session_find(r->w, hash, atomic_load(&r->now_ns), &who))
                continue;
            atomic_fetch_add(&r->found, 1);
            if (memcmp(who.bytes, r->customer.bytes, 16) != 0)
                atomic_fetch_add(&r->wrong, 1);
        }
    }
    return NULL;
}

/* One sequencer round: a session on the phone, every tenth a device that is revoked at once
 * after opening one, then 30 s later a tick (which purges every 60 s). */
static void writer_round(struct wt *t, struct person *p, int round, int64_t now_ns)
{
    enum mopay_err refusal;
    struct mopay_session *s = NULL;
    assert_int_equal(wt_session(t, now_ns, p->phone, now_ns, WT_PIN, round, &refusal, &s), MOPAY_OK);
    if (round % 10 == 4) {
        struct mopay_device *d = wt_device_add(t, now_ns, p->c, "short-lived");
        assert_int_equal(wt_session(t, now_ns, d, now_ns, WT_PIN, ++round, &refusal, &s), MOPAY_OK);
        assert_int_equal(wt_revoke(t, now_ns, d), MOPAY_OK);
    }
    assert_int_equal(wt_tick(t, now_ns + 30 * WT_S), MOPAY_OK);
}

static void session_find_from_other_threads(void **state)
{
    struct wt *t = *state;
    struct person p = person(t, WT_T0, "Lois Lane");
    struct readers r = {.w = t->world.w, .customer = p.c->id, .tokens = 160};
    atomic_store(&r.now_ns, WT_T0);
    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, reader_main, &r), 0);
    /* the rounds take a few milliseconds: the readers are running before they start, and have
     * found a session before they stop (at most a second later) */
    for (int i = 0; i < 1000 && atomic_load(&r.started) < 2; i++)
        usleep(1000);
    int64_t now = WT_T0;
    for (int round = 0; round < 150; round += 2) { /* even tokens for the phone, odd for the others */
        writer_round(t, &p, round, now);
        now += 30 * WT_S;
        atomic_store(&r.now_ns, now);
    }
    for (int i = 0; i < 1000 && atomic_load(&r.found) == 0; i++)
        usleep(1000);
    atomic_store(&r.stop, true);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    assert_int_equal(atomic_load(&r.wrong), 0);
    assert_true(atomic_load(&r.found) > 0);
    /* what is left: the phone's sessions of the last 600 s (those a purge has not reached yet) */
    assert_true(wt_records(t, "session") <= 600 / 30 + 2);
    assert_true(wt_session_live(t, 148, now, p.c));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(five_wrong_pins_lock_for_fifteen_minutes, wt_setup, wt_teardown),
        cmocka_unit_test_setup_teardown(signed_timestamp_reuse_is_a_replay, wt_setup, wt_teardown),
        cmocka_unit_test_setup_teardown(revoked_device_sessions_stop_at_once, wt_setup, wt_teardown),
        cmocka_unit_test_setup_teardown(expired_sessions_are_purged_by_the_tick, wt_setup, wt_teardown),
        cmocka_unit_test_setup_teardown(devices_live_at_most_five, wt_setup, wt_teardown),
        cmocka_unit_test_setup_teardown(phone_and_wallet_taken, wt_setup, wt_teardown),
        cmocka_unit_test_setup_teardown(session_find_from_other_threads, wt_setup, wt_teardown),
    };
    return cmocka_run_group_tests_name("wallet_sessions", tests, NULL, NULL);
}
