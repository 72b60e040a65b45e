/*
 * Capped growable buffer: see sp_buf.h.
 */
#include "util/sp_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/sp_alloc.h"

void sp_buf_init(sp_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

sp_rc sp_buf_reserve(sp_buf *b, size_t extra)
{
    size_t need;

    if (extra > b->max || b->len > b->max - extra || b->len + extra == (size_t)-1)
        return SP_ELIMIT;
    need = b->len + extra + 1;
    if (need <= b->cap)
        return SP_OK;
    if (sp_grow(&b->data, &b->cap, need < 64 ? 64 : need, 1))
        return SP_ENOMEM;
    return SP_OK;
}

sp_rc sp_buf_append(sp_buf *b, const void *data, size_t len)
{
    sp_rc rc = sp_buf_reserve(b, len);

    if (rc)
        return rc;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return SP_OK;
}

sp_rc sp_buf_puts(sp_buf *b, const char *s)
{
    return sp_buf_append(b, s, strlen(s));
}

/* Room for printing into the allocation as it is, within the cap. */
static size_t spare(const sp_buf *b)
{
    size_t room = b->cap > b->len ? b->cap - b->len : 0;

    return room && b->max - b->len + 1 < room ? b->max - b->len + 1 : room;
}

sp_rc sp_buf_printf(sp_buf *b, const char *fmt, ...)
{
    va_list ap;
    size_t room = spare(b);
    int n;
    sp_rc rc;

    /* one pass when it fits the room already there, two otherwise */
    va_start(ap, fmt);
    n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < room) {
        b->len += (size_t)n;
        return SP_OK;
    }
    if (room)
        b->data[b->len] = '\0';
    if (n < 0)
        return SP_EINVAL;
    rc = sp_buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    n = vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->data[b->len] = '\0';
        return SP_EINVAL;
    }
    b->len += (size_t)n;
    return SP_OK;
}

/* The JSON escape of c: \" or \\, else \u00XX. */
static sp_rc append_escape(sp_buf *b, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

    if (c == '"' || c == '\\') {
        esc[1] = (char)c;
        return sp_buf_append(b, esc, 2);
    }
    return sp_buf_append(b, esc, sizeof(esc));
}

/* How many bytes of s from the start need no JSON escape. */
static size_t plain_span(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p >= 0x20 && *p != '"' && *p != '\\')
        p++;
    return (size_t)(p - (const unsigned char *)s);
}

sp_rc sp_buf_json_string(sp_buf *b, const char *s)
{
    const unsigned char *run = (const unsigned char *)s, *p = run;
    size_t start = b->len, plain = plain_span(s);
    sp_rc rc;

    if (!s[plain]) { /* nothing to escape, as in almost every name: one copy */
        rc = sp_buf_reserve(b, plain + 2);
        if (rc)
            return rc;
        b->data[b->len] = '"';
        memcpy(b->data + b->len + 1, s, plain);
        b->len += plain + 2;
        b->data[b->len - 1] = '"';
        b->data[b->len] = '\0';
        return SP_OK;
    }
    rc = sp_buf_append(b, "\"", 1);

    for (; !rc && *p; p++) {
        if (*p >= 0x20 && *p != '"' && *p != '\\')
            continue;
        rc = sp_buf_append(b, run, (size_t)(p - run));
        if (!rc)
            rc = append_escape(b, *p);
        run = p + 1;
    }
    if (!rc)
        rc = sp_buf_append(b, run, (size_t)(p - run));
    if (!rc)
        rc = sp_buf_append(b, "\"", 1);
    if (rc && b->data) {
        b->len = start; /* all or nothing */
        b->data[start] = '\0';
    }
    return rc;
}

void sp_buf_reset(sp_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *sp_buf_take(sp_buf *b)
{
    char *out = b->data;

    if (!out)
        out = sp_strdup("");
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return out;
}

void sp_buf_free(sp_buf *b)
{
    if (!b)
        return;
    sp_free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}
