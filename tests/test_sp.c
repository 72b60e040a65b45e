/*
 * Tests of the util layer (util/): error structs, the capped buffer, the
 * string and integer hash maps and the interner, the strict string helpers
 * and the seeded generator, and allocation failure injection: every
 * operation that allocates is run with the 1st, 2nd, ... allocation failing
 * until it succeeds, and each failing run must report SP_ENOMEM and leave
 * its object consistent and freeable (valgrind and ASan check the leaks);
 * and the arenas of cJSON trees.
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tests/test_util.h"
#include "util/sp_alloc.h"
#include "util/sp_arena.h"
#include "util/sp_buf.h"
#include "util/sp_error.h"
#include "util/sp_map.h"
#include "util/sp_stop.h"
#include "util/sp_str.h"

/* ------------------------------------------------------------------------ */
/* sp_error                                                                   */
/* ------------------------------------------------------------------------ */

static void t_err_set_and_clear(void)
{
    sp_err err;

    CU_ASSERT_EQUAL(sp_err_set(&err, SP_EPARSE, "bad %s at %d", "x", 3), SP_EPARSE);
    CU_ASSERT_EQUAL(err.rc, SP_EPARSE);
    SP_ASSERT_STR(err.msg, "bad x at 3");
    sp_err_clear(&err);
    CU_ASSERT_EQUAL(err.rc, SP_OK);
    SP_ASSERT_STR(err.msg, "");
    CU_ASSERT_EQUAL(sp_err_set(NULL, SP_ELIMIT, "ignored"), SP_ELIMIT);
    sp_err_clear(NULL);
}

