/* mopay's own payloads: what a merchant shows at the till (static) or per order (dynamic).
 *
 * The encoder writes only what EMV allows, with the spec's lengths (a city of 15 characters at
 * most, for instance), even where the decoder tolerates more: strict scanners must read it. */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/validate.h"

#define VALUE_CHARS_MAX 99
#define NAME_CHARS_MAX 25
#define CITY_CHARS_MAX 15
#define REFERENCE_CHARS_MAX 25
#define AMOUNT_CHARS_MAX 13
#define ACCOUNT_TEMPLATE_ID 26 /* the first merchant account template: mopay's */

/* Appends objects to a bounded buffer; `bad` latches when one does not fit its length field or
 * the buffer, so the caller checks once at the end. */
struct writer {
    char *buf;
    size_t len, cap;
    bool bad;
};

static void put(struct writer *w, const char *s, size_t n)
{
    if (w->bad || n > w->cap - w->len) {
        w->bad = true;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

/* `value` is `len` bytes of UTF-8; its length field counts characters. */
static void put_object(struct writer *w, unsigned id, const char *value, size_t len)
{
    MOPAY_ASSERT(id <= 99 && qr_utf8_valid(value, len));
    size_t chars = qr_utf8_count(value, len);
    if (chars == 0 || chars > VALUE_CHARS_MAX) {
        w->bad = true;
        return;
    }
    char header[5];
    snprintf(header, sizeof(header), "%02u%02zu", id, chars);
    put(w, header, 4);
    put(w, value, len);
}

/* 1..chars_max characters of UTF-8, none of them a control character. */
static bool text_valid(const char *s, size_t chars_max)
{
    size_t len = strlen(s);
    return len > 0 && qr_utf8_valid(s, len) && !qr_has_control(s, len) && qr_utf8_count(s, len) <= chars_max;
}

static bool input_valid(const struct mopay_qr_input *in)
{
    size_t mcc_len = strlen(in->mcc);
    bool mcc_ok = mcc_len == 4;
    for (size_t i = 0; i < mcc_len; i++)
        mcc_ok = mcc_ok && in->mcc[i] >= '0' && in->mcc[i] <= '9';
    return mcc_ok && text_valid(in->guid, VALUE_CHARS_MAX) && text_valid(in->merchant_id, VALUE_CHARS_MAX) &&
           (in->order_id == NULL || text_valid(in->order_id, VALUE_CHARS_MAX)) &&
           text_valid(in->merchant_name, NAME_CHARS_MAX) && text_valid(in->merchant_city, CITY_CHARS_MAX) &&
           mopay_country_valid(in->country, strlen(in->country)) &&
           (in->reference == NULL || text_valid(in->reference, REFERENCE_CHARS_MAX)) &&
           (!in->dynamic || in->amount_minor > 0);
}

/* A template of the given sub-objects as one object of `w`. */
static void put_template(struct writer *w, unsigned id, const unsigned sub_ids[], const char *const values[],
                         size_t count)
{
    char buf[VALUE_CHARS_MAX * 4]; /* 99 characters of at most 4 bytes */
    struct writer t = {.buf = buf, .cap = sizeof(buf)};
    for (size_t i = 0; i < count; i++)
        put_object(&t, sub_ids[i], values[i], strlen(values[i]));
    if (t.bad) {
        w->bad = true;
        return;
    }
    put_object(w, id, buf, t.len);
}

/* 55, and the fee it names: 56 a fixed amount, 57 a percentage ("3.5" for 350 basis points). */
static void put_tip(struct writer *w, const struct mopay_qr_tip *tip, const struct mopay_currency *currency)
{
    static const char *const indicators[] = {"", "01", "02", "03"};
    if (tip->kind == MOPAY_QR_TIP_NONE)
        return;
    put_object(w, MOPAY_QR_ID_TIP_INDICATOR, indicators[tip->kind], 2);
    char value[MOPAY_MONEY_TEXT_BYTES];
    int n = 0;
    if (tip->kind == MOPAY_QR_TIP_FIXED) {
        n = (int)mopay_money_format(tip->fee_minor, currency, value);
        w->bad |= tip->fee_minor <= 0 || n > AMOUNT_CHARS_MAX;
        put_object(w, MOPAY_QR_ID_FEE_FIXED, value, (size_t)n);
    } else if (tip->kind == MOPAY_QR_TIP_PERCENT) {
        unsigned bps = tip->fee_bps, whole = bps / 100, frac = bps % 100;
        n = frac == 0 ? snprintf(value, sizeof(value), "%u", whole)
            : frac % 10 == 0 ? snprintf(value, sizeof(value), "%u.%u", whole, frac / 10)
                             : snprintf(value, sizeof(value), "%u.%02u", whole, frac);
        w->bad |= bps == 0 || bps > 9999;
        put_object(w, MOPAY_QR_ID_FEE_PERCENT, value, (size_t)n);
    }
}

enum mopay_err mopay_qr_encode(const struct mopay_qr_input *in, char out[MOPAY_QR_PAYLOAD_BYTES_MAX + 1],
                               size_t *out_len)
{
    MOPAY_ASSERT(in != NULL && out != NULL && out_len != NULL);
    MOPAY_ASSERT(in->guid != NULL && in->merchant_id != NULL && in->merchant_name != NULL);
    MOPAY_ASSERT(in->merchant_city != NULL && in->country != NULL && in->mcc != NULL && in->currency != NULL);
    if (!input_valid(in))
        return MOPAY_ERR_invalid_qr_value;
    char amount[MOPAY_MONEY_TEXT_BYTES];
    size_t amount_len = in->dynamic ? mopay_money_format(in->amount_minor, in->currency, amount) : 0;
    if (amount_len > AMOUNT_CHARS_MAX)
        return MOPAY_ERR_invalid_qr_value;
    unsigned numeric = in->currency->numeric;
    MOPAY_ASSERT(numeric < 1000);
    const char currency[3] = {(char)('0' + numeric / 100), (char)('0' + numeric / 10 % 10), (char)('0' + numeric % 10)};

    /* Room for the CRC's four digits is kept out of the writer's cap. */
    struct writer w = {.buf = out, .cap = MOPAY_QR_PAYLOAD_BYTES_MAX - 4};
    put_object(&w, MOPAY_QR_ID_FORMAT, "01", 2);
    put_object(&w, MOPAY_QR_ID_INITIATION, in->dynamic ? "12" : "11", 2);
    const unsigned account_ids[] = {MOPAY_QR_SUB_GUID, MOPAY_QR_SUB_MERCHANT_ID, MOPAY_QR_SUB_ORDER_ID};
    const char *const account[] = {in->guid, in->merchant_id, in->order_id};
    put_template(&w, ACCOUNT_TEMPLATE_ID, account_ids, account, in->order_id != NULL ? 3 : 2);
    put_object(&w, MOPAY_QR_ID_MCC, in->mcc, 4);
    put_object(&w, MOPAY_QR_ID_CURRENCY, currency, 3);
    if (in->dynamic)
        put_object(&w, MOPAY_QR_ID_AMOUNT, amount, amount_len);
    put_tip(&w, &in->tip, in->currency);
    put_object(&w, MOPAY_QR_ID_COUNTRY, in->country, 2);
    put_object(&w, MOPAY_QR_ID_MERCHANT_NAME, in->merchant_name, strlen(in->merchant_name));
    put_object(&w, MOPAY_QR_ID_MERCHANT_CITY, in->merchant_city, strlen(in->merchant_city));
    if (in->reference != NULL) {
        const unsigned additional_ids[] = {MOPAY_QR_SUB_REFERENCE};
        const char *const additional[] = {in->reference};
        put_template(&w, MOPAY_QR_ID_ADDITIONAL_DATA, additional_ids, additional, 1);
    }
    put(&w, "6304", 4);
    if (w.bad)
        return MOPAY_ERR_invalid_qr_value;
    snprintf(out + w.len, 5, "%04X", (unsigned)mopay_qr_crc16(out, w.len));
    *out_len = w.len + 4;
    MOPAY_ASSERT(*out_len <= MOPAY_QR_PAYLOAD_BYTES_MAX && out[*out_len] == '\0');
    return MOPAY_OK;
}
