/*
 * The running placer: see svc.h. Placement records are kept in memory (a
 * map from "ns/job/pe" to a record) and mirrored in the store; a decision is
 * written there first and applied to the engine only once it is durable, so
 * a failed write (a full disk) leaves the engine as it was and the caller
 * can say so. Reservations are listed apart so that timing them out costs
 * what there are of them, not what the cluster holds. A pod is stored as
 * svc_json prints it, and the digest of that text is remembered, so that a
 * pod that comes back unchanged costs a print, not a write.
 */
#include "svc/svc.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kobj/kobj.h"
#include "store/store.h"
#include "svc/svc_json.h"
#include "util/sp_alloc.h"
#include "util/sp_log.h"
#include "util/sp_map.h"
#include "util/sp_str.h"

#define KEY_MAX 512
#define SWEEP_SCAN 8192 /* records looked at by one sweep of released placements */
#define SWEEP_MAX 1024  /* placements one sweep deletes (one transaction) */

typedef enum phase_kind { PH_NONE, PH_RESERVED, PH_BOUND, PH_RELEASED, PH_FAILED, PH_COUNT } phase_kind;

static const char *const phase_names[PH_COUNT] = { "", "Reserved", "Bound", "Released", "Failed" };

/* One PE's placement (the standalone PEPlacement status). */
typedef struct record {
    char *ns, *job, *pe;
    char *uid;           /* the pod holding it */
    char *pod;
    char *node;
    char *previous;
    char *reason;
    phase_kind phase;
    int64_t decided_at;
    int64_t expires_at;
    int64_t launches;
    int64_t reserved_pos; /* position in svc.reserved, or -1 */
} record;

struct svc {
    pthread_mutex_t lock;
    pol_policy *policy;
    place_state *st;
    store *db;                /* standalone: the embedded store; else NULL */
    svc_sink sink;            /* where decisions go */
    sp_map rec_index;         /* "ns/job/pe" -> records[] */
    record *recs;
    size_t n_recs, cap_recs;
    size_t *reserved;         /* records in phase Reserved */
    size_t n_reserved, cap_reserved;
    uint64_t *saved_gen;      /* per pool: membership generation stored */
    sp_map stored_pools;      /* "ns/name" of pools with a row in the store */
    svc_digest_key digest_key;
    sp_map pod_digests;       /* uid -> digest of the pod object learned */
    svc_json_text pod_text;   /* the pod printed last (reused) */
    size_t n_saved_gen, cap_saved_gen;
    int64_t (*now)(void);
    int64_t last_sweep;       /* standalone: when released placements were swept */
    size_t sweep_pos;         /* the record the next sweep starts at */
    atomic_ullong decisions[PH_COUNT];
    atomic_ullong rejections[PLACE_R_JOB + 1];
    atomic_ullong admissions[2][2]; /* [mutate][allowed] */
    char *policy_path;        /* NULL: the built-in policy, never reloaded */
    atomic_ullong policy_reloads[2]; /* [failed] */
    atomic_bool policy_valid;  /* the last reload worked (or none was tried) */
};

static int64_t wall_clock(void)
{
    return (int64_t)time(NULL);
}

void svc_set_clock(svc *c, int64_t (*now)(void))
{
    c->now = now ? now : wall_clock;
}

void svc_lock(svc *c)
{
    pthread_mutex_lock(&c->lock);
}

void svc_unlock(svc *c)
{
    pthread_mutex_unlock(&c->lock);
}

place_state *svc_state(svc *c)
{
    return c->st;
}

const pol_policy *svc_policy(const svc *c)
{
    return c->policy;
}

/* ------------------------------------------------------------------------ */
/* Placement records                                                          */
/* ------------------------------------------------------------------------ */

static sp_rc make_key(char *buf, const char *ns, const char *job, const char *pe)
{
    int n = snprintf(buf, KEY_MAX, "%s/%s/%s", ns, job, pe);

    return n < 0 || n >= KEY_MAX ? SP_ELIMIT : SP_OK;
}

static record *find_record(svc *c, const char *ns, const char *job, const char *pe)
{
    char key[KEY_MAX];
    int64_t at;

    if (make_key(key, ns, job, pe) || !sp_map_get(&c->rec_index, key, &at))
        return NULL;
    return &c->recs[at];
}

static void record_fields_free(record *r)
{
    sp_free(r->ns);
    sp_free(r->job);
    sp_free(r->pe);
    sp_free(r->uid);
    sp_free(r->pod);
    sp_free(r->node);
    sp_free(r->previous);
    sp_free(r->reason);
}

/* The record of ns/job/pe, created empty when there is none. */
static sp_rc get_record(svc *c, const char *ns, const char *job, const char *pe,
                        record **out)
{
    char key[KEY_MAX];
    record *r;

    if ((*out = find_record(c, ns, job, pe)))
        return SP_OK;
    if (make_key(key, ns, job, pe))
        return SP_ELIMIT;
    if (sp_grow(&c->recs, &c->cap_recs, c->n_recs + 1, sizeof(*c->recs)))
        return SP_ENOMEM;
    r = &c->recs[c->n_recs];
    memset(r, 0, sizeof(*r));
    r->reserved_pos = -1;
    r->ns = sp_strdup(ns);
    r->job = sp_strdup(job);
    r->pe = sp_strdup(pe);
    if (!r->ns || !r->job || !r->pe || sp_map_put(&c->rec_index, key, (int64_t)c->n_recs)) {
        record_fields_free(r);
        return SP_ENOMEM;
    }
    *out = &c->recs[c->n_recs++];
    return SP_OK;
}

/* Replace *slot with a copy of value (NULL allowed). */
static sp_rc set_str(char **slot, const char *value)
{
    char *copy = value ? sp_strdup(value) : NULL;

    if (value && !copy)
        return SP_ENOMEM;
    sp_free(*slot);
    *slot = copy;
    return SP_OK;
}

static sp_rc persist(svc *c, const record *r, sp_err *err)
{
    store_placement p = {
        .namespace_ = r->ns, .job = r->job, .pe = r->pe, .pod = r->pod, .uid = r->uid,
        .node = r->node, .previous_node = r->previous, .phase = phase_names[r->phase],
        .reason = r->reason, .decided_at = r->decided_at, .expires_at = r->expires_at,
        .launches = r->launches,
    };

    return c->sink.put_placement(c->sink.ctx, &p, err);
}

/* A copy of a record's strings, to put back when a write fails. */
static sp_rc record_copy(const record *src, record *dst)
{
    *dst = *src;
    dst->ns = dst->job = dst->pe = NULL;
    dst->uid = dst->pod = dst->node = dst->previous = dst->reason = NULL;
    if (set_str(&dst->uid, src->uid) || set_str(&dst->pod, src->pod) ||
        set_str(&dst->node, src->node) || set_str(&dst->previous, src->previous) ||
        set_str(&dst->reason, src->reason)) {
        record_fields_free(dst);
        return SP_ENOMEM;
    }
    return SP_OK;
}