static void t_err_truncates(void)
{
    char longer[SP_ERR_MSG_MAX * 2];
    sp_err err;

    memset(longer, 'a', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    CU_ASSERT_EQUAL(sp_err_set(&err, SP_EINVAL, "%s", longer), SP_EINVAL);
    CU_ASSERT_EQUAL(strlen(err.msg), SP_ERR_MSG_MAX - 1);
}

static void t_err_prefix(void)
{
    sp_err err;

    sp_err_clear(&err);
    (void)sp_err_set(&err, SP_EPARSE, "quantity \"1KB\" is malformed");
    CU_ASSERT_EQUAL(sp_err_prefix(&err, "items[%d]", 3), SP_EPARSE);
    CU_ASSERT_EQUAL(sp_err_prefix(&err, "%s", "pods.json"), SP_EPARSE);
    SP_ASSERT_STR(err.msg, "pods.json: items[3]: quantity \"1KB\" is malformed");
    CU_ASSERT_EQUAL(sp_err_prefix(NULL, "x"), SP_OK);
}

static void t_strerror(void)
{
    SP_ASSERT_STR(sp_strerror(SP_OK), "success");
    SP_ASSERT_STR(sp_strerror(SP_ENOMEM), "out of memory");
    SP_ASSERT_STR(sp_strerror(SP_ELIMIT), "limit exceeded");
    for (int rc = SP_OK; rc <= SP_EINTERNAL + 1; rc++) {
        const char *s = sp_strerror((sp_rc)rc);
        CU_ASSERT_PTR_NOT_NULL(s);
        CU_ASSERT_TRUE(s && *s);
    }
    SP_ASSERT_STR(sp_strerror((sp_rc)(SP_EINTERNAL + 1)), "unknown error");
}

/* ------------------------------------------------------------------------ */
/* sp_buf                                                                     */
/* ------------------------------------------------------------------------ */

static void t_buf_cap_exact(void)
{
    sp_buf b;

    sp_buf_init(&b, 10);
    CU_ASSERT_EQUAL(sp_buf_append(&b, "0123456789", 10), SP_OK);
    CU_ASSERT_EQUAL(b.len, 10);
    SP_ASSERT_STR(b.data, "0123456789");
    CU_ASSERT_EQUAL(sp_buf_append(&b, "", 0), SP_OK);
    CU_ASSERT_EQUAL(sp_buf_append(&b, "x", 1), SP_ELIMIT);
    CU_ASSERT_EQUAL(b.len, 10);
    SP_ASSERT_STR(b.data, "0123456789");
    sp_buf_free(&b);
}

static void t_buf_cap_over_in_pieces(void)
{
    sp_buf b;

    sp_buf_init(&b, 10);
    CU_ASSERT_EQUAL(sp_buf_puts(&b, "01234"), SP_OK);
    CU_ASSERT_EQUAL(sp_buf_puts(&b, "567890"), SP_ELIMIT);
    CU_ASSERT_EQUAL(b.len, 5);
    SP_ASSERT_STR(b.data, "01234");
    CU_ASSERT_EQUAL(sp_buf_puts(&b, "56789"), SP_OK);
    SP_ASSERT_STR(b.data, "0123456789");
    sp_buf_free(&b);
}

static void t_buf_cap_first_append(void)
{
    sp_buf b;

    sp_buf_init(&b, 4);
    CU_ASSERT_EQUAL(sp_buf_puts(&b, "hello"), SP_ELIMIT);
    CU_ASSERT_PTR_NULL(b.data);
    CU_ASSERT_EQUAL(b.len, 0);
    sp_buf_free(&b);
    sp_buf_init(&b, 0);
    CU_ASSERT_EQUAL(sp_buf_puts(&b, ""), SP_OK);
    CU_ASSERT_EQUAL(sp_buf_puts(&b, "a"), SP_ELIMIT);
    SP_ASSERT_STR(b.data, "");
    sp_buf_free(&b);
}

static void t_buf_huge_length_refused(void)
{
    sp_buf b;

    sp_buf_init(&b, 100);
    CU_ASSERT_EQUAL(sp_buf_puts(&b, "abc"), SP_OK);
    CU_ASSERT_EQUAL(sp_buf_append(&b, "x", (size_t)-1), SP_ELIMIT);
    CU_ASSERT_EQUAL(sp_buf_append(&b, "x", (size_t)-1 - 2), SP_ELIMIT);
    SP_ASSERT_STR(b.data, "abc");
    sp_buf_free(&b);
}

static void t_buf_printf(void)
{
    sp_buf b;

    sp_buf_init(&b, 16);
    CU_ASSERT_EQUAL(sp_buf_printf(&b, "%d-%s", 42, "ab"), SP_OK);
    CU_ASSERT_EQUAL(sp_buf_printf(&b, "/%03d", 7), SP_OK);
    SP_ASSERT_STR(b.data, "42-ab/007");
    CU_ASSERT_EQUAL(b.len, 9);
    CU_ASSERT_EQUAL(sp_buf_printf(&b, "%s", "12345678"), SP_ELIMIT);
    SP_ASSERT_STR(b.data, "42-ab/007");
    CU_ASSERT_EQUAL(sp_buf_printf(&b, "%s", "1234567"), SP_OK);
    CU_ASSERT_EQUAL(b.len, 16);
    SP_ASSERT_STR(b.data, "42-ab/0071234567");
    CU_ASSERT_EQUAL(sp_buf_printf(&b, "%s", ""), SP_OK);
    sp_buf_free(&b);
}

static void t_stop_nap(void)
{
    sp_stop s;
    struct timespec now, later;

    clock_gettime(CLOCK_MONOTONIC, &now);
    later = sp_time_after_ms(CLOCK_MONOTONIC, 1999);
    CU_ASSERT_TRUE(later.tv_nsec >= 0 && later.tv_nsec < 1000000000L);
    CU_ASSERT_TRUE(later.tv_sec >= now.tv_sec + 1 && later.tv_sec <= now.tv_sec + 3);
    sp_stop_init(&s);
    CU_ASSERT_FALSE(sp_stop_raised(&s));
    CU_ASSERT_TRUE(sp_stop_nap(&s, 1)); /* the time passed, not stopped */
    sp_stop_raise(&s);
    CU_ASSERT_TRUE(sp_stop_raised(&s));
    CU_ASSERT_FALSE(sp_stop_nap(&s, 60000)); /* raised: returns at once */
    sp_stop_destroy(&s);
}

static void t_buf_json_string(void)
{
    sp_buf b;
    size_t len;
    char fill[64];

    sp_buf_init(&b, 64);
    CU_ASSERT_EQUAL(sp_buf_json_string(&b, "plain"), SP_OK);
    CU_ASSERT_EQUAL(sp_buf_json_string(&b, "q\"b\\n\nt\t\x01\x1f \xc3\xa9"), SP_OK);
    CU_ASSERT_EQUAL(sp_buf_json_string(&b, ""), SP_OK);
    SP_ASSERT_STR(b.data, "\"plain\"\"q\\\"b\\\\n\\u000at\\u0009\\u0001\\u001f \xc3\xa9\"\"\"");
    /* over the cap: an error, never a cut string */
    len = b.len;
    CU_ASSERT_EQUAL(sp_buf_json_string(&b, "0123456789\n0123456789\n0123456789"), SP_ELIMIT);
    CU_ASSERT_EQUAL(b.len, len);
    CU_ASSERT_EQUAL(strlen(b.data), len);
    /* a string without escapes is copied whole, within the cap too */
    memset(fill, 'x', sizeof(fill));
    fill[64 - len - 1] = '\0';                /* one over the cap, quoted */
    CU_ASSERT_EQUAL(sp_buf_json_string(&b, fill), SP_ELIMIT);
    CU_ASSERT_EQUAL(b.len, len);
    fill[64 - len - 2] = '\0';                /* exactly the cap */
    CU_ASSERT_EQUAL(sp_buf_json_string(&b, fill), SP_OK);
    CU_ASSERT_EQUAL(b.len, 64);
    CU_ASSERT_EQUAL(b.data[len], '"');
    CU_ASSERT_EQUAL(strncmp(b.data + len + 1, fill, 64 - len - 2), 0);
    SP_ASSERT_STR(b.data + 63, "\"");
    sp_buf_free(&b);
}

/* Room made at once holds what is appended after, without moving. */
static void t_buf_reserve(void)
{
    sp_buf b;
    const char *data;

    sp_buf_init(&b, 1000);
    CU_ASSERT_EQUAL(sp_buf_reserve(&b, 1001), SP_ELIMIT);
    CU_ASSERT_PTR_NULL(b.data);
    CU_ASSERT_EQUAL(sp_buf_reserve(&b, 1000), SP_OK);
    CU_ASSERT_EQUAL(b.len, 0);
    CU_ASSERT_TRUE(b.cap >= 1001);
    data = b.data;
    for (int i = 0; i < 100; i++)
        CU_ASSERT_EQUAL(sp_buf_append(&b, "0123456789", 10), SP_OK);
    CU_ASSERT_PTR_EQUAL(b.data, data);
    CU_ASSERT_EQUAL(b.len, 1000);
    CU_ASSERT_EQUAL(sp_buf_reserve(&b, 1), SP_ELIMIT);
    sp_buf_free(&b);
}

static void t_buf_growth(void)
{
    sp_buf b;
    bool same = true;

    sp_buf_init(&b, 1 << 20);
    for (int i = 0; i < 100000; i++)
        if (sp_buf_append(&b, &"0123456789"[i % 10], 1) != SP_OK)
            same = false;
    CU_ASSERT_TRUE(same);
    CU_ASSERT_EQUAL(b.len, 100000);
    CU_ASSERT_TRUE(b.cap > b.len);
    CU_ASSERT_EQUAL(b.data[100000], '\0');
    for (int i = 0; i < 100000 && same; i++)
        same = b.data[i] == "0123456789"[i % 10];
    CU_ASSERT_TRUE(same);
    sp_buf_free(&b);
}

static void t_buf_take(void)
{
    sp_buf b;
    char *s;

    sp_buf_init(&b, 64);
    s = sp_buf_take(&b);                 /* nothing appended: "" */
    CU_ASSERT_PTR_NOT_NULL(s);
    SP_ASSERT_STR(s, "");
    sp_free(s);
    CU_ASSERT_EQUAL(sp_buf_puts(&b, "hello"), SP_OK);
    s = sp_buf_take(&b);
    SP_ASSERT_STR(s, "hello");
    CU_ASSERT_PTR_NULL(b.data);
    CU_ASSERT_EQUAL(b.len, 0);
    CU_ASSERT_EQUAL(b.cap, 0);
    CU_ASSERT_EQUAL(b.max, 64);
    sp_free(s);
    CU_ASSERT_EQUAL(sp_buf_puts(&b, "again"), SP_OK);  /* usable after take */
    SP_ASSERT_STR(b.data, "again");
    sp_buf_free(&b);
}

static void t_buf_reset(void)
{
    sp_buf b;
    char *before;

    sp_buf_init(&b, 8);
    sp_buf_reset(&b);                    /* no allocation yet: harmless */
    CU_ASSERT_EQUAL(sp_buf_puts(&b, "12345678"), SP_OK);
    before = b.data;
    sp_buf_reset(&b);
    CU_ASSERT_EQUAL(b.len, 0);
    CU_ASSERT_PTR_EQUAL(b.data, before);
    SP_ASSERT_STR(b.data, "");
    CU_ASSERT_EQUAL(sp_buf_puts(&b, "abcdefgh"), SP_OK); /* the cap applies anew */
    SP_ASSERT_STR(b.data, "abcdefgh");
    sp_buf_free(&b);
    sp_buf_free(&b);                     /* twice is fine */
    sp_buf_free(NULL);
}

/* ------------------------------------------------------------------------ */
/* sp_map                                                                     */
/* ------------------------------------------------------------------------ */

static void key_of(char *buf, size_t len, long i)
{
    int n = snprintf(buf, len, "key-%ld", i);

    CU_ASSERT_TRUE(n > 0 && (size_t)n < len);
}

static void t_map_basic(void)
{
    sp_map m;
    int64_t v = 0;

    sp_map_init(&m);
    CU_ASSERT_FALSE(sp_map_get(&m, "a", &v));        /* empty map */
    CU_ASSERT_FALSE(sp_map_del(&m, "a"));
    CU_ASSERT_EQUAL(sp_map_put(&m, "a", 1), SP_OK);
    CU_ASSERT_EQUAL(sp_map_put(&m, "b", 2), SP_OK);
    CU_ASSERT_EQUAL(sp_map_put(&m, "", 3), SP_OK);
    CU_ASSERT_TRUE(sp_map_get(&m, "a", &v));
    CU_ASSERT_EQUAL(v, 1);
    CU_ASSERT_TRUE(sp_map_get(&m, "", &v));
    CU_ASSERT_EQUAL(v, 3);
    CU_ASSERT_TRUE(sp_map_get(&m, "b", NULL));
    CU_ASSERT_FALSE(sp_map_get(&m, "c", &v));
    CU_ASSERT_EQUAL(m.count, 3);
    sp_map_free(&m);
    CU_ASSERT_EQUAL(m.count, 0);
    sp_map_free(&m);
    sp_map_free(NULL);
}

static void t_map_overwrite(void)
{
    sp_map m;
    int64_t v = 0;

    sp_map_init(&m);
    CU_ASSERT_EQUAL(sp_map_put(&m, "node-1", 1), SP_OK);
    CU_ASSERT_EQUAL(sp_map_put(&m, "node-1", -7), SP_OK);
    CU_ASSERT_EQUAL(m.count, 1);
    CU_ASSERT_TRUE(sp_map_get(&m, "node-1", &v));
    CU_ASSERT_EQUAL(v, -7);
    sp_map_free(&m);
}

static void t_map_key_copied(void)
{
    sp_map m;
    char key[8] = "abc";
    int64_t v = 0;

    sp_map_init(&m);
    CU_ASSERT_EQUAL(sp_map_put(&m, key, 5), SP_OK);
    key[0] = 'z';
    CU_ASSERT_TRUE(sp_map_get(&m, "abc", &v));
    CU_ASSERT_EQUAL(v, 5);
    CU_ASSERT_FALSE(sp_map_get(&m, "zbc", &v));
    sp_map_free(&m);
}

static void t_map_getn(void)
{
    sp_map m;
    int64_t v = 0;
    const char *text = "default/job1/extra";

    sp_map_init(&m);
    CU_ASSERT_EQUAL(sp_map_put(&m, "default/job1", 9), SP_OK);
    CU_ASSERT_TRUE(sp_map_getn(&m, text, 12, &v));
    CU_ASSERT_EQUAL(v, 9);
    CU_ASSERT_FALSE(sp_map_getn(&m, text, 11, &v));
    CU_ASSERT_FALSE(sp_map_getn(&m, text, 13, &v));
    sp_map_free(&m);
}

static void t_map_del(void)
{
    sp_map m;
    int64_t v = 0;

    sp_map_init(&m);
    CU_ASSERT_EQUAL(sp_map_put(&m, "a", 1), SP_OK);
    CU_ASSERT_EQUAL(sp_map_put(&m, "b", 2), SP_OK);
    CU_ASSERT_TRUE(sp_map_del(&m, "a"));
    CU_ASSERT_FALSE(sp_map_del(&m, "a"));
    CU_ASSERT_FALSE(sp_map_get(&m, "a", &v));
    CU_ASSERT_TRUE(sp_map_get(&m, "b", &v));
    CU_ASSERT_EQUAL(v, 2);
    CU_ASSERT_EQUAL(m.count, 1);
    CU_ASSERT_EQUAL(sp_map_put(&m, "a", 3), SP_OK);  /* back after delete */
    CU_ASSERT_TRUE(sp_map_get(&m, "a", &v));
    CU_ASSERT_EQUAL(v, 3);
    CU_ASSERT_EQUAL(m.count, 2);
    sp_map_free(&m);
}

/* Whether each key i < n maps to i * mul, mul being even_mul for even i and
 * odd_mul for odd i; a mul of 0 means the key must be absent. */
static bool map_holds(const sp_map *m, long n, int64_t even_mul, int64_t odd_mul)
{
    char key[32];
    int64_t v;

    for (long i = 0; i < n; i++) {
        int64_t mul = i % 2 ? odd_mul : even_mul;
        key_of(key, sizeof(key), i);
        if (sp_map_get(m, key, &v) != (mul != 0) || (mul && v != i * mul))
            return false;
    }
    return true;
}

static void t_map_many(void)
{
    enum { N = 100000 };
    sp_map m;
    char key[32];
    bool ok = true;

    sp_map_init(&m);
    for (long i = 0; i < N; i++) {
        key_of(key, sizeof(key), i);
        ok = ok && sp_map_put(&m, key, i) == SP_OK;
    }
    CU_ASSERT_TRUE(ok);
    CU_ASSERT_EQUAL(m.count, N);
    CU_ASSERT_TRUE(map_holds(&m, N, 1, 1));
    for (long i = 0; i < N; i += 2) {
        key_of(key, sizeof(key), i);
        ok = ok && sp_map_del(&m, key);
    }
    CU_ASSERT_TRUE(ok);
    CU_ASSERT_EQUAL(m.count, N / 2);
    CU_ASSERT_TRUE(map_holds(&m, N, 0, 1));
    for (long i = 0; i < N; i += 2) {
        key_of(key, sizeof(key), i);
        ok = ok && sp_map_put(&m, key, i * 3) == SP_OK;
    }
    CU_ASSERT_TRUE(ok);
    CU_ASSERT_EQUAL(m.count, N);
    CU_ASSERT_TRUE(map_holds(&m, N, 3, 1));
    sp_map_free(&m);
}

/* Deleting and re-adding keys forever must not grow the table: tombstones
 * are cleared by a same-size rehash. */
static void t_map_tombstones(void)
{
    sp_map m;
    char key[32];
    bool ok = true;
    size_t cap;

    sp_map_init(&m);
    for (long i = 0; i < 5; i++) {
        key_of(key, sizeof(key), i);
        ok = ok && sp_map_put(&m, key, i) == SP_OK;
    }
    cap = m.cap;
    for (long i = 5; i < 20000; i++) {
        key_of(key, sizeof(key), i - 5);
        ok = ok && sp_map_del(&m, key);
        key_of(key, sizeof(key), i);
        ok = ok && sp_map_put(&m, key, i) == SP_OK;
        ok = ok && m.used * 10 < m.cap * 7 && m.count == 5;
    }
    CU_ASSERT_TRUE(ok);
    CU_ASSERT_EQUAL(m.cap, cap);
    CU_ASSERT_EQUAL(m.count, 5);
    for (long i = 0; i < 20000; i++) {
        int64_t v = -1;
        key_of(key, sizeof(key), i);
        ok = ok && sp_map_get(&m, key, &v) == (i >= 19995) && (i < 19995 || v == i);
    }
    CU_ASSERT_TRUE(ok);
    sp_map_free(&m);
}

/* ------------------------------------------------------------------------ */
/* sp_imap                                                                    */
/* ------------------------------------------------------------------------ */

static void t_imap_basic(void)
{
    sp_imap m;
    int64_t v = 0;

    sp_imap_init(&m);
    CU_ASSERT_FALSE(sp_imap_get(&m, 0, &v));
    CU_ASSERT_FALSE(sp_imap_del(&m, 0));
    CU_ASSERT_EQUAL(sp_imap_put(&m, 0, 10), SP_OK);
    CU_ASSERT_EQUAL(sp_imap_put(&m, UINT64_MAX, 20), SP_OK);
    CU_ASSERT_EQUAL(sp_imap_put(&m, 0, 11), SP_OK);      /* overwrite */
    CU_ASSERT_EQUAL(m.count, 2);
    CU_ASSERT_TRUE(sp_imap_get(&m, 0, &v));
    CU_ASSERT_EQUAL(v, 11);
    CU_ASSERT_TRUE(sp_imap_get(&m, UINT64_MAX, &v));
    CU_ASSERT_EQUAL(v, 20);
    CU_ASSERT_TRUE(sp_imap_del(&m, 0));
    CU_ASSERT_FALSE(sp_imap_get(&m, 0, NULL));
    CU_ASSERT_TRUE(sp_imap_get(&m, UINT64_MAX, NULL));
    CU_ASSERT_EQUAL(m.count, 1);
    sp_imap_free(&m);
    sp_imap_free(&m);
    sp_imap_free(NULL);
}

/* The same for keys i * stride (a multiplicative spread of 64-bit keys). */
static bool imap_holds(const sp_imap *m, uint64_t n, int64_t even_mul,
                       int64_t odd_mul)
{
    const uint64_t stride = 0x9e3779b97f4a7c15ULL;
    int64_t v;

    for (uint64_t i = 0; i < n; i++) {
        int64_t mul = i % 2 ? odd_mul : even_mul;
        if (sp_imap_get(m, i * stride, &v) != (mul != 0) ||
            (mul && v != (int64_t)i * mul))
            return false;
    }
    return true;
}

static void t_imap_many(void)
{
    enum { N = 100000 };
    const uint64_t stride = 0x9e3779b97f4a7c15ULL;
    sp_imap m;
    bool ok = true;

    sp_imap_init(&m);
    for (uint64_t i = 0; i < N; i++)
        ok = ok && sp_imap_put(&m, i * stride, (int64_t)i) == SP_OK;
    CU_ASSERT_TRUE(ok);
    CU_ASSERT_EQUAL(m.count, N);
    CU_ASSERT_TRUE(imap_holds(&m, N, 1, 1));
    for (uint64_t i = 0; i < N; i += 2)
        ok = ok && sp_imap_del(&m, i * stride);
    CU_ASSERT_TRUE(ok);
    CU_ASSERT_EQUAL(m.count, N / 2);
    CU_ASSERT_TRUE(imap_holds(&m, N, 0, 1));
    for (uint64_t i = 0; i < N; i += 2)
        ok = ok && sp_imap_put(&m, i * stride, (int64_t)i * 3) == SP_OK;
    CU_ASSERT_TRUE(ok);
    CU_ASSERT_TRUE(imap_holds(&m, N, 3, 1));
    sp_imap_free(&m);
}

static void t_imap_tombstones(void)
{
    sp_imap m;
    bool ok = true;
    size_t cap;

    sp_imap_init(&m);
    for (uint64_t i = 0; i < 5; i++)
        ok = ok && sp_imap_put(&m, i, (int64_t)i) == SP_OK;
    cap = m.cap;
    for (uint64_t i = 5; i < 20000; i++) {
        ok = ok && sp_imap_del(&m, i - 5);
        ok = ok && sp_imap_put(&m, i, (int64_t)i) == SP_OK;
        ok = ok && m.used * 10 < m.cap * 7 && m.count == 5;
    }
    CU_ASSERT_TRUE(ok);
    CU_ASSERT_EQUAL(m.cap, cap);
    for (uint64_t i = 0; i < 20000; i++)
        ok = ok && sp_imap_get(&m, i, NULL) == (i >= 19995);
    CU_ASSERT_TRUE(ok);
    sp_imap_free(&m);
}

static void t_imap_clear(void)
{
    sp_imap m;
    bool ok = true;
    size_t cap;

    sp_imap_init(&m);
    sp_imap_clear(&m);                   /* empty: harmless */
    for (uint64_t i = 0; i < 100; i++)
        ok = ok && sp_imap_put(&m, i, 1) == SP_OK;
    CU_ASSERT_TRUE(ok);
    cap = m.cap;
    sp_imap_clear(&m);
    CU_ASSERT_EQUAL(m.count, 0);
    CU_ASSERT_EQUAL(m.used, 0);
    CU_ASSERT_EQUAL(m.cap, cap);
    for (uint64_t i = 0; i < 100; i++)
        ok = ok && !sp_imap_get(&m, i, NULL);
    CU_ASSERT_TRUE(ok);
    CU_ASSERT_EQUAL(sp_imap_put(&m, 7, 70), SP_OK);
    CU_ASSERT_TRUE(sp_imap_get(&m, 7, NULL));
    CU_ASSERT_EQUAL(m.count, 1);
    sp_imap_free(&m);
}

/* ------------------------------------------------------------------------ */
/* sp_intern                                                                  */
/* ------------------------------------------------------------------------ */

static void t_intern_dense_and_stable(void)
{
    sp_intern in;
    char key[32];
    int32_t id = -1;
    bool ok = true;

    sp_intern_init(&in);
    CU_ASSERT_EQUAL(sp_intern_find(&in, "a"), -1);
    for (long i = 0; i < 1000; i++) {
        key_of(key, sizeof(key), i);
        ok = ok && sp_intern_id(&in, key, &id) == SP_OK && id == i;
    }
    CU_ASSERT_TRUE(ok);
    for (long i = 999; i >= 0; i--) {          /* again: the same ids */
        key_of(key, sizeof(key), i);
        ok = ok && sp_intern_id(&in, key, &id) == SP_OK && id == i;
        ok = ok && sp_intern_find(&in, key) == i;
        ok = ok && strcmp(sp_intern_str(&in, (int32_t)i), key) == 0;
    }
    CU_ASSERT_TRUE(ok);
    CU_ASSERT_EQUAL(in.count, 1000);
    CU_ASSERT_EQUAL(sp_intern_find(&in, "missing"), -1);
    CU_ASSERT_EQUAL(sp_intern_id(&in, "", &id), SP_OK);
    CU_ASSERT_EQUAL(id, 1000);
    SP_ASSERT_STR(sp_intern_str(&in, 1000), "");
    sp_intern_free(&in);
    sp_intern_free(&in);
    sp_intern_free(NULL);
}

static void t_intern_copies(void)
{
    sp_intern in;
    char name[8] = "pool";
    int32_t id = -1;

    sp_intern_init(&in);
    CU_ASSERT_EQUAL(sp_intern_id(&in, name, &id), SP_OK);
    name[0] = 'x';
    SP_ASSERT_STR(sp_intern_str(&in, id), "pool");
    CU_ASSERT_EQUAL(sp_intern_find(&in, "pool"), id);
    CU_ASSERT_EQUAL(sp_intern_find(&in, "xool"), -1);
    sp_intern_free(&in);
}

/* ------------------------------------------------------------------------ */
/* sp_str                                                                     */
/* ------------------------------------------------------------------------ */

/* True when splitting s succeeds with exactly the n items of want. */
static bool splits_to(const char *s, const char *const *want, size_t n)
{
    char **items = NULL;
    size_t count = 99, bad = 99;
    bool same;

    if (sp_split_csv(s, &items, &count, &bad) != SP_OK)
        return false;
    same = count == n && bad == 99;
    for (size_t i = 0; same && i < n; i++)
        same = strcmp(items[i], want[i]) == 0;
    sp_strv_free(items, count);
    return same;
}

/* True when splitting s fails with SP_EPARSE at bad_index want_bad. */
static bool split_fails_at(const char *s, size_t want_bad)
{
    char **items = (char **)&want_bad;
    size_t count = 99, bad = 99;

    return sp_split_csv(s, &items, &count, &bad) == SP_EPARSE &&
           items == NULL && count == 0 && bad == want_bad;
}

static void t_split_trim(void)
{
    static const char *const abc[] = { "a", "b", "c" };
    static const char *const one[] = { "job-1.x" };

    CU_ASSERT_TRUE(splits_to("a,b,c", abc, 3));
    CU_ASSERT_TRUE(splits_to(" a , b\t,\nc ", abc, 3));
    CU_ASSERT_TRUE(splits_to("job-1.x", one, 1));
    CU_ASSERT_TRUE(splits_to("  job-1.x  ", one, 1));
}

static void t_split_dedupe(void)
{
    static const char *const ba[] = { "b", "a" };
    static const char *const inner[] = { "a b", "ab" };

    CU_ASSERT_TRUE(splits_to("b,a,b,a", ba, 2));
    CU_ASSERT_TRUE(splits_to("b, a ,b ,  a", ba, 2));
    CU_ASSERT_TRUE(splits_to("a b,ab", inner, 2));    /* inner space kept */
}

static void t_split_empty_item(void)
{
    char **items = NULL;
    size_t count = 0;

    CU_ASSERT_TRUE(split_fails_at("a,,b", 1));
    CU_ASSERT_TRUE(split_fails_at("a, ,b", 1));
    CU_ASSERT_TRUE(split_fails_at(",a", 0));
    CU_ASSERT_TRUE(split_fails_at("a,", 1));
    CU_ASSERT_TRUE(split_fails_at("a,a,", 2));
    CU_ASSERT_TRUE(split_fails_at("", 0));
    CU_ASSERT_TRUE(split_fails_at("   ", 0));
    CU_ASSERT_EQUAL(sp_split_csv("a,,", &items, &count, NULL), SP_EPARSE);
    CU_ASSERT_PTR_NULL(items);
    sp_strv_free(NULL, 0);
}

static void t_parse_int64_ok(void)
{
    int64_t v = 0;

    CU_ASSERT_EQUAL(sp_parse_int64("0", 0, 10, &v), SP_OK);
    CU_ASSERT_EQUAL(v, 0);
    CU_ASSERT_EQUAL(sp_parse_int64("42", 0, 100, &v), SP_OK);
    CU_ASSERT_EQUAL(v, 42);
    CU_ASSERT_EQUAL(sp_parse_int64("+5", 0, 10, &v), SP_OK);
    CU_ASSERT_EQUAL(v, 5);
    CU_ASSERT_EQUAL(sp_parse_int64("-5", -10, 10, &v), SP_OK);
    CU_ASSERT_EQUAL(v, -5);
    CU_ASSERT_EQUAL(sp_parse_int64("007", 0, 10, &v), SP_OK);
    CU_ASSERT_EQUAL(v, 7);
    CU_ASSERT_EQUAL(sp_parse_int64("9223372036854775807", INT64_MIN, INT64_MAX, &v), SP_OK);
    CU_ASSERT_EQUAL(v, INT64_MAX);
    CU_ASSERT_EQUAL(sp_parse_int64("-9223372036854775808", INT64_MIN, INT64_MAX, &v), SP_OK);
    CU_ASSERT_EQUAL(v, INT64_MIN);
}

static void t_parse_int64_range(void)
{
    int64_t v = 123;

    CU_ASSERT_EQUAL(sp_parse_int64("11", 0, 10, &v), SP_ELIMIT);
    CU_ASSERT_EQUAL(sp_parse_int64("-1", 0, 10, &v), SP_ELIMIT);
    CU_ASSERT_EQUAL(sp_parse_int64("10", 0, 10, &v), SP_OK);
    CU_ASSERT_EQUAL(v, 10);
    v = 123;
    CU_ASSERT_EQUAL(sp_parse_int64("9223372036854775808", INT64_MIN, INT64_MAX, &v),
                    SP_ELIMIT);
    CU_ASSERT_EQUAL(sp_parse_int64("-9223372036854775809", INT64_MIN, INT64_MAX, &v),
                    SP_ELIMIT);
    CU_ASSERT_EQUAL(sp_parse_int64("99999999999999999999999", 0, 10, &v), SP_ELIMIT);
    CU_ASSERT_EQUAL(v, 123);               /* untouched on error */
}

static void t_parse_int64_garbage(void)
{
    static const char *const bad[] = { "", " 5", "5 ", "\t5", "abc", "12a", "+",
                                       "-", "0x10", "1.5", "1e3", "--5", "+-5",
                                       "+ 5", "5\n", "1,000" };
    int64_t v = 123;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sp_rc rc = sp_parse_int64(bad[i], INT64_MIN, INT64_MAX, &v);
        if (rc != SP_EPARSE)
            fprintf(stderr, "\n  \"%s\": rc %d\n", bad[i], (int)rc);
        CU_ASSERT_EQUAL(rc, SP_EPARSE);
    }
    CU_ASSERT_EQUAL(sp_parse_int64(NULL, 0, 10, &v), SP_EPARSE);
    CU_ASSERT_EQUAL(v, 123);
}

