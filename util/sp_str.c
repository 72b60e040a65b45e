/*
 * String helpers: see sp_str.h.
 */
#include "util/sp_str.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/sp_alloc.h"

sp_rc sp_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    long long v;

    if (!s || !*s || isspace((unsigned char)*s))
        return SP_EPARSE;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (*end != '\0' || end == s)
        return SP_EPARSE;
    if (errno == ERANGE || v < min || v > max)
        return SP_ELIMIT;
    *out = v;
    return SP_OK;
}

void sp_strv_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        sp_free(v[i]);
    sp_free(v);
}

static bool already_listed(char **v, size_t n, const char *s, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(v[i]) == len && memcmp(v[i], s, len) == 0)
            return true;
    return false;
}

sp_rc sp_split_csv(const char *s, char ***items, size_t *count, size_t *bad_index)
{
    char **v = NULL;
    size_t n = 0, cap = 0, pos = 0;
    sp_rc rc = SP_OK;

    *items = NULL;
    *count = 0;
    for (const char *p = s;; pos++) {
        const char *end = strchr(p, ',');
        const char *stop = end ? end : p + strlen(p);
        const char *b = p, *e = stop;

        while (b < e && isspace((unsigned char)*b))
            b++;
        while (e > b && isspace((unsigned char)e[-1]))
            e--;
        if (b == e) {
            if (bad_index)
                *bad_index = pos;
            rc = SP_EPARSE;
            goto out;
        }
        if (!already_listed(v, n, b, (size_t)(e - b))) {
            if (sp_grow(&v, &cap, n + 1, sizeof(*v))) {
                rc = SP_ENOMEM;
                goto out;
            }
            v[n] = sp_strndup(b, (size_t)(e - b));
            if (!v[n]) {
                rc = SP_ENOMEM;
                goto out;
            }
            n++;
        }
        if (!end)
            break;
        p = end + 1;
    }
    *items = v;
    *count = n;
    v = NULL;
    n = 0;
out:
    sp_strv_free(v, n);
    return rc;
}

bool sp_strcaseeq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return false;
    return *a == *b;
}

void sp_rng_seed(sp_rng *r, uint64_t seed)
{
    r->state = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

uint64_t sp_rng_next(sp_rng *r)
{
    uint64_t x = r->state;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

uint64_t sp_rng_below(sp_rng *r, uint64_t n)
{
    return sp_rng_next(r) % n;
}
