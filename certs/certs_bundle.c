/*
 * What a certificate manager asks of certificates it did not just make:
 * splitting a trust bundle into its certificates, whether a certificate was
 * issued by a given CA (names and signature, checked with the CA's public
 * key through EVP), whether its subjectAltNames cover a list of DNS names,
 * whether a key belongs to it; and re-dating a certificate (new notBefore
 * and notAfter, signed again by its issuer) so that certificates can be
 * issued at a time the caller chooses rather than the wall clock's.
 * Nothing here trusts its input: every PEM may be garbage from a Secret
 * someone edited by hand.
 */
#include "certs/certs_internal.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <time.h>

#include "util/sp_alloc.h"
#include "util/sp_str.h"

/* ------------------------------------------------------------------------ */
/* Bundles                                                                    */
/* ------------------------------------------------------------------------ */

/* Append x, as PEM, to *v. */
static sp_rc push_cert(char ***v, size_t *n, size_t *cap, X509 *x, const char *what,
                       sp_err *err)
{
    char *pem = NULL;
    sp_rc rc;

    if (*n >= CERTS_MAX_BUNDLE)
        return sp_err_set(err, SP_ELIMIT, "%s holds more than %d certificates; keep "
                          "only the CAs that are still in use", what, CERTS_MAX_BUNDLE);
    rc = certs_x509_to_pem(x, &pem, err);
    if (rc)
        return rc;
    if (sp_grow(v, cap, *n + 1, sizeof(**v))) {
        sp_free(pem);
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    }
    (*v)[(*n)++] = pem;
    return SP_OK;
}

/* After the last block: only "no more PEM blocks" is a clean end. */
static sp_rc check_end(const char *what, size_t n, sp_err *err)
{
    unsigned long e = ERR_peek_last_error();

    if (ERR_GET_LIB(e) != ERR_LIB_PEM || ERR_GET_REASON(e) != PEM_R_NO_START_LINE)
        return certs_ssl_fail(err, SP_EPARSE, "%s: certificate %zu is malformed", what,
                              n + 1);
    ERR_clear_error();
    if (n == 0)
        return sp_err_set(err, SP_EPARSE, "%s holds no certificate (a \"BEGIN "
                          "CERTIFICATE\" block is expected)", what);
    return SP_OK;
}

sp_rc certs_bundle_split(const char *pem, const char *what, char ***certs, size_t *n,
                         sp_err *err)
{
    char **v = NULL;
    size_t count = 0, cap = 0;
    BIO *bio;
    X509 *x;
    sp_rc rc = SP_OK;

    *certs = NULL;
    *n = 0;
    if (!pem)
        return sp_err_set(err, SP_EINVAL, "%s: no certificates given", what);
    bio = BIO_new_mem_buf(pem, -1);
    if (!bio)
        return certs_ssl_fail(err, SP_ENOMEM, "%s: cannot read it", what);
    ERR_clear_error();
    while (!rc && (x = PEM_read_bio_X509(bio, NULL, certs_no_passphrase, NULL))) {
        rc = push_cert(&v, &count, &cap, x, what, err);
        X509_free(x);
    }
    if (!rc)
        rc = check_end(what, count, err);
    BIO_free(bio);
    if (rc) {
        sp_strv_free(v, count);
        return rc;
    }
    *certs = v;
    *n = count;
    return SP_OK;
}

/* ------------------------------------------------------------------------ */
/* Checks                                                                     */
/* ------------------------------------------------------------------------ */

sp_rc certs_issued_by(const char *cert_pem, const char *ca_pem, bool *yes, sp_err *err)
{
    X509 *x = NULL, *ca = NULL;
    sp_rc rc;

    *yes = false;
    rc = certs_x509_from_pem(cert_pem, "the certificate", &x, err);
    if (!rc)
        rc = certs_x509_from_pem(ca_pem, "the CA certificate", &ca, err);
    if (!rc)
        *yes = X509_check_issued(ca, x) == X509_V_OK &&
               X509_verify(x, X509_get0_pubkey(ca)) == 1;
    ERR_clear_error();
    X509_free(x);
    X509_free(ca);
    return rc;
}

