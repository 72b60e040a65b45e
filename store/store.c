/*
 * Writing and reading the embedded store: transactions, the put and delete
 * of each record kind, and store_load. Every value is bound to a cached
 * statement. A write outside store_begin is one transaction, synced or not
 * by its kind (store.h): the connection's PRAGMA synchronous is switched
 * between writes, only when the grade changes, because SQLite reads it at
 * commit and refuses to change it inside a transaction. A write that fails
 * leaves the database as it was before it (inside store_begin: as it was
 * before store_begin), because SQLite's own rollback is completed by an
 * explicit ROLLBACK whenever a transaction is still open after an error.
 */
#include <stdio.h>
#include <string.h>

#include "store/store_internal.h"
#include "util/sp_alloc.h"

/* ------------------------------------------------------------------------ */
/* Statements and transactions                                                */
/* ------------------------------------------------------------------------ */

/* Step a statement whose values are bound to its end, then reset it and clear
 * its bindings. SQLITE_OK, or SQLite's (extended) error code. */
static int store_step(sqlite3_stmt *s)
{
    int code = sqlite3_step(s);

    (void)sqlite3_reset(s);
    (void)sqlite3_clear_bindings(s);
    return code == SQLITE_DONE || code == SQLITE_ROW ? SQLITE_OK : code;
}

/* Bind n texts to parameters 1..n (NULL binds SQL NULL). They must outlive
 * the step: store_step clears the bindings before returning. */
static int bind_texts(sqlite3_stmt *s, const char *const *v, int n)
{
    int code = SQLITE_OK;

    for (int i = 0; i < n && code == SQLITE_OK; i++)
        code = sqlite3_bind_text(s, i + 1, v[i], -1, SQLITE_STATIC);
    return code;
}

/* Bind texts, then step; SQLITE_OK or the error. */
static int run(store *st, store_stmt_id id, const char *const *v, int n)
{
    sqlite3_stmt *s = st->stmt[id];
    int code = bind_texts(s, v, n);

    if (code == SQLITE_OK)
        return store_step(s);
    (void)sqlite3_clear_bindings(s);
    return code;
}

/* Give the next commit the durability sync (between transactions only:
 * inside one, the grade it began with holds). SQLITE_OK or the error. The
 * pragma acts when it is compiled, so it cannot be a cached statement. */
static int use_sync(store *st, store_sync sync)
{
    int code;

    if (st->in_txn)
        return SQLITE_OK;
    st->owed = sync == STORE_SYNC_FULL && st->deferring && store_syncer_ready(st);
    if (st->owed)
        sync = STORE_SYNC_NORMAL; /* the syncer syncs it once committed */
    if (st->sync == sync)
        return SQLITE_OK;
    code = sqlite3_exec(st->db, sync == STORE_SYNC_FULL ? "PRAGMA synchronous=FULL"
                                                        : "PRAGMA synchronous=NORMAL",
                        NULL, NULL, NULL);
    if (code == SQLITE_OK)
        st->sync = sync;
    return code;
}

/* A commit succeeded: count it by its grade; a deferred one asks for its
 * background sync. */
static void committed(store *st)
{
    if (st->owed) {
        store_syncer_ask(st);
        st->owed = false;
        st->stats.deferred++;
    } else if (st->sync == STORE_SYNC_FULL) {
        st->stats.synced++;
    } else {
        st->stats.unsynced++;
    }
}

/* A write succeeded: count it when it was a commit of its own. */
static void count_commit(store *st)
{
    if (!st->in_txn)
        committed(st);
}

void store_defer_sync(store *st, bool on)
{
    st->deferring = on;
}

/* One statement as a write of its own grade: SQLITE_OK or the error. */
static int write_one(store *st, store_sync sync, store_stmt_id id, const char *const *v,
                     int n)
{
    int code = use_sync(st, sync);

    if (code == SQLITE_OK)
        code = run(st, id, v, n);
    if (code == SQLITE_OK)
        count_commit(st);
    return code;
}

void store_get_stats(const store *st, store_stats *out)
{
    *out = st ? st->stats : (store_stats){ 0, 0, 0 };
}

/* End whatever transaction SQLite left open, so that the database is as it
 * was; inside store_begin, doom the caller's transaction. */
static void undo(store *st)
{
    if (st->in_txn)
        st->txn_failed = true;
    if (!sqlite3_get_autocommit(st->db))
        (void)store_step(st->stmt[STMT_ROLLBACK]);
}

/* A write failed with SQLite code: explain (before the rollback changes
 * SQLite's message), undo, and return the sp_rc. */
