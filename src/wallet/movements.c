/* Top-ups, withdrawals and person-to-person transfers.
 *
 * A top-up or withdrawal is two-phase in the ledger: a pending transfer between the wallet and
 * the currency's bank-clearing account is made first (a top-up's credit is then on its way, a
 * withdrawal's debit reserved), then posted when the connector approves and voided when it
 * declines, answers late with a decline, or never answers before the movement expires. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/limits.h"
#include "mopay/log.h"
#include "mopay/risk.h"

#define LATE_ANSWERS_PER_POLL 64

static enum mopay_id_kind movement_id_kind(enum mopay_movement_kind kind)
{
    return kind == MOPAY_MOVEMENT_TOPUP ? MOPAY_ID_TOPUP : MOPAY_ID_WITHDRAWAL;
}

struct mopay_movement *mopay_wallet_movement(struct mopay_wallet_state *w, const struct mopay_id *id)
{
    return mopay_index_get(&w->movements, id->bytes);
}

static enum mopay_err ledger_result_err(uint8_t result)
{
    if (result == MOPAY_LEDGER_ok)
        return MOPAY_OK;
    if (result == MOPAY_LEDGER_exceeds_credits)
        return MOPAY_ERR_insufficient_funds;
    return MOPAY_ERR_ledger_rejected;
}

static enum mopay_err ledger_transfer(struct mopay_wallet_state *w, struct mopay_ledger_transfer *t, int64_t now_ns)
{
    uint8_t result = 0;
    mopay_ledger_service_create_transfers(w->options.ledger, t, 1, now_ns, &result);
    return ledger_result_err(result);
}

/* Posts or voids the movement's pending transfer. */
static enum mopay_err movement_settle(struct mopay_wallet_state *w, struct mopay_movement *m, bool post,
                                      int64_t now_ns)
{
    struct mopay_ledger_transfer t;
    memset(&t, 0, sizeof(t));
    mopay_id_new(now_ns, &t.id);
    t.pending_id = m->id;
    t.flags = post ? MOPAY_LEDGER_POST_PENDING : MOPAY_LEDGER_VOID_PENDING;
    t.code = m->kind == MOPAY_MOVEMENT_TOPUP ? MOPAY_WALLET_CODE_TOPUP : MOPAY_WALLET_CODE_WITHDRAWAL;
    enum mopay_err err = ledger_transfer(w, &t, now_ns);
    MOPAY_ASSERT(err == MOPAY_OK); /* the domain owns the pending transfer and has no timeout on it */
    return err;
}

/* The final answer for a pending movement: approved, or not (declined or expired). */
static enum mopay_err movement_resolve(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns,
                                       struct mopay_movement *m, enum mopay_movement_status status,
                                       const char *decline_code)
{
    MOPAY_ASSERT(m->status == MOPAY_MOVEMENT_PENDING && status != MOPAY_MOVEMENT_PENDING);
    bool approved = status == MOPAY_MOVEMENT_SUCCEEDED;
    movement_settle(w, m, approved, now_ns);
    m->status = status;
    m->resolved_at_ns = now_ns;
    mopay_text_copy(m->decline_code, sizeof(m->decline_code), decline_code);
    state_pending_unlink(w, m);
    enum mopay_err err = MOPAY_OK;
    if (m->kind == MOPAY_MOVEMENT_WITHDRAWAL && !approved) {
        outflow_count_give_back(m->wallet, m->amount_minor, m->created_at_ns, now_ns);
        err = record_wallet(w, now_ns, m->wallet);
    }
    if (err == MOPAY_OK && approved) {
        char id[MOPAY_ID_TEXT_BYTES];
        mopay_id_format(movement_id_kind(m->kind), &m->id, id);
        bool topup = m->kind == MOPAY_MOVEMENT_TOPUP;
        err = entry_append(store, m->wallet, now_ns, id, topup ? "topup" : "withdrawal",
                           topup ? m->amount_minor : -m->amount_minor, NULL, NULL);
    }
    return err != MOPAY_OK ? err : record_movement(w, now_ns, m);
}

