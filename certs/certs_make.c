/*
 * Making certificates: a fresh key (ECDSA P-256 or RSA 2048, through
 * EVP_PKEY_Q_keygen) and an X.509 v3 certificate signed with SHA-256. Every
 * certificate gets a random positive 128-bit serial, a notBefore five minutes
 * in the past (so that a node whose clock lags still accepts it), and subject
 * and authority key identifiers. A CA is basicConstraints critical
 * CA:TRUE, pathlen:0 with keyUsage critical keyCertSign, cRLSign. A serving
 * certificate is CA:FALSE, keyUsage critical digitalSignature (plus
 * keyEncipherment for RSA, whose TLS 1.2 key exchange may need it),
 * extendedKeyUsage serverAuth, and a subjectAltName built as a structure
 * (never as config text, so a name cannot smuggle in another entry). It never
 * outlives its CA: notAfter is capped at the CA's. The spec is checked in
 * full before any key is generated.
 */
#include "certs/certs_internal.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "util/sp_alloc.h"

#define CERTS_DEFAULT_DAYS 365
#define CERTS_MAX_DAYS 36500           /* a hundred years */
#define CERTS_SKEW_SECONDS (5 * 60)    /* notBefore this far in the past */
#define CERTS_SERIAL_BYTES 16          /* 128 random bits */
#define CERTS_CA_CN "streams-placer CA"

/* What one certificate is made of; everything borrowed. */
typedef struct cert_plan {
    const certs_spec *spec;
    const char *cn;
    bool ca;
    X509 *issuer;         /* NULL: self-signed */
    EVP_PKEY *issuer_key;
    EVP_PKEY *key;        /* the subject's key */
} cert_plan;

/* ------------------------------------------------------------------------ */
/* Checking the spec                                                          */
/* ------------------------------------------------------------------------ */

static const char *key_type_name(certs_key_type t)
{
    switch (t) {
    case CERTS_KEY_ECDSA_P256: return "ECDSA P-256";
    case CERTS_KEY_RSA_2048: return "RSA 2048";
    }
    return NULL;
}

static bool is_ip(const char *s)
{
    ASN1_OCTET_STRING *ip = a2i_IPADDRESS(s);
    bool ok = ip != NULL;

    ASN1_OCTET_STRING_free(ip);
    ERR_clear_error();
    return ok;
}

static sp_rc check_sans(const certs_spec *spec, sp_err *err)
{
    for (size_t i = 0; i < spec->n_dns; i++) {
        const char *d = spec->dns[i];

        if (d && is_ip(d))
            return sp_err_set(err, SP_EINVAL, "DNS name '%s' is an IP address; "
                              "list it among the IP addresses", d);
        if (!certs_valid_dns_name(d))
            return sp_err_set(err, SP_EINVAL, "'%s' is not a valid DNS name "
                              "(labels of letters, digits and '-', at most 63 "
                              "bytes each and 253 in all; \"*.\" may lead)",
                              d ? d : "");
    }
    for (size_t i = 0; i < spec->n_ips; i++)
        if (!spec->ips[i] || !is_ip(spec->ips[i]))
            return sp_err_set(err, SP_EINVAL, "'%s' is not an IPv4 or IPv6 "
                              "address", spec->ips[i] ? spec->ips[i] : "");
    return SP_OK;
}

