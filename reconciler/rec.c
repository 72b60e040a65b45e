/*
 * The reconciler: see rec.h. Informer callbacks take the service's lock and
 * feed it; the sink's calls run under that lock already (the service holds
 * it while deciding) and write to the API server before returning, so a
 * decision is in etcd before the extender answers. Writes are refused at
 * once when this replica is not the leader.
 */
#include "reconciler/rec_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/sp_alloc.h"
#include "util/sp_log.h"
#include "util/sp_str.h"

#define PLACEMENT_ATTEMPTS 5 /* conflicting updates before giving up */
#define EVENT_MESSAGE_MAX 1024
#define BREAKER_FIRST_MS 250  /* the first pause after the API server failed a write */
#define BREAKER_CAP_MS 5000   /* the longest */
#define RETRY_FIRST_MS 250    /* failed pod events are replayed this soon */
#define RETRY_CAP_MS 5000     /* and, while they keep failing, at least this often */
#define RETRY_MAX 100000      /* failed pod events kept */

/* ------------------------------------------------------------------------ */
/* Requests                                                                   */
/* ------------------------------------------------------------------------ */

/* Fail at once while the breaker is open (the API server just failed a
 * write): the caller answers now instead of holding the service's lock. */
static sp_rc breaker_check(rec *r, sp_err *err)
{
    int64_t left;
    sp_rc rc = SP_OK;

    pthread_mutex_lock(&r->breaker_lock);
    left = r->breaker_until_ms - kapi_now_ms();
    if (left > 0)
        rc = sp_err_set(err, SP_EIO,
                        "the API server is unavailable (%s); writes resume within %lld ms",
                        r->breaker_error, (long long)left);
    pthread_mutex_unlock(&r->breaker_lock);
    return rc;
}

/* Open the breaker after an unavailable answer, close it after any other. */
static void breaker_note(rec *r, const kapi_result *res)
{
    bool down = res->outcome == KAPI_TRANSPORT || res->outcome == KAPI_THROTTLED ||
                res->outcome == KAPI_SERVER;
    int64_t pause = r->breaker_ms;

    pthread_mutex_lock(&r->breaker_lock);
    if (!down) {
        if (r->breaker_failures)
            sp_log(SP_LOG_INFO, "api_writes_resumed", NULL);
        r->breaker_failures = 0;
        r->breaker_until_ms = 0;
    } else {
        r->breaker_failures++;
        for (unsigned i = 1; i < r->breaker_failures && pause < BREAKER_CAP_MS; i++)
            pause *= 2;
        if (pause > BREAKER_CAP_MS)
            pause = BREAKER_CAP_MS;
        r->breaker_until_ms = kapi_now_ms() + pause;
        if (res->status)
            snprintf(r->breaker_error, sizeof(r->breaker_error), "HTTP %ld: %s", res->status,
                     res->message);
        else
            snprintf(r->breaker_error, sizeof(r->breaker_error), "no answer: %s",
                     res->message);
    }
    pthread_mutex_unlock(&r->breaker_lock);
}

/* One request of a write, within deadline and through the breaker. SP_OK
 * whenever *out says what happened; SP_EIO (err set) when the breaker
 * refused it; SP_ENOMEM or SP_EINVAL otherwise. */
static sp_rc api_write(rec *r, int64_t deadline, const char *method, const char *path,
                       const char *ctype, const char *body, size_t len, kapi_result *out,
                       sp_err *err)
{
    sp_rc rc = breaker_check(r, err);

    memset(out, 0, sizeof(*out));
    if (rc)
        return rc;
    rc = kapi_request_by(r->api, deadline, method, path, ctype, body, len, out);
    if (rc)
        return sp_err_set(err, rc, "%s %s: %s", method, path, sp_strerror(rc));
    breaker_note(r, out);
    return SP_OK;
}

/* Send root (freed) as JSON with method to path; *out the result. */
static sp_rc send_json(rec *r, int64_t deadline, const char *method, const char *path,
                       const char *ctype, cJSON *root, kapi_result *out, sp_err *err)
{
    char *body = root ? cJSON_PrintUnformatted(root) : NULL;
    sp_rc rc;

    cJSON_Delete(root);
    memset(out, 0, sizeof(*out));
    if (!body)
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    rc = api_write(r, deadline, method, path, ctype, body, strlen(body), out, err);
    sp_free(body);
    return rc;
}

