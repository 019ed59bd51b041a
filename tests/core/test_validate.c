/* Phone numbers, countries, PINs, cards, card expiry, IBANs and bank accounts: what each parser
 * takes, its canonical output, every refusal and the boundaries of each range. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mopay/validate.h"

#define TEXT(literal) literal, sizeof(literal) - 1
#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* Filled into out parameters to prove that a refusal leaves them alone. */
#define UNTOUCHED 'x'

struct text_case {
    const char *text;
    size_t len;
    const char *canonical; /* NULL when refused */
};

/* A heap copy of exactly `len` bytes and no NUL, so ASan sees any read past `len`. */
static char *exact_copy(const char *s, size_t len)
{
    char *copy = malloc(len > 0 ? len : 1);
    assert_non_null(copy);
    if (len > 0)
        memcpy(copy, s, len);
    return copy;
}

static bool untouched(const char *buf, size_t size)
{
    for (size_t i = 0; i < size; i++)
        if (buf[i] != UNTOUCHED)
            return false;
    return true;
}

/* Runs each case through `parse`: an accepted text must give its canonical form, which must
 * parse to itself; a refused one must give `refusal` and leave `out` alone. */
static void run_text_cases(enum mopay_err (*parse)(const char *, size_t, char *), size_t out_size,
                           enum mopay_err refusal, const struct text_case *cases, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        char out[64];
        assert_true(out_size <= sizeof(out));
        memset(out, UNTOUCHED, sizeof(out));
        char *copy = exact_copy(cases[i].text, cases[i].len);
        enum mopay_err err = parse(copy, cases[i].len, out);
        free(copy);
        if (cases[i].canonical == NULL) {
            if (err != refusal || !untouched(out, sizeof(out)))
                fail_msg("case %zu \"%s\": %s, should be refused", i, cases[i].text, mopay_err_code(err));
            continue;
        }
        if (err != MOPAY_OK || strcmp(out, cases[i].canonical) != 0)
            fail_msg("case %zu \"%s\": %s \"%.*s\", should be \"%s\"", i, cases[i].text,
                     mopay_err_code(err), (int)out_size, out, cases[i].canonical);
        assert_true(strlen(out) < out_size);
        char again[64];
        assert_int_equal(parse(out, strlen(out), again), MOPAY_OK);
        assert_string_equal(again, out);
    }
}

/* ---- phone numbers ---- */

static void phone_accepts_typed_forms(void **state)
{
    (void)state;
    static const struct text_case cases[] = {
        {TEXT("+8613800138000"), "+8613800138000"},
        {TEXT("+86 138-0013-8000"), "+8613800138000"},
        {TEXT("+86 138 0013 8000"), "+8613800138000"},
        {TEXT("+86.138.0013.8000"), "+8613800138000"},
        {TEXT("+1 (415) 555-2671"), "+14155552671"},
        {TEXT("+1(415)555.2671"), "+14155552671"},
        {TEXT("+(1) 415 555 2671"), "+14155552671"},
        {TEXT("+44 20 7946 0958"), "+442079460958"},
        {TEXT("+39 (06) 1234 5678"), "+390612345678"}, /* Italy keeps its 0: not "(0)" alone */
        {TEXT("+1 415  555 - 2671 "), "+14155552671"},
        {TEXT("+12345678"), "+12345678"},               /* 8 digits, the least */
        {TEXT("+123456789012345"), "+123456789012345"}, /* 15, E.164's most */
        {TEXT("+1 234 567 890 123 45"), "+123456789012345"},
        {TEXT("+999999999999999"), "+999999999999999"},
    };
    run_text_cases(mopay_phone_parse, MOPAY_PHONE_BYTES, MOPAY_ERR_phone_invalid, cases, COUNT(cases));
}

