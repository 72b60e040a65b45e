/*
 * A test double of kube-apiserver, in-process on libmicrohttpd over TLS,
 * with the semantics streams-placer relies on: objects stored per
 * resource, a global resourceVersion, create/get/update/patch/delete with
 * 409 on AlreadyExists and on a stale resourceVersion, the status
 * subresource (status changes only through it; spec changes bump
 * metadata.generation), pods/binding, label selectors, list with
 * resourceVersion, chunked watch streams with bookmarks and 410 Gone when
 * the requested resourceVersion has been compacted away, bearer-token
 * authentication, and fault injection (5xx, 429 with Retry-After, delays,
 * dropped watches). Tests drive the real client against it.
 */
#ifndef SP_KFAKE_H
#define SP_KFAKE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kfake kfake;

/*
 * Start on 127.0.0.1, any port, TLS with a fresh CA. dir receives ca.crt,
 * token (the bearer token it accepts) and kubeconfig (a complete kubeconfig
 * for this server: server URL, certificate-authority, token). NULL on
 * failure (message on stderr).
 */
kfake *kfake_start(const char *dir);
void kfake_stop(kfake *f);
uint16_t kfake_port(const kfake *f);

/*
 * Resources served, by collection path (the same under
 * /namespaces/<ns>/ for namespaced ones): /api/v1/nodes, pods (+ /binding,
 * /status), events, secrets, configmaps;
 * /apis/placement.streams.io/v1alpha1/hostpools and peplacements
 * (+ /status); /apis/coordination.k8s.io/v1/leases;
 * /apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations and
 * mutatingwebhookconfigurations.
 */

/* Put obj (copied) into the store as if another client wrote it: kind and
 * metadata.namespace/name decide where. Returns its new resourceVersion.
 * collection, here and below: the resource ("pods", "hostpools") or its
 * collection path ("/api/v1/pods"); for kfake_put NULL means obj's kind. A
 * namespaced object without a namespace goes to "default"; status is
 * written as given. An unchanged object keeps its resourceVersion; 0 on
 * failure. */
uint64_t kfake_put(kfake *f, const char *collection, const cJSON *obj);
/* Delete as if another client did (finalizers are honoured); true when
 * the object was there. */
bool kfake_delete(kfake *f, const char *collection, const char *ns, const char *name);
/* A copy of an object (caller frees), or NULL. */
cJSON *kfake_get(kfake *f, const char *collection, const char *ns, const char *name);
/* kfake_put of an object given as JSON text; 0 when it does not parse. */
uint64_t kfake_put_json(kfake *f, const char *collection, const char *json);
/* A copy of the PEPlacement of job/pe in ns (named <job>-<pe>; caller
 * frees), or NULL. */
cJSON *kfake_get_placement(kfake *f, const char *ns, const char *job, const char *pe);
/* The string status.key of obj, or "" when it has none. */
const char *kfake_status_str(const cJSON *obj, const char *key);
/* How many objects a collection holds. */
size_t kfake_count(kfake *f, const char *collection);

/* Faults, for the next n requests matching method and path prefix (NULL:
 * any): answer status (500, 503, 429...) with Retry-After seconds when
 * retry_after > 0. n <= 0 withdraws those pending for the same method and
 * prefix. */
void kfake_fail(kfake *f, const char *method, const char *path_prefix, int status,
                int retry_after, int n);
/* Delay every answer by ms (0: none). */
void kfake_delay(kfake *f, int ms);
/* End every open watch now (clients must reconnect). */
void kfake_drop_watches(kfake *f);
/* Forget history before the current resourceVersion: older watches and
 * lists get 410 Gone. */
void kfake_compact(kfake *f);
/* Requests served so far matching method and path prefix (NULL: any). */
size_t kfake_requests(kfake *f, const char *method, const char *path_prefix);

#endif /* SP_KFAKE_H */
