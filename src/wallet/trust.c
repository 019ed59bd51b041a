/* The trust rating: a base of 500, moved by what the customer's history says, kept between 350
 * and 950. Each factor's weight is bounded, so no single one can carry a customer to either end
 * except a fraud flag, which should. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"

#define NS_PER_DAY (86400LL * 1000000000LL)

static int clamp(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static void factor(struct mopay_trust *t, const char *name, int points, const char *fmt, long a)
{
    size_t i = t->factor_count++;
    MOPAY_ASSERT(i < MOPAY_TRUST_FACTORS);
    t->factors[i].name = name;
    t->factors[i].points = points;
    snprintf(t->factors[i].sentence, sizeof(t->factors[i].sentence), fmt, a);
}

/* The score alone, without the words: what limits ask for on every payment. */
int trust_score(const struct mopay_customer *c, int64_t now_ns)
{
    const struct mopay_trust_inputs *in = &c->trust;
    long days = (long)((now_ns - c->created_at_ns) / NS_PER_DAY);
    int score = 500 + clamp((int)(days / 2), 0, 150) + c->kyc_tier * 60 + clamp(10 * (int)in->bills_on_time, 0, 100) -
                clamp(20 * (int)in->bills_late, 0, 100) - clamp(15 * (int)in->short_of_funds, 0, 60) -
                (in->refunds_received > 3 ? clamp(5 * (int)(in->refunds_received - 3), 0, 50) : 0) -
                250 * clamp((int)in->fraud_flags, 0, 4);
    return clamp(score, MOPAY_TRUST_MIN, MOPAY_TRUST_MAX);
}

int trust_bonus_pct(int score)
{
    return score >= 850 ? 50 : score >= 750 ? 25 : 0;
}

void mopay_wallet_trust(const struct mopay_customer *c, int64_t now_ns, struct mopay_trust *out)
{
    memset(out, 0, sizeof(*out));
    const struct mopay_trust_inputs *in = &c->trust;
    long days = (long)((now_ns - c->created_at_ns) / NS_PER_DAY);
    factor(out, "tenure", clamp((int)(days / 2), 0, 150), "a customer for %ld days", days);
    factor(out, "kyc_tier", c->kyc_tier * 60, "identity checked to KYC tier %ld", c->kyc_tier);
    int bills = clamp(10 * (int)in->bills_on_time, 0, 100) - clamp(20 * (int)in->bills_late, 0, 100);
    factor(out, "bills", bills, "%ld bills paid on time", (long)in->bills_on_time);
    factor(out, "balance", -clamp(15 * (int)in->short_of_funds, 0, 60), "%ld payments refused for want of funds",
           (long)in->short_of_funds);
    int refunds = in->refunds_received > 3 ? -clamp(5 * (int)(in->refunds_received - 3), 0, 50) : 0;
    factor(out, "refunds", refunds, "%ld refunds received", (long)in->refunds_received);
    factor(out, "fraud", -250 * clamp((int)in->fraud_flags, 0, 4), "%ld payments confirmed as fraud",
           (long)in->fraud_flags);
    int score = 500;
    for (size_t i = 0; i < out->factor_count; i++)
        score += out->factors[i].points;
    out->score = clamp(score, MOPAY_TRUST_MIN, MOPAY_TRUST_MAX);
    /* the largest effects first, for "its top factors in words" */
    for (size_t i = 1; i < out->factor_count; i++)
        for (size_t j = i; j > 0 && abs(out->factors[j - 1].points) < abs(out->factors[j].points); j--) {
            __typeof__(out->factors[0]) tmp = out->factors[j];
            out->factors[j] = out->factors[j - 1];
            out->factors[j - 1] = tmp;
        }
    MOPAY_ASSERT(out->score == trust_score(c, now_ns)); /* the two ways agree */
    out->limit_bonus_pct = trust_bonus_pct(out->score);
}

enum mopay_err mopay_wallet_trust_note(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns,
                                       struct mopay_customer *c, enum mopay_trust_event event)
{
    (void)store; /* the images go to the journal */
    uint32_t *counters[] = {&c->trust.bills_on_time, &c->trust.bills_late, &c->trust.refunds_received,
                            &c->trust.short_of_funds, &c->trust.fraud_flags};
    MOPAY_ASSERT(event >= 0 && event <= MOPAY_TRUST_FRAUD);
    if (*counters[event] < UINT32_MAX)
        (*counters[event])++;
    return record_customer(w, now_ns, c);
}

int mopay_wallet_trust_score(const struct mopay_customer *c, int64_t now_ns)
{
    return trust_score(c, now_ns);
}
