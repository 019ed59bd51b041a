/* Funding sources (cards and bank accounts) and the movements they fund: top-ups into a wallet
 * and withdrawals out of one, through the network connector. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/clock.h"

/* --- funding sources --- */

enum source_op { SOURCE_ADD, SOURCE_LIST, SOURCE_LOST };

struct source_cmd {
    struct mopay_http_command base;
    enum source_op op;
    struct mopay_str type, number, holder, iban, account_number, bank_code;
    int64_t exp_month, exp_year;
    bool backup;
    struct mopay_source_input in;
    struct mopay_id id;
    struct mopay_customer *customer;
    struct mopay_funding_source *source;
};

static enum mopay_err source_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    struct source_cmd *s = (struct source_cmd *)cmd;
    struct mopay_api *api = cmd->app;
    const struct mopay_principal *p = mopay_http_principal(cmd->req);
    if (s->op == SOURCE_LOST) {
        s->source = mopay_wallet_source(api->wallet, &s->id);
        if (s->source == NULL || api_customer_visible(api, p, &s->source->customer->id) == NULL) {
            cmd->err_detail = "no funding source has this id";
            return MOPAY_ERR_resource_not_found;
        }
        return mopay_wallet_source_lost(api->wallet, store, now_ns, s->source);
    }
    s->customer = api_principal_customer(api, p);
    if (s->customer == NULL) {
        cmd->err_detail = "the customer is gone";
        return MOPAY_ERR_resource_not_found;
    }
    if (s->op == SOURCE_LIST)
        return MOPAY_OK;
    enum mopay_err err = mopay_wallet_source_add(api->wallet, store, now_ns, s->customer, &s->in, &s->source);
    sodium_memzero(s->in.number, sizeof(s->in.number));
    return err;
}

static json_t *source_render(struct mopay_http_command *cmd, int *status)
{
    struct source_cmd *s = (struct source_cmd *)cmd;
    *status = s->op == SOURCE_ADD ? 201 : 200;
    if (s->op != SOURCE_LIST)
        return api_source_json(s->source);
    json_t *data = json_array();
    for (size_t i = 0; i < s->customer->source_count; i++)
        json_array_append_new(data, api_source_json(s->customer->sources[i]));
    return json_pack("{s:o, s:n}", "data", data, "next_cursor");
}

#define CARD(m) offsetof(struct source_cmd, m)
static const struct mopay_json_field card_fields[] = {
    {.name = "number", .kind = MOPAY_JSON_STRING, .required = true, .offset = CARD(number), .min_len = 1,
     .max_len = 32},
    {.name = "exp_month", .kind = MOPAY_JSON_INTEGER, .required = true, .offset = CARD(exp_month)},
    {.name = "exp_year", .kind = MOPAY_JSON_INTEGER, .required = true, .offset = CARD(exp_year)},
    {.name = "holder", .kind = MOPAY_JSON_STRING, .required = true, .offset = CARD(holder), .min_len = 1,
     .max_len = MOPAY_NAME_BYTES_MAX},
    {0},
};

static const struct mopay_json_field bank_fields[] = {
    {.name = "iban", .kind = MOPAY_JSON_STRING, .offset = CARD(iban), .min_len = 1, .max_len = 48},
    {.name = "account_number", .kind = MOPAY_JSON_STRING, .offset = CARD(account_number), .min_len = 1,
     .max_len = 48},
    {.name = "bank_code", .kind = MOPAY_JSON_STRING, .offset = CARD(bank_code), .min_len = 1, .max_len = 16},
    {.name = "holder", .kind = MOPAY_JSON_STRING, .required = true, .offset = CARD(holder), .min_len = 1,
     .max_len = MOPAY_NAME_BYTES_MAX},
    {0},
};

