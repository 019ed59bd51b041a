/* The risk step: the engine (mopay/risk.h) wired into payments and the wallet's movements, and
 * the operator's endpoints: GET /v1/risk/reviews, POST /v1/risk/reviews/{payment_id},
 * POST /v1/risk/blocklist and POST /v1/risk/blocklist/remove; and --risk-rules.
 *
 * The engine's state is in memory and rebuilt as the server runs: after a restart its windows
 * start empty. Blocklists are in the journal, replayed at start. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/journal.h"
#include "mopay/log.h"
#include "mopay/text.h"

/* The device a customer pays with: its newest live one (a session's device is not carried to
 * the payment; a payment code or tap is that device anyway, and the customer's newest). */
static const struct mopay_device *customer_device(const struct mopay_customer *c)
{
    for (size_t i = c->device_count; i > 0; i--)
        if (c->devices[i - 1]->revoked_at_ns == 0)
            return c->devices[i - 1];
    return c->device_count > 0 ? c->devices[c->device_count - 1] : NULL;
}

static void event_base(const struct mopay_customer *c, const struct mopay_wallet *w, int64_t amount_minor,
                       int64_t now_ns, struct mopay_risk_event *e)
{
    memset(e, 0, sizeof(*e));
    e->time_ns = now_ns;
    memcpy(e->customer, c->id.bytes, 16);
    const struct mopay_device *d = customer_device(c);
    if (d != NULL) {
        memcpy(e->device, d->id.bytes, 16);
        e->device_created_ns = d->created_at_ns;
    }
    memcpy(e->phone, c->phone_fingerprint, 16);
    e->amount_minor = amount_minor;
    e->currency_exponent = w->currency->exponent;
    memcpy(e->customer_country, c->country, 3);
    e->kyc_tier = (uint8_t)c->kyc_tier;
    e->customer_created_ns = c->created_at_ns;
    bool known = false;
    e->utc_offset_min = (int16_t)mopay_risk_utc_offset_min(c->country, &known);
}

static void payment_event(const struct mopay_payment *x, int64_t now_ns, struct mopay_risk_event *e)
{
    event_base(x->customer, x->wallet, mopay_payment_wallet_amount(x), now_ns, e);
    e->kind = MOPAY_RISK_PAYMENT;
    memcpy(e->payee, x->merchant->id.bytes, 16);
    memcpy(e->payee_country, x->merchant->country, 3);
    e->mcc = (uint16_t)atoi(x->merchant->mcc);
}

static void verdict_of(const struct mopay_risk_decision *d, struct mopay_risk_verdict *out)
{
    out->action = d->action;
    out->score_ppm = (uint32_t)(d->score * 1000000.0 + 0.5);
    out->reason_count = d->reason_count;
    for (size_t i = 0; i < d->reason_count; i++)
        mopay_text_copy(out->reasons[i], sizeof(out->reasons[i]), d->reasons[i].code);
}

/* The model alone (model_high, no declining rule) declines only when the PIN itself is in doubt:
 * a wrong one entered in the last 24 hours. Otherwise it asks for the PIN, which the customer can
 * give and someone holding a stolen phone or payment code cannot; a model's score is a
 * probability, and refusing outright a customer who can prove who they are is the costlier
 * mistake. Rules that decline (blocklists, card testing) stand. */
static void model_asks_for_the_pin(struct mopay_risk_decision *d)
{
    if (d->action == MOPAY_RISK_DECLINE && d->reason_count > 0 && d->reasons[0].rule == MOPAY_RISK_RULE_MODEL_HIGH &&
        d->features[MOPAY_RISK_F_WRONG_PINS_24H] == 0)
        d->action = MOPAY_RISK_CONFIRM;
}

