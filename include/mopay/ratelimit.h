#ifndef MOPAY_RATELIMIT_H
#define MOPAY_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A rate limiter with bounded memory: for each key (any bytes: an address, a principal id, a
 * merchant's terminal), at most `limit` events in any `window`, as a burst of `limit` and then
 * one every window/limit (GCRA, the token bucket kept as one time per key).
 *
 * The table is sized at start and never grows: keys are hashed (SipHash with a per-limiter
 * random key, so clients cannot aim keys at one set) into sets of MOPAY_RATELIMIT_WAYS entries;
 * a new key takes a free entry of its set, or one whose bucket is full again (which loses
 * nothing), or else the stalest one. A flood of new keys can therefore only make the limiter
 * forget the least active keys, never the busy ones it is throttling.
 *
 * Thread-safety: `shared` limiters lock one of MOPAY_RATELIMIT_LOCKS stripes per call (the h2o
 * event loops); others take no lock (the sequencer, one thread). Times are the caller's, in
 * nanoseconds, and should not go backwards by much (a step back only delays refills). */

#define MOPAY_RATELIMIT_WAYS 8
#define MOPAY_RATELIMIT_LOCKS 64

struct mopay_ratelimit;

/* limit 0: no limiter (NULL, which every call below takes as "allow"). `entries` is rounded up
 * to a power of two of at least MOPAY_RATELIMIT_WAYS * MOPAY_RATELIMIT_LOCKS. NULL also when
 * out of memory: check `limit` to tell them apart. */
struct mopay_ratelimit *mopay_ratelimit_new(uint32_t limit, int64_t window_ns, size_t entries, bool shared);
void mopay_ratelimit_free(struct mopay_ratelimit *rl);
/* mopay_ratelimit_new into *out (NULL for limit 0); false only when out of memory. */
bool mopay_ratelimit_make(uint32_t limit, int64_t window_ns, size_t entries, bool shared,
                          struct mopay_ratelimit **out);

/* Counts one event for `key`. true when it is within the limit; false when over (nothing is
 * counted) and *retry_after_s, if not NULL, is the whole seconds (>= 1) until one is allowed. */
bool mopay_ratelimit_take(struct mopay_ratelimit *rl, const void *key, size_t key_len, int64_t now_ns,
                          int64_t *retry_after_s);
/* Whether one event would be allowed now, counting nothing; *retry_after_s as above. */
bool mopay_ratelimit_check(struct mopay_ratelimit *rl, const void *key, size_t key_len, int64_t now_ns,
                           int64_t *retry_after_s);

/* The limit and window it was made with (0 for NULL). */
uint32_t mopay_ratelimit_limit(const struct mopay_ratelimit *rl);
int64_t mopay_ratelimit_window_ns(const struct mopay_ratelimit *rl);

#endif
