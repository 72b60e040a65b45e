/*
 * What the files of the certmgr module share and nothing else sees: the
 * manager itself, the Secret's contents as text, and the plan that turns
 * one Secret into the next. certmgr_plan.c decides (no I/O: contents and a
 * time in, contents and what changed out), certmgr_api.c reads and writes
 * the Secret, the ConfigMap and the webhook configurations, and certmgr.c
 * puts them together behind the public calls.
 */
#ifndef SP_CERTMGR_INTERNAL_H
#define SP_CERTMGR_INTERNAL_H

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdatomic.h>

#include "certmgr/certmgr.h"
#include "util/sp_log.h"

#define CERTMGR_ATTEMPTS 5        /* conflicting writes before giving up */
#define CERTMGR_SKEW_S 300        /* certificates start this long before now */
#define CERTMGR_MAX_NOTES 8       /* things one plan can tell */
#define CERTMGR_NOTE_MAX 400      /* bytes of one of them */
#define CERTMGR_MAX_DAYS 36500
#define CERTMGR_KEY_CA_CRT "ca.crt"
#define CERTMGR_KEY_CA_KEY "ca.key"
#define CERTMGR_KEY_TLS_CRT "tls.crt"
#define CERTMGR_KEY_TLS_KEY "tls.key"

struct certmgr {
    kapi *api;                 /* borrowed */
    char *ns;
    char *secret;
    char *configmap;           /* NULL: none */
    char **webhooks;
    size_t n_webhooks;
    char **dns;                /* the serving certificate's SANs */
    size_t n_dns;
    int serving_days;
    int ca_days;
    int64_t overlap_s;
    certs_key_type key_type;
    void (*report)(void *ctx, const char *line);
    void *report_ctx;

    pthread_mutex_t lock;      /* one load, sync or refresh at a time */
    certs_pair last;           /* the serving pair last returned */
    atomic_uint_fast64_t serving_rotations;
    atomic_uint_fast64_t ca_rotations;
    atomic_uint_fast64_t sync_errors;
    atomic_int_fast64_t ca_expiry; /* unix seconds; 0: not known yet */
};

/* What the Secret holds, or is to hold. Strings owned (keys wiped when
 * freed: certs_pair_free); NULL when the key is absent, "" when it is empty
 * or not base64. */
typedef struct certmgr_contents {
    certs_pair ca;             /* ca.crt: the trust bundle, signing CA first;
                                  ca.key: the signing CA's key */
    certs_pair tls;            /* tls.crt, tls.key: the serving pair */
    int64_t ca_rotated_at;     /* CERTMGR_ANN_CA_ROTATED; 0: absent or unreadable */
    int64_t serving_issued_at; /* CERTMGR_ANN_SERVING_ISSUED; the same */
} certmgr_contents;

void certmgr_contents_free(certmgr_contents *c);

/* One thing a plan does, told (logged and reported) once it is done. */
typedef struct certmgr_note {
    sp_log_level level;
    const char *event;         /* static: the log line's event */
    char text[CERTMGR_NOTE_MAX];
} certmgr_note;

/* The Secret's next contents and what changed on the way. */
typedef struct certmgr_plan {
    certmgr_contents next;
    bool changed;              /* next differs from what it was planned from */
    bool new_ca;               /* a CA was issued */
    bool new_serving;          /* a serving certificate was issued */
    certmgr_note notes[CERTMGR_MAX_NOTES];
    size_t n_notes;
} certmgr_plan;

/*
 * The Secret's next contents at now, from cur (NULL: there is no Secret):
 * repair, CA rotation steps, serving renewal, dropped CAs and missing
 * annotations, as certmgr.h describes. Pure: no I/O. *out is freed with
 * certmgr_plan_free whatever the result; errors are only those of issuing
 * certificates (memory, OpenSSL), never of what cur holds.
 */
sp_rc certmgr_plan_next(const certmgr *m, const certmgr_contents *cur, int64_t now,
                        certmgr_plan *out, sp_err *err) __attribute__((warn_unused_result));
void certmgr_plan_free(certmgr_plan *p);

/* The serving pair of c when it is usable (both present and parsable, the
 * key the certificate's) into *out (owned), and the notAfter of the CA in
 * ca.crt that signed it into *ca_not_after (0 when none did). */
sp_rc certmgr_usable_pair(const certmgr *m, const certmgr_contents *c, certs_pair *out,
                          int64_t *ca_not_after, sp_err *err)
    __attribute__((warn_unused_result));

/* RFC 3339 in UTC ("2026-11-24T02:55:11Z"), and back (0: not one). */
void certmgr_time_format(int64_t unix_s, char *buf, size_t len);
int64_t certmgr_time_parse(const char *s);

/*
 * The Secret: *obj the object as read (owned; NULL when it does not exist)
 * and *out its contents. certmgr_secret_write writes c over obj (PUT,
 * conditional on obj's resourceVersion) or, when obj is NULL, creates it
 * (POST); *conflict says the server answered 409 and nothing was written.
 */
sp_rc certmgr_secret_read(certmgr *m, cJSON **obj, certmgr_contents *out, sp_err *err)
    __attribute__((warn_unused_result));
sp_rc certmgr_secret_write(certmgr *m, cJSON *obj, const certmgr_contents *c,
                           bool *conflict, sp_err *err) __attribute__((warn_unused_result));

/* Make the ConfigMap's ca.crt and every webhook's caBundle equal bundle,
 * writing only what differs (409: re-read and retry) and telling each write. */
sp_rc certmgr_publish(certmgr *m, const char *bundle, sp_err *err)
    __attribute__((warn_unused_result));

/* Log a line of event at level and hand it to the report callback. */
void certmgr_tell(const certmgr *m, sp_log_level level, const char *event, const char *text);

#endif /* SP_CERTMGR_INTERNAL_H */
