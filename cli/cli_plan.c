/*
 * `streams-placer plan`: the offline planner. It reads what kubectl prints
 * for nodes, pods and HostPools (and optionally the policy), loads it into a
 * placement state exactly as the server would, plans every job with pending
 * PEs at once, and prints where each pending PE goes, why each unplaceable
 * one cannot go anywhere (node by node, grouped), the HostPool membership,
 * and the PEs already placed in breach of their constraints. The output is a
 * table for people or one JSON object for tools, every list in a stable
 * order. Exit status: 0 all pending PEs placed, 2 some not (the output is
 * still complete), 1 bad input or usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "kobj/kobj.h"
#include "kobj/kobj_json.h"
#include "placement/place.h"
#include "policy/pol.h"
#include "util/sp_alloc.h"

#define PLAN_EXIT_OK 0
#define PLAN_EXIT_BAD 1
#define PLAN_EXIT_UNPLACED 2
#define PLAN_NODES_SHOWN 5   /* node names listed per grouped reason */
#define PLAN_PROG "streams-placer plan"

/* ------------------------------------------------------------------------ */
/* Small helpers                                                              */
/* ------------------------------------------------------------------------ */

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

/* Print s with control characters (from hostile input) shown as '?', padded
 * with spaces to width. */
static void put_clean(FILE *f, const char *s, size_t width)
{
    size_t n = 0;

    for (s = str_or_empty(s); *s; s++, n++)
        fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
    for (; n < width; n++)
        fputc(' ', f);
}

/* ------------------------------------------------------------------------ */
/* Options                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct plan_args {
    const char *nodes;
    const char *pods;
    const char *hostpools;      /* NULL: none */
    const char *policy;         /* NULL: built-in defaults */
    bool json;
} plan_args;

void cli_plan_usage(FILE *f)
{
    fputs("usage: streams-placer plan --nodes NODES.json --pods PODS.json\n"
          "           [--hostpools POOLS.json] [--policy POLICY.json]\n"
          "           [--output table|json]\n"
          "\n"
          "Place every pending PE offline, a whole job at a time, as the\n"
          "scheduler extender would, and explain node by node why a PE\n"
          "cannot be placed. Nothing is changed in any cluster.\n"
          "\n"
          "  --nodes FILE      nodes, as `kubectl get nodes -o json` prints them\n"
          "  --pods FILE       pods: `kubectl get pods -A -o json`\n"
          "  --hostpools FILE  HostPools: `kubectl get hostpools -A -o json`\n"
          "  --policy FILE     the policy (policy.json); default: built-in\n"
          "  --output FORMAT   table (the default) or json\n"
          "  -h, --help        print this help\n"
          "\n"
          "A FILE of \"-\" is standard input. Options also take --opt=value.\n"
          "Exit status: 0 every pending PE placed, 2 some cannot be placed,\n"
          "1 bad input or usage.\n",
          f);
}

static int usage_error(const char *fmt, const char *what)
{
    fprintf(stderr, PLAN_PROG ": ");
    fprintf(stderr, fmt, what);
    fputs("\n\n", stderr);
    cli_plan_usage(stderr);
    return PLAN_EXIT_BAD;
}

/* Store a file option; refuse it twice or empty. */
static int set_file(const char **slot, const char *opt, const char *value)
{
    if (*slot)
        return usage_error("--%s is given twice; give it once", opt);
    if (!value || !*value)
        return usage_error("--%s needs a file name", opt);
    *slot = value;
    return -1;
}

static int set_output(plan_args *a, const char *value)
{
    if (strcmp(value, "json") == 0)
        a->json = true;
    else if (strcmp(value, "table") == 0)
        a->json = false;
    else
        return usage_error("--output must be table or json, not '%s'", value);
    return -1;
}

/* Everything given makes sense together. */
static int check_args(const plan_args *a)
{
    const char *files[] = { a->nodes, a->pods, a->hostpools, a->policy };
    int stdin_users = 0;

    if (!a->nodes)
        return usage_error("%s", "--nodes is required");
    if (!a->pods)
        return usage_error("%s", "--pods is required");
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        if (files[i] && strcmp(files[i], "-") == 0)
            stdin_users++;
    if (stdin_users > 1)
        return usage_error("%s", "only one file may be \"-\" (standard input)");
    return -1;
}

