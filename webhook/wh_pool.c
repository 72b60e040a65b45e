/*
 * Admission of HostPools (placement.streams.io): CREATE and UPDATE are
 * judged by place_pool_validate under the policy's tag prefix, so that the
 * webhook and the planner say the same thing about a pool (tags or hosts,
 * size, exclusive with a job and a size, valid tags). A refusal is code 403
 * with the engine's message (it names the field and the fix) after the
 * pool's identity; a pool the JSON edge cannot read is code 400. As for
 * pods, an UPDATE that leaves spec and status.hosts as they were is never
 * refused (the problem becomes a warning), and HostPools in namespaces the
 * policy does not manage are allowed untouched. HostPools are never
 * patched. The effect is the admitted pool.
 */
#include <string.h>

#include "kobj/kobj.h"
#include "kobj/kobj_json.h"
#include "webhook/wh_internal.h"

/* Equal JSON values, two absent ones included. */
static bool same(const cJSON *x, const cJSON *y)
{
    return (!x && !y) || (x && y && cJSON_Compare(x, y, true));
}

/* True for an UPDATE whose spec and status.hosts are those of oldObject. */
static bool pool_unchanged(const wh_req *rq)
{
    const cJSON *now = rq->object, *old = rq->old_object;

    return rq->op == WH_OP_UPDATE && old &&
           same(kobj_field(now, "spec"), kobj_field(old, "spec")) &&
           same(kobj_field(kobj_field(now, "status"), "hosts"),
                kobj_field(kobj_field(old, "status"), "hosts"));
}

static sp_rc pool_write(const wh_req *rq, wh_answer *a)
{
    const char *prefix = rq->policy ? rq->policy->tag_prefix : NULL;
    char ident[WH_IDENT_MAX];
    kobj_pool p;
    sp_err err;
    sp_rc rc;

    wh_ident(ident, sizeof(ident), "hostpool", rq, rq->object);
    if (!rq->object)
        return wh_deny(a, WH_CODE_BAD_REQUEST,
                       "%s: request.object: missing: %s review must carry "
                       "the HostPool",
                       ident, rq->op == WH_OP_CREATE ? "a CREATE" : "an UPDATE");
    if (!pol_namespace_managed(rq->policy, wh_object_namespace(rq, rq->object)))
        return SP_OK;
    sp_err_clear(&err);
    rc = kobj_pool_from_json(rq->object, rq->namespace_, &p, &err);
    if (rc) {
        kobj_pool_clear(&p);
        return rc == SP_ENOMEM
                   ? rc
                   : wh_deny(a, WH_CODE_BAD_REQUEST, "%s: %s", ident, err.msg);
    }
    rc = place_pool_validate(&p.in, prefix, &err);
    kobj_pool_clear(&p);
    a->effect_op = WH_POOL_UPSERT;
    a->effect = rq->object;
    if (rc == SP_OK)
        return SP_OK;
    if (pool_unchanged(rq))
        return wh_warn(a, "%s: %s (allowed: this update does not change spec "
                          "or status.hosts)",
                       ident, err.msg);
    return wh_deny(a, WH_CODE_FORBIDDEN, "%s: %s", ident, err.msg);
}

sp_rc wh_pool_review(const wh_req *rq, wh_answer *a)
{
    if (rq->op == WH_OP_CREATE || rq->op == WH_OP_UPDATE)
        return pool_write(rq, a);
    return SP_OK;       /* DELETE and CONNECT: nothing to check */
}
