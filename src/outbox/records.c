/* Webhook events in the journal: their table, and how replay puts them back.
 *
 * An event's image is put when it is added, after each failed attempt (its next attempt), when
 * its merchant rotates the key, and once more, marked dead, when its attempts run out; a
 * delivered event's removal carries its id alone (the rest of the image empty), so that the
 * delivery of a large body does not log the body a second time.
 *
 * The HMAC key is in the image as it is in memory: sealed under keys->secret_seal for the event
 * ("event/<id>/secret"), never in the clear; replay checks that it opens. The body is the exact
 * bytes every attempt sends.
 *
 * Replay keeps the events it makes in an index by id (their images name them by id), out of the
 * heap; outbox_replay_end, at mopay_outbox_load or mopay_outbox_start, moves them into it. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"

/* The sealed key, after secret_sealed_len: those bytes. A key that does not open as this event's
 * (the event's id is decoded before it) is refused; an image without one (a removal) has none. */
static size_t sealed_encode(void *state, const void *record, uint8_t *out, size_t cap)
{
    (void)state;
    const struct outbox_event *ev = record;
    MOPAY_ASSERT(ev->secret_sealed_len <= cap);
    memcpy(out, ev->secret_sealed, ev->secret_sealed_len);
    return ev->secret_sealed_len;
}

static bool sealed_decode(void *state, void *record, const uint8_t *in, size_t len)
{
    struct outbox_event *ev = record;
    if (len != ev->secret_sealed_len || len > sizeof(ev->secret_sealed))
        return false;
    if (len == 0)
        return true;
    memcpy(ev->secret_sealed, in, len);
    mopay_id_format(MOPAY_ID_EVENT, &ev->id, ev->id_text); /* the seal's associated data names it */
    uint8_t key[MOPAY_WEBHOOK_KEY_BYTES_MAX + 1];
    size_t key_len = 0;
    bool legacy = false;
    bool ok = outbox_open_key(state, ev, key, &key_len, &legacy) && !legacy; /* images hold bound seals only */
    sodium_memzero(key, sizeof(key));
    return ok;
}

static const struct mopay_codec_custom sealed_codec = {sealed_encode, sealed_decode, OUTBOX_SEALED_BYTES_MAX};

/* The body, after body_len: those bytes. Decoded in place: the decoded event's body points into
 * the image (body_len bytes, no NUL), valid while replay applies it, and apply copies it. */
static size_t body_encode(void *state, const void *record, uint8_t *out, size_t cap)
{
    (void)state;
    const struct outbox_event *ev = record;
    MOPAY_ASSERT(ev->body_len <= cap);
    if (ev->body_len > 0)
        memcpy(out, ev->body, ev->body_len);
    return ev->body_len;
}

static bool body_decode(void *state, void *record, const uint8_t *in, size_t len)
{
    (void)state;
    struct outbox_event *ev = record;
    if (len != ev->body_len)
        return false;
    ev->body = len > 0 ? (char *)(uintptr_t)in : NULL;
    return true;
}

static const struct mopay_codec_custom body_codec = {body_encode, body_decode, MOPAY_WEBHOOK_BODY_BYTES_MAX};

#define E struct outbox_event
static const struct mopay_codec_field event_fields[] = {
    MOPAY_CODEC_ID_FIELD(E, id),
    MOPAY_CODEC_BYTES_FIELD(E, merchant_key),
    MOPAY_CODEC_TEXT_FIELD(E, type),
    MOPAY_CODEC_TEXT_FIELD(E, url),
    MOPAY_CODEC_UINT_FIELD(E, secret_sealed_len),
    MOPAY_CODEC_CUSTOM_FIELD(E, secret_sealed, &sealed_codec),
    MOPAY_CODEC_UINT_FIELD(E, body_len),
    MOPAY_CODEC_CUSTOM_FIELD(E, body, &body_codec),
    MOPAY_CODEC_INT_FIELD(E, created_at_ns),
    MOPAY_CODEC_INT_FIELD(E, next_attempt_at_ns),
    MOPAY_CODEC_UINT_FIELD(E, attempts),
    MOPAY_CODEC_INT_FIELD(E, last_status),
    MOPAY_CODEC_BOOL_FIELD(E, dead),
};
#undef E

static bool id_zero(const uint8_t bytes[16])
{
    static const uint8_t zero[16];
    return memcmp(bytes, zero, sizeof(zero)) == 0;
}

/* What loading an event checks, as the records before the journal were checked. */
static bool event_valid(const struct outbox_event *ev)
{
    return !id_zero(ev->id.bytes) && !id_zero(ev->merchant_key) && ev->type[0] != '\0' && ev->url[0] != '\0' &&
           ev->secret_sealed_len >= OUTBOX_SEALED_BYTES_MIN && ev->body_len > 0 && ev->created_at_ns > 0 &&
           ev->next_attempt_at_ns >= ev->created_at_ns;
}