/* Everything a movement needs before anything changes. */
static enum mopay_err movement_check(struct mopay_wallet_state *w, enum mopay_movement_kind kind,
                                     const struct mopay_wallet *wallet, const struct mopay_funding_source *source,
                                     int64_t amount_minor, int64_t now_ns)
{
    MOPAY_ASSERT(amount_minor > 0 && source->customer == wallet->customer);
    if (wallet->customer->frozen)
        return MOPAY_ERR_customer_frozen;
    if (source->lost)
        return MOPAY_ERR_funding_source_unusable;
    if (kind == MOPAY_MOVEMENT_TOPUP)
        return inflow_check(w, wallet, amount_minor, now_ns);
    return outflow_check(w, wallet, amount_minor, now_ns);
}

/* The connector's request for a movement; `number` holds the opened card or account number. */
static void connector_request(const struct mopay_movement *m, const char *number,
                              struct mopay_connector_request *req, int64_t now_ns)
{
    memset(req, 0, sizeof(*req));
    req->op = m->kind == MOPAY_MOVEMENT_TOPUP ? MOPAY_CONNECTOR_CHARGE : MOPAY_CONNECTOR_PAYOUT;
    mopay_id_format(movement_id_kind(m->kind), &m->id, req->reference);
    bool card = m->source->type == MOPAY_SOURCE_CARD;
    req->card_number = card ? number : NULL;
    req->bank_account = card ? NULL : number;
    req->bank_code = card || m->source->bank_code[0] == '\0' ? NULL : m->source->bank_code;
    req->amount_minor = (uint64_t)m->amount_minor;
    req->currency = m->wallet->currency->alpha;
    req->now_ns = now_ns;
}

/* The pending ledger transfer that reserves or announces the movement's money. */
static enum mopay_err movement_reserve(struct mopay_wallet_state *w, struct mopay_movement *m, int64_t now_ns)
{
    struct mopay_id clearing;
    enum mopay_err err = mopay_ledger_service_system_account(w->options.ledger, MOPAY_LEDGER_KIND_BANK_CLEARING,
                                                             m->wallet->currency->numeric, now_ns, &clearing);
    if (err != MOPAY_OK)
        return err;
    struct mopay_ledger_transfer t;
    memset(&t, 0, sizeof(t));
    t.id = m->id;
    bool topup = m->kind == MOPAY_MOVEMENT_TOPUP;
    t.debit_account_id = topup ? clearing : m->wallet->id;
    t.credit_account_id = topup ? m->wallet->id : clearing;
    t.amount = (uint64_t)m->amount_minor;
    t.currency = m->wallet->currency->numeric;
    t.flags = MOPAY_LEDGER_PENDING;
    t.code = topup ? MOPAY_WALLET_CODE_TOPUP : MOPAY_WALLET_CODE_WITHDRAWAL;
    return ledger_transfer(w, &t, now_ns);
}

