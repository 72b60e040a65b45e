/*
 * The policy parser (pol.h): one table of known fields, each with its own
 * small reader; a first pass over the document refuses unknown and repeated
 * fields, a second reads every known one into a policy that starts from the
 * defaults. Nothing is half-applied: the caller gets a whole policy or an
 * error.
 */
#include "policy/pol.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "kobj/kobj.h"
#include "kobj/kobj_json.h"
#include "util/sp_alloc.h"
#include "util/sp_str.h"

/* ------------------------------------------------------------------------ */
/* Names                                                                      */
/* ------------------------------------------------------------------------ */

static const char *const mode_names[] = { "enforce", "audit" };
static const char *const scope_names[] = { "cluster", "job" };
static const char *const balancing_names[] = { "balancedInstance",
                                               "balancedJob" };

const char *pol_mode_name(pol_mode m)
{
    return m == POL_MODE_AUDIT ? mode_names[1] : mode_names[0];
}

const char *pol_isolation_scope_name(place_isolation_scope s)
{
    return s == PLACE_ISOLATION_JOB ? scope_names[1] : scope_names[0];
}

const char *pol_balancing_name(place_balancing b)
{
    return b == PLACE_BALANCE_JOB ? balancing_names[1] : balancing_names[0];
}

/* ------------------------------------------------------------------------ */
/* Kubernetes names                                                           */
/* ------------------------------------------------------------------------ */

/* RFC 1123 label: 1-63 of [a-z0-9-], alphanumeric at both ends. */
static bool dns_label(const char *s, size_t n)
{
    if (n < 1 || n > 63 || !isalnum((unsigned char)s[0]) ||
        !isalnum((unsigned char)s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) ||
              s[i] == '-'))
            return false;
    return true;
}

/* RFC 1123 subdomain: dot-separated labels, at most 253 bytes. */
static bool dns_subdomain(const char *s, size_t n)
{
    size_t start = 0;

    if (n < 1 || n > 253)
        return false;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.')
            continue;
        if (!dns_label(s + start, i - start))
            return false;
        start = i + 1;
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* Field readers                                                              */
/* ------------------------------------------------------------------------ */

typedef sp_rc (*field_fn)(const cJSON *root, pol_policy *p, sp_err *err);

/* A string that must satisfy ok(), copied into *dst; "" and absent leave
 * *dst alone. */
static sp_rc read_name(const cJSON *root, const char *key, const char *what,
                       bool (*ok)(const char *, size_t), char **dst,
                       sp_err *err)
{
    const char *s;
    char *copy;
    sp_rc rc = kobj_get_string(root, "", key, &s, err);

    if (rc || !s || !*s)
        return rc;
    if (!ok(s, strlen(s)))
        return kobj_type_error(err, key, what, kobj_member(root, key));
    copy = sp_strdup(s);
    if (!copy)
        return sp_err_set(err, SP_ENOMEM, "%s: out of memory", key);
    sp_free(*dst);
    *dst = copy;
    return SP_OK;
}

/* A DNS subdomain followed by '/'. */
static bool label_prefix(const char *s, size_t n)
{
    return n >= 2 && s[n - 1] == '/' && dns_subdomain(s, n - 1);
}

static sp_rc f_tag_prefix(const cJSON *root, pol_policy *p, sp_err *err)
{
    const cJSON *v = kobj_member(root, "tagLabelPrefix");

    if (cJSON_IsString(v) && !*v->valuestring)
        return kobj_type_error(err, "tagLabelPrefix",
                               "a label-key prefix such as \"tag.streams.io/\"",
                               v);
    return read_name(root, "tagLabelPrefix",
                     "a label-key prefix: a DNS subdomain followed by '/', "
                     "such as \"tag.streams.io/\"",
                     label_prefix, &p->tag_prefix, err);
}

static sp_rc f_default_pool(const cJSON *root, pol_policy *p, sp_err *err)
{
    return read_name(root, "defaultHostPool",
                     "a HostPool name (lower-case letters, digits, '-' and "
                     "'.'), or \"\" for none",
                     dns_subdomain, &p->default_pool, err);
}

static sp_rc f_scheduler_name(const cJSON *root, pol_policy *p, sp_err *err)
{
    return read_name(root, "schedulerName",
                     "a scheduler name (lower-case letters, digits, '-' and "
                     "'.'), or \"\" to leave pods alone",
                     dns_subdomain, &p->scheduler_name, err);
}

/* One of names[0..n); *out is its index. */
static sp_rc read_enum(const cJSON *root, const char *key,
                       const char *const *names, size_t n, int *out,
                       sp_err *err)
{
    char what[128];
    const char *s;
    sp_rc rc = kobj_get_string(root, "", key, &s, err);

    if (rc || !s)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (int)i;
            return SP_OK;
        }
    }
    /* every enum here has two values */
    if (snprintf(what, sizeof(what), "\"%s\" or \"%s\"", names[0],
                 names[n - 1]) < 0)
        what[0] = '\0';
    return kobj_type_error(err, key, what, kobj_member(root, key));
}

