/* Limits: the daily outflow and its reset at midnight UTC, outflow given back by a declined
 * withdrawal (the same day only), the balance cap with top-ups still on their way, and a KYC tier
 * change that moves both limits at once. Tier 0 here: cap 1,000.00, daily outflow 100.00. */
#include <string.h>

#include "fixture.h"

#define MIDNIGHT (WT_DAY0 + WT_DAY) /* the first day boundary after WT_T0 */

struct funded {
    struct mopay_customer *c;
    struct mopay_wallet *usd;
    struct mopay_funding_source *card;
};

/* A tier 0 customer with a USD wallet holding `amount` from an approved card. */
static struct funded funded_customer(struct wt *t, int64_t now_ns, int64_t amount_minor)
{
    struct funded f;
    f.c = wt_signup(t, now_ns, "Dana Scully", NULL);
    f.usd = wt_wallet_open(t, now_ns, f.c, t->usd);
    f.card = wt_card_add(t, now_ns, f.c, WT_CARD_OK, false);
    if (amount_minor > 0) {
        struct mopay_movement *m = NULL;
        assert_int_equal(wt_topup(t, now_ns, f.usd, f.card, amount_minor, &m), MOPAY_OK);
        assert_int_equal(m->status, MOPAY_MOVEMENT_SUCCEEDED);
    }
    return f;
}

static void daily_outflow_resets_at_utc_midnight(void **state)
{
    struct wt *t = *state;
    int64_t evening = MIDNIGHT - 3600 * WT_S;
    struct funded f = funded_customer(t, evening, WT_USD(500));
    struct mopay_customer *other = wt_signup(t, evening, "Fox Mulder", NULL);
    struct mopay_movement *m = NULL;
    assert_int_equal(wt_withdraw(t, evening, f.usd, f.card, WT_USD(60), &m), MOPAY_OK);
    assert_int_equal(m->status, MOPAY_MOVEMENT_SUCCEEDED);
    assert_int_equal(wt_p2p(t, evening + WT_S, f.c, other, WT_USD(30), NULL), MOPAY_OK);
    assert_int_equal(wt_balance(t, f.usd, evening).used_today_minor, WT_USD(90));
    /* the last nanosecond of the day: 10.01 more is over, 10.00 exactly is not */
    int64_t last = MIDNIGHT - 1;
    assert_int_equal(wt_withdraw(t, last, f.usd, f.card, WT_USD(10) + 1, &m), MOPAY_ERR_limit_exceeded);
    assert_int_equal(wt_p2p(t, last, f.c, other, WT_USD(10) + 1, NULL), MOPAY_ERR_limit_exceeded);
    assert_int_equal(wt_withdraw(t, last, f.usd, f.card, WT_USD(10), &m), MOPAY_OK);
    assert_int_equal(f.usd->outflow_minor, WT_USD(100));
    assert_int_equal(wt_withdraw(t, last, f.usd, f.card, 1, &m), MOPAY_ERR_limit_exceeded);
    /* midnight UTC: a new day, nothing used yet, the whole limit again */
    struct mopay_wallet_balance b = wt_balance(t, f.usd, MIDNIGHT);
    assert_int_equal(b.used_today_minor, 0);
    assert_int_equal(b.daily_outflow_minor, WT_USD(WT_TIER0_DAILY));
    assert_int_equal(wt_balance(t, f.usd, last).used_today_minor, WT_USD(100));
    assert_int_equal(wt_withdraw(t, MIDNIGHT, f.usd, f.card, WT_USD(70), &m), MOPAY_OK);
    assert_int_equal(f.usd->outflow_day, MIDNIGHT / WT_DAY);
    assert_int_equal(f.usd->outflow_minor, WT_USD(70));
    assert_int_equal(wt_p2p(t, MIDNIGHT + WT_S, f.c, other, WT_USD(30), "rent"), MOPAY_OK);
    assert_int_equal(wt_p2p(t, MIDNIGHT + WT_S, f.c, other, 1, NULL), MOPAY_ERR_limit_exceeded);
    assert_int_equal(wt_balance(t, f.usd, MIDNIGHT + WT_S).balance_minor, WT_USD(500 - 200));
    /* the counters are durable: a restart sees the same day and amount */
    struct mopay_id usd_id = f.usd->id;
    wt_restart(t);
    struct mopay_wallet *usd = mopay_wallet_get(t->world.w, &usd_id);
    assert_int_equal(usd->outflow_day, MIDNIGHT / WT_DAY);
    assert_int_equal(wt_balance(t, usd, MIDNIGHT + 2 * WT_S).used_today_minor, WT_USD(100));
    wt_assert_ledger_clean(t);
}

