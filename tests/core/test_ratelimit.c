/* The rate limiter: a burst of `limit`, then one per window/limit; Retry-After in whole seconds;
 * keys apart; a flood of new keys does not make it forget a busy key; limit 0 allows all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mopay/ratelimit.h"

#define S INT64_C(1000000000)

static void burst_then_steady(void **state)
{
    (void)state;
    struct mopay_ratelimit *rl = mopay_ratelimit_new(5, 60 * S, 1024, false);
    assert_non_null(rl);
    int64_t t = 1000 * S, retry = 0;
    for (int i = 0; i < 5; i++) {
        assert_true(mopay_ratelimit_check(rl, "a", 1, t, &retry)); /* a check counts nothing */
        assert_true(mopay_ratelimit_take(rl, "a", 1, t, &retry));
    }
    assert_true(!mopay_ratelimit_check(rl, "a", 1, t, &retry));
    assert_true(!mopay_ratelimit_take(rl, "a", 1, t, &retry));
    assert_int_equal(retry, 12); /* one every 60 / 5 s */
    assert_true(mopay_ratelimit_take(rl, "b", 1, t, &retry)); /* another key is its own */
    assert_true(!mopay_ratelimit_take(rl, "a", 1, t + 11 * S, &retry));
    assert_int_equal(retry, 1);
    assert_true(mopay_ratelimit_take(rl, "a", 1, t + 12 * S, &retry));
    assert_true(!mopay_ratelimit_take(rl, "a", 1, t + 12 * S, &retry));
    /* after a whole window the burst is back */
    for (int i = 0; i < 5; i++)
        assert_true(mopay_ratelimit_take(rl, "a", 1, t + 80 * S, &retry));
    assert_true(!mopay_ratelimit_take(rl, "a", 1, t + 80 * S, &retry));
    mopay_ratelimit_free(rl);
}

static void busy_key_survives_a_flood(void **state)
{
    (void)state;
    struct mopay_ratelimit *rl = mopay_ratelimit_new(3, 600 * S, 512, true);
    int64_t t = 5 * S;
    for (int i = 0; i < 3; i++)
        assert_true(mopay_ratelimit_take(rl, "attacker", 8, t, NULL));
    char key[32];
    for (int i = 0; i < 100000; i++) {
        int n = snprintf(key, sizeof(key), "k%d", i);
        mopay_ratelimit_take(rl, key, (size_t)n, t - S, NULL); /* older than the attacker's */
    }
    assert_true(!mopay_ratelimit_take(rl, "attacker", 8, t, NULL));
    mopay_ratelimit_free(rl);
}

static void zero_is_off(void **state)
{
    (void)state;
    struct mopay_ratelimit *rl = mopay_ratelimit_new(0, S, 16, false);
    assert_null(rl);
    for (int i = 0; i < 1000; i++)
        assert_true(mopay_ratelimit_take(rl, "a", 1, 0, NULL));
    assert_int_equal(mopay_ratelimit_limit(rl), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(burst_then_steady), cmocka_unit_test(busy_key_survives_a_flood),
                                       cmocka_unit_test(zero_is_off)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