const struct mopay_json_field api_source_fields[] = {
    {.name = "type", .kind = MOPAY_JSON_STRING, .required = true, .offset = CARD(type), .min_len = 1,
     .max_len = 16},
    {.name = "card", .kind = MOPAY_JSON_OBJECT, .fields = card_fields},
    {.name = "bank_account", .kind = MOPAY_JSON_OBJECT, .fields = bank_fields},
    {.name = "backup", .kind = MOPAY_JSON_BOOL, .offset = CARD(backup)},
    {0},
};

static bool card_check(struct mopay_http_request *req, struct source_cmd *s)
{
    char digits[MOPAY_CARD_DIGITS_BYTES];
    if (mopay_card_parse(s->number.ptr, s->number.len, digits, &s->in.brand) != MOPAY_OK) {
        mopay_http_reply_error(req, MOPAY_ERR_card_number_invalid, "/card/number",
                               "not a Visa, Mastercard, American Express, UnionPay or JCB number with a good check digit");
        return false;
    }
    time_t now = (time_t)(mopay_clock_now_ns() / 1000000000);
    struct tm tm;
    gmtime_r(&now, &tm);
    enum mopay_err err = mopay_card_expiry_check(s->exp_year, s->exp_month, tm.tm_year + 1900, tm.tm_mon + 1);
    if (err != MOPAY_OK) {
        mopay_http_reply_error(req, err, err == MOPAY_ERR_card_expired ? "/card/exp_year" : "/card/exp_month",
                               err == MOPAY_ERR_card_expired ? "the card's expiry month has passed"
                                                             : "exp_month is 1..12 and exp_year four digits");
        sodium_memzero(digits, sizeof(digits));
        return false;
    }
    s->in.type = MOPAY_SOURCE_CARD;
    s->in.exp_month = (int)s->exp_month;
    s->in.exp_year = (int)s->exp_year;
    memcpy(s->in.number, digits, sizeof(digits));
    sodium_memzero(digits, sizeof(digits));
    return true;
}

static bool bank_check(struct mopay_http_request *req, struct source_cmd *s)
{
    s->in.type = MOPAY_SOURCE_BANK_ACCOUNT;
    if ((s->iban.ptr != NULL) == (s->account_number.ptr != NULL)) {
        mopay_http_reply_error(req, MOPAY_ERR_field_missing, "/bank_account", "give an iban or an account_number");
        return false;
    }
    if (s->iban.ptr != NULL) {
        s->in.iban = true;
        if (mopay_iban_parse(s->iban.ptr, s->iban.len, s->in.number) != MOPAY_OK) {
            mopay_http_reply_error(req, MOPAY_ERR_iban_invalid, "/bank_account/iban",
                                   "the IBAN's length for its country or its mod-97 check is wrong");
            return false;
        }
        return true;
    }
    const char *code = s->bank_code.ptr != NULL ? s->bank_code.ptr : "";
    if (mopay_bank_account_parse(s->account_number.ptr, s->account_number.len, code, strlen(code), s->in.number,
                                 s->in.bank_code) != MOPAY_OK) {
        mopay_http_reply_error(req, MOPAY_ERR_bank_account_invalid, "/bank_account",
                               "an account number of 4 to 34 digits and a bank code of 3 to 11 letters or digits");
        return false;
    }
    return true;
}

static bool source_check(struct mopay_http_request *req, struct source_cmd *s, json_t *body)
{
    bool card = strcmp(s->type.ptr, "card") == 0, bank = strcmp(s->type.ptr, "bank_account") == 0;
    if (!card && !bank) {
        mopay_http_reply_error(req, MOPAY_ERR_field_invalid, "/type", "card or bank_account");
        return false;
    }
    const char *given = card ? "card" : "bank_account", *other = card ? "bank_account" : "card";
    if (json_object_get(body, given) == NULL || json_object_get(body, other) != NULL) {
        mopay_http_reply_error(req, MOPAY_ERR_field_missing, card ? "/card" : "/bank_account",
                               "a %s source takes the %s object and only that", given, given);
        return false;
    }
    if (!api_text_ok(req, &s->holder, card ? "/card/holder" : "/bank_account/holder"))
        return false;
    s->in.holder = s->holder.ptr;
    s->in.backup = s->backup;
    return card ? card_check(req, s) : bank_check(req, s);
}

