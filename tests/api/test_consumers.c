/* The consumer half of the wallet over HTTP, on a server with a manual clock:
 *   the story: sign-up -> session -> top-up with the approving card -> P2P by phone -> both
 *   histories -> withdrawal -> a tier-0 daily-outflow breach refused with nothing moved -> a lost
 *   phone's token refused -> a frozen customer cannot pay -> another customer reading the first's
 *   wallet gets 404 -> an Idempotency-Key replay of a P2P moves money once -> declined and
 *   timed-out top-ups leave no money behind (by the network's late answer, and by expiry after a
 *   restart) -> the ledger check is clean;
 *   sessions: wrong PINs lock, replayed and skewed signatures are refused;
 *   bad input for every endpoint, which changes nothing;
 *   50 simultaneous P2P transfers out of one wallet. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "consumers.h"

static struct server srv;
/* the risk step off: this story moves money faster than people do (test_risk covers that step) */
static const char *const server_args[] = {"--check-invariants", "--risk=false", "--test-clock", TEST_CLOCK_START,
                                          "--sim-callback-delay", "30", "--topup-pending-ttl", "600", NULL};
static int64_t clock_s = TEST_CLOCK_START_S; /* what the server's manual clock reads */

static int group_setup(void **state)
{
    (void)state;
    server_start(&srv, NULL, server_args);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    return server_stop(&srv) == 0 ? 0 : -1;
}

static void call(const char *method, const char *path, const char *token, const char *body, struct response *r)
{
    http_call(&srv, method, path, token, body, NULL, r);
}

static void expect_status(const char *method, const char *path, const char *token, const char *body, long status)
{
    api_expect(&srv, method, path, token, body, status, NULL, NULL);
}

static void clock_advance(int64_t seconds)
{
    test_clock_advance(&srv, &clock_s, seconds);
}

/* Waits for the sequencer's next tick (once a second) to run at the advanced clock. */
static void tick_wait(void)
{
    usleep(2200 * 1000);
}

static void wallet_open(struct person *p, const char *currency, char *id_out)
{
    char body[64];
    snprintf(body, sizeof(body), "{\"currency\":\"%s\"}", currency);
    struct response r;
    call("POST", "/v1/wallets", p->token, body, &r);
    assert_int_equal(r.status, 201);
    snprintf(id_out, 48, "%s", jstr(r.json, "id"));
    response_free(&r);
}

static void source_add(struct person *p, const char *json, char *id_out)
{
    struct response r;
    call("POST", "/v1/funding-sources", p->token, json, &r);
    if (r.status != 201)
        fprintf(stderr, "funding source: %ld %s\n", r.status, r.body);
    assert_int_equal(r.status, 201);
    snprintf(id_out, 48, "%s", jstr(r.json, "id"));
    response_free(&r);
}

static void card_add(struct person *p, const char *number, char *id_out)
{
    char body[256];
    snprintf(body, sizeof(body),
             "{\"type\":\"card\",\"card\":{\"number\":\"%s\",\"exp_month\":12,\"exp_year\":2030,\"holder\":\"%s\"}}",
             number, p->name);
    source_add(p, body, id_out);
}

/* A top-up or withdrawal; returns the response (status 201 expected) for the caller to read. */
static void movement(const char *path, struct person *p, const char *wallet, const char *source, const char *amount,
                     struct response *r)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"wallet_id\":\"%s\",\"funding_source_id\":\"%s\",\"amount\":\"%s\",\"currency\":\"CNY\"}",
             wallet, source, amount);
    call("POST", path, p->token, body, r);
    if (r->status != 201)
        fprintf(stderr, "%s: %ld %s\n", path, r->status, r->body);
    assert_int_equal(r->status, 201);
}

static void p2p_body(const char *phone, const char *amount, const char *note, char *out, size_t cap)
{
    snprintf(out, cap, "{\"to\":{\"phone\":\"%s\"},\"amount\":\"%s\",\"currency\":\"CNY\",\"note\":\"%s\"}", phone, amount,
             note);
}

/* The newest history entry's field. */
static void history(struct person *p, const char *wallet, struct response *r)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/wallets/%s/transactions?limit=10", wallet);
    call("GET", path, p->token, NULL, r);
    assert_int_equal(r->status, 200);
}

static struct person alice, bob;
static char alice_wallet[48], bob_wallet[48], alice_card[48];

static void ledger_clean(void)
{
    struct response r;
    call("GET", "/v1/ledger/check", srv.admin_key, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(json_object_get(r.json, "ok")));
    response_free(&r);
}

