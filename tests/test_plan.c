/*
 * Whole-job planning: the cases a per-pod greedy scheduler gets wrong (the
 * first PE of a colocation group landing on a node too small for the rest),
 * stable pool membership, indexes, exclusive pools, isolation, consistency
 * with PEs already placed, and the explanation of what cannot be placed.
 */
#include "tests/test_engine.h"
#include "util/sp_alloc.h"

static place_plan *plan_all(place_state *st, bool explain)
{
    place_plan_opts opts = { .explain = explain, .seed = 1 };
    place_plan *plan = NULL;

    CU_ASSERT_EQUAL_FATAL(place_plan_all(st, &opts, &plan), SP_OK);
    return plan;
}

/* Membership of a pool as "a,b,c" into buf. */
static const char *hosts_of(place_state *st, const char *pool, char *buf, size_t len)
{
    const char **names = NULL;
    size_t n = 0, used = 0;
    int32_t p = place_state_find_pool(st, "ns", pool);

    buf[0] = '\0';
    CU_ASSERT_FATAL(p != PLACE_NONE);
    CU_ASSERT_EQUAL_FATAL(place_pool_hosts(st, p, &names, &n), SP_OK);
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? "," : "", names[i]);
        if (w > 0)
            used += (size_t)w;
    }
    sp_free(names);
    return buf;
}

static void test_colocation_group_goes_where_all_of_it_fits(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t pes[3];
    place_plan *plan;

    /* "small" is emptier, so a greedy per-pod scheduler picks it first */
    t_node(st, "small", "", 2000, 8 * GI);
    t_node(st, "big", "", 4000, 8 * GI);
    t_pe_req(st, "other", "0", NULL, "big", 500, GI);
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof(id), "%d", i);
        pes[i] = t_pe_req(st, "job1", id, "coloc=c", NULL, 1000, GI);
    }
    plan = plan_all(st, false);
    CU_ASSERT_EQUAL(plan->n_placed, 3);
    CU_ASSERT_EQUAL(plan->n_unplaced, 0);
    for (int i = 0; i < 3; i++)
        SP_ASSERT_STR(t_node_of(st, pes[i]), "big");
    place_plan_free(plan);
    place_state_free(st);
}

static void test_exlocated_pes_spread(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t pes[3];
    place_plan *plan;

    t_node(st, "n1", "", 4000, 8 * GI);
    t_node(st, "n2", "", 4000, 8 * GI);
    t_node(st, "n3", "", 4000, 8 * GI);
    pes[0] = t_pe(st, "job1", "0", "exloc=x", NULL);
    pes[1] = t_pe(st, "job1", "1", "exloc=x,y", NULL);
    pes[2] = t_pe(st, "job1", "2", "exloc=x", NULL);
    plan = plan_all(st, false);
    CU_ASSERT_EQUAL(plan->n_placed, 3);
    CU_ASSERT_STRING_NOT_EQUAL(t_node_of(st, pes[0]), t_node_of(st, pes[1]));
    CU_ASSERT_STRING_NOT_EQUAL(t_node_of(st, pes[1]), t_node_of(st, pes[2]));
    CU_ASSERT_STRING_NOT_EQUAL(t_node_of(st, pes[0]), t_node_of(st, pes[2]));
    place_plan_free(plan);
    place_state_free(st);
}

static void test_pool_membership_is_chosen_once_and_kept(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    char buf[256];
    int32_t a, b;
    place_plan *plan;

    t_node(st, "n1", "ssd", 4000, 8 * GI);
    t_node(st, "n2", "ssd", 4000, 8 * GI);
    t_node(st, "n3", "ssd", 4000, 8 * GI);
    t_node(st, "n4", "ssd", 4000, 8 * GI);
    t_pool(st, "p", NULL, "ssd", NULL, 3, false, "n3");
    a = t_pe(st, "job1", "0", "pool=p;exloc=x", NULL);
    b = t_pe(st, "job1", "1", "pool=p;exloc=x", NULL);
    plan = plan_all(st, false);
    CU_ASSERT_EQUAL(plan->n_placed, 2);
    hosts_of(st, "p", buf, sizeof(buf));
    /* n3 stays first; the pool is completed to its size at once */
    CU_ASSERT_EQUAL(strncmp(buf, "n3,", 3), 0);
    CU_ASSERT_EQUAL(strlen(buf), strlen("n3,nX,nY"));
    SP_ASSERT_CONTAINS(buf, t_node_of(st, a));
    SP_ASSERT_CONTAINS(buf, t_node_of(st, b));
    place_plan_free(plan);
    place_state_free(st);
}

