/*
 * Node objects into place_node_input: name, labels (tags are labels under the
 * policy's prefix; the engine picks them out), allocatable cpu, memory and
 * pods, cordon and readiness, and the taints that keep pods off. See kobj.h
 * for the decisions on missing allocatable and missing conditions.
 */
#include <string.h>

#include "kobj/kobj_internal.h"
#include "util/sp_alloc.h"

/* status.allocatable: missing resources are 0 (nothing with a request fits). */
static sp_rc read_allocatable(const cJSON *status, place_resources *r,
                              sp_err *err)
{
    const cJSON *alloc;
    int64_t milli;
    bool present;
    sp_rc rc;

    memset(r, 0, sizeof(*r));
    rc = kobj_get_object(status, "status", "allocatable", &alloc, err);
    if (rc || !alloc)
        return rc;
    rc = kobj_read_quantity(alloc, "status.allocatable", "cpu", &milli,
                            &present, err);
    if (rc)
        return rc;
    r->cpu_milli = milli;
    rc = kobj_read_quantity(alloc, "status.allocatable", "memory", &milli,
                            &present, err);
    if (rc)
        return rc;
    r->memory = place_milli_to_units(milli);
    rc = kobj_read_quantity(alloc, "status.allocatable", "pods", &milli,
                            &present, err);
    if (rc)
        return rc;
    r->pods = place_milli_to_units(milli);
    return SP_OK;
}

/* False when a Ready condition says anything but "True". */
static sp_rc read_ready(const cJSON *status, bool *ready, sp_err *err)
{
    char path[KOBJ_PATH_MAX];
    const cJSON *conds, *c;
    const char *type, *st;
    size_t i = 0;
    sp_rc rc;

    *ready = true;
    rc = kobj_get_array(status, "status", "conditions", &conds, err);
    if (rc || !conds)
        return rc;
    cJSON_ArrayForEach(c, conds) {
        kobj_path_index(path, sizeof(path), "status.conditions", i++);
        if (!cJSON_IsObject(c))
            return kobj_type_error(err, path, "an object", c);
        rc = kobj_get_string(c, path, "type", &type, err);
        if (!rc)
            rc = kobj_get_string(c, path, "status", &st, err);
        if (rc)
            return rc;
        if (type && strcmp(type, "Ready") == 0)
            *ready = st && strcmp(st, "True") == 0;
    }
    return SP_OK;
}

/* True for the taint effects that keep a pod off a node. */
static bool blocking_effect(const char *effect)
{
    return effect && (strcmp(effect, "NoSchedule") == 0 ||
                      strcmp(effect, "NoExecute") == 0);
}

/* One spec.taints[i]; *keep is false for effects that do not block. */
static sp_rc read_taint(const cJSON *t, const char *path, place_taint *out,
                        bool *keep, sp_err *err)
{
    char key_path[KOBJ_PATH_MAX];
    sp_rc rc;

    *keep = false;
    if (!cJSON_IsObject(t))
        return kobj_type_error(err, path, "an object", t);
    rc = kobj_get_string(t, path, "key", &out->key, err);
    if (!rc)
        rc = kobj_get_string(t, path, "value", &out->value, err);
    if (!rc)
        rc = kobj_get_string(t, path, "effect", &out->effect, err);
    if (rc)
        return rc;
    if (!out->key || !*out->key) {
        kobj_path(key_path, sizeof(key_path), path, "key");
        return sp_err_set(err, SP_EPARSE, "%s: missing; a taint needs a key",
                          key_path);
    }
    if (out->value && !*out->value)
        out->value = NULL;
    *keep = blocking_effect(out->effect);
    return SP_OK;
}

static sp_rc read_taints(const cJSON *spec, kobj_node *out, sp_err *err)
{
    char path[KOBJ_PATH_MAX];
    const cJSON *arr, *t;
    size_t count = 0, i = 0;
    bool keep;
    sp_rc rc;

    rc = kobj_get_array(spec, "spec", "taints", &arr, err);
    if (rc || !arr)
        return rc;
    cJSON_ArrayForEach(t, arr)
        count++;
    if (!count)
        return SP_OK;
    out->taints = sp_calloc(count, sizeof(*out->taints));
    if (!out->taints)
        return sp_err_set(err, SP_ENOMEM, "spec.taints: out of memory");
    cJSON_ArrayForEach(t, arr) {
        kobj_path_index(path, sizeof(path), "spec.taints", i++);
        rc = read_taint(t, path, &out->taints[out->in.n_taints], &keep, err);
        if (rc)
            return rc;
        if (keep)
            out->in.n_taints++;
    }
    out->in.taints = out->taints;
    return SP_OK;
}

/* spec.unschedulable and the Ready condition into one condition. */
static sp_rc read_condition(const cJSON *spec, const cJSON *status,
                            place_node_condition *cond, sp_err *err)
{
    bool cordoned = false, ready;
    sp_rc rc;

    rc = kobj_get_bool(spec, "spec", "unschedulable", &cordoned, NULL, err);
    if (!rc)
        rc = read_ready(status, &ready, err);
    if (rc)
        return rc;
    *cond = !ready ? PLACE_NODE_NOT_READY
          : cordoned ? PLACE_NODE_CORDONED : PLACE_NODE_READY;
    return SP_OK;
}

sp_rc kobj_node_from_json(const cJSON *obj, kobj_node *out, sp_err *err)
{
    const cJSON *spec, *status;
    kobj_meta m;
    sp_rc rc;

    memset(out, 0, sizeof(*out));
    rc = kobj_check_kind(obj, "", "Node", NULL, err);
    if (rc)
        goto out;
    rc = kobj_read_meta(obj, NULL, false, false, &m, err);
    if (rc)
        goto out;
    rc = kobj_get_object(obj, "", "spec", &spec, err);
    if (rc)
        goto out;
    rc = kobj_get_object(obj, "", "status", &status, err);
    if (rc)
        goto out;
    rc = kobj_read_kv(m.metadata, "metadata", "labels", &out->labels,
                      &out->in.n_labels, err);
    if (rc)
        goto out;
    rc = read_allocatable(status, &out->in.allocatable, err);
    if (rc)
        goto out;
    rc = read_condition(spec, status, &out->in.condition, err);
    if (rc)
        goto out;
    rc = read_taints(spec, out, err);
    if (rc)
        goto out;
    out->in.name = m.name;
    out->in.labels = out->labels;
out:
    if (rc)
        kobj_node_clear(out);
    return rc;
}

void kobj_node_clear(kobj_node *n)
{
    if (!n)
        return;
    sp_free(n->labels);
    sp_free(n->taints);
    memset(n, 0, sizeof(*n));
}
