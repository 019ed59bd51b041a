/* The ledger over HTTP: accounts, transfers, two-phase, linked chains, reads, the invariant
 * check, bad input, idempotency and recovery after a restart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

static struct server srv;
static const char *const invariants[] = {"--check-invariants", NULL};

#define ACC(n) "acc_000000000000000000000000000000" n
#define TRF(n) "trf_000000000000000000000000000000" n

static int group_setup(void **state)
{
    (void)state;
    server_start(&srv, NULL, invariants);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    return server_stop(&srv) == 0 ? 0 : -1;
}

static void post(const char *path, const char *body, struct response *r)
{
    http_call(&srv, "POST", path, srv.admin_key, body, NULL, r);
}

static void get(const char *path, struct response *r)
{
    http_call(&srv, "GET", path, srv.admin_key, NULL, NULL, r);
}

static const char *str(const struct response *r, const char *key)
{
    return json_string_value(json_object_get(r->json, key));
}

/* results[i].result of a batch answer */
static const char *result_at(const struct response *r, size_t i)
{
    return json_string_value(json_object_get(json_array_get(json_object_get(r->json, "results"), i), "result"));
}

static void accounts_single_and_batch(void **state)
{
    (void)state;
    struct response r;
    post("/v1/ledger/accounts", "{\"id\":\"" ACC("01") "\",\"currency\":\"USD\",\"kind\":\"customer_wallet\","
                                "\"flags\":[\"debits_must_not_exceed_credits\"],\"user_data\":7}",
         &r);
    assert_int_equal(r.status, 201);
    assert_string_equal(str(&r, "id"), ACC("01"));
    assert_string_equal(str(&r, "kind"), "customer_wallet");
    assert_string_equal(str(&r, "debits_posted"), "0.00");
    assert_string_equal(json_string_value(json_array_get(json_object_get(r.json, "flags"), 0)),
                        "debits_must_not_exceed_credits");
    response_free(&r);
    /* the same again: exists, 200, the account */
    post("/v1/ledger/accounts", "{\"id\":\"" ACC("01") "\",\"currency\":\"USD\",\"kind\":\"customer_wallet\","
                                "\"flags\":[\"debits_must_not_exceed_credits\"],\"user_data\":7}",
         &r);
    assert_int_equal(r.status, 200);
    response_free(&r);
    post("/v1/ledger/accounts", "{\"id\":\"" ACC("01") "\",\"currency\":\"EUR\"}", &r);
    expect_problem(&r, 422, "ledger_rejected", NULL);
    assert_string_equal(str(&r, "detail"), "exists_with_different_fields");
    response_free(&r);
    post("/v1/ledger/accounts",
         "{\"accounts\":[{\"id\":\"" ACC("02") "\",\"currency\":\"USD\"},{\"id\":\"" ACC("03")
         "\",\"currency\":\"USD\",\"kind\":\"bank_clearing\"},{\"id\":\"" ACC("04") "\",\"currency\":\"JPY\"},"
         "{\"id\":\"" ACC("02") "\",\"currency\":\"USD\"}]}",
         &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(result_at(&r, 0), "ok");
    assert_string_equal(result_at(&r, 1), "ok");
    assert_string_equal(result_at(&r, 2), "ok");
    assert_string_equal(result_at(&r, 3), "exists");
    response_free(&r);
}

static void bad_input_names_the_field(void **state)
{
    (void)state;
    const struct {
        const char *path, *body, *code, *field;
    } cases[] = {
        {"/v1/ledger/accounts", "{\"currency\":\"XXY\"}", "currency_unknown", "/currency"},
        {"/v1/ledger/accounts", "{\"currency\":\"USD\",\"kind\":\"piggy\"}", "field_invalid", "/kind"},
        {"/v1/ledger/accounts", "{\"currency\":\"USD\",\"flags\":[\"sometimes\"]}", "field_invalid", "/flags/0"},
        {"/v1/ledger/accounts", "{\"id\":\"acc_nothex\",\"currency\":\"USD\"}", "field_invalid", "/id"},
        {"/v1/ledger/accounts", "{\"accounts\":[]}", "field_invalid", "/accounts"},
        {"/v1/ledger/accounts", "{\"accounts\":[{\"currency\":\"USD\"},{\"currency\":5}]}", "field_wrong_type",
         "/accounts/1/currency"},
        {"/v1/ledger/transfers", "{\"transfers\":{}}", "field_wrong_type", "/transfers"},
        {"/v1/ledger/transfers", "{}", "field_missing", "/transfers"},
        {"/v1/ledger/transfers", "{\"transfers\":[{\"debit_account_id\":\"" ACC("03") "\",\"credit_account_id\":\"" ACC(
             "02") "\",\"currency\":\"USD\"}]}",
         "field_missing", "/transfers/0/amount"},
        {"/v1/ledger/transfers", "{\"transfers\":[{\"debit_account_id\":\"" ACC("03") "\",\"credit_account_id\":\"" ACC(
             "02") "\",\"currency\":\"USD\",\"amount\":\"1.005\"}]}",
         "amount_too_precise", "/transfers/0/amount"},
        {"/v1/ledger/transfers", "{\"transfers\":[{\"debit_account_id\":\"" ACC("03") "\",\"credit_account_id\":\"" ACC(
             "02") "\",\"currency\":\"USD\",\"amount\":\"-1\"}]}",
         "amount_negative", "/transfers/0/amount"},
        {"/v1/ledger/transfers", "{\"transfers\":[{\"debit_account_id\":\"" ACC("03") "\",\"credit_account_id\":\"" ACC(
             "02") "\",\"currency\":\"USD\",\"amount\":\"1\",\"flags\":[\"eventually\"]}]}",
         "field_invalid", "/transfers/0/flags/0"},
        {"/v1/ledger/transfers", "{\"transfers\":[{\"debit_account_id\":\"cus_00000000000000000000000000000003\","
                                 "\"credit_account_id\":\"" ACC("02") "\",\"currency\":\"USD\",\"amount\":\"1\"}]}",
         "field_invalid", "/transfers/0/debit_account_id"},
        {"/v1/ledger/transfers", "{\"transfers\":[{\"credit_account_id\":\"" ACC("02") "\",\"currency\":\"USD\","
                                 "\"amount\":\"1\"}]}",
         "field_missing", "/transfers/0/debit_account_id"},
        {"/v1/ledger/transfers", "{\"transfers\":[{\"debit_account_id\":\"" ACC("03") "\",\"credit_account_id\":\"" ACC(
             "02") "\",\"currency\":\"USD\",\"amount\":\"1\",\"extra\":true}]}",
         "field_unknown", "/transfers/0/extra"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct response r;
        post(cases[i].path, cases[i].body, &r);
        expect_problem(&r, 422, cases[i].code, cases[i].field);
        response_free(&r);
    }
    /* nothing above changed the ledger */
    struct response r;
    get("/v1/ledger/accounts/" ACC("03"), &r);
    assert_string_equal(str(&r, "debits_posted"), "0.00");
    response_free(&r);
    get("/v1/ledger/accounts/acc_zz", &r);
    expect_problem(&r, 400, "id_invalid", NULL);
    response_free(&r);
    get("/v1/ledger/accounts/" ACC("99"), &r);
    expect_problem(&r, 404, "resource_not_found", NULL);
    response_free(&r);
}

static void transfers_move_money(void **state)
{
    (void)state;
    struct response r;
    /* 03 (bank clearing) funds 01 (a wallet that may not go below zero) */
    post("/v1/ledger/transfers",
         "{\"transfers\":[{\"id\":\"" TRF("01") "\",\"debit_account_id\":\"" ACC("03") "\",\"credit_account_id\":\"" ACC(
             "01") "\",\"amount\":\"100.00\",\"currency\":\"USD\",\"code\":1},"
         "{\"id\":\"" TRF("02") "\",\"debit_account_id\":\"" ACC("01") "\",\"credit_account_id\":\"" ACC(
             "02") "\",\"amount\":\"150\",\"currency\":\"USD\"},"
         "{\"id\":\"" TRF("03") "\",\"debit_account_id\":\"" ACC("01") "\",\"credit_account_id\":\"" ACC(
             "04") "\",\"amount\":\"1\",\"currency\":\"USD\"},"
         "{\"id\":\"" TRF("01") "\",\"debit_account_id\":\"" ACC("03") "\",\"credit_account_id\":\"" ACC(
             "01") "\",\"amount\":\"100.00\",\"currency\":\"USD\",\"code\":1}]}",
         &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(result_at(&r, 0), "ok");
    assert_string_equal(result_at(&r, 1), "exceeds_credits");
    assert_string_equal(result_at(&r, 2), "currency_mismatch");
    assert_string_equal(result_at(&r, 3), "exists");
    response_free(&r);
    get("/v1/ledger/accounts/" ACC("01"), &r);
    assert_string_equal(str(&r, "credits_posted"), "100.00");
    assert_string_equal(str(&r, "debits_posted"), "0.00");
    response_free(&r);
    get("/v1/ledger/transfers/" TRF("01"), &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(str(&r, "amount"), "100.00");
    assert_string_equal(str(&r, "debit_account_id"), ACC("03"));
    assert_int_equal(json_integer_value(json_object_get(r.json, "code")), 1);
    response_free(&r);
    get("/v1/ledger/transfers/" TRF("02"), &r); /* failed transfers are not stored */
    expect_problem(&r, 404, "resource_not_found", NULL);
    response_free(&r);
}

static void two_phase_and_links(void **state)
{
    (void)state;
    struct response r;
    post("/v1/ledger/transfers",
         "{\"transfers\":[{\"id\":\"" TRF("10") "\",\"debit_account_id\":\"" ACC("01") "\",\"credit_account_id\":\"" ACC(
             "02") "\",\"amount\":\"40\",\"currency\":\"USD\",\"flags\":[\"pending\"],\"timeout_s\":3600},"
         "{\"id\":\"" TRF("11") "\",\"pending_id\":\"" TRF("10") "\",\"amount\":\"25\",\"currency\":\"USD\","
         "\"flags\":[\"post_pending\"]},"
         "{\"id\":\"" TRF("12") "\",\"pending_id\":\"" TRF("10") "\",\"flags\":[\"void_pending\"]}]}",
         &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(result_at(&r, 0), "ok");
    assert_string_equal(result_at(&r, 1), "ok");
    assert_string_equal(result_at(&r, 2), "pending_transfer_already_posted");
    response_free(&r);
    get("/v1/ledger/accounts/" ACC("01"), &r);
    assert_string_equal(str(&r, "debits_posted"), "25.00");
    assert_string_equal(str(&r, "debits_pending"), "0.00");
    response_free(&r);
    get("/v1/ledger/transfers/" TRF("10"), &r);
    assert_string_equal(str(&r, "state"), "posted");
    response_free(&r);
    /* a linked chain whose second event fails leaves nothing behind */
    post("/v1/ledger/transfers",
         "{\"transfers\":[{\"id\":\"" TRF("20") "\",\"debit_account_id\":\"" ACC("03") "\",\"credit_account_id\":\"" ACC(
             "02") "\",\"amount\":\"5\",\"currency\":\"USD\",\"flags\":[\"linked\"]},"
         "{\"id\":\"" TRF("21") "\",\"debit_account_id\":\"" ACC("01") "\",\"credit_account_id\":\"" ACC(
             "02") "\",\"amount\":\"1000\",\"currency\":\"USD\"}]}",
         &r);
    assert_string_equal(result_at(&r, 0), "linked_event_failed");
    assert_string_equal(result_at(&r, 1), "exceeds_credits");
    response_free(&r);
    get("/v1/ledger/transfers/" TRF("20"), &r);
    expect_problem(&r, 404, "resource_not_found", NULL);
    response_free(&r);
}

static void check_reports_balanced_books(void **state)
{
    (void)state;
    struct response r;
    get("/v1/ledger/check", &r);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(json_object_get(r.json, "ok")));
    json_t *currencies = json_object_get(r.json, "currencies");
    assert_true(json_array_size(currencies) >= 1);
    json_t *usd = NULL;
    size_t i;
    json_t *c;
    json_array_foreach(currencies, i, c) if (strcmp(json_string_value(json_object_get(c, "currency")), "USD") == 0) usd = c;
    assert_non_null(usd);
    assert_string_equal(json_string_value(json_object_get(usd, "debits_posted")), "125.00");
    assert_string_equal(json_string_value(json_object_get(usd, "credits_posted")), "125.00");
    response_free(&r);
}

static void idempotency_key_replays_a_batch(void **state)
{
    (void)state;
    const char *key[] = {"Idempotency-Key: ledger-batch-1", NULL};
    const char *body = "{\"transfers\":[{\"id\":\"" TRF("30") "\",\"debit_account_id\":\"" ACC(
        "03") "\",\"credit_account_id\":\"" ACC("02") "\",\"amount\":\"2\",\"currency\":\"USD\"}]}";
    struct response a, b;
    http_call(&srv, "POST", "/v1/ledger/transfers", srv.admin_key, body, key, &a);
    http_call(&srv, "POST", "/v1/ledger/transfers", srv.admin_key, body, key, &b);
    assert_int_equal(a.status, 200);
    assert_string_equal(result_at(&a, 0), "ok");
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.body, b.body, a.len); /* the first answer, not "exists" */
    response_free(&a);
    response_free(&b);
}

static void restart_recovers_the_ledger(void **state)
{
    (void)state;
    struct response before, after;
    get("/v1/ledger/check", &before);
    assert_int_equal(server_stop(&srv), 0);
    struct server again;
    server_start(&again, &srv, invariants);
    srv = again;
    get("/v1/ledger/check", &after);
    assert_int_equal(after.status, 200);
    assert_int_equal(before.len, after.len);
    assert_memory_equal(before.body, after.body, before.len);
    response_free(&before);
    response_free(&after);
    get("/v1/ledger/transfers/" TRF("11"), &after);
    assert_int_equal(after.status, 200);
    assert_string_equal(str(&after, "amount"), "25.00");
    response_free(&after);
}

int main(int argc, char **argv)
{
    harness_init(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accounts_single_and_batch),
        cmocka_unit_test(bad_input_names_the_field),
        cmocka_unit_test(transfers_move_money),
        cmocka_unit_test(two_phase_and_links),
        cmocka_unit_test(check_reports_balanced_books),
        cmocka_unit_test(idempotency_key_replays_a_batch),
        cmocka_unit_test(restart_recovers_the_ledger),
    };
    return cmocka_run_group_tests_name("ledger_api", tests, group_setup, group_teardown);
}