static void test_pool_index_fills_its_slot(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    char buf[256], expect[64];
    int32_t first, third;
    place_plan *plan;

    t_node(st, "n1", "ssd", 4000, 8 * GI);
    t_node(st, "n2", "ssd", 4000, 8 * GI);
    t_node(st, "n3", "ssd", 4000, 8 * GI);
    t_pool(st, "p", NULL, "ssd", NULL, 3, false, "n2");
    first = t_pe(st, "job1", "0", "pool=p;index=0", NULL);
    third = t_pe(st, "job1", "1", "pool=p;index=2", NULL);
    plan = plan_all(st, false);
    CU_ASSERT_EQUAL(plan->n_placed, 2);
    SP_ASSERT_STR(t_node_of(st, first), "n2");
    hosts_of(st, "p", buf, sizeof(buf));
    snprintf(expect, sizeof(expect), ",%s", t_node_of(st, third));
    CU_ASSERT_EQUAL(strlen(buf), strlen("n2,nX,nY"));
    CU_ASSERT_STRING_EQUAL(buf + strlen(buf) - strlen(expect), expect);
    place_plan_free(plan);
    place_state_free(st);
}

static void test_exclusive_jobs_are_planned_first(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    char buf[256];
    int32_t excl[2], crowd[4];
    place_plan *plan;

    t_node(st, "n1", "fast", 4000, 8 * GI);
    t_node(st, "n2", "fast", 4000, 8 * GI);
    t_node(st, "n3", "", 4000, 8 * GI);
    t_node(st, "n4", "", 4000, 8 * GI);
    t_pool(st, "mine", "z-job", "fast", NULL, 2, true, NULL);
    /* "a-job" sorts first by name and would spread over every node */
    for (int i = 0; i < 4; i++) {
        char id[16];
        snprintf(id, sizeof(id), "%d", i);
        crowd[i] = t_pe(st, "a-job", id, "exloc=x", NULL);
    }
    excl[0] = t_pe(st, "z-job", "0", "pool=mine;exloc=x", NULL);
    excl[1] = t_pe(st, "z-job", "1", "pool=mine;exloc=x", NULL);
    plan = plan_all(st, false);
    CU_ASSERT_EQUAL(plan->n_placed, 4);
    CU_ASSERT_EQUAL(plan->n_unplaced, 2);
    hosts_of(st, "mine", buf, sizeof(buf));
    CU_ASSERT_TRUE(strcmp(buf, "n1,n2") == 0 || strcmp(buf, "n2,n1") == 0);
    SP_ASSERT_CONTAINS(buf, t_node_of(st, excl[0]));
    SP_ASSERT_CONTAINS(buf, t_node_of(st, excl[1]));
    for (int i = 0; i < 4; i++)
        CU_ASSERT_FALSE(strcmp(t_node_of(st, crowd[i]), "n1") == 0 ||
                        strcmp(t_node_of(st, crowd[i]), "n2") == 0);
    place_plan_free(plan);
    place_state_free(st);
}

/* On a busy cluster the nodes an exclusive pool can take are the scarce
 * ones: its units go before indexed units that could use any node. */
