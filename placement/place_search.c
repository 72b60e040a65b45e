/*
 * Finding nodes for the planner. Each unit (colocation group) searches a
 * domain: the candidates of its tightest pool, or every node, held in a heap
 * keyed by (pool membership, balance count, cpu use, tie-break) or, when a
 * retry packs instead of spreading, by free capacity (best fit). Spreading
 * keys only worsen as nodes fill, so stale entries are re-keyed lazily when
 * popped; a node that joins a sized pool is pushed again with its better
 * key, and so is a node a unit leaves, in every domain it is in (packing
 * rebuilds the heaps instead). A node no unit of a domain can use any more
 * (no room for its smallest unit, an isolated PE, another job's exclusive
 * pool) leaves that domain's heap, and one only some units can use (one
 * job's, or those that tolerate its taints) waits in a gated heap that only
 * they search: a search does not wade through the same refusals for every
 * unit. Units the greedy pass could not place get a bounded local search
 * (ejection chains with a tabu tenure): each is put where the fewest units
 * of this plan are in its way, and those go back on the list. Last, a sweep
 * tries every node for what is still unplaced, and sized pools get their
 * full membership.
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

/* Order entries appended with heap_append into a heap, in linear time. */
static sp_rc heap_append(pl_heap *h, int64_t key, int32_t node)
{
    if (sp_grow(&h->v, &h->cap, h->n + 1, sizeof(*h->v)))
        return SP_ENOMEM;
    h->v[h->n].key = key;
    h->v[h->n].node = node;
    h->n++;
    return SP_OK;
}

static void heap_make(pl_heap *h)
{
    for (size_t i = h->n / 2; i-- > 0;)
        heap_sift_down(h, i);
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

/* Permille of a resource used (balance) or left free (packing), 0..1000
 * (dividing only in between: a key is computed for every candidate). */
static int64_t permille(int64_t part, int64_t whole)
{
    if (whole <= 0 || part >= whole)
        return 1000;
    return part <= 0 ? 0 : part * 1000 / whole;
}

/*
 * How well node can hold its share of what the plan puts in a sized pool
 * (need / size), 0 (no room) to 1000 (room for all of it): a new member is
 * chosen once and kept, so room for the pool's PEs ranks before balance.
 */
static int64_t room_for_share(const pl_planner *pl, int32_t pool, const pl_node *n)
{
    const place_resources *share = &pl->pool_share[pool];
    int64_t cpu = permille(n->alloc.cpu_milli - n->used.cpu_milli, share->cpu_milli);
    int64_t mem = permille(n->alloc.memory - n->used.memory, share->memory);

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
    for (size_t i = 0; i < d->n_gated; i++)
        d->gated[i].h.n = 0;
    if (d->pool != PLACE_NONE && pl_pool_candidates(st, d->pool, &cands, &n))
        return SP_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int32_t node = cands ? cands[i] : (int32_t)i;
        int64_t key = domain_key(pl, d, node);
        pl->work++;
        if (key != KEY_DEAD && heap_append(&d->h, key, node))
            return SP_ENOMEM;
    }
    heap_make(&d->h);
    return SP_OK;
}

static void domains_dirty(pl_planner *pl)
{
    for (size_t d = 0; d < pl->n_domains; d++)
        pl->domains[d].built = false;
}

/* A unit left node: offer it anew to every built domain it is in (its keys
 * and gates may be better now, and no other node's). */
static sp_rc domains_offer(pl_planner *pl, int32_t node)
{
    place_state *st = pl->st;
    place_reason r;

    for (size_t i = 0; i < pl->n_domains; i++) {
        pl_domain *d = &pl->domains[i];
        int64_t key;
        if (!d->built || (d->pool != PLACE_NONE &&
                          !pl_pool_matches(st, &st->pools[d->pool], d->pool, node, &r)))
            continue;
        key = domain_key(pl, d, node);
        if (key != KEY_DEAD && heap_push(&d->h, key, node))
            return SP_ENOMEM;
    }
    return SP_OK;
}

