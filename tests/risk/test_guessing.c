/* Guessing (mopay/risk.h): wrong codes per merchant terminal, refusals before the limit's window
 * lets one through, the merchant-wide limit, alerts newest first, a new spell after a quiet
 * window, and "no limit". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mopay/limits.h"
#include "mopay/risk.h"

#define S INT64_C(1000000000)

static const uint8_t shop[16] = {1}, other[16] = {2};

static void wrong_n(struct mopay_risk_guessing *g, const uint8_t m[16], const char *terminal, int n, int64_t t)
{
    for (int i = 0; i < n; i++) {
        int64_t retry = 0;
        assert_true(mopay_risk_guessing_admit(g, m, terminal, MOPAY_RISK_GUESS_PAYMENT_CODE, t, &retry));
        mopay_risk_guessing_wrong(g, m, terminal, MOPAY_RISK_GUESS_PAYMENT_CODE, t);
    }
}

static void terminal_throttled_alone(void **state)
{
    (void)state;
    struct mopay_risk_guessing *g = mopay_risk_guessing_new(3, 60 * S);
    int64_t t = 1000 * S, retry = 0;
    wrong_n(g, shop, "till-1", 3, t);
    assert_false(mopay_risk_guessing_admit(g, shop, "till-1", MOPAY_RISK_GUESS_NFC, t, &retry));
    assert_int_equal(retry, 20);
    assert_false(mopay_risk_guessing_admit(g, shop, "till-1", MOPAY_RISK_GUESS_NFC, t + 19 * S, &retry));
    assert_true(mopay_risk_guessing_admit(g, shop, "till-2", MOPAY_RISK_GUESS_PAYMENT_CODE, t, &retry));
    assert_true(mopay_risk_guessing_admit(g, shop, "", MOPAY_RISK_GUESS_PAYMENT_CODE, t, &retry));
    assert_true(mopay_risk_guessing_admit(g, other, "till-1", MOPAY_RISK_GUESS_PAYMENT_CODE, t, &retry));
    assert_true(mopay_risk_guessing_admit(g, shop, "till-1", MOPAY_RISK_GUESS_PAYMENT_CODE, t + 20 * S, &retry));
    struct mopay_risk_guess_alert a[4];
    assert_int_equal(mopay_risk_guessing_alerts(g, a, 4), 1);
    assert_memory_equal(a[0].merchant, shop, 16);
    assert_string_equal(a[0].terminal, "till-1");
    assert_int_equal(a[0].kind, MOPAY_RISK_GUESS_NFC);
    assert_int_equal(a[0].refused, 2);
    assert_int_equal(a[0].first_throttled_ns, t);
    assert_int_equal(a[0].last_throttled_ns, t + 19 * S);
    struct mopay_risk_guess_stats st;
    mopay_risk_guessing_stats(g, &st);
    assert_int_equal(st.wrong[MOPAY_RISK_GUESS_PAYMENT_CODE], 3);
    assert_int_equal(st.refused, 2);
    assert_int_equal(st.alerts, 1);
    /* throttled again after a quiet window: a new spell, the same alert */
    wrong_n(g, shop, "till-1", 1, t + 200 * S);
    wrong_n(g, shop, "till-1", 2, t + 200 * S);
    assert_false(mopay_risk_guessing_admit(g, shop, "till-1", MOPAY_RISK_GUESS_PAYMENT_CODE, t + 200 * S, &retry));
    assert_int_equal(mopay_risk_guessing_alerts(g, a, 4), 1);
    assert_int_equal(a[0].first_throttled_ns, t + 200 * S);
    assert_int_equal(a[0].refused, 3);
    mopay_risk_guessing_stats(g, &st);
    assert_int_equal(st.alerts, 2);
    mopay_risk_guessing_free(g);
}

static void merchant_wide_and_newest_first(void **state)
{
    (void)state;
    struct mopay_risk_guessing *g = mopay_risk_guessing_new(2, 60 * S);
    int64_t t = 5 * S, retry = 0;
    char terminal[16];
    for (int i = 0; i < 2 * MOPAY_WRONG_CODES_MERCHANT_FACTOR; i++) {
        snprintf(terminal, sizeof(terminal), "t%d", i);
        wrong_n(g, shop, terminal, 1, t);
    }
    assert_false(mopay_risk_guessing_admit(g, shop, "fresh", MOPAY_RISK_GUESS_PAYMENT_CODE, t, &retry));
    assert_true(mopay_risk_guessing_admit(g, other, "fresh", MOPAY_RISK_GUESS_PAYMENT_CODE, t, &retry));
    wrong_n(g, other, "x", 2, t);
    assert_false(mopay_risk_guessing_admit(g, other, "x", MOPAY_RISK_GUESS_PAYMENT_CODE, t + S, &retry));
    struct mopay_risk_guess_alert a[4];
    assert_int_equal(mopay_risk_guessing_alerts(g, a, 4), 2);
    assert_string_equal(a[0].terminal, "x");
    assert_string_equal(a[1].terminal, "fresh");
    assert_int_equal(mopay_risk_guessing_alerts(g, a, 1), 1);
    assert_string_equal(a[0].terminal, "x");
    mopay_risk_guessing_free(g);
}

static void no_limit(void **state)
{
    (void)state;
    struct mopay_risk_guessing *g = mopay_risk_guessing_new(0, S);
    assert_null(g);
    int64_t retry = 0;
    for (int i = 0; i < 1000; i++) {
        mopay_risk_guessing_wrong(g, shop, "", MOPAY_RISK_GUESS_PAYMENT_CODE, 0);
        assert_true(mopay_risk_guessing_admit(g, shop, "", MOPAY_RISK_GUESS_PAYMENT_CODE, 0, &retry));
    }
    struct mopay_risk_guess_alert a[1];
    assert_int_equal(mopay_risk_guessing_alerts(g, a, 1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(terminal_throttled_alone),
                                       cmocka_unit_test(merchant_wide_and_newest_first), cmocka_unit_test(no_limit)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
