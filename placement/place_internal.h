/*
 * Internals of the placement engine shared by its files: the indexed state
 * (nodes, pools, jobs, PEs and the counters that make every check O(1)), the
 * per-job view of colocation groups that both filter and planner use, and the
 * one function that decides whether a group may go on a node. Nothing outside
 * placement/ includes this header.
 */
#ifndef SP_PLACE_INTERNAL_H
#define SP_PLACE_INTERNAL_H

#include "placement/place.h"
#include "util/sp_map.h"
#include "util/sp_str.h"

/* ------------------------------------------------------------------------ */
/* State records                                                              */
/* ------------------------------------------------------------------------ */

typedef struct pl_taint {
    char *key;
    char *value;    /* NULL: none */
    char *effect;
} pl_taint;

typedef struct pl_node {
    bool alive;
    int32_t name;               /* interned in st->names */
    int32_t *tags;              /* interned tag ids, sorted */
    size_t n_tags;
    place_resources alloc;
    place_resources used;       /* bound pods of any kind + PEs in any phase */
    place_node_condition condition;
    pl_taint *taints;
    size_t n_taints;
    int32_t taint_set;          /* its taints interned in st->strs when one
                                   blocks (NoSchedule, NoExecute), else NONE */
    int32_t *pes;               /* PEs on the node (PLANNED..BOUND) */
    size_t n_pes, cap_pes;
    int32_t n_isolated;         /* isolated PEs among them */
    int32_t exclusive_pool;     /* the exclusive pool it is a member of */
    int32_t exclusive_clash;    /* a second exclusive pool claiming it */
} pl_node;

typedef struct pl_pool {
    bool alive;
    int32_t ns;                 /* interned in st->strs */
    int32_t name;               /* interned in st->strs */
    int32_t job;                /* job key id in st->strs, or PLACE_NONE */
    int32_t *tags;              /* tag ids, sorted */
    size_t n_tags;
    int32_t *hosts;             /* node-name ids (st->names), sorted */
    size_t n_hosts;
    int64_t size;               /* 0: unsized */
    bool exclusive;
    int32_t *members;           /* node-name ids by slot; PLACE_NONE: free */
    size_t n_members;           /* slots in use (0..size) */
    uint64_t members_gen;       /* moves on every membership change */
    char *error;                /* validation error; NULL when valid */
    /* cache of matching live nodes, rebuilt when st->node_gen moves */
    int32_t *cands;
    size_t n_cands, cap_cands;
    uint64_t cands_gen;
} pl_pool;

typedef struct pl_job {
    bool alive;
    int32_t key;                /* "ns/job" in st->strs */
    int32_t ns;                 /* namespace in st->strs */
    int32_t name;               /* job name in st->strs */
    int32_t *pes;               /* live PEs of the job */
    size_t n_pes, cap_pes;
    int32_t pe_count;           /* the largest job-pe-count declared */
    size_t n_movable;           /* of pes[], how many are PENDING or PLANNED
                                   (pl_pe_set_phase keeps it) */
} pl_job;

typedef struct pl_pe {
    bool alive;
    char *uid;
    int32_t ns;                 /* st->strs */
    char *pod;
    int32_t job;                /* index into st->jobs, or PLACE_NONE */
    char *pe_id;
    char *error;                /* annotation parse error, or NULL */
    int32_t pool_name;          /* st->strs id of the pool named, or NONE */
    int32_t pool_index;
    int32_t *coloc;             /* st->strs ids */
    size_t n_coloc;
    int32_t *exloc;             /* st->strs ids */
    size_t n_exloc;
    bool isolation;
    bool relocatable;
    int32_t pe_count;           /* job-pe-count it declares, 0: none */
    place_resources req;
    place_toleration *tols;     /* owned strings */
    size_t n_tols;
    place_phase phase;
    int32_t node;               /* PLACE_NONE when pending */
    size_t node_pos;            /* position in the node's pes[] */
    size_t job_pos;             /* position in the job's pes[] */
    bool in_job;                /* in its job's pes[] (counted in n_movable) */
    int32_t previous_node;      /* node-name id (st->names), or NONE */
    int32_t sticky_node;        /* node-name id a former plan chose, or NONE */
} pl_pe;

/* A pod that is not a PE: only its usage matters. */
typedef struct pl_other {
    int32_t node;               /* node index, or PLACE_NONE */
    place_resources req;
} pl_other;

/* ------------------------------------------------------------------------ */
/* Job view: colocation groups and job-wide problems                          */
/* ------------------------------------------------------------------------ */

#define PL_MAX_GROUP_POOLS 8 /* distinct pools in one colocation group */

typedef struct pl_slot_req {
    int32_t pool;
    int32_t index;
} pl_slot_req;

