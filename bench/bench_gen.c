/*
 * The benchmark cluster generator: see bench_gen.h. Proportions (per node or
 * per PE) are chosen to look like a production streaming cluster: most PEs
 * in a shared pool chosen by tag, a third of the jobs with a small sized pool
 * of their own (a few exclusive), colocation pairs, exlocation groups, rare
 * isolation, and enough capacity that the whole cluster is placeable.
 */
#include "bench/bench_gen.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/sp_alloc.h"

#define MI ((int64_t)1 << 20)
#define GI ((int64_t)1 << 30)

static const char *const tag_names[BG_NTAGS] = { "compute", "ssd", "highmem",
                                                  "ingest",  "gpu", "edge" };
enum { T_COMPUTE, T_SSD, T_HIGHMEM, T_INGEST, T_GPU, T_EDGE };

static const char *const ns_names[BG_NNS] = { "streams-a", "streams-b", "streams-c" };
static const char *const zones[3] = { "eu-west-1a", "eu-west-1b", "eu-west-1c" };

/* Instance types: name, cpu cores, memory GiB. */
static const struct {
    const char *name;
    int cpus;
    int mem_gi;
} types[] = {
    { "m5.4xlarge", 16, 64 },
    { "m5.8xlarge", 32, 128 },
    { "r5.8xlarge", 32, 256 },
    { "m5.16xlarge", 64, 256 },
};
#define N_TYPES (sizeof(types) / sizeof(types[0]))

static const char *const job_words[] = { "trades", "ticks", "fraud", "clicks",
                                         "sensors", "logs", "orders", "quotes" };

static const struct {
    const char *name, *ns;
    int64_t cpu, mem;
} other_kinds[] = {
    { "kube-proxy", "kube-system", 100, 128 * MI },
    { "node-exporter", "monitoring", 50, 64 * MI },
    { "fluent-bit", "logging", 100, 200 * MI },
};
#define N_OTHER_KINDS (sizeof(other_kinds) / sizeof(other_kinds[0]))

const char *bg_tag_name(int i)
{
    return i >= 0 && i < BG_NTAGS ? tag_names[i] : "";
}

const char *bg_ns_name(int i)
{
    return i >= 0 && i < BG_NNS ? ns_names[i] : "";
}

/* ------------------------------------------------------------------------ */
/* Randomness                                                                 */
/* ------------------------------------------------------------------------ */