static sp_rc f_isolation_scope(const cJSON *root, pol_policy *p, sp_err *err)
{
    int v = (int)p->isolation_scope;
    sp_rc rc = read_enum(root, "isolationScope", scope_names, 2, &v, err);

    p->isolation_scope = v ? PLACE_ISOLATION_JOB : PLACE_ISOLATION_CLUSTER;
    return rc;
}

static sp_rc f_balancing(const cJSON *root, pol_policy *p, sp_err *err)
{
    int v = (int)p->balancing;
    sp_rc rc = read_enum(root, "balancing", balancing_names, 2, &v, err);

    p->balancing = v ? PLACE_BALANCE_JOB : PLACE_BALANCE_INSTANCE;
    return rc;
}

static sp_rc f_mode(const cJSON *root, pol_policy *p, sp_err *err)
{
    int v = (int)p->mode;
    sp_rc rc = read_enum(root, "mode", mode_names, 2, &v, err);

    p->mode = v ? POL_MODE_AUDIT : POL_MODE_ENFORCE;
    return rc;
}

static sp_rc f_reservation_ttl(const cJSON *root, pol_policy *p, sp_err *err)
{
    int64_t v = p->reservation_ttl_s;
    sp_rc rc = kobj_get_int(root, "", "reservationTTLSeconds", 1,
                            POL_MAX_RESERVATION_TTL, &v, NULL, err);

    p->reservation_ttl_s = (int)v;
    return rc;
}

static sp_rc f_released_ttl(const cJSON *root, pol_policy *p, sp_err *err)
{
    int64_t v = p->released_ttl_s;
    sp_rc rc = kobj_get_int(root, "", "releasedPlacementTTLSeconds", 0,
                            POL_MAX_RELEASED_TTL, &v, NULL, err);

    p->released_ttl_s = (int)v;
    return rc;
}

static sp_rc f_gang_wait(const cJSON *root, pol_policy *p, sp_err *err)
{
    return kobj_get_bool(root, "", "gangWait", &p->gang_wait, NULL, err);
}

/* namespaces[i], checked. */
static sp_rc read_namespace(const cJSON *v, size_t i, sp_err *err)
{
    char path[KOBJ_PATH_MAX];

    if (cJSON_IsString(v) && dns_label(v->valuestring, strlen(v->valuestring)))
        return SP_OK;
    kobj_path_index(path, sizeof(path), "namespaces", i);
    return kobj_type_error(err, path,
                           "a namespace name (1-63 lower-case letters, digits "
                           "and '-')", v);
}

