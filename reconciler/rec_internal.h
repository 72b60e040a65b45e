/*
 * Internals of the reconciler shared by its files: the running state, the
 * Lease loop, and the PEPlacement conversions.
 */
#ifndef SP_REC_INTERNAL_H
#define SP_REC_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "reconciler/rec.h"
#include "util/sp_stop.h"

enum { REC_NODES, REC_PODS, REC_POOLS, REC_PLACEMENTS, REC_N_INFORMERS };

/* A pod event whose write failed (a release), replayed until it is done. */
typedef struct rec_retry {
    char *uid;                 /* the pod's */
    cJSON *obj;                /* the pod as that event carried it */
    kapi_event ev;
} rec_retry;

/* One informer's callbacks: its reconciler and which one it is. */
typedef struct rec_feed {
    struct rec *r;
    int which;
} rec_feed;

struct rec {
    kapi *api;
    svc *svc;
    svc_sink sink;
    bool leader_elect;
    char *lease_name, *lease_namespace, *identity, *pod_name;
    int lease_duration_s, renew_deadline_s, retry_period_s, gc_period_s;
    kapi_informer *informers[REC_N_INFORMERS];
    rec_feed feeds[REC_N_INFORMERS];
    atomic_int synced;         /* bit per informer that has listed once */
    atomic_bool leader;
    sp_stop stop;              /* the lease, sweep and retry threads nap on it */
    pthread_t lease_thread, gc_thread, retry_thread;
    bool lease_running, gc_running, retry_running;
    int write_budget_ms;
    int breaker_ms;            /* the first pause */

    /* The breaker: after a write found the API server unavailable (no
     * answer, 429 or 5xx once retries ran out), writes fail at once until
     * breaker_until_ms (kapi_now_ms), a pause that doubles with each such
     * failure in a row; any answer closes it. */
    pthread_mutex_t breaker_lock;
    int64_t breaker_until_ms;
    unsigned breaker_failures;
    char breaker_error[320];   /* a kapi_result message and its status */

    /* Pod events whose writes failed, by pod uid (one each, the latest). */
    pthread_mutex_t retry_lock;
    rec_retry *retries;
    size_t n_retries, cap_retries;
};

/* Sleep up to seconds, or until the reconciler stops; false when stopping. */
bool rec_sleep(rec *r, int seconds);
bool rec_sleep_ms(rec *r, int ms);

/* The Lease loop (a thread): acquire, renew, lose; sets r->leader. */
void *rec_lease_loop(void *arg);
/* Label (or unlabel) this replica's pod as the leader; nothing outside a pod. */
void rec_label_pod(rec *r, bool leading);
/* Give the Lease up (on stop, when held). */
void rec_lease_release(rec *r);

/* The PEPlacement object name of a PE: <job>-<pe> as a DNS subdomain. */
sp_rc rec_placement_name(const char *job, const char *pe, char *buf, size_t len)
    __attribute__((warn_unused_result));
/* A new PEPlacement (metadata and spec) for p. */
cJSON *rec_placement_object(const char *ns, const char *name, const store_placement *p);
/* Its status from p. */
cJSON *rec_placement_status(const store_placement *p, int64_t generation);
/* A placement from an object (strings borrowed from obj). */
sp_rc rec_placement_from_json(const cJSON *obj, store_placement *p, sp_err *err)
    __attribute__((warn_unused_result));

/* RFC 3339 (UTC, seconds) and back; 0 for unparseable. */
void rec_time_format(int64_t unix_s, char *buf, size_t len);
int64_t rec_time_parse(const char *s);

#endif /* SP_REC_INTERNAL_H */