typedef struct pl_group {
    int32_t *pes;               /* every PE of the group (all phases) */
    size_t n_pes;
    int32_t fixed_node;         /* a reserved or bound member's node, or NONE */
    int32_t fixed_pe;           /* that member */
    int32_t forced_node;        /* node required by a non-relocatable member */
    int32_t forced_pe;
    int32_t preferred_node;     /* previous or sticky node, or NONE */
    int32_t pools[PL_MAX_GROUP_POOLS];
    size_t n_pools;
    pl_slot_req slots[PL_MAX_GROUP_POOLS];
    size_t n_slots;
    int32_t *exids;             /* distinct exlocation ids of the group */
    size_t n_exids;
    bool isolated;
    place_resources demand;     /* PEs of the group not on any node */
    size_t n_movable;           /* PEs PENDING or PLANNED */
    char *problem;              /* why it cannot be placed, owned; NULL: none */
    bool problem_job_wide;      /* the problem is about the whole job (a pool
                                   too small, ...), not this group's makeup */
    /* planner scratch */
    int32_t assigned;           /* node chosen in this attempt, or NONE */
    int64_t priority;           /* lower is placed earlier */
    int64_t boost;              /* attempts it failed in: placed earlier */
    uint32_t domain;            /* index of its domain in the planner */
    size_t reach;               /* nodes the domain offers it at the start */
} pl_group;

typedef struct pl_job_view {
    int32_t job;
    pl_group *groups;
    size_t n_groups;
    int32_t *group_of;          /* parallel to the job's pes[]: group index */
    int32_t *pe_pos;            /* PE index -> position in job pes (via map) */
    sp_imap pos_of_pe;          /* PE index -> position in job's pes[] */
    char *job_problem;          /* gang wait etc.; owned; NULL: none */
} pl_job_view;

struct place_state {
    char *tag_prefix;
    char *default_pool;
    place_isolation_scope isolation_scope;
    place_balancing balancing;
    bool gang_wait;

    sp_intern names;            /* node names (also those of missing nodes) */
    sp_intern strs;             /* namespaces, tags, ids, job and pool keys */
    int32_t *node_of_name;      /* names id -> node slot or NONE */
    size_t n_node_of_name, cap_node_of_name;

    pl_node *nodes;
    size_t n_nodes, cap_nodes;
    size_t live_nodes;
    uint64_t node_gen;          /* bumps when a node's name/tags/liveness change */

    pl_pool *pools;
    size_t n_pools, cap_pools;
    sp_map pool_by_key;         /* "ns/name" -> pool */

    pl_job *jobs;
    size_t n_jobs, cap_jobs;
    int32_t *free_jobs;         /* dead job slots (no PE left) for reuse */
    size_t n_free_jobs, cap_free_jobs;
    sp_map job_by_key;          /* "ns/job" -> job */

    pl_pe *pes;
    size_t n_pes, cap_pes;
    int32_t *free_pes;          /* dead PE slots for reuse */
    size_t n_free_pes, cap_free_pes;
    sp_map pe_by_uid;           /* uid -> PE index, or -(other index) - 2 */

    pl_other *others;
    size_t n_others, cap_others;
    int32_t *free_others;
    size_t n_free_others, cap_free_others;

    /* (job, node) -> PEs of the job on the node, and isolated ones << 32 */
    sp_imap job_node;
    /* (job, exlocation id, node) -> PEs of the job with that id there */
    sp_imap exloc_node;
    /* (pool, node name) -> slots of the pool that hold the node */
    sp_imap pool_member;

    /* the job view of the last check or filter: its texts stay valid until
     * the next call into the engine */
    pl_job_view view;
    bool have_view;
};

/* Keys of the two imaps. */
uint64_t pl_key_job_node(int32_t job, int32_t node);
uint64_t pl_key_exloc_node(int32_t job, int32_t exid, int32_t node);

/* PEs of job on node, and isolated PEs of job on node. */
int32_t pl_job_count_on(const place_state *st, int32_t job, int32_t node);
int32_t pl_job_isolated_on(const place_state *st, int32_t job, int32_t node);
/* PEs of job with exlocation id exid on node. */
int32_t pl_exloc_count_on(const place_state *st, int32_t job, int32_t exid,
                          int32_t node);

/* The node a names id refers to, or PLACE_NONE. */
int32_t pl_node_of_name(const place_state *st, int32_t name_id);

/* Set a PE's phase; every phase change goes through here, so that its
 * job's count of movable (PENDING or PLANNED) PEs stays right. */
void pl_pe_set_phase(place_state *st, int32_t pe, place_phase ph);

/* Put a PE on a node (phase >= PLANNED) / take it off, keeping every counter
 * right. pl_pe_unassign leaves phase PENDING. */
