/*
 * Where the client's cluster comes from, in kubectl's order: an explicit
 * kubeconfig; in a pod (KUBERNETES_SERVICE_HOST set) the service account's
 * token, CA and namespace files; else the first existing file of
 * $KUBECONFIG (merging several is not supported) or ~/.kube/config.
 * Everything is read and checked here, once, so that a bad setup fails at
 * start naming the file, the context, the cluster or user and the field;
 * only a token file is read again, when it changes (service account tokens
 * rotate), by kapi_token_get.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kapi/kapi_internal.h"
#include "kapi/kapi_kubeconfig.h"
#include "util/sp_alloc.h"
#include "util/sp_log.h"
#include "util/sp_str.h"

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* ------------------------------------------------------------------------ */
/* The token                                                                  */
/* ------------------------------------------------------------------------ */

static long long ms_between(const struct timespec *a, const struct timespec *b)
{
    return (long long)(b->tv_sec - a->tv_sec) * 1000 + (b->tv_nsec - a->tv_nsec) / 1000000;
}

/* A token read from path: trimmed, non-empty, without control characters
 * (it goes into a header). err says why not; the caller names the file. */
static sp_rc read_token(const char *path, char **out, sp_err *err)
{
    char *raw, *tok;
    size_t len;
    sp_rc rc;

    *out = NULL;
    rc = kapi_read_file(path, KAPI_TOKEN_MAX, &raw, &len, err);
    if (rc)
        return rc;
    tok = kapi_trim_dup(raw, len);
    sp_free(raw);
    if (!tok)
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    if (!*tok)
        rc = sp_err_set(err, SP_EIO, "the file is empty");
    for (const unsigned char *c = (const unsigned char *)tok; *c && !rc; c++)
        if (*c < ' ' || *c == 0x7f)
            rc = sp_err_set(err, SP_EIO, "the token contains a control character");
    if (rc)
        sp_free(tok);
    else
        *out = tok;
    return rc;
}

/* Remember the token file's identity, to notice when it is replaced. */
static void note_token_stat(kapi *k, const struct stat *sb)
{
    k->token_mtime = sb->st_mtim;
    k->token_size = sb->st_size;
    k->token_ino = sb->st_ino;
}

static bool token_stat_changed(const kapi *k, const struct stat *sb)
{
    return sb->st_mtim.tv_sec != k->token_mtime.tv_sec ||
           sb->st_mtim.tv_nsec != k->token_mtime.tv_nsec ||
           sb->st_size != k->token_size || sb->st_ino != k->token_ino;
}

/* Re-read the token file into k->token when it changed (or force). Called
 * with token_lock held. */
static sp_rc refresh_token(kapi *k, bool force, bool *changed)
{
    struct timespec now;
    struct stat sb;
    sp_err err;
    char *tok;
    sp_rc rc;

    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!force && ms_between(&k->token_checked, &now) < k->token_recheck_ms)
        return SP_OK;
    k->token_checked = now;
    if (stat(k->token_file, &sb) != 0) {
        sp_log(SP_LOG_WARN, "kapi_token_unreadable", "file", k->token_file, "error",
               strerror(errno), "action", "keeping the previous token", NULL);
        return SP_OK;
    }
    if (!force && !token_stat_changed(k, &sb))
        return SP_OK;
    rc = read_token(k->token_file, &tok, &err);
    if (rc == SP_ENOMEM)
        return rc;
    if (rc) {
        sp_log(SP_LOG_WARN, "kapi_token_unreadable", "file", k->token_file, "error",
               err.msg, "action", "keeping the previous token", NULL);
        return SP_OK;
    }
    note_token_stat(k, &sb);
    if (k->token && strcmp(k->token, tok) == 0) {
        sp_free(tok);
        return SP_OK;
    }
    sp_free(k->token);
    k->token = tok;
    *changed = true;
    sp_log(SP_LOG_INFO, "kapi_token_reloaded", "file", k->token_file, NULL);
    return SP_OK;
}

