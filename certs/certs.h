/*
 * Serving certificates with OpenSSL 3 (EVP API only): a CA and a serving
 * certificate signed by it whose SANs cover the Service's DNS names and any
 * IPs, written as PEM files (keys 0600) and read back with their permissions
 * checked. The standalone server uses it to create a self-signed pair on
 * first start; `streams-placer certs` exposes it to operators.
 */
#ifndef SP_CERTS_H
#define SP_CERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/sp_error.h"

typedef enum certs_key_type {
    CERTS_KEY_ECDSA_P256,  /* the default */
    CERTS_KEY_RSA_2048,
} certs_key_type;

/* A certificate and its private key, PEM-encoded; both owned. */
typedef struct certs_pair {
    char *cert_pem;
    char *key_pem;
} certs_pair;

typedef struct certs_spec {
    const char *common_name;
    const char *const *dns;     /* subjectAltName DNS entries */
    size_t n_dns;
    const char *const *ips;     /* subjectAltName IP entries (v4 or v6 text) */
    size_t n_ips;
    int days;                   /* validity from now; 0: the default (365) */
    certs_key_type key_type;
} certs_spec;

/* The DNS names of a Service: svc, svc.ns, svc.ns.svc,
 * svc.ns.svc.cluster.local. *names is 4 owned strings (sp_strv_free).
 * SP_EINVAL when service or ns is not a Kubernetes name label. */
sp_rc certs_service_names(const char *service, const char *ns, char ***names,
                          size_t *n) __attribute__((warn_unused_result));

/* A new self-signed CA (basicConstraints CA:TRUE, keyCertSign). */
sp_rc certs_make_ca(const certs_spec *spec, certs_pair *out, sp_err *err)
    __attribute__((warn_unused_result));

/* A serving certificate (serverAuth, SANs from spec) signed by ca. Its
 * notAfter is capped at the CA's: it never outlives the CA. */
sp_rc certs_make_serving(const certs_pair *ca, const certs_spec *spec,
                         certs_pair *out, sp_err *err)
    __attribute__((warn_unused_result));

/* Write dir/NAME.crt (0644 less the umask) and dir/NAME.key (created 0600),
 * each atomically (temporary file, fsync, rename); both temporaries are
 * written before either rename, and none is left behind on failure. */
sp_rc certs_write_pair(const char *dir, const char *name, const certs_pair *pair,
                       sp_err *err) __attribute__((warn_unused_result));

/*
 * Read a certificate and its key (symbolic links followed, as in a mounted
 * Secret). The key file is refused (SP_EINVAL, the message names the path,
 * the mode and the chmod that fixes it) when group or others have any access
 * to it, and the two must belong together. Files over 1 MiB are refused.
 */
sp_rc certs_load_pair(const char *cert_path, const char *key_path, certs_pair *out,
                      sp_err *err) __attribute__((warn_unused_result));

/* Read a PEM certificate file (a bundle may follow the first certificate,
 * which is checked to parse); *pem is owned by the caller (sp_free). */
sp_rc certs_read_cert(const char *path, char **pem, sp_err *err)
    __attribute__((warn_unused_result));

/* The notAfter of the first certificate in pem, as unix seconds. */
sp_rc certs_not_after(const char *cert_pem, int64_t *unix_seconds, sp_err *err)
    __attribute__((warn_unused_result));

/* What `certs show` prints about a certificate; every string owned. */
typedef struct certs_info {
    char *subject;          /* RFC 2253: "CN=placer.streams.svc" */
    char *issuer;
    char *serial;           /* hexadecimal */
    char *key;              /* "ECDSA P-256", "RSA 2048", ... */
    bool is_ca;
    char **dns;             /* subjectAltName DNS entries */
    size_t n_dns;
    char **ips;             /* subjectAltName IP entries, as text */
    size_t n_ips;
    int64_t not_before;     /* unix seconds */
    int64_t not_after;
} certs_info;

/* Describe the first certificate in pem (free *out with certs_info_free). */
sp_rc certs_describe(const char *cert_pem, certs_info *out, sp_err *err)
    __attribute__((warn_unused_result));

void certs_info_free(certs_info *info);

/*
 * The standalone default: when dir/serving.crt and serving.key exist, load
 * them; otherwise create a serving pair for localhost, 127.0.0.1 and ::1
 * (plus extra DNS names) and write it. It is signed by the CA in dir/ca.crt
 * and ca.key when both exist (so clients keep trusting it), else by a new CA
 * written there. dir is created 0700 when missing. *created says whether a
 * serving pair was made. Paths in *cert_path and *key_path are owned by the
 * caller.
 */
sp_rc certs_ensure_self_signed(const char *dir, const char *const *extra_dns,
                               size_t n_extra, certs_pair *out, char **cert_path,
                               char **key_path, bool *created, sp_err *err)
    __attribute__((warn_unused_result));

void certs_pair_free(certs_pair *pair);

/* ------------------------------------------------------------------------ */
/* Bundles, checks and dates (certs_bundle.c)                                 */
/* ------------------------------------------------------------------------ */

#define CERTS_MAX_BUNDLE 64 /* certificates in one trust bundle */

/*
 * Split a PEM bundle (concatenated certificates, as in a ca.crt or a
 * caBundle) into its certificates, each re-encoded as PEM. Text between the
 * blocks and blocks of other types are skipped. *certs: *n owned strings
 * (sp_strv_free). SP_EPARSE (naming `what`) when the bundle holds no
 * certificate or a malformed one; SP_ELIMIT over CERTS_MAX_BUNDLE.
 */
sp_rc certs_bundle_split(const char *pem, const char *what, char ***certs, size_t *n,
                         sp_err *err) __attribute__((warn_unused_result));

/* *yes when ca_pem names the issuer of cert_pem and its key verifies the
 * signature (the first certificate of each). SP_EPARSE when either is not a
 * certificate. */
sp_rc certs_issued_by(const char *cert_pem, const char *ca_pem, bool *yes, sp_err *err)
    __attribute__((warn_unused_result));

/* *yes when the certificate's subjectAltName DNS entries cover every one of
 * the n names exactly (case-insensitive; wildcards and the subject's common
 * name do not count). */
sp_rc certs_covers_dns(const char *cert_pem, const char *const *dns, size_t n, bool *yes,
                       sp_err *err) __attribute__((warn_unused_result));

/* *yes when key_pem is the private key of the certificate in cert_pem.
 * SP_EPARSE when either cannot be read. */
sp_rc certs_key_matches(const char *cert_pem, const char *key_pem, bool *yes, sp_err *err)
    __attribute__((warn_unused_result));

/*
 * Date the certificate of pair from not_before to not_after (unix seconds;
 * notAfter capped at the issuer's) and sign it again with the issuer's key,
 * everything else kept. issuer NULL: the certificate is self-signed and pair's
 * own key signs it. certs_make_ca and certs_make_serving date from the wall
 * clock; this lets a caller issue at a time of its own (a rotation driven by
 * an injected clock). pair->cert_pem is replaced only on success.
 */
sp_rc certs_redate(certs_pair *pair, const certs_pair *issuer, int64_t not_before,
                   int64_t not_after, sp_err *err) __attribute__((warn_unused_result));

#endif /* SP_CERTS_H */