sp_rc pl_pe_assign(place_state *st, int32_t pe, int32_t node, place_phase ph)
    __attribute__((warn_unused_result));
void pl_pe_unassign(place_state *st, int32_t pe);

/* The pool a PE uses (its own or the policy's default), PLACE_NONE when it
 * uses none; *missing is set when it names one that does not exist. */
int32_t pl_pe_pool(const place_state *st, const pl_pe *p, bool *missing);

/* Live nodes that match the pool's tags and hosts (cached). */
sp_rc pl_pool_candidates(place_state *st, int32_t pool, const int32_t **nodes,
                         size_t *n) __attribute__((warn_unused_result));
/* Whether node matches the pool's tags and hosts; the first failure in r. */
bool pl_pool_matches(const place_state *st, const pl_pool *pool, int32_t pool_idx,
                     int32_t node, place_reason *r);
/* The slot node holds in a sized pool (one of st->pools), or PLACE_NONE. */
int32_t pl_pool_slot_of(const place_state *st, const pl_pool *pool, int32_t node);
/* Set slot `slot` of a sized pool to node (growing n_members), keeping the
 * nodes' exclusive-pool marks right; pl_pool_clear_slot undoes it. */
sp_rc pl_pool_set_slot(place_state *st, int32_t pool, int32_t slot, int32_t node)
    __attribute__((warn_unused_result));
void pl_pool_clear_slot(place_state *st, int32_t pool, int32_t slot);
/* The first free slot of a sized pool, PLACE_NONE when full. */
int32_t pl_pool_free_slot(const pl_pool *pool);

/* The value of key among n labels or annotations, or NULL. */
const char *pl_kv_find(const place_kv *kv, size_t n, const char *key);

/* Whether the PE tolerates every blocking taint of the node; the first one
 * not tolerated in *taint. */
bool pl_tolerates(const pl_pe *p, const pl_node *n, const pl_taint **taint);

void pl_reason_init(place_reason *r, place_reason_code code, bool unresolvable);

/* The grouping form of r's text, without per-node figures ("insufficient
 * cpu"), for "0/N nodes are available: ..." summaries. */
sp_rc pl_reason_format_summary(const place_state *st, const place_reason *r,
                               sp_buf *out) __attribute__((warn_unused_result));

/* Build the view of job (groups, their needs, job-wide problems). Free with
 * pl_job_view_free. */
sp_rc pl_job_view_build(place_state *st, int32_t job, pl_job_view *v)
    __attribute__((warn_unused_result));
void pl_job_view_free(pl_job_view *v);

/* The group of PE pe in view v, or PLACE_NONE. */
int32_t pl_group_of_pe(const pl_job_view *v, int32_t pe);

/* Recompute a group's demand (members not on a node). */
void pl_group_refresh_demand(const place_state *st, pl_group *g);

/*
 * May group g of view v go on node now? r receives PLACE_R_OK or the first
 * reason it may not (unresolvable ones first). Members of the group already
 * on the node count as part of it, not as neighbours.
 */
void pl_check_group_node(place_state *st, const pl_job_view *v,
                         const pl_group *g, int32_t node, place_reason *r);

/* Balance key part: PEs on node that count for job under the policy. */
int32_t pl_balance_count(const place_state *st, int32_t job, int32_t node);

/* Pool slots taken while planning, so that an attempt can be undone, and
 * the slots indexed PEs of the plan ask for, which others leave free. */
typedef struct pl_trail {
    pl_slot_req *v;
    size_t n, cap;
    const sp_imap *wanted;      /* pl_key_job_node(pool, index); may be NULL */
} pl_trail;

/*
 * Put every movable member of g on node with phase ph, taking the pool slots
 * it needs (recorded in trail when not NULL). Used by planner and filter.
 */
sp_rc pl_group_place(place_state *st, pl_group *g, int32_t node, place_phase ph,
                     pl_trail *trail) __attribute__((warn_unused_result));

/* Take every movable member of g off its node (back to PENDING). */
void pl_group_unplace(place_state *st, pl_group *g);

/* Summarise why group g fits nowhere ("0/N nodes are available: ...") into
 * summary; when detail is not NULL, also one reason per node into it. */
sp_rc pl_explain_group(place_state *st, const pl_job_view *v, const pl_group *g,
                       sp_buf *summary, place_unplaced *detail)
    __attribute__((warn_unused_result));

/* ------------------------------------------------------------------------ */
/* The planner (place_plan.c drives it, place_search.c finds nodes)           */
/* ------------------------------------------------------------------------ */

/* A colocation group of one of the planned jobs. */
typedef struct pl_unit {
    uint32_t view;
    int32_t group;
} pl_unit;

