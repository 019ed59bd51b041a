/* The risk engine: each feature as risk.h documents it on hand-made event sequences (windows
 * expire exactly at 1 min / 1 h / 24 h), each rule and each decision with its reasons,
 * blocklists, scoring that neither changes state nor allocates, the model (training, file
 * round trip, refusals), the simulator's determinism, train on seed 1 / eval on seed 2, and
 * customer journeys through that model: a new customer's first minutes (top-ups from a new card,
 * lunch, money to a friend) are not declined; the same wallet drained after wrong PINs and a
 * revoked device is flagged; an old customer's payment is approved; an old account drained from
 * a new device is flagged. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mopay/risk.h"

#define S MOPAY_RISK_NS_PER_S
#define MIN MOPAY_RISK_MINUTE_NS
#define HOUR MOPAY_RISK_HOUR_NS
#define DAY MOPAY_RISK_DAY_NS
#define T0 (INT64_C(1767225600) * S) /* 2026-01-01T00:00:00Z: 09:00 in Seoul */
#define EPS 1e-9

/* ---- allocation counting: the test links with --wrap for malloc, calloc and realloc ---- */

static size_t allocations;
void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t count, size_t size);
void *__wrap_realloc(void *p, size_t size);

void *__wrap_malloc(size_t size)
{
    allocations++;
    return __real_malloc(size);
}

void *__wrap_calloc(size_t count, size_t size)
{
    allocations++;
    return __real_calloc(count, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    allocations++;
    return __real_realloc(p, size);
}

/* ---- helpers ---- */

static void id_of(uint8_t id[16], uint8_t kind, uint32_t n)
{
    memset(id, 0, 16);
    id[0] = kind;
    memcpy(id + 1, &n, sizeof(n));
}

/* Customer c of Korea paying merchant 1 at time t, with a 100-day-old device. */
static struct mopay_risk_event event_at(int64_t t, enum mopay_risk_kind kind, uint32_t c, double major)
{
    struct mopay_risk_event e;
    memset(&e, 0, sizeof(e));
    e.time_ns = t;
    e.kind = kind;
    id_of(e.customer, 'c', c);
    id_of(e.device, 'd', c);
    id_of(e.phone, 'p', c);
    if (kind != MOPAY_RISK_TOPUP)
        id_of(e.payee, kind == MOPAY_RISK_PAYMENT ? 'm' : 'c', 1000 + 1);
    e.amount_minor = (int64_t)llround(major * 100);
    e.currency_exponent = 2;
    memcpy(e.customer_country, "KR", 3);
    memcpy(e.payee_country, "KR", 3);
    e.mcc = kind == MOPAY_RISK_PAYMENT ? 5411 : 0;
    e.kyc_tier = 2;
    e.device_created_ns = T0 - 100 * DAY;
    e.customer_created_ns = T0 - 400 * DAY;
    e.utc_offset_min = 540;
    return e;
}

static struct mopay_risk_event pay_at(int64_t t, uint32_t c, double major)
{
    return event_at(t, MOPAY_RISK_PAYMENT, c, major);
}

static struct mopay_risk_engine *engine_new(void)
{
    struct mopay_risk_config config;
    mopay_risk_config_default(&config);
    struct mopay_risk_engine *engine = mopay_risk_engine_new(&config, 16);
    assert_non_null(engine);
    return engine;
}

static void commit(struct mopay_risk_engine *engine, struct mopay_risk_event e)
{
    assert_true(mopay_risk_commit(engine, &e));
}

static double feature(struct mopay_risk_engine *engine, struct mopay_risk_event e, enum mopay_risk_feature f)
{
    double features[MOPAY_RISK_FEATURE_COUNT];
    mopay_risk_features(engine, &e, features);
    return features[f];
}

static struct mopay_risk_decision decide(struct mopay_risk_engine *engine, struct mopay_risk_event e)
{
    struct mopay_risk_decision d;
    mopay_risk_score(engine, &e, &d);
    return d;
}

static bool has_reason(const struct mopay_risk_decision *d, const char *code)
{
    for (size_t i = 0; i < d->reason_count; i++)
        if (strcmp(d->reasons[i].code, code) == 0)
            return true;
    return false;
}

/* The rule fires on e, alone or among others, with this action overall. */
static void assert_fires(struct mopay_risk_engine *engine, struct mopay_risk_event e, const char *code,
                         enum mopay_risk_action action)
{
    struct mopay_risk_decision d = decide(engine, e);
    if (!has_reason(&d, code) || d.action != action)
        fail_msg("expected %s with %s, got %s with %zu reasons (%s)", code, mopay_risk_action_name(action),
                 mopay_risk_action_name(d.action), d.reason_count, d.reason_count ? d.reasons[0].code : "-");
    for (size_t i = 0; i < d.reason_count; i++) {
        assert_non_null(d.reasons[i].text);
        assert_true(strlen(d.reasons[i].text) > 10);
    }
}

static void assert_silent(struct mopay_risk_engine *engine, struct mopay_risk_event e)
{
    struct mopay_risk_decision d = decide(engine, e);
    if (d.action != MOPAY_RISK_APPROVE || d.reason_count != 0)
        fail_msg("expected approve without reasons, got %s (%s)", mopay_risk_action_name(d.action),
                 d.reason_count ? d.reasons[0].code : "-");
}

/* ---- features ---- */

static void windows_expire_exactly(void **state)
{
    (void)state;
    struct mopay_risk_engine *engine = engine_new();
    commit(engine, pay_at(T0, 1, 10));
    commit(engine, pay_at(T0 + 10 * S, 1, 20));
    /* 1 minute: the first payment is in until it is exactly 60 s old */
    assert_float_equal(feature(engine, pay_at(T0 + MIN - 1, 1, 5), MOPAY_RISK_F_COUNT_1M), log1p(3), EPS);
    assert_float_equal(feature(engine, pay_at(T0 + MIN, 1, 5), MOPAY_RISK_F_COUNT_1M), log1p(2), EPS);
    assert_float_equal(feature(engine, pay_at(T0 + MIN + 10 * S, 1, 5), MOPAY_RISK_F_COUNT_1M), log1p(1), EPS);
    /* 1 hour, counts and sums */
    assert_float_equal(feature(engine, pay_at(T0 + HOUR - 1, 1, 5), MOPAY_RISK_F_COUNT_1H), log1p(3), EPS);
    assert_float_equal(feature(engine, pay_at(T0 + HOUR - 1, 1, 5), MOPAY_RISK_F_SUM_1H), log1p(35), EPS);
    assert_float_equal(feature(engine, pay_at(T0 + HOUR, 1, 5), MOPAY_RISK_F_COUNT_1H), log1p(2), EPS);
    assert_float_equal(feature(engine, pay_at(T0 + HOUR, 1, 5), MOPAY_RISK_F_SUM_1H), log1p(25), EPS);
    /* 24 hours */
    assert_float_equal(feature(engine, pay_at(T0 + DAY - 1, 1, 5), MOPAY_RISK_F_COUNT_24H), log1p(3), EPS);
    assert_float_equal(feature(engine, pay_at(T0 + DAY - 1, 1, 5), MOPAY_RISK_F_SUM_24H), log1p(35), EPS);
    assert_float_equal(feature(engine, pay_at(T0 + DAY, 1, 5), MOPAY_RISK_F_COUNT_24H), log1p(2), EPS);
    assert_float_equal(feature(engine, pay_at(T0 + DAY + 10 * S, 1, 5), MOPAY_RISK_F_SUM_24H), log1p(5), EPS);
    /* a top-up is not an outflow: it does not count itself */
    struct mopay_risk_event top = event_at(T0 + 20 * S, MOPAY_RISK_TOPUP, 1, 50);
    assert_float_equal(feature(engine, top, MOPAY_RISK_F_COUNT_1M), log1p(2), EPS);
    /* another customer's history is not this one's */
    assert_float_equal(feature(engine, pay_at(T0 + 20 * S, 2, 5), MOPAY_RISK_F_COUNT_1M), log1p(1), EPS);
    mopay_risk_engine_free(engine);
}

static void windows_saturate_at_ring_size(void **state)
{
    (void)state;
    struct mopay_risk_engine *engine = engine_new();
    for (int i = 0; i < MOPAY_RISK_OUTFLOWS_KEPT + 10; i++)
        commit(engine, pay_at(T0 + i * S, 1, 1));
    double count = feature(engine, pay_at(T0 + 100 * S, 1, 1), MOPAY_RISK_F_COUNT_1H);
    assert_float_equal(count, log1p(MOPAY_RISK_OUTFLOWS_KEPT + 1), EPS);
    assert_float_equal(feature(engine, pay_at(T0 + 100 * S, 1, 1), MOPAY_RISK_F_HISTORY_OUTFLOWS),
                       log1p(MOPAY_RISK_OUTFLOWS_KEPT + 10), EPS);
    mopay_risk_engine_free(engine);
}

static void amount_against_own_history(void **state)
{
    (void)state;
    struct mopay_risk_engine *engine = engine_new();
    struct mopay_risk_event e = pay_at(T0 + HOUR, 1, 100);
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_LOG_AMOUNT), log1p(100), EPS);
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_AMOUNT_Z), 0, EPS);
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_AMOUNT_OVER_MAX), 0, EPS);
    const double amounts[] = {10, 20, 30, 40};
    for (int i = 0; i < 4; i++) {
        if (i == 2) /* two outflows: no z-score yet */
            assert_float_equal(feature(engine, e, MOPAY_RISK_F_AMOUNT_Z), 0, EPS);
        commit(engine, pay_at(T0 + i * S, 1, amounts[i]));
    }
    commit(engine, event_at(T0 + 10 * S, MOPAY_RISK_TOPUP, 1, 5000)); /* not an outflow: not history */
    double mean = 0, m2 = 0;
    for (int i = 0; i < 4; i++)
        mean += log1p(amounts[i]) / 4;
    for (int i = 0; i < 4; i++)
        m2 += (log1p(amounts[i]) - mean) * (log1p(amounts[i]) - mean);
    double z = (log1p(100) - mean) / fmax(sqrt(m2 / 3), 0.25);
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_AMOUNT_Z), z, 1e-9);
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_AMOUNT_OVER_MAX), log(101.0 / 41.0), 1e-6);
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_HISTORY_OUTFLOWS), log1p(4), EPS);
    /* a constant history has sd 0: the floor 0.25 keeps z finite, and it is clipped at 8 */
    for (int i = 0; i < 5; i++)
        commit(engine, pay_at(T0 + i * S, 2, 10));
    assert_float_equal(feature(engine, pay_at(T0 + HOUR, 2, 10), MOPAY_RISK_F_AMOUNT_Z), 0, 1e-6);
    assert_float_equal(feature(engine, pay_at(T0 + HOUR, 2, 10000), MOPAY_RISK_F_AMOUNT_Z), 8, EPS);
    mopay_risk_engine_free(engine);
}

