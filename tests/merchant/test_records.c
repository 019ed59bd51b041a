/* Merchants, orders, bills, offers, coupons, FX rates and quotes through the journal, in
 * process on the wallet fixture's store (tests/wallet/fixture.h):
 *   every kind changed in batches as the API changes them (a record made and changed in one
 *   batch, an offer made and claimed in one) -> a second start replays the log into fresh states
 *   -> every record equal field for field (a REF by the id it names), and the state kept beside
 *   them (live API keys, open orders, bills by reference, claims per customer) as it was;
 *   a merchant's image holds its webhook secret sealed for its row: the secret is nowhere in it
 *   in the clear, and the image with another merchant's id does not open;
 *   JSON records of a database from before the journal (a merchant made before secrets were
 *   text) are loaded, moved into the journal once (their rows deleted), and a third start
 *   replays them equal, the merchant's secret still in its old form.
 * The wallet's kinds are still JSON rows here: a start loads its customers before the replay
 * (they have no wallets, whose load needs the ledger). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "merchant/internal.h"
#include "mopay/fx.h"
#include "mopay/keys.h"
#include "mopay/text.h"
#include "offers/internal.h"
#include "quotes/internal.h"
#include "wallet/fixture.h"

struct commerce {
    struct wt_world world; /* the ledger and wallet under it */
    struct mopay_merchant_state *m;
    struct mopay_offers_state *o;
    struct mopay_quotes_state *q;
};

static void commerce_open(struct wt *t, struct commerce *c)
{
    struct mopay_journal *j = mopay_ledger_service_journal(c->world.ledger);
    struct mopay_merchant_options mo = {.keys = t->keys, .ledger = c->world.ledger, .journal = j};
    struct mopay_quotes_options qo = {.spread_default_bps = 50, .rate_max_age_s = 3600};
    assert_non_null(c->m = mopay_merchant_state_new(&mo));
    assert_non_null(c->o = mopay_offers_new(c->m, c->world.w, j));
    assert_non_null(c->q = mopay_quotes_new(&qo, c->world.w, j));
}

/* Another start over the store: a fresh ledger and wallet (customers from their rows), fresh
 * commerce states, the log replayed into them. */
static void commerce_restart(struct wt *t, struct commerce *c)
{
    char err[256] = "";
    uint64_t records = 0;
    if (wt_world_try(t, &c->world, false, err, sizeof(err)) != MOPAY_OK)
        fail_msg("wallet load: %s", err);
    commerce_open(t, c);
    if (mopay_ledger_service_recover(c->world.ledger, t->store, &records, err, sizeof(err)) != MOPAY_OK)
        fail_msg("replay: %s", err);
}

static void commerce_close(struct commerce *c)
{
    mopay_quotes_free(c->q);
    mopay_offers_free(c->o);
    mopay_merchant_state_free(c->m);
    if (c->world.w != NULL)
        wt_world_stop(&c->world);
}

/* --- comparing records by their tables --- */

static void fields_equal(const struct mopay_record_kind *kind, const void *a, const void *b)
{
    for (size_t i = 0; i < kind->field_count; i++) {
        const struct mopay_codec_field *f = &kind->fields[i];
        const uint8_t *x = (const uint8_t *)a + f->offset, *y = (const uint8_t *)b + f->offset;
        if (f->type == MOPAY_CODEC_REF) { /* another world's record: the same id */
            const uint8_t *tx, *ty;
            memcpy(&tx, x, sizeof(tx));
            memcpy(&ty, y, sizeof(ty));
            if ((tx == NULL) != (ty == NULL) || (tx != NULL && memcmp(tx, ty, 16) != 0))
                fail_msg("%s: %s names another record", kind->name, f->name);
        } else if (memcmp(x, y, f->size) != 0) {
            fail_msg("%s: field %s differs", kind->name, f->name);
        }
    }
}

typedef const void *(*find_fn)(void *state, const void *record);

static const void *find_merchant(void *s, const void *r)
{
    return mopay_merchant_get(s, &((const struct mopay_merchant *)r)->id);
}
static const void *find_order(void *s, const void *r)
{
    return mopay_order_get(s, &((const struct mopay_order *)r)->id);
}
static const void *find_bill(void *s, const void *r)
{
    return mopay_bill_get(s, &((const struct mopay_bill *)r)->id);
}
static const void *find_offer(void *s, const void *r)
{
    return mopay_offer_get(s, &((const struct mopay_offer *)r)->id);
}
static const void *find_coupon(void *s, const void *r)
{
    return mopay_coupon_get(s, &((const struct mopay_coupon *)r)->id);
}
static const void *find_quote(void *s, const void *r)
{
    return mopay_quote_get(s, &((const struct mopay_quote *)r)->id);
}
static const void *find_rate(void *s, const void *r)
{
    const struct mopay_fx_pair_rate *want = r, *all[64];
    size_t n = mopay_fx_rates(s, all, 64);
    for (size_t i = 0; i < n; i++)
        if (all[i]->base == want->base && all[i]->quote == want->quote)
            return all[i];
    return NULL;
}

