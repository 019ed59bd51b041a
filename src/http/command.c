/* The write path: a handler's command goes to the sequencer; its reply comes back to the loop
 * that owns the request once the command's batch is durable. Idempotency-Key records are read
 * and written inside the same batch transaction as the command, so a reply and its record are
 * durable together, and a retry after a crash sees exactly one of "done" or "not done". */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/log.h"
#include "mopay/text.h"

struct command_box {
    h2o_multithread_message_t msg;
    struct http_thread *thread;
    uint8_t request_hash[32];
    _Alignas(16) unsigned char cmd[];
};

static struct command_box *box_of(struct mopay_http_command *cmd)
{
    return (struct command_box *)((unsigned char *)cmd - offsetof(struct command_box, cmd));
}

char *mopay_http_json_text(json_t *j, size_t *len)
{
    return mopay_json_dump(j, len);
}

static void command_set_reply(struct mopay_http_command *cmd, int status, json_t *body)
{
    MOPAY_ASSERT(body != NULL);
    cmd->reply_status = status;
    cmd->reply_body = mopay_http_json_text(body, &cmd->reply_len);
    json_decref(body);
    MOPAY_ASSERT(cmd->reply_body != NULL);
}

static void command_set_problem(struct mopay_http_command *cmd, enum mopay_err err, const char *field,
                                const char *detail)
{
    command_set_reply(cmd, mopay_err_status(err), http_problem_new(err, field, detail, cmd->req->request_id));
}

/* Whose key space an Idempotency-Key lives in: the signed-in principal's, or on an anonymous
 * route (sign-up) the route's own, where only the same key with the same body replays. */
static const char *idem_principal(const struct mopay_http_request *r, char *buf, size_t cap)
{
    if (r->principal.id[0] != '\0')
        return r->principal.id;
    const struct mopay_route *route = &r->thread->server->config.routes[r->route_index];
    int len = snprintf(buf, cap, "anon:%s", route->name);
    MOPAY_ASSERT(len > 0 && (size_t)len < cap);
    return buf;
}

/* A stored reply is sealed for its row, "idempotency/<principal>/<BLAKE2b-128 of the key>", so a
 * reply copied to another principal's or key's row in the database does not open there. */
static void idem_seal_ad(const char *principal, const char *key, char ad[MOPAY_SEAL_AD_BYTES])
{
    uint8_t digest[16];
    char hex[2 * sizeof digest + 1];
    crypto_generichash(digest, sizeof digest, (const unsigned char *)key, strlen(key), NULL, 0);
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    mopay_seal_ad(ad, "idempotency", principal, hex);
}

/* Opens a stored reply into cmd's reply; false when it does not open as this row's. Replies
 * stored before seals were bound open without associated data. */
static bool command_open_reply(struct mopay_http_command *cmd, const struct mopay_idem_record *rec)
{
    size_t sealed_len = 0, plain_len = 0;
    bool legacy = false;
    uint8_t *sealed = malloc(rec->body_len + 1);
    MOPAY_ASSERT(sealed != NULL);
    bool ok = sodium_base642bin(sealed, rec->body_len + 1, rec->body, rec->body_len, NULL, &sealed_len, NULL,
                                sodium_base64_VARIANT_ORIGINAL) == 0 &&
              sealed_len >= MOPAY_SEAL_OVERHEAD;
    if (ok) {
        char ad[MOPAY_SEAL_AD_BYTES];
        idem_seal_ad(rec->principal, rec->key, ad);
        cmd->reply_body = malloc(sealed_len - MOPAY_SEAL_OVERHEAD + 1);
        MOPAY_ASSERT(cmd->reply_body != NULL);
        ok = mopay_keys_open_ad(cmd->req->thread->server->config.keys->idem_seal, ad, sealed, sealed_len,
                                cmd->reply_body, &plain_len, &legacy);
        if (!ok) {
            free(cmd->reply_body);
            cmd->reply_body = NULL;
        }
    }
    free(sealed);
    if (ok) {
        cmd->reply_len = plain_len;
        cmd->reply_body[plain_len] = '\0';
    }
    return ok;
}

