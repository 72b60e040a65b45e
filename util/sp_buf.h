/*
 * A growable byte buffer with a hard size cap, in the manner of curl's dynbuf.
 * Every body read from the network and every response built goes through one,
 * so that input over the cap is an SP_ELIMIT (a 413 at the HTTP edge), never an
 * unbounded realloc. The content is always NUL-terminated.
 */
#ifndef SP_BUF_H
#define SP_BUF_H

#include <stddef.h>

#include "util/sp_error.h"

typedef struct sp_buf {
    char *data;   /* NULL until the first append */
    size_t len;   /* bytes of content, excluding the NUL */
    size_t cap;   /* bytes allocated */
    size_t max;   /* the content may never exceed this */
} sp_buf;

/* Prepare an empty buffer that will refuse to hold more than max bytes. */
void sp_buf_init(sp_buf *b, size_t max);

/* Make room for extra more bytes (and the NUL) at once, when their number
 * is known or can be guessed. SP_ELIMIT over the cap, SP_ENOMEM. */
sp_rc sp_buf_reserve(sp_buf *b, size_t extra) __attribute__((warn_unused_result));

/* Append len bytes. SP_ELIMIT over the cap, SP_ENOMEM; b is unchanged then. */
sp_rc sp_buf_append(sp_buf *b, const void *data, size_t len)
    __attribute__((warn_unused_result));

/* Append a NUL-terminated string. */
sp_rc sp_buf_puts(sp_buf *b, const char *s) __attribute__((warn_unused_result));

/* Append printf-style text. */
sp_rc sp_buf_printf(sp_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), warn_unused_result));

/* Append s as a JSON string: quoted, with '"', '\\' and control
 * characters escaped; other bytes (UTF-8) as they are. All or nothing. */
sp_rc sp_buf_json_string(sp_buf *b, const char *s) __attribute__((warn_unused_result));

/* Drop the content but keep the allocation (for reuse). */
void sp_buf_reset(sp_buf *b);

/*
 * Hand the content to the caller (who frees it with sp_free) and leave b empty.
 * Returns an empty allocated string when nothing was appended, NULL on ENOMEM.
 */
char *sp_buf_take(sp_buf *b);

/* Free the content. b may be NULL. */
void sp_buf_free(sp_buf *b);

#endif /* SP_BUF_H */