struct compare {
    const struct mopay_record_kind *kind;
    void *other;
    find_fn find;
    size_t count;
};

static bool compare_one(void *ctx, const void *record)
{
    struct compare *c = ctx;
    const void *theirs = c->find(c->other, record);
    if (theirs == NULL)
        fail_msg("%s: a record is missing after the replay", c->kind->name);
    fields_equal(c->kind, record, theirs);
    c->count++;
    return true;
}

static bool count_one(void *ctx, const void *record)
{
    (void)record;
    ++*(size_t *)ctx;
    return true;
}

/* Every record of `kind` in state a is in state b, equal, and b has no others; how many. */
static size_t kind_equal(const struct mopay_record_kind *kind, void *a, void *b, find_fn find)
{
    struct compare c = {kind, b, find, 0};
    size_t theirs = 0;
    kind->each(a, compare_one, &c);
    kind->each(b, count_one, &theirs);
    assert_int_equal(c.count, theirs);
    return c.count;
}

static void commerce_equal(struct commerce *a, struct commerce *b, const size_t counts[7])
{
    assert_int_equal(kind_equal(&mopay_merchant_merchant_kind, a->m, b->m, find_merchant), counts[0]);
    assert_int_equal(kind_equal(&mopay_merchant_order_kind, a->m, b->m, find_order), counts[1]);
    assert_int_equal(kind_equal(&mopay_merchant_bill_kind, a->m, b->m, find_bill), counts[2]);
    assert_int_equal(kind_equal(&mopay_offers_offer_kind, a->o, b->o, find_offer), counts[3]);
    assert_int_equal(kind_equal(&mopay_offers_coupon_kind, a->o, b->o, find_coupon), counts[4]);
    assert_int_equal(kind_equal(&mopay_quotes_rate_kind, a->q, b->q, find_rate), counts[5]);
    assert_int_equal(kind_equal(&mopay_quotes_quote_kind, a->q, b->q, find_quote), counts[6]);
}

/* --- making things in world A, a batch each --- */

#define BATCH(t, now, call)                                                                                        \
    do {                                                                                                           \
        wt_begin(t);                                                                                               \
        assert_int_equal((call), MOPAY_OK);                                                                        \
        wt_commit(t, now);                                                                                         \
    } while (0)

static void api_key(const struct wt *t, int n, char key[MOPAY_MERCHANT_KEY_BYTES], uint8_t hash[32])
{
    uint8_t raw[32];
    char hex[65];
    crypto_generichash(raw, sizeof(raw), (const unsigned char *)&n, sizeof(n), NULL, 0);
    sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
    snprintf(key, MOPAY_MERCHANT_KEY_BYTES, "sk_%s", hex);
    mopay_keys_hash_secret(t->keys, key, strlen(key), hash);
}

static void merchant_in(const struct wt *t, struct mopay_merchant_input *in, enum mopay_merchant_kind kind,
                        const char *name, int key)
{
    memset(in, 0, sizeof(*in));
    in->kind = kind;
    in->name = name;
    in->mcc = "5812";
    in->country = "US";
    in->city = "Springfield";
    in->currency = t->usd;
    in->fee_bps = 150;
    in->settlement_account = "US-ACC-001";
    in->webhook_url = "https://example.com/hooks";
    randombytes_buf(in->webhook_secret, sizeof(in->webhook_secret));
    api_key(t, key, in->key, in->key_hash);
}

static struct mopay_merchant *merchant_make(struct wt *t, struct commerce *a, int64_t now, enum mopay_merchant_kind kind,
                                            const char *name, int key)
{
    struct mopay_merchant_input in;
    struct mopay_merchant *m = NULL;
    merchant_in(t, &in, kind, name, key);
    BATCH(t, now, mopay_merchant_create(a->m, t->store, now, &in, &m));
    return m;
}

static struct mopay_order *order_in(struct wt *t, struct commerce *a, int64_t now, struct mopay_merchant *m,
                                    int64_t ttl_s)
{
    struct mopay_order_input in = {.amount_minor = WT_USD(12), .reference = "R-1", .description = "noodles",
                                   .expires_in_s = ttl_s};
    struct mopay_order *o = NULL;
    assert_int_equal(mopay_order_create(a->m, t->store, now, m, &in, &o), MOPAY_OK);
    return o;
}

static struct mopay_offer *offer_in(struct wt *t, struct commerce *a, int64_t now, struct mopay_merchant *m,
                                    enum mopay_offer_kind kind)
{
    struct mopay_offer_input in = {.name = kind == MOPAY_OFFER_PERCENT ? "ten off" : "two dollars",
                                   .kind = kind,
                                   .percent_bps = kind == MOPAY_OFFER_PERCENT ? 1000 : 0,
                                   .fixed_minor = kind == MOPAY_OFFER_FIXED ? WT_USD(2) : 0,
                                   .min_spend_minor = WT_USD(5),
                                   .cap_minor = kind == MOPAY_OFFER_PERCENT ? WT_USD(3) : 0,
                                   .valid_from_ns = WT_T0,
                                   .valid_until_ns = WT_T0 + WT_DAY,
                                   .budget_minor = WT_USD(100),
                                   .per_customer_limit = 1,
                                   .funder = kind == MOPAY_OFFER_PERCENT ? MOPAY_OFFER_MERCHANT_FUNDED
                                                                         : MOPAY_OFFER_PLATFORM_FUNDED};
    struct mopay_offer *x = NULL;
    assert_int_equal(mopay_offer_create(a->o, t->store, now, m, &in, &x), MOPAY_OK);
    return x;
}

