/*
 * The fake kube-apiserver of tests/kfake.h: libmicrohttpd over TLS, one
 * thread per connection (a watch is a long-lived chunked response whose
 * reader blocks on a condition variable), and one store behind one mutex.
 * The store keeps, per collection, the objects sorted by namespace and
 * name, plus a history of every change (the object before and after) from
 * which watches replay, paged lists read consistent snapshots, and 410
 * Gone is decided once it has been compacted. Answers copy the real
 * server's shapes: Status objects with reason and details, <Kind>List
 * without kind on built-in items, resourceVersion as a decimal string,
 * AlreadyExists and Conflict as 409, status only through /status, no-op
 * updates that write nothing, finalizers that turn a delete into a
 * deletionTimestamp, and watch errors as an ERROR event on a 200 stream.
 */
#define _GNU_SOURCE /* POLLRDHUP: notice a watcher that went away */
#include "tests/kfake.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "certs/certs.h"
#include "util/sp_alloc.h"
#include "util/sp_buf.h"
#include "util/sp_str.h"

#define BODY_MAX (3u << 20)         /* the real server's request body limit */
#define WATCH_BUF_MAX (256u << 20)  /* bytes a watcher may have pending */
#define WATCH_BLOCK 16384           /* bytes MHD asks a watch for at a time */
#define HIST_MAX 20000              /* changes kept before the oldest go */
#define FIRST_RV 100                /* resourceVersion of an empty store */
#define BOOKMARK_MS 500             /* bookmarks at least this often */
#define WATCH_DEFAULT_S 1800        /* a watch without timeoutSeconds */
#define MAX_SEGS 8                  /* path segments of the longest route */
#define MSG_MAX 512                 /* bytes of a Status message */

/* ------------------------------------------------------------------------ */
/* Collections                                                                */
/* ------------------------------------------------------------------------ */

typedef struct coll_def {
    const char *resource;      /* "pods": the path segment */
    const char *group;         /* "" for the core group */
    const char *version;
    const char *api_version;   /* "v1", "placement.streams.io/v1alpha1" */
    const char *kind;
    const char *const *fields; /* field selectors beyond metadata.name/namespace */
    bool namespaced;
    bool status_sub;           /* status changes only through /status */
    bool generation;           /* metadata.generation counts spec changes */
    bool custom;               /* a CRD: items keep kind, no strategic merge
                                  patch, PUT needs metadata.resourceVersion */
} coll_def;

static const char *const pod_fields[] = {
    "spec.nodeName", "spec.schedulerName", "spec.restartPolicy", "spec.serviceAccountName",
    "status.phase", "status.podIP", "status.nominatedNodeName", NULL
};
static const char *const node_fields[] = { "spec.unschedulable", NULL };
static const char *const event_fields[] = {
    "involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
    "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
    "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type", NULL
};
static const char *const secret_fields[] = { "type", NULL };
static const char *const no_fields[] = { NULL };

#define PLACEMENT "placement.streams.io", "v1alpha1", "placement.streams.io/v1alpha1"
#define ADMISSION "admissionregistration.k8s.io", "v1", "admissionregistration.k8s.io/v1"

static const coll_def colls[] = {
    { "pods", "", "v1", "v1", "Pod", pod_fields, true, true, true, false },
    { "nodes", "", "v1", "v1", "Node", node_fields, false, true, false, false },
    { "events", "", "v1", "v1", "Event", event_fields, true, false, false, false },
    { "secrets", "", "v1", "v1", "Secret", secret_fields, true, false, false, false },
    { "configmaps", "", "v1", "v1", "ConfigMap", no_fields, true, false, false, false },
    { "hostpools", PLACEMENT, "HostPool", no_fields, true, true, true, true },
    { "peplacements", PLACEMENT, "PEPlacement", no_fields, true, true, true, true },
    { "leases", "coordination.k8s.io", "v1", "coordination.k8s.io/v1", "Lease", no_fields,
      true, false, false, false },
    { "validatingwebhookconfigurations", ADMISSION, "ValidatingWebhookConfiguration",
      no_fields, false, false, true, false },
    { "mutatingwebhookconfigurations", ADMISSION, "MutatingWebhookConfiguration",
      no_fields, false, false, true, false },
};
#define N_COLLS (sizeof(colls) / sizeof(colls[0]))

/* ------------------------------------------------------------------------ */
/* State                                                                      */
/* ------------------------------------------------------------------------ */

typedef struct entry {
    char *ns;      /* "" when cluster-scoped */
    char *name;
    cJSON *obj;
} entry;

typedef struct coll {
    entry *items;  /* sorted by namespace, then name */
    size_t n, cap;
} coll;

enum { EV_ADDED, EV_MODIFIED, EV_DELETED };
static const char *const ev_names[] = { "ADDED", "MODIFIED", "DELETED" };

/* One change: rv is the resourceVersion it made. */
typedef struct hevent {
    uint64_t rv;
    size_t ci;
    int type;
    cJSON *obj;    /* the state announced (for DELETED: the last one, new rv) */
    cJSON *prev;   /* the state before; NULL for ADDED */
} hevent;

typedef struct fault {
    char *method;  /* NULL: any */
    char *prefix;  /* NULL: any */
    int status;
    int retry_after;
    int left;
} fault;

typedef struct logged {
    char *method;
    char *path;
} logged;

struct kfake {
    struct MHD_Daemon *daemon;
    uint16_t port;
    char token[65];
    certs_pair ca, tls;        /* MHD reads the serving pair until it stops */
    bool locks_ready;
    pthread_mutex_t mu;        /* everything below */
    pthread_cond_t cv;         /* broadcast on every change, drop and stop */
    uint64_t rv;               /* the last resourceVersion handed out */
    uint64_t compacted;        /* history after this rv is complete */
    coll store[N_COLLS];
    hevent *hist;
    size_t n_hist, cap_hist;
    fault *faults;
    size_t n_faults, cap_faults;
    logged *log;
    size_t n_log, cap_log;
    int delay_ms;
    unsigned drop_gen;
    bool stopping;
};

/* ------------------------------------------------------------------------ */
/* Small helpers                                                              */
/* ------------------------------------------------------------------------ */

static void random_bytes(unsigned char *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = getrandom(buf + got, len - got, 0);
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        sp_rng r;
        sp_rng_seed(&r, (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)buf);
        for (; got < len; got++)
            buf[got] = (unsigned char)sp_rng_next(&r);
    }
}

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* A random version 4 UUID, as metadata.uid. */
static void make_uid(char out[37])
{
    unsigned char b[16];
    char hex[33];
    size_t o = 0;

    random_bytes(b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    hex_encode(b, sizeof(b), hex);
    for (size_t i = 0; i < 32; i++) {
        if (i == 8 || i == 12 || i == 16 || i == 20)
            out[o++] = '-';
        out[o++] = hex[i];
    }
    out[o] = '\0';
}

static void now_rfc3339(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;

    if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
        buf[0] = '\0';
}

static void rv_text(uint64_t rv, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%llu", (unsigned long long)rv);

    if (n < 0 || (size_t)n >= len)
        buf[0] = '\0';
}

/* A resourceVersion parameter: false when it is not a decimal number. */
static bool rv_parse(const char *s, uint64_t *rv)
{
    int64_t v;

    if (sp_parse_int64(s, 0, INT64_MAX, &v))
        return false;
    *rv = (uint64_t)v;
    return true;
}

static bool dns_subdomain(const char *s)
{
    size_t n = strlen(s);

    if (!n || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && !((c == '-' || c == '.') && i && i + 1 < n))
            return false;
    }
    return true;
}

static bool is_true(const char *s)
{
    return s && (strcmp(s, "1") == 0 || strcasecmp(s, "true") == 0);
}

static int ms_between(const struct timespec *from, const struct timespec *to)
{
    return (int)((to->tv_sec - from->tv_sec) * 1000 + (to->tv_nsec - from->tv_nsec) / 1000000);
}

static struct timespec ts_plus_ms(struct timespec t, long ms)
{
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* ------------------------------------------------------------------------ */
/* JSON helpers                                                               */
/* ------------------------------------------------------------------------ */

static const char *get_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static cJSON *get_obj(const cJSON *o, const char *key)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsObject(v) ? v : NULL;
}

static cJSON *get_meta(const cJSON *o)
{
    return get_obj(o, "metadata");
}

static const char *meta_str(const cJSON *o, const char *key)
{
    return get_str(get_meta(o), key);
}

static bool empty(const char *s)
{
    return !s || !*s;
}

/* Set key to item (consumed), replacing what was there. */
static sp_rc put_item(cJSON *o, const char *key, cJSON *item)
{
    if (!item)
        return SP_ENOMEM;
    cJSON_DeleteItemFromObjectCaseSensitive(o, key);
    if (!cJSON_AddItemToObject(o, key, item)) {
        cJSON_Delete(item);
        return SP_ENOMEM;
    }
    return SP_OK;
}

static sp_rc put_str(cJSON *o, const char *key, const char *value)
{
    return put_item(o, key, cJSON_CreateString(value));
}

static sp_rc put_rv(cJSON *obj, uint64_t rv)
{
    char text[24];

    rv_text(rv, text, sizeof(text));
    return put_str(get_meta(obj), "resourceVersion", text);
}

/* Append s as a JSON string literal. */
static sp_rc buf_json_str(sp_buf *b, const char *s)
{
    sp_rc rc = sp_buf_puts(b, "\"");

    for (const unsigned char *p = (const unsigned char *)s; !rc && *p; p++)
        rc = *p == '"' || *p == '\\' ? sp_buf_printf(b, "\\%c", *p)
             : *p < 0x20            ? sp_buf_printf(b, "\\u%04x", *p)
                                    : sp_buf_append(b, p, 1);
    return rc ? rc : sp_buf_puts(b, "\"");
}

/* The namespace and name an object is stored under ("" when unset). */
static void key_of(const cJSON *obj, const char **ns, const char **name)
{
    const char *n = meta_str(obj, "namespace"), *m = meta_str(obj, "name");

    *ns = n ? n : "";
    *name = m ? m : "";
}

static int key_cmp(const char *ns1, const char *n1, const char *ns2, const char *n2)
{
    int c = strcmp(ns1, ns2);

    return c ? c : strcmp(n1, n2);
}

/*
 * Rebuild *objp with kind, apiVersion and metadata first, then the rest in
 * their order (the real server's layout). On failure *objp holds what is
 * left, still the caller's to free.
 */
static sp_rc normalize(const coll_def *d, cJSON **objp)
{
    cJSON *in = *objp, *out = cJSON_CreateObject(), *meta, *child;

    cJSON_DeleteItemFromObjectCaseSensitive(in, "kind");
    cJSON_DeleteItemFromObjectCaseSensitive(in, "apiVersion");
    meta = cJSON_DetachItemFromObjectCaseSensitive(in, "metadata");
    if (!cJSON_IsObject(meta)) {
        cJSON_Delete(meta);
        meta = cJSON_CreateObject();
    }
    if (!out || !meta || !cJSON_AddStringToObject(out, "kind", d->kind) ||
        !cJSON_AddStringToObject(out, "apiVersion", d->api_version) ||
        !cJSON_AddItemToObject(out, "metadata", meta)) {
        cJSON_Delete(meta);
        cJSON_Delete(out);
        return SP_ENOMEM;
    }
    while ((child = in->child)) {
        cJSON_DetachItemViaPointer(in, child);
        if (!cJSON_AddItemToObject(out, child->string, child)) {
            cJSON_Delete(child);
            cJSON_Delete(out);
            return SP_ENOMEM;
        }
    }
    cJSON_Delete(in);
    *objp = out;
    return SP_OK;
}

/* True when a and b agree on everything but metadata and status. */
static bool spec_equal(const cJSON *a, const cJSON *b)
{
    static const char *const skip[] = { "metadata", "status", "kind", "apiVersion" };
    const cJSON *x;
    size_t na = 0, nb = 0;

    cJSON_ArrayForEach(x, a) {
        bool skipped = false;
        for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
            skipped = skipped || strcmp(x->string, skip[i]) == 0;
        if (skipped)
            continue;
        na++;
        if (!cJSON_Compare(x, cJSON_GetObjectItemCaseSensitive(b, x->string), true))
            return false;
    }
    cJSON_ArrayForEach(x, b) {
        bool skipped = false;
        for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
            skipped = skipped || strcmp(x->string, skip[i]) == 0;
        nb += !skipped;
    }
    return na == nb;
}

