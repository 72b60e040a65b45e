/*
 * Faults between streams-placer and the API server (cluster mode), against
 * the test double of kube-apiserver (tests/kfake.c) reached through a TCP
 * proxy this test controls, so that the API server can be made unreachable
 * (the proxy's listener closed: connections refused), a black hole (the
 * proxy accepts and forwards nothing), slow (kfake_delay) or failing (5xx,
 * 429 with Retry-After: kfake_fail), and then come back on the same
 * address. Each test shows that the extender keeps answering filter and
 * prioritize from its caches and the webhook keeps validating, quickly;
 * that a decision that cannot be written is refused with a clear error and
 * none is half made; and that once the API server is back every write goes
 * through: decisions, bindings, and the release of a pod deleted while its
 * placement could not be written.
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app/app.h"
#include "kapi/kapi.h"
#include "tests/kfake.h"
#include "tests/test_util.h"
#include "util/sp_buf.h"
#include "util/sp_log.h"

#define PODS "/api/v1/pods"
#define NODES "/api/v1/nodes"
#define PLACEMENTS "/apis/placement.streams.io/v1alpha1/peplacements"
#define PLACEMENT_PREFIX "/apis/placement.streams.io"

/* Every time below is multiplied by sp_test_scale() (make check-valgrind
 * sets it: memcheck runs some 50 times slower), the write budget and the
 * client's timeouts of the server under test included. */
static long scale = 1;
#define MS(x) ((int64_t)(x) * scale)

/* What a call that only reads caches (or fails at once) may take, API
 * server down or not: well under one write budget, with room for a loaded
 * machine running the sanitizer build. */
#define QUICK_MS MS(2500)
/* The write budget of the server under test: REC_WRITE_BUDGET_MS. */
#define BUDGET_MS MS(REC_WRITE_BUDGET_MS)
/* The breaker's first pause where a test counts on it being open (the
 * default, 250 ms, may pass between two calls on a slow machine). */
#define BREAKER_MS MS(4000)
/* The webhook's timeoutSeconds in manifests/base/webhooks.yaml. */
#define WEBHOOK_TIMEOUT_MS MS(5000)

static char dir[256];
static char kubeconfig[300];
static char policy_path[300];
static kfake *fake;
static int64_t breaker_ms; /* the replica's rec_config.breaker_ms; 0: its default */

/* Assert that a call took less than limit ms, saying how long it took. */
#define ASSERT_WITHIN(ms, limit)                                                  \
    do {                                                                         \
        int64_t ms_ = (ms);                                                      \
        if (ms_ >= (limit))                                                      \
            fprintf(stderr, "\n  %s:%d: took %lld ms, limit %lld ms\n", __FILE__, \
                    __LINE__, (long long)ms_, (long long)(limit));                \
        CU_ASSERT(ms_ < (limit));                                                \
    } while (0)

static int64_t now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------------ */
/* The proxy in front of the API server                                       */
/* ------------------------------------------------------------------------ */

typedef enum px_mode {
    PX_UP,    /* forward every byte */
    PX_DOWN,  /* no listener: connections are refused; open ones are cut */
    PX_HANG,  /* accept, and forward nothing either way (a black hole) */
} px_mode;

#define PX_CONNS 128

typedef struct px_conn {
    int client, upstream; /* upstream -1: held in the black hole */
} px_conn;

typedef struct proxy {
    pthread_t thread;
    uint16_t port, upstream_port;
    int listener;
    px_conn conns[PX_CONNS];
    size_t n;
    px_mode mode;          /* applied by the thread */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    px_mode want;          /* asked for */
    unsigned asked, applied;
    bool stop;
} proxy;

static proxy px;

static int px_listen(uint16_t port, uint16_t *bound)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    socklen_t len = sizeof(a);
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        return -1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        close(fd);
        return -1;
    }
    *bound = ntohs(a.sin_port);
    return fd;
}

