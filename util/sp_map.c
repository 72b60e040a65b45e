/*
 * Open-addressing hash maps and the string interner: see sp_map.h. Tables
 * grow at 70% occupancy (tombstones included) and rehash without tombstones.
 */
#include "util/sp_map.h"

#include <string.h>

#include "util/sp_alloc.h"

static char tombstone_mark;
#define SP_MAP_TOMBSTONE (&tombstone_mark)

uint64_t sp_hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

uint64_t sp_hash_bytes(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return sp_hash_u64(h);
}

/* ------------------------------------------------------------------------ */
/* String map                                                                 */
/* ------------------------------------------------------------------------ */

void sp_map_init(sp_map *m)
{
    memset(m, 0, sizeof(*m));
}

void sp_map_free(sp_map *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key && m->slots[i].key != SP_MAP_TOMBSTONE)
            sp_free(m->slots[i].key);
    sp_free(m->slots);
    sp_map_init(m);
}

static bool key_matches(const sp_map_slot *s, uint64_t hash, const char *key,
                        size_t len)
{
    return s->key != SP_MAP_TOMBSTONE && s->hash == hash &&
           strncmp(s->key, key, len) == 0 && s->key[len] == '\0';
}

/* The slot holding key, or the empty slot where probing stopped, or NULL. */
static sp_map_slot *map_find(const sp_map *m, const char *key, size_t len,
                             uint64_t hash)
{
    size_t mask, i;

    if (!m->cap)
        return NULL;
    mask = m->cap - 1;
    for (i = hash & mask;; i = (i + 1) & mask) {
        sp_map_slot *s = &m->slots[i];
        if (!s->key || key_matches(s, hash, key, len))
            return s;
    }
}

bool sp_map_getn(const sp_map *m, const char *key, size_t len, int64_t *value)
{
    sp_map_slot *s = map_find(m, key, len, sp_hash_bytes(key, len));

    if (!s || !s->key)
        return false;
    if (value)
        *value = s->value;
    return true;
}

bool sp_map_get(const sp_map *m, const char *key, int64_t *value)
{
    return sp_map_getn(m, key, strlen(key), value);
}

static sp_rc map_rehash(sp_map *m, size_t new_cap)
{
    sp_map_slot *old = m->slots;
    size_t old_cap = m->cap;
    sp_map_slot *slots = sp_calloc(new_cap, sizeof(*slots));

    if (!slots)
        return SP_ENOMEM;
    m->slots = slots;
    m->cap = new_cap;
    m->used = m->count;
    for (size_t i = 0; i < old_cap; i++) {
        sp_map_slot *s = &old[i];
        size_t j;
        if (!s->key || s->key == SP_MAP_TOMBSTONE)
            continue;
        for (j = s->hash & (new_cap - 1); slots[j].key; j = (j + 1) & (new_cap - 1))
            ;
        slots[j] = *s;
    }
    sp_free(old);
    return SP_OK;
}

sp_rc sp_map_put(sp_map *m, const char *key, int64_t value)
{
    size_t len = strlen(key);
    uint64_t hash = sp_hash_bytes(key, len);
    sp_map_slot *s;
    char *copy;

    s = map_find(m, key, len, hash);
    if (s && s->key) {
        s->value = value;
        return SP_OK;
    }
    if ((m->used + 1) * 10 >= m->cap * 7) {
        size_t new_cap = m->cap ? m->cap : 16;
        while ((m->count + 1) * 10 >= new_cap * 5)
            new_cap *= 2;
        if (map_rehash(m, new_cap))
            return SP_ENOMEM;
        s = map_find(m, key, len, hash);
    }
    copy = sp_strndup(key, len);
    if (!copy)
        return SP_ENOMEM;
    s->key = copy;
    s->hash = hash;
    s->value = value;
    m->count++;
    m->used++;
    return SP_OK;
}

bool sp_map_del(sp_map *m, const char *key)
{
    size_t len = strlen(key);
    sp_map_slot *s = map_find(m, key, len, sp_hash_bytes(key, len));

    if (!s || !s->key)
        return false;
    sp_free(s->key);
    s->key = SP_MAP_TOMBSTONE;
    m->count--;
    return true;
}

/* ------------------------------------------------------------------------ */
/* Integer map                                                                */
/* ------------------------------------------------------------------------ */

