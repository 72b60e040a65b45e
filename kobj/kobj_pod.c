/*
 * Pod objects into place_pod_input: identity (namespace, name, uid), the
 * labels and annotations the engine reads PE constraints from, the effective
 * cpu and memory requests exactly as kube-scheduler computes them (regular
 * containers, init containers, sidecars, overhead), the node it is bound to,
 * its tolerations, and whether it is finished or being deleted. See kobj.h
 * for the decisions.
 */
#include <string.h>

#include "kobj/kobj_internal.h"
#include "util/sp_alloc.h"

/* ------------------------------------------------------------------------ */
/* Requests                                                                   */
/* ------------------------------------------------------------------------ */

/* a += b, false on overflow. */
static bool res_add(place_resources *a, const place_resources *b)
{
    return !__builtin_add_overflow(a->cpu_milli, b->cpu_milli, &a->cpu_milli) &&
           !__builtin_add_overflow(a->memory, b->memory, &a->memory);
}

/* a = max(a, b) per resource. */
static void res_max(place_resources *a, const place_resources *b)
{
    if (b->cpu_milli > a->cpu_milli)
        a->cpu_milli = b->cpu_milli;
    if (b->memory > a->memory)
        a->memory = b->memory;
}

static sp_rc overflow(sp_err *err, const char *path)
{
    return sp_err_set(err, SP_ELIMIT,
                      "%s: the requests add up to more than can be counted",
                      path);
}

/*
 * One resource of a requests (or limits) map: cpu in milli-units, memory in
 * bytes; 0 when absent.
 */
static sp_rc read_one(const cJSON *map, const char *path, const char *res,
                      int64_t *value, bool *present, sp_err *err)
{
    int64_t milli;
    sp_rc rc;

    rc = kobj_read_quantity(map, path, res, &milli, present, err);
    if (rc)
        return rc;
    *value = strcmp(res, "cpu") == 0 ? milli : place_milli_to_units(milli);
    return SP_OK;
}

/* resources.requests of one container, falling back to resources.limits per
 * resource as the API server's defaulting does. */
static sp_rc container_requests(const cJSON *c, const char *path,
                                place_resources *r, sp_err *err)
{
    char rpath[KOBJ_PATH_MAX], qpath[KOBJ_PATH_MAX], lpath[KOBJ_PATH_MAX];
    static const char *const names[] = { "cpu", "memory" };
    const cJSON *res, *req, *lim;
    int64_t *slots[2] = { &r->cpu_milli, &r->memory };
    bool present;
    sp_rc rc;

    memset(r, 0, sizeof(*r));
    if (!cJSON_IsObject(c))
        return kobj_type_error(err, path, "an object", c);
    kobj_path(rpath, sizeof(rpath), path, "resources");
    kobj_path(qpath, sizeof(qpath), rpath, "requests");
    kobj_path(lpath, sizeof(lpath), rpath, "limits");
    rc = kobj_get_object(c, path, "resources", &res, err);
    if (!rc)
        rc = kobj_get_object(res, rpath, "requests", &req, err);
    if (!rc)
        rc = kobj_get_object(res, rpath, "limits", &lim, err);
    for (size_t i = 0; !rc && i < 2; i++) {
        rc = read_one(req, qpath, names[i], slots[i], &present, err);
        if (!rc && !present)
            rc = read_one(lim, lpath, names[i], slots[i], &present, err);
    }
    return rc;
}

/* The sum of spec.containers' requests. */
static sp_rc sum_containers(const cJSON *spec, place_resources *sum,
                            sp_err *err)
{
    char path[KOBJ_PATH_MAX];
    const cJSON *arr, *c;
    place_resources r;
    size_t i = 0;
    sp_rc rc;

    memset(sum, 0, sizeof(*sum));
    rc = kobj_get_array(spec, "spec", "containers", &arr, err);
    if (rc || !arr)
        return rc;
    cJSON_ArrayForEach(c, arr) {
        kobj_path_index(path, sizeof(path), "spec.containers", i++);
        rc = container_requests(c, path, &r, err);
        if (rc)
            return rc;
        if (!res_add(sum, &r))
            return overflow(err, "spec.containers");
    }
    return SP_OK;
}

/* True for a sidecar: an init container with restartPolicy "Always". */
static sp_rc is_sidecar(const cJSON *c, const char *path, bool *sidecar,
                        sp_err *err)
{
    const char *policy;
    sp_rc rc = kobj_get_string(c, path, "restartPolicy", &policy, err);

    *sidecar = !rc && policy && strcmp(policy, "Always") == 0;
    return rc;
}

