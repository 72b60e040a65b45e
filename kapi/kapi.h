/*
 * The Kubernetes API client, on libcurl: configuration (in-cluster service
 * account, or a kubeconfig read with libyaml), requests whose result keeps
 * transport failures, 4xx, 409, 410 and 5xx apart, retries with exponential
 * backoff and jitter (honouring Retry-After on 429), bounded response sizes,
 * path segments escaped, reused connections; and informers: list + watch
 * with resourceVersion and bookmarks, reconnecting, relisting on 410 Gone,
 * delivering adds, updates and deletes (including those a relist reveals)
 * to callbacks from the informer's own thread.
 */
#ifndef SP_KAPI_H
#define SP_KAPI_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/sp_error.h"

#define KAPI_MAX_RESPONSE (64u << 20) /* bytes of one response body */
#define KAPI_PATH_MAX 2048            /* bytes of a request path */

typedef struct kapi kapi;

typedef struct kapi_config {
    const char *kubeconfig;   /* a kubeconfig path; NULL: in-cluster when
                                 KUBERNETES_SERVICE_HOST is set, else
                                 $KUBECONFIG, else ~/.kube/config */
    const char *context;      /* NULL: the kubeconfig's current-context */
    /* In-cluster files (tests point them elsewhere); NULL: the standard
     * /var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt,namespace} */
    const char *token_file;
    const char *ca_file;
    const char *namespace_file;
    int timeout_ms;           /* per request (not watches); 0: 10000 */
    int max_attempts;         /* for retried failures; 0: 5 */
} kapi_config;

/*
 * A client for the cluster cfg names. Reads and validates everything it
 * needs now (server URL, CA, credentials) and fails naming the file, the
 * context and the field. The in-cluster token is re-read when its file
 * changes (it rotates).
 */
sp_rc kapi_new(const kapi_config *cfg, kapi **out, sp_err *err)
    __attribute__((warn_unused_result));
void kapi_free(kapi *k);

/* The namespace the client runs in: the service account's, the context's,
 * or "default". */
const char *kapi_namespace(const kapi *k);

/* The server's base URL ("https://10.0.0.1:443"). */
const char *kapi_server(const kapi *k);

typedef enum kapi_outcome {
    KAPI_OK,          /* 2xx */
    KAPI_TRANSPORT,   /* no HTTP answer: connect, TLS, timeout, reset */
    KAPI_CLIENT,      /* 4xx other than those below */
    KAPI_NOT_FOUND,   /* 404 */
    KAPI_CONFLICT,    /* 409: AlreadyExists or a stale resourceVersion */
    KAPI_GONE,        /* 410: resourceVersion too old (watch, list) */
    KAPI_THROTTLED,   /* 429, after retries */
    KAPI_SERVER,      /* 5xx, after retries */
} kapi_outcome;

/* What one request came to. body is owned (sp_free), NUL-terminated. */
typedef struct kapi_result {
    kapi_outcome outcome;
    long status;              /* HTTP status, 0 without an answer */
    char *body;
    size_t len;
    char message[256];        /* the Status message or the transport error */
} kapi_result;

void kapi_result_free(kapi_result *r);

/*
 * Build a request path from segments, each escaped (RFC 3986), joined with
 * '/' and a leading '/': kapi_path(buf, len, "api", "v1", "namespaces", ns,
 * "pods", name, NULL). SP_ELIMIT when it does not fit.
 */
sp_rc kapi_path(char *buf, size_t len, ...) __attribute__((sentinel, warn_unused_result));

/*
 * One request: method, path (from kapi_path; a query may follow, built by
 * the caller with escaped values), an optional body of content_type.
 * Transport failures, 429 and 5xx are retried (max_attempts, exponential
 * backoff with jitter, Retry-After honoured); other outcomes are returned
 * at once. Returns SP_OK whenever *out describes what happened (even a
 * 404); SP_ENOMEM or SP_EINVAL otherwise. Thread-safe.
 */
sp_rc kapi_request(kapi *k, const char *method, const char *path,
                   const char *content_type, const char *body, size_t len,
                   kapi_result *out) __attribute__((warn_unused_result));

/*
 * kapi_request within a deadline (kapi_now_ms() + budget; 0: none): each
 * attempt's timeout is cut to the time left, and no retry starts (nor is
 * waited for) past it; what the last attempt came to is returned (a
 * transport timeout when the deadline cut it short). For callers that hold
 * a lock others wait for: the time they hold it stays bounded whatever the
 * API server does.
 */
sp_rc kapi_request_by(kapi *k, int64_t deadline_ms, const char *method, const char *path,
                      const char *content_type, const char *body, size_t len,
                      kapi_result *out) __attribute__((warn_unused_result));

/* A monotonic clock in milliseconds, for deadlines. */
int64_t kapi_now_ms(void);

/* ------------------------------------------------------------------------ */
/* Informers                                                                  */
/* ------------------------------------------------------------------------ */

typedef enum kapi_event {
    KAPI_ADDED,
    KAPI_MODIFIED,
    KAPI_DELETED,
} kapi_event;

typedef struct kapi_informer_config {
    const char *path;         /* the collection: "/api/v1/pods",
                                 "/apis/placement.streams.io/v1alpha1/hostpools" */
    const char *label_selector; /* NULL: everything */
    /* Each object as it changes; obj is borrowed for the call. A callback
     * error is logged; the informer goes on. */
    void (*on_event)(void *ctx, kapi_event ev, const cJSON *obj);
    /* After each complete list (the first, and every relist): the cache
     * holds everything the server has. */
    void (*on_synced)(void *ctx);
    void *ctx;
    int watch_timeout_s;      /* server-side watch timeout; 0: 300 */
} kapi_informer_config;

typedef struct kapi_informer kapi_informer;

/*
 * Start listing and watching in a thread of its own. Deletions the watch
 * missed (a relist after 410 Gone, a reconnect) are delivered as
 * KAPI_DELETED, so the callbacks always mirror the server.
 */
sp_rc kapi_informer_start(kapi *k, const kapi_informer_config *cfg,
                          kapi_informer **out, sp_err *err)
    __attribute__((warn_unused_result));

/* True once the first list has been delivered. */
bool kapi_informer_synced(const kapi_informer *inf);

/* Stop the thread (within a second) and free. inf may be NULL. Never call it
 * from that informer's own callbacks: it waits for the thread (deadlock). */
void kapi_informer_stop(kapi_informer *inf);

#endif /* SP_KAPI_H */
