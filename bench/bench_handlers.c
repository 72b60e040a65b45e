/*
 * bench-handlers: the extender's and the webhook's handlers in-process, with
 * no TLS, HTTP or client in the way: the exact server-side cost of a call
 * (what the /metrics histogram rounds to buckets), and a clean target for a
 * profiler (valgrind --tool=callgrind --toggle-collect=timed_filter, or
 * timed_prioritize, timed_review).
 *
 *   bench-handlers --bench-dir DIR --state-dir DIR [--policy F] [--nodes F]
 *                  [--hostpools F] [--pods F] [--prefix P]
 *                  [--node-count N | --nodelist F] [--filters N] [--prioritizes N]
 *                  [--reviews N --review-body F --review-mode validate|mutate
 *                   [--review-new-pods]]
 *
 * The service is opened as `serve` opens it (svc_open: the same files, a
 * fresh store in --state-dir). Filters send a stream of new PE pods (the
 * pods of bench/wrk/extender.lua: bench/stream-pod.json with
 * bench/stream-annotations.txt, jobs of 8) with NodeNames worker-00000 ..
 * worker-(N-1), or with the NodeList of file F in Nodes; prioritizes cycle over the pods the filters sent; reviews
 * replay one AdmissionReview body and record its effects as app.c does
 * (--review-new-pods: each review's pod is a new one, of a job of its own,
 * with its own uid and name, as a stream of new PEs is admitted; the body is
 * made before the clock starts).
 * Prints one line per phase: calls, p50, p90, p99, mean, max (ms) and the
 * mean answer size. Exit 1 when a call fails or answers other than 200.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/app.h"
#include "kobj/kobj.h"
#include "scheduler/sched.h"
#include "svc/svc.h"
#include "util/sp_alloc.h"
#include "util/sp_buf.h"
#include "util/sp_str.h"
#include "webhook/wh.h"

#define MAX_ANNS 64

typedef struct bench {
    svc *c;
    char *tmpl;                 /* bench/stream-pod.json */
    char *anns[MAX_ANNS];       /* bench/stream-annotations.txt lines */
    size_t n_anns;
    sp_buf suffix;              /* ,"Nodes":null,"NodeNames":[...]} */
    const char *prefix;
} bench;

typedef struct phase {
    const char *name;
    double *ms;
    size_t n;
    double bytes;
} phase;

static double now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static void report(phase *p)
{
    double sum = 0;

    if (!p->n)
        return;
    qsort(p->ms, p->n, sizeof(double), cmp_double);
    for (size_t i = 0; i < p->n; i++)
        sum += p->ms[i];
    printf("handler verb=%s calls=%zu p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f mean_ms=%.3f "
           "max_ms=%.3f answer_bytes=%.0f\n",
           p->name, p->n, p->ms[p->n / 2], p->ms[p->n * 90 / 100], p->ms[p->n * 99 / 100],
           sum / (double)p->n, p->ms[p->n - 1], p->bytes / (double)p->n);
}

/* ------------------------------------------------------------------------ */
/* Requests                                                                   */
/* ------------------------------------------------------------------------ */

static sp_rc read_text(const char *dir, const char *name, char **out)
{
    char path[4096];
    size_t len;
    sp_err err;

    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
        return SP_ELIMIT;
    if (kobj_read_file(path, 1u << 20, out, &len, &err)) {
        fprintf(stderr, "bench-handlers: %s: %s\n", path, err.msg);
        return SP_EIO;
    }
    while (len && (*out)[len - 1] <= ' ')
        (*out)[--len] = '\0';
    return SP_OK;
}

