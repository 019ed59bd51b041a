/* The ledger: every result code, each failure proven to change nothing (digest unchanged), two-phase
 * flows, linked chains, balance limits, overflow, idempotency, limits, and a randomized run that
 * recomputes every balance from the stored transfers after each batch, plus determinism of the
 * digest across ledgers and batch splits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mopay/ledger.h"

#define EUR 978
#define USD 840
#define D MOPAY_LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS
#define C MOPAY_LEDGER_CREDITS_MUST_NOT_EXCEED_DEBITS
#define SECOND INT64_C(1000000000)
#define T0 (INT64_C(1700000000) * SECOND)

/* Accounts made by every fixture: 1 and 2 plain EUR, 3 EUR with debits <= credits, 4 EUR with
 * credits <= debits, 5 plain USD. */
enum { PLAIN1 = 1, PLAIN2 = 2, LIMIT_DEBITS = 3, LIMIT_CREDITS = 4, DOLLARS = 5 };

struct fixture {
    struct mopay_ledger *ledger;
    int64_t now;
};

static struct mopay_id id_of(uint64_t n)
{
    struct mopay_id id;
    memset(&id, 0, sizeof id);
    for (int i = 0; i < 8; i++)
        id.bytes[15 - i] = (uint8_t)(n >> (8 * i));
    return id;
}

static struct mopay_ledger_account account(uint64_t id, uint16_t currency, uint16_t flags)
{
    struct mopay_ledger_account a;
    memset(&a, 0, sizeof a);
    a.id = id_of(id);
    a.currency = currency;
    a.flags = flags;
    a.kind = MOPAY_LEDGER_KIND_CUSTOMER_WALLET;
    a.user_data = id * 7;
    return a;
}

static struct mopay_ledger_transfer transfer(uint64_t id, uint64_t debit, uint64_t credit, uint64_t amount)
{
    struct mopay_ledger_transfer t;
    memset(&t, 0, sizeof t);
    t.id = id_of(id);
    t.debit_account_id = id_of(debit);
    t.credit_account_id = id_of(credit);
    t.amount = amount;
    t.currency = EUR;
    t.code = 1;
    t.user_data = id * 3;
    return t;
}

static struct mopay_ledger_transfer pending(uint64_t id, uint64_t debit, uint64_t credit, uint64_t amount,
                                            uint32_t timeout_s)
{
    struct mopay_ledger_transfer t = transfer(id, debit, credit, amount);
    t.flags = MOPAY_LEDGER_PENDING;
    t.timeout_s = timeout_s;
    return t;
}

/* A post (or void) naming only the pending transfer: the rest is taken from it. */
static struct mopay_ledger_transfer resolve(uint64_t id, uint64_t pending_id, uint16_t flag, uint64_t amount)
{
    struct mopay_ledger_transfer t;
    memset(&t, 0, sizeof t);
    t.id = id_of(id);
    t.pending_id = id_of(pending_id);
    t.flags = flag;
    t.amount = amount;
    return t;
}

static void expect_result(uint8_t got, enum mopay_ledger_result expected)
{
    assert_string_equal(mopay_ledger_result_name(got), mopay_ledger_result_name(expected));
}

static struct mopay_ledger *ledger_make(uint32_t accounts_max, uint32_t transfers_max)
{
    struct mopay_ledger_limits limits = {accounts_max, transfers_max, false};
    struct mopay_ledger *ledger = mopay_ledger_new(&limits);
    assert_non_null(ledger);
    return ledger;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->ledger = ledger_make(16, 64);
    f->now = T0;
    struct mopay_ledger_account accounts[] = {
        account(PLAIN1, EUR, 0), account(PLAIN2, EUR, 0), account(LIMIT_DEBITS, EUR, D),
        account(LIMIT_CREDITS, EUR, C), account(DOLLARS, USD, 0),
    };
    uint8_t results[5];
    assert_int_equal(mopay_ledger_create_accounts(f->ledger, accounts, 5, f->now, results), 5);
    f->now += SECOND; /* transfers are stamped from here on, well past the accounts */
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    mopay_ledger_free(f->ledger);
    free(f);
    return 0;
}

/* Submits a batch at the fixture's clock, which then moves on a millisecond. */
static size_t submit(struct fixture *f, const struct mopay_ledger_transfer *transfers, size_t count, uint8_t *results)
{
    size_t ok = mopay_ledger_create_transfers(f->ledger, transfers, count, f->now, results);
    f->now += 1000000;
    return ok;
}

static uint8_t submit_one(struct fixture *f, struct mopay_ledger_transfer t)
{
    uint8_t result = 0xff;
    size_t ok = submit(f, &t, 1, &result);
    assert_int_equal(ok, result == MOPAY_LEDGER_ok);
    return result;
}

static void expect_ok(struct fixture *f, struct mopay_ledger_transfer t)
{
    expect_result(submit_one(f, t), MOPAY_LEDGER_ok);
}

/* The event fails with `expected` and the ledger is as it was. */
static void expect_fails(struct fixture *f, struct mopay_ledger_transfer t, enum mopay_ledger_result expected)
{
    uint8_t before[32], after[32];
    mopay_ledger_digest(f->ledger, before);
    uint32_t count = mopay_ledger_transfer_count(f->ledger);
    expect_result(submit_one(f, t), expected);
    mopay_ledger_digest(f->ledger, after);
    assert_memory_equal(before, after, 32);
    assert_int_equal(mopay_ledger_transfer_count(f->ledger), count);
}

static void expect_account_fails(struct mopay_ledger *ledger, struct mopay_ledger_account a,
                                 enum mopay_ledger_result expected)
{
    uint8_t before[32], after[32], result = 0xff;
    mopay_ledger_digest(ledger, before);
    uint32_t count = mopay_ledger_account_count(ledger);
    assert_int_equal(mopay_ledger_create_accounts(ledger, &a, 1, T0, &result), 0);
    expect_result(result, expected);
    mopay_ledger_digest(ledger, after);
    assert_memory_equal(before, after, 32);
    assert_int_equal(mopay_ledger_account_count(ledger), count);
}

static const struct mopay_ledger_account *get_account(struct fixture *f, uint64_t id)
{
    struct mopay_id key = id_of(id);
    const struct mopay_ledger_account *a = mopay_ledger_account_get(f->ledger, &key);
    assert_non_null(a);
    return a;
}

static void expect_balances(struct fixture *f, uint64_t id, uint64_t debits_pending, uint64_t debits_posted,
                            uint64_t credits_pending, uint64_t credits_posted)
{
    const struct mopay_ledger_account *a = get_account(f, id);
    assert_true(a->debits_pending == debits_pending);
    assert_true(a->debits_posted == debits_posted);
    assert_true(a->credits_pending == credits_pending);
    assert_true(a->credits_posted == credits_posted);
}

static enum mopay_ledger_pending_state state_of(struct fixture *f, uint64_t id)
{
    struct mopay_id key = id_of(id);
    const struct mopay_ledger_transfer *t = mopay_ledger_transfer_get(f->ledger, &key);
    assert_non_null(t);
    return mopay_ledger_transfer_state(f->ledger, t);
}

static void expect_check_ok(struct mopay_ledger *ledger)
{
    static struct mopay_ledger_check check; /* about 17 KiB: kept off the stack */
    mopay_ledger_check(ledger, &check);
    assert_true(check.ok);
    assert_int_equal(check.accounts_breaking_flags, 0);
}

/* Puts `amount` of credit on account 3, so it may spend it. */
static void fund_limited(struct fixture *f, uint64_t id, uint64_t amount)
{
    expect_ok(f, transfer(id, PLAIN1, LIMIT_DEBITS, amount));
}

/* ---- names ---- */

static void result_and_kind_names(void **state)
{
    (void)state;
    assert_string_equal(mopay_ledger_result_name(MOPAY_LEDGER_ok), "ok");
    assert_string_equal(mopay_ledger_result_name(MOPAY_LEDGER_exceeds_credits), "exceeds_credits");
    assert_string_equal(mopay_ledger_result_name(MOPAY_LEDGER_transfers_full), "transfers_full");
    assert_string_equal(mopay_ledger_result_name((enum mopay_ledger_result)7), "unknown");
    assert_string_equal(mopay_ledger_result_name((enum mopay_ledger_result)200), "unknown");
    for (unsigned k = 0; k < MOPAY_LEDGER_KIND_COUNT; k++) {
        enum mopay_ledger_kind parsed;
        assert_true(mopay_ledger_kind_parse(mopay_ledger_kind_name((enum mopay_ledger_kind)k), &parsed));
        assert_int_equal(parsed, k);
    }
    enum mopay_ledger_kind parsed = MOPAY_LEDGER_KIND_MERCHANT;
    assert_false(mopay_ledger_kind_parse("Merchant", &parsed));
    assert_false(mopay_ledger_kind_parse("", &parsed));
    assert_int_equal(parsed, MOPAY_LEDGER_KIND_MERCHANT);
    assert_string_equal(mopay_ledger_kind_name(MOPAY_LEDGER_KIND_OFFER_BUDGET), "offer_budget");
}

