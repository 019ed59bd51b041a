/* A PIN sent with a customer's request (a payment's confirmation, or a P2P transfer or a
 * withdrawal the risk step wants confirmed): the customer's PIN hash is read on the sequencer, checked against the PIN on the
 * worker pool (Argon2id takes tens of milliseconds, too long for a loop or the sequencer), and
 * then the request's own command runs, knowing whether the PIN was right. It counts a wrong one
 * (api_pin_attempt), like a log-in's. */
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"

struct pin_lookup {
    struct mopay_http_command base;
    struct mopay_str pin;
    char hash[MOPAY_PIN_HASH_BYTES];
    bool ok;
    struct mopay_http_command *next;
    bool *next_ok;
};

static enum mopay_err lookup_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    (void)store;
    struct pin_lookup *l = (struct pin_lookup *)cmd;
    struct mopay_api *api = cmd->app;
    const struct mopay_customer *c = api_principal_customer(api, mopay_http_principal(cmd->req));
    MOPAY_ASSERT(c != NULL); /* its session authenticated this request */
    if (c->locked_until_ns > now_ns)
        return MOPAY_ERR_customer_locked;
    memcpy(l->hash, c->pin_hash, sizeof(l->hash));
    return MOPAY_OK;
}

static void verify(void *arg)
{
    struct pin_lookup *l = arg;
    const struct mopay_api *api = l->base.app;
    l->ok = mopay_keys_pin_verify(api->keys, l->hash, l->pin.ptr, l->pin.len);
}

static void verified(struct mopay_http_request *req, void *arg)
{
    struct pin_lookup *l = arg;
    *l->next_ok = l->ok;
    sodium_memzero(l->hash, sizeof(l->hash));
    mopay_http_submit(req, l->next);
}

static void lookup_then(struct mopay_http_command *cmd)
{
    mopay_http_offload(cmd->req, verify, verified, cmd);
}

void api_submit_with_pin(struct mopay_http_request *req, struct mopay_http_command *cmd, const struct mopay_str *pin,
                         bool *pin_ok)
{
    *pin_ok = false;
    if (pin->ptr == NULL) {
        mopay_http_submit(req, cmd);
        return;
    }
    if (mopay_pin_check(pin->ptr, pin->len) != MOPAY_OK) {
        mopay_http_reply_error(req, MOPAY_ERR_pin_format_invalid, "/pin", "a PIN is exactly six digits");
        return;
    }
    struct pin_lookup *l = mopay_http_command_new(req, sizeof(*l), lookup_apply, NULL);
    if (l == NULL) {
        api_reply_oom(req);
        return;
    }
    l->base.then = lookup_then;
    l->pin = *pin;
    l->next = cmd;
    l->next_ok = pin_ok;
    mopay_http_submit(req, &l->base);
}

enum mopay_err api_pin_attempt(struct mopay_api *api, struct mopay_store *store, int64_t now_ns,
                               struct mopay_customer *c, const struct mopay_str *pin, bool pin_ok,
                               enum mopay_err *refusal)
{
    *refusal = MOPAY_OK;
    if (pin->ptr == NULL)
        return MOPAY_OK;
    MOPAY_ASSERT(c != NULL); /* a PIN comes only on a customer's routes */
    return mopay_wallet_pin_attempt(api->wallet, store, now_ns, c, pin_ok, refusal);
}

json_t *api_pin_refusal(struct mopay_http_command *cmd, enum mopay_err refusal, int *status)
{
    return mopay_http_problem(cmd, refusal, "/pin",
                              refusal == MOPAY_ERR_customer_locked ? "five wrong PINs: locked for 15 minutes"
                                                                   : "the PIN is not correct",
                              status);
}
