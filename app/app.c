/*
 * The server assembled: see app.h. Handlers take the service's lock for what
 * they read and change; /readyz says 503 until everything is loaded and
 * again while stopping.
 */
#include <cjson/cJSON.h>
#include <string.h>

#include "app/app_internal.h"
#include "scheduler/sched.h"
#include "util/sp_alloc.h"
#include "util/sp_log.h"
#include "webhook/wh.h"

/* ------------------------------------------------------------------------ */
/* Routes                                                                     */
/* ------------------------------------------------------------------------ */

/* In a cluster only the leader decides; the others say so (kube-scheduler
 * retries, and the Service for extender calls selects the leader). */
static bool refuse_follower(app *a, srv_response *resp, sp_rc *rc)
{
    if (!a->rec || rec_leader(a->rec))
        return false;
    *rc = srv_reply_text(resp, 503, "application/json",
                         "{\"Error\":\"not the leader: another streams-placer replica "
                         "holds the lease; retry\"}");
    return true;
}

static sp_rc on_filter(void *ctx, const srv_request *req, srv_response *resp)
{
    sp_rc rc;

    if (refuse_follower(ctx, resp, &rc))
        return rc;
    return sched_filter(((app *)ctx)->svc, req->body, req->body_len, resp);
}

static sp_rc on_prioritize(void *ctx, const srv_request *req, srv_response *resp)
{
    sp_rc rc;

    if (refuse_follower(ctx, resp, &rc))
        return rc;
    return sched_prioritize(((app *)ctx)->svc, req->body, req->body_len, resp);
}

static sp_rc on_bind(void *ctx, const srv_request *req, srv_response *resp)
{
    sp_rc rc;

    if (refuse_follower(ctx, resp, &rc))
        return rc;
    return sched_bind(((app *)ctx)->svc, req->body, req->body_len, resp);
}

/* Record what an admitted review changes (best effort: a failure to record
 * does not turn an admission into a denial; the extender learns pods too);
 * pre: the review's object printed ahead. */
static void apply_effects(svc *c, const wh_result *r, const svc_printed_pod *pre)
{
    for (size_t i = 0; i < r->n_effects; i++) {
        sp_err err = { SP_OK, "" };
        const wh_effect *e = &r->effects[i];
        sp_rc rc = e->op == WH_POD_UPSERT   ? svc_update_printed_pod(c, e->object, e->pod, pre, &err)
                   : e->op == WH_POD_DELETE ? svc_forget_pod(c, e->object, &err)
                                            : svc_learn_pool(c, e->object, &err);
        if (rc)
            sp_log(SP_LOG_WARN, "admission_not_recorded", "error", err.msg, NULL);
    }
}

/* Only the verdict and its effects hold the lock: parsing the body,
 * printing the pod a validate review may record, and rendering the answer
 * (most of a review) run beside other callers. */
sp_rc app_review(svc *c, wh_mode mode, const char *body, size_t len, wh_result *r)
{
    wh_case *cs = NULL;
    svc_printed_pod pre = { 0 };
    sp_rc rc = wh_case_open(mode, body, len, &cs, r);

    if (!rc && wh_case_object(cs))
        (void)!svc_print_pod(c, wh_case_object(cs), &pre); /* else printed later */
    svc_lock(c);
    if (!rc)
        rc = wh_case_judge(cs, svc_state(c), svc_policy(c), r);
    if (!rc)
        apply_effects(c, r, &pre);
    svc_unlock(c);
    svc_printed_pod_free(&pre);
    if (!rc)
        rc = wh_case_answer(cs, r);
    wh_case_free(cs);
    if (!rc && r->http_status == 200)
        svc_count_admission(c, mode == WH_MUTATE, r->allowed);
    return rc;
}

static sp_rc review(app *a, wh_mode mode, const srv_request *req, srv_response *resp)
{
    wh_result r;
    sp_rc rc = app_review(a->svc, mode, req->body, req->body_len, &r);

    if (!rc) {
        resp->status = r.http_status;
        resp->content_type = "application/json";
        resp->body = r.body;
        resp->len = r.len;
        r.body = NULL;
    }
    wh_result_free(&r);
    return rc;
}

static sp_rc on_validate(void *ctx, const srv_request *req, srv_response *resp)
{
    return review(ctx, WH_VALIDATE, req, resp);
}

