/* Tourist tax-refund rules: each default country's published figures, the VAT arithmetic at its
 * boundaries (checked against exact rationals), instant-refund caps per purchase and per trip,
 * residents, and the override parser's acceptances and refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mopay/taxrules.h"
#include "mopay/validate.h"

#define TEXT(literal) literal, sizeof(literal) - 1
#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* A traveller from a country none of the defaults counts as a resident. */
#define VISITOR "US"

static const struct mopay_taxrule *default_rule(struct mopay_taxrules *table, const char *country)
{
    mopay_taxrules_defaults(table);
    const struct mopay_taxrule *rule = mopay_taxrules_find(table, country);
    assert_non_null(rule);
    return rule;
}

/* A rule that is not a default, for arithmetic at rates and shares the defaults do not have. */
static struct mopay_taxrule custom_rule(int32_t vat_rate_bps, int32_t refund_share_bps)
{
    struct mopay_taxrule r = {"KR", "KRW", vat_rate_bps, 1, 1000000, 5000000, 90, refund_share_bps};
    return r;
}

/* A heap copy of exactly `len` bytes and no NUL, so ASan sees any read past `len`. */
static char *exact_copy(const char *s, size_t len)
{
    char *copy = malloc(len > 0 ? len : 1);
    assert_non_null(copy);
    if (len > 0)
        memcpy(copy, s, len);
    return copy;
}

static enum mopay_err parse_exact(const char *text, size_t len, struct mopay_taxrules *table, char *err,
                                  size_t err_cap)
{
    char *copy = exact_copy(text, len);
    enum mopay_err e = mopay_taxrules_parse(copy, len, table, err, err_cap);
    free(copy);
    return e;
}

/* Field by field: struct copies need not copy padding, so memcmp only proves a table untouched. */
static void assert_tables_equal(const struct mopay_taxrules *a, const struct mopay_taxrules *b)
{
    assert_int_equal(a->count, b->count);
    for (size_t i = 0; i < a->count; i++) {
        const struct mopay_taxrule *x = &a->rules[i], *y = &b->rules[i];
        assert_string_equal(x->country, y->country);
        assert_string_equal(x->currency, y->currency);
        assert_int_equal(x->vat_rate_bps, y->vat_rate_bps);
        assert_int_equal(x->min_purchase_minor, y->min_purchase_minor);
        assert_int_equal(x->instant_cap_purchase_minor, y->instant_cap_purchase_minor);
        assert_int_equal(x->instant_cap_trip_minor, y->instant_cap_trip_minor);
        assert_int_equal(x->validation_days, y->validation_days);
        assert_int_equal(x->refund_share_bps, y->refund_share_bps);
    }
}

/* ---- the defaults ---- */

static void defaults_published_figures(void **state)
{
    (void)state;
    /* The figures countries.c cites, restated here so that an edit there has to be made twice. */
    static const struct mopay_taxrule expected[] = {
        {"KR", "KRW", 1000, 15000, 999999, 4999999, 90, 10000},
        {"FR", "EUR", 2000, 10001, 0, 0, 90, 10000},
        {"JP", "JPY", 1000, 5500, 0, 0, 90, 10000},
        {"SG", "SGD", 900, 10000, 0, 0, 60, 10000},
        {"TH", "THB", 700, 200000, 0, 0, 59, 10000},
        {"DE", "EUR", 1900, 5001, 0, 0, 90, 10000},
        {"ES", "EUR", 2100, 1, 0, 0, 90, 10000},
        {"IT", "EUR", 2200, 7001, 0, 0, 90, 10000},
    };
    struct mopay_taxrules table;
    mopay_taxrules_defaults(&table);
    assert_int_equal(table.count, COUNT(expected));
    for (size_t i = 0; i < COUNT(expected); i++) {
        const struct mopay_taxrule *want = &expected[i];
        const struct mopay_taxrule *got = mopay_taxrules_find(&table, want->country);
        assert_non_null(got);
        assert_string_equal(got->currency, want->currency);
        assert_int_equal(got->vat_rate_bps, want->vat_rate_bps);
        assert_int_equal(got->min_purchase_minor, want->min_purchase_minor);
        assert_int_equal(got->instant_cap_purchase_minor, want->instant_cap_purchase_minor);
        assert_int_equal(got->instant_cap_trip_minor, want->instant_cap_trip_minor);
        assert_int_equal(got->validation_days, want->validation_days);
        assert_int_equal(got->refund_share_bps, want->refund_share_bps);
    }
}

