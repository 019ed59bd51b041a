/* The route fuzzer's world: both sides' merchants, customers and resources, made over HTTP. */
#include "fuzz_world.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

const char *const fuzz_principal_names[P_COUNT] = {"none", "operator", "merchant A", "customer A", "merchant B",
                                                   "customer B"};

int fuzz_side(int principal)
{
    return principal == P_MERCHANT_A || principal == P_CUSTOMER_A ? 0
           : principal == P_MERCHANT_B || principal == P_CUSTOMER_B ? 1
                                                                     : -1;
}

void fuzz_world_remember(struct fuzz_world *w, const char *kind, const char *value, int owner)
{
    if (value == NULL || value[0] == '\0' || w->owned_count == FUZZ_OWNED_MAX)
        return;
    /* value may be another remembered one's: copied by length, cut to fit */
    size_t kind_len = strnlen(kind, sizeof(w->owned[0].kind) - 1);
    size_t value_len = strnlen(value, sizeof(w->owned[0].value) - 1);
    struct fuzz_owned o;
    memset(&o, 0, sizeof(o));
    memcpy(o.kind, kind, kind_len);
    memcpy(o.value, value, value_len);
    o.owner = owner;
    w->owned[w->owned_count++] = o;
}

const struct fuzz_owned *fuzz_world_pick_owned(const struct fuzz_world *w, const char *kind, int owner, unsigned nth)
{
    const struct fuzz_owned *found[FUZZ_OWNED_MAX];
    size_t n = 0;
    for (size_t i = 0; i < w->owned_count; i++) {
        const struct fuzz_owned *o = &w->owned[i];
        bool mine = o->owner == owner || (fuzz_side(owner) >= 0 && fuzz_side(o->owner) == fuzz_side(owner)) ||
                    o->owner == P_OPERATOR;
        if (strcmp(o->kind, kind) == 0 && (owner < 0 || mine))
            found[n++] = o;
    }
    return n == 0 ? NULL : found[nth % n];
}

const char *fuzz_world_pick(const struct fuzz_world *w, const char *kind, int owner, unsigned nth)
{
    const struct fuzz_owned *o = fuzz_world_pick_owned(w, kind, owner, nth);
    return o != NULL ? o->value : NULL;
}

/* A setup request that must succeed (200 or 201): remembers the reply's "id" as `kind`, owned by
 * `owner`. The reply goes to `out` when given. */
static void make(struct fuzz_world *w, const char *method, const char *path, int as, const char *body,
                 const char *kind, int owner, struct response *out)
{
    struct response r;
    http_call(&w->srv, method, path, w->token[as][0] ? w->token[as] : NULL, body, NULL, &r);
    if (r.status < 200 || r.status > 201)
        fprintf(stderr, "fuzz setup: %s %s -> %ld %s\n", method, path, r.status, r.body ? r.body : "");
    assert_true(r.status >= 200 && r.status <= 201);
    if (kind != NULL)
        fuzz_world_remember(w, kind, jstr(r.json, "id"), owner);
    if (out != NULL)
        *out = r;
    else
        response_free(&r);
}

void fuzz_world_merchant_new(struct fuzz_world *w, int owner, const char *name)
{
    int side = fuzz_side(owner);
    char body[512];
    snprintf(body, sizeof(body),
             "{\"name\":\"%s\",\"mcc\":\"5812\",\"country\":\"CN\",\"city\":\"Shanghai\",\"currency\":\"CNY\","
             "\"fee_bps\":60,\"settlement_account\":\"CN-ACC-%c\",\"webhook_url\":\"\"}",
             name, 'A' + side);
    struct response r;
    make(w, "POST", "/v1/merchants", P_OPERATOR, body, NULL, owner, &r);
    json_t *m = json_object_get(r.json, "merchant");
    snprintf(w->merchant_id[side], sizeof(w->merchant_id[side]), "%s", jstr(m, "id"));
    snprintf(w->token[owner], sizeof(w->token[owner]), "%s", jstr(r.json, "api_key"));
    fuzz_world_remember(w, "/v1/merchants/", jstr(m, "id"), owner);
    fuzz_world_remember(w, "secret", jstr(r.json, "api_key"), owner);
    fuzz_world_remember(w, "secret", jstr(r.json, "webhook_secret"), owner);
    response_free(&r);
}

