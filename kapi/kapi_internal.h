/*
 * What the kapi_ files share and nothing else sees: the client struct, the
 * one function every transfer goes through (kapi_do: a request with retries,
 * optionally run on an informer's own multi handle so that a stop interrupts
 * it at once, optionally streaming the body to a sink), the bearer token that
 * follows its file, the informers' index of known objects, small file and
 * encoding helpers, and hooks that let tests shrink limits and intervals.
 */
#ifndef SP_KAPI_INTERNAL_H
#define SP_KAPI_INTERNAL_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "kapi/kapi.h"
#include "util/sp_buf.h"
#include "util/sp_map.h"
#include "util/sp_str.h"

#define KAPI_POOL_MAX 8               /* idle easy handles kept for reuse */
#define KAPI_FILE_MAX (1u << 20)      /* bytes of a CA, certificate or key file */
#define KAPI_TOKEN_MAX (64u << 10)    /* bytes of a token file */
#define KAPI_TOKEN_RECHECK_MS 2000    /* a token file is stat()ed at most this often */
#define KAPI_BACKOFF_BASE_MS 100      /* the first retry waits up to this */
#define KAPI_BACKOFF_CAP_MS 5000      /* and no retry waits longer than this */
#define KAPI_RETRY_AFTER_CAP_S 30     /* a server's Retry-After is honoured up to this */
#define KAPI_URL_MAX 8192             /* bytes of a URL: server, path and query */
#define KAPI_ERROR_BODY_MAX (64u << 10) /* bytes of a failed watch's answer kept */

#define KAPI_DEFAULT_TIMEOUT_MS 10000
#define KAPI_DEFAULT_ATTEMPTS 5

/* ------------------------------------------------------------------------ */
/* The client                                                                 */
/* ------------------------------------------------------------------------ */

struct kapi {
    char *server;               /* base URL, no trailing '/' */
    char *namespace;
    unsigned char *ca;          /* PEM; NULL: the system's trust store */
    size_t ca_len;
    unsigned char *cert;        /* client certificate and key, PEM; or NULL */
    size_t cert_len;
    unsigned char *key;
    size_t key_len;
    bool insecure;              /* no peer verification (logged at start) */
    int timeout_ms;
    int max_attempts;
    size_t max_response;        /* KAPI_MAX_RESPONSE; tests lower it */

    /* The bearer token: static, or read from token_file and re-read when the
     * file changes (checked at most every token_recheck_ms). */
    pthread_mutex_t token_lock;
    bool token_lock_ready;
    char *token;                /* NULL: no token */
    char *token_file;           /* NULL: the token is static */
    struct timespec token_checked;
    struct timespec token_mtime;
    off_t token_size;
    ino_t token_ino;
    int token_recheck_ms;

    /* Connections: idle easy handles keep theirs alive for the next request;
     * DNS answers and TLS sessions are shared by all handles. */
    CURLSH *share;
    pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
    bool share_locks_ready;
    pthread_mutex_t pool_lock;
    bool pool_lock_ready;
    CURL *pool[KAPI_POOL_MAX];
    size_t n_pool;
    bool curl_ready;            /* curl_global_init succeeded */
    atomic_ulong connects;      /* connections opened (tests) */
};

/* Set up what every client needs for requests: libcurl, the share, the pool
 * and the token lock. Called by kapi_new once the settings are read. */
sp_rc kapi_conn_init(kapi *k, sp_err *err) __attribute__((warn_unused_result));
/* Undo kapi_conn_init (safe on a partly initialised client). */
void kapi_conn_free(kapi *k);

/*
 * The current bearer token, copied into *out (caller frees; NULL when the
 * client has none). The token file is re-read when its stat() changed and
 * the last check is older than token_recheck_ms, or at once when force is
 * set (a 401 may mean the token rotated); *changed tells whether the token
 * is new. A file that cannot be read keeps the old token (and is logged).
 */
sp_rc kapi_token_get(kapi *k, bool force, char **out, bool *changed)
    __attribute__((warn_unused_result));

/* ------------------------------------------------------------------------ */
/* Transfers                                                                  */
/* ------------------------------------------------------------------------ */

/* An informer's transfers run on its own handles so that a stop interrupts
 * a transfer or a wait at once (curl_multi_wakeup). */
typedef struct kapi_runner {
    CURLM *multi;
    CURL *easy;
    atomic_bool *stop;
} kapi_runner;

