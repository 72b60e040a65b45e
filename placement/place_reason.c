/*
 * The words behind every refusal. A place_reason is a compact code with
 * indexes into the state, cheap to produce for thousands of nodes per call;
 * this file turns one into the line a person reads in FailedNodes, in a
 * PEPlacement's status or in `streams-placer plan`. Two forms: the detailed
 * line for one node, and the summary form (no per-node figures) that groups
 * nodes in "0/6 nodes are available: ..." messages.
 */
#include <stdlib.h>
#include <string.h>

#include "placement/place_internal.h"
#include "util/sp_alloc.h"

void pl_reason_init(place_reason *r, place_reason_code code, bool unresolvable)
{
    memset(r, 0, sizeof(*r));
    r->code = code;
    r->unresolvable = unresolvable;
    r->pool = PLACE_NONE;
    r->index = PLACE_NONE;
    r->other_pe = PLACE_NONE;
    r->str = PLACE_NONE;
    r->str2 = PLACE_NONE;
}

const char *place_reason_code_name(place_reason_code code)
{
    static const char *const names[] = {
        [PLACE_R_OK] = "ok",
        [PLACE_R_NODE_CORDONED] = "node_cordoned",
        [PLACE_R_NODE_NOT_READY] = "node_not_ready",
        [PLACE_R_NODE_TAINT] = "node_taint",
        [PLACE_R_NODE_UNKNOWN] = "node_unknown",
        [PLACE_R_POOL_TAG] = "pool_tag",
        [PLACE_R_POOL_HOSTS] = "pool_hosts",
        [PLACE_R_POOL_FULL] = "pool_full",
        [PLACE_R_POOL_INDEX_NODE] = "pool_index",
        [PLACE_R_POOL_MEMBER_ELSEWHERE] = "pool_member_elsewhere",
        [PLACE_R_EXCLUSIVE_OTHER_JOB] = "exclusive_other_job",
        [PLACE_R_EXCLUSIVE_OCCUPIED] = "exclusive_occupied",
        [PLACE_R_EXCLUSIVE_TAKEN] = "exclusive_taken",
        [PLACE_R_COLOCATION] = "colocation",
        [PLACE_R_EXLOCATION] = "exlocation",
        [PLACE_R_ISOLATION_SELF] = "isolation",
        [PLACE_R_ISOLATION_OTHER] = "isolation_neighbour",
        [PLACE_R_PREVIOUS_NODE] = "previous_node",
        [PLACE_R_CPU] = "cpu",
        [PLACE_R_MEMORY] = "memory",
        [PLACE_R_PODS] = "pods",
        [PLACE_R_PLANNED_ELSEWHERE] = "planned_elsewhere",
        [PLACE_R_RESERVED_ELSEWHERE] = "reserved_elsewhere",
        [PLACE_R_JOB] = "job",
    };

    return (unsigned)code < sizeof(names) / sizeof(names[0]) && names[code] ? names[code]
                                                                           : "unknown";
}

static const char *str_of(const place_state *st, int32_t id)
{
    return id == PLACE_NONE ? "" : sp_intern_str(&st->strs, id);
}

static const char *name_of(const place_state *st, int32_t id)
{
    return id == PLACE_NONE ? "" : sp_intern_str(&st->names, id);
}

static const char *pool_name(const place_state *st, int32_t pool)
{
    return pool == PLACE_NONE ? "" : str_of(st, st->pools[pool].name);
}

/* The job name of a pool's "ns/job" key. */
static const char *pool_job(const place_state *st, int32_t pool)
{
    const char *key = str_of(st, st->pools[pool].job);
    const char *slash = strchr(key, '/');

    return slash ? slash + 1 : key;
}

static sp_rc put_pe(const place_state *st, sp_buf *out, int32_t pe)
{
    const pl_pe *p;

    if (pe == PLACE_NONE)
        return sp_buf_puts(out, "another PE");
    p = &st->pes[pe];
    return sp_buf_printf(out, "PE %s/%s", str_of(st, st->jobs[p->job].name), p->pe_id);
}

static sp_rc format_node_reason(const place_state *st, const place_reason *r,
                                sp_buf *out)
{
    const pl_taint *t;

    switch (r->code) {
    case PLACE_R_NODE_CORDONED:
        return sp_buf_puts(out, "node is cordoned (spec.unschedulable)");
    case PLACE_R_NODE_NOT_READY:
        return sp_buf_puts(out, "node is not Ready");
    case PLACE_R_NODE_UNKNOWN:
        return sp_buf_puts(out, "node is unknown to streams-placer");
    case PLACE_R_NODE_TAINT:
        t = &st->nodes[r->str].taints[r->index];
        return sp_buf_printf(out, "node has taint %s%s%s:%s that the pod does not tolerate",
                             t->key, t->value ? "=" : "", t->value ? t->value : "",
                             t->effect);
    default:
        return SP_EINTERNAL;
    }
}

