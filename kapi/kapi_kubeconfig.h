/*
 * A kubeconfig, parsed from memory with libyaml and resolved for one
 * context: the server URL, the cluster's certificate authority (a file or
 * inline data), insecure-skip-tls-verify, and the user's credentials (a
 * token, a token file, a client certificate and key, files or inline data).
 * Relative file paths are resolved against the kubeconfig's directory; no
 * file is read here (kapi_new reads them), so the parser touches nothing but
 * its input and can be fuzzed. Unsupported authentication (exec plugins,
 * auth providers, username/password) is an error that says what is
 * supported.
 */
#ifndef SP_KAPI_KUBECONFIG_H
#define SP_KAPI_KUBECONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "util/sp_error.h"

#define KAPI_KUBECONFIG_MAX (16u << 20) /* bytes of a kubeconfig file */

/* One context, resolved. Every pointer is owned; NULL when not given. */
typedef struct kapi_kubeconfig {
    char *context;             /* the context used */
    char *cluster;             /* its cluster's name */
    char *user;                /* its user's name; NULL: anonymous */
    char *server;              /* "https://host:port[/prefix]", no trailing '/' */
    char *namespace;           /* the context's namespace */
    bool insecure;             /* insecure-skip-tls-verify: true */
    char *ca_file;             /* certificate-authority, resolved */
    unsigned char *ca_data;    /* certificate-authority-data, decoded */
    size_t ca_len;
    char *token;               /* token */
    char *token_file;          /* tokenFile, resolved (token wins) */
    char *cert_file;           /* client-certificate, resolved */
    unsigned char *cert_data;  /* client-certificate-data, decoded */
    size_t cert_len;
    char *key_file;            /* client-key, resolved */
    unsigned char *key_data;   /* client-key-data, decoded */
    size_t key_len;
} kapi_kubeconfig;

/*
 * Parse len bytes of yaml (need not be NUL-terminated) and resolve context
 * (NULL: the current-context). base_dir (NULL: ".") anchors relative paths.
 * Inline data wins over the file of the same field, as in kubectl. On
 * success *out is the caller's (kapi_kubeconfig_free); on failure *out is
 * NULL and err names the context, cluster or user and the field; the caller
 * prefixes the file name. SP_EPARSE for malformed or unsupported content,
 * SP_ENOTFOUND for a context, cluster or user that is not there, SP_ENOMEM.
 */
sp_rc kapi_kubeconfig_parse(const char *yaml, size_t len, const char *context,
                            const char *base_dir, kapi_kubeconfig **out, sp_err *err)
    __attribute__((warn_unused_result));

/* Free a parsed kubeconfig. kc may be NULL. */
void kapi_kubeconfig_free(kapi_kubeconfig *kc);

#endif /* SP_KAPI_KUBECONFIG_H */