static void pay_score(void *ctx, const struct mopay_payment *x, int64_t now_ns, struct mopay_risk_verdict *out)
{
    struct mopay_api *api = ctx;
    struct mopay_risk_event e;
    payment_event(x, now_ns, &e);
    struct mopay_risk_decision d;
    mopay_risk_score(api->risk, &e, &d);
    model_asks_for_the_pin(&d);
    verdict_of(&d, out);
    if (d.action != MOPAY_RISK_APPROVE)
        MOPAY_LOG_INFO("risk flagged a payment", "action=%s score=%.4f reason=%s reasons=%zu",
                       mopay_risk_action_name(d.action), d.score, d.reason_count > 0 ? d.reasons[0].code : "-",
                       d.reason_count);
}

static void pay_commit(void *ctx, const struct mopay_payment *x, int64_t now_ns)
{
    struct mopay_api *api = ctx;
    struct mopay_risk_event e;
    payment_event(x, now_ns, &e);
    if (!mopay_risk_commit(api->risk, &e))
        MOPAY_LOG_WARN("risk state is full", "%s", "a customer's history was not kept");
}

static void move_event(const struct mopay_wallet_move *m, int64_t now_ns, struct mopay_risk_event *e)
{
    event_base(m->wallet->customer, m->wallet, m->amount_minor, now_ns, e);
    e->kind = (enum mopay_risk_kind)m->kind;
    if (m->counterparty != NULL) {
        memcpy(e->payee, m->counterparty->id.bytes, 16);
        memcpy(e->payee_country, m->counterparty->country, 3);
    }
    if (m->source != NULL) {
        if (m->kind == MOPAY_RISK_WITHDRAWAL)
            memcpy(e->payee, m->source->id.bytes, 16);
        if (m->source->type == MOPAY_SOURCE_CARD)
            memcpy(e->card, m->source->fingerprint, 16);
        e->funding_created_ns = m->source->created_at_ns;
        memcpy(e->payee_country, m->wallet->customer->country, 3);
    }
}

/* A decline refuses the movement; a confirm refuses a P2P transfer or withdrawal sent without the
 * PIN (confirmation_required: the app asks for it and sends the request again with it). A top-up
 * brings money in and has no PIN step-up: a confirm lets it through, and only its rules (a
 * blocklisted card, card testing) decline one. The model's high score on a top-up asks for no
 * more than a confirmation: a stolen card's first top-up looks much like a new customer's, and
 * refusing a new customer's first money in is the costliest false positive there is. */
static enum mopay_err move_allow(void *ctx, const struct mopay_wallet_move *m, int64_t now_ns)
{
    struct mopay_api *api = ctx;
    struct mopay_risk_event e;
    move_event(m, now_ns, &e);
    struct mopay_risk_decision d;
    mopay_risk_score(api->risk, &e, &d);
    model_asks_for_the_pin(&d);
    if (m->kind == MOPAY_RISK_TOPUP && d.action == MOPAY_RISK_DECLINE && d.reason_count > 0 &&
        d.reasons[0].rule == MOPAY_RISK_RULE_MODEL_HIGH)
        d.action = MOPAY_RISK_CONFIRM;
    if (d.action != MOPAY_RISK_APPROVE)
        MOPAY_LOG_INFO("risk flagged a movement", "kind=%d action=%s score=%.4f reason=%s reasons=%zu", m->kind,
                       mopay_risk_action_name(d.action), d.score, d.reason_count > 0 ? d.reasons[0].code : "-",
                       d.reason_count);
    if (d.action == MOPAY_RISK_DECLINE)
        return MOPAY_ERR_risk_declined;
    if (d.action == MOPAY_RISK_CONFIRM && m->kind != MOPAY_RISK_TOPUP && !m->pin_verified)
        return MOPAY_ERR_confirmation_required;
    return MOPAY_OK;
}

static void move_commit(void *ctx, const struct mopay_wallet_move *m, int64_t now_ns)
{
    struct mopay_api *api = ctx;
    struct mopay_risk_event e;
    move_event(m, now_ns, &e);
    if (!mopay_risk_commit(api->risk, &e))
        MOPAY_LOG_WARN("risk state is full", "%s", "a customer's history was not kept");
}

