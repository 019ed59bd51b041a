/* Start-up, for a database from before the journal: its JSON records back into memory, checked
 * as they are read (the other side of the persistence boundary), after the journal's replay and
 * before they are moved into it. A record that does not parse, names an object that is not there,
 * is in memory already (from the journal), or does not open under the master key stops the start
 * with a reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/paycode.h"
#include "mopay/text.h"

struct load_ctx {
    struct mopay_wallet_state *w;
    char *err;
    size_t err_cap;
    bool failed;
};

static bool load_fail(struct load_ctx *ctx, const char *kind, const char *id, const char *why)
{
    snprintf(ctx->err, ctx->err_cap, "%s record %s: %s", kind, id, why);
    ctx->failed = true;
    return false;
}

/* A customer's identity document number is kept sealed and never shown; it must still open as
 * this customer's, so a number copied from another row is found at start, not when needed. One
 * sealed before seals were bound to their row is sealed for it here (the row at its next write). */
static bool kyc_document_opens(const struct load_ctx *ctx, struct mopay_customer *c)
{
    if (c->kyc_document_sealed[0] == '\0')
        return true;
    char id[MOPAY_ID_TEXT_BYTES], ad[MOPAY_SEAL_AD_BYTES], plain[MOPAY_SEALED_PLAIN_MAX];
    mopay_id_format(MOPAY_ID_CUSTOMER, &c->id, id);
    mopay_seal_ad(ad, "customer", id, "kyc_document");
    uint8_t sealed[sizeof(c->kyc_document_sealed)];
    size_t sealed_len = 0, plain_len = 0;
    bool legacy = false;
    bool ok = sodium_base642bin(sealed, sizeof(sealed), c->kyc_document_sealed, strlen(c->kyc_document_sealed), NULL,
                                &sealed_len, NULL, sodium_base64_VARIANT_ORIGINAL) == 0 &&
              sealed_len >= MOPAY_SEAL_OVERHEAD && sealed_len - MOPAY_SEAL_OVERHEAD <= sizeof(plain) &&
              mopay_keys_open_ad(ctx->w->options.keys->secret_seal, ad, sealed, sealed_len, plain, &plain_len, &legacy);
    if (ok && legacy) {
        char resealed[MOPAY_SEALED_B64_BYTES];
        mopay_seal_b64(ctx->w->options.keys->secret_seal, ad, plain, plain_len, resealed);
        ok = mopay_text_load(resealed, c->kyc_document_sealed, sizeof(c->kyc_document_sealed));
    }
    sodium_memzero(plain, sizeof(plain));
    return ok;
}

