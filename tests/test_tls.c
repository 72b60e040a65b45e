/*
 * The server's TLS, seen from real clients: a certificate replaced while
 * the server runs is served from the next handshake on while a keep-alive
 * connection opened before it goes on working (nothing dropped); a bad
 * replacement is refused and the old one stays; with a client CA, callers
 * without a certificate from it cannot complete a handshake; and only TLS
 * 1.2 and 1.3 are spoken (a TLS 1.1 or a plaintext client is refused;
 * checked with `openssl s_client`). Certificates come from certs/.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "certs/certs.h"
#include "server/srv.h"
#include "tests/test_util.h"
#include "util/sp_buf.h"
#include "util/sp_log.h"

static char dir[64];

/* ------------------------------------------------------------------------ */
/* Certificates and a server with one route                                   */
/* ------------------------------------------------------------------------ */

static const char *const localhost[] = { "localhost" };
static const char *const loopback[] = { "127.0.0.1" };

/* A CA named cn, and a pair signed by it for 127.0.0.1; the CA certificate
 * is written to dir/<cn>.crt. */
static void make_pki(const char *cn, certs_pair *ca, certs_pair *leaf)
{
    certs_spec spec = { .common_name = cn, .dns = localhost, .n_dns = 1,
                        .ips = loopback, .n_ips = 1, .days = 30 };
    sp_err err = { SP_OK, "" };
    char path[128];

    CU_ASSERT_EQUAL_FATAL(certs_make_ca(&spec, ca, &err), SP_OK);
    spec.common_name = "127.0.0.1";
    CU_ASSERT_EQUAL_FATAL(certs_make_serving(ca, &spec, leaf, &err), SP_OK);
    snprintf(path, sizeof(path), "%s/%s.crt", dir, cn);
    sp_test_write_file(path, ca->cert_pem);
}

/* Write a pair to dir/<name>.crt and .key (for curl's client certificate). */
static void write_pair(const char *name, const certs_pair *p)
{
    char path[128];

    snprintf(path, sizeof(path), "%s/%s.crt", dir, name);
    sp_test_write_file(path, p->cert_pem);
    snprintf(path, sizeof(path), "%s/%s.key", dir, name);
    sp_test_write_file(path, p->key_pem);
}

static sp_rc on_hello(void *ctx, const srv_request *req, srv_response *resp)
{
    (void)ctx;
    (void)req;
    return srv_reply_text(resp, 200, "text/plain", "hello\n");
}

static const srv_route routes[] = { { "/hello", "GET", false, on_hello, 0 } };

static srv *start(const certs_pair *leaf, const char *client_ca)
{
    srv_config cfg = { .address = "127.0.0.1", .cert_pem = leaf->cert_pem,
                       .key_pem = leaf->key_pem, .client_ca_pem = client_ca, .threads = 2 };
    sp_err err = { SP_OK, "" };
    srv *s = NULL;

    if (srv_start(&cfg, routes, 1, NULL, &s, &err))
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

/* GET /hello on h (kept between calls: its connection is reused) trusting
 * the CA named ca, optionally with a client pair named client. Returns the
 * status, 0 when no answer came; *reused says whether no new connection
 * was made. */
static long hello(CURL *h, const srv *s, const char *ca, const char *client, bool *reused)
{
    char url[64], path[128], cert[128], key[128];
    long status = 0, connects = -1;
    sp_buf out;

    sp_buf_init(&out, 4096);
    snprintf(url, sizeof(url), "https://127.0.0.1:%u/hello", (unsigned)srv_port(s));
    snprintf(path, sizeof(path), "%s/%s.crt", dir, ca);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CAINFO, path);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
    if (client) {
        snprintf(cert, sizeof(cert), "%s/%s.crt", dir, client);
        snprintf(key, sizeof(key), "%s/%s.key", dir, client);
        curl_easy_setopt(h, CURLOPT_SSLCERT, cert);
        curl_easy_setopt(h, CURLOPT_SSLKEY, key);
    }
    if (curl_easy_perform(h) == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
    }
    if (reused)
        *reused = connects == 0;
    sp_buf_free(&out);
    return status;
}