/* Every default, written out as an override, passes the parser's checks and changes nothing. */
static void defaults_pass_the_parser(void **state)
{
    (void)state;
    struct mopay_taxrules table, reparsed;
    mopay_taxrules_defaults(&table);
    mopay_taxrules_defaults(&reparsed);
    char text[MOPAY_TAXRULES_TEXT_BYTES_MAX];
    size_t n = 0;
    for (size_t i = 0; i < table.count; i++) {
        const struct mopay_taxrule *r = &table.rules[i];
        int w = snprintf(text + n, sizeof(text) - n, "%s%s:%s:%d:%lld:%lld:%lld:%d:%d", i > 0 ? ";" : "",
                         r->country, r->currency, r->vat_rate_bps, (long long)r->min_purchase_minor,
                         (long long)r->instant_cap_purchase_minor, (long long)r->instant_cap_trip_minor,
                         r->validation_days, r->refund_share_bps);
        assert_true(w > 0 && (size_t)w < sizeof(text) - n);
        n += (size_t)w;
    }
    char err[256];
    assert_int_equal(parse_exact(text, n, &reparsed, err, sizeof(err)), MOPAY_OK);
    assert_tables_equal(&reparsed, &table);
}

static void defaults_minimum_boundaries(void **state)
{
    (void)state;
    struct mopay_taxrules table;
    mopay_taxrules_defaults(&table);
    for (size_t i = 0; i < table.count; i++) {
        const struct mopay_taxrule *r = &table.rules[i];
        assert_int_equal(mopay_taxrules_eligible(r, r->min_purchase_minor, VISITOR, r->country), MOPAY_OK);
        assert_int_equal(mopay_taxrules_eligible(r, r->min_purchase_minor - 1, VISITOR, r->country),
                         MOPAY_ERR_tax_free_below_minimum);
    }
}

static void france_minimum_is_100_01(void **state)
{
    (void)state;
    struct mopay_taxrules table;
    const struct mopay_taxrule *fr = default_rule(&table, "FR");
    assert_int_equal(mopay_taxrules_eligible(fr, 10001, VISITOR, "FR"), MOPAY_OK);
    assert_int_equal(mopay_taxrules_eligible(fr, 10000, VISITOR, "FR"), MOPAY_ERR_tax_free_below_minimum);
    /* The VAT in EUR 100.01 at 20 % is 16.668..., rounded down; and no credit before customs. */
    assert_int_equal(mopay_taxrules_vat_included(fr, 10001), 1666);
    int64_t refund = -1;
    assert_int_equal(mopay_taxrules_instant_refund(fr, 10001, 1666, 0, &refund), MOPAY_OK);
    assert_int_equal(refund, 0);
}

static void other_published_minimums(void **state)
{
    (void)state;
    struct mopay_taxrules table;
    static const struct {
        const char *country;
        int64_t qualifies, short_by_one;
    } cases[] = {
        {"KR", 15000, 14999},   /* KRW 15,000 */
        {"JP", 5500, 5499},     /* JPY 5,000 before the 10 % tax */
        {"SG", 10000, 9999},    /* SGD 100.00 */
        {"TH", 200000, 199999}, /* THB 2,000.00 */
        {"DE", 5001, 5000},     /* EUR 50.01 */
        {"IT", 7001, 7000},     /* EUR 70.01 */
        {"ES", 1, 0},           /* no minimum: any purchase */
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        const struct mopay_taxrule *r = default_rule(&table, cases[i].country);
        assert_int_equal(mopay_taxrules_eligible(r, cases[i].qualifies, VISITOR, r->country), MOPAY_OK);
        assert_int_equal(mopay_taxrules_eligible(r, cases[i].short_by_one, VISITOR, r->country),
                         MOPAY_ERR_tax_free_below_minimum);
    }
}

