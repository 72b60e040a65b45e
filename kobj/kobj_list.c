/*
 * Lists of Kubernetes objects (the output of `kubectl get ... -o json`) into
 * a place_state: check the list's shape, convert every item, apply the
 * policy's namespace scope and the rules for finished and deleted pods, and
 * put the result into the engine. Every failure names the file, the item
 * and the field.
 */
#include <stdio.h>
#include <string.h>

#include "kobj/kobj_internal.h"
#include "util/sp_alloc.h"

const char *kobj_kind_name(kobj_kind k)
{
    switch (k) {
    case KOBJ_NODE: return "Node";
    case KOBJ_POD: return "Pod";
    case KOBJ_HOSTPOOL: return "HostPool";
    }
    return "?";
}

/* The command that writes a list of k, for messages. */
static const char *kubectl_hint(kobj_kind k)
{
    switch (k) {
    case KOBJ_NODE: return "kubectl get nodes -o json";
    case KOBJ_POD: return "kubectl get pods -A -o json";
    case KOBJ_HOSTPOOL: return "kubectl get hostpools -A -o json";
    }
    return "kubectl get ... -o json";
}

/* ------------------------------------------------------------------------ */
/* The list's shape                                                           */
/* ------------------------------------------------------------------------ */

/* True when kind names a list that may hold objects of kind k. */
static bool list_kind(const char *kind, kobj_kind k)
{
    const char *name = kobj_kind_name(k);
    size_t n = strlen(name);

    return strcmp(kind, "List") == 0 ||
           (strncmp(kind, name, n) == 0 && strcmp(kind + n, "List") == 0);
}

static sp_rc kind_error(const cJSON *root, kobj_kind k, sp_err *err)
{
    const char *name = kobj_kind_name(k);
    char what[128];

    if (snprintf(what, sizeof(what), "\"%sList\", \"List\" or \"%s\"", name,
                 name) < 0)
        what[0] = '\0';
    return kobj_type_error(err, "kind", what, kobj_member(root, "kind"));
}

/*
 * The items of root: *items is its items array, or NULL when root is itself
 * one object of kind k (then *single is true).
 */
static sp_rc list_items(const cJSON *root, kobj_kind k, const cJSON **items,
                        bool *single, sp_err *err)
{
    const char *kind;
    char what[128];
    sp_rc rc;

    *items = NULL;
    *single = false;
    if (!cJSON_IsObject(root)) {
        if (snprintf(what, sizeof(what), "a %sList object (%s)",
                     kobj_kind_name(k), kubectl_hint(k)) < 0)
            what[0] = '\0';
        return kobj_type_error(err, "", what, root);
    }
    rc = kobj_get_string(root, "", "kind", &kind, err);
    if (rc)
        return rc;
    if (kind && strcmp(kind, kobj_kind_name(k)) == 0) {
        *single = true;
        return SP_OK;
    }
    if (kind && !list_kind(kind, k))
        return kind_error(root, k, err);
    rc = kobj_get_array(root, "", "items", items, err);
    if (!rc && !*items)
        rc = sp_err_set(err, SP_EPARSE,
                        "items: missing; expected a %sList as `%s` writes it",
                        kobj_kind_name(k), kubectl_hint(k));
    return rc;
}

/* ------------------------------------------------------------------------ */
/* One item                                                                   */
/* ------------------------------------------------------------------------ */

static sp_rc load_node(place_state *st, const cJSON *item,
                       kobj_load_stats *stats, sp_err *err)
{
    kobj_node n;
    sp_rc rc;

    rc = kobj_node_from_json(item, &n, err);
    if (rc)
        return rc;
    rc = place_state_put_node(st, &n.in, NULL, err);
    if (!rc)
        stats->loaded++;
    kobj_node_clear(&n);
    return rc;
}

/* Load p into st as plain usage when it is a PE of an unmanaged namespace. */
static void scope_pod(kobj_pod *p, const pol_policy *pol,
                      kobj_load_stats *stats)
{
    if (pol_namespace_managed(pol, p->in.namespace_) ||
        !place_is_pe(p->in.labels, p->in.n_labels))
        return;
    p->in.n_labels = 0;
    p->in.n_annotations = 0;
    stats->unmanaged++;
}