/* A stored reply for this principal and key: replay it, or refuse a different request. */
static enum mopay_err command_replay(struct mopay_http_command *cmd, struct mopay_idem_record *rec)
{
    struct command_box *box = box_of(cmd);
    enum mopay_err result = MOPAY_OK;
    if (sodium_memcmp(rec->request_hash, box->request_hash, 32) != 0) {
        command_set_problem(cmd, MOPAY_ERR_idempotency_key_reused, NULL,
                            "this Idempotency-Key was first used with another request");
        result = MOPAY_ERR_idempotency_key_reused;
        goto done;
    }
    if (!command_open_reply(cmd, rec)) { /* tampered with, or another row's: never served */
        MOPAY_LOG_ERROR("a stored idempotent reply does not open: tampered with, or sealed for another row",
                        "principal=%s", rec->principal);
        command_set_problem(cmd, MOPAY_ERR_internal, NULL, "the stored answer for this Idempotency-Key cannot be read");
        result = MOPAY_ERR_internal;
        goto done;
    }
    cmd->reply_status = rec->status;
    cmd->replayed = true;
done:
    free(rec->body);
    return result;
}

static enum mopay_err command_remember(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    struct mopay_http_request *r = cmd->req;
    struct mopay_idem_record rec;
    memset(&rec, 0, sizeof(rec));
    const char *principal = idem_principal(r, rec.principal, sizeof rec.principal);
    MOPAY_ASSERT(strlen(principal) < sizeof(rec.principal) && r->idem_key.len < sizeof(rec.key));
    if (principal != rec.principal)
        strcpy(rec.principal, principal);
    memcpy(rec.key, r->idem_key.ptr, r->idem_key.len + 1);
    memcpy(rec.request_hash, box_of(cmd)->request_hash, 32);
    rec.status = cmd->reply_status;
    rec.created_at_ns = now_ns;
    size_t sealed_len = cmd->reply_len + MOPAY_SEAL_AD_OVERHEAD;
    uint8_t *sealed = malloc(sealed_len);
    size_t b64_cap = sodium_base64_ENCODED_LEN(sealed_len, sodium_base64_VARIANT_ORIGINAL);
    rec.body = malloc(b64_cap);
    MOPAY_ASSERT(sealed != NULL && rec.body != NULL);
    char ad[MOPAY_SEAL_AD_BYTES];
    idem_seal_ad(rec.principal, rec.key, ad);
    mopay_keys_seal_ad(r->thread->server->config.keys->idem_seal, ad, cmd->reply_body, cmd->reply_len, sealed);
    sodium_bin2base64(rec.body, b64_cap, sealed, sealed_len, sodium_base64_VARIANT_ORIGINAL);
    rec.body_len = strlen(rec.body);
    enum mopay_err err = store->idem_put(store, &rec);
    free(sealed);
    free(rec.body);
    return err;
}

/* Whether a new Idempotency-Key answer may be stored; if not, the reply says so and the command
 * is not applied. */
static enum mopay_err command_idem_room(struct mopay_http_command *cmd)
{
    struct mopay_http_server *s = cmd->req->thread->server;
    if (atomic_load(&s->idem_records) >= s->idem_records_max) {
        command_set_problem(cmd, MOPAY_ERR_capacity_exhausted, NULL,
                            "no room for more idempotency records (--idempotency-records-max); they expire after 24 "
                            "hours, or send the request without an Idempotency-Key");
        return MOPAY_ERR_capacity_exhausted;
    }
    /* One merchant key or customer gets its share, so that no one principal (a customer can sign
     * up for free) fills the store and turns every other client's keyed write into a 503 for a
     * day. Counted on this thread alone; a 5xx or 429 answer that is not stored still counts. */
    const struct mopay_principal *p = &cmd->req->principal;
    if (s->idem_principal_limit != NULL &&
        (p->kind == MOPAY_PRINCIPAL_MERCHANT || p->kind == MOPAY_PRINCIPAL_CUSTOMER)) {
        int64_t retry_s = 0;
        if (!mopay_ratelimit_take(s->idem_principal_limit, p->id, strlen(p->id), mopay_clock_monotonic_ns(),
                                  &retry_s)) {
            cmd->retry_after_s = retry_s;
            command_set_problem(cmd, MOPAY_ERR_rate_limited, NULL,
                                "too many new Idempotency-Keys for this credential "
                                "(--idempotency-records-per-principal-max a day)");
            return MOPAY_ERR_rate_limited;
        }
    }
    return MOPAY_OK;
}

