/*
 * What a PE asks for and what a HostPool is, parsed and validated from the
 * strings Kubernetes hands us (DESIGN sections 2 and 3). Every error names the
 * label, annotation or field, the value, and the fix, because these messages
 * are what an admission denial or an unplaceable PE shows its owner.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "placement/place_internal.h"
#include "util/sp_alloc.h"

#define MAX_LABEL_VALUE 63
#define MAX_SUBDOMAIN 253
#define MAX_PE_COUNT 1000000

static const char id_rule[] =
    "use 1-63 letters, digits, '-', '_' or '.', starting and ending with a "
    "letter or digit";

void place_policy_default(place_policy *p)
{
    p->tag_prefix = PLACE_DEFAULT_TAG_PREFIX;
    p->default_pool = NULL;
    p->isolation_scope = PLACE_ISOLATION_CLUSTER;
    p->balancing = PLACE_BALANCE_INSTANCE;
    p->gang_wait = false;
}

/* ------------------------------------------------------------------------ */
/* Lexical rules                                                              */
/* ------------------------------------------------------------------------ */

/* A label value or label-key name part: [A-Za-z0-9._-], alnum at both ends. */
static bool label_name_valid(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n == 0 || n > max)
        return false;
    if (!isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '-' && c != '_' && c != '.')
            return false;
    }
    return true;
}

bool place_id_valid(const char *s)
{
    return label_name_valid(s, MAX_LABEL_VALUE);
}

/* An RFC 1123 subdomain of length n: lowercase alnum, '-', '.'. */
static bool subdomain_valid_n(const char *s, size_t n)
{
    if (n == 0 || n > MAX_SUBDOMAIN)
        return false;
    if (!isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(islower(c) || isdigit(c) || c == '-' || c == '.'))
            return false;
    }
    return true;
}

static bool subdomain_valid(const char *s)
{
    return subdomain_valid_n(s, strlen(s));
}

/* The label key prefix + tag is a valid qualified name. */
static bool tag_valid(const char *prefix, const char *tag)
{
    const char *slash = strrchr(prefix, '/');
    size_t prefix_len = slash ? (size_t)(slash - prefix) : 0;

    if (strchr(tag, '/'))
        return false;
    if (slash && slash[1] != '\0') {
        /* the prefix carries part of the name: "tags/x-" + tag */
        size_t n = strlen(slash + 1) + strlen(tag);
        char name[MAX_LABEL_VALUE + 1];
        if (n > MAX_LABEL_VALUE)
            return false;
        if (snprintf(name, sizeof(name), "%s%s", slash + 1, tag) < 0)
            return false;
        return label_name_valid(name, MAX_LABEL_VALUE) &&
               subdomain_valid_n(prefix, prefix_len);
    }
    if (slash && !subdomain_valid_n(prefix, prefix_len))
        return false;
    return label_name_valid(tag, MAX_LABEL_VALUE);
}

/* ------------------------------------------------------------------------ */
/* PE constraints                                                             */
/* ------------------------------------------------------------------------ */

const char *pl_kv_find(const place_kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (kv[i].key && strcmp(kv[i].key, key) == 0)
            return kv[i].value ? kv[i].value : "";
    return NULL;
}

bool place_is_pe(const place_kv *labels, size_t n_labels)
{
    return pl_kv_find(labels, n_labels, PLACE_LABEL_JOB) != NULL;
}

void place_pe_spec_free(place_pe_spec *spec)
{
    if (!spec)
        return;
    sp_free(spec->job);
    sp_free(spec->pe);
    sp_free(spec->pool);
    sp_strv_free(spec->colocation, spec->n_colocation);
    sp_strv_free(spec->exlocation, spec->n_exlocation);
    memset(spec, 0, sizeof(*spec));
    spec->pool_index = PLACE_NONE;
}

static sp_rc parse_label(const place_kv *labels, size_t n, const char *key,
                         char **out, sp_err *err)
{
    const char *v = pl_kv_find(labels, n, key);

    if (!v)
        return sp_err_set(err, SP_EINVAL,
                          "label %s is missing: every PE pod carries %s and %s",
                          key, PLACE_LABEL_JOB, PLACE_LABEL_PE);
    if (!label_name_valid(v, MAX_LABEL_VALUE))
        return sp_err_set(err, SP_EINVAL, "label %s: \"%s\" is malformed: %s",
                          key, v, id_rule);
    *out = sp_strdup(v);
    return *out ? SP_OK : sp_err_set(err, SP_ENOMEM, "out of memory");
}

static sp_rc parse_bool(const char *key, const char *v, bool *out, sp_err *err)
{
    if (sp_strcaseeq(v, "true"))
        *out = true;
    else if (sp_strcaseeq(v, "false"))
        *out = false;
    else
        return sp_err_set(err, SP_EINVAL,
                          "annotation %s: \"%s\" is not a boolean: use \"true\" or \"false\"",
                          key, v);
    return SP_OK;
}