static void story_signup_topup_p2p(void)
{
    person_signup(&srv, &alice, "+86 138 0013 8000", "Alice Wang", "CN");
    person_signup(&srv, &bob, "+8613900139000", "Bob Li", "CN");
    snprintf(alice.phone, sizeof(alice.phone), "+8613800138000"); /* the canonical form signs */
    person_login(&srv, &alice, clock_s);
    person_login(&srv, &bob, clock_s);
    wallet_open(&alice, "CNY", alice_wallet);
    card_add(&alice, "4242 4242 4242 4242", alice_card);
    struct response r;
    movement("/v1/topups", &alice, alice_wallet, alice_card, "300.00", &r);
    assert_string_equal(jstr(r.json, "status"), "succeeded");
    response_free(&r);
    assert_int_equal(wallet_amount(&srv, alice.token, alice_wallet, "balance"), 30000);

    char body[256];
    p2p_body("+8613900139000", "50.00", "dinner", body, sizeof(body));
    call("POST", "/v1/transfers", alice.token, body, &r);
    assert_int_equal(r.status, 201);
    /* the receiver named only masked, and never by its customer id (issue 11, finding 9) */
    assert_string_equal(jstr(json_object_get(r.json, "to"), "name"), "B** Li");
    assert_null(json_object_get(json_object_get(r.json, "to"), "customer_id"));
    assert_null(strstr(r.body, bob.id));
    snprintf(bob_wallet, sizeof(bob_wallet), "%s", jstr(r.json, "to_wallet_id"));
    response_free(&r);
    assert_int_equal(wallet_amount(&srv, alice.token, alice_wallet, "balance"), 25000);
    assert_int_equal(wallet_amount(&srv, bob.token, bob_wallet, "balance"), 5000);
}

static void story_histories(void)
{
    struct response r;
    history(&bob, bob_wallet, &r);
    json_t *e = json_array_get(json_object_get(r.json, "data"), 0);
    assert_string_equal(jstr(e, "type"), "p2p_in");
    assert_string_equal(jstr(e, "amount"), "50.00");
    assert_string_equal(jstr(json_object_get(e, "counterparty"), "name"), "Alice Wang");
    assert_string_equal(jstr(e, "note"), "dinner");
    response_free(&r);
    history(&alice, alice_wallet, &r);
    json_t *data = json_object_get(r.json, "data");
    assert_int_equal(json_array_size(data), 2);
    assert_string_equal(jstr(json_array_get(data, 0), "type"), "p2p_out");
    assert_string_equal(jstr(json_array_get(data, 0), "amount"), "-50.00");
    assert_string_equal(jstr(json_object_get(json_array_get(data, 0), "counterparty"), "name"), "Bob Li");
    assert_string_equal(jstr(json_array_get(data, 1), "type"), "topup");
    response_free(&r);
    /* one entry per page, following the cursor */
    char path[256];
    snprintf(path, sizeof(path), "/v1/wallets/%s/transactions?limit=1", alice_wallet);
    call("GET", path, alice.token, NULL, &r);
    const char *cursor = jstr(r.json, "next_cursor");
    assert_non_null(cursor);
    snprintf(path, sizeof(path), "/v1/wallets/%s/transactions?limit=1&cursor=%s", alice_wallet, cursor);
    response_free(&r);
    call("GET", path, alice.token, NULL, &r);
    assert_string_equal(jstr(json_array_get(json_object_get(r.json, "data"), 0), "type"), "topup");
    assert_true(json_is_null(json_object_get(r.json, "next_cursor")));
    response_free(&r);
}

