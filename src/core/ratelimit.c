/* The rate limiter (mopay/ratelimit.h): GCRA over a set-associative table of fixed size.
 *
 * Per key, one time: the "theoretical arrival time" `tat`. An event at `now` is allowed when
 * max(tat, now) + interval - now <= window (interval = window / limit), and then moves tat to
 * max(tat, now) + interval. A tat at or before `now` is a full bucket, the same as no entry. */
#include "mopay/ratelimit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mopay/assert.h"

#define NS_PER_S INT64_C(1000000000)

struct ratelimit_entry {
    uint64_t key; /* 0: free (a key hashing to 0 is stored as 1) */
    int64_t tat_ns;
};

struct mopay_ratelimit {
    uint32_t limit;
    int64_t window_ns, interval_ns;
    bool shared;
    size_t set_mask; /* sets - 1 */
    uint8_t hash_key[crypto_shorthash_KEYBYTES];
    pthread_mutex_t locks[MOPAY_RATELIMIT_LOCKS];
    struct ratelimit_entry *entries; /* sets * MOPAY_RATELIMIT_WAYS */
};

struct mopay_ratelimit *mopay_ratelimit_new(uint32_t limit, int64_t window_ns, size_t entries, bool shared)
{
    if (limit == 0)
        return NULL;
    MOPAY_ASSERT(window_ns > 0);
    struct mopay_ratelimit *rl = calloc(1, sizeof(*rl));
    if (rl == NULL)
        return NULL;
    size_t sets = MOPAY_RATELIMIT_LOCKS;
    while (sets * MOPAY_RATELIMIT_WAYS < entries)
        sets *= 2;
    rl->entries = calloc(sets * MOPAY_RATELIMIT_WAYS, sizeof(*rl->entries));
    if (rl->entries == NULL) {
        free(rl);
        return NULL;
    }
    rl->limit = limit;
    rl->window_ns = window_ns;
    rl->interval_ns = window_ns / limit > 0 ? window_ns / limit : 1;
    rl->shared = shared;
    rl->set_mask = sets - 1;
    randombytes_buf(rl->hash_key, sizeof(rl->hash_key));
    for (size_t i = 0; i < MOPAY_RATELIMIT_LOCKS; i++)
        pthread_mutex_init(&rl->locks[i], NULL);
    return rl;
}

bool mopay_ratelimit_make(uint32_t limit, int64_t window_ns, size_t entries, bool shared,
                          struct mopay_ratelimit **out)
{
    *out = mopay_ratelimit_new(limit, window_ns, entries, shared);
    return limit == 0 || *out != NULL;
}

void mopay_ratelimit_free(struct mopay_ratelimit *rl)
{
    if (rl == NULL)
        return;
    for (size_t i = 0; i < MOPAY_RATELIMIT_LOCKS; i++)
        pthread_mutex_destroy(&rl->locks[i]);
    free(rl->entries);
    free(rl);
}

uint32_t mopay_ratelimit_limit(const struct mopay_ratelimit *rl)
{
    return rl != NULL ? rl->limit : 0;
}

int64_t mopay_ratelimit_window_ns(const struct mopay_ratelimit *rl)
{
    return rl != NULL ? rl->window_ns : 0;
}

/* The key's entry in its set; when absent and `make`, one made from a free entry, else the
 * stalest (the smallest tat: one whose bucket is full again, if any, so nothing is lost). */
static struct ratelimit_entry *entry_of(struct ratelimit_entry *set, uint64_t key, int64_t now_ns, bool make)
{
    struct ratelimit_entry *victim = NULL;
    for (size_t i = 0; i < MOPAY_RATELIMIT_WAYS; i++) {
        if (set[i].key == key)
            return &set[i];
        bool better = victim == NULL || (victim->key != 0 && (set[i].key == 0 || set[i].tat_ns < victim->tat_ns));
        if (better)
            victim = &set[i];
    }
    if (!make)
        return NULL;
    victim->key = key;
    victim->tat_ns = now_ns; /* a new key starts with a full bucket */
    return victim;
}

static bool ratelimit_step(struct mopay_ratelimit *rl, const void *key, size_t key_len, int64_t now_ns,
                           bool take, int64_t *retry_after_s)
{
    if (rl == NULL)
        return true;
    uint8_t h[crypto_shorthash_BYTES];
    crypto_shorthash(h, key, key_len, rl->hash_key);
    uint64_t k;
    memcpy(&k, h, sizeof(k));
    k = k != 0 ? k : 1;
    size_t set = (size_t)(k >> 32) & rl->set_mask;
    pthread_mutex_t *lock = &rl->locks[set % MOPAY_RATELIMIT_LOCKS];
    if (rl->shared)
        pthread_mutex_lock(lock);
    struct ratelimit_entry *e = entry_of(&rl->entries[set * MOPAY_RATELIMIT_WAYS], k, now_ns, take);
    int64_t from = e != NULL && e->tat_ns > now_ns ? e->tat_ns : now_ns;
    int64_t next = from + rl->interval_ns;
    bool allowed = next - now_ns <= rl->window_ns;
    if (allowed && take)
        e->tat_ns = next;
    if (rl->shared)
        pthread_mutex_unlock(lock);
    if (!allowed && retry_after_s != NULL) {
        int64_t wait_ns = next - now_ns - rl->window_ns;
        *retry_after_s = (wait_ns + NS_PER_S - 1) / NS_PER_S;
        if (*retry_after_s < 1)
            *retry_after_s = 1;
    }
    return allowed;
}

bool mopay_ratelimit_take(struct mopay_ratelimit *rl, const void *key, size_t key_len, int64_t now_ns,
                          int64_t *retry_after_s)
{
    return ratelimit_step(rl, key, key_len, now_ns, true, retry_after_s);
}

bool mopay_ratelimit_check(struct mopay_ratelimit *rl, const void *key, size_t key_len, int64_t now_ns,
                           int64_t *retry_after_s)
{
    return ratelimit_step(rl, key, key_len, now_ns, false, retry_after_s);
}
