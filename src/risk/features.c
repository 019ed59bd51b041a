/* Features: the facts of an event against the customer's history, then the transforms the
 * model sees (risk.h lists them). Read-only and allocation-free: the scoring path. */
#include <math.h>
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"

static const char *const feature_names[MOPAY_RISK_FEATURE_COUNT] = {
#define FEATURE_NAME(name, text) text,
    MOPAY_RISK_FEATURES(FEATURE_NAME)
#undef FEATURE_NAME
};

const char *mopay_risk_feature_name(size_t index)
{
    MOPAY_ASSERT(index < MOPAY_RISK_FEATURE_COUNT);
    return feature_names[index];
}

const char *mopay_risk_action_name(enum mopay_risk_action action)
{
    switch (action) {
    case MOPAY_RISK_APPROVE:
        return "approve";
    case MOPAY_RISK_CONFIRM:
        return "confirm";
    case MOPAY_RISK_DECLINE:
        return "decline";
    }
    MOPAY_UNREACHABLE();
}

/* Standard time of each country's main zone (tzdata, 2024): see mopay_risk_utc_offset_min. */
static const struct {
    char country[3];
    int16_t offset_min;
} utc_offsets[] = {
    {"AE", 240}, {"BR", -180}, {"CN", 480}, {"DE", 60}, {"FR", 60},  {"GB", 0},
    {"ID", 420}, {"IN", 330},  {"JP", 540}, {"KE", 180}, {"KR", 540}, {"NG", 60},
    {"PH", 480}, {"SG", 480},  {"TH", 420}, {"US", -300}, {"VN", 420},
};

int mopay_risk_utc_offset_min(const char country[2], bool *known)
{
    MOPAY_ASSERT(country != NULL && known != NULL);
    for (size_t i = 0; i < sizeof(utc_offsets) / sizeof(utc_offsets[0]); i++) {
        if (memcmp(utc_offsets[i].country, country, 2) == 0) {
            *known = true;
            return utc_offsets[i].offset_min;
        }
    }
    *known = false;
    return 0;
}

/* Categories whose payments fraudsters prefer: cash-like, resellable, or anonymous first. */
static const struct {
    uint16_t mcc;
    float risk;
} mcc_risks[] = {
    {7995, 1.0f},  /* gambling */
    {4829, 0.9f},  /* money transfer */
    {6051, 0.9f},  /* quasi-cash: crypto, money orders */
    {6540, 0.8f},  /* stored-value card loads */
    {5944, 0.7f},  /* jewellery and watches */
    {5732, 0.6f},  /* electronics */
    {5816, 0.6f},  /* digital goods: games */
    {4814, 0.5f},  /* telecom: prepaid top-ups */
    {4511, 0.4f},  /* airlines */
    {7011, 0.3f},  /* hotels */
    {5311, 0.2f},  /* department stores */
    {5691, 0.2f},  /* clothing */
    {5541, 0.1f},  /* fuel */
    {5411, 0.05f}, /* grocery */
    {5812, 0.05f}, /* restaurants */
    {5814, 0.05f}, /* fast food */
    {4111, 0.05f}, /* local transport */
    {5912, 0.05f}, /* pharmacies */
    {4900, 0.02f}, /* utilities */
};

double mopay_risk_mcc_risk(uint16_t mcc)
{
    if (mcc == 0)
        return 0;
    for (size_t i = 0; i < sizeof(mcc_risks) / sizeof(mcc_risks[0]); i++)
        if (mcc_risks[i].mcc == mcc)
            return mcc_risks[i].risk;
    return 0.3;
}

uint32_t risk_tag_of(const uint8_t key[16])
{
    uint64_t a, b;
    memcpy(&a, key, 8);
    memcpy(&b, key + 8, 8);
    if ((a | b) == 0)
        return 0;
    uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15u)) * 0xbf58476d1ce4e5b9u;
    h ^= h >> 29;
    h *= 0x94d049bb133111ebu;
    uint32_t tag = (uint32_t)(h >> 32);
    return tag != 0 ? tag : 1;
}

bool risk_key_is_zero(const uint8_t key[16])
{
    uint64_t a, b;
    memcpy(&a, key, 8);
    memcpy(&b, key + 8, 8);
    return (a | b) == 0;
}