/* The deadline of a write starting now. */
static int64_t write_deadline(const rec *r)
{
    return kapi_now_ms() + r->write_budget_ms;
}

static sp_rc api_error(sp_err *err, const char *what, const kapi_result *res)
{
    if (!res->status)
        return sp_err_set(err, SP_EIO, "%s: no answer from the API server: %s", what,
                          res->message[0] ? res->message : "no answer");
    return sp_err_set(err, res->outcome == KAPI_CONFLICT ? SP_ECONFLICT : SP_EIO,
                      "%s: HTTP %ld: %s", what, res->status,
                      res->message[0] ? res->message : "no answer");
}

static sp_rc refuse_if_follower(rec *r, sp_err *err)
{
    if (atomic_load(&r->leader))
        return SP_OK;
    return sp_err_set(err, SP_ECONFLICT,
                      "not the leader: another streams-placer replica holds Lease %s/%s",
                      r->lease_namespace, r->lease_name);
}

/* ------------------------------------------------------------------------ */
/* The sink: PEPlacement status                                               */
/* ------------------------------------------------------------------------ */

/* The PEPlacement at path, created (metadata and spec) when missing. */
static sp_rc fetch_or_create(rec *r, int64_t deadline, const char *path,
                             const char *collection, const char *name,
                             const store_placement *p, cJSON **obj, sp_err *err)
{
    kapi_result res;
    sp_rc rc = api_write(r, deadline, "GET", path, NULL, NULL, 0, &res, err);

    *obj = NULL;
    if (!rc && res.outcome == KAPI_NOT_FOUND) {
        kapi_result_free(&res);
        rc = send_json(r, deadline, "POST", collection, "application/json",
                       rec_placement_object(p->namespace_, name, p), &res, err);
        if (!rc && res.outcome == KAPI_CONFLICT) { /* created meanwhile */
            kapi_result_free(&res);
            rc = api_write(r, deadline, "GET", path, NULL, NULL, 0, &res, err);
        }
    }
    if (!rc && res.outcome != KAPI_OK)
        rc = api_error(err, "PEPlacement", &res);
    if (!rc && !(*obj = cJSON_Parse(res.body)))
        rc = sp_err_set(err, SP_EPARSE, "PEPlacement %s: the answer is not JSON", name);
    kapi_result_free(&res);
    return rc;
}

/* Another replica placed this pod elsewhere, and it still holds. */
static bool decided_elsewhere(const cJSON *obj, const store_placement *p)
{
    store_placement cur;
    sp_err ignored;

    if (rec_placement_from_json(obj, &cur, &ignored) || !cur.uid || !p->uid || !cur.node ||
        !p->node || !cur.phase || strcmp(cur.uid, p->uid) != 0 || strcmp(cur.node, p->node) == 0)
        return false;
    if (strcmp(cur.phase, "Bound") == 0)
        return true;
    return strcmp(cur.phase, "Reserved") == 0 && cur.expires_at > (int64_t)time(NULL);
}

/* Replace obj's status with p's and PUT it (conditional on its
 * resourceVersion); KAPI_CONFLICT means someone wrote first. */
static sp_rc put_status(rec *r, int64_t deadline, const char *path, cJSON *obj,
                        const store_placement *p, kapi_result *res, sp_err *err)
{
    char status_path[KAPI_PATH_MAX];
    const cJSON *meta = cJSON_GetObjectItem(obj, "metadata");
    const cJSON *gen = cJSON_GetObjectItem(meta, "generation");
    cJSON *status = rec_placement_status(p, cJSON_IsNumber(gen) ? (int64_t)gen->valuedouble : 0);
    int n = snprintf(status_path, sizeof(status_path), "%s/status", path);

    memset(res, 0, sizeof(*res));
    if (!status || n < 0 || (size_t)n >= sizeof(status_path)) {
        cJSON_Delete(status);
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    }
    cJSON_DeleteItemFromObject(obj, "status");
    if (!cJSON_AddItemToObject(obj, "status", status)) {
        cJSON_Delete(status);
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    }
    return send_json(r, deadline, "PUT", status_path, "application/json",
                     cJSON_Duplicate(obj, true), res, err);
}

