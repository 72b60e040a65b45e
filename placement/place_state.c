/*
 * The engine's state: nodes, HostPools, jobs and PEs, indexed so that every
 * question the filter and the planner ask is a hash lookup or a short list,
 * never a scan of the cluster. Counters kept up to date on every assignment:
 * per node its usage and PEs, per (job, node) its PEs and isolated PEs, per
 * (job, exlocation id, node) the PEs carrying the id. A node name seen before
 * its Node object (a pod bound to it, a pool member) gets a placeholder slot
 * that holds usage but is never a candidate until the node itself arrives.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "placement/place_internal.h"
#include "util/sp_alloc.h"

#define KEY_MAX 512 /* "namespace/name" keys: 63 + 1 + 253 and margin */

/* ------------------------------------------------------------------------ */
/* Counters                                                                   */
/* ------------------------------------------------------------------------ */

uint64_t pl_key_job_node(int32_t job, int32_t node)
{
    return ((uint64_t)(uint32_t)job << 32) | (uint32_t)node;
}

uint64_t pl_key_exloc_node(int32_t job, int32_t exid, int32_t node)
{
    /* 21 bits of job, 21 of id, 22 of node: far beyond any real cluster */
    return ((uint64_t)(job & 0x1fffff) << 43) | ((uint64_t)(exid & 0x1fffff) << 22) |
           (uint64_t)(node & 0x3fffff);
}

int32_t pl_job_count_on(const place_state *st, int32_t job, int32_t node)
{
    int64_t v = 0;

    sp_imap_get(&st->job_node, pl_key_job_node(job, node), &v);
    return (int32_t)(v & 0xffffffff);
}

int32_t pl_job_isolated_on(const place_state *st, int32_t job, int32_t node)
{
    int64_t v = 0;

    sp_imap_get(&st->job_node, pl_key_job_node(job, node), &v);
    return (int32_t)(v >> 32);
}

int32_t pl_exloc_count_on(const place_state *st, int32_t job, int32_t exid,
                          int32_t node)
{
    int64_t v = 0;

    sp_imap_get(&st->exloc_node, pl_key_exloc_node(job, exid, node), &v);
    return (int32_t)v;
}

/* Add delta to the imap counter under key, deleting it at zero. */
static sp_rc imap_add(sp_imap *m, uint64_t key, int64_t delta)
{
    int64_t v = 0;

    sp_imap_get(m, key, &v);
    v += delta;
    if (v == 0) {
        sp_imap_del(m, key);
        return SP_OK;
    }
    return sp_imap_put(m, key, v);
}

static void resources_add(place_resources *a, const place_resources *b, int sign)
{
    a->cpu_milli += sign * b->cpu_milli;
    a->memory += sign * b->memory;
    a->pods += sign * b->pods;
}

/* ------------------------------------------------------------------------ */
/* Creation                                                                   */
/* ------------------------------------------------------------------------ */

sp_rc place_state_new(const place_policy *p, place_state **out)
{
    place_state *st = sp_calloc(1, sizeof(*st));
    place_policy def;

    *out = NULL;
    if (!st)
        return SP_ENOMEM;
    if (!p) {
        place_policy_default(&def);
        p = &def;
    }
    sp_intern_init(&st->names);
    sp_intern_init(&st->strs);
    sp_map_init(&st->pool_by_key);
    sp_map_init(&st->job_by_key);
    sp_map_init(&st->pe_by_uid);
    sp_imap_init(&st->job_node);
    sp_imap_init(&st->exloc_node);
    sp_imap_init(&st->pool_member);
    st->tag_prefix = sp_strdup(p->tag_prefix ? p->tag_prefix : PLACE_DEFAULT_TAG_PREFIX);
    st->default_pool = p->default_pool && *p->default_pool ? sp_strdup(p->default_pool)
                                                          : NULL;
    st->isolation_scope = p->isolation_scope;
    st->balancing = p->balancing;
    st->gang_wait = p->gang_wait;
    st->node_gen = 1;
    if (!st->tag_prefix || (p->default_pool && *p->default_pool && !st->default_pool)) {
        place_state_free(st);
        return SP_ENOMEM;
    }
    *out = st;
    return SP_OK;
}

sp_rc place_state_set_policy(place_state *st, const place_policy *p)
{
    char *pool = NULL;

    if (p->default_pool && *p->default_pool && !(pool = sp_strdup(p->default_pool)))
        return SP_ENOMEM;
    sp_free(st->default_pool);
    st->default_pool = pool;
    st->isolation_scope = p->isolation_scope;
    st->balancing = p->balancing;
    st->gang_wait = p->gang_wait;
    return SP_OK;
}

static void free_taints(pl_taint *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sp_free(t[i].key);
        sp_free(t[i].value);
        sp_free(t[i].effect);
    }
    sp_free(t);
}

static void free_tolerations(place_toleration *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sp_free((char *)t[i].key);
        sp_free((char *)t[i].operator_);
        sp_free((char *)t[i].value);
        sp_free((char *)t[i].effect);
    }
    sp_free(t);
}

static void free_pe_fields(pl_pe *p)
{
    sp_free(p->uid);
    sp_free(p->pod);
    sp_free(p->pe_id);
    sp_free(p->error);
    sp_free(p->coloc);
    sp_free(p->exloc);
    free_tolerations(p->tols, p->n_tols);
}

static void free_pool_fields(pl_pool *p)
{
    sp_free(p->tags);
    sp_free(p->hosts);
    sp_free(p->members);
    sp_free(p->error);
    sp_free(p->cands);
}

void place_state_free(place_state *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n_nodes; i++) {
        sp_free(st->nodes[i].tags);
        sp_free(st->nodes[i].pes);
        free_taints(st->nodes[i].taints, st->nodes[i].n_taints);
    }
    for (size_t i = 0; i < st->n_pools; i++)
        free_pool_fields(&st->pools[i]);
    for (size_t i = 0; i < st->n_jobs; i++)
        sp_free(st->jobs[i].pes);
    for (size_t i = 0; i < st->n_pes; i++)
        if (st->pes[i].alive)
            free_pe_fields(&st->pes[i]);
    sp_free(st->nodes);
    sp_free(st->pools);
    sp_free(st->jobs);
    sp_free(st->free_jobs);
    sp_free(st->pes);
    sp_free(st->free_pes);
    sp_free(st->others);
    sp_free(st->free_others);
    sp_free(st->node_of_name);
    sp_intern_free(&st->names);
    sp_intern_free(&st->strs);
    sp_map_free(&st->pool_by_key);
    sp_map_free(&st->job_by_key);
    sp_map_free(&st->pe_by_uid);
    sp_imap_free(&st->job_node);
    sp_imap_free(&st->exloc_node);
    sp_imap_free(&st->pool_member);
    pl_job_view_free(&st->view);
    sp_free(st->tag_prefix);
    sp_free(st->default_pool);
    sp_free(st);
}

