/*
 * Tests of the Kubernetes-object edge (kobj/): every Node, Pod and HostPool
 * conversion with the decisions documented in kobj.h, malformed input with
 * the exact message, lists and files into a state, the real payloads
 * captured from a cluster (../shared/fixtures, or $SP_FIXTURES_DIR; those
 * tests skip their own part when the fixtures are absent), a structural
 * mutation sweep over them (every value replaced by every other JSON type:
 * an error or a result, never a crash or a leak), and running out of memory
 * at every allocation.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kobj/kobj.h"
#include "kobj/kobj_json.h"
#include "kobj/kobj_skim.h"
#include "policy/pol.h"
#include "tests/test_util.h"
#include "util/sp_alloc.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                    */
/* ------------------------------------------------------------------------ */

/* A copy of text (sp_free) with double quotes for its single ones. */
static char *dq(const char *text)
{
    char *copy = sp_strdup(text);

    CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
    for (char *c = copy; *c; c++)
        if (*c == '\'')
            *c = '"';
    return copy;
}

/* Parse JSON written with single quotes for readability. */
static cJSON *J(const char *text)
{
    char *copy = dq(text);
    cJSON *root = NULL;
    sp_err err;

    if (kobj_parse_json(copy, strlen(copy), &root, &err) != SP_OK)
        fprintf(stderr, "\n  bad test JSON: %s\n  %s\n", err.msg, copy);
    sp_free(copy);
    CU_ASSERT_PTR_NOT_NULL_FATAL(root);
    return root;
}

/* The value of label key in kv, or NULL. */
static const char *kv_get(const place_kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0)
            return kv[i].value;
    return NULL;
}

/* The message of converting text as a Node, which must fail (static). */
static const char *node_error(const char *text)
{
    static sp_err err;
    cJSON *root = J(text);
    kobj_node n;

    sp_err_clear(&err);
    CU_ASSERT_NOT_EQUAL(kobj_node_from_json(root, &n, &err), SP_OK);
    CU_ASSERT_PTR_NULL(n.labels);
    CU_ASSERT_PTR_NULL(n.taints);
    kobj_node_clear(&n);
    cJSON_Delete(root);
    return err.msg;
}

static const char *pod_error(const char *text)
{
    static sp_err err;
    cJSON *root = J(text);
    kobj_pod p;

    sp_err_clear(&err);
    CU_ASSERT_NOT_EQUAL(kobj_pod_from_json(root, "default", &p, &err), SP_OK);
    CU_ASSERT_PTR_NULL(p.uid);
    CU_ASSERT_PTR_NULL(p.labels);
    kobj_pod_clear(&p);
    cJSON_Delete(root);
    return err.msg;
}

static const char *pool_error(const char *text)
{
    static sp_err err;
    cJSON *root = J(text);
    kobj_pool p;

    sp_err_clear(&err);
    CU_ASSERT_NOT_EQUAL(kobj_pool_from_json(root, "default", &p, &err), SP_OK);
    CU_ASSERT_PTR_NULL(p.tags);
    kobj_pool_clear(&p);
    cJSON_Delete(root);
    return err.msg;
}

/* A pod with one container requesting cpu and mem ("" for none). */
#define POD_HEAD "{'kind':'Pod','metadata':{'name':'p','namespace':'ns'},"

static place_state *new_state(void)
{
    place_policy pp;
    place_state *st = NULL;

    place_policy_default(&pp);
    CU_ASSERT_EQUAL_FATAL(place_state_new(&pp, &st), SP_OK);
    return st;
}

/* ------------------------------------------------------------------------ */
/* JSON helpers                                                               */
/* ------------------------------------------------------------------------ */

static void t_quote_and_paths(void)
{
    char buf[KOBJ_QUOTE_MAX], path[16];
    cJSON *v;

    kobj_quote("a\"b\\c\n\x01", buf, sizeof(buf));
    SP_ASSERT_STR(buf, "\"a\\\"b\\\\c\\n\\x01\"");
    kobj_quote("0123456789abcdef", buf, 12);
    SP_ASSERT_STR(buf, "\"012345\"...");
    /* never half a UTF-8 sequence before the ellipsis */
    kobj_quote("ab\xc3\xa9\xc3\xa9\xc3\xa9", buf, 11);
    SP_ASSERT_STR(buf, "\"ab\xc3\xa9\xc3\xa9\xc3\xa9\"");  /* just fits */
    kobj_quote("ab\xc3\xa9\xc3\xa9\xc3\xa9", buf, 10);
    SP_ASSERT_STR(buf, "\"ab\xc3\xa9\"...");
    kobj_quote("ab\xc3\xa9\xc3\xa9\xc3\xa9", buf, 9);
    SP_ASSERT_STR(buf, "\"ab\"...");
    kobj_quote("ab\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", buf, 12);
    SP_ASSERT_STR(buf, "\"ab\xe2\x82\xac\"...");
    kobj_quote(NULL, buf, sizeof(buf));
    SP_ASSERT_STR(buf, "\"\"");
    kobj_path(path, sizeof(path), "", "spec");
    SP_ASSERT_STR(path, "spec");
    kobj_path(path, sizeof(path), "spec", "containers");
    SP_ASSERT_STR(path, "spec.containers");
    kobj_path_index(path, sizeof(path), "spec.containers", 12);
    SP_ASSERT_STR(path, "spec.contain...");
    kobj_path_index(path, sizeof(path), "spec", 0);
    SP_ASSERT_STR(path, "spec[0]");
    kobj_path_index(path, sizeof(path), "spec.contai", 1234);
    SP_ASSERT_STR(path, "spec.contai[...");
    kobj_path(path, sizeof(path), "metadata.labe", "x");
    SP_ASSERT_STR(path, "metadata.labe.x"); /* just fits */
    kobj_path(path, sizeof(path), "metadata.annotations", "x");
    SP_ASSERT_STR(path, "metadata.ann...");
    kobj_path(path, 3, "", "spec");
    SP_ASSERT_STR(path, "sp");
    kobj_path_key(path, sizeof(path), "labels", "a");
    SP_ASSERT_STR(path, "labels[\"a\"]");
    v = J("[null, true, 1.5, 'x', [], {}]");
    SP_ASSERT_STR(kobj_json_type(cJSON_GetArrayItem(v, 0)), "null");
    SP_ASSERT_STR(kobj_json_type(cJSON_GetArrayItem(v, 1)), "a boolean");
    SP_ASSERT_STR(kobj_json_type(cJSON_GetArrayItem(v, 2)), "a number");
    SP_ASSERT_STR(kobj_json_type(cJSON_GetArrayItem(v, 3)), "a string");
    SP_ASSERT_STR(kobj_json_type(cJSON_GetArrayItem(v, 4)), "an array");
    SP_ASSERT_STR(kobj_json_type(cJSON_GetArrayItem(v, 5)), "an object");
    kobj_json_describe(cJSON_GetArrayItem(v, 2), buf, sizeof(buf));
    SP_ASSERT_STR(buf, "a number (1.5)");
    cJSON_Delete(v);
}

/* Members are found as Go's decoder finds them: the exact name first, else
 * the first that differs only in case. */
static void t_member(void)
{
    cJSON *o = J("{'NAME':1,'Name':2,'name':3,'Kind':4,'':5}");
    cJSON *not_object = J("['name']");

    CU_ASSERT_EQUAL(kobj_member(o, "name")->valueint, 3);
    CU_ASSERT_EQUAL(kobj_member(o, "Name")->valueint, 2);
    CU_ASSERT_EQUAL(kobj_member(o, "nAmE")->valueint, 1);
    CU_ASSERT_EQUAL(kobj_member(o, "kind")->valueint, 4);
    CU_ASSERT_EQUAL(kobj_member(o, "")->valueint, 5);
    CU_ASSERT_PTR_NULL(kobj_member(o, "names"));
    CU_ASSERT_PTR_NULL(kobj_member(o, "nam"));
    CU_ASSERT_PTR_NULL(kobj_member(not_object, "name"));
    CU_ASSERT_PTR_NULL(kobj_member(NULL, "name"));
    cJSON_Delete(not_object);
    cJSON_Delete(o);
}

