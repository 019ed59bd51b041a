/* POST /v1/transfers: person to person, to a phone number or a wallet id, in the sender's wallet's
 * currency, with a note; the receiver's history shows the sender's display name. The reply names
 * the receiver only masked, as Alipay and WeChat Pay do, and never its customer id: whoever
 * knows a phone number must not learn the full name and id behind it by sending 0.01. */
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"

struct p2p_cmd {
    struct mopay_http_command base;
    struct mopay_str phone_text, wallet_text, amount_text, currency_text, note, pin;
    bool pin_ok;
    enum mopay_err refusal; /* a wrong PIN, counted */
    char phone[MOPAY_PHONE_BYTES];
    struct mopay_id to_wallet;
    bool by_phone;
    const struct mopay_currency *currency;
    int64_t amount_minor;
    struct mopay_p2p result;
    struct mopay_customer *from, *to;
};

/* The receiving customer; when named by wallet, that wallet must be in the transfer's currency. */
static enum mopay_err p2p_recipient(struct mopay_api *api, struct p2p_cmd *p)
{
    if (p->by_phone) {
        p->to = mopay_wallet_customer_by_phone(api->wallet, p->phone);
        return p->to != NULL ? MOPAY_OK : MOPAY_ERR_recipient_not_found;
    }
    struct mopay_wallet *w = mopay_wallet_get(api->wallet, &p->to_wallet);
    if (w == NULL)
        return MOPAY_ERR_recipient_not_found;
    if (w->currency != p->currency)
        return MOPAY_ERR_currency_mismatch;
    p->to = w->customer;
    return MOPAY_OK;
}

static enum mopay_err p2p_apply(struct mopay_http_command *cmd, struct mopay_store *store, int64_t now_ns)
{
    struct p2p_cmd *p = (struct p2p_cmd *)cmd;
    struct mopay_api *api = cmd->app;
    p->from = api_principal_customer(api, mopay_http_principal(cmd->req));
    MOPAY_ASSERT(p->from != NULL); /* its session authenticated this request */
    /* a recipient without a wallet in the currency gets one (and its ledger account): admitted
     * first, before the PIN attempt counts */
    struct api_need need = {0};
    need.wallets = p2p_recipient(api, p) == MOPAY_OK && mopay_wallet_of(p->to, p->currency) == NULL;
    enum mopay_err err = api_admit(api, cmd, &need);
    if (err != MOPAY_OK)
        return err;
    err = api_pin_attempt(api, store, now_ns, p->from, &p->pin, p->pin_ok, &p->refusal);
    if (err != MOPAY_OK || p->refusal != MOPAY_OK)
        return err;
    if ((err = p2p_recipient(api, p)) != MOPAY_OK) {
        cmd->err_field = p->by_phone ? "/to/phone" : "/to/wallet_id";
        return err;
    }
    return mopay_wallet_p2p(api->wallet, store, now_ns, p->from, p->to, p->currency, p->amount_minor,
                            p->note.ptr != NULL ? p->note.ptr : "", p->pin.ptr != NULL, &p->result);
}

static size_t utf8_char_len(const char *s)
{
    unsigned char c = (unsigned char)*s;
    size_t n = c < 0x80 ? 1 : c >> 5 == 6 ? 2 : c >> 4 == 14 ? 3 : c >> 3 == 30 ? 4 : 1;
    for (size_t i = 1; i < n; i++)
        if (s[i] == '\0')
            return i;
    return n;
}

/* "Bob Li" -> "B** Li", "Mei Ling Chen" -> "M** L*** Chen", "李小明" -> "**明": every word but the
 * last keeps its first character, a single word only its last; each hidden character is one '*'.
 * `out` holds at least strlen(name) + 1 bytes. */
static void p2p_masked_name(const char *name, char *out)
{
    const char *last = strrchr(name, ' ');
    bool one_word = last == NULL;
    size_t n = 0;
    const char *end = one_word ? name + strlen(name) : last;
    const char *keep = one_word ? NULL : name; /* one word: find the start of its last character */
    for (const char *p = name; one_word && *p != '\0'; p += utf8_char_len(p))
        keep = p;
    bool word_start = true;
    for (const char *p = name; p < end;) {
        size_t len = utf8_char_len(p);
        if (*p == ' ' || (!one_word && word_start) || p == keep) {
            memcpy(out + n, p, len);
            n += len;
        } else {
            out[n++] = '*';
        }
        word_start = *p == ' ';
        p += len;
    }
    size_t rest = one_word ? 0 : strlen(end);
    memcpy(out + n, end, rest);
    out[n + rest] = '\0';
}

