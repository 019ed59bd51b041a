/* Who may read what (issue 11, findings 6 and 9), over HTTP on both stores:
 *   an order is read whole by its merchant, the operator and the customer who paid it; any other
 *   customer holding its id sees only its checkout view while it is open, then 404; another
 *   merchant 404 -> an offer is 404 to another merchant, whole to its owner and the operator, and
 *   a public view without budget figures to customers (who can still claim it) -> another
 *   customer's quote answers exactly as an unknown one, read and used in a payment -> a sealed
 *   value (device code secret, card number, KYC document number) copied into another row
 *   directly in the database stops the next start, naming the row (a webhook secret, sealed in its
 *   merchant's journal image, is tests/merchant/test_records.c's); a value sealed
 *   before seals were bound still opens, and is bound to its row at the row's next write. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "consumers.h"
#include "mopay/keys.h"
#include "mopay/store.h"
#include "mopay/text.h"

static struct server srv;
static int64_t clock_s = TEST_CLOCK_START_S;

struct shop {
    char id[48], key[80];
};

static struct shop noodles, rival, books;
static struct person payer, stranger;

static void expect(const char *method, const char *path, const char *token, const char *body, long status,
                   const char *code, struct response *out)
{
    api_expect(&srv, method, path, token, body, status, code, out);
}

static void shop_create(struct shop *s, const char *name, const char *country, const char *currency)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"name\":\"%s\",\"mcc\":\"5812\",\"country\":\"%s\",\"city\":\"Town\",\"currency\":\"%s\","
             "\"fee_bps\":60,\"settlement_account\":\"ACC-1\"}",
             name, country, currency);
    struct response r;
    expect("POST", "/v1/merchants", srv.admin_key, body, 201, NULL, &r);
    snprintf(s->id, sizeof(s->id), "%s", jstr(json_object_get(r.json, "merchant"), "id"));
    snprintf(s->key, sizeof(s->key), "%s", jstr(r.json, "api_key"));
    response_free(&r);
}

/* A customer with a CNY wallet holding 500.00. */
static void customer_funded(struct person *p, const char *phone, const char *name)
{
    person_signup(&srv, p, phone, name, "CN");
    person_login(&srv, p, clock_s);
    struct response r;
    expect("POST", "/v1/wallets", p->token, "{\"currency\":\"CNY\"}", 201, NULL, &r);
    char body[256];
    snprintf(body, sizeof(body), "{\"wallet_id\":\"%s\",\"amount\":\"500.00\",\"currency\":\"CNY\"}", jstr(r.json, "id"));
    response_free(&r);
    expect("POST", "/v1/funding-sources", p->token,
           "{\"type\":\"card\",\"card\":{\"number\":\"4242424242424242\",\"exp_month\":1,\"exp_year\":2031,"
           "\"holder\":\"P\"}}",
           201, NULL, NULL);
    expect("POST", "/v1/topups", p->token, body, 201, NULL, NULL);
    char path[128];
    snprintf(path, sizeof(path), "/v1/customers/%s/kyc", p->id);
    expect("POST", path, srv.admin_key, "{\"tier\":1,\"document_type\":\"passport\",\"document_number\":\"E11223344\"}",
           200, NULL, NULL);
}

static const char *const server_args[] = {"--check-invariants", "--risk=false", "--test-clock", TEST_CLOCK_START,
                                          NULL};

static int group_setup(void **state)
{
    (void)state;
    server_start(&srv, NULL, server_args);
    char body[256];
    snprintf(body, sizeof(body),
             "{\"rates\":[{\"pair\":\"USD/CNY\",\"rate\":\"7.1234\",\"source\":\"test feed\",\"time\":\"%s\"}]}",
             TEST_CLOCK_START);
    expect("PUT", "/v1/fx/rates", srv.admin_key, body, 200, NULL, NULL);
    shop_create(&noodles, "Noodle House", "CN", "CNY");
    shop_create(&rival, "Tea Corner", "CN", "CNY");
    shop_create(&books, "Liberty Books", "US", "USD");
    customer_funded(&payer, "+8613300133001", "Mei Chen");
    customer_funded(&stranger, "+8613300133002", "Jun Zhao");
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    return server_stop(&srv) == 0 ? 0 : -1;
}

