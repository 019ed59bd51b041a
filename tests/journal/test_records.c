/* Record kinds in the journal: the images a module writes as it works, replayed into a fresh
 * state from the log alone, give the same state back, links and derived state included.
 *
 * Tax-free forms and tax refunds: a customer's wallet and the ledger from the wallet fixture, the
 * payments put into the pay state directly (white box: what the tax module reads of them), then
 * forms, refunds, a validation and a claw-back as the sequencer makes them. Blocklist entries:
 * added, taken off, added again. The images go to a journal of their own over a store of its
 * own, so that the replay needs these kinds alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mopay/journal.h"
#include "mopay/merchant.h"
#include "mopay/money.h"
#include "mopay/risk.h"
#include "mopay/taxrules.h"
#include "pay/internal.h" /* white box: payments put in directly */
#include "tax/internal.h" /* white box: the pending list, compared directly */
#include "wallet/fixture.h"

#define PAYMENTS 4

struct scene {
    struct wt *t;
    struct mopay_store *log; /* where the journal's records go */
    struct mopay_journal *journal;
    struct mopay_merchant_state *merchants;
    struct mopay_journal *pay_journal; /* the pay state's: payments are not written here */
    struct mopay_pay_state *pay;
    struct mopay_taxrules rules;
    struct mopay_tax_state *tax;
    struct mopay_risk_engine *risk;
    struct mopay_merchant merchant;
    struct mopay_order orders[PAYMENTS];
    struct mopay_payment *payments[PAYMENTS];
    struct mopay_customer *customer;
    struct mopay_wallet *wallet;
};

static struct mopay_store *open_log(void)
{
    char err[256];
    struct mopay_store *s = mopay_store_open("sqlite::memory:", err, sizeof(err));
    if (s == NULL)
        fail_msg("store: %s", err);
    return s;
}

/* One batch: the wallet fixture's (its ledger's log), and the journal's record in the log. */
static void batch_begin(struct scene *sc)
{
    wt_begin(sc->t);
    assert_int_equal(sc->log->begin(sc->log), MOPAY_OK);
}

static void batch_commit(struct scene *sc, int64_t now_ns)
{
    wt_commit(sc->t, now_ns);
    assert_int_equal(mopay_journal_commit(sc->journal, sc->log), MOPAY_OK);
    assert_int_equal(sc->log->commit(sc->log), MOPAY_OK);
}

static void scene_start(struct wt *t, struct scene *sc)
{
    memset(sc, 0, sizeof(*sc));
    sc->t = t;
    sc->log = open_log();
    sc->journal = mopay_journal_new();
    sc->pay_journal = mopay_journal_new();
    assert_non_null(sc->journal);
    assert_non_null(sc->pay_journal);
    struct mopay_merchant_options mo = {.keys = t->keys, .ledger = t->world.ledger, .journal = mopay_ledger_service_journal(t->world.ledger)};
    sc->merchants = mopay_merchant_state_new(&mo);
    assert_non_null(sc->merchants);
    struct mopay_pay_options po = {.journal = sc->pay_journal, .wallet = t->world.w, .merchant = sc->merchants,
                                   .ledger = t->world.ledger};
    sc->pay = mopay_pay_new(&po);
    assert_non_null(sc->pay);
    mopay_taxrules_defaults(&sc->rules);
    sc->tax = mopay_tax_new(&sc->rules, sc->pay, t->world.w, t->world.ledger, sc->journal);
    assert_non_null(sc->tax);
    struct mopay_risk_config config;
    mopay_risk_config_default(&config);
    sc->risk = mopay_risk_engine_new(&config, 0);
    assert_non_null(sc->risk);
    mopay_journal_register(sc->journal, &mopay_risk_block_kind, sc->risk);
}

static void scene_stop(struct scene *sc)
{
    mopay_risk_engine_free(sc->risk);
    mopay_tax_free(sc->tax);
    mopay_pay_free(sc->pay); /* frees the payments */
    mopay_merchant_state_free(sc->merchants);
    mopay_journal_free(sc->pay_journal);
    mopay_journal_free(sc->journal);
    sc->log->close(sc->log);
}

/* A customer from the US with a KRW wallet, room enough for every refund below, and her four
 * tax-free purchases at a shop in Seoul, paid: the fourth 100 days ago, so that its refund's
 * deadline has passed. */
