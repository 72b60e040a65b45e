/*
 * Tests of the independent placement checker (tests/checker.c) on hand-made
 * assignments: one valid instance, then one change per test that breaks
 * exactly one rule, asserting the violation text. Runs without the engine.
 */
#include "tests/checker.h"
#include "tests/test_util.h"

#include <stdarg.h>

#define GI (1024LL * 1024 * 1024)
#define MI (1024LL * 1024)

/* ------------------------------------------------------------------------ */
/* The fixture                                                                */
/* ------------------------------------------------------------------------ */

static void add_node(chk_instance *in, const char *name, const char *const *tags,
                     size_t n_tags)
{
    chk_node_in n = { name, tags, n_tags, 4000, 8 * GI, 10 };

    CU_ASSERT_FATAL(chk_add_node(in, &n, NULL) == SP_OK);
}

static void add_pool(chk_instance *in, const char *name, const char *job,
                     const char *const *tags, size_t n_tags,
                     const char *const *hosts, size_t n_hosts, int64_t size,
                     bool exclusive, const char *const *initial, size_t n_initial)
{
    chk_pool_in p = { "ns", name, job, tags, n_tags, hosts, n_hosts, size,
                      exclusive, initial, n_initial };

    CU_ASSERT_FATAL(chk_add_pool(in, &p, NULL) == SP_OK);
}

/* A PE of namespace ns with at most one colocation and one exlocation id. */
static void add_pe(chk_instance *in, const char *job, const char *pe,
                   const char *pool, int32_t index, const char *coloc,
                   const char *exloc, bool isolation, const char *node)
{
    const char *c[1] = { coloc }, *x[1] = { exloc };
    chk_pe_in p = { "ns", job, pe, pool, index, c, coloc ? 1 : 0, x,
                    exloc ? 1 : 0, isolation, 500, 512 * MI, node };

    CU_ASSERT_FATAL(chk_add_pe(in, &p, NULL) == SP_OK);
}

/*
 * Nodes n1 {ssd,gpu}, n2 {ssd}, n3 {}, n4 {ssd}, n5 {ssd}, n6 {}; pools
 * fast (ssd, size 2, job j1, status [n1], final [n1 n2]), any (hosts n2 n3
 * n6), gpu (tag gpu), ex (hosts n4, size 1, exclusive, job j2, final [n4]).
 */
static void build(chk_instance *in, bool scope_job)
{
    static const char *const ssd_gpu[] = { "ssd", "gpu" };
    static const char *const ssd[] = { "ssd" };
    static const char *const gpu[] = { "gpu" };
    static const char *const any_hosts[] = { "n2", "n3", "n6" };
    static const char *const ex_hosts[] = { "n4" };
    static const char *const fast_status[] = { "n1" };
    static const char *const fast_final[] = { "n1", "n2" };

    chk_init(in, scope_job);
    add_node(in, "n1", ssd_gpu, 2);
    add_node(in, "n2", ssd, 1);
    add_node(in, "n3", NULL, 0);
    add_node(in, "n4", ssd, 1);
    add_node(in, "n5", ssd, 1);
    add_node(in, "n6", NULL, 0);
    add_pool(in, "fast", "j1", ssd, 1, NULL, 0, 2, false, fast_status, 1);
    CU_ASSERT_FATAL(chk_set_members(in, 0, fast_final, 2) == SP_OK);
    add_pool(in, "any", NULL, NULL, 0, any_hosts, 3, 0, false, NULL, 0);
    add_pool(in, "gpu", NULL, gpu, 1, NULL, 0, 0, false, NULL, 0);
    add_pool(in, "ex", "j2", NULL, 0, ex_hosts, 1, 1, true, ex_hosts, 1);
    add_pe(in, "j1", "a", "fast", 0, "c1", NULL, false, "n1");
    add_pe(in, "j1", "b", NULL, CHK_NONE, "c1", NULL, false, "n1");
    add_pe(in, "j1", "c", "fast", 1, NULL, "x1", false, "n2");
    add_pe(in, "j1", "d", NULL, CHK_NONE, NULL, "x1", false, "n3");
    add_pe(in, "j1", "f", "any", CHK_NONE, NULL, NULL, false, "n2");
    add_pe(in, "j1", "g", "gpu", CHK_NONE, NULL, NULL, false, "n1");
    add_pe(in, "j1", "h", "fast", CHK_NONE, NULL, NULL, false, "n2");
    add_pe(in, "j1", "i", "fast", 0, NULL, NULL, false, "n1");
    add_pe(in, "j2", "d", "ex", CHK_NONE, NULL, NULL, false, "n4");
    add_pe(in, "j2", "e", "any", CHK_NONE, NULL, NULL, true, "n6");
    add_pe(in, "j2", "p", NULL, CHK_NONE, NULL, NULL, false, "n5");
}