static bool pe_index_valid(const place_state *st, int32_t pe)
{
    return pe >= 0 && (size_t)pe < st->n_pes && st->pes[pe].alive;
}

/* ------------------------------------------------------------------------ */
/* Nodes                                                                      */
/* ------------------------------------------------------------------------ */

int32_t pl_node_of_name(const place_state *st, int32_t name_id)
{
    /* node_of_name covers the names synced so far: a name interned since
     * (a HostPool's explicit host) has no node yet. */
    if (name_id < 0 || (size_t)name_id >= st->n_node_of_name)
        return PLACE_NONE;
    return st->node_of_name[name_id];
}

/* Make node_of_name cover every interned name, new entries NONE. */
static sp_rc sync_node_of_name(place_state *st)
{
    if (sp_grow(&st->node_of_name, &st->cap_node_of_name, st->names.count,
                sizeof(*st->node_of_name)))
        return SP_ENOMEM;
    while (st->n_node_of_name < st->names.count)
        st->node_of_name[st->n_node_of_name++] = PLACE_NONE;
    return SP_OK;
}

/* The node slot for name (live or placeholder), creating a placeholder. */
static sp_rc node_slot(place_state *st, const char *name, int32_t *out)
{
    int32_t id;
    pl_node *n;

    if (sp_intern_id(&st->names, name, &id) || sync_node_of_name(st))
        return SP_ENOMEM;
    if (st->node_of_name[id] != PLACE_NONE) {
        *out = st->node_of_name[id];
        return SP_OK;
    }
    if (st->n_nodes >= 0x3fffff)
        return SP_ELIMIT;
    if (sp_grow(&st->nodes, &st->cap_nodes, st->n_nodes + 1, sizeof(*st->nodes)))
        return SP_ENOMEM;
    n = &st->nodes[st->n_nodes];
    memset(n, 0, sizeof(*n));
    n->name = id;
    n->condition = PLACE_NODE_NOT_READY;
    n->exclusive_pool = PLACE_NONE;
    n->exclusive_clash = PLACE_NONE;
    n->taint_set = PLACE_NONE;
    st->node_of_name[id] = (int32_t)st->n_nodes;
    *out = (int32_t)st->n_nodes++;
    return SP_OK;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

    return (x > y) - (x < y);
}

/* Sort n ids ascending; v may be NULL when n is 0. */
static void sort_ids(int32_t *v, size_t n)
{
    if (n)
        qsort(v, n, sizeof(*v), cmp_i32);
}

/* Tag ids of the labels that carry the policy's tag prefix, sorted. */
static sp_rc node_tags(place_state *st, const place_node_input *in, int32_t **tags,
                       size_t *n_tags)
{
    size_t plen = strlen(st->tag_prefix), n = 0;
    int32_t *v = sp_calloc(in->n_labels ? in->n_labels : 1, sizeof(*v));

    *tags = NULL;
    *n_tags = 0;
    if (!v)
        return SP_ENOMEM;
    for (size_t i = 0; i < in->n_labels; i++) {
        const char *k = in->labels[i].key;
        if (!k || strncmp(k, st->tag_prefix, plen) != 0 || !k[plen])
            continue;
        if (sp_intern_id(&st->strs, k + plen, &v[n])) {
            sp_free(v);
            return SP_ENOMEM;
        }
        n++;
    }
    sort_ids(v, n);
    *tags = v;
    *n_tags = n;
    return SP_OK;
}

static sp_rc copy_taints(const place_node_input *in, pl_taint **out, size_t *n_out)
{
    pl_taint *t = sp_calloc(in->n_taints ? in->n_taints : 1, sizeof(*t));
    size_t n = 0;

    *out = NULL;
    *n_out = 0;
    if (!t)
        return SP_ENOMEM;
    for (size_t i = 0; i < in->n_taints; i++) {
        const place_taint *src = &in->taints[i];
        if (!src->key || !src->effect)
            continue;
        t[n].key = sp_strdup(src->key);
        t[n].value = src->value ? sp_strdup(src->value) : NULL;
        t[n].effect = sp_strdup(src->effect);
        n++;
        if (!t[n - 1].key || !t[n - 1].effect || (src->value && !t[n - 1].value)) {
            free_taints(t, n);
            return SP_ENOMEM;
        }
    }
    *out = t;
    *n_out = n;
    return SP_OK;
}

static bool taint_blocks(const pl_taint *t)
{
    return strcmp(t->effect, "NoSchedule") == 0 || strcmp(t->effect, "NoExecute") == 0;
}

#define TAINT_SET_MAX (1 << 20) /* bytes of one node's taints as one text */

/*
 * The id of a node's taints as one text, or PLACE_NONE when none of them
 * blocks: nodes with the same id turn away the same pods, so the planner
 * asks one of them on behalf of all. Every taint counts, in order, since a
 * refusal names one by its position.
 */
static sp_rc intern_taint_set(place_state *st, const pl_taint *t, size_t n, int32_t *id)
{
    bool blocks = false;
    sp_buf b;
    sp_rc rc = SP_OK;

    *id = PLACE_NONE;
    for (size_t i = 0; i < n; i++)
        blocks |= taint_blocks(&t[i]);
    if (!blocks)
        return SP_OK;
    sp_buf_init(&b, TAINT_SET_MAX);
    for (size_t i = 0; i < n && !rc; i++)
        rc = sp_buf_printf(&b, "%s\x1f%s\x1f%s\x1e", t[i].key, t[i].value ? t[i].value : "",
                           t[i].effect);
    if (!rc)
        rc = sp_intern_id(&st->strs, b.data, id);
    sp_buf_free(&b);
    return rc;
}

static bool same_tags(const pl_node *n, const int32_t *tags, size_t n_tags)
{
    return n->n_tags == n_tags && (n_tags == 0 ||
                                   memcmp(n->tags, tags, n_tags * sizeof(*tags)) == 0);
}

