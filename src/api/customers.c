/* Customers and devices: self sign-up, the customer's view of itself, KYC, freezes, devices.
 *
 * Sign-up hashes the PIN with Argon2id, which takes tens of milliseconds on purpose: that runs
 * on the worker pool, never on an event loop or the sequencer. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/clock.h"

/* Argon2id at OWASP's floor (19 MiB, 2 passes): ~30 ms a hash. A six-digit PIN is weak whatever
 * the cost; what protects it is the lock after five wrong tries, and this cost makes a stolen
 * database slow to brute-force. */

struct device_fields {
    struct mopay_str public_key, name;
};

/* The device key, base64 of 32 bytes that are a point on the curve. */
static bool public_key_read(struct mopay_http_request *req, const struct mopay_str *s, const char *pointer,
                            uint8_t out[32])
{
    size_t len = 0;
    if (sodium_base642bin(out, 32, s->ptr, s->len, NULL, &len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        len != 32 || crypto_core_ed25519_is_valid_point(out) != 1) {
        mopay_http_reply_error(req, MOPAY_ERR_public_key_invalid, pointer,
                               "expected the base64 of a 32-byte Ed25519 public key");
        return false;
    }
    return true;
}

/* --- POST /v1/customers --- */

struct signup {
    struct mopay_http_command base;
    struct mopay_str phone, name, country, pin;
    struct device_fields device;
    struct mopay_signup in;
    bool hashed;
    struct mopay_customer *customer;
    struct mopay_device *made;
};

static enum mopay_err signup_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    struct signup *s = (struct signup *)cmd;
    struct mopay_api *api = cmd->app;
    struct api_need need = {.customers = 1};
    enum mopay_err err = api_admit(api, cmd, &need);
    if (err != MOPAY_OK)
        return err;
    err = mopay_wallet_signup(api->wallet, store, now_ns, &s->in, &s->customer, &s->made);
    if (err == MOPAY_ERR_phone_taken)
        cmd->err_field = "/phone";
    return err;
}

static json_t *signup_render(struct mopay_http_command *cmd, int *status)
{
    struct signup *s = (struct signup *)cmd;
    struct mopay_api *api = cmd->app;
    *status = 201;
    return json_pack("{s:o, s:o}", "customer", api_customer_json(api, s->customer, cmd->seq.applied_at_ns), "device",
                     api_device_json(s->made, true));
}

static void signup_hash(void *arg)
{
    struct signup *s = arg;
    /* the PIN stays in the request's arena, which lives until the reply */
    const struct mopay_api *api = s->base.app;
    s->hashed = mopay_keys_pin_hash(api->keys, s->pin.ptr, s->pin.len, MOPAY_PIN_HASH_OPS, MOPAY_PIN_HASH_MEM, s->in.pin_hash,
                                    sizeof(s->in.pin_hash));
}

static void signup_hashed(struct mopay_http_request *req, void *arg)
{
    struct signup *s = arg;
    if (!s->hashed) {
        api_reply_oom(req);
        return;
    }
    mopay_http_submit(req, &s->base);
}

const struct mopay_json_field api_device_fields[] = {
    {.name = "public_key", .kind = MOPAY_JSON_STRING, .required = true,
     .offset = offsetof(struct device_fields, public_key), .min_len = 1, .max_len = 64},
    {.name = "name", .kind = MOPAY_JSON_STRING, .required = true, .offset = offsetof(struct device_fields, name),
     .min_len = 1, .max_len = MOPAY_NAME_BYTES_MAX},
    {0},
};

#define SIGNUP_DEVICE(member) (offsetof(struct signup, device) + offsetof(struct device_fields, member))
static const struct mopay_json_field signup_device_fields[] = {
    {.name = "public_key", .kind = MOPAY_JSON_STRING, .required = true, .offset = SIGNUP_DEVICE(public_key),
     .min_len = 1, .max_len = 64},
    {.name = "name", .kind = MOPAY_JSON_STRING, .required = true, .offset = SIGNUP_DEVICE(name), .min_len = 1,
     .max_len = MOPAY_NAME_BYTES_MAX},
    {0},
};

