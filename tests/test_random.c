/*
 * Seeded randomized test of the whole-job planner against the independent
 * checker (tests/checker.c).
 *
 * Feasible family: every instance is built around a hidden valid assignment.
 * Nodes get random tags and PEs a hidden node first; then constraints that the
 * hidden assignment satisfies are derived from it (colocation among PEs that
 * share a hidden node, exlocation among PEs on different ones, pools by tags
 * or hosts of the hidden nodes, sized pools with a hidden membership order and
 * indexes into it, isolation of PEs alone on their node, exclusive pools on
 * nodes that only the pool's job uses, capacity at or above the hidden usage).
 * Some PEs are already bound at their hidden node and some pools already have
 * members (a prefix of the hidden order); nothing else of the hidden
 * assignment reaches the engine. The checker must accept the hidden
 * assignment (a test of the generator), the plan must break no constraint,
 * and at least 99% of instances must be solved completely.
 *
 * Packing family: the same, with every used node at or next to its hidden
 * usage (half of them with no slack at all). Exact packing is hard in
 * general: its solve rate is reported, not required.
 *
 * Waves family: the same instances, but some pending PEs arrive only after a
 * first place_plan_all; a second one plans them. Both states must break no
 * constraint and the membership chosen by the first plan must be kept (no
 * solve rate is required: the first plan could not know what came later).
 *
 * Filter family: the same instances placed the extender's way, one PE at a
 * time in a seeded order: place_filter over every node, then
 * place_state_bind on the node it chose. Filter alone must enforce every
 * hard constraint; a PE it cannot place must get a reason for every node.
 *
 * Infeasible family: a smaller feasible instance plus one impossible job
 * (exlocation group larger than its pool, isolated PE with no empty node,
 * requests above any node, colocation across disjoint pools, two exlocated
 * PEs on one pool index, an index out of range, a missing pool, an exclusive
 * pool whose only node runs another job, isolation with colocation). The plan
 * must still break no constraint, and leave the impossible PEs unplaced with
 * a reason.
 *
 * Every 20th instance is planned twice: the same seed must give the same plan.
 *
 * Every failure prints the instance seed and family. To reproduce one
 * instance with a full dump: SP_RANDOM_SEED=<seed>
 * [SP_RANDOM_FAMILY=feasible|packing|waves|filter|infeasible] tests/test_random (add
 * SP_RANDOM_SHRINK=1 to shrink it first). SP_RANDOM_COUNT overrides the
 * number of instances per family. The first failing instances are shrunk
 * (PEs, pools, constraints, pods and nodes removed while the instance still
 * fails the same way) and the smallest one found is printed.
 *
 * The engine is driven only through placement/place.h.
 */
#include "placement/place.h"
#include "tests/checker.h"
#include "tests/test_util.h"
#include "util/sp_str.h"

#include <inttypes.h>
#include <stdlib.h>
#include <time.h>

#define BASE_SEED 0x5eed2024ULL   /* feasible instance i has seed BASE_SEED + i */
#define INFEASIBLE_SEED 0xbad5eedULL
#define PACKING_SEED 0xb1a5ULL
#define WAVES_SEED 0x3a7e5ULL
#define FILTER_SEED 0xf117e4ULL
#define N_FEASIBLE 1000
#define N_PACKING 300
#define N_WAVES 300
#define N_FILTER 300
#define N_INFEASIBLE 400
#define MIN_SOLVED_PERMILLE 990    /* 99% of feasible instances fully placed */
#define MAX_REPORTED 5             /* failing instances dumped in full */
#define MAX_UNSOLVED_LISTED 10     /* unsolved instances listed per family */

#define G_MAX_NODES 64
#define G_MAX_JOBS 8
#define G_MAX_PES 256
#define G_MAX_POOLS 24
#define G_MAX_OTHER 128
#define G_MAX_IDS 4
#define G_NTAGS 6

#define MI ((int64_t)1024 * 1024)
#define GI ((int64_t)1024 * MI)

static const char *const tag_names[G_NTAGS] = {
    "ssd", "gpu", "fast", "big", "zone-a", "zone-b"
};
static const char *const tag_labels[G_NTAGS] = {
    PLACE_DEFAULT_TAG_PREFIX "ssd", PLACE_DEFAULT_TAG_PREFIX "gpu",
    PLACE_DEFAULT_TAG_PREFIX "fast", PLACE_DEFAULT_TAG_PREFIX "big",
    PLACE_DEFAULT_TAG_PREFIX "zone-a", PLACE_DEFAULT_TAG_PREFIX "zone-b"
};
static const char *const ns_names[2] = { "ns0", "ns1" };

/* ------------------------------------------------------------------------ */
/* The generated world                                                        */
/* ------------------------------------------------------------------------ */

typedef struct g_node {
    char name[16];
    bool tag[G_NTAGS];
    int64_t cpu, mem, pods;     /* allocatable */
    int excl_job;               /* job whose exclusive pool holds it, or -1 */
    int iso_pe;                 /* isolated PE it is reserved for, or -1 */
    bool removed;
    place_kv labels[G_NTAGS];
} g_node;

typedef struct g_job {
    int ns;
    char name[16];
    int first, count;           /* its PEs (poison jobs may add more later) */
} g_job;

typedef struct g_pe {
    int job;
    char id[16];
    int hidden;                 /* hidden node, -1: none (a poisoned PE) */
    int bound;                  /* node it is bound to already, or -1 */
    int pool;                   /* -1: none */
    bool missing_pool;          /* names a pool that does not exist */
    int index;                  /* -1: none */
    char coloc[G_MAX_IDS][12];
    int n_coloc;
    char exloc[G_MAX_IDS][12];
    int n_exloc;
    bool iso;
    int64_t cpu, mem;
    bool poison;                /* part of the impossible job */
    bool late;                  /* arrives after the first plan (two waves) */
    bool removed;
    /* wire text, kept alive while the engine runs */
    char pod[40], uid[64], index_s[16], coloc_s[64], exloc_s[64], count_s[16];
    place_kv labels[2], ann[7];
} g_pe;

typedef struct g_pool {
    int ns;
    char name[16];
    int job;                    /* -1: shared */
    bool tag[G_NTAGS];
    bool has_hosts;
    bool host[G_MAX_NODES];
    int64_t size;               /* 0: unsized */
    bool excl;
    int members[G_MAX_NODES];   /* the hidden membership order */
    int n_members;
    int n_status;               /* members[0..n_status) are given as status */
    bool removed;
    const char *tags_v[G_NTAGS];
    const char *hosts_v[G_MAX_NODES];
    const char *status_v[G_MAX_NODES];
    const char *hidden_v[G_MAX_NODES];
} g_pool;

typedef struct g_other {
    int node;
    int64_t cpu, mem;
    char uid[24];
    bool removed;
} g_other;

typedef enum poison_kind {
    P_NONE = -1,
    P_EXLOC_POOL,               /* exlocation group larger than its pool */
    P_ISO_FULL,                 /* isolated PE, every node already has a PE */
    P_CAPACITY,                 /* requests above any node */
    P_COLOC_POOLS,              /* colocated PEs in pools with no common node */
    P_INDEX_CLASH,              /* two exlocated PEs on one pool index */
    P_INDEX_RANGE,              /* pool index beyond the size */
    P_MISSING_POOL,             /* pool does not exist */
    P_EXCL_OCCUPIED,            /* exclusive pool's only node runs another job */
    P_ISO_COLOC,                /* isolated PE colocated with another */
    P_KINDS
} poison_kind;

static const char *const poison_names[P_KINDS] = {
    "exlocation-over-pool", "isolation-no-empty-node", "capacity",
    "colocation-disjoint-pools", "index-clash", "index-range", "missing-pool",
    "exclusive-occupied", "isolation-with-colocation"
};

/* How the engine is driven. */
typedef enum run_mode {
    MODE_PLAN,                  /* one place_plan_all */
    MODE_WAVES,                 /* plan, add the late PEs, plan again */
    MODE_FILTER,                /* place_filter + bind, one PE at a time */
} run_mode;

typedef struct gen {
    sp_rng rng;
    run_mode mode;
    uint64_t seed;
    bool scope_job;
    bool tight;                 /* zero slack on about half the used nodes */
    bool packing;               /* ... and next to none on the others */
    int n_nodes, n_jobs, n_pes, n_pools, n_other;
    g_node nodes[G_MAX_NODES];
    g_job jobs[G_MAX_JOBS];
    g_pe pes[G_MAX_PES];
    g_pool pools[G_MAX_POOLS];
    g_other other[G_MAX_OTHER];
    int n_coloc_ids, n_exloc_ids;
    poison_kind poison;
    bool expect_unplaced;       /* a poisoned PE must stay unplaced */
} gen;

static uint64_t rnd(gen *g, uint64_t n)
{
    return n ? sp_rng_below(&g->rng, n) : 0;
}

static bool chance(gen *g, unsigned pct)
{
    return rnd(g, 100) < pct;
}

static void shuffle(gen *g, int *v, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rnd(g, (uint64_t)i + 1), t = v[i];

        v[i] = v[j];
        v[j] = t;
    }
}

static uint64_t splitmix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Copy text into a fixed buffer; the generator's names are short by design. */
static void set_text(char *buf, size_t len, const char *fmt, int value)
{
    int n = snprintf(buf, len, fmt, value);

    CU_ASSERT_FATAL(n > 0 && (size_t)n < len);
}

/* ------------------------------------------------------------------------ */
/* Generating a feasible instance around a hidden assignment                  */
/* ------------------------------------------------------------------------ */

static int add_job(gen *g, int ns, const char *name)
{
    g_job *j = &g->jobs[g->n_jobs];
    int n = snprintf(j->name, sizeof(j->name), "%s", name);

    CU_ASSERT_FATAL(g->n_jobs < G_MAX_JOBS && n > 0 && (size_t)n < sizeof(j->name));
    j->ns = ns;
    j->first = g->n_pes;
    j->count = 0;
    return g->n_jobs++;
}