static void phone_refuses(void **state)
{
    (void)state;
    static const struct text_case cases[] = {
        {TEXT(""), NULL},
        {TEXT("+"), NULL},
        {TEXT("+ - ."), NULL},
        {TEXT("8613800138000"), NULL},      /* no '+' */
        {TEXT("008613800138000"), NULL},    /* international prefix instead of '+' */
        {TEXT(" +8613800138000"), NULL},    /* nothing before the '+' */
        {TEXT("++8613800138000"), NULL},
        {TEXT("+86+13800138000"), NULL},
        {TEXT("+0613800138000"), NULL},     /* no country code starts with 0 */
        {TEXT("+ 0613800138000"), NULL},
        {TEXT("+(0)613800138000"), NULL},
        {TEXT("+1234567"), NULL},           /* 7 digits */
        {TEXT("+1234567890123456"), NULL},  /* 16 digits */
        {TEXT("+1 234 567 890 123 456"), NULL},
        {TEXT("+86 138 0013 800O"), NULL},  /* letter O */
        {TEXT("+86/138/0013/8000"), NULL},
        {TEXT("+86_13800138000"), NULL},
        {TEXT("+86\t13800138000"), NULL},
        {TEXT("+8613800138000\n"), NULL},
        {TEXT("+86 138 0013 8000 ext 12"), NULL},
        {TEXT("+1 (415 555 2671"), NULL},   /* unclosed */
        {TEXT("+1 415) 555 2671"), NULL},   /* closed, never opened */
        {TEXT("+1 )415( 555 2671"), NULL},
        {TEXT("+1 (415) (555) 2671"), NULL}, /* two pairs */
        {TEXT("+1 ((415)) 5552671"), NULL},
        {TEXT("+1 () 4155552671"), NULL},
        {TEXT("+44 (0)20 7946 0958"), NULL}, /* trunk prefix: see validate.h */
        {TEXT("+49 (0) 30 1234567"), NULL},
        {TEXT("+86138\0000138000"), NULL},
        {TEXT("+\xEF\xBC\x98\xEF\xBC\x96 13800138000"), NULL}, /* fullwidth digits */
        {TEXT("+86 138 0013 8000\xC2\xA0"), NULL},              /* no-break space */
    };
    run_text_cases(mopay_phone_parse, MOPAY_PHONE_BYTES, MOPAY_ERR_phone_invalid, cases, COUNT(cases));
}

/* ---- countries ---- */

static void country_assigned_codes(void **state)
{
    (void)state;
    /* Every table entry is found (so the table is sorted for bsearch), and only those. */
    size_t valid = 0;
    for (char a = 'A'; a <= 'Z'; a++)
        for (char b = 'A'; b <= 'Z'; b++) {
            char *code = exact_copy((char[]){a, b}, 2);
            valid += mopay_country_valid(code, 2);
            free(code);
        }
    assert_int_equal(valid, 249);

    static const char *assigned[] = {"AD", "AE", "AQ", "AX", "BQ", "CN", "CW", "DE", "FR", "GB",
                                     "HK", "PS", "SS", "SX", "TW", "US", "VA", "ZA", "ZW"};
    for (size_t i = 0; i < COUNT(assigned); i++)
        if (!mopay_country_valid(assigned[i], 2))
            fail_msg("%s is assigned", assigned[i]);

    /* Reserved, withdrawn and user-assigned codes. */
    static const char *refused[] = {"UK", "EU", "UN", "EZ", "AC", "IC", "FX", "SU", "AN", "CS",
                                    "YU", "TP", "ZR", "AA", "QM", "QZ", "XA", "XK", "XZ", "ZZ"};
    for (size_t i = 0; i < COUNT(refused); i++)
        if (mopay_country_valid(refused[i], 2))
            fail_msg("%s is not an assigned code", refused[i]);
}

static void country_is_exact(void **state)
{
    (void)state;
    assert_false(mopay_country_valid("cn", 2));
    assert_false(mopay_country_valid("Cn", 2));
    assert_false(mopay_country_valid("CN ", 3));
    assert_false(mopay_country_valid("CHN", 3));
    assert_false(mopay_country_valid("C", 1));
    assert_false(mopay_country_valid("", 0));
    assert_false(mopay_country_valid(NULL, 0));
    assert_false(mopay_country_valid("C\0", 2));
    assert_false(mopay_country_valid("\0\0", 2));
    assert_false(mopay_country_valid("@Z", 2)); /* just before 'A' */
    assert_false(mopay_country_valid("Z[", 2)); /* just after 'Z' */
    /* Only `len` bytes count. */
    assert_true(mopay_country_valid("GBR", 2));
}

/* ---- PINs ---- */

static void pin_six_digits(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t len;
        bool ok;
    } cases[] = {
        {TEXT("000000"), true}, {TEXT("123456"), true}, {TEXT("999999"), true},
        {TEXT(""), false}, {TEXT("12345"), false}, {TEXT("1234567"), false},
        {TEXT("12345a"), false}, {TEXT("a12345"), false}, {TEXT(" 12345"), false},
        {TEXT("12345 "), false}, {TEXT("123 456"), false}, {TEXT("12 456"), false},
        {TEXT("+12345"), false}, {TEXT("-12345"), false}, {TEXT("12345\0"), false},
        {TEXT("12/456"), false}, {TEXT("12:456"), false}, /* '/' and ':' border the digits */
        {TEXT("\xD9\xA1\xD9\xA2\xD9\xA3"), false},       /* Arabic-Indic digits, 6 bytes */
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        char *copy = exact_copy(cases[i].text, cases[i].len);
        enum mopay_err expected = cases[i].ok ? MOPAY_OK : MOPAY_ERR_pin_format_invalid;
        if (mopay_pin_check(copy, cases[i].len) != expected)
            fail_msg("case %zu \"%s\"", i, cases[i].text);
        free(copy);
    }
    assert_int_equal(mopay_pin_check(NULL, 0), MOPAY_ERR_pin_format_invalid);
}

