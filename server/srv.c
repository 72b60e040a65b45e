/*
 * The HTTPS server on libmicrohttpd: see srv.h. A thread per connection by
 * default (start_daemon says why), with small answers sent as one TLS
 * record (srv_cork.h); a fixed pool of epoll threads when asked. A
 * request's body is gathered in a capped buffer; the checks that need no
 * body (route, method, content type, a declared length over the cap)
 * answer before reading it.
 */
#include "server/srv.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "server/srv_cork.h"
#include "server/srv_tls.h"
#include "util/sp_alloc.h"
#include "util/sp_log.h"
#include "util/sp_str.h"

#define PRESIZE_MAX (1u << 20) /* bytes of body buffer made from Content-Length */

/* A refused body up to this size is read and dropped before the answer, so
 * that the client, still sending, reads the 413 instead of a reset; a
 * larger one is answered at once and the connection closed. */
#define DISCARD_MAX (16u << 20)

/* TLS 1.2 and 1.3 only; in 1.2 only forward-secret key exchange (ECDHE) and
 * AEAD ciphers, the set Go's crypto/tls (kube-apiserver, kube-scheduler)
 * prefers: no CBC, SHA-1 MACs, static RSA key exchange or finite-field DHE. */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:" \
                       "-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:" \
                       "-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA"

/* ------------------------------------------------------------------------ */
/* Metrics                                                                    */
/* ------------------------------------------------------------------------ */

static const int tracked_codes[] = { 200, 400, 404, 405, 413, 415, 499, 500, 503 };
#define N_CODES (sizeof(tracked_codes) / sizeof(tracked_codes[0]) + 1) /* + other */

/* Fine between 0.5 and 5 ms, where the extender's 2 ms p99 target lies
 * (DESIGN section 7): a quantile is only as exact as its bucket. */
static const double bucket_bounds[] = { 0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.00125,
                                        0.0015, 0.00175, 0.002,  0.0025,  0.003, 0.004,
                                        0.005,  0.0075,  0.01,   0.025,   0.05,  0.1,
                                        0.25,   0.5,     1.0 };
#define N_BUCKETS (sizeof(bucket_bounds) / sizeof(bucket_bounds[0]))

typedef struct route_stats {
    atomic_ullong by_code[N_CODES];
    atomic_ullong buckets[N_BUCKETS + 1];  /* last: +Inf */
    atomic_ullong sum_ns;
} route_stats;

struct srv {
    struct MHD_Daemon *daemon;
    const srv_route *routes;
    size_t n_routes;
    void *ctx;
    size_t max_body;
    uint16_t port;
    atomic_int in_flight;
    srv_tls *tls;              /* NULL: plaintext */
    bool cork;                 /* small answers in one TLS record (srv_cork.h) */
    unsigned conn_timeout_s;
    route_stats *stats;        /* n_routes + 1: the last counts unknown paths */
};

static size_t code_slot(int status)
{
    for (size_t i = 0; i < N_CODES - 1; i++)
        if (tracked_codes[i] == status)
            return i;
    return N_CODES - 1;
}

static void count(srv *s, size_t route, int status, uint64_t ns)
{
    route_stats *r = &s->stats[route];
    double seconds = (double)ns / 1e9;
    size_t b = 0;

    atomic_fetch_add(&r->by_code[code_slot(status)], 1);
    while (b < N_BUCKETS && seconds > bucket_bounds[b])
        b++;
    atomic_fetch_add(&r->buckets[b], 1);
    atomic_fetch_add(&r->sum_ns, ns);
}

static const char *route_label(const srv *s, size_t route)
{
    return route < s->n_routes ? s->routes[route].path : "other";
}

