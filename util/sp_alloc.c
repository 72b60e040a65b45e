/*
 * Allocation wrappers with failure injection: see sp_alloc.h. The counter is
 * atomic so that failure injection also works with the server's thread pool.
 */
#include "util/sp_alloc.h"
#include "util/sp_arena.h"

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_long fail_countdown = -1;
static atomic_ulong injected_failures;

/* True when failure injection says this allocation must fail. */
static int should_fail(void)
{
    long left = atomic_load_explicit(&fail_countdown, memory_order_relaxed);

    if (left < 0)
        return 0;
    left = atomic_fetch_sub(&fail_countdown, 1);
    if (left == 0) {
        atomic_fetch_add(&injected_failures, 1);
        return 1;
    }
    if (left < 0)
        atomic_store(&fail_countdown, -1);
    return 0;
}

void *sp_malloc(size_t size)
{
    if (should_fail())
        return NULL;
    return malloc(size ? size : 1);
}

void *sp_calloc(size_t count, size_t size)
{
    if (should_fail())
        return NULL;
    if (!count || !size)
        count = size = 1;
    return calloc(count, size);
}

void *sp_realloc(void *ptr, size_t size)
{
    if (should_fail())
        return NULL;
    return realloc(ptr, size ? size : 1);
}

char *sp_strndup(const char *s, size_t n)
{
    char *copy;

    if (!s)
        return NULL;
    copy = sp_malloc(n + 1);
    if (!copy)
        return NULL;
    memcpy(copy, s, n);
    copy[n] = '\0';
    return copy;
}

char *sp_strdup(const char *s)
{
    return s ? sp_strndup(s, strlen(s)) : NULL;
}

void sp_free(void *ptr)
{
    free(ptr);
}

int sp_grow(void *arr, size_t *cap, size_t need, size_t elem_size)
{
    void **slot = arr;
    size_t new_cap = *cap ? *cap : 8;
    void *grown;

    if (need <= *cap)
        return 0;
    while (new_cap < need) {
        if (new_cap > ((size_t)-1) / 2)
            return -1;
        new_cap *= 2;
    }
    if (new_cap > ((size_t)-1) / elem_size)
        return -1;
    grown = sp_realloc(*slot, new_cap * elem_size);
    if (!grown)
        return -1;
    *slot = grown;
    *cap = new_cap;
    return 0;
}

void sp_alloc_install_json_hooks(void)
{
    cJSON_Hooks hooks = { .malloc_fn = sp_arena_json_malloc, .free_fn = sp_arena_json_free };

    cJSON_InitHooks(&hooks);
}

void sp_alloc_fail_after(long n)
{
    atomic_store(&fail_countdown, n < 0 ? -1 : n);
}

unsigned long sp_alloc_injected_failures(void)
{
    return atomic_load(&injected_failures);
}
