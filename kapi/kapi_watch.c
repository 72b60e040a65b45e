/*
 * Informers: see kapi.h. Each runs one thread with its own curl easy and
 * multi handles, so that kapi_informer_stop interrupts a transfer or a wait
 * at once (curl_multi_wakeup). The thread lists the collection in pages
 * (limit/continue), then watches from the list's resourceVersion with
 * bookmarks, reading the newline-delimited JSON events as they arrive into
 * a bounded line buffer. A watch that ends (server timeout, dropped
 * connection) is resumed from the last resourceVersion seen; 410 Gone, as
 * an answer or as an ERROR event, means history is gone and the collection
 * is listed again. Failures back off with jitter, and after a few in a row
 * the informer relists. The index of delivered objects turns every list and
 * watch into a true mirror: a relist delivers DELETED for objects that
 * vanished meanwhile, and an event the callbacks already saw (a reconnect
 * replaying an ADDED) is not delivered twice.
 *
 * A DELETED that a relist reveals carries what the index knew of the
 * object: kind and apiVersion (from the list), and metadata name,
 * namespace, uid and resourceVersion.
 */
#include <stdio.h>
#include <string.h>

#include "kapi/kapi_internal.h"
#include "util/sp_alloc.h"
#include "util/sp_log.h"

#define LIST_PAGE 500                /* objects per list page */
#define EVENT_MAX (16u << 20)        /* bytes of one watch event line */
#define RELIST_AFTER_FAILURES 3      /* watch failures in a row before a relist */
#define RV_MAX 128                   /* bytes of a resourceVersion */

/* How a watch ended. */
typedef enum watch_end {
    WATCH_EOF,       /* the server ended it: resume */
    WATCH_GONE,      /* 410: relist */
    WATCH_FAILED,    /* back off, then resume */
    WATCH_STOPPED,
} watch_end;

struct kapi_informer {
    kapi *k;
    char *path;
    char *selector;             /* NULL: everything */
    void (*on_event)(void *ctx, kapi_event ev, const cJSON *obj);
    void (*on_synced)(void *ctx);
    void *ctx;
    int watch_timeout_s;

    pthread_t thread;
    bool started;
    atomic_bool stop;
    atomic_bool synced;
    kapi_runner run;

    kapi_index index;
    uint64_t gen;               /* the current list's number */
    char rv[RV_MAX];            /* resume watches from here */
    char *kind;                 /* of the items, from the list ("Pod") */
    char *api_version;
    sp_rng rng;
    unsigned failures;          /* in a row */

    /* The watch being read. */
    sp_buf line;
    bool gone;                  /* an ERROR event with code 410 */
    bool broken;                /* a malformed event, or one too long */
    size_t events;              /* events read from this watch */
};

/* ------------------------------------------------------------------------ */
/* Objects and delivery                                                       */
/* ------------------------------------------------------------------------ */

