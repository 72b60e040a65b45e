/*
 * Finding nodes for the planner. Each unit (colocation group) searches a
 * domain: the candidates of its tightest pool, or every node, held in a heap
 * keyed by (pool membership, balance count, cpu use, tie-break) or, when a
 * retry packs instead of spreading, by free capacity (best fit). Keys only
 * worsen as nodes fill, so stale entries are re-keyed lazily when popped; a
 * node that joins a sized pool is pushed again with its better key, and any
 * move that frees room marks the heaps for rebuilding. Units the greedy pass
 * could not place get a bounded local search (ejection chains with a tabu
 * tenure): each is put where the fewest units of this plan are in its way,
 * and those go back on the list. Last, a sweep tries every node for what is
 * still unplaced, and sized pools get their full membership.
 */
#include <stdlib.h>
#include <string.h>

#include "placement/place_internal.h"
#include "util/sp_alloc.h"

#define KEY_DEAD INT64_MAX  /* the node can never serve this domain */

pl_group *pl_unit_group(const pl_planner *pl, int32_t unit)
{
    return &pl->views[pl->units[unit].view].groups[pl->units[unit].group];
}

const pl_job_view *pl_unit_view(const pl_planner *pl, int32_t unit)
{
    return &pl->views[pl->units[unit].view];
}

static int32_t unit_job(const pl_planner *pl, int32_t unit)
{
    return pl_unit_view(pl, unit)->job;
}

/* ------------------------------------------------------------------------ */
/* Heaps                                                                      */
/* ------------------------------------------------------------------------ */

static void swap_entries(pl_heap *h, size_t a, size_t b)
{
    pl_heap_entry tmp = h->v[a];

    h->v[a] = h->v[b];
    h->v[b] = tmp;
}

static void heap_sift_up(pl_heap *h, size_t i)
{
    while (i > 0 && h->v[(i - 1) / 2].key > h->v[i].key) {
        swap_entries(h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void heap_sift_down(pl_heap *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && h->v[l].key < h->v[m].key)
            m = l;
        if (r < h->n && h->v[r].key < h->v[m].key)
            m = r;
        if (m == i)
            return;
        swap_entries(h, i, m);
        i = m;
    }
}

static sp_rc heap_push(pl_heap *h, int64_t key, int32_t node)
{
    if (sp_grow(&h->v, &h->cap, h->n + 1, sizeof(*h->v)))
        return SP_ENOMEM;
    h->v[h->n].key = key;
    h->v[h->n].node = node;
    heap_sift_up(h, h->n++);
    return SP_OK;
}

static pl_heap_entry heap_pop(pl_heap *h)
{
    pl_heap_entry top = h->v[0];

    h->v[0] = h->v[--h->n];
    heap_sift_down(h, 0);
    return top;
}

/* ------------------------------------------------------------------------ */
/* Domains                                                                    */
/* ------------------------------------------------------------------------ */

/* Permille of a resource used (balance) or left free (packing). */
static int64_t permille(int64_t part, int64_t whole)
{
    int64_t v = whole > 0 ? part * 1000 / whole : 1000;

    return v < 0 ? 0 : v > 1000 ? 1000 : v;
}

/*
 * How well node can hold its share of what the plan puts in a sized pool
 * (need / size), 0 (no room) to 1000 (room for all of it): a new member is
 * chosen once and kept, so room for the pool's PEs ranks before balance.
 */
static int64_t room_for_share(const pl_planner *pl, int32_t pool, const pl_node *n)
{
    const place_resources *need = &pl->pool_need[pool];
    int64_t size = pl->st->pools[pool].size;
    int64_t cpu = permille(n->alloc.cpu_milli - n->used.cpu_milli,
                           need->cpu_milli / size + 1);
    int64_t mem = permille(n->alloc.memory - n->used.memory, need->memory / size + 1);

    return cpu < mem ? cpu : mem;
}

static int64_t domain_key(const pl_planner *pl, const pl_domain *d, int32_t node)
{
    const place_state *st = pl->st;
    const pl_node *n = &st->nodes[node];
    int64_t tier = 0, count, fill, tie;

    if (!n->alive || n->condition != PLACE_NODE_READY || n->used.pods >= n->alloc.pods)
        return KEY_DEAD;
    if (d->pool != PLACE_NONE && st->pools[d->pool].size) {
        const pl_pool *p = &st->pools[d->pool];
        bool member = pl_pool_slot_of(st, p, node) != PLACE_NONE;
        if (!member && (int64_t)p->n_members >= p->size)
            return KEY_DEAD;
        tier = member ? 0 : 1 + 1000 - room_for_share(pl, d->pool, n);
    }
    tie = (int64_t)(sp_hash_u64((uint64_t)node ^ pl->seed) & 0xffffff);
    if (pl->pack) {
        fill = (permille(n->alloc.cpu_milli - n->used.cpu_milli, n->alloc.cpu_milli) +
                permille(n->alloc.memory - n->used.memory, n->alloc.memory)) / 2;
        return (tier << 52) | (fill << 40) | tie;
    }
    count = d->job == PLACE_NONE ? (int64_t)n->n_pes : pl_job_count_on(st, d->job, node);
    count = count > 0x3ffff ? 0x3ffff : count;
    fill = permille(n->used.cpu_milli, n->alloc.cpu_milli);
    return (tier << 52) | (count << 34) | (fill << 24) | tie;
}

static sp_rc domain_build(pl_planner *pl, pl_domain *d)
{
    place_state *st = pl->st;
    const int32_t *cands = NULL;
    size_t n = st->n_nodes;

    d->built = true;
    d->h.n = 0;
    if (d->pool != PLACE_NONE && pl_pool_candidates(st, d->pool, &cands, &n))
        return SP_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int32_t node = cands ? cands[i] : (int32_t)i;
        int64_t key = domain_key(pl, d, node);
        pl->work++;
        if (key != KEY_DEAD && heap_push(&d->h, key, node))
            return SP_ENOMEM;
    }
    return SP_OK;
}