static uint64_t next(bg_cluster *c)
{
    uint64_t z = (c->rng += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int rnd(bg_cluster *c, int n)
{
    return n > 0 ? (int)(next(c) % (uint64_t)n) : 0;
}

static bool chance(bg_cluster *c, int permille)
{
    return rnd(c, 1000) < permille;
}

/* Pick an index by weights (they need not sum to anything). */
static int pick(bg_cluster *c, const int *w, int n)
{
    int total = 0, r;

    for (int i = 0; i < n; i++)
        total += w[i];
    r = rnd(c, total);
    for (int i = 0; i < n; i++) {
        if (r < w[i])
            return i;
        r -= w[i];
    }
    return n - 1;
}

static void uuid(bg_cluster *c, char *buf, size_t len)
{
    uint64_t a = next(c), b = next(c);

    snprintf(buf, len, "%08" PRIx64 "-%04" PRIx64 "-4%03" PRIx64 "-%04" PRIx64 "-%012" PRIx64,
             a >> 32, (a >> 16) & 0xffff, a & 0xfff, 0x8000 | (b >> 48 & 0x3fff),
             b & (uint64_t)0xffffffffffff);
}

/* ------------------------------------------------------------------------ */
/* Generation                                                                 */
/* ------------------------------------------------------------------------ */

static void gen_nodes(bg_cluster *c)
{
    static const int type_w[N_TYPES] = { 30, 40, 15, 15 };

    for (int i = 0; i < c->n_nodes; i++) {
        bg_node *n = &c->nodes[i];
        n->type = pick(c, type_w, (int)N_TYPES);
        snprintf(n->name, sizeof(n->name), "worker-%05d", i);
        n->zone = i % 3;
        /* allocatable = capacity minus the kubelet's reservations */
        n->cpu_milli = (int64_t)types[n->type].cpus * 1000 - 80 - types[n->type].cpus * 10;
        n->memory = (int64_t)types[n->type].mem_gi * GI - GI - (int64_t)types[n->type].mem_gi * 8 * MI;
        n->pods = types[n->type].cpus >= 32 ? 250 : 110;
        if (chance(c, 600))
            n->tags |= 1u << T_COMPUTE;
        if (chance(c, 300))
            n->tags |= 1u << T_SSD;
        if (n->type == 2 || chance(c, 50))
            n->tags |= 1u << T_HIGHMEM;
        if (chance(c, 200))
            n->tags |= 1u << T_INGEST;
        if (chance(c, 50))
            n->tags |= 1u << T_EDGE;
        if (chance(c, 30)) {
            n->tags |= 1u << T_GPU;
            n->tainted = true;
        }
        n->condition = chance(c, 3) ? PLACE_NODE_NOT_READY
                       : chance(c, 3) ? PLACE_NODE_CORDONED
                                      : PLACE_NODE_READY;
    }
}

static void gen_shared_pools(bg_cluster *c)
{
    static const int tags[BG_SHARED_POOLS] = { T_COMPUTE, T_SSD, T_HIGHMEM, T_INGEST };

    for (int ns = 0; ns < BG_NNS; ns++)
        for (int k = 0; k < BG_SHARED_POOLS; k++) {
            bg_pool *p = &c->pools[c->n_pools++];
            p->ns = ns;
            p->job = -1;
            p->tags = 1u << tags[k];
            snprintf(p->name, sizeof(p->name), "%s", tag_names[tags[k]]);
        }
}

static void gen_containers(bg_cluster *c, bg_pe *pe)
{
    static const int64_t cpus[] = { 250, 500, 1000, 2000 };
    static const int cpu_w[] = { 30, 35, 25, 10 };
    static const int64_t mems[] = { 512 * MI, GI, 2 * GI, 4 * GI };
    static const int mem_w[] = { 25, 35, 28, 12 };

    pe->n_containers = 1;
    pe->c[0].cpu_milli = cpus[pick(c, cpu_w, 4)];
    pe->c[0].memory = mems[pick(c, mem_w, 4)];
    pe->c[0].memory_limit = 2 * pe->c[0].memory;
    if (chance(c, 600)) {
        bg_container *m = &pe->c[pe->n_containers++];
        m->cpu_milli = 50;
        m->memory = 64 * MI;
        m->memory_limit = 128 * MI;
    }
    if (chance(c, 200)) {
        bg_container *l = &pe->c[pe->n_containers++];
        l->cpu_milli = 100;
        l->memory = 128 * MI;
        l->memory_limit = 256 * MI;
    }
    pe->init = chance(c, 300);
}

/* A shared pool of ns, by the usual popularity of tags; -1: none. */
static int shared_pool(bg_cluster *c, int ns)
{
    static const int w[BG_SHARED_POOLS] = { 50, 30, 12, 8 };

    return ns * BG_SHARED_POOLS + pick(c, w, BG_SHARED_POOLS);
}

static void gen_job(bg_cluster *c, int size)
{
    bg_job *j = &c->jobs[c->n_jobs];
    int ji = c->n_jobs++, n_exloc_ids;

    j->ns = ji % BG_NNS;
    snprintf(j->name, sizeof(j->name), "%s-%04d",
             job_words[ji % (int)(sizeof(job_words) / sizeof(job_words[0]))], ji);
    j->first_pe = c->n_pes;
    j->n_pes = size;
    j->own_pool = -1;
    if (c->cfg.single_job || chance(c, 300)) {
        bg_pool *p = &c->pools[c->n_pools];
        j->own_pool = c->n_pools++;
        p->ns = j->ns;
        p->job = ji;
        p->tags = 1u << (chance(c, 500) ? T_INGEST : T_COMPUTE);
        p->size = 2 + rnd(c, 3) + size / 40; /* about 10 of its PEs per member */
        p->exclusive = !c->cfg.single_job && chance(c, 120);
        snprintf(p->name, sizeof(p->name), "%s-pool", j->name);
    }
    n_exloc_ids = size / 6 > 0 ? size / 6 : 1;
    for (int i = 0; i < size; i++) {
        bg_pe *pe = &c->pes[c->n_pes++];
        bool second = i > 0 && pe[-1].coloc >= 0 && (i < 2 || pe[-2].coloc != pe[-1].coloc);
        int r = rnd(c, 100);

        pe->job = ji;
        pe->id = i;
        pe->node = -1;
        pe->pool = pe->index = pe->coloc = pe->exloc = -1;
        snprintf(pe->name, sizeof(pe->name), "%s-pe%d", j->name, i);
        uuid(c, pe->uid, sizeof(pe->uid));
        gen_containers(c, pe);
        pe->pinned = chance(c, 100);
        if (second) {
            /* the second of a colocation pair shares its mate's domain */
            pe->coloc = pe[-1].coloc;
            pe->pool = pe[-1].pool;
            pe->index = pe[-1].index;
            continue;
        }
        if (j->own_pool >= 0 && r < 25) {
            pe->pool = j->own_pool;
            if (chance(c, 500))
                pe->index = rnd(c, c->pools[j->own_pool].size);
        } else if (r < 70) {
            pe->pool = shared_pool(c, j->ns);
        }
        if (i + 1 < size && chance(c, 120))
            pe->coloc = i;
        else if (pe->pool < 0 && chance(c, 5))
            pe->isolation = true;
        if (!pe->isolation && (pe->pool < 0 || c->pools[pe->pool].size == 0) && chance(c, 250))
            pe->exloc = rnd(c, n_exloc_ids);
    }
}

static void gen_others(bg_cluster *c)
{
    for (int i = 0; i < c->n_nodes; i++)
        for (int k = 0; k < c->cfg.other_per_node; k++) {
            bg_other *o = &c->others[c->n_others++];
            o->kind = k % (int)N_OTHER_KINDS;
            o->node = i;
            snprintf(o->name, sizeof(o->name), "%s-%05x", other_kinds[o->kind].name,
                     (unsigned)(next(c) & 0xfffff));
            uuid(c, o->uid, sizeof(o->uid));
        }
}

sp_rc bg_generate(const bg_config *cfg, bg_cluster **out)
{
    bg_cluster *c = sp_calloc(1, sizeof(*c));
    int jmin, jmax, max_jobs;

    *out = NULL;
    if (!c)
        return SP_ENOMEM;
    c->cfg = *cfg;
    jmin = cfg->job_min > 0 ? cfg->job_min : 4;
    jmax = cfg->job_max >= jmin ? cfg->job_max : (jmin > 40 ? jmin : 40);
    max_jobs = cfg->single_job ? 1 : cfg->pes / jmin + 1;
    c->rng = cfg->seed * 0x2545f4914f6cdd1dULL + 1;
    c->nodes = sp_calloc((size_t)cfg->nodes + 1, sizeof(*c->nodes));
    c->pes = sp_calloc((size_t)cfg->pes + 1, sizeof(*c->pes));
    c->jobs = sp_calloc((size_t)max_jobs + 1, sizeof(*c->jobs));
    c->pools = sp_calloc((size_t)(BG_NNS * BG_SHARED_POOLS + max_jobs + 1), sizeof(*c->pools));
    c->others = sp_calloc((size_t)cfg->nodes * (size_t)cfg->other_per_node + 1,
                          sizeof(*c->others));
    if (!c->nodes || !c->pes || !c->jobs || !c->pools || !c->others) {
        bg_free(c);
        return SP_ENOMEM;
    }
    c->n_nodes = cfg->nodes;
    gen_nodes(c);
    gen_shared_pools(c);
    while (c->n_pes < cfg->pes) {
        int left = cfg->pes - c->n_pes;
        int size = cfg->single_job ? left : jmin + rnd(c, jmax - jmin + 1);
        gen_job(c, size < left ? size : left);
    }
    gen_others(c);
    *out = c;
    return SP_OK;
}

void bg_free(bg_cluster *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n_pools; i++)
        sp_free(c->pools[i].members);
    sp_free(c->nodes);
    sp_free(c->pes);
    sp_free(c->jobs);
    sp_free(c->pools);
    sp_free(c->others);
    sp_free(c);
}

place_resources bg_pe_requests(const bg_pe *pe)
{
    place_resources r = { 0, 0, 1 };

    for (int i = 0; i < pe->n_containers; i++) {
        r.cpu_milli += pe->c[i].cpu_milli;
        r.memory += pe->c[i].memory;
    }
    /* the init container (100m, 128Mi) is smaller than the containers */
    return r;
}

/* ------------------------------------------------------------------------ */
/* Into a place_state                                                         */
/* ------------------------------------------------------------------------ */

static const place_toleration pe_tolerations[] = {
    { "node.kubernetes.io/not-ready", "Exists", NULL, "NoExecute" },
    { "node.kubernetes.io/unreachable", "Exists", NULL, "NoExecute" },
};

static sp_rc load_node(const bg_node *n, place_state *st, int32_t *idx, sp_err *err)
{
    char keys[BG_NTAGS][64], zone[32];
    place_kv labels[5 + BG_NTAGS];
    place_taint taint = { "dedicated", "gpu", "NoSchedule" };
    place_node_input in = { .name = n->name, .labels = labels,
                            .allocatable = { n->cpu_milli, n->memory, n->pods },
                            .condition = n->condition, .taints = &taint,
                            .n_taints = n->tainted ? 1 : 0 };
    size_t k = 0;

    snprintf(zone, sizeof(zone), "%s", zones[n->zone]);
    labels[k++] = (place_kv){ "kubernetes.io/hostname", n->name };
    labels[k++] = (place_kv){ "kubernetes.io/os", "linux" };
    labels[k++] = (place_kv){ "kubernetes.io/arch", "amd64" };
    labels[k++] = (place_kv){ "topology.kubernetes.io/zone", zone };
    labels[k++] = (place_kv){ "node.kubernetes.io/instance-type", types[n->type].name };
    for (int t = 0; t < BG_NTAGS; t++)
        if (n->tags & (1u << t)) {
            snprintf(keys[t], sizeof(keys[t]), "%s%s", PLACE_DEFAULT_TAG_PREFIX, tag_names[t]);
            labels[k++] = (place_kv){ keys[t], "true" };
        }
    in.n_labels = k;
    return place_state_put_node(st, &in, idx, err);
}

static sp_rc load_pool(const bg_cluster *c, const bg_pool *p, place_state *st, sp_err *err)
{
    const char *tags[BG_NTAGS];
    const char **members = sp_calloc((size_t)p->n_members + 1, sizeof(*members));
    place_pool_spec in = { .namespace_ = ns_names[p->ns], .name = p->name, .tags = tags,
                           .has_size = p->size > 0, .size = p->size,
                           .exclusive = p->exclusive, .members = members };
    sp_err verr = { SP_OK, "" };
    sp_rc rc;

    if (!members)
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    in.job = p->job >= 0 ? c->jobs[p->job].name : NULL;
    for (int t = 0; t < BG_NTAGS; t++)
        if (p->tags & (1u << t))
            tags[in.n_tags++] = tag_names[t];
    for (int i = 0; i < p->n_members; i++)
        members[in.n_members++] = p->members[i] >= 0 ? c->nodes[p->members[i]].name : "";
    rc = place_state_put_pool(st, &in, NULL, &verr);
    sp_free(members);
    if (!rc && verr.rc)
        return sp_err_set(err, SP_EINTERNAL, "generated pool %s is invalid: %s", p->name,
                          verr.msg);
    return rc ? sp_err_set(err, rc, "pool %s: %s", p->name, sp_strerror(rc)) : SP_OK;
}

/* The PE's labels and annotations, with their storage. */
typedef struct pe_kv {
    place_kv labels[3], anns[8];
    size_t n_labels, n_anns;
    char pe[16], index[16], coloc[16], exloc[16], count[16];
} pe_kv;

static void pe_kv_build(const bg_cluster *c, const bg_pe *pe, pe_kv *kv)
{
    const bg_job *j = &c->jobs[pe->job];

    memset(kv, 0, sizeof(*kv));
    snprintf(kv->pe, sizeof(kv->pe), "%d", pe->id);
    snprintf(kv->count, sizeof(kv->count), "%d", j->n_pes);
    kv->labels[kv->n_labels++] = (place_kv){ "app.kubernetes.io/part-of", "streams" };
    kv->labels[kv->n_labels++] = (place_kv){ PLACE_LABEL_JOB, j->name };
    kv->labels[kv->n_labels++] = (place_kv){ PLACE_LABEL_PE, kv->pe };
    kv->anns[kv->n_anns++] = (place_kv){ PLACE_ANN_PE_COUNT, kv->count };
    if (pe->pool >= 0)
        kv->anns[kv->n_anns++] = (place_kv){ PLACE_ANN_POOL, c->pools[pe->pool].name };
    if (pe->index >= 0) {
        snprintf(kv->index, sizeof(kv->index), "%d", pe->index);
        kv->anns[kv->n_anns++] = (place_kv){ PLACE_ANN_POOL_INDEX, kv->index };
    }
    if (pe->coloc >= 0) {
        snprintf(kv->coloc, sizeof(kv->coloc), "c%d", pe->coloc);
        kv->anns[kv->n_anns++] = (place_kv){ PLACE_ANN_COLOCATION, kv->coloc };
    }
    if (pe->exloc >= 0) {
        snprintf(kv->exloc, sizeof(kv->exloc), "x%d", pe->exloc);
        kv->anns[kv->n_anns++] = (place_kv){ PLACE_ANN_EXLOCATION, kv->exloc };
    }
    if (pe->isolation)
        kv->anns[kv->n_anns++] = (place_kv){ PLACE_ANN_ISOLATION, "true" };
    if (pe->pinned)
        kv->anns[kv->n_anns++] = (place_kv){ PLACE_ANN_RELOCATABLE, "false" };
}

sp_rc bg_load(const bg_cluster *c, place_state *st, int32_t *pe_idx, sp_err *err)
{
    sp_rc rc = SP_OK;

    for (int i = 0; i < c->n_nodes && !rc; i++)
        rc = load_node(&c->nodes[i], st, NULL, err);
    for (int i = 0; i < c->n_pools && !rc; i++)
        rc = load_pool(c, &c->pools[i], st, err);
    for (int i = 0; i < c->n_others && !rc; i++) {
        const bg_other *o = &c->others[i];
        place_pod_input in = { .namespace_ = other_kinds[o->kind].ns, .name = o->name,
                               .uid = o->uid,
                               .requests = { other_kinds[o->kind].cpu, other_kinds[o->kind].mem, 1 },
                               .node = c->nodes[o->node].name };
        rc = place_state_add_pod(st, &in, NULL, err);
    }
    for (int i = 0; i < c->n_pes && !rc; i++) {
        const bg_pe *pe = &c->pes[i];
        pe_kv kv;
        place_pod_input in = { .namespace_ = ns_names[c->jobs[pe->job].ns], .name = pe->name,
                               .uid = pe->uid, .requests = bg_pe_requests(pe),
                               .node = pe->node >= 0 ? c->nodes[pe->node].name : NULL,
                               .tolerations = pe_tolerations, .n_tolerations = 2 };
        int32_t idx = PLACE_NONE;
        pe_kv_build(c, pe, &kv);
        in.labels = kv.labels;
        in.n_labels = kv.n_labels;
        in.annotations = kv.anns;
        in.n_annotations = kv.n_anns;
        rc = place_state_add_pod(st, &in, &idx, err);
        if (pe_idx)
            pe_idx[i] = idx;
    }
    return rc;
}

/* "worker-00042" -> 42; -1 for a name that is not one of ours. */
static int node_number(const bg_cluster *c, const char *name)
{
    char *end;
    long v;

    if (!name || strncmp(name, "worker-", 7) != 0)
        return -1;
    v = strtol(name + 7, &end, 10);
    return *end || v < 0 || v >= c->n_nodes ? -1 : (int)v;
}

/* Whether node n may fill a free slot of pool p: it has the tags, is usable,
 * is in no exclusive pool but p, and (p exclusive) runs no other job's PE. */
static bool can_fill(const bg_cluster *c, const bg_pool *p, int n, const int *excl_of,
                     const int *other_job_on)
{
    const bg_node *node = &c->nodes[n];
    int pi = (int)(p - c->pools);

    if ((node->tags & p->tags) != p->tags || node->tainted ||
        node->condition != PLACE_NODE_READY || (excl_of[n] >= 0 && excl_of[n] != pi))
        return false;
    for (int k = 0; k < p->n_members; k++)
        if (p->members[k] == n)
            return false;
    return !p->exclusive || other_job_on[n] == -1 || other_job_on[n] == p->job;
}

/*
 * The plan completes a sized pool's membership only as far as it can; a
 * HostPool's status.hosts cannot hold two free slots, so the generator fills
 * the free ones with nodes the pool could have chosen (a cluster where the
 * membership was completed earlier).
 */
static sp_rc fill_gaps(bg_cluster *c)
{
    int *excl_of = sp_calloc((size_t)c->n_nodes, sizeof(int));
    int *job_on = sp_calloc((size_t)c->n_nodes, sizeof(int));
    int cursor = 0;

    if (!excl_of || !job_on) {
        sp_free(excl_of);
        sp_free(job_on);
        return SP_ENOMEM;
    }
    for (int n = 0; n < c->n_nodes; n++)
        excl_of[n] = job_on[n] = -1;
    for (int i = 0; i < c->n_pes; i++) {
        int n = c->pes[i].node;
        if (n >= 0)
            job_on[n] = job_on[n] == -1 || job_on[n] == c->pes[i].job ? c->pes[i].job : -2;
    }
    for (int i = 0; i < c->n_pools; i++)
        for (int k = 0; c->pools[i].exclusive && k < c->pools[i].n_members; k++)
            if (c->pools[i].members[k] >= 0)
                excl_of[c->pools[i].members[k]] = i;
    for (int i = 0; i < c->n_pools; i++) {
        bg_pool *p = &c->pools[i];
        int *grown, free_slots = p->size - p->n_members;
        for (int k = 0; k < p->n_members; k++)
            free_slots += p->members[k] < 0;
        if (!p->size || !free_slots)
            continue;
        grown = sp_realloc(p->members, (size_t)p->size * sizeof(*grown));
        if (!grown)
            break;
        p->members = grown;
        while (p->n_members < p->size)
            p->members[p->n_members++] = -1;
        for (int k = 0; k < p->size; k++) {
            for (int tries = 0; p->members[k] < 0 && tries < c->n_nodes; tries++) {
                int n = (cursor++) % c->n_nodes;
                if (!can_fill(c, p, n, excl_of, job_on))
                    continue;
                p->members[k] = n;
                if (p->exclusive)
                    excl_of[n] = i;
            }
        }
    }
    sp_free(excl_of);
    sp_free(job_on);
    return SP_OK;
}

/* Exclusive pools get their whole membership before the plan (chosen when
 * their job first ran), distinct usable nodes with the pool's tags. */
static sp_rc preassign_exclusive(bg_cluster *c)
{
    int *taken = sp_calloc((size_t)c->n_nodes, sizeof(int));
    int cursor = 0;

    if (!taken)
        return SP_ENOMEM;
    for (int i = 0; i < c->n_pools; i++) {
        bg_pool *p = &c->pools[i];
        if (!p->exclusive || p->members)
            continue;
        if (!(p->members = sp_calloc((size_t)p->size, sizeof(*p->members)))) {
            sp_free(taken);
            return SP_ENOMEM;
        }
        for (int tries = 0; p->n_members < p->size && tries < c->n_nodes; tries++) {
            int n = (cursor += 7) % c->n_nodes;
            const bg_node *node = &c->nodes[n];
            if (taken[n] || (node->tags & p->tags) != p->tags || node->tainted ||
                node->condition != PLACE_NODE_READY)
                continue;
            taken[n] = 1;
            p->members[p->n_members++] = n;
        }
    }
    sp_free(taken);
    return SP_OK;
}

sp_rc bg_plan(bg_cluster *c, int *unplaced, sp_err *err)
{
    place_policy pol;
    place_state *st = NULL;
    place_plan_opts opts = { .explain = false, .seed = c->cfg.seed };
    int32_t *idx = sp_calloc((size_t)c->n_pes + 1, sizeof(*idx));
    sp_rc rc = idx ? SP_OK : SP_ENOMEM;

    *unplaced = 0;
    place_policy_default(&pol);
    if (!rc)
        rc = preassign_exclusive(c);
    if (!rc)
        rc = place_state_new(&pol, &st);
    if (!rc)
        rc = bg_load(c, st, idx, err);
    if (!rc)
        rc = place_plan_all(st, &opts, NULL);
    for (int i = 0; i < c->n_pes && !rc; i++) {
        place_pe_info info;
        place_pe_get(st, idx[i], &info);
        c->pes[i].node = info.node != PLACE_NONE ? node_number(c, place_node_name(st, info.node)) : -1;
        *unplaced += c->pes[i].node < 0;
    }
    for (int i = 0; i < c->n_pools && !rc; i++) {
        bg_pool *p = &c->pools[i];
        const char **names = NULL;
        size_t n = 0;
        int32_t pi = place_state_find_pool(st, ns_names[p->ns], p->name);
        if (!p->size || pi == PLACE_NONE)
            continue;
        rc = place_pool_hosts(st, pi, &names, &n);
        if (!rc && n) {
            sp_free(p->members);
            p->n_members = 0;
            p->members = sp_calloc(n, sizeof(*p->members));
            rc = p->members ? SP_OK : SP_ENOMEM;
            for (size_t k = 0; !rc && k < n; k++)
                p->members[p->n_members++] = node_number(c, names[k]);
        }
        sp_free(names);
    }
    if (!rc)
        rc = fill_gaps(c);
    place_state_free(st);
    sp_free(idx);
    return rc && !err->rc ? sp_err_set(err, rc, "planning the generated cluster: %s",
                                       sp_strerror(rc))
                          : rc;
}

/* ------------------------------------------------------------------------ */
/* JSON                                                                       */
/* ------------------------------------------------------------------------ */

static void fmt_cpu(int64_t milli, char *buf, size_t len)
{
    if (milli % 1000 == 0)
        snprintf(buf, len, "%" PRId64, milli / 1000);
    else
        snprintf(buf, len, "%" PRId64 "m", milli);
}

static void fmt_mem(int64_t bytes, char *buf, size_t len)
{
    if (bytes % GI == 0)
        snprintf(buf, len, "%" PRId64 "Gi", bytes / GI);
    else if (bytes % MI == 0)
        snprintf(buf, len, "%" PRId64 "Mi", bytes / MI);
    else
        snprintf(buf, len, "%" PRId64 "Ki", bytes / 1024);
}

#define STAMP "2026-11-20T08:00:00Z"

int bg_write_node(const bg_cluster *c, const bg_node *n, FILE *f)
{
    char cpu[32], mem[32], cap_mem[32];
    int idx = (int)(n - c->nodes), ok;
    bool ready = n->condition != PLACE_NODE_NOT_READY;

    fmt_cpu(n->cpu_milli, cpu, sizeof(cpu));
    fmt_mem(n->memory, mem, sizeof(mem));
    fmt_mem((int64_t)types[n->type].mem_gi * GI, cap_mem, sizeof(cap_mem));
    ok = fprintf(f,
        "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"%s\","
        "\"uid\":\"%08x-6d1c-4c2e-9a51-%012x\",\"resourceVersion\":\"%d\","
        "\"creationTimestamp\":\"" STAMP "\",\"annotations\":{"
        "\"node.alpha.kubernetes.io/ttl\":\"0\","
        "\"volumes.kubernetes.io/controller-managed-attach-detach\":\"true\"},"
        "\"labels\":{\"beta.kubernetes.io/arch\":\"amd64\",\"beta.kubernetes.io/os\":\"linux\","
        "\"kubernetes.io/arch\":\"amd64\",\"kubernetes.io/hostname\":\"%s\","
        "\"kubernetes.io/os\":\"linux\",\"node.kubernetes.io/instance-type\":\"%s\","
        "\"topology.kubernetes.io/region\":\"eu-west-1\",\"topology.kubernetes.io/zone\":\"%s\"",
        n->name, (unsigned)idx * 2654435761u, (unsigned)idx, 100000 + idx, n->name,
        types[n->type].name, zones[n->zone]) < 0;
    for (int t = 0; t < BG_NTAGS && !ok; t++)
        if (n->tags & (1u << t))
            ok = fprintf(f, ",\"%s%s\":\"true\"", PLACE_DEFAULT_TAG_PREFIX, tag_names[t]) < 0;
    if (!ok)
        ok = fprintf(f,
            "}},\"spec\":{\"podCIDR\":\"10.%d.%d.0/24\",\"providerID\":\"aws:///%s/i-0%015x\"%s%s},"
            "\"status\":{\"capacity\":{\"cpu\":\"%d\",\"ephemeral-storage\":\"104845292Ki\","
            "\"hugepages-1Gi\":\"0\",\"hugepages-2Mi\":\"0\",\"memory\":\"%s\",\"pods\":\"%" PRId64 "\"},"
            "\"allocatable\":{\"cpu\":\"%s\",\"ephemeral-storage\":\"96625420948\","
            "\"hugepages-1Gi\":\"0\",\"hugepages-2Mi\":\"0\",\"memory\":\"%s\",\"pods\":\"%" PRId64 "\"},"
            "\"conditions\":["
            "{\"type\":\"MemoryPressure\",\"status\":\"False\",\"lastHeartbeatTime\":\"" STAMP "\","
            "\"lastTransitionTime\":\"" STAMP "\",\"reason\":\"KubeletHasSufficientMemory\","
            "\"message\":\"kubelet has sufficient memory available\"},"
            "{\"type\":\"DiskPressure\",\"status\":\"False\",\"lastHeartbeatTime\":\"" STAMP "\","
            "\"lastTransitionTime\":\"" STAMP "\",\"reason\":\"KubeletHasNoDiskPressure\","
            "\"message\":\"kubelet has no disk pressure\"},"
            "{\"type\":\"PIDPressure\",\"status\":\"False\",\"lastHeartbeatTime\":\"" STAMP "\","
            "\"lastTransitionTime\":\"" STAMP "\",\"reason\":\"KubeletHasSufficientPID\","
            "\"message\":\"kubelet has sufficient PID available\"},"
            "{\"type\":\"Ready\",\"status\":\"%s\",\"lastHeartbeatTime\":\"" STAMP "\","
            "\"lastTransitionTime\":\"" STAMP "\",\"reason\":\"%s\",\"message\":\"%s\"}],"
            "\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"10.0.%d.%d\"},"
            "{\"type\":\"Hostname\",\"address\":\"%s\"}],"
            "\"daemonEndpoints\":{\"kubeletEndpoint\":{\"Port\":10250}},"
            "\"nodeInfo\":{\"machineID\":\"ec2%029x\",\"systemUUID\":\"ec2%05x-0000-0000-0000-000000000000\","
            "\"bootID\":\"%08x-1111-2222-3333-444444444444\",\"kernelVersion\":\"6.1.0-27-cloud-amd64\","
            "\"osImage\":\"Debian GNU/Linux 12 (bookworm)\",\"containerRuntimeVersion\":\"containerd://1.7.22\","
            "\"kubeletVersion\":\"v1.30.5\",\"kubeProxyVersion\":\"v1.30.5\",\"operatingSystem\":\"linux\","
            "\"architecture\":\"amd64\"},"
            "\"images\":[{\"names\":[\"icr.io/streams/pe@sha256:4f1c9e0d7a3b\",\"icr.io/streams/pe:7.2.0\"],\"sizeBytes\":812345678},"
            "{\"names\":[\"registry.k8s.io/kube-proxy@sha256:9c1e7b5a2d4f\",\"registry.k8s.io/kube-proxy:v1.30.5\"],\"sizeBytes\":29123456},"
            "{\"names\":[\"quay.io/prometheus/node-exporter@sha256:1a2b3c4d5e6f\",\"quay.io/prometheus/node-exporter:v1.8.2\"],\"sizeBytes\":12876543},"
            "{\"names\":[\"cr.fluentbit.io/fluent/fluent-bit@sha256:7e6d5c4b3a29\",\"cr.fluentbit.io/fluent/fluent-bit:3.1.9\"],\"sizeBytes\":33456789},"
            "{\"names\":[\"registry.k8s.io/pause@sha256:7031c1b28338\",\"registry.k8s.io/pause:3.9\"],\"sizeBytes\":321520}]}}",
            idx / 256, idx % 256, zones[n->zone], (unsigned)idx,
            n->condition == PLACE_NODE_CORDONED ? ",\"unschedulable\":true" : "",
            n->tainted ? ",\"taints\":[{\"key\":\"dedicated\",\"value\":\"gpu\",\"effect\":\"NoSchedule\"}]"
                       : "",
            types[n->type].cpus, cap_mem, n->pods, cpu, mem, n->pods,
            ready ? "True" : "False", ready ? "KubeletReady" : "NodeStatusUnknown",
            ready ? "kubelet is posting ready status" : "Kubelet stopped posting node status.",
            idx / 256, idx % 256, n->name, (unsigned)idx, (unsigned)idx, (unsigned)idx) < 0;
    return ok ? -1 : 0;
}

int bg_write_nodes(const bg_cluster *c, FILE *f)
{
    if (fputs("{\"apiVersion\":\"v1\",\"kind\":\"List\",\"metadata\":{\"resourceVersion\":\"\"},"
              "\"items\":[\n", f) < 0)
        return -1;
    for (int i = 0; i < c->n_nodes; i++)
        if ((i && fputs(",\n", f) < 0) || bg_write_node(c, &c->nodes[i], f))
            return -1;
    return fputs("]}\n", f) < 0 ? -1 : 0;
}

int bg_write_pools(const bg_cluster *c, FILE *f)
{
    if (fputs("{\"apiVersion\":\"placement.streams.io/v1alpha1\",\"kind\":\"HostPoolList\","
              "\"metadata\":{\"resourceVersion\":\"\"},\"items\":[\n", f) < 0)
        return -1;
    for (int i = 0; i < c->n_pools; i++) {
        const bg_pool *p = &c->pools[i];
        bool first = true;
        if (fprintf(f, "%s{\"apiVersion\":\"placement.streams.io/v1alpha1\",\"kind\":\"HostPool\","
                       "\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"generation\":1},"
                       "\"spec\":{",
                    i ? ",\n" : "", p->name, ns_names[p->ns]) < 0)
            return -1;
        if (p->job >= 0 && fprintf(f, "\"job\":\"%s\",", c->jobs[p->job].name) < 0)
            return -1;
        if (fputs("\"tags\":[", f) < 0)
            return -1;
        for (int t = 0; t < BG_NTAGS; t++)
            if (p->tags & (1u << t)) {
                if (fprintf(f, "%s\"%s\"", first ? "" : ",", tag_names[t]) < 0)
                    return -1;
                first = false;
            }
        if (fputs("]", f) < 0 || (p->size && fprintf(f, ",\"size\":%d", p->size) < 0) ||
            fprintf(f, ",\"exclusive\":%s}", p->exclusive ? "true" : "false") < 0)
            return -1;
        if (p->n_members) {
            if (fputs(",\"status\":{\"hosts\":[", f) < 0)
                return -1;
            for (int k = 0; k < p->n_members; k++)
                if (fprintf(f, "%s\"%s\"", k ? "," : "",
                            p->members[k] >= 0 ? c->nodes[p->members[k]].name : "") < 0)
                    return -1;
            if (fputs("],\"observedGeneration\":1}", f) < 0)
                return -1;
        }
        if (fputs("}", f) < 0)
            return -1;
    }
    return fputs("]}\n", f) < 0 ? -1 : 0;
}

static int write_status(const bg_cluster *c, int node, int seq, FILE *f)
{
    if (node < 0)
        return fputs(",\"status\":{\"phase\":\"Pending\",\"conditions\":[{\"type\":\"PodScheduled\","
                     "\"status\":\"False\",\"lastProbeTime\":null,\"lastTransitionTime\":\"" STAMP "\","
                     "\"reason\":\"Unschedulable\"}],\"qosClass\":\"Burstable\"}",
                     f) < 0 ? -1 : 0;
    (void)c;
    return fprintf(f,
        ",\"status\":{\"phase\":\"Running\",\"conditions\":["
        "{\"type\":\"Initialized\",\"status\":\"True\",\"lastProbeTime\":null,\"lastTransitionTime\":\"" STAMP "\"},"
        "{\"type\":\"Ready\",\"status\":\"True\",\"lastProbeTime\":null,\"lastTransitionTime\":\"" STAMP "\"},"
        "{\"type\":\"PodScheduled\",\"status\":\"True\",\"lastProbeTime\":null,\"lastTransitionTime\":\"" STAMP "\"}],"
        "\"hostIP\":\"10.0.%d.%d\",\"podIP\":\"10.%d.%d.%d\",\"startTime\":\"" STAMP "\","
        "\"qosClass\":\"Burstable\"}",
        node / 256, node % 256, 64 + node / 256, node % 256, 2 + seq % 250) < 0 ? -1 : 0;
}

static int write_container(const char *name, const char *image, const bg_container *k, FILE *f)
{
    char cpu[32], mem[32], lim[32];

    fmt_cpu(k->cpu_milli, cpu, sizeof(cpu));
    fmt_mem(k->memory, mem, sizeof(mem));
    fmt_mem(k->memory_limit, lim, sizeof(lim));
    return fprintf(f,
        "{\"name\":\"%s\",\"image\":\"%s\",\"resources\":{\"limits\":{\"memory\":\"%s\"},"
        "\"requests\":{\"cpu\":\"%s\",\"memory\":\"%s\"}},"
        "\"terminationMessagePath\":\"/dev/termination-log\",\"terminationMessagePolicy\":\"File\","
        "\"imagePullPolicy\":\"IfNotPresent\"}",
        name, image, lim, cpu, mem) < 0 ? -1 : 0;
}

static int write_pe(const bg_cluster *c, const bg_pe *pe, int seq, FILE *f)
{
    static const char *const side_names[] = { "", "metrics", "log-shipper" };
    static const char *const side_images[] = { "", "icr.io/streams/metrics:7.2.0",
                                               "cr.fluentbit.io/fluent/fluent-bit:3.1.9" };
    const bg_job *j = &c->jobs[pe->job];
    pe_kv kv;
    char cpu[32], mem[32], lim[32];

    pe_kv_build(c, pe, &kv);
    if (fprintf(f, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
                   "\"namespace\":\"%s\",\"uid\":\"%s\",\"resourceVersion\":\"%d\","
                   "\"creationTimestamp\":\"" STAMP "\",\"labels\":{",
                pe->name, ns_names[j->ns], pe->uid, 200000 + seq) < 0)
        return -1;
    for (size_t i = 0; i < kv.n_labels; i++)
        if (fprintf(f, "%s\"%s\":\"%s\"", i ? "," : "", kv.labels[i].key, kv.labels[i].value) < 0)
            return -1;
    if (fputs("},\"annotations\":{", f) < 0)
        return -1;
    for (size_t i = 0; i < kv.n_anns; i++)
        if (fprintf(f, "%s\"%s\":\"%s\"", i ? "," : "", kv.anns[i].key, kv.anns[i].value) < 0)
            return -1;
    if (fprintf(f, "},\"ownerReferences\":[{\"apiVersion\":\"streams.ibm.com/v1\","
                   "\"kind\":\"ProcessingElement\",\"name\":\"%s-%d\",\"uid\":\"%.8s-0000-4000-8000-%.12s\","
                   "\"controller\":true,\"blockOwnerDeletion\":true}]},"
                   "\"spec\":{\"containers\":[",
                j->name, pe->id, pe->uid, pe->uid + 24) < 0)
        return -1;
    fmt_cpu(pe->c[0].cpu_milli, cpu, sizeof(cpu));
    fmt_mem(pe->c[0].memory, mem, sizeof(mem));
    fmt_mem(pe->c[0].memory_limit, lim, sizeof(lim));
    if (fprintf(f, "{\"name\":\"pe\",\"image\":\"icr.io/streams/pe:7.2.0\","
                   "\"args\":[\"--job\",\"%s\",\"--pe\",\"%d\"],"
                   "\"ports\":[{\"name\":\"data\",\"containerPort\":10000,\"protocol\":\"TCP\"}],"
                   "\"env\":[{\"name\":\"STREAMS_JOB\",\"value\":\"%s\"},{\"name\":\"STREAMS_PE\",\"value\":\"%d\"}],"
                   "\"resources\":{\"limits\":{\"memory\":\"%s\"},\"requests\":{\"cpu\":\"%s\",\"memory\":\"%s\"}},"
                   "\"volumeMounts\":[{\"name\":\"checkpoint\",\"mountPath\":\"/var/lib/streams\"}],"
                   "\"terminationMessagePath\":\"/dev/termination-log\",\"terminationMessagePolicy\":\"File\","
                   "\"imagePullPolicy\":\"IfNotPresent\"}",
                j->name, pe->id, j->name, pe->id, lim, cpu, mem) < 0)
        return -1;
    for (int i = 1; i < pe->n_containers; i++)
        if (fputs(",", f) < 0 || write_container(side_names[i], side_images[i], &pe->c[i], f))
            return -1;
    if (fputs("]", f) < 0)
        return -1;
    if (pe->init) {
        bg_container init = { 100, 128 * MI, 128 * MI };
        if (fputs(",\"initContainers\":[", f) < 0 ||
            write_container("restore-checkpoint", "icr.io/streams/pe:7.2.0", &init, f) ||
            fputs("]", f) < 0)
            return -1;
    }
    if (fprintf(f, ",\"volumes\":[{\"name\":\"checkpoint\",\"hostPath\":{\"path\":\"/var/lib/streams/%s\","
                   "\"type\":\"DirectoryOrCreate\"}}],"
                   "\"restartPolicy\":\"Always\",\"terminationGracePeriodSeconds\":30,"
                   "\"dnsPolicy\":\"ClusterFirst\",\"serviceAccountName\":\"streams-pe\","
                   "\"serviceAccount\":\"streams-pe\"%s%s%s,\"securityContext\":{},"
                   "\"schedulerName\":\"default-scheduler\",\"tolerations\":["
                   "{\"key\":\"node.kubernetes.io/not-ready\",\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":300},"
                   "{\"key\":\"node.kubernetes.io/unreachable\",\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":300}],"
                   "\"priority\":0,\"enableServiceLinks\":true,\"preemptionPolicy\":\"PreemptLowerPriority\"}",
                j->name, pe->node >= 0 ? ",\"nodeName\":\"" : "",
                pe->node >= 0 ? c->nodes[pe->node].name : "", pe->node >= 0 ? "\"" : "") < 0)
        return -1;
    return write_status(c, pe->node, seq, f) || fputs("}", f) < 0 ? -1 : 0;
}

