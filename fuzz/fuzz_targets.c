/*
 * The fuzz harness (fuzz_targets.h): for each target, turn the input into
 * what the code under test reads from the network, run it, and check the
 * result against the contracts of DESIGN sections 3 to 5. Each input meets a
 * fresh small cluster (seven nodes, five HostPools, a job with placed PEs),
 * built with the engine's own calls, so that a crash replays from its input
 * alone; only the extender keeps one service (and its store) across inputs,
 * as the server does, and starts it afresh every EXT_RESET_EVERY inputs.
 */
#include "fuzz/fuzz_targets.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "kapi/kapi_kubeconfig.h"
#include "kobj/kobj.h"
#include "kobj/kobj_skim.h"
#include "placement/place.h"
#include "policy/pol.h"
#include "scheduler/sched.h"
#include "svc/svc.h"
#include "util/sp_alloc.h"
#include "util/sp_buf.h"
#include "util/sp_log.h"
#include "webhook/wh.h"

#define FX_NS "streams"            /* the namespace of the small cluster */
#define FX_MAX_KV 32               /* label and annotation pairs per input */
#define FX_MAX_NODES 16
#define EXT_RESET_EVERY 256        /* inputs per extender service */
#define EXT_MAX_PES 2000           /* ... or fewer when the state grows */

/* ------------------------------------------------------------------------ */
/* Checks                                                                     */
/* ------------------------------------------------------------------------ */

static fuzz_violation_fn on_violation;
static const char *current = "?";  /* the target running */
static bool verbose;               /* $FUZZ_VERBOSE: print every answer */

void fuzz_set_violation_handler(fuzz_violation_fn fn)
{
    on_violation = fn;
}