static void t_getters(void)
{
    cJSON *o = J("{'S':'x','n':null,'i':7,'f':7.5,'b':true,'a':[],'o':{}}");
    const cJSON *sub;
    const char *s;
    int64_t i = -1;
    bool b = false, present = true;
    sp_err err;

    CU_ASSERT_EQUAL(kobj_get_string(o, "", "s", &s, &err), SP_OK);
    SP_ASSERT_STR(s, "x");                         /* case-insensitive */
    CU_ASSERT_EQUAL(kobj_get_string(o, "", "n", &s, &err), SP_OK);
    CU_ASSERT_PTR_NULL(s);                         /* null is absent */
    CU_ASSERT_EQUAL(kobj_get_int(o, "", "missing", 0, 9, &i, &present, &err),
                    SP_OK);
    CU_ASSERT_FALSE(present);
    CU_ASSERT_EQUAL(i, -1);
    CU_ASSERT_EQUAL(kobj_get_int(o, "", "i", 0, 9, &i, &present, &err), SP_OK);
    CU_ASSERT_EQUAL(i, 7);
    CU_ASSERT_EQUAL(kobj_get_int(o, "top", "i", 0, 5, &i, NULL, &err),
                    SP_EPARSE);
    SP_ASSERT_STR(err.msg, "top.i: must be an integer from 0 to 5, got a "
                           "number (7)");
    CU_ASSERT_EQUAL(kobj_get_int(o, "", "f", 0, 9, &i, NULL, &err), SP_EPARSE);
    CU_ASSERT_EQUAL(kobj_get_bool(o, "", "b", &b, &present, &err), SP_OK);
    CU_ASSERT_TRUE(b && present);
    CU_ASSERT_EQUAL(kobj_get_bool(o, "", "s", &b, NULL, &err), SP_EPARSE);
    SP_ASSERT_STR(err.msg, "s: must be true or false, got a string (\"x\")");
    CU_ASSERT_EQUAL(kobj_get_array(o, "", "a", &sub, &err), SP_OK);
    CU_ASSERT_PTR_NOT_NULL(sub);
    CU_ASSERT_EQUAL(kobj_get_array(o, "", "o", &sub, &err), SP_EPARSE);
    SP_ASSERT_STR(err.msg, "o: must be an array, got an object");
    CU_ASSERT_EQUAL(kobj_get_object(o, "", "a", &sub, &err), SP_EPARSE);
    SP_ASSERT_STR(err.msg, "a: must be an object, got an array");
    CU_ASSERT_EQUAL(kobj_get_string(NULL, "", "a", &s, &err), SP_OK);
    CU_ASSERT_PTR_NULL(s);
    cJSON_Delete(o);
}

static void t_prefix_path(void)
{
    sp_err err;

    sp_err_set(&err, SP_EPARSE, "spec.size: bad");
    kobj_prefix_path(&err, "items[2]");
    SP_ASSERT_STR(err.msg, "items[2].spec.size: bad");
    sp_err_set(&err, SP_EPARSE, "metadata[\"x\"]: bad");
    kobj_prefix_path(&err, "items[0]");
    SP_ASSERT_STR(err.msg, "items[0].metadata[\"x\"]: bad");
    sp_err_set(&err, SP_EPARSE, "must be an object, got null");
    kobj_prefix_path(&err, "items[1]");
    SP_ASSERT_STR(err.msg, "items[1]: must be an object, got null");
    sp_err_set(&err, SP_EPARSE, "specimen: x");
    kobj_prefix_path(&err, "items[1]");
    SP_ASSERT_STR(err.msg, "items[1]: specimen: x");
    kobj_prefix_path(NULL, "x");
}

static void t_parse_json(void)
{
    cJSON *root = NULL;
    sp_err err;

    CU_ASSERT_EQUAL(kobj_parse_json("{\"a\":1}", 7, &root, &err), SP_OK);
    cJSON_Delete(root);
    /* only len bytes count, the rest is not read */
    CU_ASSERT_EQUAL(kobj_parse_json("{\"a\":1}garbage", 7, &root, &err), SP_OK);
    cJSON_Delete(root);
    CU_ASSERT_EQUAL(kobj_parse_json("{\n  \"a\": tru\n}", 14, &root, &err),
                    SP_EPARSE);
    SP_ASSERT_STR(err.msg, "not JSON: syntax error at line 2, column 8");
    CU_ASSERT_PTR_NULL(root);
    CU_ASSERT_EQUAL(kobj_parse_json(" \n", 2, &root, &err), SP_EPARSE);
    SP_ASSERT_STR(err.msg, "not JSON: the input is empty");
    CU_ASSERT_EQUAL(kobj_parse_json("{} []", 5, &root, &err), SP_EPARSE);
    SP_ASSERT_STR(err.msg, "not JSON: syntax error at line 1, column 4");
}

/* ------------------------------------------------------------------------ */
/* Skimming managedFields before parsing                                      */
/* ------------------------------------------------------------------------ */

/* dq(text), skimmed (and NUL-terminated). */
static char *skimmed(const char *text, size_t *emptied)
{
    char *copy = dq(text);
    size_t len = strlen(copy);

    *emptied = kobj_skim_managed_fields(copy, &len);
    copy[len] = '\0';
    return copy;
}

/* in skimmed is want (both with single quotes), n arrays emptied. */
static void expect_skim(const char *in, const char *want, size_t n)
{
    size_t emptied;
    char *got = skimmed(in, &emptied);
    char *expected = dq(want);

    if (strcmp(got, expected))
        fprintf(stderr, "\n  skim of %s\n  gave   %s\n", in, got);
    CU_ASSERT_STRING_EQUAL(got, expected);
    CU_ASSERT_EQUAL(emptied, n);
    sp_free(got);
    sp_free(expected);
}

static void expect_kept(const char *in)
{
    expect_skim(in, in, 0);
}

static void t_skim_empties(void)
{
    expect_skim("{'managedFields':[{'a':1}],'b':2}", "{'managedFields':[],'b':2}", 1);
    expect_skim("{'request':{'object':{'metadata':{'managedFields':[1,2]}},"
                "'oldObject':{'metadata':{'managedFields' : [ true ]}}}}",
                "{'request':{'object':{'metadata':{'managedFields':[]}},"
                "'oldObject':{'metadata':{'managedFields' : []}}}}", 2);
    expect_skim("{'managedFields':[1,\n2]}", "{'managedFields':[]}", 1);
    expect_skim("{ 'managedFields':[] }", "{ 'managedFields':[] }", 1);
    /* every kind of value, escapes cJSON takes, nesting */
    expect_skim("{'managedFields':[null,false,-0.5e+3,{'k:{\\'a\\'}':{}},"
                "'\\uD83D\\uDE00\\u00e9\\n\\/']}",
                "{'managedFields':[]}", 1);
}

static void t_skim_keeps(void)
{
    char in[128], digits[64];

    /* not a member name, or not an array */
    expect_kept("{'managedFields':'[1]'}");
    expect_kept("['managedFields',[1]]");
    expect_kept("{'x\\'managedFields':[1]}");
    expect_kept("{'ManagedFields':[1]}");
    /* arrays that are not valid JSON, or that cJSON would refuse */
    static const char *const bad[] = {
        "[1,]", "[01]", "[1.]", "[-]", "[1e]", "[tru]", "[1 2]", "[{'a' 1}]",
        "[{1:2}]", "['\t']", "['a\\x']", "['\\u12G4']", "['\\uDC00']",
        "['\\uD800']", "['\\uD800x']", "['\\uD800\\u0041']", "[1", "['abc",
        "[[]", "[,]", "[1}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CU_ASSERT_FATAL(snprintf(in, sizeof(in), "{'managedFields':%s}", bad[i]) > 0);
        expect_kept(in);
    }
    /* a number cJSON reads whole (63 characters), and one it would not */
    memset(digits, '1', 63);
    digits[63] = '\0';
    CU_ASSERT_FATAL(snprintf(in, sizeof(in), "{'managedFields':[%s]}", digits) > 0);
    expect_skim(in, "{'managedFields':[]}", 1);
    CU_ASSERT_FATAL(snprintf(in, sizeof(in), "{'managedFields':[1%s]}", digits) > 0);
    expect_kept(in);
}

/* KOBJ_SKIM_MAX_DEPTH levels of arrays are emptied, one more is kept. */
static void t_skim_depth(void)
{
    static const char key[] = "{'managedFields':";

    for (int levels = KOBJ_SKIM_MAX_DEPTH; levels <= KOBJ_SKIM_MAX_DEPTH + 1; levels++) {
        char in[256];
        size_t n = sizeof(key) - 1, emptied;

        memcpy(in, key, n);
        memset(in + n, '[', (size_t)levels);
        memset(in + n + levels, ']', (size_t)levels);
        memcpy(in + n + 2 * levels, "}", 2);
        sp_free(skimmed(in, &emptied));
        CU_ASSERT_EQUAL(emptied, levels <= KOBJ_SKIM_MAX_DEPTH ? 1u : 0u);
    }
}

/* ------------------------------------------------------------------------ */
/* Nodes                                                                      */
/* ------------------------------------------------------------------------ */

