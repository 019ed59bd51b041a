#ifndef MOPAY_OFFERS_INTERNAL_H
#define MOPAY_OFFERS_INTERNAL_H

#include <jansson.h>

#include "mopay/index.h"
#include "mopay/journal.h"
#include "mopay/offers.h"
#include "mopay/text.h"

struct mopay_offers_state {
    struct mopay_merchant_state *merchants;
    struct mopay_wallet_state *wallets;
    struct mopay_journal *journal;
    struct mopay_index offers;
    struct mopay_index coupons;
    struct mopay_index claims; /* key of (offer, customer) -> count, as a uintptr_t */
};

bool offer_add(struct mopay_offers_state *o, struct mopay_offer *x);
bool coupon_add(struct mopay_offers_state *o, struct mopay_coupon *c);

/* records.c: the journal's record kinds, and the record of a change in this batch. */
extern const struct mopay_record_kind mopay_offers_offer_kind, mopay_offers_coupon_kind;
void offers_records_register(struct mopay_offers_state *o);
enum mopay_err offer_record(struct mopay_offers_state *o, int64_t now_ns, const struct mopay_offer *x);
enum mopay_err coupon_record(struct mopay_offers_state *o, int64_t now_ns, const struct mopay_coupon *c);

#endif
