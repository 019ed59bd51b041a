/* Connector: the simulator's documented table, its late answers, its bound, its determinism. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "mopay/connector.h"
#include "mopay/limits.h"

#define NS_PER_S 1000000000LL
#define T0_NS (1795000000LL * NS_PER_S) /* a sequencer time in 2026 */

static struct mopay_connector_request request_new(enum mopay_connector_op op, const char *reference,
                                                  const char *card_number, const char *bank_account,
                                                  int64_t now_ns)
{
    struct mopay_connector_request request = {
        .op = op, .card_number = card_number, .bank_account = bank_account,
        .amount_minor = 1250, .currency = "CNY", .now_ns = now_ns,
    };
    snprintf(request.reference, sizeof request.reference, "%s", reference);
    return request;
}

static struct mopay_connector_result submit(struct mopay_connector *connector, enum mopay_connector_op op,
                                            const char *reference, const char *card_number,
                                            const char *bank_account, int64_t now_ns)
{
    struct mopay_connector_request request = request_new(op, reference, card_number, bank_account, now_ns);
    struct mopay_connector_result result;
    memset(&result, 0xab, sizeof result); /* every field is written */
    connector->submit(connector, &request, &result);
    return result;
}

struct expect {
    const char *number;
    enum mopay_connector_outcome charge;
    const char *charge_decline;
    enum mopay_connector_outcome payout;
    const char *payout_decline;
};

static void expect_table(bool card, const struct expect *rows, size_t count)
{
    struct mopay_connector *sim = mopay_connector_sim_new(NULL);
    assert_non_null(sim);
    assert_string_equal(sim->name, "sim");
    for (size_t i = 0; i < count; i++) {
        const char *card_number = card ? rows[i].number : NULL;
        const char *bank_account = card ? NULL : rows[i].number;
        struct mopay_connector_result r =
            submit(sim, MOPAY_CONNECTOR_CHARGE, "txn_charge", card_number, bank_account, T0_NS);
        assert_int_equal(r.outcome, rows[i].charge);
        assert_string_equal(r.decline_code, rows[i].charge_decline);
        assert_memory_equal(r.network_reference, "sim_", 4);
        r = submit(sim, MOPAY_CONNECTOR_PAYOUT, "txn_payout", card_number, bank_account, T0_NS);
        assert_int_equal(r.outcome, rows[i].payout);
        assert_string_equal(r.decline_code, rows[i].payout_decline);
    }
    sim->free(sim);
}

#define OK MOPAY_CONNECTOR_APPROVED
#define NO MOPAY_CONNECTOR_DECLINED
#define LATER MOPAY_CONNECTOR_PENDING

static void card_numbers(void **state)
{
    (void)state;
    const struct expect rows[] = {
        {"4242424242424242", OK, "", OK, ""},
        {"378282246310005", OK, "", OK, ""},
        {"6200000000000005", OK, "", OK, ""},
        {"4111111111111111", OK, "", OK, ""},    /* any other valid number */
        {"601100000000000004", OK, "", OK, ""},  /* 18 digits */
        {"4000000000009995", NO, "insufficient_funds", OK, ""},
        {"4000000000009979", NO, "stolen_card", NO, "stolen_card"},
        {"4000000000000119", LATER, "", LATER, ""},
        {"4242424242424241", NO, "do_not_honor", NO, "do_not_honor"}, /* Luhn */
        {"42424242420", NO, "do_not_honor", NO, "do_not_honor"},      /* 11 digits */
        {"42424242424242424240", NO, "do_not_honor", NO, "do_not_honor"}, /* 20 digits */
        {"4242 4242 4242 4242", NO, "do_not_honor", NO, "do_not_honor"},
        {"", NO, "do_not_honor", NO, "do_not_honor"},
    };
    expect_table(true, rows, sizeof rows / sizeof rows[0]);
}

static void bank_accounts(void **state)
{
    (void)state;
    const struct expect rows[] = {
        {"DE89370400440532013000", OK, "", OK, ""},
        {"12345678", OK, "", OK, ""},
        {"002", OK, "", OK, ""}, /* fewer than four digits match no rule */
        {"GB29NWBK60161331920002", NO, "account_closed", NO, "account_closed"},
        {"9990002", NO, "account_closed", NO, "account_closed"},
        {"GB29NWBK60161331920119", LATER, "", LATER, ""},
        {"GB29 NWBK 6016 1331 9201 19", LATER, "", LATER, ""}, /* separators skipped */
        {"0001190", OK, "", OK, ""},
    };
    expect_table(false, rows, sizeof rows / sizeof rows[0]);
}