static sp_rc format_pool_reason(const place_state *st, const place_reason *r,
                                sp_buf *out, bool summary)
{
    const char *pool = pool_name(st, r->pool);

    switch (r->code) {
    case PLACE_R_POOL_TAG:
        return sp_buf_printf(out, "hostPool '%s': node lacks tag '%s' (label %s%s)", pool,
                             str_of(st, r->str), st->tag_prefix, str_of(st, r->str));
    case PLACE_R_POOL_HOSTS:
        return sp_buf_printf(out, "hostPool '%s': node is not in spec.hosts", pool);
    case PLACE_R_POOL_FULL:
        return sp_buf_printf(out, "hostPool '%s': node is not one of its %lld members",
                             pool, (long long)st->pools[r->pool].size);
    case PLACE_R_POOL_INDEX_NODE:
        return summary ? sp_buf_printf(out, "hostPool '%s'[%d] is another node", pool,
                                       r->index)
                       : sp_buf_printf(out, "hostPool '%s'[%d] is node '%s'", pool,
                                       r->index, name_of(st, r->str2));
    case PLACE_R_POOL_MEMBER_ELSEWHERE:
        return sp_buf_printf(out, "hostPool '%s'[%d]: node already holds another index "
                                  "of the pool", pool, r->index);
    case PLACE_R_EXCLUSIVE_OTHER_JOB:
        return sp_buf_printf(out, "node belongs to exclusive hostPool '%s' of job '%s'",
                             pool, pool_job(st, r->pool));
    case PLACE_R_EXCLUSIVE_TAKEN:
        return sp_buf_printf(out, "exclusive hostPool '%s': node already belongs to "
                                  "exclusive hostPool '%s'",
                             pool, pool_name(st, r->index));
    case PLACE_R_EXCLUSIVE_OCCUPIED:
        if (summary)
            return sp_buf_printf(out, "exclusive hostPool '%s': node runs PEs of another job",
                                 pool);
        if (sp_buf_printf(out, "exclusive hostPool '%s': node runs ", pool))
            return SP_ENOMEM;
        if (put_pe(st, out, r->other_pe))
            return SP_ENOMEM;
        return sp_buf_puts(out, " of another job");
    default:
        return SP_EINTERNAL;
    }
}

/* Relations with other PEs: colocation, exlocation, isolation, restart. */
static sp_rc format_pe_reason(const place_state *st, const place_reason *r,
                              sp_buf *out, bool summary)
{
    sp_rc rc = SP_OK;

    switch (r->code) {
    case PLACE_R_COLOCATION:
        rc = sp_buf_printf(out, "hostColocation '%s': ", str_of(st, r->str));
        if (!rc)
            rc = put_pe(st, out, r->other_pe);
        return rc ? rc : sp_buf_printf(out, " is on node '%s'", name_of(st, r->str2));
    case PLACE_R_EXLOCATION:
        if (summary)
            return sp_buf_printf(out, "hostExlocation '%s': a PE of the job is already there",
                                 str_of(st, r->str));
        rc = sp_buf_printf(out, "hostExlocation '%s': ", str_of(st, r->str));
        if (!rc)
            rc = put_pe(st, out, r->other_pe);
        return rc ? rc : sp_buf_puts(out, " is already on this node");
    case PLACE_R_ISOLATION_SELF:
        if (summary)
            return sp_buf_puts(out, "hostIsolation: node runs other PEs");
        rc = sp_buf_puts(out, "hostIsolation: node runs ");
        return rc ? rc : put_pe(st, out, r->other_pe);
    case PLACE_R_ISOLATION_OTHER:
        if (summary)
            return sp_buf_puts(out, "hostIsolation: node runs an isolated PE");
        rc = sp_buf_puts(out, "hostIsolation: ");
        if (!rc)
            rc = put_pe(st, out, r->other_pe);
        return rc ? rc : sp_buf_puts(out, " on this node is isolated");
    case PLACE_R_PREVIOUS_NODE:
        rc = sp_buf_puts(out, "relocatable=false: ");
        if (!rc)
            rc = put_pe(st, out, r->other_pe);
        return rc ? rc : sp_buf_printf(out, " must return to node '%s'", name_of(st, r->str));
    default:
        return SP_EINTERNAL;
    }
}

