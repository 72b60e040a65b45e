/*
 * The certificate manager's public calls (certmgr.h): checking the
 * configuration, and load, sync and refresh, each a read of the Secret
 * followed by what the caller's role allows. load creates a missing Secret
 * (and takes the one another replica created first); sync plans the next
 * contents (certmgr_plan.c), publishes their trust bundle and only then
 * writes the Secret, so that clients trust a CA before anything it signed is
 * served, and starts over from a fresh read when the write meets a 409;
 * refresh only reads. One call runs at a time; the metrics are atomics that
 * the server's threads read while a call runs.
 */
#include "certmgr/certmgr_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "util/sp_alloc.h"
#include "util/sp_str.h"

#define NAME_MAX_LEN 253           /* a DNS subdomain: Secret, ConfigMap, webhook names */
#define LABEL_MAX_LEN 63           /* a DNS label: a namespace */
#define SECONDS_PER_DAY 86400

/* ------------------------------------------------------------------------ */
/* Configuration                                                              */
/* ------------------------------------------------------------------------ */

/* A DNS subdomain (RFC 1123) of at most max bytes, or with max
 * LABEL_MAX_LEN a DNS label (no '.'): lowercase letters, digits, '-' and
 * '.', with a letter or digit at both ends of every label. */
static bool dns_name(const char *s, size_t max)
{
    size_t len = s ? strlen(s) : 0;

    if (len == 0 || len > max)
        return false;
    for (size_t i = 0; i < len; i++) {
        bool alnum = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9');
        bool edge = i == 0 || i == len - 1 || s[i - 1] == '.' || s[i + 1] == '.';
        bool dot_ok = s[i] == '.' && max != LABEL_MAX_LEN;

        if (!alnum && (edge || (s[i] != '-' && !dot_ok)))
            return false;
    }
    return true;
}

static sp_rc check_name(const char *what, const char *s, size_t max, sp_err *err)
{
    if (dns_name(s, max))
        return SP_OK;
    return sp_err_set(err, SP_EINVAL, "%s '%s' is not a Kubernetes name: lowercase letters, "
                      "digits, '-'%s, at most %zu, a letter or digit at each end", what,
                      s ? s : "", max == LABEL_MAX_LEN ? "" : " and '.'", max);
}

static sp_rc check_durations(const certmgr *m, sp_err *err)
{
    int64_t shortest = (int64_t)(m->serving_days < m->ca_days ? m->serving_days : m->ca_days) *
                       SECONDS_PER_DAY;

    if (m->serving_days < 1 || m->serving_days > CERTMGR_MAX_DAYS || m->ca_days < 1 ||
        m->ca_days > CERTMGR_MAX_DAYS)
        return sp_err_set(err, SP_EINVAL, "certificate lifetimes of %d (serving) and %d (CA) "
                          "days are out of range: 1 to %d, 0 for the defaults %d and %d",
                          m->serving_days, m->ca_days, CERTMGR_MAX_DAYS, CERTMGR_SERVING_DAYS,
                          CERTMGR_CA_DAYS);
    if (m->overlap_s < 1 || 3 * m->overlap_s > shortest)
        return sp_err_set(err, SP_EINVAL, "an overlap of %" PRId64 " s must be positive and "
                          "at most a third of the shorter lifetime (%" PRId64 " s); give a "
                          "shorter overlap or longer lifetimes", m->overlap_s, shortest / 3);
    if (m->key_type != CERTS_KEY_ECDSA_P256 && m->key_type != CERTS_KEY_RSA_2048)
        return sp_err_set(err, SP_EINVAL, "unknown key type %d (ECDSA P-256 or RSA 2048)",
                          (int)m->key_type);
    return SP_OK;
}

/* Append each of svc's names not listed yet to m->dns. */
static sp_rc add_service(certmgr *m, size_t *cap, const char *svc, sp_err *err)
{
    char **names = NULL;
    size_t n = 0;
    sp_rc rc = certs_service_names(svc, m->ns, &names, &n);

    if (rc == SP_EINVAL)
        return sp_err_set(err, rc, "Service '%s' is not a Service name: lowercase letters, "
                          "digits and '-', at most 63, starting with a letter", svc ? svc : "");
    for (size_t i = 0; i < n && !rc; i++) {
        bool listed = false;

        for (size_t j = 0; j < m->n_dns && !listed; j++)
            listed = strcmp(m->dns[j], names[i]) == 0;
        if (listed)
            continue;
        if (sp_grow(&m->dns, cap, m->n_dns + 1, sizeof(*m->dns))) {
            rc = SP_ENOMEM;
        } else {
            m->dns[m->n_dns++] = names[i];
            names[i] = NULL;
        }
    }
    sp_strv_free(names, n);
    return rc ? sp_err_set(err, rc, "out of memory") : SP_OK;
}

