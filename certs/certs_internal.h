/*
 * What the files of the certs module share and nothing outside certs/ may
 * use: OpenSSL's error queue turned into an sp_err, PEM text to and from
 * OpenSSL objects, ASN.1 times as unix seconds, and the file primitives
 * (bounded reads that check a private key's mode, directories created
 * private). certs_pem.c and certs_file.c implement them.
 */
#ifndef SP_CERTS_INTERNAL_H
#define SP_CERTS_INTERNAL_H

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdint.h>

#include "certs/certs.h"
#include "util/sp_error.h"

#define CERTS_MAX_FILE_BYTES (1u << 20) /* a certificate or key file larger is refused */
#define CERTS_MAX_CN 64                 /* ub-common-name (RFC 5280) */
#define CERTS_MAX_DNS_NAME 253          /* bytes of a DNS name */
#define CERTS_MAX_DNS_LABEL 63          /* bytes of one of its labels */

/*
 * Record rc and "<fmt...>: <OpenSSL's error queue>" in err, empty the queue,
 * and return rc. An allocation failure reported by OpenSSL turns rc into
 * SP_ENOMEM.
 */
sp_rc certs_ssl_fail(sp_err *err, sp_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The first certificate in pem (*out: free with X509_free). SP_EPARSE
 * names `what` (a path or "the CA certificate"). */
/* A pem_password_cb that never prompts: nothing we read is encrypted, and an
 * encrypted key is refused rather than waiting on a terminal. */
int certs_no_passphrase(char *buf, int size, int rwflag, void *u);

sp_rc certs_x509_from_pem(const char *pem, const char *what, X509 **out,
                          sp_err *err) __attribute__((warn_unused_result));

/* The private key in pem, unencrypted (*out: free with EVP_PKEY_free). */
sp_rc certs_key_from_pem(const char *pem, const char *what, EVP_PKEY **out,
                         sp_err *err) __attribute__((warn_unused_result));

/* PEM text of x and of key (PKCS#8, unencrypted); *out owned (sp_free; a
 * key with certs_free_secret). */
sp_rc certs_x509_to_pem(X509 *x, char **out, sp_err *err)
    __attribute__((warn_unused_result));
sp_rc certs_key_to_pem(EVP_PKEY *key, char **out, sp_err *err)
    __attribute__((warn_unused_result));

/* The content of a memory BIO as an owned string (sp_free; "" when empty). */
sp_rc certs_bio_string(BIO *bio, char **out, sp_err *err)
    __attribute__((warn_unused_result));

/* Wipe and free a NUL-terminated secret (key PEM). s may be NULL. */
void certs_free_secret(char *s);

/* t as seconds since the epoch (UTC). */
sp_rc certs_time_to_unix(const ASN1_TIME *t, int64_t *out, sp_err *err)
    __attribute__((warn_unused_result));

/* True when s is a DNS name a certificate may carry: labels of letters,
 * digits and '-' (not at either end), optionally "*." first. */
bool certs_valid_dns_name(const char *s);

/* "dir/base" followed by ext (which may be ""); NULL when memory runs out. */
char *certs_path_join(const char *dir, const char *base, const char *ext);

/*
 * Read the file at path into *data (NUL-terminated; owned: sp_free, or
 * certs_free_secret for a key). With is_key, a file that group or others may
 * access is refused (SP_EINVAL) with the fix in the message. SP_ENOTFOUND
 * when it does not exist, SP_ELIMIT over CERTS_MAX_FILE_BYTES, SP_EIO.
 */
sp_rc certs_read_file(const char *path, bool is_key, char **data, sp_err *err)
    __attribute__((warn_unused_result));

/* Create dir and any missing parents, each mode 0700 (mkdir -p). An existing
 * directory is left as it is. */
sp_rc certs_mkdir_p(const char *dir, sp_err *err) __attribute__((warn_unused_result));

/* True when path names something (stat(2) succeeds). */
bool certs_exists(const char *path);

#endif /* SP_CERTS_INTERNAL_H */