void mopay_http_idem_forgotten(struct mopay_http_server *server, int64_t count)
{
    MOPAY_ASSERT(count >= 0);
    uint64_t have = atomic_load(&server->idem_records);
    atomic_store(&server->idem_records, have > (uint64_t)count ? have - (uint64_t)count : 0);
}

/* A step: its error is the reply; its success leaves the reply to what follows. */
static enum mopay_err command_step_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    enum mopay_err result = cmd->apply(cmd, store, now_ns);
    if (result != MOPAY_OK && !mopay_store_err_fatal(result))
        command_set_problem(cmd, result, cmd->err_field, cmd->err_detail);
    return result;
}

json_t *mopay_http_problem(struct mopay_http_command *cmd, enum mopay_err err, const char *field, const char *detail,
                           int *status)
{
    *status = mopay_err_status(err);
    return http_problem_new(err, field, detail, cmd->req->request_id);
}

static enum mopay_err command_seq_apply(struct mopay_seq_cmd *seq_cmd, struct mopay_store *store, int64_t now_ns)
{
    struct mopay_http_command *cmd = (struct mopay_http_command *)seq_cmd;
    struct mopay_http_request *r = cmd->req;
    if (cmd->then != NULL)
        return command_step_apply(cmd, store, now_ns);
    bool idempotent = r->idem_key.ptr != NULL;
    if (idempotent) {
        struct mopay_idem_record rec;
        bool found = false;
        char anon[sizeof rec.principal];
        enum mopay_err err =
            store->idem_get(store, idem_principal(r, anon, sizeof anon), r->idem_key.ptr, &rec, &found);
        if (err != MOPAY_OK)
            return err;
        if (found)
            return command_replay(cmd, &rec);
        enum mopay_err room = command_idem_room(cmd);
        if (room != MOPAY_OK)
            return room;
    }
    enum mopay_err result = cmd->apply(cmd, store, now_ns);
    if (mopay_store_err_fatal(result))
        return result;
    if (result == MOPAY_OK && cmd->render_text != NULL && cmd->render_on_loop && !idempotent) {
        cmd->reply_deferred = true; /* the sequencer thread only applies; the loop renders */
        return result;
    }
    if (result == MOPAY_OK && cmd->render_text != NULL) {
        cmd->reply_status = 200;
        cmd->reply_body = cmd->render_text(cmd, &cmd->reply_status, &cmd->reply_len);
        MOPAY_ASSERT(cmd->reply_body != NULL);
    } else if (result == MOPAY_OK) {
        int status = 200;
        json_t *body = cmd->render(cmd, &status);
        command_set_reply(cmd, status, body);
    } else {
        command_set_problem(cmd, result, cmd->err_field, cmd->err_detail);
    }
    /* a 429 says "later": a retry with the same key must be tried again, not answered 429 */
    if (idempotent && cmd->reply_status < 500 && cmd->reply_status != 429) {
        enum mopay_err err = command_remember(cmd, store, now_ns);
        if (err != MOPAY_OK)
            return err;
        atomic_fetch_add(&r->thread->server->idem_records, 1); /* a rollback leaves it high: safe */
    }
    return result;
}