static void test_exclusive_pool_gets_the_free_nodes_of_a_busy_cluster(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    place_plan_opts opts = { .seed = 1, .max_attempts = 1 };
    place_plan *plan = NULL;
    char buf[256];
    int32_t excl[2], idx[2];

    t_node(st, "n1", "a", 4000, 8 * GI);
    t_node(st, "n2", "a", 4000, 8 * GI);
    t_node(st, "n3", "a", 4000, 8 * GI);
    t_node(st, "n4", "a", 4000, 8 * GI);
    t_pe(st, "old", "0", NULL, "n1");
    t_pe(st, "old", "1", NULL, "n2");
    t_pool(st, "ix", NULL, "a", NULL, 2, false, NULL);
    t_pool(st, "mine", "z-job", "a", NULL, 2, true, NULL);
    /* bigger, so first among units of pools as large, and on the emptiest */
    idx[0] = t_pe_req(st, "b-job", "0", "pool=ix;index=0", NULL, 1000, GI);
    idx[1] = t_pe_req(st, "b-job", "1", "pool=ix;index=1", NULL, 1000, GI);
    excl[0] = t_pe(st, "z-job", "0", "pool=mine;exloc=x", NULL);
    excl[1] = t_pe(st, "z-job", "1", "pool=mine;exloc=x", NULL);
    CU_ASSERT_EQUAL_FATAL(place_plan_all(st, &opts, &plan), SP_OK);
    CU_ASSERT_EQUAL(plan->n_placed, 4);
    CU_ASSERT_EQUAL(plan->n_unplaced, 0);
    hosts_of(st, "mine", buf, sizeof(buf));
    CU_ASSERT_TRUE(strcmp(buf, "n3,n4") == 0 || strcmp(buf, "n4,n3") == 0);
    SP_ASSERT_CONTAINS(buf, t_node_of(st, excl[0]));
    SP_ASSERT_CONTAINS(buf, t_node_of(st, excl[1]));
    hosts_of(st, "ix", buf, sizeof(buf));
    CU_ASSERT_TRUE(strcmp(buf, "n1,n2") == 0 || strcmp(buf, "n2,n1") == 0);
    SP_ASSERT_CONTAINS(buf, t_node_of(st, idx[0]));
    SP_ASSERT_CONTAINS(buf, t_node_of(st, idx[1]));
    place_plan_free(plan);
    place_state_free(st);
}

/* A node of a job's exclusive pool is open to that job's PEs of a shared
 * pool, even while PEs of other jobs search the same pool. */
static void test_job_reaches_its_exclusive_node_through_a_shared_pool(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t mine, other;
    place_plan *plan;

    t_node(st, "n1", "a", 4000, 8 * GI);
    t_node(st, "n2", "a", 1000, 8 * GI);
    t_pool(st, "shared", NULL, "a", NULL, 0, false, NULL);
    t_pool(st, "own", "k-job", "a", NULL, 1, true, "n1");
    t_pe(st, "k-job", "0", "pool=own", "n1");
    mine = t_pe_req(st, "k-job", "1", "pool=shared", NULL, 2000, GI);
    other = t_pe_req(st, "j-job", "0", "pool=shared", NULL, 500, GI);
    plan = plan_all(st, false);
    CU_ASSERT_EQUAL(plan->n_placed, 2);
    SP_ASSERT_STR(t_node_of(st, mine), "n1");
    SP_ASSERT_STR(t_node_of(st, other), "n2");
    place_plan_free(plan);
    place_state_free(st);
}

/* Tainted nodes wait for the PEs that tolerate them; the others are told
 * why. */
static void test_tainted_node_is_found_by_a_tolerating_pe(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    place_taint taint = { "dedicated", "gpu", "NoSchedule" };
    place_node_input in = { .name = "t1", .allocatable = { 4000, 8 * GI, 110 },
                            .taints = &taint, .n_taints = 1 };
    place_kv labels[2] = { { PLACE_LABEL_JOB, "job1" }, { PLACE_LABEL_PE, "1" } };
    place_toleration tol = { "dedicated", "Equal", "gpu", "NoSchedule" };
    place_pod_input pod = { .namespace_ = "ns", .name = "job1-pe1", .uid = "tol",
                            .labels = labels, .n_labels = 2, .requests = { 1000, GI, 1 },
                            .tolerations = &tol, .n_tolerations = 1 };
    int32_t plain, tolerant;
    place_plan *plan;

    CU_ASSERT_EQUAL_FATAL(place_state_put_node(st, &in, NULL, NULL), SP_OK);
    t_node(st, "n2", "", 500, 8 * GI);
    plain = t_pe_req(st, "job1", "0", NULL, NULL, 1000, GI);
    CU_ASSERT_EQUAL_FATAL(place_state_add_pod(st, &pod, &tolerant, NULL), SP_OK);
    plan = plan_all(st, false);
    CU_ASSERT_EQUAL(plan->n_placed, 1);
    SP_ASSERT_STR(t_node_of(st, tolerant), "t1");
    CU_ASSERT_EQUAL_FATAL(plan->n_unplaced, 1);
    CU_ASSERT_EQUAL(plan->unplaced[0].pe, plain);
    SP_ASSERT_STR(plan->unplaced[0].reason,
                  "0/2 nodes are available: 1 node(s): insufficient cpu; 1 node(s): node has "
                  "taint dedicated=gpu:NoSchedule that the pod does not tolerate");
    place_plan_free(plan);
    place_state_free(st);
}

