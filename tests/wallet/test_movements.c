/* Movements: pending top-ups and withdrawals resolved by the network's late answer through the
 * tick, or expired by the tick when the answer never comes (the connector lost it in a restart);
 * the ledger stays balanced and the balances right throughout. And P2P refusals that change
 * nothing: not the ledger, not the outflow counters, not the history. Pending TTL here: 120 s;
 * the simulator answers pending requests 30 s late. */
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

#define LATE (MOPAY_CONNECTOR_SIM_CALLBACK_DELAY_S * WT_S)

struct funded {
    struct mopay_customer *c;
    struct mopay_wallet *usd;
    struct mopay_funding_source *card, *slow; /* approves; pends */
};

static struct funded funded(struct wt *t, int64_t now_ns, const char *name, int tier, int64_t amount_minor)
{
    struct funded f;
    f.c = wt_signup(t, now_ns, name, NULL);
    if (tier > 0)
        assert_int_equal(wt_kyc(t, now_ns, f.c, tier), MOPAY_OK);
    f.usd = wt_wallet_open(t, now_ns, f.c, t->usd);
    f.card = wt_card_add(t, now_ns, f.c, WT_CARD_OK, false);
    f.slow = wt_card_add(t, now_ns, f.c, WT_CARD_PENDING, false);
    struct mopay_movement *m = NULL;
    if (amount_minor > 0)
        assert_int_equal(wt_topup(t, now_ns, f.usd, f.card, amount_minor, &m), MOPAY_OK);
    return f;
}

static void balance_is(struct wt *t, const struct mopay_wallet *wallet, int64_t now_ns, int64_t balance,
                       int64_t available, int64_t incoming)
{
    struct mopay_wallet_balance b = wt_balance(t, wallet, now_ns);
    assert_int_equal(b.balance_minor, balance);
    assert_int_equal(b.available_minor, available);
    assert_int_equal(b.incoming_minor, incoming);
    wt_assert_ledger_clean(t);
}

static void resolved_as(struct wt *t, const struct mopay_movement *m, enum mopay_movement_status status,
                        const char *decline_code, int64_t resolved_at_ns, enum mopay_ledger_pending_state state)
{
    assert_string_equal(mopay_movement_status_name(m->status), mopay_movement_status_name(status));
    assert_string_equal(m->decline_code, decline_code);
    assert_int_equal(m->resolved_at_ns, resolved_at_ns);
    assert_int_equal(wt_transfer_state(t, &m->id), state);
}

static void pending_movements_resolved_by_the_late_answer(void **state)
{
    struct wt *t = *state;
    struct funded f = funded(t, WT_T0, "Lena Oxton", 1, WT_USD(100));
    struct mopay_movement *top = NULL, *out = NULL;
    assert_int_equal(wt_topup(t, WT_T0, f.usd, f.slow, WT_USD(20), &top), MOPAY_OK);
    assert_int_equal(wt_withdraw(t, WT_T0, f.usd, f.slow, WT_USD(30), &out), MOPAY_OK);
    resolved_as(t, top, MOPAY_MOVEMENT_PENDING, "", 0, MOPAY_LEDGER_STATE_PENDING);
    resolved_as(t, out, MOPAY_MOVEMENT_PENDING, "", 0, MOPAY_LEDGER_STATE_PENDING);
    assert_int_equal(top->expires_at_ns, WT_T0 + 120 * WT_S);
    assert_memory_equal(top->network_reference, "sim_", 4);
    balance_is(t, f.usd, WT_T0, WT_USD(100), WT_USD(70), WT_USD(20));
    assert_int_equal(f.usd->outflow_minor, WT_USD(30));
    assert_int_equal(wt_tick(t, WT_T0 + LATE - 1), MOPAY_OK);
    resolved_as(t, top, MOPAY_MOVEMENT_PENDING, "", 0, MOPAY_LEDGER_STATE_PENDING);
    /* the network's answer (the simulator declines them, "timeout") */
    assert_int_equal(wt_tick(t, WT_T0 + LATE), MOPAY_OK);
    resolved_as(t, top, MOPAY_MOVEMENT_DECLINED, "timeout", WT_T0 + LATE, MOPAY_LEDGER_STATE_VOIDED);
    resolved_as(t, out, MOPAY_MOVEMENT_DECLINED, "timeout", WT_T0 + LATE, MOPAY_LEDGER_STATE_VOIDED);
    balance_is(t, f.usd, WT_T0 + LATE, WT_USD(100), WT_USD(100), 0);
    assert_int_equal(f.usd->outflow_minor, 0);
    assert_int_equal(wt_entries(t, f.usd), 1); /* the first top-up only */
    /* durable, and nothing left to expire */
    struct mopay_id top_id = top->id, usd_id = f.usd->id;
    wt_restart(t);
    top = mopay_wallet_movement(t->world.w, &top_id);
    resolved_as(t, top, MOPAY_MOVEMENT_DECLINED, "timeout", WT_T0 + LATE, MOPAY_LEDGER_STATE_VOIDED);
    uint8_t before[32], after[32];
    wt_digest(t, before);
    assert_int_equal(wt_tick(t, WT_T0 + 200 * WT_S), MOPAY_OK);
    wt_digest(t, after);
    assert_memory_equal(before, after, 32);
    balance_is(t, mopay_wallet_get(t->world.w, &usd_id), WT_T0 + 200 * WT_S, WT_USD(100), WT_USD(100), 0);
}