static struct mopay_fx_rate rate_of(const char *text)
{
    struct mopay_fx_rate r;
    assert_int_equal(mopay_fx_rate_parse(text, strlen(text), &r), MOPAY_OK);
    return r;
}

struct made {
    struct mopay_merchant *shop, *biller;
    struct mopay_order *open, *expired;
    struct mopay_offer *percent;
    struct mopay_customer *customer;
    char key_revoked[MOPAY_MERCHANT_KEY_BYTES], key_live[MOPAY_MERCHANT_KEY_BYTES];
    uint8_t hash_revoked[32], hash_live[32];
};

static void merchants_and_orders(struct wt *t, struct commerce *a, struct made *x)
{
    int64_t now = WT_T0;
    x->shop = merchant_make(t, a, now, MOPAY_MERCHANT_SHOP, "Noodle House", 1);
    x->biller = merchant_make(t, a, now, MOPAY_MERCHANT_BILLER, "City Water", 2);
    api_key(t, 1, x->key_revoked, x->hash_revoked);
    api_key(t, 4, x->key_live, x->hash_live);
    uint8_t secret[MOPAY_WEBHOOK_SECRET_BYTES], hash[32];
    char key[MOPAY_MERCHANT_KEY_BYTES];
    randombytes_buf(secret, sizeof(secret));
    api_key(t, 3, key, hash);
    now += WT_S;
    wt_begin(t);
    assert_int_equal(mopay_merchant_key_add(a->m, t->store, now, x->shop, key, hash, false), MOPAY_OK);
    assert_int_equal(mopay_merchant_key_add(a->m, t->store, now, x->shop, x->key_live, x->hash_live, true), MOPAY_OK);
    assert_int_equal(mopay_merchant_webhook_secret_set(a->m, t->store, now, x->shop, secret), MOPAY_OK);
    wt_commit(t, now);

    now += WT_S; /* an order made and paid in one batch: its image, then its image changed */
    wt_begin(t);
    x->open = order_in(t, a, now, x->shop, 3600);
    struct mopay_order *later = order_in(t, a, now, x->shop, 60);
    x->expired = order_in(t, a, now, x->shop, 10);
    struct mopay_order *at_once = order_in(t, a, now, x->shop, 60);
    struct mopay_id payment;
    mopay_id_new(now, &payment);
    assert_int_equal(mopay_order_mark_paid(a->m, t->store, now, at_once, &payment), MOPAY_OK);
    wt_commit(t, now);

    now = WT_T0 + 20 * WT_S;
    mopay_id_new(now, &payment);
    wt_begin(t);
    assert_int_equal(mopay_order_mark_paid(a->m, t->store, now, later, &payment), MOPAY_OK);
    assert_int_equal(mopay_merchant_tick(a->m, t->store, now), MOPAY_OK);
    wt_commit(t, now);
    assert_int_equal(x->expired->status, MOPAY_ORDER_EXPIRED);
}

static void bills(struct wt *t, struct commerce *a, struct made *x)
{
    int64_t now = WT_T0 + 30 * WT_S;
    struct mopay_bill *part = NULL, *whole = NULL, *next = NULL;
    wt_begin(t); /* the second bill of a reference, made once the first is paid */
    assert_int_equal(mopay_bill_create(a->m, t->store, now, x->biller, "ACC-1", WT_USD(50), now + WT_DAY, true, &part),
                     MOPAY_OK);
    assert_int_equal(mopay_bill_pay(a->m, t->store, now, part, WT_USD(20)), MOPAY_OK);
    assert_int_equal(mopay_bill_create(a->m, t->store, now, x->biller, "ACC-2", WT_USD(30), now + WT_DAY, false, &whole),
                     MOPAY_OK);
    assert_int_equal(mopay_bill_pay(a->m, t->store, now, whole, WT_USD(30)), MOPAY_OK);
    assert_int_equal(mopay_bill_create(a->m, t->store, now, x->biller, "ACC-2", WT_USD(10), now + WT_DAY, false, &next),
                     MOPAY_OK);
    wt_commit(t, now);
}