/* ---- accounts ---- */

static void account_created_as_given(void **state)
{
    struct fixture *f = *state;
    const struct mopay_ledger_account *a = get_account(f, LIMIT_DEBITS);
    assert_int_equal(a->currency, EUR);
    assert_int_equal(a->flags, D);
    assert_int_equal(a->kind, MOPAY_LEDGER_KIND_CUSTOMER_WALLET);
    assert_true(a->user_data == LIMIT_DEBITS * 7);
    /* one timestamp per event, counting up from the batch's */
    assert_true(get_account(f, PLAIN1)->timestamp == T0);
    assert_true(a->timestamp == T0 + 2);
    assert_int_equal(mopay_ledger_account_count(f->ledger), 5);
    struct mopay_id missing = id_of(99);
    assert_null(mopay_ledger_account_get(f->ledger, &missing));
    expect_check_ok(f->ledger);
}

static void account_refusals(void **state)
{
    struct fixture *f = *state;
    expect_account_fails(f->ledger, account(0, EUR, 0), MOPAY_LEDGER_id_must_not_be_zero);
    /* the first check wins: a zero id with bad flags is about the id */
    expect_account_fails(f->ledger, account(0, 0, D | C), MOPAY_LEDGER_id_must_not_be_zero);
    expect_account_fails(f->ledger, account(10, EUR, D | C), MOPAY_LEDGER_flags_are_mutually_exclusive);
    expect_account_fails(f->ledger, account(10, EUR, 0x4), MOPAY_LEDGER_flags_are_mutually_exclusive);
    expect_account_fails(f->ledger, account(10, EUR, 0x8000 | D), MOPAY_LEDGER_flags_are_mutually_exclusive);
    struct mopay_ledger_account a = account(10, EUR, 0);
    a.kind = MOPAY_LEDGER_KIND_COUNT;
    expect_account_fails(f->ledger, a, MOPAY_LEDGER_kind_invalid);
    a.kind = 0xffff;
    a.currency = 0;
    expect_account_fails(f->ledger, a, MOPAY_LEDGER_kind_invalid);
    expect_account_fails(f->ledger, account(10, 0, 0), MOPAY_LEDGER_currency_invalid);
}

static void account_exists(void **state)
{
    struct fixture *f = *state;
    expect_account_fails(f->ledger, account(PLAIN1, EUR, 0), MOPAY_LEDGER_exists);
    expect_account_fails(f->ledger, account(PLAIN1, USD, 0), MOPAY_LEDGER_exists_with_different_fields);
    expect_account_fails(f->ledger, account(PLAIN1, EUR, D), MOPAY_LEDGER_exists_with_different_fields);
    struct mopay_ledger_account a = account(PLAIN1, EUR, 0);
    a.kind = MOPAY_LEDGER_KIND_MERCHANT;
    expect_account_fails(f->ledger, a, MOPAY_LEDGER_exists_with_different_fields);
    a = account(PLAIN1, EUR, 0);
    a.user_data++;
    expect_account_fails(f->ledger, a, MOPAY_LEDGER_exists_with_different_fields);
    /* within one batch: the second sees the first */
    struct mopay_ledger_account twice[] = {account(11, EUR, 0), account(11, EUR, 0), account(11, USD, 0)};
    uint8_t results[3];
    assert_int_equal(mopay_ledger_create_accounts(f->ledger, twice, 3, f->now, results), 1);
    expect_result(results[0], MOPAY_LEDGER_ok);
    expect_result(results[1], MOPAY_LEDGER_exists);
    expect_result(results[2], MOPAY_LEDGER_exists_with_different_fields);
}

static void accounts_full(void **state)
{
    (void)state;
    struct mopay_ledger *ledger = ledger_make(3, 4);
    struct mopay_ledger_account batch[] = {account(1, EUR, 0), account(2, EUR, 0), account(3, EUR, 0),
                                           account(4, EUR, 0), account(2, EUR, 0)};
    uint8_t results[5];
    assert_int_equal(mopay_ledger_create_accounts(ledger, batch, 5, T0, results), 3);
    expect_result(results[3], MOPAY_LEDGER_accounts_full);
    expect_result(results[4], MOPAY_LEDGER_exists); /* a resubmission is still recognised */
    expect_account_fails(ledger, account(5, EUR, 0), MOPAY_LEDGER_accounts_full);
    /* validation comes first */
    expect_account_fails(ledger, account(5, 0, 0), MOPAY_LEDGER_currency_invalid);
    mopay_ledger_free(ledger);
}

/* Memory per account (record + its index share) at many limits, the worst just past a power of
 * two, where the index is four entries per account. */
static void bytes_per_account(void **state)
{
    (void)state;
    uint32_t limits[] = {1000, 1024, 1025, 100000, 131072, 131073, 10000000, 1u << 30, (1u << 30) + 1};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        struct mopay_ledger_limits l = {limits[i], 1, false};
        uint64_t capacity = 1;
        while (capacity < 2 * (uint64_t)limits[i])
            capacity <<= 1;
        uint64_t expected = ((uint64_t)limits[i] * sizeof(struct mopay_ledger_account) + capacity * 8 + limits[i] - 1) /
                            limits[i];
        assert_int_equal(mopay_ledger_bytes_per_account(&l), expected);
        assert_true(mopay_ledger_bytes_per_account(&l) <= 256);
    }
    struct mopay_ledger_limits worst = {131073, 1, false};
    assert_int_equal(mopay_ledger_bytes_per_account(&worst), 72 + 32);
}

/* ---- transfers: validation ---- */

static void transfer_plain_ok(void **state)
{
    struct fixture *f = *state;
    int64_t at = f->now;
    expect_ok(f, transfer(100, PLAIN1, PLAIN2, 250));
    expect_balances(f, PLAIN1, 0, 250, 0, 0);
    expect_balances(f, PLAIN2, 0, 0, 0, 250);
    struct mopay_id key = id_of(100);
    const struct mopay_ledger_transfer *t = mopay_ledger_transfer_get(f->ledger, &key);
    assert_non_null(t);
    assert_true(t->timestamp == at);
    assert_true(t->amount == 250 && t->currency == EUR && t->code == 1 && t->user_data == 300);
    assert_int_equal(mopay_ledger_transfer_state(f->ledger, t), MOPAY_LEDGER_NOT_PENDING);
    assert_int_equal(mopay_ledger_transfer_count(f->ledger), 1);
    key = id_of(101);
    assert_null(mopay_ledger_transfer_get(f->ledger, &key));
    expect_check_ok(f->ledger);
}

static void transfer_id_must_not_be_zero(void **state)
{
    struct fixture *f = *state;
    expect_fails(f, transfer(0, PLAIN1, PLAIN2, 1), MOPAY_LEDGER_id_must_not_be_zero);
    struct mopay_ledger_transfer t = transfer(0, PLAIN1, PLAIN2, 1);
    t.flags = 0xfe; /* the id is checked first (0x1, linked, would make it an open chain) */
    expect_fails(f, t, MOPAY_LEDGER_id_must_not_be_zero);
}

static void transfer_flags_are_mutually_exclusive(void **state)
{
    struct fixture *f = *state;
    uint16_t bad[] = {
        MOPAY_LEDGER_PENDING | MOPAY_LEDGER_POST_PENDING, MOPAY_LEDGER_PENDING | MOPAY_LEDGER_VOID_PENDING,
        MOPAY_LEDGER_POST_PENDING | MOPAY_LEDGER_VOID_PENDING, MOPAY_LEDGER_PENDING | 0x10, 0x10, 0x8000,
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct mopay_ledger_transfer t = transfer(100, PLAIN1, PLAIN2, 1);
        t.flags = bad[i];
        t.pending_id = id_of(7); /* comes after the flags */
        expect_fails(f, t, MOPAY_LEDGER_flags_are_mutually_exclusive);
    }
}

static void transfer_pending_id_rules(void **state)
{
    struct fixture *f = *state;
    struct mopay_ledger_transfer t = transfer(100, PLAIN1, PLAIN2, 1);
    t.pending_id = id_of(7);
    expect_fails(f, t, MOPAY_LEDGER_pending_id_must_be_zero);
    t.flags = MOPAY_LEDGER_PENDING;
    expect_fails(f, t, MOPAY_LEDGER_pending_id_must_be_zero);
    expect_fails(f, resolve(100, 0, MOPAY_LEDGER_POST_PENDING, 0), MOPAY_LEDGER_pending_id_must_not_be_zero);
    expect_fails(f, resolve(100, 0, MOPAY_LEDGER_VOID_PENDING, 0), MOPAY_LEDGER_pending_id_must_not_be_zero);
    expect_fails(f, resolve(100, 100, MOPAY_LEDGER_POST_PENDING, 0), MOPAY_LEDGER_pending_id_must_be_different);
    expect_fails(f, resolve(100, 100, MOPAY_LEDGER_VOID_PENDING, 0), MOPAY_LEDGER_pending_id_must_be_different);
}

