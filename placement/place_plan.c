/*
 * Whole-job planning. Every movable PE of the jobs being planned is placed at
 * once: colocation groups ("units") of all those jobs in one order, most
 * constrained first (pinned, isolated, then exclusive and indexed units, then
 * small domains and big demands), each onto the best node that passes
 * pl_check_group_node (place_search.c finds it). Units the greedy pass
 * cannot place get a local search that makes room for them; if units are
 * still left over, the whole
 * attempt is undone and retried with the failed units first ("squeaky
 * wheel"), alternately spreading (the policy's balance) and packing (best
 * fit, for tight clusters), within a work budget. The best attempt wins, and
 * a final sweep tries every node for what is left, so an unplaced PE always
 * means no node can take it now; the reason says why, node by node.
 */
#include <stdlib.h>
#include <string.h>

#include "placement/place_internal.h"
#include "util/sp_alloc.h"

#define DEFAULT_ATTEMPTS 32
#define PATIENCE 3 /* attempts in a row without progress before giving up */

/* ------------------------------------------------------------------------ */
/* Order                                                                      */
/* ------------------------------------------------------------------------ */

/* Lower classes go first: pinned, isolated (a whole node each: the hardest
 * to find late), then exclusive and indexed, then the rest. */
static int unit_class(const pl_planner *pl, const pl_group *g)
{
    if (pl_pinned_node(pl, g) != PLACE_NONE)
        return 0;
    if (g->isolated)
        return 1;
    if (g->n_slots)
        return 2;
    for (size_t i = 0; i < g->n_pools; i++)
        if (pl->st->pools[g->pools[i]].exclusive)
            return 2;
    return 3;
}

/* priority: class, then smaller reach (pl_assign_domains: the nodes its
 * domain offers; an exclusive pool only those it can still take), bigger
 * demand, more exlocation. */
static void set_priorities(pl_planner *pl)
{
    for (size_t k = 0; k < pl->n_order; k++) {
        pl_group *g = pl_unit_group(pl, pl->order[k]);
        int64_t size = (int64_t)g->reach;
        int64_t demand = g->demand.cpu_milli / 50 + g->demand.memory / (32 << 20);
        size = size > 0xffffff ? 0xffffff : size;
        demand = demand > 0xfffff ? 0xfffff : demand;
        g->priority = ((int64_t)unit_class(pl, g) << 56) | (size << 28) |
                      ((0xfffff - demand) << 8) | (0xff - (int64_t)(g->n_exids & 0xff));
    }
}

/* What orders the units of an attempt; sorted without a context pointer. */
typedef struct unit_rank {
    int64_t boost;      /* failures so far: more goes first */
    int64_t priority;   /* lower goes first */
    uint64_t tie;       /* per-attempt random tie-break */
    int32_t unit;
} unit_rank;

static int cmp_rank(const void *a, const void *b)
{
    const unit_rank *x = a, *y = b;

    if (x->boost != y->boost)
        return x->boost > y->boost ? -1 : 1;
    if (x->priority != y->priority)
        return x->priority < y->priority ? -1 : 1;
    if (x->tie != y->tie)
        return x->tie < y->tie ? -1 : 1;
    return (x->unit > y->unit) - (x->unit < y->unit);
}

static sp_rc sort_units(pl_planner *pl)
{
    unit_rank *r = sp_calloc(pl->n_order + 1, sizeof(*r));

    if (!r)
        return SP_ENOMEM;
    for (size_t k = 0; k < pl->n_order; k++) {
        const pl_group *g = pl_unit_group(pl, pl->order[k]);
        r[k].boost = g->boost;
        r[k].priority = g->priority;
        r[k].tie = sp_hash_u64((uint64_t)pl->order[k] ^ pl->seed);
        r[k].unit = pl->order[k];
    }
    qsort(r, pl->n_order, sizeof(*r), cmp_rank);
    for (size_t k = 0; k < pl->n_order; k++)
        pl->order[k] = r[k].unit;
    sp_free(r);
    return SP_OK;
}

/* ------------------------------------------------------------------------ */
/* Attempts                                                                   */
/* ------------------------------------------------------------------------ */

/* One greedy pass, then local search for what it left; *failed gets the
 * PEs still unplaced, and those units are promoted for the next attempt. */
