/*
 * Certificates and keys on disk. Writing is atomic per file: the content goes
 * to a temporary file in the same directory, created with its final mode
 * (0600 for a key, so that no moment exists where another user could open
 * it; 0644 for a certificate, both less the umask), flushed with fsync, and
 * renamed over the target; the directory is then synced. A pair is written
 * as "both temporaries first, then both renames", so a failure while writing
 * leaves the old pair intact and no temporary behind. Reading opens the file
 * once and checks the mode of what was opened (fstat, no race with a
 * chmod or a swapped symlink): a private key that others may read
 * is refused with the chmod that fixes it. Files are capped in size.
 */
#include "certs/certs_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/x509.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "util/sp_alloc.h"
#include "util/sp_buf.h"

#define CERTS_KEY_MODE 0600
#define CERTS_CERT_MODE 0644
#define CERTS_DIR_MODE 0700
#define CERTS_TMP_TRIES 100   /* temporary names tried before giving up */

/* ------------------------------------------------------------------------ */
/* Paths and directories                                                      */
/* ------------------------------------------------------------------------ */

char *certs_path_join(const char *dir, const char *base, const char *ext)
{
    sp_buf b;
    size_t dlen = strlen(dir);
    bool slash = dlen > 0 && dir[dlen - 1] == '/';

    sp_buf_init(&b, (size_t)-2);
    if (sp_buf_printf(&b, "%s%s%s%s", dir, slash ? "" : "/", base, ext)) {
        sp_buf_free(&b);
        return NULL;
    }
    return sp_buf_take(&b);
}

bool certs_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

/* mkdir one component; an existing directory is fine. */
static sp_rc make_one_dir(const char *path, sp_err *err)
{
    struct stat st;
    int saved;

    if (mkdir(path, CERTS_DIR_MODE) == 0)
        return SP_OK;
    saved = errno;
    if (saved != EEXIST)
        return sp_err_set(err, SP_EIO, "%s: cannot create the directory: %s", path,
                          strerror(saved));
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return SP_OK;
    return sp_err_set(err, SP_EIO, "%s: exists and is not a directory; give a "
                      "directory path", path);
}

