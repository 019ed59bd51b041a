/* The in-process wallet fixture; see fixture.h. */
#include "fixture.h"
#include "internal.h" /* white box: wt_records counts what a replay rebuilt */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mopay/keys.h"
#include "mopay/money.h"

/* 64 hex digits: the test master key, never a real one. */
#define WT_MASTER_KEY "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static const struct mopay_ledger_limits wt_ledger_limits = {.accounts_max = 256, .transfers_max = 8192};

/* --- the spy connector: the simulator's answers, the request's strings kept --- */

static void spy_copy(char *dst, size_t cap, const char *src)
{
    dst[0] = '\0';
    if (src != NULL) {
        assert_true(strlen(src) < cap);
        memcpy(dst, src, strlen(src) + 1);
    }
}

static void spy_submit(struct mopay_connector *connector, const struct mopay_connector_request *request,
                       struct mopay_connector_result *out)
{
    struct wt_spy *spy = (struct wt_spy *)connector;
    spy->submits++;
    spy->last = *request;
    spy_copy(spy->card, sizeof(spy->card), request->card_number);
    spy_copy(spy->account, sizeof(spy->account), request->bank_account);
    spy_copy(spy->bank_code, sizeof(spy->bank_code), request->bank_code);
    spy->last.card_number = spy->last.bank_account = spy->last.bank_code = NULL; /* die after the call */
    spy->inner->submit(spy->inner, request, out);
}

static size_t spy_poll(struct mopay_connector *connector, int64_t now_ns, struct mopay_connector_late *out,
                       size_t cap)
{
    struct wt_spy *spy = (struct wt_spy *)connector;
    return spy->inner->poll(spy->inner, now_ns, out, cap);
}

static void spy_free(struct mopay_connector *connector)
{
    struct wt_spy *spy = (struct wt_spy *)connector;
    spy->inner->free(spy->inner);
    free(spy);
}

static struct wt_spy *spy_new(const struct mopay_connector_sim_options *sim)
{
    struct wt_spy *spy = calloc(1, sizeof(*spy));
    assert_non_null(spy);
    spy->inner = mopay_connector_sim_new(sim);
    assert_non_null(spy->inner);
    spy->base = (struct mopay_connector){.name = "spy", .submit = spy_submit, .poll = spy_poll, .free = spy_free};
    return spy;
}

/* --- worlds --- */

/* What a database from before the journal holds apart, moved into the journal as the server's
 * start moves it (api_absorb_records): in one transaction, only when there is something. */
static enum mopay_err world_absorb(struct wt *t, struct wt_world *world, char *err, size_t err_cap)
{
    struct mopay_journal *journal = mopay_ledger_service_journal(world->ledger);
    int64_t moved = 0;
    enum mopay_err e = t->store->begin(t->store);
    if (e == MOPAY_OK)
        e = mopay_journal_absorb_records(journal, t->store, WT_T0, &moved);
    if (e == MOPAY_OK && moved > 0)
        e = mopay_journal_commit(journal, t->store);
    if (e == MOPAY_OK)
        e = moved > 0 ? t->store->commit(t->store) : t->store->rollback(t->store);
    else
        t->store->rollback(t->store);
    mopay_journal_discard(journal);
    if (e != MOPAY_OK)
        snprintf(err, err_cap, "moving records into the log: %s", t->store->last_error);
    return e;
}

