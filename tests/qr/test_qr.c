/* EMV merchant-presented QR: every published vector (argv[1] is shared/vectors/emv_mpm_vectors.tsv),
 * the CRC, each refusal on hand-made payloads, what the accessors make of a payload, encode/decode
 * round trips and the renderers' output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mopay/money.h"
#include "mopay/qr.h"

#define VECTORS_BYTES_MAX (256 * 1024)
#define VECTORS_MAX 256
#define PAYLOAD_TEXT_BYTES (2 * MOPAY_QR_PAYLOAD_BYTES_MAX) /* hand-made ones may be too long */

/* One row of the vector file. Fields point into vectors_text. */
struct vector {
    const char *payload, *crc_valid, *notes, *published_as;
    size_t line;
};

static const char *vectors_path;
static char vectors_text[VECTORS_BYTES_MAX];
static struct vector vectors[VECTORS_MAX];
static size_t vectors_count;

/* Splits the next tab- or newline-terminated field off *p, NUL-terminating it. */
static char *field_next(char **p, char end)
{
    char *start = *p, *stop = strchr(start, end);
    if (stop == NULL)
        return NULL;
    *stop = '\0';
    *p = stop + 1;
    return start;
}

static int vectors_load(void **state)
{
    (void)state;
    FILE *f = fopen(vectors_path, "rb");
    if (f == NULL) {
        perror(vectors_path);
        return -1;
    }
    size_t n = fread(vectors_text, 1, sizeof(vectors_text) - 1, f);
    fclose(f);
    if (n == 0 || n == sizeof(vectors_text) - 1)
        return -1;
    vectors_text[n] = '\0';
    char *p = vectors_text;
    if (field_next(&p, '\n') == NULL) /* the header */
        return -1;
    for (size_t line = 2; *p != '\0' && vectors_count < VECTORS_MAX; line++) {
        struct vector *v = &vectors[vectors_count++];
        v->line = line;
        v->payload = field_next(&p, '\t');
        bool ok = v->payload && field_next(&p, '\t'); /* source */
        ok = ok && (v->crc_valid = field_next(&p, '\t')) && (v->notes = field_next(&p, '\t'));
        ok = ok && (v->published_as = field_next(&p, '\n'));
        if (!ok) {
            fprintf(stderr, "%s:%zu: not five tab-separated fields\n", vectors_path, line);
            return -1;
        }
    }
    return vectors_count >= 50 ? 0 : -1;
}

static bool vector_must_decode(const struct vector *v)
{
    return strcmp(v->published_as, "valid") == 0 && strcmp(v->crc_valid, "TRUE") == 0;
}

/* Decodes from a heap copy of exactly `len` bytes, so ASan sees any read past the end. */
static enum mopay_err decode_exact(const char *s, size_t len, struct mopay_qr *qr)
{
    char *copy = malloc(len > 0 ? len : 1);
    assert_non_null(copy);
    memcpy(copy, s, len);
    enum mopay_err err = mopay_qr_decode(copy, len, qr);
    free(copy);
    return err;
}

static enum mopay_err decode_text(const char *s)
{
    struct mopay_qr qr;
    return decode_exact(s, strlen(s), &qr);
}

/* `body` followed by "6304" and its CRC. */
static const char *with_crc(const char *body)
{
    static char text[PAYLOAD_TEXT_BYTES];
    int n = snprintf(text, sizeof(text), "%s6304", body);
    assert_true(n > 0 && (size_t)n + 5 <= sizeof(text));
    snprintf(text + n, 5, "%04X", (unsigned)mopay_qr_crc16(text, (size_t)n));
    return text;
}

static enum mopay_err decode_body(const char *body)
{
    return decode_text(with_crc(body));
}

/* Writes the decoded objects back as a payload, counting lengths the way decoding did. */
static size_t objects_write(const struct mopay_qr *qr, const struct mopay_qr_object *objects, size_t count,
                            char *out, size_t cap)
{
    size_t len = 0;
    for (size_t i = 0; i < count; i++) {
        size_t value_len;
        const char *value = mopay_qr_value(qr, &objects[i], &value_len);
        size_t declared = 0;
        for (size_t k = 0; k < value_len; k++) /* characters: bytes that do not continue one */
            declared += qr->lengths_in_bytes || ((unsigned char)value[k] & 0xC0) != 0x80;
        assert_true(declared <= 99 && len + 4 + value_len <= cap);
        char header[24];
        snprintf(header, sizeof(header), "%02u%02zu", (unsigned)objects[i].id, declared);
        memcpy(out + len, header, 4);
        memcpy(out + len + 4, value, value_len);
        len += 4 + value_len;
    }
    return len;
}

/* What decoding must always give: objects that rewrite to the payload, templates whose
 * sub-objects rewrite to their value. */
static void assert_decoded_exactly(const struct mopay_qr *qr, const char *payload)
{
    char out[PAYLOAD_TEXT_BYTES];
    size_t len = objects_write(qr, qr->objects, qr->objects_count, out, sizeof(out));
    assert_int_equal(len, strlen(payload));
    assert_memory_equal(out, payload, len);
    for (size_t i = 0; i < qr->objects_count; i++) {
        const struct mopay_qr_object *o = &qr->objects[i];
        if (o->subs_count == 0)
            continue;
        size_t value_len;
        const char *value = mopay_qr_value(qr, o, &value_len);
        len = objects_write(qr, &qr->subs[o->subs_first], o->subs_count, out, sizeof(out));
        assert_int_equal(len, value_len);
        assert_memory_equal(out, value, len);
    }
}