sp_rc certs_mkdir_p(const char *dir, sp_err *err)
{
    char *copy = NULL;
    sp_rc rc = SP_OK;

    if (!dir || !*dir)
        return sp_err_set(err, SP_EINVAL, "no directory given");
    if (certs_exists(dir))
        return make_one_dir(dir, err);
    copy = sp_strdup(dir);
    if (!copy)
        return sp_err_set(err, SP_ENOMEM, "out of memory");
    for (char *p = copy + 1; *p && !rc; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        rc = make_one_dir(copy, err);
        *p = '/';
    }
    if (!rc)
        rc = make_one_dir(copy, err);
    sp_free(copy);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                    */
/* ------------------------------------------------------------------------ */

/* Refuse what fstat says is not a file we may read as asked. */
static sp_rc check_opened(const char *path, const struct stat *st, bool is_key,
                          sp_err *err)
{
    if (!S_ISREG(st->st_mode))
        return sp_err_set(err, SP_EINVAL, "%s: not a regular file", path);
    /* Group read is allowed (0640, 0440: a Secret mounted for an fsGroup),
     * as PostgreSQL allows it; anything for others, or group write, is not. */
    if (is_key && (st->st_mode & (S_IRWXO | S_IWGRP | S_IXGRP)))
        return sp_err_set(err, SP_EINVAL,
                          "%s: the private key may be accessed by others or changed by "
                          "its group (mode %04o); restrict it with `chmod 600 %s` (or 640 "
                          "for a group that must read it)", path,
                          (unsigned)(st->st_mode & 07777), path);
    if (st->st_size > (off_t)CERTS_MAX_FILE_BYTES)
        return sp_err_set(err, SP_ELIMIT, "%s: %lld bytes, more than the %u a "
                          "certificate or key file may hold", path,
                          (long long)st->st_size, CERTS_MAX_FILE_BYTES);
    return SP_OK;
}

/* Read exactly size bytes (the size fstat gave) and check that nothing
 * follows: a file that grows while being read is refused. */
static sp_rc read_all(int fd, const char *path, char *data, size_t size, sp_err *err)
{
    size_t got = 0;
    char extra;
    ssize_t n;

    while (got < size) {
        n = read(fd, data + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return sp_err_set(err, SP_EIO, "%s: cannot read: %s", path,
                              strerror(errno));
        if (n == 0)
            return sp_err_set(err, SP_EIO, "%s: changed while being read", path);
        got += (size_t)n;
    }
    do
        n = read(fd, &extra, 1);
    while (n < 0 && errno == EINTR);
    if (n != 0)
        return sp_err_set(err, SP_EIO, "%s: changed while being read", path);
    data[size] = '\0';
    return SP_OK;
}

sp_rc certs_read_file(const char *path, bool is_key, char **data, sp_err *err)
{
    struct stat st;
    char *buf = NULL;
    size_t size = 0;
    sp_rc rc;
    int fd;

    *data = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return sp_err_set(err, errno == ENOENT ? SP_ENOTFOUND : SP_EIO,
                          "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        rc = sp_err_set(err, SP_EIO, "%s: cannot stat: %s", path, strerror(errno));
        goto out;
    }
    rc = check_opened(path, &st, is_key, err);
    if (rc)
        goto out;
    size = (size_t)st.st_size;
    buf = sp_malloc(size + 1);
    if (!buf) {
        rc = sp_err_set(err, SP_ENOMEM, "%s: out of memory reading it", path);
        goto out;
    }
    rc = read_all(fd, path, buf, size, err);
    if (rc)
        goto out;
    *data = buf;
    buf = NULL;
out:
    if (buf) {
        OPENSSL_cleanse(buf, size + 1);
        sp_free(buf);
    }
    close(fd);
    return rc;
}

sp_rc certs_read_cert(const char *path, char **pem, sp_err *err)
{
    X509 *x = NULL;
    sp_rc rc;

    *pem = NULL;
    rc = certs_read_file(path, false, pem, err);
    if (rc)
        return rc;
    rc = certs_x509_from_pem(*pem, path, &x, err);
    X509_free(x);
    if (rc) {
        sp_free(*pem);
        *pem = NULL;
    }
    return rc;
}

/* The certificate and key must belong together. */
static sp_rc check_match(const char *cert_path, const char *key_path,
                         const certs_pair *pair, sp_err *err)
{
    X509 *x = NULL;
    EVP_PKEY *key = NULL;
    sp_rc rc;

    rc = certs_x509_from_pem(pair->cert_pem, cert_path, &x, err);
    if (!rc)
        rc = certs_key_from_pem(pair->key_pem, key_path, &key, err);
    if (!rc && X509_check_private_key(x, key) != 1)
        rc = certs_ssl_fail(err, SP_EINVAL,
                            "%s does not belong to %s: the key does not match the "
                            "certificate's public key; give the key the "
                            "certificate was created with", key_path, cert_path);
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}

sp_rc certs_load_pair(const char *cert_path, const char *key_path, certs_pair *out,
                      sp_err *err)
{
    certs_pair pair = { NULL, NULL };
    sp_rc rc;

    out->cert_pem = NULL;
    out->key_pem = NULL;
    rc = certs_read_file(key_path, true, &pair.key_pem, err);
    if (!rc)
        rc = certs_read_file(cert_path, false, &pair.cert_pem, err);
    if (!rc)
        rc = check_match(cert_path, key_path, &pair, err);
    if (rc)
        goto out;
    *out = pair;
    pair.cert_pem = pair.key_pem = NULL;
out:
    certs_pair_free(&pair);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                    */
/* ------------------------------------------------------------------------ */

/* A file being replaced: its temporary until renamed. */
typedef struct pending {
    char *final;
    char *tmp;      /* NULL once renamed (or never created) */
} pending;

static void pending_discard(pending *p)
{
    if (p->tmp) {
        unlink(p->tmp);
        sp_free(p->tmp);
    }
    sp_free(p->final);
    p->tmp = p->final = NULL;
}

static sp_rc write_fd(int fd, const char *path, const char *data, sp_err *err)
{
    size_t len = strlen(data), done = 0;
    ssize_t n;

    while (done < len) {
        n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return sp_err_set(err, SP_EIO, "%s: cannot write: %s", path,
                              strerror(errno));
        done += (size_t)n;
    }
    if (fsync(fd) != 0)
        return sp_err_set(err, SP_EIO, "%s: cannot sync: %s", path, strerror(errno));
    return SP_OK;
}

/* Open a new temporary next to p->final with mode, never reusing a name. */
static sp_rc create_tmp(pending *p, mode_t mode, int *fd, sp_err *err)
{
    static atomic_uint counter;
    int saved = EEXIST;
    sp_buf b;

    for (int i = 0; i < CERTS_TMP_TRIES && saved == EEXIST; i++) {
        sp_buf_init(&b, (size_t)-2);
        if (sp_buf_printf(&b, "%s.tmp-%ld-%u", p->final, (long)getpid(),
                          atomic_fetch_add(&counter, 1))) {
            sp_buf_free(&b);
            return sp_err_set(err, SP_ENOMEM, "%s: out of memory", p->final);
        }
        *fd = open(b.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                   mode);
        if (*fd >= 0) {
            p->tmp = sp_buf_take(&b);
            return SP_OK;
        }
        saved = errno;
        sp_buf_free(&b);
    }
    return sp_err_set(err, SP_EIO, "%s: cannot create a temporary file next to it: "
                      "%s; check that the directory exists and is writable",
                      p->final, strerror(saved));
}

/* Write data to a new temporary for p (synced and closed). */
static sp_rc stage(pending *p, const char *data, mode_t mode, sp_err *err)
{
    int fd = -1;
    sp_rc rc;

    rc = create_tmp(p, mode, &fd, err);
    if (rc)
        return rc;
    rc = write_fd(fd, p->tmp, data, err);
    if (close(fd) != 0 && !rc)
        rc = sp_err_set(err, SP_EIO, "%s: cannot close: %s", p->tmp, strerror(errno));
    return rc;
}

static sp_rc commit(pending *p, sp_err *err)
{
    if (rename(p->tmp, p->final) != 0)
        return sp_err_set(err, SP_EIO, "%s: cannot replace it: %s", p->final,
                          strerror(errno));
    sp_free(p->tmp);
    p->tmp = NULL;
    return SP_OK;
}

/* Make the renames durable. File systems that cannot sync a directory say
 * EINVAL; that is not an error. */
static sp_rc sync_dir(const char *dir, sp_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    sp_rc rc = SP_OK;

    if (fd < 0)
        return sp_err_set(err, SP_EIO, "%s: cannot open the directory: %s", dir,
                          strerror(errno));
    if (fsync(fd) != 0 && errno != EINVAL)
        rc = sp_err_set(err, SP_EIO, "%s: cannot sync the directory: %s", dir,
                        strerror(errno));
    close(fd);
    return rc;
}

static sp_rc check_write_args(const char *dir, const char *name,
                              const certs_pair *pair, sp_err *err)
{
    if (!dir || !*dir)
        return sp_err_set(err, SP_EINVAL, "no directory given to write certificates");
    if (!name || !*name || strchr(name, '/') || name[0] == '.')
        return sp_err_set(err, SP_EINVAL, "'%s' is not a file name for a "
                          "certificate pair (no '/', not starting with '.')",
                          name ? name : "");
    if (!pair || !pair->cert_pem || !pair->key_pem)
        return sp_err_set(err, SP_EINVAL, "no certificate or key to write");
    return SP_OK;
}

sp_rc certs_write_pair(const char *dir, const char *name, const certs_pair *pair,
                       sp_err *err)
{
    pending cert = { NULL, NULL }, key = { NULL, NULL };
    sp_rc rc;

    rc = check_write_args(dir, name, pair, err);
    if (rc)
        return rc;
    cert.final = certs_path_join(dir, name, ".crt");
    key.final = certs_path_join(dir, name, ".key");
    if (!cert.final || !key.final) {
        rc = sp_err_set(err, SP_ENOMEM, "out of memory");
        goto out;
    }
    rc = stage(&key, pair->key_pem, CERTS_KEY_MODE, err);
    if (!rc)
        rc = stage(&cert, pair->cert_pem, CERTS_CERT_MODE, err);
    if (!rc)
        rc = commit(&key, err);
    if (!rc)
        rc = commit(&cert, err);
    if (!rc)
        rc = sync_dir(dir, err);
out:
    pending_discard(&key);
    pending_discard(&cert);
    return rc;
}
