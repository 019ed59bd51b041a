/* Recovery: a wallet that did a bit of everything, rebuilt by a fresh ledger service and a fresh
 * wallet state replaying the journal over the same store (the ledger's events and the wallet's
 * record images), is the same wallet field for field, balance for balance; the card and account
 * numbers it kept sealed still reach the network as the digits they were, and the device secrets
 * open to the same bytes; no secret is in the log in the clear. A database from before the
 * journal (JSON records) is moved into it at the first start. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fixture.h"
#include "internal.h" /* white box: the pending list and the session table are compared directly */
#include "mopay/keys.h"
#include "mopay/text.h"

#define WT_BANK_CODE "NWBKGB2L"
#define WT_DOCUMENT "X98765432" /* what wt_kyc files */

struct scene {
    struct mopay_customer *customers[3]; /* alice, bob, carol */
    struct mopay_device *alice_phone, *alice_tablet, *bob_phone, *carol_phone;
    struct mopay_wallet *wallets[4];     /* alice USD, alice EUR, bob USD, carol USD */
    struct mopay_funding_source *card, *bank, *short_card, *pending_card, *bob_card, *bob_backup;
    struct mopay_movement *movements[4]; /* approved, declined, pending top-ups; a withdrawal */
};

/* Customers and devices: one with KYC, one frozen, one locked out; a revoked device. */
static void scene_people(struct wt *t, struct scene *sc)
{
    struct mopay_customer *alice = wt_signup(t, WT_T0, "Alice Liddell", &sc->alice_phone);
    struct mopay_customer *bob = wt_signup(t, WT_T0 + 1 * WT_S, "Bob Cratchit", &sc->bob_phone);
    struct mopay_customer *carol = wt_signup(t, WT_T0 + 2 * WT_S, "Carol Danvers", &sc->carol_phone);
    sc->customers[0] = alice, sc->customers[1] = bob, sc->customers[2] = carol;
    sc->alice_tablet = wt_device_add(t, WT_T0 + 3 * WT_S, alice, "tablet");
    (void)wt_device_add(t, WT_T0 + 4 * WT_S, alice, "watch");
    assert_int_equal(wt_revoke(t, WT_T0 + 5 * WT_S, sc->alice_tablet), MOPAY_OK);
    assert_true(atomic_load(&sc->alice_tablet->revoked));
    assert_int_equal(wt_kyc(t, WT_T0 + 6 * WT_S, alice, 1), MOPAY_OK);
    enum mopay_err refusal;
    struct mopay_session *s = NULL;
    for (int i = 0; i < MOPAY_PIN_FAILURES_MAX; i++) /* carol: locked */
        assert_int_equal(wt_session(t, WT_T0 + (7 + i) * WT_S, sc->carol_phone, WT_T0 + (7 + i) * WT_S, "000000",
                                    900 + i, &refusal, &s),
                         MOPAY_OK);
    assert_int_equal(refusal, MOPAY_ERR_customer_locked);
    assert_true(carol->locked_until_ns > WT_T0);
    sc->wallets[0] = wt_wallet_open(t, WT_T0 + 20 * WT_S, alice, t->usd);
    sc->wallets[1] = wt_wallet_open(t, WT_T0 + 21 * WT_S, alice, t->eur);
    sc->wallets[2] = wt_wallet_open(t, WT_T0 + 22 * WT_S, bob, t->usd);
    sc->wallets[3] = wt_wallet_open(t, WT_T0 + 23 * WT_S, carol, t->usd);
}

/* Sources: a primary card and a backup account, two more cards; bob's primary lost. */
static void scene_sources(struct wt *t, struct scene *sc)
{
    struct mopay_customer *alice = sc->customers[0], *bob = sc->customers[1];
    sc->card = wt_card_add(t, WT_T0 + 30 * WT_S, alice, WT_CARD_OK, false);
    sc->bank = wt_bank_add(t, WT_T0 + 31 * WT_S, alice, WT_IBAN, WT_BANK_CODE, true);
    sc->short_card = wt_card_add(t, WT_T0 + 32 * WT_S, alice, WT_CARD_SHORT, false);
    sc->pending_card = wt_card_add(t, WT_T0 + 33 * WT_S, alice, WT_CARD_PENDING, false);
    assert_true(sc->card->primary && sc->bank->backup);
    sc->bob_card = wt_card_add(t, WT_T0 + 34 * WT_S, bob, "6200000000000005", false);
    sc->bob_backup = wt_card_add(t, WT_T0 + 35 * WT_S, bob, "378282246310005", true);
    assert_int_equal(wt_lost(t, WT_T0 + 36 * WT_S, sc->bob_card), MOPAY_OK);
    assert_true(sc->bob_card->lost && sc->bob_backup->primary);
}

/* Money: top-ups approved, declined and pending, a withdrawal, a P2P; then a session, a wrong PIN
 * and a freeze. */
static void scene_money(struct wt *t, struct scene *sc)
{
    struct mopay_customer *alice = sc->customers[0], *bob = sc->customers[1];
    struct mopay_wallet *usd = sc->wallets[0];
    struct mopay_movement **m = sc->movements;
    assert_int_equal(wt_topup(t, WT_T0 + 40 * WT_S, usd, sc->card, WT_USD(300), &m[0]), MOPAY_OK);
    assert_int_equal(wt_topup(t, WT_T0 + 41 * WT_S, usd, sc->short_card, WT_USD(50), &m[1]), MOPAY_OK);
    assert_int_equal(wt_topup(t, WT_T0 + 42 * WT_S, usd, sc->pending_card, WT_USD(20), &m[2]), MOPAY_OK);
    assert_int_equal(wt_withdraw(t, WT_T0 + 43 * WT_S, usd, sc->bank, WT_USD(50), &m[3]), MOPAY_OK);
    assert_int_equal(m[0]->status, MOPAY_MOVEMENT_SUCCEEDED);
    assert_int_equal(m[1]->status, MOPAY_MOVEMENT_DECLINED);
    assert_string_equal(m[1]->decline_code, "insufficient_funds");
    assert_int_equal(m[2]->status, MOPAY_MOVEMENT_PENDING);
    assert_int_equal(m[3]->status, MOPAY_MOVEMENT_SUCCEEDED);
    assert_int_equal(wt_p2p(t, WT_T0 + 44 * WT_S, alice, bob, WT_USD(25), "lunch"), MOPAY_OK);
    assert_int_equal(usd->outflow_minor, WT_USD(75));

    enum mopay_err refusal;
    struct mopay_session *s = NULL;
    assert_int_equal(wt_session(t, WT_T0 + 45 * WT_S, sc->alice_phone, WT_T0 + 45 * WT_S, WT_PIN, 1, &refusal, &s),
                     MOPAY_OK);
    assert_int_equal(refusal, MOPAY_OK);
    assert_non_null(s);
    assert_int_equal(wt_session(t, WT_T0 + 46 * WT_S, sc->bob_phone, WT_T0 + 46 * WT_S, "654321", 2, &refusal, &s),
                     MOPAY_OK);
    assert_int_equal(refusal, MOPAY_ERR_pin_incorrect);
    assert_int_equal(bob->failed_pins, 1);
    assert_int_equal(wt_freeze(t, WT_T0 + 47 * WT_S, bob, true), MOPAY_OK);
}

/* --- comparing two states, object by object --- */

static void same_id(const struct mopay_id *a, const struct mopay_id *b)
{
    assert_memory_equal(a->bytes, b->bytes, 16);
}