sp_rc kapi_token_get(kapi *k, bool force, char **out, bool *changed)
{
    sp_rc rc = SP_OK;

    *out = NULL;
    *changed = false;
    pthread_mutex_lock(&k->token_lock);
    if (k->token_file)
        rc = refresh_token(k, force, changed);
    if (!rc && k->token) {
        *out = sp_strdup(k->token);
        if (!*out)
            rc = SP_ENOMEM;
    }
    pthread_mutex_unlock(&k->token_lock);
    return rc;
}

/* Read the token file for the first time: it must be there. err gets the
 * bare reason; the caller names the file and its role. */
static sp_rc load_token_file(kapi *k, const char *path, sp_err *err)
{
    struct stat sb;

    k->token_file = sp_strdup(path);
    if (!k->token_file)
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    if (stat(path, &sb) == 0)
        note_token_stat(k, &sb);
    clock_gettime(CLOCK_MONOTONIC, &k->token_checked);
    return read_token(path, &k->token, err);
}

/* ------------------------------------------------------------------------ */
/* PEM files and data                                                         */
/* ------------------------------------------------------------------------ */

static bool contains(const unsigned char *data, size_t len, const char *needle)
{
    size_t n = strlen(needle);

    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(data + i, needle, n) == 0)
            return true;
    return false;
}

/* Does data look like PEM of the kind field needs? */
static bool pem_ok(const unsigned char *data, size_t len, bool key)
{
    if (key)
        return contains(data, len, "-----BEGIN ") && contains(data, len, "PRIVATE KEY-----");
    return contains(data, len, "-----BEGIN CERTIFICATE-----");
}

/* A private key others can read is worth a warning (not a refusal: a
 * mounted Secret is often 0644). */
static void warn_key_mode(const char *path)
{
    struct stat sb;
    char mode[16];

    if (stat(path, &sb) != 0 || !(sb.st_mode & 077))
        return;
    if (snprintf(mode, sizeof(mode), "%04o", (unsigned)(sb.st_mode & 07777)) < 0)
        return;
    sp_log(SP_LOG_WARN, "kapi_key_permissions", "file", path, "mode", mode, "detail",
           "the client key is readable by group or others: chmod 600 it", NULL);
}

/*
 * Take inline data (*data, owned) or read file into *out, checking it is
 * PEM. where and field name the source for messages ("kubeconfig F: context
 * \"C\": cluster \"K\"", "certificate-authority").
 */
static sp_rc load_pem(unsigned char **data, size_t *data_len, const char *file,
                      bool key, const char *where, const char *field,
                      unsigned char **out, size_t *out_len, sp_err *err)
{
    char *text;
    sp_rc rc;

    if (*data) {
        *out = *data;
        *out_len = *data_len;
        *data = NULL;
        if (!pem_ok(*out, *out_len, key))
            return sp_err_set(err, SP_EPARSE, "%s: field \"%s-data\": is not PEM (no "
                              "-----BEGIN %s----- block): encode the PEM file itself",
                              where, field, key ? "PRIVATE KEY" : "CERTIFICATE");
        return SP_OK;
    }
    rc = kapi_read_file(file, KAPI_FILE_MAX, &text, out_len, err);
    if (rc)
        return sp_err_prefix(err, "%s: field \"%s\": cannot read %s", where, field, file);
    *out = (unsigned char *)text;
    if (key)
        warn_key_mode(file);
    if (!pem_ok(*out, *out_len, key))
        return sp_err_set(err, SP_EPARSE, "%s: field \"%s\": %s is not PEM (no -----BEGIN "
                          "%s----- block)", where, field, file,
                          key ? "PRIVATE KEY" : "CERTIFICATE");
    return SP_OK;
}

/* ------------------------------------------------------------------------ */
/* In a pod                                                                   */
/* ------------------------------------------------------------------------ */

/* host is a DNS name or an IP address, nothing that could bend the URL. */
static bool host_ok(const char *host)
{
    if (!*host)
        return false;
    for (const char *c = host; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
              (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' || *c == ':' ||
              *c == '[' || *c == ']'))
            return false;
    return true;
}

