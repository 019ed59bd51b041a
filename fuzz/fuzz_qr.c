/* libFuzzer harness for EMV merchant-presented payloads, the parser that reads every code a payer
 * scans. Each input is decoded as it is, and once more with "6304" and its right CRC appended.
 *
 * Any input: decoding never crashes, never reads past the input, and refuses only with one of
 * the six QR codes. Whatever decodes must decode exactly: its objects, written back with their
 * lengths counted the way decoding counted them, are the input itself, and each template's
 * sub-objects are its value. The accessors must agree with the objects, and decoding must give
 * the same result twice. Finally the decoded merchant fields are fed to the encoder: whatever it
 * accepts must decode back to the same fields. Any broken property aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mopay/qr.h"

#define TEXT_BYTES (MOPAY_QR_PAYLOAD_BYTES_MAX + 1)

static void check(int ok)
{
    if (!ok)
        abort();
}

/* Writes objects back as ID, length and value; the length counts what decoding counted. */
static size_t objects_write(const struct mopay_qr *qr, const struct mopay_qr_object *objects, size_t count,
                            char out[TEXT_BYTES])
{
    size_t len = 0;
    for (size_t i = 0; i < count; i++) {
        size_t value_len;
        const char *value = mopay_qr_value(qr, &objects[i], &value_len);
        size_t declared = 0;
        for (size_t k = 0; k < value_len; k++)
            declared += qr->lengths_in_bytes || ((unsigned char)value[k] & 0xC0) != 0x80;
        check(objects[i].id <= 99 && declared >= 1 && declared <= 99 && len + 4 + value_len < TEXT_BYTES);
        char header[24];
        snprintf(header, sizeof(header), "%02u%02zu", (unsigned)objects[i].id, declared);
        memcpy(out + len, header, 4);
        memcpy(out + len + 4, value, value_len);
        len += 4 + value_len;
    }
    return len;
}

static void check_exact(const struct mopay_qr *qr, const uint8_t *data, size_t size)
{
    char out[TEXT_BYTES];
    check(qr->objects_count >= 2 && qr->objects_count <= MOPAY_QR_OBJECTS_MAX);
    check(qr->objects[0].id == MOPAY_QR_ID_FORMAT && qr->objects[qr->objects_count - 1].id == MOPAY_QR_ID_CRC);
    check(objects_write(qr, qr->objects, qr->objects_count, out) == size && memcmp(out, data, size) == 0);
    size_t subs = 0;
    for (size_t i = 0; i < qr->objects_count; i++) {
        const struct mopay_qr_object *o = &qr->objects[i];
        check(mopay_qr_find(qr, o->id) == o); /* and so no ID twice */
        if (o->subs_count == 0)
            continue;
        size_t value_len;
        const char *value = mopay_qr_value(qr, o, &value_len);
        check(o->subs_first == subs && o->subs_first + o->subs_count <= qr->subs_count);
        check(objects_write(qr, &qr->subs[o->subs_first], o->subs_count, out) == value_len);
        check(memcmp(out, value, value_len) == 0);
        subs += o->subs_count;
    }
    check(subs == qr->subs_count);
}

static void check_accessors(const struct mopay_qr *qr)
{
    int64_t amount = -1;
    bool has_amount = mopay_qr_amount(qr, &amount);
    check(has_amount == (mopay_qr_find(qr, MOPAY_QR_ID_AMOUNT) != NULL));
    check(has_amount ? amount >= 0 && mopay_qr_currency(qr) != NULL : amount == -1);
    check((mopay_qr_currency(qr) != NULL) == (mopay_qr_find(qr, MOPAY_QR_ID_CURRENCY) != NULL));
    struct mopay_qr_tip tip;
    mopay_qr_tip(qr, &tip);
    check((tip.kind == MOPAY_QR_TIP_NONE) == (mopay_qr_find(qr, MOPAY_QR_ID_TIP_INDICATOR) == NULL));
    check(tip.kind == MOPAY_QR_TIP_FIXED ? tip.fee_minor >= 0 : tip.fee_minor == 0);
    check(tip.kind == MOPAY_QR_TIP_PERCENT ? tip.fee_bps >= 1 && tip.fee_bps <= 9999 : tip.fee_bps == 0);
    check((mopay_qr_initiation(qr) == MOPAY_QR_INITIATION_NONE) ==
          (mopay_qr_find(qr, MOPAY_QR_ID_INITIATION) == NULL));
    size_t len;
    const char *country = mopay_qr_country(qr, &len);
    check(country == NULL || (len == 2 && country[0] >= 'A' && country[0] <= 'Z'));
}

/* A NUL-terminated copy of an object's value into `buf`; NULL when the object is absent. */
static const char *text_of(const struct mopay_qr *qr, const struct mopay_qr_object *o, char buf[TEXT_BYTES])
{
    size_t len;
    const char *v = mopay_qr_value(qr, o, &len);
    if (v == NULL)
        return NULL;
    memcpy(buf, v, len);
    buf[len] = '\0';
    return buf;
}

/* Feeds the decoded fields to the encoder as mopay's own, taking the first merchant account
 * template's GUID and 01 as mopay's; what it accepts must read back the same. */