/* Put the saved copy back into r (its key strings stay). */
static void record_restore(record *r, record *saved)
{
    char *ns = r->ns, *job = r->job, *pe = r->pe;

    sp_free(r->uid);
    sp_free(r->pod);
    sp_free(r->node);
    sp_free(r->previous);
    sp_free(r->reason);
    *r = *saved;
    r->ns = ns;
    r->job = job;
    r->pe = pe;
}

static void reserved_add(svc *c, record *r)
{
    if (r->reserved_pos >= 0 ||
        sp_grow(&c->reserved, &c->cap_reserved, c->n_reserved + 1, sizeof(*c->reserved)))
        return; /* out of memory: the reservation then only times out at restart */
    r->reserved_pos = (int64_t)c->n_reserved;
    c->reserved[c->n_reserved++] = (size_t)(r - c->recs);
}

static void reserved_remove(svc *c, record *r)
{
    size_t at = (size_t)r->reserved_pos;

    if (r->reserved_pos < 0)
        return;
    c->reserved[at] = c->reserved[--c->n_reserved];
    c->recs[c->reserved[at]].reserved_pos = (int64_t)at;
    r->reserved_pos = -1;
}

/* Delete the record at index at: the last record moves into its slot, so
 * that the records of placements gone cost nothing. */
static void drop_record(svc *c, size_t at)
{
    record *r = &c->recs[at];
    char key[KEY_MAX];

    reserved_remove(c, r);
    if (!make_key(key, r->ns, r->job, r->pe))
        (void)sp_map_del(&c->rec_index, key);
    record_fields_free(r);
    if (at == --c->n_recs)
        return;
    *r = c->recs[c->n_recs];
    /* the key is in the map already: updating it allocates nothing */
    if (!make_key(key, r->ns, r->job, r->pe))
        (void)!sp_map_put(&c->rec_index, key, (int64_t)at);
    if (r->reserved_pos >= 0)
        c->reserved[r->reserved_pos] = at;
}

/* What the TTL deletes, in both modes: a Released placement decided before
 * cutoff whose job has no pod left. */
static bool stale(svc *c, const record *r, int64_t cutoff)
{
    return r->phase == PH_RELEASED && r->decided_at < cutoff &&
           place_state_job_size(c->st, r->ns, r->job) == 0;
}

/* ------------------------------------------------------------------------ */
/* Decisions                                                                  */
/* ------------------------------------------------------------------------ */

/*
 * Change the record of pe to phase on node (NULL: none) with reason, and
 * persist it; on failure the record is as it was. launch counts a new pod.
 */
static sp_rc decide(svc *c, int32_t pe, phase_kind phase, const char *node,
                    const char *reason, sp_err *err, record **out)
{
    place_pe_info info;
    record *r, saved;
    sp_rc rc;

    place_pe_get(c->st, pe, &info);
    rc = get_record(c, info.namespace_, info.job, info.pe, &r);
    if (!rc)
        rc = record_copy(r, &saved);
    if (rc)
        return sp_err_set(err, rc, "placement of PE %s/%s: %s", info.job, info.pe,
                          sp_strerror(rc));
    if (!r->uid || strcmp(r->uid, info.uid) != 0)
        r->launches++;
    if (r->node && node && strcmp(r->node, node) != 0)
        rc = set_str(&r->previous, r->node);
    if (!rc)
        rc = set_str(&r->uid, info.uid);
    if (!rc)
        rc = set_str(&r->pod, info.pod);
    if (!rc)
        rc = set_str(&r->node, node);
    if (!rc)
        rc = set_str(&r->reason, reason);
    r->phase = phase;
    r->decided_at = c->now();
    r->expires_at = phase == PH_RESERVED ? r->decided_at + svc_policy(c)->reservation_ttl_s : 0;
    if (!rc)
        rc = persist(c, r, err);
    else
        sp_err_set(err, rc, "out of memory");
    if (rc) {
        record_restore(r, &saved);
        return rc;
    }
    record_fields_free(&saved);
    atomic_fetch_add(&c->decisions[phase], 1);
    *out = r;
    return SP_OK;
}

sp_rc svc_reserve(svc *c, int32_t pe, int32_t node, sp_err *err)
{
    record *r;
    sp_rc rc = decide(c, pe, PH_RESERVED, place_node_name(c->st, node), NULL, err, &r);

    if (rc)
        return rc;
    reserved_add(c, r);
    return place_state_reserve(c->st, pe, node);
}

sp_rc svc_bind(svc *c, int32_t pe, int32_t node, sp_err *err)
{
    place_pe_info info;
    record *r;
    sp_rc rc = decide(c, pe, PH_BOUND, place_node_name(c->st, node), NULL, err, &r);

    if (rc)
        return rc;
    reserved_remove(c, r);
    place_pe_get(c->st, pe, &info);
    if (c->sink.bind)
        rc = c->sink.bind(c->sink.ctx, info.namespace_, info.pod, info.uid,
                          place_node_name(c->st, node), err);
    return rc ? rc : place_state_bind(c->st, pe, node);
}

sp_rc svc_bind_unmanaged(svc *c, const char *ns, const char *pod, const char *uid,
                         const char *node, sp_err *err)
{
    if (!c->sink.bind)
        return sp_err_set(err, SP_ENOTFOUND,
                          "pod %s/%s (uid %s) is unknown to streams-placer: its filter call "
                          "did not reach this server",
                          ns, pod, uid);
    return c->sink.bind(c->sink.ctx, ns, pod, uid, node, err);
}

sp_rc svc_fail(svc *c, int32_t pe, const char *reason, sp_err *err)
{
    place_pe_info info;
    record *r;

    place_pe_get(c->st, pe, &info);
    r = find_record(c, info.namespace_, info.job, info.pe);
    if (r && r->phase == PH_FAILED && r->uid && strcmp(r->uid, info.uid) == 0 &&
        r->reason && strcmp(r->reason, reason) == 0)
        return SP_OK; /* kube-scheduler retries: say it once */
    if (c->sink.explain)
        c->sink.explain(c->sink.ctx, info.namespace_, info.pod, info.uid, reason);
    return decide(c, pe, PH_FAILED, NULL, reason, err, &r);
}

void svc_placement_of(svc *c, int32_t pe, const char **phase, const char **node)
{
    place_pe_info info;
    record *r;

    place_pe_get(c->st, pe, &info);
    r = find_record(c, info.namespace_, info.job, info.pe);
    *phase = r ? phase_names[r->phase] : "";
    *node = r && r->node ? r->node : "";
}

