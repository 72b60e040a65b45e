/*
 * streams-placer as a Kubernetes controller, against the test double of
 * kube-apiserver (tests/kfake.c): the server in cluster mode syncs its
 * caches before it is ready, writes every decision to the PE's PEPlacement
 * before answering, binds through pods/binding, writes a sized pool's
 * membership to HostPool status, records an Event when a PE cannot be
 * placed, releases a deleted pod's placement (keeping the node as previous),
 * sends a non-relocatable PE back to its previous node, rebuilds itself
 * from the API after a restart, rides out 409s, 5xx and 429s, sweeps
 * released placements after their TTL, and with two replicas exactly one
 * leads: the other refuses extender calls until it takes over. With
 * --tls-secret the serving pair comes from a Secret it creates, its CA goes
 * to a ConfigMap, and a pair changed in the Secret is served without a
 * restart (checked with openssl verify and s_client handshakes).
 */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "app/app.h"
#include "certs/certs.h"
#include "tests/kfake.h"
#include "tests/test_util.h"
#include "util/sp_buf.h"
#include "util/sp_log.h"

#define PODS "/api/v1/pods"
#define NODES "/api/v1/nodes"
#define POOLS "/apis/placement.streams.io/v1alpha1/hostpools"
#define PLACEMENTS "/apis/placement.streams.io/v1alpha1/peplacements"
#define EVENTS "/api/v1/events"
#define LEASES "/apis/coordination.k8s.io/v1/leases"

static char dir[256];
static char kubeconfig[300];
static char policy_path[300];
static kfake *fake;

/* ------------------------------------------------------------------------ */
/* Objects in the fake cluster                                                */
/* ------------------------------------------------------------------------ */

static cJSON *parse(const char *json)
{
    cJSON *o = cJSON_Parse(json);

    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    return o;
}

extern char **environ;

static void put(const char *collection, const char *json)
{
    CU_ASSERT(kfake_put_json(fake, collection, json) != 0);
}

static void put_node(const char *name, const char *tags_json)
{
    char json[1024];

    snprintf(json, sizeof(json),
             "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"%s\","
             "\"labels\":%s},\"status\":{\"allocatable\":{\"cpu\":\"4\",\"memory\":\"8Gi\","
             "\"pods\":\"110\"}}}",
             name, tags_json);
    put(NODES, json);
}

/* A pending PE pod of job/pe in namespace streams, annotations as JSON. */
static void put_pe(const char *name, const char *uid, const char *job, const char *pe,
                   const char *ann)
{
    char json[2048];

    snprintf(json, sizeof(json),
             "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
             "\"namespace\":\"streams\",\"uid\":\"%s\",\"labels\":{\"streams.io/job\":\"%s\","
             "\"streams.io/pe\":\"%s\"},\"annotations\":%s},\"spec\":{\"containers\":[{"
             "\"name\":\"pe\",\"resources\":{\"requests\":{\"cpu\":\"500m\",\"memory\":"
             "\"512Mi\"}}}]},\"status\":{\"phase\":\"Pending\"}}",
             name, uid, job, pe, ann ? ann : "{}");
    put(PODS, json);
}

/* The PEPlacement of job/pe in streams (a copy), or NULL. */
static cJSON *placement(const char *job, const char *pe)
{
    return kfake_get_placement(fake, "streams", job, pe);
}

/* Wait (up to 10 s) until cond(arg) holds. */
static bool eventually(bool (*cond)(void *), void *arg)
{
    for (int i = 0; i < 200; i++) {
        if (cond(arg))
            return true;
        usleep(50 * 1000);
    }
    return cond(arg);
}

/* ------------------------------------------------------------------------ */
/* The server under test                                                      */
/* ------------------------------------------------------------------------ */

typedef struct replica {
    app *app;
    char state[300];
    char url[64];
    CURL *curl;
} replica;

static void write_policy(const char *json)
{
    snprintf(policy_path, sizeof(policy_path), "%s/policy.json", dir);
    sp_test_write_file(policy_path, json);
}

/* A replica; certs NULL: its self-signed pair, else from certs->secret. */
static void start_replica_with(replica *r, const char *name, bool elect,
                               const certmgr_config *certs)
{
    app_config cfg = { .address = "127.0.0.1", .threads = 2, .cluster = true };
    sp_err err = { SP_OK, "" };

    if (certs) {
        cfg.certs = *certs;
        cfg.cert_check_period_s = 1;
        cfg.reload_period_ms = 200;
    }
    snprintf(r->state, sizeof(r->state), "%s/%s", dir, name);
    mkdir(r->state, 0700);
    cfg.svc.state_dir = r->state;
    cfg.svc.policy_path = policy_path[0] ? policy_path : NULL;
    cfg.api.kubeconfig = kubeconfig;
    cfg.rec.leader_elect = elect;
    cfg.rec.identity = name;
    cfg.rec.lease_duration_s = 3;
    cfg.rec.renew_deadline_s = 2;
    cfg.rec.retry_period_s = 1;
    cfg.rec.gc_period_s = 1;
    if (app_start(&cfg, &r->app, &err))
        fprintf(stderr, "\n  app_start: %s\n", err.msg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->app);
    snprintf(r->url, sizeof(r->url), "https://127.0.0.1:%u", (unsigned)app_port(r->app));
    r->curl = curl_easy_init();
}

