#ifndef MOPAY_ARENA_H
#define MOPAY_ARENA_H

#include <stdbool.h>
#include <stddef.h>

/* A request arena: allocations are bump-pointer from chunks and are all freed in one go at
 * the end of the request. Handlers never free fields one by one. The first chunk is kept
 * across resets, so a steady stream of small requests does not call malloc. */
struct mopay_arena_chunk;

struct mopay_arena {
    struct mopay_arena_chunk *head; /* current chunk; older ones follow */
    size_t used_bytes;              /* across all chunks, capped by MOPAY_ARENA_BYTES_MAX */
    bool refused;                   /* an allocation hit the cap since init or reset */
};

void mopay_arena_init(struct mopay_arena *arena);
void mopay_arena_deinit(struct mopay_arena *arena);
/* Frees everything allocated since init or the last reset. */
void mopay_arena_reset(struct mopay_arena *arena);
/* 16-byte aligned; NULL when the request would pass MOPAY_ARENA_BYTES_MAX or memory is out. */
void *mopay_arena_alloc(struct mopay_arena *arena, size_t size);
char *mopay_arena_strndup(struct mopay_arena *arena, const char *s, size_t len);

/* Routes jansson's allocations on the calling thread into `arena` until called with NULL, so
 * parsing a request body costs no malloc and its JSON tree dies with the arena. Call
 * mopay_arena_json_install() once at start-up, before any jansson use. */
void mopay_arena_json_install(void);
void mopay_arena_json_use(struct mopay_arena *arena);

#endif
