/* Reading the ledger: names, lookups, the invariant check and the state digest. None of these
 * change the state. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/ledger.h"

/* The digest hashes records as they lie in memory; their layout is fixed and has no padding, and
 * fixing the byte order makes equal ledgers hash equal on every machine this runs on. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the digest hashes little-endian records");

const char *mopay_ledger_result_name(enum mopay_ledger_result result)
{
    switch (result) {
#define MOPAY_LEDGER_RESULT(number, name) \
    case MOPAY_LEDGER_##name:             \
        return #name;
#include "mopay/ledger_results.def"
#undef MOPAY_LEDGER_RESULT
    }
    return "unknown";
}

static const char *const kind_names[MOPAY_LEDGER_KIND_COUNT] = {
#define MOPAY_LEDGER_KIND_NAME(name, text) text,
    MOPAY_LEDGER_KINDS(MOPAY_LEDGER_KIND_NAME)
#undef MOPAY_LEDGER_KIND_NAME
};

const char *mopay_ledger_kind_name(enum mopay_ledger_kind kind)
{
    MOPAY_ASSERT((unsigned)kind < MOPAY_LEDGER_KIND_COUNT);
    return kind_names[kind];
}

bool mopay_ledger_kind_parse(const char *name, enum mopay_ledger_kind *out)
{
    MOPAY_ASSERT(name != NULL && out != NULL);
    for (unsigned kind = 0; kind < MOPAY_LEDGER_KIND_COUNT; kind++) {
        if (strcmp(name, kind_names[kind]) == 0) {
            *out = (enum mopay_ledger_kind)kind;
            return true;
        }
    }
    return false;
}

const struct mopay_ledger_account *mopay_ledger_account_get(const struct mopay_ledger *ledger,
                                                            const struct mopay_id *id)
{
    MOPAY_ASSERT(ledger != NULL && id != NULL);
    uint32_t slot = ledger_account_find(ledger, id);
    if (slot == LEDGER_SLOT_NONE)
        return NULL;
    MOPAY_ASSERT(slot < ledger->account_count);
    return &ledger->accounts[slot];
}

const struct mopay_ledger_transfer *mopay_ledger_transfer_get(const struct mopay_ledger *ledger,
                                                              const struct mopay_id *id)
{
    MOPAY_ASSERT(ledger != NULL && id != NULL);
    uint32_t slot = ledger_transfer_find(ledger, id);
    if (slot == LEDGER_SLOT_NONE)
        return NULL;
    MOPAY_ASSERT(slot < ledger->transfer_count);
    return &ledger->transfers[slot];
}

enum mopay_ledger_pending_state mopay_ledger_transfer_state(const struct mopay_ledger *ledger,
                                                            const struct mopay_ledger_transfer *transfer)
{
    MOPAY_ASSERT(ledger != NULL && transfer != NULL);
    /* Only a pointer from mopay_ledger_transfer_get names a slot. */
    MOPAY_ASSERT(transfer >= ledger->transfers && transfer < ledger->transfers + ledger->transfer_count);
    uint8_t state = ledger->transfer_states[transfer - ledger->transfers];
    MOPAY_ASSERT(state <= MOPAY_LEDGER_STATE_EXPIRED);
    MOPAY_ASSERT((state == MOPAY_LEDGER_NOT_PENDING) == ((transfer->flags & MOPAY_LEDGER_PENDING) == 0));
    return (enum mopay_ledger_pending_state)state;
}

uint32_t mopay_ledger_account_count(const struct mopay_ledger *ledger)
{
    MOPAY_ASSERT(ledger != NULL);
    return ledger->account_count;
}

uint32_t mopay_ledger_transfer_count(const struct mopay_ledger *ledger)
{
    MOPAY_ASSERT(ledger != NULL);
    return ledger->transfer_count;
}