static void story_withdrawal_and_limit(void)
{
    char bank[48];
    source_add(&alice, "{\"type\":\"bank_account\",\"bank_account\":{\"iban\":\"GB82 WEST 1234 5698 7654 32\","
                       "\"holder\":\"Alice Wang\"}}",
               bank);
    struct response r;
    movement("/v1/withdrawals", &alice, alice_wallet, bank, "20.00", &r);
    assert_string_equal(jstr(r.json, "status"), "succeeded");
    response_free(&r);
    assert_int_equal(wallet_amount(&srv, alice.token, alice_wallet, "balance"), 23000);
    movement("/v1/topups", &alice, alice_wallet, alice_card, "600.00", &r);
    response_free(&r);
    /* tier 0: 500 CNY a day out; 70 are used, 431 more would make 501 */
    char body[256];
    p2p_body("+8613900139000", "431.00", "too much", body, sizeof(body));
    call("POST", "/v1/transfers", alice.token, body, &r);
    expect_problem(&r, 422, "limit_exceeded", NULL);
    response_free(&r);
    assert_int_equal(wallet_amount(&srv, alice.token, alice_wallet, "balance"), 83000);
    assert_int_equal(wallet_amount(&srv, bob.token, bob_wallet, "balance"), 5000);
    /* the tier's balance cap: 1,000 CNY */
    movement("/v1/topups", &alice, alice_wallet, alice_card, "100.00", &r);
    response_free(&r);
    char topup[256];
    snprintf(topup, sizeof(topup), "{\"wallet_id\":\"%s\",\"amount\":\"100.00\",\"currency\":\"CNY\"}", alice_wallet);
    call("POST", "/v1/topups", alice.token, topup, &r);
    expect_problem(&r, 422, "balance_limit_exceeded", NULL);
    response_free(&r);
    /* an operator's KYC upgrade to tier 1 lifts both */
    char path[128];
    snprintf(path, sizeof(path), "/v1/customers/%s/kyc", alice.id);
    expect_status("POST", path, srv.admin_key,
                  "{\"tier\":1,\"document_type\":\"national_id\",\"document_number\":\"110101199003078888\"}", 200);
    call("POST", "/v1/transfers", alice.token, body, &r);
    assert_int_equal(r.status, 201);
    response_free(&r);
    snprintf(path, sizeof(path), "/v1/customers/%s", alice.id);
    call("GET", path, alice.token, NULL, &r);
    json_t *limits = json_array_get(json_object_get(json_object_get(r.json, "limits"), "wallets"), 0);
    assert_string_equal(jstr(json_object_get(limits, "limits"), "used_today"), "501.00");
    assert_string_equal(jstr(json_object_get(r.json, "kyc"), "document_last4"), "8888");
    response_free(&r);
}

static void story_lost_phone_and_freeze(void)
{
    /* a second phone first, so Alice can go on after reporting the first one lost */
    struct person phone2 = alice;
    char pk64[64], body[256], path[128];
    crypto_sign_keypair(phone2.pk, phone2.sk);
    sodium_bin2base64(pk64, sizeof(pk64), phone2.pk, 32, sodium_base64_VARIANT_ORIGINAL);
    snprintf(body, sizeof(body), "{\"public_key\":\"%s\",\"name\":\"new phone\"}", pk64);
    snprintf(path, sizeof(path), "/v1/customers/%s/devices", alice.id);
    struct response r;
    call("POST", path, alice.token, body, &r);
    assert_int_equal(r.status, 201);
    snprintf(phone2.device_id, sizeof(phone2.device_id), "%s", jstr(r.json, "id"));
    response_free(&r);
    person_login(&srv, &phone2, clock_s + 1);

    snprintf(path, sizeof(path), "/v1/devices/%s", alice.device_id);
    expect_status("DELETE", path, phone2.token, NULL, 200);
    call("GET", "/v1/wallets", alice.token, NULL, &r);
    expect_problem(&r, 401, "auth_invalid", NULL);
    response_free(&r);
    person_session_try(&srv, &alice, clock_s + 2, "123456", &r);
    expect_problem(&r, 401, "device_revoked", NULL);
    response_free(&r);
    alice = phone2;

    snprintf(path, sizeof(path), "/v1/customers/%s/freeze", alice.id);
    expect_status("POST", path, srv.admin_key, "{\"reason\":\"suspicious activity\"}", 200);
    p2p_body("+8613900139000", "1.00", "frozen", body, sizeof(body));
    call("POST", "/v1/transfers", alice.token, body, &r);
    expect_problem(&r, 403, "customer_frozen", NULL);
    response_free(&r);
    snprintf(path, sizeof(path), "/v1/customers/%s/unfreeze", alice.id);
    expect_status("POST", path, srv.admin_key, NULL, 200);
}

static void story_other_customer_404(void)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/wallets/%s", alice_wallet);
    expect_status("GET", path, bob.token, NULL, 404);
    snprintf(path, sizeof(path), "/v1/wallets/%s/transactions", alice_wallet);
    expect_status("GET", path, bob.token, NULL, 404);
    snprintf(path, sizeof(path), "/v1/customers/%s", alice.id);
    expect_status("GET", path, bob.token, NULL, 404);
    snprintf(path, sizeof(path), "/v1/funding-sources/%s/lost", alice_card);
    expect_status("POST", path, bob.token, NULL, 404);
    snprintf(path, sizeof(path), "/v1/devices/%s", alice.device_id);
    expect_status("DELETE", path, bob.token, NULL, 404);
    /* Bob's own wallet, and an operator's view of Alice's */
    snprintf(path, sizeof(path), "/v1/wallets/%s", bob_wallet);
    expect_status("GET", path, bob.token, NULL, 200);
    snprintf(path, sizeof(path), "/v1/wallets?customer_id=%s", alice.id);
    expect_status("GET", path, srv.admin_key, NULL, 200);
}