sp_rc certs_covers_dns(const char *cert_pem, const char *const *dns, size_t n, bool *yes,
                       sp_err *err)
{
    const unsigned int flags =
        X509_CHECK_FLAG_NO_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT;
    X509 *x = NULL;
    sp_rc rc;

    *yes = false;
    rc = certs_x509_from_pem(cert_pem, "the certificate", &x, err);
    if (rc)
        return rc;
    *yes = true;
    for (size_t i = 0; i < n && *yes; i++)
        *yes = dns[i] && X509_check_host(x, dns[i], strlen(dns[i]), flags, NULL) == 1;
    ERR_clear_error();
    X509_free(x);
    return SP_OK;
}

sp_rc certs_key_matches(const char *cert_pem, const char *key_pem, bool *yes, sp_err *err)
{
    X509 *x = NULL;
    EVP_PKEY *key = NULL;
    sp_rc rc;

    *yes = false;
    rc = certs_x509_from_pem(cert_pem, "the certificate", &x, err);
    if (!rc)
        rc = certs_key_from_pem(key_pem, "the private key", &key, err);
    if (!rc)
        *yes = X509_check_private_key(x, key) == 1;
    ERR_clear_error();
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Dates                                                                      */
/* ------------------------------------------------------------------------ */

/* notBefore and notAfter of x; notAfter never past the issuer's. */
static sp_rc set_dates(X509 *x, const X509 *issuer, int64_t not_before, int64_t not_after,
                       sp_err *err)
{
    ASN1_TIME *nb = ASN1_TIME_set(NULL, (time_t)not_before);
    ASN1_TIME *na = ASN1_TIME_set(NULL, (time_t)not_after);
    const ASN1_TIME *cap = issuer ? X509_get0_notAfter(issuer) : NULL;
    sp_rc rc = SP_OK;

    if (!nb || !na || !X509_set1_notBefore(x, nb) ||
        !X509_set1_notAfter(x, cap && ASN1_TIME_compare(na, cap) > 0 ? cap : na))
        rc = certs_ssl_fail(err, SP_EINTERNAL, "cannot set the validity period");
    ASN1_TIME_free(nb);
    ASN1_TIME_free(na);
    return rc;
}

/* The certificate that signs (the issuer's, or x itself) and its key, which
 * must belong together. */
static sp_rc open_signer(const certs_pair *pair, const certs_pair *issuer, X509 **ix,
                         EVP_PKEY **key, sp_err *err)
{
    sp_rc rc;

    *ix = NULL;
    rc = certs_x509_from_pem(issuer ? issuer->cert_pem : pair->cert_pem,
                             issuer ? "the issuer's certificate" : "the certificate", ix,
                             err);
    if (!rc)
        rc = certs_key_from_pem(issuer ? issuer->key_pem : pair->key_pem,
                                issuer ? "the issuer's key" : "the certificate's key", key,
                                err);
    if (!rc && X509_check_private_key(*ix, *key) != 1)
        rc = certs_ssl_fail(err, SP_EINVAL, "the signing key does not belong to %s; give "
                            "the key it was created with",
                            issuer ? "the issuer's certificate" : "the certificate");
    return rc;
}

sp_rc certs_redate(certs_pair *pair, const certs_pair *issuer, int64_t not_before,
                   int64_t not_after, sp_err *err)
{
    X509 *x = NULL, *signer = NULL;
    EVP_PKEY *key = NULL;
    char *pem = NULL;
    sp_rc rc;

    if (not_before >= not_after || (int64_t)(time_t)not_after != not_after ||
        (int64_t)(time_t)not_before != not_before)
        return sp_err_set(err, SP_EINVAL, "validity from %lld to %lld is empty or out of "
                          "range", (long long)not_before, (long long)not_after);
    rc = certs_x509_from_pem(pair->cert_pem, "the certificate", &x, err);
    if (!rc)
        rc = open_signer(pair, issuer, &signer, &key, err);
    if (!rc)
        rc = set_dates(x, issuer ? signer : NULL, not_before, not_after, err);
    if (!rc && X509_sign(x, key, EVP_sha256()) <= 0)
        rc = certs_ssl_fail(err, SP_EINTERNAL, "cannot sign the re-dated certificate");
    if (!rc)
        rc = certs_x509_to_pem(x, &pem, err);
    if (!rc) {
        sp_free(pair->cert_pem);
        pair->cert_pem = pem;
    }
    X509_free(x);
    X509_free(signer);
    EVP_PKEY_free(key);
    return rc;
}
