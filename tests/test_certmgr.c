/*
 * Tests of the certificate manager (certmgr/) against the fake
 * kube-apiserver (tests/kfake.c), everything read back from the fake's
 * store and checked with OpenSSL itself (X509_verify_cert for the SSL-server
 * purpose, with the host name, at the test's clock): creation on an empty
 * cluster (the Secret's four keys and annotations, the ConfigMap, every
 * webhook of both configurations), two replicas racing to create, serving
 * renewal at two thirds of its life and not before, a CA rotation through
 * its three steps with, at every step, the serving certificate in use (and
 * the one before it, still served by followers) verifying against every
 * published bundle, malformed Secrets repaired, API faults that fail a sync
 * without changing the Secret, followers that see the leader's rotation,
 * the checks of the configuration and the metrics, and the planner out of
 * memory at every allocation (never mistaking it for a malformed Secret,
 * which would replace the CA). The certs_bundle.c helpers are tested first,
 * on their own.
 */
#include <cjson/cJSON.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "certmgr/certmgr.h"
#include "certmgr/certmgr_internal.h"
#include "tests/kfake.h"
#include "tests/test_util.h"
#include "util/sp_buf.h"
#include "util/sp_log.h"
#include "util/sp_str.h"

#define NS "sp-system"
#define SECRET "placer-certs"
#define CONFIGMAP "placer-ca"
#define WEBHOOK_CONFIG "streams-placer"
#define SECRETS "/api/v1/namespaces/" NS "/secrets"
#define CONFIGMAPS "/api/v1/namespaces/" NS "/configmaps"
#define VALIDATING "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
#define MUTATING "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
#define DAY 86400
#define HOST "streams-placer-webhook." NS ".svc"

static const char *const services[] = { "streams-placer-webhook", "streams-placer-extender" };
static const char *const webhook_configs[] = { WEBHOOK_CONFIG };

static char dir[256];
static kfake *fake;
static kapi *api;
static int64_t t0;
static sp_buf reported;

/* ------------------------------------------------------------------------ */
/* The fake cluster                                                           */
/* ------------------------------------------------------------------------ */

static void put_webhook_config(const char *kind, const char *collection)
{
    char json[2048];
    cJSON *o;

    snprintf(json, sizeof(json),
             "{\"apiVersion\":\"admissionregistration.k8s.io/v1\",\"kind\":\"%s\","
             "\"metadata\":{\"name\":\"" WEBHOOK_CONFIG "\"},\"webhooks\":["
             "{\"name\":\"pods.placement.streams.io\",\"clientConfig\":{\"service\":{"
             "\"name\":\"streams-placer-webhook\",\"namespace\":\"" NS "\",\"path\":"
             "\"/webhook/validate\"},\"caBundle\":\"Cg==\"},\"sideEffects\":\"None\","
             "\"admissionReviewVersions\":[\"v1\"]},"
             "{\"name\":\"hostpools.placement.streams.io\",\"clientConfig\":{\"service\":{"
             "\"name\":\"streams-placer-webhook\",\"namespace\":\"" NS "\",\"path\":"
             "\"/webhook/validate\"}},\"sideEffects\":\"None\","
             "\"admissionReviewVersions\":[\"v1\"]}]}",
             kind);
    o = cJSON_Parse(json);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_TRUE(kfake_put(fake, collection, o) > 0);
    cJSON_Delete(o);
}

static void cluster_up(void)
{
    kapi_config kc = { 0 };
    char kubeconfig[300];
    sp_err err = { SP_OK, "" };

    snprintf(dir, sizeof(dir), "/tmp/sp-certmgr-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    fake = kfake_start(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(fake);
    snprintf(kubeconfig, sizeof(kubeconfig), "%s/kubeconfig", dir);
    kc.kubeconfig = kubeconfig;
    kc.max_attempts = 1; /* a 5xx fails at once */
    if (kapi_new(&kc, &api, &err))
        fprintf(stderr, "\n  kapi_new: %s\n", err.msg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(api);
    put_webhook_config("ValidatingWebhookConfiguration", VALIDATING);
    put_webhook_config("MutatingWebhookConfiguration", MUTATING);
    sp_buf_init(&reported, 1 << 20);
    t0 = (int64_t)time(NULL);
}

static void cluster_down(void)
{
    char cmd[400];

    kapi_free(api);
    api = NULL;
    kfake_stop(fake);
    fake = NULL;
    sp_buf_free(&reported);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

static void report(void *ctx, const char *line)
{
    CU_ASSERT_EQUAL(sp_buf_printf(ctx, "%s\n", line), SP_OK);
}

static certmgr *manager(int serving_days, int ca_days, int64_t overlap_s)
{
    certmgr_config cfg = { 0 };
    sp_err err = { SP_OK, "" };
    certmgr *m = NULL;

    cfg.api = api;
    cfg.namespace_ = NS;
    cfg.secret = SECRET;
    cfg.ca_configmap = CONFIGMAP;
    cfg.webhook_configs = webhook_configs;
    cfg.n_webhook_configs = 1;
    cfg.services = services;
    cfg.n_services = 2;
    cfg.serving_days = serving_days;
    cfg.ca_days = ca_days;
    cfg.overlap_s = overlap_s;
    cfg.report = report;
    cfg.report_ctx = &reported;
    if (certmgr_new(&cfg, &m, &err))
        fprintf(stderr, "\n  certmgr_new: %s\n", err.msg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    return m;
}

/* sync at now; *changed returned, the pair (if any) into *pair. */
static bool sync_at(certmgr *m, int64_t now, certs_pair *pair)
{
    sp_err err = { SP_OK, "" };
    bool changed = false;
    certs_pair out;
    sp_rc rc = certmgr_sync(m, now, &changed, &out, &err);

    if (rc)
        fprintf(stderr, "\n  certmgr_sync: %s\n", err.msg);
    CU_ASSERT_EQUAL_FATAL(rc, SP_OK);
    CU_ASSERT_EQUAL(changed, out.cert_pem != NULL);
    if (pair && changed) {
        certs_pair_free(pair);
        *pair = out;
    } else {
        certs_pair_free(&out);
    }
    return changed;
}

/* ------------------------------------------------------------------------ */
/* Reading what the cluster holds                                             */
/* ------------------------------------------------------------------------ */

/* Standard base64 decoded, test side (OpenSSL's decoder); caller frees. */
static char *unbase64(const char *b64)
{
    size_t n = b64 ? strlen(b64) : 0;
    char *out = calloc(1, n + 1);
    int len;

    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    len = n ? EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)b64, (int)n) : 0;
    CU_ASSERT_TRUE_FATAL(len >= 0);
    while (n && b64[--n] == '=')
        len--;
    out[len] = '\0';
    return out;
}

static const cJSON *member(const cJSON *o, const char *path1, const char *path2)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, path1);

    return path2 ? cJSON_GetObjectItemCaseSensitive(v, path2) : v;
}