static void story_idempotent_p2p(void)
{
    long long before = wallet_amount(&srv, bob.token, bob_wallet, "balance");
    char body[256];
    p2p_body("+8613900139000", "7.00", "once", body, sizeof(body));
    const char *const headers[] = {"Idempotency-Key: p2p-once-1", NULL};
    struct response first, second;
    http_call(&srv, "POST", "/v1/transfers", alice.token, body, headers, &first);
    http_call(&srv, "POST", "/v1/transfers", alice.token, body, headers, &second);
    assert_int_equal(first.status, 201);
    assert_int_equal(second.status, 201);
    assert_int_equal(first.len, second.len);
    assert_memory_equal(first.body, second.body, first.len);
    response_free(&first);
    response_free(&second);
    assert_int_equal(wallet_amount(&srv, bob.token, bob_wallet, "balance"), before + 700);
    p2p_body("+8613900139000", "8.00", "once", body, sizeof(body));
    http_call(&srv, "POST", "/v1/transfers", alice.token, body, headers, &first);
    expect_problem(&first, 409, "idempotency_key_reused", NULL);
    response_free(&first);
}

/* Declines leave nothing; a timed-out top-up is pending (incoming) until the network's late
 * answer voids it. */
static void story_declines_and_timeouts(void)
{
    long long balance = wallet_amount(&srv, alice.token, alice_wallet, "balance");
    char broke[48], stolen[48], slow[48], topup_id[48], path[128];
    card_add(&alice, "4000000000009995", broke);
    card_add(&alice, "4000 0000 0000 9979", stolen);
    card_add(&alice, "4000000000000119", slow);
    struct response r;
    movement("/v1/topups", &alice, alice_wallet, broke, "10.00", &r);
    assert_string_equal(jstr(r.json, "status"), "declined");
    assert_string_equal(jstr(r.json, "decline_code"), "insufficient_funds");
    response_free(&r);
    movement("/v1/topups", &alice, alice_wallet, stolen, "10.00", &r);
    assert_string_equal(jstr(r.json, "decline_code"), "stolen_card");
    response_free(&r);
    movement("/v1/topups", &alice, alice_wallet, slow, "10.00", &r);
    assert_string_equal(jstr(r.json, "status"), "pending");
    snprintf(topup_id, sizeof(topup_id), "%s", jstr(r.json, "id"));
    response_free(&r);
    assert_int_equal(wallet_amount(&srv, alice.token, alice_wallet, "incoming"), 1000);
    assert_int_equal(wallet_amount(&srv, alice.token, alice_wallet, "balance"), balance);
    clock_advance(31);
    tick_wait();
    snprintf(path, sizeof(path), "/v1/topups/%s", topup_id);
    call("GET", path, alice.token, NULL, &r);
    assert_string_equal(jstr(r.json, "status"), "declined");
    assert_string_equal(jstr(r.json, "decline_code"), "timeout");
    response_free(&r);
    assert_int_equal(wallet_amount(&srv, alice.token, alice_wallet, "incoming"), 0);
    assert_int_equal(wallet_amount(&srv, alice.token, alice_wallet, "balance"), balance);

    /* Another one, and a restart: the simulator's answer is lost with it, and expiry voids it. */
    movement("/v1/topups", &alice, alice_wallet, slow, "10.00", &r);
    snprintf(path, sizeof(path), "/v1/topups/%s", jstr(r.json, "id"));
    response_free(&r);
    assert_int_equal(server_stop(&srv), 0);
    char clock_now[32];
    time_t t = (time_t)clock_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(clock_now, sizeof(clock_now), "%Y-%m-%dT%H:%M:%SZ", &tm);
    const char *const restart_args[] = {"--check-invariants", "--risk=false", "--test-clock", clock_now,
                                        "--topup-pending-ttl", "600", NULL};
    struct server old = srv;
    server_start(&srv, &old, restart_args);
    assert_int_equal(wallet_amount(&srv, alice.token, alice_wallet, "incoming"), 1000); /* the session survived */
    clock_advance(601);
    tick_wait();
    call("GET", path, alice.token, NULL, &r);
    assert_string_equal(jstr(r.json, "status"), "expired");
    response_free(&r);
    assert_int_equal(wallet_amount(&srv, alice.token, alice_wallet, "incoming"), 0);
    assert_int_equal(wallet_amount(&srv, alice.token, alice_wallet, "balance"), balance);
    ledger_clean();
}

static void consumer_story(void **state)
{
    (void)state;
    story_signup_topup_p2p();
    story_histories();
    story_withdrawal_and_limit();
    story_lost_phone_and_freeze();
    story_other_customer_404();
    story_idempotent_p2p();
    story_declines_and_timeouts();
    ledger_clean();
}

