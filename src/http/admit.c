/* Admission by rate: the client's address (the socket peer, or the right-most address of
 * X-Forwarded-For that is not a trusted proxy, when the peer is one), and the limits the server
 * enforces before a handler runs: per client address on anonymous routes that change something,
 * per client address for bad bearer tokens, per merchant key or customer session on the
 * authenticated routes. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/clock.h"

#define NS_PER_MIN (60 * INT64_C(1000000000))

/* --- addresses and trusted proxies --- */

/* An IPv4 address as IPv4-mapped IPv6. */
static void addr_map_v4(const void *v4, uint8_t out[16])
{
    memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    memcpy(out + 12, v4, 4);
}

/* A text address into 16 bytes (IPv4 as IPv4-mapped IPv6); false when it is not one. */
static bool addr_parse(const char *s, size_t len, uint8_t out[16])
{
    char buf[INET6_ADDRSTRLEN + 1];
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    struct in_addr v4;
    if (inet_pton(AF_INET, buf, &v4) == 1) {
        addr_map_v4(&v4, out);
        return true;
    }
    return inet_pton(AF_INET6, buf, out) == 1;
}

static bool addr_is_v4(const uint8_t a[16])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(a, mapped, sizeof(mapped)) == 0;
}

bool http_sockaddr_bytes(const struct sockaddr *sa, uint8_t out[16])
{
    if (sa->sa_family == AF_INET) {
        addr_map_v4(&((const struct sockaddr_in *)sa)->sin_addr, out);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        return true;
    }
    return false;
}

void http_addr_network(uint8_t a[16])
{
    if (!addr_is_v4(a))
        memset(a + 8, 0, 8);
}

static void addr_format(const uint8_t a[16], char out[MOPAY_HTTP_CLIENT_ADDR_BYTES])
{
    if (addr_is_v4(a))
        inet_ntop(AF_INET, a + 12, out, MOPAY_HTTP_CLIENT_ADDR_BYTES);
    else
        inet_ntop(AF_INET6, a, out, MOPAY_HTTP_CLIENT_ADDR_BYTES);
}

static bool cidr_contains(const struct http_cidr *c, const uint8_t a[16])
{
    size_t full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->addr, a, full) != 0)
        return false;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return rest == 0 || (c->addr[full] & mask) == (a[full] & mask);
}

static bool addr_trusted(const struct mopay_http_server *s, const uint8_t a[16])
{
    for (size_t i = 0; i < s->trusted_count; i++)
        if (cidr_contains(&s->trusted[i], a))
            return true;
    return false;
}

/* "CIDR[,CIDR]": "10.0.0.0/8,::1" (a bare address is /32 or /128). */
bool http_trusted_proxies_parse(struct mopay_http_server *s, const char *list, char *err, size_t err_cap)
{
    s->trusted_count = 0;
    for (const char *p = list; p != NULL && *p != '\0';) {
        const char *comma = strchr(p, ','), *end = comma != NULL ? comma : p + strlen(p);
        const char *slash = memchr(p, '/', (size_t)(end - p));
        struct http_cidr c;
        bool ok = s->trusted_count < MOPAY_HTTP_TRUSTED_PROXIES_MAX &&
                  addr_parse(p, (size_t)((slash != NULL ? slash : end) - p), c.addr);
        long bits = ok && addr_is_v4(c.addr) ? 32 : 128;
        if (ok && slash != NULL) {
            char *num_end;
            long given = strtol(slash + 1, &num_end, 10);
            ok = num_end == end && slash + 1 != end && given >= 0 && given <= bits;
            bits = given;
        }
        if (!ok) {
            snprintf(err, err_cap, "--trusted-proxies: '%.*s' is not an address or CIDR block, or more than %d blocks",
                     (int)(end - p), p, MOPAY_HTTP_TRUSTED_PROXIES_MAX);
            return false;
        }
        c.bits = (unsigned)(addr_is_v4(c.addr) ? bits + 96 : bits);
        s->trusted[s->trusted_count++] = c;
        p = comma != NULL ? comma + 1 : end;
    }
    return true;
}

static bool peer_address(h2o_req_t *req, uint8_t out[16])
{
    struct sockaddr_storage ss;
    return req->conn->callbacks->get_peername != NULL &&
           req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss) != 0 &&
           http_sockaddr_bytes((struct sockaddr *)&ss, out);
}

/* Walks X-Forwarded-For from the right (the last header first): the first address that is not
 * a trusted proxy is the client; one that does not parse stops the walk where it is. */
static void forwarded_client(const struct mopay_http_server *s, h2o_req_t *req, uint8_t addr[16])
{
    ssize_t at = -1, last[MOPAY_HTTP_HEADERS_COUNT_MAX];
    size_t n = 0;
    while (n < MOPAY_HTTP_HEADERS_COUNT_MAX && (at = h2o_find_header(&req->headers, H2O_TOKEN_X_FORWARDED_FOR, at)) >= 0)
        last[n++] = at;
    while (n > 0) {
        h2o_iovec_t v = req->headers.entries[last[--n]].value;
        size_t end = v.len;
        while (end > 0) {
            size_t start = end;
            while (start > 0 && v.base[start - 1] != ',')
                start--;
            size_t a = start, b = end;
            while (a < b && (v.base[a] == ' ' || v.base[a] == '\t'))
                a++;
            while (b > a && (v.base[b - 1] == ' ' || v.base[b - 1] == '\t'))
                b--;
            uint8_t hop[16];
            if (!addr_parse(v.base + a, b - a, hop))
                return;
            memcpy(addr, hop, 16);
            if (!addr_trusted(s, hop))
                return;
            end = start > 0 ? start - 1 : 0;
        }
    }
}