static void domains_dirty(pl_planner *pl)
{
    for (size_t d = 0; d < pl->n_domains; d++)
        pl->domains[d].built = false;
}

static sp_rc domain_find(pl_planner *pl, int32_t pool, int32_t job, uint32_t *out)
{
    for (size_t d = 0; d < pl->n_domains; d++) {
        if (pl->domains[d].pool == pool && pl->domains[d].job == job) {
            *out = (uint32_t)d;
            return SP_OK;
        }
    }
    if (sp_grow(&pl->domains, &pl->cap_domains, pl->n_domains + 1, sizeof(*pl->domains)))
        return SP_ENOMEM;
    memset(&pl->domains[pl->n_domains], 0, sizeof(*pl->domains));
    pl->domains[pl->n_domains].pool = pool;
    pl->domains[pl->n_domains].job = job;
    *out = (uint32_t)pl->n_domains++;
    return SP_OK;
}

/* Candidates a pool can offer the planner: its members once full. */
static size_t pool_reach(place_state *st, int32_t pool)
{
    const pl_pool *p = &st->pools[pool];
    const int32_t *cands;
    size_t n = 0;

    if (pl_pool_candidates(st, pool, &cands, &n))
        return 0;
    if (p->size && (int64_t)p->n_members >= p->size && (int64_t)n > p->size)
        n = (size_t)p->size;
    return n;
}

sp_rc pl_assign_domains(pl_planner *pl)
{
    int32_t job_key;

    for (size_t u = 0; u < pl->n_units; u++) {
        pl_group *g = pl_unit_group(pl, (int32_t)u);
        int32_t pool = PLACE_NONE;
        size_t best = (size_t)-1;
        for (size_t i = 0; i < g->n_pools; i++) {
            size_t n = pool_reach(pl->st, g->pools[i]);
            if (n < best) {
                best = n;
                pool = g->pools[i];
            }
        }
        job_key = pl->st->balancing == PLACE_BALANCE_JOB ? unit_job(pl, (int32_t)u)
                                                          : PLACE_NONE;
        if (domain_find(pl, pool, job_key, &g->domain))
            return SP_ENOMEM;
    }
    return SP_OK;
}

