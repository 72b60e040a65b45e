/*
 * The fake kube-apiserver itself, driven with libcurl over TLS as a client
 * would drive the real one: the files it writes, bearer authentication,
 * every verb and its refusals (AlreadyExists and Conflict 409s, 404, 415,
 * 422), the status subresource and generation rules, merge patches,
 * finalizers, label and field selectors, paged lists with consistent
 * snapshots, list resourceVersion semantics, watches (replay, live,
 * selector transitions, bookmarks, timeout, 410 Expired, dropped and
 * stopped streams), pods/binding, fault injection, delays and request
 * counts, and the test-side door (kfake_put/get/delete/count).
 */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "tests/kfake.h"
#include "tests/test_util.h"
#include "util/sp_buf.h"

static char dir[64];
static char ca_path[128];
static char token[80];
static kfake *fake;

/* ------------------------------------------------------------------------ */
/* The fake's lifetime                                                        */
/* ------------------------------------------------------------------------ */

static void read_text(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    size_t n = 0;

    buf[0] = '\0';
    if (!f)
        return;
    n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static void up(void)
{
    char path[128];

    snprintf(dir, sizeof(dir), "/tmp/sp-kfake-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    fake = kfake_start(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(fake);
    snprintf(ca_path, sizeof(ca_path), "%s/ca.crt", dir);
    snprintf(path, sizeof(path), "%s/token", dir);
    read_text(path, token, sizeof(token));
    token[strcspn(token, "\n")] = '\0';
}

static void down(void)
{
    char cmd[128];

    kfake_stop(fake);
    fake = NULL;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

/* ------------------------------------------------------------------------ */
/* HTTP                                                                       */
/* ------------------------------------------------------------------------ */

typedef struct resp {
    long status;
    char *body;
    cJSON *json;
    char retry_after[16];
} resp;

static void resp_free(resp *r)
{
    sp_free(r->body);
    cJSON_Delete(r->json);
    memset(r, 0, sizeof(*r));
}

static size_t collect(char *data, size_t size, size_t n, void *userdata)
{
    return sp_buf_append(userdata, data, size * n) ? 0 : size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *userdata)
{
    resp *r = userdata;
    size_t len = size * n;

    if (len > 13 && strncasecmp(data, "Retry-After: ", 13) == 0)
        snprintf(r->retry_after, sizeof(r->retry_after), "%.*s", (int)strcspn(data + 13, "\r\n"),
                 data + 13);
    return len;
}

static CURL *handle(const char *path, const char *auth, struct curl_slist **headers)
{
    CURL *h = curl_easy_init();
    char url[1024], line[256];

    snprintf(url, sizeof(url), "https://127.0.0.1:%u%s", (unsigned)kfake_port(fake), path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CAINFO, ca_path);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 20000L);
    if (auth) {
        snprintf(line, sizeof(line), "Authorization: %s", auth);
        *headers = curl_slist_append(*headers, line);
    }
    return h;
}

/* method path with auth (NULL: none) and body (NULL: none) of ctype;
 * returns the status, 0 on transport failure. */
static long call_as(const char *auth, const char *method, const char *path, const char *ctype,
                    const char *body, resp *out)
{
    struct curl_slist *headers = NULL;
    CURL *h = handle(path, auth, &headers);
    char line[128];
    sp_buf b;

    memset(out, 0, sizeof(*out));
    sp_buf_init(&b, 64u << 20);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    if (ctype) {
        snprintf(line, sizeof(line), "Content-Type: %s", ctype);
        headers = curl_slist_append(headers, line);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, out);
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    out->body = sp_buf_take(&b);
    out->json = out->body ? cJSON_Parse(out->body) : NULL;
    sp_buf_free(&b);
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    return out->status;
}

static long call(const char *method, const char *path, const char *ctype, const char *body,
                 resp *out)
{
    char auth[128];

    snprintf(auth, sizeof(auth), "Bearer %s", token);
    return call_as(auth, method, path, ctype, body, out);
}

#define JSON "application/json"
#define MERGE "application/merge-patch+json"
#define SMP "application/strategic-merge-patch+json"

static long get(const char *path, resp *out)
{
    return call("GET", path, NULL, NULL, out);
}

static long post(const char *path, const char *body, resp *out)
{
    return call("POST", path, JSON, body, out);
}

static long put(const char *path, const char *body, resp *out)
{
    return call("PUT", path, JSON, body, out);
}

/* A string at a dotted path of j ("metadata.name"), or NULL. */
static const char *str_at(const cJSON *j, const char *path)
{
    char key[64];

    while (j && *path) {
        size_t n = strcspn(path, ".");
        snprintf(key, sizeof(key), "%.*s", (int)n, path);
        j = cJSON_GetObjectItemCaseSensitive(j, key);
        path += n + (path[n] == '.');
    }
    return cJSON_IsString(j) ? j->valuestring : NULL;
}

static double num_at(const cJSON *j, const char *path)
{
    char key[64];

    while (j && *path) {
        size_t n = strcspn(path, ".");
        snprintf(key, sizeof(key), "%.*s", (int)n, path);
        j = cJSON_GetObjectItemCaseSensitive(j, key);
        path += n + (path[n] == '.');
    }
    return cJSON_IsNumber(j) ? j->valuedouble : -1;
}

static unsigned long long rv_of(const cJSON *j)
{
    const char *rv = str_at(j, "metadata.resourceVersion");

    return rv ? strtoull(rv, NULL, 10) : 0;
}

/* Assert r is a Failure Status with code and reason. */
static void assert_status(const resp *r, long code, const char *reason)
{
    CU_ASSERT_EQUAL(r->status, code);
    SP_ASSERT_STR(str_at(r->json, "kind"), "Status");
    SP_ASSERT_STR(str_at(r->json, "apiVersion"), "v1");
    SP_ASSERT_STR(str_at(r->json, "status"), "Failure");
    SP_ASSERT_STR(str_at(r->json, "reason"), reason);
    CU_ASSERT_EQUAL(num_at(r->json, "code"), (double)code);
    CU_ASSERT_PTR_NOT_NULL(str_at(r->json, "message"));
}

#define PODS "/api/v1/namespaces/streams/pods"
#define POOLS "/apis/placement.streams.io/v1alpha1/namespaces/streams/hostpools"

/* A pod body: name, labels as JSON text (NULL: none), node ("": none). */
static char *pod_json(const char *name, const char *labels, const char *node)
{
    char *text = sp_malloc(1024);

    snprintf(text, 1024,
             "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\"%s%s},"
             "\"spec\":{\"containers\":[{\"name\":\"pe\",\"image\":\"streams/pe:7.1\"}]%s%s%s},"
             "\"status\":{\"phase\":\"Running\"}}",
             name, labels ? ",\"labels\":" : "", labels ? labels : "",
             *node ? ",\"nodeName\":\"" : "", node, *node ? "\"" : "");
    return text;
}

/* Create a pod in namespace streams; returns its resourceVersion. */
static unsigned long long make_pod(const char *name, const char *labels, const char *node)
{
    char *body = pod_json(name, labels, node);
    unsigned long long rv;
    resp r;

    CU_ASSERT_EQUAL(post(PODS, body, &r), 201);
    rv = rv_of(r.json);
    resp_free(&r);
    sp_free(body);
    return rv;
}

static unsigned long long make_pool(const char *name, int size)
{
    char body[512];
    unsigned long long rv;
    resp r;

    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"placement.streams.io/v1alpha1\",\"kind\":\"HostPool\","
             "\"metadata\":{\"name\":\"%s\"},\"spec\":{\"tags\":[\"ssd\"],\"size\":%d},"
             "\"status\":{\"hosts\":[\"x\"]}}", name, size);
    CU_ASSERT_EQUAL(post(POOLS, body, &r), 201);
    rv = rv_of(r.json);
    resp_free(&r);
    return rv;
}

/* ------------------------------------------------------------------------ */
/* Watches, read in a thread of their own                                     */
/* ------------------------------------------------------------------------ */

typedef struct watch {
    pthread_t thread;
    char path[512];
    pthread_mutex_t mu;
    sp_buf buf;
    bool done;
    long status;
    CURLcode rc;
    struct timespec started, ended;
} watch;

static size_t watch_collect(char *data, size_t size, size_t n, void *userdata)
{
    watch *w = userdata;
    sp_rc rc;

    pthread_mutex_lock(&w->mu);
    rc = sp_buf_append(&w->buf, data, size * n);
    pthread_mutex_unlock(&w->mu);
    return rc ? 0 : size * n;
}

static void *watch_main(void *arg)
{
    watch *w = arg;
    struct curl_slist *headers = NULL;
    char auth[128];
    CURL *h;

    snprintf(auth, sizeof(auth), "Bearer %s", token);
    h = handle(w->path, auth, &headers);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, watch_collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, w);
    w->rc = curl_easy_perform(h);
    clock_gettime(CLOCK_MONOTONIC, &w->ended);
    pthread_mutex_lock(&w->mu);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &w->status);
    w->done = true;
    pthread_mutex_unlock(&w->mu);
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    return NULL;
}