/* ---- Korea's instant refund: caps on purchases, per purchase and per trip ---- */

static void korea_cap_per_purchase(void **state)
{
    (void)state;
    struct mopay_taxrules table;
    const struct mopay_taxrule *kr = default_rule(&table, "KR");
    int64_t refund = -1;
    /* Under KRW 1,000,000: all of the VAT, 999,999 / 11 = 90,909. */
    assert_int_equal(mopay_taxrules_vat_included(kr, 999999), 90909);
    assert_int_equal(mopay_taxrules_instant_refund(kr, 999999, 90909, 0, &refund), MOPAY_OK);
    assert_int_equal(refund, 90909);
    /* KRW 1,000,000 is not under it: nothing at once, the whole refund waits for customs. */
    assert_int_equal(mopay_taxrules_instant_refund(kr, 1000000, 90909, 0, &refund), MOPAY_OK);
    assert_int_equal(refund, 0);
    assert_int_equal(mopay_taxrules_eligible(kr, 1000000, VISITOR, "KR"), MOPAY_OK);
}

static void korea_cap_per_trip(void **state)
{
    (void)state;
    struct mopay_taxrules table;
    const struct mopay_taxrule *kr = default_rule(&table, "KR");
    int64_t trip = 0;
    int64_t refunded = 0;
    int instant = 0;
    /* Purchases of KRW 999,999 until the trip's KRW 5,000,000 (exclusive) runs out: five fit. */
    for (int i = 0; i < 10; i++) {
        int64_t refund = -1;
        int64_t vat = mopay_taxrules_vat_included(kr, 999999);
        assert_int_equal(mopay_taxrules_instant_refund(kr, 999999, vat, trip, &refund), MOPAY_OK);
        if (refund > 0) {
            trip += 999999;
            refunded += refund;
            instant++;
        }
    }
    assert_int_equal(instant, 5);
    assert_int_equal(trip, 4999995);
    assert_int_equal(refunded, 5 * 90909);
    int64_t refund = -1;
    /* 4 won more would fit (4,999,999), 15,000 does not. */
    assert_int_equal(mopay_taxrules_instant_refund(kr, 15000, 1363, trip, &refund), MOPAY_OK);
    assert_int_equal(refund, 0);
    /* A trip that reached its cap gets 0 afterwards, and one above it (the cap was lowered)
     * gets 0 too, never a negative refund. */
    assert_int_equal(mopay_taxrules_instant_refund(kr, 15000, 1363, 4999999, &refund), MOPAY_OK);
    assert_int_equal(refund, 0);
    assert_int_equal(mopay_taxrules_instant_refund(kr, 15000, 1363, INT64_MAX, &refund), MOPAY_OK);
    assert_int_equal(refund, 0);
    /* The last purchase that fits exactly. */
    assert_int_equal(mopay_taxrules_instant_refund(kr, 15000, 1363, 4999999 - 15000, &refund), MOPAY_OK);
    assert_int_equal(refund, 1363);
}

