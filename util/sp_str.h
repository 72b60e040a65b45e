/*
 * Small string helpers for parsing input that comes from users and the
 * network: strict integer parsing (no atoi), comma-separated id lists, the
 * bytes a JSON string must escape, and a seeded pseudo-random generator for
 * deterministic tie-breaking and tests.
 */
#ifndef SP_STR_H
#define SP_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/sp_error.h"

/* Bytes a JSON string cannot hold as they are: control bytes, '"', '\\'. */
static inline bool sp_json_escaped(unsigned char ch)
{
    return ch < 0x20 || ch == '"' || ch == '\\';
}

/* The bytes of w that sp_json_escaped names, as their high bits (the classic
 * "has a byte less than n" and "has a zero byte" word tricks, which may also
 * flag bytes above a flagged one, never below): 0 when there are none. Plain
 * string bytes go eight at a time. */
static inline uint64_t sp_json_word_escaped(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t quote = w ^ (ones * '"'), backslash = w ^ (ones * '\\');

    return (((w - ones * 0x20) & ~w) | ((quote - ones) & ~quote) |
            ((backslash - ones) & ~backslash)) & highs;
}

/* How many of the 8 bytes at p come before the first one sp_json_escaped
 * names: 8 when none is. */
static inline size_t sp_json_plain_run8(const char *p)
{
    uint64_t w, flags;

    memcpy(&w, p, 8);
    flags = sp_json_word_escaped(w);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return flags ? (size_t)__builtin_ctzll(flags) >> 3 : 8;
#else
    for (size_t i = 0; flags && i < 8; i++)
        if (sp_json_escaped((unsigned char)p[i]))
            return i;
    return 8;
#endif
}

/*
 * Parse the whole of s as a base-10 integer in [min, max]. Leading '+' is
 * allowed, white space is not. SP_EPARSE when s is not an integer, SP_ELIMIT
 * when it is out of range.
 */
sp_rc sp_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
    __attribute__((warn_unused_result));

/*
 * Split a comma-separated list into trimmed, non-empty, de-duplicated items,
 * in order of first appearance. *items is an array of *count strings, each
 * and the array owned by the caller (free with sp_strv_free). An empty item
 * ("a,,b") is SP_EPARSE with *bad_index set to its 0-based position.
 */
sp_rc sp_split_csv(const char *s, char ***items, size_t *count, size_t *bad_index)
    __attribute__((warn_unused_result));

/* Free an array of n owned strings and the array. v may be NULL. */
void sp_strv_free(char **v, size_t n);

/* True when a and b are equal ignoring ASCII case. */
bool sp_strcaseeq(const char *a, const char *b);

/* xorshift64* generator: deterministic for a given seed (seed 0 is remapped). */
typedef struct sp_rng {
    uint64_t state;
} sp_rng;

void sp_rng_seed(sp_rng *r, uint64_t seed);
uint64_t sp_rng_next(sp_rng *r);
/* Uniform in [0, n); n must be > 0. */
uint64_t sp_rng_below(sp_rng *r, uint64_t n);

#endif /* SP_STR_H */