static sp_rc write_route_metrics(const srv *s, size_t route, sp_buf *out)
{
    const route_stats *r = &s->stats[route];
    const char *label = route_label(s, route), *listener = s->tls ? "https" : "http";
    unsigned long long cumulative = 0;
    sp_rc rc = SP_OK;

    for (size_t c = 0; c < N_CODES && !rc; c++) {
        unsigned long long v = atomic_load(&r->by_code[c]);
        if (!v)
            continue;
        if (c < N_CODES - 1)
            rc = sp_buf_printf(out, "streams_placer_http_requests_total{listener=\"%s\",route=\"%s\",code=\"%d\"} %llu\n",
                               listener, label, tracked_codes[c], v);
        else
            rc = sp_buf_printf(out, "streams_placer_http_requests_total{listener=\"%s\",route=\"%s\",code=\"other\"} %llu\n",
                               listener, label, v);
    }
    for (size_t b = 0; b <= N_BUCKETS && !rc; b++) {
        cumulative += atomic_load(&r->buckets[b]);
        if (b < N_BUCKETS)
            rc = sp_buf_printf(out, "streams_placer_http_request_duration_seconds_bucket{listener=\"%s\",route=\"%s\",le=\"%g\"} %llu\n",
                               listener, label, bucket_bounds[b], cumulative);
        else
            rc = sp_buf_printf(out, "streams_placer_http_request_duration_seconds_bucket{listener=\"%s\",route=\"%s\",le=\"+Inf\"} %llu\n",
                               listener, label, cumulative);
    }
    if (!rc)
        rc = sp_buf_printf(out, "streams_placer_http_request_duration_seconds_sum{listener=\"%s\",route=\"%s\"} %.9f\n"
                                "streams_placer_http_request_duration_seconds_count{listener=\"%s\",route=\"%s\"} %llu\n",
                           listener, label, (double)atomic_load(&r->sum_ns) / 1e9, listener, label,
                           cumulative);
    return rc;
}

sp_rc srv_metrics_write(const srv *const *servers, size_t n, sp_buf *out)
{
    sp_rc rc = sp_buf_puts(out,
        "# HELP streams_placer_http_requests_total HTTP requests by route and status.\n"
        "# TYPE streams_placer_http_requests_total counter\n"
        "# HELP streams_placer_http_request_duration_seconds Time to answer, server side.\n"
        "# TYPE streams_placer_http_request_duration_seconds histogram\n");

    for (size_t i = 0; i < n && !rc; i++)
        for (size_t r = 0; r <= servers[i]->n_routes && !rc; r++)
            rc = write_route_metrics(servers[i], r, out);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Responses                                                                  */
/* ------------------------------------------------------------------------ */

sp_rc srv_reply_text(srv_response *resp, int status, const char *content_type,
                     const char *text)
{
    resp->status = status;
    resp->content_type = content_type;
    resp->body = sp_strdup(text);
    resp->len = resp->body ? strlen(text) : 0;
    return resp->body ? SP_OK : SP_ENOMEM;
}

sp_rc srv_reply_error(srv_response *resp, int status, const char *message)
{
    sp_buf b;
    sp_rc rc;

    sp_buf_init(&b, 64 * 1024);
    rc = sp_buf_puts(&b, "{\"error\":");
    if (!rc)
        rc = sp_buf_json_string(&b, message);
    if (!rc)
        rc = sp_buf_puts(&b, "}");
    resp->status = status;
    resp->content_type = "application/json";
    resp->len = b.len;
    resp->body = rc ? NULL : sp_buf_take(&b);
    sp_buf_free(&b);
    return rc ? rc : resp->body ? SP_OK : SP_ENOMEM;
}

/* ------------------------------------------------------------------------ */
/* Requests                                                                   */
/* ------------------------------------------------------------------------ */

/* What the server knows about one request between MHD's calls. */
typedef struct request {
    srv *s;
    size_t route;              /* index, or n_routes when unknown */
    sp_buf body;
    struct timespec start;
    int status;                /* the answer's status, once queued */
    bool answered;
    bool corked;               /* the answer waits in TLS for srv_uncork */
    bool failed;               /* ended by the server's own failure */
    bool too_big;              /* the body is being dropped; 413 at its end */
    size_t dropped;            /* bytes of it dropped so far */
} request;

static uint64_t elapsed_ns(const struct timespec *start)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)((now.tv_sec - start->tv_sec) * 1000000000LL +
                      (now.tv_nsec - start->tv_nsec));
}

/* The body cap of a route (unknown routes never read a body). */
static size_t body_cap(const srv *s, size_t route)
{
    if (route < s->n_routes && s->routes[route].max_body)
        return s->routes[route].max_body;
    return s->max_body;
}

static size_t find_route(const srv *s, const char *path)
{
    for (size_t i = 0; i < s->n_routes; i++)
        if (strcmp(s->routes[i].path, path) == 0)
            return i;
    return s->n_routes;
}

/* The methods the route's path accepts, for an Allow header. */
static void allowed_methods(const srv *s, const char *path, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < s->n_routes; i++) {
        int n;
        if (strcmp(s->routes[i].path, path) != 0)
            continue;
        n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", s->routes[i].method);
        if (n < 0 || (size_t)n >= len - used)
            return;
        used += (size_t)n;
    }
}

