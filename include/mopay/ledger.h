#ifndef MOPAY_LEDGER_H
#define MOPAY_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mopay/id.h"

/* The ledger: double-entry accounts and transfers, two-phase (pending, then post or void, with
 * a timeout), linked chains that succeed or fail together, and balance-limit flags.
 *
 * A deterministic state machine: the caller (the sequencer) hands it events and a timestamp;
 * it never reads the clock, does no I/O, takes no locks and does not allocate after
 * mopay_ledger_new. The same events with the same timestamps from empty always give the same
 * state (mopay_ledger_digest proves it), which is how the server recovers: by replaying its
 * durable event log. Amounts are unsigned 64-bit minor units of the accounts' currency. */

enum mopay_ledger_result {
#define MOPAY_LEDGER_RESULT(number, name) MOPAY_LEDGER_##name = number,
#include "mopay/ledger_results.def"
#undef MOPAY_LEDGER_RESULT
};
/* The stable name ("exceeds_credits"); "unknown" for a number not in the registry. */
const char *mopay_ledger_result_name(enum mopay_ledger_result result);

#define MOPAY_LEDGER_KINDS(X) \
    X(GENERAL, "general") X(CUSTOMER_WALLET, "customer_wallet") X(MERCHANT, "merchant") X(REVENUE, "revenue") \
    X(FX_POSITION, "fx_position") X(BANK_CLEARING, "bank_clearing") X(REFUND_POOL, "refund_pool")              \
    X(RECEIVABLE, "receivable") X(OFFER_BUDGET, "offer_budget")

enum mopay_ledger_kind {
#define MOPAY_LEDGER_KIND_ENUM(name, text) MOPAY_LEDGER_KIND_##name,
    MOPAY_LEDGER_KINDS(MOPAY_LEDGER_KIND_ENUM)
#undef MOPAY_LEDGER_KIND_ENUM
    MOPAY_LEDGER_KIND_COUNT
};
const char *mopay_ledger_kind_name(enum mopay_ledger_kind kind);
/* false when `name` is not a kind. */
bool mopay_ledger_kind_parse(const char *name, enum mopay_ledger_kind *out);

/* account flags */
#define MOPAY_LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS 0x1u
#define MOPAY_LEDGER_CREDITS_MUST_NOT_EXCEED_DEBITS 0x2u

/* transfer flags */
#define MOPAY_LEDGER_LINKED 0x1u       /* this event and the next succeed or fail together */
#define MOPAY_LEDGER_PENDING 0x2u      /* reserve: moves the amount into the pending balances */
#define MOPAY_LEDGER_POST_PENDING 0x4u /* post (all or part of) the pending transfer pending_id */
#define MOPAY_LEDGER_VOID_PENDING 0x8u /* release the pending transfer pending_id */

/* An account as created and as it stands. Fixed layout: it is also the log's record format. */
struct mopay_ledger_account {
    struct mopay_id id;
    uint64_t debits_pending;
    uint64_t debits_posted;
    uint64_t credits_pending;
    uint64_t credits_posted;
    uint64_t user_data;
    int64_t timestamp;  /* set by the ledger: when it was created (ns) */
    uint16_t currency;  /* ISO 4217 numeric code */
    uint16_t flags;
    uint16_t kind;      /* enum mopay_ledger_kind */
    uint16_t reserved;  /* zero */
};

/* A transfer as submitted and as stored. For post_pending and void_pending, debit and credit
 * account ids and currency may be zero (they are then taken from the pending transfer) or must
 * equal the pending transfer's; a post's amount 0 posts the full pending amount, a smaller one
 * posts part and releases the rest; a void's amount must be 0 or the pending amount. A pending
 * transfer with timeout_s > 0 expires timeout_s seconds after its timestamp: posting or voiding
 * it afterwards fails with pending_transfer_expired, and mopay_ledger_expire voids it. */
struct mopay_ledger_transfer {
    struct mopay_id id;
    struct mopay_id debit_account_id;
    struct mopay_id credit_account_id;
    struct mopay_id pending_id;
    uint64_t amount;
    uint64_t user_data;
    int64_t timestamp;  /* set by the ledger */
    uint32_t timeout_s;
    uint16_t currency;
    uint16_t code;      /* the caller's reason code, opaque to the ledger */
    uint16_t flags;
    uint16_t reserved;  /* zero */
    uint32_t reserved2; /* zero */
};