static void order_create(const struct shop *s, const char *extra, char id[48])
{
    char body[256];
    snprintf(body, sizeof(body),
             "{\"amount\":\"38.50\",\"currency\":\"CNY\",\"reference\":\"SECRET-REF-7\",\"description\":\"two bowls\"%s}",
             extra);
    struct response r;
    expect("POST", "/v1/orders", s->key, body, 201, NULL, &r);
    snprintf(id, 48, "%s", jstr(r.json, "id"));
    response_free(&r);
}

/* GET the order as `token`: 200 with the whole order (its reference), or the checkout view. */
static void order_read_whole(const char *path, const char *token)
{
    struct response r;
    expect("GET", path, token, NULL, 200, NULL, &r);
    assert_string_equal(jstr(r.json, "reference"), "SECRET-REF-7");
    assert_string_equal(jstr(r.json, "merchant_id"), noodles.id);
    response_free(&r);
}

static void order_read_checkout(const char *path, const char *token)
{
    struct response r;
    expect("GET", path, token, NULL, 200, NULL, &r);
    assert_string_equal(jstr(r.json, "view"), "checkout");
    assert_string_equal(jstr(r.json, "merchant_name"), "Noodle House");
    assert_string_equal(jstr(r.json, "amount"), "38.50");
    assert_string_equal(jstr(r.json, "currency"), "CNY");
    assert_string_equal(jstr(r.json, "description"), "two bowls");
    assert_string_equal(jstr(r.json, "status"), "open");
    assert_non_null(jstr(r.json, "expires_at"));
    assert_null(strstr(r.body, "SECRET-REF-7"));
    assert_null(strstr(r.body, noodles.id));
    assert_null(json_object_get(r.json, "qr"));
    assert_int_equal(json_object_size(r.json), 8);
    response_free(&r);
}

static void orders_who_reads(void **state)
{
    (void)state;
    char order[48], path[128], body[128];
    order_create(&noodles, "", order);
    snprintf(path, sizeof(path), "/v1/orders/%s", order);
    order_read_whole(path, noodles.key);
    order_read_whole(path, srv.admin_key);
    order_read_checkout(path, stranger.token);
    order_read_checkout(path, payer.token);
    expect("GET", path, rival.key, NULL, 404, "resource_not_found", NULL);
    snprintf(body, sizeof(body), "{\"order_id\":\"%s\"}", order);
    expect("POST", "/v1/payments", payer.token, body, 201, NULL, NULL);
    order_read_whole(path, payer.token); /* the customer who paid it */
    order_read_whole(path, noodles.key);
    expect("GET", path, stranger.token, NULL, 404, "resource_not_found", NULL);
    expect("GET", path, rival.key, NULL, 404, "resource_not_found", NULL);
    /* an order past its expiry is nobody else's business either */
    order_create(&noodles, ",\"expires_in\":60", order);
    snprintf(path, sizeof(path), "/v1/orders/%s", order);
    order_read_checkout(path, stranger.token);
    test_clock_advance(&srv, &clock_s, 61);
    expect("GET", path, stranger.token, NULL, 404, "resource_not_found", NULL);
    order_read_whole(path, noodles.key);
    /* an unknown id answers the same */
    expect("GET", "/v1/orders/ord_0000000000000000000000000000beef", stranger.token, NULL, 404, "resource_not_found",
           NULL);
}

static void offer_read_as(const char *path, const char *token, bool whole)
{
    struct response r;
    expect("GET", path, token, NULL, 200, NULL, &r);
    assert_string_equal(jstr(r.json, "name"), "10% off");
    assert_string_equal(jstr(r.json, "percent"), "10.00");
    assert_string_equal(jstr(r.json, "min_spend"), "10.00");
    const char *hidden[] = {"budget", "spent", "claimed", "funded_by"};
    for (size_t i = 0; i < 4; i++)
        assert_true((json_object_get(r.json, hidden[i]) != NULL) == whole);
    if (whole)
        assert_string_equal(jstr(r.json, "budget"), "77.00");
    response_free(&r);
}