static void same_device(struct mopay_device *a, struct mopay_device *b)
{
    same_id(&a->id, &b->id);
    same_id(&a->customer->id, &b->customer->id);
    assert_string_equal(a->name, b->name);
    assert_memory_equal(a->public_key, b->public_key, 32);
    assert_memory_equal(a->code_secret, b->code_secret, MOPAY_DEVICE_SECRET_BYTES);
    assert_int_equal(a->created_at_ns, b->created_at_ns);
    assert_int_equal(a->revoked_at_ns, b->revoked_at_ns);
    assert_int_equal(a->last_signed_ns, b->last_signed_ns);
    assert_int_equal(atomic_load(&a->revoked), atomic_load(&b->revoked));
}

static void same_wallet(struct wt *t, struct mopay_wallet *a, struct mopay_wallet *b, struct wt_world *old,
                        int64_t now_ns)
{
    same_id(&a->id, &b->id);
    same_id(&a->customer->id, &b->customer->id);
    assert_ptr_equal(a->currency, b->currency);
    assert_int_equal(a->created_at_ns, b->created_at_ns);
    assert_int_equal(a->outflow_day, b->outflow_day);
    assert_int_equal(a->outflow_minor, b->outflow_minor);
    struct mopay_wallet_balance before, after = wt_balance(t, b, now_ns);
    mopay_wallet_balance(old->w, a, now_ns, &before);
    assert_int_equal(before.balance_minor, after.balance_minor);
    assert_int_equal(before.available_minor, after.available_minor);
    assert_int_equal(before.incoming_minor, after.incoming_minor);
    assert_int_equal(before.balance_cap_minor, after.balance_cap_minor);
    assert_int_equal(before.daily_outflow_minor, after.daily_outflow_minor);
    assert_int_equal(before.used_today_minor, after.used_today_minor);
}

static void same_source(struct mopay_funding_source *a, struct mopay_funding_source *b)
{
    same_id(&a->id, &b->id);
    same_id(&a->customer->id, &b->customer->id);
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->brand, b->brand);
    assert_int_equal(a->exp_month, b->exp_month);
    assert_int_equal(a->exp_year, b->exp_year);
    assert_string_equal(a->bank_code, b->bank_code);
    assert_int_equal(a->iban, b->iban);
    assert_string_equal(a->last4, b->last4);
    assert_string_equal(a->holder, b->holder);
    assert_int_equal(a->primary, b->primary);
    assert_int_equal(a->backup, b->backup);
    assert_int_equal(a->lost, b->lost);
    assert_int_equal(a->sealed_len, b->sealed_len);
    assert_memory_equal(a->sealed_number, b->sealed_number, a->sealed_len);
    assert_int_equal(a->created_at_ns, b->created_at_ns);
}

static void same_customer_fields(const struct mopay_customer *a, const struct mopay_customer *b)
{
    same_id(&a->id, &b->id);
    assert_string_equal(a->phone, b->phone);
    assert_string_equal(a->name, b->name);
    assert_string_equal(a->country, b->country);
    assert_string_equal(a->pin_hash, b->pin_hash);
    assert_int_equal(a->kyc_tier, b->kyc_tier);
    assert_string_equal(a->kyc_document_type, b->kyc_document_type);
    assert_string_equal(a->kyc_document_last4, b->kyc_document_last4);
    assert_string_equal(a->kyc_document_sealed, b->kyc_document_sealed);
    assert_int_equal(a->frozen, b->frozen);
    assert_int_equal(a->failed_pins, b->failed_pins);
    assert_int_equal(a->locked_until_ns, b->locked_until_ns);
    assert_int_equal(a->created_at_ns, b->created_at_ns);
    assert_int_equal(a->device_count, b->device_count);
    assert_int_equal(a->wallet_count, b->wallet_count);
    assert_int_equal(a->source_count, b->source_count);
}

/* The customer and everything it owns, found in the fresh state by id and owned by the fresh
 * customer there. */
static void same_customer(struct wt *t, struct wt_world *old, struct mopay_customer *a, int64_t now_ns)
{
    struct mopay_wallet_state *w = t->world.w;
    struct mopay_customer *b = mopay_wallet_customer(w, &a->id);
    assert_non_null(b);
    assert_ptr_equal(mopay_wallet_customer_by_phone(w, a->phone), b);
    same_customer_fields(a, b);
    for (size_t i = 0; i < a->device_count; i++) {
        struct mopay_device *d = mopay_wallet_device(w, &a->devices[i]->id);
        assert_non_null(d);
        assert_ptr_equal(d->customer, b);
        same_device(a->devices[i], d);
    }
    for (size_t i = 0; i < a->wallet_count; i++) {
        struct mopay_wallet *wallet = mopay_wallet_get(w, &a->wallets[i]->id);
        assert_non_null(wallet);
        assert_ptr_equal(wallet->customer, b);
        assert_ptr_equal(mopay_wallet_of(b, wallet->currency), wallet);
        same_wallet(t, a->wallets[i], wallet, old, now_ns);
    }
    for (size_t i = 0; i < a->source_count; i++) {
        struct mopay_funding_source *s = mopay_wallet_source(w, &a->sources[i]->id);
        assert_non_null(s);
        assert_ptr_equal(s->customer, b);
        same_source(a->sources[i], s);
    }
}

static bool pending_has(const struct mopay_wallet_state *w, const struct mopay_id *id)
{
    size_t n = 0;
    for (const struct mopay_movement *m = w->pending; m != NULL; m = m->next_pending, n++) {
        assert_true(n < 1000);
        if (memcmp(m->id.bytes, id->bytes, 16) == 0)
            return true;
    }
    return false;
}

static size_t pending_count(const struct mopay_wallet_state *w)
{
    size_t n = 0;
    for (const struct mopay_movement *m = w->pending; m != NULL; m = m->next_pending)
        n++;
    return n;
}

static void same_movement(struct wt *t, struct wt_world *old, const struct mopay_movement *a)
{
    struct mopay_movement *b = mopay_wallet_movement(t->world.w, &a->id);
    assert_non_null(b);
    assert_int_equal(a->kind, b->kind);
    same_id(&a->wallet->id, &b->wallet->id);
    assert_ptr_equal(b->wallet, mopay_wallet_get(t->world.w, &a->wallet->id));
    same_id(&a->source->id, &b->source->id);
    assert_ptr_equal(b->source, mopay_wallet_source(t->world.w, &a->source->id));
    assert_int_equal(a->amount_minor, b->amount_minor);
    assert_int_equal(a->status, b->status);
    assert_string_equal(a->decline_code, b->decline_code);
    assert_string_equal(a->network_reference, b->network_reference);
    assert_int_equal(a->created_at_ns, b->created_at_ns);
    assert_int_equal(a->resolved_at_ns, b->resolved_at_ns);
    assert_int_equal(a->expires_at_ns, b->expires_at_ns);
    bool pending = a->status == MOPAY_MOVEMENT_PENDING;
    assert_int_equal(pending_has(old->w, &a->id), pending);
    assert_int_equal(pending_has(t->world.w, &b->id), pending);
}

/* Every session of the old state is in the fresh one, with the same fields, and authenticates. */
static void same_sessions(struct wt *t, struct wt_world *old)
{
    struct mopay_wallet_state *w = t->world.w;
    assert_int_equal(w->sessions.count, old->w->sessions.count);
    for (const struct mopay_session *a = old->w->sessions_oldest; a != NULL; a = a->next) {
        const struct mopay_session *b = mopay_index_get(&w->sessions, a->hash);
        assert_non_null(b);
        assert_memory_equal(a->hash, b->hash, 32);
        same_id(&a->customer->id, &b->customer->id);
        assert_ptr_equal(b->customer, mopay_wallet_customer(w, &a->customer->id));
        same_id(&a->device->id, &b->device->id);
        assert_ptr_equal(b->device, mopay_wallet_device(w, &a->device->id));
        assert_int_equal(a->created_at_ns, b->created_at_ns);
        assert_int_equal(a->expires_at_ns, b->expires_at_ns);
    }
}

