/*
 * The server's TLS identity, swappable while it serves (internal to
 * server/). libmicrohttpd hands the handshake to GnuTLS; instead of a fixed
 * certificate it is given a retrieve callback that reads the current
 * identity, so that a renewed certificate applies to the next handshake
 * while connections already open keep theirs. Identities replaced are kept
 * until the server stops: a session may still refer to one, and renewals
 * are rare. With a client CA, every connection must present a certificate
 * that CA signed, or its handshake fails.
 */
#ifndef SP_SRV_TLS_H
#define SP_SRV_TLS_H

#include <gnutls/abstract.h>
#include <stdbool.h>
#include <microhttpd.h>

#include "util/sp_error.h"

typedef struct srv_tls srv_tls;

/* A TLS identity from a PEM certificate chain and its PEM key; SP_EINVAL
 * naming the cause when either does not parse or they do not belong
 * together. */
sp_rc srv_tls_new(const char *cert_pem, const char *key_pem, bool verify_clients,
                  srv_tls **out, sp_err *err) __attribute__((warn_unused_result));

/* Make a new certificate and key the one every later handshake uses. On
 * failure the current identity stays. Thread-safe. */
sp_rc srv_tls_swap(srv_tls *t, const char *cert_pem, const char *key_pem, sp_err *err)
    __attribute__((warn_unused_result));

/* Free every identity; t may be NULL. */
void srv_tls_free(srv_tls *t);

/* For MHD_OPTION_HTTPS_CERT_CALLBACK: the current identity of the srv_tls
 * that srv_tls_on_connection attached to the session's connection. */
int srv_tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
                     const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                     gnutls_pcert_st **pcert, unsigned int *pcert_length,
                     gnutls_privkey_t *privkey);

/* From MHD's connection-started notification: attach t to the connection
 * (its socket context) and, when clients are verified, require and check
 * their certificate in the handshake to come. */
void srv_tls_on_connection(srv_tls *t, struct MHD_Connection *c, void **socket_context);

#endif /* SP_SRV_TLS_H */
