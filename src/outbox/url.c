/* Where webhooks may go: the URL's form, and the addresses it names or resolves to. A merchant
 * chooses the URL, so without this check mopay would POST, from inside the operator's network,
 * wherever a merchant points it (a cloud's metadata service, an admin port on loopback). */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "mopay/assert.h"

struct v4_range {
    uint32_t net;
    unsigned prefix;
};

/* IPv4 space that is not a public unicast address (IANA special-purpose registry). */
static const struct v4_range v4_refused[] = {
    {0x00000000, 8},  /* "this network", 0.0.0.0 */
    {0x0a000000, 8},  /* private */
    {0x64400000, 10}, /* carrier-grade NAT */
    {0x7f000000, 8},  /* loopback */
    {0xa9fe0000, 16}, /* link-local, cloud metadata services */
    {0xac100000, 12}, /* private */
    {0xc0000000, 24}, /* IETF protocol assignments */
    {0xc0000200, 24}, /* documentation */
    {0xc0586300, 24}, /* 6to4 relay anycast */
    {0xc0a80000, 16}, /* private */
    {0xc6120000, 15}, /* benchmarking */
    {0xc6336400, 24}, /* documentation */
    {0xcb007100, 24}, /* documentation */
    {0xe0000000, 4},  /* multicast */
    {0xf0000000, 4},  /* reserved, broadcast */
};

static bool v4_allowed(uint32_t a)
{
    for (size_t i = 0; i < sizeof(v4_refused) / sizeof(v4_refused[0]); i++) {
        uint32_t mask = 0xffffffffu << (32 - v4_refused[i].prefix);
        if ((a & mask) == v4_refused[i].net)
            return false;
    }
    return true;
}

static uint32_t v4_at(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static bool zeros(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return false;
    return true;
}

/* Public unicast (2000::/3) outside the special blocks; the forms that carry an IPv4 address
 * are judged by that address. */
static bool v6_allowed(const uint8_t b[16])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0)
        return v4_allowed(v4_at(b + 12));
    if (zeros(b, 12))
        return false; /* ::, ::1 and the deprecated v4-compatible ::a.b.c.d */
    if (b[0] == 0x20 && b[1] == 0x02)
        return v4_allowed(v4_at(b + 2)); /* 6to4 */
    if ((b[0] & 0xe0) != 0x20)
        return false; /* ULA fc00::/7, link-local fe80::/10, multicast ff00::/8, 64:ff9b:1::/48, ... */
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
        return false; /* documentation */
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] <= 0x01)
        return false; /* Teredo 2001::/32 and the IETF protocol assignments 2001::/23 it opens */
    return true;
}