/* The identity document opens under the secret seal, as this customer's, to the number that was
 * filed. */
static void document_opens(struct wt *t, const struct mopay_customer *c, const char *number)
{
    uint8_t sealed[128];
    char plain[128], id[MOPAY_ID_TEXT_BYTES], ad[MOPAY_SEAL_AD_BYTES];
    size_t len = 0, plain_len = 0;
    bool legacy = true;
    mopay_id_format(MOPAY_ID_CUSTOMER, &c->id, id);
    mopay_seal_ad(ad, "customer", id, "kyc_document");
    assert_int_equal(sodium_base642bin(sealed, sizeof(sealed), c->kyc_document_sealed,
                                       strlen(c->kyc_document_sealed), NULL, &len, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    assert_int_equal(len, strlen(number) + MOPAY_SEAL_AD_OVERHEAD);
    assert_true(mopay_keys_open_ad(t->keys->secret_seal, ad, sealed, len, plain, &plain_len, &legacy));
    assert_false(legacy);
    assert_int_equal(plain_len, strlen(number));
    assert_memory_equal(plain, number, strlen(number));
    /* bound to its row: under another customer's name it does not open */
    mopay_seal_ad(ad, "customer", "cus_00000000000000000000000000000000", "kyc_document");
    assert_false(mopay_keys_open_ad(t->keys->secret_seal, ad, sealed, len, plain, &plain_len, &legacy));
}

static void recovery_round_trip_compare(struct wt *t, struct wt_world *old, struct scene *sc, int64_t now_ns)
{
    uint8_t before[32], after[32];
    mopay_ledger_digest(mopay_ledger_service_ledger(old->ledger), before);
    wt_digest(t, after);
    assert_memory_equal(before, after, 32);
    wt_assert_ledger_clean(t);
    for (int i = 0; i < 3; i++)
        same_customer(t, old, sc->customers[i], now_ns);
    for (int i = 0; i < 4; i++)
        same_movement(t, old, sc->movements[i]);
    assert_int_equal(pending_count(t->world.w), 1);
    assert_int_equal(pending_count(old->w), 1);
    same_sessions(t, old);
    assert_int_equal(t->world.w->sessions.count, 1);
    assert_true(wt_session_live(t, 1, now_ns, sc->customers[0]));
    assert_false(wt_session_live(t, 2, now_ns, NULL)); /* bob's wrong PIN opened nothing */
    struct mopay_customer *alice = mopay_wallet_customer(t->world.w, &sc->customers[0]->id);
    document_opens(t, alice, WT_DOCUMENT);
    assert_string_equal(alice->kyc_document_last4, "5432");
}

/* What the network test needs from the old state, which is freed before it runs. */
struct scene_ids {
    struct mopay_id usd, bob_usd, card, bank, bob_lost;
};

/* The numbers reach the network as the digits they were, from the reloaded sources. */
static void recovery_numbers_reach_the_network(struct wt *t, const struct scene_ids *ids, int64_t now_ns)
{
    struct mopay_wallet_state *w = t->world.w;
    struct mopay_wallet *usd = mopay_wallet_get(w, &ids->usd), *bob_usd = mopay_wallet_get(w, &ids->bob_usd);
    struct mopay_funding_source *card = mopay_wallet_source(w, &ids->card);
    struct mopay_funding_source *bank = mopay_wallet_source(w, &ids->bank);
    struct mopay_funding_source *lost = mopay_wallet_source(w, &ids->bob_lost);
    char digits[80] = "", sid[MOPAY_ID_TEXT_BYTES], ad[MOPAY_SEAL_AD_BYTES];
    size_t digits_len = 0;
    bool legacy = true;
    mopay_id_format(MOPAY_ID_FUNDING_SOURCE, &card->id, sid);
    mopay_seal_ad(ad, "source", sid, "number");
    assert_true(mopay_keys_open_ad(t->keys->card_seal, ad, card->sealed_number, card->sealed_len, digits, &digits_len,
                                   &legacy));
    assert_false(legacy);
    assert_int_equal(digits_len, strlen(WT_CARD_OK));
    assert_memory_equal(digits, WT_CARD_OK, strlen(WT_CARD_OK));
    struct mopay_movement *m = NULL;
    assert_int_equal(wt_topup(t, now_ns, usd, card, WT_USD(1), &m), MOPAY_OK);
    assert_int_equal(m->status, MOPAY_MOVEMENT_SUCCEEDED);
    assert_int_equal(t->world.spy->last.op, MOPAY_CONNECTOR_CHARGE);
    assert_string_equal(t->world.spy->card, WT_CARD_OK);
    assert_string_equal(t->world.spy->account, "");
    assert_int_equal(wt_withdraw(t, now_ns + 1, usd, bank, WT_USD(1), &m), MOPAY_OK);
    assert_int_equal(m->status, MOPAY_MOVEMENT_SUCCEEDED);
    assert_int_equal(t->world.spy->last.op, MOPAY_CONNECTOR_PAYOUT);
    assert_string_equal(t->world.spy->account, WT_IBAN);
    assert_string_equal(t->world.spy->bank_code, WT_BANK_CODE);
    assert_string_equal(t->world.spy->card, "");
    /* bob is still frozen after the restart, and his lost card still lost: nothing reaches the network */
    assert_true(lost->lost);
    size_t submits = t->world.spy->submits;
    assert_int_equal(wt_topup(t, now_ns + 2, bob_usd, lost, WT_USD(1), &m), MOPAY_ERR_customer_frozen);
    assert_int_equal(t->world.spy->submits, submits);
    wt_assert_ledger_clean(t);
}

static const char *const wallet_kinds[] = {"customer", "device", "wallet", "source", "movement", "session"};

static void recovery_round_trip(void **state)
{
    struct wt *t = *state;
    struct scene sc;
    memset(&sc, 0, sizeof(sc));
    scene_people(t, &sc);
    scene_sources(t, &sc);
    scene_money(t, &sc);
    int64_t now = WT_T0 + 50 * WT_S;
    assert_int_equal(wt_tick(t, now), MOPAY_OK); /* nothing due: the late answer comes at +30 s */
    assert_int_equal(sc.movements[2]->status, MOPAY_MOVEMENT_PENDING);
    assert_int_equal(wt_records(t, "customer"), 3);
    assert_int_equal(wt_records(t, "device"), 5);
    assert_int_equal(wt_records(t, "wallet"), 4);
    assert_int_equal(wt_records(t, "source"), 6);
    assert_int_equal(wt_records(t, "movement"), 4);
    assert_int_equal(wt_records(t, "session"), 1);
    for (size_t i = 0; i < sizeof(wallet_kinds) / sizeof(wallet_kinds[0]); i++)
        assert_int_equal(wt_rows(t, wallet_kinds[i]), 0); /* the log alone holds them */

    struct wt_world old = t->world;
    wt_world_start(t, &t->world); /* the restart: the old world is kept to compare with */
    recovery_round_trip_compare(t, &old, &sc, now);
    struct scene_ids ids = {sc.wallets[0]->id, sc.wallets[2]->id, sc.card->id, sc.bank->id, sc.bob_card->id};
    wt_world_stop(&old);
    recovery_numbers_reach_the_network(t, &ids, now + WT_S);
}

/* --- no secret in the clear --- */

struct log_search {
    const void *needle;
    size_t len;
    size_t records;
    bool found;
};

static bool log_search_one(void *ctx, int64_t seq, const void *data, size_t len)
{
    struct log_search *s = ctx;
    (void)seq;
    s->records++;
    s->found = s->found || memmem(data, len, s->needle, s->len) != NULL;
    return true;
}

/* Whether any record of the store's log holds these bytes. */
static bool log_holds(struct wt *t, const void *needle, size_t len)
{
    struct log_search s = {needle, len, 0, false};
    assert_int_equal(t->store->ledger_log_load(t->store, log_search_one, &s), MOPAY_OK);
    assert_true(s.records > 0);
    return s.found;
}

/* The scene's whole log: the names are there, the device secrets, card and account numbers and
 * the identity document number are not (sealed), nor the PIN (hashed). */
static void log_holds_no_secret_in_the_clear(void **state)
{
    struct wt *t = *state;
    struct scene sc;
    memset(&sc, 0, sizeof(sc));
    scene_people(t, &sc);
    scene_sources(t, &sc);
    scene_money(t, &sc);
    assert_true(log_holds(t, "Alice Liddell", strlen("Alice Liddell")));
    assert_true(log_holds(t, sc.customers[0]->pin_hash, strlen(sc.customers[0]->pin_hash)));
    const struct mopay_device *devices[] = {sc.alice_phone, sc.bob_phone, sc.carol_phone};
    for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++)
        assert_false(log_holds(t, devices[i]->code_secret, sizeof(devices[i]->code_secret)));
    static const char *const numbers[] = {WT_CARD_OK, WT_CARD_SHORT, WT_CARD_PENDING, WT_IBAN,
                                          "6200000000000005", "378282246310005", WT_DOCUMENT, WT_PIN};
    for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++)
        assert_false(log_holds(t, numbers[i], strlen(numbers[i])));
    /* and the replayed devices' secrets open to the same bytes */
    struct wt_world old = t->world;
    wt_world_start(t, &t->world);
    for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++) {
        const struct mopay_device *d = mopay_wallet_device(t->world.w, &devices[i]->id);
        assert_non_null(d);
        assert_memory_equal(d->code_secret, devices[i]->code_secret, MOPAY_DEVICE_SECRET_BYTES);
    }
    wt_world_stop(&old);
}

