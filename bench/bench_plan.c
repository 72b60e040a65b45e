/*
 * bench-plan: the whole-job plan benchmark (DESIGN section 7: a plan of
 * 10,000 PEs over 5,000 nodes within 200 ms), in-process through
 * placement/place.h only.
 *
 *   bench-plan [--mode jobs|single|busy] [--nodes N] [--pes N] [--runs N]
 *              [--seed N]
 *
 * Each run builds a fresh state from the seeded generator (not timed) and
 * times one call:
 *   jobs    the PEs in jobs of 4..40 with mixed constraints, place_plan_all
 *           (what the extender's first filter of a burst of new jobs does);
 *   single  one job of all the PEs, place_plan_job (the literal "whole-job
 *           plan of 10,000 PEs");
 *   busy    as jobs, on a cluster already running 50,000 bound PEs.
 * Prints one line: median, min and max wall and CPU time over the runs, the
 * PEs placed and unplaced, the violations place_find_violations finds
 * afterwards (must be 0), and the peak RSS of the process (generation
 * included). Exit status 0, or 1 when something failed.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench/bench_gen.h"
#include "util/sp_alloc.h"
#include "util/sp_str.h"

#define MAX_RUNS 101
#define BUSY_BOUND 50000 /* PEs already running in busy mode */

typedef enum mode { M_JOBS, M_SINGLE, M_BUSY } mode;

typedef struct run_result {
    double wall_ms, cpu_ms;
    size_t placed, unplaced, violations;
} run_result;

static double ms_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Busy mode: bind a first cluster with the engine, then turn the last jobs
 * (about pes PEs) back into pending new jobs with fresh pools. */
static sp_rc make_busy(bg_cluster *c, int pes, sp_err *err)
{
    int unplaced, from = c->n_jobs;
    sp_rc rc = bg_plan(c, &unplaced, err);

    if (rc)
        return rc;
    for (int left = pes; from > 0 && left > 0;)
        left -= c->jobs[--from].n_pes;
    for (int j = from; j < c->n_jobs; j++) {
        bg_job *job = &c->jobs[j];
        for (int i = 0; i < job->n_pes; i++)
            c->pes[job->first_pe + i].node = -1;
        if (job->own_pool >= 0) {
            sp_free(c->pools[job->own_pool].members);
            c->pools[job->own_pool].members = NULL;
            c->pools[job->own_pool].n_members = 0;
        }
    }
    return SP_OK;
}

/* The measured call, apart so that a profiler can collect only it
 * (valgrind --tool=callgrind --toggle-collect=timed_plan). */
static __attribute__((noinline)) sp_rc timed_plan(place_state *st, mode m, int32_t first,
                                                  const place_plan_opts *opts,
                                                  place_plan **plan)
{
    return m == M_SINGLE ? place_plan_job(st, first, opts, plan)
                         : place_plan_all(st, opts, plan);
}

static sp_rc one_run(const bg_config *cfg, mode m, int pes, run_result *out, sp_err *err)
{
    bg_cluster *c = NULL;
    place_state *st = NULL;
    place_policy pol;
    place_plan *plan = NULL;
    place_plan_opts opts = { .explain = false, .seed = cfg->seed };
    place_violation *v = NULL;
    int32_t *idx = NULL;
    struct timespec w0, w1, c0, c1;
    sp_rc rc = bg_generate(cfg, &c);

    memset(out, 0, sizeof(*out));
    if (!rc && m == M_BUSY)
        rc = make_busy(c, pes, err);
    if (!rc && !(idx = sp_calloc((size_t)c->n_pes + 1, sizeof(*idx))))
        rc = SP_ENOMEM;
    place_policy_default(&pol);
    if (!rc)
        rc = place_state_new(&pol, &st);
    if (!rc)
        rc = bg_load(c, st, idx, err);
    if (!rc) {
        int32_t first = PLACE_NONE;
        for (int i = 0; i < c->n_pes && first == PLACE_NONE; i++)
            if (c->pes[i].node < 0)
                first = idx[i];
        clock_gettime(CLOCK_MONOTONIC, &w0);
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
        rc = timed_plan(st, m, first, &opts, &plan);
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
        clock_gettime(CLOCK_MONOTONIC, &w1);
        out->wall_ms = ms_between(&w0, &w1);
        out->cpu_ms = ms_between(&c0, &c1);
    }
    if (!rc) {
        out->placed = plan->n_placed;
        out->unplaced = plan->n_unplaced;
        rc = place_find_violations(st, &v, &out->violations);
        place_violations_free(v, out->violations);
    }
    if (rc && !err->rc)
        sp_err_set(err, rc, "%s", sp_strerror(rc));
    place_plan_free(plan);
    place_state_free(st);
    sp_free(idx);
    bg_free(c);
    return rc;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench-plan [--mode jobs|single|busy] [--nodes N] [--pes N] "
                    "[--runs N] [--seed N]\n");
    return 1;
}

int main(int argc, char **argv)
{
    bg_config cfg = { .seed = 7, .nodes = 5000, .pes = 10000, .other_per_node = 2 };
    mode m = M_JOBS;
    int64_t v;
    int runs = 5, pes;
    double wall[MAX_RUNS], cpu[MAX_RUNS];
    run_result r = { 0 };
    size_t bad = 0;
    const char *mode_name = "jobs";
    struct rusage ru;

    for (int i = 1; i < argc; i++) {
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!val)
            return usage();
        if (strcmp(argv[i], "--mode") == 0) {
            mode_name = val;
            if (strcmp(val, "jobs") == 0)
                m = M_JOBS;
            else if (strcmp(val, "single") == 0)
                m = M_SINGLE;
            else if (strcmp(val, "busy") == 0)
                m = M_BUSY;
            else
                return usage();
        } else if (sp_parse_int64(val, 1, 10000000, &v)) {
            return usage();
        } else if (strcmp(argv[i], "--nodes") == 0) {
            cfg.nodes = (int)v;
        } else if (strcmp(argv[i], "--pes") == 0) {
            cfg.pes = (int)v;
        } else if (strcmp(argv[i], "--runs") == 0 && v < MAX_RUNS) {
            runs = (int)v;
        } else if (strcmp(argv[i], "--seed") == 0) {
            cfg.seed = (uint64_t)v;
        } else {
            return usage();
        }
        i++;
    }
    pes = cfg.pes;
    cfg.single_job = m == M_SINGLE;
    if (m == M_BUSY)
        cfg.pes = BUSY_BOUND + pes;
    for (int i = 0; i < runs; i++) {
        sp_err err = { SP_OK, "" };
        if (one_run(&cfg, m, pes, &r, &err)) {
            fprintf(stderr, "bench-plan: run %d: %s\n", i, err.msg);
            return 1;
        }
        wall[i] = r.wall_ms;
        cpu[i] = r.cpu_ms;
        bad += r.violations;
    }
    if (getrusage(RUSAGE_SELF, &ru))
        ru.ru_maxrss = 0;
    qsort(wall, (size_t)runs, sizeof(double), cmp_double);
    qsort(cpu, (size_t)runs, sizeof(double), cmp_double);
    printf("plan mode=%s nodes=%d pes=%d runs=%d median_ms=%.2f min_ms=%.2f max_ms=%.2f "
           "cpu_median_ms=%.2f placed=%zu unplaced=%zu violations=%zu rss_mib=%ld\n",
           mode_name, cfg.nodes, pes, runs, wall[runs / 2], wall[0], wall[runs - 1],
           cpu[runs / 2], r.placed, r.unplaced, bad, ru.ru_maxrss / 1024);
    return bad ? 1 : 0;
}
