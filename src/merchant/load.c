/* Start-up: merchants and orders back into memory, checked as they are read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/text.h"

struct load_ctx {
    struct mopay_merchant_state *m;
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

static bool keys_read(json_t *keys, struct mopay_merchant *merchant)
{
    if (!json_is_array(keys) || json_array_size(keys) == 0 || json_array_size(keys) > MOPAY_MERCHANT_KEYS_MAX)
        return false;
    for (size_t i = 0; i < json_array_size(keys); i++) {
        struct mopay_merchant_key *k = &merchant->keys[i];
        const char *hash = NULL, *last4 = NULL;
        json_int_t created = 0, revoked = 0;
        if (json_unpack(json_array_get(keys, i), "{s:s, s:s, s:I, s:I}", "hash", &hash, "last4", &last4,
                        "created_at_ns", &created, "revoked_at_ns", &revoked) != 0 ||
            !mopay_hex_decode(hash, k->hash, 32) || !mopay_text_load(last4, k->last4, sizeof(k->last4)))
            return false;
        k->created_at_ns = created;
        k->revoked_at_ns = revoked;
    }
    merchant->key_count = json_array_size(keys);
    return true;
}

/* The webhook secret opens only as this merchant's (a value sealed before seals were bound to
 * their row opens too, and is sealed for its row at the merchant's next write). */
static bool merchant_secret_open(struct load_ctx *ctx, const char *id, const char *sealed, struct mopay_merchant *x)
{
    char ad[MOPAY_SEAL_AD_BYTES];
    mopay_seal_ad(ad, "merchant", id, "webhook_secret");
    return mopay_unseal_b64(ctx->m->options.keys->secret_seal, ad, sealed, x->webhook_secret,
                            MOPAY_WEBHOOK_SECRET_BYTES, NULL);
}

static bool merchant_read(struct load_ctx *ctx, json_t *j, struct mopay_merchant *x)
{
    const char *id = NULL, *name = NULL, *mcc = NULL, *country = NULL, *city = NULL, *currency = NULL,
               *settlement = NULL, *url = NULL, *secret = NULL;
    json_t *keys = NULL;
    json_int_t created = 0;
    int kind = 0;
    bool ok = json_unpack(j, "{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:o, s:I}", "id", &id, "kind",
                          &kind, "name", &name,
                          "mcc", &mcc, "country", &country, "city", &city, "currency", &currency, "fee_bps",
                          &x->fee_bps, "settlement_account", &settlement, "webhook_url", &url,
                          "webhook_secret_sealed", &secret, "keys", &keys, "created_at_ns", &created) == 0 &&
              mopay_id_parse(MOPAY_ID_MERCHANT, id, strlen(id), &x->id) == MOPAY_OK &&
              mopay_text_load(name, x->name, sizeof(x->name)) && mopay_text_load(mcc, x->mcc, sizeof(x->mcc)) &&
              mopay_text_load(country, x->country, sizeof(x->country)) && mopay_text_load(city, x->city, sizeof(x->city)) &&
              (x->currency = mopay_currency_by_alpha(currency, strlen(currency))) != NULL &&
              mopay_text_load(settlement, x->settlement_account, sizeof(x->settlement_account)) &&
              mopay_text_load(url, x->webhook_url, sizeof(x->webhook_url)) &&
              merchant_secret_open(ctx, id, secret, x) &&
              keys_read(keys, x) && x->fee_bps >= 0 && x->fee_bps <= MOPAY_FEE_BPS_MAX &&
              (kind == MOPAY_MERCHANT_SHOP || kind == MOPAY_MERCHANT_BILLER) &&
              mopay_ledger_account_get(mopay_ledger_service_ledger(ctx->m->options.ledger), &x->id) != NULL;
    x->created_at_ns = created;
    x->kind = (enum mopay_merchant_kind)kind;
    /* records written before secrets were text have no form: their secret stays hex */
    json_t *form = json_object_get(j, "webhook_secret_form");
    x->webhook_secret_text = form != NULL;
    return ok && (form == NULL || (json_is_string(form) && strcmp(json_string_value(form), "whsec") == 0));
}