static void t_node_full(void)
{
    cJSON *root = J(
        "{'apiVersion':'v1','kind':'Node','metadata':{'name':'n1','labels':"
        "{'tag.streams.io/ssd':'true','zone':'a'}},'spec':{'taints':["
        "{'key':'dedicated','value':'streams','effect':'NoSchedule'},"
        "{'key':'soft','effect':'PreferNoSchedule'},"
        "{'key':'gone','value':'','effect':'NoExecute'}]},"
        "'status':{'allocatable':{'cpu':'3500m','memory':'8Gi','pods':'110'},"
        "'conditions':[{'type':'MemoryPressure','status':'False'},"
        "{'type':'Ready','status':'True'}]}}");
    kobj_node n;
    sp_err err;

    CU_ASSERT_EQUAL_FATAL(kobj_node_from_json(root, &n, &err), SP_OK);
    SP_ASSERT_STR(n.in.name, "n1");
    CU_ASSERT_EQUAL(n.in.n_labels, 2);
    SP_ASSERT_STR(kv_get(n.in.labels, n.in.n_labels, "tag.streams.io/ssd"),
                  "true");
    CU_ASSERT_EQUAL(n.in.allocatable.cpu_milli, 3500);
    CU_ASSERT_EQUAL(n.in.allocatable.memory, 8LL << 30);
    CU_ASSERT_EQUAL(n.in.allocatable.pods, 110);
    CU_ASSERT_EQUAL(n.in.condition, PLACE_NODE_READY);
    CU_ASSERT_EQUAL_FATAL(n.in.n_taints, 2);     /* PreferNoSchedule dropped */
    SP_ASSERT_STR(n.in.taints[0].key, "dedicated");
    SP_ASSERT_STR(n.in.taints[0].value, "streams");
    SP_ASSERT_STR(n.in.taints[0].effect, "NoSchedule");
    SP_ASSERT_STR(n.in.taints[1].key, "gone");
    CU_ASSERT_PTR_NULL(n.in.taints[1].value);    /* "" is no value */
    SP_ASSERT_STR(n.in.taints[1].effect, "NoExecute");
    kobj_node_clear(&n);
    kobj_node_clear(NULL);
    cJSON_Delete(root);
}

/* Condition and allocatable of a node written as text. */
static void node_check(const char *text, place_node_condition cond,
                       int64_t cpu, int64_t mem, int64_t pods)
{
    cJSON *root = J(text);
    kobj_node n;
    sp_err err;

    CU_ASSERT_EQUAL_FATAL(kobj_node_from_json(root, &n, &err), SP_OK);
    CU_ASSERT_EQUAL(n.in.condition, cond);
    CU_ASSERT_EQUAL(n.in.allocatable.cpu_milli, cpu);
    CU_ASSERT_EQUAL(n.in.allocatable.memory, mem);
    CU_ASSERT_EQUAL(n.in.allocatable.pods, pods);
    kobj_node_clear(&n);
    cJSON_Delete(root);
}

static void t_node_conditions(void)
{
    /* no kind, no status at all: ready, nothing allocatable */
    node_check("{'metadata':{'name':'a'}}", PLACE_NODE_READY, 0, 0, 0);
    node_check("{'metadata':{'name':'a'},'status':{'conditions':[]}}",
               PLACE_NODE_READY, 0, 0, 0);
    node_check("{'metadata':{'name':'a'},'spec':{'unschedulable':true}}",
               PLACE_NODE_CORDONED, 0, 0, 0);
    node_check("{'metadata':{'name':'a'},'spec':{'unschedulable':false}}",
               PLACE_NODE_READY, 0, 0, 0);
    node_check("{'metadata':{'name':'a'},'status':{'conditions':"
               "[{'type':'Ready','status':'Unknown'}]}}",
               PLACE_NODE_NOT_READY, 0, 0, 0);
    node_check("{'metadata':{'name':'a'},'status':{'conditions':"
               "[{'type':'Ready'}]}}", PLACE_NODE_NOT_READY, 0, 0, 0);
    /* not ready wins over cordoned */
    node_check("{'metadata':{'name':'a'},'spec':{'unschedulable':true},"
               "'status':{'conditions':[{'type':'Ready','status':'False'}]}}",
               PLACE_NODE_NOT_READY, 0, 0, 0);
    /* numbers as YAML writes them, partial allocatable, memory rounded up */
    node_check("{'metadata':{'name':'a'},'status':{'allocatable':"
               "{'cpu':4,'memory':'1500m'}}}", PLACE_NODE_READY, 4000, 2, 0);
    node_check("{'metadata':{'name':'a'},'status':{'allocatable':"
               "{'cpu':0.5,'pods':null}}}", PLACE_NODE_READY, 500, 0, 0);
    /* field names are case-insensitive, as in Go */
    node_check("{'METADATA':{'Name':'a'},'Status':{'Allocatable':"
               "{'CPU':'2'}}}", PLACE_NODE_READY, 2000, 0, 0);
}

static void t_node_errors(void)
{
    SP_ASSERT_STR(node_error("[]"), "must be a Node object, got an array");
    SP_ASSERT_STR(node_error("{'kind':'Pod','metadata':{'name':'a'}}"),
                  "kind: must be \"Node\", got a string (\"Pod\")");
    SP_ASSERT_STR(node_error("{'kind':'Node'}"),
                  "metadata.name: missing; every object needs a name");
    SP_ASSERT_STR(node_error("{'metadata':{'name':''}}"),
                  "metadata.name: missing; every object needs a name");
    SP_ASSERT_STR(node_error("{'metadata':{'name':5}}"),
                  "metadata.name: must be a string, got a number (5)");
    SP_ASSERT_STR(node_error("{'metadata':[]}"),
                  "metadata: must be an object, got an array");
    SP_ASSERT_STR(node_error("{'metadata':{'name':'a','labels':{'x':1}}}"),
                  "metadata.labels[\"x\"]: must be a string, got a number (1)");
    SP_ASSERT_STR(node_error("{'metadata':{'name':'a','labels':['x']}}"),
                  "metadata.labels: must be an object, got an array");
    SP_ASSERT_STR(node_error("{'metadata':{'name':'a'},'status':{'allocatable':"
                             "{'cpu':'abc'}}}"),
                  "status.allocatable.cpu: quantity \"abc\" is malformed: use "
                  "a number with an optional suffix (m, k, M, G, Ki, Mi, Gi, "
                  "...) or exponent (2e3)");
    SP_ASSERT_STR(node_error("{'metadata':{'name':'a'},'status':{'allocatable':"
                             "{'memory':true}}}"),
                  "status.allocatable.memory: must be a quantity such as "
                  "\"500m\" or \"1Gi\", got true");
    SP_ASSERT_STR(node_error("{'metadata':{'name':'a'},'status':{'allocatable':"
                             "{'pods':'-1'}}}"),
                  "status.allocatable.pods: quantity \"-1\" is negative: "
                  "quantities must not be negative; use 0 or more");
    SP_ASSERT_STR(node_error("{'metadata':{'name':'a'},'spec':"
                             "{'unschedulable':'yes'}}"),
                  "spec.unschedulable: must be true or false, got a string "
                  "(\"yes\")");
    SP_ASSERT_STR(node_error("{'metadata':{'name':'a'},'status':"
                             "{'conditions':{}}}"),
                  "status.conditions: must be an array, got an object");
    SP_ASSERT_STR(node_error("{'metadata':{'name':'a'},'status':"
                             "{'conditions':[{'type':'Ready'},7]}}"),
                  "status.conditions[1]: must be an object, got a number (7)");
    SP_ASSERT_STR(node_error("{'metadata':{'name':'a'},'status':"
                             "{'conditions':[{'type':'Ready','status':true}]}}"),
                  "status.conditions[0].status: must be a string, got true");
    SP_ASSERT_STR(node_error("{'metadata':{'name':'a'},'spec':{'taints':"
                             "[{'effect':'NoSchedule'}]}}"),
                  "spec.taints[0].key: missing; a taint needs a key");
    SP_ASSERT_STR(node_error("{'metadata':{'name':'a'},'spec':{'taints':"
                             "[{'key':'k','effect':'NoSchedule'},'x']}}"),
                  "spec.taints[1]: must be an object, got a string (\"x\")");
    SP_ASSERT_STR(node_error("{'metadata':{'name':'a'},'spec':7}"),
                  "spec: must be an object, got a number (7)");
}

/* ------------------------------------------------------------------------ */
/* Pods                                                                       */
/* ------------------------------------------------------------------------ */

