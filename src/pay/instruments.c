/* The instruments a merchant presents to mopay on the customer's behalf: offline payment codes
 * and NFC taps. Each resolves to a device and so to its customer; each can pay once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/paycode.h"

#define NS_PER_S 1000000000LL

/* The terminal's throttle, before anything about the code or tap is looked at. */
static enum mopay_err terminal_admit(struct mopay_pay_state *p, int64_t now_ns, struct mopay_pay_terminal *who,
                                     enum mopay_risk_guess_kind kind)
{
    bool ok = mopay_risk_guessing_admit(p->guessing, who->merchant->id.bytes, who->terminal_id, kind, now_ns,
                                        &who->retry_after_s);
    return ok ? MOPAY_OK : MOPAY_ERR_rate_limited;
}

/* A code or tap judged wrong: counted against the terminal that sent it, never the device. */
static enum mopay_err terminal_wrong(struct mopay_pay_state *p, int64_t now_ns, const struct mopay_pay_terminal *who,
                                     enum mopay_risk_guess_kind kind, enum mopay_err err)
{
    mopay_risk_guessing_wrong(p->guessing, who->merchant->id.bytes, who->terminal_id, kind, now_ns);
    return err;
}

enum mopay_err mopay_pay_code_check(struct mopay_pay_state *p, int64_t now_ns, struct mopay_pay_terminal *who,
                                    const char *code, size_t len, struct mopay_device **out_device,
                                    int64_t *out_step)
{
    const enum mopay_risk_guess_kind kind = MOPAY_RISK_GUESS_PAYMENT_CODE;
    enum mopay_err err = terminal_admit(p, now_ns, who, kind);
    if (err != MOPAY_OK)
        return err;
    uint64_t index = 0;
    int hint = 0;
    if ((err = mopay_paycode_parse(code, len, &index, &hint)) != MOPAY_OK)
        return terminal_wrong(p, now_ns, who, kind, err);
    struct mopay_device *d = mopay_wallet_device_by_code(p->options.wallet, (uint32_t)index);
    if (d == NULL || d->revoked_at_ns != 0)
        return terminal_wrong(p, now_ns, who, kind, MOPAY_ERR_payment_code_invalid);
    int64_t step = 0;
    err = mopay_paycode_verify(d->code_secret, index, code, len, now_ns / NS_PER_S, p->options.paycode_window_steps,
                               &step);
    if (err != MOPAY_OK)
        return terminal_wrong(p, now_ns, who, kind, err);
    if (step <= d->code_last_step)
        return MOPAY_ERR_payment_code_used;
    *out_device = d;
    *out_step = step;
    return MOPAY_OK;
}

enum mopay_err mopay_pay_code_spend(struct mopay_pay_state *p, struct mopay_store *store, int64_t now_ns,
                                    struct mopay_device *device, int64_t step)
{
    return mopay_wallet_code_used(p->options.wallet, store, now_ns, device, step);
}

/* --- NFC --- */

static void token_key(const char *token, uint8_t key[16])
{
    mopay_index_key_of_text(token, strlen(token), key);
}

bool nfc_add(struct mopay_pay_state *p, struct mopay_nfc_token *t)
{
    uint8_t key[16];
    token_key(t->token, key);
    return mopay_index_put(&p->nfc_tokens, key, t);
}

struct mopay_nfc_token *nfc_find(struct mopay_pay_state *p, const char *token)
{
    uint8_t key[16];
    token_key(token, key);
    struct mopay_nfc_token *t = mopay_index_get(&p->nfc_tokens, key);
    return t != NULL && strcmp(t->token, token) == 0 ? t : NULL;
}

/* The device's token, if it has one. Devices have few tokens and provisioning is rare. */
static struct mopay_nfc_token *nfc_of_device(struct mopay_pay_state *p, const struct mopay_device *d)
{
    for (size_t i = 0; i < p->nfc_tokens.capacity; i++) {
        struct mopay_nfc_token *t = p->nfc_tokens.slots[i].value;
        if (t != NULL && t->device == d)
            return t;
    }
    return NULL;
}

