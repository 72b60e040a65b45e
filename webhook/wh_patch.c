/*
 * JSONPatch (RFC 6902) as the mutating webhook writes it: operations
 * appended to a cJSON array, JSON Pointers (RFC 6901) built segment by
 * segment with '~' and '/' escaped, the spelling of existing members kept
 * (input keys match case-insensitively, a pointer does not), and the base64
 * that AdmissionReview carries the patch in.
 */
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "kobj/kobj_json.h"
#include "util/sp_alloc.h"
#include "webhook/wh_internal.h"

sp_rc wh_patch_op(cJSON **patch, const char *op, const char *path,
                  cJSON *value)
{
    cJSON *item = value ? cJSON_CreateObject() : NULL;

    if (!item || !cJSON_AddStringToObject(item, "op", op) ||
        !cJSON_AddStringToObject(item, "path", path))
        goto fail;
    if (!cJSON_AddItemToObject(item, "value", value))
        goto fail;
    value = NULL;                       /* the item owns it now */
    if (!*patch && !(*patch = cJSON_CreateArray()))
        goto fail;
    if (!cJSON_AddItemToArray(*patch, item))
        goto fail;
    return SP_OK;
fail:
    cJSON_Delete(value);
    cJSON_Delete(item);
    return SP_ENOMEM;
}

sp_rc wh_path_seg(sp_buf *b, const char *seg)
{
    sp_rc rc = sp_buf_append(b, "/", 1);

    for (const char *p = seg; !rc && *p; p++) {
        if (*p == '~')
            rc = sp_buf_append(b, "~0", 2);
        else if (*p == '/')
            rc = sp_buf_append(b, "~1", 2);
        else
            rc = sp_buf_append(b, p, 1);
    }
    return rc;
}

sp_rc wh_path_index(sp_buf *b, size_t i)
{
    return sp_buf_printf(b, "/%zu", i);
}

void wh_path_cut(sp_buf *b, size_t len)
{
    if (b->data && len <= b->len) {
        b->len = len;
        b->data[len] = '\0';
    }
}

const char *wh_member(const cJSON *obj, const char *name)
{
    const cJSON *v = kobj_member(obj, name);

    return v && v->string ? v->string : name;
}

const char *wh_member_op(const cJSON *obj, const char *name)
{
    const cJSON *v = kobj_member(obj, name);

    return v && !cJSON_IsNull(v) ? "replace" : "add";
}

sp_rc wh_base64(const void *data, size_t len, char **out)
{
    size_t need;
    char *b64;

    *out = NULL;
    /* EVP_EncodeBlock counts in int */
    if (len > (size_t)INT_MAX / 4 * 3 - 3)
        return SP_ELIMIT;
    need = (len + 2) / 3 * 4 + 1;
    b64 = sp_malloc(need);
    if (!b64)
        return SP_ENOMEM;
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)data, (int)len);
    *out = b64;
    return SP_OK;
}
