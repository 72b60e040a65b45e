/*
 * An independent checker of host placement constraints, for tests. It shares
 * no code and no data model with the engine (placement/): an instance is a
 * plain list of nodes, host pools and PEs with an assignment of PEs to nodes
 * and of sized pools to their final members, and chk_check lists, one string
 * each, every way the assignment breaks DESIGN sections 1-4: pools (tags,
 * explicit hosts, size, membership, index, job), colocation, exlocation,
 * isolation, exclusive pools and node capacity. Everything is looked up by
 * name with plain loops: slow and obvious on purpose, so that it can judge
 * the engine rather than repeat its mistakes.
 *
 * Every violation starts with its kind and a colon ("pool:", "membership:",
 * "colocation:", "exlocation:", "isolation:", "exclusive:", "capacity:",
 * "node:"), then names the PEs ("ns/job/pe"), nodes and pools involved.
 */
#ifndef SP_TESTS_CHECKER_H
#define SP_TESTS_CHECKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/sp_error.h"

#define CHK_NONE (-1) /* no pool index */

/* A node; all strings owned by the instance. */
typedef struct chk_node {
    char *name;
    char **tags;
    size_t n_tags;
    int64_t alloc_cpu_milli, alloc_memory, alloc_pods;
    int64_t other_cpu_milli, other_memory, other_pods; /* non-PE pods */
} chk_node;

/* A host pool; all strings owned by the instance. */
typedef struct chk_pool {
    char *namespace_;
    char *name;
    char *job;            /* NULL: shared by the namespace */
    char **tags;
    size_t n_tags;
    char **hosts;         /* explicit node names; none: any node */
    size_t n_hosts;
    int64_t size;         /* 0: unsized */
    bool exclusive;
    char **initial;       /* membership to keep (status.hosts given as
                           * input), in order; NULL: an empty slot */
    size_t n_initial;
    char **members;       /* the final, ordered membership (sized pools);
                           * a NULL entry is a slot not filled yet */
    size_t n_members;
} chk_pool;

/* A PE; all strings owned by the instance. */
typedef struct chk_pe {
    char *namespace_;
    char *job;
    char *pe;
    char *pool;           /* NULL: none */
    int32_t pool_index;   /* CHK_NONE: none */
    char **colocation;
    size_t n_colocation;
    char **exlocation;
    size_t n_exlocation;
    bool isolation;
    int64_t cpu_milli, memory;
    char *node;           /* NULL: not placed */
} chk_pe;

typedef struct chk_instance {
    bool isolation_job;   /* isolation scope "job" (default: cluster) */
    chk_node *nodes;
    size_t n_nodes, cap_nodes;
    chk_pool *pools;
    size_t n_pools, cap_pools;
    chk_pe *pes;
    size_t n_pes, cap_pes;
} chk_instance;

/* Inputs of the builders: every string and array borrowed, then copied. */
typedef struct chk_node_in {
    const char *name;
    const char *const *tags;
    size_t n_tags;
    int64_t cpu_milli, memory, pods; /* allocatable */
} chk_node_in;

typedef struct chk_pool_in {
    const char *namespace_;
    const char *name;
    const char *job;
    const char *const *tags;
    size_t n_tags;
    const char *const *hosts;
    size_t n_hosts;
    int64_t size;
    bool exclusive;
    const char *const *initial; /* status.hosts; also the first final members */
    size_t n_initial;
} chk_pool_in;

typedef struct chk_pe_in {
    const char *namespace_;
    const char *job;
    const char *pe;
    const char *pool;
    int32_t pool_index;
    const char *const *colocation;
    size_t n_colocation;
    const char *const *exlocation;
    size_t n_exlocation;
    bool isolation;
    int64_t cpu_milli, memory;
    const char *node;
} chk_pe_in;

/* The violations found: n strings, each and the array owned. */
typedef struct chk_report {
    char **v;
    size_t n, cap;
} chk_report;

/* An empty instance with the given isolation scope. */
void chk_init(chk_instance *in, bool isolation_job);
/* Free everything the instance owns; in may be NULL. */
void chk_free(chk_instance *in);

/* Add a node, a pool or a PE (copied); *idx (may be NULL) gets its index. */
sp_rc chk_add_node(chk_instance *in, const chk_node_in *node, size_t *idx)
    __attribute__((warn_unused_result));
sp_rc chk_add_pool(chk_instance *in, const chk_pool_in *pool, size_t *idx)
    __attribute__((warn_unused_result));
sp_rc chk_add_pe(chk_instance *in, const chk_pe_in *pe, size_t *idx)
    __attribute__((warn_unused_result));

/* Add a non-PE pod's requests (pods: how many pods) to a node's usage. */
void chk_node_use(chk_instance *in, size_t node, int64_t cpu_milli,
                  int64_t memory, int64_t pods);

/* Place PE pe on node (copied; NULL: not placed). */
sp_rc chk_set_node(chk_instance *in, size_t pe, const char *node)
    __attribute__((warn_unused_result));

/* Replace the final membership of a pool (copied, in order; a NULL name is
 * an empty slot). */
sp_rc chk_set_members(chk_instance *in, size_t pool, const char *const *names,
                      size_t n) __attribute__((warn_unused_result));

/*
 * Check the assignment. rep (initialised empty by the call) receives one
 * string per violation; the caller frees it with chk_report_free, also on
 * error (SP_ENOMEM).
 */
sp_rc chk_check(const chk_instance *in, chk_report *rep)
    __attribute__((warn_unused_result));

void chk_report_free(chk_report *rep);

/* Index of the PE or node by name; -1 when absent. */
long chk_find_pe(const chk_instance *in, const char *ns, const char *job,
                 const char *pe);
long chk_find_node(const chk_instance *in, const char *name);
long chk_find_pool(const chk_instance *in, const char *ns, const char *name);

#endif /* SP_TESTS_CHECKER_H */