static void offers_who_reads(void **state)
{
    (void)state;
    struct response r;
    expect("POST", "/v1/offers", noodles.key,
           "{\"name\":\"10% off\",\"kind\":\"percent\",\"percent\":\"10\",\"min_spend\":\"10.00\","
           "\"budget\":\"77.00\",\"valid_until\":\"2027-01-01T00:00:00Z\"}",
           201, NULL, &r);
    char path[128];
    snprintf(path, sizeof(path), "/v1/offers/%s", jstr(r.json, "id"));
    response_free(&r);
    offer_read_as(path, noodles.key, true);
    offer_read_as(path, srv.admin_key, true);
    offer_read_as(path, stranger.token, false);
    expect("GET", path, rival.key, NULL, 404, "resource_not_found", NULL);
    /* a customer claims it from what it sees; its coupon shows the same public view */
    strcat(path, "/claim");
    expect("POST", path, stranger.token, NULL, 201, NULL, &r);
    json_t *offer = json_object_get(r.json, "offer");
    assert_non_null(offer);
    assert_null(json_object_get(offer, "budget"));
    assert_null(strstr(r.body, "77.00"));
    response_free(&r);
    expect("GET", "/v1/coupons", stranger.token, NULL, 200, NULL, &r);
    assert_null(strstr(r.body, "77.00"));
    response_free(&r);
}

/* Both answers compared whole: another customer's quote must not be told from an unknown one. */
static void expect_same_problem(const char *method, const char *path, const char *token, const char *body_a,
                                const char *body_b)
{
    struct response a, b;
    http_call(&srv, method, path, token, body_a, NULL, &a);
    http_call(&srv, method, path, token, body_b, NULL, &b);
    expect_problem(&a, 404, "resource_not_found", NULL);
    expect_problem(&b, 404, "resource_not_found", NULL);
    const char *keys[] = {"code", "detail", "field", "title"};
    for (size_t i = 0; i < 4; i++) {
        json_t *x = json_object_get(a.json, keys[i]), *y = json_object_get(b.json, keys[i]);
        assert_true(json_equal(x, y) || (x == NULL && y == NULL));
    }
    response_free(&a);
    response_free(&b);
}

static void quotes_of_others(void **state)
{
    (void)state;
    struct response r;
    expect("POST", "/v1/fx/quotes", payer.token,
           "{\"sell_currency\":\"CNY\",\"buy_currency\":\"USD\",\"buy_amount\":\"5.00\",\"lock\":\"5m\"}", 201, NULL, &r);
    char quote[48], path[128], unknown[128];
    snprintf(quote, sizeof(quote), "%s", jstr(r.json, "id"));
    response_free(&r);
    expect("POST", "/v1/orders", books.key, "{\"amount\":\"5.00\",\"currency\":\"USD\",\"reference\":\"B-1\"}", 201,
           NULL, &r);
    char order[48], mine[256], unknown_body[256];
    snprintf(order, sizeof(order), "%s", jstr(r.json, "id"));
    response_free(&r);
    snprintf(path, sizeof(path), "/v1/fx/quotes/%s", quote);
    snprintf(unknown, sizeof(unknown), "/v1/fx/quotes/quo_0000000000000000000000000000beef");
    expect("GET", path, stranger.token, NULL, 404, "resource_not_found", NULL);
    expect("GET", unknown, stranger.token, NULL, 404, "resource_not_found", NULL);
    /* the payer's quote used by the stranger, against an unknown quote: the same answer */
    snprintf(mine, sizeof(mine), "{\"order_id\":\"%s\",\"quote_id\":\"%s\"}", order, quote);
    snprintf(unknown_body, sizeof(unknown_body),
             "{\"order_id\":\"%s\",\"quote_id\":\"quo_0000000000000000000000000000beef\"}", order);
    expect_same_problem("POST", "/v1/payments", stranger.token, mine, unknown_body);
    /* the quote is still the payer's to use */
    expect("GET", path, payer.token, NULL, 200, NULL, NULL);
    expect("POST", "/v1/payments", payer.token, mine, 201, NULL, NULL);
    expect("GET", "/v1/ledger/check", srv.admin_key, NULL, 200, NULL, NULL);
}

