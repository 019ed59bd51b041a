#ifndef MOPAY_LEDGER_INTERNAL_H
#define MOPAY_LEDGER_INTERNAL_H

/* The ledger's state, shared by ledger.c (events) and inspect.c (lookups, check, digest). */

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "mopay/assert.h"
#include "mopay/ledger.h"

#define LEDGER_SLOT_NONE UINT32_MAX

/* One entry of an open-addressing index (linear probing): the record's slot + 1 (0 = empty) and
 * 32 bits of the id's hash, so a probe reads the record itself only when the tags agree. */
struct ledger_index_entry {
    uint32_t tag;
    uint32_t slot_next;
};

/* Capacity is a power of two at least twice the records' limit: the load factor stays <= 0.5,
 * so a probe sequence is short and always ends at an empty entry. */
struct ledger_index {
    struct ledger_index_entry *entries;
    uint64_t mask;
};

/* A pending transfer with a timeout, in a binary min-heap ordered by (deadline, slot): slots are
 * creation order, so transfers expire by deadline, then in the order they were made. */
struct ledger_expiry {
    int64_t deadline_ns;
    uint32_t slot;
    uint32_t reserved;
};

struct mopay_ledger {
    struct mopay_ledger_limits limits;
    /* Records in creation order: slot n is the n-th surviving record. A failed linked chain
     * removes only its own, newest, records, so the arrays never have holes. */
    struct mopay_ledger_account *accounts;
    struct mopay_ledger_transfer *transfers;
    uint8_t *transfer_states; /* enum mopay_ledger_pending_state, one per transfer slot */
    struct ledger_expiry *expiries;
    struct ledger_index account_index;
    struct ledger_index transfer_index;
    uint32_t account_count;
    uint32_t transfer_count;
    uint32_t expiry_count;
    int64_t timestamp_last; /* the newest timestamp handed to an event or to an expiry run */
    size_t map_bytes;       /* the whole mapping, this struct first */
};

static inline bool ledger_id_is_zero(const struct mopay_id *id)
{
    uint64_t a, b;
    memcpy(&a, id->bytes, 8);
    memcpy(&b, id->bytes + 8, 8);
    return (a | b) == 0;
}

static inline bool ledger_id_equal(const struct mopay_id *x, const struct mopay_id *y)
{
    return memcmp(x->bytes, y->bytes, sizeof x->bytes) == 0;
}

static inline uint64_t ledger_fmix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53u;
    h ^= h >> 33;
    return h;
}

/* Not keyed: the index layout must depend on nothing but the events. Each half is fully mixed
 * before they are combined: ids whose halves vary only in a few bits each (a client's batch
 * number in one half and item number in the other, say) must not fold onto the same values,
 * which a multiply-then-xor of the raw halves did, and which made probe chains thousands long. */
static inline uint64_t ledger_id_hash(const struct mopay_id *id)
{
    uint64_t hi, lo;
    memcpy(&hi, id->bytes, 8);
    memcpy(&lo, id->bytes + 8, 8);
    return ledger_fmix64(ledger_fmix64(hi ^ 0x9e3779b97f4a7c15u) ^ lo);
}

/* The slot of the record with `id`, or LEDGER_SLOT_NONE. *pos is where the id sits, or the
 * empty entry where it would go. Records start with their id and are `stride` bytes apart. */
static inline uint32_t ledger_index_find(const struct ledger_index *index, const void *records, size_t stride,
                                         const struct mopay_id *id, uint64_t hash, uint64_t *pos)
{
    uint32_t tag = (uint32_t)(hash >> 32);
    uint64_t at = hash & index->mask;
    for (uint64_t probes = 0; probes <= index->mask; probes++) {
        struct ledger_index_entry entry = index->entries[at];
        if (entry.slot_next == 0) {
            *pos = at;
            return LEDGER_SLOT_NONE;
        }
        if (entry.tag == tag) {
            const struct mopay_id *other =
                (const struct mopay_id *)((const char *)records + (size_t)(entry.slot_next - 1) * stride);
            if (ledger_id_equal(other, id)) {
                *pos = at;
                return entry.slot_next - 1;
            }
        }
        at = (at + 1) & index->mask;
    }
    MOPAY_UNREACHABLE(); /* the load factor is <= 0.5: some entry is empty */
}

static inline uint32_t ledger_account_find(const struct mopay_ledger *ledger, const struct mopay_id *id)
{
    uint64_t pos;
    return ledger_index_find(&ledger->account_index, ledger->accounts, sizeof *ledger->accounts, id,
                             ledger_id_hash(id), &pos);
}

static inline uint32_t ledger_transfer_find(const struct mopay_ledger *ledger, const struct mopay_id *id)
{
    uint64_t pos;
    return ledger_index_find(&ledger->transfer_index, ledger->transfers, sizeof *ledger->transfers, id,
                             ledger_id_hash(id), &pos);
}

/* Index capacity for `records_max` records: the smallest power of two >= 2 * records_max. */
static inline uint64_t ledger_index_capacity(uint32_t records_max)
{
    uint64_t capacity = 1;
    while (capacity < 2 * (uint64_t)records_max)
        capacity <<= 1;
    return capacity;
}

#endif
