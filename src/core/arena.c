#include "mopay/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "mopay/assert.h"
#include "mopay/limits.h"

struct mopay_arena_chunk {
    struct mopay_arena_chunk *next;
    size_t cap;
    size_t used;
    _Alignas(16) unsigned char data[];
};

static struct mopay_arena_chunk *chunk_new(size_t cap)
{
    struct mopay_arena_chunk *c = malloc(sizeof(*c) + cap);
    if (c == NULL)
        return NULL;
    c->next = NULL;
    c->cap = cap;
    c->used = 0;
    return c;
}

void mopay_arena_init(struct mopay_arena *arena)
{
    arena->head = NULL;
    arena->used_bytes = 0;
    arena->refused = false;
}

/* A request's arena held its body (PINs, card numbers) and its reply (keys, secrets): what was
 * used is wiped before the chunk is freed or reused. */
static void chunk_wipe(struct mopay_arena_chunk *c)
{
    sodium_memzero(c->data, c->used);
    c->used = 0;
}

void mopay_arena_deinit(struct mopay_arena *arena)
{
    struct mopay_arena_chunk *c = arena->head;
    while (c != NULL) {
        struct mopay_arena_chunk *next = c->next;
        chunk_wipe(c);
        free(c);
        c = next;
    }
    arena->head = NULL;
    arena->used_bytes = 0;
}

void mopay_arena_reset(struct mopay_arena *arena)
{
    struct mopay_arena_chunk *keep = arena->head;
    if (keep == NULL)
        return;
    /* keep the oldest (first) chunk if it has the default size; free the rest */
    struct mopay_arena_chunk *c = arena->head, *last = NULL;
    while (c != NULL) {
        struct mopay_arena_chunk *next = c->next;
        chunk_wipe(c);
        if (next == NULL && c->cap == MOPAY_ARENA_CHUNK_BYTES)
            last = c;
        else
            free(c);
        c = next;
    }
    arena->head = last;
    arena->used_bytes = 0;
    arena->refused = false;
}

void *mopay_arena_alloc(struct mopay_arena *arena, size_t size)
{
    size_t need = (size + 15) & ~(size_t)15;
    if (need < size || arena->used_bytes + need > MOPAY_ARENA_BYTES_MAX) {
        arena->refused = true;
        return NULL;
    }
    struct mopay_arena_chunk *c = arena->head;
    if (c == NULL || c->cap - c->used < need) {
        size_t cap = need > MOPAY_ARENA_CHUNK_BYTES ? need : MOPAY_ARENA_CHUNK_BYTES;
        struct mopay_arena_chunk *fresh = chunk_new(cap);
        if (fresh == NULL)
            return NULL;
        fresh->next = c;
        arena->head = c = fresh;
    }
    void *p = c->data + c->used;
    c->used += need;
    arena->used_bytes += need;
    return p;
}

char *mopay_arena_strndup(struct mopay_arena *arena, const char *s, size_t len)
{
    char *p = mopay_arena_alloc(arena, len + 1);
    if (p != NULL) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

/* jansson hook: each block carries a 16-byte header saying whether it came from an arena
 * (freed, and wiped, with the arena) or from malloc (wiped and freed here: a reply's JSON tree
 * may hold a new key or a device's secret), and its size. */
static _Thread_local struct mopay_arena *json_arena;

#define JSON_BLOCK_HEADER 16
#define JSON_FROM_MALLOC 0x6d616c6cu
#define JSON_FROM_ARENA 0x6172656eu

static void *json_block_alloc(size_t size)
{
    unsigned char *p;
    uint32_t tag;
    if (size > SIZE_MAX - JSON_BLOCK_HEADER)
        return NULL;
    if (json_arena != NULL) {
        p = mopay_arena_alloc(json_arena, size + JSON_BLOCK_HEADER);
        tag = JSON_FROM_ARENA;
    } else {
        p = malloc(size + JSON_BLOCK_HEADER);
        tag = JSON_FROM_MALLOC;
    }
    if (p == NULL)
        return NULL;
    memcpy(p, &tag, sizeof(tag));
    memcpy(p + 8, &size, sizeof(size));
    return p + JSON_BLOCK_HEADER;
}

static void json_block_free(void *ptr)
{
    if (ptr == NULL)
        return;
    unsigned char *p = (unsigned char *)ptr - JSON_BLOCK_HEADER;
    uint32_t tag;
    memcpy(&tag, p, sizeof(tag));
    MOPAY_ASSERT(tag == JSON_FROM_MALLOC || tag == JSON_FROM_ARENA);
    if (tag == JSON_FROM_MALLOC) {
        size_t size;
        memcpy(&size, p + 8, sizeof(size));
        sodium_memzero(p, size + JSON_BLOCK_HEADER);
        free(p);
    }
}

void mopay_arena_json_install(void)
{
    json_set_alloc_funcs(json_block_alloc, json_block_free);
}

void mopay_arena_json_use(struct mopay_arena *arena)
{
    json_arena = arena;
}