static int add_pe(gen *g, int job, const char *fmt, int num)
{
    g_pe *p = &g->pes[g->n_pes];

    CU_ASSERT_FATAL(g->n_pes < G_MAX_PES);
    memset(p, 0, sizeof(*p));
    p->job = job;
    set_text(p->id, sizeof(p->id), fmt, num);
    p->hidden = -1;
    p->bound = -1;
    p->pool = -1;
    p->index = -1;
    p->cpu = 50;
    p->mem = 64 * MI;
    g->jobs[job].count++;
    return g->n_pes++;
}

static int new_pool(gen *g, int ns, int job)
{
    g_pool *p = &g->pools[g->n_pools];

    CU_ASSERT_FATAL(g->n_pools < G_MAX_POOLS);
    memset(p, 0, sizeof(*p));
    p->ns = ns;
    p->job = job;
    set_text(p->name, sizeof(p->name), "pool%d", g->n_pools);
    return g->n_pools++;
}

static int pool_n_hosts(const gen *g, const g_pool *p)
{
    int n = 0;

    for (int i = 0; i < g->n_nodes; i++)
        n += p->host[i];
    return n;
}

static void add_id(char ids[][12], int *n, const char *fmt, int num)
{
    if (*n >= G_MAX_IDS)
        return;
    set_text(ids[*n], sizeof(ids[0]), fmt, num);
    (*n)++;
}

static void gen_nodes(gen *g, int max_nodes)
{
    g->n_nodes = 2 + (int)rnd(g, (uint64_t)max_nodes - 1);
    for (int i = 0; i < g->n_nodes; i++) {
        g_node *n = &g->nodes[i];

        set_text(n->name, sizeof(n->name), "n%02d", i);
        for (int t = 0; t < G_NTAGS; t++)
            n->tag[t] = chance(g, 40);
        n->excl_job = -1;
        n->iso_pe = -1;
    }
}

static void gen_jobs(gen *g, int max_pes)
{
    int n_jobs = 1 + (int)rnd(g, 5);
    int total = n_jobs + (int)rnd(g, (uint64_t)(max_pes - n_jobs + 1));
    int count[5] = { 0 };

    for (int j = 0; j < n_jobs; j++)
        count[j] = 1;
    for (int k = n_jobs; k < total; k++)
        count[rnd(g, (uint64_t)n_jobs)]++;
    for (int j = 0; j < n_jobs; j++) {
        char name[16];
        int job;

        set_text(name, sizeof(name), "job%d", j);
        job = add_job(g, (int)rnd(g, 2), name);
        for (int k = 0; k < count[j]; k++) {
            static const int64_t cpus[] = { 50, 100, 200, 250, 500, 1000 };
            static const int64_t mems[] = { 64, 128, 256, 512, 1024 };
            int pe = add_pe(g, job, "pe%d", k);

            g->pes[pe].cpu = cpus[rnd(g, 6)];
            g->pes[pe].mem = mems[rnd(g, 5)] * MI;
        }
    }
}

/* Reserve up to 3 nodes per job (at most half the nodes) for exclusive pools. */
static void gen_exclusive_nodes(gen *g)
{
    int total = 0;

    for (int j = 0; j < g->n_jobs; j++) {
        int k = 1 + (int)rnd(g, 3);
        int free_nodes[G_MAX_NODES], n_free = 0;

        if (!chance(g, 20) || total + k > g->n_nodes / 2)
            continue;
        for (int i = 0; i < g->n_nodes; i++)
            if (g->nodes[i].excl_job < 0)
                free_nodes[n_free++] = i;
        shuffle(g, free_nodes, n_free);
        for (int i = 0; i < k && i < n_free; i++)
            g->nodes[free_nodes[i]].excl_job = j;
        total += k;
    }
}

/* General nodes: in no exclusive pool and reserved for no isolated PE. */
static int general_free(const gen *g, int *out)
{
    int n = 0;

    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].excl_job < 0 && g->nodes[i].iso_pe < 0)
            out[n++] = i;
    return n;
}

/* A few PEs get a node of their own and isolation. */
static void gen_isolated(gen *g)
{
    int n_iso = chance(g, 40) ? 1 + (int)rnd(g, 3) : 0;

    for (int k = 0; k < n_iso; k++) {
        int free_nodes[G_MAX_NODES], n_free = general_free(g, free_nodes);
        int pe = (int)rnd(g, (uint64_t)g->n_pes), node;

        if (n_free <= 1 || g->pes[pe].hidden >= 0)
            continue;
        node = free_nodes[rnd(g, (uint64_t)n_free)];
        g->nodes[node].iso_pe = pe;
        g->pes[pe].hidden = node;
        g->pes[pe].iso = true;
    }
}

/* Every other PE gets a hidden node among a random subset its job may use. */
static void gen_assign(gen *g)
{
    for (int j = 0; j < g->n_jobs; j++) {
        int allowed[G_MAX_NODES], n_allowed = 0, n_excl = 0, m, next_excl = 0;
        const g_job *job = &g->jobs[j];

        for (int i = 0; i < g->n_nodes; i++) {
            const g_node *n = &g->nodes[i];

            if (n->excl_job >= 0 && n->excl_job != j)
                continue;
            if (n->iso_pe >= 0 && !(g->scope_job && g->pes[n->iso_pe].job != j))
                continue;
            allowed[n_allowed++] = i;
        }
        CU_ASSERT_FATAL(n_allowed > 0);
        shuffle(g, allowed, n_allowed);
        /* the job's exclusive nodes first, so that each gets a PE */
        for (int i = 0; i < n_allowed; i++) {
            if (g->nodes[allowed[i]].excl_job == j) {
                int t = allowed[n_excl];

                allowed[n_excl++] = allowed[i];
                allowed[i] = t;
            }
        }
        m = 1 + (int)rnd(g, (uint64_t)n_allowed);
        if (m < n_excl)
            m = n_excl;
        for (int pe = job->first; pe < job->first + job->count; pe++) {
            if (g->pes[pe].hidden >= 0)
                continue;
            if (next_excl < n_excl)
                g->pes[pe].hidden = allowed[next_excl++];
            else
                g->pes[pe].hidden = allowed[rnd(g, (uint64_t)m)];
        }
    }
}

static void gen_bound(gen *g)
{
    if (!chance(g, 40))
        return;
    for (int i = 0; i < g->n_pes; i++)
        if (chance(g, 15))
            g->pes[i].bound = g->pes[i].hidden;
}

static void gen_colocation(gen *g)
{
    for (int j = 0; j < g->n_jobs; j++) {
        for (int node = 0; node < g->n_nodes; node++) {
            int list[G_MAX_PES], n = 0;
            const g_job *job = &g->jobs[j];

            for (int pe = job->first; pe < job->first + job->count; pe++)
                if (g->pes[pe].hidden == node && !g->pes[pe].iso)
                    list[n++] = pe;
            for (int group = 0; group < 2 && n >= 2; group++) {
                int size;

                if (!chance(g, group == 0 ? 50 : 20))
                    break;
                shuffle(g, list, n);
                size = 2 + (int)rnd(g, (uint64_t)((n < 5 ? n : 5) - 1));
                for (int k = 0; k < size; k++)
                    add_id(g->pes[list[k]].coloc, &g->pes[list[k]].n_coloc, "c%d",
                           g->n_coloc_ids);
                g->n_coloc_ids++;
            }
        }
    }
}

static void gen_exlocation(gen *g)
{
    for (int j = 0; j < g->n_jobs; j++) {
        int groups = chance(g, 50) ? 1 + (int)rnd(g, 2) : 0;
        const g_job *job = &g->jobs[j];

        for (int k = 0; k < groups; k++) {
            int list[G_MAX_PES], n = 0, picked[G_MAX_PES], n_picked = 0;
            int want = 2 + (int)rnd(g, 5);
            bool used[G_MAX_NODES] = { false };

            for (int pe = job->first; pe < job->first + job->count; pe++)
                list[n++] = pe;
            shuffle(g, list, n);
            for (int i = 0; i < n && n_picked < want; i++) {
                if (!used[g->pes[list[i]].hidden]) {
                    used[g->pes[list[i]].hidden] = true;
                    picked[n_picked++] = list[i];
                }
            }
            if (n_picked < 2)
                continue;
            for (int i = 0; i < n_picked; i++)
                add_id(g->pes[picked[i]].exloc, &g->pes[picked[i]].n_exloc, "x%d",
                       g->n_exloc_ids);
            g->n_exloc_ids++;
        }
    }
}

/*
 * Define pool `pi` for the PEs in S (hidden membership D, already in the
 * pool's members): tags common to D and/or explicit hosts containing D,
 * optionally sized, status a prefix of D covering every bound PE, indexes.
 */
