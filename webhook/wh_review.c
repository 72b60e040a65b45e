/*
 * One AdmissionReview, start to end (wh.h): parse the body, read the
 * envelope (apiVersion and kind, echoed back; request.uid, without which
 * nothing can be answered: HTTP 400 with {"error": ...}), read the request
 * (what is reviewed, the operation, the objects; a malformed field is an
 * answer with allowed false and code 400 naming it), hand pods and
 * HostPools to their handlers and allow everything else untouched, apply
 * audit mode (a denial becomes the warning "audit: would deny: ...", no
 * patch is sent), render the response, and give the caller the effect.
 *
 * Effects come only from WH_VALIDATE (the last word on admission), only
 * when the response allows, and never for a dry run (request.dryRun: the
 * object will not be stored, so the webhook declares sideEffects
 * NoneOnDryRun). Every effect's object converts with kobj_pod_from_json or
 * kobj_pool_from_json. It is moved out of the parsed request, not copied,
 * and like all of that tree lives in the result's arena.
 *
 * The body is parsed from a copy without the contents of its managedFields
 * arrays (kobj_skim.h), which nothing here reads: an effect's object has
 * managedFields [].
 *
 * The review is a wh_case in three steps (wh.h), so that only the handlers
 * run under the caller's lock: reading (the envelope and the request, with
 * their 400s) before it, rendering after it. The state and the policy are
 * forgotten when the judging ends: rendering reads neither.
 */
#include <stdint.h>
#include <string.h>

#include "kobj/kobj.h"
#include "kobj/kobj_json.h"
#include "kobj/kobj_skim.h"
#include "util/sp_alloc.h"
#include "util/sp_arena.h"
#include "webhook/wh_internal.h"

#define REVIEW_KIND "AdmissionReview"
#define REVIEW_GROUP "admission.k8s.io/"

/* ------------------------------------------------------------------------ */
/* The envelope                                                               */
/* ------------------------------------------------------------------------ */

/* apiVersion and kind, when given, must be an AdmissionReview's. */
static sp_rc read_type(const cJSON *root, wh_req *rq, sp_err *err)
{
    sp_rc rc = kobj_get_string(root, "", "kind", &rq->kind, err);

    if (!rc && rq->kind && strcmp(rq->kind, REVIEW_KIND) != 0)
        return kobj_type_error(err, "kind", "\"" REVIEW_KIND "\"",
                               kobj_member(root, "kind"));
    if (!rc)
        rc = kobj_get_string(root, "", "apiVersion", &rq->api_version, err);
    if (!rc && rq->api_version &&
        strncmp(rq->api_version, REVIEW_GROUP, strlen(REVIEW_GROUP)) != 0)
        return kobj_type_error(err, "apiVersion", "\"" REVIEW_GROUP "v1\"",
                               kobj_member(root, "apiVersion"));
    return rc;
}

/* Parse body (len bytes) into the arena: a copy in it, with the contents of
 * its managedFields arrays cut out (kobj_skim.h); a syntax error is reported
 * where it is in body. */
static sp_rc parse_skimmed(const char *body, size_t len, sp_arena *arena, cJSON **root,
                           sp_err *err)
{
    char *text = len < SIZE_MAX ? sp_arena_alloc(arena, len + 1) : NULL;
    size_t text_len = len;
    bool cut;
    sp_rc rc;

    *root = NULL;
    if (!text)
        return sp_err_set(err, SP_ENOMEM, "out of memory reading the review");
    memcpy(text, body, len);
    cut = kobj_skim_managed_fields(text, &text_len) > 0;
    text[text_len] = '\0';
    sp_arena_fill(arena);
    rc = kobj_parse_json_nul(text, text_len, root, err);
    if (rc == SP_EPARSE && cut)
        rc = kobj_parse_json(body, len, root, err);
    sp_arena_fill_end(arena);
    return rc;
}

/* Parse the body and read what a response needs: SP_ENOMEM, or another code
 * with the reason for a 400 in err. */
