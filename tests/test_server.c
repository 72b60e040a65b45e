/*
 * The server end to end: the real HTTPS server in-process on port 0, with
 * its self-signed certificate, driven with libcurl over TLS and keep-alive,
 * as kube-scheduler and kube-apiserver drive it. Every route, both extender
 * modes, the reservation race (filter of B before the bind of A), restart of
 * the standalone store, reservation timeout, admission stand-ins, every
 * bad-input answer, and every payload captured from a real kube-scheduler
 * and kube-apiserver (../shared/fixtures) replayed and its answer checked.
 */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "app/app.h"
#include "kobj/kobj.h"
#include "svc/svc_json.h"
#include "tests/test_util.h"
#include "util/sp_buf.h"
#include "util/sp_log.h"

static char state_dir[256];
static char nodes_path[300];
static char base_url[64];
static char ca_path[300];
static const char *pods_path; /* --pods for the next start, or NULL */
static const char *policy_path; /* --policy for the next start, or NULL */
static app *server;
static CURL *curl;

/* ------------------------------------------------------------------------ */
/* Cluster files and server lifetime                                          */
/* ------------------------------------------------------------------------ */

/* A NodeList of n nodes "node-<i>" (4 cpu, 8Gi); every third one tagged ssd. */
static cJSON *node_list(int n)
{
    cJSON *list = cJSON_CreateObject(), *items = cJSON_AddArrayToObject(list, "items");

    cJSON_AddStringToObject(list, "kind", "NodeList");
    cJSON_AddStringToObject(list, "apiVersion", "v1");
    for (int i = 0; i < n; i++) {
        cJSON *node = cJSON_CreateObject(), *meta = cJSON_AddObjectToObject(node, "metadata");
        cJSON *labels = cJSON_AddObjectToObject(meta, "labels");
        cJSON *status = cJSON_AddObjectToObject(node, "status");
        cJSON *alloc = cJSON_AddObjectToObject(status, "allocatable");
        char name[32];
        snprintf(name, sizeof(name), "node-%d", i);
        cJSON_AddStringToObject(node, "kind", "Node");
        cJSON_AddStringToObject(meta, "name", name);
        if (i % 3 == 0)
            cJSON_AddStringToObject(labels, "tag.streams.io/ssd", "true");
        cJSON_AddStringToObject(alloc, "cpu", "4");
        cJSON_AddStringToObject(alloc, "memory", "8Gi");
        cJSON_AddStringToObject(alloc, "pods", "110");
        cJSON_AddItemToArray(items, node);
    }
    return list;
}

static void write_nodes(int n)
{
    cJSON *list = node_list(n);
    char *text = cJSON_Print(list);

    snprintf(nodes_path, sizeof(nodes_path), "%s-nodes.json", state_dir);
    sp_test_write_file(nodes_path, text);
    free(text);
    cJSON_Delete(list);
}

