/* mopay's built-in tourist tax-refund rules, and which travellers count as residents.
 *
 * Each row is a published figure with the page it was read from, checked in November 2026. Where
 * only a secondary page (press, a shop, a refund operator other than an official one) could be
 * found, the comment says so: those figures are the likeliest to be wrong and the first to check
 * when the law changes. Operators correct or add countries with mopay_taxrules_parse; this table
 * is only the starting point.
 *
 * Modelling choices that apply to every row:
 *  - Amounts are VAT included and bounds inclusive (taxrules.h), so "more than EUR 100" is 10001
 *    cents and "under KRW 1,000,000" is 999999 won.
 *  - vat_rate_bps is the standard rate. Reduced rates (food, books, medicine) make an invoice's
 *    VAT smaller, which the invoice itself carries; the standard rate only bounds it.
 *  - validation_days stands in for deadlines the law states in calendar months. "Three months
 *    from the purchase" is 89 to 92 days and is taken as 90; "three months after the month of
 *    the purchase" is always at least 90 days, so 90 can only be early, never late.
 *  - refund_share_bps is 10000 (all of the VAT) everywhere. Real refund operators keep a
 *    handling fee: Global Blue's partner outlet in Provence advertises a 12 % refund on French
 *    purchases whose VAT is 16.7 % of the price, about 7,200 bps. An operator sets its own share.
 *  - "Instant" is mopay's wallet credit before customs validate the export (taxrules.h). Korea
 *    is the one country with such a scheme in law, at the till, so it has caps; everywhere else
 *    the traveller is refunded after validation and the caps are 0 until an operator that
 *    advances refunds (and can claw them back) configures its own. */
#include "mopay/taxrules.h"

#include <string.h>

#include "mopay/assert.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