static sp_rc in_cluster_server(kapi *k, const char *host, sp_err *err)
{
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    bool v6 = strchr(host, ':') && host[0] != '[';
    sp_buf url;
    int64_t n;
    sp_rc rc;

    if (!host_ok(host))
        return sp_err_set(err, SP_EINVAL, "in-cluster: KUBERNETES_SERVICE_HOST \"%s\" is "
                          "not a host name or IP address", host);
    if (!port || !*port)
        return sp_err_set(err, SP_EINVAL, "in-cluster: KUBERNETES_SERVICE_HOST is set but "
                          "KUBERNETES_SERVICE_PORT is not: set both, or pass a kubeconfig");
    if (sp_parse_int64(port, 1, 65535, &n) != SP_OK)
        return sp_err_set(err, SP_EINVAL, "in-cluster: KUBERNETES_SERVICE_PORT \"%s\" is "
                          "not a port number (1-65535)", port);
    sp_buf_init(&url, KAPI_URL_MAX);
    rc = sp_buf_printf(&url, "https://%s%s%s:%lld", v6 ? "[" : "", host, v6 ? "]" : "",
                       (long long)n);
    if (!rc)
        k->server = sp_buf_take(&url);
    sp_buf_free(&url);
    if (rc == SP_ELIMIT)
        return sp_err_set(err, rc, "in-cluster: KUBERNETES_SERVICE_HOST is too long");
    return rc || !k->server ? sp_err_set(err, SP_ENOMEM, "out of memory") : SP_OK;
}

/* The namespace file, or "default" when there is none (a token mounted
 * without it). */
static sp_rc in_cluster_namespace(kapi *k, const char *path, sp_err *err)
{
    char *raw = NULL;
    size_t len;
    sp_err ignored;

    if (kapi_read_file(path, KAPI_TOKEN_MAX, &raw, &len, &ignored) == SP_OK) {
        k->namespace = kapi_trim_dup(raw, len);
        sp_free(raw);
        if (k->namespace && !*k->namespace) {
            sp_free(k->namespace);
            k->namespace = NULL;
        }
        else if (!k->namespace)
            return sp_err_set(err, SP_ENOMEM, "out of memory");
    }
    if (!k->namespace)
        k->namespace = sp_strdup("default");
    return k->namespace ? SP_OK : sp_err_set(err, SP_ENOMEM, "out of memory");
}

static sp_rc in_cluster(kapi *k, const kapi_config *cfg, const char *host, sp_err *err)
{
    const char *token = cfg->token_file ? cfg->token_file : SA_DIR "/token";
    const char *ca = cfg->ca_file ? cfg->ca_file : SA_DIR "/ca.crt";
    const char *ns = cfg->namespace_file ? cfg->namespace_file : SA_DIR "/namespace";
    char *text;
    sp_rc rc;

    rc = in_cluster_server(k, host, err);
    if (rc)
        return rc;
    rc = load_token_file(k, token, err);
    if (rc == SP_ENOMEM)
        return rc;
    if (rc) {
        char why[SP_ERR_MSG_MAX];
        memcpy(why, err ? err->msg : "", err ? sizeof(why) : 1);
        return sp_err_set(err, rc, "in-cluster: token file %s: %s: mount the service "
                          "account token (automountServiceAccountToken) or pass a "
                          "kubeconfig", token, why);
    }
    rc = kapi_read_file(ca, KAPI_FILE_MAX, &text, &k->ca_len, err);
    if (rc)
        return sp_err_prefix(err, "in-cluster: CA file %s: cannot read", ca);
    k->ca = (unsigned char *)text;
    if (!pem_ok(k->ca, k->ca_len, false))
        return sp_err_set(err, SP_EPARSE, "in-cluster: CA file %s is not PEM (no -----BEGIN "
                          "CERTIFICATE----- block)", ca);
    return in_cluster_namespace(k, ns, err);
}