static void violation(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void violation(int line, const char *fmt, ...)
{
    char what[1024];
    int n = snprintf(what, sizeof(what), "fuzz_targets.c:%d: ", line);
    va_list ap;

    if (n < 0 || (size_t)n >= sizeof(what))
        n = 0;
    va_start(ap, fmt);
    if (vsnprintf(what + n, sizeof(what) - (size_t)n, fmt, ap) < 0)
        what[n] = '\0';
    va_end(ap);
    if (on_violation) {
        on_violation(current, what);
        return;
    }
    fprintf(stderr, "fuzz_%s: broken check: %s\n", current, what);
    abort();
}

#define CHECK(cond, ...)                  \
    do {                                  \
        if (!(cond))                      \
            violation(__LINE__, __VA_ARGS__); \
    } while (0)

void fuzz_init(void)
{
    static bool done;

    if (done)
        return;
    done = true;
    sp_alloc_install_json_hooks();
    verbose = getenv("FUZZ_VERBOSE") != NULL;
    sp_log_set_level(verbose ? SP_LOG_DEBUG : SP_LOG_OFF);
}

/* Whether snprintf's result n says the text fit in len bytes. */
static bool fits(int n, size_t len)
{
    return n >= 0 && (size_t)n < len;
}

/* A NUL-terminated copy of the input (NULL when memory runs out). */
static char *input_string(const uint8_t *data, size_t size)
{
    return sp_strndup(size ? (const char *)data : "", size);
}

/* A JSON answer: parsed, or a broken check naming what and why not. */
static cJSON *answer_json(const char *what, const char *body, size_t len)
{
    cJSON *root = NULL;
    sp_err err = { SP_OK, "" };

    if (verbose)
        fprintf(stderr, "fuzz_%s: %s answer: %s\n", current, what, body ? body : "(none)");
    CHECK(body != NULL, "%s: no body", what);
    if (!body)
        return NULL;
    CHECK(strlen(body) == len, "%s: body length %zu, text length %zu", what, len,
          strlen(body));
    if (kobj_parse_json(body, len, &root, &err) != SP_OK) {
        CHECK(false, "%s: the answer is not JSON (%s): %.200s", what, err.msg, body);
        return NULL;
    }
    return root;
}

/* The string member key of obj, or NULL. */
static const char *str_of(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(obj, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ------------------------------------------------------------------------ */
/* The small cluster                                                          */
/* ------------------------------------------------------------------------ */

typedef struct fx_node {
    const char *name;
    const char *tag1, *tag2;       /* tags, or NULL */
    int64_t cpu_milli, memory;
    place_node_condition condition;
    bool tainted;                  /* dedicated=gpu:NoSchedule */
} fx_node;

#define GIB ((int64_t)1 << 30)

static const fx_node fx_nodes[] = {
    { "fake-node-1", "ingest", NULL, 4000, 8 * GIB, PLACE_NODE_READY, false },
    { "fake-node-2", NULL, NULL, 4000, 8 * GIB, PLACE_NODE_READY, true },
    { "fake-node-3", "ingest", "ssd", 4000, 8 * GIB, PLACE_NODE_READY, false },
    { "fake-node-4", "ingest", "ssd", 2000, 4 * GIB, PLACE_NODE_READY, false },
    { "fake-node-5", "ssd", NULL, 4000, 8 * GIB, PLACE_NODE_READY, false },
    { "fake-node-6", NULL, NULL, 1000, 2 * GIB, PLACE_NODE_READY, false },
    { "fake-node-7", "ssd", NULL, 4000, 8 * GIB, PLACE_NODE_CORDONED, false },
};
#define FX_N_NODES (sizeof(fx_nodes) / sizeof(fx_nodes[0]))

typedef struct fx_pe {
    const char *job, *pe, *node;   /* node NULL: pending; job NULL: not a PE */
    int64_t cpu_milli;
    place_kv anns[3];              /* annotations; a NULL key ends them */
} fx_pe;

static const fx_pe fx_pes[] = {
    { "job1", "0", "fake-node-3", 500,
      { { PLACE_ANN_POOL, "ingest" }, { PLACE_ANN_POOL_INDEX, "0" }, { PLACE_ANN_COLOCATION, "c1" } } },
    { "job1", "1", "fake-node-3", 500,
      { { PLACE_ANN_POOL, "ingest" }, { PLACE_ANN_COLOCATION, "c1" }, { PLACE_ANN_EXLOCATION, "x1" } } },
    { "job1", "2", "fake-node-5", 500,
      { { PLACE_ANN_POOL, "any-ssd" }, { PLACE_ANN_EXLOCATION, "x1" } } },
    { "job1", "3", "fake-node-6", 500, { { PLACE_ANN_ISOLATION, "true" } } },
    { "job1", "4", NULL, 500, { { PLACE_ANN_POOL, "open" }, { PLACE_ANN_EXLOCATION, "x2" } } },
    { "job2", "0", "fake-node-4", 500,
      { { PLACE_ANN_EXLOCATION, "x1" }, { PLACE_ANN_RELOCATABLE, "false" } } },
    { NULL, NULL, "fake-node-1", 1000, { { NULL, NULL } } },
};
#define FX_N_PES (sizeof(fx_pes) / sizeof(fx_pes[0]))

/* Add the HostPools of the small cluster. */
static sp_rc fx_pools(place_state *st)
{
    static const char *const ingest[] = { "ingest" }, *const ssd[] = { "ssd" };
    static const char *const explicit_hosts[] = { "fake-node-2", "fake-node-6" };
    static const char *const ingest_members[] = { "fake-node-3" };
    place_pool_spec pools[] = {
        { .name = "ingest", .job = "job1", .tags = ingest, .n_tags = 1, .has_size = true,
          .size = 2, .exclusive = true, .members = ingest_members, .n_members = 1 },
        { .name = "any-ssd", .tags = ssd, .n_tags = 1, .has_size = true, .size = 3 },
        { .name = "explicit", .hosts = explicit_hosts, .n_hosts = 2 },
        { .name = "open", .tags = ssd, .n_tags = 1 },
        { .name = "broken" }, /* neither tags nor hosts: kept, invalid */
    };
    sp_rc rc = SP_OK;

    for (size_t i = 0; i < sizeof(pools) / sizeof(pools[0]) && !rc; i++) {
        sp_err err = { SP_OK, "" };
        pools[i].namespace_ = FX_NS;
        rc = place_state_put_pool(st, &pools[i], NULL, &err);
    }
    return rc;
}

static sp_rc fx_nodes_add(place_state *st)
{
    static const place_taint taint = { "dedicated", "gpu", "NoSchedule" };
    sp_rc rc = SP_OK;

    for (size_t i = 0; i < FX_N_NODES && !rc; i++) {
        const fx_node *f = &fx_nodes[i];
        char keys[2][64];
        place_kv labels[3];
        size_t n = 0;
        const char *tags[2] = { f->tag1, f->tag2 };
        place_node_input in = {
            .name = f->name, .labels = labels,
            .allocatable = { f->cpu_milli, f->memory, 110 },
            .condition = f->condition,
            .taints = f->tainted ? &taint : NULL, .n_taints = f->tainted ? 1 : 0,
        };
        sp_err err = { SP_OK, "" };

        for (size_t t = 0; t < 2; t++) {
            if (!tags[t])
                continue;
            if (!fits(snprintf(keys[n], sizeof(keys[n]), "%s%s", PLACE_DEFAULT_TAG_PREFIX,
                               tags[t]), sizeof(keys[n])))
                return SP_ELIMIT;
            labels[n].key = keys[n];
            labels[n].value = "true";
            n++;
        }
        labels[n].key = "kubernetes.io/hostname";
        labels[n++].value = f->name;
        in.n_labels = n;
        rc = place_state_put_node(st, &in, NULL, &err);
    }
    return rc;
}

static sp_rc fx_pods(place_state *st)
{
    sp_rc rc = SP_OK;

    for (size_t i = 0; i < FX_N_PES && !rc; i++) {
        const fx_pe *f = &fx_pes[i];
        char name[64], uid[64];
        place_kv labels[2] = { { PLACE_LABEL_JOB, f->job }, { PLACE_LABEL_PE, f->pe } };
        size_t n_anns = 0;
        place_pod_input in = {
            .namespace_ = FX_NS, .name = name, .uid = uid,
            .labels = labels, .n_labels = f->job ? 2 : 0, .annotations = f->anns,
            .requests = { f->cpu_milli, GIB / 2, 1 },
            .node = f->node,
        };
        sp_err err = { SP_OK, "" };

        while (n_anns < 3 && f->anns[n_anns].key)
            n_anns++;
        in.n_annotations = n_anns;
        if (!fits(snprintf(name, sizeof(name), "%s-pe%s", f->job ? f->job : "other",
                           f->pe ? f->pe : ""), sizeof(name)) ||
            !fits(snprintf(uid, sizeof(uid), "uid-fx-%zu", i), sizeof(uid)))
            return SP_ELIMIT;
        rc = place_state_add_pod(st, &in, NULL, &err);
    }
    return rc;
}

/*
 * A fresh small cluster under pp (NULL: the default policy). Its placements
 * break no constraint (checked once; a broken fixture is a harness bug).
 */
static place_state *fx_state(const place_policy *pp)
{
    static bool checked;
    place_policy def;
    place_state *st = NULL;

    if (!pp) {
        place_policy_default(&def);
        pp = &def;
    }
    if (place_state_new(pp, &st) || fx_nodes_add(st) || fx_pools(st) || fx_pods(st)) {
        place_state_free(st);
        return NULL;
    }
    if (!checked) {
        place_violation *v = NULL;
        size_t n = 0;
        checked = true;
        CHECK(place_find_violations(st, &v, &n) == SP_OK && n == 0,
              "the small cluster breaks its own constraints: %s", n ? v[0].reason : "?");
        place_violations_free(v, n);
    }
    return st;
}

/* A policy variant chosen by the input, so that each input replays alike. */
static void fx_policy(size_t selector, place_policy *pp)
{
    place_policy_default(pp);
    if (selector % 2) {
        pp->isolation_scope = PLACE_ISOLATION_JOB;
        pp->balancing = PLACE_BALANCE_JOB;
        pp->gang_wait = true;
        pp->default_pool = "any-ssd";
    }
}

/* The indexes of every live node of st, at most max. */
static size_t fx_all_nodes(const place_state *st, int32_t *nodes, size_t max)
{
    size_t n = 0;

    for (size_t i = 0; i < place_state_node_slots(st) && n < max; i++)
        if (place_state_node_alive(st, (int32_t)i))
            nodes[n++] = (int32_t)i;
    return n;
}

/* ------------------------------------------------------------------------ */
/* The engine on one PE                                                       */
/* ------------------------------------------------------------------------ */

/* Every verdict formats to a line; a refusal says something. */
static void check_reasons(place_state *st, const place_reason *v, size_t n)
{
    sp_buf b;

    sp_buf_init(&b, 64 * 1024);
    for (size_t i = 0; i < n; i++) {
        sp_buf_reset(&b);
        CHECK(place_reason_format(st, &v[i], &b) == SP_OK, "reason %d does not format",
              (int)v[i].code);
        CHECK(v[i].code == PLACE_R_OK || (b.data && *b.data), "reason %s formats empty",
              place_reason_code_name(v[i].code));
        CHECK(place_reason_code_name(v[i].code) != NULL, "reason %d has no name",
              (int)v[i].code);
    }
    sp_buf_reset(&b);
    CHECK(place_reason_summary(st, v, n, &b) == SP_OK, "the reasons do not summarise");
    sp_buf_free(&b);
}

/* Whether pe is among the placed PEs that break a constraint. */
static bool pe_violates(place_state *st, int32_t pe, char *why, size_t len)
{
    place_violation *v = NULL;
    size_t n = 0;
    bool found = false;

    CHECK(place_find_violations(st, &v, &n) == SP_OK, "place_find_violations failed");
    for (size_t i = 0; i < n && !found; i++) {
        if (v[i].pe == pe) {
            snprintf(why, len, "%s", v[i].reason ? v[i].reason : "");
            found = true;
        }
    }
    place_violations_free(v, n);
    return found;
}

/*
 * Check, filter, score and plan for pe as the extender would, then reserve
 * and bind it where filter chose: the chosen node is one that was offered
 * and allowed, scores stay within 0..10, and the placed PE breaks none of
 * its constraints.
 */
static void exercise_pe(place_state *st, int32_t pe)
{
    int32_t nodes[FX_MAX_NODES];
    size_t n = fx_all_nodes(st, nodes, FX_MAX_NODES), ok = 0;
    place_reason v[FX_MAX_NODES];
    int scores[FX_MAX_NODES];
    place_filter_result res;
    place_plan *plan = NULL;
    place_plan_opts opts = { .explain = true, .seed = 1 };
    char why[256];
    sp_rc rc;

    if (pe == PLACE_NONE || !place_state_pe_alive(st, pe))
        return;
    if (n < FX_MAX_NODES)
        nodes[n++] = PLACE_NONE; /* a node the caller does not know */
    CHECK(place_check_nodes(st, pe, nodes, n, v) == SP_OK, "place_check_nodes failed");
    check_reasons(st, v, n);
    rc = place_filter(st, pe, nodes, n, v, &res);
    CHECK(rc == SP_OK, "place_filter: %s", sp_strerror(rc));
    if (rc)
        return;
    check_reasons(st, v, n);
    for (size_t i = 0; i < n; i++) {
        if (v[i].code == PLACE_R_OK || v[i].code == PLACE_R_PLANNED_ELSEWHERE)
            ok++;
        if (res.chosen != PLACE_NONE && nodes[i] == res.chosen)
            CHECK(v[i].code == PLACE_R_OK, "the chosen node %s is refused: %s",
                  place_node_name(st, res.chosen), place_reason_code_name(v[i].code));
        if (v[i].code == PLACE_R_OK)
            CHECK(nodes[i] == res.chosen, "node %d is allowed but not chosen", (int)nodes[i]);
    }
    CHECK(res.chosen == PLACE_NONE || ok == res.n_ok, "n_ok %zu, %zu allowed", res.n_ok, ok);
    CHECK(res.chosen != PLACE_NONE || !res.planned, "planned without a chosen node");
    CHECK(res.chosen == PLACE_NONE || !res.gang_wait, "chosen while held for gang wait");
    CHECK(place_score(st, pe, nodes, n, scores) == SP_OK, "place_score failed");
    for (size_t i = 0; i < n; i++)
        CHECK(scores[i] >= 0 && scores[i] <= PLACE_SCORE_MAX, "score %d out of 0..%d",
              scores[i], PLACE_SCORE_MAX);
    if (res.chosen != PLACE_NONE) {
        CHECK(place_state_reserve(st, pe, res.chosen) == SP_OK, "reserve failed");
        CHECK(!pe_violates(st, pe, why, sizeof(why)),
              "the PE reserved where filter chose (%s) breaks a constraint: %s",
              place_node_name(st, res.chosen), why);
        CHECK(place_state_bind(st, pe, res.chosen) == SP_OK, "bind failed");
    }
    CHECK(place_plan_all(st, &opts, &plan) == SP_OK, "place_plan_all failed");
    for (size_t i = 0; plan && i < plan->n_unplaced; i++)
        CHECK(plan->unplaced[i].reason && *plan->unplaced[i].reason,
              "an unplaced PE without a reason");
    place_plan_free(plan);
    if (res.chosen != PLACE_NONE)
        CHECK(place_state_release(st, pe) == SP_OK, "release failed");
}

/* ------------------------------------------------------------------------ */
/* quantity                                                                   */
/* ------------------------------------------------------------------------ */

int fuzz_quantity(const uint8_t *data, size_t size)
{
    char *s, buf[64];
    int64_t milli = -1, back = -1, units;
    sp_err err = { SP_OK, "" };
    sp_rc rc, again;

    fuzz_init();
    current = "quantity";
    if (!(s = input_string(data, size)))
        return 0;
    rc = place_quantity_parse(s, &milli, &err);
    again = place_quantity_parse(s, &back, NULL);
    CHECK(rc == again, "the result depends on err: %d, %d", (int)rc, (int)again);
    if (rc) {
        CHECK(rc == SP_EPARSE || rc == SP_ELIMIT, "unexpected code %s", sp_strerror(rc));
        CHECK(milli == 0, "%" PRId64 " left after an error", milli);
        CHECK(err.rc == rc && err.msg[0], "an error without a message");
        sp_free(s);
        return 0;
    }
    CHECK(milli >= 0 && milli == back, "\"%.64s\": %" PRId64 ", then %" PRId64, s, milli, back);
    /* cpu: formatted exactly, so it parses back to the same value */
    place_format_cpu(milli, buf, sizeof(buf));
    CHECK(buf[0] && place_quantity_parse(buf, &back, NULL) == SP_OK && back == milli,
          "cpu %" PRId64 "m formats as \"%s\", which reads %" PRId64, milli, buf, back);
    /* bytes: whole units, formatted exactly or truncated to one decimal */
    units = place_milli_to_units(milli);
    CHECK(units >= milli / 1000 && units - milli / 1000 <= 1, "%" PRId64 "m is %" PRId64
          " units", milli, units);
    place_format_bytes(units, buf, sizeof(buf));
    CHECK(buf[0] && place_quantity_parse(buf, &back, NULL) == SP_OK,
          "%" PRId64 " bytes format as \"%s\", which does not parse", units, buf);
    if (strchr(buf, '.'))
        CHECK(back / 1000 <= units, "\"%s\" overstates %" PRId64 " bytes", buf, units);
    else
        CHECK(back % 1000 == 0 && back / 1000 == units, "\"%s\" is not %" PRId64 " bytes",
              buf, units);
    sp_free(s);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* annotations                                                                */
/* ------------------------------------------------------------------------ */

/* Labels and annotations from the input's lines (see fuzz/README.md). */
typedef struct kv_input {
    char *text;                    /* owned copy, cut into the strings */
    place_kv labels[FX_MAX_KV + 2];
    size_t n_labels;
    place_kv anns[FX_MAX_KV];
    size_t n_anns;
} kv_input;

/* The length of the longest label value (Kubernetes allows 63). */
static size_t longest_label(const kv_input *kv)
{
    size_t max = 0;

    for (size_t i = 0; i < kv->n_labels; i++)
        if (kv->labels[i].value && strlen(kv->labels[i].value) > max)
            max = strlen(kv->labels[i].value);
    return max;
}

static const char *expand_key(const char *k)
{
    static const struct { const char *shrt, *full; } keys[] = {
        { "job", PLACE_LABEL_JOB },           { "pe", PLACE_LABEL_PE },
        { "pool", PLACE_ANN_POOL },           { "index", PLACE_ANN_POOL_INDEX },
        { "coloc", PLACE_ANN_COLOCATION },    { "exloc", PLACE_ANN_EXLOCATION },
        { "iso", PLACE_ANN_ISOLATION },       { "count", PLACE_ANN_PE_COUNT },
        { "reloc", PLACE_ANN_RELOCATABLE },
    };

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcmp(k, keys[i].shrt) == 0)
            return keys[i].full;
    return k;
}

/*
 * One pair per line, "key=value" (a line without '=' has the value "");
 * a line starting with '@' is a label, any other an annotation. Short keys
 * (job, pe, pool, index, coloc, exloc, iso, count, reloc) stand for the
 * streams.io keys. Unless the input has the line "@-", the labels job=job1
 * and pe=new follow the input's own (the first of a key counts).
 */
static bool kv_parse(const uint8_t *data, size_t size, kv_input *kv)
{
    bool defaults = true;
    char *p;

    memset(kv, 0, sizeof(*kv));
    if (!(kv->text = input_string(data, size)))
        return false;
    p = kv->text;
    while (p) {
        char *line = p, *eq;
        bool label = *line == '@';
        p = strchr(p, '\n');
        if (p)
            *p++ = '\0';
        if (label)
            line++;
        if (label && strcmp(line, "-") == 0) {
            defaults = false;
            continue;
        }
        if (!*line && !label)
            continue;
        eq = strchr(line, '=');
        if (eq)
            *eq++ = '\0';
        if (label && kv->n_labels < FX_MAX_KV) {
            kv->labels[kv->n_labels].key = expand_key(line);
            kv->labels[kv->n_labels++].value = eq ? eq : "";
        } else if (!label && kv->n_anns < FX_MAX_KV) {
            kv->anns[kv->n_anns].key = expand_key(line);
            kv->anns[kv->n_anns++].value = eq ? eq : "";
        }
    }
    if (defaults) {
        kv->labels[kv->n_labels].key = PLACE_LABEL_JOB;
        kv->labels[kv->n_labels++].value = "job1";
        kv->labels[kv->n_labels].key = PLACE_LABEL_PE;
        kv->labels[kv->n_labels++].value = "new";
    }
    return true;
}

static bool ids_well_formed(char **ids, size_t n)
{
    if (n > PLACE_MAX_IDS || (n && !ids))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!ids[i] || !place_id_valid(ids[i]))
            return false;
        for (size_t j = 0; j < i; j++)
            if (strcmp(ids[i], ids[j]) == 0)
                return false;
    }
    return true;
}

/* What place_pe_spec_parse promises of a parsed spec. */
static void check_spec(const place_pe_spec *s)
{
    CHECK(s->job && place_id_valid(s->job), "job label accepted as \"%s\"",
          s->job ? s->job : "(null)");
    CHECK(s->pe && place_id_valid(s->pe), "pe label accepted as \"%s\"", s->pe ? s->pe : "(null)");
    CHECK(ids_well_formed(s->colocation, s->n_colocation), "colocation ids malformed");
    CHECK(ids_well_formed(s->exlocation, s->n_exlocation), "exlocation ids malformed");
    CHECK(s->pool_index == PLACE_NONE || (s->pool && s->pool_index >= 0 &&
                                          s->pool_index < PLACE_MAX_POOL_SIZE),
          "pool index %d accepted (pool %s)", (int)s->pool_index, s->pool ? s->pool : "none");
    CHECK(!(s->isolation && s->n_colocation), "isolation accepted with colocation");
    CHECK(s->pe_count >= 0, "pe count %d", (int)s->pe_count);
    CHECK(!s->pool || *s->pool, "an empty pool name accepted");
}

int fuzz_annotations(const uint8_t *data, size_t size)
{
    kv_input kv;
    place_pe_spec spec;
    place_policy pp;
    place_state *st;
    sp_err err = { SP_OK, "" }, aerr = { SP_OK, "" };
    int32_t pe = PLACE_NONE;
    sp_rc rc, admit;

    fuzz_init();
    current = "annotations";
    if (!kv_parse(data, size, &kv))
        return 0;
    (void)place_is_pe(kv.labels, kv.n_labels);
    rc = place_pe_spec_parse(kv.labels, kv.n_labels, kv.anns, kv.n_anns, &spec, &err);
    if (rc) {
        CHECK(err.rc == rc && err.msg[0], "a refusal without a message");
        CHECK(!spec.job && !spec.pe && !spec.pool && !spec.colocation && !spec.exlocation,
              "a refused spec is not left empty");
    } else {
        check_spec(&spec);
    }
    place_pe_spec_free(&spec);
    place_pe_spec_free(&spec); /* freeing an empty spec is harmless */

    fx_policy(size, &pp);
    if (!(st = fx_state(&pp))) {
        sp_free(kv.text);
        return 0;
    }
    {
        place_pod_input in = {
            .namespace_ = FX_NS, .name = "fuzz-pod", .uid = "uid-fuzz",
            .labels = kv.labels, .n_labels = kv.n_labels,
            .annotations = kv.anns, .n_annotations = kv.n_anns,
            .requests = { 250, GIB / 4, 1 },
        };
        admit = place_admit_pe(st, &in, &aerr);
        CHECK(!rc || admit, "admitted although its annotations do not parse: %s", err.msg);
        CHECK(!admit || aerr.msg[0], "an admission refusal without a message");
        rc = place_state_add_pod(st, &in, &pe, &err);
        CHECK(rc == SP_OK || (rc == SP_ELIMIT && longest_label(&kv) > 63),
              "place_state_add_pod: %s", err.msg);
        if (!rc)
            exercise_pe(st, pe);
        if (!rc)
            CHECK(place_state_remove_pod(st, "uid-fuzz") == SP_OK, "remove failed");
    }
    place_state_free(st);
    sp_free(kv.text);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* hostpool                                                                   */
/* ------------------------------------------------------------------------ */

/* A PE of the pool's job (or job1) that names the pool (index 0 when sized). */
static void pe_in_pool(place_state *st, const place_pool_spec *pool)
{
    place_kv labels[2] = { { PLACE_LABEL_JOB, pool->job && *pool->job ? pool->job : "job1" },
                           { PLACE_LABEL_PE, "pooled" } };
    place_kv anns[2] = { { PLACE_ANN_POOL, pool->name }, { PLACE_ANN_POOL_INDEX, "0" } };
    place_pod_input in = {
        .namespace_ = pool->namespace_, .name = "pooled", .uid = "uid-pooled",
        .labels = labels, .n_labels = 2, .annotations = anns,
        .n_annotations = pool->has_size ? 2 : 1, .requests = { 250, GIB / 4, 1 },
    };
    sp_err err = { SP_OK, "" };
    int32_t pe = PLACE_NONE;

    CHECK(place_state_add_pod(st, &in, &pe, &err) == SP_OK, "place_state_add_pod: %s", err.msg);
    exercise_pe(st, pe);
}

int fuzz_hostpool(const uint8_t *data, size_t size)
{
    cJSON *root = NULL;
    kobj_pool kp;
    place_state *st = NULL;
    place_pool_info info;
    sp_err err = { SP_OK, "" }, verr = { SP_OK, "" }, perr = { SP_OK, "" };
    const char **names = NULL, **tags = NULL, **hosts = NULL;
    size_t n = 0, n_tags = 0, n_hosts = 0;
    int32_t idx = PLACE_NONE;
    sp_rc rc, valid;

    fuzz_init();
    current = "hostpool";
    if (kobj_parse_json((const char *)data, size, &root, &err))
        return 0;
    memset(&kp, 0, sizeof(kp));
    rc = kobj_pool_from_json(root, FX_NS, &kp, &err);
    if (rc) {
        CHECK(err.msg[0], "a HostPool refused without a message");
        kobj_pool_clear(&kp);
        cJSON_Delete(root);
        return 0;
    }
    CHECK(kp.in.namespace_ && kp.in.name, "a converted HostPool without namespace or name");
    valid = place_pool_validate(&kp.in, PLACE_DEFAULT_TAG_PREFIX, &verr);
    CHECK(!valid || verr.msg[0], "an invalid HostPool without a message");
    if (!(st = fx_state(NULL)))
        goto out;
    rc = place_state_put_pool(st, &kp.in, &idx, &perr);
    CHECK(rc == SP_OK || rc == SP_EINVAL, "place_state_put_pool: %s", sp_strerror(rc));
    if (rc)
        goto out;
    CHECK(!valid == !perr.rc, "validate says %s, the state %s", sp_strerror(valid),
          sp_strerror(perr.rc));
    place_pool_get(st, idx, &info);
    CHECK(!valid == !info.error, "validate says %s, the pool's error is %s", sp_strerror(valid),
          info.error ? info.error : "none");
    CHECK(place_pool_hosts(st, idx, &names, &n) == SP_OK, "place_pool_hosts failed");
    CHECK(!info.size || (int64_t)n <= info.size, "%zu hosts in a pool of size %" PRId64, n,
          info.size);
    rc = place_pool_selector(st, idx, &tags, &n_tags, &hosts, &n_hosts);
    CHECK(rc == (info.error ? SP_EINVAL : SP_OK), "place_pool_selector: %s", sp_strerror(rc));
    sp_free(names);
    sp_free(tags);
    sp_free(hosts);
    if (!valid && kp.in.n_members && info.size)
        CHECK(place_state_set_pool_members(st, idx, kp.in.members, kp.in.n_members) == SP_OK,
              "the members of a valid pool do not set");
    pe_in_pool(st, &kp.in);
    /* the same pool again replaces it, PEs and all still consistent */
    perr.rc = SP_OK;
    CHECK(place_state_put_pool(st, &kp.in, NULL, &perr) == SP_OK, "the pool does not replace");
    {
        place_violation *v = NULL;
        size_t nv = 0;
        CHECK(place_find_violations(st, &v, &nv) == SP_OK, "place_find_violations failed");
        place_violations_free(v, nv);
    }
out:
    place_state_free(st);
    kobj_pool_clear(&kp);
    cJSON_Delete(root);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* policy                                                                     */
/* ------------------------------------------------------------------------ */

int fuzz_policy(const uint8_t *data, size_t size)
{
    pol_policy *p = (pol_policy *)&p; /* not NULL: pol_parse must clear it */
    place_policy pp;
    place_state *st = NULL;
    sp_err err = { SP_OK, "" };
    size_t len;
    sp_rc rc;

    fuzz_init();
    current = "policy";
    rc = pol_parse((const char *)data, size, &p, &err);
    if (rc) {
        CHECK(p == NULL, "a refused policy is handed out");
        CHECK(err.msg[0], "a refused policy without a message");
        return 0;
    }
    CHECK(p != NULL, "no policy");
    if (!p)
        return 0;
    len = p->tag_prefix ? strlen(p->tag_prefix) : 0;
    CHECK(len && p->tag_prefix[len - 1] == '/', "tagLabelPrefix \"%s\" accepted",
          p->tag_prefix ? p->tag_prefix : "(null)");
    CHECK(p->reservation_ttl_s >= 1 && p->reservation_ttl_s <= POL_MAX_RESERVATION_TTL,
          "reservationTTLSeconds %d accepted", p->reservation_ttl_s);
    CHECK(p->released_ttl_s >= 0 && p->released_ttl_s <= POL_MAX_RELEASED_TTL,
          "releasedPlacementTTLSeconds %d accepted", p->released_ttl_s);
    CHECK(p->n_namespaces <= POL_MAX_NAMESPACES, "%zu namespaces accepted", p->n_namespaces);
    for (size_t i = 0; i < p->n_namespaces; i++) {
        CHECK(p->namespaces[i] && pol_namespace_managed(p, p->namespaces[i]),
              "namespace %zu is not managed", i);
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(p->namespaces[i], p->namespaces[j]) != 0, "namespace %s twice",
                  p->namespaces[i]);
    }
    CHECK(pol_mode_name(p->mode) && pol_isolation_scope_name(p->isolation_scope) &&
              pol_balancing_name(p->balancing),
          "an enum without a name");
    pol_to_place(p, &pp);
    CHECK(place_state_new(&pp, &st) == SP_OK, "no state for a parsed policy");
    if (st)
        CHECK(strcmp(place_state_tag_prefix(st), p->tag_prefix) == 0, "the tag prefix changed");
    place_state_free(st);
    pol_free(p);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* admission                                                                  */
/* ------------------------------------------------------------------------ */

/* Standard base64 into a NUL-terminated buffer the caller frees; NULL when
 * the text is not base64. */
static char *unbase64(const char *s, size_t *len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(s), o = 0;
    char *out;
    uint32_t acc = 0;
    int bits = 0;

    if (n % 4)
        return NULL;
    if (!(out = sp_malloc(n / 4 * 3 + 1)))
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const char *at = strchr(alphabet, s[i]);
        if (s[i] == '=' && i >= n - 2)
            break;
        if (!s[i] || !at) {
            sp_free(out);
            return NULL;
        }
        acc = acc << 6 | (uint32_t)(at - alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)(acc >> bits & 0xff);
        }
    }
    out[o] = '\0';
    *len = o;
    return out;
}

/* The patch is base64 of a JSON array of operations on paths. */
static void check_patch(const char *b64)
{
    size_t len = 0;
    char *text = unbase64(b64, &len);
    cJSON *ops, *op;

    CHECK(text != NULL, "the patch is not base64");
    if (!text)
        return;
    ops = answer_json("patch", text, len);
    CHECK(!ops || (cJSON_IsArray(ops) && cJSON_GetArraySize(ops) > 0),
          "the patch is not a non-empty array");
    cJSON_ArrayForEach(op, (cJSON_IsArray(ops) ? ops : NULL)) {
        const char *name = str_of(op, "op"), *path = str_of(op, "path");
        CHECK(name && (strcmp(name, "add") == 0 || strcmp(name, "replace") == 0 ||
                       strcmp(name, "remove") == 0 || strcmp(name, "test") == 0),
              "patch op %s", name ? name : "(none)");
        CHECK(path && (!*path || *path == '/'), "patch path %s", path ? path : "(none)");
        CHECK(!name || strcmp(name, "remove") == 0 || cJSON_GetObjectItem(op, "value"),
              "patch op %s without a value", name ? name : "");
    }
    cJSON_Delete(ops);
    sp_free(text);
}

/* The AdmissionReview answer of r is well-formed (DESIGN section 5). */
static void check_review(const wh_result *r, wh_mode mode, const cJSON *request)
{
    cJSON *root = answer_json("admission", r->body, r->len);
    const cJSON *resp, *allowed, *status;
    const char *uid, *want_uid, *patch;

    CHECK(r->n_effects == 0 || (mode == WH_VALIDATE && r->allowed),
          "effects from a %s review that %s", mode == WH_VALIDATE ? "validate" : "mutate",
          r->allowed ? "allows" : "denies");
    for (size_t i = 0; i < r->n_effects; i++)
        CHECK(r->effects && r->effects[i].object, "an effect without its object");
    if (!root)
        return;
    if (r->http_status == 400) {
        CHECK(!r->allowed, "a 400 that allows");
        CHECK(str_of(root, "error") != NULL, "a 400 without an error: %.200s", r->body);
        cJSON_Delete(root);
        return;
    }
    CHECK(r->http_status == 200, "HTTP status %d", r->http_status);
    CHECK(str_of(root, "kind") && strcmp(str_of(root, "kind"), "AdmissionReview") == 0,
          "kind of the answer");
    CHECK(str_of(root, "apiVersion") &&
              strncmp(str_of(root, "apiVersion"), "admission.k8s.io/", 17) == 0,
          "apiVersion of the answer");
    resp = cJSON_GetObjectItem(root, "response");
    uid = str_of(resp, "uid");
    want_uid = str_of(request, "uid");
    CHECK(uid && *uid, "the answer has no response.uid");
    CHECK(!uid || !want_uid || strcmp(uid, want_uid) == 0, "uid %s answers request %s",
          uid ? uid : "", want_uid);
    allowed = cJSON_GetObjectItem(resp, "allowed");
    CHECK(cJSON_IsBool(allowed) && cJSON_IsTrue(allowed) == r->allowed,
          "response.allowed is not written as the result says");
    status = cJSON_GetObjectItem(resp, "status");
    if (!r->allowed)
        CHECK(cJSON_IsNumber(cJSON_GetObjectItem(status, "code")) && str_of(status, "message") &&
                  *str_of(status, "message"),
              "a denial without status code and message: %.300s", r->body);
    patch = str_of(resp, "patch");
    CHECK(!patch || mode == WH_MUTATE, "a patch from the validating webhook");
    CHECK(!patch || (str_of(resp, "patchType") &&
                     strcmp(str_of(resp, "patchType"), "JSONPatch") == 0),
          "a patch without patchType JSONPatch");
    CHECK(!patch || r->allowed, "a patch in a denial");
    if (patch)
        check_patch(patch);
    cJSON_Delete(root);
}

/* Apply the effects of a validating review to st as the server does, and
 * place an upserted PE: the objects convert and the state takes them. */
static void apply_effects(place_state *st, const wh_result *r)
{
    for (size_t i = 0; i < r->n_effects; i++) {
        const wh_effect *e = &r->effects[i];
        sp_err err = { SP_OK, "" };

        if (e->op == WH_POOL_UPSERT) {
            kobj_pool p;
            sp_rc rc = kobj_pool_from_json(e->object, NULL, &p, &err);
            CHECK(rc == SP_OK, "a HostPool effect does not convert: %s", err.msg);
            if (!rc)
                CHECK(place_state_put_pool(st, &p.in, NULL, &err) == SP_OK,
                      "a HostPool effect is refused");
            kobj_pool_clear(&p);
        } else {
            kobj_pod p;
            int32_t pe = PLACE_NONE;
            sp_rc rc = kobj_pod_from_json(e->object, NULL, &p, &err);
            CHECK(rc == SP_OK, "a pod effect does not convert: %s", err.msg);
            if (!rc && place_state_find_pe(st, p.in.uid) != PLACE_NONE)
                CHECK(place_state_remove_pod(st, p.in.uid) == SP_OK, "remove failed");
            if (!rc && e->op == WH_POD_UPSERT) {
                CHECK(place_state_add_pod(st, &p.in, &pe, &err) == SP_OK,
                      "an admitted pod is refused: %s", err.msg);
                exercise_pe(st, pe);
            }
            kobj_pod_clear(&p);
        }
    }
}

/* Policies of the admission target: enforce with a schedulerName, and
 * audit limited to one namespace. Parsed once. */
static pol_policy *adm_policy(bool audit)
{
    static pol_policy *enforce, *audit_p;
    static const char enforce_json[] = "{\"schedulerName\": \"streams-scheduler\"}";
    static const char audit_json[] =
        "{\"mode\": \"audit\", \"isolationScope\": \"job\", \"namespaces\": [\"streams\"]}";
    pol_policy **slot = audit ? &audit_p : &enforce;
    const char *text = audit ? audit_json : enforce_json;
    sp_err err;

    if (!*slot && pol_parse(text, strlen(text), slot, &err))
        *slot = NULL;
    return *slot;
}

int fuzz_admission(const uint8_t *data, size_t size)
{
    static const wh_mode modes[] = { WH_VALIDATE, WH_MUTATE };
    cJSON *copy = NULL;
    const cJSON *request = NULL;
    sp_err err;

    fuzz_init();
    current = "admission";
    if (!kobj_parse_json((const char *)data, size, &copy, &err))
        request = cJSON_GetObjectItem(copy, "request");
    for (int audit = 0; audit < 2; audit++) {
        const pol_policy *pol = adm_policy(audit);
        place_policy pp;
        place_state *st;

        if (!pol)
            break;
        pol_to_place(pol, &pp);
        st = audit ? NULL : fx_state(&pp);
        for (size_t m = 0; m < 2; m++) {
            wh_result r;
            sp_rc rc = wh_review(st, pol, modes[m], (const char *)data, size, &r);
            CHECK(rc == SP_OK, "wh_review: %s", sp_strerror(rc));
            if (!rc)
                check_review(&r, modes[m], request);
            if (!rc && st && r.n_effects) {
                place_state *after = fx_state(&pp);
                if (after)
                    apply_effects(after, &r);
                place_state_free(after);
            }
            wh_result_free(&r);
        }
        place_state_free(st);
    }
    cJSON_Delete(copy);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* extender                                                                   */
/* ------------------------------------------------------------------------ */

static svc *ext_svc;
static char ext_dir[256];
static unsigned ext_runs;
static int64_t ext_clock;

/* A clock that moves a second per reading, so reservations time out. */
static int64_t ext_now(void)
{
    return 1800000000 + ext_clock++;
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[512];

    if (!d)
        return;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (fits(snprintf(path, sizeof(path), "%s/%s", dir, e->d_name), sizeof(path)))
            (void)unlink(path);
    }
    closedir(d);
    (void)rmdir(dir);
}

void fuzz_reset(void)
{
    svc_close(ext_svc);
    ext_svc = NULL;
    if (ext_dir[0])
        remove_dir(ext_dir);
    ext_dir[0] = '\0';
    ext_runs = 0;
    ext_clock = 0;
}

static bool write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    bool ok = f && fputs(text, f) >= 0;

    if (f && fclose(f))
        ok = false;
    return ok;
}

