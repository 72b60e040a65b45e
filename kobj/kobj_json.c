/*
 * Typed JSON field access with error paths (kobj_json.h), and reading and
 * parsing JSON input with a size cap (kobj.h): the first step of every edge
 * that turns untrusted JSON into structs.
 */
#include "kobj/kobj_json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "kobj/kobj.h"
#include "util/sp_alloc.h"
#include "util/sp_buf.h"

/* ------------------------------------------------------------------------ */
/* Messages: types, quoting, paths                                            */
/* ------------------------------------------------------------------------ */

const char *kobj_json_type(const cJSON *v)
{
    if (!v || cJSON_IsNull(v))
        return "null";
    if (cJSON_IsBool(v))
        return "a boolean";
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsArray(v))
        return "an array";
    if (cJSON_IsObject(v))
        return "an object";
    return "an invalid value";
}

/* The escape for byte c in a quoted string, or NULL when it stays as is. */
static const char *escape_of(unsigned char c, char *tmp, size_t len)
{
    switch (c) {
    case '"': return "\\\"";
    case '\\': return "\\\\";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    default: break;
    }
    if (c < 0x20 || c == 0x7f) {
        if (snprintf(tmp, len, "\\x%02x", c) < 0)
            return "?";
        return tmp;
    }
    return NULL;
}

/* The length of buf[0..o) without a UTF-8 sequence cut short at its end. */
static size_t utf8_whole(const char *buf, size_t o)
{
    size_t k = o, need;
    unsigned char lead;

    while (k > 1 && o - k < 3 && ((unsigned char)buf[k - 1] & 0xc0) == 0x80)
        k--;
    if (k <= 1)
        return o;
    lead = (unsigned char)buf[k - 1];
    if (lead < 0xc0)
        return o;               /* ASCII, or stray continuation bytes */
    need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
    return k - 1 + need > o ? k - 1 : o;
}

void kobj_quote(const char *s, char *buf, size_t len)
{
    size_t o = 0;
    char tmp[8];

    if (len < 6) {          /* room for "", "..." and the NUL at least */
        if (len)
            buf[0] = '\0';
        return;
    }
    buf[o++] = '"';
    for (const char *p = s ? s : ""; *p; p++) {
        const char *esc = escape_of((unsigned char)*p, tmp, sizeof(tmp));
        size_t n = esc ? strlen(esc) : 1;

        if (o + n + 2 > len) {              /* closing quote and NUL */
            if (o + 5 > len)                /* room for "\"..." and NUL */
                o = len - 5;
            o = utf8_whole(buf, o);
            memcpy(buf + o, "\"...", 5);
            return;
        }
        if (esc)
            memcpy(buf + o, esc, n);
        else
            buf[o] = *p;
        o += n;
    }
    buf[o++] = '"';
    buf[o] = '\0';
}

void kobj_json_describe(const cJSON *v, char *buf, size_t len)
{
    char q[KOBJ_QUOTE_MAX];
    int n = 0;

    if (cJSON_IsString(v)) {
        kobj_quote(v->valuestring, q, sizeof(q));
        n = snprintf(buf, len, "a string (%s)", q);
    } else if (cJSON_IsNumber(v)) {
        n = snprintf(buf, len, "a number (%.15g)", v->valuedouble);
    } else if (cJSON_IsBool(v)) {
        n = snprintf(buf, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
    } else {
        n = snprintf(buf, len, "%s", kobj_json_type(v));
    }
    if (n < 0 && len)
        buf[0] = '\0';
}

/* Finish a path that snprintf produced with result n. */
static void path_fix(char *buf, size_t len, int n)
{
    if (!len)
        return;
    if (n < 0) {
        buf[0] = '\0';
        return;
    }
    if ((size_t)n >= len && len >= 4)
        memcpy(buf + len - 4, "...", 4);
}

/* buf = the n parts one after the other, cut with "..." as path_fix does.
 * Paths are built for every field read, so this is not snprintf. */
static void path_join(char *buf, size_t len, const char *const *parts, size_t n)
{
    size_t at = 0;

    if (!len)
        return;
    for (size_t i = 0; i < n; i++) {
        size_t part = strlen(parts[i]);
        if (part > len - 1 - at) {
            memcpy(buf + at, parts[i], len - 1 - at);
            buf[len - 1] = '\0';
            if (len >= 4)
                memcpy(buf + len - 4, "...", 4);
            return;
        }
        memcpy(buf + at, parts[i], part);
        at += part;
    }
    buf[at] = '\0';
}

void kobj_path(char *buf, size_t len, const char *parent, const char *key)
{
    const char *parts[] = { parent ? parent : "", ".", key };

    if (!parent || !*parent)
        path_join(buf, len, parts + 2, 1);
    else
        path_join(buf, len, parts, 3);
}

void kobj_path_index(char *buf, size_t len, const char *parent, size_t i)
{
    char digits[24], *d = digits + sizeof(digits);
    const char *parts[] = { parent, "[", NULL, "]" };

    *--d = '\0';
    do
        *--d = (char)('0' + i % 10);
    while ((i /= 10) > 0);
    parts[2] = d;
    path_join(buf, len, parts, 4);
}

void kobj_path_key(char *buf, size_t len, const char *parent, const char *key)
{
    char q[KOBJ_QUOTE_MAX];

    kobj_quote(key, q, sizeof(q));
    path_fix(buf, len, snprintf(buf, len, "%s[%s]", parent, q));
}

sp_rc kobj_type_error(sp_err *err, const char *path, const char *what,
                      const cJSON *v)
{
    char got[KOBJ_QUOTE_MAX + 32];

    kobj_json_describe(v, got, sizeof(got));
    if (!path || !*path)
        return sp_err_set(err, SP_EPARSE, "must be %s, got %s", what, got);
    return sp_err_set(err, SP_EPARSE, "%s: must be %s, got %s", path, what,
                      got);
}

/* True when msg starts with a path from an object's root. */
static bool starts_with_path(const char *msg)
{
    static const char *const roots[] = { "metadata", "spec", "status", "kind",
                                         "apiVersion", "items" };

    for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
        size_t n = strlen(roots[i]);

        if (strncmp(msg, roots[i], n) == 0 &&
            (msg[n] == '.' || msg[n] == '[' || msg[n] == ':'))
            return true;
    }
    return false;
}

