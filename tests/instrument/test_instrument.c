/* Payment instruments: HOTP/TOTP against RFC 4226 and RFC 6238, offline payment codes (round
 * trips, window edges, every single-digit change), EMV consumer-presented QR (the shared vectors,
 * mopay's own payload, every refusal), EMV card crypto against pyemv's published values, and
 * mopay's tap cryptogram.
 *
 * The vector files are read at run time from MOPAY_VECTORS_DIR (shared/vectors beside the
 * repository), so that a row added there is checked without touching this file. */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <sodium.h>

#include "mopay/cpm.h"
#include "mopay/nfc.h"
#include "mopay/otp.h"
#include "mopay/paycode.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))
#define TSV_LINE_BYTES_MAX 4096
#define TSV_FIELDS_MAX 16

/* ---- helpers ---- */

/* One line of a TSV file, split in place at its tabs. */
struct tsv_row {
    char line[TSV_LINE_BYTES_MAX];
    char *field[TSV_FIELDS_MAX];
    size_t count;
};

struct tsv {
    FILE *file;
    struct tsv_row header;
    size_t rows;
};

static bool tsv_read_row(FILE *file, struct tsv_row *row)
{
    if (fgets(row->line, sizeof(row->line), file) == NULL)
        return false;
    size_t len = strlen(row->line);
    if (len + 1 == sizeof(row->line))
        fail_msg("a vector line is longer than %d bytes", TSV_LINE_BYTES_MAX);
    while (len > 0 && (row->line[len - 1] == '\n' || row->line[len - 1] == '\r'))
        row->line[--len] = '\0';
    row->count = 0;
    for (char *p = row->line; p != NULL && row->count < TSV_FIELDS_MAX;) {
        row->field[row->count++] = p;
        p = strchr(p, '\t');
        if (p != NULL)
            *p++ = '\0';
    }
    return true;
}

static void tsv_open(struct tsv *tsv, const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", MOPAY_VECTORS_DIR, name);
    tsv->file = fopen(path, "r");
    if (tsv->file == NULL)
        fail_msg("cannot open %s", path);
    assert_true(tsv_read_row(tsv->file, &tsv->header));
    tsv->rows = 0;
}

/* The row's field under the header's column `name`. */
static const char *tsv_get(const struct tsv *tsv, const struct tsv_row *row, const char *name)
{
    for (size_t i = 0; i < tsv->header.count; i++) {
        if (strcmp(tsv->header.field[i], name) == 0) {
            if (i >= row->count)
                fail_msg("row %zu has no column %s", tsv->rows, name);
            return row->field[i];
        }
    }
    fail_msg("no column %s", name);
    return NULL;
}

static size_t hex_decode(const char *hex, uint8_t *out, size_t cap)
{
    size_t len = 0;
    if (sodium_hex2bin(out, cap, hex, strlen(hex), NULL, &len, NULL) != 0)
        fail_msg("bad hex %s", hex);
    return len;
}

static void hex_upper(const uint8_t *bytes, size_t len, char *out)
{
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0x0F];
    }
    out[2 * len] = '\0';
}

/* ---- OTP ---- */

static enum mopay_otp_hash hash_named(const char *name)
{
    if (strcmp(name, "SHA1") == 0)
        return MOPAY_OTP_SHA1;
    if (strcmp(name, "SHA256") == 0)
        return MOPAY_OTP_SHA256;
    if (strcmp(name, "SHA512") == 0)
        return MOPAY_OTP_SHA512;
    fail_msg("unknown hash %s", name);
    return MOPAY_OTP_SHA1;
}

static void otp_vectors_match(void **state)
{
    (void)state;
    struct tsv tsv;
    tsv_open(&tsv, "otp_vectors.tsv");
    struct tsv_row row;
    while (tsv_read_row(tsv.file, &row)) {
        tsv.rows++;
        const char *kind = tsv_get(&tsv, &row, "kind");
        enum mopay_otp_hash hash = hash_named(tsv_get(&tsv, &row, "hash"));
        const char *secret = tsv_get(&tsv, &row, "secret_ascii");
        uint64_t counter = strtoull(tsv_get(&tsv, &row, "counter_or_T"), NULL, 10);
        int digits = atoi(tsv_get(&tsv, &row, "digits"));
        const char *expected = tsv_get(&tsv, &row, "expected");
        char code[MOPAY_OTP_BYTES];
        mopay_otp_hotp(hash, (const uint8_t *)secret, strlen(secret), counter, digits, code);
        if (strcmp(code, expected) != 0)
            fail_msg("row %zu (%s counter %llu): %s, expected %s", tsv.rows, kind, (unsigned long long)counter,
                     code, expected);
        if (strcmp(kind, "TOTP") == 0) {
            int64_t unix_time = strtoll(tsv_get(&tsv, &row, "unix_time"), NULL, 10);
            assert_int_equal(unix_time / 30, counter);
            mopay_otp_totp(hash, (const uint8_t *)secret, strlen(secret), unix_time, 30, digits, code);
            if (strcmp(code, expected) != 0)
                fail_msg("row %zu (TOTP at %lld): %s, expected %s", tsv.rows, (long long)unix_time, code, expected);
        } else {
            assert_string_equal(kind, "HOTP");
        }
    }
    fclose(tsv.file);
    assert_true(tsv.rows >= 28);
}

/* 10 digits are the 31-bit truncated value itself (RFC 4226 Appendix D lists it in decimal),
 * zero-padded: counter 7's starts with two zeros. Shorter codes are its last digits. */
static void otp_ten_digits_are_the_truncated_value(void **state)
{
    (void)state;
    static const char *truncated[] = {
        "1284755224", "1094287082", "0137359152", "1726969429", "1640338314",
        "0868254676", "1918287922", "0082162583", "0673399871", "0645520489",
    };
    const uint8_t *key = (const uint8_t *)"12345678901234567890";
    for (uint64_t counter = 0; counter < COUNT(truncated); counter++) {
        char code[MOPAY_OTP_BYTES];
        mopay_otp_hotp(MOPAY_OTP_SHA1, key, 20, counter, 10, code);
        assert_string_equal(code, truncated[counter]);
        for (int digits = MOPAY_OTP_DIGITS_MIN; digits < MOPAY_OTP_DIGITS_MAX; digits++) {
            mopay_otp_hotp(MOPAY_OTP_SHA1, key, 20, counter, digits, code);
            assert_int_equal(strlen(code), digits);
            assert_string_equal(code, truncated[counter] + 10 - digits);
        }
    }
}