/* RFC 7386 merge of patch (an object) into target (an object), in place. */
static sp_rc merge_into(cJSON *target, const cJSON *patch)
{
    const cJSON *p;
    sp_rc rc = SP_OK;

    cJSON_ArrayForEach(p, patch) {
        cJSON *cur = cJSON_GetObjectItemCaseSensitive(target, p->string), *val;
        if (cJSON_IsNull(p)) {
            cJSON_DeleteItemFromObjectCaseSensitive(target, p->string);
            continue;
        }
        if (cJSON_IsObject(p) && cJSON_IsObject(cur)) {
            rc = merge_into(cur, p);
            if (rc)
                return rc;
            continue;
        }
        val = cJSON_IsObject(p) ? cJSON_CreateObject() : cJSON_Duplicate(p, true);
        if (val && cJSON_IsObject(p))
            rc = merge_into(val, p);
        if (rc || !val) {
            cJSON_Delete(val);
            return SP_ENOMEM;
        }
        rc = put_item(target, p->string, val);
        if (rc)
            return rc;
    }
    return SP_OK;
}

/* ------------------------------------------------------------------------ */
/* Status answers                                                             */
/* ------------------------------------------------------------------------ */

/* An answer: status, JSON body (owned, sp_free) and a Retry-After. */
typedef struct reply {
    int status;
    char *body;
    int retry_after;
} reply;

static const char *reason_for(int code)
{
    switch (code) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 409: return "Conflict";
    case 410: return "Expired";
    case 413: return "RequestEntityTooLarge";
    case 415: return "UnsupportedMediaType";
    case 422: return "Invalid";
    case 429: return "TooManyRequests";
    case 500: return "InternalError";
    case 503: return "ServiceUnavailable";
    case 504: return "Timeout";
    default: return "";
    }
}

/* "pods", or "hostpools.placement.streams.io": how messages name a resource. */
static void qualified(const coll_def *d, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s%s%s", d->resource, *d->group ? "." : "", d->group);

    if (n < 0 || (size_t)n >= len)
        buf[0] = '\0';
}

/* Take obj (consumed) as the body. */
static void reply_json(reply *r, int status, cJSON *obj)
{
    r->status = status;
    sp_free(r->body);
    r->body = obj ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    if (!r->body)
        r->status = 500;
}

static sp_rc status_details(sp_buf *b, const coll_def *d, const char *name, int retry_after)
{
    sp_rc rc = sp_buf_puts(b, ",\"details\":{");
    const char *sep = "";

    if (!rc && name) {
        rc = sp_buf_puts(b, "\"name\":");
        rc = rc ? rc : buf_json_str(b, name);
        sep = ",";
    }
    if (!rc && d && *d->group) {
        rc = sp_buf_printf(b, "%s\"group\":", sep);
        rc = rc ? rc : buf_json_str(b, d->group);
        sep = ",";
    }
    if (!rc && d) {
        rc = sp_buf_printf(b, "%s\"kind\":", sep);
        rc = rc ? rc : buf_json_str(b, d->resource);
        sep = ",";
    }
    if (!rc && retry_after > 0)
        rc = sp_buf_printf(b, "%s\"retryAfterSeconds\":%d", sep, retry_after);
    return rc ? rc : sp_buf_puts(b, "}");
}

/*
 * A failure Status like the real server's: reason (NULL: the one for code),
 * details naming the object when d is given, retryAfterSeconds from
 * r->retry_after.
 */
static void reply_status(reply *r, int code, const char *reason, const coll_def *d,
                         const char *name, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void reply_status(reply *r, int code, const char *reason, const coll_def *d,
                         const char *name, const char *fmt, ...)
{
    char msg[MSG_MAX];
    va_list ap;
    sp_buf b;
    sp_rc rc;

    va_start(ap, fmt);
    if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
        msg[0] = '\0';
    va_end(ap);
    if (!reason)
        reason = reason_for(code);
    sp_buf_init(&b, 64 * 1024);
    rc = sp_buf_puts(&b, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                         "\"status\":\"Failure\",\"message\":");
    rc = rc ? rc : buf_json_str(&b, msg);
    if (!rc && *reason)
        rc = sp_buf_printf(&b, ",\"reason\":\"%s\"", reason);
    if (!rc && (d || name || r->retry_after > 0))
        rc = status_details(&b, d, name, r->retry_after);
    rc = rc ? rc : sp_buf_printf(&b, ",\"code\":%d}", code);
    r->status = code;
    sp_free(r->body);
    r->body = rc ? NULL : sp_buf_take(&b);
    sp_buf_free(&b);
}

static void reply_not_found(reply *r, const coll_def *d, const char *name)
{
    char q[128];

    qualified(d, q, sizeof(q));
    reply_status(r, 404, NULL, d, name, "%s \"%s\" not found", q, name);
}

static void reply_conflict(reply *r, const coll_def *d, const char *name)
{
    char q[128];

    qualified(d, q, sizeof(q));
    reply_status(r, 409, NULL, d, name,
                 "Operation cannot be fulfilled on %s \"%s\": the object has been modified; "
                 "please apply your changes to the latest version and try again", q, name);
}

static void reply_oom(reply *r)
{
    reply_status(r, 500, NULL, NULL, NULL, "Internal error occurred: out of memory");
}

/* ------------------------------------------------------------------------ */
/* Label and field selectors                                                  */
/* ------------------------------------------------------------------------ */

enum { OP_EQ, OP_NEQ, OP_EXISTS, OP_NOTEXISTS, OP_IN, OP_NOTIN };

typedef struct requirement {
    char *key;
    int op;
    char **values;
    size_t n_values;
} requirement;

typedef struct selector {
    requirement *reqs;
    size_t n, cap;
    bool field;    /* a field selector: keys are paths, only = == != */
} selector;

typedef struct lexer {
    const char *p;
    char *msg;
    size_t msg_len;
} lexer;

static void selector_free(selector *s)
{
    for (size_t i = 0; i < s->n; i++) {
        sp_free(s->reqs[i].key);
        sp_strv_free(s->reqs[i].values, s->reqs[i].n_values);
    }
    sp_free(s->reqs);
    s->reqs = NULL;
    s->n = s->cap = 0;
}

static sp_rc lex_fail(lexer *lx, const char *fmt, const char *what)
{
    if (snprintf(lx->msg, lx->msg_len, fmt, what) < 0)
        lx->msg[0] = '\0';
    return SP_EPARSE;
}

static void skip_ws(lexer *lx)
{
    while (*lx->p == ' ' || *lx->p == '\t')
        lx->p++;
}

static bool special(char c)
{
    return strchr(",=!() \t", c) != NULL; /* the NUL is special too */
}

/* The run of ordinary characters at the cursor (may be empty). */
static char *read_word(lexer *lx)
{
    const char *start = lx->p;

    while (!special(*lx->p))
        lx->p++;
    return sp_strndup(start, (size_t)(lx->p - start));
}

/* A label name or value part: alphanumeric ends, [-_.] inside, <= 63. */
static bool label_part(const char *s, size_t n)
{
    if (n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && !((c == '-' || c == '_' || c == '.') && i && i + 1 < n))
            return false;
    }
    return true;
}

static bool label_key(const char *k)
{
    const char *slash = strchr(k, '/');
    char prefix[254];

    if (!slash)
        return *k && label_part(k, strlen(k));
    if ((size_t)(slash - k) >= sizeof(prefix))
        return false;
    memcpy(prefix, k, (size_t)(slash - k));
    prefix[slash - k] = '\0';
    return dns_subdomain(prefix) && slash[1] && label_part(slash + 1, strlen(slash + 1));
}

static sp_rc add_value(requirement *rq, char *v)
{
    char **grown;

    if (!v)
        return SP_ENOMEM;
    grown = sp_realloc(rq->values, (rq->n_values + 1) * sizeof(*grown));
    if (!grown) {
        sp_free(v);
        return SP_ENOMEM;
    }
    rq->values = grown;
    rq->values[rq->n_values++] = v;
    return SP_OK;
}

/* "(a, b, c)" after in / notin. */
static sp_rc parse_set(lexer *lx, requirement *rq)
{
    sp_rc rc;

    skip_ws(lx);
    if (*lx->p != '(')
        return lex_fail(lx, "unable to parse requirement: found '%s', expected: '('", lx->p);
    lx->p++;
    for (;;) {
        skip_ws(lx);
        rc = add_value(rq, read_word(lx));
        if (rc)
            return rc;
        skip_ws(lx);
        if (*lx->p == ')')
            break;
        if (*lx->p != ',')
            return lex_fail(lx, "unable to parse requirement: found '%s', expected: ',' or ')'",
                            lx->p);
        lx->p++;
    }
    lx->p++;
    return SP_OK;
}

/* The operator after a key: = == != in notin, or none (exists); -1 when
 * there is none of these. The cursor moves past it. */
static int parse_op(lexer *lx)
{
    static const struct {
        const char *text;
        int op;
        bool word;   /* needs a space or '(' after it */
    } ops[] = {
        { "==", OP_EQ, false }, { "=", OP_EQ, false }, { "!=", OP_NEQ, false },
        { "in", OP_IN, true }, { "notin", OP_NOTIN, true },
    };
    const char *p = lx->p;

    if (!*p || *p == ',')
        return OP_EXISTS;
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        size_t n = strlen(ops[i].text);
        if (strncmp(p, ops[i].text, n) != 0 || (ops[i].word && p[n] != ' ' && p[n] != '('))
            continue;
        lx->p += n;
        return ops[i].op;
    }
    return -1;
}

static sp_rc check_requirement(lexer *lx, const requirement *rq, bool field)
{
    if (!*rq->key)
        return lex_fail(lx, "unable to parse requirement: %s", "empty key");
    if (field)
        return rq->op == OP_EQ || rq->op == OP_NEQ
                   ? SP_OK
                   : lex_fail(lx, "invalid selector: '%s'; can't understand it as a field "
                                  "selector (key=value)", rq->key);
    if (!label_key(rq->key))
        return lex_fail(lx, "unable to parse requirement: invalid label key \"%s\"", rq->key);
    for (size_t i = 0; i < rq->n_values; i++)
        if (!label_part(rq->values[i], strlen(rq->values[i])))
            return lex_fail(lx, "unable to parse requirement: invalid label value: \"%s\"",
                            rq->values[i]);
    return SP_OK;
}

static sp_rc parse_requirement(lexer *lx, bool field, requirement *rq)
{
    sp_rc rc;

    skip_ws(lx);
    if (*lx->p == '!') {
        lx->p++;
        skip_ws(lx);
        rq->op = OP_NOTEXISTS;
        if (!(rq->key = read_word(lx)))
            return SP_ENOMEM;
        return check_requirement(lx, rq, field);
    }
    if (!(rq->key = read_word(lx)))
        return SP_ENOMEM;
    skip_ws(lx);
    rq->op = parse_op(lx);
    if (rq->op < 0)
        return lex_fail(lx, "unable to parse requirement: found '%s', expected an operator",
                        lx->p);
    if (rq->op == OP_EQ || rq->op == OP_NEQ) {
        skip_ws(lx);
        rc = add_value(rq, read_word(lx));
    } else {
        rc = rq->op == OP_IN || rq->op == OP_NOTIN ? parse_set(lx, rq) : SP_OK;
    }
    return rc ? rc : check_requirement(lx, rq, field);
}

/*
 * Parse a labelSelector (field false) or fieldSelector (field true) into
 * sel. SP_EPARSE with msg filled when it is malformed.
 */
static sp_rc selector_parse(const char *s, bool field, selector *sel, char *msg, size_t len)
{
    lexer lx = { s ? s : "", msg, len };
    sp_rc rc;

    sel->field = field;
    skip_ws(&lx);
    if (!*lx.p)
        return SP_OK;
    for (;;) {
        if (sp_grow(&sel->reqs, &sel->cap, sel->n + 1, sizeof(*sel->reqs)))
            return SP_ENOMEM;
        memset(&sel->reqs[sel->n], 0, sizeof(*sel->reqs));
        rc = parse_requirement(&lx, field, &sel->reqs[sel->n++]);
        if (rc)
            return rc;
        skip_ws(&lx);
        if (!*lx.p)
            return SP_OK;
        if (*lx.p != ',')
            return lex_fail(&lx, "unable to parse requirement: found '%s', expected: ',' or "
                                 "'end of string'", lx.p);
        lx.p++;
    }
}

/* The field a field selector names, as text ("" when absent). */
static const char *field_value(const cJSON *obj, const char *path, char *buf, size_t len)
{
    const cJSON *at = obj;
    const char *p = path;

    while (at && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        const cJSON *child = NULL;
        cJSON_ArrayForEach(child, at) {
            if (child->string && strlen(child->string) == n && strncmp(child->string, p, n) == 0)
                break;
        }
        at = child;
        p += n + (dot ? 1 : 0);
    }
    if (cJSON_IsString(at))
        return at->valuestring;
    if (cJSON_IsBool(at))
        return cJSON_IsTrue(at) ? "true" : "false";
    if (cJSON_IsNumber(at) && snprintf(buf, len, "%g", at->valuedouble) > 0)
        return buf;
    return "";
}