static sp_rc check_spec(const certs_spec *spec, bool serving, sp_err *err)
{
    if (!spec)
        return sp_err_set(err, SP_EINVAL, "no certificate spec given");
    if (!key_type_name(spec->key_type))
        return sp_err_set(err, SP_EINVAL, "unknown key type %d (ECDSA P-256 or "
                          "RSA 2048)", (int)spec->key_type);
    if (spec->days < 0 || spec->days > CERTS_MAX_DAYS)
        return sp_err_set(err, SP_EINVAL, "validity of %d days is out of range "
                          "(1 to %d; 0 for the default %d)", spec->days,
                          CERTS_MAX_DAYS, CERTS_DEFAULT_DAYS);
    if (spec->common_name &&
        (!*spec->common_name || strlen(spec->common_name) > CERTS_MAX_CN))
        return sp_err_set(err, SP_EINVAL, "common name '%s' must be 1 to %d bytes",
                          spec->common_name, CERTS_MAX_CN);
    if ((spec->n_dns && !spec->dns) || (spec->n_ips && !spec->ips))
        return sp_err_set(err, SP_EINVAL, "a SAN count is given without its list");
    if (serving && spec->n_dns + spec->n_ips == 0)
        return sp_err_set(err, SP_EINVAL, "a serving certificate needs at least one "
                          "DNS name or IP address to cover");
    return check_sans(spec, err);
}

/* ------------------------------------------------------------------------ */
/* Building blocks                                                            */
/* ------------------------------------------------------------------------ */

static sp_rc new_key(certs_key_type type, EVP_PKEY **out, sp_err *err)
{
    if (type == CERTS_KEY_RSA_2048)
        *out = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    else
        *out = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!*out)
        return certs_ssl_fail(err, SP_EINTERNAL, "cannot generate a %s key",
                              key_type_name(type));
    return SP_OK;
}

/* A random, positive, non-zero 128-bit serial. */
static sp_rc set_serial(X509 *x, sp_err *err)
{
    unsigned char raw[CERTS_SERIAL_BYTES];
    BIGNUM *bn = NULL;
    sp_rc rc = SP_OK;

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        rc = certs_ssl_fail(err, SP_EINTERNAL, "cannot draw a random serial number");
        goto out;
    }
    raw[sizeof(raw) - 1] |= 1;  /* never zero */
    bn = BN_bin2bn(raw, sizeof(raw), NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
        rc = certs_ssl_fail(err, SP_EINTERNAL, "cannot set the serial number");
out:
    BN_free(bn);
    return rc;
}

static sp_rc set_names(X509 *x, const cert_plan *p, sp_err *err)
{
    X509_NAME *name = X509_get_subject_name(x);

    if (!X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                                    (const unsigned char *)p->cn, -1, -1, 0))
        return certs_ssl_fail(err, SP_EINTERNAL, "cannot set the common name '%s'",
                              p->cn);
    if (!X509_set_issuer_name(x, p->issuer ? X509_get_subject_name(p->issuer) : name))
        return certs_ssl_fail(err, SP_EINTERNAL, "cannot set the issuer name");
    return SP_OK;
}

/* notBefore in the past by the skew allowance; notAfter days from now, but
 * never after the issuer's notAfter. */
static sp_rc set_validity(X509 *x, const cert_plan *p, sp_err *err)
{
    int days = p->spec->days ? p->spec->days : CERTS_DEFAULT_DAYS;

    if (!X509_gmtime_adj(X509_getm_notBefore(x), -CERTS_SKEW_SECONDS) ||
        !X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL))
        return certs_ssl_fail(err, SP_EINTERNAL, "cannot set the validity period");
    if (p->issuer &&
        ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(p->issuer)) > 0 &&
        !X509_set1_notAfter(x, X509_get0_notAfter(p->issuer)))
        return certs_ssl_fail(err, SP_EINTERNAL, "cannot cap the validity period");
    return SP_OK;
}

/* One extension from its OpenSSL config text (fixed strings only). */
static sp_rc add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value,
                     sp_err *err)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    sp_rc rc = SP_OK;

    if (!ext || !X509_add_ext(x, ext, -1))
        rc = certs_ssl_fail(err, SP_EINTERNAL, "cannot add %s = %s",
                            OBJ_nid2ln(nid), value);
    X509_EXTENSION_free(ext);
    return rc;
}

