#ifndef MOPAY_VALIDATE_H
#define MOPAY_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mopay/err.h"

/* Checks of the identifiers customers type: phone numbers, countries, PINs, cards, IBANs and
 * bank accounts. Pure functions: no I/O, no allocation, no clock (the caller passes the date).
 *
 * Every function reads exactly `len` bytes of its input, which need not be NUL-terminated; a NUL
 * or any other byte inside it is just an invalid character. The parsers write a canonical,
 * NUL-terminated form that parses back to itself, so that it can be stored, compared and
 * deduplicated as it is. On failure they leave every out parameter untouched. */

/* '+', up to 15 digits (E.164's maximum), NUL. */
#define MOPAY_PHONE_BYTES 17

/* An E.164 number: '+', then 8 to 15 digits of which the first is 1-9. Spaces, dashes, dots and
 * one pair of parentheses around at least one digit may appear after the '+', as people type
 * them ("+86 138-0013-8000", "+1 (415) 555.2671"); they are dropped from `out`
 * ("+8613800138000"). "(0)" is refused rather than stripped: in "+44 (0)20 ..." it marks a
 * national trunk prefix that is not part of the E.164 number, and keeping its digit would make
 * a different, valid-looking number. Anything else is phone_invalid. */
enum mopay_err mopay_phone_parse(const char *s, size_t len, char out[MOPAY_PHONE_BYTES]);

/* True when `s` is exactly two uppercase letters that ISO 3166-1 assigns to a country
 * ("CN", "GB"). Reserved and user-assigned codes ("UK", "EU", "XK") are not countries here. */
bool mopay_country_valid(const char *s, size_t len);

/* OK when `s` is exactly six ASCII digits, pin_format_invalid otherwise. */
enum mopay_err mopay_pin_check(const char *s, size_t len);

enum mopay_card_brand {
    MOPAY_CARD_VISA,
    MOPAY_CARD_MASTERCARD,
    MOPAY_CARD_AMEX,
    MOPAY_CARD_UNIONPAY,
    MOPAY_CARD_JCB,
};

/* "visa", "mastercard", "amex", "unionpay", "jcb": the names the API sends and stores. */
const char *mopay_card_brand_name(enum mopay_card_brand brand);

/* The Luhn (ISO/IEC 7812-1) check over `n` ASCII digits; false when any byte is not a digit. */
bool mopay_luhn_valid(const char *digits, size_t n);

/* Up to 19 digits (ISO/IEC 7812's longest PAN), NUL. */
#define MOPAY_CARD_DIGITS_BYTES 20

/* A card number of 12 to 19 digits, in groups that single spaces or dashes may separate
 * ("4242 4242 4242 4242", "3782-822463-10005"), whose Luhn check digit is right and whose
 * prefix and length belong to a brand mopay takes:
 *   American Express  34, 37                 15 digits
 *   UnionPay          62                     16 to 19
 *   JCB               3528 to 3589           16 to 19
 *   Visa              4                      13, 16 or 19
 *   Mastercard        51 to 55, 2221 to 2720 16
 * Anything else is card_number_invalid. `digits_out` gets the bare digits; its last four are
 * what may be shown to people, and the whole is a secret (PCI DSS) the caller must not log. */
enum mopay_err mopay_card_parse(const char *s, size_t len, char digits_out[MOPAY_CARD_DIGITS_BYTES],
                                enum mopay_card_brand *brand_out);

/* A card is good through the last day of its expiry month. field_invalid when the month is not
 * 1..12 or the year not 2000..2099 (two-digit years are refused, not guessed); card_expired when
 * the expiry month is before (now_year, now_month), which the caller reads from its clock. Both
 * pairs are (year, month), the order they compare in. */
enum mopay_err mopay_card_expiry_check(int64_t exp_year, int64_t exp_month, int now_year,
                                       int now_month);

/* Up to 34 characters (ISO 13616's longest IBAN), NUL. */
#define MOPAY_IBAN_BYTES 35

/* An IBAN in electronic or print format: spaces are dropped and lowercase letters uppercased.
 * What is left must be a country of the SWIFT IBAN registry, two check digits 02..98, and
 * letters or digits making up exactly that country's IBAN length, with the ISO 7064 mod-97
 * remainder 1. `out` gets the electronic format ("GB82WEST12345698765432"). Anything else is
 * iban_invalid. */
enum mopay_err mopay_iban_parse(const char *s, size_t len, char out[MOPAY_IBAN_BYTES]);

/* Account numbers of up to 34 digits (the longest BBAN), bank codes of up to 11 characters (a
 * BIC with branch), each with its NUL. */
#define MOPAY_BANK_ACCOUNT_BYTES 35
#define MOPAY_BANK_CODE_BYTES 12

/* A domestic bank account: an account number of 4 to 34 digits and a bank code of 3 to 11
 * letters or digits, which covers US routing numbers, UK sort codes and BICs. Single spaces or
 * dashes may separate groups in either ("12-34-56"); they are dropped from the outs, and the
 * code's letters are uppercased ("deutdeff" is "DEUTDEFF"). Only the form is checked: no
 * registry says which numbers a bank has given out. bank_account_invalid otherwise. */
enum mopay_err mopay_bank_account_parse(const char *account, size_t account_len,
                                        const char *bank_code, size_t code_len,
                                        char account_out[MOPAY_BANK_ACCOUNT_BYTES],
                                        char code_out[MOPAY_BANK_CODE_BYTES]);

#endif