typedef struct pl_heap_entry {
    int64_t key;
    int32_t node;
} pl_heap_entry;

typedef struct pl_heap {
    pl_heap_entry *v;
    size_t n, cap;
} pl_heap;

/* Nodes of a domain that only some of its units may use: those another
 * job's exclusive pool owns (gate: that job's key), or those with taints
 * that block (gate: the taint set). */
typedef struct pl_gated {
    int64_t gate;
    pl_heap h;
} pl_gated;

/* Candidate nodes of a pool (or all nodes), best first for one job's
 * balance (job NONE under balancedInstance). Nodes its units cannot use
 * leave the open heap when a search meets them: gone until the next build
 * when no unit of the domain may use them, into a gated heap otherwise. */
typedef struct pl_domain {
    int32_t pool;
    int32_t job;
    size_t n_units;             /* units with PEs to place that search it */
    int32_t units_job;          /* the one job of those units, or NONE */
    place_resources least_need; /* the least any of them needs, each */
    bool built;
    pl_heap h;                  /* open nodes */
    pl_gated *gated;
    size_t n_gated, cap_gated;
} pl_domain;

typedef struct pl_step {
    int32_t unit;
    int32_t node;
} pl_step;

typedef struct pl_planner {
    place_state *st;
    pl_job_view *views;         /* one per planned job */
    size_t n_views;
    pl_unit *units;             /* every group of every view */
    size_t n_units;
    int32_t *order;             /* units to place, in placing order */
    size_t n_order;
    pl_domain *domains;
    size_t n_domains, cap_domains;
    pl_heap aside;              /* scratch of a search: nodes to push back */
    sp_imap unit_of_pe;         /* PE -> unit, for PEs of the planned jobs */
    sp_imap wanted_slots;       /* (pool, index) that indexed units ask for */
    sp_imap reach;              /* (pool, job) -> nodes an exclusive pool can offer */
    pl_trail trail;             /* pool slots taken in this attempt */
    pl_step *steps;             /* this attempt's placements, in order */
    size_t n_steps, cap_steps;
    pl_step *best;              /* the best attempt's placements */
    size_t n_best;
    size_t best_failed;         /* PEs the best attempt left unplaced */
    bool have_best;
    int64_t *tabu;              /* per unit: not to be moved before this step */
    place_resources *pool_share; /* per sized pool: what the plan's units need
                                    in it, per member (need / size + 1) */
    bool pack;                  /* best fit instead of balance, on retries */
    uint64_t seed;
    long work;                  /* node checks so far, against a budget */
} pl_planner;

#define PL_WORK_BUDGET 4000000L /* node checks per plan, all attempts */

pl_group *pl_unit_group(const pl_planner *pl, int32_t unit);
const pl_job_view *pl_unit_view(const pl_planner *pl, int32_t unit);

/* Give every unit its domain (created on first use) and its reach. */
sp_rc pl_assign_domains(pl_planner *pl) __attribute__((warn_unused_result));
/* The one node a pinned unit may use, or PLACE_NONE. */
int32_t pl_pinned_node(const pl_planner *pl, const pl_group *g);
/* The best node for unit now, or PLACE_NONE in *found. */
sp_rc pl_choose_node(pl_planner *pl, int32_t unit, int32_t *found)
    __attribute__((warn_unused_result));
/* Place unit on node, recording the step and the slots it took. */
sp_rc pl_commit(pl_planner *pl, int32_t unit, int32_t node)
    __attribute__((warn_unused_result));
/* Undo every step and slot of the attempt. */
void pl_undo_attempt(pl_planner *pl);
/* Take unit off its node, recorded as a step (node PLACE_NONE). */
sp_rc pl_eject(pl_planner *pl, int32_t unit) __attribute__((warn_unused_result));
/* Redo recorded steps in order (placements and ejections). */
sp_rc pl_replay(pl_planner *pl, const pl_step *steps, size_t n)
    __attribute__((warn_unused_result));
/*
 * Local search for the units in failed[0..*n_failed): place one where the
 * fewest units of this plan are in its way, move those to the failed list,
 * and go on, keeping the best state seen. On return failed holds the units
 * still unplaced.
 */
sp_rc pl_local_search(pl_planner *pl, int32_t *failed, size_t *n_failed)
    __attribute__((warn_unused_result));
/* Every node, for each unit still unplaced. */
sp_rc pl_sweep(pl_planner *pl) __attribute__((warn_unused_result));
/* Complete the membership of the sized pools placed units use. */
sp_rc pl_fill_pools(pl_planner *pl) __attribute__((warn_unused_result));
void pl_search_free(pl_planner *pl);

#endif /* SP_PLACE_INTERNAL_H */