size_t pl_domain_size(pl_planner *pl, int32_t unit)
{
    const pl_domain *d = &pl->domains[pl_unit_group(pl, unit)->domain];

    return d->pool == PLACE_NONE ? pl->st->live_nodes : pool_reach(pl->st, d->pool);
}

/* After a unit took pool slots, those nodes rank better in that pool. */
static sp_rc note_new_members(pl_planner *pl, size_t trail_from)
{
    for (size_t t = trail_from; t < pl->trail.n; t++) {
        const pl_pool *p = &pl->st->pools[pl->trail.v[t].pool];
        int32_t node = pl_node_of_name(pl->st, p->members[pl->trail.v[t].index]);
        for (size_t d = 0; d < pl->n_domains; d++) {
            pl_domain *dom = &pl->domains[d];
            if (dom->pool != pl->trail.v[t].pool || !dom->built)
                continue;
            if (heap_push(&dom->h, domain_key(pl, dom, node), node))
                return SP_ENOMEM;
        }
    }
    return SP_OK;
}

/* ------------------------------------------------------------------------ */
/* Choosing a node                                                            */
/* ------------------------------------------------------------------------ */

static place_reason_code verdict(pl_planner *pl, int32_t unit, int32_t node)
{
    place_reason r;

    pl->work++;
    pl_check_group_node(pl->st, pl_unit_view(pl, unit), pl_unit_group(pl, unit), node, &r);
    return r.code;
}

static bool fits(pl_planner *pl, int32_t unit, int32_t node)
{
    return verdict(pl, unit, node) == PLACE_R_OK;
}

int32_t pl_pinned_node(const pl_planner *pl, const pl_group *g)
{
    if (g->fixed_node != PLACE_NONE)
        return g->fixed_node;
    if (g->forced_node != PLACE_NONE)
        return g->forced_node;
    for (size_t i = 0; i < g->n_slots; i++) {
        const pl_pool *p = &pl->st->pools[g->slots[i].pool];
        if (p->members[g->slots[i].index] != PLACE_NONE)
            return pl_node_of_name(pl->st, p->members[g->slots[i].index]);
    }
    return PLACE_NONE;
}

/* Best node of the unit's domain that fits, by popping its heap. */
static sp_rc search_domain(pl_planner *pl, int32_t unit, int32_t *found)
{
    pl_domain *d = &pl->domains[pl_unit_group(pl, unit)->domain];
    pl_heap aside = { 0 };
    sp_rc rc = SP_OK;

    if (!d->built && (rc = domain_build(pl, d)))
        return rc;
    while (d->h.n && *found == PLACE_NONE && !rc) {
        pl_heap_entry e = heap_pop(&d->h);
        int64_t now = domain_key(pl, d, e.node);
        if (now == KEY_DEAD || now < e.key)
            continue;                   /* gone, or a fresher entry exists */
        if (now > e.key)
            rc = heap_push(&d->h, now, e.node);
        else if (fits(pl, unit, e.node))
            *found = e.node;
        else
            rc = heap_push(&aside, e.key, e.node);
    }
    for (size_t i = 0; i < aside.n && !rc; i++)
        rc = heap_push(&d->h, aside.v[i].key, aside.v[i].node);
    sp_free(aside.v);
    return rc;
}

/* Is a smaller than b (cpu, then memory)? */
static bool smaller_node(const pl_node *a, const pl_node *b)
{
    if (a->alloc.cpu_milli != b->alloc.cpu_milli)
        return a->alloc.cpu_milli < b->alloc.cpu_milli;
    return a->alloc.memory < b->alloc.memory;
}

/*
 * An isolated unit owns its node, so it takes the smallest node that fits
 * rather than the emptiest: the big ones stay for the units that share.
 */
static sp_rc smallest_fit(pl_planner *pl, int32_t unit, int32_t *found)
{
    const place_state *st = pl->st;
    const pl_domain *d = &pl->domains[pl_unit_group(pl, unit)->domain];
    const int32_t *cands = NULL;
    size_t n = st->n_nodes;
    bool by_job = st->isolation_scope == PLACE_ISOLATION_JOB;
    int32_t job = unit_job(pl, unit);

    if (d->pool != PLACE_NONE && pl_pool_candidates(pl->st, d->pool, &cands, &n))
        return SP_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int32_t node = cands ? cands[i] : (int32_t)i;
        const pl_node *nd = &st->nodes[node];
        bool busy = by_job ? pl_job_count_on(st, job, node) > 0 : nd->n_pes > 0;
        if (!nd->alive || busy ||
            (*found != PLACE_NONE && !smaller_node(nd, &st->nodes[*found])))
            continue;
        if (fits(pl, unit, node))
            *found = node;
    }
    return SP_OK;
}