/* ---- cards ---- */

/* Parses `s` from an exact copy; on success checks the digits and that they parse to
 * themselves. */
static enum mopay_err card(const char *s, size_t len, enum mopay_card_brand *brand)
{
    char digits[MOPAY_CARD_DIGITS_BYTES];
    memset(digits, UNTOUCHED, sizeof(digits));
    enum mopay_card_brand before = (enum mopay_card_brand)99;
    *brand = before;
    char *copy = exact_copy(s, len);
    enum mopay_err err = mopay_card_parse(copy, len, digits, brand);
    free(copy);
    if (err != MOPAY_OK) {
        assert_int_equal(err, MOPAY_ERR_card_number_invalid);
        assert_true(untouched(digits, sizeof(digits)) && *brand == before);
        return err;
    }
    size_t n = strlen(digits);
    assert_true(n >= 13 && n <= 19 && strspn(digits, "0123456789") == n);
    char again[MOPAY_CARD_DIGITS_BYTES];
    enum mopay_card_brand brand_again;
    assert_int_equal(mopay_card_parse(digits, n, again, &brand_again), MOPAY_OK);
    assert_string_equal(again, digits);
    assert_int_equal(brand_again, *brand);
    return err;
}

static void expect_card(const char *s, enum mopay_card_brand expected)
{
    enum mopay_card_brand brand;
    enum mopay_err err = card(s, strlen(s), &brand);
    if (err != MOPAY_OK || brand != expected)
        fail_msg("%s: %s, should be %s", s, mopay_err_code(err), mopay_card_brand_name(expected));
}

static void expect_card_refused(const char *s, size_t len)
{
    enum mopay_card_brand brand;
    if (card(s, len, &brand) != MOPAY_ERR_card_number_invalid)
        fail_msg("%.*s should be refused", (int)len, s);
}

/* `length` digits: `prefix`, zeros, and the Luhn check digit, so that only the brand rules
 * decide. Written independently of validate.c: a table of doubled digits' digit sums. */
static void luhn_complete(const char *prefix, size_t length, char out[32])
{
    static const unsigned doubled[10] = {0, 2, 4, 6, 8, 1, 3, 5, 7, 9};
    size_t p = strlen(prefix);
    assert_true(p < length && length < 32);
    memset(out, '0', length);
    memcpy(out, prefix, p);
    out[length] = '\0';
    unsigned sum = 0;
    for (size_t i = 0; i + 1 < length; i++) /* the check digit's neighbour is doubled */
        sum += (length - 1 - i) % 2 == 1 ? doubled[out[i] - '0'] : (unsigned)(out[i] - '0');
    out[length - 1] = (char)('0' + (10 - sum % 10) % 10);
}

static void expect_range(const char *prefix, size_t length, int expected_brand)
{
    char number[32];
    luhn_complete(prefix, length, number);
    if (expected_brand < 0)
        expect_card_refused(number, length);
    else
        expect_card(number, (enum mopay_card_brand)expected_brand);
}

static void card_brand_names(void **state)
{
    (void)state;
    assert_string_equal(mopay_card_brand_name(MOPAY_CARD_VISA), "visa");
    assert_string_equal(mopay_card_brand_name(MOPAY_CARD_MASTERCARD), "mastercard");
    assert_string_equal(mopay_card_brand_name(MOPAY_CARD_AMEX), "amex");
    assert_string_equal(mopay_card_brand_name(MOPAY_CARD_UNIONPAY), "unionpay");
    assert_string_equal(mopay_card_brand_name(MOPAY_CARD_JCB), "jcb");
}