/* The Secret's data[key], decoded (caller frees), or NULL. */
static char *secret_key(const char *key)
{
    cJSON *s = kfake_get(fake, "secrets", NS, SECRET);
    const char *v = cJSON_GetStringValue(member(s, "data", key));
    char *text = v ? unbase64(v) : NULL;

    cJSON_Delete(s);
    return text;
}

static char *secret_annotation(const char *key)
{
    cJSON *s = kfake_get(fake, "secrets", NS, SECRET);
    const char *v = cJSON_GetStringValue(member(member(s, "metadata", "annotations"), key, NULL));
    char *copy = v ? strdup(v) : NULL;

    cJSON_Delete(s);
    return copy;
}

static char *secret_rv(void)
{
    cJSON *s = kfake_get(fake, "secrets", NS, SECRET);
    const char *v = cJSON_GetStringValue(member(s, "metadata", "resourceVersion"));
    char *copy = v ? strdup(v) : NULL;

    cJSON_Delete(s);
    return copy;
}

static size_t count_certs(const char *pem)
{
    size_t n = 0;

    for (const char *p = pem; p && (p = strstr(p, "-----BEGIN CERTIFICATE-----")); p++)
        n++;
    return n;
}

/* Every published bundle: the ConfigMap's, then each webhook's caBundle
 * (decoded), both configurations; *n of them, each freed by the caller. */
static size_t published(char **out, size_t max)
{
    const char *kinds[] = { VALIDATING, MUTATING };
    cJSON *cm = kfake_get(fake, "configmaps", NS, CONFIGMAP), *hook;
    const char *v = cJSON_GetStringValue(member(cm, "data", "ca.crt"));
    size_t n = 0;

    out[n++] = v ? strdup(v) : NULL;
    cJSON_Delete(cm);
    for (size_t k = 0; k < 2; k++) {
        cJSON *cfg = kfake_get(fake, kinds[k], NULL, WEBHOOK_CONFIG);

        cJSON_ArrayForEach(hook, cJSON_GetObjectItemCaseSensitive(cfg, "webhooks")) {
            v = cJSON_GetStringValue(member(hook, "clientConfig", "caBundle"));
            if (n < max)
                out[n++] = v ? unbase64(v) : NULL;
        }
        cJSON_Delete(cfg);
    }
    return n;
}

/* The ConfigMap and all four webhooks publish exactly bundle. */
static void assert_published(const char *bundle)
{
    char *got[8];
    size_t n = published(got, 8);

    CU_ASSERT_EQUAL(n, 5);
    for (size_t i = 0; i < n; i++) {
        SP_ASSERT_STR(got[i], bundle);
        free(got[i]);
    }
}

/* cert_pem chains to a CA of bundle_pem at `at`, for an SSL server named host. */
static bool verifies(const char *cert_pem, const char *bundle_pem, int64_t at, const char *host)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    BIO *bio = BIO_new_mem_buf(bundle_pem ? bundle_pem : "", -1);
    BIO *leaf_bio = BIO_new_mem_buf(cert_pem ? cert_pem : "", -1);
    X509 *leaf = PEM_read_bio_X509(leaf_bio, NULL, NULL, NULL), *x;
    X509_VERIFY_PARAM *param;
    bool ok = false;

    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
        X509_STORE_add_cert(store, x);
        X509_free(x);
    }
    if (leaf && X509_STORE_CTX_init(ctx, store, leaf, NULL) == 1) {
        param = X509_STORE_CTX_get0_param(ctx);
        X509_VERIFY_PARAM_set_time(param, (time_t)at);
        X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
        X509_VERIFY_PARAM_set1_host(param, host, 0);
        ok = X509_verify_cert(ctx) == 1;
    }
    ERR_clear_error();
    X509_free(leaf);
    BIO_free(leaf_bio);
    BIO_free(bio);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return ok;
}

/* cert_pem verifies at `at` against every published bundle. */
static bool verifies_everywhere(const char *cert_pem, int64_t at)
{
    char *got[8];
    size_t n = published(got, 8);
    bool ok = n == 5;

    for (size_t i = 0; i < n; i++) {
        ok = ok && verifies(cert_pem, got[i], at, HOST);
        free(got[i]);
    }
    return ok;
}

/* Write the Secret back with data[key] set to text (NULL: removed). */
static void corrupt(const char *key, const char *text)
{
    cJSON *s = kfake_get(fake, "secrets", NS, SECRET);
    cJSON *data = cJSON_GetObjectItemCaseSensitive(s, "data");
    char *b64;

    CU_ASSERT_PTR_NOT_NULL_FATAL(data);
    cJSON_DeleteItemFromObjectCaseSensitive(data, key);
    if (text) {
        b64 = calloc(1, 4 * (strlen(text) / 3 + 1) + 1);
        EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)text, (int)strlen(text));
        cJSON_AddStringToObject(data, key, b64);
        free(b64);
    }
    CU_ASSERT_TRUE(kfake_put(fake, "secrets", s) > 0);
    cJSON_Delete(s);
}

static bool key_matches(const char *cert, const char *key)
{
    sp_err err;
    bool yes = false;

    CU_ASSERT_EQUAL(certs_key_matches(cert, key, &yes, &err), SP_OK);
    return yes;
}

static bool issued_by(const char *cert, const char *ca)
{
    sp_err err;
    bool yes = false;

    CU_ASSERT_EQUAL(certs_issued_by(cert, ca, &yes, &err), SP_OK);
    return yes;
}

/* The first certificate of a bundle (caller frees). */
static char *first_cert(const char *bundle)
{
    const char *end = strstr(bundle, "-----END CERTIFICATE-----");

    CU_ASSERT_PTR_NOT_NULL_FATAL(end);
    return strndup(bundle, (size_t)(end - bundle) + strlen("-----END CERTIFICATE-----\n"));
}

/* The value of the sample line that starts with name (and labels). */
static uint64_t metric(certmgr *m, const char *name)
{
    char line_start[256];
    sp_buf b;
    const char *at;
    uint64_t v = UINT64_MAX;

    snprintf(line_start, sizeof(line_start), "\n%s", name);
    sp_buf_init(&b, 1 << 16);
    CU_ASSERT_EQUAL(certmgr_metrics_write(m, &b), SP_OK);
    at = b.data ? strstr(b.data, line_start) : NULL;
    if (at)
        v = strtoull(at + strlen(line_start), NULL, 10);
    sp_buf_free(&b);
    return v;
}

/* ------------------------------------------------------------------------ */
/* certs_bundle.c                                                             */
/* ------------------------------------------------------------------------ */

static void make_ca(certs_pair *ca)
{
    certs_spec spec = { .common_name = "test CA", .days = 30 };
    sp_err err;

    CU_ASSERT_EQUAL_FATAL(certs_make_ca(&spec, ca, &err), SP_OK);
}