sp_rc pl_choose_node(pl_planner *pl, int32_t unit, int32_t *found)
{
    const pl_group *g = pl_unit_group(pl, unit);
    int32_t pinned = pl_pinned_node(pl, g);

    *found = PLACE_NONE;
    if (pinned != PLACE_NONE) {
        if (fits(pl, unit, pinned))
            *found = pinned;
        return SP_OK;
    }
    if (g->preferred_node != PLACE_NONE && fits(pl, unit, g->preferred_node)) {
        *found = g->preferred_node;
        return SP_OK;
    }
    if (g->isolated)
        return smallest_fit(pl, unit, found);
    return search_domain(pl, unit, found);
}

/* ------------------------------------------------------------------------ */
/* Committing and undoing                                                     */
/* ------------------------------------------------------------------------ */

static sp_rc record_step(pl_planner *pl, int32_t unit, int32_t node)
{
    if (sp_grow(&pl->steps, &pl->cap_steps, pl->n_steps + 1, sizeof(*pl->steps)))
        return SP_ENOMEM;
    pl->steps[pl->n_steps].unit = unit;
    pl->steps[pl->n_steps].node = node;
    pl->n_steps++;
    return SP_OK;
}

sp_rc pl_commit(pl_planner *pl, int32_t unit, int32_t node)
{
    pl_group *g = pl_unit_group(pl, unit);
    pl_domain *d = &pl->domains[g->domain];
    size_t trail_from = pl->trail.n;
    sp_rc rc = pl_group_place(pl->st, g, node, PLACE_PLANNED, &pl->trail);

    if (!rc)
        rc = record_step(pl, unit, node);
    if (!rc)
        rc = note_new_members(pl, trail_from);
    if (!rc && d->built) {
        int64_t key = domain_key(pl, d, node);
        if (key != KEY_DEAD)
            rc = heap_push(&d->h, key, node);
    }
    return rc;
}

void pl_undo_attempt(pl_planner *pl)
{
    for (size_t i = pl->n_steps; i-- > 0;)
        pl_group_unplace(pl->st, pl_unit_group(pl, pl->steps[i].unit));
    for (size_t t = pl->trail.n; t-- > 0;)
        pl_pool_clear_slot(pl->st, pl->trail.v[t].pool, pl->trail.v[t].index);
    pl->trail.n = 0;
    pl->n_steps = 0;
    domains_dirty(pl);
}

/* ------------------------------------------------------------------------ */
/* Local search: ejection chains for what the greedy pass left over          */
/* ------------------------------------------------------------------------ */

#define LS_SAMPLE 8         /* nodes weighed per step */
#define LS_MOVERS 4         /* units moved off one node at the most */
#define LS_TENURE 7         /* steps a just-placed unit may not be moved */
#define LS_STEPS_PER_UNIT 40

sp_rc pl_eject(pl_planner *pl, int32_t unit)
{
    pl_group_unplace(pl->st, pl_unit_group(pl, unit));
    domains_dirty(pl);
    return record_step(pl, unit, PLACE_NONE);
}

sp_rc pl_replay(pl_planner *pl, const pl_step *steps, size_t n)
{
    sp_rc rc = SP_OK;

    for (size_t i = 0; i < n && !rc; i++)
        rc = steps[i].node == PLACE_NONE ? pl_eject(pl, steps[i].unit)
                                         : pl_commit(pl, steps[i].unit, steps[i].node);
    return rc;
}

/* Refusals that moving planned units away could lift. */
static bool room_could_help(place_reason_code code)
{
    return code == PLACE_R_CPU || code == PLACE_R_MEMORY || code == PLACE_R_PODS ||
           code == PLACE_R_ISOLATION_SELF || code == PLACE_R_ISOLATION_OTHER ||
           code == PLACE_R_EXLOCATION || code == PLACE_R_EXCLUSIVE_OCCUPIED;
}