static void watch_open(watch *w, const char *path)
{
    memset(w, 0, sizeof(*w));
    snprintf(w->path, sizeof(w->path), "%s", path);
    pthread_mutex_init(&w->mu, NULL);
    sp_buf_init(&w->buf, 64u << 20);
    clock_gettime(CLOCK_MONOTONIC, &w->started);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&w->thread, NULL, watch_main, w), 0);
}

static int lines_in(watch *w)
{
    int n = 0;

    pthread_mutex_lock(&w->mu);
    for (size_t i = 0; i < w->buf.len; i++)
        n += w->buf.data[i] == '\n';
    pthread_mutex_unlock(&w->mu);
    return n;
}

static bool is_done(watch *w)
{
    bool done;

    pthread_mutex_lock(&w->mu);
    done = w->done;
    pthread_mutex_unlock(&w->mu);
    return done;
}

static void sleep_ms(int ms)
{
    struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&t, NULL);
}

/* Wait (up to timeout_ms) for n lines; true when they came. */
static bool wait_lines(watch *w, int n, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 10) {
        if (lines_in(w) >= n)
            return true;
        sleep_ms(10);
    }
    return lines_in(w) >= n;
}

static bool wait_done(watch *w, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms && !is_done(w); waited += 10)
        sleep_ms(10);
    return is_done(w);
}