static bool in_values(const requirement *rq, const char *v)
{
    for (size_t i = 0; i < rq->n_values; i++)
        if (strcmp(rq->values[i], v) == 0)
            return true;
    return false;
}

static bool requirement_match(const requirement *rq, bool field, const cJSON *obj)
{
    char num[64];
    const char *v;

    if (field)
        v = field_value(obj, rq->key, num, sizeof(num));
    else
        v = get_str(get_obj(get_meta(obj), "labels"), rq->key);
    switch (rq->op) {
    case OP_EQ: return v && strcmp(v, rq->values[0]) == 0;
    case OP_NEQ: return !v || strcmp(v, rq->values[0]) != 0;
    case OP_EXISTS: return v != NULL;
    case OP_NOTEXISTS: return v == NULL;
    case OP_IN: return v && in_values(rq, v);
    default: return !v || !in_values(rq, v);
    }
}

static bool selector_match(const selector *sel, const cJSON *obj)
{
    for (size_t i = 0; i < sel->n; i++)
        if (!requirement_match(&sel->reqs[i], sel->field, obj))
            return false;
    return true;
}

/* Whether the collection supports every field the selector names. */
static bool fields_known(const coll_def *d, const selector *sel, char *msg, size_t len)
{
    for (size_t i = 0; i < sel->n; i++) {
        const char *k = sel->reqs[i].key;
        bool ok = strcmp(k, "metadata.name") == 0 || strcmp(k, "metadata.namespace") == 0;
        for (const char *const *f = d->fields; !ok && *f; f++)
            ok = strcmp(k, *f) == 0;
        if (!ok) {
            if (snprintf(msg, len, "field label not supported: %s", k) < 0)
                msg[0] = '\0';
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* The store                                                                  */
/* ------------------------------------------------------------------------ */

/* Where ns/name is in c, or where it would go; *found says which. */
static size_t coll_find(const coll *c, const char *ns, const char *name, bool *found)
{
    size_t lo = 0, hi = c->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = key_cmp(ns, name, c->items[mid].ns, c->items[mid].name);
        if (cmp == 0) {
            *found = true;
            return mid;
        }
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    *found = false;
    return lo;
}

static sp_rc coll_insert(coll *c, size_t at, cJSON *obj)
{
    const char *ns, *name;
    char *ns_copy, *name_copy;

    key_of(obj, &ns, &name);
    if (sp_grow(&c->items, &c->cap, c->n + 1, sizeof(*c->items)))
        return SP_ENOMEM;
    ns_copy = sp_strdup(ns);
    name_copy = sp_strdup(name);
    if (!ns_copy || !name_copy) {
        sp_free(ns_copy);
        sp_free(name_copy);
        return SP_ENOMEM;
    }
    memmove(&c->items[at + 1], &c->items[at], (c->n - at) * sizeof(*c->items));
    c->items[at] = (entry){ ns_copy, name_copy, obj };
    c->n++;
    return SP_OK;
}

/* Take the object at at out of c (the caller owns it). */
static cJSON *coll_take(coll *c, size_t at)
{
    cJSON *obj = c->items[at].obj;

    sp_free(c->items[at].ns);
    sp_free(c->items[at].name);
    memmove(&c->items[at], &c->items[at + 1], (c->n - at - 1) * sizeof(*c->items));
    c->n--;
    return obj;
}

/* Forget the n oldest changes: watches and lists from before them get 410. */
static void hist_trim(kfake *f, size_t n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n; i++) {
        cJSON_Delete(f->hist[i].obj);
        cJSON_Delete(f->hist[i].prev);
    }
    f->compacted = f->hist[n - 1].rv;
    memmove(f->hist, f->hist + n, (f->n_hist - n) * sizeof(*f->hist));
    f->n_hist -= n;
}

static sp_rc hist_reserve(kfake *f)
{
    if (f->n_hist >= HIST_MAX)
        hist_trim(f, HIST_MAX / 4);
    return sp_grow(&f->hist, &f->cap_hist, f->n_hist + 1, sizeof(*f->hist)) ? SP_ENOMEM
                                                                            : SP_OK;
}

/* Record a change made at f->rv (room reserved) and wake the watchers. */
static void record(kfake *f, size_t ci, int type, cJSON *obj, cJSON *prev)
{
    f->hist[f->n_hist++] = (hevent){ f->rv, ci, type, obj, prev };
    pthread_cond_broadcast(&f->cv);
}

/* Store obj (consumed on success) as a new object at index at. */
static sp_rc store_add(kfake *f, size_t ci, size_t at, cJSON *obj)
{
    cJSON *copy;
    sp_rc rc = hist_reserve(f);

    rc = rc ? rc : put_rv(obj, f->rv + 1);
    if (rc)
        return rc;
    if (!(copy = cJSON_Duplicate(obj, true)))
        return SP_ENOMEM;
    rc = coll_insert(&f->store[ci], at, obj);
    if (rc) {
        cJSON_Delete(copy);
        return rc;
    }
    f->rv++;
    record(f, ci, EV_ADDED, copy, NULL);
    return SP_OK;
}

/* Replace the object at index at with obj (consumed on success). */
static sp_rc store_replace(kfake *f, size_t ci, size_t at, cJSON *obj)
{
    entry *e = &f->store[ci].items[at];
    cJSON *copy;
    sp_rc rc = hist_reserve(f);

    rc = rc ? rc : put_rv(obj, f->rv + 1);
    if (rc)
        return rc;
    if (!(copy = cJSON_Duplicate(obj, true)))
        return SP_ENOMEM;
    f->rv++;
    record(f, ci, EV_MODIFIED, copy, e->obj);
    e->obj = obj;
    return SP_OK;
}

/* Remove the object at index at; *gone is its last state (caller frees). */
static sp_rc store_remove(kfake *f, size_t ci, size_t at, cJSON **gone)
{
    cJSON *last = NULL, *copy = NULL, *old;
    sp_rc rc = hist_reserve(f);

    *gone = NULL;
    if (!rc && !(last = cJSON_Duplicate(f->store[ci].items[at].obj, true)))
        rc = SP_ENOMEM;
    rc = rc ? rc : put_rv(last, f->rv + 1);
    if (!rc && !(copy = cJSON_Duplicate(last, true)))
        rc = SP_ENOMEM;
    if (rc) {
        cJSON_Delete(last);
        return rc;
    }
    f->rv++;
    old = coll_take(&f->store[ci], at);
    record(f, ci, EV_DELETED, last, old);
    *gone = copy;
    return SP_OK;
}

/* ------------------------------------------------------------------------ */
/* Object rules: what the server owns, status, generation, finalizers         */
/* ------------------------------------------------------------------------ */

static const char *const server_meta[] = {
    "uid", "creationTimestamp", "generation", "deletionTimestamp",
    "deletionGracePeriodSeconds", "selfLink",
};
#define N_SERVER_META (sizeof(server_meta) / sizeof(server_meta[0]))

/* The metadata of a new object: fresh uid and timestamp, generation 1.
 * keep: leave a uid or creationTimestamp the object already has. */
static sp_rc fill_create_meta(const coll_def *d, cJSON *obj, bool keep)
{
    cJSON *meta = get_meta(obj);
    char uid[37], ts[32];
    sp_rc rc = SP_OK;

    for (size_t i = 0; i < N_SERVER_META; i++)
        if (!keep || i >= 2)
            cJSON_DeleteItemFromObjectCaseSensitive(meta, server_meta[i]);
    make_uid(uid);
    now_rfc3339(ts, sizeof(ts));
    if (empty(get_str(meta, "uid")))
        rc = put_str(meta, "uid", uid);
    if (!rc && empty(get_str(meta, "creationTimestamp")))
        rc = put_str(meta, "creationTimestamp", ts);
    if (!rc && d->generation)
        rc = put_item(meta, "generation", cJSON_CreateNumber(1));
    return rc;
}

/* What create does to status: a pod starts Pending, a CRD without one. */
static sp_rc create_status(const coll_def *d, cJSON *obj)
{
    cJSON *status;

    if (strcmp(d->resource, "pods") == 0) {
        status = cJSON_CreateObject();
        if (!status || !cJSON_AddStringToObject(status, "phase", "Pending")) {
            cJSON_Delete(status);
            return SP_ENOMEM;
        }
        return put_item(obj, "status", status);
    }
    if (d->custom && d->status_sub)
        cJSON_DeleteItemFromObjectCaseSensitive(obj, "status");
    return SP_OK;
}

/* Copy key of old (or its absence) into o. */
static sp_rc carry(cJSON *o, const cJSON *old, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(old, key);

    if (!v) {
        cJSON_DeleteItemFromObjectCaseSensitive(o, key);
        return SP_OK;
    }
    return put_item(o, key, cJSON_Duplicate(v, true));
}

/* The server-owned metadata of nw comes from old; generation counts a spec
 * change. */
static sp_rc keep_server_meta(const coll_def *d, cJSON *nw, const cJSON *old)
{
    cJSON *meta = get_meta(nw);
    const cJSON *old_meta = get_meta(old);
    sp_rc rc = SP_OK;
    double gen;

    for (size_t i = 0; i < N_SERVER_META && !rc; i++)
        rc = carry(meta, old_meta, server_meta[i]);
    rc = rc ? rc : carry(meta, old_meta, "name");
    rc = rc ? rc : carry(meta, old_meta, "namespace");
    if (rc || !d->generation || spec_equal(nw, old))
        return rc;
    gen = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(old_meta, "generation"));
    return put_item(meta, "generation", cJSON_CreateNumber(gen == gen ? gen + 1 : 1));
}

static bool has_finalizers(const cJSON *obj)
{
    return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(get_meta(obj), "finalizers")) > 0;
}

static bool being_deleted(const cJSON *obj)
{
    return !empty(meta_str(obj, "deletionTimestamp"));
}

/* ------------------------------------------------------------------------ */
/* Requests: routing and bodies                                               */
/* ------------------------------------------------------------------------ */

/* One API call, routed. */
typedef struct call {
    kfake *f;
    struct MHD_Connection *c;
    const char *method;
    size_t ci;
    const coll_def *d;
    const char *ns;     /* NULL: none in the path */
    const char *name;   /* NULL: the collection */
    const char *sub;    /* NULL, "status" or "binding" */
    const char *body;
    size_t len;
} call;

static const char *query(const call *k, const char *key)
{
    return MHD_lookup_connection_value(k->c, MHD_GET_ARGUMENT_KIND, key);
}

static const char *header(const call *k, const char *key)
{
    return MHD_lookup_connection_value(k->c, MHD_HEADER_KIND, key);
}

/* Whether content type ct is want (parameters after ';' allowed). */
static bool media_is(const char *ct, const char *want)
{
    size_t n = strlen(want);

    if (!ct)
        return false;
    while (*ct == ' ')
        ct++;
    return strncasecmp(ct, want, n) == 0 && (!ct[n] || ct[n] == ';' || ct[n] == ' ');
}

/* Split path at '/' into segments (in place). -1: too many, or one empty
 * (a trailing or doubled slash). */
static int split_path(char *path, char **segs, int max)
{
    int n = 0;
    char *p = path;

    if (*p != '/')
        return -1;
    while (*p == '/') {
        *p++ = '\0';
        if (!*p || *p == '/' || n == max)
            return -1;
        segs[n++] = p;
        while (*p && *p != '/')
            p++;
    }
    return n;
}

static int find_coll(const char *group, const char *version, const char *resource)
{
    for (size_t i = 0; i < N_COLLS; i++)
        if (strcmp(colls[i].group, group) == 0 && strcmp(colls[i].version, version) == 0 &&
            strcmp(colls[i].resource, resource) == 0)
            return (int)i;
    return -1;
}

/* Fill k's collection, namespace, name and subresource from path (modified
 * in place). False when no resource lives there. */
static bool route(char *path, call *k)
{
    char *s[MAX_SEGS];
    int n = split_path(path, s, MAX_SEGS), at, rest, ci;
    const char *group, *version;

    if (n < 3)
        return false;
    if (strcmp(s[0], "api") == 0) {
        group = "";
        version = s[1];
        at = 2;
    } else if (strcmp(s[0], "apis") == 0 && n >= 4) {
        group = s[1];
        version = s[2];
        at = 3;
    } else {
        return false;
    }
    if (n - at >= 3 && strcmp(s[at], "namespaces") == 0) {
        k->ns = s[at + 1];
        at += 2;
    }
    rest = n - at;
    if (rest < 1 || rest > 3 || (ci = find_coll(group, version, s[at])) < 0)
        return false;
    k->ci = (size_t)ci;
    k->d = &colls[ci];
    k->name = rest > 1 ? s[at + 1] : NULL;
    k->sub = rest > 2 ? s[at + 2] : NULL;
    if ((k->ns && !k->d->namespaced) || (!k->ns && k->d->namespaced && k->name))
        return false;
    if (k->sub && !(strcmp(k->sub, "status") == 0 && k->d->status_sub) &&
        !(strcmp(k->sub, "binding") == 0 && strcmp(k->d->resource, "pods") == 0))
        return false;
    return true;
}