static void transfer_timeout_reserved_for_pending(void **state)
{
    struct fixture *f = *state;
    struct mopay_ledger_transfer t = transfer(100, PLAIN1, PLAIN2, 1);
    t.timeout_s = 1;
    expect_fails(f, t, MOPAY_LEDGER_timeout_reserved_for_pending_transfer);
    expect_ok(f, pending(101, PLAIN1, PLAIN2, 5, 0));
    t = resolve(102, 101, MOPAY_LEDGER_POST_PENDING, 0);
    t.timeout_s = 1;
    expect_fails(f, t, MOPAY_LEDGER_timeout_reserved_for_pending_transfer);
    t.flags = MOPAY_LEDGER_VOID_PENDING;
    expect_fails(f, t, MOPAY_LEDGER_timeout_reserved_for_pending_transfer);
}

/* ---- transfers: existence ---- */

static void transfer_exists(void **state)
{
    struct fixture *f = *state;
    struct mopay_ledger_transfer t = transfer(100, PLAIN1, PLAIN2, 40);
    expect_ok(f, t);
    expect_fails(f, t, MOPAY_LEDGER_exists);
    /* existence comes before the references: the accounts are not looked at again */
    expect_fails(f, t, MOPAY_LEDGER_exists);
    struct mopay_ledger_transfer changed[9];
    for (int i = 0; i < 9; i++)
        changed[i] = t;
    changed[0].debit_account_id = id_of(LIMIT_CREDITS);
    changed[1].credit_account_id = id_of(LIMIT_DEBITS);
    changed[2].amount = 41;
    changed[3].currency = USD;
    changed[4].user_data++;
    changed[5].code++;
    changed[6].flags = MOPAY_LEDGER_PENDING;
    changed[7].flags = MOPAY_LEDGER_LINKED; /* a lone linked event: an open chain... */
    changed[8].debit_account_id = id_of(0);
    for (int i = 0; i < 9; i++) {
        if (i == 7)
            continue;
        expect_fails(f, changed[i], MOPAY_LEDGER_exists_with_different_fields);
    }
    expect_fails(f, changed[7], MOPAY_LEDGER_linked_event_chain_open);
    struct mopay_ledger_transfer p = pending(101, PLAIN1, PLAIN2, 10, 60);
    expect_ok(f, p);
    p.timeout_s = 61;
    expect_fails(f, p, MOPAY_LEDGER_exists_with_different_fields);
}

/* A post or void stored resolved is recognised whether the resubmission names the resolved fields
 * or leaves them zero, as the original did. */
static void transfer_exists_resolved(void **state)
{
    struct fixture *f = *state;
    expect_ok(f, pending(100, PLAIN1, PLAIN2, 50, 0));
    struct mopay_ledger_transfer post = resolve(101, 100, MOPAY_LEDGER_POST_PENDING, 0);
    expect_ok(f, post);
    struct mopay_id key = id_of(101);
    const struct mopay_ledger_transfer *stored = mopay_ledger_transfer_get(f->ledger, &key);
    assert_true(stored->amount == 50 && stored->currency == EUR);
    struct mopay_id payer = id_of(PLAIN1);
    assert_memory_equal(&stored->debit_account_id, &payer, 16);
    expect_fails(f, post, MOPAY_LEDGER_exists);
    struct mopay_ledger_transfer full = post;
    full.debit_account_id = id_of(PLAIN1);
    full.credit_account_id = id_of(PLAIN2);
    full.currency = EUR;
    full.amount = 50;
    expect_fails(f, full, MOPAY_LEDGER_exists);
    full.amount = 49;
    expect_fails(f, full, MOPAY_LEDGER_exists_with_different_fields);
    full.amount = 50;
    full.pending_id = id_of(102);
    expect_fails(f, full, MOPAY_LEDGER_exists_with_different_fields);
    full = post;
    full.credit_account_id = id_of(LIMIT_DEBITS);
    expect_fails(f, full, MOPAY_LEDGER_exists_with_different_fields);
    full = post;
    full.flags = MOPAY_LEDGER_VOID_PENDING;
    expect_fails(f, full, MOPAY_LEDGER_exists_with_different_fields);
}

/* Idempotent resubmission in the same batch: the second copy sees the first. */
static void transfer_exists_within_batch(void **state)
{
    struct fixture *f = *state;
    struct mopay_ledger_transfer batch[] = {
        transfer(100, PLAIN1, PLAIN2, 7), transfer(100, PLAIN1, PLAIN2, 7), transfer(100, PLAIN1, PLAIN2, 8),
        pending(101, PLAIN1, PLAIN2, 9, 0), resolve(102, 101, MOPAY_LEDGER_VOID_PENDING, 0),
        resolve(102, 101, MOPAY_LEDGER_VOID_PENDING, 9),
    };
    uint8_t results[6];
    assert_int_equal(submit(f, batch, 6, results), 3);
    expect_result(results[0], MOPAY_LEDGER_ok);
    expect_result(results[1], MOPAY_LEDGER_exists);
    expect_result(results[2], MOPAY_LEDGER_exists_with_different_fields);
    expect_result(results[3], MOPAY_LEDGER_ok);
    expect_result(results[4], MOPAY_LEDGER_ok);
    expect_result(results[5], MOPAY_LEDGER_exists);
    expect_balances(f, PLAIN1, 0, 7, 0, 0);
    expect_balances(f, PLAIN2, 0, 0, 0, 7);
}

/* ---- transfers: references ---- */

static void transfer_accounts_must_be_different(void **state)
{
    struct fixture *f = *state;
    expect_fails(f, transfer(100, PLAIN1, PLAIN1, 1), MOPAY_LEDGER_accounts_must_be_different);
    expect_fails(f, transfer(100, 0, 0, 1), MOPAY_LEDGER_accounts_must_be_different);
    expect_fails(f, pending(100, 42, 42, 0, 0), MOPAY_LEDGER_accounts_must_be_different);
}

static void transfer_account_not_found(void **state)
{
    struct fixture *f = *state;
    expect_fails(f, transfer(100, 42, PLAIN2, 1), MOPAY_LEDGER_account_not_found);
    expect_fails(f, transfer(100, PLAIN1, 42, 1), MOPAY_LEDGER_account_not_found);
    expect_fails(f, transfer(100, 0, PLAIN2, 1), MOPAY_LEDGER_account_not_found);
    expect_fails(f, pending(100, PLAIN1, 0, 0, 5), MOPAY_LEDGER_account_not_found);
}

static void transfer_currency_mismatch(void **state)
{
    struct fixture *f = *state;
    expect_fails(f, transfer(100, PLAIN1, DOLLARS, 1), MOPAY_LEDGER_currency_mismatch);
    struct mopay_ledger_transfer t = transfer(100, PLAIN1, PLAIN2, 0);
    t.currency = USD;
    expect_fails(f, t, MOPAY_LEDGER_currency_mismatch);
    t.currency = 0;
    expect_fails(f, t, MOPAY_LEDGER_currency_mismatch);
}

static void transfer_amount_must_not_be_zero(void **state)
{
    struct fixture *f = *state;
    expect_fails(f, transfer(100, PLAIN1, PLAIN2, 0), MOPAY_LEDGER_amount_must_not_be_zero);
    expect_fails(f, pending(100, PLAIN1, PLAIN2, 0, 10), MOPAY_LEDGER_amount_must_not_be_zero);
}

static void transfer_pending_not_found_or_not_pending(void **state)
{
    struct fixture *f = *state;
    expect_fails(f, resolve(100, 77, MOPAY_LEDGER_POST_PENDING, 0), MOPAY_LEDGER_pending_transfer_not_found);
    expect_fails(f, resolve(100, 77, MOPAY_LEDGER_VOID_PENDING, 0), MOPAY_LEDGER_pending_transfer_not_found);
    expect_ok(f, transfer(77, PLAIN1, PLAIN2, 3));
    expect_fails(f, resolve(100, 77, MOPAY_LEDGER_POST_PENDING, 0), MOPAY_LEDGER_pending_transfer_not_pending);
    expect_fails(f, resolve(100, 77, MOPAY_LEDGER_VOID_PENDING, 0), MOPAY_LEDGER_pending_transfer_not_pending);
    /* a post is not pending either */
    expect_ok(f, pending(78, PLAIN1, PLAIN2, 3, 0));
    expect_ok(f, resolve(79, 78, MOPAY_LEDGER_POST_PENDING, 0));
    expect_fails(f, resolve(100, 79, MOPAY_LEDGER_VOID_PENDING, 0), MOPAY_LEDGER_pending_transfer_not_pending);
}