static void offers(struct wt *t, struct commerce *a, struct made *x)
{
    int64_t now = WT_T0 + 40 * WT_S;
    struct mopay_coupon *used = NULL, *fresh = NULL;
    wt_begin(t); /* an offer made and claimed in one batch: the offer's image comes first */
    x->percent = offer_in(t, a, now, x->shop, MOPAY_OFFER_PERCENT);
    struct mopay_offer *fixed = offer_in(t, a, now, x->shop, MOPAY_OFFER_FIXED);
    assert_int_equal(mopay_offer_claim(a->o, t->store, now, fixed, x->customer, &fresh), MOPAY_OK);
    wt_commit(t, now);
    now += WT_S;
    BATCH(t, now, mopay_offer_claim(a->o, t->store, now, x->percent, x->customer, &used));
    struct mopay_id payment;
    mopay_id_new(now, &payment);
    now += WT_S;
    wt_begin(t);
    assert_int_equal(mopay_coupon_redeem(a->o, t->store, now, used, &payment, WT_USD(1)), MOPAY_OK);
    assert_int_equal(mopay_coupon_refunded(a->o, t->store, now, used, 40), MOPAY_OK);
    wt_commit(t, now);
    assert_int_equal(x->percent->spent_minor, WT_USD(1) - 40);
}

static void rates_and_quotes(struct wt *t, struct commerce *a, struct made *x)
{
    int64_t now = WT_T0 + 50 * WT_S;
    const struct mopay_currency *gbp = mopay_currency_by_alpha("GBP", 3);
    struct mopay_quote *locked = NULL, *spot = NULL;
    BATCH(t, now, mopay_fx_rate_set(a->q, t->store, now, t->usd, t->eur, rate_of("0.92"), "ecb", now));
    now += WT_S; /* a pair set again: its image replaces the first */
    wt_begin(t);
    assert_int_equal(mopay_fx_rate_set(a->q, t->store, now, t->usd, t->eur, rate_of("0.93"), "ecb", now), MOPAY_OK);
    assert_int_equal(mopay_fx_rate_set(a->q, t->store, now, t->eur, gbp, rate_of("0.85"), "manual", now), MOPAY_OK);
    assert_int_equal(mopay_quote_create(a->q, t->store, now, x->customer, t->usd, t->eur, WT_USD(100), 0, 60, &locked),
                     MOPAY_OK);
    assert_int_equal(mopay_quote_create(a->q, t->store, now, x->customer, t->usd, t->eur, 0, 500, 0, &spot), MOPAY_OK);
    struct mopay_id payment;
    mopay_id_new(now, &payment);
    assert_int_equal(mopay_quote_use(a->q, t->store, now, spot, &payment), MOPAY_OK);
    wt_commit(t, now);
}

static bool order_status_count(void *ctx, const void *record)
{
    ((size_t *)ctx)[((const struct mopay_order *)record)->status]++;
    return true;
}

static void images_replay_to_equal_records(void **state)
{
    struct wt *t = *state;
    struct commerce a = {.world = t->world}, b = {0};
    struct made x = {0};
    commerce_open(t, &a);
    x.customer = wt_signup(t, WT_T0, "Ann", NULL);
    merchants_and_orders(t, &a, &x);
    bills(t, &a, &x);
    offers(t, &a, &x);
    rates_and_quotes(t, &a, &x);

    commerce_restart(t, &b);
    static const size_t counts[7] = {2, 4, 3, 2, 2, 2, 2};
    commerce_equal(&a, &b, counts);
    assert_int_equal(mopay_merchant_count(b.m), 2);
    assert_int_equal(mopay_order_count(b.m), 4);
    assert_int_equal(mopay_quotes_count(b.q), 2);

    /* the key index: the live key finds its merchant, the revoked ones nothing */
    struct mopay_id who;
    assert_true(mopay_merchant_key_find(b.m, x.hash_live, &who));
    assert_memory_equal(who.bytes, x.shop->id.bytes, 16);
    assert_false(mopay_merchant_key_find(b.m, x.hash_revoked, &who));
    /* the open orders' list: only the open one expires at the next tick, the paid ones stay paid */
    struct mopay_order *open = mopay_order_get(b.m, &x.open->id);
    assert_int_equal(mopay_merchant_tick(b.m, t->store, WT_T0 + 7200 * WT_S), MOPAY_OK);
    assert_int_equal(open->status, MOPAY_ORDER_EXPIRED);
    size_t statuses[3] = {0};
    mopay_merchant_order_kind.each(b.m, order_status_count, statuses);
    assert_int_equal(statuses[MOPAY_ORDER_PAID], 2);
    assert_int_equal(statuses[MOPAY_ORDER_EXPIRED], 2);
    /* bills by reference: the open one, else the newest */
    struct mopay_merchant *biller = mopay_merchant_get(b.m, &x.biller->id);
    assert_int_equal(mopay_bill_find(b.m, biller, "ACC-2")->amount_minor, WT_USD(10));
    assert_int_equal(mopay_bill_find(b.m, biller, "ACC-1")->due_minor, WT_USD(30));
    /* claims per customer: the offer's one coupon is taken */
    struct mopay_coupon *again = NULL;
    assert_int_equal(mopay_offer_claim(b.o, t->store, WT_T0 + 60 * WT_S, mopay_offer_get(b.o, &x.percent->id),
                                       mopay_wallet_customer(b.world.w, &x.customer->id), &again),
                     MOPAY_ERR_coupon_limit_reached);
    commerce_close(&b);
    commerce_close(&(struct commerce){.m = a.m, .o = a.o, .q = a.q}); /* the fixture stops a's world */
}

/* --- a secret sealed in its row --- */

