/*
 * The running placer: policy, engine state and the store behind one lock,
 * and the decisions that change them. Handlers (extender, webhook) lock the
 * service, read and change it through these calls, and unlock; every decision
 * is written to the store before it reaches the engine, so that what the
 * server answered survives a restart. It also keeps the per-PE placement
 * records (phase, node, previous node, launches: a PEPlacement's status in
 * the standalone mode), times out reservations, and counts decisions for
 * /metrics.
 */
#ifndef SP_SVC_H
#define SP_SVC_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "kobj/kobj.h"
#include "placement/place.h"
#include "policy/pol.h"
#include "store/store.h"
#include "util/sp_buf.h"
#include "util/sp_error.h"

#define SVC_PENDING_UID_PREFIX "pending:" /* PEs seen at admission, no uid yet */

/*
 * Where decisions go in a cluster (the reconciler implements it with
 * PEPlacement and HostPool status, Bindings and Events); without one the
 * service keeps them in its embedded store. Called under the service's
 * lock; every call returns only once the write is done (or failed).
 */
typedef struct svc_sink {
    /* Persist one PE's placement. */
    sp_rc (*put_placement)(void *ctx, const store_placement *p, sp_err *err);
    /* Persist the ordered membership of a sized pool ("" for a free slot). */
    sp_rc (*put_members)(void *ctx, const char *ns, const char *pool,
                         const char *const *hosts, size_t n, sp_err *err);
    /* Bind the pod to node (a pod already bound there is success). */
    sp_rc (*bind)(void *ctx, const char *ns, const char *pod, const char *uid,
                  const char *node, sp_err *err);
    /* Tell the pod's owner why it cannot be placed (an Event). */
    void (*explain)(void *ctx, const char *ns, const char *pod, const char *uid,
                    const char *reason);
    void *ctx;
} svc_sink;

typedef struct svc_config {
    const svc_sink *sink;        /* NULL: standalone, the embedded store */
    const char *state_dir;       /* the store and the generated certificate */
    const char *policy_path;     /* NULL: the built-in policy */
    const char *nodes_path;      /* NULL: nodes come with extender requests */
    const char *hostpools_path;  /* NULL: HostPools come from admission */
    const char *pods_path;       /* NULL: pods come from admission and filter */
} svc_config;

typedef struct svc svc;

/*
 * Load the policy and the node, HostPool and pod files. Standalone, open
 * the store and rebuild the state from it (pools and their membership,
 * pods, placements; expired reservations are released); with a sink, start
 * empty: the reconciler feeds the state. Failures name the file and cause.
 */
sp_rc svc_open(const svc_config *cfg, svc **out, sp_err *err)
    __attribute__((warn_unused_result));
void svc_close(svc *c);

/*
 * Re-read the policy file the service was opened with and apply it from
 * the next decision on: mode, isolation scope, balancing, gang wait,
 * default pool, TTLs, scheduler name and namespaces (those apply to pods
 * learned from then on). A new tagLabelPrefix waits for a restart (logged).
 * An unreadable or invalid file changes nothing: the last good policy
 * stays, err says why (for the caller to log), and it is counted in the
 * metrics (streams_placer_policy_reloads_total, streams_placer_policy_valid).
 * A new policy is logged. Takes the lock itself.
 */
sp_rc svc_reload_policy(svc *c, sp_err *err) __attribute__((warn_unused_result));

/* Test hook: the clock (unix seconds) reservations are timed with. */
void svc_set_clock(svc *c, int64_t (*now)(void));

void svc_lock(svc *c);
void svc_unlock(svc *c);

/* Under the lock. */
place_state *svc_state(svc *c);
const pol_policy *svc_policy(const svc *c);

/*
 * Release reservations whose TTL has passed (placement Released). Then,
 * standalone and at most once a second (by the service's clock), delete
 * from the store and from memory the placements svc_stale_placements would
 * name for a cutoff of now - releasedPlacementTTLSeconds: what the
 * reconciler's sweep does in a cluster. Each call looks at a bounded share
 * of the records, so that it costs the same however many there are.
 */
sp_rc svc_expire(svc *c, sp_err *err) __attribute__((warn_unused_result));

/*
 * Learn a Pod object (from a filter call or an admission review). A PE pod
 * of a managed namespace is added to the state and the store once: *pe is
 * its index, or PLACE_NONE for any other pod. A pod without a uid (seen at
 * admission, before it exists) is held as "pending:<ns>/<job>/<pe>" until
 * the real pod replaces it. A pod for a PE that had a placement carries its
 * node as the previous node (restart). The stored object is the pod. A pod
 * that does not convert (a quantity or a name too large included) is
 * SP_EPARSE or SP_EINVAL with the reason in err.
 */
sp_rc svc_learn_pod(svc *c, const cJSON *pod, int32_t *pe, sp_err *err)
    __attribute__((warn_unused_result));

/*
 * An admitted pod (CREATE or UPDATE): learned when new; when already known,
 * replaced, so that changed annotations count, keeping its reservation or
 * binding. A known pod that comes back identical (a replayed review, a
 * relist) changes nothing and writes nothing: the service keeps a keyed
 * digest of each pod object it learned (svc_json.h).
 */