static void start_replica(replica *r, const char *name, bool elect)
{
    start_replica_with(r, name, elect, NULL);
}

static void stop_replica(replica *r)
{
    app_stop(r->app, 1000);
    curl_easy_cleanup(r->curl);
    r->app = NULL;
}

static size_t collect(char *data, size_t size, size_t n, void *userdata)
{
    return sp_buf_append(userdata, data, size * n) ? 0 : size * n;
}

static long call(replica *r, const char *method, const char *path, const char *body,
                 sp_buf *out)
{
    char url[256], ca[400];
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    long status = 0;

    sp_buf_init(out, 16u << 20);
    snprintf(url, sizeof(url), "%s%s", r->url, path);
    snprintf(ca, sizeof(ca), "%s/ca.crt", r->state);
    curl_easy_reset(r->curl);
    curl_easy_setopt(r->curl, CURLOPT_URL, url);
    curl_easy_setopt(r->curl, CURLOPT_CAINFO, ca);
    curl_easy_setopt(r->curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(r->curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(r->curl, CURLOPT_TIMEOUT, 30L);
    if (body)
        curl_easy_setopt(r->curl, CURLOPT_POSTFIELDS, body);
    if (curl_easy_perform(r->curl) == CURLE_OK)
        curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    return status;
}

static bool ready(void *arg)
{
    sp_buf out;
    long status = call(arg, "GET", "/readyz", NULL, &out);

    sp_buf_free(&out);
    return status == 200;
}

/* Filter the pod kfake holds (by name) over the node names; the chosen one
 * into chosen (or ""), the HTTP status returned. */
static long filter(replica *r, const char *pod, const char *nodes, char *chosen, size_t len)
{
    cJSON *obj = kfake_get(fake, PODS, "streams", pod), *answer;
    char *args, *text;
    sp_buf out;
    long status;
    const cJSON *kept;

    CU_ASSERT_PTR_NOT_NULL_FATAL(obj);
    text = cJSON_PrintUnformatted(obj);
    args = calloc(1, 64 * 1024);
    snprintf(args, 64 * 1024, "{\"Pod\":%s,\"NodeNames\":%s}", text, nodes);
    free(text);
    status = call(r, "POST", "/scheduler/filter", args, &out);
    answer = out.data ? cJSON_Parse(out.data) : NULL;
    kept = cJSON_GetObjectItem(answer, "NodeNames");
    snprintf(chosen, len, "%s", cJSON_GetArraySize(kept) == 1 ? kept->child->valuestring : "");
    cJSON_Delete(answer);
    cJSON_Delete(obj);
    sp_buf_free(&out);
    free(args);
    return status;
}

static long bind_pod(replica *r, const char *pod, const char *uid, const char *node, char *error,
                 size_t len)
{
    char args[512];
    sp_buf out;
    cJSON *answer;
    long status;

    snprintf(args, sizeof(args),
             "{\"PodName\":\"%s\",\"PodNamespace\":\"streams\",\"PodUID\":\"%s\",\"Node\":\"%s\"}",
             pod, uid, node);
    status = call(r, "POST", "/scheduler/bind", args, &out);
    answer = out.data ? cJSON_Parse(out.data) : NULL;
    snprintf(error, len, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(answer, "Error"))
                                   ? cJSON_GetStringValue(cJSON_GetObjectItem(answer, "Error"))
                                   : "(none)");
    cJSON_Delete(answer);
    sp_buf_free(&out);
    return status;
}

/* ------------------------------------------------------------------------ */
/* Fixture                                                                    */
/* ------------------------------------------------------------------------ */

static void cluster_up(void)
{
    snprintf(dir, sizeof(dir), "/tmp/sp-cluster-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    fake = kfake_start(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(fake);
    snprintf(kubeconfig, sizeof(kubeconfig), "%s/kubeconfig", dir);
    policy_path[0] = '\0';
    put_node("n1", "{\"tag.streams.io/ssd\":\"true\"}");
    put_node("n2", "{\"tag.streams.io/ssd\":\"true\"}");
    put_node("n3", "{}");
}

static void cluster_down(void)
{
    char cmd[400];

    kfake_stop(fake);
    fake = NULL;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

static const char *all_nodes = "[\"n1\",\"n2\",\"n3\"]";

/* ------------------------------------------------------------------------ */
/* Tests                                                                      */
/* ------------------------------------------------------------------------ */

typedef struct phase_wait {
    const char *job, *pe, *phase;
} phase_wait;

static bool placement_in(void *arg)
{
    phase_wait *w = arg;
    cJSON *p = placement(w->job, w->pe);
    bool ok = p && strcmp(kfake_status_str(p, "phase"), w->phase) == 0;

    cJSON_Delete(p);
    return ok;
}

static void test_decisions_go_to_peplacements_before_the_answer(void)
{
    replica r;
    char node[64], error[256];
    cJSON *p, *pod;

    cluster_up();
    put_pe("a-0", "ua0", "a", "0", NULL);
    start_replica(&r, "r1", false);
    CU_ASSERT_TRUE_FATAL(eventually(ready, &r));
    CU_ASSERT_EQUAL(filter(&r, "a-0", all_nodes, node, sizeof(node)), 200);
    CU_ASSERT_STRING_NOT_EQUAL(node, "");
    /* written before the answer: no waiting here */
    p = placement("a", "0");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    SP_ASSERT_STR(kfake_status_str(p, "phase"), "Reserved");
    SP_ASSERT_STR(kfake_status_str(p, "node"), node);
    SP_ASSERT_STR(kfake_status_str(p, "podUID"), "ua0");
    cJSON_Delete(p);
    CU_ASSERT_EQUAL(bind_pod(&r, "a-0", "ua0", node, error, sizeof(error)), 200);
    SP_ASSERT_STR(error, "");
    p = placement("a", "0");
    SP_ASSERT_STR(kfake_status_str(p, "phase"), "Bound");
    cJSON_Delete(p);
    pod = kfake_get(fake, PODS, "streams", "a-0");
    SP_ASSERT_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(pod, "spec"),
                                                           "nodeName")),
                  node);
    cJSON_Delete(pod);
    /* binding again to the same node is success */
    CU_ASSERT_EQUAL(bind_pod(&r, "a-0", "ua0", node, error, sizeof(error)), 200);
    SP_ASSERT_STR(error, "");
    stop_replica(&r);
    cluster_down();
}