static sp_rc format_capacity(const place_reason *r, sp_buf *out, bool summary)
{
    char need[32], free_[32], total[32];

    if (r->code == PLACE_R_PODS)
        return summary ? sp_buf_puts(out, "too many pods")
                       : sp_buf_printf(out, "too many pods: needs %lld, %lld free of %lld",
                                       (long long)r->need, (long long)r->free,
                                       (long long)r->total);
    if (summary)
        return sp_buf_printf(out, "insufficient %s",
                             r->code == PLACE_R_CPU ? "cpu" : "memory");
    if (r->code == PLACE_R_CPU) {
        place_format_cpu(r->need, need, sizeof(need));
        place_format_cpu(r->free < 0 ? 0 : r->free, free_, sizeof(free_));
        place_format_cpu(r->total, total, sizeof(total));
    } else {
        place_format_bytes(r->need, need, sizeof(need));
        place_format_bytes(r->free < 0 ? 0 : r->free, free_, sizeof(free_));
        place_format_bytes(r->total, total, sizeof(total));
    }
    return sp_buf_printf(out, "insufficient %s: needs %s, %s free of %s",
                         r->code == PLACE_R_CPU ? "cpu" : "memory", need, free_, total);
}

/* Detailed (summary=false) or grouped (summary=true) text of r. */
static sp_rc format_reason(const place_state *st, const place_reason *r, sp_buf *out,
                           bool summary)
{
    switch (r->code) {
    case PLACE_R_OK:
        return sp_buf_puts(out, "ok");
    case PLACE_R_NODE_CORDONED:
    case PLACE_R_NODE_NOT_READY:
    case PLACE_R_NODE_UNKNOWN:
    case PLACE_R_NODE_TAINT:
        return format_node_reason(st, r, out);
    case PLACE_R_POOL_TAG:
    case PLACE_R_POOL_HOSTS:
    case PLACE_R_POOL_FULL:
    case PLACE_R_POOL_INDEX_NODE:
    case PLACE_R_POOL_MEMBER_ELSEWHERE:
    case PLACE_R_EXCLUSIVE_OTHER_JOB:
    case PLACE_R_EXCLUSIVE_TAKEN:
    case PLACE_R_EXCLUSIVE_OCCUPIED:
        return format_pool_reason(st, r, out, summary);
    case PLACE_R_COLOCATION:
    case PLACE_R_EXLOCATION:
    case PLACE_R_ISOLATION_SELF:
    case PLACE_R_ISOLATION_OTHER:
    case PLACE_R_PREVIOUS_NODE:
        return format_pe_reason(st, r, out, summary);
    case PLACE_R_CPU:
    case PLACE_R_MEMORY:
    case PLACE_R_PODS:
        return format_capacity(r, out, summary);
    case PLACE_R_PLANNED_ELSEWHERE:
        return sp_buf_printf(out, "whole-job plan places this PE on node '%s'",
                             name_of(st, r->str));
    case PLACE_R_RESERVED_ELSEWHERE:
        return sp_buf_printf(out, "this PE is already reserved or bound on node '%s'",
                             name_of(st, r->str));
    case PLACE_R_JOB:
        return sp_buf_puts(out, r->text ? r->text : "job cannot be placed");
    }
    return SP_EINTERNAL;
}

sp_rc place_reason_format(const place_state *st, const place_reason *r, sp_buf *out)
{
    return format_reason(st, r, out, false);
}

sp_rc pl_reason_format_summary(const place_state *st, const place_reason *r,
                               sp_buf *out)
{
    return format_reason(st, r, out, true);
}

/* ------------------------------------------------------------------------ */
/* Summaries                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct tally {
    char *text;
    size_t count;
} tally;

static int tally_cmp(const void *a, const void *b)
{
    const tally *x = a, *y = b;

    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return strcmp(x->text, y->text);
}

/*
 * The fields of a reason that its summary text shows (the summary branches
 * of the format functions above): reasons with one key read the same, so a
 * key is formatted once however many nodes give it. Keys that differ may
 * still read the same (one taint on many nodes); the texts merge those.
 */
typedef struct summary_key {
    int32_t code, pool, index, other_pe, str, str2;
    const char *text;
} summary_key;

static summary_key summary_key_of(const place_reason *r)
{
    summary_key k;
    bool names_pe = r->code == PLACE_R_COLOCATION || r->code == PLACE_R_PREVIOUS_NODE;

    memset(&k, 0, sizeof(k));
    k.code = (int32_t)r->code;
    if (r->code == PLACE_R_CPU || r->code == PLACE_R_MEMORY || r->code == PLACE_R_PODS ||
        r->code == PLACE_R_ISOLATION_SELF || r->code == PLACE_R_ISOLATION_OTHER)
        return k;
    k.pool = r->pool;
    k.index = r->index;
    k.other_pe = names_pe ? r->other_pe : PLACE_NONE;
    k.str = r->str;
    k.str2 = r->code == PLACE_R_POOL_INDEX_NODE ? PLACE_NONE : r->str2;
    k.text = r->text;
    return k;
}

