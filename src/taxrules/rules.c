/* Tourist tax-refund rules: the override parser and the refund arithmetic (taxrules.h).
 *
 * Products of an amount and a rate are taken in __int128, so no int64 amount and no rate up to
 * 100 % can overflow them, and every division rounds toward zero on non-negative operands, which
 * is down: a refund is never more than the tax inside the price. */
#include "mopay/taxrules.h"

#include <stdio.h>
#include <string.h>

#include "mopay/assert.h"
#include "mopay/money.h"
#include "mopay/validate.h"

#define ENTRY_FIELDS 8
#define NUMBER_FIELDS (ENTRY_FIELDS - 2)
#define NUMBER_DIGITS_MAX 19 /* INT64_MAX has 19 digits */

/* Why `r` is not a rule mopay can compute with, NULL when it is. The parser tells operators;
 * the computations assert, since a table that got past the parser cannot fail it. */
static const char *rule_problem(const struct mopay_taxrule *r)
{
    if (strnlen(r->country, sizeof(r->country)) != 2 || !mopay_country_valid(r->country, 2))
        return "country is not an ISO 3166-1 alpha-2 code";
    if (strnlen(r->currency, sizeof(r->currency)) != 3 || mopay_currency_by_alpha(r->currency, 3) == NULL)
        return "currency is not an active ISO 4217 code";
    if (r->vat_rate_bps < 1 || r->vat_rate_bps > MOPAY_TAXRULES_BPS_ONE)
        return "vat_rate_bps must be 1..10000";
    if (r->min_purchase_minor < 1)
        return "min_purchase_minor must be at least 1";
    if (r->instant_cap_purchase_minor < 0 || r->instant_cap_trip_minor < 0)
        return "instant caps must not be negative";
    if (r->instant_cap_purchase_minor > r->instant_cap_trip_minor)
        return "instant_cap_purchase_minor is above instant_cap_trip_minor";
    if (r->instant_cap_purchase_minor == 0 && r->instant_cap_trip_minor != 0)
        return "instant_cap_trip_minor without an instant_cap_purchase_minor";
    /* A cap below the minimum would let no eligible purchase through: a typo, not a policy. */
    if (r->instant_cap_purchase_minor != 0 && r->instant_cap_purchase_minor < r->min_purchase_minor)
        return "instant_cap_purchase_minor is below min_purchase_minor";
    if (r->validation_days < 1 || r->validation_days > MOPAY_TAXRULES_VALIDATION_DAYS_MAX)
        return "validation_days must be 1..365";
    if (r->refund_share_bps < 1 || r->refund_share_bps > MOPAY_TAXRULES_BPS_ONE)
        return "refund_share_bps must be 1..10000";
    return NULL;
}

/* Plain decimal digits, no sign, no leading zero but in "0"; false on anything else or when
 * the value does not fit an int64. */
static bool parse_digits(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len > NUMBER_DIGITS_MAX || (s[0] == '0' && len > 1))
        return false;
    int64_t value = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        if (__builtin_mul_overflow(value, 10, &value) || __builtin_add_overflow(value, s[i] - '0', &value))
            return false;
    }
    *out = value;
    return true;
}

static const char *const number_field_names[NUMBER_FIELDS] = {
    "vat_rate_bps",           "min_purchase_minor", "instant_cap_purchase_minor",
    "instant_cap_trip_minor", "validation_days",    "refund_share_bps",
};

/* Splits one entry at its ':'s; false when it has more or fewer than ENTRY_FIELDS fields. */
static bool split_fields(const char *s, size_t len, const char *field[ENTRY_FIELDS],
                         size_t field_len[ENTRY_FIELDS])
{
    size_t n = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != ':')
            continue;
        if (n == ENTRY_FIELDS)
            return false;
        field[n] = s + start;
        field_len[n++] = i - start;
        start = i + 1;
    }
    return n == ENTRY_FIELDS;
}

/* int32 fields get values above INT32_MAX as INT32_MAX, which is out of each one's range, so
 * that rule_problem refuses them by name instead of 2^32 + 1000 passing as a rate of 1000. */
static int32_t narrow(int64_t value)
{
    return value < INT32_MAX ? (int32_t)value : INT32_MAX;
}

/* Fills `out` from one entry's `len` bytes; on failure writes why into `err` (prefixed by
 * `where`) and returns false. */
