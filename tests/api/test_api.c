/* The HTTP foundation, end to end: routing, authentication, every kind of bad input, the
 * Idempotency-Key contract, admin keys, metrics, restarts and graceful shutdown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "harness.h"
#include "mopay/store.h"

static struct server srv;

static int group_setup(void **state)
{
    (void)state;
    server_start(&srv, NULL, NULL);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    return server_stop(&srv) == 0 ? 0 : -1;
}

/* Creates an admin key with the given name; returns its secret in `key` and id in `id`. */
static void create_admin_key(const char *token, const char *name, char *key, char *id)
{
    char body[128];
    snprintf(body, sizeof(body), "{\"name\":\"%s\"}", name);
    struct response r;
    http_call(&srv, "POST", "/v1/admin-keys", token, body, NULL, &r);
    assert_int_equal(r.status, 201);
    strcpy(key, json_string_value(json_object_get(r.json, "key")));
    strcpy(id, json_string_value(json_object_get(r.json, "id")));
    response_free(&r);
}

static void healthz_answers(void **state)
{
    (void)state;
    struct response r;
    char rid[128], type[64];
    http_call(&srv, "GET", "/healthz", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "ok");
    assert_true(response_header(&r, "x-request-id", rid, sizeof(rid)));
    assert_memory_equal(rid, "req_", 4);
    assert_int_equal(strlen(rid), 36);
    assert_true(response_header(&r, "content-type", type, sizeof(type)));
    assert_string_equal(type, "application/json");
    response_free(&r);
}

static void unknown_route_is_404(void **state)
{
    (void)state;
    struct response r;
    http_call(&srv, "GET", "/v1/nothing-here", srv.admin_key, NULL, NULL, &r);
    expect_problem(&r, 404, "route_not_found", NULL);
    response_free(&r);
    http_call(&srv, "GET", "/v1/admin-keys/x/y/z", NULL, NULL, NULL, &r);
    expect_problem(&r, 404, "route_not_found", NULL);
    response_free(&r);
}

static void wrong_method_is_405(void **state)
{
    (void)state;
    struct response r;
    char allow[64];
    http_call(&srv, "PUT", "/healthz", NULL, "{}", NULL, &r);
    expect_problem(&r, 405, "method_not_allowed", NULL);
    assert_true(response_header(&r, "allow", allow, sizeof(allow)));
    assert_string_equal(allow, "GET");
    response_free(&r);
    http_call(&srv, "GET", "/v1/admin-keys", srv.admin_key, NULL, NULL, &r);
    expect_problem(&r, 405, "method_not_allowed", NULL);
    response_free(&r);
}

static void bearer_token_required(void **state)
{
    (void)state;
    struct response r;
    http_call(&srv, "POST", "/v1/admin-keys", NULL, "{\"name\":\"x\"}", NULL, &r);
    expect_problem(&r, 401, "auth_missing", NULL);
    response_free(&r);
    http_call(&srv, "POST", "/v1/admin-keys", "ak_0000", "{\"name\":\"x\"}", NULL, &r);
    expect_problem(&r, 401, "auth_invalid", NULL);
    response_free(&r);
    const char *basic[] = {"Authorization: Basic YWRtaW46YWRtaW4=", NULL};
    http_call(&srv, "POST", "/v1/admin-keys", NULL, "{\"name\":\"x\"}", basic, &r);
    expect_problem(&r, 401, "auth_invalid", NULL);
    response_free(&r);
    /* a near miss: the right key with one digit changed */
    char wrong[128];
    strcpy(wrong, srv.admin_key);
    wrong[10] = wrong[10] == '0' ? '1' : '0';
    http_call(&srv, "DELETE", "/v1/admin-keys/adk_00000000000000000000000000000000", wrong, NULL, NULL, &r);
    expect_problem(&r, 401, "auth_invalid", NULL);
    response_free(&r);
}

static void malformed_json_is_400(void **state)
{
    (void)state;
    struct response r;
    const char *bodies[] = {"{\"name\":", "{name: \"x\"}", "{\"name\":\"x\"} trailing", "{\"name\":\"x\",}",
                            "{\"name\":\"x\",\"name\":\"y\"}", "\xff\xfe"};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        http_call(&srv, "POST", "/v1/admin-keys", srv.admin_key, bodies[i], NULL, &r);
        expect_problem(&r, 400, "json_malformed", NULL);
        response_free(&r);
    }
}