/* A key seen, and the text it reads as. */
typedef struct known_key {
    summary_key key;
    size_t at;                  /* index in the texts */
} known_key;

/* The texts counted so far, and the keys seen. */
typedef struct summary {
    tally *t;
    size_t n_t, cap_t;
    sp_map by_text;             /* text -> index in t */
    known_key *keys;
    size_t n_keys, cap_keys;
    sp_imap by_key;             /* hash of a key -> index in keys */
    sp_buf text;                /* scratch */
} summary;

/* Count one more node under the summary text of r; *at: its index in t. */
static sp_rc count_text(const place_state *st, const place_reason *r, summary *s,
                        size_t *at)
{
    int64_t known;
    sp_rc rc;

    sp_buf_reset(&s->text);
    rc = pl_reason_format_summary(st, r, &s->text);
    if (!rc && sp_map_get(&s->by_text, s->text.data, &known)) {
        *at = (size_t)known;
        s->t[*at].count++;
        return SP_OK;
    }
    if (!rc && sp_grow(&s->t, &s->cap_t, s->n_t + 1, sizeof(*s->t)))
        rc = SP_ENOMEM;
    if (!rc && !(s->t[s->n_t].text = sp_strdup(s->text.data)))
        rc = SP_ENOMEM;
    if (rc)
        return rc;
    s->t[s->n_t].count = 1;
    *at = s->n_t++;
    return sp_map_put(&s->by_text, s->text.data, (int64_t)*at);
}

/* Remember that key reads as text at (a key whose hash is taken is not
 * remembered: it is only formatted again). */
static sp_rc remember_key(summary *s, const summary_key *key, uint64_t hash, size_t at)
{
    if (sp_imap_get(&s->by_key, hash, NULL))
        return SP_OK;
    if (sp_grow(&s->keys, &s->cap_keys, s->n_keys + 1, sizeof(*s->keys)))
        return SP_ENOMEM;
    s->keys[s->n_keys].key = *key;
    s->keys[s->n_keys].at = at;
    return sp_imap_put(&s->by_key, hash, (int64_t)s->n_keys++);
}

/* Count one more node under the summary text of r. */
static sp_rc summary_count(const place_state *st, const place_reason *r, summary *s)
{
    summary_key key = summary_key_of(r);
    uint64_t hash = sp_hash_bytes(&key, sizeof(key));
    int64_t i;
    size_t at;
    sp_rc rc;

    if (sp_imap_get(&s->by_key, hash, &i) &&
        memcmp(&s->keys[i].key, &key, sizeof(key)) == 0) {
        s->t[s->keys[i].at].count++;
        return SP_OK;
    }
    rc = count_text(st, r, s, &at);
    return rc ? rc : remember_key(s, &key, hash, at);
}

static sp_rc tally_write(tally *t, size_t n, size_t ok, size_t total, sp_buf *out)
{
    sp_rc rc;

    if (n)
        qsort(t, n, sizeof(*t), tally_cmp);
    rc = sp_buf_printf(out, "%zu/%zu nodes are available", ok, total);
    for (size_t i = 0; i < n && !rc; i++)
        rc = sp_buf_printf(out, "%s %zu node(s): %s", i ? ";" : ":", t[i].count, t[i].text);
    if (!rc && total == 0)
        rc = sp_buf_puts(out, ": no nodes were offered");
    return rc;
}

sp_rc place_reason_summary(const place_state *st, const place_reason *verdicts, size_t n,
                           sp_buf *out)
{
    summary s;
    size_t ok = 0;
    sp_rc rc = SP_OK;

    memset(&s, 0, sizeof(s));
    sp_map_init(&s.by_text);
    sp_imap_init(&s.by_key);
    sp_buf_init(&s.text, 4096);
    for (size_t i = 0; i < n && !rc; i++) {
        if (verdicts[i].code == PLACE_R_OK)
            ok++;
        else
            rc = summary_count(st, &verdicts[i], &s);
    }
    if (!rc)
        rc = tally_write(s.t, s.n_t, ok, n, out);
    for (size_t i = 0; i < s.n_t; i++)
        sp_free(s.t[i].text);
    sp_free(s.t);
    sp_free(s.keys);
    sp_map_free(&s.by_text);
    sp_imap_free(&s.by_key);
    sp_buf_free(&s.text);
    return rc;
}
