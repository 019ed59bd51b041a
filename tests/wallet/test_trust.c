/* The trust rating moves the way its factors say: each factor on its own, their bounds, the
 * clamp to 350..950, the words, and the limits it raises within the tier's bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mopay/wallet.h"

#define DAY (86400LL * 1000000000LL)
#define T0 (1795248000LL * 1000000000LL)

static struct mopay_customer fresh(void)
{
    struct mopay_customer c;
    memset(&c, 0, sizeof(c));
    c.created_at_ns = T0;
    return c;
}

static int score(const struct mopay_customer *c, int64_t days)
{
    struct mopay_trust t;
    mopay_wallet_trust(c, T0 + days * DAY, &t);
    assert_int_equal(t.score, mopay_wallet_trust_score(c, T0 + days * DAY));
    return t.score;
}

static void each_factor_moves_it(void **state)
{
    (void)state;
    struct mopay_customer c = fresh();
    assert_int_equal(score(&c, 0), 500);
    assert_int_equal(score(&c, 100), 550);  /* tenure: half a point a day */
    assert_int_equal(score(&c, 1000), 650); /* at most 150 */
    c.kyc_tier = 2;
    assert_int_equal(score(&c, 0), 620);
    c.trust.bills_on_time = 3;
    assert_int_equal(score(&c, 0), 650);
    c.trust.bills_on_time = 50; /* at most 100 */
    assert_int_equal(score(&c, 0), 720);
    c.trust.bills_late = 1;
    assert_int_equal(score(&c, 0), 700);
    c.trust.short_of_funds = 2;
    assert_int_equal(score(&c, 0), 670);
    c.trust.refunds_received = 3; /* a few refunds say nothing */
    assert_int_equal(score(&c, 0), 670);
    c.trust.refunds_received = 5;
    assert_int_equal(score(&c, 0), 660);
    c.trust.fraud_flags = 1;
    assert_int_equal(score(&c, 0), 410);
    c.trust.fraud_flags = 3; /* clamped at the bottom */
    assert_int_equal(score(&c, 0), MOPAY_TRUST_MIN);
}

static void clamped_at_the_top(void **state)
{
    (void)state;
    struct mopay_customer c = fresh();
    c.kyc_tier = 2;
    c.trust.bills_on_time = 100;
    assert_int_equal(score(&c, 3650), 870);
    struct mopay_trust t;
    mopay_wallet_trust(&c, T0 + 3650 * DAY, &t);
    assert_int_equal(t.limit_bonus_pct, 50);
    assert_true(t.score <= MOPAY_TRUST_MAX);
}

static void factors_in_words_largest_first(void **state)
{
    (void)state;
    struct mopay_customer c = fresh();
    c.kyc_tier = 1;
    c.trust.fraud_flags = 1;
    c.trust.bills_on_time = 2;
    struct mopay_trust t;
    mopay_wallet_trust(&c, T0 + 40 * DAY, &t);
    assert_int_equal(t.factor_count, MOPAY_TRUST_FACTORS);
    assert_string_equal(t.factors[0].name, "fraud");
    assert_int_equal(t.factors[0].points, -250);
    assert_string_equal(t.factors[0].sentence, "1 payments confirmed as fraud");
    assert_string_equal(t.factors[1].name, "kyc_tier");
    for (size_t i = 1; i < t.factor_count; i++)
        assert_true(abs(t.factors[i - 1].points) >= abs(t.factors[i].points));
    assert_int_equal(t.limit_bonus_pct, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_factor_moves_it),
        cmocka_unit_test(clamped_at_the_top),
        cmocka_unit_test(factors_in_words_largest_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
