/*
 * Tests of the admission webhook (webhook/): every captured AdmissionReview
 * in ../shared/fixtures/admission (or $SP_FIXTURES_DIR/admission; that part
 * skips when absent) replayed in both modes, in the order the cluster sent
 * them, with the effects applied to a state as the server would; exact
 * denial messages for pods and HostPools; malformed envelopes and requests;
 * audit mode; schedulerName; node affinity merged with existing affinity;
 * idempotence (the patch applied by a small JSONPatch applier, then the pod
 * mutated again yields no patch); unmanaged namespaces, other kinds and
 * subresources; DELETE and dry-run effects; UPDATE; the review in three
 * steps (wh_case), answered the same after the state is gone; and running
 * out of memory at every allocation.
 */
#include <dirent.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kobj/kobj.h"
#include "kobj/kobj_json.h"
#include "policy/pol.h"
#include "tests/test_util.h"
#include "util/sp_alloc.h"
#include "webhook/wh.h"
#include "webhook/wh_internal.h"

/* ------------------------------------------------------------------------ */
/* Helpers: JSON, policies, states                                            */
/* ------------------------------------------------------------------------ */

/* Parse JSON written with single quotes for readability. */
static cJSON *J(const char *text)
{
    size_t n = strlen(text);
    char *copy = sp_strdup(text);
    cJSON *root = NULL;
    sp_err err;

    CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
    for (size_t i = 0; i < n; i++)
        if (copy[i] == '\'')
            copy[i] = '"';
    if (kobj_parse_json(copy, n, &root, &err) != SP_OK)
        fprintf(stderr, "\n  bad test JSON: %s\n  %s\n", err.msg, copy);
    sp_free(copy);
    CU_ASSERT_PTR_NOT_NULL_FATAL(root);
    return root;
}

/* A policy from single-quoted JSON (NULL: defaults). */
static pol_policy *policy(const char *text)
{
    pol_policy *p = NULL;
    sp_err err;

    if (!text) {
        CU_ASSERT_EQUAL_FATAL(pol_default(&p), SP_OK);
        return p;
    }
    {
        cJSON *j = J(text);
        char *s = cJSON_PrintUnformatted(j);

        cJSON_Delete(j);
        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        if (pol_parse(s, strlen(s), &p, &err) != SP_OK)
            fprintf(stderr, "\n  bad test policy: %s\n", err.msg);
        cJSON_free(s);
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    return p;
}

static place_state *state_for(const pol_policy *pol)
{
    place_policy pp;
    place_state *st = NULL;

    if (pol)
        pol_to_place(pol, &pp);
    else
        place_policy_default(&pp);
    CU_ASSERT_EQUAL_FATAL(place_state_new(&pp, &st), SP_OK);
    return st;
}

/* An upsert carries its pod as the verdict converted it, which is the
 * object converted afresh; the other effects carry none. */
static void expect_carried_pod(const wh_effect *e, const kobj_pod *fresh)
{
    const place_pod_input *in = e->pod ? &e->pod->in : NULL;

    if (e->op != WH_POD_UPSERT) {
        CU_ASSERT_PTR_NULL(e->pod);
        return;
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(in);
    SP_ASSERT_STR(in->namespace_, fresh->in.namespace_);
    SP_ASSERT_STR(in->name, fresh->in.name);
    SP_ASSERT_STR(in->uid, fresh->in.uid);
    CU_ASSERT_EQUAL(in->n_labels, fresh->in.n_labels);
    CU_ASSERT_EQUAL(in->n_annotations, fresh->in.n_annotations);
    CU_ASSERT_EQUAL(in->n_tolerations, fresh->in.n_tolerations);
    CU_ASSERT(!memcmp(&in->requests, &fresh->in.requests, sizeof(in->requests)));
    CU_ASSERT_EQUAL(e->pod->terminal, fresh->terminal);
}

/* Record the effects of r in st, as the server does under its lock. */
static void apply_effects(place_state *st, const wh_result *r)
{
    for (size_t i = 0; i < r->n_effects; i++) {
        const wh_effect *e = &r->effects[i];
        sp_err err;

        sp_err_clear(&err);
        if (e->op == WH_POOL_UPSERT) {
            kobj_pool p;

            CU_ASSERT_EQUAL_FATAL(kobj_pool_from_json(e->object, NULL, &p, &err),
                                  SP_OK);
            CU_ASSERT_EQUAL(place_state_put_pool(st, &p.in, NULL, &err), SP_OK);
            kobj_pool_clear(&p);
        } else {
            kobj_pod p;

            CU_ASSERT_EQUAL_FATAL(kobj_pod_from_json(e->object, NULL, &p, &err),
                                  SP_OK);
            if (place_state_find_pe(st, p.in.uid) != PLACE_NONE)
                CU_ASSERT_EQUAL(place_state_remove_pod(st, p.in.uid), SP_OK);
            if (e->op == WH_POD_UPSERT)
                CU_ASSERT_EQUAL(place_state_add_pod(st, &p.in, NULL, &err), SP_OK);
            expect_carried_pod(e, &p);
            kobj_pod_clear(&p);
        }
    }
}

/* Decode standard base64 (test side: OpenSSL's decoder). */
static char *unbase64(const char *b64, size_t *len)
{
    size_t n = strlen(b64), pad = 0;
    char *out = sp_malloc(n / 4 * 3 + 4);
    int got;

    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    got = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)b64, (int)n);
    CU_ASSERT_FATAL(got >= 0);
    while (pad < 2 && n > pad && b64[n - 1 - pad] == '=')
        pad++;
    *len = (size_t)got - pad;
    out[*len] = '\0';
    return out;
}

/* ------------------------------------------------------------------------ */
/* Building AdmissionReviews                                                  */
/* ------------------------------------------------------------------------ */

/*
 * An AdmissionReview (text, caller frees with cJSON_free) for kind ("Pod",
 * "HostPool" or another), operation op, in namespace "streams", with the
 * object and old object given as single-quoted JSON (NULL: absent).
 */
static char *review_text(const char *kind, const char *op, const char *object,
                         const char *old)
{
    cJSON *root = J("{'kind':'AdmissionReview','apiVersion':'admission.k8s.io/v1',"
                    "'request':{'uid':'uid-1','namespace':'streams'}}");
    cJSON *req = cJSON_GetObjectItem(root, "request");
    const char *group = strcmp(kind, "HostPool") == 0 ? "placement.streams.io"
                                                      : "";
    cJSON *gvk = cJSON_AddObjectToObject(req, "kind");
    const cJSON *obj_name;
    char *text;

    cJSON_AddStringToObject(gvk, "group", group);
    cJSON_AddStringToObject(gvk, "version", *group ? "v1alpha1" : "v1");
    cJSON_AddStringToObject(gvk, "kind", kind);
    cJSON_AddStringToObject(req, "operation", op);
    if (object)
        cJSON_AddItemToObject(req, "object", J(object));
    if (old)
        cJSON_AddItemToObject(req, "oldObject", J(old));
    obj_name = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(req, object ? "object" : "oldObject"),
                            "metadata"),
        "name");
    if (cJSON_IsString(obj_name))
        cJSON_AddStringToObject(req, "name", obj_name->valuestring);
    text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    return text;
}

/* A PE pod (single-quoted JSON) of job/pe with annotations "'k':'v',..."
 * and extra spec fields "'f':v," in the static buffer buf. */
static const char *pe_pod(char *buf, size_t len, const char *name,
                          const char *job, const char *pe, const char *anns,
                          const char *spec_extra)
{
    int n = snprintf(buf, len,
                     "{'kind':'Pod','apiVersion':'v1','metadata':{'name':'%s',"
                     "'namespace':'streams','labels':{'streams.io/job':'%s',"
                     "'streams.io/pe':'%s'},'annotations':{%s}},'spec':{%s"
                     "'containers':[{'name':'pe','image':'x','resources':"
                     "{'requests':{'cpu':'100m','memory':'64Mi'}}}]}}",
                     name, job, pe, anns ? anns : "", spec_extra ? spec_extra : "");

    CU_ASSERT_FATAL(n > 0 && (size_t)n < len);
    return buf;
}

static const char *pool_obj(char *buf, size_t len, const char *name,
                            const char *spec)
{
    int n = snprintf(buf, len,
                     "{'apiVersion':'placement.streams.io/v1alpha1','kind':"
                     "'HostPool','metadata':{'name':'%s','namespace':'streams'},"
                     "'spec':{%s}}",
                     name, spec);

    CU_ASSERT_FATAL(n > 0 && (size_t)n < len);
    return buf;
}

/* ------------------------------------------------------------------------ */
/* Running a review                                                           */
/* ------------------------------------------------------------------------ */

typedef struct rv {
    wh_result r;
    cJSON *body;        /* the parsed response body */
    cJSON *resp;        /* body.response */
    cJSON *patch;       /* the decoded patch, or NULL */
} rv;

/* Check what every 200 answer must hold, and decode the patch. */
static void check_answer(rv *v, const char *text)
{
    cJSON *req_root = cJSON_Parse(text);
    const cJSON *req = cJSON_GetObjectItem(req_root, "request");
    const cJSON *allowed, *status, *pt, *patch;
    const char *api, *kind;

    v->resp = cJSON_GetObjectItem(v->body, "response");
    CU_ASSERT_PTR_NOT_NULL_FATAL(v->resp);
    api = cJSON_GetStringValue(cJSON_GetObjectItem(req_root, "apiVersion"));
    kind = cJSON_GetStringValue(cJSON_GetObjectItem(req_root, "kind"));
    SP_ASSERT_STR(cJSON_GetStringValue(cJSON_GetObjectItem(v->body, "apiVersion")),
                  api ? api : "admission.k8s.io/v1");
    SP_ASSERT_STR(cJSON_GetStringValue(cJSON_GetObjectItem(v->body, "kind")),
                  kind ? kind : "AdmissionReview");
    SP_ASSERT_STR(cJSON_GetStringValue(cJSON_GetObjectItem(v->resp, "uid")),
                  cJSON_GetStringValue(cJSON_GetObjectItem(req, "uid")));
    allowed = cJSON_GetObjectItem(v->resp, "allowed");
    CU_ASSERT_TRUE(cJSON_IsBool(allowed));
    CU_ASSERT_EQUAL(cJSON_IsTrue(allowed), v->r.allowed);
    status = cJSON_GetObjectItem(v->resp, "status");
    CU_ASSERT_EQUAL(status != NULL, !v->r.allowed);
    if (status) {
        CU_ASSERT_TRUE(cJSON_IsNumber(cJSON_GetObjectItem(status, "code")));
        CU_ASSERT_TRUE(cJSON_IsString(cJSON_GetObjectItem(status, "message")));
    }
    pt = cJSON_GetObjectItem(v->resp, "patchType");
    patch = cJSON_GetObjectItem(v->resp, "patch");
    CU_ASSERT_EQUAL(pt != NULL, patch != NULL);
    if (patch) {
        size_t len;
        char *raw = unbase64(patch->valuestring, &len);

        SP_ASSERT_STR(pt->valuestring, "JSONPatch");
        CU_ASSERT_TRUE(v->r.allowed);
        v->patch = cJSON_Parse(raw);
        CU_ASSERT_TRUE_FATAL(cJSON_IsArray(v->patch));
        CU_ASSERT_TRUE(cJSON_GetArraySize(v->patch) > 0);
        sp_free(raw);
    }
    cJSON_Delete(req_root);
}

/* Review text (len bytes) and check the answer's shape. */
static void run_len(rv *v, const place_state *st, const pol_policy *pol,
                    wh_mode mode, const char *text, size_t len)
{
    memset(v, 0, sizeof(*v));
    CU_ASSERT_EQUAL_FATAL(wh_review(st, pol, mode, text, len, &v->r), SP_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v->r.body);
    CU_ASSERT_EQUAL(strlen(v->r.body), v->r.len);
    v->body = cJSON_Parse(v->r.body);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v->body);
    if (v->r.http_status == 200)
        check_answer(v, text);
    else
        CU_ASSERT_FALSE(v->r.allowed);
    if (mode == WH_MUTATE || !v->r.allowed)
        CU_ASSERT_EQUAL(v->r.n_effects, 0);
}

static void run(rv *v, const place_state *st, const pol_policy *pol,
                wh_mode mode, const char *text)
{
    run_len(v, st, pol, mode, text, strlen(text));
}