/* The request body as a JSON object, or NULL with r filled. */
static cJSON *json_body(const call *k, reply *r, bool check_type)
{
    cJSON *obj;

    if (check_type && !media_is(header(k, MHD_HTTP_HEADER_CONTENT_TYPE), "application/json")) {
        reply_status(r, 415, NULL, NULL, NULL,
                     "the body of the request was in an unknown format - accepted media "
                     "types include: application/json, application/yaml, "
                     "application/vnd.kubernetes.protobuf");
        return NULL;
    }
    obj = cJSON_ParseWithLength(k->body, k->len);
    if (!cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        reply_status(r, 400, NULL, NULL, NULL,
                     "couldn't get version/kind; json parse error: the body is not a JSON "
                     "object");
        return NULL;
    }
    return obj;
}

/* False (r filled) when the body names another kind or apiVersion. */
static bool type_matches(const call *k, const cJSON *obj, reply *r)
{
    const char *kind = get_str(obj, "kind"), *av = get_str(obj, "apiVersion");

    if (!empty(av) && strcmp(av, k->d->api_version) != 0) {
        reply_status(r, 400, NULL, NULL, NULL,
                     "the API version in the data (%s) does not match the expected API "
                     "version (%s)", av, k->d->api_version);
        return false;
    }
    if (!empty(kind) && strcmp(kind, k->d->kind) != 0) {
        reply_status(r, 400, NULL, NULL, NULL,
                     "the kind in the data (%s) does not match the expected kind (%s)", kind,
                     k->d->kind);
        return false;
    }
    if (cJSON_HasObjectItem(obj, "metadata") && !get_meta(obj)) {
        reply_status(r, 400, NULL, NULL, NULL, "metadata must be an object");
        return false;
    }
    return true;
}

/* False (r filled) when metadata.namespace disagrees with the path. */
static bool namespace_matches(const call *k, const cJSON *obj, reply *r)
{
    const char *ns = meta_str(obj, "namespace");

    if (!k->d->namespaced || empty(ns) || strcmp(ns, k->ns) == 0)
        return true;
    reply_status(r, 400, NULL, NULL, NULL,
                 "the namespace of the provided object does not match the namespace sent on "
                 "the request");
    return false;
}

/* ------------------------------------------------------------------------ */
/* Verbs on one object                                                        */
/* ------------------------------------------------------------------------ */

static const char *path_ns(const call *k)
{
    return k->ns ? k->ns : "";
}

static void reply_copy(reply *r, int status, const cJSON *obj)
{
    cJSON *copy = cJSON_Duplicate(obj, true);

    if (copy)
        reply_json(r, status, copy);
    else
        reply_oom(r);
}

static void do_get(call *k, reply *r)
{
    kfake *f = k->f;
    bool found;
    size_t at;

    pthread_mutex_lock(&f->mu);
    at = coll_find(&f->store[k->ci], path_ns(k), k->name, &found);
    if (found)
        reply_copy(r, 200, f->store[k->ci].items[at].obj);
    else
        reply_not_found(r, k->d, k->name);
    pthread_mutex_unlock(&f->mu);
}

/* A name for generateName: prefix plus five random characters. */
static sp_rc generate_name(cJSON *meta, const char *prefix)
{
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    unsigned char rnd[5];
    char name[260];
    int n;

    random_bytes(rnd, sizeof(rnd));
    n = snprintf(name, sizeof(name), "%.250s%c%c%c%c%c", prefix, alphabet[rnd[0] % 27],
                 alphabet[rnd[1] % 27], alphabet[rnd[2] % 27], alphabet[rnd[3] % 27],
                 alphabet[rnd[4] % 27]);
    if (n < 0 || (size_t)n >= sizeof(name))
        return SP_ELIMIT;
    return put_str(meta, "name", name);
}

/* Validate and complete a new object's metadata (r filled on refusal). */
static bool prepare_create(const call *k, cJSON *obj, reply *r)
{
    cJSON *meta = get_meta(obj);
    const char *name = get_str(meta, "name"), *gen = get_str(meta, "generateName");
    char q[128];
    sp_rc rc = SP_OK;

    qualified(k->d, q, sizeof(q));
    if (!empty(get_str(meta, "resourceVersion"))) {
        reply_status(r, 500, NULL, NULL, NULL,
                     "resourceVersion should not be set on objects to be created");
        return false;
    }
    if (empty(name) && !empty(gen))
        rc = generate_name(meta, gen);
    name = get_str(meta, "name");
    if (!rc && empty(name)) {
        reply_status(r, 422, NULL, k->d, "", "%s \"\" is invalid: metadata.name: Required "
                     "value: name or generateName is required", q);
        return false;
    }
    if (!rc && !dns_subdomain(name)) {
        reply_status(r, 422, NULL, k->d, name, "%s \"%s\" is invalid: metadata.name: Invalid "
                     "value: \"%s\": a lowercase RFC 1123 subdomain must consist of lower case "
                     "alphanumeric characters, '-' or '.'", q, name, name);
        return false;
    }
    if (!rc && k->d->namespaced)
        rc = put_str(meta, "namespace", k->ns);
    else if (!rc)
        cJSON_DeleteItemFromObjectCaseSensitive(meta, "namespace");
    rc = rc ? rc : fill_create_meta(k->d, obj, false);
    rc = rc ? rc : create_status(k->d, obj);
    if (rc)
        reply_oom(r);
    return !rc;
}

static void insert_new(call *k, reply *r, cJSON *obj)
{
    kfake *f = k->f;
    const char *ns, *name;
    bool found;
    size_t at;
    char q[128];

    key_of(obj, &ns, &name);
    pthread_mutex_lock(&f->mu);
    at = coll_find(&f->store[k->ci], ns, name, &found);
    if (found) {
        qualified(k->d, q, sizeof(q));
        reply_status(r, 409, "AlreadyExists", k->d, name, "%s \"%s\" already exists", q, name);
    } else if (store_add(f, k->ci, at, obj)) {
        reply_oom(r);
    } else {
        reply_copy(r, 201, obj);
        obj = NULL;
    }
    pthread_mutex_unlock(&f->mu);
    cJSON_Delete(obj);
}

static void do_create(call *k, reply *r)
{
    cJSON *obj = json_body(k, r, true);

    if (!obj)
        return;
    if (!type_matches(k, obj, r) || !namespace_matches(k, obj, r) ||
        !prepare_create(k, obj, r)) {
        cJSON_Delete(obj);
        return;
    }
    if (normalize(k->d, &obj)) {
        cJSON_Delete(obj);
        reply_oom(r);
        return;
    }
    insert_new(k, r, obj);
}

/* The object as the update makes it, from old and what the client sent
 * (consumed): only status through /status, everything else otherwise. */
static cJSON *updated(const call *k, const cJSON *old, cJSON *sent, bool status_only)
{
    cJSON *nw = sent;
    sp_rc rc;

    if (status_only) {
        nw = cJSON_Duplicate(old, true);
        rc = nw ? carry(nw, sent, "status") : SP_ENOMEM;
        cJSON_Delete(sent);
    } else {
        rc = normalize(k->d, &nw);
        rc = rc ? rc : keep_server_meta(k->d, nw, old);
        if (!rc && k->d->status_sub)
            rc = carry(nw, old, "status");
    }
    rc = rc ? rc : carry(get_meta(nw), get_meta(old), "resourceVersion");
    if (rc) {
        cJSON_Delete(nw);
        return NULL;
    }
    return nw;
}

/* What a delete that removed obj (consumed) answers: pods return the
 * object (their registry sets ReturnDeletedObject); the others here a
 * Status of Success naming it. */
static void reply_deleted(const call *k, reply *r, cJSON *obj)
{
    const char *uid = meta_str(obj, "uid");
    sp_buf b;
    sp_rc rc;

    if (strcmp(k->d->resource, "pods") == 0) {
        reply_json(r, 200, obj);
        return;
    }
    sp_buf_init(&b, 64 * 1024);
    rc = sp_buf_puts(&b, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                         "\"status\":\"Success\",\"details\":{\"name\":");
    rc = rc ? rc : buf_json_str(&b, k->name);
    if (!rc && *k->d->group) {
        rc = sp_buf_puts(&b, ",\"group\":");
        rc = rc ? rc : buf_json_str(&b, k->d->group);
    }
    rc = rc ? rc : sp_buf_printf(&b, ",\"kind\":\"%s\",\"uid\":", k->d->resource);
    rc = rc ? rc : buf_json_str(&b, uid ? uid : "");
    rc = rc ? rc : sp_buf_puts(&b, "}}");
    cJSON_Delete(obj);
    sp_free(r->body);
    r->status = rc ? 500 : 200;
    r->body = rc ? NULL : sp_buf_take(&b);
    sp_buf_free(&b);
}

/* Write sent (consumed) over the object at index at: a no-op writes
 * nothing; an object being deleted whose last finalizer went is removed. */
static void write_update(call *k, reply *r, size_t at, cJSON *sent, bool status_only)
{
    kfake *f = k->f;
    const cJSON *old = f->store[k->ci].items[at].obj;
    cJSON *nw = updated(k, old, sent, status_only), *gone;

    if (!nw) {
        reply_oom(r);
    } else if (cJSON_Compare(nw, old, true)) {
        reply_copy(r, 200, old);
    } else if (being_deleted(nw) && !has_finalizers(nw)) {
        if (store_remove(f, k->ci, at, &gone))
            reply_oom(r);
        else
            reply_deleted(k, r, gone);
    } else if (store_replace(f, k->ci, at, nw)) {
        reply_oom(r);
    } else {
        reply_copy(r, 200, nw);
        nw = NULL;
    }
    cJSON_Delete(nw);
}

/* False (r filled) when the preconditions in meta (resourceVersion, uid)
 * do not hold for the stored object. */
static bool preconditions_hold(const call *k, const cJSON *meta, const cJSON *stored, reply *r)
{
    const char *rv = get_str(meta, "resourceVersion"), *uid = get_str(meta, "uid");
    const char *have_uid = meta_str(stored, "uid");

    if (!empty(uid) && (!have_uid || strcmp(uid, have_uid) != 0)) {
        reply_status(r, 409, NULL, k->d, k->name, "Precondition failed: UID in precondition: "
                     "%s, UID in object meta: %s", uid, have_uid ? have_uid : "");
        return false;
    }
    if (!empty(rv) && strcmp(rv, meta_str(stored, "resourceVersion")) != 0) {
        reply_conflict(r, k->d, k->name);
        return false;
    }
    return true;
}

static void do_update(call *k, reply *r, bool status_only)
{
    kfake *f = k->f;
    cJSON *obj = json_body(k, r, true);
    const char *name;
    char q[128];
    bool found;
    size_t at;

    if (!obj || !type_matches(k, obj, r) || !namespace_matches(k, obj, r))
        goto out;
    name = meta_str(obj, "name");
    if (!name || strcmp(name, k->name) != 0) {
        reply_status(r, 400, NULL, NULL, NULL, "the name of the object (%s) does not match "
                     "the name on the URL (%s)", name ? name : "", k->name);
        goto out;
    }
    qualified(k->d, q, sizeof(q));
    pthread_mutex_lock(&f->mu);
    at = coll_find(&f->store[k->ci], path_ns(k), k->name, &found);
    if (!found)
        reply_not_found(r, k->d, k->name);
    else if (k->d->custom && empty(meta_str(obj, "resourceVersion")))
        reply_status(r, 422, NULL, k->d, k->name, "%s \"%s\" is invalid: "
                     "metadata.resourceVersion: Invalid value: 0x0: must be specified for an "
                     "update", q, k->name);
    else if (preconditions_hold(k, get_meta(obj), f->store[k->ci].items[at].obj, r)) {
        write_update(k, r, at, obj, status_only);
        obj = NULL;
    }
    pthread_mutex_unlock(&f->mu);
out:
    cJSON_Delete(obj);
}

