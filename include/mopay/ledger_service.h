#ifndef MOPAY_LEDGER_SERVICE_H
#define MOPAY_LEDGER_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mopay/err.h"
#include "mopay/journal.h"
#include "mopay/ledger.h"
#include "mopay/store.h"

/* The ledger as the server runs it: the state machine (mopay/ledger.h), the durable log that
 * rebuilds it, and the sequencer hooks that tie them together.
 *
 * Every event the ledger sees in a sequencer batch is also written to that batch's log record,
 * with the timestamp it was applied at; before the batch commits, the record is appended to the
 * store's ledger log in the same transaction. So the log holds exactly the committed events, in
 * order, and replaying it from empty (mopay_ledger_service_recover) gives the same state, byte
 * for byte. Everything but _new, _free and _recover runs on the sequencer thread. */
struct mopay_ledger_service;

/* The ledger's events go to `journal`; NULL: a journal of its own (tools and tests that run the
 * ledger alone), which mopay_ledger_service_journal returns. */
struct mopay_ledger_service *mopay_ledger_service_new(const struct mopay_ledger_limits *limits,
                                                      bool check_invariants, struct mopay_journal *journal);
struct mopay_journal *mopay_ledger_service_journal(struct mopay_ledger_service *service);
void mopay_ledger_service_free(struct mopay_ledger_service *service);

/* Replays the journal (mopay_journal_replay) into the (empty) ledger and every record kind
 * registered with the journal, then checks the ledger's invariants when asked to. On failure a
 * reason goes to `err`. */
enum mopay_err mopay_ledger_service_recover(struct mopay_ledger_service *service, struct mopay_store *store,
                                            uint64_t *out_records, char *err, size_t err_cap);

struct mopay_ledger *mopay_ledger_service_ledger(struct mopay_ledger_service *service);

/* Apply events and record them in the batch's log record. A command carrying `count` events
 * must have seq weight `count` (at most MOPAY_LEDGER_EVENTS_PER_COMMAND_MAX), which keeps a
 * batch's record within its preallocated buffer. */
#define MOPAY_LEDGER_EVENTS_PER_COMMAND_MAX 8190
size_t mopay_ledger_service_create_accounts(struct mopay_ledger_service *service,
                                            const struct mopay_ledger_account *accounts, size_t count,
                                            int64_t now_ns, uint8_t *results);
size_t mopay_ledger_service_create_transfers(struct mopay_ledger_service *service,
                                             const struct mopay_ledger_transfer *transfers, size_t count,
                                             int64_t now_ns, uint8_t *results);

/* The platform's own account of `kind` (bank_clearing, revenue, ...) in a currency (ISO 4217
 * numeric), created with its first use; its id is fixed by (kind, currency). */
enum mopay_err mopay_ledger_service_system_account(struct mopay_ledger_service *service, enum mopay_ledger_kind kind,
                                                   uint16_t currency, int64_t now_ns, struct mopay_id *out);

/* Sequencer thread, among a command's checks before it changes anything: MOPAY_OK when
 * `accounts` more customer or merchant accounts fit, capacity_exhausted otherwise. The last
 * MOPAY_LEDGER_SYSTEM_ACCOUNTS_RESERVE accounts (a quarter of a smaller ledger) are kept for the
 * platform's own accounts, which mopay_ledger_service_system_account makes at their first use. */
#define MOPAY_LEDGER_SYSTEM_ACCOUNTS_RESERVE 64
enum mopay_err mopay_ledger_service_accounts_room(struct mopay_ledger_service *service, size_t accounts);

/* The sequencer hooks: tick voids expired pending transfers; before_commit appends the batch's
 * record and, with check_invariants, verifies the invariants (a broken one stops the process
 * before the batch commits). Callers that have hooks of their own call these from theirs. */
enum mopay_err mopay_ledger_service_tick(struct mopay_ledger_service *service, struct mopay_store *store,
                                         int64_t now_ns);
enum mopay_err mopay_ledger_service_before_commit(struct mopay_ledger_service *service,
                                                  struct mopay_store *store, int64_t now_ns);

#endif
