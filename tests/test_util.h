/*
 * Shared harness for the CUnit test programs: register one suite of tests and
 * run it, with the project's exit-status convention (0 pass, 77 skip, 99 hard
 * error, 1 fail). The failure count is read before CU_cleanup_registry(),
 * which resets it. Also a few assertion helpers for reason texts.
 */
#ifndef SP_TEST_UTIL_H
#define SP_TEST_UTIL_H

#include <CUnit/Basic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/sp_alloc.h"

typedef struct sp_test {
    const char *name;
    void (*fn)(void);
} sp_test;

#define SP_TEST(fn) { #fn, fn }
#define SP_TEST_END { NULL, NULL }

/* Exit status of a test program. */
#define SP_TEST_PASS 0
#define SP_TEST_FAIL 1
#define SP_TEST_SKIP 77
#define SP_TEST_ERROR 99

/* Run the tests as one suite; returns the process exit status. */
static inline int sp_test_run(const char *suite_name, const sp_test *tests)
{
    CU_pSuite suite;
    unsigned failed;

    sp_alloc_install_json_hooks();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return SP_TEST_ERROR;
    suite = CU_add_suite(suite_name, NULL, NULL);
    if (!suite) {
        CU_cleanup_registry();
        return SP_TEST_ERROR;
    }
    for (const sp_test *t = tests; t->name; t++) {
        if (!CU_add_test(suite, t->name, t->fn)) {
            CU_cleanup_registry();
            return SP_TEST_ERROR;
        }
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    if (CU_basic_run_tests() != CUE_SUCCESS) {
        CU_cleanup_registry();
        return SP_TEST_ERROR;
    }
    failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? SP_TEST_FAIL : SP_TEST_PASS;
}

/*
 * How much slower this run is than a plain one: $SP_TEST_SCALE, else 1.
 * make check-valgrind sets it (memcheck runs some 50 times slower). Tests
 * divide their heaviest loops by it and multiply their time limits by it;
 * every case still runs.
 */
static inline long sp_test_scale(void)
{
    const char *s = getenv("SP_TEST_SCALE");
    char *end;
    long v;

    if (!s || !*s)
        return 1;
    v = strtol(s, &end, 10);
    return *end || v < 1 ? 1 : v;
}

/* Assert that two strings are equal, printing both when they are not. */
#define SP_ASSERT_STR(actual, expected)                                          \
    do {                                                                         \
        const char *a_ = (actual), *e_ = (expected);                            \
        int same_ = a_ && e_ && strcmp(a_, e_) == 0;                             \
        if (!same_)                                                              \
            fprintf(stderr, "\n  %s:%d\n  expected: \"%s\"\n  actual:   \"%s\"\n", \
                    __FILE__, __LINE__, e_ ? e_ : "(null)", a_ ? a_ : "(null)"); \
        CU_ASSERT_TRUE(same_);                                                   \
    } while (0)

/* Assert that haystack contains needle. */
#define SP_ASSERT_CONTAINS(haystack, needle)                                     \
    do {                                                                         \
        const char *h_ = (haystack), *n_ = (needle);                            \
        int in_ = h_ && n_ && strstr(h_, n_) != NULL;                            \
        if (!in_)                                                                \
            fprintf(stderr, "\n  %s:%d\n  expected to contain: \"%s\"\n  actual: \"%s\"\n", \
                    __FILE__, __LINE__, n_ ? n_ : "(null)", h_ ? h_ : "(null)"); \
        CU_ASSERT_TRUE(in_);                                                     \
    } while (0)

/* Write text to a file of the test's own; the test stops when it cannot. */
static inline void sp_test_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

/*
 * The folder of captured payloads: $SP_FIXTURES_DIR, else
 * $top_srcdir/../shared/fixtures (make check sets top_srcdir), else the
 * source tree the test was built from. False when it is not there.
 */
static inline bool sp_test_fixtures(char *buf, size_t len)
{
    const char *env = getenv("SP_FIXTURES_DIR");
    const char *top = getenv("top_srcdir");
    char probe[4096];
    int n;

    if (env && *env)
        n = snprintf(buf, len, "%s", env);
    else if (top && *top)
        n = snprintf(buf, len, "%s/../shared/fixtures", top);
    else
#ifdef SP_TOP_SRCDIR
        n = snprintf(buf, len, "%s/../shared/fixtures", SP_TOP_SRCDIR);
#else
        n = -1;
#endif
    if (n < 0 || (size_t)n >= len)
        return false;
    n = snprintf(probe, sizeof(probe), "%s/cluster-nodes.json", buf);
    return n > 0 && (size_t)n < sizeof(probe) && access(probe, R_OK) == 0;
}

#endif /* SP_TEST_UTIL_H */
