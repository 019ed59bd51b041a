#ifndef MOPAY_OUTBOX_H
#define MOPAY_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include <jansson.h>

#include "mopay/err.h"
#include "mopay/id.h"
#include "mopay/keys.h"
#include "mopay/seq.h"
#include "mopay/store.h"

/* The durable webhook outbox and its delivery.
 *
 * An event's image (kind "webhook" in the journal, mopay/journal.h) goes into the log record of
 * the batch of the change that caused it, so it is durable exactly when the change is. Its body
 * is rendered once, when it is added, and every attempt (also after a restart) sends those same
 * bytes; the journal's replay at start puts every undelivered event back.
 *
 * All state changes happen on the sequencer thread. One delivery thread does the network I/O: it
 * submits a command that takes up to MOPAY_WEBHOOK_DELIVERY_BATCH_MAX due events and marks them
 * in flight, POSTs each one, then submits a command with the results. A 2xx answer is delivered
 * (its removal is journaled); anything else (no connection, timeout, 3xx, 4xx, 5xx) is a failed
 * attempt, retried after retry_first_ns, then twice as long each time up to retry_max_ns; after
 * attempts_max failed attempts the event is dead: its last image, marked dead, stays in the log
 * for the operator, and it is no longer retried nor held in memory (but counted at each start).
 *
 * Delivery is at least once: a crash between a POST and the commit of its result sends the event
 * again after the restart, so receivers dedupe by the Mopay-Event-Id header. Events are not
 * delivered in order, not even per merchant: a retried event goes out after newer ones.
 *
 * Each POST carries
 *   Content-Type: application/json
 *   Mopay-Event-Id: evt_...
 *   Mopay-Signature: t=<unix seconds>,v1=<lowercase hex HMAC-SHA256 of "<t>.<body>">
 * keyed by the merchant's HMAC key (the bytes of its "whsec_..." secret, as Stripe's libraries
 * take it), current at the attempt (mopay_outbox_rekey). The key is kept sealed under
 * keys->secret_seal, in the journal and in memory alike, and opened only to sign. Each attempt
 * checks the URL again under options.policy, resolves its name, and connects only to the
 * addresses it checked; a refused attempt sends nothing and counts as a failed one. */

/* --- where webhooks may go (url.c) ---
 * A webhook URL is https://HOST[:PORT][/PATH][?QUERY]: http:// only with allow_insecure; no
 * user name or password, no fragment. HOST is a DNS name, an IPv4 address in any form inet_aton
 * takes (127.1, 0x7f000001, 2130706433, 0177.0.0.1) or an IPv6 address in brackets. It may not
 * be, nor resolve to, an address that is not routable on the internet (loopback, private,
 * link-local, CGNAT, multicast, unspecified, documentation and other special ranges, and the
 * IPv6 forms that embed such an IPv4 address: v4-mapped, v4-compatible, NAT64, 6to4) unless
 * allow_private. The check is made when a URL is set and again at every delivery, which
 * connects only to the addresses it checked. */
struct mopay_webhook_policy {
    bool allow_private;  /* --webhook-allow-private: any address (tests, development) */
    bool allow_insecure; /* --webhook-allow-insecure: http:// as well as https:// */
};

#define MOPAY_WEBHOOK_HOST_BYTES_MAX 253
#define MOPAY_WEBHOOK_ADDRS_MAX 16 /* addresses of a name checked and pinned per delivery */

struct mopay_webhook_target {
    bool https;
    bool literal; /* HOST is an address: `addr` holds it, nothing to resolve */
    char host[MOPAY_WEBHOOK_HOST_BYTES_MAX + 1]; /* lowercase, brackets removed */
    uint16_t port;
    struct sockaddr_storage addr;
};

/* Parses and checks `url` (len bytes, not NUL-terminated) against `policy` without resolving
 * it: MOPAY_OK, url_invalid (malformed) or url_forbidden (a scheme, credentials or a literal
 * address the policy refuses), with a reason for the client in *why. */
enum mopay_err mopay_webhook_url_check(const char *url, size_t len, const struct mopay_webhook_policy *policy,
                                       struct mopay_webhook_target *out, const char **why);

/* Whether `policy` lets a webhook connect to `sa` (AF_INET or AF_INET6). */
bool mopay_webhook_addr_allowed(const struct sockaddr *sa, const struct mopay_webhook_policy *policy);

/* Resolves a target's name (blocking: call it off the event loops and the sequencer) and checks
 * every address: MOPAY_OK with the addresses in `addrs` (*count of them, at most
 * MOPAY_WEBHOOK_ADDRS_MAX; for a literal, the one), url_forbidden when any address is refused,
 * resource_not_found when the name does not resolve. */
enum mopay_err mopay_webhook_resolve(const struct mopay_webhook_target *target,
                                     const struct mopay_webhook_policy *policy,
                                     struct sockaddr_storage addrs[MOPAY_WEBHOOK_ADDRS_MAX], size_t *count,
                                     const char **why);

/* The HMAC key of a merchant's signatures: the bytes of its secret's text ("whsec_...", as
 * Stripe's libraries use it), or the 32 bytes of a secret made before that form. */
#define MOPAY_WEBHOOK_KEY_BYTES_MIN 32
#define MOPAY_WEBHOOK_KEY_BYTES_MAX 64

struct mopay_journal;

