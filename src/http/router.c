#include <string.h>

#include "internal.h"

bool router_compile(const struct mopay_route *routes, size_t count, struct compiled_route *out)
{
    for (size_t i = 0; i < count; i++) {
        struct compiled_route *c = &out[i];
        const char *p = routes[i].pattern;
        size_t params = 0;
        c->route = &routes[i];
        c->segment_count = 0;
        if (p[0] != '/')
            return false;
        while (*p == '/') {
            const char *start = ++p;
            while (*p != '\0' && *p != '/')
                p++;
            size_t len = (size_t)(p - start);
            if (c->segment_count == ROUTE_SEGMENTS_MAX || len == 0)
                return false;
            bool is_param = len >= 2 && start[0] == '{' && start[len - 1] == '}';
            if (is_param && ++params > MOPAY_HTTP_PATH_PARAMS_MAX)
                return false;
            c->segments[c->segment_count].text = is_param ? NULL : start;
            c->segments[c->segment_count].len = len;
            c->segment_count++;
        }
        if (*p != '\0')
            return false;
    }
    return true;
}

/* Matches the segments of `path` against one route; fills params on success. */
static bool route_path_matches(const struct compiled_route *c, const char *path, size_t path_len,
                               struct mopay_str params[MOPAY_HTTP_PATH_PARAMS_MAX], size_t *param_count)
{
    size_t at = 0, n = 0;
    for (size_t s = 0; s < c->segment_count; s++) {
        if (at >= path_len || path[at] != '/')
            return false;
        size_t start = ++at;
        while (at < path_len && path[at] != '/')
            at++;
        size_t len = at - start;
        if (c->segments[s].text == NULL) {
            if (len == 0)
                return false;
            params[n].ptr = path + start;
            params[n].len = len;
            n++;
        } else if (len != c->segments[s].len || memcmp(path + start, c->segments[s].text, len) != 0) {
            return false;
        }
    }
    if (at != path_len)
        return false;
    *param_count = n;
    return true;
}

enum route_match router_match(const struct compiled_route *routes, size_t count, const char *method,
                              size_t method_len, const char *path, size_t path_len, size_t *index,
                              struct mopay_str params[MOPAY_HTTP_PATH_PARAMS_MAX], size_t *param_count,
                              char *allow, size_t allow_cap)
{
    bool path_seen = false;
    size_t allow_len = 0;
    allow[0] = '\0';
    for (size_t i = 0; i < count; i++) {
        struct mopay_str found[MOPAY_HTTP_PATH_PARAMS_MAX];
        size_t found_count = 0;
        if (!route_path_matches(&routes[i], path, path_len, found, &found_count))
            continue;
        const char *m = routes[i].route->method;
        size_t mlen = strlen(m);
        bool head_of_get = method_len == 4 && memcmp(method, "HEAD", 4) == 0 && strcmp(m, "GET") == 0;
        if ((mlen == method_len && memcmp(m, method, mlen) == 0) || head_of_get) {
            *index = i;
            memcpy(params, found, sizeof(found[0]) * found_count);
            *param_count = found_count;
            return ROUTE_MATCHED;
        }
        path_seen = true;
        if (allow_len + mlen + 3 < allow_cap) {
            if (allow_len > 0) {
                memcpy(allow + allow_len, ", ", 2);
                allow_len += 2;
            }
            memcpy(allow + allow_len, m, mlen + 1);
            allow_len += mlen;
        }
    }
    return path_seen ? ROUTE_WRONG_METHOD : ROUTE_NO_PATH;
}
