/*
 * The background sync of the embedded store (store_defer_sync in store.h).
 * While deferring, a write that would be synced commits into the WAL
 * without waiting for the disk, and asks a thread of its own to fdatasync
 * the WAL file (through a descriptor of its own: a sync is per file, not
 * per descriptor). Writes and syncs are counted: a waiter waits until the
 * syncs have covered every write made before it. A failed sync is reported
 * to every waiter whose writes it may have covered (conservatively: also to
 * one that wakes late after an earlier sync had covered it), and deferring
 * stops until the store is reopened: later writes are synced by SQLite
 * itself again, each with its own error.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "store/store_internal.h"
#include "util/sp_alloc.h"

struct store_syncer {
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* asked moved (for the thread), synced moved (for waiters) */
    pthread_t thread;
    int wal_fd;          /* the WAL file, read-only */
    bool stop;
    uint64_t asked;      /* deferred commits so far */
    uint64_t synced;     /* of those, how many a finished sync covered */
    uint64_t failed;     /* the last count a failed sync covered; 0: none */
    int failed_errno;
};

static void *sync_loop(void *arg)
{
    store_syncer *sy = arg;

    pthread_mutex_lock(&sy->mu);
    while (!sy->stop || sy->synced < sy->asked) {
        uint64_t target;
        int e;
        if (sy->synced >= sy->asked) {
            pthread_cond_wait(&sy->cv, &sy->mu);
            continue;
        }
        target = sy->asked;
        pthread_mutex_unlock(&sy->mu);
        e = fdatasync(sy->wal_fd) ? errno : 0;
        pthread_mutex_lock(&sy->mu);
        if (e) {
            sy->failed = target;
            sy->failed_errno = e;
        }
        sy->synced = target;
        pthread_cond_broadcast(&sy->cv);
    }
    pthread_mutex_unlock(&sy->mu);
    return NULL;
}

/* Start the syncer: open the WAL (it exists once the database is open in
 * WAL mode) and the thread. False when either cannot be had. */
static bool start(store *st)
{
    store_syncer *sy = sp_calloc(1, sizeof(*sy));
    size_t n = strlen(st->db_path);
    char *wal = sp_malloc(n + sizeof("-wal"));

    if (!sy || !wal) {
        sp_free(sy);
        sp_free(wal);
        return false;
    }
    memcpy(wal, st->db_path, n);
    memcpy(wal + n, "-wal", sizeof("-wal"));
    sy->wal_fd = open(wal, O_RDONLY | O_CLOEXEC);
    sp_free(wal);
    pthread_mutex_init(&sy->mu, NULL);
    pthread_cond_init(&sy->cv, NULL);
    if (sy->wal_fd < 0 || pthread_create(&sy->thread, NULL, sync_loop, sy) != 0) {
        if (sy->wal_fd >= 0)
            (void)close(sy->wal_fd);
        pthread_mutex_destroy(&sy->mu);
        pthread_cond_destroy(&sy->cv);
        sp_free(sy);
        return false;
    }
    st->syncer = sy;
    return true;
}

bool store_syncer_ready(store *st)
{
    bool failed;

    if (!st->syncer)
        return start(st);
    pthread_mutex_lock(&st->syncer->mu);
    failed = st->syncer->failed != 0;
    pthread_mutex_unlock(&st->syncer->mu);
    return !failed;
}

uint64_t store_syncer_ask(store *st)
{
    store_syncer *sy = st->syncer;
    uint64_t ticket;

    pthread_mutex_lock(&sy->mu);
    ticket = ++sy->asked;
    pthread_cond_broadcast(&sy->cv);
    pthread_mutex_unlock(&sy->mu);
    return ticket;
}

sp_rc store_await_sync(store *st, uint64_t ticket, sp_err *err)
{
    store_syncer *sy = st ? st->syncer : NULL;
    int e = 0;

    if (!sy || !ticket)
        return SP_OK;
    pthread_mutex_lock(&sy->mu);
    while (sy->synced < ticket)
        pthread_cond_wait(&sy->cv, &sy->mu);
    if (sy->failed >= ticket)
        e = sy->failed_errno;
    pthread_mutex_unlock(&sy->mu);
    return e ? store_fail_errno(st, err, e, "cannot sync %s-wal to disk: decisions "
                                "written since the last sync may not survive a power cut",
                                STORE_FILE)
             : SP_OK;
}

void store_syncer_stop(store *st)
{
    store_syncer *sy = st->syncer;

    if (!sy)
        return;
    pthread_mutex_lock(&sy->mu);
    sy->stop = true;
    pthread_cond_broadcast(&sy->cv);
    pthread_mutex_unlock(&sy->mu);
    pthread_join(sy->thread, NULL);
    (void)close(sy->wal_fd);
    pthread_mutex_destroy(&sy->mu);
    pthread_cond_destroy(&sy->cv);
    sp_free(sy);
    st->syncer = NULL;
}