static void t_pod_full(void)
{
    cJSON *root = J(
        POD_HEAD "'spec':{'nodeName':'n1','containers':["
        "{'name':'a','resources':{'requests':{'cpu':'250m','memory':'100Mi'}}},"
        "{'name':'b','resources':{'requests':{'cpu':'1'},'limits':"
        "{'cpu':'2','memory':'1Gi'}}}],"
        "'tolerations':[{'key':'dedicated','operator':'Equal','value':"
        "'streams','effect':'NoSchedule'},{'operator':'Exists'},"
        "{'key':'','effect':''}]},'status':{'phase':'Running'}}");
    kobj_pod p;
    sp_err err;

    CU_ASSERT_EQUAL_FATAL(kobj_pod_from_json(root, NULL, &p, &err), SP_OK);
    SP_ASSERT_STR(p.in.namespace_, "ns");
    SP_ASSERT_STR(p.in.name, "p");
    SP_ASSERT_STR(p.in.uid, "ns/p");              /* synthesised */
    SP_ASSERT_STR(p.in.node, "n1");
    CU_ASSERT_PTR_NULL(p.in.previous_node);
    CU_ASSERT_EQUAL(p.in.requests.cpu_milli, 1250);
    /* container b has no memory request: its limit counts */
    CU_ASSERT_EQUAL(p.in.requests.memory, (100LL << 20) + (1LL << 30));
    CU_ASSERT_EQUAL(p.in.requests.pods, 1);
    CU_ASSERT_EQUAL_FATAL(p.in.n_tolerations, 3);
    SP_ASSERT_STR(p.in.tolerations[0].key, "dedicated");
    SP_ASSERT_STR(p.in.tolerations[0].operator_, "Equal");
    SP_ASSERT_STR(p.in.tolerations[0].value, "streams");
    SP_ASSERT_STR(p.in.tolerations[0].effect, "NoSchedule");
    CU_ASSERT_PTR_NULL(p.in.tolerations[1].key);
    SP_ASSERT_STR(p.in.tolerations[1].operator_, "Exists");
    CU_ASSERT_PTR_NULL(p.in.tolerations[2].key);  /* "" is absent */
    CU_ASSERT_PTR_NULL(p.in.tolerations[2].effect);
    CU_ASSERT_FALSE(p.terminal);
    CU_ASSERT_FALSE(p.terminating);
    kobj_pod_clear(&p);
    kobj_pod_clear(NULL);
    cJSON_Delete(root);
}

/* The effective requests of a pod whose spec is given. */
static void requests_are(const char *spec, int64_t cpu, int64_t mem)
{
    char text[2048];
    cJSON *root;
    kobj_pod p;
    sp_err err;

    snprintf(text, sizeof(text), POD_HEAD "'spec':%s}", spec);
    root = J(text);
    CU_ASSERT_EQUAL_FATAL(kobj_pod_from_json(root, NULL, &p, &err), SP_OK);
    if (p.in.requests.cpu_milli != cpu || p.in.requests.memory != mem)
        fprintf(stderr, "\n  %s: cpu %lld mem %lld\n", spec,
                (long long)p.in.requests.cpu_milli,
                (long long)p.in.requests.memory);
    CU_ASSERT_EQUAL(p.in.requests.cpu_milli, cpu);
    CU_ASSERT_EQUAL(p.in.requests.memory, mem);
    kobj_pod_clear(&p);
    cJSON_Delete(root);
}

#define C(cpu, mem) \
    "{'resources':{'requests':{'cpu':'" cpu "','memory':'" mem "'}}}"
#define SIDECAR(cpu, mem) \
    "{'restartPolicy':'Always','resources':{'requests':{'cpu':'" cpu \
    "','memory':'" mem "'}}}"

static void t_pod_requests(void)
{
    requests_are("{}", 0, 0);
    requests_are("{'containers':[]}", 0, 0);
    requests_are("{'containers':[{'name':'x'}]}", 0, 0);
    requests_are("{'containers':[" C("1", "1Ki") "," C("2", "2Ki") "]}",
                 3000, 3072);
    /* an init container larger than the sum wins, per resource */
    requests_are("{'containers':[" C("1", "1Ki") "," C("1", "1Ki") "],"
                 "'initContainers':[" C("3", "1Ki") "," C("1", "1Ki") "]}",
                 3000, 2048);
    /* sidecars run beside the containers and the later init containers */
    requests_are("{'containers':[" C("1", "1Ki") "],'initContainers':["
                 SIDECAR("500m", "1Ki") "," C("2", "4Ki") "]}",
                 2500, 5120);
    requests_are("{'containers':[" C("1", "8Ki") "],'initContainers':["
                 C("2", "1Ki") "," SIDECAR("500m", "1Ki") "]}",
                 2000, 9216);
    /* overhead on top */
    requests_are("{'containers':[" C("1", "1Ki") "],'overhead':{'cpu':'100m',"
                 "'memory':'1Ki'}}", 1100, 2048);
    /* a limit stands in for a missing request, a request beats a limit */
    requests_are("{'containers':[{'resources':{'limits':{'cpu':'2','memory':"
                 "'3Ki'}}},{'resources':{'requests':{'cpu':'1'},'limits':"
                 "{'cpu':'4'}}}]}", 3000, 3072);
}

static void t_pod_identity_and_lifecycle(void)
{
    cJSON *root = J("{'metadata':{'generateName':'job1-pe3-','uid':'u-1',"
                    "'deletionTimestamp':'2026-11-24T00:00:00Z'},"
                    "'spec':{'nodeName':''},'status':{'phase':'Succeeded'}}");
    kobj_pod p;
    sp_err err;

    CU_ASSERT_EQUAL_FATAL(kobj_pod_from_json(root, "dflt", &p, &err), SP_OK);
    SP_ASSERT_STR(p.in.name, "job1-pe3-");
    SP_ASSERT_STR(p.in.namespace_, "dflt");
    SP_ASSERT_STR(p.in.uid, "u-1");
    CU_ASSERT_PTR_NULL(p.uid);
    CU_ASSERT_PTR_NULL(p.in.node);                /* "" is unbound */
    CU_ASSERT_TRUE(p.terminal);
    CU_ASSERT_TRUE(p.terminating);
    kobj_pod_clear(&p);
    cJSON_Delete(root);
    root = J("{'metadata':{'name':'a','namespace':'b','deletionTimestamp':null},"
             "'status':{'phase':'Failed'}}");
    CU_ASSERT_EQUAL_FATAL(kobj_pod_from_json(root, NULL, &p, &err), SP_OK);
    CU_ASSERT_TRUE(p.terminal);
    CU_ASSERT_FALSE(p.terminating);
    kobj_pod_clear(&p);
    cJSON_Delete(root);
}

static void t_pod_errors(void)
{
    sp_err err;
    cJSON *root;
    kobj_pod p;

    SP_ASSERT_STR(pod_error("{'kind':'Node','metadata':{'name':'a'}}"),
                  "kind: must be \"Pod\", got a string (\"Node\")");
    SP_ASSERT_STR(pod_error("{'metadata':{'namespace':'a'}}"),
                  "metadata.name: missing; every object needs a name");
    SP_ASSERT_STR(pod_error(POD_HEAD "'spec':{'containers':{}}}"),
                  "spec.containers: must be an array, got an object");
    SP_ASSERT_STR(pod_error(POD_HEAD "'spec':{'containers':[{},3]}}"),
                  "spec.containers[1]: must be an object, got a number (3)");
    SP_ASSERT_STR(pod_error(POD_HEAD "'spec':{'containers':[{'resources':"
                            "{'requests':{'cpu':'1 m'}}}]}}"),
                  "spec.containers[0].resources.requests.cpu: quantity "
                  "\"1 m\" contains white space: remove it (\"128Mi\", not "
                  "\"128 Mi\")");
    SP_ASSERT_STR(pod_error(POD_HEAD "'spec':{'initContainers':[{'resources':"
                            "{'limits':{'memory':'1K'}}}]}}"),
                  "spec.initContainers[0].resources.limits.memory: quantity "
                  "\"1K\" is malformed: the suffix for 1000 is lowercase \"k\" "
                  "(and \"Ki\" for 1024)");
    SP_ASSERT_STR(pod_error(POD_HEAD "'spec':{'initContainers':[{"
                            "'restartPolicy':1}]}}"),
                  "spec.initContainers[0].restartPolicy: must be a string, "
                  "got a number (1)");
    SP_ASSERT_STR(pod_error(POD_HEAD "'spec':{'overhead':{'cpu':[]}}}"),
                  "spec.overhead.cpu: must be a quantity such as \"500m\" or "
                  "\"1Gi\", got an array");
    SP_ASSERT_STR(pod_error(POD_HEAD "'spec':{'containers':["
                            C("9e15", "1") "," C("9e15", "1")
                            "]}}"),
                  "spec.containers: the requests add up to more than can be "
                  "counted");
    SP_ASSERT_STR(pod_error(POD_HEAD "'spec':{'nodeName':3}}"),
                  "spec.nodeName: must be a string, got a number (3)");
    SP_ASSERT_STR(pod_error(POD_HEAD "'spec':{'tolerations':[{'key':5}]}}"),
                  "spec.tolerations[0].key: must be a string, got a number (5)");
    SP_ASSERT_STR(pod_error(POD_HEAD "'spec':{'tolerations':[null]}}"),
                  "spec.tolerations[0]: must be an object, got null");
    SP_ASSERT_STR(pod_error(POD_HEAD "'status':{'phase':{}}}"),
                  "status.phase: must be a string, got an object");
    SP_ASSERT_STR(pod_error("{'metadata':{'name':'a','annotations':"
                            "{'streams.io/host-pool':false}}}"),
                  "metadata.annotations[\"streams.io/host-pool\"]: must be a "
                  "string, got false");
    /* no namespace and no default */
    root = J("{'metadata':{'name':'a'}}");
    CU_ASSERT_EQUAL(kobj_pod_from_json(root, NULL, &p, &err), SP_EPARSE);
    SP_ASSERT_STR(err.msg, "metadata.namespace: missing; give the object's "
                           "namespace");
    cJSON_Delete(root);
}