static sp_rc load_templates(bench *b, const char *dir, int n_nodes, const char *nodelist)
{
    char *lines = NULL, *list = NULL;
    size_t len;
    sp_err err;
    sp_rc rc = read_text(dir, "stream-pod.json", &b->tmpl);

    if (!rc)
        rc = read_text(dir, "stream-annotations.txt", &lines);
    for (char *p = lines, *nl; !rc && p && *p && b->n_anns < MAX_ANNS; p = nl ? nl + 1 : NULL) {
        nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        if (!(b->anns[b->n_anns++] = sp_strdup(p)))
            rc = SP_ENOMEM;
    }
    sp_free(lines);
    sp_buf_init(&b->suffix, 1u << 28);
    if (!rc && nodelist) {
        if (kobj_read_file(nodelist, 1u << 28, &list, &len, &err)) {
            fprintf(stderr, "bench-handlers: %s: %s\n", nodelist, err.msg);
            return SP_EIO;
        }
        rc = sp_buf_puts(&b->suffix, ",\"Nodes\":");
        if (!rc)
            rc = sp_buf_append(&b->suffix, list, len);
        if (!rc)
            rc = sp_buf_puts(&b->suffix, ",\"NodeNames\":null}");
        sp_free(list);
        return rc;
    }
    if (!rc)
        rc = sp_buf_puts(&b->suffix, ",\"Nodes\":null,\"NodeNames\":[");
    for (int i = 0; i < n_nodes && !rc; i++)
        rc = sp_buf_printf(&b->suffix, "%s\"worker-%05d\"", i ? "," : "", i);
    if (!rc)
        rc = sp_buf_puts(&b->suffix, "]}");
    return rc;
}

/* The ExtenderArgs for pod k of the stream (thread 1 of extender.lua). */
static sp_rc build_args(const bench *b, long k, sp_buf *out)
{
    char job[128], name[160], pe[32], uid[80], rv[32];
    size_t pe_i = (size_t)k % b->n_anns;
    int tid = 1;
    sp_rc rc = SP_OK;

    if (snprintf(job, sizeof(job), "%s-t%d-%05ld", b->prefix, tid, k / (long)b->n_anns) >=
            (int)sizeof(job) ||
        snprintf(name, sizeof(name), "%s-pe%zu", job, pe_i) >= (int)sizeof(name))
        return SP_ELIMIT;
    snprintf(pe, sizeof(pe), "%zu", pe_i);
    snprintf(uid, sizeof(uid), "%08x-%04x-4000-8000-%012lx",
             (unsigned)(strlen(b->prefix) * 7919 + (size_t)tid), (unsigned)tid, (unsigned long)k);
    snprintf(rv, sizeof(rv), "%ld", 300000 + k);
    sp_buf_reset(out);
    rc = sp_buf_puts(out, "{\"Pod\":");
    for (const char *p = b->tmpl; *p && !rc;) {
        static const char *const keys[] = { "@NAME@", "@UID@", "@JOB@", "@PE@", "@RV@",
                                            "@ANNOTATIONS@" };
        const char *vals[] = { name, uid, job, pe, rv, b->anns[pe_i] };
        const char *at = strchr(p, '@');
        size_t i;
        if (!at) {
            rc = sp_buf_puts(out, p);
            break;
        }
        rc = sp_buf_append(out, p, (size_t)(at - p));
        for (i = 0; i < 6 && strncmp(at, keys[i], strlen(keys[i])) != 0; i++)
            ;
        if (!rc && i < 6) {
            rc = sp_buf_puts(out, vals[i]);
            p = at + strlen(keys[i]);
        } else if (!rc) {
            rc = sp_buf_append(out, "@", 1);
            p = at + 1;
        }
    }
    if (!rc)
        rc = sp_buf_append(out, b->suffix.data, b->suffix.len);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The measured calls, apart so that a profiler can collect only them       */
/* ------------------------------------------------------------------------ */

static __attribute__((noinline)) sp_rc timed_filter(svc *c, const sp_buf *body,
                                                    srv_response *resp)
{
    return sched_filter(c, body->data, body->len, resp);
}

static __attribute__((noinline)) sp_rc timed_prioritize(svc *c, const sp_buf *body,
                                                        srv_response *resp)
{
    return sched_prioritize(c, body->data, body->len, resp);
}

/* A review as the webhook routes answer it. */
static __attribute__((noinline)) sp_rc timed_review(svc *c, wh_mode mode, const char *body,
                                                    size_t len, wh_result *r)
{
    return app_review(c, mode, body, len, r);
}

/* ------------------------------------------------------------------------ */
/* Phases                                                                     */
/* ------------------------------------------------------------------------ */

static int run_extender(bench *b, bool filter, long n, long cycle, phase *p)
{
    sp_buf body;
    int bad = 0;

    sp_buf_init(&body, 1u << 26);
    for (long k = 0; k < n && !bad; k++) {
        srv_response resp = { 0 };
        double t0;
        sp_rc rc = build_args(b, cycle ? k % cycle : k, &body);
        if (rc) {
            bad = 1;
            break;
        }
        t0 = now_ms();
        rc = filter ? timed_filter(b->c, &body, &resp) : timed_prioritize(b->c, &body, &resp);
        p->ms[p->n++] = now_ms() - t0;
        p->bytes += (double)resp.len;
        if (rc || resp.status != 200) {
            fprintf(stderr, "bench-handlers: %s of pod %ld: %s, status %d: %.300s\n", p->name,
                    k, sp_strerror(rc), resp.status, resp.body ? resp.body : "");
            bad = 1;
        }
        sp_free(resp.body);
    }
    sp_buf_free(&body);
    return bad;
}

/* Set member key of obj to the string value (SP_ENOMEM, or SP_EINVAL when
 * obj is not an object). */
static sp_rc set_string(cJSON *obj, const char *key, const char *value)
{
    cJSON *s = cJSON_IsObject(obj) ? cJSON_CreateString(value) : NULL;

    if (!s)
        return cJSON_IsObject(obj) ? SP_ENOMEM : SP_EINVAL;
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    return cJSON_AddItemToObject(obj, key, s) ? SP_OK : SP_ENOMEM;
}

/* The review body tmpl with its pod made new: review k's own uid, name and
 * job (a job of one PE, so that the job's checks stay the same size). */
static sp_rc new_pod_body(const cJSON *tmpl, long k, char **body, size_t *len)
{
    cJSON *root = cJSON_Duplicate(tmpl, true);
    cJSON *meta = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "request"),
                                                          "object"), "metadata");
    char uid[64], name[64];
    sp_rc rc = root ? SP_OK : SP_ENOMEM;

    snprintf(uid, sizeof(uid), "00000000-0000-4000-8000-%012lx", (unsigned long)k);
    snprintf(name, sizeof(name), "review-%ld", k);
    if (!rc)
        rc = set_string(meta, "uid", uid);
    if (!rc)
        rc = set_string(meta, "name", name);
    if (!rc)
        rc = set_string(cJSON_GetObjectItem(meta, "labels"), "streams.io/job", name);
    *body = rc ? NULL : cJSON_PrintUnformatted(root);
    *len = *body ? strlen(*body) : 0;
    cJSON_Delete(root);
    return rc ? rc : *body ? SP_OK : SP_ENOMEM;
}

