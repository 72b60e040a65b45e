/*
 * What the parts of app/ share (internal): the assembled server, the
 * reload loop (app_reload.c) that keeps its certificate and policy current
 * while it serves, and the certificates kept in a Secret (app_certs.c) that
 * the loop syncs.
 */
#ifndef SP_APP_INTERNAL_H
#define SP_APP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "app/app.h"
#include "certs/certs.h"
#include "server/srv.h"
#include "util/sp_stop.h"

#define APP_N_ROUTES 8

/* What a watched file looked like: a change of any field is a change. */
typedef struct app_file_sig {
    bool exists;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} app_file_sig;

/* A file the reload loop watches: the signature last applied, and the one
 * seen at the previous look (a change is applied once it holds still for
 * one period, so that a file being written is not read half done). */
typedef struct app_watched {
    char *path;                /* NULL: not watched */
    app_file_sig applied, seen;
} app_watched;

struct app {
    svc *svc;
    kapi *api;                 /* cluster mode only */
    rec *rec;                  /* cluster mode only */
    srv_route routes[APP_N_ROUTES];
    srv *server;
    srv *insecure;             /* the plaintext listener, or NULL */
    certs_pair tls;
    char *client_ca;           /* PEM, or NULL: callers are not asked */
    atomic_llong cert_not_after;
    atomic_bool ready;

    /* the reload loop */
    bool reload_inited;
    pthread_t reloader;
    bool reloader_running;
    sp_stop stop;
    unsigned period_ms;
    app_watched cert, key, policy;
    atomic_ullong cert_reloads[2];  /* [failed] */

    /* certificates from a Secret (app_certs.c), or certmgr NULL */
    certmgr *certmgr;
    unsigned cert_check_s;
    int64_t cert_next_check;   /* unix seconds */
    bool cert_was_leader;      /* at the last sync or refresh */
};

/* --tls-secret: the serving pair from the Secret into a->tls (the Secret is
 * created when missing; one without a usable pair gives a throwaway pair
 * until it is repaired). Needs a->api. */
sp_rc app_certs_load(app *a, const app_config *cfg, sp_err *err)
    __attribute__((warn_unused_result));

/* From the reload loop: once per check period, sync (leader) or re-read
 * (others) the Secret, and serve a pair that changed. */
void app_certs_tick(app *a);

/* Start the reload loop for what cfg names (files given on the command
 * line); a no-op when nothing is watched. */
sp_rc app_reload_start(app *a, const app_config *cfg, sp_err *err)
    __attribute__((warn_unused_result));

/* Serve pair (copied) from the next handshake on; a pair that does not
 * load changes nothing. */
sp_rc app_serve_pair(app *a, const certs_pair *pair, sp_err *err)
    __attribute__((warn_unused_result));

/* Stop the loop and free what it holds; safe when it never started. */
void app_reload_stop(app *a);

/* Append the reload metrics (Prometheus text). */
sp_rc app_reload_metrics(app *a, sp_buf *out) __attribute__((warn_unused_result));

#endif /* SP_APP_INTERNAL_H */
