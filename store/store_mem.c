/*
 * SQLite's allocator routed through sp_alloc (see store_internal.h), so that
 * the one allocation path of streams-placer covers the embedded database too:
 * a test that makes the Nth allocation fail reaches SQLite's allocations, and
 * the store must then answer SP_ENOMEM and leave the database as it was.
 * SQLite asks for the size of a live allocation, so each block carries its
 * size in a header aligned for any type.
 */
#include <pthread.h>
#include <stddef.h>

#include "store/store_internal.h"
#include "util/sp_alloc.h"

typedef union mem_head {
    size_t size;
    max_align_t align;
} mem_head;

static void *mem_malloc(int n)
{
    mem_head *h;

    if (n <= 0)
        return NULL;
    h = sp_malloc(sizeof(*h) + (size_t)n);
    if (!h)
        return NULL;
    h->size = (size_t)n;
    return h + 1;
}

static void mem_free(void *p)
{
    if (p)
        sp_free((mem_head *)p - 1);
}

static void *mem_realloc(void *p, int n)
{
    mem_head *h;

    if (!p)
        return mem_malloc(n);
    if (n <= 0)
        return NULL;
    h = sp_realloc((mem_head *)p - 1, sizeof(*h) + (size_t)n);
    if (!h)
        return NULL;
    h->size = (size_t)n;
    return h + 1;
}

static int mem_size(void *p)
{
    return p ? (int)((mem_head *)p - 1)->size : 0;
}

static int mem_roundup(int n)
{
    return (n + 7) & ~7;
}

static int mem_init(void *unused)
{
    (void)unused;
    return SQLITE_OK;
}

static void mem_shutdown(void *unused)
{
    (void)unused;
}

static void mem_install_once(void)
{
    static const sqlite3_mem_methods methods = {
        mem_malloc, mem_free, mem_realloc, mem_size, mem_roundup,
        mem_init, mem_shutdown, NULL,
    };

    /* SQLITE_MISUSE when SQLite is already initialised: it then keeps its own
     * allocator, which is correct, only not injectable. */
    (void)sqlite3_config(SQLITE_CONFIG_MALLOC, &methods);
}

void store_mem_install(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;

    (void)pthread_once(&once, mem_install_once);
}
