/* libFuzzer harness for the router's path matcher, which sees every request path.
 *
 * The first input byte picks the method and the size of the Allow buffer; the rest is the path.
 * On ROUTE_MATCHED the route must accept the method (or HEAD for GET), every param must be
 * non-empty, inside the path and free of '/', and substituting the params into the pattern must
 * give back the path exactly. Allow must always be a NUL-terminated string within its capacity,
 * empty unless the method was wrong, and nothing past the capacity may be written. Any broken
 * property aborts. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mopay/limits.h"

#define ALLOW_BYTES 40
#define CANARY 0x5a

static void check(int ok)
{
    if (!ok)
        abort();
}

/* Shaped like src/api/api.c's table, plus routes that use every param slot. */
static const struct mopay_route routes[] = {
    {"healthz", "GET", "/healthz", 0, 0, NULL, NULL},
    {"metrics", "GET", "/metrics", 0, 0, NULL, NULL},
    {"admin_keys_create", "POST", "/v1/admin-keys", 0, 0, NULL, NULL},
    {"admin_keys_list", "GET", "/v1/admin-keys", 0, 0, NULL, NULL},
    {"admin_keys_get", "GET", "/v1/admin-keys/{id}", 0, 0, NULL, NULL},
    {"admin_keys_revoke", "DELETE", "/v1/admin-keys/{id}", 0, 0, NULL, NULL},
    {"customer_devices", "GET", "/v1/customers/{id}/devices", 0, 0, NULL, NULL},
    {"customer_device_put", "PUT", "/v1/customers/{id}/devices/{device}", 0, 0, NULL, NULL},
    {"customer_device_patch", "PATCH", "/v1/customers/{id}/devices/{device}", 0, 0, NULL, NULL},
    {"four_params", "GET", "/v1/{a}/{b}/x/{c}/{d}", 0, 0, NULL, NULL},
};
#define ROUTE_COUNT (sizeof(routes) / sizeof(routes[0]))

static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "get"};

/* Rebuilds the path from the pattern and the params and compares it with `path`. */
static bool path_rebuilds(const char *pattern, const struct mopay_str *params, size_t param_count,
                          const char *path, size_t path_len)
{
    size_t at = 0, next_param = 0;
    for (const char *p = pattern; *p != '\0';) {
        if (*p == '{') {
            if (next_param == param_count)
                return false;
            const struct mopay_str *v = &params[next_param++];
            if (at + v->len > path_len || memcmp(path + at, v->ptr, v->len) != 0)
                return false;
            at += v->len;
            p = strchr(p, '}') + 1;
        } else {
            if (at >= path_len || path[at] != *p)
                return false;
            at++;
            p++;
        }
    }
    return at == path_len && next_param == param_count;
}

static void check_match(const struct compiled_route *compiled, const char *method, size_t index,
                        const struct mopay_str *params, size_t param_count, const char *path, size_t path_len)
{
    check(index < ROUTE_COUNT && compiled[index].route == &routes[index]);
    const char *want = routes[index].method;
    check(strcmp(want, method) == 0 || (strcmp(method, "HEAD") == 0 && strcmp(want, "GET") == 0));
    check(param_count <= MOPAY_HTTP_PATH_PARAMS_MAX);
    for (size_t i = 0; i < param_count; i++) {
        check(params[i].len > 0);
        check(params[i].ptr >= path && params[i].ptr + params[i].len <= path + path_len);
        check(memchr(params[i].ptr, '/', params[i].len) == NULL);
    }
    check(path_rebuilds(routes[index].pattern, params, param_count, path, path_len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct compiled_route compiled[ROUTE_COUNT];
    static bool ready;
    if (!ready) {
        check(router_compile(routes, ROUTE_COUNT, compiled));
        ready = true;
    }
    /* The server refuses longer paths before routing. */
    if (size == 0 || size - 1 > MOPAY_HTTP_PATH_BYTES_MAX)
        return 0;
    const char *method = methods[data[0] % (sizeof(methods) / sizeof(methods[0]))];
    size_t allow_cap = 1 + (size_t)(data[0] >> 3) % (ALLOW_BYTES - 1);
    /* A heap copy of exactly the path, so ASan catches any read past its length. */
    size_t path_len = size - 1;
    char *path = malloc(path_len > 0 ? path_len : 1);
    if (path == NULL)
        return 0;
    memcpy(path, data + 1, path_len);

    char allow[ALLOW_BYTES];
    memset(allow, CANARY, sizeof(allow));
    struct mopay_str params[MOPAY_HTTP_PATH_PARAMS_MAX];
    size_t index = SIZE_MAX, param_count = SIZE_MAX;
    enum route_match m = router_match(compiled, ROUTE_COUNT, method, strlen(method), path, path_len, &index,
                                      params, &param_count, allow, allow_cap);
    for (size_t i = allow_cap; i < sizeof(allow); i++)
        check((unsigned char)allow[i] == CANARY);
    check(memchr(allow, '\0', allow_cap) != NULL);
    if (m == ROUTE_MATCHED)
        check_match(compiled, method, index, params, param_count, path, path_len);
    else
        check(m == ROUTE_NO_PATH ? allow[0] == '\0' : m == ROUTE_WRONG_METHOD);
    free(path);
    return 0;
}