static void instant_refund_share_and_rounding(void **state)
{
    (void)state;
    struct mopay_taxrule r = custom_rule(1000, 7200);
    int64_t refund = -1;
    /* 72 % of 90,909 is 65,454.48: rounded down. */
    assert_int_equal(mopay_taxrules_instant_refund(&r, 999999, 90909, 0, &refund), MOPAY_OK);
    assert_int_equal(refund, 65454);
    assert_int_equal(mopay_taxrules_instant_refund(&r, 999999, 1, 0, &refund), MOPAY_OK);
    assert_int_equal(refund, 0);
    /* An invoice claiming more VAT than 10 % puts inside the price counts as that VAT. */
    assert_int_equal(mopay_taxrules_instant_refund(&r, 11000, 5000, 0, &refund), MOPAY_OK);
    assert_int_equal(refund, 720);
    assert_int_equal(mopay_taxrules_instant_refund(&r, 11000, 999999, 0, &refund), MOPAY_OK);
    assert_int_equal(refund, 720);
    /* Nothing bought, nothing refunded. */
    assert_int_equal(mopay_taxrules_instant_refund(&r, 0, 0, 0, &refund), MOPAY_OK);
    assert_int_equal(refund, 0);
    /* Negative amounts are refused and leave the out parameter alone. */
    refund = 42;
    assert_int_equal(mopay_taxrules_instant_refund(&r, -1, 0, 0, &refund), MOPAY_ERR_amount_negative);
    assert_int_equal(mopay_taxrules_instant_refund(&r, 100, -1, 0, &refund), MOPAY_ERR_amount_negative);
    assert_int_equal(mopay_taxrules_instant_refund(&r, 100, 1, -1, &refund), MOPAY_ERR_amount_negative);
    assert_int_equal(refund, 42);
    /* Share 100 % at the extremes of int64 does not overflow. */
    struct mopay_taxrule all = {"KR", "KRW", 10000, 1, INT64_MAX, INT64_MAX, 90, 10000};
    assert_int_equal(mopay_taxrules_instant_refund(&all, INT64_MAX, INT64_MAX, 0, &refund), MOPAY_OK);
    assert_int_equal(refund, INT64_MAX / 2);
}

/* ---- the VAT inside a VAT-inclusive price ---- */

/* v is floor(gross * rate / (10000 + rate)) exactly when v * d <= gross * rate < (v + 1) * d. */
static void assert_vat_exact(const struct mopay_taxrule *r, int64_t gross)
{
    int64_t v = mopay_taxrules_vat_included(r, gross);
    __int128 num = (__int128)gross * r->vat_rate_bps;
    __int128 den = MOPAY_TAXRULES_BPS_ONE + r->vat_rate_bps;
    if (!((__int128)v * den <= num && num < ((__int128)v + 1) * den))
        fail_msg("rate %d gross %lld: vat %lld is not the floor", r->vat_rate_bps, (long long)gross,
                 (long long)v);
}

static void vat_included_exact(void **state)
{
    (void)state;
    static const int32_t rates[] = {1, 700, 900, 1000, 1900, 2000, 2100, 2200, 9999, 10000};
    for (size_t i = 0; i < COUNT(rates); i++) {
        struct mopay_taxrule r = custom_rule(rates[i], 10000);
        int64_t den = MOPAY_TAXRULES_BPS_ONE + rates[i];
        for (int64_t g = 0; g < 3 * den; g += (g < 2 * den ? 1 : 97))
            assert_vat_exact(&r, g);
        /* Around multiples of the denominator, where the floor steps. */
        for (int64_t k = 1; k < 1000000000000LL; k *= 7) {
            assert_vat_exact(&r, k * den - 1);
            assert_vat_exact(&r, k * den);
            assert_vat_exact(&r, k * den + 1);
        }
        assert_vat_exact(&r, INT64_MAX);
        assert_vat_exact(&r, INT64_MAX - 1);
    }
}

static void vat_included_known_values(void **state)
{
    (void)state;
    struct mopay_taxrules table;
    assert_int_equal(mopay_taxrules_vat_included(default_rule(&table, "KR"), 11000), 1000);
    assert_int_equal(mopay_taxrules_vat_included(default_rule(&table, "KR"), 10999), 999);
    assert_int_equal(mopay_taxrules_vat_included(default_rule(&table, "FR"), 12000), 2000);
    assert_int_equal(mopay_taxrules_vat_included(default_rule(&table, "FR"), 11999), 1999);
    assert_int_equal(mopay_taxrules_vat_included(default_rule(&table, "SG"), 10900), 900);
    assert_int_equal(mopay_taxrules_vat_included(default_rule(&table, "TH"), 200000), 13084);
    assert_int_equal(mopay_taxrules_vat_included(default_rule(&table, "JP"), 5500), 500);
    assert_int_equal(mopay_taxrules_vat_included(default_rule(&table, "KR"), 0), 0);
    assert_int_equal(mopay_taxrules_vat_included(default_rule(&table, "KR"), 10), 0);
    assert_int_equal(mopay_taxrules_vat_included(default_rule(&table, "KR"), 11), 1);
}