static void new_payee_and_its_window(void **state)
{
    (void)state;
    struct mopay_risk_engine *engine = engine_new();
    struct mopay_risk_event e = event_at(T0, MOPAY_RISK_P2P_OUT, 1, 10);
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_NEW_PAYEE), 1, EPS);
    commit(engine, e);
    e.time_ns = T0 + 30 * DAY - 1;
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_NEW_PAYEE), 0, EPS);
    e.time_ns = T0 + 30 * DAY;
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_NEW_PAYEE), 1, EPS);
    /* the set keeps the last MOPAY_RISK_PAYEES_KEPT payees: one more pushes the oldest out */
    for (uint32_t i = 0; i < MOPAY_RISK_PAYEES_KEPT - 1; i++) {
        struct mopay_risk_event other = event_at(T0 + (1 + i) * S, MOPAY_RISK_PAYMENT, 1, 10);
        id_of(other.payee, 'm', 5000 + i);
        commit(engine, other);
    }
    e.time_ns = T0 + HOUR;
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_NEW_PAYEE), 0, EPS);
    struct mopay_risk_event last = event_at(T0 + 40 * S, MOPAY_RISK_PAYMENT, 1, 10);
    id_of(last.payee, 'm', 9999);
    commit(engine, last);
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_NEW_PAYEE), 1, EPS);
    /* top-ups have no payee */
    assert_float_equal(feature(engine, event_at(T0, MOPAY_RISK_TOPUP, 1, 10), MOPAY_RISK_F_NEW_PAYEE), 0, EPS);
    mopay_risk_engine_free(engine);
}

static void borders_and_local_night(void **state)
{
    (void)state;
    struct mopay_risk_engine *engine = engine_new();
    struct mopay_risk_event e = pay_at(T0 + 17 * HOUR, 1, 10); /* 02:00 in Seoul */
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_NIGHT), 1, EPS);
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_CROSS_BORDER), 0, EPS);
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_NIGHT_ABROAD), 0, EPS);
    memcpy(e.payee_country, "JP", 3);
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_CROSS_BORDER), 1, EPS);
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_NEW_COUNTRY), 1, EPS);
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_NIGHT_ABROAD), 1, EPS);
    commit(engine, e);
    e.time_ns = T0 + 21 * HOUR; /* 06:00: day again, and Japan is no longer new */
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_NIGHT), 0, EPS);
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_NEW_COUNTRY), 0, EPS);
    e.time_ns = T0 + 15 * HOUR - 1; /* 23:59:59 */
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_NIGHT), 0, EPS);
    e.time_ns = T0 + 15 * HOUR; /* midnight */
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_NIGHT), 1, EPS);
    e.utc_offset_min = -300; /* 10:00 in New York */
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_NIGHT), 0, EPS);
    e.time_ns = T0 - 1000 * DAY + 6 * HOUR; /* before 1970 + its offset: still 01:00 */
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_NIGHT), 1, EPS);
    bool known;
    assert_int_equal(mopay_risk_utc_offset_min("KR", &known), 540);
    assert_true(known);
    assert_int_equal(mopay_risk_utc_offset_min("US", &known), -300);
    assert_int_equal(mopay_risk_utc_offset_min("IN", &known), 330);
    assert_int_equal(mopay_risk_utc_offset_min("ZZ", &known), 0);
    assert_false(known);
    mopay_risk_engine_free(engine);
}

static void ages_tier_and_kind(void **state)
{
    (void)state;
    struct mopay_risk_engine *engine = engine_new();
    struct mopay_risk_event e = event_at(T0, MOPAY_RISK_TOPUP, 1, 10);
    e.device_created_ns = T0 - 2 * HOUR;
    e.funding_created_ns = T0 - 5 * HOUR;
    e.customer_created_ns = T0 - 3 * DAY;
    e.kyc_tier = 3;
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_DEVICE_AGE), log1p(2), EPS);
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_FUNDING_AGE), log1p(5), EPS);
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_ACCOUNT_AGE), log1p(3), EPS);
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_KYC_TIER), 3, EPS);
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_IS_TOPUP), 1, EPS);
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_IS_P2P), 0, EPS);
    /* the device is younger than the account: log(1 + 3 days) - log(1 + 2 hours in days) */
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_DEVICE_ACCOUNT_GAP), log1p(3) - log1p(2.0 / 24), EPS);
    e.device_created_ns = e.customer_created_ns; /* the device signed up on: no gap */
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_DEVICE_ACCOUNT_GAP), 0, EPS);
    e.device_created_ns = e.customer_created_ns - DAY; /* older than the account: none either */
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_DEVICE_ACCOUNT_GAP), 0, EPS);
    e.funding_created_ns = 0; /* none: ten years */
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_FUNDING_AGE), log1p(3650.0 * 24), EPS);
    e.device_created_ns = 0; /* unknown: new */
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_DEVICE_AGE), 0, EPS);
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_DEVICE_ACCOUNT_GAP), log1p(3), EPS);
    e.kind = MOPAY_RISK_WITHDRAWAL;
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_IS_WITHDRAWAL), 1, EPS);
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_IS_TOPUP), 0, EPS);
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_MCC_RISK), 0, EPS);
    struct mopay_risk_event p = pay_at(T0, 1, 10);
    p.mcc = 7995;
    assert_float_equal(feature(engine, p, MOPAY_RISK_F_MCC_RISK), 1.0, EPS);
    p.mcc = 5411;
    assert_float_equal(feature(engine, p, MOPAY_RISK_F_MCC_RISK), mopay_risk_mcc_risk(5411), EPS);
    assert_true(mopay_risk_mcc_risk(4829) > mopay_risk_mcc_risk(5944));
    assert_true(mopay_risk_mcc_risk(5944) > mopay_risk_mcc_risk(5732));
    assert_true(mopay_risk_mcc_risk(5732) > mopay_risk_mcc_risk(5411));
    assert_float_equal(mopay_risk_mcc_risk(1234), 0.3, 1e-6);
    assert_float_equal(mopay_risk_mcc_risk(0), 0, EPS);
    mopay_risk_engine_free(engine);
}