/* Declined at once (stolen card) and declined late the same day: the outflow comes back; declined
 * late the next day: yesterday's outflow is not taken off today's. */
static void declined_withdrawal_gives_outflow_back_same_day_only(void **state)
{
    struct wt *t = *state;
    int64_t now = MIDNIGHT - 60 * WT_S;
    struct funded f = funded_customer(t, now, WT_USD(500));
    struct mopay_funding_source *stolen = wt_card_add(t, now, f.c, WT_CARD_STOLEN, false);
    struct mopay_funding_source *slow = wt_card_add(t, now, f.c, WT_CARD_PENDING, false);
    struct mopay_movement *m = NULL, *late = NULL;
    assert_int_equal(wt_withdraw(t, now, f.usd, stolen, WT_USD(80), &m), MOPAY_OK);
    assert_int_equal(m->status, MOPAY_MOVEMENT_DECLINED);
    assert_string_equal(m->decline_code, "stolen_card");
    assert_int_equal(f.usd->outflow_minor, 0);
    assert_int_equal(wt_balance(t, f.usd, now).available_minor, WT_USD(500));
    /* pending at 23:59:00, answered (declined) 30 s later, still the same day */
    assert_int_equal(wt_withdraw(t, now, f.usd, slow, WT_USD(90), &late), MOPAY_OK);
    assert_int_equal(late->status, MOPAY_MOVEMENT_PENDING);
    assert_int_equal(f.usd->outflow_minor, WT_USD(90));
    assert_int_equal(wt_balance(t, f.usd, now).available_minor, WT_USD(410));
    assert_int_equal(wt_tick(t, now + 30 * WT_S), MOPAY_OK);
    assert_int_equal(late->status, MOPAY_MOVEMENT_DECLINED);
    assert_string_equal(late->decline_code, "timeout");
    assert_int_equal(f.usd->outflow_minor, 0);
    assert_int_equal(wt_balance(t, f.usd, now).available_minor, WT_USD(500));
    /* pending at 23:59:50, a new day's withdrawal at 00:00:05, the decline at 00:00:20 */
    int64_t before = MIDNIGHT - 10 * WT_S;
    assert_int_equal(wt_withdraw(t, before, f.usd, slow, WT_USD(40), &late), MOPAY_OK);
    assert_int_equal(late->status, MOPAY_MOVEMENT_PENDING);
    assert_int_equal(f.usd->outflow_minor, WT_USD(40));
    assert_int_equal(wt_withdraw(t, MIDNIGHT + 5 * WT_S, f.usd, f.card, WT_USD(30), &m), MOPAY_OK);
    assert_int_equal(f.usd->outflow_minor, WT_USD(30));
    assert_int_equal(wt_tick(t, MIDNIGHT + 20 * WT_S), MOPAY_OK);
    assert_int_equal(late->status, MOPAY_MOVEMENT_DECLINED);
    assert_int_equal(f.usd->outflow_minor, WT_USD(30));
    struct mopay_wallet_balance b = wt_balance(t, f.usd, MIDNIGHT + 20 * WT_S);
    assert_int_equal(b.used_today_minor, WT_USD(30));
    assert_int_equal(b.balance_minor, WT_USD(470));
    assert_int_equal(b.available_minor, WT_USD(470));
    wt_assert_ledger_clean(t);
}

