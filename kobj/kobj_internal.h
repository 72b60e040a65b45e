/*
 * Pieces shared by the kobj converters (Node, Pod, HostPool, lists): string
 * maps and string arrays borrowed from the tree, quantities, kinds and
 * metadata. Nothing outside kobj/ includes this header.
 */
#ifndef SP_KOBJ_INTERNAL_H
#define SP_KOBJ_INTERNAL_H

#include "kobj/kobj.h"
#include "kobj/kobj_json.h"

/*
 * obj[key], an object whose values are strings (labels, annotations), as an
 * array of *n borrowed pairs in *out (owned; sp_free it). Absent: NULL, 0.
 */
sp_rc kobj_read_kv(const cJSON *obj, const char *parent, const char *key,
                   place_kv **out, size_t *n, sp_err *err)
    __attribute__((warn_unused_result));

/* obj[key], an array of strings, as an owned array of borrowed strings. */
sp_rc kobj_read_strv(const cJSON *obj, const char *parent, const char *key,
                     const char ***out, size_t *n, sp_err *err)
    __attribute__((warn_unused_result));

/*
 * obj[key], a Kubernetes quantity (a string, or a JSON number as YAML
 * writes it), in thousandths of its unit. *present says whether it is there.
 */
sp_rc kobj_read_quantity(const cJSON *obj, const char *parent, const char *key,
                         int64_t *milli, bool *present, sp_err *err)
    __attribute__((warn_unused_result));

/*
 * Check that obj is an object of the given kind: "kind", when present, must
 * equal it; with group non-NULL, "apiVersion", when present, must be in that
 * API group. parent is obj's path for messages.
 */
sp_rc kobj_check_kind(const cJSON *obj, const char *parent, const char *kind,
                      const char *group, sp_err *err)
    __attribute__((warn_unused_result));

/* metadata.name, metadata.namespace (default_ns when absent; NULL: an error
 * then) and the metadata object itself. *name may come back NULL only when
 * allow_no_name. */
typedef struct kobj_meta {
    const cJSON *metadata;
    const char *name;
    const char *namespace_;
    const char *generate_name;
    const char *uid;
} kobj_meta;

sp_rc kobj_read_meta(const cJSON *obj, const char *default_ns,
                     bool namespaced, bool allow_no_name, kobj_meta *m,
                     sp_err *err) __attribute__((warn_unused_result));

#endif /* SP_KOBJ_INTERNAL_H */