/* ------------------------------------------------------------------------ */
/* From a kubeconfig                                                          */
/* ------------------------------------------------------------------------ */

/* The directory of path, allocated ("." for a bare file name). */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (!slash)
        return sp_strdup(".");
    return sp_strndup(path, slash == path ? 1 : (size_t)(slash - path));
}

/* "kubeconfig F: context \"C\": cluster \"K\"" (or user), for messages. */
static void where(char *buf, size_t len, const char *path, const kapi_kubeconfig *kc,
                  const char *kind, const char *name)
{
    int n = snprintf(buf, len, "kubeconfig %s: context \"%s\": %s \"%s\"", path,
                     kc->context, kind, name);

    if (n < 0)
        buf[0] = '\0';
    /* A longer text is cut: it only feeds a message. */
}

static sp_rc take_credentials(kapi *k, const char *path, kapi_kubeconfig *kc, sp_err *err)
{
    char at[SP_ERR_MSG_MAX];
    sp_rc rc = SP_OK;

    where(at, sizeof(at), path, kc, "user", kc->user);
    if (kc->token) {
        k->token = kc->token;
        kc->token = NULL;
    }
    else if (kc->token_file) {
        rc = load_token_file(k, kc->token_file, err);
        if (rc)
            return sp_err_prefix(err, "%s: field \"tokenFile\": cannot read %s", at,
                                 kc->token_file);
    }
    if (kc->cert_data || kc->cert_file)
        rc = load_pem(&kc->cert_data, &kc->cert_len, kc->cert_file, false, at,
                      "client-certificate", &k->cert, &k->cert_len, err);
    if (!rc && (kc->key_data || kc->key_file))
        rc = load_pem(&kc->key_data, &kc->key_len, kc->key_file, true, at, "client-key",
                      &k->key, &k->key_len, err);
    return rc;
}

static sp_rc take_cluster(kapi *k, const char *path, kapi_kubeconfig *kc, sp_err *err)
{
    char at[SP_ERR_MSG_MAX];
    sp_rc rc = SP_OK;

    where(at, sizeof(at), path, kc, "cluster", kc->cluster);
    k->server = kc->server;
    kc->server = NULL;
    k->namespace = kc->namespace ? kc->namespace : sp_strdup("default");
    kc->namespace = NULL;
    if (!k->namespace)
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    k->insecure = kc->insecure;
    if (k->insecure)
        sp_log(SP_LOG_WARN, "kapi_insecure_tls", "kubeconfig", path, "context", kc->context,
               "cluster", kc->cluster, "detail",
               "insecure-skip-tls-verify is set: the API server's certificate is not "
               "checked; give certificate-authority instead", NULL);
    if (kc->ca_data || kc->ca_file)
        rc = load_pem(&kc->ca_data, &kc->ca_len, kc->ca_file, false, at,
                      "certificate-authority", &k->ca, &k->ca_len, err);
    return rc;
}

static sp_rc from_kubeconfig(kapi *k, const char *path, const char *context, sp_err *err)
{
    kapi_kubeconfig *kc = NULL;
    char *text = NULL, *dir = NULL;
    size_t len;
    sp_rc rc;

    rc = kapi_read_file(path, KAPI_KUBECONFIG_MAX, &text, &len, err);
    if (rc) {
        sp_err_prefix(err, "kubeconfig %s: cannot read", path);
        goto out;
    }
    dir = dir_of(path);
    if (!dir) {
        rc = sp_err_set(err, SP_ENOMEM, "out of memory");
        goto out;
    }
    rc = kapi_kubeconfig_parse(text, len, context, dir, &kc, err);
    if (rc) {
        sp_err_prefix(err, "kubeconfig %s", path);
        goto out;
    }
    rc = take_cluster(k, path, kc, err);
    if (!rc)
        rc = take_credentials(k, path, kc, err);
out:
    kapi_kubeconfig_free(kc);
    sp_free(dir);
    sp_free(text);
    return rc;
}