static sp_rc on_mutate(void *ctx, const srv_request *req, srv_response *resp)
{
    return review(ctx, WH_MUTATE, req, resp);
}

static sp_rc on_healthz(void *ctx, const srv_request *req, srv_response *resp)
{
    (void)ctx;
    (void)req;
    return srv_reply_text(resp, 200, "text/plain", "ok\n");
}

static sp_rc on_readyz(void *ctx, const srv_request *req, srv_response *resp)
{
    app *a = ctx;
    bool ready = atomic_load(&a->ready) && (!a->rec || rec_synced(a->rec));

    (void)req;
    return srv_reply_text(resp, ready ? 200 : 503, "text/plain", ready ? "ok\n" : "starting\n");
}

static sp_rc on_metrics(void *ctx, const srv_request *req, srv_response *resp)
{
    app *a = ctx;
    sp_buf b;
    sp_rc rc;

    (void)req;
    sp_buf_init(&b, 16u << 20);
    rc = srv_metrics_write((const srv *[]){ a->server, a->insecure }, a->insecure ? 2 : 1,
                           &b);
    if (!rc)
        rc = svc_metrics_write(a->svc, &b);
    if (!rc)
        rc = app_reload_metrics(a, &b);
    if (!rc && a->certmgr)
        rc = certmgr_metrics_write(a->certmgr, &b);
    if (!rc) {
        resp->status = 200;
        resp->content_type = "text/plain; version=0.0.4";
        resp->len = b.len;
        resp->body = sp_buf_take(&b);
        rc = resp->body ? SP_OK : SP_ENOMEM;
    }
    sp_buf_free(&b);
    return rc;
}

/* The routes; the extender's carry their own body cap (app_start). */
static const srv_route route_table[APP_N_ROUTES] = {
    { "/scheduler/filter", "POST", true, on_filter, 0 },
    { "/scheduler/prioritize", "POST", true, on_prioritize, 0 },
    { "/scheduler/bind", "POST", true, on_bind, 0 },
    { "/webhook/validate", "POST", true, on_validate, 0 },
    { "/webhook/mutate", "POST", true, on_mutate, 0 },
    { "/healthz", "GET", false, on_healthz, 0 },
    { "/readyz", "GET", false, on_readyz, 0 },
    { "/metrics", "GET", false, on_metrics, 0 },
};

static void set_routes(app *a, const app_config *cfg)
{
    size_t extender_cap = cfg->max_extender_body ? cfg->max_extender_body
                                                 : APP_DEFAULT_MAX_EXTENDER_BODY;

    memcpy(a->routes, route_table, sizeof(route_table));
    for (size_t i = 0; i < APP_N_ROUTES; i++)
        if (strncmp(a->routes[i].path, "/scheduler/", 11) == 0)
            a->routes[i].max_body = extender_cap;
}