static void start_server_with(const char *nodes, const char *pools, size_t max_body,
                              size_t max_extender_body)
{
    app_config cfg = { .address = "127.0.0.1", .threads = 2,
                       .limits = { .max_body = max_body },
                       .max_extender_body = max_extender_body };
    sp_err err = { SP_OK, "" };

    cfg.svc.state_dir = state_dir;
    cfg.svc.nodes_path = nodes;
    cfg.svc.hostpools_path = pools;
    cfg.svc.pods_path = pods_path;
    cfg.svc.policy_path = policy_path;
    if (app_start(&cfg, &server, &err))
        fprintf(stderr, "\n  app_start: %s\n", err.msg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(server);
    snprintf(base_url, sizeof(base_url), "https://127.0.0.1:%u", (unsigned)app_port(server));
    snprintf(ca_path, sizeof(ca_path), "%s/ca.crt", state_dir);
}

static void start_server(void)
{
    start_server_with(nodes_path, NULL, 0, 0);
}

static void stop_server(void)
{
    app_stop(server, 1000);
    server = NULL;
}

/* A fresh state directory and nodes file for one test. */
static void fresh_dir(int nodes)
{
    snprintf(state_dir, sizeof(state_dir), "/tmp/sp-server-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(state_dir));
    write_nodes(nodes);
}

static void remove_dir(void)
{
    char cmd[600];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", state_dir, nodes_path);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

/* ------------------------------------------------------------------------ */
/* HTTP                                                                       */
/* ------------------------------------------------------------------------ */

static size_t collect(char *data, size_t size, size_t n, void *userdata)
{
    return sp_buf_append(userdata, data, size * n) ? 0 : size * n;
}

/* method path with body (NULL: none) of content type ctype; the answer's
 * body in out (caller frees). Returns the HTTP status, 0 on transport
 * failure. */
static long call(CURL *h, const char *method, const char *path, const char *ctype,
                 const char *body, size_t len, sp_buf *out)
{
    char url[256], header[128];
    struct curl_slist *headers = NULL;
    long status = 0;

    sp_buf_init(out, 64u << 20);
    snprintf(url, sizeof(url), "%s%s", base_url, path);
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CAINFO, ca_path);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    if (ctype) {
        snprintf(header, sizeof(header), "Content-Type: %s", ctype);
        headers = curl_slist_append(headers, header);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    }
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    return status;
}

static long post_json(const char *path, const char *body, sp_buf *out)
{
    return call(curl, "POST", path, "application/json", body, strlen(body), out);
}

/* POST root as JSON (root is freed) and parse the answer into *answer. */
static long post_obj(const char *path, cJSON *root, cJSON **answer)
{
    char *text = cJSON_PrintUnformatted(root);
    sp_buf out;
    long status = post_json(path, text, &out);

    *answer = out.data ? cJSON_Parse(out.data) : NULL;
    free(text);
    cJSON_Delete(root);
    sp_buf_free(&out);
    return status;
}

/* ------------------------------------------------------------------------ */
/* Extender requests                                                          */
/* ------------------------------------------------------------------------ */

/* A PE Pod object; ann is a JSON object text of annotations or NULL. */
static cJSON *pe_pod(const char *name, const char *uid, const char *job, const char *pe,
                     const char *ann)
{
    cJSON *pod = cJSON_CreateObject(), *meta = cJSON_AddObjectToObject(pod, "metadata");
    cJSON *labels = cJSON_AddObjectToObject(meta, "labels"), *spec, *c, *req;

    cJSON_AddStringToObject(meta, "name", name);
    cJSON_AddStringToObject(meta, "namespace", "streams");
    if (uid)
        cJSON_AddStringToObject(meta, "uid", uid);
    cJSON_AddStringToObject(labels, "streams.io/job", job);
    cJSON_AddStringToObject(labels, "streams.io/pe", pe);
    cJSON_AddItemToObject(meta, "annotations", ann ? cJSON_Parse(ann) : cJSON_CreateObject());
    spec = cJSON_AddObjectToObject(pod, "spec");
    c = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(spec, "containers"), c);
    cJSON_AddStringToObject(c, "name", "pe");
    req = cJSON_AddObjectToObject(cJSON_AddObjectToObject(c, "resources"), "requests");
    cJSON_AddStringToObject(req, "cpu", "500m");
    cJSON_AddStringToObject(req, "memory", "512Mi");
    return pod;
}

/* ExtenderArgs for pod with NodeNames node-0..n-1 (names) or the Nodes list. */
static cJSON *ext_args(cJSON *pod, int n, bool names)
{
    cJSON *args = cJSON_CreateObject();

    cJSON_AddItemToObject(args, "Pod", pod);
    if (names) {
        cJSON *arr = cJSON_AddArrayToObject(args, "NodeNames");
        for (int i = 0; i < n; i++) {
            char name[32];
            snprintf(name, sizeof(name), "node-%d", i);
            cJSON_AddItemToArray(arr, cJSON_CreateString(name));
        }
        cJSON_AddNullToObject(args, "Nodes");
    } else {
        cJSON_AddItemToObject(args, "Nodes", node_list(n));
        cJSON_AddNullToObject(args, "NodeNames");
    }
    return args;
}

/* The names a filter result lets through, in whichever shape it has. */
static int passed(const cJSON *result, const char **first)
{
    const cJSON *names = cJSON_GetObjectItem(result, "NodeNames");
    const cJSON *items = cJSON_GetObjectItem(cJSON_GetObjectItem(result, "Nodes"), "items");
    const cJSON *it;
    int n = 0;

    const cJSON *list = cJSON_IsArray(names) ? names : items;

    *first = NULL;
    cJSON_ArrayForEach(it, list) {
        const cJSON *name = cJSON_IsString(it) ? it
                            : cJSON_GetObjectItem(cJSON_GetObjectItem(it, "metadata"), "name");
        if (!*first && cJSON_IsString(name))
            *first = name->valuestring;
        n++;
    }
    return n;
}

/* Filter pod over n nodes; the chosen node name in chosen (or ""). */
static void filter(cJSON *pod, int n, bool names, char *chosen, size_t len)
{
    cJSON *answer = NULL;
    const char *first;

    CU_ASSERT_EQUAL(post_obj("/scheduler/filter", ext_args(pod, n, names), &answer), 200);
    CU_ASSERT_PTR_NOT_NULL_FATAL(answer);
    SP_ASSERT_STR(cJSON_GetStringValue(cJSON_GetObjectItem(answer, "Error")), "");
    CU_ASSERT_TRUE(passed(answer, &first) <= 1);
    snprintf(chosen, len, "%s", first ? first : "");
    cJSON_Delete(answer);
}

static void bind_pod(const char *name, const char *uid, const char *node, const char *error)
{
    cJSON *args = cJSON_CreateObject(), *answer = NULL;

    cJSON_AddStringToObject(args, "PodName", name);
    cJSON_AddStringToObject(args, "PodNamespace", "streams");
    cJSON_AddStringToObject(args, "PodUID", uid);
    cJSON_AddStringToObject(args, "Node", node);
    CU_ASSERT_EQUAL(post_obj("/scheduler/bind", args, &answer), 200);
    SP_ASSERT_CONTAINS(cJSON_GetStringValue(cJSON_GetObjectItem(answer, "Error")), error);
    cJSON_Delete(answer);
}

/* ------------------------------------------------------------------------ */
/* Routes                                                                     */
/* ------------------------------------------------------------------------ */

static void test_health_ready_and_metrics(void)
{
    sp_buf out;

    fresh_dir(3);
    start_server();
    CU_ASSERT_EQUAL(call(curl, "GET", "/healthz", NULL, NULL, 0, &out), 200);
    SP_ASSERT_STR(out.data, "ok\n");
    sp_buf_free(&out);
    CU_ASSERT_EQUAL(call(curl, "GET", "/readyz", NULL, NULL, 0, &out), 200);
    sp_buf_free(&out);
    CU_ASSERT_EQUAL(call(curl, "GET", "/metrics", NULL, NULL, 0, &out), 200);
    SP_ASSERT_CONTAINS(out.data, "streams_placer_http_requests_total{listener=\"https\",route=\"/readyz\",code=\"200\"} 1");
    SP_ASSERT_CONTAINS(out.data, "streams_placer_http_request_duration_seconds_bucket{listener=\"https\",route=\"/healthz\",le=\"+Inf\"} 1");
    SP_ASSERT_CONTAINS(out.data, "streams_placer_decisions_total{phase=\"Reserved\"} 0");
    SP_ASSERT_CONTAINS(out.data, "streams_placer_cert_expiry_timestamp_seconds ");
    sp_buf_free(&out);
    stop_server();
    remove_dir();
}

static void test_filter_prioritize_bind_in_names_mode(void)
{
    char chosen[64];
    cJSON *answer = NULL;
    const cJSON *it;
    int entries = 0;

    fresh_dir(6);
    start_server();
    filter(pe_pod("j-0", "u0", "j", "0", "{\"streams.io/host-pool-index\":\"0\"}"), 6, true,
           chosen, sizeof(chosen));
    CU_ASSERT_STRING_EQUAL(chosen, ""); /* an index without a pool: refused everywhere */
    filter(pe_pod("j-1", "u1", "j", "1", NULL), 6, true, chosen, sizeof(chosen));
    CU_ASSERT_STRING_NOT_EQUAL(chosen, "");
    CU_ASSERT_EQUAL(post_obj("/scheduler/prioritize", ext_args(pe_pod("j-1", "u1", "j", "1", NULL), 6, true),
                             &answer), 200);
    cJSON_ArrayForEach(it, answer) {
        double score = cJSON_GetNumberValue(cJSON_GetObjectItem(it, "Score"));
        const char *host = cJSON_GetStringValue(cJSON_GetObjectItem(it, "Host"));
        CU_ASSERT_TRUE(score >= 0 && score <= 10);
        if (host && strcmp(host, chosen) == 0)
            CU_ASSERT_EQUAL(score, 10);
        entries++;
    }
    CU_ASSERT_EQUAL(entries, 6);
    cJSON_Delete(answer);
    bind_pod("j-1", "u1", chosen, "");
    bind_pod("nobody", "u9", chosen, "is unknown to streams-placer");
    stop_server();
    remove_dir();
}

/* An unknown node is refused, also when nothing else fits. */
static void test_unknown_node_is_never_let_through(void)
{
    cJSON *args, *arr, *answer = NULL;
    const char *first;

    fresh_dir(1);
    start_server();
    args = cJSON_CreateObject();
    cJSON_AddItemToObject(args, "Pod", pe_pod("u-0", "uu0", "u", "0",
                                              "{\"streams.io/host-pool\":\"none\"}"));
    arr = cJSON_AddArrayToObject(args, "NodeNames");
    cJSON_AddItemToArray(arr, cJSON_CreateString("node-0"));
    cJSON_AddItemToArray(arr, cJSON_CreateString("ghost"));
    cJSON_AddItemToArray(arr, cJSON_CreateString("we\"ird\\\n"));
    CU_ASSERT_EQUAL(post_obj("/scheduler/filter", args, &answer), 200);
    CU_ASSERT_PTR_NOT_NULL_FATAL(answer);
    CU_ASSERT_EQUAL(passed(answer, &first), 0);
    SP_ASSERT_STR(cJSON_GetStringValue(cJSON_GetObjectItem(
                      cJSON_GetObjectItem(answer, "FailedAndUnresolvableNodes"), "ghost")),
                  "node is unknown to streams-placer");
    /* a name that needs escaping comes back as it was sent */
    SP_ASSERT_STR(cJSON_GetStringValue(cJSON_GetObjectItem(
                      cJSON_GetObjectItem(answer, "FailedAndUnresolvableNodes"), "we\"ird\\\n")),
                  "node is unknown to streams-placer");
    cJSON_Delete(answer);
    stop_server();
    remove_dir();
}

static void test_nodelist_mode_answers_with_nodes(void)
{
    cJSON *answer = NULL;
    const cJSON *failed;
    const char *first;

    fresh_dir(0);
    start_server_with(NULL, NULL, 0, 0);
    CU_ASSERT_EQUAL(post_obj("/scheduler/filter",
                             ext_args(pe_pod("k-0", "k0", "k", "0", NULL), 5, false), &answer),
                    200);
    CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(answer, "NodeNames"));
    CU_ASSERT_EQUAL(passed(answer, &first), 1);
    CU_ASSERT_PTR_NOT_NULL(first);
    failed = cJSON_GetObjectItem(answer, "FailedNodes");
    CU_ASSERT_EQUAL(cJSON_GetArraySize(failed), 4);
    SP_ASSERT_CONTAINS(cJSON_GetStringValue(failed->child), "whole-job plan places this PE on node");
    cJSON_Delete(answer);
    stop_server();
    remove_dir();
}

