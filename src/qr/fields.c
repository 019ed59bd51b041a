/* The values of a decoded payload: the rules of fields with a defined format, and the typed
 * accessors. Both read a value through the same parser, so that an accessor can never disagree
 * with what decoding accepted. */
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "mopay/assert.h"

/* EMV's maximum lengths, in characters, of the fields mopay checks. */
#define AMOUNT_CHARS_MAX 13
#define PERCENT_CHARS_MAX 5
#define NAME_CHARS_MAX 25
#define PERCENT_DECIMALS 2

#define PIX_GUID "br.gov.bcb.pix"
#define PIX_SUB_LOCATION 25

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool all_digits(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!is_digit(s[i]))
            return false;
    return true;
}

static bool equals(const char *s, size_t len, const char *text)
{
    return len == strlen(text) && memcmp(s, text, len) == 0;
}

/* A decimal as EMV payloads write amounts: digits, then optionally '.' and at most `decimals`
 * digits. "10." (a point and no digits) is accepted because Pix payloads have it. *out is the
 * value times 10^decimals. The caller bounds len to 13, so nothing overflows. */
static bool decimal_parse(const char *s, size_t len, unsigned decimals, uint64_t *out)
{
    MOPAY_ASSERT(len <= AMOUNT_CHARS_MAX && decimals <= 4);
    uint64_t value = 0;
    size_t i = 0;
    while (i < len && is_digit(s[i]))
        value = value * 10 + (uint64_t)(s[i++] - '0');
    if (i == 0)
        return false;
    unsigned fraction = 0;
    if (i < len && s[i] == '.') {
        for (i++; i < len && is_digit(s[i]); i++) {
            if (++fraction > decimals)
                return false;
            value = value * 10 + (uint64_t)(s[i] - '0');
        }
    }
    if (i != len)
        return false;
    for (; fraction < decimals; fraction++)
        value *= 10;
    *out = value;
    return true;
}

/* The currency of object 53, or NULL when 53 is absent or not a currency mopay knows. */
static const struct mopay_currency *currency_of(const struct mopay_qr *qr)
{
    size_t len;
    const char *v = mopay_qr_value(qr, mopay_qr_find(qr, MOPAY_QR_ID_CURRENCY), &len);
    if (v == NULL || len != 3 || !all_digits(v, 3))
        return NULL;
    unsigned numeric = (unsigned)(v[0] - '0') * 100 + (unsigned)(v[1] - '0') * 10 + (unsigned)(v[2] - '0');
    return mopay_currency_by_numeric((uint16_t)numeric);
}

/* An amount (54) or fixed fee (56) in minor units of the payload's currency; false when the
 * text is not one or there is no currency to read it in. */
static bool money_of(const struct mopay_qr *qr, const struct mopay_qr_object *o, int64_t *out)
{
    size_t len;
    const char *v = mopay_qr_value(qr, o, &len);
    const struct mopay_currency *currency = currency_of(qr);
    uint64_t minor;
    if (currency == NULL || len > AMOUNT_CHARS_MAX || !decimal_parse(v, len, currency->exponent, &minor))
        return false;
    *out = (int64_t)minor;
    return true;
}

/* A percentage (57) from 0.01 to 99.99, in hundredths of a percent. */
static bool percent_of(const struct mopay_qr *qr, const struct mopay_qr_object *o, uint16_t *out_bps)
{
    size_t len;
    const char *v = mopay_qr_value(qr, o, &len);
    uint64_t bps;
    if (len > PERCENT_CHARS_MAX || !decimal_parse(v, len, PERCENT_DECIMALS, &bps) || bps == 0 || bps >= 10000)
        return false;
    *out_bps = (uint16_t)bps;
    return true;
}

/* BCB's Pix rules: the location in sub-object 25 is fetched over HTTPS and written without its
 * scheme; a payer that trusted a scheme in it could be sent somewhere else. */
