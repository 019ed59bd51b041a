/* Delivery. One thread does the network I/O and nothing else: each round it submits a command
 * that takes up to MOPAY_WEBHOOK_DELIVERY_BATCH_MAX due events out of the heap (in flight),
 * POSTs them one after the other with one reused libcurl handle, and submits a command with the
 * results, which changes the events and journals their images on the sequencer thread. A crash
 * between a POST and the commit of its result leaves the event pending in the log, so it is sent
 * again after the restart: at least once, and receivers dedupe by Mopay-Event-Id.
 *
 * One thread POSTing in turn keeps this simple and bounded, at the price that an endpoint which
 * hangs costs up to request_timeout_ms per event and delays everyone else's events meanwhile. */
#include <arpa/inet.h>
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

static enum mopay_err report_event(struct mopay_outbox *o, int64_t now_ns, struct outbox_event *ev,
                                   enum outbox_outcome outcome, int status)
{
    enum mopay_err err;
    bool rekeyed = ev->rekey_sealed_len > 0; /* mopay_outbox_rekey while in flight */
    if (rekeyed) {
        memcpy(ev->secret_sealed, ev->rekey_sealed, ev->rekey_sealed_len);
        ev->secret_sealed_len = ev->rekey_sealed_len;
        ev->rekey_sealed_len = 0;
    }
    if (outcome == OUTBOX_UNTRIED) {
        heap_push(o, ev);
        return rekeyed ? event_record_put(o, now_ns, ev) : MOPAY_OK;
    }
    if (outcome == OUTBOX_DELIVERED) {
        err = event_record_remove(o, now_ns, ev);
        atomic_fetch_add(&o->delivered, 1);
        event_drop(o, ev);
        return err;
    }
    ev->attempts++;
    ev->last_status = status;
    atomic_fetch_add(&o->failed_attempts, 1);
    if (ev->attempts < o->options.attempts_max) {
        ev->next_attempt_at_ns = now_ns + retry_delay_ns(&o->options, ev->attempts);
        heap_push(o, ev);
        return event_record_put(o, now_ns, ev);
    }
    MOPAY_LOG_WARN("webhook event dead: no more attempts", "event=%s merchant=%s attempts=%u last_status=%d",
                   ev->id_text, ev->merchant_id, ev->attempts, ev->last_status);
    ev->dead = true;
    err = event_record_put(o, now_ns, ev);
    atomic_fetch_add(&o->dead, 1);
    event_drop(o, ev);
    return err;
}

static enum mopay_err round_report_apply(struct mopay_seq_cmd *cmd, struct mopay_store *store, int64_t now_ns)
{
    (void)store; /* the results go to the journal */
    struct outbox_round *r = (struct outbox_round *)cmd;
    struct mopay_outbox *o = r->outbox;
    MOPAY_ASSERT(o->in_flight == r->count);
    o->in_flight = 0;
    for (size_t i = 0; i < r->count; i++) {
        enum mopay_err err = report_event(o, now_ns, r->events[i], r->outcomes[i], r->statuses[i]);
        if (err != MOPAY_OK)
            return err; /* the journal's, which stops the process */
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
    uint8_t key[MOPAY_WEBHOOK_KEY_BYTES_MAX + 1], mac[crypto_auth_hmacsha256_BYTES];
    char prefix[32], hex[2 * crypto_auth_hmacsha256_BYTES + 1];
    int prefix_len = snprintf(prefix, sizeof(prefix), "%lld.", (long long)t);
    size_t key_len = 0;
    bool legacy = false;
    bool opened = outbox_open_key(o, ev, key, &key_len, &legacy);
    /* sealed for this event by mopay_outbox_add or a rekey, or checked (and re-sealed) by the load */
    MOPAY_ASSERT(opened && !legacy);
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init(&state, key, key_len);
    crypto_auth_hmacsha256_update(&state, (const unsigned char *)prefix, (size_t)prefix_len);
    crypto_auth_hmacsha256_update(&state, (const unsigned char *)ev->body, ev->body_len);
    crypto_auth_hmacsha256_final(&state, mac);
    sodium_memzero(key, sizeof(key));
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

/* The addresses one delivery checked; libcurl may open a socket to these alone. */
struct delivery_target {
    const struct mopay_webhook_policy *policy;
    struct sockaddr_storage addrs[MOPAY_WEBHOOK_ADDRS_MAX];
    size_t count;
};

static bool same_addr(const struct sockaddr *a, const struct sockaddr_storage *b)
{
    if (a->sa_family != b->ss_family)
        return false;
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)a, *y = (const struct sockaddr_in *)b;
        return x->sin_addr.s_addr == y->sin_addr.s_addr && x->sin_port == y->sin_port;
    }
    const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a, *y = (const struct sockaddr_in6 *)b;
    return memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0 && x->sin6_port == y->sin6_port;
}

/* libcurl's socket opener: the last word on where a webhook connects, whatever libcurl resolved. */
static curl_socket_t delivery_socket(void *ctx, curlsocktype purpose, struct curl_sockaddr *address)
{
    const struct delivery_target *t = ctx;
    bool checked = false;
    for (size_t i = 0; purpose == CURLSOCKTYPE_IPCXN && i < t->count && !checked; i++)
        checked = same_addr(&address->addr, &t->addrs[i]);
    if (!checked || !mopay_webhook_addr_allowed(&address->addr, t->policy))
        return CURL_SOCKET_BAD;
    return socket(address->family, address->socktype, address->protocol);
}

