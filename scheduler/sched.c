/*
 * The scheduler extender: see sched.h. Each verb parses its JSON outside
 * the lock, then under the service's lock learns the pod (and, in NodeList
 * mode, the nodes it was sent), asks the engine, records the decision
 * (durably, before answering) and formats the reasons, which refer to the
 * state and so must be written while it cannot change. Answers are written
 * straight into a buffer, not built as a cJSON tree: a filter over 5,000
 * nodes answers with 5,000 reasons, most of them the same few, so each
 * distinct reason is formatted once.
 */
#include "scheduler/sched.h"

#include <cjson/cJSON.h>
#include <string.h>

#include "kobj/kobj.h"
#include "kobj/kobj_json.h"
#include "util/sp_alloc.h"
#include "util/sp_arena.h"
#include "util/sp_log.h"

/* ------------------------------------------------------------------------ */
/* Requests and replies                                                       */
/* ------------------------------------------------------------------------ */

typedef struct ext_args {
    sp_arena arena;        /* root's nodes; open from parse_args to args_free */
    cJSON *root;           /* never changed: freed with the arena, not walked */
    const cJSON *pod;
    cJSON *items;          /* Nodes.items (NodeList mode), or NULL */
    const cJSON *names;    /* NodeNames (names mode), or NULL */
    size_t n;              /* nodes sent */
    const char **name;     /* owned array: the name of each node sent */
    cJSON **item;          /* owned array: each Node object (NodeList mode) */
} ext_args;

static void args_free(ext_args *a)
{
    sp_arena_close(&a->arena);
    sp_free(a->name);
    sp_free(a->item);
}

#define ANSWER_MAX (256u << 20) /* bytes of one answer */
#define ANSWER_BYTES_PER_NODE 96 /* a node's name and reason, as a first guess */

/* Answer with the JSON in b (taken; b is left empty). */
static sp_rc reply_buf(srv_response *resp, int status, sp_buf *b)
{
    size_t len = b->len;
    char *text = sp_buf_take(b);

    if (!text)
        return SP_ENOMEM;
    resp->status = status;
    resp->content_type = "application/json";
    resp->body = text;
    resp->len = len;
    return SP_OK;
}

/* A verb's result carrying only Error (filter and bind results have it). */
static sp_rc reply_error(srv_response *resp, int status, const char *message)
{
    sp_buf b;
    sp_rc rc;

    sp_buf_init(&b, ANSWER_MAX);
    rc = sp_buf_puts(&b, "{\"Error\":");
    if (!rc)
        rc = sp_buf_json_string(&b, message);
    if (!rc)
        rc = sp_buf_puts(&b, "}");
    if (!rc)
        rc = reply_buf(resp, status, &b);
    sp_buf_free(&b);
    return rc;
}

/* The name of a NodeNames entry or of a Nodes item; NULL when it has none. */
static const char *name_of(const cJSON *entry, bool names)
{
    const cJSON *name = names ? entry
                              : kobj_member(kobj_member(entry, "metadata"), "name");

    return cJSON_IsString(name) ? name->valuestring : NULL;
}

/* Index the nodes sent once: name[i] and, in NodeList mode, item[i]. Every
 * node must be named: an answer may only name nodes that were sent. */