static struct source_cmd *source_cmd_new(struct mopay_http_request *req, enum source_op op)
{
    struct source_cmd *s = mopay_http_command_new(req, sizeof(*s), source_apply, source_render);
    if (s == NULL)
        api_reply_oom(req);
    else
        s->op = op;
    return s;
}

void api_sources_create(struct mopay_http_request *req)
{
    struct source_cmd *s = source_cmd_new(req, SOURCE_ADD);
    json_t *body = mopay_http_body(req);
    if (s != NULL && mopay_http_json_read(req, body, api_source_fields, s) && source_check(req, s, body))
        mopay_http_submit(req, &s->base);
}

void api_sources_list(struct mopay_http_request *req)
{
    struct source_cmd *s = source_cmd_new(req, SOURCE_LIST);
    if (s != NULL)
        mopay_http_submit(req, &s->base);
}

void api_source_lost(struct mopay_http_request *req)
{
    struct source_cmd *s = source_cmd_new(req, SOURCE_LOST);
    if (s != NULL && api_path_id(req, 0, MOPAY_ID_FUNDING_SOURCE, &s->id))
        mopay_http_submit(req, &s->base);
}

/* --- top-ups and withdrawals --- */

struct movement_cmd {
    struct mopay_http_command base;
    enum mopay_movement_kind kind;
    bool get;
    struct mopay_str wallet_text, source_text, amount_text, currency_text, pin;
    bool pin_ok;
    enum mopay_err refusal; /* a wrong PIN, counted */
    struct mopay_id id, wallet_id, source_id;
    bool source_given;
    const struct mopay_currency *currency;
    int64_t amount_minor;
    struct mopay_movement *movement;
};

/* The customer's primary source when none is named. */
static struct mopay_funding_source *primary_source(const struct mopay_customer *c)
{
    for (size_t i = 0; i < c->source_count; i++)
        if (c->sources[i]->primary && !c->sources[i]->lost)
            return c->sources[i];
    return NULL;
}

static enum mopay_err movement_start_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    struct movement_cmd *m = (struct movement_cmd *)cmd;
    struct mopay_api *api = cmd->app;
    struct mopay_customer *c = api_principal_customer(api, mopay_http_principal(cmd->req));
    enum mopay_err err = api_pin_attempt(api, store, now_ns, c, &m->pin, m->pin_ok, &m->refusal);
    if (err != MOPAY_OK || m->refusal != MOPAY_OK)
        return err;
    struct mopay_wallet *wallet = mopay_wallet_get(api->wallet, &m->wallet_id);
    if (c == NULL || wallet == NULL || wallet->customer != c) {
        cmd->err_field = "/wallet_id";
        return MOPAY_ERR_wallet_not_found;
    }
    if (wallet->currency != m->currency) {
        cmd->err_field = "/currency";
        return MOPAY_ERR_currency_mismatch;
    }
    struct mopay_funding_source *source =
        m->source_given ? mopay_wallet_source(api->wallet, &m->source_id) : primary_source(c);
    if (source == NULL || source->customer != c) {
        cmd->err_field = "/funding_source_id";
        cmd->err_detail = m->source_given ? "no funding source of this customer has this id"
                                          : "no funding source given and no primary one";
        return MOPAY_ERR_funding_source_unusable;
    }
    return mopay_wallet_movement_start(api->wallet, store, now_ns, m->kind, wallet, source, m->amount_minor,
                                       m->pin.ptr != NULL, &m->movement);
}