/* The HTTPS server, and the plaintext one when asked for. */
static sp_rc start_servers(app *a, const app_config *cfg, sp_err *err)
{
    srv_config sc = { 0 };
    sp_rc rc;

    set_routes(a, cfg);
    sc.address = cfg->address;
    sc.port = cfg->port;
    sc.cert_pem = a->tls.cert_pem;
    sc.key_pem = a->tls.key_pem;
    sc.client_ca_pem = a->client_ca;
    sc.limits = cfg->limits;
    sc.threads = cfg->threads;
    rc = srv_start(&sc, a->routes, APP_N_ROUTES, a, &a->server, err);
    if (rc || !cfg->insecure_address)
        return rc;
    sc.address = cfg->insecure_address;
    sc.port = cfg->insecure_port;
    sc.cert_pem = sc.key_pem = sc.client_ca_pem = NULL;
    rc = srv_start(&sc, a->routes, APP_N_ROUTES, a, &a->insecure, err);
    if (!rc)
        sp_log(SP_LOG_WARN, "plaintext_listener", "address", cfg->insecure_address, "reason",
               "--insecure-listen: requests and answers cross the network unencrypted", NULL);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Lifetime                                                                   */
/* ------------------------------------------------------------------------ */

/* The serving pair from files: given, or the self-signed default. */
static sp_rc load_pair_files(app *a, const app_config *cfg, sp_err *err)
{
    char *cert_path = NULL, *key_path = NULL;
    bool created = false;
    int64_t not_after = 0;
    sp_rc rc;

    if (cfg->cert_path)
        rc = certs_load_pair(cfg->cert_path, cfg->key_path, &a->tls, err);
    else
        rc = certs_ensure_self_signed(cfg->svc.state_dir, NULL, 0, &a->tls, &cert_path,
                                      &key_path, &created, err);
    if (!rc)
        rc = certs_not_after(a->tls.cert_pem, &not_after, err);
    atomic_store(&a->cert_not_after, not_after);
    if (!rc && !cfg->cert_path)
        sp_log(SP_LOG_INFO, created ? "certificate_created" : "certificate_loaded", "cert",
               cert_path, "key", key_path, NULL);
    sp_free(cert_path);
    sp_free(key_path);
    return rc;
}

/* The serving pair (from a Secret, or files), and the CA of callers when
 * asked for. */
static sp_rc load_tls(app *a, const app_config *cfg, sp_err *err)
{
    sp_rc rc = cfg->certs.secret ? app_certs_load(a, cfg, err) : load_pair_files(a, cfg, err);

    if (!rc && cfg->client_ca_path)
        rc = certs_read_cert(cfg->client_ca_path, &a->client_ca, err);
    return rc;
}

/* Cluster mode: the API client. */
static sp_rc open_api(app *a, const app_config *cfg, sp_err *err)
{
    kapi_config api = cfg->api;

    /* a decision's writes must fit in kube-scheduler's extender timeout
     * (10 s by default): 3 attempts of at most 2.5 s, with backoff */
    if (!api.timeout_ms)
        api.timeout_ms = 2500;
    if (!api.max_attempts)
        api.max_attempts = 3;
    return kapi_new(&api, &a->api, err);
}

/* Cluster mode: the reconciler as the service's sink, and the informers
 * feeding the service. */
static sp_rc open_cluster(app *a, const app_config *cfg, sp_err *err)
{
    svc_config sc = cfg->svc;
    rec_config rc_cfg = cfg->rec;
    sp_rc rc;

    rc_cfg.api = a->api;
    rc = rec_new(&rc_cfg, &a->rec, err);
    sc.sink = a->rec ? rec_sink(a->rec) : NULL;
    if (!rc)
        rc = svc_open(&sc, &a->svc, err);
    if (!rc)
        rc = rec_run(a->rec, a->svc, err);
    if (!rc)
        sp_log(SP_LOG_INFO, "cluster", "server", kapi_server(a->api), "namespace",
               kapi_namespace(a->api), "leader_election", cfg->rec.leader_elect ? "true" : "false",
               NULL);
    return rc;
}

sp_rc app_start(const app_config *cfg, app **out, sp_err *err)
{
    app *a = sp_calloc(1, sizeof(*a));
    sp_rc rc;

    *out = NULL;
    if (!a)
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    rc = cfg->cluster ? open_api(a, cfg, err) : SP_OK;
    if (!rc)
        rc = load_tls(a, cfg, err);
    if (!rc && cfg->cluster)
        rc = open_cluster(a, cfg, err);
    else if (!rc)
        rc = svc_open(&cfg->svc, &a->svc, err);
    if (!rc)
        rc = start_servers(a, cfg, err);
    if (!rc)
        rc = app_reload_start(a, cfg, err);
    if (rc) {
        app_stop(a, 0);
        return rc;
    }
    atomic_store(&a->ready, true);
    *out = a;
    return SP_OK;
}

uint16_t app_port(const app *a)
{
    return srv_port(a->server);
}

uint16_t app_insecure_port(const app *a)
{
    return a->insecure ? srv_port(a->insecure) : 0;
}

svc *app_svc(app *a)
{
    return a->svc;
}

void app_stop(app *a, unsigned drain_ms)
{
    if (!a)
        return;
    atomic_store(&a->ready, false);
    app_reload_stop(a);
    srv_stop(a->insecure, drain_ms);
    srv_stop(a->server, drain_ms);
    rec_stop(a->rec);
    svc_close(a->svc);
    certmgr_free(a->certmgr);
    kapi_free(a->api);
    certs_pair_free(&a->tls);
    sp_free(a->client_ca);
    sp_free(a);
}
