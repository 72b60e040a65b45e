/*
 * Admission-time checks of a new PE against the PEs its job already has.
 * The planner finds the same contradictions once a pod exists (and reports
 * them on every affected PE); admission refuses the pod that would create
 * one, naming both PEs, so that its owner can fix the annotations before
 * anything is Pending.
 */
#include <stdio.h>
#include <string.h>

#include "placement/place_internal.h"
#include "util/sp_alloc.h"

/* The existing PEs of ns/job, or NULL with *n 0 when the job is new. */
static const pl_job *find_job(const place_state *st, const char *ns, const char *job)
{
    char key[512];
    int64_t idx;
    int n = snprintf(key, sizeof(key), "%s/%s", ns, job);

    if (n < 0 || (size_t)n >= sizeof(key) || !sp_map_get(&st->job_by_key, key, &idx))
        return NULL;
    return &st->jobs[idx];
}

static bool spec_has(char **ids, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0)
            return true;
    return false;
}

static bool pe_has(const place_state *st, const int32_t *ids, size_t n, const char *id)
{
    int32_t want = sp_intern_find(&st->strs, id);

    for (size_t i = 0; i < n && want >= 0; i++)
        if (ids[i] == want)
            return true;
    return false;
}

/* Union-find over the job's PE positions. */
static int32_t root(int32_t *parent, int32_t i)
{
    while (parent[i] != i)
        i = parent[i] = parent[parent[i]];
    return i;
}

static bool is_self(const place_state *st, const pl_job *j, size_t i, const place_pe_spec *s);

/* Join the job's PEs (but the new PE's own earlier pod) by colocation ids. */
static sp_rc join_by_colocation(const place_state *st, const pl_job *j,
                                const place_pe_spec *s, int32_t *parent)
{
    sp_imap first;
    sp_rc rc = SP_OK;

    sp_imap_init(&first);
    for (size_t i = 0; i < j->n_pes; i++)
        parent[i] = (int32_t)i;
    for (size_t i = 0; i < j->n_pes && !rc; i++) {
        const pl_pe *p = &st->pes[j->pes[i]];
        for (size_t k = 0; k < p->n_coloc && !rc && !is_self(st, j, i, s); k++) {
            int64_t at;
            if (sp_imap_get(&first, (uint64_t)p->coloc[k], &at))
                parent[root(parent, (int32_t)i)] = root(parent, (int32_t)at);
            else
                rc = sp_imap_put(&first, (uint64_t)p->coloc[k], (int64_t)i);
        }
    }
    sp_imap_free(&first);
    return rc;
}

static sp_rc contradiction(sp_err *err, const place_pe_spec *s, const char *a,
                           const char *b, const char *exid)
{
    return sp_err_set(err, SP_EINVAL,
                      "PE %s/%s: annotation %s puts PEs %s/%s and %s/%s on one node "
                      "but hostExlocation '%s' keeps them apart: remove the shared "
                      "colocation or the exlocation id",
                      s->job, s->pe, PLACE_ANN_COLOCATION, s->job, a, s->job, b, exid);
}

/* Is position i the new PE's own earlier pod (an update or a restart)? */
static bool is_self(const place_state *st, const pl_job *j, size_t i, const place_pe_spec *s)
{
    return strcmp(st->pes[j->pes[i]].pe_id, s->pe) == 0;
}

/* Mark (in joined) the groups whose PEs share a colocation id with the new PE. */
static sp_rc groups_joined(const place_state *st, const pl_job *j, int32_t *parent,
                           const place_pe_spec *s, sp_imap *joined)
{
    sp_rc rc = SP_OK;

    for (size_t i = 0; i < j->n_pes && !rc; i++) {
        const pl_pe *p = &st->pes[j->pes[i]];
        bool shares = false;
        for (size_t k = 0; k < s->n_colocation && !shares && !is_self(st, j, i, s); k++)
            shares = pe_has(st, p->coloc, p->n_coloc, s->colocation[k]);
        if (shares)
            rc = sp_imap_put(joined, (uint64_t)root(parent, (int32_t)i), 1);
    }
    return rc;
}

/*
 * Among the PEs of the groups the new PE joins (and the PE itself), two
 * from different groups that share an exlocation id are a contradiction it
 * makes: one pass with exlocation id -> (first group, first PE).
 */
static sp_rc check_merge(const place_state *st, const pl_job *j, int32_t *parent,
                         const place_pe_spec *s, sp_err *err)
{
    sp_imap joined, first;
    sp_rc rc;

    sp_imap_init(&joined);
    sp_imap_init(&first);
    rc = groups_joined(st, j, parent, s, &joined);
    for (size_t i = 0; i < j->n_pes && !rc; i++) {
        const pl_pe *p = &st->pes[j->pes[i]];
        int32_t g = root(parent, (int32_t)i);
        if (is_self(st, j, i, s) || !sp_imap_get(&joined, (uint64_t)g, NULL))
            continue;
        for (size_t k = 0; k < p->n_exloc && !rc; k++) {
            const char *x = sp_intern_str(&st->strs, p->exloc[k]);
            int64_t seen;
            if (spec_has(s->exlocation, s->n_exlocation, x))
                rc = contradiction(err, s, s->pe, p->pe_id, x);
            else if (!sp_imap_get(&first, (uint64_t)p->exloc[k], &seen))
                rc = sp_imap_put(&first, (uint64_t)p->exloc[k], ((int64_t)g << 32) | (int64_t)i);
            else if ((int32_t)(seen >> 32) != g)
                rc = contradiction(err, s, st->pes[j->pes[seen & 0xffffffff]].pe_id,
                                   p->pe_id, x);
        }
    }
    sp_imap_free(&joined);
    sp_imap_free(&first);
    return rc;
}

sp_rc place_admit_pe(const place_state *st, const place_pod_input *in, sp_err *err)
{
    place_pe_spec s;
    const pl_job *j;
    int32_t *parent = NULL;
    sp_rc rc = place_pe_spec_parse(in->labels, in->n_labels, in->annotations,
                                   in->n_annotations, &s, err);

    if (rc)
        return rc;
    j = find_job(st, in->namespace_ ? in->namespace_ : "", s.job);
    if (j && j->n_pes && s.n_colocation) {
        parent = sp_calloc(j->n_pes, sizeof(*parent));
        rc = parent ? join_by_colocation(st, j, &s, parent) : SP_ENOMEM;
        if (!rc)
            rc = check_merge(st, j, parent, &s, err);
        else
            sp_err_set(err, rc, "out of memory");
    }
    sp_free(parent);
    place_pe_spec_free(&s);
    return rc;
}