const char *mopay_http_client_address(struct mopay_http_request *r)
{
    if (r->client_addr[0] != '\0' || r->h2o == NULL)
        return r->client_addr[0] != '\0' ? r->client_addr : "unknown";
    uint8_t addr[16];
    if (!peer_address(r->h2o, addr)) {
        strcpy(r->client_addr, "unknown");
        return r->client_addr;
    }
    const struct mopay_http_server *s = r->thread->server;
    if (s->trusted_count > 0 && addr_trusted(s, addr))
        forwarded_client(s, r->h2o, addr);
    addr_format(addr, r->client_addr);
    return r->client_addr;
}

const char *mopay_http_client_network(struct mopay_http_request *r)
{
    if (r->client_net[0] != '\0')
        return r->client_net;
    const char *addr = mopay_http_client_address(r);
    uint8_t a[16];
    if (!addr_parse(addr, strlen(addr), a) || addr_is_v4(a)) {
        snprintf(r->client_net, sizeof r->client_net, "%s", addr);
        return r->client_net;
    }
    http_addr_network(a);
    char text[MOPAY_HTTP_CLIENT_ADDR_BYTES];
    addr_format(a, text); /* at most "ffff:ffff:ffff:ffff::" */
    size_t len = strnlen(text, sizeof r->client_net - 4);
    memcpy(r->client_net, text, len);
    memcpy(r->client_net + len, "/64", 4);
    return r->client_net;
}

/* --- the limits --- */

bool http_limits_init(struct mopay_http_server *s, char *err, size_t err_cap)
{
    const struct mopay_http_limits *l = &s->config.limits;
    bool ok =
        mopay_ratelimit_make(l->anonymous_per_min, NS_PER_MIN, MOPAY_RATELIMIT_KEYS_MAX, true, &s->anonymous_limit);
    ok &= mopay_ratelimit_make(l->bad_token_per_min, NS_PER_MIN, MOPAY_RATELIMIT_KEYS_MAX, true, &s->bad_token_limit);
    ok &= mopay_ratelimit_make(l->principal_per_min, NS_PER_MIN, MOPAY_RATELIMIT_KEYS_MAX, true, &s->principal_limit);
    ok &= mopay_ratelimit_make(l->idem_records_per_principal_per_day, 24 * 60 * NS_PER_MIN, MOPAY_RATELIMIT_KEYS_MAX,
                               false, &s->idem_principal_limit);
    if (!ok) {
        snprintf(err, err_cap, "out of memory for the rate limiters");
        return false;
    }
    return http_trusted_proxies_parse(s, l->trusted_proxies, err, err_cap);
}

void http_limits_deinit(struct mopay_http_server *s)
{
    mopay_ratelimit_free(s->anonymous_limit);
    mopay_ratelimit_free(s->bad_token_limit);
    mopay_ratelimit_free(s->principal_limit);
    mopay_ratelimit_free(s->idem_principal_limit);
    s->idem_principal_limit = NULL;
    s->anonymous_limit = s->bad_token_limit = s->principal_limit = NULL;
}

void mopay_http_reply_rate_limited(struct mopay_http_request *r, int64_t retry_after_s, const char *detail)
{
    r->retry_after_s = retry_after_s;
    mopay_http_reply_error(r, MOPAY_ERR_rate_limited, NULL, "%s; retry after %lld s", detail,
                           (long long)retry_after_s);
}

/* One event for `key` in `rl`; over the limit, the 429 is sent and false returned. */
static bool admit_take(struct mopay_http_request *r, struct mopay_ratelimit *rl, const char *key, bool take,
                       const char *detail)
{
    int64_t retry_s = 0, now_ns = mopay_clock_monotonic_ns();
    bool ok = take ? mopay_ratelimit_take(rl, key, strlen(key), now_ns, &retry_s)
                   : mopay_ratelimit_check(rl, key, strlen(key), now_ns, &retry_s);
    if (!ok)
        mopay_http_reply_rate_limited(r, retry_s, detail);
    return ok;
}

bool http_admit_anonymous(struct mopay_http_request *r, const struct mopay_route *route)
{
    if (route->principals != 0 || strcmp(route->method, "GET") == 0 || r->thread->server->anonymous_limit == NULL)
        return true;
    return admit_take(r, r->thread->server->anonymous_limit, mopay_http_client_network(r), true,
                      "too many requests from this address");
}

bool http_admit_bad_token(struct mopay_http_request *r)
{
    struct mopay_ratelimit *rl = r->thread->server->bad_token_limit;
    return rl == NULL || admit_take(r, rl, mopay_http_client_network(r), true,
                                    "too many unknown or revoked credentials from this address");
}

/* Merchants' keys and customers' sessions; operator keys are the platform's own (the ledger's
 * bulk loads and the crash test post thousands of batches a second with one). */
bool http_admit_principal(struct mopay_http_request *r)
{
    struct mopay_ratelimit *rl = r->thread->server->principal_limit;
    return rl == NULL || r->principal.kind == MOPAY_PRINCIPAL_OPERATOR ||
           admit_take(r, rl, r->principal.id, true, "too many requests for this credential");
}
