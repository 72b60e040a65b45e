/*
 * Structured logs: one line per event, logfmt (key=value), on standard
 * error: `ts=2026-11-24T10:00:00.123Z level=info event=listen addr=127.0.0.1
 * port=8443`. Fields are key/value string pairs ending with NULL, so that no
 * caller formats a line by hand; values with spaces, quotes or control
 * characters are quoted and escaped. Safe from several threads (one write
 * per line).
 */
#ifndef SP_LOG_H
#define SP_LOG_H

#include <stdio.h>

typedef enum sp_log_level {
    SP_LOG_DEBUG,
    SP_LOG_INFO,
    SP_LOG_WARN,
    SP_LOG_ERROR,
    SP_LOG_OFF,
} sp_log_level;

/* Lines below level are dropped (default SP_LOG_INFO). */
void sp_log_set_level(sp_log_level level);

/* Parse "debug", "info", "warn", "error" or "off"; -1 when unknown. */
int sp_log_level_parse(const char *s);

/* Write lines to f instead of standard error (tests; NULL: back to stderr). */
void sp_log_set_stream(FILE *f);

/*
 * Log event with fields given as key, value, key, value, ..., NULL. A NULL
 * value is written as an empty string.
 */
void sp_log(sp_log_level level, const char *event, ...) __attribute__((sentinel));

#endif /* SP_LOG_H */