static sp_rc placement_paths(rec *r, const store_placement *p, char *name, char *path,
                             char *collection)
{
    (void)r;
    if (rec_placement_name(p->job, p->pe, name, 256) ||
        kapi_path(collection, KAPI_PATH_MAX, "apis", "placement.streams.io", "v1alpha1",
                  "namespaces", p->namespace_, "peplacements", NULL) ||
        kapi_path(path, KAPI_PATH_MAX, "apis", "placement.streams.io", "v1alpha1",
                  "namespaces", p->namespace_, "peplacements", name, NULL))
        return SP_ELIMIT;
    return SP_OK;
}

static sp_rc sink_placement(void *ctx, const store_placement *p, sp_err *err)
{
    rec *r = ctx;
    char name[256], path[KAPI_PATH_MAX], collection[KAPI_PATH_MAX];
    int64_t deadline = write_deadline(r);
    sp_rc rc = refuse_if_follower(r, err);

    if (!rc && placement_paths(r, p, name, path, collection))
        return sp_err_set(err, SP_ELIMIT, "PE %s/%s: names too long", p->job, p->pe);
    for (int attempt = 0; !rc && attempt < PLACEMENT_ATTEMPTS; attempt++) {
        cJSON *obj = NULL;
        kapi_result res = { 0 };
        rc = fetch_or_create(r, deadline, path, collection, name, p, &obj, err);
        if (!rc && decided_elsewhere(obj, p))
            rc = sp_err_set(err, SP_ECONFLICT,
                            "PE %s/%s is already placed by another replica; taking its decision",
                            p->job, p->pe);
        if (!rc)
            rc = put_status(r, deadline, path, obj, p, &res, err);
        cJSON_Delete(obj);
        if (!rc && res.outcome == KAPI_OK) {
            kapi_result_free(&res);
            return SP_OK;
        }
        if (!rc && res.outcome != KAPI_CONFLICT)
            rc = api_error(err, "PEPlacement status", &res);
        kapi_result_free(&res);
    }
    return rc ? rc : sp_err_set(err, SP_ECONFLICT,
                                "PEPlacement %s/%s: still conflicting after %d attempts",
                                p->namespace_, name, PLACEMENT_ATTEMPTS);
}

/* ------------------------------------------------------------------------ */
/* The sink: pool membership, bindings, events                                */
/* ------------------------------------------------------------------------ */

static sp_rc sink_members(void *ctx, const char *ns, const char *pool,
                          const char *const *hosts, size_t n, sp_err *err)
{
    rec *r = ctx;
    char path[KAPI_PATH_MAX];
    cJSON *patch = cJSON_CreateObject(), *status, *list;
    kapi_result res;
    sp_rc rc = refuse_if_follower(r, err);

    status = patch ? cJSON_AddObjectToObject(patch, "status") : NULL;
    list = status ? cJSON_AddArrayToObject(status, "hosts") : NULL;
    for (size_t i = 0; list && i < n; i++)
        if (!cJSON_AddItemToArray(list, cJSON_CreateString(hosts[i])))
            list = NULL;
    if (!rc && !list)
        rc = sp_err_set(err, SP_ENOMEM, "out of memory");
    if (!rc && kapi_path(path, sizeof(path), "apis", "placement.streams.io", "v1alpha1",
                         "namespaces", ns, "hostpools", pool, "status", NULL))
        rc = sp_err_set(err, SP_ELIMIT, "HostPool %s/%s: names too long", ns, pool);
    if (rc) {
        cJSON_Delete(patch);
        return rc;
    }
    rc = send_json(r, write_deadline(r), "PATCH", path, "application/merge-patch+json", patch,
                   &res, err);
    if (!rc && res.outcome != KAPI_OK)
        rc = api_error(err, "HostPool status", &res);
    kapi_result_free(&res);
    return rc;
}