/* ---- who qualifies ---- */

static void residents_not_eligible(void **state)
{
    (void)state;
    struct mopay_taxrules table;
    static const struct {
        const char *rule, *buyer;
        enum mopay_err want;
    } cases[] = {
        {"KR", "KR", MOPAY_ERR_tax_free_resident}, {"KR", "JP", MOPAY_OK},
        {"JP", "JP", MOPAY_ERR_tax_free_resident}, {"JP", "CN", MOPAY_OK},
        {"SG", "SG", MOPAY_ERR_tax_free_resident}, {"TH", "TH", MOPAY_ERR_tax_free_resident},
        /* In the EU, residence anywhere in its VAT area counts, Monaco's included. */
        {"FR", "FR", MOPAY_ERR_tax_free_resident}, {"FR", "DE", MOPAY_ERR_tax_free_resident},
        {"FR", "MC", MOPAY_ERR_tax_free_resident}, {"DE", "GR", MOPAY_ERR_tax_free_resident},
        {"IT", "BG", MOPAY_ERR_tax_free_resident}, {"ES", "IE", MOPAY_ERR_tax_free_resident},
        {"DE", "CH", MOPAY_OK},                    {"FR", "GB", MOPAY_OK},
        {"IT", "NO", MOPAY_OK},                    {"ES", "US", MOPAY_OK},
        /* France alone refuses its overseas departments. */
        {"FR", "RE", MOPAY_ERR_tax_free_resident}, {"FR", "GP", MOPAY_ERR_tax_free_resident},
        {"ES", "RE", MOPAY_OK},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        const struct mopay_taxrule *r = default_rule(&table, cases[i].rule);
        enum mopay_err got = mopay_taxrules_eligible(r, 10000000, cases[i].buyer, r->country);
        if (got != cases[i].want)
            fail_msg("%s buying in %s: %s", cases[i].buyer, cases[i].rule, mopay_err_code(got));
        assert_int_equal(mopay_taxrules_resident(r, cases[i].buyer), cases[i].want != MOPAY_OK);
    }
}

static void eligible_refusal_order(void **state)
{
    (void)state;
    struct mopay_taxrules table;
    const struct mopay_taxrule *kr = default_rule(&table, "KR");
    assert_int_equal(mopay_taxrules_eligible(kr, 20000, "XX", "KR"), MOPAY_ERR_country_unknown);
    assert_int_equal(mopay_taxrules_eligible(kr, 20000, "us", "KR"), MOPAY_ERR_country_unknown);
    assert_int_equal(mopay_taxrules_eligible(kr, 20000, "USA", "KR"), MOPAY_ERR_country_unknown);
    assert_int_equal(mopay_taxrules_eligible(kr, 20000, "", "KR"), MOPAY_ERR_country_unknown);
    assert_int_equal(mopay_taxrules_eligible(kr, 20000, VISITOR, "KOR"), MOPAY_ERR_country_unknown);
    assert_int_equal(mopay_taxrules_eligible(kr, 20000, VISITOR, "JP"),
                     MOPAY_ERR_tax_free_country_unsupported);
    /* Unknown countries come before a mismatch, a mismatch before the amount, and the amount's
     * sign before residence and the minimum. */
    assert_int_equal(mopay_taxrules_eligible(kr, -1, "XX", "JP"), MOPAY_ERR_country_unknown);
    assert_int_equal(mopay_taxrules_eligible(kr, -1, "KR", "JP"), MOPAY_ERR_tax_free_country_unsupported);
    assert_int_equal(mopay_taxrules_eligible(kr, -1, "KR", "KR"), MOPAY_ERR_amount_negative);
    assert_int_equal(mopay_taxrules_eligible(kr, 1, "KR", "KR"), MOPAY_ERR_tax_free_resident);
    assert_int_equal(mopay_taxrules_eligible(kr, 1, VISITOR, "KR"), MOPAY_ERR_tax_free_below_minimum);
    assert_int_equal(mopay_taxrules_eligible(kr, INT64_MAX, VISITOR, "KR"), MOPAY_OK);
}

