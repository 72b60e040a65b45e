/*
 * Why the store failed, in words an operator can act on. SQLite's result
 * codes and the errno of the failing system call become one message of the
 * shape "state dir D: <what was being done>: <cause>: <fix>", for example
 * "state dir /var/lib/sp: cannot create streams-placer.db: permission denied:
 * give the server's user write access to the state dir and its files, or
 * choose another --state-dir". File-level causes are SP_EIO; running out of
 * memory is SP_ENOMEM whichever layer noticed it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store/store_internal.h"

/* A cause and what to do about it. */
typedef struct store_why {
    sp_rc rc;
    const char *cause;
    const char *fix;
} store_why;

#define FIX_ACCESS "give the server's user write access to the state dir and its files, " \
                   "or choose another --state-dir"
#define FIX_OTHER_DIR "choose another --state-dir"

/* The cause named by errno value e (0: unknown). */
static store_why why_errno(int e)
{
    switch (e) {
    case EACCES:
    case EPERM:
        return (store_why){ SP_EIO, "permission denied", FIX_ACCESS };
    case EROFS:
        return (store_why){ SP_EIO, "read-only file system",
                            "remount it read-write or " FIX_OTHER_DIR };
    case ENOSPC:
        return (store_why){ SP_EIO, "no space left on device",
                            "free space on its file system or " FIX_OTHER_DIR };
    case EDQUOT:
        return (store_why){ SP_EIO, "disk quota exceeded",
                            "raise the server user's quota or " FIX_OTHER_DIR };
    case EFBIG:
        return (store_why){ SP_EIO, "file too large (the file size limit was reached)",
                            "raise the server's file size limit (ulimit -f) or "
                            FIX_OTHER_DIR };
    case ENOENT:
        return (store_why){ SP_EIO, "no such file or directory",
                            "create the parent directory or " FIX_OTHER_DIR };
    case ENOTDIR:
        return (store_why){ SP_EIO, "a component of the path is not a directory",
                            FIX_OTHER_DIR };
    case EISDIR:
        return (store_why){ SP_EIO, "it is a directory",
                            "move it away or " FIX_OTHER_DIR };
    case ENAMETOOLONG:
        return (store_why){ SP_EIO, "the path is too long", FIX_OTHER_DIR };
    case ELOOP:
        return (store_why){ SP_EIO, "too many symbolic links", FIX_OTHER_DIR };
    case EMFILE:
    case ENFILE:
        return (store_why){ SP_EIO, "too many open files",
                            "raise the open file limit (ulimit -n)" };
    case ENOLCK:
        return (store_why){ SP_EIO, "the file system does not support locks",
                            "put the state dir on a local file system" };
    case ENOMEM:
        return (store_why){ SP_ENOMEM, "out of memory", "give the server more memory" };
    case EIO:
        return (store_why){ SP_EIO, "input/output error (the disk or file system failed)",
                            "check the disk and the kernel log (dmesg)" };
    default:
        return (store_why){ SP_EIO, e ? strerror(e) : "the system refused it",
                            "check the state dir or " FIX_OTHER_DIR };
    }
}

/* Why the database is read-only: the errno that writing it, or creating its
 * -wal file in the directory, would get. */
static store_why why_readonly(const store *st)
{
    if (access(st->db_path, W_OK) != 0 && (errno == EROFS || errno == EACCES))
        return why_errno(errno);
    if (access(st->dir, W_OK) != 0 && (errno == EROFS || errno == EACCES))
        return why_errno(errno);
    return (store_why){ SP_EIO, "the database is read-only", FIX_ACCESS };
}

/* The system error SQLite saw, or fallback when it recorded none. */
static int sys_errno(const store *st, int fallback)
{
    int e = st->db ? sqlite3_system_errno(st->db) : 0;

    return e ? e : fallback;
}

/* The cause of SQLite's (extended) result code. */
static store_why why_sqlite(const store *st, int code)
{
    int e;

    switch (code & 0xff) {
    case SQLITE_NOMEM:
        return why_errno(ENOMEM);
    case SQLITE_FULL:
        e = sys_errno(st, ENOSPC);
        return why_errno(e == EDQUOT ? EDQUOT : ENOSPC);
    case SQLITE_READONLY:
        return why_readonly(st);
    case SQLITE_CANTOPEN:
        return why_errno(sys_errno(st, 0));
    case SQLITE_IOERR:
        if (code == SQLITE_IOERR_NOMEM)
            return why_errno(ENOMEM);
        /* SQLite records no errno for a failed write (sqlite3_system_errno
         * is 0 after SQLITE_IOERR_WRITE): the one that write left is the
         * clue, when it names a cause the operator can act on */
        e = errno == EFBIG || errno == ENOSPC || errno == EDQUOT ? errno : EIO;
        e = sys_errno(st, e);
        return why_errno(e == ENOSPC || e == EDQUOT || e == EACCES || e == EROFS || e == EFBIG
                             ? e : EIO);
    case SQLITE_NOTADB:
        return (store_why){ SP_EIO, "not a database (the file holds something else)",
                            "move " STORE_FILE " away or " FIX_OTHER_DIR };
    case SQLITE_CORRUPT:
        return (store_why){ SP_EIO, "the database is damaged",
                            "move " STORE_FILE " and its -wal file away to start "
                            "with an empty store, or restore a backup" };
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return (store_why){ SP_EIO, "the database is locked by another process",
                            "stop the other process that has " STORE_FILE " open" };
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
        return (store_why){ SP_EINVAL, sqlite3_errstr(code), "check the value" };
    default:
        return (store_why){ SP_EIO, st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(code),
                            "check the state dir or " FIX_OTHER_DIR };
    }
}

/* Format "state dir D: <what>: <cause>: <fix>" into err; returns why.rc. */
static sp_rc fail_with(const store *st, sp_err *err, store_why why, const char *fmt,
                       va_list ap)
{
    char what[SP_ERR_MSG_MAX];

    if (vsnprintf(what, sizeof(what), fmt, ap) < 0)
        what[0] = '\0';
    return sp_err_set(err, why.rc, "state dir %s: %s: %s: %s", st->dir, what,
                      why.cause, why.fix);
}

sp_rc store_fail(const store *st, sp_err *err, int code, const char *fmt, ...)
{
    va_list ap;
    sp_rc rc;

    va_start(ap, fmt);
    rc = fail_with(st, err, why_sqlite(st, code), fmt, ap);
    va_end(ap);
    return rc;
}

sp_rc store_fail_errno(const store *st, sp_err *err, int e, const char *fmt, ...)
{
    va_list ap;
    sp_rc rc;

    va_start(ap, fmt);
    rc = fail_with(st, err, why_errno(e), fmt, ap);
    va_end(ap);
    return rc;
}
