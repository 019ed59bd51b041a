/* Offers and coupons: POST /v1/offers (merchant or operator), GET /v1/offers/{id},
 * POST /v1/offers/{id}/claim (customer), GET /v1/coupons (customer). */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/clock.h"

/* The whole offer (its merchant and the operator), or its public view (a customer, who must see
 * enough to claim and use it): the same without the budget, what is spent of it, how many
 * claimed it and who funds it. */
json_t *api_offer_json(const struct mopay_offer *x, bool whole)
{
    const struct mopay_currency *c = x->merchant->currency;
    json_t *j = json_pack("{s:o, s:o, s:s, s:s, s:o, s:o, s:o, s:i, s:s, s:o}", "id", api_id_json(MOPAY_ID_OFFER, &x->id),
                          "merchant_id", api_id_json(MOPAY_ID_MERCHANT, &x->merchant->id), "name", x->name, "kind",
                          x->kind == MOPAY_OFFER_PERCENT ? "percent" : "fixed", "min_spend",
                          api_money_json(x->min_spend_minor, c), "valid_from", api_time_json(x->valid_from_ns),
                          "valid_until", api_time_json(x->valid_until_ns), "per_customer_limit",
                          (int)x->per_customer_limit, "currency", c->alpha, "created_at",
                          api_time_json(x->created_at_ns));
    if (whole) {
        json_object_set_new(j, "budget", api_money_json(x->budget_minor, c));
        json_object_set_new(j, "spent", api_money_json(x->spent_minor, c));
        json_object_set_new(j, "claimed", json_integer((json_int_t)x->claimed));
        json_object_set_new(j, "funded_by",
                            json_string(x->funder == MOPAY_OFFER_PLATFORM_FUNDED ? "platform" : "merchant"));
    }
    if (x->kind == MOPAY_OFFER_PERCENT) {
        char pct[16];
        snprintf(pct, sizeof(pct), "%u.%02u", x->percent_bps / 100, x->percent_bps % 100);
        json_object_set_new(j, "percent", json_string(pct));
        if (x->cap_minor > 0)
            json_object_set_new(j, "cap", api_money_json(x->cap_minor, c));
    } else {
        json_object_set_new(j, "amount", api_money_json(x->fixed_minor, c));
    }
    return j;
}

json_t *api_coupon_json(const struct mopay_coupon *c)
{
    json_t *j = json_pack("{s:o, s:o, s:o, s:s, s:o, s:o}", "id", api_id_json(MOPAY_ID_COUPON, &c->id), "offer_id",
                          api_id_json(MOPAY_ID_OFFER, &c->offer->id), "customer_id",
                          api_id_json(MOPAY_ID_CUSTOMER, &c->customer->id), "status",
                          c->status == MOPAY_COUPON_USED ? "used" : "available", "offer", api_offer_json(c->offer, false),
                          "created_at", api_time_json(c->created_at_ns));
    if (c->status == MOPAY_COUPON_USED) {
        json_object_set_new(j, "discount", api_money_json(c->discount_minor, c->offer->merchant->currency));
        json_object_set_new(j, "payment_id", api_id_json(MOPAY_ID_PAYMENT, &c->payment_id));
    }
    return j;
}

enum offer_op { OFFER_CREATE, OFFER_GET, OFFER_CLAIM, COUPONS_LIST };

struct offer_cmd {
    struct mopay_http_command base;
    enum offer_op op;
    struct mopay_id id;
    struct mopay_str name, kind, percent, amount, min_spend, cap, budget, funded_by, merchant_text, from_text,
        until_text;
    int64_t per_customer_limit;
    struct mopay_offer_input in;
    struct mopay_offer *offer;
    struct mopay_coupon *coupon;
    struct mopay_customer *customer;
};

/* The amounts need the merchant's currency: read here, on the sequencer, where it is known. */
static enum mopay_err offer_amounts(struct offer_cmd *c, const struct mopay_currency *cur)
{
    static const char *const fields[] = {"/amount", "/min_spend", "/cap", "/budget"};
    const struct mopay_str *texts[] = {&c->amount, &c->min_spend, &c->cap, &c->budget};
    int64_t *outs[] = {&c->in.fixed_minor, &c->in.min_spend_minor, &c->in.cap_minor, &c->in.budget_minor};
    for (size_t i = 0; i < 4; i++) {
        *outs[i] = 0;
        if (texts[i]->ptr == NULL)
            continue;
        enum mopay_err err = mopay_money_parse(texts[i]->ptr, texts[i]->len, cur, 0, outs[i]);
        if (err != MOPAY_OK) {
            c->base.err_field = fields[i];
            return err;
        }
    }
    bool ok = c->in.budget_minor > 0 && (c->in.kind == MOPAY_OFFER_PERCENT ||
                                         (c->in.fixed_minor > 0 && c->in.fixed_minor < c->in.min_spend_minor));
    if (!ok) {
        c->base.err_field = c->in.budget_minor <= 0 ? "/budget" : "/amount";
        c->base.err_detail = "a budget above 0; a fixed amount above 0 and below the minimum spend";
        return MOPAY_ERR_field_invalid;
    }
    return MOPAY_OK;
}