static enum mopay_err movement_get_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    (void)store;
    (void)now_ns;
    struct movement_cmd *m = (struct movement_cmd *)cmd;
    struct mopay_api *api = cmd->app;
    m->movement = mopay_wallet_movement(api->wallet, &m->id);
    if (m->movement == NULL || m->movement->kind != m->kind ||
        api_customer_visible(api, mopay_http_principal(cmd->req), &m->movement->wallet->customer->id) == NULL) {
        cmd->err_detail = "nothing has this id";
        return MOPAY_ERR_resource_not_found;
    }
    return MOPAY_OK;
}

static json_t *movement_render(struct mopay_http_command *cmd, int *status)
{
    struct movement_cmd *m = (struct movement_cmd *)cmd;
    if (m->refusal != MOPAY_OK)
        return api_pin_refusal(cmd, m->refusal, status);
    *status = m->get ? 200 : 201;
    return api_movement_json(m->movement);
}

const struct mopay_json_field api_movement_fields[] = {
    {.name = "wallet_id", .kind = MOPAY_JSON_STRING, .required = true,
     .offset = offsetof(struct movement_cmd, wallet_text), .min_len = 1, .max_len = 40},
    {.name = "funding_source_id", .kind = MOPAY_JSON_STRING, .offset = offsetof(struct movement_cmd, source_text),
     .min_len = 1, .max_len = 40, .present = MOPAY_JSON_PRESENT(struct movement_cmd, source_given)},
    {.name = "amount", .kind = MOPAY_JSON_STRING, .required = true,
     .offset = offsetof(struct movement_cmd, amount_text), .min_len = 1, .max_len = 32},
    {.name = "currency", .kind = MOPAY_JSON_STRING, .required = true,
     .offset = offsetof(struct movement_cmd, currency_text), .min_len = 1, .max_len = 8},
    {.name = "pin", .kind = MOPAY_JSON_STRING, .offset = offsetof(struct movement_cmd, pin), .min_len = 1,
     .max_len = 16},
    {0},
};

static void movement_create(struct mopay_http_request *req, enum mopay_movement_kind kind)
{
    struct movement_cmd *m = mopay_http_command_new(req, sizeof(*m), movement_start_apply, movement_render);
    if (m == NULL) {
        api_reply_oom(req);
        return;
    }
    m->kind = kind;
    if (!mopay_http_json_read(req, mopay_http_body(req), api_movement_fields, m) ||
        !api_body_id(req, &m->wallet_text, MOPAY_ID_WALLET, "/wallet_id", &m->wallet_id) ||
        (m->source_given &&
         !api_body_id(req, &m->source_text, MOPAY_ID_FUNDING_SOURCE, "/funding_source_id", &m->source_id)) ||
        !api_amount_read(req, &m->amount_text, &m->currency_text, &m->currency, &m->amount_minor))
        return;
    api_submit_with_pin(req, &m->base, &m->pin, &m->pin_ok);
}

void api_topups_create(struct mopay_http_request *req)
{
    movement_create(req, MOPAY_MOVEMENT_TOPUP);
}

void api_withdrawals_create(struct mopay_http_request *req)
{
    movement_create(req, MOPAY_MOVEMENT_WITHDRAWAL);
}

static void movement_get(struct mopay_http_request *req, enum mopay_movement_kind kind)
{
    struct movement_cmd *m = mopay_http_command_new(req, sizeof(*m), movement_get_apply, movement_render);
    if (m == NULL) {
        api_reply_oom(req);
        return;
    }
    m->kind = kind;
    m->get = true;
    if (api_path_id(req, 0, kind == MOPAY_MOVEMENT_TOPUP ? MOPAY_ID_TOPUP : MOPAY_ID_WITHDRAWAL, &m->id))
        mopay_http_submit(req, &m->base);
}

void api_topup_get(struct mopay_http_request *req)
{
    movement_get(req, MOPAY_MOVEMENT_TOPUP);
}

void api_withdrawal_get(struct mopay_http_request *req)
{
    movement_get(req, MOPAY_MOVEMENT_WITHDRAWAL);
}
