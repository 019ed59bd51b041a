#ifndef MOPAY_OFFERS_H
#define MOPAY_OFFERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mopay/err.h"
#include "mopay/id.h"
#include "mopay/journal.h"
#include "mopay/merchant.h"
#include "mopay/store.h"
#include "mopay/wallet.h"

/* Offers and coupons: a merchant's or the platform's discount at one merchant, which customers
 * claim as coupons and spend on a payment.
 *
 * An offer takes a percentage off (with an optional cap) or a fixed amount, above a minimum
 * spend, within a validity window, up to a total budget and a number of coupons per customer.
 * Whoever funds it pays the discount: a merchant-funded discount is money the merchant does not
 * receive; a platform-funded one is paid to the merchant from the platform's offer-budget account
 * in the same linked ledger chain as the payment. The budget is spent when a coupon pays, on the
 * sequencer, so no interleaving of payments can overspend it; a refund gives the coupon's share
 * back to its funder and to the budget.
 *
 * Like the other domain modules: in memory, changed on the sequencer only, each change written
 * as the record's image in the batch's journal record (mopay/journal.h), replayed at start;
 * mopay_offers_load reads the JSON records of a database from before the journal. */

#define MOPAY_OFFER_NAME_BYTES_MAX 64
#define MOPAY_OFFER_PER_CUSTOMER_MAX 100

enum mopay_offer_kind { MOPAY_OFFER_PERCENT, MOPAY_OFFER_FIXED };
enum mopay_offer_funder { MOPAY_OFFER_MERCHANT_FUNDED, MOPAY_OFFER_PLATFORM_FUNDED };

struct mopay_offer {
    struct mopay_id id;
    struct mopay_merchant *merchant; /* where it applies; the discount is in its currency */
    char name[MOPAY_OFFER_NAME_BYTES_MAX + 1];
    enum mopay_offer_kind kind;
    uint32_t percent_bps;            /* PERCENT: 1..9999 */
    int64_t fixed_minor;             /* FIXED: > 0, below min_spend */
    int64_t min_spend_minor, cap_minor; /* cap 0: none (PERCENT only) */
    int64_t valid_from_ns, valid_until_ns;
    int64_t budget_minor, spent_minor;
    uint32_t per_customer_limit;
    enum mopay_offer_funder funder;
    uint32_t claimed;
    int64_t created_at_ns;
};

enum mopay_coupon_status { MOPAY_COUPON_AVAILABLE, MOPAY_COUPON_USED };

struct mopay_coupon {
    struct mopay_id id;
    struct mopay_offer *offer;
    struct mopay_customer *customer;
    enum mopay_coupon_status status;
    int64_t discount_minor, refunded_minor; /* once used */
    struct mopay_id payment_id;
    int64_t created_at_ns, used_at_ns;
};

struct mopay_offers_state;

/* Offers and coupons are recorded in `journal`. */
struct mopay_offers_state *mopay_offers_new(struct mopay_merchant_state *merchants, struct mopay_wallet_state *wallets,
                                            struct mopay_journal *journal);
void mopay_offers_free(struct mopay_offers_state *o);
/* Records written before the journal, after it was replayed (a database from before it). */
enum mopay_err mopay_offers_load(struct mopay_offers_state *o, struct mopay_store *store, char *err, size_t err_cap);

struct mopay_offer_input {
    const char *name;
    enum mopay_offer_kind kind;
    uint32_t percent_bps;
    int64_t fixed_minor, min_spend_minor, cap_minor;
    int64_t valid_from_ns, valid_until_ns;
    int64_t budget_minor;
    uint32_t per_customer_limit;
    enum mopay_offer_funder funder;
};
enum mopay_err mopay_offer_create(struct mopay_offers_state *o, struct mopay_store *store, int64_t now_ns,
                                  struct mopay_merchant *merchant, const struct mopay_offer_input *in,
                                  struct mopay_offer **out);
struct mopay_offer *mopay_offer_get(struct mopay_offers_state *o, const struct mopay_id *id);
/* offer_not_active (outside its window), offer_budget_exhausted, coupon_limit_reached. */
enum mopay_err mopay_offer_claim(struct mopay_offers_state *o, struct mopay_store *store, int64_t now_ns,
                                 struct mopay_offer *offer, struct mopay_customer *customer,
                                 struct mopay_coupon **out);
struct mopay_coupon *mopay_coupon_get(struct mopay_offers_state *o, const struct mopay_id *id);
/* The customer's coupons, newest first, at most `cap`. */
size_t mopay_coupons_of(struct mopay_offers_state *o, const struct mopay_customer *c, struct mopay_coupon **out,
                        size_t cap);

/* What `coupon` takes off `amount_minor` at `merchant` now: coupon_not_usable (another customer's
 * or merchant's, or used), offer_not_active, coupon_min_spend, offer_budget_exhausted. Changes
 * nothing. */
enum mopay_err mopay_coupon_discount(const struct mopay_coupon *coupon, const struct mopay_customer *customer,
                                     const struct mopay_merchant *merchant, int64_t amount_minor, int64_t now_ns,
                                     int64_t *discount_minor);
/* Whether a discount worked out before (a payment waiting for its PIN) may still be spent:
 * coupon_not_usable (used since), offer_budget_exhausted (the budget spent since). Changes
 * nothing; mopay_coupon_redeem requires MOPAY_OK. */
enum mopay_err mopay_coupon_redeemable(const struct mopay_coupon *coupon, int64_t discount_minor);
/* Spends it on a payment: the budget is charged, the coupon used. */
enum mopay_err mopay_coupon_redeem(struct mopay_offers_state *o, struct mopay_store *store, int64_t now_ns,
                                   struct mopay_coupon *coupon, const struct mopay_id *payment_id,
                                   int64_t discount_minor);
/* The coupon's share of a refund of `refund_minor` of a payment of `amount_minor`: rounded down,
 * the refund that completes the payment taking what is left. */
int64_t mopay_coupon_refund_share(const struct mopay_coupon *coupon, int64_t refund_minor, int64_t refunded_before,
                                  int64_t amount_minor);
/* Gives a share back to the budget. */
enum mopay_err mopay_coupon_refunded(struct mopay_offers_state *o, struct mopay_store *store, int64_t now_ns,
                                     struct mopay_coupon *coupon, int64_t share_minor);

#endif