sp_rc place_state_put_node(place_state *st, const place_node_input *in,
                           int32_t *node_out, sp_err *err)
{
    int32_t *tags = NULL, idx, taint_set = PLACE_NONE;
    pl_taint *taints = NULL;
    size_t n_tags = 0, n_taints = 0;
    pl_node *n;
    sp_rc rc;

    if (!in->name || !*in->name)
        return sp_err_set(err, SP_EINVAL, "node has no name");
    rc = node_slot(st, in->name, &idx);
    if (!rc)
        rc = node_tags(st, in, &tags, &n_tags);
    if (!rc)
        rc = copy_taints(in, &taints, &n_taints);
    if (!rc)
        rc = intern_taint_set(st, taints, n_taints, &taint_set);
    if (rc) {
        sp_free(tags);
        free_taints(taints, n_taints);
        return sp_err_set(err, rc, "node %s: %s", in->name, sp_strerror(rc));
    }
    n = &st->nodes[idx];
    if (!n->alive || !same_tags(n, tags, n_tags))
        st->node_gen++;
    if (!n->alive)
        st->live_nodes++;
    n->alive = true;
    sp_free(n->tags);
    n->tags = tags;
    n->n_tags = n_tags;
    free_taints(n->taints, n->n_taints);
    n->taints = taints;
    n->n_taints = n_taints;
    n->taint_set = taint_set;
    n->alloc = in->allocatable;
    n->condition = in->condition;
    if (node_out)
        *node_out = idx;
    return SP_OK;
}

sp_rc place_state_node_ref(place_state *st, const char *name, int32_t *node)
{
    if (!name || !*name)
        return SP_EINVAL;
    return node_slot(st, name, node);
}

sp_rc place_state_remove_node(place_state *st, const char *name)
{
    int32_t node = place_state_find_node(st, name);

    if (node == PLACE_NONE)
        return SP_ENOTFOUND;
    st->nodes[node].alive = false;
    st->nodes[node].condition = PLACE_NODE_NOT_READY;
    st->live_nodes--;
    st->node_gen++;
    return SP_OK;
}

int32_t place_state_find_node(const place_state *st, const char *name)
{
    int32_t id = sp_intern_find(&st->names, name);
    int32_t node = pl_node_of_name(st, id);

    return node != PLACE_NONE && st->nodes[node].alive ? node : PLACE_NONE;
}

size_t place_state_node_slots(const place_state *st)
{
    return st->n_nodes;
}

bool place_state_node_alive(const place_state *st, int32_t node)
{
    return node >= 0 && (size_t)node < st->n_nodes && st->nodes[node].alive;
}

size_t place_state_node_count(const place_state *st)
{
    return st->live_nodes;
}

const char *place_node_name(const place_state *st, int32_t node)
{
    return sp_intern_str(&st->names, st->nodes[node].name);
}

