/* Phone numbers, PINs, cards, IBANs and bank accounts as customers type them (validate.h).
 *
 * Each parser first builds the canonical form in a local buffer, bounded by the longest valid
 * value, and copies it out only when every check has passed: a refusal never leaves half a
 * value in the caller's buffer. Countries are in country.c. */
#include "mopay/validate.h"

#include <stdlib.h>
#include <string.h>

#include "mopay/assert.h"

#define PHONE_DIGITS_MIN 8
#define PHONE_DIGITS_MAX (MOPAY_PHONE_BYTES - 2)
#define PIN_DIGITS 6
#define CARD_DIGITS_MIN 12
#define CARD_DIGITS_MAX (MOPAY_CARD_DIGITS_BYTES - 1)
#define CARD_YEAR_MIN 2000
#define CARD_YEAR_MAX 2099
#define IBAN_CHARS_MAX (MOPAY_IBAN_BYTES - 1)
#define BANK_ACCOUNT_DIGITS_MIN 4
#define BANK_ACCOUNT_DIGITS_MAX (MOPAY_BANK_ACCOUNT_BYTES - 1)
#define BANK_CODE_CHARS_MIN 3
#define BANK_CODE_CHARS_MAX (MOPAY_BANK_CODE_BYTES - 1)

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static char to_upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* ---- phone numbers ---- */

enum mopay_err mopay_phone_parse(const char *s, size_t len, char out[MOPAY_PHONE_BYTES])
{
    MOPAY_ASSERT(s != NULL || len == 0);
    MOPAY_ASSERT(out != NULL);
    if (len == 0 || s[0] != '+')
        return MOPAY_ERR_phone_invalid;

    char phone[MOPAY_PHONE_BYTES] = {'+'};
    size_t n = 1;        /* bytes in phone, the '+' included */
    size_t open_at = 0;  /* n at the '(', 0 before one */
    bool closed = false;
    for (size_t i = 1; i < len; i++) {
        char c = s[i];
        if (is_digit(c)) {
            if (n == 1 + PHONE_DIGITS_MAX)
                return MOPAY_ERR_phone_invalid;
            phone[n++] = c;
        } else if (c == '(') {
            if (open_at != 0)
                return MOPAY_ERR_phone_invalid;
            open_at = n;
        } else if (c == ')') {
            /* One pair, in order, around digits; "(0)" is a trunk prefix (see validate.h). */
            if (open_at == 0 || closed || n == open_at)
                return MOPAY_ERR_phone_invalid;
            if (n == open_at + 1 && phone[open_at] == '0')
                return MOPAY_ERR_phone_invalid;
            closed = true;
        } else if (c != ' ' && c != '-' && c != '.') {
            return MOPAY_ERR_phone_invalid;
        }
    }
    if ((open_at != 0) != closed || n < 1 + PHONE_DIGITS_MIN || phone[1] == '0')
        return MOPAY_ERR_phone_invalid;
    phone[n] = '\0';
    memcpy(out, phone, n + 1);
    return MOPAY_OK;
}

/* ---- PINs ---- */

enum mopay_err mopay_pin_check(const char *s, size_t len)
{
    MOPAY_ASSERT(s != NULL || len == 0);
    if (len != PIN_DIGITS)
        return MOPAY_ERR_pin_format_invalid;
    for (size_t i = 0; i < len; i++)
        if (!is_digit(s[i]))
            return MOPAY_ERR_pin_format_invalid;
    return MOPAY_OK;
}

/* ---- grouped numbers: cards and bank accounts ---- */

/* Copies the digits of `s` (and, when `letters`, its letters uppercased) to `out`, dropping the
 * spaces or dashes that separate groups. A separator must stand alone between two kept
 * characters: " 4242", "4242--4242" and "4242-" are refused. Returns how many characters were
 * kept, or 0 when the text breaks these rules or has more than `max`; `out` (max + 1 bytes) then
 * holds garbage. On success it is NUL-terminated. */
static size_t groups_strip(const char *s, size_t len, bool letters, char *out, size_t max)
{
    size_t n = 0;
    bool after_separator = false;
    for (size_t i = 0; i < len; i++) {
        char c = letters ? to_upper(s[i]) : s[i];
        if (c == ' ' || c == '-') {
            if (n == 0 || after_separator)
                return 0;
            after_separator = true;
            continue;
        }
        if (!is_digit(c) && !(letters && is_upper(c)))
            return 0;
        if (n == max)
            return 0;
        out[n++] = c;
        after_separator = false;
    }
    if (after_separator)
        return 0;
    out[n] = '\0';
    return n;
}

/* ---- cards ---- */

