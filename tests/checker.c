/*
 * The independent placement checker (see checker.h). Deliberately naive:
 * every relation is found by comparing names in nested loops, so that the
 * code reads like DESIGN section 1 and shares nothing with the engine.
 */
#include "tests/checker.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/sp_alloc.h"

#define CHK_MSG_MAX 4096 /* bytes of one violation text */

/* ------------------------------------------------------------------------ */
/* Building an instance                                                       */
/* ------------------------------------------------------------------------ */

static void strv_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        sp_free(v[i]);
    sp_free(v);
}

/* Copy n strings into *out (NULL when n is 0); a NULL entry stays NULL. */
static sp_rc strv_copy(const char *const *src, size_t n, char ***out)
{
    char **v;

    *out = NULL;
    if (n == 0)
        return SP_OK;
    v = sp_calloc(n, sizeof(*v));
    if (!v)
        return SP_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!src[i])
            continue;
        v[i] = sp_strdup(src[i]);
        if (!v[i]) {
            strv_free(v, i);
            return SP_ENOMEM;
        }
    }
    *out = v;
    return SP_OK;
}

/* A copy of s, or NULL for NULL; *ok cleared when memory ran out. */
static char *dup_opt(const char *s, bool *ok)
{
    char *d;

    if (!s)
        return NULL;
    d = sp_strdup(s);
    if (!d)
        *ok = false;
    return d;
}

void chk_init(chk_instance *in, bool isolation_job)
{
    memset(in, 0, sizeof(*in));
    in->isolation_job = isolation_job;
}

static void node_clear(chk_node *n)
{
    sp_free(n->name);
    strv_free(n->tags, n->n_tags);
}

static void pool_clear(chk_pool *p)
{
    sp_free(p->namespace_);
    sp_free(p->name);
    sp_free(p->job);
    strv_free(p->tags, p->n_tags);
    strv_free(p->hosts, p->n_hosts);
    strv_free(p->initial, p->n_initial);
    strv_free(p->members, p->n_members);
}

static void pe_clear(chk_pe *p)
{
    sp_free(p->namespace_);
    sp_free(p->job);
    sp_free(p->pe);
    sp_free(p->pool);
    strv_free(p->colocation, p->n_colocation);
    strv_free(p->exlocation, p->n_exlocation);
    sp_free(p->node);
}

void chk_free(chk_instance *in)
{
    if (!in)
        return;
    for (size_t i = 0; i < in->n_nodes; i++)
        node_clear(&in->nodes[i]);
    for (size_t i = 0; i < in->n_pools; i++)
        pool_clear(&in->pools[i]);
    for (size_t i = 0; i < in->n_pes; i++)
        pe_clear(&in->pes[i]);
    sp_free(in->nodes);
    sp_free(in->pools);
    sp_free(in->pes);
    memset(in, 0, sizeof(*in));
}

sp_rc chk_add_node(chk_instance *in, const chk_node_in *src, size_t *idx)
{
    chk_node n;

    memset(&n, 0, sizeof(n));
    if (sp_grow(&in->nodes, &in->cap_nodes, in->n_nodes + 1, sizeof(n)))
        return SP_ENOMEM;
    n.name = sp_strdup(src->name);
    if (!n.name || strv_copy(src->tags, src->n_tags, &n.tags)) {
        node_clear(&n);
        return SP_ENOMEM;
    }
    n.n_tags = src->n_tags;
    n.alloc_cpu_milli = src->cpu_milli;
    n.alloc_memory = src->memory;
    n.alloc_pods = src->pods;
    if (idx)
        *idx = in->n_nodes;
    in->nodes[in->n_nodes++] = n;
    return SP_OK;
}

