/* One request's way through the server: limits, routing, authentication, body, handler, reply;
 * and the write path through the sequencer with its Idempotency-Key plumbing. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/clock.h"
#include "mopay/log.h"


/* --- access log --- */

void http_access_log_flush(struct http_thread *t)
{
    int fd = t->server->access_log_fd;
    if (t->log_len > 0 && fd >= 0) {
        ssize_t unused = write(fd, t->log_buf, t->log_len);
        (void)unused;
    }
    t->log_len = 0;
}

/* Copies `s` into the log line, quoting characters that would break logfmt. */
static size_t log_quote(char *dst, size_t cap, const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 4 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x7f) {
            n += (size_t)snprintf(dst + n, cap - n, "\\x%02x", c);
        } else {
            dst[n++] = (char)c;
        }
    }
    return n;
}

/* The access log is written at the full request rate, so its line is assembled by hand rather
 * than with printf (which showed as the largest user-space cost in a profile under wrk). */
struct log_line {
    char *buf;
    size_t len, cap;
};

static void log_put(struct log_line *l, const char *s, size_t len)
{
    if (len > l->cap - l->len)
        len = l->cap - l->len;
    memcpy(l->buf + l->len, s, len);
    l->len += len;
}

#define LOG_PUT_LIT(l, lit) log_put(l, lit, sizeof(lit) - 1)

static void log_put_str(struct log_line *l, const char *s)
{
    log_put(l, s, strlen(s));
}

static void log_put_u64(struct log_line *l, uint64_t v)
{
    char digits[20];
    size_t n = 0;
    do {
        digits[sizeof(digits) - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    log_put(l, digits + sizeof(digits) - n, n);
}

static void access_log_append(struct mopay_http_request *r, int status, int64_t duration_ns)
{
    struct http_thread *t = r->thread;
    if (t->server->access_log_fd < 0)
        return;
    if (t->log_len + MOPAY_LOG_LINE_BYTES_MAX > MOPAY_ACCESS_LOG_BUFFER_BYTES)
        http_access_log_flush(t);
    int64_t now = mopay_clock_now_ns();
    if (now / 1000000000 != t->log_ts_second) {
        t->log_ts_second = now / 1000000000;
        mopay_time_format(now, t->log_ts);
    }
    struct log_line l = {t->log_buf + t->log_len, 0, MOPAY_LOG_LINE_BYTES_MAX - 1};
    h2o_req_t *req = r->h2o;
    LOG_PUT_LIT(&l, "ts=");
    log_put(&l, t->log_ts, 19);
    LOG_PUT_LIT(&l, "Z msg=access request_id=");
    log_put_str(&l, r->request_id);
    LOG_PUT_LIT(&l, " method=");
    l.len += log_quote(l.buf + l.len, 16, req->method.base, req->method.len < 12 ? req->method.len : 12);
    LOG_PUT_LIT(&l, " path=\"");
    l.len += log_quote(l.buf + l.len, 1024, req->path.base, req->path.len);
    LOG_PUT_LIT(&l, "\" route=");
    log_put_str(&l, r->route_index < t->server->config.route_count ? t->server->config.routes[r->route_index].name
                                                                   : "unmatched");
    LOG_PUT_LIT(&l, " status=");
    log_put_u64(&l, (uint64_t)status);
    LOG_PUT_LIT(&l, " duration_us=");
    log_put_u64(&l, duration_ns > 0 ? (uint64_t)duration_ns / 1000 : 0);
    LOG_PUT_LIT(&l, " principal=");
    log_put_str(&l, r->principal.id[0] ? r->principal.id : "-");
    l.buf[l.len++] = '\n';
    t->log_len += l.len;
}

/* --- replies --- */

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return status < 500 ? "Client Error" : "Server Error";
    }
}

/* h2o_send_inline, with the copy in the request's arena rather than h2o's pool: a reply may hold
 * a new key or a device's secret, and the arena is wiped when the request ends (h2o recycles its
 * pools as they are). The arena outlives h2o's hold on the request, so the bytes stay until sent.
 * A reply too large for the arena goes through h2o's pool. */
static void reply_send(struct mopay_http_request *r, h2o_req_t *req, const char *body, size_t len)
{
    static h2o_generator_t generator = {NULL, NULL};
    char *copy = len > 0 ? mopay_arena_alloc(&r->arena, len) : NULL;
    if (copy == NULL) {
        h2o_send_inline(req, body, len);
        return;
    }
    memcpy(copy, body, len);
    h2o_iovec_t buf = h2o_iovec_init(copy, len);
    h2o_start_response(req, &generator);
    if (h2o_memis(req->input.method.base, req->input.method.len, H2O_STRLIT("HEAD")))
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    else
        h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
}

