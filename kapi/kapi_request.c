/*
 * Requests to the API server on libcurl: see kapi.h. An idle easy handle
 * keeps its connection open and goes back to a small pool for the next
 * request, so keep-alive connections are reused; every handle shares DNS
 * answers and TLS sessions through one CURLSH (with a lock per kind of
 * shared data), so a new connection resumes a session instead of a full
 * handshake. HTTP/1.1 is used: with the easy interface one handle cannot
 * multiplex HTTP/2 streams anyway, and each handle owns its connection.
 * An answer's body is gathered in a buffer capped at KAPI_MAX_RESPONSE; an
 * informer's watch streams it to a sink instead. Transport failures, 429 and
 * 500/502/503/504 are retried with full-jitter exponential backoff, or after
 * the server's Retry-After; a 401 with a token file re-reads the token once
 * at once (it may just have rotated).
 */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "kapi/kapi_internal.h"
#include "util/sp_alloc.h"
#include "util/sp_log.h"
#include "util/sp_stop.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif
#define USER_AGENT "streams-placer/" PACKAGE_VERSION

/* One attempt, shared with curl's callbacks. */
typedef struct xfer {
    const kapi_call *call;
    CURL *h;
    sp_buf body;
    long status;                /* known from the first body byte */
    long retry_after;           /* seconds, -1: none */
    bool too_large;             /* the body went over its cap */
    bool nomem;
    bool sink_failed;           /* the sink refused data */
    bool stopped;               /* the runner was stopped */
    char errbuf[CURL_ERROR_SIZE];
} xfer;

/* ------------------------------------------------------------------------ */
/* Paths                                                                      */
/* ------------------------------------------------------------------------ */

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

static const char hex_digits[] = "0123456789ABCDEF";

sp_rc kapi_escape(sp_buf *b, const char *s)
{
    sp_rc rc = SP_OK;

    for (const unsigned char *c = (const unsigned char *)s; *c && !rc; c++) {
        if (unreserved(*c)) {
            rc = sp_buf_append(b, c, 1);
        }
        else {
            char esc[3] = { '%', hex_digits[*c >> 4], hex_digits[*c & 15] };
            rc = sp_buf_append(b, esc, sizeof(esc));
        }
    }
    return rc;
}

/* Append c at *pos when it leaves room for the NUL. */
static bool put(char *buf, size_t len, size_t *pos, char c)
{
    if (*pos + 1 >= len)
        return false;
    buf[(*pos)++] = c;
    return true;
}

/* Append one escaped segment. */
static bool put_segment(char *buf, size_t len, size_t *pos, const char *seg)
{
    bool ok = put(buf, len, pos, '/');

    for (const unsigned char *c = (const unsigned char *)seg; *c && ok; c++) {
        if (unreserved(*c))
            ok = put(buf, len, pos, (char)*c);
        else
            ok = put(buf, len, pos, '%') && put(buf, len, pos, hex_digits[*c >> 4]) &&
                 put(buf, len, pos, hex_digits[*c & 15]);
    }
    return ok;
}