static void define_pool(gen *g, int pi, const int *S, int n_s, bool sized,
                        bool force_hosts, int extra_size)
{
    g_pool *p = &g->pools[pi];
    bool common[G_NTAGS];
    int n_common = 0, n_tags = 0;
    bool use_tags, use_hosts;

    for (int t = 0; t < G_NTAGS; t++) {
        common[t] = true;
        for (int m = 0; m < p->n_members; m++)
            common[t] = common[t] && g->nodes[p->members[m]].tag[t];
        n_common += common[t];
    }
    use_tags = !force_hosts && n_common > 0 && chance(g, 60);
    use_hosts = !use_tags || chance(g, 25);
    if (use_tags) {
        for (int t = 0; t < G_NTAGS; t++) {
            if (common[t] && chance(g, 50)) {
                p->tag[t] = true;
                n_tags++;
            }
        }
        for (int t = 0; t < G_NTAGS && n_tags == 0; t++) {
            if (common[t]) {
                p->tag[t] = true;
                n_tags++;
            }
        }
    }
    if (use_hosts) {
        p->has_hosts = true;
        for (int m = 0; m < p->n_members; m++)
            p->host[p->members[m]] = true;
        if (chance(g, 50)) {
            int extra = 1 + (int)rnd(g, 3);

            for (int k = 0; k < extra; k++)
                p->host[rnd(g, (uint64_t)g->n_nodes)] = true;
        }
    }
    if (sized) {
        int need = 0;

        p->size = p->n_members + extra_size;
        if (p->has_hosts && p->size > pool_n_hosts(g, p))
            p->size = pool_n_hosts(g, p);
        p->n_status = chance(g, 40) ? (int)rnd(g, (uint64_t)p->n_members + 1) : 0;
        for (int k = 0; k < n_s; k++) {
            const g_pe *pe = &g->pes[S[k]];

            for (int m = 0; m < p->n_members; m++)
                if (pe->bound >= 0 && p->members[m] == pe->bound && m + 1 > need)
                    need = m + 1;
        }
        if (p->n_status < need)
            p->n_status = need;
    } else {
        p->n_members = 0;
    }
    for (int k = 0; k < n_s; k++) {
        g_pe *pe = &g->pes[S[k]];

        pe->pool = pi;
        if (!sized || !chance(g, 35))
            continue;
        for (int m = 0; m < p->n_members; m++)
            if (p->members[m] == pe->hidden)
                pe->index = m;
    }
}

/* The hidden membership of a pool: the distinct hidden nodes of S, shuffled. */
static void hidden_members(gen *g, int pi, const int *S, int n_s)
{
    g_pool *p = &g->pools[pi];
    bool seen[G_MAX_NODES] = { false };

    p->n_members = 0;
    for (int k = 0; k < n_s; k++) {
        int node = g->pes[S[k]].hidden;

        if (!seen[node]) {
            seen[node] = true;
            p->members[p->n_members++] = node;
        }
    }
    shuffle(g, p->members, p->n_members);
}

static void gen_exclusive_pools(gen *g)
{
    for (int j = 0; j < g->n_jobs; j++) {
        int D[G_MAX_NODES], n_d = 0, S[G_MAX_PES], n_s = 0, pi;
        const g_job *job = &g->jobs[j];
        g_pool *p;

        for (int i = 0; i < g->n_nodes; i++)
            if (g->nodes[i].excl_job == j)
                D[n_d++] = i;
        if (n_d == 0)
            continue;
        for (int pe = job->first; pe < job->first + job->count; pe++)
            if (g->nodes[g->pes[pe].hidden].excl_job == j && chance(g, 85))
                S[n_s++] = pe;
        /* DESIGN 3: an exclusive pool colocated with a PE outside it is an
         * error, so the pool takes whole colocation groups (all on one node) */
        for (int k = 0; k < n_s; k++) {
            for (int pe = job->first; pe < job->first + job->count; pe++) {
                bool in_s = false, shares = false;

                for (int m = 0; m < n_s && !in_s; m++)
                    in_s = S[m] == pe;
                for (int a = 0; a < g->pes[S[k]].n_coloc && !shares; a++)
                    for (int b = 0; b < g->pes[pe].n_coloc; b++)
                        if (strcmp(g->pes[S[k]].coloc[a], g->pes[pe].coloc[b]) == 0)
                            shares = true;
                if (!in_s && shares)
                    S[n_s++] = pe;
            }
        }
        pi = new_pool(g, job->ns, j);
        p = &g->pools[pi];
        p->excl = true;
        shuffle(g, D, n_d);
        memcpy(p->members, D, sizeof(int) * (size_t)n_d);
        p->n_members = n_d;
        define_pool(g, pi, S, n_s, true, chance(g, 70), 0);
        /* the hidden members are exactly the reserved nodes */
        p->size = n_d;
    }
}

static void gen_pools(gen *g)
{
    int n_pools = (int)rnd(g, 7);

    for (int k = 0; k < n_pools && g->n_pools < G_MAX_POOLS; k++) {
        bool shared = chance(g, 30);
        int job = (int)rnd(g, (uint64_t)g->n_jobs);
        int ns = shared ? (int)rnd(g, 2) : g->jobs[job].ns;
        int cand[G_MAX_PES], n_cand = 0, S[G_MAX_PES], n_s = 0, pi;
        bool chosen[G_MAX_NODES] = { false };
        int n_nodes = 1 + (int)rnd(g, 4);

        for (int pe = 0; pe < g->n_pes; pe++) {
            const g_pe *p = &g->pes[pe];

            if (p->pool >= 0 || g->jobs[p->job].ns != ns || (!shared && p->job != job))
                continue;
            cand[n_cand++] = pe;
        }
        if (n_cand == 0)
            continue;
        for (int i = 0; i < n_nodes; i++)
            chosen[g->pes[cand[rnd(g, (uint64_t)n_cand)]].hidden] = true;
        for (int i = 0; i < n_cand; i++)
            if (chosen[g->pes[cand[i]].hidden] && chance(g, 80))
                S[n_s++] = cand[i];
        if (n_s == 0)
            S[n_s++] = cand[0];
        pi = new_pool(g, ns, !shared && chance(g, 70) ? job : -1);
        hidden_members(g, pi, S, n_s);
        define_pool(g, pi, S, n_s, chance(g, 50), false, (int)rnd(g, 3));
    }
}

/* PEs alone on their hidden node (within the scope) may be isolated too. */
static void gen_isolation_extra(gen *g)
{
    for (int i = 0; i < g->n_pes; i++) {
        g_pe *p = &g->pes[i];
        bool alone = true;

        if (p->iso || p->n_coloc > 0)
            continue;
        for (int k = 0; k < g->n_pes && alone; k++) {
            if (k == i || g->pes[k].hidden != p->hidden)
                continue;
            if (!g->scope_job || g->pes[k].job == p->job)
                alone = false;
        }
        if (alone && chance(g, 25))
            p->iso = true;
    }
}

static void gen_capacity(gen *g)
{
    int64_t cpu[G_MAX_NODES] = { 0 }, mem[G_MAX_NODES] = { 0 }, pods[G_MAX_NODES] = { 0 };

    for (int i = 0; i < g->n_nodes; i++) {
        int n = chance(g, 30) ? 1 + (int)rnd(g, 2) : 0;

        for (int k = 0; k < n && g->n_other < G_MAX_OTHER; k++) {
            g_other *o = &g->other[g->n_other];

            o->node = i;
            o->cpu = 100 * (1 + (int64_t)rnd(g, 5));
            o->mem = 128 * MI * (1 + (int64_t)rnd(g, 8));
            set_text(o->uid, sizeof(o->uid), "other-%d", g->n_other);
            cpu[i] += o->cpu;
            mem[i] += o->mem;
            pods[i]++;
            g->n_other++;
        }
    }
    for (int i = 0; i < g->n_pes; i++) {
        const g_pe *p = &g->pes[i];
        int node = p->hidden >= 0 ? p->hidden : p->bound;

        if (node < 0)
            continue;
        cpu[node] += p->cpu;
        mem[node] += p->mem;
        pods[node]++;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        g_node *n = &g->nodes[i];
        bool used = false;

        for (int k = 0; k < g->n_pes && !used; k++)
            used = g->pes[k].hidden == i;
        if (!used) {
            n->cpu = cpu[i] + 1000 + 50 * (int64_t)rnd(g, 160);
            n->mem = mem[i] + GI + 64 * MI * (int64_t)rnd(g, 256);
            n->pods = pods[i] + 4 + (int64_t)rnd(g, 100);
        } else if ((g->tight || g->packing) && chance(g, 50)) {
            /* no slack at all: only the hidden packing fits here */
            n->cpu = cpu[i];
            n->mem = mem[i];
            n->pods = pods[i];
        } else if (g->packing) {
            n->cpu = cpu[i] + 50 * (int64_t)rnd(g, 20);
            n->mem = mem[i] + 64 * MI * (int64_t)rnd(g, 16);
            n->pods = pods[i] + (int64_t)rnd(g, 3);
        } else {
            /* room for a quarter to all of the hidden usage again */
            int pct = 25 + (int)rnd(g, 76);

            n->cpu = cpu[i] + cpu[i] * pct / 100 + 50 * (int64_t)rnd(g, 20);
            n->mem = mem[i] + mem[i] * pct / 100 + 64 * MI * (int64_t)rnd(g, 16);
            n->pods = pods[i] + pods[i] * pct / 100 + 1 + (int64_t)rnd(g, 10);
        }
    }
}

static void gen_feasible(gen *g, uint64_t seed, int max_nodes, int max_pes,
                         bool packing)
{
    memset(g, 0, sizeof(*g));
    g->seed = seed;
    g->poison = P_NONE;
    sp_rng_seed(&g->rng, splitmix(seed));
    g->scope_job = chance(g, 25);
    g->tight = chance(g, 30);
    g->packing = packing;
    gen_nodes(g, max_nodes);
    gen_jobs(g, max_pes);
    gen_exclusive_nodes(g);
    gen_isolated(g);
    gen_assign(g);
    gen_bound(g);
    gen_colocation(g);
    gen_exlocation(g);
    gen_exclusive_pools(g);
    gen_pools(g);
    gen_isolation_extra(g);
    gen_capacity(g);
}

/* ------------------------------------------------------------------------ */
/* Poison: one impossible job added to a feasible instance                    */
/* ------------------------------------------------------------------------ */

/* A pool of the bad job over hosts (a random set of n_hosts distinct nodes). */
static int poison_pool(gen *g, int job, int n_hosts, int64_t size, bool excl)
{
    int pi = new_pool(g, g->jobs[job].ns, job), order[G_MAX_NODES];
    g_pool *p = &g->pools[pi];

    for (int i = 0; i < g->n_nodes; i++)
        order[i] = i;
    shuffle(g, order, g->n_nodes);
    p->has_hosts = true;
    for (int i = 0; i < n_hosts && i < g->n_nodes; i++)
        p->host[order[i]] = true;
    p->size = size;
    p->excl = excl;
    return pi;
}