static bool members_written(void *arg)
{
    cJSON *pool = kfake_get(fake, POOLS, "streams", arg);
    const cJSON *hosts = cJSON_GetObjectItem(cJSON_GetObjectItem(pool, "status"), "hosts");
    bool ok = cJSON_GetArraySize(hosts) == 2;

    cJSON_Delete(pool);
    return ok;
}

static void test_pool_membership_goes_to_hostpool_status(void)
{
    replica r;
    char node[64];

    cluster_up();
    put(POOLS, "{\"apiVersion\":\"placement.streams.io/v1alpha1\",\"kind\":\"HostPool\","
               "\"metadata\":{\"name\":\"disk\",\"namespace\":\"streams\"},"
               "\"spec\":{\"tags\":[\"ssd\"],\"size\":2}}");
    put_pe("b-0", "ub0", "b", "0", "{\"streams.io/host-pool\":\"disk\"}");
    start_replica(&r, "r1", false);
    CU_ASSERT_TRUE_FATAL(eventually(ready, &r));
    CU_ASSERT_EQUAL(filter(&r, "b-0", all_nodes, node, sizeof(node)), 200);
    CU_ASSERT_TRUE(strcmp(node, "n1") == 0 || strcmp(node, "n2") == 0);
    CU_ASSERT_TRUE(eventually(members_written, "disk"));
    stop_replica(&r);
    cluster_down();
}

static void test_unplaceable_pe_gets_failed_placement_and_event(void)
{
    replica r;
    char node[64];
    phase_wait w = { "c", "0", "Failed" };
    cJSON *p;

    cluster_up();
    put_pe("c-0", "uc0", "c", "0", "{\"streams.io/host-pool\":\"nowhere\"}");
    start_replica(&r, "r1", false);
    CU_ASSERT_TRUE_FATAL(eventually(ready, &r));
    CU_ASSERT_EQUAL(filter(&r, "c-0", all_nodes, node, sizeof(node)), 200);
    CU_ASSERT_STRING_EQUAL(node, "");
    CU_ASSERT_TRUE(eventually(placement_in, &w));
    p = placement("c", "0");
    SP_ASSERT_CONTAINS(kfake_status_str(p, "reason"), "hostPool 'nowhere' does not exist");
    cJSON_Delete(p);
    CU_ASSERT_TRUE(kfake_count(fake, EVENTS) >= 1);
    stop_replica(&r);
    cluster_down();
}