static sp_rc write_failed(store *st, sp_err *err, int code, const char *what)
{
    sp_rc rc = store_fail(st, err, code, "cannot store %s in " STORE_FILE, what);

    undo(st);
    return rc;
}

/* A write refused before it reached SQLite (a malformed argument). */
static sp_rc write_refused(store *st, sp_err *err, const char *fn, const char *problem)
{
    if (st && st->db)
        undo(st);
    return sp_err_set(err, SP_EINVAL, "%s: %s", fn, problem);
}

/* Whether the store may be used; inside a doomed transaction it may not. */
static sp_rc may_use(const store *st, const char *fn, sp_err *err)
{
    if (!st)
        return sp_err_set(err, SP_EINVAL, "%s: no store", fn);
    if (st->txn_failed)
        return sp_err_set(err, SP_EINVAL, "%s: state dir %s: an earlier write of "
                          "this transaction failed and rolled it back: call "
                          "store_rollback", fn, st->dir);
    return SP_OK;
}

sp_rc store_begin(store *st, sp_err *err)
{
    int code;

    if (!st)
        return sp_err_set(err, SP_EINVAL, "store_begin: no store");
    if (st->in_txn)
        return sp_err_set(err, SP_EINVAL, "store_begin: a transaction is already "
                          "open (nesting is not supported)");
    code = use_sync(st, STORE_SYNC_FULL);
    if (code == SQLITE_OK)
        code = store_step(st->stmt[STMT_BEGIN]);
    if (code != SQLITE_OK)
        return store_fail(st, err, code, "cannot start a transaction in " STORE_FILE);
    st->in_txn = true;
    st->txn_failed = false;
    return SP_OK;
}

sp_rc store_commit(store *st, sp_err *err)
{
    sp_rc rc = may_use(st, "store_commit", err);
    int code;

    if (rc)
        return rc;
    if (!st->in_txn)
        return sp_err_set(err, SP_EINVAL, "store_commit: no transaction is open");
    code = store_step(st->stmt[STMT_COMMIT]);
    if (code != SQLITE_OK) {
        rc = store_fail(st, err, code, "cannot commit to " STORE_FILE);
        if (!sqlite3_get_autocommit(st->db))
            (void)store_step(st->stmt[STMT_ROLLBACK]);
        st->owed = false;
    } else {
        committed(st);
    }
    st->in_txn = false;
    st->txn_failed = false;
    return rc;
}

void store_rollback(store *st)
{
    if (!st || !st->in_txn)
        return;
    if (!sqlite3_get_autocommit(st->db))
        (void)store_step(st->stmt[STMT_ROLLBACK]);
    st->in_txn = false;
    st->txn_failed = false;
    st->owed = false;
}

/* Start a synced transaction for a write of several statements, unless the
 * caller's is open; *own says whether to end it. */
static int own_begin(store *st, bool *own)
{
    int code = use_sync(st, STORE_SYNC_FULL);

    *own = !st->in_txn;
    return *own && code == SQLITE_OK ? store_step(st->stmt[STMT_BEGIN]) : code;
}

/* ------------------------------------------------------------------------ */
/* Writes                                                                     */
/* ------------------------------------------------------------------------ */

static bool valid_phase(const char *phase)
{
    static const char *const phases[] = { "Reserved", "Bound", "Released", "Failed" };

    for (size_t i = 0; phase && i < sizeof(phases) / sizeof(phases[0]); i++)
        if (strcmp(phase, phases[i]) == 0)
            return true;
    return false;
}

/* "ns/a/b" (or "ns/a") for messages, truncated to fit. */
static const char *key_text(char *buf, size_t size, const char *a, const char *b,
                            const char *c)
{
    int n = c ? snprintf(buf, size, "%s/%s/%s", a, b, c)
              : b ? snprintf(buf, size, "%s/%s", a, b) : snprintf(buf, size, "%s", a);

    return n < 0 ? "?" : buf;
}

static sp_rc check_placement(store *st, const store_placement *p, sp_err *err)
{
    sp_rc rc = may_use(st, "store_put_placement", err);

    if (rc)
        return rc;
    if (!p || !p->namespace_ || !p->job || !p->pe)
        return write_refused(st, err, "store_put_placement",
                             "namespace, job and pe are required");
    if (!valid_phase(p->phase))
        return write_refused(st, err, "store_put_placement", "phase must be "
                             "Reserved, Bound, Released or Failed");
    return SP_OK;
}

