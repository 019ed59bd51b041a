/* Blocklist entries in the journal: their table, and how replay puts them back. The engine is
 * the kind's state; an entry's key is its list and its 16 bytes. */
#include <string.h>

#include "internal.h"
#include "mopay/codec.h"

#define B struct mopay_risk_block_entry
static const struct mopay_codec_field block_fields[] = {
    MOPAY_CODEC_UINT_FIELD(B, list),
    MOPAY_CODEC_BYTES_FIELD(B, key),
};
#undef B

static enum mopay_err block_apply(void *state, const void *image, char *why, size_t why_cap)
{
    const struct mopay_risk_block_entry *in = image;
    if (in->list >= MOPAY_RISK_LIST_COUNT)
        return mopay_codec_refuse(why, why_cap, "blocklist entry", "no such list");
    if (!mopay_risk_block(state, (enum mopay_risk_list)in->list, in->key))
        return mopay_codec_refuse(why, why_cap, "blocklist entry", "out of memory");
    return MOPAY_OK;
}

static enum mopay_err block_remove(void *state, const void *image, char *why, size_t why_cap)
{
    const struct mopay_risk_block_entry *in = image;
    if (in->list >= MOPAY_RISK_LIST_COUNT || !mopay_risk_unblock(state, (enum mopay_risk_list)in->list, in->key))
        return mopay_codec_refuse(why, why_cap, "blocklist entry", "removed, but not on its list");
    return MOPAY_OK;
}

struct block_each {
    bool (*fn)(void *ctx, const void *record);
    void *ctx;
};

static bool block_each_one(void *ctx, enum mopay_risk_list list, const uint8_t key[16])
{
    struct block_each *e = ctx;
    struct mopay_risk_block_entry entry = {.list = (uint8_t)list};
    memcpy(entry.key, key, sizeof(entry.key));
    return e->fn(e->ctx, &entry);
}

static void block_each(void *state, bool (*fn)(void *ctx, const void *record), void *ctx)
{
    struct block_each e = {fn, ctx};
    mopay_risk_block_each(state, block_each_one, &e);
}

const struct mopay_record_kind mopay_risk_block_kind = {
    .name = "riskblock",
    .tag = MOPAY_RECORD_RISK_BLOCK,
    .version = 1,
    .size = sizeof(struct mopay_risk_block_entry),
    .fields = block_fields,
    .field_count = sizeof(block_fields) / sizeof(block_fields[0]),
    .apply = block_apply,
    .remove = block_remove,
    .each = block_each,
};