static bool load_customer(void *arg, const char *id, const char *text, size_t len)
{
    struct load_ctx *ctx = arg;
    json_t *j = json_loadb(text, len, 0, NULL);
    struct mopay_customer *c = calloc(1, sizeof(*c));
    const char *cid = NULL, *phone = NULL, *name = NULL, *country = NULL, *pin = NULL, *doc = NULL, *last4 = NULL,
               *sealed = NULL;
    int frozen = 0;
    json_int_t locked = 0, created = 0, t[5] = {0};
    bool ok = j != NULL && c != NULL &&
              json_unpack(j, "{s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:b, s:i, s:I, s:I, s:[IIIII]}", "id", &cid,
                          "phone",
                          &phone, "name", &name, "country", &country, "pin_hash", &pin, "kyc_tier", &c->kyc_tier,
                          "kyc_document_type", &doc, "kyc_document_last4", &last4, "kyc_document_sealed", &sealed,
                          "frozen", &frozen, "failed_pins", &c->failed_pins, "locked_until_ns", &locked,
                          "created_at_ns", &created, "trust", &t[0], &t[1], &t[2], &t[3], &t[4]) == 0 &&
              mopay_id_parse_text(MOPAY_ID_CUSTOMER, cid, &c->id) && mopay_wallet_customer(ctx->w, &c->id) == NULL &&
              mopay_text_load(phone, c->phone, sizeof(c->phone)) &&
              mopay_text_load(name, c->name, sizeof(c->name)) && mopay_text_load(country, c->country, sizeof(c->country)) &&
              mopay_text_load(pin, c->pin_hash, sizeof(c->pin_hash)) &&
              mopay_text_load(doc, c->kyc_document_type, sizeof(c->kyc_document_type)) &&
              mopay_text_load(last4, c->kyc_document_last4, sizeof(c->kyc_document_last4)) &&
              mopay_text_load(sealed, c->kyc_document_sealed, sizeof(c->kyc_document_sealed)) && c->kyc_tier >= 0 &&
              c->kyc_tier < MOPAY_WALLET_TIERS;
    c = ok ? c : (free(c), NULL);
    for (int i = 0; c != NULL && i < 5; i++)
        c = t[i] >= 0 && t[i] <= UINT32_MAX ? c : (free(c), NULL);
    if (c != NULL) {
        c->trust = (struct mopay_trust_inputs){(uint32_t)t[0], (uint32_t)t[1], (uint32_t)t[2], (uint32_t)t[3],
                                               (uint32_t)t[4]};
        c->frozen = frozen != 0;
        c->locked_until_ns = locked;
        c->created_at_ns = created;
    }
    json_decref(j);
    if (c == NULL)
        return load_fail(ctx, "customer", id, "malformed, or in the log already");
    if (!kyc_document_opens(ctx, c)) {
        free(c);
        return load_fail(ctx, "customer", id,
                         "its identity document number does not open as this customer's (sealed for another row, "
                         "or under another master key)");
    }
    if (!state_customer_add(ctx->w, c)) {
        free(c);
        return load_fail(ctx, "customer", id, "out of memory");
    }
    return true;
}

static struct mopay_customer *customer_of(struct load_ctx *ctx, const char *text)
{
    struct mopay_id id;
    return mopay_id_parse_text(MOPAY_ID_CUSTOMER, text, &id) ? mopay_wallet_customer(ctx->w, &id) : NULL;
}

/* The payment-code secret opens only as this device's; one sealed before seals were bound to
 * their row opens too, and is sealed for its row at the device's next write. */
static bool device_secret_open(const struct load_ctx *ctx, const char *did, const char *sealed, struct mopay_device *d)
{
    char ad[MOPAY_SEAL_AD_BYTES];
    mopay_seal_ad(ad, "device", did, "code_secret");
    return mopay_unseal_b64(ctx->w->options.keys->secret_seal, ad, sealed, d->code_secret, sizeof(d->code_secret),
                            NULL);
}

static bool load_device(void *arg, const char *id, const char *text, size_t len)
{
    struct load_ctx *ctx = arg;
    json_t *j = json_loadb(text, len, 0, NULL);
    struct mopay_device *d = calloc(1, sizeof(*d));
    const char *did = NULL, *cid = NULL, *name = NULL, *key = NULL, *secret = NULL;
    json_int_t created = 0, revoked = 0, signed_ns = 0, code_index = 0, code_step = 0;
    bool ok = j != NULL && d != NULL &&
              json_unpack(j, "{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "id", &did, "customer_id", &cid,
                          "name", &name, "public_key", &key, "code_secret_sealed", &secret, "created_at_ns", &created,
                          "revoked_at_ns", &revoked, "last_signed_ns", &signed_ns, "code_index", &code_index,
                          "code_last_step", &code_step) == 0 &&
              code_index > 0 && code_index <= MOPAY_PAYCODE_DEVICE_INDEX_MAX &&
              mopay_id_parse_text(MOPAY_ID_DEVICE, did, &d->id) && mopay_wallet_device(ctx->w, &d->id) == NULL &&
              (d->customer = customer_of(ctx, cid)) != NULL &&
              mopay_text_load(name, d->name, sizeof(d->name)) && mopay_hex_decode(key, d->public_key, 32) &&
              device_secret_open(ctx, did, secret, d) &&
              d->customer->device_count < sizeof(d->customer->devices) / sizeof(d->customer->devices[0]);
    json_decref(j);
    if (!ok) {
        free(d);
        return load_fail(ctx, "device", id,
                         "malformed, in the log already, its customer missing, or its code secret does not open "
                         "as this device's (sealed for another row, or under another master key)");
    }
    d->created_at_ns = created;
    d->revoked_at_ns = revoked;
    d->last_signed_ns = signed_ns;
    d->code_index = (uint32_t)code_index;
    d->code_last_step = code_step;
    atomic_store(&d->revoked, revoked != 0);
    if (!state_device_add(ctx->w, d)) {
        free(d);
        return load_fail(ctx, "device", id, "out of memory");
    }
    return true;
}