static void rv_free(rv *v)
{
    wh_result_free(&v->r);
    cJSON_Delete(v->body);
    cJSON_Delete(v->patch);
    memset(v, 0, sizeof(*v));
}

/* Review a built request (freeing the text). */
static void run_review(rv *v, const place_state *st, const pol_policy *pol,
                       wh_mode mode, char *text)
{
    run(v, st, pol, mode, text);
    cJSON_free(text);
}

static const char *rv_message(const rv *v)
{
    return cJSON_GetStringValue(cJSON_GetObjectItem(
        cJSON_GetObjectItem(v->resp, "status"), "message"));
}

static int rv_code(const rv *v)
{
    return cJSON_GetObjectItem(cJSON_GetObjectItem(v->resp, "status"), "code")
        ->valueint;
}

static int rv_n_warnings(const rv *v)
{
    return cJSON_GetArraySize(cJSON_GetObjectItem(v->resp, "warnings"));
}

static const char *rv_warning(const rv *v, int i)
{
    return cJSON_GetStringValue(
        cJSON_GetArrayItem(cJSON_GetObjectItem(v->resp, "warnings"), i));
}

/* The 400 answer's {"error": ...}. */
static const char *rv_error(const rv *v)
{
    CU_ASSERT_EQUAL(v->r.http_status, 400);
    return cJSON_GetStringValue(cJSON_GetObjectItem(v->body, "error"));
}

/* Assert that v's patch equals the single-quoted JSON array expected. */
static void assert_patch(const rv *v, const char *expected)
{
    cJSON *want = J(expected);
    int same = v->patch && cJSON_Compare(v->patch, want, true);

    if (!same) {
        char *got = v->patch ? cJSON_PrintUnformatted(v->patch) : NULL;
        char *exp = cJSON_PrintUnformatted(want);

        fprintf(stderr, "\n  expected patch: %s\n  actual patch:   %s\n", exp,
                got ? got : "(none)");
        cJSON_free(got);
        cJSON_free(exp);
    }
    CU_ASSERT_TRUE(same);
    cJSON_Delete(want);
}

/* ------------------------------------------------------------------------ */
/* A small JSONPatch applier (add and replace, as the webhook writes them)   */
/* ------------------------------------------------------------------------ */

/* The next reference token of *p (unescaped) in tok; false at the end. */
static bool next_token(const char **p, char *tok, size_t len)
{
    size_t o = 0;

    if (**p != '/')
        return false;
    for ((*p)++; **p && **p != '/'; (*p)++) {
        char c = **p;

        if (c == '~') {
            (*p)++;
            CU_ASSERT_FATAL(**p == '0' || **p == '1');
            c = **p == '0' ? '~' : '/';
        }
        CU_ASSERT_FATAL(o + 1 < len);
        tok[o++] = c;
    }
    tok[o] = '\0';
    return true;
}

/* An array index token. */
static int index_of(const char *tok)
{
    char *end;
    long i = strtol(tok, &end, 10);

    CU_ASSERT_FATAL(*tok && *end == '\0' && i >= 0 && i < 1000000);
    return (int)i;
}

/* Apply one operation to doc (exact member names, as RFC 6901 says). */
static void apply_op(cJSON *doc, const cJSON *op)
{
    const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(op, "op"));
    const char *p = cJSON_GetStringValue(cJSON_GetObjectItem(op, "path"));
    cJSON *value = cJSON_Duplicate(cJSON_GetObjectItem(op, "value"), true);
    cJSON *parent = NULL, *cur = doc;
    char tok[512];
    bool replace;

    CU_ASSERT_PTR_NOT_NULL_FATAL(kind);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(value);
    replace = strcmp(kind, "replace") == 0;
    CU_ASSERT_FATAL(replace || strcmp(kind, "add") == 0);
    while (next_token(&p, tok, sizeof(tok))) {
        parent = cur;
        CU_ASSERT_PTR_NOT_NULL_FATAL(parent);
        if (*p == '\0')
            break;
        cur = cJSON_IsArray(parent) ? cJSON_GetArrayItem(parent, index_of(tok))
                                    : cJSON_GetObjectItemCaseSensitive(parent, tok);
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(parent);
    if (cJSON_IsArray(parent)) {
        int i = strcmp(tok, "-") == 0 ? cJSON_GetArraySize(parent) : index_of(tok);

        CU_ASSERT_FATAL(i <= cJSON_GetArraySize(parent));
        cJSON_bool ok;

        if (replace)
            ok = cJSON_ReplaceItemInArray(parent, i, value);
        else if (i == cJSON_GetArraySize(parent))
            ok = cJSON_AddItemToArray(parent, value);
        else
            ok = cJSON_InsertItemInArray(parent, i, value);
        CU_ASSERT_FATAL(ok);
        return;
    }
    CU_ASSERT_FATAL(cJSON_IsObject(parent));
    if (cJSON_GetObjectItemCaseSensitive(parent, tok)) {
        CU_ASSERT_FATAL(cJSON_ReplaceItemInObjectCaseSensitive(parent, tok, value));
    } else {
        CU_ASSERT_FATAL(!replace);      /* replace needs the member */
        CU_ASSERT_FATAL(cJSON_AddItemToObject(parent, tok, value));
    }
}

/* The object (single-quoted JSON) with patch applied, as text to free. */
static char *patched(const char *object, const cJSON *patch)
{
    cJSON *doc = J(object);
    const cJSON *op;
    char *text;

    cJSON_ArrayForEach(op, patch)
        apply_op(doc, op);
    text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    for (char *c = text; c && *c; c++)   /* back to the quotes J reads */
        if (*c == '"')
            *c = '\'';
    return text;
}

/* ------------------------------------------------------------------------ */
/* The captured fixtures                                                      */
/* ------------------------------------------------------------------------ */

static char fixtures[1024];

/* The fixtures folder into fixtures; false when absent. */
static bool find_fixtures(void)
{
    return sp_test_fixtures(fixtures, sizeof(fixtures));
}

#define NEED_FIXTURES()                                                      \
    do {                                                                     \
        if (!find_fixtures()) {                                              \
            fprintf(stderr, " (fixtures not found: skipped) ");              \
            return;                                                          \
        }                                                                    \
    } while (0)

/* The text of admission/name (caller frees with sp_free). */
static char *fixture_text(const char *name, size_t *len)
{
    char path[1200];
    char *data = NULL;
    sp_err err;

    CU_ASSERT_FATAL(snprintf(path, sizeof(path), "%s/admission/%s", fixtures,
                             name) > 0);
    if (kobj_read_file(path, KOBJ_FILE_MAX, &data, len, &err))
        fprintf(stderr, "\n  %s: %s\n", path, err.msg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(data);
    return data;
}

static void replay(rv *v, const place_state *st, const pol_policy *pol,
                   wh_mode mode, const char *name)
{
    size_t len;
    char *text = fixture_text(name, &len);

    run_len(v, st, pol, mode, text, len);
    sp_free(text);
    CU_ASSERT_EQUAL(v->r.http_status, 200);
}

/* The metadata.name of effect i of v. */
static const char *effect_name(const rv *v, size_t i)
{
    CU_ASSERT_FATAL(i < v->r.n_effects);
    return cJSON_GetStringValue(cJSON_GetObjectItem(
        cJSON_GetObjectItem(v->r.effects[i].object, "metadata"), "name"));
}

/* Validate name: allowed, one effect of op for object oname; applied. */
static void validate_and_apply(place_state *st, const pol_policy *pol,
                               const char *name, wh_effect_op op,
                               const char *oname)
{
    rv v;

    replay(&v, st, pol, WH_VALIDATE, name);
    CU_ASSERT_TRUE(v.r.allowed);
    CU_ASSERT_PTR_NULL(v.patch);
    CU_ASSERT_EQUAL(rv_n_warnings(&v), 0);
    CU_ASSERT_EQUAL_FATAL(v.r.n_effects, 1);
    CU_ASSERT_EQUAL(v.r.effects[0].op, op);
    SP_ASSERT_STR(effect_name(&v, 0), oname);
    apply_effects(st, &v.r);
    rv_free(&v);
}

/* Mutate name: allowed, no effects, no warnings; the patch (NULL: none). */
static void mutate_expect(const place_state *st, const pol_policy *pol,
                          const char *name, const char *patch)
{
    rv v;

    replay(&v, st, pol, WH_MUTATE, name);
    CU_ASSERT_TRUE(v.r.allowed);
    CU_ASSERT_EQUAL(rv_n_warnings(&v), 0);
    if (patch)
        assert_patch(&v, patch);
    else
        CU_ASSERT_PTR_NULL(v.patch);
    rv_free(&v);
}

#define AFFINITY_OF(tag)                                                     \
    "[{'op':'add','path':'/spec/affinity','value':{'nodeAffinity':"          \
    "{'requiredDuringSchedulingIgnoredDuringExecution':{'nodeSelectorTerms':" \
    "[{'matchExpressions':[{'key':'tag.streams.io/" tag "','operator':"      \
    "'Exists'}]}]}}}}]"

/* The cluster's own sequence: pools, then each pod mutated and validated,
 * the pool resized, a pod force-deleted (two DELETE reviews). */
static void t_fixture_sequence(void)
{
    pol_policy *pol;
    place_state *st;
    place_pool_info info;
    rv v;

    NEED_FIXTURES();
    pol = policy(NULL);
    st = state_for(pol);
    validate_and_apply(st, pol, "validate-create-hostpool-ingest.json",
                       WH_POOL_UPSERT, "ingest");
    validate_and_apply(st, pol, "validate-create-hostpool-any-ssd.json",
                       WH_POOL_UPSERT, "any-ssd");
    mutate_expect(st, pol, "mutate-create-pod-job1-pe0.json", AFFINITY_OF("ingest"));
    validate_and_apply(st, pol, "validate-create-pod-job1-pe0.json",
                       WH_POD_UPSERT, "job1-pe0");
    mutate_expect(st, pol, "mutate-create-pod-job1-pe1.json", NULL);
    validate_and_apply(st, pol, "validate-create-pod-job1-pe1.json",
                       WH_POD_UPSERT, "job1-pe1");
    mutate_expect(st, pol, "mutate-create-pod-job1-pe2.json", AFFINITY_OF("ssd"));
    validate_and_apply(st, pol, "validate-create-pod-job1-pe2.json",
                       WH_POD_UPSERT, "job1-pe2");
    mutate_expect(st, pol, "mutate-create-pod-generatename-job1-pe3.json", NULL);
    validate_and_apply(st, pol, "validate-create-pod-job1-pe3.json",
                       WH_POD_UPSERT, "job1-pe3-s9q99");
    CU_ASSERT_NOT_EQUAL(place_state_find_pe(st, "2816c867-cc47-4411-8829-b47d6eb544bb"),
                        PLACE_NONE);
    validate_and_apply(st, pol, "validate-update-hostpool-any-ssd.json",
                       WH_POOL_UPSERT, "any-ssd");
    place_pool_get(st, place_state_find_pool(st, "streams", "any-ssd"), &info);
    CU_ASSERT_EQUAL(info.size, 3);
    validate_and_apply(st, pol, "validate-delete-pod-job1-pe2.json",
                       WH_POD_DELETE, "job1-pe2");
    CU_ASSERT_EQUAL(place_state_find_pe(st, "2816c867-cc47-4411-8829-b47d6eb544bb"),
                    PLACE_NONE);
    /* the second DELETE of a forced delete is answered the same way */
    validate_and_apply(st, pol, "validate-delete-pod-job1-pe2-again.json",
                       WH_POD_DELETE, "job1-pe2");
    /* mutate never records anything, and deletes get no patch */
    replay(&v, st, pol, WH_MUTATE, "validate-delete-pod-job1-pe2.json");
    CU_ASSERT_TRUE(v.r.allowed);
    CU_ASSERT_PTR_NULL(v.patch);
    rv_free(&v);
    place_state_free(st);
    pol_free(pol);
}

/* Every fixture there is, in both modes, into an empty state: all are
 * valid, so all are allowed with the request's uid, apiVersion and kind. */
static void t_fixture_every(void)
{
    pol_policy *pol;
    place_state *st;
    struct dirent *e;
    char dir[1100];
    DIR *d;
    int count = 0;

    NEED_FIXTURES();
    pol = policy(NULL);
    st = state_for(pol);
    CU_ASSERT_FATAL(snprintf(dir, sizeof(dir), "%s/admission", fixtures) > 0);
    d = opendir(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);

        if (n < 5 || strcmp(e->d_name + n - 5, ".json") != 0)
            continue;
        for (int m = 0; m < 2; m++) {
            rv v;

            replay(&v, st, pol, m ? WH_MUTATE : WH_VALIDATE, e->d_name);
            if (!v.r.allowed)
                fprintf(stderr, "\n  %s: %s\n", e->d_name, rv_message(&v));
            CU_ASSERT_TRUE(v.r.allowed);
            CU_ASSERT_EQUAL(v.r.n_effects, m ? 0u : 1u);
            rv_free(&v);
        }
        count++;
    }
    closedir(d);
    CU_ASSERT_TRUE(count >= 13);
    place_state_free(st);
    pol_free(pol);
}