/* ------------------------------------------------------------------------ */
/* HostPools                                                                  */
/* ------------------------------------------------------------------------ */

static void t_pool_full(void)
{
    cJSON *root = J(
        "{'apiVersion':'placement.streams.io/v1alpha1','kind':'HostPool',"
        "'metadata':{'name':'ingest','namespace':'streams'},'spec':{'job':"
        "'job1','tags':['ingest','ssd'],'hosts':['n1'],'size':2,'exclusive':"
        "true},'status':{'hosts':['n1','n3']}}");
    kobj_pool p;
    sp_err err;

    CU_ASSERT_EQUAL_FATAL(kobj_pool_from_json(root, NULL, &p, &err), SP_OK);
    SP_ASSERT_STR(p.in.namespace_, "streams");
    SP_ASSERT_STR(p.in.name, "ingest");
    SP_ASSERT_STR(p.in.job, "job1");
    CU_ASSERT_EQUAL_FATAL(p.in.n_tags, 2);
    SP_ASSERT_STR(p.in.tags[1], "ssd");
    CU_ASSERT_EQUAL_FATAL(p.in.n_hosts, 1);
    SP_ASSERT_STR(p.in.hosts[0], "n1");
    CU_ASSERT_TRUE(p.in.has_size);
    CU_ASSERT_EQUAL(p.in.size, 2);
    CU_ASSERT_TRUE(p.in.exclusive);
    CU_ASSERT_EQUAL_FATAL(p.in.n_members, 2);
    SP_ASSERT_STR(p.in.members[1], "n3");
    kobj_pool_clear(&p);
    kobj_pool_clear(NULL);
    cJSON_Delete(root);
    /* the least: a name and no spec; the content is validation's business */
    root = J("{'metadata':{'name':'p'},'spec':{'job':'','tags':[]}}");
    CU_ASSERT_EQUAL_FATAL(kobj_pool_from_json(root, "dflt", &p, &err), SP_OK);
    SP_ASSERT_STR(p.in.namespace_, "dflt");
    CU_ASSERT_PTR_NULL(p.in.job);
    CU_ASSERT_EQUAL(p.in.n_tags, 0);
    CU_ASSERT_FALSE(p.in.has_size);
    CU_ASSERT_FALSE(p.in.exclusive);
    kobj_pool_clear(&p);
    cJSON_Delete(root);
}

static void t_pool_errors(void)
{
    SP_ASSERT_STR(pool_error("{'apiVersion':'v1','kind':'HostPool',"
                             "'metadata':{'name':'p'}}"),
                  "apiVersion: must be \"placement.streams.io/<version>\", "
                  "got a string (\"v1\")");
    SP_ASSERT_STR(pool_error("{'kind':'Pod','metadata':{'name':'p'}}"),
                  "kind: must be \"HostPool\", got a string (\"Pod\")");
    SP_ASSERT_STR(pool_error("{'metadata':{'name':'p'},'spec':{'size':2.5}}"),
                  "spec.size: must be an integer, got a number (2.5)");
    SP_ASSERT_STR(pool_error("{'metadata':{'name':'p'},'spec':{'size':'2'}}"),
                  "spec.size: must be an integer, got a string (\"2\")");
    SP_ASSERT_STR(pool_error("{'metadata':{'name':'p'},'spec':{'tags':"
                             "['a',1]}}"),
                  "spec.tags[1]: must be a string, got a number (1)");
    SP_ASSERT_STR(pool_error("{'metadata':{'name':'p'},'spec':{'hosts':'n1'}}"),
                  "spec.hosts: must be an array, got a string (\"n1\")");
    SP_ASSERT_STR(pool_error("{'metadata':{'name':'p'},'spec':{'exclusive':"
                             "'true'}}"),
                  "spec.exclusive: must be true or false, got a string "
                  "(\"true\")");
    SP_ASSERT_STR(pool_error("{'metadata':{'name':'p'},'spec':{'job':['j']}}"),
                  "spec.job: must be a string, got an array");
    SP_ASSERT_STR(pool_error("{'metadata':{'name':'p'},'status':{'hosts':"
                             "[null]}}"),
                  "status.hosts[0]: must be a string, got null");
}

/* ------------------------------------------------------------------------ */
/* Lists into a state                                                         */
/* ------------------------------------------------------------------------ */

/* The message of loading text as a list of k, which must fail (static). */
static const char *load_error(kobj_kind k, const char *text)
{
    static sp_err err;
    place_state *st = new_state();
    cJSON *root = J(text);

    sp_err_clear(&err);
    CU_ASSERT_NOT_EQUAL(kobj_load_list(st, k, root, NULL, NULL, &err), SP_OK);
    cJSON_Delete(root);
    place_state_free(st);
    return err.msg;
}

/* Load text as a list of k into st; the stats. */
static kobj_load_stats load_ok(place_state *st, kobj_kind k, const char *text,
                               const pol_policy *pol)
{
    kobj_load_stats stats;
    cJSON *root = J(text);
    sp_err err;

    sp_err_clear(&err);
    if (kobj_load_list(st, k, root, pol, &stats, &err) != SP_OK) {
        fprintf(stderr, "\n  unexpected: %s\n", err.msg);
        CU_FAIL("load failed");
    }
    cJSON_Delete(root);
    return stats;
}

static void t_list_shapes(void)
{
    place_state *st = new_state();
    kobj_load_stats s;

    s = load_ok(st, KOBJ_NODE, "{'kind':'NodeList','items':[{'metadata':"
                "{'name':'a'}},{'kind':'Node','metadata':{'name':'b'}}]}", NULL);
    CU_ASSERT_EQUAL(s.items, 2);
    CU_ASSERT_EQUAL(s.loaded, 2);
    s = load_ok(st, KOBJ_NODE, "{'kind':'List','items':[{'metadata':"
                "{'name':'c'}}]}", NULL);
    CU_ASSERT_EQUAL(s.loaded, 1);
    /* a single object, and a typed list without kinds (ExtenderArgs.Nodes) */
    s = load_ok(st, KOBJ_NODE, "{'kind':'Node','metadata':{'name':'d'}}",
                NULL);
    CU_ASSERT_EQUAL(s.loaded, 1);
    s = load_ok(st, KOBJ_NODE, "{'metadata':{},'items':[{'metadata':"
                "{'name':'e'}}]}", NULL);
    CU_ASSERT_EQUAL(s.loaded, 1);
    s = load_ok(st, KOBJ_NODE, "{'kind':'NodeList','items':[]}", NULL);
    CU_ASSERT_EQUAL(s.items, 0);
    CU_ASSERT_EQUAL(place_state_node_count(st), 5);
    CU_ASSERT_NOT_EQUAL(place_state_find_node(st, "e"), PLACE_NONE);
    place_state_free(st);
}

static void t_list_errors(void)
{
    SP_ASSERT_STR(load_error(KOBJ_NODE, "[]"),
                  "must be a NodeList object (kubectl get nodes -o json), got "
                  "an array");
    SP_ASSERT_STR(load_error(KOBJ_NODE, "{'kind':'PodList','items':[]}"),
                  "kind: must be \"NodeList\", \"List\" or \"Node\", got a "
                  "string (\"PodList\")");
    SP_ASSERT_STR(load_error(KOBJ_POD, "{'kind':'List'}"),
                  "items: missing; expected a PodList as `kubectl get pods -A "
                  "-o json` writes it");
    SP_ASSERT_STR(load_error(KOBJ_HOSTPOOL, "{'kind':'HostPoolList',"
                             "'items':{}}"),
                  "items: must be an array, got an object");
    SP_ASSERT_STR(load_error(KOBJ_NODE, "{'kind':'List','items':[{'metadata':"
                             "{'name':'a'}},{'kind':'Pod'}]}"),
                  "items[1].kind: must be \"Node\", got a string (\"Pod\")");
    SP_ASSERT_STR(load_error(KOBJ_NODE, "{'items':[{'metadata':{'name':'a'}},"
                             "{'metadata':{'name':'b'}},3]}"),
                  "items[2]: must be a Node object, got a number (3)");
    SP_ASSERT_STR(load_error(KOBJ_POD, "{'kind':'PodList','items':[{},{},{},"
                             "{'metadata':{'name':'p'},'spec':{'containers':"
                             "[{'resources':{'requests':{'cpu':'abc'}}}]}}]}"),
                  "items[0].metadata.name: missing; every object needs a name");
    SP_ASSERT_STR(load_error(KOBJ_POD, "{'kind':'PodList','items':["
                             "{'metadata':{'name':'p0'}},{'metadata':{'name':"
                             "'p1'}},{'metadata':{'name':'p2'}},"
                             "{'metadata':{'name':'p'},'spec':{'containers':"
                             "[{'resources':{'requests':{'cpu':'abc'}}}]}}]}"),
                  "items[3].spec.containers[0].resources.requests.cpu: "
                  "quantity \"abc\" is malformed: use a number with an "
                  "optional suffix (m, k, M, G, Ki, Mi, Gi, ...) or exponent "
                  "(2e3)");
    /* the engine's own refusal, with the item in front */
    SP_ASSERT_STR(load_error(KOBJ_POD, "{'items':[{'metadata':{'name':'a',"
                             "'uid':'u'}},{'metadata':{'name':'b','uid':'u'}}]}"),
                  "items[1]: pod default/b: uid u is already known");
}