static sp_rc read_envelope(const char *body, size_t len, sp_arena *arena, cJSON **root,
                           wh_req *rq, sp_err *err)
{
    const cJSON *req = NULL;
    sp_rc rc;

    rc = parse_skimmed(body, len, arena, root, err);
    if (rc)
        return rc;
    if (!cJSON_IsObject(*root))
        return kobj_type_error(err, "", "an " REVIEW_KIND " object", *root);
    rc = read_type(*root, rq, err);
    if (!rc)
        rc = kobj_get_object(*root, "", "request", &req, err);
    if (rc)
        return rc;
    if (!req)
        return sp_err_set(err, SP_EPARSE,
                          "request: missing: an " REVIEW_KIND " to answer "
                          "carries the request");
    rq->request = (cJSON *)req;
    rc = kobj_get_string(req, "request", "uid", &rq->uid, err);
    if (!rc && (!rq->uid || !*rq->uid))
        rc = sp_err_set(err, SP_EPARSE,
                        "request.uid: missing: the response must carry the "
                        "request's uid");
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The request                                                                */
/* ------------------------------------------------------------------------ */

/* group and name of request.kind (what) or request.resource. */
static sp_rc read_gvk(const cJSON *req, const char *what, const char *name_key,
                      const char **group, const char **name, sp_err *err)
{
    char path[KOBJ_PATH_MAX];
    const cJSON *gvk;
    sp_rc rc;

    *group = *name = NULL;
    kobj_path(path, sizeof(path), "request", what);
    rc = kobj_get_object(req, "request", what, &gvk, err);
    if (!rc && gvk)
        rc = kobj_get_string(gvk, path, "group", group, err);
    if (!rc && gvk)
        rc = kobj_get_string(gvk, path, name_key, name, err);
    if (!*group)
        *group = "";
    return rc;
}

/* What is reviewed: request.kind, else request.resource; a subresource
 * (pods/status, pods/binding, ...) is none of ours. */
static sp_rc read_target(const cJSON *req, wh_target *target, sp_err *err)
{
    const char *group = "", *kind = NULL, *rgroup = "", *resource = NULL;
    const char *sub = NULL;
    sp_rc rc;

    *target = WH_TARGET_OTHER;
    rc = read_gvk(req, "kind", "kind", &group, &kind, err);
    if (!rc)
        rc = read_gvk(req, "resource", "resource", &rgroup, &resource, err);
    if (!rc)
        rc = kobj_get_string(req, "request", "subResource", &sub, err);
    if (rc || (sub && *sub))
        return rc;
    if (!kind) {
        group = rgroup;
        kind = !resource ? NULL
               : strcmp(resource, "pods") == 0 ? "Pod"
               : strcmp(resource, "hostpools") == 0 ? "HostPool" : NULL;
    }
    if (kind && !*group && strcmp(kind, "Pod") == 0)
        *target = WH_TARGET_POD;
    else if (kind && strcmp(group, KOBJ_HOSTPOOL_GROUP) == 0 &&
             strcmp(kind, "HostPool") == 0)
        *target = WH_TARGET_POOL;
    return SP_OK;
}

static sp_rc read_operation(const cJSON *req, wh_op *op, sp_err *err)
{
    static const char *const names[] = { "CREATE", "UPDATE", "DELETE",
                                         "CONNECT" };
    const char *s;
    sp_rc rc = kobj_get_string(req, "request", "operation", &s, err);

    for (size_t i = 0; !rc && s && i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(s, names[i]) == 0) {
            *op = (wh_op)i;
            return SP_OK;
        }
    }
    return rc ? rc
              : kobj_type_error(err, "request.operation",
                                "CREATE, UPDATE, DELETE or CONNECT",
                                kobj_member(req, "operation"));
}

/* A string field where "" is the same as absent. */
static sp_rc read_name(const cJSON *req, const char *key, const char **out,
                       sp_err *err)
{
    sp_rc rc = kobj_get_string(req, "request", key, out, err);

    if (!rc && *out && !**out)
        *out = NULL;
    return rc;
}

