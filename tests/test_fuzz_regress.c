/*
 * Replays of the fuzz targets (fuzz/fuzz_targets.c) under make check: every
 * input in fuzz/regressions/<target>/ (what fuzzing found, each against a
 * fresh extender service) and every seed in fuzz/corpus/<target>/ (one
 * service for the whole corpus, as a server sees requests) goes through the
 * same entry points as the libFuzzer programs. A crash fails the program; a
 * broken check (an answer that is not JSON, a score out of range, a node
 * that was not sent, ...) is a CUnit failure naming the file and the check.
 * Each input is handed over in a buffer of exactly its size, so that a read
 * past its end shows under AddressSanitizer or valgrind.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_targets.h"
#include "tests/test_util.h"
#include "util/sp_alloc.h"

#define MAX_FILES 4096
#define MAX_INPUT_BYTES (4u << 20)   /* bytes: a larger saved input is an error */

static unsigned violations;
static const char *replaying = "";

static void count_violation(const char *target, const char *what)
{
    violations++;
    fprintf(stderr, "\n  %s: fuzz_%s: %s\n", replaying, target, what);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files of dir, sorted; NULL entries past *n. Caller frees. */
static char **list_dir(const char *dir, size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = sp_calloc(MAX_FILES, sizeof(*names));

    *n = 0;
    if (!d || !names) {
        if (d)
            closedir(d);
        return names;
    }
    while ((e = readdir(d)) && *n < MAX_FILES) {
        if (e->d_name[0] == '.')
            continue;
        names[*n] = sp_strdup(e->d_name);
        if (names[*n])
            (*n)++;
    }
    closedir(d);
    qsort(names, *n, sizeof(*names), cmp_str);
    return names;
}

/* The file at path in a buffer of exactly its size (one byte for an empty
 * file, with *len 0); *ok false when it cannot be read. */
static uint8_t *read_input(const char *path, size_t *len, bool *ok)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long size;

    *len = 0;
    *ok = false;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && (size_t)size <= MAX_INPUT_BYTES &&
        fseek(f, 0, SEEK_SET) == 0) {
        buf = sp_malloc(size ? (size_t)size : 1);
        if (buf && fread(buf, 1, (size_t)size, f) == (size_t)size) {
            *len = (size_t)size;
            *ok = true;
        }
    }
    fclose(f);
    return buf;
}

/*
 * Replay every file of fuzz/<kind>/<target>/ through run. fresh: start each
 * input with a fresh extender service. Returns how many inputs ran.
 */
static size_t replay(const char *kind, const fuzz_target *t, bool fresh)
{
    char dir[1024], path[2048];
    size_t n = 0, ran = 0;
    char **names;

    CU_ASSERT_FATAL(snprintf(dir, sizeof(dir), "%s/fuzz/%s/%s", SP_TOP_SRCDIR, kind, t->name) <
                    (int)sizeof(dir));
    names = list_dir(dir, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(names);
    fuzz_reset();
    for (size_t i = 0; i < n; i++) {
        size_t len;
        bool ok;
        uint8_t *data;
        unsigned before = violations;

        ok = snprintf(path, sizeof(path), "%s/%s", dir, names[i]) < (int)sizeof(path);
        data = ok ? read_input(path, &len, &ok) : NULL;
        if (!ok)
            fprintf(stderr, "\n  %s: cannot read\n", path);
        CU_ASSERT_TRUE(ok);
        if (ok) {
            if (fresh)
                fuzz_reset();
            replaying = path;
            CU_ASSERT_EQUAL(t->run(data, len), 0);
            CU_ASSERT_EQUAL(violations, before);
            ran++;
        }
        sp_free(data);
        sp_free(names[i]);
    }
    sp_free(names);
    fuzz_reset();
    return ran;
}

static const fuzz_target *target(const char *name)
{
    for (const fuzz_target *t = fuzz_targets; t->name; t++)
        if (strcmp(t->name, name) == 0)
            return t;
    CU_FAIL_FATAL("no such fuzz target");
    return NULL;
}

/* The corpus must hold seeds; the regressions may be empty. */
static void replay_target(const char *name)
{
    const fuzz_target *t = target(name);

    replay("regressions", t, true);
    CU_ASSERT_TRUE(replay("corpus", t, false) > 0);
}

static void test_quantity(void) { replay_target("quantity"); }
static void test_annotations(void) { replay_target("annotations"); }
static void test_extender(void) { replay_target("extender"); }
static void test_admission(void) { replay_target("admission"); }
static void test_hostpool(void) { replay_target("hostpool"); }
static void test_policy(void) { replay_target("policy"); }
static void test_kubeconfig(void) { replay_target("kubeconfig"); }
static void test_skim(void) { replay_target("skim"); }

/* Every target in the table has a test above. */
static void test_every_target_replayed(void)
{
    static const char *const tested[] = { "quantity", "annotations", "extender",
                                          "admission", "hostpool", "policy",
                                          "kubeconfig", "skim" };
    size_t n = 0;

    for (const fuzz_target *t = fuzz_targets; t->name; t++, n++) {
        bool found = false;
        for (size_t i = 0; i < sizeof(tested) / sizeof(tested[0]); i++)
            found |= strcmp(tested[i], t->name) == 0;
        if (!found)
            fprintf(stderr, "\n  fuzz target %s has no replay test\n", t->name);
        CU_ASSERT_TRUE(found);
    }
    CU_ASSERT_EQUAL(n, sizeof(tested) / sizeof(tested[0]));
}

int main(void)
{
    static const sp_test tests[] = {
        SP_TEST(test_quantity),  SP_TEST(test_annotations),
        SP_TEST(test_extender),  SP_TEST(test_admission),
        SP_TEST(test_hostpool),  SP_TEST(test_policy),
        SP_TEST(test_kubeconfig), SP_TEST(test_skim),
        SP_TEST(test_every_target_replayed),
        SP_TEST_END,
    };

    fuzz_init();
    fuzz_set_violation_handler(count_violation);
    return sp_test_run("fuzz regressions", tests);
}
