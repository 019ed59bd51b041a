/* Wallets and the money that moves through them: limits, top-ups, withdrawals, P2P, history. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>


#include "internal.h"
#include "mopay/assert.h"
#include "mopay/json.h"
#include "mopay/log.h"

#define NS_PER_DAY (86400LL * 1000000000LL)

int64_t wallet_day_of(int64_t now_ns)
{
    return now_ns / NS_PER_DAY; /* limits reset at midnight UTC */
}

const char *mopay_movement_status_name(enum mopay_movement_status status)
{
    static const char *const names[] = {"pending", "succeeded", "declined", "expired"};
    MOPAY_ASSERT(status >= 0 && status < (int)(sizeof(names) / sizeof(names[0])));
    return names[status];
}

struct mopay_wallet *mopay_wallet_get(struct mopay_wallet_state *w, const struct mopay_id *id)
{
    return mopay_index_get(&w->wallets, id->bytes);
}

struct mopay_wallet *mopay_wallet_of(const struct mopay_customer *c, const struct mopay_currency *currency)
{
    for (size_t i = 0; i < c->wallet_count; i++)
        if (c->wallets[i]->currency == currency)
            return c->wallets[i];
    return NULL;
}

static struct mopay_ledger *ledger_of(struct mopay_wallet_state *w)
{
    return mopay_ledger_service_ledger(w->options.ledger);
}

/* One ledger account, through the service so that it is logged. */
static enum mopay_err account_create(struct mopay_wallet_state *w, const struct mopay_id *id,
                                     enum mopay_ledger_kind kind, const struct mopay_currency *currency,
                                     uint16_t flags, int64_t now_ns)
{
    struct mopay_ledger_account a;
    memset(&a, 0, sizeof(a));
    a.id = *id;
    a.currency = currency->numeric;
    a.kind = (uint16_t)kind;
    a.flags = flags;
    uint8_t result = 0;
    mopay_ledger_service_create_accounts(w->options.ledger, &a, 1, now_ns, &result);
    return result == MOPAY_LEDGER_ok ? MOPAY_OK : MOPAY_ERR_ledger_rejected;
}

enum mopay_err mopay_wallet_open(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns,
                                 struct mopay_customer *c, const struct mopay_currency *currency,
                                 struct mopay_wallet **out)
{
    (void)store; /* the images go to the journal */
    if (mopay_wallet_of(c, currency) != NULL)
        return MOPAY_ERR_wallet_exists;
    if (c->wallet_count >= MOPAY_WALLETS_PER_CUSTOMER_MAX)
        return MOPAY_ERR_field_invalid;
    /* the callers' admission checks make this unreachable; the ledger's room is checked before
     * anything changes all the same */
    if (mopay_ledger_service_accounts_room(w->options.ledger, 1) != MOPAY_OK)
        return MOPAY_ERR_capacity_exhausted;
    struct mopay_wallet *wallet = calloc(1, sizeof(*wallet));
    if (wallet == NULL)
        return MOPAY_ERR_internal;
    mopay_id_new(now_ns, &wallet->id);
    wallet->customer = c;
    wallet->currency = currency;
    wallet->created_at_ns = now_ns;
    wallet->outflow_day = wallet_day_of(now_ns);
    if (!state_wallet_add(w, wallet)) {
        free(wallet);
        return MOPAY_ERR_internal;
    }
    enum mopay_err err = account_create(w, &wallet->id, MOPAY_LEDGER_KIND_CUSTOMER_WALLET, currency,
                                        MOPAY_LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS, now_ns);
    if (err != MOPAY_OK) { /* a fresh id, and room checked: only a broken ledger gets here */
        state_wallet_remove(w, wallet);
        free(wallet);
        return err;
    }
    *out = wallet;
    return record_wallet(w, now_ns, wallet);
}

static int64_t major_to_minor(int64_t major, const struct mopay_currency *currency)
{
    int64_t v = major;
    for (int i = 0; i < currency->exponent; i++)
        if (__builtin_mul_overflow(v, 10, &v))
            return INT64_MAX;
    return v;
}