static void pending_movements_expire_when_the_answer_never_comes(void **state)
{
    struct wt *t = *state;
    struct funded f = funded(t, WT_T0, "Mia Wallace", 1, WT_USD(100));
    struct mopay_movement *top = NULL, *out = NULL;
    assert_int_equal(wt_topup(t, WT_T0, f.usd, f.slow, WT_USD(20), &top), MOPAY_OK);
    assert_int_equal(wt_withdraw(t, WT_T0 + WT_S, f.usd, f.slow, WT_USD(30), &out), MOPAY_OK);
    struct mopay_id top_id = top->id, out_id = out->id, usd_id = f.usd->id;
    int64_t top_expiry = top->expires_at_ns, out_expiry = out->expires_at_ns;
    assert_int_equal(top_expiry, WT_T0 + 120 * WT_S);
    wt_restart(t); /* the simulator's late answers are lost with it */
    top = mopay_wallet_movement(t->world.w, &top_id);
    out = mopay_wallet_movement(t->world.w, &out_id);
    struct mopay_wallet *usd = mopay_wallet_get(t->world.w, &usd_id);
    balance_is(t, usd, WT_T0 + WT_S, WT_USD(100), WT_USD(70), WT_USD(20));
    assert_int_equal(wt_tick(t, WT_T0 + LATE + WT_S), MOPAY_OK);
    assert_int_equal(wt_tick(t, top_expiry - 1), MOPAY_OK);
    resolved_as(t, top, MOPAY_MOVEMENT_PENDING, "", 0, MOPAY_LEDGER_STATE_PENDING);
    assert_int_equal(wt_tick(t, top_expiry), MOPAY_OK);
    resolved_as(t, top, MOPAY_MOVEMENT_EXPIRED, "timeout", top_expiry, MOPAY_LEDGER_STATE_VOIDED);
    resolved_as(t, out, MOPAY_MOVEMENT_PENDING, "", 0, MOPAY_LEDGER_STATE_PENDING);
    balance_is(t, usd, top_expiry, WT_USD(100), WT_USD(70), 0);
    assert_int_equal(wt_tick(t, out_expiry), MOPAY_OK);
    resolved_as(t, out, MOPAY_MOVEMENT_EXPIRED, "timeout", out_expiry, MOPAY_LEDGER_STATE_VOIDED);
    balance_is(t, usd, out_expiry, WT_USD(100), WT_USD(100), 0);
    assert_int_equal(usd->outflow_minor, 0); /* the same day: given back */
    wt_restart(t);
    top = mopay_wallet_movement(t->world.w, &top_id);
    out = mopay_wallet_movement(t->world.w, &out_id);
    resolved_as(t, top, MOPAY_MOVEMENT_EXPIRED, "timeout", top_expiry, MOPAY_LEDGER_STATE_VOIDED);
    resolved_as(t, out, MOPAY_MOVEMENT_EXPIRED, "timeout", out_expiry, MOPAY_LEDGER_STATE_VOIDED);
    assert_int_equal(mopay_wallet_get(t->world.w, &usd_id)->outflow_minor, 0);
}

