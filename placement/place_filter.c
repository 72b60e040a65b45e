/*
 * The extender's view of the engine: for one PE and the nodes kube-scheduler
 * offers, which nodes may take it and why the others may not (check), which
 * one it goes to (filter: its whole-job plan; the caller reserves it so the
 * next PE's filter sees it before the bind), and how the allowed nodes rank
 * (score). Also the report of placed PEs that already break a constraint.
 * Every rule comes from pl_check_group_node; this file only applies it.
 */
#include <string.h>

#include "placement/place_internal.h"
#include "util/sp_alloc.h"

/* The view of pe's job kept in the state until the next call, so that the
 * PLACE_R_JOB texts handed out stay valid until then. */
static sp_rc fresh_view(place_state *st, int32_t pe, pl_job_view **out)
{
    pl_job_view_free(&st->view);
    st->have_view = false;
    if (pl_job_view_build(st, st->pes[pe].job, &st->view))
        return SP_ENOMEM;
    st->have_view = true;
    *out = &st->view;
    return SP_OK;
}

static void check_all(place_state *st, const pl_job_view *v, const pl_group *g,
                      const int32_t *nodes, size_t n, place_reason *verdicts)
{
    for (size_t i = 0; i < n; i++) {
        if (nodes[i] == PLACE_NONE || !place_state_node_alive(st, nodes[i])) {
            pl_reason_init(&verdicts[i], PLACE_R_NODE_UNKNOWN, true);
            continue;
        }
        pl_check_group_node(st, v, g, nodes[i], &verdicts[i]);
    }
}

sp_rc place_check_nodes(place_state *st, int32_t pe, const int32_t *nodes, size_t n,
                        place_reason *verdicts)
{
    pl_job_view *v;
    int32_t gi;

    if (!place_state_pe_alive(st, pe))
        return SP_EINVAL;
    if (fresh_view(st, pe, &v))
        return SP_ENOMEM;
    gi = pl_group_of_pe(v, pe);
    if (gi == PLACE_NONE)
        return SP_EINTERNAL;
    check_all(st, v, &v->groups[gi], nodes, n, verdicts);
    return SP_OK;
}

/* ------------------------------------------------------------------------ */
/* Filter                                                                     */
/* ------------------------------------------------------------------------ */

static bool gang_held(const place_state *st, int32_t pe)
{
    const pl_job *j = &st->jobs[st->pes[pe].job];

    return st->gang_wait && j->pe_count > 0 && (size_t)j->pe_count > j->n_pes;
}

/* The allowed node with the lowest balance count (ties: first offered). */
static int32_t best_allowed(const place_state *st, int32_t job, const int32_t *nodes,
                            size_t n, const place_reason *verdicts)
{
    int32_t best = PLACE_NONE, best_count = INT32_MAX;

    for (size_t i = 0; i < n; i++) {
        int32_t c;
        if (verdicts[i].code != PLACE_R_OK)
            continue;
        c = pl_balance_count(st, job, nodes[i]);
        if (c < best_count) {
            best = nodes[i];
            best_count = c;
        }
    }
    return best;
}

/* Mark every allowed node but chosen as steered elsewhere; count them. */
static size_t steer(const place_state *st, int32_t chosen, const int32_t *nodes, size_t n,
                    place_reason *verdicts)
{
    size_t ok = 0;

    for (size_t i = 0; i < n; i++) {
        if (verdicts[i].code != PLACE_R_OK)
            continue;
        ok++;
        if (nodes[i] == chosen)
            continue;
        pl_reason_init(&verdicts[i], PLACE_R_PLANNED_ELSEWHERE, false);
        verdicts[i].str = st->nodes[chosen].name;
    }
    return ok;
}

static bool offered_and_ok(int32_t node, const int32_t *nodes, size_t n,
                           const place_reason *verdicts)
{
    for (size_t i = 0; i < n; i++)
        if (nodes[i] == node)
            return verdicts[i].code == PLACE_R_OK;
    return false;
}

/* Plan all uncommitted work when the PE has no node yet (it stays PENDING
 * when the plan finds none for it). */
static sp_rc plan_if_needed(place_state *st, int32_t pe, place_filter_result *res)
{
    place_plan_opts opts = { .explain = false };

    if (st->pes[pe].phase != PLACE_PENDING)
        return SP_OK;
    if (place_plan_all(st, &opts, NULL))
        return SP_ENOMEM;
    res->planned = st->pes[pe].node != PLACE_NONE;
    return SP_OK;
}

/* Move pe's group to chosen (its planned node was not offered). */
static sp_rc move_group(place_state *st, pl_group *g, int32_t chosen)
{
    pl_group_unplace(st, g);
    return pl_group_place(st, g, chosen, PLACE_PLANNED, NULL);
}

sp_rc place_filter(place_state *st, int32_t pe, const int32_t *nodes, size_t n,
                   place_reason *verdicts, place_filter_result *res)
{
    pl_job_view *v;
    pl_group *g;
    int32_t gi, target;
    sp_rc rc;

    memset(res, 0, sizeof(*res));
    res->chosen = PLACE_NONE;
    if (!place_state_pe_alive(st, pe))
        return SP_EINVAL;
    res->gang_wait = gang_held(st, pe);
    if (!res->gang_wait && (rc = plan_if_needed(st, pe, res)))
        return rc;
    if ((rc = fresh_view(st, pe, &v)))
        return rc;
    gi = pl_group_of_pe(v, pe);
    if (gi == PLACE_NONE)
        return SP_EINTERNAL;
    g = &v->groups[gi];
    target = st->pes[pe].node;
    check_all(st, v, g, nodes, n, verdicts);
    if (res->gang_wait)
        return SP_OK;
    if (target == PLACE_NONE || !offered_and_ok(target, nodes, n, verdicts)) {
        res->planned = false;
        target = best_allowed(st, st->pes[pe].job, nodes, n, verdicts);
        if (target != PLACE_NONE && st->pes[pe].phase == PLACE_PLANNED &&
            (rc = move_group(st, g, target)))
            return rc;
    }
    if (target == PLACE_NONE)
        return SP_OK;
    res->n_ok = steer(st, target, nodes, n, verdicts);
    res->chosen = target;
    return SP_OK;
}