enum mopay_err wt_world_try(struct wt *t, struct wt_world *out, bool recover, char *err, size_t err_cap)
{
    uint64_t records = 0;
    memset(out, 0, sizeof(*out));
    out->ledger = mopay_ledger_service_new(&wt_ledger_limits, true, NULL);
    assert_non_null(out->ledger);
    out->spy = spy_new(&t->sim);
    struct mopay_wallet_options o = t->options;
    o.keys = t->keys;
    o.ledger = out->ledger;
    o.connector = &out->spy->base;
    o.journal = mopay_ledger_service_journal(out->ledger); /* the wallet's kinds register with it */
    out->w = mopay_wallet_new(&o);
    assert_non_null(out->w);
    enum mopay_err e = recover ? mopay_ledger_service_recover(out->ledger, t->store, &records, err, err_cap) : MOPAY_OK;
    if (e == MOPAY_OK)
        e = mopay_wallet_load(out->w, t->store, err, err_cap);
    if (e == MOPAY_OK && recover)
        e = world_absorb(t, out, err, err_cap);
    return e;
}

void wt_world_start(struct wt *t, struct wt_world *out)
{
    char err[256] = "";
    if (wt_world_try(t, out, true, err, sizeof(err)) != MOPAY_OK)
        fail_msg("start: %s", err);
}

void wt_world_stop(struct wt_world *world)
{
    mopay_wallet_free(world->w);
    if (world->spy != NULL)
        world->spy->base.free(&world->spy->base);
    mopay_ledger_service_free(world->ledger);
    memset(world, 0, sizeof(*world));
}

void wt_restart(struct wt *t)
{
    wt_world_stop(&t->world);
    wt_world_start(t, &t->world);
}

int wt_setup(void **state)
{
    struct wt *t = calloc(1, sizeof(*t));
    char err[256] = "";
    assert_non_null(t);
    assert_int_equal(sodium_init() < 0, 0);
    setenv("MOPAY_MASTER_KEY", WT_MASTER_KEY, 1);
    t->keys = mopay_keys_load("/nonexistent/mopay-wallet-test.key", err, sizeof(err));
    if (t->keys == NULL)
        fail_msg("keys: %s", err);
    t->store = mopay_store_open("sqlite::memory:", err, sizeof(err));
    if (t->store == NULL)
        fail_msg("store: %s", err);
    t->options = (struct mopay_wallet_options){
        .tiers = {{WT_TIER0_CAP, WT_TIER0_DAILY}, {WT_TIER1_CAP, WT_TIER1_DAILY}, {WT_TIER2_CAP, WT_TIER2_DAILY}},
        .session_ttl_s = 600,
        .topup_pending_ttl_s = 120,
    };
    t->usd = mopay_currency_by_alpha("USD", 3);
    t->eur = mopay_currency_by_alpha("EUR", 3);
    assert_non_null(t->usd);
    assert_non_null(t->eur);
    /* cheap parameters: the wallet stores the hash, it never computes one */
    assert_int_equal(crypto_pwhash_str(t->pin_hash, WT_PIN, strlen(WT_PIN), crypto_pwhash_OPSLIMIT_MIN,
                                       crypto_pwhash_MEMLIMIT_MIN),
                     0);
    wt_world_start(t, &t->world);
    *state = t;
    return 0;
}

int wt_teardown(void **state)
{
    struct wt *t = *state;
    wt_world_stop(&t->world);
    t->store->close(t->store);
    mopay_keys_free(t->keys);
    free(t);
    return 0;
}

void wt_begin(struct wt *t)
{
    assert_int_equal(t->store->begin(t->store), MOPAY_OK);
}

void wt_commit(struct wt *t, int64_t now_ns)
{
    assert_int_equal(mopay_ledger_service_before_commit(t->world.ledger, t->store, now_ns), MOPAY_OK);
    assert_int_equal(t->store->commit(t->store), MOPAY_OK);
}

/* --- customers and devices --- */

static void device_keys(const char *seed, uint8_t public_key[32], uint8_t secret[MOPAY_DEVICE_SECRET_BYTES])
{
    crypto_generichash(public_key, 32, (const unsigned char *)seed, strlen(seed), NULL, 0);
    randombytes_buf(secret, MOPAY_DEVICE_SECRET_BYTES);
}