static sp_rc run_attempt(pl_planner *pl, size_t *failed)
{
    int32_t *left = sp_calloc(pl->n_order + 1, sizeof(*left));
    size_t n_left = 0;
    sp_rc rc = left ? sort_units(pl) : SP_ENOMEM;

    *failed = 0;
    for (int64_t u = 0; u < (int64_t)pl->n_units; u++)
        pl->tabu[u] = 0;
    for (size_t k = 0; k < pl->n_order && !rc; k++) {
        int32_t unit = pl->order[k], node;
        rc = pl_choose_node(pl, unit, &node);
        if (!rc && node != PLACE_NONE)
            rc = pl_commit(pl, unit, node);
        else if (!rc)
            left[n_left++] = unit;
    }
    if (!rc && n_left)
        rc = pl_local_search(pl, left, &n_left);
    for (size_t i = 0; i < n_left && !rc; i++) {
        *failed += pl_unit_group(pl, left[i])->n_movable;
        pl_unit_group(pl, left[i])->boost++;
    }
    sp_free(left);
    return rc;
}

static sp_rc keep_best(pl_planner *pl, size_t failed)
{
    pl_step *copy;

    if (pl->have_best && failed >= pl->best_failed)
        return SP_OK;
    copy = sp_calloc(pl->n_steps + 1, sizeof(*copy));
    if (!copy)
        return SP_ENOMEM;
    if (pl->n_steps)
        memcpy(copy, pl->steps, pl->n_steps * sizeof(*copy));
    sp_free(pl->best);
    pl->best = copy;
    pl->n_best = pl->n_steps;
    pl->best_failed = failed;
    pl->have_best = true;
    return SP_OK;
}

/* Put the best attempt back in place (its steps replay in order). */
static sp_rc replay_best(pl_planner *pl)
{
    pl_undo_attempt(pl);
    return pl_replay(pl, pl->best, pl->n_best);
}

/* Attempts alternate: spread, spread with the failed first, pack, ...; they
 * stop when everything is placed, when the budget is spent, or after
 * PATIENCE attempts in a row that placed no more than the best one. */