const char *mopay_card_brand_name(enum mopay_card_brand brand)
{
    static const char *const names[] = {
        [MOPAY_CARD_VISA] = "visa",
        [MOPAY_CARD_MASTERCARD] = "mastercard",
        [MOPAY_CARD_AMEX] = "amex",
        [MOPAY_CARD_UNIONPAY] = "unionpay",
        [MOPAY_CARD_JCB] = "jcb",
    };
    MOPAY_ASSERT((size_t)brand < sizeof(names) / sizeof(names[0]));
    return names[brand];
}

#define CARD_LENGTH(n) (1u << (n))
#define CARD_LENGTHS_16_TO_19 (CARD_LENGTH(16) | CARD_LENGTH(17) | CARD_LENGTH(18) | CARD_LENGTH(19))

/* The issuer ranges mopay takes: a number whose first `prefix_digits` digits fall in [low, high]
 * and whose length is in `lengths` (bit n for n digits) is of `brand`. The ranges do not
 * overlap, so at most one entry matches. */
static const struct card_range {
    uint8_t prefix_digits;
    uint16_t low;
    uint16_t high;
    uint32_t lengths;
    enum mopay_card_brand brand;
} card_ranges[] = {
    {1, 4, 4, CARD_LENGTH(13) | CARD_LENGTH(16) | CARD_LENGTH(19), MOPAY_CARD_VISA},
    {2, 51, 55, CARD_LENGTH(16), MOPAY_CARD_MASTERCARD},
    {4, 2221, 2720, CARD_LENGTH(16), MOPAY_CARD_MASTERCARD},
    {2, 34, 34, CARD_LENGTH(15), MOPAY_CARD_AMEX},
    {2, 37, 37, CARD_LENGTH(15), MOPAY_CARD_AMEX},
    {2, 62, 62, CARD_LENGTHS_16_TO_19, MOPAY_CARD_UNIONPAY},
    {4, 3528, 3589, CARD_LENGTHS_16_TO_19, MOPAY_CARD_JCB},
};

/* The brand of `n` (at least 4) digits; false when no range takes them. */
static bool card_brand_of(const char *digits, size_t n, enum mopay_card_brand *brand)
{
    MOPAY_ASSERT(n >= 4 && n < 32);
    for (size_t r = 0; r < sizeof(card_ranges) / sizeof(card_ranges[0]); r++) {
        const struct card_range *range = &card_ranges[r];
        unsigned prefix = 0;
        for (size_t i = 0; i < range->prefix_digits; i++)
            prefix = prefix * 10 + (unsigned)(digits[i] - '0');
        if (prefix >= range->low && prefix <= range->high && (range->lengths & CARD_LENGTH(n))) {
            *brand = range->brand;
            return true;
        }
    }
    return false;
}

/* The Luhn (ISO/IEC 7812-1) check: from the right, every second digit doubled, digits of the
 * products summed, total a multiple of 10. Catches any single wrong digit and most swaps. */
bool mopay_luhn_valid(const char *digits, size_t n)
{
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (digits[n - 1 - i] < '0' || digits[n - 1 - i] > '9')
            return false;
        unsigned d = (unsigned)(digits[n - 1 - i] - '0');
        if (i % 2 == 1)
            d = d * 2 > 9 ? d * 2 - 9 : d * 2;
        sum += d;
    }
    return sum % 10 == 0;
}

enum mopay_err mopay_card_parse(const char *s, size_t len, char digits_out[MOPAY_CARD_DIGITS_BYTES],
                                enum mopay_card_brand *brand_out)
{
    MOPAY_ASSERT(s != NULL || len == 0);
    MOPAY_ASSERT(digits_out != NULL && brand_out != NULL);
    char digits[MOPAY_CARD_DIGITS_BYTES];
    size_t n = groups_strip(s, len, false, digits, CARD_DIGITS_MAX);
    enum mopay_card_brand brand;
    if (n < CARD_DIGITS_MIN || !mopay_luhn_valid(digits, n) || !card_brand_of(digits, n, &brand))
        return MOPAY_ERR_card_number_invalid;
    memcpy(digits_out, digits, n + 1);
    *brand_out = brand;
    return MOPAY_OK;
}

enum mopay_err mopay_card_expiry_check(int64_t exp_year, int64_t exp_month, int now_year,
                                       int now_month)
{
    MOPAY_ASSERT(now_year >= 1970 && now_year <= 9999);
    MOPAY_ASSERT(now_month >= 1 && now_month <= 12);
    if (exp_month < 1 || exp_month > 12 || exp_year < CARD_YEAR_MIN || exp_year > CARD_YEAR_MAX)
        return MOPAY_ERR_field_invalid;
    /* Months since year 0, both small after the range checks above. */
    if (exp_year * 12 + exp_month < (int64_t)now_year * 12 + now_month)
        return MOPAY_ERR_card_expired;
    return MOPAY_OK;
}

/* ---- IBANs ---- */

