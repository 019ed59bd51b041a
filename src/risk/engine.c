/* The risk engine's state: customers, blocklists, the model, and commit, which is the only
 * writer of a customer's history. Allocation happens here only, when a customer is first seen. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"

/* Blocklists map a key to this marker: the index needs a non-NULL value. */
static char blocked_marker;

void mopay_risk_config_default(struct mopay_risk_config *config)
{
    MOPAY_ASSERT(config != NULL);
    memset(config, 0, sizeof(*config));
#define RULE_DEFAULT(name, code, action, text) config->rule_actions[MOPAY_RISK_RULE_##name] = MOPAY_RISK_##action;
    MOPAY_RISK_RULES(RULE_DEFAULT)
#undef RULE_DEFAULT
    config->velocity_1m_max = 5;
    config->velocity_1h_max = 20;
    config->amount_24h_major_max = 10000;
    config->amount_unusual_z = 4.0;
    config->amount_unusual_max_multiple = 5.0;
    config->amount_unusual_history_min = 10;
    config->new_device_age_ns = MOPAY_RISK_DAY_NS;
    config->new_device_amount_major = 300;
    config->signup_device_window_ns = MOPAY_RISK_HOUR_NS;
    config->night_abroad_amount_major = 100;
    config->wrong_pins_max = 3;
    config->device_revoked_window_ns = MOPAY_RISK_DAY_NS;
    config->small_topup_major = 10;
    config->small_topups_max = 4;
    config->fan_out_payees_max = 4;
    config->new_payee_window_ns = 30 * MOPAY_RISK_DAY_NS;
    config->customers_max = MOPAY_RISK_CUSTOMERS_MAX_DEFAULT;
}

struct mopay_risk_engine *mopay_risk_engine_new(const struct mopay_risk_config *config, size_t customers_expected)
{
    MOPAY_ASSERT(config != NULL);
    MOPAY_ASSERT(config->customers_max > 0);
    struct mopay_risk_engine *engine = calloc(1, sizeof(*engine));
    if (engine == NULL)
        return NULL;
    engine->config = *config;
    size_t lists_ready = 0;
    if (!mopay_index_init(&engine->customers, customers_expected))
        goto fail;
    for (; lists_ready < MOPAY_RISK_LIST_COUNT; lists_ready++)
        if (!mopay_index_init(&engine->lists[lists_ready], 0))
            goto fail_lists;
    return engine;
fail_lists:
    for (size_t i = 0; i < lists_ready; i++)
        mopay_index_deinit(&engine->lists[i]);
    mopay_index_deinit(&engine->customers);
fail:
    free(engine);
    return NULL;
}

void mopay_risk_engine_free(struct mopay_risk_engine *engine)
{
    if (engine == NULL)
        return;
    for (size_t i = 0; i < engine->chunk_count; i++)
        free(engine->chunks[i]);
    free(engine->chunks);
    for (size_t i = 0; i < MOPAY_RISK_LIST_COUNT; i++)
        mopay_index_deinit(&engine->lists[i]);
    mopay_index_deinit(&engine->customers);
    free(engine);
}

void mopay_risk_engine_set_model(struct mopay_risk_engine *engine, const struct mopay_risk_model *model)
{
    MOPAY_ASSERT(engine != NULL);
    engine->has_model = model != NULL;
    if (model == NULL)
        return;
    MOPAY_ASSERT(mopay_risk_model_valid(model));
    engine->model = *model;
}

size_t mopay_risk_engine_customers(const struct mopay_risk_engine *engine)
{
    MOPAY_ASSERT(engine != NULL);
    return engine->customer_count;
}

bool mopay_risk_block(struct mopay_risk_engine *engine, enum mopay_risk_list list, const uint8_t key[16])
{
    MOPAY_ASSERT(engine != NULL && key != NULL);
    MOPAY_ASSERT((unsigned)list < MOPAY_RISK_LIST_COUNT);
    return mopay_index_put(&engine->lists[list], key, &blocked_marker);
}

bool mopay_risk_unblock(struct mopay_risk_engine *engine, enum mopay_risk_list list, const uint8_t key[16])
{
    MOPAY_ASSERT(engine != NULL && key != NULL);
    MOPAY_ASSERT((unsigned)list < MOPAY_RISK_LIST_COUNT);
    return mopay_index_remove(&engine->lists[list], key) != NULL;
}