static void a_sealed_secret_opens_only_in_its_row(void **state)
{
    struct wt *t = *state;
    struct commerce a = {.world = t->world};
    commerce_open(t, &a);
    struct mopay_merchant *shop = merchant_make(t, &a, WT_T0, MOPAY_MERCHANT_SHOP, "Noodle House", 1);
    struct mopay_merchant *other = merchant_make(t, &a, WT_T0, MOPAY_MERCHANT_SHOP, "Tea Corner", 2);
    const struct mopay_record_kind *kind = &mopay_merchant_merchant_kind;
    uint8_t image[4096];
    assert_true(mopay_codec_image_max(kind) <= sizeof(image));
    size_t n = mopay_codec_encode(kind, a.m, 0, shop, image, sizeof(image));
    assert_true(n > 0);
    assert_null(memmem(image, n, shop->webhook_secret, MOPAY_WEBHOOK_SECRET_BYTES));
    for (size_t i = 0; i < shop->key_count; i++) /* keys are there as their hashes only */
        assert_non_null(memmem(image, n, shop->keys[i].hash, 32));

    struct mopay_codec_header h;
    size_t head = mopay_codec_header_read(image, n, &h);
    assert_true(head > 0);
    assert_int_equal(h.tag, MOPAY_RECORD_MERCHANT);
    struct mopay_merchant *back = calloc(1, sizeof(*back));
    assert_non_null(back);
    char why[200] = "";
    assert_true(mopay_codec_decode(kind, a.m, image + head, h.payload_len, back, why, sizeof(why)));
    fields_equal(kind, shop, back);

    /* the image as another merchant's (its id is the payload's first field): the seal refuses */
    assert_int_equal(image[head], 1);
    memcpy(image + head + 1, other->id.bytes, 16);
    assert_false(mopay_codec_decode(kind, a.m, image + head, h.payload_len, back, why, sizeof(why)));
    assert_non_null(strstr(why, "webhook_secret"));
    free(back);
    commerce_close(&(struct commerce){.m = a.m, .o = a.o, .q = a.q});
}

/* --- records from before the journal --- */

/* The JSON rows mopay wrote before the journal, exactly as it wrote them. */
static void legacy_merchant_row(struct wt *t, int64_t now, const struct mopay_merchant *m)
{
    char id[MOPAY_ID_TEXT_BYTES], secret[MOPAY_SEALED_B64_BYTES], ad[MOPAY_SEAL_AD_BYTES], hash[65];
    mopay_id_format(MOPAY_ID_MERCHANT, &m->id, id);
    mopay_seal_ad(ad, "merchant", id, "webhook_secret");
    mopay_seal_b64(t->keys->secret_seal, ad, m->webhook_secret, MOPAY_WEBHOOK_SECRET_BYTES, secret);
    json_t *keys = json_array();
    for (size_t i = 0; i < m->key_count; i++) {
        sodium_bin2hex(hash, sizeof(hash), m->keys[i].hash, 32);
        json_array_append_new(keys, json_pack("{s:s, s:s, s:I, s:I}", "hash", hash, "last4", m->keys[i].last4,
                                              "created_at_ns", (json_int_t)m->keys[i].created_at_ns, "revoked_at_ns",
                                              (json_int_t)m->keys[i].revoked_at_ns));
    }
    json_t *j = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:o, s:I}", "id", id, "kind",
                          (int)m->kind, "name", m->name, "mcc", m->mcc, "country", m->country, "city", m->city,
                          "currency", m->currency->alpha, "fee_bps", m->fee_bps, "settlement_account",
                          m->settlement_account, "webhook_url", m->webhook_url, "webhook_secret_sealed", secret, "keys",
                          keys, "created_at_ns", (json_int_t)m->created_at_ns);
    if (m->webhook_secret_text)
        json_object_set_new(j, "webhook_secret_form", json_string("whsec"));
    assert_int_equal(mopay_store_record_put_json(t->store, "merchant", id, j, now), MOPAY_OK);
}

static void legacy_order_row(struct wt *t, int64_t now, const struct mopay_order *o)
{
    char id[MOPAY_ID_TEXT_BYTES], merchant[MOPAY_ID_TEXT_BYTES], payment[MOPAY_ID_TEXT_BYTES];
    mopay_id_format(MOPAY_ID_ORDER, &o->id, id);
    mopay_id_format(MOPAY_ID_MERCHANT, &o->merchant->id, merchant);
    mopay_id_format(MOPAY_ID_PAYMENT, &o->payment_id, payment);
    json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:s, s:b, s:I, s:i, s:s, s:I, s:I, s:I}", "id", id, "merchant_id",
                          merchant, "amount_minor", (json_int_t)o->amount_minor, "reference", o->reference,
                          "description", o->description, "tax_free", o->tax_free, "vat_minor",
                          (json_int_t)o->vat_minor, "status", (int)o->status, "payment_id", payment, "created_at_ns",
                          (json_int_t)o->created_at_ns, "expires_at_ns", (json_int_t)o->expires_at_ns, "paid_at_ns",
                          (json_int_t)o->paid_at_ns);
    assert_int_equal(mopay_store_record_put_json(t->store, "order", id, j, now), MOPAY_OK);
}