static cJSON *binding_object(const char *ns, const char *pod, const char *uid, const char *node)
{
    cJSON *b = cJSON_CreateObject(), *meta, *target;

    meta = b ? cJSON_AddObjectToObject(b, "metadata") : NULL;
    target = b ? cJSON_AddObjectToObject(b, "target") : NULL;
    if (!meta || !target || !cJSON_AddStringToObject(b, "apiVersion", "v1") ||
        !cJSON_AddStringToObject(b, "kind", "Binding") ||
        !cJSON_AddStringToObject(meta, "name", pod) ||
        !cJSON_AddStringToObject(meta, "namespace", ns) ||
        !cJSON_AddStringToObject(meta, "uid", uid) ||
        !cJSON_AddStringToObject(target, "apiVersion", "v1") ||
        !cJSON_AddStringToObject(target, "kind", "Node") ||
        !cJSON_AddStringToObject(target, "name", node)) {
        cJSON_Delete(b);
        return NULL;
    }
    return b;
}

/* After a 409 on binding: success when the pod is already on node. */
static bool already_bound_to(rec *r, int64_t deadline, const char *pod_path, const char *node)
{
    kapi_result res;
    cJSON *pod = NULL;
    const cJSON *name;
    sp_err ignored;
    bool same = false;

    if (api_write(r, deadline, "GET", pod_path, NULL, NULL, 0, &res, &ignored) ||
        res.outcome != KAPI_OK) {
        kapi_result_free(&res);
        return false;
    }
    pod = cJSON_Parse(res.body);
    name = cJSON_GetObjectItem(cJSON_GetObjectItem(pod, "spec"), "nodeName");
    same = cJSON_IsString(name) && strcmp(name->valuestring, node) == 0;
    cJSON_Delete(pod);
    kapi_result_free(&res);
    return same;
}

static sp_rc sink_bind(void *ctx, const char *ns, const char *pod, const char *uid,
                       const char *node, sp_err *err)
{
    rec *r = ctx;
    char path[KAPI_PATH_MAX], pod_path[KAPI_PATH_MAX];
    int64_t deadline = write_deadline(r);
    kapi_result res;
    sp_rc rc = refuse_if_follower(r, err);

    if (!rc && (kapi_path(path, sizeof(path), "api", "v1", "namespaces", ns, "pods", pod,
                          "binding", NULL) ||
                kapi_path(pod_path, sizeof(pod_path), "api", "v1", "namespaces", ns, "pods",
                          pod, NULL)))
        rc = sp_err_set(err, SP_ELIMIT, "pod %s/%s: names too long", ns, pod);
    if (rc)
        return rc;
    rc = send_json(r, deadline, "POST", path, "application/json",
                   binding_object(ns, pod, uid, node), &res, err);
    if (!rc && res.outcome == KAPI_CONFLICT && already_bound_to(r, deadline, pod_path, node))
        res.outcome = KAPI_OK;
    if (!rc && res.outcome != KAPI_OK)
        rc = api_error(err, "Binding", &res);
    kapi_result_free(&res);
    return rc;
}

static cJSON *event_object(const char *ns, const char *pod, const char *uid, const char *reason)
{
    char now[32], name[300], message[EVENT_MESSAGE_MAX];
    cJSON *e = cJSON_CreateObject(), *meta, *obj, *src;

    rec_time_format((int64_t)time(NULL), now, sizeof(now));
    snprintf(name, sizeof(name), "%.200s.%lx", pod, (unsigned long)time(NULL));
    snprintf(message, sizeof(message), "%s", reason); /* Events cap their message */
    meta = e ? cJSON_AddObjectToObject(e, "metadata") : NULL;
    obj = e ? cJSON_AddObjectToObject(e, "involvedObject") : NULL;
    src = e ? cJSON_AddObjectToObject(e, "source") : NULL;
    if (!meta || !obj || !src || !cJSON_AddStringToObject(e, "apiVersion", "v1") ||
        !cJSON_AddStringToObject(e, "kind", "Event") ||
        !cJSON_AddStringToObject(meta, "name", name) ||
        !cJSON_AddStringToObject(meta, "namespace", ns) ||
        !cJSON_AddStringToObject(obj, "apiVersion", "v1") ||
        !cJSON_AddStringToObject(obj, "kind", "Pod") ||
        !cJSON_AddStringToObject(obj, "namespace", ns) ||
        !cJSON_AddStringToObject(obj, "name", pod) || !cJSON_AddStringToObject(obj, "uid", uid) ||
        !cJSON_AddStringToObject(e, "reason", "FailedPlacement") ||
        !cJSON_AddStringToObject(e, "message", message) ||
        !cJSON_AddStringToObject(e, "type", "Warning") ||
        !cJSON_AddStringToObject(src, "component", "streams-placer") ||
        !cJSON_AddStringToObject(e, "firstTimestamp", now) ||
        !cJSON_AddStringToObject(e, "lastTimestamp", now) ||
        !cJSON_AddNumberToObject(e, "count", 1)) {
        cJSON_Delete(e);
        return NULL;
    }
    return e;
}

