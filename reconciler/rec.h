/*
 * The reconciler: streams-placer as a Kubernetes controller (DESIGN
 * sections 2, 4, 6). It keeps the service's state in step with the cluster
 * (informers on Nodes, Pods, HostPools and PEPlacements feed it), and it is
 * the service's sink in a cluster: every decision is written to the PE's
 * PEPlacement (status subresource, one per PE, named <job>-<pe>) before it
 * is acted on, sized pools' membership to HostPool status.hosts, bindings
 * through the pods/binding subresource, and an Event on a pod that cannot
 * be placed. Released placements of jobs with no pods left are deleted
 * after the policy's TTL. With leader election, a coordination.k8s.io/v1
 * Lease decides which replica writes; losing it stops writes at once, and
 * the leader labels its own pod so that a Service can send extender calls
 * to it alone.
 *
 * While the API server is unreachable, slow or failing, the service keeps
 * answering from its caches: a write is retried with backoff within a time
 * budget (REC_WRITE_BUDGET_MS), then fails with a clear error that the
 * caller (kube-scheduler) retries; after such a failure further writes fail
 * at once for a short, growing pause instead of each waiting out the budget
 * again. A pod deletion whose release could not be written is kept and
 * replayed with backoff until it is, so no release is lost.
 */
#ifndef SP_REC_H
#define SP_REC_H

#include <stdbool.h>

#include "kapi/kapi.h"
#include "svc/svc.h"
#include "util/sp_error.h"

#define REC_LEADER_LABEL "placement.streams.io/leader" /* "true" on the leader's pod */
#define REC_GROUP_PATH "/apis/placement.streams.io/v1alpha1"
/* A write holds the service's lock, which the webhook (timeoutSeconds 5 in
 * manifests/) and every extender call wait for: it gives up well before. */
#define REC_WRITE_BUDGET_MS 3000

typedef struct rec_config {
    kapi *api;                 /* borrowed; outlives the reconciler */
    bool leader_elect;         /* false: this replica always writes */
    const char *lease_name;    /* NULL: "streams-placer" */
    const char *lease_namespace; /* NULL: the client's namespace */
    const char *identity;      /* holder identity; NULL: pod name or host-pid */
    const char *pod_name;      /* this replica's pod, labelled when leading;
                                  NULL: $POD_NAME, or no label */
    int lease_duration_s;      /* 0: 15 */
    int renew_deadline_s;      /* 0: 10 */
    int retry_period_s;        /* 0: 2 */
    int gc_period_s;           /* sweep of released placements; 0: 30 */
    int write_budget_ms;       /* how long one write (a placement, a binding)
                                  may take with retries, under the service's
                                  lock; 0: REC_WRITE_BUDGET_MS */
    int breaker_ms;            /* after the API server failed a write, further
                                  writes fail at once for this long, doubled
                                  with each failure in a row up to 5 s;
                                  0: 250 */
} rec_config;

typedef struct rec rec;

/* A reconciler for cfg, not yet running; its sink is ready for svc_open. */
sp_rc rec_new(const rec_config *cfg, rec **out, sp_err *err)
    __attribute__((warn_unused_result));

/* Where the service's decisions go (valid while the reconciler lives). */
const svc_sink *rec_sink(rec *r);

/* Start the informers, the lease and the sweep, feeding s. */
sp_rc rec_run(rec *r, svc *s, sp_err *err) __attribute__((warn_unused_result));

/* True once every informer has delivered a complete list: the state is
 * rebuilt from the cluster. */
bool rec_synced(const rec *r);

/* True while this replica may write (holds the lease, or no election). */
bool rec_leader(const rec *r);

/* Stop everything (the lease is released when held) and free. r may be NULL. */
void rec_stop(rec *r);

#endif /* SP_REC_H */
