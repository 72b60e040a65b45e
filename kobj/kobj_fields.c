/*
 * Field readers shared by the kobj converters (kobj_internal.h): string maps,
 * string arrays, quantities, kind checks and object metadata, each naming
 * the field by its path when the input is not what Kubernetes would send.
 */
#include "kobj/kobj_internal.h"

#include <stdio.h>
#include <string.h>

#include "util/sp_alloc.h"

sp_rc kobj_read_kv(const cJSON *obj, const char *parent, const char *key,
                   place_kv **out, size_t *n, sp_err *err)
{
    char path[KOBJ_PATH_MAX], item[KOBJ_PATH_MAX];
    const cJSON *map, *v;
    place_kv *kv = NULL;
    size_t count = 0;
    sp_rc rc;

    *out = NULL;
    *n = 0;
    rc = kobj_get_object(obj, parent, key, &map, err);
    if (rc || !map)
        return rc;
    kobj_path(path, sizeof(path), parent, key);
    cJSON_ArrayForEach(v, map)
        count++;
    if (!count)
        return SP_OK;
    kv = sp_calloc(count, sizeof(*kv));
    if (!kv)
        return sp_err_set(err, SP_ENOMEM, "%s: out of memory", path);
    count = 0;
    cJSON_ArrayForEach(v, map) {
        if (!cJSON_IsString(v)) {
            kobj_path_key(item, sizeof(item), path, v->string);
            sp_free(kv);
            return kobj_type_error(err, item, "a string", v);
        }
        kv[count].key = v->string;
        kv[count].value = v->valuestring;
        count++;
    }
    *out = kv;
    *n = count;
    return SP_OK;
}

sp_rc kobj_read_strv(const cJSON *obj, const char *parent, const char *key,
                     const char ***out, size_t *n, sp_err *err)
{
    char path[KOBJ_PATH_MAX], item[KOBJ_PATH_MAX];
    const cJSON *arr, *v;
    const char **strs;
    size_t count = 0;
    sp_rc rc;

    *out = NULL;
    *n = 0;
    rc = kobj_get_array(obj, parent, key, &arr, err);
    if (rc || !arr)
        return rc;
    kobj_path(path, sizeof(path), parent, key);
    cJSON_ArrayForEach(v, arr)
        count++;
    if (!count)
        return SP_OK;
    strs = sp_calloc(count, sizeof(*strs));
    if (!strs)
        return sp_err_set(err, SP_ENOMEM, "%s: out of memory", path);
    count = 0;
    cJSON_ArrayForEach(v, arr) {
        if (!cJSON_IsString(v)) {
            kobj_path_index(item, sizeof(item), path, count);
            sp_free(strs);
            return kobj_type_error(err, item, "a string", v);
        }
        strs[count++] = v->valuestring;
    }
    *out = strs;
    *n = count;
    return SP_OK;
}

/* The text of a quantity given as a JSON number, as YAML `cpu: 2` is. */
static sp_rc number_text(const cJSON *v, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%.15g", v->valuedouble);

    return n < 0 || (size_t)n >= len ? SP_EPARSE : SP_OK;
}

sp_rc kobj_read_quantity(const cJSON *obj, const char *parent, const char *key,
                         int64_t *milli, bool *present, sp_err *err)
{
    const cJSON *v = kobj_member(obj, key);
    char path[KOBJ_PATH_MAX], num[64];
    const char *text;
    sp_rc rc;

    *present = false;
    *milli = 0;
    if (!v || cJSON_IsNull(v))
        return SP_OK;
    kobj_path(path, sizeof(path), parent, key);
    if (cJSON_IsString(v)) {
        text = v->valuestring;
    } else if (cJSON_IsNumber(v) && number_text(v, num, sizeof(num)) == SP_OK) {
        text = num;
    } else {
        return kobj_type_error(err, path,
                               "a quantity such as \"500m\" or \"1Gi\"", v);
    }
    /* the engine's message quotes the value and says how to fix it */
    rc = place_quantity_parse(text, milli, err);
    if (rc) {
        sp_err_prefix(err, "%s", path);
        return rc;
    }
    *present = true;
    return SP_OK;
}

/* True when apiVersion names API group group ("group/version"). */
static bool in_group(const char *api_version, const char *group)
{
    size_t n = strlen(group);

    return strncmp(api_version, group, n) == 0 && api_version[n] == '/';
}

sp_rc kobj_check_kind(const cJSON *obj, const char *parent, const char *kind,
                      const char *group, sp_err *err)
{
    char path[KOBJ_PATH_MAX], what[96];
    const char *k, *api;
    sp_rc rc;

    if (!cJSON_IsObject(obj)) {
        if (snprintf(what, sizeof(what), "a %s object", kind) < 0)
            what[0] = '\0';
        return kobj_type_error(err, parent, what, obj);
    }
    rc = kobj_get_string(obj, parent, "kind", &k, err);
    if (!rc && k && strcmp(k, kind) != 0) {
        kobj_path(path, sizeof(path), parent, "kind");
        if (snprintf(what, sizeof(what), "\"%s\"", kind) < 0)
            what[0] = '\0';
        rc = kobj_type_error(err, path, what, kobj_member(obj, "kind"));
    }
    if (rc || !group)
        return rc;
    rc = kobj_get_string(obj, parent, "apiVersion", &api, err);
    if (!rc && api && !in_group(api, group)) {
        kobj_path(path, sizeof(path), parent, "apiVersion");
        if (snprintf(what, sizeof(what), "\"%s/<version>\"", group) < 0)
            what[0] = '\0';
        rc = kobj_type_error(err, path, what,
                             kobj_member(obj, "apiVersion"));
    }
    return rc;
}

/* A string field where "" means absent, as Go's omitempty writes it. */
static sp_rc get_nonempty(const cJSON *obj, const char *parent, const char *key,
                          const char **out, sp_err *err)
{
    sp_rc rc = kobj_get_string(obj, parent, key, out, err);

    if (!rc && *out && !**out)
        *out = NULL;
    return rc;
}

sp_rc kobj_read_meta(const cJSON *obj, const char *default_ns,
                     bool namespaced, bool allow_no_name, kobj_meta *m,
                     sp_err *err)
{
    sp_rc rc;

    memset(m, 0, sizeof(*m));
    rc = kobj_get_object(obj, "", "metadata", &m->metadata, err);
    if (!rc)
        rc = get_nonempty(m->metadata, "metadata", "name", &m->name, err);
    if (!rc)
        rc = get_nonempty(m->metadata, "metadata", "generateName",
                          &m->generate_name, err);
    if (!rc && namespaced)
        rc = get_nonempty(m->metadata, "metadata", "namespace",
                          &m->namespace_, err);
    if (!rc)
        rc = get_nonempty(m->metadata, "metadata", "uid", &m->uid, err);
    if (rc)
        return rc;
    if (!m->name && allow_no_name)
        m->name = m->generate_name;
    if (!m->name)
        return sp_err_set(err, SP_EPARSE,
                          "metadata.name: missing; every object needs a name");
    if (namespaced && !m->namespace_)
        m->namespace_ = default_ns;
    if (namespaced && !m->namespace_)
        return sp_err_set(err, SP_EPARSE,
                          "metadata.namespace: missing; give the object's "
                          "namespace");
    return SP_OK;
}