static int px_connect_upstream(uint16_t port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static void px_close(px_conn *c)
{
    /* a reset, as when a server goes away, rather than a polite end */
    struct linger l = { 1, 0 };

    (void)setsockopt(c->client, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    close(c->client);
    if (c->upstream >= 0)
        close(c->upstream);
    c->client = c->upstream = -1;
}

static void px_close_all(proxy *p)
{
    for (size_t i = 0; i < p->n; i++)
        px_close(&p->conns[i]);
    p->n = 0;
}

static void px_drop(proxy *p, size_t i)
{
    px_close(&p->conns[i]);
    p->conns[i] = p->conns[--p->n];
}

/* Copy what is waiting on from to to; false when the pair is done. */
static bool px_pump(int from, int to)
{
    char buf[16384];
    ssize_t n = recv(from, buf, sizeof(buf), 0), off = 0;

    if (n <= 0)
        return false;
    while (off < n) {
        ssize_t w = send(to, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        off += w;
    }
    return true;
}

/* Apply a requested mode change. */
static void px_apply(proxy *p, px_mode want)
{
    uint16_t port;

    if (want == p->mode)
        return;
    if (want == PX_DOWN) {
        close(p->listener);
        p->listener = -1;
        px_close_all(p);
    } else if (want == PX_UP) {
        px_close_all(p); /* whatever fell into the black hole is cut */
        for (int i = 0; p->listener < 0 && i < 100; i++) {
            p->listener = px_listen(p->port, &port);
            if (p->listener < 0)
                usleep(20 * 1000);
        }
    }
    /* to PX_HANG: open pairs stop moving; new ones are held */
    p->mode = want;
}

static void px_accept(proxy *p)
{
    int fd = accept(p->listener, NULL, NULL);
    px_conn c = { fd, -1 };

    if (fd < 0)
        return;
    if (p->mode == PX_UP && (c.upstream = px_connect_upstream(p->upstream_port)) < 0) {
        px_close(&c);
        return;
    }
    if (p->n == PX_CONNS) {
        px_close(&c);
        return;
    }
    p->conns[p->n++] = c;
}

static void *px_main(void *arg)
{
    proxy *p = arg;

    for (;;) {
        struct pollfd fds[1 + 2 * PX_CONNS];
        nfds_t n = 0, first;
        size_t pairs;
        px_mode want;
        bool stop;

        pthread_mutex_lock(&p->mu);
        want = p->want;
        stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        if (stop)
            break;
        px_apply(p, want);
        pthread_mutex_lock(&p->mu);
        p->applied = p->asked;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);

        pairs = p->mode == PX_UP ? p->n : 0;
        if (p->listener >= 0)
            fds[n++] = (struct pollfd){ .fd = p->listener, .events = POLLIN };
        first = n;
        for (size_t i = 0; i < pairs; i++) {
            fds[n++] = (struct pollfd){ .fd = p->conns[i].client, .events = POLLIN };
            fds[n++] = (struct pollfd){ .fd = p->conns[i].upstream, .events = POLLIN };
        }
        if (poll(fds, n, 10) <= 0)
            continue;
        /* pairs first: an accept appends, a drop moves the last pair */
        for (size_t i = pairs; i-- > 0;) {
            const struct pollfd *c = &fds[first + 2 * i], *u = c + 1;
            bool ok = true;
            if (c->revents)
                ok = px_pump(p->conns[i].client, p->conns[i].upstream);
            if (ok && u->revents)
                ok = px_pump(p->conns[i].upstream, p->conns[i].client);
            if (!ok)
                px_drop(p, i);
        }
        if (p->listener >= 0 && first == 1 && fds[0].revents)
            px_accept(p);
    }
    px_close_all(p);
    if (p->listener >= 0)
        close(p->listener);
    return NULL;
}

static void px_start(proxy *p, uint16_t upstream)
{
    memset(p, 0, sizeof(*p));
    p->upstream_port = upstream;
    p->listener = px_listen(0, &p->port);
    CU_ASSERT_FATAL(p->listener >= 0);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    CU_ASSERT_FATAL(pthread_create(&p->thread, NULL, px_main, p) == 0);
}

/* Switch the proxy to mode; returns once it is in effect. */
static void px_set(proxy *p, px_mode mode)
{
    unsigned ticket;

    pthread_mutex_lock(&p->mu);
    p->want = mode;
    ticket = ++p->asked;
    while (p->applied < ticket)
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

static void px_stop(proxy *p)
{
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
}

typedef struct replica {
    app *app;
    char state[300];
    char url[64];
} replica;

static replica rep;

/* ------------------------------------------------------------------------ */
/* The fake cluster                                                           */
/* ------------------------------------------------------------------------ */


static void put(const char *collection, const char *json)
{
    CU_ASSERT(kfake_put_json(fake, collection, json) != 0);
}

static void put_node(const char *name)
{
    char json[1024];

    snprintf(json, sizeof(json),
             "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"%s\"},"
             "\"status\":{\"allocatable\":{\"cpu\":\"4\",\"memory\":\"8Gi\",\"pods\":\"110\"}}}",
             name);
    put(NODES, json);
}

/* The JSON of a pending PE pod of job/pe in namespace streams (owned). */
static char *pe_json(const char *name, const char *uid, const char *job, const char *pe,
                     const char *ann)
{
    char *json = calloc(1, 2048);

    CU_ASSERT_PTR_NOT_NULL_FATAL(json);
    snprintf(json, 2048,
             "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
             "\"namespace\":\"streams\"%s%s%s,\"labels\":{\"streams.io/job\":\"%s\","
             "\"streams.io/pe\":\"%s\"},\"annotations\":%s},\"spec\":{\"containers\":[{"
             "\"name\":\"pe\",\"resources\":{\"requests\":{\"cpu\":\"500m\",\"memory\":"
             "\"512Mi\"}}}]},\"status\":{\"phase\":\"Pending\"}}",
             name, uid ? ",\"uid\":\"" : "", uid ? uid : "", uid ? "\"" : "", job, pe,
             ann ? ann : "{}");
    return json;
}

static void put_pe(const char *name, const char *uid, const char *job, const char *pe,
                   const char *ann)
{
    char *json = pe_json(name, uid, job, pe, ann);

    put(PODS, json);
    free(json);
}

/* A pod that is not a PE (no streams.io labels). */
static void put_plain(const char *name, const char *uid)
{
    char json[1024];

    snprintf(json, sizeof(json),
             "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
             "\"namespace\":\"streams\",\"uid\":\"%s\"},\"spec\":{\"containers\":[{"
             "\"name\":\"c\"}]},\"status\":{\"phase\":\"Pending\"}}",
             name, uid);
    put(PODS, json);
}

/* The PEPlacement of job/pe in streams (a copy), or NULL. */
static cJSON *placement(const char *job, const char *pe)
{
    return kfake_get_placement(fake, "streams", job, pe);
}

/* The node kfake says the pod is bound to ("" when none). */
static void pod_node(const char *pod, char *buf, size_t len)
{
    cJSON *obj = kfake_get(fake, PODS, "streams", pod);
    const char *node =
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "spec"), "nodeName"));

    snprintf(buf, len, "%s", node ? node : "");
    cJSON_Delete(obj);
}