/* Without its pool in the state, job1-pe0 is admitted with a warning. */
static void t_fixture_pool_missing(void)
{
    pol_policy *pol;
    place_state *st;
    rv v;

    NEED_FIXTURES();
    pol = policy(NULL);
    st = state_for(pol);
    replay(&v, st, pol, WH_MUTATE, "mutate-create-pod-job1-pe0.json");
    CU_ASSERT_TRUE(v.r.allowed);
    CU_ASSERT_PTR_NULL(v.patch);
    CU_ASSERT_EQUAL(rv_n_warnings(&v), 1);
    SP_ASSERT_STR(rv_warning(&v, 0),
                  "pod streams/job1-pe0: HostPool 'ingest' (from annotation "
                  "streams.io/host-pool) does not exist in namespace 'streams' "
                  "yet: the pod stays Pending until it is created");
    rv_free(&v);
    /* no state at all: parse checks only, no pool lookups */
    replay(&v, NULL, NULL, WH_MUTATE, "mutate-create-pod-job1-pe0.json");
    CU_ASSERT_TRUE(v.r.allowed);
    CU_ASSERT_PTR_NULL(v.patch);
    CU_ASSERT_EQUAL(rv_n_warnings(&v), 0);
    rv_free(&v);
    place_state_free(st);
    pol_free(pol);
}

/* ------------------------------------------------------------------------ */
/* Denials                                                                    */
/* ------------------------------------------------------------------------ */

/* The denial of a pod CREATE with annotations anns (validate and mutate
 * agree), and its code. */
static void pod_denied(const place_state *st, const char *anns,
                       const char *expected, int code)
{
    char obj[4096];

    pe_pod(obj, sizeof(obj), "job1-pe0", "job1", "0", anns, NULL);
    for (int m = 0; m < 2; m++) {
        rv v;

        run_review(&v, st, NULL, m ? WH_MUTATE : WH_VALIDATE,
                   review_text("Pod", "CREATE", obj, NULL));
        CU_ASSERT_FALSE(v.r.allowed);
        CU_ASSERT_EQUAL(v.r.http_status, 200);
        SP_ASSERT_STR(rv_message(&v), expected);
        CU_ASSERT_EQUAL(rv_code(&v), code);
        CU_ASSERT_PTR_NULL(v.patch);
        rv_free(&v);
    }
}

static void t_pod_denials(void)
{
    pod_denied(NULL, "'streams.io/host-isolation':'maybe'",
               "pod streams/job1-pe0: annotation streams.io/host-isolation: "
               "\"maybe\" is not a boolean: use \"true\" or \"false\"", 403);
    pod_denied(NULL, "'streams.io/host-isolation':'true','streams.io/host-colocation':'c1'",
               "pod streams/job1-pe0: annotations streams.io/host-isolation and "
               "streams.io/host-colocation conflict: an isolated PE runs alone on "
               "its node, so it cannot be colocated; remove one of them", 403);
    pod_denied(NULL, "'streams.io/host-pool-index':'0'",
               "pod streams/job1-pe0: annotation streams.io/host-pool-index needs "
               "streams.io/host-pool: name the sized HostPool to index", 403);
    pod_denied(NULL, "'streams.io/host-pool':'p','streams.io/host-pool-index':'-1'",
               "pod streams/job1-pe0: annotation streams.io/host-pool-index: -1 is "
               "out of range: use 0 <= index < the pool's size", 403);
    pod_denied(NULL, "'streams.io/host-pool':'p','streams.io/host-pool-index':'one'",
               "pod streams/job1-pe0: annotation streams.io/host-pool-index: "
               "\"one\" is not an integer: use 0 <= index < the pool's size", 403);
    pod_denied(NULL, "'streams.io/host-pool':'Bad_Pool'",
               "pod streams/job1-pe0: annotation streams.io/host-pool: \"Bad_Pool\" "
               "is not a valid HostPool name: use lowercase letters, digits, '-' "
               "and '.', starting and ending with a letter or digit", 403);
    pod_denied(NULL, "'streams.io/host-colocation':'a,,b'",
               "pod streams/job1-pe0: annotation streams.io/host-colocation: "
               "\"a,,b\" has an empty id at position 2: use comma-separated ids "
               "such as \"a,b\"", 403);
    pod_denied(NULL, "'streams.io/host-exlocation':'-bad'",
               "pod streams/job1-pe0: annotation streams.io/host-exlocation: id "
               "\"-bad\" is malformed: use 1-63 letters, digits, '-', '_' or '.', "
               "starting and ending with a letter or digit", 403);
    pod_denied(NULL, "'streams.io/job-pe-count':'0'",
               "pod streams/job1-pe0: annotation streams.io/job-pe-count: \"0\" is "
               "not a PE count: use an integer from 1 to 1000000", 403);
    pod_denied(NULL, "'streams.io/relocatable':'no'",
               "pod streams/job1-pe0: annotation streams.io/relocatable: \"no\" is "
               "not a boolean: use \"true\" or \"false\"", 403);
    /* what the JSON edge cannot read is a malformed request */
    pod_denied(NULL, "'streams.io/host-isolation':7",
               "pod streams/job1-pe0: metadata.annotations[\"streams.io/"
               "host-isolation\"]: must be a string, got a number (7)", 400);
}

static void t_pod_label_denials(void)
{
    rv v;

    run_review(&v, NULL, NULL, WH_VALIDATE,
               review_text("Pod", "CREATE",
                           "{'metadata':{'name':'p','labels':{'streams.io/job':"
                           "'job1'}},'spec':{}}", NULL));
    SP_ASSERT_STR(rv_message(&v),
                  "pod streams/p: label streams.io/pe is missing: every PE pod "
                  "carries streams.io/job and streams.io/pe");
    CU_ASSERT_EQUAL(rv_code(&v), 403);
    rv_free(&v);
    run_review(&v, NULL, NULL, WH_VALIDATE,
               review_text("Pod", "CREATE",
                           "{'metadata':{'name':'p','labels':{'streams.io/job':"
                           "'job 1','streams.io/pe':'0'}},'spec':{}}", NULL));
    SP_ASSERT_STR(rv_message(&v),
                  "pod streams/p: label streams.io/job: \"job 1\" is malformed: use "
                  "1-63 letters, digits, '-', '_' or '.', starting and ending with "
                  "a letter or digit");
    rv_free(&v);
    /* label keys are case-sensitive: this is not a PE pod */
    run_review(&v, NULL, NULL, WH_VALIDATE,
               review_text("Pod", "CREATE",
                           "{'metadata':{'name':'p','labels':{'Streams.io/job':"
                           "'job 1'}},'spec':{}}", NULL));
    CU_ASSERT_TRUE(v.r.allowed);
    CU_ASSERT_EQUAL(v.r.n_effects, 0);
    rv_free(&v);
}

/* Add a PE pod to st through the validating webhook. */
static void admit_pe(place_state *st, const char *name, const char *pe,
                     const char *anns)
{
    char obj[4096];
    rv v;

    pe_pod(obj, sizeof(obj), name, "job1", pe, anns, NULL);
    run_review(&v, st, NULL, WH_VALIDATE, review_text("Pod", "CREATE", obj, NULL));
    CU_ASSERT_TRUE_FATAL(v.r.allowed);
    apply_effects(st, &v.r);
    rv_free(&v);
}

/* Colocation and exlocation that contradict the job's existing PEs. */
static void t_pod_contradiction(void)
{
    pol_policy *pol = policy(NULL);
    place_state *st = state_for(pol);
    char obj[4096];
    rv v;

    admit_pe(st, "job1-pe0", "0", "'streams.io/host-colocation':'c1'");
    admit_pe(st, "job1-pe1", "1",
             "'streams.io/host-colocation':'c1','streams.io/host-exlocation':'x1'");
    pod_denied(st, "'streams.io/host-colocation':'c1','streams.io/host-exlocation':'x1'",
               "pod streams/job1-pe0: PE job1/0: annotation streams.io/"
               "host-colocation puts PEs job1/0 and job1/1 on one node but "
               "hostExlocation 'x1' keeps them apart: remove the shared "
               "colocation or the exlocation id", 403);
    /* another job is not affected */
    pe_pod(obj, sizeof(obj), "job2-pe4", "job2", "4",
           "'streams.io/host-colocation':'c1','streams.io/host-exlocation':'x1'", NULL);
    run_review(&v, st, pol, WH_VALIDATE, review_text("Pod", "CREATE", obj, NULL));
    CU_ASSERT_TRUE(v.r.allowed);
    rv_free(&v);
    place_state_free(st);
    pol_free(pol);
}

/* The denial of a HostPool CREATE with spec, under pol. */
static void pool_denied(const pol_policy *pol, const char *spec,
                        const char *expected, int code)
{
    char obj[4096];

    pool_obj(obj, sizeof(obj), "p", spec);
    for (int m = 0; m < 2; m++) {
        rv v;

        run_review(&v, NULL, pol, m ? WH_MUTATE : WH_VALIDATE,
                   review_text("HostPool", "CREATE", obj, NULL));
        CU_ASSERT_FALSE(v.r.allowed);
        SP_ASSERT_STR(rv_message(&v), expected);
        CU_ASSERT_EQUAL(rv_code(&v), code);
        rv_free(&v);
    }
}

static void t_pool_denials(void)
{
    pol_policy *custom = policy("{'tagLabelPrefix':'example.com/'}");
    char obj[4096];
    rv v;

    pool_denied(NULL, "",
                "hostpool streams/p: spec: a HostPool needs spec.tags or "
                "spec.hosts: name node tags (labels tag.streams.io/<tag>) or list "
                "node names", 403);
    pool_denied(custom, "'size':2",
                "hostpool streams/p: spec: a HostPool needs spec.tags or "
                "spec.hosts: name node tags (labels example.com/<tag>) or list "
                "node names", 403);
    pool_denied(NULL, "'tags':['ssd'],'size':0",
                "hostpool streams/p: spec.size: 0 is invalid: a sized pool needs "
                "1 <= size <= 100000 (omit size for a pool of every matching node)",
                403);
    pool_denied(NULL, "'hosts':['a','b'],'size':3",
                "hostpool streams/p: spec.size: 3 is larger than the 2 hosts in "
                "spec.hosts: lower spec.size or add hosts", 403);
    pool_denied(NULL, "'tags':['ssd'],'size':1,'exclusive':true",
                "hostpool streams/p: spec.exclusive: an exclusive pool needs "
                "spec.job: name the job that owns it (a pool without a job is "
                "shared)", 403);
    pool_denied(NULL, "'tags':['a b']",
                "hostpool streams/p: spec.tags[0]: \"a b\" is not a valid tag: the "
                "node label \"tag.streams.io/a b\" would be invalid; use 1-63 "
                "letters, digits, '-', '_' or '.', starting and ending with a "
                "letter or digit", 403);
    pool_denied(NULL, "'tags':['ssd'],'size':'3'",
                "hostpool streams/p: spec.size: must be an integer, got a string "
                "(\"3\")", 400);
    /* a valid pool: allowed, recorded, never patched */
    pool_obj(obj, sizeof(obj), "p", "'tags':['ssd'],'size':2,'job':'j',"
                                    "'exclusive':true");
    run_review(&v, NULL, custom, WH_MUTATE, review_text("HostPool", "CREATE", obj, NULL));
    CU_ASSERT_TRUE(v.r.allowed);
    CU_ASSERT_PTR_NULL(v.patch);
    rv_free(&v);
    pol_free(custom);
}

/* ------------------------------------------------------------------------ */
/* Malformed input                                                            */
/* ------------------------------------------------------------------------ */

