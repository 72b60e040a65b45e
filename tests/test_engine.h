/*
 * Builders for engine tests: a cluster in a few lines. Nodes take their tags
 * as a comma-separated list, PEs their annotations as "key=value;key=value"
 * (short keys: pool, index, coloc, exloc, iso, count, reloc, prev), so that
 * each test reads like the situation it sets up.
 */
#ifndef SP_TEST_ENGINE_H
#define SP_TEST_ENGINE_H

#include <stdio.h>
#include <string.h>

#include "placement/place.h"
#include "tests/test_util.h"
#include "util/sp_buf.h"

#define GI ((int64_t)1 << 30)

/* Add a node with tags "a,b" (may be ""), cpu in milli, memory in bytes. */
static inline int32_t t_node(place_state *st, const char *name, const char *tags,
                             int64_t cpu, int64_t mem)
{
    place_kv labels[8];
    char keys[8][300];
    size_t n = 0;
    char copy[256];
    place_node_input in = { .name = name, .labels = labels,
                            .allocatable = { cpu, mem, 110 } };
    int32_t idx = PLACE_NONE;
    sp_err err;

    snprintf(copy, sizeof(copy), "%s", tags);
    for (char *p = copy, *next; p && *p && n < 8; p = next) {
        next = strchr(p, ',');
        if (next)
            *next++ = '\0';
        snprintf(keys[n], sizeof(keys[n]), "tag.streams.io/%s", p);
        labels[n].key = keys[n];
        labels[n].value = "true";
        n++;
    }
    in.n_labels = n;
    CU_ASSERT_EQUAL_FATAL(place_state_put_node(st, &in, &idx, &err), SP_OK);
    return idx;
}

/* Storage behind a pod input built from the short annotation syntax. */
typedef struct t_pod {
    place_kv labels[2];
    place_kv anns[8];
    char copy[512], uid[128], name[128];
    place_pod_input in;
} t_pod;

/* Build a PE pod of job/pe in namespace "ns" from annotations "k=v;k=v"
 * (short keys; "prev" sets the previous node) into t. */
static inline void t_pod_build(t_pod *t, const char *job, const char *pe, const char *ann,
                               const char *node, int64_t cpu, int64_t mem)
{
    static const struct { const char *shrt, *full; } keys[] = {
        { "pool", PLACE_ANN_POOL },          { "index", PLACE_ANN_POOL_INDEX },
        { "coloc", PLACE_ANN_COLOCATION },   { "exloc", PLACE_ANN_EXLOCATION },
        { "iso", PLACE_ANN_ISOLATION },      { "count", PLACE_ANN_PE_COUNT },
        { "reloc", PLACE_ANN_RELOCATABLE },
    };
    size_t n = 0;

    memset(t, 0, sizeof(*t));
    t->labels[0].key = PLACE_LABEL_JOB;
    t->labels[0].value = job;
    t->labels[1].key = PLACE_LABEL_PE;
    t->labels[1].value = pe;
    snprintf(t->copy, sizeof(t->copy), "%s", ann ? ann : "");
    for (char *p = t->copy, *next; p && *p && n < 8; p = next) {
        char *eq;
        next = strchr(p, ';');
        if (next)
            *next++ = '\0';
        eq = strchr(p, '=');
        CU_ASSERT_PTR_NOT_NULL_FATAL(eq);
        *eq = '\0';
        if (strcmp(p, "prev") == 0) {
            t->in.previous_node = eq + 1;
            continue;
        }
        t->anns[n].key = p;
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
            if (strcmp(p, keys[k].shrt) == 0)
                t->anns[n].key = keys[k].full;
        t->anns[n++].value = eq + 1;
    }
    snprintf(t->name, sizeof(t->name), "%s-pe%s", job, pe);
    t->in.namespace_ = "ns";
    t->in.name = t->name;
    t->in.uid = t->uid;
    t->in.labels = t->labels;
    t->in.n_labels = 2;
    t->in.annotations = t->anns;
    t->in.n_annotations = n;
    t->in.requests.cpu_milli = cpu;
    t->in.requests.memory = mem;
    t->in.requests.pods = 1;
    t->in.node = node;
}

/* Add a PE pod (see t_pod_build); node may be NULL (pending). Returns the
 * PE index. */