void mopay_http_reply_raw(struct mopay_http_request *r, int status, const char *content_type, const char *body,
                          size_t len)
{
    MOPAY_ASSERT(!r->replied);
    r->replied = true;
    int64_t duration_ns = mopay_clock_monotonic_ns() - r->started_ns;
    metrics_record(&r->thread->metrics[r->route_index], status, duration_ns);
    h2o_req_t *req = r->h2o;
    if (req == NULL)
        return; /* the client left; the command's effect stands and is replayable by its key */
    access_log_append(r, status, duration_ns);
    req->res.status = status;
    req->res.reason = reason_phrase(status);
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type,
                   strlen(content_type));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, r->request_id,
                          strlen(r->request_id));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    if (status == 429 && r->retry_after_s > 0) {
        char *v = h2o_mem_alloc_pool(&req->pool, 24);
        int n = snprintf(v, 24, "%lld", (long long)r->retry_after_s);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, v, (size_t)n);
    }
    reply_send(r, req, body, len);
}

/* When even the problem body cannot be built. */
static void reply_out_of_memory(struct mopay_http_request *r)
{
    static const char body[] = "{\"code\":\"internal\",\"status\":500}";
    mopay_http_reply_raw(r, 500, "application/problem+json", body, sizeof(body) - 1);
}

static void reply_json_typed(struct mopay_http_request *r, int status, const char *content_type, json_t *body)
{
    mopay_arena_json_use(&r->arena);
    size_t len = json_dumpb(body, NULL, 0, JSON_COMPACT);
    char *buf = mopay_arena_alloc(&r->arena, len + 1);
    if (buf != NULL)
        json_dumpb(body, buf, len, JSON_COMPACT);
    mopay_arena_json_use(NULL);
    if (buf == NULL) {
        reply_out_of_memory(r);
        return;
    }
    mopay_http_reply_raw(r, status, content_type, buf, len);
}

void mopay_http_reply_json(struct mopay_http_request *r, int status, json_t *body)
{
    reply_json_typed(r, status, "application/json", body);
}

/* An RFC 9457 problem document. Allocates through jansson: in the request's arena on a loop
 * thread, with malloc on the sequencer thread. */
json_t *http_problem_new(enum mopay_err err, const char *field, const char *detail, const char *request_id)
{
    char type[64];
    snprintf(type, sizeof(type), "urn:mopay:error:%s", mopay_err_code(err));
    json_t *p = json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title", mopay_err_title(err), "status",
                          mopay_err_status(err), "code", mopay_err_code(err));
    if (p == NULL)
        return NULL;
    if (detail != NULL)
        json_object_set_new(p, "detail", json_string(detail));
    if (field != NULL)
        json_object_set_new(p, "field", json_string(field));
    if (request_id != NULL)
        json_object_set_new(p, "request_id", json_string(request_id));
    return p;
}

void mopay_http_reply_error(struct mopay_http_request *r, enum mopay_err err, const char *field,
                            const char *detail_fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, detail_fmt);
    vsnprintf(detail, sizeof(detail), detail_fmt, ap);
    va_end(ap);
    mopay_arena_json_use(&r->arena);
    json_t *problem = http_problem_new(err, field, detail, r->request_id);
    mopay_arena_json_use(NULL);
    if (problem == NULL) {
        reply_out_of_memory(r);
        return;
    }
    reply_json_typed(r, mopay_err_status(err), "application/problem+json", problem);
}

/* --- accessors --- */

void *mopay_http_app(struct mopay_http_request *r)
{
    return r->thread->server->config.app;
}

struct mopay_http_server *mopay_http_server_of(struct mopay_http_request *r)
{
    return r->thread->server;
}

struct mopay_arena *mopay_http_arena(struct mopay_http_request *r)
{
    return &r->arena;
}

const struct mopay_principal *mopay_http_principal(struct mopay_http_request *r)
{
    return &r->principal;
}

const char *mopay_http_param(struct mopay_http_request *r, size_t n, size_t *len)
{
    MOPAY_ASSERT(n < r->param_count);
    *len = r->params[n].len;
    return r->params[n].ptr;
}

const char *mopay_http_raw_body(struct mopay_http_request *r, size_t *len)
{
    h2o_req_t *req = r->h2o;
    bool empty = req == NULL || req->entity.base == NULL || req->entity.len == 0;
    *len = empty ? 0 : req->entity.len;
    return empty ? NULL : req->entity.base;
}

