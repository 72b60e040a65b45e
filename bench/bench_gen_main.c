/*
 * sp-bench-gen: write a generated cluster (bench_gen.h) as the JSON files
 * `streams-placer serve` reads, for the benchmarks that drive the server.
 *
 *   sp-bench-gen --out-dir DIR [--seed N] [--nodes N] [--pes N]
 *                [--other-per-node K] [--pending]
 *
 * writes DIR/nodes.json (a NodeList), DIR/hostpools.json and DIR/pods.json
 * (daemonset pods and PEs). PEs are planned once with the engine and bound
 * where that plan put them, unless --pending. Prints one line of counts.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench_gen.h"
#include "util/sp_str.h"

static int usage(void)
{
    fprintf(stderr, "usage: sp-bench-gen --out-dir DIR [--seed N] [--nodes N] [--pes N] "
                    "[--other-per-node K] [--pending]\n");
    return 1;
}

static int write_file(const char *dir, const char *name, const bg_cluster *c,
                      int (*fn)(const bg_cluster *, FILE *, bool), bool arg, long *size)
{
    char path[4096];
    FILE *f;
    int bad;

    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
        return -1;
    if (!(f = fopen(path, "w"))) {
        fprintf(stderr, "sp-bench-gen: %s: %s\n", path, strerror(errno));
        return -1;
    }
    bad = fn(c, f, arg);
    *size = ftell(f);
    if (fclose(f) || bad) {
        fprintf(stderr, "sp-bench-gen: writing %s failed\n", path);
        return -1;
    }
    return 0;
}

static int nodes_fn(const bg_cluster *c, FILE *f, bool arg)
{
    (void)arg;
    return bg_write_nodes(c, f);
}

static int pools_fn(const bg_cluster *c, FILE *f, bool arg)
{
    (void)arg;
    return bg_write_pools(c, f);
}

static int pods_fn(const bg_cluster *c, FILE *f, bool bound_only)
{
    return bg_write_pods(c, f, bound_only);
}

static int opt_int(const char *v, int64_t max, int *out)
{
    int64_t x;

    if (!v || sp_parse_int64(v, 0, max, &x))
        return -1;
    *out = (int)x;
    return 0;
}

int main(int argc, char **argv)
{
    bg_config cfg = { .seed = 1, .nodes = 5000, .pes = 50000, .other_per_node = 2 };
    const char *dir = NULL;
    bool pending = false;
    bg_cluster *c = NULL;
    int unplaced = 0, seed = 1;
    long sizes[3] = { 0, 0, 0 };
    sp_err err = { SP_OK, "" };
    struct timespec t0, t1;

    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--out-dir") == 0 && v)
            dir = argv[++i];
        else if (strcmp(argv[i], "--seed") == 0 && !opt_int(v, INT32_MAX, &seed))
            i++;
        else if (strcmp(argv[i], "--nodes") == 0 && !opt_int(v, 1000000, &cfg.nodes))
            i++;
        else if (strcmp(argv[i], "--pes") == 0 && !opt_int(v, 10000000, &cfg.pes))
            i++;
        else if (strcmp(argv[i], "--other-per-node") == 0 && !opt_int(v, 100, &cfg.other_per_node))
            i++;
        else if (strcmp(argv[i], "--pending") == 0)
            pending = true;
        else
            return usage();
    }
    if (!dir || cfg.nodes < 1)
        return usage();
    cfg.seed = (uint64_t)seed;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (bg_generate(&cfg, &c)) {
        fprintf(stderr, "sp-bench-gen: out of memory\n");
        return 1;
    }
    if (!pending && bg_plan(c, &unplaced, &err)) {
        fprintf(stderr, "sp-bench-gen: %s\n", err.msg);
        bg_free(c);
        return 1;
    }
    if (write_file(dir, "nodes.json", c, nodes_fn, false, &sizes[0]) ||
        write_file(dir, "hostpools.json", c, pools_fn, false, &sizes[1]) ||
        write_file(dir, "pods.json", c, pods_fn, !pending, &sizes[2])) {
        bg_free(c);
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("seed=%d nodes=%d jobs=%d pools=%d pes=%d bound=%d unplaced=%d other_pods=%d "
           "nodes_bytes=%ld hostpools_bytes=%ld pods_bytes=%ld seconds=%.1f\n",
           seed, c->n_nodes, c->n_jobs, c->n_pools, c->n_pes,
           pending ? 0 : c->n_pes - unplaced, unplaced, c->n_others, sizes[0], sizes[1],
           sizes[2], (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    bg_free(c);
    return 0;
}
