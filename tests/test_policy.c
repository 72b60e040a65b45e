/*
 * Tests of the policy parser (policy/pol.c): the defaults, every field with
 * good values and case-insensitive names, every error with its exact
 * message (unknown and repeated fields, wrong types, values out of range,
 * bad names), the engine view, namespace scope, and that running out of
 * memory at any allocation is an error that leaks nothing.
 */
#include <string.h>

#include "kobj/kobj_json.h"
#include "policy/pol.h"
#include "tests/test_util.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                    */
/* ------------------------------------------------------------------------ */

/* Parse text; NULL (and a message on stderr) when it fails. */
static pol_policy *parse_ok(const char *text)
{
    pol_policy *p = NULL;
    sp_err err;

    sp_err_clear(&err);
    if (pol_parse(text, strlen(text), &p, &err) != SP_OK) {
        fprintf(stderr, "\n  %s: unexpected error: %s\n", text, err.msg);
        return NULL;
    }
    return p;
}

/* The message of parsing text, which must fail with rc (static buffer). */
static const char *parse_error(const char *text, sp_rc want)
{
    static sp_err err;
    pol_policy *p = (pol_policy *)1;
    sp_rc rc;

    sp_err_clear(&err);
    rc = pol_parse(text, strlen(text), &p, &err);
    CU_ASSERT_EQUAL(rc, want);
    CU_ASSERT_PTR_NULL(p);
    if (rc == SP_OK) {
        pol_free(p);
        return "(parsed)";
    }
    return err.msg;
}

/* ------------------------------------------------------------------------ */
/* Defaults and good values                                                   */
/* ------------------------------------------------------------------------ */

static void check_defaults(const pol_policy *p)
{
    SP_ASSERT_STR(p->tag_prefix, "tag.streams.io/");
    CU_ASSERT_PTR_NULL(p->default_pool);
    CU_ASSERT_EQUAL(p->isolation_scope, PLACE_ISOLATION_CLUSTER);
    CU_ASSERT_EQUAL(p->balancing, PLACE_BALANCE_INSTANCE);
    CU_ASSERT_EQUAL(p->reservation_ttl_s, 30);
    CU_ASSERT_PTR_NULL(p->scheduler_name);
    CU_ASSERT_EQUAL(p->mode, POL_MODE_ENFORCE);
    CU_ASSERT_FALSE(p->gang_wait);
    CU_ASSERT_EQUAL(p->n_namespaces, 0);
    CU_ASSERT_EQUAL(p->released_ttl_s, 3600);
}