static void test_reservation_race_filter_b_before_bind_a(void)
{
    char a[64], b[64], c[64];

    fresh_dir(3);
    start_server();
    filter(pe_pod("r-0", "ra", "r", "0", "{\"streams.io/host-exlocation\":\"x\"}"), 3, true, a,
           sizeof(a));
    filter(pe_pod("r-1", "rb", "r", "1", "{\"streams.io/host-exlocation\":\"x\"}"), 3, true, b,
           sizeof(b));
    filter(pe_pod("r-2", "rc", "r", "2", "{\"streams.io/host-exlocation\":\"x\"}"), 3, true, c,
           sizeof(c));
    CU_ASSERT_STRING_NOT_EQUAL(a, "");
    CU_ASSERT_STRING_NOT_EQUAL(a, b);
    CU_ASSERT_STRING_NOT_EQUAL(b, c);
    CU_ASSERT_STRING_NOT_EQUAL(a, c);
    bind_pod("r-0", "ra", a, "");
    bind_pod("r-1", "rb", b, "");
    stop_server();
    remove_dir();
}

static int64_t fake_now;

static int64_t fake_clock(void)
{
    return fake_now;
}

static void test_reservation_times_out(void)
{
    char a[64], again[64];

    fresh_dir(1);
    start_server();
    fake_now = 1000000;
    svc_set_clock(app_svc(server), fake_clock);
    filter(pe_pod("t-0", "ta", "t", "0", "{\"streams.io/host-isolation\":\"true\"}"), 1, true,
           a, sizeof(a));
    CU_ASSERT_STRING_EQUAL(a, "node-0");
    /* within the TTL the isolated reservation keeps another PE away */
    filter(pe_pod("t-1", "tb", "t", "1", NULL), 1, true, again, sizeof(again));
    CU_ASSERT_STRING_EQUAL(again, "");
    fake_now += 31; /* the default TTL is 30 s */
    filter(pe_pod("t-1", "tb", "t", "1", NULL), 1, true, again, sizeof(again));
    CU_ASSERT_STRING_EQUAL(again, "node-0");
    stop_server();
    remove_dir();
}

static void test_restart_keeps_every_decision(void)
{
    char a[64], b[64], c[64];
    const char *phase, *node;
    int32_t pe;

    fresh_dir(3);
    start_server();
    filter(pe_pod("s-0", "sa", "s", "0", "{\"streams.io/host-exlocation\":\"x\"}"), 3, true, a,
           sizeof(a));
    bind_pod("s-0", "sa", a, "");
    filter(pe_pod("s-1", "sb", "s", "1", "{\"streams.io/host-exlocation\":\"x\"}"), 3, true, b,
           sizeof(b));
    stop_server();
    start_server();
    svc_lock(app_svc(server));
    pe = place_state_find_pe(svc_state(app_svc(server)), "sa");
    CU_ASSERT_NOT_EQUAL_FATAL(pe, PLACE_NONE);
    svc_placement_of(app_svc(server), pe, &phase, &node);
    SP_ASSERT_STR(phase, "Bound");
    SP_ASSERT_STR(node, a);
    pe = place_state_find_pe(svc_state(app_svc(server)), "sb");
    svc_placement_of(app_svc(server), pe, &phase, &node);
    SP_ASSERT_STR(phase, "Reserved");
    SP_ASSERT_STR(node, b);
    svc_unlock(app_svc(server));
    /* a third exlocated PE sees both, from the store */
    filter(pe_pod("s-2", "sc", "s", "2", "{\"streams.io/host-exlocation\":\"x\"}"), 3, true, c,
           sizeof(c));
    CU_ASSERT_STRING_NOT_EQUAL(c, "");
    CU_ASSERT_STRING_NOT_EQUAL(c, a);
    CU_ASSERT_STRING_NOT_EQUAL(c, b);
    stop_server();
    remove_dir();
}

/* ------------------------------------------------------------------------ */
/* Admission                                                                  */
/* ------------------------------------------------------------------------ */

/* An AdmissionReview CREATE of pod (freed). */
static cJSON *review_of(cJSON *pod, const char *uid, const char *op)
{
    cJSON *r = cJSON_CreateObject(), *req = cJSON_AddObjectToObject(r, "request");

    cJSON_AddStringToObject(r, "apiVersion", "admission.k8s.io/v1");
    cJSON_AddStringToObject(r, "kind", "AdmissionReview");
    cJSON_AddStringToObject(req, "uid", uid);
    cJSON_AddStringToObject(req, "operation", op);
    cJSON_AddStringToObject(req, "namespace", "streams");
    cJSON_AddItemToObject(cJSON_AddObjectToObject(req, "kind"), "kind", cJSON_CreateString("Pod"));
    cJSON_AddItemToObject(req, strcmp(op, "DELETE") ? "object" : "oldObject", pod);
    return r;
}

