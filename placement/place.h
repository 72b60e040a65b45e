/*
 * The placement engine: pure decisions about where streaming PEs may run, and
 * why not. It takes plain structs (nodes, HostPools, pods with their labels and
 * annotations), keeps them indexed in a place_state, and answers two questions:
 *   - filter: on which of these nodes may this PE run now, and for every other
 *     node a one-line reason, split into "may change" (capacity, which
 *     preemption can free) and "can never fit";
 *   - plan: where should every pending PE of a job go, all at once (colocation
 *     groups as units, exlocation as conflicts, pools as domains, isolation,
 *     exclusivity, capacity), and why each unplaceable PE fails.
 * It does no I/O: JSON, HTTP and the API server live at the edges. It is not
 * thread-safe: the caller serialises access to a state.
 */
#ifndef SP_PLACE_H
#define SP_PLACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/sp_buf.h"
#include "util/sp_error.h"

/* ------------------------------------------------------------------------ */
/* Vocabulary on the wire (DESIGN section 2)                                  */
/* ------------------------------------------------------------------------ */

#define PLACE_LABEL_JOB "streams.io/job"
#define PLACE_LABEL_PE "streams.io/pe"
#define PLACE_ANN_POOL "streams.io/host-pool"
#define PLACE_ANN_POOL_INDEX "streams.io/host-pool-index"
#define PLACE_ANN_COLOCATION "streams.io/host-colocation"
#define PLACE_ANN_EXLOCATION "streams.io/host-exlocation"
#define PLACE_ANN_ISOLATION "streams.io/host-isolation"
#define PLACE_ANN_PE_COUNT "streams.io/job-pe-count"
#define PLACE_ANN_RELOCATABLE "streams.io/relocatable"
#define PLACE_DEFAULT_TAG_PREFIX "tag.streams.io/"

#define PLACE_NONE (-1)          /* no node, pool, PE or index */
#define PLACE_MAX_POOL_SIZE 100000 /* a larger HostPool size is refused */
#define PLACE_MAX_IDS 64         /* ids per colocation/exlocation annotation */

/* A label or annotation; both strings borrowed from the caller. */
typedef struct place_kv {
    const char *key;
    const char *value;
} place_kv;

/* ------------------------------------------------------------------------ */
/* Quantities                                                                 */
/* ------------------------------------------------------------------------ */

/*
 * Parse a Kubernetes quantity ("100m", "1.5", "128Mi", "1G", "2e3") exactly
 * into thousandths of its unit, rounding a finer fraction up as Kubernetes
 * does ("0.0001" -> 1). SP_EPARSE for malformed text, SP_ELIMIT when the value
 * does not fit (more than about 9.2e15 units) or is negative.
 */
sp_rc place_quantity_parse(const char *s, int64_t *milli, sp_err *err)
    __attribute__((warn_unused_result));

/* Whole units from milli-units, rounded up (memory bytes, pod counts). */
int64_t place_milli_to_units(int64_t milli);

/* Format cpu milli-units for people: "500m", "2", "1500m". */
void place_format_cpu(int64_t milli, char *buf, size_t len);
/* Format bytes for people: "512Mi", "1.5Gi", "1000". */
void place_format_bytes(int64_t bytes, char *buf, size_t len);

/* Requests or allocatable resources of one pod or node. */
typedef struct place_resources {
    int64_t cpu_milli;
    int64_t memory;   /* bytes */
    int64_t pods;
} place_resources;

/* ------------------------------------------------------------------------ */
/* Policy                                                                     */
/* ------------------------------------------------------------------------ */

typedef enum place_isolation_scope {
    PLACE_ISOLATION_CLUSTER, /* an isolated PE's node runs no other PE at all */
    PLACE_ISOLATION_JOB,     /* ... no other PE of the same job */
} place_isolation_scope;

typedef enum place_balancing {
    PLACE_BALANCE_INSTANCE, /* spread by PEs of every job (balancedInstance) */
    PLACE_BALANCE_JOB,      /* spread by PEs of the PE's own job (balancedJob) */
} place_balancing;

/* What the engine needs of the policy; strings are borrowed and copied by
 * place_state_new. */
typedef struct place_policy {
    const char *tag_prefix;    /* node label prefix of tags; NULL: default */
    const char *default_pool;  /* HostPool for PEs that name none; NULL: none */
    place_isolation_scope isolation_scope;
    place_balancing balancing;
    bool gang_wait;            /* hold a job's PEs until job-pe-count exist */
} place_policy;