json_t *mopay_http_body(struct mopay_http_request *r)
{
    return r->body;
}

/* --- dispatch --- */

static bool headers_within_limits(h2o_req_t *req)
{
    if (req->headers.size > MOPAY_HTTP_HEADERS_COUNT_MAX)
        return false;
    size_t bytes = 0;
    for (size_t i = 0; i < req->headers.size; i++)
        bytes += req->headers.entries[i].name->len + req->headers.entries[i].value.len;
    return bytes <= MOPAY_HTTP_HEADER_BYTES_MAX;
}

static bool request_authenticate(struct mopay_http_request *r, const struct mopay_route *route)
{
    h2o_req_t *req = r->h2o;
    const struct mopay_http_config *cfg = &r->thread->server->config;
    ssize_t at = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (at < 0) {
        mopay_http_reply_error(r, MOPAY_ERR_auth_missing, NULL, "send Authorization: Bearer <key>");
        return false;
    }
    h2o_iovec_t v = req->headers.entries[at].value;
    if (v.len < 8 || strncasecmp(v.base, "Bearer ", 7) != 0 || cfg->authenticate == NULL ||
        !cfg->authenticate(cfg->auth_ctx, v.base + 7, v.len - 7, &r->principal)) {
        memset(&r->principal, 0, sizeof(r->principal));
        /* only bad credentials are counted and refused: a good one from the same address (many
         * phones share a carrier's) is never locked out by someone else's guesses */
        if (http_admit_bad_token(r))
            mopay_http_reply_error(r, MOPAY_ERR_auth_invalid, NULL, "the bearer credential is unknown or revoked");
        return false;
    }
    if (!(r->principal.kind & route->principals)) {
        /* another principal's endpoint does not exist for this one */
        mopay_http_reply_error(r, MOPAY_ERR_route_not_found, NULL, "no such endpoint");
        return false;
    }
    return http_admit_principal(r);
}

static bool content_type_is_json(h2o_req_t *req)
{
    ssize_t at = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (at < 0)
        return false;
    h2o_iovec_t v = req->headers.entries[at].value;
    static const char json[] = "application/json";
    return v.len >= sizeof(json) - 1 && strncasecmp(v.base, json, sizeof(json) - 1) == 0 &&
           (v.len == sizeof(json) - 1 || v.base[sizeof(json) - 1] == ';' || v.base[sizeof(json) - 1] == ' ');
}

static bool request_read_body(struct mopay_http_request *r, const struct mopay_route *route)
{
    h2o_req_t *req = r->h2o;
    if (req->entity.base == NULL || req->entity.len == 0)
        return true;
    size_t max = (route->flags & MOPAY_ROUTE_BULK_BODY) ? MOPAY_HTTP_BODY_BULK_BYTES_MAX : MOPAY_HTTP_BODY_BYTES_MAX;
    if (req->entity.len > max) {
        mopay_http_reply_error(r, MOPAY_ERR_body_too_large, NULL, "this endpoint takes at most %zu bytes", max);
        return false;
    }
    if (!content_type_is_json(req)) {
        mopay_http_reply_error(r, MOPAY_ERR_content_type_unsupported, NULL, "send Content-Type: application/json");
        return false;
    }
    if (route->flags & MOPAY_ROUTE_RAW_BODY)
        return true;
    return http_body_parse(r, req->entity.base, req->entity.len);
}

static bool request_read_idempotency_key(struct mopay_http_request *r, const struct mopay_route *route)
{
    h2o_req_t *req = r->h2o;
    ssize_t at = h2o_find_header_by_str(&req->headers, H2O_STRLIT("idempotency-key"), -1);
    if (at < 0)
        return true;
    h2o_iovec_t v = req->headers.entries[at].value;
    bool ok = v.len >= 1 && v.len <= MOPAY_IDEMPOTENCY_KEY_BYTES_MAX;
    for (size_t i = 0; ok && i < v.len; i++)
        ok = v.base[i] >= 0x20 && v.base[i] <= 0x7e;
    if (!ok) {
        mopay_http_reply_error(r, MOPAY_ERR_idempotency_key_invalid, NULL,
                               "Idempotency-Key must be 1 to %d printable ASCII characters",
                               MOPAY_IDEMPOTENCY_KEY_BYTES_MAX);
        return false;
    }
    /* Only writes are remembered: a GET is safe to repeat, and a log-in is never replayed. */
    bool write = !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
                 !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    if (!write || (route->flags & MOPAY_ROUTE_NO_REPLAY))
        return true;
    r->idem_key.ptr = mopay_arena_strndup(&r->arena, v.base, v.len);
    r->idem_key.len = v.len;
    return r->idem_key.ptr != NULL;
}

