/* libFuzzer harness for webhook URLs (src/outbox/url.c), which merchants choose: the check that
 * keeps mopay from calling into the operator's own network.
 *
 * The input is checked under the strict policy (the default) and the open one (both flags). The
 * answer is always OK, url_invalid or url_forbidden; what the strict policy takes the open one
 * takes too; a URL taken names a NUL-terminated lowercase host and a port, and a literal address
 * taken under the strict policy is one the strict policy lets a delivery connect to; a URL with
 * credentials is never taken. Nothing is resolved (no network). Any broken property aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mopay/outbox.h"

static void check(int ok)
{
    if (!ok)
        abort();
}

static void check_taken(const struct mopay_webhook_target *t, const struct mopay_webhook_policy *policy)
{
    size_t len = strnlen(t->host, sizeof(t->host));
    check(len > 0 && len < sizeof(t->host) && t->port > 0);
    for (size_t i = 0; i < len; i++)
        check(!(t->host[i] >= 'A' && t->host[i] <= 'Z'));
    if (t->literal)
        check(mopay_webhook_addr_allowed((const struct sockaddr *)&t->addr, policy));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *url = (const char *)data;
    struct mopay_webhook_policy strict = {0}, open = {.allow_private = true, .allow_insecure = true};
    struct mopay_webhook_target t;
    const char *why = NULL;
    enum mopay_err a = mopay_webhook_url_check(url, size, &strict, &t, &why);
    check(a == MOPAY_OK || a == MOPAY_ERR_url_invalid || a == MOPAY_ERR_url_forbidden);
    check(a == MOPAY_OK || why != NULL);
    if (a == MOPAY_OK)
        check_taken(&t, &strict);
    enum mopay_err b = mopay_webhook_url_check(url, size, &open, &t, &why);
    check(b == MOPAY_OK || b == MOPAY_ERR_url_invalid || b == MOPAY_ERR_url_forbidden);
    check(a != MOPAY_OK || b == MOPAY_OK);
    if (b == MOPAY_OK) {
        check_taken(&t, &open);
        size_t start = (size_t)((const char *)memchr(url, ':', size) - url) + 3, end = start;
        while (end < size && url[end] != '/' && url[end] != '?')
            end++;
        check(start <= end && memchr(url + start, '@', end - start) == NULL); /* no credentials */
    }
    return 0;
}
