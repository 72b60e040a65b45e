/*
 * Tests of the API client (kapi/): kubeconfigs in every supported form
 * (tokens, token files, client certificates, inline *-data, relative paths,
 * insecure-skip-tls-verify) and every refusal with its exact text; the
 * in-cluster configuration from temporary files (IPv6 service host, missing
 * files, bad environment); the token file followed as it rotates; request
 * paths escaped and bounded; the informers' index, backoff and stop; and
 * requests that find nothing listening. Then, against the fake API server
 * (tests/kfake.c): every outcome, retries (5xx, 429 with Retry-After, max
 * attempts), timeouts, bounded answers, token rotation, connection reuse,
 * and informers: paged lists, events, bookmarks, reconnects without
 * duplicates, 410 Gone and the relist that reveals deletions, selectors,
 * failures, and prompt stops.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "certs/certs.h"
#include "kapi/kapi.h"
#include "kapi/kapi_internal.h"
#include "kapi/kapi_kubeconfig.h"
#include "tests/kfake.h"
#include "tests/test_util.h"
#include "util/sp_alloc.h"
#include "util/sp_log.h"

/* ------------------------------------------------------------------------ */
/* Files, directories and clocks                                              */
/* ------------------------------------------------------------------------ */

#define PATH_SIZE 512

static const char pem_cert[] =
    "-----BEGIN CERTIFICATE-----\nMIIBfakecertificate\n-----END CERTIFICATE-----\n";
static const char pem_key[] =
    "-----BEGIN PRIVATE KEY-----\nMIIBfakekey\n-----END PRIVATE KEY-----\n";