sp_rc kapi_path(char *buf, size_t len, ...)
{
    const char *seg;
    size_t pos = 0;
    sp_rc rc = SP_OK;
    va_list ap;

    if (!buf || !len)
        return SP_EINVAL;
    va_start(ap, len);
    while (!rc && (seg = va_arg(ap, const char *))) {
        /* An empty, "." or ".." segment would change which object is meant. */
        if (!*seg || strcmp(seg, ".") == 0 || strcmp(seg, "..") == 0)
            rc = SP_EINVAL;
        else if (!put_segment(buf, len, &pos, seg))
            rc = SP_ELIMIT;
    }
    va_end(ap);
    if (!rc && pos == 0 && !put(buf, len, &pos, '/'))
        rc = SP_ELIMIT;
    buf[rc ? 0 : pos] = '\0';
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Connections                                                                */
/* ------------------------------------------------------------------------ */

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *p)
{
    kapi *k = p;

    (void)h;
    (void)access;
    if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
        pthread_mutex_lock(&k->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *p)
{
    kapi *k = p;

    (void)h;
    if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
        pthread_mutex_unlock(&k->share_locks[data]);
}

sp_rc kapi_conn_init(kapi *k, sp_err *err)
{
    CURLSHcode sc = CURLSHE_OK;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return sp_err_set(err, SP_EINTERNAL, "libcurl could not be initialised");
    k->curl_ready = true;
    if (pthread_mutex_init(&k->token_lock, NULL) != 0)
        return sp_err_set(err, SP_ENOMEM, "out of memory (token lock)");
    k->token_lock_ready = true;
    if (pthread_mutex_init(&k->pool_lock, NULL) != 0)
        return sp_err_set(err, SP_ENOMEM, "out of memory (pool lock)");
    k->pool_lock_ready = true;
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) {
        if (pthread_mutex_init(&k->share_locks[i], NULL) != 0) {
            for (int j = 0; j < i; j++)
                pthread_mutex_destroy(&k->share_locks[j]);
            return sp_err_set(err, SP_ENOMEM, "out of memory (share locks)");
        }
    }
    k->share_locks_ready = true;
    k->share = curl_share_init();
    if (!k->share)
        return sp_err_set(err, SP_ENOMEM, "out of memory (curl share)");
    sc = curl_share_setopt(k->share, CURLSHOPT_LOCKFUNC, share_lock);
    if (!sc)
        sc = curl_share_setopt(k->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    if (!sc)
        sc = curl_share_setopt(k->share, CURLSHOPT_USERDATA, k);
    if (!sc)
        sc = curl_share_setopt(k->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    if (!sc)
        sc = curl_share_setopt(k->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    if (sc)
        return sp_err_set(err, SP_EINTERNAL, "libcurl share: %s", curl_share_strerror(sc));
    return SP_OK;
}

void kapi_conn_free(kapi *k)
{
    for (size_t i = 0; i < k->n_pool; i++)
        curl_easy_cleanup(k->pool[i]);
    k->n_pool = 0;
    if (k->share)
        (void)curl_share_cleanup(k->share);
    k->share = NULL;
    if (k->share_locks_ready)
        for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
            pthread_mutex_destroy(&k->share_locks[i]);
    if (k->pool_lock_ready)
        pthread_mutex_destroy(&k->pool_lock);
    if (k->token_lock_ready)
        pthread_mutex_destroy(&k->token_lock);
    if (k->curl_ready)
        curl_global_cleanup();
    k->share_locks_ready = k->pool_lock_ready = k->token_lock_ready = k->curl_ready = false;
}

static CURL *pool_get(kapi *k)
{
    CURL *h = NULL;

    pthread_mutex_lock(&k->pool_lock);
    if (k->n_pool)
        h = k->pool[--k->n_pool];
    pthread_mutex_unlock(&k->pool_lock);
    return h ? h : curl_easy_init();
}

static void pool_put(kapi *k, CURL *h)
{
    pthread_mutex_lock(&k->pool_lock);
    if (k->n_pool < KAPI_POOL_MAX) {
        k->pool[k->n_pool++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&k->pool_lock);
    if (h)
        curl_easy_cleanup(h);
}

/* ------------------------------------------------------------------------ */
/* One attempt                                                                */
/* ------------------------------------------------------------------------ */

static size_t on_header(char *data, size_t size, size_t n, void *p)
{
    xfer *x = p;
    size_t len = size * n;
    int64_t secs;

    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        x->retry_after = -1;   /* a new answer (after a 100 Continue) */
    }
    else if (len > 12 && strncasecmp(data, "Retry-After:", 12) == 0) {
        char *v = kapi_trim_dup(data + 12, len - 12);
        /* Seconds only: an HTTP date falls back to our own backoff. */
        if (v && sp_parse_int64(v, 0, INT32_MAX, &secs) == SP_OK)
            x->retry_after = (long)secs;
        sp_free(v);
    }
    return len;
}

static size_t on_write(char *data, size_t size, size_t n, void *p)
{
    xfer *x = p;
    size_t len = size * n;
    sp_rc rc;

    if (!x->status)
        (void)curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->status);
    if (x->call->sink && x->status / 100 == 2) {
        if (x->call->sink(x->call->sink_ctx, data, len))
            return len;
        x->sink_failed = true;
        return 0;
    }
    rc = sp_buf_append(&x->body, data, len);
    if (rc == SP_ELIMIT)
        x->too_large = true;
    else if (rc)
        x->nomem = true;
    return rc ? 0 : len;
}

static bool method_ok(const char *m)
{
    static const char *const methods[] = { "GET", "POST", "PUT", "PATCH", "DELETE" };

    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strcmp(m, methods[i]) == 0)
            return true;
    return false;
}

/* Append line to *list; false when memory runs out (*list is kept). */
static bool add_header(struct curl_slist **list, const char *line)
{
    struct curl_slist *grown = curl_slist_append(*list, line);

    if (!grown)
        return false;
    *list = grown;
    return true;
}

/* The request's headers; NULL when memory runs out. A body without a
 * content type is JSON (never curl's form encoding). */
static struct curl_slist *make_headers(const kapi_call *c, const char *token)
{
    const char *type = c->content_type ? c->content_type
                                       : c->body ? "application/json" : NULL;
    struct curl_slist *list = NULL;
    sp_buf line;
    bool ok;

    sp_buf_init(&line, KAPI_URL_MAX + KAPI_TOKEN_MAX);
    ok = add_header(&list, "Accept: application/json") && add_header(&list, "Expect:");
    if (ok && type)
        ok = sp_buf_printf(&line, "Content-Type: %s", type) == SP_OK &&
             add_header(&list, line.data);
    sp_buf_reset(&line);
    if (ok && token)
        ok = sp_buf_printf(&line, "Authorization: Bearer %s", token) == SP_OK &&
             add_header(&list, line.data);
    if (line.data)
        memset(line.data, 0, line.len);   /* the token */
    sp_buf_free(&line);
    if (!ok) {
        curl_slist_free_all(list);
        return NULL;
    }
    return list;
}

#define SET(opt, val)                                                         \
    do {                                                                      \
        if (e == CURLE_OK)                                                    \
            e = curl_easy_setopt(h, opt, val);                                \
    } while (0)

static CURLcode set_tls(kapi *k, CURL *h)
{
    struct curl_blob blob = { .flags = CURL_BLOB_NOCOPY };
    CURLcode e = CURLE_OK;

    SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (k->insecure) {
        SET(CURLOPT_SSL_VERIFYPEER, 0L);
        SET(CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (k->ca) {
        blob.data = k->ca;
        blob.len = k->ca_len;
        SET(CURLOPT_CAINFO_BLOB, &blob);
    }
    if (k->cert && k->key) {
        blob.data = k->cert;
        blob.len = k->cert_len;
        SET(CURLOPT_SSLCERT_BLOB, &blob);
        SET(CURLOPT_SSLCERTTYPE, "PEM");
        blob.data = k->key;
        blob.len = k->key_len;
        SET(CURLOPT_SSLKEY_BLOB, &blob);
        SET(CURLOPT_SSLKEYTYPE, "PEM");
    }
    return e;
}

static CURLcode set_options(kapi *k, xfer *x, const char *url, struct curl_slist *hdrs)
{
    const kapi_call *c = x->call;
    CURL *h = x->h;
    long timeout = c->timeout_ms > 0 ? c->timeout_ms : c->timeout_ms < 0 ? 0 : k->timeout_ms;
    long connect = timeout && timeout < KAPI_DEFAULT_TIMEOUT_MS ? timeout
                                                                : KAPI_DEFAULT_TIMEOUT_MS;
    CURLcode e = CURLE_OK;

    curl_easy_reset(h);
    SET(CURLOPT_SHARE, k->share);
    SET(CURLOPT_URL, url);
    SET(CURLOPT_PROTOCOLS_STR, "https");
    SET(CURLOPT_PATH_AS_IS, 1L);
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_TCP_KEEPIDLE, 30L);
    SET(CURLOPT_TCP_KEEPINTVL, 15L);
    SET(CURLOPT_TIMEOUT_MS, timeout);
    SET(CURLOPT_CONNECTTIMEOUT_MS, connect);
    SET(CURLOPT_ACCEPT_ENCODING, "");
    SET(CURLOPT_USERAGENT, USER_AGENT);
    SET(CURLOPT_HTTPHEADER, hdrs);
    SET(CURLOPT_ERRORBUFFER, x->errbuf);
    SET(CURLOPT_WRITEFUNCTION, on_write);
    SET(CURLOPT_WRITEDATA, x);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, x);
    /* The method as given; a body only when there is one (a bodiless POST
     * still says Content-Length: 0). */
    if (strcmp(c->method, "GET") == 0 && !c->body)
        SET(CURLOPT_HTTPGET, 1L);
    else
        SET(CURLOPT_CUSTOMREQUEST, c->method);
    if (c->body || strcmp(c->method, "POST") == 0) {
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(c->body ? c->len : 0));
        SET(CURLOPT_POSTFIELDS, c->body ? c->body : "");
    }
    if (e == CURLE_OK)
        e = set_tls(k, h);
    return e;
}

