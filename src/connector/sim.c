/* The simulated bank and card network (see connector.h and docs/connector.md). Its answers
 * depend on the request alone; its one piece of state is the ring of late answers it owes,
 * allocated once by mopay_connector_sim_new. */

#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mopay/assert.h"
#include "mopay/connector.h"
#include "mopay/validate.h"
#include "mopay/limits.h"
#include "mopay/money.h"

#define SIM_NS_PER_S 1000000000LL

/* Card numbers (PANs) that networks issue: ISO/IEC 7812 allows 8 to 19 digits, cards in use have
 * at least 12. */
#define SIM_CARD_DIGITS_MIN 12
#define SIM_CARD_DIGITS_MAX 19

/* The decline code that makes a request pend: the network answers it only later. */
static const char sim_timeout[] = "timeout";

/* A card number, or the last four digits of a bank account, that the network does not simply
 * approve; a NULL code approves. */
struct sim_rule {
    const char *number;
    const char *charge_decline;
    const char *payout_decline;
};

static const struct sim_rule sim_card_rules[] = {
    /* A payout adds money to the card: there is nothing to be short of. */
    {"4000000000009995", "insufficient_funds", NULL},
    {"4000000000009979", "stolen_card", "stolen_card"},
    {"4000000000000119", sim_timeout, sim_timeout},
};

static const struct sim_rule sim_account_rules[] = {
    {"0002", "account_closed", "account_closed"},
    {"0119", sim_timeout, sim_timeout},
};

struct sim_late {
    int64_t due_ns;
    struct mopay_connector_late late;
};

struct sim {
    struct mopay_connector base; /* first: a struct mopay_connector * is a struct sim * */
    int64_t callback_delay_ns;
    size_t capacity; /* pending_max */
    size_t head;     /* the oldest late answer */
    size_t count;
    /* capacity slots in submission order. poll takes answers from the head only, so one never
     * overtakes an earlier one, even when the clock stepped back between the two submits. */
    struct sim_late ring[];
};

static struct sim *sim_of(struct mopay_connector *connector)
{
    MOPAY_ASSERT(connector != NULL);
    struct sim *sim = (struct sim *)connector;
    MOPAY_ASSERT(sim->count <= sim->capacity && sim->head < sim->capacity);
    return sim;
}

/* The caller's promises (connector.h): breaking one is a bug in mopay, not a network answer. */
static void sim_request_check(const struct mopay_connector_request *request)
{
    MOPAY_ASSERT(request != NULL);
    MOPAY_ASSERT(request->op == MOPAY_CONNECTOR_CHARGE || request->op == MOPAY_CONNECTOR_PAYOUT);
    MOPAY_ASSERT(memchr(request->reference, '\0', sizeof request->reference) != NULL);
    MOPAY_ASSERT(request->reference[0] != '\0');
    MOPAY_ASSERT((request->card_number == NULL) != (request->bank_account == NULL));
    MOPAY_ASSERT(request->amount_minor > 0);
    MOPAY_ASSERT(request->currency != NULL);
    MOPAY_ASSERT(mopay_currency_by_alpha(request->currency, strnlen(request->currency, 4)) != NULL);
}

/* 12 to 19 digits with a correct Luhn check digit: what a network accepts as a card number.
 * Anything else (separators included) is not one. */
static bool sim_card_valid(const char *number)
{
    size_t len = strnlen(number, SIM_CARD_DIGITS_MAX + 1);
    return len >= SIM_CARD_DIGITS_MIN && len <= SIM_CARD_DIGITS_MAX && mopay_luhn_valid(number, len);
}

/* The last four digits of an account number or IBAN, skipping spaces and letters, so that
 * "GB29 NWBK 6016 1331 9201 19" ends in 0119. False when it has fewer than four. */
static bool sim_account_last4(const char *account, char out[5])
{
    size_t found = 0;
    for (size_t i = strlen(account); i > 0 && found < 4; i--) {
        char c = account[i - 1];
        if (c >= '0' && c <= '9')
            out[3 - found++] = c;
    }
    out[4] = '\0';
    return found == 4;
}

/* The network's decline code for `request`: NULL approves, and sim_timeout itself (the rules
 * hold that very pointer) pends. */
static const char *sim_decline(const struct mopay_connector_request *request)
{
    const struct sim_rule *rules = sim_account_rules;
    size_t rules_count = sizeof sim_account_rules / sizeof sim_account_rules[0];
    char last4[5];
    const char *number = last4;
    if (request->card_number != NULL) {
        if (!sim_card_valid(request->card_number))
            return "do_not_honor";
        rules = sim_card_rules;
        rules_count = sizeof sim_card_rules / sizeof sim_card_rules[0];
        number = request->card_number;
    } else if (!sim_account_last4(request->bank_account, last4)) {
        return NULL;
    }
    for (size_t i = 0; i < rules_count; i++) {
        if (strcmp(rules[i].number, number) == 0)
            return request->op == MOPAY_CONNECTOR_CHARGE ? rules[i].charge_decline : rules[i].payout_decline;
    }
    return NULL;
}