static inline int32_t t_pe_req(place_state *st, const char *job, const char *pe,
                               const char *ann, const char *node, int64_t cpu,
                               int64_t mem)
{
    t_pod t;
    int32_t idx = PLACE_NONE;
    sp_err err;

    t_pod_build(&t, job, pe, ann, node, cpu, mem);
    snprintf(t.uid, sizeof(t.uid), "uid-%s-%s", job, pe);
    for (int retry = 0; place_state_find_pe(st, t.uid) != PLACE_NONE && retry < 100; retry++)
        snprintf(t.uid, sizeof(t.uid), "uid-%s-%s-%d", job, pe, retry);
    CU_ASSERT_EQUAL_FATAL(place_state_add_pod(st, &t.in, &idx, &err), SP_OK);
    return idx;
}

/* The admission verdict for a new PE pod: "ok" or the error, in buf. */
static inline const char *t_admit(place_state *st, const char *job, const char *pe,
                                  const char *ann, char *buf, size_t len)
{
    t_pod t;
    sp_err err = { SP_OK, "" };

    t_pod_build(&t, job, pe, ann, NULL, 100, 128 << 20);
    snprintf(t.uid, sizeof(t.uid), "new");
    snprintf(buf, len, "%s", place_admit_pe(st, &t.in, &err) ? err.msg : "ok");
    return buf;
}

static inline int32_t t_pe(place_state *st, const char *job, const char *pe,
                           const char *ann, const char *node)
{
    return t_pe_req(st, job, pe, ann, node, 100, 128 << 20);
}

/* Add a HostPool in "ns". tags/hosts/members are comma lists or NULL;
 * size 0 means unsized; job may be NULL. */
static inline int32_t t_pool(place_state *st, const char *name, const char *job,
                             const char *tags, const char *hosts, int64_t size,
                             bool exclusive, const char *members)
{
    const char *lists[3][16];
    size_t counts[3] = { 0, 0, 0 };
    char copies[3][256];
    const char *src[3] = { tags, hosts, members };
    place_pool_spec in;
    int32_t idx = PLACE_NONE;
    sp_err err = { SP_OK, "" };

    for (int l = 0; l < 3; l++) {
        snprintf(copies[l], sizeof(copies[l]), "%s", src[l] ? src[l] : "");
        for (char *p = copies[l], *next; *p && counts[l] < 16; p = next) {
            next = strchr(p, ',');
            lists[l][counts[l]++] = p;
            if (!next)
                break;
            *next++ = '\0';
        }
    }
    memset(&in, 0, sizeof(in));
    in.namespace_ = "ns";
    in.name = name;
    in.job = job;
    in.tags = lists[0];
    in.n_tags = counts[0];
    in.hosts = lists[1];
    in.n_hosts = counts[1];
    in.has_size = size != 0;
    in.size = size;
    in.exclusive = exclusive;
    in.members = lists[2];
    in.n_members = counts[2];
    CU_ASSERT_EQUAL_FATAL(place_state_put_pool(st, &in, &idx, &err), SP_OK);
    return idx;
}

/* The formatted verdict for pe on node, in buf. */
static inline const char *t_verdict(place_state *st, int32_t pe, int32_t node,
                                    char *buf, size_t len, bool *unresolvable)
{
    place_reason r;
    sp_buf b;

    sp_buf_init(&b, 4096);
    CU_ASSERT_EQUAL_FATAL(place_check_nodes(st, pe, &node, 1, &r), SP_OK);
    CU_ASSERT_EQUAL_FATAL(place_reason_format(st, &r, &b), SP_OK);
    snprintf(buf, len, "%s", b.data);
    if (unresolvable)
        *unresolvable = r.unresolvable;
    sp_buf_free(&b);
    return buf;
}

/* The node a PE is on (planned, reserved or bound), by name, or "-". */
static inline const char *t_node_of(place_state *st, int32_t pe)
{
    place_pe_info info;

    place_pe_get(st, pe, &info);
    return info.node == PLACE_NONE ? "-" : place_node_name(st, info.node);
}

static inline place_state *t_state(place_isolation_scope scope)
{
    place_policy p;
    place_state *st = NULL;

    place_policy_default(&p);
    p.isolation_scope = scope;
    CU_ASSERT_EQUAL_FATAL(place_state_new(&p, &st), SP_OK);
    return st;
}

#endif /* SP_TEST_ENGINE_H */