static int run_reviews(bench *b, wh_mode mode, const char *path, bool new_pods, long n,
                       phase *p)
{
    char *body = NULL, *fresh = NULL;
    cJSON *tmpl = NULL;
    size_t len = 0, fresh_len = 0;
    sp_err err;
    int bad = 0;

    if (kobj_read_file(path, 16u << 20, &body, &len, &err) ||
        (new_pods && kobj_parse_json(body, len, &tmpl, &err))) {
        fprintf(stderr, "bench-handlers: %s: %s\n", path, err.msg);
        sp_free(body);
        return 1;
    }
    for (long k = 0; k < n && !bad; k++) {
        wh_result r;
        double t0;
        sp_rc rc = new_pods ? new_pod_body(tmpl, k, &fresh, &fresh_len) : SP_OK;
        if (rc) {
            fprintf(stderr, "bench-handlers: review %ld: %s\n", k, sp_strerror(rc));
            bad = 1;
            break;
        }
        t0 = now_ms();
        rc = new_pods ? timed_review(b->c, mode, fresh, fresh_len, &r)
                      : timed_review(b->c, mode, body, len, &r);
        sp_free(fresh);
        fresh = NULL;
        p->ms[p->n++] = now_ms() - t0;
        p->bytes += (double)r.len;
        if (rc || r.http_status != 200) {
            fprintf(stderr, "bench-handlers: review %ld: %s, status %d\n", k, sp_strerror(rc),
                    r.http_status);
            bad = 1;
        }
        wh_result_free(&r);
    }
    cJSON_Delete(tmpl);
    sp_free(body);
    return bad;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: bench-handlers --bench-dir DIR --state-dir DIR [--policy F] [--nodes F]\n"
            "       [--hostpools F] [--pods F] [--prefix P] [--node-count N | --nodelist F]\n"
            "       [--filters N] [--prioritizes N]\n"
            "       [--reviews N --review-body F --review-mode validate|mutate\n"
            "        [--review-new-pods]]\n");
    return 1;
}