/* ---- payment codes ---- */

#define T0 1700000000 /* 2023-11-14T22:13:20Z, 20 s into its step */

static void secret_of(uint8_t secret[MOPAY_PAYCODE_SECRET_BYTES], uint8_t seed)
{
    for (size_t i = 0; i < MOPAY_PAYCODE_SECRET_BYTES; i++)
        secret[i] = (uint8_t)(seed * 31 + i * 7);
}

static enum mopay_err verify(const uint8_t *secret, uint64_t index, const char *code, int64_t unix_time, int window,
                             int64_t *step_used)
{
    /* A heap copy of exactly 18 bytes and no NUL, so ASan sees any read past the length. */
    char *copy = malloc(MOPAY_PAYCODE_DIGITS);
    assert_non_null(copy);
    memcpy(copy, code, MOPAY_PAYCODE_DIGITS);
    enum mopay_err err = mopay_paycode_verify(secret, index, copy, MOPAY_PAYCODE_DIGITS, unix_time, window, step_used);
    free(copy);
    return err;
}

static void paycode_has_its_format(void **state)
{
    (void)state;
    uint8_t secret[MOPAY_PAYCODE_SECRET_BYTES];
    secret_of(secret, 1);
    char code[MOPAY_PAYCODE_BYTES];
    mopay_paycode_make(secret, 1234567, T0, code);
    assert_int_equal(strlen(code), MOPAY_PAYCODE_DIGITS);
    assert_memory_equal(code, "87" "01234567", 10);
    assert_int_equal(code[10] - '0', (T0 / 30) % 10);
    assert_int_equal(strspn(code, "0123456789"), MOPAY_PAYCODE_DIGITS);

    uint64_t index = 0;
    int hint = -1;
    assert_int_equal(mopay_paycode_parse(code, strlen(code), &index, &hint), MOPAY_OK);
    assert_int_equal(index, 1234567);
    assert_int_equal(hint, (T0 / 30) % 10);

    /* Same second, same code; same step, same code; next step, another. */
    char again[MOPAY_PAYCODE_BYTES];
    mopay_paycode_make(secret, 1234567, T0 - T0 % 30 + 29, again);
    assert_string_equal(again, code);
    mopay_paycode_make(secret, 1234567, T0 - T0 % 30 + 30, again);
    assert_string_not_equal(again, code);
}

/* Made at t, verified at t and for `window` steps after, and one step before (a phone whose clock
 * runs fast); refused as expired one step past the window. */
static void paycode_round_trips(void **state)
{
    (void)state;
    for (int i = 0; i < 2000; i++) {
        uint8_t secret[MOPAY_PAYCODE_SECRET_BYTES];
        secret_of(secret, (uint8_t)i);
        uint64_t index = (uint64_t)i * 49999 % (MOPAY_PAYCODE_DEVICE_INDEX_MAX + 1);
        int64_t t = T0 + (int64_t)i * 7919;
        int window = i % (MOPAY_PAYCODE_WINDOW_STEPS_MAX + 1);
        char code[MOPAY_PAYCODE_BYTES];
        mopay_paycode_make(secret, index, t, code);
        for (int late = -1; late <= window; late++) {
            int64_t step = -2;
            if (verify(secret, index, code, t + 30 * late, window, &step) != MOPAY_OK)
                fail_msg("i=%d: code of %lld refused %d steps later, window %d", i, (long long)t, late, window);
            assert_int_equal(step, t / 30);
        }
        int64_t untouched = -2;
        enum mopay_err late = verify(secret, index, code, t + 30 * (window + 1), window, &untouched);
        assert_int_equal(late, window < MOPAY_PAYCODE_WINDOW_STEPS_MAX ? MOPAY_ERR_payment_code_expired
                                                                       : MOPAY_ERR_payment_code_invalid);
        assert_int_equal(verify(secret, index, code, t - 60, window, &untouched), MOPAY_ERR_payment_code_invalid);
        assert_int_equal(untouched, -2);
    }
}

/* The edges to the second: a code of step s made at its last second, verified at the first and
 * last seconds of steps s - 3 .. s + 10 for every window: good from s - 1 (a fast phone) to
 * s + window, expired after, and invalid where the hint names another step. */
static void paycode_window_edges(void **state)
{
    (void)state;
    uint8_t secret[MOPAY_PAYCODE_SECRET_BYTES];
    secret_of(secret, 9);
    int64_t s = T0 / 30 + 3;
    char code[MOPAY_PAYCODE_BYTES];
    mopay_paycode_make(secret, 42, s * 30 + 29, code);
    for (int window = 0; window <= MOPAY_PAYCODE_WINDOW_STEPS_MAX; window++) {
        for (int64_t now = s - 3; now <= s + 10; now++) {
            enum mopay_err want = MOPAY_OK;
            if (now < s - 1 || now > s + MOPAY_PAYCODE_WINDOW_STEPS_MAX)
                want = MOPAY_ERR_payment_code_invalid; /* the hint names another step */
            else if (now > s + window)
                want = MOPAY_ERR_payment_code_expired;
            int64_t step;
            assert_int_equal(verify(secret, 42, code, now * 30, window, &step), want);
            assert_int_equal(verify(secret, 42, code, now * 30 + 29, window, &step), want);
        }
    }
}

static void paycode_refuses_another_secret_or_device(void **state)
{
    (void)state;
    uint8_t secret[MOPAY_PAYCODE_SECRET_BYTES], other[MOPAY_PAYCODE_SECRET_BYTES];
    secret_of(secret, 3);
    secret_of(other, 4);
    char code[MOPAY_PAYCODE_BYTES];
    mopay_paycode_make(secret, 777, T0, code);
    int64_t step;
    assert_int_equal(verify(secret, 777, code, T0, 2, &step), MOPAY_OK);
    assert_int_equal(verify(other, 777, code, T0, 2, &step), MOPAY_ERR_payment_code_invalid);
    assert_int_equal(verify(secret, 778, code, T0, 2, &step), MOPAY_ERR_payment_code_invalid);
    secret[31] ^= 0x80;
    assert_int_equal(verify(secret, 777, code, T0, 2, &step), MOPAY_ERR_payment_code_invalid);
    secret[31] ^= 0x80;

    /* The same secret under another index makes another OTP: the index is in the MAC. */
    char moved[MOPAY_PAYCODE_BYTES];
    mopay_paycode_make(secret, 778, T0, moved);
    assert_memory_not_equal(moved + 11, code + 11, 7);
}

