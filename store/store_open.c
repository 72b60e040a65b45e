/*
 * Opening and closing the embedded store. In order: the state directory
 * (created 0700 when missing), the lock file that keeps a second server off
 * the same directory, the SQLite connection with its durability settings
 * (WAL, synchronous=FULL, foreign keys, a busy timeout), an integrity check,
 * the schema (created at STORE_SCHEMA_VERSION when the file is empty, a newer
 * one refused), and the statements every write and load reuses. Every step
 * that fails says which file, why, and what to do. The connection starts
 * synced (synchronous=FULL); store.c lowers it for pod observations only
 * (store.h says why).
 *
 * The lock is flock() on a file of its own, never on the database: closing
 * any descriptor of the database file would drop SQLite's POSIX locks on it.
 * flock() conflicts between two opens in one process as well as between
 * processes, and the kernel drops it when the holder dies, even by kill -9.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_internal.h"
#include "util/sp_alloc.h"
#include "util/sp_str.h"

/* ------------------------------------------------------------------------ */
/* SQL                                                                        */
/* ------------------------------------------------------------------------ */

/* Version 1. Pools are upserted (never replaced) so that replacing a pool
 * does not cascade to its members. */
static const char schema_v1[] =
    "CREATE TABLE schema_version(version INTEGER NOT NULL);"
    "INSERT INTO schema_version(version) VALUES(1);"
    "CREATE TABLE pools("
    " namespace TEXT NOT NULL, name TEXT NOT NULL, json TEXT NOT NULL,"
    " PRIMARY KEY(namespace, name));"
    "CREATE TABLE pool_members("
    " namespace TEXT NOT NULL, pool TEXT NOT NULL, idx INTEGER NOT NULL,"
    " host TEXT NOT NULL,"
    " PRIMARY KEY(namespace, pool, idx),"
    " FOREIGN KEY(namespace, pool) REFERENCES pools(namespace, name)"
    "  ON DELETE CASCADE) WITHOUT ROWID;"
    "CREATE TABLE pods("
    " uid TEXT NOT NULL PRIMARY KEY, namespace TEXT NOT NULL,"
    " name TEXT NOT NULL, json TEXT NOT NULL);"
    "CREATE TABLE placements("
    " namespace TEXT NOT NULL, job TEXT NOT NULL, pe TEXT NOT NULL,"
    " pod TEXT, uid TEXT, node TEXT, previous_node TEXT,"
    " phase TEXT NOT NULL, reason TEXT, decided_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL, launches INTEGER NOT NULL,"
    " PRIMARY KEY(namespace, job, pe)) WITHOUT ROWID;";

#define PLACEMENT_COLUMNS                                                     \
    "namespace, job, pe, pod, uid, node, previous_node, phase, reason,"     \
    " decided_at, expires_at, launches"

/* Every value is bound (?N), never formatted into the SQL. */
static const char *const stmt_sql[STMT_COUNT] = {
    [STMT_BEGIN] = "BEGIN IMMEDIATE",
    [STMT_BEGIN_READ] = "BEGIN",
    [STMT_COMMIT] = "COMMIT",
    [STMT_ROLLBACK] = "ROLLBACK",
    [STMT_PUT_PLACEMENT] = "INSERT OR REPLACE INTO placements(" PLACEMENT_COLUMNS ")"
                           " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [STMT_DEL_PLACEMENT] = "DELETE FROM placements"
                           " WHERE namespace = ?1 AND job = ?2 AND pe = ?3",
    [STMT_PUT_POD] = "INSERT OR REPLACE INTO pods(uid, namespace, name, json)"
                     " VALUES(?1, ?2, ?3, ?4)",
    [STMT_DEL_POD] = "DELETE FROM pods WHERE uid = ?1",
    [STMT_PUT_POOL] = "INSERT INTO pools(namespace, name, json) VALUES(?1, ?2, ?3)"
                      " ON CONFLICT(namespace, name) DO UPDATE SET json = excluded.json",
    [STMT_DEL_POOL] = "DELETE FROM pools WHERE namespace = ?1 AND name = ?2",
    [STMT_DEL_MEMBERS] = "DELETE FROM pool_members WHERE namespace = ?1 AND pool = ?2",
    [STMT_ADD_MEMBER] = "INSERT INTO pool_members(namespace, pool, idx, host)"
                        " VALUES(?1, ?2, ?3, ?4)",
    [STMT_LOAD_POOLS] = "SELECT namespace, name, json FROM pools ORDER BY namespace, name",
    [STMT_LOAD_MEMBERS] = "SELECT host FROM pool_members"
                          " WHERE namespace = ?1 AND pool = ?2 ORDER BY idx",
    [STMT_LOAD_PODS] = "SELECT uid, json FROM pods ORDER BY uid",
    [STMT_LOAD_PLACEMENTS] = "SELECT " PLACEMENT_COLUMNS " FROM placements"
                             " ORDER BY namespace, job, pe",
};