/* A declined withdrawal made yesterday that is answered today, with nothing spent today yet: the
 * day is still yesterday's in the wallet's counter, and must not go below zero or count. */
static void declined_withdrawal_next_day_with_no_outflow_today(void **state)
{
    struct wt *t = *state;
    struct funded f = funded_customer(t, MIDNIGHT - 10 * WT_S, WT_USD(500));
    struct mopay_funding_source *slow = wt_card_add(t, MIDNIGHT - 10 * WT_S, f.c, WT_CARD_PENDING, false);
    struct mopay_movement *late = NULL, *m = NULL;
    assert_int_equal(wt_withdraw(t, MIDNIGHT - 10 * WT_S, f.usd, slow, WT_USD(60), &late), MOPAY_OK);
    assert_int_equal(wt_tick(t, MIDNIGHT + 20 * WT_S), MOPAY_OK);
    assert_int_equal(late->status, MOPAY_MOVEMENT_DECLINED);
    assert_int_equal(wt_balance(t, f.usd, MIDNIGHT + 20 * WT_S).used_today_minor, 0);
    assert_int_equal(wt_withdraw(t, MIDNIGHT + 21 * WT_S, f.usd, f.card, WT_USD(100), &m), MOPAY_OK);
    assert_int_equal(wt_balance(t, f.usd, MIDNIGHT + 21 * WT_S).used_today_minor, WT_USD(100));
    wt_assert_ledger_clean(t);
}

static void balance_cap_counts_pending_topups(void **state)
{
    struct wt *t = *state;
    struct funded f = funded_customer(t, WT_T0, 0);
    struct mopay_funding_source *slow = wt_card_add(t, WT_T0, f.c, WT_CARD_PENDING, false);
    struct mopay_movement *pending = NULL, *m = NULL;
    assert_int_equal(wt_topup(t, WT_T0, f.usd, slow, WT_USD(600), &pending), MOPAY_OK);
    assert_int_equal(pending->status, MOPAY_MOVEMENT_PENDING);
    struct mopay_wallet_balance b = wt_balance(t, f.usd, WT_T0);
    assert_int_equal(b.balance_minor, 0);
    assert_int_equal(b.incoming_minor, WT_USD(600));
    assert_int_equal(b.balance_cap_minor, WT_USD(WT_TIER0_CAP));
    assert_int_equal(wt_topup(t, WT_T0 + WT_S, f.usd, f.card, WT_USD(500), &m), MOPAY_ERR_balance_limit_exceeded);
    assert_int_equal(wt_topup(t, WT_T0 + WT_S, f.usd, f.card, WT_USD(400), &m), MOPAY_OK); /* exactly the cap */
    assert_int_equal(m->status, MOPAY_MOVEMENT_SUCCEEDED);
    assert_int_equal(wt_topup(t, WT_T0 + WT_S, f.usd, f.card, 1, &m), MOPAY_ERR_balance_limit_exceeded);
    assert_int_equal(wt_topup(t, WT_T0 + WT_S, f.usd, slow, 1, &m), MOPAY_ERR_balance_limit_exceeded);
    /* a P2P into the wallet counts the same way */
    struct funded g = funded_customer(t, WT_T0 + WT_S, WT_USD(50));
    assert_int_equal(wt_p2p(t, WT_T0 + 2 * WT_S, g.c, f.c, 1, NULL), MOPAY_ERR_balance_limit_exceeded);
    /* the pending one is declined late: its room comes back */
    assert_int_equal(wt_tick(t, WT_T0 + 30 * WT_S), MOPAY_OK);
    assert_int_equal(pending->status, MOPAY_MOVEMENT_DECLINED);
    b = wt_balance(t, f.usd, WT_T0 + 30 * WT_S);
    assert_int_equal(b.incoming_minor, 0);
    assert_int_equal(b.balance_minor, WT_USD(400));
    assert_int_equal(wt_p2p(t, WT_T0 + 31 * WT_S, g.c, f.c, WT_USD(50), NULL), MOPAY_OK);
    assert_int_equal(wt_topup(t, WT_T0 + 31 * WT_S, f.usd, f.card, WT_USD(550), &m), MOPAY_OK);
    assert_int_equal(wt_topup(t, WT_T0 + 31 * WT_S, f.usd, f.card, 1, &m), MOPAY_ERR_balance_limit_exceeded);
    assert_int_equal(wt_balance(t, f.usd, WT_T0 + 31 * WT_S).balance_minor, WT_USD(WT_TIER0_CAP));
    wt_assert_ledger_clean(t);
}