static sp_rc parse_ids(const char *key, const char *v, char ***ids, size_t *n,
                       sp_err *err)
{
    size_t bad = 0;
    sp_rc rc = sp_split_csv(v, ids, n, &bad);

    if (rc == SP_ENOMEM)
        return sp_err_set(err, rc, "out of memory");
    if (rc)
        return sp_err_set(err, SP_EINVAL,
                          "annotation %s: \"%s\" has an empty id at position %zu: "
                          "use comma-separated ids such as \"a,b\"",
                          key, v, bad + 1);
    if (*n > PLACE_MAX_IDS)
        return sp_err_set(err, SP_EINVAL,
                          "annotation %s: %zu ids is more than the %d allowed",
                          key, *n, PLACE_MAX_IDS);
    for (size_t i = 0; i < *n; i++)
        if (!place_id_valid((*ids)[i]))
            return sp_err_set(err, SP_EINVAL,
                              "annotation %s: id \"%s\" is malformed: %s",
                              key, (*ids)[i], id_rule);
    return SP_OK;
}

static sp_rc parse_pool(const place_kv *ann, size_t n, place_pe_spec *s,
                        sp_err *err)
{
    const char *pool = pl_kv_find(ann, n, PLACE_ANN_POOL);
    const char *index = pl_kv_find(ann, n, PLACE_ANN_POOL_INDEX);
    int64_t i;
    sp_rc rc;

    if (pool) {
        if (!subdomain_valid(pool))
            return sp_err_set(err, SP_EINVAL,
                              "annotation %s: \"%s\" is not a valid HostPool name: "
                              "use lowercase letters, digits, '-' and '.', starting "
                              "and ending with a letter or digit",
                              PLACE_ANN_POOL, pool);
        s->pool = sp_strdup(pool);
        if (!s->pool)
            return sp_err_set(err, SP_ENOMEM, "out of memory");
    }
    if (!index)
        return SP_OK;
    if (!pool)
        return sp_err_set(err, SP_EINVAL,
                          "annotation %s needs %s: name the sized HostPool to index",
                          PLACE_ANN_POOL_INDEX, PLACE_ANN_POOL);
    rc = sp_parse_int64(index, INT64_MIN, INT64_MAX, &i);
    if (rc == SP_EPARSE)
        return sp_err_set(err, SP_EINVAL,
                          "annotation %s: \"%s\" is not an integer: use 0 <= index "
                          "< the pool's size",
                          PLACE_ANN_POOL_INDEX, index);
    if (rc || i < 0 || i >= PLACE_MAX_POOL_SIZE)
        return sp_err_set(err, SP_EINVAL,
                          "annotation %s: %s is out of range: use 0 <= index < the "
                          "pool's size",
                          PLACE_ANN_POOL_INDEX, index);
    s->pool_index = (int32_t)i;
    return SP_OK;
}

static sp_rc parse_count(const char *v, int32_t *out, sp_err *err)
{
    int64_t c;

    if (sp_parse_int64(v, 1, MAX_PE_COUNT, &c))
        return sp_err_set(err, SP_EINVAL,
                          "annotation %s: \"%s\" is not a PE count: use an integer "
                          "from 1 to %d",
                          PLACE_ANN_PE_COUNT, v, MAX_PE_COUNT);
    *out = (int32_t)c;
    return SP_OK;
}

static sp_rc parse_annotations(const place_kv *ann, size_t n, place_pe_spec *s,
                               sp_err *err)
{
    const char *v;
    sp_rc rc = parse_pool(ann, n, s, err);

    if (!rc && (v = pl_kv_find(ann, n, PLACE_ANN_COLOCATION)))
        rc = parse_ids(PLACE_ANN_COLOCATION, v, &s->colocation, &s->n_colocation, err);
    if (!rc && (v = pl_kv_find(ann, n, PLACE_ANN_EXLOCATION)))
        rc = parse_ids(PLACE_ANN_EXLOCATION, v, &s->exlocation, &s->n_exlocation, err);
    if (!rc && (v = pl_kv_find(ann, n, PLACE_ANN_ISOLATION)))
        rc = parse_bool(PLACE_ANN_ISOLATION, v, &s->isolation, err);
    if (!rc && (v = pl_kv_find(ann, n, PLACE_ANN_PE_COUNT)))
        rc = parse_count(v, &s->pe_count, err);
    if (!rc && (v = pl_kv_find(ann, n, PLACE_ANN_RELOCATABLE)))
        rc = parse_bool(PLACE_ANN_RELOCATABLE, v, &s->relocatable, err);
    if (!rc && s->isolation && s->n_colocation)
        rc = sp_err_set(err, SP_EINVAL,
                        "annotations %s and %s conflict: an isolated PE runs alone "
                        "on its node, so it cannot be colocated; remove one of them",
                        PLACE_ANN_ISOLATION, PLACE_ANN_COLOCATION);
    return rc;
}

