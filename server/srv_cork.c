/*
 * Small answers in one TLS record: see srv_cork.h. The wait for room is a
 * poll on the socket (libmicrohttpd's sockets are non-blocking), bounded
 * by a deadline; GnuTLS keeps what it could not send while the session
 * stays corked, and the next uncork carries on from there.
 */
#include "server/srv_cork.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

static gnutls_session_t session_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);

    return info ? (gnutls_session_t)info->tls_session : NULL;
}

bool srv_cork(struct MHD_Connection *c)
{
    gnutls_session_t tls = session_of(c);

    if (tls)
        gnutls_record_cork(tls);
    return tls != NULL;
}

static long long now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Whether fd has room to write before the deadline (ms, CLOCK_MONOTONIC). */
static bool wait_writable(int fd, long long deadline)
{
    struct pollfd p = { fd, POLLOUT, 0 };
    long long left;
    int n;

    do {
        left = deadline - now_ms();
        n = left > 0 ? poll(&p, 1, (int)left) : 0;
    } while (n < 0 && errno == EINTR);
    return n > 0 && (p.revents & POLLOUT);
}

void srv_uncork(struct MHD_Connection *c, unsigned timeout_s)
{
    const union MHD_ConnectionInfo *fd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    gnutls_session_t tls = session_of(c);
    long long deadline = now_ms() + 1000LL * timeout_s;
    static const int off = 0;
    int rc;

    if (!tls || !fd)
        return;
    while ((rc = gnutls_record_uncork(tls, 0)) == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED)
        if (!wait_writable(fd->connect_fd, deadline))
            break;
    if (rc < 0)
        (void)shutdown(fd->connect_fd, SHUT_RDWR);
    else
        (void)setsockopt(fd->connect_fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off));
}