/* The patch body, when its content type is one this resource takes. */
static cJSON *patch_body(const call *k, reply *r)
{
    const char *ct = header(k, MHD_HTTP_HEADER_CONTENT_TYPE);
    bool merge = media_is(ct, "application/merge-patch+json");
    bool strategic = media_is(ct, "application/strategic-merge-patch+json");

    if (!merge && !(strategic && !k->d->custom)) {
        reply_status(r, 415, NULL, NULL, NULL, "the body of the request was in an unknown "
                     "format - accepted media types include: %s",
                     k->d->custom ? "application/merge-patch+json"
                                  : "application/merge-patch+json, "
                                    "application/strategic-merge-patch+json");
        return NULL;
    }
    return json_body(k, r, false);
}

static void do_patch(call *k, reply *r, bool status_only)
{
    kfake *f = k->f;
    cJSON *patch = patch_body(k, r), *merged = NULL;
    const char *name;
    bool found;
    size_t at;

    if (!patch)
        return;
    pthread_mutex_lock(&f->mu);
    at = coll_find(&f->store[k->ci], path_ns(k), k->name, &found);
    if (!found) {
        reply_not_found(r, k->d, k->name);
        goto out;
    }
    if (!preconditions_hold(k, get_meta(patch), f->store[k->ci].items[at].obj, r))
        goto out;
    merged = cJSON_Duplicate(f->store[k->ci].items[at].obj, true);
    if (!merged || merge_into(merged, patch)) {
        reply_oom(r);
        goto out;
    }
    name = meta_str(merged, "name");
    if (!name || strcmp(name, k->name) != 0 || !type_matches(k, merged, r) ||
        !namespace_matches(k, merged, r)) {
        if (!r->body)
            reply_status(r, 400, NULL, NULL, NULL, "the name of the object (%s) does not "
                         "match the name on the URL (%s)", name ? name : "", k->name);
        goto out;
    }
    write_update(k, r, at, merged, status_only);
    merged = NULL;
out:
    pthread_mutex_unlock(&f->mu);
    cJSON_Delete(merged);
    cJSON_Delete(patch);
}

/* Mark an object with finalizers as being deleted (once): a
 * deletionTimestamp, and one more generation where generations count. */
static void mark_deleting(call *k, reply *r, size_t at)
{
    kfake *f = k->f;
    const cJSON *old = f->store[k->ci].items[at].obj;
    double gen = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(get_meta(old),
                                                                       "generation"));
    cJSON *nw;
    char ts[32];

    if (being_deleted(old)) {
        reply_copy(r, 200, old);
        return;
    }
    now_rfc3339(ts, sizeof(ts));
    nw = cJSON_Duplicate(old, true);
    if (!nw || put_str(get_meta(nw), "deletionTimestamp", ts) ||
        put_item(get_meta(nw), "deletionGracePeriodSeconds", cJSON_CreateNumber(0)) ||
        (gen > 0 && put_item(get_meta(nw), "generation", cJSON_CreateNumber(gen + 1))) ||
        store_replace(f, k->ci, at, nw)) {
        cJSON_Delete(nw);
        reply_oom(r);
        return;
    }
    reply_copy(r, 200, nw);
}

/* Delete under the lock: 404, precondition, finalizers, or gone. */
static void delete_locked(call *k, reply *r, const cJSON *opts)
{
    kfake *f = k->f;
    cJSON *gone;
    bool found;
    size_t at = coll_find(&f->store[k->ci], path_ns(k), k->name, &found);

    if (!found) {
        reply_not_found(r, k->d, k->name);
        return;
    }
    if (!preconditions_hold(k, get_obj(opts, "preconditions"), f->store[k->ci].items[at].obj, r))
        return;
    if (has_finalizers(f->store[k->ci].items[at].obj))
        mark_deleting(k, r, at);
    else if (store_remove(f, k->ci, at, &gone))
        reply_oom(r);
    else
        reply_deleted(k, r, gone);
}

static void do_delete(call *k, reply *r)
{
    cJSON *opts = NULL;

    if (k->len && !(opts = json_body(k, r, false)))
        return;
    pthread_mutex_lock(&k->f->mu);
    delete_locked(k, r, opts);
    pthread_mutex_unlock(&k->f->mu);
    cJSON_Delete(opts);
}

/* The object under key in o, made one when it is missing or not one. */
static cJSON *ensure_obj(cJSON *o, const char *key)
{
    cJSON *child = get_obj(o, key);

    if (child || put_item(o, key, cJSON_CreateObject()))
        return child;
    return get_obj(o, key);
}

/* A PodScheduled=True condition as of now. */
static cJSON *scheduled_condition(void)
{
    cJSON *cond = cJSON_CreateObject();
    char ts[32];

    now_rfc3339(ts, sizeof(ts));
    if (!cond || !cJSON_AddStringToObject(cond, "type", "PodScheduled") ||
        !cJSON_AddStringToObject(cond, "status", "True") ||
        !cJSON_AddNullToObject(cond, "lastProbeTime") ||
        !cJSON_AddStringToObject(cond, "lastTransitionTime", ts)) {
        cJSON_Delete(cond);
        return NULL;
    }
    return cond;
}

/* Bind pod to node as the binding subresource does: spec.nodeName, and
 * status.conditions gets PodScheduled=True. */
static sp_rc assign(cJSON *pod, const char *node)
{
    cJSON *spec = ensure_obj(pod, "spec"), *status = ensure_obj(pod, "status");
    cJSON *conds, *c, *cond;

    if (!spec || !status || put_str(spec, "nodeName", node))
        return SP_ENOMEM;
    conds = cJSON_GetObjectItemCaseSensitive(status, "conditions");
    if (!cJSON_IsArray(conds)) {
        if (put_item(status, "conditions", cJSON_CreateArray()))
            return SP_ENOMEM;
        conds = cJSON_GetObjectItemCaseSensitive(status, "conditions");
    }
    if (!(cond = scheduled_condition()))
        return SP_ENOMEM;
    cJSON_ArrayForEach(c, conds) {
        const char *type = get_str(c, "type");
        if (type && strcmp(type, "PodScheduled") == 0)
            return cJSON_ReplaceItemViaPointer(conds, c, cond) ? SP_OK : SP_ENOMEM;
    }
    if (!cJSON_AddItemToArray(conds, cond)) {
        cJSON_Delete(cond);
        return SP_ENOMEM;
    }
    return SP_OK;
}

static void bind_locked(call *k, reply *r, const char *node)
{
    kfake *f = k->f;
    bool found;
    size_t at = coll_find(&f->store[k->ci], path_ns(k), k->name, &found);
    const cJSON *pod = found ? f->store[k->ci].items[at].obj : NULL;
    const char *bound = pod ? get_str(get_obj(pod, "spec"), "nodeName") : NULL;
    cJSON *nw;

    if (!pod) {
        reply_not_found(r, k->d, k->name);
    } else if (!empty(bound)) {
        reply_status(r, 409, NULL, k->d, k->name, "Operation cannot be fulfilled on "
                     "pods/binding \"%s\": pod %s is already assigned to node \"%s\"",
                     k->name, k->name, bound);
    } else if (being_deleted(pod)) {
        reply_status(r, 409, NULL, k->d, k->name, "Operation cannot be fulfilled on "
                     "pods/binding \"%s\": pod %s is being deleted, cannot be assigned to a "
                     "host", k->name, k->name);
    } else if (!(nw = cJSON_Duplicate(pod, true)) || assign(nw, node) ||
               store_replace(f, k->ci, at, nw)) {
        cJSON_Delete(nw);
        reply_oom(r);
    } else {
        sp_free(r->body);
        r->status = 201;
        r->body = sp_strdup("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                            "\"status\":\"Success\",\"code\":201}");
    }
}

static void do_bind(call *k, reply *r)
{
    cJSON *binding = json_body(k, r, true);
    const char *node;

    if (!binding)
        return;
    node = get_str(get_obj(binding, "target"), "name");
    if (empty(node)) {
        reply_status(r, 422, NULL, NULL, k->name, "Binding \"%s\" is invalid: target.name: "
                     "Required value", k->name);
    } else {
        pthread_mutex_lock(&k->f->mu);
        bind_locked(k, r, node);
        pthread_mutex_unlock(&k->f->mu);
    }
    cJSON_Delete(binding);
}

/* ------------------------------------------------------------------------ */
/* Lists: snapshots, paging, continue tokens                                  */
/* ------------------------------------------------------------------------ */

typedef struct view_item {
    const char *ns, *name;
    const cJSON *obj;
} view_item;

typedef struct view {
    view_item *items;   /* sorted; borrowed from the store and its history */
    size_t n, cap;
} view;

static size_t view_find(const view *v, const char *ns, const char *name, bool *found)
{
    size_t lo = 0, hi = v->n;

    *found = false;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = key_cmp(ns, name, v->items[mid].ns, v->items[mid].name);
        if (cmp == 0) {
            *found = true;
            return mid;
        }
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Undo change e in v: back to the state before it. */
static sp_rc view_undo(view *v, const hevent *e)
{
    const cJSON *before = e->prev;
    const char *ns, *name;
    bool found;
    size_t at;

    key_of(e->obj, &ns, &name);
    at = view_find(v, ns, name, &found);
    if (e->type == EV_ADDED) {
        if (found)
            memmove(&v->items[at], &v->items[at + 1], (--v->n - at) * sizeof(*v->items));
        return SP_OK;
    }
    if (found) {
        v->items[at].obj = before;
        return SP_OK;
    }
    if (sp_grow(&v->items, &v->cap, v->n + 1, sizeof(*v->items)))
        return SP_ENOMEM;
    key_of(before, &ns, &name);
    memmove(&v->items[at + 1], &v->items[at], (v->n - at) * sizeof(*v->items));
    v->items[at] = (view_item){ ns, name, before };
    v->n++;
    return SP_OK;
}

/* Collection ci as it was at resourceVersion rv (>= f->compacted). */
static sp_rc snapshot(kfake *f, size_t ci, uint64_t rv, view *v)
{
    const coll *c = &f->store[ci];
    sp_rc rc = SP_OK;

    if (sp_grow(&v->items, &v->cap, c->n ? c->n : 1, sizeof(*v->items)))
        return SP_ENOMEM;
    for (size_t i = 0; i < c->n; i++)
        v->items[i] = (view_item){ c->items[i].ns, c->items[i].name, c->items[i].obj };
    v->n = c->n;
    for (size_t i = f->n_hist; i > 0 && !rc && f->hist[i - 1].rv > rv; i--)
        if (f->hist[i - 1].ci == ci)
            rc = view_undo(v, &f->hist[i - 1]);
    return rc;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static sp_rc base64_encode(const char *in, sp_buf *out)
{
    size_t n = strlen(in);
    sp_rc rc = SP_OK;

    for (size_t i = 0; i < n && !rc; i += 3) {
        unsigned v = (unsigned char)in[i] << 16;
        char q[4];
        v |= i + 1 < n ? (unsigned char)in[i + 1] << 8 : 0;
        v |= i + 2 < n ? (unsigned char)in[i + 2] : 0;
        q[0] = b64[(v >> 18) & 63];
        q[1] = b64[(v >> 12) & 63];
        q[2] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        q[3] = i + 2 < n ? b64[v & 63] : '=';
        rc = sp_buf_append(out, q, 4);
    }
    return rc;
}

static sp_rc base64_decode(const char *in, sp_buf *out)
{
    size_t n = strlen(in);
    sp_rc rc = SP_OK;

    if (n % 4)
        return SP_EPARSE;
    for (size_t i = 0; i < n && !rc; i += 4) {
        unsigned v = 0;
        int pad = 0;
        for (size_t j = 0; j < 4; j++) {
            const char *at = in[i + j] ? strchr(b64, in[i + j]) : NULL;
            if (in[i + j] == '=' && i + 4 == n && j >= 2)
                pad++;
            else if (!at || pad)
                return SP_EPARSE;
            v = v << 6 | (at ? (unsigned)(at - b64) : 0);
        }
        char bytes[3] = { (char)(v >> 16), (char)(v >> 8), (char)v };
        rc = sp_buf_append(out, bytes, (size_t)(3 - pad));
    }
    return rc;
}

/* The continue token after ns/name of a list at rv. */
static char *continue_token(uint64_t rv, const char *ns, const char *name)
{
    cJSON *t = cJSON_CreateObject();
    char *json = NULL, *token = NULL;
    sp_buf b;

    sp_buf_init(&b, 1 << 20);
    if (t && cJSON_AddStringToObject(t, "v", "meta.k8s.io/v1") &&
        cJSON_AddNumberToObject(t, "rv", (double)rv) && cJSON_AddStringToObject(t, "ns", ns) &&
        cJSON_AddStringToObject(t, "name", name) && (json = cJSON_PrintUnformatted(t)) &&
        !base64_encode(json, &b))
        token = sp_buf_take(&b);
    sp_buf_free(&b);
    cJSON_free(json);
    cJSON_Delete(t);
    return token;
}

/* What a list asks for. */
typedef struct list_query {
    selector labels, fields;
    long limit;            /* 0: everything */
    uint64_t rv;           /* the snapshot to read */
    bool from_continue;
    char *after_ns, *after_name; /* continue after this key */
} list_query;

static void list_query_free(list_query *q)
{
    selector_free(&q->labels);
    selector_free(&q->fields);
    sp_free(q->after_ns);
    sp_free(q->after_name);
}

static bool parse_continue(const char *token, list_query *q, reply *r)
{
    sp_buf b;
    cJSON *t = NULL;
    bool ok = false;

    sp_buf_init(&b, 1 << 20);
    if (!base64_decode(token, &b) && b.len)
        t = cJSON_ParseWithLength(b.data, b.len);
    if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(t, "rv")) && get_str(t, "ns") &&
        get_str(t, "name")) {
        q->rv = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "rv"));
        q->after_ns = sp_strdup(get_str(t, "ns"));
        q->after_name = sp_strdup(get_str(t, "name"));
        q->from_continue = true;
        ok = q->after_ns && q->after_name;
        if (!ok)
            reply_oom(r);
    } else {
        reply_status(r, 400, NULL, NULL, NULL, "continue key is not valid: incorrect encoded "
                     "start resourceVersion (version meta.k8s.io/v1)");
    }
    cJSON_Delete(t);
    sp_buf_free(&b);
    return ok;
}