static bool parse_entry(const char *s, size_t len, struct mopay_taxrule *out, const char *where, char *err,
                        size_t err_cap)
{
    const char *field[ENTRY_FIELDS];
    size_t field_len[ENTRY_FIELDS];
    if (!split_fields(s, len, field, field_len)) {
        snprintf(err, err_cap, "%s: not %d ':'-separated fields", where, ENTRY_FIELDS);
        return false;
    }
    if (field_len[0] != 2 || !mopay_country_valid(field[0], 2)) {
        snprintf(err, err_cap, "%s: country is not an ISO 3166-1 alpha-2 code", where);
        return false;
    }
    if (field_len[1] != 3 || mopay_currency_by_alpha(field[1], 3) == NULL) {
        snprintf(err, err_cap, "%s: currency is not an active ISO 4217 code", where);
        return false;
    }
    int64_t number[NUMBER_FIELDS];
    for (size_t k = 0; k < NUMBER_FIELDS; k++) {
        if (!parse_digits(field[2 + k], field_len[2 + k], &number[k])) {
            snprintf(err, err_cap, "%s: %s is not a plain decimal number", where, number_field_names[k]);
            return false;
        }
    }
    struct mopay_taxrule r = {
        .vat_rate_bps = narrow(number[0]),
        .min_purchase_minor = number[1],
        .instant_cap_purchase_minor = number[2],
        .instant_cap_trip_minor = number[3],
        .validation_days = narrow(number[4]),
        .refund_share_bps = narrow(number[5]),
    };
    memcpy(r.country, field[0], 2);
    memcpy(r.currency, field[1], 3);
    const char *problem = rule_problem(&r);
    if (problem != NULL) {
        snprintf(err, err_cap, "%s: %s", where, problem);
        return false;
    }
    *out = r;
    return true;
}

/* "tax rules entry 2 (FR)", the prefix of every reason about an entry. The country is shown
 * only when it looks like one: reasons end up in logs, and the entry's bytes could be anything. */