static void t_strcaseeq(void)
{
    CU_ASSERT_TRUE(sp_strcaseeq("Abc", "aBC"));
    CU_ASSERT_TRUE(sp_strcaseeq("", ""));
    CU_ASSERT_TRUE(sp_strcaseeq("NoSchedule", "noschedule"));
    CU_ASSERT_FALSE(sp_strcaseeq("abc", "abcd"));
    CU_ASSERT_FALSE(sp_strcaseeq("abcd", "abc"));
    CU_ASSERT_FALSE(sp_strcaseeq("a", ""));
    CU_ASSERT_FALSE(sp_strcaseeq("abc", "abd"));
    CU_ASSERT_FALSE(sp_strcaseeq("a-b", "a_b"));
}

static void t_rng_deterministic(void)
{
    sp_rng a, b, c;
    bool same = true, differ = false;

    sp_rng_seed(&a, 42);
    sp_rng_seed(&b, 42);
    sp_rng_seed(&c, 43);
    for (int i = 0; i < 1000; i++) {
        uint64_t x = sp_rng_next(&a);
        same = same && x == sp_rng_next(&b);
        differ = differ || x != sp_rng_next(&c);
    }
    CU_ASSERT_TRUE(same);
    CU_ASSERT_TRUE(differ);
    /* A plan's tie-breaking depends on these values: pin the first ones. */
    sp_rng_seed(&a, 1);
    CU_ASSERT_EQUAL(sp_rng_next(&a), UINT64_C(0x47e4ce4b896cdd1d));
    CU_ASSERT_EQUAL(sp_rng_next(&a), UINT64_C(0xabcfa6a8e079651d));
}