/* Event i (0-based) of the stream, parsed (caller frees). */
static cJSON *event_at(watch *w, int i)
{
    cJSON *ev = NULL;
    const char *p, *end;

    pthread_mutex_lock(&w->mu);
    p = w->buf.data ? w->buf.data : "";
    for (int k = 0; k < i && p; k++) {
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    if (p && (end = strchr(p, '\n')))
        ev = cJSON_ParseWithLength(p, (size_t)(end - p));
    pthread_mutex_unlock(&w->mu);
    return ev;
}

/* Assert event i has type and (when name) the object's name. */
static void assert_event(watch *w, int i, const char *type, const char *name)
{
    cJSON *ev = event_at(w, i);

    CU_ASSERT_PTR_NOT_NULL(ev);
    SP_ASSERT_STR(str_at(ev, "type"), type);
    if (name)
        SP_ASSERT_STR(str_at(ev, "object.metadata.name"), name);
    cJSON_Delete(ev);
}

static double seconds(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/* End the stream (drop when it still runs) and free. */
static void watch_close(watch *w)
{
    if (!wait_done(w, 50))
        kfake_drop_watches(fake);
    pthread_join(w->thread, NULL);
    sp_buf_free(&w->buf);
    pthread_mutex_destroy(&w->mu);
}

/* ------------------------------------------------------------------------ */
/* Start, files, authentication                                               */
/* ------------------------------------------------------------------------ */

static void test_files(void)
{
    char path[128], text[4096], want[256];
    struct stat st;
    resp r;

    up();
    CU_ASSERT_EQUAL(strlen(token), 64);
    snprintf(path, sizeof(path), "%s/token", dir);
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 077, 0);
    snprintf(path, sizeof(path), "%s/kubeconfig", dir);
    read_text(path, text, sizeof(text));
    SP_ASSERT_CONTAINS(text, "kind: Config");
    snprintf(want, sizeof(want), "server: https://127.0.0.1:%u\n", (unsigned)kfake_port(fake));
    SP_ASSERT_CONTAINS(text, want);
    snprintf(want, sizeof(want), "certificate-authority: \"%s/ca.crt\"", dir);
    SP_ASSERT_CONTAINS(text, want);
    snprintf(want, sizeof(want), "token: %s\n", token);
    SP_ASSERT_CONTAINS(text, want);
    SP_ASSERT_CONTAINS(text, "current-context: kfake");
    /* The CA verifies the server (curl checks the name 127.0.0.1). */
    CU_ASSERT_EQUAL(get("/api/v1/nodes", &r), 200);
    resp_free(&r);
    down();
}

static void test_auth(void)
{
    resp r;

    up();
    CU_ASSERT_EQUAL(call_as(NULL, "GET", "/api/v1/nodes", NULL, NULL, &r), 401);
    assert_status(&r, 401, "Unauthorized");
    SP_ASSERT_STR(str_at(r.json, "message"), "Unauthorized");
    resp_free(&r);
    CU_ASSERT_EQUAL(call_as("Bearer nope", "GET", "/api/v1/nodes", NULL, NULL, &r), 401);
    resp_free(&r);
    CU_ASSERT_EQUAL(call_as(token, "GET", "/api/v1/nodes", NULL, NULL, &r), 401);
    resp_free(&r);
    CU_ASSERT_EQUAL(call("GET", "/api/v1/nodes", NULL, NULL, &r), 200);
    resp_free(&r);
    down();
}

/* ------------------------------------------------------------------------ */
/* Create, get, update                                                        */
/* ------------------------------------------------------------------------ */

/* The helpers the cluster tests share: an object put from JSON text, a
 * PEPlacement found by job and PE, a status string read. */
static void test_test_helpers(void)
{
    cJSON *p;

    up();
    CU_ASSERT_EQUAL(kfake_put_json(fake, NULL, "{not json"), 0);
    CU_ASSERT(kfake_put_json(fake, NULL,
                             "{\"apiVersion\":\"placement.streams.io/v1alpha1\","
                             "\"kind\":\"PEPlacement\",\"metadata\":{\"name\":\"job1-0\","
                             "\"namespace\":\"streams\"},\"spec\":{\"job\":\"job1\",\"pe\":\"0\"},"
                             "\"status\":{\"phase\":\"Bound\",\"launches\":1}}") > 0);
    p = kfake_get_placement(fake, "streams", "job1", "0");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    SP_ASSERT_STR(kfake_status_str(p, "phase"), "Bound");
    SP_ASSERT_STR(kfake_status_str(p, "launches"), ""); /* not a string */
    SP_ASSERT_STR(kfake_status_str(p, "node"), "");
    cJSON_Delete(p);
    CU_ASSERT_PTR_NULL(kfake_get_placement(fake, "streams", "job1", "1"));
    down();
}

static void test_create_get(void)
{
    char *body = pod_json("job1-pe0", "{\"streams.io/job\":\"job1\"}", "");
    unsigned long long rv;
    resp r, g;

    up();
    CU_ASSERT_EQUAL(post(PODS, body, &r), 201);
    SP_ASSERT_STR(str_at(r.json, "kind"), "Pod");
    SP_ASSERT_STR(str_at(r.json, "apiVersion"), "v1");
    SP_ASSERT_STR(str_at(r.json, "metadata.namespace"), "streams");
    CU_ASSERT_EQUAL(strlen(str_at(r.json, "metadata.uid")), 36);
    CU_ASSERT_EQUAL(strlen(str_at(r.json, "metadata.creationTimestamp")), 20);
    CU_ASSERT_EQUAL(num_at(r.json, "metadata.generation"), 1);
    /* create resets a pod's status to Pending */
    SP_ASSERT_STR(str_at(r.json, "status.phase"), "Pending");
    rv = rv_of(r.json);
    CU_ASSERT(rv > 0);
    CU_ASSERT_EQUAL(get(PODS "/job1-pe0", &g), 200);
    CU_ASSERT_TRUE(cJSON_Compare(r.json, g.json, true));
    resp_free(&g);
    resp_free(&r);
    CU_ASSERT_EQUAL(get(PODS "/nope", &r), 404);
    assert_status(&r, 404, "NotFound");
    SP_ASSERT_STR(str_at(r.json, "message"), "pods \"nope\" not found");
    SP_ASSERT_STR(str_at(r.json, "details.name"), "nope");
    SP_ASSERT_STR(str_at(r.json, "details.kind"), "pods");
    resp_free(&r);
    CU_ASSERT_EQUAL(get(POOLS "/nope", &r), 404);
    SP_ASSERT_STR(str_at(r.json, "message"),
                  "hostpools.placement.streams.io \"nope\" not found");
    SP_ASSERT_STR(str_at(r.json, "details.group"), "placement.streams.io");
    resp_free(&r);
    /* the same name elsewhere is another object */
    CU_ASSERT_EQUAL(post("/api/v1/namespaces/other/pods", body, &r), 201);
    CU_ASSERT(rv_of(r.json) > rv);
    resp_free(&r);
    CU_ASSERT_EQUAL(kfake_count(fake, "pods"), 2);
    sp_free(body);
    down();
}

static void test_create_refusals(void)
{
    char *body = pod_json("a", NULL, "");
    resp r;

    up();
    CU_ASSERT_EQUAL(post(PODS, body, &r), 201);
    resp_free(&r);
    CU_ASSERT_EQUAL(post(PODS, body, &r), 409);
    assert_status(&r, 409, "AlreadyExists");
    SP_ASSERT_STR(str_at(r.json, "message"), "pods \"a\" already exists");
    resp_free(&r);
    CU_ASSERT_EQUAL(post(PODS, "{\"metadata\":{\"name\":\"b\",\"namespace\":\"x\"}}", &r), 400);
    assert_status(&r, 400, "BadRequest");
    resp_free(&r);
    CU_ASSERT_EQUAL(post(PODS, "{\"metadata\":{}}", &r), 422);
    assert_status(&r, 422, "Invalid");
    resp_free(&r);
    CU_ASSERT_EQUAL(post(PODS, "{\"metadata\":{\"name\":\"Bad_Name\"}}", &r), 422);
    resp_free(&r);
    CU_ASSERT_EQUAL(post(PODS, "{\"metadata\":{\"name\":\"c\",\"resourceVersion\":\"5\"}}", &r),
                    500);
    assert_status(&r, 500, "InternalError");
    resp_free(&r);
    CU_ASSERT_EQUAL(post(PODS, "{\"kind\":\"Node\",\"metadata\":{\"name\":\"d\"}}", &r), 400);
    resp_free(&r);
    CU_ASSERT_EQUAL(post(PODS, "{\"metadata\":", &r), 400);
    assert_status(&r, 400, "BadRequest");
    resp_free(&r);
    CU_ASSERT_EQUAL(call("POST", PODS, "text/plain", body, &r), 415);
    assert_status(&r, 415, "UnsupportedMediaType");
    resp_free(&r);
    /* no create on the cluster-wide path of a namespaced resource */
    CU_ASSERT_EQUAL(post("/api/v1/pods", body, &r), 405);
    assert_status(&r, 405, "MethodNotAllowed");
    resp_free(&r);
    CU_ASSERT_EQUAL(post(PODS, "{\"metadata\":{\"generateName\":\"job1-\"}}", &r), 201);
    CU_ASSERT_EQUAL(strncmp(str_at(r.json, "metadata.name"), "job1-", 5), 0);
    CU_ASSERT_EQUAL(strlen(str_at(r.json, "metadata.name")), 10);
    resp_free(&r);
    CU_ASSERT_EQUAL(kfake_count(fake, "pods"), 2);
    sp_free(body);
    down();
}

/* PUT body: the object at path with f applied to its JSON. */
static char *edited(const char *path, void (*edit)(cJSON *))
{
    cJSON *obj;
    char *text;
    resp r;

    CU_ASSERT_EQUAL(get(path, &r), 200);
    obj = r.json;
    r.json = NULL;
    resp_free(&r);
    edit(obj);
    text = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    return text;
}

static void add_label(cJSON *obj)
{
    cJSON *meta = cJSON_GetObjectItem(obj, "metadata");
    cJSON *labels = cJSON_AddObjectToObject(meta, "labels");

    cJSON_AddStringToObject(labels, "x", "y");
}

static void noop(cJSON *obj)
{
    (void)obj;
}

static void test_update(void)
{
    char *v1, *stale;
    unsigned long long rv;
    resp r;

    up();
    rv = make_pod("a", NULL, "");
    stale = edited(PODS "/a", add_label);
    v1 = edited(PODS "/a", add_label);
    CU_ASSERT_EQUAL(put(PODS "/a", v1, &r), 200);
    CU_ASSERT(rv_of(r.json) > rv);
    SP_ASSERT_STR(str_at(r.json, "metadata.labels.x"), "y");
    rv = rv_of(r.json);
    resp_free(&r);
    /* the same write again is a conflict: its resourceVersion is stale */
    CU_ASSERT_EQUAL(put(PODS "/a", stale, &r), 409);
    assert_status(&r, 409, "Conflict");
    SP_ASSERT_CONTAINS(str_at(r.json, "message"), "the object has been modified");
    resp_free(&r);
    sp_free(v1);
    /* a no-op update writes nothing */
    v1 = edited(PODS "/a", noop);
    CU_ASSERT_EQUAL(put(PODS "/a", v1, &r), 200);
    CU_ASSERT_EQUAL(rv_of(r.json), rv);
    resp_free(&r);
    /* name and namespace must agree with the path */
    CU_ASSERT_EQUAL(put(PODS "/b", v1, &r), 400);
    resp_free(&r);
    CU_ASSERT_EQUAL(put("/api/v1/namespaces/x/pods/a", v1, &r), 400);
    resp_free(&r);
    /* pods take an unconditional update (no resourceVersion) */
    CU_ASSERT_EQUAL(put(PODS "/a", "{\"metadata\":{\"name\":\"a\"},\"spec\":{}}", &r), 200);
    CU_ASSERT(rv_of(r.json) > rv);
    resp_free(&r);
    CU_ASSERT_EQUAL(put(PODS "/zz", "{\"metadata\":{\"name\":\"zz\"}}", &r), 404);
    resp_free(&r);
    /* a custom resource needs metadata.resourceVersion on PUT */
    make_pool("p", 2);
    CU_ASSERT_EQUAL(put(POOLS "/p", "{\"metadata\":{\"name\":\"p\"},\"spec\":{}}", &r), 422);
    assert_status(&r, 422, "Invalid");
    resp_free(&r);
    sp_free(v1);
    sp_free(stale);
    down();
}

/* ------------------------------------------------------------------------ */
/* Status subresource and generation                                          */
/* ------------------------------------------------------------------------ */

static void set_item(cJSON *obj, const char *key, cJSON *item)
{
    cJSON_DeleteItemFromObject(obj, key);
    cJSON_AddItemToObject(obj, key, item);
}

static void change_spec_and_status(cJSON *obj)
{
    set_item(cJSON_GetObjectItem(obj, "spec"), "size", cJSON_CreateNumber(5));
    set_item(obj, "status", cJSON_Parse("{\"hosts\":[\"n1\",\"n2\"]}"));
}

static void test_status_subresource(void)
{
    char *body;
    resp r, g;

    up();
    make_pool("p", 2);
    CU_ASSERT_EQUAL(get(POOLS "/p", &g), 200);
    /* a CRD with a status subresource loses status on create */
    CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(g.json, "status"));
    CU_ASSERT_EQUAL(num_at(g.json, "metadata.generation"), 1);
    resp_free(&g);
    /* the main resource: spec changes, status is kept */
    body = edited(POOLS "/p", change_spec_and_status);
    CU_ASSERT_EQUAL(put(POOLS "/p", body, &r), 200);
    CU_ASSERT_EQUAL(num_at(r.json, "spec.size"), 5);
    CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(r.json, "status"));
    CU_ASSERT_EQUAL(num_at(r.json, "metadata.generation"), 2);
    resp_free(&r);
    sp_free(body);
    /* /status: status changes, spec is kept, generation stays */
    body = edited(POOLS "/p", change_spec_and_status);
    CU_ASSERT_EQUAL(put(POOLS "/p/status", body, &r), 200);
    SP_ASSERT_CONTAINS(r.body, "\"hosts\":[\"n1\",\"n2\"]");
    CU_ASSERT_EQUAL(num_at(r.json, "metadata.generation"), 2);
    resp_free(&r);
    sp_free(body);
    body = edited(POOLS "/p", change_spec_and_status);
    cJSON *obj = cJSON_Parse(body);
    set_item(cJSON_GetObjectItem(obj, "spec"), "size", cJSON_CreateNumber(9));
    set_item(obj, "status", cJSON_Parse("{\"hosts\":[\"n3\"]}"));
    sp_free(body);
    body = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    CU_ASSERT_EQUAL(put(POOLS "/p/status", body, &r), 200);
    CU_ASSERT_EQUAL(num_at(r.json, "spec.size"), 5);
    SP_ASSERT_CONTAINS(r.body, "\"hosts\":[\"n3\"]");
    resp_free(&r);
    sp_free(body);
    /* labels are metadata: no generation bump */
    body = edited(POOLS "/p", add_label);
    CU_ASSERT_EQUAL(put(POOLS "/p", body, &r), 200);
    CU_ASSERT_EQUAL(num_at(r.json, "metadata.generation"), 2);
    SP_ASSERT_CONTAINS(r.body, "\"hosts\":[\"n3\"]");
    resp_free(&r);
    sp_free(body);
    /* pods: the main PUT keeps status too */
    make_pod("a", NULL, "");
    body = pod_json("a", NULL, "");
    CU_ASSERT_EQUAL(put(PODS "/a", body, &r), 200);
    SP_ASSERT_STR(str_at(r.json, "status.phase"), "Pending");
    resp_free(&r);
    CU_ASSERT_EQUAL(put(PODS "/a/status", body, &r), 200);
    SP_ASSERT_STR(str_at(r.json, "status.phase"), "Running");
    resp_free(&r);
    sp_free(body);
    /* no status subresource here */
    CU_ASSERT_EQUAL(get("/api/v1/namespaces/streams/configmaps/x/status", &r), 404);
    resp_free(&r);
    down();
}