/* Bind a small PE of job on node, growing the node to keep room for it. */
static void bind_filler(gen *g, int job, int node, int num)
{
    int pe = add_pe(g, job, "fill%d", num);

    g->pes[pe].hidden = node;
    g->pes[pe].bound = node;
    g->pes[pe].cpu = 10;
    g->pes[pe].mem = MI;
    g->nodes[node].cpu += 10;
    g->nodes[node].mem += MI;
    g->nodes[node].pods += 1;
}

/* True when a PE bound on node makes it non-empty for isolation of job. */
static bool bound_isolated_on(const gen *g, int node)
{
    for (int i = 0; i < g->n_pes; i++)
        if (g->pes[i].bound == node && g->pes[i].iso)
            return true;
    return false;
}

static void gen_poison(gen *g, poison_kind kind)
{
    int job = add_job(g, 0, "jbad"), a, b;
    int64_t max_cpu = 0;

    g->poison = kind;
    g->expect_unplaced = true;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].cpu > max_cpu)
            max_cpu = g->nodes[i].cpu;
    switch (kind) {
    case P_EXLOC_POOL: {
        int size = 1 + (int)rnd(g, 3);
        int pi = poison_pool(g, job, size + (int)rnd(g, 3), size, false);
        int m = size + 1 + (int)rnd(g, 2);

        if (pool_n_hosts(g, &g->pools[pi]) < size)
            g->pools[pi].size = pool_n_hosts(g, &g->pools[pi]);
        for (int k = 0; k < m; k++) {
            a = add_pe(g, job, "pe%d", k);
            g->pes[a].pool = pi;
            add_id(g->pes[a].exloc, &g->pes[a].n_exloc, "xbad%d", 0);
        }
        break;
    }
    case P_ISO_FULL:
        a = add_pe(g, job, "pe%d", 0);
        g->pes[a].iso = true;
        for (int i = 0; i < g->n_nodes; i++) {
            if (g->nodes[i].excl_job >= 0) {
                g->expect_unplaced = false; /* may be left empty by its job */
                continue;
            }
            if (!g->scope_job && bound_isolated_on(g, i))
                continue;
            bind_filler(g, job, i, i);
        }
        break;
    case P_CAPACITY:
        a = add_pe(g, job, "pe%d", 0);
        if (chance(g, 50)) {
            g->pes[a].cpu = max_cpu + 1000;
        } else {
            b = add_pe(g, job, "pe%d", 1);
            g->pes[a].cpu = g->pes[b].cpu = max_cpu * 6 / 10 + 50;
            add_id(g->pes[a].coloc, &g->pes[a].n_coloc, "cbad%d", 0);
            add_id(g->pes[b].coloc, &g->pes[b].n_coloc, "cbad%d", 0);
        }
        break;
    case P_COLOC_POOLS: {
        int p1 = new_pool(g, 0, -1), p2 = new_pool(g, 0, -1);
        int n1 = (int)rnd(g, (uint64_t)g->n_nodes);
        int n2 = (n1 + 1 + (int)rnd(g, (uint64_t)g->n_nodes - 1)) % g->n_nodes;

        g->pools[p1].has_hosts = g->pools[p2].has_hosts = true;
        g->pools[p1].host[n1] = true;
        g->pools[p2].host[n2] = true;
        a = add_pe(g, job, "pe%d", 0);
        b = add_pe(g, job, "pe%d", 1);
        g->pes[a].pool = p1;
        g->pes[b].pool = p2;
        add_id(g->pes[a].coloc, &g->pes[a].n_coloc, "cbad%d", 0);
        add_id(g->pes[b].coloc, &g->pes[b].n_coloc, "cbad%d", 0);
        break;
    }
    case P_INDEX_CLASH: {
        int pi = poison_pool(g, job, 2 + (int)rnd(g, 3), 2, false);

        a = add_pe(g, job, "pe%d", 0);
        b = add_pe(g, job, "pe%d", 1);
        g->pes[a].pool = g->pes[b].pool = pi;
        g->pes[a].index = g->pes[b].index = 0;
        add_id(g->pes[a].exloc, &g->pes[a].n_exloc, "xbad%d", 0);
        add_id(g->pes[b].exloc, &g->pes[b].n_exloc, "xbad%d", 0);
        break;
    }
    case P_INDEX_RANGE: {
        int pi = poison_pool(g, job, 2 + (int)rnd(g, 3), 2, false);

        a = add_pe(g, job, "pe%d", 0);
        g->pes[a].pool = pi;
        g->pes[a].index = 2 + (int)rnd(g, 3);
        break;
    }
    case P_MISSING_POOL:
        a = add_pe(g, job, "pe%d", 0);
        g->pes[a].missing_pool = true;
        break;
    case P_EXCL_OCCUPIED: {
        int cand[G_MAX_NODES], n_cand = 0, node, pi, other;

        for (int i = 0; i < g->n_nodes; i++)
            if (g->nodes[i].excl_job < 0 && !bound_isolated_on(g, i))
                cand[n_cand++] = i;
        a = add_pe(g, job, "pe%d", 0);
        if (n_cand == 0) {
            g->pes[a].missing_pool = true;
            break;
        }
        node = cand[rnd(g, (uint64_t)n_cand)];
        pi = new_pool(g, 0, job);
        g->pools[pi].has_hosts = true;
        g->pools[pi].host[node] = true;
        g->pools[pi].size = 1;
        g->pools[pi].excl = true;
        g->pes[a].pool = pi;
        other = add_job(g, 0, "jother");
        bind_filler(g, other, node, 0);
        break;
    }
    case P_ISO_COLOC:
        a = add_pe(g, job, "pe%d", 0);
        b = add_pe(g, job, "pe%d", 1);
        g->pes[a].iso = true;
        add_id(g->pes[a].coloc, &g->pes[a].n_coloc, "cbad%d", 0);
        add_id(g->pes[b].coloc, &g->pes[b].n_coloc, "cbad%d", 0);
        break;
    default:
        CU_FAIL_FATAL("unknown poison");
    }
    for (int i = 0; i < g->n_pes; i++)
        if (g->pes[i].job == job && g->pes[i].bound < 0)
            g->pes[i].poison = true;
}

/* ------------------------------------------------------------------------ */
/* The checker's view                                                         */
/* ------------------------------------------------------------------------ */

/* An assignment: a node name per PE (NULL: none), members per sized pool. */
typedef struct assignment {
    const char *pe_node[G_MAX_PES];
    const char **members[G_MAX_POOLS];
    size_t n_members[G_MAX_POOLS];
    bool absent[G_MAX_PES];     /* not created yet: unknown to the engine */
    /* membership that must be kept (NULL: the pool's status) */
    const char *const *initial[G_MAX_POOLS];
    size_t n_initial[G_MAX_POOLS];
} assignment;

static void fill_pool_names(gen *g, g_pool *p, size_t *n_tags, size_t *n_hosts)
{
    *n_tags = 0;
    *n_hosts = 0;
    for (int t = 0; t < G_NTAGS; t++)
        if (p->tag[t])
            p->tags_v[(*n_tags)++] = tag_names[t];
    for (int i = 0; i < g->n_nodes; i++)
        if (p->has_hosts && p->host[i] && !g->nodes[i].removed)
            p->hosts_v[(*n_hosts)++] = g->nodes[i].name;
    for (int m = 0; m < p->n_members; m++) {
        p->status_v[m] = g->nodes[p->members[m]].name;
        p->hidden_v[m] = g->nodes[p->members[m]].name;
    }
}

/* Build the checker instance of g with assignment a. */
static void to_checker(gen *g, const assignment *a, chk_instance *in)
{
    chk_init(in, g->scope_job);
    for (int i = 0; i < g->n_nodes; i++) {
        const g_node *n = &g->nodes[i];
        const char *tags[G_NTAGS];
        size_t n_tags = 0, idx;
        chk_node_in ni;

        if (n->removed)
            continue;
        for (int t = 0; t < G_NTAGS; t++)
            if (n->tag[t])
                tags[n_tags++] = tag_names[t];
        ni = (chk_node_in){ n->name, tags, n_tags, n->cpu, n->mem, n->pods };
        CU_ASSERT_FATAL(chk_add_node(in, &ni, &idx) == SP_OK);
        for (int k = 0; k < g->n_other; k++)
            if (!g->other[k].removed && g->other[k].node == i)
                chk_node_use(in, idx, g->other[k].cpu, g->other[k].mem, 1);
    }
    for (int pi = 0; pi < g->n_pools; pi++) {
        g_pool *p = &g->pools[pi];
        size_t n_tags, n_hosts, idx;
        chk_pool_in in_p;

        if (p->removed)
            continue;
        fill_pool_names(g, p, &n_tags, &n_hosts);
        in_p = (chk_pool_in){ ns_names[p->ns], p->name,
                              p->job >= 0 ? g->jobs[p->job].name : NULL,
                              p->tags_v, n_tags, p->hosts_v, n_hosts, p->size,
                              p->excl, p->status_v, (size_t)p->n_status };
        if (a->initial[pi]) {
            in_p.initial = a->initial[pi];
            in_p.n_initial = a->n_initial[pi];
        }
        CU_ASSERT_FATAL(chk_add_pool(in, &in_p, &idx) == SP_OK);
        if (p->size > 0)
            CU_ASSERT_FATAL(chk_set_members(in, idx, a->members[pi],
                                            a->n_members[pi]) == SP_OK);
    }
    for (int i = 0; i < g->n_pes; i++) {
        const g_pe *p = &g->pes[i];
        const char *coloc[G_MAX_IDS], *exloc[G_MAX_IDS];
        chk_pe_in pi;

        if (p->removed || a->absent[i])
            continue;
        for (int k = 0; k < p->n_coloc; k++)
            coloc[k] = p->coloc[k];
        for (int k = 0; k < p->n_exloc; k++)
            exloc[k] = p->exloc[k];
        pi = (chk_pe_in){ ns_names[g->jobs[p->job].ns], g->jobs[p->job].name, p->id,
                          p->missing_pool ? "nopool"
                                          : p->pool >= 0 ? g->pools[p->pool].name : NULL,
                          p->index, coloc, (size_t)p->n_coloc, exloc,
                          (size_t)p->n_exloc, p->iso, p->cpu, p->mem, a->pe_node[i] };
        CU_ASSERT_FATAL(chk_add_pe(in, &pi, NULL) == SP_OK);
    }
}