static bool allowed(const cJSON *answer)
{
    return cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(answer, "response"), "allowed"));
}

static void test_admitted_pes_are_planned_as_a_job(void)
{
    char first[64], second[64];
    cJSON *answer = NULL;

    fresh_dir(2);
    start_server();
    /* node-1 is bigger in nothing; the pair must share one node, and the
     * admitted second PE makes the first filter plan both */
    CU_ASSERT_EQUAL(post_obj("/webhook/validate?timeout=10s",
                             review_of(pe_pod("c-0", NULL, "c", "0", "{\"streams.io/host-colocation\":\"g\"}"),
                                       "rev-1", "CREATE"),
                             &answer), 200);
    CU_ASSERT_TRUE(allowed(answer));
    SP_ASSERT_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(answer, "response"), "uid")),
                  "rev-1");
    cJSON_Delete(answer);
    CU_ASSERT_EQUAL(post_obj("/webhook/validate",
                             review_of(pe_pod("c-1", NULL, "c", "1", "{\"streams.io/host-colocation\":\"g\"}"),
                                       "rev-2", "CREATE"),
                             &answer), 200);
    cJSON_Delete(answer);
    filter(pe_pod("c-0", "c0", "c", "0", "{\"streams.io/host-colocation\":\"g\"}"), 2, true, first,
           sizeof(first));
    filter(pe_pod("c-1", "c1", "c", "1", "{\"streams.io/host-colocation\":\"g\"}"), 2, true, second,
           sizeof(second));
    CU_ASSERT_STRING_NOT_EQUAL(first, "");
    CU_ASSERT_STRING_EQUAL(first, second);
    svc_lock(app_svc(server));
    CU_ASSERT_EQUAL(place_state_find_pe(svc_state(app_svc(server)), "pending:streams/c/0"), PLACE_NONE);
    svc_unlock(app_svc(server));
    stop_server();
    remove_dir();
}

/* The value of the metric line that starts with name (-1: none). */
static long long metric(const char *name)
{
    sp_buf out;
    const char *at;
    long long v = -1;

    CU_ASSERT_EQUAL_FATAL(call(curl, "GET", "/metrics", NULL, NULL, 0, &out), 200);
    at = strstr(out.data, name);
    if (at)
        v = strtoll(at + strlen(name), NULL, 10);
    sp_buf_free(&out);
    return v;
}

#define UNSYNCED "streams_placer_store_commits_total{durability=\"unsynced\"} "

/* A validate review of pod, allowed. */
static void admit_ok(cJSON *pod, const char *op)
{
    cJSON *answer = NULL;

    CU_ASSERT_EQUAL(post_obj("/webhook/validate", review_of(pod, "rev", op), &answer), 200);
    CU_ASSERT_TRUE(allowed(answer));
    cJSON_Delete(answer);
}

static sp_rc stored_pod(void *ctx, const char *uid, const char *json, sp_err *err)
{
    (void)err;
    if (strcmp(uid, "u-1") == 0)
        snprintf(ctx, 4096, "%s", json);
    return SP_OK;
}

/* An admitted pod is stored once, without a sync; the same pod admitted
 * again (a replayed review, or one that differs only in managedFields)
 * writes nothing; a changed one is stored again, and the store holds the
 * change and no managedFields. */
static void test_unchanged_pod_is_not_rewritten(void)
{
    static const store_visitor visit = { NULL, stored_pod, NULL };
    char json[4096] = "";
    cJSON *pod;
    store *st = NULL;
    sp_err err;

    fresh_dir(3);
    start_server();
    CU_ASSERT_EQUAL(metric(UNSYNCED), 0);
    admit_ok(pe_pod("u-0", "u-1", "u", "0", NULL), "CREATE");
    CU_ASSERT_EQUAL(metric(UNSYNCED), 1);
    admit_ok(pe_pod("u-0", "u-1", "u", "0", NULL), "CREATE");
    admit_ok(pe_pod("u-0", "u-1", "u", "0", NULL), "UPDATE");
    CU_ASSERT_EQUAL(metric(UNSYNCED), 1);
    /* the API server's field bookkeeping is not kept: a change there alone
     * rewrites nothing */
    pod = pe_pod("u-0", "u-1", "u", "0", NULL);
    cJSON_AddItemToObject(cJSON_GetObjectItem(pod, "metadata"), "managedFields",
                          cJSON_Parse("[{\"manager\":\"kubectl\",\"operation\":\"Update\"}]"));
    admit_ok(pod, "UPDATE");
    CU_ASSERT_EQUAL(metric(UNSYNCED), 1);
    pod = pe_pod("u-0", "u-1", "u", "0", NULL);
    cJSON_AddStringToObject(cJSON_GetObjectItem(cJSON_GetObjectItem(pod, "metadata"), "labels"),
                            "tier", "gold");
    cJSON_AddItemToObject(cJSON_GetObjectItem(pod, "metadata"), "managedFields", cJSON_CreateArray());
    admit_ok(pod, "UPDATE");
    CU_ASSERT_EQUAL(metric(UNSYNCED), 2);
    svc_lock(app_svc(server));
    CU_ASSERT_NOT_EQUAL(place_state_find_pe(svc_state(app_svc(server)), "u-1"), PLACE_NONE);
    svc_unlock(app_svc(server));
    stop_server();
    CU_ASSERT_EQUAL_FATAL(store_open(state_dir, &st, &err), SP_OK);
    CU_ASSERT_EQUAL(store_load(st, &visit, json, &err), SP_OK);
    store_close(st);
    SP_ASSERT_CONTAINS(json, "\"tier\":\"gold\"");
    CU_ASSERT_PTR_NULL(strstr(json, "managedFields"));
    remove_dir();
}

/* ------------------------------------------------------------------------ */
/* Released placements and their TTL                                          */
/* ------------------------------------------------------------------------ */

#define PLACEMENTS "\nstreams_placer_placements "

/* Start the server with releasedPlacementTTLSeconds 1 on the fake clock. */
static void start_with_short_ttl(char *path, size_t len)
{
    snprintf(path, len, "%s-policy.json", state_dir);
    sp_test_write_file(path, "{\"releasedPlacementTTLSeconds\": 1}");
    policy_path = path;
    start_server();
    policy_path = NULL;
    fake_now = 1000000;
    svc_set_clock(app_svc(server), fake_clock);
}

/* Filter and bind pod name (uid) of job/pe; its node in node. */
static void place(const char *name, const char *uid, const char *job, const char *pe,
                  char *node, size_t len)
{
    filter(pe_pod(name, uid, job, pe, NULL), 3, true, node, len);
    CU_ASSERT_STRING_NOT_EQUAL(node, "");
    bind_pod(name, uid, node, "");
}