/* "sim_" and 16 hex digits of the reference's BLAKE2b-256: the same reference, the same id. */
static void sim_network_reference(const char *reference, char out[MOPAY_CONNECTOR_REFERENCE_BYTES])
{
    uint8_t hash[crypto_generichash_BYTES];
    crypto_generichash(hash, sizeof hash, (const unsigned char *)reference, strlen(reference), NULL, 0);
    memcpy(out, "sim_", 4);
    sodium_bin2hex(out + 4, MOPAY_CONNECTOR_REFERENCE_BYTES - 4, hash, 8);
}

static void sim_declined(struct mopay_connector_result *out, const char *code)
{
    MOPAY_ASSERT(strlen(code) < sizeof out->decline_code);
    out->outcome = MOPAY_CONNECTOR_DECLINED;
    strcpy(out->decline_code, code);
}

/* Answers PENDING and queues the late "timeout" decline, or, with the ring full, declines at
 * once: the network's queue is bounded and refusing is the answer mopay would get later anyway. */
static void sim_submit_pending(struct sim *sim, const struct mopay_connector_request *request,
                               struct mopay_connector_result *out)
{
    if (sim->count == sim->capacity) {
        sim_declined(out, sim_timeout);
        return;
    }
    int64_t due_ns;
    bool overflow = __builtin_add_overflow(request->now_ns, sim->callback_delay_ns, &due_ns);
    MOPAY_ASSERT(!overflow);
    struct sim_late *slot = &sim->ring[(sim->head + sim->count) % sim->capacity];
    slot->due_ns = due_ns;
    memcpy(slot->late.reference, request->reference, sizeof slot->late.reference);
    slot->late.result = *out;
    sim_declined(&slot->late.result, sim_timeout);
    sim->count++;
    out->outcome = MOPAY_CONNECTOR_PENDING;
}

static void sim_submit(struct mopay_connector *connector, const struct mopay_connector_request *request,
                       struct mopay_connector_result *out)
{
    struct sim *sim = sim_of(connector);
    sim_request_check(request);
    MOPAY_ASSERT(out != NULL);
    memset(out, 0, sizeof *out);
    sim_network_reference(request->reference, out->network_reference);
    const char *decline = sim_decline(request);
    if (decline == NULL)
        out->outcome = MOPAY_CONNECTOR_APPROVED;
    else if (decline == sim_timeout)
        sim_submit_pending(sim, request, out);
    else
        sim_declined(out, decline);
}

static size_t sim_poll(struct mopay_connector *connector, int64_t now_ns, struct mopay_connector_late *out,
                       size_t cap)
{
    struct sim *sim = sim_of(connector);
    MOPAY_ASSERT(out != NULL || cap == 0);
    size_t n = 0;
    while (n < cap && sim->count > 0 && sim->ring[sim->head].due_ns <= now_ns) {
        out[n++] = sim->ring[sim->head].late;
        sim->head = (sim->head + 1) % sim->capacity;
        sim->count--;
    }
    return n;
}

static void sim_free(struct mopay_connector *connector)
{
    free(sim_of(connector));
}

struct mopay_connector *mopay_connector_sim_new(const struct mopay_connector_sim_options *options)
{
    struct mopay_connector_sim_options o = {0};
    if (options != NULL)
        o = *options;
    if (o.callback_delay_s == 0)
        o.callback_delay_s = MOPAY_CONNECTOR_SIM_CALLBACK_DELAY_S;
    if (o.pending_max == 0)
        o.pending_max = MOPAY_CONNECTOR_PENDING_MAX;
    MOPAY_ASSERT(o.callback_delay_s > 0 && o.callback_delay_s <= INT64_MAX / SIM_NS_PER_S);
    MOPAY_ASSERT(o.pending_max <= MOPAY_CONNECTOR_PENDING_MAX);
    if (sodium_init() < 0) /* the network references' BLAKE2b */
        return NULL;
    struct sim *sim = calloc(1, sizeof *sim + o.pending_max * sizeof sim->ring[0]);
    if (sim == NULL)
        return NULL;
    sim->base = (struct mopay_connector){.name = "sim", .submit = sim_submit, .poll = sim_poll, .free = sim_free};
    sim->callback_delay_ns = o.callback_delay_s * SIM_NS_PER_S;
    sim->capacity = o.pending_max;
    return &sim->base;
}