/* --- sealed values stay in their row --- */

struct rows {
    char id[2][64];
    json_t *json[2];
    size_t count;
    const char *owner_field, *owners[2]; /* which rows: those whose owner_field is one of these */
};

static bool rows_pick(void *ctx, const char *id, const char *json, size_t len)
{
    struct rows *r = ctx;
    json_t *j = json_loadb(json, len, 0, NULL);
    assert_non_null(j);
    const char *owner = jstr(j, r->owner_field);
    for (size_t i = 0; i < 2 && owner != NULL; i++) {
        if (strcmp(owner, r->owners[i]) == 0 && r->json[i] == NULL) {
            snprintf(r->id[i], sizeof(r->id[i]), "%s", id);
            r->json[i] = j;
            r->count++;
            return true;
        }
    }
    json_decref(j);
    return true;
}

static struct mopay_store *store_open(void)
{
    char err[256];
    struct mopay_store *store = mopay_store_open(srv.db, err, sizeof(err));
    if (store == NULL)
        fail_msg("store: %s", err);
    return store;
}

static void rows_put(struct mopay_store *store, const char *kind, struct rows *r)
{
    for (size_t i = 0; i < 2; i++) {
        char *text = json_dumps(r->json[i], JSON_COMPACT);
        assert_int_equal(store->record_put(store, kind, r->id[i], text, strlen(text), 1), MOPAY_OK);
        free(text);
    }
}

static void fields_swap(struct rows *r, const char *field)
{
    json_t *a = json_incref(json_object_get(r->json[0], field)), *b = json_incref(json_object_get(r->json[1], field));
    assert_non_null(a);
    assert_non_null(b);
    json_object_set_new(r->json[0], field, b);
    json_object_set_new(r->json[1], field, a);
}

