/* POST /v1/sessions: a customer logs in with phone, PIN and a signature by a registered device.
 *
 * Three steps, none of which blocks a loop or the sequencer:
 *   1. on the sequencer, read what the checks need (the PIN hash, the device key, the lock);
 *   2. on the loop, check the clock window and the Ed25519 signature over
 *      "phone|device_id|timestamp", then verify the PIN with Argon2id on the worker pool;
 *   3. on the sequencer, open the session, or count the wrong PIN. A signed timestamp may be used
 *      once per device: it must be newer than the last one used, which refuses replays. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/clock.h"
#include "mopay/text.h"

struct session_req {
    struct mopay_http_command base; /* step 1 */
    struct mopay_str phone, pin, device_id, timestamp, signature;
    char canonical_phone[MOPAY_PHONE_BYTES];
    struct mopay_id device;
    char pin_hash[MOPAY_PIN_HASH_BYTES];
    char new_hash[MOPAY_PIN_HASH_BYTES]; /* the peppered hash replacing one stored before */
    uint8_t public_key[32];
    int64_t signed_ns;
    bool pin_ok;
    struct open_cmd *open;
};

struct open_cmd {
    struct mopay_http_command base; /* step 3 */
    struct session_req *s;
    char token[MOPAY_SESSION_TOKEN_BYTES];
    uint8_t token_hash[32];
    enum mopay_err refusal;
    struct mopay_session *session;
};

static enum mopay_err lookup_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    (void)store;
    struct session_req *s = (struct session_req *)cmd;
    struct mopay_api *api = cmd->app;
    struct mopay_customer *c = mopay_wallet_customer_by_phone(api->wallet, s->canonical_phone);
    if (c == NULL)
        return MOPAY_ERR_pin_incorrect; /* an unknown phone looks like a wrong PIN */
    enum mopay_err err = mopay_wallet_session_precheck(c, mopay_wallet_device(api->wallet, &s->device), now_ns);
    if (err != MOPAY_OK)
        return err;
    memcpy(s->pin_hash, c->pin_hash, sizeof(s->pin_hash));
    memcpy(s->public_key, mopay_wallet_device(api->wallet, &s->device)->public_key, 32);
    return MOPAY_OK;
}

static enum mopay_err open_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    struct open_cmd *o = (struct open_cmd *)cmd;
    struct mopay_api *api = cmd->app;
    struct mopay_device *d = mopay_wallet_device(api->wallet, &o->s->device);
    MOPAY_ASSERT(d != NULL); /* devices are never deleted, only revoked */
    /* a hash stored before PINs were peppered gives way to a peppered one at the right PIN (both
     * verify it; the customer's record is written by the session's opening) */
    if (o->s->pin_ok && o->s->new_hash[0] != '\0' && strcmp(d->customer->pin_hash, o->s->pin_hash) == 0)
        mopay_text_copy(d->customer->pin_hash, sizeof(d->customer->pin_hash), o->s->new_hash);
    return mopay_wallet_session_open(api->wallet, store, now_ns, d, o->s->signed_ns, o->s->pin_ok, o->token_hash,
                                     &o->refusal, &o->session);
}

static json_t *open_render(struct mopay_http_command *cmd, int *status)
{
    struct open_cmd *o = (struct open_cmd *)cmd;
    if (o->refusal != MOPAY_OK)
        return mopay_http_problem(cmd, o->refusal, NULL,
                                  o->refusal == MOPAY_ERR_customer_locked ? "five wrong PINs: locked for 15 minutes"
                                                                          : "the phone number or PIN is not correct",
                                  status);
    *status = 201;
    json_t *j = json_pack("{s:s, s:o, s:o, s:o}", "token", o->token, "expires_at",
                          api_time_json(o->session->expires_at_ns), "customer_id",
                          api_id_json(MOPAY_ID_CUSTOMER, &o->session->customer->id), "device_id",
                          api_id_json(MOPAY_ID_DEVICE, &o->session->device->id));
    sodium_memzero(o->token, sizeof(o->token));
    return j;
}

static void pin_verify(void *arg)
{
    struct session_req *s = arg;
    const struct mopay_api *api = s->base.app;
    s->pin_ok = mopay_keys_pin_verify(api->keys, s->pin_hash, s->pin.ptr, s->pin.len);
    s->new_hash[0] = '\0';
    if (s->pin_ok && !mopay_keys_pin_peppered(s->pin_hash) &&
        !mopay_keys_pin_hash(api->keys, s->pin.ptr, s->pin.len, MOPAY_PIN_HASH_OPS, MOPAY_PIN_HASH_MEM, s->new_hash,
                             sizeof(s->new_hash)))
        s->new_hash[0] = '\0'; /* out of memory: replaced at a later log-in */
}