static void make_serving(const certs_pair *ca, certs_pair *out)
{
    static const char *const dns[] = { "a.example", "b.example" };
    certs_spec spec = { .dns = dns, .n_dns = 2, .days = 10 };
    sp_err err;

    CU_ASSERT_EQUAL_FATAL(certs_make_serving(ca, &spec, out, &err), SP_OK);
}

static void test_bundle_split(void)
{
    certs_pair a, b;
    char *bundle, **certs = NULL;
    size_t n = 0, len;
    sp_err err;

    make_ca(&a);
    make_ca(&b);
    len = strlen(a.cert_pem) + strlen(b.cert_pem) + 128;

    bundle = calloc(1, len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(bundle);
    snprintf(bundle, len, "# first\n%s\nsome text\n%s", a.cert_pem, b.cert_pem);
    CU_ASSERT_EQUAL(certs_bundle_split(bundle, "ca.crt", &certs, &n, &err), SP_OK);
    CU_ASSERT_EQUAL(n, 2);
    if (n == 2) {
        SP_ASSERT_STR(certs[0], a.cert_pem);
        SP_ASSERT_STR(certs[1], b.cert_pem);
    }
    sp_strv_free(certs, n);
    CU_ASSERT_EQUAL(certs_bundle_split("garbage", "ca.crt", &certs, &n, &err), SP_EPARSE);
    SP_ASSERT_CONTAINS(err.msg, "ca.crt holds no certificate");
    CU_ASSERT_PTR_NULL(certs);
    CU_ASSERT_EQUAL(n, 0);
    /* a damaged second block: the whole bundle is refused */
    snprintf(bundle, len, "%s-----BEGIN CERTIFICATE-----\nAAAA!!!!\n-----END CERTIFICATE-----\n",
             a.cert_pem);
    CU_ASSERT_EQUAL(certs_bundle_split(bundle, "ca.crt", &certs, &n, &err), SP_EPARSE);
    SP_ASSERT_CONTAINS(err.msg, "ca.crt: certificate 2 is malformed");
    CU_ASSERT_EQUAL(ERR_peek_error(), 0);
    free(bundle);
    certs_pair_free(&a);
    certs_pair_free(&b);
}

static void test_bundle_checks(void)
{
    static const char *const covered[] = { "a.example", "B.example" };
    static const char *const more[] = { "a.example", "c.example" };
    certs_pair a, b, tls;
    bool yes = true;
    sp_err err;

    make_ca(&a);
    make_ca(&b);
    make_serving(&a, &tls);
    CU_ASSERT_TRUE(issued_by(tls.cert_pem, a.cert_pem));
    CU_ASSERT_FALSE(issued_by(tls.cert_pem, b.cert_pem));
    CU_ASSERT_TRUE(issued_by(a.cert_pem, a.cert_pem));
    CU_ASSERT_EQUAL(certs_covers_dns(tls.cert_pem, covered, 2, &yes, &err), SP_OK);
    CU_ASSERT_TRUE(yes);
    CU_ASSERT_EQUAL(certs_covers_dns(tls.cert_pem, more, 2, &yes, &err), SP_OK);
    CU_ASSERT_FALSE(yes);
    CU_ASSERT_TRUE(key_matches(tls.cert_pem, tls.key_pem));
    CU_ASSERT_FALSE(key_matches(tls.cert_pem, a.key_pem));
    CU_ASSERT_EQUAL(certs_key_matches(tls.cert_pem, "junk", &yes, &err), SP_EPARSE);
    CU_ASSERT_FALSE(yes);
    CU_ASSERT_EQUAL(certs_issued_by("junk", a.cert_pem, &yes, &err), SP_EPARSE);
    CU_ASSERT_EQUAL(ERR_peek_error(), 0);
    certs_pair_free(&a);
    certs_pair_free(&b);
    certs_pair_free(&tls);
}

static void test_redate(void)
{
    certs_pair a, b, tls, wrong;
    certs_info info;
    int64_t now = (int64_t)time(NULL), ca_end;
    sp_err err;

    make_ca(&a);
    make_ca(&b);
    make_serving(&a, &tls);
    CU_ASSERT_EQUAL(certs_redate(&tls, &a, now + 100 * DAY, now + 101 * DAY, &err), SP_OK);
    CU_ASSERT_EQUAL_FATAL(certs_describe(tls.cert_pem, &info, &err), SP_OK);
    CU_ASSERT_EQUAL(info.not_before, now + 100 * DAY);
    CU_ASSERT_EQUAL(info.not_after, now + 30 * DAY); /* capped at the CA's (30 days) */
    certs_info_free(&info);
    CU_ASSERT_TRUE(issued_by(tls.cert_pem, a.cert_pem));
    CU_ASSERT_EQUAL(certs_redate(&a, NULL, now - 10, now + 1000, &err), SP_OK);
    CU_ASSERT_EQUAL(certs_not_after(a.cert_pem, &ca_end, &err), SP_OK);
    CU_ASSERT_EQUAL(ca_end, now + 1000);
    CU_ASSERT_TRUE(issued_by(a.cert_pem, a.cert_pem));
    CU_ASSERT_EQUAL(certs_redate(&tls, &a, now, now, &err), SP_EINVAL);
    wrong.cert_pem = a.cert_pem;
    wrong.key_pem = b.key_pem;
    CU_ASSERT_EQUAL(certs_redate(&tls, &wrong, now, now + 10, &err), SP_EINVAL);
    SP_ASSERT_CONTAINS(err.msg, "the signing key does not belong to the issuer's certificate");
    CU_ASSERT_EQUAL(ERR_peek_error(), 0);
    certs_pair_free(&a);
    certs_pair_free(&b);
    certs_pair_free(&tls);
}

/* ------------------------------------------------------------------------ */
/* The manager                                                                */
/* ------------------------------------------------------------------------ */

static void test_config_is_checked(void)
{
    static const char *const bad_service[] = { "Web_hook" };
    static const char *const bad_hook[] = { "-hook" };
    certmgr_config cfg = { 0 };
    certmgr *m = NULL;
    sp_err err;

    cluster_up();
    cfg.api = api;
    cfg.secret = SECRET;
    CU_ASSERT_EQUAL(certmgr_new(&cfg, &m, &err), SP_EINVAL);
    SP_ASSERT_CONTAINS(err.msg, "no Service given");
    cfg.services = bad_service;
    cfg.n_services = 1;
    CU_ASSERT_EQUAL(certmgr_new(&cfg, &m, &err), SP_EINVAL);
    SP_ASSERT_CONTAINS(err.msg, "Service 'Web_hook' is not a Service name");
    cfg.services = services;
    cfg.namespace_ = "sp.system";
    CU_ASSERT_EQUAL(certmgr_new(&cfg, &m, &err), SP_EINVAL);
    SP_ASSERT_CONTAINS(err.msg, "namespace 'sp.system' is not a Kubernetes name");
    cfg.namespace_ = NS;
    cfg.secret = "Placer";
    CU_ASSERT_EQUAL(certmgr_new(&cfg, &m, &err), SP_EINVAL);
    SP_ASSERT_CONTAINS(err.msg, "Secret 'Placer' is not a Kubernetes name");
    cfg.secret = SECRET;
    cfg.webhook_configs = bad_hook;
    cfg.n_webhook_configs = 1;
    CU_ASSERT_EQUAL(certmgr_new(&cfg, &m, &err), SP_EINVAL);
    SP_ASSERT_CONTAINS(err.msg, "webhook configuration '-hook'");
    cfg.n_webhook_configs = 0;
    cfg.serving_days = 3;
    cfg.overlap_s = DAY + 1;
    CU_ASSERT_EQUAL(certmgr_new(&cfg, &m, &err), SP_EINVAL);
    SP_ASSERT_CONTAINS(err.msg, "at most a third of the shorter lifetime (86400 s)");
    cfg.overlap_s = DAY;
    CU_ASSERT_EQUAL(certmgr_new(&cfg, &m, &err), SP_OK);
    certmgr_free(m);
    cluster_down();
}

static void test_create_on_empty_cluster(void)
{
    certmgr *m;
    certs_pair pair = { NULL, NULL };
    char *ca_crt, *ca_key, *tls_crt, *tls_key, *ann, when[32];
    size_t puts_before;
    cJSON *s;

    cluster_up();
    m = manager(0, 0, 0);
    CU_ASSERT_TRUE(sync_at(m, t0, &pair));
    s = kfake_get(fake, "secrets", NS, SECRET);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    SP_ASSERT_STR(cJSON_GetStringValue(member(s, "type", NULL)), "kubernetes.io/tls");
    SP_ASSERT_STR(cJSON_GetStringValue(member(member(s, "metadata", "labels"),
                                              "app.kubernetes.io/managed-by", NULL)),
                  "streams-placer");
    cJSON_Delete(s);
    ca_crt = secret_key("ca.crt");
    ca_key = secret_key("ca.key");
    tls_crt = secret_key("tls.crt");
    tls_key = secret_key("tls.key");
    CU_ASSERT_EQUAL(count_certs(ca_crt), 1);
    CU_ASSERT_TRUE(key_matches(ca_crt, ca_key));
    SP_ASSERT_STR(tls_crt, pair.cert_pem);
    SP_ASSERT_STR(tls_key, pair.key_pem);
    CU_ASSERT_TRUE(key_matches(tls_crt, tls_key));
    snprintf(when, sizeof(when), "%s", "");
    {
        time_t t = (time_t)t0;
        struct tm tm;
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    }
    ann = secret_annotation(CERTMGR_ANN_CA_ROTATED);
    SP_ASSERT_STR(ann, when);
    free(ann);
    ann = secret_annotation(CERTMGR_ANN_SERVING_ISSUED);
    SP_ASSERT_STR(ann, when);
    free(ann);
    assert_published(ca_crt);
    /* every name of both Services, and nothing else */
    for (size_t i = 0; i < 2; i++) {
        const char *forms[] = { "%s", "%s." NS, "%s." NS ".svc", "%s." NS ".svc.cluster.local" };
        for (size_t f = 0; f < 4; f++) {
            char host[256];
            snprintf(host, sizeof(host), forms[f], services[i]);
            CU_ASSERT_TRUE(verifies(pair.cert_pem, ca_crt, t0, host));
        }
    }
    CU_ASSERT_FALSE(verifies(pair.cert_pem, ca_crt, t0, "evil.example"));
    CU_ASSERT_TRUE(verifies_everywhere(pair.cert_pem, t0));
    SP_ASSERT_CONTAINS(reported.data, "created Secret " NS "/" SECRET);
    SP_ASSERT_CONTAINS(reported.data, "injected caBundle into ValidatingWebhookConfiguration "
                                      WEBHOOK_CONFIG " (2 of 2 webhooks)");
    SP_ASSERT_CONTAINS(reported.data, "created ConfigMap " NS "/" CONFIGMAP);
    /* nothing to do a minute later: nothing written */
    puts_before = kfake_requests(fake, "PUT", NULL) + kfake_requests(fake, "POST", NULL);
    CU_ASSERT_FALSE(sync_at(m, t0 + 60, NULL));
    CU_ASSERT_EQUAL(kfake_requests(fake, "PUT", NULL) + kfake_requests(fake, "POST", NULL),
                    puts_before);
    CU_ASSERT_EQUAL(metric(m, "streams_placer_cert_rotations_total{certificate=\"serving\"} "), 0);
    free(ca_crt);
    free(ca_key);
    free(tls_crt);
    free(tls_key);
    certs_pair_free(&pair);
    certmgr_free(m);
    cluster_down();
}

typedef struct racer {
    certmgr *m;
    certs_pair pair;
    sp_rc rc;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    sp_err err;

    r->rc = certmgr_load(r->m, t0, &r->pair, &err);
    return NULL;
}

static void test_two_replicas_race_to_create(void)
{
    racer a = { 0 }, b = { 0 };
    pthread_t ta, tb;
    char *tls_crt;

    cluster_up();
    a.m = manager(0, 0, 0);
    b.m = manager(0, 0, 0);
    kfake_delay(fake, 300); /* both read "missing" before either creates */
    CU_ASSERT_EQUAL_FATAL(pthread_create(&ta, NULL, race, &a), 0);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&tb, NULL, race, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    kfake_delay(fake, 0);
    CU_ASSERT_EQUAL(a.rc, SP_OK);
    CU_ASSERT_EQUAL(b.rc, SP_OK);
    CU_ASSERT_EQUAL(kfake_requests(fake, "POST", SECRETS), 2); /* the race did happen */
    CU_ASSERT_EQUAL(kfake_count(fake, "secrets"), 1);
    tls_crt = secret_key("tls.crt");
    SP_ASSERT_STR(a.pair.cert_pem, tls_crt);
    SP_ASSERT_STR(b.pair.cert_pem, tls_crt);
    SP_ASSERT_STR(a.pair.key_pem, b.pair.key_pem);
    /* load creates nothing when the Secret is there, and publishes nothing */
    CU_ASSERT_EQUAL(kfake_count(fake, "configmaps"), 0);
    free(tls_crt);
    certs_pair_free(&a.pair);
    certs_pair_free(&b.pair);
    certmgr_free(a.m);
    certmgr_free(b.m);
    cluster_down();
}

static void test_serving_renewed_at_two_thirds(void)
{
    certmgr *m;
    certs_pair first = { NULL, NULL }, second = { NULL, NULL };
    char *ca_before, *ca_after, *ann;
    int64_t due;

    cluster_up();
    /* lifetime 30 days and the 300 s skew; due when less than a third is left */
    due = t0 + 30 * DAY - (30 * DAY + 300) / 3;
    m = manager(30, 0, 0);
    CU_ASSERT_TRUE(sync_at(m, t0, &first));
    ca_before = secret_key("ca.crt");
    CU_ASSERT_FALSE(sync_at(m, due - 100, NULL));
    CU_ASSERT_FALSE(sync_at(m, due, NULL));
    CU_ASSERT_TRUE(sync_at(m, due + 1, &second));
    CU_ASSERT_PTR_NOT_NULL_FATAL(second.cert_pem);
    CU_ASSERT_STRING_NOT_EQUAL(second.cert_pem, first.cert_pem);
    CU_ASSERT_STRING_NOT_EQUAL(second.key_pem, first.key_pem);
    ca_after = secret_key("ca.crt");
    SP_ASSERT_STR(ca_after, ca_before); /* the same CA: no overlap needed */
    CU_ASSERT_TRUE(issued_by(second.cert_pem, ca_after));
    CU_ASSERT_TRUE(verifies_everywhere(second.cert_pem, due + 1));
    CU_ASSERT_TRUE(verifies_everywhere(second.cert_pem, due + 29 * DAY));
    CU_ASSERT_FALSE(verifies_everywhere(first.cert_pem, t0 + 31 * DAY));
    ann = secret_annotation(CERTMGR_ANN_SERVING_ISSUED);
    CU_ASSERT_PTR_NOT_NULL(ann);
    free(ann);
    SP_ASSERT_CONTAINS(reported.data, "renewed the serving certificate");
    CU_ASSERT_EQUAL(metric(m, "streams_placer_cert_rotations_total{certificate=\"serving\"} "), 1);
    CU_ASSERT_EQUAL(metric(m, "streams_placer_cert_rotations_total{certificate=\"ca\"} "), 0);
    free(ca_before);
    free(ca_after);
    certs_pair_free(&first);
    certs_pair_free(&second);
    certmgr_free(m);
    cluster_down();
}

/* The follower's refresh: *changed, and its pair into *pair. */
static bool refresh(certmgr *m, certs_pair *pair)
{
    sp_err err = { SP_OK, "" };
    bool changed = false;
    certs_pair out;
    sp_rc rc = certmgr_refresh(m, &changed, &out, &err);

    if (rc)
        fprintf(stderr, "\n  certmgr_refresh: %s\n", err.msg);
    CU_ASSERT_EQUAL_FATAL(rc, SP_OK);
    if (changed) {
        certs_pair_free(pair);
        *pair = out;
    }
    return changed;
}

static void test_ca_rotation_in_three_steps(void)
{
    const int64_t overlap = 600;
    certmgr *m, *follower;
    certs_pair pair = { NULL, NULL }, seen = { NULL, NULL };
    char *old_serving, *bundle, *old_ca, *new_ca, *rv;
    sp_err err;
    int64_t t1, t2, t3, expiry = 0;

    cluster_up();
    t1 = t0 + 61 * DAY;
    t2 = t1 + overlap;
    t3 = t2 + overlap;
    m = manager(30, 90, overlap);
    follower = manager(30, 90, overlap);
    CU_ASSERT_TRUE(sync_at(m, t0, &pair));
    CU_ASSERT_EQUAL(certmgr_load(follower, t0, &seen, &err), SP_OK);
    old_ca = secret_key("ca.crt");
    /* serving renewals under the first CA, which is not due before day 60 */
    CU_ASSERT_TRUE(sync_at(m, t0 + 25 * DAY, &pair));
    CU_ASSERT_TRUE(sync_at(m, t0 + 50 * DAY, &pair));
    bundle = secret_key("ca.crt");
    SP_ASSERT_STR(bundle, old_ca);
    free(bundle);

    /* step 1: a new signing CA, both trusted, the serving certificate kept */
    CU_ASSERT_FALSE(sync_at(m, t1, &pair));
    bundle = secret_key("ca.crt");
    CU_ASSERT_EQUAL(count_certs(bundle), 2);
    new_ca = first_cert(bundle);
    CU_ASSERT_STRING_NOT_EQUAL(new_ca, old_ca);
    CU_ASSERT_PTR_NOT_NULL(strstr(bundle, old_ca));
    {
        char *key = secret_key("ca.key");
        CU_ASSERT_TRUE(key_matches(new_ca, key));
        free(key);
    }
    assert_published(bundle);
    CU_ASSERT_TRUE(issued_by(pair.cert_pem, old_ca));
    CU_ASSERT_TRUE(verifies_everywhere(pair.cert_pem, t1));
    SP_ASSERT_CONTAINS(reported.data, "CA rotation step 1 of 3");
    free(bundle);
    rv = secret_rv();
    CU_ASSERT_FALSE(sync_at(m, t1 + overlap - 1, NULL)); /* the overlap runs */
    {
        char *rv2 = secret_rv();
        SP_ASSERT_STR(rv2, rv);
        free(rv2);
    }
    free(rv);

    /* step 2: the serving certificate switches; the old one still verifies */
    old_serving = strdup(pair.cert_pem);
    CU_ASSERT_TRUE(sync_at(m, t2, &pair));
    CU_ASSERT_TRUE(issued_by(pair.cert_pem, new_ca));
    bundle = secret_key("ca.crt");
    CU_ASSERT_EQUAL(count_certs(bundle), 2);
    assert_published(bundle);
    free(bundle);
    CU_ASSERT_TRUE(verifies_everywhere(pair.cert_pem, t2));
    CU_ASSERT_TRUE(verifies_everywhere(old_serving, t2)); /* followers not refreshed yet */
    SP_ASSERT_CONTAINS(reported.data, "CA rotation step 2 of 3");
    CU_ASSERT_TRUE(refresh(follower, &seen));
    SP_ASSERT_STR(seen.cert_pem, pair.cert_pem);
    SP_ASSERT_STR(seen.key_pem, pair.key_pem);
    CU_ASSERT_FALSE(refresh(follower, &seen));
    CU_ASSERT_FALSE(sync_at(m, t2 + overlap - 1, NULL));
    bundle = secret_key("ca.crt");
    CU_ASSERT_EQUAL(count_certs(bundle), 2);
    free(bundle);

    /* step 3: the old CA leaves the bundle */
    CU_ASSERT_FALSE(sync_at(m, t3, &pair));
    bundle = secret_key("ca.crt");
    SP_ASSERT_STR(bundle, new_ca);
    assert_published(bundle);
    free(bundle);
    CU_ASSERT_TRUE(verifies_everywhere(pair.cert_pem, t3));
    CU_ASSERT_FALSE(verifies_everywhere(old_serving, t3));
    SP_ASSERT_CONTAINS(reported.data, "CA rotation step 3 of 3");
    CU_ASSERT_FALSE(sync_at(m, t3 + DAY, NULL));

    CU_ASSERT_EQUAL(metric(m, "streams_placer_cert_rotations_total{certificate=\"ca\"} "), 1);
    CU_ASSERT_EQUAL(metric(m, "streams_placer_cert_rotations_total{certificate=\"serving\"} "), 3);
    CU_ASSERT_EQUAL(certs_not_after(new_ca, &expiry, &err), SP_OK);
    CU_ASSERT_EQUAL(metric(m, "streams_placer_ca_expiry_timestamp_seconds "), (uint64_t)expiry);
    CU_ASSERT_EQUAL(metric(follower, "streams_placer_ca_expiry_timestamp_seconds "),
                    (uint64_t)expiry);
    free(old_serving);
    free(old_ca);
    free(new_ca);
    certs_pair_free(&pair);
    certs_pair_free(&seen);
    certmgr_free(m);
    certmgr_free(follower);
    cluster_down();
}

/* Corrupt data[key] of a fresh Secret; sync; check whether the CA was
 * replaced (full repair) or kept (the serving pair alone reissued). */
static void repaired(const char *key, const char *text, bool new_ca, const char *told)
{
    certmgr *m;
    certs_pair pair = { NULL, NULL };
    char *ca_before, *ca_after;

    cluster_up();
    m = manager(0, 0, 0);
    CU_ASSERT_TRUE(sync_at(m, t0, &pair));
    ca_before = secret_key("ca.crt");
    corrupt(key, text);
    CU_ASSERT_TRUE(sync_at(m, t0 + 60, &pair));
    ca_after = secret_key("ca.crt");
    CU_ASSERT_EQUAL(strcmp(ca_after, ca_before) != 0, new_ca);
    CU_ASSERT_EQUAL(count_certs(ca_after), 1);
    {
        char *ca_key = secret_key("ca.key"), *tls_crt = secret_key("tls.crt");
        CU_ASSERT_TRUE(key_matches(ca_after, ca_key));
        SP_ASSERT_STR(tls_crt, pair.cert_pem);
        free(ca_key);
        free(tls_crt);
    }
    CU_ASSERT_TRUE(key_matches(pair.cert_pem, pair.key_pem));
    CU_ASSERT_TRUE(verifies_everywhere(pair.cert_pem, t0 + 60));
    SP_ASSERT_CONTAINS(reported.data, told);
    CU_ASSERT_FALSE(sync_at(m, t0 + 120, NULL));
    free(ca_before);
    free(ca_after);
    certs_pair_free(&pair);
    certmgr_free(m);
    cluster_down();
}

static void test_malformed_secret_is_repaired(void)
{
    certs_pair other;
    sp_err err;
    certs_spec spec = { .common_name = "someone else's CA", .days = 30 };
    static const char *const dns[] = { "x.example" };
    certs_spec serving = { .dns = dns, .n_dns = 1, .days = 10 };
    certs_pair stray;

    repaired("ca.crt", "garbage", true,
             "Secret " NS "/" SECRET " is malformed (ca.crt holds no certificate");
    repaired("ca.key", NULL, true, "is malformed (ca.key is missing or empty)");
    CU_ASSERT_EQUAL_FATAL(certs_make_ca(&spec, &other, &err), SP_OK);
    repaired("ca.key", other.key_pem, true,
             "is malformed (ca.key belongs to none of the 1 certificates in ca.crt)");
    repaired("tls.key", NULL, false, "reissued the serving certificate of Secret " NS "/"
                                     SECRET ": tls.key is missing or empty");
    repaired("tls.key", other.key_pem, false, "tls.key does not belong to tls.crt");
    CU_ASSERT_EQUAL_FATAL(certs_make_serving(&other, &serving, &stray, &err), SP_OK);
    repaired("tls.crt", stray.cert_pem, false, "tls.key does not belong to tls.crt");
    certs_pair_free(&stray);
    certs_pair_free(&other);
}

static void test_stray_serving_certificate_is_replaced(void)
{
    certmgr *m;
    certs_pair pair = { NULL, NULL }, other, stray;
    certs_spec spec = { .common_name = "someone else's CA", .days = 30 };
    const char *dns[] = {
        "streams-placer-webhook", "streams-placer-webhook." NS, HOST, HOST ".cluster.local",
        "streams-placer-extender", "streams-placer-extender." NS,
        "streams-placer-extender." NS ".svc", "streams-placer-extender." NS ".svc.cluster.local",
    };
    certs_spec serving = { .dns = dns, .n_dns = 8, .days = 10 };
    cJSON *s, *data;
    char *b64c, *b64k;
    sp_err err;

    cluster_up();
    m = manager(0, 0, 0);
    CU_ASSERT_TRUE(sync_at(m, t0, &pair));
    /* a serving pair that matches itself but comes from another CA */
    CU_ASSERT_EQUAL_FATAL(certs_make_ca(&spec, &other, &err), SP_OK);
    CU_ASSERT_EQUAL_FATAL(certs_make_serving(&other, &serving, &stray, &err), SP_OK);
    s = kfake_get(fake, "secrets", NS, SECRET);
    data = cJSON_GetObjectItemCaseSensitive(s, "data");
    b64c = calloc(1, 4 * strlen(stray.cert_pem) / 3 + 8);
    b64k = calloc(1, 4 * strlen(stray.key_pem) / 3 + 8);
    EVP_EncodeBlock((unsigned char *)b64c, (unsigned char *)stray.cert_pem,
                    (int)strlen(stray.cert_pem));
    EVP_EncodeBlock((unsigned char *)b64k, (unsigned char *)stray.key_pem,
                    (int)strlen(stray.key_pem));
    cJSON_ReplaceItemInObjectCaseSensitive(data, "tls.crt", cJSON_CreateString(b64c));
    cJSON_ReplaceItemInObjectCaseSensitive(data, "tls.key", cJSON_CreateString(b64k));
    kfake_put(fake, "secrets", s);
    cJSON_Delete(s);
    CU_ASSERT_TRUE(sync_at(m, t0 + 60, &pair));
    CU_ASSERT_STRING_NOT_EQUAL(pair.cert_pem, stray.cert_pem);
    CU_ASSERT_TRUE(verifies_everywhere(pair.cert_pem, t0 + 60));
    SP_ASSERT_CONTAINS(reported.data, "tls.crt is signed by none of the CAs in ca.crt");
    free(b64c);
    free(b64k);
    certs_pair_free(&stray);
    certs_pair_free(&other);
    certs_pair_free(&pair);
    certmgr_free(m);
    cluster_down();
}

static void test_missing_annotations_delay_nothing_else(void)
{
    certmgr *m;
    certs_pair pair = { NULL, NULL };
    char *rotated;
    cJSON *s;
    char *tls_before, *tls_after;

    cluster_up();
    m = manager(0, 0, 0);
    CU_ASSERT_TRUE(sync_at(m, t0, &pair));
    tls_before = secret_key("tls.crt");
    s = kfake_get(fake, "secrets", NS, SECRET);
    cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(s, "metadata"),
                                            "annotations");
    kfake_put(fake, "secrets", s);
    cJSON_Delete(s);
    CU_ASSERT_FALSE(sync_at(m, t0 + 3600, NULL));
    rotated = secret_annotation(CERTMGR_ANN_CA_ROTATED);
    CU_ASSERT_PTR_NOT_NULL(rotated);
    tls_after = secret_key("tls.crt");
    SP_ASSERT_STR(tls_after, tls_before);
    SP_ASSERT_CONTAINS(reported.data, "lacked a readable annotation " CERTMGR_ANN_CA_ROTATED);
    free(rotated);
    /* one from the far future would hold a rotation step forever */
    s = kfake_get(fake, "secrets", NS, SECRET);
    cJSON_ReplaceItemInObjectCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(s, "metadata"),
                                         "annotations"),
        CERTMGR_ANN_SERVING_ISSUED,
        cJSON_CreateString("9999-01-01T00:00:00Z"));
    kfake_put(fake, "secrets", s);
    cJSON_Delete(s);
    CU_ASSERT_FALSE(sync_at(m, t0 + 7200, NULL));
    rotated = secret_annotation(CERTMGR_ANN_SERVING_ISSUED);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rotated);
    CU_ASSERT_STRING_NOT_EQUAL(rotated, "9999-01-01T00:00:00Z");
    CU_ASSERT_EQUAL(strncmp(rotated, "9999", 4) != 0, 1);
    free(rotated);
    free(tls_before);
    free(tls_after);
    certs_pair_free(&pair);
    certmgr_free(m);
    cluster_down();
}