/* Not even a uid: HTTP 400 with {"error": expected}. */
static void bad_envelope(const char *text, size_t len, const char *expected)
{
    rv v;

    run_len(&v, NULL, NULL, WH_VALIDATE, text, len);
    SP_ASSERT_STR(rv_error(&v), expected);
    CU_ASSERT_FALSE(v.r.allowed);
    CU_ASSERT_EQUAL(v.r.n_effects, 0);
    rv_free(&v);
}

#define BAD(text, expected) bad_envelope(text, strlen(text), expected)

static void t_malformed_envelope(void)
{
    static const char nul[] = "{\"request\":{\"uid\":\"u\"}}\0x";
    wh_result r;

    BAD("", "not JSON: the input is empty");
    BAD("not json", "not JSON: syntax error at line 1, column 1");
    BAD("{\"request\":\n{\"uid\": }}", "not JSON: syntax error at line 2, column 9");
    BAD("{\"request\":{\"uid\":\"u\"}} x", "not JSON: syntax error at line 1, column 25");
    /* where it is in the body, also after a managedFields array cut out */
    BAD("{\"managedFields\":[{\"a\":\n1}],\n\"request\": x}",
        "not JSON: syntax error at line 3, column 12");
    bad_envelope(nul, sizeof(nul) - 1, "not JSON: it contains a NUL byte");
    BAD("[]", "must be an AdmissionReview object, got an array");
    BAD("\"review\"", "must be an AdmissionReview object, got a string (\"review\")");
    BAD("{}", "request: missing: an AdmissionReview to answer carries the request");
    BAD("{\"request\":null}",
        "request: missing: an AdmissionReview to answer carries the request");
    BAD("{\"request\":5}", "request: must be an object, got a number (5)");
    BAD("{\"request\":{}}",
        "request.uid: missing: the response must carry the request's uid");
    BAD("{\"request\":{\"uid\":\"\"}}",
        "request.uid: missing: the response must carry the request's uid");
    BAD("{\"request\":{\"uid\":7}}", "request.uid: must be a string, got a number (7)");
    BAD("{\"kind\":\"Pod\",\"request\":{\"uid\":\"u\"}}",
        "kind: must be \"AdmissionReview\", got a string (\"Pod\")");
    BAD("{\"kind\":[],\"request\":{\"uid\":\"u\"}}",
        "kind: must be a string, got an array");
    BAD("{\"apiVersion\":\"v1\",\"request\":{\"uid\":\"u\"}}",
        "apiVersion: must be \"admission.k8s.io/v1\", got a string (\"v1\")");
    /* a NULL body is an empty one */
    memset(&r, 0, sizeof(r));
    CU_ASSERT_EQUAL(wh_review(NULL, NULL, WH_VALIDATE, NULL, 0, &r), SP_OK);
    CU_ASSERT_EQUAL(r.http_status, 400);
    SP_ASSERT_CONTAINS(r.body, "the input is empty");
    wh_result_free(&r);
    wh_result_free(NULL);
}

/* A uid but a malformed request: allowed false, code 400, the message. */
static void bad_request(const char *text, const char *expected)
{
    rv v;

    run(&v, NULL, NULL, WH_VALIDATE, text);
    CU_ASSERT_EQUAL(v.r.http_status, 200);
    CU_ASSERT_FALSE(v.r.allowed);
    SP_ASSERT_STR(rv_message(&v), expected);
    CU_ASSERT_EQUAL(rv_code(&v), 400);
    rv_free(&v);
}

#define POD_KIND "\"kind\":{\"group\":\"\",\"version\":\"v1\",\"kind\":\"Pod\"}"

static void t_malformed_request(void)
{
    bad_request("{\"request\":{\"uid\":\"u\",\"kind\":\"Pod\"}}",
                "request.kind: must be an object, got a string (\"Pod\")");
    bad_request("{\"request\":{\"uid\":\"u\",\"kind\":{\"kind\":3}}}",
                "request.kind.kind: must be a string, got a number (3)");
    bad_request("{\"request\":{\"uid\":\"u\"," POD_KIND "}}",
                "request.operation: must be CREATE, UPDATE, DELETE or CONNECT, "
                "got null");
    bad_request("{\"request\":{\"uid\":\"u\"," POD_KIND ",\"operation\":\"PATCH\"}}",
                "request.operation: must be CREATE, UPDATE, DELETE or CONNECT, "
                "got a string (\"PATCH\")");
    bad_request("{\"request\":{\"uid\":\"u\"," POD_KIND ",\"operation\":\"CREATE\","
                "\"namespace\":\"streams\"}}",
                "pod streams/(unnamed): request.object: missing: a CREATE review "
                "must carry the pod");
    bad_request("{\"request\":{\"uid\":\"u\"," POD_KIND ",\"operation\":\"UPDATE\","
                "\"name\":\"p\",\"object\":null}}",
                "pod p: request.object: missing: an UPDATE review must carry the "
                "pod");
    bad_request("{\"request\":{\"uid\":\"u\"," POD_KIND ",\"operation\":\"CREATE\","
                "\"object\":\"x\"}}",
                "request.object: must be an object, got a string (\"x\")");
    bad_request("{\"request\":{\"uid\":\"u\"," POD_KIND ",\"operation\":\"CREATE\","
                "\"object\":[1]}}",
                "request.object: must be an object, got an array");
    bad_request("{\"request\":{\"uid\":\"u\"," POD_KIND ",\"operation\":\"CREATE\","
                "\"namespace\":\"ns\",\"object\":{\"metadata\":\"x\"}}}",
                "pod ns/(unnamed): metadata: must be an object, got a string "
                "(\"x\")");
    bad_request("{\"request\":{\"uid\":\"u\"," POD_KIND ",\"operation\":\"CREATE\","
                "\"namespace\":\"ns\",\"object\":{\"metadata\":{\"name\":\"p\","
                "\"labels\":[]}}}}",
                "pod ns/p: metadata.labels: must be an object, got an array");
    bad_request("{\"request\":{\"uid\":\"u\"," POD_KIND ",\"operation\":\"CREATE\","
                "\"object\":{\"metadata\":{\"name\":\"p\",\"labels\":"
                "{\"streams.io/job\":\"j\",\"streams.io/pe\":\"0\"}}}}}",
                "pod p: metadata.namespace: missing; give the object's namespace");
    bad_request("{\"request\":{\"uid\":\"u\"," POD_KIND ",\"operation\":\"CREATE\","
                "\"namespace\":\"ns\",\"dryRun\":\"yes\",\"object\":{}}}",
                "request.dryRun: must be true or false, got a string (\"yes\")");
    bad_request("{\"request\":{\"uid\":\"u\",\"kind\":{\"group\":\"placement.streams.io\","
                "\"kind\":\"HostPool\"},\"operation\":\"CREATE\",\"namespace\":\"ns\","
                "\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"}}}}",
                "hostpool ns/p: kind: must be \"HostPool\", got a string (\"Pod\")");
}

/* Field names match case-insensitively; apiVersion and kind are echoed. */
static void t_case_and_versions(void)
{
    rv v;

    run(&v, NULL, NULL, WH_VALIDATE,
        "{\"APIVERSION\":\"admission.k8s.io/v1beta1\",\"Kind\":\"AdmissionReview\","
        "\"Request\":{\"UID\":\"u-9\",\"Kind\":{\"Kind\":\"Pod\"},\"Operation\":"
        "\"CREATE\",\"Namespace\":\"ns\",\"Object\":{\"Metadata\":{\"Name\":\"p\","
        "\"Labels\":{\"streams.io/job\":\"j\",\"streams.io/pe\":\"0\"},"
        "\"Annotations\":{\"streams.io/host-isolation\":\"maybe\"}}}}}");
    CU_ASSERT_FALSE(v.r.allowed);
    SP_ASSERT_STR(cJSON_GetStringValue(cJSON_GetObjectItem(v.body, "apiVersion")),
                  "admission.k8s.io/v1beta1");
    SP_ASSERT_STR(rv_message(&v),
                  "pod ns/p: annotation streams.io/host-isolation: \"maybe\" is not "
                  "a boolean: use \"true\" or \"false\"");
    rv_free(&v);
    /* without apiVersion and kind, the answer says v1 AdmissionReview */
    run(&v, NULL, NULL, WH_VALIDATE, "{\"request\":{\"uid\":\"u\"}}");
    CU_ASSERT_TRUE(v.r.allowed);
    SP_ASSERT_STR(cJSON_GetStringValue(cJSON_GetObjectItem(v.body, "apiVersion")),
                  "admission.k8s.io/v1");
    SP_ASSERT_STR(cJSON_GetStringValue(cJSON_GetObjectItem(v.body, "kind")),
                  "AdmissionReview");
    rv_free(&v);
}

/* A string of n copies of c (caller frees). */
static char *repeat(char c, size_t n)
{
    char *s = sp_malloc(n + 1);

    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void t_huge_strings(void)
{
    char *big = repeat('a', 1 << 20), *name = repeat('n', 100000);
    char *text, *want;
    size_t n = (1 << 20) + 4096;
    cJSON *root;
    rv v;

    /* a 1 MiB uid is echoed whole */
    text = sp_malloc(n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_FATAL(snprintf(text, n, "{\"request\":{\"uid\":\"%s\"}}", big) > 0);
    run(&v, NULL, NULL, WH_VALIDATE, text);
    CU_ASSERT_TRUE(v.r.allowed);
    CU_ASSERT_EQUAL(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(v.resp, "uid"))),
                    1u << 20);
    rv_free(&v);
    sp_free(text);
    /* a huge name is cut in the message; a huge value cut by the engine */
    root = J("{'kind':'AdmissionReview','apiVersion':'admission.k8s.io/v1',"
             "'request':{'uid':'u','kind':{'kind':'Pod'},'operation':'CREATE',"
             "'namespace':'streams','object':{'metadata':{'labels':"
             "{'streams.io/job':'j','streams.io/pe':'0'},'annotations':{}}}}}");
    cJSON_AddStringToObject(cJSON_GetObjectItem(cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(root, "request"), "object"),
        "metadata"), "annotations"), "streams.io/host-isolation", big);
    cJSON_AddStringToObject(cJSON_GetObjectItem(cJSON_GetObjectItem(
        cJSON_GetObjectItem(root, "request"), "object"), "metadata"), "name", name);
    cJSON_AddStringToObject(cJSON_GetObjectItem(root, "request"), "name", name);
    text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    run(&v, NULL, NULL, WH_VALIDATE, text);
    CU_ASSERT_FALSE(v.r.allowed);
    want = repeat('n', 253);
    CU_ASSERT_TRUE(strncmp(rv_message(&v), "pod streams/", 12) == 0);
    CU_ASSERT_TRUE(strncmp(rv_message(&v) + 12, want, 253) == 0);
    CU_ASSERT_TRUE(strncmp(rv_message(&v) + 12 + 253,
                           "...: annotation streams.io/host-isolation: \"aaa", 47) == 0);
    CU_ASSERT_TRUE(strlen(rv_message(&v)) < WH_MSG_MAX);
    rv_free(&v);
    cJSON_free(text);
    sp_free(want);
    sp_free(big);
    sp_free(name);
}

/* Nesting deeper than cJSON accepts is refused, not a crash. */
static void t_deep_nesting(void)
{
    size_t depth = 100000;
    char *text = sp_malloc(2 * depth + 1);
    rv v;

    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    memset(text, '[', depth);
    memset(text + depth, ']', depth);
    text[2 * depth] = '\0';
    run(&v, NULL, NULL, WH_VALIDATE, text);
    CU_ASSERT_EQUAL(v.r.http_status, 400);
    rv_free(&v);
    sp_free(text);
}

/* ------------------------------------------------------------------------ */
/* Audit mode                                                                 */
/* ------------------------------------------------------------------------ */

/* Put HostPool name (spec as single-quoted JSON members) into st. */
static void put_pool(place_state *st, const char *name, const char *spec)
{
    char obj[8192];
    cJSON *root = J(pool_obj(obj, sizeof(obj), name, spec));
    kobj_pool p;
    sp_err err;

    CU_ASSERT_EQUAL_FATAL(kobj_pool_from_json(root, NULL, &p, &err), SP_OK);
    CU_ASSERT_EQUAL(place_state_put_pool(st, &p.in, NULL, &err), SP_OK);
    kobj_pool_clear(&p);
    cJSON_Delete(root);
}