/* A tier's figure raised by the customer's trust, within the tier's bounds: at most the next
 * tier's figure (half as much again for the top tier). */
static int64_t tier_limit(const struct mopay_wallet_options *o, int tier, bool cap, int bonus_pct,
                          const struct mopay_currency *currency)
{
    const struct mopay_wallet_tier_limits *t = &o->tiers[tier];
    int64_t base = cap ? t->balance_cap_major : t->daily_outflow_major;
    int64_t raised = base + base * bonus_pct / 100;
    if (tier + 1 < MOPAY_WALLET_TIERS) {
        int64_t next = cap ? o->tiers[tier + 1].balance_cap_major : o->tiers[tier + 1].daily_outflow_major;
        raised = raised > next ? (next > base ? next : base) : raised;
    }
    return major_to_minor(raised, currency);
}

void mopay_wallet_balance(struct mopay_wallet_state *w, const struct mopay_wallet *wallet, int64_t now_ns,
                          struct mopay_wallet_balance *out)
{
    const struct mopay_ledger_account *a = mopay_ledger_account_get(ledger_of(w), &wallet->id);
    MOPAY_ASSERT(a != NULL && a->credits_posted >= a->debits_posted);
    const struct mopay_customer *c = wallet->customer;
    int bonus = trust_bonus_pct(trust_score(c, now_ns));
    out->balance_minor = (int64_t)(a->credits_posted - a->debits_posted);
    out->available_minor = out->balance_minor - (int64_t)a->debits_pending;
    out->incoming_minor = (int64_t)a->credits_pending;
    out->balance_cap_minor = tier_limit(&w->options, c->kyc_tier, true, bonus, wallet->currency);
    out->daily_outflow_minor = tier_limit(&w->options, c->kyc_tier, false, bonus, wallet->currency);
    out->used_today_minor = wallet->outflow_day == wallet_day_of(now_ns) ? wallet->outflow_minor : 0;
}

enum mopay_err outflow_check(struct mopay_wallet_state *w, const struct mopay_wallet *wallet,
                                    int64_t amount_minor, int64_t now_ns)
{
    struct mopay_wallet_balance b;
    mopay_wallet_balance(w, wallet, now_ns, &b);
    int64_t after;
    if (!mopay_money_add(b.used_today_minor, amount_minor, &after) || after > b.daily_outflow_minor)
        return MOPAY_ERR_limit_exceeded;
    if (amount_minor > b.available_minor)
        return MOPAY_ERR_insufficient_funds;
    return MOPAY_OK;
}

/* Whether `amount` more may come in: the balance with what is already on its way stays under the cap. */
enum mopay_err inflow_check(struct mopay_wallet_state *w, const struct mopay_wallet *wallet,
                                   int64_t amount_minor, int64_t now_ns)
{
    struct mopay_wallet_balance b;
    mopay_wallet_balance(w, wallet, now_ns, &b);
    int64_t after;
    if (!mopay_money_add(b.balance_minor, b.incoming_minor, &after) ||
        !mopay_money_add(after, amount_minor, &after) || after > b.balance_cap_minor)
        return MOPAY_ERR_balance_limit_exceeded;
    return MOPAY_OK;
}

void outflow_count(struct mopay_wallet *wallet, int64_t amount_minor, int64_t now_ns)
{
    int64_t today = wallet_day_of(now_ns);
    if (wallet->outflow_day != today) {
        wallet->outflow_day = today;
        wallet->outflow_minor = 0;
    }
    MOPAY_ASSERT(mopay_money_add(wallet->outflow_minor, amount_minor, &wallet->outflow_minor));
}

void outflow_count_give_back(struct mopay_wallet *wallet, int64_t amount_minor, int64_t made_ns, int64_t now_ns)
{
    if (wallet_day_of(made_ns) != wallet_day_of(now_ns) || wallet->outflow_day != wallet_day_of(now_ns))
        return; /* yesterday's outflow no longer counts */
    wallet->outflow_minor -= amount_minor;
    MOPAY_ASSERT(wallet->outflow_minor >= 0);
}

