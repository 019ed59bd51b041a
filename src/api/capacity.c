/* Admission control: every bounded resource in one place. A command that makes something
 * calls api_admit first thing in its apply, on the sequencer thread, with everything it will
 * need (a P2P to a phone without a wallet needs a wallet and its ledger account; a payment its
 * webhook events): all of it fits, or the command answers 503 capacity_exhausted, naming the
 * resource, before it changes anything. The periodic tick asks api_events_room before each
 * change that makes an event and puts the change off when there is no room. */
#include <stdio.h>

#include "internal.h"
#include "mopay/ledger_service.h"
#include "mopay/ratelimit.h"

static size_t or_default(size_t v, size_t fallback)
{
    return v > 0 ? v : fallback;
}

bool api_capacity_init(struct mopay_api *api, const struct mopay_api_capacity *in, char *err, size_t err_cap)
{
    int64_t hour_ns = 3600 * INT64_C(1000000000);
    bool ok = mopay_ratelimit_make(in->quotes_per_customer_per_hour, hour_ns, MOPAY_RATELIMIT_KEYS_MAX, false,
                                   &api->quote_share);
    ok &= mopay_ratelimit_make(in->declines_per_customer_per_hour, hour_ns, MOPAY_RATELIMIT_KEYS_MAX, false,
                               &api->decline_share);
    if (!ok) {
        snprintf(err, err_cap, "out of memory for the per-customer shares");
        return false;
    }
    api->capacity = (struct mopay_api_capacity){
        .customers_max = or_default(in->customers_max, MOPAY_CUSTOMERS_MAX_DEFAULT),
        .wallets_max = or_default(in->wallets_max, MOPAY_WALLETS_MAX_DEFAULT),
        .merchants_max = or_default(in->merchants_max, MOPAY_MERCHANTS_MAX_DEFAULT),
        .orders_max = or_default(in->orders_max, MOPAY_ORDERS_MAX_DEFAULT),
        .quotes_max = or_default(in->quotes_max, MOPAY_QUOTES_MAX_DEFAULT),
        .payments_max = or_default(in->payments_max, MOPAY_PAYMENTS_MAX_DEFAULT),
        .outbox_events_max = or_default(in->outbox_events_max, MOPAY_OUTBOX_EVENTS_MAX_DEFAULT),
        .outbox_events_per_merchant_max =
            or_default(in->outbox_events_per_merchant_max, MOPAY_OUTBOX_EVENTS_PER_MERCHANT_MAX_DEFAULT),
        .quotes_per_customer_per_hour = in->quotes_per_customer_per_hour,
        .declines_per_customer_per_hour = in->declines_per_customer_per_hour,
    };
    return true;
}

void api_capacity_deinit(struct mopay_api *api)
{
    mopay_ratelimit_free(api->quote_share);
    mopay_ratelimit_free(api->decline_share);
    api->quote_share = api->decline_share = NULL;
}

enum mopay_err api_share_check(struct mopay_api *api, struct mopay_ratelimit *share, const struct mopay_customer *c,
                               struct mopay_http_command *cmd, int64_t now_ns, const char *detail)
{
    int64_t retry_s = 0;
    if (mopay_ratelimit_check(share, c->id.bytes, sizeof(c->id.bytes), now_ns, &retry_s))
        return MOPAY_OK;
    atomic_fetch_add(&api->capacity_refused, 1);
    cmd->retry_after_s = retry_s;
    cmd->err_detail = detail;
    return MOPAY_ERR_rate_limited;
}

void api_share_take(struct mopay_ratelimit *share, const struct mopay_customer *c, int64_t now_ns)
{
    mopay_ratelimit_take(share, c->id.bytes, sizeof(c->id.bytes), now_ns, NULL);
}

static bool fits(size_t held, size_t more, size_t max)
{
    return more == 0 || (held <= max && more <= max - held);
}

/* The name of the first resource that has no room for `need`, or NULL when all fit. */
static const char *capacity_short(struct mopay_api *api, const struct api_need *need)
{
    const struct mopay_api_capacity *c = &api->capacity;
    if (!fits(mopay_wallet_customer_count(api->wallet), need->customers, c->customers_max))
        return "the server has no room for more customers (--customers-max)";
    if (!fits(mopay_wallet_count(api->wallet), need->wallets, c->wallets_max))
        return "the server has no room for more wallets (--wallets-max)";
    if (!fits(mopay_merchant_count(api->merchant), need->merchants, c->merchants_max))
        return "the server has no room for more merchants (--merchants-max)";
    if (!fits(mopay_order_count(api->merchant), need->orders, c->orders_max))
        return "the server has no room for more orders (--orders-max)";
    if (!fits(mopay_quotes_count(api->quotes), need->quotes, c->quotes_max))
        return "the server has no room for more FX quotes (--quotes-max)";
    if (!fits(mopay_pay_payment_count(api->pay), need->payments, c->payments_max))
        return "the server has no room for more payments (--payments-max)";
    size_t accounts = need->wallets + need->merchants + need->ledger_accounts;
    if (accounts > 0 && mopay_ledger_service_accounts_room(api->ledger, accounts) != MOPAY_OK)
        return "the ledger has no room for more accounts (--ledger-accounts-max)";
    if (need->events == 0 || need->merchant == NULL || need->merchant->webhook_url[0] == '\0')
        return NULL; /* no webhook, no event */
    if (mopay_outbox_check_room(api->outbox, need->events) != MOPAY_OK)
        return "the webhook outbox is full (--outbox-events-max)";
    if (mopay_outbox_merchant_room(api->outbox, &need->merchant->id, need->events) != MOPAY_OK)
        return "the merchant's webhook queue is full: its endpoint is not taking events "
               "(--outbox-events-per-merchant-max)";
    return NULL;
}

enum mopay_err api_admit(struct mopay_api *api, struct mopay_http_command *cmd, const struct api_need *need)
{
    const char *detail = capacity_short(api, need);
    if (detail == NULL)
        return MOPAY_OK;
    atomic_fetch_add(&api->capacity_refused, 1);
    if (cmd != NULL)
        cmd->err_detail = detail;
    return MOPAY_ERR_capacity_exhausted;
}

bool api_events_room(struct mopay_api *api, const struct mopay_merchant *merchant, size_t events)
{
    struct api_need need = {.events = events, .merchant = merchant};
    return capacity_short(api, &need) == NULL;
}
