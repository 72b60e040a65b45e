/*
 * Kubernetes resource quantities, exactly. A quantity string ("100m", "1.5",
 * "128Mi", "2e3") is split into its digits and suffix and turned into
 * thousandths of its unit with integer arithmetic only: the value is
 * digits x 10^exp x 2^shift, and whatever falls below one milli-unit is
 * rounded up, as Kubernetes does, however many digits the text carries. The
 * grammar is that of k8s.io/apimachinery/pkg/api/resource, made stricter
 * where it is lax: a number needs at least one digit ("." and "Mi" are
 * refused) and negative quantities are refused. Also here: the formatters
 * that print cpu and memory back for people in reasons and the CLI.
 */
#include "placement/place.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define QTY_SHOW_MAX 64     /* characters of a bad value quoted back */
#define QTY_N_SUFFIXES (sizeof(qty_suffixes) / sizeof(qty_suffixes[0]))
/* Exponents are clamped to this magnitude; beyond it nothing changes. */
#define QTY_EXP_SATURATE INT64_C(1000000000000000)
#define QTY_HINT                                                             \
    "use a number with an optional suffix (m, k, M, G, Ki, Mi, Gi, ...) or " \
    "exponent (2e3)"

/* A quantity split into its parts; the pointers point into the text. */
typedef struct qty_parts {
    const char *ip;      /* integer digits */
    size_t n_ip;
    const char *fp;      /* fraction digits */
    size_t n_fp;
    const char *suffix;  /* everything after the number */
    int64_t exp10;       /* decimal exponent of the suffix */
    int shift;           /* binary exponent of the suffix */
    bool negative;
} qty_parts;

typedef struct qty_suffix {
    const char *text;
    int exp10;
    int shift;
} qty_suffix;

static const qty_suffix qty_suffixes[] = {
    { "", 0, 0 },    { "n", -9, 0 },  { "u", -6, 0 },  { "m", -3, 0 },
    { "k", 3, 0 },   { "M", 6, 0 },   { "G", 9, 0 },   { "T", 12, 0 },
    { "P", 15, 0 },  { "E", 18, 0 },  { "Ki", 0, 10 }, { "Mi", 0, 20 },
    { "Gi", 0, 30 }, { "Ti", 0, 40 }, { "Pi", 0, 50 }, { "Ei", 0, 60 },
};

/* ------------------------------------------------------------------------ */
/* Splitting the text                                                         */
/* ------------------------------------------------------------------------ */

static bool qty_isdigit(char c)
{
    return c >= '0' && c <= '9';
}

/* Skip a run of digits starting at p; the first non-digit. */
static const char *qty_skip_digits(const char *p)
{
    while (qty_isdigit(*p))
        p++;
    return p;
}

/*
 * Parse an exponent: an optional sign and at least one digit, to the end of
 * the text. Magnitudes beyond QTY_EXP_SATURATE are clamped there: no digit
 * string that fits in memory can bring such a value back into range.
 */
static bool qty_exponent(const char *p, int64_t *exp10)
{
    bool minus = *p == '-';
    int64_t v = 0;

    if (*p == '-' || *p == '+')
        p++;
    if (!qty_isdigit(*p))
        return false;
    for (; qty_isdigit(*p); p++)
        if (v < QTY_EXP_SATURATE)
            v = v * 10 + (*p - '0');
    if (*p != '\0')
        return false;
    if (v > QTY_EXP_SATURATE)
        v = QTY_EXP_SATURATE;
    *exp10 = minus ? -v : v;
    return true;
}

/* Interpret the suffix of q: an SI or binary suffix, or an exponent. */
static bool qty_parse_suffix(qty_parts *q)
{
    const char *p = q->suffix;

    for (size_t i = 0; i < QTY_N_SUFFIXES; i++) {
        if (strcmp(p, qty_suffixes[i].text) == 0) {
            q->exp10 = qty_suffixes[i].exp10;
            q->shift = qty_suffixes[i].shift;
            return true;
        }
    }
    if (*p == 'e' || *p == 'E')
        return qty_exponent(p + 1, &q->exp10);
    return false;
}

/* Split s into sign, integer digits, fraction digits and suffix. */
static bool qty_split(const char *s, qty_parts *q)
{
    const char *p = s;

    memset(q, 0, sizeof(*q));
    if (*p == '+' || *p == '-') {
        q->negative = *p == '-';
        p++;
    }
    q->ip = p;
    p = qty_skip_digits(p);
    q->n_ip = (size_t)(p - q->ip);
    q->fp = p;
    if (*p == '.') {
        q->fp = ++p;
        p = qty_skip_digits(p);
        q->n_fp = (size_t)(p - q->fp);
    }
    q->suffix = p;
    if (q->n_ip + q->n_fp == 0)
        return false;
    return qty_parse_suffix(q);
}