/* Wait (up to seconds) until cond(arg) holds. */
static bool eventually_within(int seconds, bool (*cond)(void *), void *arg)
{
    for (int i = 0; i < seconds * 20 * scale; i++) {
        if (cond(arg))
            return true;
        usleep(50 * 1000);
    }
    return cond(arg);
}

static bool eventually(bool (*cond)(void *), void *arg)
{
    return eventually_within(10, cond, arg);
}

typedef struct phase_wait {
    const char *job, *pe, *phase, *node;
} phase_wait;

/* The PEPlacement of job/pe is in phase (on node, when given). */
static bool placement_is(void *arg)
{
    phase_wait *w = arg;
    cJSON *p = placement(w->job, w->pe);
    bool ok = p && strcmp(kfake_status_str(p, "phase"), w->phase) == 0 &&
              (!w->node || strcmp(kfake_status_str(p, "node"), w->node) == 0);

    cJSON_Delete(p);
    return ok;
}

static void write_policy(const char *json)
{
    snprintf(policy_path, sizeof(policy_path), "%s/policy.json", dir);
    sp_test_write_file(policy_path, json);
}

/* A kubeconfig for kfake's credentials that points at the proxy. */
static void write_kubeconfig(void)
{
    char token[256] = "", path[300];
    FILE *f;

    snprintf(path, sizeof(path), "%s/token", dir);
    f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_PTR_NOT_NULL(fgets(token, sizeof(token), f));
    fclose(f);
    token[strcspn(token, "\r\n")] = '\0';
    snprintf(kubeconfig, sizeof(kubeconfig), "%s/kubeconfig-proxy", dir);
    f = fopen(kubeconfig, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f,
            "apiVersion: v1\nkind: Config\n"
            "clusters:\n- name: kfake\n  cluster:\n    server: https://127.0.0.1:%u\n"
            "    certificate-authority: \"%s/ca.crt\"\n"
            "users:\n- name: kfake\n  user:\n    token: %s\n"
            "contexts:\n- name: kfake\n  context:\n    cluster: kfake\n    user: kfake\n"
            "    namespace: default\n"
            "current-context: kfake\n",
            (unsigned)px.port, dir, token);
    fclose(f);
}

static void stop_replica(replica *r);
static void cluster_down(void);

