/* The ledger as the server runs it: its events go to the journal (mopay/journal.h), one group
 * per command, and come back from it at start:
 *   type 1 accounts, 2 transfers: count fixed-size events (struct mopay_ledger_account or struct
 *   mopay_ledger_transfer as submitted) applied at the group's timestamp
 *   type 3 expire: no events; pending transfers timed out at the timestamp were voided
 * The structs are fixed-layout and little-endian on every platform mopay builds for; the
 * journal's version number changes if they ever do. */
#include "mopay/ledger_service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mopay/assert.h"
#include "mopay/limits.h"
#include "mopay/log.h"

enum group_type { GROUP_ACCOUNTS = 1, GROUP_TRANSFERS = 2, GROUP_EXPIRE = 3 };

_Static_assert(sizeof(struct mopay_ledger_transfer) % 8 == 0, "transfer records stay aligned");
_Static_assert(sizeof(struct mopay_ledger_account) % 8 == 0, "account records stay aligned");

struct mopay_ledger_service {
    struct mopay_ledger *ledger;
    struct mopay_journal *journal;
    bool owns_journal;
    uint32_t accounts_max;
    bool check_invariants;
    void *replay_events; /* replay: a group's events, aligned for their structs */
    uint8_t *replay_results;
};

static size_t replay_events_bytes(void)
{
    size_t event = sizeof(struct mopay_ledger_transfer) > sizeof(struct mopay_ledger_account)
                       ? sizeof(struct mopay_ledger_transfer)
                       : sizeof(struct mopay_ledger_account);
    return MOPAY_LEDGER_EVENTS_PER_COMMAND_MAX * event;
}

static bool replay_group(void *ctx, uint32_t type, const uint8_t *events, uint32_t count, int64_t timestamp,
                         char *why, size_t why_cap);

struct mopay_ledger_service *mopay_ledger_service_new(const struct mopay_ledger_limits *limits,
                                                      bool check_invariants, struct mopay_journal *journal)
{
    struct mopay_ledger_service *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->ledger = mopay_ledger_new(limits);
    s->owns_journal = journal == NULL;
    s->journal = journal != NULL ? journal : mopay_journal_new();
    s->accounts_max = limits->accounts_max;
    s->replay_events = malloc(replay_events_bytes());
    s->replay_results = malloc(MOPAY_LEDGER_EVENTS_PER_COMMAND_MAX);
    if (s->ledger == NULL || s->journal == NULL || s->replay_events == NULL || s->replay_results == NULL) {
        mopay_ledger_service_free(s);
        return NULL;
    }
    s->check_invariants = check_invariants;
    mopay_journal_group_type(s->journal, GROUP_ACCOUNTS, sizeof(struct mopay_ledger_account), replay_group, s);
    mopay_journal_group_type(s->journal, GROUP_TRANSFERS, sizeof(struct mopay_ledger_transfer), replay_group, s);
    mopay_journal_group_type(s->journal, GROUP_EXPIRE, 0, replay_group, s);
    return s;
}

void mopay_ledger_service_free(struct mopay_ledger_service *s)
{
    if (s == NULL)
        return;
    if (s->ledger != NULL)
        mopay_ledger_free(s->ledger);
    if (s->owns_journal)
        mopay_journal_free(s->journal);
    free(s->replay_events);
    free(s->replay_results);
    free(s);
}

struct mopay_ledger *mopay_ledger_service_ledger(struct mopay_ledger_service *s)
{
    return s->ledger;
}

struct mopay_journal *mopay_ledger_service_journal(struct mopay_ledger_service *s)
{
    return s->journal;
}

size_t mopay_ledger_service_create_accounts(struct mopay_ledger_service *s, const struct mopay_ledger_account *a,
                                            size_t count, int64_t now_ns, uint8_t *results)
{
    MOPAY_ASSERT(count <= MOPAY_LEDGER_EVENTS_PER_COMMAND_MAX);
    mopay_journal_group(s->journal, GROUP_ACCOUNTS, a, (uint32_t)count, now_ns);
    return mopay_ledger_create_accounts(s->ledger, a, count, now_ns, results);
}

size_t mopay_ledger_service_create_transfers(struct mopay_ledger_service *s, const struct mopay_ledger_transfer *t,
                                             size_t count, int64_t now_ns, uint8_t *results)
{
    MOPAY_ASSERT(count <= MOPAY_LEDGER_EVENTS_PER_COMMAND_MAX);
    mopay_journal_group(s->journal, GROUP_TRANSFERS, t, (uint32_t)count, now_ns);
    return mopay_ledger_create_transfers(s->ledger, t, count, now_ns, results);
}

