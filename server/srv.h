/*
 * The HTTPS server, on libmicrohttpd (its TLS is GnuTLS): a table of routes,
 * each a method, a path and a handler that turns a request with a complete
 * body into a response. The server enforces what every route needs and no
 * handler should repeat: the method (405 with Allow), the JSON content type
 * (415), a hard cap on the body (413, refused as soon as it is known), a
 * connection limit, a per-IP limit and an idle timeout; it counts requests
 * and latency per route for /metrics, and stops gracefully (no new
 * connections, requests in flight finish). A query string ("?timeout=10s",
 * as kube-apiserver appends) never changes the route. Its certificate can
 * be replaced while it serves, and callers can be required to present a
 * client certificate.
 */
#ifndef SP_SRV_H
#define SP_SRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/sp_buf.h"
#include "util/sp_error.h"

#define SRV_DEFAULT_MAX_BODY (4u << 20)  /* bytes of request body */
#define SRV_DEFAULT_MAX_HEADER (32u << 10) /* bytes of request line and headers */
#define SRV_DEFAULT_CONN_LIMIT 1024      /* connections at once */
#define SRV_DEFAULT_PER_IP_LIMIT 256     /* connections from one address */
#define SRV_DEFAULT_CONN_TIMEOUT 60      /* seconds a connection may idle */

typedef struct srv srv;

typedef struct srv_request {
    const char *method;
    const char *path;          /* without the query string */
    const char *content_type;  /* NULL when absent */
    const char *body;          /* NUL-terminated; "" when there is none */
    size_t body_len;
} srv_request;

typedef struct srv_response {
    int status;
    const char *content_type;  /* a static string */
    char *body;                /* owned by the response (sp_malloc), or NULL */
    size_t len;
} srv_response;

/*
 * A route's handler. It fills resp (status, content type, body) and returns
 * SP_OK; any error it returns becomes a 500 with a JSON error body. It runs
 * on one of the server's threads: shared state needs its own lock.
 */
typedef sp_rc (*srv_handler)(void *ctx, const srv_request *req, srv_response *resp);

typedef struct srv_route {
    const char *path;          /* exact */
    const char *method;        /* "GET" or "POST" */
    bool json;                 /* the body must be application/json */
    srv_handler handler;
    size_t max_body;           /* its body cap; 0: the server's max_body */
} srv_route;

/* What one caller may take; 0 anywhere: the default. */
typedef struct srv_limits {
    size_t max_body;           /* SRV_DEFAULT_MAX_BODY (routes may differ) */
    size_t max_header;         /* request line and headers (larger: 414 or
                                * 431); SRV_DEFAULT_MAX_HEADER */
    unsigned conn_limit;       /* connections at once: SRV_DEFAULT_CONN_LIMIT */
    unsigned per_ip_limit;     /* from one address: SRV_DEFAULT_PER_IP_LIMIT */
    unsigned conn_timeout_s;   /* idle seconds before a connection is
                                * closed, a stalled request included:
                                * SRV_DEFAULT_CONN_TIMEOUT */
} srv_limits;

typedef struct srv_config {
    const char *address;       /* numeric IPv4 or IPv6 address */
    uint16_t port;             /* 0: any free port (read it with srv_port) */
    const char *cert_pem;      /* TLS certificate chain and key, PEM; both */
    const char *key_pem;       /*   NULL only for a plaintext listener */
    const char *client_ca_pem; /* NULL: any client; else callers must present a
                                * certificate this CA (PEM bundle) signed */
    unsigned threads;          /* 0: a thread per connection; N: a pool of N */
    srv_limits limits;
} srv_config;

/*
 * Listen and serve routes (the array must outlive the server) with ctx
 * passed to every handler. TLS 1.2 and 1.3 only. SP_EIO naming the address
 * and the cause when it cannot listen.
 */
sp_rc srv_start(const srv_config *cfg, const srv_route *routes, size_t n_routes,
                void *ctx, srv **out, sp_err *err) __attribute__((warn_unused_result));

/*
 * Serve a new certificate chain and key (PEM) from the next TLS handshake
 * on; connections already open keep the one they began with, so nothing is
 * dropped. On failure (SP_EINVAL: no TLS, or the pair does not load or
 * does not belong together) the current one stays. Thread-safe.
 */
sp_rc srv_set_certificate(srv *s, const char *cert_pem, const char *key_pem, sp_err *err)
    __attribute__((warn_unused_result));

/* The port the server listens on. */
uint16_t srv_port(const srv *s);

/* Append the HTTP metrics of n servers (Prometheus text, one series per
 * server, route and status, labelled with each server's listener) to out. */
sp_rc srv_metrics_write(const srv *const *servers, size_t n, sp_buf *out)
    __attribute__((warn_unused_result));

/*
 * Stop: refuse new connections at once, let requests in flight finish for
 * up to drain_ms, then close everything and free the server. s may be NULL.
 */
void srv_stop(srv *s, unsigned drain_ms);

/* Helpers for handlers: a response with a copy of text, or a JSON error
 * body {"error": message}. */
sp_rc srv_reply_text(srv_response *resp, int status, const char *content_type,
                     const char *text) __attribute__((warn_unused_result));
sp_rc srv_reply_error(srv_response *resp, int status, const char *message)
    __attribute__((warn_unused_result));

#endif /* SP_SRV_H */