static void legacy_bill_row(struct wt *t, int64_t now, const struct mopay_bill *b)
{
    char id[MOPAY_ID_TEXT_BYTES], biller[MOPAY_ID_TEXT_BYTES];
    mopay_id_format(MOPAY_ID_BILL, &b->id, id);
    mopay_id_format(MOPAY_ID_MERCHANT, &b->biller->id, biller);
    json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:b, s:i, s:I, s:I}", "id", id, "biller_id", biller,
                          "reference", b->reference, "amount_minor", (json_int_t)b->amount_minor, "due_minor",
                          (json_int_t)b->due_minor, "due_at_ns", (json_int_t)b->due_at_ns, "partial_allowed",
                          b->partial_allowed, "status", (int)b->status, "created_at_ns", (json_int_t)b->created_at_ns,
                          "paid_at_ns", (json_int_t)b->paid_at_ns);
    assert_int_equal(mopay_store_record_put_json(t->store, "bill", id, j, now), MOPAY_OK);
}

static void legacy_offer_row(struct wt *t, int64_t now, const struct mopay_offer *x)
{
    char id[MOPAY_ID_TEXT_BYTES], merchant[MOPAY_ID_TEXT_BYTES];
    mopay_id_format(MOPAY_ID_OFFER, &x->id, id);
    mopay_id_format(MOPAY_ID_MERCHANT, &x->merchant->id, merchant);
    json_t *j = json_pack("{s:s, s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:I, s:I}", "id", id,
                          "merchant_id", merchant, "name", x->name, "kind", (int)x->kind, "percent_bps",
                          (json_int_t)x->percent_bps, "fixed_minor", (json_int_t)x->fixed_minor, "min_spend_minor",
                          (json_int_t)x->min_spend_minor, "cap_minor", (json_int_t)x->cap_minor, "valid_from_ns",
                          (json_int_t)x->valid_from_ns, "valid_until_ns", (json_int_t)x->valid_until_ns,
                          "budget_minor", (json_int_t)x->budget_minor, "spent_minor", (json_int_t)x->spent_minor,
                          "per_customer_limit", (json_int_t)x->per_customer_limit, "funder", (int)x->funder,
                          "claimed", (json_int_t)x->claimed, "created_at_ns", (json_int_t)x->created_at_ns);
    assert_int_equal(mopay_store_record_put_json(t->store, "offer", id, j, now), MOPAY_OK);
}

static void legacy_coupon_row(struct wt *t, int64_t now, const struct mopay_coupon *c)
{
    char id[MOPAY_ID_TEXT_BYTES], offer[MOPAY_ID_TEXT_BYTES], customer[MOPAY_ID_TEXT_BYTES], payment[MOPAY_ID_TEXT_BYTES];
    mopay_id_format(MOPAY_ID_COUPON, &c->id, id);
    mopay_id_format(MOPAY_ID_OFFER, &c->offer->id, offer);
    mopay_id_format(MOPAY_ID_CUSTOMER, &c->customer->id, customer);
    mopay_id_format(MOPAY_ID_PAYMENT, &c->payment_id, payment);
    json_t *j = json_pack("{s:s, s:s, s:s, s:i, s:I, s:I, s:s, s:I, s:I}", "id", id, "offer_id", offer, "customer_id",
                          customer, "status", (int)c->status, "discount_minor", (json_int_t)c->discount_minor,
                          "refunded_minor", (json_int_t)c->refunded_minor, "payment_id", payment, "created_at_ns",
                          (json_int_t)c->created_at_ns, "used_at_ns", (json_int_t)c->used_at_ns);
    assert_int_equal(mopay_store_record_put_json(t->store, "coupon", id, j, now), MOPAY_OK);
}

static void legacy_rate_row(struct wt *t, int64_t now, const struct mopay_fx_pair_rate *p)
{
    char id[16], rate[MOPAY_FX_RATE_TEXT_BYTES];
    snprintf(id, sizeof(id), "%s/%s", p->base->alpha, p->quote->alpha);
    mopay_fx_rate_format(p->rate, rate);
    json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I}", "pair", id, "rate", rate, "source", p->source, "as_of_ns",
                          (json_int_t)p->as_of_ns, "updated_at_ns", (json_int_t)p->updated_at_ns);
    assert_int_equal(mopay_store_record_put_json(t->store, "fxrate", id, j, now), MOPAY_OK);
}

static void legacy_quote_row(struct wt *t, int64_t now, const struct mopay_quote *x)
{
    char id[MOPAY_ID_TEXT_BYTES], customer[MOPAY_ID_TEXT_BYTES], payment[MOPAY_ID_TEXT_BYTES];
    mopay_id_format(MOPAY_ID_QUOTE, &x->id, id);
    mopay_id_format(MOPAY_ID_CUSTOMER, &x->customer->id, customer);
    mopay_id_format(MOPAY_ID_PAYMENT, &x->payment_id, payment);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:s}", "id", id,
                          "customer_id", customer, "sell", x->q.sell->alpha, "buy", x->q.buy->alpha, "rate_units",
                          (json_int_t)x->q.rate.units, "spread_bps", (json_int_t)x->q.spread_bps, "base_minor",
                          (json_int_t)x->q.base_minor, "fee_minor", (json_int_t)x->q.fee_minor, "sell_minor",
                          (json_int_t)x->q.sell_minor, "buy_minor", (json_int_t)x->q.buy_minor, "created_at_ns",
                          (json_int_t)x->created_at_ns, "expires_at_ns", (json_int_t)x->expires_at_ns, "used", x->used,
                          "payment_id", payment);
    assert_int_equal(mopay_store_record_put_json(t->store, "quote", id, j, now), MOPAY_OK);
}

