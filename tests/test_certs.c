/*
 * Tests of the certs module (certs/), each result read back with OpenSSL
 * itself rather than with the module's own describing code: both key types,
 * the CA and serving extensions (criticality included), SANs in order,
 * serials, validity with the clock-skew allowance and the cap at the CA's
 * notAfter, chains verified with X509_verify_cert for the SSL-server purpose
 * with host and IP checks, malformed specs with their messages, files
 * (modes, atomic replacement, no temporaries left, the key-permission
 * refusal with its exact message, mismatched and encrypted keys), the
 * standalone default created and then reloaded, and running out of memory at
 * every allocation of ours (OpenSSL's own are not injected). Every failure
 * must leave OpenSSL's error queue empty.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "certs/certs.h"
#include "tests/test_util.h"
#include "util/sp_alloc.h"
#include "util/sp_str.h"

#define PATH_BYTES 1024

/* ------------------------------------------------------------------------ */
/* Helpers                                                                    */
/* ------------------------------------------------------------------------ */

static void join(char *buf, const char *dir, const char *name)
{
    int n = snprintf(buf, PATH_BYTES, "%s/%s", dir, name);

    CU_ASSERT_FATAL(n > 0 && n < PATH_BYTES);
}

/* A new empty directory under $TMPDIR; buf holds PATH_BYTES. */
static void make_tmpdir(char *buf)
{
    const char *base = getenv("TMPDIR");
    int n = snprintf(buf, PATH_BYTES, "%s/test_certs.XXXXXX",
                     base && *base ? base : "/tmp");

    CU_ASSERT_FATAL(n > 0 && n < PATH_BYTES);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(buf));
}

static void rm_tree(const char *path)
{
    struct dirent *e;
    struct stat st;
    char child[PATH_BYTES];
    DIR *d;

    if (lstat(path, &st) != 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        unlink(path);
        return;
    }
    d = opendir(path);
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        join(child, path, e->d_name);
        rm_tree(child);
    }
    if (d)
        closedir(d);
    rmdir(path);
}

/* Entries in dir; *temps counts leftover temporaries. */
static int count_entries(const char *dir, int *temps)
{
    struct dirent *e;
    DIR *d = opendir(dir);
    int n = 0;

    *temps = 0;
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        n++;
        if (strstr(e->d_name, ".tmp"))
            (*temps)++;
    }
    closedir(d);
    return n;
}

static unsigned file_mode(const char *path)
{
    struct stat st;

    CU_ASSERT_FATAL(stat(path, &st) == 0);
    return (unsigned)(st.st_mode & 07777);
}

static void write_file(const char *path, const char *data, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    size_t len = strlen(data);

    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(write(fd, data, len) == (ssize_t)len);
    CU_ASSERT_FATAL(fchmod(fd, mode) == 0);
    close(fd);
}

/* The whole file as a string (caller frees with sp_free). */
static char *slurp(const char *path)
{
    char *data = NULL;
    FILE *f = fopen(path, "rb");
    long len;

    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_FATAL(fseek(f, 0, SEEK_END) == 0);
    len = ftell(f);
    rewind(f);
    data = sp_calloc(1, (size_t)len + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(data);
    CU_ASSERT_FATAL(fread(data, 1, (size_t)len, f) == (size_t)len);
    fclose(f);
    return data;
}

static X509 *x509_of(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

    BIO_free(bio);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    return x;
}

static EVP_PKEY *key_of(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;

    BIO_free(bio);
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    return k;
}

static void make_ca(certs_key_type type, int days, certs_pair *ca)
{
    certs_spec spec = { .common_name = "test CA", .days = days, .key_type = type };
    sp_err err;

    sp_err_clear(&err);
    if (certs_make_ca(&spec, ca, &err) != SP_OK)
        fprintf(stderr, "\n  certs_make_ca: %s\n", err.msg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ca->cert_pem);
}

static const char *const test_dns[] = {
    "placer.streams.svc", "placer", "placer.streams",
    "placer.streams.svc.cluster.local", "*.example.com",
};
static const char *const test_ips[] = { "127.0.0.1", "::1", "10.96.0.12" };
#define N_TEST_DNS (sizeof(test_dns) / sizeof(test_dns[0]))
#define N_TEST_IPS (sizeof(test_ips) / sizeof(test_ips[0]))

static certs_spec serving_spec(certs_key_type type, int days)
{
    certs_spec spec = {
        .dns = test_dns, .n_dns = N_TEST_DNS, .ips = test_ips, .n_ips = N_TEST_IPS,
        .days = days, .key_type = type,
    };

    return spec;
}

static void make_serving(const certs_pair *ca, certs_key_type type, int days,
                         certs_pair *out)
{
    certs_spec spec = serving_spec(type, days);
    sp_err err;

    sp_err_clear(&err);
    if (certs_make_serving(ca, &spec, out, &err) != SP_OK)
        fprintf(stderr, "\n  certs_make_serving: %s\n", err.msg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out->cert_pem);
}

/* An RSA CA and an RSA serving pair signed by it, made once: RSA key
 * generation is slow under valgrind. Freed at exit. */
static certs_pair rsa_ca, rsa_srv;

static void rsa_fixture(void)
{
    if (rsa_ca.cert_pem)
        return;
    make_ca(CERTS_KEY_RSA_2048, 10, &rsa_ca);
    make_serving(&rsa_ca, CERTS_KEY_RSA_2048, 5, &rsa_srv);
}

/* 0 when leaf verifies against ca for a TLS server (and host / ip when
 * given), else the X509_V_ERR code. */
static int verify(X509 *ca, X509 *leaf, const char *host, const char *ip)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509_VERIFY_PARAM *param;
    int ok, code;

    CU_ASSERT_FATAL(store && ctx);
    CU_ASSERT_FATAL(X509_STORE_add_cert(store, ca) == 1);
    CU_ASSERT_FATAL(X509_STORE_CTX_init(ctx, store, leaf, NULL) == 1);
    CU_ASSERT_FATAL(X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER) == 1);
    param = X509_STORE_CTX_get0_param(ctx);
    if (host)
        CU_ASSERT_FATAL(X509_VERIFY_PARAM_set1_host(param, host, 0) == 1);
    if (ip)
        CU_ASSERT_FATAL(X509_VERIFY_PARAM_set1_ip_asc(param, ip) == 1);
    ok = X509_verify_cert(ctx);
    code = X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    ERR_clear_error();
    return ok == 1 ? 0 : code ? code : -1;
}

static bool ext_critical(X509 *x, int nid)
{
    int i = X509_get_ext_by_NID(x, nid, -1);

    CU_ASSERT_FATAL(i >= 0);
    return X509_EXTENSION_get_critical(X509_get_ext(x, i)) == 1;
}