static void paycode_refuses_every_single_digit_change(void **state)
{
    (void)state;
    uint8_t secret[MOPAY_PAYCODE_SECRET_BYTES];
    for (int seed = 0; seed < 20; seed++) {
        secret_of(secret, (uint8_t)(100 + seed));
        uint64_t index = 10000000u + (uint64_t)seed * 4444441u;
        int64_t t = T0 + seed * 1013;
        char code[MOPAY_PAYCODE_BYTES];
        mopay_paycode_make(secret, index, t, code);
        int64_t step;
        assert_int_equal(verify(secret, index, code, t, MOPAY_PAYCODE_WINDOW_STEPS_MAX, &step), MOPAY_OK);
        for (int at = 0; at < MOPAY_PAYCODE_DIGITS; at++) {
            for (char digit = '0'; digit <= '9'; digit++) {
                if (digit == code[at])
                    continue;
                char changed[MOPAY_PAYCODE_BYTES];
                memcpy(changed, code, sizeof(changed));
                changed[at] = digit;
                enum mopay_err err = verify(secret, index, changed, t, MOPAY_PAYCODE_WINDOW_STEPS_MAX, &step);
                if (err != MOPAY_ERR_payment_code_invalid)
                    fail_msg("%s (from %s) gave %s", changed, code, mopay_err_code(err));
            }
        }
    }
}

static void paycode_parse_refusals(void **state)
{
    (void)state;
    static const char *refused[] = {
        "", "87", "87123456789012345", "8712345678901234567", "281234567890123456", "871234567890 23456",
        "87123456789012345a", "+87123456789012345", "８7123456789012345",
    };
    for (size_t i = 0; i < COUNT(refused); i++) {
        uint64_t index = 5;
        int hint = 5;
        assert_int_equal(mopay_paycode_parse(refused[i], strlen(refused[i]), &index, &hint),
                         MOPAY_ERR_payment_code_invalid);
        assert_int_equal(index, 5);
        assert_int_equal(hint, 5);
    }
    /* A NUL inside is just a wrong byte. */
    uint64_t index;
    int hint;
    assert_int_equal(mopay_paycode_parse("8712345678\0" "1234567", 18, &index, &hint), MOPAY_ERR_payment_code_invalid);
    assert_int_equal(mopay_paycode_parse("871234567891234567", 18, &index, &hint), MOPAY_OK);
    assert_int_equal(index, 12345678);
    assert_int_equal(hint, 9);
}

/* Near the epoch the hint can name a step before 0: refused, not computed. */
static void paycode_near_the_epoch(void **state)
{
    (void)state;
    uint8_t secret[MOPAY_PAYCODE_SECRET_BYTES];
    secret_of(secret, 5);
    for (int64_t t = 0; t < 400; t += 7) {
        char code[MOPAY_PAYCODE_BYTES];
        mopay_paycode_make(secret, 0, t, code);
        int64_t step;
        assert_int_equal(verify(secret, 0, code, t, 0, &step), MOPAY_OK);
        assert_int_equal(step, t / 30);
        for (char hint = '0'; hint <= '9'; hint++) {
            code[10] = hint;
            enum mopay_err err = verify(secret, 0, code, t, MOPAY_PAYCODE_WINDOW_STEPS_MAX, &step);
            assert_true(err == MOPAY_OK || err == MOPAY_ERR_payment_code_invalid);
        }
    }
}

/* ---- EMV consumer-presented QR ---- */

static enum mopay_err cpm_decode(const char *text, size_t len, struct mopay_cpm *cpm, char paycode[MOPAY_PAYCODE_BYTES])
{
    char *copy = malloc(len > 0 ? len : 1);
    assert_non_null(copy);
    if (len > 0)
        memcpy(copy, text, len);
    enum mopay_err err = mopay_cpm_decode(copy, len, cpm, paycode);
    free(copy);
    return err;
}

/* Checks each "TAG len=N [HEX]" of the vector's decoded column, separated by " / ", against
 * the decoded nodes in order. */
static void cpm_check_decoded(const struct mopay_cpm *cpm, const char *decoded, size_t row)
{
    char facts[TSV_LINE_BYTES_MAX];
    snprintf(facts, sizeof(facts), "%s", decoded);
    size_t n = 0;
    char *save = NULL;
    for (char *item = strtok_r(facts, "/", &save); item != NULL; item = strtok_r(NULL, "/", &save), n++) {
        if (n >= cpm->nodes_count)
            fail_msg("row %zu: more objects listed than decoded", row);
        const struct mopay_tlv *node = &cpm->nodes[n];
        unsigned tag = 0, len = 0;
        char hex[TSV_LINE_BYTES_MAX] = "";
        int got = sscanf(item, " %x len=%u %s", &tag, &len, hex);
        assert_true(got >= 2);
        if (node->tag != tag || node->len != len)
            fail_msg("row %zu object %zu: %X len=%u, decoded %X len=%u", row, n, tag, len, node->tag, node->len);
        if (got == 3) {
            char value[2 * MOPAY_CPM_PAYLOAD_BYTES_MAX + 1];
            hex_upper(cpm->payload + node->offset, node->len, value);
            if (strcasecmp(value, hex) != 0)
                fail_msg("row %zu object %zu (%X): %s, decoded %s", row, n, tag, hex, value);
        } else {
            assert_true(node->constructed);
        }
    }
    assert_int_equal(n, cpm->nodes_count);
}

static void cpm_vectors_decode(void **state)
{
    (void)state;
    struct tsv tsv;
    tsv_open(&tsv, "emv_cpm_vectors.tsv");
    struct tsv_row row;
    struct mopay_cpm cpm;
    size_t parsed = 0;
    while (tsv_read_row(tsv.file, &row)) {
        tsv.rows++;
        const char *text = tsv_get(&tsv, &row, "payload_base64");
        char paycode[MOPAY_PAYCODE_BYTES] = "x";
        enum mopay_err err = cpm_decode(text, strlen(text), &cpm, paycode);
        if (strcmp(tsv_get(&tsv, &row, "ber_tlv_parses"), "TRUE") != 0) {
            assert_int_equal(err, MOPAY_ERR_cpm_invalid);
            continue;
        }
        if (err != MOPAY_OK)
            fail_msg("row %zu (%s) refused", tsv.rows, tsv_get(&tsv, &row, "source"));
        parsed++;
        assert_string_equal(paycode, "");
        assert_int_equal(cpm.nodes[0].tag, 0x85);
        assert_memory_equal(cpm.payload + cpm.nodes[0].offset, "CPV01", 5);
        cpm_check_decoded(&cpm, tsv_get(&tsv, &row, "decoded"), tsv.rows);
    }
    fclose(tsv.file);
    assert_true(parsed >= 5);
}

