/* Delivery. One thread does the network I/O and nothing else: each round it submits a command
 * that takes up to MOPAY_WEBHOOK_DELIVERY_BATCH_MAX due events out of the heap (in flight),
 * POSTs them one after the other with one reused libcurl handle, and submits a command with the
 * results, which changes the events and their records on the sequencer thread. A crash between a
 * POST and the commit of its result leaves the record pending, so the event is sent again after
 * the restart: at least once, and receivers dedupe by Mopay-Event-Id.
 *
 * One thread POSTing in turn keeps this simple and bounded, at the price that an endpoint which
 * hangs costs up to request_timeout_ms per event and delays everyone else's events meanwhile. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/clock.h"
#include "mopay/log.h"
#include "mopay/text.h"

/* --- on the sequencer thread --- */

static enum mopay_err round_claim_apply(struct mopay_seq_cmd *cmd, struct mopay_store *store, int64_t now_ns)
{
    (void)store; /* in flight is memory only: after a crash every pending event is due again */
    struct outbox_round *r = (struct outbox_round *)cmd;
    struct mopay_outbox *o = r->outbox;
    MOPAY_ASSERT(o->in_flight == 0);
    r->count = 0;
    while (r->count < MOPAY_WEBHOOK_DELIVERY_BATCH_MAX && heap_peek(o) != NULL &&
           heap_peek(o)->next_attempt_at_ns <= now_ns)
        r->events[r->count++] = heap_pop(o);
    o->in_flight = r->count;
    return MOPAY_OK;
}

/* The wait after the attempts-th failed attempt: retry_first_ns, doubled for each attempt after
 * the first, at most retry_max_ns. */
static int64_t retry_delay_ns(const struct mopay_outbox_options *options, uint32_t attempts)
{
    int64_t delay = options->retry_first_ns;
    for (uint32_t i = 1; i < attempts && delay < options->retry_max_ns; i++)
        delay = delay > options->retry_max_ns / 2 ? options->retry_max_ns : delay * 2;
    return delay;
}

static enum mopay_err report_event(struct mopay_outbox *o, struct mopay_store *store, int64_t now_ns,
                                   struct outbox_event *ev, enum outbox_outcome outcome, int status)
{
    enum mopay_err err;
    if (outcome == OUTBOX_UNTRIED) {
        heap_push(o, ev);
        return MOPAY_OK;
    }
    if (outcome == OUTBOX_DELIVERED) {
        bool found = false;
        err = store->record_delete(store, OUTBOX_KIND, ev->id_text, &found);
        MOPAY_ASSERT(err != MOPAY_OK || found); /* every event in memory has its record */
        atomic_fetch_add(&o->delivered, 1);
        atomic_fetch_sub(&o->pending, 1);
        event_free(ev);
        return err;
    }
    ev->attempts++;
    ev->last_status = status;
    atomic_fetch_add(&o->failed_attempts, 1);
    if (ev->attempts < o->options.attempts_max) {
        ev->next_attempt_at_ns = now_ns + retry_delay_ns(&o->options, ev->attempts);
        heap_push(o, ev);
        return event_record_put(store, now_ns, ev, "pending");
    }
    MOPAY_LOG_WARN("webhook event dead: no more attempts", "event=%s merchant=%s attempts=%u last_status=%d",
                   ev->id_text, ev->merchant_id, ev->attempts, ev->last_status);
    err = event_record_put(store, now_ns, ev, "failed");
    atomic_fetch_add(&o->dead, 1);
    atomic_fetch_sub(&o->pending, 1);
    event_free(ev);
    return err;
}

static enum mopay_err round_report_apply(struct mopay_seq_cmd *cmd, struct mopay_store *store, int64_t now_ns)
{
    struct outbox_round *r = (struct outbox_round *)cmd;
    struct mopay_outbox *o = r->outbox;
    MOPAY_ASSERT(o->in_flight == r->count);
    o->in_flight = 0;
    for (size_t i = 0; i < r->count; i++) {
        enum mopay_err err = report_event(o, store, now_ns, r->events[i], r->outcomes[i], r->statuses[i]);
        if (err != MOPAY_OK)
            return err; /* the store's, which stops the process */
    }
    r->count = 0;
    return MOPAY_OK;
}

static void round_done(struct mopay_seq_cmd *cmd)
{
    struct outbox_round *r = (struct outbox_round *)cmd;
    pthread_mutex_lock(&r->outbox->lock);
    r->done = true;
    pthread_cond_signal(&r->outbox->round_done);
    pthread_mutex_unlock(&r->outbox->lock);
}

