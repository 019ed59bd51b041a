#ifndef MOPAY_MERCHANT_INTERNAL_H
#define MOPAY_MERCHANT_INTERNAL_H

#include <stdatomic.h>

#include <jansson.h>

#include "mopay/index.h"
#include "mopay/journal.h"
#include "mopay/merchant.h"
#include "mopay/text.h"

struct mopay_merchant_state {
    struct mopay_merchant_options options;
    struct mopay_index merchants;
    struct mopay_index orders;
    struct mopay_order *open_orders;
    struct mopay_index bills;      /* id -> bill */
    struct mopay_index references; /* key of (biller, reference) -> its latest bill */
    /* API keys: written on the sequencer thread, read by event-loop threads */
    pthread_rwlock_t keys_lock;
    struct mopay_index keys; /* first 16 bytes of the key hash -> merchant */
    _Atomic uint64_t expiries_deferred;
};

bool merchant_add(struct mopay_merchant_state *m, struct mopay_merchant *merchant);
/* Replaces a merchant's table fields with `image`'s, its live keys in the key index with the
 * image's; false (the key index then missing some of its live keys) when out of memory. */
bool merchant_replace(struct mopay_merchant_state *m, struct mopay_merchant *merchant,
                      const struct mopay_merchant *image);
bool order_add(struct mopay_merchant_state *m, struct mopay_order *order);
void order_open_unlink(struct mopay_merchant_state *m, struct mopay_order *order);
bool bill_add(struct mopay_merchant_state *m, struct mopay_bill *bill);
bool bill_read(struct mopay_merchant_state *m, json_t *j, struct mopay_bill *b);

/* records.c: the journal's record kinds, and the record of a change in this batch. */
extern const struct mopay_record_kind mopay_merchant_merchant_kind, mopay_merchant_order_kind, mopay_merchant_bill_kind;
void merchant_records_register(struct mopay_merchant_state *m);
enum mopay_err merchant_record(struct mopay_merchant_state *m, int64_t now_ns, const struct mopay_merchant *merchant);
enum mopay_err order_record(struct mopay_merchant_state *m, int64_t now_ns, const struct mopay_order *order);
enum mopay_err bill_record(struct mopay_merchant_state *m, int64_t now_ns, const struct mopay_bill *bill);

#endif