static bool value_is(const struct mopay_qr *qr, const struct mopay_qr_object *o, const char *want)
{
    size_t len;
    const char *v = mopay_qr_value(qr, o, &len);
    return want == NULL ? v == NULL : v != NULL && len == strlen(want) && memcmp(v, want, len) == 0;
}

/* ---- the CRC ---- */

static void crc16_check_value(void **state)
{
    (void)state;
    assert_int_equal(mopay_qr_crc16("123456789", 9), 0x29B1); /* CRC-16/CCITT-FALSE's check value */
    assert_int_equal(mopay_qr_crc16("", 0), 0xFFFF);
    assert_int_equal(mopay_qr_crc16("A", 1), 0xB915);
}

/* ---- the published vectors ---- */

static void vectors_valid_decode(void **state)
{
    (void)state;
    size_t decoded = 0;
    for (size_t i = 0; i < vectors_count; i++) {
        const struct vector *v = &vectors[i];
        if (!vector_must_decode(v))
            continue;
        struct mopay_qr qr;
        enum mopay_err err = decode_exact(v->payload, strlen(v->payload), &qr);
        if (err != MOPAY_OK)
            fail_msg("line %zu refused: %s (%s)", v->line, mopay_err_code(err), v->notes);
        assert_decoded_exactly(&qr, v->payload);
        /* Only the VietQR vector needs lengths in bytes. */
        assert_int_equal(qr.lengths_in_bytes, strstr(v->notes, "counts UTF-8 BYTES") != NULL);
        decoded++;
    }
    assert_true(decoded >= 40);
}

struct expected_fields {
    const char *crc;        /* the payload's last four characters */
    const char *name, *city; /* NULL: absent */
    const char *currency;
    int64_t amount_minor;   /* -1: no amount */
    const char *guid;       /* of the first template in 26..51; NULL: none */
    enum mopay_qr_initiation initiation;
};

/* Worked out by hand from the payloads, one per scheme and quirk. */
static const struct expected_fields expected_fields[] = {
    {"A13A", "BEST TRANSPORT", "BEIJING", "CNY", 2372, "D15600000000", MOPAY_QR_INITIATION_DYNAMIC},
    {"4220", "BEST TRANSPORT", "BEIJING", "CNY", 2372, NULL, MOPAY_QR_INITIATION_STATIC},
    {"1D3D", "Fulano de Tal", "BRASILIA", "BRL", -1, "br.gov.bcb.pix", MOPAY_QR_INITIATION_NONE},
    {"B4F6", "Fulano de Tal", "BRASÍLIA", "BRL", -1, "br.gov.bcb.pix", MOPAY_QR_INITIATION_NONE},
    {"CD52", "TESTE DE TESTE DO TESTEIE", "RIO DE JANEIRO", "BRL", 1, "br.gov.bcb.pix", MOPAY_QR_INITIATION_DYNAMIC},
    {"760E", "Teste do Teste do TesteIE", "SAO PAULO", "BRL", 1, "BR.GOV.BCB.PIX", MOPAY_QR_INITIATION_NONE},
    {"040C", "CARL", "SAN.FIERRO", "BRL", 10000, "BR.GOV.BCB.PIX", MOPAY_QR_INITIATION_NONE},
    {"9878", "CARL", "SAN.FIERRO", "BRL", 1000, "BR.GOV.BCB.PIX", MOPAY_QR_INITIATION_NONE}, /* "10." */
    {"40F2", "Arya Stark", "Sao Paulo", "BRL", 12500, "br.gov.bcb.pix", MOPAY_QR_INITIATION_NONE},
    {"34D1", "FULANO DE TAL", "BRASILIA", "BRL", 12345, "br.gov.bcb.spi", MOPAY_QR_INITIATION_DYNAMIC},
    {"4CCF", "COMPANY_1_DATA", NULL, "BRL", 1230, "br.gov.bcb.pix", MOPAY_QR_INITIATION_DYNAMIC},
    {"6197", NULL, NULL, "THB", -1, "A000000677010111", MOPAY_QR_INITIATION_STATIC},
    {"E469", NULL, NULL, "THB", 422, "A000000677010111", MOPAY_QR_INITIATION_DYNAMIC},
    {"8B76", "company_1_data", "Thailand", "THB", 10000, "A000000677010111", MOPAY_QR_INITIATION_DYNAMIC},
    {"B081", "TOAST BOX", "Singapore", "SGD", -1, "com.grab", MOPAY_QR_INITIATION_STATIC},
    {"16C8", "company_1_data", "Singapore", "SGD", 10000, "SG.PAYNOW", MOPAY_QR_INITIATION_DYNAMIC},
    {"9E64", "company_1_data", "HK", "HKD", 10050, "hk.com.hkicl", MOPAY_QR_INITIATION_DYNAMIC},
    {"95B6", NULL, NULL, "VND", 50000, "A000000727", MOPAY_QR_INITIATION_DYNAMIC},
    {"32F8", NULL, NULL, "VND", 10000, "A000000727", MOPAY_QR_INITIATION_DYNAMIC},
    {"BCB9", "Test Merchant", "Phnom Penh", "KHR", -1, "test@dev", MOPAY_QR_INITIATION_STATIC},
    {"1FF2", "Kuntheas Shop", "Banteay Meanchey", "USD", 1000, NULL, MOPAY_QR_INITIATION_DYNAMIC},
    {"4F70", "AUB YAYOI ONE BONIFACIO H", "MANDALUYONG", "PHP", -1, "ph.ppmi.p2m", MOPAY_QR_INITIATION_STATIC},
    {"CE76", "MOHD SULAIMAN BIN HAJI SU", "MY", "MYR", 100, "A0000006150001", MOPAY_QR_INITIATION_DYNAMIC},
    {"23F3", "HOH HUN YUEN", "MY", "MYR", 5, "A0000006150001", MOPAY_QR_INITIATION_DYNAMIC},
    {"B6A9", "zxcbmn", "Delhi", "INR", 110, "A000000524", MOPAY_QR_INITIATION_DYNAMIC},
};
#define EXPECTED_FIELDS_COUNT (sizeof(expected_fields) / sizeof(expected_fields[0]))

