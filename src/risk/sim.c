/* `mopay sim`: labelled transactions in the spirit of PaySim (Lopez-Rojas et al., 2016), for
 * training and evaluating the risk model without real customers' data.
 *
 * Agents: customers living in one of four home countries, each with a daily rhythm (more at
 * lunch and in the evening; a few night owls), a spending level, favourite merchants, friends
 * (mostly in their own country), a salary whose share reaches the wallet as a top-up on payday,
 * top-ups from a card when the wallet runs low, P2P to friends (now and then to someone new),
 * cash-outs, new phones (the old device revoked), new cards, wrong PINs, big purchases, trips
 * abroad (spending on the local clock, which may be night at home). KYC tiers are the server's,
 * 0 to 2. Merchants: 48 in each of 14 countries across 18 categories.
 *
 * Sign-ups: a quarter of the customers join during the run, on days drawn evenly, at an hour of
 * their rhythm, with the account, the device they sign up on and a first card made together,
 * most at KYC tier 0 (tier 1 days later). Their first hours are what real new customers do and
 * what a model must not take for fraud: one to three top-ups from the new card (an amount to
 * try, or half to all of a month's spending), everyday payments, often money to a friend or
 * family member (a new payee; sometimes most of what came in: the rent, shared costs), and for
 * some a second card, a new phone or a wrong PIN. Then they live like everyone else.
 *
 * Fraud, each event labelled with its pattern:
 *   account_takeover  an established account (two weeks or older) on a new device, often wrong
 *                     PINs and the victim's phone revoked first, then P2P of most of the balance
 *                     to fresh mule accounts, new payees minutes apart (or a withdrawal), and the
 *                     mules cash out within about an hour;
 *   card_testing      a fresh account tops up small odd amounts from many fresh cards, often
 *                     foreign, within minutes, then a larger top-up and the money sent on;
 *   mule_chain        a stolen card tops up a fresh account, the money hops through 2-4 fresh
 *                     accounts minutes apart, fanning out to more at some hops, each passing on
 *                     what it received at once, and is withdrawn at the ends;
 *   stolen_code       right after a normal payment, the victim's payment code (same device) is
 *                     used at an unusual merchant, often abroad, for a larger amount;
 *   night_abroad      a burst of payments abroad at risky merchants during the victim's night.
 *
 * Deterministic: one xoshiro256** stream seeded from the seed, agents in a fixed order, records
 * sorted by (time, creation order). No clock, no I/O. Amounts are in a 2-decimal currency. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mopay/assert.h"
#include "mopay/risk.h"

#define SEC MOPAY_RISK_NS_PER_S
#define MIN MOPAY_RISK_MINUTE_NS
#define HOUR MOPAY_RISK_HOUR_NS
#define DAY MOPAY_RISK_DAY_NS
#define FRIENDS 5
#define FAVOURITES 8
#define HOMES 4                /* the first countries are where customers live */
#define AGENT_ACTIONS_MAX 48   /* one agent's actions in a day */
#define RECORDS_PER_CUSTOMER_MAX 64 /* the pending buffer's cap, per customer and day */
#define JOIN_SHARE 0.25        /* customers who sign up during the run, on days drawn evenly */
#define TAKEOVER_ACCOUNT_AGE_MIN (14 * DAY) /* phished and SIM-swapped accounts are established ones */
#define TIER0_BALANCE_CAP_MAJOR 1000 /* the server's default for KYC tier 0 */

static const char *const pattern_names[MOPAY_RISK_PATTERN_COUNT] = {
#define PATTERN_NAME(name, text) text,
    MOPAY_RISK_PATTERNS(PATTERN_NAME)
#undef PATTERN_NAME
};

const char *mopay_risk_pattern_name(enum mopay_risk_pattern pattern)
{
    MOPAY_ASSERT((unsigned)pattern < MOPAY_RISK_PATTERN_COUNT);
    return pattern_names[pattern];
}

void mopay_risk_sim_options_default(struct mopay_risk_sim_options *options)
{
    MOPAY_ASSERT(options != NULL);
    options->customers = 3000;
    options->days = 30;
    options->start_ns = INT64_C(1736121600) * SEC; /* 2025-01-06T00:00:00Z, a Monday */
    options->fraud_scale = 1;
}

/* ---- randomness: xoshiro256** (Blackman and Vigna), seeded by splitmix64 ---- */

struct rng {
    uint64_t s[4];
};

static void rng_seed(struct rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        uint64_t z = (seed += 0x9e3779b97f4a7c15u);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
        r->s[i] = z ^ (z >> 31);
    }
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* [0, 1) */
static double rng_unit(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1p-53;
}

static double rng_range(struct rng *r, double lo, double hi)
{
    return lo + (hi - lo) * rng_unit(r);
}

static uint32_t rng_below(struct rng *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * n) >> 32);
}

static bool rng_chance(struct rng *r, double p)
{
    return rng_unit(r) < p;
}