/* The small cluster's nodes and HostPools as files for svc_open. */
static bool ext_files(const char *nodes_path, const char *pools_path)
{
    cJSON *list = cJSON_CreateObject(), *items = cJSON_AddArrayToObject(list, "items");
    char *text;
    bool ok;
    static const char pools[] =
        "{\"kind\":\"List\",\"items\":["
        "{\"apiVersion\":\"placement.streams.io/v1alpha1\",\"kind\":\"HostPool\","
        "\"metadata\":{\"name\":\"ingest\",\"namespace\":\"streams\"},"
        "\"spec\":{\"job\":\"job1\",\"tags\":[\"ingest\"],\"size\":2,\"exclusive\":true}},"
        "{\"apiVersion\":\"placement.streams.io/v1alpha1\",\"kind\":\"HostPool\","
        "\"metadata\":{\"name\":\"any-ssd\",\"namespace\":\"streams\"},"
        "\"spec\":{\"tags\":[\"ssd\"],\"size\":3}},"
        "{\"apiVersion\":\"placement.streams.io/v1alpha1\",\"kind\":\"HostPool\","
        "\"metadata\":{\"name\":\"explicit\",\"namespace\":\"streams\"},"
        "\"spec\":{\"hosts\":[\"fake-node-2\",\"fake-node-6\"]}}]}";

    cJSON_AddStringToObject(list, "kind", "NodeList");
    for (size_t i = 0; items && i < FX_N_NODES; i++) {
        const fx_node *f = &fx_nodes[i];
        cJSON *node = cJSON_CreateObject(), *meta, *labels, *alloc, *spec;
        char key[64], num[32];

        cJSON_AddItemToArray(items, node);
        cJSON_AddStringToObject(node, "kind", "Node");
        meta = cJSON_AddObjectToObject(node, "metadata");
        cJSON_AddStringToObject(meta, "name", f->name);
        labels = cJSON_AddObjectToObject(meta, "labels");
        cJSON_AddStringToObject(labels, "kubernetes.io/hostname", f->name);
        if (f->tag1 && fits(snprintf(key, sizeof(key), "%s%s", PLACE_DEFAULT_TAG_PREFIX,
                                     f->tag1), sizeof(key)))
            cJSON_AddStringToObject(labels, key, "true");
        if (f->tag2 && fits(snprintf(key, sizeof(key), "%s%s", PLACE_DEFAULT_TAG_PREFIX,
                                     f->tag2), sizeof(key)))
            cJSON_AddStringToObject(labels, key, "true");
        spec = cJSON_AddObjectToObject(node, "spec");
        if (f->condition == PLACE_NODE_CORDONED)
            cJSON_AddTrueToObject(spec, "unschedulable");
        alloc = cJSON_AddObjectToObject(cJSON_AddObjectToObject(node, "status"), "allocatable");
        if (fits(snprintf(num, sizeof(num), "%" PRId64 "m", f->cpu_milli), sizeof(num)))
            cJSON_AddStringToObject(alloc, "cpu", num);
        if (fits(snprintf(num, sizeof(num), "%" PRId64, f->memory), sizeof(num)))
            cJSON_AddStringToObject(alloc, "memory", num);
        cJSON_AddStringToObject(alloc, "pods", "110");
    }
    text = cJSON_PrintUnformatted(list);
    cJSON_Delete(list);
    ok = text && write_text(nodes_path, text) && write_text(pools_path, pools);
    sp_free(text);
    return ok;
}