static void command_seq_done(struct mopay_seq_cmd *seq_cmd)
{
    struct mopay_http_command *cmd = (struct mopay_http_command *)seq_cmd;
    struct command_box *box = box_of(cmd);
    h2o_multithread_send_message(&box->thread->done_receiver, &box->msg);
}

void http_command_done_on_loop(h2o_multithread_message_t *msg)
{
    struct command_box *box = H2O_STRUCT_FROM_MEMBER(struct command_box, msg, msg);
    struct mopay_http_command *cmd = (struct mopay_http_command *)box->cmd;
    struct mopay_http_request *r = cmd->req;
    box->thread->pending_commands--;
    if (cmd->then != NULL && cmd->reply_body == NULL) {
        cmd->then(cmd);
        http_request_unref(r);
        return;
    }
    if (cmd->reply_deferred) {
        cmd->reply_status = 200;
        cmd->reply_body = cmd->render_text(cmd, &cmd->reply_status, &cmd->reply_len);
        MOPAY_ASSERT(cmd->reply_body != NULL);
    }
    const char *type = cmd->reply_status >= 400 ? "application/problem+json" : "application/json";
    r->retry_after_s = cmd->retry_after_s;
    mopay_http_reply_raw(r, cmd->reply_status, type, cmd->reply_body, cmd->reply_len);
    sodium_memzero(cmd->reply_body, cmd->reply_len); /* it may hold a device's secret */
    free(cmd->reply_body);
    cmd->reply_body = NULL;
    http_request_unref(r);
}

void *mopay_http_command_new(struct mopay_http_request *r, size_t size, mopay_http_apply_fn apply,
                             mopay_http_render_fn render)
{
    MOPAY_ASSERT(size >= sizeof(struct mopay_http_command) && apply != NULL);
    struct command_box *box = mopay_arena_alloc(&r->arena, sizeof(*box) + size);
    if (box == NULL)
        return NULL;
    memset(box, 0, sizeof(*box) + size);
    box->thread = r->thread;
    struct mopay_http_command *cmd = (struct mopay_http_command *)box->cmd;
    cmd->seq.apply = command_seq_apply;
    cmd->seq.done = command_seq_done;
    cmd->req = r;
    cmd->apply = apply;
    cmd->render = render;
    cmd->app = r->thread->server->config.app;
    return cmd;
}

static void request_hash(struct mopay_http_request *r, uint8_t out[32])
{
    h2o_req_t *req = r->h2o;
    uint8_t digest[32];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const unsigned char *)req->method.base, req->method.len);
    crypto_generichash_update(&st, (const unsigned char *)"\n", 1);
    crypto_generichash_update(&st, (const unsigned char *)req->path.base, req->path.len);
    crypto_generichash_update(&st, (const unsigned char *)"\n", 1);
    if (req->entity.base != NULL)
        crypto_generichash_update(&st, (const unsigned char *)req->entity.base, req->entity.len);
    crypto_generichash_final(&st, digest, 32);
    mopay_keys_idem_hash(r->thread->server->config.keys, digest, out);
    sodium_memzero(digest, sizeof digest);
}

void mopay_http_submit(struct mopay_http_request *r, struct mopay_http_command *cmd)
{
    struct http_thread *t = r->thread;
    struct command_box *box = box_of(cmd);
    MOPAY_ASSERT(cmd->req == r && !r->replied);
    if (r->h2o == NULL) { /* the client left during an earlier step: do nothing for no one */
        mopay_http_reply_error(r, MOPAY_ERR_shutting_down, NULL, "the client closed the connection");
        return;
    }
    if (r->idem_key.ptr != NULL && cmd->then == NULL)
        request_hash(r, box->request_hash);
    r->refs++;
    t->pending_commands++;
    enum mopay_err err = mopay_seq_submit(t->server->config.seq, &cmd->seq);
    if (err != MOPAY_OK) {
        r->refs--;
        t->pending_commands--;
        mopay_http_reply_error(r, err, NULL, err == MOPAY_ERR_overloaded ? "the write queue is full; retry shortly"
                                                                         : "the server is shutting down");
    }
}
