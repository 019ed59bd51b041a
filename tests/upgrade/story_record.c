/* What the check must see again (story.h): with the wave-1 server restarted on the story's
 * database at the story's last clock, the answers of the GETs that show every stored record, the
 * principals' own views, the idempotent replays and the webhook gauges, one JSON line each. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "story.h"

/* The record kinds the domain writes (`records` rows): the story must have made each. */
static const char *const kinds_required[] = {
    "bill",     "coupon", "customer", "device", "fxrate", "merchant",  "movement", "nfc",     "offer",
    "order",    "payment", "quote",   "refund", "riskblock", "session", "source",   "taxform", "taxrefund",
    "wallet",   "webhook",
};

static json_t *lines; /* written at the end */
static json_t *last_line;

static void line_write(json_t *line)
{
    json_array_append_new(lines, line);
    last_line = line;
}

static void lines_save(const char *path)
{
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    size_t i;
    json_t *line;
    json_array_foreach(lines, i, line) {
        char *text = json_dumps(line, JSON_COMPACT | JSON_SORT_KEYS);
        assert_non_null(text);
        fprintf(out, "%s\n", text);
        free(text);
    }
    assert_int_equal(fclose(out), 0);
}

/* GET path as `as`, kept as an expected line (upgrade_get_line). */
static void expect_get(const char *as, const char *fmt, ...)
{
    char path[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    struct response r;
    http_call(&srv, "GET", path, upgrade_token(fixture, as), NULL, NULL, &r);
    if (r.status != 200)
        printf("note: GET %s as %s answers %ld %s\n", path, as, r.status, r.body ? r.body : "");
    line_write(upgrade_get_line(path, as, &r));
    response_free(&r);
}

static void expect_account(const char *id)
{
    char account[48];
    upgrade_account_of(id, account);
    expect_get("admin", "/v1/ledger/accounts/%s", account);
}

/* The GETs that show one stored record (kinds without a GET of their own show through others:
 * devices in their customer, sources and coupons in their owner's lists, taxforms in their
 * payment, fxrates in the rate list; sessions, nfc tokens, blocklists and webhooks are used). */
static void expect_record(const char *kind, const char *id, json_t *data)
{
    if (strcmp(kind, "customer") == 0) {
        expect_get("admin", "/v1/customers/%s", id);
        expect_get("admin", "/v1/customers/%s/trust", id);
        expect_get("admin", "/v1/wallets?customer_id=%s", id);
    } else if (strcmp(kind, "wallet") == 0) {
        expect_get("admin", "/v1/wallets/%s", id);
        expect_get("admin", "/v1/wallets/%s/transactions?limit=100", id);
        expect_account(id);
    } else if (strcmp(kind, "movement") == 0) {
        expect_get("admin", strncmp(id, "wdr_", 4) == 0 ? "/v1/withdrawals/%s" : "/v1/topups/%s", id);
    } else if (strcmp(kind, "merchant") == 0) {
        expect_get("admin", "/v1/merchants/%s", id);
        expect_get("admin", "/v1/merchants/%s/qr?format=text", id);
        expect_account(id);
    } else if (strcmp(kind, "order") == 0) {
        expect_get("admin", "/v1/orders/%s", id);
    } else if (strcmp(kind, "payment") == 0) {
        expect_get("admin", "/v1/payments/%s", id);
    } else if (strcmp(kind, "refund") == 0) {
        expect_get("admin", "/v1/refunds/%s", id);
    } else if (strcmp(kind, "quote") == 0) {
        expect_get("admin", "/v1/fx/quotes/%s", id);
    } else if (strcmp(kind, "offer") == 0) {
        expect_get("admin", "/v1/offers/%s", id);
    } else if (strcmp(kind, "taxrefund") == 0) {
        expect_get("admin", "/v1/tax-refunds/%s", id);
    } else if (strcmp(kind, "bill") == 0) {
        expect_get("admin", "/v1/bills?biller_id=%s&reference=%s", jstr(data, "biller_id"), jstr(data, "reference"));
    } else if (strcmp(kind, "webhook") == 0) {
        line_write(json_pack("{s:s, s:s, s:s}", "webhook", id, "type", jstr(data, "type"), "status",
                             jstr(data, "status")));
    }
}

/* Reads RECORDS_JSONL and expects each record's GETs; fails when a kind is missing. */
static void expect_records(const char *records_path)
{
    json_t *records = upgrade_jsonl_load(records_path), *r;
    assert_non_null(records);
    json_t *counts = json_object();
    size_t i;
    json_array_foreach(records, i, r) {
        const char *kind = jstr(r, "kind");
        json_t *data = json_loads(jstr(r, "data"), 0, NULL);
        assert_non_null(data);
        expect_record(kind, jstr(r, "id"), data);
        json_decref(data);
        json_int_t n = json_integer_value(json_object_get(counts, kind));
        json_object_set_new(counts, kind, json_integer(n + 1));
    }
    char *said = json_dumps(counts, JSON_COMPACT | JSON_SORT_KEYS);
    printf("records by kind: %s\n", said);
    free(said);
    for (size_t k = 0; k < sizeof(kinds_required) / sizeof(kinds_required[0]); k++) {
        if (json_object_get(counts, kinds_required[k]) == NULL)
            fprintf(stderr, "the story made no record of kind %s\n", kinds_required[k]);
        assert_non_null(json_object_get(counts, kinds_required[k]));
    }
    json_decref(counts);
    json_decref(records);
}

/* What each principal sees of itself, and the credentials that must keep failing. */
static void expect_principals(void)
{
    expect_get("admin", "/v1/ledger/check");
    expect_get("admin", "/v1/risk/reviews?limit=100");
    expect_get("admin", "/v1/fx/rates");
    /* the rates come in the order of a hash table whose key is new at every start */
    json_object_set_new(last_line, "unordered", json_string("data"));
    expect_get("ops", "/v1/ledger/check");
    expect_get("retired", "/v1/ledger/check");
    expect_get("hook_shop", "/v1/merchants/%s", field("hook_shop", "id"));
    expect_get("hook_shop_old", "/v1/merchants/%s", field("hook_shop", "id"));
    expect_get("city_power", "/v1/bills?biller_id=%s&reference=ACC-8", field("city_power", "id"));
    static const char *const customers[] = {"carol", "dave", "mallory", "erin"};
    for (size_t i = 0; i < sizeof(customers) / sizeof(customers[0]); i++) {
        expect_get(customers[i], "/v1/customers/%s", field(customers[i], "id"));
        expect_get(customers[i], "/v1/wallets");
        expect_get(customers[i], "/v1/funding-sources");
        expect_get(customers[i], "/v1/coupons");
    }
    expect_get("carol", "/v1/fx/quotes/%s", jstr(json_object_get(fixture, "story"), "open_quote"));
}

/* Each request the story sent with an Idempotency-Key, sent again: wave 1 answers it byte for
 * byte as the first time, and so must every later version. */
static void expect_replays(void)
{
    json_t *replays = json_object_get(fixture, "replays"), *x;
    size_t i;
    json_array_foreach(replays, i, x) {
        struct response r;
        upgrade_call(&srv, jstr(x, "method"), jstr(x, "path"), upgrade_token(fixture, jstr(x, "as")),
                     jstr(x, "request"), jstr(x, "idempotency_key"), &r);
        if (r.status != json_integer_value(json_object_get(x, "status")) || strcmp(r.body, jstr(x, "text")) != 0)
            fprintf(stderr, "replay of %s %s (%s) differs: %ld %s\n", jstr(x, "method"), jstr(x, "path"),
                    jstr(x, "idempotency_key"), r.status, r.body);
        assert_int_equal(r.status, json_integer_value(json_object_get(x, "status")));
        assert_string_equal(r.body, jstr(x, "text"));
        response_free(&r);
        line_write(json_deep_copy(x));
    }
}

void record_run(const char *fixture_path, const char *records_path, const char *expected_path)
{
    json_error_t e;
    fixture = json_load_file(fixture_path, 0, &e);
    assert_non_null(fixture);
    snprintf(srv.admin_key, sizeof(srv.admin_key), "%s", field("admin", "key"));
    lines = json_array();
    expect_records(records_path);
    expect_principals();
    expect_replays();
    static const char *const metrics[] = {"mopay_webhooks_pending", "mopay_webhooks_dead"};
    for (size_t i = 0; i < 2; i++)
        line_write(json_pack("{s:s, s:I}", "metric", metrics[i], "value",
                             (json_int_t)upgrade_metric(&srv, srv.admin_key, metrics[i])));
    lines_save(expected_path);
    printf("%zu expected answers written to %s\n", json_array_size(lines), expected_path);
    json_decref(lines);
    json_decref(fixture);
}