static void cpm_mopay_round_trip(void **state)
{
    (void)state;
    uint8_t secret[MOPAY_PAYCODE_SECRET_BYTES];
    secret_of(secret, 7);
    for (int i = 0; i < 200; i++) {
        char code[MOPAY_PAYCODE_BYTES];
        mopay_paycode_make(secret, (uint64_t)i * 499979, T0 + i * 31, code);
        char text[MOPAY_CPM_TEXT_BYTES];
        mopay_cpm_encode(code, text);
        assert_int_equal(strlen(text), MOPAY_CPM_TEXT_BYTES - 1);

        struct mopay_cpm cpm;
        char paycode[MOPAY_PAYCODE_BYTES];
        assert_int_equal(cpm_decode(text, strlen(text), &cpm, paycode), MOPAY_OK);
        assert_string_equal(paycode, code);
        int64_t step;
        assert_int_equal(verify(secret, (uint64_t)i * 499979, paycode, T0 + i * 31, 1, &step), MOPAY_OK);

        /* The tree cpm.h draws. */
        static const uint32_t tags[] = {0x85, 0x61, 0x4F, 0x50, 0x63, 0xDF6D};
        static const uint8_t depths[] = {0, 0, 1, 1, 1, 2};
        assert_int_equal(cpm.nodes_count, COUNT(tags));
        for (size_t n = 0; n < COUNT(tags); n++) {
            assert_int_equal(cpm.nodes[n].tag, tags[n]);
            assert_int_equal(cpm.nodes[n].depth, depths[n]);
        }
        int app = mopay_cpm_child(&cpm, -1, 0x61);
        int aid = mopay_cpm_child(&cpm, app, 0x4F);
        assert_int_equal(cpm.nodes[aid].len, 7);
        assert_memory_equal(cpm.payload + cpm.nodes[aid].offset, "\xF0mopay\x01", 7);
        assert_int_equal(mopay_cpm_child(&cpm, app, 0x5A), -1);
    }
}

/* The text without its '=' padding decodes the same. */
static void cpm_takes_unpadded_base64(void **state)
{
    (void)state;
    struct mopay_cpm cpm;
    char paycode[MOPAY_PAYCODE_BYTES];
    assert_int_equal(cpm_decode("hQVDUFYwMQ", 10, &cpm, paycode), MOPAY_OK);
    assert_int_equal(cpm.nodes_count, 1);
    assert_int_equal(cpm_decode("hQVDUFYwMQ=", 11, &cpm, paycode), MOPAY_ERR_cpm_invalid);
    assert_int_equal(cpm_decode("hQVDUFYwMQ===", 13, &cpm, paycode), MOPAY_ERR_cpm_invalid);
}

/* A payload given as hex, base64-encoded as a wallet would. */
static enum mopay_err cpm_decode_hex(const char *hex, struct mopay_cpm *cpm, char paycode[MOPAY_PAYCODE_BYTES])
{
    uint8_t payload[MOPAY_CPM_PAYLOAD_BYTES_MAX + 16];
    size_t len = hex_decode(hex, payload, sizeof(payload));
    char text[2 * MOPAY_CPM_TEXT_BYTES_MAX];
    sodium_bin2base64(text, sizeof(text), payload, len, sodium_base64_VARIANT_ORIGINAL);
    return cpm_decode(text, strlen(text), cpm, paycode);
}

#define CPV01 "85054350563031"
#define MOPAY_APP_HEAD "4F07F06D6F7061790150056D6F706179"

static void cpm_accepts_what_ber_allows(void **state)
{
    (void)state;
    static const char *accepted[] = {
        CPV01,
        "8581054350563031",                                     /* long-form lengths */
        "858200054350563031",
        CPV01 "6100",                                           /* an empty template */
        CPV01 "9F810100",                                       /* a 3-byte tag */
        CPV01 "61045A021234" "6209" "6407" "9F260412345678",     /* 61; 62 > 64 > 9F26 */
        CPV01 "6206" "6104" "6302" "5A00",                        /* 4 levels: 62 > 61 > 63 > 5A */
        CPV01 "61" "13" "4F07A0000000555555" "6308" "DF6D0500000000FF", /* another wallet's DF6D */
    };
    for (size_t i = 0; i < COUNT(accepted); i++) {
        struct mopay_cpm cpm;
        char paycode[MOPAY_PAYCODE_BYTES] = "x";
        if (cpm_decode_hex(accepted[i], &cpm, paycode) != MOPAY_OK)
            fail_msg("case %zu (%s) refused", i, accepted[i]);
        assert_string_equal(paycode, "");
    }
    struct mopay_cpm cpm;
    char paycode[MOPAY_PAYCODE_BYTES];
    assert_int_equal(cpm_decode_hex(CPV01 "9F810100", &cpm, paycode), MOPAY_OK);
    assert_int_equal(cpm.nodes[1].tag, 0x9F8101);
    assert_int_equal(cpm_decode_hex("8581054350563031", &cpm, paycode), MOPAY_OK);
    assert_int_equal(cpm.nodes[0].offset, 3);
    assert_int_equal(cpm.nodes[0].len, 5);
}

/* 64 objects fit, 65 do not. */
static void cpm_counts_objects(void **state)
{
    (void)state;
    char hex[2 * MOPAY_CPM_PAYLOAD_BYTES_MAX + 1] = CPV01;
    for (int i = 1; i < MOPAY_CPM_NODES_MAX; i++)
        strcat(hex, "5A00");
    struct mopay_cpm cpm;
    char paycode[MOPAY_PAYCODE_BYTES];
    assert_int_equal(cpm_decode_hex(hex, &cpm, paycode), MOPAY_OK);
    assert_int_equal(cpm.nodes_count, MOPAY_CPM_NODES_MAX);
    strcat(hex, "5A00");
    assert_int_equal(cpm_decode_hex(hex, &cpm, paycode), MOPAY_ERR_cpm_invalid);
    assert_int_equal(cpm.nodes_count, 0);
}