/* Plan pe's job alone. */
static place_plan *plan_job(place_state *st, int32_t pe)
{
    place_plan_opts opts = { .seed = 1 };
    place_plan *plan = NULL;

    CU_ASSERT_EQUAL_FATAL(place_plan_job(st, pe, &opts, &plan), SP_OK);
    return plan;
}

/* Pools with the same tags select the same nodes, also after a node lost
 * the tag. */
static void test_pools_alike_follow_a_node_losing_its_tag(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    place_plan *plan;

    t_node(st, "n1", "a", 4000, 8 * GI);
    t_node(st, "n2", "a", 4000, 8 * GI);
    t_pool(st, "p1", NULL, "a", NULL, 0, false, NULL);
    t_pool(st, "p2", NULL, "a", NULL, 0, false, NULL);
    plan = plan_job(st, t_pe(st, "job1", "0", "pool=p1", NULL));
    CU_ASSERT_EQUAL(plan->n_placed, 1);
    place_plan_free(plan);
    t_pe(st, "job2", "0", "pool=p2;exloc=x", NULL);
    plan = plan_job(st, t_pe(st, "job2", "1", "pool=p2;exloc=x", NULL));
    CU_ASSERT_EQUAL(plan->n_placed, 2);
    place_plan_free(plan);
    t_node(st, "n2", "", 4000, 8 * GI);
    plan = plan_job(st, t_pe(st, "job3", "0", "pool=p1", NULL));
    CU_ASSERT_EQUAL_FATAL(plan->n_placed, 1);
    SP_ASSERT_STR(t_node_of(st, plan->placed[0]), "n1");
    place_plan_free(plan);
    t_pe(st, "job4", "0", "pool=p2;exloc=y", NULL);
    plan = plan_job(st, t_pe(st, "job4", "1", "pool=p2;exloc=y", NULL));
    CU_ASSERT_EQUAL(plan->n_placed, 0);
    CU_ASSERT_EQUAL_FATAL(plan->n_unplaced, 2);
    SP_ASSERT_CONTAINS(plan->unplaced[0].reason, "hostPool 'p2' matches 1 node(s) but 2 PEs");
    place_plan_free(plan);
    place_state_free(st);
}

/* A plan whose outcome nobody asks for still leaves its placements. */
static void test_plan_without_outcome_places(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    place_plan_opts opts = { .seed = 1 };
    int32_t fits, too_big;

    t_node(st, "n1", "", 4000, 8 * GI);
    fits = t_pe(st, "job1", "0", NULL, NULL);
    too_big = t_pe_req(st, "job1", "1", NULL, NULL, 8000, GI);
    CU_ASSERT_EQUAL(place_plan_all(st, &opts, NULL), SP_OK);
    SP_ASSERT_STR(t_node_of(st, fits), "n1");
    SP_ASSERT_STR(t_node_of(st, too_big), "-");
    place_state_free(st);
}

/* place_plan_all plans only jobs with PEs to place (a count per job kept
 * through every phase change): a job whose PEs are all committed is left
 * alone, and one becomes plannable again when a PE of it is pending again,
 * whichever way it got there. */