sp_rc store_put_placement(store *st, const store_placement *p, sp_err *err)
{
    const char *text[] = { p ? p->namespace_ : NULL, p ? p->job : NULL,
                           p ? p->pe : NULL, p ? p->pod : NULL, p ? p->uid : NULL,
                           p ? p->node : NULL, p ? p->previous_node : NULL,
                           p ? p->phase : NULL, p ? p->reason : NULL };
    sqlite3_stmt *s;
    char key[300];
    sp_rc rc = check_placement(st, p, err);
    int code;

    if (rc)
        return rc;
    s = st->stmt[STMT_PUT_PLACEMENT];
    code = use_sync(st, STORE_SYNC_FULL);
    if (code == SQLITE_OK)
        code = bind_texts(s, text, 9);
    if (code == SQLITE_OK)
        code = sqlite3_bind_int64(s, 10, p->decided_at);
    if (code == SQLITE_OK)
        code = sqlite3_bind_int64(s, 11, p->expires_at);
    if (code == SQLITE_OK)
        code = sqlite3_bind_int64(s, 12, p->launches);
    if (code == SQLITE_OK)
        code = store_step(s);
    else
        (void)sqlite3_clear_bindings(s);
    if (code == SQLITE_OK) {
        count_commit(st);
        return SP_OK;
    }
    return write_failed(st, err, code, key_text(key, sizeof(key), p->namespace_,
                                                 p->job, p->pe));
}

sp_rc store_delete_placement(store *st, const char *ns, const char *job,
                             const char *pe, sp_err *err)
{
    const char *text[] = { ns, job, pe };
    char what[300];
    sp_rc rc = may_use(st, "store_delete_placement", err);
    int code;

    if (rc)
        return rc;
    if (!ns || !job || !pe)
        return write_refused(st, err, "store_delete_placement",
                             "namespace, job and pe are required");
    code = write_one(st, STORE_SYNC_FULL, STMT_DEL_PLACEMENT, text, 3);
    if (code == SQLITE_OK)
        return SP_OK;
    (void)snprintf(what, sizeof(what), "the deletion of placement %s/%s/%s", ns, job, pe);
    return write_failed(st, err, code, what);
}

sp_rc store_put_pod(store *st, const char *uid, const char *ns, const char *name,
                    const char *json, sp_err *err)
{
    const char *text[] = { uid, ns, name, json };
    char what[300];
    sp_rc rc = may_use(st, "store_put_pod", err);
    int code;

    if (rc)
        return rc;
    if (!uid || !ns || !name || !json)
        return write_refused(st, err, "store_put_pod",
                             "uid, namespace, name and json are required");
    code = write_one(st, STORE_SYNC_NORMAL, STMT_PUT_POD, text, 4);
    if (code == SQLITE_OK)
        return SP_OK;
    (void)snprintf(what, sizeof(what), "pod %s/%s (uid %s)", ns, name, uid);
    return write_failed(st, err, code, what);
}

sp_rc store_delete_pod(store *st, const char *uid, sp_err *err)
{
    char what[300];
    sp_rc rc = may_use(st, "store_delete_pod", err);
    int code;

    if (rc)
        return rc;
    if (!uid)
        return write_refused(st, err, "store_delete_pod", "uid is required");
    code = write_one(st, STORE_SYNC_FULL, STMT_DEL_POD, &uid, 1);
    if (code == SQLITE_OK)
        return SP_OK;
    (void)snprintf(what, sizeof(what), "the deletion of pod uid %s", uid);
    return write_failed(st, err, code, what);
}

sp_rc store_put_pool(store *st, const char *ns, const char *name, const char *json,
                     sp_err *err)
{
    const char *text[] = { ns, name, json };
    char what[300];
    sp_rc rc = may_use(st, "store_put_pool", err);
    int code;

    if (rc)
        return rc;
    if (!ns || !name || !json)
        return write_refused(st, err, "store_put_pool",
                             "namespace, name and json are required");
    code = write_one(st, STORE_SYNC_FULL, STMT_PUT_POOL, text, 3);
    if (code == SQLITE_OK)
        return SP_OK;
    (void)snprintf(what, sizeof(what), "host pool %s/%s", ns, name);
    return write_failed(st, err, code, what);
}

sp_rc store_delete_pool(store *st, const char *ns, const char *name, sp_err *err)
{
    const char *text[] = { ns, name };
    char what[300];
    sp_rc rc = may_use(st, "store_delete_pool", err);
    int code;

    if (rc)
        return rc;
    if (!ns || !name)
        return write_refused(st, err, "store_delete_pool",
                             "namespace and name are required");
    code = write_one(st, STORE_SYNC_FULL, STMT_DEL_POOL, text, 2);
    if (code == SQLITE_OK)
        return SP_OK;
    (void)snprintf(what, sizeof(what), "the deletion of host pool %s/%s", ns, name);
    return write_failed(st, err, code, what);
}