/* ------------------------------------------------------------------------ */
/* The state directory and its lock                                           */
/* ------------------------------------------------------------------------ */

/* dir/name, allocated; NULL when memory runs out. */
static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + 1 + strlen(name) + 1;
    char *p = sp_malloc(n);

    if (p && snprintf(p, n, "%s/%s", dir, name) != (int)n - 1) {
        sp_free(p);
        p = NULL;
    }
    return p;
}

/* A store with its paths set and nothing open. */
static sp_rc store_new(const char *dir, store **out, sp_err *err)
{
    size_t len = strlen(dir);
    store *st = sp_calloc(1, sizeof(*st));

    *out = NULL;
    while (len > 1 && dir[len - 1] == '/')
        len--;
    if (st) {
        st->lock_fd = -1;
        st->sync = STORE_SYNC_FULL;
        st->dir = sp_strndup(dir, len);
        st->db_path = st->dir ? path_join(st->dir, STORE_FILE) : NULL;
        st->lock_path = st->dir ? path_join(st->dir, STORE_LOCK_FILE) : NULL;
    }
    if (!st || !st->db_path || !st->lock_path) {
        store_close(st);
        return sp_err_set(err, SP_ENOMEM, "state dir %s: out of memory", dir);
    }
    *out = st;
    return SP_OK;
}

/* Make a new directory entry durable: fsync the parent of path. Best effort:
 * a disk that cannot sync fails SQLite's own syncs on the first commit. */
static void sync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *parent;
    int fd;

    if (!slash)
        parent = sp_strdup(".");
    else
        parent = sp_strndup(path, slash == path ? 1 : (size_t)(slash - path));
    if (!parent)
        return;
    fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        (void)close(fd);
    }
    sp_free(parent);
}

static sp_rc ensure_dir(store *st, sp_err *err)
{
    struct stat sb;

    if (mkdir(st->dir, 0700) == 0) {
        sync_parent(st->dir);
        return SP_OK;
    }
    if (errno == EACCES || errno == EPERM)
        return sp_err_set(err, SP_EIO, "state dir %s: cannot create the directory: "
                          "permission denied: create it for the server's user (mode "
                          "0700), give that user write access to its parent, or choose "
                          "another --state-dir", st->dir);
    if (errno != EEXIST)
        return store_fail_errno(st, err, errno, "cannot create the directory");
    if (stat(st->dir, &sb) != 0)
        return store_fail_errno(st, err, errno, "cannot read the directory");
    if (!S_ISDIR(sb.st_mode))
        return sp_err_set(err, SP_EIO, "state dir %s: exists and is not a directory: "
                          "choose a directory for --state-dir", st->dir);
    return SP_OK;
}

/* Record our pid in the lock file for the message another opener prints. */
static void note_pid(int fd)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

    if (n > 0 && (size_t)n < sizeof(buf) && ftruncate(fd, 0) == 0 &&
        pwrite(fd, buf, (size_t)n, 0) == n)
        return;
    /* The pid only improves a message: failing to record it is harmless. */
}