/* With a TTL shorter than the network's delay: expired first, and the answer that comes after is
 * ignored. */
static void late_answer_after_expiry_is_ignored(void **state)
{
    struct wt *t = *state;
    t->options.topup_pending_ttl_s = 10;
    wt_restart(t);
    struct funded f = funded(t, WT_T0, "Nia Long", 0, 0);
    struct mopay_movement *top = NULL;
    assert_int_equal(wt_topup(t, WT_T0, f.usd, f.slow, WT_USD(20), &top), MOPAY_OK);
    assert_int_equal(wt_tick(t, WT_T0 + 10 * WT_S), MOPAY_OK);
    resolved_as(t, top, MOPAY_MOVEMENT_EXPIRED, "timeout", WT_T0 + 10 * WT_S, MOPAY_LEDGER_STATE_VOIDED);
    uint8_t before[32], after[32];
    wt_digest(t, before);
    assert_int_equal(wt_tick(t, WT_T0 + LATE), MOPAY_OK);
    wt_digest(t, after);
    assert_memory_equal(before, after, 32);
    resolved_as(t, top, MOPAY_MOVEMENT_EXPIRED, "timeout", WT_T0 + 10 * WT_S, MOPAY_LEDGER_STATE_VOIDED);
    balance_is(t, f.usd, WT_T0 + LATE, 0, 0, 0);
}

/* --- a network that approves late, for the posting half of the late answer --- */

struct approver {
    struct mopay_connector base; /* first */
    size_t head, count;
    struct {
        int64_t due_ns;
        char reference[MOPAY_CONNECTOR_REFERENCE_BYTES];
    } queue[8];
};

static void approver_submit(struct mopay_connector *connector, const struct mopay_connector_request *request,
                            struct mopay_connector_result *out)
{
    struct approver *a = (struct approver *)connector;
    assert_true(a->count < 8);
    memset(out, 0, sizeof(*out));
    out->outcome = MOPAY_CONNECTOR_PENDING;
    strcpy(out->network_reference, "late_approver");
    size_t slot = (a->head + a->count++) % 8;
    a->queue[slot].due_ns = request->now_ns + LATE;
    memcpy(a->queue[slot].reference, request->reference, sizeof(request->reference));
}

static size_t approver_poll(struct mopay_connector *connector, int64_t now_ns, struct mopay_connector_late *out,
                            size_t cap)
{
    struct approver *a = (struct approver *)connector;
    size_t n = 0;
    for (; n < cap && a->count > 0 && a->queue[a->head].due_ns <= now_ns; n++) {
        memset(&out[n], 0, sizeof(out[n]));
        memcpy(out[n].reference, a->queue[a->head].reference, sizeof(out[n].reference));
        out[n].result.outcome = MOPAY_CONNECTOR_APPROVED;
        strcpy(out[n].result.network_reference, "late_approver");
        a->head = (a->head + 1) % 8;
        a->count--;
    }
    return n;
}

static void approver_free(struct mopay_connector *connector)
{
    free(connector);
}

/* The running world's spy now forwards to an approver instead of the simulator. */
static void use_approver(struct wt *t)
{
    struct approver *a = calloc(1, sizeof(*a));
    assert_non_null(a);
    a->base = (struct mopay_connector){.name = "approver", .submit = approver_submit, .poll = approver_poll,
                                       .free = approver_free};
    t->world.spy->inner->free(t->world.spy->inner);
    t->world.spy->inner = &a->base;
}