static void scene_payments(struct scene *sc, int64_t now_ns)
{
    struct wt *t = sc->t;
    sc->customer = wt_signup(t, now_ns, "Alice Liddell", NULL);
    assert_int_equal(wt_kyc(t, now_ns, sc->customer, 2), MOPAY_OK);
    sc->wallet = wt_wallet_open(t, now_ns, sc->customer, mopay_currency_by_alpha("KRW", 3));
    mopay_id_new(now_ns, &sc->merchant.id);
    snprintf(sc->merchant.name, sizeof(sc->merchant.name), "Seoul Beauty");
    snprintf(sc->merchant.country, sizeof(sc->merchant.country), "KR");
    sc->merchant.currency = mopay_currency_by_alpha("KRW", 3);
    static const int64_t gross[PAYMENTS] = {550000, 330000, 55000, 165000}, vat[PAYMENTS] = {50000, 30000, 5000, 15000};
    for (int i = 0; i < PAYMENTS; i++) {
        struct mopay_order *o = &sc->orders[i];
        mopay_id_new(now_ns, &o->id);
        o->merchant = &sc->merchant;
        o->amount_minor = gross[i];
        o->vat_minor = vat[i];
        o->tax_free = true;
        struct mopay_payment *x = calloc(1, sizeof(*x));
        assert_non_null(x);
        mopay_id_new(now_ns, &x->id);
        x->merchant = &sc->merchant;
        x->customer = sc->customer;
        x->wallet = sc->wallet;
        x->order = o;
        x->status = MOPAY_PAYMENT_SUCCEEDED;
        x->amount_minor = gross[i];
        x->created_at_ns = i == 3 ? now_ns - 100 * WT_DAY : now_ns;
        assert_true(payment_add(sc->pay, x));
        sc->payments[i] = x;
    }
}

/* Forms for every payment; three refunds (of two forms, of one, of the old one); the first
 * validated; the tick claws the old one back, its deadline past; the second stays pending. */
static void scene_tax(struct scene *sc, int64_t now_ns)
{
    batch_begin(sc);
    for (int i = 0; i < PAYMENTS; i++)
        assert_int_equal(mopay_tax_on_payment(sc->tax, sc->t->store, now_ns, sc->payments[i]), MOPAY_OK);
    batch_commit(sc, now_ns);
    struct mopay_tax_form *forms[PAYMENTS];
    for (int i = 0; i < PAYMENTS; i++) {
        forms[i] = mopay_tax_form(sc->tax, &sc->payments[i]->id);
        assert_non_null(forms[i]);
        assert_int_equal(forms[i]->eligibility, MOPAY_OK);
    }
    struct mopay_tax_refund *refunds[3];
    struct mopay_tax_form **groups[3] = {&forms[0], &forms[2], &forms[3]};
    size_t sizes[3] = {2, 1, 1};
    for (int i = 0; i < 3; i++) {
        now_ns += WT_S;
        batch_begin(sc);
        assert_int_equal(mopay_tax_refund(sc->tax, sc->t->store, now_ns, sc->customer, groups[i], sizes[i],
                                          &refunds[i]),
                         MOPAY_OK);
        batch_commit(sc, now_ns);
    }
    now_ns += WT_S;
    batch_begin(sc);
    assert_int_equal(mopay_tax_validate(sc->tax, sc->t->store, now_ns, refunds[0]), MOPAY_OK);
    batch_commit(sc, now_ns);
    now_ns += WT_S;
    batch_begin(sc);
    assert_int_equal(mopay_tax_tick(sc->tax, sc->t->store, now_ns), MOPAY_OK);
    batch_commit(sc, now_ns);
    assert_int_equal(refunds[0]->status, MOPAY_TAX_REFUND_VALIDATED);
    assert_int_equal(refunds[1]->status, MOPAY_TAX_REFUND_PENDING_VALIDATION);
    assert_int_equal(refunds[2]->status, MOPAY_TAX_REFUND_CLAWED_BACK); /* a new customer's is not guaranteed */
    assert_ptr_equal(sc->tax->pending, refunds[1]);
    assert_null(refunds[1]->next_pending);
}

