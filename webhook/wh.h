/*
 * The validating and mutating admission webhook for PE pods and HostPools:
 * an AdmissionReview v1 request in, an AdmissionReview v1 response out
 * (DESIGN sections 3 and 5). Validation refuses what can never be placed
 * with a message that names the field and the fix; mutation adds what makes
 * the rest of Kubernetes cooperate (node affinity for the pool, the policy's
 * schedulerName, normalised annotations) as a base64 JSONPatch. In audit
 * mode nothing is refused or changed: problems become warnings.
 *
 * The module reads the engine state (for the job's existing PEs and the
 * pools) but never changes it: what the caller should record (a pod created
 * or deleted, a HostPool written) comes back as effects, which the caller
 * applies under the same lock after the call.
 *
 * Decisions (the handlers' files give the details):
 *   - Messages start with the object: "pod streams/job1-pe0: ...",
 *     "hostpool streams/ingest: ..."; a pod created with generateName has no
 *     name yet in the mutating call and shows as "pod streams/job1-pe3-*".
 *   - status.code 403: the object is refused (the engine's message names
 *     the field and the fix); 400: the request or the object cannot be read.
 *   - Allowed untouched: pods without the streams.io/job label, PE pods and
 *     HostPools in namespaces the policy does not manage, other kinds,
 *     subresources (pods/status, pods/binding), CONNECT, HostPool DELETE.
 *   - UPDATE is refused only when it changes what is judged (a pod's PE
 *     labels and annotations, a HostPool's spec and status.hosts): an
 *     unchanged problem is a warning, so that an object admitted earlier
 *     (before the webhook, or in audit mode) can still get its finalizers
 *     removed. A pod's spec is immutable on UPDATE, so only its annotations
 *     are normalised then.
 *   - WH_MUTATE refuses what WH_VALIDATE refuses (the user hears it first)
 *     and warns when the PE's HostPool is missing, invalid or another job's
 *     (the pod will stay Pending; not an admission error).
 *   - Effects come from WH_VALIDATE only, when allowed and not a dry run
 *     (request.dryRun: configure sideEffects NoneOnDryRun); every DELETE
 *     review of a PE pod gives WH_POD_DELETE, so a forced delete (two
 *     reviews) gives it twice. An effect's object always converts with
 *     kobj_pod_from_json / kobj_pool_from_json.
 *   - st NULL: only the labels and annotations are checked (no job-wide
 *     check, no pool affinity); policy NULL: the defaults.
 *   - body is allocated with sp_malloc: free it with sp_free.
 */
#ifndef SP_WH_H
#define SP_WH_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "kobj/kobj.h"
#include "placement/place.h"
#include "policy/pol.h"
#include "util/sp_arena.h"
#include "util/sp_error.h"

typedef enum wh_mode {
    WH_VALIDATE,
    WH_MUTATE,
} wh_mode;

typedef enum wh_effect_op {
    WH_POD_UPSERT,    /* a PE pod was admitted (CREATE or UPDATE) */
    WH_POD_DELETE,    /* a PE pod is being deleted (its oldObject) */
    WH_POOL_UPSERT,   /* a HostPool was admitted (CREATE or UPDATE) */
} wh_effect_op;

typedef struct wh_effect {
    wh_effect_op op;
    cJSON *object;    /* the Pod or HostPool object, in the result's arena
                         (freed with it: not to be deleted or added to) */
    kobj_pod *pod;    /* owned: for WH_POD_UPSERT the object as the verdict
                         converted it (its namespace is the object's own), so
                         that recording it need not convert it again; NULL
                         for the other effects, or when memory ran out */
} wh_effect;

typedef struct wh_result {
    int http_status;      /* 200; 400 when not even a uid could be read */
    char *body;           /* owned: the response (an AdmissionReview, or for
                             400 a JSON {"error": "..."}) */
    size_t len;
    bool allowed;         /* what the response says */
    wh_effect *effects;   /* owned; only from WH_VALIDATE, when allowed */
    size_t n_effects;
    sp_arena arena;       /* the parsed review, effects included: so a result
                             stays where it was opened, on its thread, and is
                             freed after its case */
} wh_result;

/*
 * Answer one AdmissionReview (len bytes of body). Everything the caller
 * needs is in *out, which it frees with wh_result_free, also when an error
 * is returned. Malformed input is not an error: it is an answer (allowed
 * false with the reason when the uid is readable, else status 400). Returns
 * SP_ENOMEM only. st is read, never written; the caller holds its lock.
 */
sp_rc wh_review(const place_state *st, const pol_policy *policy, wh_mode mode,
                const char *body, size_t len, wh_result *out)
    __attribute__((warn_unused_result));

/*
 * The same review in three steps, so that a caller holding a lock for the
 * state holds it for the middle one only (parsing and rendering are most of
 * a review's cost):
 *   wh_case_open    parses a copy of body (len bytes) in which the
 *                   managedFields arrays are emptied (kobj_skim.h: nothing
 *                   reads them, and they are most of a pod), and reads the
 *                   request;
 *                   it initialises *result, which the caller then always
 *                   frees with wh_result_free;
 *   wh_case_judge   runs the handlers (st and policy are read, under the
 *                   caller's lock) and gives the verdict and the effects in
 *                   result->allowed and result->effects: apply those under
 *                   the same lock;
 *   wh_case_answer  renders the response into result->http_status, body
 *                   and len (the lock may be released before).
 * Each returns SP_ENOMEM only; after one fails, only wh_case_free is left.
 * wh_case_free(NULL) is a no-op. The case is freed before the result (the
 * result's arena holds both), on the same thread.
 */
typedef struct wh_case wh_case;

sp_rc wh_case_open(wh_mode mode, const char *body, size_t len, wh_case **out,
                   wh_result *result) __attribute__((warn_unused_result));
sp_rc wh_case_judge(wh_case *cs, const place_state *st, const pol_policy *policy,
                    wh_result *result) __attribute__((warn_unused_result));
sp_rc wh_case_answer(wh_case *cs, wh_result *result)
    __attribute__((warn_unused_result));
void wh_case_free(wh_case *cs);

/* After wh_case_open of a validate review of a pod: request.object, with
 * its namespace as an effect records it; the verdict does not change it, and
 * an upsert effect is this very object. NULL otherwise (HostPools included).
 * For recording work (printing the pod) done before the lock. */
const cJSON *wh_case_object(const wh_case *cs);

void wh_result_free(wh_result *r);

#endif /* SP_WH_H */