static void pin_verified(struct mopay_http_request *req, void *arg)
{
    struct session_req *s = arg;
    struct open_cmd *o = s->open;
    uint8_t raw[32];
    randombytes_buf(raw, sizeof(raw));
    memcpy(o->token, "st_", 3);
    sodium_bin2hex(o->token + 3, sizeof(o->token) - 3, raw, sizeof(raw));
    sodium_memzero(raw, sizeof(raw));
    struct mopay_api *api = mopay_http_app(req);
    mopay_keys_hash_secret(api->keys, o->token, strlen(o->token), o->token_hash);
    mopay_http_submit(req, &o->base);
}

/* The message the device signed: the fields exactly as sent. */
static bool signature_ok(const struct session_req *s)
{
    uint8_t sig[crypto_sign_BYTES];
    size_t sig_len = 0;
    if (sodium_base642bin(sig, sizeof(sig), s->signature.ptr, s->signature.len, NULL, &sig_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        sig_len != sizeof(sig))
        return false;
    char msg[256];
    int n = snprintf(msg, sizeof(msg), "%s|%s|%s", s->phone.ptr, s->device_id.ptr, s->timestamp.ptr);
    MOPAY_ASSERT(n > 0 && (size_t)n < sizeof(msg)); /* the fields' limits keep it short */
    return crypto_sign_verify_detached(sig, (const unsigned char *)msg, (size_t)n, s->public_key) == 0;
}

static void lookup_then(struct mopay_http_command *cmd)
{
    struct session_req *s = (struct session_req *)cmd;
    struct mopay_http_request *req = cmd->req;
    int64_t skew = mopay_clock_now_ns() - s->signed_ns;
    if (skew > (int64_t)MOPAY_SESSION_SKEW_S * 1000000000 || -skew > (int64_t)MOPAY_SESSION_SKEW_S * 1000000000) {
        mopay_http_reply_error(req, MOPAY_ERR_timestamp_skewed, "/timestamp",
                               "the signed time must be within five minutes of the server's");
        return;
    }
    if (!signature_ok(s)) {
        mopay_http_reply_error(req, MOPAY_ERR_signature_invalid, "/signature",
                               "expected the base64 Ed25519 signature of phone|device_id|timestamp");
        return;
    }
    s->open = mopay_http_command_new(req, sizeof(*s->open), open_apply, open_render);
    if (s->open == NULL) {
        api_reply_oom(req);
        return;
    }
    s->open->s = s;
    mopay_http_offload(req, pin_verify, pin_verified, s);
}

const struct mopay_json_field api_session_fields[] = {
    {.name = "phone", .kind = MOPAY_JSON_STRING, .required = true, .offset = offsetof(struct session_req, phone),
     .min_len = 1, .max_len = 32},
    {.name = "pin", .kind = MOPAY_JSON_STRING, .required = true, .offset = offsetof(struct session_req, pin),
     .min_len = 1, .max_len = 16},
    {.name = "device_id", .kind = MOPAY_JSON_STRING, .required = true,
     .offset = offsetof(struct session_req, device_id), .min_len = 1, .max_len = 40},
    {.name = "timestamp", .kind = MOPAY_JSON_STRING, .required = true,
     .offset = offsetof(struct session_req, timestamp), .min_len = 1, .max_len = 40},
    {.name = "signature", .kind = MOPAY_JSON_STRING, .required = true,
     .offset = offsetof(struct session_req, signature), .min_len = 1, .max_len = 128},
    {0},
};

void api_sessions_create(struct mopay_http_request *req)
{
    struct session_req *s = mopay_http_command_new(req, sizeof(*s), lookup_apply, NULL);
    if (s == NULL) {
        api_reply_oom(req);
        return;
    }
    s->base.then = lookup_then;
    if (!mopay_http_json_read(req, mopay_http_body(req), api_session_fields, s))
        return;
    if (mopay_phone_parse(s->phone.ptr, s->phone.len, s->canonical_phone) != MOPAY_OK) {
        mopay_http_reply_error(req, MOPAY_ERR_phone_invalid, "/phone", "expected E.164, such as +8613800138000");
        return;
    }
    if (mopay_pin_check(s->pin.ptr, s->pin.len) != MOPAY_OK) {
        mopay_http_reply_error(req, MOPAY_ERR_pin_format_invalid, "/pin", "a PIN is exactly six digits");
        return;
    }
    if (!api_body_id(req, &s->device_id, MOPAY_ID_DEVICE, "/device_id", &s->device))
        return;
    if (mopay_time_parse(s->timestamp.ptr, s->timestamp.len, &s->signed_ns) != MOPAY_OK) {
        mopay_http_reply_error(req, MOPAY_ERR_field_invalid, "/timestamp", "expected an RFC 3339 time");
        return;
    }
    mopay_http_submit(req, &s->base);
}