#undef SET

/* Run the transfer: in this thread, or on the runner's multi handle where a
 * stop (curl_multi_wakeup) ends it at once. */
static CURLcode perform(xfer *x)
{
    kapi_runner *run = x->call->run;
    CURLcode res = CURLE_FAILED_INIT;
    bool done = false;
    int running = 1;

    if (!run)
        return curl_easy_perform(x->h);
    if (curl_multi_add_handle(run->multi, x->h) != CURLM_OK)
        return CURLE_OUT_OF_MEMORY;
    while (!done) {
        CURLMsg *m;
        int left;
        if (atomic_load(run->stop)) {
            x->stopped = true;
            res = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        if (curl_multi_perform(run->multi, &running) != CURLM_OK)
            break;
        while ((m = curl_multi_info_read(run->multi, &left))) {
            if (m->msg == CURLMSG_DONE && m->easy_handle == x->h) {
                res = m->data.result;
                done = true;
            }
        }
        if (!done && !running)
            break;
        if (!done && curl_multi_poll(run->multi, NULL, 0, 1000, NULL) != CURLM_OK)
            break;
    }
    (void)curl_multi_remove_handle(run->multi, x->h);
    return res;
}

/* Copy text into out->message (cut when long). */
static void set_message(kapi_result *out, const char *text)
{
    int n = snprintf(out->message, sizeof(out->message), "%s", text);

    if (n < 0)
        out->message[0] = '\0';
}

static kapi_outcome outcome_of(long status)
{
    if (status >= 200 && status < 300)
        return KAPI_OK;
    if (status == 404)
        return KAPI_NOT_FOUND;
    if (status == 409)
        return KAPI_CONFLICT;
    if (status == 410)
        return KAPI_GONE;
    if (status == 429)
        return KAPI_THROTTLED;
    if (status >= 500 && status < 600)
        return KAPI_SERVER;
    /* Other 4xx, and what we never ask for (1xx, 3xx): not worth a retry. */
    return KAPI_CLIENT;
}

/* The message of a failed answer: the Status object's, or the status and
 * the start of the body. */
static void answer_message(kapi_result *out)
{
    cJSON *doc = out->len ? cJSON_ParseWithLength(out->body, out->len) : NULL;
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(doc, "message");
    char text[sizeof(out->message)];
    size_t i;
    int n;

    if (cJSON_IsString(msg) && msg->valuestring[0]) {
        set_message(out, msg->valuestring);
        cJSON_Delete(doc);
        return;
    }
    cJSON_Delete(doc);
    n = snprintf(text, sizeof(text), "HTTP %ld%s", out->status, out->len ? ": " : "");
    i = n < 0 ? 0 : (size_t)n;
    for (size_t b = 0; b < out->len && i + 1 < sizeof(text) && b < 200; b++)
        text[i++] = (unsigned char)out->body[b] < ' ' ? ' ' : out->body[b];
    text[i] = '\0';
    set_message(out, text);
}

/* Fill out from one attempt's outcome. */
static void classify(xfer *x, CURLcode res, kapi_result *out)
{
    char text[sizeof(out->message)];
    int n;

    out->status = 0;
    (void)curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &out->status);
    out->len = x->body.len;
    out->body = sp_buf_take(&x->body);
    if (x->stopped) {
        out->outcome = KAPI_TRANSPORT;
        set_message(out, "stopped");
    }
    else if (x->too_large) {
        out->outcome = KAPI_TRANSPORT;
        n = snprintf(text, sizeof(text), "the answer is larger than %zu bytes",
                     x->body.max);
        set_message(out, n < 0 ? "the answer is too large" : text);
    }
    else if (res != CURLE_OK) {
        out->outcome = KAPI_TRANSPORT;
        out->status = 0;
        set_message(out, x->sink_failed ? "the receiver ended the transfer"
                         : x->errbuf[0] ? x->errbuf : curl_easy_strerror(res));
    }
    else {
        out->outcome = outcome_of(out->status);
        if (out->outcome != KAPI_OK)
            answer_message(out);
    }
}