/* ------------------------------------------------------------------------ */
/* Patch                                                                      */
/* ------------------------------------------------------------------------ */

static void test_patch(void)
{
    unsigned long long rv;
    resp r;

    up();
    make_pod("a", "{\"app\":\"x\",\"gone\":\"soon\"}", "");
    CU_ASSERT_EQUAL(call("PATCH", PODS "/a", MERGE,
                         "{\"metadata\":{\"labels\":{\"gone\":null,\"new\":\"1\"}}}", &r), 200);
    SP_ASSERT_STR(str_at(r.json, "metadata.labels.app"), "x");
    SP_ASSERT_STR(str_at(r.json, "metadata.labels.new"), "1");
    CU_ASSERT_PTR_NULL(str_at(r.json, "metadata.labels.gone"));
    CU_ASSERT_EQUAL(num_at(r.json, "metadata.generation"), 1);
    rv = rv_of(r.json);
    resp_free(&r);
    /* strategic merge on a built-in kind; status changes are dropped */
    CU_ASSERT_EQUAL(call("PATCH", PODS "/a", SMP,
                         "{\"spec\":{\"priority\":5},\"status\":{\"phase\":\"Failed\"}}", &r), 200);
    CU_ASSERT_EQUAL(num_at(r.json, "spec.priority"), 5);
    SP_ASSERT_STR(str_at(r.json, "status.phase"), "Pending");
    CU_ASSERT_EQUAL(num_at(r.json, "metadata.generation"), 2);
    resp_free(&r);
    /* /status takes only status */
    CU_ASSERT_EQUAL(call("PATCH", PODS "/a/status", MERGE,
                         "{\"spec\":{\"priority\":7},\"status\":{\"phase\":\"Running\"}}", &r), 200);
    CU_ASSERT_EQUAL(num_at(r.json, "spec.priority"), 5);
    SP_ASSERT_STR(str_at(r.json, "status.phase"), "Running");
    resp_free(&r);
    /* a resourceVersion in the patch is a precondition */
    {
        char patch[128];
        snprintf(patch, sizeof(patch), "{\"metadata\":{\"resourceVersion\":\"%llu\"}}", rv);
        CU_ASSERT_EQUAL(call("PATCH", PODS "/a", MERGE, patch, &r), 409);
        assert_status(&r, 409, "Conflict");
        resp_free(&r);
    }
    CU_ASSERT_EQUAL(call("PATCH", PODS "/zz", MERGE, "{}", &r), 404);
    resp_free(&r);
    CU_ASSERT_EQUAL(call("PATCH", PODS "/a", "application/json-patch+json", "[]", &r), 415);
    resp_free(&r);
    /* custom resources take no strategic merge patch (as the real server) */
    make_pool("p", 2);
    CU_ASSERT_EQUAL(call("PATCH", POOLS "/p", SMP, "{\"spec\":{\"size\":3}}", &r), 415);
    assert_status(&r, 415, "UnsupportedMediaType");
    resp_free(&r);
    CU_ASSERT_EQUAL(call("PATCH", POOLS "/p/status", MERGE,
                         "{\"status\":{\"hosts\":[\"n1\"],\"observedGeneration\":1}}", &r), 200);
    SP_ASSERT_CONTAINS(r.body, "\"hosts\":[\"n1\"]");
    resp_free(&r);
    /* merge patch replaces lists and nests objects */
    CU_ASSERT_EQUAL(call("PATCH", POOLS "/p", MERGE,
                         "{\"spec\":{\"tags\":[\"a\",\"b\"],\"x\":{\"y\":{\"z\":1,\"n\":null}}}}",
                         &r), 200);
    SP_ASSERT_CONTAINS(r.body, "\"tags\":[\"a\",\"b\"]");
    SP_ASSERT_CONTAINS(r.body, "\"x\":{\"y\":{\"z\":1}}");
    CU_ASSERT_EQUAL(num_at(r.json, "metadata.generation"), 2);
    resp_free(&r);
    down();
}

/* ------------------------------------------------------------------------ */
/* Delete and finalizers                                                      */
/* ------------------------------------------------------------------------ */

static void test_delete(void)
{
    unsigned long long rv;
    char body[256];
    resp r;

    up();
    rv = make_pod("a", NULL, "");
    CU_ASSERT_EQUAL(call("DELETE", PODS "/a", NULL, NULL, &r), 200);
    SP_ASSERT_STR(str_at(r.json, "metadata.name"), "a");
    CU_ASSERT(rv_of(r.json) > rv);
    resp_free(&r);
    CU_ASSERT_EQUAL(call("DELETE", PODS "/a", NULL, NULL, &r), 404);
    assert_status(&r, 404, "NotFound");
    resp_free(&r);
    /* preconditions in DeleteOptions */
    make_pod("b", NULL, "");
    CU_ASSERT_EQUAL(call("DELETE", PODS "/b", JSON,
                         "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\","
                         "\"preconditions\":{\"uid\":\"not-it\"}}", &r), 409);
    assert_status(&r, 409, "Conflict");
    resp_free(&r);
    CU_ASSERT_EQUAL(kfake_count(fake, "pods"), 1);
    /* finalizers: delete marks, the last finalizer's removal deletes */
    snprintf(body, sizeof(body), "{\"metadata\":{\"name\":\"f\",\"finalizers\":[\"x/y\"]},"
                                 "\"spec\":{\"job\":\"j\"}}");
    CU_ASSERT_EQUAL(post("/apis/placement.streams.io/v1alpha1/namespaces/streams/peplacements",
                         body, &r), 201);
    resp_free(&r);
    CU_ASSERT_EQUAL(call("DELETE", "/apis/placement.streams.io/v1alpha1/namespaces/streams/"
                         "peplacements/f", NULL, NULL, &r), 200);
    CU_ASSERT_PTR_NOT_NULL(str_at(r.json, "metadata.deletionTimestamp"));
    CU_ASSERT_EQUAL(num_at(r.json, "metadata.generation"), 2);
    resp_free(&r);
    CU_ASSERT_EQUAL(kfake_count(fake, "peplacements"), 1);
    CU_ASSERT_EQUAL(call("PATCH", "/apis/placement.streams.io/v1alpha1/namespaces/streams/"
                         "peplacements/f", MERGE, "{\"metadata\":{\"finalizers\":null}}", &r), 200);
    SP_ASSERT_STR(str_at(r.json, "status"), "Success");
    resp_free(&r);
    CU_ASSERT_EQUAL(kfake_count(fake, "peplacements"), 0);
    /* everything but pods answers a removal with a Status naming it */
    make_pool("p", 1);
    CU_ASSERT_EQUAL(call("DELETE", POOLS "/p", NULL, NULL, &r), 200);
    SP_ASSERT_STR(str_at(r.json, "kind"), "Status");
    SP_ASSERT_STR(str_at(r.json, "status"), "Success");
    SP_ASSERT_STR(str_at(r.json, "details.name"), "p");
    SP_ASSERT_STR(str_at(r.json, "details.group"), "placement.streams.io");
    SP_ASSERT_STR(str_at(r.json, "details.kind"), "hostpools");
    CU_ASSERT_EQUAL(strlen(str_at(r.json, "details.uid")), 36);
    resp_free(&r);
    down();
}

/* ------------------------------------------------------------------------ */
/* Lists                                                                      */
/* ------------------------------------------------------------------------ */

/* The names of a list's items, joined with ','. */
static void names_of(const cJSON *list, char *buf, size_t len)
{
    const cJSON *it;
    size_t used = 0;

    buf[0] = '\0';
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(list, "items")) {
        int n = snprintf(buf + used, len - used, "%s%s", used ? "," : "",
                         str_at(it, "metadata.name"));
        if (n < 0 || (size_t)n >= len - used)
            return;
        used += (size_t)n;
    }
}

static void expect_names(const char *path, const char *want)
{
    char names[512];
    resp r;

    CU_ASSERT_EQUAL(get(path, &r), 200);
    names_of(r.json, names, sizeof(names));
    SP_ASSERT_STR(names, want);
    resp_free(&r);
}

static void expect_400(const char *path)
{
    resp r;

    CU_ASSERT_EQUAL(get(path, &r), 400);
    assert_status(&r, 400, "BadRequest");
    resp_free(&r);
}

