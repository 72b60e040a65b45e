/*
 * The background sync of the embedded store (store_defer_sync in store.h).
 * While deferring, a write that would be synced commits into the WAL
 * without waiting for the disk, and wakes a thread of the store that
 * fdatasyncs the WAL file at once (through a descriptor of its own: a sync
 * is per file, not per descriptor); syncs asked for while one runs are
 * covered by the next. A failed sync is logged, and deferring stops until
 * the store is reopened: writes are then synced by SQLite in place again,
 * each with its own error.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "store/store_internal.h"
#include "util/sp_alloc.h"
#include "util/sp_log.h"

struct store_syncer {
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* asked moved, or stop */
    pthread_t thread;
    int wal_fd;          /* the WAL file, read-only */
    bool stop;
    bool failed;         /* a sync failed: no more deferring */
    uint64_t asked;      /* deferred commits so far */
    uint64_t synced;     /* of those, how many a finished sync covered */
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
        if (e)
            sp_log(SP_LOG_ERROR, "store_sync_failed", "file", STORE_FILE "-wal", "error",
                   strerror(e), "effect", "decisions are synced in place from now on", NULL);
        pthread_mutex_lock(&sy->mu);
        sy->failed = sy->failed || e;
        sy->synced = target;
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
    failed = st->syncer->failed;
    pthread_mutex_unlock(&st->syncer->mu);
    return !failed;
}

void store_syncer_ask(store *st)
{
    store_syncer *sy = st->syncer;

    pthread_mutex_lock(&sy->mu);
    sy->asked++;
    pthread_cond_signal(&sy->cv);
    pthread_mutex_unlock(&sy->mu);
}

void store_syncer_stop(store *st)
{
    store_syncer *sy = st->syncer;

    if (!sy)
        return;
    pthread_mutex_lock(&sy->mu);
    sy->stop = true;
    pthread_cond_signal(&sy->cv);
    pthread_mutex_unlock(&sy->mu);
    pthread_join(sy->thread, NULL);
    (void)close(sy->wal_fd);
    pthread_mutex_destroy(&sy->mu);
    pthread_cond_destroy(&sy->cv);
    sp_free(sy);
    st->syncer = NULL;
}