/* Delete the old members and insert hosts[0..n) in order. */
static int write_members(store *st, const char *ns, const char *pool,
                         const char *const *hosts, size_t n)
{
    const char *key[] = { ns, pool };
    sqlite3_stmt *add = st->stmt[STMT_ADD_MEMBER];
    int code = run(st, STMT_DEL_MEMBERS, key, 2);

    for (size_t i = 0; i < n && code == SQLITE_OK; i++) {
        code = bind_texts(add, key, 2);
        if (code == SQLITE_OK)
            code = sqlite3_bind_int64(add, 3, (sqlite3_int64)i);
        if (code == SQLITE_OK)
            code = sqlite3_bind_text(add, 4, hosts[i], -1, SQLITE_STATIC);
        if (code == SQLITE_OK)
            code = store_step(add);
        else
            (void)sqlite3_clear_bindings(add);
    }
    return code;
}

static sp_rc check_members(store *st, const char *ns, const char *pool,
                           const char *const *hosts, size_t n, sp_err *err)
{
    sp_rc rc = may_use(st, "store_put_members", err);

    if (rc)
        return rc;
    if (!ns || !pool || (n && !hosts))
        return write_refused(st, err, "store_put_members",
                             "namespace, pool and hosts are required");
    for (size_t i = 0; i < n; i++)
        if (!hosts[i])
            return write_refused(st, err, "store_put_members",
                                 "a host is NULL (use \"\" for a free slot)");
    return SP_OK;
}

sp_rc store_put_members(store *st, const char *ns, const char *pool,
                        const char *const *hosts, size_t n, sp_err *err)
{
    char what[300];
    bool own = false;
    sp_rc rc = check_members(st, ns, pool, hosts, n, err);
    int code;

    if (rc)
        return rc;
    code = own_begin(st, &own);
    if (code == SQLITE_OK)
        code = write_members(st, ns, pool, hosts, n);
    if (code == SQLITE_OK && own)
        code = store_step(st->stmt[STMT_COMMIT]);
    if (code == SQLITE_OK && own)
        committed(st);
    if (code == SQLITE_OK)
        return SP_OK;
    if (code == SQLITE_CONSTRAINT_FOREIGNKEY) {
        undo(st);
        return sp_err_set(err, SP_ENOTFOUND, "state dir %s: host pool %s/%s is not "
                          "stored: store the pool before its members", st->dir, ns, pool);
    }
    (void)snprintf(what, sizeof(what), "the members of host pool %s/%s", ns, pool);
    return write_failed(st, err, code, what);
}

/* ------------------------------------------------------------------------ */
/* Loading                                                                    */
/* ------------------------------------------------------------------------ */

/* Column i as text: NULL for SQL NULL, SQLITE_NOMEM when conversion failed. */
static int col_text(sqlite3_stmt *s, int i, const char **out)
{
    *out = (const char *)sqlite3_column_text(s, i);
    if (!*out && sqlite3_column_type(s, i) != SQLITE_NULL)
        return SQLITE_NOMEM;
    return SQLITE_OK;
}

/* Columns first..first+n-1 as texts that must not be NULL. */
static int col_texts(sqlite3_stmt *s, int first, const char **out, int n)
{
    int code = SQLITE_OK;

    for (int i = 0; i < n && code == SQLITE_OK; i++) {
        code = col_text(s, first + i, &out[i]);
        if (code == SQLITE_OK && !out[i])
            code = SQLITE_CORRUPT;
    }
    return code;
}

/* The members of a pool, copied (each step invalidates the last row). */
typedef struct member_list {
    char **v;
    size_t n, cap;
} member_list;

static void members_free(member_list *m)
{
    for (size_t i = 0; i < m->n; i++)
        sp_free(m->v[i]);
    sp_free(m->v);
}

static int members_add(member_list *m, const char *host)
{
    char *copy;

    if (sp_grow(&m->v, &m->cap, m->n + 1, sizeof(*m->v)))
        return SQLITE_NOMEM;
    copy = sp_strdup(host);
    if (!copy)
        return SQLITE_NOMEM;
    m->v[m->n++] = copy;
    return SQLITE_OK;
}

static int read_members(store *st, const char *const key[2], member_list *m)
{
    sqlite3_stmt *s = st->stmt[STMT_LOAD_MEMBERS];
    const char *host;
    int code = bind_texts(s, key, 2);

    while (code == SQLITE_OK && (code = sqlite3_step(s)) == SQLITE_ROW) {
        code = col_texts(s, 0, &host, 1);
        if (code == SQLITE_OK)
            code = members_add(m, host);
    }
    (void)sqlite3_reset(s);
    (void)sqlite3_clear_bindings(s);
    return code == SQLITE_DONE ? SQLITE_OK : code;
}

