/*
 * The words behind every refusal. A place_reason is a compact code with
 * indexes into the state, cheap to produce for thousands of nodes per call;
 * this file turns one into the line a person reads in FailedNodes, in a
 * PEPlacement's status or in `streams-placer plan`. Two forms: the detailed
 * line for one node, and the summary form (no per-node figures) that groups
 * nodes in "0/6 nodes are available: ..." messages.
 */
#include <string.h>

#include "placement/place_internal.h"

void pl_reason_init(place_reason *r, place_reason_code code, bool unresolvable)
{
    memset(r, 0, sizeof(*r));
    r->code = code;
    r->unresolvable = unresolvable;
    r->pool = PLACE_NONE;
    r->index = PLACE_NONE;
    r->other_pe = PLACE_NONE;
    r->str = PLACE_NONE;
    r->str2 = PLACE_NONE;
}

static const char *str_of(const place_state *st, int32_t id)
{
    return id == PLACE_NONE ? "" : sp_intern_str(&st->strs, id);
}

static const char *name_of(const place_state *st, int32_t id)
{
    return id == PLACE_NONE ? "" : sp_intern_str(&st->names, id);
}

static const char *pool_name(const place_state *st, int32_t pool)
{
    return pool == PLACE_NONE ? "" : str_of(st, st->pools[pool].name);
}

/* The job name of a pool's "ns/job" key. */
static const char *pool_job(const place_state *st, int32_t pool)
{
    const char *key = str_of(st, st->pools[pool].job);
    const char *slash = strchr(key, '/');

    return slash ? slash + 1 : key;
}

static sp_rc put_pe(const place_state *st, sp_buf *out, int32_t pe)
{
    const pl_pe *p;

    if (pe == PLACE_NONE)
        return sp_buf_puts(out, "another PE");
    p = &st->pes[pe];
    return sp_buf_printf(out, "PE %s/%s", str_of(st, st->jobs[p->job].name), p->pe_id);
}

static sp_rc format_node_reason(const place_state *st, const place_reason *r,
                                sp_buf *out)
{
    const pl_taint *t;

    switch (r->code) {
    case PLACE_R_NODE_CORDONED:
        return sp_buf_puts(out, "node is cordoned (spec.unschedulable)");
    case PLACE_R_NODE_NOT_READY:
        return sp_buf_puts(out, "node is not Ready");
    case PLACE_R_NODE_UNKNOWN:
        return sp_buf_puts(out, "node is unknown to streams-placer");
    case PLACE_R_NODE_TAINT:
        t = &st->nodes[r->str].taints[r->index];
        return sp_buf_printf(out, "node has taint %s%s%s:%s that the pod does not tolerate",
                             t->key, t->value ? "=" : "", t->value ? t->value : "",
                             t->effect);
    default:
        return SP_EINTERNAL;
    }
}

static sp_rc format_pool_reason(const place_state *st, const place_reason *r,
                                sp_buf *out, bool summary)
{
    const char *pool = pool_name(st, r->pool);

    switch (r->code) {
    case PLACE_R_POOL_TAG:
        return sp_buf_printf(out, "hostPool '%s': node lacks tag '%s' (label %s%s)", pool,
                             str_of(st, r->str), st->tag_prefix, str_of(st, r->str));
    case PLACE_R_POOL_HOSTS:
        return sp_buf_printf(out, "hostPool '%s': node is not in spec.hosts", pool);
    case PLACE_R_POOL_FULL:
        return sp_buf_printf(out, "hostPool '%s': node is not one of its %lld members",
                             pool, (long long)st->pools[r->pool].size);
    case PLACE_R_POOL_INDEX_NODE:
        return summary ? sp_buf_printf(out, "hostPool '%s'[%d] is another node", pool,
                                       r->index)
                       : sp_buf_printf(out, "hostPool '%s'[%d] is node '%s'", pool,
                                       r->index, name_of(st, r->str2));
    case PLACE_R_POOL_MEMBER_ELSEWHERE:
        return sp_buf_printf(out, "hostPool '%s'[%d]: node already holds another index "
                                  "of the pool", pool, r->index);
    case PLACE_R_EXCLUSIVE_OTHER_JOB:
        return sp_buf_printf(out, "node belongs to exclusive hostPool '%s' of job '%s'",
                             pool, pool_job(st, r->pool));
    case PLACE_R_EXCLUSIVE_TAKEN:
        return sp_buf_printf(out, "exclusive hostPool '%s': node already belongs to "
                                  "exclusive hostPool '%s'",
                             pool, pool_name(st, r->index));
    case PLACE_R_EXCLUSIVE_OCCUPIED:
        if (summary)
            return sp_buf_printf(out, "exclusive hostPool '%s': node runs PEs of another job",
                                 pool);
        if (sp_buf_printf(out, "exclusive hostPool '%s': node runs ", pool))
            return SP_ENOMEM;
        if (put_pe(st, out, r->other_pe))
            return SP_ENOMEM;
        return sp_buf_puts(out, " of another job");
    default:
        return SP_EINTERNAL;
    }
}