static void transfer_pending_has_different_fields(void **state)
{
    struct fixture *f = *state;
    expect_ok(f, pending(100, PLAIN1, PLAIN2, 30, 0));
    struct mopay_ledger_transfer t = resolve(101, 100, MOPAY_LEDGER_POST_PENDING, 0);
    t.debit_account_id = id_of(PLAIN2);
    expect_fails(f, t, MOPAY_LEDGER_pending_transfer_has_different_debit_account);
    t = resolve(101, 100, MOPAY_LEDGER_VOID_PENDING, 0);
    t.credit_account_id = id_of(PLAIN1);
    expect_fails(f, t, MOPAY_LEDGER_pending_transfer_has_different_credit_account);
    t = resolve(101, 100, MOPAY_LEDGER_POST_PENDING, 0);
    t.currency = USD;
    expect_fails(f, t, MOPAY_LEDGER_pending_transfer_has_different_currency);
    t = resolve(101, 100, MOPAY_LEDGER_POST_PENDING, 31);
    expect_fails(f, t, MOPAY_LEDGER_exceeds_pending_transfer_amount);
    t = resolve(101, 100, MOPAY_LEDGER_VOID_PENDING, 29);
    expect_fails(f, t, MOPAY_LEDGER_pending_transfer_has_different_amount);
    t = resolve(101, 100, MOPAY_LEDGER_VOID_PENDING, 31);
    expect_fails(f, t, MOPAY_LEDGER_pending_transfer_has_different_amount);
    /* the matching values are accepted */
    t = resolve(101, 100, MOPAY_LEDGER_POST_PENDING, 30);
    t.debit_account_id = id_of(PLAIN1);
    t.credit_account_id = id_of(PLAIN2);
    t.currency = EUR;
    expect_ok(f, t);
}

static void transfer_pending_already_resolved(void **state)
{
    struct fixture *f = *state;
    expect_ok(f, pending(100, PLAIN1, PLAIN2, 30, 0));
    expect_ok(f, pending(101, PLAIN1, PLAIN2, 30, 0));
    expect_ok(f, resolve(102, 100, MOPAY_LEDGER_POST_PENDING, 10));
    expect_ok(f, resolve(103, 101, MOPAY_LEDGER_VOID_PENDING, 0));
    expect_fails(f, resolve(104, 100, MOPAY_LEDGER_POST_PENDING, 0), MOPAY_LEDGER_pending_transfer_already_posted);
    expect_fails(f, resolve(104, 100, MOPAY_LEDGER_VOID_PENDING, 0), MOPAY_LEDGER_pending_transfer_already_posted);
    expect_fails(f, resolve(104, 101, MOPAY_LEDGER_POST_PENDING, 0), MOPAY_LEDGER_pending_transfer_already_voided);
    expect_fails(f, resolve(104, 101, MOPAY_LEDGER_VOID_PENDING, 0), MOPAY_LEDGER_pending_transfer_already_voided);
    /* the state comes before the amount: an over-large post of a posted transfer is "posted" */
    expect_fails(f, resolve(104, 100, MOPAY_LEDGER_POST_PENDING, 99), MOPAY_LEDGER_pending_transfer_already_posted);
}

/* ---- expiry ---- */

/* Deadline = pending timestamp + timeout: a post at the deadline is too late, whether or not an
 * expiry run has voided the transfer yet; the late post changes nothing, the expiry releases. */
static void transfer_pending_expired_by_late_post(void **state)
{
    struct fixture *f = *state;
    int64_t created = f->now;
    expect_ok(f, pending(100, PLAIN1, PLAIN2, 30, 2));
    f->now = created + 2 * SECOND - 1;
    expect_ok(f, pending(101, PLAIN1, PLAIN2, 5, 0)); /* stamped 1 ns before the deadline */
    expect_balances(f, PLAIN1, 35, 0, 0, 0);
    f->now = created + 2 * SECOND;
    expect_fails(f, resolve(102, 100, MOPAY_LEDGER_POST_PENDING, 0), MOPAY_LEDGER_pending_transfer_expired);
    expect_fails(f, resolve(102, 100, MOPAY_LEDGER_VOID_PENDING, 0), MOPAY_LEDGER_pending_transfer_expired);
    assert_int_equal(state_of(f, 100), MOPAY_LEDGER_STATE_PENDING);
    expect_balances(f, PLAIN1, 35, 0, 0, 0);
    assert_int_equal(mopay_ledger_expire(f->ledger, created + 2 * SECOND), 1);
    assert_int_equal(state_of(f, 100), MOPAY_LEDGER_STATE_EXPIRED);
    expect_balances(f, PLAIN1, 5, 0, 0, 0);
    expect_balances(f, PLAIN2, 0, 0, 5, 0);
    expect_fails(f, resolve(102, 100, MOPAY_LEDGER_POST_PENDING, 0), MOPAY_LEDGER_pending_transfer_expired);
    expect_check_ok(f->ledger);
}

/* A post just before the deadline still works, and the expiry run then skips the transfer. */
static void transfer_post_just_in_time(void **state)
{
    struct fixture *f = *state;
    int64_t created = f->now;
    expect_ok(f, pending(100, PLAIN1, PLAIN2, 30, 1));
    f->now = created + SECOND - 1;
    expect_ok(f, resolve(101, 100, MOPAY_LEDGER_POST_PENDING, 0));
    assert_int_equal(mopay_ledger_expire(f->ledger, created + 10 * SECOND), 0);
    assert_int_equal(state_of(f, 100), MOPAY_LEDGER_STATE_POSTED);
    expect_balances(f, PLAIN1, 0, 30, 0, 0);
}

static void expire_by_deadline(void **state)
{
    struct fixture *f = *state;
    int64_t created = f->now;
    struct mopay_ledger_transfer batch[] = {
        pending(100, PLAIN1, PLAIN2, 1, 3), pending(101, PLAIN1, PLAIN2, 2, 1), pending(102, PLAIN1, PLAIN2, 4, 2),
        pending(103, PLAIN1, PLAIN2, 8, 0), pending(104, PLAIN1, PLAIN2, 16, 1),
    };
    uint8_t results[5];
    assert_int_equal(submit(f, batch, 5, results), 5);
    expect_balances(f, PLAIN1, 31, 0, 0, 0);
    assert_int_equal(mopay_ledger_expire(f->ledger, created + SECOND - 1), 0); /* 101 is due at +1 s + 1 ns */
    assert_int_equal(mopay_ledger_expire(f->ledger, created + SECOND + 4), 2); /* 101 and 104 */
    expect_balances(f, PLAIN1, 13, 0, 0, 0);
    expect_balances(f, PLAIN2, 0, 0, 13, 0);
    assert_int_equal(state_of(f, 101), MOPAY_LEDGER_STATE_EXPIRED);
    assert_int_equal(state_of(f, 104), MOPAY_LEDGER_STATE_EXPIRED);
    assert_int_equal(state_of(f, 102), MOPAY_LEDGER_STATE_PENDING);
    assert_int_equal(mopay_ledger_expire(f->ledger, created + SECOND + 4), 0); /* each expires once */
    assert_int_equal(mopay_ledger_expire(f->ledger, created + 100 * SECOND), 2);
    expect_balances(f, PLAIN1, 8, 0, 0, 0); /* 103 has no timeout */
    assert_int_equal(state_of(f, 103), MOPAY_LEDGER_STATE_PENDING);
    /* an expiry run moves the clock: the next event comes after it */
    expect_ok(f, transfer(105, PLAIN1, PLAIN2, 1));
    struct mopay_id key = id_of(105);
    assert_true(mopay_ledger_transfer_get(f->ledger, &key)->timestamp == created + 100 * SECOND + 1);
    expect_check_ok(f->ledger);
}

/* ---- balances ---- */

static void transfer_overflow(void **state)
{
    struct fixture *f = *state;
    expect_ok(f, transfer(100, PLAIN1, PLAIN2, UINT64_MAX));
    expect_fails(f, transfer(101, PLAIN1, LIMIT_CREDITS, 1), MOPAY_LEDGER_overflow); /* debits_posted */
    expect_fails(f, transfer(101, LIMIT_CREDITS, PLAIN2, 1), MOPAY_LEDGER_overflow); /* credits_posted */
    expect_fails(f, pending(101, PLAIN1, LIMIT_CREDITS, 1, 0), MOPAY_LEDGER_overflow); /* pending + posted */
    expect_fails(f, pending(101, LIMIT_CREDITS, PLAIN2, 1, 0), MOPAY_LEDGER_overflow);
    /* the other way round is fine, up to the same limits */
    expect_ok(f, transfer(101, PLAIN2, PLAIN1, UINT64_MAX));
    expect_balances(f, PLAIN1, 0, UINT64_MAX, 0, UINT64_MAX);
    /* pending alone (account 4 limits only its credits, account 3 only its debits) */
    expect_ok(f, pending(102, LIMIT_CREDITS, LIMIT_DEBITS, UINT64_MAX - 1, 0));
    expect_fails(f, pending(103, LIMIT_CREDITS, LIMIT_DEBITS, 2, 0), MOPAY_LEDGER_overflow);
    expect_ok(f, pending(103, LIMIT_CREDITS, LIMIT_DEBITS, 1, 0));
    /* a full post of a reservation at the top is no overflow: it only moves it */
    expect_ok(f, resolve(104, 102, MOPAY_LEDGER_POST_PENDING, 0));
    expect_balances(f, LIMIT_CREDITS, 1, UINT64_MAX - 1, 0, 0);
    expect_balances(f, LIMIT_DEBITS, 0, 0, 1, UINT64_MAX - 1);
    expect_check_ok(f->ledger);
}

