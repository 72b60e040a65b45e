/*
 * The embedded store of the standalone mode (DESIGN section 6): what the
 * server learned and decided, kept on local disk so that a restart loses
 * nothing. One SQLite database in WAL mode under the state directory. Rows
 * mirror what the cluster mode keeps in custom resources: one placement per
 * PE (not per pod, so it outlives a pod replaced when the PE restarts),
 * HostPool objects with their chosen membership, and the PE pods seen. An
 * unwritable directory, a full disk or a damaged database is a clear error
 * and never a corrupt store.
 *
 * Durability comes in two grades, by what a lost write would cost:
 *   - decisions (placements, pool membership), HostPools, pod deletions and
 *     explicit transactions are synced (synchronous=FULL): on disk before
 *     the call returns, so a bind the server answered survives a power
 *     cut as well as a kill -9; reservations are synced in the background
 *     (store_defer_sync): on disk within a sync's time of the answer, and
 *     always before the bind that acts on them;
 *   - pod observations (store_put_pod, one per admitted pod: the hot path of
 *     the webhook) are committed with synchronous=NORMAL: in the WAL, so
 *     they survive the death of the process (kill -9, a crash), but not an
 *     OS crash until the next synced commit or checkpoint. Losing one is
 *     harmless: a pending pod comes back with its next filter call (the
 *     ExtenderArgs carry the Pod) or admission, and a pod with a decision
 *     is never lost, because it is stored before its decision and every
 *     synced commit makes the whole WAL before it durable too.
 */
#ifndef SP_STORE_H
#define SP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/sp_error.h"

#define STORE_FILE "streams-placer.db" /* inside the state directory */
#define STORE_LOCK_FILE "streams-placer.lock" /* held while a store is open */

typedef struct store store;

/* One PE's placement: the PEPlacement status of the standalone mode. */
typedef struct store_placement {
    const char *namespace_;   /* key: namespace, job, pe */
    const char *job;
    const char *pe;
    const char *pod;          /* the pod that holds it now, or NULL */
    const char *uid;          /* that pod's uid, or NULL */
    const char *node;         /* NULL: none */
    const char *previous_node;/* NULL: none */
    const char *phase;        /* "Reserved", "Bound", "Released" or "Failed" */
    const char *reason;       /* NULL: none */
    int64_t decided_at;       /* unix seconds */
    int64_t expires_at;       /* reservation deadline (unix seconds), 0: none */
    int64_t launches;         /* pods that held this PE so far */
} store_placement;

/*
 * Open (creating when needed) the store in dir, which is created with mode
 * 0700 when missing (its parent must exist). Checks the database's integrity
 * and schema version. SP_EIO with a message naming the path and the cause
 * (permission denied, read-only, no space, not a database, damaged, a newer
 * schema) otherwise. One store per directory: while it is open, another
 * store_open of the same directory (in this process or another) fails at
 * once with SP_ECONFLICT naming the holder's pid. A store is used by one
 * thread at a time. SQLite's allocations go through sp_alloc when the first
 * store_open precedes every other use of SQLite in the process.
 */
sp_rc store_open(const char *dir, store **out, sp_err *err)
    __attribute__((warn_unused_result));

/* Close the store. st may be NULL. */
void store_close(store *st);

/*
 * Group several writes into one transaction (nesting is not supported).
 * A failed write inside it rolls the whole transaction back at once, and
 * every later write and store_commit fails until store_rollback; a failed
 * store_commit has rolled back too. A transaction is synced whatever it
 * holds. Outside a transaction every write is its own transaction (synced or
 * not as the top of this file says), and a failed one leaves the store as it
 * was.
 */
sp_rc store_begin(store *st, sp_err *err) __attribute__((warn_unused_result));
sp_rc store_commit(store *st, sp_err *err) __attribute__((warn_unused_result));
/* Undo the open transaction (never fails in a way the caller can act on). */
void store_rollback(store *st);

/* Insert or replace the placement keyed by namespace, job and pe. Deleting
 * what is not stored is not an error (here and below). */
sp_rc store_put_placement(store *st, const store_placement *p, sp_err *err)
    __attribute__((warn_unused_result));
sp_rc store_delete_placement(store *st, const char *ns, const char *job,
                             const char *pe, sp_err *err)
    __attribute__((warn_unused_result));

/* Insert or replace a pod by uid (json: the Pod object, compact): a pod
 * observation, not synced (see the top of this file). */
sp_rc store_put_pod(store *st, const char *uid, const char *ns, const char *name,
                    const char *json, sp_err *err) __attribute__((warn_unused_result));
sp_rc store_delete_pod(store *st, const char *uid, sp_err *err)
    __attribute__((warn_unused_result));

/* Insert or replace a HostPool object (json) by namespace and name. */
sp_rc store_put_pool(store *st, const char *ns, const char *name, const char *json,
                     sp_err *err) __attribute__((warn_unused_result));

/* Delete a HostPool and its membership. */
sp_rc store_delete_pool(store *st, const char *ns, const char *name, sp_err *err)
    __attribute__((warn_unused_result));

/* Replace the ordered membership of a pool (its status.hosts; "" for a
 * free slot). SP_ENOTFOUND when the pool is not stored. */
sp_rc store_put_members(store *st, const char *ns, const char *pool,
                        const char *const *hosts, size_t n, sp_err *err)
    __attribute__((warn_unused_result));

/*
 * Deferred durability, for decisions that nothing acts on yet. From
 * store_defer_sync(st, true) to store_defer_sync(st, false), a write that
 * would be synced commits into the WAL only (it survives kill -9; a full
 * disk is still its error) and wakes a thread of the store that syncs the
 * WAL at once, beside the caller; any later synced write covers it too.
 * The extender defers its reservations this way: the bind that acts on a
 * reservation is a synced write, so a reservation is on disk before it is
 * acted on, as the PEPlacement is in a cluster. A failed background sync
 * is logged, and deferring stops until the store is reopened (writes are
 * synced in place again, each with its own error). When the background
 * sync cannot start, writes are synced in place.
 */
void store_defer_sync(store *st, bool on);

/* What the store committed since it was opened, by durability grade (each
 * write outside store_begin is one commit; store_commit is one synced). */
typedef struct store_stats {
    uint64_t synced;     /* synchronous=FULL: decisions and the like */
    uint64_t unsynced;   /* synchronous=NORMAL: pod observations */
    uint64_t deferred;   /* synced in the background (store_defer_sync) */
} store_stats;

void store_get_stats(const store *st, store_stats *out);

/*
 * Everything stored, visited in this order: pools (with their members),
 * pods, placements. A visitor returning an error stops the load and the
 * error is returned. Strings are valid during the call only. Each kind is
 * ordered by its key (bytewise); a NULL callback skips its kind. The visitor
 * must not call the store.
 */
typedef struct store_visitor {
    sp_rc (*pool)(void *ctx, const char *ns, const char *name, const char *json,
                  const char *const *members, size_t n_members, sp_err *err);
    sp_rc (*pod)(void *ctx, const char *uid, const char *json, sp_err *err);
    sp_rc (*placement)(void *ctx, const store_placement *p, sp_err *err);
} store_visitor;

sp_rc store_load(store *st, const store_visitor *v, void *ctx, sp_err *err)
    __attribute__((warn_unused_result));

#endif /* SP_STORE_H */