static void cpm_refusals(void **state)
{
    (void)state;
    static const char *refused[] = {
        "",                                        /* nothing */
        "6100" CPV01,                              /* 85 not first */
        "85054350563032",                          /* CPV02 */
        "85044350563030",                          /* CPV0 */
        "A5054350563031",                          /* 85 as a template */
        "850543505630",                            /* truncated value */
        "8505435056",                              /* truncated, shorter */
        "85",                                      /* no length */
        CPV01 "5A",                                /* trailing byte: a tag without a length */
        CPV01 "00",                                /* trailing zero byte */
        CPV01 "FF00",                              /* FF is never a tag */
        CPV01 "5A0512",                            /* length past the end */
        CPV01 "61055A021234",                      /* a template past the end */
        CPV01 "61045A01125A",                      /* a template with a stray byte */
        CPV01 "61035A021234",                      /* a child running out of its template */
        CPV01 "5A80",                              /* indefinite length */
        CPV01 "5A8300000100",                      /* 3-byte length */
        CPV01 "5A81",                              /* long form, length missing */
        CPV01 "5A8200",                            /* long form, length cut */
        CPV01 "9F",                                /* a multi-byte tag cut */
        CPV01 "9F81",                              /* cut after the second byte */
        CPV01 "9F81818100",                        /* a 4-byte tag */
        CPV01 "610A" "6208" "6306" "6404" "5A021234", /* 5 levels */
        CPV01 "61" "10" MOPAY_APP_HEAD,            /* mopay AID, no 63 */
        CPV01 "61" "16" MOPAY_APP_HEAD "6304DF6D0100",           /* mopay code too short */
        CPV01 "61" "1E" MOPAY_APP_HEAD "630CDF6D09871234567890123A56", /* a nibble above 9 */
        CPV01 "61" "1E" MOPAY_APP_HEAD "630CDF6E09871234567890123456", /* code under another tag */
        CPV01 "61" "1E" MOPAY_APP_HEAD "630C" "FF6D09871234567890123456", /* FF tag byte */
        CPV01 "61" "1E" MOPAY_APP_HEAD "630CDF6D09871234567890123456"
              "61" "1E" MOPAY_APP_HEAD "630CDF6D09871234567890123456", /* two mopay templates */
    };
    for (size_t i = 0; i < COUNT(refused); i++) {
        struct mopay_cpm cpm;
        char paycode[MOPAY_PAYCODE_BYTES] = "x";
        enum mopay_err err = cpm_decode_hex(refused[i], &cpm, paycode);
        if (err != MOPAY_ERR_cpm_invalid)
            fail_msg("case %zu (%s): %s", i, refused[i], mopay_err_code(err));
        assert_int_equal(cpm.nodes_count, 0);
        assert_int_equal(cpm.payload_len, 0);
        assert_string_equal(paycode, "");
    }
    /* The well-formed mopay payload the refusals above break. */
    struct mopay_cpm cpm;
    char paycode[MOPAY_PAYCODE_BYTES];
    assert_int_equal(cpm_decode_hex(CPV01 "611E" MOPAY_APP_HEAD "630CDF6D09871234567890123456", &cpm, paycode),
                     MOPAY_OK);
    assert_string_equal(paycode, "871234567890123456");
}

static void cpm_refuses_bad_text(void **state)
{
    (void)state;
    static const char *refused[] = {
        "hQVDUFYwMQ=!", "hQVD UFYwMQ==", "hQVDUFYwMQ==\n", "hQVDUFYwMQ==hQ==", "hQVDUFYwMQ-_", "h",
    };
    for (size_t i = 0; i < COUNT(refused); i++) {
        struct mopay_cpm cpm;
        char paycode[MOPAY_PAYCODE_BYTES];
        assert_int_equal(cpm_decode(refused[i], strlen(refused[i]), &cpm, paycode), MOPAY_ERR_cpm_invalid);
    }
    /* One character over the limit, though the bytes would be fine. */
    char *text = malloc(MOPAY_CPM_TEXT_BYTES_MAX + 4);
    assert_non_null(text);
    memset(text, 'A', MOPAY_CPM_TEXT_BYTES_MAX + 4);
    struct mopay_cpm cpm;
    char paycode[MOPAY_PAYCODE_BYTES];
    assert_int_equal(cpm_decode(text, MOPAY_CPM_TEXT_BYTES_MAX + 4, &cpm, paycode), MOPAY_ERR_cpm_invalid);
    free(text);
}

/* ---- EMV card crypto: pyemv's published values ----
 *
 * Inputs from knovichikhin/pyemv: README.rst (key derivation and cryptogram examples), the
 * docstrings of pyemv/kd.py (derive_icc_mk_a, derive_common_sk) and pyemv/ac.py (generate_ac),
 * and tests/test_cvn_hsm.py (test_visa_cvn10, test_visa_cvn18). The expected outputs are the
 * `expected` column of shared/vectors/emv_arqc_vectors.tsv, matched by its `name` column. */

#define ISSUER_MK "0123456789ABCDEFFEDCBA9876543210"
/* 9F02 9F03 9F1A 95 5F2A 9A 9C 9F37 82 9F36 of both Visa CVN tests */
#define CVN_DATA "000000004000" "000000000000" "0124" "8000048000" "0124" "191105" "01" "52BF4585" "1800" "001C"

static void key_of(const char *hex, uint8_t key[MOPAY_EMV_KEY_BYTES])
{
    assert_int_equal(hex_decode(hex, key, MOPAY_EMV_KEY_BYTES), MOPAY_EMV_KEY_BYTES);
}

static void icc_mk(const char *pan, const char *psn, uint8_t out[MOPAY_EMV_KEY_BYTES])
{
    uint8_t issuer[MOPAY_EMV_KEY_BYTES];
    key_of(ISSUER_MK, issuer);
    mopay_emv_icc_mk_derive_a(issuer, pan, strlen(pan), psn, out);
}

static void session_key(const uint8_t mk[MOPAY_EMV_KEY_BYTES], const char *r_hex, uint8_t out[MOPAY_EMV_KEY_BYTES])
{
    uint8_t r[8];
    assert_int_equal(hex_decode(r_hex, r, sizeof(r)), 8);
    mopay_emv_session_key(mk, r, out);
}