/* ------------------------------------------------------------------------ */
/* Exact arithmetic                                                           */
/* ------------------------------------------------------------------------ */

/* Digit i of the digits of q, integer and fraction run together. */
static int qty_digit(const qty_parts *q, size_t i)
{
    return (i < q->n_ip ? q->ip[i] : q->fp[i - q->n_ip]) - '0';
}

/* *v = *v * m + a for non-negative operands; false when it would overflow. */
static bool qty_mul_add(int64_t *v, int64_t m, int64_t a)
{
    if (*v > (INT64_MAX - a) / m)
        return false;
    *v = *v * m + a;
    return true;
}

/* *v <<= shift for non-negative *v; false when it would overflow. */
static bool qty_shift(int64_t *v, int shift)
{
    if (*v > (INT64_MAX >> shift))
        return false;
    *v = (int64_t)((uint64_t)*v << shift);
    return true;
}

/* Accumulate digits [lo, hi] of q into *v; false on overflow. */
static bool qty_accumulate(const qty_parts *q, size_t lo, size_t hi, int64_t *v)
{
    for (size_t i = lo; i <= hi; i++)
        if (!qty_mul_add(v, 10, qty_digit(q, i)))
            return false;
    return true;
}

/* Digits [lo, hi] x 10^e x 2^shift for e >= 0: an integer. */
static bool qty_whole(const qty_parts *q, size_t lo, size_t hi, int64_t e,
                      int64_t *milli)
{
    int64_t v = 0;

    if (!qty_accumulate(q, lo, hi, &v))
        return false;
    for (int64_t k = 0; k < e; k++)     /* v >= 1: at most 19 rounds */
        if (!qty_mul_add(&v, 10, 0))
            return false;
    if (!qty_shift(&v, q->shift))
        return false;
    *milli = v;
    return true;
}

/*
 * ceil(F x 2^shift / 10^m), where F is the number formed by digits [lo, hi]
 * of q preceded by m - (hi - lo + 1) zeros (m >= hi - lo + 1) and F > 0.
 * Multiplies the decimal fraction 0.F by 2^shift from its last digit up:
 * what carries out of the first digit is the integer part, and any digit
 * left non-zero is a remainder to round up. The carry stays below 2^shift,
 * so every step fits in 64 bits.
 */
static int64_t qty_fraction_ceil(const qty_parts *q, size_t lo, size_t hi,
                                 int64_t m)
{
    uint64_t carry = 0;
    bool rest = false;
    int64_t zeros = m - (int64_t)(hi - lo + 1);

    for (size_t i = hi + 1; i-- > lo;) {
        uint64_t t = ((uint64_t)qty_digit(q, i) << q->shift) + carry;
        rest = rest || t % 10 != 0;
        carry = t / 10;
    }
    for (; zeros > 0 && carry; zeros--) {
        rest = rest || carry % 10 != 0;
        carry /= 10;
    }
    return (int64_t)carry + (rest ? 1 : 0);
}

/* Digits [lo, hi] x 10^e x 2^shift for e < 0, rounded up. */
static bool qty_fractional(const qty_parts *q, size_t lo, size_t hi, int64_t e,
                           int64_t *milli)
{
    int64_t m = -e, whole = 0, frac;
    size_t n = hi - lo + 1;

    if ((uint64_t)m < n) {
        if (!qty_accumulate(q, lo, hi - (size_t)m, &whole))
            return false;
        lo = hi - (size_t)m + 1;
    }
    if (!qty_shift(&whole, q->shift))
        return false;
    frac = qty_fraction_ceil(q, lo, hi, m);
    if (whole > INT64_MAX - frac)
        return false;
    *milli = whole + frac;
    return true;
}

/*
 * The value of digits [lo, hi] of q (lo the first and hi the last non-zero
 * digit) in milli-units, rounded up; false when it exceeds INT64_MAX.
 */
static bool qty_to_milli(const qty_parts *q, size_t lo, size_t hi,
                         int64_t *milli)
{
    size_t n = q->n_ip + q->n_fp;
    int64_t e = q->exp10 + 3 - (int64_t)q->n_fp + (int64_t)(n - 1 - hi);

    if (e >= 0)
        return qty_whole(q, lo, hi, e, milli);
    return qty_fractional(q, lo, hi, e, milli);
}

/* ------------------------------------------------------------------------ */
/* Parsing                                                                    */
/* ------------------------------------------------------------------------ */

/* Record rc and `quantity "<s>" <what>`, quoting at most QTY_SHOW_MAX bytes. */
static sp_rc qty_fail(sp_err *err, sp_rc rc, const char *s, const char *what)
{
    size_t len = strlen(s);
    int shown = len > QTY_SHOW_MAX ? QTY_SHOW_MAX : (int)len;

    return sp_err_set(err, rc, "quantity \"%.*s%s\" %s", shown, s,
                      len > QTY_SHOW_MAX ? "..." : "", what);
}