static void cluster_up(void)
{
    /* what a test that stopped at a fatal assertion left running */
    if (rep.app)
        stop_replica(&rep);
    if (fake)
        cluster_down();
    snprintf(dir, sizeof(dir), "/tmp/sp-faults-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    fake = kfake_start(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(fake);
    px_start(&px, kfake_port(fake));
    write_kubeconfig();
    policy_path[0] = '\0';
    put_node("n1");
    put_node("n2");
    put_node("n3");
}

static void cluster_down(void)
{
    char cmd[400];

    breaker_ms = 0;
    px_stop(&px);
    kfake_stop(fake);
    fake = NULL;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

static const char *all_nodes = "[\"n1\",\"n2\",\"n3\"]";

/* ------------------------------------------------------------------------ */
/* The server under test, and calls to it                                     */
/* ------------------------------------------------------------------------ */


static void start_replica(replica *r)
{
    app_config cfg = { .address = "127.0.0.1", .threads = 4, .cluster = true };
    sp_err err = { SP_OK, "" };

    snprintf(r->state, sizeof(r->state), "%s/state", dir);
    mkdir(r->state, 0700);
    cfg.svc.state_dir = r->state;
    cfg.svc.policy_path = policy_path[0] ? policy_path : NULL;
    cfg.api.kubeconfig = kubeconfig;
    cfg.rec.leader_elect = false;
    cfg.rec.identity = "faults";
    cfg.rec.gc_period_s = 1;
    cfg.rec.breaker_ms = (int)breaker_ms;
    cfg.rec.write_budget_ms = (int)BUDGET_MS;
    cfg.api.timeout_ms = scale > 1 ? (int)MS(2500) : 0;
    if (app_start(&cfg, &r->app, &err))
        fprintf(stderr, "\n  app_start: %s\n", err.msg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->app);
    snprintf(r->url, sizeof(r->url), "https://127.0.0.1:%u", (unsigned)app_port(r->app));
}

static void stop_replica(replica *r)
{
    app_stop(r->app, 1000);
    r->app = NULL;
}

static size_t collect(char *data, size_t size, size_t n, void *userdata)
{
    return sp_buf_append(userdata, data, size * n) ? 0 : size * n;
}

typedef struct answer {
    long status;      /* 0: no answer */
    int64_t ms;       /* how long it took */
    cJSON *json;      /* the body, parsed (or NULL) */
} answer;

static void answer_free(answer *a)
{
    cJSON_Delete(a->json);
    a->json = NULL;
}

/* POST body to path (GET when body is NULL), on a connection of its own. */
static answer call(replica *r, const char *path, const char *body)
{
    char url[256], ca[400];
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    CURL *c = curl_easy_init();
    answer a = { 0, 0, NULL };
    int64_t t0 = now_ms();
    sp_buf out;

    sp_buf_init(&out, 16u << 20);
    snprintf(url, sizeof(url), "%s%s", r->url, path);
    snprintf(ca, sizeof(ca), "%s/ca.crt", r->state);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)MS(30000));
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.status);
    a.ms = now_ms() - t0;
    a.json = out.data ? cJSON_Parse(out.data) : NULL;
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    sp_buf_free(&out);
    return a;
}

static bool ready(void *arg)
{
    answer a = call(arg, "/readyz", NULL);

    answer_free(&a);
    return a.status == 200;
}

/* ExtenderArgs for the pod kfake holds (owned). */
static char *extender_args(const char *pod)
{
    cJSON *obj = kfake_get(fake, PODS, "streams", pod);
    char *text, *args;

    CU_ASSERT_PTR_NOT_NULL_FATAL(obj);
    text = cJSON_PrintUnformatted(obj);
    args = calloc(1, strlen(text) + 256);
    snprintf(args, strlen(text) + 256, "{\"Pod\":%s,\"NodeNames\":%s}", text, all_nodes);
    free(text);
    cJSON_Delete(obj);
    return args;
}

/* Filter the pod; its one node (or "") into chosen, the error into error. */
static answer filter(replica *r, const char *pod, char *chosen, size_t len)
{
    char *args = extender_args(pod);
    answer a = call(r, "/scheduler/filter", args);
    const cJSON *kept = cJSON_GetObjectItem(a.json, "NodeNames");

    snprintf(chosen, len, "%s",
             cJSON_GetArraySize(kept) == 1 ? kept->child->valuestring : "");
    free(args);
    return a;
}

static answer prioritize(replica *r, const char *pod)
{
    char *args = extender_args(pod);
    answer a = call(r, "/scheduler/prioritize", args);

    free(args);
    return a;
}

static answer bind_pod(replica *r, const char *pod, const char *uid, const char *node)
{
    char args[512];

    snprintf(args, sizeof(args),
             "{\"PodName\":\"%s\",\"PodNamespace\":\"streams\",\"PodUID\":\"%s\",\"Node\":\"%s\"}",
             pod, uid, node);
    return call(r, "/scheduler/bind", args);
}

static const char *error_of(const answer *a)
{
    const char *e = cJSON_GetStringValue(cJSON_GetObjectItem(a->json, "Error"));

    return e ? e : "(no Error)";
}

/* An AdmissionReview of a new PE pod (no uid yet) with annotations ann. */
static answer validate(replica *r, const char *name, const char *job, const char *ann)
{
    char *pod = pe_json(name, NULL, job, "0", ann);
    char *review = calloc(1, strlen(pod) + 512);
    answer a;

    snprintf(review, strlen(pod) + 512,
            "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
            "\"request\":{\"uid\":\"rev-%s\",\"operation\":\"CREATE\",\"namespace\":\"streams\","
            "\"kind\":{\"kind\":\"Pod\"},\"object\":%s}}",
            name, pod);
    a = call(r, "/webhook/validate?timeout=5s", review);
    free(pod);
    free(review);
    return a;
}

static bool allowed(const answer *a)
{
    return cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(a->json, "response"), "allowed"));
}

/* What keeps working with the API server gone: prioritize, filter of a pod
 * that needs no write, and the webhook, each well-formed and quick. */
