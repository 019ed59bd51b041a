/* The risk step over HTTP, on a server with a manual clock and the rules alone (no model file, so
 * these decisions are the rules' and the test cannot drift with retraining), then on one with a
 * model made for the test whose score follows the amount (model_elevated, model_high):
 *   each rule fires on the traffic that should fire it and not before: velocity per minute and
 *   per hour, money sent in 24 hours (a threshold from --risk-rules), an amount far above the
 *   customer's own, a large amount from a device added today, a large payment abroad at night,
 *   wrong PINs, card testing, money to many people in an hour, money to a new person after a
 *   device was revoked, and each blocklist (device, phone, card, merchant);
 *   each decision does what it says: approve pays, confirm waits for the PIN (a wrong PIN is
 *   refused and counted, the right one pays), decline moves nothing;
 *   the operator's review queue lists what was flagged with its reasons, and labels it; a fraud
 *   label lowers the customer's trust rating;
 *   the trust rating moves the way its factors say and raises limits within the tier's bounds. */
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
static int64_t clock_s = TEST_CLOCK_START_S;

struct shop {
    char id[48], key[80], qr[600];
};

static struct shop noodles, books;

static int group_setup(void **state)
{
    (void)state;
    static const char *const args[] = {"--check-invariants", "--test-clock", TEST_CLOCK_START, "--risk-model=",
                                       "--risk-rules=amount_24h_max=3000,small_topups_max=3", NULL};
    server_start(&srv, NULL, args);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    return server_stop(&srv) == 0 ? 0 : -1;
}

static void expect(const char *method, const char *path, const char *token, const char *body, long status,
                   const char *code, struct response *out)
{
    api_expect(&srv, method, path, token, body, status, code, out);
}

static void clock_advance(int64_t seconds)
{
    test_clock_advance(&srv, &clock_s, seconds);
}

static void shop_create(struct shop *s, const char *name, const char *country, const char *mcc)
{
    char body[512], path[128];
    snprintf(body, sizeof(body),
             "{\"name\":\"%s\",\"mcc\":\"%s\",\"country\":\"%s\",\"city\":\"Somewhere\",\"currency\":\"CNY\","
             "\"fee_bps\":60,\"settlement_account\":\"ACC-001\"}",
             name, mcc, country);
    struct response r;
    expect("POST", "/v1/merchants", srv.admin_key, body, 201, NULL, &r);
    snprintf(s->id, sizeof(s->id), "%s", jstr(json_object_get(r.json, "merchant"), "id"));
    snprintf(s->key, sizeof(s->key), "%s", jstr(r.json, "api_key"));
    response_free(&r);
    snprintf(path, sizeof(path), "/v1/merchants/%s/qr?format=text", s->id);
    expect("GET", path, s->key, NULL, 200, NULL, &r);
    snprintf(s->qr, sizeof(s->qr), "%.*s", (int)r.len, r.body);
    response_free(&r);
}

/* A customer of China with a CNY wallet, a card and money on it. */
struct customer {
    struct person p;
    char wallet[48], card[48];
};

static void kyc(const struct customer *c, int tier)
{
    char path[96], body[160];
    snprintf(path, sizeof(path), "/v1/customers/%s/kyc", c->p.id);
    snprintf(body, sizeof(body), "{\"tier\":%d,\"document_type\":\"passport\",\"document_number\":\"E1234567\"}", tier);
    expect("POST", path, srv.admin_key, body, 200, NULL, NULL);
}

static void topup(const struct customer *c, const char *amount, long status, const char *code)
{
    char body[256];
    snprintf(body, sizeof(body),
             "{\"wallet_id\":\"%s\",\"amount\":\"%s\",\"currency\":\"CNY\",\"funding_source_id\":\"%s\"}", c->wallet,
             amount, c->card);
    expect("POST", "/v1/topups", c->p.token, body, status, code, NULL);
}

