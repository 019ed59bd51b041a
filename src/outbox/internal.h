#ifndef MOPAY_OUTBOX_INTERNAL_H
#define MOPAY_OUTBOX_INTERNAL_H

/* Shared between the files of the outbox module; not part of its interface. */

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <curl/curl.h>

#include "mopay/limits.h"
#include "mopay/outbox.h"

#define OUTBOX_KIND "webhook"
#define OUTBOX_SEALED_BYTES (32 + MOPAY_SEAL_AD_OVERHEAD) /* sealed for its event: "event/<id>/secret" */

/* One undelivered event. The delivery thread reads the fields above `created_at_ns` while the
 * event is in flight; they never change after the event is made, and the event is freed only on
 * the sequencer thread by the command that reports its result, after the delivery thread is done
 * with it. The fields below are the sequencer thread's alone. */
struct outbox_event {
    struct mopay_id id;
    char id_text[MOPAY_ID_TEXT_BYTES];
    char merchant_id[MOPAY_ID_TEXT_BYTES];
    char type[MOPAY_WEBHOOK_TYPE_BYTES_MAX + 1];
    char url[MOPAY_WEBHOOK_URL_BYTES_MAX + 1];
    uint8_t secret_sealed[OUTBOX_SEALED_BYTES];
    char *body; /* malloc'd, NUL-terminated; the exact bytes every attempt sends */
    size_t body_len;
    int64_t created_at_ns;
    int64_t next_attempt_at_ns;
    uint32_t attempts;  /* failed so far */
    int last_status;    /* HTTP status of the last failed attempt; 0: no answer */
};

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
    struct outbox_event **heap; /* pending_max slots, allocated once */
    size_t heap_count;
    size_t in_flight;

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
/* The earliest waiting event, or NULL. */
struct outbox_event *heap_peek(const struct mopay_outbox *o);
struct outbox_event *heap_pop(struct mopay_outbox *o);
void event_free(struct outbox_event *ev);
/* Writes the event's whole record with `status` ("pending" or "failed"). */
enum mopay_err event_record_put(struct mopay_store *store, int64_t now_ns, const struct outbox_event *ev,
                                const char *status);

#endif