void fuzz_world_customer_new(struct fuzz_world *w, int owner, const char *phone, const char *name)
{
    int side = fuzz_side(owner);
    struct person *p = &w->customer[side];
    snprintf(w->phone[side], sizeof(w->phone[side]), "%s", phone);
    person_signup(&w->srv, p, phone, name, "CN");
    person_login(&w->srv, p, w->clock_s);
    memcpy(w->token[owner], p->token, sizeof(w->token[owner]));
    fuzz_world_remember(w, "/v1/customers/", p->id, owner);
    fuzz_world_remember(w, "phone", phone, owner);
    fuzz_world_remember(w, "/v1/devices/", p->device_id, owner);
    fuzz_world_remember(w, "secret", p->token, owner);
    fuzz_world_remember(w, "secret", p->secret_b64, owner);
    char path[128];
    snprintf(path, sizeof(path), "/v1/customers/%s/kyc", p->id);
    api_expect(&w->srv, "POST", path, w->token[P_OPERATOR],
               "{\"tier\":2,\"document_type\":\"passport\",\"document_number\":\"E11223344\"}", 200, NULL, NULL);
}

/* A setup request's reply "id", copied to `id`. */
static void make_id(struct fuzz_world *w, const char *path, int owner, const char *body, const char *kind, char *id)
{
    struct response r;
    make(w, "POST", path, owner, body, kind, owner, &r);
    snprintf(id, 48, "%s", jstr(r.json, "id"));
    response_free(&r);
}

void fuzz_world_money_new(struct fuzz_world *w, int owner)
{
    char wallet[48], card[48], bank[48], body[512];
    make_id(w, "/v1/wallets", owner, "{\"currency\":\"CNY\"}", "/v1/wallets/", wallet);
    make_id(w, "/v1/funding-sources", owner,
            "{\"type\":\"card\",\"card\":{\"number\":\"4242424242424242\",\"exp_month\":1,\"exp_year\":2031,"
            "\"holder\":\"F\"}}",
            "/v1/funding-sources/", card);
    make_id(w, "/v1/funding-sources", owner,
            "{\"type\":\"bank_account\",\"bank_account\":{\"iban\":\"GB82 WEST 1234 5698 7654 32\",\"holder\":\"F\"}}",
            "/v1/funding-sources/", bank);
    snprintf(body, sizeof(body), "{\"wallet_id\":\"%s\",\"funding_source_id\":\"%s\",\"amount\":\"5000.00\","
             "\"currency\":\"CNY\"}", wallet, card);
    make(w, "POST", "/v1/topups", owner, body, "/v1/topups/", owner, NULL);
    snprintf(body, sizeof(body), "{\"wallet_id\":\"%s\",\"funding_source_id\":\"%s\",\"amount\":\"1.00\","
             "\"currency\":\"CNY\"}", wallet, bank);
    make(w, "POST", "/v1/withdrawals", owner, body, "/v1/withdrawals/", owner, NULL);
}

/* An open order, a paid one and its partial refund, an offer and its claimed coupon, a quote. */
static void commerce_make(struct fuzz_world *w, int side)
{
    int merchant = side == 0 ? P_MERCHANT_A : P_MERCHANT_B, customer = merchant + 1;
    char body[512], path[128];
    struct response r;
    for (int paid = 0; paid < 2; paid++) {
        snprintf(body, sizeof(body), "{\"amount\":\"12.00\",\"currency\":\"CNY\",\"reference\":\"FZREF-%c%d\","
                 "\"description\":\"fuzz\",\"expires_in\":86400}", 'A' + side, paid);
        make(w, "POST", "/v1/orders", merchant, body, "/v1/orders/", merchant, &r);
        w->owned[w->owned_count - 1].open_order = !paid;
        snprintf(body, sizeof(body), "FZREF-%c%d", 'A' + side, paid);
        fuzz_world_remember(w, "reference", body, merchant);
        snprintf(w->owned[w->owned_count - 1].of, sizeof(w->owned[0].of), "%s", jstr(r.json, "id"));
        if (!paid)
            snprintf(w->order_qr[side], sizeof(w->order_qr[side]), "%s", jstr(r.json, "qr"));
        snprintf(body, sizeof(body), "{\"order_id\":\"%s\"}", jstr(r.json, "id"));
        response_free(&r);
    }
    make(w, "POST", "/v1/payments", customer, body, "/v1/payments/", customer, NULL);
    snprintf(body, sizeof(body), "{\"payment_id\":\"%s\",\"amount\":\"1.00\",\"reason\":\"fuzz\"}",
             fuzz_world_pick(w, "/v1/payments/", customer, 0));
    make(w, "POST", "/v1/refunds", merchant, body, "/v1/refunds/", merchant, NULL);
    make(w, "POST", "/v1/offers", merchant,
         "{\"name\":\"1 off\",\"kind\":\"fixed\",\"amount\":\"1.00\",\"min_spend\":\"5.00\",\"budget\":\"100.00\","
         "\"valid_until\":\"2027-06-01T00:00:00Z\",\"per_customer_limit\":1}",
         "/v1/offers/", merchant, NULL);
    snprintf(path, sizeof(path), "/v1/offers/%s/claim", fuzz_world_pick(w, "/v1/offers/", merchant, 0));
    make(w, "POST", path, customer, NULL, "coupon", customer, NULL);
    make(w, "POST", "/v1/fx/quotes", customer,
         "{\"sell_currency\":\"CNY\",\"buy_currency\":\"USD\",\"sell_amount\":\"10.00\",\"lock\":\"10m\"}",
         "/v1/fx/quotes/", customer, NULL);
    snprintf(path, sizeof(path), "/v1/devices/%s/nfc-keys", w->customer[side].device_id);
    make(w, "POST", path, customer, "{\"keys\":1,\"taps_per_key\":5}", NULL, customer, &r);
    fuzz_world_remember(w, "nfc", jstr(r.json, "token"), customer);
    response_free(&r);
}