/* --- sealed values stay in their image --- */

#define LOG_RECORDS_MAX 256

/* The store's log, copied to change bytes in it and start a world on the copy. */
struct log_copy {
    uint8_t *data[LOG_RECORDS_MAX];
    size_t len[LOG_RECORDS_MAX];
    size_t count;
};

static bool log_copy_one(void *ctx, int64_t seq, const void *data, size_t len)
{
    struct log_copy *l = ctx;
    assert_int_equal(seq, (int64_t)l->count + 1);
    assert_true(l->count < LOG_RECORDS_MAX);
    l->data[l->count] = malloc(len);
    assert_non_null(l->data[l->count]);
    memcpy(l->data[l->count], data, len);
    l->len[l->count++] = len;
    return true;
}

/* The `len` bytes at `offset` from the first occurrence of `anchor` in the copied log. */
static uint8_t *log_find(struct log_copy *l, const void *anchor, size_t anchor_len, ptrdiff_t offset, size_t len)
{
    for (size_t i = 0; i < l->count; i++) {
        uint8_t *at = memmem(l->data[i], l->len[i], anchor, anchor_len);
        if (at == NULL)
            continue;
        assert_true(at + offset >= l->data[i] && at + offset + len <= l->data[i] + l->len[i]);
        return at + offset;
    }
    fail_msg("not in the log");
    return NULL;
}

static void bytes_swap(uint8_t *a, uint8_t *b, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t x = a[i];
        a[i] = b[i];
        b[i] = x;
    }
}

/* Starts a world on a store holding the copied log: its result, and the reason in err. */
static enum mopay_err log_copy_start(struct wt *t, const struct log_copy *l, char *err, size_t err_cap)
{
    char why[256];
    struct mopay_store *mine = t->store, *copy = mopay_store_open("sqlite::memory:", why, sizeof(why));
    if (copy == NULL)
        fail_msg("store: %s", why);
    assert_int_equal(copy->begin(copy), MOPAY_OK);
    for (size_t i = 0; i < l->count; i++)
        assert_int_equal(copy->ledger_log_append(copy, (int64_t)i + 1, l->data[i], l->len[i]), MOPAY_OK);
    assert_int_equal(copy->commit(copy), MOPAY_OK);
    t->store = copy;
    struct wt_world world;
    err[0] = '\0';
    enum mopay_err e = wt_world_try(t, &world, true, err, err_cap);
    wt_world_stop(&world);
    t->store = mine;
    copy->close(copy);
    return e;
}

/* A sealed value moved from one record's image into another's does not open there: the start is
 * refused, naming the field or the record; moved back, the log starts again. Device secrets are
 * found after their device's public key, card numbers before their fingerprint, document numbers
 * as their text. */
static void sealed_values_stay_in_their_image(void **state)
{
    struct wt *t = *state;
    struct scene sc;
    memset(&sc, 0, sizeof(sc));
    scene_people(t, &sc);
    scene_sources(t, &sc);
    assert_int_equal(wt_kyc(t, WT_T0 + 60 * WT_S, sc.customers[1], 1), MOPAY_OK);
    struct log_copy l;
    memset(&l, 0, sizeof(l));
    assert_int_equal(t->store->ledger_log_load(t->store, log_copy_one, &l), MOPAY_OK);
    char err[256];
    assert_int_equal(log_copy_start(t, &l, err, sizeof(err)), MOPAY_OK);

    enum { SECRET_SEALED = MOPAY_DEVICE_SECRET_BYTES + MOPAY_SEAL_AD_OVERHEAD };
    uint8_t *a = log_find(&l, sc.alice_phone->public_key, 32, 32, 1 + SECRET_SEALED);
    uint8_t *b = log_find(&l, sc.bob_phone->public_key, 32, 32, 1 + SECRET_SEALED);
    assert_int_equal(a[0], SECRET_SEALED); /* the field's length, then the sealed secret */
    bytes_swap(a + 1, b + 1, SECRET_SEALED);
    assert_int_equal(log_copy_start(t, &l, err, sizeof(err)), MOPAY_ERR_store_failed);
    assert_non_null(strstr(err, "device image, field code_secret: not a valid value"));
    bytes_swap(a + 1, b + 1, SECRET_SEALED);

    const struct mopay_funding_source *alice_card = sc.card, *bob_card = sc.bob_card;
    assert_int_equal(alice_card->sealed_len, bob_card->sealed_len); /* two 16-digit cards */
    size_t n = alice_card->sealed_len;
    a = log_find(&l, alice_card->fingerprint, 16, -(ptrdiff_t)n, n);
    b = log_find(&l, bob_card->fingerprint, 16, -(ptrdiff_t)n, n);
    assert_memory_equal(a, alice_card->sealed_number, n);
    bytes_swap(a, b, n);
    assert_int_equal(log_copy_start(t, &l, err, sizeof(err)), MOPAY_ERR_store_failed);
    assert_non_null(strstr(err, "source image, field sealed_number: not a valid value"));
    bytes_swap(a, b, n);

    const char *alice_doc = sc.customers[0]->kyc_document_sealed, *bob_doc = sc.customers[1]->kyc_document_sealed;
    n = strlen(alice_doc);
    assert_int_equal(strlen(bob_doc), n);
    a = log_find(&l, alice_doc, n, 0, n);
    b = log_find(&l, bob_doc, n, 0, n);
    bytes_swap(a, b, n);
    assert_int_equal(log_copy_start(t, &l, err, sizeof(err)), MOPAY_ERR_store_failed);
    assert_non_null(strstr(err, ": its identity document number does not open as this customer's"));
    bytes_swap(a, b, n);

    assert_int_equal(log_copy_start(t, &l, err, sizeof(err)), MOPAY_OK);
    for (size_t i = 0; i < l.count; i++)
        free(l.data[i]);
}

