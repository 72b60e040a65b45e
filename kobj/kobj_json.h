/*
 * Typed access to JSON fields for every edge that reads Kubernetes-style
 * input (objects, AdmissionReview, ExtenderArgs, the policy): get a field as
 * an object, array, string, bool or integer, where absent and null are the
 * same ("not given"), a wrong type is an error that names the field by its
 * path, says what it must be and shows what it got, and keys match
 * case-insensitively as in Go's decoder. Also the little pieces those
 * messages are built from: paths ("spec.containers[0]"), quoting of hostile
 * values (escaped, truncated) and JSON type names.
 *
 * Messages read `<path>: must be <what is allowed>, got <value>`.
 */
#ifndef SP_KOBJ_JSON_H
#define SP_KOBJ_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/sp_error.h"

#define KOBJ_PATH_MAX 256   /* bytes of a field path kept for messages */
#define KOBJ_QUOTE_MAX 96   /* bytes of a quoted value in messages */

/*
 * The member key of obj as Go's decoder finds it: the member named exactly
 * key, else the first whose name differs only in ASCII case; NULL when
 * there is none or obj is not an object. (cJSON_GetObjectItem takes the
 * first case-insensitive match, which need not be the exact one, and folds
 * every byte of every name it passes.)
 */
const cJSON *kobj_member(const cJSON *obj, const char *key);

/* kobj_member, with a null value taken as absent (NULL). */
const cJSON *kobj_field(const cJSON *obj, const char *key);

/* "a string", "a number", "an object", ... for messages. */
const char *kobj_json_type(const cJSON *v);

/*
 * Write s into buf as a double-quoted string for a message: quotes,
 * backslashes and control bytes escaped, cut with "..." to fit len (at most
 * KOBJ_QUOTE_MAX is sensible). Never fails; buf is always terminated.
 */
void kobj_quote(const char *s, char *buf, size_t len);

/* Describe a JSON value for a message: `a string ("abc")`, `a number (4)`,
 * `an object`, `null`, `true`. */
void kobj_json_describe(const cJSON *v, char *buf, size_t len);

/* buf = parent "." key (just key when parent is empty); cut with "..." when
 * it does not fit. */
void kobj_path(char *buf, size_t len, const char *parent, const char *key);
/* buf = parent "[" i "]". */
void kobj_path_index(char *buf, size_t len, const char *parent, size_t i);
/* buf = parent "[" quoted key "]", for map entries (labels, annotations). */
void kobj_path_key(char *buf, size_t len, const char *parent, const char *key);

/*
 * Set err to "<path>: must be <what>, got <description of v>" and return
 * SP_EPARSE. path is the field's full path.
 */
sp_rc kobj_type_error(sp_err *err, const char *path, const char *what,
                      const cJSON *v);

/*
 * The field key of obj (case-insensitive). *out is NULL when it is absent or
 * null; otherwise it must have the type asked for. parent is obj's path for
 * messages ("" at the top). SP_EPARSE on a wrong type.
 */
sp_rc kobj_get_object(const cJSON *obj, const char *parent, const char *key,
                      const cJSON **out, sp_err *err)
    __attribute__((warn_unused_result));
sp_rc kobj_get_array(const cJSON *obj, const char *parent, const char *key,
                     const cJSON **out, sp_err *err)
    __attribute__((warn_unused_result));
/* The string is borrowed from the tree. */
sp_rc kobj_get_string(const cJSON *obj, const char *parent, const char *key,
                      const char **out, sp_err *err)
    __attribute__((warn_unused_result));
/* *out keeps its value when the field is not given; *present (may be NULL)
 * says whether it was. */
sp_rc kobj_get_bool(const cJSON *obj, const char *parent, const char *key,
                    bool *out, bool *present, sp_err *err)
    __attribute__((warn_unused_result));
/* An integral JSON number in [min, max]; otherwise SP_EPARSE naming the
 * range. */
sp_rc kobj_get_int(const cJSON *obj, const char *parent, const char *key,
                   int64_t min, int64_t max, int64_t *out, bool *present,
                   sp_err *err) __attribute__((warn_unused_result));

/*
 * Put the path base in front of the message in err, so that a message about
 * an object ("spec.size: ...") becomes one about where the object sits
 * ("items[3].spec.size: ..."). A message that starts with one of the object
 * root fields (metadata, spec, status, kind, apiVersion, items) is joined
 * with '.', any other with ": ". err may be NULL.
 */
void kobj_prefix_path(sp_err *err, const char *base);

/*
 * A JSON number that is an integer in [min, max] (v must be a number).
 * False for fractions, infinities and values out of range.
 */
bool kobj_number_is_int(const cJSON *v, int64_t min, int64_t max,
                        int64_t *out);

#endif /* SP_KOBJ_JSON_H */
