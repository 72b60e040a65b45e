/*
 * The streams-placer server assembled: the service (policy, state, store), the
 * serving certificate and the HTTPS server with every route: the scheduler
 * extender (/scheduler/filter, prioritize, bind), the admission webhook
 * (/webhook/validate, mutate), /healthz, /readyz and /metrics. `serve` runs
 * one until a signal; tests run one in-process on port 0. Standalone, the
 * state is kept in an embedded store; in a cluster, a reconciler keeps it
 * in step with the API server and writes every decision there, only the
 * leader answers the extender (the others say 503), and /readyz waits for
 * the caches to be synced. A changed certificate or policy file is picked
 * up while serving (app_reload.c), and so are certificates kept in a
 * Secret (app_certs.c).
 */
#ifndef SP_APP_H
#define SP_APP_H

#include <stddef.h>
#include <stdint.h>

#include "certmgr/certmgr.h"
#include "reconciler/rec.h"
#include "server/srv.h"
#include "svc/svc.h"
#include "util/sp_error.h"
#include "webhook/wh.h"

#define APP_DEFAULT_MAX_EXTENDER_BODY (64u << 20) /* bytes */

typedef struct app_config {
    const char *address;      /* numeric listen address */
    uint16_t port;            /* 0: any free port */
    const char *insecure_address; /* NULL: no plaintext listener; else the same */
    uint16_t insecure_port;   /*   routes, unencrypted, here too */
    const char *cert_path;    /* serving certificate and key (PEM); both NULL and */
    const char *key_path;     /*   no certs.secret: a self-signed pair in the state
                               *   directory */
    certmgr_config certs;     /* cluster mode, certs.secret set: the pair from that
                               * Secret, kept and rotated by certmgr (api is set
                               * here) */
    unsigned cert_check_period_s; /* how often the Secret is synced (leader) or
                               * re-read (others); 0: 60; under the overlap */
    const char *client_ca_path; /* NULL: any caller; else callers must present a
                               * certificate signed by a CA in this PEM file */
    unsigned reload_period_ms; /* how often the certificate, key and policy files
                               * are looked at for changes; 0: 2000 */
    svc_config svc;
    srv_limits limits;        /* 0 anywhere: the server's default */
    size_t max_extender_body; /* body cap of the /scheduler/ routes: a NodeList of every
                               * node can be megabytes; 0: APP_DEFAULT_MAX_EXTENDER_BODY */
    unsigned threads;         /* 0: a thread per connection; N: a pool of N */
    bool cluster;             /* state from a Kubernetes API server */
    kapi_config api;          /* how to reach it (cluster mode) */
    rec_config rec;           /* leader election (cluster mode; api is set here) */
} app_config;

typedef struct app app;

/* Load everything and start serving. Failures name the file or address. */
sp_rc app_start(const app_config *cfg, app **out, sp_err *err)
    __attribute__((warn_unused_result));

/* The port served on (HTTPS), and the plaintext one (0: none). */
uint16_t app_port(const app *a);
uint16_t app_insecure_port(const app *a);

/* The service, for tests that look inside. */
svc *app_svc(app *a);

/*
 * One AdmissionReview (body NUL-terminated at len) as the webhook routes
 * answer it: parsed, the pod a validate review may record printed ahead,
 * the verdict and its effects applied under the service lock, the answer
 * rendered into *r (freed by the caller with wh_result_free, whatever is
 * returned), counted in the metrics. SP_ENOMEM only. bench-handlers times
 * exactly this.
 */
sp_rc app_review(svc *c, wh_mode mode, const char *body, size_t len, wh_result *r)
    __attribute__((warn_unused_result));

/* Stop serving (requests in flight get drain_ms), close and free. */
void app_stop(app *a, unsigned drain_ms);

#endif /* SP_APP_H */