static bool load_wallet(void *arg, const char *id, const char *text, size_t len)
{
    struct load_ctx *ctx = arg;
    json_t *j = json_loadb(text, len, 0, NULL);
    struct mopay_wallet *wallet = calloc(1, sizeof(*wallet));
    const char *wid = NULL, *cid = NULL, *currency = NULL;
    json_int_t created = 0, day = 0, outflow = 0;
    bool ok = j != NULL && wallet != NULL &&
              json_unpack(j, "{s:s, s:s, s:s, s:I, s:I, s:I}", "id", &wid, "customer_id", &cid, "currency",
                          &currency, "created_at_ns", &created, "outflow_day", &day, "outflow_minor", &outflow) == 0 &&
              mopay_id_parse_text(MOPAY_ID_WALLET, wid, &wallet->id) && mopay_wallet_get(ctx->w, &wallet->id) == NULL &&
              (wallet->customer = customer_of(ctx, cid)) != NULL &&
              (wallet->currency = mopay_currency_by_alpha(currency, strlen(currency))) != NULL &&
              wallet->customer->wallet_count < MOPAY_WALLETS_PER_CUSTOMER_MAX &&
              mopay_ledger_account_get(mopay_ledger_service_ledger(ctx->w->options.ledger), &wallet->id) != NULL;
    json_decref(j);
    if (!ok) {
        free(wallet);
        return load_fail(ctx, "wallet", id,
                         "malformed, in the log already, or its customer or ledger account is missing");
    }
    wallet->created_at_ns = created;
    wallet->outflow_day = day;
    wallet->outflow_minor = outflow;
    if (!state_wallet_add(ctx->w, wallet)) {
        free(wallet);
        return load_fail(ctx, "wallet", id, "out of memory");
    }
    return true;
}

/* The sealed number, which must open under this master key and as this source's (checked now,
 * not at the first top-up). One sealed before seals were bound to their row is sealed for it
 * here, in memory: the row holds the bound seal from its next write. */
static bool source_sealed(const struct load_ctx *ctx, const char *sid, struct mopay_funding_source *s,
                          const char *b64)
{
    char plain[sizeof(s->sealed_number)], ad[MOPAY_SEAL_AD_BYTES];
    size_t plain_len = 0;
    bool legacy = false;
    const uint8_t *key = ctx->w->options.keys->card_seal;
    mopay_seal_ad(ad, "source", sid, "number");
    bool ok = b64 != NULL &&
              sodium_base642bin(s->sealed_number, sizeof(s->sealed_number), b64, strlen(b64), NULL, &s->sealed_len,
                                NULL, sodium_base64_VARIANT_ORIGINAL) == 0 &&
              s->sealed_len > MOPAY_SEAL_OVERHEAD &&
              mopay_keys_open_ad(key, ad, s->sealed_number, s->sealed_len, plain, &plain_len, &legacy) &&
              plain_len + MOPAY_SEAL_AD_OVERHEAD <= sizeof(s->sealed_number);
    if (ok && legacy) {
        mopay_keys_seal_ad(key, ad, plain, plain_len, s->sealed_number);
        s->sealed_len = plain_len + MOPAY_SEAL_AD_OVERHEAD;
    }
    sodium_memzero(plain, sizeof(plain));
    return ok;
}