static void wrong_pin(void *ctx, const struct mopay_customer *c, int64_t now_ns)
{
    struct mopay_api *api = ctx;
    mopay_risk_note_wrong_pin(api->risk, c->id.bytes, now_ns);
}

static void device_revoked(void *ctx, const struct mopay_customer *c, int64_t now_ns)
{
    struct mopay_api *api = ctx;
    mopay_risk_note_device_revoked(api->risk, c->id.bytes, now_ns);
}

/* --- blocklists, kept in the journal (mopay_risk_block_kind) --- */

static const char *const list_names[MOPAY_RISK_LIST_COUNT] = {"device", "phone", "card", "merchant"};

static bool list_parse(const char *name, size_t len, enum mopay_risk_list *out)
{
    for (int i = 0; i < MOPAY_RISK_LIST_COUNT; i++)
        if (strlen(list_names[i]) == len && memcmp(list_names[i], name, len) == 0) {
            *out = (enum mopay_risk_list)i;
            return true;
        }
    return false;
}

/* --- --risk-rules: thresholds and actions over the defaults --- */

enum rule_unit { UNIT_COUNT, UNIT_MAJOR, UNIT_RATIO, UNIT_HOURS, UNIT_DAYS };

static const struct rule_knob {
    const char *name;
    enum rule_unit unit;
    size_t offset;
} rule_knobs[] = {
    {"velocity_1m_max", UNIT_COUNT, offsetof(struct mopay_risk_config, velocity_1m_max)},
    {"velocity_1h_max", UNIT_COUNT, offsetof(struct mopay_risk_config, velocity_1h_max)},
    {"amount_24h_max", UNIT_MAJOR, offsetof(struct mopay_risk_config, amount_24h_major_max)},
    {"amount_unusual_z", UNIT_RATIO, offsetof(struct mopay_risk_config, amount_unusual_z)},
    {"amount_unusual_multiple", UNIT_RATIO, offsetof(struct mopay_risk_config, amount_unusual_max_multiple)},
    {"amount_unusual_history", UNIT_COUNT, offsetof(struct mopay_risk_config, amount_unusual_history_min)},
    {"new_device_hours", UNIT_HOURS, offsetof(struct mopay_risk_config, new_device_age_ns)},
    {"new_device_amount", UNIT_MAJOR, offsetof(struct mopay_risk_config, new_device_amount_major)},
    {"signup_device_hours", UNIT_HOURS, offsetof(struct mopay_risk_config, signup_device_window_ns)},
    {"night_abroad_amount", UNIT_MAJOR, offsetof(struct mopay_risk_config, night_abroad_amount_major)},
    {"wrong_pins_max", UNIT_COUNT, offsetof(struct mopay_risk_config, wrong_pins_max)},
    {"device_revoked_hours", UNIT_HOURS, offsetof(struct mopay_risk_config, device_revoked_window_ns)},
    {"small_topup", UNIT_MAJOR, offsetof(struct mopay_risk_config, small_topup_major)},
    {"small_topups_max", UNIT_COUNT, offsetof(struct mopay_risk_config, small_topups_max)},
    {"fan_out_payees_max", UNIT_COUNT, offsetof(struct mopay_risk_config, fan_out_payees_max)},
    {"new_payee_days", UNIT_DAYS, offsetof(struct mopay_risk_config, new_payee_window_ns)},
};

static const char *const rule_codes[MOPAY_RISK_RULE_COUNT] = {
#define RULE_CODE(name, code, action, text) code,
    MOPAY_RISK_RULES(RULE_CODE)
#undef RULE_CODE
};

/* A knob's value: a whole number from 1 (counts, hours, days; up to a year of hours or days) or a
 * positive decimal (amounts in major units, ratios), written plainly. */