static void late_answer_once_after_delay(void **state)
{
    (void)state;
    struct mopay_connector_sim_options options = {.callback_delay_s = 5};
    struct mopay_connector *sims[] = {mopay_connector_sim_new(NULL), mopay_connector_sim_new(&options)};
    const int64_t delays_s[] = {30, 5};
    for (size_t s = 0; s < 2; s++) {
        struct mopay_connector *sim = sims[s];
        assert_non_null(sim);
        struct mopay_connector_result pending =
            submit(sim, MOPAY_CONNECTOR_CHARGE, "txn_late", "4000000000000119", NULL, T0_NS);
        assert_int_equal(pending.outcome, MOPAY_CONNECTOR_PENDING);
        assert_string_equal(pending.decline_code, "");
        struct mopay_connector_late late[4];
        const int64_t due_ns = T0_NS + delays_s[s] * NS_PER_S;
        assert_int_equal(sim->poll(sim, T0_NS, late, 4), 0);
        assert_int_equal(sim->poll(sim, due_ns - 1, late, 4), 0);
        assert_int_equal(sim->poll(sim, due_ns, late, 4), 1);
        assert_string_equal(late[0].reference, "txn_late");
        assert_int_equal(late[0].result.outcome, MOPAY_CONNECTOR_DECLINED);
        assert_string_equal(late[0].result.decline_code, "timeout");
        assert_string_equal(late[0].result.network_reference, pending.network_reference);
        assert_int_equal(sim->poll(sim, due_ns, late, 4), 0);
        assert_int_equal(sim->poll(sim, due_ns + 3600 * NS_PER_S, late, 4), 0);
        sim->free(sim);
    }
}

static void poll_small_cap(void **state)
{
    (void)state;
    struct mopay_connector *sim = mopay_connector_sim_new(NULL);
    assert_non_null(sim);
    char reference[MOPAY_CONNECTOR_REFERENCE_BYTES];
    for (int i = 0; i < 5; i++) {
        snprintf(reference, sizeof reference, "txn_%d", i);
        const char *account = i % 2 ? "GB29NWBK60161331920119" : NULL;
        const char *card = i % 2 ? NULL : "4000000000000119";
        assert_int_equal(submit(sim, MOPAY_CONNECTOR_PAYOUT, reference, card, account, T0_NS + i).outcome,
                         MOPAY_CONNECTOR_PENDING);
    }
    struct mopay_connector_late late[2];
    const int64_t all_due_ns = T0_NS + 30 * NS_PER_S + 4;
    const size_t expected[] = {2, 2, 1, 0};
    int next = 0;
    for (size_t call = 0; call < 4; call++) {
        size_t n = sim->poll(sim, all_due_ns, late, 2);
        assert_int_equal(n, expected[call]);
        for (size_t i = 0; i < n; i++) {
            snprintf(reference, sizeof reference, "txn_%d", next++); /* in submission order */
            assert_string_equal(late[i].reference, reference);
            assert_string_equal(late[i].result.decline_code, "timeout");
        }
    }
    assert_int_equal(sim->poll(sim, all_due_ns, NULL, 0), 0);
    sim->free(sim);
}

/* A clock that stepped back does not let a later request overtake an earlier one, nor make any
 * answer come before its own delay. */
static void clock_stepped_back(void **state)
{
    (void)state;
    struct mopay_connector *sim = mopay_connector_sim_new(NULL);
    assert_non_null(sim);
    submit(sim, MOPAY_CONNECTOR_CHARGE, "txn_a", "4000000000000119", NULL, T0_NS);
    submit(sim, MOPAY_CONNECTOR_CHARGE, "txn_b", "4000000000000119", NULL, T0_NS - 10 * NS_PER_S);
    struct mopay_connector_late late[4];
    assert_int_equal(sim->poll(sim, T0_NS + 20 * NS_PER_S, late, 4), 0);
    assert_int_equal(sim->poll(sim, T0_NS + 30 * NS_PER_S - 1, late, 4), 0);
    assert_int_equal(sim->poll(sim, T0_NS + 30 * NS_PER_S, late, 4), 2);
    assert_string_equal(late[0].reference, "txn_a");
    assert_string_equal(late[1].reference, "txn_b");
    sim->free(sim);
}

static void fill(struct mopay_connector *sim, size_t count, int64_t now_ns)
{
    char reference[MOPAY_CONNECTOR_REFERENCE_BYTES];
    for (size_t i = 0; i < count; i++) {
        snprintf(reference, sizeof reference, "txn_fill_%zu", i);
        assert_int_equal(submit(sim, MOPAY_CONNECTOR_CHARGE, reference, "4000000000000119", NULL, now_ns).outcome,
                         MOPAY_CONNECTOR_PENDING);
    }
}

