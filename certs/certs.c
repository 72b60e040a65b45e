/*
 * The certs module's front: the DNS names a Service answers to, what a
 * certificate says about itself (for `certs show` and expiry checks), and the
 * standalone default that gives a newcomer a working HTTPS server without
 * any setup: a private directory holding a CA and a serving pair for the
 * local host, created on first start and reused after. Making certificates
 * is in certs_make.c, files in certs_file.c, OpenSSL glue in certs_pem.c.
 */
#include "certs/certs.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "certs/certs_internal.h"
#include "util/sp_alloc.h"
#include "util/sp_buf.h"
#include "util/sp_str.h"

#define CERTS_SERVICE_NAMES 4
#define CERTS_CLUSTER_DOMAIN "cluster.local" /* the default cluster domain */
#define CERTS_SELF_NAME "serving"       /* dir/serving.crt, serving.key */
#define CERTS_SELF_CA_NAME "ca"         /* dir/ca.crt, ca.key */
#define CERTS_SELF_DAYS 365
#define CERTS_SELF_CA_DAYS 3650         /* outlives many serving pairs */

void certs_pair_free(certs_pair *pair)
{
    if (!pair)
        return;
    sp_free(pair->cert_pem);
    certs_free_secret(pair->key_pem);
    pair->cert_pem = NULL;
    pair->key_pem = NULL;
}

/* ------------------------------------------------------------------------ */
/* Service names                                                              */
/* ------------------------------------------------------------------------ */

/* A Kubernetes name label: lowercase letters, digits and '-', 1 to 63, not
 * starting or ending with '-'; a Service name must start with a letter. */
static bool k8s_label(const char *s, bool letter_first)
{
    size_t len = s ? strlen(s) : 0;

    if (len == 0 || len > CERTS_MAX_DNS_LABEL || s[len - 1] == '-' || s[0] == '-')
        return false;
    if (letter_first && !(s[0] >= 'a' && s[0] <= 'z'))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '-'))
            return false;
    return true;
}

/* a + b + c in a new string; NULL when memory runs out. */
static char *concat3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = sp_malloc(la + lb + lc + 1);

    if (!s)
        return NULL;
    memcpy(s, a, la);
    memcpy(s + la, b, lb);
    memcpy(s + la + lb, c, lc + 1);
    return s;
}

sp_rc certs_service_names(const char *service, const char *ns, char ***names,
                          size_t *n)
{
    char **v;

    *names = NULL;
    *n = 0;
    if (!k8s_label(service, true) || !k8s_label(ns, false))
        return SP_EINVAL;
    v = sp_calloc(CERTS_SERVICE_NAMES, sizeof(*v));
    if (!v)
        return SP_ENOMEM;
    v[0] = sp_strdup(service);
    v[1] = concat3(service, ".", ns);
    v[2] = v[1] ? concat3(v[1], ".svc", "") : NULL;
    v[3] = v[1] ? concat3(v[1], ".svc", "." CERTS_CLUSTER_DOMAIN) : NULL;
    for (size_t i = 0; i < CERTS_SERVICE_NAMES; i++) {
        if (!v[i]) {
            sp_strv_free(v, CERTS_SERVICE_NAMES);
            return SP_ENOMEM;
        }
    }
    *names = v;
    *n = CERTS_SERVICE_NAMES;
    return SP_OK;
}

/* ------------------------------------------------------------------------ */
/* Describing a certificate                                                   */
/* ------------------------------------------------------------------------ */

sp_rc certs_not_after(const char *cert_pem, int64_t *unix_seconds, sp_err *err)
{
    X509 *x = NULL;
    sp_rc rc;

    rc = certs_x509_from_pem(cert_pem, "the certificate", &x, err);
    if (!rc)
        rc = certs_time_to_unix(X509_get0_notAfter(x), unix_seconds, err);
    X509_free(x);
    return rc;
}

void certs_info_free(certs_info *info)
{
    if (!info)
        return;
    sp_free(info->subject);
    sp_free(info->issuer);
    sp_free(info->serial);
    sp_free(info->key);
    sp_strv_free(info->dns, info->n_dns);
    sp_strv_free(info->ips, info->n_ips);
    memset(info, 0, sizeof(*info));
}

static sp_rc name_text(const X509_NAME *name, char **out, sp_err *err)
{
    BIO *bio = BIO_new(BIO_s_mem());
    sp_rc rc;

    if (!bio)
        return certs_ssl_fail(err, SP_ENOMEM, "cannot print a name");
    if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) < 0)
        rc = certs_ssl_fail(err, SP_EPARSE, "cannot print a name");
    else
        rc = certs_bio_string(bio, out, err);
    BIO_free(bio);
    return rc;
}