static void t_rng_seed_zero_and_below(void)
{
    sp_rng a;
    bool in_range = true, hit_all = true;
    int seen[7] = { 0 };

    sp_rng_seed(&a, 0);
    CU_ASSERT_NOT_EQUAL(a.state, 0);
    CU_ASSERT_NOT_EQUAL(sp_rng_next(&a), 0);
    for (int i = 0; i < 7000; i++) {
        uint64_t x = sp_rng_below(&a, 7);
        in_range = in_range && x < 7;
        if (x < 7)
            seen[x]++;
    }
    for (int i = 0; i < 7; i++)
        hit_all = hit_all && seen[i] > 700;
    CU_ASSERT_TRUE(in_range);
    CU_ASSERT_TRUE(hit_all);
    CU_ASSERT_EQUAL(sp_rng_below(&a, 1), 0);
}

/* ------------------------------------------------------------------------ */
/* Allocation failure injection                                               */
/* ------------------------------------------------------------------------ */

static void t_alloc_fail_after(void)
{
    unsigned long before = sp_alloc_injected_failures();
    void *p, *q;

    sp_alloc_fail_after(0);
    CU_ASSERT_PTR_NULL(sp_malloc(8));
    p = sp_malloc(8);                    /* one failure, then off again */
    CU_ASSERT_PTR_NOT_NULL(p);
    sp_free(p);
    sp_alloc_fail_after(2);
    p = sp_calloc(2, 4);
    q = sp_strdup("x");
    CU_ASSERT_PTR_NOT_NULL(p);
    CU_ASSERT_PTR_NOT_NULL(q);
    CU_ASSERT_PTR_NULL(sp_realloc(p, 64));  /* p still valid */
    CU_ASSERT_PTR_NULL(sp_strdup(NULL));
    sp_free(p);
    sp_free(q);
    CU_ASSERT_EQUAL(sp_alloc_injected_failures(), before + 2);
    sp_alloc_fail_after(-1);
    p = sp_malloc(0);                    /* size 0 still gives a pointer */
    CU_ASSERT_PTR_NOT_NULL(p);
    sp_free(p);
}

