/*
 * One test per placement rule (DESIGN sections 1, 3 and 4): each sets up the
 * smallest cluster that exercises the rule and asserts the exact reason a
 * refused node gets, and whether preemption could ever fix it.
 */
#include "tests/test_engine.h"

#define V(pe, node) t_verdict(st, pe, node, buf, sizeof(buf), &unres)

static char buf[1024];
static bool unres;

/* ------------------------------------------------------------------------ */
/* Host pools                                                                 */
/* ------------------------------------------------------------------------ */

static void test_pool_tags_are_conjunctive(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t both = t_node(st, "n1", "ssd,fast", 4000, 8 * GI);
    int32_t one = t_node(st, "n2", "ssd", 4000, 8 * GI);
    int32_t pe;

    t_pool(st, "p", NULL, "ssd,fast", NULL, 0, false, NULL);
    pe = t_pe(st, "job1", "0", "pool=p", NULL);
    SP_ASSERT_STR(V(pe, both), "ok");
    SP_ASSERT_STR(V(pe, one), "hostPool 'p': node lacks tag 'fast' (label tag.streams.io/fast)");
    CU_ASSERT_TRUE(unres);
    place_state_free(st);
}

static void test_pool_explicit_hosts(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n1 = t_node(st, "n1", "", 4000, 8 * GI);
    int32_t n2 = t_node(st, "n2", "", 4000, 8 * GI);
    int32_t pe;

    t_pool(st, "p", NULL, NULL, "n1", 0, false, NULL);
    pe = t_pe(st, "job1", "0", "pool=p", NULL);
    SP_ASSERT_STR(V(pe, n1), "ok");
    SP_ASSERT_STR(V(pe, n2), "hostPool 'p': node is not in spec.hosts");
    CU_ASSERT_TRUE(unres);
    place_state_free(st);
}

static void test_pool_tags_and_hosts_intersect(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n1 = t_node(st, "n1", "ssd", 4000, 8 * GI);
    int32_t n2 = t_node(st, "n2", "", 4000, 8 * GI);
    int32_t pe;

    t_pool(st, "p", NULL, "ssd", "n1,n2", 0, false, NULL);
    pe = t_pe(st, "job1", "0", "pool=p", NULL);
    SP_ASSERT_STR(V(pe, n1), "ok");
    SP_ASSERT_STR(V(pe, n2), "hostPool 'p': node lacks tag 'ssd' (label tag.streams.io/ssd)");
    place_state_free(st);
}

static void test_sized_pool_full_refuses_non_members(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n1 = t_node(st, "n1", "ssd", 4000, 8 * GI);
    int32_t n2 = t_node(st, "n2", "ssd", 4000, 8 * GI);
    int32_t n3 = t_node(st, "n3", "ssd", 4000, 8 * GI);
    int32_t pe;

    t_pool(st, "p", NULL, "ssd", NULL, 2, false, "n1,n2");
    pe = t_pe(st, "job1", "0", "pool=p", NULL);
    SP_ASSERT_STR(V(pe, n1), "ok");
    SP_ASSERT_STR(V(pe, n2), "ok");
    SP_ASSERT_STR(V(pe, n3), "hostPool 'p': node is not one of its 2 members");
    CU_ASSERT_TRUE(unres);
    place_state_free(st);
}

static void test_sized_pool_with_room_accepts_candidates(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n2 = t_node(st, "n2", "ssd", 4000, 8 * GI);
    int32_t pe;

    t_node(st, "n1", "ssd", 4000, 8 * GI);
    t_pool(st, "p", NULL, "ssd", NULL, 2, false, "n1");
    pe = t_pe(st, "job1", "0", "pool=p", NULL);
    SP_ASSERT_STR(V(pe, n2), "ok");
    place_state_free(st);
}

static void test_pool_index_is_the_member_at_that_index(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n1 = t_node(st, "n1", "ssd", 4000, 8 * GI);
    int32_t n2 = t_node(st, "n2", "ssd", 4000, 8 * GI);
    int32_t pe;

    t_pool(st, "p", NULL, "ssd", NULL, 2, false, "n1,n2");
    pe = t_pe(st, "job1", "0", "pool=p;index=1", NULL);
    SP_ASSERT_STR(V(pe, n2), "ok");
    SP_ASSERT_STR(V(pe, n1), "hostPool 'p'[1] is node 'n2'");
    CU_ASSERT_TRUE(unres);
    place_state_free(st);
}

/* The same in a pool large enough to be looked up rather than scanned,
 * through every way its membership changes. */
static void test_pool_index_in_a_large_pool_follows_its_members(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    const char *renamed[10] = { "n10", "n9", "n8", "", "n6", "n5", "n4", "n3", "", "" };
    int32_t node[11], pool, pe;

    for (int i = 1; i <= 10; i++) {
        char name[16];
        snprintf(name, sizeof(name), "n%d", i);
        node[i] = t_node(st, name, "ssd", 4000, 8 * GI);
    }
    t_pool(st, "big", NULL, "ssd", NULL, 10, false, "n1,n2,n3,n4,n5,n6,n7,n8,n9,n10");
    pe = t_pe(st, "job1", "0", "pool=big;index=3", NULL);
    SP_ASSERT_STR(V(pe, node[4]), "ok");
    SP_ASSERT_STR(V(pe, node[5]), "hostPool 'big'[3] is node 'n4'");
    pool = t_pool(st, "big", NULL, "ssd", NULL, 10, false, "n10,n9,n8,n7,n6,n5,n4,n3,n2,n1");
    SP_ASSERT_STR(V(pe, node[7]), "ok");
    SP_ASSERT_STR(V(pe, node[4]), "hostPool 'big'[3] is node 'n7'");
    CU_ASSERT_EQUAL_FATAL(place_state_set_pool_members(st, pool, renamed, 10), SP_OK);
    SP_ASSERT_STR(V(pe, node[7]), "ok");
    SP_ASSERT_STR(V(pe, node[1]), "ok");
    SP_ASSERT_STR(V(pe, node[3]), "hostPool 'big'[3]: node already holds another index of "
                                  "the pool");
    place_state_free(st);
}