static void customer_new(struct customer *c, const char *phone, const char *name, int tier, const char *card,
                         const char *amount)
{
    person_signup(&srv, &c->p, phone, name, "CN");
    person_login(&srv, &c->p, clock_s);
    if (tier > 0)
        kyc(c, tier);
    struct response r;
    expect("POST", "/v1/wallets", c->p.token, "{\"currency\":\"CNY\"}", 201, NULL, &r);
    snprintf(c->wallet, sizeof(c->wallet), "%s", jstr(r.json, "id"));
    response_free(&r);
    char body[256];
    snprintf(body, sizeof(body),
             "{\"type\":\"card\",\"card\":{\"number\":\"%s\",\"exp_month\":1,\"exp_year\":2031,\"holder\":\"X\"}}",
             card);
    expect("POST", "/v1/funding-sources", c->p.token, body, 201, NULL, &r);
    snprintf(c->card, sizeof(c->card), "%s", jstr(r.json, "id"));
    response_free(&r);
    if (amount != NULL)
        topup(c, amount, 201, NULL);
}

static long long balance(const struct customer *c)
{
    return wallet_amount(&srv, c->p.token, c->wallet, "balance");
}

/* Pays `amount` at the shop's static code: the payment's status, and its id in `id`. */
static const char *pay(const struct customer *c, const struct shop *s, const char *amount, char id[48])
{
    static char status[32];
    char body[1024];
    snprintf(body, sizeof(body), "{\"qr\":\"%s\",\"amount\":\"%s\"}", s->qr, amount);
    struct response r;
    expect("POST", "/v1/payments", c->p.token, body, 201, NULL, &r);
    snprintf(status, sizeof(status), "%s", jstr(r.json, "status"));
    if (id != NULL)
        snprintf(id, 48, "%s", jstr(r.json, "id"));
    if (strcmp(status, "declined") == 0)
        assert_string_equal(jstr(r.json, "decline_code"), "risk_declined");
    response_free(&r);
    return status;
}

/* The review queue's entry for the payment: its action and its reasons joined by commas; false
 * when the queue does not list it. */
static bool review_of(const char *payment_id, char action[16], char reasons[160])
{
    struct response r;
    expect("GET", "/v1/risk/reviews", srv.admin_key, NULL, 200, NULL, &r);
    json_t *data = json_object_get(r.json, "data");
    assert_true(json_is_array(data));
    bool found = false;
    for (size_t i = 0; i < json_array_size(data) && !found; i++) {
        json_t *e = json_array_get(data, i);
        if (strcmp(jstr(json_object_get(e, "payment"), "id"), payment_id) != 0)
            continue;
        found = true;
        assert_string_equal(jstr(e, "review"), "open");
        snprintf(action, 16, "%s", jstr(e, "action"));
        reasons[0] = '\0';
        json_t *list = json_object_get(e, "reasons");
        for (size_t k = 0; k < json_array_size(list); k++)
            snprintf(reasons + strlen(reasons), 160 - strlen(reasons), "%s%s", k > 0 ? "," : "",
                     json_string_value(json_array_get(list, k)));
    }
    response_free(&r);
    return found;
}

/* The payment was flagged with `action` and `reason` among its reasons. */
static void flagged(const char *payment_id, const char *action, const char *reason)
{
    char got_action[16], reasons[160];
    if (!review_of(payment_id, got_action, reasons))
        fail_msg("payment %s is not in the review queue", payment_id);
    if (strcmp(got_action, action) != 0 || strstr(reasons, reason) == NULL)
        fail_msg("payment %s: %s (%s), expected %s with %s", payment_id, got_action, reasons, action, reason);
}

static void confirm(const struct customer *c, const char *payment_id, const char *pin, long status, const char *code)
{
    char path[96], body[64];
    snprintf(path, sizeof(path), "/v1/payments/%s/confirm", payment_id);
    snprintf(body, sizeof(body), "{\"pin\":\"%s\"}", pin);
    struct response r;
    expect("POST", path, c->p.token, body, status, code, &r);
    if (status == 200)
        assert_string_equal(jstr(r.json, "status"), "succeeded");
    response_free(&r);
}

static struct customer ann, ben, cai, dai, eve, fan, gus, hal, ivy, jon, kim, lee, mo;

/* Everyone signs up and tops up on day 0; the rules run on day 2, when their devices are two days
 * old, at 08:00 UTC (16:00 in Beijing). */