static bool knob_set(const struct rule_knob *k, const char *value, struct mopay_risk_config *c)
{
    char *end = NULL;
    if (value[0] < '0' || value[0] > '9')
        return false;
    if (k->unit == UNIT_MAJOR || k->unit == UNIT_RATIO) {
        double v = strtod(value, &end);
        if (*end != '\0' || !(v > 0) || v > 1e12)
            return false;
        *(double *)((char *)c + k->offset) = v;
        return true;
    }
    unsigned long long v = strtoull(value, &end, 10);
    if (*end != '\0' || v == 0 || v > 1000000)
        return false;
    if (k->unit == UNIT_COUNT)
        *(uint32_t *)((char *)c + k->offset) = (uint32_t)v;
    else if (v > 366 * (k->unit == UNIT_HOURS ? 24u : 1u))
        return false;
    else
        *(int64_t *)((char *)c + k->offset) =
            (int64_t)v * (k->unit == UNIT_HOURS ? MOPAY_RISK_HOUR_NS : MOPAY_RISK_DAY_NS);
    return true;
}

static bool action_parse(const char *value, enum mopay_risk_action *out)
{
    for (int a = MOPAY_RISK_APPROVE; a <= MOPAY_RISK_DECLINE; a++)
        if (strcmp(value, mopay_risk_action_name((enum mopay_risk_action)a)) == 0) {
            *out = (enum mopay_risk_action)a;
            return true;
        }
    return false;
}

bool api_risk_rules_parse(const char *text, struct mopay_risk_config *config, char *err, size_t err_cap)
{
    char buf[1024];
    if (strlen(text) >= sizeof(buf)) {
        snprintf(err, err_cap, "risk rules: longer than %zu characters", sizeof(buf) - 1);
        return false;
    }
    memcpy(buf, text, strlen(text) + 1);
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (eq == NULL) {
            snprintf(err, err_cap, "risk rules: '%s' is not name=value", item);
            return false;
        }
        *eq = '\0';
        const char *name = item, *value = eq + 1;
        bool known = false, ok = false;
        for (size_t i = 0; i < sizeof(rule_knobs) / sizeof(rule_knobs[0]) && !known; i++)
            if (strcmp(name, rule_knobs[i].name) == 0)
                known = true, ok = knob_set(&rule_knobs[i], value, config);
        for (int r = 0; r < MOPAY_RISK_RULE_COUNT && !known; r++)
            if (strcmp(name, rule_codes[r]) == 0)
                known = true, ok = action_parse(value, &config->rule_actions[r]);
        if (!known) {
            snprintf(err, err_cap, "risk rules: no threshold or rule is called '%s'", name);
            return false;
        }
        if (!ok) {
            snprintf(err, err_cap, "risk rules: '%s' cannot be '%s' (a rule takes approve, confirm or decline; a "
                                   "count, hours or days a whole number from 1; an amount or ratio a positive number)",
                     name, value);
            return false;
        }
    }
    return true;
}

/* Blocklist entries written before the journal: "riskblock" records keyed "<list>:<hex key>", read
 * after the journal's replay and then moved into it with every other kind's. */
static bool load_block(void *ctx, const char *id, const char *json, size_t len)
{
    (void)json, (void)len;
    struct mopay_api *api = ctx;
    const char *colon = strchr(id, ':');
    enum mopay_risk_list list;
    uint8_t key[16];
    return colon != NULL && list_parse(id, (size_t)(colon - id), &list) && mopay_hex_decode(colon + 1, key, 16) &&
           mopay_risk_block(api->risk, list, key);
}

bool api_risk_load(struct mopay_api *api, struct mopay_store *store, char *err, size_t err_cap)
{
    if (store->records_load(store, mopay_risk_block_kind.name, load_block, api) != MOPAY_OK) {
        snprintf(err, err_cap, "loading blocklists: %s", store->last_error);
        return false;
    }
    return true;
}