struct mopay_customer *wt_signup(struct wt *t, int64_t now_ns, const char *name, struct mopay_device **out_device)
{
    struct mopay_signup s;
    memset(&s, 0, sizeof(s));
    snprintf(s.phone, sizeof(s.phone), "+1415555%04u", (unsigned)(++t->phones % 10000));
    s.name = name;
    s.country = "US";
    memcpy(s.pin_hash, t->pin_hash, sizeof(s.pin_hash));
    s.device_name = "phone";
    device_keys(s.phone, s.public_key, s.code_secret);
    struct mopay_customer *c = NULL;
    struct mopay_device *d = NULL;
    wt_begin(t);
    assert_int_equal(mopay_wallet_signup(t->world.w, t->store, now_ns, &s, &c, &d), MOPAY_OK);
    wt_commit(t, now_ns);
    assert_non_null(c);
    assert_non_null(d);
    if (out_device != NULL)
        *out_device = d;
    return c;
}

struct mopay_device *wt_device_add(struct wt *t, int64_t now_ns, struct mopay_customer *c, const char *name)
{
    uint8_t public_key[32], secret[MOPAY_DEVICE_SECRET_BYTES];
    char seed[96];
    snprintf(seed, sizeof(seed), "%s/%s", c->phone, name);
    device_keys(seed, public_key, secret);
    struct mopay_device *d = NULL;
    wt_begin(t);
    assert_int_equal(mopay_wallet_device_add(t->world.w, t->store, now_ns, c, public_key, name, secret, &d),
                     MOPAY_OK);
    wt_commit(t, now_ns);
    assert_non_null(d);
    return d;
}

enum mopay_err wt_kyc(struct wt *t, int64_t now_ns, struct mopay_customer *c, int tier)
{
    wt_begin(t);
    enum mopay_err err = mopay_wallet_kyc_set(t->world.w, t->store, now_ns, c, tier, "passport", "X98765432");
    wt_commit(t, now_ns);
    return err;
}

enum mopay_err wt_freeze(struct wt *t, int64_t now_ns, struct mopay_customer *c, bool frozen)
{
    wt_begin(t);
    enum mopay_err err = mopay_wallet_freeze(t->world.w, t->store, now_ns, c, frozen);
    wt_commit(t, now_ns);
    return err;
}

enum mopay_err wt_revoke(struct wt *t, int64_t now_ns, struct mopay_device *d)
{
    wt_begin(t);
    enum mopay_err err = mopay_wallet_device_revoke(t->world.w, t->store, now_ns, d);
    wt_commit(t, now_ns);
    return err;
}

/* --- sessions --- */

void wt_token_hash(int token, uint8_t out[32])
{
    char text[32];
    snprintf(text, sizeof(text), "st_test_token_%d", token);
    crypto_generichash(out, 32, (const unsigned char *)text, strlen(text), NULL, 0);
}

enum mopay_err wt_session(struct wt *t, int64_t now_ns, struct mopay_device *d, int64_t signed_ns, const char *pin,
                          int token, enum mopay_err *out_refusal, struct mopay_session **out)
{
    uint8_t hash[32];
    wt_token_hash(token, hash);
    bool pin_ok = crypto_pwhash_str_verify(d->customer->pin_hash, pin, strlen(pin)) == 0;
    wt_begin(t);
    enum mopay_err err =
        mopay_wallet_session_open(t->world.w, t->store, now_ns, d, signed_ns, pin_ok, hash, out_refusal, out);
    wt_commit(t, now_ns);
    return err;
}

bool wt_session_live(struct wt *t, int token, int64_t now_ns, const struct mopay_customer *expect)
{
    uint8_t hash[32];
    struct mopay_id who;
    memset(&who, 0, sizeof(who));
    wt_token_hash(token, hash);
    bool live = mopay_wallet_session_find(t->world.w, hash, now_ns, &who);
    if (live && expect != NULL)
        assert_memory_equal(who.bytes, expect->id.bytes, 16);
    return live;
}