sp_rc chk_add_pool(chk_instance *in, const chk_pool_in *src, size_t *idx)
{
    chk_pool p;
    bool ok = true;

    memset(&p, 0, sizeof(p));
    if (sp_grow(&in->pools, &in->cap_pools, in->n_pools + 1, sizeof(p)))
        return SP_ENOMEM;
    p.namespace_ = dup_opt(src->namespace_, &ok);
    p.name = dup_opt(src->name, &ok);
    p.job = dup_opt(src->job, &ok);
    if (ok && strv_copy(src->tags, src->n_tags, &p.tags) == SP_OK)
        p.n_tags = src->n_tags;
    else
        ok = false;
    if (ok && strv_copy(src->hosts, src->n_hosts, &p.hosts) == SP_OK)
        p.n_hosts = src->n_hosts;
    else
        ok = false;
    if (ok && strv_copy(src->initial, src->n_initial, &p.initial) == SP_OK)
        p.n_initial = src->n_initial;
    else
        ok = false;
    if (ok && strv_copy(src->initial, src->n_initial, &p.members) == SP_OK)
        p.n_members = src->n_initial;
    else
        ok = false;
    if (!ok) {
        pool_clear(&p);
        return SP_ENOMEM;
    }
    p.size = src->size;
    p.exclusive = src->exclusive;
    if (idx)
        *idx = in->n_pools;
    in->pools[in->n_pools++] = p;
    return SP_OK;
}

sp_rc chk_add_pe(chk_instance *in, const chk_pe_in *src, size_t *idx)
{
    chk_pe p;
    bool ok = true;

    memset(&p, 0, sizeof(p));
    if (sp_grow(&in->pes, &in->cap_pes, in->n_pes + 1, sizeof(p)))
        return SP_ENOMEM;
    p.namespace_ = dup_opt(src->namespace_, &ok);
    p.job = dup_opt(src->job, &ok);
    p.pe = dup_opt(src->pe, &ok);
    p.pool = dup_opt(src->pool, &ok);
    p.node = dup_opt(src->node, &ok);
    if (ok && strv_copy(src->colocation, src->n_colocation, &p.colocation) == SP_OK)
        p.n_colocation = src->n_colocation;
    else
        ok = false;
    if (ok && strv_copy(src->exlocation, src->n_exlocation, &p.exlocation) == SP_OK)
        p.n_exlocation = src->n_exlocation;
    else
        ok = false;
    if (!ok) {
        pe_clear(&p);
        return SP_ENOMEM;
    }
    p.pool_index = src->pool_index;
    p.isolation = src->isolation;
    p.cpu_milli = src->cpu_milli;
    p.memory = src->memory;
    if (idx)
        *idx = in->n_pes;
    in->pes[in->n_pes++] = p;
    return SP_OK;
}

void chk_node_use(chk_instance *in, size_t node, int64_t cpu_milli,
                  int64_t memory, int64_t pods)
{
    in->nodes[node].other_cpu_milli += cpu_milli;
    in->nodes[node].other_memory += memory;
    in->nodes[node].other_pods += pods;
}

sp_rc chk_set_node(chk_instance *in, size_t pe, const char *node)
{
    char *copy = NULL;

    if (node) {
        copy = sp_strdup(node);
        if (!copy)
            return SP_ENOMEM;
    }
    sp_free(in->pes[pe].node);
    in->pes[pe].node = copy;
    return SP_OK;
}

sp_rc chk_set_members(chk_instance *in, size_t pool, const char *const *names,
                      size_t n)
{
    char **v;

    if (strv_copy(names, n, &v))
        return SP_ENOMEM;
    strv_free(in->pools[pool].members, in->pools[pool].n_members);
    in->pools[pool].members = v;
    in->pools[pool].n_members = n;
    return SP_OK;
}

/* ------------------------------------------------------------------------ */
/* Lookups                                                                    */
/* ------------------------------------------------------------------------ */

static bool streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static bool in_list(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (streq(v[i], s))
            return true;
    return false;
}

/* The first id that both lists hold, or NULL. */
static const char *common_id(char *const *a, size_t na, char *const *b, size_t nb)
{
    for (size_t i = 0; i < na; i++)
        if (in_list(b, nb, a[i]))
            return a[i];
    return NULL;
}

long chk_find_pe(const chk_instance *in, const char *ns, const char *job,
                 const char *pe)
{
    for (size_t i = 0; i < in->n_pes; i++)
        if (streq(in->pes[i].namespace_, ns) && streq(in->pes[i].job, job) &&
            streq(in->pes[i].pe, pe))
            return (long)i;
    return -1;
}