sp_rc place_pe_spec_parse(const place_kv *labels, size_t n_labels,
                          const place_kv *annotations, size_t n_annotations,
                          place_pe_spec *out, sp_err *err)
{
    place_pe_spec s = { .pool_index = PLACE_NONE, .relocatable = true };
    sp_rc rc;

    memset(out, 0, sizeof(*out));
    out->pool_index = PLACE_NONE;
    rc = parse_label(labels, n_labels, PLACE_LABEL_JOB, &s.job, err);
    if (!rc)
        rc = parse_label(labels, n_labels, PLACE_LABEL_PE, &s.pe, err);
    if (!rc)
        rc = parse_annotations(annotations, n_annotations, &s, err);
    if (rc) {
        place_pe_spec_free(&s);
        return rc;
    }
    *out = s;
    return SP_OK;
}

/* ------------------------------------------------------------------------ */
/* HostPools                                                                  */
/* ------------------------------------------------------------------------ */

/* No name twice; "" (a free slot of status.hosts) may repeat. */
static sp_rc check_list_unique(const char *field, const char *const *v, size_t n,
                               sp_err *err)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i && *v[i]; j++)
            if (strcmp(v[i], v[j]) == 0)
                return sp_err_set(err, SP_EINVAL,
                                  "%s[%zu]: \"%s\" is listed twice: list each once",
                                  field, i, v[i]);
    return SP_OK;
}

static sp_rc validate_pool_lists(const place_pool_spec *p, const char *prefix,
                                 sp_err *err)
{
    sp_rc rc;

    for (size_t i = 0; i < p->n_tags; i++)
        if (!p->tags[i] || !tag_valid(prefix, p->tags[i]))
            return sp_err_set(err, SP_EINVAL,
                              "spec.tags[%zu]: \"%s\" is not a valid tag: the node "
                              "label \"%s%s\" would be invalid; %s",
                              i, p->tags[i] ? p->tags[i] : "", prefix,
                              p->tags[i] ? p->tags[i] : "", id_rule);
    for (size_t i = 0; i < p->n_hosts; i++)
        if (!p->hosts[i] || !subdomain_valid(p->hosts[i]))
            return sp_err_set(err, SP_EINVAL,
                              "spec.hosts[%zu]: \"%s\" is not a valid node name: use "
                              "lowercase letters, digits, '-' and '.'",
                              i, p->hosts[i] ? p->hosts[i] : "");
    rc = check_list_unique("spec.tags", p->tags, p->n_tags, err);
    if (!rc)
        rc = check_list_unique("spec.hosts", p->hosts, p->n_hosts, err);
    if (!rc)
        rc = check_list_unique("status.hosts", p->members, p->n_members, err);
    return rc;
}

static sp_rc validate_pool_size(const place_pool_spec *p, sp_err *err)
{
    if (p->has_size && (p->size < 1 || p->size > PLACE_MAX_POOL_SIZE))
        return sp_err_set(err, SP_EINVAL,
                          "spec.size: %lld is invalid: a sized pool needs 1 <= size "
                          "<= %d (omit size for a pool of every matching node)",
                          (long long)p->size, PLACE_MAX_POOL_SIZE);
    if (p->has_size && p->n_hosts && p->size > (int64_t)p->n_hosts)
        return sp_err_set(err, SP_EINVAL,
                          "spec.size: %lld is larger than the %zu hosts in spec.hosts: "
                          "lower spec.size or add hosts",
                          (long long)p->size, p->n_hosts);
    if (p->has_size && (int64_t)p->n_members > p->size)
        return sp_err_set(err, SP_EINVAL,
                          "status.hosts: %zu members listed but spec.size is %lld: "
                          "raise spec.size or let streams-placer rebuild status",
                          p->n_members, (long long)p->size);
    return SP_OK;
}

sp_rc place_pool_validate(const place_pool_spec *p, const char *tag_prefix,
                          sp_err *err)
{
    const char *prefix = tag_prefix ? tag_prefix : PLACE_DEFAULT_TAG_PREFIX;
    sp_rc rc;

    if (p->n_tags == 0 && p->n_hosts == 0)
        return sp_err_set(err, SP_EINVAL,
                          "spec: a HostPool needs spec.tags or spec.hosts: name node "
                          "tags (labels %s<tag>) or list node names",
                          prefix);
    if (p->job && !label_name_valid(p->job, MAX_LABEL_VALUE))
        return sp_err_set(err, SP_EINVAL, "spec.job: \"%s\" is not a valid job name: %s",
                          p->job, id_rule);
    if (p->exclusive && !p->job)
        return sp_err_set(err, SP_EINVAL,
                          "spec.exclusive: an exclusive pool needs spec.job: name the "
                          "job that owns it (a pool without a job is shared)");
    if (p->exclusive && !p->has_size)
        return sp_err_set(err, SP_EINVAL,
                          "spec.exclusive: an exclusive pool needs spec.size: say how "
                          "many nodes it reserves");
    rc = validate_pool_size(p, err);
    if (!rc)
        rc = validate_pool_lists(p, prefix, err);
    return rc;
}