static void test_deleted_pod_releases_and_restart_returns(void)
{
    replica r;
    char first[64], second[64], error[256];
    phase_wait w = { "d", "0", "Released" };
    cJSON *p;

    cluster_up();
    put_pe("d-0", "ud0", "d", "0", "{\"streams.io/relocatable\":\"false\"}");
    start_replica(&r, "r1", false);
    CU_ASSERT_TRUE_FATAL(eventually(ready, &r));
    CU_ASSERT_EQUAL(filter(&r, "d-0", all_nodes, first, sizeof(first)), 200);
    CU_ASSERT_EQUAL(bind_pod(&r, "d-0", "ud0", first, error, sizeof(error)), 200);
    kfake_delete(fake, PODS, "streams", "d-0");
    CU_ASSERT_TRUE_FATAL(eventually(placement_in, &w));
    p = placement("d", "0");
    SP_ASSERT_STR(kfake_status_str(p, "previousNode"), first);
    cJSON_Delete(p);
    /* the PE restarts in a new pod: not relocatable, so back to its node */
    put_pe("d-0-new", "ud0b", "d", "0", "{\"streams.io/relocatable\":\"false\"}");
    usleep(300 * 1000);
    CU_ASSERT_EQUAL(filter(&r, "d-0-new", all_nodes, second, sizeof(second)), 200);
    SP_ASSERT_STR(second, first);
    p = placement("d", "0");
    CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(p, "status"),
                                                             "launches")),
                    2);
    cJSON_Delete(p);
    stop_replica(&r);
    cluster_down();
}

static void test_restart_rebuilds_from_the_api(void)
{
    replica r;
    char a[64], b[64], c[64];
    const char *ex = "{\"streams.io/host-exlocation\":\"x\"}";

    cluster_up();
    put_pe("e-0", "ue0", "e", "0", ex);
    put_pe("e-1", "ue1", "e", "1", ex);
    put_pe("e-2", "ue2", "e", "2", ex);
    start_replica(&r, "r1", false);
    CU_ASSERT_TRUE_FATAL(eventually(ready, &r));
    CU_ASSERT_EQUAL(filter(&r, "e-0", all_nodes, a, sizeof(a)), 200);
    CU_ASSERT_EQUAL(filter(&r, "e-1", all_nodes, b, sizeof(b)), 200);
    stop_replica(&r);
    /* a new process: nothing local, everything from PEPlacements */
    start_replica(&r, "r1b", false);
    CU_ASSERT_TRUE_FATAL(eventually(ready, &r));
    CU_ASSERT_EQUAL(filter(&r, "e-2", all_nodes, c, sizeof(c)), 200);
    CU_ASSERT_STRING_NOT_EQUAL(c, "");
    CU_ASSERT_STRING_NOT_EQUAL(c, a);
    CU_ASSERT_STRING_NOT_EQUAL(c, b);
    stop_replica(&r);
    cluster_down();
}

static void test_conflicts_and_faults_are_ridden_out(void)
{
    replica r;
    char node[64], none[64];
    cJSON *p;

    cluster_up();
    put_pe("f-0", "uf0", "f", "0", NULL);
    put_pe("f-1", "uf1", "f", "1", NULL);
    start_replica(&r, "r1", false);
    CU_ASSERT_TRUE_FATAL(eventually(ready, &r));
    kfake_fail(fake, "PUT", "/apis/placement.streams.io", 409, 0, 1);
    kfake_fail(fake, "GET", "/apis/placement.streams.io", 503, 0, 1);
    kfake_fail(fake, "POST", "/apis/placement.streams.io", 429, 1, 1);
    CU_ASSERT_EQUAL(filter(&r, "f-0", all_nodes, node, sizeof(node)), 200);
    CU_ASSERT_STRING_NOT_EQUAL(node, "");
    p = placement("f", "0");
    SP_ASSERT_STR(kfake_status_str(p, "phase"), "Reserved");
    cJSON_Delete(p);
    /* the API server is down for PEPlacements: a clear error, no decision */
    kfake_fail(fake, NULL, "/apis/placement.streams.io", 500, 0, 1000);
    CU_ASSERT_EQUAL(filter(&r, "f-1", all_nodes, none, sizeof(none)), 500);
    kfake_fail(fake, NULL, NULL, 200, 0, 0);
    stop_replica(&r);
    cluster_down();
}

static bool gone(void *arg)
{
    cJSON *p = placement(arg, "0");

    cJSON_Delete(p);
    return p == NULL;
}