static void move(chk_instance *in, const char *job, const char *pe,
                 const char *node)
{
    long i = chk_find_pe(in, "ns", job, pe);

    CU_ASSERT_FATAL(i >= 0);
    CU_ASSERT_FATAL(chk_set_node(in, (size_t)i, node) == SP_OK);
}

static void members(chk_instance *in, const char *pool, const char *const *names,
                    size_t n)
{
    long i = chk_find_pool(in, "ns", pool);

    CU_ASSERT_FATAL(i >= 0);
    CU_ASSERT_FATAL(chk_set_members(in, (size_t)i, names, n) == SP_OK);
}

/* Check in and assert exactly n violations, each of the given texts. */
static void expect(chk_instance *in, size_t n, ...)
{
    chk_report rep;
    va_list ap;

    CU_ASSERT_FATAL(chk_check(in, &rep) == SP_OK);
    if (rep.n != n) {
        fprintf(stderr, "\n  expected %zu violations, got %zu:\n", n, rep.n);
        for (size_t i = 0; i < rep.n; i++)
            fprintf(stderr, "    %s\n", rep.v[i]);
    }
    CU_ASSERT_EQUAL(rep.n, n);
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        const char *want = va_arg(ap, const char *);
        bool found = false;

        for (size_t j = 0; j < rep.n; j++)
            if (strcmp(rep.v[j], want) == 0)
                found = true;
        if (!found)
            fprintf(stderr, "\n  missing violation: \"%s\"\n", want);
        CU_ASSERT_TRUE(found);
    }
    va_end(ap);
    chk_report_free(&rep);
    chk_free(in);
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                      */
/* ------------------------------------------------------------------------ */

static void t_valid(void)
{
    chk_instance in;

    build(&in, false);
    expect(&in, 0);
}

static void t_unplaced_is_fine(void)
{
    chk_instance in;

    build(&in, false);
    move(&in, "j1", "a", NULL);
    move(&in, "j1", "c", NULL);
    move(&in, "j2", "e", NULL);
    expect(&in, 0);
}

static void t_pool_tag(void)
{
    chk_instance in;

    build(&in, false);
    move(&in, "j1", "g", "n2");
    expect(&in, 1, "pool: PE ns/j1/g is on node n2, which lacks tag gpu of pool ns/gpu");
}

static void t_pool_hosts(void)
{
    chk_instance in;

    build(&in, false);
    move(&in, "j1", "f", "n1");
    expect(&in, 1, "pool: PE ns/j1/f is on node n1, which is not among the hosts of pool ns/any");
}

static void t_pool_not_member(void)
{
    chk_instance in;

    build(&in, false);
    move(&in, "j1", "h", "n5");
    expect(&in, 1, "pool: PE ns/j1/h is on node n5, which is not a member of pool ns/fast");
}

static void t_pool_index(void)
{
    chk_instance in;

    build(&in, false);
    move(&in, "j1", "i", "n2");
    expect(&in, 1, "pool: PE ns/j1/i is on node n2 but ns/fast[0] is n1");
}

static void t_pool_index_unfilled(void)
{
    static const char *const only_n1[] = { "n1" };
    chk_instance in;

    build(&in, false);
    members(&in, "fast", only_n1, 1);
    move(&in, "j1", "h", "n1");
    expect(&in, 2,
           "pool: PE ns/j1/c is on node n2, which is not a member of pool ns/fast",
           "pool: PE ns/j1/c is on node n2 but pool ns/fast has no member 1");
}

static void t_pool_empty_slot(void)
{
    static const char *const gap[] = { NULL, "n2" };
    chk_instance in;

    build(&in, false);
    members(&in, "fast", gap, 2);
    expect(&in, 5,
           "membership: pool ns/fast member 0 changed from n1 to (none)",
           "pool: PE ns/j1/a is on node n1, which is not a member of pool ns/fast",
           "pool: PE ns/j1/a is on node n1 but pool ns/fast has no member 0",
           "pool: PE ns/j1/i is on node n1, which is not a member of pool ns/fast",
           "pool: PE ns/j1/i is on node n1 but pool ns/fast has no member 0");
}