static void caches_keep_answering(replica *r, const char *pe_pod, const char *plain_pod)
{
    char node[64];
    answer a;

    a = prioritize(r, pe_pod);
    CU_ASSERT_EQUAL(a.status, 200);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(a.json), 3);
    ASSERT_WITHIN(a.ms, QUICK_MS);
    answer_free(&a);

    a = filter(r, plain_pod, node, sizeof(node));
    CU_ASSERT_EQUAL(a.status, 200);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(a.json, "NodeNames")), 3);
    ASSERT_WITHIN(a.ms, QUICK_MS);
    answer_free(&a);

    a = validate(r, "new-0", "newjob", NULL);
    CU_ASSERT_EQUAL(a.status, 200);
    CU_ASSERT_TRUE(allowed(&a));
    ASSERT_WITHIN(a.ms, QUICK_MS);
    answer_free(&a);

    /* and still refuses what is wrong */
    a = validate(r, "bad-0", "badjob", "{\"streams.io/host-pool-index\":\"-1\"}");
    CU_ASSERT_EQUAL(a.status, 200);
    CU_ASSERT_FALSE(allowed(&a));
    ASSERT_WITHIN(a.ms, QUICK_MS);
    answer_free(&a);

    a = call(r, "/readyz", NULL);
    CU_ASSERT_EQUAL(a.status, 200);
    answer_free(&a);
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                      */
/* ------------------------------------------------------------------------ */

typedef struct retry_filter {
    const char *pod;
    char node[64];
} retry_filter;

/* kube-scheduler retrying a pod: the filter answers 200 with one node. */
static bool filter_succeeds(void *arg)
{
    retry_filter *f = arg;
    answer a = filter(&rep, f->pod, f->node, sizeof(f->node));
    bool ok = a.status == 200 && f->node[0];

    answer_free(&a);
    return ok;
}

typedef struct retry_bind {
    const char *pod, *uid, *node;
} retry_bind;

static bool bind_succeeds(void *arg)
{
    retry_bind *b = arg;
    answer a = bind_pod(&rep, b->pod, b->uid, b->node);
    bool ok = a.status == 200 && strcmp(error_of(&a), "") == 0;

    answer_free(&a);
    return ok;
}

/* The API server unreachable (connections refused), then back. */
static void test_unreachable_api_server(void)
{
    char a_node[64], c_node[64], node[64];
    retry_filter rb = { "b-0", "" };
    retry_bind bc = { "c-0", "uc0", c_node };
    phase_wait w;
    answer a;
    cJSON *p;

    breaker_ms = BREAKER_MS;
    cluster_up();
    put_pe("a-0", "ua0", "a", "0", NULL);
    put_pe("b-0", "ub0", "b", "0", NULL);
    put_pe("c-0", "uc0", "c", "0", NULL);
    put_plain("p-0", "up0");
    start_replica(&rep);
    CU_ASSERT_TRUE_FATAL(eventually(ready, &rep));
    a = filter(&rep, "a-0", a_node, sizeof(a_node));
    CU_ASSERT_EQUAL(a.status, 200);
    answer_free(&a);
    a = bind_pod(&rep, "a-0", "ua0", a_node);
    CU_ASSERT_EQUAL(a.status, 200);
    answer_free(&a);
    a = filter(&rep, "c-0", c_node, sizeof(c_node)); /* reserved, bind to come */
    CU_ASSERT_EQUAL(a.status, 200);
    CU_ASSERT_STRING_NOT_EQUAL(c_node, "");
    answer_free(&a);

    px_set(&px, PX_DOWN);
    caches_keep_answering(&rep, "b-0", "p-0");

    /* a new decision must be written first: refused, clearly and at once */
    a = filter(&rep, "b-0", node, sizeof(node));
    CU_ASSERT_EQUAL(a.status, 500);
    SP_ASSERT_CONTAINS(error_of(&a), "no answer from the API server");
    ASSERT_WITHIN(a.ms, BUDGET_MS + MS(1000));
    answer_free(&a);
    p = placement("b", "0");
    CU_ASSERT_PTR_NULL(p); /* nothing half made */
    cJSON_Delete(p);
    /* a bind too; and while the API server stays away, at once */
    a = bind_pod(&rep, "c-0", "uc0", c_node);
    CU_ASSERT_EQUAL(a.status, 500);
    SP_ASSERT_CONTAINS(error_of(&a), "the API server is unavailable (no answer: ");
    ASSERT_WITHIN(a.ms, QUICK_MS);
    answer_free(&a);
    pod_node("c-0", node, sizeof(node));
    SP_ASSERT_STR(node, "");
    w = (phase_wait){ "c", "0", "Reserved", c_node };
    CU_ASSERT_TRUE(placement_is(&w));
    caches_keep_answering(&rep, "b-0", "p-0");

    /* back: kube-scheduler's retries go through, nothing was lost */
    px_set(&px, PX_UP);
    CU_ASSERT_TRUE_FATAL(eventually(filter_succeeds, &rb));
    w = (phase_wait){ "b", "0", "Reserved", rb.node };
    CU_ASSERT_TRUE(placement_is(&w));
    CU_ASSERT_TRUE(eventually(bind_succeeds, &bc));
    pod_node("c-0", node, sizeof(node));
    SP_ASSERT_STR(node, c_node);
    w = (phase_wait){ "c", "0", "Bound", c_node };
    CU_ASSERT_TRUE(placement_is(&w));
    a = bind_pod(&rep, "b-0", "ub0", rb.node);
    CU_ASSERT_EQUAL(a.status, 200);
    SP_ASSERT_STR(error_of(&a), "");
    answer_free(&a);
    w = (phase_wait){ "b", "0", "Bound", rb.node };
    CU_ASSERT_TRUE(placement_is(&w));
    w = (phase_wait){ "a", "0", "Bound", a_node };
    CU_ASSERT_TRUE(placement_is(&w));
    CU_ASSERT_EQUAL(kfake_count(fake, PLACEMENTS), 3);
    stop_replica(&rep);
    cluster_down();
}

