/*
 * Tests of the embedded store (store/): every record kind round-trips, is
 * overwritten and deleted; a closed and reopened store holds the same
 * content (the restart case); transactions commit and roll back whole; and
 * every way the disk can fail is a clear SP_EIO that leaves the store exactly
 * as it was: an unwritable directory, a file that is not a database, a
 * damaged database, a newer schema, a full disk and a failing fsync (through
 * a test VFS that wraps SQLite's own), and, when the tests run as root, a
 * real read-only file system and a real full tmpfs in a private mount
 * namespace. Decisions are synced before the call returns and pod
 * observations are not (counted at the VFS); a writer killed with SIGKILL
 * loses nothing it reported committed, of either grade; a second open of the
 * same directory is refused with the holder's pid; and failing any
 * allocation (SQLite's included) is SP_ENOMEM or success, never a crash or a
 * leak.
 */
#define _GNU_SOURCE /* unshare, CLONE_NEWNS */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_internal.h"
#include "tests/test_util.h"
#include "util/sp_alloc.h"
#include "util/sp_buf.h"

/* ------------------------------------------------------------------------ */
/* Temporary directories and files                                            */
/* ------------------------------------------------------------------------ */

#define PATH_SIZE 512

/* A new empty directory under /tmp, its path in buf. */
static void tmpdir_make(char buf[PATH_SIZE])
{
    snprintf(buf, PATH_SIZE, "/tmp/sp-store-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(buf));
}

/* Make directories writable on the way down (tests make some 0500). */
static int unlock_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (flag == FTW_D || flag == FTW_DNR)
        (void)chmod(path, 0700);
    return 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

/* Remove path and everything under it. */
static void rm_rf(const char *path)
{
    (void)chmod(path, 0700);
    (void)nftw(path, unlock_one, 16, FTW_PHYS);
    (void)nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* dir/name into buf (paths here are short: a longer one is a broken test). */
static const char *join(char buf[PATH_SIZE], const char *dir, const char *name)
{
    int n = snprintf(buf, PATH_SIZE, "%s/%s", dir, name);

    if (n <= 0 || n >= PATH_SIZE)
        abort();
    return buf;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(data, 1, len, f), len);
    CU_ASSERT_EQUAL(fclose(f), 0);
}

/* The whole file (caller frees), its size in *len; NULL when unreadable. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    long size;

    *len = 0;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (data = malloc((size_t)size + 1)) != NULL) {
        *len = fread(data, 1, (size_t)size, f);
        data[*len] = '\0';
    }
    fclose(f);
    return data;
}

/* ------------------------------------------------------------------------ */
/* Opening and dumping                                                        */
/* ------------------------------------------------------------------------ */

static store *open_ok(const char *dir)
{
    store *st = NULL;
    sp_err err;

    sp_err_clear(&err);
    if (store_open(dir, &st, &err) != SP_OK)
        fprintf(stderr, "\n  store_open %s: %s\n", dir, err.msg);
    CU_ASSERT_PTR_NOT_NULL(st);
    return st;
}

/* store_open that must fail with rc; the message in a static buffer. */
static const char *open_error(const char *dir, sp_rc want)
{
    static sp_err err;
    store *st = (store *)1;
    sp_rc rc;

    sp_err_clear(&err);
    rc = store_open(dir, &st, &err);
    CU_ASSERT_EQUAL(rc, want);
    CU_ASSERT_PTR_NULL(st);
    if (rc == SP_OK) {
        store_close(st);
        return "(opened)";
    }
    return err.msg;
}

static const char *nz(const char *s)
{
    return s ? s : "<null>";
}

static sp_rc rec_result(sp_rc rc, sp_err *err)
{
    return rc ? sp_err_set(err, rc, "recording the load: %s", sp_strerror(rc)) : SP_OK;
}

static sp_rc rec_pool(void *ctx, const char *ns, const char *name, const char *json,
                      const char *const *members, size_t n, sp_err *err)
{
    sp_buf *b = ctx;
    sp_rc rc = sp_buf_printf(b, "pool %s/%s %s [", ns, name, json);

    for (size_t i = 0; i < n && !rc; i++)
        rc = sp_buf_printf(b, "%s'%s'", i ? "," : "", members[i]);
    if (!rc)
        rc = sp_buf_puts(b, "]\n");
    return rec_result(rc, err);
}

static sp_rc rec_pod(void *ctx, const char *uid, const char *json, sp_err *err)
{
    return rec_result(sp_buf_printf(ctx, "pod %s %s\n", uid, json), err);
}

static sp_rc rec_placement(void *ctx, const store_placement *p, sp_err *err)
{
    return rec_result(sp_buf_printf(ctx, "placement %s/%s/%s pod=%s uid=%s node=%s "
                                    "prev=%s phase=%s reason=%s at=%lld exp=%lld n=%lld\n",
                                    p->namespace_, p->job, p->pe, nz(p->pod), nz(p->uid),
                                    nz(p->node), nz(p->previous_node), p->phase,
                                    nz(p->reason), (long long)p->decided_at,
                                    (long long)p->expires_at, (long long)p->launches),
                      err);
}

static const store_visitor recorder = { rec_pool, rec_pod, rec_placement };

/* Everything stored as text, one line per record (caller frees with sp_free);
 * NULL when the load fails, with the reason in *rc and err. */
static char *dump_rc(store *st, sp_rc *rc, sp_err *err)
{
    sp_buf b;
    char *text = NULL;

    sp_buf_init(&b, 64u << 20);
    *rc = store_load(st, &recorder, &b, err);
    if (!*rc) {
        text = sp_buf_take(&b);
        *rc = text ? SP_OK : SP_ENOMEM;
    }
    sp_buf_free(&b);
    return text;
}

static char *dump(store *st)
{
    sp_err err;
    sp_rc rc;
    char *text;

    sp_err_clear(&err);
    text = dump_rc(st, &rc, &err);
    if (rc)
        fprintf(stderr, "\n  store_load: %s\n", err.msg);
    CU_ASSERT_PTR_NOT_NULL(text);
    return text;
}

/* Assert that the store holds exactly `expected`. */
static void assert_content(store *st, const char *expected)
{
    char *text = dump(st);

    SP_ASSERT_STR(text, expected);
    sp_free(text);
}

/* ------------------------------------------------------------------------ */
/* Sample records                                                             */
/* ------------------------------------------------------------------------ */

static store_placement sample_placement(const char *pe, const char *node)
{
    return (store_placement){
        .namespace_ = "ns1", .job = "job1", .pe = pe, .pod = "job1-pe", .uid = "u-1",
        .node = node, .previous_node = "n0", .phase = "Bound", .reason = "planned",
        .decided_at = 1700000000, .expires_at = 0, .launches = 2,
    };
}

static void put_ok(sp_rc rc, const sp_err *err)
{
    if (rc)
        fprintf(stderr, "\n  unexpected error: %s\n", err->msg);
    CU_ASSERT_EQUAL(rc, SP_OK);
}

/* One record of each kind, written in an order that is not the key order. */
static void put_samples(store *st)
{
    static const char *const hosts[] = { "node-b", "", "node-a" };
    store_placement p2 = sample_placement("pe2", "node-a");
    store_placement p1 = { .namespace_ = "ns1", .job = "job1", .pe = "pe1",
                           .phase = "Reserved", .decided_at = 5, .expires_at = 35 };
    sp_err err;

    put_ok(store_put_pool(st, "ns1", "zeta", "{\"z\":1}", &err), &err);
    put_ok(store_put_pool(st, "ns1", "alpha", "{\"a\":1}", &err), &err);
    put_ok(store_put_members(st, "ns1", "zeta", hosts, 3, &err), &err);
    put_ok(store_put_pod(st, "uid-2", "ns1", "p2", "{\"p\":2}", &err), &err);
    put_ok(store_put_pod(st, "uid-1", "ns1", "p1", "{\"p\":1}", &err), &err);
    put_ok(store_put_placement(st, &p2, &err), &err);
    put_ok(store_put_placement(st, &p1, &err), &err);
}

static const char samples_text[] =
    "pool ns1/alpha {\"a\":1} []\n"
    "pool ns1/zeta {\"z\":1} ['node-b','','node-a']\n"
    "pod uid-1 {\"p\":1}\n"
    "pod uid-2 {\"p\":2}\n"
    "placement ns1/job1/pe1 pod=<null> uid=<null> node=<null> prev=<null> "
    "phase=Reserved reason=<null> at=5 exp=35 n=0\n"
    "placement ns1/job1/pe2 pod=job1-pe uid=u-1 node=node-a prev=n0 phase=Bound "
    "reason=planned at=1700000000 exp=0 n=2\n";

/* ------------------------------------------------------------------------ */
/* Round trips                                                                */
/* ------------------------------------------------------------------------ */

static void t_round_trip(void)
{
    char dir[PATH_SIZE], state[PATH_SIZE], path[PATH_SIZE];
    struct stat sb;
    store *st;

    tmpdir_make(dir);
    join(state, dir, "state");
    st = open_ok(state);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    CU_ASSERT_EQUAL(stat(state, &sb), 0);
    CU_ASSERT_EQUAL(sb.st_mode & 0777, 0700);
    CU_ASSERT_EQUAL(stat(join(path, state, STORE_FILE), &sb), 0);
    CU_ASSERT_EQUAL(sb.st_mode & 0777, 0600);
    assert_content(st, "");
    put_samples(st);
    assert_content(st, samples_text);
    CU_ASSERT_EQUAL(stat(join(path, state, STORE_FILE "-wal"), &sb), 0);
    CU_ASSERT_EQUAL(sb.st_mode & 0777, 0600);
    store_close(st);
    store_close(NULL);
    rm_rf(dir);
}

static void t_overwrite(void)
{
    static const char *const two[] = { "n2", "n1" };
    store_placement p = sample_placement("pe2", "node-c");
    char dir[PATH_SIZE];
    store *st;
    sp_err err;

    tmpdir_make(dir);
    st = open_ok(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    put_samples(st);
    p.phase = "Released";
    p.reason = NULL;
    p.launches = 3;
    put_ok(store_put_placement(st, &p, &err), &err);
    put_ok(store_put_pod(st, "uid-1", "ns1", "p1", "{\"p\":11}", &err), &err);
    /* replacing a pool keeps its members; replacing members drops the old */
    put_ok(store_put_pool(st, "ns1", "zeta", "{\"z\":2}", &err), &err);
    put_ok(store_put_members(st, "ns1", "alpha", two, 2, &err), &err);
    assert_content(st,
        "pool ns1/alpha {\"a\":1} ['n2','n1']\n"
        "pool ns1/zeta {\"z\":2} ['node-b','','node-a']\n"
        "pod uid-1 {\"p\":11}\n"
        "pod uid-2 {\"p\":2}\n"
        "placement ns1/job1/pe1 pod=<null> uid=<null> node=<null> prev=<null> "
        "phase=Reserved reason=<null> at=5 exp=35 n=0\n"
        "placement ns1/job1/pe2 pod=job1-pe uid=u-1 node=node-c prev=n0 "
        "phase=Released reason=<null> at=1700000000 exp=0 n=3\n");
    put_ok(store_put_members(st, "ns1", "zeta", two, 1, &err), &err);
    put_ok(store_put_members(st, "ns1", "alpha", NULL, 0, &err), &err);
    assert_content(st,
        "pool ns1/alpha {\"a\":1} []\n"
        "pool ns1/zeta {\"z\":2} ['n2']\n"
        "pod uid-1 {\"p\":11}\n"
        "pod uid-2 {\"p\":2}\n"
        "placement ns1/job1/pe1 pod=<null> uid=<null> node=<null> prev=<null> "
        "phase=Reserved reason=<null> at=5 exp=35 n=0\n"
        "placement ns1/job1/pe2 pod=job1-pe uid=u-1 node=node-c prev=n0 "
        "phase=Released reason=<null> at=1700000000 exp=0 n=3\n");
    store_close(st);
    rm_rf(dir);
}

static void t_delete(void)
{
    char dir[PATH_SIZE];
    store *st;
    sp_err err;

    tmpdir_make(dir);
    st = open_ok(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    put_samples(st);
    put_ok(store_delete_placement(st, "ns1", "job1", "pe2", &err), &err);
    put_ok(store_delete_pod(st, "uid-1", &err), &err);
    put_ok(store_delete_pool(st, "ns1", "zeta", &err), &err);
    /* deleting what is not there is not an error */
    put_ok(store_delete_placement(st, "ns1", "job1", "pe9", &err), &err);
    put_ok(store_delete_pod(st, "uid-9", &err), &err);
    put_ok(store_delete_pool(st, "ns9", "zeta", &err), &err);
    assert_content(st,
        "pool ns1/alpha {\"a\":1} []\n"
        "pod uid-2 {\"p\":2}\n"
        "placement ns1/job1/pe1 pod=<null> uid=<null> node=<null> prev=<null> "
        "phase=Reserved reason=<null> at=5 exp=35 n=0\n");
    /* the members went with their pool: a new pool of that name has none */
    put_ok(store_put_pool(st, "ns1", "zeta", "{}", &err), &err);
    assert_content(st,
        "pool ns1/alpha {\"a\":1} []\n"
        "pool ns1/zeta {} []\n"
        "pod uid-2 {\"p\":2}\n"
        "placement ns1/job1/pe1 pod=<null> uid=<null> node=<null> prev=<null> "
        "phase=Reserved reason=<null> at=5 exp=35 n=0\n");
    store_close(st);
    rm_rf(dir);
}

/* The restart case: what one server wrote, the next one loads. */
static void t_reopen(void)
{
    char dir[PATH_SIZE], state[PATH_SIZE];
    store *st;

    tmpdir_make(dir);
    join(state, dir, "state//");
    st = open_ok(state);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    put_samples(st);
    store_close(st);
    st = open_ok(state);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    assert_content(st, samples_text);
    store_close(st);
    st = open_ok(join(state, dir, "state"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    assert_content(st, samples_text);
    store_close(st);
    rm_rf(dir);
}

/* Keys compare bytewise and every value is bound: quotes, SQL, non-ASCII. */
static void t_awkward_values(void)
{
    static const char *const hosts[] = { "'; DROP TABLE pods; --", "n\xc3\xa9" };
    store_placement p = sample_placement("pe'1", "x\"); DELETE FROM placements;");
    char dir[PATH_SIZE];
    store *st;
    sp_err err;

    tmpdir_make(dir);
    st = open_ok(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    put_ok(store_put_pool(st, "ns", "p'", "{\"a\":\"'\"}", &err), &err);
    put_ok(store_put_members(st, "ns", "p'", hosts, 2, &err), &err);
    put_ok(store_put_pod(st, "b", "ns", "x", "{}", &err), &err);
    put_ok(store_put_pod(st, "B", "ns", "x", "{}", &err), &err);
    put_ok(store_put_pod(st, "a", "ns", "x", "{}", &err), &err);
    put_ok(store_put_placement(st, &p, &err), &err);
    assert_content(st,
        "pool ns/p' {\"a\":\"'\"} [''; DROP TABLE pods; --','n\xc3\xa9']\n"
        "pod B {}\npod a {}\npod b {}\n"
        "placement ns1/job1/pe'1 pod=job1-pe uid=u-1 node=x\"); DELETE FROM "
        "placements; prev=n0 phase=Bound reason=planned at=1700000000 exp=0 n=2\n");
    store_close(st);
    rm_rf(dir);
}

/* ------------------------------------------------------------------------ */
/* Transactions and arguments                                                 */
/* ------------------------------------------------------------------------ */

static void t_transactions(void)
{
    char dir[PATH_SIZE];
    store *st;
    sp_err err;

    tmpdir_make(dir);
    st = open_ok(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    put_ok(store_begin(st, &err), &err);
    CU_ASSERT_EQUAL(store_begin(st, &err), SP_EINVAL);
    SP_ASSERT_CONTAINS(err.msg, "nesting is not supported");
    put_samples(st);
    assert_content(st, samples_text); /* a load inside sees its own writes */
    store_rollback(st);
    assert_content(st, "");
    store_rollback(st); /* no transaction: nothing to do */
    CU_ASSERT_EQUAL(store_commit(st, &err), SP_EINVAL);
    SP_ASSERT_CONTAINS(err.msg, "no transaction is open");
    put_ok(store_begin(st, &err), &err);
    put_samples(st);
    put_ok(store_commit(st, &err), &err);
    store_close(st);
    st = open_ok(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    assert_content(st, samples_text);
    store_close(st);
    rm_rf(dir);
}

/* A failed write dooms the transaction: nothing of it is stored. */
static void t_failed_write_in_transaction(void)
{
    static const char *const hosts[] = { "n1" };
    char dir[PATH_SIZE];
    store *st;
    sp_err err;

    tmpdir_make(dir);
    st = open_ok(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    put_samples(st);
    put_ok(store_begin(st, &err), &err);
    put_ok(store_put_pod(st, "uid-3", "ns1", "p3", "{}", &err), &err);
    CU_ASSERT_EQUAL(store_put_members(st, "ns1", "nopool", hosts, 1, &err), SP_ENOTFOUND);
    SP_ASSERT_CONTAINS(err.msg, "host pool ns1/nopool is not stored: store the pool "
                       "before its members");
    CU_ASSERT_EQUAL(store_put_pod(st, "uid-4", "ns1", "p4", "{}", &err), SP_EINVAL);
    SP_ASSERT_CONTAINS(err.msg, "an earlier write of this transaction failed and "
                       "rolled it back: call store_rollback");
    CU_ASSERT_EQUAL(store_commit(st, &err), SP_EINVAL);
    store_rollback(st);
    assert_content(st, samples_text);
    /* and the store works normally afterwards */
    put_ok(store_delete_pod(st, "uid-2", &err), &err);
    put_ok(store_put_pod(st, "uid-2", "ns1", "p2", "{\"p\":2}", &err), &err);
    assert_content(st, samples_text);
    store_close(st);
    rm_rf(dir);
}

static void t_bad_arguments(void)
{
    static const char *const holes[] = { "a", NULL };
    store_placement p = sample_placement("pe1", "n1");
    char dir[PATH_SIZE];
    store *st;
    sp_err err;

    CU_ASSERT_STRING_EQUAL(open_error(NULL, SP_EINVAL),
                           "store_open: no state dir given: pass --state-dir");
    open_error("", SP_EINVAL);
    CU_ASSERT_EQUAL(store_open("/tmp", NULL, &err), SP_EINVAL);
    tmpdir_make(dir);
    st = open_ok(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    p.phase = "Running";
    CU_ASSERT_EQUAL(store_put_placement(st, &p, &err), SP_EINVAL);
    SP_ASSERT_STR(err.msg, "store_put_placement: phase must be Reserved, Bound, "
                  "Released or Failed");
    p.phase = "Bound";
    p.job = NULL;
    CU_ASSERT_EQUAL(store_put_placement(st, &p, &err), SP_EINVAL);
    CU_ASSERT_EQUAL(store_put_placement(st, NULL, &err), SP_EINVAL);
    CU_ASSERT_EQUAL(store_put_pod(st, "u", "ns", "n", NULL, &err), SP_EINVAL);
    CU_ASSERT_EQUAL(store_delete_pod(st, NULL, &err), SP_EINVAL);
    CU_ASSERT_EQUAL(store_delete_placement(st, "ns", NULL, "pe", &err), SP_EINVAL);
    CU_ASSERT_EQUAL(store_put_pool(st, "ns", NULL, "{}", &err), SP_EINVAL);
    CU_ASSERT_EQUAL(store_delete_pool(st, NULL, "p", &err), SP_EINVAL);
    put_ok(store_put_pool(st, "ns", "p", "{}", &err), &err);
    CU_ASSERT_EQUAL(store_put_members(st, "ns", "p", holes, 2, &err), SP_EINVAL);
    SP_ASSERT_CONTAINS(err.msg, "use \"\" for a free slot");
    CU_ASSERT_EQUAL(store_put_members(st, "ns", "p", NULL, 1, &err), SP_EINVAL);
    CU_ASSERT_EQUAL(store_load(st, NULL, NULL, &err), SP_EINVAL);
    CU_ASSERT_EQUAL(store_put_pod(NULL, "u", "ns", "n", "{}", &err), SP_EINVAL);
    CU_ASSERT_EQUAL(store_begin(NULL, &err), SP_EINVAL);
    assert_content(st, "pool ns/p {} []\n");
    store_close(st);
    rm_rf(dir);
}

static sp_rc stop_at_pod(void *ctx, const char *uid, const char *json, sp_err *err)
{
    (void)json;
    (*(int *)ctx)++;
    return sp_err_set(err, SP_ECONFLICT, "visitor stops at %s", uid);
}

static void t_visitor(void)
{
    store_visitor pods_only = { NULL, stop_at_pod, NULL };
    char dir[PATH_SIZE];
    store *st;
    sp_err err;
    int calls = 0;

    tmpdir_make(dir);
    st = open_ok(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    put_samples(st);
    CU_ASSERT_EQUAL(store_load(st, &pods_only, &calls, &err), SP_ECONFLICT);
    SP_ASSERT_STR(err.msg, "visitor stops at uid-1");
    CU_ASSERT_EQUAL(calls, 1);
    /* the read transaction ended: writes work */
    put_ok(store_delete_pod(st, "uid-1", &err), &err);
    store_close(st);
    rm_rf(dir);
}

/* ------------------------------------------------------------------------ */
/* Directories that cannot be used                                            */
/* ------------------------------------------------------------------------ */

/* Check that store_open(dir) fails with SP_EIO and a message holding want;
 * 0 when it does, else 1 with the reason in msg. For use in a child too. */
static int expect_open_fails(const char *dir, const char *want, char *msg, size_t size)
{
    store *st = NULL;
    sp_err err;
    sp_rc rc;

    sp_err_clear(&err);
    rc = store_open(dir, &st, &err);
    store_close(st);
    if (rc == SP_EIO && strstr(err.msg, dir) && strstr(err.msg, want))
        return 0;
    fprintf(stderr, "\n  store_open(%s): %s\n", dir, rc ? err.msg : "(opened)");
    snprintf(msg, size, "store_open(%s): rc %d, want SP_EIO with \"%s\": %s", dir,
             (int)rc, want, rc ? err.msg : "(opened)");
    return 1;
}

/* base holds ro/ (not writable for us) and ro/old/ (an existing store). */
static int unwritable_cases(const char *base, char *msg, size_t size)
{
    char ro[PATH_SIZE], path[PATH_SIZE];

    join(ro, base, "ro");
    join(path, ro, "state");
    if (expect_open_fails(path, "cannot create the directory: permission denied: "
                          "create it for the server's user (mode 0700), give that user "
                          "write access to its parent", msg, size))
        return 1;
    if (expect_open_fails(ro, "cannot create " STORE_LOCK_FILE ": permission denied",
                          msg, size))
        return 1;
    join(path, ro, "old");
    return expect_open_fails(path, ": permission denied", msg, size);
}

/* A case run in a child process: 0 pass, 77 skip, else fail with the reason
 * in msg. */
typedef int (*child_case)(const char *arg, char *msg, size_t size);

/* Give up root for the user nobody (65534), groups included. */
static int become_nobody(char *msg, size_t size)
{
    if (setgroups(0, NULL) == 0 && setgid(65534) == 0 && setuid(65534) == 0)
        return 0;
    snprintf(msg, size, "cannot become nobody: %s", strerror(errno));
    return 99;
}

/* Run fn(arg, msg) in a child process (as nobody when asked); its exit
 * status, with its message in msg. */
static int in_child(child_case fn, const char *arg, bool nobody, char *msg, size_t size)
{
    int fds[2], status = 0;
    pid_t pid;
    ssize_t n;

    CU_ASSERT_FATAL(pipe(fds) == 0);
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        int rc;

        close(fds[0]);
        msg[0] = '\0';
        rc = nobody ? become_nobody(msg, size) : 0;
        if (!rc)
            rc = fn(arg, msg, size);
        if (write(fds[1], msg, strlen(msg)) < 0)
            rc = 99;
        _exit(rc);
    }
    close(fds[1]);
    n = read(fds[0], msg, size - 1);
    msg[n > 0 ? n : 0] = '\0';
    close(fds[0]);
    CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

static void t_unwritable_dir(void)
{
    char dir[PATH_SIZE], ro[PATH_SIZE], old[PATH_SIZE], msg[SP_ERR_MSG_MAX + 200];
    store *st;
    int rc;

    tmpdir_make(dir);
    join(ro, dir, "ro");
    CU_ASSERT_EQUAL_FATAL(mkdir(ro, 0755), 0);
    st = open_ok(join(old, ro, "old"));
    store_close(st);
    msg[0] = '\0';
    if (geteuid() == 0) {
        /* root passes every permission check: ask as nobody instead */
        CU_ASSERT_EQUAL(chmod(dir, 0755), 0);
        CU_ASSERT_EQUAL(chmod(old, 0755), 0);
        rc = in_child(unwritable_cases, dir, true, msg, sizeof(msg));
    } else {
        CU_ASSERT_EQUAL(chmod(old, 0500), 0);
        CU_ASSERT_EQUAL(chmod(ro, 0500), 0);
        rc = unwritable_cases(dir, msg, sizeof(msg));
    }
    if (rc)
        fprintf(stderr, "\n  %s\n", msg);
    CU_ASSERT_EQUAL(rc, 0);
    rm_rf(dir);
}

static void t_bad_paths(void)
{
    char dir[PATH_SIZE], file[PATH_SIZE], path[PATH_SIZE];
    char msg[SP_ERR_MSG_MAX + 200];

    tmpdir_make(dir);
    write_file(join(file, dir, "file"), "x", 1);
    join(path, file, "state");
    CU_ASSERT_EQUAL(expect_open_fails(path, "cannot create the directory: a component "
                                      "of the path is not a directory", msg,
                                      sizeof(msg)), 0);
    SP_ASSERT_CONTAINS(open_error(file, SP_EIO),
                       "/file: exists and is not a directory: choose a directory "
                       "for --state-dir");
    join(path, dir, "missing/state");
    CU_ASSERT_EQUAL(expect_open_fails(path, "cannot create the directory: no such file "
                                      "or directory: create the parent directory", msg,
                                      sizeof(msg)), 0);
    rm_rf(dir);
}

/* ------------------------------------------------------------------------ */
/* Files that are not our database                                            */
/* ------------------------------------------------------------------------ */

/* Write data as the database in a new directory; opening must fail with a
 * message holding want and leave the file as it was. */
static void check_bad_file(const void *data, size_t len, const char *want)
{
    char dir[PATH_SIZE], db[PATH_SIZE];
    size_t after_len;
    char *after;

    tmpdir_make(dir);
    write_file(join(db, dir, STORE_FILE), data, len);
    SP_ASSERT_CONTAINS(open_error(dir, SP_EIO), want);
    after = read_file(db, &after_len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(after);
    CU_ASSERT_EQUAL(after_len, len);
    CU_ASSERT(after_len == len && memcmp(after, data, len) == 0);
    free(after);
    rm_rf(dir);
}

static void t_not_a_database(void)
{
    char big[20000];

    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)("this is not a database\n"[i % 23]);
    check_bad_file("garbage", 7, "cannot open " STORE_FILE ": not a database (the "
                   "file holds something else): move " STORE_FILE " away or choose "
                   "another --state-dir");
    check_bad_file(big, sizeof(big), ": not a database");
}

/* Run sql on the database file of dir with SQLite directly. */
static void sql_on(const char *dir, const char *sql)
{
    char db_path[PATH_SIZE];
    sqlite3 *db = NULL;

    CU_ASSERT_EQUAL(sqlite3_open(join(db_path, dir, STORE_FILE), &db), SQLITE_OK);
    CU_ASSERT_EQUAL(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    CU_ASSERT_EQUAL(sqlite3_close(db), SQLITE_OK);
}

static void t_foreign_database(void)
{
    char dir[PATH_SIZE];

    tmpdir_make(dir);
    sql_on(dir, "CREATE TABLE t(x); INSERT INTO t VALUES(1);");
    SP_ASSERT_CONTAINS(open_error(dir, SP_EIO), STORE_FILE " is an SQLite database but "
                       "not a streams-placer store (it has no schema_version table)");
    rm_rf(dir);
}

static void t_schema_version(void)
{
    char dir[PATH_SIZE];
    store *st;

    tmpdir_make(dir);
    st = open_ok(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    put_samples(st);
    store_close(st);
    sql_on(dir, "UPDATE schema_version SET version = 2");
    SP_ASSERT_CONTAINS(open_error(dir, SP_EIO), STORE_FILE " has schema version 2, "
                       "newer than this streams-placer understands (1): run the newer "
                       "streams-placer that wrote it, or choose another --state-dir");
    sql_on(dir, "UPDATE schema_version SET version = 1");
    st = open_ok(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    assert_content(st, samples_text);
    store_close(st);
    sql_on(dir, "DROP TABLE pods");
    SP_ASSERT_CONTAINS(open_error(dir, SP_EIO), STORE_FILE " lacks the tables of schema "
                       "version 1 (no such table: ");
    SP_ASSERT_CONTAINS(open_error(dir, SP_EIO), "pods): the database is damaged");
    sql_on(dir, "DELETE FROM schema_version");
    SP_ASSERT_CONTAINS(open_error(dir, SP_EIO), "cannot read the schema version of "
                       STORE_FILE ": the database is damaged");
    rm_rf(dir);
}

/* A store with enough rows to span many pages; closed (WAL checkpointed). */
static void make_big_store(const char *dir, int pods)
{
    char uid[32], json[1100];
    store *st = open_ok(dir);
    sp_err err;

    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    memset(json, 'j', sizeof(json) - 1);
    json[sizeof(json) - 1] = '\0';
    put_ok(store_begin(st, &err), &err);
    for (int i = 0; i < pods; i++) {
        snprintf(uid, sizeof(uid), "uid-%05d", i);
        put_ok(store_put_pod(st, uid, "ns", uid, json, &err), &err);
    }
    put_ok(store_commit(st, &err), &err);
    store_close(st);
}

static void t_damaged_database(void)
{
    char dir[PATH_SIZE], db[PATH_SIZE];
    char junk[8192];
    size_t len;
    char *data;
    int fd;

    tmpdir_make(dir);
    make_big_store(dir, 300);
    join(db, dir, STORE_FILE);
    data = read_file(db, &len);
    CU_ASSERT_FATAL(data && len > 100000);
    /* truncated to half */
    CU_ASSERT_EQUAL(truncate(db, (off_t)(len / 2)), 0);
    SP_ASSERT_CONTAINS(open_error(dir, SP_EIO), "the database is damaged: move "
                       STORE_FILE " and its -wal file away to start with an empty "
                       "store, or restore a backup");
    /* whole, but with two pages in the middle overwritten */
    write_file(db, data, len);
    memset(junk, 0x5a, sizeof(junk));
    fd = open(db, O_WRONLY);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(pwrite(fd, junk, sizeof(junk), (off_t)(len / 2 / 4096 * 4096)),
                    (ssize_t)sizeof(junk));
    close(fd);
    SP_ASSERT_CONTAINS(open_error(dir, SP_EIO), "the database is damaged");
    /* restored: it opens again */
    write_file(db, data, len);
    store_close(open_ok(dir));
    free(data);
    rm_rf(dir);
}

/* ------------------------------------------------------------------------ */
/* A VFS that fails on demand: a full disk, a failing fsync                   */
/* ------------------------------------------------------------------------ */

typedef struct shim_file {
    sqlite3_file base;
    sqlite3_file *real; /* follows this struct in the same allocation */
} shim_file;

static struct {
    sqlite3_vfs vfs;
    sqlite3_vfs *real;
    bool full;       /* a write that grows a file fails with SQLITE_FULL */
    bool sync_fails; /* every sync fails with SQLITE_IOERR_FSYNC */
    int syncs;       /* syncs asked for so far */
} shim;

#define REAL(f) (((shim_file *)(f))->real)

static int shim_close(sqlite3_file *f)
{
    return REAL(f)->pMethods->xClose(REAL(f));
}

static int shim_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xRead(REAL(f), buf, amt, off);
}

static int shim_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
    sqlite3_int64 size = 0;

    if (shim.full && REAL(f)->pMethods->xFileSize(REAL(f), &size) == SQLITE_OK &&
        off + amt > size)
        return SQLITE_FULL;
    return REAL(f)->pMethods->xWrite(REAL(f), buf, amt, off);
}

static int shim_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int shim_sync(sqlite3_file *f, int flags)
{
    shim.syncs++;
    if (shim.sync_fails)
        return SQLITE_IOERR_FSYNC;
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int shim_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int shim_lock(sqlite3_file *f, int level)
{
    return REAL(f)->pMethods->xLock(REAL(f), level);
}

static int shim_unlock(sqlite3_file *f, int level)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), level);
}

static int shim_check_reserved(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int shim_file_control(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int shim_sector_size(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int shim_device(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int shim_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, pgsz, extend, pp);
}

static int shim_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}

static void shim_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int shim_shm_unmap(sqlite3_file *f, int delete_flag)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), delete_flag);
}

static const sqlite3_io_methods shim_io = {
    2, shim_close, shim_read, shim_write, shim_truncate, shim_sync, shim_file_size,
    shim_lock, shim_unlock, shim_check_reserved, shim_file_control, shim_sector_size,
    shim_device, shim_shm_map, shim_shm_lock, shim_shm_barrier, shim_shm_unmap,
    NULL, NULL,
};

static int shim_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags,
                     int *out_flags)
{
    shim_file *s = (shim_file *)f;
    int rc;

    (void)vfs;
    s->real = (sqlite3_file *)(s + 1);
    rc = shim.real->xOpen(shim.real, name, s->real, flags, out_flags);
    s->base.pMethods = rc == SQLITE_OK ? &shim_io : NULL;
    return rc;
}

static int shim_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    (void)vfs;
    return shim.real->xDelete(shim.real, name, sync_dir);
}

static int shim_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs;
    return shim.real->xAccess(shim.real, name, flags, out);
}

static int shim_full_path(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    (void)vfs;
    return shim.real->xFullPathname(shim.real, name, n, out);
}

static int shim_random(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return shim.real->xRandomness(shim.real, n, out);
}

static int shim_sleep(sqlite3_vfs *vfs, int us)
{
    (void)vfs;
    return shim.real->xSleep(shim.real, us);
}

static int shim_time(sqlite3_vfs *vfs, double *out)
{
    (void)vfs;
    return shim.real->xCurrentTime(shim.real, out);
}

static int shim_last_error(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return shim.real->xGetLastError(shim.real, n, out);
}

static int shim_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    (void)vfs;
    return shim.real->xCurrentTimeInt64(shim.real, out);
}

/* Make the shim SQLite's default VFS (what store_open uses). */
static void shim_install(void)
{
    shim.real = sqlite3_vfs_find("unix");
    CU_ASSERT_PTR_NOT_NULL_FATAL(shim.real);
    shim.vfs = (sqlite3_vfs){
        .iVersion = 2, .szOsFile = (int)sizeof(shim_file) + shim.real->szOsFile,
        .mxPathname = shim.real->mxPathname, .zName = "sp-test-shim",
        .xOpen = shim_open, .xDelete = shim_delete, .xAccess = shim_access,
        .xFullPathname = shim_full_path, .xRandomness = shim_random,
        .xSleep = shim_sleep, .xCurrentTime = shim_time,
        .xGetLastError = shim_last_error, .xCurrentTimeInt64 = shim_time64,
    };
    shim.full = shim.sync_fails = false;
    shim.syncs = 0;
    CU_ASSERT_EQUAL_FATAL(sqlite3_vfs_register(&shim.vfs, 1), SQLITE_OK);
}

static void shim_remove(void)
{
    CU_ASSERT_EQUAL(sqlite3_vfs_register(shim.real, 1), SQLITE_OK);
    CU_ASSERT_EQUAL(sqlite3_vfs_unregister(&shim.vfs), SQLITE_OK);
}

/* The shim installed, a new directory made in dir and a store opened in it
 * (the test stops when it cannot be). */
static store *open_shimmed(char dir[PATH_SIZE])
{
    store *st;

    shim_install();
    tmpdir_make(dir);
    st = open_ok(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    return st;
}

/* dir removed and the shim taken out, after the test's stores are closed. */
static void shim_done(const char *dir)
{
    rm_rf(dir);
    shim_remove();
}

/* A pod whose JSON is big enough to grow the WAL (caller frees). */
static char *big_json(void)
{
    size_t n = 256 * 1024;
    char *json = malloc(n + 1);

    CU_ASSERT_PTR_NOT_NULL_FATAL(json);
    memset(json, 'x', n);
    json[n] = '\0';
    return json;
}

static void t_full_disk(void)
{
    char dir[PATH_SIZE];
    char *json = big_json();
    store *st;
    sp_err err;

    st = open_shimmed(dir);
    put_samples(st);
    shim.full = true;
    CU_ASSERT_EQUAL(store_put_pod(st, "uid-9", "ns1", "big", json, &err), SP_EIO);
    SP_ASSERT_CONTAINS(err.msg, "state dir /tmp/");
    SP_ASSERT_CONTAINS(err.msg, ": cannot store pod ns1/big (uid uid-9) in " STORE_FILE
                       ": no space left on device: free space on its file system or "
                       "choose another --state-dir");
    shim.full = false;
    assert_content(st, samples_text);
    /* in a transaction the pages stay in memory until the commit, which
     * fails, and the whole group goes */
    put_ok(store_begin(st, &err), &err);
    put_ok(store_delete_pod(st, "uid-1", &err), &err);
    shim.full = true;
    put_ok(store_put_pod(st, "uid-9", "ns1", "big", json, &err), &err);
    CU_ASSERT_EQUAL(store_commit(st, &err), SP_EIO);
    SP_ASSERT_CONTAINS(err.msg, "cannot commit to " STORE_FILE ": no space left on device");
    store_rollback(st); /* harmless after a failed commit */
    shim.full = false;
    assert_content(st, samples_text);
    /* space again: the same write succeeds */
    put_ok(store_put_pod(st, "uid-9", "ns1", "big", json, &err), &err);
    put_ok(store_delete_pod(st, "uid-9", &err), &err);
    store_close(st);
    st = open_ok(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    assert_content(st, samples_text);
    store_close(st);
    rm_rf(dir);
    /* a full disk when the store is created */
    tmpdir_make(dir);
    shim.full = true;
    SP_ASSERT_CONTAINS(open_error(dir, SP_EIO), "no space left on device");
    shim.full = false;
    store_close(open_ok(dir));
    shim_done(dir);
    free(json);
}

static void t_failing_sync(void)
{
    char dir[PATH_SIZE];
    store *st;
    sp_err err;

    st = open_shimmed(dir);
    put_samples(st);
    shim.sync_fails = true;
    CU_ASSERT_EQUAL(store_delete_pod(st, "uid-1", &err), SP_EIO);
    SP_ASSERT_CONTAINS(err.msg, "cannot store the deletion of pod uid uid-1 in "
                       STORE_FILE ": input/output error (the disk or file system "
                       "failed): check the disk and the kernel log (dmesg)");
    put_ok(store_begin(st, &err), &err);
    put_ok(store_delete_pod(st, "uid-2", &err), &err);
    CU_ASSERT_EQUAL(store_commit(st, &err), SP_EIO);
    SP_ASSERT_CONTAINS(err.msg, "cannot commit to " STORE_FILE ": input/output error");
    store_rollback(st); /* harmless after a failed commit */
    shim.sync_fails = false;
    assert_content(st, samples_text);
    store_close(st);
    st = open_ok(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    assert_content(st, samples_text);
    store_close(st);
    shim_done(dir);
}

/* Syncs the store asked for since *mark, and a new mark. */
static int syncs_since(int *mark)
{
    int n = shim.syncs - *mark;

    *mark = shim.syncs;
    return n;
}

/* A pod observation is committed without a sync, and a decision with one,
 * which makes the observations before it durable too; a transaction is
 * synced whatever it holds. The commits are counted by grade. */
static void t_durability_grades(void)
{
    static const char *const hosts[] = { "n1" };
    char dir[PATH_SIZE];
    store_placement p = sample_placement("pe1", "n1");
    store_stats stats;
    store *st;
    sp_err err;
    int mark;

    st = open_shimmed(dir);
    mark = shim.syncs;
    put_ok(store_put_pod(st, "u1", "ns", "p1", "{\"a\":1}", &err), &err);
    put_ok(store_put_pod(st, "u1", "ns", "p1", "{\"a\":2}", &err), &err);
    CU_ASSERT_EQUAL(syncs_since(&mark), 0);
    put_ok(store_put_placement(st, &p, &err), &err);
    CU_ASSERT(syncs_since(&mark) > 0);
    put_ok(store_put_pod(st, "u2", "ns", "p2", "{}", &err), &err);
    CU_ASSERT_EQUAL(syncs_since(&mark), 0);
    put_ok(store_delete_pod(st, "u2", &err), &err);
    CU_ASSERT(syncs_since(&mark) > 0);
    put_ok(store_put_pool(st, "ns", "pool", "{}", &err), &err);
    CU_ASSERT(syncs_since(&mark) > 0);
    put_ok(store_put_pod(st, "u3", "ns", "p3", "{}", &err), &err);
    put_ok(store_put_members(st, "ns", "pool", hosts, 1, &err), &err);
    CU_ASSERT(syncs_since(&mark) > 0);
    put_ok(store_begin(st, &err), &err);
    put_ok(store_put_pod(st, "u4", "ns", "p4", "{}", &err), &err);
    put_ok(store_commit(st, &err), &err);
    CU_ASSERT(syncs_since(&mark) > 0);
    store_get_stats(st, &stats);
    CU_ASSERT_EQUAL(stats.unsynced, 4);
    CU_ASSERT_EQUAL(stats.synced, 5);
    store_close(st);
    st = open_ok(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    assert_content(st, "pool ns/pool {} ['n1']\n"
                       "pod u1 {\"a\":2}\n"
                       "pod u3 {}\n"
                       "pod u4 {}\n"
                       "placement ns1/job1/pe1 pod=job1-pe uid=u-1 node=n1 prev=n0 "
                       "phase=Bound reason=planned at=1700000000 exp=0 n=2\n");
    store_get_stats(st, &stats);
    CU_ASSERT_EQUAL(stats.synced + stats.unsynced, 0);
    store_close(st);
    shim_done(dir);
}

/* Deferred durability: a deferred decision makes no sync in place and is
 * counted apart; it is in the store after a reopen (the syncer finishes
 * before the store closes); outside the window writes sync in place. */
static void t_deferred_sync(void)
{
    char dir[PATH_SIZE];
    store_placement p = sample_placement("pe1", "n1");
    store_stats stats;
    store *st;
    sp_err err;
    int mark;

    st = open_shimmed(dir);
    mark = shim.syncs;
    store_defer_sync(st, true);
    put_ok(store_put_placement(st, &p, &err), &err);
    put_ok(store_put_pool(st, "ns", "pool", "{}", &err), &err);
    store_defer_sync(st, false);
    CU_ASSERT_EQUAL(syncs_since(&mark), 0);
    store_get_stats(st, &stats);
    CU_ASSERT_EQUAL(stats.deferred, 2);
    CU_ASSERT_EQUAL(stats.synced, 0);
    put_ok(store_delete_pool(st, "ns", "pool", &err), &err);
    CU_ASSERT(syncs_since(&mark) > 0); /* in place again */
    store_close(st);
    st = open_ok(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    assert_content(st, "placement ns1/job1/pe1 pod=job1-pe uid=u-1 node=n1 prev=n0 "
                       "phase=Bound reason=planned at=1700000000 exp=0 n=2\n");
    store_close(st);
    shim_done(dir);
}

/* The descriptor of this process open read-only on a file whose name ends
 * in suffix (the syncer's WAL), or -1. */
static int readonly_fd_of(const char *suffix)
{
    for (int fd = 3; fd < 1024; fd++) {
        char link[64], target[PATH_SIZE];
        ssize_t n;
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || (flags & O_ACCMODE) != O_RDONLY)
            continue;
        (void)snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        n = readlink(link, target, sizeof(target) - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        if ((size_t)n >= strlen(suffix) && strcmp(target + n - strlen(suffix), suffix) == 0)
            return fd;
    }
    return -1;
}

/* A background sync that fails stops deferring: later writes are synced
 * in place, each with its own error. */
static void t_deferred_sync_fails(void)
{
    char dir[PATH_SIZE];
    store_placement p = sample_placement("pe1", "n1");
    int pipe_fds[2], wal_fd, mark, waited = 0;
    store_stats stats;
    store *st;
    sp_err err;

    st = open_shimmed(dir);
    store_defer_sync(st, true);
    put_ok(store_put_placement(st, &p, &err), &err);
    wal_fd = readonly_fd_of(STORE_FILE "-wal");
    CU_ASSERT_FATAL(wal_fd >= 0);
    CU_ASSERT_EQUAL_FATAL(pipe(pipe_fds), 0);
    CU_ASSERT_FATAL(dup2(pipe_fds[0], wal_fd) == wal_fd); /* fdatasync: EINVAL */
    p.node = "n2";
    put_ok(store_put_placement(st, &p, &err), &err);
    while (store_syncer_ready(st) && waited++ < 500)
        (void)usleep(10000);
    CU_ASSERT_FALSE(store_syncer_ready(st));
    mark = shim.syncs;
    p.node = "n3";
    put_ok(store_put_placement(st, &p, &err), &err);
    store_defer_sync(st, false);
    CU_ASSERT(syncs_since(&mark) > 0);
    store_get_stats(st, &stats);
    CU_ASSERT_EQUAL(stats.deferred, 2);
    store_close(st);
    (void)close(pipe_fds[0]);
    (void)close(pipe_fds[1]);
    shim_done(dir);
}

/* ------------------------------------------------------------------------ */
/* A real read-only file system and a real full one (root only)               */
/* ------------------------------------------------------------------------ */

/* Describe in msg how two dumps differ; 0 when they are equal. */
static int compare_dumps(const char *what, const char *got, const char *want, char *msg,
                         size_t size)
{
    if (got && want && strcmp(got, want) == 0)
        return 0;
    snprintf(msg, size, "%s: got %zu bytes \"%.120s\", want %zu bytes \"%.120s\"", what,
             got ? strlen(got) : 0, got ? got : "(load failed)", want ? strlen(want) : 0,
             want ? want : "(load failed)");
    return 1;
}

/* Put big pods into the store at dir until the tmpfs is full; then check the
 * message, and that the content from before the failed write is intact, in
 * the open store and after reopening it. */
static int fill_tmpfs(const char *dir, char *msg, size_t size)
{
    char uid[32], *before = NULL, *after = NULL, *json = big_json();
    store *st = NULL;
    sp_err err;
    sp_rc rc = store_open(dir, &st, &err);
    int i, bad = 1;

    for (i = 0; rc == SP_OK && i < 100; i++) {
        sp_free(before);
        before = dump(st);
        snprintf(uid, sizeof(uid), "uid-%03d", i);
        rc = store_put_pod(st, uid, "ns", "big", json, &err);
    }
    if (rc != SP_EIO || !strstr(err.msg, "no space left on device")) {
        snprintf(msg, size, "after %d pods: rc %d: %s", i, (int)rc, err.msg);
        goto out;
    }
    after = dump(st);
    if (compare_dumps("in the open store", after, before, msg, size))
        goto out;
    store_close(st);
    st = NULL;
    rc = store_open(dir, &st, &err);
    if (rc) {
        snprintf(msg, size, "reopening after ENOSPC: %s", err.msg);
        goto out;
    }
    sp_free(after);
    after = dump(st);
    bad = compare_dumps("after reopening", after, before, msg, size);
out:
    store_close(st);
    sp_free(before);
    sp_free(after);
    free(json);
    return bad;
}

/* In a private mount namespace: a 320 KiB tmpfs, filled, then remounted
 * read-only. 77 when mounting is not allowed. */
static int real_fs_cases(const char *mnt, char *msg, size_t size)
{
    char state[PATH_SIZE];

    if (unshare(CLONE_NEWNS) != 0 ||
        mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", mnt, "tmpfs", 0, "size=320k,mode=0755") != 0) {
        snprintf(msg, size, "cannot mount a tmpfs: %s", strerror(errno));
        return 77;
    }
    join(state, mnt, "state");
    if (fill_tmpfs(state, msg, size))
        return 1;
    if (mount("tmpfs", mnt, "tmpfs", MS_REMOUNT | MS_RDONLY, NULL) != 0) {
        snprintf(msg, size, "cannot remount read-only: %s", strerror(errno));
        return 1;
    }
    if (expect_open_fails(state, ": read-only file system: remount it read-write or "
                          "choose another --state-dir", msg, size))
        return 1;
    join(state, mnt, "new");
    return expect_open_fails(state, "cannot create the directory: read-only file "
                             "system", msg, size);
}

static void t_real_file_systems(void)
{
    char dir[PATH_SIZE], msg[SP_ERR_MSG_MAX + 200];
    int rc;

    if (geteuid() != 0) {
        fprintf(stderr, "\n  skipped: a real tmpfs needs root (the VFS tests cover it)\n");
        return;
    }
    tmpdir_make(dir);
    rc = in_child(real_fs_cases, dir, false, msg, sizeof(msg));
    if (rc == 77)
        fprintf(stderr, "\n  skipped: %s\n", msg);
    else if (rc)
        fprintf(stderr, "\n  %s\n", msg);
    CU_ASSERT(rc == 0 || rc == 77);
    rm_rf(dir);
}

/* ------------------------------------------------------------------------ */
/* Two servers, one directory                                                 */
/* ------------------------------------------------------------------------ */

/* Child: open the store at dir, say so on fd out, wait until in closes. */
static void hold_store(const char *dir, int in, int out)
{
    store *st = NULL;
    sp_err err;
    char c;
    int rc = store_open(dir, &st, &err);

    if (write(out, rc ? "E" : "K", 1) != 1)
        rc = 1;
    while (read(in, &c, 1) > 0)
        ;
    store_close(st);
    _exit(rc ? 1 : 0);
}

static void t_concurrent_open(void)
{
    char dir[PATH_SIZE], want[128];
    int to_child[2], from_child[2], status = 0;
    store *a, *b;
    pid_t pid;
    char c = 0;

    tmpdir_make(dir);
    a = open_ok(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    snprintf(want, sizeof(want), ": in use by another streams-placer (pid %ld holds "
             STORE_LOCK_FILE "): stop it or give each server its own --state-dir",
             (long)getpid());
    SP_ASSERT_CONTAINS(open_error(dir, SP_ECONFLICT), want);
    store_close(a);
    /* another process holds it */
    CU_ASSERT_FATAL(pipe(to_child) == 0 && pipe(from_child) == 0);
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        close(to_child[1]);
        close(from_child[0]);
        hold_store(dir, to_child[0], from_child[1]);
    }
    close(to_child[0]);
    close(from_child[1]);
    CU_ASSERT_EQUAL(read(from_child[0], &c, 1), 1);
    CU_ASSERT_EQUAL(c, 'K');
    snprintf(want, sizeof(want), "(pid %ld holds", (long)pid);
    SP_ASSERT_CONTAINS(open_error(dir, SP_ECONFLICT), want);
    close(to_child[1]);
    close(from_child[0]);
    CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    b = open_ok(dir);
    CU_ASSERT_PTR_NOT_NULL(b);
    store_close(b);
    rm_rf(dir);
}

/* ------------------------------------------------------------------------ */
/* A writer killed mid-write                                                  */
/* ------------------------------------------------------------------------ */

#define GROUP 5 /* pods written by one transaction */

/* Rows step i writes: a group of pods in one transaction every fourth
 * step, else one pod on its own (the unsynced grade) or one placement. */
static int step_rows(int i)
{
    return i % 4 ? 1 : GROUP;
}

/* Step i of the writer. */
static sp_rc writer_step(store *st, int i, const char *json, sp_err *err)
{
    char uid[32], pe[32];
    store_placement p = sample_placement(pe, "n1");
    sp_rc rc;

    snprintf(pe, sizeof(pe), "pe%07d", i);
    snprintf(uid, sizeof(uid), "g%07d-0", i);
    if (i % 4 == 2)
        return store_put_pod(st, uid, "ns", uid, json, err);
    if (i % 4)
        return store_put_placement(st, &p, err);
    rc = store_begin(st, err);
    for (int k = 0; k < GROUP && !rc; k++) {
        snprintf(uid, sizeof(uid), "g%07d-%d", i, k);
        rc = store_put_pod(st, uid, "ns", uid, json, err);
    }
    if (!rc)
        rc = store_commit(st, err);
    else
        store_rollback(st);
    return rc;
}

/* Child: write steps first, first+1, ... forever, reporting each committed
 * step on fd out. */
static void writer(const char *dir, int first, int out)
{
    char json[6000];
    store *st = NULL;
    sp_err err;

    memset(json, 'w', sizeof(json) - 1);
    json[sizeof(json) - 1] = '\0';
    if (store_open(dir, &st, &err) != SP_OK)
        _exit(3);
    for (int i = first;; i++) {
        if (writer_step(st, i, json, &err) != SP_OK)
            _exit(4);
        if (write(out, &i, sizeof(i)) != (ssize_t)sizeof(i))
            _exit(5);
    }
}

typedef struct crash_seen {
    char *steps;  /* per step: groups' pod count, or 1 for a placement */
    int n;
} crash_seen;

static int step_of(const char *s)
{
    return (int)strtol(s + strspn(s, "gpe"), NULL, 10);
}

static sp_rc seen_pod(void *ctx, const char *uid, const char *json, sp_err *err)
{
    crash_seen *seen = ctx;
    int i = step_of(uid);

    (void)json;
    (void)err;
    if (i >= 0 && i < seen->n)
        seen->steps[i]++;
    return SP_OK;
}

static sp_rc seen_placement(void *ctx, const store_placement *p, sp_err *err)
{
    crash_seen *seen = ctx;
    int i = step_of(p->pe);

    (void)err;
    if (i >= 0 && i < seen->n)
        seen->steps[i]++;
    return SP_OK;
}

/* Run a writer from step first, kill it after some commits; the last step
 * it reported (all reports are read). */
static int kill_writer(const char *dir, int first, int commits)
{
    int fds[2], i, last = first - 1, got = 0, status;
    pid_t pid;

    CU_ASSERT_FATAL(pipe(fds) == 0);
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        writer(dir, first, fds[1]);
    }
    close(fds[1]);
    while (got < commits && read(fds[0], &i, sizeof(i)) == (ssize_t)sizeof(i))
        last = i, got++;
    usleep((useconds_t)(rand() % 3000));
    kill(pid, SIGKILL);
    CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    while (read(fds[0], &i, sizeof(i)) == (ssize_t)sizeof(i))
        last = i;
    close(fds[0]);
    return last;
}

/* Every reported step is whole in the store, no step is partial, and at
 * most the one step after the last report is there unreported. */
static void check_after_crash(const char *dir, int last)
{
    store_visitor v = { NULL, seen_pod, seen_placement };
    crash_seen seen = { calloc((size_t)last + 16, 1), last + 16 };
    store *st = open_ok(dir);
    sp_err err;

    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    CU_ASSERT_PTR_NOT_NULL_FATAL(seen.steps);
    put_ok(store_load(st, &v, &seen, &err), &err);
    for (int i = 0; i < seen.n; i++) {
        int want = step_rows(i);

        if (i <= last && seen.steps[i] != want) {
            fprintf(stderr, "\n  step %d (reported, last %d): %d of %d rows:", i, last,
                    seen.steps[i], want);
            for (int k = i - 4 < 0 ? 0 : i - 4; k < i + 4 && k < seen.n; k++)
                fprintf(stderr, " %d:%d", k, seen.steps[k]);
        }
        CU_ASSERT(i > last || seen.steps[i] == want);
        CU_ASSERT(seen.steps[i] == 0 || seen.steps[i] == want);
        CU_ASSERT(i <= last + 1 || seen.steps[i] == 0);
    }
    store_close(st);
    free(seen.steps);
}

static void t_crash_mid_write(void)
{
    char dir[PATH_SIZE];
    int next = 0;

    tmpdir_make(dir);
    srand((unsigned)getpid());
    for (int round = 0; round < 3; round++) {
        int last = kill_writer(dir, next, 40 + round * 20);

        CU_ASSERT(last >= next + 39);
        check_after_crash(dir, last);
        /* step last + 1 may have committed unreported: rewriting it is
         * idempotent, so every step up to the next round's last is reported */
        next = last + 1;
    }
    rm_rf(dir);
}

/* ------------------------------------------------------------------------ */
/* Running out of memory                                                      */
/* ------------------------------------------------------------------------ */

/* Open a store at dir and write, read and delete a bit; the first failure. */
static sp_rc workload(const char *dir, sp_err *err)
{
    static const char *const hosts[] = { "n1", "", "n2" };
    store_placement p = sample_placement("pe1", "n1");
    store *st = NULL;
    sp_rc rc = store_open(dir, &st, err);
    char *text;

    if (!rc)
        rc = store_put_pool(st, "ns", "pool", "{\"spec\":{}}", err);
    if (!rc)
        rc = store_put_members(st, "ns", "pool", hosts, 3, err);
    if (!rc)
        rc = store_begin(st, err);
    if (!rc)
        rc = store_put_pod(st, "uid-1", "ns", "pod", "{\"kind\":\"Pod\"}", err);
    if (!rc)
        rc = store_put_placement(st, &p, err);
    if (!rc)
        rc = store_commit(st, err);
    else if (st)
        store_rollback(st);
    text = rc ? NULL : dump_rc(st, &rc, err);
    sp_free(text);
    if (!rc)
        rc = store_delete_pod(st, "uid-1", err);
    store_close(st);
    return rc;
}

static const char workload_text[] =
    "pool ns/pool {\"spec\":{}} ['n1','','n2']\n"
    "placement ns1/job1/pe1 pod=job1-pe uid=u-1 node=n1 prev=n0 phase=Bound "
    "reason=planned at=1700000000 exp=0 n=2\n";

/* Fail the nth allocation of the workload, for every n until none fails;
 * fresh: start each run from a missing directory. */
static void alloc_failure_loop(const char *dir, bool fresh)
{
    unsigned long before;
    long n;
    sp_err err;
    sp_rc rc;
    store *st;

    for (n = 0; n < 100000; n += sp_test_scale()) { /* every Nth under valgrind */
        if (fresh)
            rm_rf(dir);
        before = sp_alloc_injected_failures();
        sp_err_clear(&err);
        sp_alloc_fail_after(n);
        rc = workload(dir, &err);
        sp_alloc_fail_after(-1);
        if (rc != SP_OK && rc != SP_ENOMEM)
            fprintf(stderr, "\n  allocation %ld: rc %d: %s\n", n, (int)rc, err.msg);
        CU_ASSERT(rc == SP_OK || rc == SP_ENOMEM);
        /* whatever failed, the store opens and holds a consistent state */
        st = open_ok(dir);
        CU_ASSERT_PTR_NOT_NULL_FATAL(st);
        if (rc == SP_OK)
            assert_content(st, workload_text);
        store_close(st);
        if (sp_alloc_injected_failures() == before)
            break;
    }
    CU_ASSERT(n > 10);
}

static void t_alloc_failures(void)
{
    char dir[PATH_SIZE], state[PATH_SIZE];

    tmpdir_make(dir);
    join(state, dir, "state");
    alloc_failure_loop(state, true);
    alloc_failure_loop(state, false);
    rm_rf(dir);
}

int main(void)
{
    static const sp_test tests[] = {
        SP_TEST(t_round_trip),
        SP_TEST(t_overwrite),
        SP_TEST(t_delete),
        SP_TEST(t_reopen),
        SP_TEST(t_awkward_values),
        SP_TEST(t_transactions),
        SP_TEST(t_failed_write_in_transaction),
        SP_TEST(t_bad_arguments),
        SP_TEST(t_visitor),
        SP_TEST(t_unwritable_dir),
        SP_TEST(t_bad_paths),
        SP_TEST(t_not_a_database),
        SP_TEST(t_foreign_database),
        SP_TEST(t_schema_version),
        SP_TEST(t_damaged_database),
        SP_TEST(t_full_disk),
        SP_TEST(t_failing_sync),
        SP_TEST(t_durability_grades),
        SP_TEST(t_deferred_sync),
        SP_TEST(t_deferred_sync_fails),
        SP_TEST(t_real_file_systems),
        SP_TEST(t_concurrent_open),
        SP_TEST(t_crash_mid_write),
        SP_TEST(t_alloc_failures),
        SP_TEST_END,
    };

    /* before anything touches SQLite, so its allocations are injectable */
    store_mem_install();
    return sp_test_run("store", tests);
}
