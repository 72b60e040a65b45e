/*
 * Compact JSON text and its keyed digest: see svc_json.h. The printer makes
 * room for the worst case of each token (a string escaped whole) before it
 * writes it, then writes bytes without further checks; an integral number
 * prints as an integer, any other as "%.17g", which reads back to the same
 * double. The digest is SipHash-1-3 (one round per word, three to finish,
 * as Rust's hash maps use it against crafted collisions); it never leaves
 * the process, so byte order is free.
 */
#include "svc/svc_json.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "util/sp_alloc.h"
#include "util/sp_str.h"

/* ------------------------------------------------------------------------ */
/* Printing                                                                   */
/* ------------------------------------------------------------------------ */

/* Room for extra more bytes and a NUL. */
static sp_rc room(svc_json_text *t, size_t extra)
{
    size_t need;

    if (extra > SVC_JSON_MAX || t->len > SVC_JSON_MAX - extra)
        return SP_ELIMIT;
    need = t->len + extra + 1;
    if (need <= t->cap)
        return SP_OK;
    return sp_grow(&t->data, &t->cap, need < 4096 ? 4096 : need, 1) ? SP_ENOMEM : SP_OK;
}

static sp_rc put(svc_json_text *t, const char *s, size_t n)
{
    sp_rc rc = room(t, n);

    if (!rc) {
        memcpy(t->data + t->len, s, n);
        t->len += n;
    }
    return rc;
}

/* One byte: the fast path (room already there) is all there is to it. */
static sp_rc put_char(svc_json_text *t, char ch)
{
    if (t->len + 2 > t->cap)
        return put(t, &ch, 1);
    t->data[t->len++] = ch;
    return SP_OK;
}

/* s quoted, with '"', '\\' and control bytes escaped (\u00XX). Eight plain
 * bytes at a time where it can, one at a time where it must. */
static sp_rc put_string(svc_json_text *t, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), i = 0;
    sp_rc rc = n > (SVC_JSON_MAX - 2) / 6 ? SP_ELIMIT : room(t, 6 * n + 2);
    uint64_t w;
    char *o;

    if (rc)
        return rc;
    o = t->data + t->len;
    *o++ = '"';
    while (i < n) {
        if (i + 8 <= n && (memcpy(&w, p + i, 8), !sp_json_word_escaped(w))) {
            memcpy(o, &w, 8);
            o += 8;
            i += 8;
        } else if (!sp_json_escaped(p[i])) {
            *o++ = (char)p[i++];
        } else if (p[i] == '"' || p[i] == '\\') {
            *o++ = '\\';
            *o++ = (char)p[i++];
        } else {
            memcpy(o, "\\u00", 4);
            o[4] = hex[p[i] >> 4];
            o[5] = hex[p[i++] & 15];
            o += 6;
        }
    }
    *o++ = '"';
    t->len = (size_t)(o - t->data);
    return SP_OK;
}

/* The decimal digits of an integer, without printf's locale and format
 * parsing (most numbers in a pod are small integers). */