static void test_followers_refuse_an_unusable_pair(void)
{
    certmgr *m, *follower;
    certs_pair pair = { NULL, NULL }, seen = { NULL, NULL };
    bool changed = true;
    sp_err err;

    cluster_up();
    m = manager(0, 0, 0);
    follower = manager(0, 0, 0);
    CU_ASSERT_EQUAL(certmgr_refresh(follower, &changed, &seen, &err), SP_ENOTFOUND);
    SP_ASSERT_CONTAINS(err.msg, "Secret " NS "/" SECRET " does not exist");
    CU_ASSERT_TRUE(sync_at(m, t0, &pair));
    corrupt("tls.key", "junk");
    CU_ASSERT_EQUAL(certmgr_refresh(follower, &changed, &seen, &err), SP_EPARSE);
    CU_ASSERT_FALSE(changed);
    CU_ASSERT_PTR_NULL(seen.cert_pem);
    SP_ASSERT_CONTAINS(err.msg, "Secret " NS "/" SECRET " holds no usable serving pair");
    CU_ASSERT_EQUAL(certmgr_load(follower, t0, &seen, &err), SP_EPARSE);
    CU_ASSERT_EQUAL(metric(follower, "streams_placer_cert_sync_errors_total "), 3);
    CU_ASSERT_TRUE(sync_at(m, t0 + 60, &pair)); /* the leader repairs */
    CU_ASSERT_TRUE(refresh(follower, &seen));
    SP_ASSERT_STR(seen.cert_pem, pair.cert_pem);
    certs_pair_free(&pair);
    certs_pair_free(&seen);
    certmgr_free(m);
    certmgr_free(follower);
    cluster_down();
}