static void find_exact_codes(void **state)
{
    (void)state;
    struct mopay_taxrules table;
    mopay_taxrules_defaults(&table);
    assert_non_null(mopay_taxrules_find(&table, "KR"));
    assert_string_equal(mopay_taxrules_find(&table, "KR")->country, "KR");
    assert_null(mopay_taxrules_find(&table, "kr"));
    assert_null(mopay_taxrules_find(&table, "K"));
    assert_null(mopay_taxrules_find(&table, "KRW"));
    assert_null(mopay_taxrules_find(&table, ""));
    assert_null(mopay_taxrules_find(&table, "US"));
}

static void deadlines(void **state)
{
    (void)state;
    struct mopay_taxrules table;
    const int64_t purchase_ns = 1795000000LL * 1000000000LL; /* November 2026 */
    assert_int_equal(mopay_taxrules_deadline_ns(default_rule(&table, "KR"), purchase_ns),
                     purchase_ns + 90 * MOPAY_TAXRULES_DAY_NS);
    assert_int_equal(mopay_taxrules_deadline_ns(default_rule(&table, "SG"), purchase_ns),
                     purchase_ns + 60 * MOPAY_TAXRULES_DAY_NS);
    /* Thailand counts the purchase day as the first of its 60. */
    assert_int_equal(mopay_taxrules_deadline_ns(default_rule(&table, "TH"), purchase_ns),
                     purchase_ns + 59 * MOPAY_TAXRULES_DAY_NS);
    assert_int_equal(mopay_taxrules_deadline_ns(default_rule(&table, "FR"), 0), 90 * MOPAY_TAXRULES_DAY_NS);
    assert_int_equal(mopay_taxrules_deadline_ns(default_rule(&table, "FR"), INT64_MAX - 1), INT64_MAX);
}

/* ---- overrides ---- */

static void parse_overrides(void **state)
{
    (void)state;
    struct mopay_taxrules table, before;
    mopay_taxrules_defaults(&table);
    char err[256];
    /* The defaults' own figures: nothing changes. */
    memcpy(&before, &table, sizeof(table));
    assert_int_equal(parse_exact(TEXT("KR:KRW:1000:15000:999999:4999999:90:10000;"
                                      "FR:EUR:2000:10001:0:0:90:10000"),
                                 &table, err, sizeof(err)),
                     MOPAY_OK);
    assert_tables_equal(&table, &before);
    /* The empty string changes nothing either. */
    assert_int_equal(parse_exact("", 0, &table, err, sizeof(err)), MOPAY_OK);
    assert_tables_equal(&table, &before);
    /* An operator that keeps a fee and advances French refunds, and adds Switzerland. */
    assert_int_equal(parse_exact(TEXT("FR:EUR:2000:10001:500000:2000000:90:7200;"
                                      "CH:CHF:810:30000:0:0:30:9000"),
                                 &table, err, sizeof(err)),
                     MOPAY_OK);
    assert_int_equal(table.count, before.count + 1);
    const struct mopay_taxrule *fr = mopay_taxrules_find(&table, "FR");
    assert_int_equal(fr->refund_share_bps, 7200);
    assert_int_equal(fr->instant_cap_purchase_minor, 500000);
    assert_int_equal(fr->instant_cap_trip_minor, 2000000);
    const struct mopay_taxrule *ch = mopay_taxrules_find(&table, "CH");
    assert_non_null(ch);
    assert_string_equal(ch->currency, "CHF");
    assert_int_equal(ch->vat_rate_bps, 810);
    assert_int_equal(ch->validation_days, 30);
    /* The others are as they were. */
    assert_int_equal(mopay_taxrules_find(&table, "KR")->min_purchase_minor, 15000);
    assert_int_equal(mopay_taxrules_find(&table, "KR")->instant_cap_trip_minor, 4999999);
    /* The largest numbers each field takes. */
    assert_int_equal(parse_exact(TEXT("KR:KRW:10000:9223372036854775807:9223372036854775807:"
                                      "9223372036854775807:365:10000"),
                                 &table, err, sizeof(err)),
                     MOPAY_OK);
    assert_int_equal(mopay_taxrules_find(&table, "KR")->min_purchase_minor, INT64_MAX);
}

