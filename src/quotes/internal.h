#ifndef MOPAY_QUOTES_INTERNAL_H
#define MOPAY_QUOTES_INTERNAL_H

#include "mopay/index.h"
#include "mopay/journal.h"
#include "mopay/quotes.h"

struct mopay_quotes_state {
    struct mopay_quotes_options options;
    struct mopay_wallet_state *wallets;
    struct mopay_journal *journal;
    struct mopay_index pairs;  /* key of (base, quote) -> pair rate */
    struct mopay_index quotes; /* id -> quote */
    size_t sweep_slot;         /* where mopay_quotes_tick goes on from */
};

/* The pair's rate in memory, made (zero but for its currencies) when new; NULL when out of
 * memory or the table is full. */
struct mopay_fx_pair_rate *pair_put(struct mopay_quotes_state *s, const struct mopay_currency *base,
                                    const struct mopay_currency *quote);
/* Sets a pair's rate in memory (what mopay_fx_rate_set does but for recording it). */
struct mopay_fx_pair_rate *pair_set(struct mopay_quotes_state *s, const struct mopay_currency *base,
                                    const struct mopay_currency *quote, struct mopay_fx_rate rate, const char *source,
                                    int64_t as_of_ns, int64_t updated_at_ns);

/* records.c: the journal's record kinds, and the record of a change in this batch. */
extern const struct mopay_record_kind mopay_quotes_rate_kind, mopay_quotes_quote_kind;
void quotes_records_register(struct mopay_quotes_state *s);
enum mopay_err pair_record(struct mopay_quotes_state *s, int64_t now_ns, const struct mopay_fx_pair_rate *p);
enum mopay_err quote_record(struct mopay_quotes_state *s, int64_t now_ns, const struct mopay_quote *x);

#endif