/* A deadline past INT64_MAX cannot be kept. */
static void transfer_timeout_overflow(void **state)
{
    (void)state;
    struct mopay_ledger *ledger = ledger_make(2, 4);
    struct mopay_ledger_account accounts[] = {account(1, EUR, 0), account(2, EUR, 0)};
    uint8_t results[2];
    assert_int_equal(mopay_ledger_create_accounts(ledger, accounts, 2, T0, results), 2);
    struct mopay_ledger_transfer t = pending(10, 1, 2, 5, UINT32_MAX);
    int64_t late = INT64_MAX - (int64_t)UINT32_MAX * SECOND + 1;
    assert_int_equal(mopay_ledger_create_transfers(ledger, &t, 1, late, results), 0);
    expect_result(results[0], MOPAY_LEDGER_overflow);
    t.timeout_s = 1;
    assert_int_equal(mopay_ledger_create_transfers(ledger, &t, 1, late, results), 1);
    mopay_ledger_free(ledger);
}

static void transfer_exceeds_credits(void **state)
{
    struct fixture *f = *state;
    expect_fails(f, transfer(100, LIMIT_DEBITS, PLAIN2, 1), MOPAY_LEDGER_exceeds_credits);
    fund_limited(f, 101, 100);
    expect_fails(f, transfer(100, LIMIT_DEBITS, PLAIN2, 101), MOPAY_LEDGER_exceeds_credits);
    expect_ok(f, transfer(100, LIMIT_DEBITS, PLAIN2, 100));
    expect_fails(f, transfer(102, LIMIT_DEBITS, PLAIN2, 1), MOPAY_LEDGER_exceeds_credits);
    /* crediting an account that limits only its debits is never refused */
    expect_ok(f, transfer(103, PLAIN1, LIMIT_DEBITS, 5));
    expect_ok(f, transfer(104, LIMIT_DEBITS, PLAIN2, 5));
    /* overflow (of account 1's credits) is checked before the limit (of account 3's debits) */
    expect_ok(f, transfer(105, PLAIN2, PLAIN1, UINT64_MAX - 200));
    expect_fails(f, transfer(106, LIMIT_DEBITS, PLAIN1, 1000), MOPAY_LEDGER_overflow);
    expect_fails(f, transfer(106, LIMIT_DEBITS, PLAIN1, 100), MOPAY_LEDGER_exceeds_credits);
    expect_check_ok(f->ledger);
}

static void transfer_exceeds_debits(void **state)
{
    struct fixture *f = *state;
    expect_fails(f, transfer(100, PLAIN1, LIMIT_CREDITS, 1), MOPAY_LEDGER_exceeds_debits);
    expect_ok(f, transfer(101, LIMIT_CREDITS, PLAIN1, 60));
    expect_fails(f, transfer(100, PLAIN1, LIMIT_CREDITS, 61), MOPAY_LEDGER_exceeds_debits);
    expect_fails(f, pending(100, PLAIN2, LIMIT_CREDITS, 61, 0), MOPAY_LEDGER_exceeds_debits);
    expect_ok(f, pending(100, PLAIN2, LIMIT_CREDITS, 60, 0));
    expect_fails(f, transfer(102, PLAIN1, LIMIT_CREDITS, 1), MOPAY_LEDGER_exceeds_debits);
    /* a debit account limiting its debits is checked first */
    expect_fails(f, transfer(102, LIMIT_DEBITS, LIMIT_CREDITS, 1), MOPAY_LEDGER_exceeds_credits);
    expect_ok(f, resolve(103, 100, MOPAY_LEDGER_POST_PENDING, 0));
    expect_balances(f, LIMIT_CREDITS, 0, 60, 0, 60);
    expect_check_ok(f->ledger);
}

/* Pending amounts count against the limit; posting them does not count them again; voiding and
 * partial posting give back what was not posted. */
static void balance_flags_under_reservations(void **state)
{
    struct fixture *f = *state;
    fund_limited(f, 100, 100);
    expect_ok(f, pending(101, LIMIT_DEBITS, PLAIN2, 70, 0));
    expect_fails(f, pending(102, LIMIT_DEBITS, PLAIN2, 31, 0), MOPAY_LEDGER_exceeds_credits);
    expect_fails(f, transfer(102, LIMIT_DEBITS, PLAIN2, 31), MOPAY_LEDGER_exceeds_credits);
    expect_ok(f, transfer(102, LIMIT_DEBITS, PLAIN2, 30));
    expect_balances(f, LIMIT_DEBITS, 70, 30, 0, 100);
    expect_ok(f, resolve(103, 101, MOPAY_LEDGER_POST_PENDING, 0)); /* at the limit: no double count */
    expect_balances(f, LIMIT_DEBITS, 0, 100, 0, 100);
    fund_limited(f, 104, 50);
    expect_ok(f, pending(105, LIMIT_DEBITS, PLAIN2, 50, 0));
    expect_ok(f, resolve(106, 105, MOPAY_LEDGER_POST_PENDING, 20)); /* posts 20, frees 30 */
    expect_balances(f, LIMIT_DEBITS, 0, 120, 0, 150);
    expect_ok(f, pending(107, LIMIT_DEBITS, PLAIN2, 30, 0));
    expect_fails(f, transfer(108, LIMIT_DEBITS, PLAIN2, 1), MOPAY_LEDGER_exceeds_credits);
    expect_ok(f, resolve(108, 107, MOPAY_LEDGER_VOID_PENDING, 30));
    expect_ok(f, transfer(109, LIMIT_DEBITS, PLAIN2, 30));
    expect_balances(f, LIMIT_DEBITS, 0, 150, 0, 150);
    /* the credit side: a pending credit counts against credits <= debits */
    expect_ok(f, transfer(110, LIMIT_CREDITS, PLAIN1, 40));
    expect_ok(f, pending(111, PLAIN1, LIMIT_CREDITS, 40, 0));
    expect_fails(f, pending(112, PLAIN1, LIMIT_CREDITS, 1, 0), MOPAY_LEDGER_exceeds_debits);
    expect_ok(f, resolve(112, 111, MOPAY_LEDGER_POST_PENDING, 0));
    expect_balances(f, LIMIT_CREDITS, 0, 40, 0, 40);
    expect_check_ok(f->ledger);
}

/* ---- two-phase flows ---- */

static void two_phase_post_full_and_partial(void **state)
{
    struct fixture *f = *state;
    expect_ok(f, pending(100, PLAIN1, PLAIN2, 80, 0));
    expect_ok(f, pending(101, PLAIN1, PLAIN2, 50, 0));
    expect_balances(f, PLAIN1, 130, 0, 0, 0);
    expect_balances(f, PLAIN2, 0, 0, 130, 0);
    expect_check_ok(f->ledger);
    expect_ok(f, resolve(102, 100, MOPAY_LEDGER_POST_PENDING, 0)); /* 0: the full amount */
    expect_balances(f, PLAIN1, 50, 80, 0, 0);
    expect_balances(f, PLAIN2, 0, 0, 50, 80);
    assert_int_equal(state_of(f, 100), MOPAY_LEDGER_STATE_POSTED);
    expect_ok(f, resolve(103, 101, MOPAY_LEDGER_POST_PENDING, 35));
    expect_balances(f, PLAIN1, 0, 115, 0, 0);
    expect_balances(f, PLAIN2, 0, 0, 0, 115);
    assert_int_equal(state_of(f, 101), MOPAY_LEDGER_STATE_POSTED);
    assert_int_equal(state_of(f, 103), MOPAY_LEDGER_NOT_PENDING);
    struct mopay_id key = id_of(103);
    const struct mopay_ledger_transfer *post = mopay_ledger_transfer_get(f->ledger, &key);
    assert_true(post->amount == 35 && post->currency == EUR);
    struct mopay_id payee = id_of(PLAIN2);
    assert_memory_equal(&post->credit_account_id, &payee, 16);
    expect_check_ok(f->ledger);
}

static void two_phase_void(void **state)
{
    struct fixture *f = *state;
    expect_ok(f, pending(100, PLAIN1, PLAIN2, 80, 0));
    expect_ok(f, pending(101, PLAIN1, PLAIN2, 20, 0));
    expect_ok(f, resolve(102, 100, MOPAY_LEDGER_VOID_PENDING, 0));
    expect_ok(f, resolve(103, 101, MOPAY_LEDGER_VOID_PENDING, 20));
    expect_balances(f, PLAIN1, 0, 0, 0, 0);
    expect_balances(f, PLAIN2, 0, 0, 0, 0);
    assert_int_equal(state_of(f, 100), MOPAY_LEDGER_STATE_VOIDED);
    struct mopay_id key = id_of(102);
    assert_true(mopay_ledger_transfer_get(f->ledger, &key)->amount == 80);
    expect_check_ok(f->ledger);
}