/* SP_ECONFLICT naming the process that holds the lock, when it said. */
static sp_rc report_holder(const store *st, sp_err *err)
{
    char buf[32];
    ssize_t n = pread(st->lock_fd, buf, sizeof(buf) - 1, 0);
    int64_t pid = 0;

    if (n > 0) {
        buf[n] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        if (sp_parse_int64(buf, 1, INT32_MAX, &pid) != SP_OK)
            pid = 0;
    }
    if (pid)
        return sp_err_set(err, SP_ECONFLICT, "state dir %s: in use by another "
                          "streams-placer (pid %lld holds " STORE_LOCK_FILE "): stop it "
                          "or give each server its own --state-dir", st->dir,
                          (long long)pid);
    return sp_err_set(err, SP_ECONFLICT, "state dir %s: in use by another "
                      "streams-placer (it holds " STORE_LOCK_FILE "): stop it or give "
                      "each server its own --state-dir", st->dir);
}

static sp_rc take_lock(store *st, sp_err *err)
{
    bool existed = access(st->lock_path, F_OK) == 0;

    st->lock_fd = open(st->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (st->lock_fd < 0)
        return store_fail_errno(st, err, errno, "cannot %s " STORE_LOCK_FILE,
                                existed ? "open" : "create");
    if (flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            return report_holder(st, err);
        return store_fail_errno(st, err, errno, "cannot lock " STORE_LOCK_FILE);
    }
    note_pid(st->lock_fd);
    return SP_OK;
}

/* ------------------------------------------------------------------------ */
/* The database                                                               */
/* ------------------------------------------------------------------------ */

/* Create the database file 0600 (pod objects may carry secrets in their
 * environment); SQLite gives its -wal and -shm files the same mode. An empty
 * file is an empty database. */
static sp_rc create_db_file(store *st, sp_err *err)
{
    int fd = open(st->db_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

    if (fd < 0 && errno != EEXIST)
        return store_fail_errno(st, err, errno, "cannot create " STORE_FILE);
    if (fd >= 0)
        (void)close(fd);
    return SP_OK;
}

static sp_rc open_db(store *st, sp_err *err)
{
    bool existed = access(st->db_path, F_OK) == 0;
    sp_rc rc = existed ? SP_OK : create_db_file(st, err);
    int code;

    if (rc)
        return rc;
    code = sqlite3_open_v2(st->db_path, &st->db, SQLITE_OPEN_READWRITE |
                           SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (code != SQLITE_OK)
        return store_fail(st, err, code, "cannot %s " STORE_FILE,
                          existed ? "open" : "create");
    (void)sqlite3_extended_result_codes(st->db, 1);
    (void)sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS);
    if (sqlite3_db_readonly(st->db, "main") == 1)
        return store_fail(st, err, SQLITE_READONLY, "cannot open " STORE_FILE
                          " for writing");
    return SP_OK;
}

static sp_rc exec(store *st, const char *sql, const char *what, sp_err *err)
{
    int code = sqlite3_exec(st->db, sql, NULL, NULL, NULL);

    return code == SQLITE_OK ? SP_OK : store_fail(st, err, code, "%s", what);
}

/* The first line of a quick_check answer, made printable. */
static void first_problem(const unsigned char *text, char *out, size_t size)
{
    size_t i;

    for (i = 0; text[i] && i + 1 < size; i++)
        out[i] = text[i] < ' ' ? ' ' : (char)text[i];
    out[i] = '\0';
}

/* PRAGMA quick_check: "ok", or the first problem it found. */
static sp_rc check_integrity(store *st, sp_err *err)
{
    sqlite3_stmt *s = NULL;
    const unsigned char *text;
    char problem[200];
    int code = sqlite3_prepare_v2(st->db, "PRAGMA quick_check", -1, &s, NULL);
    sp_rc rc = SP_OK;

    if (code == SQLITE_OK)
        code = sqlite3_step(s);
    if (code == SQLITE_ROW) {
        text = sqlite3_column_text(s, 0);
        if (!text) {
            rc = store_fail(st, err, SQLITE_NOMEM, "cannot check " STORE_FILE);
        } else if (strcmp((const char *)text, "ok") != 0) {
            first_problem(text, problem, sizeof(problem));
            rc = store_fail(st, err, SQLITE_CORRUPT, STORE_FILE " failed its "
                            "integrity check (%s)", problem);
        }
    } else if (code != SQLITE_DONE) {
        rc = store_fail(st, err, code, "cannot open " STORE_FILE);
    }
    (void)sqlite3_finalize(s);
    return rc;
}

/* Switch to write-ahead logging (kept in the file once set). */
static sp_rc set_wal(store *st, sp_err *err)
{
    sqlite3_stmt *s = NULL;
    const char *mode = NULL;
    int code = sqlite3_prepare_v2(st->db, "PRAGMA journal_mode=WAL", -1, &s, NULL);
    sp_rc rc = SP_OK;

    if (code == SQLITE_OK)
        code = sqlite3_step(s);
    if (code == SQLITE_ROW)
        mode = (const char *)sqlite3_column_text(s, 0);
    if (code != SQLITE_ROW)
        rc = store_fail(st, err, code, "cannot open " STORE_FILE);
    else if (!mode)
        rc = store_fail(st, err, SQLITE_NOMEM, "cannot open " STORE_FILE);
    else if (!sp_strcaseeq(mode, "wal"))
        rc = sp_err_set(err, SP_EIO, "state dir %s: cannot switch " STORE_FILE
                        " to write-ahead logging (it stays in %s mode): put the "
                        "state dir on a local file system", st->dir, mode);
    (void)sqlite3_finalize(s);
    return rc;
}

static sp_rc configure(store *st, sp_err *err)
{
    sp_rc rc = exec(st, "PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL;",
                    "cannot open " STORE_FILE, err);

    if (!rc)
        rc = check_integrity(st, err);
    if (!rc)
        rc = set_wal(st, err);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The schema                                                                 */
/* ------------------------------------------------------------------------ */

/* Run sql, which answers one row of one integer, into *out. */
static int query_int(store *st, const char *sql, int64_t *out)
{
    sqlite3_stmt *s = NULL;
    int code = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);

    if (code == SQLITE_OK)
        code = sqlite3_step(s);
    if (code == SQLITE_ROW) {
        code = sqlite3_column_type(s, 0) == SQLITE_INTEGER ? SQLITE_OK : SQLITE_CORRUPT;
        *out = sqlite3_column_int64(s, 0);
    } else if (code == SQLITE_DONE) {
        code = SQLITE_CORRUPT;
    }
    (void)sqlite3_finalize(s);
    return code;
}

static sp_rc not_ours(const store *st, sp_err *err)
{
    return sp_err_set(err, SP_EIO, "state dir %s: " STORE_FILE " is an SQLite "
                      "database but not a streams-placer store (it has no "
                      "schema_version table): move it away or choose another "
                      "--state-dir", st->dir);
}

/* The stored schema version; 0 for an empty database. */
static sp_rc read_version(store *st, int64_t *version, sp_err *err)
{
    int64_t objects = 0, marked = 0, rows = 0;
    int code = query_int(st, "SELECT count(*) FROM sqlite_master", &objects);

    *version = 0;
    if (code == SQLITE_OK && objects == 0)
        return SP_OK;
    if (code == SQLITE_OK)
        code = query_int(st, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                         " AND name = 'schema_version'", &marked);
    if (code == SQLITE_OK && !marked)
        return not_ours(st, err);
    if (code == SQLITE_OK)
        code = query_int(st, "SELECT count(*) FROM schema_version", &rows);
    if (code == SQLITE_OK && rows != 1)
        code = SQLITE_CORRUPT;
    if (code == SQLITE_OK)
        code = query_int(st, "SELECT version FROM schema_version", version);
    if (code == SQLITE_OK && *version < 1)
        code = SQLITE_CORRUPT;
    if (code != SQLITE_OK)
        return store_fail(st, err, code, "cannot read the schema version of " STORE_FILE);
    return SP_OK;
}

static sp_rc check_version(store *st, int64_t version, sp_err *err)
{
    if (version == 0)
        return exec(st, schema_v1, "cannot create the tables of " STORE_FILE, err);
    if (version > STORE_SCHEMA_VERSION)
        return sp_err_set(err, SP_EIO, "state dir %s: " STORE_FILE " has schema "
                          "version %lld, newer than this streams-placer understands "
                          "(%d): run the newer streams-placer that wrote it, or choose "
                          "another --state-dir", st->dir, (long long)version,
                          STORE_SCHEMA_VERSION);
    return SP_OK;
}

/* Create the schema in an empty database, or check the stored version, in
 * one transaction so that two servers starting at once cannot both create. */
static sp_rc ensure_schema(store *st, sp_err *err)
{
    int64_t version = 0;
    sp_rc rc = exec(st, "BEGIN IMMEDIATE", "cannot lock " STORE_FILE, err);

    if (rc)
        return rc;
    rc = read_version(st, &version, err);
    if (!rc)
        rc = check_version(st, version, err);
    if (!rc)
        rc = exec(st, "COMMIT", "cannot write " STORE_FILE, err);
    if (rc && !sqlite3_get_autocommit(st->db))
        (void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static sp_rc prepare_all(store *st, sp_err *err)
{
    char detail[200];
    int code;

    for (int i = 0; i < STMT_COUNT; i++) {
        code = sqlite3_prepare_v3(st->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                  &st->stmt[i], NULL);
        if (code == SQLITE_OK)
            continue;
        if ((code & 0xff) != SQLITE_ERROR)
            return store_fail(st, err, code, "cannot prepare to use " STORE_FILE);
        /* "no such table", "no such column": not the tables of our version */
        (void)snprintf(detail, sizeof(detail), "%s", sqlite3_errmsg(st->db));
        return store_fail(st, err, SQLITE_CORRUPT, STORE_FILE " lacks the tables of "
                          "schema version %d (%s)", STORE_SCHEMA_VERSION, detail);
    }
    return SP_OK;
}

/* ------------------------------------------------------------------------ */
/* Open and close                                                             */
/* ------------------------------------------------------------------------ */

sp_rc store_open(const char *dir, store **out, sp_err *err)
{
    store *st = NULL;
    sp_rc rc;

    if (!out)
        return sp_err_set(err, SP_EINVAL, "store_open: nowhere to put the store");
    *out = NULL;
    if (!dir || !*dir)
        return sp_err_set(err, SP_EINVAL, "store_open: no state dir given: "
                          "pass --state-dir");
    store_mem_install();
    rc = store_new(dir, &st, err);
    if (rc)
        goto out;
    rc = ensure_dir(st, err);
    if (!rc)
        rc = take_lock(st, err);
    if (!rc)
        rc = open_db(st, err);
    if (!rc)
        rc = configure(st, err);
    if (!rc)
        rc = ensure_schema(st, err);
    if (!rc)
        rc = prepare_all(st, err);
    if (rc)
        goto out;
    *out = st;
    st = NULL;
out:
    store_close(st);
    return rc;
}

void store_close(store *st)
{
    if (!st)
        return;
    if (st->db && !sqlite3_get_autocommit(st->db))
        (void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    store_syncer_stop(st);
    for (int i = 0; i < STMT_COUNT; i++)
        (void)sqlite3_finalize(st->stmt[i]);
    /* Closing the last connection checkpoints the WAL into the database. */
    (void)sqlite3_close(st->db);
    if (st->lock_fd >= 0)
        (void)close(st->lock_fd);
    sp_free(st->lock_path);
    sp_free(st->db_path);
    sp_free(st->dir);
    sp_free(st);
}
