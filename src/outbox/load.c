/* Start-up, after the journal's replay: the events it made are queued; then the JSON records
 * written before the journal: the undelivered events back into memory, checked as they are read
 * (the other side of the persistence boundary); dead events are counted, not held, and put into
 * the journal's batch record so that they move into it with the rest
 * (mopay_journal_absorb_records). A record that does not parse, or whose secret does not open
 * under the master key, stops the start with a reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/clock.h"
#include "mopay/text.h"

struct load_ctx {
    struct mopay_outbox *outbox;
    char *err;
    size_t err_cap;
    bool failed;
};

static bool load_fail(struct load_ctx *ctx, const char *id, const char *why)
{
    snprintf(ctx->err, ctx->err_cap, "webhook record %s: %s", id, why);
    ctx->failed = true;
    return false;
}

/* An event's fields are never empty. */
static bool text_fits(const char *src, char *dst, size_t cap)
{
    return src != NULL && src[0] != '\0' && mopay_text_load(src, dst, cap);
}

/* Decodes the sealed key and checks that it opens as this event's; the key itself is wiped at
 * once. Records written before webhook secrets became text hold a 32-byte key, those after up to
 * 64 bytes; one sealed before seals were bound to their row (no associated data) is sealed for
 * its event here, in memory, and so in the row at the event's next write. */
static bool sealed_of(const struct mopay_outbox *o, const char *b64, struct outbox_event *ev)
{
    uint8_t key[MOPAY_WEBHOOK_KEY_BYTES_MAX + 1];
    size_t len = 0, key_len = 0;
    bool legacy = false;
    bool ok = sodium_base642bin(ev->secret_sealed, OUTBOX_SEALED_BYTES_MAX, b64, strlen(b64), NULL, &len, NULL,
                                sodium_base64_VARIANT_ORIGINAL) == 0;
    ev->secret_sealed_len = len;
    ok = ok && outbox_open_key(o, ev, key, &key_len, &legacy);
    if (ok && legacy)
        outbox_seal_key(o, ev, key, key_len, ev->secret_sealed, &ev->secret_sealed_len);
    sodium_memzero(key, sizeof(key));
    return ok;
}

static bool body_of(const char *body, size_t len, struct outbox_event *ev)
{
    if (len == 0 || len > MOPAY_WEBHOOK_BODY_BYTES_MAX || (ev->body = malloc(len + 1)) == NULL)
        return false;
    memcpy(ev->body, body, len + 1);
    ev->body_len = len;
    return true;
}

/* Fills `ev` from the record stored under `key`; ev->dead says whether it ran out of attempts.
 * false when anything does not check. */
static bool event_parse(const struct mopay_outbox *o, const char *key, json_t *j, struct outbox_event *ev)
{
    const char *id, *merchant, *type, *url, *sealed, *body, *status;
    size_t body_len = 0;
    int attempts = 0;
    json_int_t next = 0, created = 0;
    struct mopay_id merchant_id;
    if (json_unpack(j, "{s:s, s:s, s:s, s:s, s:s, s:s%, s:s, s:i, s:i, s:I, s:I}", "id", &id, "merchant_id",
                    &merchant, "type", &type, "url", &url, "secret_sealed", &sealed, "body", &body, &body_len,
                    "status", &status, "attempts", &attempts, "last_status", &ev->last_status,
                    "next_attempt_at_ns", &next, "created_at_ns", &created) != 0)
        return false;
    ev->dead = strcmp(status, "failed") == 0;
    bool ok = strcmp(id, key) == 0 && mopay_id_parse(MOPAY_ID_EVENT, id, strlen(id), &ev->id) == MOPAY_OK &&
              text_fits(id, ev->id_text, sizeof(ev->id_text)) &&
              mopay_id_parse(MOPAY_ID_MERCHANT, merchant, strlen(merchant), &merchant_id) == MOPAY_OK &&
              text_fits(merchant, ev->merchant_id, sizeof(ev->merchant_id)) &&
              text_fits(type, ev->type, sizeof(ev->type)) && text_fits(url, ev->url, sizeof(ev->url)) &&
              sealed_of(o, sealed, ev) && attempts >= 0 && created > 0 && next >= created &&
              (ev->dead || strcmp(status, "pending") == 0);
    if (!ok)
        return false;
    memcpy(ev->merchant_key, merchant_id.bytes, sizeof(ev->merchant_key));
    ev->attempts = (uint32_t)attempts;
    ev->next_attempt_at_ns = next;
    ev->created_at_ns = created;
    return body_of(body, body_len, ev); /* before the JSON, which holds it, is freed */
}

static bool load_event(void *arg, const char *key, const char *text, size_t len)
{
    struct load_ctx *ctx = arg;
    struct mopay_outbox *o = ctx->outbox;
    json_t *j = json_loadb(text, len, 0, NULL);
    struct outbox_event *ev = calloc(1, sizeof(*ev));
    bool ok = j != NULL && ev != NULL && event_parse(o, key, j, ev);
    json_decref(j);
    if (!ok) {
        event_free(ev);
        return load_fail(ctx, key, "malformed, its secret does not open under the master key, or out of memory");
    }
    if (ev->dead) { /* kept for the operator: into the journal, as a dead event's last image */
        enum mopay_err err = event_record_put(o, mopay_clock_now_ns(), ev);
        event_free(ev);
        atomic_fetch_add(&o->dead, 1);
        return err == MOPAY_OK || load_fail(ctx, key, "its image cannot be encoded");
    }
    /* More pending records than pending_max (the limit was lowered): all are kept, and new
     * events are refused until deliveries bring the count below the limit again. */
    if (o->heap_count == o->heap_cap && !heap_grow(o)) {
        event_free(ev);
        return load_fail(ctx, key, "out of memory for the pending events");
    }
    heap_push(o, ev);
    share_count(o, ev, 1);
    atomic_fetch_add(&o->pending, 1);
    return true;
}

enum mopay_err mopay_outbox_load(struct mopay_outbox *o, struct mopay_store *store, char *err, size_t err_cap)
{
    MOPAY_ASSERT(!o->started);
    if (!outbox_replay_end(o)) {
        snprintf(err, err_cap, "out of memory for the pending webhook events");
        return MOPAY_ERR_store_failed;
    }
    struct load_ctx ctx = {o, err, err_cap, false};
    enum mopay_err e = store->records_load(store, OUTBOX_KIND, load_event, &ctx);
    if (ctx.failed)
        return MOPAY_ERR_store_failed;
    if (e != MOPAY_OK) {
        snprintf(err, err_cap, "loading webhook records: %s", store->last_error);
        return e;
    }
    return MOPAY_OK;
}