static void pending_movements_approved_late_are_posted(void **state)
{
    struct wt *t = *state;
    struct funded f = funded(t, WT_T0, "Olive Oyl", 1, WT_USD(100));
    use_approver(t);
    struct mopay_movement *top = NULL, *out = NULL;
    assert_int_equal(wt_topup(t, WT_T0, f.usd, f.card, WT_USD(20), &top), MOPAY_OK);
    assert_int_equal(wt_withdraw(t, WT_T0, f.usd, f.card, WT_USD(30), &out), MOPAY_OK);
    balance_is(t, f.usd, WT_T0, WT_USD(100), WT_USD(70), WT_USD(20));
    assert_int_equal(wt_entries(t, f.usd), 1);
    assert_int_equal(wt_tick(t, WT_T0 + LATE), MOPAY_OK);
    resolved_as(t, top, MOPAY_MOVEMENT_SUCCEEDED, "", WT_T0 + LATE, MOPAY_LEDGER_STATE_POSTED);
    resolved_as(t, out, MOPAY_MOVEMENT_SUCCEEDED, "", WT_T0 + LATE, MOPAY_LEDGER_STATE_POSTED);
    balance_is(t, f.usd, WT_T0 + LATE, WT_USD(90), WT_USD(90), 0);
    assert_int_equal(f.usd->outflow_minor, WT_USD(30));
    assert_int_equal(wt_entries(t, f.usd), 3);
    /* nothing expires afterwards */
    assert_int_equal(wt_tick(t, WT_T0 + 200 * WT_S), MOPAY_OK);
    assert_int_equal(top->status, MOPAY_MOVEMENT_SUCCEEDED);
    balance_is(t, f.usd, WT_T0 + 200 * WT_S, WT_USD(90), WT_USD(90), 0);
}

/* --- P2P refusals --- */

#define SNAP_WALLETS 4

/* What a refused P2P must leave alone. */
struct snap {
    uint8_t digest[32];
    int64_t outflow_day[SNAP_WALLETS], outflow_minor[SNAP_WALLETS], balance[SNAP_WALLETS];
    size_t entries[SNAP_WALLETS];
    int64_t log_next; /* a refusal writes nothing to the log */
};

static void snap_take(struct wt *t, struct mopay_wallet *const wallets[SNAP_WALLETS], int64_t now_ns, struct snap *s)
{
    memset(s, 0, sizeof(*s));
    wt_digest(t, s->digest);
    for (int i = 0; i < SNAP_WALLETS; i++) {
        s->outflow_day[i] = wallets[i]->outflow_day;
        s->outflow_minor[i] = wallets[i]->outflow_minor;
        s->balance[i] = wt_balance(t, wallets[i], now_ns).balance_minor;
        s->entries[i] = wt_entries(t, wallets[i]);
    }
    s->log_next = wt_log_next(t);
}

/* A P2P refused with `expect`, after which everything is as it was. */
static void p2p_refused(struct wt *t, struct mopay_wallet *const wallets[SNAP_WALLETS], int64_t now_ns,
                        struct mopay_customer *from, struct mopay_customer *to, int64_t amount_minor,
                        enum mopay_err expect)
{
    struct snap before, after;
    snap_take(t, wallets, now_ns, &before);
    assert_string_equal(mopay_err_code(wt_p2p(t, now_ns, from, to, amount_minor, "nope")), mopay_err_code(expect));
    snap_take(t, wallets, now_ns, &after);
    assert_memory_equal(&before, &after, sizeof(before));
    wt_assert_ledger_clean(t);
}

