/*
 * Required node affinity for a PE's HostPool, so that kube-scheduler's own
 * filter agrees with the pool before the extender is asked: each tag
 * becomes {key: <prefix><tag>, operator: Exists} in matchExpressions, and
 * an explicit host list becomes matchFields {key: metadata.name, operator:
 * In, values: [host]}, one host per nodeSelectorTerm because Kubernetes
 * allows exactly one value in a node field selector.
 *
 * Merging follows the API's semantics: nodeSelectorTerms are ORed and the
 * requirements within a term ANDed, so every existing term gains the pool's
 * requirements. Tags alone are appended in place ("add .../matchExpressions
 * /-"); hosts multiply terms (each existing term once per host), so the
 * array is rewritten whole (a term that already names one of the hosts
 * only gains the tags). An empty term matches no node and stays as it is.
 * The structure is created at the first missing level. A requirement
 * already present is not added again, so mutating a mutated pod yields no
 * operation. More than WH_MAX_TERMS terms are not written: the tags still
 * are, and the caller warns that only the extender enforces the hosts.
 */
#include <stdlib.h>
#include <string.h>

#include "kobj/kobj_json.h"
#include "util/sp_alloc.h"
#include "util/sp_str.h"
#include "webhook/wh_internal.h"

#define F_EXPRS "matchExpressions"
#define F_FIELDS "matchFields"
#define NODE_NAME_FIELD "metadata.name"

/* The levels under spec, down to the terms array. */
static const char *const levels[] = {
    "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
    "nodeSelectorTerms",
};
#define N_LEVELS (sizeof(levels) / sizeof(levels[0]))

typedef struct aff {
    const wh_selector *sel;
    bool use_hosts;             /* false: no hosts, or too many */
    cJSON **patch;
    sp_buf path;                /* JSON Pointer of the current level */
    char where[KOBJ_PATH_MAX];  /* dotted path of it, for messages */
    sp_err *err;
} aff;

void wh_selector_free(wh_selector *s)
{
    if (!s)
        return;
    sp_strv_free(s->keys, s->n_keys);
    sp_free(s->hosts);
    memset(s, 0, sizeof(*s));
}

/* ------------------------------------------------------------------------ */
/* The pool's requirements                                                    */
/* ------------------------------------------------------------------------ */

/* {"key": key, "operator": op} */
static cJSON *requirement(const char *key, const char *op)
{
    cJSON *r = cJSON_CreateObject();

    if (r && cJSON_AddStringToObject(r, "key", key) &&
        cJSON_AddStringToObject(r, "operator", op))
        return r;
    cJSON_Delete(r);
    return NULL;
}

/* {"key": "metadata.name", "operator": "In", "values": [host]} */
static cJSON *name_requirement(const char *host)
{
    cJSON *r = requirement(NODE_NAME_FIELD, "In");
    cJSON *values = r ? cJSON_AddArrayToObject(r, "values") : NULL;
    cJSON *h = values ? cJSON_CreateString(host) : NULL;

    if (h && cJSON_AddItemToArray(values, h))
        return r;
    cJSON_Delete(h);
    cJSON_Delete(r);
    return NULL;
}

/* Append item to arr (taking it). */
static sp_rc push(cJSON *arr, cJSON *item)
{
    if (item && cJSON_AddItemToArray(arr, item))
        return SP_OK;
    cJSON_Delete(item);
    return SP_ENOMEM;
}