/* Release the reservation of record r: its pod goes back to pending. */
static sp_rc release(svc *c, record *r, const char *reason, sp_err *err)
{
    record saved;
    int32_t pe = r->uid ? place_state_find_pe(c->st, r->uid) : PLACE_NONE;
    sp_rc rc = record_copy(r, &saved);

    if (rc)
        return sp_err_set(err, rc, "out of memory");
    if (r->node)
        rc = set_str(&r->previous, r->node);
    if (!rc)
        rc = set_str(&r->node, NULL);
    if (!rc)
        rc = set_str(&r->reason, reason);
    r->phase = PH_RELEASED;
    r->expires_at = 0;
    r->decided_at = c->now();
    rc = rc ? rc : persist(c, r, err);
    if (rc) {
        record_restore(r, &saved);
        return rc;
    }
    record_fields_free(&saved);
    reserved_remove(c, r);
    atomic_fetch_add(&c->decisions[PH_RELEASED], 1);
    if (pe != PLACE_NONE)
        return place_state_release(c->st, pe);
    return SP_OK;
}

static int cmp_index_desc(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;

    return x < y ? 1 : x > y ? -1 : 0;
}

/* The stale records among the next SWEEP_SCAN from the sweep's cursor (at
 * most SWEEP_MAX, each once) into at[], highest index first: their count. */
static size_t find_stale(svc *c, int64_t cutoff, size_t *at)
{
    size_t n = 0;

    for (size_t seen = 0; seen < SWEEP_SCAN && seen < c->n_recs && n < SWEEP_MAX; seen++) {
        if (c->sweep_pos >= c->n_recs)
            c->sweep_pos = 0;
        if (stale(c, &c->recs[c->sweep_pos], cutoff))
            at[n++] = c->sweep_pos;
        c->sweep_pos++;
    }
    qsort(at, n, sizeof(*at), cmp_index_desc);
    return n;
}

/*
 * Standalone, at most once a second: delete the placements stale after the
 * policy's releasedPlacementTTLSeconds, from the store (one synced
 * transaction) and then from memory, as the reconciler's sweep deletes
 * PEPlacements in a cluster. A failed write deletes nothing.
 */
static sp_rc sweep_released(svc *c, sp_err *err)
{
    size_t at[SWEEP_MAX], n;
    int64_t now = c->now();
    char count[32];
    sp_rc rc;

    if (!c->db || now == c->last_sweep)
        return SP_OK;
    c->last_sweep = now;
    n = find_stale(c, now - svc_policy(c)->released_ttl_s, at);
    if (!n)
        return SP_OK;
    rc = store_begin(c->db, err);
    for (size_t i = 0; i < n && !rc; i++)
        rc = store_delete_placement(c->db, c->recs[at[i]].ns, c->recs[at[i]].job,
                                    c->recs[at[i]].pe, err);
    if (!rc)
        rc = store_commit(c->db, err);
    if (rc) {
        store_rollback(c->db);
        return sp_err_prefix(err, "deleting released placements");
    }
    for (size_t i = 0; i < n; i++) /* highest first: no index moves before its turn */
        drop_record(c, at[i]);
    snprintf(count, sizeof(count), "%zu", n);
    sp_log(SP_LOG_INFO, "placements_deleted", "count", count, "reason",
           "released, and their job has no pods left", NULL);
    return SP_OK;
}

sp_rc svc_expire(svc *c, sp_err *err)
{
    int64_t now = c->now();
    char reason[128];
    sp_rc rc = SP_OK;

    if (snprintf(reason, sizeof(reason), "reservation expired: no bind within %ds",
                 svc_policy(c)->reservation_ttl_s) < 0)
        reason[0] = '\0';
    for (size_t i = c->n_reserved; i-- > 0 && !rc;) {
        record *r = &c->recs[c->reserved[i]];
        int32_t pe;
        place_pe_info info;
        if (r->expires_at > now)
            continue; /* most of them: no lookup (every filter call runs this) */
        pe = r->uid ? place_state_find_pe(c->st, r->uid) : PLACE_NONE;
        if (pe != PLACE_NONE) {
            place_pe_get(c->st, pe, &info);
            if (info.phase == PLACE_BOUND) {
                record *b;
                rc = decide(c, pe, PH_BOUND, place_node_name(c->st, info.node), NULL, err, &b);
                reserved_remove(c, r);
                continue;
            }
        }
        sp_log(SP_LOG_INFO, "reservation_expired", "job", r->job, "pe", r->pe, "node",
               r->node, NULL);
        rc = release(c, r, reason, err);
    }
    return rc ? rc : sweep_released(c, err);
}

/* ------------------------------------------------------------------------ */
/* Pods, pools, nodes                                                         */
/* ------------------------------------------------------------------------ */

static const char *label_of(const place_pod_input *in, const char *key)
{
    for (size_t i = 0; i < in->n_labels; i++)
        if (in->labels[i].key && strcmp(in->labels[i].key, key) == 0)
            return in->labels[i].value ? in->labels[i].value : "";
    return "";
}

/* The uid a pod is known by: its own, or pending:<ns>/<job>/<pe>. */
static sp_rc pod_uid(const kobj_pod *kp, char *buf, size_t len)
{
    int n;

    if (!kp->uid) {
        n = snprintf(buf, len, "%s", kp->in.uid);
    } else {
        n = snprintf(buf, len, SVC_PENDING_UID_PREFIX "%s/%s/%s", kp->in.namespace_,
                     label_of(&kp->in, PLACE_LABEL_JOB), label_of(&kp->in, PLACE_LABEL_PE));
    }
    return n < 0 || (size_t)n >= len ? SP_ELIMIT : SP_OK;
}

static bool is_pending_uid(const char *uid)
{
    return strncmp(uid, SVC_PENDING_UID_PREFIX, sizeof(SVC_PENDING_UID_PREFIX) - 1) == 0;
}

/* Drop the admission-time stand-ins of the PE that pod kp now is. */
static sp_rc drop_stand_ins(svc *c, const kobj_pod *kp, const char *uid, sp_err *err)
{
    int32_t pes[8];
    size_t n = place_state_pes_of(c->st, kp->in.namespace_, label_of(&kp->in, PLACE_LABEL_JOB),
                                  label_of(&kp->in, PLACE_LABEL_PE), pes, 8);
    sp_rc rc = SP_OK;

    for (size_t i = 0; i < n && i < 8 && !rc; i++) {
        place_pe_info info;
        char other[KEY_MAX];
        place_pe_get(c->st, pes[i], &info);
        if (!is_pending_uid(info.uid) || strcmp(info.uid, uid) == 0)
            continue;
        snprintf(other, sizeof(other), "%s", info.uid);
        rc = c->db ? store_delete_pod(c->db, other, err) : SP_OK;
        if (!rc)
            (void)sp_map_del(&c->pod_digests, other);
        if (!rc)
            rc = place_state_remove_pod(c->st, other);
    }
    return rc;
}