static const struct vector *vector_by_crc(const char *crc)
{
    const struct vector *found = NULL;
    for (size_t i = 0; i < vectors_count; i++) {
        size_t len = strlen(vectors[i].payload);
        if (vector_must_decode(&vectors[i]) && len > 4 && strcmp(vectors[i].payload + len - 4, crc) == 0) {
            assert_null(found); /* the key must be unique */
            found = &vectors[i];
        }
    }
    if (found == NULL)
        fail_msg("no valid vector ends with %s", crc);
    return found;
}

static const struct mopay_qr_object *first_account_template(const struct mopay_qr *qr)
{
    for (size_t i = 0; i < qr->objects_count; i++)
        if (qr->objects[i].id >= MOPAY_QR_ID_ACCOUNT_FIRST && qr->objects[i].id <= MOPAY_QR_ID_ACCOUNT_LAST)
            return &qr->objects[i];
    return NULL;
}

static void vectors_fields(void **state)
{
    (void)state;
    for (size_t i = 0; i < EXPECTED_FIELDS_COUNT; i++) {
        const struct expected_fields *e = &expected_fields[i];
        const struct vector *v = vector_by_crc(e->crc);
        struct mopay_qr qr;
        assert_int_equal(decode_exact(v->payload, strlen(v->payload), &qr), MOPAY_OK);
        size_t len;
        const char *name = mopay_qr_merchant_name(&qr, &len);
        if (!value_is(&qr, mopay_qr_find(&qr, MOPAY_QR_ID_MERCHANT_NAME), e->name))
            fail_msg("line %zu: name %.*s, want %s", v->line, (int)len, name ? name : "", e->name);
        assert_true(value_is(&qr, mopay_qr_find(&qr, MOPAY_QR_ID_MERCHANT_CITY), e->city));
        assert_int_equal(mopay_qr_merchant_city(&qr, &len) != NULL, e->city != NULL);
        const struct mopay_currency *currency = mopay_qr_currency(&qr);
        assert_non_null(currency);
        assert_string_equal(currency->alpha, e->currency);
        int64_t amount = -1;
        assert_int_equal(mopay_qr_amount(&qr, &amount), e->amount_minor >= 0);
        assert_int_equal(amount, e->amount_minor);
        const struct mopay_qr_object *account = first_account_template(&qr);
        assert_true(value_is(&qr, mopay_qr_find_sub(&qr, account, MOPAY_QR_SUB_GUID), e->guid));
        if (e->guid != NULL)
            assert_ptr_equal(mopay_qr_find_template(&qr, e->guid), account);
        assert_int_equal(mopay_qr_initiation(&qr), e->initiation);
    }
}

/* Refusals the notes column names, and the code each must get. */
struct expected_refusal {
    const char *note;
    enum mopay_err err;
};

static const struct expected_refusal expected_refusals[] = {
    {"merchant name 26 chars > 25 max", MOPAY_ERR_invalid_qr_value},
    {"URL must not include https://", MOPAY_ERR_invalid_qr_value},
    {"BAD CRC", MOPAY_ERR_invalid_qr_crc},
    {"last section length 05 longer than remaining", MOPAY_ERR_invalid_qr_length},
    {"non-digit in section header", MOPAY_ERR_invalid_qr_length},
    {"CRC section length 02 (CRC must be 4)", MOPAY_ERR_invalid_qr_length},
    {"truncated header", MOPAY_ERR_invalid_qr_truncated},
    {"MAI template with length 00", MOPAY_ERR_invalid_qr_length},
    {"empty additional data template 6200", MOPAY_ERR_invalid_qr_length},
    {"last object not ID 63", MOPAY_ERR_invalid_qr_format},
    {"first object not ID 00", MOPAY_ERR_invalid_qr_format},
};
#define EXPECTED_REFUSALS_COUNT (sizeof(expected_refusals) / sizeof(expected_refusals[0]))

/* The code a vector that must not decode gets: published invalid ones per their note; ones
 * published as valid whose CRC is wrong (a redacted payload, Chromium's structure-only check)
 * are invalid_qr_crc. */
static enum mopay_err vector_expected_refusal(const struct vector *v, bool used[])
{
    if (strcmp(v->published_as, "invalid") != 0) {
        assert_string_equal(v->crc_valid, "FALSE");
        return MOPAY_ERR_invalid_qr_crc;
    }
    size_t match = EXPECTED_REFUSALS_COUNT;
    for (size_t k = 0; k < EXPECTED_REFUSALS_COUNT; k++) {
        if (strstr(v->notes, expected_refusals[k].note) == NULL)
            continue;
        if (match != EXPECTED_REFUSALS_COUNT)
            fail_msg("line %zu matches two expected refusals", v->line);
        match = k;
    }
    if (match == EXPECTED_REFUSALS_COUNT)
        fail_msg("line %zu is published invalid but no expected refusal names it: %s", v->line, v->notes);
    used[match] = true;
    return expected_refusals[match].err;
}

