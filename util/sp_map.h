/*
 * Hash maps used by the engine's indexes: node name -> node, "ns/job" -> job,
 * pod uid -> PE, and (id, node) pairs. Open addressing with linear probing and
 * tombstones; a lookup is one hash and a short probe, never a scan of the
 * whole table. Two flavours share the design:
 *   sp_map  - string keys (copied and owned by the map) to int64 values;
 *   sp_imap - uint64 keys to int64 values.
 * An interner (sp_intern) turns strings into dense ids for cheap comparison.
 */
#ifndef SP_MAP_H
#define SP_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/sp_error.h"

typedef struct sp_map_slot {
    char *key;      /* NULL: empty; SP_MAP_TOMBSTONE: deleted */
    uint64_t hash;
    int64_t value;
} sp_map_slot;

typedef struct sp_map {
    sp_map_slot *slots;
    size_t cap;     /* a power of two, or 0 */
    size_t count;   /* live keys */
    size_t used;    /* live keys plus tombstones */
} sp_map;

void sp_map_init(sp_map *m);
void sp_map_free(sp_map *m);

/* The value stored under key in *value; false when absent. */
bool sp_map_get(const sp_map *m, const char *key, int64_t *value);
/* The same for a key given as a pointer and a length (not NUL-terminated). */
bool sp_map_getn(const sp_map *m, const char *key, size_t len, int64_t *value);

/* Insert or overwrite key (copied). SP_ENOMEM leaves the map unchanged. */
sp_rc sp_map_put(sp_map *m, const char *key, int64_t value)
    __attribute__((warn_unused_result));

/* Remove key; true when it was present. */
bool sp_map_del(sp_map *m, const char *key);

typedef struct sp_imap_slot {
    uint64_t key;
    int64_t value;
    uint8_t state;  /* 0 empty, 1 live, 2 tombstone */
} sp_imap_slot;

typedef struct sp_imap {
    sp_imap_slot *slots;
    size_t cap;
    size_t count;
    size_t used;
} sp_imap;

void sp_imap_init(sp_imap *m);
void sp_imap_free(sp_imap *m);
bool sp_imap_get(const sp_imap *m, uint64_t key, int64_t *value);
sp_rc sp_imap_put(sp_imap *m, uint64_t key, int64_t value)
    __attribute__((warn_unused_result));
bool sp_imap_del(sp_imap *m, uint64_t key);
/* Forget every key but keep the allocation. */
void sp_imap_clear(sp_imap *m);

/*
 * String interner: equal strings get equal ids, ids are dense from 0, and the
 * strings live as long as the interner. For vocabularies that do not churn
 * (tags, ids, job and pool names); keys that come and go (pod uids) belong in
 * an sp_map.
 */
typedef struct sp_intern {
    sp_map index;    /* string -> id */
    char **strings;  /* id -> string (owned) */
    size_t count;
    size_t cap;
} sp_intern;

void sp_intern_init(sp_intern *in);
void sp_intern_free(sp_intern *in);
/* The id of s, adding it when new. SP_ENOMEM leaves *id untouched. */
sp_rc sp_intern_id(sp_intern *in, const char *s, int32_t *id)
    __attribute__((warn_unused_result));
/* The id of s, or -1 when s was never interned. */
int32_t sp_intern_find(const sp_intern *in, const char *s);
/* The string of id (borrowed); id must be valid. */
const char *sp_intern_str(const sp_intern *in, int32_t id);

/* 64-bit hash of len bytes (FNV-1a folded with a final mix). */
uint64_t sp_hash_bytes(const void *data, size_t len);
/* 64-bit mix of an integer key. */
uint64_t sp_hash_u64(uint64_t x);

#endif /* SP_MAP_H */