/* One attempt of call on handle h, into out (which it resets). */
static sp_rc attempt(kapi *k, const kapi_call *call, CURL *h, const char *url,
                     kapi_result *out, long *retry_after, bool *final)
{
    xfer x = { .call = call, .h = h, .retry_after = -1 };
    struct curl_slist *hdrs = NULL;
    char *token = NULL;
    bool changed;
    long connects = 0;
    CURLcode res;
    sp_rc rc;

    kapi_result_free(out);
    sp_buf_init(&x.body, call->sink ? KAPI_ERROR_BODY_MAX : k->max_response);
    rc = kapi_token_get(k, false, &token, &changed);
    if (rc)
        goto out;
    hdrs = make_headers(call, token);
    if (!hdrs) {
        rc = SP_ENOMEM;
        goto out;
    }
    res = set_options(k, &x, url, hdrs);
    if (res == CURLE_OUT_OF_MEMORY) {
        rc = SP_ENOMEM;
        goto out;
    }
    if (res == CURLE_OK)
        res = perform(&x);
    /* The handle outlives x (pooled): it must not keep pointers into it. */
    (void)curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    (void)curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    if (curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK && connects > 0)
        atomic_fetch_add(&k->connects, (unsigned long)connects);
    if (x.nomem) {
        rc = SP_ENOMEM;
        goto out;
    }
    classify(&x, res, out);
    if (!out->body) {
        rc = SP_ENOMEM;
        goto out;
    }
    *retry_after = x.retry_after;
    *final = x.stopped || x.too_large || x.sink_failed;
out:
    if (token) {
        memset(token, 0, strlen(token));
        sp_free(token);
    }
    curl_slist_free_all(hdrs);
    sp_buf_free(&x.body);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Retries                                                                    */
/* ------------------------------------------------------------------------ */

int kapi_backoff_ms(unsigned attempt, sp_rng *rng)
{
    long cap = KAPI_BACKOFF_BASE_MS;

    for (unsigned i = 1; i < attempt && cap < KAPI_BACKOFF_CAP_MS; i++)
        cap *= 2;
    if (cap > KAPI_BACKOFF_CAP_MS)
        cap = KAPI_BACKOFF_CAP_MS;
    return (int)sp_rng_below(rng, (uint64_t)cap + 1);
}

bool kapi_sleep(kapi_runner *run, int ms)
{
    struct timespec now, end = sp_time_after_ms(CLOCK_MONOTONIC, ms);

    for (;;) {
        long long left;
        if (run && atomic_load(run->stop))
            return false;
        clock_gettime(CLOCK_MONOTONIC, &now);
        left = (long long)(end.tv_sec - now.tv_sec) * 1000 +
               (end.tv_nsec - now.tv_nsec) / 1000000;
        if (left <= 0)
            return true;
        if (run) {
            (void)curl_multi_poll(run->multi, NULL, 0, (int)left, NULL);
        }
        else {
            struct timespec d = { .tv_sec = left / 1000, .tv_nsec = left % 1000 * 1000000L };
            (void)nanosleep(&d, NULL);
        }
    }
}

static bool retryable(const kapi_result *r)
{
    switch (r->outcome) {
    case KAPI_TRANSPORT:
    case KAPI_THROTTLED:
        return true;
    case KAPI_SERVER:
        return r->status == 500 || r->status == 502 || r->status == 503 || r->status == 504;
    default:
        return false;
    }
}

/* This thread's generator for jitter, seeded on first use. */
static sp_rng *thread_rng(void)
{
    static _Thread_local sp_rng rng;
    static _Thread_local bool seeded;
    struct timespec now;

    if (!seeded) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        sp_rng_seed(&rng, (uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 32) ^
                              (uint64_t)(uintptr_t)&rng);
        seeded = true;
    }
    return &rng;
}