static void tier_change_raises_limits_at_once(void **state)
{
    struct wt *t = *state;
    struct funded f = funded_customer(t, WT_T0, WT_USD(WT_TIER0_CAP));
    struct mopay_movement *m = NULL;
    assert_int_equal(wt_topup(t, WT_T0, f.usd, f.card, 1, &m), MOPAY_ERR_balance_limit_exceeded);
    assert_int_equal(wt_withdraw(t, WT_T0, f.usd, f.card, WT_USD(150), &m), MOPAY_ERR_limit_exceeded);
    assert_int_equal(wt_kyc(t, WT_T0 + WT_S, f.c, 1), MOPAY_OK);
    struct mopay_wallet_balance b = wt_balance(t, f.usd, WT_T0 + WT_S);
    assert_int_equal(b.balance_cap_minor, WT_USD(WT_TIER1_CAP));
    assert_int_equal(b.daily_outflow_minor, WT_USD(WT_TIER1_DAILY));
    assert_int_equal(wt_topup(t, WT_T0 + WT_S, f.usd, f.card, 1, &m), MOPAY_OK);
    assert_int_equal(wt_withdraw(t, WT_T0 + WT_S, f.usd, f.card, WT_USD(150), &m), MOPAY_OK);
    assert_int_equal(m->status, MOPAY_MOVEMENT_SUCCEEDED);
    assert_int_equal(wt_kyc(t, WT_T0 + 2 * WT_S, f.c, 2), MOPAY_OK);
    b = wt_balance(t, f.usd, WT_T0 + 2 * WT_S);
    assert_int_equal(b.balance_cap_minor, WT_USD(WT_TIER2_CAP));
    assert_int_equal(b.daily_outflow_minor, WT_USD(WT_TIER2_DAILY));
    assert_int_equal(b.used_today_minor, WT_USD(150));
    /* and a restart keeps the tier */
    struct mopay_id usd_id = f.usd->id;
    wt_restart(t);
    struct mopay_wallet *usd = mopay_wallet_get(t->world.w, &usd_id);
    assert_int_equal(usd->customer->kyc_tier, 2);
    assert_int_equal(wt_balance(t, usd, WT_T0 + 3 * WT_S).balance_cap_minor, WT_USD(WT_TIER2_CAP));
    wt_assert_ledger_clean(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(daily_outflow_resets_at_utc_midnight, wt_setup, wt_teardown),
        cmocka_unit_test_setup_teardown(declined_withdrawal_gives_outflow_back_same_day_only, wt_setup, wt_teardown),
        cmocka_unit_test_setup_teardown(declined_withdrawal_next_day_with_no_outflow_today, wt_setup, wt_teardown),
        cmocka_unit_test_setup_teardown(balance_cap_counts_pending_topups, wt_setup, wt_teardown),
        cmocka_unit_test_setup_teardown(tier_change_raises_limits_at_once, wt_setup, wt_teardown),
    };
    return cmocka_run_group_tests_name("wallet_limits", tests, NULL, NULL);
}