/* The kubeconfig to read when cfg names none, in *out (owned): the first
 * existing entry of $KUBECONFIG, else ~/.kube/config. SP_ENOTFOUND (and
 * err) when there is none. */
static sp_rc default_kubeconfig(char **out, sp_err *err)
{
    const char *list = getenv("KUBECONFIG");
    const char *home = getenv("HOME");
    sp_buf b;

    *out = NULL;
    if (list && *list) {
        for (const char *p = list; *p;) {
            size_t len = strcspn(p, ":");
            char *one = sp_strndup(p, len);
            if (!one)
                return sp_err_set(err, SP_ENOMEM, "out of memory");
            if (len && access(one, F_OK) == 0) {
                *out = one;
                return SP_OK;
            }
            sp_free(one);
            p += len + (p[len] == ':');
        }
        return sp_err_set(err, SP_ENOTFOUND, "no file of KUBECONFIG=\"%s\" exists: fix "
                          "KUBECONFIG or pass --kubeconfig", list);
    }
    sp_buf_init(&b, KAPI_URL_MAX);
    if (home && *home && sp_buf_printf(&b, "%s/.kube/config", home) == SP_OK &&
        access(b.data, F_OK) == 0)
        *out = sp_buf_take(&b);
    sp_buf_free(&b);
    if (*out)
        return SP_OK;
    return sp_err_set(err, SP_ENOTFOUND, "no cluster configured: not in a pod "
                      "(KUBERNETES_SERVICE_HOST is not set), KUBECONFIG is not set and "
                      "~/.kube/config does not exist: pass --kubeconfig");
}

/* ------------------------------------------------------------------------ */
/* Public                                                                     */
/* ------------------------------------------------------------------------ */

static sp_rc configure(kapi *k, const kapi_config *cfg, sp_err *err)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    char *path;
    sp_rc rc;

    if (cfg->kubeconfig)
        return from_kubeconfig(k, cfg->kubeconfig, cfg->context, err);
    if (host && *host)
        return in_cluster(k, cfg, host, err);
    rc = default_kubeconfig(&path, err);
    if (rc)
        return rc;
    rc = from_kubeconfig(k, path, cfg->context, err);
    sp_free(path);
    return rc;
}

sp_rc kapi_new(const kapi_config *cfg, kapi **out, sp_err *err)
{
    kapi *k;
    sp_rc rc;

    *out = NULL;
    if (!cfg)
        return sp_err_set(err, SP_EINVAL, "kapi_new: no configuration");
    if (cfg->timeout_ms < 0 || cfg->max_attempts < 0)
        return sp_err_set(err, SP_EINVAL, "kapi_new: timeout_ms and max_attempts must not "
                          "be negative");
    k = sp_calloc(1, sizeof(*k));
    if (!k)
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    k->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : KAPI_DEFAULT_TIMEOUT_MS;
    k->max_attempts = cfg->max_attempts ? cfg->max_attempts : KAPI_DEFAULT_ATTEMPTS;
    k->max_response = KAPI_MAX_RESPONSE;
    k->token_recheck_ms = KAPI_TOKEN_RECHECK_MS;
    rc = configure(k, cfg, err);
    if (!rc)
        rc = kapi_conn_init(k, err);
    if (rc) {
        kapi_free(k);
        return rc;
    }
    *out = k;
    return SP_OK;
}

void kapi_free(kapi *k)
{
    if (!k)
        return;
    kapi_conn_free(k);
    sp_free(k->server);
    sp_free(k->namespace);
    sp_free(k->ca);
    sp_free(k->cert);
    sp_free(k->key);
    sp_free(k->token);
    sp_free(k->token_file);
    sp_free(k);
}

const char *kapi_namespace(const kapi *k)
{
    return k->namespace;
}

const char *kapi_server(const kapi *k)
{
    return k->server;
}

void kapi_test_set_token_recheck_ms(kapi *k, int ms)
{
    pthread_mutex_lock(&k->token_lock);
    k->token_recheck_ms = ms;
    pthread_mutex_unlock(&k->token_lock);
}
