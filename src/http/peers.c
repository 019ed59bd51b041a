/* Open connections per peer network (internal.h): one client address, or one IPv6 /64, may not
 * hold all of --connections-max. The table has room for four times as many networks as there
 * can be connections, so a network with connections always finds its slot or a free one. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"

struct peer_slot {
    uint64_t key;   /* 0: never used */
    uint32_t count; /* 0 with a key: used before, free to take */
};

struct http_peer_counts {
    pthread_mutex_t lock;
    uint32_t per_peer_max;
    size_t mask;
    uint8_t hash_key[crypto_shorthash_KEYBYTES];
    struct peer_slot *slots;
};

struct http_peer_counts *http_peer_counts_new(size_t per_peer_max, size_t connections_max)
{
    MOPAY_ASSERT(per_peer_max > 0 && connections_max > 0);
    struct http_peer_counts *pc = calloc(1, sizeof(*pc));
    size_t slots = 64;
    while (slots < 4 * connections_max)
        slots *= 2;
    if (pc == NULL || (pc->slots = calloc(slots, sizeof(*pc->slots))) == NULL) {
        free(pc);
        return NULL;
    }
    pc->per_peer_max = per_peer_max > UINT32_MAX ? UINT32_MAX : (uint32_t)per_peer_max;
    pc->mask = slots - 1;
    randombytes_buf(pc->hash_key, sizeof(pc->hash_key));
    pthread_mutex_init(&pc->lock, NULL);
    return pc;
}

void http_peer_counts_free(struct http_peer_counts *pc)
{
    if (pc == NULL)
        return;
    pthread_mutex_destroy(&pc->lock);
    free(pc->slots);
    free(pc);
}

/* The network's key: SipHash of its 16 bytes, the same network the per-address rate limits
 * count (admit.c); every address of another family is one network. */
static uint64_t peer_key(const struct http_peer_counts *pc, const struct sockaddr *addr)
{
    uint8_t net[16] = {0}, out[crypto_shorthash_BYTES];
    if (http_sockaddr_bytes(addr, net))
        http_addr_network(net);
    crypto_shorthash(out, net, sizeof net, pc->hash_key);
    uint64_t key;
    memcpy(&key, out, sizeof key);
    return key != 0 ? key : 1;
}

/* The key's slot, or the first free one on its probe path (NULL only if the table were full of
 * live networks, which its size rules out). Under the lock. */
static struct peer_slot *peer_find(struct http_peer_counts *pc, uint64_t key)
{
    struct peer_slot *free_slot = NULL;
    for (size_t i = 0, at = key & pc->mask; i <= pc->mask; i++, at = (at + 1) & pc->mask) {
        struct peer_slot *slot = &pc->slots[at];
        if (slot->key == key)
            return slot;
        if (slot->count == 0 && free_slot == NULL)
            free_slot = slot;
        if (slot->key == 0)
            break;
    }
    return free_slot;
}

bool http_peer_take(struct http_peer_counts *pc, const struct sockaddr *addr, uint64_t *out_key)
{
    uint64_t key = peer_key(pc, addr);
    pthread_mutex_lock(&pc->lock);
    struct peer_slot *slot = peer_find(pc, key);
    MOPAY_ASSERT(slot != NULL); /* 4x as many slots as connections */
    bool ok = slot->key != key || slot->count < pc->per_peer_max;
    if (ok) {
        if (slot->key != key)
            *slot = (struct peer_slot){.key = key, .count = 0};
        slot->count++;
    }
    pthread_mutex_unlock(&pc->lock);
    *out_key = key;
    return ok;
}

void http_peer_release(struct http_peer_counts *pc, uint64_t key)
{
    pthread_mutex_lock(&pc->lock);
    struct peer_slot *slot = peer_find(pc, key);
    MOPAY_ASSERT(slot != NULL && slot->key == key && slot->count > 0);
    slot->count--;
    pthread_mutex_unlock(&pc->lock);
}