/* A new event from its image: what the image does not hold made from what it does. */
static struct outbox_event *event_from_image(const struct outbox_event *in)
{
    struct outbox_event *ev = malloc(sizeof(*ev));
    char *body = malloc(in->body_len + 1);
    if (ev == NULL || body == NULL) {
        free(ev);
        free(body);
        return NULL;
    }
    memcpy(ev, in, sizeof(*ev));
    mopay_id_format(MOPAY_ID_EVENT, &ev->id, ev->id_text);
    struct mopay_id merchant;
    memcpy(merchant.bytes, ev->merchant_key, sizeof(merchant.bytes));
    mopay_id_format(MOPAY_ID_MERCHANT, &merchant, ev->merchant_id);
    memcpy(body, in->body, in->body_len);
    body[in->body_len] = '\0';
    ev->body = body;
    ev->rekey_sealed_len = 0;
    return ev;
}

static enum mopay_err event_apply(void *state, const void *image, char *why, size_t why_cap)
{
    struct mopay_outbox *o = state;
    const struct outbox_event *in = image;
    MOPAY_ASSERT(!o->replay_ended && !o->started); /* replay comes first, before the outbox holds anything */
    if (!event_valid(in))
        return mopay_codec_refuse(why, why_cap, "webhook event", "malformed, or without its key or body");
    if (o->replayed.slots == NULL && !mopay_index_init(&o->replayed, 256))
        return mopay_codec_refuse(why, why_cap, "webhook event", "out of memory");
    struct outbox_event *ev = mopay_index_get(&o->replayed, in->id.bytes);
    if (ev != NULL) {
        if (in->body_len != ev->body_len)
            return mopay_codec_refuse(why, why_cap, "webhook event", "its body changed");
        char *body = ev->body; /* made once, when the event was: the image's points into the log */
        mopay_codec_copy(&mopay_outbox_event_kind, ev, in);
        ev->body = body;
        if (ev->dead) { /* out of attempts: counted, no longer held */
            mopay_index_remove(&o->replayed, ev->id.bytes);
            atomic_fetch_add(&o->dead, 1);
            event_drop(o, ev);
        }
        return MOPAY_OK;
    }
    if (in->dead) { /* dead when it was moved into the journal */
        atomic_fetch_add(&o->dead, 1);
        return MOPAY_OK;
    }
    if ((ev = event_from_image(in)) == NULL || !mopay_index_put(&o->replayed, ev->id.bytes, ev)) {
        event_free(ev);
        return mopay_codec_refuse(why, why_cap, "webhook event", "out of memory");
    }
    share_count(o, ev, 1);
    atomic_fetch_add(&o->pending, 1);
    return MOPAY_OK;
}

static enum mopay_err event_remove(void *state, const void *image, char *why, size_t why_cap)
{
    struct mopay_outbox *o = state;
    const struct outbox_event *in = image;
    MOPAY_ASSERT(!o->replay_ended && !o->started);
    struct outbox_event *ev = o->replayed.slots != NULL ? mopay_index_remove(&o->replayed, in->id.bytes) : NULL;
    if (ev == NULL)
        return mopay_codec_refuse(why, why_cap, "webhook event", "delivered, but not pending");
    event_drop(o, ev);
    return MOPAY_OK;
}

static void event_each(void *state, bool (*fn)(void *ctx, const void *record), void *ctx)
{
    struct mopay_outbox *o = state;
    for (size_t i = 0; i < o->heap_count; i++)
        if (!fn(ctx, o->heap[i]))
            return;
    for (size_t i = 0; i < o->in_flight; i++)
        if (!fn(ctx, o->round.events[i]))
            return;
    if (o->replayed.slots != NULL)
        mopay_index_each(&o->replayed, fn, ctx);
}

const struct mopay_record_kind mopay_outbox_event_kind = {
    .name = OUTBOX_KIND,
    .tag = MOPAY_RECORD_WEBHOOK_EVENT,
    .version = 1,
    .size = sizeof(struct outbox_event),
    .fields = event_fields,
    .field_count = sizeof(event_fields) / sizeof(event_fields[0]),
    .apply = event_apply,
    .remove = event_remove,
    .each = event_each,
};

enum mopay_err event_record_put(struct mopay_outbox *o, int64_t now_ns, const struct outbox_event *ev)
{
    MOPAY_ASSERT(ev->body_len > 0 && ev->secret_sealed_len >= OUTBOX_SEALED_BYTES_MIN); /* before writing */
    return mopay_journal_put(o->options.journal, &mopay_outbox_event_kind, ev, now_ns);
}

enum mopay_err event_record_remove(struct mopay_outbox *o, int64_t now_ns, const struct outbox_event *ev)
{
    o->gone.id = ev->id; /* the rest of `gone` stays empty */
    return mopay_journal_remove(o->options.journal, &mopay_outbox_event_kind, &o->gone, now_ns);
}

size_t outbox_held(const struct mopay_outbox *o)
{
    return o->heap_count + o->in_flight + o->replayed.count;
}

bool outbox_replay_end(struct mopay_outbox *o)
{
    o->replay_ended = true;
    for (size_t i = 0; o->replayed.slots != NULL && i < o->replayed.capacity; i++) {
        struct outbox_event *ev = o->replayed.slots[i].value;
        if (ev == NULL)
            continue;
        /* more pending than pending_max (the limit was lowered): all are kept */
        if (o->heap_count == o->heap_cap && !heap_grow(o))
            return false; /* those not moved yet stay in the index, still held and freed with it */
        heap_push(o, ev);
        o->replayed.slots[i].value = NULL;
        o->replayed.count--;
    }
    mopay_index_deinit(&o->replayed);
    return true;
}