typedef struct stuck_filter {
    const char *pod;
    answer a;
    char node[64];
} stuck_filter;

static void *filter_thread(void *arg)
{
    stuck_filter *s = arg;

    s->a = filter(&rep, s->pod, s->node, sizeof(s->node));
    return NULL;
}

/* The API server a black hole: requests are accepted and never answered.
 * A filter that must write gives up within its budget; the webhook and
 * prioritize, which wait for the lock it holds meanwhile, answer within the
 * webhook's timeout. */
static void test_black_hole_api_server(void)
{
    stuck_filter s = { "h-0", { 0, 0, NULL }, "" };
    retry_filter rh = { "h-0", "" };
    pthread_t t;
    phase_wait w;
    answer a;

    breaker_ms = BREAKER_MS;
    cluster_up();
    put_pe("h-0", "uh0", "h", "0", NULL);
    put_pe("h-1", "uh1", "h", "1", NULL);
    put_plain("p-0", "up0");
    start_replica(&rep);
    CU_ASSERT_TRUE_FATAL(eventually(ready, &rep));

    px_set(&px, PX_HANG);
    CU_ASSERT_FATAL(pthread_create(&t, NULL, filter_thread, &s) == 0);
    usleep((useconds_t)MS(300) * 1000); /* the filter is waiting on the API server */
    a = validate(&rep, "new-0", "newjob", NULL);
    CU_ASSERT_EQUAL(a.status, 200);
    CU_ASSERT_TRUE(allowed(&a));
    ASSERT_WITHIN(a.ms, WEBHOOK_TIMEOUT_MS - MS(1000));
    answer_free(&a);
    a = prioritize(&rep, "h-1");
    CU_ASSERT_EQUAL(a.status, 200);
    ASSERT_WITHIN(a.ms, WEBHOOK_TIMEOUT_MS - MS(1000));
    answer_free(&a);
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(s.a.status, 500);
    SP_ASSERT_CONTAINS(error_of(&s.a), "no answer from the API server");
    ASSERT_WITHIN(s.a.ms, BUDGET_MS + MS(1500));
    answer_free(&s.a);
    /* the next write does not wait out another budget: it fails at once */
    s.pod = "h-1";
    filter_thread(&s);
    CU_ASSERT_EQUAL(s.a.status, 500);
    SP_ASSERT_CONTAINS(error_of(&s.a), "the API server is unavailable");
    ASSERT_WITHIN(s.a.ms, QUICK_MS);
    answer_free(&s.a);
    caches_keep_answering(&rep, "h-1", "p-0");

    px_set(&px, PX_UP);
    CU_ASSERT_TRUE_FATAL(eventually(filter_succeeds, &rh));
    w = (phase_wait){ "h", "0", "Reserved", rh.node };
    CU_ASSERT_TRUE(placement_is(&w));
    stop_replica(&rep);
    cluster_down();
}

/* A slow API server (every answer late): decisions still go through, and
 * the webhook waits only as long as the write in progress. */
static void test_slow_api_server(void)
{
    stuck_filter s = { "s-0", { 0, 0, NULL }, "" };
    char node[64];
    pthread_t t;
    phase_wait w;
    answer a;

    cluster_up();
    put_pe("s-0", "us0", "s", "0", NULL);
    put_plain("p-0", "up0");
    start_replica(&rep);
    CU_ASSERT_TRUE_FATAL(eventually(ready, &rep));

    kfake_delay(fake, 400);
    CU_ASSERT_FATAL(pthread_create(&t, NULL, filter_thread, &s) == 0);
    usleep((useconds_t)MS(100) * 1000);
    a = validate(&rep, "new-0", "newjob", NULL);
    CU_ASSERT_EQUAL(a.status, 200);
    CU_ASSERT_TRUE(allowed(&a));
    ASSERT_WITHIN(a.ms, WEBHOOK_TIMEOUT_MS - MS(1000));
    answer_free(&a);
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(s.a.status, 200);
    CU_ASSERT_STRING_NOT_EQUAL(s.node, "");
    answer_free(&s.a);
    a = bind_pod(&rep, "s-0", "us0", s.node);
    CU_ASSERT_EQUAL(a.status, 200);
    SP_ASSERT_STR(error_of(&a), "");
    answer_free(&a);
    kfake_delay(fake, 0);
    w = (phase_wait){ "s", "0", "Bound", s.node };
    CU_ASSERT_TRUE(placement_is(&w));
    pod_node("s-0", node, sizeof(node));
    SP_ASSERT_STR(node, s.node);
    stop_replica(&rep);
    cluster_down();
}