/* The row of `currency` in out->currencies, added if new; -1 when the table is full. Accounts of
 * one currency tend to come in runs, so the last row found is tried first. */
static int check_row(struct mopay_ledger_check *out, uint16_t currency, int last)
{
    if (last >= 0 && out->currencies[last].currency == currency)
        return last;
    for (size_t row = 0; row < out->currency_count; row++)
        if (out->currencies[row].currency == currency)
            return (int)row;
    if (out->currency_count == MOPAY_LEDGER_CHECK_CURRENCIES_MAX)
        return -1;
    int row = (int)out->currency_count++;
    out->currencies[row].currency = currency;
    return row;
}

static bool account_breaks_flags(const struct mopay_ledger_account *account)
{
    unsigned __int128 debits = (unsigned __int128)account->debits_pending + account->debits_posted;
    unsigned __int128 credits = (unsigned __int128)account->credits_pending + account->credits_posted;
    if ((account->flags & MOPAY_LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS) && debits > account->credits_posted)
        return true;
    if ((account->flags & MOPAY_LEDGER_CREDITS_MUST_NOT_EXCEED_DEBITS) && credits > account->debits_posted)
        return true;
    /* Every account's sums stay within 64 bits (see ledger.c). */
    return debits > UINT64_MAX || credits > UINT64_MAX;
}

/* ok also needs every currency to fit the table: a ledger with more currencies than it can
 * report cannot be shown balanced. */
void mopay_ledger_check(const struct mopay_ledger *ledger, struct mopay_ledger_check *out)
{
    MOPAY_ASSERT(ledger != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    bool table_full = false;
    int row = -1;
    for (uint32_t slot = 0; slot < ledger->account_count; slot++) {
        const struct mopay_ledger_account *account = &ledger->accounts[slot];
        if (account_breaks_flags(account)) {
            if (out->accounts_breaking_flags++ == 0)
                out->first_account_breaking_flags = account->id;
        }
        int found = check_row(out, account->currency, row);
        if (found < 0) {
            table_full = true;
            continue;
        }
        row = found;
        out->currencies[row].accounts++;
        out->currencies[row].debits_posted += account->debits_posted;
        out->currencies[row].credits_posted += account->credits_posted;
        out->currencies[row].debits_pending += account->debits_pending;
        out->currencies[row].credits_pending += account->credits_pending;
    }
    out->ok = !table_full && out->accounts_breaking_flags == 0;
    for (size_t i = 0; i < out->currency_count; i++) {
        out->ok = out->ok && out->currencies[i].debits_posted == out->currencies[i].credits_posted;
        out->ok = out->ok && out->currencies[i].debits_pending == out->currencies[i].credits_pending;
    }
}

/* The records (accounts, then transfers, each in creation order) and every transfer's pending
 * state, after the two counts so that no two states hash the same bytes. The clock (the last
 * timestamp handed out) is not covered: a failed event moves it but leaves the digest alone. */
void mopay_ledger_digest(const struct mopay_ledger *ledger, uint8_t out[32])
{
    MOPAY_ASSERT(ledger != NULL && out != NULL);
    crypto_generichash_state state;
    int rc = crypto_generichash_init(&state, NULL, 0, 32);
    MOPAY_ASSERT(rc == 0);
    uint32_t counts[2] = {ledger->account_count, ledger->transfer_count};
    crypto_generichash_update(&state, (const unsigned char *)counts, sizeof counts);
    crypto_generichash_update(&state, (const unsigned char *)ledger->accounts,
                              (unsigned long long)ledger->account_count * sizeof *ledger->accounts);
    crypto_generichash_update(&state, (const unsigned char *)ledger->transfers,
                              (unsigned long long)ledger->transfer_count * sizeof *ledger->transfers);
    crypto_generichash_update(&state, ledger->transfer_states, ledger->transfer_count);
    rc = crypto_generichash_final(&state, out, 32);
    MOPAY_ASSERT(rc == 0);
}