static enum mopay_err offer_create_apply(struct mopay_api *api, struct offer_cmd *c, struct mopay_store *store,
                                         int64_t now_ns)
{
    const struct mopay_principal *p = mopay_http_principal(c->base.req);
    struct mopay_merchant *m = p->kind == MOPAY_PRINCIPAL_MERCHANT ? api_principal_merchant(api, p)
                                                                    : mopay_merchant_get(api->merchant, &c->id);
    if (m == NULL) {
        c->base.err_field = "/merchant_id";
        return MOPAY_ERR_resource_not_found;
    }
    enum mopay_err err = offer_amounts(c, m->currency);
    if (err != MOPAY_OK)
        return err;
    if (c->in.valid_from_ns == 0)
        c->in.valid_from_ns = now_ns;
    if (c->in.valid_until_ns <= c->in.valid_from_ns) {
        c->base.err_field = "/valid_until";
        return MOPAY_ERR_field_invalid;
    }
    return mopay_offer_create(api->offers, store, now_ns, m, &c->in, &c->offer);
}

static enum mopay_err offer_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    struct offer_cmd *c = (struct offer_cmd *)cmd;
    struct mopay_api *api = cmd->app;
    if (c->op == OFFER_CREATE)
        return offer_create_apply(api, c, store, now_ns);
    c->customer = api_principal_customer(api, mopay_http_principal(cmd->req));
    if (c->op == COUPONS_LIST)
        return c->customer != NULL ? MOPAY_OK : MOPAY_ERR_resource_not_found;
    c->offer = mopay_offer_get(api->offers, &c->id);
    const struct mopay_principal *p = mopay_http_principal(cmd->req);
    /* another merchant learns nothing of an offer, not even that it exists */
    if (c->offer != NULL && p->kind == MOPAY_PRINCIPAL_MERCHANT &&
        api_merchant_visible(api, p, &c->offer->merchant->id) == NULL)
        c->offer = NULL;
    if (c->offer == NULL) {
        cmd->err_detail = "no offer has this id";
        return MOPAY_ERR_resource_not_found;
    }
    return c->op == OFFER_CLAIM ? mopay_offer_claim(api->offers, store, now_ns, c->offer, c->customer, &c->coupon)
                                : MOPAY_OK;
}

static json_t *offer_render(struct mopay_http_command *cmd, int *status)
{
    struct offer_cmd *c = (struct offer_cmd *)cmd;
    struct mopay_api *api = cmd->app;
    *status = c->op == OFFER_CREATE || c->op == OFFER_CLAIM ? 201 : 200;
    if (c->op == OFFER_CLAIM)
        return api_coupon_json(c->coupon);
    if (c->op != COUPONS_LIST)
        return api_offer_json(c->offer, mopay_http_principal(cmd->req)->kind != MOPAY_PRINCIPAL_CUSTOMER);
    struct mopay_coupon *list[100];
    size_t n = mopay_coupons_of(api->offers, c->customer, list, 100);
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, api_coupon_json(list[i]));
    return json_pack("{s:o, s:n}", "data", data, "next_cursor");
}

#define OC(m) offsetof(struct offer_cmd, m)
const struct mopay_json_field api_offer_fields[] = {
    {.name = "merchant_id", .kind = MOPAY_JSON_STRING, .offset = OC(merchant_text), .min_len = 1, .max_len = 40},
    {.name = "name", .kind = MOPAY_JSON_STRING, .required = true, .offset = OC(name), .min_len = 1,
     .max_len = MOPAY_OFFER_NAME_BYTES_MAX},
    {.name = "kind", .kind = MOPAY_JSON_STRING, .required = true, .offset = OC(kind), .min_len = 1, .max_len = 16},
    {.name = "percent", .kind = MOPAY_JSON_STRING, .offset = OC(percent), .min_len = 1, .max_len = 8},
    {.name = "amount", .kind = MOPAY_JSON_STRING, .offset = OC(amount), .min_len = 1, .max_len = 32},
    {.name = "min_spend", .kind = MOPAY_JSON_STRING, .offset = OC(min_spend), .min_len = 1, .max_len = 32},
    {.name = "cap", .kind = MOPAY_JSON_STRING, .offset = OC(cap), .min_len = 1, .max_len = 32},
    {.name = "budget", .kind = MOPAY_JSON_STRING, .required = true, .offset = OC(budget), .min_len = 1, .max_len = 32},
    {.name = "valid_from", .kind = MOPAY_JSON_STRING, .offset = OC(from_text), .min_len = 1, .max_len = 40},
    {.name = "valid_until", .kind = MOPAY_JSON_STRING, .required = true, .offset = OC(until_text), .min_len = 1,
     .max_len = 40},
    {.name = "per_customer_limit", .kind = MOPAY_JSON_INTEGER, .offset = OC(per_customer_limit), .min = 1,
     .max = MOPAY_OFFER_PER_CUSTOMER_MAX},
    {.name = "funded_by", .kind = MOPAY_JSON_STRING, .offset = OC(funded_by), .min_len = 1, .max_len = 16},
    {0},
};

