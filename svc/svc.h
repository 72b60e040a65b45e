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

#include "placement/place.h"
#include "policy/pol.h"
#include "util/sp_buf.h"
#include "util/sp_error.h"

#define SVC_PENDING_UID_PREFIX "pending:" /* PEs seen at admission, no uid yet */

typedef struct svc_config {
    const char *state_dir;       /* the store and the generated certificate */
    const char *policy_path;     /* NULL: the built-in policy */
    const char *nodes_path;      /* NULL: nodes come with extender requests */
    const char *hostpools_path;  /* NULL: HostPools come from admission */
    const char *pods_path;       /* NULL: pods come from admission and filter */
} svc_config;

typedef struct svc svc;

/*
 * Load the policy, the node and HostPool files, open the store and rebuild
 * the state from it (pools and their membership, pods, placements; expired
 * reservations are released). Every failure names the file and the cause.
 */
sp_rc svc_open(const svc_config *cfg, svc **out, sp_err *err)
    __attribute__((warn_unused_result));
void svc_close(svc *c);

/* Test hook: the clock (unix seconds) reservations are timed with. */
void svc_set_clock(svc *c, int64_t (*now)(void));

void svc_lock(svc *c);
void svc_unlock(svc *c);

/* Under the lock. */
place_state *svc_state(svc *c);
const pol_policy *svc_policy(const svc *c);

/* Release reservations whose TTL has passed (placement Released). */
sp_rc svc_expire(svc *c, sp_err *err) __attribute__((warn_unused_result));

/*
 * Learn a Pod object (from a filter call or an admission review). A PE pod
 * of a managed namespace is added to the state and the store once: *pe is
 * its index, or PLACE_NONE for any other pod. A pod without a uid (seen at
 * admission, before it exists) is held as "pending:<ns>/<job>/<pe>" until
 * the real pod replaces it. A pod for a PE that had a placement carries its
 * node as the previous node (restart). The stored object is the pod.
 */
sp_rc svc_learn_pod(svc *c, const cJSON *pod, int32_t *pe, sp_err *err)
    __attribute__((warn_unused_result));

/*
 * An admitted pod (CREATE or UPDATE): learned when new; when already known,
 * replaced, so that changed annotations count, keeping its reservation or
 * binding.
 */
sp_rc svc_update_pod(svc *c, const cJSON *pod, sp_err *err)
    __attribute__((warn_unused_result));

/* The pod is gone: its placement is Released (node kept as previous). */
sp_rc svc_forget_pod(svc *c, const cJSON *pod, sp_err *err)
    __attribute__((warn_unused_result));

/* Learn a HostPool object (admitted): into the state and the store. */
sp_rc svc_learn_pool(svc *c, const cJSON *pool, sp_err *err)
    __attribute__((warn_unused_result));

/* Learn a Node object (from an extender NodeList); *node its index. */
sp_rc svc_learn_node(svc *c, const cJSON *node, int32_t *idx, sp_err *err)
    __attribute__((warn_unused_result));

/* Decisions: persist the placement record, then apply it to the engine. */
sp_rc svc_reserve(svc *c, int32_t pe, int32_t node, sp_err *err)
    __attribute__((warn_unused_result));
sp_rc svc_bind(svc *c, int32_t pe, int32_t node, sp_err *err)
    __attribute__((warn_unused_result));
sp_rc svc_fail(svc *c, int32_t pe, const char *reason, sp_err *err)
    __attribute__((warn_unused_result));

/* Persist the membership of every pool whose membership changed. */
sp_rc svc_save_pools(svc *c, sp_err *err) __attribute__((warn_unused_result));

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