/* "-host:port" then "host:port:addr,addr...": libcurl uses the addresses checked, not its own
 * lookup. NULL for a literal address, or when out of memory (the socket opener still refuses). */
static struct curl_slist *delivery_pins(const struct mopay_webhook_target *w, const struct delivery_target *t)
{
    if (w->literal)
        return NULL;
    char pin[MOPAY_WEBHOOK_HOST_BYTES_MAX + 16 + MOPAY_WEBHOOK_ADDRS_MAX * (INET6_ADDRSTRLEN + 3)];
    int n = snprintf(pin, sizeof(pin), "%s:%u:", w->host, w->port);
    for (size_t i = 0; i < t->count && n > 0 && (size_t)n < sizeof(pin) - INET6_ADDRSTRLEN - 3; i++) {
        const struct sockaddr_storage *a = &t->addrs[i];
        char text[INET6_ADDRSTRLEN];
        const void *raw = a->ss_family == AF_INET ? (const void *)&((const struct sockaddr_in *)a)->sin_addr
                                                  : (const void *)&((const struct sockaddr_in6 *)a)->sin6_addr;
        inet_ntop(a->ss_family, raw, text, sizeof(text));
        n += snprintf(pin + n, sizeof(pin) - (size_t)n, a->ss_family == AF_INET ? "%s%s" : "%s[%s]",
                      i > 0 ? "," : "", text);
    }
    char unpin[MOPAY_WEBHOOK_HOST_BYTES_MAX + 16];
    snprintf(unpin, sizeof(unpin), "-%s:%u", w->host, w->port);
    struct curl_slist *list = curl_slist_append(NULL, unpin), *grown = NULL;
    if (list != NULL && (grown = curl_slist_append(list, pin)) == NULL)
        curl_slist_free_all(list);
    return grown;
}

/* Checks the event's URL again under the policy and resolves its name: false, with the reason
 * logged, when this attempt may not be made at all. */
static bool delivery_check(const struct mopay_outbox *o, const struct outbox_event *ev,
                           struct mopay_webhook_target *w, struct delivery_target *t)
{
    const char *why = "";
    t->policy = &o->options.policy;
    enum mopay_err err = mopay_webhook_url_check(ev->url, strlen(ev->url), t->policy, w, &why);
    if (err == MOPAY_OK)
        err = mopay_webhook_resolve(w, t->policy, t->addrs, &t->count, &why);
    if (err == MOPAY_OK)
        return true;
    MOPAY_LOG_WARN("webhook attempt refused, nothing sent", "event=%s merchant=%s code=%s reason=\"%s\"", ev->id_text,
                   ev->merchant_id, mopay_err_code(err), why);
    return false;
}

/* One POST: delivered on a 2xx answer, failed on anything else or when the URL's target is
 * refused; *status is the HTTP status, 0 when there was no answer. */
static enum outbox_outcome event_post(struct mopay_outbox *o, const struct outbox_event *ev, int *status)
{
    *status = 0;
    struct mopay_webhook_target w;
    struct delivery_target t;
    if (!delivery_check(o, ev, &w, &t))
        return OUTBOX_FAILED;
    struct curl_slist *headers = event_headers(o, ev), *pins = delivery_pins(&w, &t);
    if (headers == NULL) {
        curl_slist_free_all(pins);
        return OUTBOX_FAILED;
    }
    curl_easy_setopt(o->curl, CURLOPT_URL, ev->url);
    curl_easy_setopt(o->curl, CURLOPT_RESOLVE, pins);
    curl_easy_setopt(o->curl, CURLOPT_OPENSOCKETDATA, &t);
    curl_easy_setopt(o->curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(o->curl, CURLOPT_POSTFIELDS, ev->body);
    curl_easy_setopt(o->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)ev->body_len);
    CURLcode rc = curl_easy_perform(o->curl);
    long code = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(o->curl, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_setopt(o->curl, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(o->curl, CURLOPT_RESOLVE, NULL);
    curl_easy_setopt(o->curl, CURLOPT_OPENSOCKETDATA, NULL);
    curl_slist_free_all(headers);
    curl_slist_free_all(pins);
    *status = (int)code;
    if (code >= 200 && code <= 299)
        return OUTBOX_DELIVERED;
    MOPAY_LOG_INFO("webhook attempt failed", "event=%s merchant=%s status=%ld error=\"%s\"", ev->id_text,
                   ev->merchant_id, code, rc == CURLE_OK ? "" : curl_easy_strerror(rc));
    return OUTBOX_FAILED;
}

/* Reports the round's results, trying again while the sequencer's queue is full. When it refuses
 * for good (stopping), the events stay in flight until mopay_outbox_free and pending in the
 * log, so the next start sends them again. */
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
     * followed (a 3xx is a failed attempt), only https (and http when allowed) is spoken, no
     * proxy from the environment is used, and sockets open only to addresses checked. */
    const char *protocols = options->policy.allow_insecure ? "http,https" : "https";
    bool ok = curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
              curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)options->request_timeout_ms) == CURLE_OK &&
              curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, protocols) == CURLE_OK &&
              curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, protocols) == CURLE_OK &&
              curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
              curl_easy_setopt(curl, CURLOPT_PROXY, "") == CURLE_OK &&
              curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, delivery_socket) == CURLE_OK &&
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
    if (!outbox_replay_end(o) || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
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