static sp_rc stored_placement(void *ctx, const store_placement *p, sp_err *err)
{
    (void)err;
    return sp_buf_printf(ctx, "%s/%s:%s ", p->job, p->pe, p->phase);
}

/* The placements the store holds, as "job/pe:phase " in key order. */
static void stored_placements(sp_buf *out)
{
    static const store_visitor visit = { NULL, NULL, stored_placement };
    store *st = NULL;
    sp_err err;

    sp_buf_init(out, 1 << 20);
    CU_ASSERT_EQUAL_FATAL(store_open(state_dir, &st, &err), SP_OK);
    CU_ASSERT_EQUAL(store_load(st, &visit, out, &err), SP_OK);
    store_close(st);
}

/* Standalone, as in a cluster: a Released placement of a job with no pod
 * left is deleted once it has been Released for longer than the TTL (by
 * the first filter call after that), not before; one whose job still has
 * a pod stays. */
static void test_released_placements_are_deleted_after_the_ttl(void)
{
    char path[300], node[64], trigger[64];
    sp_buf rows;

    fresh_dir(3);
    start_with_short_ttl(path, sizeof(path));
    place("g-0", "g0", "g", "0", node, sizeof(node));
    place("k-0", "k0", "k", "0", node, sizeof(node));
    place("k-1", "k1", "k", "1", node, sizeof(node));
    admit_ok(pe_pod("g-0", "g0", "g", "0", NULL), "DELETE");
    admit_ok(pe_pod("k-0", "k0", "k", "0", NULL), "DELETE");
    fake_now += 1; /* Released for 1 s: not longer than the TTL */
    filter(pe_pod("z-0", "z0", "z", "0", NULL), 3, true, trigger, sizeof(trigger));
    CU_ASSERT_EQUAL(metric(PLACEMENTS), 4);
    fake_now += 1;
    filter(pe_pod("z-0", "z0", "z", "0", NULL), 3, true, trigger, sizeof(trigger));
    CU_ASSERT_EQUAL(metric(PLACEMENTS), 3);
    stop_server();
    stored_placements(&rows);
    SP_ASSERT_STR(rows.data, "k/0:Released k/1:Bound z/0:Reserved ");
    sp_buf_free(&rows);
    remove(path);
    remove_dir();
}

/* A placement deleted elsewhere (a watch, in a cluster) drops its record;
 * the records left keep theirs. */
static void test_forgotten_placement_drops_its_record(void)
{
    char node0[64], node1[64];
    const char *phase, *node;
    sp_err err;
    svc *c;
    int32_t pe;

    fresh_dir(3);
    start_server();
    c = app_svc(server);
    place("f-0", "f0", "f", "0", node0, sizeof(node0));
    place("f-1", "f1", "f", "1", node1, sizeof(node1));
    svc_lock(c);
    CU_ASSERT_EQUAL(svc_forget_placement(c, "streams", "f", "0", &err), SP_OK);
    CU_ASSERT_EQUAL(svc_forget_placement(c, "streams", "f", "0", &err), SP_OK);
    pe = place_state_find_pe(svc_state(c), "f0");
    svc_placement_of(c, pe, &phase, &node);
    SP_ASSERT_STR(phase, "");
    pe = place_state_find_pe(svc_state(c), "f1");
    svc_placement_of(c, pe, &phase, &node);
    SP_ASSERT_STR(phase, "Bound");
    SP_ASSERT_STR(node, node1);
    svc_unlock(c);
    CU_ASSERT_EQUAL(metric(PLACEMENTS), 1);
    stop_server();
    remove_dir();
}

/* A stream of jobs whose names are always new (each placed, bound and
 * deleted): the placements kept and the engine's job slots stay bounded. */
static void test_new_job_names_keep_the_state_bounded(void)
{
    char path[300], name[32], uid[32], job[32], node[64];
    size_t job_slots;
    long long kept;

    fresh_dir(3);
    start_with_short_ttl(path, sizeof(path));
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof(name), "n%d-0", i);
        snprintf(uid, sizeof(uid), "n%d", i);
        snprintf(job, sizeof(job), "n%d", i);
        place(name, uid, job, "0", node, sizeof(node));
        admit_ok(pe_pod(name, uid, job, "0", NULL), "DELETE");
        fake_now += 2;
    }
    kept = metric(PLACEMENTS);
    CU_ASSERT_EQUAL(kept, 1); /* the last one: swept by the next filter call */
    svc_lock(app_svc(server));
    job_slots = place_state_job_slots(svc_state(app_svc(server)));
    svc_unlock(app_svc(server));
    CU_ASSERT_TRUE(job_slots <= 2);
    stop_server();
    remove(path);
    remove_dir();
}

/* A --pods file is loaded whole (after which the service gives the freed
 * heap back to the system): every pod is in the state, on its node. */
static void test_pods_file_is_loaded(void)
{
    cJSON *list = cJSON_CreateObject(), *items = cJSON_AddArrayToObject(list, "items");
    char path[300], uid[32], name[32], job[32], *text;
    int bad = 0;

    fresh_dir(20);
    for (int i = 0; i < 100; i++) {
        cJSON *pod;
        snprintf(uid, sizeof(uid), "f-%d", i);
        snprintf(name, sizeof(name), "f%d-0", i);
        snprintf(job, sizeof(job), "f%d", i);
        pod = pe_pod(name, uid, job, "0", NULL);
        snprintf(name, sizeof(name), "node-%d", i % 20);
        cJSON_AddStringToObject(cJSON_GetObjectItem(pod, "spec"), "nodeName", name);
        cJSON_AddItemToArray(items, pod);
    }
    text = cJSON_PrintUnformatted(list);
    cJSON_Delete(list);
    snprintf(path, sizeof(path), "%s-pods.json", state_dir);
    sp_test_write_file(path, text);
    free(text);
    pods_path = path;
    start_server();
    pods_path = NULL;
    svc_lock(app_svc(server));
    for (int i = 0; i < 100; i++) {
        place_pe_info info;
        int32_t pe;
        snprintf(uid, sizeof(uid), "f-%d", i);
        pe = place_state_find_pe(svc_state(app_svc(server)), uid);
        if (pe == PLACE_NONE) {
            bad++;
            continue;
        }
        place_pe_get(svc_state(app_svc(server)), pe, &info);
        bad += info.node == PLACE_NONE;
    }
    svc_unlock(app_svc(server));
    CU_ASSERT_EQUAL(bad, 0);
    stop_server();
    CU_ASSERT_EQUAL(unlink(path), 0);
    remove_dir();
}

/* The service's JSON printer (what the store keeps of a pod) reads back to
 * the same tree, and its digest tells texts apart. */