/* What a database from before the journal held: the records, in memory of no state. */
struct legacy {
    struct mopay_merchant shop, biller;
    struct mopay_order order;
    struct mopay_bill bill;
    struct mopay_offer offer;
    struct mopay_coupon coupon;
    struct mopay_fx_pair_rate rate;
    struct mopay_quote quote;
};

static void legacy_merchant(struct wt *t, struct mopay_merchant *m, enum mopay_merchant_kind kind, const char *name,
                            int key, int64_t now)
{
    char text[MOPAY_MERCHANT_KEY_BYTES];
    mopay_id_new(now, &m->id);
    m->kind = kind;
    mopay_text_copy(m->name, sizeof(m->name), name);
    mopay_text_copy(m->mcc, sizeof(m->mcc), "5812");
    mopay_text_copy(m->country, sizeof(m->country), "US");
    mopay_text_copy(m->city, sizeof(m->city), "Springfield");
    m->currency = t->usd;
    m->fee_bps = 90;
    mopay_text_copy(m->settlement_account, sizeof(m->settlement_account), "US-ACC-002");
    randombytes_buf(m->webhook_secret, sizeof(m->webhook_secret));
    m->webhook_secret_text = false; /* made before secrets were text */
    api_key(t, key, text, m->keys[0].hash);
    mopay_text_copy(m->keys[0].last4, sizeof(m->keys[0].last4), text + strlen(text) - 4);
    m->keys[0].created_at_ns = now;
    m->key_count = 1;
    m->created_at_ns = now;
}

static void legacy_make(struct wt *t, struct legacy *l, struct mopay_customer *customer, int64_t now)
{
    memset(l, 0, sizeof(*l));
    legacy_merchant(t, &l->shop, MOPAY_MERCHANT_SHOP, "Old Shop", 11, now);
    legacy_merchant(t, &l->biller, MOPAY_MERCHANT_BILLER, "Old Water", 12, now);
    struct mopay_id ids[5];
    for (int i = 0; i < 5; i++)
        mopay_id_new(now, &ids[i]);
    l->order = (struct mopay_order){.id = ids[0], .merchant = &l->shop, .amount_minor = 900,
                                    .status = MOPAY_ORDER_OPEN, .created_at_ns = now,
                                    .expires_at_ns = now + 3600 * WT_S};
    mopay_text_copy(l->order.reference, sizeof(l->order.reference), "OLD-1");
    l->bill = (struct mopay_bill){.id = ids[1], .biller = &l->biller, .amount_minor = 4000, .due_minor = 1000,
                                  .due_at_ns = now + WT_DAY, .partial_allowed = true, .created_at_ns = now};
    mopay_text_copy(l->bill.reference, sizeof(l->bill.reference), "ACC-9");
    l->offer = (struct mopay_offer){.id = ids[2], .merchant = &l->shop, .kind = MOPAY_OFFER_FIXED,
                                    .fixed_minor = 100, .min_spend_minor = 500, .valid_from_ns = now,
                                    .valid_until_ns = now + WT_DAY, .budget_minor = 5000, .spent_minor = 100,
                                    .per_customer_limit = 2, .funder = MOPAY_OFFER_PLATFORM_FUNDED, .claimed = 1,
                                    .created_at_ns = now};
    mopay_text_copy(l->offer.name, sizeof(l->offer.name), "one off");
    l->coupon = (struct mopay_coupon){.id = ids[3], .offer = &l->offer, .customer = customer,
                                      .status = MOPAY_COUPON_USED, .discount_minor = 100, .created_at_ns = now,
                                      .used_at_ns = now};
    mopay_id_new(now, &l->coupon.payment_id);
    l->rate = (struct mopay_fx_pair_rate){.base = t->usd, .quote = t->eur, .rate = rate_of("0.9125"),
                                          .as_of_ns = now, .updated_at_ns = now};
    mopay_text_copy(l->rate.source, sizeof(l->rate.source), "ecb");
    l->quote = (struct mopay_quote){.id = ids[4], .customer = customer,
                                    .q = {.sell = t->usd, .buy = t->eur, .rate = rate_of("0.9125"), .spread_bps = 50,
                                          .base_minor = 1000, .fee_minor = 5, .sell_minor = 1005, .buy_minor = 912},
                                    .created_at_ns = now, .expires_at_ns = now + 60 * WT_S};
}

/* The merchants' ledger accounts (in the log, as ledger events were before the journal held
 * records) and every record as a JSON row. */