static int64_t least(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Count unit among the units that search domain d (those with PEs to
 * place). */
static void domain_add_unit(pl_planner *pl, pl_domain *d, int32_t unit)
{
    const pl_group *g = pl_unit_group(pl, unit);

    if (!g->n_movable)
        return;
    if (!d->n_units++) {
        d->units_job = unit_job(pl, unit);
        d->least_need = g->demand;
        return;
    }
    if (d->units_job != unit_job(pl, unit))
        d->units_job = PLACE_NONE;
    d->least_need.cpu_milli = least(d->least_need.cpu_milli, g->demand.cpu_milli);
    d->least_need.memory = least(d->least_need.memory, g->demand.memory);
    d->least_need.pods = least(d->least_need.pods, g->demand.pods);
}

/* The domain of (pool, job) for unit, created on first use. */
static sp_rc domain_find(pl_planner *pl, int32_t pool, int32_t job, int32_t unit,
                         uint32_t *out)
{
    size_t i = 0;

    while (i < pl->n_domains && (pl->domains[i].pool != pool || pl->domains[i].job != job))
        i++;
    if (i == pl->n_domains) {
        if (sp_grow(&pl->domains, &pl->cap_domains, i + 1, sizeof(*pl->domains)))
            return SP_ENOMEM;
        memset(&pl->domains[i], 0, sizeof(pl->domains[i]));
        pl->domains[i].pool = pool;
        pl->domains[i].job = job;
        pl->n_domains++;
    }
    domain_add_unit(pl, &pl->domains[i], unit);
    *out = (uint32_t)i;
    return SP_OK;
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
    return n->n_pes == 0 || (int32_t)n->n_pes == pl_job_count_on(st, job, node);
}

/*
 * Candidates a pool can offer the planner: its members once full; for an
 * exclusive pool, its members and the nodes it could still take for job,
 * which on a busy cluster are few (no other job may run there), so that its
 * units go first. Counted once per pool and job while the planner starts.
 */
static sp_rc pool_reach(pl_planner *pl, int32_t pool, int32_t job, size_t *reach)
{
    const pl_pool *p = &pl->st->pools[pool];
    uint64_t key = pl_key_job_node(pool, job);
    const int32_t *cands;
    size_t n = 0;
    int64_t known;

    *reach = 0;
    if (pl_pool_candidates(pl->st, pool, &cands, &n))
        return SP_ENOMEM;
    *reach = n;
    if (p->size && (int64_t)p->n_members >= p->size && (int64_t)n > p->size)
        *reach = (size_t)p->size;
    if (!p->exclusive || (p->size && (int64_t)p->n_members >= p->size))
        return SP_OK;
    if (!sp_imap_get(&pl->reach, key, &known)) {
        known = (int64_t)p->n_members;
        for (size_t i = 0; i < n; i++)
            known += may_join(pl, pool, job, cands[i]);
        if (sp_imap_put(&pl->reach, key, known))
            return SP_ENOMEM;
    }
    *reach = (size_t)known;
    return SP_OK;
}

sp_rc pl_assign_domains(pl_planner *pl)
{
    for (size_t u = 0; u < pl->n_units; u++) {
        pl_group *g = pl_unit_group(pl, (int32_t)u);
        int32_t pool = PLACE_NONE, job = unit_job(pl, (int32_t)u);
        size_t best = (size_t)-1, n;
        for (size_t i = 0; i < g->n_pools; i++) {
            if (pool_reach(pl, g->pools[i], job, &n))
                return SP_ENOMEM;
            if (n < best) {
                best = n;
                pool = g->pools[i];
            }
        }
        g->reach = pool == PLACE_NONE ? pl->st->live_nodes : best;
        if (domain_find(pl, pool, pl->st->balancing == PLACE_BALANCE_JOB ? job : PLACE_NONE,
                        (int32_t)u, &g->domain))
            return SP_ENOMEM;
    }
    return SP_OK;
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

/* ------------------------------------------------------------------------ */
/* Gates: nodes only some units of a domain may use                          */
/* ------------------------------------------------------------------------ */

#define GATE_OPEN (-1)   /* any unit of the domain may use the node */
#define GATE_CLOSED (-2) /* none may, until the node is offered again */
#define GATE_TAINTS (INT64_C(1) << 32) /* + taint set id; below: a job key */

/* The job key of the exclusive pools that own node: GATE_OPEN when none
 * does, GATE_CLOSED when no job's units may use it. */
static int64_t exclusive_owner(const place_state *st, const pl_node *n)
{
    int32_t owners[2] = { n->exclusive_pool, n->exclusive_clash };
    int64_t key = GATE_OPEN;

    for (int i = 0; i < 2; i++) {
        int32_t job;
        if (owners[i] == PLACE_NONE)
            continue;
        job = st->pools[owners[i]].job;
        if (job == PLACE_NONE || (key != GATE_OPEN && key != job))
            return GATE_CLOSED;
        key = job;
    }
    return key;
}

/* Is a free amount below what every unit needs (a need of 0 always fits)? */
static bool too_little(int64_t free, int64_t least_need)
{
    return least_need > 0 && free < least_need;
}

static bool room_for_none(const pl_domain *d, const pl_node *n)
{
    return too_little(n->alloc.cpu_milli - n->used.cpu_milli, d->least_need.cpu_milli) ||
           too_little(n->alloc.memory - n->used.memory, d->least_need.memory) ||
           too_little(n->alloc.pods - n->used.pods, d->least_need.pods);
}

/* Does an isolated PE on node keep the units of d away? */
static bool isolated_pe_in_the_way(const place_state *st, const pl_domain *d, int32_t node)
{
    if (st->isolation_scope == PLACE_ISOLATION_CLUSTER)
        return st->nodes[node].n_isolated > 0;
    return d->units_job != PLACE_NONE && pl_job_isolated_on(st, d->units_job, node) > 0;
}

/* Can node not become a member of d's exclusive pool any more (another
 * exclusive pool has it, or another job's PEs run there)? */
static bool exclusive_pool_shut(const place_state *st, const pl_domain *d, int32_t node)
{
    const pl_pool *p = d->pool != PLACE_NONE ? &st->pools[d->pool] : NULL;
    const pl_node *n = &st->nodes[node];

    if (!p || !p->exclusive || pl_pool_slot_of(st, p, node) != PLACE_NONE)
        return false;
    if (n->exclusive_pool != PLACE_NONE && n->exclusive_pool != d->pool)
        return true;
    return d->units_job != PLACE_NONE &&
           (int32_t)n->n_pes > pl_job_count_on(st, d->units_job, node);
}

/*
 * Is node closed to every unit of the domain until it is offered again?
 * Within one build nodes only fill (a node a unit leaves is offered again,
 * undoing an attempt rebuilds everything), so free room only shrinks, an
 * isolated PE stays, another exclusive pool keeps the node, and another
 * job's PEs stay on it. The units that search a domain are neither pinned
 * nor isolated and have no member on a node yet.
 */
static bool closed_to_domain(const pl_planner *pl, const pl_domain *d, int32_t node)
{
    return room_for_none(d, &pl->st->nodes[node]) ||
           isolated_pe_in_the_way(pl->st, d, node) || exclusive_pool_shut(pl->st, d, node);
}

/* Which units of domain d may use node: GATE_OPEN, GATE_CLOSED, or the gate
 * of a heap its units consult when they pass it. */
static int64_t node_gate(const pl_planner *pl, const pl_domain *d, int32_t node)
{
    const place_state *st = pl->st;
    const pl_node *n = &st->nodes[node];
    int64_t owner = exclusive_owner(st, n);

    if (owner == GATE_CLOSED || closed_to_domain(pl, d, node))
        return GATE_CLOSED;
    if (owner != GATE_OPEN && d->units_job == PLACE_NONE)
        return owner;
    if (owner != GATE_OPEN && owner != st->jobs[d->units_job].key)
        return GATE_CLOSED;
    return n->taint_set != PLACE_NONE ? GATE_TAINTS + n->taint_set : GATE_OPEN;
}

/* Does unit pass the gate of a gated heap (whose top node shows the taints)? */
static bool unit_passes(const pl_planner *pl, int32_t unit, const pl_gated *gd)
{
    const place_state *st = pl->st;
    const pl_group *g = pl_unit_group(pl, unit);
    const pl_node *n;
    const pl_taint *t;

    if (gd->gate < GATE_TAINTS)
        return gd->gate == st->jobs[unit_job(pl, unit)].key;
    if (!gd->h.n)
        return false;
    n = &st->nodes[gd->h.v[0].node];
    for (size_t i = 0; i < g->n_pes; i++) {
        const pl_pe *p = &st->pes[g->pes[i]];
        if ((p->phase == PLACE_PENDING || p->phase == PLACE_PLANNED) && !pl_tolerates(p, n, &t))
            return false;
    }
    return true;
}

static sp_rc gate_push(pl_domain *d, int64_t gate, pl_heap_entry e)
{
    size_t i = 0;

    while (i < d->n_gated && d->gated[i].gate != gate)
        i++;
    if (i == d->n_gated) {
        if (sp_grow(&d->gated, &d->cap_gated, d->n_gated + 1, sizeof(*d->gated)))
            return SP_ENOMEM;
        memset(&d->gated[i], 0, sizeof(d->gated[i]));
        d->gated[i].gate = gate;
        d->n_gated++;
    }
    return heap_push(&d->gated[i].h, e.key, e.node);
}

/* ------------------------------------------------------------------------ */
/* Searching a domain                                                         */
/* ------------------------------------------------------------------------ */

/* Nodes a search looked at and leaves for later units: kept in the
 * planner's scratch list until they go back into their heap. */
static sp_rc set_aside(pl_planner *pl, pl_heap_entry e)
{
    if (sp_grow(&pl->aside.v, &pl->aside.cap, pl->aside.n + 1, sizeof(*pl->aside.v)))
        return SP_ENOMEM;
    pl->aside.v[pl->aside.n++] = e;
    return SP_OK;
}

static sp_rc put_back(pl_planner *pl, pl_heap *h)
{
    for (size_t i = 0; i < pl->aside.n; i++)
        if (heap_push(h, pl->aside.v[i].key, pl->aside.v[i].node))
            return SP_ENOMEM;
    pl->aside.n = 0;
    return SP_OK;
}

/* The best node found so far, popped from heap `from`. */
typedef struct pick {
    int64_t key;
    int32_t node;
    pl_heap *from;
} pick;

/* Keep e (popped from h) when it beats best, putting the loser back. */
static sp_rc pick_better(pick *best, pl_heap_entry e, pl_heap *h)
{
    sp_rc rc = SP_OK;

    if (best->node != PLACE_NONE)
        rc = heap_push(best->from, best->key, best->node);
    best->key = e.key;
    best->node = e.node;
    best->from = h;
    return rc;
}

/*
 * Pop h in key order, while its keys beat best, until a node fits unit.
 * Stale entries are re-keyed; when gating, nodes that only some units may
 * use move to their gated heap and closed ones are dropped. The nodes that
 * did not fit go back.
 */
static sp_rc search_heap(pl_planner *pl, pl_domain *d, pl_heap *h, bool gating,
                         int32_t unit, pick *best)
{
    sp_rc rc = SP_OK;

    pl->aside.n = 0;
    while (!rc && h->n && h->v[0].key < best->key) {
        pl_heap_entry e = heap_pop(h);
        int64_t now = domain_key(pl, d, e.node), gate;
        if (now == KEY_DEAD || now < e.key)
            continue;                   /* gone, or a fresher entry exists */
        if (now > e.key) {
            rc = heap_push(h, now, e.node);
            continue;
        }
        gate = gating ? node_gate(pl, d, e.node) : GATE_OPEN;
        if (gate == GATE_CLOSED)
            continue;
        if (gate != GATE_OPEN)
            rc = gate_push(d, gate, e);
        else if (fits(pl, unit, e.node))
            return pick_better(best, e, h) ? SP_ENOMEM : put_back(pl, h);
        else
            rc = set_aside(pl, e);
    }
    return rc ? rc : put_back(pl, h);
}

/* Best node of the unit's domain that fits: the open heap, then the gated
 * heaps the unit passes. */
static sp_rc search_domain(pl_planner *pl, int32_t unit, int32_t *found)
{
    pl_domain *d = &pl->domains[pl_unit_group(pl, unit)->domain];
    pick best = { KEY_DEAD, PLACE_NONE, NULL };
    sp_rc rc = SP_OK;

    if (!d->built && (rc = domain_build(pl, d)))
        return rc;
    rc = search_heap(pl, d, &d->h, true, unit, &best);
    for (size_t i = 0; i < d->n_gated && !rc; i++)
        if (unit_passes(pl, unit, &d->gated[i]))
            rc = search_heap(pl, d, &d->gated[i].h, false, unit, &best);
    *found = best.node;
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
    pl_group *g = pl_unit_group(pl, unit);
    int32_t node = g->assigned;
    sp_rc rc;

    pl_group_unplace(pl->st, g);
    rc = record_step(pl, unit, PLACE_NONE);
    if (rc)
        return rc;
    if (pl->pack) {
        /* packing keys also improve as nodes fill, which the heaps do not
         * follow: they start afresh, as for every attempt */
        domains_dirty(pl);
        return SP_OK;
    }
    return node != PLACE_NONE ? domains_offer(pl, node) : SP_OK;
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
 * (which has room: every unit is in it at most once); *left counts the PEs
 * of the list. */
static sp_rc apply_move(pl_planner *pl, int32_t unit, const ls_move *m, int64_t step,
                        int32_t *failed, size_t *n_failed, size_t at, size_t *left)
{
    sp_rc rc = SP_OK;

    for (size_t i = 0; i < m->cost && !rc; i++)
        rc = pl_eject(pl, m->movers[i]);
    if (!rc)
        rc = pl_commit(pl, unit, m->node);
    pl->tabu[unit] = step + LS_TENURE;
    failed[at] = failed[--*n_failed];
    *left -= pl_unit_group(pl, unit)->n_movable;
    for (size_t i = 0; i < m->cost; i++) {
        failed[(*n_failed)++] = m->movers[i];
        *left += pl_unit_group(pl, m->movers[i])->n_movable;
    }
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

/* One step for failed[at]: a free node, or room made on a busy one.
 * *left counts the PEs of the units still failed or given up on. */
static sp_rc search_step(pl_planner *pl, int32_t *failed, size_t *n_failed, size_t at,
                         int64_t step, sp_rng *rng, ls_dropped *dropped, size_t *left)
{
    int32_t unit = failed[at], node;
    ls_move move;
    sp_rc rc = pl_choose_node(pl, unit, &node);

    if (!rc && node != PLACE_NONE) {
        failed[at] = failed[--*n_failed];
        *left -= pl_unit_group(pl, unit)->n_movable;
        return pl_commit(pl, unit, node);
    }
    if (!rc)
        rc = pick_move(pl, unit, step, rng, &move);
    if (!rc && move.node != PLACE_NONE)
        return apply_move(pl, unit, &move, step, failed, n_failed, at, left);
    if (!rc && pl_pinned_node(pl, pl_unit_group(pl, unit)) != PLACE_NONE) {
        failed[at] = failed[--*n_failed];
        dropped->v[dropped->n++] = unit;
    }
    return rc;
}

sp_rc pl_local_search(pl_planner *pl, int32_t *failed, size_t *n_failed)
{
    ls_dropped dropped = { sp_calloc(pl->n_order + 1, sizeof(int32_t)), 0 };
    size_t left = failed_pes(pl, failed, *n_failed), best = left, n_snap = 0;
    int64_t steps = (int64_t)(LS_STEPS_PER_UNIT * *n_failed + 100);
    pl_step *snap = NULL;
    sp_rng rng;
    sp_rc rc = dropped.v ? snapshot(pl, &snap, &n_snap) : SP_ENOMEM;

    sp_rng_seed(&rng, pl->seed);
    for (int64_t step = 0; !rc && *n_failed && step < steps && pl->work <= PL_WORK_BUDGET;
         step++) {
        size_t at = (size_t)sp_rng_below(&rng, *n_failed);
        rc = search_step(pl, failed, n_failed, at, step, &rng, &dropped, &left);
        if (!rc && left < best) {
            best = left;
            rc = snapshot(pl, &snap, &n_snap);
        }
    }
    if (!rc && left > best) {
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

/* Fill the free slots of a sized pool, best nodes first: membership is
 * chosen once, so choose all of it now. */
static sp_rc fill_pool(pl_planner *pl, int32_t pool, int32_t job)
{
    pl_domain d = { .pool = pool, .job = PLACE_NONE, .units_job = PLACE_NONE };
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
    for (size_t d = 0; d < pl->n_domains; d++) {
        for (size_t i = 0; i < pl->domains[d].n_gated; i++)
            sp_free(pl->domains[d].gated[i].h.v);
        sp_free(pl->domains[d].gated);
        sp_free(pl->domains[d].h.v);
    }
    sp_free(pl->domains);
    sp_free(pl->aside.v);
    sp_free(pl->trail.v);
    sp_free(pl->steps);
    pl->domains = NULL;
    pl->aside.v = NULL;
    pl->trail.v = NULL;
    pl->steps = NULL;
}