/* -1 to go on, or the exit status. */
static int parse_args(int argc, char **argv, plan_args *a)
{
    static const struct option longopts[] = {
        { "nodes", required_argument, NULL, 'n' },
        { "pods", required_argument, NULL, 'p' },
        { "hostpools", required_argument, NULL, 'H' },
        { "policy", required_argument, NULL, 'P' },
        { "output", required_argument, NULL, 'o' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c, status = -1;

    memset(a, 0, sizeof(*a));
    optind = 0;     /* glibc: a full reset, so that plan may run twice */
    opterr = 0;
    while (status < 0 && (c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n': status = set_file(&a->nodes, "nodes", optarg); break;
        case 'p': status = set_file(&a->pods, "pods", optarg); break;
        case 'H': status = set_file(&a->hostpools, "hostpools", optarg); break;
        case 'P': status = set_file(&a->policy, "policy", optarg); break;
        case 'o': status = set_output(a, optarg); break;
        case 'h': cli_plan_usage(stdout); return PLAN_EXIT_OK;
        case ':': return usage_error("%s needs a value", argv[optind - 1]);
        default: return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (status >= 0)
        return status;
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    return check_args(a);
}

/* ------------------------------------------------------------------------ */
/* Loading                                                                    */
/* ------------------------------------------------------------------------ */

static sp_rc load_policy(const char *path, pol_policy **out, sp_err *err)
{
    char *data = NULL;
    size_t len;
    sp_rc rc;

    if (!path) {
        rc = pol_default(out);
        return rc ? sp_err_set(err, rc, "out of memory") : SP_OK;
    }
    rc = kobj_read_file(path, POL_MAX_BYTES, &data, &len, err);
    if (!rc)
        rc = pol_parse(data, len, out, err);
    if (rc)
        sp_err_prefix(err, "%s", strcmp(path, "-") == 0 ? "<stdin>" : path);
    sp_free(data);
    return rc;
}

/* Warn about each HostPool kept with a validation error. */
static void warn_invalid_pools(const place_state *st)
{
    place_pool_info info;

    for (size_t i = 0; i < place_state_pool_slots(st); i++) {
        if (!place_state_pool_alive(st, (int32_t)i))
            continue;
        place_pool_get(st, (int32_t)i, &info);
        if (!info.error)
            continue;
        fputs(PLAN_PROG ": warning: HostPool ", stderr);
        put_clean(stderr, info.namespace_, 0);
        fputc('/', stderr);
        put_clean(stderr, info.name, 0);
        fputs(" is invalid (PEs that name it cannot be placed): ", stderr);
        put_clean(stderr, info.error, 0);
        fputc('\n', stderr);
    }
}

/* The policy, then nodes, HostPools and pods into a new state. */
static sp_rc load_all(const plan_args *a, pol_policy **pol, place_state **st,
                      sp_err *err)
{
    place_policy pp;
    sp_rc rc;

    rc = load_policy(a->policy, pol, err);
    if (rc)
        return rc;
    pol_to_place(*pol, &pp);
    rc = place_state_new(&pp, st);
    if (rc)
        return sp_err_set(err, rc, "cannot create the placement state: %s",
                          sp_strerror(rc));
    rc = kobj_load_file(*st, KOBJ_NODE, a->nodes, *pol, NULL, err);
    if (!rc && a->hostpools)
        rc = kobj_load_file(*st, KOBJ_HOSTPOOL, a->hostpools, *pol, NULL, err);
    if (!rc)
        rc = kobj_load_file(*st, KOBJ_POD, a->pods, *pol, NULL, err);
    if (!rc)
        warn_invalid_pools(*st);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The report: every list, sorted                                             */
/* ------------------------------------------------------------------------ */

typedef struct plan_row {
    place_pe_info pe;               /* strings borrowed from the state */
    const char *node;               /* node name, or NULL */
    const char *reason;             /* borrowed from the plan or violations */
    const place_unplaced *unplaced; /* for the per-node reasons */
} plan_row;

typedef struct pool_row {
    place_pool_info info;
    const char **hosts;             /* owned array of borrowed names */
    size_t n_hosts;
} pool_row;

typedef struct plan_report {
    plan_row *placed, *bound, *unplaced, *violations;
    size_t n_placed, n_bound, n_unplaced, n_violations;
    pool_row *pools;
    size_t n_pools;
    size_t n_nodes;
} plan_report;

static void report_free(plan_report *r)
{
    sp_free(r->placed);
    sp_free(r->bound);
    sp_free(r->unplaced);
    sp_free(r->violations);
    for (size_t i = 0; i < r->n_pools; i++)
        sp_free(r->pools[i].hosts);
    sp_free(r->pools);
}

/* strcmp, but runs of digits compare as numbers ("pe2" < "pe10"). */
static int natural_cmp(const char *a, const char *b)
{
    a = str_or_empty(a);
    b = str_or_empty(b);
    while (*a && *b) {
        if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
            size_t na, nb;
            int c;

            while (*a == '0' && a[1] >= '0' && a[1] <= '9')
                a++;
            while (*b == '0' && b[1] >= '0' && b[1] <= '9')
                b++;
            na = strspn(a, "0123456789");
            nb = strspn(b, "0123456789");
            if (na != nb)
                return na < nb ? -1 : 1;
            c = strncmp(a, b, na);
            if (c)
                return c;
            a += na;
            b += nb;
        } else if (*a != *b) {
            return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
        } else {
            a++;
            b++;
        }
    }
    return *a ? 1 : *b ? -1 : 0;
}

/* Order of rows: namespace, job, PE, pod, node. */
static int row_cmp(const void *x, const void *y)
{
    const plan_row *a = x, *b = y;
    int c;

    if ((c = strcmp(str_or_empty(a->pe.namespace_), str_or_empty(b->pe.namespace_))))
        return c;
    if ((c = natural_cmp(a->pe.job, b->pe.job)))
        return c;
    if ((c = natural_cmp(a->pe.pe, b->pe.pe)))
        return c;
    if ((c = strcmp(str_or_empty(a->pe.pod), str_or_empty(b->pe.pod))))
        return c;
    return natural_cmp(a->node, b->node);
}

static int pool_cmp(const void *x, const void *y)
{
    const pool_row *a = x, *b = y;
    int c = strcmp(str_or_empty(a->info.namespace_),
                   str_or_empty(b->info.namespace_));

    return c ? c : strcmp(str_or_empty(a->info.name), str_or_empty(b->info.name));
}

static void row_fill(const place_state *st, int32_t pe, plan_row *row)
{
    memset(row, 0, sizeof(*row));
    place_pe_get(st, pe, &row->pe);
    if (row->pe.node != PLACE_NONE)
        row->node = place_node_name(st, row->pe.node);
}

/* n zeroed rows in *rows (none for n == 0). */
static sp_rc rows_alloc(plan_row **rows, size_t n)
{
    *rows = n ? sp_calloc(n, sizeof(**rows)) : NULL;
    return n && !*rows ? SP_ENOMEM : SP_OK;
}

static sp_rc collect_plan(const place_state *st, const place_plan *plan,
                          plan_report *r)
{
    if (rows_alloc(&r->placed, plan->n_placed) ||
        rows_alloc(&r->unplaced, plan->n_unplaced))
        return SP_ENOMEM;
    for (size_t i = 0; i < plan->n_placed; i++)
        row_fill(st, plan->placed[i], &r->placed[i]);
    r->n_placed = plan->n_placed;
    for (size_t i = 0; i < plan->n_unplaced; i++) {
        row_fill(st, plan->unplaced[i].pe, &r->unplaced[i]);
        r->unplaced[i].reason = plan->unplaced[i].reason;
        r->unplaced[i].unplaced = &plan->unplaced[i];
    }
    r->n_unplaced = plan->n_unplaced;
    return SP_OK;
}

/* True for a PE that was on a node before the plan (bound or reserved). */
static bool already_placed(const place_state *st, int32_t pe)
{
    place_pe_info info;

    if (!place_state_pe_alive(st, pe))
        return false;
    place_pe_get(st, pe, &info);
    return info.phase == PLACE_BOUND || info.phase == PLACE_RESERVED;
}

static sp_rc collect_bound(const place_state *st, plan_report *r)
{
    size_t slots = place_state_pe_slots(st), n = 0;

    for (size_t i = 0; i < slots; i++)
        n += already_placed(st, (int32_t)i);
    if (rows_alloc(&r->bound, n))
        return SP_ENOMEM;
    for (size_t i = 0; i < slots; i++)
        if (already_placed(st, (int32_t)i))
            row_fill(st, (int32_t)i, &r->bound[r->n_bound++]);
    return SP_OK;
}

static sp_rc collect_violations(const place_state *st,
                                const place_violation *v, size_t n,
                                plan_report *r)
{
    if (rows_alloc(&r->violations, n))
        return SP_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        row_fill(st, v[i].pe, &r->violations[i]);
        r->violations[i].node = v[i].node != PLACE_NONE
            ? place_node_name(st, v[i].node) : NULL;
        r->violations[i].reason = v[i].reason;
    }
    r->n_violations = n;
    return SP_OK;
}

static int host_cmp(const void *x, const void *y)
{
    return natural_cmp(*(const char *const *)x, *(const char *const *)y);
}

static sp_rc collect_pools(place_state *st, plan_report *r)
{
    size_t slots = place_state_pool_slots(st), n = 0;
    sp_rc rc;

    for (size_t i = 0; i < slots; i++)
        n += place_state_pool_alive(st, (int32_t)i);
    r->pools = n ? sp_calloc(n, sizeof(*r->pools)) : NULL;
    if (n && !r->pools)
        return SP_ENOMEM;
    for (size_t i = 0; i < slots; i++) {
        pool_row *p;

        if (!place_state_pool_alive(st, (int32_t)i))
            continue;
        p = &r->pools[r->n_pools++];
        place_pool_get(st, (int32_t)i, &p->info);
        if (p->info.error)
            continue;           /* an invalid pool has no hosts to show */
        rc = place_pool_hosts(st, (int32_t)i, &p->hosts, &p->n_hosts);
        if (rc)
            return rc;
        /* a sized pool's order is its index order; keep it */
        if (!p->info.size && p->n_hosts > 1)
            qsort(p->hosts, p->n_hosts, sizeof(*p->hosts), host_cmp);
    }
    return SP_OK;
}

/* qsort must not see the NULL of an empty array. */
static void sort_rows(plan_row *rows, size_t n)
{
    if (n > 1)
        qsort(rows, n, sizeof(*rows), row_cmp);
}

static sp_rc build_report(place_state *st, const place_plan *plan,
                          const place_violation *v, size_t n_v,
                          plan_report *r)
{
    sp_rc rc;

    memset(r, 0, sizeof(*r));
    r->n_nodes = place_state_node_count(st);
    rc = collect_plan(st, plan, r);
    if (!rc)
        rc = collect_bound(st, r);
    if (!rc)
        rc = collect_violations(st, v, n_v, r);
    if (!rc)
        rc = collect_pools(st, r);
    if (rc)
        return rc;
    sort_rows(r->placed, r->n_placed);
    sort_rows(r->bound, r->n_bound);
    sort_rows(r->unplaced, r->n_unplaced);
    sort_rows(r->violations, r->n_violations);
    if (r->n_pools > 1)
        qsort(r->pools, r->n_pools, sizeof(pool_row), pool_cmp);
    return SP_OK;
}

/* ------------------------------------------------------------------------ */
/* Per-node reasons, in node order and grouped                                */
/* ------------------------------------------------------------------------ */

typedef struct node_reason {
    const char *node;
    const char *reason;
    size_t class_len;   /* the kind of reason: the text before its first ": " */
} node_reason;

static int nr_by_node(const void *x, const void *y)
{
    const node_reason *a = x, *b = y;

    return natural_cmp(a->node, b->node);
}

/* Compare the classes of two reasons. */
static int class_cmp(const node_reason *a, const node_reason *b)
{
    size_t n = a->class_len < b->class_len ? a->class_len : b->class_len;
    int c = strncmp(a->reason, b->reason, n);

    if (c)
        return c;
    return a->class_len < b->class_len ? -1 : a->class_len > b->class_len;
}

/* By class, then node. */
static int nr_by_class(const void *x, const void *y)
{
    const node_reason *a = x, *b = y;
    int c = class_cmp(a, b);

    return c ? c : natural_cmp(a->node, b->node);
}

/* The length of the class of a reason: "insufficient memory: needs 4Gi, ..."
 * and "insufficient memory: needs 8Gi, ..." are of one class. */
static size_t class_len(const char *reason)
{
    const char *colon = strstr(reason, ": ");

    return colon ? (size_t)(colon - reason) : strlen(reason);
}

/* The per-node reasons of u as an owned array, sorted by node name. */
static sp_rc node_reasons(const place_state *st, const place_unplaced *u,
                          node_reason **out)
{
    node_reason *nr;

    *out = NULL;
    if (!u->n_nodes)
        return SP_OK;
    nr = sp_calloc(u->n_nodes, sizeof(*nr));
    if (!nr)
        return SP_ENOMEM;
    for (size_t i = 0; i < u->n_nodes; i++) {
        nr[i].node = str_or_empty(place_node_name(st, u->nodes[i]));
        nr[i].reason = u->node_reasons && u->node_reasons[i]
            ? u->node_reasons[i] : "no reason given";
        nr[i].class_len = class_len(nr[i].reason);
    }
    qsort(nr, u->n_nodes, sizeof(*nr), nr_by_node);
    *out = nr;
    return SP_OK;
}

/* Nodes refused for one class of reason. */
typedef struct reason_group {
    const node_reason *first;   /* its entries, contiguous when sorted */
    size_t count;
    bool same;                  /* every entry has the very same text */
} reason_group;

/* Larger groups first, then by class. */
static int group_cmp(const void *x, const void *y)
{
    const reason_group *a = x, *b = y;

    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return class_cmp(a->first, b->first);
}

/*
 * Group n node reasons (re-sorted in place by class) into *groups (owned),
 * largest first.
 */
static sp_rc group_reasons(node_reason *nr, size_t n, reason_group **groups,
                           size_t *n_groups)
{
    reason_group *g;
    size_t k = 0;

    *groups = NULL;
    *n_groups = 0;
    if (!n)
        return SP_OK;
    qsort(nr, n, sizeof(*nr), nr_by_class);
    g = sp_calloc(n, sizeof(*g));
    if (!g)
        return SP_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!k || class_cmp(g[k - 1].first, &nr[i]) != 0)
            g[k++] = (reason_group){ &nr[i], 0, true };
        if (strcmp(g[k - 1].first->reason, nr[i].reason) != 0)
            g[k - 1].same = false;
        g[k - 1].count++;
    }
    qsort(g, k, sizeof(*g), group_cmp);
    *groups = g;
    *n_groups = k;
    return SP_OK;
}

/* ------------------------------------------------------------------------ */
/* JSON output                                                                */
/* ------------------------------------------------------------------------ */

/* Add a string member (JSON null for NULL); false when memory runs out. */
static bool add_str(cJSON *o, const char *key, const char *value)
{
    if (!value)
        return cJSON_AddNullToObject(o, key) != NULL;
    return cJSON_AddStringToObject(o, key, value) != NULL;
}

/* {"namespace","pod","job","pe"} and the optional members of a row. */
static cJSON *row_json(const plan_row *r, bool node, bool reason)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o != NULL;

    ok = ok && add_str(o, "namespace", r->pe.namespace_);
    ok = ok && add_str(o, "pod", r->pe.pod);
    ok = ok && add_str(o, "job", r->pe.job);
    ok = ok && add_str(o, "pe", r->pe.pe);
    if (node)
        ok = ok && add_str(o, "node", r->node);
    if (reason)
        ok = ok && add_str(o, "reason", r->reason);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* "nodes": {"<node>": "<reason>"}, in node order. */
static bool add_node_reasons(const place_state *st, cJSON *o,
                             const place_unplaced *u)
{
    cJSON *nodes = cJSON_AddObjectToObject(o, "nodes");
    node_reason *nr = NULL;
    bool ok = nodes && node_reasons(st, u, &nr) == SP_OK;

    for (size_t i = 0; ok && i < u->n_nodes; i++)
        ok = add_str(nodes, nr[i].node, nr[i].reason);
    sp_free(nr);
    return ok;
}

/* Add an array of rows under key. */
static bool add_rows(const place_state *st, cJSON *root, const char *key,
                     const plan_row *rows, size_t n, bool node, bool reason)
{
    cJSON *arr = cJSON_AddArrayToObject(root, key);
    bool ok = arr != NULL;

    for (size_t i = 0; ok && i < n; i++) {
        cJSON *o = row_json(&rows[i], node, reason);

        ok = o && cJSON_AddItemToArray(arr, o);
        if (!ok)
            cJSON_Delete(o);
        else if (rows[i].unplaced)
            ok = add_node_reasons(st, o, rows[i].unplaced);
    }
    return ok;
}

static cJSON *pool_json(const pool_row *p)
{
    cJSON *o = cJSON_CreateObject(), *hosts;
    bool ok = o && add_str(o, "namespace", p->info.namespace_) &&
              add_str(o, "name", p->info.name);

    hosts = ok ? cJSON_AddArrayToObject(o, "hosts") : NULL;
    ok = hosts != NULL;
    for (size_t i = 0; ok && i < p->n_hosts; i++)
        ok = cJSON_AddItemToArray(hosts, cJSON_CreateString(p->hosts[i]));
    if (ok && p->info.error)
        ok = add_str(o, "error", p->info.error);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static bool add_pools(cJSON *root, const plan_report *r)
{
    cJSON *arr = cJSON_AddArrayToObject(root, "hostPools");
    bool ok = arr != NULL;

    for (size_t i = 0; ok && i < r->n_pools; i++) {
        cJSON *o = pool_json(&r->pools[i]);

        ok = o && cJSON_AddItemToArray(arr, o);
        if (!ok)
            cJSON_Delete(o);
    }
    return ok;
}

static sp_rc print_json(const place_state *st, const plan_report *r, FILE *f)
{
    cJSON *root = cJSON_CreateObject();
    bool ok = root != NULL;
    char *text = NULL;

    ok = ok && add_rows(st, root, "placements", r->placed, r->n_placed, true,
                        false);
    ok = ok && add_rows(st, root, "unplaced", r->unplaced, r->n_unplaced,
                        false, true);
    ok = ok && add_pools(root, r);
    ok = ok && add_rows(st, root, "violations", r->violations,
                        r->n_violations, true, true);
    ok = ok && add_rows(st, root, "bound", r->bound, r->n_bound, true, false);
    text = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        return SP_ENOMEM;
    fputs(text, f);
    fputc('\n', f);
    sp_free(text);
    return SP_OK;
}

/* ------------------------------------------------------------------------ */
/* Table output                                                               */
/* ------------------------------------------------------------------------ */

typedef struct widths {
    size_t ns, pod, job, pe, node;
} widths;

static size_t wmax(size_t w, const char *s)
{
    size_t n = strlen(str_or_empty(s));

    return n > w ? n : w;
}

static void widths_of(const plan_row *rows, size_t n, widths *w)
{
    *w = (widths){ strlen("NAMESPACE"), strlen("POD"), strlen("JOB"),
                   strlen("PE"), strlen("NODE") };
    for (size_t i = 0; i < n; i++) {
        w->ns = wmax(w->ns, rows[i].pe.namespace_);
        w->pod = wmax(w->pod, rows[i].pe.pod);
        w->job = wmax(w->job, rows[i].pe.job);
        w->pe = wmax(w->pe, rows[i].pe.pe);
        w->node = wmax(w->node, rows[i].node);
    }
}

/* One line: the PE columns, then NODE and/or REASON as asked. */
static void put_line(FILE *f, const widths *w, const char *const cells[6],
                     bool node, bool reason)
{
    put_clean(f, cells[0], w->ns + 2);
    put_clean(f, cells[1], w->pod + 2);
    put_clean(f, cells[2], w->job + 2);
    put_clean(f, cells[3], (node || reason) ? w->pe + 2 : 0);
    if (node)
        put_clean(f, cells[4], reason ? w->node + 2 : 0);
    if (reason)
        put_clean(f, cells[5], 0);
    fputc('\n', f);
}

static void put_row(FILE *f, const widths *w, const plan_row *r, bool node,
                    bool reason)
{
    const char *cells[6] = { r->pe.namespace_, r->pe.pod, r->pe.job,
                             r->pe.pe, r->node ? r->node : "-", r->reason };

    put_line(f, w, cells, node, reason);
}

/* A section: its title, then the rows or "(none)". */
static void put_section(FILE *f, const char *title, const plan_row *rows,
                        size_t n, bool node, bool reason)
{
    static const char *const heads[6] = { "NAMESPACE", "POD", "JOB", "PE",
                                          "NODE", "REASON" };
    widths w;

    fprintf(f, "%s (%zu)\n", title, n);
    if (!n) {
        fputs("  (none)\n\n", f);
        return;
    }
    widths_of(rows, n, &w);
    put_line(f, &w, heads, node, reason);
    for (size_t i = 0; i < n; i++)
        put_row(f, &w, &rows[i], node, reason);
    fputc('\n', f);
}

/* " [node-a, node-b, +3 more]" for a group whose nodes share one reason. */
static void put_group_names(FILE *f, const reason_group *g)
{
    size_t shown = g->count < PLAN_NODES_SHOWN ? g->count : PLAN_NODES_SHOWN;

    fputs(" [", f);
    for (size_t i = 0; i < shown; i++) {
        if (i)
            fputs(", ", f);
        put_clean(f, g->first[i].node, 0);
    }
    if (g->count > shown)
        fprintf(f, ", +%zu more", g->count - shown);
    fputs("]\n", f);
}

/* One line per node ("node-a: needs 4Gi, 1Gi free"), a few at most. */
static void put_group_details(FILE *f, const reason_group *g)
{
    size_t shown = g->count < PLAN_NODES_SHOWN ? g->count : PLAN_NODES_SHOWN;

    fputc('\n', f);
    for (size_t i = 0; i < shown; i++) {
        const node_reason *nr = &g->first[i];
        const char *detail = nr->reason + nr->class_len;

        fputs("          ", f);
        put_clean(f, nr->node, 0);
        put_clean(f, detail, 0);
        fputc('\n', f);
    }
    if (g->count > shown)
        fprintf(f, "          +%zu more\n", g->count - shown);
}

/* Under an unplaced PE: the per-node reasons, grouped by class. */
static sp_rc put_node_reasons(FILE *f, const place_state *st,
                              const plan_row *row)
{
    const place_unplaced *u = row->unplaced;
    reason_group *groups = NULL;
    node_reason *nr = NULL;
    size_t n_groups;
    sp_rc rc;

    rc = node_reasons(st, u, &nr);
    if (!rc)
        rc = group_reasons(nr, u->n_nodes, &groups, &n_groups);
    if (rc || !u->n_nodes)
        goto out;
    /* the engine's summary may already say it, kube-scheduler style */
    if (!row->reason || strncmp(row->reason, "0/", 2) != 0)
        fprintf(f, "    0/%zu nodes are available:\n", u->n_nodes);
    for (size_t i = 0; i < n_groups; i++) {
        const reason_group *g = &groups[i];

        fprintf(f, "      %zu node%s: ", g->count, g->count == 1 ? "" : "s");
        if (g->same) {
            put_clean(f, g->first->reason, 0);
            put_group_names(f, g);
            continue;
        }
        fprintf(f, "%.*s", (int)g->first->class_len, g->first->reason);
        put_group_details(f, g);
    }
out:
    sp_free(groups);
    sp_free(nr);
    return rc;
}

static sp_rc put_unplaced(FILE *f, const place_state *st,
                          const plan_report *r)
{
    static const char *const heads[6] = { "NAMESPACE", "POD", "JOB", "PE",
                                          "NODE", "REASON" };
    widths w;
    sp_rc rc;

    fprintf(f, "UNPLACED (%zu)\n", r->n_unplaced);
    if (!r->n_unplaced) {
        fputs("  (none)\n\n", f);
        return SP_OK;
    }
    widths_of(r->unplaced, r->n_unplaced, &w);
    put_line(f, &w, heads, false, true);
    for (size_t i = 0; i < r->n_unplaced; i++) {
        put_row(f, &w, &r->unplaced[i], false, true);
        rc = put_node_reasons(f, st, &r->unplaced[i]);
        if (rc)
            return rc;
    }
    fputc('\n', f);
    return SP_OK;
}

static void put_pool(FILE *f, const pool_row *p)
{
    fputs("  ", f);
    put_clean(f, p->info.namespace_, 0);
    fputc('/', f);
    put_clean(f, p->info.name, 0);
    fputs(p->info.job ? " (job " : " (shared", f);
    if (p->info.job)
        put_clean(f, p->info.job, 0);
    if (p->info.size)
        fprintf(f, ", size %lld", (long long)p->info.size);
    fputs(p->info.exclusive ? ", exclusive): " : "): ", f);
    for (size_t i = 0; i < p->n_hosts; i++) {
        if (i)
            fputs(", ", f);
        if (p->info.size)
            fprintf(f, "[%zu] ", i);
        put_clean(f, p->hosts[i], 0);
    }
    if (!p->n_hosts)
        fputs("(no hosts)", f);
    fputc('\n', f);
    if (p->info.error) {
        fputs("    invalid: ", f);
        put_clean(f, p->info.error, 0);
        fputc('\n', f);
    }
}

static sp_rc print_table(const place_state *st, const plan_report *r, FILE *f)
{
    sp_rc rc;

    put_section(f, "PLACED", r->placed, r->n_placed, true, false);
    rc = put_unplaced(f, st, r);
    if (rc)
        return rc;
    fprintf(f, "HOST POOLS (%zu)\n", r->n_pools);
    for (size_t i = 0; i < r->n_pools; i++)
        put_pool(f, &r->pools[i]);
    fputs(r->n_pools ? "\n" : "  (none)\n\n", f);
    put_section(f, "VIOLATIONS", r->violations, r->n_violations, true, true);
    put_section(f, "ALREADY ON A NODE", r->bound, r->n_bound, true, false);
    fprintf(f, "%zu of %zu pending PE%s placed, %zu cannot be placed; "
            "%zu already on a node, %zu in violation; %zu node%s\n",
            r->n_placed, r->n_placed + r->n_unplaced,
            r->n_placed + r->n_unplaced == 1 ? "" : "s", r->n_unplaced,
            r->n_bound, r->n_violations, r->n_nodes,
            r->n_nodes == 1 ? "" : "s");
    return SP_OK;
}

/* ------------------------------------------------------------------------ */
/* The command                                                                */
/* ------------------------------------------------------------------------ */

/* Plan, find violations and print. */
static sp_rc plan_and_print(place_state *st, bool json, size_t *n_unplaced,
                            sp_err *err)
{
    place_plan_opts opts = { .explain = true, .seed = 0, .max_attempts = 0 };
    place_violation *v = NULL;
    place_plan *plan = NULL;
    plan_report r = { 0 };
    size_t n_v = 0;
    sp_rc rc;

    rc = place_plan_all(st, &opts, &plan);
    if (rc) {
        sp_err_set(err, rc, "planning failed: %s", sp_strerror(rc));
        goto out;
    }
    rc = place_find_violations(st, &v, &n_v);
    if (rc) {
        sp_err_set(err, rc, "checking placed PEs failed: %s", sp_strerror(rc));
        goto out;
    }
    rc = build_report(st, plan, v, n_v, &r);
    if (!rc)
        rc = json ? print_json(st, &r, stdout) : print_table(st, &r, stdout);
    if (rc) {
        sp_err_set(err, rc, "writing the report failed: %s", sp_strerror(rc));
        goto out;
    }
    *n_unplaced = plan->n_unplaced;
out:
    report_free(&r);
    place_violations_free(v, n_v);
    place_plan_free(plan);
    return rc;
}

int cli_plan(int argc, char **argv)
{
    pol_policy *pol = NULL;
    place_state *st = NULL;
    size_t n_unplaced = 0;
    plan_args a;
    sp_err err;
    int status;
    sp_rc rc;

    status = parse_args(argc, argv, &a);
    if (status >= 0)
        return status;
    sp_err_clear(&err);
    rc = load_all(&a, &pol, &st, &err);
    if (!rc)
        rc = plan_and_print(st, a.json, &n_unplaced, &err);
    if (!rc && fflush(stdout) != 0)
        rc = sp_err_set(&err, SP_EIO, "cannot write the output");
    if (rc) {
        fputs(PLAN_PROG ": ", stderr);
        put_clean(stderr, err.msg[0] ? err.msg : sp_strerror(rc), 0);
        fputc('\n', stderr);
    }
    place_state_free(st);
    pol_free(pol);
    if (rc)
        return PLAN_EXIT_BAD;
    return n_unplaced ? PLAN_EXIT_UNPLACED : PLAN_EXIT_OK;
}