static bool load_source(void *arg, const char *id, const char *text, size_t len)
{
    struct load_ctx *ctx = arg;
    json_t *j = json_loadb(text, len, 0, NULL);
    struct mopay_funding_source *s = calloc(1, sizeof(*s));
    const char *sid = NULL, *cid = NULL, *type = NULL, *bank = NULL, *last4 = NULL, *holder = NULL, *sealed = NULL,
               *fingerprint = NULL;
    int brand = 0, iban = 0, primary = 0, backup = 0, lost = 0;
    json_int_t created = 0;
    bool ok = j != NULL && s != NULL &&
              json_unpack(j, "{s:s, s:s, s:s, s:i, s:i, s:i, s:s, s:b, s:s, s:s, s:b, s:b, s:b, s:s, s:s, s:I}", "id",
                          &sid, "customer_id", &cid, "type", &type, "brand", &brand, "exp_month", &s->exp_month,
                          "exp_year", &s->exp_year, "bank_code", &bank, "iban", &iban, "last4", &last4, "holder",
                          &holder, "primary", &primary, "backup", &backup, "lost", &lost, "number_sealed", &sealed,
                          "fingerprint", &fingerprint, "created_at_ns", &created) == 0 &&
              mopay_hex_decode(fingerprint, s->fingerprint, 16) &&
              mopay_id_parse_text(MOPAY_ID_FUNDING_SOURCE, sid, &s->id) &&
              mopay_wallet_source(ctx->w, &s->id) == NULL &&
              (s->customer = customer_of(ctx, cid)) != NULL &&
              mopay_text_load(bank, s->bank_code, sizeof(s->bank_code)) && mopay_text_load(last4, s->last4, sizeof(s->last4)) &&
              mopay_text_load(holder, s->holder, sizeof(s->holder)) && source_sealed(ctx, sid, s, sealed) &&
              s->customer->source_count < MOPAY_SOURCES_PER_CUSTOMER_MAX;
    if (ok)
        s->type = strcmp(type, "card") == 0 ? MOPAY_SOURCE_CARD : MOPAY_SOURCE_BANK_ACCOUNT;
    json_decref(j); /* the strings unpacked above die here */
    if (!ok) {
        free(s);
        return load_fail(ctx, "funding source", id,
                         "malformed, in the log already, its customer missing, or its number does not open as "
                         "this source's (sealed for another row, or under another master key)");
    }
    s->brand = (enum mopay_card_brand)brand;
    s->iban = iban, s->primary = primary, s->backup = backup, s->lost = lost;
    s->created_at_ns = created;
    if (!state_source_add(ctx->w, s)) {
        free(s);
        return load_fail(ctx, "funding source", id, "out of memory");
    }
    return true;
}