static sp_rc index_nodes(ext_args *a, sp_err *err)
{
    const cJSON *list = a->names ? a->names : a->items, *entry;
    size_t i = 0;

    a->name = sp_calloc(a->n + 1, sizeof(*a->name));
    a->item = sp_calloc(a->n + 1, sizeof(*a->item));
    if (!a->name || !a->item)
        return SP_ENOMEM;
    cJSON_ArrayForEach(entry, list) {
        a->name[i] = name_of(entry, a->names != NULL);
        if (!a->name[i])
            return sp_err_set(err, SP_EPARSE,
                              a->names ? "ExtenderArgs.NodeNames[%zu] is not a string"
                                       : "ExtenderArgs.Nodes.items[%zu] has no metadata.name",
                              i);
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
    sp_arena_open(&a->arena);
    sp_arena_fill(&a->arena);
    rc = kobj_parse_json(body, len, &a->root, err);
    sp_arena_fill_end(&a->arena);
    if (rc)
        return rc;
    if (!cJSON_IsObject(a->root))
        return sp_err_set(err, SP_EPARSE, "ExtenderArgs must be a JSON object");
    a->pod = kobj_field(a->root, "Pod");
    if (!cJSON_IsObject(a->pod))
        return sp_err_set(err, SP_EPARSE, "ExtenderArgs.Pod is missing or not an object");
    a->names = kobj_field(a->root, "NodeNames");
    nodes = kobj_field(a->root, "Nodes");
    if (a->names && !cJSON_IsArray(a->names))
        return sp_err_set(err, SP_EPARSE, "ExtenderArgs.NodeNames must be an array of names");
    if (!a->names && nodes) {
        a->items = (cJSON *)kobj_field(nodes, "items"); /* our own tree */
        if (a->items && !cJSON_IsArray(a->items))
            return sp_err_set(err, SP_EPARSE, "ExtenderArgs.Nodes.items must be an array");
    }
    if (!a->names && !nodes)
        return sp_err_set(err, SP_EPARSE, "ExtenderArgs carries neither Nodes nor NodeNames");
    a->n = (size_t)cJSON_GetArraySize(a->names ? a->names : a->items);
    return index_nodes(a, err);
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

/* Each distinct verdict's reason, formatted once as a JSON string into
 * text; a verdict is found by its fields (open addressing, a few probes:
 * a full table only means formatting again). */
#define CACHE_SLOTS 1024
#define CACHE_PROBES 8

typedef struct reason_slot {
    place_reason key;
    size_t off, len;
    bool used;
} reason_slot;

typedef struct reason_cache {
    reason_slot *slots;     /* CACHE_SLOTS */
    sp_buf text;            /* the formatted reasons, back to back */
    sp_buf one;             /* scratch: one reason as text */
} reason_cache;

static bool same_reason(const place_reason *a, const place_reason *b)
{
    return a->code == b->code && a->unresolvable == b->unresolvable && a->pool == b->pool &&
           a->index == b->index && a->other_pe == b->other_pe && a->str == b->str &&
           a->str2 == b->str2 && a->need == b->need && a->free == b->free &&
           a->total == b->total && a->text == b->text;
}

static size_t reason_hash(const place_reason *r)
{
    uint64_t h = (uint64_t)r->code * 0x9e3779b97f4a7c15ULL;
    const int64_t parts[] = { r->pool, r->index, r->other_pe, r->str, r->str2,
                              r->need, r->free, r->total, (int64_t)(uintptr_t)r->text };

    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        h = (h ^ (uint64_t)parts[i]) * 0x100000001b3ULL;
    return (size_t)(h ^ (h >> 29));
}

/* Format r as a JSON string at the end of the cache's text: *off, *len. */
static sp_rc format_reason(svc *c, reason_cache *cache, const place_reason *r, size_t *off,
                           size_t *len)
{
    sp_rc rc;

    sp_buf_reset(&cache->one);
    rc = place_reason_format(svc_state(c), r, &cache->one);
    *off = cache->text.len;
    if (!rc)
        rc = sp_buf_json_string(&cache->text, cache->one.data ? cache->one.data : "");
    *len = cache->text.len - *off;
    return rc;
}

/* Where r's reason is in the cache's text, formatting it when new. */
static sp_rc cached_reason(svc *c, reason_cache *cache, const place_reason *r, size_t *off,
                           size_t *len)
{
    size_t h = reason_hash(r);
    reason_slot *slot = NULL;
    sp_rc rc;

    for (size_t i = 0; i < CACHE_PROBES && !slot; i++) {
        reason_slot *s = &cache->slots[(h + i) % CACHE_SLOTS];
        if (s->used && same_reason(&s->key, r)) {
            *off = s->off;
            *len = s->len;
            return SP_OK;
        }
        if (!s->used)
            slot = s;
    }
    rc = format_reason(c, cache, r, off, len);
    if (!rc && slot) {
        slot->key = *r;
        slot->off = *off;
        slot->len = *len;
        slot->used = true;
    }
    return rc;
}

/* "name":reason for each refused node whose reason is (un)resolvable. */
static sp_rc write_failures(sp_buf *b, const ext_args *a, const bool *pass,
                            const place_reason *v, const reason_cache *cache,
                            const size_t *off, const size_t *len, bool unresolvable)
{
    bool first = true;
    sp_rc rc = SP_OK;

    for (size_t i = 0; i < a->n && !rc; i++) {
        if (pass[i] || v[i].unresolvable != unresolvable)
            continue;
        rc = first ? SP_OK : sp_buf_append(b, ",", 1);
        first = false;
        if (!rc)
            rc = sp_buf_json_string(b, a->name[i]);
        if (!rc)
            rc = sp_buf_append(b, ":", 1);
        if (!rc)
            rc = sp_buf_append(b, cache->text.data + off[i], len[i]);
    }
    return rc;
}

/* The nodes that pass, in the request's own shape. */
static sp_rc write_kept(sp_buf *b, const ext_args *a, const bool *pass)
{
    bool first = true;
    sp_rc rc = sp_buf_puts(b, a->names ? "{\"NodeNames\":[" : "{\"Nodes\":{\"metadata\":{},\"items\":[");

    for (size_t i = 0; i < a->n && !rc; i++) {
        char *item;
        if (!pass[i])
            continue;
        rc = first ? SP_OK : sp_buf_append(b, ",", 1);
        first = false;
        if (rc || a->names) {
            rc = rc ? rc : sp_buf_json_string(b, a->name[i]);
            continue;
        }
        item = cJSON_PrintUnformatted(a->item[i]);
        rc = item ? sp_buf_puts(b, item) : SP_ENOMEM;
        cJSON_free(item);
    }
    return rc ? rc : sp_buf_puts(b, a->names ? "]" : "]}");
}

/* Every refused node's reason, formatted (once per distinct reason). */
static sp_rc format_failures(svc *c, const ext_args *a, const bool *pass,
                             const place_reason *v, reason_cache *cache, size_t *off,
                             size_t *len)
{
    sp_rc rc = SP_OK;

    for (size_t i = 0; i < a->n && !rc; i++)
        if (!pass[i])
            rc = cached_reason(c, cache, &v[i], &off[i], &len[i]);
    return rc;
}

/* The ExtenderFilterResult, written into b. */
static sp_rc filter_result(svc *c, const ext_args *a, const bool *pass, const place_reason *v,
                           sp_buf *b)
{
    reason_cache cache = { sp_calloc(CACHE_SLOTS, sizeof(reason_slot)), { 0 }, { 0 } };
    size_t *off = sp_calloc(a->n + 1, sizeof(*off)), *len = sp_calloc(a->n + 1, sizeof(*len));
    sp_rc rc = cache.slots && off && len ? SP_OK : SP_ENOMEM;

    sp_buf_init(&cache.text, ANSWER_MAX);
    sp_buf_init(&cache.one, 64 * 1024);
    /* a guess of the size, so that 400 KB are not copied in doublings */
    if (!rc && a->n < ANSWER_MAX / ANSWER_BYTES_PER_NODE &&
        sp_buf_reserve(b, a->n * ANSWER_BYTES_PER_NODE) == SP_ENOMEM)
        rc = SP_ENOMEM;
    if (!rc)
        rc = format_failures(c, a, pass, v, &cache, off, len);
    if (!rc)
        rc = write_kept(b, a, pass);
    if (!rc)
        rc = sp_buf_puts(b, ",\"FailedNodes\":{");
    if (!rc)
        rc = write_failures(b, a, pass, v, &cache, off, len, false);
    if (!rc)
        rc = sp_buf_puts(b, "},\"FailedAndUnresolvableNodes\":{");
    if (!rc)
        rc = write_failures(b, a, pass, v, &cache, off, len, true);
    if (!rc)
        rc = sp_buf_puts(b, "},\"Error\":\"\"}");
    sp_free(cache.slots);
    sp_buf_free(&cache.text);
    sp_buf_free(&cache.one);
    sp_free(off);
    sp_free(len);
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
        if (v[i].code != PLACE_R_OK && v[i].code != PLACE_R_PLANNED_ELSEWHERE &&
            v[i].code != PLACE_R_RESERVED_ELSEWHERE) /* steering, not refusals */
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

/* Release reservations past their TTL. One whose release cannot be written
 * (the API server away, a full disk) stays, holding its node a little
 * longer, and is tried again on the next call: it must not fail this call,
 * which may need no write at all. */
static void expire_reservations(svc *c)
{
    sp_err err = { SP_OK, "" };

    if (svc_expire(c, &err))
        sp_log(SP_LOG_WARN, "reservations_not_expired", "error", err.msg, NULL);
}

sp_rc sched_filter(svc *c, const char *body, size_t len, srv_response *resp)
{
    ext_args a;
    sp_err err = { SP_OK, "" };
    int32_t *idx = NULL, pe = PLACE_NONE;
    place_reason *v = NULL;
    bool *pass = NULL;
    sp_buf result;
    sp_rc rc = parse_args(body, len, &a, &err);

    if (rc) {
        args_free(&a);
        return rc == SP_ENOMEM ? rc : reply_error(resp, 400, err.msg);
    }
    sp_buf_init(&result, ANSWER_MAX);
    idx = sp_calloc(a.n + 1, sizeof(*idx));
    v = sp_calloc(a.n + 1, sizeof(*v));
    pass = sp_calloc(a.n + 1, sizeof(*pass));
    if (!idx || !v || !pass)
        rc = SP_ENOMEM;
    svc_lock(c);
    if (!rc)
        expire_reservations(c);
    if (!rc) {
        resolve_nodes(c, &a, idx);
        rc = svc_learn_pod(c, a.pod, &pe, &err);
    }
    for (size_t i = 0; !rc && pe == PLACE_NONE && i < a.n; i++)
        pass[i] = true; /* not a PE of ours: every node it was offered */
    if (!rc && pe != PLACE_NONE) {
        svc_defer_sync(c, true); /* a reservation: synced before its bind acts */
        rc = filter_pe(c, pe, idx, a.n, pass, v, &err);
        svc_defer_sync(c, false);
    }
    if (!rc)
        rc = filter_result(c, &a, pass, v, &result);
    svc_unlock(c);
    sp_free(idx);
    sp_free(v);
    sp_free(pass);
    args_free(&a);
    if (!rc)
        rc = reply_buf(resp, 200, &result);
    sp_buf_free(&result);
    if (rc == SP_EPARSE || rc == SP_EINVAL)
        return reply_error(resp, 400, err.msg);
    if (rc && rc != SP_ENOMEM)
        return reply_error(resp, 500, err.msg[0] ? err.msg : sp_strerror(rc));
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Prioritize                                                                 */
/* ------------------------------------------------------------------------ */

/* The HostPriorityList: [{"Host": name, "Score": n}, ...]. */
static sp_rc priority_list(const ext_args *a, const int *scores, sp_buf *b)
{
    sp_rc rc = sp_buf_append(b, "[", 1);

    for (size_t i = 0; i < a->n && !rc; i++) {
        rc = sp_buf_puts(b, i ? ",{\"Host\":" : "{\"Host\":");
        if (!rc)
            rc = sp_buf_json_string(b, a->name[i]);
        if (!rc)
            rc = sp_buf_printf(b, ",\"Score\":%d}", scores[i]);
    }
    return rc ? rc : sp_buf_append(b, "]", 1);
}

sp_rc sched_prioritize(svc *c, const char *body, size_t len, srv_response *resp)
{
    ext_args a;
    sp_err err = { SP_OK, "" };
    int32_t *idx = NULL, pe = PLACE_NONE;
    int *scores = NULL;
    sp_buf list;
    sp_rc rc = parse_args(body, len, &a, &err);

    if (rc) {
        args_free(&a);
        return rc == SP_ENOMEM ? rc : reply_error(resp, 400, err.msg);
    }
    sp_buf_init(&list, ANSWER_MAX);
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
    if (!rc)
        rc = reply_buf(resp, 200, &list);
    sp_buf_free(&list);
    if (rc == SP_EPARSE || rc == SP_EINVAL)
        return reply_error(resp, 400, err.msg);
    return rc;
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
        const cJSON *v = kobj_member(root, fields[i]);
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
