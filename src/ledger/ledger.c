/* The ledger's events: creating accounts and transfers, linked chains, expiry.
 *
 * Semantics (modelled on TigerBeetle's accounts, transfers and result codes; the first check that
 * fails gives the result, in the order below):
 *
 * Accounts (no chains: each account event stands alone)
 *   1. id zero                                   -> id_must_not_be_zero
 *   2. both balance flags, or any unknown flag bit -> flags_are_mutually_exclusive. Unknown bits are
 *      refused with this code rather than a new one: a flag this ledger does not know cannot be
 *      honoured, and silently storing it would let a future reader think it was enforced.
 *   3. kind >= MOPAY_LEDGER_KIND_COUNT           -> kind_invalid
 *   4. currency zero                             -> currency_invalid (the API checks ISO codes)
 *   5. id stored: same currency, flags, kind, user_data -> exists, else exists_with_different_fields
 *   6. table full                                -> accounts_full
 *   Balances, timestamp and reserved must be zero in the submission: the API builds the struct, so
 *   anything else is a programmer error and asserts.
 *
 * Transfers
 *   1. id zero -> id_must_not_be_zero
 *   2. unknown flag bits, or more than one of PENDING, POST_PENDING, VOID_PENDING
 *      -> flags_are_mutually_exclusive
 *   3. plain/pending with a pending_id -> pending_id_must_be_zero; post/void without one ->
 *      pending_id_must_not_be_zero; pending_id == id -> pending_id_must_be_different
 *   4. timeout_s set on anything but PENDING -> timeout_reserved_for_pending_transfer
 *   5. id stored -> exists when every field the client gave matches (for post/void, a zero debit,
 *      credit, currency or amount matches the stored, resolved value), else
 *      exists_with_different_fields
 *   6. table full -> transfers_full
 *   7. plain/pending: debit == credit -> accounts_must_be_different; either account missing ->
 *      account_not_found (a zero id is never stored, so it is "not found"); the two accounts' and
 *      the transfer's currencies not all equal -> currency_mismatch; amount 0 ->
 *      amount_must_not_be_zero.
 *      post/void: pending_id not stored -> pending_transfer_not_found; not a PENDING transfer ->
 *      pending_transfer_not_pending; non-zero debit/credit/currency unequal to the pending's ->
 *      pending_transfer_has_different_debit_account/_credit_account/_currency; already resolved ->
 *      pending_transfer_already_posted/_already_voided/pending_transfer_expired, and expired too when
 *      the event's timestamp >= pending.timestamp + timeout_s * 1e9 even if no expiry run voided
 *      it yet; post amount > pending amount -> exceeds_pending_transfer_amount (0 posts in full);
 *      void amount neither 0 nor the pending amount -> pending_transfer_has_different_amount.
 *   8. balances: any sum past UINT64_MAX -> overflow. Every account keeps
 *      debits_pending + debits_posted and credits_pending + credits_posted within 64 bits, so later
 *      posts and voids, which only shrink those sums, can never overflow. A pending transfer whose
 *      deadline passes INT64_MAX ns is refused with overflow too. Then a debit account with
 *      DEBITS_MUST_NOT_EXCEED_CREDITS: debits_pending + debits_posted + amount > credits_posted ->
 *      exceeds_credits; a credit account with CREDITS_MUST_NOT_EXCEED_DEBITS:
 *      credits_pending + credits_posted + amount > debits_posted -> exceeds_debits. A post or void
 *      only moves an amount that was already reserved (pending shrinks by the reservation, posted
 *      grows by at most as much), so it can break neither limit: that is asserted, not returned.
 *   Effects: plain moves the posted balances; pending the pending balances; post drops the pending
 *   balances by the whole reservation and raises the posted ones by the posted amount; void and
 *   expiry drop the pending balances. Post and void records are stored resolved: debit, credit,
 *   currency and amount (posted or released) taken from the pending transfer.
 *
 * Linked chains (transfers only): an event with LINKED continues into the next; a chain ends at the
 * first event without it. Any result but ok fails the chain, `exists` included (as in
 * TigerBeetle): the failing event keeps its result, every other event of the chain gets
 * linked_event_failed, and the chain's earlier effects are undone. Undo needs no log: a chain's
 * successful events are exactly the newest transfer records, so they are rolled back newest first
 * from the records themselves. If the batch's last event has LINKED, that open chain (from the
 * event after the last one without LINKED) is not evaluated: each of its events gets
 * linked_event_chain_open. Later events, in a chain or after it, see earlier events' effects.
 *
 * Timestamps: a batch's first event gets max(timestamp, last + 1), each next one 1 ns more, whether
 * it succeeds or not, so an event's timestamp depends only on the batch's timestamp and its
 * position: replaying a log in other batch splits, each batch given its first event's timestamp,
 * gives the same timestamps. An expiry run at `timestamp` also moves `last` up to it, so no event
 * is stamped before an expiry that already happened.
 *
 * Expiry: mopay_ledger_expire(ts) voids every still-pending transfer whose deadline <= ts, by
 * deadline then creation order, marking it expired. Pending transfers with a timeout enter the
 * expiry heap when their batch ends (after any chain undo could still remove them); posts and
 * voids leave their entry in place, and it is skipped when it comes up. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/ledger.h"

_Static_assert(sizeof(struct mopay_ledger_account) == 72, "the account layout is a record format");
_Static_assert(sizeof(struct mopay_ledger_transfer) == 104, "the transfer layout is a record format");
_Static_assert(sizeof(struct ledger_index_entry) == 8, "two index entries per account stay small");

#define ACCOUNT_FLAGS_BALANCE \
    (MOPAY_LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS | MOPAY_LEDGER_CREDITS_MUST_NOT_EXCEED_DEBITS)
#define TRANSFER_FLAGS_KIND (MOPAY_LEDGER_PENDING | MOPAY_LEDGER_POST_PENDING | MOPAY_LEDGER_VOID_PENDING)
#define TRANSFER_FLAGS_RESOLVE (MOPAY_LEDGER_POST_PENDING | MOPAY_LEDGER_VOID_PENDING)
#define TRANSFER_FLAGS_KNOWN (MOPAY_LEDGER_LINKED | TRANSFER_FLAGS_KIND)
#define NS_PER_S INT64_C(1000000000)
#define REGION_ALIGN ((size_t)4096)

/* ---- memory ---- */