/* Fill p with the built-in defaults. */
void place_policy_default(place_policy *p);

/* ------------------------------------------------------------------------ */
/* PE constraints from labels and annotations                                 */
/* ------------------------------------------------------------------------ */

/* The constraints of one PE, as parsed. All strings owned by the spec. */
typedef struct place_pe_spec {
    char *job;              /* streams.io/job */
    char *pe;               /* streams.io/pe */
    char *pool;             /* NULL: none named */
    int32_t pool_index;     /* PLACE_NONE: none */
    char **colocation;      /* ids, de-duplicated, in order */
    size_t n_colocation;
    char **exlocation;
    size_t n_exlocation;
    bool isolation;
    int32_t pe_count;       /* 0: not given */
    bool relocatable;       /* default true */
} place_pe_spec;

/* True when the labels mark a PE pod (they carry streams.io/job). */
bool place_is_pe(const place_kv *labels, size_t n_labels);

/*
 * Parse and validate a PE's labels and annotations (DESIGN sections 2, 3).
 * On error the message names the label or annotation, the bad value and the
 * fix, and *out is left empty. On success the caller frees *out with
 * place_pe_spec_free.
 */
sp_rc place_pe_spec_parse(const place_kv *labels, size_t n_labels,
                          const place_kv *annotations, size_t n_annotations,
                          place_pe_spec *out, sp_err *err)
    __attribute__((warn_unused_result));

void place_pe_spec_free(place_pe_spec *spec);

/* True when s is a valid colocation/exlocation id (1-63 of [A-Za-z0-9._-],
 * starting and ending with a letter or digit). */
bool place_id_valid(const char *s);

/* ------------------------------------------------------------------------ */
/* HostPools                                                                  */
/* ------------------------------------------------------------------------ */

/* A HostPool object; every string borrowed from the caller. */
typedef struct place_pool_spec {
    const char *namespace_;
    const char *name;
    const char *job;            /* NULL: shared by every job of the namespace */
    const char *const *tags;
    size_t n_tags;
    const char *const *hosts;   /* explicit node names */
    size_t n_hosts;
    bool has_size;
    int64_t size;
    bool exclusive;
    const char *const *members; /* status.hosts: the chosen, ordered members */
    size_t n_members;
} place_pool_spec;

/*
 * Validate a HostPool (DESIGN section 3): tags or hosts present, size >= 1
 * and not above the explicit host list, exclusive only with job and size,
 * tags that make valid label keys under the policy's prefix, members within
 * size and without duplicates. The message names the field and the fix.
 */
sp_rc place_pool_validate(const place_pool_spec *pool, const char *tag_prefix,
                          sp_err *err) __attribute__((warn_unused_result));

/* ------------------------------------------------------------------------ */
/* State                                                                      */
/* ------------------------------------------------------------------------ */

typedef struct place_state place_state;

typedef enum place_node_condition {
    PLACE_NODE_READY,
    PLACE_NODE_CORDONED,  /* spec.unschedulable */
    PLACE_NODE_NOT_READY, /* Ready condition not True */
} place_node_condition;

/* A taint with effect NoSchedule or NoExecute (others do not block). */
typedef struct place_taint {
    const char *key;
    const char *value;   /* may be NULL */
    const char *effect;
} place_taint;

/* A pod toleration, as in the Pod spec; NULL fields are absent. */
typedef struct place_toleration {
    const char *key;
    const char *operator_; /* "Exists" or "Equal" (default) */
    const char *value;
    const char *effect;
} place_toleration;

typedef struct place_node_input {
    const char *name;
    const place_kv *labels;
    size_t n_labels;
    place_resources allocatable;
    place_node_condition condition;
    const place_taint *taints;
    size_t n_taints;
} place_node_input;

typedef struct place_pod_input {
    const char *namespace_;
    const char *name;
    const char *uid;            /* unique key; the edge may synthesise one */
    const place_kv *labels;
    size_t n_labels;
    const place_kv *annotations;
    size_t n_annotations;
    place_resources requests;   /* effective requests; pods normally 1 */
    const char *node;           /* spec.nodeName; NULL: pending */
    const char *previous_node;  /* from the PE's placement record; NULL: none */
    const place_toleration *tolerations;
    size_t n_tolerations;
} place_pod_input;