static void pins_and_revoked_devices(void **state)
{
    (void)state;
    struct mopay_risk_engine *engine = engine_new();
    uint8_t customer[16];
    id_of(customer, 'c', 1);
    for (int i = 0; i < 3; i++)
        assert_true(mopay_risk_note_wrong_pin(engine, customer, T0 + i * MIN));
    assert_true(mopay_risk_note_device_revoked(engine, customer, T0));
    struct mopay_risk_event e = pay_at(T0 + DAY - 1, 1, 10);
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_WRONG_PINS_24H), 3, EPS);
    e.time_ns = T0 + DAY + MIN; /* the first two are out */
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_WRONG_PINS_24H), 1, EPS);
    e.time_ns = T0 + 2 * MIN;
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_WRONG_PINS_24H), 3, EPS);
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_DEVICE_REVOKED_7D), 1, EPS);
    e.time_ns = T0 + 7 * DAY - 1;
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_DEVICE_REVOKED_7D), 1, EPS);
    e.time_ns = T0 + 7 * DAY;
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_DEVICE_REVOKED_7D), 0, EPS);
    assert_float_equal(feature(engine, e, MOPAY_RISK_F_WRONG_PINS_24H), 0, EPS);
    mopay_risk_engine_free(engine);
}

static void fan_out_withdrawals_topups_and_inflows(void **state)
{
    (void)state;
    struct mopay_risk_engine *engine = engine_new();
    for (uint32_t i = 0; i < 3; i++) { /* P2P to three people, and a merchant that does not count */
        struct mopay_risk_event p = event_at(T0 + i * MIN, MOPAY_RISK_P2P_OUT, 1, 100);
        id_of(p.payee, 'c', 2000 + i);
        commit(engine, p);
    }
    commit(engine, pay_at(T0 + 4 * MIN, 1, 100));
    struct mopay_risk_event w = event_at(T0 + 5 * MIN, MOPAY_RISK_WITHDRAWAL, 1, 400);
    id_of(w.payee, 'b', 1);
    assert_float_equal(feature(engine, w, MOPAY_RISK_F_PAYEES_1H), 4, EPS);
    assert_float_equal(feature(engine, w, MOPAY_RISK_F_NEW_PAYEES_1H), 4, EPS); /* all four new */
    assert_float_equal(feature(engine, w, MOPAY_RISK_F_WITHDRAWAL_SHARE_1H), 400.0 / 800.0, EPS);
    commit(engine, w);
    struct mopay_risk_event later = pay_at(T0 + HOUR + 2 * MIN + 30 * S, 1, 100); /* the P2P are out */
    assert_float_equal(feature(engine, later, MOPAY_RISK_F_PAYEES_1H), 1, EPS);
    assert_float_equal(feature(engine, later, MOPAY_RISK_F_WITHDRAWAL_SHARE_1H), 400.0 / 600.0, EPS);
    /* new payees: a person paid two hours ago is in payees_1h when paid again, not in new_payees_1h */
    struct mopay_risk_event known = event_at(T0, MOPAY_RISK_P2P_OUT, 5, 20);
    id_of(known.payee, 'c', 3000);
    commit(engine, known);
    known.time_ns = T0 + 2 * HOUR;
    commit(engine, known);
    struct mopay_risk_event fresh = event_at(T0 + 2 * HOUR + MIN, MOPAY_RISK_P2P_OUT, 5, 20);
    id_of(fresh.payee, 'c', 3001);
    commit(engine, fresh);
    id_of(fresh.payee, 'c', 3002);
    fresh.time_ns += MIN;
    assert_float_equal(feature(engine, fresh, MOPAY_RISK_F_PAYEES_1H), 3, EPS);
    assert_float_equal(feature(engine, fresh, MOPAY_RISK_F_NEW_PAYEES_1H), 2, EPS);
    id_of(fresh.payee, 'c', 3000); /* to the known one again: not new, nor counted twice */
    assert_float_equal(feature(engine, fresh, MOPAY_RISK_F_PAYEES_1H), 2, EPS);
    assert_float_equal(feature(engine, fresh, MOPAY_RISK_F_NEW_PAYEES_1H), 1, EPS);
    /* small top-ups: below 10 major units, in the last hour, this one included */
    for (int i = 0; i < 3; i++)
        commit(engine, event_at(T0 + i * MIN, MOPAY_RISK_TOPUP, 3, 2.5));
    commit(engine, event_at(T0 + 3 * MIN, MOPAY_RISK_TOPUP, 3, 10)); /* not small */
    struct mopay_risk_event t = event_at(T0 + HOUR - 1, MOPAY_RISK_TOPUP, 3, 1);
    assert_float_equal(feature(engine, t, MOPAY_RISK_F_SMALL_TOPUPS_1H), 4, EPS);
    t.time_ns = T0 + HOUR;
    assert_float_equal(feature(engine, t, MOPAY_RISK_F_SMALL_TOPUPS_1H), 3, EPS);
    /* what customer 1 sent to c2000..2002 is their P2P received */
    struct mopay_risk_event mule = event_at(T0 + 30 * MIN, MOPAY_RISK_WITHDRAWAL, 0, 100);
    id_of(mule.customer, 'c', 2000);
    assert_float_equal(feature(engine, mule, MOPAY_RISK_F_P2P_IN_1H), log1p(100), EPS);
    mule.time_ns = T0 + HOUR;
    assert_float_equal(feature(engine, mule, MOPAY_RISK_F_P2P_IN_1H), 0, EPS);
    mopay_risk_engine_free(engine);
}

static void feature_names_are_listed(void **state)
{
    (void)state;
    assert_string_equal(mopay_risk_feature_name(0), "log_amount");
    assert_string_equal(mopay_risk_feature_name(MOPAY_RISK_F_PAYEES_1H), "payees_1h");
    assert_string_equal(mopay_risk_feature_name(MOPAY_RISK_FEATURE_COUNT - 1), "is_topup");
    for (size_t i = 0; i < MOPAY_RISK_FEATURE_COUNT; i++)
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(mopay_risk_feature_name(i), mopay_risk_feature_name(j));
}

/* ---- rules and decisions ---- */

static void approve_without_reasons(void **state)
{
    (void)state;
    struct mopay_risk_engine *engine = engine_new();
    struct mopay_risk_decision d = decide(engine, pay_at(T0, 1, 12.5));
    assert_int_equal(d.action, MOPAY_RISK_APPROVE);
    assert_int_equal(d.reason_count, 0);
    assert_float_equal(d.score, 0, EPS); /* no model */
    assert_string_equal(mopay_risk_action_name(MOPAY_RISK_CONFIRM), "confirm");
    mopay_risk_engine_free(engine);
}

static void blocklists_decline(void **state)
{
    (void)state;
    struct mopay_risk_engine *engine = engine_new();
    struct mopay_risk_event e = pay_at(T0, 1, 10);
    id_of(e.card, 'k', 1);
    const struct {
        enum mopay_risk_list list;
        const uint8_t *key;
        const char *code;
    } lists[] = {{MOPAY_RISK_LIST_DEVICE, e.device, "blocklisted_device"},
                 {MOPAY_RISK_LIST_PHONE, e.phone, "blocklisted_phone"},
                 {MOPAY_RISK_LIST_CARD, e.card, "blocklisted_card"},
                 {MOPAY_RISK_LIST_MERCHANT, e.payee, "blocklisted_merchant"}};
    for (size_t i = 0; i < 4; i++) {
        assert_silent(engine, e);
        assert_true(mopay_risk_block(engine, lists[i].list, lists[i].key));
        assert_fires(engine, e, lists[i].code, MOPAY_RISK_DECLINE);
        assert_true(mopay_risk_unblock(engine, lists[i].list, lists[i].key));
        assert_false(mopay_risk_unblock(engine, lists[i].list, lists[i].key));
    }
    /* a key on one list is not on the others, and a P2P payee is not a merchant */
    assert_true(mopay_risk_block(engine, MOPAY_RISK_LIST_MERCHANT, e.device));
    assert_true(mopay_risk_block(engine, MOPAY_RISK_LIST_MERCHANT, e.payee));
    struct mopay_risk_event p2p = e;
    p2p.kind = MOPAY_RISK_P2P_OUT;
    assert_silent(engine, p2p);
    assert_fires(engine, e, "blocklisted_merchant", MOPAY_RISK_DECLINE);
    mopay_risk_engine_free(engine);
}

