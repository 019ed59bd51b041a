#ifndef MOPAY_API_INTERNAL_H
#define MOPAY_API_INTERNAL_H

#include <pthread.h>

#include "mopay/api.h"
#include "mopay/limits.h"

/* Bearer credentials in memory: the keyed hash of each key, open addressing. Loop threads read
 * under the read lock; the sequencer thread alone writes. */
#define AUTH_SLOTS (2 * MOPAY_ADMIN_KEYS_MAX)

struct auth_entry {
    uint8_t hash[32];
    struct mopay_principal principal;
    bool used;
    bool revoked;
};

struct auth_table {
    pthread_rwlock_t lock;
    struct auth_entry entries[AUTH_SLOTS];
    size_t count;
};

struct mopay_api {
    const struct mopay_keys *keys;
    struct auth_table auth;
    struct mopay_seq *seq;
    struct mopay_http_server *server;
    const char *backend;
    struct mopay_ledger_service *ledger;
};

/* auth.c */
void auth_init(struct auth_table *t);
void auth_deinit(struct auth_table *t);
/* false when the table is full or the hash is already there. */
bool auth_insert(struct auth_table *t, const uint8_t hash[32], const struct mopay_principal *p, bool revoked);
/* false when no live credential has this id. */
bool auth_revoke(struct auth_table *t, const char *id);
bool auth_is_live(struct auth_table *t, const char *id);
size_t auth_live_count(struct auth_table *t, enum mopay_principal_kind kind);
bool api_authenticate(void *ctx, const char *token, size_t len, struct mopay_principal *out);

/* handlers */
void api_healthz(struct mopay_http_request *req);
void api_metrics(struct mopay_http_request *req);
void api_admin_keys_create(struct mopay_http_request *req);
void api_admin_keys_revoke(struct mopay_http_request *req);
void api_ledger_accounts_create(struct mopay_http_request *req);
void api_ledger_transfers_create(struct mopay_http_request *req);
void api_ledger_account_get(struct mopay_http_request *req);
void api_ledger_transfer_get(struct mopay_http_request *req);
void api_ledger_check(struct mopay_http_request *req);

/* admin_keys.c: a new key's secret and its hash */
void admin_key_make(const struct mopay_keys *keys, char secret[MOPAY_ADMIN_KEY_SECRET_BYTES], uint8_t hash[32]);

#endif
