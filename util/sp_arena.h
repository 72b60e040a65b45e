/*
 * Arenas for the cJSON trees of one request. Parsing a request builds
 * hundreds to thousands of small cJSON nodes (5,000 strings for a filter's
 * node names) that all die together when the request ends; taking them one
 * by one from malloc and giving them back one by one was a third of the
 * cost of an admission review. While an arena is filling (sp_arena_fill),
 * cJSON's allocations on this thread are bump-allocated from it; freeing
 * such a node is a no-op, and sp_arena_close gives all of it back at once.
 * Allocations made while it is not filling (a node added to the tree later,
 * a printed string) are ordinary ones, freed as usual: trees may mix both.
 *
 * The one rule: close an arena only after every tree (and detached item)
 * parsed into it is deleted or abandoned, on the thread that opened it.
 * cJSON's hooks come from sp_alloc_install_json_hooks.
 */
#ifndef SP_ARENA_H
#define SP_ARENA_H

#include <stdbool.h>
#include <stddef.h>

#define SP_ARENA_FIRST_CHUNK (64u << 10) /* bytes; later chunks double, to ... */
#define SP_ARENA_MAX_CHUNK (1u << 20)    /* ... at most this (or one allocation) */

typedef struct sp_arena_chunk sp_arena_chunk;

typedef struct sp_arena {
    sp_arena_chunk *chunks;  /* newest first */
    struct sp_arena *below;  /* the arena opened before it on this thread */
    struct sp_arena *filling_before; /* what was filling when sp_arena_fill began */
} sp_arena;

/* Open an empty arena on this thread (it allocates nothing yet). */
void sp_arena_open(sp_arena *a);

/* Give back everything allocated from a; a may be reopened. */
void sp_arena_close(sp_arena *a);

/* From now until sp_arena_fill_end, cJSON allocations on this thread
 * come from a (which must be open). Pairs nest. */
void sp_arena_fill(sp_arena *a);
void sp_arena_fill_end(sp_arena *a);

/* size bytes from a (which must be open), aligned for any type; NULL when
 * memory runs out. They live until sp_arena_close. */
void *sp_arena_alloc(sp_arena *a, size_t size);

/* cJSON's allocator: from the filling arena of this thread, else sp_malloc.
 * NULL when memory runs out. */
void *sp_arena_json_malloc(size_t size);

/* cJSON's deallocator: nothing for memory of an open arena of this thread,
 * sp_free otherwise. */
void sp_arena_json_free(void *ptr);

#endif /* SP_ARENA_H */
