/*
 * An informer's index of the objects it has delivered: namespace/name ->
 * uid and resourceVersion, and the list that last saw it. It is what lets a
 * relist deliver deletions the watch missed, suppress unchanged duplicates
 * after a reconnect, and tell a recreated object (same name, new uid) from
 * an update. Entries live in one array; the map points into it, and a
 * removal moves the last entry into the hole.
 */
#include <string.h>

#include "kapi/kapi_internal.h"
#include "util/sp_alloc.h"

void kapi_index_init(kapi_index *ix)
{
    memset(ix, 0, sizeof(*ix));
    sp_map_init(&ix->map);
}

static void entry_free(kapi_entry *e)
{
    sp_free(e->key);
    sp_free(e->uid);
    sp_free(e->rv);
}

void kapi_index_free(kapi_index *ix)
{
    for (size_t i = 0; i < ix->n; i++)
        entry_free(&ix->entries[i]);
    sp_free(ix->entries);
    sp_map_free(&ix->map);
    memset(ix, 0, sizeof(*ix));
}

kapi_entry *kapi_index_find(kapi_index *ix, const char *key)
{
    int64_t at;

    return sp_map_get(&ix->map, key, &at) ? &ix->entries[at] : NULL;
}

/* Replace *slot with a copy of s; false (and *slot kept) on ENOMEM. */
static bool replace(char **slot, const char *s)
{
    char *copy;

    if (*slot && strcmp(*slot, s) == 0)
        return true;
    copy = sp_strdup(s);
    if (!copy)
        return false;
    sp_free(*slot);
    *slot = copy;
    return true;
}

sp_rc kapi_index_put(kapi_index *ix, const char *key, const char *uid, const char *rv,
                     uint64_t gen)
{
    kapi_entry *e = kapi_index_find(ix, key);
    kapi_entry fresh = { 0 };

    if (e) {
        char *old_uid = e->uid, *old_rv = e->rv;
        /* Copy both first, so that a failure leaves the entry as it was. */
        e->uid = NULL;
        e->rv = NULL;
        if (!replace(&e->uid, uid) || !replace(&e->rv, rv)) {
            sp_free(e->uid);
            sp_free(e->rv);
            e->uid = old_uid;
            e->rv = old_rv;
            return SP_ENOMEM;
        }
        sp_free(old_uid);
        sp_free(old_rv);
        e->gen = gen;
        return SP_OK;
    }
    if (sp_grow(&ix->entries, &ix->cap, ix->n + 1, sizeof(*ix->entries)))
        return SP_ENOMEM;
    fresh.key = sp_strdup(key);
    fresh.uid = sp_strdup(uid);
    fresh.rv = sp_strdup(rv);
    fresh.gen = gen;
    if (!fresh.key || !fresh.uid || !fresh.rv ||
        sp_map_put(&ix->map, key, (int64_t)ix->n) != SP_OK) {
        entry_free(&fresh);
        return SP_ENOMEM;
    }
    ix->entries[ix->n++] = fresh;
    return SP_OK;
}

bool kapi_index_del(kapi_index *ix, const char *key)
{
    int64_t at;
    size_t last;

    if (!sp_map_get(&ix->map, key, &at))
        return false;
    (void)sp_map_del(&ix->map, key);
    entry_free(&ix->entries[at]);
    last = ix->n - 1;
    if ((size_t)at != last) {
        ix->entries[at] = ix->entries[last];
        /* Overwriting an existing key's value cannot fail: no allocation. */
        if (sp_map_put(&ix->map, ix->entries[at].key, at) != SP_OK)
            ix->entries[at].gen = 0;
    }
    ix->n = last;
    return true;
}