const struct mopay_json_field api_signup_fields[] = {
    {.name = "phone", .kind = MOPAY_JSON_STRING, .required = true, .offset = offsetof(struct signup, phone),
     .min_len = 1, .max_len = 32},
    {.name = "name", .kind = MOPAY_JSON_STRING, .required = true, .offset = offsetof(struct signup, name),
     .min_len = 1, .max_len = MOPAY_NAME_BYTES_MAX},
    {.name = "country", .kind = MOPAY_JSON_STRING, .required = true, .offset = offsetof(struct signup, country),
     .min_len = 1, .max_len = 8},
    {.name = "pin", .kind = MOPAY_JSON_STRING, .required = true, .offset = offsetof(struct signup, pin),
     .min_len = 1, .max_len = 16},
    {.name = "device", .kind = MOPAY_JSON_OBJECT, .required = true, .fields = signup_device_fields},
    {0},
};

/* Every check on the sign-up's fields, in document order. */
static bool signup_check(struct mopay_http_request *req, struct signup *s)
{
    if (mopay_phone_parse(s->phone.ptr, s->phone.len, s->in.phone) != MOPAY_OK) {
        mopay_http_reply_error(req, MOPAY_ERR_phone_invalid, "/phone", "expected E.164, such as +8613800138000");
        return false;
    }
    if (!api_text_ok(req, &s->name, "/name"))
        return false;
    if (!mopay_country_valid(s->country.ptr, s->country.len)) {
        mopay_http_reply_error(req, MOPAY_ERR_country_unknown, "/country", "expected ISO 3166-1 alpha-2, such as CN");
        return false;
    }
    if (mopay_pin_check(s->pin.ptr, s->pin.len) != MOPAY_OK) {
        mopay_http_reply_error(req, MOPAY_ERR_pin_format_invalid, "/pin", "a PIN is exactly six digits");
        return false;
    }
    return public_key_read(req, &s->device.public_key, "/device/public_key", s->in.public_key) &&
           api_text_ok(req, &s->device.name, "/device/name");
}

bool api_signup_limits_init(struct mopay_api *api, const struct mopay_api_options *options, char *err,
                            size_t err_cap)
{
    int64_t hour_ns = 3600 * INT64_C(1000000000);
    bool ok = mopay_ratelimit_make(options->signup_address_per_hour, hour_ns, MOPAY_RATELIMIT_KEYS_MAX, true,
                                   &api->signup_address_limit);
    ok &= mopay_ratelimit_make(options->signup_prefix_per_hour, hour_ns, MOPAY_RATELIMIT_KEYS_MAX, true,
                               &api->signup_prefix_limit);
    if (!ok) {
        snprintf(err, err_cap, "out of memory for the sign-up limiters");
        return false;
    }
    return true;
}

void api_signup_limits_free(struct mopay_api *api)
{
    mopay_ratelimit_free(api->signup_address_limit);
    mopay_ratelimit_free(api->signup_prefix_limit);
}

/* Sign-up is open to anyone: a flood from one address, or for one range of numbers (the
 * number less its last digits: one carrier's block), is refused before the PIN is hashed. */
static bool signup_admit(struct mopay_http_request *req, struct signup *s)
{
    struct mopay_api *api = mopay_http_app(req);
    int64_t now_ns = mopay_clock_monotonic_ns(), retry_s = 0;
    const char *addr = mopay_http_client_network(req);
    if (!mopay_ratelimit_take(api->signup_address_limit, addr, strlen(addr), now_ns, &retry_s)) {
        mopay_http_reply_rate_limited(req, retry_s, "too many sign-ups from this address");
        return false;
    }
    size_t len = strlen(s->in.phone);
    size_t prefix = len > MOPAY_SIGNUP_PREFIX_DIGITS_DROPPED ? len - MOPAY_SIGNUP_PREFIX_DIGITS_DROPPED : len;
    if (!mopay_ratelimit_take(api->signup_prefix_limit, s->in.phone, prefix, now_ns, &retry_s)) {
        mopay_http_reply_rate_limited(req, retry_s, "too many sign-ups for phone numbers like this one");
        return false;
    }
    return true;
}

void api_customers_create(struct mopay_http_request *req)
{
    struct signup *s = mopay_http_command_new(req, sizeof(*s), signup_apply, signup_render);
    if (s == NULL) {
        api_reply_oom(req);
        return;
    }
    if (!mopay_http_json_read(req, mopay_http_body(req), api_signup_fields, s) || !signup_check(req, s) ||
        !signup_admit(req, s))
        return;
    s->in.name = s->name.ptr;
    s->in.country = s->country.ptr;
    s->in.device_name = s->device.name.ptr;
    randombytes_buf(s->in.code_secret, sizeof(s->in.code_secret));
    mopay_http_offload(req, signup_hash, signup_hashed, s);
}

/* --- GET /v1/customers/{id} and the operator's changes to a customer --- */