typedef struct load_ctx {
    store *st;
    const store_visitor *v;
    void *ctx;
} load_ctx;

/* One row of each kind: SQLite's code in *code when reading it failed, else
 * the visitor's sp_rc. */
typedef sp_rc (*row_fn)(const load_ctx *lc, sqlite3_stmt *s, int *code, sp_err *err);

static sp_rc pool_row(const load_ctx *lc, sqlite3_stmt *s, int *code, sp_err *err)
{
    const char *col[3];
    member_list m = { NULL, 0, 0 };
    sp_rc rc = SP_OK;

    *code = col_texts(s, 0, col, 3);
    if (*code == SQLITE_OK)
        *code = read_members(lc->st, col, &m);
    if (*code == SQLITE_OK)
        rc = lc->v->pool(lc->ctx, col[0], col[1], col[2], (const char *const *)m.v,
                         m.n, err);
    members_free(&m);
    return rc;
}

static sp_rc pod_row(const load_ctx *lc, sqlite3_stmt *s, int *code, sp_err *err)
{
    const char *col[2];

    *code = col_texts(s, 0, col, 2);
    if (*code != SQLITE_OK)
        return SP_OK;
    return lc->v->pod(lc->ctx, col[0], col[1], err);
}

static sp_rc placement_row(const load_ctx *lc, sqlite3_stmt *s, int *code, sp_err *err)
{
    const char *key[3], *opt[4], *phase, *reason;
    store_placement p;

    *code = col_texts(s, 0, key, 3);
    for (int i = 0; i < 4 && *code == SQLITE_OK; i++)
        *code = col_text(s, 3 + i, &opt[i]);
    if (*code == SQLITE_OK)
        *code = col_texts(s, 7, &phase, 1);
    if (*code == SQLITE_OK)
        *code = col_text(s, 8, &reason);
    if (*code != SQLITE_OK)
        return SP_OK;
    p = (store_placement){
        .namespace_ = key[0], .job = key[1], .pe = key[2], .pod = opt[0],
        .uid = opt[1], .node = opt[2], .previous_node = opt[3], .phase = phase,
        .reason = reason, .decided_at = sqlite3_column_int64(s, 9),
        .expires_at = sqlite3_column_int64(s, 10),
        .launches = sqlite3_column_int64(s, 11),
    };
    return lc->v->placement(lc->ctx, &p, err);
}

/* Visit every row of statement id with fn; what names the kind in messages. */
static sp_rc load_rows(const load_ctx *lc, store_stmt_id id, row_fn fn,
                       const char *what, sp_err *err)
{
    sqlite3_stmt *s = lc->st->stmt[id];
    sp_rc rc = SP_OK;
    int code;

    while ((code = sqlite3_step(s)) == SQLITE_ROW) {
        rc = fn(lc, s, &code, err);
        if (rc || code != SQLITE_OK)
            break;
    }
    if (!rc && code != SQLITE_DONE)
        rc = store_fail(lc->st, err, code, "cannot read the %s from " STORE_FILE, what);
    (void)sqlite3_reset(s);
    return rc;
}

sp_rc store_load(store *st, const store_visitor *v, void *ctx, sp_err *err)
{
    load_ctx lc = { st, v, ctx };
    bool own = false;
    sp_rc rc = may_use(st, "store_load", err);
    int code;

    if (rc)
        return rc;
    if (!v)
        return sp_err_set(err, SP_EINVAL, "store_load: no visitor");
    code = st->in_txn ? SQLITE_OK : store_step(st->stmt[STMT_BEGIN_READ]);
    if (code != SQLITE_OK)
        return store_fail(st, err, code, "cannot read " STORE_FILE);
    own = !st->in_txn;
    if (v->pool)
        rc = load_rows(&lc, STMT_LOAD_POOLS, pool_row, "host pools", err);
    if (!rc && v->pod)
        rc = load_rows(&lc, STMT_LOAD_PODS, pod_row, "pods", err);
    if (!rc && v->placement)
        rc = load_rows(&lc, STMT_LOAD_PLACEMENTS, placement_row, "placements", err);
    /* A read transaction holds no change: ROLLBACK ends it either way. */
    if (own && !sqlite3_get_autocommit(st->db))
        (void)store_step(st->stmt[STMT_ROLLBACK]);
    return rc;
}