static bool load_movement(void *arg, const char *id, const char *text, size_t len)
{
    struct load_ctx *ctx = arg;
    json_t *j = json_loadb(text, len, 0, NULL);
    struct mopay_movement *m = calloc(1, sizeof(*m));
    const char *mid = NULL, *wid = NULL, *sid = NULL, *code = NULL, *ref = NULL;
    int kind = 0, status = 0;
    json_int_t amount = 0, created = 0, resolved = 0, expires = 0;
    struct mopay_id wallet_id, source_id;
    bool ok = j != NULL && m != NULL &&
              json_unpack(j, "{s:s, s:i, s:s, s:s, s:I, s:i, s:s, s:s, s:I, s:I, s:I}", "id", &mid, "kind", &kind,
                          "wallet_id", &wid, "source_id", &sid, "amount_minor", &amount, "status", &status,
                          "decline_code", &code, "network_reference", &ref, "created_at_ns", &created,
                          "resolved_at_ns", &resolved, "expires_at_ns", &expires) == 0 &&
              (kind == MOPAY_MOVEMENT_TOPUP || kind == MOPAY_MOVEMENT_WITHDRAWAL) &&
              mopay_id_parse_text(kind == MOPAY_MOVEMENT_TOPUP ? MOPAY_ID_TOPUP : MOPAY_ID_WITHDRAWAL, mid, &m->id) &&
              mopay_wallet_movement(ctx->w, &m->id) == NULL &&
              mopay_id_parse_text(MOPAY_ID_WALLET, wid, &wallet_id) && mopay_id_parse_text(MOPAY_ID_FUNDING_SOURCE, sid, &source_id) &&
              (m->wallet = mopay_wallet_get(ctx->w, &wallet_id)) != NULL &&
              (m->source = mopay_wallet_source(ctx->w, &source_id)) != NULL &&
              status >= MOPAY_MOVEMENT_PENDING && status <= MOPAY_MOVEMENT_EXPIRED && amount > 0 &&
              mopay_text_load(code, m->decline_code, sizeof(m->decline_code)) &&
              mopay_text_load(ref, m->network_reference, sizeof(m->network_reference));
    json_decref(j);
    if (!ok) {
        free(m);
        return load_fail(ctx, "movement", id, "malformed, in the log already, or its wallet or source is missing");
    }
    m->kind = (enum mopay_movement_kind)kind;
    m->status = (enum mopay_movement_status)status;
    m->amount_minor = amount;
    m->created_at_ns = created, m->resolved_at_ns = resolved, m->expires_at_ns = expires;
    if (!state_movement_add(ctx->w, m)) {
        free(m);
        return load_fail(ctx, "movement", id, "out of memory");
    }
    return true;
}

static bool load_session(void *arg, const char *id, const char *text, size_t len)
{
    struct load_ctx *ctx = arg;
    json_t *j = json_loadb(text, len, 0, NULL);
    struct mopay_session *s = calloc(1, sizeof(*s));
    const char *hash = NULL, *cid = NULL, *did = NULL;
    json_int_t created = 0, expires = 0;
    struct mopay_id device_id;
    bool ok = j != NULL && s != NULL &&
              json_unpack(j, "{s:s, s:s, s:s, s:I, s:I}", "hash", &hash, "customer_id", &cid, "device_id", &did,
                          "created_at_ns", &created, "expires_at_ns", &expires) == 0 &&
              mopay_hex_decode(hash, s->hash, 32) && mopay_index_get(&ctx->w->sessions, s->hash) == NULL &&
              (s->customer = customer_of(ctx, cid)) != NULL &&
              mopay_id_parse_text(MOPAY_ID_DEVICE, did, &device_id) && (s->device = mopay_wallet_device(ctx->w, &device_id)) != NULL;
    json_decref(j);
    if (!ok) {
        free(s);
        return load_fail(ctx, "session", id, "malformed, in the log already, or its customer or device is missing");
    }
    s->created_at_ns = created;
    s->expires_at_ns = expires;
    if (!state_session_add(ctx->w, s)) {
        free(s);
        return load_fail(ctx, "session", id, "out of memory");
    }
    return true;
}

enum mopay_err mopay_wallet_load(struct mopay_wallet_state *w, struct mopay_store *store, char *err,
                                 size_t err_cap)
{
    static const struct {
        const char *kind;
        bool (*each)(void *, const char *, const char *, size_t);
    } kinds[] = {{"customer", load_customer}, {"device", load_device}, {"wallet", load_wallet},
                 {"source", load_source},     {"movement", load_movement}, {"session", load_session}};
    struct load_ctx ctx = {w, err, err_cap, false};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        enum mopay_err e = store->records_load(store, kinds[i].kind, kinds[i].each, &ctx);
        if (ctx.failed)
            return MOPAY_ERR_store_failed;
        if (e != MOPAY_OK) {
            snprintf(err, err_cap, "loading %s records: %s", kinds[i].kind, store->last_error);
            return e;
        }
    }
    return MOPAY_OK;
}