static void tmpdir_make(char buf[PATH_SIZE])
{
    snprintf(buf, PATH_SIZE, "/tmp/sp-kapi-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(buf));
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

static void rm_rf(const char *path)
{
    (void)nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *join(char buf[PATH_SIZE], const char *dir, const char *name)
{
    int n = snprintf(buf, PATH_SIZE, "%s/%s", dir, name);

    if (n <= 0 || n >= PATH_SIZE)
        abort();
    return buf;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");

    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(text, 1, strlen(text), f), strlen(text));
    CU_ASSERT_EQUAL(fclose(f), 0);
    CU_ASSERT_EQUAL(chmod(path, 0600), 0);   /* keys among them: no warnings */
}

/* dir/name with text. */
static void put_file(const char *dir, const char *name, const char *text)
{
    char path[PATH_SIZE];

    write_text(join(path, dir, name), text);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Standard base64 of s into out (big enough). */
static const char *b64(const char *s, char *out)
{
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(s), o = 0;

    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)s[i] << 16;
        if (i + 1 < n)
            v |= (unsigned char)s[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)s[i + 2];
        out[o++] = digits[v >> 18 & 63];
        out[o++] = digits[v >> 12 & 63];
        out[o++] = i + 1 < n ? digits[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? digits[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

/* A TCP port on 127.0.0.1 with nothing listening (bound, then released). */
static int closed_port(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    CU_ASSERT_FATAL(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* A socket on 127.0.0.1 that accepts connections (the kernel's backlog)
 * and never answers: a TLS handshake with it hangs. Its port in *port. */
static int silent_listener(int *port)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    CU_ASSERT_FATAL(listen(fd, 16) == 0);
    CU_ASSERT_FATAL(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* ------------------------------------------------------------------------ */
/* Kubeconfig text                                                            */
/* ------------------------------------------------------------------------ */

#define KC_SIZE 8192

static const char default_context[] = "    cluster: c1\n    user: u1\n";
static const char default_cluster[] = "    server: https://k.example:6443\n";
static const char default_user[] = "    token: t0k\n";

/* A kubeconfig with one context dev -> cluster c1, user u1, whose bodies
 * (indented four spaces) are given; NULL: the defaults above. */
static const char *kc_text(char buf[KC_SIZE], const char *context, const char *cluster,
                           const char *user)
{
    int n = snprintf(buf, KC_SIZE,
                     "apiVersion: v1\nkind: Config\ncurrent-context: dev\n"
                     "contexts:\n- name: dev\n  context:\n%s"
                     "clusters:\n- name: c1\n  cluster:\n%s"
                     "users:\n- name: u1\n  user:\n%s",
                     context ? context : default_context, cluster ? cluster : default_cluster,
                     user ? user : default_user);

    if (n <= 0 || n >= KC_SIZE)
        abort();
    return buf;
}

static kapi_kubeconfig *kc_ok(const char *text, const char *context)
{
    kapi_kubeconfig *kc = NULL;
    sp_err err;
    sp_rc rc;

    sp_err_clear(&err);
    rc = kapi_kubeconfig_parse(text, strlen(text), context, "/base", &kc, &err);
    if (rc)
        fprintf(stderr, "\n  kapi_kubeconfig_parse: %s\n", err.msg);
    CU_ASSERT_EQUAL(rc, SP_OK);
    CU_ASSERT_PTR_NOT_NULL(kc);
    return kc;
}

/* Parse text that must fail with rc and exactly msg. */
static void kc_fails(const char *text, const char *context, sp_rc want, const char *msg)
{
    kapi_kubeconfig *kc = (kapi_kubeconfig *)1;
    sp_err err;
    sp_rc rc;

    sp_err_clear(&err);
    rc = kapi_kubeconfig_parse(text, strlen(text), context, "/base", &kc, &err);
    CU_ASSERT_EQUAL(rc, want);
    CU_ASSERT_PTR_NULL(kc);
    CU_ASSERT_EQUAL(err.rc, want);
    SP_ASSERT_STR(err.msg, msg);
}

/* The same with one of the bodies replaced. */
static void kc_body_fails(const char *context, const char *cluster, const char *user,
                          sp_rc want, const char *msg)
{
    char text[KC_SIZE];

    kc_fails(kc_text(text, context, cluster, user), NULL, want, msg);
}

/* ------------------------------------------------------------------------ */
/* Kubeconfig: supported forms                                                */
/* ------------------------------------------------------------------------ */

static void t_kubeconfig_token(void)
{
    char text[KC_SIZE];
    kapi_kubeconfig *kc =
        kc_ok(kc_text(text, "    cluster: c1\n    user: u1\n    namespace: team-a\n",
                      "    server: https://k.example:6443///\n"
                      "    certificate-authority: certs/ca.crt\n",
                      "    token: \"abc.def\"\n"),
              NULL);

    if (!kc)
        return;
    SP_ASSERT_STR(kc->context, "dev");
    SP_ASSERT_STR(kc->cluster, "c1");
    SP_ASSERT_STR(kc->user, "u1");
    SP_ASSERT_STR(kc->server, "https://k.example:6443");
    SP_ASSERT_STR(kc->namespace, "team-a");
    SP_ASSERT_STR(kc->ca_file, "/base/certs/ca.crt");
    CU_ASSERT_PTR_NULL(kc->ca_data);
    CU_ASSERT_FALSE(kc->insecure);
    SP_ASSERT_STR(kc->token, "abc.def");
    CU_ASSERT_PTR_NULL(kc->token_file);
    CU_ASSERT_PTR_NULL(kc->cert_file);
    CU_ASSERT_PTR_NULL(kc->key_file);
    kapi_kubeconfig_free(kc);
}

static void t_kubeconfig_data(void)
{
    char ca[512], cert[512], key[512], cluster[2048], user[2048], text[KC_SIZE];
    kapi_kubeconfig *kc;

    snprintf(cluster, sizeof(cluster),
             "    server: https://[fd00::1]:443/prefix/\n"
             "    certificate-authority-data: %s\n"
             "    certificate-authority: ignored.crt\n", b64(pem_cert, ca));
    snprintf(user, sizeof(user),
             "    client-certificate-data: %s\n"
             "    client-key-data: %s\n"
             "    client-key: ignored.key\n", b64(pem_cert, cert), b64(pem_key, key));
    kc = kc_ok(kc_text(text, NULL, cluster, user), NULL);
    if (!kc)
        return;
    SP_ASSERT_STR(kc->server, "https://[fd00::1]:443/prefix");
    CU_ASSERT_EQUAL(kc->ca_len, strlen(pem_cert));
    CU_ASSERT(kc->ca_data && memcmp(kc->ca_data, pem_cert, kc->ca_len) == 0);
    CU_ASSERT_PTR_NULL(kc->ca_file);   /* data wins */
    CU_ASSERT_EQUAL(kc->cert_len, strlen(pem_cert));
    CU_ASSERT(kc->cert_data && memcmp(kc->cert_data, pem_cert, kc->cert_len) == 0);
    CU_ASSERT_EQUAL(kc->key_len, strlen(pem_key));
    CU_ASSERT(kc->key_data && memcmp(kc->key_data, pem_key, kc->key_len) == 0);
    CU_ASSERT_PTR_NULL(kc->key_file);
    CU_ASSERT_PTR_NULL(kc->token);
    CU_ASSERT_PTR_NULL(kc->namespace);
    kapi_kubeconfig_free(kc);
}

static void t_kubeconfig_files(void)
{
    char text[KC_SIZE];
    kapi_kubeconfig *kc =
        kc_ok(kc_text(text, NULL,
                      "    server: https://10.1.2.3\n"
                      "    certificate-authority: /etc/k/ca.crt\n",
                      "    tokenFile: ./token\n"
                      "    client-certificate: ../pki/client.crt\n"
                      "    client-key: client.key\n"),
              NULL);

    if (!kc)
        return;
    SP_ASSERT_STR(kc->ca_file, "/etc/k/ca.crt");
    SP_ASSERT_STR(kc->token_file, "/base/./token");
    SP_ASSERT_STR(kc->cert_file, "/base/../pki/client.crt");
    SP_ASSERT_STR(kc->key_file, "/base/client.key");
    kapi_kubeconfig_free(kc);
}

static void t_kubeconfig_context_choice(void)
{
    static const char text[] =
        "current-context: a\n"
        "contexts:\n"
        "- name: a\n  context: {cluster: ca, user: ua, namespace: na}\n"
        "- name: b\n  context: {cluster: cb, namespace: nb}\n"
        "clusters:\n"
        "- name: ca\n  cluster: {server: 'https://a.example'}\n"
        "- name: cb\n  cluster:\n    server: https://b.example\n"
        "    insecure-skip-tls-verify: true\n"
        "users:\n- name: ua\n  user: {token: ta}\n";
    kapi_kubeconfig *kc = kc_ok(text, NULL);

    if (kc) {
        SP_ASSERT_STR(kc->server, "https://a.example");
        SP_ASSERT_STR(kc->namespace, "na");
        SP_ASSERT_STR(kc->token, "ta");
        CU_ASSERT_FALSE(kc->insecure);
    }
    kapi_kubeconfig_free(kc);
    kc = kc_ok(text, "b");     /* the caller's context wins; no user: anonymous */
    if (kc) {
        SP_ASSERT_STR(kc->context, "b");
        SP_ASSERT_STR(kc->server, "https://b.example");
        SP_ASSERT_STR(kc->namespace, "nb");
        CU_ASSERT_TRUE(kc->insecure);
        CU_ASSERT_PTR_NULL(kc->user);
        CU_ASSERT_PTR_NULL(kc->token);
    }
    kapi_kubeconfig_free(kc);
}

static void t_kubeconfig_yaml_forms(void)
{
    /* Anchors and aliases, flow style, quoting, null values, an empty user,
     * a second document (ignored), and "yes" as a boolean. */
    static const char text[] =
        "clusters:\n"
        "- name: c1\n  cluster: &c {server: \"https://k.example\", "
        "insecure-skip-tls-verify: yes}\n"
        "- name: c2\n  cluster: *c\n"
        "contexts:\n- {name: dev, context: {cluster: c2, user: u1, namespace: ~}}\n"
        "users:\n- name: u1\n  user:\n"
        "current-context: 'dev'\n"
        "---\nsecond: document\n";
    kapi_kubeconfig *kc = kc_ok(text, NULL);

    if (!kc)
        return;
    SP_ASSERT_STR(kc->cluster, "c2");
    SP_ASSERT_STR(kc->server, "https://k.example");
    CU_ASSERT_TRUE(kc->insecure);
    CU_ASSERT_PTR_NULL(kc->namespace);
    CU_ASSERT_PTR_NULL(kc->token);
    kapi_kubeconfig_free(kc);
}

/* ------------------------------------------------------------------------ */
/* Kubeconfig: refusals                                                       */
/* ------------------------------------------------------------------------ */

static const char supported[] =
    "use token, tokenFile, or client-certificate and client-key (or their -data forms)";

static void t_kubeconfig_document_errors(void)
{
    kapi_kubeconfig *kc = (kapi_kubeconfig *)1;
    sp_err err;

    kc_fails("", NULL, SP_EPARSE, "the kubeconfig is empty");
    kc_fails("# only a comment\n", NULL, SP_EPARSE, "the kubeconfig is empty");
    kc_fails("- a\n- b\n", NULL, SP_EPARSE,
             "is not a mapping: a kubeconfig is a YAML mapping of clusters, contexts, users "
             "and current-context");
    kc_fails("clusters: []\n", NULL, SP_EPARSE,
             "current-context is not set: set it (kubectl config use-context NAME) or name "
             "a context");
    kc_fails("current-context: ''\n", NULL, SP_EPARSE,
             "current-context is not set: set it (kubectl config use-context NAME) or name "
             "a context");
    kc_fails("current-context: [a]\n", NULL, SP_EPARSE,
             "field \"current-context\": is not a string");
    kc_fails("current-context: dev\n", NULL, SP_ENOTFOUND,
             "context \"dev\" is not in contexts: name one that is (kubectl config "
             "get-contexts)");
    kc_fails("contexts: {dev: x}\ncurrent-context: dev\n", NULL, SP_EPARSE,
             "field \"contexts\": is not a list: write it as a list of entries with name and "
             "context");
    kc_fails("contexts:\n- name: dev\n  context: [1]\n", "dev", SP_EPARSE,
             "contexts entry \"dev\": field \"context\" is not a mapping");

    /* Syntax errors name the line and column. */
    sp_err_clear(&err);
    CU_ASSERT_EQUAL(kapi_kubeconfig_parse("a: b\nc: [d\n", 11, NULL, NULL, &kc, &err),
                    SP_EPARSE);
    CU_ASSERT_PTR_NULL(kc);
    SP_ASSERT_CONTAINS(err.msg, "YAML error at line 3, column 1: ");
    CU_ASSERT_EQUAL(kapi_kubeconfig_parse("a: \"b\n", 6, NULL, NULL, &kc, &err), SP_EPARSE);
    SP_ASSERT_CONTAINS(err.msg, "YAML error at line ");
    CU_ASSERT_EQUAL(kapi_kubeconfig_parse("\t- x: y\n", 8, NULL, NULL, &kc, &err), SP_EPARSE);
    SP_ASSERT_CONTAINS(err.msg, "YAML error at line 1, column 1: ");
    /* Embedded NUL bytes are refused, not cut at. */
    CU_ASSERT_EQUAL(kapi_kubeconfig_parse("current-context: \"a\\0b\"\n", 24, NULL, NULL,
                                          &kc, &err), SP_EPARSE);
    SP_ASSERT_STR(err.msg, "field \"current-context\": contains a NUL byte");
    CU_ASSERT_EQUAL(kapi_kubeconfig_parse(NULL, 0, NULL, NULL, &kc, &err), SP_EINVAL);
}

static void t_kubeconfig_cluster_errors(void)
{
    kc_body_fails("    user: u1\n", NULL, NULL, SP_EPARSE,
                  "context \"dev\": field \"cluster\": is missing: name one of the clusters");
    kc_body_fails("    cluster: c9\n", NULL, NULL, SP_ENOTFOUND,
                  "context \"dev\": cluster \"c9\" is not in clusters: add it or fix the "
                  "context's cluster");
    kc_body_fails(NULL, "    certificate-authority: ca.crt\n", NULL, SP_EPARSE,
                  "context \"dev\": cluster \"c1\": field \"server\": is missing: set it to "
                  "the API server's https:// URL");
    kc_body_fails(NULL, "    server: http://k.example:80\n", NULL, SP_EPARSE,
                  "context \"dev\": cluster \"c1\": field \"server\": \"http://k.example:80\" "
                  "is not an https:// URL: the API server is reached over TLS only");
    kc_body_fails(NULL, "    server: https://\n", NULL, SP_EPARSE,
                  "context \"dev\": cluster \"c1\": field \"server\": \"https://\" is not an "
                  "https:// URL: the API server is reached over TLS only");
    kc_body_fails(NULL, "    server: \"https://k.example/a b\"\n", NULL, SP_EPARSE,
                  "context \"dev\": cluster \"c1\": field \"server\": \"https://k.example/a "
                  "b\" contains white space or a control character");
    kc_body_fails(NULL, "    server: https://k.example/?x=1\n", NULL, SP_EPARSE,
                  "context \"dev\": cluster \"c1\": field \"server\": \"https://k.example/?x=1\""
                  " has a query or fragment: give the base URL only");
    kc_body_fails(NULL, "    server: {url: x}\n", NULL, SP_EPARSE,
                  "context \"dev\": cluster \"c1\": field \"server\": is not a string");
    kc_body_fails(NULL,
                  "    server: https://k.example\n"
                  "    certificate-authority-data: not*base64\n",
                  NULL, SP_EPARSE,
                  "context \"dev\": cluster \"c1\": field \"certificate-authority-data\": is "
                  "not valid base64: give the PEM text base64-encoded (base64 -w0 FILE)");
    kc_body_fails(NULL,
                  "    server: https://k.example\n"
                  "    certificate-authority-data: QUJD=\n",
                  NULL, SP_EPARSE,
                  "context \"dev\": cluster \"c1\": field \"certificate-authority-data\": is "
                  "not valid base64: give the PEM text base64-encoded (base64 -w0 FILE)");
    kc_body_fails(NULL,
                  "    server: https://k.example\n"
                  "    certificate-authority: ca.crt\n"
                  "    insecure-skip-tls-verify: true\n",
                  NULL, SP_EPARSE,
                  "context \"dev\": cluster \"c1\": field \"insecure-skip-tls-verify\": is "
                  "true and a certificate authority is given too: remove one of them");
    kc_body_fails(NULL,
                  "    server: https://k.example\n"
                  "    insecure-skip-tls-verify: maybe\n",
                  NULL, SP_EPARSE,
                  "context \"dev\": cluster \"c1\": field \"insecure-skip-tls-verify\": "
                  "\"maybe\" is not a boolean: use true or false");
    kc_fails("current-context: dev\ncontexts:\n- name: dev\n  context: {cluster: c1}\n"
             "clusters: oops\n", NULL, SP_EPARSE,
             "context \"dev\": field \"clusters\": is not a list: write it as a list of "
             "entries with name and cluster");
}

static void t_kubeconfig_user_errors(void)
{
    char msg[1024];
    static const struct {
        const char *body, *field, *what;
    } refused[] = {
        { "    exec:\n      command: aws\n", "exec",
          "exec credential plugins are not supported" },
        { "    auth-provider:\n      name: oidc\n", "auth-provider",
          "auth providers are not supported" },
        { "    username: admin\n", "username",
          "basic authentication (username/password) is not supported" },
        { "    token: t\n    password: secret\n", "password",
          "basic authentication (username/password) is not supported" },
        { "    token: t\n    as: someone\n", "as", "impersonation is not supported" },
    };

    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        snprintf(msg, sizeof(msg), "context \"dev\": user \"u1\": field \"%s\": %s: %s",
                 refused[i].field, refused[i].what, supported);
        kc_body_fails(NULL, NULL, refused[i].body, SP_EPARSE, msg);
    }
    kc_body_fails("    cluster: c1\n    user: u9\n", NULL, NULL, SP_ENOTFOUND,
                  "context \"dev\": user \"u9\" is not in users: add it or fix the "
                  "context's user");
    kc_body_fails(NULL, NULL, "    client-certificate: c.crt\n", SP_EPARSE,
                  "context \"dev\": user \"u1\": field \"client-key\": is missing while a "
                  "client certificate is given: give both client-certificate and client-key "
                  "(or their -data forms)");
    kc_body_fails(NULL, NULL, "    client-key-data: QUJD\n", SP_EPARSE,
                  "context \"dev\": user \"u1\": field \"client-certificate\": is missing "
                  "while a client key is given: give both client-certificate and client-key "
                  "(or their -data forms)");
    kc_body_fails(NULL, NULL, "    token: {a: b}\n", SP_EPARSE,
                  "context \"dev\": user \"u1\": field \"token\": is not a string");
    kc_body_fails(NULL, NULL, "    client-key-data: '@@'\n    client-certificate: x\n",
                  SP_EPARSE,
                  "context \"dev\": user \"u1\": field \"client-key-data\": is not valid "
                  "base64: give the PEM text base64-encoded (base64 -w0 FILE)");
}

/* Every allocation of a parse, failed in turn: SP_ENOMEM or success, nothing
 * leaked (valgrind and ASan check the latter). */
static void t_kubeconfig_alloc_failures(void)
{
    char ca[512], cluster[1024], text[KC_SIZE];
    bool succeeded = false;

    snprintf(cluster, sizeof(cluster), "    server: https://k.example\n"
             "    certificate-authority-data: %s\n", b64(pem_cert, ca));
    kc_text(text, "    cluster: c1\n    user: u1\n    namespace: ns\n", cluster,
            "    tokenFile: t\n    client-certificate: c\n    client-key: k\n");
    for (long n = 0; n < 200 && !succeeded; n++) {
        kapi_kubeconfig *kc = NULL;
        sp_err err;
        sp_rc rc;
        sp_alloc_fail_after(n);
        rc = kapi_kubeconfig_parse(text, strlen(text), NULL, "/b", &kc, &err);
        sp_alloc_fail_after(-1);
        CU_ASSERT(rc == SP_OK || rc == SP_ENOMEM);
        CU_ASSERT((rc == SP_OK) == (kc != NULL));
        succeeded = rc == SP_OK;
        kapi_kubeconfig_free(kc);
    }
    CU_ASSERT_TRUE(succeeded);
}

/* Mangled kubeconfigs: every answer is a parse or an error, never a crash
 * (a short, deterministic stand-in for the fuzzer). */
static void t_kubeconfig_mangled(void)
{
    char base[KC_SIZE], text[KC_SIZE];
    size_t len;
    sp_rng rng;
    int ok = 0;

    kc_text(base, NULL, NULL, NULL);
    len = strlen(base);
    sp_rng_seed(&rng, 42);
    for (int i = 0; i < 3000; i++) {
        kapi_kubeconfig *kc = NULL;
        sp_err err;
        memcpy(text, base, len + 1);
        for (int m = 0; m < 1 + (int)sp_rng_below(&rng, 4); m++)
            text[sp_rng_below(&rng, len)] = "\n :-{}[]&*!|>'\"#%@`\t0a"[sp_rng_below(&rng, 22)];
        if (kapi_kubeconfig_parse(text, sp_rng_below(&rng, len + 1), NULL, NULL, &kc,
                                  &err) == SP_OK) {
            CU_ASSERT_PTR_NOT_NULL(kc->server);
            ok++;
        }
        else {
            CU_ASSERT_PTR_NULL(kc);
            CU_ASSERT(err.msg[0] != '\0');
        }
        kapi_kubeconfig_free(kc);
    }
    CU_ASSERT(ok > 0);
}

/* ------------------------------------------------------------------------ */
/* kapi_new from a kubeconfig file                                            */
/* ------------------------------------------------------------------------ */

static kapi *new_ok(const kapi_config *cfg)
{
    kapi *k = NULL;
    sp_err err;

    sp_err_clear(&err);
    if (kapi_new(cfg, &k, &err) != SP_OK)
        fprintf(stderr, "\n  kapi_new: %s\n", err.msg);
    CU_ASSERT_PTR_NOT_NULL(k);
    return k;
}

/* kapi_new that must fail; the message in a static buffer. */
static const char *new_fails(const kapi_config *cfg, sp_rc want)
{
    static sp_err err;
    kapi *k = (kapi *)1;

    sp_err_clear(&err);
    CU_ASSERT_EQUAL(kapi_new(cfg, &k, &err), want);
    CU_ASSERT_PTR_NULL(k);
    return err.msg;
}

static void t_new_from_kubeconfig(void)
{
    char dir[PATH_SIZE], path[PATH_SIZE], text[KC_SIZE], cert[512], want[2048];
    kapi_config cfg = { 0 };
    kapi *k;
    char *tok = NULL;
    bool changed;

    tmpdir_make(dir);
    CU_ASSERT_EQUAL(mkdir(join(path, dir, "pki"), 0700), 0);
    put_file(dir, "pki/ca.crt", pem_cert);
    put_file(dir, "pki/client.crt", pem_cert);
    put_file(dir, "pki/client.key", pem_key);
    put_file(dir, "token", "  tok-from-file\n\n");
    put_file(dir, "config", kc_text(text, "    cluster: c1\n    user: u1\n    namespace: ns1\n",
                                    "    server: https://127.0.0.1:6443/\n"
                                    "    certificate-authority: pki/ca.crt\n",
                                    "    tokenFile: token\n"
                                    "    client-certificate: pki/client.crt\n"
                                    "    client-key: pki/client.key\n"));
    cfg.kubeconfig = join(path, dir, "config");
    k = new_ok(&cfg);
    if (k) {
        SP_ASSERT_STR(kapi_server(k), "https://127.0.0.1:6443");
        SP_ASSERT_STR(kapi_namespace(k), "ns1");
        CU_ASSERT_EQUAL(kapi_token_get(k, false, &tok, &changed), SP_OK);
        SP_ASSERT_STR(tok, "tok-from-file");
        sp_free(tok);
        CU_ASSERT(k->ca_len == strlen(pem_cert) && k->cert && k->key);
    }
    kapi_free(k);

    /* No namespace in the context: "default". Inline data. */
    snprintf(want, sizeof(want), "    client-certificate-data: %s\n    client-key-data: ",
             b64(pem_cert, cert));
    snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s\n", b64(pem_key, cert));
    put_file(dir, "config", kc_text(text, NULL, NULL, want));
    k = new_ok(&cfg);
    if (k) {
        SP_ASSERT_STR(kapi_namespace(k), "default");
        CU_ASSERT(k->key_len == strlen(pem_key) && memcmp(k->key, pem_key, k->key_len) == 0);
        CU_ASSERT_PTR_NULL(k->ca);   /* the system's trust store */
    }
    kapi_free(k);

    /* insecure-skip-tls-verify works and is logged as a warning. */
    put_file(dir, "config", kc_text(text, NULL, "    server: https://h.example\n"
                                    "    insecure-skip-tls-verify: true\n", NULL));
    {
        char logp[PATH_SIZE];
        FILE *log = fopen(join(logp, dir, "log"), "w+");
        char line[1024] = "";
        CU_ASSERT_PTR_NOT_NULL_FATAL(log);
        sp_log_set_stream(log);
        k = new_ok(&cfg);
        sp_log_set_stream(NULL);
        CU_ASSERT(k && k->insecure);
        kapi_free(k);
        rewind(log);
        CU_ASSERT_PTR_NOT_NULL(fgets(line, sizeof(line), log));
        SP_ASSERT_CONTAINS(line, "level=warn event=kapi_insecure_tls");
        SP_ASSERT_CONTAINS(line, "context=dev cluster=c1");
        fclose(log);
    }
    rm_rf(dir);
}

static void t_new_kubeconfig_errors(void)
{
    char dir[PATH_SIZE], path[PATH_SIZE], text[KC_SIZE], want[KC_SIZE], b[512];
    kapi_config cfg = { 0 };

    tmpdir_make(dir);
    cfg.kubeconfig = join(path, dir, "config");
    snprintf(want, sizeof(want), "kubeconfig %s: cannot read: No such file or directory",
             cfg.kubeconfig);
    SP_ASSERT_STR(new_fails(&cfg, SP_EIO), want);

    put_file(dir, "config", "current-context: x\n");
    snprintf(want, sizeof(want), "kubeconfig %s: context \"x\" is not in contexts: name one "
             "that is (kubectl config get-contexts)", cfg.kubeconfig);
    SP_ASSERT_STR(new_fails(&cfg, SP_ENOTFOUND), want);

    put_file(dir, "config", kc_text(text, NULL, "    server: https://h\n"
                                    "    certificate-authority: ca.crt\n", NULL));
    snprintf(want, sizeof(want), "kubeconfig %s: context \"dev\": cluster \"c1\": field "
             "\"certificate-authority\": cannot read %s/ca.crt: No such file or directory",
             cfg.kubeconfig, dir);
    SP_ASSERT_STR(new_fails(&cfg, SP_EIO), want);

    put_file(dir, "ca.crt", "not a certificate\n");
    snprintf(want, sizeof(want), "kubeconfig %s: context \"dev\": cluster \"c1\": field "
             "\"certificate-authority\": %s/ca.crt is not PEM (no -----BEGIN CERTIFICATE----- "
             "block)", cfg.kubeconfig, dir);
    SP_ASSERT_STR(new_fails(&cfg, SP_EPARSE), want);

    put_file(dir, "config", kc_text(text, NULL, NULL, "    tokenFile: tok\n"));
    snprintf(want, sizeof(want), "kubeconfig %s: context \"dev\": user \"u1\": field "
             "\"tokenFile\": cannot read %s/tok: No such file or directory", cfg.kubeconfig,
             dir);
    SP_ASSERT_STR(new_fails(&cfg, SP_EIO), want);

    put_file(dir, "tok", "\n \n");
    snprintf(want, sizeof(want), "kubeconfig %s: context \"dev\": user \"u1\": field "
             "\"tokenFile\": cannot read %s/tok: the file is empty", cfg.kubeconfig, dir);
    SP_ASSERT_STR(new_fails(&cfg, SP_EIO), want);

    snprintf(text, sizeof(text), "    client-certificate-data: %s\n    client-key: k.pem\n",
             b64("just text", b));
    put_file(dir, "k.pem", pem_key);
    put_file(dir, "config", kc_text(want, NULL, NULL, text));
    snprintf(want, sizeof(want), "kubeconfig %s: context \"dev\": user \"u1\": field "
             "\"client-certificate-data\": is not PEM (no -----BEGIN CERTIFICATE----- block): "
             "encode the PEM file itself", cfg.kubeconfig);
    SP_ASSERT_STR(new_fails(&cfg, SP_EPARSE), want);

    snprintf(text, sizeof(text), "    client-certificate-data: %s\n    client-key: k.pem\n",
             b64(pem_cert, b));
    put_file(dir, "k.pem", pem_cert);
    put_file(dir, "config", kc_text(want, NULL, NULL, text));
    snprintf(want, sizeof(want), "kubeconfig %s: context \"dev\": user \"u1\": field "
             "\"client-key\": %s/k.pem is not PEM (no -----BEGIN PRIVATE KEY----- block)",
             cfg.kubeconfig, dir);
    SP_ASSERT_STR(new_fails(&cfg, SP_EPARSE), want);

    /* The context asked for wins over current-context, and must exist. */
    put_file(dir, "config", kc_text(text, NULL, NULL, NULL));
    cfg.context = "prod";
    snprintf(want, sizeof(want), "kubeconfig %s: context \"prod\" is not in contexts: name "
             "one that is (kubectl config get-contexts)", cfg.kubeconfig);
    SP_ASSERT_STR(new_fails(&cfg, SP_ENOTFOUND), want);
    cfg.context = NULL;

    cfg.max_attempts = -1;
    SP_ASSERT_STR(new_fails(&cfg, SP_EINVAL), "kapi_new: timeout_ms and max_attempts must "
                  "not be negative");
    SP_ASSERT_STR(new_fails(NULL, SP_EINVAL), "kapi_new: no configuration");
    rm_rf(dir);
}

/* Without a kubeconfig named: in-cluster when KUBERNETES_SERVICE_HOST is
 * set, else the first existing file of $KUBECONFIG, else ~/.kube/config. */
static void t_new_default_kubeconfig(void)
{
    char dir[PATH_SIZE], path[PATH_SIZE], list[3 * PATH_SIZE], text[KC_SIZE];
    const char *home = getenv("HOME");
    char *saved_home = home ? strdup(home) : NULL;
    kapi_config cfg = { 0 };
    kapi *k;

    tmpdir_make(dir);
    unsetenv("KUBERNETES_SERVICE_HOST");
    put_file(dir, "second", kc_text(text, NULL, "    server: https://second.example\n", NULL));
    snprintf(list, sizeof(list), "%s/missing::%s/second", dir, dir);
    setenv("KUBECONFIG", list, 1);
    k = new_ok(&cfg);
    if (k)
        SP_ASSERT_STR(kapi_server(k), "https://second.example");
    kapi_free(k);

    snprintf(list, sizeof(list), "%s/missing", dir);
    setenv("KUBECONFIG", list, 1);
    snprintf(text, sizeof(text), "no file of KUBECONFIG=\"%s/missing\" exists: fix KUBECONFIG "
             "or pass --kubeconfig", dir);
    SP_ASSERT_STR(new_fails(&cfg, SP_ENOTFOUND), text);

    unsetenv("KUBECONFIG");
    setenv("HOME", dir, 1);
    SP_ASSERT_STR(new_fails(&cfg, SP_ENOTFOUND),
                  "no cluster configured: not in a pod (KUBERNETES_SERVICE_HOST is not set), "
                  "KUBECONFIG is not set and ~/.kube/config does not exist: pass "
                  "--kubeconfig");
    CU_ASSERT_EQUAL(mkdir(join(path, dir, ".kube"), 0700), 0);
    put_file(dir, ".kube/config", kc_text(text, NULL, "    server: https://home.example\n",
                                          NULL));
    k = new_ok(&cfg);
    if (k)
        SP_ASSERT_STR(kapi_server(k), "https://home.example");
    kapi_free(k);
    if (saved_home)
        setenv("HOME", saved_home, 1);
    else
        unsetenv("HOME");
    free(saved_home);
    rm_rf(dir);
}

/* Every allocation of kapi_new failed in turn: SP_ENOMEM or a client,
 * never a crash or a leak. */
static void new_alloc_failures(const kapi_config *cfg)
{
    bool succeeded = false;

    for (long n = 0; n < 400 && !succeeded; n++) {
        kapi *k = NULL;
        sp_err err;
        sp_rc rc;
        sp_alloc_fail_after(n);
        rc = kapi_new(cfg, &k, &err);
        sp_alloc_fail_after(-1);
        if (rc != SP_OK && rc != SP_ENOMEM)
            fprintf(stderr, "\n  allocation %ld: %s\n", n, err.msg);
        CU_ASSERT(rc == SP_OK || rc == SP_ENOMEM);
        CU_ASSERT((rc == SP_OK) == (k != NULL));
        succeeded = rc == SP_OK;
        kapi_free(k);
    }
    CU_ASSERT_TRUE(succeeded);
}

static void t_new_alloc_failures(void)
{
    char dir[PATH_SIZE], path[PATH_SIZE], text[KC_SIZE], b[512], user[1024];
    kapi_config cfg = { 0 };

    tmpdir_make(dir);
    put_file(dir, "ca.crt", pem_cert);
    put_file(dir, "tok", "t\n");
    put_file(dir, "k.pem", pem_key);
    snprintf(user, sizeof(user), "    tokenFile: tok\n    client-certificate-data: %s\n"
             "    client-key: k.pem\n", b64(pem_cert, b));
    put_file(dir, "config", kc_text(text, "    cluster: c1\n    user: u1\n    namespace: n\n",
                                    "    server: https://h.example\n"
                                    "    certificate-authority: ca.crt\n", user));
    cfg.kubeconfig = join(path, dir, "config");
    new_alloc_failures(&cfg);
    rm_rf(dir);
}

/* ------------------------------------------------------------------------ */
/* In a pod                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct sa_files {
    char dir[PATH_SIZE];
    char token[PATH_SIZE];
    char ca[PATH_SIZE];
    char ns[PATH_SIZE];
} sa_files;

/* A service account directory with token, ca.crt and namespace; cfg
 * points at it. */
static void sa_make(sa_files *sa, kapi_config *cfg)
{
    tmpdir_make(sa->dir);
    join(sa->token, sa->dir, "token");
    join(sa->ca, sa->dir, "ca.crt");
    join(sa->ns, sa->dir, "namespace");
    write_text(sa->token, "sa-token-1\n");
    write_text(sa->ca, pem_cert);
    write_text(sa->ns, "streams\n");
    memset(cfg, 0, sizeof(*cfg));
    cfg->token_file = sa->token;
    cfg->ca_file = sa->ca;
    cfg->namespace_file = sa->ns;
}

static void t_in_cluster(void)
{
    kapi_config cfg;
    sa_files sa;
    char *tok = NULL;
    bool changed;
    kapi *k;

    sa_make(&sa, &cfg);
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    k = new_ok(&cfg);
    if (k) {
        SP_ASSERT_STR(kapi_server(k), "https://10.96.0.1:443");
        SP_ASSERT_STR(kapi_namespace(k), "streams");
        CU_ASSERT_EQUAL(kapi_token_get(k, false, &tok, &changed), SP_OK);
        SP_ASSERT_STR(tok, "sa-token-1");
        CU_ASSERT_FALSE(changed);
        sp_free(tok);
        CU_ASSERT(k->ca && k->ca_len == strlen(pem_cert));
    }
    kapi_free(k);

    setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
    unlink(sa.ns);   /* no namespace file: "default" */
    k = new_ok(&cfg);
    if (k) {
        SP_ASSERT_STR(kapi_server(k), "https://[fd00:10:96::1]:6443");
        SP_ASSERT_STR(kapi_namespace(k), "default");
    }
    kapi_free(k);

    setenv("KUBERNETES_SERVICE_HOST", "kubernetes.default.svc", 1);
    k = new_ok(&cfg);
    if (k)
        SP_ASSERT_STR(kapi_server(k), "https://kubernetes.default.svc:6443");
    kapi_free(k);
    /* Allocation failures on this path too. */
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    write_text(sa.ns, "streams\n");
    new_alloc_failures(&cfg);
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    rm_rf(sa.dir);
}

static void t_in_cluster_errors(void)
{
    char want[2048];
    kapi_config cfg;
    sa_files sa;

    sa_make(&sa, &cfg);
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    unsetenv("KUBERNETES_SERVICE_PORT");
    SP_ASSERT_STR(new_fails(&cfg, SP_EINVAL),
                  "in-cluster: KUBERNETES_SERVICE_HOST is set but KUBERNETES_SERVICE_PORT is "
                  "not: set both, or pass a kubeconfig");
    setenv("KUBERNETES_SERVICE_PORT", "https", 1);
    SP_ASSERT_STR(new_fails(&cfg, SP_EINVAL),
                  "in-cluster: KUBERNETES_SERVICE_PORT \"https\" is not a port number "
                  "(1-65535)");
    setenv("KUBERNETES_SERVICE_PORT", "70000", 1);
    SP_ASSERT_STR(new_fails(&cfg, SP_EINVAL),
                  "in-cluster: KUBERNETES_SERVICE_PORT \"70000\" is not a port number "
                  "(1-65535)");
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    setenv("KUBERNETES_SERVICE_HOST", "evil.example/path?", 1);
    SP_ASSERT_STR(new_fails(&cfg, SP_EINVAL),
                  "in-cluster: KUBERNETES_SERVICE_HOST \"evil.example/path?\" is not a host "
                  "name or IP address");
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);

    unlink(sa.token);
    snprintf(want, sizeof(want), "in-cluster: token file %s: No such file or directory: "
             "mount the service account token (automountServiceAccountToken) or pass a "
             "kubeconfig", sa.token);
    SP_ASSERT_STR(new_fails(&cfg, SP_EIO), want);
    write_text(sa.token, "bad\001token");
    snprintf(want, sizeof(want), "in-cluster: token file %s: the token contains a control "
             "character: mount the service account token (automountServiceAccountToken) or "
             "pass a kubeconfig", sa.token);
    SP_ASSERT_STR(new_fails(&cfg, SP_EIO), want);
    write_text(sa.token, "ok");

    unlink(sa.ca);
    snprintf(want, sizeof(want), "in-cluster: CA file %s: cannot read: No such file or "
             "directory", sa.ca);
    SP_ASSERT_STR(new_fails(&cfg, SP_EIO), want);
    write_text(sa.ca, "garbage");
    snprintf(want, sizeof(want), "in-cluster: CA file %s is not PEM (no -----BEGIN "
             "CERTIFICATE----- block)", sa.ca);
    SP_ASSERT_STR(new_fails(&cfg, SP_EPARSE), want);
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    rm_rf(sa.dir);
}

/* The token follows its file: re-read when it changes, at most every
 * recheck interval, at once when forced; an unreadable file keeps the old. */
static void t_token_rotation(void)
{
    kapi_config cfg;
    sa_files sa;
    char *tok = NULL;
    bool changed;
    kapi *k;

    sa_make(&sa, &cfg);
    setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
    k = new_ok(&cfg);
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    if (!k)
        goto out;
    sp_log_set_level(SP_LOG_OFF);
    write_text(sa.token, "sa-token-two\n");
    /* Checked less than the interval ago: not looked at yet. */
    CU_ASSERT_EQUAL(kapi_token_get(k, false, &tok, &changed), SP_OK);
    SP_ASSERT_STR(tok, "sa-token-1");
    CU_ASSERT_FALSE(changed);
    sp_free(tok);
    kapi_test_set_token_recheck_ms(k, 0);
    CU_ASSERT_EQUAL(kapi_token_get(k, false, &tok, &changed), SP_OK);
    SP_ASSERT_STR(tok, "sa-token-two");
    CU_ASSERT_TRUE(changed);
    sp_free(tok);
    CU_ASSERT_EQUAL(kapi_token_get(k, false, &tok, &changed), SP_OK);
    CU_ASSERT_FALSE(changed);
    sp_free(tok);
    /* Rotation by atomic rename (as the kubelet does). */
    {
        char tmp[PATH_SIZE];
        write_text(join(tmp, sa.dir, "token.new"), "sa-token-3");
        CU_ASSERT_EQUAL(rename(tmp, sa.token), 0);
    }
    CU_ASSERT_EQUAL(kapi_token_get(k, false, &tok, &changed), SP_OK);
    SP_ASSERT_STR(tok, "sa-token-3");
    sp_free(tok);
    /* Gone or empty for a moment: the old token stays. */
    unlink(sa.token);
    CU_ASSERT_EQUAL(kapi_token_get(k, false, &tok, &changed), SP_OK);
    SP_ASSERT_STR(tok, "sa-token-3");
    sp_free(tok);
    write_text(sa.token, "");
    CU_ASSERT_EQUAL(kapi_token_get(k, true, &tok, &changed), SP_OK);
    SP_ASSERT_STR(tok, "sa-token-3");
    CU_ASSERT_FALSE(changed);
    sp_free(tok);
    /* Forced: read even inside the interval. */
    kapi_test_set_token_recheck_ms(k, 60000);
    write_text(sa.token, "sa-token-4");
    CU_ASSERT_EQUAL(kapi_token_get(k, true, &tok, &changed), SP_OK);
    SP_ASSERT_STR(tok, "sa-token-4");
    CU_ASSERT_TRUE(changed);
    sp_free(tok);
    sp_log_set_level(SP_LOG_INFO);
out:
    kapi_free(k);
    rm_rf(sa.dir);
}

/* ------------------------------------------------------------------------ */
/* Paths                                                                      */
/* ------------------------------------------------------------------------ */

static void t_path(void)
{
    char buf[KAPI_PATH_MAX];

    CU_ASSERT_EQUAL(kapi_path(buf, sizeof(buf), "api", "v1", "namespaces", "default", "pods",
                              "pe-1", NULL), SP_OK);
    SP_ASSERT_STR(buf, "/api/v1/namespaces/default/pods/pe-1");
    CU_ASSERT_EQUAL(kapi_path(buf, sizeof(buf), "apis", "placement.streams.io", "v1alpha1",
                              "namespaces", "a b", "hostpools", "x/y?z#w%&=+", NULL), SP_OK);
    SP_ASSERT_STR(buf, "/apis/placement.streams.io/v1alpha1/namespaces/a%20b/hostpools/"
                       "x%2Fy%3Fz%23w%25%26%3D%2B");
    CU_ASSERT_EQUAL(kapi_path(buf, sizeof(buf), "A-Z_a.z~09", "\xc3\xa9\n", NULL), SP_OK);
    SP_ASSERT_STR(buf, "/A-Z_a.z~09/%C3%A9%0A");
    CU_ASSERT_EQUAL(kapi_path(buf, sizeof(buf), "...", ".a", NULL), SP_OK);
    SP_ASSERT_STR(buf, "/.../.a");
    CU_ASSERT_EQUAL(kapi_path(buf, sizeof(buf), NULL), SP_OK);
    SP_ASSERT_STR(buf, "/");

    /* Segments that would change which object is meant. */
    CU_ASSERT_EQUAL(kapi_path(buf, sizeof(buf), "api", "", "x", NULL), SP_EINVAL);
    SP_ASSERT_STR(buf, "");
    CU_ASSERT_EQUAL(kapi_path(buf, sizeof(buf), "api", "..", NULL), SP_EINVAL);
    CU_ASSERT_EQUAL(kapi_path(buf, sizeof(buf), ".", NULL), SP_EINVAL);
    CU_ASSERT_EQUAL(kapi_path(NULL, 10, "a", NULL), SP_EINVAL);
    CU_ASSERT_EQUAL(kapi_path(buf, 0, "a", NULL), SP_EINVAL);
}

static void t_path_bounds(void)
{
    char buf[16], big[KAPI_PATH_MAX + 8];
    char seg[KAPI_PATH_MAX];

    /* "/api/v1/a%2Fb" is 13 bytes: fits in 14, not in 13. */
    memset(buf, 'X', sizeof(buf));
    CU_ASSERT_EQUAL(kapi_path(buf, 14, "api", "v1", "a/b", NULL), SP_OK);
    SP_ASSERT_STR(buf, "/api/v1/a%2Fb");
    memset(buf, 'X', sizeof(buf));
    CU_ASSERT_EQUAL(kapi_path(buf, 13, "api", "v1", "a/b", NULL), SP_ELIMIT);
    SP_ASSERT_STR(buf, "");
    CU_ASSERT_EQUAL(buf[13], 'X');   /* nothing written past len */
    CU_ASSERT_EQUAL(kapi_path(buf, 12, "api", "v1", "a/b", NULL), SP_ELIMIT);
    CU_ASSERT_EQUAL(kapi_path(buf, 1, NULL), SP_ELIMIT);
    CU_ASSERT_EQUAL(kapi_path(buf, 2, NULL), SP_OK);

    /* A segment that triples when escaped. */
    memset(seg, '/', sizeof(seg) - 1);
    seg[sizeof(seg) - 1] = '\0';
    CU_ASSERT_EQUAL(kapi_path(big, sizeof(big), seg, NULL), SP_ELIMIT);
    memset(seg, 'a', sizeof(seg) - 1);
    seg[KAPI_PATH_MAX - 2] = '\0';
    CU_ASSERT_EQUAL(kapi_path(big, KAPI_PATH_MAX, seg, NULL), SP_OK);
    CU_ASSERT_EQUAL(strlen(big), KAPI_PATH_MAX - 1);
    seg[KAPI_PATH_MAX - 2] = 'a';
    seg[KAPI_PATH_MAX - 1] = '\0';
    CU_ASSERT_EQUAL(kapi_path(big, KAPI_PATH_MAX, seg, NULL), SP_ELIMIT);
}

static void t_escape(void)
{
    sp_buf b;

    sp_buf_init(&b, 64);
    CU_ASSERT_EQUAL(kapi_escape(&b, "app in (a,b),tier!=x"), SP_OK);
    SP_ASSERT_STR(b.data, "app%20in%20%28a%2Cb%29%2Ctier%21%3Dx");
    sp_buf_free(&b);
    sp_buf_init(&b, 4);   /* "a%20b" needs 5 */
    CU_ASSERT_EQUAL(kapi_escape(&b, "a b"), SP_ELIMIT);
    sp_buf_free(&b);
}

/* ------------------------------------------------------------------------ */
/* Helpers: base64, index, backoff                                            */
/* ------------------------------------------------------------------------ */

static void t_base64(void)
{
    static const struct {
        const char *in, *out;
    } good[] = {
        { "", "" }, { "QQ==", "A" }, { "QUI=", "AB" }, { "QUJD", "ABC" },
        { "QUJD\nREVG\n", "ABCDEF" }, { " QUJDRA== ", "ABCD" },
    };
    static const char *const bad[] = { "Q", "QQ", "QQ=", "QQ=A", "Q===", "QUJD====", "QU*D",
                                       "QQ==QQ==", "=QQQ" };
    unsigned char *out;
    size_t len;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        CU_ASSERT_EQUAL(kapi_base64_decode(good[i].in, strlen(good[i].in), &out, &len), SP_OK);
        CU_ASSERT_EQUAL(len, strlen(good[i].out));
        CU_ASSERT(out && memcmp(out, good[i].out, len) == 0);
        sp_free(out);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CU_ASSERT_EQUAL(kapi_base64_decode(bad[i], strlen(bad[i]), &out, &len), SP_EPARSE);
        CU_ASSERT_PTR_NULL(out);
    }
}

static void t_index(void)
{
    kapi_index ix;
    char key[32];
    kapi_entry *e;

    kapi_index_init(&ix);
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "ns/o%d", i);
        CU_ASSERT_EQUAL(kapi_index_put(&ix, key, "uid", "1", 1), SP_OK);
    }
    CU_ASSERT_EQUAL(ix.n, 100);
    CU_ASSERT_EQUAL(kapi_index_put(&ix, "ns/o5", "uid5", "7", 2), SP_OK);
    e = kapi_index_find(&ix, "ns/o5");
    CU_ASSERT(e && strcmp(e->uid, "uid5") == 0 && strcmp(e->rv, "7") == 0 && e->gen == 2);
    /* Remove every even one; the odd ones stay findable after the moves. */
    for (int i = 0; i < 100; i += 2) {
        snprintf(key, sizeof(key), "ns/o%d", i);
        CU_ASSERT_TRUE(kapi_index_del(&ix, key));
        CU_ASSERT_FALSE(kapi_index_del(&ix, key));
    }
    CU_ASSERT_EQUAL(ix.n, 50);
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "ns/o%d", i);
        e = kapi_index_find(&ix, key);
        CU_ASSERT((e != NULL) == (i % 2 == 1));
        if (e)
            SP_ASSERT_STR(e->key, key);
    }
    /* An update that runs out of memory leaves the entry as it was. */
    sp_alloc_fail_after(0);
    CU_ASSERT_EQUAL(kapi_index_put(&ix, "ns/o5", "other", "8", 3), SP_ENOMEM);
    sp_alloc_fail_after(1);   /* the uid copy fails, not the first */
    CU_ASSERT_EQUAL(kapi_index_put(&ix, "ns/o5", "other", "8", 3), SP_ENOMEM);
    for (long n = 0; n < 4; n++) {
        sp_alloc_fail_after(n);
        CU_ASSERT_EQUAL(kapi_index_put(&ix, "ns/new", "u", "1", 3), SP_ENOMEM);
    }
    sp_alloc_fail_after(-1);
    e = kapi_index_find(&ix, "ns/o5");
    CU_ASSERT(e && strcmp(e->uid, "uid5") == 0 && strcmp(e->rv, "7") == 0);
    CU_ASSERT_PTR_NULL(kapi_index_find(&ix, "ns/new"));
    kapi_index_free(&ix);
}

static void t_backoff(void)
{
    static const int caps[] = { 100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000 };
    sp_rng rng;

    sp_rng_seed(&rng, 7);
    for (unsigned a = 1; a <= 9; a++) {
        int max = 0, min = 1 << 30;
        for (int i = 0; i < 2000; i++) {
            int ms = kapi_backoff_ms(a, &rng);
            max = ms > max ? ms : max;
            min = ms < min ? ms : min;
        }
        CU_ASSERT(max <= caps[a - 1]);
        CU_ASSERT(max > caps[a - 1] * 9 / 10);   /* full jitter: the whole range */
        CU_ASSERT(min < caps[a - 1] / 10);
    }
    CU_ASSERT(kapi_backoff_ms(1000, &rng) <= 5000);
}

/* ------------------------------------------------------------------------ */
/* Requests and informers without a server                                    */
/* ------------------------------------------------------------------------ */

/* A client of https://127.0.0.1:port (a kubeconfig in dir), trusting
 * ca_pem when given (else the system's store). */
static kapi *client_for_port(const char *dir, int port, int attempts, const char *ca_pem)
{
    char text[KC_SIZE], server[KC_SIZE], path[PATH_SIZE];
    kapi_config cfg = { .max_attempts = attempts, .timeout_ms = 3000 };

    snprintf(server, sizeof(server), "    server: https://127.0.0.1:%d\n", port);
    if (ca_pem) {
        put_file(dir, "ca.crt", ca_pem);
        snprintf(server + strlen(server), sizeof(server) - strlen(server),
                 "    certificate-authority: ca.crt\n");
    }
    put_file(dir, "config", kc_text(text, NULL, server, NULL));
    cfg.kubeconfig = join(path, dir, "config");
    return new_ok(&cfg);
}

static void t_request_nothing_listening(void)
{
    char dir[PATH_SIZE];
    kapi_result r;
    double t0;
    kapi *k;

    tmpdir_make(dir);
    k = client_for_port(dir, closed_port(), 3, NULL);
    if (!k)
        goto out;
    sp_log_set_level(SP_LOG_OFF);
    t0 = now_s();
    CU_ASSERT_EQUAL(kapi_request(k, "GET", "/api/v1/nodes", NULL, NULL, 0, &r), SP_OK);
    CU_ASSERT(now_s() - t0 < 2.0);   /* two waits of at most 100 and 200 ms */
    sp_log_set_level(SP_LOG_INFO);
    CU_ASSERT_EQUAL(r.outcome, KAPI_TRANSPORT);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT(r.message[0] != '\0');
    CU_ASSERT(r.body && r.len == 0);
    kapi_result_free(&r);
    kapi_result_free(&r);   /* twice is harmless */
    kapi_result_free(NULL);

    /* Bad calls never reach the network. */
    CU_ASSERT_EQUAL(kapi_request(k, "HEAD", "/api", NULL, NULL, 0, &r), SP_EINVAL);
    CU_ASSERT_EQUAL(kapi_request(k, "GET", "api", NULL, NULL, 0, &r), SP_EINVAL);
    CU_ASSERT_EQUAL(kapi_request(k, NULL, "/api", NULL, NULL, 0, &r), SP_EINVAL);
    CU_ASSERT_EQUAL(kapi_request(k, "POST", "/api", NULL, NULL, 3, &r), SP_EINVAL);
    CU_ASSERT_EQUAL(kapi_request(k, "GET", "/api", NULL, NULL, 0, NULL), SP_EINVAL);
    CU_ASSERT_EQUAL(kapi_request(NULL, "GET", "/api", NULL, NULL, 0, &r), SP_EINVAL);
    {
        char *huge = malloc(KAPI_URL_MAX + 2);
        CU_ASSERT_PTR_NOT_NULL_FATAL(huge);
        memset(huge, 'a', KAPI_URL_MAX + 1);
        huge[0] = '/';
        huge[KAPI_URL_MAX + 1] = '\0';
        CU_ASSERT_EQUAL(kapi_request(k, "GET", huge, NULL, NULL, 0, &r), SP_EINVAL);
        free(huge);
    }
out:
    kapi_free(k);
    rm_rf(dir);
}

static void ignore_event(void *ctx, kapi_event ev, const cJSON *obj)
{
    (void)ctx;
    (void)ev;
    (void)obj;
}

static void t_informer_config_errors(void)
{
    kapi_informer_config cfg = { .path = "/api/v1/pods", .on_event = ignore_event };
    kapi_informer *inf = (kapi_informer *)1;
    sp_err err;

    CU_ASSERT_EQUAL(kapi_informer_start(NULL, &cfg, &inf, &err), SP_EINVAL);
    SP_ASSERT_STR(err.msg, "informer /api/v1/pods: no client");
    CU_ASSERT_PTR_NULL(inf);
    cfg.path = "api/v1/pods";
    CU_ASSERT_EQUAL(kapi_informer_start(NULL, &cfg, &inf, &err), SP_EINVAL);
    SP_ASSERT_STR(err.msg, "informer: path must be a collection path starting with '/' "
                           "(\"/api/v1/pods\")");
    cfg.path = "/api/v1/pods?labelSelector=a";
    CU_ASSERT_EQUAL(kapi_informer_start(NULL, &cfg, &inf, &err), SP_EINVAL);
    SP_ASSERT_STR(err.msg, "informer: path \"/api/v1/pods?labelSelector=a\" must be shorter "
                           "than 2048 bytes and carry no query (give label_selector instead)");
    cfg.path = "/api/v1/pods";
    cfg.on_event = NULL;
    CU_ASSERT_EQUAL(kapi_informer_start(NULL, &cfg, &inf, &err), SP_EINVAL);
    SP_ASSERT_STR(err.msg, "informer /api/v1/pods: on_event is required");
    cfg.on_event = ignore_event;
    cfg.watch_timeout_s = -1;
    CU_ASSERT_EQUAL(kapi_informer_start(NULL, &cfg, &inf, &err), SP_EINVAL);
    SP_ASSERT_STR(err.msg, "informer /api/v1/pods: watch_timeout_s -1 is out of range "
                           "(0-3600; 0: 300)");
    CU_ASSERT_FALSE(kapi_informer_synced(NULL));
    kapi_informer_stop(NULL);
}

/* Stop is prompt whatever the informer is doing: backing off after
 * refused connections, or stuck in a TLS handshake nobody answers. */
static void t_informer_stop_without_server(void)
{
    kapi_informer_config icfg = { .path = "/api/v1/pods", .on_event = ignore_event };
    char dir[PATH_SIZE];
    kapi_informer *inf = NULL;
    certs_pair ca = { 0 };
    int port, fd;
    double t0;
    sp_err err;
    kapi *k;

    tmpdir_make(dir);
    sp_log_set_level(SP_LOG_OFF);
    k = client_for_port(dir, closed_port(), 20, NULL);
    if (k && kapi_informer_start(k, &icfg, &inf, &err) == SP_OK) {
        usleep(700 * 1000);   /* into the backoff of its list */
        CU_ASSERT_FALSE(kapi_informer_synced(inf));
        t0 = now_s();
        kapi_informer_stop(inf);
        CU_ASSERT(now_s() - t0 < 0.5);
    }
    kapi_free(k);

    /* A real CA (one certificate to load, not the system's store). */
    CU_ASSERT_EQUAL_FATAL(certs_make_ca(&(certs_spec){ .common_name = "test" }, &ca, &err),
                          SP_OK);
    fd = silent_listener(&port);
    k = client_for_port(dir, port, 1, ca.cert_pem);
    if (k && kapi_informer_start(k, &icfg, &inf, &err) == SP_OK) {
        usleep(300 * 1000);   /* connected; the handshake never finishes */
        t0 = now_s();
        kapi_informer_stop(inf);
        CU_ASSERT(now_s() - t0 < 0.5);
    }
    kapi_free(k);
    certs_pair_free(&ca);
    close(fd);
    sp_log_set_level(SP_LOG_INFO);
    rm_rf(dir);
}

/* ------------------------------------------------------------------------ */
/* Against the fake API server: requests                                      */
/* ------------------------------------------------------------------------ */

typedef struct fake_env {
    char dir[PATH_SIZE];
    kfake *f;
    kapi *k;
} fake_env;

/* A fake server and a client of it (through the kubeconfig it writes). */
static bool fake_up(fake_env *e, int attempts)
{
    char path[PATH_SIZE];
    kapi_config cfg = { .max_attempts = attempts, .timeout_ms = 5000 };

    memset(e, 0, sizeof(*e));
    tmpdir_make(e->dir);
    e->f = kfake_start(e->dir);
    CU_ASSERT_PTR_NOT_NULL(e->f);
    if (!e->f)
        return false;
    cfg.kubeconfig = join(path, e->dir, "kubeconfig");
    e->k = new_ok(&cfg);
    return e->k != NULL;
}

static void fake_down(fake_env *e)
{
    kapi_free(e->k);
    kfake_stop(e->f);
    rm_rf(e->dir);
}

static cJSON *make_obj(const char *kind, const char *ns, const char *name, const char *app)
{
    cJSON *o = cJSON_CreateObject(), *meta = cJSON_AddObjectToObject(o, "metadata");

    cJSON_AddStringToObject(o, "apiVersion", "v1");
    cJSON_AddStringToObject(o, "kind", kind);
    cJSON_AddStringToObject(meta, "name", name);
    if (ns)
        cJSON_AddStringToObject(meta, "namespace", ns);
    if (app)
        cJSON_AddStringToObject(cJSON_AddObjectToObject(meta, "labels"), "app", app);
    return o;
}

/* Put a pod (or node, ns NULL) into the fake as another client would. */
static uint64_t fake_put(kfake *f, const char *ns, const char *name, const char *app)
{
    cJSON *o = make_obj(ns ? "Pod" : "Node", ns, name, app);
    uint64_t rv = kfake_put(f, ns ? "pods" : "nodes", o);

    cJSON_Delete(o);
    CU_ASSERT(rv > 0);
    return rv;
}

/* kapi_request that must return SP_OK with outcome and status. */
static void expect(kapi *k, const char *method, const char *path, const char *body,
                   kapi_outcome outcome, long status, kapi_result *r)
{
    sp_rc rc = kapi_request(k, method, path, body ? "application/json" : NULL, body,
                            body ? strlen(body) : 0, r);

    CU_ASSERT_EQUAL(rc, SP_OK);
    if (rc == SP_OK && (r->outcome != outcome || r->status != status))
        fprintf(stderr, "\n  %s %s: outcome %d status %ld (%s); wanted %d %ld\n", method, path,
                r->outcome, r->status, r->message, outcome, status);
    CU_ASSERT_EQUAL(r->outcome, outcome);
    CU_ASSERT_EQUAL(r->status, status);
    CU_ASSERT(rc != SP_OK || (r->body && strlen(r->body) == r->len));
}

static const char pod_body[] =
    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p1\"},"
    "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}";

static void t_fake_outcomes(void)
{
    char path[KAPI_PATH_MAX], q[KAPI_PATH_MAX + 64];
    fake_env e;
    kapi_result r;
    uint64_t rv;

    if (!fake_up(&e, 3))
        goto out;
    SP_ASSERT_STR(kapi_namespace(e.k), "default");
    CU_ASSERT_EQUAL(kapi_path(path, sizeof(path), "api", "v1", "namespaces", "default", "pods",
                              "p1", NULL), SP_OK);
    expect(e.k, "GET", path, NULL, KAPI_NOT_FOUND, 404, &r);
    SP_ASSERT_STR(r.message, "pods \"p1\" not found");
    kapi_result_free(&r);

    expect(e.k, "POST", "/api/v1/namespaces/default/pods", pod_body, KAPI_OK, 201, &r);
    SP_ASSERT_CONTAINS(r.body, "\"name\":\"p1\"");
    SP_ASSERT_STR(r.message, "");
    kapi_result_free(&r);
    expect(e.k, "POST", "/api/v1/namespaces/default/pods", pod_body, KAPI_CONFLICT, 409, &r);
    SP_ASSERT_STR(r.message, "pods \"p1\" already exists");
    kapi_result_free(&r);
    expect(e.k, "GET", path, NULL, KAPI_OK, 200, &r);
    SP_ASSERT_CONTAINS(r.body, "\"uid\"");
    kapi_result_free(&r);

    /* A stale resourceVersion on update: 409 too. */
    expect(e.k, "PUT", path,
           "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p1\","
           "\"namespace\":\"default\",\"resourceVersion\":\"1\"},"
           "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}",
           KAPI_CONFLICT, 409, &r);
    kapi_result_free(&r);
    {
        static const char patch[] = "{\"metadata\":{\"labels\":{\"a\":\"b\"}}}";
        CU_ASSERT_EQUAL(kapi_request(e.k, "PATCH", path, "application/merge-patch+json",
                                     patch, strlen(patch), &r), SP_OK);
    }
    CU_ASSERT_EQUAL(r.outcome, KAPI_OK);
    SP_ASSERT_CONTAINS(r.body, "\"a\":\"b\"");
    kapi_result_free(&r);

    /* Other 4xx: KAPI_CLIENT, never retried. */
    expect(e.k, "POST", "/api/v1/namespaces/default/pods",
           "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"Bad_Name\"}}",
           KAPI_CLIENT, 422, &r);
    SP_ASSERT_CONTAINS(r.message, "Bad_Name");
    kapi_result_free(&r);
    expect(e.k, "GET", "/api/v1/pods?labelSelector=%3D%3D%3D", NULL, KAPI_CLIENT, 400, &r);
    kapi_result_free(&r);
    CU_ASSERT_EQUAL(kfake_requests(e.f, "GET", "/api/v1/pods"), 1);

    /* 410: a list from a compacted resourceVersion. */
    rv = fake_put(e.f, "default", "p2", NULL);
    fake_put(e.f, "default", "p3", NULL);
    kfake_compact(e.f);
    snprintf(q, sizeof(q), "/api/v1/pods?resourceVersion=%llu&resourceVersionMatch=Exact",
             (unsigned long long)rv);
    expect(e.k, "GET", q, NULL, KAPI_GONE, 410, &r);
    SP_ASSERT_CONTAINS(r.message, "too old resource version");
    kapi_result_free(&r);

    /* 501 is a server error, but not one that retrying fixes. */
    kfake_fail(e.f, "GET", "/api/v1/nodes", 501, 0, 5);
    expect(e.k, "GET", "/api/v1/nodes", NULL, KAPI_SERVER, 501, &r);
    SP_ASSERT_STR(r.message, "injected fault");
    kapi_result_free(&r);
    CU_ASSERT_EQUAL(kfake_requests(e.f, "GET", "/api/v1/nodes"), 1);
    kfake_fail(e.f, "GET", "/api/v1/nodes", 501, 0, 0);

    expect(e.k, "DELETE", path, NULL, KAPI_OK, 200, &r);
    kapi_result_free(&r);
    expect(e.k, "DELETE", path, NULL, KAPI_NOT_FOUND, 404, &r);
    kapi_result_free(&r);
    CU_ASSERT_EQUAL(kfake_requests(e.f, "DELETE", NULL), 2);
out:
    fake_down(&e);
}

static void t_fake_unauthorized(void)
{
    char path[PATH_SIZE], text[KC_SIZE], server[KC_SIZE];
    kapi_config cfg = { .max_attempts = 3 };
    fake_env e;
    kapi_result r;
    kapi *k;

    if (!fake_up(&e, 3))
        goto out;
    snprintf(server, sizeof(server), "    server: %s\n    certificate-authority: ca.crt\n",
             kapi_server(e.k));
    put_file(e.dir, "wrong", kc_text(text, NULL, server, "    token: not-the-token\n"));
    cfg.kubeconfig = join(path, e.dir, "wrong");
    k = new_ok(&cfg);
    if (k) {
        expect(k, "GET", "/api/v1/nodes", NULL, KAPI_CLIENT, 401, &r);
        SP_ASSERT_STR(r.message, "Unauthorized");
        kapi_result_free(&r);
        CU_ASSERT_EQUAL(kfake_requests(e.f, NULL, NULL), 1);
    }
    kapi_free(k);

    /* A CA that did not sign the server's certificate: a TLS failure. */
    put_file(e.dir, "other-ca.crt", pem_cert);
    snprintf(server, sizeof(server), "    server: %s\n", kapi_server(e.k));
    put_file(e.dir, "wrong", kc_text(text, NULL, server, NULL));
    k = new_ok(&cfg);
    if (k) {
        sp_log_set_level(SP_LOG_OFF);
        expect(k, "GET", "/api/v1/nodes", NULL, KAPI_TRANSPORT, 0, &r);
        sp_log_set_level(SP_LOG_INFO);
        CU_ASSERT(r.message[0] != '\0');
        kapi_result_free(&r);
        CU_ASSERT_EQUAL(kfake_requests(e.f, NULL, NULL), 1);
    }
    kapi_free(k);
out:
    fake_down(&e);
}

static void t_fake_retries(void)
{
    static const int retried[] = { 500, 502, 503, 504 };
    fake_env e;
    kapi_result r;
    double t0, took;

    if (!fake_up(&e, 3))
        goto out;
    sp_log_set_level(SP_LOG_OFF);
    for (size_t i = 0; i < sizeof(retried) / sizeof(retried[0]); i++) {
        size_t before = kfake_requests(e.f, "GET", "/api/v1/nodes");
        kfake_fail(e.f, "GET", "/api/v1/nodes", retried[i], 0, 2);
        expect(e.k, "GET", "/api/v1/nodes", NULL, KAPI_OK, 200, &r);
        kapi_result_free(&r);
        CU_ASSERT_EQUAL(kfake_requests(e.f, "GET", "/api/v1/nodes") - before, 3);
    }

    /* Still failing after max_attempts: KAPI_SERVER with the last answer. */
    kfake_fail(e.f, "GET", "/api/v1/nodes", 500, 0, 10);
    expect(e.k, "GET", "/api/v1/nodes", NULL, KAPI_SERVER, 500, &r);
    SP_ASSERT_STR(r.message, "Internal error occurred: injected fault");
    kapi_result_free(&r);
    CU_ASSERT_EQUAL(kfake_requests(e.f, "GET", "/api/v1/nodes"), 15);
    kfake_fail(e.f, "GET", "/api/v1/nodes", 500, 0, 0);

    /* 429 with Retry-After: 1 waits about a second, then succeeds. */
    kfake_fail(e.f, "GET", "/api/v1/pods", 429, 1, 1);
    t0 = now_s();
    expect(e.k, "GET", "/api/v1/pods", NULL, KAPI_OK, 200, &r);
    took = now_s() - t0;
    kapi_result_free(&r);
    CU_ASSERT(took >= 0.95 && took < 2.5);
    CU_ASSERT_EQUAL(kfake_requests(e.f, "GET", "/api/v1/pods"), 2);

    /* 429 every time: KAPI_THROTTLED after max_attempts. */
    kfake_fail(e.f, "GET", "/api/v1/pods", 429, 0, 10);
    expect(e.k, "GET", "/api/v1/pods", NULL, KAPI_THROTTLED, 429, &r);
    SP_ASSERT_STR(r.message, "Too many requests, please try again later.");
    kapi_result_free(&r);
    CU_ASSERT_EQUAL(kfake_requests(e.f, "GET", "/api/v1/pods"), 5);
    kfake_fail(e.f, "GET", "/api/v1/pods", 429, 0, 0);

    /* Backoff without Retry-After stays within its caps: two waits of at
     * most 100 and 200 ms. */
    kfake_fail(e.f, "GET", "/api/v1/events", 503, 0, 10);
    t0 = now_s();
    expect(e.k, "GET", "/api/v1/events", NULL, KAPI_SERVER, 503, &r);
    CU_ASSERT(now_s() - t0 < 1.0);
    kapi_result_free(&r);
    kfake_fail(e.f, "GET", "/api/v1/events", 503, 0, 0);

    /* 409 and 404 are answers, not failures: never repeated. */
    expect(e.k, "GET", "/api/v1/namespaces/default/pods/nope", NULL, KAPI_NOT_FOUND, 404, &r);
    kapi_result_free(&r);
    CU_ASSERT_EQUAL(kfake_requests(e.f, "GET", "/api/v1/namespaces/default/pods/nope"), 1);
    expect(e.k, "POST", "/api/v1/namespaces/default/pods", pod_body, KAPI_OK, 201, &r);
    kapi_result_free(&r);
    expect(e.k, "POST", "/api/v1/namespaces/default/pods", pod_body, KAPI_CONFLICT, 409, &r);
    kapi_result_free(&r);
    CU_ASSERT_EQUAL(kfake_requests(e.f, "POST", NULL), 2);
    sp_log_set_level(SP_LOG_INFO);
out:
    fake_down(&e);
}

static void t_fake_transport_timeout(void)
{
    fake_env e;
    kapi_result r;
    double t0;
    kapi *k = NULL;
    char path[PATH_SIZE];
    kapi_config cfg = { .max_attempts = 2, .timeout_ms = 300 };

    if (!fake_up(&e, 3))
        goto out;
    cfg.kubeconfig = join(path, e.dir, "kubeconfig");
    k = new_ok(&cfg);
    if (!k)
        goto out;
    /* An answer slower than the timeout: a transport failure, retried. */
    kfake_delay(e.f, 600);
    sp_log_set_level(SP_LOG_OFF);
    t0 = now_s();
    expect(k, "GET", "/api/v1/nodes", NULL, KAPI_TRANSPORT, 0, &r);
    sp_log_set_level(SP_LOG_INFO);
    CU_ASSERT(now_s() - t0 < 1.5);
    SP_ASSERT_CONTAINS(r.message, "timed out");
    kapi_result_free(&r);
    kfake_delay(e.f, 0);
    usleep(700 * 1000);   /* let the fake finish the abandoned requests */
    CU_ASSERT_EQUAL(kfake_requests(e.f, "GET", "/api/v1/nodes"), 2);
    expect(k, "GET", "/api/v1/nodes", NULL, KAPI_OK, 200, &r);
    kapi_result_free(&r);
out:
    kapi_free(k);
    fake_down(&e);
}

static void t_fake_bounded_response(void)
{
    char name[32];
    fake_env e;
    kapi_result r;

    if (!fake_up(&e, 3))
        goto out;
    for (int i = 0; i < 60; i++) {
        snprintf(name, sizeof(name), "node-%03d", i);
        fake_put(e.f, NULL, name, NULL);
    }
    kapi_test_set_max_response(e.k, 4096);
    expect(e.k, "GET", "/api/v1/nodes", NULL, KAPI_TRANSPORT, 200, &r);
    SP_ASSERT_STR(r.message, "the answer is larger than 4096 bytes");
    CU_ASSERT(r.len <= 4096);
    kapi_result_free(&r);
    CU_ASSERT_EQUAL(kfake_requests(e.f, "GET", "/api/v1/nodes"), 1);   /* not retried */
    /* The same client is fine afterwards, and small answers pass. */
    expect(e.k, "GET", "/api/v1/nodes/node-001", NULL, KAPI_OK, 200, &r);
    kapi_result_free(&r);
    kapi_test_set_max_response(e.k, KAPI_MAX_RESPONSE);
    expect(e.k, "GET", "/api/v1/nodes", NULL, KAPI_OK, 200, &r);
    CU_ASSERT(r.len > 4096);
    kapi_result_free(&r);
out:
    fake_down(&e);
}

/* In a pod whose token file is rotated: the client follows the file. The
 * fake accepts one fixed token, so rotation here goes from a stale token
 * to the accepted one. */
static void t_fake_token_rotation(void)
{
    char port[16], mine[PATH_SIZE], ca[PATH_SIZE], good[128];
    kapi_config cfg = { .max_attempts = 3 };
    size_t len;
    fake_env e;
    kapi_result r;
    kapi *k = NULL;
    FILE *f;

    if (!fake_up(&e, 3))
        goto out;
    f = fopen(join(mine, e.dir, "token"), "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    len = fread(good, 1, sizeof(good) - 1, f);
    good[len] = '\0';
    fclose(f);
    snprintf(port, sizeof(port), "%u", (unsigned)kfake_port(e.f));
    setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", port, 1);
    write_text(join(mine, e.dir, "my-token"), "stale-token\n");
    cfg.token_file = mine;
    cfg.ca_file = join(ca, e.dir, "ca.crt");
    cfg.namespace_file = "/nonexistent/namespace";
    k = new_ok(&cfg);
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    if (!k)
        goto out;
    SP_ASSERT_STR(kapi_namespace(k), "default");
    sp_log_set_level(SP_LOG_OFF);
    /* The stale token: 401; re-reading the unchanged file does not help. */
    expect(k, "GET", "/api/v1/nodes", NULL, KAPI_CLIENT, 401, &r);
    kapi_result_free(&r);
    CU_ASSERT_EQUAL(kfake_requests(e.f, NULL, NULL), 1);
    /* Rotated within the recheck interval: the 401 makes the client read
     * the file at once and repeat the request with the new token. */
    write_text(mine, good);
    expect(k, "GET", "/api/v1/nodes", NULL, KAPI_OK, 200, &r);
    kapi_result_free(&r);
    CU_ASSERT_EQUAL(kfake_requests(e.f, NULL, NULL), 3);
    /* Rotated again, and the interval has passed: the first attempt already
     * carries the new token. */
    write_text(mine, "stale-again");
    kapi_test_set_token_recheck_ms(k, 0);
    expect(k, "GET", "/api/v1/nodes", NULL, KAPI_CLIENT, 401, &r);
    kapi_result_free(&r);
    CU_ASSERT_EQUAL(kfake_requests(e.f, NULL, NULL), 4);
    write_text(mine, good);
    expect(k, "GET", "/api/v1/nodes", NULL, KAPI_OK, 200, &r);
    kapi_result_free(&r);
    CU_ASSERT_EQUAL(kfake_requests(e.f, NULL, NULL), 5);
    sp_log_set_level(SP_LOG_INFO);
out:
    kapi_free(k);
    fake_down(&e);
}

/* Client certificates from files and inline data reach the TLS layer: a
 * real pair connects, a key that does not belong to the certificate fails
 * before anything is sent; a key file others can read is logged. */
static void t_fake_client_certificate(void)
{
    char path[PATH_SIZE], text[KC_SIZE], server[KC_SIZE], user[KC_SIZE], b1[4096], b2[4096];
    certs_spec spec = { .common_name = "streams-placer" };
    certs_pair a = { 0 }, b = { 0 };
    kapi_config cfg = { .max_attempts = 1 };
    fake_env e;
    kapi_result r;
    sp_err err;
    kapi *k;

    if (!fake_up(&e, 3))
        goto out;
    CU_ASSERT_EQUAL_FATAL(certs_make_ca(&spec, &a, &err), SP_OK);
    CU_ASSERT_EQUAL_FATAL(certs_make_ca(&spec, &b, &err), SP_OK);
    snprintf(server, sizeof(server), "    server: %s\n    certificate-authority: ca.crt\n",
             kapi_server(e.k));
    cfg.kubeconfig = join(path, e.dir, "client");

    /* Files (the key 0644: a warning). */
    put_file(e.dir, "client.crt", a.cert_pem);
    put_file(e.dir, "client.key", a.key_pem);
    CU_ASSERT_EQUAL(chmod(join(text, e.dir, "client.key"), 0644), 0);
    put_file(e.dir, "client", kc_text(text, NULL, server,
                                      "    token: x\n    client-certificate: client.crt\n"
                                      "    client-key: client.key\n"));
    sp_log_set_level(SP_LOG_ERROR);
    k = new_ok(&cfg);
    sp_log_set_level(SP_LOG_INFO);
    if (k) {
        expect(k, "GET", "/api/v1/nodes", NULL, KAPI_CLIENT, 401, &r);   /* TLS worked */
        kapi_result_free(&r);
    }
    kapi_free(k);

    /* Inline data, with the wrong key. */
    snprintf(user, sizeof(user), "    client-certificate-data: %s\n    client-key-data: %s\n",
             b64(a.cert_pem, b1), b64(b.key_pem, b2));
    put_file(e.dir, "client", kc_text(text, NULL, server, user));
    k = new_ok(&cfg);
    if (k) {
        sp_log_set_level(SP_LOG_OFF);
        expect(k, "GET", "/api/v1/nodes", NULL, KAPI_TRANSPORT, 0, &r);
        sp_log_set_level(SP_LOG_INFO);
        kapi_result_free(&r);
    }
    kapi_free(k);
    CU_ASSERT_EQUAL(kfake_requests(e.f, NULL, NULL), 1);
out:
    certs_pair_free(&a);
    certs_pair_free(&b);
    fake_down(&e);
}

typedef struct hammer {
    kapi *k;
    int ok;
} hammer;

static void *hammer_main(void *p)
{
    hammer *h = p;
    kapi_result r;

    for (int i = 0; i < 25; i++) {
        if (kapi_request(h->k, "GET", "/api/v1/nodes", NULL, NULL, 0, &r) == SP_OK &&
            r.outcome == KAPI_OK)
            h->ok++;
        kapi_result_free(&r);
    }
    return NULL;
}

static void t_fake_connection_reuse(void)
{
    pthread_t threads[4];
    hammer h[4];
    fake_env e;
    kapi_result r;

    if (!fake_up(&e, 3))
        goto out;
    for (int i = 0; i < 20; i++) {
        expect(e.k, "GET", "/api/v1/nodes", NULL, KAPI_OK, 200, &r);
        kapi_result_free(&r);
    }
    CU_ASSERT_EQUAL(kfake_requests(e.f, NULL, NULL), 20);
    CU_ASSERT_EQUAL(kapi_test_connects(e.k), 1);   /* one connection, kept alive */

    /* Four threads at once: every request answered, each thread's handle
     * keeps its connection (at most one more per thread). */
    for (int i = 0; i < 4; i++) {
        h[i] = (hammer){ e.k, 0 };
        CU_ASSERT_EQUAL_FATAL(pthread_create(&threads[i], NULL, hammer_main, &h[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        CU_ASSERT_EQUAL(h[i].ok, 25);
    }
    CU_ASSERT(kapi_test_connects(e.k) <= 5);
    CU_ASSERT_EQUAL(kfake_requests(e.f, NULL, NULL), 120);
out:
    fake_down(&e);
}

/* ------------------------------------------------------------------------ */
/* Against the fake API server: informers                                     */
/* ------------------------------------------------------------------------ */

typedef struct rec_event {
    kapi_event ev;
    char key[160];
    char uid[64];
    bool has_kind;
} rec_event;

/* What the callbacks saw, for assertions from the test's thread. */
typedef struct recorder {
    pthread_mutex_t mu;
    rec_event *ev;
    size_t n, cap;
    int synced;
} recorder;

static void rec_init(recorder *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
}

static void rec_free(recorder *r)
{
    free(r->ev);
    pthread_mutex_destroy(&r->mu);
}

static void rec_on_event(void *ctx, kapi_event ev, const cJSON *obj)
{
    recorder *r = ctx;
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    const cJSON *ns = cJSON_GetObjectItemCaseSensitive(meta, "namespace");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(meta, "name");
    const cJSON *uid = cJSON_GetObjectItemCaseSensitive(meta, "uid");
    rec_event e = { .ev = ev };

    snprintf(e.key, sizeof(e.key), "%s/%s", cJSON_IsString(ns) ? ns->valuestring : "",
             cJSON_IsString(name) ? name->valuestring : "?");
    snprintf(e.uid, sizeof(e.uid), "%s", cJSON_IsString(uid) ? uid->valuestring : "");
    e.has_kind = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(obj, "kind"));
    pthread_mutex_lock(&r->mu);
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->ev = realloc(r->ev, r->cap * sizeof(*r->ev));
        if (!r->ev)
            abort();
    }
    r->ev[r->n++] = e;
    pthread_mutex_unlock(&r->mu);
}

static void rec_on_synced(void *ctx)
{
    recorder *r = ctx;

    pthread_mutex_lock(&r->mu);
    r->synced++;
    pthread_mutex_unlock(&r->mu);
}

/* Events of kind ev for key (NULL: any key). */
static size_t rec_count(recorder *r, kapi_event ev, const char *key)
{
    size_t n = 0;

    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n; i++)
        if (r->ev[i].ev == ev && (!key || strcmp(r->ev[i].key, key) == 0))
            n++;
    pthread_mutex_unlock(&r->mu);
    return n;
}

static int rec_synced(recorder *r)
{
    int n;

    pthread_mutex_lock(&r->mu);
    n = r->synced;
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* Wait (up to secs) until there are at least n such events. */
static bool rec_wait(recorder *r, kapi_event ev, const char *key, size_t n, double secs)
{
    double end = now_s() + secs;

    while (rec_count(r, ev, key) < n) {
        if (now_s() > end)
            return false;
        usleep(10 * 1000);
    }
    return true;
}

static bool synced_wait(recorder *r, int n, double secs)
{
    double end = now_s() + secs;

    while (rec_synced(r) < n) {
        if (now_s() > end)
            return false;
        usleep(10 * 1000);
    }
    return true;
}

/* Wait until the fake has seen n requests like these. */
static bool requests_wait(kfake *f, const char *method, const char *prefix, size_t n,
                          double secs)
{
    double end = now_s() + secs;

    while (kfake_requests(f, method, prefix) < n) {
        if (now_s() > end)
            return false;
        usleep(10 * 1000);
    }
    return true;
}

static kapi_informer *start_informer(kapi *k, const char *path, const char *selector,
                                     recorder *rec)
{
    kapi_informer_config cfg = {
        .path = path,
        .label_selector = selector,
        .on_event = rec_on_event,
        .on_synced = rec_on_synced,
        .ctx = rec,
        .watch_timeout_s = 60,
    };
    kapi_informer *inf = NULL;
    sp_err err;

    if (kapi_informer_start(k, &cfg, &inf, &err) != SP_OK)
        fprintf(stderr, "\n  kapi_informer_start: %s\n", err.msg);
    CU_ASSERT_PTR_NOT_NULL(inf);
    return inf;
}

static void t_informer_sync_and_events(void)
{
    char name[32];
    kapi_informer *inf = NULL;
    recorder rec;
    fake_env e;
    double t0;
    cJSON *o;

    rec_init(&rec);
    if (!fake_up(&e, 3))
        goto out;
    /* 1,100 nodes: three pages of 500. */
    for (int i = 0; i < 1100; i++) {
        snprintf(name, sizeof(name), "node-%04d", i);
        fake_put(e.f, NULL, name, NULL);
    }
    inf = start_informer(e.k, "/api/v1/nodes", NULL, &rec);
    if (!inf)
        goto out;
    CU_ASSERT_TRUE(synced_wait(&rec, 1, 10));
    CU_ASSERT_TRUE(kapi_informer_synced(inf));
    CU_ASSERT_EQUAL(rec_count(&rec, KAPI_ADDED, NULL), 1100);
    CU_ASSERT_EQUAL(rec.n, 1100);
    CU_ASSERT_TRUE(rec.ev[0].has_kind);   /* list items completed with kind */
    CU_ASSERT(strlen(rec.ev[0].uid) > 0);
    /* Three pages, then the watch (which may have started already). */
    CU_ASSERT(kfake_requests(e.f, "GET", "/api/v1/nodes") >= 3);
    CU_ASSERT_TRUE(requests_wait(e.f, "GET", "/api/v1/nodes", 4, 5));
    CU_ASSERT_EQUAL(kfake_requests(e.f, "GET", "/api/v1/nodes"), 4);

    /* Add, modify, delete. */
    fake_put(e.f, NULL, "node-new", NULL);
    CU_ASSERT_TRUE(rec_wait(&rec, KAPI_ADDED, "/node-new", 1, 5));
    fake_put(e.f, NULL, "node-new", "labelled");
    CU_ASSERT_TRUE(rec_wait(&rec, KAPI_MODIFIED, "/node-new", 1, 5));
    CU_ASSERT_TRUE(kfake_delete(e.f, "nodes", NULL, "node-0007"));
    CU_ASSERT_TRUE(rec_wait(&rec, KAPI_DELETED, "/node-0007", 1, 5));
    /* A write that changes nothing is no event. */
    o = make_obj("Node", NULL, "node-new", "labelled");
    kfake_put(e.f, "nodes", o);
    cJSON_Delete(o);
    usleep(300 * 1000);
    CU_ASSERT_EQUAL(rec_count(&rec, KAPI_MODIFIED, "/node-new"), 1);

    /* Bookmarks (every 500 ms from the fake) are no events, and an idle
     * watch stays up. */
    usleep(1200 * 1000);
    CU_ASSERT_EQUAL(rec.n, 1103);
    CU_ASSERT_EQUAL(kfake_requests(e.f, "GET", "/api/v1/nodes"), 4);
    CU_ASSERT_EQUAL(rec_synced(&rec), 1);

    /* Stop is prompt while a watch is open. */
    t0 = now_s();
    kapi_informer_stop(inf);
    inf = NULL;
    CU_ASSERT(now_s() - t0 < 0.5);
out:
    kapi_informer_stop(inf);
    fake_down(&e);
    rec_free(&rec);
}

/* Stop while a list is waiting for its answer: prompt too. */
static void t_informer_stop_midway(void)
{
    kapi_informer *inf = NULL;
    recorder rec;
    fake_env e;
    double t0;

    rec_init(&rec);
    if (!fake_up(&e, 3))
        goto out;
    fake_put(e.f, "a", "p1", NULL);
    kfake_delay(e.f, 1500);
    inf = start_informer(e.k, "/api/v1/pods", NULL, &rec);
    if (!inf)
        goto out;
    CU_ASSERT_TRUE(requests_wait(e.f, "GET", "/api/v1/pods", 1, 5));
    usleep(100 * 1000);
    t0 = now_s();
    kapi_informer_stop(inf);
    inf = NULL;
    CU_ASSERT(now_s() - t0 < 0.5);
    CU_ASSERT_EQUAL(rec_synced(&rec), 0);
    CU_ASSERT_EQUAL(rec.n, 0);
out:
    kapi_informer_stop(inf);
    fake_down(&e);
    rec_free(&rec);
}

/* A watch that the server ends is resumed from the last resourceVersion:
 * nothing is delivered twice, nothing is missed, no relist. */
static void t_informer_reconnect(void)
{
    kapi_informer *inf = NULL;
    recorder rec;
    fake_env e;

    rec_init(&rec);
    if (!fake_up(&e, 3))
        goto out;
    fake_put(e.f, "a", "p1", NULL);
    fake_put(e.f, "b", "p2", NULL);
    inf = start_informer(e.k, "/api/v1/pods", NULL, &rec);
    if (!inf)
        goto out;
    CU_ASSERT_TRUE(synced_wait(&rec, 1, 10));
    CU_ASSERT_TRUE(requests_wait(e.f, "GET", "/api/v1/pods", 2, 5));
    fake_put(e.f, "a", "p3", NULL);
    CU_ASSERT_TRUE(rec_wait(&rec, KAPI_ADDED, "a/p3", 1, 5));
    for (int round = 0; round < 3; round++) {
        size_t watches = kfake_requests(e.f, "GET", "/api/v1/pods");
        kfake_drop_watches(e.f);
        CU_ASSERT_TRUE(requests_wait(e.f, "GET", "/api/v1/pods", watches + 1, 5));
    }
    /* A change while the watch was down is caught up, once. */
    kfake_drop_watches(e.f);
    fake_put(e.f, "b", "p4", NULL);
    CU_ASSERT_TRUE(rec_wait(&rec, KAPI_ADDED, "b/p4", 1, 5));
    fake_put(e.f, "b", "p5", NULL);
    CU_ASSERT_TRUE(rec_wait(&rec, KAPI_ADDED, "b/p5", 1, 5));
    usleep(200 * 1000);
    CU_ASSERT_EQUAL(rec_count(&rec, KAPI_ADDED, "a/p1"), 1);
    CU_ASSERT_EQUAL(rec_count(&rec, KAPI_ADDED, "b/p2"), 1);
    CU_ASSERT_EQUAL(rec_count(&rec, KAPI_ADDED, "a/p3"), 1);
    CU_ASSERT_EQUAL(rec_count(&rec, KAPI_ADDED, "b/p4"), 1);
    CU_ASSERT_EQUAL(rec.n, 5);
    CU_ASSERT_EQUAL(rec_synced(&rec), 1);   /* resumed, never relisted */
out:
    kapi_informer_stop(inf);
    fake_down(&e);
    rec_free(&rec);
}

/* Bookmarks move the resourceVersion on: after history is compacted, a
 * resumed watch starts from the bookmark, not from 410 and a relist. */
static void t_informer_bookmarks(void)
{
    kapi_informer *inf = NULL;
    recorder rec;
    fake_env e;
    size_t gets;
    cJSON *cm;

    rec_init(&rec);
    if (!fake_up(&e, 3))
        goto out;
    fake_put(e.f, "a", "p1", NULL);
    inf = start_informer(e.k, "/api/v1/pods", NULL, &rec);
    if (!inf)
        goto out;
    CU_ASSERT_TRUE(synced_wait(&rec, 1, 10));
    /* Writes elsewhere move the global resourceVersion past the pods'. */
    cm = make_obj("ConfigMap", "a", "cm", NULL);
    for (int i = 0; i < 3; i++) {
        char v[16];
        snprintf(v, sizeof(v), "%d", i);
        cJSON_DeleteItemFromObject(cm, "data");
        cJSON_AddStringToObject(cJSON_AddObjectToObject(cm, "data"), "i", v);
        CU_ASSERT(kfake_put(e.f, "configmaps", cm) > 0);
    }
    cJSON_Delete(cm);
    usleep(1200 * 1000);   /* at least one bookmark */
    kfake_compact(e.f);
    gets = kfake_requests(e.f, "GET", "/api/v1/pods");
    kfake_drop_watches(e.f);
    CU_ASSERT_TRUE(requests_wait(e.f, "GET", "/api/v1/pods", gets + 1, 5));
    usleep(300 * 1000);
    CU_ASSERT_EQUAL(kfake_requests(e.f, "GET", "/api/v1/pods"), gets + 1);   /* no relist */
    CU_ASSERT_EQUAL(rec_synced(&rec), 1);
    CU_ASSERT_EQUAL(rec.n, 1);
out:
    kapi_informer_stop(inf);
    fake_down(&e);
    rec_free(&rec);
}

/* History compacted while the informer was away: 410, a relist, and the
 * relist delivers what the watch missed, deletions included. */
static void t_informer_relist_after_gone(void)
{
    kapi_informer *inf = NULL;
    recorder rec;
    fake_env e;
    size_t gets;
    char old_uid[64] = "";

    rec_init(&rec);
    if (!fake_up(&e, 3))
        goto out;
    fake_put(e.f, "a", "stays", NULL);
    fake_put(e.f, "a", "goes", NULL);
    fake_put(e.f, "a", "changes", NULL);
    fake_put(e.f, "a", "reborn", NULL);
    inf = start_informer(e.k, "/api/v1/pods", NULL, &rec);
    if (!inf)
        goto out;
    CU_ASSERT_TRUE(synced_wait(&rec, 1, 10));
    CU_ASSERT_TRUE(requests_wait(e.f, "GET", "/api/v1/pods", 2, 5));
    pthread_mutex_lock(&rec.mu);
    for (size_t i = 0; i < rec.n; i++)
        if (strcmp(rec.ev[i].key, "a/reborn") == 0)
            memcpy(old_uid, rec.ev[i].uid, sizeof(old_uid));
    pthread_mutex_unlock(&rec.mu);

    /* Hold the reconnect at the server while the world changes and its
     * history is forgotten. */
    sp_log_set_level(SP_LOG_WARN);
    kfake_delay(e.f, 400);
    gets = kfake_requests(e.f, "GET", "/api/v1/pods");
    kfake_drop_watches(e.f);
    CU_ASSERT_TRUE(kfake_delete(e.f, "pods", "a", "goes"));
    fake_put(e.f, "a", "changes", "new-label");
    CU_ASSERT_TRUE(kfake_delete(e.f, "pods", "a", "reborn"));
    fake_put(e.f, "a", "reborn", NULL);   /* the same name, a new uid */
    fake_put(e.f, "a", "added", NULL);
    kfake_compact(e.f);
    CU_ASSERT_TRUE(synced_wait(&rec, 2, 10));
    kfake_delay(e.f, 0);
    CU_ASSERT(kfake_requests(e.f, "GET", "/api/v1/pods") >= gets + 2);   /* watch + list */

    CU_ASSERT_EQUAL(rec_count(&rec, KAPI_DELETED, "a/goes"), 1);
    CU_ASSERT_EQUAL(rec_count(&rec, KAPI_MODIFIED, "a/changes"), 1);
    CU_ASSERT_EQUAL(rec_count(&rec, KAPI_ADDED, "a/added"), 1);
    CU_ASSERT_EQUAL(rec_count(&rec, KAPI_DELETED, "a/reborn"), 1);
    CU_ASSERT_EQUAL(rec_count(&rec, KAPI_ADDED, "a/reborn"), 2);
    CU_ASSERT_EQUAL(rec_count(&rec, KAPI_ADDED, "a/stays"), 1);   /* unchanged: quiet */
    CU_ASSERT_EQUAL(rec_count(&rec, KAPI_MODIFIED, "a/stays"), 0);
    pthread_mutex_lock(&rec.mu);
    for (size_t i = 0; i < rec.n; i++) {
        if (rec.ev[i].ev == KAPI_DELETED && strcmp(rec.ev[i].key, "a/reborn") == 0) {
            SP_ASSERT_STR(rec.ev[i].uid, old_uid);   /* the tombstone of the old one */
            CU_ASSERT_TRUE(rec.ev[i].has_kind);
        }
    }
    CU_ASSERT_EQUAL(rec.n, 4 + 5);
    pthread_mutex_unlock(&rec.mu);
    sp_log_set_level(SP_LOG_INFO);
out:
    kapi_informer_stop(inf);
    fake_down(&e);
    rec_free(&rec);
}

/* Only what the selector matches; an object that stops matching leaves. */
static void t_informer_selector(void)
{
    kapi_informer *inf = NULL;
    recorder rec;
    fake_env e;

    rec_init(&rec);
    if (!fake_up(&e, 3))
        goto out;
    fake_put(e.f, "a", "p1", "pe");
    fake_put(e.f, "a", "p2", "other");
    inf = start_informer(e.k, "/api/v1/pods", "app in (pe)", &rec);
    if (!inf)
        goto out;
    CU_ASSERT_TRUE(synced_wait(&rec, 1, 10));
    CU_ASSERT_EQUAL(rec_count(&rec, KAPI_ADDED, "a/p1"), 1);
    CU_ASSERT_EQUAL(rec.n, 1);
    CU_ASSERT_TRUE(requests_wait(e.f, "GET", "/api/v1/pods", 2, 5));
    fake_put(e.f, "a", "p3", "pe");
    fake_put(e.f, "a", "p4", "other");
    CU_ASSERT_TRUE(rec_wait(&rec, KAPI_ADDED, "a/p3", 1, 5));
    fake_put(e.f, "a", "p1", "other");
    CU_ASSERT_TRUE(rec_wait(&rec, KAPI_DELETED, "a/p1", 1, 5));
    usleep(200 * 1000);
    CU_ASSERT_EQUAL(rec_count(&rec, KAPI_ADDED, "a/p4"), 0);
    CU_ASSERT_EQUAL(rec.n, 3);
out:
    kapi_informer_stop(inf);
    fake_down(&e);
    rec_free(&rec);
}

/* A failing list is retried with backoff until it works; watch failures
 * are retried too, and after several in a row the informer relists. */
static void t_informer_failures(void)
{
    kapi_informer *inf = NULL;
    recorder rec;
    fake_env e;
    size_t gets;

    rec_init(&rec);
    if (!fake_up(&e, 2))
        goto out;
    sp_log_set_level(SP_LOG_OFF);
    fake_put(e.f, "a", "p1", NULL);
    kfake_fail(e.f, "GET", "/api/v1/pods", 500, 0, 5);   /* two lists of two attempts */
    inf = start_informer(e.k, "/api/v1/pods", NULL, &rec);
    if (!inf)
        goto out;
    CU_ASSERT_TRUE(synced_wait(&rec, 1, 10));
    CU_ASSERT_EQUAL(rec.n, 1);
    CU_ASSERT_TRUE(requests_wait(e.f, "GET", "/api/v1/pods", 7, 5));   /* 5 + list + watch */

    /* Watches refused three times: back off, then relist (which finds
     * nothing new to deliver). */
    gets = kfake_requests(e.f, "GET", "/api/v1/pods");
    kfake_fail(e.f, "GET", "/api/v1/pods", 503, 0, 3);
    kfake_drop_watches(e.f);
    CU_ASSERT_TRUE(synced_wait(&rec, 2, 10));
    CU_ASSERT_TRUE(requests_wait(e.f, "GET", "/api/v1/pods", gets + 5, 5));
    CU_ASSERT_EQUAL(rec.n, 1);
    fake_put(e.f, "a", "p2", NULL);
    CU_ASSERT_TRUE(rec_wait(&rec, KAPI_ADDED, "a/p2", 1, 5));
    sp_log_set_level(SP_LOG_INFO);
out:
    kapi_informer_stop(inf);
    fake_down(&e);
    rec_free(&rec);
}

/* ------------------------------------------------------------------------ */
/* Main                                                                       */
/* ------------------------------------------------------------------------ */

int main(void)
{
    static const sp_test tests[] = {
        SP_TEST(t_kubeconfig_token),
        SP_TEST(t_kubeconfig_data),
        SP_TEST(t_kubeconfig_files),
        SP_TEST(t_kubeconfig_context_choice),
        SP_TEST(t_kubeconfig_yaml_forms),
        SP_TEST(t_kubeconfig_document_errors),
        SP_TEST(t_kubeconfig_cluster_errors),
        SP_TEST(t_kubeconfig_user_errors),
        SP_TEST(t_kubeconfig_alloc_failures),
        SP_TEST(t_kubeconfig_mangled),
        SP_TEST(t_new_from_kubeconfig),
        SP_TEST(t_new_kubeconfig_errors),
        SP_TEST(t_new_default_kubeconfig),
        SP_TEST(t_new_alloc_failures),
        SP_TEST(t_in_cluster),
        SP_TEST(t_in_cluster_errors),
        SP_TEST(t_token_rotation),
        SP_TEST(t_path),
        SP_TEST(t_path_bounds),
        SP_TEST(t_escape),
        SP_TEST(t_base64),
        SP_TEST(t_index),
        SP_TEST(t_backoff),
        SP_TEST(t_request_nothing_listening),
        SP_TEST(t_informer_config_errors),
        SP_TEST(t_informer_stop_without_server),
        SP_TEST(t_fake_outcomes),
        SP_TEST(t_fake_unauthorized),
        SP_TEST(t_fake_retries),
        SP_TEST(t_fake_transport_timeout),
        SP_TEST(t_fake_bounded_response),
        SP_TEST(t_fake_token_rotation),
        SP_TEST(t_fake_client_certificate),
        SP_TEST(t_fake_connection_reuse),
        SP_TEST(t_informer_sync_and_events),
        SP_TEST(t_informer_stop_midway),
        SP_TEST(t_informer_reconnect),
        SP_TEST(t_informer_bookmarks),
        SP_TEST(t_informer_relist_after_gone),
        SP_TEST(t_informer_selector),
        SP_TEST(t_informer_failures),
        SP_TEST_END,
    };

    /* Proxies from the environment would route 127.0.0.1 elsewhere. */
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    unsetenv("KUBECONFIG");
    return sp_test_run("kapi", tests);
}