static void test_pool_index_free_slot_refuses_other_members(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n1 = t_node(st, "n1", "ssd", 4000, 8 * GI);
    int32_t n2 = t_node(st, "n2", "ssd", 4000, 8 * GI);
    int32_t pe;

    t_pool(st, "p", NULL, "ssd", NULL, 2, false, "n1");
    pe = t_pe(st, "job1", "0", "pool=p;index=1", NULL);
    SP_ASSERT_STR(V(pe, n1), "hostPool 'p'[1]: node already holds another index of the pool");
    SP_ASSERT_STR(V(pe, n2), "ok");
    place_state_free(st);
}

static void test_pool_of_another_job_is_refused(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n1 = t_node(st, "n1", "ssd", 4000, 8 * GI);
    int32_t pe;

    t_pool(st, "p", "job2", "ssd", NULL, 1, false, NULL);
    pe = t_pe(st, "job1", "0", "pool=p", NULL);
    SP_ASSERT_STR(V(pe, n1), "PE job1/0: hostPool 'p' belongs to job 'job2'");
    CU_ASSERT_TRUE(unres);
    place_state_free(st);
}

static void test_missing_pool_is_reported_not_fatal(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n1 = t_node(st, "n1", "ssd", 4000, 8 * GI);
    int32_t pe = t_pe(st, "job1", "0", "pool=later", NULL);

    SP_ASSERT_STR(V(pe, n1), "PE job1/0: hostPool 'later' does not exist in namespace 'ns': "
                             "create it, or fix annotation streams.io/host-pool");
    place_state_free(st);
}

static void test_index_needs_a_sized_pool(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n1 = t_node(st, "n1", "ssd", 4000, 8 * GI);
    int32_t pe;

    t_pool(st, "p", NULL, "ssd", NULL, 0, false, NULL);
    pe = t_pe(st, "job1", "0", "pool=p;index=0", NULL);
    SP_ASSERT_STR(V(pe, n1), "PE job1/0: hostPool 'p' has no size, so it cannot be indexed: "
                             "give the pool spec.size or drop streams.io/host-pool-index");
    place_state_free(st);
}

static void test_index_out_of_range(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n1 = t_node(st, "n1", "ssd", 4000, 8 * GI);
    int32_t pe;

    t_pool(st, "p", NULL, "ssd", NULL, 2, false, NULL);
    pe = t_pe(st, "job1", "0", "pool=p;index=2", NULL);
    SP_ASSERT_STR(V(pe, n1), "PE job1/0: index 2 is out of range for hostPool 'p' of size 2");
    place_state_free(st);
}

static void test_invalid_pool_is_named(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n1 = t_node(st, "n1", "ssd", 4000, 8 * GI);
    int32_t pe;

    t_pool(st, "p", NULL, "ssd", NULL, 2, true, NULL);
    pe = t_pe(st, "job1", "0", "pool=p", NULL);
    SP_ASSERT_STR(V(pe, n1), "PE job1/0: hostPool 'p' is invalid: spec.exclusive: an exclusive "
                             "pool needs spec.job: name the job that owns it (a pool without "
                             "a job is shared)");
    place_state_free(st);
}

/* ------------------------------------------------------------------------ */
/* Exclusive pools                                                            */
/* ------------------------------------------------------------------------ */

static void test_exclusive_member_refuses_other_jobs(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n1 = t_node(st, "n1", "ingest", 4000, 8 * GI);
    int32_t other, same;

    t_pool(st, "ing", "job1", "ingest", NULL, 1, true, "n1");
    other = t_pe(st, "job2", "0", NULL, NULL);
    same = t_pe(st, "job1", "5", NULL, NULL);
    SP_ASSERT_STR(V(other, n1), "node belongs to exclusive hostPool 'ing' of job 'job1'");
    CU_ASSERT_TRUE(unres);
    SP_ASSERT_STR(V(same, n1), "ok");
    place_state_free(st);
}

static void test_exclusive_pool_cannot_take_occupied_node(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n1 = t_node(st, "n1", "ingest", 4000, 8 * GI);
    int32_t pe;

    t_pool(st, "ing", "job1", "ingest", NULL, 1, true, NULL);
    t_pe(st, "job2", "7", NULL, "n1");
    pe = t_pe(st, "job1", "0", "pool=ing", NULL);
    SP_ASSERT_STR(V(pe, n1), "exclusive hostPool 'ing': node runs PE job2/7 of another job");
    place_state_free(st);
}

static void test_node_joins_at_most_one_exclusive_pool(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n1 = t_node(st, "n1", "ingest", 4000, 8 * GI);
    int32_t pe;

    t_pool(st, "a", "job1", "ingest", NULL, 1, true, "n1");
    t_pool(st, "b", "job1", "ingest", NULL, 1, true, NULL);
    pe = t_pe(st, "job1", "0", "pool=b", NULL);
    SP_ASSERT_STR(V(pe, n1), "exclusive hostPool 'b': node already belongs to exclusive "
                             "hostPool 'a'");
    place_state_free(st);
}

static void test_node_in_two_exclusive_pools_is_job_wide(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n2 = t_node(st, "n2", "ingest", 4000, 8 * GI);
    int32_t pe;

    t_node(st, "n1", "ingest", 4000, 8 * GI);
    t_pool(st, "a", "job1", "ingest", NULL, 1, true, "n1");
    t_pool(st, "b", "job1", "ingest", NULL, 2, true, "n1");
    pe = t_pe(st, "job1", "0", "pool=b", NULL);
    SP_ASSERT_STR(V(pe, n2), "node 'n1' is in two exclusive hostPools ('a', 'b'): remove it "
                             "from one status.hosts");
    place_state_free(st);
}