enum customer_op { CUSTOMER_GET, CUSTOMER_KYC, CUSTOMER_FREEZE, CUSTOMER_UNFREEZE, CUSTOMER_TRUST };

struct customer_cmd {
    struct mopay_http_command base;
    enum customer_op op;
    struct mopay_id id;
    int64_t tier;
    struct mopay_str document_type, document_number, reason;
    struct mopay_customer *customer;
};

static enum mopay_err customer_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    struct customer_cmd *c = (struct customer_cmd *)cmd;
    struct mopay_api *api = cmd->app;
    c->customer = api_customer_visible(api, mopay_http_principal(cmd->req), &c->id);
    if (c->customer == NULL) {
        cmd->err_detail = "no customer has this id";
        return MOPAY_ERR_resource_not_found;
    }
    switch (c->op) {
    case CUSTOMER_KYC:
        return mopay_wallet_kyc_set(api->wallet, store, now_ns, c->customer, (int)c->tier, c->document_type.ptr,
                                    c->document_number.ptr);
    case CUSTOMER_FREEZE:
    case CUSTOMER_UNFREEZE:
        return mopay_wallet_freeze(api->wallet, store, now_ns, c->customer, c->op == CUSTOMER_FREEZE);
    default:
        return MOPAY_OK;
    }
}

/* The trust rating and its factors in words, largest effect first. */
static json_t *trust_json(const struct mopay_customer *c, int64_t now_ns)
{
    struct mopay_trust t;
    mopay_wallet_trust(c, now_ns, &t);
    json_t *factors = json_array();
    for (size_t i = 0; i < t.factor_count; i++)
        json_array_append_new(factors, json_pack("{s:s, s:i, s:s}", "factor", t.factors[i].name, "points",
                                                 t.factors[i].points, "says", t.factors[i].sentence));
    return json_pack("{s:o, s:i, s:i, s:i, s:i, s:b, s:o}", "customer_id", api_id_json(MOPAY_ID_CUSTOMER, &c->id),
                     "score", t.score, "min", MOPAY_TRUST_MIN, "max", MOPAY_TRUST_MAX, "limit_bonus_percent",
                     t.limit_bonus_pct, "tax_refunds_guaranteed", t.score >= MOPAY_TRUST_GUARANTEE, "factors", factors);
}

static json_t *customer_render(struct mopay_http_command *cmd, int *status)
{
    struct customer_cmd *c = (struct customer_cmd *)cmd;
    *status = 200;
    if (c->op == CUSTOMER_TRUST)
        return trust_json(c->customer, cmd->seq.applied_at_ns);
    return api_customer_json(cmd->app, c->customer, cmd->seq.applied_at_ns);
}

static struct customer_cmd *customer_cmd_new(struct mopay_http_request *req, enum customer_op op)
{
    struct customer_cmd *c = mopay_http_command_new(req, sizeof(*c), customer_apply, customer_render);
    if (c == NULL) {
        api_reply_oom(req);
        return NULL;
    }
    c->op = op;
    return api_path_id(req, 0, MOPAY_ID_CUSTOMER, &c->id) ? c : NULL;
}

void api_customer_trust(struct mopay_http_request *req)
{
    struct customer_cmd *c = customer_cmd_new(req, CUSTOMER_TRUST);
    if (c != NULL)
        mopay_http_submit(req, &c->base);
}

void api_customer_get(struct mopay_http_request *req)
{
    struct customer_cmd *c = customer_cmd_new(req, CUSTOMER_GET);
    if (c != NULL)
        mopay_http_submit(req, &c->base);
}

const struct mopay_json_field api_kyc_fields[] = {
    {.name = "tier", .kind = MOPAY_JSON_INTEGER, .required = true, .offset = offsetof(struct customer_cmd, tier),
     .min = 0, .max = MOPAY_WALLET_TIERS - 1},
    {.name = "document_type", .kind = MOPAY_JSON_STRING, .required = true,
     .offset = offsetof(struct customer_cmd, document_type), .min_len = 1, .max_len = 23},
    {.name = "document_number", .kind = MOPAY_JSON_STRING, .required = true,
     .offset = offsetof(struct customer_cmd, document_number), .min_len = 1, .max_len = 64},
    {0},
};