static void assert_common_name(const X509_NAME *name, const char *cn)
{
    char text[256];

    CU_ASSERT_FATAL(X509_NAME_get_text_by_NID(name, NID_commonName, text,
                                              sizeof(text)) > 0);
    SP_ASSERT_STR(text, cn);
}

/* notBefore/notAfter relative to now, in seconds. */
static int64_t seconds_from_now(const ASN1_TIME *t)
{
    int days = 0, secs = 0;

    CU_ASSERT_FATAL(ASN1_TIME_diff(&days, &secs, NULL, t) == 1);
    return (int64_t)days * 86400 + secs;
}

/* ------------------------------------------------------------------------ */
/* Names                                                                      */
/* ------------------------------------------------------------------------ */

static void t_service_names(void)
{
    static const char *const bad[][2] = {
        { "Placer", "streams" }, { "1placer", "streams" }, { "placer-", "streams" },
        { "placer", "-streams" }, { "placer", "" }, { "", "streams" },
        { "pla.cer", "streams" }, { "placer", "str_eams" },
        { "a234567890123456789012345678901234567890123456789012345678901234", "ns" },
    };
    char **v = NULL;
    size_t n = 0;

    CU_ASSERT_EQUAL_FATAL(certs_service_names("placer", "streams", &v, &n), SP_OK);
    CU_ASSERT_EQUAL_FATAL(n, 4);
    SP_ASSERT_STR(v[0], "placer");
    SP_ASSERT_STR(v[1], "placer.streams");
    SP_ASSERT_STR(v[2], "placer.streams.svc");
    SP_ASSERT_STR(v[3], "placer.streams.svc.cluster.local");
    sp_strv_free(v, n);
    CU_ASSERT_EQUAL(certs_service_names("p-1", "1ns", &v, &n), SP_OK);
    sp_strv_free(v, n);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CU_ASSERT_EQUAL(certs_service_names(bad[i][0], bad[i][1], &v, &n), SP_EINVAL);
        CU_ASSERT_PTR_NULL(v);
        CU_ASSERT_EQUAL(n, 0);
    }
    CU_ASSERT_EQUAL(certs_service_names(NULL, "streams", &v, &n), SP_EINVAL);
}

/* ------------------------------------------------------------------------ */
/* Making certificates                                                        */
/* ------------------------------------------------------------------------ */

static void t_ca_ecdsa(void)
{
    certs_pair ca = { NULL, NULL }, ca2 = { NULL, NULL };
    X509 *x, *x2;
    EVP_PKEY *k;
    BIGNUM *serial;
    char group[64];

    make_ca(CERTS_KEY_ECDSA_P256, 10, &ca);
    make_ca(CERTS_KEY_ECDSA_P256, 10, &ca2);
    x = x509_of(ca.cert_pem);
    x2 = x509_of(ca2.cert_pem);
    k = key_of(ca.key_pem);
    CU_ASSERT_EQUAL(X509_get_version(x), X509_VERSION_3);
    CU_ASSERT_EQUAL(X509_check_ca(x), 1);
    CU_ASSERT_EQUAL(X509_get_pathlen(x), 0);
    CU_ASSERT_EQUAL(X509_get_key_usage(x), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
    CU_ASSERT_TRUE(ext_critical(x, NID_basic_constraints));
    CU_ASSERT_TRUE(ext_critical(x, NID_key_usage));
    CU_ASSERT_EQUAL(X509_verify(x, X509_get0_pubkey(x)), 1);
    CU_ASSERT_EQUAL(X509_check_private_key(x, k), 1);
    CU_ASSERT_EQUAL(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
    CU_ASSERT_EQUAL(EVP_PKEY_get_base_id(k), EVP_PKEY_EC);
    CU_ASSERT_EQUAL(EVP_PKEY_get_group_name(k, group, sizeof(group), NULL), 1);
    SP_ASSERT_STR(group, "prime256v1");
    assert_common_name(X509_get_subject_name(x), "test CA");
    CU_ASSERT_EQUAL(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(X509_get0_subject_key_id(x));
    CU_ASSERT_PTR_NOT_NULL_FATAL(X509_get0_authority_key_id(x));
    CU_ASSERT_EQUAL(ASN1_OCTET_STRING_cmp(X509_get0_subject_key_id(x),
                                          X509_get0_authority_key_id(x)), 0);
    serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    CU_ASSERT_FATAL(serial != NULL);
    CU_ASSERT_FALSE(BN_is_negative(serial));
    CU_ASSERT_TRUE(BN_num_bits(serial) > 64 && BN_num_bits(serial) <= 128);
    CU_ASSERT_NOT_EQUAL(ASN1_INTEGER_cmp(X509_get0_serialNumber(x),
                                         X509_get0_serialNumber(x2)), 0);
    CU_ASSERT_EQUAL(strncmp(ca.key_pem, "-----BEGIN PRIVATE KEY-----", 27), 0);
    CU_ASSERT_EQUAL(ERR_peek_error(), 0);
    BN_free(serial);
    EVP_PKEY_free(k);
    X509_free(x);
    X509_free(x2);
    certs_pair_free(&ca);
    certs_pair_free(&ca2);
    certs_pair_free(&ca);   /* twice: a no-op */
    certs_pair_free(NULL);
}

/* The SAN extension holds exactly test_dns then test_ips, in order. */
static void assert_sans(X509 *x)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    unsigned char want[16];

    CU_ASSERT_PTR_NOT_NULL_FATAL(gens);
    CU_ASSERT_EQUAL_FATAL(sk_GENERAL_NAME_num(gens), (int)(N_TEST_DNS + N_TEST_IPS));
    for (size_t i = 0; i < N_TEST_DNS; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, (int)i);

        CU_ASSERT_EQUAL_FATAL(g->type, GEN_DNS);
        SP_ASSERT_STR((const char *)ASN1_STRING_get0_data(g->d.dNSName), test_dns[i]);
    }
    for (size_t i = 0; i < N_TEST_IPS; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, (int)(N_TEST_DNS + i));
        bool v6 = strchr(test_ips[i], ':') != NULL;

        CU_ASSERT_EQUAL_FATAL(g->type, GEN_IPADD);
        CU_ASSERT_EQUAL_FATAL(inet_pton(v6 ? AF_INET6 : AF_INET, test_ips[i], want), 1);
        CU_ASSERT_EQUAL(ASN1_STRING_length(g->d.iPAddress), v6 ? 16 : 4);
        CU_ASSERT_EQUAL(memcmp(ASN1_STRING_get0_data(g->d.iPAddress), want,
                               v6 ? 16 : 4), 0);
    }
    CU_ASSERT_FALSE(ext_critical(x, NID_subject_alt_name));
    GENERAL_NAMES_free(gens);
}