static void test_exclusive_pool_colocated_with_outsider(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n1 = t_node(st, "n1", "ingest", 4000, 8 * GI);
    int32_t pe;

    t_pool(st, "ing", "job1", "ingest", NULL, 1, true, NULL);
    pe = t_pe(st, "job1", "0", "pool=ing;coloc=c1", NULL);
    t_pe(st, "job1", "1", "coloc=c1", NULL);
    SP_ASSERT_STR(V(pe, n1), "exclusive hostPool 'ing' is colocated with PE job1/1 outside it: "
                             "put the PE in the pool or drop the colocation");
    place_state_free(st);
}

/* ------------------------------------------------------------------------ */
/* Colocation, exlocation, isolation                                          */
/* ------------------------------------------------------------------------ */

static void test_colocation_follows_a_placed_mate(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n1 = t_node(st, "n1", "", 4000, 8 * GI);
    int32_t n2 = t_node(st, "n2", "", 4000, 8 * GI);
    int32_t pe;

    t_pe(st, "job1", "0", "coloc=c1", "n1");
    pe = t_pe(st, "job1", "1", "coloc=c1", NULL);
    SP_ASSERT_STR(V(pe, n1), "ok");
    SP_ASSERT_STR(V(pe, n2), "hostColocation 'c1': PE job1/0 is on node 'n1'");
    CU_ASSERT_TRUE(unres);
    place_state_free(st);
}

static void test_colocation_is_transitive(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n2 = t_node(st, "n2", "", 4000, 8 * GI);
    int32_t pe;

    t_node(st, "n1", "", 4000, 8 * GI);
    t_pe(st, "job1", "0", "coloc=a", "n1");
    t_pe(st, "job1", "1", "coloc=a,b", NULL);
    pe = t_pe(st, "job1", "2", "coloc=b", NULL);
    SP_ASSERT_STR(V(pe, n2), "hostColocation 'a': PE job1/0 is on node 'n1'");
    place_state_free(st);
}

static void test_colocation_only_within_a_job(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n2 = t_node(st, "n2", "", 4000, 8 * GI);
    int32_t pe;

    t_node(st, "n1", "", 4000, 8 * GI);
    t_pe(st, "job1", "0", "coloc=c1", "n1");
    pe = t_pe(st, "job2", "0", "coloc=c1", NULL);
    SP_ASSERT_STR(V(pe, n2), "ok");
    place_state_free(st);
}

static void test_colocated_pes_split_across_nodes(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n1 = t_node(st, "n1", "", 4000, 8 * GI);
    int32_t pe;

    t_node(st, "n2", "", 4000, 8 * GI);
    t_pe(st, "job1", "0", "coloc=c1", "n1");
    t_pe(st, "job1", "1", "coloc=c1", "n2");
    pe = t_pe(st, "job1", "2", "coloc=c1", NULL);
    SP_ASSERT_STR(V(pe, n1), "hostColocation: PEs job1/0 and job1/1 are already on different "
                             "nodes ('n1', 'n2')");
    place_state_free(st);
}

static void test_colocated_and_exlocated_at_once(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n1 = t_node(st, "n1", "", 4000, 8 * GI);
    int32_t pe;

    t_pe(st, "job1", "0", "coloc=c1;exloc=x1", NULL);
    pe = t_pe(st, "job1", "1", "coloc=c1;exloc=x1", NULL);
    SP_ASSERT_STR(V(pe, n1), "PEs job1/0 and job1/1 must share a node (hostColocation or "
                             "the same pool index) and are exlocated (hostExlocation 'x1'): "
                             "remove one of the two");
    place_state_free(st);
}

static void test_exlocation_refuses_a_node_with_the_id(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n1 = t_node(st, "n1", "", 4000, 8 * GI);
    int32_t n2 = t_node(st, "n2", "", 4000, 8 * GI);
    int32_t pe, other_job;

    t_pe(st, "job1", "pe4", "exloc=ex1", "n1");
    pe = t_pe(st, "job1", "5", "exloc=ex1,ex2", NULL);
    other_job = t_pe(st, "job2", "0", "exloc=ex1", NULL);
    SP_ASSERT_STR(V(pe, n1), "hostExlocation 'ex1': PE job1/pe4 is already on this node");
    CU_ASSERT_TRUE(unres);
    SP_ASSERT_STR(V(pe, n2), "ok");
    SP_ASSERT_STR(V(other_job, n1), "ok");
    place_state_free(st);
}

static void test_exlocation_sees_reserved_pes(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n1 = t_node(st, "n1", "", 4000, 8 * GI);
    int32_t a = t_pe(st, "job1", "0", "exloc=x", NULL);
    int32_t b = t_pe(st, "job1", "1", "exloc=x", NULL);

    CU_ASSERT_EQUAL(place_state_reserve(st, a, n1), SP_OK);
    SP_ASSERT_STR(V(b, n1), "hostExlocation 'x': PE job1/0 is already on this node");
    place_state_free(st);
}

/* Filtered again while reserved (kube-scheduler retrying), a PE is told
 * where it already is, not that it is colocated with itself. */
static void test_reserved_pe_is_told_where_it_is(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n1 = t_node(st, "n1", "", 4000, 8 * GI);
    int32_t n2 = t_node(st, "n2", "", 4000, 8 * GI);
    int32_t a = t_pe(st, "job1", "0", NULL, NULL);

    CU_ASSERT_EQUAL(place_state_reserve(st, a, n1), SP_OK);
    SP_ASSERT_STR(V(a, n1), "ok");
    SP_ASSERT_STR(V(a, n2), "this PE is already reserved or bound on node 'n1'");
    CU_ASSERT_TRUE(unres);
    place_state_free(st);
}