void mopay_risk_block_each(const struct mopay_risk_engine *engine,
                           bool (*fn)(void *ctx, enum mopay_risk_list list, const uint8_t key[16]), void *ctx)
{
    MOPAY_ASSERT(engine != NULL && fn != NULL);
    for (int l = 0; l < MOPAY_RISK_LIST_COUNT; l++) {
        const struct mopay_index *ix = &engine->lists[l];
        for (size_t i = 0; i < ix->capacity; i++)
            if (ix->slots[i].value != NULL && !fn(ctx, (enum mopay_risk_list)l, ix->slots[i].key))
                return;
    }
}

/* A fresh state from the current chunk, a new chunk when it is used up; NULL when out of memory
 * or at customers_max. Nothing changes on failure. */
static struct risk_customer *customer_alloc(struct mopay_risk_engine *engine)
{
    if (engine->customer_count >= engine->config.customers_max)
        return NULL;
    size_t chunk = engine->customer_count / RISK_CHUNK;
    if (chunk == engine->chunk_count) {
        if (engine->chunk_count == engine->chunk_capacity) {
            size_t capacity = engine->chunk_capacity ? engine->chunk_capacity * 2 : 16;
            struct risk_customer **chunks = realloc(engine->chunks, capacity * sizeof(*chunks));
            if (chunks == NULL)
                return NULL;
            engine->chunks = chunks;
            engine->chunk_capacity = capacity;
        }
        engine->chunks[chunk] = calloc(RISK_CHUNK, sizeof(struct risk_customer));
        if (engine->chunks[chunk] == NULL)
            return NULL;
        engine->chunk_count++;
    }
    MOPAY_ASSERT(chunk < engine->chunk_count);
    return &engine->chunks[chunk][engine->customer_count % RISK_CHUNK];
}

/* The customer's state, made on first sight; NULL when that failed (nothing changed). */
static struct risk_customer *customer_get_or_add(struct mopay_risk_engine *engine, const uint8_t id[16])
{
    struct risk_customer *customer = mopay_index_get(&engine->customers, id);
    if (customer != NULL)
        return customer;
    customer = customer_alloc(engine);
    if (customer == NULL || !mopay_index_put(&engine->customers, id, customer))
        return NULL; /* a state taken from a chunk but not counted is reused by the next try */
    engine->customer_count++;
    return customer;
}

/* The slot a ring of `capacity` writes next, advancing it. */
static uint32_t ring_push(uint32_t *head, uint32_t *count, uint32_t capacity)
{
    uint32_t slot = *head;
    *head = (slot + 1) % capacity;
    if (*count < capacity)
        (*count)++;
    return slot;
}

/* Welford's running mean and variance of log(1 + amount), and the largest amount. */
static void history_learn(struct risk_customer *customer, double amount_major)
{
    double x = log1p(amount_major);
    customer->history_count++;
    double delta = x - customer->log_mean;
    customer->log_mean += delta / (double)customer->history_count;
    customer->log_m2 += delta * (x - customer->log_mean);
    if (amount_major > customer->amount_max_major)
        customer->amount_max_major = amount_major;
}

/* Remembers that `tag` was paid at time_ns: refreshes it, or takes a free slot, or replaces the
 * payee paid longest ago. */
static void payees_learn(struct risk_customer *customer, uint32_t tag, int64_t time_ns)
{
    uint32_t oldest = 0;
    for (uint32_t i = 0; i < customer->payee_count; i++) {
        if (customer->payee_tag[i] == tag) {
            if (time_ns > customer->payee_seen_ns[i])
                customer->payee_seen_ns[i] = time_ns;
            return;
        }
        if (customer->payee_seen_ns[i] < customer->payee_seen_ns[oldest])
            oldest = i;
    }
    uint32_t slot = customer->payee_count < MOPAY_RISK_PAYEES_KEPT ? customer->payee_count++ : oldest;
    customer->payee_tag[slot] = tag;
    customer->payee_seen_ns[slot] = time_ns;
}