/*
 * spec.initContainers, in order (KEP-753): *sidecars is the sum of the
 * sidecars, *peak the most any init step needs (the container plus the
 * sidecars already running).
 */
static sp_rc walk_init(const cJSON *spec, place_resources *sidecars,
                       place_resources *peak, sp_err *err)
{
    char path[KOBJ_PATH_MAX];
    const cJSON *arr, *c;
    place_resources r;
    size_t i = 0;
    bool sidecar;
    sp_rc rc;

    memset(sidecars, 0, sizeof(*sidecars));
    memset(peak, 0, sizeof(*peak));
    rc = kobj_get_array(spec, "spec", "initContainers", &arr, err);
    if (rc || !arr)
        return rc;
    cJSON_ArrayForEach(c, arr) {
        kobj_path_index(path, sizeof(path), "spec.initContainers", i++);
        rc = container_requests(c, path, &r, err);
        if (!rc)
            rc = is_sidecar(c, path, &sidecar, err);
        if (rc)
            return rc;
        if (sidecar && !res_add(sidecars, &r))
            return overflow(err, "spec.initContainers");
        if (sidecar)
            r = *sidecars;
        else if (!res_add(&r, sidecars))
            return overflow(err, "spec.initContainers");
        res_max(peak, &r);
    }
    return SP_OK;
}

/* spec.overhead (RuntimeClass pod overhead). */
static sp_rc read_overhead(const cJSON *spec, place_resources *r, sp_err *err)
{
    const cJSON *oh;
    bool present;
    sp_rc rc;

    memset(r, 0, sizeof(*r));
    rc = kobj_get_object(spec, "spec", "overhead", &oh, err);
    if (!rc)
        rc = read_one(oh, "spec.overhead", "cpu", &r->cpu_milli, &present, err);
    if (!rc)
        rc = read_one(oh, "spec.overhead", "memory", &r->memory, &present, err);
    return rc;
}

/* The effective requests of the pod, as kube-scheduler counts them. */
static sp_rc pod_requests(const cJSON *spec, place_resources *out, sp_err *err)
{
    place_resources sum, sidecars, peak, overhead;
    sp_rc rc;

    rc = sum_containers(spec, &sum, err);
    if (!rc)
        rc = walk_init(spec, &sidecars, &peak, err);
    if (!rc)
        rc = read_overhead(spec, &overhead, err);
    if (rc)
        return rc;
    if (!res_add(&sum, &sidecars))
        return overflow(err, "spec.initContainers");
    res_max(&sum, &peak);
    if (!res_add(&sum, &overhead))
        return overflow(err, "spec.overhead");
    *out = sum;
    out->pods = 1;
    return SP_OK;
}

/* ------------------------------------------------------------------------ */
/* Tolerations, phase, identity                                               */
/* ------------------------------------------------------------------------ */

/* A string field of a toleration; "" is the same as absent there. */
static sp_rc tol_field(const cJSON *t, const char *path, const char *key,
                       const char **out, sp_err *err)
{
    sp_rc rc = kobj_get_string(t, path, key, out, err);

    if (!rc && *out && !**out)
        *out = NULL;
    return rc;
}

static sp_rc read_toleration(const cJSON *t, const char *path,
                             place_toleration *out, sp_err *err)
{
    sp_rc rc;

    if (!cJSON_IsObject(t))
        return kobj_type_error(err, path, "an object", t);
    rc = tol_field(t, path, "key", &out->key, err);
    if (!rc)
        rc = tol_field(t, path, "operator", &out->operator_, err);
    if (!rc)
        rc = tol_field(t, path, "value", &out->value, err);
    if (!rc)
        rc = tol_field(t, path, "effect", &out->effect, err);
    return rc;
}