static void card_accepts_test_numbers(void **state)
{
    (void)state;
    /* Processors' published test numbers. */
    expect_card("4242424242424242", MOPAY_CARD_VISA);
    expect_card("378282246310005", MOPAY_CARD_AMEX);
    expect_card("6200000000000005", MOPAY_CARD_UNIONPAY);
    expect_card("4000000000009995", MOPAY_CARD_VISA);
    expect_card("4000000000009979", MOPAY_CARD_VISA);
    expect_card("4000000000000119", MOPAY_CARD_VISA);
    expect_card("5555555555554444", MOPAY_CARD_MASTERCARD);
    expect_card("2223003122003222", MOPAY_CARD_MASTERCARD);
    expect_card("3566002020360505", MOPAY_CARD_JCB);
    expect_card("4111111111111111", MOPAY_CARD_VISA);
    expect_card("4012888888881881", MOPAY_CARD_VISA);
    expect_card("4222222222222", MOPAY_CARD_VISA); /* 13 digits */
    expect_card("5105105105105100", MOPAY_CARD_MASTERCARD);
    expect_card("371449635398431", MOPAY_CARD_AMEX);
    expect_card("6205500000000000004", MOPAY_CARD_UNIONPAY); /* 19 digits */

    /* Groups as printed on cards and typed into forms. */
    expect_card("4242 4242 4242 4242", MOPAY_CARD_VISA);
    expect_card("4242-4242-4242-4242", MOPAY_CARD_VISA);
    expect_card("4242 4242-4242 4242", MOPAY_CARD_VISA);
    expect_card("3782 822463 10005", MOPAY_CARD_AMEX);
    expect_card("4 2 4 2 4 2 4 2 4 2 4 2 4 2 4 2", MOPAY_CARD_VISA);
}

static void card_refuses_malformed(void **state)
{
    (void)state;
    static const char *refused[] = {
        "4242424242424241", /* Luhn broken */
        "4242424242424243",
        "2442424242424242", /* two digits swapped */
        "378282246310006",
        "6200000000000006",
        " 4242424242424242",
        "4242424242424242 ",
        "-4242424242424242",
        "4242  4242 4242 4242",
        "4242--4242-4242-4242",
        "4242 -4242 4242 4242",
        "4242.4242.4242.4242",
        "4242/4242/4242/4242",
        "4242\t4242\t4242\t4242",
        "4242 4242 4242 424a",
        "+4242424242424242",
        "424242424242",         /* 12 digits: long enough, no brand has 12 */
        "42424242424",          /* 11 */
        "42424242424242424242", /* 20 */
        "",
        " ",
        "-",
        "6011111111111117",     /* Discover: Luhn fine, brand not taken */
        "30569309025904",       /* Diners Club */
        "6759649826438453",     /* Maestro */
        "0000000000000000",
        "\xEF\xBC\x94" "242424242424242", /* fullwidth 4 */
    };
    for (size_t i = 0; i < COUNT(refused); i++)
        expect_card_refused(refused[i], strlen(refused[i]));
    expect_card_refused(TEXT("4242424242424242\0"));
    expect_card_refused(TEXT("4242\0004242424242424242"));
    char digits[MOPAY_CARD_DIGITS_BYTES];
    enum mopay_card_brand brand;
    assert_int_equal(mopay_card_parse(NULL, 0, digits, &brand), MOPAY_ERR_card_number_invalid);

    /* Every single wrong digit fails Luhn. */
    char number[] = "4242424242424242";
    for (size_t i = 0; i < sizeof(number) - 1; i++) {
        char original = number[i];
        for (char d = '0'; d <= '9'; d++) {
            number[i] = d;
            if (d != original)
                expect_card_refused(number, sizeof(number) - 1);
        }
        number[i] = original;
    }
}

static void card_brand_boundaries(void **state)
{
    (void)state;
    const int none = -1;
    /* Mastercard 2221..2720 and 51..55, 16 digits only. */
    expect_range("2220", 16, none);
    expect_range("2221", 16, MOPAY_CARD_MASTERCARD);
    expect_range("2720", 16, MOPAY_CARD_MASTERCARD);
    expect_range("2721", 16, none);
    expect_range("50", 16, none);
    expect_range("51", 16, MOPAY_CARD_MASTERCARD);
    expect_range("55", 16, MOPAY_CARD_MASTERCARD);
    expect_range("56", 16, none);
    expect_range("51", 15, none);
    expect_range("51", 17, none);
    expect_range("2221", 19, none);
    /* JCB 3528..3589, 16 to 19. */
    expect_range("3527", 16, none);
    expect_range("3528", 16, MOPAY_CARD_JCB);
    expect_range("3589", 16, MOPAY_CARD_JCB);
    expect_range("3590", 16, none);
    expect_range("3528", 15, none);
    expect_range("3528", 19, MOPAY_CARD_JCB);
    /* American Express 34 and 37, 15 digits. */
    expect_range("33", 15, none);
    expect_range("34", 15, MOPAY_CARD_AMEX);
    expect_range("35", 15, none);
    expect_range("36", 15, none);
    expect_range("37", 15, MOPAY_CARD_AMEX);
    expect_range("38", 15, none);
    expect_range("34", 14, none);
    expect_range("37", 16, none);
    /* UnionPay 62, 16 to 19. */
    expect_range("61", 16, none);
    expect_range("63", 16, none);
    expect_range("62", 15, none);
    expect_range("62", 16, MOPAY_CARD_UNIONPAY);
    expect_range("62", 17, MOPAY_CARD_UNIONPAY);
    expect_range("62", 18, MOPAY_CARD_UNIONPAY);
    expect_range("62", 19, MOPAY_CARD_UNIONPAY);
    /* Visa 4, 13, 16 or 19. */
    expect_range("4", 12, none);
    expect_range("4", 13, MOPAY_CARD_VISA);
    expect_range("4", 14, none);
    expect_range("4", 15, none);
    expect_range("4", 16, MOPAY_CARD_VISA);
    expect_range("4", 17, none);
    expect_range("4", 18, none);
    expect_range("4", 19, MOPAY_CARD_VISA);
    expect_range("4", 20, none);
    expect_range("3", 16, none);
    expect_range("1", 16, none);
    expect_range("9", 16, none);
}