bool pl_tolerates(const pl_pe *p, const pl_node *n, const pl_taint **taint)
{
    for (size_t i = 0; i < n->n_taints; i++) {
        const pl_taint *t = &n->taints[i];
        bool tolerated = false;
        if (!taint_blocks(t))
            continue;
        for (size_t j = 0; j < p->n_tols && !tolerated; j++) {
            const place_toleration *tol = &p->tols[j];
            bool exists = tol->operator_ && strcmp(tol->operator_, "Exists") == 0;
            if (tol->effect && *tol->effect && strcmp(tol->effect, t->effect) != 0)
                continue;
            if (tol->key && *tol->key ? strcmp(tol->key, t->key) != 0 : !exists)
                continue;
            tolerated = exists || strcmp(tol->value ? tol->value : "",
                                         t->value ? t->value : "") == 0;
        }
        if (!tolerated) {
            *taint = t;
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* Pools                                                                      */
/* ------------------------------------------------------------------------ */

static sp_rc make_key(char *buf, size_t len, const char *ns, const char *name)
{
    int n = snprintf(buf, len, "%s/%s", ns ? ns : "", name ? name : "");

    return n < 0 || (size_t)n >= len ? SP_ELIMIT : SP_OK;
}

int32_t place_state_find_pool(const place_state *st, const char *ns, const char *name)
{
    char key[KEY_MAX];
    int64_t v;

    if (make_key(key, sizeof(key), ns, name) || !sp_map_get(&st->pool_by_key, key, &v))
        return PLACE_NONE;
    return st->pools[v].alive ? (int32_t)v : PLACE_NONE;
}

size_t place_state_pool_slots(const place_state *st)
{
    return st->n_pools;
}

bool place_state_pool_alive(const place_state *st, int32_t pool)
{
    return pool >= 0 && (size_t)pool < st->n_pools && st->pools[pool].alive;
}

#define SLOT_SCAN_MAX 8 /* pools up to this size are scanned, not looked up */

int32_t pl_pool_slot_of(const place_state *st, const pl_pool *pool, int32_t node)
{
    int32_t name = st->nodes[node].name;

    if (!pool->n_members)
        return PLACE_NONE;
    if (pool->size > SLOT_SCAN_MAX &&
        !sp_imap_get(&st->pool_member, pl_key_job_node((int32_t)(pool - st->pools), name),
                     NULL))
        return PLACE_NONE;
    for (int64_t i = 0; i < pool->size && pool->members; i++)
        if (pool->members[i] == name)
            return (int32_t)i;
    return PLACE_NONE;
}

int32_t pl_pool_free_slot(const pl_pool *pool)
{
    if ((int64_t)pool->n_members >= pool->size)
        return PLACE_NONE;
    for (int64_t i = 0; i < pool->size; i++)
        if (pool->members[i] == PLACE_NONE)
            return (int32_t)i;
    return PLACE_NONE;
}

static void mark_exclusive(place_state *st, int32_t pool, int32_t node)
{
    pl_node *n = &st->nodes[node];

    if (n->exclusive_pool == PLACE_NONE)
        n->exclusive_pool = pool;
    else if (n->exclusive_pool != pool && n->exclusive_clash == PLACE_NONE)
        n->exclusive_clash = pool;
}

static void unmark_exclusive(place_state *st, int32_t pool, int32_t node)
{
    pl_node *n = &st->nodes[node];

    if (n->exclusive_pool == pool) {
        n->exclusive_pool = n->exclusive_clash;
        n->exclusive_clash = PLACE_NONE;
    } else if (n->exclusive_clash == pool) {
        n->exclusive_clash = PLACE_NONE;
    }
}

sp_rc pl_pool_set_slot(place_state *st, int32_t pool, int32_t slot, int32_t node)
{
    pl_pool *p = &st->pools[pool];

    if (slot < 0 || slot >= p->size || p->members[slot] != PLACE_NONE)
        return SP_EINTERNAL;
    if (imap_add(&st->pool_member, pl_key_job_node(pool, st->nodes[node].name), 1))
        return SP_ENOMEM;
    p->members[slot] = st->nodes[node].name;
    p->n_members++;
    p->members_gen++;
    if (p->exclusive)
        mark_exclusive(st, pool, node);
    return SP_OK;
}

void pl_pool_clear_slot(place_state *st, int32_t pool, int32_t slot)
{
    pl_pool *p = &st->pools[pool];
    int32_t node;

    if (slot < 0 || slot >= p->size || p->members[slot] == PLACE_NONE)
        return;
    node = pl_node_of_name(st, p->members[slot]);
    if (p->exclusive && node != PLACE_NONE)
        unmark_exclusive(st, pool, node);
    /* lowers a count that exists: it cannot fail */
    (void)imap_add(&st->pool_member, pl_key_job_node(pool, p->members[slot]), -1);
    p->members[slot] = PLACE_NONE;
    p->n_members--;
    p->members_gen++;
}

/* Drop every member of a pool (before its replacement is loaded). */
static void clear_members(place_state *st, int32_t pool)
{
    pl_pool *p = &st->pools[pool];

    for (int64_t i = 0; i < p->size && p->members; i++)
        pl_pool_clear_slot(st, pool, (int32_t)i);
}

static sp_rc intern_all(sp_intern *in, const char *const *v, size_t n, int32_t **out)
{
    int32_t *ids = sp_calloc(n ? n : 1, sizeof(*ids));

    *out = NULL;
    if (!ids)
        return SP_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (sp_intern_id(in, v[i] ? v[i] : "", &ids[i])) {
            sp_free(ids);
            return SP_ENOMEM;
        }
    }
    *out = ids;
    return SP_OK;
}

/* Fill a fresh pool record from its spec (everything but the members). */
static sp_rc pool_fill(place_state *st, pl_pool *p, const place_pool_spec *in,
                       const sp_err *verr)
{
    char key[KEY_MAX];

    if (sp_intern_id(&st->strs, in->namespace_ ? in->namespace_ : "", &p->ns) ||
        sp_intern_id(&st->strs, in->name ? in->name : "", &p->name))
        return SP_ENOMEM;
    p->job = PLACE_NONE;
    if (in->job) {
        if (make_key(key, sizeof(key), in->namespace_, in->job))
            return SP_ELIMIT;
        if (sp_intern_id(&st->strs, key, &p->job))
            return SP_ENOMEM;
    }
    if (intern_all(&st->strs, in->tags, in->n_tags, &p->tags) ||
        intern_all(&st->names, in->hosts, in->n_hosts, &p->hosts))
        return SP_ENOMEM;
    p->n_tags = in->n_tags;
    p->n_hosts = in->n_hosts;
    sort_ids(p->tags, p->n_tags);
    sort_ids(p->hosts, p->n_hosts);
    p->size = in->has_size && !verr->rc ? in->size : 0;
    p->exclusive = in->exclusive && !verr->rc;
    if (verr->rc && !(p->error = sp_strdup(verr->msg)))
        return SP_ENOMEM;
    p->members = sp_malloc((size_t)(p->size ? p->size : 1) * sizeof(*p->members));
    if (!p->members)
        return SP_ENOMEM;
    for (int64_t i = 0; i < p->size; i++)
        p->members[i] = PLACE_NONE;
    return SP_OK;
}

/* Load status.hosts into the pool's slots, in order; "" is a free slot. */
static sp_rc pool_load_members(place_state *st, int32_t pool, const place_pool_spec *in)
{
    for (size_t i = 0; i < in->n_members && (int64_t)i < st->pools[pool].size; i++) {
        int32_t node;
        sp_rc rc;
        if (!*in->members[i])
            continue;
        rc = node_slot(st, in->members[i], &node);
        if (!rc)
            rc = pl_pool_set_slot(st, pool, (int32_t)i, node);
        if (rc)
            return rc;
    }
    return SP_OK;
}

/* The slot of the pool keyed ns/name, appending a dead record when new. */
static sp_rc pool_slot(place_state *st, const char *key, int32_t *out)
{
    int64_t v;

    if (sp_map_get(&st->pool_by_key, key, &v)) {
        *out = (int32_t)v;
        return SP_OK;
    }
    if (sp_grow(&st->pools, &st->cap_pools, st->n_pools + 1, sizeof(*st->pools)))
        return SP_ENOMEM;
    memset(&st->pools[st->n_pools], 0, sizeof(*st->pools));
    if (sp_map_put(&st->pool_by_key, key, (int64_t)st->n_pools))
        return SP_ENOMEM;
    *out = (int32_t)st->n_pools++;
    return SP_OK;
}

sp_rc place_state_put_pool(place_state *st, const place_pool_spec *in,
                           int32_t *pool_out, sp_err *err)
{
    char key[KEY_MAX];
    sp_err verr = { SP_OK, "" };
    pl_pool fresh = { 0 };
    int32_t idx;
    sp_rc rc;

    if (make_key(key, sizeof(key), in->namespace_, in->name))
        return sp_err_set(err, SP_EINVAL, "HostPool name too long");
    verr.rc = place_pool_validate(in, st->tag_prefix, &verr);
    rc = pool_slot(st, key, &idx);
    if (!rc)
        rc = pool_fill(st, &fresh, in, &verr);
    if (rc) {
        free_pool_fields(&fresh);
        return sp_err_set(err, rc, "HostPool %s: %s", key, sp_strerror(rc));
    }
    if (st->pools[idx].alive)
        clear_members(st, idx);
    free_pool_fields(&st->pools[idx]);
    st->pools[idx] = fresh;
    st->pools[idx].alive = true;
    rc = pool_load_members(st, idx, in);
    if (rc)
        return sp_err_set(err, rc, "HostPool %s: %s", key, sp_strerror(rc));
    if (pool_out)
        *pool_out = idx;
    if (verr.rc && err)
        *err = verr;
    return SP_OK;
}

sp_rc place_state_set_previous_node(place_state *st, int32_t pe, const char *name)
{
    int32_t id;

    if (!pe_index_valid(st, pe) || !name || !*name)
        return SP_EINVAL;
    if (sp_intern_id(&st->names, name, &id) || sync_node_of_name(st))
        return SP_ENOMEM;
    st->pes[pe].previous_node = id;
    return SP_OK;
}

sp_rc place_state_set_pool_members(place_state *st, int32_t pool,
                                   const char *const *names, size_t n)
{
    pl_pool *p;
    sp_rc rc = SP_OK;

    if (!place_state_pool_alive(st, pool))
        return SP_EINVAL;
    p = &st->pools[pool];
    if (p->error || !p->size || (int64_t)n > p->size)
        return SP_EINVAL;
    clear_members(st, pool);
    for (size_t i = 0; i < n && !rc; i++) {
        int32_t node;
        if (!names[i] || !*names[i])
            continue;
        rc = node_slot(st, names[i], &node);
        if (!rc && pl_pool_slot_of(st, p, node) == PLACE_NONE)
            rc = pl_pool_set_slot(st, pool, (int32_t)i, node);
    }
    return rc;
}

sp_rc place_state_remove_pool(place_state *st, const char *ns, const char *name)
{
    int32_t pool = place_state_find_pool(st, ns, name);

    if (pool == PLACE_NONE)
        return SP_ENOTFOUND;
    clear_members(st, pool);
    st->pools[pool].alive = false;
    return SP_OK;
}

static bool sorted_has(const int32_t *v, size_t n, int32_t x)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] == x)
            return true;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