/* A token of 16 digits starting "87", mopay's prefix (mopay/paycode.h), that no device has. */
static struct mopay_nfc_token *nfc_new(struct mopay_pay_state *p, struct mopay_device *d)
{
    struct mopay_nfc_token *t = calloc(1, sizeof(*t));
    for (int tries = 0; t != NULL && tries < 64; tries++) {
        memcpy(t->token, MOPAY_PAYCODE_PREFIX, 2);
        for (size_t i = 2; i < MOPAY_NFC_TOKEN_DIGITS; i++)
            t->token[i] = (char)('0' + randombytes_uniform(10));
        t->token[MOPAY_NFC_TOKEN_DIGITS] = '\0';
        if (nfc_find(p, t->token) != NULL)
            continue;
        t->device = d;
        if (nfc_add(p, t))
            return t;
        break;
    }
    free(t);
    return NULL;
}

enum mopay_err mopay_pay_nfc_provision(struct mopay_pay_state *p, struct mopay_store *store, int64_t now_ns,
                                       struct mopay_device *device, uint32_t keys_count, uint32_t taps_per_key,
                                       int64_t ttl_s, struct mopay_nfc_token **out)
{
    (void)store; /* the token's record goes to the journal */
    MOPAY_ASSERT(keys_count > 0 && taps_per_key > 0 && ttl_s > 0);
    if (device->revoked_at_ns != 0)
        return MOPAY_ERR_device_revoked;
    struct mopay_nfc_token *t = nfc_of_device(p, device);
    bool fresh = t == NULL;
    if (fresh && (t = nfc_new(p, device)) == NULL)
        return MOPAY_ERR_internal;
    if (!fresh && (uint64_t)t->atc_last + (uint64_t)keys_count * taps_per_key > UINT16_MAX)
        return MOPAY_ERR_field_invalid; /* the counter would wrap: a new token is needed */
    /* a new batch starts after the last key ever handed out and the last counter seen */
    t->key_first = fresh ? 0 : t->key_first + t->key_count;
    t->key_count = keys_count;
    t->taps_per_key = taps_per_key;
    t->atc_base = t->atc_last;
    t->provisioned_at_ns = now_ns;
    t->expires_at_ns = now_ns + ttl_s * NS_PER_S;
    *out = t;
    return nfc_record(p, now_ns, t);
}

enum mopay_err mopay_pay_nfc_check(struct mopay_pay_state *p, int64_t now_ns, struct mopay_pay_terminal *who,
                                   const char *token, const struct mopay_nfc_tap *tap, const uint8_t cryptogram[8],
                                   struct mopay_nfc_token **out)
{
    const enum mopay_risk_guess_kind kind = MOPAY_RISK_GUESS_NFC;
    if (terminal_admit(p, now_ns, who, kind) != MOPAY_OK)
        return MOPAY_ERR_rate_limited;
    struct mopay_nfc_token *t = nfc_find(p, token);
    if (t == NULL || t->device->revoked_at_ns != 0 || t->key_count == 0)
        return terminal_wrong(p, now_ns, who, kind, MOPAY_ERR_nfc_token_unknown);
    /* the key the counter names, clamped into the batch so a forged counter cannot pick one */
    uint32_t offset = tap->atc > t->atc_base ? (uint32_t)(tap->atc - t->atc_base - 1) / t->taps_per_key : 0;
    bool beyond = offset >= t->key_count;
    uint8_t luk[MOPAY_NFC_LUK_BYTES];
    mopay_nfc_luk_derive(p->options.nfc_issuer_key, (const uint8_t *)t->token, strlen(t->token),
                         t->key_first + (beyond ? t->key_count - 1 : offset), luk);
    enum mopay_err err = mopay_nfc_cryptogram_verify(luk, tap, cryptogram);
    sodium_memzero(luk, sizeof(luk));
    if (err != MOPAY_OK)
        return terminal_wrong(p, now_ns, who, kind, err);
    if (tap->atc == t->atc_last)
        return MOPAY_ERR_nfc_replay;
    if (tap->atc < t->atc_last || tap->atc <= t->atc_base)
        return MOPAY_ERR_nfc_counter_backwards;
    if (beyond)
        return MOPAY_ERR_nfc_key_exhausted;
    if (now_ns >= t->expires_at_ns)
        return MOPAY_ERR_nfc_key_expired;
    *out = t;
    return MOPAY_OK;
}

enum mopay_err mopay_pay_nfc_spend(struct mopay_pay_state *p, struct mopay_store *store, int64_t now_ns,
                                   struct mopay_nfc_token *t, uint16_t atc)
{
    (void)store; /* the token's record goes to the journal */
    MOPAY_ASSERT(atc > t->atc_last);
    t->atc_last = atc;
    return nfc_record(p, now_ns, t);
}