static bool document_check(struct mopay_http_request *req, const struct customer_cmd *c)
{
    static const char *const types[] = {"passport", "national_id", "driving_licence", "residence_permit"};
    bool known = false;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        known |= strcmp(c->document_type.ptr, types[i]) == 0;
    if (!known) {
        mopay_http_reply_error(req, MOPAY_ERR_field_invalid, "/document_type",
                               "one of passport, national_id, driving_licence, residence_permit");
        return false;
    }
    bool ok = c->document_number.len >= 4 && c->document_number.len <= 32;
    for (size_t i = 0; ok && i < c->document_number.len; i++) {
        char ch = c->document_number.ptr[i];
        ok = (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
    }
    if (!ok)
        mopay_http_reply_error(req, MOPAY_ERR_field_invalid, "/document_number", "4 to 32 letters and digits");
    return ok;
}

void api_customer_kyc(struct mopay_http_request *req)
{
    struct customer_cmd *c = customer_cmd_new(req, CUSTOMER_KYC);
    if (c == NULL || !mopay_http_json_read(req, mopay_http_body(req), api_kyc_fields, c) || !document_check(req, c))
        return;
    mopay_http_submit(req, &c->base);
}

const struct mopay_json_field api_freeze_fields[] = {
    {.name = "reason", .kind = MOPAY_JSON_STRING, .offset = offsetof(struct customer_cmd, reason), .max_len = 256},
    {0},
};

static void customer_freeze(struct mopay_http_request *req, enum customer_op op)
{
    struct customer_cmd *c = customer_cmd_new(req, op);
    json_t *body = mopay_http_body(req);
    if (c == NULL || (body != NULL && !mopay_http_json_read(req, body, api_freeze_fields, c)))
        return;
    mopay_http_submit(req, &c->base);
}

void api_customer_freeze(struct mopay_http_request *req)
{
    customer_freeze(req, CUSTOMER_FREEZE);
}

void api_customer_unfreeze(struct mopay_http_request *req)
{
    customer_freeze(req, CUSTOMER_UNFREEZE);
}

/* --- devices --- */

struct device_cmd {
    struct mopay_http_command base;
    struct mopay_id id; /* the customer's (add) or the device's (revoke) */
    struct device_fields fields;
    uint8_t public_key[32];
    uint8_t secret[MOPAY_DEVICE_SECRET_BYTES];
    struct mopay_device *device;
    bool created;
};

static enum mopay_err device_add_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    struct device_cmd *d = (struct device_cmd *)cmd;
    struct mopay_api *api = cmd->app;
    struct mopay_customer *c = api_customer_visible(api, mopay_http_principal(cmd->req), &d->id);
    if (c == NULL) {
        cmd->err_detail = "no customer has this id";
        return MOPAY_ERR_resource_not_found;
    }
    d->created = true;
    return mopay_wallet_device_add(api->wallet, store, now_ns, c, d->public_key, d->fields.name.ptr, d->secret,
                                   &d->device);
}

static enum mopay_err device_revoke_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    struct device_cmd *d = (struct device_cmd *)cmd;
    struct mopay_api *api = cmd->app;
    d->device = mopay_wallet_device(api->wallet, &d->id);
    if (d->device == NULL || api_customer_visible(api, mopay_http_principal(cmd->req), &d->device->customer->id) == NULL) {
        cmd->err_detail = "no device has this id";
        return MOPAY_ERR_resource_not_found;
    }
    return mopay_wallet_device_revoke(api->wallet, store, now_ns, d->device);
}

static json_t *device_render(struct mopay_http_command *cmd, int *status)
{
    struct device_cmd *d = (struct device_cmd *)cmd;
    *status = d->created ? 201 : 200;
    json_t *j = api_device_json(d->device, d->created);
    sodium_memzero(d->secret, sizeof(d->secret));
    return j;
}

void api_devices_create(struct mopay_http_request *req)
{
    struct device_cmd *d = mopay_http_command_new(req, sizeof(*d), device_add_apply, device_render);
    if (d == NULL) {
        api_reply_oom(req);
        return;
    }
    if (!api_path_id(req, 0, MOPAY_ID_CUSTOMER, &d->id) ||
        !mopay_http_json_read(req, mopay_http_body(req), api_device_fields, &d->fields) ||
        !public_key_read(req, &d->fields.public_key, "/public_key", d->public_key) ||
        !api_text_ok(req, &d->fields.name, "/name"))
        return;
    randombytes_buf(d->secret, sizeof(d->secret));
    mopay_http_submit(req, &d->base);
}

void api_device_revoke(struct mopay_http_request *req)
{
    struct device_cmd *d = mopay_http_command_new(req, sizeof(*d), device_revoke_apply, device_render);
    if (d == NULL) {
        api_reply_oom(req);
        return;
    }
    if (api_path_id(req, 0, MOPAY_ID_DEVICE, &d->id))
        mopay_http_submit(req, &d->base);
}
