/*
 * Certificates from the cluster (app_internal.h): with --tls-secret the
 * serving pair is the one certmgr keeps in a Secret, shared by every
 * replica. At start the Secret is read (created when missing); then, from
 * the reload loop, once per check period the leader advances the rotation
 * and publishes the trust bundle (certmgr_sync) while the others re-read
 * the Secret (certmgr_refresh). A pair that changed is served from the next
 * handshake on, with no connection dropped. Failures keep the pair in use;
 * certmgr logs and counts them.
 */
#include <time.h>

#include "app/app_internal.h"
#include "util/sp_log.h"

#define DEFAULT_CHECK_PERIOD_S 60

/* certmgr's one line per thing done, as a log record. */
static void log_done(void *ctx, const char *line)
{
    (void)ctx;
    sp_log(SP_LOG_INFO, "certificates", "done", line, NULL);
}

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

sp_rc app_certs_load(app *a, const app_config *cfg, sp_err *err)
{
    certmgr_config mc = cfg->certs;
    int64_t overlap = mc.overlap_s ? mc.overlap_s : CERTMGR_OVERLAP_S, not_after = 0;
    sp_rc rc;

    a->cert_check_s = cfg->cert_check_period_s ? cfg->cert_check_period_s
                                               : DEFAULT_CHECK_PERIOD_S;
    if (!a->api)
        return sp_err_set(err, SP_EINVAL, "certificates from Secret %s need cluster mode",
                          mc.secret);
    /* followers must pick up each step before the next one drops a CA */
    if (a->cert_check_s >= overlap)
        return sp_err_set(err, SP_EINVAL, "the certificate check period (%u s) must be "
                          "shorter than the overlap (%lld s)", a->cert_check_s,
                          (long long)overlap);
    mc.api = a->api;
    mc.report = log_done;
    mc.report_ctx = NULL;
    rc = certmgr_new(&mc, &a->certmgr, err);
    if (!rc)
        rc = certmgr_load(a->certmgr, now_s(), &a->tls, err);
    if (!rc)
        rc = certs_not_after(a->tls.cert_pem, &not_after, err);
    atomic_store(&a->cert_not_after, not_after);
    a->cert_next_check = now_s();
    if (!rc)
        sp_log(SP_LOG_INFO, "certificate_loaded", "secret", mc.secret, NULL);
    return rc;
}

/* Serve pair from the next handshake on. */
static void serve_pair(app *a, const certs_pair *pair)
{
    sp_err err = { SP_OK, "" };
    int64_t not_after = 0;
    sp_rc rc = certs_not_after(pair->cert_pem, &not_after, &err);

    if (!rc)
        rc = srv_set_certificate(a->server, pair->cert_pem, pair->key_pem, &err);
    atomic_fetch_add(&a->cert_reloads[rc ? 1 : 0], 1);
    if (rc) {
        sp_log(SP_LOG_ERROR, "certificate_rejected", "error", err.msg, "keeping",
               "the certificate in use", NULL);
        return;
    }
    atomic_store(&a->cert_not_after, not_after);
    sp_log(SP_LOG_INFO, "certificate_reloaded", "source", "secret", NULL);
}

void app_certs_tick(app *a)
{
    certs_pair pair = { NULL, NULL };
    sp_err err = { SP_OK, "" };
    bool changed = false;
    int64_t now = now_s();
    bool leader = !a->rec || rec_leader(a->rec);
    sp_rc rc;

    if (!a->certmgr || now < a->cert_next_check)
        return;
    a->cert_next_check = now + a->cert_check_s;
    rc = leader ? certmgr_sync(a->certmgr, now, &changed, &pair, &err)
                : certmgr_refresh(a->certmgr, &changed, &pair, &err);
    if (rc)
        sp_log(SP_LOG_ERROR, leader ? "certificate_sync_failed" : "certificate_refresh_failed",
               "error", err.msg, "keeping", "the certificate in use", NULL);
    else if (changed)
        serve_pair(a, &pair);
    certs_pair_free(&pair);
}
