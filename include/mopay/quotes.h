#ifndef MOPAY_QUOTES_H
#define MOPAY_QUOTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mopay/err.h"
#include "mopay/fx.h"
#include "mopay/id.h"
#include "mopay/journal.h"
#include "mopay/store.h"
#include "mopay/wallet.h"

/* The FX desk: mid rates per currency pair with their source and time, a spread per corridor,
 * and quotes that lock a rate for a while and are used at most once (mopay/fx.h does the
 * arithmetic and states the rounding rule).
 *
 * Like the domain modules: in memory, changed on the sequencer, each change written as the
 * record's image in the batch's journal record (mopay/journal.h), replayed at start;
 * mopay_quotes_load reads the JSON records of a database from before the journal. */

#define MOPAY_FX_PAIRS_MAX 4096
#define MOPAY_FX_SPREADS_MAX 256
#define MOPAY_QUOTE_LOCK_S_MIN 30
#define MOPAY_QUOTE_LOCK_S_MAX (24 * 3600)

struct mopay_fx_pair_rate {
    const struct mopay_currency *base, *quote; /* 1 base = rate quote */
    struct mopay_fx_rate rate;
    char source[MOPAY_FX_SOURCE_BYTES_MAX + 1];
    int64_t as_of_ns, updated_at_ns;
};

struct mopay_quote {
    struct mopay_id id;
    struct mopay_customer *customer;
    struct mopay_fx_quote q; /* rate, spread, base, fee, sell, buy */
    int64_t created_at_ns, expires_at_ns;
    bool used;
    struct mopay_id payment_id;
};

struct mopay_quotes_options {
    uint32_t spread_default_bps;
    size_t spread_count;
    struct {
        uint16_t sell, buy; /* ISO 4217 numeric: a corridor, one way */
        uint32_t bps;
    } spreads[MOPAY_FX_SPREADS_MAX];
    int64_t rate_max_age_s; /* quotes refuse rates older than this */
};

/* "50" (every corridor) or "*:50,CNY/USD:30,KRW/USD:80": spreads in basis points, by
 * SELL/BUY corridor; config_invalid with a reason. */
enum mopay_err mopay_quotes_spreads_parse(const char *text, struct mopay_quotes_options *out, char *err,
                                          size_t err_cap);

struct mopay_quotes_state;

/* Rates and quotes are recorded in `journal`. */
struct mopay_quotes_state *mopay_quotes_new(const struct mopay_quotes_options *options,
                                            struct mopay_wallet_state *wallets, struct mopay_journal *journal);
void mopay_quotes_free(struct mopay_quotes_state *s);
/* Records written before the journal, after it was replayed (a database from before it). */
enum mopay_err mopay_quotes_load(struct mopay_quotes_state *s, struct mopay_store *store, char *err, size_t err_cap);

/* Sets (or replaces) a pair's mid rate. */
enum mopay_err mopay_fx_rate_set(struct mopay_quotes_state *s, struct mopay_store *store, int64_t now_ns,
                                 const struct mopay_currency *base, const struct mopay_currency *quote,
                                 struct mopay_fx_rate rate, const char *source, int64_t as_of_ns);
/* Every pair, in no particular order; at most `cap`. With out NULL, how many there are. */
size_t mopay_fx_rates(struct mopay_quotes_state *s, const struct mopay_fx_pair_rate **out, size_t cap);

/* A quote for the customer: exactly one of sell_minor and buy_minor is > 0. fx_rate_missing,
 * fx_rate_stale, amount_overflow, amount_invalid (converts to nothing). lock_s 0 makes a quote
 * for a payment on the spot, which expires at once. */
enum mopay_err mopay_quote_create(struct mopay_quotes_state *s, struct mopay_store *store, int64_t now_ns,
                                  struct mopay_customer *customer, const struct mopay_currency *sell,
                                  const struct mopay_currency *buy, int64_t sell_minor, int64_t buy_minor,
                                  int64_t lock_s, struct mopay_quote **out);
struct mopay_quote *mopay_quote_get(struct mopay_quotes_state *s, const struct mopay_id *id);
/* How many quotes are held in memory (sequencer thread): for admission control. */
size_t mopay_quotes_count(const struct mopay_quotes_state *s);
/* The sequencer's tick: forgets quotes whose lock ended (used or not) at least
 * MOPAY_QUOTE_RETENTION_S ago, looking at MOPAY_QUOTES_SWEEP_SLOTS slots of the index per call,
 * going round. Memory only: their images stay in the journal (and are replayed at a start,
 * until the first ticks forget them); a GET of a forgotten quote answers 404. Returns how many
 * it forgot. Commands hold a quote only within their apply and render, before the next tick. */
#define MOPAY_QUOTE_RETENTION_S 3600
#define MOPAY_QUOTES_SWEEP_SLOTS 4096
size_t mopay_quotes_tick(struct mopay_quotes_state *s, int64_t now_ns);
/* Whether the quote can pay buy_minor of `buy` from a wallet in `sell` now: quote_used,
 * quote_expired, quote_mismatch (another customer's, other currencies or amount). */
enum mopay_err mopay_quote_usable(const struct mopay_quote *q, const struct mopay_customer *customer,
                                  const struct mopay_currency *sell, const struct mopay_currency *buy,
                                  int64_t buy_minor, int64_t now_ns);
enum mopay_err mopay_quote_use(struct mopay_quotes_state *s, struct mopay_store *store, int64_t now_ns,
                               struct mopay_quote *q, const struct mopay_id *payment_id);

#endif