/* Push one SAN entry of the given type; takes value either way. */
static sp_rc push_gen(GENERAL_NAMES *gens, int type, ASN1_STRING *value, sp_err *err)
{
    GENERAL_NAME *gen = GENERAL_NAME_new();

    if (!gen) {
        ASN1_STRING_free(value);
        return certs_ssl_fail(err, SP_ENOMEM, "cannot build the subjectAltName");
    }
    GENERAL_NAME_set0_value(gen, type, value);
    if (!sk_GENERAL_NAME_push(gens, gen)) {
        GENERAL_NAME_free(gen);
        return certs_ssl_fail(err, SP_ENOMEM, "cannot build the subjectAltName");
    }
    return SP_OK;
}

static sp_rc add_san(X509 *x, const certs_spec *spec, sp_err *err)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    ASN1_STRING *value;
    sp_rc rc = SP_OK;

    if (!gens)
        return certs_ssl_fail(err, SP_ENOMEM, "cannot build the subjectAltName");
    for (size_t i = 0; i < spec->n_dns && !rc; i++) {
        value = ASN1_IA5STRING_new();
        if (!value || !ASN1_STRING_set(value, spec->dns[i], -1)) {
            ASN1_STRING_free(value);
            rc = certs_ssl_fail(err, SP_ENOMEM, "cannot build the subjectAltName");
            break;
        }
        rc = push_gen(gens, GEN_DNS, value, err);
    }
    for (size_t i = 0; i < spec->n_ips && !rc; i++) {
        value = a2i_IPADDRESS(spec->ips[i]);
        if (!value) {
            rc = certs_ssl_fail(err, SP_EINVAL, "'%s' is not an IP address",
                                spec->ips[i]);
            break;
        }
        rc = push_gen(gens, GEN_IPADD, value, err);
    }
    if (!rc && X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0,
                                 X509V3_ADD_DEFAULT) != 1)
        rc = certs_ssl_fail(err, SP_EINTERNAL, "cannot add the subjectAltName");
    GENERAL_NAMES_free(gens);
    return rc;
}

