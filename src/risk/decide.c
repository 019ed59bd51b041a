/* Decisions: blocklists and rules over the facts, then the model's thresholds. Read-only and
 * allocation-free: the scoring path. */
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"

static const struct {
    const char *code;
    const char *text;
} rule_texts[MOPAY_RISK_RULE_COUNT] = {
#define RULE_TEXT(name, code, action, text) {code, text},
    MOPAY_RISK_RULES(RULE_TEXT)
#undef RULE_TEXT
};

static bool listed(const struct mopay_risk_engine *engine, enum mopay_risk_list list, const uint8_t key[16])
{
    const struct mopay_index *ix = &engine->lists[list];
    return ix->count > 0 && !risk_key_is_zero(key) && mopay_index_get(ix, key) != NULL;
}

/* Which rules fire: a bit per rule. */
static uint32_t rules_blocklists(const struct mopay_risk_engine *engine, const struct mopay_risk_event *event)
{
    uint32_t fired = 0;
    if (listed(engine, MOPAY_RISK_LIST_DEVICE, event->device))
        fired |= 1u << MOPAY_RISK_RULE_BLOCKLISTED_DEVICE;
    if (listed(engine, MOPAY_RISK_LIST_PHONE, event->phone))
        fired |= 1u << MOPAY_RISK_RULE_BLOCKLISTED_PHONE;
    if (listed(engine, MOPAY_RISK_LIST_CARD, event->card))
        fired |= 1u << MOPAY_RISK_RULE_BLOCKLISTED_CARD;
    if (event->kind == MOPAY_RISK_PAYMENT && listed(engine, MOPAY_RISK_LIST_MERCHANT, event->payee))
        fired |= 1u << MOPAY_RISK_RULE_BLOCKLISTED_MERCHANT;
    return fired;
}

/* The rules about outgoing money; card testing is about top-ups, the rest about outflows. */
static uint32_t rules_facts(const struct mopay_risk_config *c, const struct risk_facts *f)
{
    uint32_t fired = 0;
#define FIRE_IF(cond, rule) fired |= (cond) ? 1u << MOPAY_RISK_RULE_##rule : 0
    FIRE_IF(f->small_topups_1h > c->small_topups_max, CARD_TESTING);
    FIRE_IF(f->wrong_pins_24h >= c->wrong_pins_max && f->outflow, WRONG_PINS);
    if (!f->outflow)
        return fired;
    FIRE_IF(f->count_1m > c->velocity_1m_max, VELOCITY_1M);
    FIRE_IF(f->count_1h > c->velocity_1h_max, VELOCITY_1H);
    FIRE_IF(f->sum_24h > c->amount_24h_major_max, AMOUNT_24H);
    FIRE_IF(f->history_count >= c->amount_unusual_history_min && f->amount_z >= c->amount_unusual_z &&
                f->amount_major > c->amount_unusual_max_multiple * f->amount_max_major,
            AMOUNT_UNUSUAL);
    FIRE_IF(f->device_age_ns < c->new_device_age_ns && !f->signup_device &&
                f->amount_major >= c->new_device_amount_major,
            NEW_DEVICE_LARGE_AMOUNT);
    FIRE_IF(f->night && f->new_country && f->amount_major >= c->night_abroad_amount_major, NIGHT_ABROAD);
    FIRE_IF(f->device_revoked_age_ns < c->device_revoked_window_ns && f->new_payee && f->kind != MOPAY_RISK_PAYMENT,
            DEVICE_REVOKED_RECENTLY);
    FIRE_IF(f->payees_1h > c->fan_out_payees_max, MULE_FAN_OUT);
#undef FIRE_IF
    return fired;
}

static uint32_t rules_model(const struct mopay_risk_engine *engine, double score)
{
    if (!engine->has_model)
        return 0;
    if (score >= engine->model.decline_at)
        return 1u << MOPAY_RISK_RULE_MODEL_HIGH;
    if (score >= engine->model.confirm_at)
        return 1u << MOPAY_RISK_RULE_MODEL_ELEVATED;
    return 0;
}

/* The strictest action of the fired rules, and their reasons: declines first, then
 * confirmations, each in rule order, at most MOPAY_RISK_REASONS_MAX. */
static void decision_from_rules(const struct mopay_risk_config *config, uint32_t fired,
                                struct mopay_risk_decision *decision)
{
    decision->action = MOPAY_RISK_APPROVE;
    decision->reason_count = 0;
    for (int action = MOPAY_RISK_DECLINE; action > MOPAY_RISK_APPROVE; action--) {
        for (int rule = 0; rule < MOPAY_RISK_RULE_COUNT; rule++) {
            if (!(fired & (1u << rule)) || (int)config->rule_actions[rule] != action)
                continue;
            if (decision->action == MOPAY_RISK_APPROVE)
                decision->action = (enum mopay_risk_action)action;
            if (decision->reason_count == MOPAY_RISK_REASONS_MAX)
                continue;
            struct mopay_risk_reason *reason = &decision->reasons[decision->reason_count++];
            reason->rule = (enum mopay_risk_rule)rule;
            reason->code = rule_texts[rule].code;
            reason->text = rule_texts[rule].text;
        }
    }
}

void mopay_risk_score(const struct mopay_risk_engine *engine, const struct mopay_risk_event *event,
                      struct mopay_risk_decision *decision)
{
    _Static_assert(MOPAY_RISK_RULE_COUNT <= 32, "rules fit a 32-bit mask");
    MOPAY_ASSERT(engine != NULL && event != NULL && decision != NULL);
    MOPAY_ASSERT((unsigned)event->kind < MOPAY_RISK_KIND_COUNT);
    MOPAY_ASSERT(event->amount_minor > 0);
    const struct risk_customer *customer = mopay_index_get(&engine->customers, event->customer);
    struct risk_facts facts;
    risk_facts_compute(engine, customer, event, &facts);
    risk_features_of(event, &facts, decision->features);
    decision->score = engine->has_model ? mopay_risk_model_score(&engine->model, decision->features) : 0;
    uint32_t fired = rules_blocklists(engine, event) | rules_facts(&engine->config, &facts) |
                     rules_model(engine, decision->score);
    decision_from_rules(&engine->config, fired, decision);
    MOPAY_ASSERT(decision->score >= 0 && decision->score <= 1);
}