static sp_rc copy_names(certmgr *m, const certmgr_config *cfg, sp_err *err)
{
    m->ns = sp_strdup(cfg->namespace_ ? cfg->namespace_ : kapi_namespace(cfg->api));
    m->secret = sp_strdup(cfg->secret);
    m->configmap = cfg->ca_configmap ? sp_strdup(cfg->ca_configmap) : NULL;
    m->webhooks = cfg->n_webhook_configs ? sp_calloc(cfg->n_webhook_configs, sizeof(char *))
                                         : NULL;
    if (!m->ns || !m->secret || (cfg->ca_configmap && !m->configmap) ||
        (cfg->n_webhook_configs && !m->webhooks))
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    for (; m->n_webhooks < cfg->n_webhook_configs; m->n_webhooks++)
        if (!(m->webhooks[m->n_webhooks] = sp_strdup(cfg->webhook_configs[m->n_webhooks])))
            return sp_err_set(err, SP_ENOMEM, "out of memory");
    return SP_OK;
}

/* Every name a Kubernetes name, then the Services' DNS names into m->dns. */
static sp_rc check_names(certmgr *m, const certmgr_config *cfg, sp_err *err)
{
    size_t cap = 0;
    sp_rc rc = check_name("namespace", m->ns, LABEL_MAX_LEN, err);

    if (!rc)
        rc = check_name("Secret", m->secret, NAME_MAX_LEN, err);
    if (!rc && m->configmap)
        rc = check_name("ConfigMap", m->configmap, NAME_MAX_LEN, err);
    for (size_t i = 0; i < m->n_webhooks && !rc; i++)
        rc = check_name("webhook configuration", m->webhooks[i], NAME_MAX_LEN, err);
    if (!rc && cfg->n_services == 0)
        rc = sp_err_set(err, SP_EINVAL, "no Service given: the serving certificate must cover "
                        "the Service (or Services) that clients call");
    for (size_t i = 0; i < cfg->n_services && !rc; i++)
        rc = add_service(m, &cap, cfg->services[i], err);
    return rc;
}

sp_rc certmgr_new(const certmgr_config *cfg, certmgr **out, sp_err *err)
{
    certmgr *m;
    sp_rc rc;

    *out = NULL;
    if (!cfg || !cfg->api || !cfg->secret || (cfg->n_services && !cfg->services) ||
        (cfg->n_webhook_configs && !cfg->webhook_configs))
        return sp_err_set(err, SP_EINVAL, "certmgr needs an API client, a Secret name and "
                          "the lists its counts announce");
    m = sp_calloc(1, sizeof(*m));
    if (!m)
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    pthread_mutex_init(&m->lock, NULL);
    m->api = cfg->api;
    m->serving_days = cfg->serving_days ? cfg->serving_days : CERTMGR_SERVING_DAYS;
    m->ca_days = cfg->ca_days ? cfg->ca_days : CERTMGR_CA_DAYS;
    m->overlap_s = cfg->overlap_s ? cfg->overlap_s : CERTMGR_OVERLAP_S;
    m->key_type = cfg->key_type;
    m->report = cfg->report;
    m->report_ctx = cfg->report_ctx;
    rc = copy_names(m, cfg, err);
    if (!rc)
        rc = check_names(m, cfg, err);
    if (!rc)
        rc = check_durations(m, err);
    if (rc) {
        certmgr_free(m);
        return rc;
    }
    *out = m;
    return SP_OK;
}

void certmgr_free(certmgr *m)
{
    if (!m)
        return;
    sp_free(m->ns);
    sp_free(m->secret);
    sp_free(m->configmap);
    sp_strv_free(m->webhooks, m->n_webhooks);
    sp_strv_free(m->dns, m->n_dns);
    certs_pair_free(&m->last);
    pthread_mutex_destroy(&m->lock);
    sp_free(m);
}

/* ------------------------------------------------------------------------ */
/* Telling                                                                    */
/* ------------------------------------------------------------------------ */

void certmgr_tell(const certmgr *m, sp_log_level level, const char *event, const char *text)
{
    sp_log(level, event, "detail", text, NULL);
    if (m->report)
        m->report(m->report_ctx, text);
}

/* A written plan: its notes, and its certificates in the metrics unless it
 * created the Secret (nothing was replaced). */