struct ledger_layout {
    size_t accounts, account_index, transfers, states, expiries, transfer_index, total;
};

static size_t region_end(size_t offset, size_t bytes)
{
    size_t end = offset + bytes;
    MOPAY_ASSERT(end >= offset);
    return (end + REGION_ALIGN - 1) / REGION_ALIGN * REGION_ALIGN;
}

/* Offsets of each array in the one mapping, page-aligned, the ledger struct first. */
static void ledger_layout_compute(const struct mopay_ledger_limits *limits, struct ledger_layout *out)
{
    size_t at = region_end(0, sizeof(struct mopay_ledger));
    out->accounts = at;
    at = region_end(at, (size_t)limits->accounts_max * sizeof(struct mopay_ledger_account));
    out->account_index = at;
    at = region_end(at, ledger_index_capacity(limits->accounts_max) * sizeof(struct ledger_index_entry));
    out->transfers = at;
    at = region_end(at, (size_t)limits->transfers_max * sizeof(struct mopay_ledger_transfer));
    out->states = at;
    at = region_end(at, (size_t)limits->transfers_max);
    out->expiries = at;
    at = region_end(at, (size_t)limits->transfers_max * sizeof(struct ledger_expiry));
    out->transfer_index = at;
    at = region_end(at, ledger_index_capacity(limits->transfers_max) * sizeof(struct ledger_index_entry));
    out->total = at;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/* Backs every page now. The kernel does it in one call where it can; otherwise one write per
 * page (the pages are still zero, which is what the tables expect). */
static void ledger_prefault(char *map, size_t bytes)
{
    if (madvise(map, bytes, MADV_POPULATE_WRITE) == 0)
        return;
    for (size_t at = 0; at < bytes; at += 4096)
        ((volatile char *)map)[at] = 0;
}

struct mopay_ledger *mopay_ledger_new(const struct mopay_ledger_limits *limits)
{
    MOPAY_ASSERT(limits != NULL);
    MOPAY_ASSERT(limits->accounts_max > 0 && limits->accounts_max < UINT32_MAX);
    MOPAY_ASSERT(limits->transfers_max > 0 && limits->transfers_max < UINT32_MAX);
    if (sodium_init() < 0) /* the digest's BLAKE2b; initialised here, at start-up */
        return NULL;
    struct ledger_layout layout;
    ledger_layout_compute(limits, &layout);
    /* NORESERVE: the limits are reserved as address space; pages are touched, and so backed, only
     * as the tables fill. Anonymous pages start zeroed: an all-zero index entry is empty. */
    char *map = mmap(NULL, layout.total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (map == MAP_FAILED)
        return NULL;
    /* Huge pages: the indexes are probed at random over hundreds of MB, and with 4 KiB pages
     * nearly every probe is a TLB miss whose page walk stalls even a prefetch (a third of the
     * apply time in ledger_apply). The record arrays still fill front to back, 2 MiB at a time; an
     * index is backed at random, so a large-limit ledger backs its index early (at most 32 bytes
     * per record of limit). Advice only: without it the ledger works the same, slower. */
    (void)madvise(map, layout.total, MADV_HUGEPAGE);
    if (limits->prefault)
        ledger_prefault(map, layout.total);
    struct mopay_ledger *ledger = (struct mopay_ledger *)map;
    ledger->limits = *limits;
    ledger->accounts = (struct mopay_ledger_account *)(map + layout.accounts);
    ledger->account_index.entries = (struct ledger_index_entry *)(map + layout.account_index);
    ledger->account_index.mask = ledger_index_capacity(limits->accounts_max) - 1;
    ledger->transfers = (struct mopay_ledger_transfer *)(map + layout.transfers);
    ledger->transfer_states = (uint8_t *)(map + layout.states);
    ledger->expiries = (struct ledger_expiry *)(map + layout.expiries);
    ledger->transfer_index.entries = (struct ledger_index_entry *)(map + layout.transfer_index);
    ledger->transfer_index.mask = ledger_index_capacity(limits->transfers_max) - 1;
    ledger->account_count = 0;
    ledger->transfer_count = 0;
    ledger->expiry_count = 0;
    ledger->timestamp_last = 0;
    ledger->map_bytes = layout.total;
    return ledger;
}

void mopay_ledger_free(struct mopay_ledger *ledger)
{
    if (ledger == NULL)
        return;
    int rc = munmap(ledger, ledger->map_bytes);
    MOPAY_ASSERT(rc == 0);
}

size_t mopay_ledger_bytes_per_account(const struct mopay_ledger_limits *limits)
{
    MOPAY_ASSERT(limits != NULL && limits->accounts_max > 0);
    uint64_t bytes = (uint64_t)limits->accounts_max * sizeof(struct mopay_ledger_account) +
                     ledger_index_capacity(limits->accounts_max) * sizeof(struct ledger_index_entry);
    return (size_t)((bytes + limits->accounts_max - 1) / limits->accounts_max);
}

/* ---- money arithmetic for effects already proven possible ---- */

static void balance_add(uint64_t *balance, uint64_t amount)
{
    bool overflow = __builtin_add_overflow(*balance, amount, balance);
    MOPAY_ASSERT(!overflow);
}

static void balance_sub(uint64_t *balance, uint64_t amount)
{
    bool underflow = __builtin_sub_overflow(*balance, amount, balance);
    MOPAY_ASSERT(!underflow);
}

/* The first timestamp of a batch of `count` events, which then own [first, first + count). */
static int64_t batch_timestamp_take(struct mopay_ledger *ledger, int64_t timestamp, size_t count)
{
    MOPAY_ASSERT(timestamp >= 0);
    MOPAY_ASSERT(count > 0 && count < (size_t)INT64_MAX);
    MOPAY_ASSERT(ledger->timestamp_last < INT64_MAX);
    int64_t first = timestamp > ledger->timestamp_last ? timestamp : ledger->timestamp_last + 1;
    int64_t last;
    bool overflow = __builtin_add_overflow(first, (int64_t)count - 1, &last);
    MOPAY_ASSERT(!overflow);
    ledger->timestamp_last = last;
    return first;
}

/* ---- accounts ---- */

static enum mopay_ledger_result account_validate(const struct mopay_ledger_account *account)
{
    if (ledger_id_is_zero(&account->id))
        return MOPAY_LEDGER_id_must_not_be_zero;
    unsigned balance_flags = account->flags & ACCOUNT_FLAGS_BALANCE;
    if ((account->flags & ~ACCOUNT_FLAGS_BALANCE) != 0 || balance_flags == ACCOUNT_FLAGS_BALANCE)
        return MOPAY_LEDGER_flags_are_mutually_exclusive;
    if (account->kind >= MOPAY_LEDGER_KIND_COUNT)
        return MOPAY_LEDGER_kind_invalid;
    if (account->currency == 0)
        return MOPAY_LEDGER_currency_invalid;
    return MOPAY_LEDGER_ok;
}

static enum mopay_ledger_result account_create(struct mopay_ledger *ledger, const struct mopay_ledger_account *account,
                                               int64_t timestamp)
{
    MOPAY_ASSERT(account->debits_pending == 0 && account->debits_posted == 0);
    MOPAY_ASSERT(account->credits_pending == 0 && account->credits_posted == 0);
    MOPAY_ASSERT(account->timestamp == 0 && account->reserved == 0);
    enum mopay_ledger_result result = account_validate(account);
    if (result != MOPAY_LEDGER_ok)
        return result;
    uint64_t hash = ledger_id_hash(&account->id);
    uint64_t pos;
    uint32_t slot = ledger_index_find(&ledger->account_index, ledger->accounts, sizeof *ledger->accounts,
                                      &account->id, hash, &pos);
    if (slot != LEDGER_SLOT_NONE) {
        const struct mopay_ledger_account *stored = &ledger->accounts[slot];
        bool same = stored->currency == account->currency && stored->flags == account->flags &&
                    stored->kind == account->kind && stored->user_data == account->user_data;
        return same ? MOPAY_LEDGER_exists : MOPAY_LEDGER_exists_with_different_fields;
    }
    if (ledger->account_count == ledger->limits.accounts_max)
        return MOPAY_LEDGER_accounts_full;
    slot = ledger->account_count;
    MOPAY_ASSERT(slot < ledger->limits.accounts_max);
    struct mopay_ledger_account *record = &ledger->accounts[slot];
    *record = *account;
    record->timestamp = timestamp;
    ledger->account_index.entries[pos] = (struct ledger_index_entry){(uint32_t)(hash >> 32), slot + 1};
    ledger->account_count = slot + 1;
    return MOPAY_LEDGER_ok;
}

size_t mopay_ledger_create_accounts(struct mopay_ledger *ledger, const struct mopay_ledger_account *accounts,
                                    size_t count, int64_t timestamp, uint8_t *results)
{
    MOPAY_ASSERT(ledger != NULL);
    MOPAY_ASSERT(count == 0 || (accounts != NULL && results != NULL));
    if (count == 0)
        return 0;
    int64_t first = batch_timestamp_take(ledger, timestamp, count);
    size_t ok = 0;
    for (size_t i = 0; i < count; i++) {
        enum mopay_ledger_result result = account_create(ledger, &accounts[i], first + (int64_t)i);
        results[i] = (uint8_t)result;
        ok += result == MOPAY_LEDGER_ok;
    }
    MOPAY_ASSERT(ledger->account_count <= ledger->limits.accounts_max);
    return ok;
}

/* ---- transfers: validation ---- */

static enum mopay_ledger_result transfer_validate(const struct mopay_ledger_transfer *transfer)
{
    if (ledger_id_is_zero(&transfer->id))
        return MOPAY_LEDGER_id_must_not_be_zero;
    unsigned kind = transfer->flags & TRANSFER_FLAGS_KIND;
    if ((transfer->flags & ~TRANSFER_FLAGS_KNOWN) != 0 || (kind & (kind - 1)) != 0)
        return MOPAY_LEDGER_flags_are_mutually_exclusive;
    bool resolves = (kind & TRANSFER_FLAGS_RESOLVE) != 0;
    bool has_pending_id = !ledger_id_is_zero(&transfer->pending_id);
    if (!resolves && has_pending_id)
        return MOPAY_LEDGER_pending_id_must_be_zero;
    if (resolves && !has_pending_id)
        return MOPAY_LEDGER_pending_id_must_not_be_zero;
    if (resolves && ledger_id_equal(&transfer->pending_id, &transfer->id))
        return MOPAY_LEDGER_pending_id_must_be_different;
    if (transfer->timeout_s != 0 && kind != MOPAY_LEDGER_PENDING)
        return MOPAY_LEDGER_timeout_reserved_for_pending_transfer;
    return MOPAY_LEDGER_ok;
}

/* Resubmission of a stored id: the same transfer when every field given matches. Post and void
 * records hold resolved values, which the client may have left zero. */
static enum mopay_ledger_result transfer_compare(const struct mopay_ledger_transfer *stored,
                                                 const struct mopay_ledger_transfer *transfer)
{
    bool resolves = (transfer->flags & TRANSFER_FLAGS_RESOLVE) != 0;
    bool same = ledger_id_equal(&stored->pending_id, &transfer->pending_id) && stored->flags == transfer->flags &&
                stored->user_data == transfer->user_data && stored->timeout_s == transfer->timeout_s &&
                stored->code == transfer->code;
    same = same && (ledger_id_equal(&stored->debit_account_id, &transfer->debit_account_id) ||
                    (resolves && ledger_id_is_zero(&transfer->debit_account_id)));
    same = same && (ledger_id_equal(&stored->credit_account_id, &transfer->credit_account_id) ||
                    (resolves && ledger_id_is_zero(&transfer->credit_account_id)));
    same = same && (stored->currency == transfer->currency || (resolves && transfer->currency == 0));
    same = same && (stored->amount == transfer->amount || (resolves && transfer->amount == 0));
    return same ? MOPAY_LEDGER_exists : MOPAY_LEDGER_exists_with_different_fields;
}

/* What a transfer does, worked out before anything changes. */
struct transfer_plan {
    unsigned kind; /* 0 (plain) or one of TRANSFER_FLAGS_KIND */
    struct mopay_ledger_account *debit;
    struct mopay_ledger_account *credit;
    uint32_t pending_slot; /* post/void: the pending transfer */
    uint64_t amount;       /* resolved: moved (plain, pending), posted (post) or released (void) */
    uint64_t release;      /* post/void: the reservation the pending transfer leaves */
    /* the two accounts' balances after the transfer */
    uint64_t debits_pending, debits_posted, credits_pending, credits_posted;
};

static int64_t pending_deadline(const struct mopay_ledger_transfer *pending)
{
    int64_t deadline;
    bool overflow = __builtin_add_overflow(pending->timestamp, (int64_t)pending->timeout_s * NS_PER_S, &deadline);
    MOPAY_ASSERT(!overflow); /* refused when the pending transfer was created */
    return deadline;
}

/* Plain and pending transfers: the two accounts. */
static enum mopay_ledger_result plan_accounts(struct mopay_ledger *ledger, const struct mopay_ledger_transfer *transfer,
                                              int64_t timestamp, struct transfer_plan *plan)
{
    if (ledger_id_equal(&transfer->debit_account_id, &transfer->credit_account_id))
        return MOPAY_LEDGER_accounts_must_be_different;
    uint32_t debit = ledger_account_find(ledger, &transfer->debit_account_id);
    uint32_t credit = ledger_account_find(ledger, &transfer->credit_account_id);
    if (debit == LEDGER_SLOT_NONE || credit == LEDGER_SLOT_NONE)
        return MOPAY_LEDGER_account_not_found;
    plan->debit = &ledger->accounts[debit];
    plan->credit = &ledger->accounts[credit];
    if (plan->debit->currency != plan->credit->currency || plan->debit->currency != transfer->currency)
        return MOPAY_LEDGER_currency_mismatch;
    if (transfer->amount == 0)
        return MOPAY_LEDGER_amount_must_not_be_zero;
    int64_t deadline;
    if (__builtin_add_overflow(timestamp, (int64_t)transfer->timeout_s * NS_PER_S, &deadline))
        return MOPAY_LEDGER_overflow;
    plan->pending_slot = LEDGER_SLOT_NONE;
    plan->amount = transfer->amount;
    plan->release = 0;
    return MOPAY_LEDGER_ok;
}

/* Post and void: the pending transfer they resolve, and the amounts. */
static enum mopay_ledger_result plan_pending(struct mopay_ledger *ledger, const struct mopay_ledger_transfer *transfer,
                                             int64_t timestamp, struct transfer_plan *plan)
{
    uint32_t slot = ledger_transfer_find(ledger, &transfer->pending_id);
    if (slot == LEDGER_SLOT_NONE)
        return MOPAY_LEDGER_pending_transfer_not_found;
    const struct mopay_ledger_transfer *pending = &ledger->transfers[slot];
    if ((pending->flags & MOPAY_LEDGER_PENDING) == 0)
        return MOPAY_LEDGER_pending_transfer_not_pending;
    if (!ledger_id_is_zero(&transfer->debit_account_id) &&
        !ledger_id_equal(&transfer->debit_account_id, &pending->debit_account_id))
        return MOPAY_LEDGER_pending_transfer_has_different_debit_account;
    if (!ledger_id_is_zero(&transfer->credit_account_id) &&
        !ledger_id_equal(&transfer->credit_account_id, &pending->credit_account_id))
        return MOPAY_LEDGER_pending_transfer_has_different_credit_account;
    if (transfer->currency != 0 && transfer->currency != pending->currency)
        return MOPAY_LEDGER_pending_transfer_has_different_currency;
    switch (ledger->transfer_states[slot]) {
    case MOPAY_LEDGER_STATE_PENDING: break;
    case MOPAY_LEDGER_STATE_POSTED: return MOPAY_LEDGER_pending_transfer_already_posted;
    case MOPAY_LEDGER_STATE_VOIDED: return MOPAY_LEDGER_pending_transfer_already_voided;
    case MOPAY_LEDGER_STATE_EXPIRED: return MOPAY_LEDGER_pending_transfer_expired;
    default: MOPAY_UNREACHABLE();
    }
    if (pending->timeout_s != 0 && timestamp >= pending_deadline(pending))
        return MOPAY_LEDGER_pending_transfer_expired;
    if (transfer->flags & MOPAY_LEDGER_POST_PENDING) {
        if (transfer->amount > pending->amount)
            return MOPAY_LEDGER_exceeds_pending_transfer_amount;
        plan->amount = transfer->amount != 0 ? transfer->amount : pending->amount;
    } else {
        if (transfer->amount != 0 && transfer->amount != pending->amount)
            return MOPAY_LEDGER_pending_transfer_has_different_amount;
        plan->amount = pending->amount;
    }
    uint32_t debit = ledger_account_find(ledger, &pending->debit_account_id);
    uint32_t credit = ledger_account_find(ledger, &pending->credit_account_id);
    MOPAY_ASSERT(debit != LEDGER_SLOT_NONE && credit != LEDGER_SLOT_NONE && debit != credit);
    plan->debit = &ledger->accounts[debit];
    plan->credit = &ledger->accounts[credit];
    plan->pending_slot = slot;
    plan->release = pending->amount;
    return MOPAY_LEDGER_ok;
}

/* The balances after the transfer, and whether they are allowed. Changes nothing. */
static enum mopay_ledger_result plan_balances(struct transfer_plan *plan)
{
    const struct mopay_ledger_account *debit = plan->debit, *credit = plan->credit;
    uint64_t dpend = debit->debits_pending, dpost = debit->debits_posted;
    uint64_t cpend = credit->credits_pending, cpost = credit->credits_posted;
    bool resolves = (plan->kind & TRANSFER_FLAGS_RESOLVE) != 0;
    if (resolves) {
        balance_sub(&dpend, plan->release);
        balance_sub(&cpend, plan->release);
    }
    bool overflow = false;
    if (plan->kind == MOPAY_LEDGER_PENDING) {
        overflow |= __builtin_add_overflow(dpend, plan->amount, &dpend);
        overflow |= __builtin_add_overflow(cpend, plan->amount, &cpend);
    } else if (plan->kind != MOPAY_LEDGER_VOID_PENDING) {
        overflow |= __builtin_add_overflow(dpost, plan->amount, &dpost);
        overflow |= __builtin_add_overflow(cpost, plan->amount, &cpost);
    }
    uint64_t debits_total, credits_total;
    overflow |= __builtin_add_overflow(dpend, dpost, &debits_total);
    overflow |= __builtin_add_overflow(cpend, cpost, &credits_total);
    /* A post or void shrinks both sums (posted grows by at most the released reservation). */
    MOPAY_ASSERT(!(overflow && resolves));
    if (overflow)
        return MOPAY_LEDGER_overflow;
    bool exceeds_credits = (debit->flags & MOPAY_LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS) != 0 &&
                           debits_total > debit->credits_posted;
    bool exceeds_debits = (credit->flags & MOPAY_LEDGER_CREDITS_MUST_NOT_EXCEED_DEBITS) != 0 &&
                          credits_total > credit->debits_posted;
    MOPAY_ASSERT(!((exceeds_credits || exceeds_debits) && resolves));
    if (exceeds_credits)
        return MOPAY_LEDGER_exceeds_credits;
    if (exceeds_debits)
        return MOPAY_LEDGER_exceeds_debits;
    plan->debits_pending = dpend;
    plan->debits_posted = dpost;
    plan->credits_pending = cpend;
    plan->credits_posted = cpost;
    return MOPAY_LEDGER_ok;
}

/* Writes the planned transfer as the newest record. Cannot fail. */
static void transfer_apply(struct mopay_ledger *ledger, const struct mopay_ledger_transfer *transfer, int64_t timestamp,
                           const struct transfer_plan *plan, uint64_t hash, uint64_t pos)
{
    uint32_t slot = ledger->transfer_count;
    MOPAY_ASSERT(slot < ledger->limits.transfers_max);
    MOPAY_ASSERT(ledger->transfer_index.entries[pos].slot_next == 0);
    plan->debit->debits_pending = plan->debits_pending;
    plan->debit->debits_posted = plan->debits_posted;
    plan->credit->credits_pending = plan->credits_pending;
    plan->credit->credits_posted = plan->credits_posted;
    struct mopay_ledger_transfer *record = &ledger->transfers[slot];
    *record = *transfer;
    record->timestamp = timestamp;
    record->amount = plan->amount;
    if (plan->pending_slot != LEDGER_SLOT_NONE) {
        const struct mopay_ledger_transfer *pending = &ledger->transfers[plan->pending_slot];
        record->debit_account_id = pending->debit_account_id;
        record->credit_account_id = pending->credit_account_id;
        record->currency = pending->currency;
        MOPAY_ASSERT(ledger->transfer_states[plan->pending_slot] == MOPAY_LEDGER_STATE_PENDING);
        ledger->transfer_states[plan->pending_slot] =
            plan->kind == MOPAY_LEDGER_POST_PENDING ? MOPAY_LEDGER_STATE_POSTED : MOPAY_LEDGER_STATE_VOIDED;
    }
    ledger->transfer_states[slot] =
        plan->kind == MOPAY_LEDGER_PENDING ? MOPAY_LEDGER_STATE_PENDING : MOPAY_LEDGER_NOT_PENDING;
    ledger->transfer_index.entries[pos] = (struct ledger_index_entry){(uint32_t)(hash >> 32), slot + 1};
    ledger->transfer_count = slot + 1;
}

/* One transfer event. On any result but ok, nothing changed. */
static enum mopay_ledger_result transfer_create(struct mopay_ledger *ledger,
                                                const struct mopay_ledger_transfer *transfer, int64_t timestamp)
{
    MOPAY_ASSERT(transfer->timestamp == 0 && transfer->reserved == 0 && transfer->reserved2 == 0);
    enum mopay_ledger_result result = transfer_validate(transfer);
    if (result != MOPAY_LEDGER_ok)
        return result;
    uint64_t hash = ledger_id_hash(&transfer->id);
    uint64_t pos;
    uint32_t slot = ledger_index_find(&ledger->transfer_index, ledger->transfers, sizeof *ledger->transfers,
                                      &transfer->id, hash, &pos);
    if (slot != LEDGER_SLOT_NONE)
        return transfer_compare(&ledger->transfers[slot], transfer);
    if (ledger->transfer_count == ledger->limits.transfers_max)
        return MOPAY_LEDGER_transfers_full;
    struct transfer_plan plan;
    plan.kind = transfer->flags & TRANSFER_FLAGS_KIND;
    result = (plan.kind & TRANSFER_FLAGS_RESOLVE) ? plan_pending(ledger, transfer, timestamp, &plan)
                                                  : plan_accounts(ledger, transfer, timestamp, &plan);
    if (result == MOPAY_LEDGER_ok)
        result = plan_balances(&plan);
    if (result != MOPAY_LEDGER_ok)
        return result;
    transfer_apply(ledger, transfer, timestamp, &plan, hash, pos);
    return MOPAY_LEDGER_ok;
}

/* ---- linked chains ---- */

/* Removes the newest transfer and its effects, exactly reversing transfer_apply. Because it is the
 * newest, clearing its index entry restores the index as it was before the insertion: every id
 * inserted later, which might have probed past that entry, is already gone. */
static void transfer_undo_newest(struct mopay_ledger *ledger)
{
    MOPAY_ASSERT(ledger->transfer_count > 0);
    uint32_t slot = ledger->transfer_count - 1;
    struct mopay_ledger_transfer *record = &ledger->transfers[slot];
    uint32_t debit_slot = ledger_account_find(ledger, &record->debit_account_id);
    uint32_t credit_slot = ledger_account_find(ledger, &record->credit_account_id);
    MOPAY_ASSERT(debit_slot != LEDGER_SLOT_NONE && credit_slot != LEDGER_SLOT_NONE);
    struct mopay_ledger_account *debit = &ledger->accounts[debit_slot], *credit = &ledger->accounts[credit_slot];
    unsigned kind = record->flags & TRANSFER_FLAGS_KIND;
    if (kind & TRANSFER_FLAGS_RESOLVE) {
        uint32_t pending = ledger_transfer_find(ledger, &record->pending_id);
        MOPAY_ASSERT(pending != LEDGER_SLOT_NONE && pending < slot);
        uint8_t expected = kind == MOPAY_LEDGER_POST_PENDING ? MOPAY_LEDGER_STATE_POSTED : MOPAY_LEDGER_STATE_VOIDED;
        MOPAY_ASSERT(ledger->transfer_states[pending] == expected);
        ledger->transfer_states[pending] = MOPAY_LEDGER_STATE_PENDING;
        balance_add(&debit->debits_pending, ledger->transfers[pending].amount);
        balance_add(&credit->credits_pending, ledger->transfers[pending].amount);
    }
    if (kind == MOPAY_LEDGER_PENDING) {
        balance_sub(&debit->debits_pending, record->amount);
        balance_sub(&credit->credits_pending, record->amount);
    } else if (kind != MOPAY_LEDGER_VOID_PENDING) {
        balance_sub(&debit->debits_posted, record->amount);
        balance_sub(&credit->credits_posted, record->amount);
    }
    uint64_t pos;
    uint32_t found = ledger_index_find(&ledger->transfer_index, ledger->transfers, sizeof *ledger->transfers,
                                       &record->id, ledger_id_hash(&record->id), &pos);
    MOPAY_ASSERT(found == slot);
    ledger->transfer_index.entries[pos] = (struct ledger_index_entry){0, 0};
    memset(record, 0, sizeof *record);
    ledger->transfer_states[slot] = MOPAY_LEDGER_NOT_PENDING;
    ledger->transfer_count = slot;
}

/* A batch of transfer events being applied. */
struct transfer_batch {
    const struct mopay_ledger_transfer *events;
    uint8_t *results;
    size_t open;   /* events from here on are an open chain, refused unevaluated */
    int64_t first; /* the first event's timestamp */
};

/* The events a few places ahead probe index entries and account records scattered over memory far
 * larger than the caches. Hints only, no effect on the state: the entries of event i + DISTANCE
 * are requested now, and the account records of event i + DISTANCE / 2, whose entries should have
 * arrived, so those misses overlap with the work on event i. */
#define PREFETCH_DISTANCE 16

/* always_inline: GCC takes a function whose only effect is a prefetch to be pure, and drops the
 * calls. */
#define PREFETCH_HELPER static inline __attribute__((always_inline)) void

PREFETCH_HELPER index_prefetch(const struct ledger_index *index, const struct mopay_id *id)
{
    __builtin_prefetch(&index->entries[ledger_id_hash(id) & index->mask]);
}

PREFETCH_HELPER account_prefetch(const struct mopay_ledger *ledger, const struct mopay_id *id)
{
    uint64_t hash = ledger_id_hash(id);
    struct ledger_index_entry entry = ledger->account_index.entries[hash & ledger->account_index.mask];
    if (entry.slot_next != 0 && entry.tag == (uint32_t)(hash >> 32)) {
        /* 72 bytes: most records straddle two cache lines, the flags and currency in the second */
        const char *record = (const char *)&ledger->accounts[entry.slot_next - 1];
        __builtin_prefetch(record);
        __builtin_prefetch(record + sizeof(struct mopay_ledger_account) - 1);
    }
}

PREFETCH_HELPER batch_prefetch(const struct mopay_ledger *ledger, const struct transfer_batch *batch, size_t i)
{
    if (i + PREFETCH_DISTANCE < batch->open) {
        const struct mopay_ledger_transfer *far = &batch->events[i + PREFETCH_DISTANCE];
        index_prefetch(&ledger->transfer_index, &far->id);
        if (far->flags & TRANSFER_FLAGS_RESOLVE) {
            index_prefetch(&ledger->transfer_index, &far->pending_id);
        } else {
            index_prefetch(&ledger->account_index, &far->debit_account_id);
            index_prefetch(&ledger->account_index, &far->credit_account_id);
        }
    }
    if (i + PREFETCH_DISTANCE / 2 < batch->open) {
        const struct mopay_ledger_transfer *near = &batch->events[i + PREFETCH_DISTANCE / 2];
        if (!(near->flags & TRANSFER_FLAGS_RESOLVE)) {
            account_prefetch(ledger, &near->debit_account_id);
            account_prefetch(ledger, &near->credit_account_id);
        }
    }
}

/* Events [start, end] form one chain (end is the first without LINKED). Returns how many are ok:
 * all of them, or none with the chain's effects undone. */
static size_t chain_apply(struct mopay_ledger *ledger, const struct transfer_batch *batch, size_t start, size_t end)
{
    uint32_t count_before = ledger->transfer_count;
    for (size_t i = start; i <= end; i++) {
        batch_prefetch(ledger, batch, i);
        enum mopay_ledger_result result = transfer_create(ledger, &batch->events[i], batch->first + (int64_t)i);
        batch->results[i] = (uint8_t)result;
        if (result == MOPAY_LEDGER_ok)
            continue;
        while (ledger->transfer_count > count_before)
            transfer_undo_newest(ledger);
        for (size_t k = start; k <= end; k++)
            if (k != i)
                batch->results[k] = MOPAY_LEDGER_linked_event_failed;
        return 0;
    }
    return end - start + 1;
}

/* ---- expiry heap ---- */

static bool expiry_before(const struct ledger_expiry *a, const struct ledger_expiry *b)
{
    return a->deadline_ns < b->deadline_ns || (a->deadline_ns == b->deadline_ns && a->slot < b->slot);
}

static void expiry_push(struct mopay_ledger *ledger, int64_t deadline_ns, uint32_t slot)
{
    MOPAY_ASSERT(ledger->expiry_count < ledger->limits.transfers_max);
    struct ledger_expiry *heap = ledger->expiries;
    struct ledger_expiry item = {deadline_ns, slot, 0};
    uint32_t at = ledger->expiry_count++;
    while (at > 0) {
        uint32_t parent = (at - 1) / 2;
        if (!expiry_before(&item, &heap[parent]))
            break;
        heap[at] = heap[parent];
        at = parent;
    }
    heap[at] = item;
}

static struct ledger_expiry expiry_pop(struct mopay_ledger *ledger)
{
    MOPAY_ASSERT(ledger->expiry_count > 0);
    struct ledger_expiry *heap = ledger->expiries;
    struct ledger_expiry top = heap[0];
    struct ledger_expiry item = heap[--ledger->expiry_count];
    uint32_t count = ledger->expiry_count, at = 0;
    while (count > 0) {
        uint32_t child = 2 * at + 1;
        if (child >= count)
            break;
        if (child + 1 < count && expiry_before(&heap[child + 1], &heap[child]))
            child++;
        if (!expiry_before(&heap[child], &item))
            break;
        heap[at] = heap[child];
        at = child;
    }
    if (count > 0)
        heap[at] = item;
    return top;
}

/* Pending transfers with a timeout made by this batch, once no undo can remove them. */
static void expiry_push_batch(struct mopay_ledger *ledger, uint32_t first_slot)
{
    for (uint32_t slot = first_slot; slot < ledger->transfer_count; slot++) {
        const struct mopay_ledger_transfer *transfer = &ledger->transfers[slot];
        if (transfer->timeout_s != 0 && ledger->transfer_states[slot] == MOPAY_LEDGER_STATE_PENDING)
            expiry_push(ledger, pending_deadline(transfer), slot);
    }
}

size_t mopay_ledger_create_transfers(struct mopay_ledger *ledger, const struct mopay_ledger_transfer *transfers,
                                     size_t count, int64_t timestamp, uint8_t *results)
{
    MOPAY_ASSERT(ledger != NULL);
    MOPAY_ASSERT(count == 0 || (transfers != NULL && results != NULL));
    if (count == 0)
        return 0;
    struct transfer_batch batch = {transfers, results, count, batch_timestamp_take(ledger, timestamp, count)};
    uint32_t first_slot = ledger->transfer_count;
    while (batch.open > 0 && (transfers[batch.open - 1].flags & MOPAY_LEDGER_LINKED))
        batch.open--;
    size_t ok = 0;
    for (size_t start = 0; start < batch.open;) {
        size_t end = start;
        while (transfers[end].flags & MOPAY_LEDGER_LINKED)
            end++;
        MOPAY_ASSERT(end < batch.open);
        ok += chain_apply(ledger, &batch, start, end);
        start = end + 1;
    }
    for (size_t i = batch.open; i < count; i++)
        results[i] = MOPAY_LEDGER_linked_event_chain_open;
    expiry_push_batch(ledger, first_slot);
    MOPAY_ASSERT(ledger->transfer_count - first_slot == ok);
    return ok;
}

/* ---- expiry ---- */

static void transfer_expire(struct mopay_ledger *ledger, uint32_t slot)
{
    const struct mopay_ledger_transfer *pending = &ledger->transfers[slot];
    MOPAY_ASSERT(pending->flags & MOPAY_LEDGER_PENDING);
    uint32_t debit = ledger_account_find(ledger, &pending->debit_account_id);
    uint32_t credit = ledger_account_find(ledger, &pending->credit_account_id);
    MOPAY_ASSERT(debit != LEDGER_SLOT_NONE && credit != LEDGER_SLOT_NONE);
    balance_sub(&ledger->accounts[debit].debits_pending, pending->amount);
    balance_sub(&ledger->accounts[credit].credits_pending, pending->amount);
    ledger->transfer_states[slot] = MOPAY_LEDGER_STATE_EXPIRED;
}

size_t mopay_ledger_expire(struct mopay_ledger *ledger, int64_t timestamp)
{
    MOPAY_ASSERT(ledger != NULL);
    MOPAY_ASSERT(timestamp >= 0);
    size_t expired = 0;
    /* Bounded: each turn pops one of at most transfers_max entries. */
    while (ledger->expiry_count > 0 && ledger->expiries[0].deadline_ns <= timestamp) {
        struct ledger_expiry due = expiry_pop(ledger);
        MOPAY_ASSERT(due.slot < ledger->transfer_count);
        MOPAY_ASSERT(pending_deadline(&ledger->transfers[due.slot]) == due.deadline_ns);
        if (ledger->transfer_states[due.slot] != MOPAY_LEDGER_STATE_PENDING)
            continue; /* posted or voided since: its entry was left for now */
        transfer_expire(ledger, due.slot);
        expired++;
    }
    /* Only an expiry that voided something moves the clock on: the service logs only those, and
     * replaying the log must give the same timestamps to the events after it. */
    if (expired > 0 && timestamp > ledger->timestamp_last)
        ledger->timestamp_last = timestamp;
    return expired;
}