/* Everything else the handlers read; SP_EPARSE names the field. */
static sp_rc read_request(wh_req *rq, sp_err *err)
{
    const cJSON *req = rq->request, *obj = NULL, *old = NULL;
    sp_rc rc;

    rc = read_target(req, &rq->target, err);
    if (!rc && rq->target != WH_TARGET_OTHER)
        rc = read_operation(req, &rq->op, err);
    if (!rc)
        rc = read_name(req, "namespace", &rq->namespace_, err);
    if (!rc)
        rc = read_name(req, "name", &rq->name, err);
    if (!rc)
        rc = kobj_get_object(req, "request", "object", &obj, err);
    if (!rc)
        rc = kobj_get_object(req, "request", "oldObject", &old, err);
    if (!rc)
        rc = kobj_get_bool(req, "request", "dryRun", &rq->dry_run, NULL, err);
    if (rc)
        return rc;
    rq->object = (cJSON *)obj;      /* the tree is ours: moved out later */
    rq->old_object = (cJSON *)old;
    return SP_OK;
}

/* ------------------------------------------------------------------------ */
/* The answer                                                                 */
/* ------------------------------------------------------------------------ */

static sp_rc dispatch(const wh_req *rq, wh_answer *a)
{
    switch (rq->target) {
    case WH_TARGET_POD:
        return wh_pod_review(rq, a);
    case WH_TARGET_POOL:
        return wh_pool_review(rq, a);
    case WH_TARGET_OTHER:
        break;
    }
    return SP_OK;
}

/* Audit mode: a denial becomes a warning, and nothing is patched. */
static sp_rc apply_audit(const wh_req *rq, wh_answer *a)
{
    sp_rc rc = SP_OK;

    if (!wh_audit(rq))
        return SP_OK;
    if (!a->allowed) {
        rc = wh_warn(a, "audit: would deny: %s", a->message ? a->message : "");
        a->allowed = true;
        a->code = 0;
    }
    cJSON_Delete(a->patch);
    a->patch = NULL;
    return rc;
}

/* An effect's object names its namespace: one that only request.namespace
 * gave (the object was judged there) is written into its metadata, so that
 * it converts, and lands in that namespace, without a default. The node is
 * made in the arena, as the rest of the tree. */
static sp_rc effect_namespace(const wh_req *rq, cJSON *obj, sp_arena *arena)
{
    cJSON *meta = cJSON_GetObjectItem(obj, "metadata");
    const cJSON *ns = kobj_member(meta, "namespace");
    cJSON *added;

    if (!rq->namespace_ || !cJSON_IsObject(meta) || (cJSON_IsString(ns) && *ns->valuestring))
        return SP_OK;
    cJSON_DeleteItemFromObject(meta, "namespace");
    sp_arena_fill(arena);
    added = cJSON_AddStringToObject(meta, "namespace", rq->namespace_);
    sp_arena_fill_end(arena);
    return added ? SP_OK : SP_ENOMEM;
}

/* Move the effect's object out of the request into out. */
static sp_rc take_effect(const wh_req *rq, wh_answer *a, wh_result *out)
{
    if (rq->mode != WH_VALIDATE || !a->allowed || !a->effect || rq->dry_run)
        return SP_OK;
    out->effects = sp_calloc(1, sizeof(*out->effects));
    if (!out->effects)
        return SP_ENOMEM;
    out->effects[0].op = a->effect_op;
    out->effects[0].object = cJSON_DetachItemViaPointer(rq->request, a->effect);
    out->effects[0].pod = a->effect_pod;
    out->n_effects = 1;
    a->effect = NULL;
    a->effect_pod = NULL;
    return effect_namespace(rq, out->effects[0].object, &out->arena);
}

/* HTTP 400: not even a uid to answer to. */
static sp_rc bad_request(const char *msg, wh_result *out)
{
    out->http_status = 400;
    out->allowed = false;
    return wh_error_render(msg, &out->body, &out->len);
}

/* ------------------------------------------------------------------------ */
/* The case: read, judged, answered                                           */
/* ------------------------------------------------------------------------ */