static void mac_of(const uint8_t key[MOPAY_EMV_KEY_BYTES], const char *data_hex, enum mopay_emv_padding padding,
                   uint8_t mac[8])
{
    uint8_t data[128];
    size_t len = hex_decode(data_hex, data, sizeof(data));
    mopay_emv_mac(key, data, len, padding, mac);
}

/* README: the ICC master key of PAN 99012345678901234, PSN 45, its session key for R and ARQC. */
static void readme_chain(uint8_t sk[MOPAY_EMV_KEY_BYTES], uint8_t arqc[8])
{
    uint8_t mk[MOPAY_EMV_KEY_BYTES];
    icc_mk("99012345678901234", "45", mk);
    session_key(mk, "1234567890123456", sk);
    mac_of(sk, "0123456789ABCDEF0123456789ABCDEF", MOPAY_EMV_PAD_ISO9797_2, arqc);
}

/* Visa CVN 10: no session key, the ICC master key of PAN 1234567890123456 PSN 00 makes the
 * ARQC over the data and the CVR, padded with zeros (ISO 9797-1 method 1). */
static void cvn10_arqc(uint8_t mk[MOPAY_EMV_KEY_BYTES], uint8_t arqc[8])
{
    icc_mk("1234567890123456", "00", mk);
    mac_of(mk, CVN_DATA "03A06010", MOPAY_EMV_PAD_ISO9797_1, arqc);
}

/* Visa CVN 18: common session key for ATC 001C, ARQC over the data and the IAD (9F10). */
static void cvn18_arqc(uint8_t sk[MOPAY_EMV_KEY_BYTES], uint8_t arqc[8])
{
    uint8_t mk[MOPAY_EMV_KEY_BYTES];
    icc_mk("1234567890123456", "00", mk);
    session_key(mk, "001C000000000000", sk);
    mac_of(sk, CVN_DATA "06011203A0B800", MOPAY_EMV_PAD_ISO9797_2, arqc);
}

/* Each case computes one row's value as uppercase hex. */
static void emv_icc_mk_readme(char *hex)
{
    uint8_t mk[MOPAY_EMV_KEY_BYTES];
    icc_mk("99012345678901234", "45", mk);
    hex_upper(mk, sizeof(mk), hex);
}

static void emv_icc_mk_docstring(char *hex)
{
    uint8_t mk[MOPAY_EMV_KEY_BYTES];
    icc_mk("12345678901234567", "01", mk);
    hex_upper(mk, sizeof(mk), hex);
}

static void emv_sk_readme(char *hex)
{
    uint8_t sk[MOPAY_EMV_KEY_BYTES], arqc[8];
    readme_chain(sk, arqc);
    hex_upper(sk, sizeof(sk), hex);
}

static void emv_sk_docstring(char *hex)
{
    uint8_t mk[MOPAY_EMV_KEY_BYTES], sk[MOPAY_EMV_KEY_BYTES];
    key_of(ISSUER_MK, mk);
    session_key(mk, "001C000000000000", sk);
    hex_upper(sk, sizeof(sk), hex);
}

static void emv_arqc_readme(char *hex)
{
    uint8_t sk[MOPAY_EMV_KEY_BYTES], arqc[8];
    readme_chain(sk, arqc);
    hex_upper(arqc, sizeof(arqc), hex);
}

static void emv_arpc1_readme(char *hex)
{
    uint8_t sk[MOPAY_EMV_KEY_BYTES], arqc[8], arpc[8];
    readme_chain(sk, arqc);
    mopay_emv_arpc_1(sk, arqc, (const uint8_t[]){0x00, 0x00}, arpc);
    hex_upper(arpc, sizeof(arpc), hex);
}

static void emv_arpc2_readme(char *hex)
{
    uint8_t sk[MOPAY_EMV_KEY_BYTES], arqc[8], arpc[4];
    readme_chain(sk, arqc);
    mopay_emv_arpc_2(sk, arqc, (const uint8_t[]){0, 0, 0, 0}, NULL, 0, arpc);
    hex_upper(arpc, sizeof(arpc), hex);
}

static void emv_generate_ac_docstring(char *hex)
{
    uint8_t sk[MOPAY_EMV_KEY_BYTES], arqc[8];
    key_of("AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBB", sk);
    mac_of(sk, "000000002000" "000000000000" "0124" "0000008000" "0124" "110309" "00" "3804823E" "5800" "0001",
           MOPAY_EMV_PAD_ISO9797_2, arqc);
    hex_upper(arqc, sizeof(arqc), hex);
}

static void emv_cvn10_kcv(char *hex)
{
    uint8_t mk[MOPAY_EMV_KEY_BYTES], kcv[3];
    icc_mk("1234567890123456", "00", mk);
    mopay_emv_key_check_value(mk, kcv);
    hex_upper(kcv, 2, hex); /* pyemv shows 2 bytes */
}

static void emv_cvn10_arqc(char *hex)
{
    uint8_t mk[MOPAY_EMV_KEY_BYTES], arqc[8];
    cvn10_arqc(mk, arqc);
    hex_upper(arqc, sizeof(arqc), hex);
}

static void emv_cvn10_arpc(char *hex)
{
    uint8_t mk[MOPAY_EMV_KEY_BYTES], arqc[8], arpc[8];
    cvn10_arqc(mk, arqc);
    mopay_emv_arpc_1(mk, arqc, (const uint8_t[]){0x30, 0x30}, arpc);
    hex_upper(arpc, sizeof(arpc), hex);
}

static void emv_cvn18_kcv(char *hex)
{
    uint8_t sk[MOPAY_EMV_KEY_BYTES], arqc[8], kcv[3];
    cvn18_arqc(sk, arqc);
    mopay_emv_key_check_value(sk, kcv);
    hex_upper(kcv, 2, hex);
}

static void emv_cvn18_arqc(char *hex)
{
    uint8_t sk[MOPAY_EMV_KEY_BYTES], arqc[8];
    cvn18_arqc(sk, arqc);
    hex_upper(arqc, sizeof(arqc), hex);
}

static void emv_cvn18_arpc(char *hex)
{
    uint8_t sk[MOPAY_EMV_KEY_BYTES], arqc[8], arpc[4];
    cvn18_arqc(sk, arqc);
    mopay_emv_arpc_2(sk, arqc, (const uint8_t[]){0, 0, 0, 0}, NULL, 0, arpc);
    hex_upper(arpc, sizeof(arpc), hex);
}