/* Run `openssl s_client` with extra options against s; its output in out
 * (stdout and stderr). Returns its exit status. */
static int s_client(const srv *s, const char *options, char *out, size_t len)
{
    char cmd[512];
    size_t n = 0, got;
    FILE *p;

    snprintf(cmd, sizeof(cmd),
             "openssl s_client -connect 127.0.0.1:%u %s </dev/null 2>&1",
             (unsigned)srv_port(s), options);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p = popen(cmd, "r"));
    while (n + 1 < len && (got = fread(out + n, 1, len - 1 - n, p)) > 0)
        n += got;
    out[n] = '\0';
    return pclose(p);
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                      */
/* ------------------------------------------------------------------------ */

static void test_replaced_certificate_serves_new_handshakes_only(void)
{
    certs_pair ca1 = { 0 }, leaf1 = { 0 }, ca2 = { 0 }, leaf2 = { 0 };
    CURL *kept = curl_easy_init(), *fresh = curl_easy_init();
    sp_err err = { SP_OK, "" };
    bool reused = false;
    srv *s;

    make_pki("ca-one", &ca1, &leaf1);
    make_pki("ca-two", &ca2, &leaf2);
    s = start(&leaf1, NULL);
    CU_ASSERT_EQUAL(hello(kept, s, "ca-one", NULL, NULL), 200);

    CU_ASSERT_EQUAL(srv_set_certificate(s, leaf2.cert_pem, leaf2.key_pem, &err), SP_OK);
    /* the keep-alive connection made before goes on, on its old session */
    CU_ASSERT_EQUAL(hello(kept, s, "ca-one", NULL, &reused), 200);
    CU_ASSERT_TRUE(reused);
    /* a new handshake gets the new certificate: only its CA verifies it */
    CU_ASSERT_EQUAL(hello(fresh, s, "ca-one", NULL, NULL), 0);
    curl_easy_reset(fresh);
    CU_ASSERT_EQUAL(hello(fresh, s, "ca-two", NULL, &reused), 200);
    CU_ASSERT_FALSE(reused);

    srv_stop(s, 1000);
    curl_easy_cleanup(kept);
    curl_easy_cleanup(fresh);
    certs_pair_free(&ca1);
    certs_pair_free(&leaf1);
    certs_pair_free(&ca2);
    certs_pair_free(&leaf2);
}

static void test_bad_replacement_keeps_the_old_certificate(void)
{
    certs_pair ca1 = { 0 }, leaf1 = { 0 }, ca2 = { 0 }, leaf2 = { 0 };
    CURL *h = curl_easy_init();
    sp_err err = { SP_OK, "" };
    srv *s;

    make_pki("ca-one", &ca1, &leaf1);
    make_pki("ca-two", &ca2, &leaf2);
    s = start(&leaf1, NULL);

    CU_ASSERT_EQUAL(srv_set_certificate(s, leaf2.cert_pem, leaf1.key_pem, &err), SP_EINVAL);
    SP_ASSERT_CONTAINS(err.msg, "is not the key of the serving certificate");
    CU_ASSERT_EQUAL(srv_set_certificate(s, "not a certificate", leaf2.key_pem, &err), SP_EINVAL);
    SP_ASSERT_CONTAINS(err.msg, "the serving certificate does not load");
    CU_ASSERT_EQUAL(srv_set_certificate(s, leaf2.cert_pem, "junk", &err), SP_EINVAL);
    SP_ASSERT_CONTAINS(err.msg, "the serving key does not load");
    CU_ASSERT_EQUAL(hello(h, s, "ca-one", NULL, NULL), 200);

    srv_stop(s, 1000);
    curl_easy_cleanup(h);
    certs_pair_free(&ca1);
    certs_pair_free(&leaf1);
    certs_pair_free(&ca2);
    certs_pair_free(&leaf2);
}