static void test_isolated_pe_needs_an_empty_node(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n1 = t_node(st, "n1", "", 4000, 8 * GI);
    int32_t n2 = t_node(st, "n2", "", 4000, 8 * GI);
    int32_t pe;

    t_pe(st, "job2", "3", NULL, "n1");
    pe = t_pe(st, "job1", "0", "iso=true", NULL);
    SP_ASSERT_STR(V(pe, n1), "hostIsolation: node runs PE job2/3");
    CU_ASSERT_TRUE(unres);
    SP_ASSERT_STR(V(pe, n2), "ok");
    place_state_free(st);
}

static void test_nothing_joins_an_isolated_pe(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n1 = t_node(st, "n1", "", 4000, 8 * GI);
    int32_t pe;

    t_pe(st, "job1", "0", "iso=true", "n1");
    pe = t_pe(st, "job2", "0", NULL, NULL);
    SP_ASSERT_STR(V(pe, n1), "hostIsolation: PE job1/0 on this node is isolated");
    place_state_free(st);
}

static void test_isolation_scope_job_ignores_other_jobs(void)
{
    place_state *st = t_state(PLACE_ISOLATION_JOB);
    int32_t n1 = t_node(st, "n1", "", 4000, 8 * GI);
    int32_t iso, other, same;

    t_pe(st, "job2", "0", NULL, "n1");
    iso = t_pe(st, "job1", "0", "iso=true", NULL);
    SP_ASSERT_STR(V(iso, n1), "ok");
    CU_ASSERT_EQUAL(place_state_reserve(st, iso, n1), SP_OK);
    other = t_pe(st, "job3", "0", NULL, NULL);
    same = t_pe(st, "job1", "1", NULL, NULL);
    SP_ASSERT_STR(V(other, n1), "ok");
    SP_ASSERT_STR(V(same, n1), "hostIsolation: PE job1/0 on this node is isolated");
    place_state_free(st);
}

/* ------------------------------------------------------------------------ */
/* Capacity                                                                   */
/* ------------------------------------------------------------------------ */

static void test_capacity_cpu_memory_pods(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n1 = t_node(st, "n1", "", 4000, 8 * GI);
    int32_t cpu, mem;

    t_pe_req(st, "job2", "0", NULL, "n1", 3000, 1 * GI);
    cpu = t_pe_req(st, "job1", "0", NULL, NULL, 1500, 1 * GI);
    mem = t_pe_req(st, "job1", "1", NULL, NULL, 500, 8 * GI);
    SP_ASSERT_STR(V(cpu, n1), "insufficient cpu: needs 1500m, 1 free of 4");
    CU_ASSERT_FALSE(unres);
    SP_ASSERT_STR(V(mem, n1), "insufficient memory: needs 8Gi, 7Gi free of 8Gi");
    CU_ASSERT_FALSE(unres);
    place_state_free(st);
}

static void test_capacity_counts_the_whole_colocation_group(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t small = t_node(st, "small", "", 1000, 8 * GI);
    int32_t big = t_node(st, "big", "", 4000, 8 * GI);
    int32_t pe = t_pe_req(st, "job1", "0", "coloc=c", NULL, 600, GI);

    t_pe_req(st, "job1", "1", "coloc=c", NULL, 600, GI);
    SP_ASSERT_STR(V(pe, small), "insufficient cpu: needs 1200m, 1 free of 1");
    SP_ASSERT_STR(V(pe, big), "ok");
    place_state_free(st);
}

static void test_capacity_counts_other_pods(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n1 = t_node(st, "n1", "", 2000, 8 * GI);
    place_pod_input other = { .namespace_ = "kube-system", .name = "dns", .uid = "dns",
                              .requests = { 1800, GI, 1 }, .node = "n1" };
    int32_t pe;

    CU_ASSERT_EQUAL(place_state_add_pod(st, &other, NULL, NULL), SP_OK);
    pe = t_pe_req(st, "job1", "0", NULL, NULL, 500, GI);
    SP_ASSERT_STR(V(pe, n1), "insufficient cpu: needs 500m, 200m free of 2");
    CU_ASSERT_EQUAL(place_state_remove_pod(st, "dns"), SP_OK);
    SP_ASSERT_STR(V(pe, n1), "ok");
    place_state_free(st);
}

/* ------------------------------------------------------------------------ */
/* Nodes, restarts, gang wait                                                 */
/* ------------------------------------------------------------------------ */

static void test_taints_and_tolerations(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    place_taint taint = { "dedicated", "infra", "NoSchedule" };
    place_node_input in = { .name = "infra1", .allocatable = { 4000, 8 * GI, 110 },
                            .taints = &taint, .n_taints = 1 };
    place_kv labels[2] = { { PLACE_LABEL_JOB, "job1" }, { PLACE_LABEL_PE, "9" } };
    place_toleration tol = { "dedicated", "Equal", "infra", "NoSchedule" };
    place_pod_input pod = { .namespace_ = "ns", .name = "p", .uid = "tol", .labels = labels,
                            .n_labels = 2, .requests = { 100, GI, 1 },
                            .tolerations = &tol, .n_tolerations = 1 };
    int32_t node, pe, tolerant;

    CU_ASSERT_EQUAL(place_state_put_node(st, &in, &node, NULL), SP_OK);
    pe = t_pe(st, "job1", "0", NULL, NULL);
    SP_ASSERT_STR(V(pe, node), "node has taint dedicated=infra:NoSchedule that the pod does "
                               "not tolerate");
    CU_ASSERT_EQUAL(place_state_add_pod(st, &pod, &tolerant, NULL), SP_OK);
    SP_ASSERT_STR(V(tolerant, node), "ok");
    place_state_free(st);
}