typedef enum place_phase {
    PLACE_PENDING,  /* no node */
    PLACE_PLANNED,  /* a whole-job plan chose a node; nothing committed */
    PLACE_RESERVED, /* filter narrowed the PE to its node; bind pending */
    PLACE_BOUND,    /* the pod is bound (spec.nodeName) */
} place_phase;

/* Create an empty state under policy p (copied). */
sp_rc place_state_new(const place_policy *p, place_state **out)
    __attribute__((warn_unused_result));
void place_state_free(place_state *st);

/*
 * A changed policy for a live state: the default pool, isolation scope,
 * balancing and gang wait apply from the next check, filter or plan. The
 * tag prefix is NOT changed (every node's tags were read with the one the
 * state was created with; a new prefix needs a new state). SP_ENOMEM leaves
 * the old policy in place.
 */
sp_rc place_state_set_policy(place_state *st, const place_policy *p)
    __attribute__((warn_unused_result));

/*
 * Add or replace a node by name. Replacing keeps the PEs and usage on it.
 * *node_out (may be NULL) receives its index, stable until it is removed.
 */
sp_rc place_state_put_node(place_state *st, const place_node_input *in,
                           int32_t *node_out, sp_err *err)
    __attribute__((warn_unused_result));

/*
 * The Node is gone: its slot becomes a placeholder (PEs still on it stay
 * there, recorded, until their pods go; nothing new is placed there).
 * SP_ENOTFOUND when the node is unknown.
 */
sp_rc place_state_remove_node(place_state *st, const char *name)
    __attribute__((warn_unused_result));

/*
 * Add or replace a HostPool by namespace and name. An invalid pool is kept
 * (PEs that name it are told why it is invalid) and its validation error is
 * returned in err with SP_OK; other failures are SP_ENOMEM.
 */
sp_rc place_state_put_pool(place_state *st, const place_pool_spec *in,
                           int32_t *pool_out, sp_err *err)
    __attribute__((warn_unused_result));

/*
 * Add a pod. A PE pod (labelled streams.io/job) becomes a PE: BOUND when it
 * has a node, PENDING otherwise; a PE whose annotations do not parse is kept
 * with the parse error as the reason it cannot be placed. Any other pod only
 * uses resources on its node. *pe_out (may be NULL) gets the PE's index, or
 * PLACE_NONE for a non-PE pod. SP_ECONFLICT when the uid is already known;
 * SP_ELIMIT when its namespace, job or PE label is longer than Kubernetes
 * allows; a pod on an unknown node is accepted (it uses nothing the engine
 * knows).
 */
sp_rc place_state_add_pod(place_state *st, const place_pod_input *in,
                          int32_t *pe_out, sp_err *err)
    __attribute__((warn_unused_result));

/* The HostPool is gone: PEs that name it are told it does not exist.
 * SP_ENOTFOUND when unknown. */
sp_rc place_state_remove_pool(place_state *st, const char *ns, const char *name)
    __attribute__((warn_unused_result));

/* Remove a pod by uid, freeing what it used. SP_ENOTFOUND when unknown. */
sp_rc place_state_remove_pod(place_state *st, const char *uid)
    __attribute__((warn_unused_result));

/*
 * The live PEs of ns/job with PE id pe (a PE can have two pods for a while:
 * one terminating, one new), at most max of them into out; returns how many
 * there are.
 */
size_t place_state_pes_of(const place_state *st, const char *ns, const char *job,
                          const char *pe, int32_t *out, size_t max);

/* How many live pods (PEs) job ns/job has. */
size_t place_state_job_size(const place_state *st, const char *ns, const char *job);

/* A counter that moves whenever the pool's membership changes. */
uint64_t place_pool_members_gen(const place_state *st, int32_t pool);

/*
 * The slot of node name, creating a placeholder when its Node is not known
 * yet: a placeholder holds PEs (a reservation or binding read back after a
 * restart) but is no candidate until place_state_put_node fills it in.
 */
sp_rc place_state_node_ref(place_state *st, const char *name, int32_t *node)
    __attribute__((warn_unused_result));

/* Set the node a restarted PE had before (it prefers or, when not
 * relocatable, requires it). SP_EINVAL for a dead PE. */