static bool listed(char **v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

static sp_rc f_namespaces(const cJSON *root, pol_policy *p, sp_err *err)
{
    const cJSON *arr, *v;
    size_t n = 0, i = 0;
    sp_rc rc = kobj_get_array(root, "", "namespaces", &arr, err);

    if (rc || !arr)
        return rc;
    cJSON_ArrayForEach(v, arr)
        if (n++ >= POL_MAX_NAMESPACES)
            return sp_err_set(err, SP_ELIMIT, "namespaces: more than %d "
                              "entries; leave it empty to manage every "
                              "namespace", POL_MAX_NAMESPACES);
    p->namespaces = n ? sp_calloc(n, sizeof(char *)) : NULL;
    if (n && !p->namespaces)
        return sp_err_set(err, SP_ENOMEM, "namespaces: out of memory");
    cJSON_ArrayForEach(v, arr) {
        rc = read_namespace(v, i++, err);
        if (rc)
            return rc;
        if (listed(p->namespaces, p->n_namespaces, v->valuestring))
            continue;
        p->namespaces[p->n_namespaces] = sp_strdup(v->valuestring);
        if (!p->namespaces[p->n_namespaces])
            return sp_err_set(err, SP_ENOMEM, "namespaces: out of memory");
        p->n_namespaces++;
    }
    return SP_OK;
}

static const struct {
    const char *name;
    field_fn fn;
} fields[] = {
    { "tagLabelPrefix", f_tag_prefix },
    { "defaultHostPool", f_default_pool },
    { "isolationScope", f_isolation_scope },
    { "balancing", f_balancing },
    { "reservationTTLSeconds", f_reservation_ttl },
    { "schedulerName", f_scheduler_name },
    { "mode", f_mode },
    { "gangWait", f_gang_wait },
    { "namespaces", f_namespaces },
    { "releasedPlacementTTLSeconds", f_released_ttl },
};

#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

/* ------------------------------------------------------------------------ */
/* Unknown and repeated fields                                                */
/* ------------------------------------------------------------------------ */

/* Edit distance ignoring ASCII case, capped at 99 for long strings. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[64];

    if (la >= 63 || lb >= 63)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];

        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j], best = diag +
                (tolower((unsigned char)a[i - 1]) !=
                 tolower((unsigned char)b[j - 1]));

            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[lb];
}

static sp_rc unknown_field(const char *name, sp_err *err)
{
    char q[KOBJ_QUOTE_MAX], hint[96] = "", known[400];
    size_t best = 99, at = 0, o = 0;

    for (size_t i = 0; i < N_FIELDS; i++) {
        size_t d = distance(name, fields[i].name);
        int n = snprintf(known + o, sizeof(known) - o, "%s%s", i ? ", " : "",
                         fields[i].name);

        if (n > 0 && (size_t)n < sizeof(known) - o)
            o += (size_t)n;
        if (d < best) {
            best = d;
            at = i;
        }
    }
    if (best <= 3 && best * 3 <= strlen(fields[at].name) &&
        snprintf(hint, sizeof(hint), "did you mean \"%s\"? ",
                 fields[at].name) < 0)
        hint[0] = '\0';
    kobj_quote(name, q, sizeof(q));
    return sp_err_set(err, SP_EPARSE, "unknown field %s; %sthe fields are: %s",
                      q, hint, known);
}

/* Where a parse puts its errors: up to max of them, *n counting all. */
typedef struct errors {
    sp_err *v;
    size_t max, n;
    sp_rc first;               /* the code of the first error, SP_OK: none */
} errors;

static void add_error(errors *e, const sp_err *err)
{
    if (!e->first)
        e->first = err->rc;
    if (e->n < e->max)
        e->v[e->n] = *err;
    e->n++;
}

/* Refuse fields we do not know and fields given twice, each one. */
static void check_fields(const cJSON *root, errors *e)
{
    const char *seen[N_FIELDS] = { 0 };
    const cJSON *v;
    size_t i;

    cJSON_ArrayForEach(v, root) {
        sp_err err = { SP_OK, "" };

        for (i = 0; i < N_FIELDS; i++)
            if (v->string && sp_strcaseeq(v->string, fields[i].name))
                break;
        if (i == N_FIELDS)
            unknown_field(v->string ? v->string : "", &err);
        else if (seen[i])
            sp_err_set(&err, SP_EPARSE, "%s: given twice (as \"%s\" and \"%s\"); give it "
                       "once", fields[i].name, seen[i], v->string);
        else
            seen[i] = v->string;
        if (err.rc)
            add_error(e, &err);
    }
}

/* Read every known field into p, each error on its own. SP_ENOMEM stops. */
static sp_rc read_fields(const cJSON *root, pol_policy *p, errors *e)
{
    for (size_t i = 0; i < N_FIELDS; i++) {
        sp_err err = { SP_OK, "" };
        sp_rc rc = fields[i].fn(root, p, &err);

        if (rc == SP_ENOMEM)
            return rc;
        if (rc)
            add_error(e, &err);
    }
    return SP_OK;
}

/* ------------------------------------------------------------------------ */
/* The policy                                                                 */
/* ------------------------------------------------------------------------ */

sp_rc pol_default(pol_policy **out)
{
    pol_policy *p = sp_calloc(1, sizeof(*p));

    *out = NULL;
    if (!p)
        return SP_ENOMEM;
    p->tag_prefix = sp_strdup(PLACE_DEFAULT_TAG_PREFIX);
    if (!p->tag_prefix) {
        sp_free(p);
        return SP_ENOMEM;
    }
    p->isolation_scope = PLACE_ISOLATION_CLUSTER;
    p->balancing = PLACE_BALANCE_INSTANCE;
    p->reservation_ttl_s = POL_DEFAULT_RESERVATION_TTL;
    p->mode = POL_MODE_ENFORCE;
    p->released_ttl_s = POL_DEFAULT_RELEASED_TTL;
    *out = p;
    return SP_OK;
}

/* Parse a policy document, collecting every error in e; *out only when
 * there is none. */
static sp_rc parse(const char *json, size_t len, pol_policy **out, errors *e)
{
    pol_policy *p = NULL;
    cJSON *root = NULL;
    sp_err err = { SP_OK, "" };
    sp_rc rc = SP_OK;

    *out = NULL;
    if (len > POL_MAX_BYTES)
        sp_err_set(&err, SP_ELIMIT, "the policy is %zu bytes, more than the limit of %u",
                   len, POL_MAX_BYTES);
    else if (!kobj_parse_json(json, len, &root, &err) && !cJSON_IsObject(root))
        kobj_type_error(&err, "", "a JSON object of policy fields", root);
    if (err.rc) {
        add_error(e, &err);
        goto out;
    }
    check_fields(root, e);
    if ((rc = pol_default(&p)) || (rc = read_fields(root, p, e))) {
        sp_err_set(&err, rc, "out of memory reading the policy");
        add_error(e, &err);
        goto out;
    }
    if (!e->n) {
        *out = p;
        p = NULL;
    }
out:
    pol_free(p);
    cJSON_Delete(root);
    return e->first;
}

sp_rc pol_parse(const char *json, size_t len, pol_policy **out, sp_err *err)
{
    sp_err first = { SP_OK, "" };
    errors e = { &first, 1, 0, SP_OK };
    sp_rc rc = parse(json, len, out, &e);

    if (rc && err)
        *err = first;
    return rc;
}

sp_rc pol_check(const char *json, size_t len, sp_err *errs, size_t max, size_t *n_errs)
{
    errors e = { errs, max, 0, SP_OK };
    pol_policy *p = NULL;
    sp_rc rc = parse(json, len, &p, &e);

    pol_free(p);
    *n_errs = e.n;
    return rc;
}

void pol_free(pol_policy *p)
{
    if (!p)
        return;
    sp_free(p->tag_prefix);
    sp_free(p->default_pool);
    sp_free(p->scheduler_name);
    sp_strv_free(p->namespaces, p->n_namespaces);
    sp_free(p);
}

void pol_to_place(const pol_policy *p, place_policy *out)
{
    place_policy_default(out);
    out->tag_prefix = p->tag_prefix;
    out->default_pool = p->default_pool;
    out->isolation_scope = p->isolation_scope;
    out->balancing = p->balancing;
    out->gang_wait = p->gang_wait;
}

bool pol_namespace_managed(const pol_policy *p, const char *ns)
{
    if (!p || !p->n_namespaces)
        return true;
    return ns && listed(p->namespaces, p->n_namespaces, ns);
}