bool mopay_webhook_addr_allowed(const struct sockaddr *sa, const struct mopay_webhook_policy *policy)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return policy->allow_private || v4_allowed(ntohl(in->sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6)
        return policy->allow_private || v6_allowed(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
    return false;
}

/* "[v6]" or a name or an IPv4 address, then ":port" or nothing. */
static enum mopay_err host_parse(const char *p, size_t len, struct mopay_webhook_target *t, const char **why)
{
    size_t host_len = len;
    const char *host = p, *colon = NULL;
    if (len > 0 && p[0] == '[') {
        const char *close = memchr(p, ']', len);
        if (close == NULL || (close + 1 < p + len && close[1] != ':')) {
            *why = "an IPv6 address is written in brackets: https://[2001:db8::1]:8443/";
            return MOPAY_ERR_url_invalid;
        }
        host = p + 1;
        host_len = (size_t)(close - host);
        colon = close + 1 < p + len ? close + 1 : NULL;
    } else {
        colon = memchr(p, ':', len);
        host_len = colon != NULL ? (size_t)(colon - p) : len;
    }
    if (host_len == 0 || host_len > MOPAY_WEBHOOK_HOST_BYTES_MAX) {
        *why = "the URL names no host, or one too long";
        return MOPAY_ERR_url_invalid;
    }
    for (size_t i = 0; i < host_len; i++) {
        char c = host[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                  c == '.' || (host != p && c == ':');
        if (!ok) {
            *why = "a host is a DNS name, an IPv4 address or an IPv6 address in brackets";
            return MOPAY_ERR_url_invalid;
        }
        t->host[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    t->host[host_len] = '\0';
    t->port = t->https ? 443 : 80;
    if (colon == NULL)
        return MOPAY_OK;
    const char *digits = colon + 1, *end = p + len;
    unsigned port = 0;
    for (const char *d = digits; d < end && port <= 65535; d++)
        port = *d >= '0' && *d <= '9' ? port * 10 + (unsigned)(*d - '0') : 65536;
    if (digits == end || port == 0 || port > 65535) {
        *why = "a port is a number from 1 to 65535";
        return MOPAY_ERR_url_invalid;
    }
    t->port = (uint16_t)port;
    return MOPAY_OK;
}

/* An address literal into t->addr; whether the host is one. IPv4 in every form inet_aton (and
 * so getaddrinfo and libcurl) reads as an address, not only dotted quads. */
static bool literal_parse(struct mopay_webhook_target *t)
{
    memset(&t->addr, 0, sizeof(t->addr));
    struct sockaddr_in *in = (struct sockaddr_in *)&t->addr;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&t->addr;
    if (inet_aton(t->host, &in->sin_addr) != 0) {
        in->sin_family = AF_INET;
        in->sin_port = htons(t->port);
        return true;
    }
    if (inet_pton(AF_INET6, t->host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(t->port);
        return true;
    }
    return false;
}

static enum mopay_err scheme_parse(const char *url, size_t len, const struct mopay_webhook_policy *policy,
                                   struct mopay_webhook_target *t, size_t *skip, const char **why)
{
    t->https = len > 8 && strncasecmp(url, "https://", 8) == 0;
    bool http = len > 7 && strncasecmp(url, "http://", 7) == 0;
    *skip = t->https ? 8 : 7;
    if (!t->https && !http) {
        *why = "an https:// URL";
        return MOPAY_ERR_url_invalid;
    }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f) {
            *why = "a URL is printable ASCII without spaces";
            return MOPAY_ERR_url_invalid;
        }
    if (memchr(url, '#', len) != NULL) {
        *why = "a webhook URL has no fragment (#...)";
        return MOPAY_ERR_url_invalid;
    }
    if (http && !policy->allow_insecure) {
        *why = "webhooks are sent over https only";
        return MOPAY_ERR_url_forbidden;
    }
    return MOPAY_OK;
}

enum mopay_err mopay_webhook_url_check(const char *url, size_t len, const struct mopay_webhook_policy *policy,
                                       struct mopay_webhook_target *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    size_t skip;
    enum mopay_err err = scheme_parse(url, len, policy, out, &skip, why);
    if (err != MOPAY_OK)
        return err;
    const char *authority = url + skip;
    size_t authority_len = 0;
    while (authority_len < len - skip && authority[authority_len] != '/' && authority[authority_len] != '?')
        authority_len++;
    if (memchr(authority, '@', authority_len) != NULL || memchr(authority, '\\', authority_len) != NULL) {
        *why = "a webhook URL carries no user name or password";
        return MOPAY_ERR_url_forbidden;
    }
    if ((err = host_parse(authority, authority_len, out, why)) != MOPAY_OK)
        return err;
    out->literal = literal_parse(out);
    if (out->literal && !mopay_webhook_addr_allowed((const struct sockaddr *)&out->addr, policy)) {
        *why = "a loopback, private, link-local, multicast or otherwise non-public address";
        return MOPAY_ERR_url_forbidden;
    }
    bool bracketed = authority_len > 0 && authority[0] == '[';
    if (bracketed != (out->literal && out->addr.ss_family == AF_INET6)) {
        *why = "an IPv6 address, and only one, is written in brackets";
        return MOPAY_ERR_url_invalid;
    }
    return MOPAY_OK;
}

enum mopay_err mopay_webhook_resolve(const struct mopay_webhook_target *target,
                                     const struct mopay_webhook_policy *policy,
                                     struct sockaddr_storage addrs[MOPAY_WEBHOOK_ADDRS_MAX], size_t *count,
                                     const char **why)
{
    *count = 0;
    if (target->literal) {
        addrs[(*count)++] = target->addr;
        return MOPAY_OK; /* checked by mopay_webhook_url_check */
    }
    char port[8];
    snprintf(port, sizeof(port), "%u", target->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *list = NULL;
    if (getaddrinfo(target->host, port, &hints, &list) != 0 || list == NULL) {
        *why = "the host name does not resolve";
        return MOPAY_ERR_resource_not_found;
    }
    enum mopay_err err = MOPAY_OK;
    for (struct addrinfo *a = list; a != NULL && err == MOPAY_OK; a = a->ai_next) {
        if (!mopay_webhook_addr_allowed(a->ai_addr, policy)) {
            *why = "the host name resolves to a loopback, private, link-local, multicast or otherwise non-public "
                   "address";
            err = MOPAY_ERR_url_forbidden;
        } else if (*count < MOPAY_WEBHOOK_ADDRS_MAX && a->ai_addrlen <= sizeof(addrs[0])) {
            memset(&addrs[*count], 0, sizeof(addrs[0]));
            memcpy(&addrs[(*count)++], a->ai_addr, a->ai_addrlen);
        }
    }
    freeaddrinfo(list);
    return err;
}