/* --- on the delivery thread --- */

static bool outbox_stopping(struct mopay_outbox *o)
{
    pthread_mutex_lock(&o->lock);
    bool stopping = o->stopping;
    pthread_mutex_unlock(&o->lock);
    return stopping;
}

/* Sleeps until an event is added, stop begins, or `wait_ms` pass. */
static void outbox_nap(struct mopay_outbox *o, int64_t wait_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += (time_t)(wait_ms / 1000);
    deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&o->lock);
    while (!o->woken && !o->stopping)
        if (pthread_cond_timedwait(&o->wake, &o->lock, &deadline) == ETIMEDOUT)
            break;
    o->woken = false;
    pthread_mutex_unlock(&o->lock);
}

/* Submits the round's command and waits for its done, which comes after its batch's commit;
 * the sequencer's refusal (overloaded, shutting_down) otherwise. */
static enum mopay_err round_run(struct mopay_outbox *o, mopay_seq_apply_fn apply)
{
    struct outbox_round *r = &o->round;
    r->cmd = (struct mopay_seq_cmd){.apply = apply, .done = round_done};
    r->done = false; /* nobody else looks at the round until it is submitted */
    enum mopay_err err = mopay_seq_submit(o->seq, &r->cmd);
    if (err != MOPAY_OK)
        return err;
    pthread_mutex_lock(&o->lock);
    while (!r->done)
        pthread_cond_wait(&o->round_done, &o->lock);
    pthread_mutex_unlock(&o->lock);
    return MOPAY_OK;
}

/* "Mopay-Signature: t=<t>,v1=<hex HMAC-SHA256 of "<t>.<body>">" keyed by the event's secret, which
 * is opened for this signature alone and wiped after. */
static void event_sign(const struct mopay_outbox *o, const struct outbox_event *ev, int64_t t, char *out,
                       size_t cap)
{
    /* room for what a legacy open would write, though only the 32 bytes of a bound seal are used */
    uint8_t secret[OUTBOX_SEALED_BYTES - MOPAY_SEAL_OVERHEAD], mac[crypto_auth_hmacsha256_BYTES];
    char prefix[32], hex[2 * crypto_auth_hmacsha256_BYTES + 1];
    int prefix_len = snprintf(prefix, sizeof(prefix), "%lld.", (long long)t);
    char ad[MOPAY_SEAL_AD_BYTES];
    size_t secret_len = 0;
    bool legacy = false;
    mopay_seal_ad(ad, "event", ev->id_text, "secret");
    bool opened = mopay_keys_open_ad(o->options.keys->secret_seal, ad, ev->secret_sealed, sizeof(ev->secret_sealed),
                                     secret, &secret_len, &legacy);
    /* sealed for this event by mopay_outbox_add, or checked (and re-sealed) by the load */
    MOPAY_ASSERT(opened && !legacy && secret_len == 32);
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init(&state, secret, 32);
    crypto_auth_hmacsha256_update(&state, (const unsigned char *)prefix, (size_t)prefix_len);
    crypto_auth_hmacsha256_update(&state, (const unsigned char *)ev->body, ev->body_len);
    crypto_auth_hmacsha256_final(&state, mac);
    sodium_memzero(secret, sizeof(secret));
    sodium_memzero(&state, sizeof(state));
    sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
    snprintf(out, cap, "Mopay-Signature: t=%lld,v1=%s", (long long)t, hex);
}

/* The receiver's answer is read and dropped: only its status counts. */
static size_t discard_body(char *data, size_t size, size_t count, void *ctx)
{
    (void)data, (void)ctx;
    return size * count;
}

static struct curl_slist *event_headers(const struct mopay_outbox *o, const struct outbox_event *ev)
{
    char signature[128], event_id[64];
    event_sign(o, ev, mopay_clock_now_ns() / 1000000000, signature, sizeof(signature));
    snprintf(event_id, sizeof(event_id), "Mopay-Event-Id: %s", ev->id_text);
    /* "Expect:" stops libcurl from waiting on a 100-continue for bodies over 1 KiB. */
    const char *lines[] = {"Content-Type: application/json", signature, event_id, "Expect:"};
    struct curl_slist *headers = NULL;
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        struct curl_slist *grown = curl_slist_append(headers, lines[i]);
        if (grown == NULL) {
            curl_slist_free_all(headers);
            return NULL;
        }
        headers = grown;
    }
    return headers;
}

/* One POST: delivered on a 2xx answer, failed on anything else; *status is the HTTP status, 0
 * when there was no answer. */