#define NS_STREAMS "{\"namespaces\":[\"streams\"]}"

#define PE_POD(name, ns, extra)                                               \
    "{'metadata':{'name':'" name "','namespace':'" ns "','labels':"           \
    "{'streams.io/job':'j','streams.io/pe':'" name "'}" extra "},"              \
    "'spec':{'nodeName':'n1','containers':[{'resources':{'requests':"        \
    "{'cpu':'1'}}}]}"

static void t_list_pods(void)
{
    pol_policy *pol = NULL;
    place_state *st = new_state();
    kobj_load_stats s;
    sp_err err;

    CU_ASSERT_EQUAL_FATAL(pol_parse(NS_STREAMS, strlen(NS_STREAMS), &pol,
                                    &err), SP_OK);
    load_ok(st, KOBJ_NODE, "{'items':[{'metadata':{'name':'n1'},'status':"
            "{'allocatable':{'cpu':'8','memory':'8Gi','pods':'10'}}}]}", NULL);
    s = load_ok(st, KOBJ_POD, "{'kind':'PodList','items':["
                PE_POD("a", "streams", "") "},"
                PE_POD("b", "streams", "") ",'status':{'phase':'Succeeded'}},"
                PE_POD("c", "streams", ",'deletionTimestamp':'x'") "},"
                "{'metadata':{'name':'d','namespace':'streams','labels':"
                "{'streams.io/job':'j','streams.io/pe':'d'},"
                "'deletionTimestamp':'x'}},"
                PE_POD("e", "other", "") "},"
                "{'metadata':{'name':'f','namespace':'kube-system'},"
                "'spec':{'nodeName':'n1'}}]}", pol);
    CU_ASSERT_EQUAL(s.items, 6);
    CU_ASSERT_EQUAL(s.loaded, 4);       /* a, c, e (plain usage), f */
    CU_ASSERT_EQUAL(s.skipped, 2);      /* b finished, d deleted unbound */
    CU_ASSERT_EQUAL(s.unmanaged, 1);    /* e */
    CU_ASSERT_NOT_EQUAL(place_state_find_pe(st, "streams/a"), PLACE_NONE);
    CU_ASSERT_EQUAL(place_state_find_pe(st, "streams/b"), PLACE_NONE);
    CU_ASSERT_NOT_EQUAL(place_state_find_pe(st, "streams/c"), PLACE_NONE);
    CU_ASSERT_EQUAL(place_state_find_pe(st, "streams/d"), PLACE_NONE);
    CU_ASSERT_EQUAL(place_state_find_pe(st, "other/e"), PLACE_NONE);
    place_state_free(st);
    pol_free(pol);
}

static void t_list_pools(void)
{
    pol_policy *pol = NULL;
    place_state *st = new_state();
    place_pool_info info;
    kobj_load_stats s;
    int32_t bad;
    sp_err err;

    CU_ASSERT_EQUAL_FATAL(pol_parse(NS_STREAMS, strlen(NS_STREAMS), &pol,
                                    &err), SP_OK);
    s = load_ok(st, KOBJ_HOSTPOOL, "{'kind':'List','items':["
                "{'kind':'HostPool','metadata':{'name':'good','namespace':"
                "'streams'},'spec':{'tags':['ssd']}},"
                "{'kind':'HostPool','metadata':{'name':'bad','namespace':"
                "'streams'},'spec':{'size':2}},"
                "{'kind':'HostPool','metadata':{'name':'away','namespace':"
                "'other'},'spec':{'tags':['ssd']}}]}", pol);
    CU_ASSERT_EQUAL(s.items, 3);
    CU_ASSERT_EQUAL(s.loaded, 2);
    CU_ASSERT_EQUAL(s.invalid_pools, 1);
    CU_ASSERT_EQUAL(s.unmanaged, 1);
    CU_ASSERT_NOT_EQUAL(place_state_find_pool(st, "streams", "good"), PLACE_NONE);
    CU_ASSERT_EQUAL(place_state_find_pool(st, "other", "away"), PLACE_NONE);
    bad = place_state_find_pool(st, "streams", "bad");
    CU_ASSERT_NOT_EQUAL_FATAL(bad, PLACE_NONE);
    place_pool_get(st, bad, &info);
    CU_ASSERT_PTR_NOT_NULL(info.error);
    place_state_free(st);
    pol_free(pol);
}

/* ------------------------------------------------------------------------ */
/* Files                                                                      */
/* ------------------------------------------------------------------------ */

/* A temporary file holding text; the caller unlinks and frees the name. */
static char *temp_file(const char *text)
{
    char *name = sp_strdup("/tmp/test_kobj.XXXXXX");
    int fd;

    CU_ASSERT_PTR_NOT_NULL_FATAL(name);
    fd = mkstemp(name);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return name;
}

/* The message of loading the file at path as k (static). */
static const char *file_error(kobj_kind k, const char *path)
{
    static sp_err err;
    place_state *st = new_state();

    sp_err_clear(&err);
    CU_ASSERT_NOT_EQUAL(kobj_load_file(st, k, path, NULL, NULL, &err), SP_OK);
    place_state_free(st);
    return err.msg;
}