/* Open the shared service on a fresh state directory (tmpfs when there is
 * one: the store syncs every write). */
static svc *ext_open(void)
{
    static bool registered;
    const char *bases[] = { "/dev/shm", getenv("TMPDIR"), "/tmp" };
    char nodes[300], pools[300];
    sp_err err = { SP_OK, "" };

    if (!registered) {
        registered = true;
        atexit(fuzz_reset);
    }
    for (size_t i = 0; i < 3; i++) {
        if (bases[i] && fits(snprintf(ext_dir, sizeof(ext_dir), "%s/sp-fuzz-XXXXXX",
                                      bases[i]), sizeof(ext_dir)) && mkdtemp(ext_dir))
            break;
        ext_dir[0] = '\0';
    }
    if (!ext_dir[0])
        return NULL;
    if (!fits(snprintf(nodes, sizeof(nodes), "%s/nodes.json", ext_dir), sizeof(nodes)) ||
        !fits(snprintf(pools, sizeof(pools), "%s/hostpools.json", ext_dir), sizeof(pools)) ||
        !ext_files(nodes, pools)) {
        fuzz_reset();
        return NULL;
    }
    {
        svc_config cfg = { .state_dir = ext_dir, .nodes_path = nodes, .hostpools_path = pools };
        if (svc_open(&cfg, &ext_svc, &err)) {
            fprintf(stderr, "fuzz_extender: svc_open: %s\n", err.msg);
            fuzz_reset();
            return NULL;
        }
    }
    svc_set_clock(ext_svc, ext_now);
    return ext_svc;
}