static void test_pod_text_round_trips(void)
{
    static const char *const docs[] = {
        "{\"a\":\"q\\\"b\\\\s\\n\\u0001\\u001f\u00e9\",\"A\":[],\"o\":{},\"n\":null}",
        "[0,-1,3.5,1e300,-2.5e-8,9007199254740993,123456789012,true,false,[[{}]]]",
        "\"\"",
        /* escapes inside, at and across the 8-byte words the printer scans */
        "[\"abcdefg\\\"hijklmnopqrstuvw\\\\xyz0123\\u007f\\t\u00e9\u00e9\u00e9\u00e9longer tail\","
        "\"\\u001f2345678\",\"01234567\\\"\",-7,-9007199254740991,65536]",
        "{\"metadata\":{\"name\":\"x\",\"labels\":{\"streams.io/job\":\"j\"}}}",
    };
    svc_json_text t = { NULL, 0, 0 }, again = { NULL, 0, 0 };
    svc_digest_key key;
    sp_err err;

    CU_ASSERT_EQUAL_FATAL(svc_digest_key_new(&key, &err), SP_OK);
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        cJSON *doc = cJSON_Parse(docs[i]), *back;
        CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
        CU_ASSERT_EQUAL_FATAL(svc_json_print(&t, doc, NULL), SP_OK);
        CU_ASSERT_EQUAL(strlen(t.data), t.len);
        back = cJSON_Parse(t.data);
        CU_ASSERT_TRUE(cJSON_Compare(doc, back, true));
        CU_ASSERT_EQUAL_FATAL(svc_json_print(&again, back, NULL), SP_OK);
        SP_ASSERT_STR(again.data, t.data);
        CU_ASSERT_EQUAL(svc_digest(&key, t.data, t.len), svc_digest(&key, again.data, again.len));
        CU_ASSERT_NOT_EQUAL(svc_digest(&key, t.data, t.len), svc_digest(&key, t.data, t.len - 1));
        if (i == 3)
            SP_ASSERT_STR(t.data, "[\"abcdefg\\\"hijklmnopqrstuvw\\\\xyz0123\x7f\\u0009\u00e9\u00e9\u00e9\u00e9"
                                  "longer tail\",\"\\u001f2345678\",\"01234567\\\"\",-7,-9007199254740991,65536]");
        cJSON_Delete(back);
        cJSON_Delete(doc);
    }
    SP_ASSERT_STR(t.data, "{\"metadata\":{\"name\":\"x\",\"labels\":{\"streams.io/job\":\"j\"}}}");
    svc_json_text_free(&t);
    svc_json_text_free(&again);
}

/* The printer leaves out the member at the path it is given, wherever it
 * sits among its siblings, and nothing else of the same name. */
static void test_pod_text_leaves_out_a_path(void)
{
    static const char *const omit[] = { "metadata", "managedFields", NULL };
    static const char *const cases[][2] = {
        { "{\"metadata\":{\"managedFields\":[{\"a\":1}],\"name\":\"x\"},\"managedFields\":1}",
          "{\"metadata\":{\"name\":\"x\"},\"managedFields\":1}" },
        { "{\"metadata\":{\"name\":\"x\",\"managedFields\":[],\"uid\":\"u\"}}",
          "{\"metadata\":{\"name\":\"x\",\"uid\":\"u\"}}" },
        { "{\"spec\":{},\"metadata\":{\"managedFields\":{}}}", "{\"spec\":{},\"metadata\":{}}" },
        { "{\"spec\":{\"metadata\":{\"managedFields\":2}},\"metadata\":\"m\"}",
          "{\"spec\":{\"metadata\":{\"managedFields\":2}},\"metadata\":\"m\"}" },
        { "[{\"metadata\":{\"managedFields\":2}}]", "[{\"metadata\":{\"managedFields\":2}}]" },
    };
    svc_json_text t = { NULL, 0, 0 };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *doc = cJSON_Parse(cases[i][0]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
        CU_ASSERT_EQUAL_FATAL(svc_json_print(&t, doc, omit), SP_OK);
        SP_ASSERT_STR(t.data, cases[i][1]);
        CU_ASSERT_EQUAL(strlen(t.data), t.len);
        cJSON_Delete(doc);
    }
    svc_json_text_free(&t);
}

static void test_admission_denies_with_a_reason(void)
{
    cJSON *answer = NULL, *status;

    fresh_dir(1);
    start_server();
    CU_ASSERT_EQUAL(post_obj("/webhook/validate",
                             review_of(pe_pod("d-0", NULL, "d", "0", "{\"streams.io/host-isolation\":\"maybe\"}"),
                                       "rev-d", "CREATE"),
                             &answer), 200);
    CU_ASSERT_FALSE(allowed(answer));
    status = cJSON_GetObjectItem(cJSON_GetObjectItem(answer, "response"), "status");
    SP_ASSERT_CONTAINS(cJSON_GetStringValue(cJSON_GetObjectItem(status, "message")),
                       "annotation streams.io/host-isolation: \"maybe\" is not a boolean");
    cJSON_Delete(answer);
    stop_server();
    remove_dir();
}

/* ------------------------------------------------------------------------ */
/* Bad input                                                                  */
/* ------------------------------------------------------------------------ */

static void expect(const char *method, const char *path, const char *ctype, const char *body,
                   long status, const char *contains)
{
    sp_buf out;

    CU_ASSERT_EQUAL(call(curl, method, path, ctype, body, body ? strlen(body) : 0, &out), status);
    if (contains)
        SP_ASSERT_CONTAINS(out.data, contains);
    sp_buf_free(&out);
}