static void card_expiry(void **state)
{
    (void)state;
    static const struct {
        int64_t exp_year, exp_month;
        int now_year, now_month;
        enum mopay_err err;
    } cases[] = {
        /* Good through the end of the expiry month. */
        {2026, 6, 2026, 6, MOPAY_OK},
        {2026, 7, 2026, 6, MOPAY_OK},
        {2027, 1, 2026, 12, MOPAY_OK},
        {2099, 12, 2026, 6, MOPAY_OK},
        {2026, 5, 2026, 6, MOPAY_ERR_card_expired},
        {2025, 12, 2026, 1, MOPAY_ERR_card_expired},
        {2026, 1, 2026, 1, MOPAY_OK},
        {2026, 12, 2027, 1, MOPAY_ERR_card_expired},
        {2025, 7, 2026, 6, MOPAY_ERR_card_expired}, /* later month of an earlier year */
        {2000, 1, 2026, 6, MOPAY_ERR_card_expired},
        {2000, 1, 2000, 1, MOPAY_OK},
        /* Malformed, whatever the date; malformed is judged before expired. */
        {2026, 0, 2026, 6, MOPAY_ERR_field_invalid},
        {2026, 13, 2026, 6, MOPAY_ERR_field_invalid},
        {2026, -1, 2026, 6, MOPAY_ERR_field_invalid},
        {1999, 12, 2026, 6, MOPAY_ERR_field_invalid},
        {2100, 1, 2026, 6, MOPAY_ERR_field_invalid},
        {26, 6, 2026, 6, MOPAY_ERR_field_invalid}, /* two-digit year */
        {0, 0, 2026, 6, MOPAY_ERR_field_invalid},
        {INT64_MAX, 6, 2026, 6, MOPAY_ERR_field_invalid},
        {INT64_MIN, 6, 2026, 6, MOPAY_ERR_field_invalid},
        {2026, INT64_MAX, 2026, 6, MOPAY_ERR_field_invalid},
        {2026, INT64_MIN, 2026, 6, MOPAY_ERR_field_invalid},
        {INT64_MAX, INT64_MAX, 2026, 6, MOPAY_ERR_field_invalid},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        enum mopay_err err = mopay_card_expiry_check(cases[i].exp_year, cases[i].exp_month,
                                                     cases[i].now_year, cases[i].now_month);
        if (err != cases[i].err)
            fail_msg("case %zu: %s, should be %s", i, mopay_err_code(err), mopay_err_code(cases[i].err));
    }
}

/* ---- IBANs ---- */

