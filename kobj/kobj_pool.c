/*
 * HostPool objects (placement.streams.io/v1alpha1) into place_pool_spec:
 * spec {job, tags, hosts, size, exclusive} and status.hosts, the chosen
 * ordered membership. Only the JSON shape is checked here; whether the pool
 * makes sense (tags or hosts, size, exclusive with a job) is
 * place_pool_validate's call, so that the webhook and the planner say the
 * same thing about it.
 */
#include <stdint.h>
#include <string.h>

#include "kobj/kobj_internal.h"
#include "util/sp_alloc.h"

/* spec.job; "" is the same as none. */
static sp_rc read_job(const cJSON *spec, const char **job, sp_err *err)
{
    sp_rc rc = kobj_get_string(spec, "spec", "job", job, err);

    if (!rc && *job && !**job)
        *job = NULL;
    return rc;
}

static sp_rc read_spec(const cJSON *spec, kobj_pool *out, sp_err *err)
{
    place_pool_spec *in = &out->in;
    sp_rc rc;

    rc = read_job(spec, &in->job, err);
    if (!rc)
        rc = kobj_read_strv(spec, "spec", "tags", &out->tags, &in->n_tags,
                            err);
    if (!rc)
        rc = kobj_read_strv(spec, "spec", "hosts", &out->hosts, &in->n_hosts,
                            err);
    if (!rc)
        rc = kobj_get_int(spec, "spec", "size", INT64_MIN, INT64_MAX,
                          &in->size, &in->has_size, err);
    if (!rc)
        rc = kobj_get_bool(spec, "spec", "exclusive", &in->exclusive, NULL,
                           err);
    in->tags = out->tags;
    in->hosts = out->hosts;
    return rc;
}

static sp_rc read_status(const cJSON *obj, kobj_pool *out, sp_err *err)
{
    const cJSON *status;
    sp_rc rc = kobj_get_object(obj, "", "status", &status, err);

    if (!rc)
        rc = kobj_read_strv(status, "status", "hosts", &out->members,
                            &out->in.n_members, err);
    out->in.members = out->members;
    return rc;
}

sp_rc kobj_pool_from_json(const cJSON *obj, const char *default_ns,
                          kobj_pool *out, sp_err *err)
{
    const cJSON *spec;
    kobj_meta m;
    sp_rc rc;

    memset(out, 0, sizeof(*out));
    rc = kobj_check_kind(obj, "", "HostPool", KOBJ_HOSTPOOL_GROUP, err);
    if (rc)
        goto out;
    rc = kobj_read_meta(obj, default_ns, true, false, &m, err);
    if (rc)
        goto out;
    out->in.namespace_ = m.namespace_;
    out->in.name = m.name;
    rc = kobj_get_object(obj, "", "spec", &spec, err);
    if (rc)
        goto out;
    rc = read_spec(spec, out, err);
    if (rc)
        goto out;
    rc = read_status(obj, out, err);
out:
    if (rc)
        kobj_pool_clear(out);
    return rc;
}

void kobj_pool_clear(kobj_pool *p)
{
    if (!p)
        return;
    sp_free(p->tags);
    sp_free(p->hosts);
    sp_free(p->members);
    memset(p, 0, sizeof(*p));
}