/* `mopay serve` on the stopped server's database must exit non-zero, its log naming `row`. */
static void start_refused(const char *row)
{
    char keyfile[256], log_path[256];
    snprintf(keyfile, sizeof(keyfile), "%s/master.key", srv.dir);
    snprintf(log_path, sizeof(log_path), "%s/refused.log", srv.dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int log = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(log, STDERR_FILENO);
        dup2(log, STDOUT_FILENO);
        execl(harness_mopay_binary(), "mopay", "serve", "--db", srv.db, "--master-key-file", keyfile, "--listen",
              "127.0.0.1:0", "--threads", "1", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    for (int i = 0; i < 800 && waitpid(pid, &status, WNOHANG) == 0; i++)
        usleep(25000);
    if (kill(pid, 0) == 0 && waitpid(pid, &status, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("the server started on a row whose sealed value was swapped (%s)", row);
    }
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    FILE *f = fopen(log_path, "r");
    assert_non_null(f);
    char log[8192];
    size_t n = fread(log, 1, sizeof(log) - 1, f);
    log[n] = '\0';
    fclose(f);
    if (strstr(log, row) == NULL || strstr(log, "sealed for another row") == NULL)
        fail_msg("the refusal does not name %s: %s", row, log);
}

/* Swaps `field` between the two rows of `kind` whose `owner_field` are a and b; the start is
 * refused naming one of them; swapped back, the rows are as they were. */
static void swap_refused(const char *kind, const char *owner_field, const char *a, const char *b, const char *field)
{
    struct rows r = {.owner_field = owner_field, .owners = {a, b}};
    struct mopay_store *store = store_open();
    assert_int_equal(store->records_load(store, kind, rows_pick, &r), MOPAY_OK);
    assert_int_equal(r.count, 2);
    fields_swap(&r, field);
    rows_put(store, kind, &r);
    store->close(store);
    start_refused(strcmp(r.id[0], r.id[1]) < 0 ? r.id[0] : r.id[1]); /* rows load in id order */
    store = store_open();
    fields_swap(&r, field);
    rows_put(store, kind, &r);
    store->close(store);
    json_decref(r.json[0]);
    json_decref(r.json[1]);
}

/* The payer's device row as it was sealed before seals were bound to their row: no associated
 * data, the secretbox layout. */
static void device_seal_make_legacy(void)
{
    char keyfile[256], err[256], ad[MOPAY_SEAL_AD_BYTES];
    snprintf(keyfile, sizeof(keyfile), "%s/master.key", srv.dir);
    const struct mopay_keys *keys = mopay_keys_load(keyfile, err, sizeof(err));
    assert_non_null(keys);
    struct rows r = {.owner_field = "customer_id", .owners = {payer.id, "-"}};
    struct mopay_store *store = store_open();
    assert_int_equal(store->records_load(store, "device", rows_pick, &r), MOPAY_OK);
    assert_int_equal(r.count, 1);
    uint8_t secret[32], old[32 + MOPAY_SEAL_OVERHEAD];
    mopay_seal_ad(ad, "device", r.id[0], "code_secret");
    assert_true(mopay_unseal_b64(keys->secret_seal, ad, jstr(r.json[0], "code_secret_sealed"), secret, 32, NULL));
    mopay_keys_seal(keys->secret_seal, secret, 32, old);
    char b64[sodium_base64_ENCODED_LEN(sizeof(old), sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof(b64), old, sizeof(old), sodium_base64_VARIANT_ORIGINAL);
    json_object_set_new(r.json[0], "code_secret_sealed", json_string(b64));
    char *text = json_dumps(r.json[0], JSON_COMPACT);
    assert_int_equal(store->record_put(store, "device", r.id[0], text, strlen(text), 1), MOPAY_OK);
    free(text);
    json_decref(r.json[0]);
    store->close(store);
    mopay_keys_free(keys);
}

static unsigned char device_seal_version(void)
{
    struct rows r = {.owner_field = "customer_id", .owners = {payer.id, "-"}};
    struct mopay_store *store = store_open();
    assert_int_equal(store->records_load(store, "device", rows_pick, &r), MOPAY_OK);
    store->close(store);
    uint8_t sealed[128];
    size_t len = 0;
    const char *b64 = jstr(r.json[0], "code_secret_sealed");
    assert_int_equal(sodium_base642bin(sealed, sizeof(sealed), b64, strlen(b64), NULL, &len, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    json_decref(r.json[0]);
    return len == 32 + MOPAY_SEAL_OVERHEAD ? 1 : sealed[0];
}

static void sealed_values_stay_in_their_row(void **state)
{
    (void)state;
    assert_int_equal(server_stop(&srv), 0);
    swap_refused("device", "customer_id", payer.id, stranger.id, "code_secret_sealed");
    swap_refused("source", "customer_id", payer.id, stranger.id, "number_sealed");
    swap_refused("customer", "id", payer.id, stranger.id, "kyc_document_sealed");
    /* merchants have no rows: their secrets are sealed in their journal images, which
     * tests/merchant/test_records.c swaps (a_sealed_secret_opens_only_in_its_row) */
    device_seal_make_legacy();
    assert_int_equal(device_seal_version(), 1);
    server_start(&srv, &srv, server_args); /* the legacy seal opens */
    person_login(&srv, &payer, clock_s);   /* writes the device row */
    assert_int_equal(server_stop(&srv), 0);
    assert_int_equal(device_seal_version(), MOPAY_SEAL_VERSION_AD);
    server_start(&srv, &srv, server_args);
    expect("GET", "/v1/ledger/check", srv.admin_key, NULL, 200, NULL, NULL);
}

int main(int argc, char **argv)
{
    harness_init(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(orders_who_reads),
        cmocka_unit_test(offers_who_reads),
        cmocka_unit_test(quotes_of_others),
        cmocka_unit_test(sealed_values_stay_in_their_row),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