/* --- records from before the journal, as they were written then --- */

static void row_put(struct wt *t, const char *kind, const char *id, const char *json)
{
    wt_begin(t);
    assert_int_equal(t->store->record_put(t->store, kind, id, json, strlen(json), WT_T0), MOPAY_OK);
    wt_commit(t, WT_T0);
}

static void row_delete(struct wt *t, const char *kind, const char *id)
{
    bool found = false;
    wt_begin(t);
    assert_int_equal(t->store->record_delete(t->store, kind, id, &found), MOPAY_OK);
    wt_commit(t, WT_T0);
    assert_true(found);
}

/* A value sealed before seals were bound to their row (no associated data), as base64. */
static void legacy_sealed_b64(const uint8_t key[32], const void *plain, size_t len, char *out, size_t cap)
{
    uint8_t sealed[128];
    assert_true(len + MOPAY_SEAL_OVERHEAD <= sizeof(sealed));
    mopay_keys_seal(key, plain, len, sealed);
    sodium_bin2base64(out, cap, sealed, len + MOPAY_SEAL_OVERHEAD, sodium_base64_VARIANT_ORIGINAL);
}

static void customer_json(struct wt *t, const char *id, const char *phone, const char *document_sealed, char *out,
                          size_t cap)
{
    int n = snprintf(out, cap,
                     "{\"id\":\"%s\",\"phone\":\"%s\",\"name\":\"Lee Legacy\",\"country\":\"US\",\"pin_hash\":\"%s\","
                     "\"kyc_tier\":1,\"kyc_document_type\":\"passport\",\"kyc_document_last4\":\"5432\","
                     "\"kyc_document_sealed\":\"%s\",\"frozen\":false,\"failed_pins\":2,\"locked_until_ns\":0,"
                     "\"created_at_ns\":%lld,\"trust\":[3,0,2,0,1]}",
                     id, phone, t->pin_hash, document_sealed, (long long)(WT_T0 - 10 * WT_DAY));
    assert_true(n > 0 && (size_t)n < cap);
}

/* What the rows of a database from before the journal name, and the secrets sealed in them. */
struct legacy {
    struct mopay_id customer, device, wallet, source, movement;
    uint8_t secret[MOPAY_DEVICE_SECRET_BYTES];
    char customer_text[MOPAY_ID_TEXT_BYTES];
};

static void legacy_people(struct wt *t, struct legacy *l)
{
    char id[MOPAY_ID_TEXT_BYTES], sealed[256], key_hex[65], json[2048];
    mopay_id_new(WT_T0 - 10 * WT_DAY, &l->customer);
    mopay_id_format(MOPAY_ID_CUSTOMER, &l->customer, l->customer_text);
    legacy_sealed_b64(t->keys->secret_seal, WT_DOCUMENT, strlen(WT_DOCUMENT), sealed, sizeof(sealed));
    customer_json(t, l->customer_text, "+14155559999", sealed, json, sizeof(json));
    row_put(t, "customer", l->customer_text, json);

    uint8_t public_key[32];
    randombytes_buf(public_key, sizeof(public_key));
    randombytes_buf(l->secret, sizeof(l->secret));
    sodium_bin2hex(key_hex, sizeof(key_hex), public_key, sizeof(public_key));
    legacy_sealed_b64(t->keys->secret_seal, l->secret, sizeof(l->secret), sealed, sizeof(sealed));
    mopay_id_new(WT_T0 - 10 * WT_DAY, &l->device);
    mopay_id_format(MOPAY_ID_DEVICE, &l->device, id);
    snprintf(json, sizeof(json),
             "{\"id\":\"%s\",\"customer_id\":\"%s\",\"name\":\"old phone\",\"public_key\":\"%s\","
             "\"code_secret_sealed\":\"%s\",\"created_at_ns\":%lld,\"revoked_at_ns\":0,\"last_signed_ns\":%lld,"
             "\"code_index\":4242,\"code_last_step\":7}",
             id, l->customer_text, key_hex, sealed, (long long)(WT_T0 - 10 * WT_DAY), (long long)(WT_T0 - WT_S));
    row_put(t, "device", id, json);

    uint8_t hash[32];
    char hash_hex[65];
    wt_token_hash(77, hash);
    sodium_bin2hex(hash_hex, sizeof(hash_hex), hash, sizeof(hash));
    struct mopay_id sid;
    memcpy(sid.bytes, hash, 16);
    char did[MOPAY_ID_TEXT_BYTES];
    mopay_id_format(MOPAY_ID_DEVICE, &l->device, did);
    mopay_id_format(MOPAY_ID_SESSION, &sid, id);
    snprintf(json, sizeof(json),
             "{\"hash\":\"%s\",\"customer_id\":\"%s\",\"device_id\":\"%s\",\"created_at_ns\":%lld,"
             "\"expires_at_ns\":%lld}",
             hash_hex, l->customer_text, did, (long long)WT_T0, (long long)(WT_T0 + 600 * WT_S));
    row_put(t, "session", id, json);
}

/* A wallet (its ledger account opened as it was then), a card, and an approved top-up. */
static void legacy_money(struct wt *t, struct legacy *l)
{
    char id[MOPAY_ID_TEXT_BYTES], wid[MOPAY_ID_TEXT_BYTES], sid[MOPAY_ID_TEXT_BYTES], sealed[256], json[2048];
    mopay_id_new(WT_T0 - 9 * WT_DAY, &l->wallet);
    mopay_id_format(MOPAY_ID_WALLET, &l->wallet, wid);
    struct mopay_ledger_account a;
    memset(&a, 0, sizeof(a));
    a.id = l->wallet;
    a.currency = t->usd->numeric;
    a.kind = MOPAY_LEDGER_KIND_CUSTOMER_WALLET;
    a.flags = MOPAY_LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS;
    uint8_t result = 0xff;
    wt_begin(t);
    mopay_ledger_service_create_accounts(t->world.ledger, &a, 1, WT_T0 - 9 * WT_DAY, &result);
    wt_commit(t, WT_T0 - 9 * WT_DAY);
    assert_int_equal(result, MOPAY_LEDGER_ok);
    snprintf(json, sizeof(json),
             "{\"id\":\"%s\",\"customer_id\":\"%s\",\"currency\":\"USD\",\"created_at_ns\":%lld,"
             "\"outflow_day\":%lld,\"outflow_minor\":700}",
             wid, l->customer_text, (long long)(WT_T0 - 9 * WT_DAY), (long long)(WT_DAY0 / WT_DAY));
    row_put(t, "wallet", wid, json);

    uint8_t fingerprint[16];
    char fingerprint_hex[33];
    mopay_wallet_fingerprint(t->keys, WT_CARD_OK, fingerprint);
    sodium_bin2hex(fingerprint_hex, sizeof(fingerprint_hex), fingerprint, sizeof(fingerprint));
    legacy_sealed_b64(t->keys->card_seal, WT_CARD_OK, strlen(WT_CARD_OK), sealed, sizeof(sealed));
    mopay_id_new(WT_T0 - 9 * WT_DAY, &l->source);
    mopay_id_format(MOPAY_ID_FUNDING_SOURCE, &l->source, sid);
    snprintf(json, sizeof(json),
             "{\"id\":\"%s\",\"customer_id\":\"%s\",\"type\":\"card\",\"brand\":0,\"exp_month\":12,"
             "\"exp_year\":2030,\"bank_code\":\"\",\"iban\":false,\"last4\":\"4242\",\"holder\":\"Lee Legacy\","
             "\"primary\":true,\"backup\":false,\"lost\":false,\"number_sealed\":\"%s\",\"fingerprint\":\"%s\","
             "\"created_at_ns\":%lld}",
             sid, l->customer_text, sealed, fingerprint_hex, (long long)(WT_T0 - 9 * WT_DAY));
    row_put(t, "source", sid, json);

    mopay_id_new(WT_T0 - 8 * WT_DAY, &l->movement);
    mopay_id_format(MOPAY_ID_TOPUP, &l->movement, id);
    snprintf(json, sizeof(json),
             "{\"id\":\"%s\",\"kind\":0,\"wallet_id\":\"%s\",\"source_id\":\"%s\",\"amount_minor\":500,"
             "\"status\":1,\"decline_code\":\"\",\"network_reference\":\"NR-OLD-1\",\"created_at_ns\":%lld,"
             "\"resolved_at_ns\":%lld,\"expires_at_ns\":%lld}",
             id, wid, sid, (long long)(WT_T0 - 8 * WT_DAY), (long long)(WT_T0 - 8 * WT_DAY),
             (long long)(WT_T0 - 8 * WT_DAY + 120 * WT_S));
    row_put(t, "movement", id, json);
}