/* The node a new pod of this PE had before, from its placement. */
static const char *previous_of(svc *c, const kobj_pod *kp, const char *uid)
{
    record *r = find_record(c, kp->in.namespace_, label_of(&kp->in, PLACE_LABEL_JOB),
                            label_of(&kp->in, PLACE_LABEL_PE));

    if (!r)
        return NULL;
    if (r->uid && strcmp(r->uid, uid) != 0 && r->node)
        return r->node;
    return r->previous;
}

/* A PE already known under the pod's name (an admission for a pod the
 * service learned from elsewhere first): PLACE_NONE when there is none. */
static int32_t known_by_name(svc *c, const kobj_pod *kp)
{
    int32_t pes[8];
    size_t n = place_state_pes_of(c->st, kp->in.namespace_, label_of(&kp->in, PLACE_LABEL_JOB),
                                  label_of(&kp->in, PLACE_LABEL_PE), pes, 8);

    for (size_t i = 0; i < n && i < 8; i++) {
        place_pe_info info;
        place_pe_get(c->st, pes[i], &info);
        if (*kp->in.name && strcmp(info.pod, kp->in.name) == 0)
            return pes[i];
    }
    return PLACE_NONE;
}

/* Whether the pod is a PE this placer manages. */
static bool managed_pe(const svc *c, const kobj_pod *kp)
{
    return place_is_pe(kp->in.labels, kp->in.n_labels) &&
           pol_namespace_managed(c->policy, kp->in.namespace_);
}

/* Apply a stored placement to the PE that holds it (or, for a PE whose pod
 * was replaced, remember its node as the previous one). */
static sp_rc apply_row(svc *c, record *r)
{
    int32_t pe = r->uid ? place_state_find_pe(c->st, r->uid) : PLACE_NONE, node;
    int32_t pes[8];
    size_t n;

    if (pe != PLACE_NONE && r->node && (r->phase == PH_RESERVED || r->phase == PH_BOUND)) {
        if (place_state_node_ref(c->st, r->node, &node))
            return SP_ENOMEM;
        if (r->phase == PH_RESERVED)
            reserved_add(c, r);
        return r->phase == PH_RESERVED ? place_state_reserve(c->st, pe, node)
                                       : place_state_bind(c->st, pe, node);
    }
    n = place_state_pes_of(c->st, r->ns, r->job, r->pe, pes, 8);
    for (size_t i = 0; i < n && i < 8; i++) {
        const char *prev = r->node ? r->node : r->previous;
        place_pe_info info;
        place_pe_get(c->st, pes[i], &info);
        if (prev && info.node == PLACE_NONE && place_state_set_previous_node(c->st, pes[i], prev))
            return SP_ENOMEM;
    }
    return SP_OK;
}

/* A pod that arrives after its placement (watches deliver them in any
 * order, as after a restart) takes the decision it already has. */
static sp_rc adopt_placement(svc *c, const kobj_pod *kp, const char *uid)
{
    record *r = find_record(c, kp->in.namespace_, label_of(&kp->in, PLACE_LABEL_JOB),
                            label_of(&kp->in, PLACE_LABEL_PE));

    if (!r || !r->uid || strcmp(r->uid, uid) != 0)
        return SP_OK;
    return apply_row(c, r);
}

/* What the store keeps of a pod leaves out metadata.managedFields: the API
 * server's bookkeeping of who set which field, nearly half of a pod's text,
 * read by nothing here (a restart rebuilds from the rest). */
static const char *const pod_omit[] = { "metadata", "managedFields", NULL };

sp_rc svc_print_pod(const svc *c, const cJSON *pod, svc_printed_pod *out)
{
    svc_json_text t = { out->text, out->len, out->cap };
    sp_rc rc = svc_json_print(&t, pod, pod_omit);

    out->text = t.data;
    out->len = t.len;
    out->cap = t.cap;
    out->pod = rc ? NULL : pod;
    out->digest = rc ? 0 : svc_digest(&c->digest_key, t.data, t.len);
    return rc;
}

void svc_printed_pod_free(svc_printed_pod *p)
{
    if (!p)
        return;
    sp_free(p->text);
    memset(p, 0, sizeof(*p));
}

/* The pod's text and digest: printed ahead (pre, when it is this pod) or
 * into c->pod_text now. */
static sp_rc print_pod(svc *c, const cJSON *pod, const kobj_pod *kp, const svc_printed_pod *pre,
                       const char **text, uint64_t *digest, sp_err *err)
{
    sp_rc rc;

    if (pre && pre->pod == pod) {
        *text = pre->text;
        *digest = pre->digest;
        return SP_OK;
    }
    rc = svc_json_print(&c->pod_text, pod, pod_omit);
    if (rc == SP_ELIMIT)
        return sp_err_set(err, SP_EINVAL, "pod %s/%s: too large to store",
                          kp->in.namespace_, kp->in.name);
    if (rc)
        return sp_err_set(err, rc, "out of memory");
    *text = c->pod_text.data;
    *digest = svc_digest(&c->digest_key, c->pod_text.data, c->pod_text.len);
    return SP_OK;
}

/* Add the converted pod, printed by print_pod as text with digest, to the
 * state and the store under uid, and remember the digest (failing to
 * remember only costs a rewrite). */
static sp_rc add_pod(svc *c, kobj_pod *kp, const char *uid, const char *text, uint64_t digest,
                     int32_t *pe, sp_err *err)
{
    sp_rc rc;

    kp->in.uid = uid;
    kp->in.previous_node = previous_of(c, kp, uid);
    rc = c->db ? store_put_pod(c->db, uid, kp->in.namespace_, kp->in.name, text, err) : SP_OK;
    /* a stored row the state refused is only reloaded (and refused) again */
    if (!rc && (rc = place_state_add_pod(c->st, &kp->in, pe, err)) && c->db)
        (void)!store_delete_pod(c->db, uid, NULL);
    if (!rc && sp_map_put(&c->pod_digests, uid, (int64_t)digest))
        (void)sp_map_del(&c->pod_digests, uid);
    return rc ? rc : adopt_placement(c, kp, uid);
}

/* Whether the pod of this digest is, to the byte, the one last learned
 * under uid. */
static bool pod_unchanged(svc *c, const char *uid, uint64_t digest)
{
    int64_t known;

    return sp_map_get(&c->pod_digests, uid, &known) && (uint64_t)known == digest;
}

/* svc_learn_pod of a converted pod (which the caller clears), perhaps
 * printed ahead. */
