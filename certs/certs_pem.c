/*
 * The certs module's OpenSSL glue: turning OpenSSL's thread-local error
 * queue into one readable sp_err (and leaving the queue empty, so that a
 * stale entry never shows up in a later, unrelated message), converting PEM
 * text to and from X509 and EVP_PKEY objects, ASN.1 times to unix seconds,
 * and the DNS-name rule every SAN must pass. Key text goes through a secure
 * memory BIO and is wiped before it is freed.
 */
#include "certs/certs_internal.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/sp_alloc.h"

/* ------------------------------------------------------------------------ */
/* Errors                                                                     */
/* ------------------------------------------------------------------------ */

/* Append OpenSSL's queued errors to detail ("; "-separated, truncated to
 * fit) and empty the queue. True when one of them was a failed allocation. */
static bool drain_queue(char *detail, size_t size)
{
    size_t used = 0;
    bool nomem = false;
    unsigned long e;

    detail[0] = '\0';
    while ((e = ERR_get_error()) != 0) {
        char one[256];
        int n;

        if (ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE)
            nomem = true;
        if (used + 1 >= size)
            continue;       /* full: keep draining */
        ERR_error_string_n(e, one, sizeof(one));
        n = snprintf(detail + used, size - used, "%s%s", used ? "; " : "", one);
        if (n < 0 || (size_t)n >= size - used)
            used = size - 1;
        else
            used += (size_t)n;
    }
    ERR_clear_error();
    return nomem;
}

sp_rc certs_ssl_fail(sp_err *err, sp_rc rc, const char *fmt, ...)
{
    char what[SP_ERR_MSG_MAX];
    char detail[SP_ERR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    if (vsnprintf(what, sizeof(what), fmt, ap) < 0)
        what[0] = '\0';
    va_end(ap);
    if (drain_queue(detail, sizeof(detail)))
        rc = SP_ENOMEM;
    return sp_err_set(err, rc, "%s: %s", what,
                      detail[0] ? detail : "OpenSSL gave no detail");
}

/* ------------------------------------------------------------------------ */
/* PEM                                                                        */
/* ------------------------------------------------------------------------ */

/* Never prompt for a pass phrase: encrypted keys are refused. */
int certs_no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

sp_rc certs_x509_from_pem(const char *pem, const char *what, X509 **out,
                          sp_err *err)
{
    BIO *bio = NULL;
    sp_rc rc = SP_OK;

    *out = NULL;
    if (!pem)
        return sp_err_set(err, SP_EINVAL, "%s: no certificate given", what);
    bio = BIO_new_mem_buf(pem, -1);
    if (!bio) {
        rc = certs_ssl_fail(err, SP_ENOMEM, "%s: cannot read it", what);
        goto out;
    }
    *out = PEM_read_bio_X509(bio, NULL, certs_no_passphrase, NULL);
    if (!*out)
        rc = certs_ssl_fail(err, SP_EPARSE,
                            "%s: not a PEM certificate (a \"BEGIN CERTIFICATE\" "
                            "block is expected)", what);
out:
    BIO_free(bio);
    return rc;
}

sp_rc certs_key_from_pem(const char *pem, const char *what, EVP_PKEY **out,
                         sp_err *err)
{
    BIO *bio = NULL;
    sp_rc rc = SP_OK;

    *out = NULL;
    if (!pem)
        return sp_err_set(err, SP_EINVAL, "%s: no private key given", what);
    bio = BIO_new_mem_buf(pem, -1);
    if (!bio) {
        rc = certs_ssl_fail(err, SP_ENOMEM, "%s: cannot read it", what);
        goto out;
    }
    *out = PEM_read_bio_PrivateKey(bio, NULL, certs_no_passphrase, NULL);
    if (!*out)
        rc = certs_ssl_fail(err, SP_EPARSE,
                            "%s: not an unencrypted PEM private key (a \"BEGIN "
                            "PRIVATE KEY\" block is expected; encrypted keys are "
                            "not supported)", what);
out:
    BIO_free(bio);
    return rc;
}

sp_rc certs_bio_string(BIO *bio, char **out, sp_err *err)
{
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);

    *out = sp_strndup(len > 0 ? data : "", len > 0 ? (size_t)len : 0);
    if (!*out)
        return sp_err_set(err, SP_ENOMEM, "out of memory copying OpenSSL's output");
    return SP_OK;
}

sp_rc certs_x509_to_pem(X509 *x, char **out, sp_err *err)
{
    BIO *bio = BIO_new(BIO_s_mem());
    sp_rc rc;

    *out = NULL;
    if (!bio)
        return certs_ssl_fail(err, SP_ENOMEM, "cannot encode the certificate");
    if (!PEM_write_bio_X509(bio, x))
        rc = certs_ssl_fail(err, SP_EINTERNAL, "cannot encode the certificate");
    else
        rc = certs_bio_string(bio, out, err);
    BIO_free(bio);
    return rc;
}

sp_rc certs_key_to_pem(EVP_PKEY *key, char **out, sp_err *err)
{
    BIO *bio = BIO_new(BIO_s_secmem()); /* wiped when freed */
    sp_rc rc;

    *out = NULL;
    if (!bio)
        return certs_ssl_fail(err, SP_ENOMEM, "cannot encode the private key");
    if (!PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL))
        rc = certs_ssl_fail(err, SP_EINTERNAL, "cannot encode the private key");
    else
        rc = certs_bio_string(bio, out, err);
    BIO_free(bio);
    return rc;
}

void certs_free_secret(char *s)
{
    if (!s)
        return;
    OPENSSL_cleanse(s, strlen(s));
    sp_free(s);
}

/* ------------------------------------------------------------------------ */
/* Times and names                                                            */
/* ------------------------------------------------------------------------ */

/* Days from 1970-01-01 to the civil date y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

sp_rc certs_time_to_unix(const ASN1_TIME *t, int64_t *out, sp_err *err)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    if (!t || !ASN1_TIME_to_tm(t, &tm))
        return certs_ssl_fail(err, SP_EPARSE, "the certificate holds a malformed time");
    *out = days_from_civil((int64_t)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday) *
               86400 +
           tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
    return SP_OK;
}

/* One label: 1 to 63 letters, digits and '-', not starting or ending in '-'. */
static bool valid_label(const char *s, size_t len)
{
    if (len == 0 || len > CERTS_MAX_DNS_LABEL || s[0] == '-' || s[len - 1] == '-')
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}

bool certs_valid_dns_name(const char *s)
{
    if (!s || !*s || strlen(s) > CERTS_MAX_DNS_NAME)
        return false;
    if (strncmp(s, "*.", 2) == 0)
        s += 2;
    for (;;) {
        const char *dot = strchr(s, '.');
        size_t len = dot ? (size_t)(dot - s) : strlen(s);

        if (!valid_label(s, len))
            return false;
        if (!dot)
            return true;
        s = dot + 1;
    }
}
