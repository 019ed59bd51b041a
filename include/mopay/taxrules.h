#ifndef MOPAY_TAXRULES_H
#define MOPAY_TAXRULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mopay/err.h"

/* Tourist tax refunds (VAT/GST refunds for travellers who take goods home): one rule per country
 * of purchase, and the arithmetic mopay needs to credit a refund. Pure: no I/O, no allocation, no
 * clock (the caller passes the purchase time), no floats (money in int64 minor units of the
 * rule's currency, rates in basis points).
 *
 * "Instant" refund here means mopay credits the traveller's wallet at the purchase, before customs
 * have confirmed the export; an unvalidated purchase must be clawed back after its deadline. Only
 * Korea has a statutory scheme like that (the VAT comes off at the till); elsewhere the defaults
 * allow none and an operator who advances refunds sets its own caps by configuration. */

#define MOPAY_TAXRULES_MAX 64                /* countries in one table */
#define MOPAY_TAXRULES_BPS_ONE 10000         /* 10,000 basis points = 100 % */
#define MOPAY_TAXRULES_VALIDATION_DAYS_MAX 365
#define MOPAY_TAXRULES_TEXT_BYTES_MAX 4096   /* the longest override string parsed */
#define MOPAY_TAXRULES_DAY_NS (86400LL * 1000000000LL)

/* Every amount is VAT included and every bound inclusive: "more than EUR 100" is stored as a
 * minimum of 10001 cents, "under KRW 1,000,000" as a cap of 999999 won. */
struct mopay_taxrule {
    char country[3];                    /* ISO 3166-1 alpha-2 of the country of purchase, "KR" */
    char currency[4];                   /* ISO 4217 alpha of its money, "KRW" */
    int32_t vat_rate_bps;               /* the standard rate, 1..10000: 1000 is 10 % */
    int64_t min_purchase_minor;         /* the smallest qualifying purchase at one merchant
                                           (on one day, or one invoice where the law says so), >= 1 */
    int64_t instant_cap_purchase_minor; /* the largest purchase refunded instantly; 0: none is */
    int64_t instant_cap_trip_minor;     /* the most a trip's instantly refunded purchases may add
                                           up to; >= the cap per purchase, 0 when that is 0 */
    int32_t validation_days;            /* customs must confirm the export within this many days
                                           of the purchase, 1..365 */
    int32_t refund_share_bps;           /* the share of the VAT the traveller gets, 1..10000;
                                           operators keep a handling fee out of the rest */
};

struct mopay_taxrules {
    size_t count;
    struct mopay_taxrule rules[MOPAY_TAXRULES_MAX];
};

/* Replaces the table's contents with mopay's built-in rules: the published figures of the
 * countries listed in countries.c, with their sources. */
void mopay_taxrules_defaults(struct mopay_taxrules *table);

/* The rule for `country` (a NUL-terminated alpha-2 code), NULL when the table has none. */
const struct mopay_taxrule *mopay_taxrules_find(const struct mopay_taxrules *table, const char *country);

/* Applies an operator's overrides, `len` bytes that need not be NUL-terminated: entries
 * separated by ';', each eight fields separated by ':' in the order of struct mopay_taxrule,
 *   country:currency:vat_rate_bps:min_purchase_minor:instant_cap_purchase_minor:
 *   instant_cap_trip_minor:validation_days:refund_share_bps
 * e.g. "KR:KRW:1000:15000:999999:4999999:90:10000;FR:EUR:2000:10001:0:0:90:10000". Numbers are
 * plain decimal digits in minor units of the entry's currency (KRW has none, EUR two). An entry
 * replaces the table's rule for its country or adds one. The empty string changes nothing.
 * Refuses with config_invalid and a one-line reason in `err` (naming the entry) on: a country or
 * currency ISO does not assign, a field count other than eight, a number that is not plain
 * digits or is out of its range above, a cap per purchase above the trip's or (when not 0) below
 * the minimum purchase, a country given twice, more than MOPAY_TAXRULES_MAX rules in all, and
 * text longer than MOPAY_TAXRULES_TEXT_BYTES_MAX. Spaces and empty entries are
 * refused rather than guessed about. All or nothing: on failure `table` is untouched. */
enum mopay_err mopay_taxrules_parse(const char *text, size_t len, struct mopay_taxrules *table, char *err,
                                    size_t err_cap);

/* The VAT inside a VAT-inclusive price at the rule's standard rate, rounded down:
 * floor(gross * rate / (10000 + rate)). `gross_minor` must be >= 0. */
int64_t mopay_taxrules_vat_included(const struct mopay_taxrule *rule, int64_t gross_minor);

/* True when a traveller living in `buyer_country` counts as a resident for `rule`'s country, and
 * so cannot claim its refund. In an EU member state that is anyone living in the EU's VAT area
 * (the 27 members and Monaco, which shares France's VAT), and in France also the overseas
 * departments GP, GF, MQ, YT and RE, which French customs exclude. Elsewhere it is the country
 * itself. Not expressible with alpha-2 codes: Germany's exclusion of Northern Ireland (GB) and
 * the EU territories outside the VAT area that share a member's code (the Canary Islands). */
bool mopay_taxrules_resident(const struct mopay_taxrule *rule, const char *buyer_country);

/* Whether a purchase of `gross_minor` (VAT included) at a merchant in `merchant_country` by a
 * traveller living in `buyer_country` qualifies under `rule`. Both countries are NUL-terminated
 * alpha-2 codes. OK, or the first reason in this order:
 *  - country_unknown: either country is not an ISO 3166-1 code;
 *  - tax_free_country_unsupported: the merchant is not in the rule's country (look the rule up by
 *    the merchant's country; when there is none, this is the answer too);
 *  - amount_negative: gross below zero;
 *  - tax_free_resident: see mopay_taxrules_resident;
 *  - tax_free_below_minimum: gross below the rule's minimum purchase. */
enum mopay_err mopay_taxrules_eligible(const struct mopay_taxrule *rule, int64_t gross_minor,
                                       const char *buyer_country, const char *merchant_country);

/* The refund to credit at once for an eligible purchase of `gross_minor` (VAT included) whose
 * invoice shows `vat_minor`, when the trip's earlier instantly refunded purchases add up to
 * `trip_instant_gross_minor`. The caps bound purchases, not refunds, as Korea's law does: a
 * purchase above the cap per purchase, or one that would take the trip above the cap per trip,
 * gets no instant refund at all (its refund waits for customs), never a partial one. Otherwise
 * the refund is floor(vat * refund_share / 10000), where an invoice VAT above the VAT the
 * standard rate puts inside the gross (per-line rounding, or an inflated invoice) counts as that
 * VAT. Never negative: a trip already above its cap (the cap was lowered) gets 0. On success the
 * caller adds gross to the trip's total only when the refund is positive. amount_negative when
 * any amount is below zero, and `*out_refund_minor` is then untouched. */
enum mopay_err mopay_taxrules_instant_refund(const struct mopay_taxrule *rule, int64_t gross_minor,
                                             int64_t vat_minor, int64_t trip_instant_gross_minor,
                                             int64_t *out_refund_minor);

/* When customs must have confirmed the export: the purchase time plus the rule's validation
 * days, saturating at INT64_MAX. Calendar months are approximated in days (countries.c says how
 * for each country). `purchase_ns` (Unix nanoseconds) must be >= 0. */
int64_t mopay_taxrules_deadline_ns(const struct mopay_taxrule *rule, int64_t purchase_ns);

#endif