/* Best effort: a lost Event is logged, the placement record has the reason. */
static void sink_explain(void *ctx, const char *ns, const char *pod, const char *uid,
                         const char *reason)
{
    rec *r = ctx;
    char path[KAPI_PATH_MAX];
    kapi_result res = { 0 };
    sp_err err = { SP_OK, "" };

    if (!atomic_load(&r->leader) ||
        kapi_path(path, sizeof(path), "api", "v1", "namespaces", ns, "events", NULL) ||
        send_json(r, write_deadline(r), "POST", path, "application/json",
                  event_object(ns, pod, uid, reason), &res, &err) ||
        res.outcome != KAPI_OK)
        sp_log(SP_LOG_WARN, "event_not_recorded", "namespace", ns, "pod", pod, "error",
               err.msg[0] ? err.msg : res.message, NULL);
    kapi_result_free(&res);
}

/* ------------------------------------------------------------------------ */
/* Informers into the service                                                 */
/* ------------------------------------------------------------------------ */

static const char *meta_str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "metadata"), key);

    return cJSON_IsString(v) ? v->valuestring : "";
}

/* Apply one watch event of informer `which` to the service. */
static sp_rc feed(rec *r, int which, kapi_event ev, const cJSON *obj, sp_err *err)
{
    store_placement p;
    svc *s = r->svc;
    bool gone = ev == KAPI_DELETED;

    switch (which) {
    case REC_NODES:
        return gone ? svc_forget_node(s, meta_str(obj, "name"), err)
                    : svc_learn_node(s, obj, NULL, err);
    case REC_PODS:
        return gone ? svc_forget_pod(s, obj, err) : svc_observe_pod(s, obj, err);
    case REC_POOLS:
        return gone ? svc_forget_pool(s, meta_str(obj, "namespace"), meta_str(obj, "name"), err)
                    : svc_learn_pool(s, obj, err);
    default:
        if (rec_placement_from_json(obj, &p, err))
            return SP_EPARSE;
        return gone ? svc_forget_placement(s, p.namespace_, p.job, p.pe, err)
                    : svc_learn_placement(s, &p, err);
    }
}

/* A failed write, worth another try later (not a malformed object). */
static bool retryable(sp_rc rc)
{
    return rc == SP_EIO || rc == SP_ECONFLICT || rc == SP_ENOMEM;
}

static void retry_entry_free(rec_retry *e)
{
    sp_free(e->uid);
    cJSON_Delete(e->obj);
}

/* The queued event of the pod uid, or NULL. Under retry_lock. */
static rec_retry *retry_find(rec *r, const char *uid)
{
    for (size_t i = 0; i < r->n_retries; i++)
        if (strcmp(r->retries[i].uid, uid) == 0)
            return &r->retries[i];
    return NULL;
}

/* Queue (a copy of) a pod event whose write failed, replacing an older one
 * of the same pod; false when it could not be kept. Under retry_lock. */
static bool retry_put(rec *r, const char *uid, kapi_event ev, cJSON *obj)
{
    rec_retry *e = retry_find(r, uid);
    char *copy;

    if (e) {
        cJSON_Delete(e->obj);
        e->obj = obj;
        e->ev = ev;
        return true;
    }
    if (r->n_retries >= RETRY_MAX ||
        sp_grow(&r->retries, &r->cap_retries, r->n_retries + 1, sizeof(*r->retries)) ||
        !(copy = sp_strdup(uid))) {
        cJSON_Delete(obj);
        return false;
    }
    r->retries[r->n_retries++] = (rec_retry){ copy, obj, ev };
    return true;
}