/* A summary groups nodes by what its line says, whatever the figures, the
 * node or the other PE behind each refusal. */
static void test_summary_groups_refusals_that_read_alike(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    place_taint taint = { "dedicated", "gpu", "NoSchedule" };
    place_kv tag = { "tag.streams.io/a", "true" };
    place_node_input in = { .labels = &tag, .n_labels = 1,
                            .allocatable = { 4000, 8 * GI, 110 }, .taints = &taint,
                            .n_taints = 1 };
    int32_t nodes[7], pe;
    place_reason v[7];
    sp_buf b;

    for (int i = 0; i < 2; i++) {
        in.name = i ? "t2" : "t1";
        CU_ASSERT_EQUAL_FATAL(place_state_put_node(st, &in, &nodes[i], NULL), SP_OK);
    }
    nodes[2] = t_node(st, "o1", "a", 4000, 8 * GI);
    nodes[3] = t_node(st, "o2", "a", 4000, 8 * GI);
    nodes[4] = t_node(st, "s1", "a", 100, 8 * GI);
    nodes[5] = t_node(st, "s2", "a", 200, 8 * GI);
    nodes[6] = t_node(st, "ok", "a", 4000, 8 * GI);
    t_pe(st, "a-job", "0", NULL, "o1");
    t_pe(st, "b-job", "0", NULL, "o2");
    t_pool(st, "x", "job1", "a", NULL, 3, true, NULL);
    pe = t_pe_req(st, "job1", "0", "pool=x", NULL, 1000, GI);
    CU_ASSERT_EQUAL_FATAL(place_check_nodes(st, pe, nodes, 7, v), SP_OK);
    sp_buf_init(&b, 4096);
    CU_ASSERT_EQUAL_FATAL(place_reason_summary(st, v, 7, &b), SP_OK);
    SP_ASSERT_STR(b.data, "1/7 nodes are available: 2 node(s): exclusive hostPool 'x': node "
                          "runs PEs of another job; 2 node(s): insufficient cpu; 2 node(s): "
                          "node has taint dedicated=gpu:NoSchedule that the pod does not "
                          "tolerate");
    sp_buf_free(&b);
    place_state_free(st);
}

static void test_cordoned_and_not_ready_nodes(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    place_node_input in = { .name = "c", .allocatable = { 4000, 8 * GI, 110 },
                            .condition = PLACE_NODE_CORDONED };
    int32_t cordoned, not_ready, pe;

    CU_ASSERT_EQUAL(place_state_put_node(st, &in, &cordoned, NULL), SP_OK);
    in.name = "nr";
    in.condition = PLACE_NODE_NOT_READY;
    CU_ASSERT_EQUAL(place_state_put_node(st, &in, &not_ready, NULL), SP_OK);
    pe = t_pe(st, "job1", "0", NULL, NULL);
    SP_ASSERT_STR(V(pe, cordoned), "node is cordoned (spec.unschedulable)");
    SP_ASSERT_STR(V(pe, not_ready), "node is not Ready");
    place_state_free(st);
}

static void test_non_relocatable_pe_returns_to_previous_node(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n1 = t_node(st, "n1", "", 4000, 8 * GI);
    int32_t n2 = t_node(st, "n2", "", 4000, 8 * GI);
    int32_t pe = t_pe(st, "job1", "0", "reloc=false;prev=n1", NULL);
    int32_t free_pe = t_pe(st, "job1", "1", "prev=n1", NULL);

    SP_ASSERT_STR(V(pe, n1), "ok");
    SP_ASSERT_STR(V(pe, n2), "relocatable=false: PE job1/0 must return to node 'n1'");
    CU_ASSERT_TRUE(unres);
    SP_ASSERT_STR(V(free_pe, n2), "ok");
    place_state_free(st);
}

static void test_non_relocatable_pe_waits_for_a_missing_node(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n2 = t_node(st, "n2", "", 4000, 8 * GI);
    int32_t pe = t_pe(st, "job1", "0", "reloc=false;prev=gone", NULL);

    SP_ASSERT_STR(V(pe, n2), "relocatable=false: PE job1/0 must return to node 'gone', which "
                             "does not exist; waiting for it");
    place_state_free(st);
}

static void test_gang_wait_holds_an_incomplete_job(void)
{
    place_policy p;
    place_state *st = NULL;
    int32_t n1, pe;

    place_policy_default(&p);
    p.gang_wait = true;
    CU_ASSERT_EQUAL_FATAL(place_state_new(&p, &st), SP_OK);
    n1 = t_node(st, "n1", "", 4000, 8 * GI);
    pe = t_pe(st, "job1", "0", "count=3", NULL);
    t_pe(st, "job1", "1", "count=3", NULL);
    SP_ASSERT_STR(V(pe, n1), "gang wait: 2 of 3 PEs of job 'job1' exist "
                             "(streams.io/job-pe-count); waiting for the rest so the whole "
                             "job is planned at once");
    t_pe(st, "job1", "2", "count=3", NULL);
    SP_ASSERT_STR(V(pe, n1), "ok");
    place_state_free(st);
}

static void test_malformed_annotation_is_the_reason(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n1 = t_node(st, "n1", "", 4000, 8 * GI);
    int32_t pe = t_pe(st, "job1", "0", "iso=maybe", NULL);

    SP_ASSERT_STR(V(pe, n1), "PE job1/0: annotation streams.io/host-isolation: \"maybe\" is "
                             "not a boolean: use \"true\" or \"false\"");
    place_state_free(st);
}

