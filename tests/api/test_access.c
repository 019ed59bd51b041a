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
#include "log_images.h"
#include "mopay/codec.h"
#include "mopay/wallet.h"
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

/* --- sealed values stay in their record --- */

/* Starting the server must fail, and what it says must name the record and the field. */
static void start_refused(const char *row, const char *field)
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
        fail_msg("the server started on a record whose sealed value was swapped (%s)", row);
    }
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    FILE *f = fopen(log_path, "r");
    assert_non_null(f);
    char log[8192];
    size_t n = fread(log, 1, sizeof(log) - 1, f);
    log[n] = '\0';
    fclose(f);
    if (strstr(log, row) == NULL || (strstr(log, field) == NULL && strstr(log, "sealed for another row") == NULL))
        fail_msg("the refusal does not name %s and %s: %s", row, field, log);
}

/* The latest images of the two records of a kind that belong to two customers. */
struct pick {
    const struct mopay_record_kind *kind;
    size_t owner_field;           /* the ID or REF field naming the customer */
    struct mopay_id owners[2];
    uint8_t payload[2][1024];
    size_t len[2];
};

static void pick_image(void *ctx, int64_t seq, uint32_t tag, const uint8_t *payload, size_t len)
{
    (void)seq;
    struct pick *p = ctx;
    struct mopay_codec_span spans[64];
    size_t count = 0;
    if (tag != p->kind->tag)
        return;
    assert_true(mopay_codec_spans(p->kind, payload, len, spans, &count));
    assert_true(count > p->owner_field && len <= sizeof(p->payload[0]));
    const uint8_t *owner = payload + spans[p->owner_field].offset;
    for (int i = 0; i < 2; i++)
        if (spans[p->owner_field].len == 17 && memcmp(owner + 1, p->owners[i].bytes, 16) == 0) {
            memcpy(p->payload[i], payload, len);
            p->len[i] = len;
        }
}

static size_t field_index(const struct mopay_record_kind *kind, const char *name)
{
    for (size_t i = 0; i < kind->field_count; i++)
        if (strcmp(kind->fields[i].name, name) == 0)
            return i;
    fail_msg("%s has no field %s", kind->name, name);
    return 0;
}

/* payload with its field `at` replaced by other's; returns the new length. */
static size_t payload_with(const struct mopay_record_kind *kind, const uint8_t *payload, size_t len,
                           const uint8_t *other, size_t other_len, size_t at, uint8_t *out)
{
    struct mopay_codec_span a[64], b[64];
    size_t na = 0, nb = 0;
    assert_true(mopay_codec_spans(kind, payload, len, a, &na) && mopay_codec_spans(kind, other, other_len, b, &nb));
    assert_true(na > at && nb > at);
    size_t n = 0;
    memcpy(out, payload, a[at].offset);
    n += a[at].offset;
    memcpy(out + n, other + b[at].offset, b[at].len);
    n += b[at].len;
    size_t tail = len - a[at].offset - a[at].len;
    memcpy(out + n, payload + a[at].offset + a[at].len, tail);
    return n + tail;
}

/* A log record holding a copy of each of the two customers' latest images of `kind` with
 * `field` swapped between them stops the server from starting, naming that record: a sealed
 * value opens only in the record it was sealed for. Then the record is taken out again. */
static void swap_refused(const struct mopay_record_kind *kind, const char *owner_field, const char *field)
{
    struct pick p = {.kind = kind, .owner_field = field_index(kind, owner_field)};
    assert_true(mopay_id_parse_text(MOPAY_ID_CUSTOMER, payer.id, &p.owners[0]));
    assert_true(mopay_id_parse_text(MOPAY_ID_CUSTOMER, stranger.id, &p.owners[1]));
    int64_t last = log_scan(srv.db, pick_image, &p);
    assert_true(p.len[0] > 0 && p.len[1] > 0);
    size_t at = field_index(kind, field);
    uint8_t swapped[2][1024], images[4096];
    size_t n = 0;
    for (int i = 0; i < 2; i++) {
        size_t len = payload_with(kind, p.payload[i], p.len[i], p.payload[1 - i], p.len[1 - i], at, swapped[i]);
        n += log_image(kind->tag, swapped[i], len, images + n);
    }
    log_append(srv.db, last + 1, images, n);
    char record[64];
    snprintf(record, sizeof(record), "log record %lld", (long long)(last + 1));
    start_refused(record, field);
    log_delete(srv.db, last + 1);
}

static void sealed_values_stay_in_their_row(void **state)
{
    (void)state;
    assert_int_equal(server_stop(&srv), 0);
    swap_refused(&mopay_wallet_device_kind, "customer", "code_secret");
    swap_refused(&mopay_wallet_source_kind, "customer", "sealed_number");
    swap_refused(&mopay_wallet_customer_kind, "id", "kyc_document_sealed");
    /* merchants' webhook secrets: tests/merchant/test_records.c swaps their images; seals from
     * before they were bound to their row exist only in JSON rows from before the journal, which
     * tests/wallet/test_recovery.c and the upgrade tests move into it */
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
