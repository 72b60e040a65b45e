/*
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go does it:
 * every retry period, read the Lease; take it when it is missing, free or
 * expired (renewTime + leaseDurationSeconds in the past), renew it when it
 * is ours, and leave it alone otherwise. Every write is conditional on the
 * resourceVersion read, so two replicas racing cannot both win. A leader
 * that has not renewed within the renew deadline stops writing at once,
 * before the Lease can expire for the others. The leader labels its own pod
 * (so that a Service can select it for extender calls) and unlabels it when
 * it stops leading.
 */
#include "reconciler/rec_internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/sp_alloc.h"
#include "util/sp_log.h"

typedef struct lease_view {
    char holder[256];
    int64_t renew_us;        /* renewTime, unix microseconds; 0: none */
    int duration_s;
    int transitions;
} lease_view;

static int64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

/* A MicroTime: "2026-11-24T02:55:11.132000Z". */
static void micro_time(int64_t us, char *buf, size_t len)
{
    char secs[32];

    rec_time_format(us / 1000000, secs, sizeof(secs));
    secs[strlen(secs) ? strlen(secs) - 1 : 0] = '\0'; /* drop the Z */
    snprintf(buf, len, "%s.%06lldZ", secs, (long long)(us % 1000000));
}

static int64_t parse_micro(const char *s)
{
    const char *dot = s ? strchr(s, '.') : NULL;
    long long frac = 0;

    if (dot)
        sscanf(dot + 1, "%6lld", &frac);
    return rec_time_parse(s) * 1000000 + frac;
}

static void read_view(const cJSON *lease, lease_view *v)
{
    const cJSON *spec = cJSON_GetObjectItem(lease, "spec");
    const cJSON *holder = cJSON_GetObjectItem(spec, "holderIdentity");
    const cJSON *renew = cJSON_GetObjectItem(spec, "renewTime");
    const cJSON *dur = cJSON_GetObjectItem(spec, "leaseDurationSeconds");
    const cJSON *tr = cJSON_GetObjectItem(spec, "leaseTransitions");

    memset(v, 0, sizeof(*v));
    if (cJSON_IsString(holder))
        snprintf(v->holder, sizeof(v->holder), "%s", holder->valuestring);
    v->renew_us = cJSON_IsString(renew) ? parse_micro(renew->valuestring) : 0;
    v->duration_s = cJSON_IsNumber(dur) ? (int)dur->valuedouble : 0;
    v->transitions = cJSON_IsNumber(tr) ? (int)tr->valuedouble : 0;
}

/* Write our holding into the spec of lease (acquiring when taking over). */
static bool hold(cJSON *lease, const rec *r, bool acquire, int transitions)
{
    char now[48];
    cJSON *spec = cJSON_GetObjectItem(lease, "spec");

    micro_time(now_us(), now, sizeof(now));
    if (!spec && !(spec = cJSON_AddObjectToObject(lease, "spec")))
        return false;
    cJSON_DeleteItemFromObject(spec, "holderIdentity");
    cJSON_DeleteItemFromObject(spec, "leaseDurationSeconds");
    cJSON_DeleteItemFromObject(spec, "renewTime");
    if (acquire) {
        cJSON_DeleteItemFromObject(spec, "acquireTime");
        cJSON_DeleteItemFromObject(spec, "leaseTransitions");
        if (!cJSON_AddStringToObject(spec, "acquireTime", now) ||
            !cJSON_AddNumberToObject(spec, "leaseTransitions", transitions))
            return false;
    }
    return cJSON_AddStringToObject(spec, "holderIdentity", r->identity) &&
           cJSON_AddNumberToObject(spec, "leaseDurationSeconds", r->lease_duration_s) &&
           cJSON_AddStringToObject(spec, "renewTime", now);
}

static sp_rc lease_path(const rec *r, char *path, size_t len, bool collection)
{
    return collection ? kapi_path(path, len, "apis", "coordination.k8s.io", "v1", "namespaces",
                                  r->lease_namespace, "leases", NULL)
                      : kapi_path(path, len, "apis", "coordination.k8s.io", "v1", "namespaces",
                                  r->lease_namespace, "leases", r->lease_name, NULL);
}

/* Send lease (freed) with method; true when the server took it. */
static bool write_lease(rec *r, const char *method, cJSON *lease)
{
    char path[KAPI_PATH_MAX];
    char *body = cJSON_PrintUnformatted(lease);
    kapi_result res = { 0 };
    bool ok = false;

    cJSON_Delete(lease);
    if (body && !lease_path(r, path, sizeof(path), strcmp(method, "POST") == 0) &&
        !kapi_request(r->api, method, path, "application/json", body, strlen(body), &res))
        ok = res.outcome == KAPI_OK;
    kapi_result_free(&res);
    sp_free(body);
    return ok;
}

