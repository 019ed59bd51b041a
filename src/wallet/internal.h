#ifndef MOPAY_WALLET_INTERNAL_H
#define MOPAY_WALLET_INTERNAL_H

/* Shared between the files of the wallet module; not part of its interface. */

#include <pthread.h>

#include <jansson.h>

#include "mopay/codec.h"
#include "mopay/index.h"
#include "mopay/journal.h"
#include "mopay/text.h"
#include "mopay/wallet.h"

struct mopay_wallet_state {
    struct mopay_wallet_options options;
    struct mopay_index customers; /* id -> customer */
    struct mopay_index phones;    /* key of phone -> customer */
    struct mopay_index devices;
    struct mopay_index codes; /* payment-code index -> device */
    struct mopay_index wallets;
    struct mopay_index sources;
    struct mopay_index movements;
    struct mopay_movement *pending; /* unresolved movements, newest first */
    /* Sessions: written on the sequencer thread, read by event-loop threads. */
    pthread_rwlock_t sessions_lock;
    struct mopay_index sessions; /* first 16 bytes of the token hash -> session */
    struct mopay_session *sessions_oldest, *sessions_newest;
    int64_t sessions_purged_ns;
};

/* records.c: the journal's record kinds, and the image of a changed object in this batch's
 * record (each the object's whole image). A new object's image goes before any image that names
 * it, so that replay finds what every REF field names. */
void wallet_records_register(struct mopay_wallet_state *w);
enum mopay_err record_customer(struct mopay_wallet_state *w, int64_t now_ns, const struct mopay_customer *c);
enum mopay_err record_device(struct mopay_wallet_state *w, int64_t now_ns, const struct mopay_device *d);
enum mopay_err record_wallet(struct mopay_wallet_state *w, int64_t now_ns, const struct mopay_wallet *wallet);
enum mopay_err record_source(struct mopay_wallet_state *w, int64_t now_ns, const struct mopay_funding_source *s);
enum mopay_err record_movement(struct mopay_wallet_state *w, int64_t now_ns, const struct mopay_movement *m);
enum mopay_err record_session(struct mopay_wallet_state *w, int64_t now_ns, const struct mopay_session *s);
enum mopay_err record_session_delete(struct mopay_wallet_state *w, int64_t now_ns, const struct mopay_session *s);

/* Adding to memory: false when an index could not grow (out of memory). */
bool state_customer_add(struct mopay_wallet_state *w, struct mopay_customer *c);
/* The codes index's key for a payment-code index. */
void code_key(uint32_t code_index, uint8_t key[16]);
void state_customer_remove(struct mopay_wallet_state *w, struct mopay_customer *c);
bool state_device_add(struct mopay_wallet_state *w, struct mopay_device *d);
bool state_wallet_add(struct mopay_wallet_state *w, struct mopay_wallet *wallet);
/* Undoes the last state_wallet_add. */
void state_wallet_remove(struct mopay_wallet_state *w, struct mopay_wallet *wallet);
bool state_source_add(struct mopay_wallet_state *w, struct mopay_funding_source *s);
bool state_movement_add(struct mopay_wallet_state *w, struct mopay_movement *m);
/* Takes a movement that is no longer pending off the pending list. */
void state_pending_unlink(struct mopay_wallet_state *w, struct mopay_movement *m);
bool state_session_add(struct mopay_wallet_state *w, struct mopay_session *s);
/* Takes a session out of the index and the list, and frees it. */
void state_session_remove(struct mopay_wallet_state *w, struct mopay_session *s);

/* trust.c */
int trust_score(const struct mopay_customer *c, int64_t now_ns);
int trust_bonus_pct(int score);

/* customers.c */
enum mopay_err sessions_purge(struct mopay_wallet_state *w, int64_t now_ns);

/* sources.c: the number, opened for the connector; false when the seal does not open. */
bool source_number(struct mopay_wallet_state *w, const struct mopay_funding_source *s, char out[36]);

/* money.c */
int64_t wallet_day_of(int64_t now_ns);
/* Limits: whether `amount` may leave the wallet today (limit_exceeded, insufficient_funds), or
 * come in under its balance cap (balance_limit_exceeded); and counting an outflow, or giving
 * back one made at `made_ns` (which counts only if it was made the same day). */
enum mopay_err outflow_check(struct mopay_wallet_state *w, const struct mopay_wallet *wallet, int64_t amount_minor,
                             int64_t now_ns);
enum mopay_err inflow_check(struct mopay_wallet_state *w, const struct mopay_wallet *wallet, int64_t amount_minor,
                            int64_t now_ns);
void outflow_count(struct mopay_wallet *wallet, int64_t amount_minor, int64_t now_ns);
void outflow_count_give_back(struct mopay_wallet *wallet, int64_t amount_minor, int64_t made_ns, int64_t now_ns);
/* A history entry for a wallet (amount negative for money out). */
enum mopay_err entry_append(struct mopay_store *store, const struct mopay_wallet *wallet, int64_t now_ns,
                            const char *id, const char *type, int64_t amount_minor, const char *counterparty,
                            const char *note);


#endif