/* The hidden assignment (poisoned PEs unplaced, fillers where bound). */
static void hidden_assignment(gen *g, assignment *a)
{
    memset(a, 0, sizeof(*a));
    for (int i = 0; i < g->n_pes; i++)
        a->pe_node[i] = g->pes[i].hidden >= 0 ? g->nodes[g->pes[i].hidden].name : NULL;
    for (int pi = 0; pi < g->n_pools; pi++) {
        size_t n_tags, n_hosts;

        fill_pool_names(g, &g->pools[pi], &n_tags, &n_hosts);
        a->members[pi] = g->pools[pi].hidden_v;
        a->n_members[pi] = (size_t)g->pools[pi].n_members;
    }
}

/* ------------------------------------------------------------------------ */
/* Driving the engine                                                         */
/* ------------------------------------------------------------------------ */

typedef struct outcome {
    size_t pes, placed, unplaced;
    size_t violations, missing_reasons, moved_bound, poison_unplaced;
    bool engine_error;
    char first[1024];           /* the first problem, for the summary */
    char node[G_MAX_PES][16];   /* where each PE ended up ("" for nowhere) */
} outcome;

static void note(outcome *o, const char *what, const char *detail)
{
    if (o->first[0])
        return;
    if (snprintf(o->first, sizeof(o->first), "%s: %s", what, detail ? detail : "") < 0)
        o->first[0] = '\0';
}

static void fmt_csv(char *buf, size_t len, char ids[][12], int n)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int k = 0; k < n; k++) {
        int w = snprintf(buf + used, len - used, "%s%s", k ? "," : "", ids[k]);

        CU_ASSERT_FATAL(w > 0 && (size_t)w < len - used);
        used += (size_t)w;
    }
}

static void dump_instance(const gen *g, const assignment *a, const place_plan *plan,
                          const place_state *st, const chk_report *rep);

/* The pod name and uid of a PE (formatted apart from the generator, whose
 * one big object the compiler cannot tell from the destination). */
static void name_pod(g_pe *p, const g_job *job)
{
    char pod[sizeof(p->pod)], uid[sizeof(p->uid)];
    int n1 = snprintf(pod, sizeof(pod), "%s-%s", job->name, p->id);
    int n2 = snprintf(uid, sizeof(uid), "%s-%s-%s", ns_names[job->ns], job->name, p->id);

    CU_ASSERT_FATAL(n1 > 0 && (size_t)n1 < sizeof(pod) && n2 > 0 &&
                    (size_t)n2 < sizeof(uid));
    memcpy(p->pod, pod, sizeof(pod));
    memcpy(p->uid, uid, sizeof(uid));
}

static sp_rc load_pes(gen *g, place_state *st, int32_t *pe_idx, bool late, outcome *o)
    __attribute__((warn_unused_result));

/* Load g (all but its late PEs) into a fresh state; engine indexes of PEs and pools in pe_idx, pool_idx. */
static sp_rc load_state(gen *g, place_state **out, int32_t *pe_idx, int32_t *pool_idx,
                        outcome *o)
{
    place_policy pol;
    place_state *st = NULL;
    sp_err err;
    sp_rc rc;

    place_policy_default(&pol);
    if (g->scope_job)
        pol.isolation_scope = PLACE_ISOLATION_JOB;
    rc = place_state_new(&pol, &st);
    if (rc)
        return rc;
    for (int i = 0; i < g->n_nodes; i++) {
        g_node *n = &g->nodes[i];
        place_node_input in;
        size_t n_labels = 0;

        if (n->removed)
            continue;
        for (int t = 0; t < G_NTAGS; t++)
            if (n->tag[t])
                n->labels[n_labels++] = (place_kv){ tag_labels[t], "true" };
        memset(&in, 0, sizeof(in));
        in.name = n->name;
        in.labels = n->labels;
        in.n_labels = n_labels;
        in.allocatable = (place_resources){ n->cpu, n->mem, n->pods };
        in.condition = PLACE_NODE_READY;
        sp_err_clear(&err);
        rc = place_state_put_node(st, &in, NULL, &err);
        if (rc) {
            note(o, "place_state_put_node", err.msg);
            goto fail;
        }
    }
    for (int pi = 0; pi < g->n_pools; pi++) {
        g_pool *p = &g->pools[pi];
        place_pool_spec spec;
        size_t n_tags, n_hosts;

        pool_idx[pi] = PLACE_NONE;
        if (p->removed)
            continue;
        fill_pool_names(g, p, &n_tags, &n_hosts);
        memset(&spec, 0, sizeof(spec));
        spec.namespace_ = ns_names[p->ns];
        spec.name = p->name;
        spec.job = p->job >= 0 ? g->jobs[p->job].name : NULL;
        spec.tags = p->tags_v;
        spec.n_tags = n_tags;
        spec.hosts = p->hosts_v;
        spec.n_hosts = n_hosts;
        spec.has_size = p->size > 0;
        spec.size = p->size;
        spec.exclusive = p->excl;
        spec.members = p->status_v;
        spec.n_members = (size_t)p->n_status;
        sp_err_clear(&err);
        rc = place_state_put_pool(st, &spec, &pool_idx[pi], &err);
        if (rc) {
            note(o, "place_state_put_pool", err.msg);
            goto fail;
        }
        if (err.rc != SP_OK) {
            /* the generator only makes valid pools */
            note(o, "generated pool refused", err.msg);
            o->engine_error = true;
        }
    }
    for (int k = 0; k < g->n_other; k++) {
        g_other *ot = &g->other[k];
        place_pod_input in;

        if (ot->removed || g->nodes[ot->node].removed)
            continue;
        memset(&in, 0, sizeof(in));
        in.namespace_ = "kube-system";
        in.name = ot->uid;
        in.uid = ot->uid;
        in.requests = (place_resources){ ot->cpu, ot->mem, 1 };
        in.node = g->nodes[ot->node].name;
        sp_err_clear(&err);
        rc = place_state_add_pod(st, &in, NULL, &err);
        if (rc) {
            note(o, "place_state_add_pod (other)", err.msg);
            goto fail;
        }
    }
    rc = load_pes(g, st, pe_idx, false, o);
    if (rc)
        goto fail;
    *out = st;
    return SP_OK;
fail:
    o->engine_error = true;
    place_state_free(st);
    return rc;
}

/* Add the PEs (the late ones, or all others) as pods; engine indexes in pe_idx. */
static sp_rc load_pes(gen *g, place_state *st, int32_t *pe_idx, bool late, outcome *o)
{
    sp_err err;
    sp_rc rc;

    for (int i = 0; i < g->n_pes; i++) {
        g_pe *p = &g->pes[i];
        const g_job *job = &g->jobs[p->job];
        place_pod_input in;
        size_t n_ann = 0;

        if (p->late != late)
            continue;
        pe_idx[i] = PLACE_NONE;
        if (p->removed)
            continue;
        name_pod(p, job);
        p->labels[0] = (place_kv){ PLACE_LABEL_JOB, job->name };
        p->labels[1] = (place_kv){ PLACE_LABEL_PE, p->id };
        if (p->missing_pool)
            p->ann[n_ann++] = (place_kv){ PLACE_ANN_POOL, "nopool" };
        else if (p->pool >= 0)
            p->ann[n_ann++] = (place_kv){ PLACE_ANN_POOL, g->pools[p->pool].name };
        if (p->index >= 0) {
            set_text(p->index_s, sizeof(p->index_s), "%d", p->index);
            p->ann[n_ann++] = (place_kv){ PLACE_ANN_POOL_INDEX, p->index_s };
        }
        if (p->n_coloc > 0) {
            fmt_csv(p->coloc_s, sizeof(p->coloc_s), p->coloc, p->n_coloc);
            p->ann[n_ann++] = (place_kv){ PLACE_ANN_COLOCATION, p->coloc_s };
        }
        if (p->n_exloc > 0) {
            fmt_csv(p->exloc_s, sizeof(p->exloc_s), p->exloc, p->n_exloc);
            p->ann[n_ann++] = (place_kv){ PLACE_ANN_EXLOCATION, p->exloc_s };
        }
        if (p->iso)
            p->ann[n_ann++] = (place_kv){ PLACE_ANN_ISOLATION, "true" };
        else if (i % 3 == 0)
            p->ann[n_ann++] = (place_kv){ PLACE_ANN_ISOLATION, "false" };
        memset(&in, 0, sizeof(in));
        in.namespace_ = ns_names[job->ns];
        in.name = p->pod;
        in.uid = p->uid;
        in.labels = p->labels;
        in.n_labels = 2;
        in.annotations = p->ann;
        in.n_annotations = n_ann;
        in.requests = (place_resources){ p->cpu, p->mem, 1 };
        in.node = p->bound >= 0 ? g->nodes[p->bound].name : NULL;
        sp_err_clear(&err);
        rc = place_state_add_pod(st, &in, &pe_idx[i], &err);
        if (rc) {
            note(o, "place_state_add_pod", err.msg);
            o->engine_error = true;
            return rc;
        }
        if (pe_idx[i] == PLACE_NONE) {
            note(o, "PE pod not recognised as a PE", p->uid);
            o->engine_error = true;
        }
    }
    return SP_OK;
}