/* What every serving certificate must be, whatever its key. */
static void assert_serving(X509 *x, X509 *ca_x)
{
    CU_ASSERT_EQUAL(X509_get_version(x), X509_VERSION_3);
    CU_ASSERT_EQUAL(X509_check_ca(x), 0);
    CU_ASSERT_TRUE(X509_get_extension_flags(x) & EXFLAG_BCONS);
    CU_ASSERT_FALSE(X509_get_extension_flags(x) & EXFLAG_CA);
    CU_ASSERT_TRUE(ext_critical(x, NID_basic_constraints));
    CU_ASSERT_TRUE(ext_critical(x, NID_key_usage));
    CU_ASSERT_FALSE(ext_critical(x, NID_ext_key_usage));
    CU_ASSERT_EQUAL(X509_get_extended_key_usage(x), XKU_SSL_SERVER);
    CU_ASSERT_EQUAL(X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(ca_x)),
                    0);
    CU_ASSERT_EQUAL(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(x),
                                          X509_get0_subject_key_id(ca_x)), 0);
    CU_ASSERT_PTR_NOT_NULL(X509_get0_subject_key_id(x));
    CU_ASSERT_EQUAL(X509_verify(x, X509_get0_pubkey(ca_x)), 1);
    assert_sans(x);
}