static void test_bad_input_gets_a_clear_answer(void)
{
    char *big;

    fresh_dir(2);
    start_server_with(nodes_path, NULL, 64 * 1024, 128 * 1024);
    expect("GET", "/scheduler/filter", NULL, NULL, 405, "method GET is not allowed here: use POST");
    expect("POST", "/scheduler/filter", "text/plain", "{}", 415, "must be application/json");
    expect("POST", "/nowhere", "application/json", "{}", 404, "no such path");
    expect("POST", "/scheduler/filter", "application/json", "{not json", 400, "\"Error\":");
    expect("POST", "/scheduler/filter", "application/json", "[]", 400,
           "ExtenderArgs must be a JSON object");
    expect("POST", "/scheduler/filter", "application/json", "{\"NodeNames\":[]}", 400,
           "ExtenderArgs.Pod is missing or not an object");
    expect("POST", "/scheduler/prioritize", "application/json", "{\"Pod\":{}}", 400,
           "neither Nodes nor NodeNames");
    expect("POST", "/scheduler/bind", "application/json", "{\"PodName\":\"x\"}", 400,
           "ExtenderBindingArgs.PodNamespace is missing or empty");
    expect("POST", "/webhook/validate", "application/json", "nonsense", 400, NULL);
    expect("POST", "/webhook/mutate", "application/json; charset=utf-8",
           "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
           "\"request\":{\"uid\":\"u-1\",\"operation\":\"CREATE\","
           "\"kind\":{\"kind\":\"Pod\"}}}",
           200, "\"allowed\":false");
    big = calloc(100 * 1024 + 1, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    memset(big, ' ', 100 * 1024);
    /* each route its own cap: the extender's is larger */
    expect("POST", "/webhook/validate", "application/json", big, 413,
           "the body is over the 65536 bytes allowed");
    expect("POST", "/scheduler/filter", "application/json", big, 400, "\"Error\":");
    free(big);
    big = calloc(200 * 1024 + 1, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    memset(big, ' ', 200 * 1024);
    expect("POST", "/scheduler/filter", "application/json", big, 413,
           "the body is over the 131072 bytes allowed");
    free(big);
    /* the server still answers after all of that */
    expect("GET", "/healthz", NULL, NULL, 200, "ok");
    stop_server();
    remove_dir();
}

/* ------------------------------------------------------------------------ */
/* Captured payloads                                                          */
/* ------------------------------------------------------------------------ */

static char fixtures[1024];

static char *read_fixture(const char *name)
{
    char path[1400];
    char *data = NULL;
    size_t len;
    sp_err err;

    snprintf(path, sizeof(path), "%s/%s", fixtures, name);
    CU_ASSERT_EQUAL_FATAL(kobj_read_file(path, KOBJ_FILE_MAX, &data, &len, &err), SP_OK);
    return data;
}

/* The names a request sent, as a JSON text for lookups. */
static bool was_sent(const cJSON *request, const char *name)
{
    const cJSON *names = cJSON_GetObjectItem(request, "NodeNames"), *it;
    const cJSON *items = cJSON_GetObjectItem(cJSON_GetObjectItem(request, "Nodes"), "items");
    const cJSON *list = cJSON_IsArray(names) ? names : items;

    cJSON_ArrayForEach(it, list) {
        const cJSON *n = cJSON_IsString(it) ? it
                         : cJSON_GetObjectItem(cJSON_GetObjectItem(it, "metadata"), "name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
            return true;
    }
    return false;
}

static void check_filter_answer(const cJSON *request, const cJSON *answer, bool names_mode)
{
    const cJSON *kept = names_mode ? cJSON_GetObjectItem(answer, "NodeNames")
                                   : cJSON_GetObjectItem(cJSON_GetObjectItem(answer, "Nodes"), "items");
    const cJSON *failed = cJSON_GetObjectItem(answer, "FailedNodes");
    const cJSON *unres = cJSON_GetObjectItem(answer, "FailedAndUnresolvableNodes");
    const char *first;
    int sent = cJSON_GetArraySize(names_mode ? cJSON_GetObjectItem(request, "NodeNames")
                                             : cJSON_GetObjectItem(cJSON_GetObjectItem(request, "Nodes"), "items"));
    int kept_n = passed(answer, &first);

    CU_ASSERT_TRUE(cJSON_IsArray(kept));
    CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(answer, names_mode ? "Nodes" : "NodeNames"));
    if (first)
        CU_ASSERT_TRUE(was_sent(request, first));
    /* every node is either kept or refused with a reason, once */
    CU_ASSERT_EQUAL(kept_n + cJSON_GetArraySize(failed) + cJSON_GetArraySize(unres), sent);
}

/* Where a captured request falls in the capture's own order: pools are
 * created, pods admitted, each PE filtered, prioritized and bound, then a
 * pool updated and a pod deleted (twice: a forced delete). */
static int phase_rank(const char *name)
{
    if (strstr(name, "create-hostpool"))
        return 0;
    if (strstr(name, "create-pod"))
        return 1;
    if (!strncmp(name, "filter", 6) || !strncmp(name, "prioritize", 10) || !strncmp(name, "bind", 4))
        return 2;
    return strstr(name, "update-") ? 3 : 4;
}

static int verb_rank(const char *name)
{
    return !strncmp(name, "mutate", 6) || !strncmp(name, "filter", 6) ? 0
           : !strncmp(name, "prioritize", 10)                         ? 1
                                                                      : 2;
}

/* Compare two "folder/name" paths by capture order. */
static int capture_order(const void *x, const void *y)
{
    const char *a = strchr(*(const char *const *)x, '/') + 1;
    const char *b = strchr(*(const char *const *)y, '/') + 1;
    const char *pa = strstr(a, "-pe"), *pb = strstr(b, "-pe");
    int d = phase_rank(a) - phase_rank(b);

    if (!d && pa && pb)
        d = pa[3] - pb[3];
    if (!d)
        d = verb_rank(a) - verb_rank(b);
    return d ? d : strcmp(a, b);
}

/* The .json files of a folder, as "folder/name", appended to list. */
static size_t list_folder(const char *folder, char **list, size_t n)
{
    char dir[1200];
    struct dirent **entries;
    int count;

    snprintf(dir, sizeof(dir), "%s/%s", fixtures, folder);
    count = scandir(dir, &entries, NULL, alphasort);
    CU_ASSERT_FATAL(count > 0);
    for (int i = 0; i < count; i++) {
        size_t len = strlen(entries[i]->d_name);
        if (len > 5 && strcmp(entries[i]->d_name + len - 5, ".json") == 0 && n < 64) {
            list[n] = calloc(1, strlen(folder) + len + 2);
            sprintf(list[n++], "%s/%s", folder, entries[i]->d_name); /* sized above */
        }
        free(entries[i]);
    }
    free(entries);
    return n;
}

static const char *route_of(const char *name)
{
    return !strncmp(name, "filter", 6)       ? "/scheduler/filter"
           : !strncmp(name, "prioritize", 10) ? "/scheduler/prioritize"
           : !strncmp(name, "bind", 4)        ? "/scheduler/bind"
           : !strncmp(name, "mutate", 6)      ? "/webhook/mutate?timeout=5s"
                                              : "/webhook/validate?timeout=5s";
}

static void check_admission_answer(const cJSON *request, const cJSON *answer)
{
    const cJSON *req = cJSON_GetObjectItem(request, "request");
    const cJSON *resp = cJSON_GetObjectItem(answer, "response");

    SP_ASSERT_STR(cJSON_GetStringValue(cJSON_GetObjectItem(resp, "uid")),
                  cJSON_GetStringValue(cJSON_GetObjectItem(req, "uid")));
    SP_ASSERT_STR(cJSON_GetStringValue(cJSON_GetObjectItem(answer, "kind")), "AdmissionReview");
    SP_ASSERT_STR(cJSON_GetStringValue(cJSON_GetObjectItem(answer, "apiVersion")),
                  "admission.k8s.io/v1");
    CU_ASSERT_TRUE(cJSON_IsBool(cJSON_GetObjectItem(resp, "allowed")));
}

/* Send one captured request and check its answer. */
static void replay_one(const char *rel)
{
    const char *name = strchr(rel, '/') + 1;
    char *body = read_fixture(rel);
    sp_buf out;
    long status = post_json(route_of(name), body, &out);
    cJSON *request = cJSON_Parse(body), *answer = out.data ? cJSON_Parse(out.data) : NULL;

    if (status != 200)
        fprintf(stderr, "\n  %s: %ld %s\n", rel, status, out.data ? out.data : "");
    CU_ASSERT_EQUAL(status, 200);
    CU_ASSERT_PTR_NOT_NULL(answer);
    if (!strncmp(name, "filter", 6)) {
        check_filter_answer(request, answer, strncmp(rel, "extender-nodenames", 18) == 0);
    } else if (!strncmp(name, "prioritize", 10)) {
        CU_ASSERT_TRUE(cJSON_IsArray(answer));
    } else if (!strncmp(name, "bind", 4)) {
        SP_ASSERT_STR(cJSON_GetStringValue(cJSON_GetObjectItem(answer, "Error")), "");
    } else {
        check_admission_answer(request, answer);
    }
    cJSON_Delete(request);
    cJSON_Delete(answer);
    sp_buf_free(&out);
    sp_free(body);
}

static void test_captured_payloads_are_answered(void)
{
    char nodes[1200], pools[1200];
    char *files[64];
    size_t n;

    if (!sp_test_fixtures(fixtures, sizeof(fixtures))) {
        fprintf(stderr, "\n  fixtures not found: skipped\n");
        return;
    }
    snprintf(nodes, sizeof(nodes), "%s/cluster-nodes.json", fixtures);
    snprintf(pools, sizeof(pools), "%s/cluster-hostpools.json", fixtures);
    fresh_dir(0);
    start_server_with(nodes, pools, 0, 0);
    n = list_folder("admission", files, 0);
    n = list_folder("extender-nodelist", files, n);
    n = list_folder("extender-nodenames", files, n);
    qsort(files, n, sizeof(*files), capture_order);
    for (size_t i = 0; i < n; i++) {
        replay_one(files[i]);
        free(files[i]);
    }
    stop_server();
    remove_dir();
}

/* job1-pe0 asks for ingest[0]: only an ingest-tagged node may take it. */
static void test_captured_filter_respects_the_pool(void)
{
    char nodes[1200], pools[1200];
    char *body;
    cJSON *answer;
    sp_buf out;
    const char *first;

    if (!sp_test_fixtures(fixtures, sizeof(fixtures)))
        return;
    snprintf(nodes, sizeof(nodes), "%s/cluster-nodes.json", fixtures);
    snprintf(pools, sizeof(pools), "%s/cluster-hostpools.json", fixtures);
    fresh_dir(0);
    start_server_with(nodes, pools, 0, 0);
    body = read_fixture("extender-nodelist/filter-job1-pe0.json");
    CU_ASSERT_EQUAL(post_json("/scheduler/filter", body, &out), 200);
    answer = cJSON_Parse(out.data);
    CU_ASSERT_EQUAL(passed(answer, &first), 1);
    CU_ASSERT_TRUE(first && (!strcmp(first, "fake-node-1") || !strcmp(first, "fake-node-3") ||
                             !strcmp(first, "fake-node-4")));
    SP_ASSERT_CONTAINS(cJSON_GetStringValue(cJSON_GetObjectItem(
                           cJSON_GetObjectItem(answer, "FailedAndUnresolvableNodes"), "fake-node-2")),
                       "hostPool 'ingest': node lacks tag 'ingest'");
    cJSON_Delete(answer);
    sp_buf_free(&out);
    sp_free(body);
    stop_server();
    remove_dir();
}

/* ------------------------------------------------------------------------ */
/* Concurrency                                                                */
/* ------------------------------------------------------------------------ */

#define WORKERS 4
#define CALLS 50

static void *worker(void *arg)
{
    CURL *h = curl_easy_init();
    long id = (long)arg, bad = 0;

    for (int i = 0; i < CALLS / sp_test_scale(); i++) { /* fewer under valgrind */
        char uid[32], pe[16], name[32];
        cJSON *args;
        char *text;
        sp_buf out;
        snprintf(uid, sizeof(uid), "w%ld-%d", id, i);
        snprintf(pe, sizeof(pe), "%ld%d", id, i);
        snprintf(name, sizeof(name), "w-%ld-%d", id, i);
        args = ext_args(pe_pod(name, uid, "load", pe, NULL), 8, true);
        text = cJSON_PrintUnformatted(args);
        bad += call(h, "POST", "/scheduler/filter", "application/json", text, strlen(text), &out) != 200;
        free(text);
        cJSON_Delete(args);
        sp_buf_free(&out);
    }
    curl_easy_cleanup(h);
    return (void *)bad;
}

static void test_concurrent_callers(void)
{
    pthread_t t[WORKERS];
    long bad = 0;

    fresh_dir(8);
    start_server();
    for (long i = 0; i < WORKERS; i++)
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, worker, (void *)i), 0);
    for (int i = 0; i < WORKERS; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad += (long)r;
    }
    CU_ASSERT_EQUAL(bad, 0);
    stop_server();
    remove_dir();
}

