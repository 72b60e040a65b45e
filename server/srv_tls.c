/*
 * The swappable TLS identity: see srv_tls.h. An identity is a parsed
 * certificate chain and private key (GnuTLS' pcert and privkey, ready for
 * a handshake); the current one is an atomic pointer read by every
 * handshake without a lock, and replaced ones stay on a list until the end.
 */
#include "server/srv_tls.h"

#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "util/sp_alloc.h"

#define MAX_CHAIN 16 /* certificates in one chain */

typedef struct identity {
    gnutls_pcert_st chain[MAX_CHAIN];
    unsigned n_chain;
    gnutls_privkey_t key;
    struct identity *older;      /* the one it replaced */
} identity;

struct srv_tls {
    _Atomic(identity *) current;
    pthread_mutex_t swap_lock;   /* one swap at a time */
    bool verify_clients;
};

/* ------------------------------------------------------------------------ */
/* Identities                                                                 */
/* ------------------------------------------------------------------------ */

static void identity_free(identity *id)
{
    if (!id)
        return;
    for (unsigned i = 0; i < id->n_chain; i++)
        gnutls_pcert_deinit(&id->chain[i]);
    gnutls_privkey_deinit(id->key);
    sp_free(id);
}

static gnutls_datum_t datum(const char *pem)
{
    gnutls_datum_t d = { (unsigned char *)(uintptr_t)pem, (unsigned)strlen(pem) };

    return d;
}

/* True when key is the private half of the chain's first certificate. */
static bool key_matches(const identity *id)
{
    gnutls_pubkey_t from_key = NULL;
    gnutls_datum_t a = { NULL, 0 }, b = { NULL, 0 };
    bool same = false;

    if (gnutls_pubkey_init(&from_key) == 0 &&
        gnutls_pubkey_import_privkey(from_key, id->key, 0, 0) == 0 &&
        gnutls_pubkey_export2(from_key, GNUTLS_X509_FMT_DER, &a) == 0 &&
        gnutls_pubkey_export2(id->chain[0].pubkey, GNUTLS_X509_FMT_DER, &b) == 0)
        same = a.size == b.size && memcmp(a.data, b.data, a.size) == 0;
    gnutls_free(a.data);
    gnutls_free(b.data);
    gnutls_pubkey_deinit(from_key);
    return same;
}

static sp_rc identity_new(const char *cert_pem, const char *key_pem, identity **out,
                          sp_err *err)
{
    identity *id = sp_calloc(1, sizeof(*id));
    gnutls_datum_t cert = datum(cert_pem), key = datum(key_pem);
    unsigned n = MAX_CHAIN;
    int g;

    *out = NULL;
    if (!id)
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    g = gnutls_pcert_list_import_x509_raw(id->chain, &n, &cert, GNUTLS_X509_FMT_PEM,
                                          GNUTLS_X509_CRT_LIST_FAIL_IF_UNSORTED);
    if (g < 0) {
        sp_free(id);
        return sp_err_set(err, SP_EINVAL, "the serving certificate does not load: %s "
                          "(want a PEM chain, leaf first, at most %d certificates)",
                          gnutls_strerror(g), MAX_CHAIN);
    }
    id->n_chain = n;
    if ((g = gnutls_privkey_init(&id->key)) == 0)
        g = gnutls_privkey_import_x509_raw(id->key, &key, GNUTLS_X509_FMT_PEM, NULL, 0);
    if (g < 0) {
        identity_free(id);
        return sp_err_set(err, SP_EINVAL, "the serving key does not load: %s (want an "
                          "unencrypted PEM private key)", gnutls_strerror(g));
    }
    if (!key_matches(id)) {
        identity_free(id);
        return sp_err_set(err, SP_EINVAL, "the serving key is not the key of the serving "
                          "certificate: give the pair that belongs together");
    }
    *out = id;
    return SP_OK;
}

/* ------------------------------------------------------------------------ */
/* The swappable identity                                                     */
/* ------------------------------------------------------------------------ */

sp_rc srv_tls_new(const char *cert_pem, const char *key_pem, bool verify_clients,
                  srv_tls **out, sp_err *err)
{
    srv_tls *t = sp_calloc(1, sizeof(*t));
    identity *id = NULL;
    sp_rc rc;

    *out = NULL;
    if (!t)
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    rc = identity_new(cert_pem, key_pem, &id, err);
    if (rc) {
        sp_free(t);
        return rc;
    }
    atomic_init(&t->current, id);
    pthread_mutex_init(&t->swap_lock, NULL);
    t->verify_clients = verify_clients;
    *out = t;
    return SP_OK;
}

sp_rc srv_tls_swap(srv_tls *t, const char *cert_pem, const char *key_pem, sp_err *err)
{
    identity *id = NULL;
    sp_rc rc = identity_new(cert_pem, key_pem, &id, err);

    if (rc)
        return rc;
    pthread_mutex_lock(&t->swap_lock);
    id->older = atomic_load(&t->current);
    atomic_store(&t->current, id);
    pthread_mutex_unlock(&t->swap_lock);
    return SP_OK;
}

void srv_tls_free(srv_tls *t)
{
    identity *id;

    if (!t)
        return;
    id = atomic_load(&t->current);
    while (id) {
        identity *older = id->older;
        identity_free(id);
        id = older;
    }
    pthread_mutex_destroy(&t->swap_lock);
    sp_free(t);
}

/* ------------------------------------------------------------------------ */
/* Handshakes                                                                 */
/* ------------------------------------------------------------------------ */

int srv_tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
                     const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                     gnutls_pcert_st **pcert, unsigned int *pcert_length,
                     gnutls_privkey_t *privkey)
{
    struct MHD_Connection *c = gnutls_session_get_ptr(session);
    const union MHD_ConnectionInfo *info =
        c ? MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT) : NULL;
    srv_tls *t = info ? info->socket_context : NULL;
    identity *id = t ? atomic_load(&t->current) : NULL;

    (void)req_ca_rdn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    if (!id)
        return -1; /* no identity: the handshake fails */
    *pcert = id->chain;
    *pcert_length = id->n_chain;
    *privkey = id->key;
    return 0;
}

/* The client's certificate chain, checked against the trusted client CA
 * (MHD_OPTION_HTTPS_MEM_TRUST) as the handshake receives it. */
static int verify_client(gnutls_session_t session)
{
    unsigned status = 0;

    if (gnutls_certificate_verify_peers2(session, &status) < 0 || status != 0)
        return GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR;
    return 0;
}

void srv_tls_on_connection(srv_tls *t, struct MHD_Connection *c, void **socket_context)
{
    const union MHD_ConnectionInfo *info;

    *socket_context = t;
    if (!t->verify_clients)
        return;
    info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!info || !info->tls_session)
        return;
    gnutls_certificate_server_set_request(info->tls_session, GNUTLS_CERT_REQUIRE);
    gnutls_session_set_verify_function(info->tls_session, verify_client);
}