/* Units of this plan on node that may move now, smallest first. */
static size_t movers_on(pl_planner *pl, int32_t unit, int32_t node, int64_t step,
                        int32_t *out)
{
    const pl_node *n = &pl->st->nodes[node];
    size_t count = 0;

    for (size_t i = 0; i < n->n_pes && count < LS_MOVERS; i++) {
        int64_t v;
        bool seen = false;
        const pl_group *g;
        if (!sp_imap_get(&pl->unit_of_pe, (uint64_t)n->pes[i], &v) || v == unit ||
            pl->tabu[v] > step)
            continue;
        g = pl_unit_group(pl, (int32_t)v);
        for (size_t k = 0; k < count && !seen; k++)
            seen = out[k] == (int32_t)v;
        if (!seen && g->assigned == node && pl_pinned_node(pl, g) == PLACE_NONE)
            out[count++] = (int32_t)v;
    }
    for (size_t i = 1; i < count; i++)
        for (size_t k = i; k > 0 && pl_unit_group(pl, out[k])->demand.cpu_milli <
                                        pl_unit_group(pl, out[k - 1])->demand.cpu_milli;
             k--) {
            int32_t tmp = out[k];
            out[k] = out[k - 1];
            out[k - 1] = tmp;
        }
    return count;
}

/* How many of movers[0..n) must leave node before unit fits (0: none fit).
 * The state is left as it was. */
static sp_rc ejection_cost(pl_planner *pl, int32_t unit, int32_t node,
                           const int32_t *movers, size_t n, size_t *cost)
{
    size_t k = 0;
    sp_rc rc = SP_OK;

    *cost = 0;
    while (k < n && !*cost) {
        pl_group_unplace(pl->st, pl_unit_group(pl, movers[k++]));
        if (fits(pl, unit, node))
            *cost = k;
    }
    for (size_t i = 0; i < k && !rc; i++)
        rc = pl_group_place(pl->st, pl_unit_group(pl, movers[i]), node, PLACE_PLANNED, NULL);
    return rc;
}

typedef struct ls_move {
    int32_t node;
    int32_t movers[LS_MOVERS];
    size_t cost;
} ls_move;

/* Weigh node for unit and keep it in best when it is cheaper. */
static sp_rc weigh_node(pl_planner *pl, int32_t unit, int32_t node, int64_t step,
                        ls_move *best)
{
    int32_t movers[LS_MOVERS];
    size_t n, cost;
    sp_rc rc;

    if (!pl->st->nodes[node].alive || !room_could_help(verdict(pl, unit, node)))
        return SP_OK;
    n = movers_on(pl, unit, node, step, movers);
    rc = ejection_cost(pl, unit, node, movers, n, &cost);
    if (rc || !cost || (best->node != PLACE_NONE && cost >= best->cost))
        return rc;
    best->node = node;
    best->cost = cost;
    memcpy(best->movers, movers, cost * sizeof(*movers));
    return SP_OK;
}

/* The cheapest of a few sampled nodes to make room on, for unit. */
static sp_rc pick_move(pl_planner *pl, int32_t unit, int64_t step, sp_rng *rng,
                       ls_move *best)
{
    const pl_group *g = pl_unit_group(pl, unit);
    const pl_domain *d = &pl->domains[g->domain];
    const int32_t *cands = NULL;
    size_t n = pl->st->n_nodes;
    int32_t pinned = pl_pinned_node(pl, g);
    sp_rc rc = SP_OK;

    best->node = PLACE_NONE;
    if (pinned != PLACE_NONE)
        return weigh_node(pl, unit, pinned, step, best);
    if (d->pool != PLACE_NONE && pl_pool_candidates(pl->st, d->pool, &cands, &n))
        return SP_ENOMEM;
    for (size_t k = 0; k < LS_SAMPLE && n && !rc; k++) {
        size_t at = (size_t)sp_rng_below(rng, n);
        rc = weigh_node(pl, unit, cands ? cands[at] : (int32_t)at, step, best);
    }
    return rc;
}