static void t_audit(void)
{
    pol_policy *pol = policy("{'mode':'audit','schedulerName':'streams'}");
    place_state *st = state_for(pol);
    char obj[4096];
    rv v;

    put_pool(st, "ssd", "'tags':['ssd']");
    /* what enforce refuses is allowed, with a warning, and still recorded */
    pe_pod(obj, sizeof(obj), "job1-pe0", "job1", "0",
           "'streams.io/host-isolation':'maybe'", NULL);
    run_review(&v, st, pol, WH_VALIDATE, review_text("Pod", "CREATE", obj, NULL));
    CU_ASSERT_TRUE(v.r.allowed);
    CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(v.resp, "status"));
    CU_ASSERT_EQUAL(rv_n_warnings(&v), 1);
    SP_ASSERT_STR(rv_warning(&v, 0),
                  "audit: would deny: pod streams/job1-pe0: annotation "
                  "streams.io/host-isolation: \"maybe\" is not a boolean: use "
                  "\"true\" or \"false\"");
    CU_ASSERT_EQUAL(v.r.n_effects, 1);
    CU_ASSERT_EQUAL(v.r.effects[0].op, WH_POD_UPSERT);
    rv_free(&v);
    /* never patched, even with a pool and a scheduler to set */
    pe_pod(obj, sizeof(obj), "job1-pe1", "job1", "1",
           "'streams.io/host-pool':'ssd','streams.io/host-isolation':'TRUE'", NULL);
    run_review(&v, st, pol, WH_MUTATE, review_text("Pod", "CREATE", obj, NULL));
    CU_ASSERT_TRUE(v.r.allowed);
    CU_ASSERT_PTR_NULL(v.patch);
    CU_ASSERT_EQUAL(rv_n_warnings(&v), 0);
    rv_free(&v);
    /* a malformed request too */
    run_review(&v, st, pol, WH_VALIDATE, review_text("Pod", "CREATE", NULL, NULL));
    CU_ASSERT_TRUE(v.r.allowed);
    SP_ASSERT_STR(rv_warning(&v, 0),
                  "audit: would deny: pod streams/(unnamed): request.object: "
                  "missing: a CREATE review must carry the pod");
    CU_ASSERT_EQUAL(v.r.n_effects, 0);
    rv_free(&v);
    /* and an invalid HostPool, which is recorded with its error */
    pool_obj(obj, sizeof(obj), "bad", "'tags':['ssd'],'size':0");
    run_review(&v, st, pol, WH_VALIDATE, review_text("HostPool", "CREATE", obj, NULL));
    CU_ASSERT_TRUE(v.r.allowed);
    SP_ASSERT_CONTAINS(rv_warning(&v, 0),
                       "audit: would deny: hostpool streams/bad: spec.size: 0 is "
                       "invalid");
    CU_ASSERT_EQUAL(v.r.n_effects, 1);
    CU_ASSERT_EQUAL(v.r.effects[0].op, WH_POOL_UPSERT);
    rv_free(&v);
    place_state_free(st);
    pol_free(pol);
}

/* ------------------------------------------------------------------------ */
/* Mutation: schedulerName, annotations, idempotence                          */
/* ------------------------------------------------------------------------ */

/* Mutate obj (CREATE, or UPDATE with old) and return the review. */
static void mutate(rv *v, const place_state *st, const pol_policy *pol,
                   const char *obj, const char *old)
{
    run_review(v, st, pol, WH_MUTATE,
               review_text("Pod", old ? "UPDATE" : "CREATE", obj, old));
    CU_ASSERT_TRUE(v->r.allowed);
    if (!v->r.allowed)
        fprintf(stderr, "\n  denied: %s\n", rv_message(v));
}

/* Mutate obj, apply the patch, mutate the result: no patch the second
 * time, and the same warnings. */
static void assert_idempotent(const place_state *st, const pol_policy *pol,
                              const char *obj)
{
    char *again;
    rv v, w;

    mutate(&v, st, pol, obj, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v.patch);
    again = patched(obj, v.patch);
    mutate(&w, st, pol, again, NULL);
    CU_ASSERT_PTR_NULL(w.patch);
    CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(w.resp, "patch"));
    CU_ASSERT_EQUAL(rv_n_warnings(&w), rv_n_warnings(&v));
    rv_free(&v);
    rv_free(&w);
    cJSON_free(again);
}

static void t_scheduler_name(void)
{
    pol_policy *pol = policy("{'schedulerName':'streams-scheduler'}");
    char obj[4096];
    rv v;

    pe_pod(obj, sizeof(obj), "job1-pe0", "job1", "0", NULL,
           "'schedulerName':'default-scheduler',");
    mutate(&v, NULL, pol, obj, NULL);
    assert_patch(&v, "[{'op':'replace','path':'/spec/schedulerName','value':"
                     "'streams-scheduler'}]");
    rv_free(&v);
    assert_idempotent(NULL, pol, obj);
    pe_pod(obj, sizeof(obj), "job1-pe0", "job1", "0", NULL, NULL);
    mutate(&v, NULL, pol, obj, NULL);
    assert_patch(&v, "[{'op':'add','path':'/spec/schedulerName','value':"
                     "'streams-scheduler'}]");
    rv_free(&v);
    pe_pod(obj, sizeof(obj), "job1-pe0", "job1", "0", NULL,
           "'schedulerName':'streams-scheduler',");
    mutate(&v, NULL, pol, obj, NULL);
    CU_ASSERT_PTR_NULL(v.patch);
    rv_free(&v);
    /* the pod's own spelling of the field is kept in the pointer */
    mutate(&v, NULL, pol,
           "{'metadata':{'name':'p','labels':{'streams.io/job':'j',"
           "'streams.io/pe':'0'}},'Spec':{'SchedulerName':'x'}}", NULL);
    assert_patch(&v, "[{'op':'replace','path':'/Spec/SchedulerName','value':"
                     "'streams-scheduler'}]");
    rv_free(&v);
    /* spec is immutable on UPDATE: nothing there is patched */
    pe_pod(obj, sizeof(obj), "job1-pe0", "job1", "0", NULL,
           "'schedulerName':'default-scheduler',");
    mutate(&v, NULL, pol, obj, obj);
    CU_ASSERT_PTR_NULL(v.patch);
    rv_free(&v);
    /* a non-PE pod is left alone */
    mutate(&v, NULL, pol, "{'metadata':{'name':'p','labels':{'app':'x'}},"
                          "'spec':{'schedulerName':'default-scheduler'}}", NULL);
    CU_ASSERT_PTR_NULL(v.patch);
    rv_free(&v);
    /* a schedulerName that is not a string */
    pe_pod(obj, sizeof(obj), "job1-pe0", "job1", "0", NULL, "'schedulerName':5,");
    run_review(&v, NULL, pol, WH_MUTATE, review_text("Pod", "CREATE", obj, NULL));
    CU_ASSERT_FALSE(v.r.allowed);
    SP_ASSERT_STR(rv_message(&v), "pod streams/job1-pe0: spec.schedulerName: must "
                                  "be a string, got a number (5)");
    CU_ASSERT_EQUAL(rv_code(&v), 400);
    rv_free(&v);
    pol_free(pol);
}

static void t_annotations(void)
{
    char obj[4096], old[4096];
    rv v;

    pe_pod(obj, sizeof(obj), "job1-pe0", "job1", "0",
           "'streams.io/host-colocation':' c2 ,c1, c2','streams.io/host-exlocation':"
           "'x1,x1','streams.io/relocatable':'FALSE','other':' a, a'", NULL);
    mutate(&v, NULL, NULL, obj, NULL);
    assert_patch(&v,
                 "[{'op':'replace','path':'/metadata/annotations/streams.io~1"
                 "host-colocation','value':'c2,c1'},{'op':'replace','path':"
                 "'/metadata/annotations/streams.io~1host-exlocation','value':"
                 "'x1'},{'op':'replace','path':'/metadata/annotations/"
                 "streams.io~1relocatable','value':'false'}]");
    rv_free(&v);
    assert_idempotent(NULL, NULL, obj);
    pe_pod(obj, sizeof(obj), "job1-pe0", "job1", "0",
           "'streams.io/host-isolation':'True','streams.io/relocatable':'true'",
           NULL);
    mutate(&v, NULL, NULL, obj, NULL);
    assert_patch(&v, "[{'op':'replace','path':'/metadata/annotations/streams.io~1"
                     "host-isolation','value':'true'}]");
    rv_free(&v);
    /* annotations stay mutable on UPDATE */
    pe_pod(old, sizeof(old), "job1-pe0", "job1", "0",
           "'streams.io/host-isolation':'true'", NULL);
    mutate(&v, NULL, NULL, obj, old);
    assert_patch(&v, "[{'op':'replace','path':'/metadata/annotations/streams.io~1"
                     "host-isolation','value':'true'}]");
    rv_free(&v);
}

/* Everything at once, then again: nothing the second time. */
static void t_idempotent(void)
{
    pol_policy *pol = policy("{'schedulerName':'s'}");
    place_state *st = state_for(pol);
    char obj[4096];

    put_pool(st, "tags2", "'tags':['ssd','fast']");
    put_pool(st, "hosts2", "'tags':['ssd'],'hosts':['node-b','node-a']");
    pe_pod(obj, sizeof(obj), "job1-pe0", "job1", "0",
           "'streams.io/host-pool':'tags2','streams.io/host-exlocation':'a, b'",
           "'schedulerName':'default-scheduler',");
    assert_idempotent(st, pol, obj);
    pe_pod(obj, sizeof(obj), "job1-pe0", "job1", "0",
           "'streams.io/host-pool':'hosts2'",
           "'affinity':{'nodeAffinity':{'requiredDuringSchedulingIgnoredDuring"
           "Execution':{'nodeSelectorTerms':[{'matchExpressions':[{'key':'zone',"
           "'operator':'In','values':['z1']}]},{}]}}},");
    assert_idempotent(st, pol, obj);
    place_state_free(st);
    pol_free(pol);
}

/* ------------------------------------------------------------------------ */
/* Node affinity                                                              */
/* ------------------------------------------------------------------------ */

#define REQ_PATH "/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution"
#define SSD "{'key':'tag.streams.io/ssd','operator':'Exists'}"
#define FAST "{'key':'tag.streams.io/fast','operator':'Exists'}"
#define ZONE "{'key':'zone','operator':'In','values':['z1']}"
#define NAME_IN(h) "{'key':'metadata.name','operator':'In','values':['" h "']}"

/* A state with the pools the affinity tests use. */
static place_state *affinity_state(const pol_policy *pol)
{
    place_state *st = state_for(pol);
    char spec[4096];
    int o;

    put_pool(st, "tags2", "'tags':['ssd','fast']");
    put_pool(st, "hosts2", "'tags':['ssd'],'hosts':['node-b','node-a']");
    put_pool(st, "only-hosts", "'hosts':['node-c']");
    put_pool(st, "other-job", "'tags':['ssd'],'job':'job2'");
    put_pool(st, "invalid", "'tags':['ssd'],'size':0");
    o = snprintf(spec, sizeof(spec), "'tags':['ssd'],'hosts':[");
    for (int i = 0; i < 100; i++)
        o += snprintf(spec + o, sizeof(spec) - (size_t)o, "%s'n-%02d'",
                      i ? "," : "", i);
    snprintf(spec + o, sizeof(spec) - (size_t)o, "]");
    put_pool(st, "big", spec);
    return st;
}

/* The mutation of job1-pe0 in pool with extra spec fields; its patch is
 * compared with expected (NULL: none). */
static void affinity_case(const place_state *st, const char *pool,
                          const char *spec_extra, const char *expected)
{
    char anns[256], obj[8192];
    rv v;

    CU_ASSERT_FATAL(snprintf(anns, sizeof(anns), "'streams.io/host-pool':'%s'",
                             pool) > 0);
    pe_pod(obj, sizeof(obj), "job1-pe0", "job1", "0", anns, spec_extra);
    mutate(&v, st, NULL, obj, NULL);
    CU_ASSERT_EQUAL(rv_n_warnings(&v), 0);
    if (expected)
        assert_patch(&v, expected);
    else
        CU_ASSERT_PTR_NULL(v.patch);
    rv_free(&v);
    if (expected)
        assert_idempotent(st, NULL, obj);
}