double risk_amount_major(const struct mopay_risk_event *event)
{
    static const double scale[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    MOPAY_ASSERT(event->currency_exponent < sizeof(scale) / sizeof(scale[0]));
    return (double)event->amount_minor / scale[event->currency_exponent];
}

bool risk_is_outflow(enum mopay_risk_kind kind)
{
    return kind != MOPAY_RISK_TOPUP;
}

/* The hour of day, 0-23, at `offset_min` from UTC. */
static int local_hour(int64_t time_ns, int offset_min)
{
    int64_t local = time_ns + (int64_t)offset_min * MOPAY_RISK_MINUTE_NS;
    int64_t hours = local >= 0 ? local / MOPAY_RISK_HOUR_NS : -((-local - 1) / MOPAY_RISK_HOUR_NS) - 1;
    return (int)(((hours % 24) + 24) % 24);
}

static bool payees_contain(const uint32_t *payees, uint32_t count, uint32_t tag)
{
    for (uint32_t i = 0; i < count; i++)
        if (payees[i] == tag)
            return true;
    return false;
}

/* Adds a person's or account's tag to the distinct ones of the last hour, and to the new ones
 * when it was new when paid. */
static void payee_count(uint32_t tag, bool was_new, struct risk_facts *facts, uint32_t *payees, uint32_t *news)
{
    if (tag == 0)
        return;
    if (!payees_contain(payees, facts->payees_1h, tag))
        payees[facts->payees_1h++] = tag;
    if (was_new && !payees_contain(news, facts->new_payees_1h, tag))
        news[facts->new_payees_1h++] = tag;
}

/* Counts, sums and distinct payees of the outflows in each window, the event's own included. */
static void outflow_windows(const struct risk_customer *customer, const struct mopay_risk_event *event,
                            struct risk_facts *facts)
{
    uint32_t payees[MOPAY_RISK_OUTFLOWS_KEPT + 1], news[MOPAY_RISK_OUTFLOWS_KEPT + 1];
    if (facts->outflow) {
        facts->count_1m = facts->count_1h = facts->count_24h = 1;
        facts->sum_1h = facts->sum_24h = facts->amount_major;
        facts->withdrawn_1h = event->kind == MOPAY_RISK_WITHDRAWAL ? facts->amount_major : 0;
        if (event->kind != MOPAY_RISK_PAYMENT)
            payee_count(risk_tag_of(event->payee), facts->new_payee, facts, payees, news);
    }
    for (uint32_t i = 0; customer != NULL && i < customer->outflow_count; i++) {
        int64_t age = event->time_ns - customer->outflow_ns[i];
        if (age < 0 || age >= MOPAY_RISK_DAY_NS)
            continue;
        double amount = customer->outflow_major[i];
        facts->count_24h++;
        facts->sum_24h += amount;
        if (age >= MOPAY_RISK_HOUR_NS)
            continue;
        facts->count_1h++;
        facts->sum_1h += amount;
        if (customer->outflow_kind[i] == MOPAY_RISK_WITHDRAWAL)
            facts->withdrawn_1h += amount;
        if (customer->outflow_kind[i] != MOPAY_RISK_PAYMENT)
            payee_count(customer->outflow_payee[i], customer->outflow_new_payee[i], facts, payees, news);
        if (age < MOPAY_RISK_MINUTE_NS)
            facts->count_1m++;
    }
}

/* The amount against the customer's own past outflows. */
static void amount_history(const struct risk_customer *customer, struct risk_facts *facts)
{
    facts->history_count = customer->history_count;
    facts->amount_max_major = customer->amount_max_major;
    if (!facts->outflow || customer->history_count == 0)
        return;
    double x = log1p(facts->amount_major);
    double over = x - log1p(customer->amount_max_major);
    facts->amount_over_max = fmax(-10.0, fmin(10.0, over));
    if (customer->history_count < 3)
        return;
    double sd = sqrt(customer->log_m2 / (double)(customer->history_count - 1));
    double z = (x - customer->log_mean) / fmax(sd, 0.25);
    facts->amount_z = fmax(-8.0, fmin(8.0, z));
}

bool risk_payee_is_new(const struct mopay_risk_engine *engine, const struct risk_customer *customer,
                       const struct mopay_risk_event *event)
{
    uint32_t tag = risk_tag_of(event->payee);
    if (tag == 0)
        return false;
    for (uint32_t i = 0; customer != NULL && i < customer->payee_count; i++)
        if (customer->payee_tag[i] == tag)
            return event->time_ns - customer->payee_seen_ns[i] >= engine->config.new_payee_window_ns;
    return true;
}

/* Cross-border to a country the customer sent nothing to in the new-payee window. */
static bool country_is_new(const struct mopay_risk_engine *engine, const struct risk_customer *customer,
                           const struct mopay_risk_event *event)
{
    for (uint32_t i = 0; customer != NULL && i < customer->country_count; i++)
        if (memcmp(customer->country[i], event->payee_country, 2) == 0)
            return event->time_ns - customer->country_seen_ns[i] >= engine->config.new_payee_window_ns;
    return true;
}

/* Top-ups, P2P received, wrong PINs and revoked devices, each in its window. */
static void recent_events(const struct mopay_risk_engine *engine, const struct risk_customer *customer,
                          const struct mopay_risk_event *event, struct risk_facts *facts)
{
    int64_t t = event->time_ns;
    double small = engine->config.small_topup_major;
    for (uint32_t i = 0; i < customer->topup_count; i++) {
        int64_t age = t - customer->topup_ns[i];
        if (age >= 0 && age < MOPAY_RISK_HOUR_NS && customer->topup_major[i] < small)
            facts->small_topups_1h++;
    }
    for (uint32_t i = 0; i < customer->inflow_count; i++) {
        int64_t age = t - customer->inflow_ns[i];
        if (age >= 0 && age < MOPAY_RISK_HOUR_NS)
            facts->p2p_in_1h += customer->inflow_major[i];
    }
    for (uint32_t i = 0; i < customer->wrong_pin_count; i++) {
        int64_t age = t - customer->wrong_pin_ns[i];
        if (age >= 0 && age < MOPAY_RISK_DAY_NS)
            facts->wrong_pins_24h++;
    }
    int64_t revoked_age = t - customer->device_revoked_ns;
    if (customer->device_revoked && revoked_age >= 0)
        facts->device_revoked_age_ns = revoked_age;
    facts->device_revoked_7d = facts->device_revoked_age_ns < 7 * MOPAY_RISK_DAY_NS;
}

void risk_facts_compute(const struct mopay_risk_engine *engine, const struct risk_customer *customer,
                        const struct mopay_risk_event *event, struct risk_facts *facts)
{
    memset(facts, 0, sizeof(*facts));
    facts->device_revoked_age_ns = INT64_MAX;
    int64_t t = event->time_ns;
    facts->amount_major = risk_amount_major(event);
    facts->kind = event->kind;
    facts->outflow = risk_is_outflow(event->kind);
    bool device_known = event->device_created_ns > 0 && event->device_created_ns < t;
    facts->device_age_ns = device_known ? t - event->device_created_ns : 0;
    facts->signup_device = device_known && event->customer_created_ns > 0 &&
                           event->device_created_ns - event->customer_created_ns <
                               engine->config.signup_device_window_ns;
    facts->cross_border = event->payee_country[0] != '\0' &&
                          memcmp(event->payee_country, event->customer_country, 2) != 0;
    facts->new_country = facts->outflow && facts->cross_border && country_is_new(engine, customer, event);
    facts->night = local_hour(t, event->utc_offset_min) < 6;
    facts->new_payee = facts->outflow && risk_payee_is_new(engine, customer, event);
    if (event->kind == MOPAY_RISK_TOPUP && facts->amount_major < engine->config.small_topup_major)
        facts->small_topups_1h = 1;
    outflow_windows(customer, event, facts);
    if (customer == NULL)
        return;
    amount_history(customer, facts);
    recent_events(engine, customer, event, facts);
}

static double log_hours(int64_t ns)
{
    return log1p((double)ns / (double)MOPAY_RISK_HOUR_NS);
}

void risk_features_of(const struct mopay_risk_event *event, const struct risk_facts *facts,
                      double features[MOPAY_RISK_FEATURE_COUNT])
{
    int64_t t = event->time_ns;
    int64_t funding_age_ns = 3650 * MOPAY_RISK_DAY_NS; /* none: not a fresh card */
    if (event->funding_created_ns != 0)
        funding_age_ns = event->funding_created_ns < t ? t - event->funding_created_ns : 0;
    int64_t account_age_ns = event->customer_created_ns > 0 && event->customer_created_ns < t
                                 ? t - event->customer_created_ns : 0;
    double *f = features;
    f[MOPAY_RISK_F_LOG_AMOUNT] = log1p(facts->amount_major);
    f[MOPAY_RISK_F_AMOUNT_Z] = facts->amount_z;
    f[MOPAY_RISK_F_AMOUNT_OVER_MAX] = facts->amount_over_max;
    f[MOPAY_RISK_F_HISTORY_OUTFLOWS] = log1p((double)facts->history_count);
    f[MOPAY_RISK_F_COUNT_1M] = log1p(facts->count_1m);
    f[MOPAY_RISK_F_COUNT_1H] = log1p(facts->count_1h);
    f[MOPAY_RISK_F_COUNT_24H] = log1p(facts->count_24h);
    f[MOPAY_RISK_F_SUM_1H] = log1p(facts->sum_1h);
    f[MOPAY_RISK_F_SUM_24H] = log1p(facts->sum_24h);
    f[MOPAY_RISK_F_DEVICE_AGE] = log_hours(facts->device_age_ns);
    f[MOPAY_RISK_F_FUNDING_AGE] = log_hours(funding_age_ns);
    f[MOPAY_RISK_F_ACCOUNT_AGE] = log1p((double)account_age_ns / (double)MOPAY_RISK_DAY_NS);
    double device_days = log1p((double)facts->device_age_ns / (double)MOPAY_RISK_DAY_NS);
    f[MOPAY_RISK_F_DEVICE_ACCOUNT_GAP] = fmax(0.0, f[MOPAY_RISK_F_ACCOUNT_AGE] - device_days);
    f[MOPAY_RISK_F_NEW_PAYEE] = facts->new_payee;
    f[MOPAY_RISK_F_CROSS_BORDER] = facts->cross_border;
    f[MOPAY_RISK_F_NEW_COUNTRY] = facts->new_country;
    f[MOPAY_RISK_F_NIGHT] = facts->night;
    f[MOPAY_RISK_F_NIGHT_ABROAD] = facts->night && facts->cross_border;
    f[MOPAY_RISK_F_WRONG_PINS_24H] = facts->wrong_pins_24h;
    f[MOPAY_RISK_F_DEVICE_REVOKED_7D] = facts->device_revoked_7d;
    f[MOPAY_RISK_F_MCC_RISK] = event->kind == MOPAY_RISK_PAYMENT ? mopay_risk_mcc_risk(event->mcc) : 0;
    f[MOPAY_RISK_F_WITHDRAWAL_SHARE_1H] = facts->sum_1h > 0 ? facts->withdrawn_1h / facts->sum_1h : 0;
    f[MOPAY_RISK_F_PAYEES_1H] = facts->payees_1h;
    f[MOPAY_RISK_F_NEW_PAYEES_1H] = facts->new_payees_1h;
    f[MOPAY_RISK_F_SMALL_TOPUPS_1H] = facts->small_topups_1h;
    f[MOPAY_RISK_F_P2P_IN_1H] = log1p(facts->p2p_in_1h);
    f[MOPAY_RISK_F_KYC_TIER] = event->kyc_tier;
    f[MOPAY_RISK_F_IS_P2P] = event->kind == MOPAY_RISK_P2P_OUT;
    f[MOPAY_RISK_F_IS_WITHDRAWAL] = event->kind == MOPAY_RISK_WITHDRAWAL;
    f[MOPAY_RISK_F_IS_TOPUP] = event->kind == MOPAY_RISK_TOPUP;
}

void mopay_risk_features(const struct mopay_risk_engine *engine, const struct mopay_risk_event *event,
                         double features[MOPAY_RISK_FEATURE_COUNT])
{
    MOPAY_ASSERT(engine != NULL && event != NULL && features != NULL);
    MOPAY_ASSERT((unsigned)event->kind < MOPAY_RISK_KIND_COUNT);
    const struct risk_customer *customer = mopay_index_get(&engine->customers, event->customer);
    struct risk_facts facts;
    risk_facts_compute(engine, customer, event, &facts);
    risk_features_of(event, &facts, features);
}