/* ------------------------------------------------------------------------ */
/* Score                                                                      */
/* ------------------------------------------------------------------------ */

static bool in_own_sized_pool(place_state *st, const pl_group *g, int32_t node)
{
    for (size_t i = 0; i < g->n_pools; i++) {
        const pl_pool *p = &st->pools[g->pools[i]];
        if (p->size && pl_pool_slot_of(st, p, node) != PLACE_NONE)
            return true;
    }
    return false;
}

sp_rc place_score(place_state *st, int32_t pe, const int32_t *nodes, size_t n,
                  int *scores)
{
    place_reason *verdicts = sp_calloc(n ? n : 1, sizeof(*verdicts));
    const pl_pe *p;
    pl_job_view *v;
    int32_t gi, max_count = 0;
    sp_rc rc;

    if (!verdicts)
        return SP_ENOMEM;
    rc = place_check_nodes(st, pe, nodes, n, verdicts);
    if (rc) {
        sp_free(verdicts);
        return rc;
    }
    v = &st->view;
    gi = pl_group_of_pe(v, pe);
    p = &st->pes[pe];
    for (size_t i = 0; i < n; i++)
        if (verdicts[i].code == PLACE_R_OK) {
            int32_t c = pl_balance_count(st, p->job, nodes[i]);
            max_count = c > max_count ? c : max_count;
        }
    for (size_t i = 0; i < n; i++) {
        int32_t node = nodes[i];
        int base, balance;
        if (verdicts[i].code != PLACE_R_OK) {
            scores[i] = 0;
            continue;
        }
        if (node == p->node) {
            scores[i] = PLACE_SCORE_MAX;
            continue;
        }
        if (p->previous_node != PLACE_NONE && st->nodes[node].name == p->previous_node) {
            scores[i] = PLACE_SCORE_MAX - 1;
            continue;
        }
        base = in_own_sized_pool(st, &v->groups[gi], node) ? 5 : 0;
        balance = max_count ? 4 - (4 * pl_balance_count(st, p->job, node)) / max_count : 4;
        scores[i] = base + balance;
    }
    sp_free(verdicts);
    return SP_OK;
}

/* ------------------------------------------------------------------------ */
/* Violations                                                                 */
/* ------------------------------------------------------------------------ */

static sp_rc push_violation(place_state *st, int32_t pe, int32_t node,
                            const place_reason *r, place_violation **v, size_t *n,
                            size_t *cap)
{
    sp_buf b;
    sp_rc rc;

    sp_buf_init(&b, 4096);
    rc = place_reason_format(st, r, &b);
    if (!rc && sp_grow(v, cap, *n + 1, sizeof(**v)))
        rc = SP_ENOMEM;
    if (!rc) {
        (*v)[*n].pe = pe;
        (*v)[*n].node = node;
        (*v)[*n].reason = sp_buf_take(&b);
        rc = (*v)[*n].reason ? SP_OK : SP_ENOMEM;
        if (!rc)
            (*n)++;
    }
    sp_buf_free(&b);
    return rc;
}

/* Would pe be refused on the node it is on, with everything else in place?
 * It is taken off (as if pending), its job seen afresh, then put back.
 * Problems of the whole job (gang wait, a pool too small for PEs still
 * pending) say nothing about this placement and are left out. */
static sp_rc check_placed(place_state *st, int32_t pe, place_reason *r)
{
    pl_pe *p = &st->pes[pe];
    int32_t node = p->node;
    place_phase phase = p->phase;
    pl_job_view *v;
    sp_rc rc;

    pl_pe_unassign(st, pe);
    rc = fresh_view(st, pe, &v);
    if (!rc) {
        pl_job_view own = *v;
        pl_group g = v->groups[pl_group_of_pe(v, pe)];
        own.job_problem = NULL;
        if (g.problem_job_wide)
            g.problem = NULL;
        pl_check_group_node(st, &own, &g, node, r);
    }
    if (pl_pe_assign(st, pe, node, phase))
        return SP_ENOMEM;
    return rc;
}

sp_rc place_find_violations(place_state *st, place_violation **out, size_t *count)
{
    place_violation *v = NULL;
    size_t n = 0, cap = 0;
    sp_rc rc = SP_OK;

    *out = NULL;
    *count = 0;
    for (size_t i = 0; i < st->n_pes && !rc; i++) {
        pl_pe *p = &st->pes[i];
        place_reason r;
        if (!p->alive || p->node == PLACE_NONE || !st->nodes[p->node].alive ||
            p->phase < PLACE_RESERVED)
            continue;
        rc = check_placed(st, (int32_t)i, &r);
        if (!rc && r.code != PLACE_R_OK)
            rc = push_violation(st, (int32_t)i, p->node, &r, &v, &n, &cap);
    }
    if (rc) {
        place_violations_free(v, n);
        return rc;
    }
    *out = v;
    *count = n;
    return SP_OK;
}

void place_violations_free(place_violation *v, size_t count)
{
    for (size_t i = 0; i < count && v; i++)
        sp_free(v[i].reason);
    sp_free(v);
}
