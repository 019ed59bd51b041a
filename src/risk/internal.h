#ifndef MOPAY_RISK_INTERNAL_H
#define MOPAY_RISK_INTERNAL_H

/* The engine's state, shared by engine.c (state and commit), features.c and decide.c. */
#include <stdbool.h>
#include <stdint.h>

#include "mopay/index.h"
#include "mopay/risk.h"

/* What one customer's history is: fixed-size rings and sets, about 2 KiB. Floats hold
 * amounts in major units: 7 significant digits are plenty for statistics. */
struct risk_customer {
    int64_t outflow_ns[MOPAY_RISK_OUTFLOWS_KEPT];
    float outflow_major[MOPAY_RISK_OUTFLOWS_KEPT];
    uint32_t outflow_payee[MOPAY_RISK_OUTFLOWS_KEPT]; /* risk_tag_of the payee; 0: none */
    uint8_t outflow_kind[MOPAY_RISK_OUTFLOWS_KEPT];
    bool outflow_new_payee[MOPAY_RISK_OUTFLOWS_KEPT]; /* the payee was new when paid */
    uint32_t outflow_head; /* the next slot written */
    uint32_t outflow_count;

    uint64_t history_count; /* every outflow ever: Welford's n */
    double log_mean;        /* of log(1 + amount) */
    double log_m2;
    double amount_max_major;

    uint32_t payee_tag[MOPAY_RISK_PAYEES_KEPT];
    int64_t payee_seen_ns[MOPAY_RISK_PAYEES_KEPT];
    uint32_t payee_count;

    int64_t topup_ns[MOPAY_RISK_TOPUPS_KEPT];
    float topup_major[MOPAY_RISK_TOPUPS_KEPT];
    uint32_t topup_head, topup_count;

    int64_t inflow_ns[MOPAY_RISK_INFLOWS_KEPT];
    float inflow_major[MOPAY_RISK_INFLOWS_KEPT];
    uint32_t inflow_head, inflow_count;

    char country[MOPAY_RISK_COUNTRIES_KEPT][2];
    int64_t country_seen_ns[MOPAY_RISK_COUNTRIES_KEPT];
    uint32_t country_count;

    int64_t wrong_pin_ns[MOPAY_RISK_WRONG_PINS_KEPT];
    uint32_t wrong_pin_head, wrong_pin_count;

    int64_t device_revoked_ns;
    bool device_revoked;
};

/* Customer states come from chunks, so a new customer costs one malloc in RISK_CHUNK. */
#define RISK_CHUNK 1024

struct mopay_risk_engine {
    struct mopay_risk_config config;
    struct mopay_index customers; /* id -> struct risk_customer */
    struct mopay_index lists[MOPAY_RISK_LIST_COUNT];
    struct risk_customer **chunks;
    size_t chunk_count;
    size_t chunk_capacity;
    size_t customer_count;
    bool has_model;
    struct mopay_risk_model model;
};

/* The facts a decision rests on, before the features' transforms: rules read these. */
struct risk_facts {
    double amount_major;
    enum mopay_risk_kind kind;
    bool outflow;
    uint64_t history_count;
    double amount_z;
    double amount_over_max;
    double amount_max_major; /* the largest past outflow */
    uint32_t count_1m, count_1h, count_24h;
    double sum_1h, sum_24h;
    double withdrawn_1h;
    uint32_t payees_1h;
    uint32_t new_payees_1h; /* of payees_1h, those that were new when paid */
    uint32_t small_topups_1h;
    double p2p_in_1h;
    int64_t device_age_ns;
    bool signup_device; /* the device was added within config.signup_device_window_ns of sign-up */
    bool new_payee;
    bool cross_border;
    bool new_country;
    bool night;
    uint32_t wrong_pins_24h;
    bool device_revoked_7d;
    int64_t device_revoked_age_ns; /* INT64_MAX: none */
};

/* A payee's 32-bit tag (never 0); 0 for the all-zero key. */
uint32_t risk_tag_of(const uint8_t key[16]);
bool risk_key_is_zero(const uint8_t key[16]);
double risk_amount_major(const struct mopay_risk_event *event);
bool risk_is_outflow(enum mopay_risk_kind kind);

/* The facts of `event` for `customer` (NULL: a customer never seen). */
void risk_facts_compute(const struct mopay_risk_engine *engine, const struct risk_customer *customer,
                        const struct mopay_risk_event *event, struct risk_facts *facts);
/* Whether the event's payee is new to the customer (NULL: a customer never seen): not among
 * the payees kept, or last paid config.new_payee_window_ns ago or more. */
bool risk_payee_is_new(const struct mopay_risk_engine *engine, const struct risk_customer *customer,
                       const struct mopay_risk_event *event);
void risk_features_of(const struct mopay_risk_event *event, const struct risk_facts *facts,
                      double features[MOPAY_RISK_FEATURE_COUNT]);

#endif