/* After a pod event was fed: a write that failed is queued for another
 * try (a pod deletion whose release was not written is not lost when the
 * watch moves on); one that worked supersedes what was queued. */
static void retry_note(rec *r, kapi_event ev, const cJSON *obj, sp_rc rc)
{
    const char *uid = meta_str(obj, "uid");
    rec_retry *e;
    bool kept = true;

    if (!*uid || (rc && !retryable(rc)))
        return;
    pthread_mutex_lock(&r->retry_lock);
    if (rc) {
        kept = retry_put(r, uid, ev, cJSON_Duplicate(obj, true));
    } else if ((e = retry_find(r, uid))) {
        retry_entry_free(e);
        *e = r->retries[--r->n_retries];
    }
    pthread_mutex_unlock(&r->retry_lock);
    if (!kept)
        sp_log(SP_LOG_ERROR, "pod_event_dropped", "object", meta_str(obj, "name"), "reason",
               "out of memory or too many failed writes waiting", NULL);
}

static void on_event(void *ctx, kapi_event ev, const cJSON *obj)
{
    rec_feed *f = ctx;
    sp_err err = { SP_OK, "" };
    sp_rc rc;

    svc_lock(f->r->svc);
    rc = feed(f->r, f->which, ev, obj, &err);
    svc_unlock(f->r->svc);
    if (f->which == REC_PODS)
        retry_note(f->r, ev, obj, rc);
    if (rc)
        sp_log(SP_LOG_WARN,
               f->which == REC_PODS && retryable(rc) ? "watch_event_retried_later"
                                                     : "watch_event_ignored",
               "object", meta_str(obj, "name"), "error", err.msg, NULL);
}

/* Replay the queued pod events once; true when none is left. */
static bool replay(rec *r)
{
    rec_retry *batch;
    size_t n;
    bool done = true;

    pthread_mutex_lock(&r->retry_lock);
    batch = r->retries;
    n = r->n_retries;
    r->retries = NULL;
    r->n_retries = r->cap_retries = 0;
    pthread_mutex_unlock(&r->retry_lock);
    for (size_t i = 0; i < n; i++) {
        rec_retry *e = &batch[i];
        sp_err err = { SP_OK, "" };
        sp_rc rc;
        if (sp_stop_raised(&r->stop)) { /* what is left is the cluster's now */
            retry_entry_free(e);
            continue;
        }
        svc_lock(r->svc);
        rc = feed(r, REC_PODS, e->ev, e->obj, &err);
        svc_unlock(r->svc);
        if (!rc || !retryable(rc)) {
            sp_log(rc ? SP_LOG_WARN : SP_LOG_INFO, rc ? "watch_event_ignored" : "watch_event_retried",
                   "object", meta_str(e->obj, "name"), "error", err.msg, NULL);
            retry_entry_free(e);
            continue;
        }
        pthread_mutex_lock(&r->retry_lock);
        if (retry_find(r, e->uid))   /* a newer event of this pod came */
            cJSON_Delete(e->obj);
        else if (!retry_put(r, e->uid, e->ev, e->obj)) /* takes obj */
            sp_log(SP_LOG_ERROR, "pod_event_dropped", "uid", e->uid, "reason",
                   "out of memory or too many failed writes waiting", NULL);
        pthread_mutex_unlock(&r->retry_lock);
        sp_free(e->uid);
        done = false;
    }
    sp_free(batch);
    return done;
}

static bool retries_waiting(rec *r)
{
    bool any;

    pthread_mutex_lock(&r->retry_lock);
    any = r->n_retries > 0;
    pthread_mutex_unlock(&r->retry_lock);
    return any;
}

/* The thread that replays failed pod events, with backoff while they keep
 * failing. */
