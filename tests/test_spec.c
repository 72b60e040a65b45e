/*
 * Parsing and validation of what a PE asks for (labels and annotations) and
 * of HostPool objects: every accepted form, and every error with its exact
 * text, since these messages are what an admission denial shows its owner.
 */
#include "tests/test_engine.h"

#define MAX_KV 8

/* Parse "key=value;..." labels and annotations (full keys) into a spec. */
static sp_rc parse(const char *labels, const char *anns, place_pe_spec *spec, sp_err *err)
{
    place_kv lab[MAX_KV], ann[MAX_KV];
    char lcopy[512], acopy[512];
    size_t nl = 0, na = 0;
    struct { char *src; place_kv *kv; size_t *n; } parts[2] = {
        { lcopy, lab, &nl }, { acopy, ann, &na } };

    snprintf(lcopy, sizeof(lcopy), "%s", labels);
    snprintf(acopy, sizeof(acopy), "%s", anns);
    for (int i = 0; i < 2; i++) {
        for (char *p = parts[i].src, *next; p && *p && *parts[i].n < MAX_KV; p = next) {
            char *eq;
            next = strchr(p, ';');
            if (next)
                *next++ = '\0';
            eq = strchr(p, '=');
            *eq = '\0';
            parts[i].kv[*parts[i].n].key = p;
            parts[i].kv[(*parts[i].n)++].value = eq + 1;
        }
    }
    return place_pe_spec_parse(lab, nl, ann, na, spec, err);
}

#define JOBPE "streams.io/job=job1;streams.io/pe=3"

static void expect_error(const char *labels, const char *anns, const char *message)
{
    place_pe_spec spec;
    sp_err err = { SP_OK, "" };

    CU_ASSERT_EQUAL(parse(labels, anns, &spec, &err), SP_EINVAL);
    SP_ASSERT_STR(err.msg, message);
    CU_ASSERT_PTR_NULL(spec.job);
}

static void test_full_spec_parses(void)
{
    place_pe_spec s;
    sp_err err;

    CU_ASSERT_EQUAL_FATAL(parse(JOBPE, "streams.io/host-pool=ingest;"
                                       "streams.io/host-pool-index=1;"
                                       "streams.io/host-colocation= a , b,a;"
                                       "streams.io/host-exlocation=x;"
                                       "streams.io/job-pe-count=4;"
                                       "streams.io/relocatable=false",
                                &s, &err),
                          SP_OK);
    SP_ASSERT_STR(s.job, "job1");
    SP_ASSERT_STR(s.pe, "3");
    SP_ASSERT_STR(s.pool, "ingest");
    CU_ASSERT_EQUAL(s.pool_index, 1);
    CU_ASSERT_EQUAL_FATAL(s.n_colocation, 2);
    SP_ASSERT_STR(s.colocation[0], "a");
    SP_ASSERT_STR(s.colocation[1], "b");
    CU_ASSERT_EQUAL(s.n_exlocation, 1);
    CU_ASSERT_FALSE(s.isolation);
    CU_ASSERT_EQUAL(s.pe_count, 4);
    CU_ASSERT_FALSE(s.relocatable);
    place_pe_spec_free(&s);
}

static void test_defaults(void)
{
    place_pe_spec s;
    sp_err err;

    CU_ASSERT_EQUAL_FATAL(parse(JOBPE, "", &s, &err), SP_OK);
    CU_ASSERT_PTR_NULL(s.pool);
    CU_ASSERT_EQUAL(s.pool_index, PLACE_NONE);
    CU_ASSERT_TRUE(s.relocatable);
    CU_ASSERT_FALSE(s.isolation);
    CU_ASSERT_EQUAL(s.pe_count, 0);
    place_pe_spec_free(&s);
}

static void test_is_pe(void)
{
    place_kv pe[1] = { { PLACE_LABEL_JOB, "j" } };
    place_kv other[1] = { { "app", "web" } };

    CU_ASSERT_TRUE(place_is_pe(pe, 1));
    CU_ASSERT_FALSE(place_is_pe(other, 1));
    CU_ASSERT_FALSE(place_is_pe(NULL, 0));
}

static void test_missing_labels(void)
{
    expect_error("streams.io/job=job1", "",
                 "label streams.io/pe is missing: every PE pod carries streams.io/job "
                 "and streams.io/pe");
    expect_error("streams.io/job=bad job;streams.io/pe=1", "",
                 "label streams.io/job: \"bad job\" is malformed: use 1-63 letters, digits, "
                 "'-', '_' or '.', starting and ending with a letter or digit");
}

