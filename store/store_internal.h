/*
 * Internals of the embedded store shared by its files: the store struct with
 * its cached statements, the translation of SQLite's result codes and errno
 * values into messages a person can act on, and the routing of SQLite's
 * allocations through sp_alloc. Not for use outside store/ (tests aside).
 */
#ifndef SP_STORE_INTERNAL_H
#define SP_STORE_INTERNAL_H

#include <sqlite3.h>
#include <stdbool.h>

#include "store/store.h"

#define STORE_SCHEMA_VERSION 1     /* what this build writes and reads */
#define STORE_BUSY_TIMEOUT_MS 5000 /* wait for an outside reader's lock */

typedef struct store_syncer store_syncer;

/* The cached statements; their SQL is in store_open.c. */
typedef enum store_stmt_id {
    STMT_BEGIN,          /* write transaction */
    STMT_BEGIN_READ,     /* snapshot for store_load */
    STMT_COMMIT,
    STMT_ROLLBACK,
    STMT_PUT_PLACEMENT,
    STMT_DEL_PLACEMENT,
    STMT_PUT_POD,
    STMT_DEL_POD,
    STMT_PUT_POOL,
    STMT_DEL_POOL,
    STMT_DEL_MEMBERS,
    STMT_ADD_MEMBER,
    STMT_LOAD_POOLS,
    STMT_LOAD_MEMBERS,
    STMT_LOAD_PODS,
    STMT_LOAD_PLACEMENTS,
    STMT_COUNT
} store_stmt_id;

/* How the next commit reaches the disk (SQLite's PRAGMA synchronous). */
typedef enum store_sync {
    STORE_SYNC_NORMAL,   /* into the WAL, synced at a checkpoint */
    STORE_SYNC_FULL,     /* the WAL synced at every commit */
} store_sync;

struct store {
    char *dir;          /* the state directory, without trailing slashes */
    char *db_path;      /* dir/STORE_FILE */
    char *lock_path;    /* dir/STORE_LOCK_FILE */
    int lock_fd;        /* flock(LOCK_EX) held while open; -1: none */
    sqlite3 *db;
    sqlite3_stmt *stmt[STMT_COUNT];
    bool in_txn;        /* between store_begin and store_commit/rollback */
    bool txn_failed;    /* a write in it failed: only rollback is left */
    store_sync sync;    /* the connection's PRAGMA synchronous now */
    store_stats stats;
    bool deferring;     /* store_defer_sync: synced writes go to the syncer */
    bool owed;          /* the write under way was deferred: ask at its commit */
    store_syncer *syncer; /* store_sync.c; NULL until first deferred write */
};

/* The background sync (store_sync.c). store_syncer_ready: whether a
 * deferred write may be made now (starts the syncer on first use; false
 * when it cannot start or a sync failed). store_syncer_ask: a deferred
 * write committed: sync it. store_syncer_stop: finish the syncs asked for
 * and free the syncer (store_close). */
bool store_syncer_ready(store *st);
void store_syncer_ask(store *st);
void store_syncer_stop(store *st);

/*
 * Record in err why SQLite said `code` while the store was doing what fmt
 * describes ("cannot store pod x in streams-placer.db"), as "state dir D:
 * <what>: <cause>: <fix>", and return the matching sp_rc (SP_EIO for file
 * problems, SP_ENOMEM, SP_EINVAL for a rejected value). Uses st->db for the
 * detail when set.
 */
sp_rc store_fail(const store *st, sp_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The same for a failed system call that set errno value e. */
sp_rc store_fail_errno(const store *st, sp_err *err, int e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Route SQLite's allocations through sp_malloc/sp_free so that allocation
 * failure injection reaches into SQLite too. Runs once per process, before
 * SQLite initialises; without effect (SQLite keeps its own allocator) when
 * something else used SQLite first. store_open calls it; tests that touch
 * SQLite before their first store_open call it first.
 */
void store_mem_install(void);

#endif /* SP_STORE_INTERNAL_H */