/* 429 with Retry-After and 5xx on the writes of a bind: retried with
 * backoff within the call, the bind answers success, exactly once. */
static void test_throttled_and_failing_writes_are_retried(void)
{
    char node[64], bound[64];
    phase_wait w;
    answer a;

    cluster_up();
    put_pe("t-0", "ut0", "t", "0", NULL);
    start_replica(&rep);
    CU_ASSERT_TRUE_FATAL(eventually(ready, &rep));
    a = filter(&rep, "t-0", node, sizeof(node));
    CU_ASSERT_EQUAL(a.status, 200);
    answer_free(&a);
    kfake_fail(fake, "PUT", PLACEMENT_PREFIX, 503, 0, 1);
    kfake_fail(fake, "POST", "/api/v1/namespaces/streams/pods/t-0/binding", 429, 1, 1);
    kfake_fail(fake, "POST", "/api/v1/namespaces/streams/pods/t-0/binding", 500, 0, 1);
    a = bind_pod(&rep, "t-0", "ut0", node);
    CU_ASSERT_EQUAL(a.status, 200);
    SP_ASSERT_STR(error_of(&a), "");
    CU_ASSERT(a.ms >= 1000); /* Retry-After was honoured */
    answer_free(&a);
    CU_ASSERT_EQUAL(kfake_requests(fake, "POST", "/api/v1/namespaces/streams/pods/t-0/binding"),
                    3);
    pod_node("t-0", bound, sizeof(bound));
    SP_ASSERT_STR(bound, node);
    w = (phase_wait){ "t", "0", "Bound", node };
    CU_ASSERT_TRUE(placement_is(&w));
    stop_replica(&rep);
    cluster_down();
}

/* A pod deleted while its placement cannot be written: the watch moves on,
 * the release is kept and written once the API server takes it. */
static void test_release_lost_to_a_failed_write_is_retried(void)
{
    char node[64];
    phase_wait bound, released;
    answer a;
    cJSON *p;

    cluster_up();
    put_pe("d-0", "ud0", "d", "0", NULL);
    start_replica(&rep);
    CU_ASSERT_TRUE_FATAL(eventually(ready, &rep));
    a = filter(&rep, "d-0", node, sizeof(node));
    CU_ASSERT_EQUAL(a.status, 200);
    answer_free(&a);
    a = bind_pod(&rep, "d-0", "ud0", node);
    CU_ASSERT_EQUAL(a.status, 200);
    answer_free(&a);

    kfake_fail(fake, NULL, PLACEMENT_PREFIX, 503, 0, 1000000);
    CU_ASSERT_TRUE(kfake_delete(fake, PODS, "streams", "d-0"));
    usleep((useconds_t)MS(2000) * 1000); /* the deletion is seen, its release refused */
    bound = (phase_wait){ "d", "0", "Bound", node };
    CU_ASSERT_TRUE(placement_is(&bound));
    CU_ASSERT(kfake_requests(fake, "GET", PLACEMENT_PREFIX "/v1alpha1/namespaces/streams/"
                                          "peplacements/d-0") >= 2);
    kfake_fail(fake, NULL, PLACEMENT_PREFIX, 503, 0, 0);

    released = (phase_wait){ "d", "0", "Released", NULL };
    CU_ASSERT_TRUE(eventually(placement_is, &released));
    p = placement("d", "0");
    SP_ASSERT_STR(kfake_status_str(p, "previousNode"), node);
    SP_ASSERT_STR(kfake_status_str(p, "reason"), "pod deleted");
    cJSON_Delete(p);
    stop_replica(&rep);
    cluster_down();
}

typedef struct expiry_wait {
    const char *plain;
} expiry_wait;

static bool expired_after_filter(void *arg)
{
    char node[64];
    answer a = filter(&rep, arg, node, sizeof(node));
    phase_wait w = { "r", "0", "Released", NULL };

    answer_free(&a);
    return placement_is(&w);
}

/* A reservation that times out while the API server is away cannot be
 * released (that is a write): filter goes on for everything else, and the
 * release happens once the API server is back. */
