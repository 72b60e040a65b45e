/*
 * The answer to one AdmissionReview as the handlers build it (allowed or
 * the first denial, warnings, patch operations) and its rendering as the
 * AdmissionReview response kube-apiserver expects: the same apiVersion and
 * kind as the request, response.uid = request.uid, `allowed` always
 * written, `status` {code, message} when denied, `warnings` when any, and
 * `patchType` "JSONPatch" with the base64 `patch` only when the patch has
 * operations. Also the identity ("pod streams/job1-pe0") every message
 * starts with.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kobj/kobj_json.h"
#include "util/sp_alloc.h"
#include "webhook/wh_internal.h"

#define DEFAULT_API_VERSION "admission.k8s.io/v1"
#define DEFAULT_KIND "AdmissionReview"

/* ------------------------------------------------------------------------ */
/* Building the answer                                                        */
/* ------------------------------------------------------------------------ */

void wh_answer_init(wh_answer *a)
{
    memset(a, 0, sizeof(*a));
    a->allowed = true;
}

void wh_answer_free(wh_answer *a)
{
    if (!a)
        return;
    sp_free(a->message);
    cJSON_Delete(a->warnings);
    cJSON_Delete(a->patch);
    memset(a, 0, sizeof(*a));
}

/* vsnprintf into buf, cut with "..." when it does not fit. */
static void format_cut(char *buf, size_t len, const char *fmt, va_list ap)
{
    int n = vsnprintf(buf, len, fmt, ap);

    if (n < 0)
        buf[0] = '\0';
    else if ((size_t)n >= len)
        memcpy(buf + len - 4, "...", 4);
}

