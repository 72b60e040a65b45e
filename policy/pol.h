/*
 * The policy: how streams-placer behaves in one cluster, from the JSON
 * document under the key policy.json of its ConfigMap (or a local file). It
 * is parsed whole and strictly, so that a live reload either takes the new
 * policy as written or keeps the old one and says exactly why:
 *   - field names match case-insensitively (as Go's decoder does); a JSON
 *     null is the same as an absent field, which takes its default;
 *   - an unknown field is an ERROR, not a warning, naming it and the closest
 *     known field: a silently ignored typo ("isolationScop") would leave the
 *     placer doing something other than what the operator believes;
 *   - the same field twice ("mode" and "Mode") is an error;
 *   - every error names the field, the bad value and the allowed values.
 *
 * Fields (JSON, camelCase), with their defaults:
 *   tagLabelPrefix        "tag.streams.io/"  a label-key prefix ending in '/'
 *   defaultHostPool       none               HostPool for PEs that name none
 *   isolationScope        "cluster"          "cluster" | "job"
 *   balancing             "balancedInstance" "balancedInstance" | "balancedJob"
 *   reservationTTLSeconds 30                 1..3600
 *   schedulerName         none               set on PE pods when given
 *   mode                  "enforce"          "enforce" | "audit"
 *   gangWait              false
 *   namespaces            [] (all)           namespaces whose PEs are managed
 *   releasedPlacementTTLSeconds 3600         0..2592000 (30 days)
 */
#ifndef SP_POL_H
#define SP_POL_H

#include <stdbool.h>
#include <stddef.h>

#include "placement/place.h"
#include "util/sp_error.h"

#define POL_MAX_BYTES (1u << 20)        /* a ConfigMap holds at most 1 MiB */
#define POL_DEFAULT_RESERVATION_TTL 30  /* seconds */
#define POL_MAX_RESERVATION_TTL 3600    /* seconds */
#define POL_DEFAULT_RELEASED_TTL 3600   /* seconds */
#define POL_MAX_RELEASED_TTL 2592000    /* seconds: 30 days */
#define POL_MAX_NAMESPACES 1000         /* entries of namespaces */

typedef enum pol_mode {
    POL_MODE_ENFORCE, /* constraints are enforced */
    POL_MODE_AUDIT,   /* constraints are evaluated and reported only */
} pol_mode;

/* A parsed policy. Read the fields; create and free only through pol_*. */
typedef struct pol_policy {
    char *tag_prefix;               /* never NULL */
    char *default_pool;             /* NULL: none */
    place_isolation_scope isolation_scope;
    place_balancing balancing;
    int reservation_ttl_s;
    char *scheduler_name;           /* NULL: leave schedulerName alone */
    pol_mode mode;
    bool gang_wait;
    char **namespaces;              /* de-duplicated; empty: every namespace */
    size_t n_namespaces;
    int released_ttl_s;
} pol_policy;

/* A policy with every default in *out; free with pol_free. SP_ENOMEM. */
sp_rc pol_default(pol_policy **out) __attribute__((warn_unused_result));

/*
 * Parse len bytes of policy JSON (an object; an empty object is all
 * defaults). On success *out is the caller's, to free with pol_free; on
 * failure *out is NULL and err names the field, the value and the fix.
 */
sp_rc pol_parse(const char *json, size_t len, pol_policy **out, sp_err *err)
    __attribute__((warn_unused_result));

/*
 * Every error in a policy document, for `streams-placer policy check`: the
 * first max of them in errs, *n_errs how many there are in all (0: the
 * policy is good). Returns the code of the first error, or SP_OK.
 */
sp_rc pol_check(const char *json, size_t len, sp_err *errs, size_t max, size_t *n_errs)
    __attribute__((warn_unused_result));

void pol_free(pol_policy *p);

/* The engine's part of p, its strings borrowed from p. */
void pol_to_place(const pol_policy *p, place_policy *out);

/* True when PEs of namespace ns are managed under p (p NULL: all are). */
bool pol_namespace_managed(const pol_policy *p, const char *ns);

/* The JSON names of the enums, for messages and output. */
const char *pol_mode_name(pol_mode m);
const char *pol_isolation_scope_name(place_isolation_scope s);
const char *pol_balancing_name(place_balancing b);

#endif /* SP_POL_H */
