#ifndef MOPAY_INDEX_H
#define MOPAY_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An in-memory hash index from a 16-byte key (an ID's bytes, or mopay_index_key_of_text of a
 * phone number) to a pointer: linear probing with backward-shift deletion, doubled when half
 * full. One writer; readers need the writer's lock when they are on other threads. Slots are
 * hashed with a per-process random key, so clients cannot aim many keys at one slot. */
struct mopay_index_slot {
    uint8_t key[16];
    void *value; /* NULL: empty */
};

struct mopay_index {
    struct mopay_index_slot *slots;
    size_t capacity; /* a power of two */
    size_t count;
};

/* false when out of memory. */
bool mopay_index_init(struct mopay_index *ix, size_t expected);
void mopay_index_deinit(struct mopay_index *ix);
/* NULL when absent. */
void *mopay_index_get(const struct mopay_index *ix, const uint8_t key[16]);
/* Inserts or replaces; value must not be NULL. false (and nothing changed) when growing the
 * index ran out of memory. */
bool mopay_index_put(struct mopay_index *ix, const uint8_t key[16], void *value);
/* The removed value, or NULL when absent. */
void *mopay_index_remove(struct mopay_index *ix, const uint8_t key[16]);
/* A 16-byte key for a text (keyed BLAKE2b-128). */
/* Calls fn with every value, in slot order; stops when fn returns false. */
void mopay_index_each(const struct mopay_index *ix, bool (*fn)(void *ctx, const void *value), void *ctx);

void mopay_index_key_of_text(const char *text, size_t len, uint8_t key[16]);

#endif