sp_rc place_state_set_previous_node(place_state *st, int32_t pe, const char *name)
    __attribute__((warn_unused_result));

/*
 * Replace a sized pool's membership with names (status.hosts order; "" for
 * a free slot), as read back from a store. SP_EINVAL for an unsized or
 * invalid pool or more names than its size.
 */
sp_rc place_state_set_pool_members(place_state *st, int32_t pool,
                                   const char *const *names, size_t n)
    __attribute__((warn_unused_result));

/* Lookups; PLACE_NONE when absent. */
int32_t place_state_find_node(const place_state *st, const char *name);
int32_t place_state_find_pe(const place_state *st, const char *uid);
int32_t place_state_find_pool(const place_state *st, const char *ns,
                              const char *name);

/* Counts and slots: valid indexes are below these; a slot may be dead. */
size_t place_state_node_slots(const place_state *st);
size_t place_state_pe_slots(const place_state *st);
size_t place_state_pool_slots(const place_state *st);
size_t place_state_job_slots(const place_state *st); /* a job without PEs frees its slot */
bool place_state_node_alive(const place_state *st, int32_t node);
bool place_state_pe_alive(const place_state *st, int32_t pe);
bool place_state_pool_alive(const place_state *st, int32_t pool);
size_t place_state_node_count(const place_state *st);

/* Read-only views; strings borrowed from the state. */
const char *place_node_name(const place_state *st, int32_t node);

typedef struct place_pe_info {
    const char *namespace_;
    const char *pod;
    const char *uid;
    const char *job;
    const char *pe;
    int32_t node;           /* PLACE_NONE when pending */
    place_phase phase;
    const char *error;      /* annotation parse error, or NULL */
} place_pe_info;

void place_pe_get(const place_state *st, int32_t pe, place_pe_info *out);

typedef struct place_pool_info {
    const char *namespace_;
    const char *name;
    const char *job;        /* NULL: shared */
    int64_t size;           /* 0: unsized */
    bool exclusive;
    const char *error;      /* validation error, or NULL */
} place_pool_info;

void place_pool_get(const place_state *st, int32_t pool, place_pool_info *out);

/*
 * The pool's hosts: for a sized pool its ordered membership (status.hosts and
 * members chosen since; a free slot before a taken one is ""); for an unsized
 * pool every node that currently matches; none for an invalid pool. *names is an array of *count borrowed strings that the caller
 * frees with sp_free (not the strings).
 */
sp_rc place_pool_hosts(place_state *st, int32_t pool, const char ***names,
                       size_t *count) __attribute__((warn_unused_result));

/*
 * What selects a pool's nodes, for a webhook that tells the rest of
 * Kubernetes (node affinity): its tags (without the policy's prefix) and
 * explicit host names. Both arrays hold borrowed strings; the caller frees
 * the arrays with sp_free. An invalid pool selects nothing (SP_EINVAL).
 */
sp_rc place_pool_selector(const place_state *st, int32_t pool, const char ***tags,
                          size_t *n_tags, const char ***hosts, size_t *n_hosts)
    __attribute__((warn_unused_result));

/* The node label prefix that makes a tag ("tag.streams.io/"). */
const char *place_state_tag_prefix(const place_state *st);

/*
 * Admission check of a PE pod against its job's existing PEs (DESIGN
 * section 3): its labels and annotations parse, and its colocation ids do
 * not put it with, directly or through other PEs, a PE that an exlocation
 * id keeps apart from it (or join two such PEs). The state is only read.
 * SP_EINVAL with the message naming both PEs, the ids and the fix.
 */
sp_rc place_admit_pe(const place_state *st, const place_pod_input *in, sp_err *err)
    __attribute__((warn_unused_result));

/*
 * Commit decisions. reserve: the PE is held on node (filter narrowed it);
 * bind: the pod is bound there; release: back to pending (the node it had is
 * remembered as its previous node). node may be a placeholder slot
 * (place_state_node_ref). SP_EINVAL for a dead PE or a bad node index.
 */
sp_rc place_state_reserve(place_state *st, int32_t pe, int32_t node)
    __attribute__((warn_unused_result));
sp_rc place_state_bind(place_state *st, int32_t pe, int32_t node)
    __attribute__((warn_unused_result));
sp_rc place_state_release(place_state *st, int32_t pe)
    __attribute__((warn_unused_result));