static void velocity_and_amount_rules(void **state)
{
    (void)state;
    struct mopay_risk_engine *engine = engine_new();
    for (int i = 0; i < 5; i++) /* 5 in a minute are fine; a 6th is not */
        commit(engine, pay_at(T0 + i * S, 1, 10));
    assert_fires(engine, pay_at(T0 + 30 * S, 1, 10), "velocity_1m", MOPAY_RISK_CONFIRM);
    assert_silent(engine, pay_at(T0 + MIN, 1, 10));
    for (int i = 0; i < 20; i++)
        commit(engine, pay_at(T0 + i * 2 * MIN, 2, 10));
    assert_fires(engine, pay_at(T0 + 40 * MIN, 2, 10), "velocity_1h", MOPAY_RISK_CONFIRM);
    assert_silent(engine, pay_at(T0 + HOUR + 2 * MIN, 2, 10));
    for (int i = 0; i < 3; i++)
        commit(engine, pay_at(T0 + i * HOUR, 3, 3000));
    assert_fires(engine, pay_at(T0 + 5 * HOUR, 3, 1001), "amount_24h", MOPAY_RISK_CONFIRM);
    assert_silent(engine, pay_at(T0 + 5 * HOUR, 3, 999));
    for (int i = 0; i < 10; i++) /* ten payments of about 10: history enough for amount_unusual */
        commit(engine, pay_at(T0 + i * HOUR, 4, 10 + i % 3));
    assert_fires(engine, pay_at(T0 + DAY, 4, 1000), "amount_unusual", MOPAY_RISK_CONFIRM);
    assert_silent(engine, pay_at(T0 + DAY, 4, 40)); /* above usual, not 5x the largest */
    mopay_risk_engine_free(engine);
}

static void device_night_pin_and_fan_out_rules(void **state)
{
    (void)state;
    struct mopay_risk_engine *engine = engine_new();
    struct mopay_risk_event fresh = pay_at(T0, 1, 300);
    fresh.device_created_ns = T0 - HOUR;
    assert_fires(engine, fresh, "new_device_large_amount", MOPAY_RISK_CONFIRM);
    fresh.amount_minor = 29999;
    assert_silent(engine, fresh);
    /* the device a customer signed up on is not a new device on their account */
    fresh.amount_minor = 30000;
    fresh.customer_created_ns = T0 - HOUR - 59 * MIN;
    assert_silent(engine, fresh);
    fresh.customer_created_ns = T0 - 2 * HOUR; /* added an hour after sign-up: a new one */
    assert_fires(engine, fresh, "new_device_large_amount", MOPAY_RISK_CONFIRM);
    fresh.customer_created_ns = 0; /* sign-up unknown: new */
    assert_fires(engine, fresh, "new_device_large_amount", MOPAY_RISK_CONFIRM);
    struct mopay_risk_event night = pay_at(T0 + 17 * HOUR, 1, 100); /* 02:00 in Seoul, in Japan */
    memcpy(night.payee_country, "JP", 3);
    assert_fires(engine, night, "night_abroad", MOPAY_RISK_CONFIRM);
    night.time_ns = T0 + 22 * HOUR; /* 07:00 */
    assert_silent(engine, night);
    uint8_t customer[16];
    id_of(customer, 'c', 2);
    for (int i = 0; i < 3; i++)
        assert_true(mopay_risk_note_wrong_pin(engine, customer, T0 + i * S));
    assert_fires(engine, pay_at(T0 + MIN, 2, 10), "wrong_pins", MOPAY_RISK_CONFIRM);
    assert_silent(engine, pay_at(T0 + DAY, 2, 10));
    id_of(customer, 'c', 3);
    assert_true(mopay_risk_note_device_revoked(engine, customer, T0));
    assert_fires(engine, event_at(T0 + HOUR, MOPAY_RISK_P2P_OUT, 3, 50), "device_revoked_recently",
                 MOPAY_RISK_CONFIRM);
    assert_silent(engine, pay_at(T0 + HOUR, 3, 50)); /* a merchant payment */
    assert_silent(engine, event_at(T0 + DAY, MOPAY_RISK_P2P_OUT, 3, 50)); /* a day later */
    for (uint32_t i = 0; i < 4; i++) {
        struct mopay_risk_event p = event_at(T0 + i * 5 * MIN, MOPAY_RISK_P2P_OUT, 4, 20);
        id_of(p.payee, 'c', 3000 + i);
        commit(engine, p);
    }
    struct mopay_risk_event fifth = event_at(T0 + 30 * MIN, MOPAY_RISK_P2P_OUT, 4, 20);
    id_of(fifth.payee, 'c', 3999);
    assert_fires(engine, fifth, "mule_fan_out", MOPAY_RISK_CONFIRM);
    fifth.time_ns = T0 + HOUR + 30 * S; /* the first is out */
    assert_silent(engine, fifth);
    mopay_risk_engine_free(engine);
}

static void card_testing_declines(void **state)
{
    (void)state;
    struct mopay_risk_engine *engine = engine_new();
    for (int i = 0; i < 4; i++) {
        struct mopay_risk_event t = event_at(T0 + i * 30 * S, MOPAY_RISK_TOPUP, 1, 1 + i);
        assert_silent(engine, t);
        commit(engine, t);
    }
    assert_fires(engine, event_at(T0 + 3 * MIN, MOPAY_RISK_TOPUP, 1, 3.17), "card_testing", MOPAY_RISK_DECLINE);
    assert_silent(engine, event_at(T0 + 3 * MIN, MOPAY_RISK_TOPUP, 1, 50)); /* not a small one */
    mopay_risk_engine_free(engine);
}

/* score = sigmoid(log(1 + amount) - log(101)): 0.5 at 100 major units. */
static void model_on_amount(struct mopay_risk_model *m)
{
    memset(m, 0, sizeof(*m));
    for (size_t i = 0; i < MOPAY_RISK_FEATURE_COUNT; i++)
        m->scale[i] = 1;
    m->weight[MOPAY_RISK_F_LOG_AMOUNT] = 1;
    m->bias = -log1p(100);
    m->confirm_at = 0.5;
    m->decline_at = 0.9;
}

static void model_thresholds_decide(void **state)
{
    (void)state;
    struct mopay_risk_engine *engine = engine_new();
    struct mopay_risk_model m;
    model_on_amount(&m);
    mopay_risk_engine_set_model(engine, &m);
    struct mopay_risk_decision d = decide(engine, pay_at(T0, 1, 99));
    assert_int_equal(d.action, MOPAY_RISK_APPROVE);
    assert_true(d.score < 0.5 && d.score > 0.49);
    d = decide(engine, pay_at(T0, 1, 100));
    assert_float_equal(d.score, 0.5, 1e-12);
    assert_fires(engine, pay_at(T0, 1, 100), "model_elevated", MOPAY_RISK_CONFIRM);
    assert_fires(engine, pay_at(T0, 1, 1000), "model_high", MOPAY_RISK_DECLINE);
    d = decide(engine, pay_at(T0, 1, 1000));
    assert_false(has_reason(&d, "model_elevated"));
    mopay_risk_engine_set_model(engine, NULL); /* rules only again */
    assert_silent(engine, pay_at(T0, 1, 1000));
    mopay_risk_engine_free(engine);
}