static sp_rc serial_text(const X509 *x, char **out, sp_err *err)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    sp_rc rc = SP_OK;

    if (!hex)
        rc = certs_ssl_fail(err, SP_EPARSE, "cannot read the serial number");
    else if (!(*out = sp_strdup(hex)))
        rc = sp_err_set(err, SP_ENOMEM, "out of memory");
    OPENSSL_free(hex);
    BN_free(bn);
    return rc;
}

/* "ECDSA P-256", "RSA 2048", or the algorithm's short name and size. */
static sp_rc key_text(const X509 *x, char **out, sp_err *err)
{
    EVP_PKEY *key = X509_get0_pubkey(x);
    char group[64];
    size_t glen = 0;
    sp_buf b;
    sp_rc rc;

    ERR_clear_error();
    sp_buf_init(&b, (size_t)-2);
    if (!key)
        rc = sp_buf_puts(&b, "unknown");
    else if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA)
        rc = sp_buf_printf(&b, "RSA %d", EVP_PKEY_get_bits(key));
    else if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC &&
             EVP_PKEY_get_group_name(key, group, sizeof(group), &glen))
        rc = strcmp(group, "prime256v1") == 0 ? sp_buf_puts(&b, "ECDSA P-256")
                                              : sp_buf_printf(&b, "ECDSA %s", group);
    else
        rc = sp_buf_printf(&b, "%s %d", OBJ_nid2sn(EVP_PKEY_get_base_id(key)),
                           EVP_PKEY_get_bits(key));
    ERR_clear_error();
    *out = rc ? NULL : sp_buf_take(&b);
    sp_buf_free(&b);
    if (!*out)
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    return SP_OK;
}

/* Append an owned copy of s (len bytes) to *v. */
static sp_rc push_str(char ***v, size_t *n, size_t *cap, const char *s, size_t len)
{
    char *copy;

    if (sp_grow(v, cap, *n + 1, sizeof(**v)))
        return SP_ENOMEM;
    copy = sp_strndup(s, len);
    if (!copy)
        return SP_ENOMEM;
    (*v)[(*n)++] = copy;
    return SP_OK;
}

/* One SAN entry into info: DNS and IP entries; others are not shown. */
static sp_rc push_san(certs_info *info, size_t *dns_cap, size_t *ip_cap,
                      const GENERAL_NAME *gen)
{
    char text[INET6_ADDRSTRLEN];
    const unsigned char *data;
    int len;

    if (gen->type == GEN_DNS) {
        data = ASN1_STRING_get0_data(gen->d.dNSName);
        len = ASN1_STRING_length(gen->d.dNSName);
        return push_str(&info->dns, &info->n_dns, dns_cap, (const char *)data,
                        (size_t)len);
    }
    if (gen->type != GEN_IPADD)
        return SP_OK;
    data = ASN1_STRING_get0_data(gen->d.iPAddress);
    len = ASN1_STRING_length(gen->d.iPAddress);
    if ((len != 4 && len != 16) ||
        !inet_ntop(len == 4 ? AF_INET : AF_INET6, data, text, sizeof(text)))
        return push_str(&info->ips, &info->n_ips, ip_cap, "(malformed)", 11);
    return push_str(&info->ips, &info->n_ips, ip_cap, text, strlen(text));
}

static sp_rc sans(const X509 *x, certs_info *info, sp_err *err)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    size_t dns_cap = 0, ip_cap = 0;
    sp_rc rc = SP_OK;

    ERR_clear_error();
    for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens) && !rc; i++)
        rc = push_san(info, &dns_cap, &ip_cap, sk_GENERAL_NAME_value(gens, i));
    GENERAL_NAMES_free(gens);
    if (rc)
        return sp_err_set(err, rc, "out of memory");
    return SP_OK;
}

