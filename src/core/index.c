#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include <sodium.h>

#include "mopay/assert.h"
#include "mopay/index.h"

static uint8_t index_hash_key[crypto_shorthash_KEYBYTES];
static pthread_once_t index_hash_once = PTHREAD_ONCE_INIT;

static void index_hash_key_make(void)
{
    MOPAY_ASSERT(sodium_init() >= 0);
    randombytes_buf(index_hash_key, sizeof(index_hash_key));
}

static size_t slot_of(const struct mopay_index *ix, const uint8_t key[16])
{
    uint64_t h;
    crypto_shorthash((unsigned char *)&h, key, 16, index_hash_key);
    return (size_t)h & (ix->capacity - 1);
}

static bool index_alloc(struct mopay_index *ix, size_t capacity)
{
    ix->slots = calloc(capacity, sizeof(*ix->slots));
    ix->capacity = capacity;
    ix->count = 0;
    return ix->slots != NULL;
}

bool mopay_index_init(struct mopay_index *ix, size_t expected)
{
    pthread_once(&index_hash_once, index_hash_key_make);
    size_t capacity = 16;
    while (capacity < 2 * expected)
        capacity *= 2;
    return index_alloc(ix, capacity);
}

void mopay_index_deinit(struct mopay_index *ix)
{
    free(ix->slots);
    memset(ix, 0, sizeof(*ix));
}

void *mopay_index_get(const struct mopay_index *ix, const uint8_t key[16])
{
    for (size_t i = slot_of(ix, key), n = 0; n < ix->capacity; i = (i + 1) & (ix->capacity - 1), n++) {
        if (ix->slots[i].value == NULL)
            return NULL;
        if (memcmp(ix->slots[i].key, key, 16) == 0)
            return ix->slots[i].value;
    }
    return NULL;
}

/* Places without growing; the caller made sure a free slot exists. */
static void index_place(struct mopay_index *ix, const uint8_t key[16], void *value)
{
    size_t i = slot_of(ix, key);
    while (ix->slots[i].value != NULL && memcmp(ix->slots[i].key, key, 16) != 0)
        i = (i + 1) & (ix->capacity - 1);
    if (ix->slots[i].value == NULL)
        ix->count++;
    memcpy(ix->slots[i].key, key, 16);
    ix->slots[i].value = value;
}

static bool index_grow(struct mopay_index *ix)
{
    struct mopay_index bigger;
    if (ix->capacity > SIZE_MAX / 2 / sizeof(*ix->slots) || !index_alloc(&bigger, ix->capacity * 2))
        return false;
    for (size_t i = 0; i < ix->capacity; i++)
        if (ix->slots[i].value != NULL)
            index_place(&bigger, ix->slots[i].key, ix->slots[i].value);
    free(ix->slots);
    *ix = bigger;
    return true;
}

bool mopay_index_put(struct mopay_index *ix, const uint8_t key[16], void *value)
{
    MOPAY_ASSERT(value != NULL);
    if (2 * (ix->count + 1) > ix->capacity && mopay_index_get(ix, key) == NULL && !index_grow(ix))
        return false;
    index_place(ix, key, value);
    return true;
}

void *mopay_index_remove(struct mopay_index *ix, const uint8_t key[16])
{
    size_t mask = ix->capacity - 1, i = slot_of(ix, key);
    while (ix->slots[i].value != NULL && memcmp(ix->slots[i].key, key, 16) != 0)
        i = (i + 1) & mask;
    void *value = ix->slots[i].value;
    if (value == NULL)
        return NULL;
    /* Backward shift: pull later members of the probe run into the hole when their home slot
     * does not lie (cyclically) after the hole, so every lookup still finds them. */
    for (size_t j = (i + 1) & mask; ix->slots[j].value != NULL; j = (j + 1) & mask) {
        size_t home = slot_of(ix, ix->slots[j].key);
        if (((j - home) & mask) >= ((j - i) & mask)) {
            ix->slots[i] = ix->slots[j];
            i = j;
        }
    }
    ix->slots[i].value = NULL;
    ix->count--;
    return value;
}

void mopay_index_key_of_text(const char *text, size_t len, uint8_t key[16])
{
    pthread_once(&index_hash_once, index_hash_key_make);
    crypto_generichash(key, 16, (const unsigned char *)text, len, index_hash_key, sizeof(index_hash_key));
}

void mopay_index_each(const struct mopay_index *ix, bool (*fn)(void *ctx, const void *value), void *ctx)
{
    for (size_t i = 0; i < ix->capacity; i++)
        if (ix->slots[i].value != NULL && !fn(ctx, ix->slots[i].value))
            return;
}