static void test_pool_too_small_for_its_exlocated_pes(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n1 = t_node(st, "n1", "ssd", 4000, 8 * GI);
    int32_t a, b;

    t_node(st, "n2", "ssd", 4000, 8 * GI);
    t_pool(st, "p", NULL, "ssd", NULL, 2, false, NULL);
    a = t_pe(st, "job1", "0", "pool=p;exloc=x", NULL);
    b = t_pe(st, "job1", "1", "pool=p;exloc=x", NULL);
    t_pe(st, "job1", "2", "pool=p;exloc=x", NULL);
    SP_ASSERT_STR(V(a, n1), "hostPool 'p' has size 2 node(s) but 3 PEs (or colocated groups) "
                            "of job 'job1' share hostExlocation 'x' in it: enlarge the pool "
                            "or drop the exlocation");
    SP_ASSERT_STR(V(b, n1), buf);
    place_state_free(st);
}

static void test_no_node_common_to_colocated_pools(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n1 = t_node(st, "n1", "ssd", 4000, 8 * GI);
    int32_t pe;

    t_node(st, "n2", "gpu", 4000, 8 * GI);
    t_pool(st, "disk", NULL, "ssd", NULL, 0, false, NULL);
    t_pool(st, "gpus", NULL, "gpu", NULL, 0, false, NULL);
    pe = t_pe(st, "job1", "0", "pool=disk;coloc=c", NULL);
    t_pe(st, "job1", "1", "pool=gpus;coloc=c", NULL);
    SP_ASSERT_STR(V(pe, n1), "no node is common to hostPools 'disk' and 'gpus' of colocated "
                             "PEs of job 'job1'");
    place_state_free(st);
}

/* ------------------------------------------------------------------------ */
/* Filter, reservations and scores                                            */
/* ------------------------------------------------------------------------ */

static void test_filter_reserves_so_the_next_filter_sees_it(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t nodes[2];
    place_reason v[2];
    place_filter_result ra, rb;
    int32_t a, b;

    nodes[0] = t_node(st, "n1", "", 4000, 8 * GI);
    nodes[1] = t_node(st, "n2", "", 4000, 8 * GI);
    a = t_pe(st, "job1", "0", "exloc=x", NULL);
    CU_ASSERT_EQUAL(place_filter(st, a, nodes, 2, v, &ra), SP_OK);
    CU_ASSERT_NOT_EQUAL_FATAL(ra.chosen, PLACE_NONE);
    CU_ASSERT_EQUAL(place_state_reserve(st, a, ra.chosen), SP_OK);
    /* B arrives after A's filter and before A's bind */
    b = t_pe(st, "job1", "1", "exloc=x", NULL);
    CU_ASSERT_EQUAL(place_filter(st, b, nodes, 2, v, &rb), SP_OK);
    CU_ASSERT_NOT_EQUAL(rb.chosen, PLACE_NONE);
    CU_ASSERT_NOT_EQUAL(rb.chosen, ra.chosen);
    {
        place_pe_info info;
        place_pe_get(st, a, &info);
        CU_ASSERT_EQUAL(info.phase, PLACE_RESERVED);
    }
    place_state_free(st);
}

static void test_filter_narrows_to_one_node_and_says_why_not_others(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t nodes[3];
    place_reason v[3];
    place_filter_result r;
    sp_buf b;
    int32_t pe;
    size_t chosen_at = 3;

    nodes[0] = t_node(st, "n1", "ssd", 4000, 8 * GI);
    nodes[1] = t_node(st, "n2", "", 4000, 8 * GI);
    nodes[2] = t_node(st, "n3", "ssd", 4000, 8 * GI);
    t_pool(st, "p", NULL, "ssd", NULL, 0, false, NULL);
    pe = t_pe(st, "job1", "0", "pool=p", NULL);
    CU_ASSERT_EQUAL(place_filter(st, pe, nodes, 3, v, &r), SP_OK);
    CU_ASSERT_EQUAL(r.n_ok, 2);
    CU_ASSERT_TRUE(r.planned);
    for (size_t i = 0; i < 3; i++)
        if (nodes[i] == r.chosen)
            chosen_at = i;
    CU_ASSERT_FATAL(chosen_at != 3 && chosen_at != 1);
    CU_ASSERT_EQUAL(v[chosen_at].code, PLACE_R_OK);
    CU_ASSERT_EQUAL(v[1].code, PLACE_R_POOL_TAG);
    CU_ASSERT_TRUE(v[1].unresolvable);
    sp_buf_init(&b, 1024);
    CU_ASSERT_EQUAL(place_reason_format(st, &v[chosen_at == 0 ? 2 : 0], &b), SP_OK);
    SP_ASSERT_STR(b.data, chosen_at == 0 ? "whole-job plan places this PE on node 'n1'"
                                         : "whole-job plan places this PE on node 'n3'");
    sp_buf_free(&b);
    place_state_free(st);
}

static void test_filter_falls_back_when_planned_node_not_offered(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n1 = t_node(st, "n1", "", 4000, 8 * GI);
    int32_t n2 = t_node(st, "n2", "", 4000, 8 * GI);
    int32_t pe = t_pe(st, "job1", "0", "prev=n1", NULL);
    place_reason v[1];
    place_filter_result r;

    CU_ASSERT_EQUAL(place_filter(st, pe, &n2, 1, v, &r), SP_OK);
    CU_ASSERT_EQUAL(r.chosen, n2);
    CU_ASSERT_FALSE(r.planned);
    (void)n1;
    place_state_free(st);
}