/* Wrong PINs lock after five; a signature is good once; the clock window is five minutes. */
static void sessions_guard(void **state)
{
    (void)state;
    struct person carol;
    person_signup(&srv, &carol, "+447700900123", "Carol Jones", "GB");
    struct response r;
    person_session_try(&srv, &carol, clock_s - 301, "123456", &r);
    expect_problem(&r, 401, "timestamp_skewed", "/timestamp");
    response_free(&r);
    person_login(&srv, &carol, clock_s - 10);
    person_session_try(&srv, &carol, clock_s - 10, "123456", &r);
    expect_problem(&r, 401, "signature_replayed", NULL);
    response_free(&r);
    char body[1024];
    session_body(&carol, clock_s - 9, "123456", body, sizeof(body));
    char *sig = strstr(body, "\"signature\":\"") + 13;
    sig[0] = sig[0] == 'A' ? 'B' : 'A';
    http_call(&srv, "POST", "/v1/sessions", NULL, body, NULL, &r);
    expect_problem(&r, 401, "signature_invalid", "/signature");
    response_free(&r);
    for (int i = 0; i < 4; i++) {
        person_session_try(&srv, &carol, clock_s - 8 + i, "654321", &r);
        expect_problem(&r, 401, "pin_incorrect", NULL);
        response_free(&r);
    }
    person_session_try(&srv, &carol, clock_s - 3, "654321", &r);
    expect_problem(&r, 423, "customer_locked", NULL);
    response_free(&r);
    person_session_try(&srv, &carol, clock_s - 2, "123456", &r); /* the right PIN, but locked */
    expect_problem(&r, 423, "customer_locked", NULL);
    response_free(&r);
    clock_advance(15 * 60);
    person_login(&srv, &carol, clock_s);
    /* an unknown phone looks like a wrong PIN */
    snprintf(carol.phone, sizeof(carol.phone), "+447700900999");
    person_session_try(&srv, &carol, clock_s + 1, "123456", &r);
    expect_problem(&r, 401, "pin_incorrect", NULL);
    response_free(&r);
}

/* --- bad input: each refused with its code and field, and nothing changed --- */

struct bad_case {
    const char *method, *path; /* {W} Dave's wallet, {C} Dave's id */
    char who;                  /* 'D' Dave, 'A' the operator, 0 nobody */
    const char *body;
    long status;
    const char *code, *field;
};