/* The node names an ExtenderArgs sent, read as sched.c does, and its mode. */
typedef struct ext_sent {
    cJSON *root;
    const cJSON *list;   /* NodeNames or Nodes.items */
    bool names;
    bool unnamed;        /* a node sent without a name (not a string) */
    bool pe;             /* Pod is a PE pod that is not finished */
    bool pod_limit;      /* Pod does not convert: SP_ELIMIT */
} ext_sent;

static void sent_read(const uint8_t *data, size_t size, ext_sent *s)
{
    sp_err err;
    const cJSON *v;

    memset(s, 0, sizeof(*s));
    if (kobj_parse_json((const char *)data, size, &s->root, &err) || !cJSON_IsObject(s->root))
        return;
    v = cJSON_GetObjectItem(s->root, "Pod");
    if (cJSON_IsObject(v)) {
        kobj_pod kp;
        sp_rc rc = kobj_pod_from_json(v, KOBJ_DEFAULT_NAMESPACE, &kp, &err);
        if (!rc)
            s->pe = !kp.terminal && place_is_pe(kp.in.labels, kp.in.n_labels);
        s->pod_limit = rc == SP_ELIMIT;
        kobj_pod_clear(&kp);
    }
    v = cJSON_GetObjectItem(s->root, "NodeNames");
    if (v && !cJSON_IsNull(v)) {
        const cJSON *e;
        s->names = true;
        s->list = v;
        cJSON_ArrayForEach(e, v)
            s->unnamed |= !cJSON_IsString(e);
        return;
    }
    v = cJSON_GetObjectItem(cJSON_GetObjectItem(s->root, "Nodes"), "items");
    s->list = v && !cJSON_IsNull(v) ? v : NULL;
    cJSON_ArrayForEach(v, s->list)
        s->unnamed |= !cJSON_IsString(cJSON_GetObjectItem(cJSON_GetObjectItem(v, "metadata"),
                                                          "name"));
}