static void reasons_order_and_cap(void **state)
{
    (void)state;
    struct mopay_risk_engine *engine = engine_new();
    uint8_t customer[16];
    id_of(customer, 'c', 1);
    for (int i = 0; i < 3; i++)
        assert_true(mopay_risk_note_wrong_pin(engine, customer, T0 + i * S));
    struct mopay_risk_event e = pay_at(T0 + 17 * HOUR, 1, 500); /* at night in Japan, new device */
    memcpy(e.payee_country, "JP", 3);
    e.device_created_ns = e.time_ns - MIN;
    id_of(e.card, 'k', 1);
    assert_true(mopay_risk_block(engine, MOPAY_RISK_LIST_CARD, e.card));
    assert_true(mopay_risk_block(engine, MOPAY_RISK_LIST_DEVICE, e.device));
    struct mopay_risk_decision d = decide(engine, e);
    assert_int_equal(d.action, MOPAY_RISK_DECLINE);
    assert_int_equal(d.reason_count, MOPAY_RISK_REASONS_MAX);
    /* declines first, then confirmations, each in rule order; wrong_pins is the fifth */
    assert_string_equal(d.reasons[0].code, "blocklisted_device");
    assert_string_equal(d.reasons[1].code, "blocklisted_card");
    assert_string_equal(d.reasons[2].code, "new_device_large_amount");
    assert_string_equal(d.reasons[3].code, "night_abroad");
    assert_int_equal(d.reasons[0].rule, MOPAY_RISK_RULE_BLOCKLISTED_DEVICE);
    mopay_risk_engine_free(engine);
}

static void rule_actions_are_configurable(void **state)
{
    (void)state;
    struct mopay_risk_config config;
    mopay_risk_config_default(&config);
    config.rule_actions[MOPAY_RISK_RULE_NEW_DEVICE_LARGE_AMOUNT] = MOPAY_RISK_DECLINE;
    config.rule_actions[MOPAY_RISK_RULE_BLOCKLISTED_DEVICE] = MOPAY_RISK_APPROVE; /* off */
    config.new_device_amount_major = 50;
    struct mopay_risk_engine *engine = mopay_risk_engine_new(&config, 0);
    assert_non_null(engine);
    struct mopay_risk_event e = pay_at(T0, 1, 50);
    e.device_created_ns = T0 - HOUR;
    assert_fires(engine, e, "new_device_large_amount", MOPAY_RISK_DECLINE);
    e.device_created_ns = T0 - 100 * DAY;
    assert_true(mopay_risk_block(engine, MOPAY_RISK_LIST_DEVICE, e.device));
    assert_silent(engine, e);
    mopay_risk_engine_free(engine);
}

/* Scoring changes nothing and allocates nothing; commit allocates only for new customers. */
static void scoring_is_read_only_and_allocation_free(void **state)
{
    (void)state;
    struct mopay_risk_engine *engine = engine_new();
    struct mopay_risk_model m;
    model_on_amount(&m);
    mopay_risk_engine_set_model(engine, &m);
    for (int i = 0; i < 10; i++)
        commit(engine, pay_at(T0 + i * S, 1, 10 + i));
    struct mopay_risk_event e = event_at(T0 + MIN, MOPAY_RISK_P2P_OUT, 1, 250);
    size_t before = allocations;
    struct mopay_risk_decision first = decide(engine, e), second;
    for (int i = 0; i < 100; i++)
        second = decide(engine, e);
    struct mopay_risk_decision stranger = decide(engine, pay_at(T0, 77, 10));
    (void)stranger;
    assert_int_equal(allocations, before);
    assert_memory_equal(first.features, second.features, sizeof(first.features));
    assert_true(first.score == second.score && first.action == second.action);
    commit(engine, pay_at(T0 + 2 * MIN, 1, 10)); /* known customer, merchant payee */
    assert_int_equal(allocations, before);
    assert_int_equal(mopay_risk_engine_customers(engine), 1);
    commit(engine, e); /* the P2P's receiver is new: one chunk of states was allocated already */
    assert_int_equal(mopay_risk_engine_customers(engine), 2);
    struct mopay_risk_decision after = decide(engine, e);
    assert_true(after.features[MOPAY_RISK_F_COUNT_1H] > first.features[MOPAY_RISK_F_COUNT_1H]);
    mopay_risk_engine_free(engine);
}

static void customers_max_bounds_memory(void **state)
{
    (void)state;
    struct mopay_risk_config config;
    mopay_risk_config_default(&config);
    config.customers_max = 2;
    struct mopay_risk_engine *engine = mopay_risk_engine_new(&config, 0);
    assert_non_null(engine);
    struct mopay_risk_event a = pay_at(T0, 1, 10), b = pay_at(T0, 2, 10), c = pay_at(T0, 3, 10);
    assert_true(mopay_risk_commit(engine, &a));
    assert_true(mopay_risk_commit(engine, &b));
    assert_false(mopay_risk_commit(engine, &c));
    assert_true(mopay_risk_commit(engine, &a)); /* known customers still learn */
    assert_int_equal(mopay_risk_engine_customers(engine), 2);
    assert_silent(engine, c); /* and the newcomer is still scored, on no history */
    mopay_risk_engine_free(engine);
}

/* The scoring path's sources: no I/O, no clock, and no allocation outside engine.c (which
 * allocates for new customers only, as the test above shows). */
static void scoring_sources_are_pure(void **state)
{
    (void)state;
    static const char *const files[] = {"engine.c", "features.c", "decide.c", "internal.h"};
    static const char *const banned[] = {"stdio.h", "time.h", "printf", "fopen", "clock_gettime", "getenv",
                                         "mopay_clock", "rand(", "malloc(", "calloc(", "realloc("};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/src/risk/%s", MOPAY_SOURCE_DIR, files[i]);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        static char text[65536];
        size_t n = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
        assert_true(n < sizeof(text) - 1);
        text[n] = '\0';
        size_t checked = strcmp(files[i], "engine.c") == 0 ? 8 : sizeof(banned) / sizeof(banned[0]);
        for (size_t k = 0; k < checked; k++)
            if (strstr(text, banned[k]) != NULL)
                fail_msg("src/risk/%s uses %s", files[i], banned[k]);
    }
}

/* ---- the model ---- */

#define TOY 400

/* Feature 0 separates the classes with a margin; feature 1 is noise; the rest are constant. */
static void toy_set(double *x, uint8_t *y)
{
    uint64_t r = 12345;
    memset(x, 0, TOY * MOPAY_RISK_FEATURE_COUNT * sizeof(double));
    for (size_t i = 0; i < TOY; i++) {
        r = r * 6364136223846793005u + 1442695040888963407u;
        double u = (double)(r >> 11) * 0x1p-53;
        y[i] = i % 10 == 0; /* imbalanced: 10 % positives */
        x[i * MOPAY_RISK_FEATURE_COUNT + 0] = y[i] ? 1 + u : -1 - u;
        x[i * MOPAY_RISK_FEATURE_COUNT + 1] = 3 * u - 1;
        x[i * MOPAY_RISK_FEATURE_COUNT + 5] = 7;
    }
}

static void training_separates_a_toy_set(void **state)
{
    (void)state;
    static double x[TOY * MOPAY_RISK_FEATURE_COUNT];
    static uint8_t y[TOY];
    toy_set(x, y);
    struct mopay_risk_train_options o;
    mopay_risk_train_options_default(&o);
    o.positive_weight = 0; /* balanced */
    struct mopay_risk_model m;
    assert_true(mopay_risk_model_train(x, y, TOY, &o, &m));
    assert_true(mopay_risk_model_valid(&m));
    for (size_t i = 0; i < TOY; i++) {
        double s = mopay_risk_model_score(&m, &x[i * MOPAY_RISK_FEATURE_COUNT]);
        if ((s >= 0.5) != (y[i] != 0))
            fail_msg("sample %zu (label %d) scored %f", i, y[i], s);
    }
    assert_int_equal(m.trained.samples, TOY);
    assert_int_equal(m.trained.positives, TOY / 10);
    assert_float_equal(m.trained.positive_weight, 9, EPS);
    assert_true(m.weight[0] > 0);
    assert_float_equal(m.scale[5], 1, EPS); /* constant: scale 1 */
    assert_true(m.confirm_at <= m.decline_at);
    /* one class only: refused */
    uint8_t none[TOY] = {0};
    assert_false(mopay_risk_model_train(x, none, TOY, &o, &m));
}