static void test_scores_stay_within_zero_and_ten(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t nodes[4];
    int scores[4];
    int32_t pe;

    nodes[0] = t_node(st, "n1", "ssd", 4000, 8 * GI);
    nodes[1] = t_node(st, "n2", "ssd", 4000, 8 * GI);
    nodes[2] = t_node(st, "n3", "", 4000, 8 * GI);
    nodes[3] = t_node(st, "n4", "ssd", 4000, 8 * GI);
    t_pool(st, "p", NULL, "ssd", NULL, 2, false, "n1");
    t_pe(st, "job2", "0", NULL, "n1");
    t_pe(st, "job2", "1", NULL, "n1");
    pe = t_pe(st, "job1", "0", "pool=p;prev=n4", NULL);
    CU_ASSERT_EQUAL(place_score(st, pe, nodes, 4, scores), SP_OK);
    for (int i = 0; i < 4; i++)
        CU_ASSERT_TRUE(scores[i] >= 0 && scores[i] <= PLACE_SCORE_MAX);
    CU_ASSERT_EQUAL(scores[2], 0);           /* not in the pool */
    CU_ASSERT_EQUAL(scores[3], 9);           /* previous node */
    CU_ASSERT_EQUAL(scores[0], 5);           /* member, busiest */
    CU_ASSERT_EQUAL(scores[1], 4);           /* not a member yet, empty */
    place_state_free(st);
}

static void test_violations_of_placed_pes_are_reported(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    place_violation *v = NULL;
    size_t n = 0;

    t_node(st, "n1", "ingest", 4000, 8 * GI);
    t_node(st, "n6", "", 4000, 8 * GI);
    t_pool(st, "ing", "job1", "ingest", NULL, 2, false, NULL);
    t_pe(st, "job1", "0", "pool=ing;index=0;coloc=c1", "n6");
    t_pe(st, "job1", "1", "coloc=c1", "n1");
    t_pe(st, "job1", "2", "pool=ing", "n1");
    CU_ASSERT_EQUAL_FATAL(place_find_violations(st, &v, &n), SP_OK);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    SP_ASSERT_STR(v[0].reason, "hostColocation 'c1': PE job1/1 is on node 'n1'");
    SP_ASSERT_STR(v[1].reason, "hostColocation 'c1': PE job1/0 is on node 'n6'");
    place_violations_free(v, n);
    place_state_free(st);
}

/* The captured cluster's job1: an exclusive pool colocated with an outsider. */
static void test_violation_of_exclusive_colocation(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    place_violation *v = NULL;
    size_t n = 0;

    t_node(st, "n1", "ingest", 4000, 8 * GI);
    t_pool(st, "ing", "job1", "ingest", NULL, 2, true, NULL);
    t_pe(st, "job1", "0", "pool=ing;index=0;coloc=c1", "n1");
    t_pe(st, "job1", "1", "coloc=c1", "n1");
    CU_ASSERT_EQUAL_FATAL(place_find_violations(st, &v, &n), SP_OK);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    SP_ASSERT_STR(v[0].reason, "exclusive hostPool 'ing' is colocated with PE job1/1 outside "
                               "it: put the PE in the pool or drop the colocation");
    place_violations_free(v, n);
    place_state_free(st);
}

/* ------------------------------------------------------------------------ */
/* Admission against the job's existing PEs                                   */
/* ------------------------------------------------------------------------ */

static void test_admit_refuses_colocated_and_exlocated(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);

    t_pe(st, "job1", "1", "coloc=c1;exloc=x1", NULL);
    SP_ASSERT_STR(t_admit(st, "job1", "2", "coloc=c1;exloc=x1", buf, sizeof(buf)),
                  "PE job1/2: annotation streams.io/host-colocation puts PEs job1/2 and "
                  "job1/1 on one node but hostExlocation 'x1' keeps them apart: remove "
                  "the shared colocation or the exlocation id");
    SP_ASSERT_STR(t_admit(st, "job1", "2", "coloc=c1", buf, sizeof(buf)), "ok");
    SP_ASSERT_STR(t_admit(st, "job2", "2", "coloc=c1;exloc=x1", buf, sizeof(buf)), "ok");
    place_state_free(st);
}

static void test_admit_refuses_a_merge_that_contradicts(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);

    t_pe(st, "job1", "b", "coloc=c1;exloc=x", NULL);
    t_pe(st, "job1", "c", "coloc=c2;exloc=x", NULL);
    SP_ASSERT_STR(t_admit(st, "job1", "a", "coloc=c1", buf, sizeof(buf)), "ok");
    SP_ASSERT_STR(t_admit(st, "job1", "a", "coloc=c1,c2", buf, sizeof(buf)),
                  "PE job1/a: annotation streams.io/host-colocation puts PEs job1/b and "
                  "job1/c on one node but hostExlocation 'x' keeps them apart: remove "
                  "the shared colocation or the exlocation id");
    place_state_free(st);
}

static void test_admit_ignores_the_pes_own_earlier_pod(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);

    t_pe(st, "job1", "2", "coloc=c1;exloc=x1", "n1");
    t_pe(st, "job1", "3", "coloc=c1", NULL);
    SP_ASSERT_STR(t_admit(st, "job1", "2", "coloc=c1;exloc=x1", buf, sizeof(buf)), "ok");
    SP_ASSERT_STR(t_admit(st, "job1", "9", "iso=true;coloc=c", buf, sizeof(buf)),
                  "annotations streams.io/host-isolation and streams.io/host-colocation "
                  "conflict: an isolated PE runs alone on its node, so it cannot be "
                  "colocated; remove one of them");
    place_state_free(st);
}

/* ------------------------------------------------------------------------ */
/* Things that go away                                                        */
/* ------------------------------------------------------------------------ */

