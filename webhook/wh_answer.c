/*
 * The answer to one AdmissionReview as the handlers build it (allowed or
 * the first denial, warnings, patch operations) and its rendering as the
 * AdmissionReview response kube-apiserver expects: the same apiVersion and
 * kind as the request, response.uid = request.uid, `allowed` always
 * written, `status` {code, message} when denied, `warnings` when any, and
 * `patchType` "JSONPatch" with the base64 `patch` only when the patch has
 * operations. Also the identity ("pod streams/job1-pe0") every message
 * starts with. The response is written straight into one buffer: building
 * a cJSON tree to print it cost more than the rest of the rendering.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kobj/kobj_json.h"
#include "util/sp_alloc.h"
#include "webhook/wh_internal.h"

#define DEFAULT_API_VERSION "admission.k8s.io/v1"
#define DEFAULT_KIND "AdmissionReview"
#define ANSWER_MAX (64u << 20) /* bytes of a rendered response */

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
    wh_pod_free(a->effect_pod);
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
    const char *s = cJSON_GetStringValue(kobj_member(obj, key));

    return s && *s ? s : NULL;
}

const char *wh_object_namespace(const wh_req *rq, const cJSON *obj)
{
    const char *ns = str_member(kobj_member(obj, "metadata"), "namespace");

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
    const cJSON *meta = kobj_member(obj, "metadata");
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

/* Append JSON text and string values in turn: parts[i] is JSON text when i
 * is even, a string to quote and escape when it is odd. */
static sp_rc put_parts(sp_buf *b, const char *const *parts, size_t n)
{
    sp_rc rc = SP_OK;

    for (size_t i = 0; i < n && !rc; i++)
        rc = i % 2 ? sp_buf_json_string(b, parts[i]) : sp_buf_puts(b, parts[i]);
    return rc;
}

static sp_rc put_status(sp_buf *b, const wh_answer *a)
{
    sp_rc rc = sp_buf_printf(b, ",\"status\":{\"code\":%d,\"message\":", a->code);

    if (!rc)
        rc = sp_buf_json_string(b, a->message ? a->message : "");
    return rc ? rc : sp_buf_puts(b, "}");
}

static sp_rc put_warnings(sp_buf *b, const wh_answer *a)
{
    const cJSON *w;
    sp_rc rc = sp_buf_puts(b, ",\"warnings\":[");

    cJSON_ArrayForEach(w, a->warnings) {
        const char *text = cJSON_GetStringValue(w);
        if (!rc && w != a->warnings->child)
            rc = sp_buf_puts(b, ",");
        if (!rc)
            rc = sp_buf_json_string(b, text ? text : "");
    }
    return rc ? rc : sp_buf_puts(b, "]");
}

static sp_rc put_patch(sp_buf *b, const wh_answer *a)
{
    char *text = cJSON_PrintUnformatted(a->patch), *b64 = NULL;
    sp_rc rc = text ? wh_base64(text, strlen(text), &b64) : SP_ENOMEM;

    if (!rc)
        rc = sp_buf_puts(b, ",\"patchType\":\"JSONPatch\",\"patch\":\"");
    if (!rc)
        rc = sp_buf_puts(b, b64);
    if (!rc)
        rc = sp_buf_puts(b, "\"");
    cJSON_free(text);
    sp_free(b64);
    return rc;
}

/* The whole response, written straight into b (no tree to build). */
static sp_rc put_response(sp_buf *b, const wh_req *rq, const wh_answer *a)
{
    const char *const head[] = {
        "{\"apiVersion\":", rq->api_version ? rq->api_version : DEFAULT_API_VERSION,
        ",\"kind\":", rq->kind ? rq->kind : DEFAULT_KIND,
        ",\"response\":{\"uid\":", rq->uid,
        a->allowed ? ",\"allowed\":true" : ",\"allowed\":false",
    };
    sp_rc rc = put_parts(b, head, sizeof(head) / sizeof(head[0]));

    if (!rc && !a->allowed)
        rc = put_status(b, a);
    if (!rc && cJSON_GetArraySize(a->warnings) > 0)
        rc = put_warnings(b, a);
    if (!rc && a->allowed && cJSON_GetArraySize(a->patch) > 0)
        rc = put_patch(b, a);
    return rc ? rc : sp_buf_puts(b, "}}");
}

/* Hand the rendered b to *body; every failure is SP_ENOMEM (a response
 * over ANSWER_MAX could only come of memory exhaustion upstream). */
static sp_rc take_rendered(sp_buf *b, sp_rc rc, char **body, size_t *len)
{
    if (!rc) {
        *len = b->len;
        *body = sp_buf_take(b);
    }
    sp_buf_free(b);
    return rc || !*body ? SP_ENOMEM : SP_OK;
}

sp_rc wh_answer_render(const wh_req *rq, const wh_answer *a, char **body,
                       size_t *len)
{
    sp_buf b;

    *body = NULL;
    *len = 0;
    sp_buf_init(&b, ANSWER_MAX);
    return take_rendered(&b, put_response(&b, rq, a), body, len);
}

sp_rc wh_error_render(const char *msg, char **body, size_t *len)
{
    const char *const parts[] = { "{\"error\":", msg, "}" };
    sp_buf b;

    *body = NULL;
    *len = 0;
    sp_buf_init(&b, ANSWER_MAX);
    return take_rendered(&b, put_parts(&b, parts, 3), body, len);
}