static void t_files(void)
{
    char *good = temp_file("{\"kind\":\"NodeList\",\"items\":[{\"metadata\":"
                           "{\"name\":\"n\"}}]}");
    char *bad = temp_file("{\"kind\":\"NodeList\",\n\"items\": [\n  {]}");
    char *pods = temp_file("{\"kind\":\"NodeList\",\"items\":[]}");
    char want[512];
    place_state *st = new_state();
    kobj_load_stats s;
    char *data;
    size_t len;
    sp_err err;

    CU_ASSERT_EQUAL(kobj_load_file(st, KOBJ_NODE, good, NULL, &s, &err), SP_OK);
    CU_ASSERT_EQUAL(s.loaded, 1);
    snprintf(want, sizeof(want), "%s: not JSON: syntax error at line 3, "
             "column 5", bad);
    SP_ASSERT_STR(file_error(KOBJ_NODE, bad), want);
    snprintf(want, sizeof(want), "%s: kind: must be \"PodList\", \"List\" or "
             "\"Pod\", got a string (\"NodeList\")", pods);
    SP_ASSERT_STR(file_error(KOBJ_POD, pods), want);
    SP_ASSERT_STR(file_error(KOBJ_NODE, "/nonexistent/nodes.json"),
                  "/nonexistent/nodes.json: cannot open: No such file or "
                  "directory");
    SP_ASSERT_STR(file_error(KOBJ_NODE, "/tmp"),
                  "/tmp: cannot read: Is a directory");
    /* the cap */
    CU_ASSERT_EQUAL(kobj_read_file(good, 10, &data, &len, &err), SP_ELIMIT);
    SP_ASSERT_STR(err.msg, "larger than the limit of 10 bytes");
    CU_ASSERT_PTR_NULL(data);
    CU_ASSERT_EQUAL(kobj_read_file(good, 1000, &data, &len, &err), SP_OK);
    CU_ASSERT_EQUAL(len, strlen(data));
    sp_free(data);
    place_state_free(st);
    unlink(good);
    unlink(bad);
    unlink(pods);
    sp_free(good);
    sp_free(bad);
    sp_free(pods);
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

/* Parse fixture name (relative to the fixtures folder). */
static cJSON *fixture(const char *name)
{
    char path[1200];
    cJSON *root = NULL;
    char *data = NULL;
    size_t len;
    sp_err err;

    CU_ASSERT_FATAL(snprintf(path, sizeof(path), "%s/%s", fixtures, name) > 0);
    if (kobj_read_file(path, KOBJ_FILE_MAX, &data, &len, &err) ||
        kobj_parse_json(data, len, &root, &err))
        fprintf(stderr, "\n  %s: %s\n", path, err.msg);
    sp_free(data);
    CU_ASSERT_PTR_NOT_NULL_FATAL(root);
    return root;
}

#define NEED_FIXTURES()                                                      \
    do {                                                                     \
        if (!find_fixtures()) {                                              \
            fprintf(stderr, " (fixtures not found: skipped) ");              \
            return;                                                          \
        }                                                                    \
    } while (0)

static void load_fixture(place_state *st, kobj_kind k, const char *name,
                         size_t want)
{
    char path[1200];
    kobj_load_stats s;
    sp_err err;

    CU_ASSERT_FATAL(snprintf(path, sizeof(path), "%s/%s", fixtures, name) > 0);
    sp_err_clear(&err);
    CU_ASSERT_EQUAL(kobj_load_file(st, k, path, NULL, &s, &err), SP_OK);
    if (err.msg[0])
        fprintf(stderr, "\n  %s\n", err.msg);
    CU_ASSERT_EQUAL(s.loaded, want);
}

static void t_fixture_cluster(void)
{
    place_state *st;
    place_pe_info pe;
    place_pool_info pool;
    int32_t i;

    NEED_FIXTURES();
    st = new_state();
    load_fixture(st, KOBJ_NODE, "cluster-nodes.json", 6);
    load_fixture(st, KOBJ_HOSTPOOL, "cluster-hostpools.json", 2);
    load_fixture(st, KOBJ_POD, "cluster-pods.json", 3);
    CU_ASSERT_EQUAL(place_state_node_count(st), 6);
    i = place_state_find_pool(st, "streams", "ingest");
    CU_ASSERT_NOT_EQUAL_FATAL(i, PLACE_NONE);
    place_pool_get(st, i, &pool);
    SP_ASSERT_STR(pool.job, "job1");
    CU_ASSERT_EQUAL(pool.size, 2);
    CU_ASSERT_TRUE(pool.exclusive);
    CU_ASSERT_PTR_NULL(pool.error);
    i = place_state_find_pe(st, "e8c1936a-0539-42bf-8650-89d895921f19");
    CU_ASSERT_NOT_EQUAL_FATAL(i, PLACE_NONE);
    place_pe_get(st, i, &pe);
    SP_ASSERT_STR(pe.pod, "job1-pe0");
    SP_ASSERT_STR(pe.job, "job1");
    SP_ASSERT_STR(pe.pe, "0");
    SP_ASSERT_STR(place_node_name(st, pe.node), "fake-node-6");
    CU_ASSERT_EQUAL(pe.phase, PLACE_BOUND);
    place_state_free(st);
}

static void t_fixture_nodes_detail(void)
{
    cJSON *root;
    kobj_node n;
    sp_err err;

    NEED_FIXTURES();
    root = fixture("cluster-nodes.json");
    CU_ASSERT_EQUAL_FATAL(kobj_node_from_json(
        cJSON_GetArrayItem(cJSON_GetObjectItem(root, "items"), 2), &n, &err),
        SP_OK);
    SP_ASSERT_STR(n.in.name, "fake-node-3");
    SP_ASSERT_STR(kv_get(n.in.labels, n.in.n_labels, "tag.streams.io/ingest"),
                  "true");
    SP_ASSERT_STR(kv_get(n.in.labels, n.in.n_labels, "tag.streams.io/ssd"),
                  "true");
    CU_ASSERT_EQUAL(n.in.allocatable.cpu_milli, 8000);
    CU_ASSERT_EQUAL(n.in.allocatable.memory, 16LL << 30);
    CU_ASSERT_EQUAL(n.in.allocatable.pods, 110);
    CU_ASSERT_EQUAL(n.in.condition, PLACE_NODE_READY);
    CU_ASSERT_EQUAL(n.in.n_taints, 0);
    kobj_node_clear(&n);
    cJSON_Delete(root);
}

/* Convert request.object / oldObject of one AdmissionReview; the count. */
static int convert_review(const cJSON *review, const char *name)
{
    const cJSON *req = cJSON_GetObjectItem(review, "request");
    const char *kind = cJSON_GetStringValue(
        cJSON_GetObjectItem(cJSON_GetObjectItem(req, "kind"), "kind"));
    const char *ns = cJSON_GetStringValue(cJSON_GetObjectItem(req, "namespace"));
    static const char *const which[] = { "object", "oldObject" };
    int done = 0;

    for (size_t i = 0; i < 2; i++) {
        const cJSON *obj = cJSON_GetObjectItem(req, which[i]);
        sp_err err;
        sp_rc rc = SP_EINVAL;

        if (!cJSON_IsObject(obj))
            continue;
        sp_err_clear(&err);
        if (kind && strcmp(kind, "Pod") == 0) {
            kobj_pod p;

            rc = kobj_pod_from_json(obj, ns, &p, &err);
            if (rc == SP_OK) {
                CU_ASSERT_TRUE(place_is_pe(p.in.labels, p.in.n_labels));
                CU_ASSERT_EQUAL(p.in.requests.pods, 1);
                CU_ASSERT_TRUE(p.in.requests.cpu_milli > 0);
                SP_ASSERT_STR(p.in.namespace_, "streams");
            }
            kobj_pod_clear(&p);
        } else if (kind && strcmp(kind, "HostPool") == 0) {
            kobj_pool p;

            rc = kobj_pool_from_json(obj, ns, &p, &err);
            if (rc == SP_OK)
                CU_ASSERT_TRUE(p.in.n_tags > 0);
            kobj_pool_clear(&p);
        }
        if (rc)
            fprintf(stderr, "\n  %s %s: %s\n", name, which[i], err.msg);
        CU_ASSERT_EQUAL(rc, SP_OK);
        done++;
    }
    return done;
}

static void t_fixture_admission(void)
{
    static const char *const files[] = {
        "mutate-create-pod-generatename-job1-pe3.json",
        "mutate-create-pod-job1-pe0.json", "mutate-create-pod-job1-pe1.json",
        "mutate-create-pod-job1-pe2.json",
        "validate-create-hostpool-any-ssd.json",
        "validate-create-hostpool-ingest.json",
        "validate-create-pod-job1-pe0.json", "validate-create-pod-job1-pe1.json",
        "validate-create-pod-job1-pe2.json", "validate-create-pod-job1-pe3.json",
        "validate-delete-pod-job1-pe2-again.json",
        "validate-delete-pod-job1-pe2.json",
        "validate-update-hostpool-any-ssd.json",
    };
    char name[256];
    int done = 0;

    NEED_FIXTURES();
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        cJSON *root;

        CU_ASSERT_FATAL(snprintf(name, sizeof(name), "admission/%s",
                                 files[i]) > 0);
        root = fixture(name);
        done += convert_review(root, files[i]);
        cJSON_Delete(root);
    }
    /* 11 objects, and the old objects of 2 deletes and 1 update */
    CU_ASSERT_EQUAL(done, 14);
}

/* In tree, every managedFields member that is an array made empty; how many. */
static size_t empty_managed_fields(cJSON *tree)
{
    size_t n = 0;

    for (cJSON *c = tree->child, *next; c; c = next) {
        next = c->next; /* c may be replaced */
        if (cJSON_IsArray(c) && c->string && !strcmp(c->string, "managedFields")) {
            CU_ASSERT_FATAL(cJSON_ReplaceItemInObjectCaseSensitive(tree, c->string,
                                                                cJSON_CreateArray()));
            n++;
        } else {
            n += empty_managed_fields(c);
        }
    }
    return n;
}

/* Each captured review parses, skimmed, to the tree it parses to with its
 * managedFields emptied afterwards: nothing else is touched. */
static void t_fixture_skim(void)
{
    static const char *const files[] = {
        "admission/mutate-create-pod-job1-pe0.json",
        "admission/validate-create-pod-job1-pe0.json",
        "admission/validate-delete-pod-job1-pe2.json",
        "admission/validate-update-hostpool-any-ssd.json",
        "cluster-pods.json",
    };
    static const size_t arrays[] = { 1, 1, 1, 2, 0 }; /* kubectl leaves them out */
    char path[1200], *data = NULL;
    size_t len;
    sp_err err;

    NEED_FIXTURES();
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        cJSON *skim = NULL, *whole = fixture(files[i]);

        CU_ASSERT_FATAL(snprintf(path, sizeof(path), "%s/%s", fixtures, files[i]) > 0);
        CU_ASSERT_FATAL(kobj_read_file(path, KOBJ_FILE_MAX, &data, &len, &err) == SP_OK);
        CU_ASSERT_EQUAL(kobj_skim_managed_fields(data, &len), arrays[i]);
        CU_ASSERT_EQUAL(kobj_parse_json(data, len, &skim, &err), SP_OK);
        CU_ASSERT_EQUAL(empty_managed_fields(whole), arrays[i]);
        CU_ASSERT(cJSON_Compare(whole, skim, 1));
        cJSON_Delete(whole);
        cJSON_Delete(skim);
        sp_free(data);
    }
}

static void t_fixture_extender(void)
{
    static const char *const files[] = {
        "extender-nodelist/filter-job1-pe0.json",
        "extender-nodelist/prioritize-job1-pe1.json",
        "extender-nodenames/filter-job1-pe3.json",
    };

    NEED_FIXTURES();
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        cJSON *root = fixture(files[i]);
        const cJSON *nodes = cJSON_GetObjectItem(root, "nodes");
        place_state *st = new_state();
        kobj_load_stats s;
        kobj_pod p;
        sp_err err;

        sp_err_clear(&err);
        CU_ASSERT_EQUAL(kobj_pod_from_json(cJSON_GetObjectItem(root, "pod"),
                                           NULL, &p, &err), SP_OK);
        CU_ASSERT_TRUE(place_is_pe(p.in.labels, p.in.n_labels));
        kobj_pod_clear(&p);
        if (cJSON_IsObject(nodes)) {
            CU_ASSERT_EQUAL(kobj_load_list(st, KOBJ_NODE, nodes, NULL, &s,
                                           &err), SP_OK);
            CU_ASSERT_EQUAL(s.loaded, 6);
        }
        place_state_free(st);
        cJSON_Delete(root);
    }
}

