/* The outbox's state: the events waiting for delivery, in a min-heap by their next attempt. Their
 * durable images go into the journal (records.c) in the batch of the change that made them.
 * Delivered events are removed rather than marked: the outbox is a queue, not a history (the
 * merchant's own records are). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/clock.h"
#include "mopay/json.h"
#include "mopay/text.h"

struct mopay_outbox_options mopay_outbox_options_default(const struct mopay_keys *keys)
{
    return (struct mopay_outbox_options){
        .keys = keys,
        .retry_first_ns = (int64_t)MOPAY_WEBHOOK_RETRY_FIRST_S * 1000000000,
        .retry_max_ns = (int64_t)MOPAY_WEBHOOK_RETRY_MAX_S * 1000000000,
        .attempts_max = MOPAY_WEBHOOK_ATTEMPTS_MAX,
        .request_timeout_ms = MOPAY_WEBHOOK_TIMEOUT_MS,
        .pending_max = MOPAY_OUTBOX_EVENTS_MAX_DEFAULT,
        .per_merchant_max = MOPAY_OUTBOX_EVENTS_PER_MERCHANT_MAX_DEFAULT,
    };
}

struct mopay_outbox *mopay_outbox_new(const struct mopay_outbox_options *options)
{
    MOPAY_ASSERT(options->journal != NULL && options->keys != NULL && options->retry_first_ns > 0);
    MOPAY_ASSERT(options->retry_max_ns >= options->retry_first_ns && options->attempts_max > 0);
    MOPAY_ASSERT(options->request_timeout_ms > 0 && options->pending_max > 0 && options->per_merchant_max > 0);
    struct mopay_outbox *o = calloc(1, sizeof(*o));
    if (o == NULL)
        return NULL;
    o->heap = calloc(options->pending_max, sizeof(*o->heap));
    if (o->heap == NULL || !mopay_index_init(&o->shares, 256)) {
        free(o->heap);
        free(o);
        return NULL;
    }
    o->heap_cap = options->pending_max;
    o->options = *options;
    o->round.outbox = o;
    pthread_mutex_init(&o->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* naps must not stretch when the clock is set */
    pthread_cond_init(&o->wake, &attr);
    pthread_condattr_destroy(&attr);
    pthread_cond_init(&o->round_done, NULL);
    mopay_journal_register(options->journal, &mopay_outbox_event_kind, o);
    return o;
}

void event_free(struct outbox_event *ev)
{
    if (ev == NULL)
        return;
    free(ev->body);
    free(ev);
}

void mopay_outbox_free(struct mopay_outbox *o)
{
    if (o == NULL)
        return;
    MOPAY_ASSERT(!o->started);
    for (size_t i = 0; i < o->heap_count; i++)
        event_free(o->heap[i]);
    /* Events are left in flight only when the sequencer refused a round's report at stop: they
     * are the round's, and still pending in the log. */
    MOPAY_ASSERT(o->in_flight == 0 || o->in_flight == o->round.count);
    for (size_t i = 0; i < o->in_flight; i++)
        event_free(o->round.events[i]);
    for (size_t i = 0; o->replayed.slots != NULL && i < o->replayed.capacity; i++)
        event_free(o->replayed.slots[i].value);
    mopay_index_deinit(&o->replayed);
    pthread_cond_destroy(&o->round_done);
    pthread_cond_destroy(&o->wake);
    pthread_mutex_destroy(&o->lock);
    mopay_index_deinit(&o->shares);
    free(o->heap);
    free(o);
}

/* --- the heap --- */

static bool event_before(const struct outbox_event *a, const struct outbox_event *b)
{
    if (a->next_attempt_at_ns != b->next_attempt_at_ns)
        return a->next_attempt_at_ns < b->next_attempt_at_ns;
    return memcmp(a->id.bytes, b->id.bytes, sizeof(a->id.bytes)) < 0; /* IDs are time-ordered */
}

bool heap_grow(struct mopay_outbox *o)
{
    size_t cap = o->heap_cap * 2;
    struct outbox_event **heap = realloc(o->heap, cap * sizeof(*heap));
    if (heap == NULL)
        return false;
    o->heap = heap;
    o->heap_cap = cap;
    return true;
}