static void t_grow_failure_untouched(void)
{
    int *arr = NULL;
    size_t cap = 0;

    CU_ASSERT_EQUAL(sp_grow(&arr, &cap, 3, sizeof(*arr)), 0);
    CU_ASSERT_EQUAL(cap, 8);
    arr[0] = 7;
    CU_ASSERT_EQUAL(sp_grow(&arr, &cap, 8, sizeof(*arr)), 0);  /* fits */
    CU_ASSERT_EQUAL(cap, 8);
    sp_alloc_fail_after(0);
    CU_ASSERT_EQUAL(sp_grow(&arr, &cap, 9, sizeof(*arr)), -1);
    sp_alloc_fail_after(-1);
    CU_ASSERT_EQUAL(cap, 8);
    CU_ASSERT_EQUAL(arr[0], 7);
    CU_ASSERT_EQUAL(sp_grow(&arr, &cap, 17, sizeof(*arr)), 0);
    CU_ASSERT_EQUAL(cap, 32);
    CU_ASSERT_EQUAL(arr[0], 7);
    CU_ASSERT_EQUAL(sp_grow(&arr, &cap, (size_t)-1 / 2 + 2, sizeof(*arr)), -1);
    CU_ASSERT_EQUAL(sp_grow(&arr, &cap, (size_t)-1 / 2, sizeof(*arr)), -1);
    CU_ASSERT_EQUAL(cap, 32);
    sp_free(arr);
}