static sp_rc add_extensions(X509 *x, const cert_plan *p, sp_err *err)
{
    bool rsa = EVP_PKEY_get_base_id(p->key) == EVP_PKEY_RSA;
    X509V3_CTX ctx;
    sp_rc rc;

    X509V3_set_ctx(&ctx, p->issuer ? p->issuer : x, x, NULL, NULL, 0);
    if (!X509V3_set_issuer_pkey(&ctx, p->issuer_key))
        return certs_ssl_fail(err, SP_EINTERNAL, "cannot prepare the extensions");
    if (p->ca) {
        rc = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0", err);
        if (!rc)
            rc = add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign", err);
    } else {
        rc = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE", err);
        if (!rc)
            rc = add_ext(x, &ctx, NID_key_usage,
                         rsa ? "critical,digitalSignature,keyEncipherment"
                             : "critical,digitalSignature", err);
        if (!rc)
            rc = add_ext(x, &ctx, NID_ext_key_usage, "serverAuth", err);
        if (!rc)
            rc = add_san(x, p->spec, err);
    }
    if (!rc)
        rc = add_ext(x, &ctx, NID_subject_key_identifier, "hash", err);
    if (!rc)
        rc = add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always", err);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Certificates                                                               */
/* ------------------------------------------------------------------------ */

/* Build and sign the certificate p describes. */
static sp_rc build(const cert_plan *p, X509 **out, sp_err *err)
{
    X509 *x = X509_new();
    sp_rc rc = SP_OK;

    *out = NULL;
    if (!x)
        return certs_ssl_fail(err, SP_ENOMEM, "cannot allocate a certificate");
    if (!X509_set_version(x, X509_VERSION_3) || !X509_set_pubkey(x, p->key)) {
        rc = certs_ssl_fail(err, SP_EINTERNAL, "cannot start the certificate");
        goto out;
    }
    rc = set_serial(x, err);
    if (!rc)
        rc = set_names(x, p, err);
    if (!rc)
        rc = set_validity(x, p, err);
    if (!rc)
        rc = add_extensions(x, p, err);
    if (rc)
        goto out;
    if (X509_sign(x, p->issuer_key, EVP_sha256()) <= 0) {
        rc = certs_ssl_fail(err, SP_EINTERNAL, "cannot sign the certificate");
        goto out;
    }
    *out = x;
    x = NULL;
out:
    X509_free(x);
    return rc;
}

/* Generate the key, build the certificate, and encode both into *out. */
static sp_rc make_pair(cert_plan *p, certs_pair *out, sp_err *err)
{
    certs_pair pair = { NULL, NULL };
    EVP_PKEY *key = NULL;
    X509 *x = NULL;
    sp_rc rc;

    rc = new_key(p->spec->key_type, &key, err);
    if (rc)
        goto out;
    p->key = key;
    if (!p->issuer_key)
        p->issuer_key = key;
    rc = build(p, &x, err);
    if (!rc)
        rc = certs_x509_to_pem(x, &pair.cert_pem, err);
    if (!rc)
        rc = certs_key_to_pem(key, &pair.key_pem, err);
    if (rc)
        goto out;
    *out = pair;
    pair.cert_pem = pair.key_pem = NULL;
out:
    certs_pair_free(&pair);
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}

sp_rc certs_make_ca(const certs_spec *spec, certs_pair *out, sp_err *err)
{
    cert_plan p;
    sp_rc rc;

    out->cert_pem = out->key_pem = NULL;
    rc = check_spec(spec, false, err);
    if (rc)
        return rc;
    memset(&p, 0, sizeof(p));
    p.spec = spec;
    p.cn = spec->common_name ? spec->common_name : CERTS_CA_CN;
    p.ca = true;
    return make_pair(&p, out, err);
}

/* The CA must be a CA, unexpired, with its own key. */
static sp_rc open_ca(const certs_pair *ca, X509 **x, EVP_PKEY **key, sp_err *err)
{
    sp_rc rc;

    if (!ca)
        return sp_err_set(err, SP_EINVAL, "no CA given to sign with");
    rc = certs_x509_from_pem(ca->cert_pem, "the CA certificate", x, err);
    if (!rc)
        rc = certs_key_from_pem(ca->key_pem, "the CA key", key, err);
    if (rc)
        return rc;
    if (X509_check_ca(*x) == 0)
        return sp_err_set(err, SP_EINVAL, "the CA certificate is not a CA (no "
                          "basicConstraints CA:TRUE with keyCertSign); give a CA "
                          "certificate");
    if (X509_cmp_current_time(X509_get0_notAfter(*x)) <= 0)
        return sp_err_set(err, SP_EINVAL, "the CA certificate has expired; create "
                          "a new CA");
    if (X509_check_private_key(*x, *key) != 1)
        return certs_ssl_fail(err, SP_EINVAL, "the CA key does not belong to the "
                              "CA certificate; give the key it was created with");
    return SP_OK;
}

sp_rc certs_make_serving(const certs_pair *ca, const certs_spec *spec,
                         certs_pair *out, sp_err *err)
{
    X509 *ca_x = NULL;
    EVP_PKEY *ca_key = NULL;
    cert_plan p;
    sp_rc rc;

    out->cert_pem = out->key_pem = NULL;
    rc = check_spec(spec, true, err);
    if (!rc)
        rc = open_ca(ca, &ca_x, &ca_key, err);
    if (rc)
        goto out;
    memset(&p, 0, sizeof(p));
    p.spec = spec;
    p.cn = spec->common_name ? spec->common_name
         : spec->n_dns && strlen(spec->dns[0]) <= CERTS_MAX_CN ? spec->dns[0]
         : "streams-placer";
    p.issuer = ca_x;
    p.issuer_key = ca_key;
    rc = make_pair(&p, out, err);
out:
    X509_free(ca_x);
    EVP_PKEY_free(ca_key);
    return rc;
}