/* Selectors and limit of a list or watch (r filled on refusal). */
static bool parse_filters(const call *k, selector *labels, selector *fields, long *limit,
                          reply *r)
{
    char msg[MSG_MAX];
    const char *lim = query(k, "limit");
    sp_rc rc;
    int64_t v;

    rc = selector_parse(query(k, "labelSelector"), false, labels, msg, sizeof(msg));
    if (!rc) {
        rc = selector_parse(query(k, "fieldSelector"), true, fields, msg, sizeof(msg));
        if (!rc && !fields_known(k->d, fields, msg, sizeof(msg)))
            rc = SP_EPARSE;
    }
    if (rc == SP_ENOMEM) {
        reply_oom(r);
        return false;
    }
    if (rc) {
        reply_status(r, 400, NULL, NULL, NULL, "%s", msg);
        return false;
    }
    *limit = 0;
    if (!empty(lim) && !sp_parse_int64(lim, INT64_MIN, INT64_MAX, &v))
        *limit = v > 0 ? (long)(v < 1000000 ? v : 1000000) : 0;
    return true;
}

/* Which snapshot the list reads (under the lock): current, or explicit. */
static bool choose_rv(const call *k, list_query *q, reply *r)
{
    kfake *f = k->f;
    const char *rvs = query(k, "resourceVersion"), *match = query(k, "resourceVersionMatch");
    const char *cont = query(k, "continue");
    uint64_t rv = f->rv;

    if (!empty(cont) && !empty(rvs)) {
        reply_status(r, 400, NULL, NULL, NULL,
                     "specifying resource version is not allowed when using continue");
        return false;
    }
    if (!empty(cont)) {
        if (!parse_continue(cont, q, r))
            return false;
        if (q->rv >= f->compacted)
            return true;
        reply_status(r, 410, NULL, NULL, NULL, "The provided continue parameter is too old "
                     "to display a consistent list result. You can start a new list without "
                     "the continue parameter.");
        return false;
    }
    if (!empty(match) && (empty(rvs) || (strcmp(match, "Exact") != 0 &&
                                         strcmp(match, "NotOlderThan") != 0))) {
        reply_status(r, 400, NULL, NULL, NULL, "resourceVersionMatch \"%s\" needs a "
                     "resourceVersion and must be Exact or NotOlderThan", match);
        return false;
    }
    q->rv = f->rv;
    if (empty(rvs) || strcmp(rvs, "0") == 0)
        return true;
    if (!rv_parse(rvs, &rv)) {
        reply_status(r, 400, NULL, NULL, NULL, "invalid resource version \"%s\"", rvs);
        return false;
    }
    if (rv < f->compacted) {
        reply_status(r, 410, NULL, NULL, NULL, "too old resource version: %llu (%llu)",
                     (unsigned long long)rv, (unsigned long long)f->compacted);
        return false;
    }
    if (rv > f->rv) {
        r->retry_after = 1;
        reply_status(r, 504, NULL, NULL, NULL, "Too large resource version: %llu, current: "
                     "%llu", (unsigned long long)rv, (unsigned long long)f->rv);
        return false;
    }
    if (!empty(match) && strcmp(match, "Exact") == 0)
        q->rv = rv;
    return true;
}

static bool list_visible(const call *k, const list_query *q, const view_item *it)
{
    return (!k->ns || strcmp(it->ns, k->ns) == 0) && selector_match(&q->labels, it->obj) &&
           selector_match(&q->fields, it->obj);
}

/* An item as lists show it: built-in kinds without kind and apiVersion. */
static sp_rc add_list_item(const call *k, cJSON *items, const cJSON *obj)
{
    cJSON *copy = cJSON_Duplicate(obj, true);

    if (!copy)
        return SP_ENOMEM;
    if (!k->d->custom) {
        cJSON_DeleteItemFromObjectCaseSensitive(copy, "kind");
        cJSON_DeleteItemFromObjectCaseSensitive(copy, "apiVersion");
    }
    if (!cJSON_AddItemToArray(items, copy)) {
        cJSON_Delete(copy);
        return SP_ENOMEM;
    }
    return SP_OK;
}

static cJSON *list_shell(const call *k, uint64_t rv, cJSON **meta, cJSON **items)
{
    cJSON *list = cJSON_CreateObject();
    char kind[128], rvs[24];

    rv_text(rv, rvs, sizeof(rvs));
    if (snprintf(kind, sizeof(kind), "%sList", k->d->kind) < 0 || !list ||
        !cJSON_AddStringToObject(list, "kind", kind) ||
        !cJSON_AddStringToObject(list, "apiVersion", k->d->api_version) ||
        !(*meta = cJSON_AddObjectToObject(list, "metadata")) ||
        !cJSON_AddStringToObject(*meta, "resourceVersion", rvs) ||
        !(*items = cJSON_AddArrayToObject(list, "items"))) {
        cJSON_Delete(list);
        return NULL;
    }
    return list;
}

/* The page of v that q asks for, as a <Kind>List. */
static cJSON *list_page(const call *k, const list_query *q, const view *v)
{
    cJSON *meta, *items, *list = list_shell(k, q->rv, &meta, &items);
    size_t i = 0, taken = 0, remaining = 0;
    const view_item *last = NULL;
    bool found;
    char *token;

    if (!list)
        return NULL;
    if (q->from_continue) {
        i = view_find(v, q->after_ns, q->after_name, &found);
        i += found;
    }
    for (; i < v->n; i++) {
        if (!list_visible(k, q, &v->items[i]))
            continue;
        if (q->limit && taken == (size_t)q->limit) {
            remaining++;
            continue;
        }
        if (add_list_item(k, items, v->items[i].obj))
            goto fail;
        last = &v->items[i];
        taken++;
    }
    if (!remaining)
        return list;
    if (!(token = continue_token(q->rv, last->ns, last->name)) ||
        !cJSON_AddStringToObject(meta, "continue", token) ||
        (!q->labels.n && !q->fields.n &&
         !cJSON_AddNumberToObject(meta, "remainingItemCount", (double)remaining))) {
        sp_free(token);
        goto fail;
    }
    sp_free(token);
    return list;
fail:
    cJSON_Delete(list);
    return NULL;
}

static void do_list(call *k, reply *r)
{
    kfake *f = k->f;
    list_query q = { 0 };
    view v = { 0 };
    cJSON *list;

    if (!parse_filters(k, &q.labels, &q.fields, &q.limit, r))
        goto out;
    pthread_mutex_lock(&f->mu);
    if (choose_rv(k, &q, r)) {
        list = snapshot(f, k->ci, q.rv, &v) ? NULL : list_page(k, &q, &v);
        if (list)
            reply_json(r, 200, list);
        else
            reply_oom(r);
    }
    pthread_mutex_unlock(&f->mu);
out:
    sp_free(v.items);
    list_query_free(&q);
}

/* ------------------------------------------------------------------------ */
/* Watches                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct watcher {
    kfake *f;
    size_t ci;
    char *ns;                 /* NULL: every namespace */
    selector labels, fields;
    bool bookmarks;
    bool finished;            /* end the stream once out is drained */
    uint64_t pos;             /* changes up to here have been looked at */
    unsigned drop_gen;
    struct timespec deadline, next_bookmark;   /* CLOCK_MONOTONIC */
    int fd;                   /* the client's socket, -1 when unknown */
    sp_buf out;               /* bytes not yet handed to MHD */
    size_t off;
} watcher;

static void watcher_free(void *cls)
{
    watcher *w = cls;

    if (!w)
        return;
    sp_free(w->ns);
    selector_free(&w->labels);
    selector_free(&w->fields);
    sp_buf_free(&w->out);
    sp_free(w);
}

static bool visible(const watcher *w, const cJSON *obj)
{
    const char *ns, *name;

    key_of(obj, &ns, &name);
    return (!w->ns || strcmp(ns, w->ns) == 0) && selector_match(&w->labels, obj) &&
           selector_match(&w->fields, obj);
}

static sp_rc emit(watcher *w, const char *type, const cJSON *obj)
{
    char *text = cJSON_PrintUnformatted(obj);
    sp_rc rc;

    if (!text)
        return SP_ENOMEM;
    rc = sp_buf_printf(&w->out, "{\"type\":\"%s\",\"object\":", type);
    rc = rc ? rc : sp_buf_puts(&w->out, text);
    rc = rc ? rc : sp_buf_puts(&w->out, "}\n");
    cJSON_free(text);
    return rc;
}

/* A change as this watcher sees it: leaving the selection is DELETED,
 * entering it ADDED. */
static sp_rc emit_change(watcher *w, const hevent *e)
{
    bool now_in = visible(w, e->obj);
    bool was_in = e->type == EV_MODIFIED && visible(w, e->prev);

    if (e->type != EV_MODIFIED)
        return now_in ? emit(w, ev_names[e->type], e->obj) : SP_OK;
    if (now_in)
        return emit(w, was_in ? "MODIFIED" : "ADDED", e->obj);
    return was_in ? emit(w, "DELETED", e->obj) : SP_OK;
}

static sp_rc emit_expired(watcher *w, uint64_t rv, uint64_t oldest)
{
    return sp_buf_printf(&w->out, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\","
                         "\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
                         "\"message\":\"too old resource version: %llu (%llu)\","
                         "\"reason\":\"Expired\",\"code\":410}}\n",
                         (unsigned long long)rv, (unsigned long long)oldest);
}

static sp_rc emit_bookmark(watcher *w)
{
    const coll_def *d = &colls[w->ci];

    return sp_buf_printf(&w->out, "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"%s\","
                         "\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":\"%llu\"}}}\n",
                         d->kind, d->api_version, (unsigned long long)w->pos);
}

/* Index of the first change after rv. */
static size_t hist_after(const kfake *f, uint64_t rv)
{
    size_t lo = 0, hi = f->n_hist;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->hist[mid].rv <= rv)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Queue every change after w->pos (under the lock). */
static sp_rc collect(watcher *w)
{
    kfake *f = w->f;
    sp_rc rc = SP_OK;

    for (size_t i = hist_after(f, w->pos); i < f->n_hist && !rc; i++)
        if (f->hist[i].ci == w->ci)
            rc = emit_change(w, &f->hist[i]);
    if (!rc && f->rv > w->pos)
        w->pos = f->rv;
    return rc;
}

/* Synthetic ADDED events for the current state (a watch from "" or "0"). */
static sp_rc emit_state(watcher *w)
{
    const coll *c = &w->f->store[w->ci];
    sp_rc rc = SP_OK;

    for (size_t i = 0; i < c->n && !rc; i++)
        if (visible(w, c->items[i].obj))
            rc = emit(w, "ADDED", c->items[i].obj);
    w->pos = w->f->rv;
    return rc;
}