/* Whether name was sent (a string of NodeNames, or the name of an item). */
static bool was_sent(const ext_sent *s, const char *name)
{
    const cJSON *e;

    cJSON_ArrayForEach(e, s->list) {
        const cJSON *n = s->names ? e : cJSON_GetObjectItem(cJSON_GetObjectItem(e, "metadata"),
                                                            "name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
            return true;
    }
    return false;
}

/* The result of a verb whose body only carries Error. */
static cJSON *check_error_body(const char *verb, const srv_response *resp)
{
    cJSON *root = answer_json(verb, resp->body, resp->len);

    CHECK(resp->status == 200 || resp->status == 400,
          "%s: HTTP %d: %.300s", verb, resp->status, resp->body ? resp->body : "");
    CHECK(!root || str_of(root, "Error"), "%s: no Error string: %.300s", verb,
          resp->body ? resp->body : "");
    CHECK(resp->status == 200 || !root || *str_of(root, "Error"), "%s: a 400 with no Error",
          verb);
    return root;
}

static void check_filter(const srv_response *resp, const ext_sent *s)
{
    cJSON *root = check_error_body("filter", resp);
    const cJSON *kept, *e, *failed;
    size_t passed = 0;
    const char *first = NULL;   /* the first node that passed */

    CHECK(resp->status == 400 || !(s->unnamed || s->pod_limit),
          "filter: HTTP %d for a node without a name or a pod that does not convert",
          resp->status);
    if (!root || resp->status != 200) {
        cJSON_Delete(root);
        return;
    }
    kept = s->names ? cJSON_GetObjectItem(root, "NodeNames")
                    : cJSON_GetObjectItem(cJSON_GetObjectItem(root, "Nodes"), "items");
    CHECK(cJSON_IsArray(kept), "filter: no %s in the answer", s->names ? "NodeNames" : "Nodes");
    CHECK(!cJSON_GetObjectItem(root, s->names ? "Nodes" : "NodeNames"),
          "filter: answered in the other shape");
    CHECK(cJSON_GetArraySize(kept) <= cJSON_GetArraySize(s->list), "filter: more nodes out than in");
    cJSON_ArrayForEach(e, (cJSON_IsArray(kept) ? kept : NULL)) {
        const char *name = s->names ? (cJSON_IsString(e) ? e->valuestring : NULL)
                                    : str_of(cJSON_GetObjectItem(e, "metadata"), "name");
        bool known;
        CHECK(s->names ? name != NULL : cJSON_IsObject(e), "filter: a malformed node out");
        name = name ? name : "";
        CHECK(was_sent(s, name),
              "filter: node \"%s\" was not sent", name);
        svc_lock(ext_svc);
        known = place_state_find_node(svc_state(ext_svc), name) != PLACE_NONE;
        svc_unlock(ext_svc);
        if (known && !s->names) { /* the item sent must have been readable */
            kobj_node kn;
            sp_err err;
            known = kobj_node_from_json(e, &kn, &err) == SP_OK;
            kobj_node_clear(&kn);
        }
        if (s->pe && known && (!first || strcmp(first, name) != 0)) /* a name sent twice */
            passed++;
        if (s->pe && known)
            first = name;
        CHECK(!s->pe || known,
              "filter: the PE passes node \"%s\", which the placer does not know", name);
    }
    CHECK(passed <= 1, "filter: %zu nodes pass for a PE (one at most)", passed);
    for (int k = 0; k < 2; k++) {
        failed = cJSON_GetObjectItem(root, k ? "FailedAndUnresolvableNodes" : "FailedNodes");
        CHECK(cJSON_IsObject(failed), "filter: failure map %d missing", k);
        cJSON_ArrayForEach(e, (cJSON_IsObject(failed) ? failed : NULL)) {
            CHECK(cJSON_IsString(e) && *e->valuestring, "filter: node %s failed without a reason",
                  e->string);
            CHECK(was_sent(s, e->string),
                  "filter: failed node \"%s\" was not sent", e->string);
        }
    }
    cJSON_Delete(root);
}

static void check_prioritize(const srv_response *resp, const ext_sent *s)
{
    cJSON *root = answer_json("prioritize", resp->body, resp->len);
    const cJSON *e;

    CHECK(resp->status == 200 || resp->status == 400, "prioritize: HTTP %d: %.300s",
          resp->status, resp->body ? resp->body : "");
    CHECK(resp->status == 400 || !(s->unnamed || s->pod_limit),
          "prioritize: HTTP %d for a node without a name or a pod that does not convert",
          resp->status);
    if (!root || resp->status != 200) {
        CHECK(!root || str_of(root, "Error"), "prioritize: a 400 without Error");
        cJSON_Delete(root);
        return;
    }
    CHECK(cJSON_IsArray(root), "prioritize: not a HostPriorityList");
    CHECK(cJSON_GetArraySize(root) == cJSON_GetArraySize(s->list),
          "prioritize: %d scores for %d nodes", cJSON_GetArraySize(root),
          cJSON_GetArraySize(s->list));
    cJSON_ArrayForEach(e, (cJSON_IsArray(root) ? root : NULL)) {
        const char *host = str_of(e, "Host");
        const cJSON *score = cJSON_GetObjectItem(e, "Score");
        CHECK(host && was_sent(s, host),
              "prioritize: host \"%s\" was not sent", host ? host : "(none)");
        CHECK(cJSON_IsNumber(score) && score->valuedouble >= 0 &&
                  score->valuedouble <= PLACE_SCORE_MAX &&
                  score->valuedouble == (double)score->valueint,
              "prioritize: score of %s out of 0..%d", host ? host : "?", PLACE_SCORE_MAX);
    }
    cJSON_Delete(root);
}

int fuzz_extender(const uint8_t *data, size_t size)
{
    srv_response resp;
    ext_sent sent;
    sp_rc rc;

    fuzz_init();
    current = "extender";
    if (ext_svc && (ext_runs >= EXT_RESET_EVERY ||
                    place_state_pe_slots(svc_state(ext_svc)) > EXT_MAX_PES))
        fuzz_reset();
    if (!ext_svc && !ext_open())
        return 0;
    ext_runs++;
    sent_read(data, size, &sent);

    memset(&resp, 0, sizeof(resp));
    rc = sched_filter(ext_svc, (const char *)data, size, &resp);
    CHECK(rc == SP_OK, "sched_filter: %s", sp_strerror(rc));
    if (!rc)
        check_filter(&resp, &sent);
    sp_free(resp.body);

    memset(&resp, 0, sizeof(resp));
    rc = sched_prioritize(ext_svc, (const char *)data, size, &resp);
    CHECK(rc == SP_OK, "sched_prioritize: %s", sp_strerror(rc));
    if (!rc)
        check_prioritize(&resp, &sent);
    sp_free(resp.body);

    memset(&resp, 0, sizeof(resp));
    rc = sched_bind(ext_svc, (const char *)data, size, &resp);
    CHECK(rc == SP_OK, "sched_bind: %s", sp_strerror(rc));
    if (!rc)
        cJSON_Delete(check_error_body("bind", &resp));
    sp_free(resp.body);

    cJSON_Delete(sent.root);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* kubeconfig                                                                 */
/* ------------------------------------------------------------------------ */

/* A path field: absent, or absolute once resolved against "/base". */
static bool path_resolved(const char *path)
{
    return !path || path[0] == '/';
}

int fuzz_kubeconfig(const uint8_t *data, size_t size)
{
    static const char *const contexts[] = { NULL, "fuzz" };

    fuzz_init();
    current = "kubeconfig";
    for (size_t i = 0; i < 2; i++) {
        kapi_kubeconfig *kc = (kapi_kubeconfig *)&kc; /* not NULL: a failure clears it */
        sp_err err = { SP_OK, "" };
        const char *server;
        size_t len;
        sp_rc rc = kapi_kubeconfig_parse(size ? (const char *)data : "", size, contexts[i],
                                         "/base", &kc, &err);

        if (rc) {
            CHECK(kc == NULL, "a refused kubeconfig is handed out");
            CHECK(rc == SP_EPARSE || rc == SP_ENOTFOUND, "unexpected code %s", sp_strerror(rc));
            CHECK(err.msg[0], "a refused kubeconfig without a message");
            continue;
        }
        CHECK(kc && kc->context && kc->cluster && kc->server, "a kubeconfig without %s",
              !kc ? "itself" : !kc->context ? "context" : !kc->cluster ? "cluster" : "server");
        if (!kc || !kc->server)
            continue;
        CHECK(!contexts[i] || (kc->context && strcmp(kc->context, contexts[i]) == 0),
              "context %s resolved for %s", kc->context ? kc->context : "(null)", contexts[i]);
        server = kc->server;
        len = strlen(server);
        CHECK(strncasecmp(server, "https://", 8) == 0 &&
                  len > 8 && (len == 8 || server[len - 1] != '/'),
              "server \"%s\" accepted", server);
        for (size_t c = 0; c < len; c++)
            CHECK((unsigned char)server[c] > ' ' && server[c] != 0x7f && server[c] != '?' &&
                      server[c] != '#',
                  "server \"%s\" accepted", server);
        CHECK(path_resolved(kc->ca_file) && path_resolved(kc->token_file) &&
                  path_resolved(kc->cert_file) && path_resolved(kc->key_file),
              "a relative path is left unresolved");
        CHECK(!kc->insecure || (!kc->ca_data && !kc->ca_file),
              "insecure-skip-tls-verify with a certificate authority accepted");
        CHECK(!kc->ca_data || !kc->ca_file, "both certificate-authority-data and file");
        kapi_kubeconfig_free(kc);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* skim                                                                       */
/* ------------------------------------------------------------------------ */

/* Whether b is a with some of its managedFields arrays emptied; *emptied
 * counts those that were not empty before. */
static bool same_but_skimmed(const cJSON *a, const cJSON *b, size_t *emptied)
{
    const cJSON *x = a ? a->child : NULL, *y = b ? b->child : NULL;

    if (!a || !b || (a->type & 0xff) != (b->type & 0xff))
        return false;
    if (cJSON_IsNumber(a)) /* the same text: the same double (cJSON_Compare
                              calls two infinities different) */
        return a->valuedouble == b->valuedouble;
    if (!cJSON_IsArray(a) && !cJSON_IsObject(a))
        return cJSON_Compare(a, b, true);
    if (cJSON_IsArray(a) && a->string && !strcmp(a->string, "managedFields") && x && !y) {
        (*emptied)++;
        return true;
    }
    for (; x && y; x = x->next, y = y->next)
        if ((x->string || y->string) &&
            (!x->string || !y->string || strcmp(x->string, y->string)))
            return false;
        else if (!same_but_skimmed(x, y, emptied))
            return false;
    return !x && !y;
}

int fuzz_skim(const uint8_t *data, size_t size)
{
    char *text;
    size_t len = size, emptied = 0, n;
    cJSON *before = NULL, *after = NULL;
    sp_err err;
    sp_rc rc_before, rc_after;

    fuzz_init();
    current = "skim";
    if (!(text = input_string(data, size)))
        return 0;
    n = kobj_skim_managed_fields(text, &len);
    CHECK(len <= size && (n || (len == size && !memcmp(text, data, size))),
          "nothing emptied, yet the text changed");
    rc_before = kobj_parse_json((const char *)data, size, &before, &err);
    rc_after = kobj_parse_json(text, len, &after, &err);
    if (rc_before == SP_OK) {
        CHECK(rc_after == SP_OK, "a text cJSON takes is refused once skimmed");
        CHECK(same_but_skimmed(before, after, &emptied) && emptied <= n,
              "skimming changed more than managedFields arrays (%zu emptied)", n);
    } else if (size < CJSON_NESTING_LIMIT) { /* past it, see kobj_skim.c */
        CHECK(rc_after != SP_OK, "a text cJSON refuses is taken once skimmed");
    }
    cJSON_Delete(before);
    cJSON_Delete(after);
    sp_free(text);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The table                                                                  */
/* ------------------------------------------------------------------------ */

const fuzz_target fuzz_targets[] = {
    { "quantity", fuzz_quantity },
    { "annotations", fuzz_annotations },
    { "extender", fuzz_extender },
    { "admission", fuzz_admission },
    { "hostpool", fuzz_hostpool },
    { "policy", fuzz_policy },
    { "kubeconfig", fuzz_kubeconfig },
    { "skim", fuzz_skim },
    { NULL, NULL },
};