static void vectors_invalid_refused(void **state)
{
    (void)state;
    bool used[EXPECTED_REFUSALS_COUNT] = {false};
    size_t refused = 0;
    for (size_t i = 0; i < vectors_count; i++) {
        const struct vector *v = &vectors[i];
        if (vector_must_decode(v))
            continue;
        enum mopay_err want = vector_expected_refusal(v, used);
        struct mopay_qr qr;
        enum mopay_err got = decode_exact(v->payload, strlen(v->payload), &qr);
        if (got != want)
            fail_msg("line %zu: %s, want %s (%s)", v->line, mopay_err_code(got), mopay_err_code(want), v->notes);
        refused++;
    }
    for (size_t k = 0; k < EXPECTED_REFUSALS_COUNT; k++)
        if (!used[k])
            fail_msg("no vector has the note '%s' any more", expected_refusals[k].note);
    assert_true(refused >= 15);
}

/* The EMVCo sample and the library vector: templates, language, tips, unreserved templates. */
static void vectors_templates(void **state)
{
    (void)state;
    struct mopay_qr qr;
    const struct vector *sample = vector_by_crc("A13A");
    assert_int_equal(decode_exact(sample->payload, strlen(sample->payload), &qr), MOPAY_OK);
    const struct mopay_qr_object *language = mopay_qr_find(&qr, MOPAY_QR_ID_LANGUAGE);
    assert_non_null(language);
    assert_int_equal(language->subs_count, 3);
    assert_true(value_is(&qr, mopay_qr_find_sub(&qr, language, 0), "ZH"));
    assert_true(value_is(&qr, mopay_qr_find_sub(&qr, language, 1), "最佳运输"));
    assert_true(value_is(&qr, mopay_qr_find_sub(&qr, language, 2), "北京"));
    assert_non_null(mopay_qr_find_template(&qr, "a011223344998877")); /* template 91, case ignored */
    assert_null(mopay_qr_find_template(&qr, "A0112233449988"));       /* a prefix is not the GUID */

    const struct vector *library = vector_by_crc("4220");
    assert_int_equal(decode_exact(library->payload, strlen(library->payload), &qr), MOPAY_OK);
    struct mopay_qr_tip tip;
    mopay_qr_tip(&qr, &tip); /* 55 is "01": 56 and 57 are there but not selected */
    assert_int_equal(tip.kind, MOPAY_QR_TIP_PROMPT);
    assert_int_equal(tip.fee_minor, 0);
    assert_int_equal(tip.fee_bps, 0);
    assert_int_equal(mopay_qr_find(&qr, MOPAY_QR_ID_ADDITIONAL_DATA)->subs_count, 10);
    assert_int_equal(mopay_qr_find(&qr, 2)->subs_count, 0); /* 02..25 are plain values */
    assert_int_equal(mopay_qr_find(&qr, 65)->subs_count, 0);
    assert_int_equal(mopay_qr_find(&qr, 80)->subs_count, 2);

    /* DuitNow's 82 is a hex signature, not sub-objects: kept as a value. */
    const struct vector *duitnow = vector_by_crc("5CDC");
    assert_int_equal(decode_exact(duitnow->payload, strlen(duitnow->payload), &qr), MOPAY_OK);
    assert_true(value_is(&qr, mopay_qr_find(&qr, 82), "7FFC1AC00E99EA2D7A0D7BB79755736A"));
    assert_int_equal(mopay_qr_find(&qr, 82)->subs_count, 0);
    assert_true(value_is(&qr, mopay_qr_find(&qr, MOPAY_QR_ID_FORMAT), "02"));
}

/* ---- hand-made payloads ---- */

/* A well-formed body: mopay's template, MCC, CNY, country, name, city. */
#define BODY_HEAD "000201010211"
#define BODY_ACCOUNT "26130009com.mopay"
#define BODY_TAIL "520458125303156" "5802CN5904Shop6007BEIJING"
#define BODY BODY_HEAD BODY_ACCOUNT BODY_TAIL

static void decode_hand_made(void **state)
{
    (void)state;
    struct mopay_qr qr;
    const char *payload = with_crc(BODY);
    assert_int_equal(decode_exact(payload, strlen(payload), &qr), MOPAY_OK);
    assert_decoded_exactly(&qr, payload);
    assert_int_equal(qr.objects_count, 9);
    assert_false(qr.lengths_in_bytes);
    assert_non_null(mopay_qr_find_template(&qr, "COM.MOPAY"));
    size_t len;
    assert_memory_equal(mopay_qr_country(&qr, &len), "CN", 2);
    assert_memory_equal(mopay_qr_mcc(&qr, &len), "5812", 4);
    int64_t amount = 7;
    assert_false(mopay_qr_amount(&qr, &amount));
    assert_int_equal(amount, 7);
    struct mopay_qr_tip tip;
    mopay_qr_tip(&qr, &tip);
    assert_int_equal(tip.kind, MOPAY_QR_TIP_NONE);
}