static json_t *p2p_render(struct mopay_http_command *cmd, int *status)
{
    struct p2p_cmd *p = (struct p2p_cmd *)cmd;
    if (p->refusal != MOPAY_OK)
        return api_pin_refusal(cmd, p->refusal, status);
    *status = 201;
    char masked[sizeof(p->to->name)];
    p2p_masked_name(p->to->name, masked);
    return json_pack("{s:o, s:s, s:o, s:o, s:{s:s}, s:o, s:s, s:s, s:o}", "id",
                     api_id_json(MOPAY_ID_TRANSFER, &p->result.id), "status", "succeeded", "from_wallet_id",
                     api_id_json(MOPAY_ID_WALLET, &p->result.from->id), "to_wallet_id",
                     api_id_json(MOPAY_ID_WALLET, &p->result.to->id), "to", "name", masked, "amount",
                     api_money_json(p->amount_minor, p->currency), "currency", p->currency->alpha, "note",
                     p->note.ptr != NULL ? p->note.ptr : "", "created_at", api_time_json(cmd->seq.applied_at_ns));
}

static const struct mopay_json_field to_fields[] = {
    {.name = "phone", .kind = MOPAY_JSON_STRING, .offset = offsetof(struct p2p_cmd, phone_text), .min_len = 1,
     .max_len = 32},
    {.name = "wallet_id", .kind = MOPAY_JSON_STRING, .offset = offsetof(struct p2p_cmd, wallet_text), .min_len = 1,
     .max_len = 40},
    {0},
};

const struct mopay_json_field api_p2p_fields[] = {
    {.name = "to", .kind = MOPAY_JSON_OBJECT, .required = true, .fields = to_fields},
    {.name = "amount", .kind = MOPAY_JSON_STRING, .required = true, .offset = offsetof(struct p2p_cmd, amount_text),
     .min_len = 1, .max_len = 32},
    {.name = "currency", .kind = MOPAY_JSON_STRING, .required = true,
     .offset = offsetof(struct p2p_cmd, currency_text), .min_len = 1, .max_len = 8},
    {.name = "note", .kind = MOPAY_JSON_STRING, .offset = offsetof(struct p2p_cmd, note),
     .max_len = MOPAY_NOTE_BYTES_MAX},
    {.name = "pin", .kind = MOPAY_JSON_STRING, .offset = offsetof(struct p2p_cmd, pin), .min_len = 1, .max_len = 16},
    {0},
};

static bool p2p_to_read(struct mopay_http_request *req, struct p2p_cmd *p)
{
    if ((p->phone_text.ptr != NULL) == (p->wallet_text.ptr != NULL)) {
        mopay_http_reply_error(req, MOPAY_ERR_field_missing, "/to", "give a phone or a wallet_id, not both");
        return false;
    }
    p->by_phone = p->phone_text.ptr != NULL;
    if (!p->by_phone)
        return api_body_id(req, &p->wallet_text, MOPAY_ID_WALLET, "/to/wallet_id", &p->to_wallet);
    if (mopay_phone_parse(p->phone_text.ptr, p->phone_text.len, p->phone) != MOPAY_OK) {
        mopay_http_reply_error(req, MOPAY_ERR_phone_invalid, "/to/phone", "expected E.164, such as +8613800138000");
        return false;
    }
    return true;
}

void api_p2p_create(struct mopay_http_request *req)
{
    struct p2p_cmd *p = mopay_http_command_new(req, sizeof(*p), p2p_apply, p2p_render);
    if (p == NULL) {
        api_reply_oom(req);
        return;
    }
    if (!mopay_http_json_read(req, mopay_http_body(req), api_p2p_fields, p) || !p2p_to_read(req, p) ||
        !api_amount_read(req, &p->amount_text, &p->currency_text, &p->currency, &p->amount_minor) ||
        (p->note.ptr != NULL && !api_text_ok(req, &p->note, "/note")))
        return;
    api_submit_with_pin(req, &p->base, &p->pin, &p->pin_ok);
}