static sp_rc put_integer(svc_json_text *t, long long v)
{
    char buf[24], *o = buf + sizeof(buf);
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

    do {
        *--o = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--o = '-';
    return put(t, o, (size_t)(buf + sizeof(buf) - o));
}

static sp_rc put_number(svc_json_text *t, double d)
{
    char buf[40];
    int n;

    if (!isfinite(d))
        return put(t, "null", 4);
    if (d == floor(d) && fabs(d) < 9007199254740992.0) /* 2^53: exact */
        return put_integer(t, (long long)d);
    n = snprintf(buf, sizeof(buf), "%.17g", d);
    return n > 0 && (size_t)n < sizeof(buf) ? put(t, buf, (size_t)n) : SP_ENOMEM;
}

static sp_rc put_value(svc_json_text *t, const cJSON *v, const char *const *omit);

/* The members (object) or elements (array) of v between open and close,
 * leaving out the member at the path omit (a NULL-terminated list of names,
 * from v down; NULL: nothing). */
static sp_rc put_children(svc_json_text *t, const cJSON *v, bool members, char open,
                          char close, const char *const *omit)
{
    sp_rc rc = put_char(t, open);
    bool first = true;

    for (const cJSON *c = v->child; c && !rc; c = c->next) {
        const char *const *below = NULL;
        if (members && omit && c->string && strcmp(c->string, omit[0]) == 0) {
            if (!omit[1])
                continue;
            below = omit + 1;
        }
        if (!first)
            rc = put_char(t, ',');
        first = false;
        if (!rc && members)
            rc = put_string(t, c->string ? c->string : "");
        if (!rc && members)
            rc = put_char(t, ':');
        if (!rc)
            rc = put_value(t, c, below);
    }
    return rc ? rc : put_char(t, close);
}

static sp_rc put_value(svc_json_text *t, const cJSON *v, const char *const *omit)
{
    switch (v->type & 0xff) {
    case cJSON_False:
        return put(t, "false", 5);
    case cJSON_True:
        return put(t, "true", 4);
    case cJSON_Number:
        return put_number(t, v->valuedouble);
    case cJSON_String:
        return put_string(t, v->valuestring ? v->valuestring : "");
    case cJSON_Array:
        return put_children(t, v, false, '[', ']', NULL);
    case cJSON_Object:
        return put_children(t, v, true, '{', '}', omit);
    default:            /* null; nothing else comes out of a parse */
        return put(t, "null", 4);
    }
}

sp_rc svc_json_print(svc_json_text *t, const cJSON *obj, const char *const *omit)
{
    sp_rc rc;

    t->len = 0;
    rc = obj ? put_value(t, obj, omit && omit[0] ? omit : NULL) : put(t, "null", 4);
    if (!rc)
        t->data[t->len] = '\0';
    else if (t->data)
        t->data[t->len = 0] = '\0';
    return rc;
}

void svc_json_text_free(svc_json_text *t)
{
    sp_free(t->data);
    t->data = NULL;
    t->len = t->cap = 0;
}

/* ------------------------------------------------------------------------ */
/* The digest                                                                 */
/* ------------------------------------------------------------------------ */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

typedef struct sip {
    uint64_t v0, v1, v2, v3;
} sip;

static void sip_round(sip *s)
{
    s->v0 += s->v1;
    s->v1 = ROTL(s->v1, 13);
    s->v1 ^= s->v0;
    s->v0 = ROTL(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = ROTL(s->v3, 16);
    s->v3 ^= s->v2;
    s->v0 += s->v3;
    s->v3 = ROTL(s->v3, 21);
    s->v3 ^= s->v0;
    s->v2 += s->v1;
    s->v1 = ROTL(s->v1, 17);
    s->v1 ^= s->v2;
    s->v2 = ROTL(s->v2, 32);
}

static void sip_word(sip *s, uint64_t m)
{
    s->v3 ^= m;
    sip_round(s);
    s->v0 ^= m;
}

uint64_t svc_digest(const svc_digest_key *key, const void *data, size_t len)
{
    sip s = { key->k0 ^ 0x736f6d6570736575ULL, key->k1 ^ 0x646f72616e646f6dULL,
              key->k0 ^ 0x6c7967656e657261ULL, key->k1 ^ 0x7465646279746573ULL };
    const unsigned char *p = data;
    size_t whole = len / 8 * 8;
    uint64_t m = 0;

    for (size_t i = 0; i < whole; i += 8) {
        memcpy(&m, p + i, sizeof(m));
        sip_word(&s, m);
    }
    m = 0;
    memcpy(&m, p + whole, len - whole);
    sip_word(&s, m | (uint64_t)len << 56);
    s.v2 ^= 0xff;
    for (int i = 0; i < 3; i++)
        sip_round(&s);
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

sp_rc svc_digest_key_new(svc_digest_key *key, sp_err *err)
{
    uint64_t k[2];
    ssize_t n;

    do
        n = getrandom(k, sizeof(k), 0);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(k))
        return sp_err_set(err, SP_EIO, "cannot read random bytes (getrandom: %s)",
                          n < 0 ? strerror(errno) : "short read");
    key->k0 = k[0];
    key->k1 = k[1];
    return SP_OK;
}
