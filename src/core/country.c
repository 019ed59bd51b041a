/* ISO 3166-1 alpha-2 country codes.
 *
 * Source: the ISO 3166 Maintenance Agency's list of officially assigned alpha-2 codes (ISO 3166
 * Online Browsing Platform), 249 codes; the last changes were SS for South Sudan (2011) and BQ,
 * CW, SX replacing AN (2010). Cross-checked code for code against Debian's iso-codes 4.15.0
 * (iso_3166-1.json) and tzdata's iso3166.tab.
 *
 * Only officially assigned codes are here. Exceptionally reserved codes (UK, EU, UN, AC, IC, ...),
 * transitionally reserved ones of former countries (AN, CS, YU, ...) and the user-assigned
 * ranges (AA, QM-QZ, XA-XZ, ZZ) are refused: they name no country a customer lives in, or none
 * that all parties agree on. That includes XK, which some use for Kosovo.
 *
 * The table is sorted so that bsearch can find a code; the unit test finds each of the 249
 * through mopay_country_valid, which a missorted table would fail. */
#include "mopay/validate.h"

#include <stdlib.h>
#include <string.h>

#include "mopay/assert.h"

static const char country_codes[][3] = {
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ",
    "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN", "CO", "CR", "CU", "CV", "CW",
    "CX", "CY", "CZ",
    "DE", "DJ", "DK", "DM", "DO", "DZ",
    "EC", "EE", "EG", "EH", "ER", "ES", "ET",
    "FI", "FJ", "FK", "FM", "FO", "FR",
    "GA", "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT",
    "GU", "GW", "GY",
    "HK", "HM", "HN", "HR", "HT", "HU",
    "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT",
    "JE", "JM", "JO", "JP",
    "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ",
    "LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY",
    "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK", "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS",
    "MT", "MU", "MV", "MW", "MX", "MY", "MZ",
    "NA", "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ",
    "OM",
    "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY",
    "QA",
    "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ",
    "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO", "TR", "TT", "TV", "TW", "TZ",
    "UA", "UG", "UM", "US", "UY", "UZ",
    "VA", "VC", "VE", "VG", "VI", "VN", "VU",
    "WF", "WS",
    "YE", "YT",
    "ZA", "ZM", "ZW",
};

#define COUNTRY_COUNT (sizeof(country_codes) / sizeof(country_codes[0]))
_Static_assert(COUNTRY_COUNT == 249, "ISO 3166-1 assigns 249 alpha-2 codes");

static int country_compare(const void *key, const void *entry)
{
    return memcmp(key, entry, 2);
}

bool mopay_country_valid(const char *s, size_t len)
{
    MOPAY_ASSERT(s != NULL || len == 0);
    /* Exactly two bytes compared as bytes: "cn", "CN " and "C" are not codes, and nothing past
     * `len` is read. */
    if (len != 2)
        return false;
    return bsearch(s, country_codes, COUNTRY_COUNT, sizeof(country_codes[0]), country_compare) != NULL;
}