/* A sync at now that must fail with rc and a message containing text, and
 * leave the Secret as it was. */
static void sync_fails(certmgr *m, int64_t now, sp_rc rc, const char *text)
{
    char *rv = secret_rv(), *after;
    sp_err err = { SP_OK, "" };
    certs_pair out;
    bool changed = true;

    CU_ASSERT_EQUAL(certmgr_sync(m, now, &changed, &out, &err), rc);
    CU_ASSERT_FALSE(changed);
    CU_ASSERT_PTR_NULL(out.cert_pem);
    SP_ASSERT_CONTAINS(err.msg, text);
    after = secret_rv();
    SP_ASSERT_STR(after, rv);
    free(rv);
    free(after);
}

static void test_api_faults_change_nothing(void)
{
    certmgr *m;
    certs_pair pair = { NULL, NULL };
    int64_t due;
    char *ca;

    cluster_up();
    due = t0 + 300 * DAY; /* the serving certificate is due */
    m = manager(0, 0, 0);
    CU_ASSERT_TRUE(sync_at(m, t0, &pair));
    kfake_fail(fake, "GET", SECRETS, 500, 0, 100);
    sync_fails(m, due, SP_EIO, "Secret " NS "/" SECRET ": GET: ");
    kfake_fail(fake, "GET", SECRETS, 500, 0, 0);
    kfake_fail(fake, "PUT", SECRETS, 409, 0, 100);
    sync_fails(m, due, SP_ECONFLICT, "still conflicting after 5 attempts");
    kfake_fail(fake, "PUT", SECRETS, 409, 0, 0);
    kfake_fail(fake, "GET", MUTATING, 503, 0, 100);
    sync_fails(m, due, SP_EIO, "MutatingWebhookConfiguration " WEBHOOK_CONFIG ": GET: ");
    kfake_fail(fake, "GET", MUTATING, 503, 0, 0);
    kfake_fail(fake, "GET", CONFIGMAPS, 403, 0, 100);
    sync_fails(m, due, SP_EIO, "grant the service account the RBAC verb \"get\" on configmaps");
    kfake_fail(fake, "GET", CONFIGMAPS, 403, 0, 0);
    CU_ASSERT_EQUAL(metric(m, "streams_placer_cert_sync_errors_total "), 4);
    /* what is served still verifies against what is published */
    CU_ASSERT_TRUE(verifies_everywhere(pair.cert_pem, due));
    /* one 409 is re-read and retried within the same sync */
    kfake_fail(fake, "PUT", SECRETS, 409, 0, 1);
    CU_ASSERT_TRUE(sync_at(m, due, &pair));
    ca = secret_key("ca.crt");
    CU_ASSERT_TRUE(issued_by(pair.cert_pem, ca));
    CU_ASSERT_TRUE(verifies_everywhere(pair.cert_pem, due));
    free(ca);
    certs_pair_free(&pair);
    certmgr_free(m);
    cluster_down();
}