static void test_malformed_ids(void)
{
    expect_error(JOBPE, "streams.io/host-colocation=a b",
                 "annotation streams.io/host-colocation: id \"a b\" is malformed: use 1-63 "
                 "letters, digits, '-', '_' or '.', starting and ending with a letter or "
                 "digit");
    expect_error(JOBPE, "streams.io/host-exlocation=x,,y",
                 "annotation streams.io/host-exlocation: \"x,,y\" has an empty id at "
                 "position 2: use comma-separated ids such as \"a,b\"");
    expect_error(JOBPE, "streams.io/host-exlocation=-x",
                 "annotation streams.io/host-exlocation: id \"-x\" is malformed: use 1-63 "
                 "letters, digits, '-', '_' or '.', starting and ending with a letter or "
                 "digit");
    CU_ASSERT_TRUE(place_id_valid("a.b_c-9"));
    CU_ASSERT_FALSE(place_id_valid(""));
    CU_ASSERT_FALSE(place_id_valid("a/b"));
}

static void test_index_without_pool(void)
{
    expect_error(JOBPE, "streams.io/host-pool-index=0",
                 "annotation streams.io/host-pool-index needs streams.io/host-pool: name "
                 "the sized HostPool to index");
}

static void test_bad_index(void)
{
    expect_error(JOBPE, "streams.io/host-pool=p;streams.io/host-pool-index=-1",
                 "annotation streams.io/host-pool-index: -1 is out of range: use 0 <= index "
                 "< the pool's size");
    expect_error(JOBPE, "streams.io/host-pool=p;streams.io/host-pool-index=1.5",
                 "annotation streams.io/host-pool-index: \"1.5\" is not an integer: use 0 "
                 "<= index < the pool's size");
    expect_error(JOBPE, "streams.io/host-pool=p;streams.io/host-pool-index=",
                 "annotation streams.io/host-pool-index: \"\" is not an integer: use 0 <= "
                 "index < the pool's size");
}

static void test_bad_pool_name(void)
{
    expect_error(JOBPE, "streams.io/host-pool=Ingest",
                 "annotation streams.io/host-pool: \"Ingest\" is not a valid HostPool name: "
                 "use lowercase letters, digits, '-' and '.', starting and ending with a "
                 "letter or digit");
}

static void test_isolation_with_colocation(void)
{
    expect_error(JOBPE, "streams.io/host-isolation=true;streams.io/host-colocation=c",
                 "annotations streams.io/host-isolation and streams.io/host-colocation "
                 "conflict: an isolated PE runs alone on its node, so it cannot be "
                 "colocated; remove one of them");
}

static void test_bad_booleans_and_counts(void)
{
    expect_error(JOBPE, "streams.io/relocatable=no",
                 "annotation streams.io/relocatable: \"no\" is not a boolean: use \"true\" "
                 "or \"false\"");
    expect_error(JOBPE, "streams.io/job-pe-count=0",
                 "annotation streams.io/job-pe-count: \"0\" is not a PE count: use an "
                 "integer from 1 to 1000000");
}

/* ------------------------------------------------------------------------ */
/* HostPools                                                                  */
/* ------------------------------------------------------------------------ */

static void expect_pool(const place_pool_spec *p, const char *message)
{
    sp_err err = { SP_OK, "" };
    sp_rc rc = place_pool_validate(p, NULL, &err);

    if (message) {
        CU_ASSERT_EQUAL(rc, SP_EINVAL);
        SP_ASSERT_STR(err.msg, message);
    } else {
        CU_ASSERT_EQUAL(rc, SP_OK);
    }
}