/* Pending transfer states, for mopay_ledger_transfer_state. */
enum mopay_ledger_pending_state {
    MOPAY_LEDGER_NOT_PENDING = 0, /* a plain, post or void transfer */
    MOPAY_LEDGER_STATE_PENDING,
    MOPAY_LEDGER_STATE_POSTED,
    MOPAY_LEDGER_STATE_VOIDED,
    MOPAY_LEDGER_STATE_EXPIRED,
};

struct mopay_ledger_limits {
    uint32_t accounts_max;
    uint32_t transfers_max;
    bool prefault; /* back all the memory the limits need at mopay_ledger_new, not as it fills:
                      slower start and all of it resident, but no page faults while serving */
};

struct mopay_ledger;

/* Reserves all memory the limits need (address space, touched as it fills). NULL on failure.
 * Both limits must be at least 1 and below UINT32_MAX. */
struct mopay_ledger *mopay_ledger_new(const struct mopay_ledger_limits *limits);
void mopay_ledger_free(struct mopay_ledger *ledger);
/* What one account costs at these limits: its record plus its share of the account index. */
size_t mopay_ledger_bytes_per_account(const struct mopay_ledger_limits *limits);

/* Each event gets a unique timestamp: the first `timestamp`, or one past the last event's if the
 * clock did not move on; the next ones count up by 1 ns, failed events included (so a timestamp
 * depends only on the batch's timestamp and the event's position). results[i] is written for
 * every event; an event whose result is not ok changed nothing. Returns the number of events that
 * are ok. Transfers only: a chain of LINKED events succeeds or fails whole, and any result but ok
 * (`exists` too) fails it; an open chain at the end of the batch fails with
 * linked_event_chain_open on each of its events. */
size_t mopay_ledger_create_accounts(struct mopay_ledger *ledger, const struct mopay_ledger_account *accounts,
                                    size_t count, int64_t timestamp, uint8_t *results);
size_t mopay_ledger_create_transfers(struct mopay_ledger *ledger, const struct mopay_ledger_transfer *transfers,
                                     size_t count, int64_t timestamp, uint8_t *results);
/* Voids every pending transfer whose deadline (timestamp + timeout_s) is <= `timestamp`, by
 * deadline then creation order, leaving it in state expired; returns how many. When it voided
 * any, later events are stamped after `timestamp`; when it voided none it changed nothing at all
 * (so a caller that logs only effective expiries still replays to the same state). */
size_t mopay_ledger_expire(struct mopay_ledger *ledger, int64_t timestamp);

/* Lookups; NULL when absent. The pointer is valid until the next event. */
const struct mopay_ledger_account *mopay_ledger_account_get(const struct mopay_ledger *ledger,
                                                            const struct mopay_id *id);
const struct mopay_ledger_transfer *mopay_ledger_transfer_get(const struct mopay_ledger *ledger,
                                                              const struct mopay_id *id);
enum mopay_ledger_pending_state mopay_ledger_transfer_state(const struct mopay_ledger *ledger,
                                                            const struct mopay_ledger_transfer *transfer);

/* The invariants: for each currency, the sums of debits and credits (posted, and pending) are
 * equal; no account breaks its flags. Not ok either when the accounts hold more currencies than
 * the table has rows, since those could not be shown balanced. */
#define MOPAY_LEDGER_CHECK_CURRENCIES_MAX 256
struct mopay_ledger_check {
    bool ok;
    size_t currency_count;
    struct {
        uint16_t currency;
        uint64_t accounts;
        /* sums wrap only past 2^128 minor units: kept as 128-bit */
        unsigned __int128 debits_posted, credits_posted, debits_pending, credits_pending;
    } currencies[MOPAY_LEDGER_CHECK_CURRENCIES_MAX];
    uint64_t accounts_breaking_flags;
    struct mopay_id first_account_breaking_flags;
};
void mopay_ledger_check(const struct mopay_ledger *ledger, struct mopay_ledger_check *out);

uint32_t mopay_ledger_account_count(const struct mopay_ledger *ledger);
uint32_t mopay_ledger_transfer_count(const struct mopay_ledger *ledger);
/* BLAKE2b-256 over the whole state in creation order: equal digests, equal ledgers. The clock
 * (the last timestamp handed out) is not covered, so a failed event leaves the digest alone. */
void mopay_ledger_digest(const struct mopay_ledger *ledger, uint8_t out[32]);

#endif