static void wrong_types_are_422(void **state)
{
    (void)state;
    struct response r;
    const char *bodies[] = {"{\"name\":5}", "{\"name\":null}", "{\"name\":[\"x\"]}", "{\"name\":true}"};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        http_call(&srv, "POST", "/v1/admin-keys", srv.admin_key, bodies[i], NULL, &r);
        expect_problem(&r, 422, "field_wrong_type", "/name");
        response_free(&r);
    }
    http_call(&srv, "POST", "/v1/admin-keys", srv.admin_key, "[1,2]", NULL, &r);
    expect_problem(&r, 422, "field_wrong_type", "");
    response_free(&r);
}

static void missing_and_unknown_fields_are_422(void **state)
{
    (void)state;
    struct response r;
    http_call(&srv, "POST", "/v1/admin-keys", srv.admin_key, "{}", NULL, &r);
    expect_problem(&r, 422, "field_missing", "/name");
    response_free(&r);
    http_call(&srv, "POST", "/v1/admin-keys", srv.admin_key, "{\"name\":\"x\",\"a/b~c\":1}", NULL, &r);
    expect_problem(&r, 422, "field_unknown", "/a~1b~0c");
    response_free(&r);
    http_call(&srv, "POST", "/v1/admin-keys", srv.admin_key, "{\"name\":\"\"}", NULL, &r);
    expect_problem(&r, 422, "field_invalid", "/name");
    response_free(&r);
    char long_name[128];
    snprintf(long_name, sizeof(long_name), "{\"name\":\"%065d\"}", 0);
    http_call(&srv, "POST", "/v1/admin-keys", srv.admin_key, long_name, NULL, &r);
    expect_problem(&r, 422, "field_invalid", "/name");
    response_free(&r);
    /* no body at all */
    http_call(&srv, "POST", "/v1/admin-keys", srv.admin_key, NULL, NULL, &r);
    expect_problem(&r, 400, "body_required", NULL);
    response_free(&r);
}

static void oversize_body_is_413(void **state)
{
    (void)state;
    size_t n = 64 * 1024 + 1;
    char *body = malloc(n + 1);
    memset(body, ' ', n);
    body[0] = '{';
    body[n - 1] = '}';
    body[n] = '\0';
    struct response r;
    http_call(&srv, "POST", "/v1/admin-keys", srv.admin_key, body, NULL, &r);
    expect_problem(&r, 413, "body_too_large", NULL);
    response_free(&r);
    free(body);
}

static void too_deep_json_is_400(void **state)
{
    (void)state;
    char body[256];
    size_t n = 0;
    body[n++] = '{';
    memcpy(body + n, "\"name\":", 7);
    n += 7;
    for (int i = 0; i < 40; i++)
        body[n++] = '[';
    for (int i = 0; i < 40; i++)
        body[n++] = ']';
    body[n++] = '}';
    body[n] = '\0';
    struct response r;
    http_call(&srv, "POST", "/v1/admin-keys", srv.admin_key, body, NULL, &r);
    expect_problem(&r, 400, "json_too_deep", NULL);
    response_free(&r);
    /* brackets inside strings do not count */
    http_call(&srv, "POST", "/v1/admin-keys", srv.admin_key,
              "{\"name\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}", NULL, &r);
    assert_int_equal(r.status, 201);
    response_free(&r);
}