/* One example per country of the SWIFT IBAN Registry, as the registry prints it. */
static const char *const iban_examples[] = {
    "AD1200012030200359100100", "AE070331234567890123456", "AL47212110090000000235698741",
    "AT611904300234573201", "AZ21NABZ00000000137010001944", "BA391290079401028494",
    "BE68539007547034", "BG80BNBG96611020345678", "BH67BMAG00001299123456",
    "BI4210000100010000332045181", "BR1800360305000010009795493C1", "BY13NBRB3600900000002Z00AB00",
    "CH9300762011623852957", "CR05015202001026284066", "CY17002001280000001200527600",
    "CZ6508000000192000145399", "DE89370400440532013000", "DJ2100010000000154000100186",
    "DK5000400440116243", "DO28BAGR00000001212453611324", "EE382200221020145685",
    "EG380019000500000000263180002", "ES9121000418450200051332", "FI2112345600000785",
    "FK88SC123456789012", "FO6264600001631634", "FR1420041010050500013M02606",
    "GB29NWBK60161331926819", "GE29NB0000000101904917", "GI75NWBK000000007099453",
    "GL8964710001000206", "GR1601101250000000012300695", "GT82TRAJ01020000001210029690",
    "HN88CABF00000000000250005469", "HR1210010051863000160", "HU42117730161111101800000000",
    "IE29AIBK93115212345678", "IL620108000000099999999", "IQ98NBIQ850123456789012",
    "IS140159260076545510730339", "IT60X0542811101000000123456", "JO94CBJO0010000000000131000302",
    "KW81CBKU0000000000001234560101", "KZ86125KZT5004100100", "LB62099900000001001901229114",
    "LC55HEMM000100010012001200023015", "LI21088100002324013AA", "LT121000011101001000",
    "LU280019400644750000", "LV80BANK0000435195001", "LY83002048000020100120361",
    "MC5811222000010123456789030", "MD24AG000225100013104168", "ME25505000012345678951",
    "MK07250120000058984", "MN121234123456789123", "MR1300020001010000123456753",
    "MT84MALT011000012345MTLCAST001S", "MU17BOMM0101101030300200000MUR",
    "NI45BAPR00000013000003558124", "NL91ABNA0417164300", "NO9386011117947",
    "OM810180000001299123456", "PK36SCBL0000001123456702", "PL61109010140000071219812874",
    "PS92PALS000000000400123456702", "PT50000201231234567890154", "QA58DOHB00001234567890ABCDEFG",
    "RO49AAAA1B31007593840000", "RS35260005601001611379", "RU0304452522540817810538091310419",
    "SA0380000000608010167519", "SC18SSCB11010000000000001497USD", "SD2129010501234001",
    "SE4550000000058398257466", "SI56263300012039086", "SK3112000000198742637541",
    "SM86U0322509800000000270100", "SO211000001001000100141", "ST23000100010051845310146",
    "SV62CENR00000000000000700025", "TL380080012345678910157", "TN5910006035183598478831",
    "TR330006100519786457841326", "UA213223130000026007233566001", "VA59001123000012345678",
    "VG96VPVG0000012345678901", "XK051212012345678906", "YE15CBYE0001018861234567891234",
};

/* ISO 7064 MOD 97-10 of `bban` + `country` + `check`, the other way from validate.c: letters
 * expanded into a digit string first, then reduced nine digits at a time (ISO 13616-1 Annex). */
static unsigned mod97_chunked(const char *bban, const char *country, const char *check)
{
    char digits[128];
    size_t n = 0;
    const char *parts[] = {bban, country, check};
    for (size_t p = 0; p < 3; p++)
        for (const char *c = parts[p]; *c; c++)
            n += (size_t)snprintf(digits + n, sizeof(digits) - n, "%d",
                                  *c >= 'A' ? *c - 'A' + 10 : *c - '0');
    uint64_t remainder = 0;
    for (size_t i = 0; i < n; i += 7) {
        size_t take = n - i < 7 ? n - i : 7;
        uint64_t chunk = 0, scale = 1;
        for (size_t k = 0; k < take; k++) {
            chunk = chunk * 10 + (uint64_t)(digits[i + k] - '0');
            scale *= 10;
        }
        remainder = (remainder * scale + chunk) % 97;
    }
    return (unsigned)remainder;
}

/* An IBAN of `country` with `bban` and the check digits that make it valid. */
static void iban_make(const char *country, const char *bban, char out[64])
{
    unsigned check = 98 - mod97_chunked(bban, country, "00");
    size_t n = strlen(bban);
    assert_true(n + 5 <= 64);
    out[0] = country[0];
    out[1] = country[1];
    out[2] = (char)('0' + check / 10);
    out[3] = (char)('0' + check % 10);
    memcpy(out + 4, bban, n + 1);
}

static void iban_registry_examples(void **state)
{
    (void)state;
    assert_int_equal(COUNT(iban_examples), 89);
    for (size_t i = 0; i < COUNT(iban_examples); i++) {
        const char *iban = iban_examples[i];
        char spaced[64], lower[64];
        size_t s = 0, len = strlen(iban);
        for (size_t k = 0; k < len; k++) {
            if (k > 0 && k % 4 == 0)
                spaced[s++] = ' ';
            spaced[s] = iban[k];
            lower[k] = (char)(iban[k] >= 'A' && iban[k] <= 'Z' ? iban[k] + 32 : iban[k]);
            s++;
        }
        spaced[s] = '\0';
        lower[len] = '\0';
        struct text_case cases[] = {{iban, len, iban}, {spaced, s, iban}, {lower, len, iban}};
        run_text_cases(mopay_iban_parse, MOPAY_IBAN_BYTES, MOPAY_ERR_iban_invalid, cases, COUNT(cases));
        /* The test's own arithmetic agrees that the example is right. */
        char country[3] = {iban[0], iban[1], '\0'}, check[3] = {iban[2], iban[3], '\0'};
        assert_int_equal(mod97_chunked(iban + 4, country, check), 1);
        /* Every IBAN country is an ISO 3166 country, but for Kosovo (see validate.c). */
        if (strcmp(country, "XK") != 0 && !mopay_country_valid(country, 2))
            fail_msg("%s is not an ISO 3166 code", country);
    }
}