static bool peer_gone(const watcher *w)
{
    struct pollfd p = { w->fd, POLLRDHUP, 0 };

    return w->fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* One pass of the wait: true when the watcher has something to do. */
static bool watch_step(watcher *w, const struct timespec *now)
{
    kfake *f = w->f;

    if (f->stopping || w->drop_gen != f->drop_gen || peer_gone(w))
        return w->finished = true;
    if (w->pos < f->compacted) {
        (void)emit_expired(w, w->pos, f->compacted);
        return w->finished = true;
    }
    if (collect(w))
        return w->finished = true;
    if (w->out.len > w->off)
        return true;
    if (ms_between(now, &w->deadline) <= 0)
        return w->finished = true;
    if (w->bookmarks && ms_between(now, &w->next_bookmark) <= 0) {
        w->next_bookmark = ts_plus_ms(*now, BOOKMARK_MS);
        if (emit_bookmark(w))
            w->finished = true;
        return true;
    }
    return false;
}

/* Block until there is something to send or the stream must end. */
static void watch_wait(watcher *w)
{
    kfake *f = w->f;
    struct timespec now, until;

    pthread_mutex_lock(&f->mu);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (watch_step(w, &now))
            break;
        until = ts_plus_ms(now, 1000);
        if (ms_between(&w->deadline, &until) > 0)
            until = w->deadline;
        if (w->bookmarks && ms_between(&w->next_bookmark, &until) > 0)
            until = w->next_bookmark;
        pthread_cond_timedwait(&f->cv, &f->mu, &until);
    }
    pthread_mutex_unlock(&f->mu);
}

static ssize_t watch_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    watcher *w = cls;
    size_t n;

    (void)pos;
    if (w->off == w->out.len && !w->finished)
        watch_wait(w);
    if (w->off == w->out.len)
        return MHD_CONTENT_READER_END_OF_STREAM;
    n = w->out.len - w->off < max ? w->out.len - w->off : max;
    memcpy(buf, w->out.data + w->off, n);
    w->off += n;
    if (w->off == w->out.len) {
        sp_buf_reset(&w->out);
        w->off = 0;
    }
    return (ssize_t)n;
}

/* Where the watch starts (under the lock): replay, state, or 410. */
static bool watch_begin(const call *k, watcher *w, reply *r)
{
    const char *rvs = query(k, "resourceVersion");
    uint64_t rv;

    w->drop_gen = k->f->drop_gen;
    if (empty(rvs) || strcmp(rvs, "0") == 0) {
        if (emit_state(w))
            w->finished = true;
        return true;
    }
    if (!rv_parse(rvs, &rv)) {
        reply_status(r, 400, NULL, NULL, NULL, "invalid resource version \"%s\"", rvs);
        return false;
    }
    w->pos = rv;
    if (rv < k->f->compacted) {
        (void)emit_expired(w, rv, k->f->compacted);
        w->finished = true;
    }
    return true;
}

static watcher *watcher_new(const call *k, reply *r)
{
    watcher *w = sp_calloc(1, sizeof(*w));
    const union MHD_ConnectionInfo *ci;
    const char *timeout = query(k, "timeoutSeconds");
    struct timespec now;
    long limit;
    int64_t secs = WATCH_DEFAULT_S;

    if (!w || (k->ns && !(w->ns = sp_strdup(k->ns)))) {
        reply_oom(r);
        watcher_free(w);
        return NULL;
    }
    w->f = k->f;
    w->ci = k->ci;
    sp_buf_init(&w->out, WATCH_BUF_MAX);
    if (!parse_filters(k, &w->labels, &w->fields, &limit, r)) {
        watcher_free(w);
        return NULL;
    }
    if (!empty(timeout) && sp_parse_int64(timeout, 1, 86400 * 365, &secs))
        secs = WATCH_DEFAULT_S; /* 0 or junk: the server's own timeout */
    w->bookmarks = is_true(query(k, "allowWatchBookmarks"));
    clock_gettime(CLOCK_MONOTONIC, &now);
    w->deadline = ts_plus_ms(now, (long)secs * 1000);
    w->next_bookmark = ts_plus_ms(now, BOOKMARK_MS);
    ci = MHD_get_connection_info(k->c, MHD_CONNECTION_INFO_CONNECTION_FD);
    w->fd = ci ? ci->connect_fd : -1;
    return w;
}

/* Answer a watch with a stream (or an error in r, returned false). */
static bool start_watch(call *k, reply *r, enum MHD_Result *result)
{
    watcher *w = watcher_new(k, r);
    struct MHD_Response *resp;
    bool ok;

    if (!w)
        return false;
    pthread_mutex_lock(&k->f->mu);
    ok = watch_begin(k, w, r);
    pthread_mutex_unlock(&k->f->mu);
    if (!ok) {
        watcher_free(w);
        return false;
    }
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, WATCH_BLOCK, watch_read, w,
                                             watcher_free);
    if (!resp) {
        watcher_free(w);
        reply_oom(r);
        return false;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    *result = MHD_queue_response(k->c, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return true;
}

/* ------------------------------------------------------------------------ */
/* HTTP                                                                       */
/* ------------------------------------------------------------------------ */

/* What the server keeps about a request between MHD's calls. */
typedef struct request {
    kfake *f;
    sp_buf body;
    bool too_big;
} request;

static enum MHD_Result send_reply(struct MHD_Connection *c, reply *r)
{
    struct MHD_Response *resp;
    enum MHD_Result ok;
    char ra[16];

    if (r->body)
        resp = MHD_create_response_from_buffer_with_free_callback(strlen(r->body), r->body,
                                                                  sp_free);
    else
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        sp_free(r->body);
        return MHD_NO;
    }
    r->body = NULL;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (r->retry_after > 0 && snprintf(ra, sizeof(ra), "%d", r->retry_after) > 0)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    ok = MHD_queue_response(c, (unsigned)(r->status ? r->status : 500), resp);
    MHD_destroy_response(resp);
    return ok;
}

static void reply_method(reply *r)
{
    reply_status(r, 405, NULL, NULL, NULL,
                 "the server does not allow this method on the requested resource");
}

static bool is(const char *method, const char *want)
{
    return strcmp(method, want) == 0;
}

/* The verbs on a collection. */
static void dispatch_collection(call *k, reply *r)
{
    if (is(k->method, "GET"))
        do_list(k, r);
    else if (is(k->method, "POST") && (k->ns || !k->d->namespaced))
        do_create(k, r);
    else
        reply_method(r);
}

/* The verbs on one object or its status. */
static void dispatch_object(call *k, reply *r, bool status)
{
    if (is(k->method, "GET"))
        do_get(k, r);
    else if (is(k->method, "PUT"))
        do_update(k, r, status);
    else if (is(k->method, "PATCH"))
        do_patch(k, r, status);
    else if (is(k->method, "DELETE") && !status)
        do_delete(k, r);
    else
        reply_method(r);
}

static void dispatch(call *k, reply *r)
{
    if (!k->name)
        dispatch_collection(k, r);
    else if (!k->sub)
        dispatch_object(k, r, false);
    else if (strcmp(k->sub, "status") == 0)
        dispatch_object(k, r, true);
    else if (is(k->method, "POST"))
        do_bind(k, r);
    else
        reply_method(r);
}

static void log_request(kfake *f, const char *method, const char *path)
{
    char *m = sp_strdup(method), *p = sp_strdup(path);

    pthread_mutex_lock(&f->mu);
    if (m && p && !sp_grow(&f->log, &f->cap_log, f->n_log + 1, sizeof(*f->log))) {
        f->log[f->n_log++] = (logged){ m, p };
        m = p = NULL;
    }
    pthread_mutex_unlock(&f->mu);
    sp_free(m);
    sp_free(p);
}

static void wait_delay(kfake *f)
{
    int ms;

    pthread_mutex_lock(&f->mu);
    ms = f->delay_ms;
    pthread_mutex_unlock(&f->mu);
    if (ms > 0) {
        struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
        while (nanosleep(&t, &t) && errno == EINTR)
            ;
    }
}

static bool authorized(const kfake *f, struct MHD_Connection *c)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_AUTHORIZATION);

    return h && strncmp(h, "Bearer ", 7) == 0 && strcmp(h + 7, f->token) == 0;
}

static bool fault_matches(const fault *ft, const char *method, const char *path)
{
    return (!ft->method || strcmp(ft->method, method) == 0) &&
           (!ft->prefix || strncmp(path, ft->prefix, strlen(ft->prefix)) == 0);
}

static const char *fault_message(int status)
{
    switch (status) {
    case 429: return "Too many requests, please try again later.";
    case 500: return "Internal error occurred: injected fault";
    case 503: return "the server is currently unable to handle the request";
    case 504: return "the server was unable to return a response in the time allotted";
    default: return "injected fault";
    }
}

/* The next fault for this request, if any (consumed). */
static bool take_fault(kfake *f, const char *method, const char *path, reply *r)
{
    bool hit = false;

    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n_faults && !hit; i++) {
        fault *ft = &f->faults[i];
        if (!fault_matches(ft, method, path))
            continue;
        hit = true;
        r->status = ft->status;
        r->retry_after = ft->retry_after;
        if (--ft->left > 0)
            continue;
        sp_free(ft->method);
        sp_free(ft->prefix);
        memmove(ft, ft + 1, (--f->n_faults - i) * sizeof(*ft));
    }
    pthread_mutex_unlock(&f->mu);
    if (hit)
        reply_status(r, r->status, NULL, NULL, NULL, "%s", fault_message(r->status));
    return hit;
}

/* The answer that needs no route: 401, an injected fault, 413. */
static bool refuse(request *rq, struct MHD_Connection *c, const char *url, const char *method,
                   reply *r)
{
    if (!authorized(rq->f, c))
        reply_status(r, 401, NULL, NULL, NULL, "Unauthorized");
    else if (take_fault(rq->f, method, url, r))
        ;
    else if (rq->too_big)
        reply_status(r, 413, NULL, NULL, NULL, "Request entity too large: limit is %u",
                     BODY_MAX);
    return r->status != 0;
}