/* --- wallets, sources, money --- */

struct mopay_wallet *wt_wallet_open(struct wt *t, int64_t now_ns, struct mopay_customer *c,
                                    const struct mopay_currency *currency)
{
    struct mopay_wallet *wallet = NULL;
    wt_begin(t);
    assert_int_equal(mopay_wallet_open(t->world.w, t->store, now_ns, c, currency, &wallet), MOPAY_OK);
    wt_commit(t, now_ns);
    assert_non_null(wallet);
    return wallet;
}

static struct mopay_funding_source *source_add(struct wt *t, int64_t now_ns, struct mopay_customer *c,
                                               const struct mopay_source_input *in)
{
    struct mopay_funding_source *s = NULL;
    wt_begin(t);
    assert_int_equal(mopay_wallet_source_add(t->world.w, t->store, now_ns, c, in, &s), MOPAY_OK);
    wt_commit(t, now_ns);
    assert_non_null(s);
    return s;
}

struct mopay_funding_source *wt_card_add(struct wt *t, int64_t now_ns, struct mopay_customer *c, const char *number,
                                         bool backup)
{
    struct mopay_source_input in;
    memset(&in, 0, sizeof(in));
    in.type = MOPAY_SOURCE_CARD;
    snprintf(in.number, sizeof(in.number), "%s", number);
    in.brand = MOPAY_CARD_VISA;
    in.exp_month = 12;
    in.exp_year = 2030;
    in.holder = c->name;
    in.backup = backup;
    return source_add(t, now_ns, c, &in);
}

struct mopay_funding_source *wt_bank_add(struct wt *t, int64_t now_ns, struct mopay_customer *c, const char *number,
                                         const char *bank_code, bool backup)
{
    struct mopay_source_input in;
    memset(&in, 0, sizeof(in));
    in.type = MOPAY_SOURCE_BANK_ACCOUNT;
    snprintf(in.number, sizeof(in.number), "%s", number);
    snprintf(in.bank_code, sizeof(in.bank_code), "%s", bank_code);
    in.iban = number[0] >= 'A' && number[0] <= 'Z';
    in.holder = c->name;
    in.backup = backup;
    return source_add(t, now_ns, c, &in);
}

enum mopay_err wt_lost(struct wt *t, int64_t now_ns, struct mopay_funding_source *s)
{
    wt_begin(t);
    enum mopay_err err = mopay_wallet_source_lost(t->world.w, t->store, now_ns, s);
    wt_commit(t, now_ns);
    return err;
}

static enum mopay_err movement(struct wt *t, int64_t now_ns, enum mopay_movement_kind kind,
                               struct mopay_wallet *wallet, struct mopay_funding_source *s, int64_t amount_minor,
                               struct mopay_movement **out)
{
    struct mopay_movement *m = NULL;
    wt_begin(t);
    enum mopay_err err = mopay_wallet_movement_start(t->world.w, t->store, now_ns, kind, wallet, s, amount_minor, false, &m);
    wt_commit(t, now_ns);
    if (out != NULL)
        *out = m;
    return err;
}

enum mopay_err wt_topup(struct wt *t, int64_t now_ns, struct mopay_wallet *wallet, struct mopay_funding_source *s,
                        int64_t amount_minor, struct mopay_movement **out)
{
    return movement(t, now_ns, MOPAY_MOVEMENT_TOPUP, wallet, s, amount_minor, out);
}

enum mopay_err wt_withdraw(struct wt *t, int64_t now_ns, struct mopay_wallet *wallet, struct mopay_funding_source *s,
                           int64_t amount_minor, struct mopay_movement **out)
{
    return movement(t, now_ns, MOPAY_MOVEMENT_WITHDRAWAL, wallet, s, amount_minor, out);
}