static void test_plan_all_finds_every_movable_job(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    place_plan_opts opts = { .seed = 1 };
    int32_t a0, a1, b0, node;
    char a0_node[32];

    t_node(st, "n1", "", 4000, 8 * GI);
    t_node(st, "n2", "", 4000, 8 * GI);
    a0 = t_pe(st, "jobA", "0", NULL, NULL);
    a1 = t_pe(st, "jobA", "1", "exloc=x", NULL);
    b0 = t_pe(st, "jobB", "0", NULL, "n2");          /* bound already */
    CU_ASSERT_EQUAL(place_plan_all(st, &opts, NULL), SP_OK);
    CU_ASSERT_NOT_EQUAL(strcmp(t_node_of(st, a0), "-"), 0);
    CU_ASSERT_NOT_EQUAL(strcmp(t_node_of(st, a1), "-"), 0);
    snprintf(a0_node, sizeof(a0_node), "%s", t_node_of(st, a0));
    node = place_state_find_node(st, a0_node);
    CU_ASSERT_EQUAL(place_state_reserve(st, a0, node), SP_OK);
    CU_ASSERT_EQUAL(place_state_bind(st, a0, node), SP_OK);
    node = place_state_find_node(st, t_node_of(st, a1));
    CU_ASSERT_EQUAL(place_state_bind(st, a1, node), SP_OK);
    CU_ASSERT_EQUAL(place_state_remove_pod(st, "uid-jobB-0"), SP_OK);
    b0 = t_pe(st, "jobB", "0", NULL, NULL);          /* back, pending */
    SP_ASSERT_STR(t_node_of(st, b0), "-");
    CU_ASSERT_EQUAL(place_plan_all(st, &opts, NULL), SP_OK);
    CU_ASSERT_NOT_EQUAL(strcmp(t_node_of(st, b0), "-"), 0);
    SP_ASSERT_STR(t_node_of(st, a0), a0_node);         /* committed: untouched */
    place_state_free(st);
}

static void test_isolated_pe_gets_an_empty_node(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t iso, others[3];
    place_plan *plan;

    t_node(st, "n1", "", 4000, 8 * GI);
    t_node(st, "n2", "", 4000, 8 * GI);
    t_node(st, "n3", "", 4000, 8 * GI);
    others[0] = t_pe(st, "job1", "0", NULL, NULL);
    others[1] = t_pe(st, "job1", "1", NULL, NULL);
    others[2] = t_pe(st, "job1", "2", NULL, NULL);
    iso = t_pe(st, "job1", "3", "iso=true", NULL);
    plan = plan_all(st, false);
    CU_ASSERT_EQUAL(plan->n_placed, 4);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_STRING_NOT_EQUAL(t_node_of(st, others[i]), t_node_of(st, iso));
    place_plan_free(plan);
    place_state_free(st);
}

static void test_plan_follows_placed_mates(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t pe;
    place_plan *plan;

    t_node(st, "n1", "", 4000, 8 * GI);
    t_node(st, "n2", "", 4000, 8 * GI);
    t_pe(st, "job1", "0", "coloc=c", "n2");
    pe = t_pe(st, "job1", "1", "coloc=c", NULL);
    plan = plan_all(st, false);
    SP_ASSERT_STR(t_node_of(st, pe), "n2");
    place_plan_free(plan);
    place_state_free(st);
}

static void test_unplaceable_pe_is_explained_node_by_node(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t pe;
    place_plan *plan;

    t_node(st, "n1", "gpu", 1000, 8 * GI);
    t_node(st, "n2", "", 4000, 8 * GI);
    t_node(st, "n3", "", 4000, 8 * GI);
    t_pool(st, "gpus", NULL, "gpu", NULL, 0, false, NULL);
    pe = t_pe_req(st, "job1", "0", "pool=gpus", NULL, 2000, GI);
    plan = plan_all(st, true);
    CU_ASSERT_EQUAL(plan->n_placed, 0);
    CU_ASSERT_EQUAL_FATAL(plan->n_unplaced, 1);
    CU_ASSERT_EQUAL(plan->unplaced[0].pe, pe);
    SP_ASSERT_STR(plan->unplaced[0].reason,
                  "0/3 nodes are available: 2 node(s): hostPool 'gpus': node lacks tag "
                  "'gpu' (label tag.streams.io/gpu); 1 node(s): insufficient cpu");
    CU_ASSERT_EQUAL_FATAL(plan->unplaced[0].n_nodes, 3);
    SP_ASSERT_STR(plan->unplaced[0].node_reasons[0], "insufficient cpu: needs 2, 1 free of 1");
    place_plan_free(plan);
    place_state_free(st);
}

