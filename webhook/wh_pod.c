/*
 * Admission of pods. Only PE pods (labelled streams.io/job) in namespaces
 * the policy manages are looked at; every other pod is allowed untouched.
 * CREATE and UPDATE are checked with the engine's place_admit_pe: the
 * labels and annotations parse, and the PE's colocation and exlocation ids
 * do not contradict its job's existing PEs. A refusal is code 403 with the
 * engine's message (it names the field and the fix) after the pod's
 * identity; a pod the JSON edge cannot read is code 400. An UPDATE that
 * leaves the PE's labels and annotations as they were is never refused:
 * refusing it would block unrelated changes (a finalizer removed, a label
 * added) to a pod admitted before the webhook or in audit mode, so the
 * problem becomes a warning. DELETE is always allowed. The effects tell the
 * caller what to record: the admitted pod, or the deleted pod's oldObject.
 */
#include <string.h>

#include "kobj/kobj.h"
#include "kobj/kobj_json.h"
#include "util/sp_alloc.h"
#include "webhook/wh_internal.h"

/* The labels and annotations the engine reads a PE's constraints from. */
static const char *const label_keys[] = { PLACE_LABEL_JOB, PLACE_LABEL_PE };
static const char *const annotation_keys[] = {
    PLACE_ANN_POOL,       PLACE_ANN_POOL_INDEX, PLACE_ANN_COLOCATION,
    PLACE_ANN_EXLOCATION, PLACE_ANN_ISOLATION,  PLACE_ANN_PE_COUNT,
    PLACE_ANN_RELOCATABLE,
};

/* Whether obj is a PE pod; SP_EPARSE when its metadata or labels are not
 * objects. */
static sp_rc is_pe(const cJSON *obj, bool *pe, sp_err *err)
{
    const cJSON *meta, *labels = NULL;
    sp_rc rc = kobj_get_object(obj, "", "metadata", &meta, err);

    if (!rc)
        rc = kobj_get_object(meta, "metadata", "labels", &labels, err);
    /* label keys are case-sensitive, unlike field names */
    *pe = !rc && labels &&
          cJSON_GetObjectItemCaseSensitive(labels, PLACE_LABEL_JOB) != NULL;
    return rc;
}

/* The value of key in kv, or NULL. */
static const char *kv_find(const place_kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0)
            return kv[i].value;
    return NULL;
}

static bool same_values(const place_kv *a, size_t na, const place_kv *b,
                        size_t nb, const char *const *keys, size_t n_keys)
{
    for (size_t i = 0; i < n_keys; i++) {
        const char *x = kv_find(a, na, keys[i]), *y = kv_find(b, nb, keys[i]);

        if (x != y && (!x || !y || strcmp(x, y) != 0))
            return false;
    }
    return true;
}

/* *same: this is an UPDATE and the old pod had the same PE labels and
 * annotations. */
static sp_rc placement_unchanged(const wh_req *rq, const place_pod_input *in,
                                 bool *same)
{
    kobj_pod old;
    sp_err err;
    sp_rc rc;

    *same = false;
    if (rq->op != WH_OP_UPDATE || !rq->old_object)
        return SP_OK;
    rc = kobj_pod_from_json(rq->old_object, rq->namespace_, &old, &err);
    if (rc == SP_OK)
        *same = same_values(in->labels, in->n_labels, old.in.labels,
                            old.in.n_labels, label_keys, 2) &&
                same_values(in->annotations, in->n_annotations,
                            old.in.annotations, old.in.n_annotations,
                            annotation_keys,
                            sizeof(annotation_keys) / sizeof(annotation_keys[0]));
    kobj_pod_clear(&old);
    return rc == SP_ENOMEM ? rc : SP_OK;
}

/* The engine's verdict: refuse (403), or warn for an unchanged update. */
static sp_rc admit(const wh_req *rq, const place_pod_input *in,
                   const char *ident, wh_answer *a)
{
    place_pe_spec spec;
    sp_err err;
    bool same;
    sp_rc rc;

    sp_err_clear(&err);
    if (rq->st) {
        rc = place_admit_pe(rq->st, in, &err);
    } else {
        rc = place_pe_spec_parse(in->labels, in->n_labels, in->annotations,
                                 in->n_annotations, &spec, &err);
        place_pe_spec_free(&spec);
    }
    if (rc == SP_OK || rc == SP_ENOMEM)
        return rc;
    rc = placement_unchanged(rq, in, &same);
    if (rc)
        return rc;
    if (same)
        return wh_warn(a, "%s: %s (allowed: this update does not change the "
                          "PE's labels or annotations)",
                       ident, err.msg);
    return wh_deny(a, WH_CODE_FORBIDDEN, "%s: %s", ident, err.msg);
}

