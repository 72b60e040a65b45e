/*
 * Pieces shared by the webhook's files (nothing outside webhook/ includes
 * this header): the request as read from the AdmissionReview envelope, the
 * answer the handlers build up (allowed or the denial, warnings, patch
 * operations, the effect), and the helpers that write JSONPatch operations
 * and node affinity. The handlers (wh_pod.c, wh_pool.c) read a wh_req and
 * fill a wh_answer; wh_review.c turns the answer into the response.
 */
#ifndef SP_WH_INTERNAL_H
#define SP_WH_INTERNAL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/sp_buf.h"
#include "webhook/wh.h"

#define WH_MSG_MAX 2048     /* bytes of one denial or warning message */
#define WH_NAME_MAX 253     /* bytes of an object name shown in messages */
#define WH_IDENT_MAX 600    /* bytes of "pod <namespace>/<name>" */
#define WH_PATH_MAX 4096    /* bytes of one JSON Pointer in a patch */
#define WH_MAX_TERMS 64     /* nodeSelectorTerms the webhook writes at most */

#define WH_CODE_BAD_REQUEST 400 /* status.code: the request is malformed */
#define WH_CODE_FORBIDDEN 403   /* status.code: the object is refused */

/* What the review is about. */
typedef enum wh_target {
    WH_TARGET_OTHER,  /* anything else: allowed untouched */
    WH_TARGET_POD,    /* core/v1 pods (not a subresource) */
    WH_TARGET_POOL,   /* placement.streams.io HostPools */
} wh_target;

typedef enum wh_op {
    WH_OP_CREATE,
    WH_OP_UPDATE,
    WH_OP_DELETE,
    WH_OP_CONNECT,
} wh_op;

/* One review: the caller's context and the request, every string and
 * object borrowed from the parsed body. */
typedef struct wh_req {
    const place_state *st;      /* NULL: no state (parse checks only) */
    const pol_policy *policy;   /* NULL: the defaults */
    wh_mode mode;
    const char *api_version;    /* echoed in the response */
    const char *kind;
    const char *uid;
    wh_target target;
    wh_op op;
    const char *namespace_;     /* request.namespace; NULL when absent or "" */
    const char *name;           /* request.name; NULL when absent or "" */
    cJSON *request;             /* the request: parent of the objects */
    cJSON *object;              /* request.object; NULL when absent or null */
    cJSON *old_object;          /* request.oldObject; likewise */
    bool dry_run;
} wh_req;

/* True when the policy says audit: nothing is refused or patched. */
static inline bool wh_audit(const wh_req *rq)
{
    return rq->policy && rq->policy->mode == POL_MODE_AUDIT;
}

/* What the response will say. */
typedef struct wh_answer {
    bool allowed;
    int code;                   /* status.code when denied */
    char *message;              /* owned: status.message when denied */
    cJSON *warnings;            /* owned array of strings, or NULL */
    cJSON *patch;               /* owned array of JSONPatch operations, or NULL */
    wh_effect_op effect_op;
    cJSON *effect;              /* borrowed from the request: what to record
                                   when the review is allowed, or NULL */
    kobj_pod *effect_pod;       /* owned: effect converted (a PE pod), or NULL */
} wh_answer;

/* ------------------------------------------------------------------------ */
/* Answers (wh_answer.c)                                                      */
/* ------------------------------------------------------------------------ */

void wh_answer_init(wh_answer *a);
void wh_answer_free(wh_answer *a);

/*
 * Refuse the object with status code and a printf-style message. The first
 * denial is kept, later ones are ignored. SP_ENOMEM only.
 */
sp_rc wh_deny(wh_answer *a, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), warn_unused_result));

/* Add a printf-style warning. SP_ENOMEM only. */
sp_rc wh_warn(wh_answer *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), warn_unused_result));

/*
 * "<what> <namespace>/<name>" for messages, into buf (WH_IDENT_MAX bytes
 * hold any): the name is request.name, else metadata.name, else
 * metadata.generateName + "*" (a pod created with generateName has no name
 * yet in the mutating call: "pod streams/job1-pe3-*"), else "(unnamed)";
 * the namespace is the object's (wh_object_namespace), omitted with its
 * "/" when there is none. Parts longer than WH_NAME_MAX are cut with
 * "...". Never fails.
 */
void wh_ident(char *buf, size_t len, const char *what, const wh_req *rq,
              const cJSON *obj);

/*
 * The namespace an object is in: metadata.namespace when it is a non-empty
 * string, else request.namespace (NULL when neither).
 */
const char *wh_object_namespace(const wh_req *rq, const cJSON *obj);

/*
 * The AdmissionReview response for a and rq as JSON text in *body (owned,
 * free with sp_free). SP_ENOMEM only.
 */