static void log_retry(const kapi_call *c, const kapi_result *r, int attempt, int wait_ms)
{
    char status[24], n[24], wait[24];

    if (snprintf(status, sizeof(status), "%ld", r->status) < 0 ||
        snprintf(n, sizeof(n), "%d", attempt) < 0 ||
        snprintf(wait, sizeof(wait), "%d", wait_ms) < 0)
        return;
    sp_log(SP_LOG_WARN, "kapi_retry", "method", c->method, "path", c->path, "status", status,
           "message", r->message, "attempt", n, "wait_ms", wait, NULL);
}

/* A 401 while the token comes from a file: re-read it now; true when it
 * changed, so the request is worth repeating at once. */
static sp_rc reauth(kapi *k, const kapi_result *r, bool *again)
{
    char *token = NULL;
    sp_rc rc;

    *again = false;
    if (r->status != 401 || !k->token_file)
        return SP_OK;
    rc = kapi_token_get(k, true, &token, again);
    sp_free(token);
    return rc;
}

static sp_rc check_call(const kapi *k, const kapi_call *c, const kapi_result *out)
{
    if (!k || !c || !out || !c->method || !c->path || c->path[0] != '/')
        return SP_EINVAL;
    if (!method_ok(c->method) || (c->body == NULL && c->len != 0))
        return SP_EINVAL;
    if (c->run && (!c->run->multi || !c->run->easy || !c->run->stop))
        return SP_EINVAL;
    return SP_OK;
}