static const struct emv_case {
    const char *name; /* the vector file's name column */
    void (*compute)(char *hex);
} EMV_CASES[] = {
    {"ICC MK option A (PAN 99012345678901234, PSN 45)", emv_icc_mk_readme},
    {"ICC MK option A docstring (PAN 12345678901234567 PSN 01)", emv_icc_mk_docstring},
    {"Common session key R=1234567890123456", emv_sk_readme},
    {"Common SK docstring R=001C000000000000", emv_sk_docstring},
    {"ARQC (ISO9797-1 alg3, pad method 2)", emv_arqc_readme},
    {"ARPC method 1 (ARC 0000)", emv_arpc1_readme},
    {"ARPC method 2 (CSU 00000000)", emv_arpc2_readme},
    {"generate_ac docstring SK=AA..BB..", emv_generate_ac_docstring},
    {"CVN10 ICC MK-AC KCV", emv_cvn10_kcv},
    {"Visa CVN10 ARQC", emv_cvn10_arqc},
    {"Visa CVN10 ARPC (method 1, ARC '00' ascii 3030)", emv_cvn10_arpc},
    {"CVN18 session key KCV", emv_cvn18_kcv},
    {"Visa CVN18 ARQC", emv_cvn18_arqc},
    {"Visa CVN18 ARPC method 2", emv_cvn18_arpc},
};

/* Every row has a case and matches it, and every case has its row. */
static void emv_vectors_match(void **state)
{
    (void)state;
    bool used[COUNT(EMV_CASES)] = {false};
    struct tsv tsv;
    tsv_open(&tsv, "emv_arqc_vectors.tsv");
    struct tsv_row row;
    while (tsv_read_row(tsv.file, &row)) {
        tsv.rows++;
        const char *name = tsv_get(&tsv, &row, "name");
        size_t c = 0;
        while (c < COUNT(EMV_CASES) && strcmp(EMV_CASES[c].name, name) != 0)
            c++;
        if (c == COUNT(EMV_CASES))
            fail_msg("no inputs for the vector \"%s\"", name);
        used[c] = true;
        char hex[2 * MOPAY_EMV_KEY_BYTES + 1];
        EMV_CASES[c].compute(hex);
        const char *expected = tsv_get(&tsv, &row, "expected");
        if (strcasecmp(hex, expected) != 0)
            fail_msg("%s: %s, expected %s", name, hex, expected);
    }
    fclose(tsv.file);
    for (size_t c = 0; c < COUNT(EMV_CASES); c++) {
        if (!used[c])
            fail_msg("the vector \"%s\" is gone", EMV_CASES[c].name);
    }
}

/* Padding method 1 adds nothing to whole blocks, method 2 always adds a block; both MAC an
 * empty message as one padded block. */
static void emv_mac_padding(void **state)
{
    (void)state;
    uint8_t key[MOPAY_EMV_KEY_BYTES], a[8], b[8];
    key_of(ISSUER_MK, key);
    mac_of(key, "112233445566778880", MOPAY_EMV_PAD_ISO9797_1, b);
    mopay_emv_mac(key, (const uint8_t *)"\x11\x22\x33\x44\x55\x66\x77\x88", 8, MOPAY_EMV_PAD_ISO9797_2, a);
    assert_memory_equal(a, b, 8);
    mopay_emv_mac(key, NULL, 0, MOPAY_EMV_PAD_ISO9797_1, a);
    mac_of(key, "0000000000000000", MOPAY_EMV_PAD_ISO9797_1, b);
    assert_memory_equal(a, b, 8);
    mopay_emv_mac(key, NULL, 0, MOPAY_EMV_PAD_ISO9797_2, a);
    mac_of(key, "8000000000000000", MOPAY_EMV_PAD_ISO9797_1, b);
    assert_memory_equal(a, b, 8);
    /* ARPC method 2's proprietary data goes after the CSU. */
    uint8_t arqc[8] = {1, 2, 3, 4, 5, 6, 7, 8}, arpc[4];
    mopay_emv_arpc_2(key, arqc, (const uint8_t[]){9, 9, 9, 9}, (const uint8_t[]){7, 7}, 2, arpc);
    mac_of(key, "0102030405060708" "09090909" "0707", MOPAY_EMV_PAD_ISO9797_2, b);
    assert_memory_equal(arpc, b, 4);
}

/* ---- mopay's tap cryptogram ---- */

static void issuer_key_of(uint8_t key[MOPAY_NFC_ISSUER_KEY_BYTES])
{
    for (size_t i = 0; i < MOPAY_NFC_ISSUER_KEY_BYTES; i++)
        key[i] = (uint8_t)(0xA0 + i);
}

/* The LUK is NIST SP 800-108 counter mode with HMAC-SHA256, as OpenSSL's KBKDF computes it. */
static void nfc_luk_is_sp800_108(void **state)
{
    (void)state;
    uint8_t issuer[MOPAY_NFC_ISSUER_KEY_BYTES];
    issuer_key_of(issuer);
    const char *token = "4895370012345678";
    uint32_t key_index = 0x01020304;
    uint8_t luk[MOPAY_NFC_LUK_BYTES];
    mopay_nfc_luk_derive(issuer, (const uint8_t *)token, strlen(token), key_index, luk);

    char mac_name[] = "HMAC", digest[] = "SHA256", label[] = "mopay nfc luk v1";
    uint8_t context[1 + 16 + 4] = {16};
    memcpy(context + 1, token, 16);
    memcpy(context + 17, "\x01\x02\x03\x04", 4);
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "KBKDF", NULL);
    assert_non_null(kdf);
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
    assert_non_null(ctx);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, mac_name, 0),
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, issuer, sizeof(issuer)),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, label, strlen(label)),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, context, sizeof(context)),
        OSSL_PARAM_construct_end(),
    };
    uint8_t expected[MOPAY_NFC_LUK_BYTES];
    assert_int_equal(EVP_KDF_derive(ctx, expected, sizeof(expected), params), 1);
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    assert_memory_equal(luk, expected, sizeof(luk));
}