static void world(void **state)
{
    (void)state;
    shop_create(&noodles, "Noodle House", "CN", "5812");
    shop_create(&books, "Liberty Books", "US", "5942");
    customer_new(&ann, "+8613800000001", "Ann", 1, "4242424242424242", "2000.00");
    customer_new(&ben, "+8613800000002", "Ben", 0, "4242424242424242", "500.00");
    customer_new(&cai, "+8613800000003", "Cai", 1, "4242424242424242", "5000.00");
    customer_new(&dai, "+8613800000004", "Dai", 0, "4242424242424242", "500.00");
    customer_new(&eve, "+8613800000005", "Eve", 1, "4242424242424242", "900.00");
    customer_new(&fan, "+8613800000006", "Fan", 1, "4242424242424242", "1000.00");
    customer_new(&gus, "+8613800000007", "Gus", 0, "4242424242424242", "500.00");
    customer_new(&hal, "+8613800000008", "Hal", 1, "4242424242424242", "2000.00");
    customer_new(&ivy, "+8613800000009", "Ivy", 0, "378282246310005", NULL);
    customer_new(&jon, "+8613800000010", "Jon", 0, "4242424242424242", "500.00");
    customer_new(&lee, "+8613800000012", "Lee", 1, "4242424242424242", "1000.00");
    customer_new(&mo, "+8613800000013", "Mo", 1, "4242424242424242", "1000.00");
    clock_advance(2 * 86400);
    person_login(&srv, &ann.p, clock_s); /* sessions last less than two days */
    person_login(&srv, &ben.p, clock_s);
    person_login(&srv, &cai.p, clock_s);
    person_login(&srv, &dai.p, clock_s);
    person_login(&srv, &eve.p, clock_s);
    person_login(&srv, &fan.p, clock_s);
    person_login(&srv, &gus.p, clock_s);
    person_login(&srv, &hal.p, clock_s);
    person_login(&srv, &ivy.p, clock_s);
    person_login(&srv, &jon.p, clock_s);
    person_login(&srv, &mo.p, clock_s);
}

/* Five payments in a minute pass; the sixth waits for the PIN (velocity_1m): a wrong PIN is
 * refused, the right one pays. Until then nothing moved. */
static void velocity_per_minute_asks_for_the_pin(void **state)
{
    (void)state;
    char id[48];
    for (int i = 0; i < 5; i++) {
        assert_string_equal(pay(&ann, &noodles, "10.00", id), "succeeded");
        char action[16], reasons[160];
        assert_false(review_of(id, action, reasons)); /* approved: not in the queue */
    }
    assert_string_equal(pay(&ann, &noodles, "10.00", id), "requires_confirmation");
    flagged(id, "confirm", "velocity_1m");
    assert_int_equal(balance(&ann), 200000 - 5000);
    confirm(&ann, id, "000000", 401, "pin_incorrect");
    assert_int_equal(balance(&ann), 200000 - 5000);
    confirm(&ann, id, "123456", 200, NULL);
    assert_int_equal(balance(&ann), 200000 - 6000);
    clock_advance(61); /* the minute's window has passed */
    assert_string_equal(pay(&ann, &noodles, "10.00", NULL), "succeeded");
}

/* Twenty payments an hour, a minute apart, pass; the 21st waits (velocity_1h). */
static void velocity_per_hour(void **state)
{
    (void)state;
    char id[48];
    for (int i = 0; i < 20; i++) {
        assert_string_equal(pay(&ben, &noodles, "1.00", id), "succeeded");
        clock_advance(61);
    }
    assert_string_equal(pay(&ben, &noodles, "1.00", id), "requires_confirmation");
    flagged(id, "confirm", "velocity_1h");
}

/* --risk-rules set amount_24h_max=3000: 2,500 passes, 600 more waits (amount_24h). */
static void money_sent_in_a_day(void **state)
{
    (void)state;
    char id[48];
    assert_string_equal(pay(&cai, &noodles, "1900.00", id), "succeeded");
    assert_string_equal(pay(&cai, &noodles, "600.00", id), "succeeded");
    assert_string_equal(pay(&cai, &noodles, "600.00", id), "requires_confirmation");
    flagged(id, "confirm", "amount_24h");
    clock_advance(61);
}

/* After ten payments of about 10, one of 300 is far above anything before (amount_unusual). */
static void an_amount_far_above_the_customers_own(void **state)
{
    (void)state;
    char id[48];
    for (int i = 0; i < 10; i++) {
        assert_string_equal(pay(&dai, &noodles, i % 2 == 0 ? "9.00" : "11.00", id), "succeeded");
        clock_advance(61);
    }
    assert_string_equal(pay(&dai, &noodles, "250.00", id), "requires_confirmation");
    flagged(id, "confirm", "amount_unusual");
}