static void test_job_wide_problem_is_the_reason(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    place_plan *plan;

    t_node(st, "n1", "ssd", 4000, 8 * GI);
    t_node(st, "n2", "ssd", 4000, 8 * GI);
    t_pool(st, "p", NULL, "ssd", NULL, 1, false, NULL);
    t_pe(st, "job1", "0", "pool=p;exloc=x", NULL);
    t_pe(st, "job1", "1", "pool=p;exloc=x", NULL);
    t_pe(st, "job1", "2", "pool=p", NULL);
    plan = plan_all(st, true);
    CU_ASSERT_EQUAL(plan->n_placed, 1);
    CU_ASSERT_EQUAL_FATAL(plan->n_unplaced, 2);
    for (int i = 0; i < 2; i++)
        SP_ASSERT_STR(plan->unplaced[i].reason,
                      "hostPool 'p' has size 1 node(s) but 2 PEs (or colocated groups) of "
                      "job 'job1' share hostExlocation 'x' in it: enlarge the pool or drop "
                      "the exlocation");
    place_plan_free(plan);
    place_state_free(st);
}

static void test_malformed_pe_does_not_stop_the_job(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    place_plan *plan;

    t_node(st, "n1", "", 4000, 8 * GI);
    t_pe(st, "job1", "0", "coloc=bad id", NULL);
    t_pe(st, "job1", "1", NULL, NULL);
    plan = plan_all(st, false);
    CU_ASSERT_EQUAL(plan->n_placed, 1);
    CU_ASSERT_EQUAL_FATAL(plan->n_unplaced, 1);
    SP_ASSERT_CONTAINS(plan->unplaced[0].reason, "id \"bad id\" is malformed");
    place_plan_free(plan);
    place_state_free(st);
}

static void test_balanced_instance_spreads(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    int32_t pes[4];
    place_plan *plan;
    int seen = 0;

    t_node(st, "n1", "", 4000, 8 * GI);
    t_node(st, "n2", "", 4000, 8 * GI);
    t_node(st, "n3", "", 4000, 8 * GI);
    t_node(st, "n4", "", 4000, 8 * GI);
    for (int i = 0; i < 4; i++) {
        char id[16];
        snprintf(id, sizeof(id), "%d", i);
        pes[i] = t_pe(st, "job1", id, NULL, NULL);
    }
    plan = plan_all(st, false);
    for (int i = 0; i < 4; i++)
        seen |= 1 << (t_node_of(st, pes[i])[1] - '1');
    CU_ASSERT_EQUAL(seen, 0xf);
    place_plan_free(plan);
    place_state_free(st);
}

static void test_balanced_job_counts_only_the_job(void)
{
    place_policy p;
    place_state *st = NULL;
    int32_t pe;
    place_plan *plan;

    place_policy_default(&p);
    p.balancing = PLACE_BALANCE_JOB;
    CU_ASSERT_EQUAL_FATAL(place_state_new(&p, &st), SP_OK);
    t_node(st, "n1", "", 8000, 8 * GI);
    t_node(st, "n2", "", 8000, 8 * GI);
    /* n1 is busy with another job, n2 has one PE of job1 */
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof(id), "%d", i);
        t_pe_req(st, "other", id, NULL, "n1", 10, 1);
    }
    t_pe_req(st, "job1", "0", NULL, "n2", 10, 1);
    pe = t_pe_req(st, "job1", "1", NULL, NULL, 10, 1);
    plan = plan_all(st, false);
    SP_ASSERT_STR(t_node_of(st, pe), "n1");
    place_plan_free(plan);
    place_state_free(st);
}

static void test_replanning_keeps_earlier_choices(void)
{
    place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
    char first[32];
    int32_t a;
    place_plan *plan;

    for (int i = 0; i < 6; i++) {
        char name[16];
        snprintf(name, sizeof(name), "n%d", i);
        t_node(st, name, "", 4000, 8 * GI);
    }
    a = t_pe(st, "job1", "0", "exloc=x", NULL);
    plan = plan_all(st, false);
    snprintf(first, sizeof(first), "%s", t_node_of(st, a));
    place_plan_free(plan);
    t_pe(st, "job1", "1", "exloc=x", NULL);
    t_pe(st, "job1", "2", "exloc=x", NULL);
    plan = plan_all(st, false);
    CU_ASSERT_EQUAL(plan->n_placed, 3);
    SP_ASSERT_STR(t_node_of(st, a), first);
    place_plan_free(plan);
    place_state_free(st);
}

