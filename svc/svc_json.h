/*
 * Pod objects as the service keeps them: compact JSON text (what the store
 * holds) and a keyed 64-bit digest of that text (SipHash-1-3), so that a
 * pod that comes back unchanged (an admission replayed, a relist) is told
 * from a changed one at the cost of printing it, not of converting and
 * storing it again. The printer writes into a buffer the caller reuses, at
 * a fraction of the cost of cJSON's own. The digest key is random per
 * service, so that nobody can craft a changed pod that passes for the
 * stored one. Internal to svc/.
 */
#ifndef SP_SVC_JSON_H
#define SP_SVC_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "util/sp_error.h"

#define SVC_JSON_MAX (1u << 30) /* bytes of printed text */

typedef struct svc_digest_key {
    uint64_t k0, k1;
} svc_digest_key;

/* A new random key (getrandom). SP_EIO with the cause in err when the
 * system gives no random bytes. */
sp_rc svc_digest_key_new(svc_digest_key *key, sp_err *err)
    __attribute__((warn_unused_result));

/* Printed text, NUL-terminated; the allocation is kept from one print to
 * the next. Zero-initialise; free with svc_json_text_free. */
typedef struct svc_json_text {
    char *data;
    size_t len, cap;
} svc_json_text;

/*
 * Replace t's text with obj as compact JSON that parses back to the same
 * tree (members in their order, numbers exact), less the member at the
 * path omit, if any: member names from obj down, NULL-terminated (NULL:
 * nothing left out). Equal trees print equal text and different ones
 * different text, outside what is left out. SP_ENOMEM, or SP_ELIMIT over
 * SVC_JSON_MAX bytes.
 */
sp_rc svc_json_print(svc_json_text *t, const cJSON *obj, const char *const *omit)
    __attribute__((warn_unused_result));
void svc_json_text_free(svc_json_text *t);

/* The digest of len bytes under key. */
uint64_t svc_digest(const svc_digest_key *key, const void *data, size_t len);

#endif /* SP_SVC_JSON_H */