static void transfers_full(void **state)
{
    (void)state;
    struct mopay_ledger *ledger = ledger_make(2, 3);
    struct mopay_ledger_account accounts[] = {account(1, EUR, 0), account(2, EUR, 0)};
    uint8_t results[5];
    assert_int_equal(mopay_ledger_create_accounts(ledger, accounts, 2, T0, results), 2);
    struct mopay_ledger_transfer batch[] = {
        transfer(10, 1, 2, 1), pending(11, 1, 2, 1, 0), transfer(12, 1, 2, 1), transfer(13, 1, 2, 1),
        transfer(10, 1, 2, 1),
    };
    assert_int_equal(mopay_ledger_create_transfers(ledger, batch, 5, T0 + 10, results), 3);
    expect_result(results[3], MOPAY_LEDGER_transfers_full);
    expect_result(results[4], MOPAY_LEDGER_exists);
    /* a post needs a record of its own too; the refusal changes nothing */
    uint8_t before[32], after[32];
    mopay_ledger_digest(ledger, before);
    struct mopay_ledger_transfer post = resolve(14, 11, MOPAY_LEDGER_POST_PENDING, 0);
    assert_int_equal(mopay_ledger_create_transfers(ledger, &post, 1, T0 + 20, results), 0);
    expect_result(results[0], MOPAY_LEDGER_transfers_full);
    mopay_ledger_digest(ledger, after);
    assert_memory_equal(before, after, 32);
    struct mopay_id key = id_of(11);
    assert_int_equal(mopay_ledger_transfer_state(ledger, mopay_ledger_transfer_get(ledger, &key)),
                     MOPAY_LEDGER_STATE_PENDING);
    /* validation comes before it */
    struct mopay_ledger_transfer zero = transfer(0, 1, 2, 1);
    assert_int_equal(mopay_ledger_create_transfers(ledger, &zero, 1, T0 + 30, results), 0);
    expect_result(results[0], MOPAY_LEDGER_id_must_not_be_zero);
    expect_check_ok(ledger);
    mopay_ledger_free(ledger);
}

/* ---- linked chains ---- */

static struct mopay_ledger_transfer linked(struct mopay_ledger_transfer t)
{
    t.flags |= MOPAY_LEDGER_LINKED;
    return t;
}

static void chain_succeeds_whole(void **state)
{
    struct fixture *f = *state;
    /* later events see earlier ones: the funding lets account 3 pay, the pending can be posted */
    struct mopay_ledger_transfer batch[] = {
        linked(transfer(100, PLAIN1, LIMIT_DEBITS, 50)), linked(pending(101, LIMIT_DEBITS, PLAIN2, 50, 0)),
        resolve(102, 101, MOPAY_LEDGER_POST_PENDING, 20), transfer(103, PLAIN1, PLAIN2, 1),
    };
    uint8_t results[4];
    assert_int_equal(submit(f, batch, 4, results), 4);
    for (int i = 0; i < 4; i++)
        expect_result(results[i], MOPAY_LEDGER_ok);
    expect_balances(f, LIMIT_DEBITS, 0, 20, 0, 50);
    expect_check_ok(f->ledger);
}

/* A failure in the middle: the failing event keeps its result, the others of its chain get
 * linked_event_failed, and the chain's effects, a pending created and posted in it included, are
 * gone; events around the chain are unaffected. */
static void chain_failure_undoes_everything(void **state)
{
    struct fixture *f = *state;
    expect_ok(f, pending(90, PLAIN1, PLAIN2, 10, 5));
    uint8_t before[32], after[32];
    mopay_ledger_digest(f->ledger, before);
    struct mopay_ledger_transfer batch[] = {
        linked(transfer(100, PLAIN1, LIMIT_DEBITS, 50)),
        linked(pending(101, LIMIT_DEBITS, PLAIN2, 50, 10)),
        linked(resolve(102, 101, MOPAY_LEDGER_POST_PENDING, 20)),
        linked(resolve(103, 90, MOPAY_LEDGER_VOID_PENDING, 0)),
        linked(transfer(104, LIMIT_DEBITS, PLAIN2, 31)), /* only 30 left: exceeds_credits */
        transfer(105, PLAIN1, PLAIN2, 1),
    };
    uint8_t results[6];
    assert_int_equal(submit(f, batch, 6, results), 0);
    for (int i = 0; i < 6; i++)
        expect_result(results[i], i == 4 ? MOPAY_LEDGER_exceeds_credits : MOPAY_LEDGER_linked_event_failed);
    mopay_ledger_digest(f->ledger, after);
    assert_memory_equal(before, after, 32);
    assert_int_equal(state_of(f, 90), MOPAY_LEDGER_STATE_PENDING);
    for (uint64_t id = 100; id <= 105; id++) {
        struct mopay_id key = id_of(id);
        assert_null(mopay_ledger_transfer_get(f->ledger, &key));
    }
    /* the undone ids are free again: the same chain, now within the limit, goes through */
    batch[4] = transfer(104, LIMIT_DEBITS, PLAIN2, 30);
    assert_int_equal(submit(f, batch, 6, results), 6);
    expect_balances(f, LIMIT_DEBITS, 0, 50, 0, 50);
    expect_balances(f, PLAIN1, 0, 51, 0, 0);
    expect_ok(f, pending(106, PLAIN1, PLAIN2, 3, 1));
    expect_check_ok(f->ledger);
}

/* Chains next to each other: only the failing one is undone. `exists` fails a chain too. */
static void chain_failures_stay_in_their_chain(void **state)
{
    struct fixture *f = *state;
    expect_ok(f, transfer(90, PLAIN1, PLAIN2, 1));
    struct mopay_ledger_transfer batch[] = {
        linked(transfer(100, PLAIN1, PLAIN2, 2)), transfer(101, PLAIN1, PLAIN2, 3),
        linked(transfer(102, PLAIN1, PLAIN2, 4)), transfer(90, PLAIN1, PLAIN2, 1),
        transfer(103, PLAIN1, PLAIN2, 5),
        linked(transfer(104, PLAIN1, 42, 6)), transfer(105, PLAIN1, PLAIN2, 7),
    };
    uint8_t results[7];
    assert_int_equal(submit(f, batch, 7, results), 3);
    enum mopay_ledger_result expected[] = {
        MOPAY_LEDGER_ok, MOPAY_LEDGER_ok, MOPAY_LEDGER_linked_event_failed, MOPAY_LEDGER_exists,
        MOPAY_LEDGER_ok, MOPAY_LEDGER_account_not_found, MOPAY_LEDGER_linked_event_failed,
    };
    for (int i = 0; i < 7; i++)
        expect_result(results[i], expected[i]);
    expect_balances(f, PLAIN1, 0, 1 + 2 + 3 + 5, 0, 0);
    expect_check_ok(f->ledger);
}

/* The batch ends inside a chain: that chain is refused, every event of it; a failing event inside
 * it is not even evaluated. Earlier chains stand. */
static void chain_open_at_batch_end(void **state)
{
    struct fixture *f = *state;
    struct mopay_ledger_transfer batch[] = {
        linked(transfer(100, PLAIN1, PLAIN2, 2)), transfer(101, PLAIN1, PLAIN2, 3),
        linked(transfer(102, PLAIN1, PLAIN2, 4)), linked(transfer(0, PLAIN1, PLAIN2, 5)),
        linked(transfer(103, PLAIN1, PLAIN2, 6)),
    };
    uint8_t results[5];
    int64_t at = f->now;
    assert_int_equal(submit(f, batch, 5, results), 2);
    for (int i = 0; i < 5; i++)
        expect_result(results[i], i < 2 ? MOPAY_LEDGER_ok : MOPAY_LEDGER_linked_event_chain_open);
    expect_balances(f, PLAIN1, 0, 5, 0, 0);
    /* the refused events still took their timestamps */
    f->now = at;
    expect_ok(f, transfer(104, PLAIN1, PLAIN2, 1));
    struct mopay_id key = id_of(104);
    assert_true(mopay_ledger_transfer_get(f->ledger, &key)->timestamp == at + 5);
    uint8_t before[32], after[32];
    mopay_ledger_digest(f->ledger, before);
    struct mopay_ledger_transfer lone = linked(transfer(105, PLAIN1, PLAIN2, 1));
    expect_result(submit_one(f, lone), MOPAY_LEDGER_linked_event_chain_open);
    mopay_ledger_digest(f->ledger, after);
    assert_memory_equal(before, after, 32);
}

/* A failed linked event's pending does not expire later; a surviving one does. */
static void chain_undo_keeps_expiry_exact(void **state)
{
    struct fixture *f = *state;
    int64_t created = f->now;
    struct mopay_ledger_transfer batch[] = {
        linked(pending(100, PLAIN1, PLAIN2, 10, 1)), transfer(101, PLAIN1, 42, 1),
        pending(102, PLAIN1, PLAIN2, 20, 1),
    };
    uint8_t results[3];
    assert_int_equal(submit(f, batch, 3, results), 1);
    /* the undone pending 100 never entered the expiry queue: only 102 and 103 are due */
    expect_ok(f, pending(103, PLAIN1, PLAIN2, 40, 1));
    assert_int_equal(mopay_ledger_expire(f->ledger, created + 5 * SECOND), 2);
    expect_balances(f, PLAIN1, 0, 0, 0, 0);
    expect_check_ok(f->ledger);
}

