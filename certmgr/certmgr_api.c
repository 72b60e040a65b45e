/*
 * certmgr's side of the API server. The Secret is read whole and written
 * back whole (PUT, conditional on the resourceVersion read, so that two
 * writers cannot both win; keys and annotations of others are kept) or
 * created (POST, type kubernetes.io/tls). Publishing the trust bundle reads
 * the ConfigMap and each Validating and Mutating WebhookConfiguration and
 * writes back only what differs, re-reading on 409 a bounded number of
 * times. Every failure names the object, the request, the answer and, for a
 * refusal, the RBAC verb the service account lacks. Secret data and
 * caBundle are base64 on the wire (Go's []byte).
 *
 * Requests: GET, POST and PUT on /api/v1/namespaces/NS/secrets[/NAME] and
 * /api/v1/namespaces/NS/configmaps[/NAME]; GET and PUT on
 * /apis/admissionregistration.k8s.io/v1/{validating,mutating}webhookconfigurations/NAME.
 */
#include "certmgr/certmgr_internal.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "util/sp_alloc.h"

#define ADMISSION_GROUP "admissionregistration.k8s.io"
#define MANAGED_BY_LABEL "app.kubernetes.io/managed-by"
#define MANAGED_BY "streams-placer"
#define MAX_B64_INPUT (16u << 20) /* bytes of one value we encode or decode */

/* One object kind we write: how to name it in messages and in RBAC. */
typedef struct target {
    const char *kind;          /* "Secret", "ValidatingWebhookConfiguration" */
    const char *resource;      /* "secrets": for the RBAC hint */
    char name[300];            /* "ns/name" or "name", for messages */
} target;

/* ------------------------------------------------------------------------ */
/* Base64 (EVP)                                                               */
/* ------------------------------------------------------------------------ */