static void tell_plan(certmgr *m, const certmgr_plan *p, bool replaced)
{
    for (size_t i = 0; i < p->n_notes; i++)
        certmgr_tell(m, p->notes[i].level, p->notes[i].event, p->notes[i].text);
    if (replaced && p->new_ca)
        atomic_fetch_add(&m->ca_rotations, 1);
    if (replaced && p->new_serving)
        atomic_fetch_add(&m->serving_rotations, 1);
}

/* ------------------------------------------------------------------------ */
/* The pair handed out                                                        */
/* ------------------------------------------------------------------------ */

/* c's serving pair into *pair (owned), the CA expiry gauge from it. */
static sp_rc take_pair(certmgr *m, const certmgr_contents *c, certs_pair *pair, sp_err *err)
{
    int64_t ca_not_after = 0;
    sp_rc rc = certmgr_usable_pair(m, c, pair, &ca_not_after, err);

    if (!rc && ca_not_after)
        atomic_store(&m->ca_expiry, ca_not_after);
    return rc;
}

/* Hand pair (taken) out when it differs from the last one handed out, or
 * always with force: *changed says whether it differs, and *out holds it
 * when handed out (else *out is left empty). */
static sp_rc hand_out(certmgr *m, certs_pair *pair, bool force, bool *changed, certs_pair *out,
                      sp_err *err)
{
    bool same = m->last.cert_pem && strcmp(m->last.cert_pem, pair->cert_pem) == 0 &&
                strcmp(m->last.key_pem, pair->key_pem) == 0;
    certs_pair copy;

    *changed = !same;
    if (same && !force) {
        certs_pair_free(pair);
        return SP_OK;
    }
    copy.cert_pem = sp_strdup(pair->cert_pem);
    copy.key_pem = sp_strdup(pair->key_pem);
    if (!copy.cert_pem || !copy.key_pem) {
        certs_pair_free(&copy);
        certs_pair_free(pair);
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    }
    certs_pair_free(&m->last);
    m->last = copy;
    *out = *pair;
    pair->cert_pem = pair->key_pem = NULL;
    return SP_OK;
}

static sp_rc still_conflicting(const certmgr *m, sp_err *err)
{
    return sp_err_set(err, SP_ECONFLICT, "Secret %s/%s: still conflicting after %d attempts: "
                      "another writer keeps changing it; the next sync tries again", m->ns,
                      m->secret, CERTMGR_ATTEMPTS);
}

