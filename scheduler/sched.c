/*
 * The scheduler extender: see sched.h. Each verb parses its JSON outside
 * the lock, then under the service's lock learns the pod (and, in NodeList
 * mode, the nodes it was sent), asks the engine, records the decision
 * (durably, before answering) and formats the reasons, which refer to the
 * state and so must be written while it cannot change.
 */
#include "scheduler/sched.h"

#include <cjson/cJSON.h>
#include <string.h>

#include "kobj/kobj.h"
#include "util/sp_alloc.h"
#include "util/sp_log.h"

/* ------------------------------------------------------------------------ */
/* Requests and replies                                                       */
/* ------------------------------------------------------------------------ */

typedef struct ext_args {
    cJSON *root;
    const cJSON *pod;
    cJSON *items;          /* Nodes.items (NodeList mode), or NULL */
    const cJSON *names;    /* NodeNames (names mode), or NULL */
    size_t n;              /* nodes sent */
    const char **name;     /* owned array: the name of each node sent */
    cJSON **item;          /* owned array: each Node object (NodeList mode) */
} ext_args;

static void args_free(ext_args *a)
{
    cJSON_Delete(a->root);
    sp_free(a->name);
    sp_free(a->item);
}

/* Answer with root printed as JSON (root is freed). */
static sp_rc reply_json(srv_response *resp, int status, cJSON *root)
{
    char *text = root ? cJSON_PrintUnformatted(root) : NULL;

    cJSON_Delete(root);
    if (!text)
        return SP_ENOMEM;
    resp->status = status;
    resp->content_type = "application/json";
    resp->body = text;
    resp->len = strlen(text);
    return SP_OK;
}

/* A verb's result carrying only Error (filter and bind results have it). */
static sp_rc reply_error(srv_response *resp, int status, const char *message)
{
    cJSON *root = cJSON_CreateObject();

    if (!root || !cJSON_AddStringToObject(root, "Error", message)) {
        cJSON_Delete(root);
        return SP_ENOMEM;
    }
    return reply_json(resp, status, root);
}

static const cJSON *non_null(const cJSON *v)
{
    return v && !cJSON_IsNull(v) ? v : NULL;
}

/* The name of a NodeNames entry or of a Nodes item ("" when it has none). */
static const char *name_of(const cJSON *entry, bool names)
{
    const cJSON *name = names ? entry
                              : cJSON_GetObjectItem(cJSON_GetObjectItem(entry, "metadata"), "name");

    return cJSON_IsString(name) ? name->valuestring : "";
}

/* Index the nodes sent once: name[i] and, in NodeList mode, item[i]. */
static sp_rc index_nodes(ext_args *a)
{
    const cJSON *list = a->names ? a->names : a->items, *entry;
    size_t i = 0;

    a->name = sp_calloc(a->n + 1, sizeof(*a->name));
    a->item = sp_calloc(a->n + 1, sizeof(*a->item));
    if (!a->name || !a->item)
        return SP_ENOMEM;
    cJSON_ArrayForEach(entry, list) {
        a->name[i] = name_of(entry, a->names != NULL);
        a->item[i++] = (cJSON *)entry;
    }
    return SP_OK;
}

/* Parse ExtenderArgs; a message in err when it is not one. */
static sp_rc parse_args(const char *body, size_t len, ext_args *a, sp_err *err)
{
    const cJSON *nodes;
    sp_rc rc;

    memset(a, 0, sizeof(*a));
    rc = kobj_parse_json(body, len, &a->root, err);
    if (rc)
        return rc;
    if (!cJSON_IsObject(a->root))
        return sp_err_set(err, SP_EPARSE, "ExtenderArgs must be a JSON object");
    a->pod = non_null(cJSON_GetObjectItem(a->root, "Pod"));
    if (!cJSON_IsObject(a->pod))
        return sp_err_set(err, SP_EPARSE, "ExtenderArgs.Pod is missing or not an object");
    a->names = non_null(cJSON_GetObjectItem(a->root, "NodeNames"));
    nodes = non_null(cJSON_GetObjectItem(a->root, "Nodes"));
    if (a->names && !cJSON_IsArray(a->names))
        return sp_err_set(err, SP_EPARSE, "ExtenderArgs.NodeNames must be an array of names");
    if (!a->names && nodes) {
        a->items = cJSON_GetObjectItem(nodes, "items");
        if (non_null(a->items) && !cJSON_IsArray(a->items))
            return sp_err_set(err, SP_EPARSE, "ExtenderArgs.Nodes.items must be an array");
        a->items = (cJSON *)non_null(a->items);
    }
    if (!a->names && !nodes)
        return sp_err_set(err, SP_EPARSE, "ExtenderArgs carries neither Nodes nor NodeNames");
    a->n = (size_t)cJSON_GetArraySize(a->names ? a->names : a->items);
    return index_nodes(a);
}