static void test_released_placements_are_swept(void)
{
    replica r;
    char node[64], error[128];
    phase_wait w = { "g", "0", "Released" };

    cluster_up();
    write_policy("{\"releasedPlacementTTLSeconds\":0}");
    put_pe("g-0", "ug0", "g", "0", NULL);
    start_replica(&r, "r1", false);
    CU_ASSERT_TRUE_FATAL(eventually(ready, &r));
    CU_ASSERT_EQUAL(filter(&r, "g-0", all_nodes, node, sizeof(node)), 200);
    CU_ASSERT_EQUAL(bind_pod(&r, "g-0", "ug0", node, error, sizeof(error)), 200);
    kfake_delete(fake, PODS, "streams", "g-0");
    CU_ASSERT_TRUE(eventually(placement_in, &w) || eventually(gone, "g"));
    CU_ASSERT_TRUE(eventually(gone, "g"));
    stop_replica(&r);
    cluster_down();
}

typedef struct pair {
    replica *a, *b;
} pair;

static bool one_leads(void *arg)
{
    pair *p = arg;
    char x[64], y[64];
    long sa = filter(p->a, "h-0", all_nodes, x, sizeof(x));
    long sb = filter(p->b, "h-0", all_nodes, y, sizeof(y));

    return (sa == 200 && sb == 503) || (sa == 503 && sb == 200);
}

static bool b_leads(void *arg)
{
    char y[64];

    return filter(arg, "h-0", all_nodes, y, sizeof(y)) == 200;
}

static void test_two_replicas_one_leader(void)
{
    replica a, b;
    pair p = { &a, &b };
    char x[64];

    cluster_up();
    put_pe("h-0", "uh0", "h", "0", NULL);
    start_replica(&a, "ra", true);
    CU_ASSERT_TRUE_FATAL(eventually(ready, &a));
    sleep(2); /* a takes the lease first */
    start_replica(&b, "rb", true);
    CU_ASSERT_TRUE_FATAL(eventually(ready, &b));
    CU_ASSERT_TRUE(eventually(one_leads, &p));
    CU_ASSERT_EQUAL(filter(&a, "h-0", all_nodes, x, sizeof(x)), 200);
    CU_ASSERT_EQUAL(kfake_count(fake, LEASES), 1);
    /* the leader goes; the other takes over within a lease duration */
    stop_replica(&a);
    CU_ASSERT_TRUE(eventually(b_leads, &b));
    stop_replica(&b);
    cluster_down();
}

static void test_non_relocatable_pe_waits_for_its_node(void)
{
    replica r;
    char node[64], again[64], error[128];
    phase_wait released = { "w", "0", "Released" }, failed = { "w", "0", "Failed" };
    const char *fixed = "{\"streams.io/relocatable\":\"false\"}";
    cJSON *p;

    cluster_up();
    put_pe("w-0", "uw0", "w", "0", fixed);
    start_replica(&r, "r1", false);
    CU_ASSERT_TRUE_FATAL(eventually(ready, &r));
    CU_ASSERT_EQUAL(filter(&r, "w-0", all_nodes, node, sizeof(node)), 200);
    CU_ASSERT_EQUAL(bind_pod(&r, "w-0", "uw0", node, error, sizeof(error)), 200);
    kfake_delete(fake, PODS, "streams", "w-0");
    CU_ASSERT_TRUE_FATAL(eventually(placement_in, &released));
    kfake_delete(fake, NODES, NULL, node); /* its node is gone too */
    put_pe("w-0-new", "uw0b", "w", "0", fixed);
    usleep(300 * 1000);
    CU_ASSERT_EQUAL(filter(&r, "w-0-new", all_nodes, again, sizeof(again)), 200);
    SP_ASSERT_STR(again, "");
    CU_ASSERT_TRUE(eventually(placement_in, &failed));
    p = placement("w", "0");
    SP_ASSERT_CONTAINS(kfake_status_str(p, "reason"), "must return to node");
    SP_ASSERT_CONTAINS(kfake_status_str(p, "reason"), "which does not exist; waiting for it");
    cJSON_Delete(p);
    stop_replica(&r);
    cluster_down();
}

/* ------------------------------------------------------------------------ */
/* kill -9                                                                    */
/* ------------------------------------------------------------------------ */

#define BURST 16