/* ---- check ---- */

static void check_sees_broken_state(void **state)
{
    struct fixture *f = *state;
    expect_ok(f, transfer(100, PLAIN1, PLAIN2, 5));
    static struct mopay_ledger_check check;
    mopay_ledger_check(f->ledger, &check);
    assert_true(check.ok);
    assert_int_equal(check.currency_count, 2);
    assert_int_equal(check.currencies[0].currency, EUR);
    assert_int_equal(check.currencies[0].accounts, 4);
    assert_true(check.currencies[0].debits_posted == 5 && check.currencies[0].credits_posted == 5);
    /* tamper through the lookup pointer: the check must notice, then agree again once restored */
    struct mopay_id key = id_of(LIMIT_DEBITS);
    struct mopay_ledger_account *a = (struct mopay_ledger_account *)mopay_ledger_account_get(f->ledger, &key);
    a->debits_posted = 1;
    mopay_ledger_check(f->ledger, &check);
    assert_false(check.ok);
    assert_int_equal(check.accounts_breaking_flags, 1);
    assert_memory_equal(&check.first_account_breaking_flags, &key, 16);
    a->debits_posted = 0;
    a->credits_pending = 3;
    mopay_ledger_check(f->ledger, &check);
    assert_false(check.ok);
    assert_int_equal(check.accounts_breaking_flags, 0);
    a->credits_pending = 0;
    expect_check_ok(f->ledger);
}

/* ---- randomized ---- */

#define RANDOM_ACCOUNTS 24
#define RANDOM_EVENTS_MAX 60000

struct rng {
    uint64_t state;
};