/* Standard base64 of s; NULL when memory runs out. */
static char *b64_encode(const char *s)
{
    size_t n = strlen(s);
    char *out;

    if (n > MAX_B64_INPUT)
        return NULL;
    out = sp_malloc(4 * ((n + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
    return out;
}

/* The text that base64 s encodes; "" when s is not base64 or the text holds
 * a NUL; NULL when memory runs out. Wiped when freed by the caller's
 * certs_pair_free. */
static char *b64_decode(const char *s)
{
    size_t n = strlen(s), pad = 0;
    char *out;
    int len;

    if (n % 4 || n > MAX_B64_INPUT)
        return sp_strdup("");
    out = sp_malloc(n / 4 * 3 + 1);
    if (!out)
        return NULL;
    len = n ? EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n) : 0;
    pad = n && s[n - 1] == '=' ? 1 + (n > 1 && s[n - 2] == '=') : 0;
    if (len < 0 || (size_t)len < pad || memchr(out, '\0', (size_t)len - pad)) {
        OPENSSL_cleanse(out, n / 4 * 3 + 1);
        sp_free(out);
        return sp_strdup("");
    }
    out[(size_t)len - pad] = '\0';
    return out;
}

/* ------------------------------------------------------------------------ */
/* Requests                                                                   */
/* ------------------------------------------------------------------------ */

static const char *verb_of(const char *method)
{
    return strcmp(method, "GET") == 0 ? "get" : strcmp(method, "POST") == 0 ? "create" : "update";
}

/* The error for an answer that is neither success nor a retried 409. */
static sp_rc api_fail(sp_err *err, const target *t, const char *method, const kapi_result *res)
{
    const char *msg = res->message[0] ? res->message : "no message";

    if (res->status == 401 || res->status == 403)
        return sp_err_set(err, SP_EIO, "%s %s: %s: HTTP %ld: %s; grant the service account "
                          "the RBAC verb \"%s\" on %s", t->kind, t->name, method, res->status,
                          msg, verb_of(method), t->resource);
    if (res->outcome == KAPI_TRANSPORT || res->outcome == KAPI_SERVER ||
        res->outcome == KAPI_THROTTLED)
        return sp_err_set(err, SP_EIO, "%s %s: %s: %s%s; the API server did not do it, and "
                          "the next sync tries again", t->kind, t->name, method,
                          res->status ? "" : "no answer: ", msg);
    return sp_err_set(err, SP_EIO, "%s %s: %s: HTTP %ld: %s", t->kind, t->name, method,
                      res->status, msg);
}

/* Every write met a 409. */
static sp_rc exhausted(sp_err *err, const target *t)
{
    return sp_err_set(err, SP_ECONFLICT, "%s %s: still conflicting after %d attempts: "
                      "another writer keeps changing it", t->kind, t->name, CERTMGR_ATTEMPTS);
}

/* Answers may carry a Secret's keys: wipe them before they are freed. */
static void result_free(kapi_result *res)
{
    if (res->body)
        OPENSSL_cleanse(res->body, res->len);
    kapi_result_free(res);
}

/* Send obj (kept) as JSON; *res the answer (kapi_result_free). */
static sp_rc send_json(certmgr *m, const char *method, const char *path, const cJSON *obj,
                       kapi_result *res, sp_err *err)
{
    char *body = cJSON_PrintUnformatted(obj);
    sp_rc rc;

    memset(res, 0, sizeof(*res));
    if (!body)
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    rc = kapi_request(m->api, method, path, "application/json", body, strlen(body), res);
    OPENSSL_cleanse(body, strlen(body)); /* a Secret's keys */
    sp_free(body);
    if (rc)
        return sp_err_set(err, rc, "%s %s: cannot send it: %s", method, path, sp_strerror(rc));
    return SP_OK;
}

/* GET path: *obj the object (owned), or NULL when it does not exist. */
static sp_rc get_json(certmgr *m, const target *t, const char *path, cJSON **obj, sp_err *err)
{
    kapi_result res;
    sp_rc rc = kapi_request(m->api, "GET", path, NULL, NULL, 0, &res);

    *obj = NULL;
    if (rc)
        rc = sp_err_set(err, rc, "%s %s: GET: %s", t->kind, t->name, sp_strerror(rc));
    else if (res.outcome == KAPI_NOT_FOUND)
        rc = SP_OK;
    else if (res.outcome != KAPI_OK)
        rc = api_fail(err, t, "GET", &res);
    else if (!(*obj = cJSON_Parse(res.body)) || !cJSON_IsObject(*obj))
        rc = sp_err_set(err, SP_EPARSE, "%s %s: GET: the answer is not a JSON object", t->kind,
                        t->name);
    if (rc) {
        cJSON_Delete(*obj);
        *obj = NULL;
    }
    result_free(&res);
    return rc;
}

/* PUT or POST obj; *conflict on 409, an error on any other failure. */
static sp_rc put_json(certmgr *m, const target *t, const char *method, const char *path,
                      const cJSON *obj, bool *conflict, sp_err *err)
{
    kapi_result res;
    sp_rc rc = send_json(m, method, path, obj, &res, err);

    *conflict = !rc && res.outcome == KAPI_CONFLICT;
    if (!rc && res.outcome != KAPI_OK && !*conflict)
        rc = api_fail(err, t, method, &res);
    result_free(&res);
    return rc;
}

/* obj's member key as an object, added when missing; NULL on ENOMEM or
 * when it is there but not an object (replaced then). */
static cJSON *object_member(cJSON *obj, const char *key)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (cJSON_IsObject(v))
        return v;
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    return cJSON_AddObjectToObject(obj, key);
}

/* Set obj[key] to the string value (replacing it). */
static bool set_string(cJSON *obj, const char *key, const char *value)
{
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    return cJSON_AddStringToObject(obj, key, value) != NULL;
}

static const char *string_member(const cJSON *obj, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));
}