/* A new phone for the customer, with its own key, added by `token` (the customer's or the
 * operator's); the caller logs in on it. */
static struct person phone_added(const struct customer *c, const char *token, const char *name)
{
    struct person phone = c->p;
    crypto_sign_keypair(phone.pk, phone.sk);
    char pk64[64], body[256], path[96];
    sodium_bin2base64(pk64, sizeof(pk64), phone.pk, 32, sodium_base64_VARIANT_ORIGINAL);
    snprintf(body, sizeof(body), "{\"public_key\":\"%s\",\"name\":\"%s\"}", pk64, name);
    snprintf(path, sizeof(path), "/v1/customers/%s/devices", c->p.id);
    struct response r;
    expect("POST", path, token, body, 201, NULL, &r);
    snprintf(phone.device_id, sizeof(phone.device_id), "%s", jstr(r.json, "id"));
    response_free(&r);
    return phone;
}

/* The lost-phone button, pressed by the operator. */
static void device_revoke(const char *device_id)
{
    char path[96];
    snprintf(path, sizeof(path), "/v1/devices/%s", device_id);
    expect("DELETE", path, srv.admin_key, NULL, 200, NULL, NULL);
}

/* A P2P transfer: its status, or the problem's code. */
static void p2p(const struct customer *from, const char *to_phone, const char *amount, const char *pin, long status,
                const char *code)
{
    char body[512], pin_field[32] = "";
    if (pin != NULL)
        snprintf(pin_field, sizeof(pin_field), ",\"pin\":\"%s\"", pin);
    snprintf(body, sizeof(body), "{\"to\":{\"phone\":\"%.31s\"},\"amount\":\"%.31s\",\"currency\":\"CNY\"%s}", to_phone,
             amount, pin_field);
    expect("POST", "/v1/transfers", from->p.token, body, status, code, NULL);
}

/* The old phone reported lost, the new one sends money to someone new: the risk step wants the
 * PIN (device_revoked_recently), so the transfer is refused until it comes with it; a wrong PIN
 * is refused too. Nothing moves until the right one. */
static void money_to_someone_new_after_a_lost_phone(void **state)
{
    (void)state;
    struct person phone = phone_added(&lee, srv.admin_key, "new phone");
    device_revoke(lee.p.device_id);
    clock_advance(2 * 86400 + 3600); /* the new phone is no longer new; the revocation is a day old */
    person_login(&srv, &phone, clock_s);
    lee.p = phone;
    p2p(&lee, ann.p.phone, "50.00", NULL, 201, NULL); /* a day after: no longer recent */
    struct person third = phone_added(&lee, srv.admin_key, "third phone");
    device_revoke(lee.p.device_id);
    person_login(&srv, &third, clock_s);
    lee.p = third;
    long long before = balance(&lee);
    p2p(&lee, ann.p.phone, "20.00", NULL, 201, NULL);    /* Ann is not new */
    p2p(&lee, ben.p.phone, "20.00", NULL, 428, "confirmation_required");
    p2p(&lee, ben.p.phone, "20.00", "000000", 401, "pin_incorrect");
    p2p(&lee, ben.p.phone, "20.00", "12345", 422, "pin_format_invalid");
    assert_int_equal(balance(&lee), before - 2000);
    /* with the PIN and an Idempotency-Key: sent twice, it moves the money once */
    const char *const idem[] = {"Idempotency-Key: lee-rent-1", NULL};
    const char *body = "{\"to\":{\"phone\":\"+8613800000002\"},\"amount\":\"20.00\",\"currency\":\"CNY\","
                       "\"pin\":\"123456\"}";
    struct response first, again;
    http_call(&srv, "POST", "/v1/transfers", lee.p.token, body, idem, &first);
    http_call(&srv, "POST", "/v1/transfers", lee.p.token, body, idem, &again);
    assert_int_equal(first.status, 201);
    assert_int_equal(again.status, 201);
    assert_string_equal(jstr(again.json, "id"), jstr(first.json, "id"));
    response_free(&first);
    response_free(&again);
    assert_int_equal(balance(&lee), before - 4000);
    clock_advance(61);
}