/* The sized pools' membership now, "" slots (not filled yet) as NULL. */
static sp_rc read_members(gen *g, place_state *st, const int32_t *pool_idx,
                          assignment *a, outcome *o)
{
    for (int pi = 0; pi < g->n_pools; pi++) {
        sp_rc rc;

        sp_free(a->members[pi]);
        a->members[pi] = NULL;
        a->n_members[pi] = 0;
        if (g->pools[pi].removed || g->pools[pi].size == 0 || pool_idx[pi] == PLACE_NONE)
            continue;
        rc = place_pool_hosts(st, pool_idx[pi], &a->members[pi], &a->n_members[pi]);
        if (rc) {
            o->engine_error = true;
            note(o, "place_pool_hosts", sp_strerror(rc));
            return rc;
        }
        /* the engine reports a slot not filled yet (below a filled one, when
         * an index chose it) as "" */
        for (size_t m = 0; m < a->n_members[pi]; m++)
            if (a->members[pi][m] && !a->members[pi][m][0])
                a->members[pi][m] = NULL;
    }
    return SP_OK;
}

/*
 * Judge the state: where every PE is, a reason for every unplaced one (from
 * plan, when there is one), bound PEs kept, and the checker's verdict on it
 * all. Counts go to o; with verbose, the instance is dumped.
 */
static void judge(gen *g, place_state *st, const place_plan *plan,
                  const int32_t *pe_idx, const int32_t *pool_idx, assignment *a,
                  bool verbose, outcome *o)
{
    chk_instance in;
    chk_report rep;
    sp_rc rc;

    o->pes = o->placed = o->unplaced = o->poison_unplaced = 0;
    if (read_members(g, st, pool_idx, a, o))
        return;
    for (int i = 0; i < g->n_pes; i++) {
        const g_pe *p = &g->pes[i];
        place_pe_info info;
        const place_unplaced *u = NULL;

        a->pe_node[i] = NULL;
        a->absent[i] = pe_idx[i] == PLACE_NONE;
        o->node[i][0] = '\0';
        if (p->removed || pe_idx[i] == PLACE_NONE)
            continue;
        o->pes++;
        place_pe_get(st, pe_idx[i], &info);
        for (size_t k = 0; plan && k < plan->n_unplaced; k++)
            if (plan->unplaced[k].pe == pe_idx[i])
                u = &plan->unplaced[k];
        if (info.node != PLACE_NONE) {
            a->pe_node[i] = place_node_name(st, info.node);
            if (snprintf(o->node[i], sizeof(o->node[i]), "%s", a->pe_node[i]) < 0)
                o->node[i][0] = '\0';
            o->placed++;
            if (u) {
                o->missing_reasons++;
                note(o, "PE both placed and listed unplaced", p->uid);
            }
        } else {
            o->unplaced++;
            if (p->poison)
                o->poison_unplaced++;
            if (g->mode != MODE_FILTER && (!u || !u->reason || !u->reason[0])) {
                o->missing_reasons++;
                note(o, "unplaced PE without a reason", p->uid);
            }
        }
        if (p->bound >= 0 && (!a->pe_node[i] ||
                              strcmp(a->pe_node[i], g->nodes[p->bound].name) != 0)) {
            o->moved_bound++;
            note(o, "bound PE moved", p->uid);
        }
    }
    to_checker(g, a, &in);
    rc = chk_check(&in, &rep);
    chk_free(&in);
    CU_ASSERT_FATAL(rc == SP_OK);
    o->violations += rep.n;
    if (rep.n)
        note(o, "violation", rep.v[0]);
    if (g->expect_unplaced && o->poison_unplaced == 0)
        note(o, "impossible PEs all placed", poison_names[g->poison]);
    if (verbose)
        dump_instance(g, a, plan, st, &rep);
    chk_report_free(&rep);
}

/* Membership to keep from now on: a copy of a's members. */
typedef struct kept {
    char name[G_MAX_POOLS][G_MAX_NODES][16];
    const char *v[G_MAX_POOLS][G_MAX_NODES];
} kept;

static void keep_members(const gen *g, assignment *a, kept *k)
{
    for (int pi = 0; pi < g->n_pools; pi++) {
        a->initial[pi] = NULL;
        if (!a->members[pi])
            continue;
        for (size_t m = 0; m < a->n_members[pi] && m < G_MAX_NODES; m++) {
            k->v[pi][m] = NULL;
            if (a->members[pi][m] &&
                snprintf(k->name[pi][m], sizeof(k->name[pi][m]), "%s",
                         a->members[pi][m]) > 0)
                k->v[pi][m] = k->name[pi][m];
        }
        a->initial[pi] = k->v[pi];
        a->n_initial[pi] = a->n_members[pi];
    }
}

/*
 * The extender's way: every pending PE, in an order drawn from the seed, is
 * filtered over every node and bound where the filter narrowed it. The chosen
 * node must have been allowed; a PE left with no node must have a reason for
 * every node.
 */
static sp_rc run_filters(gen *g, place_state *st, const int32_t *pe_idx, outcome *o)
{
    int32_t nodes[G_MAX_NODES];
    place_reason verdicts[G_MAX_NODES];
    int order[G_MAX_PES], n_order = 0;
    size_t n = 0;
    sp_rng rng;

    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].removed)
            nodes[n++] = place_state_find_node(st, g->nodes[i].name);
    for (int i = 0; i < g->n_pes; i++)
        if (!g->pes[i].removed && g->pes[i].bound < 0 && pe_idx[i] != PLACE_NONE)
            order[n_order++] = i;
    sp_rng_seed(&rng, splitmix(g->seed ^ 0xf11e7ULL));
    for (int i = n_order - 1; i > 0; i--) {
        int j = (int)sp_rng_below(&rng, (uint64_t)i + 1), t = order[i];

        order[i] = order[j];
        order[j] = t;
    }
    for (int k = 0; k < n_order; k++) {
        const g_pe *p = &g->pes[order[k]];
        int32_t pe = pe_idx[order[k]];
        place_filter_result res;
        sp_rc rc = place_filter(st, pe, nodes, n, verdicts, &res);

        if (rc) {
            o->engine_error = true;
            note(o, "place_filter", sp_strerror(rc));
            return rc;
        }
        if (res.chosen == PLACE_NONE) {
            for (size_t i = 0; i < n; i++) {
                sp_buf b;
                bool empty;

                sp_buf_init(&b, 4096);
                rc = place_reason_format(st, &verdicts[i], &b);
                empty = rc || verdicts[i].code == PLACE_R_OK || b.len == 0;
                sp_buf_free(&b);
                if (empty) {
                    o->missing_reasons++;
                    note(o, "filter chose no node but gave a node no reason", p->uid);
                    break;
                }
            }
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            if (nodes[i] == res.chosen && verdicts[i].code != PLACE_R_OK) {
                o->engine_error = true;
                note(o, "filter chose a node it refused", p->uid);
            }
        }
        rc = place_state_bind(st, pe, res.chosen);
        if (rc) {
            o->engine_error = true;
            note(o, "place_state_bind", sp_strerror(rc));
            return rc;
        }
    }
    return SP_OK;
}

/*
 * Run g through the engine in its mode and judge the outcome: every
 * constraint, every bound PE kept, a reason for every unplaced PE. With
 * verbose, dump it all.
 */
static void run_engine(gen *g, bool verbose, outcome *o)
{
    int32_t pe_idx[G_MAX_PES], pool_idx[G_MAX_POOLS];
    place_state *st = NULL;
    place_plan *plan = NULL;
    place_plan_opts opts;
    assignment a;
    kept *k = NULL;
    sp_rc rc;

    memset(o, 0, sizeof(*o));
    memset(&a, 0, sizeof(a));
    for (int i = 0; i < G_MAX_PES; i++)
        pe_idx[i] = PLACE_NONE;
    if (load_state(g, &st, pe_idx, pool_idx, o))
        return;
    memset(&opts, 0, sizeof(opts));
    opts.seed = g->seed;
    opts.explain = g->seed % 8 == 0;
    if (g->mode == MODE_FILTER) {
        if (run_filters(g, st, pe_idx, o))
            goto out;
    } else {
        rc = place_plan_all(st, &opts, &plan);
        if (rc) {
            o->engine_error = true;
            note(o, "place_plan_all", sp_strerror(rc));
            goto out;
        }
    }
    if (g->mode == MODE_WAVES) {
        /* the first plan must hold already; its membership is kept after */
        judge(g, st, plan, pe_idx, pool_idx, &a, false, o);
        k = sp_calloc(1, sizeof(*k));
        CU_ASSERT_FATAL(k != NULL);
        keep_members(g, &a, k);
        place_plan_free(plan);
        plan = NULL;
        if (load_pes(g, st, pe_idx, true, o))
            goto out;
        rc = place_plan_all(st, &opts, &plan);
        if (rc) {
            o->engine_error = true;
            note(o, "place_plan_all (second wave)", sp_strerror(rc));
            goto out;
        }
    }
    judge(g, st, plan, pe_idx, pool_idx, &a, verbose, o);
out:
    for (int pi = 0; pi < g->n_pools; pi++)
        sp_free(a.members[pi]);
    sp_free(k);
    place_plan_free(plan);
    place_state_free(st);
}

/* ------------------------------------------------------------------------ */
/* Printing and shrinking a failure                                           */
/* ------------------------------------------------------------------------ */