/* The engine, its model when the file is there, and the hooks; the blocklists come back from the
 * journal, whose replay follows. */
bool api_risk_start(struct mopay_api *api, const struct mopay_api_options *options, char *err, size_t err_cap)
{
    struct mopay_risk_config config;
    mopay_risk_config_default(&config);
    if (options->risk_rules != NULL && !api_risk_rules_parse(options->risk_rules, &config, err, err_cap))
        return false;
    if ((api->risk = mopay_risk_engine_new(&config, 1024)) == NULL) {
        snprintf(err, err_cap, "out of memory");
        return false;
    }
    struct mopay_risk_model model;
    char why[256];
    const char *path = options->risk_model != NULL ? options->risk_model : "";
    if (path[0] != '\0' && mopay_risk_model_load(&model, path, why, sizeof(why)))
        mopay_risk_engine_set_model(api->risk, &model);
    else if (options->risk)
        MOPAY_LOG_WARN("no risk model: rules and blocklists only", "path=\"%s\" reason=\"%s\"", path,
                       path[0] != '\0' ? why : "none configured");
    mopay_journal_register(api->journal, &mopay_risk_block_kind, api->risk);
    if (options->risk) {
        struct mopay_wallet_risk hooks = {.allow = move_allow, .commit = move_commit, .wrong_pin = wrong_pin,
                                          .device_revoked = device_revoked, .ctx = api};
        mopay_wallet_set_risk(api->wallet, &hooks);
    }
    return true;
}

struct mopay_pay_risk api_pay_risk(struct mopay_api *api, bool on)
{
    return on ? (struct mopay_pay_risk){.score = pay_score, .commit = pay_commit, .ctx = api}
              : (struct mopay_pay_risk){.score = NULL};
}

/* --- endpoints --- */

static json_t *review_json(const struct mopay_payment *x)
{
    static const char *const labels[] = {"none", "open", "fraud", "legitimate"};
    json_t *reasons = json_array();
    for (size_t i = 0; i < x->risk.reason_count; i++)
        json_array_append_new(reasons, json_string(x->risk.reasons[i]));
    char score[16];
    snprintf(score, sizeof(score), "%u.%06u", x->risk.score_ppm / 1000000, x->risk.score_ppm % 1000000);
    return json_pack("{s:o, s:s, s:s, s:o, s:s}", "payment", api_payment_json(x), "action",
                     mopay_risk_action_name(x->risk.action), "score", score, "reasons", reasons, "review",
                     labels[x->review]);
}

struct review_cmd {
    struct mopay_http_command base;
    bool label;
    struct mopay_id id;
    struct mopay_str label_text;
    size_t limit;
    struct mopay_payment *payment;
    json_t *list;
};

static enum mopay_err review_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    struct review_cmd *c = (struct review_cmd *)cmd;
    struct mopay_api *api = cmd->app;
    if (!c->label) {
        struct mopay_payment *found[100];
        size_t n = mopay_pay_reviews(api->pay, found, c->limit);
        c->list = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(c->list, review_json(found[i]));
        return MOPAY_OK;
    }
    c->payment = mopay_pay_payment(api->pay, &c->id);
    if (c->payment == NULL)
        return MOPAY_ERR_resource_not_found;
    return mopay_pay_review(api->pay, store, now_ns, c->payment, strcmp(c->label_text.ptr, "fraud") == 0);
}

static json_t *review_render(struct mopay_http_command *cmd, int *status)
{
    struct review_cmd *c = (struct review_cmd *)cmd;
    *status = 200;
    return c->label ? review_json(c->payment) : json_pack("{s:o, s:n}", "data", c->list, "next_cursor");
}

void api_risk_reviews_list(struct mopay_http_request *req)
{
    struct review_cmd *c = mopay_http_command_new(req, sizeof(*c), review_apply, review_render);
    if (c == NULL)
        api_reply_oom(req);
    else if (api_limit_read(req, &c->limit))
        mopay_http_submit(req, &c->base);
}