static void test_list_selectors(void)
{
    char *body;
    resp r;

    up();
    make_pod("c", "{\"app\":\"x\",\"tier\":\"a\"}", "n1");
    make_pod("a", "{\"app\":\"y\"}", "");
    make_pod("b", "{\"app\":\"x\",\"tier\":\"b\"}", "");
    body = pod_json("a", "{\"app\":\"x\"}", "");
    CU_ASSERT_EQUAL(post("/api/v1/namespaces/alpha/pods", body, &r), 201);
    resp_free(&r);
    sp_free(body);
    CU_ASSERT_EQUAL(get("/api/v1/pods", &r), 200);
    SP_ASSERT_STR(str_at(r.json, "kind"), "PodList");
    SP_ASSERT_STR(str_at(r.json, "apiVersion"), "v1");
    CU_ASSERT_PTR_NOT_NULL(str_at(r.json, "metadata.resourceVersion"));
    /* built-in list items carry no kind (as the real server) */
    CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(r.json, "items"), 0), "kind"));
    resp_free(&r);
    expect_names("/api/v1/pods", "a,a,b,c");
    expect_names(PODS, "a,b,c");
    expect_names(PODS "?labelSelector=app%3Dx", "b,c");
    expect_names(PODS "?labelSelector=app%3D%3Dx", "b,c");
    expect_names(PODS "?labelSelector=app!%3Dx", "a");
    expect_names(PODS "?labelSelector=tier", "b,c");
    expect_names(PODS "?labelSelector=!tier", "a");
    expect_names(PODS "?labelSelector=app%3Dx,tier%3Db", "b");
    expect_names(PODS "?labelSelector=tier+in+(a,+b),app", "b,c");
    expect_names(PODS "?labelSelector=tier%20notin%20(a)", "a,b");
    expect_names(PODS "?labelSelector=app%3Dz", "");
    expect_names("/api/v1/pods?labelSelector=app%3Dx", "a,b,c");
    expect_400(PODS "?labelSelector=app%3D%3D%3Dx");
    expect_400(PODS "?labelSelector=a%20b");
    expect_400(PODS "?labelSelector=app%3Dx,");
    expect_400(PODS "?labelSelector=bad%20key%3Dx");
    /* field selectors */
    expect_names(PODS "?fieldSelector=spec.nodeName%3D", "a,b");
    expect_names(PODS "?fieldSelector=spec.nodeName%3Dn1", "c");
    expect_names(PODS "?fieldSelector=spec.nodeName!%3D", "c");
    expect_names("/api/v1/pods?fieldSelector=metadata.namespace%3Dalpha", "a");
    expect_names(PODS "?fieldSelector=metadata.name%3Db,status.phase%3DPending", "b");
    expect_400(PODS "?fieldSelector=spec.unknown%3Dx");
    expect_400(PODS "?fieldSelector=spec.nodeName");
    /* custom resources keep kind on items */
    make_pool("p", 1);
    CU_ASSERT_EQUAL(get(POOLS, &r), 200);
    SP_ASSERT_STR(str_at(r.json, "kind"), "HostPoolList");
    SP_ASSERT_STR(str_at(cJSON_GetArrayItem(cJSON_GetObjectItem(r.json, "items"), 0), "kind"),
                  "HostPool");
    resp_free(&r);
    down();
}

/* Page through path with limit; the names of every page joined with '|'. */
static void paged(const char *path, int limit, char *out, size_t len)
{
    char url[1024], names[512], *token_q = NULL;
    size_t used = 0;

    out[0] = '\0';
    for (int page = 0; page < 20; page++) {
        const char *cont;
        resp r;
        snprintf(url, sizeof(url), "%s%climit=%d%s%s", path, strchr(path, '?') ? '&' : '?',
                 limit, token_q ? "&continue=" : "", token_q ? token_q : "");
        curl_free(token_q);
        token_q = NULL;
        CU_ASSERT_EQUAL_FATAL(get(url, &r), 200);
        names_of(r.json, names, sizeof(names));
        used += (size_t)snprintf(out + used, len - used, "%s%s", page ? "|" : "", names);
        cont = str_at(r.json, "metadata.continue");
        if (cont)
            token_q = curl_easy_escape(NULL, cont, 0);
        resp_free(&r);
        if (!token_q)
            return;
    }
}

static void test_paging(void)
{
    char pages[512], url[1024], *esc;
    const char *names[] = { "p1", "p2", "p3", "p4", "p5" };
    resp r, r2;

    up();
    for (size_t i = 0; i < 5; i++)
        make_pod(names[i], i % 2 ? "{\"odd\":\"1\"}" : NULL, "");
    paged(PODS, 2, pages, sizeof(pages));
    SP_ASSERT_STR(pages, "p1,p2|p3,p4|p5");
    paged(PODS, 10, pages, sizeof(pages));
    SP_ASSERT_STR(pages, "p1,p2,p3,p4,p5");
    paged(PODS "?labelSelector=odd", 1, pages, sizeof(pages));
    SP_ASSERT_STR(pages, "p2|p4");
    /* the first page's snapshot holds: later writes do not show */
    CU_ASSERT_EQUAL(get(PODS "?limit=2", &r), 200);
    CU_ASSERT_EQUAL(num_at(r.json, "metadata.remainingItemCount"), 3);
    CU_ASSERT_EQUAL(call("DELETE", PODS "/p4", NULL, NULL, &r2), 200);
    resp_free(&r2);
    make_pod("p35", NULL, "");
    CU_ASSERT_EQUAL(call("PATCH", PODS "/p3", MERGE, "{\"metadata\":{\"labels\":{\"v\":\"2\"}}}",
                         &r2), 200);
    resp_free(&r2);
    esc = curl_easy_escape(NULL, str_at(r.json, "metadata.continue"), 0);
    snprintf(url, sizeof(url), PODS "?limit=10&continue=%s", esc);
    CU_ASSERT_EQUAL(get(url, &r2), 200);
    names_of(r2.json, pages, sizeof(pages));
    SP_ASSERT_STR(pages, "p3,p4,p5");
    SP_ASSERT_STR(str_at(r2.json, "metadata.resourceVersion"),
                  str_at(r.json, "metadata.resourceVersion"));
    CU_ASSERT_PTR_NULL(str_at(cJSON_GetArrayItem(cJSON_GetObjectItem(r2.json, "items"), 0),
                              "metadata.labels.v"));
    resp_free(&r2);
    /* a continue token older than the compaction is 410 */
    kfake_compact(fake);
    CU_ASSERT_EQUAL(get(url, &r2), 410);
    assert_status(&r2, 410, "Expired");
    resp_free(&r2);
    curl_free(esc);
    resp_free(&r);
    expect_400(PODS "?limit=1&continue=%21%21%21");
    expect_400(PODS "?limit=1&continue=eyJ4IjoxfQ%3D%3D");
    down();
}

static void test_list_resource_version(void)
{
    unsigned long long rv1, rv2;
    char url[256];
    resp r;

    up();
    rv1 = make_pod("a", NULL, "");
    rv2 = make_pod("b", NULL, "");
    CU_ASSERT(rv2 > rv1);
    expect_names(PODS "?resourceVersion=0", "a,b");
    snprintf(url, sizeof(url), PODS "?resourceVersion=%llu", rv1);
    expect_names(url, "a,b");                       /* not older than rv1 */
    snprintf(url, sizeof(url), PODS "?resourceVersion=%llu&resourceVersionMatch=Exact", rv1);
    expect_names(url, "a");                         /* exactly at rv1 */
    snprintf(url, sizeof(url), PODS "?resourceVersion=%llu", rv2 + 100);
    CU_ASSERT_EQUAL(get(url, &r), 504);
    assert_status(&r, 504, "Timeout");
    resp_free(&r);
    expect_400(PODS "?resourceVersion=abc");
    kfake_compact(fake);
    snprintf(url, sizeof(url), PODS "?resourceVersion=%llu", rv1);
    CU_ASSERT_EQUAL(get(url, &r), 410);
    assert_status(&r, 410, "Expired");
    resp_free(&r);
    snprintf(url, sizeof(url), PODS "?resourceVersion=%llu", rv2);
    expect_names(url, "a,b");
    down();
}

/* ------------------------------------------------------------------------ */
/* Watches                                                                    */
/* ------------------------------------------------------------------------ */