bool pl_pool_matches(const place_state *st, const pl_pool *pool, int32_t pool_idx,
                     int32_t node, place_reason *r)
{
    const pl_node *n = &st->nodes[node];

    if (pool->n_hosts && !sorted_has(pool->hosts, pool->n_hosts, n->name)) {
        pl_reason_init(r, PLACE_R_POOL_HOSTS, true);
        r->pool = pool_idx;
        return false;
    }
    for (size_t i = 0; i < pool->n_tags; i++) {
        if (!sorted_has(n->tags, n->n_tags, pool->tags[i])) {
            pl_reason_init(r, PLACE_R_POOL_TAG, true);
            r->pool = pool_idx;
            r->str = pool->tags[i];
            return false;
        }
    }
    return true;
}

static sp_rc cands_push(pl_pool *p, int32_t node)
{
    if (sp_grow(&p->cands, &p->cap_cands, p->n_cands + 1, sizeof(*p->cands)))
        return SP_ENOMEM;
    p->cands[p->n_cands++] = node;
    return SP_OK;
}

static bool same_ids(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof(*a)) == 0);
}

/* Another live pool with the same tags and hosts whose candidates are
 * current: pools often select alike (every job's own pool of one tag). */
static const pl_pool *pool_twin(const place_state *st, const pl_pool *p)
{
    for (size_t i = 0; i < st->n_pools; i++) {
        const pl_pool *o = &st->pools[i];
        if (o != p && o->alive && o->cands_gen == st->node_gen &&
            same_ids(o->tags, o->n_tags, p->tags, p->n_tags) &&
            same_ids(o->hosts, o->n_hosts, p->hosts, p->n_hosts))
            return o;
    }
    return NULL;
}

/* The pool's candidates found node by node, ascending. */
static sp_rc cands_match(place_state *st, int32_t pool)
{
    pl_pool *p = &st->pools[pool];
    place_reason r;

    p->n_cands = 0;
    if (!p->n_hosts) {
        for (size_t i = 0; i < st->n_nodes; i++)
            if (st->nodes[i].alive && pl_pool_matches(st, p, pool, (int32_t)i, &r) &&
                cands_push(p, (int32_t)i))
                return SP_ENOMEM;
        return SP_OK;
    }
    for (size_t i = 0; i < p->n_hosts; i++) {
        int32_t node = pl_node_of_name(st, p->hosts[i]);
        if (node != PLACE_NONE && st->nodes[node].alive &&
            pl_pool_matches(st, p, pool, node, &r) && cands_push(p, node))
            return SP_ENOMEM;
    }
    sort_ids(p->cands, p->n_cands);
    return SP_OK;
}

static sp_rc cands_copy(pl_pool *p, const pl_pool *from)
{
    if (sp_grow(&p->cands, &p->cap_cands, from->n_cands + 1, sizeof(*p->cands)))
        return SP_ENOMEM;
    if (from->n_cands)
        memcpy(p->cands, from->cands, from->n_cands * sizeof(*p->cands));
    p->n_cands = from->n_cands;
    return SP_OK;
}

sp_rc pl_pool_candidates(place_state *st, int32_t pool, const int32_t **nodes,
                         size_t *n)
{
    pl_pool *p = &st->pools[pool];

    if (p->cands_gen != st->node_gen) {
        const pl_pool *twin = pool_twin(st, p);
        if (twin ? cands_copy(p, twin) : cands_match(st, pool))
            return SP_ENOMEM;
        p->cands_gen = st->node_gen;
    }
    *nodes = p->cands;
    *n = p->n_cands;
    return SP_OK;
}

void place_pool_get(const place_state *st, int32_t pool, place_pool_info *out)
{
    const pl_pool *p = &st->pools[pool];
    const char *job = NULL;

    if (p->job != PLACE_NONE) {
        job = strchr(sp_intern_str(&st->strs, p->job), '/');
        job = job ? job + 1 : NULL;
    }
    out->namespace_ = sp_intern_str(&st->strs, p->ns);
    out->name = sp_intern_str(&st->strs, p->name);
    out->job = job;
    out->size = p->size;
    out->exclusive = p->exclusive;
    out->error = p->error;
}

uint64_t place_pool_members_gen(const place_state *st, int32_t pool)
{
    return st->pools[pool].members_gen;
}

const char *place_state_tag_prefix(const place_state *st)
{
    return st->tag_prefix;
}

/* Borrowed strings of n interned ids, in a new array (caller frees). */
static sp_rc strings_of(const sp_intern *in, const int32_t *ids, size_t n,
                        const char ***out)
{
    const char **v = sp_calloc(n ? n : 1, sizeof(*v));

    *out = v;
    if (!v)
        return SP_ENOMEM;
    for (size_t i = 0; i < n; i++)
        v[i] = sp_intern_str(in, ids[i]);
    return SP_OK;
}

sp_rc place_pool_selector(const place_state *st, int32_t pool, const char ***tags,
                          size_t *n_tags, const char ***hosts, size_t *n_hosts)
{
    const pl_pool *p = &st->pools[pool];

    *tags = NULL;
    *hosts = NULL;
    *n_tags = *n_hosts = 0;
    if (p->error)
        return SP_EINVAL;
    if (strings_of(&st->strs, p->tags, p->n_tags, tags) ||
        strings_of(&st->names, p->hosts, p->n_hosts, hosts)) {
        sp_free(*tags);
        sp_free(*hosts);
        *tags = *hosts = NULL;
        return SP_ENOMEM;
    }
    *n_tags = p->n_tags;
    *n_hosts = p->n_hosts;
    return SP_OK;
}

sp_rc place_pool_hosts(place_state *st, int32_t pool, const char ***names,
                       size_t *count)
{
    pl_pool *p = &st->pools[pool];
    const int32_t *cands;
    size_t n = 0, last = 0;
    const char **v;

    *names = NULL;
    *count = 0;
    if (p->size == 0 && !p->error) {
        if (pl_pool_candidates(st, pool, &cands, &n))
            return SP_ENOMEM;
    }
    v = sp_calloc(p->size ? (size_t)p->size : (n ? n : 1), sizeof(*v));
    if (!v)
        return SP_ENOMEM;
    if (p->size == 0 && !p->error) {
        for (size_t i = 0; i < n; i++)
            v[i] = place_node_name(st, cands[i]);
        last = n;
    }
    for (int64_t i = 0; i < p->size; i++) {
        v[i] = p->members[i] == PLACE_NONE ? "" : sp_intern_str(&st->names, p->members[i]);
        if (p->members[i] != PLACE_NONE)
            last = (size_t)i + 1;
    }
    *names = v;
    *count = last;
    return SP_OK;
}