/* Receives a 200 answer's body as it arrives; false aborts the transfer. */
typedef bool (*kapi_sink)(void *ctx, const char *data, size_t len);

typedef struct kapi_call {
    const char *method;
    const char *path;           /* with its query, escaped */
    const char *content_type;   /* of body; NULL without one */
    const char *body;
    size_t len;
    int timeout_ms;             /* 0: the client's; < 0: none (watches) */
    int max_attempts;           /* 0: the client's */
    int64_t deadline_ms;        /* kapi_now_ms() value no attempt or wait may
                                   pass; 0: none */
    kapi_sink sink;             /* NULL: the body goes to the result */
    void *sink_ctx;
    kapi_runner *run;           /* NULL: a pooled handle, in this thread */
} kapi_call;

/*
 * Perform call with retries (see kapi_request) into *out, which the caller
 * frees with kapi_result_free. Returns SP_OK whenever *out describes the
 * outcome, SP_EINVAL or SP_ENOMEM otherwise. A stopped runner ends with
 * KAPI_TRANSPORT and the message "stopped".
 */
sp_rc kapi_do(kapi *k, const kapi_call *call, kapi_result *out)
    __attribute__((warn_unused_result));

/* Wait ms, or until the runner (NULL: none) is stopped. False: stopped. */
bool kapi_sleep(kapi_runner *run, int ms);

/* The wait before retry number attempt (1, 2, ...): full jitter, uniform in
 * [0, min(KAPI_BACKOFF_CAP_MS, KAPI_BACKOFF_BASE_MS * 2^(attempt-1))]. */
int kapi_backoff_ms(unsigned attempt, sp_rng *rng);

/* Append s to b escaped as an RFC 3986 path segment or query value (every
 * byte outside the unreserved set becomes %XX). */
sp_rc kapi_escape(sp_buf *b, const char *s) __attribute__((warn_unused_result));

/* ------------------------------------------------------------------------ */
/* Informers' index of known objects                                          */
/* ------------------------------------------------------------------------ */

typedef struct kapi_entry {
    char *key;                  /* "namespace/name" ("/name" cluster-wide) */
    char *uid;
    char *rv;                   /* resourceVersion last delivered */
    uint64_t gen;               /* the list that last saw it */
} kapi_entry;

typedef struct kapi_index {
    sp_map map;                 /* key -> position in entries */
    kapi_entry *entries;
    size_t n;
    size_t cap;
} kapi_index;

void kapi_index_init(kapi_index *ix);
void kapi_index_free(kapi_index *ix);
/* The entry under key (borrowed until the next change), or NULL. */
kapi_entry *kapi_index_find(kapi_index *ix, const char *key);
/* Insert or update key (strings copied). SP_ENOMEM leaves it unchanged. */
sp_rc kapi_index_put(kapi_index *ix, const char *key, const char *uid, const char *rv,
                     uint64_t gen) __attribute__((warn_unused_result));
/* Remove key; true when it was there. Moves the last entry into its slot. */
bool kapi_index_del(kapi_index *ix, const char *key);

/* ------------------------------------------------------------------------ */
/* Files and encodings                                                        */
/* ------------------------------------------------------------------------ */

/* The whole of a file of at most max bytes, NUL-terminated, in *out (caller
 * frees) with its length. SP_EIO (err: "<strerror>" or "larger than N
 * bytes") when it cannot be read; the caller names the file's role. */
sp_rc kapi_read_file(const char *path, size_t max, char **out, size_t *len, sp_err *err)
    __attribute__((warn_unused_result));

/* Decode standard base64 (padding required, white space skipped) into *out
 * (caller frees). SP_EPARSE when s is not base64. */
sp_rc kapi_base64_decode(const char *s, size_t n, unsigned char **out, size_t *len)
    __attribute__((warn_unused_result));

/* A copy of s without leading and trailing white space; NULL on ENOMEM. */
char *kapi_trim_dup(const char *s, size_t n);

/* ------------------------------------------------------------------------ */
/* Test hooks                                                                 */
/* ------------------------------------------------------------------------ */

/* Answers over max bytes are refused (default KAPI_MAX_RESPONSE). */
void kapi_test_set_max_response(kapi *k, size_t max);
/* How often the token file is checked (default KAPI_TOKEN_RECHECK_MS). */
void kapi_test_set_token_recheck_ms(kapi *k, int ms);
/* Connections the client has opened so far. */
unsigned long kapi_test_connects(const kapi *k);

#endif /* SP_KAPI_INTERNAL_H */