static void test_pool_rules(void)
{
    const char *tags[] = { "ssd", "fast" };
    const char *hosts[] = { "n1", "n2" };
    const char *dup[] = { "n1", "n1" };
    const char *bad_tag[] = { "fast disk" };
    place_pool_spec p = { .namespace_ = "ns", .name = "p" };

    expect_pool(&p, "spec: a HostPool needs spec.tags or spec.hosts: name node tags "
                    "(labels tag.streams.io/<tag>) or list node names");
    p.tags = tags;
    p.n_tags = 2;
    expect_pool(&p, NULL);
    p.has_size = true;
    p.size = 0;
    expect_pool(&p, "spec.size: 0 is invalid: a sized pool needs 1 <= size <= 100000 "
                    "(omit size for a pool of every matching node)");
    p.size = 3;
    p.hosts = hosts;
    p.n_hosts = 2;
    expect_pool(&p, "spec.size: 3 is larger than the 2 hosts in spec.hosts: lower "
                    "spec.size or add hosts");
    p.size = 2;
    p.exclusive = true;
    expect_pool(&p, "spec.exclusive: an exclusive pool needs spec.job: name the job that "
                    "owns it (a pool without a job is shared)");
    p.job = "job1";
    expect_pool(&p, NULL);
    p.has_size = false;
    expect_pool(&p, "spec.exclusive: an exclusive pool needs spec.size: say how many "
                    "nodes it reserves");
    p.has_size = true;
    p.hosts = dup;
    expect_pool(&p, "spec.hosts[1]: \"n1\" is listed twice: list each once");
    p.hosts = hosts;
    p.tags = bad_tag;
    p.n_tags = 1;
    expect_pool(&p, "spec.tags[0]: \"fast disk\" is not a valid tag: the node label "
                    "\"tag.streams.io/fast disk\" would be invalid; use 1-63 letters, "
                    "digits, '-', '_' or '.', starting and ending with a letter or digit");
}

static void test_pool_members_over_size(void)
{
    const char *tags[] = { "ssd" };
    const char *members[] = { "n1", "n2", "n3" };
    place_pool_spec p = { .namespace_ = "ns", .name = "p", .tags = tags, .n_tags = 1,
                          .has_size = true, .size = 2, .members = members, .n_members = 3 };

    expect_pool(&p, "status.hosts: 3 members listed but spec.size is 2: raise spec.size or "
                    "let streams-placer rebuild status");
}

/* An exclusive pool on a busy cluster may have free slots between members:
 * status.hosts says "" there, and it must read back as it was written. */
static void test_pool_free_slots_round_trip(void)
{
    const char *tags[] = { "ssd" };
    const char *members[] = { "n1", "", "", "n3" };
    place_pool_spec p = { .namespace_ = "ns", .name = "p", .job = "job1", .tags = tags,
                          .n_tags = 1, .has_size = true, .size = 4, .exclusive = true,
                          .members = members, .n_members = 4 };
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    const char **hosts = NULL;
    size_t n = 0;
    int32_t pool;

    expect_pool(&p, NULL);
    t_node(st, "n1", "ssd", 4000, 8 * GI);
    t_node(st, "n3", "ssd", 4000, 8 * GI);
    pool = t_pool(st, "p", "job1", "ssd", NULL, 4, true, "n1,,,n3");
    CU_ASSERT_EQUAL_FATAL(place_pool_hosts(st, pool, &hosts, &n), SP_OK);
    CU_ASSERT_EQUAL_FATAL(n, 4);
    SP_ASSERT_STR(hosts[0], "n1");
    SP_ASSERT_STR(hosts[1], "");
    SP_ASSERT_STR(hosts[2], "");
    SP_ASSERT_STR(hosts[3], "n3");
    /* a free slot is not a node */
    CU_ASSERT_EQUAL(place_state_find_node(st, ""), PLACE_NONE);
    sp_free(hosts);
    place_state_free(st);
}

static void test_pool_job_name(void)
{
    const char *tags[] = { "ssd" };
    place_pool_spec p = { .namespace_ = "ns", .name = "p", .tags = tags, .n_tags = 1,
                          .job = "Job One" };

    expect_pool(&p, "spec.job: \"Job One\" is not a valid job name: use 1-63 letters, "
                    "digits, '-', '_' or '.', starting and ending with a letter or digit");
}

static const sp_test tests[] = {
    SP_TEST(test_full_spec_parses),
    SP_TEST(test_defaults),
    SP_TEST(test_is_pe),
    SP_TEST(test_missing_labels),
    SP_TEST(test_malformed_ids),
    SP_TEST(test_index_without_pool),
    SP_TEST(test_bad_index),
    SP_TEST(test_bad_pool_name),
    SP_TEST(test_isolation_with_colocation),
    SP_TEST(test_bad_booleans_and_counts),
    SP_TEST(test_pool_rules),
    SP_TEST(test_pool_members_over_size),
    SP_TEST(test_pool_free_slots_round_trip),
    SP_TEST(test_pool_job_name),
    SP_TEST_END
};

int main(void)
{
    return sp_test_run("spec", tests);
}