/* ------------------------------------------------------------------------ */
/* Jobs                                                                       */
/* ------------------------------------------------------------------------ */

static sp_rc job_slot(place_state *st, const char *ns, const char *name, int32_t *out)
{
    char key[KEY_MAX];
    int64_t v;
    int32_t idx;
    pl_job *j;

    if (make_key(key, sizeof(key), ns, name))
        return SP_ELIMIT;
    if (sp_map_get(&st->job_by_key, key, &v)) {
        *out = (int32_t)v;
        return SP_OK;
    }
    if (!st->n_free_jobs && st->n_jobs >= 0x1fffff)
        return SP_ELIMIT;
    if (!st->n_free_jobs && sp_grow(&st->jobs, &st->cap_jobs, st->n_jobs + 1, sizeof(*st->jobs)))
        return SP_ENOMEM;
    idx = st->n_free_jobs ? st->free_jobs[st->n_free_jobs - 1] : (int32_t)st->n_jobs;
    j = &st->jobs[idx];
    memset(j, 0, sizeof(*j));
    if (sp_intern_id(&st->strs, key, &j->key) || sp_intern_id(&st->strs, ns, &j->ns) ||
        sp_intern_id(&st->strs, name, &j->name) ||
        sp_map_put(&st->job_by_key, key, (int64_t)idx))
        return SP_ENOMEM;
    j->alive = true;
    if (idx == (int32_t)st->n_jobs)
        st->n_jobs++;
    else
        st->n_free_jobs--;
    *out = idx;
    return SP_OK;
}

/* The job's last PE is gone: its slot is free for the next new job, so that
 * a stream of new job names costs no more slots than there are live jobs. */
static void job_release_slot(place_state *st, int32_t job)
{
    pl_job *j = &st->jobs[job];

    /* the free list has room: it never holds more than n_jobs entries */
    if (sp_grow(&st->free_jobs, &st->cap_free_jobs, st->n_free_jobs + 1,
                sizeof(*st->free_jobs)))
        return; /* out of memory: the job stays, empty, as it did before */
    (void)sp_map_del(&st->job_by_key, sp_intern_str(&st->strs, j->key));
    sp_free(j->pes);
    memset(j, 0, sizeof(*j));
    st->free_jobs[st->n_free_jobs++] = job;
}

static bool movable_phase(place_phase ph)
{
    return ph == PLACE_PENDING || ph == PLACE_PLANNED;
}

void pl_pe_set_phase(place_state *st, int32_t pe, place_phase ph)
{
    pl_pe *p = &st->pes[pe];

    if (p->in_job && movable_phase(p->phase) != movable_phase(ph)) {
        if (movable_phase(ph))
            st->jobs[p->job].n_movable++;
        else
            st->jobs[p->job].n_movable--;
    }
    p->phase = ph;
}

static sp_rc job_add_pe(place_state *st, int32_t job, int32_t pe)
{
    pl_job *j = &st->jobs[job];

    if (sp_grow(&j->pes, &j->cap_pes, j->n_pes + 1, sizeof(*j->pes)))
        return SP_ENOMEM;
    st->pes[pe].job_pos = j->n_pes;
    st->pes[pe].in_job = true;
    j->n_movable += movable_phase(st->pes[pe].phase);
    j->pes[j->n_pes++] = pe;
    return SP_OK;
}

static void job_remove_pe(place_state *st, int32_t job, int32_t pe)
{
    pl_job *j = &st->jobs[job];
    size_t pos = st->pes[pe].job_pos;

    j->n_movable -= movable_phase(st->pes[pe].phase);
    st->pes[pe].in_job = false;
    j->pes[pos] = j->pes[--j->n_pes];
    st->pes[j->pes[pos]].job_pos = pos;
}

/* Recompute the job's declared PE count after a PE leaves. */
static void job_refresh_count(place_state *st, int32_t job)
{
    pl_job *j = &st->jobs[job];

    j->pe_count = 0;
    for (size_t i = 0; i < j->n_pes; i++) {
        const pl_pe *p = &st->pes[j->pes[i]];
        if (p->pe_count > j->pe_count)
            j->pe_count = p->pe_count;
    }
}

/* ------------------------------------------------------------------------ */
/* Assignment                                                                 */
/* ------------------------------------------------------------------------ */

static sp_rc count_on_node(place_state *st, const pl_pe *p, int32_t node, int sign)
{
    int64_t delta = sign * (1 + (p->isolation ? ((int64_t)1 << 32) : 0));
    sp_rc rc = imap_add(&st->job_node, pl_key_job_node(p->job, node), delta);

    for (size_t i = 0; !rc && i < p->n_exloc; i++)
        rc = imap_add(&st->exloc_node, pl_key_exloc_node(p->job, p->exloc[i], node),
                      sign);
    return rc;
}

sp_rc pl_pe_assign(place_state *st, int32_t pe, int32_t node, place_phase ph)
{
    pl_pe *p = &st->pes[pe];
    pl_node *n = &st->nodes[node];
    sp_rc rc;

    if (p->node != PLACE_NONE)
        pl_pe_unassign(st, pe);
    if (sp_grow(&n->pes, &n->cap_pes, n->n_pes + 1, sizeof(*n->pes)))
        return SP_ENOMEM;
    rc = count_on_node(st, p, node, +1);
    if (rc) {
        (void)count_on_node(st, p, node, -1);
        return rc;
    }
    p->node_pos = n->n_pes;
    n->pes[n->n_pes++] = pe;
    n->n_isolated += p->isolation;
    resources_add(&n->used, &p->req, +1);
    p->node = node;
    pl_pe_set_phase(st, pe, ph);
    return SP_OK;
}

void pl_pe_unassign(place_state *st, int32_t pe)
{
    pl_pe *p = &st->pes[pe];
    pl_node *n;

    if (p->node == PLACE_NONE) {
        pl_pe_set_phase(st, pe, PLACE_PENDING);
        return;
    }
    n = &st->nodes[p->node];
    /* Removing counters only deletes keys or lowers values: cannot fail. */
    (void)count_on_node(st, p, p->node, -1);
    n->pes[p->node_pos] = n->pes[--n->n_pes];
    st->pes[n->pes[p->node_pos]].node_pos = p->node_pos;
    n->n_isolated -= p->isolation;
    resources_add(&n->used, &p->req, -1);
    p->node = PLACE_NONE;
    pl_pe_set_phase(st, pe, PLACE_PENDING);
}

static sp_rc commit(place_state *st, int32_t pe, int32_t node, place_phase ph)
{
    if (!pe_index_valid(st, pe) || node < 0 || (size_t)node >= st->n_nodes)
        return SP_EINVAL;
    if (st->pes[pe].node == node) {
        pl_pe_set_phase(st, pe, ph);
        return SP_OK;
    }
    return pl_pe_assign(st, pe, node, ph);
}