static sp_rc learn_converted(svc *c, const cJSON *pod, kobj_pod *kp,
                             const svc_printed_pod *pre, int32_t *pe, sp_err *err)
{
    char uid[KEY_MAX];
    const char *text;
    uint64_t digest;
    sp_rc rc;

    *pe = PLACE_NONE;
    if (kp->terminal)
        return svc_forget_pod(c, pod, err);
    if (!managed_pe(c, kp))
        return SP_OK;
    rc = pod_uid(kp, uid, sizeof(uid));
    if (!rc && kp->uid)
        *pe = known_by_name(c, kp);
    if (!rc && *pe == PLACE_NONE && (*pe = place_state_find_pe(c->st, uid)) == PLACE_NONE) {
        rc = drop_stand_ins(c, kp, uid, err);
        if (!rc)
            rc = print_pod(c, pod, kp, pre, &text, &digest, err);
        if (!rc)
            rc = add_pod(c, kp, uid, text, digest, pe, err);
    }
    if (rc == SP_ELIMIT)
        rc = sp_err_set(err, SP_EINVAL, "pod %s/%s: name too long", kp->in.namespace_,
                        kp->in.name);
    return rc;
}

sp_rc svc_learn_pod(svc *c, const cJSON *pod, int32_t *pe, sp_err *err)
{
    kobj_pod kp;
    sp_rc rc;

    *pe = PLACE_NONE;
    rc = kobj_pod_from_json(pod, KOBJ_DEFAULT_NAMESPACE, &kp, err);
    if (rc)
        return rc == SP_ELIMIT ? SP_EINVAL : rc; /* a quantity too large: bad input */
    rc = learn_converted(c, pod, &kp, NULL, pe, err);
    kobj_pod_clear(&kp);
    return rc;
}

/* A known PE's pod changed (printed by print_pod as text with digest):
 * replace it, keeping its reservation or binding. */
static sp_rc replace_pod(svc *c, kobj_pod *kp, const char *uid, const char *text,
                         uint64_t digest, int32_t pe, sp_err *err)
{
    place_pe_info old;
    int32_t node;
    sp_rc rc;

    place_pe_get(c->st, pe, &old);
    node = old.node;
    (void)sp_map_del(&c->pod_digests, uid);
    rc = place_state_remove_pod(c->st, uid);
    if (!rc)
        rc = add_pod(c, kp, uid, text, digest, &pe, err);
    if (!rc && node != PLACE_NONE && old.phase == PLACE_RESERVED)
        rc = place_state_reserve(c->st, pe, node);
    else if (!rc && node != PLACE_NONE && old.phase == PLACE_BOUND)
        rc = place_state_bind(c->st, pe, node);
    return rc;
}

sp_rc svc_update_printed_pod(svc *c, const cJSON *pod, const kobj_pod *converted,
                             const svc_printed_pod *pre, sp_err *err)
{
    kobj_pod kp;
    char uid[KEY_MAX];
    const char *text;
    uint64_t digest;
    int32_t pe;
    sp_rc rc = SP_OK;

    if (converted)
        kp = *converted; /* a shallow copy: the arrays stay the caller's */
    else
        rc = kobj_pod_from_json(pod, KOBJ_DEFAULT_NAMESPACE, &kp, err);
    if (rc)
        return rc;
    rc = pod_uid(&kp, uid, sizeof(uid));
    pe = rc ? PLACE_NONE : place_state_find_pe(c->st, uid);
    if (pe != PLACE_NONE && managed_pe(c, &kp) && !kp.terminal) {
        rc = print_pod(c, pod, &kp, pre, &text, &digest, err);
        if (!rc && !pod_unchanged(c, uid, digest))
            rc = replace_pod(c, &kp, uid, text, digest, pe, err);
    } else if (!rc) {
        rc = learn_converted(c, pod, &kp, pre, &pe, err);
    }
    if (!converted)
        kobj_pod_clear(&kp);
    return rc;
}

sp_rc svc_update_pod(svc *c, const cJSON *pod, sp_err *err)
{
    return svc_update_printed_pod(c, pod, NULL, NULL, err);
}

sp_rc svc_forget_pod(svc *c, const cJSON *pod, sp_err *err)
{
    kobj_pod kp;
    char uid[KEY_MAX];
    record *r;
    sp_rc rc = kobj_pod_from_json(pod, KOBJ_DEFAULT_NAMESPACE, &kp, err);

    if (rc)
        return rc;
    rc = pod_uid(&kp, uid, sizeof(uid));
    r = find_record(c, kp.in.namespace_, label_of(&kp.in, PLACE_LABEL_JOB),
                    label_of(&kp.in, PLACE_LABEL_PE));
    if (!rc && r && r->uid && strcmp(r->uid, uid) == 0 && r->phase != PH_RELEASED)
        rc = release(c, r, "pod deleted", err);
    if (!rc && c->db && place_state_find_pe(c->st, uid) != PLACE_NONE)
        rc = store_delete_pod(c->db, uid, err);
    if (!rc)
        (void)sp_map_del(&c->pod_digests, uid);
    if (!rc && place_state_remove_pod(c->st, uid) == SP_ENOTFOUND)
        rc = SP_OK; /* a second DELETE (a forced delete sends two) */
    kobj_pod_clear(&kp);
    return rc;
}

/* A pod that is not a PE of ours: replace its usage by uid. */
static sp_rc observe_other(svc *c, kobj_pod *kp, sp_err *err)
{
    sp_rc rc = place_state_remove_pod(c->st, kp->in.uid);

    if (rc == SP_ENOTFOUND)
        rc = SP_OK;
    if (!rc && kp->in.node && *kp->in.node)
        rc = place_state_add_pod(c->st, &kp->in, NULL, err);
    return rc;
}

sp_rc svc_observe_pod(svc *c, const cJSON *pod, sp_err *err)
{
    kobj_pod kp;
    bool pe, terminal;
    sp_rc rc = kobj_pod_from_json(pod, KOBJ_DEFAULT_NAMESPACE, &kp, err);

    if (rc)
        return rc;
    terminal = kp.terminal;
    pe = managed_pe(c, &kp);
    if (!terminal && !pe)
        rc = observe_other(c, &kp, err);
    kobj_pod_clear(&kp);
    if (rc || (!terminal && !pe))
        return rc;
    return terminal ? svc_forget_pod(c, pod, err) : svc_update_pod(c, pod, err);
}

sp_rc svc_forget_node(svc *c, const char *name, sp_err *err)
{
    sp_rc rc = place_state_remove_node(c->st, name);

    if (rc == SP_ENOTFOUND)
        return SP_OK;
    return rc ? sp_err_set(err, rc, "node %s: %s", name, sp_strerror(rc)) : SP_OK;
}

sp_rc svc_forget_pool(svc *c, const char *ns, const char *name, sp_err *err)
{
    sp_rc rc = place_state_remove_pool(c->st, ns, name);

    if (rc == SP_ENOTFOUND)
        return SP_OK;
    return rc ? sp_err_set(err, rc, "HostPool %s/%s: %s", ns, name, sp_strerror(rc)) : SP_OK;
}

