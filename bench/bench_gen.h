/*
 * A seeded generator of realistic clusters for the benchmarks (bench/): Nodes
 * with the labels a cloud node carries (hostname, zone, instance type, tags
 * under tag.streams.io/), allocatable cpu, memory and pods, a few NotReady,
 * cordoned and tainted ones; streaming jobs whose PE pods have several
 * containers with requests and a mix of constraints (shared and per-job
 * HostPools, sized, indexed and exclusive ones, colocation pairs, exlocation
 * groups, isolation, non-relocatable PEs, job-pe-count); and the daemonset
 * pods every node runs. The same seed gives the same cluster.
 *
 * The cluster can be loaded into a place_state (the in-process benchmarks),
 * or planned once with the engine itself and written as JSON files for
 * `streams-placer serve --nodes --hostpools --pods`: PEs are then bound
 * where that plan put them, so the state a benchmark starts from breaks no
 * constraint, as in a cluster this placer has been running.
 */
#ifndef SP_BENCH_GEN_H
#define SP_BENCH_GEN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "placement/place.h"
#include "util/sp_error.h"

#define BG_NTAGS 6              /* node tags: compute ssd highmem ingest gpu edge */
#define BG_NNS 3                /* namespaces streams-a, -b, -c */
#define BG_SHARED_POOLS 4       /* shared pools per namespace: compute ssd highmem ingest */

typedef struct bg_config {
    uint64_t seed;
    int nodes;
    int pes;                    /* PE pods */
    int other_per_node;         /* non-PE (daemonset) pods bound on every node */
    int single_job;             /* 1: every PE in one job (whole-job plan bench) */
    int job_min, job_max;       /* PEs per job, uniform; 0: 4..40 */
} bg_config;

typedef struct bg_node {
    char name[24];
    unsigned tags;              /* bit i: bg_tag_name(i) */
    int zone;
    int type;                   /* instance type index */
    int64_t cpu_milli, memory, pods;
    place_node_condition condition;
    bool tainted;               /* dedicated=gpu:NoSchedule, which PEs do not tolerate */
} bg_node;

typedef struct bg_pool {
    int ns;
    char name[48];
    int job;                    /* -1: shared by the namespace */
    unsigned tags;
    int size;                   /* 0: unsized */
    bool exclusive;
    int *members;               /* node indexes, after bg_plan (owned) */
    int n_members;
} bg_pool;

typedef struct bg_container {
    int64_t cpu_milli, memory, memory_limit;
} bg_container;

typedef struct bg_pe {
    int job;
    int id;                     /* streams.io/pe */
    char name[64];
    char uid[40];
    int pool;                   /* -1: none */
    int index;                  /* -1: none */
    int coloc;                  /* colocation id number within the job, -1 */
    int exloc;                  /* exlocation id number within the job, -1 */
    bool isolation;
    bool pinned;                /* relocatable: "false" */
    int n_containers;
    bg_container c[3];
    bool init;                  /* an init container (100m, 128Mi) */
    int node;                   /* bound node, -1: pending */
} bg_pe;

typedef struct bg_job {
    int ns;
    char name[40];
    int first_pe, n_pes;
    int own_pool;               /* -1: none */
} bg_job;

typedef struct bg_other {
    char name[64];
    char uid[40];
    int kind;                   /* 0 kube-proxy, 1 node-exporter, 2 fluent-bit */
    int node;
} bg_other;

typedef struct bg_cluster {
    bg_config cfg;
    bg_node *nodes;
    int n_nodes;
    bg_pool *pools;
    int n_pools;
    bg_job *jobs;
    int n_jobs;
    bg_pe *pes;
    int n_pes;
    bg_other *others;
    int n_others;
    uint64_t rng;
} bg_cluster;

/* Generate a cluster (everything pending); free with bg_free. */
sp_rc bg_generate(const bg_config *cfg, bg_cluster **out)
    __attribute__((warn_unused_result));
void bg_free(bg_cluster *c);

/* Name of tag i ("compute", ...), of namespace i ("streams-a", ...). */
const char *bg_tag_name(int i);
const char *bg_ns_name(int i);

/* The effective requests of a PE as kube-scheduler computes them. */
place_resources bg_pe_requests(const bg_pe *pe);

/*
 * Load the cluster into st: nodes, pools (with members when planned), the
 * daemonset pods, and every PE (bound on pe->node, or pending). pe_idx
 * (may be NULL) receives each PE's index in st.
 */
sp_rc bg_load(const bg_cluster *c, place_state *st, int32_t *pe_idx, sp_err *err)
    __attribute__((warn_unused_result));

/*
 * Plan every PE with the engine (place_plan_all) and bind each placed PE
 * there (pe->node), recording sized pools' membership. *unplaced receives
 * how many PEs no node could take (they stay pending).
 */
sp_rc bg_plan(bg_cluster *c, int *unplaced, sp_err *err)
    __attribute__((warn_unused_result));

/* Write a NodeList, a HostPool list, or a PodList (daemonset pods, and the
 * PEs: bound ones with spec.nodeName, pending ones without unless
 * bound_only). -1 when writing fails (errno set). */
int bg_write_nodes(const bg_cluster *c, FILE *f);
int bg_write_pools(const bg_cluster *c, FILE *f);
int bg_write_pods(const bg_cluster *c, FILE *f, bool bound_only);

/* Write one Node object (for NodeList request bodies). */
int bg_write_node(const bg_cluster *c, const bg_node *n, FILE *f);

#endif /* SP_BENCH_GEN_H */