sp_rc place_state_reserve(place_state *st, int32_t pe, int32_t node)
{
    return commit(st, pe, node, PLACE_RESERVED);
}

sp_rc place_state_bind(place_state *st, int32_t pe, int32_t node)
{
    return commit(st, pe, node, PLACE_BOUND);
}

sp_rc place_state_release(place_state *st, int32_t pe)
{
    pl_pe *p;

    if (!pe_index_valid(st, pe))
        return SP_EINVAL;
    p = &st->pes[pe];
    if (p->node != PLACE_NONE)
        p->previous_node = st->nodes[p->node].name;
    pl_pe_unassign(st, pe);
    return SP_OK;
}

/* ------------------------------------------------------------------------ */
/* Pods                                                                       */
/* ------------------------------------------------------------------------ */

#define OTHER_TAG(i) (-(int64_t)(i) - 2) /* pe_by_uid value of a non-PE pod */

static sp_rc intern_ids(place_state *st, char **ids, size_t n, int32_t **out)
{
    return intern_all(&st->strs, (const char *const *)ids, n, out);
}

static sp_rc copy_tolerations(const place_pod_input *in, pl_pe *p)
{
    p->tols = sp_calloc(in->n_tolerations ? in->n_tolerations : 1, sizeof(*p->tols));
    if (!p->tols)
        return SP_ENOMEM;
    for (size_t i = 0; i < in->n_tolerations; i++) {
        const place_toleration *t = &in->tolerations[i];
        place_toleration *c = &p->tols[i];
        p->n_tols = i + 1;
        c->key = t->key ? sp_strdup(t->key) : NULL;
        c->operator_ = t->operator_ ? sp_strdup(t->operator_) : NULL;
        c->value = t->value ? sp_strdup(t->value) : NULL;
        c->effect = t->effect ? sp_strdup(t->effect) : NULL;
        if ((t->key && !c->key) || (t->operator_ && !c->operator_) ||
            (t->value && !c->value) || (t->effect && !c->effect))
            return SP_ENOMEM;
    }
    return SP_OK;
}

/* Fill p's constraints from a parsed spec. */
static sp_rc pe_apply_spec(place_state *st, pl_pe *p, const place_pe_spec *s)
{
    if (s->pool && sp_intern_id(&st->strs, s->pool, &p->pool_name))
        return SP_ENOMEM;
    if (intern_ids(st, s->colocation, s->n_colocation, &p->coloc) ||
        intern_ids(st, s->exlocation, s->n_exlocation, &p->exloc))
        return SP_ENOMEM;
    p->n_coloc = s->n_colocation;
    p->n_exloc = s->n_exlocation;
    p->pool_index = s->pool_index;
    p->isolation = s->isolation;
    p->relocatable = s->relocatable;
    p->pe_count = s->pe_count;
    return SP_OK;
}

/* Fill a PE record from the pod; a spec that does not parse is kept as the
 * PE's error. */
static sp_rc pe_fill(place_state *st, pl_pe *p, const place_pod_input *in)
{
    const char *job = pl_kv_find(in->labels, in->n_labels, PLACE_LABEL_JOB);
    const char *pe = pl_kv_find(in->labels, in->n_labels, PLACE_LABEL_PE);
    place_pe_spec spec;
    sp_err perr = { SP_OK, "" };
    sp_rc rc;

    p->uid = sp_strdup(in->uid);
    p->pod = sp_strdup(in->name ? in->name : "");
    p->pe_id = sp_strdup(pe ? pe : "");
    if (!p->uid || !p->pod || !p->pe_id ||
        sp_intern_id(&st->strs, in->namespace_ ? in->namespace_ : "", &p->ns))
        return SP_ENOMEM;
    rc = job_slot(st, in->namespace_ ? in->namespace_ : "", job ? job : "", &p->job);
    if (rc)
        return rc;
    rc = place_pe_spec_parse(in->labels, in->n_labels, in->annotations,
                             in->n_annotations, &spec, &perr);
    if (rc == SP_ENOMEM)
        return rc;
    if (rc)
        return (p->error = sp_strdup(perr.msg)) ? SP_OK : SP_ENOMEM;
    rc = pe_apply_spec(st, p, &spec);
    place_pe_spec_free(&spec);
    return rc;
}

/* A fresh PE slot (reused when one is free), initialised to pending. */
static sp_rc pe_slot(place_state *st, int32_t *out)
{
    int32_t idx;

    if (st->n_free_pes) {
        idx = st->free_pes[--st->n_free_pes];
    } else {
        if (st->n_pes >= INT32_MAX / 2)
            return SP_ELIMIT;
        if (sp_grow(&st->pes, &st->cap_pes, st->n_pes + 1, sizeof(*st->pes)))
            return SP_ENOMEM;
        idx = (int32_t)st->n_pes++;
    }
    memset(&st->pes[idx], 0, sizeof(st->pes[idx]));
    st->pes[idx].pool_name = PLACE_NONE;
    st->pes[idx].pool_index = PLACE_NONE;
    st->pes[idx].node = PLACE_NONE;
    st->pes[idx].job = PLACE_NONE;
    st->pes[idx].previous_node = PLACE_NONE;
    st->pes[idx].sticky_node = PLACE_NONE;
    st->pes[idx].relocatable = true;
    *out = idx;
    return SP_OK;
}

static void pe_release_slot(place_state *st, int32_t pe)
{
    free_pe_fields(&st->pes[pe]);
    memset(&st->pes[pe], 0, sizeof(st->pes[pe]));
    st->pes[pe].node = PLACE_NONE;
    /* the free list has room: it never holds more than n_pes entries */
    if (!sp_grow(&st->free_pes, &st->cap_free_pes, st->n_free_pes + 1,
                 sizeof(*st->free_pes)))
        st->free_pes[st->n_free_pes++] = pe;
}

