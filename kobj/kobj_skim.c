/*
 * Emptying managedFields arrays in JSON text: see kobj_skim.h.
 *
 * Finding the members without tokenizing the whole text: an occurrence of
 * the bytes "managedFields" whose first quote is not preceded by a
 * backslash is, in valid JSON, exactly a string "managedFields" (its
 * closing quote, unescaped, ends a string; had the first quote closed an
 * earlier string, the letters would stand outside any string). Followed by
 * a colon, it is a member name, and the array after the colon is its value.
 * In text that is not valid JSON the guess may be wrong, but the only change
 * made is swapping a valid array for an empty one in what would be a value
 * position, which cannot make the text valid: a refused text stays refused.
 * (The one exception: cJSON refuses nesting deeper than 1,000 levels, and a
 * text that went past it only inside a managedFields array is taken once
 * that array is emptied.)
 */
#define _GNU_SOURCE /* memmem */
#include "kobj/kobj_skim.h"

#include <stdbool.h>
#include <string.h>

#include "util/sp_str.h"

#define KEY "\"managedFields\""
#define KEY_LEN (sizeof(KEY) - 1)
#define NUMBER_MAX 63 /* characters of a number cJSON 1.7 reads whole */

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* Whether p starts c, after whitespace; moves p past both. */
static bool take(const char **p, const char *end, char c)
{
    *p = skip_ws(*p, end);
    if (*p >= end || **p != c)
        return false;
    (*p)++;
    return true;
}

static bool hex4(const char *p, const char *end, unsigned *code)
{
    *code = 0;
    if (end - p < 4)
        return false;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        unsigned digit = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                         : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                         : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                                : 16;
        if (digit == 16)
            return false;
        *code = *code << 4 | digit;
    }
    return true;
}

/* Past the escape at p (a backslash), or NULL. A \u escape is taken as
 * cJSON takes it: a high surrogate only with a low one after it, a low one
 * never alone. */
static const char *skip_escape(const char *p, const char *end)
{
    unsigned code, low;

    if (end - p < 2)
        return NULL;
    if (p[1] && strchr("\"\\/bfnrt", p[1]))
        return p + 2;
    if (p[1] != 'u' || !hex4(p + 2, end, &code) || (code >= 0xDC00 && code <= 0xDFFF))
        return NULL;
    if (code < 0xD800 || code > 0xDBFF)
        return p + 6;
    if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || !hex4(p + 8, end, &low) ||
        low < 0xDC00 || low > 0xDFFF)
        return NULL;
    return p + 12;
}

/* p is at a quote. Plain bytes are passed eight at a time; after a run
 * that stops short, the byte it stopped at is looked at. */
static const char *skip_string(const char *p, const char *end)
{
    p++;
    for (;;) {
        if (end - p >= 8) {
            size_t plain = sp_json_plain_run8(p);

            p += plain;
            if (plain == 8)
                continue;
        } else if (p < end && !sp_json_escaped((unsigned char)*p)) {
            p++;
            continue;
        }
        if (p >= end)
            return NULL;
        if (*p == '"')
            return p + 1;
        if (*p != '\\' || !(p = skip_escape(p, end)))
            return NULL;
    }
}

static const char *skip_digits(const char *p, const char *end)
{
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    return p;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? of at most NUMBER_MAX. */
static const char *skip_number(const char *p, const char *end)
{
    const char *start = p, *digits;

    if (p < end && *p == '-')
        p++;
    if (p < end && *p == '0')
        p++;
    else if (p < end && *p >= '1' && *p <= '9')
        p = skip_digits(p, end);
    else
        return NULL;
    if (p < end && *p == '.') {
        digits = ++p;
        if ((p = skip_digits(p, end)) == digits)
            return NULL;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        digits = p;
        if ((p = skip_digits(p, end)) == digits)
            return NULL;
    }
    return p - start <= NUMBER_MAX ? p : NULL;
}

static const char *skip_word(const char *p, const char *end, const char *word)
{
    size_t n = strlen(word);

    return (size_t)(end - p) >= n && !memcmp(p, word, n) ? p + n : NULL;
}

/* Past the string, number, true, false or null at p, or NULL. */
static const char *skip_scalar(const char *p, const char *end)
{
    switch (*p) {
    case '"':
        return skip_string(p, end);
    case 't':
        return skip_word(p, end, "true");
    case 'f':
        return skip_word(p, end, "false");
    case 'n':
        return skip_word(p, end, "null");
    default:
        return skip_number(p, end);
    }
}

/* Past the valid JSON array at p (its '['), or NULL. One pass, no
 * recursion: the closing bracket of each open container is on a stack, and
 * what may come next is a value, a member name, or a comma or a closing
 * bracket. */
static const char *skip_array(const char *p, const char *end)
{
    char closing[KOBJ_SKIM_MAX_DEPTH];
    int depth = 0;
    enum { VALUE, NAME, AFTER } next = VALUE;

    for (;;) {
        p = skip_ws(p, end);
        if (p >= end)
            return NULL;
        if (next == AFTER) {
            if (*p == closing[depth - 1]) {
                p++;
                if (--depth == 0)
                    return p;
                continue;
            }
            if (*p++ != ',')
                return NULL;
            next = closing[depth - 1] == '}' ? NAME : VALUE;
        } else if (next == NAME) {
            if (*p != '"' || !(p = skip_string(p, end)) || !take(&p, end, ':'))
                return NULL;
            next = VALUE;
        } else if (*p == '[' || *p == '{') {
            if (depth == KOBJ_SKIM_MAX_DEPTH)
                return NULL;
            closing[depth++] = *p == '[' ? ']' : '}';
            p = skip_ws(p + 1, end);
            /* an empty one closes at once */
            next = p < end && *p == closing[depth - 1] ? AFTER
                   : closing[depth - 1] == '}'         ? NAME
                                                       : VALUE;
        } else if (!(p = skip_scalar(p, end))) {
            return NULL;
        } else {
            next = AFTER;
        }
    }
}

/* The '[' of the array that the key at key (KEY found there) names, or NULL
 * when key is not a member name or its value no array. */
static char *array_after_key(const char *json, char *key, const char *end)
{
    const char *p = key + KEY_LEN;

    if (key > json && key[-1] == '\\')
        return NULL;
    if (!take(&p, end, ':'))
        return NULL;
    p = skip_ws(p, end);
    return p < end && *p == '[' ? key + (p - key) : NULL;
}

size_t kobj_skim_managed_fields(char *json, size_t *len)
{
    char *end = json + *len, *at = json, *open;
    const char *close;
    size_t emptied = 0, cut;

    while ((at = memmem(at, (size_t)(end - at), KEY, KEY_LEN))) {
        open = array_after_key(json, at, end);
        at += KEY_LEN;
        if (!open || !(close = skip_array(open, end)))
            continue;
        cut = (size_t)(close - open) - 2; /* between '[' and ']' */
        memmove(open + 1, close - 1, (size_t)(end - close) + 1); /* ']' on */
        end -= cut;
        *len -= cut;
        at = open + 2;
        emptied++;
    }
    return emptied;
}
