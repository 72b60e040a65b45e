/*
 * Kubernetes objects as JSON, converted into the engine's input structs: the
 * edge between what kubectl, kube-apiserver and kube-scheduler send (Node,
 * Pod, HostPool and their lists, parsed by cJSON) and the pure engine in
 * placement/, which never sees JSON. Field names are matched
 * case-insensitively, as Go's decoder does (DESIGN section 5); a JSON null is
 * the same as an absent field. Every error names the field by its path from
 * the object ("spec.containers[0].resources.requests.cpu"), the bad value and
 * what is allowed; the list readers prefix it with the file and the item
 * ("pods.json: items[3].spec...").
 *
 * Conversions borrow every string from the cJSON tree: a kobj_node, kobj_pod
 * or kobj_pool is valid while the tree lives, and only its arrays are owned.
 *
 * Decisions (the README documents them for operators):
 *   - Node: a missing status.allocatable (or a resource missing from it) is 0,
 *     as in kube-scheduler, so nothing with a request fits there. A node whose
 *     Ready condition is present and not "True" is NOT_READY; no conditions,
 *     or no Ready condition, is ready (kube-scheduler itself relies on the
 *     not-ready taint, which we also honour). NOT_READY wins over cordoned.
 *     Only taints with effect NoSchedule or NoExecute are kept.
 *   - Pod: effective requests as kube-scheduler computes them, per resource:
 *     max(sum of containers + sum of sidecar init containers, the largest
 *     init container plus the sidecars started before it) + spec.overhead. A
 *     container with a limit but no request requests its limit (the API
 *     server's defaulting). Only cpu and memory are read; pods is 1. A pod
 *     without metadata.uid gets "namespace/name"; one without a name (an
 *     admission request for a generateName pod) uses generateName as its
 *     name. Pods in phase Succeeded or Failed are `terminal`: the loaders skip
 *     them. A pod being deleted (metadata.deletionTimestamp) still occupies
 *     its node until it is gone, so a bound one is loaded; an unbound one will
 *     never run and is skipped.
 *   - Lists: a List or <Kind>List with an items array; a single object of
 *     the expected kind is accepted as a one-item list. Items without a kind
 *     (typed lists, such as ExtenderArgs.Nodes) are taken as the expected
 *     kind.
 */
#ifndef SP_KOBJ_H
#define SP_KOBJ_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "placement/place.h"
#include "policy/pol.h"
#include "util/sp_error.h"

#define KOBJ_FILE_MAX (256u << 20)   /* bytes: a larger input file is refused */
#define KOBJ_DEFAULT_NAMESPACE "default" /* for objects that name none */
#define KOBJ_HOSTPOOL_GROUP "placement.streams.io" /* HostPool API group */

/* ------------------------------------------------------------------------ */
/* Reading JSON                                                               */
/* ------------------------------------------------------------------------ */

/*
 * Read the whole file at path ("-": standard input) into *data (NUL-
 * terminated, *len bytes; the caller frees it with sp_free). SP_EIO when it
 * cannot be read, SP_ELIMIT when it holds more than max bytes. The message
 * does not name the file: the caller prefixes it.
 */
sp_rc kobj_read_file(const char *path, size_t max, char **data, size_t *len,
                     sp_err *err) __attribute__((warn_unused_result));

/*
 * Parse len bytes of JSON (not necessarily NUL-terminated; they are copied)
 * into *out (free with cJSON_Delete). SP_EPARSE with the line and column of
 * the first error, or for trailing data or a NUL byte. cJSON cannot tell a
 * failed allocation from bad JSON: under memory pressure it is SP_EPARSE.
 */
sp_rc kobj_parse_json(const char *data, size_t len, cJSON **out, sp_err *err)
    __attribute__((warn_unused_result));

/* The same without the copy, for data with a NUL at data[len] (as
 * kobj_read_file and sp_buf leave it): big inputs are not held twice. */
sp_rc kobj_parse_json_nul(const char *data, size_t len, cJSON **out,
                          sp_err *err) __attribute__((warn_unused_result));