enum mopay_err mopay_ledger_service_tick(struct mopay_ledger_service *s, struct mopay_store *store, int64_t now_ns)
{
    (void)store;
    size_t expired = mopay_ledger_expire(s->ledger, now_ns);
    if (expired > 0) { /* an expiry that voided nothing changed nothing: no need to log it */
        mopay_journal_group(s->journal, GROUP_EXPIRE, NULL, 0, now_ns);
        MOPAY_LOG_DEBUG("voided expired pending transfers", "count=%zu", expired);
    }
    return MOPAY_OK;
}

static void check_or_stop(struct mopay_ledger_service *s)
{
    struct mopay_ledger_check *check = malloc(sizeof(*check));
    MOPAY_ASSERT(check != NULL);
    mopay_ledger_check(s->ledger, check);
    if (!check->ok)
        MOPAY_LOG_ERROR("ledger invariant broken; stopping before the batch commits", "accounts_breaking_flags=%llu",
                        (unsigned long long)check->accounts_breaking_flags);
    MOPAY_ASSERT(check->ok);
    free(check);
}

enum mopay_err mopay_ledger_service_before_commit(struct mopay_ledger_service *s, struct mopay_store *store,
                                                  int64_t now_ns)
{
    (void)now_ns;
    if (s->check_invariants)
        check_or_stop(s);
    return mopay_journal_commit(s->journal, store);
}

/* One group back into the ledger. The journal checked that its events are all there. */
static bool replay_group(void *ctx, uint32_t type, const uint8_t *events, uint32_t count, int64_t timestamp,
                         char *why, size_t why_cap)
{
    struct mopay_ledger_service *s = ctx;
    if (type == GROUP_EXPIRE) {
        mopay_ledger_expire(s->ledger, timestamp);
        return true;
    }
    if (count > MOPAY_LEDGER_EVENTS_PER_COMMAND_MAX) {
        snprintf(why, why_cap, "a ledger group of %u events, more than a command may carry", count);
        return false;
    }
    /* copied out: the store's buffer need not be aligned for the structs */
    if (type == GROUP_ACCOUNTS) {
        memcpy(s->replay_events, events, count * sizeof(struct mopay_ledger_account));
        mopay_ledger_create_accounts(s->ledger, s->replay_events, count, timestamp, s->replay_results);
    } else {
        memcpy(s->replay_events, events, count * sizeof(struct mopay_ledger_transfer));
        mopay_ledger_create_transfers(s->ledger, s->replay_events, count, timestamp, s->replay_results);
    }
    return true;
}

enum mopay_err mopay_ledger_service_recover(struct mopay_ledger_service *s, struct mopay_store *store,
                                            uint64_t *out_records, char *err, size_t err_cap)
{
    MOPAY_ASSERT(mopay_ledger_account_count(s->ledger) == 0 && mopay_ledger_transfer_count(s->ledger) == 0);
    struct mopay_journal_replay_stats stats;
    enum mopay_err e = mopay_journal_replay(s->journal, store, &stats, err, err_cap);
    if (e != MOPAY_OK)
        return e;
    *out_records = stats.records;
    if (s->check_invariants)
        check_or_stop(s);
    return MOPAY_OK;
}

enum mopay_err mopay_ledger_service_system_account(struct mopay_ledger_service *s, enum mopay_ledger_kind kind,
                                                   uint16_t currency, int64_t now_ns, struct mopay_id *out)
{
    /* A fixed id per (kind, currency), so every start and every replica names the same account. */
    char name[64];
    snprintf(name, sizeof(name), "mopay.system.%s.%u", mopay_ledger_kind_name(kind), (unsigned)currency);
    crypto_generichash(out->bytes, 16, (const unsigned char *)name, strlen(name), NULL, 0);
    if (mopay_ledger_account_get(mopay_ledger_service_ledger(s), out) != NULL)
        return MOPAY_OK;
    struct mopay_ledger_account a;
    memset(&a, 0, sizeof(a));
    a.id = *out;
    a.currency = currency;
    a.kind = (uint16_t)kind;
    uint8_t result = 0;
    mopay_ledger_service_create_accounts(s, &a, 1, now_ns, &result);
    return result == MOPAY_LEDGER_ok ? MOPAY_OK : MOPAY_ERR_ledger_rejected;
}

enum mopay_err mopay_ledger_service_accounts_room(struct mopay_ledger_service *s, size_t accounts)
{
    /* The platform's own accounts (one per kind and currency, made at first use inside a
     * command) keep a reserve that customers and merchants cannot take. */
    uint32_t reserve = s->accounts_max > 4 * MOPAY_LEDGER_SYSTEM_ACCOUNTS_RESERVE ? MOPAY_LEDGER_SYSTEM_ACCOUNTS_RESERVE
                                                                                   : s->accounts_max / 4;
    uint64_t used = (uint64_t)mopay_ledger_account_count(s->ledger) + reserve;
    return used + accounts <= s->accounts_max ? MOPAY_OK : MOPAY_ERR_capacity_exhausted;
}