static sp_rc add_pe(place_state *st, const place_pod_input *in, int32_t *pe_out)
{
    int32_t idx, node = PLACE_NONE, prev;
    pl_pe *p;
    sp_rc rc = pe_slot(st, &idx);

    if (rc)
        return rc;
    p = &st->pes[idx];
    p->alive = true;
    rc = pe_fill(st, p, in);
    if (!rc)
        rc = copy_tolerations(in, p);
    p->req = in->requests;
    if (!rc && in->node && *in->node)
        rc = node_slot(st, in->node, &node);
    if (!rc && in->previous_node && *in->previous_node &&
        !(rc = sp_intern_id(&st->names, in->previous_node, &prev)))
        p->previous_node = prev;
    if (!rc)
        rc = sync_node_of_name(st);
    if (!rc)
        rc = job_add_pe(st, p->job, idx);
    if (rc) {
        pe_release_slot(st, idx);
        return rc;
    }
    if (node != PLACE_NONE && (rc = pl_pe_assign(st, idx, node, PLACE_BOUND))) {
        job_remove_pe(st, p->job, idx);
        pe_release_slot(st, idx);
        return rc;
    }
    if (p->pe_count > st->jobs[p->job].pe_count)
        st->jobs[p->job].pe_count = p->pe_count;
    if ((rc = sp_map_put(&st->pe_by_uid, in->uid, idx))) {
        pl_pe_unassign(st, idx);
        job_remove_pe(st, p->job, idx);
        pe_release_slot(st, idx);
        return rc;
    }
    *pe_out = idx;
    return SP_OK;
}

static sp_rc add_other(place_state *st, const place_pod_input *in)
{
    int32_t idx, node = PLACE_NONE;
    sp_rc rc = SP_OK;

    if (in->node && *in->node)
        rc = node_slot(st, in->node, &node);
    if (rc)
        return rc;
    if (st->n_free_others) {
        idx = st->free_others[--st->n_free_others];
    } else {
        if (sp_grow(&st->others, &st->cap_others, st->n_others + 1, sizeof(*st->others)) ||
            sp_grow(&st->free_others, &st->cap_free_others, st->n_others + 1,
                    sizeof(*st->free_others)))
            return SP_ENOMEM;
        idx = (int32_t)st->n_others++;
    }
    if (sp_map_put(&st->pe_by_uid, in->uid, OTHER_TAG(idx))) {
        st->free_others[st->n_free_others++] = idx;
        return SP_ENOMEM;
    }
    st->others[idx].node = node;
    st->others[idx].req = in->requests;
    if (node != PLACE_NONE)
        resources_add(&st->nodes[node].used, &in->requests, +1);
    return SP_OK;
}

sp_rc place_state_add_pod(place_state *st, const place_pod_input *in,
                          int32_t *pe_out, sp_err *err)
{
    int32_t pe = PLACE_NONE;
    sp_rc rc;

    if (pe_out)
        *pe_out = PLACE_NONE;
    if (!in->uid || !*in->uid)
        return sp_err_set(err, SP_EINVAL, "pod %s/%s has no uid",
                          in->namespace_ ? in->namespace_ : "", in->name ? in->name : "");
    if (sp_map_get(&st->pe_by_uid, in->uid, NULL))
        return sp_err_set(err, SP_ECONFLICT, "pod %s/%s: uid %s is already known",
                          in->namespace_ ? in->namespace_ : "",
                          in->name ? in->name : "", in->uid);
    if (place_is_pe(in->labels, in->n_labels))
        rc = add_pe(st, in, &pe);
    else
        rc = add_other(st, in);
    if (rc)
        return sp_err_set(err, rc, "pod %s/%s: %s", in->namespace_ ? in->namespace_ : "",
                          in->name ? in->name : "",
                          rc == SP_ELIMIT ? "its namespace, job or PE label is longer than "
                                            "Kubernetes allows"
                                          : sp_strerror(rc));
    if (pe_out)
        *pe_out = pe;
    return SP_OK;
}

sp_rc place_state_remove_pod(place_state *st, const char *uid)
{
    int64_t v;
    int32_t job;

    if (!sp_map_get(&st->pe_by_uid, uid, &v))
        return SP_ENOTFOUND;
    sp_map_del(&st->pe_by_uid, uid);
    if (v <= -2) {
        int32_t idx = (int32_t)(-v - 2);
        pl_other *o = &st->others[idx];
        if (o->node != PLACE_NONE)
            resources_add(&st->nodes[o->node].used, &o->req, -1);
        st->free_others[st->n_free_others++] = idx;
        return SP_OK;
    }
    job = st->pes[v].job;
    pl_pe_unassign(st, (int32_t)v);
    job_remove_pe(st, job, (int32_t)v);
    pe_release_slot(st, (int32_t)v);
    if (st->jobs[job].n_pes)
        job_refresh_count(st, job);
    else
        job_release_slot(st, job);
    return SP_OK;
}

size_t place_state_pes_of(const place_state *st, const char *ns, const char *job,
                          const char *pe, int32_t *out, size_t max)
{
    char key[KEY_MAX];
    int64_t idx;
    size_t found = 0;
    const pl_job *j;

    if (make_key(key, sizeof(key), ns, job) || !sp_map_get(&st->job_by_key, key, &idx))
        return 0;
    j = &st->jobs[idx];
    for (size_t i = 0; i < j->n_pes; i++) {
        if (strcmp(st->pes[j->pes[i]].pe_id, pe) != 0)
            continue;
        if (found < max)
            out[found] = j->pes[i];
        found++;
    }
    return found;
}

size_t place_state_job_size(const place_state *st, const char *ns, const char *job)
{
    char key[KEY_MAX];
    int64_t idx;

    if (make_key(key, sizeof(key), ns, job) || !sp_map_get(&st->job_by_key, key, &idx))
        return 0;
    return st->jobs[idx].n_pes;
}

int32_t place_state_find_pe(const place_state *st, const char *uid)
{
    int64_t v;

    if (!sp_map_get(&st->pe_by_uid, uid, &v) || v < 0)
        return PLACE_NONE;
    return (int32_t)v;
}

size_t place_state_job_slots(const place_state *st)
{
    return st->n_jobs;
}

size_t place_state_pe_slots(const place_state *st)
{
    return st->n_pes;
}

bool place_state_pe_alive(const place_state *st, int32_t pe)
{
    return pe_index_valid(st, pe);
}

void place_pe_get(const place_state *st, int32_t pe, place_pe_info *out)
{
    const pl_pe *p = &st->pes[pe];
    const pl_job *j = &st->jobs[p->job];

    out->namespace_ = sp_intern_str(&st->strs, p->ns);
    out->pod = p->pod;
    out->uid = p->uid;
    out->job = sp_intern_str(&st->strs, j->name);
    out->pe = p->pe_id;
    out->node = p->node;
    out->phase = p->phase;
    out->error = p->error;
}

int32_t pl_pe_pool(const place_state *st, const pl_pe *p, bool *missing)
{
    const char *ns = sp_intern_str(&st->strs, st->jobs[p->job].ns);
    const char *name = NULL;
    int32_t pool;

    *missing = false;
    if (p->pool_name != PLACE_NONE)
        name = sp_intern_str(&st->strs, p->pool_name);
    else if (st->default_pool)
        name = st->default_pool;
    if (!name)
        return PLACE_NONE;
    pool = place_state_find_pool(st, ns, name);
    *missing = pool == PLACE_NONE;
    return pool;
}