/* ------------------------------------------------------------------------ */
/* Objects                                                                    */
/* ------------------------------------------------------------------------ */

/* A Node as engine input. */
typedef struct kobj_node {
    place_node_input in;    /* for place_state_put_node; strings borrowed */
    place_kv *labels;       /* owned array behind in.labels */
    place_taint *taints;    /* owned array behind in.taints */
} kobj_node;

/*
 * Convert a Node object. On success the caller releases *out with
 * kobj_node_clear (also safe after a failure, when *out is empty).
 */
sp_rc kobj_node_from_json(const cJSON *obj, kobj_node *out, sp_err *err)
    __attribute__((warn_unused_result));
void kobj_node_clear(kobj_node *n);

/* A Pod as engine input. */
typedef struct kobj_pod {
    place_pod_input in;     /* for place_state_add_pod; strings borrowed */
    bool terminal;          /* phase Succeeded or Failed: uses nothing */
    bool terminating;       /* metadata.deletionTimestamp is set */
    char *uid;              /* owned: a synthesised in.uid, or NULL */
    place_kv *labels;       /* owned arrays behind in.* */
    place_kv *annotations;
    place_toleration *tolerations;
} kobj_pod;

/*
 * Convert a Pod object; default_ns is its namespace when metadata names none
 * (NULL: a missing namespace is an error). Release with kobj_pod_clear.
 */
sp_rc kobj_pod_from_json(const cJSON *obj, const char *default_ns,
                         kobj_pod *out, sp_err *err)
    __attribute__((warn_unused_result));
void kobj_pod_clear(kobj_pod *p);

/* A HostPool as engine input. */
typedef struct kobj_pool {
    place_pool_spec in;     /* for place_state_put_pool; strings borrowed */
    const char **tags;      /* owned arrays behind in.* */
    const char **hosts;
    const char **members;
} kobj_pool;

/*
 * Convert a HostPool object (placement.streams.io/v1alpha1); default_ns as
 * for pods. Only the shape is checked here: place_pool_validate judges the
 * content. Release with kobj_pool_clear.
 */
sp_rc kobj_pool_from_json(const cJSON *obj, const char *default_ns,
                          kobj_pool *out, sp_err *err)
    __attribute__((warn_unused_result));
void kobj_pool_clear(kobj_pool *p);

/* ------------------------------------------------------------------------ */
/* Lists into a state                                                         */
/* ------------------------------------------------------------------------ */

typedef enum kobj_kind {
    KOBJ_NODE,
    KOBJ_POD,
    KOBJ_HOSTPOOL,
} kobj_kind;

/* The Kubernetes kind name of k ("Node", "Pod", "HostPool"). */
const char *kobj_kind_name(kobj_kind k);

/* What a load did. */
typedef struct kobj_load_stats {
    size_t items;           /* objects in the input */
    size_t loaded;          /* added to the state */
    size_t skipped;         /* finished pods, unbound deleted pods */
    size_t unmanaged;       /* PE pods outside the policy's namespaces (loaded
                               as plain usage) and HostPools there (skipped) */
    size_t invalid_pools;   /* HostPools kept with a validation error */
} kobj_load_stats;

/*
 * Convert every item of a list (or a single object) of kind k and put it
 * into st. pol (NULL: defaults) decides which namespaces are managed: a PE
 * pod elsewhere only uses resources, a HostPool elsewhere is skipped. The
 * message of a failure starts with the item's path ("items[3].spec...").
 * stats may be NULL. Items loaded before a failure stay in st.
 */
sp_rc kobj_load_list(place_state *st, kobj_kind k, const cJSON *root,
                     const pol_policy *pol, kobj_load_stats *stats,
                     sp_err *err) __attribute__((warn_unused_result));

/*
 * kobj_load_list on the file at path ("-": standard input), read with a cap
 * of KOBJ_FILE_MAX bytes. Every message starts with the path.
 */
sp_rc kobj_load_file(place_state *st, kobj_kind k, const char *path,
                     const pol_policy *pol, kobj_load_stats *stats,
                     sp_err *err) __attribute__((warn_unused_result));

#endif /* SP_KOBJ_H */
