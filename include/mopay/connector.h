#ifndef MOPAY_CONNECTOR_H
#define MOPAY_CONNECTOR_H

#include <stddef.h>
#include <stdint.h>

/* The interface between mopay and the banks and card networks that move money into and out of
 * the platform: a table of function pointers, like struct mopay_store, with a built-in simulator
 * behind it (mopay_connector_sim_new).
 *
 * A connector is called from one thread only, the sequencer's, so it takes no locks; it never
 * blocks (a real one queues the network call and answers PENDING) and never reads the clock (the
 * sequencer hands it the time). Every submit is one network call with exactly one answer: at once
 * (APPROVED or DECLINED), or PENDING now and the answer later, through poll, exactly once. */

enum mopay_connector_op {
    MOPAY_CONNECTOR_CHARGE, /* pull money from a card or bank account into the platform (top-up) */
    MOPAY_CONNECTOR_PAYOUT, /* push money out to one (withdrawal) */
};

enum mopay_connector_outcome {
    MOPAY_CONNECTOR_APPROVED,
    MOPAY_CONNECTOR_DECLINED,
    MOPAY_CONNECTOR_PENDING, /* no answer yet: it comes later through poll */
};

#define MOPAY_CONNECTOR_REFERENCE_BYTES 40
#define MOPAY_CONNECTOR_DECLINE_CODE_BYTES 32

struct mopay_connector_request {
    enum mopay_connector_op op;
    /* mopay's id of the top-up or withdrawal ("txn_..."): opaque to the connector, non-empty,
     * NUL-terminated. */
    char reference[MOPAY_CONNECTOR_REFERENCE_BYTES];
    /* Exactly one of card_number and bank_account; the other NULL. */
    const char *card_number;  /* digits only */
    const char *bank_account; /* IBAN or account number */
    const char *bank_code;    /* BIC or national bank code, or NULL */
    uint64_t amount_minor;    /* > 0 */
    const char *currency;     /* an active ISO 4217 alpha code */
    int64_t now_ns;           /* the sequencer's time */
};

struct mopay_connector_result {
    enum mopay_connector_outcome outcome;
    /* DECLINED only, else "". Stable snake_case that mopay and its clients branch on:
     * "insufficient_funds", "stolen_card", "account_closed", "do_not_honor" (any other refusal)
     * and "timeout" (the network did not answer in time). */
    char decline_code[MOPAY_CONNECTOR_DECLINE_CODE_BYTES];
    /* The network's id of the call, for reconciliation with its statements; the same in the late
     * answer as in the PENDING one. */
    char network_reference[MOPAY_CONNECTOR_REFERENCE_BYTES];
};

/* A late answer: the request's reference and its final result (APPROVED or DECLINED). */
struct mopay_connector_late {
    char reference[MOPAY_CONNECTOR_REFERENCE_BYTES];
    struct mopay_connector_result result;
};

struct mopay_connector {
    const char *name; /* "sim", for logs and metrics */
    /* Answers `request` in `out`. A request mopay's checks should have refused (no or two
     * instruments, amount 0, unknown currency) is a programmer error. */
    void (*submit)(struct mopay_connector *connector, const struct mopay_connector_request *request,
                   struct mopay_connector_result *out);
    /* Moves up to `cap` late answers whose time has come (by `now_ns`) into `out`, oldest first,
     * and returns how many; what is left comes on a later call. Each is given once. */
    size_t (*poll)(struct mopay_connector *connector, int64_t now_ns, struct mopay_connector_late *out,
                   size_t cap);
    /* Late answers not yet polled are lost: after a restart mopay's own expiry settles them. */
    void (*free)(struct mopay_connector *connector);
};

/* The simulator: a network that answers by card or account number, for development and tests.
 * Deterministic (the same requests with the same times give the same answers) and in memory.
 *
 *   card number        charge                          payout
 *   4242424242424242   approved (Visa)                 approved
 *   378282246310005    approved (American Express)     approved
 *   6200000000000005   approved (UnionPay)             approved
 *   4000000000009995   declined insufficient_funds     approved (nothing to be short of)
 *   4000000000009979   declined stolen_card            declined stolen_card
 *   4000000000000119   pending, late declined timeout  pending, late declined timeout
 *   any other valid    approved                        approved
 *   not valid          declined do_not_honor           declined do_not_honor
 *
 * A valid card number has 12 to 19 digits and a correct Luhn check digit. A bank account is
 * judged by its last four digits (spaces and letters skipped): 0002 is declined account_closed,
 * 0119 is pending then late declined timeout, anything else approved, for charges and payouts
 * alike. bank_code, amount and currency do not matter. A pending request's late answer comes
 * callback_delay_s after it was submitted (never before, and in submission order: if the clock
 * stepped back, it waits for the one before it). With pending_max requests already pending, a
 * request that would pend is declined timeout at once. network_reference is "sim_" and the first
 * 16 hex digits of the BLAKE2b-256 of the reference, so a replay gives the same one. */
#define MOPAY_CONNECTOR_SIM_CALLBACK_DELAY_S 30

struct mopay_connector_sim_options {
    int64_t callback_delay_s; /* 0: MOPAY_CONNECTOR_SIM_CALLBACK_DELAY_S */
    size_t pending_max;       /* 0: MOPAY_CONNECTOR_PENDING_MAX, which is also the most allowed */
};

/* `options` may be NULL for the defaults. Allocates everything it will use here, once; NULL when
 * out of memory or libsodium cannot start. */
struct mopay_connector *mopay_connector_sim_new(const struct mopay_connector_sim_options *options);

#endif
