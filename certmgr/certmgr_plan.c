/*
 * The rotation state machine, as a pure function from the Secret's contents
 * and a time to its next contents. Everything it needs is in the Secret: the
 * trust bundle (ca.crt, signing CA first), the signing key (ca.key), the
 * serving pair, and two annotations, when the signing CA took over
 * (ca-rotated-at) and when the serving certificate was issued
 * (serving-issued-at). Each call moves at most one CA step: a Secret that
 * cannot be trusted (CA missing, unparsable, expired, or not ca.key's) is
 * replaced whole; expired and stray certificates leave the bundle; step 3
 * drops every other CA once the serving certificate has been signed by the
 * signing CA for the overlap; step 1 adds a new signing CA beside one with
 * less than a third of its life left. Then the serving certificate: reissued
 * at once when it is unusable (missing, key, SANs, expired, issuer unknown),
 * renewed in the last third of its life, and switched to a new signing CA
 * (step 2) only once that CA has been trusted for the overlap. A missing,
 * unreadable or future annotation is recorded as now, which only ever delays
 * a step.
 */
#include "certmgr/certmgr_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/sp_alloc.h"
#include "util/sp_buf.h"
#include "util/sp_str.h"

#define CA_CN_MAX 64
#define SECONDS_PER_DAY 86400

/* One certificate of the trust bundle. */
typedef struct ca_entry {
    char *pem;                 /* owned */
    char *subject;             /* owned, for messages */
    int64_t not_before;
    int64_t not_after;
    bool is_ca;
} ca_entry;

typedef enum serving_state {
    SERVING_UNUSABLE,          /* reissue now; why says why */
    SERVING_BY_SIGNING,        /* signed by the signing CA */
    SERVING_BY_OTHER,          /* by another CA of the bundle: a rotation is under way */
} serving_state;

/* One planning pass. */
typedef struct work {
    const certmgr *m;
    int64_t now;
    certmgr_plan *p;
    ca_entry *cas;             /* the trust bundle, signing CA first */
    size_t n_cas;
    size_t cap_cas;
    serving_state serving;
    bool serving_due;          /* less than a third of its lifetime left */
    int64_t serving_not_after;
    sp_log_level why_level;    /* how loudly to tell why it is unusable */
    sp_err why;
} work;

/* ------------------------------------------------------------------------ */
/* Small helpers                                                              */
/* ------------------------------------------------------------------------ */

void certmgr_time_format(int64_t unix_s, char *buf, size_t len)
{
    time_t t = (time_t)unix_s;
    struct tm tm;

    if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, len, "@%lld", (long long)unix_s);
}

int64_t certmgr_time_parse(const char *s)
{
    struct tm tm;
    char z = '\0';
    int end = 0;

    memset(&tm, 0, sizeof(tm));
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                     &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &z, &end) != 7 ||
        z != 'Z' || s[end] != '\0' || tm.tm_mon < 1 || tm.tm_mon > 12)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm);
}

void certmgr_contents_free(certmgr_contents *c)
{
    if (!c)
        return;
    certs_pair_free(&c->ca);
    certs_pair_free(&c->tls);
    memset(c, 0, sizeof(*c));
}

void certmgr_plan_free(certmgr_plan *p)
{
    if (p)
        certmgr_contents_free(&p->next);
}