/* Remembers the payee's country like a payee (payees_learn), in a smaller set. */
static void countries_learn(struct risk_customer *customer, const char country[2], int64_t time_ns)
{
    uint32_t oldest = 0;
    for (uint32_t i = 0; i < customer->country_count; i++) {
        if (memcmp(customer->country[i], country, 2) == 0) {
            if (time_ns > customer->country_seen_ns[i])
                customer->country_seen_ns[i] = time_ns;
            return;
        }
        if (customer->country_seen_ns[i] < customer->country_seen_ns[oldest])
            oldest = i;
    }
    uint32_t slot = customer->country_count < MOPAY_RISK_COUNTRIES_KEPT ? customer->country_count++ : oldest;
    memcpy(customer->country[slot], country, 2);
    customer->country_seen_ns[slot] = time_ns;
}

static void outflow_learn(const struct mopay_risk_engine *engine, struct risk_customer *customer,
                          const struct mopay_risk_event *event, double amount_major)
{
    uint32_t tag = risk_tag_of(event->payee);
    bool was_new = risk_payee_is_new(engine, customer, event);
    uint32_t slot = ring_push(&customer->outflow_head, &customer->outflow_count, MOPAY_RISK_OUTFLOWS_KEPT);
    customer->outflow_ns[slot] = event->time_ns;
    customer->outflow_major[slot] = (float)amount_major;
    customer->outflow_payee[slot] = tag;
    customer->outflow_kind[slot] = (uint8_t)event->kind;
    customer->outflow_new_payee[slot] = was_new;
    history_learn(customer, amount_major);
    if (tag != 0)
        payees_learn(customer, tag, event->time_ns);
    if (event->payee_country[0] != '\0')
        countries_learn(customer, event->payee_country, event->time_ns);
}

static void topup_learn(struct risk_customer *customer, const struct mopay_risk_event *event, double amount_major)
{
    uint32_t slot = ring_push(&customer->topup_head, &customer->topup_count, MOPAY_RISK_TOPUPS_KEPT);
    customer->topup_ns[slot] = event->time_ns;
    customer->topup_major[slot] = (float)amount_major;
}

static void inflow_learn(struct risk_customer *receiver, const struct mopay_risk_event *event, double amount_major)
{
    uint32_t slot = ring_push(&receiver->inflow_head, &receiver->inflow_count, MOPAY_RISK_INFLOWS_KEPT);
    receiver->inflow_ns[slot] = event->time_ns;
    receiver->inflow_major[slot] = (float)amount_major;
}

bool mopay_risk_commit(struct mopay_risk_engine *engine, const struct mopay_risk_event *event)
{
    MOPAY_ASSERT(engine != NULL && event != NULL);
    MOPAY_ASSERT((unsigned)event->kind < MOPAY_RISK_KIND_COUNT);
    MOPAY_ASSERT(event->amount_minor > 0);
    double amount_major = risk_amount_major(event);
    struct risk_customer *customer = customer_get_or_add(engine, event->customer);
    if (customer == NULL)
        return false;
    struct risk_customer *receiver = NULL;
    if (event->kind == MOPAY_RISK_P2P_OUT && !risk_key_is_zero(event->payee)) {
        receiver = customer_get_or_add(engine, event->payee);
        if (receiver == NULL)
            return false; /* the payer's state may be new, but it is still empty */
    }
    if (risk_is_outflow(event->kind))
        outflow_learn(engine, customer, event, amount_major);
    else
        topup_learn(customer, event, amount_major);
    if (receiver != NULL)
        inflow_learn(receiver, event, amount_major);
    return true;
}

bool mopay_risk_note_wrong_pin(struct mopay_risk_engine *engine, const uint8_t customer_id[16], int64_t time_ns)
{
    MOPAY_ASSERT(engine != NULL && customer_id != NULL);
    struct risk_customer *customer = customer_get_or_add(engine, customer_id);
    if (customer == NULL)
        return false;
    uint32_t slot = ring_push(&customer->wrong_pin_head, &customer->wrong_pin_count, MOPAY_RISK_WRONG_PINS_KEPT);
    customer->wrong_pin_ns[slot] = time_ns;
    return true;
}

bool mopay_risk_note_device_revoked(struct mopay_risk_engine *engine, const uint8_t customer_id[16], int64_t time_ns)
{
    MOPAY_ASSERT(engine != NULL && customer_id != NULL);
    struct risk_customer *customer = customer_get_or_add(engine, customer_id);
    if (customer == NULL)
        return false;
    if (!customer->device_revoked || time_ns > customer->device_revoked_ns)
        customer->device_revoked_ns = time_ns;
    customer->device_revoked = true;
    return true;
}