/* Count a failed call. */
static sp_rc counted(certmgr *m, sp_rc rc)
{
    if (rc)
        atomic_fetch_add(&m->sync_errors, 1);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* load                                                                       */
/* ------------------------------------------------------------------------ */

/* Create the Secret from nothing; *conflict when another replica was first. */
static sp_rc create_secret(certmgr *m, int64_t now, certs_pair *pair, bool *conflict,
                           sp_err *err)
{
    certmgr_plan plan;
    sp_rc rc = certmgr_plan_next(m, NULL, now, &plan, err);

    if (!rc)
        rc = certmgr_secret_write(m, NULL, &plan.next, conflict, err);
    if (!rc && !*conflict) {
        tell_plan(m, &plan, false);
        rc = take_pair(m, &plan.next, pair, err);
    }
    certmgr_plan_free(&plan);
    return rc;
}

static sp_rc load_locked(certmgr *m, int64_t now, certs_pair *pair, sp_err *err)
{
    for (int i = 0; i < CERTMGR_ATTEMPTS; i++) {
        certmgr_contents cur;
        cJSON *obj = NULL;
        bool conflict = false;
        sp_rc rc = certmgr_secret_read(m, &obj, &cur, err);

        if (!rc && obj)
            rc = take_pair(m, &cur, pair, err);
        else if (!rc)
            rc = create_secret(m, now, pair, &conflict, err);
        cJSON_Delete(obj);
        certmgr_contents_free(&cur);
        if (rc || !conflict)
            return rc;
    }
    return still_conflicting(m, err);
}

sp_rc certmgr_load(certmgr *m, int64_t now, certs_pair *out, sp_err *err)
{
    certs_pair pair = { NULL, NULL };
    bool changed;
    sp_rc rc;

    out->cert_pem = out->key_pem = NULL;
    pthread_mutex_lock(&m->lock);
    rc = load_locked(m, now, &pair, err);
    if (!rc)
        rc = hand_out(m, &pair, true, &changed, out, err);
    pthread_mutex_unlock(&m->lock);
    return counted(m, rc);
}

/* ------------------------------------------------------------------------ */
/* sync and refresh                                                           */
/* ------------------------------------------------------------------------ */

/* One round: read, plan, publish, write. *conflict when the write met a 409
 * (nothing written); else *pair is the serving pair now in the Secret. */
static sp_rc sync_once(certmgr *m, int64_t now, certs_pair *pair, bool *conflict, sp_err *err)
{
    certmgr_contents cur;
    certmgr_plan plan;
    cJSON *obj = NULL;
    sp_rc rc = certmgr_secret_read(m, &obj, &cur, err);

    memset(&plan, 0, sizeof(plan));
    *conflict = false;
    if (!rc)
        rc = certmgr_plan_next(m, obj ? &cur : NULL, now, &plan, err);
    if (!rc)
        rc = certmgr_publish(m, plan.next.ca.cert_pem, err);
    if (!rc && plan.changed)
        rc = certmgr_secret_write(m, obj, &plan.next, conflict, err);
    if (!rc && !*conflict) {
        tell_plan(m, &plan, obj != NULL);
        rc = take_pair(m, &plan.next, pair, err);
    }
    certmgr_plan_free(&plan);
    certmgr_contents_free(&cur);
    cJSON_Delete(obj);
    return rc;
}

sp_rc certmgr_sync(certmgr *m, int64_t now, bool *changed, certs_pair *out, sp_err *err)
{
    certs_pair pair = { NULL, NULL };
    bool conflict = true;
    sp_rc rc = SP_OK;

    out->cert_pem = out->key_pem = NULL;
    *changed = false;
    pthread_mutex_lock(&m->lock);
    for (int i = 0; i < CERTMGR_ATTEMPTS && conflict && !rc; i++)
        rc = sync_once(m, now, &pair, &conflict, err);
    if (!rc && conflict)
        rc = still_conflicting(m, err);
    if (!rc)
        rc = hand_out(m, &pair, false, changed, out, err);
    pthread_mutex_unlock(&m->lock);
    return counted(m, rc);
}

static sp_rc refresh_locked(certmgr *m, certs_pair *pair, sp_err *err)
{
    certmgr_contents cur;
    cJSON *obj = NULL;
    sp_rc rc = certmgr_secret_read(m, &obj, &cur, err);

    if (!rc && !obj)
        rc = sp_err_set(err, SP_ENOTFOUND, "Secret %s/%s does not exist; the leading replica "
                        "creates it at its next sync", m->ns, m->secret);
    if (!rc)
        rc = take_pair(m, &cur, pair, err);
    certmgr_contents_free(&cur);
    cJSON_Delete(obj);
    return rc;
}

sp_rc certmgr_refresh(certmgr *m, bool *changed, certs_pair *out, sp_err *err)
{
    certs_pair pair = { NULL, NULL };
    sp_rc rc;

    out->cert_pem = out->key_pem = NULL;
    *changed = false;
    pthread_mutex_lock(&m->lock);
    rc = refresh_locked(m, &pair, err);
    if (!rc)
        rc = hand_out(m, &pair, false, changed, out, err);
    pthread_mutex_unlock(&m->lock);
    return counted(m, rc);
}

/* ------------------------------------------------------------------------ */
/* Metrics                                                                    */
/* ------------------------------------------------------------------------ */

sp_rc certmgr_metrics_write(certmgr *m, sp_buf *out)
{
    int64_t expiry = atomic_load(&m->ca_expiry);
    sp_rc rc;

    rc = sp_buf_printf(out,
                       "# HELP streams_placer_cert_rotations_total Certificates this replica "
                       "issued to replace others, by certificate.\n"
                       "# TYPE streams_placer_cert_rotations_total counter\n"
                       "streams_placer_cert_rotations_total{certificate=\"serving\"} %" PRIu64 "\n"
                       "streams_placer_cert_rotations_total{certificate=\"ca\"} %" PRIu64 "\n",
                       (uint64_t)atomic_load(&m->serving_rotations),
                       (uint64_t)atomic_load(&m->ca_rotations));
    if (!rc && expiry)
        rc = sp_buf_printf(out,
                           "# HELP streams_placer_ca_expiry_timestamp_seconds notAfter of the CA "
                           "that signed the serving certificate in use.\n"
                           "# TYPE streams_placer_ca_expiry_timestamp_seconds gauge\n"
                           "streams_placer_ca_expiry_timestamp_seconds %" PRId64 "\n",
                           expiry);
    if (!rc)
        rc = sp_buf_printf(out,
                           "# HELP streams_placer_cert_sync_errors_total Failed loads, syncs "
                           "and refreshes of the certificate Secret.\n"
                           "# TYPE streams_placer_cert_sync_errors_total counter\n"
                           "streams_placer_cert_sync_errors_total %" PRIu64 "\n",
                           (uint64_t)atomic_load(&m->sync_errors));
    return rc;
}