static void test_watch_replay_and_live(void)
{
    unsigned long long rv0;
    char path[256];
    watch w;
    resp r;

    up();
    rv0 = make_pod("a", NULL, "");
    make_pod("b", NULL, "");
    CU_ASSERT_EQUAL(call("PATCH", PODS "/a", MERGE, "{\"metadata\":{\"labels\":{\"k\":\"v\"}}}",
                         &r), 200);
    resp_free(&r);
    make_pool("other", 1); /* another collection: not in this stream */
    snprintf(path, sizeof(path), PODS "?watch=1&resourceVersion=%llu&timeoutSeconds=10", rv0);
    watch_open(&w, path);
    CU_ASSERT_TRUE(wait_lines(&w, 2, 5000));
    assert_event(&w, 0, "ADDED", "b");
    assert_event(&w, 1, "MODIFIED", "a");
    /* live */
    make_pod("c", NULL, "");
    CU_ASSERT_TRUE(wait_lines(&w, 3, 5000));
    assert_event(&w, 2, "ADDED", "c");
    CU_ASSERT_EQUAL(call("DELETE", PODS "/b", NULL, NULL, &r), 200);
    CU_ASSERT_TRUE(wait_lines(&w, 4, 5000));
    {
        cJSON *ev = event_at(&w, 3);
        SP_ASSERT_STR(str_at(ev, "type"), "DELETED");
        SP_ASSERT_STR(str_at(ev, "object.kind"), "Pod");
        SP_ASSERT_STR(str_at(ev, "object.metadata.resourceVersion"),
                      str_at(r.json, "metadata.resourceVersion"));
        cJSON_Delete(ev);
    }
    resp_free(&r);
    /* another namespace is not in a namespaced watch */
    CU_ASSERT_EQUAL(post("/api/v1/namespaces/x/pods", "{\"metadata\":{\"name\":\"z\"}}", &r), 201);
    resp_free(&r);
    sleep_ms(100);
    CU_ASSERT_EQUAL(lines_in(&w), 4);
    CU_ASSERT_FALSE(is_done(&w));
    watch_close(&w);
    CU_ASSERT_EQUAL(w.rc, CURLE_OK);
    CU_ASSERT_EQUAL(w.status, 200);
    down();
}

static void test_watch_state_and_selector(void)
{
    watch w;
    resp r;

    up();
    make_pod("a", "{\"app\":\"x\"}", "");
    make_pod("b", "{\"app\":\"y\"}", "");
    /* no resourceVersion: the current state as ADDED, then live */
    watch_open(&w, "/api/v1/pods?watch=true&labelSelector=app%3Dx&timeoutSeconds=10");
    CU_ASSERT_TRUE(wait_lines(&w, 1, 5000));
    assert_event(&w, 0, "ADDED", "a");
    /* b enters the selection: ADDED; a leaves it: DELETED */
    CU_ASSERT_EQUAL(call("PATCH", PODS "/b", MERGE, "{\"metadata\":{\"labels\":{\"app\":\"x\"}}}",
                         &r), 200);
    resp_free(&r);
    CU_ASSERT_TRUE(wait_lines(&w, 2, 5000));
    assert_event(&w, 1, "ADDED", "b");
    CU_ASSERT_EQUAL(call("PATCH", PODS "/a", MERGE, "{\"metadata\":{\"labels\":{\"app\":\"z\"}}}",
                         &r), 200);
    resp_free(&r);
    CU_ASSERT_TRUE(wait_lines(&w, 3, 5000));
    assert_event(&w, 2, "DELETED", "a");
    CU_ASSERT_EQUAL(call("PATCH", PODS "/a", MERGE, "{\"spec\":{\"priority\":1}}", &r), 200);
    resp_free(&r);
    CU_ASSERT_EQUAL(call("PATCH", PODS "/b", MERGE, "{\"spec\":{\"priority\":1}}", &r), 200);
    resp_free(&r);
    CU_ASSERT_TRUE(wait_lines(&w, 4, 5000));
    assert_event(&w, 3, "MODIFIED", "b");
    sleep_ms(100);
    CU_ASSERT_EQUAL(lines_in(&w), 4);
    watch_close(&w);
    /* a bad selector is a 400 before any stream */
    CU_ASSERT_EQUAL(get(PODS "?watch=1&labelSelector=%3D%3D", &r), 400);
    resp_free(&r);
    down();
}

static void test_watch_bookmarks_and_timeout(void)
{
    unsigned long long rv;
    cJSON *ev;
    char path[256];
    watch w;

    up();
    rv = make_pod("a", NULL, "");
    snprintf(path, sizeof(path),
             PODS "?watch=1&resourceVersion=%llu&allowWatchBookmarks=true&timeoutSeconds=2", rv);
    watch_open(&w, path);
    CU_ASSERT_TRUE(wait_done(&w, 6000));
    CU_ASSERT_EQUAL(w.rc, CURLE_OK);
    CU_ASSERT(seconds(&w.started, &w.ended) >= 1.9);
    CU_ASSERT(seconds(&w.started, &w.ended) < 8);
    CU_ASSERT(lines_in(&w) >= 2);
    ev = event_at(&w, 0);
    SP_ASSERT_STR(str_at(ev, "type"), "BOOKMARK");
    SP_ASSERT_STR(str_at(ev, "object.kind"), "Pod");
    SP_ASSERT_STR(str_at(ev, "object.apiVersion"), "v1");
    CU_ASSERT_EQUAL(rv_of(cJSON_GetObjectItem(ev, "object")), rv);
    CU_ASSERT_PTR_NULL(str_at(ev, "object.metadata.name"));
    cJSON_Delete(ev);
    watch_close(&w);
    /* without allowWatchBookmarks: nothing at all */
    snprintf(path, sizeof(path), PODS "?watch=1&resourceVersion=%llu&timeoutSeconds=1", rv);
    watch_open(&w, path);
    CU_ASSERT_TRUE(wait_done(&w, 5000));
    CU_ASSERT_EQUAL(lines_in(&w), 0);
    CU_ASSERT_EQUAL(w.rc, CURLE_OK);
    watch_close(&w);
    down();
}

static void test_watch_gone(void)
{
    unsigned long long rv1, rv2;
    cJSON *ev;
    char path[256];
    watch w;

    up();
    rv1 = make_pod("a", NULL, "");
    rv2 = make_pod("b", NULL, "");
    kfake_compact(fake);
    snprintf(path, sizeof(path), PODS "?watch=1&resourceVersion=%llu", rv1);
    watch_open(&w, path);
    CU_ASSERT_TRUE(wait_done(&w, 5000));
    CU_ASSERT_EQUAL(w.status, 200);
    CU_ASSERT_EQUAL(lines_in(&w), 1);
    ev = event_at(&w, 0);
    SP_ASSERT_STR(str_at(ev, "type"), "ERROR");
    SP_ASSERT_STR(str_at(ev, "object.kind"), "Status");
    SP_ASSERT_STR(str_at(ev, "object.reason"), "Expired");
    CU_ASSERT_EQUAL(num_at(ev, "object.code"), 410);
    SP_ASSERT_CONTAINS(str_at(ev, "object.message"), "too old resource version");
    cJSON_Delete(ev);
    watch_close(&w);
    /* from the compaction point on, a watch works */
    snprintf(path, sizeof(path), PODS "?watch=1&resourceVersion=%llu&timeoutSeconds=5", rv2);
    watch_open(&w, path);
    make_pod("c", NULL, "");
    CU_ASSERT_TRUE(wait_lines(&w, 1, 5000));
    assert_event(&w, 0, "ADDED", "c");
    watch_close(&w);
    down();
}

static void test_watch_drop_and_stop(void)
{
    watch a, b;

    up();
    watch_open(&a, PODS "?watch=1");
    watch_open(&b, "/api/v1/nodes?watch=1&allowWatchBookmarks=1");
    CU_ASSERT_TRUE(wait_lines(&b, 1, 5000)); /* a bookmark: b is open */
    sleep_ms(100);
    CU_ASSERT_FALSE(is_done(&a));
    kfake_drop_watches(fake);
    CU_ASSERT_TRUE(wait_done(&a, 3000));
    CU_ASSERT_TRUE(wait_done(&b, 3000));
    CU_ASSERT_EQUAL(a.rc, CURLE_OK);
    watch_close(&a);
    watch_close(&b);
    /* a stop ends open streams */
    watch_open(&a, PODS "?watch=1&allowWatchBookmarks=1");
    CU_ASSERT_TRUE(wait_lines(&a, 1, 5000));
    kfake_stop(fake);
    fake = NULL;
    CU_ASSERT_TRUE(wait_done(&a, 3000));
    pthread_join(a.thread, NULL);
    sp_buf_free(&a.buf);
    pthread_mutex_destroy(&a.mu);
    down();
}

/* A client that goes away mid-watch frees its server side. */
static size_t stop_early(char *data, size_t size, size_t n, void *userdata)
{
    (void)data;
    (void)userdata;
    (void)size;
    (void)n;
    return 0;
}

static void test_watch_client_leaves(void)
{
    struct curl_slist *headers = NULL;
    char auth[128];
    CURL *h;
    watch w;

    up();
    snprintf(auth, sizeof(auth), "Bearer %s", token);
    for (int i = 0; i < 3; i++) {
        h = handle(PODS "?watch=1&allowWatchBookmarks=1", auth, &headers);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, stop_early);
        CU_ASSERT_EQUAL(curl_easy_perform(h), CURLE_WRITE_ERROR);
        curl_easy_cleanup(h);
        curl_slist_free_all(headers);
        headers = NULL;
    }
    /* the server still serves */
    watch_open(&w, PODS "?watch=1&timeoutSeconds=5");
    make_pod("a", NULL, "");
    CU_ASSERT_TRUE(wait_lines(&w, 1, 5000));
    watch_close(&w);
    down();
}

/* ------------------------------------------------------------------------ */
/* Binding                                                                    */
/* ------------------------------------------------------------------------ */