static sp_rc load_pod(place_state *st, const cJSON *item, const pol_policy *pol,
                      kobj_load_stats *stats, sp_err *err)
{
    kobj_pod p;
    sp_rc rc;

    rc = kobj_pod_from_json(item, KOBJ_DEFAULT_NAMESPACE, &p, err);
    if (rc)
        return rc;
    if (p.terminal || (p.terminating && !p.in.node)) {
        stats->skipped++;
        goto out;
    }
    scope_pod(&p, pol, stats);
    rc = place_state_add_pod(st, &p.in, NULL, err);
    if (!rc)
        stats->loaded++;
out:
    kobj_pod_clear(&p);
    return rc;
}

static sp_rc load_pool(place_state *st, const cJSON *item,
                       const pol_policy *pol, kobj_load_stats *stats,
                       sp_err *err)
{
    kobj_pool p;
    sp_err verr;
    sp_rc rc;

    rc = kobj_pool_from_json(item, KOBJ_DEFAULT_NAMESPACE, &p, err);
    if (rc)
        return rc;
    if (!pol_namespace_managed(pol, p.in.namespace_)) {
        stats->unmanaged++;
        goto out;
    }
    /* an invalid pool is kept, its error told to the PEs that name it */
    sp_err_clear(&verr);
    rc = place_state_put_pool(st, &p.in, NULL, &verr);
    if (rc) {
        if (err)
            *err = verr;
        goto out;
    }
    stats->loaded++;
    if (verr.msg[0])
        stats->invalid_pools++;
out:
    kobj_pool_clear(&p);
    return rc;
}

static sp_rc load_item(place_state *st, kobj_kind k, const cJSON *item,
                       const pol_policy *pol, kobj_load_stats *stats,
                       sp_err *err)
{
    stats->items++;
    switch (k) {
    case KOBJ_NODE: return load_node(st, item, stats, err);
    case KOBJ_POD: return load_pod(st, item, pol, stats, err);
    case KOBJ_HOSTPOOL: return load_pool(st, item, pol, stats, err);
    }
    return sp_err_set(err, SP_EINVAL, "unknown object kind %d", (int)k);
}

/* ------------------------------------------------------------------------ */
/* Lists and files                                                            */
/* ------------------------------------------------------------------------ */

sp_rc kobj_load_list(place_state *st, kobj_kind k, const cJSON *root,
                     const pol_policy *pol, kobj_load_stats *stats,
                     sp_err *err)
{
    char path[KOBJ_PATH_MAX];
    kobj_load_stats local;
    const cJSON *items, *item;
    bool single;
    size_t i = 0;
    sp_rc rc;

    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof(*stats));
    rc = list_items(root, k, &items, &single, err);
    if (rc || single)
        return rc ? rc : load_item(st, k, root, pol, stats, err);
    cJSON_ArrayForEach(item, items) {
        rc = load_item(st, k, item, pol, stats, err);
        if (rc) {
            kobj_path_index(path, sizeof(path), "items", i);
            kobj_prefix_path(err, path);
            return rc;
        }
        i++;
    }
    return SP_OK;
}

sp_rc kobj_load_file(place_state *st, kobj_kind k, const char *path,
                     const pol_policy *pol, kobj_load_stats *stats,
                     sp_err *err)
{
    const char *label = strcmp(path, "-") == 0 ? "<stdin>" : path;
    cJSON *root = NULL;
    char *data = NULL;
    size_t len;
    sp_rc rc;

    rc = kobj_read_file(path, KOBJ_FILE_MAX, &data, &len, err);
    if (rc)
        goto out;
    rc = kobj_parse_json_nul(data, len, &root, err);
    sp_free(data);          /* the tree holds copies: do not hold both */
    data = NULL;
    if (rc)
        goto out;
    rc = kobj_load_list(st, k, root, pol, stats, err);
out:
    if (rc)
        sp_err_prefix(err, "%s", label);
    cJSON_Delete(root);
    sp_free(data);
    return rc;
}
