/*
 * The mutation of an admitted PE pod: what makes the rest of Kubernetes
 * cooperate, as JSONPatch operations, in this order:
 *   1. (CREATE) required node affinity for the PE's HostPool (the one its
 *      annotation names, else the policy's defaultHostPool) when the pool
 *      exists, is valid and may serve the PE's job, so that kube-scheduler's
 *      own filter agrees with the pool (wh_affinity.c). A pool that does not
 *      exist yet, is invalid or belongs to another job is not an admission
 *      error (DESIGN section 3): the pod is admitted with a warning that
 *      says why it will stay Pending;
 *   2. (CREATE) spec.schedulerName, when the policy names a scheduler and
 *      the pod names another;
 *   3. (CREATE and UPDATE) the placement annotations in canonical form:
 *      colocation and exlocation ids trimmed, de-duplicated and joined by
 *      ",", isolation and relocatable as lowercase "true" / "false".
 * A pod's spec is immutable on UPDATE (its affinity and schedulerName
 * among it), so an UPDATE only gets the annotations, which stay mutable.
 * Every operation is written only when it changes something: mutating a
 * mutated pod yields an empty patch.
 */
#include <stdlib.h>
#include <string.h>

#include "kobj/kobj_json.h"
#include "util/sp_alloc.h"
#include "webhook/wh_internal.h"

#define IDS_MAX 8192    /* bytes of a canonical id list (64 ids of 63, commas) */

/* ------------------------------------------------------------------------ */
/* Node affinity                                                              */
/* ------------------------------------------------------------------------ */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* prefix + tag in a new string. */
static char *concat(const char *prefix, const char *tag)
{
    size_t np = strlen(prefix), nt = strlen(tag);
    char *s = sp_malloc(np + nt + 1);

    if (s) {
        memcpy(s, prefix, np);
        memcpy(s + np, tag, nt + 1);
    }
    return s;
}

/* The label keys and host names that select pool's nodes, sorted so that
 * every replica writes the same patch. SP_EINVAL for an invalid pool. */
static sp_rc build_selector(const place_state *st, int32_t pool,
                            wh_selector *sel)
{
    const char *prefix = place_state_tag_prefix(st);
    const char **tags = NULL;
    size_t n_tags = 0;
    sp_rc rc;

    memset(sel, 0, sizeof(*sel));
    rc = place_pool_selector(st, pool, &tags, &n_tags, &sel->hosts,
                             &sel->n_hosts);
    if (rc)
        goto out;
    sel->keys = sp_calloc(n_tags ? n_tags : 1, sizeof(*sel->keys));
    rc = sel->keys ? SP_OK : SP_ENOMEM;
    for (size_t i = 0; i < n_tags && !rc; i++) {
        sel->keys[i] = concat(prefix, tags[i]);
        rc = sel->keys[i] ? SP_OK : SP_ENOMEM;
        sel->n_keys += !rc;
    }
    if (rc)
        goto out;
    qsort(sel->keys, sel->n_keys, sizeof(*sel->keys), cmp_str);
    qsort(sel->hosts, sel->n_hosts, sizeof(*sel->hosts), cmp_str);
out:
    sp_free(tags);
    if (rc)
        wh_selector_free(sel);
    return rc;
}

/* The pool named name when it can get affinity, else PLACE_NONE in *pool
 * and a warning that says why the pod will stay Pending. */
static sp_rc pool_usable(const wh_req *rq, const place_pod_input *in,
                         const place_pe_spec *spec, const char *name,
                         const char *ident, int32_t *pool, wh_answer *a)
{
    int32_t found = place_state_find_pool(rq->st, in->namespace_, name);
    place_pool_info info;

    *pool = PLACE_NONE;
    if (found == PLACE_NONE)
        return wh_warn(a, "%s: HostPool '%s' (from %s) does not exist in "
                          "namespace '%s' yet: the pod stays Pending until it "
                          "is created",
                       ident, name,
                       spec->pool ? "annotation " PLACE_ANN_POOL
                                  : "the policy's defaultHostPool",
                       in->namespace_);
    place_pool_get(rq->st, found, &info);
    if (info.error)
        return wh_warn(a, "%s: HostPool '%s' is invalid, so the pod stays "
                          "Pending until it is fixed: %s",
                       ident, name, info.error);
    if (info.job && strcmp(info.job, spec->job) != 0)
        return wh_warn(a, "%s: HostPool '%s' belongs to job '%s', not '%s': "
                          "the pod stays Pending; name a pool of job '%s' or "
                          "a shared one (without spec.job)",
                       ident, name, info.job, spec->job, spec->job);
    *pool = found;
    return SP_OK;
}