static void wrong_content_type_is_415(void **state)
{
    (void)state;
    struct response r;
    const char *form[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    http_call(&srv, "POST", "/v1/admin-keys", srv.admin_key, "{\"name\":\"x\"}", form, &r);
    expect_problem(&r, 415, "content_type_unsupported", NULL);
    response_free(&r);
}

static void oversize_headers_are_431(void **state)
{
    (void)state;
    static char big[7000];
    memcpy(big, "X-Padding: ", 11);
    memset(big + 11, 'a', sizeof(big) - 12);
    big[sizeof(big) - 1] = '\0';
    static char big2[3000];
    memcpy(big2, "X-Padding-2: ", 13);
    memset(big2 + 13, 'b', sizeof(big2) - 14);
    big2[sizeof(big2) - 1] = '\0';
    const char *headers[] = {big, big2, NULL};
    struct response r;
    http_call(&srv, "GET", "/healthz", NULL, NULL, headers, &r);
    expect_problem(&r, 431, "headers_too_large", NULL);
    response_free(&r);
}

static void idempotency_key_replays_and_conflicts(void **state)
{
    (void)state;
    struct response first, again, other;
    const char *key[] = {"Idempotency-Key: idem-test-1", NULL};
    http_call(&srv, "POST", "/v1/admin-keys", srv.admin_key, "{\"name\":\"idem\"}", key, &first);
    assert_int_equal(first.status, 201);
    http_call(&srv, "POST", "/v1/admin-keys", srv.admin_key, "{\"name\":\"idem\"}", key, &again);
    assert_int_equal(again.status, 201);
    assert_int_equal(first.len, again.len);
    assert_memory_equal(first.body, again.body, first.len); /* the same key, not a second one */
    http_call(&srv, "POST", "/v1/admin-keys", srv.admin_key, "{\"name\":\"idem2\"}", key, &other);
    expect_problem(&other, 409, "idempotency_key_reused", NULL);
    response_free(&other);
    /* the same key from another principal is another key */
    char key2[128], id2[64];
    create_admin_key(srv.admin_key, "second", key2, id2);
    http_call(&srv, "POST", "/v1/admin-keys", key2, "{\"name\":\"idem\"}", key, &other);
    assert_int_equal(other.status, 201);
    assert_string_not_equal(json_string_value(json_object_get(other.json, "id")),
                            json_string_value(json_object_get(first.json, "id")));
    response_free(&other);
    /* errors are remembered too */
    const char *key3[] = {"Idempotency-Key: idem-test-3", NULL};
    http_call(&srv, "DELETE", "/v1/admin-keys/adk_00000000000000000000000000000000", srv.admin_key, NULL, key3,
              &other);
    expect_problem(&other, 404, "resource_not_found", NULL);
    response_free(&other);
    http_call(&srv, "DELETE", "/v1/admin-keys/adk_00000000000000000000000000000000", srv.admin_key, NULL, key3,
              &other);
    expect_problem(&other, 404, "resource_not_found", NULL);
    response_free(&other);
    response_free(&first);
    response_free(&again);
}

static void idempotency_key_malformed_is_400(void **state)
{
    (void)state;
    static char long_key[300];
    memcpy(long_key, "Idempotency-Key: ", 17);
    memset(long_key + 17, 'k', 256);
    long_key[17 + 256] = '\0';
    const char *headers[] = {long_key, NULL};
    struct response r;
    http_call(&srv, "POST", "/v1/admin-keys", srv.admin_key, "{\"name\":\"x\"}", headers, &r);
    expect_problem(&r, 400, "idempotency_key_invalid", NULL);
    response_free(&r);
}

static void admin_key_lifecycle(void **state)
{
    (void)state;
    char key[128], id[64], path[128];
    struct response r;
    create_admin_key(srv.admin_key, "ops", key, id);
    assert_memory_equal(id, "adk_", 4);
    /* the new key works */
    char key2[128], id2[64];
    create_admin_key(key, "made-by-ops", key2, id2);
    /* revoke it: it stops working at once */
    snprintf(path, sizeof(path), "/v1/admin-keys/%s", id);
    http_call(&srv, "DELETE", path, srv.admin_key, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "id")), id);
    assert_non_null(json_string_value(json_object_get(r.json, "revoked_at")));
    response_free(&r);
    http_call(&srv, "POST", "/v1/admin-keys", key, "{\"name\":\"x\"}", NULL, &r);
    expect_problem(&r, 401, "auth_invalid", NULL);
    response_free(&r);
    http_call(&srv, "DELETE", path, srv.admin_key, NULL, NULL, &r);
    expect_problem(&r, 404, "resource_not_found", NULL);
    response_free(&r);
    http_call(&srv, "DELETE", "/v1/admin-keys/adk_nothex", srv.admin_key, NULL, NULL, &r);
    expect_problem(&r, 400, "id_invalid", NULL);
    response_free(&r);
    http_call(&srv, "DELETE", "/v1/admin-keys/cus_00000000000000000000000000000000", srv.admin_key, NULL, NULL, &r);
    expect_problem(&r, 400, "id_invalid", NULL);
    response_free(&r);
}