void kobj_prefix_path(sp_err *err, const char *base)
{
    char joined[SP_ERR_MSG_MAX];

    if (!err || !base || !*base)
        return;
    if (!starts_with_path(err->msg)) {
        sp_err_prefix(err, "%s", base);
        return;
    }
    /* a cut message stays terminated */
    if (snprintf(joined, sizeof(joined), "%s.%s", base, err->msg) >= 0)
        memcpy(err->msg, joined, sizeof(err->msg));
}

/* ------------------------------------------------------------------------ */
/* Typed getters                                                              */
/* ------------------------------------------------------------------------ */

static int ascii_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

const cJSON *kobj_member(const cJSON *obj, const char *key)
{
    const cJSON *folded = NULL;
    int first = ascii_lower((unsigned char)key[0]);

    if (!cJSON_IsObject(obj))
        return NULL;
    for (const cJSON *c = obj->child; c; c = c->next) {
        if (!c->string || ascii_lower((unsigned char)c->string[0]) != first)
            continue;
        if (strcmp(c->string, key) == 0)
            return c;
        if (!folded && strcasecmp(c->string, key) == 0)
            folded = c;
    }
    return folded;
}

const cJSON *kobj_field(const cJSON *obj, const char *key)
{
    const cJSON *v = kobj_member(obj, key);

    return cJSON_IsNull(v) ? NULL : v;
}

static sp_rc field_error(sp_err *err, const char *parent, const char *key,
                         const char *what, const cJSON *v)
{
    char path[KOBJ_PATH_MAX];

    kobj_path(path, sizeof(path), parent, key);
    return kobj_type_error(err, path, what, v);
}

sp_rc kobj_get_object(const cJSON *obj, const char *parent, const char *key,
                      const cJSON **out, sp_err *err)
{
    const cJSON *v = kobj_field(obj, key);

    *out = NULL;
    if (v && !cJSON_IsObject(v))
        return field_error(err, parent, key, "an object", v);
    *out = v;
    return SP_OK;
}

sp_rc kobj_get_array(const cJSON *obj, const char *parent, const char *key,
                     const cJSON **out, sp_err *err)
{
    const cJSON *v = kobj_field(obj, key);

    *out = NULL;
    if (v && !cJSON_IsArray(v))
        return field_error(err, parent, key, "an array", v);
    *out = v;
    return SP_OK;
}

sp_rc kobj_get_string(const cJSON *obj, const char *parent, const char *key,
                      const char **out, sp_err *err)
{
    const cJSON *v = kobj_field(obj, key);

    *out = NULL;
    if (v && !cJSON_IsString(v))
        return field_error(err, parent, key, "a string", v);
    *out = v ? v->valuestring : NULL;
    return SP_OK;
}