enum mopay_err mopay_wallet_movement_start(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns,
                                           enum mopay_movement_kind kind, struct mopay_wallet *wallet,
                                           struct mopay_funding_source *source, int64_t amount_minor,
                                           bool pin_verified, struct mopay_movement **out)
{
    enum mopay_err err = movement_check(w, kind, wallet, source, amount_minor, now_ns);
    struct mopay_wallet_move move = {.kind = kind == MOPAY_MOVEMENT_TOPUP ? MOPAY_RISK_TOPUP : MOPAY_RISK_WITHDRAWAL,
                                     .wallet = wallet, .source = source, .amount_minor = amount_minor,
                                     .pin_verified = pin_verified};
    if (err == MOPAY_OK && w->options.risk.allow != NULL)
        err = w->options.risk.allow(w->options.risk.ctx, &move, now_ns);
    char number[36];
    if (err == MOPAY_OK && !source_number(w, source, number))
        err = MOPAY_ERR_funding_source_unusable; /* sealed under another master key */
    if (err != MOPAY_OK)
        return err;
    struct mopay_movement *m = calloc(1, sizeof(*m));
    MOPAY_ASSERT(m != NULL);
    mopay_id_new(now_ns, &m->id);
    *m = (struct mopay_movement){.id = m->id, .kind = kind, .wallet = wallet, .source = source,
                                 .amount_minor = amount_minor, .status = MOPAY_MOVEMENT_PENDING,
                                 .created_at_ns = now_ns,
                                 .expires_at_ns = now_ns + w->options.topup_pending_ttl_s * 1000000000};
    if ((err = movement_reserve(w, m, now_ns)) != MOPAY_OK) {
        free(m);
        return err;
    }
    MOPAY_ASSERT(state_movement_add(w, m));
    if (w->options.risk.commit != NULL)
        w->options.risk.commit(w->options.risk.ctx, &move, now_ns); /* asked for: card testing counts attempts */
    if (kind == MOPAY_MOVEMENT_WITHDRAWAL) {
        outflow_count(wallet, amount_minor, now_ns);
        if ((err = record_wallet(w, now_ns, wallet)) != MOPAY_OK)
            return err;
    }
    struct mopay_connector_request req;
    struct mopay_connector_result res;
    connector_request(m, number, &req, now_ns);
    w->options.connector->submit(w->options.connector, &req, &res);
    memset(number, 0, sizeof(number));
    mopay_text_copy(m->network_reference, sizeof(m->network_reference), res.network_reference);
    *out = m;
    if (res.outcome == MOPAY_CONNECTOR_PENDING)
        return record_movement(w, now_ns, m);
    bool approved = res.outcome == MOPAY_CONNECTOR_APPROVED;
    return movement_resolve(w, store, now_ns, m, approved ? MOPAY_MOVEMENT_SUCCEEDED : MOPAY_MOVEMENT_DECLINED,
                            approved ? "" : res.decline_code);
}

/* --- person to person --- */

static enum mopay_err p2p_check(struct mopay_wallet_state *w, const struct mopay_customer *from,
                                const struct mopay_customer *to, const struct mopay_wallet *source,
                                const struct mopay_wallet *target, const struct mopay_currency *currency,
                                int64_t amount_minor, int64_t now_ns)
{
    if (from->frozen)
        return MOPAY_ERR_customer_frozen;
    if (from == to)
        return MOPAY_ERR_recipient_invalid;
    if (to->frozen)
        return MOPAY_ERR_recipient_unavailable;
    if (source == NULL)
        return MOPAY_ERR_wallet_not_found;
    enum mopay_err err = outflow_check(w, source, amount_minor, now_ns);
    if (err != MOPAY_OK)
        return err;
    if (target != NULL)
        return inflow_check(w, target, amount_minor, now_ns);
    if (to->wallet_count >= MOPAY_WALLETS_PER_CUSTOMER_MAX)
        return MOPAY_ERR_recipient_unavailable;
    /* a wallet still to open: its cap alone limits the credit */
    const struct mopay_wallet_tier_limits *tier = &w->options.tiers[to->kyc_tier];
    int64_t cap = tier->balance_cap_major;
    for (int i = 0; i < currency->exponent && cap < INT64_MAX / 10; i++)
        cap *= 10;
    return amount_minor <= cap ? MOPAY_OK : MOPAY_ERR_balance_limit_exceeded;
}