static sp_rc pool_affinity(const wh_req *rq, const place_pod_input *in,
                           const place_pe_spec *spec, const cJSON *spec_obj,
                           const char *spec_path, const char *ident,
                           wh_answer *a)
{
    const char *name = spec->pool ? spec->pool
                                  : rq->policy ? rq->policy->default_pool : NULL;
    wh_selector sel;
    bool dropped;
    int32_t pool;
    sp_err err;
    sp_rc rc;

    if (!name || !rq->st)
        return SP_OK;
    rc = pool_usable(rq, in, spec, name, ident, &pool, a);
    if (rc || pool == PLACE_NONE)
        return rc;
    rc = build_selector(rq->st, pool, &sel);
    if (rc)
        return rc == SP_ENOMEM ? rc : SP_OK;
    sp_err_clear(&err);
    rc = wh_affinity_patch(spec_obj, spec_path, &sel, &a->patch, &dropped, &err);
    if (rc == SP_EPARSE)
        rc = wh_deny(a, WH_CODE_BAD_REQUEST, "%s: %s", ident, err.msg);
    else if (!rc && dropped)
        rc = wh_warn(a, "%s: HostPool '%s' lists %zu hosts, more than the %d "
                        "node affinity terms streams-placer writes: node "
                        "affinity requires only the pool's tags, and "
                        "streams-placer still keeps the pod on the pool's hosts",
                     ident, name, sel.n_hosts, WH_MAX_TERMS);
    wh_selector_free(&sel);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* schedulerName                                                              */
/* ------------------------------------------------------------------------ */

static sp_rc scheduler_name(const wh_req *rq, const cJSON *spec_obj,
                            sp_buf *path, const char *ident, wh_answer *a)
{
    const char *want = rq->policy ? rq->policy->scheduler_name : NULL, *have;
    size_t base = path->len;
    sp_err err;
    sp_rc rc;

    if (!want)
        return SP_OK;
    if (kobj_get_string(spec_obj, "spec", "schedulerName", &have, &err))
        return wh_deny(a, WH_CODE_BAD_REQUEST, "%s: %s", ident, err.msg);
    if (have && strcmp(have, want) == 0)
        return SP_OK;
    rc = wh_path_seg(path, wh_member(spec_obj, "schedulerName"));
    if (!rc)
        rc = wh_patch_op(&a->patch, wh_member_op(spec_obj, "schedulerName"),
                         path->data, cJSON_CreateString(want));
    wh_path_cut(path, base);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Annotations                                                                */
/* ------------------------------------------------------------------------ */

/* Replace annotation key (at path) with value when it differs. */
static sp_rc replace_annotation(const cJSON *anns, const char *key,
                                const char *value, sp_buf *path, wh_answer *a)
{
    const char *have =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(anns, key));
    size_t base = path->len;
    sp_rc rc;

    if (!have || strcmp(have, value) == 0)
        return SP_OK;
    rc = wh_path_seg(path, key);
    if (!rc)
        rc = wh_patch_op(&a->patch, "replace", path->data,
                         cJSON_CreateString(value));
    wh_path_cut(path, base);
    return rc;
}

static sp_rc normalise_ids(const cJSON *anns, const char *key, char **ids,
                           size_t n, sp_buf *path, wh_answer *a)
{
    sp_buf joined;
    sp_rc rc = SP_OK;

    sp_buf_init(&joined, IDS_MAX);
    for (size_t i = 0; i < n && !rc; i++) {
        rc = i ? sp_buf_append(&joined, ",", 1) : SP_OK;
        if (!rc)
            rc = sp_buf_puts(&joined, ids[i]);
    }
    if (!rc && n)
        rc = replace_annotation(anns, key, joined.data, path, a);
    sp_buf_free(&joined);
    return rc;
}

static sp_rc normalise(const wh_req *rq, const place_pe_spec *spec,
                       sp_buf *path, wh_answer *a)
{
    const cJSON *meta = kobj_member(rq->object, "metadata");
    const cJSON *anns = kobj_member(meta, "annotations");
    sp_rc rc;

    if (!cJSON_IsObject(meta) || !cJSON_IsObject(anns))
        return SP_OK;
    rc = wh_path_seg(path, wh_member(rq->object, "metadata"));
    if (!rc)
        rc = wh_path_seg(path, wh_member(meta, "annotations"));
    if (!rc)
        rc = normalise_ids(anns, PLACE_ANN_COLOCATION, spec->colocation,
                           spec->n_colocation, path, a);
    if (!rc)
        rc = normalise_ids(anns, PLACE_ANN_EXLOCATION, spec->exlocation,
                           spec->n_exlocation, path, a);
    if (!rc)
        rc = replace_annotation(anns, PLACE_ANN_ISOLATION,
                                spec->isolation ? "true" : "false", path, a);
    if (!rc)
        rc = replace_annotation(anns, PLACE_ANN_RELOCATABLE,
                                spec->relocatable ? "true" : "false", path, a);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The mutation                                                               */
/* ------------------------------------------------------------------------ */

/* Affinity and schedulerName, when the pod has a spec to patch. */
static sp_rc mutate_spec(const wh_req *rq, const place_pod_input *in,
                         const place_pe_spec *spec, sp_buf *path,
                         const char *ident, wh_answer *a)
{
    const cJSON *spec_obj;
    sp_err err;
    sp_rc rc;

    if (kobj_get_object(rq->object, "", "spec", &spec_obj, &err))
        return wh_deny(a, WH_CODE_BAD_REQUEST, "%s: %s", ident, err.msg);
    if (!spec_obj)      /* the API server refuses such a pod on its own */
        return SP_OK;
    rc = wh_path_seg(path, wh_member(rq->object, "spec"));
    if (!rc)
        rc = pool_affinity(rq, in, spec, spec_obj, path->data, ident, a);
    if (!rc && a->allowed)
        rc = scheduler_name(rq, spec_obj, path, ident, a);
    return rc;
}

sp_rc wh_pod_mutate(const wh_req *rq, const place_pod_input *in,
                    const place_pe_spec *spec, const char *ident, wh_answer *a)
{
    sp_buf path;
    sp_rc rc = SP_OK;

    sp_buf_init(&path, WH_PATH_MAX);
    if (rq->op == WH_OP_CREATE)
        rc = mutate_spec(rq, in, spec, &path, ident, a);
    wh_path_cut(&path, 0);
    if (!rc && a->allowed)
        rc = normalise(rq, spec, &path, a);
    sp_buf_free(&path);
    if (rc == SP_ELIMIT)
        rc = wh_deny(a, WH_CODE_BAD_REQUEST,
                     "%s: a field name is too long to write a patch for", ident);
    return rc;
}