/* A new object's metadata: name, namespace, our label. */
static cJSON *new_object(const char *kind, const char *ns, const char *name)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *meta = o ? cJSON_AddObjectToObject(o, "metadata") : NULL;
    cJSON *labels = meta ? cJSON_AddObjectToObject(meta, "labels") : NULL;

    if (!labels || !cJSON_AddStringToObject(o, "apiVersion", "v1") ||
        !cJSON_AddStringToObject(o, "kind", kind) || !cJSON_AddStringToObject(meta, "name", name) ||
        !cJSON_AddStringToObject(meta, "namespace", ns) ||
        !cJSON_AddStringToObject(labels, MANAGED_BY_LABEL, MANAGED_BY)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static void name_target(target *t, const char *kind, const char *resource, const char *ns,
                        const char *name)
{
    t->kind = kind;
    t->resource = resource;
    if (snprintf(t->name, sizeof(t->name), "%s%s%s", ns ? ns : "", ns ? "/" : "", name) < 0)
        t->name[0] = '\0';
}

/* ------------------------------------------------------------------------ */
/* The Secret                                                                 */
/* ------------------------------------------------------------------------ */

static sp_rc secret_paths(const certmgr *m, char *one, char *all, sp_err *err)
{
    if (kapi_path(one, KAPI_PATH_MAX, "api", "v1", "namespaces", m->ns, "secrets", m->secret,
                  NULL) ||
        kapi_path(all, KAPI_PATH_MAX, "api", "v1", "namespaces", m->ns, "secrets", NULL))
        return sp_err_set(err, SP_ELIMIT, "Secret %s/%s: the name is too long", m->ns,
                          m->secret);
    return SP_OK;
}

/* data[key], decoded into *out; NULL when absent. */
static sp_rc read_key(const cJSON *data, const char *key, char **out, sp_err *err)
{
    const char *v = string_member(data, key);

    *out = NULL;
    if (!v)
        return SP_OK;
    *out = b64_decode(v);
    return *out ? SP_OK : sp_err_set(err, SP_ENOMEM, "out of memory");
}

static sp_rc contents_of(const cJSON *secret, certmgr_contents *c, sp_err *err)
{
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(secret, "data");
    const cJSON *ann = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(secret, "metadata"), "annotations");
    sp_rc rc;

    rc = read_key(data, CERTMGR_KEY_CA_CRT, &c->ca.cert_pem, err);
    if (!rc)
        rc = read_key(data, CERTMGR_KEY_CA_KEY, &c->ca.key_pem, err);
    if (!rc)
        rc = read_key(data, CERTMGR_KEY_TLS_CRT, &c->tls.cert_pem, err);
    if (!rc)
        rc = read_key(data, CERTMGR_KEY_TLS_KEY, &c->tls.key_pem, err);
    c->ca_rotated_at = certmgr_time_parse(string_member(ann, CERTMGR_ANN_CA_ROTATED));
    c->serving_issued_at = certmgr_time_parse(string_member(ann, CERTMGR_ANN_SERVING_ISSUED));
    return rc;
}

sp_rc certmgr_secret_read(certmgr *m, cJSON **obj, certmgr_contents *out, sp_err *err)
{
    char one[KAPI_PATH_MAX], all[KAPI_PATH_MAX];
    target t;
    sp_rc rc;

    memset(out, 0, sizeof(*out));
    *obj = NULL;
    name_target(&t, "Secret", "secrets", m->ns, m->secret);
    rc = secret_paths(m, one, all, err);
    if (!rc)
        rc = get_json(m, &t, one, obj, err);
    if (!rc && *obj)
        rc = contents_of(*obj, out, err);
    if (rc) {
        certmgr_contents_free(out);
        cJSON_Delete(*obj);
        *obj = NULL;
    }
    return rc;
}

/* data[key] = base64(value). */
static bool write_key(cJSON *data, const char *key, const char *value)
{
    char *b64 = b64_encode(value ? value : "");
    bool ok = b64 && set_string(data, key, b64);

    if (b64)
        OPENSSL_cleanse(b64, strlen(b64));
    sp_free(b64);
    return ok;
}

static bool write_time(cJSON *ann, const char *key, int64_t t)
{
    char text[32];

    certmgr_time_format(t, text, sizeof(text));
    return set_string(ann, key, text);
}

/* c's keys and annotations into secret (in place). */
static bool fill_secret(cJSON *secret, const certmgr_contents *c)
{
    cJSON *data = object_member(secret, "data");
    cJSON *meta = object_member(secret, "metadata");
    cJSON *ann = meta ? object_member(meta, "annotations") : NULL;

    return data && ann && write_key(data, CERTMGR_KEY_CA_CRT, c->ca.cert_pem) &&
           write_key(data, CERTMGR_KEY_CA_KEY, c->ca.key_pem) &&
           write_key(data, CERTMGR_KEY_TLS_CRT, c->tls.cert_pem) &&
           write_key(data, CERTMGR_KEY_TLS_KEY, c->tls.key_pem) &&
           write_time(ann, CERTMGR_ANN_CA_ROTATED, c->ca_rotated_at) &&
           write_time(ann, CERTMGR_ANN_SERVING_ISSUED, c->serving_issued_at);
}