const struct mopay_json_field api_review_label_fields[] = {
    {.name = "label", .kind = MOPAY_JSON_STRING, .required = true, .offset = offsetof(struct review_cmd, label_text),
     .min_len = 1, .max_len = 16},
    {0},
};

void api_risk_review_label(struct mopay_http_request *req)
{
    struct review_cmd *c = mopay_http_command_new(req, sizeof(*c), review_apply, review_render);
    if (c == NULL) {
        api_reply_oom(req);
        return;
    }
    c->label = true;
    if (!api_path_id(req, 0, MOPAY_ID_PAYMENT, &c->id) ||
        !mopay_http_json_read(req, mopay_http_body(req), api_review_label_fields, c))
        return;
    if (strcmp(c->label_text.ptr, "fraud") != 0 && strcmp(c->label_text.ptr, "legitimate") != 0) {
        mopay_http_reply_error(req, MOPAY_ERR_field_invalid, "/label", "fraud or legitimate");
        return;
    }
    mopay_http_submit(req, &c->base);
}

struct block_cmd {
    struct mopay_http_command base;
    bool remove;
    struct mopay_str list_text, value;
    enum mopay_risk_list list;
    uint8_t key[16];
};

static enum mopay_err block_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    struct block_cmd *c = (struct block_cmd *)cmd;
    struct mopay_api *api = cmd->app;
    (void)store; /* the entry goes to the journal */
    struct mopay_risk_block_entry entry = {.list = (uint8_t)c->list};
    memcpy(entry.key, c->key, sizeof(entry.key));
    if (c->remove) /* taking off what is not there changes nothing, and writes nothing */
        return mopay_risk_unblock(api->risk, c->list, c->key)
                   ? mopay_journal_remove(api->journal, &mopay_risk_block_kind, &entry, now_ns)
                   : MOPAY_OK;
    if (!mopay_risk_block(api->risk, c->list, c->key))
        return MOPAY_ERR_overloaded;
    return mopay_journal_put(api->journal, &mopay_risk_block_kind, &entry, now_ns);
}

static json_t *block_render(struct mopay_http_command *cmd, int *status)
{
    struct block_cmd *c = (struct block_cmd *)cmd;
    *status = 200;
    char hex[33];
    sodium_bin2hex(hex, sizeof(hex), c->key, 16);
    return json_pack("{s:s, s:s, s:b}", "list", list_names[c->list], "key", hex, "blocked", !c->remove);
}

/* The value as the list's key: ids by their bytes, phones and cards by their fingerprints. */
static bool block_key(struct mopay_http_request *req, struct block_cmd *c)
{
    struct mopay_api *api = mopay_http_app(req);
    struct mopay_id id;
    char text[MOPAY_CARD_DIGITS_BYTES > MOPAY_PHONE_BYTES ? MOPAY_CARD_DIGITS_BYTES : MOPAY_PHONE_BYTES];
    enum mopay_card_brand brand;
    bool ok = false;
    switch (c->list) {
    case MOPAY_RISK_LIST_DEVICE:
    case MOPAY_RISK_LIST_MERCHANT:
        ok = mopay_id_parse(c->list == MOPAY_RISK_LIST_DEVICE ? MOPAY_ID_DEVICE : MOPAY_ID_MERCHANT, c->value.ptr,
                            c->value.len, &id) == MOPAY_OK;
        if (ok)
            memcpy(c->key, id.bytes, 16);
        return ok ? true : (mopay_http_reply_error(req, MOPAY_ERR_field_invalid, "/value", "a dev_ or mch_ id"), false);
    case MOPAY_RISK_LIST_PHONE:
        ok = mopay_phone_parse(c->value.ptr, c->value.len, text) == MOPAY_OK;
        break;
    default:
        ok = mopay_card_parse(c->value.ptr, c->value.len, text, &brand) == MOPAY_OK;
        break;
    }
    if (!ok) {
        mopay_http_reply_error(req, MOPAY_ERR_field_invalid, "/value", "an E.164 phone number, or a card number");
        return false;
    }
    mopay_wallet_fingerprint(api->keys, text, c->key);
    sodium_memzero(text, sizeof(text));
    return true;
}

