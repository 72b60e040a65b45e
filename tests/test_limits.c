/*
 * The server's limits, each shown working against a real HTTPS server on
 * loopback: a body cap per route (413 on one route for a body another
 * takes), caps on the request line (414) and the headers (431), the
 * connection limit (a connection over it waits, unserved, until another
 * closes), the per-address limit (over it a connection is closed at once;
 * another address still gets in), and the idle timeout: a
 * slow-loris client that connects and stalls is cut off, and while it
 * stalls a one-thread server goes on answering others (it holds no thread).
 * A plaintext client on the TLS port gets no answer. The server runs with a
 * thread per connection (its default) in some tests and a fixed pool in
 * the others.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include "certs/certs.h"
#include "server/srv.h"
#include "server/srv_cork.h"
#include "tests/test_util.h"
#include "util/sp_alloc.h"
#include "util/sp_buf.h"
#include "util/sp_log.h"

static certs_pair ca, leaf;
static char ca_path[64];
static CURL *curl;

static sp_rc on_echo(void *ctx, const srv_request *req, srv_response *resp)
{
    (void)ctx;
    return srv_reply_text(resp, 200, "text/plain", req->body_len ? "got it\n" : "hello\n");
}

/* The largest answer sent corked (srv_cork.h). */
static sp_rc on_big(void *ctx, const srv_request *req, srv_response *resp)
{
    (void)ctx;
    (void)req;
    resp->status = 200;
    resp->content_type = "text/plain";
    resp->len = SRV_CORK_MAX;
    if (!(resp->body = sp_malloc(resp->len)))
        return SP_ENOMEM;
    memset(resp->body, 'x', resp->len);
    return SP_OK;
}

static const srv_route routes[] = {
    { "/small", "POST", false, on_echo, 1024 },
    { "/large", "POST", false, on_echo, 0 },
    { "/hello", "GET", false, on_echo, 0 },
    { "/big", "GET", false, on_big, 0 },
};