sp_rc certmgr_secret_write(certmgr *m, cJSON *obj, const certmgr_contents *c, bool *conflict,
                           sp_err *err)
{
    char one[KAPI_PATH_MAX], all[KAPI_PATH_MAX];
    cJSON *fresh = obj ? NULL : new_object("Secret", m->ns, m->secret);
    cJSON *secret = obj ? obj : fresh;
    target t;
    sp_rc rc;

    *conflict = false;
    name_target(&t, "Secret", "secrets", m->ns, m->secret);
    rc = secret_paths(m, one, all, err);
    if (!rc && (!secret || !fill_secret(secret, c) ||
                (fresh && !cJSON_AddStringToObject(fresh, "type", "kubernetes.io/tls"))))
        rc = sp_err_set(err, SP_ENOMEM, "out of memory");
    if (!rc)
        rc = put_json(m, &t, obj ? "PUT" : "POST", obj ? one : all, secret, conflict, err);
    cJSON_Delete(fresh);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The ConfigMap                                                              */
/* ------------------------------------------------------------------------ */

/* One attempt: *done unless a write met a 409. */
static sp_rc configmap_once(certmgr *m, const target *t, const char *one, const char *all,
                            const char *bundle, bool *done, sp_err *err)
{
    cJSON *cm = NULL, *data = NULL;
    const char *have;
    bool conflict = false, created;
    char line[CERTMGR_NOTE_MAX];
    sp_rc rc = get_json(m, t, one, &cm, err);

    *done = false;
    if (rc)
        return rc;
    created = !cm;
    if (created)
        cm = new_object("ConfigMap", m->ns, m->configmap);
    if (cm)
        data = object_member(cm, "data");
    have = data ? string_member(data, CERTMGR_KEY_CA_CRT) : NULL;
    if (have && strcmp(have, bundle) == 0)
        *done = true;
    else if (!data || !set_string(data, CERTMGR_KEY_CA_CRT, bundle))
        rc = sp_err_set(err, SP_ENOMEM, "out of memory");
    else
        rc = put_json(m, t, created ? "POST" : "PUT", created ? all : one, cm, &conflict, err);
    cJSON_Delete(cm);
    if (rc || conflict || *done)
        return rc;
    *done = true;
    snprintf(line, sizeof(line), "%s ConfigMap %s with the trust bundle (key %s)",
             created ? "created" : "updated", t->name, CERTMGR_KEY_CA_CRT);
    certmgr_tell(m, SP_LOG_INFO, "cert_bundle_published", line);
    return SP_OK;
}

static sp_rc publish_configmap(certmgr *m, const char *bundle, sp_err *err)
{
    char one[KAPI_PATH_MAX], all[KAPI_PATH_MAX];
    bool done = false;
    target t;
    sp_rc rc = SP_OK;

    name_target(&t, "ConfigMap", "configmaps", m->ns, m->configmap);
    if (kapi_path(one, sizeof(one), "api", "v1", "namespaces", m->ns, "configmaps",
                  m->configmap, NULL) ||
        kapi_path(all, sizeof(all), "api", "v1", "namespaces", m->ns, "configmaps", NULL))
        return sp_err_set(err, SP_ELIMIT, "ConfigMap %s: the name is too long", t.name);
    for (int i = 0; i < CERTMGR_ATTEMPTS && !done && !rc; i++)
        rc = configmap_once(m, &t, one, all, bundle, &done, err);
    return rc || done ? rc : exhausted(err, &t);
}

/* ------------------------------------------------------------------------ */
/* Webhook configurations                                                     */
/* ------------------------------------------------------------------------ */

/* Set clientConfig.caBundle of every webhook in cfg to b64; *changed how
 * many differed, *total how many there are. False on ENOMEM. */
static bool set_ca_bundles(cJSON *cfg, const char *b64, int *changed, int *total)
{
    cJSON *hooks = cJSON_GetObjectItemCaseSensitive(cfg, "webhooks"), *hook;

    *changed = *total = 0;
    if (!cJSON_IsArray(hooks))
        return true;
    cJSON_ArrayForEach(hook, hooks) {
        cJSON *client = cJSON_IsObject(hook) ? object_member(hook, "clientConfig") : NULL;
        const char *have = client ? string_member(client, "caBundle") : NULL;

        if (!cJSON_IsObject(hook))
            continue;
        if (!client)
            return false;
        ++*total;
        if (have && strcmp(have, b64) == 0)
            continue;
        if (!set_string(client, "caBundle", b64))
            return false;
        ++*changed;
    }
    return true;
}

/* One attempt on one configuration: *done unless a write met a 409. */
static sp_rc webhook_once(certmgr *m, const target *t, const char *path, const char *b64,
                          bool *found, bool *done, sp_err *err)
{
    cJSON *cfg = NULL;
    int changed = 0, total = 0;
    bool conflict = false;
    char line[CERTMGR_NOTE_MAX];
    sp_rc rc = get_json(m, t, path, &cfg, err);

    *found = cfg != NULL;
    if (!rc && cfg && !set_ca_bundles(cfg, b64, &changed, &total))
        rc = sp_err_set(err, SP_ENOMEM, "out of memory");
    if (!rc && cfg && changed)
        rc = put_json(m, t, "PUT", path, cfg, &conflict, err);
    cJSON_Delete(cfg);
    *done = !rc && !conflict;
    if (*done && changed) {
        snprintf(line, sizeof(line), "injected caBundle into %s %s (%d of %d webhooks)",
                 t->kind, t->name, changed, total);
        certmgr_tell(m, SP_LOG_INFO, "cert_bundle_published", line);
    }
    return rc;
}

static sp_rc publish_webhook(certmgr *m, const char *resource, const char *kind,
                             const char *name, const char *b64, bool *found, sp_err *err)
{
    char path[KAPI_PATH_MAX];
    bool done = false;
    target t;
    sp_rc rc = SP_OK;

    name_target(&t, kind, resource, NULL, name);
    if (kapi_path(path, sizeof(path), "apis", ADMISSION_GROUP, "v1", resource, name, NULL))
        return sp_err_set(err, SP_ELIMIT, "%s %s: the name is too long", kind, name);
    for (int i = 0; i < CERTMGR_ATTEMPTS && !done && !rc; i++)
        rc = webhook_once(m, &t, path, b64, found, &done, err);
    return rc || done ? rc : exhausted(err, &t);
}

/* Both configurations of one name; neither existing is told, not failed:
 * nothing calls a webhook that is not configured. */
static sp_rc publish_webhooks(certmgr *m, const char *name, const char *b64, sp_err *err)
{
    bool validating = false, mutating = false;
    char line[CERTMGR_NOTE_MAX];
    sp_rc rc;

    rc = publish_webhook(m, "validatingwebhookconfigurations", "ValidatingWebhookConfiguration",
                         name, b64, &validating, err);
    if (!rc)
        rc = publish_webhook(m, "mutatingwebhookconfigurations", "MutatingWebhookConfiguration",
                             name, b64, &mutating, err);
    if (!rc && !validating && !mutating) {
        snprintf(line, sizeof(line), "neither a ValidatingWebhookConfiguration nor a "
                 "MutatingWebhookConfiguration named %s exists, so no caBundle went there; "
                 "apply the webhook manifests, or stop naming it", name);
        certmgr_tell(m, SP_LOG_WARN, "cert_webhook_config_missing", line);
    }
    return rc;
}

sp_rc certmgr_publish(certmgr *m, const char *bundle, sp_err *err)
{
    char *b64 = NULL;
    sp_rc rc = SP_OK;

    if (m->configmap)
        rc = publish_configmap(m, bundle, err);
    if (!rc && m->n_webhooks && !(b64 = b64_encode(bundle)))
        rc = sp_err_set(err, SP_ENOMEM, "out of memory");
    for (size_t i = 0; i < m->n_webhooks && !rc; i++)
        rc = publish_webhooks(m, m->webhooks[i], b64, err);
    sp_free(b64);
    return rc;
}