/* Start the real binary in cluster mode as a child; fills r (no app). */
static pid_t spawn_server(replica *r, const char *name)
{
    const char *top = getenv("top_builddir");
    char bin[400], port_file[400], buf[16] = "";
    char *argv[16];
    pid_t pid;
    FILE *f = NULL;

    snprintf(bin, sizeof(bin), "%s/streams-placer", top ? top : ".");
    snprintf(r->state, sizeof(r->state), "%s/%s", dir, name);
    snprintf(port_file, sizeof(port_file), "%s/port", r->state);
    mkdir(r->state, 0700);
    unlink(port_file);
    argv[0] = bin;
    argv[1] = "serve";
    argv[2] = "--mode";
    argv[3] = "cluster";
    argv[4] = "--kubeconfig";
    argv[5] = kubeconfig;
    argv[6] = "--no-leader-elect";
    argv[7] = "--listen";
    argv[8] = "127.0.0.1:0";
    argv[9] = "--port-file";
    argv[10] = port_file;
    argv[11] = "--state-dir";
    argv[12] = r->state;
    argv[13] = "--log-level";
    argv[14] = "error";
    argv[15] = NULL;
    if (access(bin, X_OK) != 0 || posix_spawn(&pid, bin, NULL, NULL, argv, environ) != 0)
        return -1;
    for (int i = 0; i < 100 && !buf[0]; i++) {
        usleep(50 * 1000);
        if ((f = fopen(port_file, "r"))) {
            if (!fgets(buf, sizeof(buf), f))
                buf[0] = '\0';
            fclose(f);
        }
    }
    snprintf(r->url, sizeof(r->url), "https://127.0.0.1:%d", atoi(buf));
    r->curl = curl_easy_init();
    r->app = NULL;
    return pid;
}

static volatile int kill_after; /* binds before the kill */

/* Schedule burst pods; every one ends up bound where its placement says. */
static void schedule_all(replica *r, int from, int to, pid_t victim)
{
    char name[32], uid[32], node[64], error[128];

    for (int i = from; i < to; i++) {
        snprintf(name, sizeof(name), "k-%d", i);
        snprintf(uid, sizeof(uid), "uk%d", i);
        if (filter(r, name, all_nodes, node, sizeof(node)) != 200 || !node[0])
            continue;
        if (victim > 0 && i == kill_after) {
            kill(victim, SIGKILL); /* between a decision and its bind */
            return;
        }
        bind_pod(r, name, uid, node, error, sizeof(error));
    }
}

static void test_kill_9_loses_and_duplicates_nothing(void)
{
    replica r;
    pid_t pid;
    int status;

    cluster_up();
    for (int i = 0; i < BURST; i++) {
        char name[32], uid[32], pe[16];
        snprintf(name, sizeof(name), "k-%d", i);
        snprintf(uid, sizeof(uid), "uk%d", i);
        snprintf(pe, sizeof(pe), "%d", i);
        put_pe(name, uid, "k", pe, NULL);
    }
    pid = spawn_server(&r, "proc1");
    if (pid < 0) {
        fprintf(stderr, "\n  no streams-placer binary: skipped\n");
        cluster_down();
        return;
    }
    CU_ASSERT_TRUE_FATAL(eventually(ready, &r));
    srand((unsigned)time(NULL));
    kill_after = 3 + rand() % (BURST - 6);
    schedule_all(&r, 0, BURST, pid);
    waitpid(pid, &status, 0);
    CU_ASSERT_TRUE(WIFSIGNALED(status));
    curl_easy_cleanup(r.curl);
    pid = spawn_server(&r, "proc2");
    CU_ASSERT_TRUE_FATAL(pid > 0 && eventually(ready, &r));
    schedule_all(&r, 0, BURST, 0);
    for (int i = 0; i < BURST; i++) {
        char name[32], pe[16];
        cJSON *pod, *p;
        const char *node;
        snprintf(name, sizeof(name), "k-%d", i);
        snprintf(pe, sizeof(pe), "%d", i);
        pod = kfake_get(fake, PODS, "streams", name);
        p = placement("k", pe);
        node = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(pod, "spec"), "nodeName"));
        CU_ASSERT_PTR_NOT_NULL(node);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        SP_ASSERT_STR(kfake_status_str(p, "phase"), "Bound");
        SP_ASSERT_STR(kfake_status_str(p, "node"), node ? node : "(unbound)");
        cJSON_Delete(pod);
        cJSON_Delete(p);
    }
    CU_ASSERT_EQUAL(kfake_count(fake, PLACEMENTS), BURST); /* one per PE, no more */
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    curl_easy_cleanup(r.curl);
    cluster_down();
}

/* ------------------------------------------------------------------------ */
/* Certificates from a Secret                                                 */
/* ------------------------------------------------------------------------ */

#define TLS_SECRET "placer-tls"
#define CA_CONFIGMAP "placer-ca"
#define SERVICE_HOST "streams-placer.default.svc"

/* The Secret's (or ConfigMap's) data[key], base64-decoded (Secret) or as it
 * is, written to dir/file; false when absent. */