/* Entries added, one taken off, one added twice, one taken off and added again. */
static void scene_blocks(struct scene *sc, int64_t now_ns)
{
    uint8_t keys[4][16];
    for (int i = 0; i < 4; i++)
        memset(keys[i], 0x10 * (i + 1), 16);
    struct {
        bool remove;
        enum mopay_risk_list list;
        int key;
    } steps[] = {{false, MOPAY_RISK_LIST_DEVICE, 0}, {false, MOPAY_RISK_LIST_CARD, 1},
                 {false, MOPAY_RISK_LIST_MERCHANT, 2}, {false, MOPAY_RISK_LIST_CARD, 1},
                 {true, MOPAY_RISK_LIST_DEVICE, 0}, {false, MOPAY_RISK_LIST_PHONE, 3},
                 {true, MOPAY_RISK_LIST_PHONE, 3}, {false, MOPAY_RISK_LIST_PHONE, 3}};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        struct mopay_risk_block_entry e = {.list = (uint8_t)steps[i].list};
        memcpy(e.key, keys[steps[i].key], 16);
        batch_begin(sc);
        if (steps[i].remove) {
            assert_true(mopay_risk_unblock(sc->risk, steps[i].list, e.key));
            assert_int_equal(mopay_journal_remove(sc->journal, &mopay_risk_block_kind, &e, now_ns), MOPAY_OK);
        } else {
            assert_true(mopay_risk_block(sc->risk, steps[i].list, e.key));
            assert_int_equal(mopay_journal_put(sc->journal, &mopay_risk_block_kind, &e, now_ns), MOPAY_OK);
        }
        batch_commit(sc, now_ns);
    }
}

/* --- comparing --- */

static void assert_same_form(const struct mopay_tax_form *a, const struct mopay_tax_form *b)
{
    assert_ptr_equal(a->payment, b->payment); /* the same pay state resolved it */
    assert_string_equal(a->country, b->country);
    assert_int_equal(a->gross_minor, b->gross_minor);
    assert_int_equal(a->vat_minor, b->vat_minor);
    assert_int_equal(a->eligibility, b->eligibility);
    assert_int_equal(a->created_at_ns, b->created_at_ns);
    assert_int_equal(a->refund == NULL, b->refund == NULL);
    if (a->refund != NULL)
        assert_memory_equal(a->refund->id.bytes, b->refund->id.bytes, 16);
}

static void assert_same_refund(struct mopay_tax_state *replayed, const struct mopay_tax_refund *a,
                               const struct mopay_tax_refund *b)
{
    assert_ptr_equal(a->customer, b->customer);
    assert_ptr_equal(a->wallet, b->wallet);
    assert_string_equal(a->country, b->country);
    assert_ptr_equal(a->currency, b->currency);
    assert_int_equal(a->form_count, b->form_count);
    for (size_t i = 0; i < a->form_count; i++) {
        assert_ptr_equal(a->forms[i]->payment, b->forms[i]->payment);
        assert_ptr_equal(b->forms[i], mopay_tax_form(replayed, &b->forms[i]->payment->id)); /* its own form */
        assert_ptr_equal(b->forms[i]->refund, b);
    }
    assert_int_equal(a->gross_minor, b->gross_minor);
    assert_int_equal(a->refund_minor, b->refund_minor);
    assert_int_equal(a->credited_minor, b->credited_minor);
    assert_int_equal(a->clawed_minor, b->clawed_minor);
    assert_int_equal(a->owed_minor, b->owed_minor);
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->guaranteed, b->guaranteed);
    assert_int_equal(a->created_at_ns, b->created_at_ns);
    assert_int_equal(a->deadline_ns, b->deadline_ns);
    assert_int_equal(a->resolved_at_ns, b->resolved_at_ns);
}

struct blocks {
    size_t count;
    struct mopay_risk_block_entry entries[16];
};

static bool blocks_one(void *ctx, enum mopay_risk_list list, const uint8_t key[16])
{
    struct blocks *b = ctx;
    assert_true(b->count < 16);
    struct mopay_risk_block_entry e = {.list = (uint8_t)list};
    memcpy(e.key, key, 16);
    size_t i = b->count++;
    while (i > 0 && memcmp(&b->entries[i - 1], &e, sizeof(e)) > 0) {
        b->entries[i] = b->entries[i - 1];
        i--;
    }
    b->entries[i] = e;
    return true;
}

static void blocks_of(const struct mopay_risk_engine *engine, struct blocks *out)
{
    out->count = 0;
    mopay_risk_block_each(engine, blocks_one, out);
}

/* --- the test --- */

