/*
 * Error codes and messages: see sp_error.h.
 */
#include "util/sp_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *sp_strerror(sp_rc rc)
{
    switch (rc) {
    case SP_OK: return "success";
    case SP_ENOMEM: return "out of memory";
    case SP_EINVAL: return "invalid argument";
    case SP_EPARSE: return "parse error";
    case SP_ENOTFOUND: return "not found";
    case SP_ELIMIT: return "limit exceeded";
    case SP_EIO: return "input/output error";
    case SP_ECONFLICT: return "conflict";
    case SP_EINTERNAL: return "internal error";
    }
    return "unknown error";
}

sp_rc sp_err_set(sp_err *err, sp_rc rc, const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return rc;
    err->rc = rc;
    va_start(ap, fmt);
    if (vsnprintf(err->msg, sizeof(err->msg), fmt, ap) < 0)
        err->msg[0] = '\0';
    va_end(ap);
    return rc;
}

sp_rc sp_err_prefix(sp_err *err, const char *fmt, ...)
{
    char prefix[SP_ERR_MSG_MAX];
    char joined[SP_ERR_MSG_MAX];
    va_list ap;
    int n;

    if (!err)
        return SP_OK;
    va_start(ap, fmt);
    n = vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    if (n < 0)
        return err->rc;
    /* Truncation is acceptable here: the message stays NUL-terminated. */
    if (snprintf(joined, sizeof(joined), "%s: %s", prefix, err->msg) < 0)
        return err->rc;
    memcpy(err->msg, joined, sizeof(err->msg));
    return err->rc;
}

void sp_err_clear(sp_err *err)
{
    if (!err)
        return;
    err->rc = SP_OK;
    err->msg[0] = '\0';
}
