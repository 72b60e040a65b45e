/*
 * Small helpers of the API client: reading a credential file whole with a
 * hard size cap, decoding the base64 of a kubeconfig's *-data fields, and
 * trimming the white space a token or namespace file ends with.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kapi/kapi_internal.h"
#include "util/sp_alloc.h"

sp_rc kapi_read_file(const char *path, size_t max, char **out, size_t *len, sp_err *err)
{
    sp_buf buf;
    char chunk[4096];
    sp_rc rc = SP_OK;
    int fd;

    *out = NULL;
    *len = 0;
    sp_buf_init(&buf, max);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sp_err_set(err, SP_EIO, "%s", strerror(errno));
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = sp_err_set(err, SP_EIO, "%s", strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        rc = sp_buf_append(&buf, chunk, (size_t)n);
        if (rc == SP_ELIMIT)
            rc = sp_err_set(err, SP_EIO, "larger than %zu bytes", max);
        else if (rc)
            rc = sp_err_set(err, rc, "out of memory");
        if (rc)
            goto out;
    }
    *len = buf.len;
    *out = sp_buf_take(&buf);
    if (!*out)
        rc = sp_err_set(err, SP_ENOMEM, "out of memory");
out:
    (void)close(fd);
    sp_buf_free(&buf);
    return rc;
}

/* The value of a base64 digit, -1 for anything else. */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

sp_rc kapi_base64_decode(const char *s, size_t n, unsigned char **out, size_t *len)
{
    unsigned char *dst;
    uint32_t acc = 0;
    size_t digits = 0, pad = 0, o = 0;

    *out = NULL;
    *len = 0;
    dst = sp_malloc(n / 4 * 3 + 3);
    if (!dst)
        return SP_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int v = b64_value(c);
        if (is_space(c))
            continue;
        if (c == '=' && digits % 4 >= 2) {
            pad++;
            digits++;
            continue;
        }
        if (v < 0 || pad)
            goto bad;
        acc = acc << 6 | (uint32_t)v;
        digits++;
        if (digits % 4 == 0) {
            dst[o++] = (unsigned char)(acc >> 16);
            dst[o++] = (unsigned char)(acc >> 8);
            dst[o++] = (unsigned char)acc;
            acc = 0;
        }
    }
    if (digits % 4 != 0 || pad > 2)
        goto bad;
    if (pad) {
        /* The last group held 4 - pad digits: shift them into place. */
        acc <<= 6 * pad;
        dst[o++] = (unsigned char)(acc >> 16);
        if (pad == 1)
            dst[o++] = (unsigned char)(acc >> 8);
    }
    *out = dst;
    *len = o;
    return SP_OK;
bad:
    sp_free(dst);
    return SP_EPARSE;
}

char *kapi_trim_dup(const char *s, size_t n)
{
    while (n && is_space((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && is_space((unsigned char)s[n - 1]))
        n--;
    return sp_strndup(s, n);
}