/* The wait before retry n: the server's Retry-After (capped) when it gave
 * one, else our backoff. */
static int retry_wait_ms(long retry_after, int n)
{
    if (retry_after < 0)
        return kapi_backoff_ms((unsigned)n, thread_rng());
    if (retry_after > KAPI_RETRY_AFTER_CAP_S)
        retry_after = KAPI_RETRY_AFTER_CAP_S;
    return (int)retry_after * 1000;
}

int64_t kapi_now_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* The call as its next attempt makes it: the timeout cut to what is left
 * before the deadline. False when nothing is left. */
static bool before_deadline(const kapi *k, const kapi_call *call, kapi_call *cut)
{
    int timeout = call->timeout_ms > 0 ? call->timeout_ms : call->timeout_ms < 0 ? 0
                                                                                 : k->timeout_ms;
    int64_t left;

    *cut = *call;
    if (!call->deadline_ms)
        return true;
    left = call->deadline_ms - kapi_now_ms();
    if (left <= 0)
        return false;
    if (!timeout || left < timeout)
        cut->timeout_ms = left < INT32_MAX ? (int)left : INT32_MAX;
    return true;
}

/* The result of a call whose deadline passed before it could be sent. */
static sp_rc deadline_passed(kapi_result *out)
{
    kapi_result_free(out);
    out->outcome = KAPI_TRANSPORT;
    out->status = 0;
    out->len = 0;
    out->body = sp_strdup("");
    set_message(out, "deadline passed before the request could be sent");
    return out->body ? SP_OK : SP_ENOMEM;
}