static void legacy_write(struct wt *t, const struct legacy *l, int64_t now)
{
    struct mopay_ledger_account accounts[2];
    uint8_t results[2];
    memset(accounts, 0, sizeof(accounts));
    accounts[0].id = l->shop.id, accounts[1].id = l->biller.id;
    for (int i = 0; i < 2; i++) {
        accounts[i].currency = t->usd->numeric;
        accounts[i].kind = MOPAY_LEDGER_KIND_MERCHANT;
        accounts[i].flags = MOPAY_LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS;
    }
    wt_begin(t);
    mopay_ledger_service_create_accounts(t->world.ledger, accounts, 2, now, results);
    assert_int_equal(results[0], MOPAY_LEDGER_ok);
    assert_int_equal(results[1], MOPAY_LEDGER_ok);
    legacy_merchant_row(t, now, &l->shop);
    legacy_merchant_row(t, now, &l->biller);
    legacy_order_row(t, now, &l->order);
    legacy_bill_row(t, now, &l->bill);
    legacy_offer_row(t, now, &l->offer);
    legacy_coupon_row(t, now, &l->coupon);
    legacy_rate_row(t, now, &l->rate);
    legacy_quote_row(t, now, &l->quote);
    wt_commit(t, now);
}

static void legacy_equal(const struct legacy *l, struct commerce *c)
{
    fields_equal(&mopay_merchant_merchant_kind, &l->shop, find_merchant(c->m, &l->shop));
    fields_equal(&mopay_merchant_merchant_kind, &l->biller, find_merchant(c->m, &l->biller));
    fields_equal(&mopay_merchant_order_kind, &l->order, find_order(c->m, &l->order));
    fields_equal(&mopay_merchant_bill_kind, &l->bill, find_bill(c->m, &l->bill));
    fields_equal(&mopay_offers_offer_kind, &l->offer, find_offer(c->o, &l->offer));
    fields_equal(&mopay_offers_coupon_kind, &l->coupon, find_coupon(c->o, &l->coupon));
    fields_equal(&mopay_quotes_rate_kind, &l->rate, find_rate(c->q, &l->rate));
    fields_equal(&mopay_quotes_quote_kind, &l->quote, find_quote(c->q, &l->quote));
}

static void legacy_records_move_into_the_journal(void **state)
{
    struct wt *t = *state;
    struct mopay_customer *customer = wt_signup(t, WT_T0, "Old Ann", NULL);
    struct legacy *l = calloc(1, sizeof(*l));
    assert_non_null(l);
    legacy_make(t, l, customer, WT_T0 + WT_S);
    legacy_write(t, l, WT_T0 + WT_S);

    /* a start as the server makes it: the log, then the rows, then the move */
    struct commerce b = {0}, c = {0};
    char err[256] = "";
    commerce_restart(t, &b);
    assert_int_equal(mopay_merchant_count(b.m), 0);
    if (mopay_merchant_load(b.m, t->store, err, sizeof(err)) != MOPAY_OK ||
        mopay_offers_load(b.o, t->store, err, sizeof(err)) != MOPAY_OK ||
        mopay_quotes_load(b.q, t->store, err, sizeof(err)) != MOPAY_OK)
        fail_msg("legacy load: %s", err);
    legacy_equal(l, &b);
    int64_t moved = 0, now = WT_T0 + 2 * WT_S;
    struct mopay_journal *journal = mopay_ledger_service_journal(b.world.ledger);
    assert_int_equal(t->store->begin(t->store), MOPAY_OK);
    assert_int_equal(mopay_journal_absorb_records(journal, t->store, now, &moved), MOPAY_OK);
    assert_int_equal(mopay_journal_commit(journal, t->store), MOPAY_OK);
    assert_int_equal(t->store->commit(t->store), MOPAY_OK);
    assert_int_equal(moved, 8);
    static const char *const kinds[] = {"merchant", "order", "bill", "offer", "coupon", "fxrate", "quote"};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        assert_int_equal(wt_rows(t, kinds[i]), 0);

    /* the next start has only the journal: the same records, the secret in its old form */
    commerce_restart(t, &c);
    static const size_t counts[7] = {2, 1, 1, 1, 1, 1, 1};
    commerce_equal(&b, &c, counts);
    legacy_equal(l, &c);
    const struct mopay_merchant *shop = mopay_merchant_get(c.m, &l->shop.id);
    uint8_t key[MOPAY_WEBHOOK_SECRET_TEXT_BYTES];
    assert_false(shop->webhook_secret_text);
    assert_int_equal(mopay_merchant_webhook_key(shop, key), MOPAY_WEBHOOK_SECRET_BYTES);
    assert_memory_equal(key, l->shop.webhook_secret, MOPAY_WEBHOOK_SECRET_BYTES);
    commerce_close(&c);
    commerce_close(&b);
    free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(images_replay_to_equal_records, wt_setup, wt_teardown),
        cmocka_unit_test_setup_teardown(a_sealed_secret_opens_only_in_its_row, wt_setup, wt_teardown),
        cmocka_unit_test_setup_teardown(legacy_records_move_into_the_journal, wt_setup, wt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