static void pending_bound(void **state)
{
    (void)state;
    struct mopay_connector_sim_options small = {.pending_max = 3};
    struct mopay_connector *sims[] = {mopay_connector_sim_new(NULL), mopay_connector_sim_new(&small)};
    const size_t bounds[] = {MOPAY_CONNECTOR_PENDING_MAX, 3};
    for (size_t s = 0; s < 2; s++) {
        struct mopay_connector *sim = sims[s];
        assert_non_null(sim);
        fill(sim, bounds[s], T0_NS);
        struct mopay_connector_result r =
            submit(sim, MOPAY_CONNECTOR_CHARGE, "txn_over", NULL, "GB29NWBK60161331920119", T0_NS);
        assert_int_equal(r.outcome, MOPAY_CONNECTOR_DECLINED);
        assert_string_equal(r.decline_code, "timeout");
        /* Only requests that would pend are refused. */
        r = submit(sim, MOPAY_CONNECTOR_CHARGE, "txn_ok", "4242424242424242", NULL, T0_NS);
        assert_int_equal(r.outcome, MOPAY_CONNECTOR_APPROVED);
        struct mopay_connector_late late[1];
        assert_int_equal(sim->poll(sim, T0_NS + 30 * NS_PER_S, late, 1), 1);
        assert_string_equal(late[0].reference, "txn_fill_0");
        r = submit(sim, MOPAY_CONNECTOR_CHARGE, "txn_again", "4000000000000119", NULL, T0_NS + 30 * NS_PER_S);
        assert_int_equal(r.outcome, MOPAY_CONNECTOR_PENDING);
        sim->free(sim);
    }
}

/* Runs the same script on a fresh simulator; the result and every late answer in `out`. */
static size_t script_run(uint8_t *out, size_t cap)
{
    static const char *cards[] = {"4242424242424242", "4000000000009995", "4000000000000119", "4000000000009979"};
    struct mopay_connector *sim = mopay_connector_sim_new(NULL);
    assert_non_null(sim);
    size_t used = 0;
    char reference[MOPAY_CONNECTOR_REFERENCE_BYTES];
    for (int i = 0; i < 64; i++) {
        snprintf(reference, sizeof reference, "txn_%08x", (unsigned)i * 2654435761u);
        int64_t now_ns = T0_NS + i * NS_PER_S;
        struct mopay_connector_result r = submit(sim, i % 3 ? MOPAY_CONNECTOR_CHARGE : MOPAY_CONNECTOR_PAYOUT,
                                                 reference, cards[i % 4], NULL, now_ns);
        struct mopay_connector_late late[8];
        size_t n = sim->poll(sim, now_ns, late, 8);
        assert_true(used + sizeof r + n * sizeof late[0] <= cap);
        memcpy(out + used, &r, sizeof r);
        used += sizeof r;
        memcpy(out + used, late, n * sizeof late[0]);
        used += n * sizeof late[0];
    }
    sim->free(sim);
    return used;
}

static void deterministic(void **state)
{
    (void)state;
    static uint8_t first[64 * 1024], second[64 * 1024];
    memset(first, 0, sizeof first);
    memset(second, 0, sizeof second);
    size_t n = script_run(first, sizeof first);
    assert_int_equal(script_run(second, sizeof second), n);
    assert_memory_equal(first, second, n);

    /* network_reference: "sim_" and the first 16 hex digits of BLAKE2b-256(reference). */
    uint8_t hash[32];
    char expected[MOPAY_CONNECTOR_REFERENCE_BYTES] = "sim_";
    crypto_generichash(hash, sizeof hash, (const unsigned char *)"txn_abc", 7, NULL, 0);
    sodium_bin2hex(expected + 4, sizeof expected - 4, hash, 8);
    struct mopay_connector *sim = mopay_connector_sim_new(NULL);
    assert_non_null(sim);
    struct mopay_connector_result a = submit(sim, MOPAY_CONNECTOR_CHARGE, "txn_abc", "4242424242424242", NULL, 1);
    struct mopay_connector_result b = submit(sim, MOPAY_CONNECTOR_PAYOUT, "txn_abc", NULL, "12340002", 2);
    struct mopay_connector_result c = submit(sim, MOPAY_CONNECTOR_CHARGE, "txn_abd", "4242424242424242", NULL, 1);
    assert_string_equal(a.network_reference, expected);
    assert_int_equal(strlen(a.network_reference), 4 + 16);
    assert_string_equal(b.network_reference, expected);
    assert_string_not_equal(c.network_reference, expected);
    sim->free(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(card_numbers),       cmocka_unit_test(bank_accounts),
        cmocka_unit_test(late_answer_once_after_delay),
        cmocka_unit_test(poll_small_cap),     cmocka_unit_test(clock_stepped_back),
        cmocka_unit_test(pending_bound),      cmocka_unit_test(deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