static const sp_test tests[] = {
    SP_TEST(test_health_ready_and_metrics),
    SP_TEST(test_filter_prioritize_bind_in_names_mode),
    SP_TEST(test_unknown_node_is_never_let_through),
    SP_TEST(test_nodelist_mode_answers_with_nodes),
    SP_TEST(test_reservation_race_filter_b_before_bind_a),
    SP_TEST(test_reservation_times_out),
    SP_TEST(test_restart_keeps_every_decision),
    SP_TEST(test_admitted_pes_are_planned_as_a_job),
    SP_TEST(test_admission_denies_with_a_reason),
    SP_TEST(test_unchanged_pod_is_not_rewritten),
    SP_TEST(test_pod_text_round_trips),
    SP_TEST(test_pod_text_leaves_out_a_path),
    SP_TEST(test_released_placements_are_deleted_after_the_ttl),
    SP_TEST(test_forgotten_placement_drops_its_record),
    SP_TEST(test_new_job_names_keep_the_state_bounded),
    SP_TEST(test_pods_file_is_loaded),
    SP_TEST(test_bad_input_gets_a_clear_answer),
    SP_TEST(test_captured_payloads_are_answered),
    SP_TEST(test_captured_filter_respects_the_pool),
    SP_TEST(test_concurrent_callers),
    SP_TEST_END
};

int main(void)
{
    int rc;

    if (!getenv("SP_TEST_LOG"))
        sp_log_set_level(SP_LOG_OFF);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    curl = curl_easy_init();
    rc = sp_test_run("server", tests);
    curl_easy_cleanup(curl);
    curl_global_cleanup();
    return rc;
}