static bool save_key(const char *collection, const char *name, const char *key, bool b64,
                     const char *file)
{
    cJSON *o = kfake_get(fake, collection, "default", name);
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "data"),
                                                             key));
    unsigned char *text = v ? calloc(1, strlen(v) + 1) : NULL;
    int len = 0;
    char path[400];
    FILE *f;

    if (text && b64) {
        len = EVP_DecodeBlock(text, (const unsigned char *)v, (int)strlen(v));
        for (size_t n = strlen(v); len > 0 && n && v[n - 1] == '='; n--)
            len--;
    } else if (text) {
        len = (int)strlen(v);
        memcpy(text, v, (size_t)len);
    }
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    if (text && len > 0 && (f = fopen(path, "w"))) {
        fwrite(text, 1, (size_t)len, f);
        fclose(f);
    }
    free(text);
    cJSON_Delete(o);
    return v != NULL;
}

/* Run a shell command; its first line of output in out, its status back. */
static int run(const char *cmd, char *out, size_t len)
{
    FILE *p = popen(cmd, "r");

    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    if (!fgets(out, (int)len, p))
        out[0] = '\0';
    while (fgetc(p) != EOF)
        ;
    return pclose(p);
}

/* The SHA-256 fingerprint of the certificate served by r, or "". */
static void served_fingerprint(replica *r, char *out, size_t len)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd), "openssl s_client -connect 127.0.0.1:%u </dev/null 2>/dev/null"
             " | openssl x509 -noout -fingerprint -sha256 2>/dev/null",
             (unsigned)app_port(r->app));
    run(cmd, out, len);
}

/* The fingerprint of dir/file. */
static void file_fingerprint(const char *file, char *out, size_t len)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd),
             "openssl x509 -in '%s/%s' -noout -fingerprint -sha256 2>/dev/null", dir, file);
    run(cmd, out, len);
}

static bool bundle_published(void *arg)
{
    (void)arg;
    return save_key("configmaps", CA_CONFIGMAP, "ca.crt", false, "bundle.crt");
}

typedef struct served_check {
    replica *r;
    char want[128];
} served_check;

/* The Secret's serving certificate is the one served, and is want. */
static bool serves_secret_pair(void *arg)
{
    served_check *c = arg;
    char secret[128], served[128];

    if (!save_key("secrets", TLS_SECRET, "tls.crt", true, "now.crt"))
        return false;
    file_fingerprint("now.crt", secret, sizeof(secret));
    served_fingerprint(c->r, served, sizeof(served));
    return served[0] && strcmp(secret, served) == 0 && (!c->want[0] || !strcmp(served, c->want));
}

/* A new serving pair from the Secret's own CA, written into the Secret as
 * an operator (or another leader) would. */
static void replace_serving_pair(void)
{
    static const char *const dns[] = { SERVICE_HOST };
    certs_spec spec = { .common_name = SERVICE_HOST, .dns = dns, .n_dns = 1, .days = 30 };
    certs_pair ca = { 0 }, leaf = { 0 };
    char ca_crt[400], ca_key[400], b64[8192];
    cJSON *secret = kfake_get(fake, "secrets", "default", TLS_SECRET);
    cJSON *data = cJSON_GetObjectItem(secret, "data");
    sp_err err = { SP_OK, "" };

    CU_ASSERT_TRUE_FATAL(save_key("secrets", TLS_SECRET, "ca.key", true, "ca.key"));
    snprintf(ca_crt, sizeof(ca_crt), "%s/ca.crt", dir);
    snprintf(ca_key, sizeof(ca_key), "%s/ca.key", dir);
    chmod(ca_key, 0600);
    CU_ASSERT_EQUAL_FATAL(certs_load_pair(ca_crt, ca_key, &ca, &err), SP_OK);
    CU_ASSERT_EQUAL_FATAL(certs_make_serving(&ca, &spec, &leaf, &err), SP_OK);
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)leaf.cert_pem,
                    (int)strlen(leaf.cert_pem));
    cJSON_ReplaceItemInObject(data, "tls.crt", cJSON_CreateString(b64));
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)leaf.key_pem,
                    (int)strlen(leaf.key_pem));
    cJSON_ReplaceItemInObject(data, "tls.key", cJSON_CreateString(b64));
    CU_ASSERT_TRUE(kfake_put(fake, "secrets", secret) > 0);
    cJSON_Delete(secret);
    certs_pair_free(&ca);
    certs_pair_free(&leaf);
}