static const char *meta_str(const cJSON *obj, const char *field)
{
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(meta, field);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* "namespace/name" of obj into buf; false when obj has no name or the key
 * does not fit. */
static bool object_key(const cJSON *obj, char *buf, size_t len)
{
    const char *ns = meta_str(obj, "namespace");
    const char *name = meta_str(obj, "name");
    int n;

    if (!name || !*name)
        return false;
    n = snprintf(buf, len, "%s/%s", ns ? ns : "", name);
    return n > 0 && (size_t)n < len;
}

static void set_rv(kapi_informer *inf, const char *rv)
{
    int n;

    if (!rv || !*rv)
        return;
    n = snprintf(inf->rv, sizeof(inf->rv), "%s", rv);
    if (n < 0 || (size_t)n >= sizeof(inf->rv))
        inf->rv[0] = '\0';   /* nonsense from the server: relist */
}

/* The last state the index knew of an object that is gone, as an object. */
static cJSON *tombstone(const kapi_informer *inf, const kapi_entry *e)
{
    const char *slash = strchr(e->key, '/');
    cJSON *obj = cJSON_CreateObject(), *meta = cJSON_AddObjectToObject(obj, "metadata");
    char *ns = sp_strndup(e->key, slash ? (size_t)(slash - e->key) : 0);
    bool ok = meta && ns;

    if (ok && inf->kind)
        ok = cJSON_AddStringToObject(obj, "kind", inf->kind) != NULL;
    if (ok && inf->api_version)
        ok = cJSON_AddStringToObject(obj, "apiVersion", inf->api_version) != NULL;
    ok = ok && cJSON_AddStringToObject(meta, "name", slash ? slash + 1 : e->key);
    if (ok && *ns)
        ok = cJSON_AddStringToObject(meta, "namespace", ns) != NULL;
    ok = ok && cJSON_AddStringToObject(meta, "uid", e->uid) &&
         cJSON_AddStringToObject(meta, "resourceVersion", e->rv);
    sp_free(ns);
    if (!ok) {
        cJSON_Delete(obj);
        return NULL;
    }
    return obj;
}

static void log_nomem(const kapi_informer *inf, const char *what)
{
    sp_log(SP_LOG_ERROR, "kapi_informer_nomem", "path", inf->path, "while", what, NULL);
}

/* Deliver DELETED for e and forget it. */
static void deliver_tombstone(kapi_informer *inf, kapi_entry *e)
{
    cJSON *obj = tombstone(inf, e);
    char *key = sp_strdup(e->key);

    if (obj)
        inf->on_event(inf->ctx, KAPI_DELETED, obj);
    else
        log_nomem(inf, "reporting a deletion");
    cJSON_Delete(obj);
    if (key)
        (void)kapi_index_del(&inf->index, key);
    sp_free(key);
}

/*
 * obj exists now (a list item, an ADDED or MODIFIED event): deliver what
 * changed for the callbacks. A known object with the same uid and
 * resourceVersion is a duplicate; a new uid under a known name is a
 * deletion and an addition.
 */
static void saw(kapi_informer *inf, const cJSON *obj)
{
    const char *uid = meta_str(obj, "uid"), *rv = meta_str(obj, "resourceVersion");
    char key[512];
    kapi_entry *e;

    if (!object_key(obj, key, sizeof(key)))
        return;
    uid = uid ? uid : "";
    rv = rv ? rv : "";
    e = kapi_index_find(&inf->index, key);
    if (e && strcmp(e->uid, uid) != 0) {
        deliver_tombstone(inf, e);
        e = NULL;
    }
    if (e && strcmp(e->rv, rv) == 0) {
        e->gen = inf->gen;
        return;
    }
    if (kapi_index_put(&inf->index, key, uid, rv, inf->gen) != SP_OK)
        log_nomem(inf, "indexing an object");
    inf->on_event(inf->ctx, e ? KAPI_MODIFIED : KAPI_ADDED, obj);
}

/* obj was deleted: deliver it when the callbacks know it. */
static void gone(kapi_informer *inf, const cJSON *obj)
{
    char key[512];

    if (!object_key(obj, key, sizeof(key)) || !kapi_index_del(&inf->index, key))
        return;
    inf->on_event(inf->ctx, KAPI_DELETED, obj);
}

/* After a complete list: everything the list did not see is gone. */
static void sweep(kapi_informer *inf)
{
    for (size_t i = inf->index.n; i-- > 0;) {
        if (i < inf->index.n && inf->index.entries[i].gen != inf->gen)
            deliver_tombstone(inf, &inf->index.entries[i]);
    }
}

/* ------------------------------------------------------------------------ */
/* List                                                                       */
/* ------------------------------------------------------------------------ */

/* "?limit=N[&continue=C][&labelSelector=S]" after the path into url. */
static sp_rc list_url(const kapi_informer *inf, const char *cont, sp_buf *url)
{
    sp_rc rc = sp_buf_printf(url, "%s?limit=%d", inf->path, LIST_PAGE);

    if (!rc && cont) {
        rc = sp_buf_puts(url, "&continue=");
        if (!rc)
            rc = kapi_escape(url, cont);
    }
    if (!rc && inf->selector) {
        rc = sp_buf_puts(url, "&labelSelector=");
        if (!rc)
            rc = kapi_escape(url, inf->selector);
    }
    return rc;
}

/* Remember the items' kind and apiVersion from the list's ("PodList"). */
static void note_kind(kapi_informer *inf, const cJSON *list)
{
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(list, "kind");
    const cJSON *api = cJSON_GetObjectItemCaseSensitive(list, "apiVersion");
    size_t n;

    if (inf->kind || !cJSON_IsString(kind))
        return;
    n = strlen(kind->valuestring);
    if (n > 4 && strcmp(kind->valuestring + n - 4, "List") == 0)
        inf->kind = sp_strndup(kind->valuestring, n - 4);
    if (cJSON_IsString(api))
        inf->api_version = sp_strdup(api->valuestring);
}

/* List items do not carry kind and apiVersion; watch events do. Add them so
 * that callbacks see the same shape from both. */
static void complete_item(const kapi_informer *inf, cJSON *item)
{
    if (inf->kind && !cJSON_HasObjectItem(item, "kind"))
        (void)cJSON_AddStringToObject(item, "kind", inf->kind);
    if (inf->api_version && !cJSON_HasObjectItem(item, "apiVersion"))
        (void)cJSON_AddStringToObject(item, "apiVersion", inf->api_version);
}

/* Deliver one page; its continue token (owned) in *cont, NULL on the last. */
static sp_rc take_page(kapi_informer *inf, const kapi_result *r, char **cont)
{
    cJSON *list = cJSON_ParseWithLength(r->body, r->len);
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(list, "items");
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(list, "metadata");
    const cJSON *next = cJSON_GetObjectItemCaseSensitive(meta, "continue");
    const cJSON *rv = cJSON_GetObjectItemCaseSensitive(meta, "resourceVersion");
    cJSON *item;
    sp_rc rc = SP_OK;

    *cont = NULL;
    if (!list || !cJSON_IsObject(list) || !(cJSON_IsArray(items) || cJSON_IsNull(items) ||
                                            !items)) {
        cJSON_Delete(list);
        return SP_EPARSE;
    }
    note_kind(inf, list);
    cJSON_ArrayForEach(item, items) {
        complete_item(inf, item);
        saw(inf, item);
    }
    if (cJSON_IsString(next) && next->valuestring[0]) {
        *cont = sp_strdup(next->valuestring);
        if (!*cont)
            rc = SP_ENOMEM;
    }
    else if (cJSON_IsString(rv)) {
        set_rv(inf, rv->valuestring);
    }
    cJSON_Delete(list);
    return rc;
}

static void log_failure(const kapi_informer *inf, const char *event, const char *why)
{
    sp_log(SP_LOG_WARN, event, "path", inf->path, "error", why, NULL);
}

/* One GET of a page into r; false (logged) unless it answered 200. */
static bool get_page(kapi_informer *inf, const char *cont, kapi_result *r, bool *expired)
{
    kapi_call call = { .method = "GET", .run = &inf->run };
    sp_buf url;
    sp_rc rc;

    *expired = false;
    sp_buf_init(&url, KAPI_URL_MAX);
    rc = list_url(inf, cont, &url);
    call.path = url.data;
    if (!rc)
        rc = kapi_do(inf->k, &call, r);
    sp_buf_free(&url);
    if (rc) {
        log_failure(inf, "kapi_list_failed", sp_strerror(rc));
        return false;
    }
    if (r->outcome == KAPI_OK)
        return true;
    if (!atomic_load(&inf->stop))
        log_failure(inf, "kapi_list_failed", r->message);
    *expired = r->outcome == KAPI_GONE;
    kapi_result_free(r);
    return false;
}

/* List everything, page by page, delivering as it goes; then the deletions
 * and on_synced. False when it failed (the caller backs off). */
static bool list_all(kapi_informer *inf)
{
    char *cont = NULL;
    kapi_result r;
    bool expired, ok = true;

    inf->gen++;
    inf->rv[0] = '\0';
    do {
        sp_rc rc;
        if (!get_page(inf, cont, &r, &expired)) {
            /* An expired continue token: start over from a fresh list. */
            if (!expired || !cont || atomic_load(&inf->stop)) {
                ok = false;
                break;
            }
            sp_free(cont);
            cont = NULL;
            inf->gen++;
            continue;
        }
        sp_free(cont);
        rc = take_page(inf, &r, &cont);
        kapi_result_free(&r);
        if (rc) {
            log_failure(inf, "kapi_list_failed", rc == SP_EPARSE ? "the answer is not a list"
                                                                 : sp_strerror(rc));
            ok = false;
        }
    } while (ok && cont);
    sp_free(cont);
    if (!ok || !inf->rv[0]) {
        if (ok)
            log_failure(inf, "kapi_list_failed", "the list has no resourceVersion");
        return false;
    }
    sweep(inf);
    atomic_store(&inf->synced, true);
    if (inf->on_synced)
        inf->on_synced(inf->ctx);
    return true;
}

/* ------------------------------------------------------------------------ */
/* Watch                                                                      */
/* ------------------------------------------------------------------------ */

static void handle_error_event(kapi_informer *inf, const cJSON *status)
{
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(status, "code");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(status, "message");

    if (cJSON_IsNumber(code) && code->valueint == 410) {
        inf->gone = true;
        return;
    }
    inf->broken = true;
    log_failure(inf, "kapi_watch_error", cJSON_IsString(msg) ? msg->valuestring
                                                             : "an ERROR event");
}

/* One event line. False ends the watch. */
static bool handle_line(kapi_informer *inf, const char *text, size_t len)
{
    cJSON *ev = cJSON_ParseWithLength(text, len);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(ev, "type");
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(ev, "object");
    const char *t = cJSON_IsString(type) ? type->valuestring : "";

    if (!ev || !cJSON_IsObject(obj)) {
        inf->broken = true;
        log_failure(inf, "kapi_watch_error", ev ? "an event without an object"
                                                : "an event that is not JSON");
        cJSON_Delete(ev);
        return false;
    }
    inf->events++;
    if (strcmp(t, "ERROR") == 0) {
        handle_error_event(inf, obj);
    }
    else {
        set_rv(inf, meta_str(obj, "resourceVersion"));
        if (strcmp(t, "ADDED") == 0 || strcmp(t, "MODIFIED") == 0)
            saw(inf, obj);
        else if (strcmp(t, "DELETED") == 0)
            gone(inf, obj);
        /* BOOKMARK: the resourceVersion was all it had to say. */
    }
    cJSON_Delete(ev);
    return !inf->gone && !inf->broken;
}

/* Blank lines (keep-alives) are skipped. */
static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

/* The watch's body as it arrives: split into lines, each an event. */
static bool watch_sink(void *ctx, const char *data, size_t len)
{
    kapi_informer *inf = ctx;

    while (len) {
        const char *nl = memchr(data, '\n', len);
        size_t take = nl ? (size_t)(nl - data) : len;
        if (sp_buf_append(&inf->line, data, take) != SP_OK) {
            inf->broken = true;
            log_failure(inf, "kapi_watch_error", "an event larger than the limit");
            return false;
        }
        if (!nl)
            break;
        data += take + 1;
        len -= take + 1;
        if (!blank(inf->line.data ? inf->line.data : "", inf->line.len) &&
            !handle_line(inf, inf->line.data, inf->line.len))
            return false;
        sp_buf_reset(&inf->line);
        if (atomic_load(&inf->stop))
            return false;
    }
    return true;
}

static sp_rc watch_url(const kapi_informer *inf, sp_buf *url)
{
    sp_rc rc = sp_buf_printf(url, "%s?watch=1&resourceVersion=", inf->path);

    if (!rc)
        rc = kapi_escape(url, inf->rv);
    if (!rc)
        rc = sp_buf_printf(url, "&allowWatchBookmarks=true&timeoutSeconds=%d",
                           inf->watch_timeout_s);
    if (!rc && inf->selector) {
        rc = sp_buf_puts(url, "&labelSelector=");
        if (!rc)
            rc = kapi_escape(url, inf->selector);
    }
    return rc;
}

static watch_end watch(kapi_informer *inf)
{
    kapi_call call = {
        .method = "GET",
        .timeout_ms = (inf->watch_timeout_s + 30) * 1000,
        .max_attempts = 1,
        .sink = watch_sink,
        .sink_ctx = inf,
        .run = &inf->run,
    };
    kapi_result r;
    sp_buf url;
    watch_end end;
    sp_rc rc;

    inf->gone = inf->broken = false;
    inf->events = 0;
    sp_buf_reset(&inf->line);
    sp_buf_init(&url, KAPI_URL_MAX);
    rc = watch_url(inf, &url);
    call.path = url.data;
    if (!rc)
        rc = kapi_do(inf->k, &call, &r);
    sp_buf_free(&url);
    if (rc) {
        log_failure(inf, "kapi_watch_error", sp_strerror(rc));
        return atomic_load(&inf->stop) ? WATCH_STOPPED : WATCH_FAILED;
    }
    if (atomic_load(&inf->stop))
        end = WATCH_STOPPED;
    else if (inf->gone || r.outcome == KAPI_GONE)
        end = WATCH_GONE;
    else if (inf->broken)
        end = WATCH_FAILED;
    else if (r.outcome == KAPI_OK)
        end = WATCH_EOF;
    else {
        log_failure(inf, "kapi_watch_error", r.message);
        end = WATCH_FAILED;
    }
    /* A connection cut in the middle of a watch that was delivering is the
     * server going away, not a failing request: resume. */
    if (end == WATCH_FAILED && r.outcome == KAPI_TRANSPORT && inf->events && !inf->broken)
        end = WATCH_EOF;
    kapi_result_free(&r);
    return end;
}

/* ------------------------------------------------------------------------ */
/* The thread                                                                 */
/* ------------------------------------------------------------------------ */

/* Wait after another failure in a row. False: stopped. */
static bool back_off(kapi_informer *inf)
{
    inf->failures++;
    return kapi_sleep(&inf->run, kapi_backoff_ms(inf->failures, &inf->rng));
}

static void *informer_main(void *p)
{
    kapi_informer *inf = p;
    bool need_list = true;

    while (!atomic_load(&inf->stop)) {
        /* Without a resourceVersion to resume from, only a list is exact. */
        if (need_list || !inf->rv[0]) {
            if (!list_all(inf)) {
                if (!back_off(inf))
                    break;
                continue;
            }
            need_list = false;
            inf->failures = 0;
        }
        switch (watch(inf)) {
        case WATCH_STOPPED:
            return NULL;
        case WATCH_GONE:
            sp_log(SP_LOG_INFO, "kapi_relist", "path", inf->path, "reason",
                   "resourceVersion too old (410 Gone)", NULL);
            need_list = true;
            break;
        case WATCH_EOF:
            /* A watch that ends with nothing to say may be a server that
             * refuses it politely: pace those. */
            if (inf->events)
                inf->failures = 0;
            else if (!back_off(inf))
                return NULL;
            break;
        case WATCH_FAILED:
            if (!back_off(inf))
                return NULL;
            if (inf->failures >= RELIST_AFTER_FAILURES)
                need_list = true;
            break;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Public                                                                     */
/* ------------------------------------------------------------------------ */

static void informer_free(kapi_informer *inf)
{
    if (inf->run.multi)
        (void)curl_multi_cleanup(inf->run.multi);
    if (inf->run.easy)
        curl_easy_cleanup(inf->run.easy);
    kapi_index_free(&inf->index);
    sp_buf_free(&inf->line);
    sp_free(inf->path);
    sp_free(inf->selector);
    sp_free(inf->kind);
    sp_free(inf->api_version);
    sp_free(inf);
}

static sp_rc check_config(const kapi_informer_config *cfg, sp_err *err)
{
    if (!cfg || !cfg->path || cfg->path[0] != '/')
        return sp_err_set(err, SP_EINVAL, "informer: path must be a collection path "
                          "starting with '/' (\"/api/v1/pods\")");
    if (strchr(cfg->path, '?') || strlen(cfg->path) >= KAPI_PATH_MAX)
        return sp_err_set(err, SP_EINVAL, "informer: path \"%s\" must be shorter than %d "
                          "bytes and carry no query (give label_selector instead)",
                          cfg->path, KAPI_PATH_MAX);
    if (!cfg->on_event)
        return sp_err_set(err, SP_EINVAL, "informer %s: on_event is required", cfg->path);
    if (cfg->watch_timeout_s < 0 || cfg->watch_timeout_s > 3600)
        return sp_err_set(err, SP_EINVAL, "informer %s: watch_timeout_s %d is out of range "
                          "(0-3600; 0: 300)", cfg->path, cfg->watch_timeout_s);
    return SP_OK;
}

sp_rc kapi_informer_start(kapi *k, const kapi_informer_config *cfg,
                          kapi_informer **out, sp_err *err)
{
    kapi_informer *inf;
    sp_rc rc;

    *out = NULL;
    rc = check_config(cfg, err);
    if (rc)
        return rc;
    if (!k)
        return sp_err_set(err, SP_EINVAL, "informer %s: no client", cfg->path);
    inf = sp_calloc(1, sizeof(*inf));
    if (!inf)
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    inf->k = k;
    inf->on_event = cfg->on_event;
    inf->on_synced = cfg->on_synced;
    inf->ctx = cfg->ctx;
    inf->watch_timeout_s = cfg->watch_timeout_s ? cfg->watch_timeout_s : 300;
    atomic_init(&inf->stop, false);
    atomic_init(&inf->synced, false);
    kapi_index_init(&inf->index);
    sp_buf_init(&inf->line, EVENT_MAX);
    sp_rng_seed(&inf->rng, (uint64_t)(uintptr_t)inf ^ (uint64_t)time(NULL));
    inf->path = sp_strdup(cfg->path);
    inf->selector = cfg->label_selector ? sp_strdup(cfg->label_selector) : NULL;
    inf->run.stop = &inf->stop;
    inf->run.multi = curl_multi_init();
    inf->run.easy = curl_easy_init();
    if (!inf->path || (cfg->label_selector && !inf->selector) || !inf->run.multi ||
        !inf->run.easy) {
        informer_free(inf);
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    }
    if (pthread_create(&inf->thread, NULL, informer_main, inf) != 0) {
        informer_free(inf);
        return sp_err_set(err, SP_ENOMEM, "informer %s: cannot start a thread", cfg->path);
    }
    inf->started = true;
    *out = inf;
    return SP_OK;
}

bool kapi_informer_synced(const kapi_informer *inf)
{
    return inf && atomic_load(&((kapi_informer *)inf)->synced);
}

void kapi_informer_stop(kapi_informer *inf)
{
    if (!inf)
        return;
    atomic_store(&inf->stop, true);
    (void)curl_multi_wakeup(inf->run.multi);
    if (inf->started)
        pthread_join(inf->thread, NULL);
    informer_free(inf);
}