static void t_affinity_create(void)
{
    place_state *st = affinity_state(NULL);

    /* tags, sorted, in one new term */
    affinity_case(st, "tags2", NULL,
                  "[{'op':'add','path':'/spec/affinity','value':{'nodeAffinity':"
                  "{'requiredDuringSchedulingIgnoredDuringExecution':"
                  "{'nodeSelectorTerms':[{'matchExpressions':[" FAST "," SSD
                  "]}]}}}}]");
    /* hosts: one term per host (a node field selector takes one value) */
    affinity_case(st, "hosts2", NULL,
                  "[{'op':'add','path':'/spec/affinity','value':{'nodeAffinity':"
                  "{'requiredDuringSchedulingIgnoredDuringExecution':"
                  "{'nodeSelectorTerms':[{'matchExpressions':[" SSD "],"
                  "'matchFields':[" NAME_IN("node-a") "]},{'matchExpressions':["
                  SSD "],'matchFields':[" NAME_IN("node-b") "]}]}}}}]");
    affinity_case(st, "only-hosts", NULL,
                  "[{'op':'add','path':'/spec/affinity','value':{'nodeAffinity':"
                  "{'requiredDuringSchedulingIgnoredDuringExecution':"
                  "{'nodeSelectorTerms':[{'matchFields':[" NAME_IN("node-c")
                  "]}]}}}}]");
    /* the structure is created at the first missing level */
    affinity_case(st, "tags2",
                  "'affinity':{'podAntiAffinity':{}},",
                  "[{'op':'add','path':'/spec/affinity/nodeAffinity','value':"
                  "{'requiredDuringSchedulingIgnoredDuringExecution':"
                  "{'nodeSelectorTerms':[{'matchExpressions':[" FAST "," SSD
                  "]}]}}}]");
    affinity_case(st, "tags2",
                  "'affinity':{'nodeAffinity':{'preferredDuringScheduling"
                  "IgnoredDuringExecution':[]}},",
                  "[{'op':'add','path':'" REQ_PATH "','value':"
                  "{'nodeSelectorTerms':[{'matchExpressions':[" FAST "," SSD
                  "]}]}}]");
    affinity_case(st, "tags2",
                  "'affinity':{'nodeAffinity':{'requiredDuringScheduling"
                  "IgnoredDuringExecution':{}}},",
                  "[{'op':'add','path':'" REQ_PATH "/nodeSelectorTerms','value':"
                  "[{'matchExpressions':[" FAST "," SSD "]}]}]");
    affinity_case(st, "tags2",
                  "'affinity':{'nodeAffinity':{'requiredDuringScheduling"
                  "IgnoredDuringExecution':{'nodeSelectorTerms':[]}}},",
                  "[{'op':'replace','path':'" REQ_PATH "/nodeSelectorTerms',"
                  "'value':[{'matchExpressions':[" FAST "," SSD "]}]}]");
    affinity_case(st, "tags2", "'affinity':null,",
                  "[{'op':'add','path':'/spec/affinity','value':{'nodeAffinity':"
                  "{'requiredDuringSchedulingIgnoredDuringExecution':"
                  "{'nodeSelectorTerms':[{'matchExpressions':[" FAST "," SSD
                  "]}]}}}}]");
    place_state_free(st);
}

#define TERMS(t) \
    "'affinity':{'nodeAffinity':{'requiredDuringSchedulingIgnoredDuring" \
    "Execution':{'nodeSelectorTerms':[" t "]}}},"

static void t_affinity_merge(void)
{
    place_state *st = affinity_state(NULL);

    /* terms are ORed: each one gains what it lacks; an empty term matches
     * nothing and stays as it is */
    affinity_case(st, "tags2",
                  TERMS("{'matchExpressions':[" ZONE "]},"
                        "{'matchFields':[" NAME_IN("n1") "]},{},"
                        "{'matchExpressions':[" SSD "]},"
                        "{'matchExpressions':[" FAST "," SSD "]}"),
                  "[{'op':'add','path':'" REQ_PATH "/nodeSelectorTerms/0/"
                  "matchExpressions/-','value':" FAST "},"
                  "{'op':'add','path':'" REQ_PATH "/nodeSelectorTerms/0/"
                  "matchExpressions/-','value':" SSD "},"
                  "{'op':'add','path':'" REQ_PATH "/nodeSelectorTerms/1/"
                  "matchExpressions','value':[" FAST "," SSD "]},"
                  "{'op':'add','path':'" REQ_PATH "/nodeSelectorTerms/3/"
                  "matchExpressions/-','value':" FAST "}]");
    /* already there: nothing */
    affinity_case(st, "tags2", TERMS("{'matchExpressions':[" SSD "," FAST "]}"),
                  NULL);
    /* hosts multiply the terms that lack them */
    affinity_case(st, "hosts2",
                  TERMS("{'matchExpressions':[" ZONE "]},{}"),
                  "[{'op':'replace','path':'" REQ_PATH "/nodeSelectorTerms',"
                  "'value':[{'matchExpressions':[" ZONE "," SSD "],"
                  "'matchFields':[" NAME_IN("node-a") "]},{'matchExpressions':["
                  ZONE "," SSD "],'matchFields':[" NAME_IN("node-b") "]},{}]}]");
    affinity_case(st, "hosts2",
                  TERMS("{'matchExpressions':[" SSD "],'matchFields':["
                        NAME_IN("node-b") "]}"),
                  NULL);
    /* a term that already names one of the hosts only gains the tags */
    affinity_case(st, "hosts2",
                  TERMS("{'matchFields':[" NAME_IN("node-b") "]},{'matchFields':["
                        NAME_IN("node-z") "]}"),
                  "[{'op':'replace','path':'" REQ_PATH "/nodeSelectorTerms',"
                  "'value':[{'matchFields':[" NAME_IN("node-b") "],"
                  "'matchExpressions':[" SSD "]},{'matchFields':[" NAME_IN("node-z")
                  "," NAME_IN("node-a") "],'matchExpressions':[" SSD "]},"
                  "{'matchFields':[" NAME_IN("node-z") "," NAME_IN("node-b") "],"
                  "'matchExpressions':[" SSD "]}]}]");
    /* a null member is replaced, in the spelling the pod uses */
    affinity_case(st, "tags2", TERMS("{'MatchExpressions':null,'matchFields':["
                                     NAME_IN("n1") "]}"),
                  "[{'op':'add','path':'" REQ_PATH "/nodeSelectorTerms/0/"
                  "MatchExpressions','value':[" FAST "," SSD "]}]");
    place_state_free(st);
}

/* The warning of a pool that gets no (or only partial) affinity. */
static void affinity_warning(const pol_policy *pol, const place_state *st,
                             const char *anns, const char *warning,
                             const char *expected)
{
    char obj[4096];
    rv v;

    pe_pod(obj, sizeof(obj), "job1-pe0", "job1", "0", anns, NULL);
    mutate(&v, st, pol, obj, NULL);
    CU_ASSERT_EQUAL(rv_n_warnings(&v), 1);
    SP_ASSERT_STR(rv_warning(&v, 0), warning);
    if (expected)
        assert_patch(&v, expected);
    else
        CU_ASSERT_PTR_NULL(v.patch);
    rv_free(&v);
}

static void t_affinity_pools(void)
{
    pol_policy *dflt = policy("{'defaultHostPool':'tags2'}");
    pol_policy *missing = policy("{'defaultHostPool':'nope'}");
    place_state *st = affinity_state(NULL);

    affinity_warning(NULL, st, "'streams.io/host-pool':'big'",
                     "pod streams/job1-pe0: HostPool 'big' lists 100 hosts, more "
                     "than the 64 node affinity terms streams-placer writes: node "
                     "affinity requires only the pool's tags, and streams-placer "
                     "still keeps the pod on the pool's hosts",
                     "[{'op':'add','path':'/spec/affinity','value':{'nodeAffinity':"
                     "{'requiredDuringSchedulingIgnoredDuringExecution':"
                     "{'nodeSelectorTerms':[{'matchExpressions':[" SSD "]}]}}}}]");
    affinity_warning(NULL, st, "'streams.io/host-pool':'invalid'",
                     "pod streams/job1-pe0: HostPool 'invalid' is invalid, so the "
                     "pod stays Pending until it is fixed: spec.size: 0 is "
                     "invalid: a sized pool needs 1 <= size <= 100000 (omit size "
                     "for a pool of every matching node)", NULL);
    affinity_warning(NULL, st, "'streams.io/host-pool':'other-job'",
                     "pod streams/job1-pe0: HostPool 'other-job' belongs to job "
                     "'job2', not 'job1': the pod stays Pending; name a pool of "
                     "job 'job1' or a shared one (without spec.job)", NULL);
    affinity_warning(missing, st, "",
                     "pod streams/job1-pe0: HostPool 'nope' (from the policy's "
                     "defaultHostPool) does not exist in namespace 'streams' "
                     "yet: the pod stays Pending until it is created", NULL);
    /* the policy's default pool counts as the PE's pool */
    {
        char obj[4096];
        rv v;

        pe_pod(obj, sizeof(obj), "job1-pe0", "job1", "0", NULL, NULL);
        mutate(&v, st, dflt, obj, NULL);
        assert_patch(&v, "[{'op':'add','path':'/spec/affinity','value':"
                         "{'nodeAffinity':{'requiredDuringSchedulingIgnoredDuring"
                         "Execution':{'nodeSelectorTerms':[{'matchExpressions':["
                         FAST "," SSD "]}]}}}}]");
        rv_free(&v);
    }
    place_state_free(st);
    pol_free(dflt);
    pol_free(missing);
}