static void test_webhook_conflicts_and_absences(void)
{
    certmgr *m;
    certs_pair pair = { NULL, NULL };
    char *got[8], *ca;
    cJSON *cm;
    size_t n;

    cluster_up();
    m = manager(0, 0, 0);
    cm = cJSON_Parse("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
                     "\"" CONFIGMAP "\",\"namespace\":\"" NS "\"},\"data\":{\"ca.crt\":\"stale\","
                     "\"other\":\"kept\"}}");
    CU_ASSERT_TRUE(kfake_put(fake, "configmaps", cm) > 0);
    cJSON_Delete(cm);
    kfake_fail(fake, "PUT", VALIDATING, 409, 0, 1);
    kfake_fail(fake, "PUT", CONFIGMAPS, 409, 0, 1);
    CU_ASSERT_TRUE(sync_at(m, t0, &pair));
    CU_ASSERT_EQUAL(kfake_requests(fake, "PUT", VALIDATING), 2);
    CU_ASSERT_EQUAL(kfake_requests(fake, "PUT", CONFIGMAPS), 2);
    ca = secret_key("ca.crt");
    assert_published(ca);
    cm = kfake_get(fake, "configmaps", NS, CONFIGMAP);
    SP_ASSERT_STR(cJSON_GetStringValue(member(cm, "data", "other")), "kept");
    cJSON_Delete(cm);
    /* a configuration that is not there is told, not failed */
    CU_ASSERT_TRUE(kfake_delete(fake, VALIDATING, NULL, WEBHOOK_CONFIG));
    CU_ASSERT_FALSE(sync_at(m, t0 + 60, NULL));
    CU_ASSERT_TRUE(kfake_delete(fake, MUTATING, NULL, WEBHOOK_CONFIG));
    CU_ASSERT_FALSE(sync_at(m, t0 + 120, NULL));
    SP_ASSERT_CONTAINS(reported.data, "neither a ValidatingWebhookConfiguration nor a "
                                      "MutatingWebhookConfiguration named " WEBHOOK_CONFIG);
    n = published(got, 8);
    CU_ASSERT_EQUAL(n, 1); /* the ConfigMap alone is left */
    SP_ASSERT_STR(got[0], ca);
    for (size_t i = 0; i < n; i++)
        free(got[i]);
    free(ca);
    certs_pair_free(&pair);
    certmgr_free(m);
    cluster_down();
}