#define PK "\"device\":{\"public_key\":\"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\",\"name\":\"p\"}"
static const struct bad_case bad_cases[] = {
    {"POST", "/v1/customers", 0, "{\"phone\":\"12345\",\"name\":\"x\",\"country\":\"CN\",\"pin\":\"123456\"," PK "}",
     422, "phone_invalid", "/phone"},
    {"POST", "/v1/customers", 0, "{\"phone\":\"+86abc\",\"name\":\"x\",\"country\":\"CN\",\"pin\":\"123456\"," PK "}",
     422, "phone_invalid", "/phone"},
    {"POST", "/v1/customers", 0, "{\"phone\":\"+8613700137000\",\"name\":\"x\",\"country\":\"CN\",\"pin\":\"12345\"," PK "}",
     422, "pin_format_invalid", "/pin"},
    {"POST", "/v1/customers", 0, "{\"phone\":\"+8613700137000\",\"name\":\"x\",\"country\":\"CN\",\"pin\":\"12a456\"," PK "}",
     422, "pin_format_invalid", "/pin"},
    {"POST", "/v1/customers", 0, "{\"phone\":\"+8613700137000\",\"name\":\"x\",\"country\":\"XX\",\"pin\":\"123456\"," PK "}",
     422, "country_unknown", "/country"},
    {"POST", "/v1/customers", 0,
     "{\"phone\":\"+8613700137000\",\"name\":\"x\",\"country\":\"CN\",\"pin\":\"123456\",\"device\":{\"public_key\":"
     "\"bm90IGEga2V5\",\"name\":\"p\"}}",
     422, "public_key_invalid", "/device/public_key"},
    {"POST", "/v1/customers", 0, "{\"phone\":\"+8613700137000\",\"country\":\"CN\",\"pin\":\"123456\"," PK "}", 422,
     "field_missing", "/name"},
    {"POST", "/v1/customers", 0,
     "{\"phone\":\"+8613700137000\",\"name\":\"x\",\"country\":\"CN\",\"pin\":\"123456\",\"vip\":true," PK "}", 422,
     "field_unknown", "/vip"},
    {"POST", "/v1/customers", 0, "{\"phone\":\"+8613600136000\",\"name\":\"x\",\"country\":\"CN\",\"pin\":\"123456\"," PK "}",
     409, "phone_taken", "/phone"},
    {"POST", "/v1/sessions", 0,
     "{\"phone\":\"+8613600136000\",\"pin\":\"123456\",\"device_id\":\"dev_x\",\"timestamp\":\"2026-11-21T08:00:00Z\","
     "\"signature\":\"AA==\"}",
     422, "field_invalid", "/device_id"},
    {"POST", "/v1/sessions", 0,
     "{\"phone\":\"+8613600136000\",\"pin\":\"123456\",\"device_id\":\"dev_00000000000000000000000000000000\","
     "\"timestamp\":\"yesterday\",\"signature\":\"AA==\"}",
     422, "field_invalid", "/timestamp"},
    {"POST", "/v1/sessions", 0,
     "{\"phone\":\"0136\",\"pin\":\"123456\",\"device_id\":\"dev_00000000000000000000000000000000\","
     "\"timestamp\":\"2026-11-21T08:00:00Z\",\"signature\":\"AA==\"}",
     422, "phone_invalid", "/phone"},
    {"POST", "/v1/wallets", 'D', "{\"currency\":\"XYZ\"}", 422, "currency_unknown", "/currency"},
    {"POST", "/v1/wallets", 'D', "{\"currency\":\"CNY\"}", 409, "wallet_exists", NULL},
    {"POST", "/v1/funding-sources", 'D',
     "{\"type\":\"card\",\"card\":{\"number\":\"4242424242424241\",\"exp_month\":1,\"exp_year\":2030,\"holder\":\"D\"}}",
     422, "card_number_invalid", "/card/number"},
    {"POST", "/v1/funding-sources", 'D',
     "{\"type\":\"card\",\"card\":{\"number\":\"1234\",\"exp_month\":1,\"exp_year\":2030,\"holder\":\"D\"}}", 422,
     "card_number_invalid", "/card/number"},
    {"POST", "/v1/funding-sources", 'D',
     "{\"type\":\"card\",\"card\":{\"number\":\"4242424242424242\",\"exp_month\":1,\"exp_year\":2020,\"holder\":\"D\"}}",
     422, "card_expired", "/card/exp_year"},
    {"POST", "/v1/funding-sources", 'D',
     "{\"type\":\"card\",\"card\":{\"number\":\"4242424242424242\",\"exp_month\":13,\"exp_year\":2030,\"holder\":\"D\"}}",
     422, "field_invalid", "/card/exp_month"},
    {"POST", "/v1/funding-sources", 'D',
     "{\"type\":\"bank_account\",\"bank_account\":{\"iban\":\"GB82WEST12345698765431\",\"holder\":\"D\"}}", 422,
     "iban_invalid", "/bank_account/iban"},
    {"POST", "/v1/funding-sources", 'D',
     "{\"type\":\"bank_account\",\"bank_account\":{\"account_number\":\"12\",\"bank_code\":\"X\",\"holder\":\"D\"}}", 422,
     "bank_account_invalid", "/bank_account"},
    {"POST", "/v1/funding-sources", 'D', "{\"type\":\"crypto\"}", 422, "field_invalid", "/type"},
    {"POST", "/v1/funding-sources", 'D', "{\"type\":\"card\"}", 422, "field_missing", "/card"},
    {"POST", "/v1/topups", 'D', "{\"wallet_id\":\"{W}\",\"amount\":\"-5.00\",\"currency\":\"CNY\"}", 422,
     "amount_negative", "/amount"},
    {"POST", "/v1/topups", 'D', "{\"wallet_id\":\"{W}\",\"amount\":\"1.234\",\"currency\":\"CNY\"}", 422,
     "amount_too_precise", "/amount"},
    {"POST", "/v1/topups", 'D', "{\"wallet_id\":\"{W}\",\"amount\":\"0\",\"currency\":\"CNY\"}", 422,
     "amount_invalid", "/amount"},
    {"POST", "/v1/topups", 'D', "{\"wallet_id\":\"{W}\",\"amount\":\"1e3\",\"currency\":\"CNY\"}", 422,
     "amount_invalid", "/amount"},
    {"POST", "/v1/topups", 'D', "{\"wallet_id\":\"{W}\",\"amount\":\"99999999999999999999\",\"currency\":\"CNY\"}", 422,
     "amount_overflow", "/amount"},
    {"POST", "/v1/topups", 'D', "{\"wallet_id\":\"{W}\",\"amount\":\"5.00\",\"currency\":\"XYZ\"}", 422,
     "currency_unknown", "/currency"},
    {"POST", "/v1/topups", 'D', "{\"wallet_id\":\"{W}\",\"amount\":\"5.00\",\"currency\":\"USD\"}", 422,
     "currency_mismatch", "/currency"},
    {"POST", "/v1/topups", 'D', "{\"wallet_id\":\"wal_00000000000000000000000000000000\",\"amount\":\"5.00\","
                                "\"currency\":\"CNY\"}",
     422, "wallet_not_found", "/wallet_id"},
    {"POST", "/v1/withdrawals", 'D', "{\"wallet_id\":\"{W}\",\"amount\":\"5000.00\",\"currency\":\"CNY\"}", 422,
     "limit_exceeded", NULL},
    {"POST", "/v1/withdrawals", 'D', "{\"wallet_id\":\"{W}\",\"amount\":\"50.00\",\"currency\":\"CNY\"}", 422,
     "insufficient_funds", NULL},
    {"POST", "/v1/transfers", 'D', "{\"to\":{\"phone\":\"12\"},\"amount\":\"1.00\",\"currency\":\"CNY\"}", 422,
     "phone_invalid", "/to/phone"},
    {"POST", "/v1/transfers", 'D',
     "{\"to\":{\"phone\":\"+8613900139000\",\"wallet_id\":\"{W}\"},\"amount\":\"1.00\",\"currency\":\"CNY\"}", 422,
     "field_missing", "/to"},
    {"POST", "/v1/transfers", 'D', "{\"to\":{\"phone\":\"+15555550100\"},\"amount\":\"1.00\",\"currency\":\"CNY\"}", 422,
     "recipient_not_found", "/to/phone"},
    {"POST", "/v1/transfers", 'D', "{\"to\":{\"wallet_id\":\"{W}\"},\"amount\":\"1.00\",\"currency\":\"CNY\"}", 422,
     "recipient_invalid", NULL},
    {"POST", "/v1/transfers", 'D', "{\"to\":{\"phone\":\"+8613900139000\"},\"amount\":\"-1.00\",\"currency\":\"CNY\"}",
     422, "amount_negative", "/amount"},
    {"POST", "/v1/transfers", 'D', "{\"to\":{\"phone\":\"+8613900139000\"},\"amount\":\"1.5\",\"currency\":\"JPY\"}",
     422, "amount_too_precise", "/amount"},
    {"POST", "/v1/transfers", 'D', "{\"to\":{\"phone\":\"+8613900139000\"},\"amount\":\"1.00\",\"currency\":\"CNY\","
                                   "\"note\":\"a\\u0007b\"}",
     422, "field_invalid", "/note"},
    {"POST", "/v1/customers/{C}/kyc", 'A', "{\"tier\":3,\"document_type\":\"passport\",\"document_number\":\"E1234567\"}",
     422, "field_invalid", "/tier"},
    {"POST", "/v1/customers/{C}/kyc", 'A', "{\"tier\":1,\"document_type\":\"library_card\",\"document_number\":\"E12\"}",
     422, "field_invalid", "/document_type"},
    {"POST", "/v1/customers/{C}/kyc", 'D', "{\"tier\":2,\"document_type\":\"passport\",\"document_number\":\"E1234567\"}",
     404, NULL, NULL},
    {"GET", "/v1/wallets/wal_123", 'D', NULL, 400, "id_invalid", NULL},
    {"GET", "/v1/wallets/{W}/transactions?limit=0", 'D', NULL, 400, "query_invalid", NULL},
    {"GET", "/v1/wallets/{W}/transactions?cursor=garbage", 'D', NULL, 400, "query_invalid", NULL},
    {"GET", "/v1/wallets", 'A', NULL, 400, "query_invalid", NULL},
    {"POST", "/v1/wallets", 0, "{\"currency\":\"CNY\"}", 401, "auth_missing", NULL},
    {"POST", "/v1/test-clock/advance", 'A', "{\"seconds\":0}", 422, "field_invalid", "/seconds"},
};