struct wh_case {
    wh_req rq;
    wh_answer a;
    cJSON *root;            /* the parsed body; rq's strings point into it.
                               Every node is in the result's arena (added
                               ones too): it is left to the arena, never
                               walked to be deleted */
    bool unreadable;        /* no uid to answer to: HTTP 400 with why */
    bool request_read;      /* the request's fields read: the handlers may run */
    sp_err why;             /* the reason of an unreadable body */
};

static void result_init(wh_result *out)
{
    memset(out, 0, sizeof(*out));
    out->http_status = 200;
    sp_arena_open(&out->arena);
}

sp_rc wh_case_open(wh_mode mode, const char *body, size_t len, wh_case **out,
                   wh_result *result)
{
    wh_case *cs = sp_calloc(1, sizeof(*cs));
    sp_err err;
    sp_rc rc;

    result_init(result);
    *out = cs;
    if (!cs)
        return SP_ENOMEM;
    cs->rq.mode = mode;
    wh_answer_init(&cs->a);
    sp_err_clear(&cs->why);
    rc = read_envelope(body ? body : "", body ? len : 0, &result->arena, &cs->root, &cs->rq,
                       &cs->why);
    if (rc == SP_ENOMEM)
        return rc;
    if (rc) {
        cs->unreadable = true;
        return SP_OK;
    }
    sp_err_clear(&err);
    rc = read_request(&cs->rq, &err);
    cs->request_read = rc == SP_OK;
    if (rc)
        return wh_deny(&cs->a, WH_CODE_BAD_REQUEST, "%s", err.msg);
    /* the object as an effect would record it, before the verdict */
    return mode == WH_VALIDATE && cs->rq.object
               ? effect_namespace(&cs->rq, cs->rq.object, &result->arena)
               : SP_OK;
}

const cJSON *wh_case_object(const wh_case *cs)
{
    if (!cs || !cs->request_read || cs->rq.mode != WH_VALIDATE || cs->rq.target != WH_TARGET_POD)
        return NULL;
    return cs->rq.object;
}

sp_rc wh_case_judge(wh_case *cs, const place_state *st, const pol_policy *policy,
                    wh_result *out)
{
    sp_rc rc = SP_OK;

    if (cs->unreadable)
        return SP_OK;
    cs->rq.st = st;
    cs->rq.policy = policy;
    sp_arena_fill(&out->arena); /* the patch and warnings die with the case */
    if (cs->request_read)
        rc = dispatch(&cs->rq, &cs->a);
    if (!rc)
        rc = apply_audit(&cs->rq, &cs->a);
    if (!rc)
        rc = take_effect(&cs->rq, &cs->a, out);
    sp_arena_fill_end(&out->arena);
    out->allowed = cs->a.allowed;
    cs->rq.st = NULL;
    cs->rq.policy = NULL;
    return rc;
}

sp_rc wh_case_answer(wh_case *cs, wh_result *out)
{
    if (cs->unreadable)
        return bad_request(cs->why.msg, out);
    return wh_answer_render(&cs->rq, &cs->a, &out->body, &out->len);
}

void wh_case_free(wh_case *cs)
{
    if (!cs)
        return;
    wh_answer_free(&cs->a);
    sp_free(cs);
}

sp_rc wh_review(const place_state *st, const pol_policy *policy, wh_mode mode,
                const char *body, size_t len, wh_result *out)
{
    wh_case *cs = NULL;
    sp_rc rc = wh_case_open(mode, body, len, &cs, out);

    if (!rc)
        rc = wh_case_judge(cs, st, policy, out);
    if (!rc)
        rc = wh_case_answer(cs, out);
    wh_case_free(cs);
    return rc;
}

void wh_result_free(wh_result *r)
{
    if (!r)
        return;
    sp_free(r->body);
    for (size_t i = 0; i < r->n_effects; i++)
        wh_pod_free(r->effects[i].pod);
    sp_free(r->effects);
    sp_arena_close(&r->arena);
    memset(r, 0, sizeof(*r));
}