static bool pix_template_valid(const struct mopay_qr *qr, const struct mopay_qr_object *tmpl)
{
    size_t guid_len, url_len;
    const char *guid = mopay_qr_value(qr, mopay_qr_find_sub(qr, tmpl, MOPAY_QR_SUB_GUID), &guid_len);
    const char *url = mopay_qr_value(qr, mopay_qr_find_sub(qr, tmpl, PIX_SUB_LOCATION), &url_len);
    if (guid == NULL || url == NULL || guid_len != strlen(PIX_GUID) || strncasecmp(guid, PIX_GUID, guid_len) != 0)
        return true;
    return memmem(url, url_len, "://", 3) == NULL;
}

static bool object_valid(const struct mopay_qr *qr, const struct mopay_qr_object *o)
{
    size_t len;
    const char *v = mopay_qr_value(qr, o, &len);
    int64_t minor;
    uint16_t bps;
    if (qr_has_control(v, len)) /* a template's value holds its sub-objects': checked here too */
        return false;
    switch (o->id) {
    case MOPAY_QR_ID_INITIATION:
        return equals(v, len, "11") || equals(v, len, "12");
    case MOPAY_QR_ID_MCC:
        return len == 4 && all_digits(v, len);
    case MOPAY_QR_ID_CURRENCY:
        return currency_of(qr) != NULL;
    case MOPAY_QR_ID_AMOUNT:
    case MOPAY_QR_ID_FEE_FIXED:
        return money_of(qr, o, &minor);
    case MOPAY_QR_ID_TIP_INDICATOR:
        return equals(v, len, "01") || equals(v, len, "02") || equals(v, len, "03");
    case MOPAY_QR_ID_FEE_PERCENT:
        return percent_of(qr, o, &bps);
    case MOPAY_QR_ID_COUNTRY:
        return len == 2 && v[0] >= 'A' && v[0] <= 'Z' && v[1] >= 'A' && v[1] <= 'Z';
    case MOPAY_QR_ID_MERCHANT_NAME:
        return qr_utf8_count(v, len) <= NAME_CHARS_MAX;
    default:
        return o->id < MOPAY_QR_ID_ACCOUNT_FIRST || o->id > MOPAY_QR_ID_ACCOUNT_LAST || pix_template_valid(qr, o);
    }
}

enum mopay_err qr_check_values(const struct mopay_qr *qr)
{
    for (size_t i = 0; i < qr->objects_count; i++)
        if (!object_valid(qr, &qr->objects[i]))
            return MOPAY_ERR_invalid_qr_value;
    /* An indicator that asks for a fee must come with it. */
    size_t len;
    const char *tip = mopay_qr_value(qr, mopay_qr_find(qr, MOPAY_QR_ID_TIP_INDICATOR), &len);
    if (tip != NULL && equals(tip, len, "02") && mopay_qr_find(qr, MOPAY_QR_ID_FEE_FIXED) == NULL)
        return MOPAY_ERR_invalid_qr_value;
    if (tip != NULL && equals(tip, len, "03") && mopay_qr_find(qr, MOPAY_QR_ID_FEE_PERCENT) == NULL)
        return MOPAY_ERR_invalid_qr_value;
    return MOPAY_OK;
}

/* ---- accessors ---- */

const char *mopay_qr_value(const struct mopay_qr *qr, const struct mopay_qr_object *o, size_t *len)
{
    MOPAY_ASSERT(qr != NULL && len != NULL);
    *len = 0;
    if (o == NULL)
        return NULL;
    MOPAY_ASSERT((size_t)o->value_at + o->value_len <= qr->payload_len);
    *len = o->value_len;
    return qr->payload + o->value_at;
}

const struct mopay_qr_object *mopay_qr_find(const struct mopay_qr *qr, unsigned id)
{
    MOPAY_ASSERT(qr != NULL && qr->objects_count <= MOPAY_QR_OBJECTS_MAX);
    for (size_t i = 0; i < qr->objects_count; i++)
        if (qr->objects[i].id == id)
            return &qr->objects[i];
    return NULL;
}

const struct mopay_qr_object *mopay_qr_find_sub(const struct mopay_qr *qr, const struct mopay_qr_object *tmpl,
                                                unsigned id)
{
    MOPAY_ASSERT(qr != NULL);
    if (tmpl == NULL)
        return NULL;
    MOPAY_ASSERT((size_t)tmpl->subs_first + tmpl->subs_count <= qr->subs_count);
    for (size_t i = 0; i < tmpl->subs_count; i++)
        if (qr->subs[tmpl->subs_first + i].id == id)
            return &qr->subs[tmpl->subs_first + i];
    return NULL;
}