/* ------------------------------------------------------------------------ */
/* Reasons                                                                    */
/* ------------------------------------------------------------------------ */

typedef enum place_reason_code {
    PLACE_R_OK = 0,
    /* the node itself */
    PLACE_R_NODE_CORDONED,
    PLACE_R_NODE_NOT_READY,
    PLACE_R_NODE_TAINT,         /* str: the node, index: its taint */
    PLACE_R_NODE_UNKNOWN,
    /* host pools (a missing, invalid or foreign pool is a PLACE_R_JOB) */
    PLACE_R_POOL_TAG,           /* pool, str: the tag */
    PLACE_R_POOL_HOSTS,         /* pool */
    PLACE_R_POOL_FULL,          /* pool */
    PLACE_R_POOL_INDEX_NODE,    /* pool, index, str2: the member node name */
    PLACE_R_POOL_MEMBER_ELSEWHERE, /* pool, index: node holds another slot */
    PLACE_R_EXCLUSIVE_OTHER_JOB,   /* pool: node is in another job's exclusive pool */
    PLACE_R_EXCLUSIVE_OCCUPIED,    /* pool, other_pe: a PE of another job is there */
    PLACE_R_EXCLUSIVE_TAKEN,       /* pool, index: the other exclusive pool */
    /* relations between PEs */
    PLACE_R_COLOCATION,         /* str: id, other_pe, str2: its node name */
    PLACE_R_EXLOCATION,         /* str: id, other_pe */
    PLACE_R_ISOLATION_SELF,     /* other_pe: a PE already on the node */
    PLACE_R_ISOLATION_OTHER,    /* other_pe: the isolated PE on the node */
    PLACE_R_PREVIOUS_NODE,      /* other_pe, str: the previous node name */
    /* capacity (the only reasons preemption can fix) */
    PLACE_R_CPU,                /* need, free */
    PLACE_R_MEMORY,             /* need, free */
    PLACE_R_PODS,               /* need, free */
    /* steering */
    PLACE_R_PLANNED_ELSEWHERE,  /* str: the planned node name */
    PLACE_R_RESERVED_ELSEWHERE, /* str: the node the PE is reserved or bound on */
    /* job-wide: the same reason for every node; the text is in `text` */
    PLACE_R_JOB,
} place_reason_code;

/*
 * Why a PE may not run on a node. Indexes and ids refer to the state the
 * reason was computed in: format it before changing the state.
 */
typedef struct place_reason {
    place_reason_code code;
    bool unresolvable;   /* no preemption can fix it */
    int32_t pool;        /* PLACE_NONE or a pool index */
    int32_t index;       /* pool index, PLACE_NONE */
    int32_t other_pe;    /* PLACE_NONE or a PE index */
    int32_t str;         /* an interned string (or node) id, or PLACE_NONE */
    int32_t str2;        /* an interned string id, or PLACE_NONE */
    int64_t need, free, total;
    const char *text;    /* PLACE_R_JOB: borrowed from the state's job view */
} place_reason;

/* A stable snake_case name of code, for metrics labels ("pool_tag"). */
const char *place_reason_code_name(place_reason_code code);

/* Append the one-line text of r to out. */
sp_rc place_reason_format(const place_state *st, const place_reason *r,
                          sp_buf *out) __attribute__((warn_unused_result));

/*
 * Append a kube-scheduler style summary of n verdicts to out: "1/6 nodes
 * are available: 3 node(s): <reason>; 2 node(s): <reason>", reasons grouped
 * by their summary form, most frequent first.
 */
sp_rc place_reason_summary(const place_state *st, const place_reason *verdicts,
                           size_t n, sp_buf *out) __attribute__((warn_unused_result));

/* ------------------------------------------------------------------------ */
/* Filter and score                                                           */
/* ------------------------------------------------------------------------ */

/*
 * The verdict for PE pe on each of n nodes (indexes from the state; a
 * PLACE_NONE entry is a node the caller does not know). verdicts[i] receives
 * PLACE_R_OK or the first reason node i is refused. The PE's colocation
 * group is checked as a unit: its pending mates must fit too. A job-wide
 * problem (a pool too small for its exlocated PEs, ...) refuses every node
 * with the same PLACE_R_JOB reason. Does not consult or change any plan.
 */