struct mopay_outbox_options {
    struct mopay_journal *journal; /* where events are recorded (registered by mopay_outbox_new) */
    const struct mopay_keys *keys; /* secret_seal seals the webhook secrets */
    struct mopay_webhook_policy policy; /* checked again at every delivery */
    int64_t retry_first_ns;        /* wait before the first retry; doubled for each next one */
    int64_t retry_max_ns;          /* the longest wait between attempts */
    uint32_t attempts_max;         /* failed attempts before the event is dead */
    int64_t request_timeout_ms;    /* one POST, connecting included */
    size_t pending_max;            /* undelivered events in memory; more are refused (capacity_exhausted) */
    size_t per_merchant_max;       /* undelivered events of one merchant; more are refused alike, so a
                                      merchant whose webhook is down fills its own share only */
};

/* Counted as the sequencer applies the changes, so they may run ahead of the commit by a batch. */
struct mopay_outbox_stats {
    uint64_t delivered;       /* events delivered since start */
    uint64_t failed_attempts; /* attempts without a 2xx answer since start */
    uint64_t dead;            /* dead events in the log: those replayed plus those since start */
    uint64_t pending;         /* events in memory, waiting or in flight */
};

struct mopay_outbox;

/* The policy of mopay/limits.h ("Webhooks") with `keys`; the caller sets the journal. */
struct mopay_outbox_options mopay_outbox_options_default(const struct mopay_keys *keys);

/* NULL when out of memory. Registers the events' kind with options->journal, whose replay (before
 * mopay_outbox_load) puts the undelivered events back, checked as they were written: an image
 * whose key does not open under the keys stops the replay. */
struct mopay_outbox *mopay_outbox_new(const struct mopay_outbox_options *options);
/* After mopay_outbox_stop, or without a start. */
void mopay_outbox_free(struct mopay_outbox *outbox);

/* Start-up, after the journal's replay and before mopay_outbox_start, on the thread that owns the
 * store: the events replayed are queued, each due at its next attempt; then the records written
 * before the journal (JSON rows of kind "webhook") are read: every undelivered event back into
 * memory, and each dead one put into the journal's batch record as it is read, which the caller's
 * mopay_journal_absorb_records then commits with every live event while it deletes the rows. A
 * record that does not parse or whose secret does not open under the keys stops the start with a
 * reason in `err`; more pending events than pending_max do not (all are kept). */
enum mopay_err mopay_outbox_load(struct mopay_outbox *outbox, struct mopay_store *store, char *err,
                                 size_t err_cap);

/* On the sequencer thread, inside an apply: capacity_exhausted when `events` more would not fit
 * in memory (all merchants together: pending_max), MOPAY_OK otherwise. A command calls it, and
 * mopay_outbox_merchant_room for the merchant its events go to, among its checks, before it
 * changes anything, so that its mopay_outbox_add calls cannot fail for room. A start that finds
 * more pending records than pending_max keeps them all; new events wait for room. */
enum mopay_err mopay_outbox_check_room(const struct mopay_outbox *outbox, size_t events);
/* The same for one merchant's share (per_merchant_max). */
enum mopay_err mopay_outbox_merchant_room(const struct mopay_outbox *outbox, const struct mopay_id *merchant,
                                          size_t events);

/* On the sequencer thread, inside an apply: makes event evt_... with the body
 *   {"id":"evt_...","type":<type>,"created_at":"<RFC 3339 of now_ns>","data":<data>}
 * puts its image into the journal and queues it for delivery to `url` (an http or https URL the
 * caller validated, at most MOPAY_WEBHOOK_URL_BYTES_MAX), signed with the HMAC key `key` (key_len
 * bytes, MOPAY_WEBHOOK_KEY_BYTES_MIN to _MAX). `type` is at most MOPAY_WEBHOOK_TYPE_BYTES_MAX.
 * `data` (an object) is taken over, also on failure. The body must fit
 * MOPAY_WEBHOOK_BODY_BYTES_MAX: events are built by the server, not taken from outside, so
 * breaking any of these is a programmer error.
 *
 * Call it last in the command, after every check: the sequencer does not roll back a failed
 * command's writes, so an event added by a command that then fails would be committed and sent.
 * Returns capacity_exhausted (having written nothing) when memory or the merchant's share is
 * full, which mopay_outbox_check_room and mopay_outbox_merchant_room rule out beforehand;
 * the journal's errors are the sequencer's fatal ones. */
enum mopay_err mopay_outbox_add(struct mopay_outbox *outbox, int64_t now_ns, const char *merchant_id, const char *url,
                                const uint8_t *key, size_t key_len, const char *type, json_t *data,
                                char id_out[MOPAY_ID_TEXT_BYTES]);

/* On the sequencer thread, inside an apply: every undelivered event of `merchant_id` is signed
 * from now on with the HMAC key `key` (the merchant rotated its secret), as Stripe signs each
 * attempt with the secret current when it is sent; their images are put again. The journal's
 * errors are the sequencer's fatal ones. */
enum mopay_err mopay_outbox_rekey(struct mopay_outbox *outbox, int64_t now_ns, const char *merchant_id,
                                  const uint8_t *key, size_t key_len);

/* Starts the delivery thread, which submits its commands to `seq`. internal when the thread or
 * the HTTP client cannot be made. */
enum mopay_err mopay_outbox_start(struct mopay_outbox *outbox, struct mopay_seq *seq);
/* Finishes the round under way (POSTs not yet made are given back undone, so this waits for at
 * most one request_timeout_ms plus two commands) and joins the thread. Call it before the
 * sequencer stops: the round's results are a command. */
void mopay_outbox_stop(struct mopay_outbox *outbox);

/* Any thread. */
void mopay_outbox_stats(const struct mopay_outbox *outbox, struct mopay_outbox_stats *out);

#endif