static void decode_tolerates(void **state)
{
    (void)state;
    struct mopay_qr qr;
    assert_int_equal(decode_body("000202" BODY_ACCOUNT BODY_TAIL), MOPAY_OK);           /* format "02" */
    assert_int_equal(decode_body("000201" "6007BEIJING5802CN" BODY_ACCOUNT), MOPAY_OK); /* any order, P2P */
    assert_int_equal(decode_body(BODY_HEAD BODY_ACCOUNT "5802KH6016Banteay Meanchey"), MOPAY_OK);
    assert_int_equal(decode_body(BODY "54031.5"), MOPAY_OK);
    assert_int_equal(decode_body(BODY "540310."), MOPAY_OK); /* Pix writes "10." */
    assert_int_equal(decode_body(BODY "560212"), MOPAY_OK);  /* a fee no indicator selects is ignored */
    assert_int_equal(decode_body(BODY "8004ABCD"), MOPAY_OK); /* 80 as a plain value */

    const char *lower = with_crc(BODY);
    char copy[PAYLOAD_TEXT_BYTES];
    snprintf(copy, sizeof(copy), "%s", lower);
    bool letters = false;
    for (char *c = copy + strlen(copy) - 4; *c != '\0'; c++)
        if (*c >= 'A' && *c <= 'F') {
            *c = (char)(*c - 'A' + 'a');
            letters = true;
        }
    assert_true(letters); /* else this would test nothing */
    assert_int_equal(decode_exact(copy, strlen(copy), &qr), MOPAY_OK);
}

static void decode_utf8_lengths(void **state)
{
    (void)state;
    struct mopay_qr qr;
    /* Characters, the spec's way: "最佳运输" is 4 characters, 12 bytes. */
    const char *chars = with_crc(BODY_HEAD BODY_ACCOUNT "5802CN5904最佳运输6002北京");
    assert_int_equal(decode_exact(chars, strlen(chars), &qr), MOPAY_OK);
    assert_false(qr.lengths_in_bytes);
    assert_true(value_is(&qr, mopay_qr_find(&qr, MOPAY_QR_ID_MERCHANT_NAME), "最佳运输"));
    /* Bytes, VietQR's way, only because the characters reading fails. */
    const char *bytes = with_crc(BODY_HEAD BODY_ACCOUNT "5802VN5912最佳运输6006北京");
    assert_int_equal(decode_exact(bytes, strlen(bytes), &qr), MOPAY_OK);
    assert_true(qr.lengths_in_bytes);
    assert_true(value_is(&qr, mopay_qr_find(&qr, MOPAY_QR_ID_MERCHANT_CITY), "北京"));
    assert_decoded_exactly(&qr, bytes);
    /* Neither: the error is the characters reading's. */
    assert_int_equal(decode_body(BODY_HEAD "5906最佳运输"), MOPAY_ERR_invalid_qr_length);
    /* A byte count that splits a character. */
    assert_int_equal(decode_body(BODY_HEAD "5902\xe6\x9c"), MOPAY_ERR_invalid_qr_format);
    assert_int_equal(decode_body(BODY_HEAD "5901\xc0\x80"), MOPAY_ERR_invalid_qr_format); /* overlong */
    assert_int_equal(decode_body(BODY_HEAD "5901\xed\xa0\x80"), MOPAY_ERR_invalid_qr_format); /* surrogate */
}

static void decode_refuses_framing(void **state)
{
    (void)state;
    char too_long[PAYLOAD_TEXT_BYTES];
    memset(too_long, '0', MOPAY_QR_PAYLOAD_BYTES_MAX + 1);
    too_long[MOPAY_QR_PAYLOAD_BYTES_MAX + 1] = '\0';
    assert_int_equal(decode_text(""), MOPAY_ERR_invalid_qr_format);
    assert_int_equal(decode_text(too_long), MOPAY_ERR_invalid_qr_format);
    assert_int_equal(decode_body("010211" "000201" BODY_ACCOUNT BODY_TAIL), MOPAY_ERR_invalid_qr_format);
    assert_int_equal(decode_body("000203" BODY_ACCOUNT BODY_TAIL), MOPAY_ERR_invalid_qr_format);
    assert_int_equal(decode_body("0003010" BODY_ACCOUNT), MOPAY_ERR_invalid_qr_format);
    assert_int_equal(decode_body(BODY "5802CN"), MOPAY_ERR_invalid_qr_format);           /* 58 twice */
    assert_int_equal(decode_body(BODY "62100501A0501B"), MOPAY_ERR_invalid_qr_format);  /* 62's 05 twice */
    assert_int_equal(decode_body(BODY "A102xx"), MOPAY_ERR_invalid_qr_format);           /* ID not digits */
    assert_int_equal(decode_text(BODY), MOPAY_ERR_invalid_qr_format);                   /* no CRC */
    char crc_not_last[PAYLOAD_TEXT_BYTES];
    snprintf(crc_not_last, sizeof(crc_not_last), "%s6103123", with_crc(BODY));
    assert_int_equal(decode_text(crc_not_last), MOPAY_ERR_invalid_qr_format);

    assert_int_equal(decode_text("00020163"), MOPAY_ERR_invalid_qr_truncated);
    assert_int_equal(decode_text("000"), MOPAY_ERR_invalid_qr_truncated);
    assert_int_equal(decode_body(BODY "6203050"), MOPAY_ERR_invalid_qr_truncated);      /* inside 62 */

    assert_int_equal(decode_body(BODY_HEAD "52A45812"), MOPAY_ERR_invalid_qr_length);
    assert_int_equal(decode_body(BODY "6200"), MOPAY_ERR_invalid_qr_length);
    assert_int_equal(decode_text(BODY "5999abc"), MOPAY_ERR_invalid_qr_length);
    assert_int_equal(decode_text(BODY "63051234"), MOPAY_ERR_invalid_qr_length);
    assert_int_equal(decode_text(BODY "6303ABC"), MOPAY_ERR_invalid_qr_length);
    assert_int_equal(decode_body(BODY "62090510ABCDE"), MOPAY_ERR_invalid_qr_length);   /* past 62's end */

    const char *suffixes[] = {"\n", "12", "6304", "630"};
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        char trailing[PAYLOAD_TEXT_BYTES];
        snprintf(trailing, sizeof(trailing), "%s%s", with_crc(BODY), suffixes[i]);
        assert_int_equal(decode_text(trailing), MOPAY_ERR_invalid_qr_trailing);
    }
}

