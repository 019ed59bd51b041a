#ifndef MOPAY_OUTBOX_INTERNAL_H
#define MOPAY_OUTBOX_INTERNAL_H

/* Shared between the files of the outbox module; not part of its interface. */

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <curl/curl.h>

#include "mopay/index.h"
#include "mopay/journal.h"
#include "mopay/limits.h"
#include "mopay/outbox.h"

/* The events' record kind: the journal's name for it, and the kind of the JSON records written
 * before the journal. */
#define OUTBOX_KIND "webhook"
/* An event's HMAC key (32 to 64 bytes) sealed for its event, "event/<id>/secret"; records written
 * before seals were bound hold it sealed without associated data (40 bytes of overhead), and
 * records before webhook secrets were text a 32-byte key: both still load. */
#define OUTBOX_SEALED_BYTES_MIN (MOPAY_WEBHOOK_KEY_BYTES_MIN + MOPAY_SEAL_OVERHEAD)
#define OUTBOX_SEALED_BYTES_MAX (MOPAY_WEBHOOK_KEY_BYTES_MAX + MOPAY_SEAL_AD_OVERHEAD)

/* One undelivered event. The delivery thread reads the fields above `created_at_ns` while the
 * event is in flight; they never change after the event is made, and the event is freed only on
 * the sequencer thread by the command that reports its result, after the delivery thread is done
 * with it. The fields below are the sequencer thread's alone. Its image in the journal
 * (records.c) holds id, merchant_key, type, url, the sealed key, the body, the times, attempts,
 * last_status and dead; id_text and merchant_id are made from the ids. */
struct outbox_event {
    struct mopay_id id;
    char id_text[MOPAY_ID_TEXT_BYTES];
    char merchant_id[MOPAY_ID_TEXT_BYTES];
    uint8_t merchant_key[16]; /* the merchant id's bytes: its share's key */
    char type[MOPAY_WEBHOOK_TYPE_BYTES_MAX + 1];
    char url[MOPAY_WEBHOOK_URL_BYTES_MAX + 1];
    uint8_t secret_sealed[OUTBOX_SEALED_BYTES_MAX]; /* the HMAC key, sealed */
    size_t secret_sealed_len;
    char *body; /* malloc'd, NUL-terminated; the exact bytes every attempt sends */
    size_t body_len;
    int64_t created_at_ns;
    int64_t next_attempt_at_ns;
    uint32_t attempts;  /* failed so far */
    int last_status;    /* HTTP status of the last failed attempt; 0: no answer */
    bool dead;          /* out of attempts: its last image, kept in the journal for the operator */
    /* A key the merchant rotated to while the event was in flight: it replaces secret_sealed
     * when the event comes back (0 bytes: none). */
    uint8_t rekey_sealed[OUTBOX_SEALED_BYTES_MAX];
    size_t rekey_sealed_len;
};

/* Seals `key` for the event `ev` into out (OUTBOX_SEALED_BYTES_MAX), its length in *out_len. */
void outbox_seal_key(const struct mopay_outbox *o, const struct outbox_event *ev, const uint8_t *key, size_t key_len,
                     uint8_t *out, size_t *out_len);
/* Opens the event's key into key_out (MOPAY_WEBHOOK_KEY_BYTES_MAX + 1 bytes); false when it does
 * not open as this event's. *legacy: sealed before seals were bound (the caller re-seals it). */
bool outbox_open_key(const struct mopay_outbox *o, const struct outbox_event *ev, uint8_t *key_out, size_t *key_len,
                     bool *legacy);

enum outbox_outcome {
    OUTBOX_UNTRIED,   /* the round stopped before its POST: given back unchanged */
    OUTBOX_DELIVERED, /* a 2xx answer */
    OUTBOX_FAILED,
};

/* One delivery round: the command that takes due events, then the command that reports on
 * them. Owned by the delivery thread, which waits for each command's done before it goes on. */
struct outbox_round {
    struct mopay_seq_cmd cmd;
    struct mopay_outbox *outbox;
    bool done; /* under outbox->lock */
    size_t count;
    struct outbox_event *events[MOPAY_WEBHOOK_DELIVERY_BATCH_MAX];
    enum outbox_outcome outcomes[MOPAY_WEBHOOK_DELIVERY_BATCH_MAX];
    int statuses[MOPAY_WEBHOOK_DELIVERY_BATCH_MAX];
};

struct mopay_outbox {
    struct mopay_outbox_options options;
    /* Waiting events, a min-heap by (next_attempt_at_ns, id); events in flight are out of it.
     * Sequencer thread only (and the loading thread before start). */
    struct outbox_event **heap; /* heap_cap slots: pending_max, allocated once (more only when a
                                   start finds more pending records than pending_max) */
    size_t heap_cap;
    size_t heap_count;
    size_t in_flight;
    struct mopay_index shares; /* merchant id -> its events held, as (void *)(uintptr_t)count */
    /* Replay (records.c): the events its images made, by id, until it ends (outbox_replay_end
     * moves them into the heap); held like those in the heap. */
    struct mopay_index replayed;
    bool replay_ended;
    struct outbox_event gone; /* a delivered event's removal image: its id, the rest empty */

    /* The delivery thread. */
    struct mopay_seq *seq;
    pthread_t thread;
    bool started;
    CURL *curl;
    struct outbox_round round;
    pthread_mutex_t lock;
    pthread_cond_t wake;       /* an event was added, or stop began */
    pthread_cond_t round_done; /* the round's command is done */
    bool woken, stopping;      /* under lock */

    _Atomic uint64_t delivered, failed_attempts, dead, pending;
};

/* outbox.c */
void heap_push(struct mopay_outbox *o, struct outbox_event *ev);
/* Doubles heap_cap (loading only); false when out of memory. */
bool heap_grow(struct mopay_outbox *o);
/* The earliest waiting event, or NULL. */
struct outbox_event *heap_peek(const struct mopay_outbox *o);
struct outbox_event *heap_pop(struct mopay_outbox *o);
void event_free(struct outbox_event *ev);
/* Counts a held event in its merchant's share (+1 when it is added or loaded, -1 when it leaves
 * memory: delivered or dead). */
void share_count(struct mopay_outbox *o, const struct outbox_event *ev, int delta);
/* An event leaves memory: delivered, or dead. */
void event_drop(struct mopay_outbox *o, struct outbox_event *ev);
/* records.c: the events' record kind. */
extern const struct mopay_record_kind mopay_outbox_event_kind;
/* The event's image as it is now (waiting, or dead) into this batch's journal record. */
enum mopay_err event_record_put(struct mopay_outbox *o, int64_t now_ns, const struct outbox_event *ev);
/* The event was delivered: its removal into this batch's journal record. */
enum mopay_err event_record_remove(struct mopay_outbox *o, int64_t now_ns, const struct outbox_event *ev);
/* The end of replay: the events it made go into the heap. false when out of memory for them. */
bool outbox_replay_end(struct mopay_outbox *o);
/* Every event held: waiting, in flight, and made by a replay not yet ended. */
size_t outbox_held(const struct mopay_outbox *o);

#endif