static srv *start(const srv_limits *limits, unsigned threads)
{
    srv_config cfg = { .address = "127.0.0.1", .cert_pem = leaf.cert_pem, .key_pem = leaf.key_pem,
                       .threads = threads, .limits = *limits };
    sp_err err = { SP_OK, "" };
    srv *s = NULL;

    if (srv_start(&cfg, routes, sizeof(routes) / sizeof(routes[0]), NULL, &s, &err))
        fprintf(stderr, "\n  srv_start: %s\n", err.msg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    return s;
}

/* ------------------------------------------------------------------------ */
/* Clients                                                                    */
/* ------------------------------------------------------------------------ */

static size_t collect(char *data, size_t size, size_t n, void *userdata)
{
    return sp_buf_append(userdata, data, size * n) ? 0 : size * n;
}

/* A request from address from (127.0.0.x) with an extra header (or NULL)
 * and a body (or NULL: GET); the status, 0 when none came. */
static long request(const srv *s, const char *from, const char *path, const char *header,
                    const char *body)
{
    char url[16384];
    struct curl_slist *headers = header ? curl_slist_append(NULL, header) : NULL;
    long status = 0;
    sp_buf out;

    sp_buf_init(&out, 1u << 20);
    snprintf(url, sizeof(url), "https://127.0.0.1:%u%s", (unsigned)srv_port(s), path);
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_INTERFACE, from);
    curl_easy_setopt(curl, CURLOPT_CAINFO, ca_path);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 3L);
    curl_easy_setopt(curl, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    if (body)
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    if (curl_easy_perform(curl) == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    sp_buf_free(&out);
    return status;
}

/* A TCP connection from address from to the server, nothing sent; -1 on
 * failure. */
static int raw_connect(const srv *s, const char *from)
{
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(srv_port(s)) };
    struct sockaddr_in source = { .sin_family = AF_INET };
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    inet_pton(AF_INET, from, &source.sin_addr);
    if (fd < 0 || bind(fd, (struct sockaddr *)&source, sizeof(source)) != 0 ||
        connect(fd, (struct sockaddr *)&to, sizeof(to)) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static double now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* True when the server closes fd within ms: reads (a TLS alert, say) until
 * the end. */
static bool closed_within(int fd, int ms)
{
    double deadline = now_s() + ms / 1000.0;
    struct pollfd p = { .fd = fd, .events = POLLIN };
    char buf[256];

    while (now_s() < deadline) {
        if (poll(&p, 1, (int)((deadline - now_s()) * 1000) + 1) != 1)
            return false;
        if (read(fd, buf, sizeof(buf)) <= 0)
            return true;
    }
    return false;
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                      */
/* ------------------------------------------------------------------------ */

static void test_each_route_has_its_body_cap(void)
{
    srv_limits limits = { .max_body = 8192 };
    char body[4096];
    srv *s = start(&limits, 0); /* a thread per connection */

    memset(body, 'x', sizeof(body) - 1);
    body[sizeof(body) - 1] = '\0';
    CU_ASSERT_EQUAL(request(s, "127.0.0.1", "/small", NULL, "tiny"), 200);
    CU_ASSERT_EQUAL(request(s, "127.0.0.1", "/small", NULL, body), 413);
    CU_ASSERT_EQUAL(request(s, "127.0.0.1", "/large", NULL, body), 200);
    srv_stop(s, 1000);
}

static void test_request_line_and_headers_are_capped(void)
{
    srv_limits limits = { .max_header = 8192 };
    char path[12000], header[12000];
    srv *s = start(&limits, 0); /* a thread per connection */

    snprintf(path, sizeof(path), "/hello?%09000d", 0);
    snprintf(header, sizeof(header), "X-Filler: %09000d", 0);
    CU_ASSERT_EQUAL(request(s, "127.0.0.1", "/hello", NULL, NULL), 200);
    CU_ASSERT_EQUAL(request(s, "127.0.0.1", path, NULL, NULL), 414);
    CU_ASSERT_EQUAL(request(s, "127.0.0.1", "/hello", header, NULL), 431);
    CU_ASSERT_EQUAL(request(s, "127.0.0.1", "/hello", NULL, NULL), 200);
    srv_stop(s, 1000);
}

/* Over the limit, libmicrohttpd stops accepting: a new connection waits in
 * the kernel's queue, unserved, until one closes. One thread: with several,
 * MHD splits the limit evenly between them. */
static void test_connections_over_the_limit_wait(void)
{
    srv_limits limits = { .conn_limit = 3, .per_ip_limit = 3 };
    srv *s = start(&limits, 1);
    int held[3];

    for (int i = 0; i < 3; i++)
        CU_ASSERT_TRUE_FATAL((held[i] = raw_connect(s, "127.0.0.1")) >= 0);
    usleep(200 * 1000);
    CU_ASSERT_EQUAL(request(s, "127.0.0.1", "/hello", NULL, NULL), 0);
    close(held[0]);
    CU_ASSERT_EQUAL(request(s, "127.0.0.1", "/hello", NULL, NULL), 200);
    for (int i = 1; i < 3; i++)
        close(held[i]);
    srv_stop(s, 1000);
}

static void test_one_address_cannot_take_every_connection(void)
{
    srv_limits limits = { .conn_limit = 100, .per_ip_limit = 2 };
    srv *s = start(&limits, 0); /* a thread per connection */
    int held[2], extra;

    for (int i = 0; i < 2; i++)
        CU_ASSERT_TRUE_FATAL((held[i] = raw_connect(s, "127.0.0.2")) >= 0);
    /* let the server accept those two first: otherwise (slowed down under
     * valgrind) it may take the extra one before them and refuse a held one */
    usleep(200 * 1000 * (useconds_t)sp_test_scale());
    CU_ASSERT_TRUE_FATAL((extra = raw_connect(s, "127.0.0.2")) >= 0);
    CU_ASSERT_TRUE(closed_within(extra, 5000 * (int)sp_test_scale()));
    CU_ASSERT_EQUAL(request(s, "127.0.0.2", "/hello", NULL, NULL), 0);
    /* another address is not affected */
    CU_ASSERT_EQUAL(request(s, "127.0.0.3", "/hello", NULL, NULL), 200);
    close(extra);
    for (int i = 0; i < 2; i++)
        close(held[i]);
    srv_stop(s, 1000);
}

static void test_a_stalled_client_is_cut_off_and_holds_no_thread(void)
{
    srv_limits limits = { .conn_timeout_s = 1 };
    static const char partial[] = "\x16\x03\x01\x00\xff"; /* a TLS record header, then nothing */
    srv *s = start(&limits, 1);
    double t0 = now_s();
    int loris = raw_connect(s, "127.0.0.1");

    CU_ASSERT_TRUE_FATAL(loris >= 0);
    CU_ASSERT_EQUAL(write(loris, partial, sizeof(partial) - 1), (ssize_t)sizeof(partial) - 1);
    /* the one thread is free for others while the client stalls */
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(request(s, "127.0.0.1", "/hello", NULL, NULL), 200);
    CU_ASSERT_TRUE(closed_within(loris, 10000));
    CU_ASSERT_TRUE(now_s() - t0 >= 0.9);
    close(loris);
    srv_stop(s, 1000);
}

/* Before connect: a small receive buffer, so that answers back up soon. */
static int small_receive_buffer(void *clientp, curl_socket_t fd, curlsocktype purpose)
{
    int size = 4096;

    (void)clientp;
    (void)purpose;
    return setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) ? CURL_SOCKOPT_ERROR
                                                                      : CURL_SOCKOPT_OK;
}

/* Send request over curl's connection (CONNECT_ONLY) again and again, a
 * millisecond apart (so that each arrives alone, as a client waiting for
 * answers would send them), for at most ms: true when the connection fails. */
static bool cut_off_while_sending(CURL *c, int fd, const char *request, int ms)
{
    double deadline = now_s() + ms / 1000.0;
    struct pollfd p = { .fd = fd, .events = POLLOUT };
    size_t len = strlen(request), sent = 0, n;

    while (now_s() < deadline) {
        CURLcode rc = curl_easy_send(c, request + sent, len - sent, &n);
        if (rc == CURLE_AGAIN) {
            (void)poll(&p, 1, 100);
        } else if (rc != CURLE_OK) {
            return true;
        } else if ((sent += n) == len) {
            sent = 0;
            usleep(1000);
        }
    }
    return false;
}

/* A client that sends request after request and reads no answer: the
 * answers it leaves unread (each of the largest size corked into one TLS
 * record with a thread per connection, srv_cork.h) fill the socket, the
 * server waits for room no longer than the connection timeout and cuts the
 * client off; other clients are still answered. */
static void test_a_client_that_does_not_read_is_cut_off(void)
{
    srv_limits limits = { .conn_timeout_s = 1 };
    srv *s = start(&limits, 0);
    CURL *stuck = curl_easy_init();
    char url[64];
    long fd = -1;

    CU_ASSERT_PTR_NOT_NULL_FATAL(stuck);
    snprintf(url, sizeof(url), "https://127.0.0.1:%u/", (unsigned)srv_port(s));
    curl_easy_setopt(stuck, CURLOPT_URL, url);
    curl_easy_setopt(stuck, CURLOPT_CAINFO, ca_path);
    curl_easy_setopt(stuck, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(stuck, CURLOPT_SOCKOPTFUNCTION, small_receive_buffer);
    CU_ASSERT_EQUAL_FATAL(curl_easy_perform(stuck), CURLE_OK);
    CU_ASSERT_EQUAL_FATAL(curl_easy_getinfo(stuck, CURLINFO_ACTIVESOCKET, &fd), CURLE_OK);
    CU_ASSERT_TRUE(cut_off_while_sending(stuck, (int)fd, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n",
                                         20000 * (int)sp_test_scale()));
    CU_ASSERT_EQUAL(request(s, "127.0.0.1", "/hello", NULL, NULL), 200);
    curl_easy_cleanup(stuck);
    srv_stop(s, 1000);
}

static void test_plaintext_on_the_tls_port_gets_no_answer(void)
{
    static const char get[] = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
    srv_limits limits = { 0 };
    srv *s = start(&limits, 2);
    int fd = raw_connect(s, "127.0.0.1");
    char buf[256];
    ssize_t n;

    CU_ASSERT_TRUE_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(write(fd, get, sizeof(get) - 1), (ssize_t)sizeof(get) - 1);
    CU_ASSERT_TRUE(closed_within(fd, 5000) || ((n = read(fd, buf, sizeof(buf) - 1)) > 0 &&
                                               (buf[n] = '\0', !strstr(buf, "hello"))));
    close(fd);
    srv_stop(s, 1000);
}

static const sp_test tests[] = {
    SP_TEST(test_each_route_has_its_body_cap),
    SP_TEST(test_request_line_and_headers_are_capped),
    SP_TEST(test_connections_over_the_limit_wait),
    SP_TEST(test_one_address_cannot_take_every_connection),
    SP_TEST(test_a_stalled_client_is_cut_off_and_holds_no_thread),
    SP_TEST(test_a_client_that_does_not_read_is_cut_off),
    SP_TEST(test_plaintext_on_the_tls_port_gets_no_answer),
    SP_TEST_END
};

int main(void)
{
    static const char *const ips[] = { "127.0.0.1" };
    certs_spec spec = { .common_name = "limits", .ips = ips, .n_ips = 1, .days = 2 };
    sp_err err = { SP_OK, "" };
    FILE *f;
    int rc;

    if (!getenv("SP_TEST_LOG"))
        sp_log_set_level(SP_LOG_OFF);
    if (certs_make_ca(&spec, &ca, &err) || certs_make_serving(&ca, &spec, &leaf, &err))
        return SP_TEST_ERROR;
    snprintf(ca_path, sizeof(ca_path), "/tmp/sp-limits-ca-%ld.crt", (long)getpid());
    if (!(f = fopen(ca_path, "w")))
        return SP_TEST_ERROR;
    fputs(ca.cert_pem, f);
    fclose(f);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    curl = curl_easy_init();
    rc = sp_test_run("limits", tests);
    curl_easy_cleanup(curl);
    curl_global_cleanup();
    unlink(ca_path);
    certs_pair_free(&ca);
    certs_pair_free(&leaf);
    return rc;
}