sp_rc kobj_get_bool(const cJSON *obj, const char *parent, const char *key,
                    bool *out, bool *present, sp_err *err)
{
    const cJSON *v = kobj_field(obj, key);

    if (present)
        *present = false;
    if (!v)
        return SP_OK;
    if (!cJSON_IsBool(v))
        return field_error(err, parent, key, "true or false", v);
    *out = cJSON_IsTrue(v);
    if (present)
        *present = true;
    return SP_OK;
}

bool kobj_number_is_int(const cJSON *v, int64_t min, int64_t max,
                        int64_t *out)
{
    double d = v->valuedouble;
    int64_t i;

    /* 2^63 is the first double that does not fit an int64_t */
    if (!isfinite(d) || floor(d) != d || d >= 9223372036854775808.0 ||
        d < -9223372036854775808.0)
        return false;
    i = (int64_t)d;
    if (i < min || i > max)
        return false;
    *out = i;
    return true;
}

sp_rc kobj_get_int(const cJSON *obj, const char *parent, const char *key,
                   int64_t min, int64_t max, int64_t *out, bool *present,
                   sp_err *err)
{
    const cJSON *v = kobj_field(obj, key);
    const char *what = "an integer";
    char range[96];
    int64_t i;

    if (present)
        *present = false;
    if (!v)
        return SP_OK;
    if (!cJSON_IsNumber(v) || !kobj_number_is_int(v, min, max, &i)) {
        if ((min != INT64_MIN || max != INT64_MAX) &&
            snprintf(range, sizeof(range), "an integer from %lld to %lld",
                     (long long)min, (long long)max) > 0)
            what = range;
        return field_error(err, parent, key, what, v);
    }
    *out = i;
    if (present)
        *present = true;
    return SP_OK;
}

/* ------------------------------------------------------------------------ */
/* Reading and parsing                                                        */
/* ------------------------------------------------------------------------ */

/* Append everything f holds to b. */
static sp_rc read_stream(FILE *f, sp_buf *b, size_t max, sp_err *err)
{
    char chunk[65536];
    size_t n;
    sp_rc rc;

    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        rc = sp_buf_append(b, chunk, n);
        if (rc == SP_ELIMIT)
            return sp_err_set(err, rc, "larger than the limit of %zu bytes",
                              max);
        if (rc)
            return sp_err_set(err, rc, "out of memory reading it");
    }
    if (ferror(f))
        return sp_err_set(err, SP_EIO, "cannot read: %s", strerror(errno));
    return SP_OK;
}

sp_rc kobj_read_file(const char *path, size_t max, char **data, size_t *len,
                     sp_err *err)
{
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    sp_buf b;
    sp_rc rc;

    *data = NULL;
    *len = 0;
    sp_buf_init(&b, max);
    if (!f)
        return sp_err_set(err, SP_EIO, "cannot open: %s", strerror(errno));
    errno = 0;
    rc = read_stream(f, &b, max, err);
    if (rc)
        goto out;
    *len = b.len;
    *data = sp_buf_take(&b);
    if (!*data)
        rc = sp_err_set(err, SP_ENOMEM, "out of memory reading it");
out:
    if (!is_stdin)
        fclose(f);
    sp_buf_free(&b);
    return rc;
}

/* Line and column (both from 1) of position pos in data. */
static void line_col(const char *data, size_t pos, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < pos; i++) {
        if (data[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

sp_rc kobj_parse_json_nul(const char *data, size_t len, cJSON **out,
                          sp_err *err)
{
    const char *end = NULL;
    size_t line, col, pos;

    *out = NULL;
    if (memchr(data, '\0', len))
        return sp_err_set(err, SP_EPARSE, "not JSON: it contains a NUL byte");
    /* the NUL inside the length lets cJSON refuse trailing data */
    *out = cJSON_ParseWithLengthOpts(data, len + 1, &end, 1);
    if (*out)
        return SP_OK;
    if (strspn(data, " \t\r\n") == len)
        return sp_err_set(err, SP_EPARSE, "not JSON: the input is empty");
    pos = end && end >= data && end <= data + len ? (size_t)(end - data) : 0;
    line_col(data, pos, &line, &col);
    /* cJSON reports a failed allocation like a syntax error, at the point
     * it was reached: the message is then wrong but still an error. */
    return sp_err_set(err, SP_EPARSE,
                      "not JSON: syntax error at line %zu, column %zu", line,
                      col);
}

sp_rc kobj_parse_json(const char *data, size_t len, cJSON **out, sp_err *err)
{
    char *copy = sp_strndup(data, len);
    sp_rc rc;

    *out = NULL;
    if (!copy)
        return sp_err_set(err, SP_ENOMEM, "out of memory parsing JSON");
    rc = kobj_parse_json_nul(copy, len, out, err);
    sp_free(copy);
    return rc;
}