static void check_reencode(const struct mopay_qr *qr)
{
    static char bufs[8][TEXT_BYTES];
    const struct mopay_qr_object *account = NULL;
    for (size_t i = 0; i < qr->objects_count && account == NULL; i++)
        if (qr->objects[i].id >= MOPAY_QR_ID_ACCOUNT_FIRST && qr->objects[i].id <= MOPAY_QR_ID_ACCOUNT_LAST)
            account = &qr->objects[i];
    struct mopay_qr_input in = {
        .guid = text_of(qr, mopay_qr_find_sub(qr, account, MOPAY_QR_SUB_GUID), bufs[0]),
        .merchant_id = text_of(qr, mopay_qr_find_sub(qr, account, MOPAY_QR_SUB_MERCHANT_ID), bufs[1]),
        .merchant_name = text_of(qr, mopay_qr_find(qr, MOPAY_QR_ID_MERCHANT_NAME), bufs[2]),
        .merchant_city = text_of(qr, mopay_qr_find(qr, MOPAY_QR_ID_MERCHANT_CITY), bufs[3]),
        .country = text_of(qr, mopay_qr_find(qr, MOPAY_QR_ID_COUNTRY), bufs[4]),
        .mcc = text_of(qr, mopay_qr_find(qr, MOPAY_QR_ID_MCC), bufs[5]),
        .reference = text_of(qr, mopay_qr_find_sub(qr, mopay_qr_find(qr, MOPAY_QR_ID_ADDITIONAL_DATA),
                                                   MOPAY_QR_SUB_REFERENCE), bufs[6]),
        .currency = mopay_qr_currency(qr),
    };
    in.dynamic = mopay_qr_amount(qr, &in.amount_minor);
    if (!in.guid || !in.merchant_id || !in.merchant_name || !in.merchant_city || !in.country || !in.mcc ||
        !in.currency)
        return;
    char payload[MOPAY_QR_PAYLOAD_BYTES_MAX + 1];
    size_t len;
    enum mopay_err err = mopay_qr_encode(&in, payload, &len);
    check(err == MOPAY_OK || err == MOPAY_ERR_invalid_qr_value);
    if (err != MOPAY_OK)
        return;
    static struct mopay_qr again;
    check(mopay_qr_decode(payload, len, &again) == MOPAY_OK);
    check(mopay_qr_currency(&again) == in.currency);
    int64_t amount;
    check(mopay_qr_amount(&again, &amount) == in.dynamic && (!in.dynamic || amount == in.amount_minor));
    const struct mopay_qr_object *mine = mopay_qr_find_template(&again, in.guid);
    check(mine != NULL);
    const struct mopay_qr_object *fields[] = {
        mopay_qr_find_sub(&again, mine, MOPAY_QR_SUB_MERCHANT_ID),
        mopay_qr_find(&again, MOPAY_QR_ID_MERCHANT_NAME),
        mopay_qr_find(&again, MOPAY_QR_ID_MERCHANT_CITY),
    };
    const char *want[] = {in.merchant_id, in.merchant_name, in.merchant_city};
    for (size_t i = 0; i < 3; i++)
        check(fields[i] != NULL && strcmp(text_of(&again, fields[i], bufs[7]), want[i]) == 0);
}

/* All the properties for one payload. */
static void fuzz_decode(const uint8_t *data, size_t size)
{
    /* static: the struct is a few KiB, and libFuzzer runs one input at a time */
    static struct mopay_qr qr, twice;
    enum mopay_err err = mopay_qr_decode((const char *)data, size, &qr);
    if (err != MOPAY_OK) {
        check(err >= MOPAY_ERR_invalid_qr_crc && err <= MOPAY_ERR_invalid_qr_value);
        return;
    }
    check(qr.payload_len == size && memcmp(qr.payload, data, size) == 0);
    check_exact(&qr, data, size);
    check_accessors(&qr);
    check(mopay_qr_decode((const char *)data, size, &twice) == MOPAY_OK);
    check(twice.objects_count == qr.objects_count && twice.subs_count == qr.subs_count);
    check(memcmp(twice.objects, qr.objects, qr.objects_count * sizeof(qr.objects[0])) == 0);
    check(memcmp(twice.subs, qr.subs, qr.subs_count * sizeof(qr.subs[0])) == 0);
    check_reencode(&qr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_decode(data, size);
    /* The input again as a body sealed with "6304" and its right CRC: a fuzzer seldom guesses a
     * CRC, and without this it would never get past it to the templates and values. A heap copy
     * of exactly the sealed size, so ASan catches any read past it. */
    if (size > MOPAY_QR_PAYLOAD_BYTES_MAX - 8)
        return 0;
    uint8_t *sealed = malloc(size + 8);
    if (sealed == NULL)
        return 0;
    memcpy(sealed, data, size);
    memcpy(sealed + size, "6304", 4);
    char crc[5];
    snprintf(crc, sizeof(crc), "%04X", (unsigned)mopay_qr_crc16(sealed, size + 4));
    memcpy(sealed + size + 4, crc, 4);
    fuzz_decode(sealed, size + 8);
    free(sealed);
    return 0;
}
