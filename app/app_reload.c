/*
 * The reload loop (app_internal.h): every period it looks at the serving
 * certificate, its key and the policy file (stat, following symbolic links
 * as a mounted Secret or ConfigMap swaps them), and applies what changed:
 * a new certificate to the next TLS handshake (srv_set_certificate, no
 * connection dropped), a new policy to the next decision
 * (svc_reload_policy); and it lets app_certs.c sync certificates kept in
 * a Secret. Whatever fails to load changes nothing: the server
 * goes on with what it had, logs why and counts it in /metrics.
 */
#include <string.h>
#include <time.h>

#include "app/app_internal.h"
#include "util/sp_alloc.h"
#include "util/sp_log.h"

#define DEFAULT_PERIOD_MS 2000

/* ------------------------------------------------------------------------ */
/* Watched files                                                              */
/* ------------------------------------------------------------------------ */

static app_file_sig sig_of(const char *path)
{
    app_file_sig s = { 0 };
    struct stat st;

    if (stat(path, &st) == 0) {
        s.exists = true;
        s.dev = st.st_dev;
        s.ino = st.st_ino;
        s.size = st.st_size;
        s.mtime = st.st_mtim;
    }
    return s;
}

static bool same_sig(const app_file_sig *a, const app_file_sig *b)
{
    return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino &&
           a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
           a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static sp_rc watch(app_watched *w, const char *path)
{
    if (!path)
        return SP_OK;
    if (!(w->path = sp_strdup(path)))
        return SP_ENOMEM;
    w->applied = w->seen = sig_of(path);
    return SP_OK;
}

/* True when w changed since it was applied and has held still since the
 * previous look; it then counts as applied (a failed load is not retried
 * until the file changes again). */
static bool settled_change(app_watched *w)
{
    app_file_sig now;
    bool settled;

    if (!w->path)
        return false;
    now = sig_of(w->path);
    settled = same_sig(&now, &w->seen) && !same_sig(&now, &w->applied);
    w->seen = now;
    if (settled)
        w->applied = now;
    return settled;
}

/* ------------------------------------------------------------------------ */
/* Reloading                                                                  */
/* ------------------------------------------------------------------------ */

sp_rc app_serve_pair(app *a, const certs_pair *pair, sp_err *err)
{
    int64_t not_after = 0;
    sp_rc rc = certs_not_after(pair->cert_pem, &not_after, err);

    if (!rc)
        rc = srv_set_certificate(a->server, pair->cert_pem, pair->key_pem, err);
    if (!rc)
        atomic_store(&a->cert_not_after, not_after);
    return rc;
}

static sp_rc swap_certificate(app *a, sp_err *err)
{
    certs_pair pair = { 0 };
    sp_rc rc = certs_load_pair(a->cert.path, a->key.path, &pair, err);

    if (!rc)
        rc = app_serve_pair(a, &pair, err);
    certs_pair_free(&pair);
    return rc;
}

static void reload_certificate(app *a)
{
    sp_err err = { SP_OK, "" };
    char when[32];
    sp_rc rc = swap_certificate(a, &err);

    atomic_fetch_add(&a->cert_reloads[rc ? 1 : 0], 1);
    if (rc) {
        sp_log(SP_LOG_ERROR, "certificate_rejected", "cert", a->cert.path, "key", a->key.path,
               "error", err.msg, "keeping", "the certificate in use", NULL);
        return;
    }
    snprintf(when, sizeof(when), "%lld", (long long)atomic_load(&a->cert_not_after));
    sp_log(SP_LOG_INFO, "certificate_reloaded", "cert", a->cert.path, "not_after", when, NULL);
}

/* One look at every watched file. Both halves of the pair are looked at
 * every time, so that a change to either reloads the two together. */
static void look(app *a)
{
    sp_err err = { SP_OK, "" };
    bool cert = settled_change(&a->cert);

    if (settled_change(&a->key) || cert)
        reload_certificate(a);
    if (settled_change(&a->policy) && svc_reload_policy(a->svc, &err))
        sp_log(SP_LOG_ERROR, "policy_rejected", "path", a->policy.path, "error", err.msg,
               "keeping", "the last good policy", NULL);
    app_certs_tick(a);
}

static void *reload_loop(void *arg)
{
    app *a = arg;

    while (sp_stop_nap(&a->stop, a->period_ms))
        look(a);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Lifetime and metrics                                                       */
/* ------------------------------------------------------------------------ */

sp_rc app_reload_start(app *a, const app_config *cfg, sp_err *err)
{
    sp_rc rc;

    sp_stop_init(&a->stop);
    a->reload_inited = true;
    a->period_ms = cfg->reload_period_ms ? cfg->reload_period_ms : DEFAULT_PERIOD_MS;
    rc = watch(&a->cert, cfg->cert_path);
    if (!rc)
        rc = watch(&a->key, cfg->key_path);
    if (!rc)
        rc = watch(&a->policy, cfg->svc.policy_path);
    if (rc)
        return sp_err_set(err, rc, "out of memory");
    if (!a->cert.path && !a->policy.path && !a->certmgr)
        return SP_OK;
    if (pthread_create(&a->reloader, NULL, reload_loop, a))
        return sp_err_set(err, SP_EIO, "cannot start the reload thread");
    a->reloader_running = true;
    return SP_OK;
}

void app_reload_stop(app *a)
{
    if (!a->reload_inited)
        return;
    if (a->reloader_running) {
        sp_stop_raise(&a->stop);
        pthread_join(a->reloader, NULL);
        a->reloader_running = false;
    }
    sp_free(a->cert.path);
    sp_free(a->key.path);
    sp_free(a->policy.path);
    sp_stop_destroy(&a->stop);
}

sp_rc app_reload_metrics(app *a, sp_buf *out)
{
    return sp_buf_printf(out,
        "# HELP streams_placer_cert_reloads_total Serving certificate reloads, by result.\n"
        "# TYPE streams_placer_cert_reloads_total counter\n"
        "streams_placer_cert_reloads_total{result=\"success\"} %llu\n"
        "streams_placer_cert_reloads_total{result=\"error\"} %llu\n"
        "# HELP streams_placer_cert_expiry_timestamp_seconds notAfter of the serving certificate.\n"
        "# TYPE streams_placer_cert_expiry_timestamp_seconds gauge\n"
        "streams_placer_cert_expiry_timestamp_seconds %lld\n",
        atomic_load(&a->cert_reloads[0]), atomic_load(&a->cert_reloads[1]),
        (long long)atomic_load(&a->cert_not_after));
}