/* Money to five people in an hour (mule_fan_out): the fifth waits for the PIN; so does a
 * withdrawal to a sixth account after it. */
static void money_to_many_people_in_an_hour(void **state)
{
    (void)state;
    const struct customer *to[] = {&ann, &ben, &cai, &dai, &eve};
    for (size_t i = 0; i < 4; i++) {
        p2p(&mo, to[i]->p.phone, "10.00", NULL, 201, NULL);
        clock_advance(61);
    }
    p2p(&mo, to[4]->p.phone, "10.00", NULL, 428, "confirmation_required");
    p2p(&mo, to[4]->p.phone, "10.00", "123456", 201, NULL);
    struct response r;
    expect("POST", "/v1/funding-sources", mo.p.token,
           "{\"type\":\"bank_account\",\"bank_account\":{\"iban\":\"GB82 WEST 1234 5698 7654 32\",\"holder\":\"Mo\"}}",
           201, NULL, &r);
    char bank[48], body[256];
    snprintf(bank, sizeof(bank), "%s", jstr(r.json, "id"));
    response_free(&r);
    snprintf(body, sizeof(body),
             "{\"wallet_id\":\"%s\",\"funding_source_id\":\"%s\",\"amount\":\"100.00\",\"currency\":\"CNY\"}",
             mo.wallet, bank);
    long long before = balance(&mo);
    expect("POST", "/v1/withdrawals", mo.p.token, body, 428, "confirmation_required", NULL);
    assert_int_equal(balance(&mo), before);
    snprintf(body, sizeof(body),
             "{\"wallet_id\":\"%s\",\"funding_source_id\":\"%s\",\"amount\":\"100.00\",\"currency\":\"CNY\","
             "\"pin\":\"123456\"}",
             mo.wallet, bank);
    expect("POST", "/v1/withdrawals", mo.p.token, body, 201, NULL, NULL);
    assert_int_equal(balance(&mo), before - 10000);
}

/* A customer of two days adds a new phone and pays 300 from it (new_device_large_amount); 299
 * passes. */
static void a_large_amount_from_a_new_device(void **state)
{
    (void)state;
    struct person phone = phone_added(&eve, eve.p.token, "new phone");
    person_login(&srv, &phone, clock_s);
    eve.p = phone;
    char id[48];
    assert_string_equal(pay(&eve, &noodles, "299.00", id), "succeeded");
    assert_string_equal(pay(&eve, &noodles, "300.00", id), "requires_confirmation");
    flagged(id, "confirm", "new_device_large_amount");
    clock_advance(61);
}

/* Three wrong PINs at log-in, then a payment: it waits (wrong_pins). */
static void wrong_pins_then_a_payment(void **state)
{
    (void)state;
    char id[48];
    assert_string_equal(pay(&fan, &noodles, "20.00", id), "succeeded");
    for (int i = 1; i <= 3; i++) {
        struct response r;
        person_session_try(&srv, &fan.p, clock_s + i, "654321", &r);
        expect_problem(&r, 401, "pin_incorrect", NULL);
        response_free(&r);
    }
    assert_string_equal(pay(&fan, &noodles, "20.00", id), "requires_confirmation");
    flagged(id, "confirm", "wrong_pins");
    /* wrong PINs on the confirmation count toward the lock like a log-in's: two more lock Fan */
    confirm(&fan, id, "000000", 401, "pin_incorrect");
    confirm(&fan, id, "000000", 423, "customer_locked");
    confirm(&fan, id, "123456", 423, "customer_locked");
    assert_int_equal(balance(&fan), 100000 - 2000);
    clock_advance(61);
}

/* Small top-ups, the way stolen cards are tested: three pass, the fourth is declined and moves
 * nothing (--risk-rules small_topups_max=3). */
static void card_testing_is_declined(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++)
        topup(&gus, "1.00", 201, NULL);
    topup(&gus, "1.00", 422, "risk_declined");
    assert_int_equal(wallet_amount(&srv, gus.p.token, gus.wallet, "balance"), 50000 + 300);
    topup(&gus, "50.00", 201, NULL); /* not small: passes */
}

static void block(const char *list, const char *value, bool on)
{
    char body[160];
    snprintf(body, sizeof(body), "{\"list\":\"%s\",\"value\":\"%s\"}", list, value);
    struct response r;
    expect("POST", on ? "/v1/risk/blocklist" : "/v1/risk/blocklist/remove", srv.admin_key, body, 200, NULL, &r);
    assert_true(json_is_true(json_object_get(r.json, "blocked")) == on);
    response_free(&r);
}