static int write_other(const bg_cluster *c, const bg_other *o, int seq, FILE *f)
{
    bg_container k = { other_kinds[o->kind].cpu, other_kinds[o->kind].mem,
                       2 * other_kinds[o->kind].mem };
    char image[96];

    snprintf(image, sizeof(image), "registry.example/%s:1.0", other_kinds[o->kind].name);
    if (fprintf(f, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
                   "\"generateName\":\"%s-\",\"namespace\":\"%s\",\"uid\":\"%s\",\"resourceVersion\":\"%d\","
                   "\"creationTimestamp\":\"" STAMP "\",\"labels\":{\"app.kubernetes.io/name\":\"%s\","
                   "\"controller-revision-hash\":\"6d4f8b7c9\",\"pod-template-generation\":\"1\"},"
                   "\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"name\":\"%s\","
                   "\"uid\":\"0f0e0d0c-0b0a-4909-8807-0605040302%02d\",\"controller\":true,\"blockOwnerDeletion\":true}]},"
                   "\"spec\":{\"containers\":[",
                o->name, other_kinds[o->kind].name, other_kinds[o->kind].ns, o->uid, 100000 + seq,
                other_kinds[o->kind].name, other_kinds[o->kind].name, o->kind) < 0 ||
        write_container(other_kinds[o->kind].name, image, &k, f) ||
        fprintf(f, "],\"restartPolicy\":\"Always\",\"terminationGracePeriodSeconds\":30,"
                   "\"dnsPolicy\":\"ClusterFirst\",\"nodeName\":\"%s\",\"hostNetwork\":true,"
                   "\"securityContext\":{},\"schedulerName\":\"default-scheduler\","
                   "\"tolerations\":[{\"operator\":\"Exists\"}],\"priorityClassName\":\"system-node-critical\","
                   "\"priority\":2000001000,\"enableServiceLinks\":true,"
                   "\"preemptionPolicy\":\"PreemptLowerPriority\"}",
                c->nodes[o->node].name) < 0)
        return -1;
    return write_status(c, o->node, seq, f) || fputs("}", f) < 0 ? -1 : 0;
}

int bg_write_pods(const bg_cluster *c, FILE *f, bool bound_only)
{
    int seq = 0;

    if (fputs("{\"apiVersion\":\"v1\",\"kind\":\"List\",\"metadata\":{\"resourceVersion\":\"\"},"
              "\"items\":[\n", f) < 0)
        return -1;
    for (int i = 0; i < c->n_others; i++, seq++)
        if ((seq && fputs(",\n", f) < 0) || write_other(c, &c->others[i], seq, f))
            return -1;
    for (int i = 0; i < c->n_pes; i++) {
        if (bound_only && c->pes[i].node < 0)
            continue;
        if ((seq && fputs(",\n", f) < 0) || write_pe(c, &c->pes[i], seq, f))
            return -1;
        seq++;
    }
    return fputs("]}\n", f) < 0 ? -1 : 0;
}
