/*
 * Small answers in one TLS record (internal to server/). libmicrohttpd
 * sends a response's header and its body with two gnutls_record_send
 * calls: two records, two encryptions, two sendmsg calls, and two records
 * for the client to decrypt, for an answer of a few hundred bytes. Corking
 * the connection's TLS session before the response is queued makes GnuTLS
 * hold both; uncorking it when libmicrohttpd reports the request complete
 * (it has then handed over every byte) sends them as one record. The
 * socket is uncorked too: libmicrohttpd leaves it corked and pushes its own
 * writes by setting TCP_NODELAY, which comes before these bytes.
 *
 * The uncork may wait for room in the socket (a client that sends but does
 * not read), so it is only for servers with a thread per connection, where
 * waiting holds up that client alone.
 */
#ifndef SP_SRV_CORK_H
#define SP_SRV_CORK_H

#include <stdbool.h>
#include <microhttpd.h>

#define SRV_CORK_MAX 8192 /* bytes of body: larger answers are sent as MHD sends them */

/* Hold what the connection's TLS session sends until srv_uncork. False
 * (nothing held) when the connection has no TLS session. */
bool srv_cork(struct MHD_Connection *c);

/* Send what srv_cork held, as one record, and push it out of the socket,
 * waiting up to timeout_s seconds for room. If it cannot be sent, the
 * socket is shut down, so that the client sees the end instead of waiting
 * for an answer. */
void srv_uncork(struct MHD_Connection *c, unsigned timeout_s);

#endif /* SP_SRV_CORK_H */