/* Each blocklist declines, moving nothing, until the entry is removed. */
static void blocklists_decline(void **state)
{
    (void)state;
    char id[48];
    long long before = balance(&hal);
    block("merchant", noodles.id, true);
    assert_string_equal(pay(&hal, &noodles, "10.00", id), "declined");
    flagged(id, "decline", "blocklisted_merchant");
    block("merchant", noodles.id, false);
    assert_string_equal(pay(&hal, &noodles, "10.00", id), "succeeded");

    block("phone", hal.p.phone, true);
    assert_string_equal(pay(&hal, &noodles, "10.00", id), "declined");
    flagged(id, "decline", "blocklisted_phone");
    block("phone", hal.p.phone, false);

    block("device", hal.p.device_id, true);
    assert_string_equal(pay(&hal, &noodles, "10.00", id), "declined");
    flagged(id, "decline", "blocklisted_device");
    block("device", hal.p.device_id, false);
    assert_int_equal(balance(&hal), before - 1000);

    block("card", "378282246310005", true);
    topup(&ivy, "100.00", 422, "risk_declined");
    assert_int_equal(wallet_amount(&srv, ivy.p.token, ivy.wallet, "balance"), 0);
    block("card", "378282246310005", false);
    topup(&ivy, "100.00", 201, NULL);

    /* bad input changes nothing */
    expect("POST", "/v1/risk/blocklist", srv.admin_key, "{\"list\":\"email\",\"value\":\"x\"}", 422, "field_invalid",
           NULL);
    expect("POST", "/v1/risk/blocklist", srv.admin_key, "{\"list\":\"phone\",\"value\":\"12345\"}", 422,
           "field_invalid", NULL);
    expect("POST", "/v1/risk/blocklist", srv.admin_key, "{\"list\":\"card\",\"value\":\"4242424242424241\"}", 422,
           "field_invalid", NULL);
    expect("POST", "/v1/risk/blocklist", srv.admin_key, "{\"list\":\"device\",\"value\":\"mch_0\"}", 422,
           "field_invalid", NULL);
    /* the operator's alone: to anyone else the route is not there */
    expect("POST", "/v1/risk/blocklist", hal.p.token, "{\"list\":\"phone\",\"value\":\"+8613800000008\"}", 404,
           "route_not_found", NULL);
    assert_string_equal(pay(&hal, &noodles, "10.00", id), "succeeded");
    clock_advance(61);
}

/* A large payment in a country the customer has not paid in, at 02:00 in Beijing
 * (night_abroad); the same at 16:00 passes. */
static void a_large_payment_abroad_at_night(void **state)
{
    (void)state;
    char id[48];
    int64_t to_night = 18 * 3600 - (clock_s % 86400); /* 18:00 UTC is 02:00 in Beijing */
    if (to_night <= 0)
        to_night += 86400;
    clock_advance(to_night);
    person_login(&srv, &jon.p, clock_s);
    assert_string_equal(pay(&jon, &books, "150.00", id), "requires_confirmation");
    flagged(id, "confirm", "night_abroad");
    clock_advance(14 * 3600); /* 16:00 in Beijing */
    person_login(&srv, &jon.p, clock_s);
    assert_string_equal(pay(&jon, &books, "150.00", id), "succeeded");
}

/* The queue is the operator's; a label takes an entry off it, and a fraud label costs the
 * customer trust. */