/* Build the same cluster twice; the two plans must match. */
static void build_mixed(place_state *st)
{
    for (int i = 0; i < 20; i++) {
        char name[16];
        snprintf(name, sizeof(name), "n%02d", i);
        t_node(st, name, i % 2 ? "ssd" : "", 4000, 8 * GI);
    }
    t_pool(st, "p", NULL, "ssd", NULL, 4, false, NULL);
    for (int i = 0; i < 30; i++) {
        char id[16], ann[64];
        snprintf(id, sizeof(id), "%d", i);
        snprintf(ann, sizeof(ann), "%s", i % 3 == 0 ? "pool=p" : i % 3 == 1 ? "exloc=x" : "coloc=c");
        t_pe(st, "job1", id, ann, NULL);
    }
}

static void test_same_input_same_plan(void)
{
    place_state *a = t_state(PLACE_ISOLATION_CLUSTER);
    place_state *b = t_state(PLACE_ISOLATION_CLUSTER);
    place_plan *pa, *pb;

    build_mixed(a);
    build_mixed(b);
    pa = plan_all(a, false);
    pb = plan_all(b, false);
    CU_ASSERT_EQUAL_FATAL(pa->n_placed, pb->n_placed);
    for (size_t i = 0; i < pa->n_placed; i++)
        SP_ASSERT_STR(t_node_of(a, pa->placed[i]), t_node_of(b, pb->placed[i]));
    place_plan_free(pa);
    place_plan_free(pb);
    place_state_free(a);
    place_state_free(b);
}

/* Every allocation failure on the way through a plan is an SP_ENOMEM. */
static void test_plan_survives_allocation_failures(void)
{
    sp_rc rc = SP_ENOMEM;

    for (long n = 0; rc == SP_ENOMEM && n < 100000; n++) {
        place_state *st = t_state(PLACE_ISOLATION_CLUSTER);
        place_plan_opts opts = { .explain = true };
        place_plan *plan = NULL;
        build_mixed(st);
        sp_alloc_fail_after(n);
        rc = place_plan_all(st, &opts, &plan);
        sp_alloc_fail_after(-1);
        CU_ASSERT_TRUE(rc == SP_OK || rc == SP_ENOMEM);
        place_plan_free(plan);
        place_state_free(st);
    }
    CU_ASSERT_EQUAL(rc, SP_OK);
}

static const sp_test tests[] = {
    SP_TEST(test_colocation_group_goes_where_all_of_it_fits),
    SP_TEST(test_exlocated_pes_spread),
    SP_TEST(test_pool_membership_is_chosen_once_and_kept),
    SP_TEST(test_pool_index_fills_its_slot),
    SP_TEST(test_exclusive_jobs_are_planned_first),
    SP_TEST(test_exclusive_pool_gets_the_free_nodes_of_a_busy_cluster),
    SP_TEST(test_job_reaches_its_exclusive_node_through_a_shared_pool),
    SP_TEST(test_tainted_node_is_found_by_a_tolerating_pe),
    SP_TEST(test_pools_alike_follow_a_node_losing_its_tag),
    SP_TEST(test_plan_without_outcome_places),
    SP_TEST(test_plan_all_finds_every_movable_job),
    SP_TEST(test_isolated_pe_gets_an_empty_node),
    SP_TEST(test_plan_follows_placed_mates),
    SP_TEST(test_unplaceable_pe_is_explained_node_by_node),
    SP_TEST(test_job_wide_problem_is_the_reason),
    SP_TEST(test_malformed_pe_does_not_stop_the_job),
    SP_TEST(test_balanced_instance_spreads),
    SP_TEST(test_balanced_job_counts_only_the_job),
    SP_TEST(test_replanning_keeps_earlier_choices),
    SP_TEST(test_same_input_same_plan),
    SP_TEST(test_plan_survives_allocation_failures),
    SP_TEST_END
};

int main(void)
{
    return sp_test_run("plan", tests);
}