/* The message for text that does not follow the grammar. */
static sp_rc qty_malformed(const char *s, const qty_parts *q, sp_err *err)
{
    if (strpbrk(s, " \t\n\r\v\f"))
        return qty_fail(err, SP_EPARSE, s,
                        "contains white space: remove it (\"128Mi\", not "
                        "\"128 Mi\")");
    if (q->n_ip + q->n_fp > 0 && strcmp(q->suffix, "K") == 0)
        return qty_fail(err, SP_EPARSE, s,
                        "is malformed: the suffix for 1000 is lowercase \"k\" "
                        "(and \"Ki\" for 1024)");
    return qty_fail(err, SP_EPARSE, s, "is malformed: " QTY_HINT);
}

/*
 * Parse s into *milli (0 on any error). SP_EPARSE for empty or malformed
 * text, SP_ELIMIT for a negative value or one over INT64_MAX milli-units;
 * err (may be NULL) gets a message that quotes s and says what to write.
 */
sp_rc place_quantity_parse(const char *s, int64_t *milli, sp_err *err)
{
    qty_parts q;
    size_t n, lo, hi;

    *milli = 0;
    if (!s || !*s)
        return sp_err_set(err, SP_EPARSE, "quantity is empty: %s", QTY_HINT);
    if (!qty_split(s, &q))
        return qty_malformed(s, &q, err);
    n = q.n_ip + q.n_fp;
    for (lo = 0; lo < n && qty_digit(&q, lo) == 0; lo++)
        ;
    if (lo == n)
        return SP_OK;                   /* zero, whatever its sign and suffix */
    if (q.negative)
        return qty_fail(err, SP_ELIMIT, s,
                        "is negative: quantities must not be negative; use 0 "
                        "or more");
    for (hi = n - 1; qty_digit(&q, hi) == 0; hi--)
        ;
    if (!qty_to_milli(&q, lo, hi, milli))
        return qty_fail(err, SP_ELIMIT, s,
                        "is too large: the limit is 9223372036854775807m "
                        "(about 9.2e15 whole units); use a smaller value");
    return SP_OK;
}

/* ------------------------------------------------------------------------ */
/* Formatting                                                                 */
/* ------------------------------------------------------------------------ */

/* ceil(milli / 1000): whole units, never fewer than the milli-units need. */
int64_t place_milli_to_units(int64_t milli)
{
    /* Division truncates toward zero, which is already the ceiling below 0. */
    return milli / 1000 + (milli > 0 && milli % 1000 != 0 ? 1 : 0);
}

/* Empty buf when snprintf failed or truncated: a cut number would mislead. */
static void qty_check_fit(int n, char *buf, size_t len)
{
    if (n < 0 || (size_t)n >= len)
        buf[0] = '\0';
}

/*
 * Whole cores as a plain number ("2"), anything else in milli-cores
 * ("1500m", "500m"). buf is left empty when len is too small for the text.
 */
void place_format_cpu(int64_t milli, char *buf, size_t len)
{
    int n;

    if (!len)
        return;
    if (milli % 1000 == 0)
        n = snprintf(buf, len, "%" PRId64, milli / 1000);
    else
        n = snprintf(buf, len, "%" PRId64 "m", milli);
    qty_check_fit(n, buf, len);
}

/*
 * Below 1Ki (and negative values) as plain bytes ("1000"). Otherwise in U,
 * the largest binary unit not above the value: exact when U divides it
 * ("512Mi", "8Gi", "1Ki"), else with one decimal, truncated ("1.5Gi" for
 * 1610612736, "1.9Ki" for 2047), so an approximate figure never overstates.
 * buf is left empty when len is too small for the text.
 */
void place_format_bytes(int64_t bytes, char *buf, size_t len)
{
    static const char *const units[] = { "Ki", "Mi", "Gi", "Ti", "Pi", "Ei" };
    int n, u = -1;
    uint64_t unit, rem;

    if (!len)
        return;
    while (u + 1 < 6 && bytes >= (int64_t)1 << (10 * (u + 2)))
        u++;
    if (u < 0) {
        qty_check_fit(snprintf(buf, len, "%" PRId64, bytes), buf, len);
        return;
    }
    unit = (uint64_t)1 << (10 * (u + 1));
    rem = (uint64_t)bytes % unit;
    if (rem == 0)
        n = snprintf(buf, len, "%" PRIu64 "%s", (uint64_t)bytes / unit,
                     units[u]);
    else
        n = snprintf(buf, len, "%" PRIu64 ".%" PRIu64 "%s",
                     (uint64_t)bytes / unit, rem * 10 / unit, units[u]);
    qty_check_fit(n, buf, len);
}