static enum outbox_outcome event_post(struct mopay_outbox *o, const struct outbox_event *ev, int *status)
{
    *status = 0;
    struct curl_slist *headers = event_headers(o, ev);
    if (headers == NULL)
        return OUTBOX_FAILED;
    curl_easy_setopt(o->curl, CURLOPT_URL, ev->url);
    curl_easy_setopt(o->curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(o->curl, CURLOPT_POSTFIELDS, ev->body);
    curl_easy_setopt(o->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)ev->body_len);
    CURLcode rc = curl_easy_perform(o->curl);
    long code = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(o->curl, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_setopt(o->curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    *status = (int)code;
    if (code >= 200 && code <= 299)
        return OUTBOX_DELIVERED;
    MOPAY_LOG_INFO("webhook attempt failed", "event=%s merchant=%s status=%ld error=\"%s\"", ev->id_text,
                   ev->merchant_id, code, rc == CURLE_OK ? "" : curl_easy_strerror(rc));
    return OUTBOX_FAILED;
}

/* Reports the round's results, trying again while the sequencer's queue is full. When it refuses
 * for good (stopping), the events stay in flight until mopay_outbox_free and pending in the
 * store, so the next start sends them again. */
static void round_report(struct mopay_outbox *o)
{
    for (;;) {
        enum mopay_err err = round_run(o, round_report_apply);
        if (err == MOPAY_OK)
            return;
        if (err != MOPAY_ERR_overloaded || outbox_stopping(o)) {
            MOPAY_LOG_WARN("webhook results not recorded; the events go out again after a restart",
                           "events=%zu code=%s", o->round.count, mopay_err_code(err));
            return;
        }
        outbox_nap(o, MOPAY_WEBHOOK_IDLE_WAIT_MS);
    }
}

static void *outbox_main(void *arg)
{
    struct mopay_outbox *o = arg;
    struct outbox_round *r = &o->round;
    while (!outbox_stopping(o)) {
        /* nothing waits: no claim, so an idle server's sequencer stays idle */
        if (atomic_load(&o->pending) == 0) {
            outbox_nap(o, MOPAY_WEBHOOK_IDLE_WAIT_MS);
            continue;
        }
        if (round_run(o, round_claim_apply) != MOPAY_OK || r->count == 0) {
            outbox_nap(o, MOPAY_WEBHOOK_IDLE_WAIT_MS);
            continue;
        }
        for (size_t i = 0; i < r->count; i++) {
            r->statuses[i] = 0;
            r->outcomes[i] = outbox_stopping(o) ? OUTBOX_UNTRIED : event_post(o, r->events[i], &r->statuses[i]);
        }
        round_report(o);
    }
    return NULL;
}

static CURL *outbox_curl(const struct mopay_outbox_options *options)
{
    CURL *curl = curl_easy_init();
    if (curl == NULL)
        return NULL;
    /* NOSIGNAL: timeouts without SIGALRM, which a threaded process cannot have. Redirects are not
     * followed (a 3xx is a failed attempt) and only http and https are spoken. */
    bool ok = curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
              curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)options->request_timeout_ms) == CURLE_OK &&
              curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
              curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_body) == CURLE_OK &&
              curl_easy_setopt(curl, CURLOPT_USERAGENT, "mopay-webhooks/" MOPAY_VERSION) == CURLE_OK;
    if (!ok) {
        curl_easy_cleanup(curl);
        return NULL;
    }
    return curl;
}

enum mopay_err mopay_outbox_start(struct mopay_outbox *o, struct mopay_seq *seq)
{
    MOPAY_ASSERT(!o->started && seq != NULL);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return MOPAY_ERR_internal;
    o->seq = seq;
    o->stopping = false;
    o->curl = outbox_curl(&o->options);
    if (o->curl == NULL || pthread_create(&o->thread, NULL, outbox_main, o) != 0) {
        curl_easy_cleanup(o->curl);
        o->curl = NULL;
        curl_global_cleanup();
        return MOPAY_ERR_internal;
    }
    o->started = true;
    return MOPAY_OK;
}

void mopay_outbox_stop(struct mopay_outbox *o)
{
    if (!o->started)
        return;
    pthread_mutex_lock(&o->lock);
    o->stopping = true;
    pthread_cond_signal(&o->wake);
    pthread_mutex_unlock(&o->lock);
    pthread_join(o->thread, NULL);
    curl_easy_cleanup(o->curl);
    o->curl = NULL;
    curl_global_cleanup();
    o->started = false;
}
