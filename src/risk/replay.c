/* Replay and evaluation: the simulator's records through an engine exactly as the server runs
 * it (score, then commit; notes as they come), and the figures of the decisions. Offline code:
 * it allocates the sample arrays. */
#include <stdlib.h>
#include <string.h>

#include "mopay/assert.h"
#include "mopay/risk.h"

#define F MOPAY_RISK_FEATURE_COUNT

void mopay_risk_samples_free(struct mopay_risk_samples *samples)
{
    free(samples->features);
    free(samples->scores);
    free(samples->labels);
    free(samples->patterns);
    free(samples->actions);
    memset(samples, 0, sizeof(*samples));
}

/* Doubles the arrays; false (the old arrays kept) when out of memory. */
static bool samples_grow(struct mopay_risk_samples *s)
{
    size_t capacity = s->capacity ? s->capacity * 2 : 65536;
    double *features = realloc(s->features, capacity * F * sizeof(double));
    if (features != NULL)
        s->features = features;
    double *scores = realloc(s->scores, capacity * sizeof(double));
    if (scores != NULL)
        s->scores = scores;
    uint8_t *labels = realloc(s->labels, capacity);
    if (labels != NULL)
        s->labels = labels;
    uint8_t *patterns = realloc(s->patterns, capacity);
    if (patterns != NULL)
        s->patterns = patterns;
    uint8_t *actions = realloc(s->actions, capacity);
    if (actions != NULL)
        s->actions = actions;
    if (features == NULL || scores == NULL || labels == NULL || patterns == NULL || actions == NULL)
        return false;
    s->capacity = capacity;
    return true;
}

struct replay {
    struct mopay_risk_engine *engine;
    struct mopay_risk_samples *samples;
};

static bool replay_transaction(struct replay *r, const struct mopay_risk_sim_record *record)
{
    struct mopay_risk_samples *s = r->samples;
    if (s->count == s->capacity && !samples_grow(s))
        return false;
    struct mopay_risk_decision decision;
    mopay_risk_score(r->engine, &record->event, &decision);
    memcpy(&s->features[s->count * F], decision.features, sizeof(decision.features));
    s->scores[s->count] = decision.score;
    s->labels[s->count] = record->pattern != MOPAY_RISK_PATTERN_LEGIT;
    s->patterns[s->count] = (uint8_t)record->pattern;
    s->actions[s->count] = (uint8_t)decision.action;
    s->count++;
    return mopay_risk_commit(r->engine, &record->event);
}

static bool replay_each(const struct mopay_risk_sim_record *record, void *ctx)
{
    struct replay *r = ctx;
    switch (record->type) {
    case MOPAY_RISK_SIM_TRANSACTION:
        return replay_transaction(r, record);
    case MOPAY_RISK_SIM_WRONG_PIN:
        return mopay_risk_note_wrong_pin(r->engine, record->event.customer, record->event.time_ns);
    case MOPAY_RISK_SIM_DEVICE_REVOKED:
        return mopay_risk_note_device_revoked(r->engine, record->event.customer, record->event.time_ns);
    }
    MOPAY_UNREACHABLE();
}

bool mopay_risk_replay(uint64_t seed, const struct mopay_risk_sim_options *options,
                       const struct mopay_risk_config *config, const struct mopay_risk_model *model,
                       struct mopay_risk_samples *samples)
{
    MOPAY_ASSERT(options != NULL && config != NULL && samples != NULL);
    memset(samples, 0, sizeof(*samples));
    struct mopay_risk_engine *engine = mopay_risk_engine_new(config, (size_t)options->customers * 2);
    if (engine == NULL)
        return false;
    mopay_risk_engine_set_model(engine, model);
    struct replay r = {engine, samples};
    bool ok = mopay_risk_sim_run(seed, options, replay_each, &r);
    mopay_risk_engine_free(engine);
    if (!ok)
        mopay_risk_samples_free(samples);
    return ok;
}

struct scored {
    double score;
    uint8_t label;
};

static int scored_descending(const void *x, const void *y)
{
    const struct scored *a = x, *b = y;
    return (a->score < b->score) - (a->score > b->score);
}

/* ROC AUC (ties count half) and the best recall at a false-positive rate of at most 1 %. */
static bool evaluate_ranking(const struct mopay_risk_samples *s, struct mopay_risk_eval *e)
{
    size_t n = s->count, positives = e->frauds, negatives = n - e->frauds;
    if (positives == 0 || negatives == 0)
        return true;
    struct scored *sorted = malloc(n * sizeof(*sorted));
    if (sorted == NULL)
        return false;
    for (size_t i = 0; i < n; i++)
        sorted[i] = (struct scored){s->scores[i], s->labels[i]};
    qsort(sorted, n, sizeof(*sorted), scored_descending);
    size_t tp = 0, fp = 0, fp_allowed = negatives / 100;
    double area = 0; /* pairs (positive, negative) ranked right, ties as half */
    for (size_t i = 0; i < n;) {
        size_t group_tp = 0, group_fp = 0, j = i;
        for (; j < n && sorted[j].score == sorted[i].score; j++)
            sorted[j].label ? group_tp++ : group_fp++;
        area += (double)group_fp * ((double)tp + 0.5 * (double)group_tp);
        tp += group_tp;
        fp += group_fp;
        if (fp <= fp_allowed)
            e->recall_at_1pct_fpr = (double)tp / (double)positives;
        i = j;
    }
    e->roc_auc = area / ((double)positives * (double)negatives);
    free(sorted);
    return true;
}

bool mopay_risk_evaluate(const struct mopay_risk_samples *s, struct mopay_risk_eval *e)
{
    MOPAY_ASSERT(s != NULL && e != NULL);
    memset(e, 0, sizeof(*e));
    e->events = s->count;
    for (size_t i = 0; i < s->count; i++) {
        bool flagged = s->actions[i] != MOPAY_RISK_APPROVE;
        MOPAY_ASSERT(s->patterns[i] < MOPAY_RISK_PATTERN_COUNT);
        e->frauds += s->labels[i];
        e->flagged += flagged;
        e->declined += s->actions[i] == MOPAY_RISK_DECLINE;
        e->true_positives += flagged && s->labels[i];
        e->false_positives += flagged && !s->labels[i];
        e->pattern_events[s->patterns[i]]++;
        e->pattern_flagged[s->patterns[i]] += flagged;
    }
    size_t legit = e->events - e->frauds;
    e->precision = e->flagged ? (double)e->true_positives / (double)e->flagged : 0;
    e->recall = e->frauds ? (double)e->true_positives / (double)e->frauds : 0;
    e->false_positive_rate = legit ? (double)e->false_positives / (double)legit : 0;
    return evaluate_ranking(s, e);
}