static bool load_merchant(void *arg, const char *id, const char *text, size_t len)
{
    struct load_ctx *ctx = arg;
    json_t *j = json_loadb(text, len, 0, NULL);
    struct mopay_merchant *merchant = calloc(1, sizeof(*merchant));
    bool ok = j != NULL && merchant != NULL && merchant_read(ctx, j, merchant);
    json_decref(j);
    if (!ok) {
        free(merchant);
        return load_fail(ctx, "merchant", id, "malformed, its ledger account missing, or its webhook secret does not open as this merchant's "
                         "(sealed for another row, or under another master key)");
    }
    if (!merchant_add(ctx->m, merchant)) {
        free(merchant);
        return load_fail(ctx, "merchant", id, "out of memory");
    }
    return true;
}

static bool order_read(struct load_ctx *ctx, json_t *j, struct mopay_order *o)
{
    const char *id = NULL, *mid = NULL, *reference = NULL, *description = NULL, *payment = NULL;
    json_int_t amount = 0, vat = 0, created = 0, expires = 0, paid = 0;
    int tax_free = 0, status = 0;
    struct mopay_id merchant_id;
    bool ok = json_unpack(j, "{s:s, s:s, s:I, s:s, s:s, s:b, s:I, s:i, s:s, s:I, s:I, s:I}", "id", &id,
                          "merchant_id", &mid, "amount_minor", &amount, "reference", &reference, "description",
                          &description, "tax_free", &tax_free, "vat_minor", &vat, "status", &status, "payment_id",
                          &payment, "created_at_ns", &created, "expires_at_ns", &expires, "paid_at_ns", &paid) == 0 &&
              mopay_id_parse(MOPAY_ID_ORDER, id, strlen(id), &o->id) == MOPAY_OK &&
              mopay_id_parse(MOPAY_ID_MERCHANT, mid, strlen(mid), &merchant_id) == MOPAY_OK &&
              mopay_id_parse(MOPAY_ID_PAYMENT, payment, strlen(payment), &o->payment_id) == MOPAY_OK &&
              (o->merchant = mopay_merchant_get(ctx->m, &merchant_id)) != NULL &&
              mopay_text_load(reference, o->reference, sizeof(o->reference)) &&
              mopay_text_load(description, o->description, sizeof(o->description)) && amount > 0 && vat >= 0 &&
              status >= MOPAY_ORDER_OPEN && status <= MOPAY_ORDER_EXPIRED;
    o->amount_minor = amount, o->vat_minor = vat, o->tax_free = tax_free != 0;
    o->status = (enum mopay_order_status)status;
    o->created_at_ns = created, o->expires_at_ns = expires, o->paid_at_ns = paid;
    return ok;
}

static bool load_order(void *arg, const char *id, const char *text, size_t len)
{
    struct load_ctx *ctx = arg;
    json_t *j = json_loadb(text, len, 0, NULL);
    struct mopay_order *o = calloc(1, sizeof(*o));
    bool ok = j != NULL && o != NULL && order_read(ctx, j, o);
    json_decref(j);
    if (!ok) {
        free(o);
        return load_fail(ctx, "order", id, "malformed, or its merchant is missing");
    }
    if (!order_add(ctx->m, o)) {
        free(o);
        return load_fail(ctx, "order", id, "out of memory");
    }
    return true;
}

static bool load_bill(void *arg, const char *id, const char *text, size_t len)
{
    struct load_ctx *ctx = arg;
    json_t *j = json_loadb(text, len, 0, NULL);
    struct mopay_bill *b = calloc(1, sizeof(*b));
    bool ok = j != NULL && b != NULL && bill_read(ctx->m, j, b) && bill_add(ctx->m, b);
    json_decref(j);
    if (!ok) {
        free(b);
        return load_fail(ctx, "bill", id, "malformed, its biller missing, or out of memory");
    }
    return true;
}

enum mopay_err mopay_merchant_load(struct mopay_merchant_state *m, struct mopay_store *store, char *err,
                                   size_t err_cap)
{
    struct load_ctx ctx = {m, err, err_cap, false};
    enum mopay_err e = store->records_load(store, "merchant", load_merchant, &ctx);
    if (e == MOPAY_OK && !ctx.failed)
        e = store->records_load(store, "order", load_order, &ctx);
    if (e == MOPAY_OK && !ctx.failed)
        e = store->records_load(store, "bill", load_bill, &ctx);
    if (ctx.failed)
        return MOPAY_ERR_store_failed;
    if (e != MOPAY_OK)
        snprintf(err, err_cap, "loading merchant records: %s", store->last_error);
    return e;
}