static bool offer_check(struct mopay_http_request *req, struct offer_cmd *c)
{
    bool operator = api_is_operator(req);
    c->in.kind = strcmp(c->kind.ptr, "fixed") == 0 ? MOPAY_OFFER_FIXED : MOPAY_OFFER_PERCENT;
    if (strcmp(c->kind.ptr, "fixed") != 0 && strcmp(c->kind.ptr, "percent") != 0) {
        mopay_http_reply_error(req, MOPAY_ERR_field_invalid, "/kind", "percent or fixed");
        return false;
    }
    bool percent = c->in.kind == MOPAY_OFFER_PERCENT;
    if ((c->percent.ptr != NULL) != percent || (c->amount.ptr != NULL) == percent) {
        mopay_http_reply_error(req, MOPAY_ERR_field_missing, percent ? "/percent" : "/amount",
                               "a percent offer takes percent, a fixed one amount");
        return false;
    }
    if (percent && (c->in.percent_bps = api_percent_bps(c->percent.ptr, c->percent.len)) == 0) {
        mopay_http_reply_error(req, MOPAY_ERR_field_invalid, "/percent", "0.01 to 99.99");
        return false;
    }
    const char *funder = c->funded_by.ptr != NULL ? c->funded_by.ptr : operator ? "platform" : "merchant";
    bool platform = strcmp(funder, "platform") == 0;
    if ((!platform && strcmp(funder, "merchant") != 0) || (platform && !operator)) {
        mopay_http_reply_error(req, MOPAY_ERR_field_invalid, "/funded_by",
                               "merchant, or platform when the operator makes the offer");
        return false;
    }
    c->in.funder = platform ? MOPAY_OFFER_PLATFORM_FUNDED : MOPAY_OFFER_MERCHANT_FUNDED;
    c->in.name = c->name.ptr;
    c->in.per_customer_limit = c->per_customer_limit > 0 ? (uint32_t)c->per_customer_limit : 1;
    return api_text_ok(req, &c->name, "/name");
}

/* The window, and which merchant: the operator names it, a merchant is it. */
static bool offer_where_when(struct mopay_http_request *req, struct offer_cmd *c)
{
    if (c->from_text.ptr != NULL && mopay_time_parse(c->from_text.ptr, c->from_text.len, &c->in.valid_from_ns) != MOPAY_OK) {
        mopay_http_reply_error(req, MOPAY_ERR_field_invalid, "/valid_from", "an RFC 3339 time");
        return false;
    }
    if (mopay_time_parse(c->until_text.ptr, c->until_text.len, &c->in.valid_until_ns) != MOPAY_OK) {
        mopay_http_reply_error(req, MOPAY_ERR_field_invalid, "/valid_until", "an RFC 3339 time");
        return false;
    }
    if (!api_is_operator(req)) {
        if (c->merchant_text.ptr == NULL)
            return true;
        mopay_http_reply_error(req, MOPAY_ERR_field_invalid, "/merchant_id", "a merchant makes offers for itself");
        return false;
    }
    if (c->merchant_text.ptr == NULL) {
        mopay_http_reply_error(req, MOPAY_ERR_field_missing, "/merchant_id", "the operator names the merchant");
        return false;
    }
    return api_body_id(req, &c->merchant_text, MOPAY_ID_MERCHANT, "/merchant_id", &c->id);
}

static struct offer_cmd *offer_cmd_new(struct mopay_http_request *req, enum offer_op op)
{
    struct offer_cmd *c = mopay_http_command_new(req, sizeof(*c), offer_apply, offer_render);
    if (c == NULL)
        api_reply_oom(req);
    else
        c->op = op;
    return c;
}

void api_offers_create(struct mopay_http_request *req)
{
    struct offer_cmd *c = offer_cmd_new(req, OFFER_CREATE);
    if (c != NULL && mopay_http_json_read(req, mopay_http_body(req), api_offer_fields, c) && offer_check(req, c) &&
        offer_where_when(req, c))
        mopay_http_submit(req, &c->base);
}

void api_offer_get(struct mopay_http_request *req)
{
    struct offer_cmd *c = offer_cmd_new(req, OFFER_GET);
    if (c != NULL && api_path_id(req, 0, MOPAY_ID_OFFER, &c->id))
        mopay_http_submit(req, &c->base);
}

void api_offer_claim(struct mopay_http_request *req)
{
    struct offer_cmd *c = offer_cmd_new(req, OFFER_CLAIM);
    if (c != NULL && api_path_id(req, 0, MOPAY_ID_OFFER, &c->id))
        mopay_http_submit(req, &c->base);
}

void api_coupons_list(struct mopay_http_request *req)
{
    struct offer_cmd *c = offer_cmd_new(req, COUPONS_LIST);
    if (c != NULL)
        mopay_http_submit(req, &c->base);
}
