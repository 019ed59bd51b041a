#ifndef MOPAY_TESTS_WALLET_FIXTURE_H
#define MOPAY_TESTS_WALLET_FIXTURE_H

/* The wallet driven in process, as the sequencer drives it: an in-memory SQLite store, keys from
 * MOPAY_MASTER_KEY, a ledger service with its own journal, the network simulator (behind a spy
 * that keeps the last request) and the wallet state, its record kinds registered with the
 * journal. A world starts as the server does: the journal replayed (the ledger's events and the
 * wallet's images), then the JSON records of a database from before the journal loaded and moved
 * into it. Every mutating helper is one batch: begin, the call, the ledger's before_commit hook
 * (which appends the batch's log record), commit. A "world" is one server start over the store;
 * a second world over the same store is a restart. */

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mopay/connector.h"
#include "mopay/ledger_service.h"
#include "mopay/store.h"
#include "mopay/wallet.h"

#define WT_S INT64_C(1000000000)
#define WT_DAY (86400 * WT_S)
/* 2023-11-14 00:00:00 UTC, a day boundary; tests add hours to it */
#define WT_DAY0 (INT64_C(19675) * WT_DAY)
#define WT_T0 (WT_DAY0 + 10 * 3600 * WT_S)

/* Test cards and accounts of the simulator (mopay/connector.h). */
#define WT_CARD_OK "4242424242424242"
#define WT_CARD_SHORT "4000000000009995"   /* charge declined insufficient_funds, payout approved */
#define WT_CARD_STOLEN "4000000000009979"  /* declined stolen_card both ways */
#define WT_CARD_PENDING "4000000000000119" /* pending, late declined timeout */
#define WT_IBAN "GB29NWBK60161331926819"
#define WT_PIN "123456"

/* The tiers every test starts with (major units): small enough to reach in a few calls. */
#define WT_TIER0_CAP 1000
#define WT_TIER0_DAILY 100
#define WT_TIER1_CAP 5000
#define WT_TIER1_DAILY 2000
#define WT_TIER2_CAP 100000
#define WT_TIER2_DAILY 50000

/* What the connector was last asked: the request's strings copied while they were valid. */
struct wt_spy {
    struct mopay_connector base; /* first */
    struct mopay_connector *inner;
    size_t submits;
    struct mopay_connector_request last;
    char card[40], account[40], bank_code[16];
};

struct wt_world {
    struct mopay_ledger_service *ledger;
    struct wt_spy *spy;
    struct mopay_wallet_state *w;
};

struct wt {
    struct mopay_store *store;
    const struct mopay_keys *keys;
    struct mopay_wallet_options options;   /* keys, ledger and connector are set per world */
    struct mopay_connector_sim_options sim;
    struct wt_world world;                 /* the running one: the helpers act on it */
    const struct mopay_currency *usd, *eur;
    char pin_hash[MOPAY_PIN_HASH_BYTES];   /* of WT_PIN */
    int phones;                            /* customers made so far, for fresh phone numbers */
};

/* cmocka setup and teardown: *state is a struct wt with a running world. */
int wt_setup(void **state);
int wt_teardown(void **state);

/* A new world over t's store: a fresh ledger service and wallet state rebuilt from the log and
 * the records from before it, a fresh simulator (with t->options and t->sim as they are now). */
void wt_world_start(struct wt *t, struct wt_world *out);
void wt_world_stop(struct wt_world *world);
/* The same, returning the start's result: the log's replay, then mopay_wallet_load's and the
 * move's (the world is made either way: stop it). With recover false the log is not replayed
 * (ledger and wallet empty) and nothing is moved: the JSON records are only loaded. */
enum mopay_err wt_world_try(struct wt *t, struct wt_world *out, bool recover, char *err, size_t err_cap);
/* Stops the running world and starts another: a restart (the connector's late answers are lost). */
void wt_restart(struct wt *t);

void wt_begin(struct wt *t);
void wt_commit(struct wt *t, int64_t now_ns);

/* --- one batch each; those returning a pointer assert success --- */
struct mopay_customer *wt_signup(struct wt *t, int64_t now_ns, const char *name, struct mopay_device **out_device);
struct mopay_device *wt_device_add(struct wt *t, int64_t now_ns, struct mopay_customer *c, const char *name);
struct mopay_wallet *wt_wallet_open(struct wt *t, int64_t now_ns, struct mopay_customer *c,
                                    const struct mopay_currency *currency);
struct mopay_funding_source *wt_card_add(struct wt *t, int64_t now_ns, struct mopay_customer *c, const char *number,
                                         bool backup);
struct mopay_funding_source *wt_bank_add(struct wt *t, int64_t now_ns, struct mopay_customer *c, const char *number,
                                         const char *bank_code, bool backup);
enum mopay_err wt_kyc(struct wt *t, int64_t now_ns, struct mopay_customer *c, int tier);
enum mopay_err wt_freeze(struct wt *t, int64_t now_ns, struct mopay_customer *c, bool frozen);
enum mopay_err wt_revoke(struct wt *t, int64_t now_ns, struct mopay_device *d);
enum mopay_err wt_lost(struct wt *t, int64_t now_ns, struct mopay_funding_source *s);
enum mopay_err wt_topup(struct wt *t, int64_t now_ns, struct mopay_wallet *wallet, struct mopay_funding_source *s,
                        int64_t amount_minor, struct mopay_movement **out);
enum mopay_err wt_withdraw(struct wt *t, int64_t now_ns, struct mopay_wallet *wallet, struct mopay_funding_source *s,
                           int64_t amount_minor, struct mopay_movement **out);
enum mopay_err wt_p2p(struct wt *t, int64_t now_ns, struct mopay_customer *from, struct mopay_customer *to,
                      int64_t amount_minor, const char *note);
/* The sequencer's tick: the ledger's, then the wallet's. */
enum mopay_err wt_tick(struct wt *t, int64_t now_ns);
/* A session attempt with `pin` checked against the customer's hash as the API does; the token
 * hash is that of token number `token`. */
enum mopay_err wt_session(struct wt *t, int64_t now_ns, struct mopay_device *d, int64_t signed_ns, const char *pin,
                          int token, enum mopay_err *out_refusal, struct mopay_session **out);
void wt_token_hash(int token, uint8_t out[32]);
/* Whether token number `token` authenticates (and as whom) at now_ns. */
bool wt_session_live(struct wt *t, int token, int64_t now_ns, const struct mopay_customer *expect);

/* --- looking --- */
struct mopay_wallet_balance wt_balance(struct wt *t, const struct mopay_wallet *wallet, int64_t now_ns);
void wt_assert_ledger_clean(struct wt *t);
void wt_digest(struct wt *t, uint8_t out[32]);
/* How many live records of `kind` ("customer", "device", "wallet", "source", "movement",
 * "session") the store's log holds: what a replay of it rebuilds. */
size_t wt_records(struct wt *t, const char *kind);
/* How many JSON rows of `kind` the store holds (a database from before the journal). */
size_t wt_rows(struct wt *t, const char *kind);
/* The number the next log record will have: unchanged when a batch wrote nothing. */
int64_t wt_log_next(struct wt *t);
/* How many history entries the wallet has. */
size_t wt_entries(struct wt *t, const struct mopay_wallet *wallet);
/* The ledger state of a movement's pending transfer. */
enum mopay_ledger_pending_state wt_transfer_state(struct wt *t, const struct mopay_id *id);

/* Minor units of USD. */
#define WT_USD(major) ((int64_t)(major) * 100)

#endif