void heap_push(struct mopay_outbox *o, struct outbox_event *ev)
{
    MOPAY_ASSERT(o->heap_count < o->heap_cap);
    size_t i = o->heap_count++;
    while (i > 0 && event_before(ev, o->heap[(i - 1) / 2])) {
        o->heap[i] = o->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    o->heap[i] = ev;
}

struct outbox_event *heap_peek(const struct mopay_outbox *o)
{
    return o->heap_count > 0 ? o->heap[0] : NULL;
}

struct outbox_event *heap_pop(struct mopay_outbox *o)
{
    MOPAY_ASSERT(o->heap_count > 0);
    struct outbox_event *top = o->heap[0];
    struct outbox_event *last = o->heap[--o->heap_count];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= o->heap_count)
            break;
        if (child + 1 < o->heap_count && event_before(o->heap[child + 1], o->heap[child]))
            child++;
        if (!event_before(o->heap[child], last))
            break;
        o->heap[i] = o->heap[child];
        i = child;
    }
    o->heap[i] = last;
    return top;
}

/* --- adding --- */

/* --- room: all events together, and each merchant's share --- */

static size_t share_of(const struct mopay_outbox *o, const uint8_t merchant_key[16])
{
    return (uintptr_t)mopay_index_get(&o->shares, merchant_key);
}

void share_count(struct mopay_outbox *o, const struct outbox_event *ev, int delta)
{
    size_t n = share_of(o, ev->merchant_key);
    MOPAY_ASSERT(delta > 0 || n > 0);
    n = delta > 0 ? n + 1 : n - 1;
    if (n == 0) {
        mopay_index_remove(&o->shares, ev->merchant_key);
        return;
    }
    /* Out of memory growing the index stops the process: the share must not be lost. */
    bool ok = mopay_index_put(&o->shares, ev->merchant_key, (void *)(uintptr_t)n);
    MOPAY_ASSERT(ok);
}

void event_drop(struct mopay_outbox *o, struct outbox_event *ev)
{
    share_count(o, ev, -1);
    atomic_fetch_sub(&o->pending, 1);
    event_free(ev);
}

enum mopay_err mopay_outbox_check_room(const struct mopay_outbox *o, size_t events)
{
    size_t held = outbox_held(o); /* above pending_max only after a start with more */
    return held <= o->options.pending_max && events <= o->options.pending_max - held ? MOPAY_OK
                                                                                      : MOPAY_ERR_capacity_exhausted;
}

enum mopay_err mopay_outbox_merchant_room(const struct mopay_outbox *o, const struct mopay_id *merchant,
                                          size_t events)
{
    size_t held = share_of(o, merchant->bytes);
    return held <= o->options.per_merchant_max && events <= o->options.per_merchant_max - held
               ? MOPAY_OK
               : MOPAY_ERR_capacity_exhausted;
}

static void text_copy(char *dst, size_t cap, const char *src)
{
    size_t len = strlen(src);
    MOPAY_ASSERT(len > 0 && len < cap);
    memcpy(dst, src, len + 1);
}

/* The body every attempt sends; takes `data` over. */
static char *event_body(const struct outbox_event *ev, json_t *data, size_t *len)
{
    char created[MOPAY_TIME_TEXT_BYTES];
    mopay_time_format(ev->created_at_ns, created);
    json_t *j = json_pack("{s:s, s:s, s:s, s:o}", "id", ev->id_text, "type", ev->type, "created_at", created,
                          "data", data);
    MOPAY_ASSERT(j != NULL);
    char *body = mopay_json_dump(j, len);
    json_decref(j);
    return body;
}

/* Tells a napping delivery thread that an event waits. Its claim is a command of its own, whose
 * done (after which it POSTs) comes after the commit of the claim's batch: an event goes out
 * only once it is durable. */
static void outbox_wake(struct mopay_outbox *o)
{
    pthread_mutex_lock(&o->lock);
    o->woken = true;
    pthread_cond_signal(&o->wake);
    pthread_mutex_unlock(&o->lock);
}

void outbox_seal_key(const struct mopay_outbox *o, const struct outbox_event *ev, const uint8_t *key, size_t key_len,
                     uint8_t *out, size_t *out_len)
{
    MOPAY_ASSERT(key_len >= MOPAY_WEBHOOK_KEY_BYTES_MIN && key_len <= MOPAY_WEBHOOK_KEY_BYTES_MAX);
    char ad[MOPAY_SEAL_AD_BYTES];
    mopay_seal_ad(ad, "event", ev->id_text, "secret");
    mopay_keys_seal_ad(o->options.keys->secret_seal, ad, key, key_len, out);
    *out_len = key_len + MOPAY_SEAL_AD_OVERHEAD;
}