/* Routes and checks the request, then calls the handler. Every early exit has replied. */
void http_dispatch(struct mopay_http_request *r)
{
    struct mopay_http_server *s = r->thread->server;
    h2o_req_t *req = r->h2o;
    r->refs++; /* the handler may reply, and h2o may then drop its hold, before we return */
    /* h2o's own 413, sent back through here (server.c); a client asking for it gets the same */
    if (h2o_memis(req->path_normalized.base, req->path_normalized.len, H2O_STRLIT(HTTP_ERRORDOC_413_PATH))) {
        mopay_http_reply_error(r, MOPAY_ERR_body_too_large, NULL, "bodies may be at most %d bytes",
                               MOPAY_HTTP_BODY_BULK_BYTES_MAX);
        goto done;
    }
    if (req->path_normalized.len > MOPAY_HTTP_PATH_BYTES_MAX || !headers_within_limits(req)) {
        bool path = req->path_normalized.len > MOPAY_HTTP_PATH_BYTES_MAX;
        mopay_http_reply_error(r, path ? MOPAY_ERR_route_not_found : MOPAY_ERR_headers_too_large, NULL,
                               path ? "the path is too long" : "headers may total at most %d bytes in %d fields",
                               MOPAY_HTTP_HEADER_BYTES_MAX, MOPAY_HTTP_HEADERS_COUNT_MAX);
        goto done;
    }
    char allow[128];
    size_t index;
    enum route_match m = router_match(s->routes, s->config.route_count, req->method.base, req->method.len,
                                      req->path_normalized.base, req->path_normalized.len, &index, r->params,
                                      &r->param_count, allow, sizeof(allow));
    if (r->metrics_listener && (m != ROUTE_MATCHED || (s->config.routes[index].flags & MOPAY_ROUTE_METRICS) == 0)) {
        mopay_http_reply_error(r, MOPAY_ERR_route_not_found, NULL, "this address serves GET /metrics only");
        goto done;
    }
    if (m == ROUTE_NO_PATH) {
        mopay_http_reply_error(r, MOPAY_ERR_route_not_found, NULL, "no endpoint at this path");
        goto done;
    }
    if (m == ROUTE_WRONG_METHOD) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, h2o_strdup(&req->pool, allow, SIZE_MAX).base,
                       strlen(allow));
        mopay_http_reply_error(r, MOPAY_ERR_method_not_allowed, NULL, "this endpoint takes %s", allow);
        goto done;
    }
    const struct mopay_route *route = &s->config.routes[index];
    r->route_index = index;
    for (size_t i = 0; i < r->param_count; i++)
        r->params[i].ptr = mopay_arena_strndup(&r->arena, r->params[i].ptr, r->params[i].len);
    bool keyless = r->metrics_listener; /* the operator chose to expose it there */
    if (!http_admit_anonymous(r, route) || (route->principals != 0 && !keyless && !request_authenticate(r, route)) ||
        !request_read_body(r, route) || !request_read_idempotency_key(r, route))
        goto done;
    route->handler(r);
done:
    http_request_unref(r);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes `len` bytes into the arena; NULL on a malformed escape or a NUL byte. */
static const char *query_decode(struct mopay_arena *arena, const char *s, size_t len, size_t *out_len)
{
    char *out = mopay_arena_alloc(arena, len + 1);
    if (out == NULL)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (len - i < 3 || hex_value(s[i + 1]) < 0 || hex_value(s[i + 2]) < 0)
                return NULL;
            c = (char)(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            i += 2;
        }
        if (c == '\0')
            return NULL;
        out[n++] = c;
    }
    out[n] = '\0';
    *out_len = n;
    return out;
}

const char *mopay_http_query(struct mopay_http_request *r, const char *name, size_t *len, bool *malformed)
{
    *malformed = false;
    *len = 0;
    h2o_req_t *req = r->h2o;
    if (req == NULL || req->query_at == SIZE_MAX)
        return NULL;
    const char *p = req->path.base + req->query_at + 1, *end = req->path.base + req->path.len;
    size_t name_len = strlen(name);
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pair_end = amp != NULL ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pair_end - p));
        const char *key_end = eq != NULL ? eq : pair_end;
        if ((size_t)(key_end - p) == name_len && memcmp(p, name, name_len) == 0) {
            const char *v = eq != NULL ? eq + 1 : pair_end;
            const char *value = query_decode(&r->arena, v, (size_t)(pair_end - v), len);
            *malformed = value == NULL;
            return value;
        }
        p = pair_end + 1;
    }
    return NULL;
}