static void test_removed_node_keeps_its_pes_but_takes_no_more(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n1 = t_node(st, "n1", "", 4000, 8 * GI);
    int32_t placed = t_pe(st, "job1", "0", NULL, "n1");
    int32_t pe = t_pe(st, "job1", "1", NULL, NULL);
    place_pe_info info;

    CU_ASSERT_EQUAL(place_state_remove_node(st, "n1"), SP_OK);
    CU_ASSERT_EQUAL(place_state_remove_node(st, "n1"), SP_ENOTFOUND);
    CU_ASSERT_EQUAL(place_state_node_count(st), 0);
    SP_ASSERT_STR(V(pe, n1), "node is unknown to streams-placer");
    place_pe_get(st, placed, &info);
    CU_ASSERT_EQUAL(info.node, n1);
    t_node(st, "n1", "", 4000, 8 * GI); /* it comes back */
    SP_ASSERT_STR(V(pe, n1), "ok");
    place_state_free(st);
}

static void test_removed_pool_is_missing(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t n1 = t_node(st, "n1", "ssd", 4000, 8 * GI);
    int32_t pe;

    t_pool(st, "p", NULL, "ssd", NULL, 1, false, "n1");
    pe = t_pe(st, "job1", "0", "pool=p", NULL);
    SP_ASSERT_STR(V(pe, n1), "ok");
    CU_ASSERT_EQUAL(place_state_remove_pool(st, "ns", "p"), SP_OK);
    CU_ASSERT_EQUAL(place_state_remove_pool(st, "ns", "p"), SP_ENOTFOUND);
    SP_ASSERT_STR(V(pe, n1), "PE job1/0: hostPool 'p' does not exist in namespace 'ns': "
                             "create it, or fix annotation streams.io/host-pool");
    place_state_free(st);
}

static void test_job_size_counts_live_pods(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);

    CU_ASSERT_EQUAL(place_state_job_size(st, "ns", "job1"), 0);
    t_pe(st, "job1", "0", NULL, NULL);
    t_pe(st, "job1", "1", NULL, NULL);
    CU_ASSERT_EQUAL(place_state_job_size(st, "ns", "job1"), 2);
    CU_ASSERT_EQUAL(place_state_remove_pod(st, "uid-job1-0"), SP_OK);
    CU_ASSERT_EQUAL(place_state_job_size(st, "ns", "job1"), 1);
    place_state_free(st);
}

static const sp_test tests[] = {
    SP_TEST(test_pool_tags_are_conjunctive),
    SP_TEST(test_pool_explicit_hosts),
    SP_TEST(test_pool_tags_and_hosts_intersect),
    SP_TEST(test_sized_pool_full_refuses_non_members),
    SP_TEST(test_sized_pool_with_room_accepts_candidates),
    SP_TEST(test_pool_index_is_the_member_at_that_index),
    SP_TEST(test_pool_index_in_a_large_pool_follows_its_members),
    SP_TEST(test_pool_index_free_slot_refuses_other_members),
    SP_TEST(test_pool_of_another_job_is_refused),
    SP_TEST(test_missing_pool_is_reported_not_fatal),
    SP_TEST(test_index_needs_a_sized_pool),
    SP_TEST(test_index_out_of_range),
    SP_TEST(test_invalid_pool_is_named),
    SP_TEST(test_exclusive_member_refuses_other_jobs),
    SP_TEST(test_exclusive_pool_cannot_take_occupied_node),
    SP_TEST(test_node_joins_at_most_one_exclusive_pool),
    SP_TEST(test_node_in_two_exclusive_pools_is_job_wide),
    SP_TEST(test_exclusive_pool_colocated_with_outsider),
    SP_TEST(test_colocation_follows_a_placed_mate),
    SP_TEST(test_colocation_is_transitive),
    SP_TEST(test_colocation_only_within_a_job),
    SP_TEST(test_colocated_pes_split_across_nodes),
    SP_TEST(test_colocated_and_exlocated_at_once),
    SP_TEST(test_exlocation_refuses_a_node_with_the_id),
    SP_TEST(test_exlocation_sees_reserved_pes),
    SP_TEST(test_reserved_pe_is_told_where_it_is),
    SP_TEST(test_isolated_pe_needs_an_empty_node),
    SP_TEST(test_nothing_joins_an_isolated_pe),
    SP_TEST(test_isolation_scope_job_ignores_other_jobs),
    SP_TEST(test_capacity_cpu_memory_pods),
    SP_TEST(test_capacity_counts_the_whole_colocation_group),
    SP_TEST(test_capacity_counts_other_pods),
    SP_TEST(test_taints_and_tolerations),
    SP_TEST(test_summary_groups_refusals_that_read_alike),
    SP_TEST(test_cordoned_and_not_ready_nodes),
    SP_TEST(test_non_relocatable_pe_returns_to_previous_node),
    SP_TEST(test_non_relocatable_pe_waits_for_a_missing_node),
    SP_TEST(test_gang_wait_holds_an_incomplete_job),
    SP_TEST(test_malformed_annotation_is_the_reason),
    SP_TEST(test_pool_too_small_for_its_exlocated_pes),
    SP_TEST(test_no_node_common_to_colocated_pools),
    SP_TEST(test_filter_reserves_so_the_next_filter_sees_it),
    SP_TEST(test_filter_narrows_to_one_node_and_says_why_not_others),
    SP_TEST(test_filter_falls_back_when_planned_node_not_offered),
    SP_TEST(test_scores_stay_within_zero_and_ten),
    SP_TEST(test_violations_of_placed_pes_are_reported),
    SP_TEST(test_violation_of_exclusive_colocation),
    SP_TEST(test_admit_refuses_colocated_and_exlocated),
    SP_TEST(test_admit_refuses_a_merge_that_contradicts),
    SP_TEST(test_admit_ignores_the_pes_own_earlier_pod),
    SP_TEST(test_removed_node_keeps_its_pes_but_takes_no_more),
    SP_TEST(test_removed_pool_is_missing),
    SP_TEST(test_job_size_counts_live_pods),
    SP_TEST_END
};

int main(void)
{
    return sp_test_run("rules", tests);
}