int main(int argc, char **argv)
{
    svc_config cfg = { 0 };
    bench b = { .prefix = "handlers" };
    const char *bench_dir = NULL, *review_body = NULL, *nodelist = NULL;
    wh_mode mode = WH_VALIDATE;
    bool new_pods = false;
    long filters = 0, prios = 0, reviews = 0, node_count = 5000;
    phase pf = { "filter", NULL, 0, 0 }, pp = { "prioritize", NULL, 0, 0 };
    phase pr = { "review", NULL, 0, 0 };
    sp_err err = { SP_OK, "" };
    int bad = 0;

    sp_alloc_install_json_hooks();
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t x = 0;
        bool num = v && !sp_parse_int64(v, 0, 100000000, &x);
        if (strcmp(o, "--review-new-pods") == 0) {
            new_pods = true;
            continue;
        }
        if (!v)
            return usage();
        i++;
        if (strcmp(o, "--bench-dir") == 0)
            bench_dir = v;
        else if (strcmp(o, "--state-dir") == 0)
            cfg.state_dir = v;
        else if (strcmp(o, "--policy") == 0)
            cfg.policy_path = v;
        else if (strcmp(o, "--nodes") == 0)
            cfg.nodes_path = v;
        else if (strcmp(o, "--hostpools") == 0)
            cfg.hostpools_path = v;
        else if (strcmp(o, "--pods") == 0)
            cfg.pods_path = v;
        else if (strcmp(o, "--prefix") == 0)
            b.prefix = v;
        else if (strcmp(o, "--nodelist") == 0)
            nodelist = v;
        else if (strcmp(o, "--review-body") == 0)
            review_body = v;
        else if (strcmp(o, "--review-mode") == 0 && (!strcmp(v, "validate") || !strcmp(v, "mutate")))
            mode = strcmp(v, "mutate") == 0 ? WH_MUTATE : WH_VALIDATE;
        else if (strcmp(o, "--node-count") == 0 && num)
            node_count = x;
        else if (strcmp(o, "--filters") == 0 && num)
            filters = x;
        else if (strcmp(o, "--prioritizes") == 0 && num)
            prios = x;
        else if (strcmp(o, "--reviews") == 0 && num)
            reviews = x;
        else
            return usage();
    }
    if (!bench_dir || !cfg.state_dir || (reviews && !review_body))
        return usage();
    pr.name = mode == WH_MUTATE ? "mutate" : "validate";
    pf.ms = sp_calloc((size_t)filters + 1, sizeof(double));
    pp.ms = sp_calloc((size_t)prios + 1, sizeof(double));
    pr.ms = sp_calloc((size_t)reviews + 1, sizeof(double));
    if (!pf.ms || !pp.ms || !pr.ms || load_templates(&b, bench_dir, (int)node_count, nodelist))
        return 1;
    if (svc_open(&cfg, &b.c, &err)) {
        fprintf(stderr, "bench-handlers: %s\n", err.msg);
        return 1;
    }
    bad = run_extender(&b, true, filters, 0, &pf);
    if (!bad)
        bad = run_extender(&b, false, prios, filters, &pp);
    if (!bad && reviews)
        bad = run_reviews(&b, mode, review_body, new_pods, reviews, &pr);
    report(&pf);
    report(&pp);
    report(&pr);
    svc_close(b.c);
    for (size_t i = 0; i < b.n_anns; i++)
        sp_free(b.anns[i]);
    sp_free(b.tmpl);
    sp_buf_free(&b.suffix);
    sp_free(pf.ms);
    sp_free(pp.ms);
    sp_free(pr.ms);
    return bad;
}