static void test_certificates_from_a_secret_are_served_and_followed(void)
{
    static const char *const services[] = { "streams-placer" };
    certmgr_config certs = { .secret = TLS_SECRET, .ca_configmap = CA_CONFIGMAP,
                             .services = services, .n_services = 1 };
    served_check check = { 0 };
    char out[256], before[128], cmd[700];
    replica r;

    cluster_up();
    start_replica_with(&r, "ra", false, &certs);
    /* created on first start: the CA in the ConfigMap verifies the pair */
    CU_ASSERT_TRUE_FATAL(save_key("secrets", TLS_SECRET, "ca.crt", true, "ca.crt"));
    CU_ASSERT_TRUE_FATAL(eventually(bundle_published, NULL)); /* by the leader's sync */
    CU_ASSERT_TRUE_FATAL(save_key("secrets", TLS_SECRET, "tls.crt", true, "tls.crt"));
    snprintf(cmd, sizeof(cmd), "openssl verify -CAfile '%s/bundle.crt' '%s/tls.crt' 2>&1", dir,
             dir);
    CU_ASSERT_EQUAL(run(cmd, out, sizeof(out)), 0);
    snprintf(cmd, sizeof(cmd), "openssl x509 -in '%s/tls.crt' -noout -text | grep -c "
             "'DNS:" SERVICE_HOST "'", dir);
    CU_ASSERT_EQUAL(run(cmd, out, sizeof(out)), 0);
    /* a real handshake, verified against the published CA, by the Service's name */
    snprintf(cmd, sizeof(cmd), "openssl s_client -connect 127.0.0.1:%u -CAfile '%s/bundle.crt'"
             " -verify_hostname " SERVICE_HOST " -verify_return_error </dev/null >/dev/null 2>&1",
             (unsigned)app_port(r.app), dir);
    CU_ASSERT_EQUAL(run(cmd, out, sizeof(out)), 0);
    check.r = &r;
    CU_ASSERT_TRUE(serves_secret_pair(&check));
    served_fingerprint(&r, before, sizeof(before));

    /* a pair changed in the Secret is served from the next handshake on */
    replace_serving_pair();
    CU_ASSERT_TRUE(eventually(serves_secret_pair, &check));
    served_fingerprint(&r, check.want, sizeof(check.want));
    CU_ASSERT_STRING_NOT_EQUAL(check.want, before);
    stop_replica(&r);
    cluster_down();
}

/* A Secret without a usable pair: the replica still starts (else none could
 * lead and repair it), and serves the repaired pair once the leader wrote it. */
static void test_unusable_secret_is_repaired_not_fatal(void)
{
    static const char *const services[] = { "streams-placer" };
    certmgr_config certs = { .secret = TLS_SECRET, .services = services, .n_services = 1 };
    served_check check = { 0 };
    cJSON *broken = parse("{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":"
                          "{\"name\":\"" TLS_SECRET "\",\"namespace\":\"default\"},"
                          "\"data\":{\"tls.crt\":\"bm90IGEgY2VydA==\"}}");
    replica r;

    cluster_up();
    CU_ASSERT_TRUE(kfake_put(fake, "secrets", broken) > 0);
    start_replica_with(&r, "ra", false, &certs);
    check.r = &r;
    CU_ASSERT_TRUE(eventually(serves_secret_pair, &check));
    stop_replica(&r);
    cJSON_Delete(broken);
    cluster_down();
}

static void test_tls_secret_needs_a_service(void)
{
    app_config cfg = { .address = "127.0.0.1", .cluster = true };
    sp_err err = { SP_OK, "" };
    app *a = NULL;

    cluster_up();
    cfg.svc.state_dir = dir;
    cfg.api.kubeconfig = kubeconfig;
    cfg.certs.secret = TLS_SECRET;
    CU_ASSERT_NOT_EQUAL(app_start(&cfg, &a, &err), SP_OK);
    CU_ASSERT_PTR_NULL(a);
    SP_ASSERT_CONTAINS(err.msg, "Service");
    CU_ASSERT_PTR_NULL(kfake_get(fake, "secrets", "default", TLS_SECRET));
    cluster_down();
}

static const sp_test tests[] = {
    SP_TEST(test_decisions_go_to_peplacements_before_the_answer),
    SP_TEST(test_pool_membership_goes_to_hostpool_status),
    SP_TEST(test_unplaceable_pe_gets_failed_placement_and_event),
    SP_TEST(test_deleted_pod_releases_and_restart_returns),
    SP_TEST(test_restart_rebuilds_from_the_api),
    SP_TEST(test_conflicts_and_faults_are_ridden_out),
    SP_TEST(test_released_placements_are_swept),
    SP_TEST(test_two_replicas_one_leader),
    SP_TEST(test_non_relocatable_pe_waits_for_its_node),
    SP_TEST(test_kill_9_loses_and_duplicates_nothing),
    SP_TEST(test_certificates_from_a_secret_are_served_and_followed),
    SP_TEST(test_unusable_secret_is_repaired_not_fatal),
    SP_TEST(test_tls_secret_needs_a_service),
    SP_TEST_END
};

int main(void)
{
    int rc;

    if (!getenv("SP_TEST_LOG"))
        sp_log_set_level(SP_LOG_OFF);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = sp_test_run("cluster", tests);
    curl_global_cleanup();
    return rc;
}