static void reviews_and_labels(void **state)
{
    (void)state;
    struct response r;
    expect("GET", "/v1/risk/reviews", noodles.key, NULL, 404, "route_not_found", NULL);
    expect("GET", "/v1/risk/reviews", srv.admin_key, NULL, 200, NULL, &r);
    json_t *first = json_array_get(json_object_get(r.json, "data"), 0);
    assert_non_null(first);
    char id[48], customer[48], path[96];
    snprintf(id, sizeof(id), "%s", jstr(json_object_get(first, "payment"), "id"));
    snprintf(customer, sizeof(customer), "%s", jstr(json_object_get(first, "payment"), "customer_id"));
    response_free(&r);
    snprintf(path, sizeof(path), "/v1/customers/%s/trust", customer);
    expect("GET", path, srv.admin_key, NULL, 200, NULL, &r);
    long long trust_before = json_integer_value(json_object_get(r.json, "score"));
    response_free(&r);

    snprintf(path, sizeof(path), "/v1/risk/reviews/%s", id);
    expect("POST", path, srv.admin_key, "{\"label\":\"maybe\"}", 422, "field_invalid", NULL);
    expect("POST", path, srv.admin_key, "{\"label\":\"fraud\"}", 200, NULL, NULL);
    expect("POST", path, srv.admin_key, "{\"label\":\"legitimate\"}", 409, "review_not_open", NULL);
    char action[16], reasons[160];
    assert_false(review_of(id, action, reasons));
    expect("POST", "/v1/risk/reviews/pay_01a1fd4be61004136bf488b866b76cd4", srv.admin_key, "{\"label\":\"fraud\"}",
           404, "resource_not_found", NULL);

    snprintf(path, sizeof(path), "/v1/customers/%s/trust", customer);
    expect("GET", path, srv.admin_key, NULL, 200, NULL, &r);
    long long expected = trust_before - 250 < 350 ? 350 : trust_before - 250; /* the scale starts at 350 */
    assert_int_equal(json_integer_value(json_object_get(r.json, "score")), expected);
    json_t *top = json_array_get(json_object_get(r.json, "factors"), 0);
    assert_string_equal(jstr(top, "factor"), "fraud");
    assert_int_equal(json_integer_value(json_object_get(top, "points")), -250);
    response_free(&r);
}

static long long trust_of(const struct customer *c, const char **top_factor, json_t **keep)
{
    char path[96];
    snprintf(path, sizeof(path), "/v1/customers/%s/trust", c->p.id);
    struct response r;
    expect("GET", path, c->p.token, NULL, 200, NULL, &r);
    long long score = json_integer_value(json_object_get(r.json, "score"));
    *keep = json_incref(r.json);
    *top_factor = jstr(json_array_get(json_object_get(r.json, "factors"), 0), "factor");
    response_free(&r);
    return score;
}

static long long daily_limit(const struct customer *c)
{
    char path[96];
    snprintf(path, sizeof(path), "/v1/wallets/%s", c->wallet);
    struct response r;
    expect("GET", path, c->p.token, NULL, 200, NULL, &r);
    long long v = minor_of(jstr(json_object_get(r.json, "limits"), "daily_outflow"));
    response_free(&r);
    return v;
}

/* A new customer rates 500; identity checks, tenure and a clean record raise it, and from 750
 * the daily limit is a quarter higher; a payment refused for want of funds lowers it, and others
 * cannot read it. */
static void trust_moves_with_its_factors(void **state)
{
    (void)state;
    customer_new(&kim, "+8613800000011", "Kim", 0, "4242424242424242", "100.00");
    json_t *j = NULL;
    const char *top = NULL;
    assert_int_equal(trust_of(&kim, &top, &j), 500);
    json_decref(j);
    kyc(&kim, 2);
    assert_int_equal(trust_of(&kim, &top, &j), 620);
    assert_string_equal(top, "kyc_tier");
    assert_false(json_is_true(json_object_get(j, "tax_refunds_guaranteed")));
    json_decref(j);
    assert_int_equal(daily_limit(&kim), 100000LL * 100);
    clock_advance(300 * 86400);
    person_login(&srv, &kim.p, clock_s);
    assert_int_equal(trust_of(&kim, &top, &j), 770);
    assert_string_equal(top, "tenure");
    assert_true(json_is_true(json_object_get(j, "tax_refunds_guaranteed")));
    assert_int_equal(json_integer_value(json_object_get(j, "limit_bonus_percent")), 25);
    json_decref(j);
    assert_int_equal(daily_limit(&kim), 125000LL * 100);
    /* short of funds: the payment is declined and counted */
    char body[1024];
    snprintf(body, sizeof(body), "{\"qr\":\"%s\",\"amount\":\"500.00\"}", noodles.qr);
    struct response r;
    expect("POST", "/v1/payments", kim.p.token, body, 201, NULL, &r);
    assert_string_equal(jstr(r.json, "status"), "declined");
    assert_string_equal(jstr(r.json, "decline_code"), "insufficient_funds");
    response_free(&r);
    assert_int_equal(trust_of(&kim, &top, &j), 755);
    json_decref(j);
    char path[96];
    snprintf(path, sizeof(path), "/v1/customers/%s/trust", kim.p.id);
    person_login(&srv, &ann.p, clock_s);
    expect("GET", path, ann.p.token, NULL, 404, "resource_not_found", NULL);
}