static void nfc_luk_depends_on_every_input(void **state)
{
    (void)state;
    uint8_t issuer[MOPAY_NFC_ISSUER_KEY_BYTES];
    issuer_key_of(issuer);
    uint8_t base[MOPAY_NFC_LUK_BYTES], other[MOPAY_NFC_LUK_BYTES];
    mopay_nfc_luk_derive(issuer, (const uint8_t *)"1234", 4, 1, base);
    mopay_nfc_luk_derive(issuer, (const uint8_t *)"1234", 4, 2, other);
    assert_memory_not_equal(base, other, sizeof(base));
    mopay_nfc_luk_derive(issuer, (const uint8_t *)"1235", 4, 1, other);
    assert_memory_not_equal(base, other, sizeof(base));
    mopay_nfc_luk_derive(issuer, (const uint8_t *)"123", 3, 1, other);
    assert_memory_not_equal(base, other, sizeof(base));
    issuer[31] ^= 1;
    mopay_nfc_luk_derive(issuer, (const uint8_t *)"1234", 4, 1, other);
    assert_memory_not_equal(base, other, sizeof(base));
}

static struct mopay_nfc_tap tap_example(void)
{
    struct mopay_nfc_tap tap = {
        .amount_minor = 12345,
        .currency_numeric = 156,
        .merchant_id = "merchant-0000042",
        .atc = 0x001C,
        .unpredictable_number = {0x52, 0xBF, 0x45, 0x85},
    };
    return tap;
}

static void nfc_cryptogram_verifies(void **state)
{
    (void)state;
    uint8_t issuer[MOPAY_NFC_ISSUER_KEY_BYTES], luk[MOPAY_NFC_LUK_BYTES];
    issuer_key_of(issuer);
    mopay_nfc_luk_derive(issuer, (const uint8_t *)"4895370012345678", 16, 7, luk);
    struct mopay_nfc_tap tap = tap_example();
    uint8_t cryptogram[MOPAY_NFC_CRYPTOGRAM_BYTES];
    mopay_nfc_cryptogram(luk, &tap, cryptogram);
    assert_int_equal(mopay_nfc_cryptogram_verify(luk, &tap, cryptogram), MOPAY_OK);

    /* Its definition: the first 8 bytes of HMAC-SHA256 over the label and the fields. */
    uint8_t msg[48], mac[crypto_auth_hmacsha256_BYTES];
    memcpy(msg, "mopay nfc tap v1", 16);
    memcpy(msg + 16, "\x00\x00\x00\x00\x00\x00\x30\x39" "\x00\x9C", 10);
    memcpy(msg + 26, "merchant-0000042", 16);
    memcpy(msg + 42, "\x00\x1C" "\x52\xBF\x45\x85", 6);
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, luk, sizeof(luk));
    crypto_auth_hmacsha256_update(&st, msg, sizeof(msg));
    crypto_auth_hmacsha256_final(&st, mac);
    assert_memory_equal(cryptogram, mac, MOPAY_NFC_CRYPTOGRAM_BYTES);
}

/* Each field of the tap, each byte of the cryptogram, and the key are covered. */
static void nfc_cryptogram_refuses_every_change(void **state)
{
    (void)state;
    uint8_t issuer[MOPAY_NFC_ISSUER_KEY_BYTES], luk[MOPAY_NFC_LUK_BYTES], next[MOPAY_NFC_LUK_BYTES];
    issuer_key_of(issuer);
    mopay_nfc_luk_derive(issuer, (const uint8_t *)"4895370012345678", 16, 7, luk);
    mopay_nfc_luk_derive(issuer, (const uint8_t *)"4895370012345678", 16, 8, next);
    struct mopay_nfc_tap tap = tap_example();
    uint8_t cryptogram[MOPAY_NFC_CRYPTOGRAM_BYTES];
    mopay_nfc_cryptogram(luk, &tap, cryptogram);
    assert_int_equal(mopay_nfc_cryptogram_verify(next, &tap, cryptogram), MOPAY_ERR_nfc_cryptogram_invalid);

    struct mopay_nfc_tap changed[2 + MOPAY_NFC_MERCHANT_ID_BYTES + 1 + MOPAY_NFC_UN_BYTES + 1];
    size_t n = 0;
    for (size_t i = 0; i < COUNT(changed); i++)
        changed[i] = tap;
    changed[n++].amount_minor += 1;
    changed[n++].currency_numeric = 840;
    for (size_t i = 0; i < MOPAY_NFC_MERCHANT_ID_BYTES; i++)
        changed[n++].merchant_id[i] ^= 0x01;
    changed[n++].atc += 1;
    for (size_t i = 0; i < MOPAY_NFC_UN_BYTES; i++)
        changed[n++].unpredictable_number[i] ^= 0x80;
    changed[n++].amount_minor = 0;
    assert_int_equal(n, COUNT(changed));
    for (size_t i = 0; i < n; i++) {
        if (mopay_nfc_cryptogram_verify(luk, &changed[i], cryptogram) != MOPAY_ERR_nfc_cryptogram_invalid)
            fail_msg("change %zu verified", i);
    }
    for (size_t i = 0; i < MOPAY_NFC_CRYPTOGRAM_BYTES; i++) {
        for (int bit = 0; bit < 8; bit++) {
            uint8_t flipped[MOPAY_NFC_CRYPTOGRAM_BYTES];
            memcpy(flipped, cryptogram, sizeof(flipped));
            flipped[i] ^= (uint8_t)(1u << bit);
            assert_int_equal(mopay_nfc_cryptogram_verify(luk, &tap, flipped), MOPAY_ERR_nfc_cryptogram_invalid);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(otp_vectors_match),
        cmocka_unit_test(otp_ten_digits_are_the_truncated_value),
        cmocka_unit_test(paycode_has_its_format),
        cmocka_unit_test(paycode_round_trips),
        cmocka_unit_test(paycode_window_edges),
        cmocka_unit_test(paycode_refuses_another_secret_or_device),
        cmocka_unit_test(paycode_refuses_every_single_digit_change),
        cmocka_unit_test(paycode_parse_refusals),
        cmocka_unit_test(paycode_near_the_epoch),
        cmocka_unit_test(cpm_vectors_decode),
        cmocka_unit_test(cpm_mopay_round_trip),
        cmocka_unit_test(cpm_takes_unpadded_base64),
        cmocka_unit_test(cpm_accepts_what_ber_allows),
        cmocka_unit_test(cpm_counts_objects),
        cmocka_unit_test(cpm_refusals),
        cmocka_unit_test(cpm_refuses_bad_text),
        cmocka_unit_test(emv_vectors_match),
        cmocka_unit_test(emv_mac_padding),
        cmocka_unit_test(nfc_luk_is_sp800_108),
        cmocka_unit_test(nfc_luk_depends_on_every_input),
        cmocka_unit_test(nfc_cryptogram_verifies),
        cmocka_unit_test(nfc_cryptogram_refuses_every_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