static void t_pool_index_unsized(void)
{
    chk_instance in;

    build(&in, false);
    add_pe(&in, "j1", "q", "gpu", 0, NULL, NULL, false, "n1");
    expect(&in, 1, "pool: PE ns/j1/q on node n1 has index 0 in unsized pool ns/gpu");
}

static void t_pool_other_job(void)
{
    chk_instance in;

    build(&in, false);
    add_pe(&in, "j2", "k", "fast", CHK_NONE, NULL, NULL, false, "n1");
    expect(&in, 1, "pool: PE ns/j2/k of job j2 is on node n1 in pool ns/fast of job j1");
}

static void t_pool_missing(void)
{
    chk_instance in;

    build(&in, false);
    add_pe(&in, "j1", "k", "nope", CHK_NONE, NULL, NULL, false, "n5");
    expect(&in, 1, "pool: PE ns/j1/k is on node n5 but its pool ns/nope does not exist");
}

static void t_pool_invalid(void)
{
    static const char *const n5[] = { "n5" };
    chk_instance in;

    build(&in, false);
    add_pool(&in, "bad", NULL, NULL, 0, n5, 1, 2, false, NULL, 0);
    add_pe(&in, "j1", "k", "bad", CHK_NONE, NULL, NULL, false, "n5");
    expect(&in, 1, "pool: PE ns/j1/k is on node n5 in invalid pool ns/bad "
                   "(size larger than its host list)");
}

static void t_membership_size(void)
{
    static const char *const three[] = { "n1", "n2", "n5" };
    chk_instance in;

    build(&in, false);
    members(&in, "fast", three, 3);
    expect(&in, 1, "membership: pool ns/fast has 3 members, more than its size 2");
}

static void t_membership_duplicate(void)
{
    static const char *const twice[] = { "n1", "n1" };
    chk_instance in;

    build(&in, false);
    members(&in, "fast", twice, 2);
    expect(&in, 4,
           "membership: pool ns/fast lists node n1 twice (members 0 and 1)",
           "pool: PE ns/j1/c is on node n2, which is not a member of pool ns/fast",
           "pool: PE ns/j1/c is on node n2 but ns/fast[1] is n1",
           "pool: PE ns/j1/h is on node n2, which is not a member of pool ns/fast");
}

static void t_membership_stable(void)
{
    static const char *const swapped[] = { "n2", "n1" };
    chk_instance in;

    build(&in, false);
    members(&in, "fast", swapped, 2);
    expect(&in, 4,
           "membership: pool ns/fast member 0 changed from n1 to n2",
           "pool: PE ns/j1/a is on node n1 but ns/fast[0] is n2",
           "pool: PE ns/j1/c is on node n2 but ns/fast[1] is n1",
           "pool: PE ns/j1/i is on node n1 but ns/fast[0] is n2");
}

static void t_membership_match(void)
{
    static const char *const ex_bad[] = { "n5" };
    chk_instance in;

    build(&in, false);
    move(&in, "j2", "d", NULL);
    members(&in, "ex", ex_bad, 1);
    expect(&in, 2,
           "membership: pool ns/ex member 0 changed from n4 to n5",
           "membership: pool ns/ex has member node n5, which is not among the hosts of pool ns/ex");
}

static void t_colocation(void)
{
    chk_instance in;

    build(&in, false);
    move(&in, "j1", "b", "n5");
    expect(&in, 1, "colocation: PEs ns/j1/a (node n1) and ns/j1/b (node n5) share "
                   "colocation id c1 but are on different nodes");
}

static void t_colocation_transitive(void)
{
    const char *const ids[] = { "c1", "c2" };
    chk_pe_in m = { "ns", "j1", "m", NULL, CHK_NONE, ids, 2, NULL, 0, false,
                    100, MI, NULL };
    chk_instance in;

    build(&in, false);
    CU_ASSERT_FATAL(chk_add_pe(&in, &m, NULL) == SP_OK);
    add_pe(&in, "j1", "n", NULL, CHK_NONE, "c2", NULL, false, "n5");
    expect(&in, 1, "colocation: PEs ns/j1/a (node n1) and ns/j1/n (node n5) are "
                   "colocated through other PEs but are on different nodes");
}