sp_rc svc_update_pod(svc *c, const cJSON *pod, sp_err *err)
    __attribute__((warn_unused_result));

/*
 * A pod printed and digested ahead, without the service's lock, so that
 * recording it under the lock (svc_update_printed_pod, svc_update_pod of
 * that very object, which must not change meanwhile) costs a digest lookup
 * when it comes back unchanged. Zero-initialise; svc_print_pod may run on
 * any thread; free with svc_printed_pod_free (NULL is a no-op).
 */
typedef struct svc_printed_pod {
    const cJSON *pod;   /* the object printed; NULL when none (or printing failed) */
    char *text;         /* owned */
    size_t len, cap;
    uint64_t digest;
} svc_printed_pod;

sp_rc svc_print_pod(const svc *c, const cJSON *pod, svc_printed_pod *out)
    __attribute__((warn_unused_result));

/* svc_update_pod of pod, printed ahead (pre, or NULL) and converted ahead
 * (converted: kobj_pod_from_json of pod with its own namespace; or NULL). */
sp_rc svc_update_printed_pod(svc *c, const cJSON *pod, const kobj_pod *converted,
                             const svc_printed_pod *pre,
                             sp_err *err) __attribute__((warn_unused_result));
void svc_printed_pod_free(svc_printed_pod *p);

/* The pod is gone: its placement is Released (node kept as previous). */
sp_rc svc_forget_pod(svc *c, const cJSON *pod, sp_err *err)
    __attribute__((warn_unused_result));

/* Learn a HostPool object (admitted): into the state and the store. */
sp_rc svc_learn_pool(svc *c, const cJSON *pool, sp_err *err)
    __attribute__((warn_unused_result));

/* Learn a Node object (from an extender NodeList or a watch); *idx its
 * index (may be NULL). */
sp_rc svc_learn_node(svc *c, const cJSON *node, int32_t *idx, sp_err *err)
    __attribute__((warn_unused_result));

/*
 * What a watch sees (cluster mode): any pod, PE or not (a bound pod uses
 * capacity), replaced when known (its binding, its annotations), forgotten
 * when finished; a node or pool gone; a placement written (by this
 * replica, another one, or before a restart) or deleted (its record is
 * dropped: a deleted placement costs no memory).
 */
sp_rc svc_observe_pod(svc *c, const cJSON *pod, sp_err *err)
    __attribute__((warn_unused_result));
sp_rc svc_forget_node(svc *c, const char *name, sp_err *err)
    __attribute__((warn_unused_result));
sp_rc svc_forget_pool(svc *c, const char *ns, const char *name, sp_err *err)
    __attribute__((warn_unused_result));
sp_rc svc_learn_placement(svc *c, const store_placement *p, sp_err *err)
    __attribute__((warn_unused_result));
sp_rc svc_forget_placement(svc *c, const char *ns, const char *job, const char *pe,
                           sp_err *err) __attribute__((warn_unused_result));

/*
 * Released placements of jobs that have no pod left, decided before cutoff
 * (unix seconds): at most max of them, as "ns/job/pe" keys into *out (owned
 * strings; free with sp_strv_free). The reconciler deletes them after the
 * policy's TTL.
 */
sp_rc svc_stale_placements(svc *c, int64_t cutoff, size_t max, char ***out, size_t *n)
    __attribute__((warn_unused_result));

/* Decisions: persist the placement record, then apply it to the engine. */
sp_rc svc_reserve(svc *c, int32_t pe, int32_t node, sp_err *err)
    __attribute__((warn_unused_result));
sp_rc svc_bind(svc *c, int32_t pe, int32_t node, sp_err *err)
    __attribute__((warn_unused_result));
sp_rc svc_fail(svc *c, int32_t pe, const char *reason, sp_err *err)
    __attribute__((warn_unused_result));

/* Bind a pod this service does not manage (no decision of ours to record):
 * through the sink in a cluster; SP_ENOTFOUND standalone, where there is
 * nothing to bind with. */
sp_rc svc_bind_unmanaged(svc *c, const char *ns, const char *pod, const char *uid,
                         const char *node, sp_err *err) __attribute__((warn_unused_result));

/* Persist the membership of every pool whose membership changed. */
sp_rc svc_save_pools(svc *c, sp_err *err) __attribute__((warn_unused_result));

/*
 * Decisions recorded between svc_defer_sync(c, true) and (c, false), under
 * the lock, are synced in the background (store_defer_sync): the extender's
 * reservations, which nothing acts on before their bind, a synced write.
 * In a cluster a decision is an API write and this changes nothing.
 */
void svc_defer_sync(svc *c, bool on);

/* Count a refusal by reason code, and an admission answer. */
void svc_count_rejection(svc *c, place_reason_code code);
void svc_count_admission(svc *c, bool mutate, bool allowed);

/* The placement record of a PE (phase "Reserved", "Bound", "Released",
 * "Failed" or "" when none) and its node ("" when none); strings valid
 * until the next change. Under the lock. */
void svc_placement_of(svc *c, int32_t pe, const char **phase, const char **node);

/* Append the service's metrics (Prometheus text) to out; locks itself. */
sp_rc svc_metrics_write(svc *c, sp_buf *out) __attribute__((warn_unused_result));

#endif /* SP_SVC_H */
