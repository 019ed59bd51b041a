/* Funding sources: cards and bank accounts, their numbers sealed under the card key and shown
 * only as brand and last four. One card is the primary (the first added); one may be the backup,
 * which becomes the primary at once when the primary is reported lost. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"

struct mopay_funding_source *mopay_wallet_source(struct mopay_wallet_state *w, const struct mopay_id *id)
{
    return mopay_index_get(&w->sources, id->bytes);
}

static struct mopay_funding_source *source_find(const struct mopay_customer *c, bool primary)
{
    for (size_t i = 0; i < c->source_count; i++) {
        struct mopay_funding_source *s = c->sources[i];
        if (!s->lost && (primary ? s->primary : s->backup))
            return s;
    }
    return NULL;
}

/* The changes a new source makes to the others, applied once it is certain to be added. */
static enum mopay_err source_demote_backup(struct mopay_wallet_state *w, int64_t now_ns, struct mopay_customer *c)
{
    struct mopay_funding_source *old = source_find(c, false);
    if (old == NULL)
        return MOPAY_OK;
    old->backup = false;
    return record_source(w, now_ns, old);
}

enum mopay_err mopay_wallet_source_add(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns,
                                       struct mopay_customer *c, const struct mopay_source_input *in,
                                       struct mopay_funding_source **out)
{
    (void)store; /* the images go to the journal */
    size_t len = strlen(in->number);
    MOPAY_ASSERT(len >= 4 && len + MOPAY_SEAL_AD_OVERHEAD <= sizeof(((struct mopay_funding_source *)0)->sealed_number));
    if (c->source_count >= MOPAY_SOURCES_PER_CUSTOMER_MAX)
        return MOPAY_ERR_field_invalid;
    struct mopay_funding_source *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return MOPAY_ERR_internal;
    mopay_id_new(now_ns, &s->id);
    s->customer = c;
    s->type = in->type;
    s->brand = in->brand;
    s->exp_month = in->exp_month;
    s->exp_year = in->exp_year;
    mopay_text_copy(s->bank_code, sizeof(s->bank_code), in->bank_code);
    s->iban = in->iban;
    mopay_text_copy(s->last4, sizeof(s->last4), in->number + len - 4);
    mopay_text_copy(s->holder, sizeof(s->holder), in->holder);
    char sid[MOPAY_ID_TEXT_BYTES], ad[MOPAY_SEAL_AD_BYTES];
    mopay_id_format(MOPAY_ID_FUNDING_SOURCE, &s->id, sid);
    mopay_seal_ad(ad, "source", sid, "number");
    mopay_keys_seal_ad(w->options.keys->card_seal, ad, in->number, len, s->sealed_number);
    mopay_wallet_fingerprint(w->options.keys, in->number, s->fingerprint);
    s->sealed_len = len + MOPAY_SEAL_AD_OVERHEAD;
    s->created_at_ns = now_ns;
    bool first = source_find(c, true) == NULL;
    if (!state_source_add(w, s)) {
        free(s);
        return MOPAY_ERR_internal;
    }
    enum mopay_err err = MOPAY_OK;
    if (first) {
        s->primary = true; /* a first source is the primary, whatever was asked */
    } else if (in->backup) {
        err = source_demote_backup(w, now_ns, c);
        s->backup = true;
    }
    *out = s;
    return err != MOPAY_OK ? err : record_source(w, now_ns, s);
}

enum mopay_err mopay_wallet_source_lost(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns,
                                        struct mopay_funding_source *s)
{
    (void)store; /* the images go to the journal */
    (void)w;
    if (s->lost)
        return MOPAY_ERR_funding_source_unusable;
    struct mopay_funding_source *backup = s->primary ? source_find(s->customer, false) : NULL;
    s->lost = true;
    s->primary = false;
    s->backup = false;
    enum mopay_err err = record_source(w, now_ns, s);
    if (err != MOPAY_OK || backup == NULL)
        return err;
    backup->backup = false;
    backup->primary = true;
    return record_source(w, now_ns, backup);
}

/* The number, opened for the connector; false when the seal does not open (a wrong master key,
 * or sealed for another source). */
bool source_number(struct mopay_wallet_state *w, const struct mopay_funding_source *s, char out[36])
{
    char sid[MOPAY_ID_TEXT_BYTES], ad[MOPAY_SEAL_AD_BYTES];
    size_t len = 0;
    bool legacy = false;
    MOPAY_ASSERT(s->sealed_len > MOPAY_SEAL_OVERHEAD && s->sealed_len - MOPAY_SEAL_OVERHEAD < 36);
    mopay_id_format(MOPAY_ID_FUNDING_SOURCE, &s->id, sid);
    mopay_seal_ad(ad, "source", sid, "number");
    if (!mopay_keys_open_ad(w->options.keys->card_seal, ad, s->sealed_number, s->sealed_len, out, &len, &legacy))
        return false;
    out[len] = '\0';
    return true;
}

void mopay_wallet_fingerprint(const struct mopay_keys *keys, const char *text, uint8_t out[16])
{
    uint8_t full[32];
    mopay_keys_hash_secret(keys, text, strlen(text), full);
    memcpy(out, full, 16);
}