static void test_reservation_expiring_during_an_outage(void)
{
    char node[64], other[64];
    phase_wait w;
    answer a;
    cJSON *p;

    cluster_up();
    write_policy("{\"reservationTTLSeconds\":1}");
    put_pe("r-0", "ur0", "r", "0", NULL);
    put_pe("r-1", "ur1", "r", "1", NULL);
    put_plain("p-0", "up0");
    start_replica(&rep);
    CU_ASSERT_TRUE_FATAL(eventually(ready, &rep));
    a = filter(&rep, "r-0", node, sizeof(node));
    CU_ASSERT_EQUAL(a.status, 200);
    answer_free(&a);

    px_set(&px, PX_DOWN);
    usleep((useconds_t)MS(1500) * 1000); /* the reservation's TTL passes */
    a = filter(&rep, "p-0", other, sizeof(other));
    CU_ASSERT_EQUAL(a.status, 200);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(a.json, "NodeNames")), 3);
    answer_free(&a);
    caches_keep_answering(&rep, "r-1", "p-0");
    w = (phase_wait){ "r", "0", "Reserved", node };
    CU_ASSERT_TRUE(placement_is(&w)); /* not released behind the API server's back */

    px_set(&px, PX_UP);
    CU_ASSERT_TRUE(eventually(expired_after_filter, "p-0"));
    p = placement("r", "0");
    SP_ASSERT_CONTAINS(kfake_status_str(p, "reason"), "reservation expired");
    cJSON_Delete(p);
    stop_replica(&rep);
    cluster_down();
}

/* kapi_request_by: a deadline bounds a request to a slow or absent server,
 * retries included. */
static void test_request_deadline(void)
{
    kapi_config cfg = { 0 };
    kapi *k = NULL;
    kapi_result res;
    sp_err err = { SP_OK, "" };
    int64_t t0;

    cluster_up();
    cfg.kubeconfig = kubeconfig;
    cfg.timeout_ms = (int)MS(5000);
    cfg.max_attempts = 5;
    CU_ASSERT_EQUAL_FATAL(kapi_new(&cfg, &k, &err), SP_OK);
    /* as usual without a fault */
    CU_ASSERT_EQUAL(kapi_request_by(k, kapi_now_ms() + MS(2000), "GET", NODES, NULL, NULL, 0, &res),
                    SP_OK);
    CU_ASSERT_EQUAL(res.outcome, KAPI_OK);
    kapi_result_free(&res);
    /* slower than the deadline: cut short */
    kfake_delay(fake, (int)MS(1500));
    t0 = now_ms();
    CU_ASSERT_EQUAL(kapi_request_by(k, kapi_now_ms() + MS(400), "GET", NODES, NULL, NULL, 0, &res),
                    SP_OK);
    CU_ASSERT_EQUAL(res.outcome, KAPI_TRANSPORT);
    ASSERT_WITHIN(now_ms() - t0, MS(1000));
    kapi_result_free(&res);
    kfake_delay(fake, 0);
    /* failing: retried while there is time, the last answer returned */
    kfake_fail(fake, "GET", NODES, 503, 0, 1000);
    t0 = now_ms();
    CU_ASSERT_EQUAL(kapi_request_by(k, kapi_now_ms() + MS(600), "GET", NODES, NULL, NULL, 0, &res),
                    SP_OK);
    CU_ASSERT_EQUAL(res.outcome, KAPI_SERVER);
    CU_ASSERT_EQUAL(res.status, 503);
    ASSERT_WITHIN(now_ms() - t0, MS(1200));
    CU_ASSERT(kfake_requests(fake, "GET", NODES) >= 2);
    kapi_result_free(&res);
    kfake_fail(fake, "GET", NODES, 503, 0, 0);
    /* nobody there */
    px_set(&px, PX_DOWN);
    t0 = now_ms();
    CU_ASSERT_EQUAL(kapi_request_by(k, kapi_now_ms() + MS(500), "GET", NODES, NULL, NULL, 0, &res),
                    SP_OK);
    CU_ASSERT_EQUAL(res.outcome, KAPI_TRANSPORT);
    ASSERT_WITHIN(now_ms() - t0, MS(1100));
    kapi_result_free(&res);
    /* a deadline already past: not sent */
    CU_ASSERT_EQUAL(kapi_request_by(k, kapi_now_ms() - 1, "GET", NODES, NULL, NULL, 0, &res),
                    SP_OK);
    CU_ASSERT_EQUAL(res.outcome, KAPI_TRANSPORT);
    SP_ASSERT_CONTAINS(res.message, "deadline");
    kapi_result_free(&res);
    px_set(&px, PX_UP);
    CU_ASSERT_EQUAL(kapi_request_by(k, 0, "GET", NODES, NULL, NULL, 0, &res), SP_OK);
    CU_ASSERT_EQUAL(res.outcome, KAPI_OK);
    kapi_result_free(&res);
    kapi_free(k);
    cluster_down();
}

static const sp_test tests[] = {
    SP_TEST(test_request_deadline),
    SP_TEST(test_unreachable_api_server),
    SP_TEST(test_black_hole_api_server),
    SP_TEST(test_slow_api_server),
    SP_TEST(test_throttled_and_failing_writes_are_retried),
    SP_TEST(test_release_lost_to_a_failed_write_is_retried),
    SP_TEST(test_reservation_expiring_during_an_outage),
    SP_TEST_END
};

int main(void)
{
    int rc;

    if (!getenv("SP_TEST_LOG"))
        sp_log_set_level(SP_LOG_OFF);
    scale = sp_test_scale();
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = sp_test_run("faults", tests);
    curl_global_cleanup();
    return rc;
}