enum mopay_err entry_append(struct mopay_store *store, const struct mopay_wallet *wallet, int64_t now_ns,
                            const char *id, const char *type, int64_t amount_minor, const char *counterparty,
                            const char *note)
{
    char owner[MOPAY_ID_TEXT_BYTES], amount[MOPAY_MONEY_TEXT_BYTES];
    mopay_id_format(MOPAY_ID_WALLET, &wallet->id, owner);
    mopay_money_format(amount_minor, wallet->currency, amount);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "id", id, "type", type, "amount", amount, "currency",
                          wallet->currency->alpha);
    MOPAY_ASSERT(j != NULL);
    if (counterparty != NULL)
        json_object_set_new(j, "counterparty", json_pack("{s:s}", "name", counterparty));
    if (note != NULL && note[0] != '\0')
        json_object_set_new(j, "note", json_string(note));
    size_t len;
    char *text = mopay_json_dump(j, &len);
    json_decref(j);
    MOPAY_ASSERT(text != NULL);
    enum mopay_err err = store->entry_append(store, owner, now_ns, id, text, len);
    free(text);
    return err;
}

enum mopay_err mopay_wallet_outflow_check(struct mopay_wallet_state *w, const struct mopay_wallet *wallet,
                                          int64_t amount_minor, int64_t now_ns)
{
    return outflow_check(w, wallet, amount_minor, now_ns);
}

enum mopay_err mopay_wallet_inflow_check(struct mopay_wallet_state *w, const struct mopay_wallet *wallet,
                                         int64_t amount_minor, int64_t now_ns)
{
    return inflow_check(w, wallet, amount_minor, now_ns);
}

enum mopay_err mopay_wallet_outflow_count(struct mopay_wallet_state *w, struct mopay_store *store,
                                          struct mopay_wallet *wallet, int64_t amount_minor, int64_t made_ns,
                                          int64_t now_ns)
{
    (void)store; /* the wallet's image goes to the journal */
    if (amount_minor >= 0)
        outflow_count(wallet, amount_minor, now_ns);
    else
        outflow_count_give_back(wallet, -amount_minor, made_ns, now_ns);
    return record_wallet(w, now_ns, wallet);
}

enum mopay_err mopay_wallet_history_add(struct mopay_store *store, const struct mopay_wallet *wallet, int64_t now_ns,
                                        const char *id, const char *type, int64_t amount_minor,
                                        const char *counterparty, const char *note)
{
    return entry_append(store, wallet, now_ns, id, type, amount_minor, counterparty, note);
}

/* a fixed id per wallet, so that every start finds the same account */
static void receivable_id(const struct mopay_wallet *wallet, struct mopay_id *out)
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, (const unsigned char *)"mopay.receivable", 16, 16);
    crypto_generichash_update(&st, wallet->id.bytes, 16);
    crypto_generichash_final(&st, out->bytes, 16);
}

enum mopay_err mopay_wallet_receivable_room(struct mopay_wallet_state *w, const struct mopay_wallet *wallet)
{
    struct mopay_id id;
    receivable_id(wallet, &id);
    if (mopay_ledger_account_get(ledger_of(w), &id) != NULL)
        return MOPAY_OK;
    return mopay_ledger_service_accounts_room(w->options.ledger, 1);
}

enum mopay_err mopay_wallet_receivable(struct mopay_wallet_state *w, const struct mopay_wallet *wallet, int64_t now_ns,
                                       struct mopay_id *out)
{
    receivable_id(wallet, out);
    if (mopay_ledger_account_get(ledger_of(w), out) != NULL)
        return MOPAY_OK;
    if (mopay_ledger_service_accounts_room(w->options.ledger, 1) != MOPAY_OK)
        return MOPAY_ERR_capacity_exhausted;
    return account_create(w, out, MOPAY_LEDGER_KIND_RECEIVABLE, wallet->currency, 0, now_ns);
}