#define BINDING(node) "{\"apiVersion\":\"v1\",\"kind\":\"Binding\",\"metadata\":{\"name\":\"a\"}," \
                      "\"target\":{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"name\":\"" node "\"}}"

static void test_binding(void)
{
    const cJSON *cond;
    resp r;

    up();
    make_pod("a", NULL, "");
    CU_ASSERT_EQUAL(post(PODS "/a/binding", BINDING("n1"), &r), 201);
    SP_ASSERT_STR(str_at(r.json, "kind"), "Status");
    SP_ASSERT_STR(str_at(r.json, "status"), "Success");
    resp_free(&r);
    CU_ASSERT_EQUAL(get(PODS "/a", &r), 200);
    SP_ASSERT_STR(str_at(r.json, "spec.nodeName"), "n1");
    CU_ASSERT_EQUAL(num_at(r.json, "metadata.generation"), 1);
    cond = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "status"),
                                                  "conditions"), 0);
    SP_ASSERT_STR(str_at(cond, "type"), "PodScheduled");
    SP_ASSERT_STR(str_at(cond, "status"), "True");
    resp_free(&r);
    CU_ASSERT_EQUAL(post(PODS "/a/binding", BINDING("n2"), &r), 409);
    assert_status(&r, 409, "Conflict");
    SP_ASSERT_CONTAINS(str_at(r.json, "message"), "already assigned to node \"n1\"");
    resp_free(&r);
    CU_ASSERT_EQUAL(post(PODS "/zz/binding", BINDING("n1"), &r), 404);
    resp_free(&r);
    make_pod("b", NULL, "");
    CU_ASSERT_EQUAL(post(PODS "/b/binding", "{\"target\":{}}", &r), 422);
    resp_free(&r);
    CU_ASSERT_EQUAL(get(PODS "/b/binding", &r), 405);
    resp_free(&r);
    CU_ASSERT_EQUAL(post(POOLS "/b/binding", BINDING("n1"), &r), 404);
    resp_free(&r);
    down();
}

/* ------------------------------------------------------------------------ */
/* Faults, delays, counts                                                     */
/* ------------------------------------------------------------------------ */

static void test_faults(void)
{
    resp r;

    up();
    kfake_fail(fake, "GET", "/api/v1/nodes", 429, 2, 2);
    for (int i = 0; i < 2; i++) {
        CU_ASSERT_EQUAL(get("/api/v1/nodes", &r), 429);
        assert_status(&r, 429, "TooManyRequests");
        SP_ASSERT_STR(r.retry_after, "2");
        CU_ASSERT_EQUAL(num_at(r.json, "details.retryAfterSeconds"), 2);
        resp_free(&r);
    }
    CU_ASSERT_EQUAL(get("/api/v1/nodes", &r), 200);
    SP_ASSERT_STR(r.retry_after, "");
    resp_free(&r);
    /* method and prefix must both match */
    kfake_fail(fake, "POST", NULL, 500, 0, 1);
    CU_ASSERT_EQUAL(get(PODS, &r), 200);
    resp_free(&r);
    CU_ASSERT_EQUAL(post(PODS, "{\"metadata\":{\"name\":\"a\"}}", &r), 500);
    assert_status(&r, 500, "InternalError");
    resp_free(&r);
    CU_ASSERT_EQUAL(kfake_count(fake, "pods"), 0);
    kfake_fail(fake, NULL, "/apis/", 503, 0, 1);
    CU_ASSERT_EQUAL(get(PODS, &r), 200);
    resp_free(&r);
    CU_ASSERT_EQUAL(get(POOLS, &r), 503);
    assert_status(&r, 503, "ServiceUnavailable");
    resp_free(&r);
    /* a watch can fail too; n <= 0 withdraws */
    kfake_fail(fake, "GET", PODS, 500, 0, 5);
    kfake_fail(fake, "GET", PODS, 0, 0, 0);
    CU_ASSERT_EQUAL(get(PODS, &r), 200);
    resp_free(&r);
    down();
}

static void test_delay_and_requests(void)
{
    struct timespec a, b;
    resp r;

    up();
    CU_ASSERT_EQUAL(kfake_requests(fake, NULL, NULL), 0);
    get(PODS, &r);
    resp_free(&r);
    get("/api/v1/nodes", &r);
    resp_free(&r);
    post(PODS, "{\"metadata\":{\"name\":\"a\"}}", &r);
    resp_free(&r);
    call_as(NULL, "GET", PODS, NULL, NULL, &r);
    resp_free(&r);
    CU_ASSERT_EQUAL(kfake_requests(fake, NULL, NULL), 4);
    CU_ASSERT_EQUAL(kfake_requests(fake, "GET", NULL), 3);
    CU_ASSERT_EQUAL(kfake_requests(fake, "GET", PODS), 2);
    CU_ASSERT_EQUAL(kfake_requests(fake, NULL, "/api/v1/namespaces/"), 3);
    CU_ASSERT_EQUAL(kfake_requests(fake, "POST", "/api/v1/nodes"), 0);
    kfake_delay(fake, 300);
    clock_gettime(CLOCK_MONOTONIC, &a);
    CU_ASSERT_EQUAL(get(PODS, &r), 200);
    clock_gettime(CLOCK_MONOTONIC, &b);
    resp_free(&r);
    CU_ASSERT(seconds(&a, &b) >= 0.29);
    kfake_delay(fake, 0);
    down();
}

/* ------------------------------------------------------------------------ */
/* Other collections and routes                                               */
/* ------------------------------------------------------------------------ */

static void test_other_collections(void)
{
    const char *lease = "/apis/coordination.k8s.io/v1/namespaces/streams/leases";
    const char *vwc = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations";
    char body[512];
    resp r;

    up();
    CU_ASSERT_EQUAL(post("/api/v1/namespaces/streams/events",
                         "{\"metadata\":{\"generateName\":\"job1-pe0.\"},\"reason\":\"FailedPlacement\","
                         "\"type\":\"Warning\",\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"job1-pe0\"}}",
                         &r), 201);
    SP_ASSERT_STR(str_at(r.json, "kind"), "Event");
    CU_ASSERT_EQUAL(num_at(r.json, "metadata.generation"), -1);
    resp_free(&r);
    CU_ASSERT_EQUAL(get("/api/v1/namespaces/streams/events?fieldSelector=involvedObject.name%3Djob1-pe0",
                        &r), 200);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "items")), 1);
    resp_free(&r);
    /* leader election: create, then update with the resourceVersion */
    CU_ASSERT_EQUAL(post(lease, "{\"metadata\":{\"name\":\"streams-placer\"},"
                                "\"spec\":{\"holderIdentity\":\"a\"}}", &r), 201);
    snprintf(body, sizeof(body), "{\"metadata\":{\"name\":\"streams-placer\","
             "\"resourceVersion\":\"%s\"},\"spec\":{\"holderIdentity\":\"b\"}}",
             str_at(r.json, "metadata.resourceVersion"));
    resp_free(&r);
    CU_ASSERT_EQUAL(put("/apis/coordination.k8s.io/v1/namespaces/streams/leases/streams-placer",
                        body, &r), 200);
    SP_ASSERT_STR(str_at(r.json, "kind"), "Lease");
    resp_free(&r);
    CU_ASSERT_EQUAL(put("/apis/coordination.k8s.io/v1/namespaces/streams/leases/streams-placer",
                        body, &r), 409);
    resp_free(&r);
    /* cluster-scoped: no namespace in the path or the object */
    CU_ASSERT_EQUAL(post(vwc, "{\"metadata\":{\"name\":\"streams-placer\",\"namespace\":\"x\"},"
                              "\"webhooks\":[]}", &r), 201);
    CU_ASSERT_PTR_NULL(str_at(r.json, "metadata.namespace"));
    CU_ASSERT_EQUAL(num_at(r.json, "metadata.generation"), 1);
    resp_free(&r);
    CU_ASSERT_EQUAL(get("/apis/admissionregistration.k8s.io/v1/namespaces/x/"
                        "validatingwebhookconfigurations", &r), 404);
    resp_free(&r);
    CU_ASSERT_EQUAL(post("/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
                         "{\"metadata\":{\"name\":\"m\"}}", &r), 201);
    resp_free(&r);
    CU_ASSERT_EQUAL(post("/api/v1/namespaces/streams/secrets", "{\"metadata\":{\"name\":\"s\"},"
                         "\"type\":\"kubernetes.io/tls\"}", &r), 201);
    resp_free(&r);
    CU_ASSERT_EQUAL(post("/api/v1/namespaces/streams/configmaps",
                         "{\"metadata\":{\"name\":\"policy\"},\"data\":{\"a\":\"b\"}}", &r), 201);
    resp_free(&r);
    CU_ASSERT_EQUAL(post("/api/v1/nodes", "{\"metadata\":{\"name\":\"n1\"},"
                         "\"status\":{\"allocatable\":{\"cpu\":\"4\"}}}", &r), 201);
    SP_ASSERT_STR(str_at(r.json, "status.allocatable.cpu"), "4");
    resp_free(&r);
    expect_names("/api/v1/nodes", "n1");
    down();
}