const struct mopay_qr_object *mopay_qr_find_template(const struct mopay_qr *qr, const char *guid)
{
    MOPAY_ASSERT(qr != NULL && guid != NULL);
    size_t want = strlen(guid);
    for (size_t i = 0; i < qr->objects_count; i++) {
        const struct mopay_qr_object *o = &qr->objects[i];
        bool account = o->id >= MOPAY_QR_ID_ACCOUNT_FIRST && o->id <= MOPAY_QR_ID_ACCOUNT_LAST;
        if (!account && o->id < MOPAY_QR_ID_UNRESERVED_FIRST)
            continue;
        size_t len;
        const char *v = mopay_qr_value(qr, mopay_qr_find_sub(qr, o, MOPAY_QR_SUB_GUID), &len);
        if (v != NULL && len == want && strncasecmp(v, guid, len) == 0)
            return o;
    }
    return NULL;
}

const char *mopay_qr_merchant_name(const struct mopay_qr *qr, size_t *len)
{
    return mopay_qr_value(qr, mopay_qr_find(qr, MOPAY_QR_ID_MERCHANT_NAME), len);
}

const char *mopay_qr_merchant_city(const struct mopay_qr *qr, size_t *len)
{
    return mopay_qr_value(qr, mopay_qr_find(qr, MOPAY_QR_ID_MERCHANT_CITY), len);
}

const char *mopay_qr_country(const struct mopay_qr *qr, size_t *len)
{
    return mopay_qr_value(qr, mopay_qr_find(qr, MOPAY_QR_ID_COUNTRY), len);
}

const char *mopay_qr_mcc(const struct mopay_qr *qr, size_t *len)
{
    return mopay_qr_value(qr, mopay_qr_find(qr, MOPAY_QR_ID_MCC), len);
}

const struct mopay_currency *mopay_qr_currency(const struct mopay_qr *qr)
{
    return currency_of(qr);
}

bool mopay_qr_amount(const struct mopay_qr *qr, int64_t *amount_minor)
{
    MOPAY_ASSERT(amount_minor != NULL);
    const struct mopay_qr_object *o = mopay_qr_find(qr, MOPAY_QR_ID_AMOUNT);
    if (o == NULL)
        return false;
    bool ok = money_of(qr, o, amount_minor);
    MOPAY_ASSERT(ok); /* decoding checked it */
    return true;
}

enum mopay_qr_initiation mopay_qr_initiation(const struct mopay_qr *qr)
{
    size_t len;
    const char *v = mopay_qr_value(qr, mopay_qr_find(qr, MOPAY_QR_ID_INITIATION), &len);
    if (v == NULL)
        return MOPAY_QR_INITIATION_NONE;
    return equals(v, len, "12") ? MOPAY_QR_INITIATION_DYNAMIC : MOPAY_QR_INITIATION_STATIC;
}

void mopay_qr_tip(const struct mopay_qr *qr, struct mopay_qr_tip *out)
{
    MOPAY_ASSERT(out != NULL);
    *out = (struct mopay_qr_tip){.kind = MOPAY_QR_TIP_NONE};
    size_t len;
    const char *v = mopay_qr_value(qr, mopay_qr_find(qr, MOPAY_QR_ID_TIP_INDICATOR), &len);
    if (v == NULL)
        return;
    bool ok = true;
    if (equals(v, len, "01")) {
        out->kind = MOPAY_QR_TIP_PROMPT;
    } else if (equals(v, len, "02")) {
        out->kind = MOPAY_QR_TIP_FIXED;
        ok = money_of(qr, mopay_qr_find(qr, MOPAY_QR_ID_FEE_FIXED), &out->fee_minor);
    } else {
        out->kind = MOPAY_QR_TIP_PERCENT;
        ok = percent_of(qr, mopay_qr_find(qr, MOPAY_QR_ID_FEE_PERCENT), &out->fee_bps);
    }
    MOPAY_ASSERT(ok); /* decoding checked the indicator and its fee */
}