enum mopay_err wt_p2p(struct wt *t, int64_t now_ns, struct mopay_customer *from, struct mopay_customer *to,
                      int64_t amount_minor, const char *note)
{
    struct mopay_p2p out;
    wt_begin(t);
    enum mopay_err err = mopay_wallet_p2p(t->world.w, t->store, now_ns, from, to, t->usd, amount_minor, note, false, &out);
    wt_commit(t, now_ns);
    return err;
}

enum mopay_err wt_tick(struct wt *t, int64_t now_ns)
{
    wt_begin(t);
    enum mopay_err err = mopay_ledger_service_tick(t->world.ledger, t->store, now_ns);
    if (err == MOPAY_OK)
        err = mopay_wallet_tick(t->world.w, t->store, now_ns);
    wt_commit(t, now_ns);
    return err;
}

/* --- looking --- */

struct mopay_wallet_balance wt_balance(struct wt *t, const struct mopay_wallet *wallet, int64_t now_ns)
{
    struct mopay_wallet_balance b;
    memset(&b, 0, sizeof(b));
    mopay_wallet_balance(t->world.w, wallet, now_ns, &b);
    return b;
}

void wt_assert_ledger_clean(struct wt *t)
{
    struct mopay_ledger_check *check = malloc(sizeof(*check));
    assert_non_null(check);
    mopay_ledger_check(mopay_ledger_service_ledger(t->world.ledger), check);
    bool ok = check->ok;
    uint64_t breaking = check->accounts_breaking_flags;
    free(check);
    assert_true(ok);
    assert_int_equal(breaking, 0);
}

void wt_digest(struct wt *t, uint8_t out[32])
{
    mopay_ledger_digest(mopay_ledger_service_ledger(t->world.ledger), out);
}

static bool count_record(void *ctx, const char *id, const char *json, size_t len)
{
    (void)id, (void)json, (void)len;
    ++*(size_t *)ctx;
    return true;
}

size_t wt_rows(struct wt *t, const char *kind)
{
    size_t n = 0;
    assert_int_equal(t->store->records_load(t->store, kind, count_record, &n), MOPAY_OK);
    return n;
}

size_t wt_records(struct wt *t, const char *kind)
{
    static const char *const kinds[] = {"customer", "device", "wallet", "source", "movement", "session"};
    struct wt_world replayed;
    wt_world_start(t, &replayed);
    const struct mopay_wallet_state *w = replayed.w;
    const struct mopay_index *indexes[] = {&w->customers, &w->devices, &w->wallets,
                                           &w->sources,   &w->movements, &w->sessions};
    size_t n = SIZE_MAX;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(kind, kinds[i]) == 0)
            n = indexes[i]->count;
    wt_world_stop(&replayed);
    assert_true(n != SIZE_MAX);
    return n;
}

int64_t wt_log_next(struct wt *t)
{
    return mopay_journal_next_seq(mopay_ledger_service_journal(t->world.ledger));
}

static bool count_entry(void *ctx, int64_t at_ns, const char *id, const char *json, size_t len)
{
    (void)at_ns, (void)id, (void)json, (void)len;
    ++*(size_t *)ctx;
    return true;
}

size_t wt_entries(struct wt *t, const struct mopay_wallet *wallet)
{
    char owner[MOPAY_ID_TEXT_BYTES];
    size_t n = 0;
    bool more = false;
    mopay_id_format(MOPAY_ID_WALLET, &wallet->id, owner);
    assert_int_equal(t->store->entries_page(t->store, owner, 0, NULL, 1000, count_entry, &n, &more), MOPAY_OK);
    assert_false(more);
    return n;
}

enum mopay_ledger_pending_state wt_transfer_state(struct wt *t, const struct mopay_id *id)
{
    const struct mopay_ledger *ledger = mopay_ledger_service_ledger(t->world.ledger);
    const struct mopay_ledger_transfer *tr = mopay_ledger_transfer_get(ledger, id);
    assert_non_null(tr);
    return mopay_ledger_transfer_state(ledger, tr);
}