static void t_defaults(void)
{
    pol_policy *p = NULL;

    CU_ASSERT_EQUAL(pol_default(&p), SP_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    check_defaults(p);
    pol_free(p);
    p = parse_ok("{}");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    check_defaults(p);
    pol_free(p);
    pol_free(NULL);
}

static void t_nulls_are_defaults(void)
{
    pol_policy *p = parse_ok(
        "{\"tagLabelPrefix\": null, \"defaultHostPool\": null, "
        "\"isolationScope\": null, \"balancing\": null, "
        "\"reservationTTLSeconds\": null, \"schedulerName\": null, "
        "\"mode\": null, \"gangWait\": null, \"namespaces\": null, "
        "\"releasedPlacementTTLSeconds\": null}");

    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    check_defaults(p);
    pol_free(p);
}

static void t_every_field(void)
{
    pol_policy *p = parse_ok(
        "{\"tagLabelPrefix\": \"tags.example.com/\", "
        "\"defaultHostPool\": \"general\", \"isolationScope\": \"job\", "
        "\"balancing\": \"balancedJob\", \"reservationTTLSeconds\": 3600, "
        "\"schedulerName\": \"streams-scheduler\", \"mode\": \"audit\", "
        "\"gangWait\": true, \"namespaces\": [\"streams\", \"prod-1\", "
        "\"streams\"], \"releasedPlacementTTLSeconds\": 0}");

    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    SP_ASSERT_STR(p->tag_prefix, "tags.example.com/");
    SP_ASSERT_STR(p->default_pool, "general");
    CU_ASSERT_EQUAL(p->isolation_scope, PLACE_ISOLATION_JOB);
    CU_ASSERT_EQUAL(p->balancing, PLACE_BALANCE_JOB);
    CU_ASSERT_EQUAL(p->reservation_ttl_s, 3600);
    SP_ASSERT_STR(p->scheduler_name, "streams-scheduler");
    CU_ASSERT_EQUAL(p->mode, POL_MODE_AUDIT);
    CU_ASSERT_TRUE(p->gang_wait);
    CU_ASSERT_EQUAL_FATAL(p->n_namespaces, 2);   /* de-duplicated */
    SP_ASSERT_STR(p->namespaces[0], "streams");
    SP_ASSERT_STR(p->namespaces[1], "prod-1");
    CU_ASSERT_EQUAL(p->released_ttl_s, 0);
    pol_free(p);
}

static void t_other_enum_values(void)
{
    pol_policy *p = parse_ok(
        "{\"isolationScope\": \"cluster\", \"balancing\": "
        "\"balancedInstance\", \"mode\": \"enforce\", \"gangWait\": false, "
        "\"reservationTTLSeconds\": 1, \"releasedPlacementTTLSeconds\": "
        "2592000, \"defaultHostPool\": \"\", \"schedulerName\": \"\", "
        "\"namespaces\": []}");

    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(p->isolation_scope, PLACE_ISOLATION_CLUSTER);
    CU_ASSERT_EQUAL(p->balancing, PLACE_BALANCE_INSTANCE);
    CU_ASSERT_EQUAL(p->mode, POL_MODE_ENFORCE);
    CU_ASSERT_EQUAL(p->reservation_ttl_s, 1);
    CU_ASSERT_EQUAL(p->released_ttl_s, 2592000);
    CU_ASSERT_PTR_NULL(p->default_pool);     /* "" is none */
    CU_ASSERT_PTR_NULL(p->scheduler_name);
    CU_ASSERT_EQUAL(p->n_namespaces, 0);
    pol_free(p);
}

static void t_case_insensitive_names(void)
{
    pol_policy *p = parse_ok("{\"MODE\": \"audit\", \"GangWait\": true, "
                             "\"reservationttlseconds\": 5}");

    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(p->mode, POL_MODE_AUDIT);
    CU_ASSERT_TRUE(p->gang_wait);
    CU_ASSERT_EQUAL(p->reservation_ttl_s, 5);
    pol_free(p);
}

static void t_names_and_engine_view(void)
{
    pol_policy *p = parse_ok("{\"defaultHostPool\": \"pool-a\", "
                             "\"isolationScope\": \"job\", \"gangWait\": true, "
                             "\"balancing\": \"balancedJob\"}");
    place_policy pp;

    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    pol_to_place(p, &pp);
    CU_ASSERT_PTR_EQUAL(pp.tag_prefix, p->tag_prefix);     /* borrowed */
    SP_ASSERT_STR(pp.default_pool, "pool-a");
    CU_ASSERT_EQUAL(pp.isolation_scope, PLACE_ISOLATION_JOB);
    CU_ASSERT_EQUAL(pp.balancing, PLACE_BALANCE_JOB);
    CU_ASSERT_TRUE(pp.gang_wait);
    SP_ASSERT_STR(pol_mode_name(POL_MODE_AUDIT), "audit");
    SP_ASSERT_STR(pol_mode_name(POL_MODE_ENFORCE), "enforce");
    SP_ASSERT_STR(pol_isolation_scope_name(PLACE_ISOLATION_JOB), "job");
    SP_ASSERT_STR(pol_isolation_scope_name(PLACE_ISOLATION_CLUSTER), "cluster");
    SP_ASSERT_STR(pol_balancing_name(PLACE_BALANCE_JOB), "balancedJob");
    SP_ASSERT_STR(pol_balancing_name(PLACE_BALANCE_INSTANCE),
                  "balancedInstance");
    pol_free(p);
}

static void t_namespace_scope(void)
{
    pol_policy *p = parse_ok("{\"namespaces\": [\"a\", \"b\"]}");
    pol_policy *all = parse_ok("{}");

    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(all);
    CU_ASSERT_TRUE(pol_namespace_managed(p, "a"));
    CU_ASSERT_TRUE(pol_namespace_managed(p, "b"));
    CU_ASSERT_FALSE(pol_namespace_managed(p, "c"));
    CU_ASSERT_FALSE(pol_namespace_managed(p, NULL));
    CU_ASSERT_TRUE(pol_namespace_managed(all, "c"));
    CU_ASSERT_TRUE(pol_namespace_managed(NULL, "c"));
    pol_free(p);
    pol_free(all);
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                     */
/* ------------------------------------------------------------------------ */

static void t_not_an_object(void)
{
    SP_ASSERT_STR(parse_error("[]", SP_EPARSE),
                  "must be a JSON object of policy fields, got an array");
    SP_ASSERT_STR(parse_error("\"x\"", SP_EPARSE),
                  "must be a JSON object of policy fields, got a string (\"x\")");
    SP_ASSERT_STR(parse_error("{\"mode\": ", SP_EPARSE),
                  "not JSON: syntax error at line 1, column 10");
    SP_ASSERT_STR(parse_error("{}\n{}", SP_EPARSE),
                  "not JSON: syntax error at line 2, column 1");
    SP_ASSERT_STR(parse_error("", SP_EPARSE), "not JSON: the input is empty");
}

static void t_nul_byte_and_size(void)
{
    static const char with_nul[] = "{\"mode\":\"audit\"}\0";
    pol_policy *p = NULL;
    sp_err err;
    char *big;

    CU_ASSERT_EQUAL(pol_parse(with_nul, sizeof(with_nul) - 1, &p, &err),
                    SP_EPARSE);
    SP_ASSERT_STR(err.msg, "not JSON: it contains a NUL byte");
    big = sp_calloc(1, POL_MAX_BYTES + 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    memset(big, ' ', POL_MAX_BYTES + 1);
    CU_ASSERT_EQUAL(pol_parse(big, POL_MAX_BYTES + 1, &p, &err), SP_ELIMIT);
    SP_ASSERT_STR(err.msg, "the policy is 1048577 bytes, more than the limit "
                           "of 1048576");
    CU_ASSERT_PTR_NULL(p);
    sp_free(big);
}

#define FIELDS                                                               \
    "the fields are: tagLabelPrefix, defaultHostPool, isolationScope, "    \
    "balancing, reservationTTLSeconds, schedulerName, mode, gangWait, "     \
    "namespaces, releasedPlacementTTLSeconds"

static void t_unknown_fields(void)
{
    SP_ASSERT_STR(parse_error("{\"isolationScop\": \"job\"}", SP_EPARSE),
                  "unknown field \"isolationScop\"; did you mean "
                  "\"isolationScope\"? " FIELDS);
    SP_ASSERT_STR(parse_error("{\"mod\": \"audit\"}", SP_EPARSE),
                  "unknown field \"mod\"; did you mean \"mode\"? " FIELDS);
    SP_ASSERT_STR(parse_error("{\"weights\": {}}", SP_EPARSE),
                  "unknown field \"weights\"; " FIELDS);
    SP_ASSERT_STR(parse_error("{\"x\\n\": 1}", SP_EPARSE),
                  "unknown field \"x\\n\"; " FIELDS);
}

static void t_repeated_field(void)
{
    SP_ASSERT_STR(parse_error("{\"mode\": \"audit\", \"Mode\": \"enforce\"}",
                              SP_EPARSE),
                  "mode: given twice (as \"mode\" and \"Mode\"); give it once");
}

static void t_bad_tag_prefix(void)
{
    static const char *const want =
        "tagLabelPrefix: must be a label-key prefix: a DNS subdomain followed "
        "by '/', such as \"tag.streams.io/\", got a string (\"%s\")";
    static const char *const bad[] = { "tag.streams.io", "Tag.io/", "/",
                                       "a..b/", "-a/", "a/b/" };
    char expect[512];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char doc[128];

        snprintf(doc, sizeof(doc), "{\"tagLabelPrefix\": \"%s\"}", bad[i]);
        snprintf(expect, sizeof(expect), want, bad[i]);
        SP_ASSERT_STR(parse_error(doc, SP_EPARSE), expect);
    }
    SP_ASSERT_STR(parse_error("{\"tagLabelPrefix\": \"\"}", SP_EPARSE),
                  "tagLabelPrefix: must be a label-key prefix such as "
                  "\"tag.streams.io/\", got a string (\"\")");
    SP_ASSERT_STR(parse_error("{\"tagLabelPrefix\": 7}", SP_EPARSE),
                  "tagLabelPrefix: must be a string, got a number (7)");
}

static void t_bad_names(void)
{
    SP_ASSERT_STR(parse_error("{\"defaultHostPool\": \"Pool_A\"}", SP_EPARSE),
                  "defaultHostPool: must be a HostPool name (lower-case "
                  "letters, digits, '-' and '.'), or \"\" for none, got a "
                  "string (\"Pool_A\")");
    SP_ASSERT_STR(parse_error("{\"schedulerName\": \"My Scheduler\"}",
                              SP_EPARSE),
                  "schedulerName: must be a scheduler name (lower-case "
                  "letters, digits, '-' and '.'), or \"\" to leave pods "
                  "alone, got a string (\"My Scheduler\")");
    SP_ASSERT_STR(parse_error("{\"defaultHostPool\": true}", SP_EPARSE),
                  "defaultHostPool: must be a string, got true");
}

static void t_bad_enums(void)
{
    SP_ASSERT_STR(parse_error("{\"isolationScope\": \"Cluster\"}", SP_EPARSE),
                  "isolationScope: must be \"cluster\" or \"job\", got a "
                  "string (\"Cluster\")");
    SP_ASSERT_STR(parse_error("{\"balancing\": \"spread\"}", SP_EPARSE),
                  "balancing: must be \"balancedInstance\" or "
                  "\"balancedJob\", got a string (\"spread\")");
    SP_ASSERT_STR(parse_error("{\"mode\": \"dry-run\"}", SP_EPARSE),
                  "mode: must be \"enforce\" or \"audit\", got a string "
                  "(\"dry-run\")");
    SP_ASSERT_STR(parse_error("{\"mode\": 1}", SP_EPARSE),
                  "mode: must be a string, got a number (1)");
}

static void t_bad_numbers(void)
{
    SP_ASSERT_STR(parse_error("{\"reservationTTLSeconds\": 0}", SP_EPARSE),
                  "reservationTTLSeconds: must be an integer from 1 to 3600, "
                  "got a number (0)");
    SP_ASSERT_STR(parse_error("{\"reservationTTLSeconds\": 3601}", SP_EPARSE),
                  "reservationTTLSeconds: must be an integer from 1 to 3600, "
                  "got a number (3601)");
    SP_ASSERT_STR(parse_error("{\"reservationTTLSeconds\": 2.5}", SP_EPARSE),
                  "reservationTTLSeconds: must be an integer from 1 to 3600, "
                  "got a number (2.5)");
    SP_ASSERT_STR(parse_error("{\"reservationTTLSeconds\": \"30\"}", SP_EPARSE),
                  "reservationTTLSeconds: must be an integer from 1 to 3600, "
                  "got a string (\"30\")");
    SP_ASSERT_STR(parse_error("{\"releasedPlacementTTLSeconds\": -1}",
                              SP_EPARSE),
                  "releasedPlacementTTLSeconds: must be an integer from 0 to "
                  "2592000, got a number (-1)");
    SP_ASSERT_STR(parse_error("{\"releasedPlacementTTLSeconds\": 1e300}",
                              SP_EPARSE),
                  "releasedPlacementTTLSeconds: must be an integer from 0 to "
                  "2592000, got a number (1e+300)");
}

static void t_bad_bool(void)
{
    SP_ASSERT_STR(parse_error("{\"gangWait\": \"true\"}", SP_EPARSE),
                  "gangWait: must be true or false, got a string (\"true\")");
    SP_ASSERT_STR(parse_error("{\"gangWait\": 1}", SP_EPARSE),
                  "gangWait: must be true or false, got a number (1)");
}

static void t_bad_namespaces(void)
{
    SP_ASSERT_STR(parse_error("{\"namespaces\": \"streams\"}", SP_EPARSE),
                  "namespaces: must be an array, got a string (\"streams\")");
    SP_ASSERT_STR(parse_error("{\"namespaces\": [\"ok\", \"Not_OK\"]}",
                              SP_EPARSE),
                  "namespaces[1]: must be a namespace name (1-63 lower-case "
                  "letters, digits and '-'), got a string (\"Not_OK\")");
    SP_ASSERT_STR(parse_error("{\"namespaces\": [\"a.b\"]}", SP_EPARSE),
                  "namespaces[0]: must be a namespace name (1-63 lower-case "
                  "letters, digits and '-'), got a string (\"a.b\")");
    SP_ASSERT_STR(parse_error("{\"namespaces\": [3]}", SP_EPARSE),
                  "namespaces[0]: must be a namespace name (1-63 lower-case "
                  "letters, digits and '-'), got a number (3)");
}

static void t_too_many_namespaces(void)
{
    size_t cap = 16 + (POL_MAX_NAMESPACES + 1) * 8;
    char *doc = sp_calloc(1, cap);
    size_t o;

    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    o = (size_t)snprintf(doc, cap, "{\"namespaces\":[");
    for (int i = 0; i <= POL_MAX_NAMESPACES; i++)
        o += (size_t)snprintf(doc + o, cap - o, "%s\"n%d\"", i ? "," : "", i);
    snprintf(doc + o, cap - o, "]}");
    SP_ASSERT_STR(parse_error(doc, SP_ELIMIT),
                  "namespaces: more than 1000 entries; leave it empty to "
                  "manage every namespace");
    sp_free(doc);
}

/* A long bad value is quoted cut short, never whole. */
static void t_long_values_are_cut(void)
{
    char doc[600], want[300];

    snprintf(doc, sizeof(doc), "{\"mode\": \"%0300d\"}", 0);
    snprintf(want, sizeof(want),
             "mode: must be \"enforce\" or \"audit\", got a string (\"%0*d\"...)",
             KOBJ_QUOTE_MAX - 6, 0);
    SP_ASSERT_STR(parse_error(doc, SP_EPARSE), want);
}

/* pol_check lists every error: unknown and repeated fields first, in
 * document order, then each bad value, in the order of the fields in
 * pol.h; a good policy has none. */
static void t_check_lists_every_error(void)
{
    static const char doc[] =
        "{\"isolationScop\": \"job\", \"mode\": \"dry-run\", \"MODE\": \"audit\", "
        "\"reservationTTLSeconds\": 0, \"gangWait\": \"yes\"}";
    sp_err errs[8];
    size_t n = 99;

    CU_ASSERT_EQUAL(pol_check(doc, strlen(doc), errs, 8, &n), SP_EPARSE);
    CU_ASSERT_EQUAL_FATAL(n, 5);
    SP_ASSERT_CONTAINS(errs[0].msg, "unknown field \"isolationScop\"; did you mean "
                                    "\"isolationScope\"?");
    SP_ASSERT_STR(errs[1].msg, "mode: given twice (as \"mode\" and \"MODE\"); give it once");
    SP_ASSERT_STR(errs[2].msg, "reservationTTLSeconds: must be an integer from 1 to 3600, "
                               "got a number (0)");
    SP_ASSERT_STR(errs[3].msg, "mode: must be \"enforce\" or \"audit\", got a string "
                               "(\"dry-run\")");
    SP_ASSERT_STR(errs[4].msg, "gangWait: must be true or false, got a string (\"yes\")");

    /* fewer slots than errors: the count is still whole */
    CU_ASSERT_EQUAL(pol_check(doc, strlen(doc), errs, 2, &n), SP_EPARSE);
    CU_ASSERT_EQUAL(n, 5);
    CU_ASSERT_EQUAL(pol_check("{}", 2, errs, 8, &n), SP_OK);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_EQUAL(pol_check("{", 1, errs, 8, &n), SP_EPARSE);
    CU_ASSERT_EQUAL(n, 1);
}

/* ------------------------------------------------------------------------ */
/* Out of memory                                                              */
/* ------------------------------------------------------------------------ */

static void t_out_of_memory(void)
{
    static const char doc[] =
        "{\"tagLabelPrefix\": \"x.io/\", \"defaultHostPool\": \"p\", "
        "\"schedulerName\": \"s\", \"namespaces\": [\"a\", \"b\"]}";
    bool succeeded = false;

    for (long n = 0; n < 200 && !succeeded; n++) {
        pol_policy *p = NULL;
        sp_err err;
        sp_rc rc;

        sp_err_clear(&err);
        sp_alloc_fail_after(n);
        rc = pol_parse(doc, strlen(doc), &p, &err);
        sp_alloc_fail_after(-1);
        if (rc == SP_OK) {
            succeeded = true;
            CU_ASSERT_EQUAL(p->n_namespaces, 2);
        } else {
            /* cJSON cannot tell running out of memory from bad JSON */
            CU_ASSERT_TRUE(rc == SP_ENOMEM || rc == SP_EPARSE);
            CU_ASSERT_PTR_NULL(p);
        }
        pol_free(p);
    }
    CU_ASSERT_TRUE(succeeded);
}

static const sp_test tests[] = {
    SP_TEST(t_defaults),
    SP_TEST(t_nulls_are_defaults),
    SP_TEST(t_every_field),
    SP_TEST(t_other_enum_values),
    SP_TEST(t_case_insensitive_names),
    SP_TEST(t_names_and_engine_view),
    SP_TEST(t_namespace_scope),
    SP_TEST(t_not_an_object),
    SP_TEST(t_nul_byte_and_size),
    SP_TEST(t_unknown_fields),
    SP_TEST(t_repeated_field),
    SP_TEST(t_bad_tag_prefix),
    SP_TEST(t_bad_names),
    SP_TEST(t_bad_enums),
    SP_TEST(t_bad_numbers),
    SP_TEST(t_bad_bool),
    SP_TEST(t_bad_namespaces),
    SP_TEST(t_too_many_namespaces),
    SP_TEST(t_long_values_are_cut),
    SP_TEST(t_check_lists_every_error),
    SP_TEST(t_out_of_memory),
    SP_TEST_END,
};

int main(void)
{
    return sp_test_run("test_policy", tests);
}