/* Probes every pair of letters at every length with a well-formed IBAN: exactly the registry's
 * countries, each at exactly its example's length, are taken. So the table has no extra entry,
 * no wrong length, and is sorted for bsearch. */
static void iban_country_lengths(void **state)
{
    (void)state;
    size_t taken = 0;
    for (char a = 'A'; a <= 'Z'; a++)
        for (char b = 'A'; b <= 'Z'; b++) {
            char country[3] = {a, b, '\0'};
            const char *example = NULL;
            for (size_t i = 0; i < COUNT(iban_examples); i++)
                if (memcmp(iban_examples[i], country, 2) == 0)
                    example = iban_examples[i];
            for (size_t len = 5; len <= 34; len++) {
                char bban[64], iban[64], out[MOPAY_IBAN_BYTES];
                memset(bban, '7', len - 4);
                bban[len - 4] = '\0';
                iban_make(country, bban, iban);
                bool ok = mopay_iban_parse(iban, len, out) == MOPAY_OK;
                bool expected = example != NULL && strlen(example) == len;
                if (ok != expected)
                    fail_msg("%s of length %zu: %s", iban, len, ok ? "taken" : "refused");
                taken += ok;
            }
        }
    assert_int_equal(taken, 89);
}

static void iban_refuses(void **state)
{
    (void)state;
    static const struct text_case cases[] = {
        {TEXT("GB82WEST12345698765432"), "GB82WEST12345698765432"},
        {TEXT("  GB82 WEST 1234 5698 7654 32  "), "GB82WEST12345698765432"},
        {TEXT("gb82west12345698765432"), "GB82WEST12345698765432"},
        {TEXT("GB82WEST1234569876543 2"), "GB82WEST12345698765432"},
        {TEXT("GB82WEST12345698765433"), NULL},  /* one digit wrong */
        {TEXT("GB82WSET12345698765432"), NULL},  /* two letters swapped */
        {TEXT("GB28WEST12345698765432"), NULL},  /* check digits swapped */
        {TEXT("GB82WEST1234569876543"), NULL},   /* one short */
        {TEXT("GB82WEST123456987654321"), NULL}, /* one long */
        {TEXT("DE89370400440532013001"), NULL},
        {TEXT("FR1420041010050500013M02607"), NULL},
        {TEXT("US82WEST12345698765432"), NULL},  /* no IBAN in the US */
        {TEXT("ZZ82WEST12345698765432"), NULL},
        {TEXT("UK82WEST12345698765432"), NULL},
        {TEXT("1B82WEST12345698765432"), NULL},
        {TEXT("GBA2WEST12345698765432"), NULL},  /* letter in the check digits */
        {TEXT("GB82-WEST-1234-5698-7654-32"), NULL},
        {TEXT("GB82WEST1234.5698765432"), NULL},
        {TEXT("GB82\tWEST12345698765432"), NULL},
        {TEXT("GB82WEST12345698765432\0"), NULL},
        {TEXT("GB82WEST12345698765432\n"), NULL},
        {TEXT("GB82WEST1234569876543\xC3\xA9"), NULL},
        {TEXT("GB82"), NULL},
        {TEXT("GB"), NULL},
        {TEXT(""), NULL},
        {TEXT("    "), NULL},
        {TEXT("LC55HEMM000100010012001200023015X"), NULL},      /* 33 for LC's 32 */
        {TEXT("LC55HEMM000100010012001200023015XXX"), NULL},    /* 35 */
    };
    run_text_cases(mopay_iban_parse, MOPAY_IBAN_BYTES, MOPAY_ERR_iban_invalid, cases, COUNT(cases));
}

/* Check digits 00, 01 and 99 are never computed, but they pass mod-97 whenever 97, 98 or 02
 * would: find such BBANs and show only the computed ones are taken. */
static void iban_refuses_uncomputable_check_digits(void **state)
{
    (void)state;
    static const struct {
        unsigned computed;
        const char *alias;
    } pairs[] = {{97, "00"}, {98, "01"}, {2, "99"}};
    for (size_t p = 0; p < COUNT(pairs); p++) {
        char bban[32], iban[64], out[MOPAY_IBAN_BYTES];
        unsigned account = 0;
        do {
            assert_true(account < 100000);
            snprintf(bban, sizeof(bban), "NWBK601613%08u", account++);
            iban_make("GB", bban, iban);
        } while (98 - mod97_chunked(bban, "GB", "00") != pairs[p].computed);
        assert_int_equal(mopay_iban_parse(iban, strlen(iban), out), MOPAY_OK);
        iban[2] = pairs[p].alias[0];
        iban[3] = pairs[p].alias[1];
        assert_int_equal(mod97_chunked(bban, "GB", pairs[p].alias), 1);
        assert_int_equal(mopay_iban_parse(iban, strlen(iban), out), MOPAY_ERR_iban_invalid);
    }
}