static void parse_refuses(void **state)
{
    (void)state;
    static const struct {
        const char *text, *reason;
    } cases[] = {
        {"KR:KRW:1000:15000:999999:4999999:90", "fields"},
        {"KR:KRW:1000:15000:999999:4999999:90:10000:1", "fields"},
        {"KR", "fields"},
        {"XX:KRW:1000:15000:999999:4999999:90:10000", "country"},
        {"kr:KRW:1000:15000:999999:4999999:90:10000", "country"},
        {"KOR:KRW:1000:15000:999999:4999999:90:10000", "country"},
        {"KR:KRX:1000:15000:999999:4999999:90:10000", "currency"},
        {"KR:krw:1000:15000:999999:4999999:90:10000", "currency"},
        {"KR:XAU:1000:15000:999999:4999999:90:10000", "currency"},
        {"KR:KRW:0:15000:999999:4999999:90:10000", "vat_rate_bps"},
        {"KR:KRW:10001:15000:999999:4999999:90:10000", "vat_rate_bps"},
        {"KR:KRW:4294968296:15000:999999:4999999:90:10000", "vat_rate_bps"},
        {"KR:KRW:1000:0:999999:4999999:90:10000", "min_purchase_minor"},
        {"KR:KRW:1000:-1:999999:4999999:90:10000", "min_purchase_minor"},
        {"KR:KRW:1000:+1:999999:4999999:90:10000", "min_purchase_minor"},
        {"KR:KRW:1000:015000:999999:4999999:90:10000", "min_purchase_minor"},
        {"KR:KRW:1000:150.00:999999:4999999:90:10000", "min_purchase_minor"},
        {"KR:KRW:1000::999999:4999999:90:10000", "min_purchase_minor"},
        {"KR:KRW:1000:9223372036854775808:999999:4999999:90:10000", "min_purchase_minor"},
        {"KR:KRW:1000:15000:5000000:4999999:90:10000", "above instant_cap_trip_minor"},
        {"KR:KRW:1000:15000:0:4999999:90:10000", "without an instant_cap_purchase_minor"},
        {"KR:KRW:1000:15000:14999:4999999:90:10000", "below min_purchase_minor"},
        {"KR:KRW:1000:15000:999999:4999999:0:10000", "validation_days"},
        {"KR:KRW:1000:15000:999999:4999999:366:10000", "validation_days"},
        {"KR:KRW:1000:15000:999999:4999999:90:0", "refund_share_bps"},
        {"KR:KRW:1000:15000:999999:4999999:90:10001", "refund_share_bps"},
        {"KR:KRW:1000:15000:999999:4999999:90:10000;", "entry 2: not 8"},
        {";KR:KRW:1000:15000:999999:4999999:90:10000", "entry 1: not 8"},
        {" KR:KRW:1000:15000:999999:4999999:90:10000", "country"},
        {"KR:KRW:1000:15000:999999:4999999:90:10000 ", "refund_share_bps"},
        {"KR:KRW:1000:15000:999999:4999999:90:10000;KR:KRW:1000:15000:999999:4999999:90:9000",
         "entry 2 (KR): country given twice"},
        /* A good entry before a bad one is not applied either (checked below). */
        {"FR:EUR:2000:10001:0:0:90:5000;DE:EUR:1900:5001:0:0:90", "entry 2 (DE)"},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        struct mopay_taxrules table, before;
        mopay_taxrules_defaults(&table);
        memcpy(&before, &table, sizeof(table));
        char err[256];
        enum mopay_err got = parse_exact(cases[i].text, strlen(cases[i].text), &table, err, sizeof(err));
        if (got != MOPAY_ERR_config_invalid || strstr(err, cases[i].reason) == NULL)
            fail_msg("\"%s\": %s \"%s\", wanted config_invalid naming \"%s\"", cases[i].text,
                     mopay_err_code(got), err, cases[i].reason);
        assert_memory_equal(&table, &before, sizeof(table));
    }
}