bool outbox_open_key(const struct mopay_outbox *o, const struct outbox_event *ev, uint8_t *key_out, size_t *key_len,
                     bool *legacy)
{
    char ad[MOPAY_SEAL_AD_BYTES];
    mopay_seal_ad(ad, "event", ev->id_text, "secret");
    *key_len = 0;
    return ev->secret_sealed_len >= OUTBOX_SEALED_BYTES_MIN && ev->secret_sealed_len <= OUTBOX_SEALED_BYTES_MAX &&
           mopay_keys_open_ad(o->options.keys->secret_seal, ad, ev->secret_sealed, ev->secret_sealed_len, key_out,
                              key_len, legacy) &&
           *key_len >= MOPAY_WEBHOOK_KEY_BYTES_MIN && *key_len <= MOPAY_WEBHOOK_KEY_BYTES_MAX;
}

enum mopay_err mopay_outbox_add(struct mopay_outbox *o, int64_t now_ns, const char *merchant_id, const char *url,
                                const uint8_t *key, size_t key_len, const char *type, json_t *data,
                                char id_out[MOPAY_ID_TEXT_BYTES])
{
    struct mopay_id merchant;
    MOPAY_ASSERT(now_ns > 0 && json_is_object(data));
    MOPAY_ASSERT(key_len >= MOPAY_WEBHOOK_KEY_BYTES_MIN && key_len <= MOPAY_WEBHOOK_KEY_BYTES_MAX);
    MOPAY_ASSERT(mopay_id_parse(MOPAY_ID_MERCHANT, merchant_id, strlen(merchant_id), &merchant) == MOPAY_OK);
    if (mopay_outbox_check_room(o, 1) != MOPAY_OK || mopay_outbox_merchant_room(o, &merchant, 1) != MOPAY_OK) {
        json_decref(data);
        return MOPAY_ERR_capacity_exhausted;
    }
    /* Running out of memory stops the process here, which is the safe outcome: the command's
     * earlier writes must not commit without their event. */
    struct outbox_event *ev = calloc(1, sizeof(*ev));
    MOPAY_ASSERT(ev != NULL);
    mopay_id_new(now_ns, &ev->id);
    mopay_id_format(MOPAY_ID_EVENT, &ev->id, ev->id_text);
    text_copy(ev->merchant_id, sizeof(ev->merchant_id), merchant_id);
    memcpy(ev->merchant_key, merchant.bytes, sizeof(ev->merchant_key));
    text_copy(ev->url, sizeof(ev->url), url);
    text_copy(ev->type, sizeof(ev->type), type);
    outbox_seal_key(o, ev, key, key_len, ev->secret_sealed, &ev->secret_sealed_len);
    ev->created_at_ns = now_ns;
    ev->next_attempt_at_ns = now_ns;
    ev->body = event_body(ev, data, &ev->body_len);
    MOPAY_ASSERT(ev->body != NULL && ev->body_len <= MOPAY_WEBHOOK_BODY_BYTES_MAX);
    enum mopay_err err = event_record_put(o, now_ns, ev);
    if (err != MOPAY_OK) {
        event_free(ev);
        return err;
    }
    heap_push(o, ev);
    share_count(o, ev, 1);
    atomic_fetch_add(&o->pending, 1);
    memcpy(id_out, ev->id_text, MOPAY_ID_TEXT_BYTES);
    outbox_wake(o);
    return MOPAY_OK;
}

enum mopay_err mopay_outbox_rekey(struct mopay_outbox *o, int64_t now_ns, const char *merchant_id,
                                  const uint8_t *key, size_t key_len)
{
    MOPAY_ASSERT(key_len >= MOPAY_WEBHOOK_KEY_BYTES_MIN && key_len <= MOPAY_WEBHOOK_KEY_BYTES_MAX);
    /* In flight: the delivery thread reads secret_sealed now, so the key waits in rekey_sealed
     * for the round's report, which puts the image. */
    for (size_t i = 0; i < o->in_flight; i++) {
        struct outbox_event *ev = o->round.events[i];
        if (strcmp(ev->merchant_id, merchant_id) == 0) {
            outbox_seal_key(o, ev, key, key_len, ev->rekey_sealed, &ev->rekey_sealed_len);
        }
    }
    for (size_t i = 0; i < o->heap_count; i++) {
        struct outbox_event *ev = o->heap[i];
        if (strcmp(ev->merchant_id, merchant_id) != 0)
            continue;
        outbox_seal_key(o, ev, key, key_len, ev->secret_sealed, &ev->secret_sealed_len);
        enum mopay_err err = event_record_put(o, now_ns, ev);
        if (err != MOPAY_OK)
            return err;
    }
    return MOPAY_OK;
}

void mopay_outbox_stats(const struct mopay_outbox *o, struct mopay_outbox_stats *out)
{
    out->delivered = atomic_load(&o->delivered);
    out->failed_attempts = atomic_load(&o->failed_attempts);
    out->dead = atomic_load(&o->dead);
    out->pending = atomic_load(&o->pending);
}
