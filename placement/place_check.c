/*
 * The rules. A job is seen as colocation groups (PEs that share a colocation
 * id, transitively); each group moves as a unit. Building the job view finds
 * the problems no node can fix (a pool too small for the group's exlocated
 * PEs, an exclusive pool colocated with a PE outside it, colocated PEs
 * already split across nodes, ...) and reports them on every affected group.
 * pl_check_group_node is the one place that decides whether a group may go on
 * a node; the filter, the planner and the violation report all call it, so a
 * rule is written once.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "placement/place_internal.h"
#include "util/sp_alloc.h"

#define PROBLEM_MAX 512

/* ------------------------------------------------------------------------ */
/* Small helpers                                                              */
/* ------------------------------------------------------------------------ */

static const char *job_name(const place_state *st, int32_t job)
{
    return sp_intern_str(&st->strs, st->jobs[job].name);
}

static const char *pool_str(const place_state *st, int32_t pool)
{
    return sp_intern_str(&st->strs, st->pools[pool].name);
}

static const char *pe_str(const place_state *st, int32_t pe)
{
    return st->pes[pe].pe_id;
}

static bool movable(const pl_pe *p)
{
    return p->phase == PLACE_PENDING || p->phase == PLACE_PLANNED;
}

/* Set g->problem to a formatted text unless it already has one. */
static sp_rc group_problem(pl_group *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static sp_rc group_problem(pl_group *g, const char *fmt, ...)
{
    char buf[PROBLEM_MAX];
    va_list ap;

    if (g->problem)
        return SP_OK;
    va_start(ap, fmt);
    if (vsnprintf(buf, sizeof(buf), fmt, ap) < 0)
        buf[0] = '\0';
    va_end(ap);
    g->problem = sp_strdup(buf);
    return g->problem ? SP_OK : SP_ENOMEM;
}

int32_t pl_balance_count(const place_state *st, int32_t job, int32_t node)
{
    if (st->balancing == PLACE_BALANCE_JOB)
        return pl_job_count_on(st, job, node);
    return (int32_t)st->nodes[node].n_pes;
}

/* ------------------------------------------------------------------------ */
/* Union-find of the job's PEs by colocation id                               */
/* ------------------------------------------------------------------------ */

static int32_t uf_find(int32_t *parent, int32_t i)
{
    while (parent[i] != i) {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    return i;
}

static void uf_union(int32_t *parent, int32_t a, int32_t b)
{
    a = uf_find(parent, a);
    b = uf_find(parent, b);
    if (a != b)
        parent[a > b ? a : b] = a < b ? a : b;
}

/* Join position i to the first position that carried key before it. */
static sp_rc join_on(sp_imap *first, int32_t *parent, uint64_t key, size_t i)
{
    int64_t at;

    if (sp_imap_get(first, key, &at)) {
        uf_union(parent, (int32_t)at, (int32_t)i);
        return SP_OK;
    }
    return sp_imap_put(first, key, (int64_t)i);
}

/*
 * parent[i] for every position i of the job's PEs, joined by shared
 * colocation ids, and by a shared pool index: PEs that name the same
 * pool[i] must share its node, so they are planned as one unit too.
 */
static sp_rc colocation_sets(const place_state *st, const pl_job *j, int32_t *parent)
{
    sp_imap by_id, by_slot;   /* id or (pool, index) -> first position */
    sp_rc rc = SP_OK;

    sp_imap_init(&by_id);
    sp_imap_init(&by_slot);
    for (size_t i = 0; i < j->n_pes; i++)
        parent[i] = (int32_t)i;
    for (size_t i = 0; i < j->n_pes && !rc; i++) {
        const pl_pe *p = &st->pes[j->pes[i]];
        for (size_t k = 0; k < p->n_coloc && !rc; k++)
            rc = join_on(&by_id, parent, (uint64_t)p->coloc[k], i);
        if (!rc && p->pool_index != PLACE_NONE && p->pool_name != PLACE_NONE)
            rc = join_on(&by_slot, parent, pl_key_job_node(p->pool_name, p->pool_index), i);
    }
    sp_imap_free(&by_id);
    sp_imap_free(&by_slot);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Group attributes                                                           */
/* ------------------------------------------------------------------------ */

static sp_rc group_add_pool(place_state *st, pl_group *g, int32_t pe, int32_t pool)
{
    for (size_t i = 0; i < g->n_pools; i++)
        if (g->pools[i] == pool)
            return SP_OK;
    if (g->n_pools == PL_MAX_GROUP_POOLS)
        return group_problem(g, "PE %s/%s: its colocation group uses more than %d "
                                "hostPools",
                             job_name(st, st->pes[pe].job), pe_str(st, pe),
                             PL_MAX_GROUP_POOLS);
    g->pools[g->n_pools++] = pool;
    return SP_OK;
}

static sp_rc group_add_slot(place_state *st, pl_group *g, int32_t pe, int32_t pool,
                            int32_t index)
{
    for (size_t i = 0; i < g->n_slots; i++) {
        if (g->slots[i].pool != pool)
            continue;
        if (g->slots[i].index == index)
            return SP_OK;
        return group_problem(g, "PE %s/%s needs hostPool '%s'[%d] but a PE colocated "
                                "with it needs '%s'[%d], a different node",
                             job_name(st, st->pes[pe].job), pe_str(st, pe),
                             pool_str(st, pool), index, pool_str(st, pool),
                             g->slots[i].index);
    }
    if (g->n_slots == PL_MAX_GROUP_POOLS)
        return SP_OK; /* group_add_pool already reported the excess */
    g->slots[g->n_slots].pool = pool;
    g->slots[g->n_slots].index = index;
    g->n_slots++;
    return SP_OK;
}

/* Check the pool a member uses and record it (and its index) on the group. */
static sp_rc group_use_pool(place_state *st, pl_group *g, int32_t pe)
{
    const pl_pe *p = &st->pes[pe];
    const char *job = job_name(st, p->job);
    bool missing;
    int32_t pool = pl_pe_pool(st, p, &missing);
    const pl_pool *pl;

    if (missing)
        return group_problem(g, "PE %s/%s: hostPool '%s' does not exist in namespace "
                                "'%s': create it, or fix annotation %s",
                             job, p->pe_id,
                             p->pool_name != PLACE_NONE ? sp_intern_str(&st->strs, p->pool_name)
                                                        : st->default_pool,
                             sp_intern_str(&st->strs, p->ns), PLACE_ANN_POOL);
    if (pool == PLACE_NONE)
        return SP_OK;
    pl = &st->pools[pool];
    if (pl->error)
        return group_problem(g, "PE %s/%s: hostPool '%s' is invalid: %s", job, p->pe_id,
                             pool_str(st, pool), pl->error);
    if (pl->job != PLACE_NONE && pl->job != st->jobs[p->job].key)
        return group_problem(g, "PE %s/%s: hostPool '%s' belongs to job '%s'", job,
                             p->pe_id, pool_str(st, pool),
                             strchr(sp_intern_str(&st->strs, pl->job), '/') + 1);
    if (p->pool_index != PLACE_NONE && pl->size == 0)
        return group_problem(g, "PE %s/%s: hostPool '%s' has no size, so it cannot be "
                                "indexed: give the pool spec.size or drop %s",
                             job, p->pe_id, pool_str(st, pool), PLACE_ANN_POOL_INDEX);
    if (p->pool_index != PLACE_NONE && p->pool_index >= pl->size)
        return group_problem(g, "PE %s/%s: index %d is out of range for hostPool '%s' "
                                "of size %lld",
                             job, p->pe_id, p->pool_index, pool_str(st, pool),
                             (long long)pl->size);
    if (group_add_pool(st, g, pe, pool))
        return SP_ENOMEM;
    if (p->pool_index != PLACE_NONE)
        return group_add_slot(st, g, pe, pool, p->pool_index);
    return SP_OK;
}

/* A member already reserved or bound fixes the group's node. */
static sp_rc group_note_fixed(place_state *st, pl_group *g, int32_t pe)
{
    const pl_pe *p = &st->pes[pe];

    if (movable(p) || p->node == PLACE_NONE)
        return SP_OK;
    if (g->fixed_node == PLACE_NONE) {
        g->fixed_node = p->node;
        g->fixed_pe = pe;
        return SP_OK;
    }
    if (g->fixed_node == p->node)
        return SP_OK;
    return group_problem(g, "hostColocation: PEs %s/%s and %s/%s are already on "
                            "different nodes ('%s', '%s')",
                         job_name(st, p->job), pe_str(st, g->fixed_pe),
                         job_name(st, p->job), p->pe_id,
                         place_node_name(st, g->fixed_node), place_node_name(st, p->node));
}

/* Restart: a non-relocatable member forces its previous node; a relocatable
 * one (or a former plan) only prefers it. */
static sp_rc group_note_previous(place_state *st, pl_group *g, int32_t pe)
{
    const pl_pe *p = &st->pes[pe];
    int32_t prev = pl_node_of_name(st, p->previous_node);

    if (p->previous_node == PLACE_NONE || !movable(p)) {
        if (movable(p) && p->sticky_node != PLACE_NONE && g->preferred_node == PLACE_NONE)
            g->preferred_node = pl_node_of_name(st, p->sticky_node);
        return SP_OK;
    }
    if (p->relocatable) {
        if (prev != PLACE_NONE && st->nodes[prev].alive)
            g->preferred_node = prev;
        return SP_OK;
    }
    if (prev == PLACE_NONE || !st->nodes[prev].alive)
        return group_problem(g, "relocatable=false: PE %s/%s must return to node '%s', "
                                "which does not exist; waiting for it",
                             job_name(st, p->job), p->pe_id,
                             sp_intern_str(&st->names, p->previous_node));
    if (g->forced_node == PLACE_NONE) {
        g->forced_node = prev;
        g->forced_pe = pe;
    } else if (g->forced_node != prev) {
        return group_problem(g, "relocatable=false: colocated PEs %s/%s and %s/%s must "
                                "return to different nodes",
                             job_name(st, p->job), pe_str(st, g->forced_pe),
                             job_name(st, p->job), p->pe_id);
    }
    return SP_OK;
}

static sp_rc group_add_exids(place_state *st, pl_group *g, const int32_t *members,
                             size_t n_members)
{
    size_t total = 0;

    for (size_t i = 0; i < n_members; i++)
        total += st->pes[members[i]].n_exloc;
    g->exids = sp_calloc(total ? total : 1, sizeof(*g->exids));
    if (!g->exids)
        return SP_ENOMEM;
    for (size_t i = 0; i < n_members; i++) {
        const pl_pe *p = &st->pes[members[i]];
        for (size_t k = 0; k < p->n_exloc; k++) {
            size_t at = 0;
            while (at < g->n_exids && g->exids[at] != p->exloc[k])
                at++;
            if (at == g->n_exids) {
                g->exids[g->n_exids++] = p->exloc[k];
                continue;
            }
            /* the id is already in the group: two colocated PEs exlocated */
            for (size_t o = 0; o < i; o++) {
                const pl_pe *q = &st->pes[members[o]];
                for (size_t e = 0; e < q->n_exloc; e++)
                    if (q->exloc[e] == p->exloc[k])
                        return group_problem(
                            g, "PEs %s/%s and %s/%s must share a node (hostColocation "
                               "or the same pool index) and are exlocated "
                               "(hostExlocation '%s'): remove one of the two",
                            job_name(st, p->job), q->pe_id, job_name(st, p->job),
                            p->pe_id, sp_intern_str(&st->strs, p->exloc[k]));
            }
        }
    }
    return SP_OK;
}

/* Exclusive pools must hold the whole group; isolation needs it alone. */
static sp_rc group_check_membership(place_state *st, pl_group *g)
{
    int32_t exclusive = PLACE_NONE;

    for (size_t i = 0; i < g->n_pools && !g->problem; i++) {
        if (!st->pools[g->pools[i]].exclusive)
            continue;
        if (exclusive != PLACE_NONE)
            return group_problem(g, "colocated PEs need exclusive hostPools '%s' and "
                                    "'%s', but a node belongs to at most one exclusive "
                                    "pool",
                                 pool_str(st, exclusive), pool_str(st, g->pools[i]));
        exclusive = g->pools[i];
    }
    for (size_t i = 0; i < g->n_pes && exclusive != PLACE_NONE; i++) {
        bool missing;
        const pl_pe *p = &st->pes[g->pes[i]];
        if (pl_pe_pool(st, p, &missing) != exclusive)
            return group_problem(g, "exclusive hostPool '%s' is colocated with PE %s/%s "
                                    "outside it: put the PE in the pool or drop the "
                                    "colocation",
                                 pool_str(st, exclusive), job_name(st, p->job), p->pe_id);
    }
    for (size_t i = 0; i < g->n_pes && g->n_pes > 1; i++) {
        const pl_pe *p = &st->pes[g->pes[i]];
        if (p->isolation)
            return group_problem(g, "PE %s/%s is isolated (hostIsolation) but must share "
                                    "its node with other PEs (hostColocation or the same "
                                    "pool index)",
                                 job_name(st, p->job), p->pe_id);
    }
    return SP_OK;
}

void pl_group_refresh_demand(const place_state *st, pl_group *g)
{
    memset(&g->demand, 0, sizeof(g->demand));
    g->n_movable = 0;
    for (size_t i = 0; i < g->n_pes; i++) {
        const pl_pe *p = &st->pes[g->pes[i]];
        if (!movable(p))
            continue;
        g->n_movable++;
        g->demand.cpu_milli += p->req.cpu_milli;
        g->demand.memory += p->req.memory;
        g->demand.pods += p->req.pods;
    }
}

static sp_rc group_describe(place_state *st, pl_group *g)
{
    sp_rc rc = SP_OK;

    g->fixed_node = g->fixed_pe = PLACE_NONE;
    g->forced_node = g->forced_pe = PLACE_NONE;
    g->preferred_node = PLACE_NONE;
    g->assigned = PLACE_NONE;
    for (size_t i = 0; i < g->n_pes && !rc; i++) {
        const pl_pe *p = &st->pes[g->pes[i]];
        if (p->error)
            rc = group_problem(g, "PE %s/%s: %s", job_name(st, p->job), p->pe_id, p->error);
        if (!rc)
            rc = group_note_fixed(st, g, g->pes[i]);
        if (!rc)
            rc = group_note_previous(st, g, g->pes[i]);
        if (!rc)
            rc = group_use_pool(st, g, g->pes[i]);
        g->isolated |= p->isolation;
    }
    if (!rc)
        rc = group_add_exids(st, g, g->pes, g->n_pes);
    if (!rc)
        rc = group_check_membership(st, g);
    pl_group_refresh_demand(st, g);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Job-wide problems                                                          */
/* ------------------------------------------------------------------------ */

/* How many nodes a pool can ever offer: its size, or its matching nodes. */
static sp_rc pool_capacity(place_state *st, int32_t pool, int64_t *nodes)
{
    const int32_t *cands;
    size_t n;

    if (st->pools[pool].size) {
        *nodes = st->pools[pool].size;
        return SP_OK;
    }
    if (pl_pool_candidates(st, pool, &cands, &n))
        return SP_ENOMEM;
    *nodes = (int64_t)n;
    return SP_OK;
}

/* Groups in one pool that share an exlocation id need that many nodes. */
static sp_rc check_pool_exlocation(place_state *st, pl_job_view *v)
{
    sp_imap count; /* (pool, exid) -> groups */
    sp_rc rc = SP_OK;

    sp_imap_init(&count);
    for (size_t gi = 0; gi < v->n_groups && !rc; gi++) {
        pl_group *g = &v->groups[gi];
        for (size_t i = 0; i < g->n_pools && !rc; i++)
            for (size_t k = 0; k < g->n_exids && !rc; k++) {
                uint64_t key = pl_key_job_node(g->pools[i], g->exids[k]);
                int64_t c = 0;
                sp_imap_get(&count, key, &c);
                rc = sp_imap_put(&count, key, c + 1);
            }
    }
    for (size_t gi = 0; gi < v->n_groups && !rc; gi++) {
        pl_group *g = &v->groups[gi];
        for (size_t i = 0; i < g->n_pools && !rc && !g->problem; i++)
            for (size_t k = 0; k < g->n_exids && !rc && !g->problem; k++) {
                int64_t c = 0, room = 0;
                int32_t pool = g->pools[i];
                sp_imap_get(&count, pl_key_job_node(pool, g->exids[k]), &c);
                rc = pool_capacity(st, pool, &room);
                if (!rc && c > room && !g->problem) {
                    g->problem_job_wide = true;
                    rc = group_problem(
                        g, "hostPool '%s' %s %lld node(s) but %lld PEs (or colocated "
                           "groups) of job '%s' share hostExlocation '%s' in it: "
                           "enlarge the pool or drop the exlocation",
                        pool_str(st, pool), st->pools[pool].size ? "has size" : "matches",
                        (long long)room, (long long)c, job_name(st, v->job),
                        sp_intern_str(&st->strs, g->exids[k]));
                }
            }
    }
    sp_imap_free(&count);
    return rc;
}

/* A node claimed by two exclusive pools poisons both. */
static sp_rc check_exclusive_overlap(place_state *st, pl_job_view *v)
{
    for (size_t gi = 0; gi < v->n_groups; gi++) {
        pl_group *g = &v->groups[gi];
        for (size_t i = 0; i < g->n_pools && !g->problem; i++) {
            const pl_pool *p = &st->pools[g->pools[i]];
            for (int64_t s = 0; p->exclusive && s < p->size; s++) {
                int32_t node = pl_node_of_name(st, p->members[s]);
                const pl_node *n;
                if (p->members[s] == PLACE_NONE || node == PLACE_NONE)
                    continue;
                n = &st->nodes[node];
                if (n->exclusive_clash == PLACE_NONE)
                    continue;
                g->problem_job_wide = true;
                if (group_problem(g, "node '%s' is in two exclusive hostPools ('%s', "
                                     "'%s'): remove it from one status.hosts",
                                  place_node_name(st, node), pool_str(st, n->exclusive_pool),
                                  pool_str(st, n->exclusive_clash)))
                    return SP_ENOMEM;
                break;
            }
        }
    }
    return SP_OK;
}

/* Colocated PEs in several pools need a node common to all of them. */
static sp_rc check_common_node(place_state *st, pl_group *g)
{
    const int32_t *first;
    size_t n_first;

    if (g->n_pools < 2 || g->problem)
        return SP_OK;
    if (pl_pool_candidates(st, g->pools[0], &first, &n_first))
        return SP_ENOMEM;
    for (size_t i = 0; i < n_first; i++) {
        bool everywhere = true;
        for (size_t k = 1; k < g->n_pools && everywhere; k++) {
            place_reason r;
            everywhere = pl_pool_matches(st, &st->pools[g->pools[k]], g->pools[k],
                                         first[i], &r);
        }
        if (everywhere)
            return SP_OK;
    }
    return group_problem(g, "no node is common to hostPools '%s' and '%s' of colocated "
                            "PEs of job '%s'",
                         pool_str(st, g->pools[0]), pool_str(st, g->pools[1]),
                         job_name(st, st->pes[g->pes[0]].job));
}

static sp_rc check_gang(place_state *st, pl_job_view *v)
{
    const pl_job *j = &st->jobs[v->job];
    char buf[PROBLEM_MAX];

    if (!st->gang_wait || j->pe_count <= 0 || (size_t)j->pe_count <= j->n_pes)
        return SP_OK;
    if (snprintf(buf, sizeof(buf),
                 "gang wait: %zu of %d PEs of job '%s' exist (%s); waiting for the rest "
                 "so the whole job is planned at once",
                 j->n_pes, j->pe_count, job_name(st, v->job), PLACE_ANN_PE_COUNT) < 0)
        buf[0] = '\0';
    v->job_problem = sp_strdup(buf);
    return v->job_problem ? SP_OK : SP_ENOMEM;
}

/* ------------------------------------------------------------------------ */
/* Building the view                                                          */
/* ------------------------------------------------------------------------ */

static sp_rc make_groups(place_state *st, pl_job_view *v, int32_t *parent)
{
    const pl_job *j = &st->jobs[v->job];
    size_t n_groups = 0, *fill;

    for (size_t i = 0; i < j->n_pes; i++)
        v->group_of[i] = parent[i] == (int32_t)i ? (int32_t)n_groups++ : PLACE_NONE;
    v->groups = sp_calloc(n_groups ? n_groups : 1, sizeof(*v->groups));
    if (!v->groups)
        return SP_ENOMEM;
    v->n_groups = n_groups;
    for (size_t i = 0; i < j->n_pes; i++) {
        v->group_of[i] = v->group_of[uf_find(parent, (int32_t)i)];
        v->groups[v->group_of[i]].n_pes++;
    }
    for (size_t gi = 0; gi < n_groups; gi++) {
        v->groups[gi].pes = sp_calloc(v->groups[gi].n_pes, sizeof(int32_t));
        if (!v->groups[gi].pes)
            return SP_ENOMEM;
    }
    fill = sp_calloc(n_groups ? n_groups : 1, sizeof(*fill));
    if (!fill)
        return SP_ENOMEM;
    for (size_t i = 0; i < j->n_pes; i++) {
        int32_t gi = v->group_of[i];
        v->groups[gi].pes[fill[gi]++] = j->pes[i];
    }
    sp_free(fill);
    return SP_OK;
}

static sp_rc index_positions(place_state *st, pl_job_view *v)
{
    const pl_job *j = &st->jobs[v->job];

    for (size_t i = 0; i < j->n_pes; i++)
        if (sp_imap_put(&v->pos_of_pe, (uint64_t)j->pes[i], (int64_t)i))
            return SP_ENOMEM;
    return SP_OK;
}

sp_rc pl_job_view_build(place_state *st, int32_t job, pl_job_view *v)
{
    const pl_job *j = &st->jobs[job];
    int32_t *parent = NULL;
    sp_rc rc;

    memset(v, 0, sizeof(*v));
    sp_imap_init(&v->pos_of_pe);
    v->job = job;
    parent = sp_calloc(j->n_pes ? j->n_pes : 1, sizeof(*parent));
    v->group_of = sp_calloc(j->n_pes ? j->n_pes : 1, sizeof(*v->group_of));
    rc = parent && v->group_of ? SP_OK : SP_ENOMEM;
    if (!rc)
        rc = colocation_sets(st, j, parent);
    if (!rc)
        rc = make_groups(st, v, parent);
    if (!rc)
        rc = index_positions(st, v);
    for (size_t gi = 0; gi < v->n_groups && !rc; gi++)
        rc = group_describe(st, &v->groups[gi]);
    if (!rc)
        rc = check_pool_exlocation(st, v);
    if (!rc)
        rc = check_exclusive_overlap(st, v);
    for (size_t gi = 0; gi < v->n_groups && !rc; gi++)
        rc = check_common_node(st, &v->groups[gi]);
    if (!rc)
        rc = check_gang(st, v);
    sp_free(parent);
    if (rc)
        pl_job_view_free(v);
    return rc;
}

void pl_job_view_free(pl_job_view *v)
{
    if (!v)
        return;
    for (size_t gi = 0; gi < v->n_groups; gi++) {
        sp_free(v->groups[gi].pes);
        sp_free(v->groups[gi].exids);
        sp_free(v->groups[gi].problem);
    }
    sp_free(v->groups);
    sp_free(v->group_of);
    sp_free(v->job_problem);
    sp_imap_free(&v->pos_of_pe);
    memset(v, 0, sizeof(*v));
}

int32_t pl_group_of_pe(const pl_job_view *v, int32_t pe)
{
    int64_t pos;

    if (!sp_imap_get(&v->pos_of_pe, (uint64_t)pe, &pos))
        return PLACE_NONE;
    return v->group_of[pos];
}

/* ------------------------------------------------------------------------ */
/* May a group go on a node?                                                  */
/* ------------------------------------------------------------------------ */

/* Members of the group already on the node: they are the group, not its
 * neighbours, and the movable ones already sit in the node's usage. */
typedef struct mates {
    int32_t count;
    int32_t isolated;
    place_resources movable;
} mates;

static void mates_on(const place_state *st, const pl_group *g, int32_t node, mates *m)
{
    memset(m, 0, sizeof(*m));
    for (size_t i = 0; i < g->n_pes; i++) {
        const pl_pe *p = &st->pes[g->pes[i]];
        if (p->node != node)
            continue;
        m->count++;
        m->isolated += p->isolation;
        if (movable(p)) {
            m->movable.cpu_milli += p->req.cpu_milli;
            m->movable.memory += p->req.memory;
            m->movable.pods += p->req.pods;
        }
    }
}

static bool in_group(const pl_group *g, int32_t pe)
{
    for (size_t i = 0; i < g->n_pes; i++)
        if (g->pes[i] == pe)
            return true;
    return false;
}

/* A PE on node outside the group, of job (or any job when job is NONE),
 * isolated only when want_isolated; PLACE_NONE when there is none. */
static int32_t neighbour(const place_state *st, const pl_group *g, int32_t node,
                         int32_t job, bool want_isolated, int32_t exid)
{
    const pl_node *n = &st->nodes[node];

    for (size_t i = 0; i < n->n_pes; i++) {
        const pl_pe *p = &st->pes[n->pes[i]];
        bool has_exid = exid == PLACE_NONE;
        for (size_t k = 0; k < p->n_exloc && !has_exid; k++)
            has_exid = p->exloc[k] == exid;
        if (in_group(g, n->pes[i]) || (job != PLACE_NONE && p->job != job) ||
            (want_isolated && !p->isolation) || !has_exid)
            continue;
        return n->pes[i];
    }
    return PLACE_NONE;
}

static bool check_node_itself(place_state *st, const pl_group *g, int32_t node,
                              place_reason *r)
{
    const pl_node *n = &st->nodes[node];

    if (!n->alive) {
        pl_reason_init(r, PLACE_R_NODE_UNKNOWN, true);
        return false;
    }
    if (n->condition != PLACE_NODE_READY) {
        pl_reason_init(r, n->condition == PLACE_NODE_CORDONED ? PLACE_R_NODE_CORDONED
                                                               : PLACE_R_NODE_NOT_READY,
                       true);
        return false;
    }
    for (size_t i = 0; i < g->n_pes && n->n_taints; i++) {
        const pl_pe *p = &st->pes[g->pes[i]];
        const pl_taint *t;
        if (movable(p) && !pl_tolerates(p, n, &t)) {
            pl_reason_init(r, PLACE_R_NODE_TAINT, true);
            r->str = node;
            r->index = (int32_t)(t - n->taints);
            return false;
        }
    }
    return true;
}

/* Colocation with a placed member, and restart to a fixed node. */
static bool check_pinned(place_state *st, const pl_group *g, int32_t node,
                         place_reason *r)
{
    if (g->fixed_node != PLACE_NONE && g->fixed_node != node && g->n_pes == 1) {
        /* the PE is its own group: it is the one reserved or bound there */
        pl_reason_init(r, PLACE_R_RESERVED_ELSEWHERE, true);
        r->str = st->nodes[g->fixed_node].name;
        return false;
    }
    if (g->fixed_node != PLACE_NONE && g->fixed_node != node) {
        const pl_pe *f = &st->pes[g->fixed_pe];
        pl_reason_init(r, PLACE_R_COLOCATION, true);
        r->other_pe = g->fixed_pe;
        r->str = f->n_coloc ? f->coloc[0] : PLACE_NONE;
        r->str2 = st->nodes[g->fixed_node].name;
        return false;
    }
    if (g->forced_node != PLACE_NONE && g->forced_node != node) {
        pl_reason_init(r, PLACE_R_PREVIOUS_NODE, true);
        r->other_pe = g->forced_pe;
        r->str = st->nodes[g->forced_node].name;
        return false;
    }
    return true;
}

/* Could node become a new member of the (sized) pool for this group? */
static bool check_addable(place_state *st, const pl_group *g, int32_t pool,
                          int32_t node, place_reason *r)
{
    const pl_pool *p = &st->pools[pool];
    const pl_node *n = &st->nodes[node];
    int32_t job = st->pes[g->pes[0]].job;
    int32_t other;

    if (!p->exclusive)
        return true;
    if (n->exclusive_pool != PLACE_NONE && n->exclusive_pool != pool) {
        pl_reason_init(r, PLACE_R_EXCLUSIVE_TAKEN, true);
        r->pool = pool;
        r->index = n->exclusive_pool;
        return false;
    }
    if ((int32_t)n->n_pes > pl_job_count_on(st, job, node)) {
        pl_reason_init(r, PLACE_R_EXCLUSIVE_OCCUPIED, true);
        r->pool = pool;
        other = PLACE_NONE;
        for (size_t i = 0; i < n->n_pes && other == PLACE_NONE; i++)
            if (st->pes[n->pes[i]].job != job)
                other = n->pes[i];
        r->other_pe = other;
        return false;
    }
    return true;
}

static const pl_slot_req *slot_req(const pl_group *g, int32_t pool)
{
    for (size_t i = 0; i < g->n_slots; i++)
        if (g->slots[i].pool == pool)
            return &g->slots[i];
    return NULL;
}

static bool check_sized_pool(place_state *st, const pl_group *g, int32_t pool,
                             int32_t node, place_reason *r)
{
    const pl_pool *p = &st->pools[pool];
    const pl_slot_req *want = slot_req(g, pool);
    int32_t held = pl_pool_slot_of(st, p, node);

    if (want && p->members[want->index] != PLACE_NONE) {
        if (held == want->index)
            return true;
        pl_reason_init(r, PLACE_R_POOL_INDEX_NODE, true);
        r->pool = pool;
        r->index = want->index;
        r->str2 = p->members[want->index];
        return false;
    }
    if (want && held != PLACE_NONE) {
        pl_reason_init(r, PLACE_R_POOL_MEMBER_ELSEWHERE, true);
        r->pool = pool;
        r->index = want->index;
        return false;
    }
    if (!want && held != PLACE_NONE)
        return true;
    if (!want && (int64_t)p->n_members >= p->size) {
        pl_reason_init(r, PLACE_R_POOL_FULL, true);
        r->pool = pool;
        return false;
    }
    return check_addable(st, g, pool, node, r);
}

static bool check_pools(place_state *st, const pl_group *g, int32_t node,
                        place_reason *r)
{
    for (size_t i = 0; i < g->n_pools; i++) {
        const pl_pool *p = &st->pools[g->pools[i]];
        if (!pl_pool_matches(st, p, g->pools[i], node, r))
            return false;
        if (p->size && !check_sized_pool(st, g, g->pools[i], node, r))
            return false;
    }
    return true;
}

/* Another job's exclusive pool owns the node. */
static bool check_foreign_exclusive(place_state *st, const pl_group *g, int32_t node,
                                    place_reason *r)
{
    const pl_node *n = &st->nodes[node];
    int32_t key = st->jobs[st->pes[g->pes[0]].job].key;
    int32_t owners[2] = { n->exclusive_pool, n->exclusive_clash };

    for (int i = 0; i < 2; i++) {
        if (owners[i] == PLACE_NONE || st->pools[owners[i]].job == key)
            continue;
        pl_reason_init(r, PLACE_R_EXCLUSIVE_OTHER_JOB, true);
        r->pool = owners[i];
        return false;
    }
    return true;
}

static bool check_isolation(place_state *st, const pl_group *g, int32_t node,
                            const mates *m, place_reason *r)
{
    const pl_node *n = &st->nodes[node];
    int32_t job = st->pes[g->pes[0]].job;
    bool by_job = st->isolation_scope == PLACE_ISOLATION_JOB;
    int32_t others = by_job ? pl_job_count_on(st, job, node) : (int32_t)n->n_pes;
    int32_t isolated = by_job ? pl_job_isolated_on(st, job, node) : n->n_isolated;

    if (g->isolated && others - m->count > 0) {
        pl_reason_init(r, PLACE_R_ISOLATION_SELF, true);
        r->other_pe = neighbour(st, g, node, by_job ? job : PLACE_NONE, false, PLACE_NONE);
        return false;
    }
    if (isolated - m->isolated > 0) {
        pl_reason_init(r, PLACE_R_ISOLATION_OTHER, true);
        r->other_pe = neighbour(st, g, node, by_job ? job : PLACE_NONE, true, PLACE_NONE);
        return false;
    }
    return true;
}

static int32_t mates_with_exid(const place_state *st, const pl_group *g, int32_t node,
                               int32_t exid)
{
    int32_t c = 0;

    for (size_t i = 0; i < g->n_pes; i++) {
        const pl_pe *p = &st->pes[g->pes[i]];
        for (size_t k = 0; p->node == node && k < p->n_exloc; k++)
            c += p->exloc[k] == exid;
    }
    return c;
}

static bool check_exlocation(place_state *st, const pl_group *g, int32_t node,
                             const mates *m, place_reason *r)
{
    int32_t job = st->pes[g->pes[0]].job;

    for (size_t k = 0; k < g->n_exids; k++) {
        int32_t c = pl_exloc_count_on(st, job, g->exids[k], node);
        if (c && m->count)
            c -= mates_with_exid(st, g, node, g->exids[k]);
        if (c > 0) {
            pl_reason_init(r, PLACE_R_EXLOCATION, true);
            r->str = g->exids[k];
            r->other_pe = neighbour(st, g, node, job, false, g->exids[k]);
            return false;
        }
    }
    return true;
}

static bool check_capacity(place_state *st, const pl_group *g, int32_t node,
                           const mates *m, place_reason *r)
{
    const pl_node *n = &st->nodes[node];
    struct {
        place_reason_code code;
        int64_t need, free, total;
    } dims[3] = {
        { PLACE_R_CPU, g->demand.cpu_milli - m->movable.cpu_milli,
          n->alloc.cpu_milli - n->used.cpu_milli, n->alloc.cpu_milli },
        { PLACE_R_MEMORY, g->demand.memory - m->movable.memory,
          n->alloc.memory - n->used.memory, n->alloc.memory },
        { PLACE_R_PODS, g->demand.pods - m->movable.pods, n->alloc.pods - n->used.pods,
          n->alloc.pods },
    };

    for (int i = 0; i < 3; i++) {
        if (dims[i].need <= 0 || dims[i].need <= dims[i].free)
            continue;
        pl_reason_init(r, dims[i].code, false);
        r->need = dims[i].need;
        r->free = dims[i].free;
        r->total = dims[i].total;
        return false;
    }
    return true;
}

void pl_check_group_node(place_state *st, const pl_job_view *v, const pl_group *g,
                         int32_t node, place_reason *r)
{
    mates m;

    if (v->job_problem || g->problem) {
        pl_reason_init(r, PLACE_R_JOB, true);
        r->text = v->job_problem ? v->job_problem : g->problem;
        return;
    }
    if (!check_node_itself(st, g, node, r) || !check_pinned(st, g, node, r) ||
        !check_pools(st, g, node, r) || !check_foreign_exclusive(st, g, node, r))
        return;
    mates_on(st, g, node, &m);
    if (!check_isolation(st, g, node, &m, r) || !check_exlocation(st, g, node, &m, r) ||
        !check_capacity(st, g, node, &m, r))
        return;
    pl_reason_init(r, PLACE_R_OK, false);
}

/* ------------------------------------------------------------------------ */
/* Placing a group                                                            */
/* ------------------------------------------------------------------------ */

static sp_rc take_slot(place_state *st, int32_t pool, int32_t slot, int32_t node,
                       pl_trail *trail)
{
    sp_rc rc = pl_pool_set_slot(st, pool, slot, node);

    if (rc || !trail)
        return rc;
    if (sp_grow(&trail->v, &trail->cap, trail->n + 1, sizeof(*trail->v))) {
        pl_pool_clear_slot(st, pool, slot);
        return SP_ENOMEM;
    }
    trail->v[trail->n].pool = pool;
    trail->v[trail->n].index = slot;
    trail->n++;
    return SP_OK;
}

/* A free slot of pool for a PE without an index: one no indexed PE of the
 * plan asks for, when there is such a slot. */
static int32_t free_slot_for_unindexed(const pl_pool *p, int32_t pool, const pl_trail *trail)
{
    int32_t first = pl_pool_free_slot(p);

    if (first == PLACE_NONE || !trail || !trail->wanted)
        return first;
    for (int64_t i = first; i < p->size; i++)
        if (p->members[i] == PLACE_NONE &&
            !sp_imap_get(trail->wanted, pl_key_job_node(pool, (int32_t)i), NULL))
            return (int32_t)i;
    return first;
}

/* Take the pool slots the group needs on node (index or a free one). */
static sp_rc take_slots(place_state *st, const pl_group *g, int32_t node,
                        pl_trail *trail)
{
    for (size_t i = 0; i < g->n_pools; i++) {
        int32_t pool = g->pools[i], slot;
        const pl_pool *p = &st->pools[pool];
        const pl_slot_req *want = slot_req(g, pool);
        sp_rc rc = SP_OK;
        if (!p->size || pl_pool_slot_of(st, p, node) != PLACE_NONE)
            continue;
        slot = want ? want->index : free_slot_for_unindexed(p, pool, trail);
        if (slot != PLACE_NONE)
            rc = take_slot(st, pool, slot, node, trail);
        if (rc)
            return rc;
    }
    return SP_OK;
}

sp_rc pl_group_place(place_state *st, pl_group *g, int32_t node, place_phase ph,
                     pl_trail *trail)
{
    sp_rc rc = take_slots(st, g, node, trail);

    for (size_t i = 0; i < g->n_pes && !rc; i++) {
        pl_pe *p = &st->pes[g->pes[i]];
        if (!movable(p))
            continue;
        if (p->node == node)
            pl_pe_set_phase(st, g->pes[i], ph);
        else
            rc = pl_pe_assign(st, g->pes[i], node, ph);
    }
    if (!rc)
        g->assigned = node;
    return rc;
}

void pl_group_unplace(place_state *st, pl_group *g)
{
    for (size_t i = 0; i < g->n_pes; i++)
        if (movable(&st->pes[g->pes[i]]))
            pl_pe_unassign(st, g->pes[i]);
    g->assigned = PLACE_NONE;
}

/* ------------------------------------------------------------------------ */
/* Explaining a group that fits nowhere                                       */
/* ------------------------------------------------------------------------ */

/* Record the detailed reason of node in the per-node list of detail. */
static sp_rc detail_add(place_state *st, const place_reason *r, int32_t node,
                        place_unplaced *d)
{
    sp_buf b;
    sp_rc rc;

    sp_buf_init(&b, 4096);
    rc = place_reason_format(st, r, &b);
    if (!rc) {
        d->nodes[d->n_nodes] = node;
        d->node_reasons[d->n_nodes] = sp_buf_take(&b);
        rc = d->node_reasons[d->n_nodes] ? SP_OK : SP_ENOMEM;
        if (!rc)
            d->n_nodes++;
    }
    sp_buf_free(&b);
    return rc;
}

sp_rc pl_explain_group(place_state *st, const pl_job_view *v, const pl_group *g,
                       sp_buf *summary, place_unplaced *detail)
{
    place_reason *verdicts;
    size_t n = 0;
    sp_rc rc = SP_OK;

    if (detail) {
        detail->nodes = sp_calloc(st->live_nodes + 1, sizeof(*detail->nodes));
        detail->node_reasons = sp_calloc(st->live_nodes + 1, sizeof(char *));
        if (!detail->nodes || !detail->node_reasons)
            return SP_ENOMEM;
    }
    if (v->job_problem || g->problem)
        return sp_buf_puts(summary, v->job_problem ? v->job_problem : g->problem);
    verdicts = sp_calloc(st->live_nodes + 1, sizeof(*verdicts));
    if (!verdicts)
        return SP_ENOMEM;
    for (size_t i = 0; i < st->n_nodes && !rc; i++) {
        if (!st->nodes[i].alive)
            continue;
        pl_check_group_node(st, v, g, (int32_t)i, &verdicts[n]);
        if (detail && verdicts[n].code != PLACE_R_OK)
            rc = detail_add(st, &verdicts[n], (int32_t)i, detail);
        n++;
    }
    if (!rc)
        rc = place_reason_summary(st, verdicts, n, summary);
    sp_free(verdicts);
    return rc;
}