static size_t failed_pes(const pl_planner *pl, const int32_t *failed, size_t n)
{
    size_t pes = 0;

    for (size_t i = 0; i < n; i++)
        pes += pl_unit_group(pl, failed[i])->n_movable;
    return pes;
}

/* Make the move: movers leave, unit comes, movers join the failed list
 * (which has room: every unit is in it at most once). */
static sp_rc apply_move(pl_planner *pl, int32_t unit, const ls_move *m, int64_t step,
                        int32_t *failed, size_t *n_failed, size_t at)
{
    sp_rc rc = SP_OK;

    for (size_t i = 0; i < m->cost && !rc; i++)
        rc = pl_eject(pl, m->movers[i]);
    if (!rc)
        rc = pl_commit(pl, unit, m->node);
    pl->tabu[unit] = step + LS_TENURE;
    failed[at] = failed[--*n_failed];
    for (size_t i = 0; i < m->cost; i++)
        failed[(*n_failed)++] = m->movers[i];
    return rc;
}

/* Remember the steps of the best state so far. */
static sp_rc snapshot(pl_planner *pl, pl_step **snap, size_t *n_snap)
{
    pl_step *copy = sp_calloc(pl->n_steps + 1, sizeof(*copy));

    if (!copy)
        return SP_ENOMEM;
    if (pl->n_steps)
        memcpy(copy, pl->steps, pl->n_steps * sizeof(*copy));
    sp_free(*snap);
    *snap = copy;
    *n_snap = pl->n_steps;
    return SP_OK;
}

/* Back to the snapshot, and the units it leaves unplaced. */
static sp_rc restore_snapshot(pl_planner *pl, const pl_step *snap, size_t n_snap,
                              int32_t *failed, size_t *n_failed)
{
    sp_rc rc;

    pl_undo_attempt(pl);
    rc = pl_replay(pl, snap, n_snap);
    *n_failed = 0;
    for (size_t k = 0; k < pl->n_order && !rc; k++)
        if (pl_unit_group(pl, pl->order[k])->assigned == PLACE_NONE)
            failed[(*n_failed)++] = pl->order[k];
    return rc;
}

/* The units the search gave up on: pinned ones nothing can make room for. */
typedef struct ls_dropped {
    int32_t *v;
    size_t n;
} ls_dropped;

/* One step for failed[at]: a free node, or room made on a busy one. */
static sp_rc search_step(pl_planner *pl, int32_t *failed, size_t *n_failed, size_t at,
                         int64_t step, sp_rng *rng, ls_dropped *dropped)
{
    int32_t unit = failed[at], node;
    ls_move move;
    sp_rc rc = pl_choose_node(pl, unit, &node);

    if (!rc && node != PLACE_NONE) {
        failed[at] = failed[--*n_failed];
        return pl_commit(pl, unit, node);
    }
    if (!rc)
        rc = pick_move(pl, unit, step, rng, &move);
    if (!rc && move.node != PLACE_NONE)
        return apply_move(pl, unit, &move, step, failed, n_failed, at);
    if (!rc && pl_pinned_node(pl, pl_unit_group(pl, unit)) != PLACE_NONE) {
        failed[at] = failed[--*n_failed];
        dropped->v[dropped->n++] = unit;
    }
    return rc;
}

/* PEs of the units still failed or given up on. */
static size_t left_pes(const pl_planner *pl, const int32_t *failed, size_t n,
                       const ls_dropped *dropped)
{
    return failed_pes(pl, failed, n) + failed_pes(pl, dropped->v, dropped->n);
}