static void test_routes(void)
{
    static const char *const missing[] = {
        "/", "/api", "/api/v1", "/api/v2/pods", "/apis/placement.streams.io/v1/hostpools",
        "/api/v1/namespaces", "/api/v1/namespaces/streams", "/api/v1/services",
        "/api/v1/pods/a", "/api/v1/namespaces/streams/nodes", PODS "/a/exec", PODS "/",
        "/api/v1//pods", PODS "/a/status/x", "/healthz",
    };
    resp r;

    up();
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        CU_ASSERT_EQUAL(get(missing[i], &r), 404);
        if (r.status != 404)
            fprintf(stderr, "\n  %s: %ld\n", missing[i], r.status);
        resp_free(&r);
    }
    CU_ASSERT_EQUAL(call("DELETE", PODS, NULL, NULL, &r), 405);
    resp_free(&r);
    CU_ASSERT_EQUAL(call("POST", PODS "/a", JSON, "{}", &r), 405);
    resp_free(&r);
    CU_ASSERT_EQUAL(call("DELETE", PODS "/a/status", NULL, NULL, &r), 405);
    resp_free(&r);
    down();
}

static void test_body_limit(void)
{
    size_t n = 4u << 20;
    char *big = sp_malloc(n + 64);
    resp r;

    up();
    memset(big, ' ', n + 63);
    memcpy(big, "{\"metadata\":{\"name\":\"a\"}", 24);
    big[n + 62] = '}';
    big[n + 63] = '\0';
    CU_ASSERT_EQUAL(post(PODS, big, &r), 413);
    assert_status(&r, 413, "RequestEntityTooLarge");
    resp_free(&r);
    CU_ASSERT_EQUAL(kfake_count(fake, "pods"), 0);
    sp_free(big);
    down();
}

/* ------------------------------------------------------------------------ */
/* The test-side door                                                         */
/* ------------------------------------------------------------------------ */

static void test_side_door(void)
{
    cJSON *node = cJSON_Parse("{\"kind\":\"Node\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":"
                              "\"n1\",\"uid\":\"fixed-uid\",\"resourceVersion\":\"218\"},"
                              "\"status\":{\"allocatable\":{\"cpu\":\"4\"}}}");
    cJSON *pool = cJSON_Parse("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"size\":1},"
                              "\"status\":{\"hosts\":[\"n1\"]}}");
    cJSON *got;
    uint64_t rv1, rv2, rv3;
    char path[128];
    watch w;
    resp r;

    up();
    CU_ASSERT_EQUAL(get("/api/v1/nodes", &r), 200);
    snprintf(path, sizeof(path), "/api/v1/nodes?watch=1&timeoutSeconds=10&resourceVersion=%s",
             str_at(r.json, "metadata.resourceVersion"));
    resp_free(&r);
    watch_open(&w, path);
    rv1 = kfake_put(fake, NULL, node);   /* by kind */
    CU_ASSERT(rv1 > 0);
    CU_ASSERT_EQUAL(kfake_put(fake, "nodes", node), rv1); /* no change: no write */
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(cJSON_GetObjectItem(node, "status"),
                                                  "allocatable"), "cpu", cJSON_CreateString("8"));
    rv2 = kfake_put(fake, "/api/v1/nodes", node);
    CU_ASSERT(rv2 > rv1);
    CU_ASSERT_TRUE(wait_lines(&w, 2, 5000));
    assert_event(&w, 0, "ADDED", "n1");
    assert_event(&w, 1, "MODIFIED", "n1");
    got = kfake_get(fake, "nodes", NULL, "n1");
    SP_ASSERT_STR(str_at(got, "metadata.uid"), "fixed-uid");
    SP_ASSERT_STR(str_at(got, "status.allocatable.cpu"), "8");
    CU_ASSERT_EQUAL(rv_of(got), rv2);
    cJSON_Delete(got);
    /* a namespaced object without a namespace lands in default; status stays */
    rv3 = kfake_put(fake, "hostpools", pool);
    CU_ASSERT(rv3 > rv2);
    got = kfake_get(fake, "hostpools", "default", "p");
    SP_ASSERT_STR(str_at(got, "kind"), "HostPool");
    SP_ASSERT_STR(str_at(got, "apiVersion"), "placement.streams.io/v1alpha1");
    CU_ASSERT_EQUAL(num_at(got, "metadata.generation"), 1);
    CU_ASSERT_PTR_NOT_NULL(cJSON_GetObjectItem(got, "status"));
    cJSON_Delete(got);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(pool, "spec"), "size", cJSON_CreateNumber(2));
    kfake_put(fake, "hostpools", pool);
    got = kfake_get(fake, "hostpools", "default", "p");
    CU_ASSERT_EQUAL(num_at(got, "metadata.generation"), 2);
    cJSON_Delete(got);
    CU_ASSERT_EQUAL(kfake_count(fake, "hostpools"), 1);
    CU_ASSERT_TRUE(kfake_delete(fake, "hostpools", "default", "p"));
    CU_ASSERT_FALSE(kfake_delete(fake, "hostpools", "default", "p"));
    CU_ASSERT_EQUAL(kfake_count(fake, "hostpools"), 0);
    CU_ASSERT_PTR_NULL(kfake_get(fake, "hostpools", "default", "p"));
    CU_ASSERT_TRUE(kfake_delete(fake, "nodes", NULL, "n1"));
    CU_ASSERT_TRUE(wait_lines(&w, 3, 5000));
    assert_event(&w, 2, "DELETED", "n1");
    CU_ASSERT_EQUAL(kfake_put(fake, "widgets", node), 0);
    CU_ASSERT_EQUAL(kfake_count(fake, "widgets"), 0);
    watch_close(&w);
    cJSON_Delete(node);
    cJSON_Delete(pool);
    down();
}

/* Concurrent writers: every write gets its own, increasing resourceVersion. */
static void *writer(void *arg)
{
    const char *prefix = arg;
    char name[128];
    resp r;

    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof(name), "{\"metadata\":{\"name\":\"%s-%d\"}}", prefix, i);
        post(PODS, name, &r);
        resp_free(&r);
    }
    return NULL;
}

static void test_concurrent_writes(void)
{
    pthread_t t[3];
    const char *prefixes[] = { "x", "y", "z" };
    char path[128];
    watch w;
    resp r;

    up();
    CU_ASSERT_EQUAL(get(PODS, &r), 200);
    snprintf(path, sizeof(path), PODS "?watch=1&timeoutSeconds=20&resourceVersion=%s",
             str_at(r.json, "metadata.resourceVersion"));
    resp_free(&r);
    watch_open(&w, path);
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, writer, (void *)prefixes[i]);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    CU_ASSERT_EQUAL(kfake_count(fake, "pods"), 30);
    CU_ASSERT_TRUE(wait_lines(&w, 30, 5000));
    for (int i = 1; i < 30; i++) {
        cJSON *a = event_at(&w, i - 1), *b = event_at(&w, i);
        CU_ASSERT(rv_of(cJSON_GetObjectItem(a, "object")) < rv_of(cJSON_GetObjectItem(b, "object")));
        cJSON_Delete(a);
        cJSON_Delete(b);
    }
    watch_close(&w);
    down();
}

int main(void)
{
    static const sp_test tests[] = {
        SP_TEST(test_files),
        SP_TEST(test_auth),
        SP_TEST(test_create_get),
        SP_TEST(test_test_helpers),
        SP_TEST(test_create_refusals),
        SP_TEST(test_update),
        SP_TEST(test_status_subresource),
        SP_TEST(test_patch),
        SP_TEST(test_delete),
        SP_TEST(test_list_selectors),
        SP_TEST(test_paging),
        SP_TEST(test_list_resource_version),
        SP_TEST(test_watch_replay_and_live),
        SP_TEST(test_watch_state_and_selector),
        SP_TEST(test_watch_bookmarks_and_timeout),
        SP_TEST(test_watch_gone),
        SP_TEST(test_watch_drop_and_stop),
        SP_TEST(test_watch_client_leaves),
        SP_TEST(test_binding),
        SP_TEST(test_faults),
        SP_TEST(test_delay_and_requests),
        SP_TEST(test_other_collections),
        SP_TEST(test_routes),
        SP_TEST(test_body_limit),
        SP_TEST(test_side_door),
        SP_TEST(test_concurrent_writes),
        SP_TEST_END,
    };
    int rc;

    if (curl_global_init(CURL_GLOBAL_DEFAULT))
        return SP_TEST_ERROR;
    rc = sp_test_run("kfake", tests);
    curl_global_cleanup();
    return rc;
}