/* Attempt call on h until it succeeds, fails for good, runs out of
 * attempts or time, or is stopped. */
static sp_rc attempts(kapi *k, const kapi_call *call, CURL *h, const char *url,
                      kapi_result *out)
{
    int max = call->max_attempts > 0 ? call->max_attempts : k->max_attempts;
    bool reauthed = false;

    for (int n = 1;; n++) {
        long retry_after = -1;
        bool again = false, final = false;
        int wait;
        kapi_call cut;
        sp_rc rc;

        if (!before_deadline(k, call, &cut))
            return n == 1 ? deadline_passed(out) : SP_OK;
        rc = attempt(k, &cut, h, url, out, &retry_after, &final);
        if (!rc && !reauthed)
            rc = reauth(k, out, &again);
        if (rc)
            return rc;
        if (again) {
            /* A fresh token: this try does not count. */
            reauthed = true;
            n--;
            continue;
        }
        if (final || !retryable(out) || n >= max)
            return SP_OK;
        wait = retry_wait_ms(retry_after, n);
        if (call->deadline_ms && kapi_now_ms() + wait >= call->deadline_ms)
            return SP_OK; /* no time for another attempt after the wait */
        log_retry(call, out, n, wait);
        if (!kapi_sleep(call->run, wait))
            return SP_OK;
    }
}

sp_rc kapi_do(kapi *k, const kapi_call *call, kapi_result *out)
{
    char *url = NULL;
    CURL *h;
    sp_buf b;
    sp_rc rc;

    if (out)
        memset(out, 0, sizeof(*out));
    rc = check_call(k, call, out);
    if (rc)
        return rc;
    sp_buf_init(&b, KAPI_URL_MAX);
    rc = sp_buf_printf(&b, "%s%s", k->server, call->path);
    url = rc ? NULL : sp_buf_take(&b);
    sp_buf_free(&b);
    if (!url)
        return rc == SP_ELIMIT ? SP_EINVAL : SP_ENOMEM;
    h = call->run ? call->run->easy : pool_get(k);
    rc = h ? attempts(k, call, h, url, out) : SP_ENOMEM;
    if (h && !call->run)
        pool_put(k, h);
    sp_free(url);
    if (rc)
        kapi_result_free(out);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Public                                                                     */
/* ------------------------------------------------------------------------ */

sp_rc kapi_request(kapi *k, const char *method, const char *path,
                   const char *content_type, const char *body, size_t len,
                   kapi_result *out)
{
    return kapi_request_by(k, 0, method, path, content_type, body, len, out);
}

sp_rc kapi_request_by(kapi *k, int64_t deadline_ms, const char *method, const char *path,
                      const char *content_type, const char *body, size_t len,
                      kapi_result *out)
{
    kapi_call call = {
        .method = method,
        .path = path,
        .content_type = content_type,
        .body = body,
        .len = len,
        .deadline_ms = deadline_ms,
    };

    return kapi_do(k, &call, out);
}

void kapi_result_free(kapi_result *r)
{
    if (!r)
        return;
    sp_free(r->body);
    r->body = NULL;
    r->len = 0;
}

void kapi_test_set_max_response(kapi *k, size_t max)
{
    k->max_response = max;
}

unsigned long kapi_test_connects(const kapi *k)
{
    return atomic_load(&((kapi *)k)->connects);
}