static void substitute(const char *in, const char *wallet, const char *customer, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = in; *p != '\0' && n + 48 < cap; p++) {
        if (p[0] == '{' && (p[1] == 'W' || p[1] == 'C') && p[2] == '}') {
            n += (size_t)snprintf(out + n, cap - n, "%s", p[1] == 'W' ? wallet : customer);
            p += 2;
        } else {
            out[n++] = *p;
        }
    }
    out[n] = '\0';
}

static void bad_input(void **state)
{
    (void)state;
    struct person dave;
    person_signup(&srv, &dave, "+8613600136000", "Dave Zhou", "CN");
    person_login(&srv, &dave, clock_s);
    char wallet[48], card[48];
    wallet_open(&dave, "CNY", wallet);
    card_add(&dave, "6200000000000005", card);
    struct response r;
    movement("/v1/topups", &dave, wallet, card, "10.00", &r);
    response_free(&r);
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *c = &bad_cases[i];
        char path[256], body[1024];
        substitute(c->path, wallet, dave.id, path, sizeof(path));
        if (c->body != NULL)
            substitute(c->body, wallet, dave.id, body, sizeof(body));
        const char *token = c->who == 'D' ? dave.token : c->who == 'A' ? srv.admin_key : NULL;
        call(c->method, path, token, c->body != NULL ? body : NULL, &r);
        if (r.status != c->status)
            fprintf(stderr, "case %zu: %s %s -> %ld %s\n", i, c->method, path, r.status, r.body);
        if (c->code != NULL)
            expect_problem(&r, c->status, c->code, c->field);
        assert_int_equal(r.status, c->status);
        response_free(&r);
    }
    /* nothing moved, and the refused sign-ups left their phone free */
    assert_int_equal(wallet_amount(&srv, dave.token, wallet, "balance"), 1000);
    assert_int_equal(wallet_amount(&srv, dave.token, wallet, "incoming"), 0);
    struct person frank;
    person_signup(&srv, &frank, "+8613700137000", "Frank", "CN");
}