static void metrics_report_routes(void **state)
{
    (void)state;
    struct response r;
    char type[128];
    /* not public: the operator's key (issue 11, finding 9) */
    http_call(&srv, "GET", "/metrics", NULL, NULL, NULL, &r);
    expect_problem(&r, 401, "auth_missing", NULL);
    response_free(&r);
    http_call(&srv, "GET", "/metrics", srv.admin_key, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(response_header(&r, "content-type", type, sizeof(type)));
    assert_non_null(strstr(type, "text/plain"));
    assert_non_null(strstr(r.body, "mopay_http_requests_total{route=\"healthz\",status=\"200\"}"));
    assert_non_null(strstr(r.body, "mopay_http_requests_total{route=\"unmatched\",status=\"404\"}"));
    assert_non_null(strstr(r.body, "mopay_http_request_duration_seconds_bucket{route=\"admin_keys_create\",status="
                                   "\"201\",le=\"+Inf\"}"));
    assert_non_null(strstr(r.body, "mopay_seq_batch_size_count"));
    assert_non_null(strstr(r.body, "mopay_build_info{version="));
    response_free(&r);
}

/* Bad input changed nothing: the store holds exactly the keys the good requests made. */
static bool count_key(void *ctx, const struct mopay_admin_key *key)
{
    (void)key;
    (*(int *)ctx)++;
    return true;
}

static int count_admin_keys(const struct server *s)
{
    char err[256];
    struct mopay_store *store = mopay_store_open(s->db, err, sizeof(err));
    assert_non_null(store);
    int n = 0;
    assert_int_equal(store->admin_keys_load(store, count_key, &n), MOPAY_OK);
    store->close(store);
    return n;
}

static void restart_keeps_keys_and_replays(void **state)
{
    (void)state;
    struct server s;
    server_start(&s, NULL, NULL);
    char key[128], id[64];
    struct response first, later, bad;
    const char *idem[] = {"Idempotency-Key: restart-1", NULL};
    struct server saved = srv;
    srv = s; /* create_admin_key talks to srv */
    create_admin_key(s.admin_key, "before-restart", key, id);
    http_call(&s, "POST", "/v1/admin-keys", s.admin_key, "{\"name\":\"idem\"}", idem, &first);
    assert_int_equal(first.status, 201);
    for (int i = 0; i < 5; i++) { /* bad input of several kinds */
        http_call(&s, "POST", "/v1/admin-keys", s.admin_key, i % 2 ? "{\"name\":5}" : "{", NULL, &bad);
        assert_true(bad.status >= 400);
        response_free(&bad);
    }
    assert_int_equal(server_stop(&s), 0);
    assert_int_equal(count_admin_keys(&s), 3); /* initial, before-restart, idem */
    struct server again;
    server_start(&again, &s, NULL);
    http_call(&again, "POST", "/v1/admin-keys", s.admin_key, "{\"name\":\"idem\"}", idem, &later);
    assert_int_equal(later.status, 201);
    assert_int_equal(first.len, later.len);
    assert_memory_equal(first.body, later.body, first.len);
    /* a key made before the restart still authenticates (a bad body then proves it: 422, not 401) */
    http_call(&again, "POST", "/v1/admin-keys", key, "{}", NULL, &bad);
    expect_problem(&bad, 422, "field_missing", "/name");
    response_free(&bad);
    assert_int_equal(server_stop(&again), 0);
    assert_int_equal(count_admin_keys(&s), 3);
    response_free(&first);
    response_free(&later);
    srv = saved;
}

int main(int argc, char **argv)
{
    harness_init(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(healthz_answers),
        cmocka_unit_test(unknown_route_is_404),
        cmocka_unit_test(wrong_method_is_405),
        cmocka_unit_test(bearer_token_required),
        cmocka_unit_test(malformed_json_is_400),
        cmocka_unit_test(wrong_types_are_422),
        cmocka_unit_test(missing_and_unknown_fields_are_422),
        cmocka_unit_test(oversize_body_is_413),
        cmocka_unit_test(too_deep_json_is_400),
        cmocka_unit_test(wrong_content_type_is_415),
        cmocka_unit_test(oversize_headers_are_431),
        cmocka_unit_test(idempotency_key_replays_and_conflicts),
        cmocka_unit_test(idempotency_key_malformed_is_400),
        cmocka_unit_test(admin_key_lifecycle),
        cmocka_unit_test(metrics_report_routes),
    };
    int failed = cmocka_run_group_tests_name("api", tests, group_setup, group_teardown);
    const struct CMUnitTest restart[] = {cmocka_unit_test(restart_keeps_keys_and_replays)};
    failed += cmocka_run_group_tests_name("api_restart", restart, NULL, NULL);
    return failed;
}