static void dump_instance(const gen *g, const assignment *a, const place_plan *plan,
                          const place_state *st, const chk_report *rep)
{
    fprintf(stderr, "--- instance seed=%" PRIu64 " mode=%s scope=%s poison=%s\n", g->seed,
            g->mode == MODE_PLAN ? "plan" : g->mode == MODE_WAVES ? "waves" : "filter",
            g->scope_job ? "job" : "cluster",
            g->poison == P_NONE ? "none" : poison_names[g->poison]);
    for (int i = 0; i < g->n_nodes; i++) {
        const g_node *n = &g->nodes[i];
        int64_t ocpu = 0, omem = 0, opods = 0;

        if (n->removed)
            continue;
        for (int k = 0; k < g->n_other; k++) {
            if (!g->other[k].removed && g->other[k].node == i) {
                ocpu += g->other[k].cpu;
                omem += g->other[k].mem;
                opods++;
            }
        }
        fprintf(stderr, "node %s tags=", n->name);
        for (int t = 0, c = 0; t < G_NTAGS; t++)
            if (n->tag[t])
                fprintf(stderr, "%s%s", c++ ? "," : "", tag_names[t]);
        fprintf(stderr, " alloc=%" PRId64 "m/%" PRId64 "Mi/%" PRId64
                " other=%" PRId64 "m/%" PRId64 "Mi/%" PRId64 "\n",
                n->cpu, n->mem / MI, n->pods, ocpu, omem / MI, opods);
    }
    for (int pi = 0; pi < g->n_pools; pi++) {
        const g_pool *p = &g->pools[pi];

        if (p->removed)
            continue;
        fprintf(stderr, "pool %s/%s job=%s size=%" PRId64 "%s tags=", ns_names[p->ns],
                p->name, p->job >= 0 ? g->jobs[p->job].name : "-", p->size,
                p->excl ? " exclusive" : "");
        for (int t = 0, c = 0; t < G_NTAGS; t++)
            if (p->tag[t])
                fprintf(stderr, "%s%s", c++ ? "," : "", tag_names[t]);
        fprintf(stderr, " hosts=");
        for (int i = 0, c = 0; i < g->n_nodes; i++)
            if (p->has_hosts && p->host[i] && !g->nodes[i].removed)
                fprintf(stderr, "%s%s", c++ ? "," : "", g->nodes[i].name);
        fprintf(stderr, " status=");
        for (int m = 0; m < p->n_status; m++)
            fprintf(stderr, "%s%s", m ? "," : "", g->nodes[p->members[m]].name);
        fprintf(stderr, " hidden=");
        for (int m = 0; m < p->n_members; m++)
            fprintf(stderr, "%s%s", m ? "," : "", g->nodes[p->members[m]].name);
        fprintf(stderr, " engine=");
        for (size_t m = 0; a && m < a->n_members[pi]; m++)
            fprintf(stderr, "%s%s", m ? "," : "",
                    a->members[pi][m] ? a->members[pi][m] : "(empty)");
        fprintf(stderr, "\n");
    }
    for (int i = 0; i < g->n_pes; i++) {
        const g_pe *p = &g->pes[i];

        if (p->removed)
            continue;
        fprintf(stderr, "pe %s/%s/%s cpu=%" PRId64 "m mem=%" PRId64 "Mi",
                ns_names[g->jobs[p->job].ns], g->jobs[p->job].name, p->id, p->cpu,
                p->mem / MI);
        if (p->missing_pool)
            fprintf(stderr, " pool=nopool");
        else if (p->pool >= 0)
            fprintf(stderr, " pool=%s", g->pools[p->pool].name);
        if (p->index >= 0)
            fprintf(stderr, "[%d]", p->index);
        for (int k = 0; k < p->n_coloc; k++)
            fprintf(stderr, "%s%s", k ? "," : " coloc=", p->coloc[k]);
        for (int k = 0; k < p->n_exloc; k++)
            fprintf(stderr, "%s%s", k ? "," : " exloc=", p->exloc[k]);
        fprintf(stderr, "%s%s hidden=%s%s -> %s\n", p->iso ? " isolated" : "",
                p->late ? " late" : "",
                p->hidden >= 0 ? g->nodes[p->hidden].name : "-",
                p->bound >= 0 ? " (bound)" : "",
                a && a->pe_node[i] ? a->pe_node[i] : "UNPLACED");
    }
    for (size_t k = 0; plan && k < plan->n_unplaced; k++) {
        place_pe_info info;

        place_pe_get(st, plan->unplaced[k].pe, &info);
        fprintf(stderr, "unplaced %s/%s/%s: %s\n", info.namespace_, info.job, info.pe,
                plan->unplaced[k].reason ? plan->unplaced[k].reason : "(no reason)");
        for (size_t n = 0; n < plan->unplaced[k].n_nodes && n < 8; n++)
            fprintf(stderr, "    %s: %s\n",
                    place_node_name(st, plan->unplaced[k].nodes[n]),
                    plan->unplaced[k].node_reasons[n]);
    }
    for (size_t k = 0; rep && k < rep->n; k++)
        fprintf(stderr, "VIOLATION %s\n", rep->v[k]);
    fprintf(stderr, "---\n");
}

typedef enum failure {
    F_NONE,
    F_UNSOLVED,                 /* feasible but not every PE placed */
    F_POISON_PLACED,            /* an impossible PE placed (with no violation) */
    F_REASON,                   /* unplaced PE without reason */
    F_MOVED,                    /* bound PE moved */
    F_VIOLATION,                /* the checker objects */
    F_ENGINE,                   /* the engine returned an error */
} failure;

static failure classify(const gen *g, const outcome *o)
{
    if (o->engine_error)
        return F_ENGINE;
    if (o->violations)
        return F_VIOLATION;
    if (o->moved_bound)
        return F_MOVED;
    if (o->missing_reasons)
        return F_REASON;
    if (g->expect_unplaced && o->poison_unplaced == 0)
        return F_POISON_PLACED;
    if (g->poison == P_NONE && o->unplaced)
        return F_UNSOLVED;
    return F_NONE;
}

/* Whether node i is referenced by anything still alive. */
static bool node_in_use(const gen *g, int i)
{
    for (int k = 0; k < g->n_pes; k++)
        if (!g->pes[k].removed && (g->pes[k].hidden == i || g->pes[k].bound == i))
            return true;
    for (int k = 0; k < g->n_other; k++)
        if (!g->other[k].removed && g->other[k].node == i)
            return true;
    for (int pi = 0; pi < g->n_pools; pi++) {
        const g_pool *p = &g->pools[pi];

        if (p->removed)
            continue;
        if (p->has_hosts && p->host[i])
            return true;
        for (int m = 0; m < p->n_members; m++)
            if (p->members[m] == i)
                return true;
    }
    return false;
}

/*
 * Remove PEs, pools, other pods and nodes one at a time while the instance
 * still fails the same way. Removing any of them keeps a feasible instance
 * feasible (the hidden assignment restricted to what is left still holds).
 */
