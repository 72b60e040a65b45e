/*
 * Certificates from the cluster (app_internal.h): with --tls-secret the
 * serving pair is the one certmgr keeps in a Secret, shared by every
 * replica. At start the Secret is read (created when missing); then, from
 * the reload loop, once per check period the leader advances the rotation
 * and publishes the trust bundle (certmgr_sync) while the others re-read
 * the Secret (certmgr_refresh). A pair that changed is served from the next
 * handshake on, with no connection dropped. Failures keep the pair in use;
 * certmgr logs and counts them. A Secret without a usable serving pair does
 * not stop a replica from starting (then none could lead and repair it): it
 * serves a throwaway pair, which no caller trusts, until the leader's
 * repair reaches it.
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

/* A throwaway self-signed pair in memory, to serve until the Secret is
 * repaired: callers verify against the Secret's CA, so none trusts it. */
static sp_rc make_stand_in(certs_pair *out, sp_err *err)
{
    static const char *const dns[] = { "stand-in.invalid" };
    certs_spec spec = { .common_name = "streams-placer stand-in", .dns = dns, .n_dns = 1,
                        .days = 1 };
    certs_pair ca = { NULL, NULL };
    sp_rc rc = certs_make_ca(&spec, &ca, err);

    if (!rc)
        rc = certs_make_serving(&ca, &spec, out, err);
    certs_pair_free(&ca);
    return rc;
}

/* certmgr_load, or on a Secret without a usable pair (SP_EPARSE) the
 * stand-in, logged. */
static sp_rc load_or_stand_in(app *a, const char *secret, sp_err *err)
{
    sp_rc rc = certmgr_load(a->certmgr, now_s(), &a->tls, err);

    if (rc != SP_EPARSE)
        return rc;
    sp_log(SP_LOG_ERROR, "certificate_secret_unusable", "secret", secret, "error", err->msg,
           "serving", "a throwaway certificate until the leader repairs the Secret", NULL);
    sp_err_clear(err);
    return make_stand_in(&a->tls, err);
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
        rc = load_or_stand_in(a, mc.secret, err);
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
    sp_rc rc = app_serve_pair(a, pair, &err);

    atomic_fetch_add(&a->cert_reloads[rc ? 1 : 0], 1);
    if (rc)
        sp_log(SP_LOG_ERROR, "certificate_rejected", "error", err.msg, "keeping",
               "the certificate in use", NULL);
    else
        sp_log(SP_LOG_INFO, "certificate_reloaded", "source", "secret", NULL);
}

void app_certs_tick(app *a)
{
    certs_pair pair = { NULL, NULL };
    sp_err err = { SP_OK, "" };
    bool changed = false;
    int64_t now = now_s();
    bool leader = !a->rec || rec_leader(a->rec);
    bool new_leader = leader && !a->cert_was_leader;
    sp_rc rc;

    if (!a->certmgr || (now < a->cert_next_check && !new_leader))
        return;
    /* a new leader syncs at once: the bundle may not be published yet */
    a->cert_was_leader = leader;
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