enum mopay_err mopay_wallet_p2p(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns,
                                struct mopay_customer *from, struct mopay_customer *to,
                                const struct mopay_currency *currency, int64_t amount_minor, const char *note,
                                bool pin_verified, struct mopay_p2p *out)
{
    MOPAY_ASSERT(amount_minor > 0);
    struct mopay_wallet *source = mopay_wallet_of(from, currency), *target = mopay_wallet_of(to, currency);
    enum mopay_err err = p2p_check(w, from, to, source, target, currency, amount_minor, now_ns);
    struct mopay_wallet_move move = {.kind = MOPAY_RISK_P2P_OUT, .wallet = source, .counterparty = to,
                                     .amount_minor = amount_minor, .pin_verified = pin_verified};
    if (err == MOPAY_OK && w->options.risk.allow != NULL)
        err = w->options.risk.allow(w->options.risk.ctx, &move, now_ns);
    if (err != MOPAY_OK)
        return err;
    if (target == NULL && (err = mopay_wallet_open(w, store, now_ns, to, currency, &target)) != MOPAY_OK)
        return err;
    struct mopay_ledger_transfer t;
    memset(&t, 0, sizeof(t));
    mopay_id_new(now_ns, &t.id);
    t.debit_account_id = source->id;
    t.credit_account_id = target->id;
    t.amount = (uint64_t)amount_minor;
    t.currency = currency->numeric;
    t.code = MOPAY_WALLET_CODE_P2P;
    if ((err = ledger_transfer(w, &t, now_ns)) != MOPAY_OK)
        return err; /* the checks above make this unreachable; the ledger has the last word */
    outflow_count(source, amount_minor, now_ns);
    if (w->options.risk.commit != NULL)
        w->options.risk.commit(w->options.risk.ctx, &move, now_ns);
    *out = (struct mopay_p2p){.id = t.id, .from = source, .to = target, .amount_minor = amount_minor, .note = note};
    char id[MOPAY_ID_TEXT_BYTES];
    mopay_id_format(MOPAY_ID_TRANSFER, &t.id, id);
    if ((err = record_wallet(w, now_ns, source)) != MOPAY_OK ||
        (err = entry_append(store, source, now_ns, id, "p2p_out", -amount_minor, to->name, note)) != MOPAY_OK)
        return err;
    return entry_append(store, target, now_ns, id, "p2p_in", amount_minor, from->name, note);
}

/* --- the tick --- */

static enum mopay_err late_answers(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns)
{
    struct mopay_connector *c = w->options.connector;
    struct mopay_connector_late late[LATE_ANSWERS_PER_POLL];
    for (int round = 0; round < MOPAY_CONNECTOR_PENDING_MAX / LATE_ANSWERS_PER_POLL + 1; round++) {
        size_t n = c->poll(c, now_ns, late, LATE_ANSWERS_PER_POLL);
        for (size_t i = 0; i < n; i++) {
            struct mopay_id id;
            const char *ref = late[i].reference;
            bool known = mopay_id_parse(MOPAY_ID_TOPUP, ref, strlen(ref), &id) == MOPAY_OK ||
                         mopay_id_parse(MOPAY_ID_WITHDRAWAL, ref, strlen(ref), &id) == MOPAY_OK;
            struct mopay_movement *m = known ? mopay_wallet_movement(w, &id) : NULL;
            if (m == NULL || m->status != MOPAY_MOVEMENT_PENDING)
                continue; /* already expired, or from before a restart */
            bool approved = late[i].result.outcome == MOPAY_CONNECTOR_APPROVED;
            enum mopay_err err = movement_resolve(w, store, now_ns, m,
                                                  approved ? MOPAY_MOVEMENT_SUCCEEDED : MOPAY_MOVEMENT_DECLINED,
                                                  approved ? "" : late[i].result.decline_code);
            if (err != MOPAY_OK)
                return err;
        }
        if (n < LATE_ANSWERS_PER_POLL)
            break;
    }
    return MOPAY_OK;
}

enum mopay_err mopay_wallet_tick(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns)
{
    enum mopay_err err = late_answers(w, store, now_ns);
    struct mopay_movement *m = w->pending;
    while (err == MOPAY_OK && m != NULL) {
        struct mopay_movement *next = m->next_pending;
        if (m->expires_at_ns <= now_ns)
            err = movement_resolve(w, store, now_ns, m, MOPAY_MOVEMENT_EXPIRED, "timeout");
        m = next;
    }
    if (err == MOPAY_OK && now_ns - w->sessions_purged_ns >= 60LL * 1000000000) {
        w->sessions_purged_ns = now_ns;
        err = sessions_purge(w, now_ns);
    }
    return err;
}