/* Relations with other PEs: colocation, exlocation, isolation, restart. */
static sp_rc format_pe_reason(const place_state *st, const place_reason *r,
                              sp_buf *out, bool summary)
{
    sp_rc rc = SP_OK;

    switch (r->code) {
    case PLACE_R_COLOCATION:
        rc = sp_buf_printf(out, "hostColocation '%s': ", str_of(st, r->str));
        if (!rc)
            rc = put_pe(st, out, r->other_pe);
        return rc ? rc : sp_buf_printf(out, " is on node '%s'", name_of(st, r->str2));
    case PLACE_R_EXLOCATION:
        if (summary)
            return sp_buf_printf(out, "hostExlocation '%s': a PE of the job is already there",
                                 str_of(st, r->str));
        rc = sp_buf_printf(out, "hostExlocation '%s': ", str_of(st, r->str));
        if (!rc)
            rc = put_pe(st, out, r->other_pe);
        return rc ? rc : sp_buf_puts(out, " is already on this node");
    case PLACE_R_ISOLATION_SELF:
        if (summary)
            return sp_buf_puts(out, "hostIsolation: node runs other PEs");
        rc = sp_buf_puts(out, "hostIsolation: node runs ");
        return rc ? rc : put_pe(st, out, r->other_pe);
    case PLACE_R_ISOLATION_OTHER:
        if (summary)
            return sp_buf_puts(out, "hostIsolation: node runs an isolated PE");
        rc = sp_buf_puts(out, "hostIsolation: ");
        if (!rc)
            rc = put_pe(st, out, r->other_pe);
        return rc ? rc : sp_buf_puts(out, " on this node is isolated");
    case PLACE_R_PREVIOUS_NODE:
        rc = sp_buf_puts(out, "relocatable=false: ");
        if (!rc)
            rc = put_pe(st, out, r->other_pe);
        return rc ? rc : sp_buf_printf(out, " must return to node '%s'", name_of(st, r->str));
    default:
        return SP_EINTERNAL;
    }
}

static sp_rc format_capacity(const place_reason *r, sp_buf *out, bool summary)
{
    char need[32], free_[32], total[32];

    if (r->code == PLACE_R_PODS)
        return summary ? sp_buf_puts(out, "too many pods")
                       : sp_buf_printf(out, "too many pods: needs %lld, %lld free of %lld",
                                       (long long)r->need, (long long)r->free,
                                       (long long)r->total);
    if (summary)
        return sp_buf_printf(out, "insufficient %s",
                             r->code == PLACE_R_CPU ? "cpu" : "memory");
    if (r->code == PLACE_R_CPU) {
        place_format_cpu(r->need, need, sizeof(need));
        place_format_cpu(r->free < 0 ? 0 : r->free, free_, sizeof(free_));
        place_format_cpu(r->total, total, sizeof(total));
    } else {
        place_format_bytes(r->need, need, sizeof(need));
        place_format_bytes(r->free < 0 ? 0 : r->free, free_, sizeof(free_));
        place_format_bytes(r->total, total, sizeof(total));
    }
    return sp_buf_printf(out, "insufficient %s: needs %s, %s free of %s",
                         r->code == PLACE_R_CPU ? "cpu" : "memory", need, free_, total);
}

/* Detailed (summary=false) or grouped (summary=true) text of r. */
static sp_rc format_reason(const place_state *st, const place_reason *r, sp_buf *out,
                           bool summary)
{
    switch (r->code) {
    case PLACE_R_OK:
        return sp_buf_puts(out, "ok");
    case PLACE_R_NODE_CORDONED:
    case PLACE_R_NODE_NOT_READY:
    case PLACE_R_NODE_UNKNOWN:
    case PLACE_R_NODE_TAINT:
        return format_node_reason(st, r, out);
    case PLACE_R_POOL_TAG:
    case PLACE_R_POOL_HOSTS:
    case PLACE_R_POOL_FULL:
    case PLACE_R_POOL_INDEX_NODE:
    case PLACE_R_POOL_MEMBER_ELSEWHERE:
    case PLACE_R_EXCLUSIVE_OTHER_JOB:
    case PLACE_R_EXCLUSIVE_TAKEN:
    case PLACE_R_EXCLUSIVE_OCCUPIED:
        return format_pool_reason(st, r, out, summary);
    case PLACE_R_COLOCATION:
    case PLACE_R_EXLOCATION:
    case PLACE_R_ISOLATION_SELF:
    case PLACE_R_ISOLATION_OTHER:
    case PLACE_R_PREVIOUS_NODE:
        return format_pe_reason(st, r, out, summary);
    case PLACE_R_CPU:
    case PLACE_R_MEMORY:
    case PLACE_R_PODS:
        return format_capacity(r, out, summary);
    case PLACE_R_PLANNED_ELSEWHERE:
        return sp_buf_printf(out, "whole-job plan places this PE on node '%s'",
                             name_of(st, r->str));
    case PLACE_R_JOB:
        return sp_buf_puts(out, r->text ? r->text : "job cannot be placed");
    }
    return SP_EINTERNAL;
}

sp_rc place_reason_format(const place_state *st, const place_reason *r, sp_buf *out)
{
    return format_reason(st, r, out, false);
}

sp_rc pl_reason_format_summary(const place_state *st, const place_reason *r,
                               sp_buf *out)
{
    return format_reason(st, r, out, true);
}