sp_rc place_check_nodes(place_state *st, int32_t pe, const int32_t *nodes,
                        size_t n, place_reason *verdicts)
    __attribute__((warn_unused_result));

typedef struct place_filter_result {
    int32_t chosen;      /* the one node the PE is narrowed to, or PLACE_NONE */
    size_t n_ok;         /* nodes that satisfy every constraint */
    bool planned;        /* chosen came from a whole-job plan */
    bool gang_wait;      /* held: the job's PEs do not all exist yet */
} place_filter_result;

/*
 * Filter for the extender. When the PE has no node yet, plans every job
 * with uncommitted (pending or planned) PEs together, pe's job among them,
 * so that jobs arriving pod by pod still get whole-job and cross-job plans.
 * Then checks the nodes and chooses one: the PE's planned node when that is
 * among the allowed ones, the best allowed node otherwise. The caller
 * records the choice (persists it, then place_state_reserve), so that a
 * decision is never acted on before it is durable. Every other node gets
 * its reason in verdicts (an allowed but not chosen node gets
 * PLACE_R_PLANNED_ELSEWHERE). With gang wait and too few PEs, every node is
 * refused with a PLACE_R_JOB reason and nothing is chosen.
 */
sp_rc place_filter(place_state *st, int32_t pe, const int32_t *nodes, size_t n,
                   place_reason *verdicts, place_filter_result *result)
    __attribute__((warn_unused_result));

#define PLACE_SCORE_MAX 10 /* the extender's MaxExtenderPriority */

/*
 * Scores 0..PLACE_SCORE_MAX for pe on each of n nodes: the node the PE is
 * planned or reserved on 10, its previous node 9, members of its sized pool
 * from 5, others from 0, plus up to 4 for balance (fewer PEs, by the policy's
 * scheme). Nodes the PE may not use score 0.
 */
sp_rc place_score(place_state *st, int32_t pe, const int32_t *nodes, size_t n,
                  int *scores) __attribute__((warn_unused_result));

/* ------------------------------------------------------------------------ */
/* Whole-job planning                                                         */
/* ------------------------------------------------------------------------ */

typedef struct place_plan_opts {
    bool explain;        /* fill per-node reasons for unplaced PEs */
    uint64_t seed;       /* tie-breaking of retries; same seed, same plan */
    int max_attempts;    /* 0: the default */
} place_plan_opts;

/* An unplaced PE: the summary reason and, with explain, one per node. */
typedef struct place_unplaced {
    int32_t pe;
    char *reason;               /* owned */
    size_t n_nodes;
    int32_t *nodes;             /* owned; node indexes */
    char **node_reasons;        /* owned; parallel to nodes */
} place_unplaced;

typedef struct place_plan {
    int32_t *placed;            /* PE indexes now PLANNED (their node in the state) */
    size_t n_placed;
    place_unplaced *unplaced;
    size_t n_unplaced;
} place_plan;

/*
 * Plan every PENDING or PLANNED PE of pe's job at once, consistent with what
 * is already reserved and bound, and leave the result in the state: planned
 * PEs become PLANNED on their node and sized pools gain the members chosen.
 * Never places a PE where a constraint is violated. *out (may be NULL) gets
 * the outcome; free it with place_plan_free.
 */
sp_rc place_plan_job(place_state *st, int32_t pe, const place_plan_opts *opts,
                     place_plan **out) __attribute__((warn_unused_result));

/*
 * Plan every job that has pending PEs, one job at a time (jobs that use
 * exclusive pools first, then by namespace and name), each seeing the plans
 * before it. One combined outcome.
 */
sp_rc place_plan_all(place_state *st, const place_plan_opts *opts,
                     place_plan **out) __attribute__((warn_unused_result));

void place_plan_free(place_plan *plan);

/* A placed PE whose node breaks one of its constraints. */
typedef struct place_violation {
    int32_t pe;
    int32_t node;
    char *reason;               /* owned */
} place_violation;

/*
 * Placed (bound or reserved) PEs that break a constraint: state captured
 * from a cluster where something else placed them, reported rather than
 * tripped over. *out is an array of *count entries that the caller frees
 * with place_violations_free.
 */
sp_rc place_find_violations(place_state *st, place_violation **out,
                            size_t *count) __attribute__((warn_unused_result));

void place_violations_free(place_violation *v, size_t count);

#endif /* SP_PLACE_H */