static void test_rsa_keys_on_request(void)
{
    certmgr_config cfg = { 0 };
    certmgr *m = NULL;
    certs_pair pair = { NULL, NULL };
    certs_info info;
    char *ca;
    sp_err err;

    cluster_up();
    cfg.api = api;
    cfg.namespace_ = NS;
    cfg.secret = SECRET;
    cfg.services = services;
    cfg.n_services = 1;
    cfg.key_type = CERTS_KEY_RSA_2048;
    CU_ASSERT_EQUAL_FATAL(certmgr_new(&cfg, &m, &err), SP_OK);
    CU_ASSERT_EQUAL_FATAL(certmgr_load(m, t0, &pair, &err), SP_OK);
    CU_ASSERT_EQUAL_FATAL(certs_describe(pair.cert_pem, &info, &err), SP_OK);
    SP_ASSERT_STR(info.key, "RSA 2048");
    certs_info_free(&info);
    ca = secret_key("ca.crt");
    CU_ASSERT_EQUAL_FATAL(certs_describe(ca, &info, &err), SP_OK);
    SP_ASSERT_STR(info.key, "RSA 2048");
    CU_ASSERT_TRUE(info.is_ca);
    certs_info_free(&info);
    CU_ASSERT_TRUE(verifies(pair.cert_pem, ca, t0, HOST));
    free(ca);
    certs_pair_free(&pair);
    certmgr_free(m);
    cluster_down();
}