static sp_rc read_tolerations(const cJSON *spec, kobj_pod *out, sp_err *err)
{
    char path[KOBJ_PATH_MAX];
    const cJSON *arr, *t;
    size_t count = 0;
    sp_rc rc;

    rc = kobj_get_array(spec, "spec", "tolerations", &arr, err);
    if (rc || !arr)
        return rc;
    cJSON_ArrayForEach(t, arr)
        count++;
    if (!count)
        return SP_OK;
    out->tolerations = sp_calloc(count, sizeof(*out->tolerations));
    if (!out->tolerations)
        return sp_err_set(err, SP_ENOMEM, "spec.tolerations: out of memory");
    cJSON_ArrayForEach(t, arr) {
        size_t i = out->in.n_tolerations;

        kobj_path_index(path, sizeof(path), "spec.tolerations", i);
        rc = read_toleration(t, path, &out->tolerations[i], err);
        if (rc)
            return rc;
        out->in.n_tolerations++;
    }
    out->in.tolerations = out->tolerations;
    return SP_OK;
}

/* status.phase and metadata.deletionTimestamp. */
static sp_rc read_lifecycle(const cJSON *obj, const cJSON *metadata,
                            kobj_pod *out, sp_err *err)
{
    const cJSON *status, *del;
    const char *phase;
    sp_rc rc;

    rc = kobj_get_object(obj, "", "status", &status, err);
    if (!rc)
        rc = kobj_get_string(status, "status", "phase", &phase, err);
    if (rc)
        return rc;
    out->terminal = phase && (strcmp(phase, "Succeeded") == 0 ||
                              strcmp(phase, "Failed") == 0);
    /* any non-null value: the API server only ever writes a timestamp */
    del = kobj_member(metadata, "deletionTimestamp");
    out->terminating = del && !cJSON_IsNull(del);
    return SP_OK;
}

/* The pod's uid, or "namespace/name" when it has none yet. */
static sp_rc read_uid(const kobj_meta *m, kobj_pod *out, sp_err *err)
{
    size_t ns = strlen(m->namespace_), name = strlen(m->name);

    if (m->uid) {
        out->in.uid = m->uid;
        return SP_OK;
    }
    out->uid = sp_malloc(ns + name + 2);
    if (!out->uid)
        return sp_err_set(err, SP_ENOMEM, "metadata.uid: out of memory");
    memcpy(out->uid, m->namespace_, ns);
    out->uid[ns] = '/';
    memcpy(out->uid + ns + 1, m->name, name + 1);
    out->in.uid = out->uid;
    return SP_OK;
}

/* spec.nodeName; "" is unbound. */
static sp_rc read_node_name(const cJSON *spec, const char **node, sp_err *err)
{
    sp_rc rc = kobj_get_string(spec, "spec", "nodeName", node, err);

    if (!rc && *node && !**node)
        *node = NULL;
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The pod                                                                    */
/* ------------------------------------------------------------------------ */

/* Labels and annotations. */
static sp_rc read_maps(const kobj_meta *m, kobj_pod *out, sp_err *err)
{
    sp_rc rc = kobj_read_kv(m->metadata, "metadata", "labels", &out->labels,
                            &out->in.n_labels, err);

    if (!rc)
        rc = kobj_read_kv(m->metadata, "metadata", "annotations",
                          &out->annotations, &out->in.n_annotations, err);
    out->in.labels = out->labels;
    out->in.annotations = out->annotations;
    return rc;
}

sp_rc kobj_pod_from_json(const cJSON *obj, const char *default_ns,
                         kobj_pod *out, sp_err *err)
{
    const cJSON *spec;
    kobj_meta m;
    sp_rc rc;

    memset(out, 0, sizeof(*out));
    rc = kobj_check_kind(obj, "", "Pod", NULL, err);
    if (rc)
        goto out;
    rc = kobj_read_meta(obj, default_ns, true, true, &m, err);
    if (rc)
        goto out;
    out->in.namespace_ = m.namespace_;
    out->in.name = m.name;
    rc = read_uid(&m, out, err);
    if (rc)
        goto out;
    rc = read_maps(&m, out, err);
    if (rc)
        goto out;
    rc = kobj_get_object(obj, "", "spec", &spec, err);
    if (rc)
        goto out;
    rc = read_node_name(spec, &out->in.node, err);
    if (rc)
        goto out;
    rc = pod_requests(spec, &out->in.requests, err);
    if (rc)
        goto out;
    rc = read_tolerations(spec, out, err);
    if (rc)
        goto out;
    rc = read_lifecycle(obj, m.metadata, out, err);
out:
    if (rc)
        kobj_pod_clear(out);
    return rc;
}

void kobj_pod_clear(kobj_pod *p)
{
    if (!p)
        return;
    sp_free(p->uid);
    sp_free(p->labels);
    sp_free(p->annotations);
    sp_free(p->tolerations);
    memset(p, 0, sizeof(*p));
}