/* An affinity not shaped as Kubernetes writes it: 400 naming the field. */
static void t_affinity_malformed(void)
{
    place_state *st = affinity_state(NULL);
    static const struct { const char *extra, *msg; } cases[] = {
        { "'affinity':[],", "spec.affinity: must be an object, got an array" },
        { "'affinity':{'nodeAffinity':{'requiredDuringSchedulingIgnoredDuring"
          "Execution':{'nodeSelectorTerms':{}}}},",
          "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuring"
          "Execution.nodeSelectorTerms: must be an array, got an object" },
        { TERMS("'x'"),
          "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuring"
          "Execution.nodeSelectorTerms[0]: must be an object, got a string "
          "(\"x\")" },
        { TERMS("{},{'matchFields':7}"),
          "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuring"
          "Execution.nodeSelectorTerms[1].matchFields: must be an array, got a "
          "number (7)" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char obj[4096], want[1024];
        rv v;

        pe_pod(obj, sizeof(obj), "job1-pe0", "job1", "0",
               "'streams.io/host-pool':'tags2'", cases[i].extra);
        run_review(&v, st, NULL, WH_MUTATE, review_text("Pod", "CREATE", obj, NULL));
        CU_ASSERT_FALSE(v.r.allowed);
        CU_ASSERT_FATAL(snprintf(want, sizeof(want), "pod streams/job1-pe0: %s",
                                 cases[i].msg) > 0);
        SP_ASSERT_STR(rv_message(&v), want);
        CU_ASSERT_EQUAL(rv_code(&v), 400);
        rv_free(&v);
    }
    place_state_free(st);
}

/* ------------------------------------------------------------------------ */
/* What is left alone                                                         */
/* ------------------------------------------------------------------------ */

/* Allowed untouched: no status, warning, patch or effect. */
static void assert_untouched(const place_state *st, const pol_policy *pol,
                             const char *text)
{
    for (int m = 0; m < 2; m++) {
        rv v;

        run(&v, st, pol, m ? WH_MUTATE : WH_VALIDATE, text);
        CU_ASSERT_TRUE(v.r.allowed);
        CU_ASSERT_EQUAL(rv_n_warnings(&v), 0);
        CU_ASSERT_PTR_NULL(v.patch);
        CU_ASSERT_EQUAL(v.r.n_effects, 0);
        rv_free(&v);
    }
}

static void t_unmanaged(void)
{
    pol_policy *pol = policy("{'namespaces':['other'],'schedulerName':'s'}");
    char obj[4096], *text;
    rv v;

    pe_pod(obj, sizeof(obj), "job1-pe0", "job1", "0",
           "'streams.io/host-isolation':'maybe'", NULL);
    text = review_text("Pod", "CREATE", obj, NULL);
    assert_untouched(NULL, pol, text);
    cJSON_free(text);
    text = review_text("Pod", "DELETE", NULL, obj);
    assert_untouched(NULL, pol, text);
    cJSON_free(text);
    pool_obj(obj, sizeof(obj), "p", "'size':0");
    text = review_text("HostPool", "CREATE", obj, NULL);
    assert_untouched(NULL, pol, text);
    cJSON_free(text);
    /* the managed namespace is checked, whatever request.namespace says */
    run_review(&v, NULL, pol, WH_VALIDATE,
               review_text("Pod", "CREATE",
                           "{'metadata':{'name':'p','namespace':'other','labels':"
                           "{'streams.io/job':'j','streams.io/pe':'0'},"
                           "'annotations':{'streams.io/host-isolation':'maybe'}}}",
                           NULL));
    CU_ASSERT_FALSE(v.r.allowed);
    SP_ASSERT_CONTAINS(rv_message(&v), "pod other/p: annotation");
    rv_free(&v);
    pol_free(pol);
}

static void t_others_untouched(void)
{
    pol_policy *pol = policy("{'schedulerName':'s'}");
    char *text;

    /* a pod that is not a PE */
    text = review_text("Pod", "CREATE",
                       "{'metadata':{'name':'web','labels':{'app':'web'},"
                       "'annotations':{'streams.io/host-isolation':'maybe'}},"
                       "'spec':{'containers':[{'resources':{'requests':"
                       "{'cpu':'lots'}}}]}}", NULL);
    assert_untouched(NULL, pol, text);
    cJSON_free(text);
    /* another kind, even one named like ours in another group */
    text = review_text("Deployment", "CREATE", "{'metadata':{'name':'d'}}", NULL);
    assert_untouched(NULL, pol, text);
    cJSON_free(text);
    assert_untouched(NULL, pol,
                     "{\"request\":{\"uid\":\"u\",\"kind\":{\"group\":\"x.io\","
                     "\"kind\":\"HostPool\"},\"operation\":\"CREATE\","
                     "\"object\":{\"spec\":{}}}}");
    /* a subresource (pods/status, pods/binding) */
    assert_untouched(NULL, pol,
                     "{\"request\":{\"uid\":\"u\",\"kind\":{\"kind\":\"Pod\"},"
                     "\"subResource\":\"status\",\"operation\":\"UPDATE\","
                     "\"object\":{\"metadata\":{\"labels\":{\"streams.io/job\":"
                     "\"j\"}}}}}");
    /* CONNECT (exec, attach) */
    assert_untouched(NULL, pol,
                     "{\"request\":{\"uid\":\"u\",\"kind\":{\"kind\":\"Pod\"},"
                     "\"operation\":\"CONNECT\"}}");
    /* neither kind nor resource: nothing to review */
    assert_untouched(NULL, pol, "{\"request\":{\"uid\":\"u\"}}");
    pol_free(pol);
}

/* Without request.kind, request.resource says what it is. */
static void t_resource_only(void)
{
    rv v;

    run(&v, NULL, NULL, WH_VALIDATE,
        "{\"request\":{\"uid\":\"u\",\"resource\":{\"group\":\"\",\"resource\":"
        "\"pods\"},\"operation\":\"CREATE\",\"namespace\":\"ns\",\"object\":"
        "{\"metadata\":{\"name\":\"p\",\"labels\":{\"streams.io/job\":\"j\","
        "\"streams.io/pe\":\"0\"},\"annotations\":{\"streams.io/host-isolation\":"
        "\"maybe\"}}}}}");
    CU_ASSERT_FALSE(v.r.allowed);
    rv_free(&v);
    run(&v, NULL, NULL, WH_VALIDATE,
        "{\"request\":{\"uid\":\"u\",\"resource\":{\"group\":\"placement.streams.io\","
        "\"resource\":\"hostpools\"},\"operation\":\"CREATE\",\"namespace\":\"ns\","
        "\"object\":{\"metadata\":{\"name\":\"p\"},\"spec\":{}}}}");
    CU_ASSERT_FALSE(v.r.allowed);
    SP_ASSERT_CONTAINS(rv_message(&v), "hostpool ns/p: spec: a HostPool needs");
    rv_free(&v);
}

/* ------------------------------------------------------------------------ */
/* Effects: DELETE, dry runs, UPDATE                                          */
/* ------------------------------------------------------------------------ */

static void t_delete(void)
{
    char obj[4096], *text;
    rv v;

    /* even a PE whose annotations never parsed may be deleted */
    pe_pod(obj, sizeof(obj), "job1-pe0", "job1", "0",
           "'streams.io/host-isolation':'maybe'", NULL);
    run_review(&v, NULL, NULL, WH_VALIDATE, review_text("Pod", "DELETE", NULL, obj));
    CU_ASSERT_TRUE(v.r.allowed);
    CU_ASSERT_EQUAL_FATAL(v.r.n_effects, 1);
    CU_ASSERT_EQUAL(v.r.effects[0].op, WH_POD_DELETE);
    SP_ASSERT_STR(effect_name(&v, 0), "job1-pe0");
    rv_free(&v);
    run_review(&v, NULL, NULL, WH_MUTATE, review_text("Pod", "DELETE", NULL, obj));
    CU_ASSERT_TRUE(v.r.allowed);
    CU_ASSERT_EQUAL(v.r.n_effects, 0);
    rv_free(&v);
    /* no oldObject, a non-PE, an unreadable one: allowed, nothing recorded */
    text = review_text("Pod", "DELETE", NULL, NULL);
    assert_untouched(NULL, NULL, text);
    cJSON_free(text);
    text = review_text("Pod", "DELETE", NULL, "{'metadata':{'name':'web'}}");
    assert_untouched(NULL, NULL, text);
    cJSON_free(text);
    text = review_text("Pod", "DELETE", NULL,
                       "{'metadata':{'name':'p','labels':{'streams.io/job':'j'}},"
                       "'spec':{'containers':7}}");
    assert_untouched(NULL, NULL, text);
    cJSON_free(text);
    text = review_text("Pod", "DELETE", NULL, "{'metadata':{'labels':[]}}");
    assert_untouched(NULL, NULL, text);
    cJSON_free(text);
    /* HostPool deletes are not reviewed */
    text = review_text("HostPool", "DELETE", NULL, "{'metadata':{'name':'p'}}");
    assert_untouched(NULL, NULL, text);
    cJSON_free(text);
}

/* A dry run is answered but never recorded. */
static void t_dry_run(void)
{
    cJSON *root = J("{'request':{'uid':'u','kind':{'kind':'Pod'},'operation':"
                    "'CREATE','namespace':'streams','dryRun':true,'object':"
                    "{'metadata':{'name':'p','labels':{'streams.io/job':'j',"
                    "'streams.io/pe':'0'}}}}}");
    char *text = cJSON_PrintUnformatted(root);
    rv v;

    run(&v, NULL, NULL, WH_VALIDATE, text);
    CU_ASSERT_TRUE(v.r.allowed);
    CU_ASSERT_EQUAL(v.r.n_effects, 0);
    rv_free(&v);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(root, "request"), "dryRun",
                              cJSON_CreateFalse());
    cJSON_free(text);
    text = cJSON_PrintUnformatted(root);
    run(&v, NULL, NULL, WH_VALIDATE, text);
    CU_ASSERT_EQUAL(v.r.n_effects, 1);
    rv_free(&v);
    cJSON_free(text);
    cJSON_Delete(root);
}

static void t_update(void)
{
    char bad[4096], bad2[4096], good[4096], pool[4096], pool2[4096];
    rv v;

    pe_pod(bad, sizeof(bad), "job1-pe0", "job1", "0",
           "'streams.io/host-isolation':'maybe'", NULL);
    pe_pod(bad2, sizeof(bad2), "job1-pe0", "job1", "0",
           "'streams.io/host-isolation':'maybe','note':'x'", NULL);
    pe_pod(good, sizeof(good), "job1-pe0", "job1", "0",
           "'streams.io/host-isolation':'true'", NULL);
    /* unchanged placement: allowed with a warning, and recorded */
    run_review(&v, NULL, NULL, WH_VALIDATE, review_text("Pod", "UPDATE", bad2, bad));
    CU_ASSERT_TRUE(v.r.allowed);
    SP_ASSERT_STR(rv_warning(&v, 0),
                  "pod streams/job1-pe0: annotation streams.io/host-isolation: "
                  "\"maybe\" is not a boolean: use \"true\" or \"false\" (allowed: "
                  "this update does not change the PE's labels or annotations)");
    CU_ASSERT_EQUAL(v.r.n_effects, 1);
    CU_ASSERT_EQUAL(v.r.effects[0].op, WH_POD_UPSERT);
    rv_free(&v);
    run_review(&v, NULL, NULL, WH_MUTATE, review_text("Pod", "UPDATE", bad2, bad));
    CU_ASSERT_TRUE(v.r.allowed);
    CU_ASSERT_PTR_NULL(v.patch);
    rv_free(&v);
    /* a change that breaks it is refused */
    run_review(&v, NULL, NULL, WH_VALIDATE, review_text("Pod", "UPDATE", bad, good));
    CU_ASSERT_FALSE(v.r.allowed);
    CU_ASSERT_EQUAL(rv_code(&v), 403);
    rv_free(&v);
    /* without a readable oldObject there is nothing to compare with */
    run_review(&v, NULL, NULL, WH_VALIDATE, review_text("Pod", "UPDATE", bad2,
                                                        "{'metadata':7}"));
    CU_ASSERT_FALSE(v.r.allowed);
    rv_free(&v);
    /* HostPools: the same rule on spec and status.hosts */
    pool_obj(pool, sizeof(pool), "p", "'tags':['ssd'],'size':0");
    pool_obj(pool2, sizeof(pool2), "p", "'tags':['ssd'],'size':-1");
    run_review(&v, NULL, NULL, WH_VALIDATE,
               review_text("HostPool", "UPDATE", pool, pool));
    CU_ASSERT_TRUE(v.r.allowed);
    SP_ASSERT_CONTAINS(rv_warning(&v, 0), "(allowed: this update does not "
                                          "change spec or status.hosts)");
    CU_ASSERT_EQUAL(v.r.n_effects, 1);
    rv_free(&v);
    run_review(&v, NULL, NULL, WH_VALIDATE,
               review_text("HostPool", "UPDATE", pool2, pool));
    CU_ASSERT_FALSE(v.r.allowed);
    SP_ASSERT_STR(rv_message(&v),
                  "hostpool streams/p: spec.size: -1 is invalid: a sized pool "
                  "needs 1 <= size <= 100000 (omit size for a pool of every "
                  "matching node)");
    rv_free(&v);
}

/* generateName pods have no name yet in the mutating call. */
static void t_generate_name(void)
{
    rv v;

    run_review(&v, NULL, NULL, WH_MUTATE,
               review_text("Pod", "CREATE",
                           "{'metadata':{'generateName':'job1-pe3-','labels':"
                           "{'streams.io/job':'job1','streams.io/pe':'3'},"
                           "'annotations':{'streams.io/host-isolation':'maybe'}}}",
                           NULL));
    CU_ASSERT_FALSE(v.r.allowed);
    SP_ASSERT_STR(rv_message(&v),
                  "pod streams/job1-pe3-*: annotation streams.io/host-isolation: "
                  "\"maybe\" is not a boolean: use \"true\" or \"false\"");
    rv_free(&v);
}

/* ------------------------------------------------------------------------ */
/* Helpers of the module                                                      */
/* ------------------------------------------------------------------------ */

static void t_base64_and_pointers(void)
{
    static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba",
                                         "foobar" };
    static const char *const coded[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==",
                                         "Zm9vYmE=", "Zm9vYmFy" };
    sp_buf b;

    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        char *out = NULL;

        CU_ASSERT_EQUAL(wh_base64(plain[i], strlen(plain[i]), &out), SP_OK);
        SP_ASSERT_STR(out, coded[i]);
        sp_free(out);
    }
    sp_buf_init(&b, WH_PATH_MAX);
    CU_ASSERT_EQUAL(wh_path_seg(&b, "metadata"), SP_OK);
    CU_ASSERT_EQUAL(wh_path_seg(&b, "a/b~c"), SP_OK);
    CU_ASSERT_EQUAL(wh_path_index(&b, 12), SP_OK);
    SP_ASSERT_STR(b.data, "/metadata/a~1b~0c/12");
    wh_path_cut(&b, 9);
    SP_ASSERT_STR(b.data, "/metadata");
    sp_buf_free(&b);
}

/* ------------------------------------------------------------------------ */
/* Out of memory                                                              */
/* ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------ */
/* The review in three steps                                                  */
/* ------------------------------------------------------------------------ */