/* Plan from cur at now with the 1st, 2nd, ... allocation failing until it
 * succeeds: every failure is SP_ENOMEM, and the plan that succeeds does what
 * the one without failures does (never a repair). */
static void plan_out_of_memory(certmgr *m, const certmgr_contents *cur, int64_t now)
{
    certmgr_plan want, got;
    bool done = false;
    sp_err err;

    CU_ASSERT_EQUAL_FATAL(certmgr_plan_next(m, cur, now, &want, &err), SP_OK);
    for (long n = 0; !done && n < 100000; n++) {
        sp_rc rc;

        sp_alloc_fail_after(n);
        rc = certmgr_plan_next(m, cur, now, &got, &err);
        sp_alloc_fail_after(-1);
        done = rc == SP_OK;
        CU_ASSERT_TRUE(done || rc == SP_ENOMEM);
        CU_ASSERT_EQUAL(ERR_peek_error(), 0);
        if (done) {
            CU_ASSERT_EQUAL(got.changed, want.changed);
            CU_ASSERT_EQUAL(got.new_ca, want.new_ca);
            CU_ASSERT_EQUAL(got.new_serving, want.new_serving);
            CU_ASSERT_EQUAL(got.n_notes, want.n_notes);
            for (size_t i = 0; i < got.n_notes; i++)
                SP_ASSERT_STR(got.notes[i].event, want.notes[i].event);
        }
        certmgr_plan_free(&got);
    }
    CU_ASSERT_TRUE(done);
    CU_ASSERT_TRUE(sp_alloc_injected_failures() > 0);
    certmgr_plan_free(&want);
}

static void test_plan_out_of_memory(void)
{
    certmgr *m;
    certmgr_plan fresh;
    sp_err err;

    cluster_up();
    m = manager(30, 90, 600);
    CU_ASSERT_EQUAL_FATAL(certmgr_plan_next(m, NULL, t0, &fresh, &err), SP_OK);
    plan_out_of_memory(m, NULL, t0);
    plan_out_of_memory(m, &fresh.next, t0 + 60);          /* nothing to do */
    plan_out_of_memory(m, &fresh.next, t0 + 25 * DAY);    /* serving renewal */
    plan_out_of_memory(m, &fresh.next, t0 + 61 * DAY);    /* step 1, serving expired */
    certmgr_plan_free(&fresh);
    certmgr_free(m);
    cluster_down();
}

static const sp_test tests[] = {
    SP_TEST(test_bundle_split),
    SP_TEST(test_bundle_checks),
    SP_TEST(test_redate),
    SP_TEST(test_config_is_checked),
    SP_TEST(test_create_on_empty_cluster),
    SP_TEST(test_two_replicas_race_to_create),
    SP_TEST(test_serving_renewed_at_two_thirds),
    SP_TEST(test_ca_rotation_in_three_steps),
    SP_TEST(test_malformed_secret_is_repaired),
    SP_TEST(test_stray_serving_certificate_is_replaced),
    SP_TEST(test_missing_annotations_delay_nothing_else),
    SP_TEST(test_followers_refuse_an_unusable_pair),
    SP_TEST(test_api_faults_change_nothing),
    SP_TEST(test_webhook_conflicts_and_absences),
    SP_TEST(test_rsa_keys_on_request),
    SP_TEST(test_plan_out_of_memory),
    SP_TEST_END
};

int main(void)
{
    if (!getenv("SP_TEST_LOG"))
        sp_log_set_level(SP_LOG_OFF);
    return sp_test_run("certmgr", tests);
}