/* The route for path and method, or n_routes. */
static size_t match(const srv *s, const char *path, const char *method)
{
    for (size_t i = 0; i < s->n_routes; i++)
        if (strcmp(s->routes[i].path, path) == 0 && strcmp(s->routes[i].method, method) == 0)
            return i;
    return s->n_routes;
}

static bool is_json(const char *content_type)
{
    static const char want[] = "application/json";
    size_t n = sizeof(want) - 1;

    if (!content_type)
        return false;
    while (*content_type == ' ')
        content_type++;
    if (strncasecmp(content_type, want, n) != 0)
        return false;
    return content_type[n] == '\0' || content_type[n] == ';' || content_type[n] == ' ';
}

/* Queue rq's answer resp (its body passes to MHD, which frees it). */
static enum MHD_Result send_response(request *rq, struct MHD_Connection *c, srv_response *resp,
                                     const char *allow)
{
    struct MHD_Response *r;
    enum MHD_Result ok;

    r = MHD_create_response_from_buffer(resp->len, resp->body ? resp->body : (char *)"",
                                        resp->body ? MHD_RESPMEM_MUST_FREE
                                                   : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        sp_free(resp->body);
        return MHD_NO;
    }
    resp->body = NULL; /* MHD frees it (sp_malloc is malloc) */
    if (resp->content_type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
    if (allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    if (rq->s->cork && resp->len <= SRV_CORK_MAX)
        rq->corked = srv_cork(c);
    ok = MHD_queue_response(c, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result answer_error(request *rq, struct MHD_Connection *c, int status,
                                    const char *message, const char *allow)
{
    srv_response resp = { 0 };

    rq->answered = true;
    rq->status = status;
    if (srv_reply_error(&resp, status, message))
        return MHD_NO;
    return send_response(rq, c, &resp, allow);
}

/* Checks that need no body: route, method, content type, declared length. */
static enum MHD_Result check_head(request *rq, struct MHD_Connection *c, const char *path,
                                  const char *method)
{
    srv *s = rq->s;
    const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    const char *clen = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    char allow[64], msg[160];
    int64_t declared;

    rq->route = match(s, path, method);
    if (rq->route == s->n_routes) {
        allowed_methods(s, path, allow, sizeof(allow));
        if (!allow[0])
            return answer_error(rq, c, 404, "no such path", NULL);
        rq->route = find_route(s, path);
        if (snprintf(msg, sizeof(msg), "method %s is not allowed here: use %s", method, allow) < 0)
            msg[0] = '\0';
        return answer_error(rq, c, 405, msg, allow);
    }
    if (s->routes[rq->route].json && !is_json(ctype))
        return answer_error(rq, c, 415, "the body must be application/json", NULL);
    sp_buf_init(&rq->body, body_cap(s, rq->route));
    if (!clen || sp_parse_int64(clen, 0, INT64_MAX, &declared))
        declared = 0; /* none, or none MHD would have let through */
    if ((uint64_t)declared > body_cap(s, rq->route)) {
        if ((uint64_t)declared <= DISCARD_MAX) {
            rq->too_big = true;
            return MHD_YES;
        }
        if (snprintf(msg, sizeof(msg), "the body is %lld bytes, over the %zu allowed",
                     (long long)declared, body_cap(s, rq->route)) < 0)
            msg[0] = '\0';
        return answer_error(rq, c, 413, msg, NULL);
    }
    /* room for the declared body at once (what a client only declares
     * reserves at most PRESIZE_MAX); failing here is failing later */
    if (declared > 0)
        (void)!sp_buf_reserve(&rq->body, (size_t)declared < PRESIZE_MAX ? (size_t)declared
                                                                       : PRESIZE_MAX);
    return MHD_YES;
}

static enum MHD_Result answer_too_big(request *rq, struct MHD_Connection *c)
{
    char msg[128];

    if (snprintf(msg, sizeof(msg), "the body is over the %zu bytes allowed",
                 body_cap(rq->s, rq->route)) < 0)
        msg[0] = '\0';
    return answer_error(rq, c, 413, msg, NULL);
}

/* Take n more bytes of body: keep them, or drop them once over the cap. */
static enum MHD_Result take_body(request *rq, struct MHD_Connection *c, const char *data,
                                 size_t n)
{
    sp_rc rc;

    if (rq->answered)
        return MHD_YES; /* a refused body: the rest is dropped */
    if (!rq->too_big) {
        rc = sp_buf_append(&rq->body, data, n);
        if (rc == SP_ENOMEM) {
            rq->failed = true;
            return MHD_NO;
        }
        rq->too_big = rc == SP_ELIMIT;
        if (!rq->too_big)
            return MHD_YES;
        sp_buf_free(&rq->body);
    }
    rq->dropped += n;
    return rq->dropped > DISCARD_MAX ? answer_too_big(rq, c) : MHD_YES;
}

static enum MHD_Result dispatch(request *rq, struct MHD_Connection *c, const char *path,
                                const char *method)
{
    const srv_route *route = &rq->s->routes[rq->route];
    srv_request req = { method, path,
                        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
                        rq->body.data ? rq->body.data : "", rq->body.len };
    srv_response resp = { 0 };
    sp_rc rc = route->handler(rq->s->ctx, &req, &resp);

    if (rc) {
        sp_free(resp.body);
        sp_log(SP_LOG_ERROR, "handler_failed", "path", path, "error", sp_strerror(rc), NULL);
        return answer_error(rq, c, 500, sp_strerror(rc), NULL);
    }
    rq->answered = true;
    rq->status = resp.status;
    return send_response(rq, c, &resp, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **state)
{
    srv *s = cls;
    request *rq = *state;

    (void)version;
    if (!rq) {
        if (!(rq = sp_calloc(1, sizeof(*rq))))
            return MHD_NO;
        rq->s = s;
        rq->route = s->n_routes;
        sp_buf_init(&rq->body, 0);
        clock_gettime(CLOCK_MONOTONIC, &rq->start);
        atomic_fetch_add(&s->in_flight, 1);
        *state = rq;
        return check_head(rq, c, url, method);
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        return take_body(rq, c, upload, n);
    }
    if (rq->answered)
        return MHD_YES;
    if (rq->too_big)
        return answer_too_big(rq, c);
    return dispatch(rq, c, url, method);
}

/* The code a request that got no answer of ours is counted under: 500 when
 * the server failed, 503 when it was stopping, else 499 (nginx's "client
 * closed request"): the client went away or stalled mid-request, or sent
 * what MHD refused itself (a broken chunk). None of those is a server error. */
static int unanswered_code(const request *rq, enum MHD_RequestTerminationCode why)
{
    if (rq->failed)
        return 500;
    return why == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN ? 503 : 499;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state,
                         enum MHD_RequestTerminationCode why)
{
    srv *s = cls;
    request *rq = *state;

    if (!rq)
        return;
    if (rq->corked)
        srv_uncork(c, s->conn_timeout_s);
    count(s, rq->route, rq->answered ? rq->status : unanswered_code(rq, why),
          elapsed_ns(&rq->start));
    sp_buf_free(&rq->body);
    sp_free(rq);
    *state = NULL;
    atomic_fetch_sub(&s->in_flight, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;

    (void)cls;
    if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
        return;
    n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    sp_log(SP_LOG_WARN, "http", "detail", msg, NULL);
}

/* ------------------------------------------------------------------------ */
/* Lifetime                                                                   */
/* ------------------------------------------------------------------------ */

/* Fill addr from a numeric address and port; *v6 says which family. */
static sp_rc parse_address(const char *text, uint16_t port, struct sockaddr_storage *addr,
                           bool *v6, sp_err *err)
{
    struct sockaddr_in *a4 = (struct sockaddr_in *)addr;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)addr;

    memset(addr, 0, sizeof(*addr));
    if (inet_pton(AF_INET, text, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(port);
        *v6 = false;
        return SP_OK;
    }
    if (inet_pton(AF_INET6, text, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(port);
        *v6 = true;
        return SP_OK;
    }
    return sp_err_set(err, SP_EINVAL,
                      "listen address \"%s\" is not a numeric IPv4 or IPv6 address", text);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    srv *s = cls;

    if (code == MHD_CONNECTION_NOTIFY_STARTED && s->tls)
        srv_tls_on_connection(s->tls, c, socket_context);
}

/*
 * A thread per connection by default, so that the kernel spreads the
 * connections' work over the CPUs. The threads of a fixed pool (cfg->threads)
 * take connections in accept races, and a burst of them can all land on one
 * thread: wrk's 16 connections did, and the server used one CPU of two.
 */
static struct MHD_Daemon *start_daemon(srv *s, const srv_config *cfg,
                                       const struct sockaddr_storage *addr, bool v6)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG |
                     (cfg->threads ? MHD_USE_EPOLL : MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL) |
                     (v6 ? MHD_USE_IPv6 : 0) | (s->tls ? MHD_USE_TLS : 0);
    struct MHD_OptionItem tls[] = {
        { MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)(uintptr_t)srv_tls_retrieve },
        { MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)(uintptr_t)TLS_PRIORITIES },
        { cfg->client_ca_pem ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, 0,
          (void *)(uintptr_t)cfg->client_ca_pem },
        { MHD_OPTION_END, 0, NULL },
    };
    /* a pool size of 0 is not "no pool" to MHD but a warning at every start */
    struct MHD_OptionItem pool[] = {
        { cfg->threads ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, (intptr_t)cfg->threads, NULL },
        { MHD_OPTION_END, 0, NULL },
    };

    return MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
        MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)addr,
        MHD_OPTION_ARRAY, pool,
        MHD_OPTION_CONNECTION_LIMIT, cfg->limits.conn_limit ? cfg->limits.conn_limit : SRV_DEFAULT_CONN_LIMIT,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        cfg->limits.per_ip_limit ? cfg->limits.per_ip_limit : SRV_DEFAULT_PER_IP_LIMIT,
        MHD_OPTION_CONNECTION_TIMEOUT, s->conn_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        cfg->limits.max_header ? cfg->limits.max_header : (size_t)SRV_DEFAULT_MAX_HEADER,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
        /* without TLS the option list ends here */
        s->tls ? MHD_OPTION_ARRAY : MHD_OPTION_END, tls,
        MHD_OPTION_END);
}

static void srv_free(srv *s)
{
    srv_tls_free(s->tls);
    sp_free(s->stats);
    sp_free(s);
}

sp_rc srv_start(const srv_config *cfg, const srv_route *routes, size_t n_routes, void *ctx,
                srv **out, sp_err *err)
{
    struct sockaddr_storage addr;
    const union MHD_DaemonInfo *info;
    bool v6 = false;
    srv *s;
    sp_rc rc;

    *out = NULL;
    rc = parse_address(cfg->address, cfg->port, &addr, &v6, err);
    if (rc)
        return rc;
    if (!(s = sp_calloc(1, sizeof(*s))) ||
        !(s->stats = sp_calloc(n_routes + 1, sizeof(*s->stats)))) {
        sp_free(s);
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    }
    s->routes = routes;
    s->n_routes = n_routes;
    s->ctx = ctx;
    s->max_body = cfg->limits.max_body ? cfg->limits.max_body : SRV_DEFAULT_MAX_BODY;
    s->conn_timeout_s = cfg->limits.conn_timeout_s ? cfg->limits.conn_timeout_s
                                                   : SRV_DEFAULT_CONN_TIMEOUT;
    if (cfg->cert_pem && cfg->key_pem &&
        (rc = srv_tls_new(cfg->cert_pem, cfg->key_pem, cfg->client_ca_pem != NULL, &s->tls,
                          err))) {
        srv_free(s);
        return rc;
    }
    s->cork = s->tls && !cfg->threads; /* see srv_cork.h */
    s->daemon = start_daemon(s, cfg, &addr, v6);
    if (!s->daemon) {
        srv_free(s);
        return sp_err_set(err, SP_EIO,
                          "cannot listen on %s port %u (in use, not a local address, or "
                          "a bad client CA): see the http log line above",
                          cfg->address, (unsigned)cfg->port);
    }
    info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : cfg->port;
    *out = s;
    return SP_OK;
}

sp_rc srv_set_certificate(srv *s, const char *cert_pem, const char *key_pem, sp_err *err)
{
    if (!s->tls)
        return sp_err_set(err, SP_EINVAL, "this server has no TLS to change");
    return srv_tls_swap(s->tls, cert_pem, key_pem, err);
}

uint16_t srv_port(const srv *s)
{
    return s->port;
}

void srv_stop(srv *s, unsigned drain_ms)
{
    MHD_socket listener;
    unsigned waited = 0;

    if (!s)
        return;
    listener = MHD_quiesce_daemon(s->daemon);
    if (listener != MHD_INVALID_SOCKET)
        close(listener);
    while (atomic_load(&s->in_flight) > 0 && waited < drain_ms) {
        struct timespec tick = { 0, 10 * 1000000 };
        nanosleep(&tick, NULL);
        waited += 10;
    }
    MHD_stop_daemon(s->daemon);
    srv_free(s);
}