void sp_imap_init(sp_imap *m)
{
    memset(m, 0, sizeof(*m));
}

void sp_imap_free(sp_imap *m)
{
    if (!m)
        return;
    sp_free(m->slots);
    sp_imap_init(m);
}

void sp_imap_clear(sp_imap *m)
{
    if (m->slots)
        memset(m->slots, 0, m->cap * sizeof(*m->slots));
    m->count = 0;
    m->used = 0;
}

static sp_imap_slot *imap_find(const sp_imap *m, uint64_t key)
{
    size_t mask, i;

    if (!m->cap)
        return NULL;
    mask = m->cap - 1;
    for (i = sp_hash_u64(key) & mask;; i = (i + 1) & mask) {
        sp_imap_slot *s = &m->slots[i];
        if (s->state == 0 || (s->state == 1 && s->key == key))
            return s;
    }
}

bool sp_imap_get(const sp_imap *m, uint64_t key, int64_t *value)
{
    sp_imap_slot *s = imap_find(m, key);

    if (!s || s->state != 1)
        return false;
    if (value)
        *value = s->value;
    return true;
}

static sp_rc imap_rehash(sp_imap *m, size_t new_cap)
{
    sp_imap_slot *old = m->slots;
    size_t old_cap = m->cap;
    sp_imap_slot *slots = sp_calloc(new_cap, sizeof(*slots));

    if (!slots)
        return SP_ENOMEM;
    m->slots = slots;
    m->cap = new_cap;
    m->used = m->count;
    for (size_t i = 0; i < old_cap; i++) {
        size_t j;
        if (old[i].state != 1)
            continue;
        for (j = sp_hash_u64(old[i].key) & (new_cap - 1); slots[j].state;
             j = (j + 1) & (new_cap - 1))
            ;
        slots[j] = old[i];
    }
    sp_free(old);
    return SP_OK;
}

sp_rc sp_imap_put(sp_imap *m, uint64_t key, int64_t value)
{
    sp_imap_slot *s = imap_find(m, key);

    if (s && s->state == 1) {
        s->value = value;
        return SP_OK;
    }
    if ((m->used + 1) * 10 >= m->cap * 7) {
        size_t new_cap = m->cap ? m->cap : 16;
        while ((m->count + 1) * 10 >= new_cap * 5)
            new_cap *= 2;
        if (imap_rehash(m, new_cap))
            return SP_ENOMEM;
        s = imap_find(m, key);
    }
    s->key = key;
    s->value = value;
    s->state = 1;
    m->count++;
    m->used++;
    return SP_OK;
}

bool sp_imap_del(sp_imap *m, uint64_t key)
{
    sp_imap_slot *s = imap_find(m, key);

    if (!s || s->state != 1)
        return false;
    s->state = 2;
    m->count--;
    return true;
}

/* ------------------------------------------------------------------------ */
/* Interner                                                                   */
/* ------------------------------------------------------------------------ */

void sp_intern_init(sp_intern *in)
{
    memset(in, 0, sizeof(*in));
    sp_map_init(&in->index);
}

void sp_intern_free(sp_intern *in)
{
    if (!in)
        return;
    for (size_t i = 0; i < in->count; i++)
        sp_free(in->strings[i]);
    sp_free(in->strings);
    sp_map_free(&in->index);
    sp_intern_init(in);
}

int32_t sp_intern_find(const sp_intern *in, const char *s)
{
    int64_t id;

    return sp_map_get(&in->index, s, &id) ? (int32_t)id : -1;
}

sp_rc sp_intern_id(sp_intern *in, const char *s, int32_t *id)
{
    int32_t found = sp_intern_find(in, s);
    char *copy;

    if (found >= 0) {
        *id = found;
        return SP_OK;
    }
    if (in->count >= INT32_MAX)
        return SP_ELIMIT;
    if (sp_grow(&in->strings, &in->cap, in->count + 1, sizeof(*in->strings)))
        return SP_ENOMEM;
    copy = sp_strdup(s);
    if (!copy)
        return SP_ENOMEM;
    if (sp_map_put(&in->index, s, (int64_t)in->count)) {
        sp_free(copy);
        return SP_ENOMEM;
    }
    in->strings[in->count] = copy;
    *id = (int32_t)in->count++;
    return SP_OK;
}

const char *sp_intern_str(const sp_intern *in, int32_t id)
{
    return in->strings[id];
}