/* IBAN lengths by country, from the SWIFT IBAN Registry (SWIFT is the ISO 13616 registration
 * authority) as of its 2025 releases: the 89 countries it lists, HN (Honduras) and YE (Yemen)
 * among the latest. Countries only in SWIFT's "experimental" list or in national schemes are
 * not here. Every entry is a valid ISO 3166 code except XK (Kosovo), which the registry uses
 * though ISO 3166 leaves it user-assigned; Kosovar banks issue these IBANs, so they are taken.
 * The unit test checks each length against the registry's example IBAN for the country, and
 * probes every other pair of letters. Sorted for bsearch. */
static const struct iban_country {
    char code[3];
    uint8_t length;
} iban_countries[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22},
    {"BH", 22}, {"BI", 27}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24},
    {"DE", 22}, {"DJ", 27}, {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18},
    {"FK", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27},
    {"GT", 28}, {"HN", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26},
    {"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20},
    {"LU", 20}, {"LV", 21}, {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MN", 20},
    {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18}, {"NO", 15}, {"OM", 23}, {"PK", 24},
    {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33}, {"SA", 24},
    {"SC", 31}, {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"SO", 23}, {"ST", 25},
    {"SV", 28}, {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20},
    {"YE", 30},
};

static int iban_country_compare(const void *key, const void *entry)
{
    return memcmp(key, ((const struct iban_country *)entry)->code, 2);
}

/* The IBAN length of the country `code` (two bytes), 0 when it has no IBAN. */
static size_t iban_length(const char *code)
{
    const struct iban_country *c =
        bsearch(code, iban_countries, sizeof(iban_countries) / sizeof(iban_countries[0]),
                sizeof(iban_countries[0]), iban_country_compare);
    return c != NULL ? c->length : 0;
}

/* ISO 7064 MOD 97-10 of the IBAN with its first four characters moved to the end and letters
 * read as 10..35, one character at a time: the remainder stays below 97, so the 60-odd-digit
 * number never has to exist. */
static unsigned iban_mod97(const char *iban, size_t n)
{
    unsigned remainder = 0;
    for (size_t k = 0; k < n; k++) {
        char c = iban[(k + 4) % n];
        if (is_digit(c))
            remainder = (remainder * 10 + (unsigned)(c - '0')) % 97;
        else
            remainder = (remainder * 100 + (unsigned)(c - 'A' + 10)) % 97;
    }
    return remainder;
}

enum mopay_err mopay_iban_parse(const char *s, size_t len, char out[MOPAY_IBAN_BYTES])
{
    MOPAY_ASSERT(s != NULL || len == 0);
    MOPAY_ASSERT(out != NULL);
    char iban[MOPAY_IBAN_BYTES];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = to_upper(s[i]);
        if (c == ' ')
            continue;
        if (n == IBAN_CHARS_MAX || !(is_digit(c) || is_upper(c)))
            return MOPAY_ERR_iban_invalid;
        iban[n++] = c;
    }
    if (n < 4 || !is_upper(iban[0]) || !is_upper(iban[1]) || !is_digit(iban[2]) || !is_digit(iban[3]))
        return MOPAY_ERR_iban_invalid;
    /* Computed check digits are 02..98 (ISO 13616); 00, 01 and 99 can still pass mod-97. */
    unsigned check = (unsigned)(iban[2] - '0') * 10 + (unsigned)(iban[3] - '0');
    if (iban_length(iban) != n || check < 2 || check > 98 || iban_mod97(iban, n) != 1)
        return MOPAY_ERR_iban_invalid;
    iban[n] = '\0';
    memcpy(out, iban, n + 1);
    return MOPAY_OK;
}

/* ---- bank accounts ---- */

enum mopay_err mopay_bank_account_parse(const char *account, size_t account_len,
                                        const char *bank_code, size_t code_len,
                                        char account_out[MOPAY_BANK_ACCOUNT_BYTES],
                                        char code_out[MOPAY_BANK_CODE_BYTES])
{
    MOPAY_ASSERT(account != NULL || account_len == 0);
    MOPAY_ASSERT(bank_code != NULL || code_len == 0);
    MOPAY_ASSERT(account_out != NULL && code_out != NULL);
    char number[MOPAY_BANK_ACCOUNT_BYTES];
    char code[MOPAY_BANK_CODE_BYTES];
    size_t number_len = groups_strip(account, account_len, false, number, BANK_ACCOUNT_DIGITS_MAX);
    size_t code_chars = groups_strip(bank_code, code_len, true, code, BANK_CODE_CHARS_MAX);
    if (number_len < BANK_ACCOUNT_DIGITS_MIN || code_chars < BANK_CODE_CHARS_MIN)
        return MOPAY_ERR_bank_account_invalid;
    memcpy(account_out, number, number_len + 1);
    memcpy(code_out, code, code_chars + 1);
    return MOPAY_OK;
}