/* Remember that ns/name has a row in the store. */
static sp_rc note_stored_pool(svc *c, const char *ns, const char *name)
{
    char key[KEY_MAX];
    int n = snprintf(key, sizeof(key), "%s/%s", ns, name);

    if (n < 0 || n >= KEY_MAX)
        return SP_ELIMIT;
    return sp_map_put(&c->stored_pools, key, 1);
}

/* A pool from --hostpools has no row yet: store a bare one (no object; the
 * file stays its source) so that its membership can be stored. */
static sp_rc ensure_pool_row(svc *c, const char *ns, const char *name, sp_err *err)
{
    char key[KEY_MAX];
    int n = snprintf(key, sizeof(key), "%s/%s", ns, name);
    sp_rc rc;

    if (n < 0 || n >= KEY_MAX)
        return sp_err_set(err, SP_ELIMIT, "HostPool %s/%s: name too long", ns, name);
    if (sp_map_get(&c->stored_pools, key, NULL))
        return SP_OK;
    rc = store_put_pool(c->db, ns, name, "", err);
    if (!rc && sp_map_put(&c->stored_pools, key, 1))
        rc = sp_err_set(err, SP_ENOMEM, "out of memory");
    return rc;
}

sp_rc svc_learn_pool(svc *c, const cJSON *pool, sp_err *err)
{
    kobj_pool kp;
    char *json;
    sp_err verr = { SP_OK, "" };
    sp_rc rc = kobj_pool_from_json(pool, KOBJ_DEFAULT_NAMESPACE, &kp, err);

    if (rc)
        return rc;
    json = c->db ? cJSON_PrintUnformatted(pool) : NULL;
    if (c->db)
        rc = json ? store_put_pool(c->db, kp.in.namespace_, kp.in.name, json, err)
                  : sp_err_set(err, SP_ENOMEM, "out of memory");
    if (!rc && c->db && note_stored_pool(c, kp.in.namespace_, kp.in.name))
        rc = sp_err_set(err, SP_ENOMEM, "out of memory");
    if (!rc)
        rc = place_state_put_pool(c->st, &kp.in, NULL, &verr);
    if (!rc && verr.rc)
        sp_log(SP_LOG_WARN, "hostpool_invalid", "namespace", kp.in.namespace_, "name",
               kp.in.name, "error", verr.msg, NULL);
    sp_free(json);
    kobj_pool_clear(&kp);
    return rc;
}

sp_rc svc_learn_node(svc *c, const cJSON *node, int32_t *idx, sp_err *err)
{
    kobj_node kn;
    sp_rc rc = kobj_node_from_json(node, &kn, err);

    if (!rc)
        rc = place_state_put_node(c->st, &kn.in, idx, err);
    kobj_node_clear(&kn);
    return rc;
}