/* The state and policy the step cases are judged against, built afresh. */
static void step_world(pol_policy **pol, place_state **st, const char *policy_text)
{
    *pol = policy(policy_text);
    *st = affinity_state(*pol);
    admit_pe(*st, "job1-pe1", "1",
             "'streams.io/host-colocation':'c1','streams.io/host-exlocation':'x1'");
}

/* text reviewed by wh_review, and by the three steps with the state and the
 * policy freed before the answer is rendered (the server renders after it
 * unlocks them): the same answer and effects, byte for byte. */
static void steps_case(const char *policy_text, wh_mode mode, const char *text)
{
    pol_policy *pol;
    place_state *st;
    wh_result ref, r;
    wh_case *cs = NULL;

    step_world(&pol, &st, policy_text);
    CU_ASSERT_EQUAL_FATAL(wh_review(st, pol, mode, text, strlen(text), &ref), SP_OK);
    place_state_free(st);
    pol_free(pol);
    step_world(&pol, &st, policy_text);
    CU_ASSERT_EQUAL_FATAL(wh_case_open(mode, text, strlen(text), &cs, &r), SP_OK);
    CU_ASSERT_EQUAL_FATAL(wh_case_judge(cs, st, pol, &r), SP_OK);
    CU_ASSERT_EQUAL(r.allowed, ref.allowed);
    CU_ASSERT_EQUAL(r.n_effects, ref.n_effects);
    CU_ASSERT_PTR_NULL(r.body);
    place_state_free(st);
    pol_free(pol);
    CU_ASSERT_EQUAL_FATAL(wh_case_answer(cs, &r), SP_OK);
    wh_case_free(cs);
    CU_ASSERT_EQUAL(r.http_status, ref.http_status);
    CU_ASSERT_EQUAL(r.len, ref.len);
    SP_ASSERT_STR(r.body, ref.body);
    wh_result_free(&r);
    wh_result_free(&ref);
}

static void t_case_steps(void)
{
    char obj[4096], old[4096], *text;

    /* mutated: affinity with hosts, schedulerName, annotations */
    pe_pod(obj, sizeof(obj), "job1-pe0", "job1", "0",
           "'streams.io/host-pool':'hosts2','streams.io/host-colocation':'c1, c1'",
           TERMS("{'matchExpressions':[" ZONE "]},{}"));
    text = review_text("Pod", "CREATE", obj, NULL);
    steps_case("{'schedulerName':'s'}", WH_MUTATE, text);
    steps_case(NULL, WH_VALIDATE, text);
    cJSON_free(text);
    /* refused, and the refusal as a warning in audit mode */
    pe_pod(obj, sizeof(obj), "job1-pe2", "job1", "2",
           "'streams.io/host-colocation':'c1','streams.io/host-exlocation':'x1'", NULL);
    text = review_text("Pod", "CREATE", obj, NULL);
    steps_case(NULL, WH_VALIDATE, text);
    steps_case("{'mode':'audit'}", WH_VALIDATE, text);
    cJSON_free(text);
    /* an unchanged problem on UPDATE: allowed with a warning */
    pe_pod(old, sizeof(old), "job1-pe0", "job1", "0",
           "'streams.io/host-isolation':'maybe'", NULL);
    text = review_text("Pod", "UPDATE", old, old);
    steps_case(NULL, WH_VALIDATE, text);
    cJSON_free(text);
    /* a HostPool; a request that cannot be read (400 in the answer); a body
     * that cannot be (HTTP 400) */
    pool_obj(obj, sizeof(obj), "p", "'tags':['ssd'],'size':0");
    text = review_text("HostPool", "CREATE", obj, NULL);
    steps_case(NULL, WH_VALIDATE, text);
    cJSON_free(text);
    steps_case(NULL, WH_VALIDATE, "{\"request\":{\"uid\":\"u\",\"kind\":7}}");
    steps_case(NULL, WH_MUTATE, "{\"request\":{}}");
    steps_case(NULL, WH_VALIDATE, "not json");
}

/* The body is parsed where it is (it must end with a NUL at len): a body
 * with a NUL before len is refused as JSON with one, as wh_review does. */
static void t_case_body_in_place(void)
{
    static const char body[] = "{\"request\":{\"uid\":\"u\"}}\0{}";
    wh_result r;
    wh_case *cs = NULL;
    cJSON *answer;

    CU_ASSERT_EQUAL_FATAL(wh_case_open(WH_VALIDATE, body, strlen(body), &cs, &r), SP_OK);
    CU_ASSERT_EQUAL_FATAL(wh_case_judge(cs, NULL, NULL, &r), SP_OK);
    CU_ASSERT_EQUAL_FATAL(wh_case_answer(cs, &r), SP_OK);
    wh_case_free(cs);
    CU_ASSERT_EQUAL(r.http_status, 200);
    CU_ASSERT_TRUE(r.allowed);
    answer = cJSON_Parse(r.body);
    SP_ASSERT_STR(cJSON_GetStringValue(cJSON_GetObjectItem(
                      cJSON_GetObjectItem(answer, "response"), "uid")), "u");
    cJSON_Delete(answer);
    wh_result_free(&r);
    CU_ASSERT_EQUAL_FATAL(wh_case_open(WH_VALIDATE, body, sizeof(body) - 1, &cs, &r), SP_OK);
    CU_ASSERT_EQUAL_FATAL(wh_case_judge(cs, NULL, NULL, &r), SP_OK);
    CU_ASSERT_EQUAL_FATAL(wh_case_answer(cs, &r), SP_OK);
    wh_case_free(cs);
    CU_ASSERT_EQUAL(r.http_status, 400);
    SP_ASSERT_CONTAINS(r.body, "NUL");
    wh_result_free(&r);
    wh_case_free(NULL);
}

/*
 * Fail each allocation of one review in turn: every outcome is SP_ENOMEM
 * or a well-formed answer (out of memory, cJSON may see bad JSON: a 400),
 * never a crash or a leak; once no allocation fails, the answer is the
 * normal one.
 */
static void oom_case(const place_state *st, const pol_policy *pol, wh_mode mode,
                     const char *text)
{
    wh_result ref;
    bool done = false;
    long n;

    CU_ASSERT_EQUAL_FATAL(wh_review(st, pol, mode, text, strlen(text), &ref), SP_OK);
    for (n = 0; n < 100000 && !done; n++) {
        unsigned long before = sp_alloc_injected_failures();
        wh_result r;
        sp_rc rc;

        sp_alloc_fail_after(n);
        rc = wh_review(st, pol, mode, text, strlen(text), &r);
        sp_alloc_fail_after(-1);
        CU_ASSERT_TRUE(rc == SP_OK || rc == SP_ENOMEM);
        if (rc == SP_OK) {
            cJSON *body = cJSON_Parse(r.body);

            CU_ASSERT_PTR_NOT_NULL(body);
            CU_ASSERT_TRUE(r.http_status == 200 || r.http_status == 400);
            cJSON_Delete(body);
        }
        done = sp_alloc_injected_failures() == before;
        if (done) {
            CU_ASSERT_EQUAL(rc, SP_OK);
            SP_ASSERT_STR(r.body, ref.body);
            CU_ASSERT_EQUAL(r.n_effects, ref.n_effects);
        }
        wh_result_free(&r);
    }
    CU_ASSERT_TRUE(done);
    CU_ASSERT_TRUE(n > 3); /* failures reached the review, not only its first steps */
    wh_result_free(&ref);
}

static void t_oom(void)
{
    pol_policy *pol = policy("{'schedulerName':'s'}");
    pol_policy *audit = policy("{'mode':'audit'}");
    place_state *st = affinity_state(pol);
    char obj[4096], old[4096], *text;

    admit_pe(st, "job1-pe1", "1",
             "'streams.io/host-colocation':'c1','streams.io/host-exlocation':'x1'");
    /* mutate: merged affinity with hosts, schedulerName, annotations */
    pe_pod(obj, sizeof(obj), "job1-pe0", "job1", "0",
           "'streams.io/host-pool':'hosts2','streams.io/host-colocation':'c1, c1'",
           TERMS("{'matchExpressions':[" ZONE "]},{}"));
    text = review_text("Pod", "CREATE", obj, NULL);
    oom_case(st, pol, WH_MUTATE, text);
    oom_case(st, pol, WH_VALIDATE, text);
    cJSON_free(text);
    pe_pod(obj, sizeof(obj), "job1-pe0", "job1", "0",
           "'streams.io/host-pool':'tags2'", TERMS("{'matchExpressions':[" ZONE "]}"));
    text = review_text("Pod", "CREATE", obj, NULL);
    oom_case(st, pol, WH_MUTATE, text);
    cJSON_free(text);
    /* refusals, warnings, audit */
    pe_pod(obj, sizeof(obj), "job1-pe2", "job1", "2",
           "'streams.io/host-colocation':'c1','streams.io/host-exlocation':'x1'", NULL);
    text = review_text("Pod", "CREATE", obj, NULL);
    oom_case(st, pol, WH_VALIDATE, text);
    oom_case(st, audit, WH_VALIDATE, text);
    cJSON_free(text);
    pe_pod(old, sizeof(old), "job1-pe0", "job1", "0",
           "'streams.io/host-isolation':'maybe'", NULL);
    text = review_text("Pod", "UPDATE", old, old);
    oom_case(st, pol, WH_VALIDATE, text);
    cJSON_free(text);
    text = review_text("Pod", "DELETE", NULL, old);
    oom_case(st, pol, WH_VALIDATE, text);
    cJSON_free(text);
    pool_obj(obj, sizeof(obj), "p", "'tags':['ssd'],'size':0");
    text = review_text("HostPool", "CREATE", obj, NULL);
    oom_case(st, pol, WH_VALIDATE, text);
    oom_case(st, audit, WH_VALIDATE, text);
    cJSON_free(text);
    oom_case(st, pol, WH_VALIDATE, "{\"request\":{}}");
    oom_case(st, pol, WH_VALIDATE, "{\"request\":{\"uid\":\"u\",\"kind\":7}}");
    place_state_free(st);
    pol_free(pol);
    pol_free(audit);
}

/* The captured reviews too, when they are there. */
static void t_oom_fixtures(void)
{
    static const char *const files[] = {
        "mutate-create-pod-job1-pe0.json", "validate-create-pod-job1-pe1.json",
        "validate-update-hostpool-any-ssd.json",
        "validate-delete-pod-job1-pe2-again.json",
    };
    pol_policy *pol;
    place_state *st;

    NEED_FIXTURES();
    pol = policy(NULL);
    st = state_for(pol);
    put_pool(st, "ingest", "'tags':['ingest'],'size':2,'job':'job1','exclusive':true");
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        size_t len;
        char *text = fixture_text(files[i], &len);

        oom_case(st, pol, files[i][0] == 'm' ? WH_MUTATE : WH_VALIDATE, text);
        sp_free(text);
    }
    place_state_free(st);
    pol_free(pol);
}

int main(void)
{
    static const sp_test tests[] = {
        SP_TEST(t_fixture_sequence),
        SP_TEST(t_fixture_every),
        SP_TEST(t_fixture_pool_missing),
        SP_TEST(t_pod_denials),
        SP_TEST(t_pod_label_denials),
        SP_TEST(t_pod_contradiction),
        SP_TEST(t_pool_denials),
        SP_TEST(t_malformed_envelope),
        SP_TEST(t_malformed_request),
        SP_TEST(t_case_and_versions),
        SP_TEST(t_huge_strings),
        SP_TEST(t_deep_nesting),
        SP_TEST(t_audit),
        SP_TEST(t_scheduler_name),
        SP_TEST(t_annotations),
        SP_TEST(t_idempotent),
        SP_TEST(t_affinity_create),
        SP_TEST(t_affinity_merge),
        SP_TEST(t_affinity_pools),
        SP_TEST(t_affinity_malformed),
        SP_TEST(t_unmanaged),
        SP_TEST(t_others_untouched),
        SP_TEST(t_resource_only),
        SP_TEST(t_delete),
        SP_TEST(t_dry_run),
        SP_TEST(t_update),
        SP_TEST(t_generate_name),
        SP_TEST(t_base64_and_pointers),
        SP_TEST(t_case_steps),
        SP_TEST(t_case_body_in_place),
        SP_TEST(t_oom),
        SP_TEST(t_oom_fixtures),
        SP_TEST_END,
    };

    return sp_test_run("webhook", tests);
}