/* Answer a request whose body has fully arrived. */
static enum MHD_Result serve(request *rq, struct MHD_Connection *c, const char *url,
                             const char *method)
{
    kfake *f = rq->f;
    call k = { f, c, method, 0, NULL, NULL, NULL, NULL, rq->body.data ? rq->body.data : "",
               rq->body.len };
    char *path = sp_strdup(url);
    enum MHD_Result result = MHD_NO;
    reply r = { 0 };

    log_request(f, method, url);
    wait_delay(f);
    if (refuse(rq, c, url, method, &r))
        ;
    else if (!path)
        reply_oom(&r);
    else if (!route(path, &k))
        reply_status(&r, 404, NULL, NULL, NULL,
                     "the server could not find the requested resource");
    else if (k.name || !is(method, "GET") || !is_true(query(&k, "watch")))
        dispatch(&k, &r);
    else if (start_watch(&k, &r, &result))
        goto out;
    result = send_reply(c, &r);
out:
    sp_free(path);
    return result;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **state)
{
    request *rq = *state;

    (void)version;
    if (!rq) {
        if (!(rq = sp_calloc(1, sizeof(*rq))))
            return MHD_NO;
        rq->f = cls;
        sp_buf_init(&rq->body, BODY_MAX);
        *state = rq;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!rq->too_big && sp_buf_append(&rq->body, upload, *upload_size)) {
            rq->too_big = true;
            sp_buf_free(&rq->body);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    return serve(rq, c, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state,
                         enum MHD_RequestTerminationCode why)
{
    request *rq = *state;

    (void)cls;
    (void)c;
    (void)why;
    if (!rq)
        return;
    sp_buf_free(&rq->body);
    sp_free(rq);
    *state = NULL;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Query values decoded as Go's net/url does: %XX, and '+' is a space (a
 * continue token sent without escaping breaks here as it would there). */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    char *r = s, *w = s;

    (void)cls;
    (void)c;
    while (*r) {
        int hi = *r == '%' ? hex_digit(r[1]) : -1, lo = hi >= 0 ? hex_digit(r[2]) : -1;
        if (*r == '+') {
            *w++ = ' ';
            r++;
        } else if (lo >= 0) {
            *w++ = (char)(hi * 16 + lo);
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    if (getenv("KFAKE_DEBUG")) {
        fputs("kfake: mhd: ", stderr);
        vfprintf(stderr, fmt, ap);
    }
}

/* ------------------------------------------------------------------------ */
/* Lifetime                                                                   */
/* ------------------------------------------------------------------------ */

static sp_rc write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
    char path[PATH_MAX];
    size_t len = strlen(text), done = 0;
    int n = snprintf(path, sizeof(path), "%s/%s", dir, name), fd;

    if (n < 0 || (size_t)n >= sizeof(path))
        return SP_ELIMIT;
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return SP_EIO;
    while (done < len) {
        ssize_t w = write(fd, text + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    return close(fd) == 0 && done == len ? SP_OK : SP_EIO;
}

static sp_rc write_kubeconfig(const kfake *f, const char *dir)
{
    char abs[PATH_MAX];
    sp_buf b;
    sp_rc rc;

    if (!realpath(dir, abs) || strpbrk(abs, "\"\\\n"))
        return SP_EINVAL;
    sp_buf_init(&b, 1 << 20);
    rc = sp_buf_printf(&b,
                       "apiVersion: v1\n"
                       "kind: Config\n"
                       "clusters:\n"
                       "- name: kfake\n"
                       "  cluster:\n"
                       "    server: https://127.0.0.1:%u\n"
                       "    certificate-authority: \"%s/ca.crt\"\n"
                       "users:\n"
                       "- name: kfake\n"
                       "  user:\n"
                       "    token: %s\n"
                       "contexts:\n"
                       "- name: kfake\n"
                       "  context:\n"
                       "    cluster: kfake\n"
                       "    user: kfake\n"
                       "    namespace: default\n"
                       "current-context: kfake\n",
                       (unsigned)f->port, abs, f->token);
    rc = rc ? rc : write_file(dir, "kubeconfig", b.data, 0600);
    sp_buf_free(&b);
    return rc;
}

static sp_rc make_certs(kfake *f, sp_err *err)
{
    static const char *const dns[] = { "localhost" };
    static const char *const ips[] = { "127.0.0.1" };
    certs_spec ca = { .common_name = "kfake-ca" };
    certs_spec serving = { .common_name = "kube-apiserver", .dns = dns, .n_dns = 1,
                           .ips = ips, .n_ips = 1 };
    sp_rc rc = certs_make_ca(&ca, &f->ca, err);

    return rc ? rc : certs_make_serving(&f->ca, &serving, &f->tls, err);
}

static struct MHD_Daemon *start_daemon(kfake *f)
{
    struct sockaddr_in addr;

    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
            MHD_USE_TLS | MHD_USE_ERROR_LOG,
        0, NULL, NULL, on_request, f,
        MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&addr,
        MHD_OPTION_HTTPS_MEM_CERT, f->tls.cert_pem,
        MHD_OPTION_HTTPS_MEM_KEY, f->tls.key_pem,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, f,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
        MHD_OPTION_END);
}

static sp_rc init_locks(kfake *f)
{
    pthread_condattr_t attr;
    int bad;

    if (pthread_condattr_init(&attr))
        return SP_ENOMEM;
    bad = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) || pthread_mutex_init(&f->mu, NULL);
    if (!bad && pthread_cond_init(&f->cv, &attr)) {
        pthread_mutex_destroy(&f->mu);
        bad = 1;
    }
    pthread_condattr_destroy(&attr);
    f->locks_ready = !bad;
    return bad ? SP_ENOMEM : SP_OK;
}

static sp_rc start(kfake *f, const char *dir, sp_err *err)
{
    const union MHD_DaemonInfo *info;
    unsigned char raw[32];
    char token_line[80];
    sp_rc rc = init_locks(f);

    if (rc)
        return sp_err_set(err, rc, "cannot create the locks");
    f->rv = f->compacted = FIRST_RV;
    random_bytes(raw, sizeof(raw));
    hex_encode(raw, sizeof(raw), f->token);
    rc = make_certs(f, err);
    if (rc)
        return rc;
    if (!(f->daemon = start_daemon(f)))
        return sp_err_set(err, SP_EIO, "cannot start libmicrohttpd on 127.0.0.1");
    info = MHD_get_daemon_info(f->daemon, MHD_DAEMON_INFO_BIND_PORT);
    f->port = info ? info->port : 0;
    if (!f->port)
        return sp_err_set(err, SP_EIO, "cannot read the port back");
    if (snprintf(token_line, sizeof(token_line), "%s\n", f->token) < 0 ||
        write_file(dir, "ca.crt", f->ca.cert_pem, 0644) ||
        write_file(dir, "token", token_line, 0600) || write_kubeconfig(f, dir))
        return sp_err_set(err, SP_EIO, "cannot write ca.crt, token and kubeconfig in %s", dir);
    return SP_OK;
}

kfake *kfake_start(const char *dir)
{
    sp_err err = { SP_OK, "" };
    kfake *f = sp_calloc(1, sizeof(*f));

    if (!f) {
        fprintf(stderr, "kfake: out of memory\n");
        return NULL;
    }
    if (start(f, dir, &err)) {
        fprintf(stderr, "kfake: %s\n", err.msg);
        kfake_stop(f);
        return NULL;
    }
    return f;
}

static void free_state(kfake *f)
{
    for (size_t i = 0; i < N_COLLS; i++) {
        while (f->store[i].n)
            cJSON_Delete(coll_take(&f->store[i], f->store[i].n - 1));
        sp_free(f->store[i].items);
    }
    hist_trim(f, f->n_hist);
    sp_free(f->hist);
    for (size_t i = 0; i < f->n_faults; i++) {
        sp_free(f->faults[i].method);
        sp_free(f->faults[i].prefix);
    }
    sp_free(f->faults);
    for (size_t i = 0; i < f->n_log; i++) {
        sp_free(f->log[i].method);
        sp_free(f->log[i].path);
    }
    sp_free(f->log);
}

void kfake_stop(kfake *f)
{
    if (!f)
        return;
    if (f->locks_ready) {
        pthread_mutex_lock(&f->mu);
        f->stopping = true;
        pthread_cond_broadcast(&f->cv);
        pthread_mutex_unlock(&f->mu);
    }
    if (f->daemon)
        MHD_stop_daemon(f->daemon);
    free_state(f);
    certs_pair_free(&f->ca);
    certs_pair_free(&f->tls);
    if (f->locks_ready) {
        pthread_cond_destroy(&f->cv);
        pthread_mutex_destroy(&f->mu);
    }
    sp_free(f);
}

uint16_t kfake_port(const kfake *f)
{
    return f->port;
}

/* ------------------------------------------------------------------------ */
/* The test's side door                                                       */
/* ------------------------------------------------------------------------ */

/* The collection named by resource ("pods"), by path
 * ("/api/v1/pods"), or (NULL) by obj's kind; -1 when none. */
static int coll_named(const char *collection, const cJSON *obj)
{
    const char *kind = get_str(obj, "kind");

    for (size_t i = 0; i < N_COLLS; i++) {
        const coll_def *d = &colls[i];
        char path[256];
        int n = snprintf(path, sizeof(path), "%s%s/%s/%s", *d->group ? "/apis/" : "/api",
                         d->group, d->version, d->resource);
        if (n < 0 || (size_t)n >= sizeof(path))
            continue;
        if (collection ? strcmp(collection, d->resource) == 0 || strcmp(collection, path) == 0
                       : kind && strcmp(kind, d->kind) == 0)
            return (int)i;
    }
    return -1;
}

/* Under the lock: create or replace obj (consumed) as a client would. */
static uint64_t put_locked(kfake *f, size_t ci, cJSON *obj)
{
    const coll_def *d = &colls[ci];
    const char *ns, *name;
    bool found;
    size_t at;
    cJSON *old;

    key_of(obj, &ns, &name);
    at = coll_find(&f->store[ci], ns, name, &found);
    if (!found) {
        if (fill_create_meta(d, obj, true) || store_add(f, ci, at, obj))
            goto fail;
        return f->rv;
    }
    old = f->store[ci].items[at].obj;
    if (keep_server_meta(d, obj, old) ||
        carry(get_meta(obj), get_meta(old), "resourceVersion"))
        goto fail;
    if (cJSON_Compare(obj, old, true)) {
        uint64_t rv = 0;
        cJSON_Delete(obj);
        return rv_parse(meta_str(old, "resourceVersion"), &rv) ? rv : 0;
    }
    if (store_replace(f, ci, at, obj))
        goto fail;
    return f->rv;
fail:
    cJSON_Delete(obj);
    return 0;
}

uint64_t kfake_put(kfake *f, const char *collection, const cJSON *obj)
{
    int ci = cJSON_IsObject(obj) ? coll_named(collection, obj) : -1;
    cJSON *copy = ci >= 0 ? cJSON_Duplicate(obj, true) : NULL;
    const coll_def *d;
    uint64_t rv;

    if (!copy || normalize(&colls[ci], &copy) || empty(meta_str(copy, "name"))) {
        cJSON_Delete(copy);
        return 0;
    }
    d = &colls[ci];
    if (!d->namespaced)
        cJSON_DeleteItemFromObjectCaseSensitive(get_meta(copy), "namespace");
    else if (empty(meta_str(copy, "namespace")) &&
             put_str(get_meta(copy), "namespace", "default")) {
        cJSON_Delete(copy);
        return 0;
    }
    pthread_mutex_lock(&f->mu);
    rv = put_locked(f, (size_t)ci, copy);
    pthread_mutex_unlock(&f->mu);
    return rv;
}

bool kfake_delete(kfake *f, const char *collection, const char *ns, const char *name)
{
    int ci = coll_named(collection, NULL);
    call k = { f, NULL, "DELETE", 0, NULL, ns, name, NULL, "", 0 };
    reply r = { 0 };

    if (ci < 0 || !name)
        return false;
    k.ci = (size_t)ci;
    k.d = &colls[ci];
    if (!k.d->namespaced)
        k.ns = NULL;
    pthread_mutex_lock(&f->mu);
    delete_locked(&k, &r, NULL);
    pthread_mutex_unlock(&f->mu);
    sp_free(r.body);
    return r.status == 200;
}

cJSON *kfake_get(kfake *f, const char *collection, const char *ns, const char *name)
{
    int ci = coll_named(collection, NULL);
    cJSON *copy = NULL;
    bool found;
    size_t at;

    if (ci < 0 || !name)
        return NULL;
    pthread_mutex_lock(&f->mu);
    at = coll_find(&f->store[ci], colls[ci].namespaced && ns ? ns : "", name, &found);
    if (found)
        copy = cJSON_Duplicate(f->store[ci].items[at].obj, true);
    pthread_mutex_unlock(&f->mu);
    return copy;
}

uint64_t kfake_put_json(kfake *f, const char *collection, const char *json)
{
    cJSON *obj = cJSON_Parse(json);
    uint64_t rv = obj ? kfake_put(f, collection, obj) : 0;

    cJSON_Delete(obj);
    return rv;
}

cJSON *kfake_get_placement(kfake *f, const char *ns, const char *job, const char *pe)
{
    char name[256];
    int n = snprintf(name, sizeof(name), "%s-%s", job, pe);

    if (n < 0 || (size_t)n >= sizeof(name))
        return NULL;
    return kfake_get(f, "/apis/placement.streams.io/v1alpha1/peplacements", ns, name);
}

const char *kfake_status_str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "status"), key);

    return cJSON_IsString(v) ? v->valuestring : "";
}

size_t kfake_count(kfake *f, const char *collection)
{
    int ci = coll_named(collection, NULL);
    size_t n;

    if (ci < 0)
        return 0;
    pthread_mutex_lock(&f->mu);
    n = f->store[ci].n;
    pthread_mutex_unlock(&f->mu);
    return n;
}

static bool same_opt(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* n <= 0 withdraws the pending faults for exactly this method and prefix. */
void kfake_fail(kfake *f, const char *method, const char *path_prefix, int status,
                int retry_after, int n)
{
    fault ft = { NULL, NULL, status, retry_after, n };

    pthread_mutex_lock(&f->mu);
    if (n <= 0) {
        for (size_t i = f->n_faults; i > 0; i--) {
            fault *at = &f->faults[i - 1];
            if (!same_opt(at->method, method) || !same_opt(at->prefix, path_prefix))
                continue;
            sp_free(at->method);
            sp_free(at->prefix);
            memmove(at, at + 1, (--f->n_faults - (i - 1)) * sizeof(*at));
        }
    } else if ((!method || (ft.method = sp_strdup(method))) &&
               (!path_prefix || (ft.prefix = sp_strdup(path_prefix))) &&
               !sp_grow(&f->faults, &f->cap_faults, f->n_faults + 1, sizeof(*f->faults))) {
        f->faults[f->n_faults++] = ft;
        ft.method = ft.prefix = NULL;
    }
    pthread_mutex_unlock(&f->mu);
    sp_free(ft.method);
    sp_free(ft.prefix);
}

void kfake_delay(kfake *f, int ms)
{
    pthread_mutex_lock(&f->mu);
    f->delay_ms = ms > 0 ? ms : 0;
    pthread_mutex_unlock(&f->mu);
}

void kfake_drop_watches(kfake *f)
{
    pthread_mutex_lock(&f->mu);
    f->drop_gen++;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

void kfake_compact(kfake *f)
{
    pthread_mutex_lock(&f->mu);
    hist_trim(f, f->n_hist);
    f->compacted = f->rv;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

size_t kfake_requests(kfake *f, const char *method, const char *path_prefix)
{
    size_t n = 0;

    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n_log; i++)
        if ((!method || strcmp(f->log[i].method, method) == 0) &&
            (!path_prefix || strncmp(f->log[i].path, path_prefix, strlen(path_prefix)) == 0))
            n++;
    pthread_mutex_unlock(&f->mu);
    return n;
}