static void decode_refuses_crc(void **state)
{
    (void)state;
    char payload[PAYLOAD_TEXT_BYTES];
    snprintf(payload, sizeof(payload), "%s", with_crc(BODY));
    size_t len = strlen(payload);
    payload[len - 1] = payload[len - 1] == '0' ? '1' : '0';
    assert_int_equal(decode_text(payload), MOPAY_ERR_invalid_qr_crc);
    memcpy(payload + len - 4, "ZZZZ", 4);
    assert_int_equal(decode_text(payload), MOPAY_ERR_invalid_qr_crc);
    snprintf(payload, sizeof(payload), "%s6304最佳运输", BODY); /* four characters, not hex digits */
    assert_int_equal(decode_text(payload), MOPAY_ERR_invalid_qr_crc);
}

static void decode_refuses_values(void **state)
{
    (void)state;
    static const char *const refused[] = {
        "000201010213" BODY_ACCOUNT BODY_TAIL,             /* initiation */
        BODY_HEAD BODY_ACCOUNT "520458A25303156",          /* MCC */
        BODY_HEAD BODY_ACCOUNT "5303999",                  /* not a currency */
        BODY_HEAD BODY_ACCOUNT "530215",                   /* two digits */
        BODY "54051.234",                                  /* CNY has 2 decimals */
        BODY "5404abcd", BODY "5402.5", BODY "54051.2.3", BODY "5403-12", BODY "5414123456789012.3",
        BODY_HEAD BODY_ACCOUNT "54031.5",                  /* an amount in no currency */
        BODY_HEAD BODY_ACCOUNT "560212",                   /* a fee in no currency, selected or not */
        BODY "550204", BODY "550202", BODY "550203",       /* indicator; its fee missing */
        BODY "550203" "57010", BODY "550203" "5703100", BODY "550203" "570612.345",
        BODY_HEAD BODY_ACCOUNT "5802cn",
        BODY_HEAD BODY_ACCOUNT "5802C1",
        BODY_HEAD BODY_ACCOUNT "592612345678901234567890123456",
        BODY "6104S\tp1",                                  /* a control character */
        BODY_HEAD "26330014br.gov.bcb.pix2511https://a/b",  /* Pix location with a scheme */
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        enum mopay_err err = decode_body(refused[i]);
        if (err != MOPAY_ERR_invalid_qr_value)
            fail_msg("%s: %s, want invalid_qr_value", refused[i], mopay_err_code(err));
    }
    assert_int_equal(decode_body(BODY_HEAD "26270014br.gov.bcb.pix2505a.b/c"), MOPAY_OK);
    /* 25 characters, 75 bytes: the limit counts characters */
    assert_int_equal(decode_body(BODY_HEAD "5925最佳运输最佳运输最佳运输最佳运输最佳运输最佳运输最"), MOPAY_OK);
}

static void decode_tips(void **state)
{
    (void)state;
    struct mopay_qr qr;
    struct mopay_qr_tip tip;
    const char *fixed = with_crc(BODY "550202" "56041.50");
    assert_int_equal(decode_exact(fixed, strlen(fixed), &qr), MOPAY_OK);
    mopay_qr_tip(&qr, &tip);
    assert_int_equal(tip.kind, MOPAY_QR_TIP_FIXED);
    assert_int_equal(tip.fee_minor, 150);
    const char *percent = with_crc(BODY "550203" "57033.5" "54042.00");
    assert_int_equal(decode_exact(percent, strlen(percent), &qr), MOPAY_OK);
    mopay_qr_tip(&qr, &tip);
    assert_int_equal(tip.kind, MOPAY_QR_TIP_PERCENT);
    assert_int_equal(tip.fee_bps, 350);
    int64_t amount;
    assert_true(mopay_qr_amount(&qr, &amount));
    assert_int_equal(amount, 200);
    assert_int_equal(decode_body(BODY "550203" "570599.99"), MOPAY_OK);
    assert_int_equal(decode_body(BODY "550203" "570500.01"), MOPAY_OK); /* EMV writes "00.01" */
}

/* ---- encoding ---- */

static struct mopay_qr_input input_base(void)
{
    return (struct mopay_qr_input){
        .guid = "com.mopay", .merchant_id = "m_42", .merchant_name = "BEST TRANSPORT",
        .merchant_city = "BEIJING", .country = "CN", .mcc = "4111",
        .currency = mopay_currency_by_alpha("CNY", 3),
    };
}