static bool create_lease(rec *r)
{
    cJSON *lease = cJSON_CreateObject(), *meta = NULL;

    if (lease)
        meta = cJSON_AddObjectToObject(lease, "metadata");
    if (!meta || !cJSON_AddStringToObject(lease, "apiVersion", "coordination.k8s.io/v1") ||
        !cJSON_AddStringToObject(lease, "kind", "Lease") ||
        !cJSON_AddStringToObject(meta, "name", r->lease_name) ||
        !cJSON_AddStringToObject(meta, "namespace", r->lease_namespace) ||
        !hold(lease, r, true, 0)) {
        cJSON_Delete(lease);
        return false;
    }
    return write_lease(r, "POST", lease);
}

/* One round: true when we hold the Lease after it. */
static bool try_hold(rec *r)
{
    char path[KAPI_PATH_MAX];
    kapi_result res = { 0 };
    cJSON *lease = NULL;
    lease_view v;
    bool ours, free_now;

    if (lease_path(r, path, sizeof(path), false) ||
        kapi_request(r->api, "GET", path, NULL, NULL, 0, &res)) {
        kapi_result_free(&res);
        return false;
    }
    if (res.outcome == KAPI_NOT_FOUND) {
        kapi_result_free(&res);
        return create_lease(r);
    }
    if (res.outcome != KAPI_OK || !(lease = cJSON_Parse(res.body))) {
        kapi_result_free(&res);
        return false;
    }
    kapi_result_free(&res);
    read_view(lease, &v);
    ours = strcmp(v.holder, r->identity) == 0;
    free_now = !v.holder[0] || v.renew_us + (int64_t)v.duration_s * 1000000 < now_us();
    if (!ours && !free_now) {
        cJSON_Delete(lease);
        return false;
    }
    if (!hold(lease, r, !ours, ours ? v.transitions : v.transitions + 1)) {
        cJSON_Delete(lease);
        return false;
    }
    return write_lease(r, "PUT", lease); /* resourceVersion as read: conditional */
}

/* Label (or unlabel) this replica's pod as the leader. */
void rec_label_pod(rec *r, bool leading)
{
    char path[KAPI_PATH_MAX];
    char body[200];
    kapi_result res = { 0 };
    int n = snprintf(body, sizeof(body), "{\"metadata\":{\"labels\":{\"%s\":%s}}}",
                     REC_LEADER_LABEL, leading ? "\"true\"" : "null");

    if (!r->pod_name)
        return; /* not in a pod: nothing to label */
    if (n < 0 || (size_t)n >= sizeof(body) ||
        kapi_path(path, sizeof(path), "api", "v1", "namespaces", kapi_namespace(r->api), "pods",
                  r->pod_name, NULL) ||
        kapi_request(r->api, "PATCH", path, "application/merge-patch+json", body, (size_t)n,
                     &res) ||
        res.outcome != KAPI_OK)
        sp_log(SP_LOG_WARN, "leader_label_not_set", "pod", r->pod_name, "error", res.message,
               NULL);
    kapi_result_free(&res);
}

static void set_leader(rec *r, bool leading)
{
    if (atomic_exchange(&r->leader, leading) == leading)
        return;
    sp_log(leading ? SP_LOG_INFO : SP_LOG_WARN, leading ? "leading" : "not_leading",
           "lease", r->lease_name, "identity", r->identity, NULL);
    rec_label_pod(r, leading);
}

void *rec_lease_loop(void *arg)
{
    rec *r = arg;
    int64_t renewed = 0;

    do {
        if (try_hold(r)) {
            renewed = mono_s();
            set_leader(r, true);
        } else if (!atomic_load(&r->leader) || mono_s() - renewed >= r->renew_deadline_s) {
            set_leader(r, false);
        }
    } while (rec_sleep(r, r->retry_period_s));
    return NULL;
}

void rec_lease_release(rec *r)
{
    char path[KAPI_PATH_MAX];
    kapi_result res = { 0 };
    cJSON *lease = NULL, *spec;
    lease_view v;

    if (!atomic_exchange(&r->leader, false))
        return;
    rec_label_pod(r, false);
    if (!lease_path(r, path, sizeof(path), false) &&
        !kapi_request(r->api, "GET", path, NULL, NULL, 0, &res) && res.outcome == KAPI_OK)
        lease = cJSON_Parse(res.body);
    kapi_result_free(&res);
    if (!lease)
        return;
    read_view(lease, &v);
    spec = cJSON_GetObjectItem(lease, "spec");
    if (strcmp(v.holder, r->identity) != 0 || !spec) {
        cJSON_Delete(lease);
        return;
    }
    /* as client-go's ReleaseOnCancel: no holder, a one-second lease */
    cJSON_ReplaceItemInObject(spec, "holderIdentity", cJSON_CreateString(""));
    cJSON_ReplaceItemInObject(spec, "leaseDurationSeconds", cJSON_CreateNumber(1));
    if (write_lease(r, "PUT", lease))
        sp_log(SP_LOG_INFO, "lease_released", "lease", r->lease_name, NULL);
}