/* A model file made for this test from the shipped one: every weight 0 but the amount's, so that
 * its score follows the amount alone: CNY 10 approves, 30 asks to confirm (model_elevated) and
 * 100 is past decline_at (model_high). */
static void model_for_amounts(const char *path)
{
    FILE *in = fopen(MOPAY_SOURCE_DIR "/models/risk-v1.txt", "r"), *out = fopen(path, "w");
    assert_non_null(in);
    assert_non_null(out);
    char line[512], name[64];
    double mean, scale, weight;
    while (fgets(line, sizeof(line), in) != NULL) {
        if (sscanf(line, "feature %63s %lf %lf %lf", name, &mean, &scale, &weight) == 4)
            fprintf(out, "feature %s %.17g %.17g %d\n", name, mean, scale, strcmp(name, "log_amount") == 0 ? 10 : 0);
        else if (strncmp(line, "bias ", 5) == 0)
            fprintf(out, "bias 0\n");
        else if (strncmp(line, "confirm_at ", 11) == 0)
            fprintf(out, "confirm_at 0.5\n");
        else if (strncmp(line, "decline_at ", 11) == 0)
            fprintf(out, "decline_at 0.999\n");
        else
            fputs(line, out);
    }
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

/* The model's two rules, on a server of their own (a new database, its clock back at the start):
 * a score past confirm_at asks for the PIN (model_elevated); past decline_at (model_high) it asks
 * for the PIN too while the PIN is not in doubt, and declines once a wrong one was entered. */
static void the_model_decides(void **state)
{
    (void)state;
    char path[] = "/tmp/mopay-test-model.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    model_for_amounts(path);
    assert_int_equal(server_stop(&srv), 0);
    char model_arg[64];
    snprintf(model_arg, sizeof(model_arg), "--risk-model=%s", path);
    const char *const args[] = {"--check-invariants", "--test-clock", TEST_CLOCK_START, model_arg, NULL};
    server_start(&srv, NULL, args);
    clock_s = TEST_CLOCK_START_S;
    unlink(path);
    shop_create(&noodles, "Noodle House", "CN", "5812");
    struct customer nia;
    customer_new(&nia, "+8613800000014", "Nia", 1, "4242424242424242", "500.00"); /* money in: not declined */
    char id[48];
    assert_string_equal(pay(&nia, &noodles, "10.00", id), "succeeded");
    assert_string_equal(pay(&nia, &noodles, "30.00", id), "requires_confirmation");
    flagged(id, "confirm", "model_elevated");
    assert_string_equal(pay(&nia, &noodles, "100.00", id), "requires_confirmation");
    flagged(id, "confirm", "model_high");
    struct response r;
    person_session_try(&srv, &nia.p, clock_s + 1, "654321", &r);
    expect_problem(&r, 401, "pin_incorrect", NULL);
    response_free(&r);
    assert_string_equal(pay(&nia, &noodles, "100.00", id), "declined");
    flagged(id, "decline", "model_high");
    assert_int_equal(balance(&nia), 50000 - 1000);
}

int main(int argc, char **argv)
{
    harness_init(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(world),
        cmocka_unit_test(velocity_per_minute_asks_for_the_pin),
        cmocka_unit_test(velocity_per_hour),
        cmocka_unit_test(money_sent_in_a_day),
        cmocka_unit_test(an_amount_far_above_the_customers_own),
        cmocka_unit_test(a_large_amount_from_a_new_device),
        cmocka_unit_test(wrong_pins_then_a_payment),
        cmocka_unit_test(card_testing_is_declined),
        cmocka_unit_test(money_to_many_people_in_an_hour),
        cmocka_unit_test(blocklists_decline),
        cmocka_unit_test(a_large_payment_abroad_at_night),
        cmocka_unit_test(money_to_someone_new_after_a_lost_phone),
        cmocka_unit_test(reviews_and_labels),
        cmocka_unit_test(trust_moves_with_its_factors),
        cmocka_unit_test(the_model_decides),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