static uint64_t rng_next(struct rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t rng_below(struct rng *r, uint64_t n)
{
    return rng_next(r) % n;
}

/* A log of events made without looking at any ledger, so it can be replayed anywhere. */
struct event_log {
    struct rng rng;
    uint64_t next_id;
    struct mopay_ledger_account accounts[RANDOM_ACCOUNTS];
    struct mopay_ledger_transfer events[RANDOM_EVENTS_MAX];
    size_t count;
};

static uint64_t random_amount(struct rng *r)
{
    uint64_t roll = rng_below(r, 100);
    if (roll < 85)
        return 1 + rng_below(r, 1000);
    if (roll < 93)
        return 1 + rng_below(r, 1000000000000u);
    if (roll < 97)
        return UINT64_MAX / 2 + rng_below(r, 3);
    return UINT64_MAX - rng_below(r, 3);
}

static void log_accounts(struct event_log *log)
{
    static const uint16_t flag_choices[] = {0, 0, D, C};
    for (uint64_t i = 0; i < RANDOM_ACCOUNTS; i++) {
        uint16_t currency = rng_below(&log->rng, 4) == 0 ? USD : EUR;
        log->accounts[i] = account(i + 1, currency, flag_choices[rng_below(&log->rng, 4)]);
    }
}

/* An earlier event with `flag` (any flag when 0); NULL when a few tries find none. */
static const struct mopay_ledger_transfer *log_pick(struct event_log *log, uint16_t flag)
{
    for (int tries = 0; tries < 8 && log->count > 0; tries++) {
        const struct mopay_ledger_transfer *t = &log->events[rng_below(&log->rng, log->count)];
        if (flag == 0 || (t->flags & flag))
            return t;
    }
    return NULL;
}

static void log_plain_or_pending(struct event_log *log, struct mopay_ledger_transfer *t, bool is_pending)
{
    struct rng *r = &log->rng;
    uint64_t debit = 1 + rng_below(r, RANDOM_ACCOUNTS), credit = 1 + rng_below(r, RANDOM_ACCOUNTS);
    if (rng_below(r, 50) == 0)
        credit = RANDOM_ACCOUNTS + 1; /* missing */
    *t = transfer(log->next_id++, debit, credit, random_amount(r));
    t->currency = log->accounts[debit - 1].currency;
    if (rng_below(r, 50) == 0)
        t->amount = 0;
    if (is_pending) {
        t->flags = MOPAY_LEDGER_PENDING;
        t->timeout_s = (uint32_t)rng_below(r, 4);
    }
}

static void log_resolve(struct event_log *log, struct mopay_ledger_transfer *t, uint16_t flag)
{
    struct rng *r = &log->rng;
    const struct mopay_ledger_transfer *p = log_pick(log, MOPAY_LEDGER_PENDING);
    *t = resolve(log->next_id++, p != NULL ? 0 : 1, flag, 0);
    if (p == NULL)
        return;
    t->pending_id = p->id;
    uint64_t roll = rng_below(r, 10);
    if (roll < 2)
        t->amount = p->amount;
    else if (roll < 4 && flag == MOPAY_LEDGER_POST_PENDING)
        t->amount = 1 + rng_below(r, p->amount > 0 ? p->amount : 1);
    else if (roll < 5)
        t->amount = p->amount + 1;
    if (rng_below(r, 4) == 0) {
        t->debit_account_id = p->debit_account_id;
        t->credit_account_id = p->credit_account_id;
        t->currency = p->currency;
    }
    if (rng_below(r, 40) == 0)
        t->credit_account_id = id_of(1 + rng_below(r, RANDOM_ACCOUNTS));
}

/* Invalid in one way or another. */
static void log_invalid(struct event_log *log, struct mopay_ledger_transfer *t)
{
    struct rng *r = &log->rng;
    *t = transfer(log->next_id++, 1, 2, 1);
    switch (rng_below(r, 5)) {
    case 0: t->id = id_of(0); break;
    case 1: t->flags = MOPAY_LEDGER_PENDING | MOPAY_LEDGER_VOID_PENDING; break;
    case 2: t->pending_id = id_of(1); break;
    case 3: t->timeout_s = 9; break;
    default: t->flags = 0x40; break;
    }
}

static void log_event(struct event_log *log)
{
    assert_true(log->count < RANDOM_EVENTS_MAX);
    struct mopay_ledger_transfer *t = &log->events[log->count];
    uint64_t roll = rng_below(&log->rng, 100);
    const struct mopay_ledger_transfer *again = roll >= 86 && roll < 94 ? log_pick(log, 0) : NULL;
    if (roll < 40)
        log_plain_or_pending(log, t, false);
    else if (roll < 64)
        log_plain_or_pending(log, t, true);
    else if (roll < 76)
        log_resolve(log, t, MOPAY_LEDGER_POST_PENDING);
    else if (roll < 86)
        log_resolve(log, t, MOPAY_LEDGER_VOID_PENDING);
    else if (again != NULL)
        *t = *again, t->user_data += rng_below(&log->rng, 4) == 0;
    else
        log_invalid(log, t);
    t->flags &= (uint16_t)~MOPAY_LEDGER_LINKED;
    if (rng_below(&log->rng, 4) == 0)
        t->flags |= MOPAY_LEDGER_LINKED;
    log->count++;
}

/* Every account's balances, recomputed from the stored transfers of `ids`. */
static void expect_balances_recomputed(struct mopay_ledger *ledger, const struct mopay_id *ids, size_t count)
{
    unsigned __int128 sums[RANDOM_ACCOUNTS + 1][4];
    memset(sums, 0, sizeof sums);
    int64_t last = 0;
    for (size_t i = 0; i < count; i++) {
        const struct mopay_ledger_transfer *t = mopay_ledger_transfer_get(ledger, &ids[i]);
        assert_non_null(t);
        assert_true(t->timestamp > last); /* creation order is timestamp order */
        last = t->timestamp;
        size_t debit = t->debit_account_id.bytes[15], credit = t->credit_account_id.bytes[15];
        assert_true(debit >= 1 && debit <= RANDOM_ACCOUNTS && credit >= 1 && credit <= RANDOM_ACCOUNTS);
        if (t->flags & MOPAY_LEDGER_PENDING) {
            if (mopay_ledger_transfer_state(ledger, t) == MOPAY_LEDGER_STATE_PENDING)
                sums[debit][0] += t->amount, sums[credit][2] += t->amount;
        } else if (!(t->flags & MOPAY_LEDGER_VOID_PENDING)) {
            sums[debit][1] += t->amount, sums[credit][3] += t->amount;
        }
    }
    for (uint64_t n = 1; n <= RANDOM_ACCOUNTS; n++) {
        struct mopay_id key = id_of(n);
        const struct mopay_ledger_account *a = mopay_ledger_account_get(ledger, &key);
        assert_true(a->debits_pending == sums[n][0] && a->debits_posted == sums[n][1]);
        assert_true(a->credits_pending == sums[n][2] && a->credits_posted == sums[n][3]);
    }
}

/* 1,000 batches of 1..48 events, the clock moving 0..1.5 s between them, expiry runs now and then; after
 * every batch the invariants hold and every balance is what the stored transfers say. */
static void randomized_batches(void **state)
{
    (void)state;
    static struct event_log log;
    static struct mopay_id ok_ids[RANDOM_EVENTS_MAX];
    size_t ok_count = 0;
    struct mopay_ledger *ledger = ledger_make(RANDOM_ACCOUNTS, RANDOM_EVENTS_MAX);
    memset(&log, 0, sizeof log);
    log.rng.state = 0x6d6f706179;
    log.next_id = 1000;
    log_accounts(&log);
    uint8_t results[48];
    assert_int_equal(mopay_ledger_create_accounts(ledger, log.accounts, RANDOM_ACCOUNTS, T0, results),
                     RANDOM_ACCOUNTS);
    int64_t now = T0;
    size_t ok_total = 0, expired_total = 0, counts[64] = {0};
    for (int batch = 0; batch < 1000; batch++) {
        size_t start = log.count, size = 1 + rng_below(&log.rng, 48);
        for (size_t i = 0; i < size; i++)
            log_event(&log);
        now += (int64_t)rng_below(&log.rng, 1500) * 1000000;
        if (rng_below(&log.rng, 3) == 0)
            expired_total += mopay_ledger_expire(ledger, now);
        size_t ok = mopay_ledger_create_transfers(ledger, &log.events[start], size, now, results);
        ok_total += ok;
        for (size_t i = 0; i < size; i++) {
            counts[results[i] & 63]++;
            if (results[i] == MOPAY_LEDGER_ok)
                ok_ids[ok_count++] = log.events[start + i].id;
        }
        assert_int_equal(ok_count, ok_total);
        assert_int_equal(mopay_ledger_transfer_count(ledger), ok_count);
        expect_check_ok(ledger);
        expect_balances_recomputed(ledger, ok_ids, ok_count);
    }
    /* the mix reached the interesting outcomes */
    enum mopay_ledger_result seen[] = {
        MOPAY_LEDGER_ok, MOPAY_LEDGER_linked_event_failed, MOPAY_LEDGER_linked_event_chain_open,
        MOPAY_LEDGER_exists, MOPAY_LEDGER_exists_with_different_fields, MOPAY_LEDGER_overflow,
        MOPAY_LEDGER_exceeds_credits, MOPAY_LEDGER_exceeds_debits, MOPAY_LEDGER_pending_transfer_already_posted,
        MOPAY_LEDGER_pending_transfer_expired, MOPAY_LEDGER_currency_mismatch,
    };
    for (size_t i = 0; i < sizeof seen / sizeof seen[0]; i++)
        if (counts[seen[i]] == 0)
            fail_msg("no event ended %s", mopay_ledger_result_name(seen[i]));
    assert_true(expired_total > 0);
    mopay_ledger_free(ledger);
}

/* ---- determinism ---- */

#define SEGMENTS_MAX 300

/* A log cut into segments: each segment's events are stamped from its timestamp on, 1 ns apart,
 * with an expiry run just before it. */
struct segmented_log {
    struct event_log log;
    size_t starts[SEGMENTS_MAX + 1];
    int64_t timestamps[SEGMENTS_MAX];
    size_t segments;
};

static void segmented_log_make(struct segmented_log *s, uint64_t seed, size_t segments)
{
    memset(s, 0, sizeof *s);
    s->log.rng.state = seed;
    s->log.next_id = 1000;
    log_accounts(&s->log);
    int64_t at = T0 + SECOND;
    for (size_t j = 0; j < segments; j++) {
        s->starts[j] = s->log.count;
        s->timestamps[j] = at;
        size_t size = 1 + rng_below(&s->log.rng, 48);
        for (size_t i = 0; i < size; i++)
            log_event(&s->log);
        at += (int64_t)size + 1 + (int64_t)rng_below(&s->log.rng, 1500) * 1000000;
    }
    s->starts[segments] = s->log.count;
    s->segments = segments;
}

/* Applies the log, one batch per segment, or (split) in smaller batches cut at random chain
 * boundaries, each stamped with its first event's timestamp. */
static struct mopay_ledger *segmented_log_apply(const struct segmented_log *s, bool split, uint64_t seed,
                                                uint8_t *results)
{
    struct mopay_ledger *ledger = ledger_make(RANDOM_ACCOUNTS, RANDOM_EVENTS_MAX);
    assert_int_equal(mopay_ledger_create_accounts(ledger, s->log.accounts, RANDOM_ACCOUNTS, T0, results),
                     RANDOM_ACCOUNTS);
    struct rng cuts = {seed};
    for (size_t j = 0; j < s->segments; j++) {
        mopay_ledger_expire(ledger, s->timestamps[j] - 1);
        size_t start = s->starts[j], end = s->starts[j + 1];
        for (size_t from = start; from < end;) {
            size_t to = from + 1;
            while (split && to < end && ((s->log.events[to - 1].flags & MOPAY_LEDGER_LINKED) || rng_below(&cuts, 2)))
                to++;
            if (!split)
                to = end;
            mopay_ledger_create_transfers(ledger, &s->log.events[from], to - from,
                                          s->timestamps[j] + (int64_t)(from - start), &results[from]);
            from = to;
        }
    }
    expect_check_ok(ledger);
    return ledger;
}

static void determinism_same_log_same_digest(void **state)
{
    (void)state;
    static struct segmented_log s;
    static uint8_t results_a[RANDOM_EVENTS_MAX], results_b[RANDOM_EVENTS_MAX], results_c[RANDOM_EVENTS_MAX];
    segmented_log_make(&s, 42, SEGMENTS_MAX);
    struct mopay_ledger *a = segmented_log_apply(&s, false, 0, results_a);
    struct mopay_ledger *b = segmented_log_apply(&s, false, 0, results_b);
    struct mopay_ledger *c = segmented_log_apply(&s, true, 7, results_c);
    uint8_t digest_a[32], digest_b[32], digest_c[32];
    mopay_ledger_digest(a, digest_a);
    mopay_ledger_digest(b, digest_b);
    mopay_ledger_digest(c, digest_c);
    assert_memory_equal(digest_a, digest_b, 32);
    assert_memory_equal(digest_a, digest_c, 32);
    assert_memory_equal(results_a, results_b, s.log.count);
    assert_memory_equal(results_a, results_c, s.log.count);
    assert_true(mopay_ledger_transfer_count(a) > 1000);
    /* and the digest does see a difference: one balance off by one */
    struct mopay_id key = id_of(1);
    struct mopay_ledger_account *tampered = (struct mopay_ledger_account *)mopay_ledger_account_get(b, &key);
    tampered->credits_posted++;
    mopay_ledger_digest(b, digest_b);
    assert_memory_not_equal(digest_a, digest_b, 32);
    tampered->credits_posted--;
    mopay_ledger_digest(b, digest_b);
    assert_memory_equal(digest_a, digest_b, 32);
    mopay_ledger_free(a);
    mopay_ledger_free(b);
    mopay_ledger_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(result_and_kind_names),
        cmocka_unit_test_setup_teardown(account_created_as_given, setup, teardown),
        cmocka_unit_test_setup_teardown(account_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(account_exists, setup, teardown),
        cmocka_unit_test(accounts_full),
        cmocka_unit_test(bytes_per_account),
        cmocka_unit_test_setup_teardown(transfer_plain_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(transfer_id_must_not_be_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(transfer_flags_are_mutually_exclusive, setup, teardown),
        cmocka_unit_test_setup_teardown(transfer_pending_id_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(transfer_timeout_reserved_for_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(transfer_exists, setup, teardown),
        cmocka_unit_test_setup_teardown(transfer_exists_resolved, setup, teardown),
        cmocka_unit_test_setup_teardown(transfer_exists_within_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(transfer_accounts_must_be_different, setup, teardown),
        cmocka_unit_test_setup_teardown(transfer_account_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(transfer_currency_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(transfer_amount_must_not_be_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(transfer_pending_not_found_or_not_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(transfer_pending_has_different_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(transfer_pending_already_resolved, setup, teardown),
        cmocka_unit_test_setup_teardown(transfer_pending_expired_by_late_post, setup, teardown),
        cmocka_unit_test_setup_teardown(transfer_post_just_in_time, setup, teardown),
        cmocka_unit_test_setup_teardown(expire_by_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(transfer_overflow, setup, teardown),
        cmocka_unit_test(transfer_timeout_overflow),
        cmocka_unit_test_setup_teardown(transfer_exceeds_credits, setup, teardown),
        cmocka_unit_test_setup_teardown(transfer_exceeds_debits, setup, teardown),
        cmocka_unit_test_setup_teardown(balance_flags_under_reservations, setup, teardown),
        cmocka_unit_test_setup_teardown(two_phase_post_full_and_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(two_phase_void, setup, teardown),
        cmocka_unit_test(transfers_full),
        cmocka_unit_test_setup_teardown(chain_succeeds_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(chain_failure_undoes_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(chain_failures_stay_in_their_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(chain_open_at_batch_end, setup, teardown),
        cmocka_unit_test_setup_teardown(chain_undo_keeps_expiry_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(check_sees_broken_state, setup, teardown),
        cmocka_unit_test(randomized_batches),
        cmocka_unit_test(determinism_same_log_same_digest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
