/*
 * Project-wide error codes and the error struct that carries a human-readable
 * message with them. Every fallible function in streams-placer returns an
 * sp_rc and, where a person will read the outcome (an admission denial, a
 * FailedNodes reason, a CLI diagnostic), fills an sp_err naming the field, the
 * value and the fix.
 */
#ifndef SP_ERROR_H
#define SP_ERROR_H

#include <stddef.h>

#define SP_ERR_MSG_MAX 512 /* bytes of message kept, including the NUL */

typedef enum sp_rc {
    SP_OK = 0,
    SP_ENOMEM,     /* an allocation failed */
    SP_EINVAL,     /* the caller passed something malformed */
    SP_EPARSE,     /* input (JSON, quantity, annotation) could not be parsed */
    SP_ENOTFOUND,  /* a named object does not exist */
    SP_ELIMIT,     /* a size or count limit was exceeded */
    SP_EIO,        /* reading or writing a file or socket failed */
    SP_ECONFLICT,  /* the request contradicts existing state */
    SP_EINTERNAL,  /* a bug: an invariant did not hold */
} sp_rc;

typedef struct sp_err {
    sp_rc rc;
    char msg[SP_ERR_MSG_MAX];
} sp_err;

/* A static, human-readable name for rc ("out of memory"). Never NULL. */
const char *sp_strerror(sp_rc rc);

/*
 * Record rc and a printf-style message in err (err may be NULL) and return rc,
 * so that a failure reads `return sp_err_set(err, SP_EPARSE, "...", ...);`.
 * Messages longer than SP_ERR_MSG_MAX are truncated.
 */
sp_rc sp_err_set(sp_err *err, sp_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Prepend "prefix: " to the message already in err (err may be NULL), so an
 * outer layer can add context ("pods.json: items[3]: ...") without losing the
 * inner detail. Returns err->rc (SP_OK when err is NULL).
 */
sp_rc sp_err_prefix(sp_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Reset err to SP_OK with an empty message. err may be NULL. */
void sp_err_clear(sp_err *err);

#endif /* SP_ERROR_H */