/* Encodes, decodes, and checks every field came back. */
static void assert_round_trip(const struct mopay_qr_input *in)
{
    char payload[MOPAY_QR_PAYLOAD_BYTES_MAX + 1];
    size_t len;
    assert_int_equal(mopay_qr_encode(in, payload, &len), MOPAY_OK);
    assert_int_equal(strlen(payload), len);
    struct mopay_qr qr;
    assert_int_equal(decode_exact(payload, len, &qr), MOPAY_OK);
    assert_false(qr.lengths_in_bytes);
    assert_true(value_is(&qr, mopay_qr_find(&qr, MOPAY_QR_ID_MERCHANT_NAME), in->merchant_name));
    assert_true(value_is(&qr, mopay_qr_find(&qr, MOPAY_QR_ID_MERCHANT_CITY), in->merchant_city));
    assert_true(value_is(&qr, mopay_qr_find(&qr, MOPAY_QR_ID_COUNTRY), in->country));
    assert_true(value_is(&qr, mopay_qr_find(&qr, MOPAY_QR_ID_MCC), in->mcc));
    assert_ptr_equal(mopay_qr_currency(&qr), in->currency);
    const struct mopay_qr_object *account = mopay_qr_find_template(&qr, in->guid);
    assert_non_null(account);
    assert_int_equal(account->id, 26);
    assert_true(value_is(&qr, mopay_qr_find_sub(&qr, account, MOPAY_QR_SUB_MERCHANT_ID), in->merchant_id));
    assert_true(value_is(&qr, mopay_qr_find_sub(&qr, account, MOPAY_QR_SUB_ORDER_ID), in->order_id));
    const struct mopay_qr_object *additional = mopay_qr_find(&qr, MOPAY_QR_ID_ADDITIONAL_DATA);
    assert_true(value_is(&qr, mopay_qr_find_sub(&qr, additional, MOPAY_QR_SUB_REFERENCE), in->reference));
    int64_t amount = -1;
    assert_int_equal(mopay_qr_amount(&qr, &amount), in->dynamic);
    assert_int_equal(amount, in->dynamic ? in->amount_minor : -1);
    assert_int_equal(mopay_qr_initiation(&qr), in->dynamic ? MOPAY_QR_INITIATION_DYNAMIC : MOPAY_QR_INITIATION_STATIC);
    struct mopay_qr_tip tip;
    mopay_qr_tip(&qr, &tip);
    assert_int_equal(tip.kind, in->tip.kind);
    assert_int_equal(tip.fee_minor, in->tip.fee_minor);
    assert_int_equal(tip.fee_bps, in->tip.fee_bps);
}

/* The tip indicator and its fee, written and read back, for each kind. */
static void encode_tips(void **state)
{
    (void)state;
    struct mopay_qr_input in = input_base();
    in.tip = (struct mopay_qr_tip){.kind = MOPAY_QR_TIP_PROMPT};
    assert_round_trip(&in);
    in.tip = (struct mopay_qr_tip){.kind = MOPAY_QR_TIP_FIXED, .fee_minor = 150};
    assert_round_trip(&in);
    static const uint16_t percents[] = {1, 10, 350, 1234, 9900, 9999};
    for (size_t i = 0; i < sizeof(percents) / sizeof(percents[0]); i++) {
        in.tip = (struct mopay_qr_tip){.kind = MOPAY_QR_TIP_PERCENT, .fee_bps = percents[i]};
        assert_round_trip(&in);
    }
    char payload[MOPAY_QR_PAYLOAD_BYTES_MAX + 1];
    size_t len;
    in.tip = (struct mopay_qr_tip){.kind = MOPAY_QR_TIP_PERCENT, .fee_bps = 10000};
    assert_int_equal(mopay_qr_encode(&in, payload, &len), MOPAY_ERR_invalid_qr_value);
    in.tip = (struct mopay_qr_tip){.kind = MOPAY_QR_TIP_FIXED, .fee_minor = 0};
    assert_int_equal(mopay_qr_encode(&in, payload, &len), MOPAY_ERR_invalid_qr_value);
}

static void encode_round_trips(void **state)
{
    (void)state;
    struct mopay_qr_input in = input_base();
    assert_round_trip(&in); /* static */
    in.dynamic = true;
    in.amount_minor = 2372;
    in.reference = "ORDER-7";
    assert_round_trip(&in);
    in.merchant_id = "mer_0123456789abcdef0123456789abcdef"; /* ids as mopay_id_format writes them */
    in.order_id = "ord_0123456789abcdef0123456789abcdef";
    assert_round_trip(&in);
    in.merchant_name = "最佳运输";
    in.merchant_city = "北京";
    in.reference = "订单七";
    assert_round_trip(&in);
    in.merchant_name = "Crème brûlée à Noël Café"; /* 24 characters, more bytes */
    in.merchant_city = "Saint-Étienne";
    in.country = "FR";
    in.currency = mopay_currency_by_alpha("EUR", 3);
    in.guid = "fr.example.pay";
    assert_round_trip(&in);
    in.currency = mopay_currency_by_alpha("JPY", 3);
    in.amount_minor = 1200;
    assert_round_trip(&in);
    in.currency = mopay_currency_by_alpha("KWD", 3);
    in.amount_minor = 9999999999999; /* "9999999999.999": 14 characters, one too many */
    char payload[MOPAY_QR_PAYLOAD_BYTES_MAX + 1];
    size_t len;
    assert_int_equal(mopay_qr_encode(&in, payload, &len), MOPAY_ERR_invalid_qr_value);
    in.amount_minor = 999999999999; /* "999999999.999" */
    assert_round_trip(&in);
}