/* Record one thing the plan does (past the last slot: dropped). */
static void note(certmgr_plan *p, sp_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void note(certmgr_plan *p, sp_log_level level, const char *event, const char *fmt, ...)
{
    certmgr_note *n;
    va_list ap;

    if (p->n_notes >= CERTMGR_MAX_NOTES)
        return;
    n = &p->notes[p->n_notes++];
    n->level = level;
    n->event = event;
    va_start(ap, fmt);
    if (vsnprintf(n->text, sizeof(n->text), fmt, ap) < 0)
        n->text[0] = '\0';
    va_end(ap);
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool differs(const certmgr_contents *a, const certmgr_contents *b)
{
    return !same_str(a->ca.cert_pem, b->ca.cert_pem) || !same_str(a->ca.key_pem, b->ca.key_pem) ||
           !same_str(a->tls.cert_pem, b->tls.cert_pem) ||
           !same_str(a->tls.key_pem, b->tls.key_pem) || a->ca_rotated_at != b->ca_rotated_at ||
           a->serving_issued_at != b->serving_issued_at;
}

static sp_rc copy_pair(certs_pair *dst, const certs_pair *src)
{
    dst->cert_pem = src->cert_pem ? sp_strdup(src->cert_pem) : NULL;
    dst->key_pem = src->key_pem ? sp_strdup(src->key_pem) : NULL;
    if ((src->cert_pem && !dst->cert_pem) || (src->key_pem && !dst->key_pem))
        return SP_ENOMEM;
    return SP_OK;
}

static sp_rc copy_contents(certmgr_contents *dst, const certmgr_contents *src, sp_err *err)
{
    dst->ca_rotated_at = src->ca_rotated_at;
    dst->serving_issued_at = src->serving_issued_at;
    if (copy_pair(&dst->ca, &src->ca) || copy_pair(&dst->tls, &src->tls))
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    return SP_OK;
}

/* Out of memory is the caller's error; anything else is about the input. */
static bool fatal(sp_rc rc)
{
    return rc == SP_ENOMEM;
}

/* ------------------------------------------------------------------------ */
/* The trust bundle                                                           */
/* ------------------------------------------------------------------------ */

static void entry_free(ca_entry *e)
{
    sp_free(e->pem);
    sp_free(e->subject);
    memset(e, 0, sizeof(*e));
}

static void free_cas(work *w)
{
    for (size_t i = 0; i < w->n_cas; i++)
        entry_free(&w->cas[i]);
    sp_free(w->cas);
    w->cas = NULL;
    w->n_cas = 0;
    w->cap_cas = 0;
}

/* Describe pem (taken either way) into e. */
static sp_rc entry_from_pem(ca_entry *e, char *pem, sp_err *err)
{
    certs_info info;
    sp_rc rc = certs_describe(pem, &info, err);

    memset(e, 0, sizeof(*e));
    e->pem = pem;
    if (rc)
        return rc;
    e->subject = info.subject;
    info.subject = NULL;
    e->not_before = info.not_before;
    e->not_after = info.not_after;
    e->is_ca = info.is_ca;
    certs_info_free(&info);
    return SP_OK;
}

/* ca.crt's certificates into w->cas. */
static sp_rc split_bundle(work *w, sp_err *why)
{
    char **pems = NULL;
    size_t n = 0;
    sp_rc rc = certs_bundle_split(w->p->next.ca.cert_pem, "ca.crt", &pems, &n, why);

    if (rc)
        return rc;
    if (sp_grow(&w->cas, &w->cap_cas, n, sizeof(*w->cas))) {
        sp_strv_free(pems, n);
        return sp_err_set(why, SP_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n && !rc; i++) {
        rc = entry_from_pem(&w->cas[w->n_cas++], pems[i], why); /* takes the PEM */
        pems[i] = NULL;
    }
    sp_strv_free(pems, n);
    return rc;
}

/* Move the certificate of ca.key to the front; it must be an unexpired CA. */
static sp_rc find_signing(work *w, sp_err *why)
{
    const char *key = w->p->next.ca.key_pem;
    char when[32];
    ca_entry first;
    bool yes = false;
    size_t i;
    sp_rc rc = SP_OK;

    for (i = 0; i < w->n_cas && !yes && !rc; i++)
        rc = certs_key_matches(w->cas[i].pem, key, &yes, why);
    if (rc)
        return sp_err_prefix(why, "ca.key");
    if (!yes)
        return sp_err_set(why, SP_EPARSE, "ca.key belongs to none of the %zu certificates "
                          "in ca.crt", w->n_cas);
    first = w->cas[--i];
    if (!first.is_ca)
        return sp_err_set(why, SP_EPARSE, "the certificate of ca.key (%s) is not a CA",
                          first.subject);
    certmgr_time_format(first.not_after, when, sizeof(when));
    if (first.not_after <= w->now)
        return sp_err_set(why, SP_EPARSE, "the signing CA (%s) expired at %s",
                          first.subject, when);
    w->cas[i] = w->cas[0];
    w->cas[0] = first;
    return SP_OK;
}

/* The bundle and its signing CA; anything but SP_ENOMEM means unusable. */
static sp_rc read_trust(work *w, sp_err *why)
{
    const certs_pair *ca = &w->p->next.ca;
    sp_rc rc;

    if (!ca->cert_pem || !*ca->cert_pem)
        return sp_err_set(why, SP_EPARSE, "ca.crt is missing or empty");
    if (!ca->key_pem || !*ca->key_pem)
        return sp_err_set(why, SP_EPARSE, "ca.key is missing or empty");
    rc = split_bundle(w, why);
    return rc ? rc : find_signing(w, why);
}

/* Drop from the bundle what cannot serve as trust: expired certificates,
 * non-CAs and repeats. The signing CA (first) stays. */
static void prune(work *w)
{
    size_t kept = 1, dropped = 0;

    for (size_t i = 1; i < w->n_cas; i++) {
        bool repeat = false;

        for (size_t j = 0; j < kept && !repeat; j++)
            repeat = strcmp(w->cas[j].pem, w->cas[i].pem) == 0;
        if (repeat || !w->cas[i].is_ca || w->cas[i].not_after <= w->now) {
            entry_free(&w->cas[i]);
            dropped++;
            continue;
        }
        w->cas[kept++] = w->cas[i];
    }
    w->n_cas = kept;
    if (dropped)
        note(w->p, SP_LOG_INFO, "cert_ca_dropped",
             "dropped %zu certificate(s) from the trust bundle of Secret %s/%s: expired, "
             "not a CA, or repeated", dropped, w->m->ns, w->m->secret);
}

static sp_rc join_bundle(work *w, sp_err *err)
{
    sp_buf b;
    sp_rc rc = SP_OK;
    char *text;

    sp_buf_init(&b, (size_t)-2);
    for (size_t i = 0; i < w->n_cas && !rc; i++)
        rc = sp_buf_puts(&b, w->cas[i].pem);
    text = rc ? NULL : sp_buf_take(&b);
    sp_buf_free(&b);
    if (!text)
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    sp_free(w->p->next.ca.cert_pem);
    w->p->next.ca.cert_pem = text;
    return SP_OK;
}

/* ------------------------------------------------------------------------ */
/* Issuing                                                                    */
/* ------------------------------------------------------------------------ */

/* A new CA, dated from now, at the front of the bundle and signing. */
static sp_rc issue_ca(work *w, sp_err *err)
{
    const certmgr *m = w->m;
    certs_pair ca = { NULL, NULL };
    char cn[CA_CN_MAX + 1];
    certs_spec spec;
    ca_entry e;
    sp_rc rc;

    if (snprintf(cn, sizeof(cn), "streams-placer-ca@%lld", (long long)w->now) < 0)
        return sp_err_set(err, SP_EINTERNAL, "cannot name the CA");
    memset(&e, 0, sizeof(e));
    memset(&spec, 0, sizeof(spec));
    spec.common_name = cn;
    spec.days = m->ca_days;
    spec.key_type = m->key_type;
    rc = certs_make_ca(&spec, &ca, err);
    if (!rc)
        rc = certs_redate(&ca, NULL, w->now - CERTMGR_SKEW_S,
                          w->now + (int64_t)m->ca_days * SECONDS_PER_DAY, err);
    if (!rc && sp_grow(&w->cas, &w->cap_cas, w->n_cas + 1, sizeof(*w->cas)))
        rc = sp_err_set(err, SP_ENOMEM, "out of memory");
    if (!rc) {
        rc = entry_from_pem(&e, ca.cert_pem, err); /* takes the PEM */
        ca.cert_pem = NULL;
    }
    if (rc) {
        entry_free(&e);
        certs_pair_free(&ca);
        return rc;
    }
    memmove(w->cas + 1, w->cas, w->n_cas * sizeof(*w->cas));
    w->cas[0] = e;
    w->n_cas++;
    certs_pair_free(&w->p->next.ca);
    w->p->next.ca.key_pem = ca.key_pem;
    w->p->next.ca_rotated_at = w->now;
    w->p->new_ca = true;
    return SP_OK;
}

/* A serving certificate for the Services, signed by the signing CA and
 * dated from now. */
static sp_rc issue_serving(work *w, sp_err *err)
{
    const certmgr *m = w->m;
    certs_pair signing = { w->cas[0].pem, w->p->next.ca.key_pem };
    certs_pair tls = { NULL, NULL };
    certs_spec spec;
    sp_rc rc;

    memset(&spec, 0, sizeof(spec));
    spec.common_name = m->n_dns > 2 && strlen(m->dns[2]) <= CA_CN_MAX ? m->dns[2] : m->dns[0];
    spec.dns = (const char *const *)m->dns;
    spec.n_dns = m->n_dns;
    spec.days = m->serving_days;
    spec.key_type = m->key_type;
    rc = certs_make_serving(&signing, &spec, &tls, err);
    if (!rc)
        rc = certs_redate(&tls, &signing, w->now - CERTMGR_SKEW_S,
                          w->now + (int64_t)m->serving_days * SECONDS_PER_DAY, err);
    if (rc) {
        certs_pair_free(&tls);
        return rc;
    }
    certs_pair_free(&w->p->next.tls);
    w->p->next.tls = tls;
    w->p->next.serving_issued_at = w->now;
    w->p->new_serving = true;
    return SP_OK;
}

/* Everything new: a CA alone in the bundle and a serving pair. */
static sp_rc fresh(work *w, sp_err *err)
{
    sp_rc rc;

    free_cas(w);
    certs_pair_free(&w->p->next.ca);
    certs_pair_free(&w->p->next.tls);
    rc = issue_ca(w, err);
    return rc ? rc : issue_serving(w, err);
}

/* ------------------------------------------------------------------------ */
/* The steps                                                                  */
/* ------------------------------------------------------------------------ */

/* The serving pair cannot stay (unless rc is fatal, which is returned):
 * record why, and how loudly to tell it. */
static sp_rc unusable(work *w, sp_log_level level, sp_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static sp_rc unusable(work *w, sp_log_level level, sp_rc rc, const char *fmt, ...)
{
    va_list ap;

    if (fatal(rc))
        return rc;
    w->serving = SERVING_UNUSABLE;
    w->why_level = level;
    w->why.rc = SP_EPARSE;
    va_start(ap, fmt);
    if (vsnprintf(w->why.msg, sizeof(w->why.msg), fmt, ap) < 0)
        w->why.msg[0] = '\0';
    va_end(ap);
    return SP_OK;
}

/* Which CA of the bundle signed tls.crt: *at, or n_cas when none did. */
static sp_rc find_issuer(work *w, size_t *at, sp_err *err)
{
    bool yes = false;
    sp_rc rc = SP_OK;

    for (*at = 0; *at < w->n_cas; ++*at) {
        rc = certs_issued_by(w->p->next.tls.cert_pem, w->cas[*at].pem, &yes, err);
        if (rc || yes)
            break;
    }
    return rc;
}

/* Classify the serving pair (w->serving, w->serving_due). */
static sp_rc check_serving(work *w, sp_err *err)
{
    const certs_pair *tls = &w->p->next.tls;
    certs_info info;
    char when[32];
    bool yes = false;
    size_t issuer;
    sp_rc rc;

    if (!tls->cert_pem || !*tls->cert_pem)
        return unusable(w, SP_LOG_ERROR, SP_OK, "%s is missing or empty", "tls.crt");
    if (!tls->key_pem || !*tls->key_pem)
        return unusable(w, SP_LOG_ERROR, SP_OK, "%s is missing or empty", "tls.key");
    rc = certs_describe(tls->cert_pem, &info, err);
    if (rc)
        return unusable(w, SP_LOG_ERROR, rc, "tls.crt: %s", err->msg);
    w->serving_not_after = info.not_after;
    w->serving_due = 3 * (info.not_after - w->now) < info.not_after - info.not_before;
    certs_info_free(&info);
    rc = certs_key_matches(tls->cert_pem, tls->key_pem, &yes, err);
    if (rc || !yes)
        return unusable(w, SP_LOG_ERROR, rc, "tls.key %s",
                        rc ? err->msg : "does not belong to tls.crt");
    rc = certs_covers_dns(tls->cert_pem, (const char *const *)w->m->dns, w->m->n_dns, &yes, err);
    if (rc || !yes)
        return unusable(w, SP_LOG_INFO, rc, "it does not cover every name of the Services "
                        "(%s and the others)", w->m->dns[0]);
    certmgr_time_format(w->serving_not_after, when, sizeof(when));
    if (w->serving_not_after <= w->now)
        return unusable(w, SP_LOG_WARN, SP_OK, "it expired at %s", when);
    rc = find_issuer(w, &issuer, err);
    if (rc || issuer == w->n_cas)
        return unusable(w, SP_LOG_ERROR, rc, "%s is signed by none of the CAs in ca.crt",
                        "tls.crt");
    w->serving = issuer == 0 ? SERVING_BY_SIGNING : SERVING_BY_OTHER;
    return SP_OK;
}

/* Step 3: every CA but the signing one leaves the bundle. */
static void drop_old_cas(work *w)
{
    size_t dropped = w->n_cas - 1;

    for (size_t i = 1; i < w->n_cas; i++)
        entry_free(&w->cas[i]);
    w->n_cas = 1;
    note(w->p, SP_LOG_INFO, "cert_ca_rotation",
         "CA rotation step 3 of 3: the serving certificate has been signed by %s for "
         "%lld s or more; dropped %zu other CA(s) from the trust bundle",
         w->cas[0].subject, (long long)w->m->overlap_s, dropped);
}

/* At most one CA step: 3 when a rotation is finishing, 1 when one is due. */
static sp_rc ca_step(work *w, sp_err *err)
{
    const certmgr_contents *next = &w->p->next;
    const ca_entry *signing = &w->cas[0];
    char when[32];
    sp_rc rc;

    if (w->n_cas > 1) {
        if (w->serving == SERVING_BY_SIGNING && next->serving_issued_at &&
            w->now >= next->serving_issued_at + w->m->overlap_s)
            drop_old_cas(w);
        return SP_OK;
    }
    if (3 * (signing->not_after - w->now) >= signing->not_after - signing->not_before)
        return SP_OK;
    certmgr_time_format(signing->not_after, when, sizeof(when));
    note(w->p, SP_LOG_INFO, "cert_ca_rotation",
         "CA rotation step 1 of 3: the signing CA (%s) expires at %s, less than a third of "
         "its lifetime left; a new CA signs from now on and both are trusted; the serving "
         "certificate switches to it after %lld s", signing->subject, when,
         (long long)w->m->overlap_s);
    rc = issue_ca(w, err);
    if (!rc && w->serving == SERVING_BY_SIGNING)
        w->serving = SERVING_BY_OTHER;
    return rc;
}

static sp_rc serving_step(work *w, sp_err *err)
{
    const certmgr *m = w->m;
    char when[32];

    certmgr_time_format(w->serving_not_after, when, sizeof(when));
    switch (w->serving) {
    case SERVING_UNUSABLE:
        note(w->p, w->why_level, "cert_serving_reissued",
             "reissued the serving certificate of Secret %s/%s: %s", m->ns, m->secret,
             w->why.msg);
        return issue_serving(w, err);
    case SERVING_BY_SIGNING:
        if (!w->serving_due)
            return SP_OK;
        note(w->p, SP_LOG_INFO, "cert_serving_renewed",
             "renewed the serving certificate of Secret %s/%s: it expires at %s, less than "
             "a third of its lifetime left", m->ns, m->secret, when);
        return issue_serving(w, err);
    case SERVING_BY_OTHER:
        if (!w->p->next.ca_rotated_at || w->now < w->p->next.ca_rotated_at + m->overlap_s)
            return SP_OK;
        note(w->p, SP_LOG_INFO, "cert_ca_rotation",
             "CA rotation step 2 of 3: %s has been trusted for %lld s or more; the serving "
             "certificate is now signed by it; the other CAs are dropped after another "
             "%lld s", w->cas[0].subject, (long long)m->overlap_s, (long long)m->overlap_s);
        return issue_serving(w, err);
    }
    return sp_err_set(err, SP_EINTERNAL, "unknown serving state %d", (int)w->serving);
}

/* An annotation that is missing, unreadable or further in the future than
 * clocks disagree becomes now (told): the step it gates waits an overlap
 * more, rather than never or at once. */
static void fill_annotation(work *w, int64_t *at, const char *name)
{
    if (*at && *at <= w->now + w->m->overlap_s)
        return;
    *at = w->now;
    note(w->p, SP_LOG_WARN, "cert_annotation_recorded",
         "Secret %s/%s lacked a readable annotation %s; recorded now, so the rotation step "
         "it gates waits one overlap more", w->m->ns, w->m->secret, name);
}

/* Replace a Secret that cannot be trusted, loudly. */
static sp_rc repair(work *w, sp_err *err)
{
    note(w->p, SP_LOG_ERROR, "cert_secret_repaired",
         "Secret %s/%s is malformed (%s): replaced it with a new CA and serving certificate",
         w->m->ns, w->m->secret, w->why.msg);
    return fresh(w, err);
}

/* The steps on a Secret whose CA could be read. */
static sp_rc advance(work *w, sp_err *err)
{
    sp_rc rc;

    prune(w);
    rc = check_serving(w, err);
    if (!rc)
        rc = ca_step(w, err);
    if (!rc)
        rc = serving_step(w, err);
    if (!rc) {
        fill_annotation(w, &w->p->next.ca_rotated_at, CERTMGR_ANN_CA_ROTATED);
        fill_annotation(w, &w->p->next.serving_issued_at, CERTMGR_ANN_SERVING_ISSUED);
    }
    return rc;
}

sp_rc certmgr_plan_next(const certmgr *m, const certmgr_contents *cur, int64_t now,
                        certmgr_plan *out, sp_err *err)
{
    work w;
    sp_rc rc;

    memset(out, 0, sizeof(*out));
    memset(&w, 0, sizeof(w));
    w.m = m;
    w.now = now;
    w.p = out;
    if (!cur) {
        rc = fresh(&w, err);
        note(out, SP_LOG_INFO, "cert_secret_created",
             "created Secret %s/%s with a new CA and serving certificate", m->ns, m->secret);
    } else {
        rc = copy_contents(&out->next, cur, err);
        if (!rc)
            rc = read_trust(&w, &w.why);
        if (fatal(rc))
            sp_err_set(err, rc, "out of memory");
        else
            rc = rc ? repair(&w, err) : advance(&w, err);
    }
    if (!rc)
        rc = join_bundle(&w, err);
    out->changed = !rc && (!cur || differs(cur, &out->next));
    free_cas(&w);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The pair in use                                                            */
/* ------------------------------------------------------------------------ */

/* notAfter of the CA in bundle that signed cert; 0 when none did. */
static int64_t issuer_not_after(const char *bundle, const char *cert)
{
    char **pems = NULL;
    size_t n = 0;
    int64_t not_after = 0;
    sp_err ignored;
    bool yes = false;

    if (certs_bundle_split(bundle, "ca.crt", &pems, &n, &ignored))
        return 0;
    for (size_t i = 0; i < n && !yes; i++)
        if (!certs_issued_by(cert, pems[i], &yes, &ignored) && yes &&
            certs_not_after(pems[i], &not_after, &ignored))
            not_after = 0;
    sp_strv_free(pems, n);
    return not_after;
}

sp_rc certmgr_usable_pair(const certmgr *m, const certmgr_contents *c, certs_pair *out,
                          int64_t *ca_not_after, sp_err *err)
{
    const certs_pair *tls = &c->tls;
    bool yes = false;
    sp_rc rc;

    out->cert_pem = out->key_pem = NULL;
    *ca_not_after = 0;
    if (!tls->cert_pem || !*tls->cert_pem || !tls->key_pem || !*tls->key_pem)
        rc = sp_err_set(err, SP_EPARSE, "%s is missing or empty",
                        !tls->cert_pem || !*tls->cert_pem ? "tls.crt" : "tls.key");
    else
        rc = certs_key_matches(tls->cert_pem, tls->key_pem, &yes, err);
    if (!rc && !yes)
        rc = sp_err_set(err, SP_EPARSE, "tls.key does not belong to tls.crt");
    if (rc && !fatal(rc))
        return sp_err_prefix(err, "Secret %s/%s holds no usable serving pair; the leading "
                             "replica repairs it at its next sync", m->ns, m->secret);
    if (rc)
        return rc;
    if (copy_pair(out, tls)) {
        certs_pair_free(out);
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    }
    *ca_not_after = c->ca.cert_pem ? issuer_not_after(c->ca.cert_pem, tls->cert_pem) : 0;
    return SP_OK;
}