sp_rc certs_describe(const char *cert_pem, certs_info *out, sp_err *err)
{
    certs_info info;
    X509 *x = NULL;
    sp_rc rc;

    memset(out, 0, sizeof(*out));
    memset(&info, 0, sizeof(info));
    rc = certs_x509_from_pem(cert_pem, "the certificate", &x, err);
    if (!rc)
        rc = name_text(X509_get_subject_name(x), &info.subject, err);
    if (!rc)
        rc = name_text(X509_get_issuer_name(x), &info.issuer, err);
    if (!rc)
        rc = serial_text(x, &info.serial, err);
    if (!rc)
        rc = key_text(x, &info.key, err);
    if (!rc)
        rc = sans(x, &info, err);
    if (!rc)
        rc = certs_time_to_unix(X509_get0_notBefore(x), &info.not_before, err);
    if (!rc)
        rc = certs_time_to_unix(X509_get0_notAfter(x), &info.not_after, err);
    if (rc)
        goto out;
    info.is_ca = (X509_get_extension_flags(x) & EXFLAG_CA) != 0;
    *out = info;
    memset(&info, 0, sizeof(info));
out:
    certs_info_free(&info);
    X509_free(x);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The standalone default                                                     */
/* ------------------------------------------------------------------------ */

/* dir/ca.crt and ca.key when both exist; a new CA (*made) when neither does.
 * One without the other is refused rather than overwritten. */
static sp_rc open_or_make_ca(const char *dir, certs_pair *ca, bool *made, sp_err *err)
{
    char *crt = certs_path_join(dir, CERTS_SELF_CA_NAME, ".crt");
    char *key = certs_path_join(dir, CERTS_SELF_CA_NAME, ".key");
    char cn[64];
    certs_spec spec;
    sp_rc rc;

    *made = false;
    if (!crt || !key) {
        rc = sp_err_set(err, SP_ENOMEM, "out of memory");
        goto out;
    }
    if (certs_exists(crt) && certs_exists(key)) {
        rc = certs_load_pair(crt, key, ca, err);
        goto out;
    }
    if (certs_exists(crt) || certs_exists(key)) {
        const char *has = certs_exists(crt) ? crt : key;

        rc = sp_err_set(err, SP_ECONFLICT, "%s exists without %s; restore it, or "
                        "remove %s so that a new CA is made", has,
                        has == crt ? key : crt, has);
        goto out;
    }
    /* Distinct names keep a client from mixing up two generations of CA. */
    if (snprintf(cn, sizeof(cn), "streams-placer-ca@%lld", (long long)time(NULL)) < 0)
        cn[0] = '\0';
    memset(&spec, 0, sizeof(spec));
    spec.common_name = cn;
    spec.days = CERTS_SELF_CA_DAYS;
    spec.key_type = CERTS_KEY_ECDSA_P256;
    rc = certs_make_ca(&spec, ca, err);
    *made = rc == SP_OK;
out:
    sp_free(crt);
    sp_free(key);
    return rc;
}

/* A serving pair for the local host, written with its CA (if new) into dir.
 * Nothing is written unless both certificates could be made. */
static sp_rc make_self_signed(const char *dir, const char *const *extra_dns,
                              size_t n_extra, certs_pair *out, sp_err *err)
{
    static const char *const ips[] = { "127.0.0.1", "::1" };
    certs_pair ca = { NULL, NULL };
    const char **dns;
    certs_spec spec;
    bool new_ca;
    sp_rc rc;

    dns = sp_calloc(n_extra + 1, sizeof(*dns));
    if (!dns)
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    dns[0] = "localhost";
    for (size_t i = 0; i < n_extra; i++)
        dns[i + 1] = extra_dns[i];
    memset(&spec, 0, sizeof(spec));
    spec.common_name = "localhost";
    spec.dns = dns;
    spec.n_dns = n_extra + 1;
    spec.ips = ips;
    spec.n_ips = sizeof(ips) / sizeof(ips[0]);
    spec.days = CERTS_SELF_DAYS;
    spec.key_type = CERTS_KEY_ECDSA_P256;
    rc = open_or_make_ca(dir, &ca, &new_ca, err);
    if (!rc)
        rc = certs_make_serving(&ca, &spec, out, err);
    if (!rc && new_ca)
        rc = certs_write_pair(dir, CERTS_SELF_CA_NAME, &ca, err);
    if (!rc)
        rc = certs_write_pair(dir, CERTS_SELF_NAME, out, err);
    if (rc)
        certs_pair_free(out);
    certs_pair_free(&ca);
    sp_free(dns);
    return rc;
}

sp_rc certs_ensure_self_signed(const char *dir, const char *const *extra_dns,
                               size_t n_extra, certs_pair *out, char **cert_path,
                               char **key_path, bool *created, sp_err *err)
{
    certs_pair pair = { NULL, NULL };
    char *crt = NULL, *key = NULL;
    bool made = false;
    sp_rc rc;

    out->cert_pem = out->key_pem = NULL;
    *cert_path = *key_path = NULL;
    *created = false;
    rc = certs_mkdir_p(dir, err);
    if (rc)
        return rc;
    crt = certs_path_join(dir, CERTS_SELF_NAME, ".crt");
    key = certs_path_join(dir, CERTS_SELF_NAME, ".key");
    if (!crt || !key) {
        rc = sp_err_set(err, SP_ENOMEM, "out of memory");
        goto out;
    }
    if (certs_exists(crt) && certs_exists(key)) {
        rc = certs_load_pair(crt, key, &pair, err);
    } else {
        rc = make_self_signed(dir, extra_dns, n_extra, &pair, err);
        made = true;
    }
    if (rc)
        goto out;
    *out = pair;
    *cert_path = crt;
    *key_path = key;
    *created = made;
    pair.cert_pem = pair.key_pem = NULL;
    crt = key = NULL;
out:
    certs_pair_free(&pair);
    sp_free(crt);
    sp_free(key);
    return rc;
}