long chk_find_node(const chk_instance *in, const char *name)
{
    for (size_t i = 0; i < in->n_nodes; i++)
        if (streq(in->nodes[i].name, name))
            return (long)i;
    return -1;
}

long chk_find_pool(const chk_instance *in, const char *ns, const char *name)
{
    for (size_t i = 0; i < in->n_pools; i++)
        if (streq(in->pools[i].namespace_, ns) && streq(in->pools[i].name, name))
            return (long)i;
    return -1;
}

static bool same_job(const chk_pe *a, const chk_pe *b)
{
    return streq(a->namespace_, b->namespace_) && streq(a->job, b->job);
}

/* ------------------------------------------------------------------------ */
/* Reporting                                                                  */
/* ------------------------------------------------------------------------ */

void chk_report_free(chk_report *rep)
{
    if (!rep)
        return;
    strv_free(rep->v, rep->n);
    memset(rep, 0, sizeof(*rep));
}

static sp_rc report(chk_report *rep, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static sp_rc report(chk_report *rep, const char *fmt, ...)
{
    char msg[CHK_MSG_MAX];
    va_list ap;
    int n;
    char *copy;

    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        return SP_EINVAL;
    /* A longer text is truncated: it still says what is wrong. */
    if (sp_grow(&rep->v, &rep->cap, rep->n + 1, sizeof(*rep->v)))
        return SP_ENOMEM;
    copy = sp_strdup(msg);
    if (!copy)
        return SP_ENOMEM;
    rep->v[rep->n++] = copy;
    return SP_OK;
}

/* "ns/job/pe" for messages. */
typedef struct pe_name {
    char s[512];
} pe_name;

static pe_name name_of(const chk_pe *p)
{
    pe_name n;

    if (snprintf(n.s, sizeof(n.s), "%s/%s/%s", p->namespace_, p->job, p->pe) < 0)
        n.s[0] = '\0';
    return n;
}

/* ------------------------------------------------------------------------ */
/* Pools                                                                      */
/* ------------------------------------------------------------------------ */

/* Why a pool is invalid (DESIGN section 3), or NULL when it is valid. */
static const char *pool_invalid(const chk_pool *p)
{
    if (p->n_tags == 0 && p->n_hosts == 0)
        return "neither tags nor hosts";
    if (p->size < 0)
        return "negative size";
    if (p->size > 0 && p->n_hosts > 0 && (size_t)p->size > p->n_hosts)
        return "size larger than its host list";
    if (p->exclusive && !p->job)
        return "exclusive without job";
    if (p->exclusive && p->size == 0)
        return "exclusive without size";
    return NULL;
}

/* Report how node n fails pool p's tags and hosts; prefix introduces it. */
static sp_rc check_matches(chk_report *rep, const chk_pool *p, const chk_node *n,
                           const char *prefix)
{
    sp_rc rc;

    for (size_t t = 0; t < p->n_tags; t++) {
        if (!in_list(n->tags, n->n_tags, p->tags[t])) {
            rc = report(rep, "%s node %s, which lacks tag %s of pool %s/%s",
                        prefix, n->name, p->tags[t], p->namespace_, p->name);
            if (rc)
                return rc;
        }
    }
    if (p->n_hosts > 0 && !in_list(p->hosts, p->n_hosts, n->name))
        return report(rep, "%s node %s, which is not among the hosts of pool %s/%s",
                      prefix, n->name, p->namespace_, p->name);
    return SP_OK;
}

/* The pool rules for one placed PE. */
static sp_rc check_pe_pool(const chk_instance *in, const chk_pe *pe,
                           chk_report *rep)
{
    pe_name who = name_of(pe);
    char prefix[1024];
    const chk_pool *p;
    const char *bad;
    long pi, ni;

    if (!pe->pool) {
        if (pe->pool_index != CHK_NONE)
            return report(rep, "pool: PE %s on node %s has index %d but no pool",
                          who.s, pe->node, (int)pe->pool_index);
        return SP_OK;
    }
    pi = chk_find_pool(in, pe->namespace_, pe->pool);
    if (pi < 0)
        return report(rep, "pool: PE %s is on node %s but its pool %s/%s does not exist",
                      who.s, pe->node, pe->namespace_, pe->pool);
    p = &in->pools[pi];
    if ((bad = pool_invalid(p)) != NULL)
        return report(rep, "pool: PE %s is on node %s in invalid pool %s/%s (%s)",
                      who.s, pe->node, p->namespace_, p->name, bad);
    if (p->job && !streq(p->job, pe->job))
        return report(rep, "pool: PE %s of job %s is on node %s in pool %s/%s of job %s",
                      who.s, pe->job, pe->node, p->namespace_, p->name, p->job);
    ni = chk_find_node(in, pe->node);
    if (ni >= 0) {
        sp_rc rc;

        if (snprintf(prefix, sizeof(prefix), "pool: PE %s is on", who.s) < 0)
            return SP_EINVAL;
        rc = check_matches(rep, p, &in->nodes[ni], prefix);
        if (rc)
            return rc;
    }
    if (p->size > 0 && !in_list(p->members, p->n_members, pe->node)) {
        sp_rc rc = report(rep, "pool: PE %s is on node %s, which is not a member of pool %s/%s",
                          who.s, pe->node, p->namespace_, p->name);
        if (rc)
            return rc;
    }
    if (pe->pool_index == CHK_NONE)
        return SP_OK;
    if (p->size == 0)
        return report(rep, "pool: PE %s on node %s has index %d in unsized pool %s/%s",
                      who.s, pe->node, (int)pe->pool_index, p->namespace_, p->name);
    if (pe->pool_index < 0 || pe->pool_index >= p->size)
        return report(rep, "pool: PE %s on node %s has index %d outside pool %s/%s of size %lld",
                      who.s, pe->node, (int)pe->pool_index, p->namespace_, p->name,
                      (long long)p->size);
    if ((size_t)pe->pool_index >= p->n_members || !p->members[pe->pool_index])
        return report(rep, "pool: PE %s is on node %s but pool %s/%s has no member %d",
                      who.s, pe->node, p->namespace_, p->name, (int)pe->pool_index);
    if (!streq(p->members[pe->pool_index], pe->node))
        return report(rep, "pool: PE %s is on node %s but %s/%s[%d] is %s",
                      who.s, pe->node, p->namespace_, p->name, (int)pe->pool_index,
                      p->members[pe->pool_index]);
    return SP_OK;
}

/* The final membership of a sized pool: size, duplicates, stability, match. */
static sp_rc check_membership(const chk_instance *in, const chk_pool *p,
                              chk_report *rep)
{
    char prefix[1024];
    sp_rc rc = SP_OK;

    if (p->size == 0)
        return SP_OK;
    if ((int64_t)p->n_members > p->size) {
        rc = report(rep, "membership: pool %s/%s has %zu members, more than its size %lld",
                    p->namespace_, p->name, p->n_members, (long long)p->size);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < p->n_members; i++) {
        for (size_t j = 0; j < i; j++) {
            if (streq(p->members[i], p->members[j])) {
                rc = report(rep, "membership: pool %s/%s lists node %s twice (members %zu and %zu)",
                            p->namespace_, p->name, p->members[i], j, i);
                if (rc)
                    return rc;
            }
        }
    }
    for (size_t i = 0; i < p->n_initial; i++) {
        const char *now = i < p->n_members && p->members[i] ? p->members[i] : "(none)";

        if (!p->initial[i])
            continue; /* a slot that was empty may be filled since */
        if (!streq(p->initial[i], now)) {
            rc = report(rep, "membership: pool %s/%s member %zu changed from %s to %s",
                        p->namespace_, p->name, i, p->initial[i], now);
            if (rc)
                return rc;
        }
    }
    if (snprintf(prefix, sizeof(prefix), "membership: pool %s/%s has member",
                 p->namespace_, p->name) < 0)
        return SP_EINVAL;
    for (size_t i = 0; i < p->n_members; i++) {
        long ni;

        if (!p->members[i])
            continue;
        ni = chk_find_node(in, p->members[i]);
        if (ni < 0)
            rc = report(rep, "%s %s, which is not a known node", prefix, p->members[i]);
        else
            rc = check_matches(rep, p, &in->nodes[ni], prefix);
        if (rc)
            return rc;
    }
    return SP_OK;
}

/* ------------------------------------------------------------------------ */
/* Relations between PEs                                                      */
/* ------------------------------------------------------------------------ */

static size_t uf_find(size_t *parent, size_t i)
{
    while (parent[i] != i) {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    return i;
}

/* Colocation, transitively: the placed PEs of one group share one node. */
static sp_rc check_colocation(const chk_instance *in, chk_report *rep)
{
    size_t *parent;
    sp_rc rc = SP_OK;

    if (in->n_pes == 0)
        return SP_OK;
    parent = sp_calloc(in->n_pes, sizeof(*parent));
    if (!parent)
        return SP_ENOMEM;
    for (size_t i = 0; i < in->n_pes; i++)
        parent[i] = i;
    for (size_t i = 0; i < in->n_pes; i++) {
        const chk_pe *a = &in->pes[i];

        for (size_t j = 0; j < i; j++) {
            const chk_pe *b = &in->pes[j];

            if (same_job(a, b) && common_id(a->colocation, a->n_colocation,
                                            b->colocation, b->n_colocation))
                parent[uf_find(parent, i)] = uf_find(parent, j);
        }
    }
    for (size_t i = 0; i < in->n_pes && !rc; i++) {
        const chk_pe *a = &in->pes[i];
        const chk_pe *anchor = NULL;

        if (!a->node)
            continue;
        /* The first placed PE of the group is the anchor. */
        for (size_t j = 0; j < i; j++) {
            if (in->pes[j].node && uf_find(parent, j) == uf_find(parent, i)) {
                anchor = &in->pes[j];
                break;
            }
        }
        if (anchor && !streq(anchor->node, a->node)) {
            pe_name an = name_of(anchor), bn = name_of(a);
            const char *id = common_id(anchor->colocation, anchor->n_colocation,
                                       a->colocation, a->n_colocation);

            if (id)
                rc = report(rep, "colocation: PEs %s (node %s) and %s (node %s) share "
                            "colocation id %s but are on different nodes",
                            an.s, anchor->node, bn.s, a->node, id);
            else
                rc = report(rep, "colocation: PEs %s (node %s) and %s (node %s) are "
                            "colocated through other PEs but are on different nodes",
                            an.s, anchor->node, bn.s, a->node);
        }
    }
    sp_free(parent);
    return rc;
}

static sp_rc check_exlocation(const chk_instance *in, chk_report *rep)
{
    for (size_t i = 0; i < in->n_pes; i++) {
        const chk_pe *a = &in->pes[i];

        if (!a->node || a->n_exlocation == 0)
            continue;
        for (size_t j = i + 1; j < in->n_pes; j++) {
            const chk_pe *b = &in->pes[j];
            const char *id;

            if (!b->node || !same_job(a, b) || !streq(a->node, b->node))
                continue;
            id = common_id(a->exlocation, a->n_exlocation, b->exlocation,
                           b->n_exlocation);
            if (id) {
                pe_name an = name_of(a), bn = name_of(b);
                sp_rc rc = report(rep, "exlocation: PEs %s and %s share exlocation id %s "
                                  "but are both on node %s", an.s, bn.s, id, a->node);
                if (rc)
                    return rc;
            }
        }
    }
    return SP_OK;
}

static sp_rc check_isolation(const chk_instance *in, chk_report *rep)
{
    for (size_t i = 0; i < in->n_pes; i++) {
        const chk_pe *a = &in->pes[i];

        if (!a->node || !a->isolation)
            continue;
        for (size_t j = 0; j < in->n_pes; j++) {
            const chk_pe *b = &in->pes[j];

            if (j == i || !b->node || !streq(a->node, b->node))
                continue;
            if (in->isolation_job && !same_job(a, b))
                continue;
            pe_name an = name_of(a), bn = name_of(b);
            sp_rc rc = report(rep, "isolation: PE %s is isolated on node %s but PE %s "
                              "is there too", an.s, a->node, bn.s);
            if (rc)
                return rc;
        }
    }
    return SP_OK;
}

/* An exclusive pool in force: sized, with a job (otherwise it is invalid). */
static bool is_exclusive(const chk_pool *p)
{
    return p->exclusive && p->job && p->size > 0;
}

static sp_rc check_exclusive(const chk_instance *in, chk_report *rep)
{
    /* An empty slot (NULL member) matches no PE and no other pool. */
    for (size_t pi = 0; pi < in->n_pools; pi++) {
        const chk_pool *p = &in->pools[pi];

        if (!is_exclusive(p))
            continue;
        for (size_t m = 0; m < p->n_members; m++) {
            const char *node = p->members[m];

            if (!node)
                continue;
            for (size_t qi = 0; qi < pi; qi++) {
                const chk_pool *q = &in->pools[qi];

                if (is_exclusive(q) && in_list(q->members, q->n_members, node)) {
                    sp_rc rc = report(rep, "exclusive: node %s is a member of exclusive "
                                      "pools %s/%s and %s/%s", node, q->namespace_,
                                      q->name, p->namespace_, p->name);
                    if (rc)
                        return rc;
                }
            }
            for (size_t i = 0; i < in->n_pes; i++) {
                const chk_pe *pe = &in->pes[i];

                if (!streq(pe->node, node))
                    continue;
                if (streq(pe->namespace_, p->namespace_) && streq(pe->job, p->job))
                    continue;
                pe_name who = name_of(pe);
                sp_rc rc = report(rep, "exclusive: node %s is a member of exclusive pool "
                                  "%s/%s of job %s but runs PE %s", node, p->namespace_,
                                  p->name, p->job, who.s);
                if (rc)
                    return rc;
            }
        }
    }
    return SP_OK;
}

static sp_rc check_capacity(const chk_instance *in, chk_report *rep)
{
    for (size_t ni = 0; ni < in->n_nodes; ni++) {
        const chk_node *n = &in->nodes[ni];
        int64_t cpu = n->other_cpu_milli, mem = n->other_memory, pods = n->other_pods;
        sp_rc rc = SP_OK;

        for (size_t i = 0; i < in->n_pes; i++) {
            if (streq(in->pes[i].node, n->name)) {
                cpu += in->pes[i].cpu_milli;
                mem += in->pes[i].memory;
                pods++;
            }
        }
        if (cpu > n->alloc_cpu_milli)
            rc = report(rep, "capacity: node %s needs cpu %lldm but has %lldm allocatable",
                        n->name, (long long)cpu, (long long)n->alloc_cpu_milli);
        if (!rc && mem > n->alloc_memory)
            rc = report(rep, "capacity: node %s needs memory %lld but has %lld allocatable",
                        n->name, (long long)mem, (long long)n->alloc_memory);
        if (!rc && pods > n->alloc_pods)
            rc = report(rep, "capacity: node %s needs %lld pods but has %lld allocatable",
                        n->name, (long long)pods, (long long)n->alloc_pods);
        if (rc)
            return rc;
    }
    return SP_OK;
}

/* ------------------------------------------------------------------------ */
/* The check                                                                  */
/* ------------------------------------------------------------------------ */

sp_rc chk_check(const chk_instance *in, chk_report *rep)
{
    sp_rc rc = SP_OK;

    memset(rep, 0, sizeof(*rep));
    for (size_t i = 0; i < in->n_pes && !rc; i++) {
        const chk_pe *pe = &in->pes[i];

        if (!pe->node)
            continue;
        if (chk_find_node(in, pe->node) < 0) {
            pe_name who = name_of(pe);

            rc = report(rep, "node: PE %s is on unknown node %s", who.s, pe->node);
            if (rc)
                break;
        }
        rc = check_pe_pool(in, pe, rep);
    }
    for (size_t i = 0; i < in->n_pools && !rc; i++)
        rc = check_membership(in, &in->pools[i], rep);
    if (!rc)
        rc = check_colocation(in, rep);
    if (!rc)
        rc = check_exlocation(in, rep);
    if (!rc)
        rc = check_isolation(in, rep);
    if (!rc)
        rc = check_exclusive(in, rep);
    if (!rc)
        rc = check_capacity(in, rep);
    return rc;
}
