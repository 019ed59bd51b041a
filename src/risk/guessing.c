/* Wrong payment codes and NFC cryptograms per merchant terminal (mopay/risk.h, "Guessing"). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "mopay/assert.h"
#include "mopay/limits.h"
#include "mopay/ratelimit.h"
#include "mopay/risk.h"

struct mopay_risk_guessing {
    struct mopay_ratelimit *terminals; /* key: merchant bytes || terminal text */
    struct mopay_ratelimit *merchants; /* key: merchant bytes */
    struct mopay_risk_guess_alert alerts[MOPAY_WRONG_CODES_ALERTS_MAX];
    size_t alert_count;
    _Atomic uint64_t wrong[MOPAY_RISK_GUESS_KINDS], refused, alerted;
};

struct mopay_risk_guessing *mopay_risk_guessing_new(uint32_t max, int64_t window_ns)
{
    if (max == 0)
        return NULL;
    MOPAY_ASSERT(window_ns > 0);
    uint64_t merchant_max = (uint64_t)max * MOPAY_WRONG_CODES_MERCHANT_FACTOR;
    struct mopay_risk_guessing *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return NULL;
    g->terminals = mopay_ratelimit_new(max, window_ns, MOPAY_RATELIMIT_KEYS_MAX, false);
    g->merchants = mopay_ratelimit_new(merchant_max > UINT32_MAX ? UINT32_MAX : (uint32_t)merchant_max, window_ns,
                                       MOPAY_RATELIMIT_KEYS_MAX, false);
    if (g->terminals == NULL || g->merchants == NULL) {
        mopay_risk_guessing_free(g);
        return NULL;
    }
    return g;
}

void mopay_risk_guessing_free(struct mopay_risk_guessing *g)
{
    if (g == NULL)
        return;
    mopay_ratelimit_free(g->terminals);
    mopay_ratelimit_free(g->merchants);
    free(g);
}

#define TERMINAL_KEY_BYTES (16 + MOPAY_RISK_TERMINAL_ID_BYTES)

static size_t terminal_key(const uint8_t merchant[16], const char *terminal, uint8_t key[TERMINAL_KEY_BYTES])
{
    size_t len = strnlen(terminal, MOPAY_RISK_TERMINAL_ID_BYTES - 1);
    memcpy(key, merchant, 16);
    memcpy(key + 16, terminal, len);
    return 16 + len;
}

/* The terminal's alert: its own, or a new one in place of the one throttled longest ago. */
static struct mopay_risk_guess_alert *alert_of(struct mopay_risk_guessing *g, const uint8_t merchant[16],
                                               const char *terminal, bool *fresh)
{
    struct mopay_risk_guess_alert *oldest = NULL;
    for (size_t i = 0; i < g->alert_count; i++) {
        struct mopay_risk_guess_alert *a = &g->alerts[i];
        if (memcmp(a->merchant, merchant, 16) == 0 && strcmp(a->terminal, terminal) == 0)
            return a;
        if (oldest == NULL || a->last_throttled_ns < oldest->last_throttled_ns)
            oldest = a;
    }
    struct mopay_risk_guess_alert *a = g->alert_count < MOPAY_WRONG_CODES_ALERTS_MAX ? &g->alerts[g->alert_count++]
                                                                                     : oldest;
    memset(a, 0, sizeof(*a));
    memcpy(a->merchant, merchant, 16);
    size_t len = strnlen(terminal, MOPAY_RISK_TERMINAL_ID_BYTES - 1);
    memcpy(a->terminal, terminal, len);
    *fresh = true;
    return a;
}

/* A refusal: the alert shows it; a terminal throttled again after a quiet window is a new spell. */
static void guessing_report(struct mopay_risk_guessing *g, const uint8_t merchant[16], const char *terminal,
                            enum mopay_risk_guess_kind kind, int64_t now_ns)
{
    bool fresh = false;
    struct mopay_risk_guess_alert *a = alert_of(g, merchant, terminal, &fresh);
    int64_t window_ns = mopay_ratelimit_window_ns(g->terminals);
    if (fresh || now_ns - a->last_throttled_ns > window_ns) {
        a->first_throttled_ns = now_ns;
        atomic_fetch_add_explicit(&g->alerted, 1, memory_order_relaxed);
    }
    a->last_throttled_ns = now_ns;
    a->kind = kind;
    a->refused++;
    atomic_fetch_add_explicit(&g->refused, 1, memory_order_relaxed);
}

bool mopay_risk_guessing_admit(struct mopay_risk_guessing *g, const uint8_t merchant[16], const char *terminal,
                               enum mopay_risk_guess_kind kind, int64_t now_ns, int64_t *retry_after_s)
{
    if (g == NULL)
        return true;
    uint8_t key[TERMINAL_KEY_BYTES];
    size_t len = terminal_key(merchant, terminal, key);
    int64_t retry_terminal = 0, retry_merchant = 0;
    bool terminal_ok = mopay_ratelimit_check(g->terminals, key, len, now_ns, &retry_terminal);
    bool merchant_ok = mopay_ratelimit_check(g->merchants, merchant, 16, now_ns, &retry_merchant);
    if (terminal_ok && merchant_ok)
        return true;
    *retry_after_s = retry_terminal > retry_merchant ? retry_terminal : retry_merchant;
    guessing_report(g, merchant, terminal, kind, now_ns);
    return false;
}

void mopay_risk_guessing_wrong(struct mopay_risk_guessing *g, const uint8_t merchant[16], const char *terminal,
                               enum mopay_risk_guess_kind kind, int64_t now_ns)
{
    MOPAY_ASSERT(kind < MOPAY_RISK_GUESS_KINDS);
    if (g == NULL)
        return;
    uint8_t key[TERMINAL_KEY_BYTES];
    size_t len = terminal_key(merchant, terminal, key);
    mopay_ratelimit_take(g->terminals, key, len, now_ns, NULL);
    mopay_ratelimit_take(g->merchants, merchant, 16, now_ns, NULL);
    atomic_fetch_add_explicit(&g->wrong[kind], 1, memory_order_relaxed);
}

size_t mopay_risk_guessing_alerts(const struct mopay_risk_guessing *g, struct mopay_risk_guess_alert *out,
                                  size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; g != NULL && i < g->alert_count; i++) {
        /* insertion by last_throttled_ns, newest first; at most MOPAY_WRONG_CODES_ALERTS_MAX */
        size_t at = n;
        while (at > 0 && out[at - 1].last_throttled_ns < g->alerts[i].last_throttled_ns)
            at--;
        if (at >= cap)
            continue;
        size_t move = (n < cap ? n : cap - 1) - at;
        memmove(&out[at + 1], &out[at], move * sizeof(*out));
        out[at] = g->alerts[i];
        n = n < cap ? n + 1 : cap;
    }
    return n;
}

void mopay_risk_guessing_stats(const struct mopay_risk_guessing *g, struct mopay_risk_guess_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (g == NULL)
        return;
    for (size_t k = 0; k < MOPAY_RISK_GUESS_KINDS; k++)
        out->wrong[k] = atomic_load_explicit(&g->wrong[k], memory_order_relaxed);
    out->refused = atomic_load_explicit(&g->refused, memory_order_relaxed);
    out->alerts = atomic_load_explicit(&g->alerted, memory_order_relaxed);
}
