/*
 * The one allocation path of streams-placer. Every heap allocation (ours and
 * cJSON's, through sp_alloc_install_json_hooks) goes through these wrappers so
 * that a test can make the Nth allocation fail and check that the error path
 * frees everything and reports SP_ENOMEM instead of crashing.
 */
#ifndef SP_ALLOC_H
#define SP_ALLOC_H

#include <stddef.h>

void *sp_malloc(size_t size);
void *sp_calloc(size_t count, size_t size);
void *sp_realloc(void *ptr, size_t size);
/* A copy of s (NULL when s is NULL or memory runs out); caller frees. */
char *sp_strdup(const char *s);
/* A NUL-terminated copy of the first n bytes of s; caller frees. */
char *sp_strndup(const char *s, size_t n);
void sp_free(void *ptr);

/*
 * Grow *arr (of elements of elem_size bytes, capacity *cap) so that it holds at
 * least need elements, doubling. Returns 0, or -1 when memory runs out (the
 * array is then untouched).
 */
int sp_grow(void *arr, size_t *cap, size_t need, size_t elem_size)
    __attribute__((warn_unused_result));

/* Route cJSON's allocations through sp_malloc/sp_free, or the arena filling
 * on the calling thread (util/sp_arena.h). Call once at start. */
void sp_alloc_install_json_hooks(void);

/*
 * Test hook: the allocation after `n` more successful ones fails (n = 0: the
 * next one). A negative n turns failure injection off (the default).
 */
void sp_alloc_fail_after(long n);

/* Test hook: how many allocations have failed by injection so far. */
unsigned long sp_alloc_injected_failures(void);

#endif /* SP_ALLOC_H */