/* A database from before the journal: its JSON records, with seals from before seals were bound
 * to their row, are loaded at the first start and moved into the log in one record (the rows
 * deleted, the seals bound to their rows); the next start rebuilds the same from the log alone,
 * and moves nothing again. */
static void records_from_before_the_log_move_into_it(void **state)
{
    struct wt *t = *state;
    struct legacy l;
    legacy_people(t, &l);
    legacy_money(t, &l);
    int64_t next = wt_log_next(t);
    wt_restart(t);
    for (size_t i = 0; i < sizeof(wallet_kinds) / sizeof(wallet_kinds[0]); i++) {
        assert_int_equal(wt_rows(t, wallet_kinds[i]), 0);
        assert_int_equal(wt_records(t, wallet_kinds[i]), 1);
    }
    assert_int_equal(wt_log_next(t), next + 1);
    struct mopay_customer *c = mopay_wallet_customer(t->world.w, &l.customer);
    assert_non_null(c);
    assert_string_equal(c->name, "Lee Legacy");
    assert_int_equal(c->failed_pins, 2);
    assert_int_equal(c->trust.refunds_received, 2);
    document_opens(t, c, WT_DOCUMENT); /* sealed for its row now */
    struct mopay_device *d = mopay_wallet_device(t->world.w, &l.device);
    assert_non_null(d);
    assert_memory_equal(d->code_secret, l.secret, sizeof(l.secret));
    assert_ptr_equal(mopay_wallet_device_by_code(t->world.w, 4242), d);
    struct mopay_funding_source *s = mopay_wallet_source(t->world.w, &l.source);
    assert_non_null(s);
    assert_int_equal(s->sealed_len, strlen(WT_CARD_OK) + MOPAY_SEAL_AD_OVERHEAD); /* sealed for its row now */
    assert_true(wt_session_live(t, 77, WT_T0 + WT_S, c));

    struct wt_world old = t->world;
    wt_world_start(t, &t->world); /* from the log alone */
    assert_int_equal(wt_log_next(t), next + 1);
    same_customer(t, &old, mopay_wallet_customer(old.w, &l.customer), WT_T0);
    same_movement(t, &old, mopay_wallet_movement(old.w, &l.movement));
    same_sessions(t, &old);
    wt_world_stop(&old);
    struct mopay_movement *m = NULL;
    s = mopay_wallet_source(t->world.w, &l.source);
    assert_int_equal(wt_topup(t, WT_T0 + WT_S, mopay_wallet_get(t->world.w, &l.wallet), s, WT_USD(3), &m), MOPAY_OK);
    assert_string_equal(t->world.spy->card, WT_CARD_OK); /* the number still opens, as this source's */
}

/* A start that cannot rebuild the state stops with a reason (and frees what it had rebuilt): an
 * image in the log that does not decode; a record from before the log that does not parse, names
 * what is not there, or is in the log already. */
static void load_refuses_what_it_cannot_rebuild(void **state)
{
    struct wt *t = *state;
    struct mopay_customer *c = wt_signup(t, WT_T0, "Quinn Fabray", NULL);
    (void)wt_wallet_open(t, WT_T0, c, t->usd);
    char err[256] = "", cid[MOPAY_ID_TEXT_BYTES], json[2048];
    struct wt_world other;
    /* another master key: the device's secret, sealed in its image, does not open */
    const struct mopay_keys *mine = t->keys;
    setenv("MOPAY_MASTER_KEY", "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100", 1);
    t->keys = mopay_keys_load("/nonexistent/mopay-wallet-test.key", err, sizeof(err));
    assert_non_null(t->keys);
    err[0] = '\0';
    assert_int_equal(wt_world_try(t, &other, true, err, sizeof(err)), MOPAY_ERR_store_failed);
    assert_non_null(strstr(err, "device image, field code_secret: not a valid value"));
    wt_world_stop(&other);
    mopay_keys_free(t->keys);
    t->keys = mine;
    /* a wallet record whose ledger account is not there */
    struct mopay_id wallet_id;
    char wid[MOPAY_ID_TEXT_BYTES];
    mopay_id_new(WT_T0, &wallet_id);
    mopay_id_format(MOPAY_ID_WALLET, &wallet_id, wid);
    mopay_id_format(MOPAY_ID_CUSTOMER, &c->id, cid);
    snprintf(json, sizeof(json),
             "{\"id\":\"%s\",\"customer_id\":\"%s\",\"currency\":\"EUR\",\"created_at_ns\":1,\"outflow_day\":0,"
             "\"outflow_minor\":0}",
             wid, cid);
    row_put(t, "wallet", wid, json);
    err[0] = '\0';
    assert_int_equal(wt_world_try(t, &other, true, err, sizeof(err)), MOPAY_ERR_store_failed);
    assert_non_null(strstr(err, "wallet record wal_"));
    wt_world_stop(&other);
    row_delete(t, "wallet", wid);
    /* a customer the log holds already */
    customer_json(t, cid, c->phone, "", json, sizeof(json));
    row_put(t, "customer", cid, json);
    err[0] = '\0';
    assert_int_equal(wt_world_try(t, &other, true, err, sizeof(err)), MOPAY_ERR_store_failed);
    assert_non_null(strstr(err, "in the log already"));
    wt_world_stop(&other);
    row_delete(t, "customer", cid);
    /* a record that does not parse */
    static const char junk[] = "{\"id\": 42}";
    row_put(t, "customer", "cus_ffffffffffffffffffffffffffffffff", junk);
    err[0] = '\0';
    assert_int_equal(wt_world_try(t, &other, true, err, sizeof(err)), MOPAY_ERR_store_failed);
    assert_non_null(strstr(err, "customer record cus_ffffffffffffffffffffffffffffffff: malformed"));
    wt_world_stop(&other);
}