/* Appends `count` countries the defaults do not have, each with a valid rule. */
static size_t append_new_countries(char *text, size_t cap, size_t count)
{
    struct mopay_taxrules table;
    mopay_taxrules_defaults(&table);
    size_t n = 0;
    size_t added = 0;
    for (char a = 'A'; a <= 'Z' && added < count; a++) {
        for (char b = 'A'; b <= 'Z' && added < count; b++) {
            char code[3] = {a, b, '\0'};
            if (!mopay_country_valid(code, 2) || mopay_taxrules_find(&table, code) != NULL)
                continue;
            int w = snprintf(text + n, cap - n, "%s%s:EUR:2000:10001:0:0:90:10000", n > 0 ? ";" : "", code);
            assert_true(w > 0 && (size_t)w < cap - n);
            n += (size_t)w;
            added++;
        }
    }
    assert_int_equal(added, count);
    return n;
}

static void parse_limits(void **state)
{
    (void)state;
    struct mopay_taxrules table, before;
    char err[256];
    static char text[MOPAY_TAXRULES_TEXT_BYTES_MAX * 2];
    /* Filling the table exactly is fine; one country more is refused. */
    mopay_taxrules_defaults(&table);
    size_t room = MOPAY_TAXRULES_MAX - table.count;
    size_t n = append_new_countries(text, sizeof(text), room);
    assert_true(n <= MOPAY_TAXRULES_TEXT_BYTES_MAX);
    assert_int_equal(parse_exact(text, n, &table, err, sizeof(err)), MOPAY_OK);
    assert_int_equal(table.count, MOPAY_TAXRULES_MAX);
    mopay_taxrules_defaults(&table);
    memcpy(&before, &table, sizeof(table));
    n = append_new_countries(text, sizeof(text), room + 1);
    assert_int_equal(parse_exact(text, n, &table, err, sizeof(err)), MOPAY_ERR_config_invalid);
    assert_non_null(strstr(err, "more than 64 countries"));
    assert_memory_equal(&table, &before, sizeof(table));
    /* Text longer than the cap is refused before it is read. */
    memset(text, ';', MOPAY_TAXRULES_TEXT_BYTES_MAX + 1);
    assert_int_equal(parse_exact(text, MOPAY_TAXRULES_TEXT_BYTES_MAX + 1, &table, err, sizeof(err)),
                     MOPAY_ERR_config_invalid);
    assert_non_null(strstr(err, "longer than"));
    assert_memory_equal(&table, &before, sizeof(table));
    /* A reason is cut to the caller's buffer, NUL-terminated. */
    char small[8];
    assert_int_equal(parse_exact(TEXT("XX:EUR:1:1:0:0:1:1"), &table, small, sizeof(small)),
                     MOPAY_ERR_config_invalid);
    assert_int_equal(strlen(small), sizeof(small) - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_published_figures),
        cmocka_unit_test(defaults_pass_the_parser),
        cmocka_unit_test(defaults_minimum_boundaries),
        cmocka_unit_test(france_minimum_is_100_01),
        cmocka_unit_test(other_published_minimums),
        cmocka_unit_test(korea_cap_per_purchase),
        cmocka_unit_test(korea_cap_per_trip),
        cmocka_unit_test(instant_refund_share_and_rounding),
        cmocka_unit_test(vat_included_exact),
        cmocka_unit_test(vat_included_known_values),
        cmocka_unit_test(residents_not_eligible),
        cmocka_unit_test(eligible_refusal_order),
        cmocka_unit_test(find_exact_codes),
        cmocka_unit_test(deadlines),
        cmocka_unit_test(parse_overrides),
        cmocka_unit_test(parse_refuses),
        cmocka_unit_test(parse_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