static void entry_label(char *where, size_t where_cap, size_t entry, const char *s, size_t len)
{
    if (len >= 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z')
        snprintf(where, where_cap, "tax rules entry %zu (%.2s)", entry, s);
    else
        snprintf(where, where_cap, "tax rules entry %zu", entry);
}

/* Replaces the table's rule for r's country or appends r; false when the table is full. */
static bool table_put(struct mopay_taxrules *table, const struct mopay_taxrule *r)
{
    for (size_t i = 0; i < table->count; i++) {
        if (strcmp(table->rules[i].country, r->country) == 0) {
            table->rules[i] = *r;
            return true;
        }
    }
    if (table->count == MOPAY_TAXRULES_MAX)
        return false;
    table->rules[table->count++] = *r;
    return true;
}

enum mopay_err mopay_taxrules_parse(const char *text, size_t len, struct mopay_taxrules *table, char *err,
                                    size_t err_cap)
{
    MOPAY_ASSERT(text != NULL || len == 0);
    MOPAY_ASSERT(table != NULL && table->count <= MOPAY_TAXRULES_MAX);
    MOPAY_ASSERT(err != NULL && err_cap > 0);
    err[0] = '\0';
    if (len > MOPAY_TAXRULES_TEXT_BYTES_MAX) {
        snprintf(err, err_cap, "tax rules: longer than %d bytes", MOPAY_TAXRULES_TEXT_BYTES_MAX);
        return MOPAY_ERR_config_invalid;
    }
    struct mopay_taxrules next = *table;
    char seen[MOPAY_TAXRULES_MAX][3]; /* the countries this text set, to refuse one set twice */
    size_t seen_count = 0;
    size_t start = 0;
    for (size_t entry = 1; len > 0 && start <= len; entry++) {
        const char *end = memchr(text + start, ';', len - start);
        size_t entry_len = end != NULL ? (size_t)(end - (text + start)) : len - start;
        char where[48];
        entry_label(where, sizeof(where), entry, text + start, entry_len);
        struct mopay_taxrule r;
        if (!parse_entry(text + start, entry_len, &r, where, err, err_cap))
            return MOPAY_ERR_config_invalid;
        for (size_t i = 0; i < seen_count; i++) {
            if (strcmp(seen[i], r.country) == 0) {
                snprintf(err, err_cap, "%s: country given twice", where);
                return MOPAY_ERR_config_invalid;
            }
        }
        if (!table_put(&next, &r)) {
            snprintf(err, err_cap, "%s: more than %d countries in all", where, MOPAY_TAXRULES_MAX);
            return MOPAY_ERR_config_invalid;
        }
        /* Every country in seen is in next, which holds at most MAX, and this one is new. */
        MOPAY_ASSERT(seen_count < MOPAY_TAXRULES_MAX);
        memcpy(seen[seen_count++], r.country, 3);
        start += entry_len + 1;
    }
    *table = next;
    return MOPAY_OK;
}

const struct mopay_taxrule *mopay_taxrules_find(const struct mopay_taxrules *table, const char *country)
{
    MOPAY_ASSERT(table != NULL && table->count <= MOPAY_TAXRULES_MAX);
    MOPAY_ASSERT(country != NULL);
    if (strnlen(country, 3) != 2)
        return NULL;
    for (size_t i = 0; i < table->count; i++)
        if (memcmp(table->rules[i].country, country, 3) == 0)
            return &table->rules[i];
    return NULL;
}

int64_t mopay_taxrules_vat_included(const struct mopay_taxrule *rule, int64_t gross_minor)
{
    MOPAY_ASSERT(rule != NULL && rule_problem(rule) == NULL);
    MOPAY_ASSERT(gross_minor >= 0);
    __int128 vat = (__int128)gross_minor * rule->vat_rate_bps / (MOPAY_TAXRULES_BPS_ONE + rule->vat_rate_bps);
    MOPAY_ASSERT(vat >= 0 && vat <= gross_minor);
    return (int64_t)vat;
}

static bool country_text_valid(const char *country)
{
    size_t len = strnlen(country, 3);
    return len == 2 && mopay_country_valid(country, len);
}

enum mopay_err mopay_taxrules_eligible(const struct mopay_taxrule *rule, int64_t gross_minor,
                                       const char *buyer_country, const char *merchant_country)
{
    MOPAY_ASSERT(rule != NULL && rule_problem(rule) == NULL);
    MOPAY_ASSERT(buyer_country != NULL && merchant_country != NULL);
    if (!country_text_valid(buyer_country) || !country_text_valid(merchant_country))
        return MOPAY_ERR_country_unknown;
    if (strcmp(merchant_country, rule->country) != 0)
        return MOPAY_ERR_tax_free_country_unsupported;
    if (gross_minor < 0)
        return MOPAY_ERR_amount_negative;
    if (mopay_taxrules_resident(rule, buyer_country))
        return MOPAY_ERR_tax_free_resident;
    if (gross_minor < rule->min_purchase_minor)
        return MOPAY_ERR_tax_free_below_minimum;
    return MOPAY_OK;
}

enum mopay_err mopay_taxrules_instant_refund(const struct mopay_taxrule *rule, int64_t gross_minor,
                                             int64_t vat_minor, int64_t trip_instant_gross_minor,
                                             int64_t *out_refund_minor)
{
    MOPAY_ASSERT(rule != NULL && rule_problem(rule) == NULL);
    MOPAY_ASSERT(out_refund_minor != NULL);
    if (gross_minor < 0 || vat_minor < 0 || trip_instant_gross_minor < 0)
        return MOPAY_ERR_amount_negative;
    /* Compared as cap - so far, which cannot overflow, rather than so far + gross, which can.
     * A trip above its cap (the cap was lowered since) fails the first test: 0, never below. */
    bool within_caps = gross_minor > 0 && gross_minor <= rule->instant_cap_purchase_minor &&
                       trip_instant_gross_minor <= rule->instant_cap_trip_minor &&
                       gross_minor <= rule->instant_cap_trip_minor - trip_instant_gross_minor;
    int64_t refund = 0;
    if (within_caps) {
        int64_t vat_max = mopay_taxrules_vat_included(rule, gross_minor);
        int64_t vat = vat_minor < vat_max ? vat_minor : vat_max;
        refund = (int64_t)((__int128)vat * rule->refund_share_bps / MOPAY_TAXRULES_BPS_ONE);
    }
    MOPAY_ASSERT(refund >= 0 && refund <= gross_minor);
    *out_refund_minor = refund;
    return MOPAY_OK;
}

int64_t mopay_taxrules_deadline_ns(const struct mopay_taxrule *rule, int64_t purchase_ns)
{
    MOPAY_ASSERT(rule != NULL && rule_problem(rule) == NULL);
    MOPAY_ASSERT(purchase_ns >= 0);
    int64_t deadline_ns;
    if (__builtin_add_overflow(purchase_ns, rule->validation_days * MOPAY_TAXRULES_DAY_NS, &deadline_ns))
        return INT64_MAX;
    return deadline_ns;
}