/* Every text field at the longest the API takes: kept whole, through a restart. */
static void longest_fields_round_trip(void **state)
{
    struct wt *t = *state;
    char name[MOPAY_NAME_BYTES_MAX + 1];
    memset(name, 'n', MOPAY_NAME_BYTES_MAX);
    name[MOPAY_NAME_BYTES_MAX] = '\0';
    struct mopay_customer *c = wt_signup(t, WT_T0, name, NULL);
    (void)wt_device_add(t, WT_T0, c, name);
    wt_begin(t);
    assert_int_equal(mopay_wallet_kyc_set(t->world.w, t->store, WT_T0, c, 2, "national_id_card_abcdef",
                                          "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"),
                     MOPAY_OK);
    wt_commit(t, WT_T0);
    struct mopay_wallet *usd = wt_wallet_open(t, WT_T0, c, t->usd);
    struct mopay_funding_source *card = wt_card_add(t, WT_T0, c, "6200000000000000000", false); /* 19 digits */
    (void)wt_bank_add(t, WT_T0, c, "DE89370400440532013000", "DEUTDEFF500", true);
    struct mopay_movement *m = NULL;
    assert_int_equal(wt_topup(t, WT_T0, usd, card, WT_USD(10), &m), MOPAY_OK);
    assert_string_equal(t->world.spy->card, "6200000000000000000");
    assert_string_equal(c->name, name);
    assert_string_equal(card->holder, name);
    struct wt_world old = t->world;
    wt_world_start(t, &t->world);
    same_customer(t, &old, c, WT_T0);
    same_movement(t, &old, m);
    document_opens(t, mopay_wallet_customer(t->world.w, &c->id), "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345");
    wt_world_stop(&old);
}

/* --- a random walk: every operation in any order, with a restart compared now and then --- */

#define WALK_CUSTOMERS 8
#define WALK_STEPS 1500
#define WALK_RESTART_EVERY 100

struct walk {
    struct wt *t;
    uint64_t rng;
    int64_t now;
    struct mopay_id customers[WALK_CUSTOMERS];
    int customer_count;
    struct mopay_id movements[WALK_STEPS];
    int movement_count;
    int tokens;
    int outcomes[2][3]; /* [accepted, refused][top-up, withdrawal, P2P] */
};

static uint64_t walk_below(struct walk *k, uint64_t n)
{
    k->rng ^= k->rng << 13;
    k->rng ^= k->rng >> 7;
    k->rng ^= k->rng << 17;
    return k->rng % n;
}

static struct mopay_customer *walk_customer(struct walk *k)
{
    return mopay_wallet_customer(k->t->world.w, &k->customers[walk_below(k, (uint64_t)k->customer_count)]);
}

static const struct mopay_currency *walk_currency(struct walk *k)
{
    return walk_below(k, 4) == 0 ? k->t->eur : k->t->usd;
}

/* Devices come and go; KYC only raises the tier (so the cap invariant holds); freezes toggle. */
static void walk_people(struct walk *k, struct mopay_customer *c, uint64_t op)
{
    struct wt *t = k->t;
    uint8_t key[32] = {1}, secret[MOPAY_DEVICE_SECRET_BYTES] = {2};
    struct mopay_device *d = NULL;
    enum mopay_err err;
    if (op == 0) {
        wt_begin(t);
        err = mopay_wallet_device_add(t->world.w, t->store, k->now, c, key, "walker", secret, &d);
        wt_commit(t, k->now);
        assert_true(err == MOPAY_OK || err == MOPAY_ERR_devices_max);
    } else if (op == 1) {
        d = c->devices[walk_below(k, c->device_count)];
        bool was_revoked = d->revoked_at_ns != 0;
        assert_int_equal(wt_revoke(t, k->now, d), was_revoked ? MOPAY_ERR_device_revoked : MOPAY_OK);
    } else if (op == 2 && c->kyc_tier + 1 < MOPAY_WALLET_TIERS) {
        assert_int_equal(wt_kyc(t, k->now, c, c->kyc_tier + 1), MOPAY_OK);
    } else if (op == 3) {
        assert_int_equal(wt_freeze(t, k->now, c, c->frozen ? false : walk_below(k, 3) == 0), MOPAY_OK);
    } else {
        struct mopay_wallet *wallet = NULL;
        const struct mopay_currency *currency = walk_currency(k);
        bool had = mopay_wallet_of(c, currency) != NULL;
        wt_begin(t);
        err = mopay_wallet_open(t->world.w, t->store, k->now, c, currency, &wallet);
        wt_commit(t, k->now);
        assert_int_equal(err, had ? MOPAY_ERR_wallet_exists : MOPAY_OK);
    }
}

static void walk_sources(struct walk *k, struct mopay_customer *c, uint64_t op)
{
    static const char *const numbers[] = {WT_CARD_OK, WT_CARD_SHORT, WT_CARD_STOLEN, WT_CARD_PENDING,
                                          "378282246310005", WT_IBAN, "12340002", "55550119"};
    struct wt *t = k->t;
    if (op == 0 && c->source_count > 0) {
        struct mopay_funding_source *s = c->sources[walk_below(k, c->source_count)];
        bool was_lost = s->lost;
        assert_int_equal(wt_lost(t, k->now, s), was_lost ? MOPAY_ERR_funding_source_unusable : MOPAY_OK);
        return;
    }
    struct mopay_source_input in;
    memset(&in, 0, sizeof(in));
    size_t pick = walk_below(k, sizeof(numbers) / sizeof(numbers[0]));
    in.type = pick < 5 ? MOPAY_SOURCE_CARD : MOPAY_SOURCE_BANK_ACCOUNT;
    snprintf(in.number, sizeof(in.number), "%s", numbers[pick]);
    in.iban = pick == 5;
    in.exp_month = 1 + (int)walk_below(k, 12), in.exp_year = 2030;
    in.holder = c->name;
    in.backup = walk_below(k, 2) == 0;
    struct mopay_funding_source *s = NULL;
    size_t before = c->source_count;
    wt_begin(t);
    enum mopay_err err = mopay_wallet_source_add(t->world.w, t->store, k->now, c, &in, &s);
    wt_commit(t, k->now);
    assert_int_equal(err, before < MOPAY_SOURCES_PER_CUSTOMER_MAX ? MOPAY_OK : MOPAY_ERR_field_invalid);
}

static bool walk_refusal(enum mopay_err err)
{
    return err == MOPAY_ERR_customer_frozen || err == MOPAY_ERR_funding_source_unusable ||
           err == MOPAY_ERR_balance_limit_exceeded || err == MOPAY_ERR_limit_exceeded ||
           err == MOPAY_ERR_insufficient_funds || err == MOPAY_ERR_recipient_invalid ||
           err == MOPAY_ERR_recipient_unavailable || err == MOPAY_ERR_wallet_not_found;
}

/* A refusal changes nothing: not the ledger, not the paying wallet's outflow, not the number of
 * the receiver's wallets. */