/* The state's index of every node sent; NodeList items are learned. */
static void resolve_nodes(svc *c, const ext_args *a, int32_t *idx)
{
    for (size_t i = 0; i < a->n; i++) {
        sp_err err;
        idx[i] = PLACE_NONE;
        if (a->names) {
            idx[i] = place_state_find_node(svc_state(c), a->name[i]);
        } else if (svc_learn_node(c, a->item[i], &idx[i], &err)) {
            idx[i] = PLACE_NONE;
            sp_log(SP_LOG_WARN, "node_ignored", "node", a->name[i], "error", err.msg, NULL);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Filter                                                                     */
/* ------------------------------------------------------------------------ */

/* Add "name": reason to the right failure map. */
static sp_rc add_failure(svc *c, cJSON *failed, cJSON *unresolvable, const char *name,
                         const place_reason *r)
{
    sp_buf b;
    sp_rc rc;

    sp_buf_init(&b, 4096);
    rc = place_reason_format(svc_state(c), r, &b);
    if (!rc && !cJSON_AddStringToObject(r->unresolvable ? unresolvable : failed, name, b.data))
        rc = SP_ENOMEM;
    sp_buf_free(&b);
    return rc;
}

/* The containers of an ExtenderFilterResult, each owned by root. */
static cJSON *result_skeleton(bool names, cJSON **kept, cJSON **failed, cJSON **unresolvable)
{
    cJSON *root = cJSON_CreateObject(), *list;

    if (!root)
        return NULL;
    if (names) {
        *kept = cJSON_AddArrayToObject(root, "NodeNames");
    } else {
        list = cJSON_AddObjectToObject(root, "Nodes");
        *kept = list && cJSON_AddObjectToObject(list, "metadata")
                    ? cJSON_AddArrayToObject(list, "items")
                    : NULL;
    }
    *failed = cJSON_AddObjectToObject(root, "FailedNodes");
    *unresolvable = cJSON_AddObjectToObject(root, "FailedAndUnresolvableNodes");
    if (!*kept || !*failed || !*unresolvable || !cJSON_AddStringToObject(root, "Error", "")) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

/* The ExtenderFilterResult: passing nodes in the request's own shape (the
 * request's Node objects move into it). */
static sp_rc filter_result(svc *c, ext_args *a, const bool *pass, const place_reason *v,
                           cJSON **out)
{
    cJSON *kept = NULL, *failed = NULL, *unresolvable = NULL;
    cJSON *root = result_skeleton(a->names != NULL, &kept, &failed, &unresolvable);
    sp_rc rc = root ? SP_OK : SP_ENOMEM;

    for (size_t i = 0; i < a->n && !rc; i++) {
        if (!pass[i])
            rc = add_failure(c, failed, unresolvable, a->name[i], &v[i]);
        else if (a->names)
            rc = cJSON_AddItemToArray(kept, cJSON_CreateString(a->name[i])) ? SP_OK : SP_ENOMEM;
        else
            rc = cJSON_AddItemToArray(kept, cJSON_DetachItemViaPointer(a->items, a->item[i]))
                     ? SP_OK
                     : SP_ENOMEM;
    }
    if (rc)
        cJSON_Delete(root);
    *out = rc ? NULL : root;
    return rc;
}

/* Record what filter decided: the reservation, or why nothing fits. */
static sp_rc record_decision(svc *c, int32_t pe, const place_filter_result *res,
                             const place_reason *v, size_t n, sp_err *err)
{
    sp_buf why;
    sp_rc rc;

    if (res->chosen != PLACE_NONE)
        return svc_reserve(c, pe, res->chosen, err);
    sp_buf_init(&why, 64 * 1024);
    rc = place_reason_summary(svc_state(c), v, n, &why);
    if (!rc && !res->gang_wait)
        rc = svc_fail(c, pe, why.data, err);
    sp_buf_free(&why);
    return rc;
}

static void log_filter(svc *c, int32_t pe, const place_filter_result *res, bool audit)
{
    place_pe_info info;

    place_pe_get(svc_state(c), pe, &info);
    sp_log(SP_LOG_INFO, "filter", "namespace", info.namespace_, "pod", info.pod, "job",
           info.job, "pe", info.pe, "node",
           res->chosen != PLACE_NONE ? place_node_name(svc_state(c), res->chosen) : "",
           "planned", res->planned ? "true" : "false", "mode", audit ? "audit" : "enforce",
           NULL);
}

/* Decide for a PE pod; pass[i] says which nodes go back. */
static sp_rc filter_pe(svc *c, int32_t pe, const int32_t *idx, size_t n, bool *pass,
                       place_reason *v, sp_err *err)
{
    bool audit = svc_policy(c)->mode == POL_MODE_AUDIT;
    place_filter_result res;
    sp_rc rc = place_filter(svc_state(c), pe, idx, n, v, &res);

    if (rc)
        return sp_err_set(err, rc, "placement failed: %s", sp_strerror(rc));
    for (size_t i = 0; i < n; i++) {
        pass[i] = audit || (res.chosen != PLACE_NONE && idx[i] == res.chosen);
        if (v[i].code != PLACE_R_OK && v[i].code != PLACE_R_PLANNED_ELSEWHERE)
            svc_count_rejection(c, v[i].code);
    }
    if (!audit)
        rc = record_decision(c, pe, &res, v, n, err);
    if (!rc)
        rc = svc_save_pools(c, err);
    if (!rc)
        log_filter(c, pe, &res, audit);
    else
        sp_log(SP_LOG_WARN, "filter_failed", "error", err->msg, NULL);
    return rc;
}

sp_rc sched_filter(svc *c, const char *body, size_t len, srv_response *resp)
{
    ext_args a;
    sp_err err = { SP_OK, "" };
    int32_t *idx = NULL, pe = PLACE_NONE;
    place_reason *v = NULL;
    bool *pass = NULL;
    cJSON *result = NULL;
    sp_rc rc = parse_args(body, len, &a, &err);

    if (rc) {
        args_free(&a);
        return rc == SP_ENOMEM ? rc : reply_error(resp, 400, err.msg);
    }
    idx = sp_calloc(a.n + 1, sizeof(*idx));
    v = sp_calloc(a.n + 1, sizeof(*v));
    pass = sp_calloc(a.n + 1, sizeof(*pass));
    if (!idx || !v || !pass)
        rc = SP_ENOMEM;
    svc_lock(c);
    if (!rc && !(rc = svc_expire(c, &err))) {
        resolve_nodes(c, &a, idx);
        rc = svc_learn_pod(c, a.pod, &pe, &err);
    }
    for (size_t i = 0; !rc && pe == PLACE_NONE && i < a.n; i++)
        pass[i] = true; /* not a PE of ours: every node it was offered */
    if (!rc && pe != PLACE_NONE)
        rc = filter_pe(c, pe, idx, a.n, pass, v, &err);
    if (!rc)
        rc = filter_result(c, &a, pass, v, &result);
    svc_unlock(c);
    sp_free(idx);
    sp_free(v);
    sp_free(pass);
    args_free(&a);
    if (rc == SP_EPARSE || rc == SP_EINVAL)
        return reply_error(resp, 400, err.msg);
    if (rc && rc != SP_ENOMEM)
        return reply_error(resp, 500, err.msg);
    return rc ? rc : reply_json(resp, 200, result);
}

/* ------------------------------------------------------------------------ */
/* Prioritize                                                                 */
/* ------------------------------------------------------------------------ */

static sp_rc priority_list(const ext_args *a, const int *scores, cJSON **out)
{
    cJSON *list = cJSON_CreateArray();

    for (size_t i = 0; list && i < a->n; i++) {
        cJSON *entry = cJSON_CreateObject();
        if (!entry || !cJSON_AddItemToArray(list, entry) ||
            !cJSON_AddStringToObject(entry, "Host", a->name[i]) ||
            !cJSON_AddNumberToObject(entry, "Score", scores[i])) {
            cJSON_Delete(list);
            list = NULL;
        }
    }
    *out = list;
    return list ? SP_OK : SP_ENOMEM;
}

sp_rc sched_prioritize(svc *c, const char *body, size_t len, srv_response *resp)
{
    ext_args a;
    sp_err err = { SP_OK, "" };
    int32_t *idx = NULL, pe = PLACE_NONE;
    int *scores = NULL;
    cJSON *list = NULL;
    sp_rc rc = parse_args(body, len, &a, &err);

    if (rc) {
        args_free(&a);
        return rc == SP_ENOMEM ? rc : reply_error(resp, 400, err.msg);
    }
    idx = sp_calloc(a.n + 1, sizeof(*idx));
    scores = sp_calloc(a.n + 1, sizeof(*scores));
    rc = idx && scores ? SP_OK : SP_ENOMEM;
    svc_lock(c);
    if (!rc) {
        resolve_nodes(c, &a, idx);
        rc = svc_learn_pod(c, a.pod, &pe, &err);
    }
    if (!rc && pe != PLACE_NONE)
        rc = place_score(svc_state(c), pe, idx, a.n, scores);
    svc_unlock(c);
    if (!rc)
        rc = priority_list(&a, scores, &list);
    sp_free(idx);
    sp_free(scores);
    args_free(&a);
    if (rc == SP_EPARSE || rc == SP_EINVAL)
        return reply_error(resp, 400, err.msg);
    return rc ? rc : reply_json(resp, 200, list);
}

/* ------------------------------------------------------------------------ */
/* Bind                                                                       */
/* ------------------------------------------------------------------------ */

typedef struct bind_args {
    const char *pod, *ns, *uid, *node;
} bind_args;

static sp_rc parse_bind(const cJSON *root, bind_args *b, sp_err *err)
{
    static const char *const fields[] = { "PodName", "PodNamespace", "PodUID", "Node" };
    const char **slots[] = { &b->pod, &b->ns, &b->uid, &b->node };

    if (!cJSON_IsObject(root))
        return sp_err_set(err, SP_EPARSE, "ExtenderBindingArgs must be a JSON object");
    for (size_t i = 0; i < 4; i++) {
        const cJSON *v = cJSON_GetObjectItem(root, fields[i]);
        if (!cJSON_IsString(v) || !*v->valuestring)
            return sp_err_set(err, SP_EPARSE, "ExtenderBindingArgs.%s is missing or empty",
                              fields[i]);
        *slots[i] = v->valuestring;
    }
    return SP_OK;
}

/* Bind under the lock; an unknown pod or node is a message in err. */
static sp_rc bind_locked(svc *c, const bind_args *b, sp_err *err)
{
    int32_t pe = place_state_find_pe(svc_state(c), b->uid), node;
    sp_rc rc;

    if (pe == PLACE_NONE)
        return svc_bind_unmanaged(c, b->ns, b->pod, b->uid, b->node, err);
    rc = place_state_node_ref(svc_state(c), b->node, &node);
    if (rc)
        return sp_err_set(err, rc, "node %s: %s", b->node, sp_strerror(rc));
    rc = svc_bind(c, pe, node, err);
    if (!rc)
        sp_log(SP_LOG_INFO, "bind", "namespace", b->ns, "pod", b->pod, "node", b->node, NULL);
    return rc;
}

sp_rc sched_bind(svc *c, const char *body, size_t len, srv_response *resp)
{
    cJSON *root = NULL;
    bind_args b;
    sp_err err = { SP_OK, "" };
    sp_rc rc = kobj_parse_json(body, len, &root, &err);

    if (!rc)
        rc = parse_bind(root, &b, &err);
    if (rc) {
        cJSON_Delete(root);
        return rc == SP_ENOMEM ? rc : reply_error(resp, 400, err.msg);
    }
    svc_lock(c);
    rc = bind_locked(c, &b, &err);
    svc_unlock(c);
    cJSON_Delete(root);
    if (rc == SP_ENOMEM)
        return rc;
    return reply_error(resp, rc == SP_EIO ? 500 : 200, rc ? err.msg : "");
}