/* Admit the PE, record the effect, and in the mutating call patch it. */
static sp_rc admit_and_mutate(const wh_req *rq, const place_pod_input *in,
                              const char *ident, wh_answer *a)
{
    place_pe_spec spec;
    sp_err err;
    sp_rc rc = admit(rq, in, ident, a);

    if (rc)
        return rc;
    a->effect_op = WH_POD_UPSERT;
    a->effect = rq->object;
    if (rq->mode != WH_MUTATE || !a->allowed || wh_audit(rq))
        return SP_OK;
    rc = place_pe_spec_parse(in->labels, in->n_labels, in->annotations,
                             in->n_annotations, &spec, &err);
    if (rc)         /* an update allowed with a warning: nothing to patch */
        return rc == SP_ENOMEM ? rc : SP_OK;
    rc = wh_pod_mutate(rq, in, &spec, ident, a);
    place_pe_spec_free(&spec);
    return rc;
}

/* The effect's conversion moves to a (p is left empty), so that recording
 * the pod needs none of its own; without memory it is simply not kept. */
static void keep_effect_pod(wh_answer *a, kobj_pod *p)
{
    a->effect_pod = sp_malloc(sizeof(*a->effect_pod));
    if (!a->effect_pod)
        return;
    *a->effect_pod = *p;
    memset(p, 0, sizeof(*p));
}

static sp_rc pod_write(const wh_req *rq, wh_answer *a)
{
    char ident[WH_IDENT_MAX];
    kobj_pod p;
    sp_err err;
    bool pe;
    sp_rc rc;

    wh_ident(ident, sizeof(ident), "pod", rq, rq->object);
    if (!rq->object)
        return wh_deny(a, WH_CODE_BAD_REQUEST,
                       "%s: request.object: missing: %s review must carry "
                       "the pod",
                       ident, rq->op == WH_OP_CREATE ? "a CREATE" : "an UPDATE");
    sp_err_clear(&err);
    if (is_pe(rq->object, &pe, &err))
        return wh_deny(a, WH_CODE_BAD_REQUEST, "%s: %s", ident, err.msg);
    if (!pe ||
        !pol_namespace_managed(rq->policy, wh_object_namespace(rq, rq->object)))
        return SP_OK;
    rc = kobj_pod_from_json(rq->object, rq->namespace_, &p, &err);
    if (rc == SP_OK)
        rc = admit_and_mutate(rq, &p.in, ident, a);
    else if (rc != SP_ENOMEM)
        rc = wh_deny(a, WH_CODE_BAD_REQUEST, "%s: %s", ident, err.msg);
    if (rc == SP_OK && a->effect == rq->object && rq->mode == WH_VALIDATE)
        keep_effect_pod(a, &p);
    kobj_pod_clear(&p);
    return rc;
}

void wh_pod_free(kobj_pod *p)
{
    kobj_pod_clear(p);
    sp_free(p);
}

/* Always allowed; a readable PE pod of a managed namespace is an effect. */
static sp_rc pod_delete(const wh_req *rq, wh_answer *a)
{
    const cJSON *old = rq->old_object;
    kobj_pod p;
    sp_err err;
    bool pe;
    sp_rc rc;

    if (!old || is_pe(old, &pe, &err) || !pe ||
        !pol_namespace_managed(rq->policy, wh_object_namespace(rq, old)))
        return SP_OK;
    rc = kobj_pod_from_json(old, rq->namespace_, &p, &err);
    if (rc == SP_OK) {
        a->effect_op = WH_POD_DELETE;
        a->effect = rq->old_object;
    }
    kobj_pod_clear(&p);
    return rc == SP_ENOMEM ? rc : SP_OK;
}

sp_rc wh_pod_review(const wh_req *rq, wh_answer *a)
{
    switch (rq->op) {
    case WH_OP_CREATE:
    case WH_OP_UPDATE:
        return pod_write(rq, a);
    case WH_OP_DELETE:
        return pod_delete(rq, a);
    case WH_OP_CONNECT:
        break;
    }
    return SP_OK;
}
