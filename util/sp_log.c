/*
 * Structured logs in logfmt: see sp_log.h. A line is built in a fixed
 * buffer (cut, never split, when too long) and written with one call.
 */
#include "util/sp_log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#define LINE_MAX_BYTES 8192

static atomic_int min_level = SP_LOG_INFO;
static FILE *_Atomic out_stream;

static const char *const level_names[] = { "debug", "info", "warn", "error", "off" };

/* A line being built; text past the end is dropped. */
typedef struct line {
    char buf[LINE_MAX_BYTES];
    size_t len;
} line;

static void put(line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(line *l, const char *fmt, ...)
{
    size_t room = sizeof(l->buf) - l->len;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(l->buf + l->len, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        l->len += (size_t)n < room ? (size_t)n : room - 1;
}

void sp_log_set_level(sp_log_level level)
{
    atomic_store(&min_level, (int)level);
}

int sp_log_level_parse(const char *s)
{
    for (int i = 0; i <= SP_LOG_OFF; i++)
        if (s && strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

void sp_log_set_stream(FILE *f)
{
    atomic_store(&out_stream, f);
}

static bool needs_quotes(const char *v)
{
    if (!*v)
        return true;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
            return true;
    return false;
}

/* Append v, quoted and escaped when it needs to be. */
static void put_value(line *l, const char *v)
{
    if (!needs_quotes(v)) {
        put(l, "%s", v);
        return;
    }
    put(l, "\"");
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\')
            put(l, "\\%c", *p);
        else if (*p == '\n')
            put(l, "\\n");
        else if (*p < ' ' || *p == 0x7f)
            put(l, "\\x%02x", *p);
        else
            put(l, "%c", *p);
    }
    put(l, "\"");
}

static void put_time(line *l)
{
    struct timespec ts;
    struct tm tm;
    char when[32];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    if (!strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm))
        when[0] = '\0';
    put(l, "ts=%s.%03ldZ", when, ts.tv_nsec / 1000000);
}

void sp_log(sp_log_level level, const char *event, ...)
{
    FILE *f = atomic_load(&out_stream);
    line l = { .len = 0 };
    va_list ap;
    const char *key;

    if ((int)level < atomic_load(&min_level) || level >= SP_LOG_OFF)
        return;
    put_time(&l);
    put(&l, " level=%s event=", level_names[level]);
    put_value(&l, event);
    va_start(ap, event);
    while ((key = va_arg(ap, const char *)) != NULL) {
        const char *value = va_arg(ap, const char *);
        put(&l, " %s=", key);
        put_value(&l, value ? value : "");
    }
    va_end(ap);
    fprintf(f ? f : stderr, "%.*s\n", (int)l.len, l.buf);
}