static void p2p_refusals_change_nothing(void **state)
{
    struct wt *t = *state;
    int64_t now = WT_T0 + 60 * WT_S;
    struct funded alice = funded(t, WT_T0, "Alice", 1, WT_USD(100)); /* daily 2,000: funds run out first */
    struct funded dave = funded(t, WT_T0, "Dave", 0, WT_USD(500));   /* daily 100: the limit first */
    struct funded eve = funded(t, WT_T0, "Eve", 0, WT_USD(WT_TIER0_CAP));
    struct mopay_customer *bob = wt_signup(t, WT_T0, "Bob", NULL);
    struct mopay_wallet *bob_usd = wt_wallet_open(t, WT_T0, bob, t->usd);
    struct mopay_customer *carol = wt_signup(t, WT_T0, "Carol", NULL); /* no wallet yet */
    struct mopay_customer *frank = wt_signup(t, WT_T0, "Frank", NULL); /* none either */
    struct mopay_wallet *const wallets[SNAP_WALLETS] = {alice.usd, dave.usd, eve.usd, bob_usd};
    p2p_refused(t, wallets, now, alice.c, alice.c, WT_USD(1), MOPAY_ERR_recipient_invalid);
    assert_int_equal(wt_freeze(t, now, alice.c, true), MOPAY_OK);
    p2p_refused(t, wallets, now, alice.c, bob, WT_USD(1), MOPAY_ERR_customer_frozen);
    assert_int_equal(wt_freeze(t, now, alice.c, false), MOPAY_OK);
    assert_int_equal(wt_freeze(t, now, bob, true), MOPAY_OK);
    assert_int_equal(wt_freeze(t, now, carol, true), MOPAY_OK);
    p2p_refused(t, wallets, now, alice.c, bob, WT_USD(1), MOPAY_ERR_recipient_unavailable);
    p2p_refused(t, wallets, now, alice.c, carol, WT_USD(1), MOPAY_ERR_recipient_unavailable);
    assert_int_equal(carol->wallet_count, 0);
    assert_int_equal(wt_freeze(t, now, bob, false), MOPAY_OK);
    assert_int_equal(wt_freeze(t, now, carol, false), MOPAY_OK);
    p2p_refused(t, wallets, now, alice.c, bob, WT_USD(100) + 1, MOPAY_ERR_insufficient_funds);
    p2p_refused(t, wallets, now, dave.c, bob, WT_USD(100) + 1, MOPAY_ERR_limit_exceeded);
    p2p_refused(t, wallets, now, dave.c, eve.c, WT_USD(1), MOPAY_ERR_balance_limit_exceeded);
    p2p_refused(t, wallets, now, frank, bob, WT_USD(1), MOPAY_ERR_wallet_not_found);
    /* a reserved withdrawal is not there to send */
    struct mopay_movement *m = NULL;
    assert_int_equal(wt_withdraw(t, now, alice.usd, alice.slow, WT_USD(60), &m), MOPAY_OK);
    p2p_refused(t, wallets, now, alice.c, bob, WT_USD(40) + 1, MOPAY_ERR_insufficient_funds);
    /* and what may go, goes: to carol a wallet is opened */
    assert_int_equal(wt_p2p(t, now, alice.c, carol, WT_USD(40), "thanks"), MOPAY_OK);
    assert_int_equal(carol->wallet_count, 1);
    struct mopay_wallet *carol_usd = mopay_wallet_of(carol, t->usd);
    balance_is(t, carol_usd, now, WT_USD(40), WT_USD(40), 0);
    balance_is(t, alice.usd, now, WT_USD(60), 0, 0);
    assert_int_equal(alice.usd->outflow_minor, WT_USD(100));
    assert_int_equal(wt_p2p(t, now, dave.c, bob, WT_USD(100), NULL), MOPAY_OK);
    p2p_refused(t, wallets, now, dave.c, bob, 1, MOPAY_ERR_limit_exceeded);
    assert_int_equal(wt_entries(t, bob_usd), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(pending_movements_resolved_by_the_late_answer, wt_setup, wt_teardown),
        cmocka_unit_test_setup_teardown(pending_movements_expire_when_the_answer_never_comes, wt_setup, wt_teardown),
        cmocka_unit_test_setup_teardown(late_answer_after_expiry_is_ignored, wt_setup, wt_teardown),
        cmocka_unit_test_setup_teardown(pending_movements_approved_late_are_posted, wt_setup, wt_teardown),
        cmocka_unit_test_setup_teardown(p2p_refusals_change_nothing, wt_setup, wt_teardown),
    };
    return cmocka_run_group_tests_name("wallet_movements", tests, NULL, NULL);
}