static void t_serving_rsa(void)
{
    X509 *x, *ca_x;
    EVP_PKEY *k;

    rsa_fixture();
    x = x509_of(rsa_srv.cert_pem);
    ca_x = x509_of(rsa_ca.cert_pem);
    k = key_of(rsa_srv.key_pem);
    assert_serving(x, ca_x);
    CU_ASSERT_EQUAL(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
    CU_ASSERT_EQUAL(EVP_PKEY_get_base_id(k), EVP_PKEY_RSA);
    CU_ASSERT_EQUAL(EVP_PKEY_get_bits(k), 2048);
    CU_ASSERT_EQUAL(EVP_PKEY_get_bits(X509_get0_pubkey(ca_x)), 2048);
    CU_ASSERT_EQUAL(X509_get_signature_nid(x), NID_sha256WithRSAEncryption);
    CU_ASSERT_EQUAL(X509_get_signature_nid(ca_x), NID_sha256WithRSAEncryption);
    CU_ASSERT_EQUAL(X509_check_ca(ca_x), 1);
    CU_ASSERT_EQUAL(X509_check_private_key(x, k), 1);
    /* No common name given: the first DNS name. */
    assert_common_name(X509_get_subject_name(x), test_dns[0]);
    assert_common_name(X509_get_issuer_name(x), "test CA");
    EVP_PKEY_free(k);
    X509_free(x);
    X509_free(ca_x);
}

static void t_serving_ecdsa_mixed(void)
{
    certs_pair ca = { NULL, NULL }, ec = { NULL, NULL }, on_rsa = { NULL, NULL };
    X509 *x, *y, *ca_x, *rsa_ca_x;

    rsa_fixture();
    make_ca(CERTS_KEY_ECDSA_P256, 10, &ca);
    make_serving(&ca, CERTS_KEY_ECDSA_P256, 5, &ec);
    make_serving(&rsa_ca, CERTS_KEY_ECDSA_P256, 5, &on_rsa);
    x = x509_of(ec.cert_pem);
    y = x509_of(on_rsa.cert_pem);
    ca_x = x509_of(ca.cert_pem);
    rsa_ca_x = x509_of(rsa_ca.cert_pem);
    assert_serving(x, ca_x);
    assert_serving(y, rsa_ca_x);
    CU_ASSERT_EQUAL(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
    CU_ASSERT_EQUAL(X509_get_key_usage(y), KU_DIGITAL_SIGNATURE);
    CU_ASSERT_EQUAL(EVP_PKEY_get_base_id(X509_get0_pubkey(x)), EVP_PKEY_EC);
    CU_ASSERT_EQUAL(EVP_PKEY_get_base_id(X509_get0_pubkey(y)), EVP_PKEY_EC);
    /* The signature follows the CA's key. */
    CU_ASSERT_EQUAL(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
    CU_ASSERT_EQUAL(X509_get_signature_nid(y), NID_sha256WithRSAEncryption);
    CU_ASSERT_EQUAL(verify(rsa_ca_x, y, "placer.streams", NULL), 0);
    X509_free(x);
    X509_free(y);
    X509_free(ca_x);
    X509_free(rsa_ca_x);
    certs_pair_free(&ca);
    certs_pair_free(&ec);
    certs_pair_free(&on_rsa);
}

static void t_validity(void)
{
    certs_pair ca = { NULL, NULL }, srv = { NULL, NULL }, dflt = { NULL, NULL };
    certs_pair shortca = { NULL, NULL }, capped = { NULL, NULL };
    int64_t not_after, now;
    X509 *x, *d, *c, *sca;
    sp_err err;

    make_ca(CERTS_KEY_ECDSA_P256, 100, &ca);
    make_serving(&ca, CERTS_KEY_ECDSA_P256, 30, &srv);
    make_serving(&ca, CERTS_KEY_ECDSA_P256, 0, &dflt);
    x = x509_of(srv.cert_pem);
    d = x509_of(dflt.cert_pem);
    /* notBefore five minutes back; notAfter days from now. */
    CU_ASSERT_TRUE(llabs(seconds_from_now(X509_get0_notBefore(x)) + 300) <= 5);
    CU_ASSERT_TRUE(llabs(seconds_from_now(X509_get0_notAfter(x)) - 30 * 86400) <= 5);
    /* 0 days: the default, a year, but capped at the CA's 100 days. */
    CU_ASSERT_TRUE(llabs(seconds_from_now(X509_get0_notAfter(d)) - 100 * 86400) <= 5);
    now = (int64_t)time(NULL);
    CU_ASSERT_EQUAL_FATAL(certs_not_after(srv.cert_pem, &not_after, &err), SP_OK);
    CU_ASSERT_TRUE(llabs(not_after - (now + 30 * 86400)) <= 5);
    /* A serving certificate never outlives its CA. */
    make_ca(CERTS_KEY_ECDSA_P256, 1, &shortca);
    make_serving(&shortca, CERTS_KEY_ECDSA_P256, 30, &capped);
    c = x509_of(capped.cert_pem);
    sca = x509_of(shortca.cert_pem);
    CU_ASSERT_EQUAL(ASN1_TIME_compare(X509_get0_notAfter(c), X509_get0_notAfter(sca)), 0);
    CU_ASSERT_EQUAL(certs_not_after("garbage", &not_after, &err), SP_EPARSE);
    SP_ASSERT_CONTAINS(err.msg, "not a PEM certificate");
    CU_ASSERT_EQUAL(ERR_peek_error(), 0);
    X509_free(x);
    X509_free(d);
    X509_free(c);
    X509_free(sca);
    certs_pair_free(&ca);
    certs_pair_free(&srv);
    certs_pair_free(&dflt);
    certs_pair_free(&shortca);
    certs_pair_free(&capped);
}

static void t_chain_verifies(void)
{
    certs_pair ca = { NULL, NULL }, other = { NULL, NULL }, srv = { NULL, NULL };
    X509 *ca_x, *other_x, *x;

    make_ca(CERTS_KEY_ECDSA_P256, 10, &ca);
    make_ca(CERTS_KEY_ECDSA_P256, 10, &other);
    make_serving(&ca, CERTS_KEY_ECDSA_P256, 5, &srv);
    ca_x = x509_of(ca.cert_pem);
    other_x = x509_of(other.cert_pem);
    x = x509_of(srv.cert_pem);
    CU_ASSERT_EQUAL(verify(ca_x, x, NULL, NULL), 0);
    for (size_t i = 0; i < N_TEST_DNS; i++)
        CU_ASSERT_EQUAL(verify(ca_x, x, test_dns[i], NULL), 0);
    CU_ASSERT_EQUAL(verify(ca_x, x, "anything.example.com", NULL), 0);  /* wildcard */
    for (size_t i = 0; i < N_TEST_IPS; i++)
        CU_ASSERT_EQUAL(verify(ca_x, x, NULL, test_ips[i]), 0);
    CU_ASSERT_EQUAL(verify(ca_x, x, "placer.other.svc", NULL),
                    X509_V_ERR_HOSTNAME_MISMATCH);
    CU_ASSERT_EQUAL(verify(ca_x, x, NULL, "10.9.9.9"), X509_V_ERR_IP_ADDRESS_MISMATCH);
    CU_ASSERT_EQUAL(verify(other_x, x, NULL, NULL),
                    X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    /* The CA itself is no TLS server certificate. */
    CU_ASSERT_NOT_EQUAL(verify(ca_x, ca_x, "placer", NULL), 0);
    X509_free(ca_x);
    X509_free(other_x);
    X509_free(x);
    certs_pair_free(&ca);
    certs_pair_free(&other);
    certs_pair_free(&srv);
}

typedef struct bad_case {
    const char *dns;        /* one DNS name, or NULL for none */
    const char *ip;         /* one IP, or NULL for none */
    const char *cn;
    int days;
    int key_type;
    const char *message;    /* expected in err.msg */
} bad_case;

static void t_bad_spec(void)
{
    static const bad_case cases[] = {
        { "bad_name", NULL, NULL, 0, 0, "'bad_name' is not a valid DNS name" },
        { "-a.example", NULL, NULL, 0, 0, "'-a.example' is not a valid DNS name" },
        { "a..example", NULL, NULL, 0, 0, "'a..example' is not a valid DNS name" },
        { "a.example.", NULL, NULL, 0, 0, "'a.example.' is not a valid DNS name" },
        { "a b", NULL, NULL, 0, 0, "'a b' is not a valid DNS name" },
        { "x,IP:1.2.3.4", NULL, NULL, 0, 0, "is not a valid DNS name" },
        { "a234567890123456789012345678901234567890123456789012345678901234.x", NULL,
          NULL, 0, 0, "is not a valid DNS name" },
        { "10.0.0.1", NULL, NULL, 0, 0,
          "DNS name '10.0.0.1' is an IP address; list it among the IP addresses" },
        { NULL, "300.1.1.1", NULL, 0, 0, "'300.1.1.1' is not an IPv4 or IPv6 address" },
        { NULL, "example.com", NULL, 0, 0,
          "'example.com' is not an IPv4 or IPv6 address" },
        { NULL, NULL, NULL, 0, 0, "a serving certificate needs at least one DNS name "
          "or IP address to cover" },
        { "a.example", NULL, NULL, -1, 0, "validity of -1 days is out of range" },
        { "a.example", NULL, NULL, 36501, 0, "validity of 36501 days is out of range" },
        { "a.example", NULL,
          "a2345678901234567890123456789012345678901234567890123456789012345", 0, 0,
          "must be 1 to 64 bytes" },
        { "a.example", NULL, "", 0, 0, "must be 1 to 64 bytes" },
        { "a.example", NULL, NULL, 0, 7, "unknown key type 7" },
    };
    certs_pair ca = { NULL, NULL }, out = { NULL, NULL };
    sp_err err;

    make_ca(CERTS_KEY_ECDSA_P256, 10, &ca);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const bad_case *c = &cases[i];
        certs_spec spec = {
            .common_name = c->cn, .dns = &c->dns, .n_dns = c->dns ? 1 : 0,
            .ips = &c->ip, .n_ips = c->ip ? 1 : 0, .days = c->days,
            .key_type = (certs_key_type)c->key_type,
        };

        sp_err_clear(&err);
        CU_ASSERT_EQUAL(certs_make_serving(&ca, &spec, &out, &err), SP_EINVAL);
        SP_ASSERT_CONTAINS(err.msg, c->message);
        CU_ASSERT_PTR_NULL(out.cert_pem);
        CU_ASSERT_PTR_NULL(out.key_pem);
        CU_ASSERT_EQUAL(ERR_peek_error(), 0);
    }
    CU_ASSERT_EQUAL(certs_make_ca(NULL, &out, &err), SP_EINVAL);
    certs_pair_free(&ca);
}

static void t_bad_ca(void)
{
    certs_pair ca = { NULL, NULL }, ca2 = { NULL, NULL }, srv = { NULL, NULL };
    certs_pair out = { NULL, NULL }, mixed;
    certs_spec spec = serving_spec(CERTS_KEY_ECDSA_P256, 5);
    sp_err err;

    make_ca(CERTS_KEY_ECDSA_P256, 10, &ca);
    make_ca(CERTS_KEY_ECDSA_P256, 10, &ca2);
    make_serving(&ca, CERTS_KEY_ECDSA_P256, 5, &srv);
    /* A serving certificate cannot sign. */
    CU_ASSERT_EQUAL(certs_make_serving(&srv, &spec, &out, &err), SP_EINVAL);
    SP_ASSERT_STR(err.msg, "the CA certificate is not a CA (no basicConstraints "
                  "CA:TRUE with keyCertSign); give a CA certificate");
    /* A CA certificate with another key. */
    mixed.cert_pem = ca.cert_pem;
    mixed.key_pem = ca2.key_pem;
    CU_ASSERT_EQUAL(certs_make_serving(&mixed, &spec, &out, &err), SP_EINVAL);
    SP_ASSERT_CONTAINS(err.msg, "the CA key does not belong to the CA certificate; "
                       "give the key it was created with: ");
    /* Not PEM at all: OpenSSL's reason travels with the message. */
    mixed.cert_pem = "not a certificate";
    CU_ASSERT_EQUAL(certs_make_serving(&mixed, &spec, &out, &err), SP_EPARSE);
    SP_ASSERT_CONTAINS(err.msg, "the CA certificate: not a PEM certificate");
    SP_ASSERT_CONTAINS(err.msg, "no start line");
    mixed.cert_pem = ca.cert_pem;
    mixed.key_pem = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    CU_ASSERT_EQUAL(certs_make_serving(&mixed, &spec, &out, &err), SP_EPARSE);
    SP_ASSERT_CONTAINS(err.msg, "the CA key: not an unencrypted PEM private key");
    CU_ASSERT_EQUAL(certs_make_serving(NULL, &spec, &out, &err), SP_EINVAL);
    CU_ASSERT_PTR_NULL(out.cert_pem);
    CU_ASSERT_EQUAL(ERR_peek_error(), 0);
    certs_pair_free(&ca);
    certs_pair_free(&ca2);
    certs_pair_free(&srv);
}

/* ------------------------------------------------------------------------ */
/* Files                                                                      */
/* ------------------------------------------------------------------------ */

static void t_write_and_load(void)
{
    certs_pair ca = { NULL, NULL }, srv = { NULL, NULL }, back = { NULL, NULL };
    char dir[PATH_BYTES], crt[PATH_BYTES], key[PATH_BYTES], slashed[PATH_BYTES];
    mode_t old = umask(0);   /* the key is 0600 whatever the umask */
    int temps;
    sp_err err;

    make_tmpdir(dir);
    join(crt, dir, "tls.crt");
    join(key, dir, "tls.key");
    make_ca(CERTS_KEY_ECDSA_P256, 10, &ca);
    make_serving(&ca, CERTS_KEY_ECDSA_P256, 5, &srv);
    CU_ASSERT_EQUAL_FATAL(certs_write_pair(dir, "tls", &srv, &err), SP_OK);
    CU_ASSERT_EQUAL(file_mode(key), 0600);
    CU_ASSERT_EQUAL(file_mode(crt), 0644);
    CU_ASSERT_EQUAL(count_entries(dir, &temps), 2);
    CU_ASSERT_EQUAL(temps, 0);
    CU_ASSERT_EQUAL_FATAL(certs_load_pair(crt, key, &back, &err), SP_OK);
    SP_ASSERT_STR(back.cert_pem, srv.cert_pem);
    SP_ASSERT_STR(back.key_pem, srv.key_pem);
    certs_pair_free(&back);
    /* Replacing: the new content, the same modes, nothing left behind. */
    umask(077);
    CU_ASSERT_EQUAL_FATAL(certs_write_pair(dir, "tls", &ca, &err), SP_OK);
    CU_ASSERT_EQUAL(file_mode(key), 0600);
    CU_ASSERT_EQUAL(file_mode(crt), 0600);  /* the umask applies to certificates */
    CU_ASSERT_EQUAL(count_entries(dir, &temps), 2);
    CU_ASSERT_EQUAL(temps, 0);
    CU_ASSERT_EQUAL_FATAL(certs_load_pair(crt, key, &back, &err), SP_OK);
    SP_ASSERT_STR(back.cert_pem, ca.cert_pem);
    certs_pair_free(&back);
    /* A trailing slash on the directory is fine. */
    join(slashed, dir, "");
    CU_ASSERT_EQUAL(certs_write_pair(slashed, "tls", &srv, &err), SP_OK);
    umask(old);
    rm_tree(dir);
    certs_pair_free(&ca);
    certs_pair_free(&srv);
}

static void t_key_permissions(void)
{
    static const mode_t refused[] = { 0644, 0604, 0660, 0602, 0610, 0624 };
    certs_pair ca = { NULL, NULL }, back = { NULL, NULL };
    char dir[PATH_BYTES], crt[PATH_BYTES], key[PATH_BYTES], want[3 * PATH_BYTES];
    sp_err err;

    make_tmpdir(dir);
    join(crt, dir, "ca.crt");
    join(key, dir, "open.key");
    make_ca(CERTS_KEY_ECDSA_P256, 10, &ca);
    write_file(crt, ca.cert_pem, 0644);
    write_file(key, ca.key_pem, 0644);
    CU_ASSERT_EQUAL(certs_load_pair(crt, key, &back, &err), SP_EINVAL);
    CU_ASSERT_FATAL(snprintf(want, sizeof(want), "%s: the private key may be accessed "
                             "by others or changed by its group (mode 0644); restrict it "
                             "with `chmod 600 %s` (or 640 for a group that must read it)",
                             key, key) > 0);
    SP_ASSERT_STR(err.msg, want);
    CU_ASSERT_PTR_NULL(back.cert_pem);
    CU_ASSERT_PTR_NULL(back.key_pem);
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        CU_ASSERT_FATAL(chmod(key, refused[i]) == 0);
        CU_ASSERT_EQUAL(certs_load_pair(crt, key, &back, &err), SP_EINVAL);
        SP_ASSERT_CONTAINS(err.msg, "restrict it with `chmod 600");
    }
    CU_ASSERT_FATAL(chmod(key, 0400) == 0);
    CU_ASSERT_EQUAL(certs_load_pair(crt, key, &back, &err), SP_OK);
    certs_pair_free(&back);
    CU_ASSERT_FATAL(chmod(key, 0440) == 0); /* a Secret mounted for an fsGroup */
    CU_ASSERT_EQUAL(certs_load_pair(crt, key, &back, &err), SP_OK);
    certs_pair_free(&back);
    /* The certificate itself may be world-readable. */
    CU_ASSERT_EQUAL(file_mode(crt), 0644);
    rm_tree(dir);
    certs_pair_free(&ca);
}

static void t_load_refusals(void)
{
    certs_pair a = { NULL, NULL }, b = { NULL, NULL }, back = { NULL, NULL };
    char dir[PATH_BYTES], crt[PATH_BYTES], key[PATH_BYTES], want[3 * PATH_BYTES];
    char bad[PATH_BYTES], big[PATH_BYTES], enc[PATH_BYTES], *blob;
    EVP_PKEY *k;
    BIO *bio;
    sp_err err;

    make_tmpdir(dir);
    join(crt, dir, "a.crt");
    join(key, dir, "b.key");
    make_ca(CERTS_KEY_ECDSA_P256, 10, &a);
    make_ca(CERTS_KEY_ECDSA_P256, 10, &b);
    write_file(crt, a.cert_pem, 0644);
    write_file(key, b.key_pem, 0600);
    /* A key that belongs to another certificate. */
    CU_ASSERT_EQUAL(certs_load_pair(crt, key, &back, &err), SP_EINVAL);
    CU_ASSERT_FATAL(snprintf(want, sizeof(want), "%s does not belong to %s: the key "
                             "does not match the certificate's public key; give the "
                             "key the certificate was created with: ", key, crt) > 0);
    SP_ASSERT_CONTAINS(err.msg, want);
    CU_ASSERT_PTR_NULL(back.cert_pem);
    /* Missing, not PEM, not a file, too big. */
    join(bad, dir, "missing.crt");
    CU_ASSERT_EQUAL(certs_load_pair(bad, key, &back, &err), SP_ENOTFOUND);
    SP_ASSERT_CONTAINS(err.msg, "missing.crt: cannot open: No such file or directory");
    write_file(key, "not a key\n", 0600);
    CU_ASSERT_EQUAL(certs_load_pair(crt, key, &back, &err), SP_EPARSE);
    SP_ASSERT_CONTAINS(err.msg, "b.key: not an unencrypted PEM private key");
    CU_ASSERT_EQUAL(certs_load_pair(crt, dir, &back, &err), SP_EINVAL);
    SP_ASSERT_CONTAINS(err.msg, ": not a regular file");
    join(big, dir, "big.crt");
    blob = sp_malloc((1u << 20) + 2);
    CU_ASSERT_FATAL(blob != NULL);
    memset(blob, 'A', (1u << 20) + 1);
    blob[(1u << 20) + 1] = '\0';
    write_file(big, blob, 0644);
    sp_free(blob);
    CU_ASSERT_EQUAL(certs_read_cert(big, &blob, &err), SP_ELIMIT);
    SP_ASSERT_CONTAINS(err.msg, "big.crt: 1048577 bytes, more than the 1048576");
    /* An encrypted key is refused without asking for a pass phrase. */
    join(enc, dir, "enc.key");
    k = key_of(a.key_pem);
    bio = BIO_new(BIO_s_mem());
    CU_ASSERT_FATAL(PEM_write_bio_PKCS8PrivateKey(bio, k, EVP_aes_256_cbc(), NULL, 0,
                                                  NULL, (void *)"secret") == 1);
    CU_ASSERT_FATAL(BIO_write(bio, "", 1) == 1);
    {
        char *data;

        CU_ASSERT_FATAL(BIO_get_mem_data(bio, &data) > 0);
        write_file(enc, data, 0600);
    }
    CU_ASSERT_EQUAL(certs_load_pair(crt, enc, &back, &err), SP_EPARSE);
    SP_ASSERT_CONTAINS(err.msg, "encrypted keys are not supported");
    CU_ASSERT_EQUAL(ERR_peek_error(), 0);
    BIO_free(bio);
    EVP_PKEY_free(k);
    /* certs_read_cert: the text of a good file, NULL otherwise. */
    CU_ASSERT_EQUAL(certs_read_cert(crt, &blob, &err), SP_OK);
    SP_ASSERT_STR(blob, a.cert_pem);
    sp_free(blob);
    CU_ASSERT_EQUAL(certs_read_cert(key, &blob, &err), SP_EPARSE);
    CU_ASSERT_PTR_NULL(blob);
    rm_tree(dir);
    certs_pair_free(&a);
    certs_pair_free(&b);
}

static void t_write_failures(void)
{
    certs_pair ca = { NULL, NULL }, empty = { NULL, NULL };
    char dir[PATH_BYTES], sub[PATH_BYTES], missing[PATH_BYTES];
    int temps;
    sp_err err;

    make_tmpdir(dir);
    make_ca(CERTS_KEY_ECDSA_P256, 10, &ca);
    /* The key's name is taken by a directory: nothing replaced or left. */
    join(sub, dir, "tls.key");
    CU_ASSERT_FATAL(mkdir(sub, 0700) == 0);
    CU_ASSERT_EQUAL(certs_write_pair(dir, "tls", &ca, &err), SP_EIO);
    SP_ASSERT_CONTAINS(err.msg, "tls.key: cannot replace it: Is a directory");
    CU_ASSERT_EQUAL(count_entries(dir, &temps), 1);
    CU_ASSERT_EQUAL(temps, 0);
    /* No such directory. */
    join(missing, dir, "no/such");
    CU_ASSERT_EQUAL(certs_write_pair(missing, "tls", &ca, &err), SP_EIO);
    SP_ASSERT_CONTAINS(err.msg, "no/such/tls.key: cannot create a temporary file next "
                       "to it: No such file or directory; check that the directory "
                       "exists and is writable");
    CU_ASSERT_EQUAL(certs_write_pair(dir, "a/b", &ca, &err), SP_EINVAL);
    CU_ASSERT_EQUAL(certs_write_pair(dir, ".hidden", &ca, &err), SP_EINVAL);
    CU_ASSERT_EQUAL(certs_write_pair(dir, "", &ca, &err), SP_EINVAL);
    CU_ASSERT_EQUAL(certs_write_pair(dir, "x", &empty, &err), SP_EINVAL);
    CU_ASSERT_EQUAL(count_entries(dir, &temps), 1);
    rm_tree(dir);
    certs_pair_free(&ca);
}

/* ------------------------------------------------------------------------ */
/* The standalone default                                                     */
/* ------------------------------------------------------------------------ */

static void ensure(const char *dir, const char *const *extra, size_t n_extra,
                   certs_pair *out, bool *created, sp_rc want)
{
    char *cert_path = NULL, *key_path = NULL;
    sp_err err;
    sp_rc rc;

    sp_err_clear(&err);
    rc = certs_ensure_self_signed(dir, extra, n_extra, out, &cert_path, &key_path,
                                  created, &err);
    if (rc != want)
        fprintf(stderr, "\n  certs_ensure_self_signed: %s\n", err.msg);
    CU_ASSERT_EQUAL_FATAL(rc, want);
    if (rc == SP_OK) {
        char *crt = slurp(cert_path);

        SP_ASSERT_STR(crt, out->cert_pem);
        CU_ASSERT_PTR_NOT_NULL(strstr(cert_path, "/serving.crt"));
        CU_ASSERT_PTR_NOT_NULL(strstr(key_path, "/serving.key"));
        sp_free(crt);
    } else {
        CU_ASSERT_PTR_NULL(cert_path);
        CU_ASSERT_PTR_NULL(out->cert_pem);
    }
    sp_free(cert_path);
    sp_free(key_path);
}

static void t_ensure_self_signed(void)
{
    static const char *const extra[] = { "placer.local", "placer.streams.svc" };
    certs_pair first = { NULL, NULL }, again = { NULL, NULL }, third = { NULL, NULL };
    char top[PATH_BYTES], dir[PATH_BYTES], path[PATH_BYTES];
    char *ca_before, *ca_after;
    X509 *ca_x, *x;
    bool created = false;
    int temps;

    make_tmpdir(top);
    join(dir, top, "state/certs");
    ensure(dir, extra, 2, &first, &created, SP_OK);
    CU_ASSERT_TRUE(created);
    CU_ASSERT_EQUAL(file_mode(dir), 0700);
    CU_ASSERT_EQUAL(count_entries(dir, &temps), 4);
    CU_ASSERT_EQUAL(temps, 0);
    join(path, dir, "serving.key");
    CU_ASSERT_EQUAL(file_mode(path), 0600);
    join(path, dir, "ca.key");
    CU_ASSERT_EQUAL(file_mode(path), 0600);
    join(path, dir, "ca.crt");
    ca_before = slurp(path);
    ca_x = x509_of(ca_before);
    x = x509_of(first.cert_pem);
    CU_ASSERT_EQUAL(verify(ca_x, x, "localhost", NULL), 0);
    CU_ASSERT_EQUAL(verify(ca_x, x, NULL, "127.0.0.1"), 0);
    CU_ASSERT_EQUAL(verify(ca_x, x, NULL, "::1"), 0);
    CU_ASSERT_EQUAL(verify(ca_x, x, "placer.local", NULL), 0);
    CU_ASSERT_EQUAL(verify(ca_x, x, "placer.streams.svc", NULL), 0);
    X509_free(x);
    /* Second start: the same pair, loaded. */
    ensure(dir, extra, 2, &again, &created, SP_OK);
    CU_ASSERT_FALSE(created);
    SP_ASSERT_STR(again.cert_pem, first.cert_pem);
    SP_ASSERT_STR(again.key_pem, first.key_pem);
    /* The serving key lost: a new pair from the same CA. */
    join(path, dir, "serving.key");
    CU_ASSERT_FATAL(unlink(path) == 0);
    ensure(dir, NULL, 0, &third, &created, SP_OK);
    CU_ASSERT_TRUE(created);
    CU_ASSERT_NOT_EQUAL(strcmp(third.cert_pem, first.cert_pem), 0);
    join(path, dir, "ca.crt");
    ca_after = slurp(path);
    SP_ASSERT_STR(ca_after, ca_before);
    x = x509_of(third.cert_pem);
    CU_ASSERT_EQUAL(verify(ca_x, x, "localhost", NULL), 0);
    X509_free(x);
    X509_free(ca_x);
    sp_free(ca_before);
    sp_free(ca_after);
    certs_pair_free(&first);
    certs_pair_free(&again);
    certs_pair_free(&third);
    rm_tree(top);
}

static void t_ensure_refusals(void)
{
    static const char *const bad_extra[] = { "bad_name" };
    certs_pair out = { NULL, NULL };
    char top[PATH_BYTES], path[PATH_BYTES], ca_key[PATH_BYTES];
    char *cert_path, *key_path;
    bool created = true;
    int temps;
    sp_err err;

    make_tmpdir(top);
    /* A bad extra name: refused before anything is written. */
    CU_ASSERT_EQUAL(certs_ensure_self_signed(top, bad_extra, 1, &out, &cert_path,
                                             &key_path, &created, &err), SP_EINVAL);
    SP_ASSERT_CONTAINS(err.msg, "'bad_name' is not a valid DNS name");
    CU_ASSERT_FALSE(created);
    CU_ASSERT_EQUAL(count_entries(top, &temps), 0);
    /* A serving key others can read is reported, never replaced. */
    ensure(top, NULL, 0, &out, &created, SP_OK);
    certs_pair_free(&out);
    join(path, top, "serving.key");
    CU_ASSERT_FATAL(chmod(path, 0644) == 0);
    CU_ASSERT_EQUAL(certs_ensure_self_signed(top, NULL, 0, &out, &cert_path, &key_path,
                                             &created, &err), SP_EINVAL);
    SP_ASSERT_CONTAINS(err.msg, "restrict it with `chmod 600");
    CU_ASSERT_EQUAL(file_mode(path), 0644);
    /* Half a CA is not overwritten. */
    CU_ASSERT_FATAL(unlink(path) == 0);
    join(path, top, "ca.crt");
    CU_ASSERT_FATAL(unlink(path) == 0);
    join(ca_key, top, "ca.key");
    CU_ASSERT_EQUAL(certs_ensure_self_signed(top, NULL, 0, &out, &cert_path, &key_path,
                                             &created, &err), SP_ECONFLICT);
    SP_ASSERT_CONTAINS(err.msg, ca_key);
    SP_ASSERT_CONTAINS(err.msg, "exists without");
    /* A file where the directory should be. */
    join(path, top, "serving.crt");
    CU_ASSERT_EQUAL(certs_ensure_self_signed(path, NULL, 0, &out, &cert_path, &key_path,
                                             &created, &err), SP_EIO);
    SP_ASSERT_CONTAINS(err.msg, "exists and is not a directory");
    CU_ASSERT_EQUAL(ERR_peek_error(), 0);
    rm_tree(top);
}

/* ------------------------------------------------------------------------ */
/* Describing                                                                 */
/* ------------------------------------------------------------------------ */

static void t_describe(void)
{
    certs_pair ca = { NULL, NULL };
    certs_info info;
    sp_err err;

    rsa_fixture();
    make_ca(CERTS_KEY_ECDSA_P256, 10, &ca);
    CU_ASSERT_EQUAL_FATAL(certs_describe(rsa_srv.cert_pem, &info, &err), SP_OK);
    SP_ASSERT_STR(info.subject, "CN=placer.streams.svc");
    SP_ASSERT_STR(info.issuer, "CN=test CA");
    SP_ASSERT_STR(info.key, "RSA 2048");
    CU_ASSERT_FALSE(info.is_ca);
    CU_ASSERT_EQUAL_FATAL(info.n_dns, N_TEST_DNS);
    for (size_t i = 0; i < N_TEST_DNS; i++)
        SP_ASSERT_STR(info.dns[i], test_dns[i]);
    CU_ASSERT_EQUAL_FATAL(info.n_ips, N_TEST_IPS);
    for (size_t i = 0; i < N_TEST_IPS; i++)
        SP_ASSERT_STR(info.ips[i], test_ips[i]);
    /* Two reads of the clock: allow a second between them. */
    CU_ASSERT_TRUE(llabs(info.not_after - info.not_before - (5 * 86400 + 300)) <= 1);
    CU_ASSERT_TRUE(strlen(info.serial) >= 16);
    certs_info_free(&info);
    CU_ASSERT_EQUAL_FATAL(certs_describe(ca.cert_pem, &info, &err), SP_OK);
    SP_ASSERT_STR(info.key, "ECDSA P-256");
    CU_ASSERT_TRUE(info.is_ca);
    CU_ASSERT_EQUAL(info.n_dns + info.n_ips, 0);
    certs_info_free(&info);
    certs_info_free(&info);
    certs_info_free(NULL);
    CU_ASSERT_EQUAL(certs_describe("junk", &info, &err), SP_EPARSE);
    CU_ASSERT_PTR_NULL(info.subject);
    certs_pair_free(&ca);
}

/* ------------------------------------------------------------------------ */
/* Running out of memory                                                      */
/* ------------------------------------------------------------------------ */

typedef struct oom_ctx {
    certs_pair ca;
    char dir[PATH_BYTES];
    char crt[PATH_BYTES];
    char key[PATH_BYTES];
} oom_ctx;

typedef sp_rc (*oom_fn)(oom_ctx *c, sp_err *err);

/* Run fn with the 1st, 2nd, ... allocation failing until it succeeds: each
 * failure must be SP_ENOMEM, leave no temporaries and no OpenSSL error. */
static void oom_loop(const char *what, oom_fn fn, oom_ctx *c)
{
    bool done = false;
    int temps;

    for (long n = 0; !done && n < 10000; n++) {
        sp_err err;
        sp_rc rc;

        sp_err_clear(&err);
        sp_alloc_fail_after(n);
        rc = fn(c, &err);
        sp_alloc_fail_after(-1);
        done = rc == SP_OK;
        if (!done && rc != SP_ENOMEM)
            fprintf(stderr, "\n  %s, allocation %ld: rc %d %s\n", what, n, (int)rc,
                    err.msg);
        CU_ASSERT_TRUE(done || rc == SP_ENOMEM);
        CU_ASSERT_EQUAL(ERR_peek_error(), 0);
        count_entries(c->dir, &temps);
        CU_ASSERT_EQUAL(temps, 0);
    }
    CU_ASSERT_TRUE(done);
}

static sp_rc oom_names(oom_ctx *c, sp_err *err)
{
    char **v;
    size_t n;
    sp_rc rc = certs_service_names("placer", "streams", &v, &n);

    (void)c;
    (void)err;
    if (!rc)
        sp_strv_free(v, n);
    return rc;
}

static sp_rc oom_make(oom_ctx *c, sp_err *err)
{
    certs_spec spec = serving_spec(CERTS_KEY_ECDSA_P256, 5);
    certs_pair ca = { NULL, NULL }, srv = { NULL, NULL };
    sp_rc rc = certs_make_ca(&spec, &ca, err);

    if (!rc)
        rc = certs_make_serving(&ca, &spec, &srv, err);
    (void)c;
    certs_pair_free(&ca);
    certs_pair_free(&srv);
    return rc;
}

static sp_rc oom_write_load(oom_ctx *c, sp_err *err)
{
    certs_pair back = { NULL, NULL };
    sp_rc rc = certs_write_pair(c->dir, "tls", &c->ca, err);

    if (!rc)
        rc = certs_load_pair(c->crt, c->key, &back, err);
    certs_pair_free(&back);
    return rc;
}

static sp_rc oom_describe(oom_ctx *c, sp_err *err)
{
    certs_info info;
    char *pem = NULL;
    int64_t t;
    sp_rc rc = certs_read_cert(c->crt, &pem, err);

    if (!rc)
        rc = certs_describe(pem, &info, err);
    if (!rc) {
        certs_info_free(&info);
        rc = certs_not_after(pem, &t, err);
    }
    sp_free(pem);
    return rc;
}

static sp_rc oom_ensure(oom_ctx *c, sp_err *err)
{
    static const char *const extra[] = { "placer.local" };
    certs_pair out = { NULL, NULL };
    char sub[PATH_BYTES], *cert_path = NULL, *key_path = NULL;
    bool created;
    sp_rc rc;

    join(sub, c->dir, "self");
    rm_tree(sub);
    rc = certs_ensure_self_signed(sub, extra, 1, &out, &cert_path, &key_path,
                                  &created, err);
    if (!rc) {
        certs_pair_free(&out);
        sp_free(cert_path);
        sp_free(key_path);
        /* and once more, loading */
        rc = certs_ensure_self_signed(sub, extra, 1, &out, &cert_path, &key_path,
                                      &created, err);
    }
    certs_pair_free(&out);
    sp_free(cert_path);
    sp_free(key_path);
    return rc;
}

static void t_out_of_memory(void)
{
    oom_ctx c;
    char sub[PATH_BYTES];
    int temps;

    memset(&c, 0, sizeof(c));
    make_tmpdir(c.dir);
    join(c.crt, c.dir, "tls.crt");
    join(c.key, c.dir, "tls.key");
    make_ca(CERTS_KEY_ECDSA_P256, 10, &c.ca);
    oom_loop("service names", oom_names, &c);
    oom_loop("make", oom_make, &c);
    oom_loop("write and load", oom_write_load, &c);
    oom_loop("describe", oom_describe, &c);
    oom_loop("ensure", oom_ensure, &c);
    join(sub, c.dir, "self");
    count_entries(sub, &temps);
    CU_ASSERT_EQUAL(temps, 0);
    CU_ASSERT_TRUE(sp_alloc_injected_failures() > 0);
    certs_pair_free(&c.ca);
    rm_tree(c.dir);
}

int main(void)
{
    static const sp_test tests[] = {
        SP_TEST(t_service_names),
        SP_TEST(t_ca_ecdsa),
        SP_TEST(t_serving_rsa),
        SP_TEST(t_serving_ecdsa_mixed),
        SP_TEST(t_validity),
        SP_TEST(t_chain_verifies),
        SP_TEST(t_bad_spec),
        SP_TEST(t_bad_ca),
        SP_TEST(t_write_and_load),
        SP_TEST(t_key_permissions),
        SP_TEST(t_load_refusals),
        SP_TEST(t_write_failures),
        SP_TEST(t_ensure_self_signed),
        SP_TEST(t_ensure_refusals),
        SP_TEST(t_describe),
        SP_TEST(t_out_of_memory),
        SP_TEST_END,
    };

    int status = sp_test_run("certs", tests);

    certs_pair_free(&rsa_ca);
    certs_pair_free(&rsa_srv);
    return status;
}