sp_rc pl_local_search(pl_planner *pl, int32_t *failed, size_t *n_failed)
{
    ls_dropped dropped = { sp_calloc(pl->n_order + 1, sizeof(int32_t)), 0 };
    size_t best = failed_pes(pl, failed, *n_failed), n_snap = 0;
    int64_t steps = (int64_t)(LS_STEPS_PER_UNIT * *n_failed + 100);
    pl_step *snap = NULL;
    sp_rng rng;
    sp_rc rc = dropped.v ? snapshot(pl, &snap, &n_snap) : SP_ENOMEM;

    sp_rng_seed(&rng, pl->seed);
    for (int64_t step = 0; !rc && *n_failed && step < steps && pl->work <= PL_WORK_BUDGET;
         step++) {
        size_t at = (size_t)sp_rng_below(&rng, *n_failed);
        rc = search_step(pl, failed, n_failed, at, step, &rng, &dropped);
        if (!rc && left_pes(pl, failed, *n_failed, &dropped) < best) {
            best = left_pes(pl, failed, *n_failed, &dropped);
            rc = snapshot(pl, &snap, &n_snap);
        }
    }
    if (!rc && left_pes(pl, failed, *n_failed, &dropped) > best) {
        rc = restore_snapshot(pl, snap, n_snap, failed, n_failed);
    } else {
        for (size_t i = 0; i < dropped.n; i++)
            failed[(*n_failed)++] = dropped.v[i];
    }
    sp_free(dropped.v);
    sp_free(snap);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Sweep and pool membership                                                  */
/* ------------------------------------------------------------------------ */

sp_rc pl_sweep(pl_planner *pl)
{
    place_state *st = pl->st;
    sp_rc rc = SP_OK;

    for (size_t k = 0; k < pl->n_order && !rc; k++) {
        int32_t unit = pl->order[k], best = PLACE_NONE;
        int64_t best_key = KEY_DEAD;
        const pl_group *g = pl_unit_group(pl, unit);
        if (g->assigned != PLACE_NONE)
            continue;
        for (size_t i = 0; i < st->n_nodes; i++) {
            int64_t key = domain_key(pl, &pl->domains[g->domain], (int32_t)i);
            if (key < best_key && fits(pl, unit, (int32_t)i)) {
                best = (int32_t)i;
                best_key = key;
            }
        }
        if (best != PLACE_NONE)
            rc = pl_commit(pl, unit, best);
    }
    return rc;
}

/* Could node join pool now, for a PE of job? */
static bool may_join(pl_planner *pl, int32_t pool, int32_t job, int32_t node)
{
    place_state *st = pl->st;
    const pl_pool *p = &st->pools[pool];
    const pl_node *n = &st->nodes[node];

    if (!n->alive || pl_pool_slot_of(st, p, node) != PLACE_NONE)
        return false;
    if (!p->exclusive)
        return true;
    if (n->exclusive_pool != PLACE_NONE)
        return false;
    return (int32_t)n->n_pes == pl_job_count_on(st, job, node);
}

/* Fill the free slots of a sized pool, best nodes first: membership is
 * chosen once, so choose all of it now. */
static sp_rc fill_pool(pl_planner *pl, int32_t pool, int32_t job)
{
    pl_domain d = { .pool = pool, .job = PLACE_NONE };
    sp_rc rc;

    if (pl_pool_free_slot(&pl->st->pools[pool]) == PLACE_NONE)
        return SP_OK;
    rc = domain_build(pl, &d);
    while (!rc && d.h.n && pl_pool_free_slot(&pl->st->pools[pool]) != PLACE_NONE) {
        pl_heap_entry e = heap_pop(&d.h);
        if (may_join(pl, pool, job, e.node))
            rc = pl_pool_set_slot(pl->st, pool, pl_pool_free_slot(&pl->st->pools[pool]),
                                  e.node);
    }
    sp_free(d.h.v);
    return rc;
}

sp_rc pl_fill_pools(pl_planner *pl)
{
    sp_rc rc = SP_OK;

    for (size_t k = 0; k < pl->n_order && !rc; k++) {
        const pl_group *g = pl_unit_group(pl, pl->order[k]);
        if (g->assigned == PLACE_NONE)
            continue;
        for (size_t i = 0; i < g->n_pools && !rc; i++)
            if (pl->st->pools[g->pools[i]].size)
                rc = fill_pool(pl, g->pools[i], unit_job(pl, pl->order[k]));
    }
    return rc;
}

void pl_search_free(pl_planner *pl)
{
    for (size_t d = 0; d < pl->n_domains; d++)
        sp_free(pl->domains[d].h.v);
    sp_free(pl->domains);
    sp_free(pl->trail.v);
    sp_free(pl->steps);
    pl->domains = NULL;
    pl->trail.v = NULL;
    pl->steps = NULL;
}