static sp_rc run_attempts(pl_planner *pl, int max_attempts)
{
    size_t failed = 0;
    int stale = 0;
    sp_rc rc = SP_OK;

    for (int a = 0; a < max_attempts && !rc; a++) {
        bool better;
        if (a > 0)
            pl_undo_attempt(pl);
        pl->pack = a % 3 == 2;
        pl->seed = sp_hash_u64(pl->seed + (uint64_t)a + 1);
        rc = run_attempt(pl, &failed);
        better = !pl->have_best || failed < pl->best_failed;
        if (!rc)
            rc = keep_best(pl, failed);
        stale = better ? 0 : stale + 1;
        if (failed == 0 || pl->work > PL_WORK_BUDGET || stale >= PATIENCE)
            break;
    }
    if (!rc && failed > pl->best_failed)
        rc = replay_best(pl);
    pl->pack = false;
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Outcome                                                                    */
/* ------------------------------------------------------------------------ */

static sp_rc push_placed(place_plan *out, int32_t pe, size_t *cap)
{
    if (sp_grow(&out->placed, cap, out->n_placed + 1, sizeof(*out->placed)))
        return SP_ENOMEM;
    out->placed[out->n_placed++] = pe;
    return SP_OK;
}

static void unplaced_free(place_unplaced *u)
{
    sp_free(u->reason);
    for (size_t i = 0; i < u->n_nodes; i++)
        sp_free(u->node_reasons[i]);
    sp_free(u->nodes);
    sp_free(u->node_reasons);
}

/* A copy of src for another PE of the same group. */
static sp_rc unplaced_copy(const place_unplaced *src, int32_t pe, place_unplaced *dst)
{
    memset(dst, 0, sizeof(*dst));
    dst->pe = pe;
    dst->reason = sp_strdup(src->reason);
    dst->nodes = sp_calloc(src->n_nodes + 1, sizeof(*dst->nodes));
    dst->node_reasons = sp_calloc(src->n_nodes + 1, sizeof(char *));
    if (!dst->reason || !dst->nodes || !dst->node_reasons)
        return SP_ENOMEM;
    for (size_t i = 0; i < src->n_nodes; i++) {
        dst->nodes[i] = src->nodes[i];
        dst->node_reasons[i] = sp_strdup(src->node_reasons[i]);
        if (!dst->node_reasons[i])
            return SP_ENOMEM;
        dst->n_nodes = i + 1;
    }
    return SP_OK;
}

/* One unplaced entry per movable PE of a group that found no node. */
static sp_rc report_unit(pl_planner *pl, int32_t unit, bool explain, place_plan *out,
                         size_t *cap)
{
    const pl_group *g = pl_unit_group(pl, unit);
    place_unplaced first = { 0 };
    sp_buf summary;
    sp_rc rc;

    sp_buf_init(&summary, 1 << 20);
    rc = pl_explain_group(pl->st, pl_unit_view(pl, unit), g, &summary, explain ? &first : NULL);
    if (!rc && !(first.reason = sp_buf_take(&summary)))
        rc = SP_ENOMEM;
    for (size_t i = 0; i < g->n_pes && !rc; i++) {
        int32_t pe = g->pes[i];
        const pl_pe *p = &pl->st->pes[pe];
        if (p->phase != PLACE_PENDING)
            continue;
        if (sp_grow(&out->unplaced, cap, out->n_unplaced + 1, sizeof(*out->unplaced))) {
            rc = SP_ENOMEM;
            break;
        }
        rc = unplaced_copy(&first, pe, &out->unplaced[out->n_unplaced]);
        out->n_unplaced++;
    }
    sp_buf_free(&summary);
    unplaced_free(&first);
    return rc;
}

static sp_rc make_outcome(pl_planner *pl, bool explain, place_plan *out)
{
    size_t cap_placed = out->n_placed, cap_unplaced = out->n_unplaced;
    sp_rc rc = SP_OK;

    for (size_t u = 0; u < pl->n_units && !rc; u++) {
        const pl_group *g = pl_unit_group(pl, (int32_t)u);
        if (!g->n_movable)
            continue;
        if (g->assigned == PLACE_NONE) {
            rc = report_unit(pl, (int32_t)u, explain, out, &cap_unplaced);
            continue;
        }
        for (size_t i = 0; i < g->n_pes && !rc; i++)
            if (pl->st->pes[g->pes[i]].phase == PLACE_PLANNED)
                rc = push_placed(out, g->pes[i], &cap_placed);
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Planner lifetime                                                           */
/* ------------------------------------------------------------------------ */

/* Take the job's planned PEs off their nodes, remembering them as sticky. */
static void unplan_job(place_state *st, int32_t job)
{
    const pl_job *j = &st->jobs[job];

    for (size_t i = 0; i < j->n_pes; i++) {
        pl_pe *p = &st->pes[j->pes[i]];
        if (p->phase != PLACE_PLANNED)
            continue;
        p->sticky_node = st->nodes[p->node].name;
        pl_pe_unassign(st, j->pes[i]);
    }
}

/* Add up, per sized pool, what the units to place need in it, and share
 * it out among the pool's members. */
static sp_rc share_pool_needs(pl_planner *pl)
{
    const place_state *st = pl->st;

    pl->pool_share = sp_calloc(st->n_pools + 1, sizeof(*pl->pool_share));
    if (!pl->pool_share)
        return SP_ENOMEM;
    for (size_t k = 0; k < pl->n_order; k++) {
        const pl_group *g = pl_unit_group(pl, pl->order[k]);
        for (size_t i = 0; i < g->n_pools; i++) {
            place_resources *need = &pl->pool_share[g->pools[i]];
            need->cpu_milli += g->demand.cpu_milli;
            need->memory += g->demand.memory;
            need->pods += g->demand.pods;
        }
    }
    for (size_t p = 0; p < st->n_pools; p++) {
        place_resources *share = &pl->pool_share[p];
        int64_t size = st->pools[p].size;
        if (!size)
            continue;
        share->cpu_milli = share->cpu_milli / size + 1;
        share->memory = share->memory / size + 1;
        share->pods = share->pods / size + 1;
    }
    return SP_OK;
}

/* Index every group of every view as a unit, and its PEs. */
static sp_rc make_units(pl_planner *pl)
{
    size_t total = 0;

    for (size_t v = 0; v < pl->n_views; v++)
        total += pl->views[v].n_groups;
    pl->units = sp_calloc(total + 1, sizeof(*pl->units));
    pl->order = sp_calloc(total + 1, sizeof(*pl->order));
    pl->tabu = sp_calloc(total + 1, sizeof(*pl->tabu));
    if (!pl->units || !pl->order || !pl->tabu)
        return SP_ENOMEM;
    for (size_t v = 0; v < pl->n_views; v++) {
        const pl_job_view *view = &pl->views[v];
        for (size_t gi = 0; gi < view->n_groups; gi++) {
            const pl_group *g = &view->groups[gi];
            int32_t unit = (int32_t)pl->n_units++;
            pl->units[unit].view = (uint32_t)v;
            pl->units[unit].group = (int32_t)gi;
            for (size_t i = 0; i < g->n_pes; i++)
                if (sp_imap_put(&pl->unit_of_pe, (uint64_t)g->pes[i], unit))
                    return SP_ENOMEM;
            for (size_t i = 0; i < g->n_slots && g->n_movable; i++)
                if (sp_imap_put(&pl->wanted_slots,
                                pl_key_job_node(g->slots[i].pool, g->slots[i].index), 1))
                    return SP_ENOMEM;
            if (g->n_movable && !g->problem && !view->job_problem)
                pl->order[pl->n_order++] = unit;
        }
    }
    return SP_OK;
}

static sp_rc planner_init(pl_planner *pl, place_state *st, const int32_t *jobs, size_t n,
                          uint64_t seed)
{
    sp_rc rc = SP_OK;

    memset(pl, 0, sizeof(*pl));
    sp_imap_init(&pl->unit_of_pe);
    sp_imap_init(&pl->wanted_slots);
    sp_imap_init(&pl->reach);
    pl->trail.wanted = &pl->wanted_slots;
    pl->st = st;
    pl->seed = seed;
    for (size_t i = 0; i < n; i++)
        unplan_job(st, jobs[i]);
    pl->views = sp_calloc(n + 1, sizeof(*pl->views));
    if (!pl->views)
        return SP_ENOMEM;
    for (size_t i = 0; i < n && !rc; i++) {
        rc = pl_job_view_build(st, jobs[i], &pl->views[i]);
        if (!rc)
            pl->n_views++;
    }
    if (!rc)
        rc = make_units(pl);
    if (!rc)
        rc = share_pool_needs(pl);
    if (!rc)
        rc = pl_assign_domains(pl);
    if (!rc)
        set_priorities(pl);
    return rc;
}

static void planner_free(pl_planner *pl)
{
    pl_search_free(pl);
    for (size_t v = 0; v < pl->n_views; v++)
        pl_job_view_free(&pl->views[v]);
    sp_free(pl->views);
    sp_free(pl->units);
    sp_free(pl->order);
    sp_free(pl->tabu);
    sp_free(pl->pool_share);
    sp_free(pl->best);
    sp_imap_free(&pl->unit_of_pe);
    sp_imap_free(&pl->wanted_slots);
    sp_imap_free(&pl->reach);
}

void place_plan_free(place_plan *plan)
{
    if (!plan)
        return;
    for (size_t i = 0; i < plan->n_unplaced; i++)
        unplaced_free(&plan->unplaced[i]);
    sp_free(plan->unplaced);
    sp_free(plan->placed);
    sp_free(plan);
}

/* Plan the given jobs together; the outcome into out unless it is NULL. */
static sp_rc plan_jobs(place_state *st, const int32_t *jobs, size_t n,
                       const place_plan_opts *opts, place_plan *out)
{
    pl_planner pl;
    int attempts = opts && opts->max_attempts > 0 ? opts->max_attempts : DEFAULT_ATTEMPTS;
    sp_rc rc = planner_init(&pl, st, jobs, n, opts ? opts->seed : 0);

    if (!rc)
        rc = run_attempts(&pl, attempts);
    if (!rc)
        rc = pl_sweep(&pl);
    if (!rc)
        rc = pl_fill_pools(&pl);
    if (!rc && out)
        rc = make_outcome(&pl, opts && opts->explain, out);
    planner_free(&pl);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Entry points                                                               */
/* ------------------------------------------------------------------------ */

static sp_rc finish(sp_rc rc, place_plan *plan, place_plan **out)
{
    if (rc || !out)
        place_plan_free(plan);
    else
        *out = plan;
    return rc;
}

sp_rc place_plan_job(place_state *st, int32_t pe, const place_plan_opts *opts,
                     place_plan **out)
{
    place_plan *plan;
    int32_t job;

    if (out)
        *out = NULL;
    if (!place_state_pe_alive(st, pe))
        return SP_EINVAL;
    plan = sp_calloc(1, sizeof(*plan));
    if (!plan)
        return SP_ENOMEM;
    job = st->pes[pe].job;
    return finish(plan_jobs(st, &job, 1, opts, out ? plan : NULL), plan, out);
}

static int cmp_job_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

sp_rc place_plan_all(place_state *st, const place_plan_opts *opts, place_plan **out)
{
    place_plan *plan = sp_calloc(1, sizeof(*plan));
    const char **keys = sp_calloc(st->n_jobs + 1, sizeof(*keys));
    int32_t *jobs = sp_calloc(st->n_jobs + 1, sizeof(*jobs));
    size_t n = 0;
    sp_rc rc = plan && keys && jobs ? SP_OK : SP_ENOMEM;

    if (out)
        *out = NULL;
    for (size_t i = 0; i < st->n_jobs && !rc; i++)
        if (st->jobs[i].alive && st->jobs[i].n_movable) /* O(1): every filter call scans all jobs */
            keys[n++] = sp_intern_str(&st->strs, st->jobs[i].key);
    if (!rc && n)
        qsort(keys, n, sizeof(*keys), cmp_job_keys);
    for (size_t i = 0; i < n && !rc; i++) {
        int64_t job;
        sp_map_get(&st->job_by_key, keys[i], &job);
        jobs[i] = (int32_t)job;
    }
    if (!rc)
        rc = plan_jobs(st, jobs, n, opts, out ? plan : NULL);
    sp_free(keys);
    sp_free(jobs);
    return finish(rc, plan, out);
}