static double rng_normal(struct rng *r)
{
    double u = 1 - rng_unit(r), v = rng_unit(r);
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/* Knuth's method; lambda is at most 30 here. */
static uint32_t rng_poisson(struct rng *r, double lambda)
{
    double limit = exp(-fmin(lambda, 30.0)), p = 1;
    uint32_t k = 0;
    for (; k < 200; k++) {
        p *= rng_unit(r);
        if (p <= limit)
            break;
    }
    return k;
}

static void rng_id(struct rng *r, uint8_t id[16])
{
    uint64_t a = rng_next(r), b = rng_next(r);
    memcpy(id, &a, 8);
    memcpy(id + 8, &b, 8);
}

/* ---- the world ---- */

static const char sim_countries[][3] = {"KR", "SG", "GB", "US", "JP", "TH", "VN",
                                        "FR", "DE", "AE", "CN", "PH", "BR", "NG"};
#define COUNTRIES (sizeof(sim_countries) / sizeof(sim_countries[0]))
static const double home_weights[HOMES] = {0.4, 0.2, 0.2, 0.2};

/* Categories: how many merchants each country has, the typical amount's multiple, the share
 * of everyday spending, and whether fraudsters favour it. */
static const struct sim_category {
    uint16_t mcc;
    uint8_t merchants;
    float amount_scale;
    float spend_weight;
    bool risky;
} categories[] = {
    {5411, 6, 1.5f, 20, false}, {5812, 6, 1.5f, 15, false}, {5814, 5, 0.5f, 15, false},
    {4111, 3, 0.3f, 10, false}, {5541, 3, 2.0f, 6, false},  {5912, 3, 0.8f, 5, false},
    {5691, 3, 3.0f, 6, false},  {5311, 3, 3.0f, 5, false},  {4900, 2, 3.0f, 3, false},
    {4814, 2, 1.5f, 3, false},  {5816, 2, 1.0f, 4, true},   {7011, 2, 8.0f, 1, false},
    {4511, 2, 15.0f, 0.7f, false}, {5732, 2, 10.0f, 1.5f, true}, {5944, 1, 12.0f, 0.3f, true},
    {7995, 1, 3.0f, 0.6f, true}, {4829, 1, 5.0f, 0.8f, true}, {6051, 1, 5.0f, 0.3f, true},
};
#define CATEGORIES (sizeof(categories) / sizeof(categories[0]))
#define EVERYDAY_CATEGORIES 10 /* the first ten: what favourites are made of */
enum { /* indexes of the categories named in the behaviours below */
    CAT_CLOTHING = 6, CAT_DEPARTMENT = 7, CAT_HOTEL = 11, CAT_AIRLINE = 12, CAT_ELECTRONICS = 13,
    CAT_JEWELLERY = 14, CAT_GAMBLING = 15, CAT_QUASI_CASH = 17,
};
#define MERCHANTS_PER_COUNTRY 48

/* Hour-of-day weights of everyday activity, and of night owls'. */
static const double rhythm_day[24] = {0.3, 0.2, 0.1, 0.1, 0.1, 0.3, 1, 3, 5, 4, 4, 5,
                                      8,   6,   4,   4,   4,   6,   8, 8, 7, 5, 3, 1.5};
static const double rhythm_owl[24] = {3, 2.5, 2, 1.5, 0.5, 0.3, 0.5, 1, 2, 3, 4, 5,
                                      6, 5,   4, 4,   4,   5,   6,   7, 7, 6, 5, 4};

struct sim_merchant {
    uint8_t id[16];
    uint8_t country;
    uint8_t category;
};

struct sim_agent {
    uint8_t id[16], device[16], card[16], phone[16], bank[16], landlord[16];
    int64_t signup_ns, device_ns, card_ns, bank_ns;
    int64_t balance_minor, salary_minor;
    float rate, mu, sigma, p2p_rate, withdraw_rate;
    int64_t kyc_next_ns; /* when KYC reaches kyc_next; 0: no check pending */
    uint32_t friends[FRIENDS];
    uint32_t join_day;   /* the day of the run it signs up, for those who are not customers yet */
    uint16_t favourites[FAVOURITES];
    uint8_t country, kyc, kyc_next, payday, trip_country, trip_days_left;
    bool night_owl, pays_rent, active;
};

struct pending {
    int64_t time_ns;
    uint64_t seq;
    struct mopay_risk_sim_record record;
};

struct sim {
    struct rng rng;
    struct mopay_risk_sim_options options;
    struct sim_agent *agents;
    uint32_t agent_count;
    struct sim_merchant merchants[COUNTRIES * MERCHANTS_PER_COUNTRY];
    uint16_t merchant_first[COUNTRIES][CATEGORIES]; /* index of a country's first of a category */
    struct pending *pending;
    size_t pending_count, pending_capacity, pending_max;
    uint64_t seq;
    bool failed;
    int64_t day_start;
};

static uint32_t pick_weighted(struct rng *r, const double *weights, size_t count)
{
    double total = 0;
    for (size_t i = 0; i < count; i++)
        total += weights[i];
    double x = rng_unit(r) * total;
    for (size_t i = 0; i < count; i++) {
        if (x < weights[i])
            return (uint32_t)i;
        x -= weights[i];
    }
    return (uint32_t)(count - 1);
}

static int offset_min_of(uint8_t country)
{
    bool known;
    int offset = mopay_risk_utc_offset_min(sim_countries[country], &known);
    MOPAY_ASSERT(known);
    return offset;
}

static void merchants_make(struct sim *s)
{
    MOPAY_ASSERT(categories[CAT_CLOTHING].mcc == 5691 && categories[CAT_DEPARTMENT].mcc == 5311 &&
                 categories[CAT_HOTEL].mcc == 7011 && categories[CAT_AIRLINE].mcc == 4511 &&
                 categories[CAT_ELECTRONICS].mcc == 5732 && categories[CAT_JEWELLERY].mcc == 5944 &&
                 categories[CAT_GAMBLING].mcc == 7995 && categories[CAT_QUASI_CASH].mcc == 6051);
    uint32_t n = 0;
    for (uint8_t c = 0; c < COUNTRIES; c++) {
        for (uint8_t k = 0; k < CATEGORIES; k++) {
            s->merchant_first[c][k] = (uint16_t)n;
            for (uint8_t i = 0; i < categories[k].merchants; i++, n++) {
                rng_id(&s->rng, s->merchants[n].id);
                s->merchants[n].country = c;
                s->merchants[n].category = k;
            }
        }
    }
    MOPAY_ASSERT(n == COUNTRIES * MERCHANTS_PER_COUNTRY);
}

static uint16_t merchant_pick(struct sim *s, uint8_t country, uint8_t category)
{
    return (uint16_t)(s->merchant_first[country][category] + rng_below(&s->rng, categories[category].merchants));
}

static uint8_t category_everyday(struct sim *s)
{
    double weights[EVERYDAY_CATEGORIES];
    for (size_t k = 0; k < EVERYDAY_CATEGORIES; k++)
        weights[k] = categories[k].spend_weight;
    return (uint8_t)pick_weighted(&s->rng, weights, EVERYDAY_CATEGORIES);
}

static uint8_t category_any(struct sim *s)
{
    double weights[CATEGORIES];
    for (size_t k = 0; k < CATEGORIES; k++)
        weights[k] = categories[k].spend_weight;
    return (uint8_t)pick_weighted(&s->rng, weights, CATEGORIES);
}

static uint8_t category_risky(struct sim *s)
{
    uint8_t risky[CATEGORIES], n = 0;
    for (uint8_t k = 0; k < CATEGORIES; k++)
        if (categories[k].risky)
            risky[n++] = k;
    return risky[rng_below(&s->rng, n)];
}

static uint8_t country_foreign(struct sim *s, uint8_t home)
{
    uint8_t c = (uint8_t)rng_below(&s->rng, COUNTRIES - 1);
    return c >= home ? c + 1 : c;
}

/* A customer as of `now`: signed up `age_days` ago with a phone, a device, a card and a bank
 * account of their own. */
static void agent_make(struct sim *s, struct sim_agent *a, int64_t now, double age_days)
{
    struct rng *r = &s->rng;
    memset(a, 0, sizeof(*a));
    rng_id(r, a->id);
    rng_id(r, a->device);
    rng_id(r, a->card);
    rng_id(r, a->phone);
    rng_id(r, a->bank);
    a->country = (uint8_t)pick_weighted(r, home_weights, HOMES);
    a->signup_ns = now - (int64_t)(age_days * (double)DAY);
    a->bank_ns = a->signup_ns;
    a->device_ns = now - (int64_t)(age_days * rng_unit(r) * (double)DAY);
    a->card_ns = now - (int64_t)(age_days * rng_unit(r) * (double)DAY);
    a->kyc = (uint8_t)pick_weighted(r, (const double[]){0.15, 0.45, 0.4}, 3); /* the server's tiers 0-2 */
    a->rate = (float)exp(rng_normal(r) * 0.6 + 0.4);
    a->mu = (float)(2.6 + 0.4 * rng_normal(r));
    a->sigma = (float)rng_range(r, 0.4, 0.8);
    a->p2p_rate = (float)rng_range(r, 0.05, 0.5);
    a->withdraw_rate = (float)rng_range(r, 0.01, 0.08);
    a->salary_minor = (int64_t)(exp(7.3 + 0.4 * rng_normal(r)) * 100);
    a->balance_minor = (int64_t)(rng_unit(r) * (double)a->salary_minor * 0.3);
    a->payday = (uint8_t)rng_below(r, 30);
    a->night_owl = rng_chance(r, 0.08);
    a->pays_rent = rng_chance(r, 0.2);
    rng_id(r, a->landlord);
    for (int i = 0; i < FAVOURITES; i++)
        a->favourites[i] = merchant_pick(s, a->country, category_everyday(s));
    if (rng_chance(r, 0.05)) /* a regular gambler */
        a->favourites[FAVOURITES - 1] = merchant_pick(s, a->country, CAT_GAMBLING);
}

/* Friends live mostly in the same country; about one in seven abroad (family, a friend who
 * moved). */
static void friends_make(struct sim *s)
{
    uint32_t n = s->agent_count;
    for (uint32_t i = 0; i < n; i++) {
        struct sim_agent *a = &s->agents[i];
        for (int f = 0; f < FRIENDS; f++) {
            bool abroad = rng_chance(&s->rng, 0.15);
            uint32_t friend = rng_below(&s->rng, n);
            for (int tries = 0; tries < 16 && !abroad && s->agents[friend].country != a->country; tries++)
                friend = rng_below(&s->rng, n);
            a->friends[f] = friend != i ? friend : (friend + 1) % n;
        }
    }
}

static bool agents_make(struct sim *s)
{
    uint32_t n = s->options.customers;
    s->agents = calloc(n, sizeof(*s->agents));
    if (s->agents == NULL)
        return false;
    s->agent_count = n;
    int64_t start = s->options.start_ns;
    for (uint32_t i = 0; i < n; i++) {
        struct sim_agent *a = &s->agents[i];
        bool joins_later = rng_chance(&s->rng, JOIN_SHARE);
        agent_make(s, a, start, joins_later ? 0 : rng_range(&s->rng, 1, 1500));
        if (joins_later) { /* agent_onboard makes the account, its device and card on join_day */
            a->join_day = rng_below(&s->rng, s->options.days);
            a->kyc = (uint8_t)pick_weighted(&s->rng, (const double[]){0.55, 0.4, 0.05}, 3);
            a->balance_minor = 0;
        }
        a->active = !joins_later;
    }
    friends_make(s);
    return true;
}

/* ---- records ---- */

static void emit(struct sim *s, enum mopay_risk_sim_type type, enum mopay_risk_pattern pattern,
                 const struct mopay_risk_event *event)
{
    if (s->failed)
        return;
    MOPAY_ASSERT(event->time_ns >= s->day_start); /* what is older has been handed out */
    if (s->pending_count == s->pending_capacity) {
        size_t capacity = s->pending_capacity ? s->pending_capacity * 2 : 4096;
        struct pending *p = capacity <= s->pending_max ? realloc(s->pending, capacity * sizeof(*p)) : NULL;
        if (p == NULL) {
            s->failed = true;
            return;
        }
        s->pending = p;
        s->pending_capacity = capacity;
    }
    struct pending *p = &s->pending[s->pending_count++];
    p->time_ns = event->time_ns;
    p->seq = s->seq++;
    p->record.type = type;
    p->record.pattern = pattern;
    p->record.event = *event;
}

/* An event of `a` at time t, before kind, payee and amount. */
static struct mopay_risk_event event_of(const struct sim_agent *a, int64_t t, enum mopay_risk_kind kind)
{
    struct mopay_risk_event e;
    memset(&e, 0, sizeof(e));
    e.time_ns = t;
    e.kind = kind;
    memcpy(e.customer, a->id, 16);
    memcpy(e.device, a->device, 16);
    memcpy(e.phone, a->phone, 16);
    e.currency_exponent = 2;
    memcpy(e.customer_country, sim_countries[a->country], 3);
    memcpy(e.payee_country, sim_countries[a->country], 3);
    e.kyc_tier = a->kyc;
    e.device_created_ns = a->device_ns;
    e.customer_created_ns = a->signup_ns;
    e.utc_offset_min = (int16_t)offset_min_of(a->country);
    return e;
}

static void note(struct sim *s, const struct sim_agent *a, int64_t t, enum mopay_risk_sim_type type,
                 enum mopay_risk_pattern pattern)
{
    struct mopay_risk_event e = event_of(a, t, MOPAY_RISK_TOPUP);
    e.amount_minor = 1;
    emit(s, type, pattern, &e);
}

static void topup(struct sim *s, struct sim_agent *a, int64_t t, int64_t amount_minor, bool from_card,
                  enum mopay_risk_pattern pattern)
{
    struct mopay_risk_event e = event_of(a, t, MOPAY_RISK_TOPUP);
    e.amount_minor = amount_minor;
    if (from_card) {
        memcpy(e.card, a->card, 16);
        e.funding_created_ns = a->card_ns;
    } else {
        e.funding_created_ns = a->bank_ns;
    }
    emit(s, MOPAY_RISK_SIM_TRANSACTION, pattern, &e);
    a->balance_minor += amount_minor;
}

static void pay(struct sim *s, struct sim_agent *a, int64_t t, uint16_t merchant, int64_t amount_minor,
                enum mopay_risk_pattern pattern)
{
    const struct sim_merchant *m = &s->merchants[merchant];
    struct mopay_risk_event e = event_of(a, t, MOPAY_RISK_PAYMENT);
    memcpy(e.payee, m->id, 16);
    memcpy(e.payee_country, sim_countries[m->country], 3);
    e.mcc = categories[m->category].mcc;
    e.amount_minor = amount_minor;
    emit(s, MOPAY_RISK_SIM_TRANSACTION, pattern, &e);
    a->balance_minor -= amount_minor < a->balance_minor ? amount_minor : a->balance_minor;
}

/* P2P to `payee`, a customer whose agent `to` is NULL when the sim does not follow them. */
static void p2p_to(struct sim *s, struct sim_agent *from, const uint8_t payee[16], struct sim_agent *to, int64_t t,
                   int64_t amount_minor, enum mopay_risk_pattern pattern)
{
    struct mopay_risk_event e = event_of(from, t, MOPAY_RISK_P2P_OUT);
    memcpy(e.payee, payee, 16);
    if (to != NULL)
        memcpy(e.payee_country, sim_countries[to->country], 3);
    e.amount_minor = amount_minor;
    emit(s, MOPAY_RISK_SIM_TRANSACTION, pattern, &e);
    from->balance_minor -= amount_minor < from->balance_minor ? amount_minor : from->balance_minor;
    if (to != NULL)
        to->balance_minor += amount_minor;
}

static void p2p(struct sim *s, struct sim_agent *from, struct sim_agent *to, int64_t t, int64_t amount_minor,
                enum mopay_risk_pattern pattern)
{
    p2p_to(s, from, to->id, to, t, amount_minor, pattern);
}

static void withdraw(struct sim *s, struct sim_agent *a, int64_t t, const uint8_t bank[16], int64_t amount_minor,
                     enum mopay_risk_pattern pattern)
{
    struct mopay_risk_event e = event_of(a, t, MOPAY_RISK_WITHDRAWAL);
    memcpy(e.payee, bank, 16);
    e.amount_minor = amount_minor;
    emit(s, MOPAY_RISK_SIM_TRANSACTION, pattern, &e);
    a->balance_minor -= amount_minor < a->balance_minor ? amount_minor : a->balance_minor;
}

static int64_t minor_of(double major)
{
    int64_t minor = (int64_t)llround(major * 100);
    return minor > 0 ? minor : 1;
}

/* ---- one agent's day ---- */

enum action { ACT_PAY, ACT_P2P, ACT_WITHDRAW, ACT_SALARY, ACT_RENT, ACT_PHONE, ACT_CARD, ACT_WRONG_PIN };

struct planned {
    int64_t time_ns;
    enum action action;
};

/* A time today at a local hour drawn from the agent's rhythm, in the country it is in. */
static int64_t time_local(struct sim *s, const struct sim_agent *a, uint8_t country)
{
    uint32_t hour = pick_weighted(&s->rng, a->night_owl ? rhythm_owl : rhythm_day, 24);
    int64_t local_s = (int64_t)hour * 3600 + rng_below(&s->rng, 3600);
    int64_t utc_s = ((local_s - (int64_t)offset_min_of(country) * 60) % 86400 + 86400) % 86400;
    return s->day_start + utc_s * SEC;
}

static int planned_compare(const void *x, const void *y)
{
    const struct planned *a = x, *b = y;
    return (a->time_ns > b->time_ns) - (a->time_ns < b->time_ns);
}

static size_t plan_add(struct planned *plan, size_t n, int64_t t, enum action action)
{
    if (n < AGENT_ACTIONS_MAX)
        plan[n++] = (struct planned){t, action};
    return n;
}

/* What the agent does today, in time order. */
static size_t agent_plan(struct sim *s, struct sim_agent *a, uint32_t day, struct planned *plan)
{
    struct rng *r = &s->rng;
    uint8_t where = a->trip_days_left > 0 ? a->trip_country : a->country;
    double busy = (day % 7 >= 5 ? 1.2 : 1.0) * (a->trip_days_left > 0 ? 1.3 : 1.0);
    size_t n = 0;
    for (uint32_t i = rng_poisson(r, a->rate * busy); i > 0; i--)
        n = plan_add(plan, n, time_local(s, a, where), ACT_PAY);
    for (uint32_t i = rng_poisson(r, a->p2p_rate); i > 0; i--)
        n = plan_add(plan, n, time_local(s, a, where), ACT_P2P);
    if (rng_chance(r, a->withdraw_rate))
        n = plan_add(plan, n, time_local(s, a, where), ACT_WITHDRAW);
    if (day % 30 == a->payday)
        n = plan_add(plan, n, time_local(s, a, a->country), ACT_SALARY);
    if (a->pays_rent && day % 30 == (a->payday + 1u) % 30u)
        n = plan_add(plan, n, time_local(s, a, a->country), ACT_RENT);
    if (rng_chance(r, 1.0 / 300))
        n = plan_add(plan, n, time_local(s, a, where), ACT_PHONE);
    if (rng_chance(r, 1.0 / 250))
        n = plan_add(plan, n, time_local(s, a, where), ACT_CARD);
    if (rng_chance(r, 0.015))
        n = plan_add(plan, n, time_local(s, a, where), ACT_WRONG_PIN);
    qsort(plan, n, sizeof(*plan), planned_compare);
    return n;
}

/* Makes sure the wallet holds `amount_minor`: a top-up a little before t, rounded up to 10 or
 * 50, from the card mostly. */
static void agent_fund(struct sim *s, struct sim_agent *a, int64_t t, int64_t amount_minor)
{
    if (a->balance_minor >= amount_minor)
        return;
    double need = (double)(amount_minor - a->balance_minor) / 100 + rng_range(&s->rng, 0, 100);
    double unit = rng_chance(&s->rng, 0.1) ? 5 : rng_chance(&s->rng, 0.3) ? 10 : 50;
    int64_t before = (int64_t)rng_range(&s->rng, 20, 300) * SEC;
    int64_t earliest = a->signup_ns > s->day_start ? a->signup_ns : s->day_start;
    int64_t when = t - before > earliest ? t - before : earliest;
    topup(s, a, when, minor_of(ceil(need / unit) * unit), rng_chance(&s->rng, 0.7), MOPAY_RISK_PATTERN_LEGIT);
}

static void agent_shop(struct sim *s, struct sim_agent *a, int64_t t)
{
    struct rng *r = &s->rng;
    uint16_t m;
    double multiple = 1;
    if (a->trip_days_left > 0)
        m = merchant_pick(s, a->trip_country, rng_chance(r, 0.3) ? CAT_HOTEL : category_any(s));
    else if (rng_chance(r, 0.75))
        m = a->favourites[rng_below(r, FAVOURITES)];
    else
        m = merchant_pick(s, a->country, category_any(s));
    if (rng_chance(r, 0.02)) { /* a big purchase: a phone, a ring, a flight */
        static const uint8_t big[] = {CAT_ELECTRONICS, CAT_JEWELLERY, CAT_AIRLINE, CAT_HOTEL};
        m = merchant_pick(s, a->trip_days_left > 0 ? a->trip_country : a->country, big[rng_below(r, 4)]);
        multiple = rng_range(r, 3, 10);
    }
    double major = exp(a->mu + a->sigma * rng_normal(r)) * categories[s->merchants[m].category].amount_scale;
    int64_t amount = minor_of(major * multiple);
    agent_fund(s, a, t, amount);
    pay(s, a, t, m, amount, MOPAY_RISK_PATTERN_LEGIT);
}

static void agent_send(struct sim *s, struct sim_agent *a, int64_t t)
{
    struct rng *r = &s->rng;
    uint32_t to = rng_chance(r, 0.85) ? a->friends[rng_below(r, FRIENDS)] : rng_below(r, s->agent_count);
    struct sim_agent *friend = &s->agents[to];
    if (!friend->active || friend == a)
        return;
    int64_t amount = minor_of(round(exp(3.0 + 0.8 * rng_normal(r))));
    agent_fund(s, a, t, amount);
    p2p(s, a, friend, t, amount, MOPAY_RISK_PATTERN_LEGIT);
    if (amount >= 5000 && rng_chance(r, 0.15)) /* the friend needed cash */
        withdraw(s, friend, t + (int64_t)rng_range(r, 20, 180) * MIN, friend->bank, amount, MOPAY_RISK_PATTERN_LEGIT);
}

/* Rent to the landlord, a customer too, a day after payday: paid every 30 days. */
static void agent_rent(struct sim *s, struct sim_agent *a, int64_t t)
{
    int64_t amount = (int64_t)((double)a->salary_minor * rng_range(&s->rng, 0.25, 0.35)) / 1000 * 1000;
    agent_fund(s, a, t, amount);
    p2p_to(s, a, a->landlord, NULL, t, amount, MOPAY_RISK_PATTERN_LEGIT);
}

static void agent_act(struct sim *s, struct sim_agent *a, const struct planned *p)
{
    struct rng *r = &s->rng;
    int64_t t = p->time_ns;
    switch (p->action) {
    case ACT_PAY:
        agent_shop(s, a, t);
        break;
    case ACT_P2P:
        agent_send(s, a, t);
        break;
    case ACT_WITHDRAW:
        if (a->balance_minor >= 5000)
            withdraw(s, a, t, a->bank, (int64_t)(a->balance_minor * rng_range(r, 0.3, 0.8)) / 1000 * 1000,
                     MOPAY_RISK_PATTERN_LEGIT);
        break;
    case ACT_SALARY:
        topup(s, a, t, (int64_t)((double)a->salary_minor * rng_range(r, 0.2, 0.4)) / 1000 * 1000, false,
              MOPAY_RISK_PATTERN_LEGIT);
        break;
    case ACT_RENT:
        agent_rent(s, a, t);
        break;
    case ACT_PHONE: /* a new phone: the old device is revoked */
        note(s, a, t, MOPAY_RISK_SIM_DEVICE_REVOKED, MOPAY_RISK_PATTERN_LEGIT);
        rng_id(r, a->device);
        a->device_ns = t;
        break;
    case ACT_CARD: /* a new card, used soon; some try it with a small amount first */
        rng_id(r, a->card);
        a->card_ns = t;
        if (rng_chance(r, 0.2))
            topup(s, a, t + 30 * SEC, minor_of(1.0 + rng_below(r, 5)), true, MOPAY_RISK_PATTERN_LEGIT);
        topup(s, a, t + (int64_t)rng_range(r, 60, 600) * SEC, minor_of(50.0 * (1 + rng_below(r, 4))), true,
              MOPAY_RISK_PATTERN_LEGIT);
        break;
    case ACT_WRONG_PIN: /* a typo or two, then the right PIN */
        note(s, a, t, MOPAY_RISK_SIM_WRONG_PIN, MOPAY_RISK_PATTERN_LEGIT);
        if (rng_chance(r, 0.15))
            note(s, a, t + 5 * SEC, MOPAY_RISK_SIM_WRONG_PIN, MOPAY_RISK_PATTERN_LEGIT);
        agent_shop(s, a, t + (int64_t)rng_range(r, 10, 120) * SEC);
        break;
    }
}

/* Trips: one day in 150 a customer leaves for 3-10 days abroad. */
static void agent_travel(struct sim *s, struct sim_agent *a)
{
    if (a->trip_days_left > 0) {
        a->trip_days_left--;
        return;
    }
    if (rng_chance(&s->rng, 1.0 / 150)) {
        a->trip_country = country_foreign(s, a->country);
        a->trip_days_left = (uint8_t)(3 + rng_below(&s->rng, 8));
    }
}

/* ---- a new customer's first hours ---- */

/* A month of the agent's everyday spending, in major units (agent_shop's amounts, about). */
static double month_spend_major(const struct sim_agent *a)
{
    return 30 * a->rate * exp(a->mu + a->sigma * a->sigma / 2) * 1.4;
}

/* A delay from lo to hi, even on a log scale: mostly soon, sometimes hours later. */
static int64_t delay_log(struct rng *r, int64_t lo, int64_t hi)
{
    return (int64_t)exp(rng_range(r, log((double)lo), log((double)hi)));
}

/* One of the agent's friends who is a customer already; NULL if none is. */
static struct sim_agent *friend_active(struct sim *s, const struct sim_agent *a)
{
    uint32_t first = rng_below(&s->rng, FRIENDS);
    for (uint32_t k = 0; k < FRIENDS; k++) {
        struct sim_agent *f = &s->agents[a->friends[(first + k) % FRIENDS]];
        if (f->active && f != a)
            return f;
    }
    return NULL;
}

/* The first money in, from the card added at sign-up: an amount to try the wallet, or half to
 * all of a month's spending, in one to three top-ups minutes apart, within tier 0's balance
 * cap. Returns the time of the last one. */
static int64_t onboard_topups(struct sim *s, struct sim_agent *a, int64_t t)
{
    struct rng *r = &s->rng;
    double total = rng_chance(r, 0.4) ? rng_range(r, 20, 150) : month_spend_major(a) * rng_range(r, 0.5, 1.0);
    if (a->kyc == 0)
        total = fmin(total, TIER0_BALANCE_CAP_MAJOR);
    uint32_t n = 1 + pick_weighted(r, (const double[]){0.6, 0.3, 0.1}, 3);
    double unit = total < 200 ? 10 : 50;
    for (uint32_t i = 0; i < n; i++) {
        topup(s, a, t, minor_of(fmax(unit, floor(total / n / unit) * unit)), true, MOPAY_RISK_PATTERN_LEGIT);
        if (i + 1 < n)
            t += delay_log(r, MIN, HOUR);
    }
    return t;
}

/* Everyday payments near home in the first hours. */
static void onboard_shop(struct sim *s, struct sim_agent *a, int64_t t)
{
    struct rng *r = &s->rng;
    for (uint32_t n = 1 + rng_poisson(r, 1.2); n > 0; n--) {
        int64_t at = t + delay_log(r, MIN, 8 * HOUR);
        uint16_t m = rng_chance(r, 0.6) ? a->favourites[rng_below(r, FAVOURITES)]
                                        : merchant_pick(s, a->country, category_everyday(s));
        double major = exp(a->mu + a->sigma * rng_normal(r)) * categories[s->merchants[m].category].amount_scale;
        int64_t amount = minor_of(major);
        agent_fund(s, a, at, amount);
        pay(s, a, at, m, amount, MOPAY_RISK_PATTERN_LEGIT);
    }
}

/* Money to a friend or family member, a new payee: a little, or most of what just came in (the
 * rent, a trip's costs shared); now and then to a second friend soon after. */
static void onboard_send(struct sim *s, struct sim_agent *a, int64_t t)
{
    struct rng *r = &s->rng;
    if (!rng_chance(r, 0.6))
        return;
    uint32_t sends = rng_chance(r, 0.15) ? 2 : 1;
    for (uint32_t k = 0; k < sends; k++) {
        t += k == 0 ? delay_log(r, MIN, 6 * HOUR) : delay_log(r, MIN, HOUR);
        bool most = k == 0 && a->balance_minor >= 10000 && rng_chance(r, 0.45);
        int64_t amount = most ? (int64_t)((double)a->balance_minor * rng_range(r, 0.5, 0.95)) / 1000 * 1000
                              : minor_of(round(exp(3.0 + 0.8 * rng_normal(r))));
        struct sim_agent *friend = friend_active(s, a);
        agent_fund(s, a, t, amount);
        if (most && a->pays_rent)
            p2p_to(s, a, a->landlord, NULL, t, amount, MOPAY_RISK_PATTERN_LEGIT);
        else if (friend != NULL)
            p2p(s, a, friend, t, amount, MOPAY_RISK_PATTERN_LEGIT);
    }
}

/* Now and then on the first day: a second card, tried with a small top-up first by some; a new
 * phone once the first hours are over (the sign-up one revoked, so nothing pays with it after);
 * a wrong PIN or two while the new PIN is learnt. The card and the phone only when they fit in
 * the day, so that tomorrow's events see today's device and card. */
static void onboard_extras(struct sim *s, struct sim_agent *a, int64_t t)
{
    struct rng *r = &s->rng;
    int64_t day_end = s->day_start + DAY;
    int64_t at = t + delay_log(r, 10 * MIN, 8 * HOUR);
    if (rng_chance(r, 0.15) && at + HOUR < day_end) {
        rng_id(r, a->card);
        a->card_ns = at;
        if (rng_chance(r, 0.2))
            topup(s, a, at + 30 * SEC, minor_of(1.0 + rng_below(r, 5)), true, MOPAY_RISK_PATTERN_LEGIT);
        topup(s, a, at + delay_log(r, MIN, HOUR), minor_of(50.0 * (1 + rng_below(r, 6))), true,
              MOPAY_RISK_PATTERN_LEGIT);
    }
    at = t + 11 * HOUR + delay_log(r, MIN, 4 * HOUR); /* after onboard_shop's and onboard_send's */
    if (rng_chance(r, 0.05) && at + 4 * HOUR < day_end) {
        note(s, a, at, MOPAY_RISK_SIM_DEVICE_REVOKED, MOPAY_RISK_PATTERN_LEGIT);
        rng_id(r, a->device);
        a->device_ns = at + delay_log(r, 30 * SEC, 10 * MIN);
        agent_shop(s, a, a->device_ns + delay_log(r, MIN, 3 * HOUR));
    }
    at = t + delay_log(r, MIN, 4 * HOUR);
    if (rng_chance(r, 0.12)) {
        note(s, a, at, MOPAY_RISK_SIM_WRONG_PIN, MOPAY_RISK_PATTERN_LEGIT);
        if (rng_chance(r, 0.3))
            note(s, a, at + 10 * SEC, MOPAY_RISK_SIM_WRONG_PIN, MOPAY_RISK_PATTERN_LEGIT);
        agent_shop(s, a, at + (int64_t)rng_range(r, 20, 120) * SEC);
    }
}

/* Signs the agent up today, at an hour of its rhythm: the account, the device it signs up on
 * and its first card are made together; KYC tier 0 customers send their documents and most
 * reach tier 1 within days. Then the first hours. */
static void agent_onboard(struct sim *s, struct sim_agent *a)
{
    struct rng *r = &s->rng;
    int64_t t = time_local(s, a, a->country);
    a->active = true;
    a->signup_ns = a->device_ns = a->bank_ns = t;
    a->card_ns = t + (int64_t)rng_range(r, 20, 300) * SEC;
    if (a->kyc == 0 && rng_chance(r, 0.7)) {
        a->kyc_next = 1;
        a->kyc_next_ns = t + (int64_t)(rng_range(r, 0.5, 10) * (double)DAY);
    }
    int64_t first = a->card_ns + delay_log(r, 30 * SEC, 30 * MIN);
    int64_t last = onboard_topups(s, a, first);
    onboard_shop(s, a, first);
    onboard_send(s, a, last);
    onboard_extras(s, a, first);
}

static void agent_day(struct sim *s, struct sim_agent *a, uint32_t day)
{
    if (!a->active) {
        if (day == a->join_day)
            agent_onboard(s, a);
        return;
    }
    if (a->kyc_next_ns != 0 && a->kyc_next_ns <= s->day_start) {
        a->kyc = a->kyc_next;
        a->kyc_next_ns = 0;
    }
    agent_travel(s, a);
    struct planned plan[AGENT_ACTIONS_MAX];
    size_t n = agent_plan(s, a, day, plan);
    for (size_t i = 0; i < n; i++)
        agent_act(s, a, &plan[i]);
}

/* ---- fraud ---- */

/* A fresh account a fraudster controls (a mule), made `age_days` at most before t. */
static void mule_make(struct sim *s, struct sim_agent *m, int64_t t, uint8_t country, double age_days)
{
    agent_make(s, m, t, rng_unit(&s->rng) * age_days);
    m->country = country;
    m->kyc = (uint8_t)rng_below(&s->rng, 2);
    m->device_ns = m->signup_ns + (int64_t)(rng_unit(&s->rng) * (double)(t - m->signup_ns));
    m->card_ns = m->device_ns;
    m->balance_minor = 0;
}

/* A customer holding at least balance_min_minor who signed up before signed_up_before_ns. */
static struct sim_agent *victim_pick(struct sim *s, int64_t balance_min_minor, int64_t signed_up_before_ns)
{
    for (int tries = 0; tries < 20; tries++) {
        struct sim_agent *a = &s->agents[rng_below(&s->rng, s->agent_count)];
        if (a->active && a->balance_minor >= balance_min_minor && a->signup_ns < signed_up_before_ns)
            return a;
    }
    return NULL;
}

/* The mule cashes out what it received, within the hour or so. */
static void mule_cash_out(struct sim *s, struct sim_agent *mule, int64_t t, enum mopay_risk_pattern pattern)
{
    uint8_t bank[16];
    rng_id(&s->rng, bank);
    withdraw(s, mule, t + (int64_t)rng_range(&s->rng, 5, 90) * MIN, bank, mule->balance_minor, pattern);
}

static void fraud_takeover(struct sim *s, int64_t t)
{
    const enum mopay_risk_pattern ato = MOPAY_RISK_PATTERN_ACCOUNT_TAKEOVER;
    struct rng *r = &s->rng;
    struct sim_agent *victim = victim_pick(s, 3000, t - TAKEOVER_ACCOUNT_AGE_MIN);
    if (victim == NULL)
        return;
    struct sim_agent v = *victim; /* the fraudster's view: the victim's account on a new device */
    rng_id(r, v.device);
    v.device_ns = t - (int64_t)rng_range(r, 60, 1800) * SEC;
    if (rng_chance(r, 0.5)) /* a SIM swap: the victim's phone is logged out */
        note(s, victim, t - (int64_t)rng_range(r, 30, 600) * SEC, MOPAY_RISK_SIM_DEVICE_REVOKED, ato);
    for (uint32_t i = rng_chance(r, 0.6) ? 1 + rng_below(r, 4) : 0; i > 0; i--)
        note(s, &v, t - (int64_t)rng_range(r, 5, 300) * SEC, MOPAY_RISK_SIM_WRONG_PIN, ato);
    if (v.balance_minor < 20000 && rng_chance(r, 0.5)) /* the saved card tops the wallet up first */
        topup(s, &v, t, minor_of(100.0 * (2 + rng_below(r, 4))), true, ato);
    uint32_t hops = 1 + rng_below(r, 3);
    int64_t at = t;
    for (uint32_t i = 0; i < hops && v.balance_minor > 100; i++) {
        at += (int64_t)rng_range(r, 20, 240) * SEC;
        int64_t amount = i + 1 == hops ? v.balance_minor : (int64_t)((double)v.balance_minor * rng_range(r, 0.3, 0.6));
        if (i + 1 == hops && rng_chance(r, 0.3)) {
            uint8_t bank[16];
            rng_id(r, bank);
            withdraw(s, &v, at, bank, amount, ato);
            break;
        }
        struct sim_agent mule;
        mule_make(s, &mule, at, v.country, 10);
        p2p(s, &v, &mule, at, amount, ato);
        mule_cash_out(s, &mule, at, ato);
    }
    victim->balance_minor = v.balance_minor;
}

static void fraud_card_testing(struct sim *s, int64_t t)
{
    const enum mopay_risk_pattern ct = MOPAY_RISK_PATTERN_CARD_TESTING;
    struct rng *r = &s->rng;
    struct sim_agent f;
    mule_make(s, &f, t, (uint8_t)pick_weighted(r, home_weights, HOMES), 3);
    uint32_t tests = 5 + rng_below(r, 11);
    for (uint32_t i = 0; i < tests; i++) {
        t += (int64_t)rng_range(r, 10, 90) * SEC;
        rng_id(r, f.card);
        f.card_ns = t - (int64_t)rng_range(r, 5, 60) * SEC;
        struct mopay_risk_event e = event_of(&f, t, MOPAY_RISK_TOPUP);
        memcpy(e.card, f.card, 16);
        e.funding_created_ns = f.card_ns;
        e.amount_minor = 100 + rng_below(r, 500);
        if (rng_chance(r, 0.6))
            memcpy(e.payee_country, sim_countries[country_foreign(s, f.country)], 3);
        emit(s, MOPAY_RISK_SIM_TRANSACTION, ct, &e);
        f.balance_minor += e.amount_minor;
    }
    t += (int64_t)rng_range(r, 1, 10) * MIN;
    topup(s, &f, t, minor_of(rng_range(r, 50, 300)), true, ct);
    struct sim_agent mule;
    mule_make(s, &mule, t, f.country, 10);
    t += (int64_t)rng_range(r, 2, 20) * MIN;
    if (rng_chance(r, 0.5))
        p2p(s, &f, &mule, t, f.balance_minor, ct);
    else
        pay(s, &f, t, merchant_pick(s, f.country, category_risky(s)), f.balance_minor, ct);
}

static void fraud_mule_chain(struct sim *s, int64_t t)
{
    const enum mopay_risk_pattern mc = MOPAY_RISK_PATTERN_MULE_CHAIN;
    struct rng *r = &s->rng;
    uint8_t country = (uint8_t)pick_weighted(r, home_weights, HOMES);
    struct sim_agent from, to;
    mule_make(s, &from, t, country, 14);
    from.card_ns = t - (int64_t)rng_range(r, 30, 3600) * SEC; /* a stolen card, just added */
    topup(s, &from, t, minor_of(round(rng_range(r, 300, 3000))), true, mc);
    uint32_t hops = 2 + rng_below(r, 3);
    for (uint32_t i = 0; i < hops; i++) {
        t += (int64_t)rng_range(r, 3, 40) * MIN;
        for (uint32_t k = rng_chance(r, 0.5) ? 1 + rng_below(r, 2) : 0; k > 0; k--) { /* fan-out */
            mule_make(s, &to, t, country, 14);
            p2p(s, &from, &to, t, (int64_t)((double)from.balance_minor * rng_range(r, 0.2, 0.4)), mc);
            mule_cash_out(s, &to, t, mc);
            t += (int64_t)rng_range(r, 20, 180) * SEC;
        }
        mule_make(s, &to, t, country, 14);
        int64_t amount = (int64_t)((double)from.balance_minor * rng_range(r, 0.95, 1.0));
        p2p(s, &from, &to, t, amount, mc);
        from = to;
    }
    mule_cash_out(s, &from, t, mc);
}

static void fraud_stolen_code(struct sim *s)
{
    struct rng *r = &s->rng;
    struct sim_agent *victim = victim_pick(s, 2000, INT64_MAX);
    if (victim == NULL || victim->trip_days_left > 0)
        return;
    int64_t t = time_local(s, victim, victim->country);
    uint16_t usual = victim->favourites[rng_below(r, FAVOURITES)];
    int64_t amount = minor_of(exp(victim->mu + victim->sigma * rng_normal(r)));
    pay(s, victim, t, usual, amount, MOPAY_RISK_PATTERN_LEGIT);
    uint8_t country = rng_chance(r, 0.6) ? country_foreign(s, victim->country) : victim->country;
    uint16_t odd = merchant_pick(s, country, category_risky(s));
    int64_t stolen = minor_of(exp(victim->mu) * rng_range(r, 3, 15));
    if (stolen > victim->balance_minor)
        stolen = victim->balance_minor;
    if (stolen < 500)
        return;
    pay(s, victim, t + (int64_t)rng_range(r, 5, 90) * SEC, odd, stolen, MOPAY_RISK_PATTERN_STOLEN_CODE);
}

static void fraud_night_abroad(struct sim *s)
{
    struct rng *r = &s->rng;
    struct sim_agent *victim = victim_pick(s, 5000, INT64_MAX);
    if (victim == NULL || victim->trip_days_left > 0)
        return;
    struct sim_agent v = *victim;
    if (rng_chance(r, 0.5)) { /* a cloned wallet on another phone */
        rng_id(r, v.device);
        v.device_ns = s->day_start - (int64_t)rng_range(r, 1, 48) * HOUR;
    }
    uint8_t country = country_foreign(s, v.country);
    int64_t local_s = (int64_t)rng_range(r, 0, 4.5 * 3600);
    int64_t t = s->day_start + ((local_s - offset_min_of(v.country) * 60) % 86400 + 86400) % 86400 * SEC;
    for (uint32_t n = 2 + rng_below(r, 5); n > 0 && v.balance_minor > 1000; n--) {
        static const uint8_t targets[] = {CAT_ELECTRONICS, CAT_JEWELLERY, CAT_DEPARTMENT, CAT_CLOTHING,
                                          CAT_QUASI_CASH, CAT_HOTEL, CAT_GAMBLING};
        uint16_t m = merchant_pick(s, country, targets[rng_below(r, sizeof(targets))]);
        int64_t amount = minor_of(exp(v.mu) * rng_range(r, 3, 20));
        pay(s, &v, t, m, amount < v.balance_minor ? amount : v.balance_minor, MOPAY_RISK_PATTERN_NIGHT_ABROAD);
        t += (int64_t)rng_range(r, 2, 15) * MIN;
    }
    victim->balance_minor = v.balance_minor;
}

/* Frauds per 1000 customers and day, by pattern. */
static const double fraud_rates[MOPAY_RISK_PATTERN_COUNT] = {0, 1.5, 0.7, 1.2, 3.0, 1.2};

static void fraud_day(struct sim *s)
{
    double per = s->options.fraud_scale * s->agent_count / 1000.0;
    for (int p = 1; p < MOPAY_RISK_PATTERN_COUNT; p++) {
        for (uint32_t k = rng_poisson(&s->rng, fraud_rates[p] * per); k > 0; k--) {
            int64_t t = s->day_start + (int64_t)(rng_unit(&s->rng) * (double)(DAY - HOUR));
            switch ((enum mopay_risk_pattern)p) {
            case MOPAY_RISK_PATTERN_ACCOUNT_TAKEOVER:
                fraud_takeover(s, t + HOUR);
                break;
            case MOPAY_RISK_PATTERN_CARD_TESTING:
                fraud_card_testing(s, t);
                break;
            case MOPAY_RISK_PATTERN_MULE_CHAIN:
                fraud_mule_chain(s, t);
                break;
            case MOPAY_RISK_PATTERN_STOLEN_CODE:
                fraud_stolen_code(s);
                break;
            case MOPAY_RISK_PATTERN_NIGHT_ABROAD:
                fraud_night_abroad(s);
                break;
            default:
                MOPAY_UNREACHABLE();
            }
        }
    }
}

/* ---- the run ---- */

static int pending_compare(const void *x, const void *y)
{
    const struct pending *a = x, *b = y;
    if (a->time_ns != b->time_ns)
        return (a->time_ns > b->time_ns) - (a->time_ns < b->time_ns);
    return (a->seq > b->seq) - (a->seq < b->seq);
}

/* Hands out the records older than `until`, in order, keeping the rest. */
static bool flush_until(struct sim *s, int64_t until, bool (*each)(const struct mopay_risk_sim_record *, void *),
                        void *ctx)
{
    qsort(s->pending, s->pending_count, sizeof(*s->pending), pending_compare);
    size_t done = 0;
    for (; done < s->pending_count && s->pending[done].time_ns < until; done++)
        if (!each(&s->pending[done].record, ctx))
            return false;
    memmove(s->pending, s->pending + done, (s->pending_count - done) * sizeof(*s->pending));
    s->pending_count -= done;
    return true;
}

static bool sim_days(struct sim *s, bool (*each)(const struct mopay_risk_sim_record *, void *), void *ctx)
{
    for (uint32_t day = 0; day < s->options.days; day++) {
        s->day_start = s->options.start_ns + (int64_t)day * DAY;
        fraud_day(s);
        for (uint32_t i = 0; i < s->agent_count; i++)
            agent_day(s, &s->agents[i], day);
        if (s->failed || !flush_until(s, s->day_start + DAY, each, ctx))
            return false;
    }
    s->day_start += DAY;
    return flush_until(s, INT64_MAX, each, ctx);
}

bool mopay_risk_sim_run(uint64_t seed, const struct mopay_risk_sim_options *options,
                        bool (*each)(const struct mopay_risk_sim_record *record, void *ctx), void *ctx)
{
    MOPAY_ASSERT(options != NULL && each != NULL);
    if (options->customers < 2 || options->customers > MOPAY_RISK_SIM_CUSTOMERS_MAX || options->days == 0 ||
        options->days > MOPAY_RISK_SIM_DAYS_MAX || !(options->fraud_scale >= 0 && options->fraud_scale <= 100))
        return false;
    struct sim *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return false;
    s->options = *options;
    s->pending_max = (size_t)options->customers * RECORDS_PER_CUSTOMER_MAX + 1000000;
    rng_seed(&s->rng, seed);
    merchants_make(s);
    bool ok = agents_make(s) && sim_days(s, each, ctx);
    free(s->pending);
    free(s->agents);
    free(s);
    return ok;
}