sp_rc svc_save_pools(svc *c, sp_err *err)
{
    size_t n = place_state_pool_slots(c->st);
    sp_rc rc = SP_OK;

    if (sp_grow(&c->saved_gen, &c->cap_saved_gen, n, sizeof(*c->saved_gen)))
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    while (c->n_saved_gen < n)
        c->saved_gen[c->n_saved_gen++] = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        place_pool_info info;
        const char **hosts = NULL;
        size_t n_hosts = 0;
        uint64_t gen = place_pool_members_gen(c->st, (int32_t)i);
        if (!place_state_pool_alive(c->st, (int32_t)i) || gen == c->saved_gen[i])
            continue;
        place_pool_get(c->st, (int32_t)i, &info);
        rc = place_pool_hosts(c->st, (int32_t)i, &hosts, &n_hosts);
        if (!rc && info.size)
            rc = c->sink.put_members(c->sink.ctx, info.namespace_, info.name, hosts, n_hosts,
                                     err);
        if (!rc)
            c->saved_gen[i] = gen;
        sp_free(hosts);
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Placements written elsewhere                                               */
/* ------------------------------------------------------------------------ */

static phase_kind phase_of(const char *name)
{
    for (int i = PH_RESERVED; i < PH_COUNT; i++)
        if (name && strcmp(name, phase_names[i]) == 0)
            return (phase_kind)i;
    return PH_NONE;
}

/* Is p older than what r already says (a write of ours seen late)? */
static bool stale_news(const record *r, const store_placement *p)
{
    bool same_pod = r->uid && p->uid && strcmp(r->uid, p->uid) == 0;

    if (p->decided_at < r->decided_at)
        return true;
    return same_pod && r->phase == PH_BOUND && phase_of(p->phase) == PH_RESERVED;
}

static sp_rc copy_placement(record *r, const store_placement *p)
{
    if (set_str(&r->uid, p->uid) || set_str(&r->pod, p->pod) || set_str(&r->node, p->node) ||
        set_str(&r->previous, p->previous_node) || set_str(&r->reason, p->reason))
        return SP_ENOMEM;
    r->phase = phase_of(p->phase);
    r->decided_at = p->decided_at;
    r->expires_at = p->expires_at;
    r->launches = p->launches;
    return SP_OK;
}

sp_rc svc_learn_placement(svc *c, const store_placement *p, sp_err *err)
{
    record *r = find_record(c, p->namespace_, p->job, p->pe);
    sp_rc rc;

    if (r && stale_news(r, p))
        return SP_OK;
    rc = r ? SP_OK : get_record(c, p->namespace_, p->job, p->pe, &r);
    if (!rc)
        rc = copy_placement(r, p);
    if (!rc && r->phase != PH_RESERVED)
        reserved_remove(c, r);
    if (!rc)
        rc = apply_row(c, r);
    return rc ? sp_err_set(err, rc, "placement %s/%s/%s: %s", p->namespace_, p->job, p->pe,
                           sp_strerror(rc))
              : SP_OK;
}

sp_rc svc_forget_placement(svc *c, const char *ns, const char *job, const char *pe,
                           sp_err *err)
{
    record *r = find_record(c, ns, job, pe);

    (void)err;
    if (r)
        drop_record(c, (size_t)(r - c->recs));
    return SP_OK;
}

sp_rc svc_stale_placements(svc *c, int64_t cutoff, size_t max, char ***out, size_t *n)
{
    char **keys = sp_calloc(max + 1, sizeof(*keys));
    size_t found = 0;

    *out = NULL;
    *n = 0;
    if (!keys)
        return SP_ENOMEM;
    for (size_t i = 0; i < c->n_recs && found < max; i++) {
        const record *r = &c->recs[i];
        char key[KEY_MAX];
        if (!stale(c, r, cutoff) || make_key(key, r->ns, r->job, r->pe))
            continue;
        if (!(keys[found] = sp_strdup(key))) {
            sp_strv_free(keys, found);
            return SP_ENOMEM;
        }
        found++;
    }
    *out = keys;
    *n = found;
    return SP_OK;
}

/* ------------------------------------------------------------------------ */
/* Counting                                                                   */
/* ------------------------------------------------------------------------ */

void svc_count_rejection(svc *c, place_reason_code code)
{
    if ((unsigned)code <= PLACE_R_JOB)
        atomic_fetch_add(&c->rejections[code], 1);
}

void svc_count_admission(svc *c, bool mutate, bool allowed)
{
    atomic_fetch_add(&c->admissions[mutate][allowed], 1);
}

sp_rc svc_metrics_write(svc *c, sp_buf *out)
{
    size_t reserved, placements;
    store_stats commits;
    sp_rc rc = sp_buf_puts(out, "# HELP streams_placer_decisions_total Placement decisions by phase.\n"
                                "# TYPE streams_placer_decisions_total counter\n");

    for (int p = PH_RESERVED; p < PH_COUNT && !rc; p++)
        rc = sp_buf_printf(out, "streams_placer_decisions_total{phase=\"%s\"} %llu\n",
                           phase_names[p], atomic_load(&c->decisions[p]));
    if (!rc)
        rc = sp_buf_puts(out, "# HELP streams_placer_rejections_total Nodes refused, by reason.\n"
                              "# TYPE streams_placer_rejections_total counter\n");
    for (int r = PLACE_R_NODE_CORDONED; r <= PLACE_R_JOB && !rc; r++)
        rc = sp_buf_printf(out, "streams_placer_rejections_total{reason=\"%s\"} %llu\n",
                           place_reason_code_name(r), atomic_load(&c->rejections[r]));
    if (!rc)
        rc = sp_buf_puts(out, "# HELP streams_placer_admission_reviews_total Admission answers.\n"
                              "# TYPE streams_placer_admission_reviews_total counter\n");
    for (int m = 0; m < 2 && !rc; m++)
        for (int a = 0; a < 2 && !rc; a++)
            rc = sp_buf_printf(out, "streams_placer_admission_reviews_total{webhook=\"%s\",allowed=\"%s\"} %llu\n",
                               m ? "mutate" : "validate", a ? "true" : "false",
                               atomic_load(&c->admissions[m][a]));
    if (!rc)
        rc = sp_buf_printf(out, "# HELP streams_placer_policy_reloads_total Policy reloads, by result.\n"
                                "# TYPE streams_placer_policy_reloads_total counter\n"
                                "streams_placer_policy_reloads_total{result=\"success\"} %llu\n"
                                "streams_placer_policy_reloads_total{result=\"error\"} %llu\n"
                                "# HELP streams_placer_policy_valid 1 when the last policy read was valid.\n"
                                "# TYPE streams_placer_policy_valid gauge\n"
                                "streams_placer_policy_valid %d\n",
                           atomic_load(&c->policy_reloads[0]), atomic_load(&c->policy_reloads[1]),
                           atomic_load(&c->policy_valid) ? 1 : 0);
    svc_lock(c);
    reserved = c->n_reserved;
    placements = c->n_recs;
    store_get_stats(c->db, &commits);
    svc_unlock(c);
    if (!rc)
        rc = sp_buf_printf(out, "# HELP streams_placer_reservations Reservations waiting for a bind.\n"
                                "# TYPE streams_placer_reservations gauge\n"
                                "streams_placer_reservations %zu\n"
                                "# HELP streams_placer_placements PE placements kept (any phase).\n"
                                "# TYPE streams_placer_placements gauge\n"
                                "streams_placer_placements %zu\n", reserved, placements);
    if (!rc && c->db)
        rc = sp_buf_printf(out, "# HELP streams_placer_store_commits_total Commits to the embedded store: "
                                "synced (decisions), synced in the background (reservations) or "
                                "left in the WAL (pod observations).\n"
                                "# TYPE streams_placer_store_commits_total counter\n"
                                "streams_placer_store_commits_total{durability=\"synced\"} %llu\n"
                                "streams_placer_store_commits_total{durability=\"deferred\"} %llu\n"
                                "streams_placer_store_commits_total{durability=\"unsynced\"} %llu\n",
                           (unsigned long long)commits.synced,
                           (unsigned long long)commits.deferred,
                           (unsigned long long)commits.unsynced);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The standalone sink: the embedded store                                    */
/* ------------------------------------------------------------------------ */

void svc_defer_sync(svc *c, bool on)
{
    if (c->db)
        store_defer_sync(c->db, on);
}

static sp_rc store_sink_placement(void *ctx, const store_placement *p, sp_err *err)
{
    return store_put_placement(((svc *)ctx)->db, p, err);
}

static sp_rc store_sink_members(void *ctx, const char *ns, const char *pool,
                                const char *const *hosts, size_t n, sp_err *err)
{
    svc *c = ctx;
    sp_rc rc = ensure_pool_row(c, ns, pool, err);

    return rc ? rc : store_put_members(c->db, ns, pool, hosts, n, err);
}

/* ------------------------------------------------------------------------ */
/* Opening: policy, files, and the state rebuilt from the store               */
/* ------------------------------------------------------------------------ */

static sp_rc load_policy(const char *path, pol_policy **out, sp_err *err)
{
    char *data = NULL;
    size_t len = 0;
    sp_rc rc;

    if (!path)
        return pol_default(out) ? sp_err_set(err, SP_ENOMEM, "out of memory") : SP_OK;
    rc = kobj_read_file(path, POL_MAX_BYTES, &data, &len, err);
    if (!rc)
        rc = pol_parse(data, len, out, err);
    sp_free(data);
    return rc ? sp_err_prefix(err, "policy %s", path) : SP_OK;
}

/* The tag prefix stays what the state was built with: keep it in p. */
static sp_rc keep_tag_prefix(const pol_policy *old, pol_policy *p)
{
    char *prefix;

    if (strcmp(old->tag_prefix, p->tag_prefix) == 0)
        return SP_OK;
    if (!(prefix = sp_strdup(old->tag_prefix)))
        return SP_ENOMEM;
    sp_log(SP_LOG_WARN, "policy_field_needs_restart", "field", "tagLabelPrefix", "running",
           old->tag_prefix, "new", p->tag_prefix, "reason",
           "node tags were read with the running prefix; restart to use the new one", NULL);
    sp_free(p->tag_prefix);
    p->tag_prefix = prefix;
    return SP_OK;
}

/* Swap in p (taken) under the lock. */
static sp_rc apply_policy(svc *c, pol_policy *p, sp_err *err)
{
    place_policy pp;
    sp_rc rc;

    svc_lock(c);
    rc = keep_tag_prefix(c->policy, p);
    pol_to_place(p, &pp);
    if (!rc)
        rc = place_state_set_policy(c->st, &pp);
    if (!rc) {
        pol_free(c->policy);
        c->policy = p;
        p = NULL;
    }
    svc_unlock(c);
    pol_free(p);
    return rc ? sp_err_set(err, rc, "out of memory applying the policy") : SP_OK;
}

sp_rc svc_reload_policy(svc *c, sp_err *err)
{
    pol_policy *p = NULL;
    sp_rc rc;

    if (!c->policy_path)
        return sp_err_set(err, SP_EINVAL, "no policy file to reload: the built-in policy is in use");
    rc = load_policy(c->policy_path, &p, err);
    if (!rc)
        rc = apply_policy(c, p, err);
    atomic_fetch_add(&c->policy_reloads[rc ? 1 : 0], 1);
    atomic_store(&c->policy_valid, rc == SP_OK);
    if (rc)
        return rc;
    svc_lock(c);
    sp_log(SP_LOG_INFO, "policy_reloaded", "path", c->policy_path, "mode",
           pol_mode_name(c->policy->mode), "isolationScope",
           pol_isolation_scope_name(c->policy->isolation_scope), "balancing",
           pol_balancing_name(c->policy->balancing), "gangWait",
           c->policy->gang_wait ? "true" : "false", "defaultHostPool",
           c->policy->default_pool ? c->policy->default_pool : "", NULL);
    svc_unlock(c);
    return SP_OK;
}

static sp_rc load_pool_row(void *ctx, const char *ns, const char *name, const char *json,
                           const char *const *members, size_t n_members, sp_err *err)
{
    svc *c = ctx;
    cJSON *obj = NULL;
    kobj_pool kp;
    int32_t pool;
    sp_rc rc = note_stored_pool(c, ns, name);

    if (json && *json) {
        rc = kobj_parse_json(json, strlen(json), &obj, err);
        if (!rc)
            rc = kobj_pool_from_json(obj, ns, &kp, err);
        if (!rc) {
            sp_err verr = { SP_OK, "" };
            rc = place_state_put_pool(c->st, &kp.in, NULL, &verr);
            kobj_pool_clear(&kp);
        }
        cJSON_Delete(obj);
    }
    pool = place_state_find_pool(c->st, ns, name);
    if (!rc && pool != PLACE_NONE && n_members &&
        place_state_set_pool_members(c->st, pool, members, n_members))
        sp_log(SP_LOG_WARN, "membership_ignored", "namespace", ns, "pool", name, "reason",
               "the stored members do not fit the pool as it is now", NULL);
    return rc ? sp_err_prefix(err, "stored HostPool %s/%s", ns, name) : SP_OK;
}

static sp_rc load_pod_row(void *ctx, const char *uid, const char *json, sp_err *err)
{
    svc *c = ctx;
    cJSON *obj = NULL;
    kobj_pod kp;
    sp_rc rc = kobj_parse_json(json, strlen(json), &obj, err);

    if (!rc)
        rc = kobj_pod_from_json(obj, KOBJ_DEFAULT_NAMESPACE, &kp, err);
    if (!rc) {
        kp.in.uid = uid;
        if (place_state_find_pe(c->st, uid) == PLACE_NONE)
            rc = place_state_add_pod(c->st, &kp.in, NULL, err);
        kobj_pod_clear(&kp);
    }
    cJSON_Delete(obj);
    return rc ? sp_err_prefix(err, "stored pod %s", uid) : SP_OK;
}

static sp_rc load_placement_row(void *ctx, const store_placement *p, sp_err *err)
{
    return svc_learn_placement(ctx, p, err);
}

static sp_rc load_files(svc *c, const svc_config *cfg, sp_err *err)
{
    place_policy pp;
    sp_rc rc;

    pol_to_place(c->policy, &pp);
    rc = place_state_new(&pp, &c->st);
    if (rc)
        return sp_err_set(err, rc, "out of memory");
    if (cfg->nodes_path)
        rc = kobj_load_file(c->st, KOBJ_NODE, cfg->nodes_path, c->policy, NULL, err);
    if (!rc && cfg->hostpools_path)
        rc = kobj_load_file(c->st, KOBJ_HOSTPOOL, cfg->hostpools_path, c->policy, NULL, err);
    if (!rc && cfg->pods_path)
        rc = kobj_load_file(c->st, KOBJ_POD, cfg->pods_path, c->policy, NULL, err);
    return rc;
}

static sp_rc load_store(svc *c, const svc_config *cfg, sp_err *err)
{
    static const store_visitor visit = { load_pool_row, load_pod_row, load_placement_row };
    sp_rc rc = store_open(cfg->state_dir, &c->db, err);

    c->sink.put_placement = store_sink_placement;
    c->sink.put_members = store_sink_members;
    c->sink.ctx = c;

    if (!rc)
        rc = store_load(c->db, &visit, c, err);
    if (!rc)
        rc = svc_expire(c, err);
    for (size_t i = 0; !rc && i < place_state_pool_slots(c->st); i++) {
        if (sp_grow(&c->saved_gen, &c->cap_saved_gen, i + 1, sizeof(*c->saved_gen)))
            return sp_err_set(err, SP_ENOMEM, "out of memory");
        c->saved_gen[i] = place_pool_members_gen(c->st, (int32_t)i);
        c->n_saved_gen = i + 1;
    }
    return rc;
}

sp_rc svc_open(const svc_config *cfg, svc **out, sp_err *err)
{
    svc *c = sp_calloc(1, sizeof(*c));
    sp_rc rc;

    *out = NULL;
    if (!c)
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    pthread_mutex_init(&c->lock, NULL);
    sp_map_init(&c->rec_index);
    sp_map_init(&c->stored_pools);
    sp_map_init(&c->pod_digests);
    c->now = wall_clock;
    atomic_init(&c->policy_valid, true);
    rc = svc_digest_key_new(&c->digest_key, err);
    if (!rc && cfg->policy_path && !(c->policy_path = sp_strdup(cfg->policy_path)))
        rc = sp_err_set(err, SP_ENOMEM, "out of memory");
    else if (!rc)
        rc = load_policy(cfg->policy_path, &c->policy, err);
    if (!rc)
        rc = load_files(c, cfg, err);
    if (!rc && cfg->sink)
        c->sink = *cfg->sink;
    else if (!rc)
        rc = load_store(c, cfg, err);
    if (rc) {
        svc_close(c);
        return rc;
    }
    /* glibc keeps what the loads freed (the cJSON tree of a 232 MiB --pods
     * file is over a GiB) unless asked to give it back */
    (void)malloc_trim(0);
    *out = c;
    return SP_OK;
}

void svc_close(svc *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_recs; i++)
        record_fields_free(&c->recs[i]);
    sp_free(c->recs);
    sp_free(c->reserved);
    sp_free(c->saved_gen);
    sp_map_free(&c->rec_index);
    sp_map_free(&c->stored_pools);
    sp_map_free(&c->pod_digests);
    svc_json_text_free(&c->pod_text);
    store_close(c->db);
    place_state_free(c->st);
    pol_free(c->policy);
    sp_free(c->policy_path);
    pthread_mutex_destroy(&c->lock);
    sp_free(c);
}