static void replay_gives_the_same_records_back(void **state)
{
    struct wt *t = *state;
    int64_t now_ns = WT_T0;
    t->options.tiers[2].balance_cap_major = 10000000; /* room for every refund */
    wt_restart(t);
    static struct scene sc;
    scene_start(t, &sc);
    scene_payments(&sc, now_ns);
    scene_tax(&sc, now_ns + WT_S);
    scene_blocks(&sc, now_ns + 100 * WT_S);

    /* the same kinds, fresh, over the same log: the forms' payments and the refunds' customers
     * and wallets are resolved in the same pay and wallet states */
    struct mopay_journal *journal = mopay_journal_new();
    assert_non_null(journal);
    struct mopay_tax_state *tax = mopay_tax_new(&sc.rules, sc.pay, t->world.w, t->world.ledger, journal);
    assert_non_null(tax);
    struct mopay_risk_config config;
    mopay_risk_config_default(&config);
    struct mopay_risk_engine *risk = mopay_risk_engine_new(&config, 0);
    assert_non_null(risk);
    mopay_journal_register(journal, &mopay_risk_block_kind, risk);
    struct mopay_journal_replay_stats stats;
    char err[256];
    if (mopay_journal_replay(journal, sc.log, &stats, err, sizeof(err)) != MOPAY_OK)
        fail_msg("replay: %s", err);
    assert_true(stats.images > 0);

    assert_int_equal(tax->forms.count, sc.tax->forms.count);
    assert_int_equal(tax->forms.count, PAYMENTS);
    for (int i = 0; i < PAYMENTS; i++) {
        const struct mopay_tax_form *b = mopay_tax_form(tax, &sc.payments[i]->id);
        assert_non_null(b);
        assert_same_form(mopay_tax_form(sc.tax, &sc.payments[i]->id), b);
    }
    assert_int_equal(tax->refunds.count, sc.tax->refunds.count);
    assert_int_equal(tax->refunds.count, 3);
    for (size_t i = 0; i < sc.tax->refunds.capacity; i++) {
        const struct mopay_tax_refund *a = sc.tax->refunds.slots[i].value;
        if (a == NULL)
            continue;
        const struct mopay_tax_refund *b = mopay_tax_refund_get(tax, &a->id);
        assert_non_null(b);
        assert_same_refund(tax, a, b);
    }
    const struct mopay_tax_refund *pa = sc.tax->pending, *pb = tax->pending; /* the same queue */
    for (; pa != NULL && pb != NULL; pa = pa->next_pending, pb = pb->next_pending)
        assert_memory_equal(pa->id.bytes, pb->id.bytes, 16);
    assert_true(pa == NULL && pb == NULL);

    static struct blocks before, after;
    blocks_of(sc.risk, &before);
    blocks_of(risk, &after);
    assert_int_equal(before.count, 3); /* the card, the merchant, the phone added again */
    assert_int_equal(after.count, before.count);
    assert_memory_equal(after.entries, before.entries, before.count * sizeof(before.entries[0]));

    mopay_risk_engine_free(risk);
    mopay_tax_free(tax);
    mopay_journal_free(journal);
    scene_stop(&sc);
}

/* A damaged log is refused, not replayed into another state: here the removal of an entry that is
 * not on its list. */
static void images_that_do_not_apply_stop_the_replay(void **state)
{
    (void)state;
    struct mopay_store *log = open_log();
    struct mopay_journal *journal = mopay_journal_new();
    struct mopay_risk_config config;
    mopay_risk_config_default(&config);
    struct mopay_risk_engine *risk = mopay_risk_engine_new(&config, 0);
    mopay_journal_register(journal, &mopay_risk_block_kind, risk);
    struct mopay_risk_block_entry e = {.list = MOPAY_RISK_LIST_CARD, .key = {1, 2, 3}};
    assert_int_equal(log->begin(log), MOPAY_OK);
    assert_int_equal(mopay_journal_remove(journal, &mopay_risk_block_kind, &e, WT_T0), MOPAY_OK);
    assert_int_equal(mopay_journal_commit(journal, log), MOPAY_OK);
    assert_int_equal(log->commit(log), MOPAY_OK);
    mopay_risk_engine_free(risk);
    mopay_journal_free(journal);

    journal = mopay_journal_new();
    risk = mopay_risk_engine_new(&config, 0);
    mopay_journal_register(journal, &mopay_risk_block_kind, risk);
    struct mopay_journal_replay_stats stats;
    char err[256] = "";
    assert_int_equal(mopay_journal_replay(journal, log, &stats, err, sizeof(err)), MOPAY_ERR_store_failed);
    assert_non_null(strstr(err, "blocklist entry"));
    mopay_risk_engine_free(risk);
    mopay_journal_free(journal);
    log->close(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(replay_gives_the_same_records_back, wt_setup, wt_teardown),
        cmocka_unit_test(images_that_do_not_apply_stop_the_replay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