const struct mopay_json_field api_block_fields[] = {
    {.name = "list", .kind = MOPAY_JSON_STRING, .required = true, .offset = offsetof(struct block_cmd, list_text),
     .min_len = 1, .max_len = 16},
    {.name = "value", .kind = MOPAY_JSON_STRING, .required = true, .offset = offsetof(struct block_cmd, value),
     .min_len = 1, .max_len = 64},
    {0},
};

static void blocklist(struct mopay_http_request *req, bool remove)
{
    struct block_cmd *c = mopay_http_command_new(req, sizeof(*c), block_apply, block_render);
    if (c == NULL) {
        api_reply_oom(req);
        return;
    }
    c->remove = remove;
    if (!mopay_http_json_read(req, mopay_http_body(req), api_block_fields, c))
        return;
    if (!list_parse(c->list_text.ptr, c->list_text.len, &c->list)) {
        mopay_http_reply_error(req, MOPAY_ERR_field_invalid, "/list", "device, phone, card or merchant");
        return;
    }
    if (block_key(req, c))
        mopay_http_submit(req, &c->base);
}

void api_risk_block(struct mopay_http_request *req)
{
    blocklist(req, false);
}

void api_risk_unblock(struct mopay_http_request *req)
{
    blocklist(req, true);
}

/* --- GET /v1/risk/guessing: terminals throttled for wrong payment codes or cryptograms --- */

struct guessing_cmd {
    struct mopay_http_command base;
    size_t limit;
    json_t *list;
};

static json_t *guess_alert_json(struct mopay_api *api, const struct mopay_risk_guess_alert *a)
{
    struct mopay_id id;
    memcpy(id.bytes, a->merchant, sizeof(id.bytes));
    const struct mopay_merchant *m = mopay_merchant_get(api->merchant, &id);
    static const char *const kinds[] = {"payment_code", "nfc"};
    return json_pack("{s:o, s:s?, s:o, s:s, s:I, s:o, s:o}", "merchant_id", api_id_json(MOPAY_ID_MERCHANT, &id),
                     "merchant_name", m != NULL ? m->name : NULL, "terminal_id",
                     a->terminal[0] != '\0' ? json_string(a->terminal) : json_null(), "instrument", kinds[a->kind],
                     "refused", (json_int_t)a->refused, "throttled_at", api_time_json(a->first_throttled_ns),
                     "last_refused_at", api_time_json(a->last_throttled_ns));
}

static enum mopay_err guessing_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    (void)store;
    (void)now_ns;
    struct guessing_cmd *c = (struct guessing_cmd *)cmd;
    struct mopay_api *api = cmd->app;
    struct mopay_risk_guess_alert found[100];
    size_t n = mopay_risk_guessing_alerts(mopay_pay_guessing(api->pay), found, c->limit < 100 ? c->limit : 100);
    c->list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(c->list, guess_alert_json(api, &found[i]));
    return MOPAY_OK;
}

static json_t *guessing_render(struct mopay_http_command *cmd, int *status)
{
    struct guessing_cmd *c = (struct guessing_cmd *)cmd;
    *status = 200;
    return json_pack("{s:o, s:n}", "data", c->list, "next_cursor");
}

void api_risk_guessing_list(struct mopay_http_request *req)
{
    struct guessing_cmd *c = mopay_http_command_new(req, sizeof(*c), guessing_apply, guessing_render);
    if (c == NULL)
        api_reply_oom(req);
    else if (api_limit_read(req, &c->limit))
        mopay_http_submit(req, &c->base);
}