static void thresholds_follow_the_negatives(void **state)
{
    (void)state;
    double scores[1000];
    uint8_t labels[1000];
    for (int i = 0; i < 1000; i++) {
        scores[i] = i / 1000.0;
        labels[i] = i >= 990;
    }
    struct mopay_risk_model m;
    model_on_amount(&m);
    assert_true(mopay_risk_model_set_thresholds(&m, scores, labels, 1000, 0.01, 0.001));
    size_t flagged = 0, declined = 0;
    for (int i = 0; i < 990; i++) {
        flagged += scores[i] >= m.confirm_at;
        declined += scores[i] >= m.decline_at;
    }
    assert_int_equal(flagged, 9); /* floor(1 % of 990) */
    assert_int_equal(declined, 0);
    assert_true(scores[990] >= m.confirm_at);
}

static char model_path[64];

static void model_file_round_trip(void **state)
{
    (void)state;
    static double x[TOY * MOPAY_RISK_FEATURE_COUNT];
    static uint8_t y[TOY];
    toy_set(x, y);
    struct mopay_risk_train_options o;
    mopay_risk_train_options_default(&o);
    struct mopay_risk_model m, back;
    assert_true(mopay_risk_model_train(x, y, TOY, &o, &m));
    m.trained.seed = 7;
    m.trained.customers = 100;
    m.trained.days = 3;
    char err[256];
    assert_true(mopay_risk_model_save(&m, model_path, err, sizeof(err)));
    memset(&back, 0xa5, sizeof(back));
    if (!mopay_risk_model_load(&back, model_path, err, sizeof(err)))
        fail_msg("load: %s", err);
    assert_memory_equal(&m, &back, sizeof(m)); /* bit for bit */
    assert_false(mopay_risk_model_load(&back, "/nonexistent/model.txt", err, sizeof(err)));
}

/* Saves a model, replaces `from` with `to` in its text, and expects load to refuse with a
 * message containing `expect`. */
