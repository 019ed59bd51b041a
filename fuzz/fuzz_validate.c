/* libFuzzer harness for the identifiers customers type (validate.h): phone numbers, countries,
 * PINs, card numbers and expiry, IBANs and bank accounts.
 *
 * The input goes to every parser whole; for the bank account it is split at the first '|' into
 * account number and bank code, and its first 16 bytes are also read as an expiry year and
 * month. Whatever a parser takes must come out canonical: the input's own characters less the
 * separators, within the format's bounds, and parsing to exactly itself again. A refusal must
 * be the parser's one error code and leave the out parameters alone. Any broken property
 * aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mopay/validate.h"

#define UNTOUCHED 'x'

static void check(int ok)
{
    if (!ok)
        abort();
}

static int untouched(const char *buf, size_t size)
{
    for (size_t i = 0; i < size; i++)
        if (buf[i] != UNTOUCHED)
            return 0;
    return 1;
}

/* True when `out` is the characters of `s` outside `dropped`, uppercased when `upper`. */
static int is_stripped(const char *out, const char *s, size_t len, const char *dropped, int upper)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c != '\0' && strchr(dropped, c) != NULL)
            continue;
        if (upper && c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (out[n++] != c)
            return 0;
    }
    return out[n] == '\0';
}

static void fuzz_phone(const char *s, size_t len)
{
    char out[MOPAY_PHONE_BYTES];
    memset(out, UNTOUCHED, sizeof(out));
    enum mopay_err err = mopay_phone_parse(s, len, out);
    if (err != MOPAY_OK) {
        check(err == MOPAY_ERR_phone_invalid && untouched(out, sizeof(out)));
        return;
    }
    size_t n = strlen(out);
    check(n >= 9 && n <= 16 && out[0] == '+' && out[1] != '0');
    check(strspn(out + 1, "0123456789") == n - 1);
    check(is_stripped(out, s, len, " -.()", 0));
    char again[MOPAY_PHONE_BYTES];
    check(mopay_phone_parse(out, n, again) == MOPAY_OK && strcmp(again, out) == 0);
}

static void fuzz_card(const char *s, size_t len)
{
    char digits[MOPAY_CARD_DIGITS_BYTES];
    memset(digits, UNTOUCHED, sizeof(digits));
    enum mopay_card_brand brand = (enum mopay_card_brand)99;
    enum mopay_err err = mopay_card_parse(s, len, digits, &brand);
    if (err != MOPAY_OK) {
        check(err == MOPAY_ERR_card_number_invalid && untouched(digits, sizeof(digits)));
        check(brand == (enum mopay_card_brand)99);
        return;
    }
    size_t n = strlen(digits);
    check(n >= 13 && n <= 19 && strspn(digits, "0123456789") == n);
    check(is_stripped(digits, s, len, " -", 0));
    check(mopay_card_brand_name(brand) != NULL);
    char again[MOPAY_CARD_DIGITS_BYTES];
    enum mopay_card_brand brand_again;
    check(mopay_card_parse(digits, n, again, &brand_again) == MOPAY_OK);
    check(strcmp(again, digits) == 0 && brand_again == brand);
}

static void fuzz_iban(const char *s, size_t len)
{
    char out[MOPAY_IBAN_BYTES];
    memset(out, UNTOUCHED, sizeof(out));
    enum mopay_err err = mopay_iban_parse(s, len, out);
    if (err != MOPAY_OK) {
        check(err == MOPAY_ERR_iban_invalid && untouched(out, sizeof(out)));
        return;
    }
    size_t n = strlen(out);
    check(n >= 15 && n <= 34);
    check(is_stripped(out, s, len, " ", 1));
    check(mopay_country_valid(out, 2) || memcmp(out, "XK", 2) == 0);
    char again[MOPAY_IBAN_BYTES];
    check(mopay_iban_parse(out, n, again) == MOPAY_OK && strcmp(again, out) == 0);
}

static void fuzz_bank_account(const char *s, size_t len)
{
    const char *bar = memchr(s, '|', len);
    size_t account_len = bar != NULL ? (size_t)(bar - s) : len;
    const char *code = bar != NULL ? bar + 1 : s + len;
    size_t code_len = len - account_len - (bar != NULL);
    char account_out[MOPAY_BANK_ACCOUNT_BYTES], code_out[MOPAY_BANK_CODE_BYTES];
    memset(account_out, UNTOUCHED, sizeof(account_out));
    memset(code_out, UNTOUCHED, sizeof(code_out));
    enum mopay_err err = mopay_bank_account_parse(s, account_len, code, code_len, account_out, code_out);
    if (err != MOPAY_OK) {
        check(err == MOPAY_ERR_bank_account_invalid);
        check(untouched(account_out, sizeof(account_out)) && untouched(code_out, sizeof(code_out)));
        return;
    }
    check(is_stripped(account_out, s, account_len, " -", 0));
    check(is_stripped(code_out, code, code_len, " -", 1));
    char account_again[MOPAY_BANK_ACCOUNT_BYTES], code_again[MOPAY_BANK_CODE_BYTES];
    check(mopay_bank_account_parse(account_out, strlen(account_out), code_out, strlen(code_out),
                                   account_again, code_again) == MOPAY_OK);
    check(strcmp(account_again, account_out) == 0 && strcmp(code_again, code_out) == 0);
}

/* The simple cases the rest must agree with: the country, PIN and expiry rules restated. */
static void fuzz_small_rules(const uint8_t *data, const char *s, size_t len)
{
    int upper = len == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z';
    check(!mopay_country_valid(s, len) || upper);

    int six_digits = len == 6;
    for (size_t i = 0; i < len && six_digits; i++)
        six_digits = s[i] >= '0' && s[i] <= '9';
    check((mopay_pin_check(s, len) == MOPAY_OK) == six_digits);

    if (len < 16)
        return;
    int64_t year, month;
    memcpy(&year, data, sizeof(year));
    memcpy(&month, data + 8, sizeof(month));
    enum mopay_err err = mopay_card_expiry_check(year, month, 2026, 6);
    if (month < 1 || month > 12 || year < 2000 || year > 2099)
        check(err == MOPAY_ERR_field_invalid);
    else
        check(err == (year < 2026 || (year == 2026 && month < 6) ? MOPAY_ERR_card_expired : MOPAY_OK));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A heap copy of exactly `size` bytes, so ASan catches any read past the length. */
    char *s = malloc(size > 0 ? size : 1);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    fuzz_phone(s, size);
    fuzz_card(s, size);
    fuzz_iban(s, size);
    fuzz_bank_account(s, size);
    fuzz_small_rules(data, s, size);
    free(s);
    return 0;
}