static void shrink(gen *g, failure f)
{
    bool progress = true;
    outcome o;

    while (progress) {
        progress = false;
        for (int i = g->n_pes - 1; i >= 0; i--) {
            if (g->pes[i].removed)
                continue;
            g->pes[i].removed = true;
            run_engine(g, false, &o);
            if (classify(g, &o) == f)
                progress = true;
            else
                g->pes[i].removed = false;
        }
        for (int pi = 0; pi < g->n_pools; pi++) {
            int saved_pool[G_MAX_PES], saved_index[G_MAX_PES];

            if (g->pools[pi].removed)
                continue;
            g->pools[pi].removed = true;
            for (int i = 0; i < g->n_pes; i++) {
                saved_pool[i] = g->pes[i].pool;
                saved_index[i] = g->pes[i].index;
                if (g->pes[i].pool == pi) {
                    g->pes[i].pool = -1;
                    g->pes[i].index = -1;
                }
            }
            run_engine(g, false, &o);
            if (classify(g, &o) == f) {
                progress = true;
                continue;
            }
            g->pools[pi].removed = false;
            for (int i = 0; i < g->n_pes; i++) {
                g->pes[i].pool = saved_pool[i];
                g->pes[i].index = saved_index[i];
            }
        }
        /* relax what is left: every constraint dropped keeps it feasible */
        for (int i = 0; i < g->n_pes; i++) {
            g_pe *p = &g->pes[i];

            for (int what = 0; what < 5 && !p->removed; what++) {
                g_pe saved = *p;

                if (what == 0 && p->n_coloc)
                    p->n_coloc = 0;
                else if (what == 1 && p->n_exloc)
                    p->n_exloc = 0;
                else if (what == 2 && p->iso && !p->poison)
                    p->iso = false;
                else if (what == 3 && p->index >= 0)
                    p->index = -1;
                else if (what == 4 && p->bound >= 0 && !p->poison && g->poison == P_NONE)
                    p->bound = -1;
                else
                    continue;
                run_engine(g, false, &o);
                if (classify(g, &o) == f)
                    progress = true;
                else
                    *p = saved;
            }
        }
        for (int k = 0; k < g->n_other; k++) {
            if (g->other[k].removed)
                continue;
            g->other[k].removed = true;
            run_engine(g, false, &o);
            if (classify(g, &o) == f)
                progress = true;
            else
                g->other[k].removed = false;
        }
        for (int i = 0; i < g->n_nodes; i++) {
            if (g->nodes[i].removed || node_in_use(g, i))
                continue;
            g->nodes[i].removed = true;
            run_engine(g, false, &o);
            if (classify(g, &o) == f)
                progress = true;
            else
                g->nodes[i].removed = false;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* The families                                                               */
/* ------------------------------------------------------------------------ */

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long env_long(const char *name, long dflt)
{
    const char *s = getenv(name);
    int64_t v;

    if (!s || sp_parse_int64(s, 0, INT64_MAX, &v) != SP_OK)
        return dflt;
    return (long)v;
}

/* Whether SP_RANDOM_FAMILY names this family (unset: "feasible"). */
static bool family_is(const char *family)
{
    const char *s = getenv("SP_RANDOM_FAMILY");

    return strcmp(s ? s : "feasible", family) == 0;
}

/* The generator must produce instances its own hidden assignment satisfies. */
static void self_check(gen *g)
{
    assignment a;
    chk_instance in;
    chk_report rep;

    hidden_assignment(g, &a);
    to_checker(g, &a, &in);
    CU_ASSERT_FATAL(chk_check(&in, &rep) == SP_OK);
    if (rep.n) {
        fprintf(stderr, "\ngenerator bug, seed=%" PRIu64 ": %s\n", g->seed, rep.v[0]);
        dump_instance(g, &a, NULL, NULL, &rep);
    }
    CU_ASSERT_EQUAL(rep.n, 0);
    chk_report_free(&rep);
    chk_free(&in);
}

/* Shrink a failing instance and dump what is left. */
static void shrink_and_dump(gen *g, failure f)
{
    outcome o;

    shrink(g, f);
    fprintf(stderr, "shrunk to:\n");
    run_engine(g, true, &o);
}

static const char *const failure_names[] = {
    "none", "unsolved", "impossible PE placed", "unplaced PE without reason",
    "bound PE moved", "violation", "engine error"
};

/* Report one failing instance: its seed, and a shrunk dump for the first few. */
static void report_failure(gen *g, failure f, const outcome *o, unsigned *reported,
                           const char *family)
{
    fprintf(stderr, "\n%s instance seed=%" PRIu64 " (SP_RANDOM_FAMILY=%s SP_RANDOM_SEED=%"
            PRIu64 "): %s: %s\n", family, g->seed, family, g->seed, failure_names[f],
            o->first);
    if ((*reported)++ >= MAX_REPORTED)
        return;
    shrink_and_dump(g, f);
}

/* Same seed, same plan (place_plan_opts.seed): plan g again and compare. */
static void check_deterministic(gen *g, const outcome *first)
{
    outcome *again = sp_calloc(1, sizeof(*again));

    CU_ASSERT_FATAL(again != NULL);
    run_engine(g, false, again);
    for (int i = 0; i < g->n_pes; i++) {
        if (strcmp(first->node[i], again->node[i]) != 0) {
            fprintf(stderr, "\nseed=%" PRIu64 ": not deterministic: PE %s on '%s', "
                    "then on '%s'\n", g->seed, g->pes[i].uid, first->node[i],
                    again->node[i]);
            CU_FAIL("same seed, different plan");
            break;
        }
    }
    sp_free(again);
}

/* Instance features, to break the solve rate down by what an instance uses. */
enum { FT_ISOLATION, FT_TIGHT, FT_EXCLUSIVE, FT_INDEX, FT_MULTI_JOB, FT_BOUND,
       FT_SCOPE_JOB, FT_PLAIN, FT_COUNT };
static const char *const feature_names[FT_COUNT] = {
    "isolation", "tight", "exclusive", "index", "multi-job", "bound",
    "scope-job", "none of isolation/tight/exclusive"
};

static void features(const gen *g, bool *ft)
{
    memset(ft, 0, sizeof(bool) * FT_COUNT);
    ft[FT_TIGHT] = g->tight || g->packing;
    ft[FT_MULTI_JOB] = g->n_jobs > 1;
    ft[FT_SCOPE_JOB] = g->scope_job;
    for (int i = 0; i < g->n_pes; i++) {
        ft[FT_ISOLATION] |= g->pes[i].iso;
        ft[FT_INDEX] |= g->pes[i].index >= 0;
        ft[FT_BOUND] |= g->pes[i].bound >= 0;
    }
    for (int pi = 0; pi < g->n_pools; pi++)
        ft[FT_EXCLUSIVE] |= g->pools[pi].excl;
    ft[FT_PLAIN] = !ft[FT_ISOLATION] && !ft[FT_TIGHT] && !ft[FT_EXCLUSIVE];
}

/*
 * Run count feasible instances from base_seed in mode; zero failures, and
 * when min_permille > 0, at least that share of instances fully placed.
 */
static void family(const char *name, run_mode mode, bool packing, uint64_t base_seed,
                   long dflt, unsigned min_permille)
{
    long count = env_long("SP_RANDOM_COUNT", dflt);
    long one = env_long("SP_RANDOM_SEED", -1);
    bool only = one >= 0 && family_is(name);
    bool shrink_one = env_long("SP_RANDOM_SHRINK", 0) > 0;
    size_t solved = 0, instances = 0, pes = 0, placed = 0, bad = 0;
    size_t ft_total[FT_COUNT] = { 0 }, ft_solved[FT_COUNT] = { 0 };
    unsigned reported = 0;
    double t0 = now_s();
    gen *g;

    if (one >= 0 && !only)
        return;
    g = sp_calloc(1, sizeof(*g));
    CU_ASSERT_FATAL(g != NULL);
    for (long i = 0; i < (only ? 1 : count); i++) {
        uint64_t seed = only ? (uint64_t)one : base_seed + (uint64_t)i;
        outcome o;
        failure f;
        bool ft[FT_COUNT];

        gen_feasible(g, seed, 60, 150, packing);
        self_check(g);
        g->mode = mode;
        if (mode == MODE_WAVES)
            for (int k = 0; k < g->n_pes; k++)
                g->pes[k].late = g->pes[k].bound < 0 && chance(g, 40);
        run_engine(g, only && !shrink_one, &o);
        instances++;
        pes += o.pes;
        placed += o.placed;
        f = classify(g, &o);
        if (i % 20 == 0 && !only)
            check_deterministic(g, &o);
        features(g, ft);
        for (int k = 0; k < FT_COUNT; k++) {
            ft_total[k] += ft[k];
            ft_solved[k] += ft[k] && f == F_NONE;
        }
        if (only && shrink_one && f != F_NONE)
            shrink_and_dump(g, f);
        if (f == F_NONE) {
            solved++;
            continue;
        }
        if (f == F_UNSOLVED) {
            if (!only && instances - solved <= MAX_UNSOLVED_LISTED) {
                fprintf(stderr, "\nunsolved %s instance seed=%" PRIu64
                        ": %zu of %zu PEs unplaced (", name, seed, o.unplaced, o.pes);
                for (int k = 0, c = 0; k < FT_PLAIN; k++)
                    if (ft[k])
                        fprintf(stderr, "%s%s", c++ ? " " : "", feature_names[k]);
                fprintf(stderr, ")\n");
            }
            if (reported < 2 && !only && min_permille > 0) {
                reported++;
                shrink_and_dump(g, f);
            }
            continue;
        }
        bad++;
        if (!only)
            report_failure(g, f, &o, &reported, name);
    }
    fprintf(stderr, "\nrandom %s: %zu instances, %.1f%% solved, %zu/%zu PEs placed, "
            "%zu failing, %.2f s\n", name, instances,
            instances ? 100.0 * (double)solved / (double)instances : 0.0, placed, pes,
            bad, now_s() - t0);
    fprintf(stderr, "  solved by feature:");
    for (int k = 0; k < FT_COUNT; k++)
        fprintf(stderr, "%s %s %zu/%zu", k ? "," : "", feature_names[k], ft_solved[k],
                ft_total[k]);
    fprintf(stderr, "\n");
    CU_ASSERT_EQUAL(bad, 0);
    if (!only && min_permille > 0)
        CU_ASSERT_TRUE(solved * 1000 >= instances * min_permille);
    sp_free(g);
}

static void t_feasible(void)
{
    family("feasible", MODE_PLAN, false, BASE_SEED, N_FEASIBLE, MIN_SOLVED_PERMILLE);
}

/* Bin packing: every used node at or next to its hidden usage. Exact packing
 * is hard in general, so the solve rate is reported, not required. */
static void t_packing(void)
{
    family("packing", MODE_PLAN, true, PACKING_SEED, N_PACKING, 0);
}

/* Plans made before the rest of the PEs exist must hold, and their pool
 * membership must be kept; no solve rate is required (the first plan could
 * not know what came later). */
static void t_two_waves(void)
{
    family("waves", MODE_WAVES, false, WAVES_SEED, N_WAVES, 0);
}

/* The extender path: filter alone must enforce every hard constraint. */
static void t_filter(void)
{
    family("filter", MODE_FILTER, false, FILTER_SEED, N_FILTER, 0);
}

static void t_infeasible(void)
{
    long count = env_long("SP_RANDOM_COUNT", N_INFEASIBLE);
    long one = env_long("SP_RANDOM_SEED", -1);
    bool only = one >= 0 && family_is("infeasible");
    bool shrink_one = env_long("SP_RANDOM_SHRINK", 0) > 0;
    size_t instances = 0, pes = 0, placed = 0, unplaced = 0, bad = 0;
    size_t per_kind[P_KINDS] = { 0 };
    unsigned reported = 0;
    double t0 = now_s();
    gen *g;

    if (one >= 0 && !only)
        return;
    g = sp_calloc(1, sizeof(*g));
    CU_ASSERT_FATAL(g != NULL);
    for (long i = 0; i < (only ? 1 : count); i++) {
        uint64_t seed = only ? (uint64_t)one : INFEASIBLE_SEED + (uint64_t)i;
        outcome o;
        failure f;

        gen_feasible(g, seed, 20, 60, false);
        gen_poison(g, (poison_kind)(seed % P_KINDS));
        run_engine(g, only && !shrink_one, &o);
        instances++;
        per_kind[g->poison]++;
        pes += o.pes;
        placed += o.placed;
        unplaced += o.unplaced;
        f = classify(g, &o);
        if (only && shrink_one && f != F_NONE && f != F_UNSOLVED)
            shrink_and_dump(g, f);
        if (f == F_NONE || f == F_UNSOLVED)
            continue;
        bad++;
        if (!only)
            report_failure(g, f, &o, &reported, "infeasible");
    }
    fprintf(stderr, "\nrandom infeasible: %zu instances (%zu kinds), %zu/%zu PEs placed, "
            "%zu unplaced with reasons, %zu failing, %.2f s\n", instances,
            (size_t)P_KINDS, placed, pes, unplaced, bad, now_s() - t0);
    CU_ASSERT_EQUAL(bad, 0);
    sp_free(g);
}

static const sp_test tests[] = {
    SP_TEST(t_feasible),
    SP_TEST(t_packing),
    SP_TEST(t_two_waves),
    SP_TEST(t_filter),
    SP_TEST(t_infeasible),
    SP_TEST_END
};

int main(void)
{
    return sp_test_run("test_random", tests);
}