static void refused_after_edit(const char *from, const char *to, const char *expect)
{
    struct mopay_risk_model m;
    model_on_amount(&m);
    char err[256];
    assert_true(mopay_risk_model_save(&m, model_path, err, sizeof(err)));
    FILE *f = fopen(model_path, "r");
    assert_non_null(f);
    static char text[16384];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    char *at = strstr(text, from);
    assert_non_null(at);
    static char edited[16384];
    snprintf(edited, sizeof(edited), "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    f = fopen(model_path, "w");
    assert_non_null(f);
    fputs(edited, f);
    fclose(f);
    struct mopay_risk_model back;
    if (mopay_risk_model_load(&back, model_path, err, sizeof(err)))
        fail_msg("loaded after replacing \"%s\" with \"%s\"", from, to);
    if (strstr(err, expect) == NULL)
        fail_msg("refused with \"%s\", expected \"%s\"", err, expect);
}

static void model_file_refusals(void **state)
{
    (void)state;
    refused_after_edit("feature amount_z ", "feature amount_zscore ",
                       "\"amount_zscore\"; this engine's is \"amount_z\"");
    refused_after_edit("feature log_amount", "feature amount_z", "feature 1 is \"amount_z\"");
    char count[32];
    snprintf(count, sizeof(count), "features %d", MOPAY_RISK_FEATURE_COUNT);
    refused_after_edit(count, "features 24", "the model has 24 features");
    refused_after_edit("mopay-risk-model v1", "mopay-risk-model v2", "v2");
    refused_after_edit("mopay-risk-model v1", "mopay-risk-mdl v1", "not a mopay risk model");
    refused_after_edit("confirm_at 0.5", "confirm_at 0.95", "thresholds");
    refused_after_edit("\nbias ", "\nbias nan ", "\"bias NUMBER\"");
    refused_after_edit("end\n", "", "ends early");
    refused_after_edit("log_amount 0 1 1\n", "log_amount 0 -1 1\n", "scale of log_amount must be positive");
}

/* ---- the simulator ---- */

struct digest {
    uint64_t hash;
    size_t records, transactions, frauds;
    int64_t last_ns;
    bool ordered;
};

static bool digest_each(const struct mopay_risk_sim_record *r, void *ctx)
{
    struct digest *d = ctx;
    struct mopay_risk_event e = r->event; /* hash the fields, not the padding */
    uint64_t words[] = {(uint64_t)e.time_ns, (uint64_t)e.kind, (uint64_t)e.amount_minor, (uint64_t)r->type,
                        (uint64_t)r->pattern, (uint64_t)e.device_created_ns, (uint64_t)e.funding_created_ns};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        d->hash = (d->hash ^ words[i]) * 0x100000001b3u;
    for (size_t i = 0; i < 16; i++)
        d->hash = (d->hash ^ (uint64_t)(e.customer[i] ^ e.payee[i] ^ e.device[i])) * 0x100000001b3u;
    d->ordered = d->ordered && e.time_ns >= d->last_ns;
    d->last_ns = e.time_ns;
    d->records++;
    if (r->type == MOPAY_RISK_SIM_TRANSACTION) {
        d->transactions++;
        d->frauds += r->pattern != MOPAY_RISK_PATTERN_LEGIT;
        assert_true(e.amount_minor > 0);
    }
    return true;
}

static struct digest sim_digest(uint64_t seed, uint32_t customers, uint32_t days)
{
    struct mopay_risk_sim_options o;
    mopay_risk_sim_options_default(&o);
    o.customers = customers;
    o.days = days;
    struct digest d = {.hash = 0xcbf29ce484222325u, .ordered = true};
    assert_true(mopay_risk_sim_run(seed, &o, digest_each, &d));
    return d;
}

static bool stop_at_ten(const struct mopay_risk_sim_record *r, void *ctx)
{
    (void)r;
    return ++*(size_t *)ctx < 10;
}

static void simulator_is_deterministic(void **state)
{
    (void)state;
    struct digest a = sim_digest(5, 500, 6), b = sim_digest(5, 500, 6), c = sim_digest(6, 500, 6);
    assert_true(a.ordered && c.ordered);
    assert_int_equal(a.hash, b.hash);
    assert_int_equal(a.records, b.records);
    assert_true(a.hash != c.hash);
    assert_true(a.transactions > 500 * 6);
    assert_true(a.frauds > 0);
    size_t seen = 0;
    struct mopay_risk_sim_options o;
    mopay_risk_sim_options_default(&o);
    assert_false(mopay_risk_sim_run(1, &o, stop_at_ten, &seen)); /* stopped */
    assert_int_equal(seen, 10);
    o.customers = 1;
    assert_false(mopay_risk_sim_run(1, &o, digest_each, &a));
    assert_string_equal(mopay_risk_pattern_name(MOPAY_RISK_PATTERN_MULE_CHAIN), "mule_chain");
}

static void training_is_deterministic(void **state)
{
    (void)state;
    struct mopay_risk_sim_options o;
    mopay_risk_sim_options_default(&o);
    o.customers = 600;
    o.days = 10;
    struct mopay_risk_config config;
    mopay_risk_config_default(&config);
    struct mopay_risk_train_options t;
    mopay_risk_train_options_default(&t);
    struct mopay_risk_model models[2];
    for (int i = 0; i < 2; i++) {
        struct mopay_risk_samples s;
        assert_true(mopay_risk_replay(3, &o, &config, NULL, &s));
        assert_true(mopay_risk_model_train(s.features, s.labels, s.count, &t, &models[i]));
        mopay_risk_samples_free(&s);
    }
    assert_memory_equal(&models[0], &models[1], sizeof(models[0]));
}

/* The model the CLI's `risk train --seed 1` writes (3,000 customers, 30 days), trained once for
 * the tests below and read back from its file, as the server loads it. */
static struct mopay_risk_model seed_1_model;
static bool seed_1_trained;

static const struct mopay_risk_model *model_of_seed_1(void)
{
    if (seed_1_trained)
        return &seed_1_model;
    struct mopay_risk_sim_options o;
    mopay_risk_sim_options_default(&o);
    struct mopay_risk_config config;
    mopay_risk_config_default(&config);
    struct mopay_risk_train_options t;
    mopay_risk_train_options_default(&t);
    struct mopay_risk_samples s;
    assert_true(mopay_risk_replay(1, &o, &config, NULL, &s));
    struct mopay_risk_model m;
    assert_true(mopay_risk_model_train(s.features, s.labels, s.count, &t, &m));
    mopay_risk_samples_free(&s);
    m.trained.seed = 1;
    m.trained.customers = o.customers;
    m.trained.days = o.days;
    char err[256];
    assert_true(mopay_risk_model_save(&m, model_path, err, sizeof(err)));
    if (!mopay_risk_model_load(&seed_1_model, model_path, err, sizeof(err)))
        fail_msg("load: %s", err);
    seed_1_trained = true;
    return &seed_1_model;
}

/* The README's claim: trained on seed 1, evaluated on seed 2 with the CLI's defaults (3,000
 * customers, 30 days), recall at least 0.9 at a false-positive rate of at most 1 %. */
static void train_seed_1_eval_seed_2(void **state)
{
    (void)state;
    const struct mopay_risk_model *m = model_of_seed_1();
    double fraud_share = (double)m->trained.positives / (double)m->trained.samples;
    assert_true(fraud_share >= 0.005 && fraud_share <= 0.02);
    struct mopay_risk_sim_options o;
    mopay_risk_sim_options_default(&o);
    struct mopay_risk_config config;
    mopay_risk_config_default(&config);
    struct mopay_risk_samples s;
    assert_true(mopay_risk_replay(2, &o, &config, m, &s));
    struct mopay_risk_eval e;
    assert_true(mopay_risk_evaluate(&s, &e));
    mopay_risk_samples_free(&s);
    print_message("eval seed 2: events %zu frauds %zu precision %.4f recall %.4f fpr %.4f auc %.4f "
                  "recall@1%%fpr %.4f\n",
                  e.events, e.frauds, e.precision, e.recall, e.false_positive_rate, e.roc_auc,
                  e.recall_at_1pct_fpr);
    for (int p = 0; p < MOPAY_RISK_PATTERN_COUNT; p++)
        print_message("  %-17s flagged %zu/%zu\n", mopay_risk_pattern_name((enum mopay_risk_pattern)p),
                      e.pattern_flagged[p], e.pattern_events[p]);
    assert_true(e.recall >= 0.9);
    assert_true(e.false_positive_rate <= 0.01);
    assert_true(e.recall_at_1pct_fpr >= 0.9);
    assert_true(e.roc_auc >= 0.99);
    for (int p = 1; p < MOPAY_RISK_PATTERN_COUNT; p++)
        assert_true(e.pattern_events[p] > 0);
}

/* ---- customer journeys through the engine with the seed-1 model ---- */

#define SIGNUP (T0 + 4 * HOUR) /* 12:00 in Beijing */

/* A customer of China (a 2-decimal CNY wallet) and what the server knows of them. */
struct journey {
    struct mopay_risk_engine *engine;
    uint32_t customer;
    uint32_t device;  /* the id of the device in use */
    int64_t signup_ns;
    int64_t device_ns;
    int64_t card_ns;
    uint8_t kyc_tier;
    char failed[160]; /* the first step that went wrong, for the failure after the whole journey */
};

static struct journey journey_new(uint32_t customer, int64_t signup_ns, uint8_t kyc_tier)
{
    struct journey j = {engine_new(), customer, customer, signup_ns, signup_ns, signup_ns + MIN, kyc_tier, ""};
    mopay_risk_engine_set_model(j.engine, model_of_seed_1());
    return j;
}

/* An event of the journey's customer: a top-up from their card, a P2P to customer `payee`, a
 * payment to merchant `payee` of category `mcc`. */
static struct mopay_risk_event journey_event(const struct journey *j, int64_t t, enum mopay_risk_kind kind,
                                             double major, uint32_t payee, uint16_t mcc)
{
    struct mopay_risk_event e = event_at(t, kind, j->customer, major);
    id_of(e.device, 'd', j->device);
    memcpy(e.customer_country, "CN", 3);
    memcpy(e.payee_country, "CN", 3);
    e.utc_offset_min = 480;
    e.kyc_tier = j->kyc_tier;
    e.device_created_ns = j->device_ns;
    e.customer_created_ns = j->signup_ns;
    if (kind == MOPAY_RISK_TOPUP) {
        id_of(e.card, 'k', j->customer);
        e.funding_created_ns = j->card_ns;
    } else {
        id_of(e.payee, kind == MOPAY_RISK_PAYMENT ? 'm' : 'c', payee);
        e.mcc = mcc;
    }
    return e;
}

/* Scores the event, says what came of it, then commits it (it happened, whatever the verdict). */
static struct mopay_risk_decision journey_step(struct journey *j, const char *what, struct mopay_risk_event e)
{
    struct mopay_risk_decision d = decide(j->engine, e);
    print_message("    %-34s score %.4f %-7s %s %s\n", what, d.score, mopay_risk_action_name(d.action),
                  d.reason_count > 0 ? d.reasons[0].code : "", d.reason_count > 1 ? d.reasons[1].code : "");
    commit(j->engine, e);
    return d;
}

/* The step, expecting one of the actions in the mask (1 << action). */
static void journey_expect(struct journey *j, const char *what, struct mopay_risk_event e, unsigned actions)
{
    struct mopay_risk_decision d = journey_step(j, what, e);
    if (!(actions & (1u << d.action)) && j->failed[0] == '\0')
        snprintf(j->failed, sizeof(j->failed), "%s: %s (score %.4f, %s)", what, mopay_risk_action_name(d.action),
                 d.score, d.reason_count > 0 ? d.reasons[0].code : "no reason");
}

static void journey_not_declined(struct journey *j, const char *what, struct mopay_risk_event e)
{
    journey_expect(j, what, e, 1u << MOPAY_RISK_APPROVE | 1u << MOPAY_RISK_CONFIRM);
}

static void journey_flagged(struct journey *j, const char *what, struct mopay_risk_event e)
{
    journey_expect(j, what, e, 1u << MOPAY_RISK_CONFIRM | 1u << MOPAY_RISK_DECLINE);
}

static void journey_approved(struct journey *j, const char *what, struct mopay_risk_event e)
{
    journey_expect(j, what, e, 1u << MOPAY_RISK_APPROVE);
}

/* Frees the journey's engine; fails with its first wrong step. */
static void journey_end(struct journey *j)
{
    mopay_risk_engine_free(j->engine);
    if (j->failed[0] != '\0')
        fail_msg("%s", j->failed);
}

/* Signed up a minute ago with this phone, a card added at sign-up: top-ups, lunch, a friend. */
static void journey_new_customer(void **state)
{
    (void)state;
    for (uint8_t tier = 0; tier <= 1; tier++) {
        print_message("  (a) a new customer, KYC tier %u\n", tier);
        struct journey j = journey_new(1, SIGNUP, tier);
        const struct {
            const char *what;
            int64_t after;
            enum mopay_risk_kind kind;
            double major;
            uint32_t payee;
            uint16_t mcc;
        } steps[] = {
            {"top-up 300 from the new card", 2 * MIN, MOPAY_RISK_TOPUP, 300, 0, 0},
            {"second top-up 300", 5 * MIN, MOPAY_RISK_TOPUP, 300, 0, 0},
            {"lunch 25 at a restaurant (5812)", 8 * MIN, MOPAY_RISK_PAYMENT, 25, 7001, 5812},
            {"P2P 460 to a friend (new payee)", 10 * MIN, MOPAY_RISK_P2P_OUT, 460, 8001, 0},
        };
        for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
            journey_not_declined(&j, steps[i].what, journey_event(&j, SIGNUP + steps[i].after, steps[i].kind,
                                                                  steps[i].major, steps[i].payee, steps[i].mcc));
        journey_end(&j);
    }
}

/* The same start, then someone else at the wallet: five wrong PINs, the customer's device
 * revoked and another one added, and the balance sent to three new payees in ten minutes. */
static void journey_new_customer_drained(void **state)
{
    (void)state;
    print_message("  (b) the new customer's wallet drained\n");
    struct journey j = journey_new(2, SIGNUP, 0);
    uint8_t customer[16];
    id_of(customer, 'c', j.customer);
    journey_not_declined(&j, "top-up 300 from the new card",
                         journey_event(&j, SIGNUP + 2 * MIN, MOPAY_RISK_TOPUP, 300, 0, 0));
    journey_not_declined(&j, "second top-up 300", journey_event(&j, SIGNUP + 5 * MIN, MOPAY_RISK_TOPUP, 300, 0, 0));
    journey_not_declined(&j, "lunch 25 at a restaurant (5812)",
                         journey_event(&j, SIGNUP + 8 * MIN, MOPAY_RISK_PAYMENT, 25, 7001, 5812));
    for (int i = 0; i < 5; i++)
        assert_true(mopay_risk_note_wrong_pin(j.engine, customer, SIGNUP + 20 * MIN + i * 10 * S));
    assert_true(mopay_risk_note_device_revoked(j.engine, customer, SIGNUP + 21 * MIN));
    j.device = 9002;
    j.device_ns = SIGNUP + 22 * MIN;
    const double drained[] = {200, 200, 175};
    for (uint32_t i = 0; i < 3; i++) {
        char what[64];
        snprintf(what, sizeof(what), "P2P %.0f to new payee %u", drained[i], i + 1);
        journey_flagged(&j, what, journey_event(&j, SIGNUP + (23 + 4 * i) * MIN, MOPAY_RISK_P2P_OUT, drained[i],
                                                8100 + i, 0));
    }
    journey_end(&j);
}

/* Thirty days of a 90-day-old customer's life: lunch and groceries, a weekly top-up, now and
 * then money to the same friend. */
static void journey_history(struct journey *j)
{
    for (int day = 30; day > 0; day--) {
        int64_t noon = T0 - day * DAY + 4 * HOUR;
        if (day % 7 == 0)
            commit(j->engine, journey_event(j, noon - HOUR, MOPAY_RISK_TOPUP, 400, 0, 0));
        commit(j->engine, journey_event(j, noon, MOPAY_RISK_PAYMENT, 30 + day % 5 * 4, 7001 + day % 3, 5812));
        commit(j->engine, journey_event(j, noon + 7 * HOUR, MOPAY_RISK_PAYMENT, 60 + day % 4 * 10, 7010, 5411));
        if (day % 10 == 0)
            commit(j->engine, journey_event(j, noon + 9 * HOUR, MOPAY_RISK_P2P_OUT, 80, 8001, 0));
    }
}

static void journey_old_customer(void **state)
{
    (void)state;
    print_message("  (c) a customer of 90 days\n");
    struct journey j = journey_new(3, SIGNUP - 90 * DAY, 1);
    j.card_ns = j.signup_ns + DAY;
    journey_history(&j);
    journey_approved(&j, "lunch 35 at a new restaurant", journey_event(&j, SIGNUP, MOPAY_RISK_PAYMENT, 35, 7099, 5812));
    journey_approved(&j, "groceries 48 (5411)", journey_event(&j, SIGNUP + HOUR, MOPAY_RISK_PAYMENT, 48, 7010, 5411));
    journey_end(&j);
    print_message("  (c) the same after a restart of the server (no history in the engine)\n");
    j = journey_new(3, SIGNUP - 90 * DAY, 1);
    journey_approved(&j, "groceries 48 (5411)", journey_event(&j, SIGNUP + HOUR, MOPAY_RISK_PAYMENT, 48, 7010, 5411));
    journey_end(&j);
}

/* What sets a takeover apart from a new customer: an old account on a device added minutes
 * ago, money to several new payees at once, the balance drained. No wrong PIN and no revoked
 * device here: the first P2P is a large amount from a new device on an existing account (a
 * rule), and by the third new payee in minutes the model sees it. The second is reported only. */
static void journey_old_account_taken_over(void **state)
{
    (void)state;
    print_message("  an old customer's account on a new device, drained\n");
    struct journey j = journey_new(4, SIGNUP - 90 * DAY, 1);
    j.card_ns = j.signup_ns + DAY;
    journey_history(&j);
    j.device = 9004;
    j.device_ns = SIGNUP - 10 * MIN;
    journey_flagged(&j, "P2P 300 to new payee 1",
                    journey_event(&j, SIGNUP, MOPAY_RISK_P2P_OUT, 300, 8200, 0));
    journey_step(&j, "P2P 250 to new payee 2",
                 journey_event(&j, SIGNUP + 3 * MIN, MOPAY_RISK_P2P_OUT, 250, 8201, 0));
    journey_flagged(&j, "P2P 200 to new payee 3",
                    journey_event(&j, SIGNUP + 6 * MIN, MOPAY_RISK_P2P_OUT, 200, 8202, 0));
    journey_end(&j);
}

static void evaluation_counts(void **state)
{
    (void)state;
    /* four legit scored 0.1..0.4, two frauds at 0.35 and 0.9; flagged: the 0.4 legit and 0.9 */
    double scores[] = {0.1, 0.2, 0.3, 0.4, 0.35, 0.9};
    uint8_t labels[] = {0, 0, 0, 0, 1, 1};
    uint8_t patterns[] = {0, 0, 0, 0, 2, 3};
    uint8_t actions[] = {0, 0, 0, 1, 0, 2};
    struct mopay_risk_samples s = {.count = 6, .scores = scores, .labels = labels, .patterns = patterns,
                                   .actions = actions};
    struct mopay_risk_eval e;
    assert_true(mopay_risk_evaluate(&s, &e));
    assert_int_equal(e.frauds, 2);
    assert_int_equal(e.flagged, 2);
    assert_int_equal(e.declined, 1);
    assert_float_equal(e.precision, 0.5, EPS);
    assert_float_equal(e.recall, 0.5, EPS);
    assert_float_equal(e.false_positive_rate, 0.25, EPS);
    assert_float_equal(e.roc_auc, 7.0 / 8.0, EPS); /* 0.35 beats 3 of 4 legit, 0.9 all 4 */
    assert_float_equal(e.recall_at_1pct_fpr, 0.5, EPS); /* no legit may be flagged: only 0.9 */
    assert_int_equal(e.pattern_flagged[3], 1);
    assert_int_equal(e.pattern_events[0], 4);
}

int main(void)
{
    snprintf(model_path, sizeof(model_path), "/tmp/mopay-test-risk-model-%d.txt", (int)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(windows_expire_exactly),
        cmocka_unit_test(windows_saturate_at_ring_size),
        cmocka_unit_test(amount_against_own_history),
        cmocka_unit_test(new_payee_and_its_window),
        cmocka_unit_test(borders_and_local_night),
        cmocka_unit_test(ages_tier_and_kind),
        cmocka_unit_test(pins_and_revoked_devices),
        cmocka_unit_test(fan_out_withdrawals_topups_and_inflows),
        cmocka_unit_test(feature_names_are_listed),
        cmocka_unit_test(approve_without_reasons),
        cmocka_unit_test(blocklists_decline),
        cmocka_unit_test(velocity_and_amount_rules),
        cmocka_unit_test(device_night_pin_and_fan_out_rules),
        cmocka_unit_test(card_testing_declines),
        cmocka_unit_test(model_thresholds_decide),
        cmocka_unit_test(reasons_order_and_cap),
        cmocka_unit_test(rule_actions_are_configurable),
        cmocka_unit_test(scoring_is_read_only_and_allocation_free),
        cmocka_unit_test(customers_max_bounds_memory),
        cmocka_unit_test(scoring_sources_are_pure),
        cmocka_unit_test(training_separates_a_toy_set),
        cmocka_unit_test(thresholds_follow_the_negatives),
        cmocka_unit_test(model_file_round_trip),
        cmocka_unit_test(model_file_refusals),
        cmocka_unit_test(evaluation_counts),
        cmocka_unit_test(simulator_is_deterministic),
        cmocka_unit_test(training_is_deterministic),
        cmocka_unit_test(train_seed_1_eval_seed_2),
        cmocka_unit_test(journey_new_customer),
        cmocka_unit_test(journey_new_customer_drained),
        cmocka_unit_test(journey_old_customer),
        cmocka_unit_test(journey_old_account_taken_over),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    remove(model_path);
    return failed;
}