static void test_client_certificates_are_required_with_a_client_ca(void)
{
    certs_pair ca = { 0 }, leaf = { 0 }, client_ca = { 0 }, client = { 0 };
    certs_pair other_ca = { 0 }, stranger = { 0 };
    CURL *h = curl_easy_init();
    srv *s;

    make_pki("server-ca", &ca, &leaf);
    make_pki("client-ca", &client_ca, &client);
    make_pki("other-ca", &other_ca, &stranger);
    write_pair("client", &client);
    write_pair("stranger", &stranger);
    s = start(&leaf, client_ca.cert_pem);

    CU_ASSERT_EQUAL(hello(h, s, "server-ca", NULL, NULL), 0);
    curl_easy_reset(h);
    CU_ASSERT_EQUAL(hello(h, s, "server-ca", "stranger", NULL), 0);
    curl_easy_reset(h);
    CU_ASSERT_EQUAL(hello(h, s, "server-ca", "client", NULL), 200);

    srv_stop(s, 1000);
    curl_easy_cleanup(h);
    certs_pair_free(&ca);
    certs_pair_free(&leaf);
    certs_pair_free(&client_ca);
    certs_pair_free(&client);
    certs_pair_free(&other_ca);
    certs_pair_free(&stranger);
}

static void test_only_tls_1_2_and_1_3_are_spoken(void)
{
    certs_pair ca = { 0 }, leaf = { 0 };
    char out[16384];
    srv *s;

    make_pki("server-ca", &ca, &leaf);
    s = start(&leaf, NULL);

    CU_ASSERT_EQUAL(s_client(s, "-tls1_3", out, sizeof(out)), 0);
    SP_ASSERT_CONTAINS(out, "TLSv1.3");
    CU_ASSERT_EQUAL(s_client(s, "-tls1_2", out, sizeof(out)), 0);
    SP_ASSERT_CONTAINS(out, "TLSv1.2");
    /* the client lowers its own floor (SECLEVEL=0), so the refusal is the
     * server's: it ends the handshake without a certificate or a cipher */
    CU_ASSERT_NOT_EQUAL(s_client(s, "-tls1_1 -cipher DEFAULT@SECLEVEL=0", out, sizeof(out)), 0);
    SP_ASSERT_CONTAINS(out, "no peer certificate available");
    SP_ASSERT_CONTAINS(out, "Cipher is (NONE)");
    CU_ASSERT_NOT_EQUAL(s_client(s, "-tls1 -cipher DEFAULT@SECLEVEL=0", out, sizeof(out)), 0);
    SP_ASSERT_CONTAINS(out, "Cipher is (NONE)");
    /* TLS 1.2 with AEAD ciphers only: CBC and SHA-1 MACs are refused */
    CU_ASSERT_EQUAL(s_client(s, "-tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256", out,
                             sizeof(out)), 0);
    CU_ASSERT_EQUAL(s_client(s, "-tls1_2 -cipher ECDHE-ECDSA-CHACHA20-POLY1305", out,
                             sizeof(out)), 0);
    CU_ASSERT_NOT_EQUAL(s_client(s, "-tls1_2 -cipher ECDHE-ECDSA-AES128-SHA", out,
                                 sizeof(out)), 0);
    SP_ASSERT_CONTAINS(out, "Cipher is (NONE)");
    CU_ASSERT_NOT_EQUAL(s_client(s, "-tls1_2 -cipher ECDHE-ECDSA-AES256-SHA384", out,
                                 sizeof(out)), 0);

    srv_stop(s, 1000);
    certs_pair_free(&ca);
    certs_pair_free(&leaf);
}

static const sp_test tests[] = {
    SP_TEST(test_replaced_certificate_serves_new_handshakes_only),
    SP_TEST(test_bad_replacement_keeps_the_old_certificate),
    SP_TEST(test_client_certificates_are_required_with_a_client_ca),
    SP_TEST(test_only_tls_1_2_and_1_3_are_spoken),
    SP_TEST_END
};

int main(void)
{
    char cmd[128];
    int rc;

    if (!getenv("SP_TEST_LOG"))
        sp_log_set_level(SP_LOG_OFF);
    snprintf(dir, sizeof(dir), "/tmp/sp-tls-XXXXXX");
    if (!mkdtemp(dir))
        return SP_TEST_ERROR;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = sp_test_run("tls", tests);
    curl_global_cleanup();
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        rc = rc ? rc : SP_TEST_ERROR;
    return rc;
}