/* The operator's: a second admin key, FX rates, a biller and its bill, ledger accounts and a
 * transfer between them. */
static void operator_make(struct fuzz_world *w)
{
    char body[512];
    make(w, "POST", "/v1/admin-keys", P_OPERATOR, "{\"name\":\"fuzz\"}", "/v1/admin-keys/", P_OPERATOR, NULL);
    snprintf(body, sizeof(body),
             "{\"rates\":[{\"pair\":\"USD/CNY\",\"rate\":\"7.1234\",\"source\":\"fuzz\",\"time\":\"%s\"}]}",
             TEST_CLOCK_START);
    make(w, "PUT", "/v1/fx/rates", P_OPERATOR, body, NULL, P_OPERATOR, NULL);
    struct response r;
    make(w, "POST", "/v1/billers", P_OPERATOR,
         "{\"name\":\"Fuzz Power\",\"mcc\":\"4900\",\"country\":\"CN\",\"city\":\"Beijing\",\"currency\":\"CNY\","
         "\"fee_bps\":0,\"settlement_account\":\"CN-BILL\",\"webhook_url\":\"\"}",
         NULL, P_OPERATOR, &r);
    fuzz_world_remember(w, "biller", jstr(json_object_get(r.json, "merchant"), "id"), P_OPERATOR);
    response_free(&r);
    snprintf(body, sizeof(body), "{\"biller_id\":\"%s\",\"reference\":\"ACC-1\",\"amount\":\"50.00\","
             "\"due_date\":\"2027-03-01T00:00:00Z\",\"partial_allowed\":true}", fuzz_world_pick(w, "biller", -1, 0));
    make(w, "POST", "/v1/bills", P_OPERATOR, body, NULL, P_OPERATOR, NULL);
    for (int i = 0; i < 2; i++)
        make(w, "POST", "/v1/ledger/accounts", P_OPERATOR, "{\"currency\":\"CNY\"}", "/v1/ledger/accounts/",
             P_OPERATOR, NULL);
    snprintf(body, sizeof(body), "{\"transfers\":[{\"debit_account_id\":\"%s\",\"credit_account_id\":\"%s\","
             "\"amount\":\"1.00\",\"currency\":\"CNY\",\"code\":1}]}",
             fuzz_world_pick(w, "/v1/ledger/accounts/", -1, 0), fuzz_world_pick(w, "/v1/ledger/accounts/", -1, 1));
    make(w, "POST", "/v1/ledger/transfers", P_OPERATOR, body, NULL, P_OPERATOR, &r);
    fuzz_world_remember(w, "/v1/ledger/transfers/", jstr(json_array_get(json_object_get(r.json, "results"), 0), "id"),
                        P_OPERATOR);
    response_free(&r);
}

void fuzz_world_setup(struct fuzz_world *w)
{
    static const char *const args[] = {"--check-invariants", "--risk=false", "--test-clock", TEST_CLOCK_START,
                                       "--session-ttl", "31536000", NULL};
    memset(w, 0, sizeof(*w));
    w->clock_s = TEST_CLOCK_START_S;
    server_start(&w->srv, NULL, args);
    snprintf(w->token[P_OPERATOR], sizeof(w->token[P_OPERATOR]), "%s", w->srv.admin_key);
    fuzz_world_remember(w, "secret", w->srv.admin_key, P_OPERATOR);
    operator_make(w);
    for (int side = 0; side < 2; side++) {
        fuzz_world_merchant_new(w, side == 0 ? P_MERCHANT_A : P_MERCHANT_B, side == 0 ? "Fuzz Shop A" : "Fuzz Shop B");
        fuzz_world_customer_new(w, side == 0 ? P_CUSTOMER_A : P_CUSTOMER_B,
                                side == 0 ? "+8613900139000" : "+8613900139001", side == 0 ? "Fuzz Alice" : "Fuzz Bob");
        fuzz_world_money_new(w, side == 0 ? P_CUSTOMER_A : P_CUSTOMER_B);
        commerce_make(w, side);
    }
}
