/*
 * Arenas for the cJSON trees of one request: see sp_arena.h. Each thread
 * keeps a stack of its open arenas (to know which memory not to free) and
 * the one filling now; chunks come from sp_malloc, so that failure
 * injection reaches them too.
 */
#include "util/sp_arena.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>

#include "util/sp_alloc.h"

#define ALIGN alignof(max_align_t)

struct sp_arena_chunk {
    sp_arena_chunk *next;
    size_t size; /* bytes of data */
    size_t used;
    alignas(max_align_t) unsigned char data[];
};

static _Thread_local sp_arena *open_top;
static _Thread_local sp_arena *filling;

void sp_arena_open(sp_arena *a)
{
    a->chunks = NULL;
    a->filling_before = NULL;
    a->below = open_top;
    open_top = a;
}

void sp_arena_close(sp_arena *a)
{
    sp_arena **link = &open_top;

    while (*link && *link != a)
        link = &(*link)->below;
    if (*link)
        *link = a->below;
    while (a->chunks) {
        sp_arena_chunk *next = a->chunks->next;
        sp_free(a->chunks);
        a->chunks = next;
    }
}

void sp_arena_fill(sp_arena *a)
{
    a->filling_before = filling;
    filling = a;
}

void sp_arena_fill_end(sp_arena *a)
{
    filling = a->filling_before;
    a->filling_before = NULL;
}

/* A new chunk for at least size bytes, twice the last one's up to the
 * maximum. */
static sp_arena_chunk *add_chunk(sp_arena *a, size_t size)
{
    size_t want = a->chunks ? a->chunks->size * 2 : SP_ARENA_FIRST_CHUNK;
    sp_arena_chunk *c;

    if (want > SP_ARENA_MAX_CHUNK)
        want = SP_ARENA_MAX_CHUNK;
    if (want < size)
        want = size;
    if (want > SIZE_MAX - sizeof(*c))
        return NULL;
    c = sp_malloc(sizeof(*c) + want);
    if (!c)
        return NULL;
    c->next = a->chunks;
    c->size = want;
    c->used = 0;
    a->chunks = c;
    return c;
}

void *sp_arena_alloc(sp_arena *a, size_t size)
{
    sp_arena_chunk *c = a->chunks;
    void *p;

    if (size > SIZE_MAX - ALIGN)
        return NULL;
    size = (size + ALIGN - 1) & ~(ALIGN - 1);
    if (!size)
        size = ALIGN;
    if (!c || c->size - c->used < size)
        c = add_chunk(a, size);
    if (!c)
        return NULL;
    p = c->data + c->used;
    c->used += size;
    return p;
}

void *sp_arena_json_malloc(size_t size)
{
    return filling ? sp_arena_alloc(filling, size) : sp_malloc(size);
}

/* Whether p lies in a chunk of an arena open on this thread. */
static bool held(const void *p)
{
    uintptr_t at = (uintptr_t)p;

    for (const sp_arena *a = open_top; a; a = a->below)
        for (const sp_arena_chunk *c = a->chunks; c; c = c->next)
            if (at >= (uintptr_t)c->data && at < (uintptr_t)c->data + c->size)
                return true;
    return false;
}

void sp_arena_json_free(void *ptr)
{
    if (ptr && !held(ptr))
        sp_free(ptr);
}