static void walk_money(struct walk *k, struct mopay_customer *c, uint64_t op)
{
    struct wt *t = k->t;
    if (c->wallet_count == 0 || (op < 2 && c->source_count == 0))
        return;
    struct mopay_wallet *wallet = op < 2 ? c->wallets[walk_below(k, c->wallet_count)] : mopay_wallet_of(c, t->usd);
    wallet = wallet != NULL ? wallet : c->wallets[0];
    struct mopay_customer *to = op < 2 ? c : walk_customer(k);
    uint8_t before[32], after[32];
    wt_digest(t, before);
    int64_t day = wallet->outflow_day, outflow = wallet->outflow_minor;
    size_t to_wallets = to->wallet_count;
    int64_t amount = 1 + (int64_t)walk_below(k, (uint64_t)(op == 0 ? WT_USD(400) : WT_USD(80)));
    enum mopay_err err;
    if (op < 2) {
        struct mopay_funding_source *s = c->sources[walk_below(k, c->source_count)];
        struct mopay_movement *m = NULL;
        err = op == 0 ? wt_topup(t, k->now, wallet, s, amount, &m) : wt_withdraw(t, k->now, wallet, s, amount, &m);
        if (err == MOPAY_OK)
            k->movements[k->movement_count++] = m->id;
    } else {
        err = wt_p2p(t, k->now, c, to, amount, NULL);
    }
    k->outcomes[err == MOPAY_OK ? 0 : 1][op]++;
    if (err == MOPAY_OK)
        return;
    assert_true(walk_refusal(err));
    wt_digest(t, after);
    assert_memory_equal(before, after, 32);
    assert_int_equal(wallet->outflow_day, day);
    assert_int_equal(wallet->outflow_minor, outflow);
    assert_int_equal(to->wallet_count, to_wallets);
}

/* A session attempt, its answer predicted from the state before it. */
static void walk_session(struct walk *k, struct mopay_customer *c)
{
    struct mopay_device *d = c->devices[walk_below(k, c->device_count)];
    bool replay = walk_below(k, 10) == 0 && d->last_signed_ns != 0;
    bool pin_ok = walk_below(k, 5) != 0;
    int64_t signed_ns = replay ? d->last_signed_ns : k->now;
    enum mopay_err expect = d->revoked_at_ns != 0           ? MOPAY_ERR_device_revoked
                            : c->locked_until_ns > k->now   ? MOPAY_ERR_customer_locked
                            : signed_ns <= d->last_signed_ns ? MOPAY_ERR_signature_replayed
                                                             : MOPAY_OK;
    enum mopay_err refusal = MOPAY_OK;
    struct mopay_session *s = NULL;
    int token = ++k->tokens;
    assert_int_equal(wt_session(k->t, k->now, d, signed_ns, pin_ok ? WT_PIN : "999999", token, &refusal, &s), expect);
    if (expect == MOPAY_OK && pin_ok)
        assert_true(wt_session_live(k->t, token, k->now, c));
    else
        assert_false(wt_session_live(k->t, token, k->now, NULL));
}

/* The session list (oldest to newest) and the session index hold the same sessions. */
static void sessions_consistent(struct mopay_wallet_state *w)
{
    size_t n = 0;
    const struct mopay_session *last = NULL;
    for (const struct mopay_session *s = w->sessions_oldest; s != NULL; s = s->next) {
        assert_true(++n <= w->sessions.count);
        assert_ptr_equal(mopay_index_get(&w->sessions, s->hash), s);
        last = s;
    }
    assert_int_equal(n, w->sessions.count);
    assert_ptr_equal(w->sessions_newest, last);
}

/* What holds after every step: a balanced ledger, and every wallet within its limits (the tiers
 * only go up here). */
static void walk_invariants(struct walk *k)
{
    wt_assert_ledger_clean(k->t);
    size_t pending = 0;
    for (int i = 0; i < k->movement_count; i++) {
        const struct mopay_movement *m = mopay_wallet_movement(k->t->world.w, &k->movements[i]);
        pending += m->status == MOPAY_MOVEMENT_PENDING;
        assert_true(m->status == MOPAY_MOVEMENT_PENDING || m->next_pending == NULL);
    }
    assert_int_equal(pending_count(k->t->world.w), pending);
    sessions_consistent(k->t->world.w);
    for (int i = 0; i < k->customer_count; i++) {
        struct mopay_customer *c = mopay_wallet_customer(k->t->world.w, &k->customers[i]);
        for (size_t j = 0; j < c->wallet_count; j++) {
            struct mopay_wallet_balance b = wt_balance(k->t, c->wallets[j], k->now);
            assert_true(b.available_minor >= 0 && b.available_minor <= b.balance_minor);
            assert_true(b.balance_minor + b.incoming_minor <= b.balance_cap_minor);
            assert_true(b.used_today_minor >= 0 && b.used_today_minor <= b.daily_outflow_minor);
        }
    }
}

static void walk_restart_compare(struct walk *k)
{
    struct wt *t = k->t;
    struct wt_world old = t->world;
    wt_world_start(t, &t->world);
    uint8_t before[32], after[32];
    mopay_ledger_digest(mopay_ledger_service_ledger(old.ledger), before);
    wt_digest(t, after);
    assert_memory_equal(before, after, 32);
    for (int i = 0; i < k->customer_count; i++)
        same_customer(t, &old, mopay_wallet_customer(old.w, &k->customers[i]), k->now);
    for (int i = 0; i < k->movement_count; i++)
        same_movement(t, &old, mopay_wallet_movement(old.w, &k->movements[i]));
    assert_int_equal(pending_count(t->world.w), pending_count(old.w));
    same_sessions(t, &old);
    wt_world_stop(&old);
}

static void walk_step(struct walk *k)
{
    uint64_t op = walk_below(k, 100);
    if (k->customer_count == 0 || (op < 3 && k->customer_count < WALK_CUSTOMERS)) {
        struct mopay_customer *c = wt_signup(k->t, k->now, "Walker", NULL);
        k->customers[k->customer_count++] = c->id;
        return;
    }
    struct mopay_customer *c = walk_customer(k);
    if (op < 15)
        walk_people(k, c, walk_below(k, 6));
    else if (op < 25)
        walk_sources(k, c, walk_below(k, 4));
    else if (op < 70)
        walk_money(k, c, walk_below(k, 3));
    else if (op < 85)
        walk_session(k, c);
    else {
        static const int64_t steps[] = {5 * WT_S, 31 * WT_S, 90 * WT_S, 2 * 3600 * WT_S};
        k->now += 1 + (int64_t)walk_below(k, (uint64_t)steps[walk_below(k, 4)]);
        assert_int_equal(wt_tick(k->t, k->now), MOPAY_OK);
    }
}

static void recovery_random_walk(void **state)
{
    struct walk *k = calloc(1, sizeof(*k));
    assert_non_null(k);
    k->t = *state;
    const char *seed = getenv("MOPAY_WALLET_WALK_SEED"); /* to explore other walks by hand */
    k->rng = seed != NULL ? strtoull(seed, NULL, 0) | 1 : 0x9e3779b97f4a7c15ull;
    k->now = WT_T0;
    for (int step = 1; step <= WALK_STEPS; step++) {
        walk_step(k);
        walk_invariants(k);
        if (step % WALK_RESTART_EVERY == 0)
            walk_restart_compare(k);
    }
    assert_true(k->movement_count > 100);
    for (int op = 0; op < 3; op++) /* both answers seen for each kind of money movement */
        assert_true(k->outcomes[0][op] > 10 && k->outcomes[1][op] > 10);
    free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(recovery_round_trip, wt_setup, wt_teardown),
        cmocka_unit_test_setup_teardown(log_holds_no_secret_in_the_clear, wt_setup, wt_teardown),
        cmocka_unit_test_setup_teardown(sealed_values_stay_in_their_image, wt_setup, wt_teardown),
        cmocka_unit_test_setup_teardown(records_from_before_the_log_move_into_it, wt_setup, wt_teardown),
        cmocka_unit_test_setup_teardown(load_refuses_what_it_cannot_rebuild, wt_setup, wt_teardown),
        cmocka_unit_test_setup_teardown(longest_fields_round_trip, wt_setup, wt_teardown),
        cmocka_unit_test_setup_teardown(recovery_random_walk, wt_setup, wt_teardown),
    };
    return cmocka_run_group_tests_name("wallet_recovery", tests, NULL, NULL);
}