/* ---- bank accounts ---- */

static void bank_account_cases(void **state)
{
    (void)state;
    static const struct {
        const char *account;
        const char *code;
        const char *account_canonical; /* NULL when refused */
        const char *code_canonical;
    } cases[] = {
        {"000123456789", "021000021", "000123456789", "021000021"}, /* US account, ABA routing */
        {"31926819", "60-16-13", "31926819", "601613"},             /* UK account, sort code */
        {"0532 0130 00", "DEUTDEFF", "0532013000", "DEUTDEFF"},
        {"12-3456-7", "deutdeff500", "1234567", "DEUTDEFF500"},
        {"1234", "ABC", "1234", "ABC"},                             /* shortest */
        {"1234567890123456789012345678901234", "ABCDEFGH123", "1234567890123456789012345678901234",
         "ABCDEFGH123"},                                            /* longest */
        {"123", "DEUTDEFF", NULL, NULL},
        {"12345678901234567890123456789012345", "DEUTDEFF", NULL, NULL},
        {"1234567A", "DEUTDEFF", NULL, NULL},
        {"1234 ", "DEUTDEFF", NULL, NULL},
        {" 1234", "DEUTDEFF", NULL, NULL},
        {"12  34", "DEUTDEFF", NULL, NULL},
        {"12--34", "DEUTDEFF", NULL, NULL},
        {"12.34.56", "DEUTDEFF", NULL, NULL},
        {"", "DEUTDEFF", NULL, NULL},
        {"12345678", "AB", NULL, NULL},
        {"12345678", "ABCDEFGH1234", NULL, NULL},
        {"12345678", "", NULL, NULL},
        {"12345678", "DEUT/DEFF", NULL, NULL},
        {"12345678", "DEUT.DEFF", NULL, NULL},
        {"12345678", "-DEUTDEFF", NULL, NULL},
        {"12345678", "60-16-13-", NULL, NULL},
        {"12345678", "D\xC3\x9C\x54", NULL, NULL},
        {"12345678", "@[`{", NULL, NULL}, /* neighbours of the letters */
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        size_t alen = strlen(cases[i].account), clen = strlen(cases[i].code);
        char *account = exact_copy(cases[i].account, alen);
        char *code = exact_copy(cases[i].code, clen);
        char account_out[MOPAY_BANK_ACCOUNT_BYTES], code_out[MOPAY_BANK_CODE_BYTES];
        memset(account_out, UNTOUCHED, sizeof(account_out));
        memset(code_out, UNTOUCHED, sizeof(code_out));
        enum mopay_err err = mopay_bank_account_parse(account, alen, code, clen, account_out, code_out);
        free(account);
        free(code);
        if (cases[i].account_canonical == NULL) {
            if (err != MOPAY_ERR_bank_account_invalid || !untouched(account_out, sizeof(account_out)) ||
                !untouched(code_out, sizeof(code_out)))
                fail_msg("case %zu \"%s\" \"%s\" should be refused", i, cases[i].account, cases[i].code);
            continue;
        }
        if (err != MOPAY_OK)
            fail_msg("case %zu \"%s\" \"%s\": %s", i, cases[i].account, cases[i].code,
                     mopay_err_code(err));
        assert_string_equal(account_out, cases[i].account_canonical);
        assert_string_equal(code_out, cases[i].code_canonical);
    }
    char a[MOPAY_BANK_ACCOUNT_BYTES], c[MOPAY_BANK_CODE_BYTES];
    assert_int_equal(mopay_bank_account_parse(NULL, 0, NULL, 0, a, c), MOPAY_ERR_bank_account_invalid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(phone_accepts_typed_forms),
        cmocka_unit_test(phone_refuses),
        cmocka_unit_test(country_assigned_codes),
        cmocka_unit_test(country_is_exact),
        cmocka_unit_test(pin_six_digits),
        cmocka_unit_test(card_brand_names),
        cmocka_unit_test(card_accepts_test_numbers),
        cmocka_unit_test(card_refuses_malformed),
        cmocka_unit_test(card_brand_boundaries),
        cmocka_unit_test(card_expiry),
        cmocka_unit_test(iban_registry_examples),
        cmocka_unit_test(iban_country_lengths),
        cmocka_unit_test(iban_refuses),
        cmocka_unit_test(iban_refuses_uncomputable_check_digits),
        cmocka_unit_test(bank_account_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