/* --- 50 simultaneous P2P transfers out of one wallet --- */

#define RACERS 50

struct racer {
    const char *token;
    const char *body;
    long status;
    char code[64];
};

static void *racer_main(void *arg)
{
    struct racer *r = arg;
    struct response res;
    http_call(&srv, "POST", "/v1/transfers", r->token, r->body, NULL, &res);
    r->status = res.status;
    const char *code = res.json != NULL ? jstr(res.json, "code") : NULL;
    snprintf(r->code, sizeof(r->code), "%s", code != NULL ? code : "");
    response_free(&res);
    return NULL;
}

/* Counts the 201s; every other answer must be `refusal`. */
static int race(const char *token, const char *to_phone, const char *refusal)
{
    static struct racer racers[RACERS];
    pthread_t threads[RACERS];
    char body[256];
    p2p_body(to_phone, "20.00", "race", body, sizeof(body));
    for (int i = 0; i < RACERS; i++) {
        racers[i] = (struct racer){.token = token, .body = body};
        assert_int_equal(pthread_create(&threads[i], NULL, racer_main, &racers[i]), 0);
    }
    int ok = 0;
    for (int i = 0; i < RACERS; i++) {
        pthread_join(threads[i], NULL);
        if (racers[i].status == 201)
            ok++;
        else
            assert_string_equal(racers[i].code, refusal);
    }
    return ok;
}

static void concurrent_p2p(void **state)
{
    (void)state;
    struct person erin;
    person_signup(&srv, &erin, "+8613500135000", "Erin Xu", "CN");
    person_login(&srv, &erin, clock_s);
    char wallet[48], card[48];
    wallet_open(&erin, "CNY", wallet);
    card_add(&erin, "378282246310005", card);
    struct response r;
    movement("/v1/topups", &erin, wallet, card, "600.00", &r);
    response_free(&r);
    /* the receiver has tier 2, whose cap the race cannot reach */
    struct person gina;
    person_signup(&srv, &gina, "+8613400134000", "Gina Sun", "CN");
    char path[128];
    snprintf(path, sizeof(path), "/v1/customers/%s/kyc", gina.id);
    expect_status("POST", path, srv.admin_key,
                  "{\"tier\":2,\"document_type\":\"passport\",\"document_number\":\"G12345678\"}", 200);
    /* 50 x 20.00 against tier 0's 500.00 a day: exactly 25 fit */
    assert_int_equal(race(erin.token, gina.phone, "limit_exceeded"), 25);
    assert_int_equal(wallet_amount(&srv, erin.token, wallet, "balance"), 10000);
    /* tier 1 lifts the limit; now the 100.00 left is what binds: exactly 5 fit */
    snprintf(path, sizeof(path), "/v1/customers/%s/kyc", erin.id);
    expect_status("POST", path, srv.admin_key,
                  "{\"tier\":1,\"document_type\":\"passport\",\"document_number\":\"E12345678\"}", 200);
    assert_int_equal(race(erin.token, gina.phone, "insufficient_funds"), 5);
    assert_int_equal(wallet_amount(&srv, erin.token, wallet, "balance"), 0);
    person_login(&srv, &gina, clock_s);
    struct response list;
    call("GET", "/v1/wallets", gina.token, NULL, &list);
    const char *gina_wallet = jstr(json_array_get(json_object_get(list.json, "data"), 0), "id");
    assert_int_equal(wallet_amount(&srv, gina.token, gina_wallet, "balance"), 60000);
    response_free(&list);
    ledger_clean();
}

int main(int argc, char **argv)
{
    harness_init(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(consumer_story),
        cmocka_unit_test(sessions_guard),
        cmocka_unit_test(bad_input),
        cmocka_unit_test(concurrent_p2p),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