static void *retry_loop(void *arg)
{
    rec *r = arg;
    int wait_ms = RETRY_FIRST_MS;

    while (rec_sleep_ms(r, wait_ms)) {
        if (!retries_waiting(r)) {
            wait_ms = RETRY_FIRST_MS;
            continue;
        }
        if (replay(r))
            wait_ms = RETRY_FIRST_MS;
        else if ((wait_ms *= 2) > RETRY_CAP_MS)
            wait_ms = RETRY_CAP_MS;
    }
    return NULL;
}

static void on_synced(void *ctx)
{
    rec_feed *f = ctx;
    int before = atomic_fetch_or(&f->r->synced, 1 << f->which);

    if (before != (1 << REC_N_INFORMERS) - 1 &&
        (before | (1 << f->which)) == (1 << REC_N_INFORMERS) - 1)
        sp_log(SP_LOG_INFO, "caches_synced", NULL);
}

static sp_rc start_informers(rec *r, sp_err *err)
{
    static const char *const paths[REC_N_INFORMERS] = {
        "/api/v1/nodes", "/api/v1/pods", REC_GROUP_PATH "/hostpools",
        REC_GROUP_PATH "/peplacements",
    };
    sp_rc rc = SP_OK;

    for (int i = 0; i < REC_N_INFORMERS && !rc; i++) {
        kapi_informer_config ic = { .path = paths[i], .on_event = on_event,
                                    .on_synced = on_synced, .ctx = &r->feeds[i] };
        r->feeds[i].r = r;
        r->feeds[i].which = i;
        rc = kapi_informer_start(r->api, &ic, &r->informers[i], err);
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The sweep of released placements                                           */
/* ------------------------------------------------------------------------ */

/* Delete the PEPlacement of one "ns/job/pe" key. */
static void delete_placement(rec *r, const char *key)
{
    char ns[256], job[256], pe[256], name[256], path[KAPI_PATH_MAX];
    kapi_result res = { 0 };

    if (sscanf(key, "%255[^/]/%255[^/]/%255s", ns, job, pe) != 3 ||
        rec_placement_name(job, pe, name, sizeof(name)) ||
        kapi_path(path, sizeof(path), "apis", "placement.streams.io", "v1alpha1", "namespaces",
                  ns, "peplacements", name, NULL) ||
        kapi_request(r->api, "DELETE", path, NULL, NULL, 0, &res))
        return;
    if (res.outcome == KAPI_OK || res.outcome == KAPI_NOT_FOUND)
        sp_log(SP_LOG_INFO, "placement_deleted", "namespace", ns, "name", name, "reason",
               "released, and its job has no pods left", NULL);
    kapi_result_free(&res);
}

static void sweep(rec *r)
{
    char **keys = NULL;
    size_t n = 0;
    int64_t ttl;
    sp_rc rc;

    svc_lock(r->svc);
    ttl = svc_policy(r->svc)->released_ttl_s;
    rc = svc_stale_placements(r->svc, (int64_t)time(NULL) - ttl, 100, &keys, &n);
    svc_unlock(r->svc);
    for (size_t i = 0; !rc && i < n && atomic_load(&r->leader); i++)
        delete_placement(r, keys[i]);
    sp_strv_free(keys, n);
}

static void *gc_loop(void *arg)
{
    rec *r = arg;

    while (rec_sleep(r, r->gc_period_s))
        if (atomic_load(&r->leader) && rec_synced(r))
            sweep(r);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Lifetime                                                                   */
/* ------------------------------------------------------------------------ */

bool rec_sleep(rec *r, int seconds)
{
    return rec_sleep_ms(r, seconds * 1000);
}

bool rec_sleep_ms(rec *r, int ms)
{
    return sp_stop_nap(&r->stop, ms);
}

/* A default identity: the pod name, else host-pid. */
static char *default_identity(const char *pod)
{
    char host[128], buf[200];

    if (pod && *pod)
        return sp_strdup(pod);
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "unknown");
    host[sizeof(host) - 1] = '\0';
    snprintf(buf, sizeof(buf), "%s-%ld", host, (long)getpid());
    return sp_strdup(buf);
}

static sp_rc copy_config(rec *r, const rec_config *cfg)
{
    const char *pod = cfg->pod_name ? cfg->pod_name : getenv("POD_NAME");

    r->api = cfg->api;
    r->leader_elect = cfg->leader_elect;
    r->lease_name = sp_strdup(cfg->lease_name ? cfg->lease_name : "streams-placer");
    r->lease_namespace = sp_strdup(cfg->lease_namespace ? cfg->lease_namespace
                                                        : kapi_namespace(cfg->api));
    r->pod_name = pod && *pod ? sp_strdup(pod) : NULL;
    r->identity = cfg->identity ? sp_strdup(cfg->identity) : default_identity(pod);
    r->lease_duration_s = cfg->lease_duration_s > 0 ? cfg->lease_duration_s : 15;
    r->renew_deadline_s = cfg->renew_deadline_s > 0 ? cfg->renew_deadline_s : 10;
    r->retry_period_s = cfg->retry_period_s > 0 ? cfg->retry_period_s : 2;
    r->gc_period_s = cfg->gc_period_s > 0 ? cfg->gc_period_s : 30;
    r->write_budget_ms = cfg->write_budget_ms > 0 ? cfg->write_budget_ms : REC_WRITE_BUDGET_MS;
    r->breaker_ms = cfg->breaker_ms > 0 ? cfg->breaker_ms : BREAKER_FIRST_MS;
    if (!r->lease_name || !r->lease_namespace || !r->identity || (pod && *pod && !r->pod_name))
        return SP_ENOMEM;
    return SP_OK;
}

sp_rc rec_new(const rec_config *cfg, rec **out, sp_err *err)
{
    rec *r = sp_calloc(1, sizeof(*r));

    *out = NULL;
    if (!r)
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    sp_stop_init(&r->stop);
    pthread_mutex_init(&r->breaker_lock, NULL);
    pthread_mutex_init(&r->retry_lock, NULL);
    if (copy_config(r, cfg)) {
        rec_stop(r);
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    }
    r->sink = (svc_sink){ sink_placement, sink_members, sink_bind, sink_explain, r };
    atomic_store(&r->leader, !r->leader_elect);
    *out = r;
    return SP_OK;
}

const svc_sink *rec_sink(rec *r)
{
    return &r->sink;
}

sp_rc rec_run(rec *r, svc *s, sp_err *err)
{
    sp_rc rc;

    r->svc = s;
    rc = start_informers(r, err);
    /* a label left by a crash of this pod's previous run would send extender
     * calls here before this replica leads */
    if (!rc && r->leader_elect)
        rec_label_pod(r, false);
    if (!rc && r->leader_elect) {
        if (pthread_create(&r->lease_thread, NULL, rec_lease_loop, r))
            return sp_err_set(err, SP_ENOMEM, "cannot start the lease thread");
        r->lease_running = true;
    }
    if (!rc && pthread_create(&r->gc_thread, NULL, gc_loop, r) == 0)
        r->gc_running = true;
    if (!rc && pthread_create(&r->retry_thread, NULL, retry_loop, r) == 0)
        r->retry_running = true;
    return rc;
}

bool rec_synced(const rec *r)
{
    return atomic_load(&r->synced) == (1 << REC_N_INFORMERS) - 1;
}

bool rec_leader(const rec *r)
{
    return atomic_load(&r->leader);
}

void rec_stop(rec *r)
{
    if (!r)
        return;
    sp_stop_raise(&r->stop);
    if (r->lease_running)
        pthread_join(r->lease_thread, NULL);
    if (r->gc_running)
        pthread_join(r->gc_thread, NULL);
    if (r->retry_running)
        pthread_join(r->retry_thread, NULL);
    for (int i = 0; i < REC_N_INFORMERS; i++)
        kapi_informer_stop(r->informers[i]);
    if (r->lease_running)
        rec_lease_release(r);
    for (size_t i = 0; i < r->n_retries; i++)
        retry_entry_free(&r->retries[i]);
    sp_free(r->retries);
    sp_stop_destroy(&r->stop);
    pthread_mutex_destroy(&r->breaker_lock);
    pthread_mutex_destroy(&r->retry_lock);
    sp_free(r->lease_name);
    sp_free(r->lease_namespace);
    sp_free(r->identity);
    sp_free(r->pod_name);
    sp_free(r);
}