/* True when arr holds {key, operator: Exists}. */
static bool has_exists(const cJSON *arr, const char *key)
{
    const cJSON *r;

    cJSON_ArrayForEach(r, arr) {
        const char *k = cJSON_GetStringValue(kobj_member(r, "key"));
        const char *op = cJSON_GetStringValue(kobj_member(r, "operator"));

        if (k && op && strcmp(k, key) == 0 && strcmp(op, "Exists") == 0)
            return true;
    }
    return false;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* True when arr holds {metadata.name In [h]} with h one of the hosts. */
static bool has_host(const cJSON *arr, const wh_selector *sel)
{
    const cJSON *r;

    cJSON_ArrayForEach(r, arr) {
        const char *k = cJSON_GetStringValue(kobj_member(r, "key"));
        const char *op = cJSON_GetStringValue(kobj_member(r, "operator"));
        const cJSON *values = kobj_member(r, "values");
        const char *h = cJSON_GetArraySize(values) == 1
                            ? cJSON_GetStringValue(cJSON_GetArrayItem(values, 0))
                            : NULL;

        if (k && op && h && strcmp(k, NODE_NAME_FIELD) == 0 &&
            strcmp(op, "In") == 0 &&
            bsearch(&h, sel->hosts, sel->n_hosts, sizeof(*sel->hosts), cmp_str))
            return true;
    }
    return false;
}

/* ------------------------------------------------------------------------ */
/* Creating the structure                                                     */
/* ------------------------------------------------------------------------ */

/* Append the pool's tag requirements that exprs lacks (exprs may be NULL:
 * all of them) to arr. */
static sp_rc add_missing_tags(cJSON *arr, const cJSON *exprs,
                              const wh_selector *sel)
{
    sp_rc rc = SP_OK;

    for (size_t i = 0; i < sel->n_keys && !rc; i++)
        if (!has_exists(exprs, sel->keys[i]))
            rc = push(arr, requirement(sel->keys[i], "Exists"));
    return rc;
}

/* The array member name of t, replacing a null or absent one. */
static cJSON *array_member(cJSON *t, const char *name)
{
    cJSON *v = cJSON_GetObjectItem(t, name);

    if (cJSON_IsArray(v))
        return v;
    cJSON_DeleteItemFromObject(t, name);
    return cJSON_AddArrayToObject(t, name);
}

/* Give term t the pool's tags and, with host, the name requirement. */
static sp_rc extend_term(cJSON *t, const wh_selector *sel, const char *host)
{
    const cJSON *exprs = kobj_member(t, F_EXPRS);
    cJSON *arr;
    sp_rc rc = SP_OK;

    for (size_t i = 0; i < sel->n_keys && !rc; i++) {
        if (has_exists(exprs, sel->keys[i]))
            continue;
        arr = array_member(t, F_EXPRS);
        rc = arr ? push(arr, requirement(sel->keys[i], "Exists")) : SP_ENOMEM;
        exprs = arr;
    }
    if (!rc && host) {
        arr = array_member(t, F_FIELDS);
        rc = arr ? push(arr, name_requirement(host)) : SP_ENOMEM;
    }
    return rc;
}

/* The terms of a pod that had none: one per host, or one for the tags. */
static cJSON *new_terms(const aff *a)
{
    cJSON *terms = cJSON_CreateArray();
    size_t n = a->use_hosts ? a->sel->n_hosts : 1;
    sp_rc rc = terms ? SP_OK : SP_ENOMEM;

    for (size_t i = 0; i < n && !rc; i++) {
        cJSON *t = cJSON_CreateObject();

        rc = push(terms, t);
        if (!rc)
            rc = extend_term(t, a->sel, a->use_hosts ? a->sel->hosts[i] : NULL);
    }
    if (!rc)
        return terms;
    cJSON_Delete(terms);
    return NULL;
}

/* The value that creates levels[from] and everything under it. */
static cJSON *new_level(const aff *a, size_t from)
{
    cJSON *inner = new_terms(a);

    for (size_t l = N_LEVELS - 1; l > from && inner; l--) {
        cJSON *outer = cJSON_CreateObject();

        if (!outer || !cJSON_AddItemToObject(outer, levels[l], inner)) {
            cJSON_Delete(outer);
            cJSON_Delete(inner);
            return NULL;
        }
        inner = outer;
    }
    return inner;
}

/*
 * Create levels[l] (missing, null or an empty array) as member of parent:
 * one term per host, or one term for the tags when there are too many
 * hosts (or none). Nothing when that leaves nothing to require.
 */
static sp_rc create_level(aff *a, const cJSON *parent, size_t l,
                          bool *hosts_dropped)
{
    size_t base = a->path.len;
    cJSON *value;
    sp_rc rc;

    if (a->use_hosts && a->sel->n_hosts > WH_MAX_TERMS) {
        a->use_hosts = false;
        *hosts_dropped = true;
    }
    if (!a->use_hosts && !a->sel->n_keys)
        return SP_OK;
    rc = wh_path_seg(&a->path, wh_member(parent, levels[l]));
    if (rc)
        return rc;
    value = new_level(a, l);
    rc = value ? wh_patch_op(a->patch, wh_member_op(parent, levels[l]),
                             a->path.data, value)
               : SP_ENOMEM;
    wh_path_cut(&a->path, base);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Merging with existing terms                                                */
/* ------------------------------------------------------------------------ */

/* The term's expressions and fields; SP_EPARSE when shaped wrong. */
static sp_rc read_term(aff *a, const cJSON *t, size_t i, const cJSON **exprs,
                       const cJSON **fields)
{
    char at[KOBJ_PATH_MAX];
    sp_rc rc;

    kobj_path_index(at, sizeof(at), a->where, i);
    if (!cJSON_IsObject(t))
        return kobj_type_error(a->err, at, "an object", t);
    rc = kobj_get_array(t, at, F_EXPRS, exprs, a->err);
    if (!rc)
        rc = kobj_get_array(t, at, F_FIELDS, fields, a->err);
    return rc;
}

/* An empty term matches no node: ANDing anything to it changes nothing. */
static bool term_empty(const cJSON *exprs, const cJSON *fields)
{
    return cJSON_GetArraySize(exprs) == 0 && cJSON_GetArraySize(fields) == 0;
}

static bool term_done(const aff *a, const cJSON *exprs, const cJSON *fields)
{
    for (size_t i = 0; i < a->sel->n_keys; i++)
        if (!has_exists(exprs, a->sel->keys[i]))
            return false;
    return !a->use_hosts || has_host(fields, a->sel);
}

/*
 * Check every term's shape, and count the terms a rewrite with hosts
 * would produce (*n_out) and those that lack something (*n_todo).
 */
static sp_rc survey(aff *a, const cJSON *terms, size_t *n_out, size_t *n_todo)
{
    const cJSON *t, *exprs = NULL, *fields = NULL;
    size_t i = 0;
    sp_rc rc;

    *n_out = *n_todo = 0;
    cJSON_ArrayForEach(t, terms) {
        rc = read_term(a, t, i++, &exprs, &fields);
        if (rc)
            return rc;
        if (term_empty(exprs, fields) || term_done(a, exprs, fields)) {
            (*n_out)++;
            continue;
        }
        (*n_todo)++;
        *n_out += a->use_hosts && !has_host(fields, a->sel) ? a->sel->n_hosts : 1;
    }
    return SP_OK;
}

/* The operations that give term i (at a->path) the tags it lacks. */
static sp_rc append_to_term(aff *a, const cJSON *t, size_t i)
{
    const cJSON *exprs = NULL, *fields = NULL;
    cJSON *missing = cJSON_CreateArray(), *m;
    sp_rc rc = missing ? read_term(a, t, i, &exprs, &fields) : SP_ENOMEM;

    if (!rc && !term_empty(exprs, fields))
        rc = add_missing_tags(missing, exprs, a->sel);
    if (rc || cJSON_GetArraySize(missing) == 0)
        goto out;
    rc = wh_path_index(&a->path, i);
    if (!rc)
        rc = wh_path_seg(&a->path, wh_member(t, F_EXPRS));
    if (!rc && !exprs) {                /* absent or null: add the array */
        rc = wh_patch_op(a->patch, "add", a->path.data, missing);
        missing = NULL;
        goto out;
    }
    if (!rc)
        rc = wh_path_seg(&a->path, "-");
    while (!rc && (m = missing->child) != NULL)
        rc = wh_patch_op(a->patch, "add", a->path.data,
                         cJSON_DetachItemViaPointer(missing, m));
out:
    cJSON_Delete(missing);
    return rc;
}

/* Tags only: append what each term lacks, in place. */
static sp_rc append_tags(aff *a, const cJSON *terms)
{
    const cJSON *t;
    size_t i = 0, base = a->path.len;
    sp_rc rc = SP_OK;

    cJSON_ArrayForEach(t, terms) {
        rc = append_to_term(a, t, i++);
        wh_path_cut(&a->path, base);
        if (rc)
            break;
    }
    return rc;
}

/*
 * Append term t to out: as it is when it needs nothing; with the tags it
 * lacks when it already names one of the hosts; else once per host with
 * the tags and that host.
 */
static sp_rc rewrite_term(aff *a, const cJSON *t, size_t i, cJSON *out)
{
    const cJSON *exprs = NULL, *fields = NULL;
    sp_rc rc = read_term(a, t, i, &exprs, &fields);
    bool keep = !rc && (term_empty(exprs, fields) || term_done(a, exprs, fields));
    bool per_host = !rc && !keep && !has_host(fields, a->sel);

    for (size_t h = 0; !rc && h < (per_host ? a->sel->n_hosts : 1); h++) {
        cJSON *copy = cJSON_Duplicate(t, true);

        rc = push(out, copy);
        if (!rc && !keep)
            rc = extend_term(copy, a->sel, per_host ? a->sel->hosts[h] : NULL);
    }
    return rc;
}

/* Hosts: rewrite the array, each incomplete term once per host. */
static sp_rc rewrite_terms(aff *a, const cJSON *terms, const cJSON *parent)
{
    cJSON *out = cJSON_CreateArray();
    const cJSON *t;
    size_t i = 0, base = a->path.len;
    sp_rc rc = out ? SP_OK : SP_ENOMEM;

    for (t = terms->child; t && !rc; t = t->next)
        rc = rewrite_term(a, t, i++, out);
    if (!rc)
        rc = wh_path_seg(&a->path, wh_member(parent, levels[N_LEVELS - 1]));
    if (!rc) {
        rc = wh_patch_op(a->patch, "replace", a->path.data, out);
        out = NULL;
    }
    cJSON_Delete(out);
    wh_path_cut(&a->path, base);
    return rc;
}

/* Existing terms (a non-empty array, member of parent). */
static sp_rc merge_terms(aff *a, const cJSON *parent, const cJSON *terms,
                         bool *hosts_dropped)
{
    size_t n_out, n_todo, base = a->path.len;
    sp_rc rc;

    rc = survey(a, terms, &n_out, &n_todo);
    if (!rc && a->use_hosts && n_out > WH_MAX_TERMS) {
        a->use_hosts = false;
        *hosts_dropped = true;
        rc = survey(a, terms, &n_out, &n_todo);
    }
    if (rc || n_todo == 0)
        return rc;
    if (a->use_hosts)
        return rewrite_terms(a, terms, parent);
    rc = wh_path_seg(&a->path, wh_member(parent, levels[N_LEVELS - 1]));
    if (!rc)
        rc = append_tags(a, terms);
    wh_path_cut(&a->path, base);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The walk                                                                   */
/* ------------------------------------------------------------------------ */

static sp_rc walk(aff *a, const cJSON *spec, bool *hosts_dropped)
{
    const cJSON *cur = spec, *next = NULL, *terms = NULL;
    char at[KOBJ_PATH_MAX];
    sp_rc rc;

    for (size_t l = 0; l + 1 < N_LEVELS; l++) {
        rc = kobj_get_object(cur, a->where, levels[l], &next, a->err);
        if (rc || !next)
            return rc ? rc : create_level(a, cur, l, hosts_dropped);
        rc = wh_path_seg(&a->path, wh_member(cur, levels[l]));
        if (rc)
            return rc;
        kobj_path(at, sizeof(at), a->where, levels[l]);
        memcpy(a->where, at, sizeof(at));
        cur = next;
    }
    rc = kobj_get_array(cur, a->where, levels[N_LEVELS - 1], &terms, a->err);
    if (rc)
        return rc;
    if (cJSON_GetArraySize(terms) == 0)
        return create_level(a, cur, N_LEVELS - 1, hosts_dropped);
    kobj_path(at, sizeof(at), a->where, levels[N_LEVELS - 1]);
    memcpy(a->where, at, sizeof(at));
    return merge_terms(a, cur, terms, hosts_dropped);
}

sp_rc wh_affinity_patch(const cJSON *spec, const char *spec_path,
                        const wh_selector *sel, cJSON **patch,
                        bool *hosts_dropped, sp_err *err)
{
    aff a = { .sel = sel, .use_hosts = sel->n_hosts > 0, .patch = patch,
              .where = "spec", .err = err };
    sp_rc rc;

    *hosts_dropped = false;
    if (!sel->n_keys && !sel->n_hosts)
        return SP_OK;
    sp_buf_init(&a.path, WH_PATH_MAX);
    rc = sp_buf_puts(&a.path, spec_path);
    if (!rc)
        rc = walk(&a, spec, hosts_dropped);
    sp_buf_free(&a.path);
    if (rc == SP_ELIMIT)
        rc = sp_err_set(err, SP_EPARSE, "%s: nested too deep to patch", a.where);
    return rc;
}