/* ------------------------------------------------------------------------ */
/* Arenas for cJSON trees                                                     */
/* ------------------------------------------------------------------------ */

/* A tree parsed while an arena fills takes one allocation (its first
 * chunk) instead of one per node and string. */
static void t_arena_one_allocation(void)
{
    sp_arena a;
    cJSON *root;

    sp_arena_open(&a);
    sp_arena_fill(&a);
    sp_alloc_fail_after(1);                  /* the chunk, then no more */
    root = cJSON_Parse("{\"a\":[1,2,{\"b\":\"ccc\"}],\"d\":null}");
    sp_alloc_fail_after(-1);
    sp_arena_fill_end(&a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(root);
    SP_ASSERT_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "a"), 2),
                                      "b")->valuestring, "ccc");
    cJSON_Delete(root);                      /* frees nothing: the arena does */
    sp_arena_close(&a);
}

/* Items added after the fill are ordinary allocations and freed as such;
 * a tree may mix both (ASan and valgrind check). */
static void t_arena_mixed_tree(void)
{
    sp_arena a;
    cJSON *root, *item;
    char *printed;

    sp_arena_open(&a);
    sp_arena_fill(&a);
    root = cJSON_Parse("{\"metadata\":{\"name\":\"p\"}}");
    sp_arena_fill_end(&a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(root);
    CU_ASSERT_PTR_NOT_NULL(cJSON_AddStringToObject(cJSON_GetObjectItem(root, "metadata"),
                                                   "namespace", "ns"));
    item = cJSON_DetachItemFromObject(root, "metadata");
    printed = cJSON_PrintUnformatted(item);
    SP_ASSERT_STR(printed, "{\"name\":\"p\",\"namespace\":\"ns\"}");
    cJSON_free(printed);
    cJSON_Delete(item);
    cJSON_Delete(root);
    sp_arena_close(&a);
}

/* Arenas nest and close in any order; one larger than a chunk gets a
 * chunk of its own; an arena can be reopened. */
static void t_arena_nested_and_large(void)
{
    enum { BIG = 3u << 20 };
    char *text = sp_malloc(BIG + 3);
    sp_arena outer, inner;
    cJSON *small, *big;

    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    text[0] = '"';
    memset(text + 1, 'x', BIG);
    memcpy(text + 1 + BIG, "\"", 2);
    sp_arena_open(&outer);
    sp_arena_open(&inner);
    sp_arena_fill(&outer);
    small = cJSON_Parse("[1]");
    sp_arena_fill(&inner);
    big = cJSON_Parse(text);
    sp_arena_fill_end(&inner);
    sp_arena_fill_end(&outer);
    CU_ASSERT_PTR_NOT_NULL_FATAL(small);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    CU_ASSERT_EQUAL(strlen(big->valuestring), BIG);
    cJSON_Delete(small);
    sp_arena_close(&outer);                  /* not the last opened */
    cJSON_Delete(big);
    sp_arena_close(&inner);
    sp_arena_open(&inner);
    sp_arena_fill(&inner);
    small = cJSON_Parse("{}");
    sp_arena_fill_end(&inner);
    CU_ASSERT_PTR_NOT_NULL(small);
    cJSON_Delete(small);
    sp_arena_close(&inner);
    sp_free(text);
}

/* No memory for a chunk: the parse fails cleanly. */
static void t_arena_chunk_fails(void)
{
    sp_arena a;

    sp_arena_open(&a);
    sp_arena_fill(&a);
    sp_alloc_fail_after(0);
    CU_ASSERT_PTR_NULL(cJSON_Parse("{\"a\":1}"));
    sp_alloc_fail_after(-1);
    sp_arena_fill_end(&a);
    sp_arena_close(&a);
}

/*
 * Run op(n) with allocation n+1 failing, for n = 0, 1, ... until it
 * succeeds. Every failing run must return SP_ENOMEM (op frees what it made).
 * Returns how many runs failed; 0 or a run failing otherwise is reported.
 */
static long fail_each_allocation(sp_rc (*op)(void))
{
    long n;

    for (n = 0; n < 100000; n++) {
        sp_rc rc;
        sp_alloc_fail_after(n);
        rc = op();
        sp_alloc_fail_after(-1);
        if (rc == SP_OK)
            return n;
        if (rc != SP_ENOMEM) {
            fprintf(stderr, "\n  run %ld: rc %d, want SP_ENOMEM\n", n, (int)rc);
            CU_FAIL("failing allocation did not give SP_ENOMEM");
            return -1;
        }
    }
    CU_FAIL("operation never succeeded");
    return -1;
}

/* Build a map of 50 keys; on failure the keys put so far must be intact. */
static sp_rc op_map(void)
{
    sp_map m;
    char key[32];
    sp_rc rc = SP_OK;
    long i;

    sp_map_init(&m);
    for (i = 0; i < 50; i++) {
        key_of(key, sizeof(key), i);
        rc = sp_map_put(&m, key, i);
        if (rc)
            break;
    }
    if (m.count != (size_t)i || !map_holds(&m, i, 1, 1))
        rc = SP_EINTERNAL;
    sp_map_free(&m);
    return rc;
}

static sp_rc op_imap(void)
{
    sp_imap m;
    sp_rc rc = SP_OK;
    uint64_t i;

    sp_imap_init(&m);
    for (i = 0; i < 200; i++) {
        rc = sp_imap_put(&m, i * 0x9e3779b97f4a7c15ULL, (int64_t)i);
        if (rc)
            break;
    }
    if (m.count != i || !imap_holds(&m, i, 1, 1))
        rc = SP_EINTERNAL;
    sp_imap_free(&m);
    return rc;
}

static sp_rc op_intern(void)
{
    sp_intern in;
    char key[32];
    sp_rc rc = SP_OK;
    int32_t id;
    long i;

    sp_intern_init(&in);
    for (i = 0; i < 50; i++) {
        key_of(key, sizeof(key), i % 40);      /* some repeats */
        id = -1;
        rc = sp_intern_id(&in, key, &id);
        if (rc)
            break;
        if (id != i % 40) {
            rc = SP_EINTERNAL;
            break;
        }
    }
    if (rc == SP_ENOMEM && in.count != (size_t)(i < 40 ? i : 40))
        rc = SP_EINTERNAL;
    sp_intern_free(&in);
    return rc;
}

static sp_rc op_split(void)
{
    static const char *list = "c1, c2,c3 ,c4,c1,c5,c6,c7,c8,c9,c10,c11,c2";
    char **items = (char **)&list;
    size_t count = 99;
    sp_rc rc = sp_split_csv(list, &items, &count, NULL);

    if (rc != SP_OK)
        return items == NULL && count == 0 ? rc : SP_EINTERNAL;
    if (count != 11 || strcmp(items[10], "c11") != 0)
        rc = SP_EINTERNAL;
    sp_strv_free(items, count);
    return rc;
}

/* Grow a buffer to 10000 bytes; what was appended before a failure stays. */
static sp_rc op_buf(void)
{
    sp_buf b;
    sp_rc rc = SP_OK;
    size_t before = 0;
    char *s = NULL;

    sp_buf_init(&b, 20000);
    for (int i = 0; i < 1000 && !rc; i++) {
        before = b.len;
        rc = i % 2 ? sp_buf_puts(&b, "abcdefghij") : sp_buf_printf(&b, "%010d", i);
    }
    if (rc == SP_ENOMEM && (b.len != before || (b.data && strlen(b.data) != before)))
        rc = SP_EINTERNAL;
    if (rc == SP_OK) {
        s = sp_buf_take(&b);
        if (!s)
            rc = SP_ENOMEM;
        else if (strlen(s) != 10000)
            rc = SP_EINTERNAL;
    }
    sp_free(s);
    sp_buf_free(&b);
    return rc;
}

static sp_rc op_buf_take_empty(void)
{
    sp_buf b;
    char *s;

    sp_buf_init(&b, 16);
    s = sp_buf_take(&b);
    if (!s)
        return SP_ENOMEM;
    sp_free(s);
    return SP_OK;
}

static void t_enomem_map(void)
{
    CU_ASSERT_TRUE(fail_each_allocation(op_map) > 0);
}

static void t_enomem_imap(void)
{
    CU_ASSERT_TRUE(fail_each_allocation(op_imap) > 0);
}

static void t_enomem_intern(void)
{
    CU_ASSERT_TRUE(fail_each_allocation(op_intern) > 0);
}

static void t_enomem_split(void)
{
    CU_ASSERT_TRUE(fail_each_allocation(op_split) > 0);
}

static void t_enomem_buf(void)
{
    CU_ASSERT_TRUE(fail_each_allocation(op_buf) > 0);
    CU_ASSERT_EQUAL(fail_each_allocation(op_buf_take_empty), 1);
}

static const sp_test tests[] = {
    SP_TEST(t_err_set_and_clear),
    SP_TEST(t_err_truncates),
    SP_TEST(t_err_prefix),
    SP_TEST(t_strerror),
    SP_TEST(t_buf_cap_exact),
    SP_TEST(t_buf_cap_over_in_pieces),
    SP_TEST(t_buf_cap_first_append),
    SP_TEST(t_buf_huge_length_refused),
    SP_TEST(t_buf_printf),
    SP_TEST(t_buf_json_string),
    SP_TEST(t_stop_nap),
    SP_TEST(t_buf_growth),
    SP_TEST(t_buf_reserve),
    SP_TEST(t_buf_take),
    SP_TEST(t_buf_reset),
    SP_TEST(t_map_basic),
    SP_TEST(t_map_overwrite),
    SP_TEST(t_map_key_copied),
    SP_TEST(t_map_getn),
    SP_TEST(t_map_del),
    SP_TEST(t_map_many),
    SP_TEST(t_map_tombstones),
    SP_TEST(t_imap_basic),
    SP_TEST(t_imap_many),
    SP_TEST(t_imap_tombstones),
    SP_TEST(t_imap_clear),
    SP_TEST(t_intern_dense_and_stable),
    SP_TEST(t_intern_copies),
    SP_TEST(t_split_trim),
    SP_TEST(t_split_dedupe),
    SP_TEST(t_split_empty_item),
    SP_TEST(t_parse_int64_ok),
    SP_TEST(t_parse_int64_range),
    SP_TEST(t_parse_int64_garbage),
    SP_TEST(t_strcaseeq),
    SP_TEST(t_rng_deterministic),
    SP_TEST(t_rng_seed_zero_and_below),
    SP_TEST(t_alloc_fail_after),
    SP_TEST(t_grow_failure_untouched),
    SP_TEST(t_arena_one_allocation),
    SP_TEST(t_arena_mixed_tree),
    SP_TEST(t_arena_nested_and_large),
    SP_TEST(t_arena_chunk_fails),
    SP_TEST(t_enomem_map),
    SP_TEST(t_enomem_imap),
    SP_TEST(t_enomem_intern),
    SP_TEST(t_enomem_split),
    SP_TEST(t_enomem_buf),
    SP_TEST_END,
};

int main(void)
{
    return sp_test_run("test_sp", tests);
}