sp_rc wh_answer_render(const wh_req *rq, const wh_answer *a, char **body,
                       size_t *len) __attribute__((warn_unused_result));

/* {"error": msg} in *body (owned, free with sp_free). SP_ENOMEM only. */
sp_rc wh_error_render(const char *msg, char **body, size_t *len)
    __attribute__((warn_unused_result));

/* ------------------------------------------------------------------------ */
/* JSONPatch (wh_patch.c)                                                     */
/* ------------------------------------------------------------------------ */

/*
 * Append {"op": op, "path": path, "value": value} to *patch (created on
 * first use). value is taken: freed on failure too; NULL (a failed
 * allocation of it) is SP_ENOMEM. SP_ENOMEM only.
 */
sp_rc wh_patch_op(cJSON **patch, const char *op, const char *path,
                  cJSON *value) __attribute__((warn_unused_result));

/* Append "/" and seg, escaped as RFC 6901 says ('~' -> "~0", '/' -> "~1"),
 * to the JSON Pointer in b. SP_ENOMEM, SP_ELIMIT over WH_PATH_MAX. */
sp_rc wh_path_seg(sp_buf *b, const char *seg) __attribute__((warn_unused_result));
/* Append "/" and the decimal i. */
sp_rc wh_path_index(sp_buf *b, size_t i) __attribute__((warn_unused_result));
/* Cut the pointer in b back to len bytes (a length it had before). */
void wh_path_cut(sp_buf *b, size_t len);

/* The spelling of obj's member name as the object has it (keys match
 * case-insensitively on input, but a JSON Pointer is exact), or name when
 * obj has no such member. */
const char *wh_member(const cJSON *obj, const char *name);

/* "replace" when obj has member name with a non-null value, else "add". */
const char *wh_member_op(const cJSON *obj, const char *name);

/*
 * Standard base64 (RFC 4648, with padding) of len bytes into *out (owned,
 * NUL-terminated, free with sp_free). SP_ENOMEM, SP_ELIMIT when too large.
 */
sp_rc wh_base64(const void *data, size_t len, char **out)
    __attribute__((warn_unused_result));

/* ------------------------------------------------------------------------ */
/* Node affinity for a pool (wh_affinity.c)                                   */
/* ------------------------------------------------------------------------ */

/* What selects a pool's nodes: label keys that must exist (the policy's tag
 * prefix + tag) and node names, both sorted. */
typedef struct wh_selector {
    char **keys;                /* owned strings */
    size_t n_keys;
    const char **hosts;         /* owned array of borrowed strings */
    size_t n_hosts;
} wh_selector;

void wh_selector_free(wh_selector *s);

/*
 * The JSONPatch operations that make spec's required node affinity select
 * only nodes of the pool: every existing nodeSelectorTerm (they are ORed)
 * gains the pool's requirements (ANDed within a term), the structure is
 * created when absent, nothing is added twice. spec_path is the pointer to
 * spec ("/spec" as the pod spells it). *hosts_dropped is set when the pool
 * lists more hosts than WH_MAX_TERMS terms can carry, so only its tags were
 * written. SP_EPARSE (err names the field) when the existing affinity is
 * not shaped as Kubernetes writes it; SP_ENOMEM.
 */
sp_rc wh_affinity_patch(const cJSON *spec, const char *spec_path,
                        const wh_selector *sel, cJSON **patch,
                        bool *hosts_dropped, sp_err *err)
    __attribute__((warn_unused_result));

/* ------------------------------------------------------------------------ */
/* Handlers (wh_pod.c, wh_mutate.c, wh_pool.c)                                */
/* ------------------------------------------------------------------------ */

/* Review a pod (any operation) into a. SP_ENOMEM only. */
sp_rc wh_pod_review(const wh_req *rq, wh_answer *a)
    __attribute__((warn_unused_result));

/* Clear and free a converted pod of an effect (NULL is a no-op). */
void wh_pod_free(kobj_pod *p);

/*
 * The mutation of an admitted PE pod (CREATE: affinity, schedulerName and
 * annotations; UPDATE: annotations only) as patch operations in a->patch;
 * spec is its parsed constraints. A malformed affinity or schedulerName
 * denies with code 400. SP_ENOMEM only.
 */
sp_rc wh_pod_mutate(const wh_req *rq, const place_pod_input *in,
                    const place_pe_spec *spec, const char *ident, wh_answer *a)
    __attribute__((warn_unused_result));

/* Review a HostPool into a. SP_ENOMEM only. */
sp_rc wh_pool_review(const wh_req *rq, wh_answer *a)
    __attribute__((warn_unused_result));

#endif /* SP_WH_INTERNAL_H */