static void t_colocation_other_job(void)
{
    chk_instance in;

    build(&in, false);
    add_pe(&in, "j2", "q", NULL, CHK_NONE, "c1", NULL, false, "n5");
    expect(&in, 0);
}

static void t_exlocation(void)
{
    chk_instance in;

    build(&in, false);
    move(&in, "j1", "d", "n2");
    expect(&in, 1, "exlocation: PEs ns/j1/c and ns/j1/d share exlocation id x1 "
                   "but are both on node n2");
}

static void t_exlocation_other_job(void)
{
    chk_instance in;

    build(&in, false);
    add_pe(&in, "j2", "q", NULL, CHK_NONE, NULL, "x1", false, "n3");
    expect(&in, 0);
}

static void t_isolation(void)
{
    chk_instance in;

    build(&in, false);
    move(&in, "j1", "f", "n6");
    expect(&in, 1, "isolation: PE ns/j2/e is isolated on node n6 but PE ns/j1/f "
                   "is there too");
}

static void t_isolation_scope_job(void)
{
    chk_instance in;

    build(&in, true);
    move(&in, "j1", "f", "n6");
    expect(&in, 0);
    build(&in, true);
    move(&in, "j2", "p", "n6");
    expect(&in, 1, "isolation: PE ns/j2/e is isolated on node n6 but PE ns/j2/p "
                   "is there too");
}

static void t_exclusive(void)
{
    chk_instance in;

    build(&in, false);
    move(&in, "j1", "d", "n4");
    expect(&in, 1, "exclusive: node n4 is a member of exclusive pool ns/ex of job j2 "
                   "but runs PE ns/j1/d");
}

static void t_exclusive_two_pools(void)
{
    static const char *const hosts[] = { "n4", "n5" };
    static const char *const n4[] = { "n4" };
    chk_instance in;

    build(&in, false);
    add_pool(&in, "ex2", "j2", NULL, 0, hosts, 2, 1, true, n4, 1);
    expect(&in, 1, "exclusive: node n4 is a member of exclusive pools ns/ex and ns/ex2");
}

static void t_capacity(void)
{
    chk_instance in;

    build(&in, false);
    chk_node_use(&in, 1, 3000, 0, 0);   /* n2: c, f, h use 1500m */
    chk_node_use(&in, 2, 0, 8 * GI, 1); /* n3: d uses 512Mi */
    chk_node_use(&in, 0, 0, 0, 8);      /* n1: a, b, g, i are 4 pods */
    expect(&in, 3,
           "capacity: node n1 needs 12 pods but has 10 allocatable",
           "capacity: node n2 needs cpu 4500m but has 4000m allocatable",
           "capacity: node n3 needs memory 9126805504 but has 8589934592 allocatable");
}

static void t_unknown_node(void)
{
    chk_instance in;

    build(&in, false);
    move(&in, "j2", "p", "nx");
    expect(&in, 1, "node: PE ns/j2/p is on unknown node nx");
}

static const sp_test tests[] = {
    SP_TEST(t_valid),
    SP_TEST(t_unplaced_is_fine),
    SP_TEST(t_pool_tag),
    SP_TEST(t_pool_hosts),
    SP_TEST(t_pool_not_member),
    SP_TEST(t_pool_index),
    SP_TEST(t_pool_index_unfilled),
    SP_TEST(t_pool_empty_slot),
    SP_TEST(t_pool_index_unsized),
    SP_TEST(t_pool_other_job),
    SP_TEST(t_pool_missing),
    SP_TEST(t_pool_invalid),
    SP_TEST(t_membership_size),
    SP_TEST(t_membership_duplicate),
    SP_TEST(t_membership_stable),
    SP_TEST(t_membership_match),
    SP_TEST(t_colocation),
    SP_TEST(t_colocation_transitive),
    SP_TEST(t_colocation_other_job),
    SP_TEST(t_exlocation),
    SP_TEST(t_exlocation_other_job),
    SP_TEST(t_isolation),
    SP_TEST(t_isolation_scope_job),
    SP_TEST(t_exclusive),
    SP_TEST(t_exclusive_two_pools),
    SP_TEST(t_capacity),
    SP_TEST(t_unknown_node),
    SP_TEST_END
};

int main(void)
{
    return sp_test_run("test_checker", tests);
}
