/*
 * Certificates managed in the cluster. A Secret holds the trust bundle
 * (ca.crt: every CA clients should trust, the signing one first), the
 * signing CA's key (ca.key) and the serving pair (tls.crt, tls.key); every
 * replica loads it at start and followers re-read it. The leader advances a
 * rotation state machine kept entirely in the Secret (its contents and two
 * annotations), so that any replica can take over at any step and every step
 * is idempotent: the serving certificate is renewed when less than a third
 * of its lifetime is left (or it no longer fits: SANs, key, issuer); the CA
 * is rotated with an overlap in three steps (new CA signing and trusted
 * beside the old; after the overlap the serving certificate switches to it;
 * after another overlap the old CA is dropped). The trust bundle is
 * published, before the Secret changes, to a ConfigMap (kube-scheduler's
 * extender caFile) and to the caBundle of every webhook of the named
 * Validating and Mutating WebhookConfigurations, so that whatever is being
 * served always verifies against what clients trust. A Secret that is
 * malformed is repaired, loudly. Time is passed in, so tests drive it.
 */
#ifndef SP_CERTMGR_H
#define SP_CERTMGR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "certs/certs.h"
#include "kapi/kapi.h"
#include "util/sp_buf.h"
#include "util/sp_error.h"

#define CERTMGR_SERVING_DAYS 365       /* serving_days 0 */
#define CERTMGR_CA_DAYS 3650           /* ca_days 0 */
#define CERTMGR_OVERLAP_S 600          /* overlap_s 0 */
#define CERTMGR_ANN_CA_ROTATED "placement.streams.io/ca-rotated-at"
#define CERTMGR_ANN_SERVING_ISSUED "placement.streams.io/serving-issued-at"

typedef struct certmgr_config {
    kapi *api;                         /* borrowed; outlives the certmgr */
    const char *namespace_;            /* of the Secret, ConfigMap and Services;
                                          NULL: kapi_namespace(api) */
    const char *secret;                /* the Secret: ca.crt, ca.key, tls.crt, tls.key */
    const char *ca_configmap;          /* NULL: none; else a ConfigMap whose ca.crt is
                                          the trust bundle */
    const char *const *webhook_configs; /* caBundle goes into every webhook of the
                                          Validating and the Mutating
                                          WebhookConfiguration of each name */
    size_t n_webhook_configs;
    const char *const *services;       /* SANs svc, svc.ns, svc.ns.svc,
                                          svc.ns.svc.cluster.local of each; one at least */
    size_t n_services;
    int serving_days;                  /* 0: CERTMGR_SERVING_DAYS */
    int ca_days;                       /* 0: CERTMGR_CA_DAYS */
    int64_t overlap_s;                 /* 0: CERTMGR_OVERLAP_S; both CAs are trusted
                                          this long before the serving certificate
                                          switches, and after */
    certs_key_type key_type;           /* of new keys, CA and serving */
    /* Called with one line for each thing done (the Secret created, a step
     * of a rotation, a caBundle injected); NULL: none. Everything is logged
     * either way. */
    void (*report)(void *ctx, const char *line);
    void *report_ctx;
} certmgr_config;

typedef struct certmgr certmgr;

/* A manager for cfg (copied; api borrowed). Checks the names (Kubernetes
 * names, a Service at least) and the durations; talks to nobody yet. */
sp_rc certmgr_new(const certmgr_config *cfg, certmgr **out, sp_err *err)
    __attribute__((warn_unused_result));
void certmgr_free(certmgr *m);

/*
 * Any replica, at start: read the Secret; when it is missing, create it (a
 * new CA and serving pair dated from now), and when another replica created
 * it first (409), read theirs. *out: the serving pair (certificate and key
 * PEM; free with certs_pair_free). A Secret whose serving pair is unusable
 * (missing, unparsable, key not matching) is an error: only the leader
 * repairs (certmgr_sync).
 */
sp_rc certmgr_load(certmgr *m, int64_t now, certs_pair *out, sp_err *err)
    __attribute__((warn_unused_result));

/*
 * The leader, periodically (now: unix seconds): advance the rotation, publish
 * the trust bundle to the ConfigMap and every webhook (writing only what
 * differs) and then write the Secret when anything changed; 409s re-read and
 * retry a bounded number of times. *changed: the serving pair differs from
 * the last one this manager returned, which is then in *out (owned: free
 * with certs_pair_free); otherwise *out is empty. On error nothing was
 * written to the Secret.
 */
sp_rc certmgr_sync(certmgr *m, int64_t now, bool *changed, certs_pair *out, sp_err *err)
    __attribute__((warn_unused_result));

/* Followers, periodically, and more often than overlap_s (so that none still
 * serves a certificate whose CA step 3 drops): re-read the Secret; *changed
 * and *out as for certmgr_sync. An unusable pair is an error (the one in use
 * stays). */
sp_rc certmgr_refresh(certmgr *m, bool *changed, certs_pair *out, sp_err *err)
    __attribute__((warn_unused_result));

/*
 * Append Prometheus text: streams_placer_cert_rotations_total{certificate=
 * "serving"|"ca"} (certificates this replica issued to replace others),
 * streams_placer_ca_expiry_timestamp_seconds (the notAfter of the CA that
 * signed the serving certificate last returned; absent until one was), and
 * streams_placer_cert_sync_errors_total (failed load, sync and refresh
 * calls). Safe to call from any thread, during the calls above.
 */
sp_rc certmgr_metrics_write(certmgr *m, sp_buf *out) __attribute__((warn_unused_result));

#endif /* SP_CERTMGR_H */