static const struct mopay_taxrule default_rules[] = {
    /* Korea. VAT 10 % (the rate all the pages below assume; not read from a government page
     * here). Minimum KRW 15,000 since 2024, halved from 30,000 by the 2023 tax law revision
     * (korea.kr, 2023-11, republished by gangnam.com); english.visitseoul.net/taxrefund (Seoul Tourism
     * Organization) and web.gtfetrs.com (Global Tax Free, a licensed refund operator) both say
     * "over 15,000 won": whether 15,000 itself qualifies is not confirmed, taken as yes.
     * Instant refund at the till since 2024-01-01 (Ministry of Economy and Finance, 2023-11-27,
     * reported by Reuters): visitseoul says a purchase "under 1,000,000 won" and a trip's total
     * "under 5,000,000 won"; Global Tax Free says "up to KRW 5,000,000" for the trip. The caps
     * bound the purchases, not the refunds, and the trip cap takes the stricter reading.
     * Export within 3 months of the purchase (customs.go.kr/english, Tax Refund, Korea Customs
     * Service): 90 days. */
    {"KR", "KRW", 1000, 15000, 999999, 4999999, 90, 10000},
    /* France. VAT 20 %, minimum more than EUR 100 VAT included: the arrêté of 2020-07-23 lowered
     * it from 175 from 2021-01-01 (not 2022: Banque des Territoires, 2020-09; service-public.fr
     * F20558 "supérieur à 100 €"); globalblue.com/tax-free-shopping/france gives 20 % and
     * 100.01 EUR. Purchases at one merchant may be grouped over three consecutive days
     * (service-public.fr): the caller sums them. Customs must stamp the form within "3 months +
     * the issuing month" (Global Blue): 90 days. The refund is paid only after validation
     * (douane.gouv.fr, "Vous achetez des marchandises en détaxe"), so no instant credit. */
    {"FR", "EUR", 2000, 10001, 0, 0, 90, 10000},
    /* Japan. Consumption tax 10 % (8 % reduced rate on food not modelled). From 2026-11-01 Japan
     * refunds instead of exempting at the till: the traveller pays the tax and customs refund it
     * at departure for goods bought within 90 days before (trade press: travelvoice.jp and
     * en.japantravel.com, 2025; no government page read), so no instant credit and 90 days.
     * Minimum JPY 5,000 excluding tax per store and day under the rules before November 2026
     * (Japan Tax-free Shop pages, e.g. donki.com: "¥5,000 or more (excluding tax) ... or ¥5,500
     * (including tax)"), so 5,500 VAT included; not confirmed for the refund system. */
    {"JP", "JPY", 1000, 5500, 0, 0, 90, 10000},
    /* Singapore. GST 9 % from 2024-01-01 (IRAS rate-change e-Tax guide, via vatcalc.com). At
     * least SGD 100 including GST, up to three same-day invoices of one GST registration (IRAS
     * eTRS FAQ, as quoted by the retailer Challenger). Goods leave "within two months from the
     * date of purchase" (iras.gov.sg, Tourist Refund Scheme for consumers): 60 days. */
    {"SG", "SGD", 900, 10000, 0, 0, 60, 10000},
    /* Thailand. VAT 7 %, the reduced rate royal decrees keep extending; the last extension read
     * runs to 2026-09-30 (Nation Thailand, 2025-09-09; Nishimura & Asahi, 2025-10) and no later
     * one was found: if it lapsed the statutory rate is 10 % and operators must override. At
     * least THB 2,000 VAT included per store per day, goods taken out "within 60 days from the
     * purchase date (the purchase date is counted as the first day)" (rd.go.th/english/56339,
     * vrtweb.rd.go.th/78, Revenue Department): day 60 is 59 days after the purchase, so 59.
     * Older pages also ask THB 5,000 per claim; the Revenue Department's current list does not,
     * and a trip-wide minimum is not modelled. */
    {"TH", "THB", 700, 200000, 0, 0, 59, 10000},
    /* Germany. VAT 19 %. Minimum EUR 50.01 per invoice (not per day) since 2020-01-01, § 6 (3a)
     * UStG (eap.bayern.de, Bavarian state service portal; oldenburg-kreis.de). Export before
     * the end of the third month after the month of purchase (vatfree.com, a refund operator):
     * 90 days. */
    {"DE", "EUR", 1900, 5001, 0, 0, 90, 10000},
    /* Spain. VAT 21 %, no minimum (globalblue.com, Spain: "No minimal purchase amount"): the
     * 2018 budget law removed the EUR 90.16 threshold in July 2018 (refund operators' pages, e.g.
     * safetytaxfree.com; no BOE text read), so one cent. Validation within "3 months + the
     * issuing month" (Global Blue): 90 days. */
    {"ES", "EUR", 2100, 1, 0, 0, 90, 10000},
    /* Italy. VAT 22 %. Minimum "superiore a 70 euro (Iva inclusa)" from 2024-02-01, lowered
     * from 154.94 by the 2024 budget law (Il Sole 24 Ore NT+ Fisco; GGI, 2024; Global Blue
     * quotes 70.01); no Agenzia delle Entrate or Dogane page read. Goods leave the EU within
     * three months of the purchase (GGI): 90 days. */
    {"IT", "EUR", 2200, 7001, 0, 0, 90, 10000},
};

_Static_assert(COUNT(default_rules) <= MOPAY_TAXRULES_MAX, "default tax rules overflow the table");

/* The EU member states (ISO codes: Greece is GR, not the EU's EL) and Monaco, which is inside
 * the EU's VAT area through France: douane.gouv.fr lists Monaco's residents among those who
 * cannot buy tax free. A resident of any of them is a resident for every member's refund. */
static const char eu_vat_area[][3] = {
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MC", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
};

/* France's overseas departments have their own ISO codes and are outside the EU's VAT area, but
 * French customs refuse détaxe to their residents (douane.gouv.fr, as above). */
static const char france_overseas[][3] = {"GF", "GP", "MQ", "RE", "YT"};

static bool code_in(const char (*codes)[3], size_t count, const char *country)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(codes[i], country) == 0)
            return true;
    return false;
}

void mopay_taxrules_defaults(struct mopay_taxrules *table)
{
    MOPAY_ASSERT(table != NULL);
    memset(table, 0, sizeof(*table));
    memcpy(table->rules, default_rules, sizeof(default_rules));
    table->count = COUNT(default_rules);
}

bool mopay_taxrules_resident(const struct mopay_taxrule *rule, const char *buyer_country)
{
    MOPAY_ASSERT(rule != NULL && buyer_country != NULL);
    if (strcmp(rule->country, buyer_country) == 0)
        return true;
    if (strcmp(rule->country, "FR") == 0 && code_in(france_overseas, COUNT(france_overseas), buyer_country))
        return true;
    return code_in(eu_vat_area, COUNT(eu_vat_area), rule->country) &&
           code_in(eu_vat_area, COUNT(eu_vat_area), buyer_country);
}