/* One payload checked character for character (CRC computed by hand with the check above). */
static void encode_exact(void **state)
{
    (void)state;
    struct mopay_qr_input in = input_base();
    in.dynamic = true;
    in.amount_minor = 2372;
    in.order_id = "o_7";
    in.reference = "R1";
    char payload[MOPAY_QR_PAYLOAD_BYTES_MAX + 1];
    size_t len;
    assert_int_equal(mopay_qr_encode(&in, payload, &len), MOPAY_OK);
    const char *want_body = "000201" "010212" "26280009com.mopay0104m_420203o_7" "52044111" "5303156" "540523.72"
                            "5802CN" "5914BEST TRANSPORT" "6007BEIJING" "62060502R1";
    assert_string_equal(payload, with_crc(want_body));
}

static void encode_refusals(void **state)
{
    (void)state;
    char payload[MOPAY_QR_PAYLOAD_BYTES_MAX + 1];
    size_t len;
    struct mopay_qr_input cases[20];
    size_t n = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        cases[i] = input_base();
    cases[n++].merchant_name = "12345678901234567890123456"; /* 26 */
    cases[n++].merchant_name = "";
    cases[n++].merchant_city = "Banteay Meanchey";             /* 16: the decoder tolerates, we don't write */
    cases[n++].country = "XK";                                 /* not assigned */
    cases[n++].country = "cn";
    cases[n++].mcc = "58a2";
    cases[n++].mcc = "58120";
    cases[n].dynamic = true;
    cases[n++].amount_minor = 0;
    cases[n].dynamic = true;
    cases[n++].amount_minor = -5;
    cases[n++].reference = "12345678901234567890123456";
    cases[n++].reference = "";
    cases[n++].merchant_name = "Tab\there";
    cases[n++].merchant_city = "\xff\xfe";
    cases[n].guid = "com.mopay.very.long.reverse.domain.name.that.does.not.fit"; /* template 26 over 99 */
    cases[n++].merchant_id = "merchant-0123456789-0123456789-0123456789-0123456789";
    cases[n++].guid = "";
    cases[n++].order_id = "";
    for (size_t i = 0; i < n; i++) {
        enum mopay_err err = mopay_qr_encode(&cases[i], payload, &len);
        if (err != MOPAY_ERR_invalid_qr_value)
            fail_msg("case %zu: %s, want invalid_qr_value", i, mopay_err_code(err));
    }
}

/* ---- rendering ---- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void render_png_and_svg(void **state)
{
    (void)state;
    const char *payload = with_crc(BODY);
    size_t len = strlen(payload);
    unsigned char *png;
    size_t png_len;
    assert_int_equal(mopay_qr_render_png(payload, len, 3, 4, &png, &png_len), MOPAY_OK);
    assert_true(png_len > 33);
    assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
    assert_memory_equal(png + 12, "IHDR", 4);
    uint32_t side = be32(png + 16);
    assert_int_equal(side, be32(png + 20));
    assert_int_equal(side % 3, 0);
    uint32_t modules = side / 3 - 8; /* 21 + 4 per version */
    assert_true(modules >= 21 && modules <= 177 && modules % 4 == 1);
    free(png);

    char *svg;
    size_t svg_len;
    assert_int_equal(mopay_qr_render_svg(payload, len, 2, 0, &svg, &svg_len), MOPAY_OK);
    assert_int_equal(strlen(svg), svg_len);
    assert_memory_equal(svg, "<svg ", 5);
    assert_string_equal(svg + svg_len - 7, "</svg>\n");
    char view_box[64];
    snprintf(view_box, sizeof(view_box), "viewBox=\"0 0 %u %u\"", (unsigned)modules, (unsigned)modules);
    assert_non_null(strstr(svg, view_box));
    assert_non_null(strstr(svg, "d=\"M0 0h7v1h-7z")); /* the finder pattern's top edge, no margin */
    free(svg);

    assert_int_equal(mopay_qr_render_png(payload, 0, 1, 0, &png, &png_len), MOPAY_ERR_invalid_qr_format);
    assert_int_equal(mopay_qr_render_svg("ab\0cd", 5, 1, 0, &svg, &svg_len), MOPAY_ERR_invalid_qr_format);
    char too_long[MOPAY_QR_PAYLOAD_BYTES_MAX + 1];
    memset(too_long, 'A', sizeof(too_long));
    assert_int_equal(mopay_qr_render_png(too_long, sizeof(too_long), 1, 0, &png, &png_len),
                     MOPAY_ERR_invalid_qr_format);
    assert_int_equal(mopay_qr_render_png(too_long, sizeof(too_long) - 1, MOPAY_QR_SCALE_MAX, MOPAY_QR_MARGIN_MAX,
                                         &png, &png_len), MOPAY_OK);
    free(png);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s emv_mpm_vectors.tsv\n", argv[0]);
        return 2;
    }
    vectors_path = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc16_check_value),
        cmocka_unit_test(vectors_valid_decode),
        cmocka_unit_test(vectors_fields),
        cmocka_unit_test(vectors_invalid_refused),
        cmocka_unit_test(vectors_templates),
        cmocka_unit_test(decode_hand_made),
        cmocka_unit_test(decode_tolerates),
        cmocka_unit_test(decode_utf8_lengths),
        cmocka_unit_test(decode_refuses_framing),
        cmocka_unit_test(decode_refuses_crc),
        cmocka_unit_test(decode_refuses_values),
        cmocka_unit_test(decode_tips),
        cmocka_unit_test(encode_round_trips),
        cmocka_unit_test(encode_tips),
        cmocka_unit_test(encode_exact),
        cmocka_unit_test(encode_refusals),
        cmocka_unit_test(render_png_and_svg),
    };
    return cmocka_run_group_tests(tests, vectors_load, NULL);
}