/* ------------------------------------------------------------------------ */
/* Mutation sweep: every value of the fixtures replaced by every JSON type    */
/* ------------------------------------------------------------------------ */

typedef void (*convert_fn)(const cJSON *root);

static size_t sweep_runs, sweep_errors;

static void record(sp_rc rc, const sp_err *err)
{
    sweep_runs++;
    if (rc == SP_OK)
        return;
    sweep_errors++;
    CU_ASSERT_TRUE(err->msg[0] != '\0');
}

static void conv_pod(const cJSON *root)
{
    kobj_pod p;
    sp_err err;

    sp_err_clear(&err);
    record(kobj_pod_from_json(root, "d", &p, &err), &err);
    kobj_pod_clear(&p);
}

static void conv_node(const cJSON *root)
{
    kobj_node n;
    sp_err err;

    sp_err_clear(&err);
    record(kobj_node_from_json(root, &n, &err), &err);
    kobj_node_clear(&n);
}

static void conv_pool(const cJSON *root)
{
    kobj_pool p;
    sp_err err;

    sp_err_clear(&err);
    record(kobj_pool_from_json(root, "d", &p, &err), &err);
    kobj_pool_clear(&p);
}

/* The whole list into a fresh state: conversion and the engine together. */
static void conv_pod_list(const cJSON *root)
{
    place_state *st = new_state();
    sp_err err;

    sp_err_clear(&err);
    record(kobj_load_list(st, KOBJ_POD, root, NULL, NULL, &err), &err);
    place_state_free(st);
}

static void conv_pool_list(const cJSON *root)
{
    place_state *st = new_state();
    sp_err err;

    sp_err_clear(&err);
    record(kobj_load_list(st, KOBJ_HOSTPOOL, root, NULL, NULL, &err), &err);
    place_state_free(st);
}

typedef struct mutation {
    int type;
    double number;
    const char *string;
} mutation;

static const mutation mutations[] = {
    { cJSON_NULL, 0, NULL },       { cJSON_True, 0, NULL },
    { cJSON_False, 0, NULL },      { cJSON_Number, -1, NULL },
    { cJSON_Number, 1e300, NULL }, { cJSON_Number, 0.5, NULL },
    { cJSON_String, 0, "" },       { cJSON_String, 0, "\x01-1e999Gi\"" },
    { cJSON_Array, 0, NULL },      { cJSON_Object, 0, NULL },
};

/* Replace v by each mutation in turn (in place, restored after), run fn on
 * the whole tree, then recurse into v's own children. */
static void sweep(const cJSON *root, cJSON *v, convert_fn fn)
{
    for (size_t m = 0; m < sizeof(mutations) / sizeof(mutations[0]); m++) {
        cJSON saved = *v;

        v->type = mutations[m].type;
        v->child = NULL;
        v->valuestring = (char *)mutations[m].string;
        v->valuedouble = mutations[m].number;
        v->valueint = 0;
        fn(root);
        v->type = saved.type;
        v->child = saved.child;
        v->valuestring = saved.valuestring;
        v->valuedouble = saved.valuedouble;
        v->valueint = saved.valueint;
    }
    for (cJSON *c = v->child; c; c = c->next)
        sweep(root, c, fn);
}

static void sweep_fixture(const char *name, convert_fn fn, bool item0)
{
    cJSON *root = fixture(name);
    cJSON *target = root;

    if (item0)
        target = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "items"), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(target);
    for (cJSON *c = target->child; c; c = c->next)
        sweep(target, c, fn);
    cJSON_Delete(root);
}

static void t_fixture_sweep(void)
{
    NEED_FIXTURES();
    sweep_runs = sweep_errors = 0;
    sweep_fixture("cluster-pods.json", conv_pod, true);
    sweep_fixture("cluster-nodes.json", conv_node, true);
    sweep_fixture("cluster-hostpools.json", conv_pool, true);
    sweep_fixture("cluster-hostpools.json", conv_pool_list, false);
    sweep_fixture("cluster-pods.json", conv_pod_list, false);
    /* both outcomes happen, and plenty of each */
    CU_ASSERT_TRUE(sweep_runs > 1000);
    CU_ASSERT_TRUE(sweep_errors > 100);
    CU_ASSERT_TRUE(sweep_runs - sweep_errors > 100);
}

/* ------------------------------------------------------------------------ */
/* Out of memory                                                              */
/* ------------------------------------------------------------------------ */

static const char oom_pod[] =
    "{'metadata':{'name':'p','namespace':'ns','labels':{'streams.io/job':'j',"
    "'streams.io/pe':'0'},'annotations':{'streams.io/host-isolation':"
    "'true'}},'spec':{'nodeName':'n','containers':[{'resources':{'requests':"
    "{'cpu':'1'}}}],'tolerations':[{'operator':'Exists'}]}}";

/* Fail each allocation of fn in turn: ENOMEM every time, until it works. */
static void oom_loop(const char *text, sp_rc (*fn)(const cJSON *, sp_err *))
{
    cJSON *root = J(text);
    bool done = false;

    for (long n = 0; n < 1000 && !done; n++) {
        sp_err err;
        sp_rc rc;

        sp_err_clear(&err);
        sp_alloc_fail_after(n);
        rc = fn(root, &err);
        sp_alloc_fail_after(-1);
        done = rc == SP_OK;
        if (!done && rc != SP_ENOMEM)
            fprintf(stderr, "\n  allocation %ld: rc %d %s\n", n, (int)rc,
                    err.msg);
        CU_ASSERT_TRUE(done || rc == SP_ENOMEM);
    }
    CU_ASSERT_TRUE(done);
    cJSON_Delete(root);
}

static sp_rc oom_pod_fn(const cJSON *root, sp_err *err)
{
    kobj_pod p;
    sp_rc rc = kobj_pod_from_json(root, NULL, &p, err);

    kobj_pod_clear(&p);
    return rc;
}

static sp_rc oom_node_fn(const cJSON *root, sp_err *err)
{
    kobj_node n;
    sp_rc rc = kobj_node_from_json(root, &n, err);

    kobj_node_clear(&n);
    return rc;
}

static sp_rc oom_pool_fn(const cJSON *root, sp_err *err)
{
    kobj_pool p;
    sp_rc rc = kobj_pool_from_json(root, NULL, &p, err);

    kobj_pool_clear(&p);
    return rc;
}

static sp_rc oom_list_fn(const cJSON *root, sp_err *err)
{
    place_policy pp;
    place_state *st = NULL;
    sp_rc rc;

    place_policy_default(&pp);
    rc = place_state_new(&pp, &st);
    if (rc)
        return rc;
    rc = kobj_load_list(st, KOBJ_POD, root, NULL, NULL, err);
    place_state_free(st);
    return rc;
}

static void t_out_of_memory(void)
{
    oom_loop(oom_pod, oom_pod_fn);
    oom_loop("{'metadata':{'name':'n','labels':{'a':'b'}},'spec':{'taints':"
             "[{'key':'k','effect':'NoSchedule'}]}}", oom_node_fn);
    oom_loop("{'metadata':{'name':'p','namespace':'n'},'spec':{'tags':['a'],"
             "'hosts':['h']},'status':{'hosts':['h']}}", oom_pool_fn);
    oom_loop("{'items':[{'metadata':{'name':'a','namespace':'n'}},"
             "{'metadata':{'name':'p','namespace':'ns','labels':"
             "{'streams.io/job':'j','streams.io/pe':'0'}}}]}", oom_list_fn);
}

static const sp_test tests[] = {
    SP_TEST(t_quote_and_paths),
    SP_TEST(t_member),
    SP_TEST(t_getters),
    SP_TEST(t_prefix_path),
    SP_TEST(t_parse_json),
    SP_TEST(t_skim_empties),
    SP_TEST(t_skim_keeps),
    SP_TEST(t_skim_depth),
    SP_TEST(t_node_full),
    SP_TEST(t_node_conditions),
    SP_TEST(t_node_errors),
    SP_TEST(t_pod_full),
    SP_TEST(t_pod_requests),
    SP_TEST(t_pod_identity_and_lifecycle),
    SP_TEST(t_pod_errors),
    SP_TEST(t_pool_full),
    SP_TEST(t_pool_errors),
    SP_TEST(t_list_shapes),
    SP_TEST(t_list_errors),
    SP_TEST(t_list_pods),
    SP_TEST(t_list_pools),
    SP_TEST(t_files),
    SP_TEST(t_fixture_cluster),
    SP_TEST(t_fixture_nodes_detail),
    SP_TEST(t_fixture_admission),
    SP_TEST(t_fixture_skim),
    SP_TEST(t_fixture_extender),
    SP_TEST(t_fixture_sweep),
    SP_TEST(t_out_of_memory),
    SP_TEST_END,
};

int main(void)
{
    return sp_test_run("test_kobj", tests);
}