sp_rc wh_deny(wh_answer *a, int code, const char *fmt, ...)
{
    char msg[WH_MSG_MAX];
    va_list ap;

    if (!a->allowed)
        return SP_OK;
    va_start(ap, fmt);
    format_cut(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    a->message = sp_strdup(msg);
    if (!a->message)
        return SP_ENOMEM;
    a->allowed = false;
    a->code = code;
    return SP_OK;
}

sp_rc wh_warn(wh_answer *a, const char *fmt, ...)
{
    char msg[WH_MSG_MAX];
    cJSON *s;
    va_list ap;

    va_start(ap, fmt);
    format_cut(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (!a->warnings && !(a->warnings = cJSON_CreateArray()))
        return SP_ENOMEM;
    s = cJSON_CreateString(msg);
    if (!s || !cJSON_AddItemToArray(a->warnings, s)) {
        cJSON_Delete(s);
        return SP_ENOMEM;
    }
    return SP_OK;
}

/* A non-empty string member of obj, or NULL. */
static const char *str_member(const cJSON *obj, const char *key)
{
    const char *s = cJSON_IsObject(obj)
                        ? cJSON_GetStringValue(cJSON_GetObjectItem(obj, key))
                        : NULL;

    return s && *s ? s : NULL;
}

const char *wh_object_namespace(const wh_req *rq, const cJSON *obj)
{
    const char *ns = cJSON_IsObject(obj)
                         ? str_member(cJSON_GetObjectItem(obj, "metadata"),
                                      "namespace")
                         : NULL;

    return ns ? ns : rq->namespace_;
}

/* s, or s cut to at most WH_NAME_MAX bytes (never inside a UTF-8
 * sequence) with "..." in buf. */
static const char *cut_name(const char *s, char buf[WH_NAME_MAX + 4])
{
    size_t n = WH_NAME_MAX;

    if (strlen(s) <= WH_NAME_MAX)
        return s;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    memcpy(buf, s, n);
    memcpy(buf + n, "...", 4);
    return buf;
}

void wh_ident(char *buf, size_t len, const char *what, const wh_req *rq,
              const cJSON *obj)
{
    const cJSON *meta = cJSON_IsObject(obj) ? cJSON_GetObjectItem(obj, "metadata")
                                            : NULL;
    const char *ns = wh_object_namespace(rq, obj);
    const char *name = rq->name ? rq->name : str_member(meta, "name");
    const char *gen = name ? NULL : str_member(meta, "generateName");
    char ns_cut[WH_NAME_MAX + 4], name_cut[WH_NAME_MAX + 4];
    int n;

    if (gen)
        name = gen;
    if (ns)
        ns = cut_name(ns, ns_cut);
    if (name)
        name = cut_name(name, name_cut);
    /* cut parts fit WH_IDENT_MAX; a smaller buf gets a cut identity */
    n = snprintf(buf, len, "%s %s%s%s%s", what, ns ? ns : "", ns ? "/" : "",
                 name ? name : "(unnamed)", gen ? "*" : "");
    if (n < 0 && len)
        buf[0] = '\0';
}

/* ------------------------------------------------------------------------ */
/* Rendering                                                                  */
/* ------------------------------------------------------------------------ */

/* Print root into *body (sp_malloc'd through the cJSON hooks). */
static sp_rc print(const cJSON *root, char **body, size_t *len)
{
    *body = cJSON_PrintUnformatted(root);
    if (!*body)
        return SP_ENOMEM;
    *len = strlen(*body);
    return SP_OK;
}

static sp_rc add_status(cJSON *resp, const wh_answer *a)
{
    cJSON *status = cJSON_AddObjectToObject(resp, "status");

    if (!status || !cJSON_AddNumberToObject(status, "code", a->code) ||
        !cJSON_AddStringToObject(status, "message",
                                 a->message ? a->message : ""))
        return SP_ENOMEM;
    return SP_OK;
}

static sp_rc add_warnings(cJSON *resp, const wh_answer *a)
{
    cJSON *copy = cJSON_Duplicate(a->warnings, true);

    if (!copy || !cJSON_AddItemToObject(resp, "warnings", copy)) {
        cJSON_Delete(copy);
        return SP_ENOMEM;
    }
    return SP_OK;
}

static sp_rc add_patch(cJSON *resp, const wh_answer *a)
{
    char *text = NULL, *b64 = NULL;
    size_t len;
    sp_rc rc;

    rc = print(a->patch, &text, &len);
    if (!rc)
        rc = wh_base64(text, len, &b64);
    if (!rc && (!cJSON_AddStringToObject(resp, "patchType", "JSONPatch") ||
                !cJSON_AddStringToObject(resp, "patch", b64)))
        rc = SP_ENOMEM;
    cJSON_free(text);
    sp_free(b64);
    return rc == SP_ELIMIT ? SP_ENOMEM : rc;
}

/* The response object of a. */
static sp_rc fill_response(cJSON *resp, const wh_req *rq, const wh_answer *a)
{
    sp_rc rc = SP_OK;

    if (!cJSON_AddStringToObject(resp, "uid", rq->uid) ||
        !cJSON_AddBoolToObject(resp, "allowed", a->allowed))
        return SP_ENOMEM;
    if (!a->allowed)
        rc = add_status(resp, a);
    if (!rc && cJSON_GetArraySize(a->warnings) > 0)
        rc = add_warnings(resp, a);
    if (!rc && a->allowed && cJSON_GetArraySize(a->patch) > 0)
        rc = add_patch(resp, a);
    return rc;
}

sp_rc wh_answer_render(const wh_req *rq, const wh_answer *a, char **body,
                       size_t *len)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *resp;
    sp_rc rc = SP_ENOMEM;

    *body = NULL;
    *len = 0;
    if (!root ||
        !cJSON_AddStringToObject(root, "apiVersion",
                                 rq->api_version ? rq->api_version
                                                 : DEFAULT_API_VERSION) ||
        !cJSON_AddStringToObject(root, "kind", rq->kind ? rq->kind : DEFAULT_KIND) ||
        !(resp = cJSON_AddObjectToObject(root, "response")))
        goto out;
    rc = fill_response(resp, rq, a);
    if (!rc)
        rc = print(root, body, len);
out:
    cJSON_Delete(root);
    return rc;
}

sp_rc wh_error_render(const char *msg, char **body, size_t *len)
{
    cJSON *root = cJSON_CreateObject();
    sp_rc rc = SP_ENOMEM;

    *body = NULL;
    *len = 0;
    if (root && cJSON_AddStringToObject(root, "error", msg))
        rc = print(root, body, len);
    cJSON_Delete(root);
    return rc;
}
