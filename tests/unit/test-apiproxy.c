/* test-apiproxy.c - the local API proxy against an in-test TLS server that
 * demands a client certificate (certificates made by pki.c with OpenSSL):
 * GET passthrough and header rewriting, request bodies, streaming, a
 * websocket-style Upgrade round trip, refusals, 127.0.0.1 only, clean stop. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "apiproxy.h"
#include "buf.h"
#include "fsutil.h"
#include "pki.h"
#include "run.h"

/* ------------------------------------------------- the fake API server */

#define MAX_UP_CONNS 64

struct upstream {
    SSL_CTX *ctx;
    int lfd;
    unsigned port;
    int stop_pipe[2];
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_t conn_tids[MAX_UP_CONNS];
    int conn_fds[MAX_UP_CONNS];
    int nconns;
    int requests;        /* complete request heads seen */
    int handshake_fails; /* TLS handshakes refused (e.g. unknown client cert) */
    bool stream_closed;  /* a streaming response saw its reader go away */
    char last_head[8192];
    char last_body[4096];
    char last_cn[128];
};

struct fx {
    char dir[64];
    char ca[128], ca2[128];
    char srv_crt[160], srv_key[160];
    char cli_crt[160], cli_key[160];
    char bad_crt[160], bad_key[160];
    char upstream_url[64];
    struct upstream up;
};

struct up_conn {
    struct upstream *u;
    SSL *ssl;
    int fd;
};

static int ssl_write_all(SSL *ssl, const char *s, size_t n)
{
    while (n > 0) {
        int w = SSL_write(ssl, s, (int)n);
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

static int ssl_printf(SSL *ssl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = xvasprintf(fmt, ap);
    va_end(ap);
    int r = ssl_write_all(ssl, s, strlen(s));
    free(s);
    return r;
}

/* Read from ssl into b until needle appears (or EOF/error). */
static bool ssl_read_until(SSL *ssl, struct mk_buf *b, const char *needle)
{
    char buf[4096];
    while (!strstr(b->buf ? b->buf : "", needle)) {
        int n = SSL_read(ssl, buf, sizeof(buf));
        if (n <= 0)
            return false;
        mk_buf_add(b, buf, (size_t)n);
    }
    return true;
}

static void reply(SSL *ssl, int code, const char *body)
{
    ssl_printf(ssl,
               "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
               "Connection: close\r\n\r\n%s",
               code, strlen(body), body);
}

static void *up_conn_main(void *arg)
{
    struct up_conn *uc = arg;
    struct upstream *u = uc->u;
    SSL *ssl = uc->ssl;
    struct mk_buf b;
    mk_buf_init(&b);
    if (SSL_accept(ssl) != 1) {
        pthread_mutex_lock(&u->mu);
        u->handshake_fails++;
        pthread_mutex_unlock(&u->mu);
        goto out;
    }
    char cn[128] = "";
    X509 *peer = SSL_get1_peer_certificate(ssl);
    if (peer) {
        X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof(cn));
        X509_free(peer);
    }
    if (!ssl_read_until(ssl, &b, "\r\n\r\n"))
        goto out;
    size_t head_len = (size_t)(strstr(b.buf, "\r\n\r\n") - b.buf) + 4;
    pthread_mutex_lock(&u->mu);
    u->requests++;
    snprintf(u->last_head, sizeof(u->last_head), "%.*s", (int)head_len, b.buf);
    snprintf(u->last_cn, sizeof(u->last_cn), "%s", cn);
    u->last_body[0] = '\0';
    pthread_mutex_unlock(&u->mu);
    char method[16] = "", path[1024] = "";
    sscanf(b.buf, "%15s %1023s", method, path);

    if (strcmp(path, "/api/v1/namespaces/kube-system/pods") == 0) {
        char body[256];
        snprintf(body, sizeof(body), "{\"kind\":\"PodList\",\"cn\":\"%s\"}", cn);
        reply(ssl, 200, body);
    } else if (strcmp(method, "POST") == 0) {
        /* the body: Content-Length bytes, or chunked up to the last chunk */
        const char *body = NULL;
        if (strcasestr(b.buf, "Transfer-Encoding: chunked")) {
            /* up to the last chunk and the empty line after its trailers */
            char buf[4096];
            for (;;) {
                const char *z = strstr(b.buf + head_len - 2, "\r\n0\r\n");
                if (z && strstr(z + 3, "\r\n\r\n"))
                    break;
                int n = SSL_read(ssl, buf, sizeof(buf));
                if (n <= 0)
                    goto out;
                mk_buf_add(&b, buf, (size_t)n);
            }
        } else {
            const char *cl = strcasestr(b.buf, "Content-Length:");
            size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0;
            char buf[4096];
            while (b.len < head_len + want) {
                int n = SSL_read(ssl, buf, sizeof(buf));
                if (n <= 0)
                    goto out;
                mk_buf_add(&b, buf, (size_t)n);
            }
        }
        body = b.buf + head_len;
        pthread_mutex_lock(&u->mu);
        snprintf(u->last_body, sizeof(u->last_body), "%s", body);
        pthread_mutex_unlock(&u->mu);
        reply(ssl, 201, "{\"kind\":\"ConfigMap\"}");
    } else if (strstr(path, "/log?follow=true")) {
        /* a followed log: a line every 50 ms, until the reader goes away */
        if (ssl_printf(ssl, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n") < 0)
            goto out;
        for (int i = 0; i < 600; i++) {
            if (ssl_printf(ssl, "7\r\nline %02d\r\n", i % 100) < 0) {
                pthread_mutex_lock(&u->mu);
                u->stream_closed = true;
                pthread_mutex_unlock(&u->mu);
                break;
            }
            usleep(50 * 1000);
        }
    } else if (strstr(path, "/exec?") && strcasestr(b.buf, "Upgrade: websocket")) {
        /* switch protocols, then echo every read back with a prefix */
        if (ssl_printf(ssl,
                       "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n") <
            0)
            goto out;
        if (b.len > head_len)
            ssl_printf(ssl, "echo:%.*s", (int)(b.len - head_len), b.buf + head_len);
        char buf[4096];
        for (;;) {
            int n = SSL_read(ssl, buf, sizeof(buf));
            if (n <= 0 || ssl_printf(ssl, "echo:%.*s", n, buf) < 0)
                break;
        }
    } else {
        reply(ssl, 404, "{\"kind\":\"Status\",\"code\":404}");
    }
out:
    mk_buf_release(&b);
    SSL_shutdown(ssl);
    SSL_free(ssl);
    free(uc);
    ERR_clear_error();
    OPENSSL_thread_stop();
    return NULL;
}

static void *up_main(void *arg)
{
    struct upstream *u = arg;
    for (;;) {
        struct pollfd pf[2] = {{.fd = u->lfd, .events = POLLIN},
                               {.fd = u->stop_pipe[0], .events = POLLIN}};
        if (poll(pf, 2, -1) < 0 || pf[1].revents)
            break;
        int fd = accept(u->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        struct up_conn *uc = xcalloc(1, sizeof(*uc));
        uc->u = u;
        uc->fd = fd;
        uc->ssl = SSL_new(u->ctx);
        SSL_set_fd(uc->ssl, fd);
        pthread_mutex_lock(&u->mu);
        if (u->nconns == MAX_UP_CONNS)
            abort();
        u->conn_fds[u->nconns] = fd;
        pthread_create(&u->conn_tids[u->nconns], NULL, up_conn_main, uc);
        u->nconns++;
        pthread_mutex_unlock(&u->mu);
    }
    return NULL;
}

static void up_start(struct fx *f)
{
    struct upstream *u = &f->up;
    memset(u, 0, sizeof(*u));
    pthread_mutex_init(&u->mu, NULL);
    u->ctx = SSL_CTX_new(TLS_server_method());
    assert_non_null(u->ctx);
    assert_int_equal(SSL_CTX_use_certificate_chain_file(u->ctx, f->srv_crt), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey_file(u->ctx, f->srv_key, SSL_FILETYPE_PEM), 1);
    assert_int_equal(SSL_CTX_load_verify_locations(u->ctx, f->ca, NULL), 1);
    SSL_CTX_set_verify(u->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    u->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(u->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(u->lfd, 64), 0);
    socklen_t len = sizeof(sa);
    getsockname(u->lfd, (struct sockaddr *)&sa, &len);
    u->port = ntohs(sa.sin_port);
    assert_int_equal(pipe(u->stop_pipe), 0);
    snprintf(f->upstream_url, sizeof(f->upstream_url), "https://127.0.0.1:%u", u->port);
    pthread_create(&u->tid, NULL, up_main, u);
}

static void up_stop(struct upstream *u)
{
    assert_int_equal(write(u->stop_pipe[1], "x", 1), 1);
    pthread_join(u->tid, NULL);
    pthread_mutex_lock(&u->mu);
    for (int i = 0; i < u->nconns; i++)
        shutdown(u->conn_fds[i], SHUT_RDWR);
    pthread_mutex_unlock(&u->mu);
    for (int i = 0; i < u->nconns; i++) {
        pthread_join(u->conn_tids[i], NULL);
        close(u->conn_fds[i]);
    }
    close(u->lfd);
    close(u->stop_pipe[0]);
    close(u->stop_pipe[1]);
    SSL_CTX_free(u->ctx);
    pthread_mutex_destroy(&u->mu);
}

/* ---------------------------------------------------------------- setup */

static void make_leaf(const char *certs, const char *crt, const char *key, const char *cn,
                      bool server)
{
    static const char *const ips[] = {"127.0.0.1", NULL};
    struct mk_cert_req req = {.cert_path = crt,
                              .key_path = key,
                              .cn = cn,
                              .org = server ? NULL : "system:masters",
                              .ips = server ? ips : NULL,
                              .server = server,
                              .client = !server};
    struct mk_error *err = NULL;
    if (mk_pki_ensure_leaf(certs, &req, &err) < 0)
        fail_msg("cannot make %s: %s", crt, err->msg);
}

static int setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/mkube-test-apiproxy-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->ca, sizeof(f->ca), "%s/certs/ca.crt", f->dir);
    snprintf(f->srv_crt, sizeof(f->srv_crt), "%s/apiserver.crt", f->dir);
    snprintf(f->srv_key, sizeof(f->srv_key), "%s/apiserver.key", f->dir);
    snprintf(f->cli_crt, sizeof(f->cli_crt), "%s/client.crt", f->dir);
    snprintf(f->cli_key, sizeof(f->cli_key), "%s/client.key", f->dir);
    snprintf(f->bad_crt, sizeof(f->bad_crt), "%s/intruder.crt", f->dir);
    snprintf(f->bad_key, sizeof(f->bad_key), "%s/intruder.key", f->dir);
    mk_autofree char *certs = xasprintf("%s/certs", f->dir);
    mk_autofree char *certs2 = xasprintf("%s/other-ca", f->dir);
    struct mk_error *err = NULL;
    if (mk_pki_ensure_ca(certs, &err) < 0 || mk_pki_ensure_ca(certs2, &err) < 0) {
        fprintf(stderr, "cannot make the CAs: %s\n", err->msg);
        mk_error_free(err);
        return -1;
    }
    make_leaf(certs, f->srv_crt, f->srv_key, "kube-apiserver", true);
    make_leaf(certs, f->cli_crt, f->cli_key, "mkube-user", false);
    make_leaf(certs2, f->bad_crt, f->bad_key, "intruder", false); /* unknown to the server */
    up_start(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    up_stop(&f->up);
    mk_rm_rf(f->dir, NULL);
    free(f);
    return 0;
}

static struct mk_apiproxy *proxy_start(struct fx *f, const char *crt, const char *key)
{
    struct mk_apiproxy_config cfg = {.upstream = f->upstream_url,
                                     .ca_path = f->ca,
                                     .cert_path = crt ? crt : f->cli_crt,
                                     .key_path = key ? key : f->cli_key,
                                     .idle_timeout_ms = 5000};
    struct mk_apiproxy *p = NULL;
    struct mk_error *err = NULL;
    if (mk_apiproxy_start(&cfg, &p, &err) < 0)
        fail_msg("mk_apiproxy_start: %s", err->msg);
    assert_true(mk_apiproxy_port(p) > 0);
    return p;
}

/* ------------------------------------------------------------ the client */

static int client_connect(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        assert_true(w > 0);
        s += w;
        n -= (size_t)w;
    }
}

/* Read until needle shows up (NULL: until EOF), at most timeout_ms. */
static char *recv_until(int fd, const char *needle, int timeout_ms)
{
    struct mk_buf b;
    mk_buf_init(&b);
    char buf[4096];
    while (!needle || !strstr(mk_buf_str(&b), needle)) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, timeout_ms) <= 0)
            break;
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0)
            break;
        mk_buf_add(&b, buf, (size_t)n);
    }
    return mk_buf_detach(&b);
}

/* One request on a new connection; the whole response (the proxy closes). */
static char *http(unsigned port, const char *req)
{
    int fd = client_connect(port);
    assert_true(fd >= 0);
    send_all(fd, req, strlen(req));
    char *resp = recv_until(fd, NULL, 10000);
    close(fd);
    return resp;
}

static int count_dir(const char *path)
{
    DIR *d = opendir(path);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* What the fake server saw, copied out under its lock (a failed assertion
 * must not leave the lock held). */
struct seen {
    char head[8192], body[4096], cn[128];
    int requests, handshake_fails;
    bool stream_closed;
};

static struct seen *up_seen(struct upstream *u)
{
    struct seen *s = xcalloc(1, sizeof(*s));
    pthread_mutex_lock(&u->mu);
    memcpy(s->head, u->last_head, sizeof(s->head));
    memcpy(s->body, u->last_body, sizeof(s->body));
    memcpy(s->cn, u->last_cn, sizeof(s->cn));
    s->requests = u->requests;
    s->handshake_fails = u->handshake_fails;
    s->stream_closed = u->stream_closed;
    pthread_mutex_unlock(&u->mu);
    return s;
}

/* tmpl with every "{port}" replaced by port */
static char *with_port(const char *tmpl, unsigned port)
{
    struct mk_buf b;
    mk_buf_init(&b);
    for (const char *s = tmpl; *s;) {
        const char *at = strstr(s, "{port}");
        size_t n = at ? (size_t)(at - s) : strlen(s);
        mk_buf_add(&b, s, n);
        s += n;
        if (at) {
            mk_buf_addf(&b, "%u", port);
            s += 6;
        }
    }
    return mk_buf_detach(&b);
}

static int up_requests(struct upstream *u)
{
    pthread_mutex_lock(&u->mu);
    int n = u->requests;
    pthread_mutex_unlock(&u->mu);
    return n;
}

/* ------------------------------------------------------------------ tests */

static void test_host_and_path_rules(void **state)
{
    (void)state;
    assert_true(mk_apiproxy_host_ok("127.0.0.1:8001", 8001));
    assert_true(mk_apiproxy_host_ok("localhost:8001", 8001));
    assert_true(mk_apiproxy_host_ok("LOCALHOST:8001", 8001));
    assert_true(mk_apiproxy_host_ok("localhost", 80));
    assert_false(mk_apiproxy_host_ok("localhost", 8001));
    assert_false(mk_apiproxy_host_ok("127.0.0.1:8002", 8001));
    assert_false(mk_apiproxy_host_ok("127.0.0.1:+8001", 8001));
    assert_false(mk_apiproxy_host_ok("evil.example:8001", 8001));
    assert_false(mk_apiproxy_host_ok("localhost.evil.example:8001", 8001));
    assert_false(mk_apiproxy_host_ok("127.0.0.1.nip.io:8001", 8001));
    assert_false(mk_apiproxy_host_ok("", 8001));
    assert_false(mk_apiproxy_host_ok(NULL, 8001));

    assert_true(mk_apiproxy_path_ok("/api"));
    assert_true(mk_apiproxy_path_ok("/api/v1/namespaces/kube-system/pods?limit=5"));
    assert_true(mk_apiproxy_path_ok("/apis/apps/v1/deployments"));
    assert_true(mk_apiproxy_path_ok(
        "/api/v1/namespaces/kubernetes-dashboard/services/https:kubernetes-dashboard:/proxy/"));
    assert_true(mk_apiproxy_path_ok("/version"));
    assert_true(mk_apiproxy_path_ok("/healthz?verbose"));
    assert_true(mk_apiproxy_path_ok("/openapi/v3"));
    assert_false(mk_apiproxy_path_ok("/"));
    assert_false(mk_apiproxy_path_ok("/apix"));
    assert_false(mk_apiproxy_path_ok("/metrics"));
    assert_false(mk_apiproxy_path_ok("api/v1"));
    assert_false(mk_apiproxy_path_ok("http://evil.example/api"));
    assert_false(mk_apiproxy_path_ok("/api/../metrics"));
    assert_false(mk_apiproxy_path_ok("/api/%2e%2e/metrics"));
    assert_false(mk_apiproxy_path_ok("/api/v1/..%2Fx"));
    assert_true(mk_apiproxy_path_ok("/api/v1/namespaces/a..b/pods"));
}

static void test_get_passthrough(void **state)
{
    struct fx *f = *state;
    struct mk_apiproxy *p = proxy_start(f, NULL, NULL);
    unsigned port = mk_apiproxy_port(p);
    mk_autofree char *req = xasprintf(
        "GET /api/v1/namespaces/kube-system/pods HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
        "Authorization: Bearer stolen\r\nImpersonate-User: admin\r\nimpersonate-group: x\r\n"
        "Connection: keep-alive, X-Secret-Hop\r\nX-Secret-Hop: 1\r\nKeep-Alive: 5\r\n"
        "Accept: application/json\r\nX-Custom:  kept value \r\n\r\n",
        port);
    mk_autofree char *resp = http(port, req);
    assert_non_null(strstr(resp, "HTTP/1.1 200 X\r\n"));
    assert_non_null(strstr(resp, "\r\n\r\n{\"kind\":\"PodList\",\"cn\":\"mkube-user\"}"));

    mk_autofree struct seen *seen = up_seen(&f->up);
    const char *h = seen->head;
    mk_autofree char *host = xasprintf("\r\nHost: 127.0.0.1:%u\r\n", f->up.port);
    assert_true(mk_str_has_prefix(h, "GET /api/v1/namespaces/kube-system/pods HTTP/1.1\r\n"));
    assert_non_null(strstr(h, host));
    assert_null(strcasestr(h, "authorization"));
    assert_null(strcasestr(h, "impersonate"));
    assert_null(strcasestr(h, "keep-alive"));
    assert_null(strcasestr(h, "X-Secret-Hop"));
    assert_non_null(strstr(h, "\r\nAccept: application/json\r\n"));
    assert_non_null(strstr(h, "\r\nX-Custom: kept value\r\n"));
    assert_non_null(strstr(h, "\r\nConnection: close\r\n"));
    assert_string_equal(seen->cn, "mkube-user");

    /* a real HTTP client too: curl through the proxy, localhost as the host */
    if (mk_run_have("curl")) {
        mk_autofree char *url =
            xasprintf("http://localhost:%u/api/v1/namespaces/kube-system/pods", port);
        const char *argv[] = {"curl", "-sS", "--fail", "--max-time", "20", url, NULL};
        struct mk_run_opts o = {.capture_stdout = true, .capture_stderr = true};
        struct mk_run_result r;
        mk_run_result_init(&r);
        struct mk_error *err = NULL;
        assert_int_equal(mk_run_check(argv, &o, &r, &err), 0);
        assert_string_equal(r.out.buf, "{\"kind\":\"PodList\",\"cn\":\"mkube-user\"}");
        mk_run_result_release(&r);
    }
    assert_true(mk_apiproxy_served(p) >= 1);
    mk_apiproxy_stop(p);
}

static void test_refusals(void **state)
{
    struct fx *f = *state;
    struct mk_apiproxy *p = proxy_start(f, NULL, NULL);
    unsigned port = mk_apiproxy_port(p);
    int before = up_requests(&f->up);
    static const struct {
        const char *req; /* {port}: the proxy's port */
        const char *status;
    } cases[] = {
        {"GET /api/v1/pods HTTP/1.1\r\nHost: evil.example:{port}\r\n\r\n", "HTTP/1.1 403 "},
        {"GET /api/v1/pods HTTP/1.1\r\nX-Port: {port}\r\n\r\n", "HTTP/1.1 403 "},
        {"GET /api/v1/pods HTTP/1.1\r\nHost: localhost:{port}\r\nHost: evil.example\r\n\r\n",
         "HTTP/1.1 403 "},
        {"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n", "HTTP/1.1 404 "},
        {"GET /api/../metrics HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n", "HTTP/1.1 404 "},
        {"GET http://127.0.0.1/api HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n", "HTTP/1.1 404 "},
        {"GET /api HTTP/2.0\r\nHost: 127.0.0.1:{port}\r\n\r\n", "HTTP/1.1 505 "},
        {"GET /api HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n folded\r\n\r\n", "HTTP/1.1 400 "},
        {"POST /api HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 3\r\n"
         "Transfer-Encoding: chunked\r\n\r\n",
         "HTTP/1.1 400 "},
        {"POST /api HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nTransfer-Encoding: gzip\r\n\r\n",
         "HTTP/1.1 501 "},
        {"POST /api HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: -1\r\n\r\n",
         "HTTP/1.1 400 "},
    };
    for (size_t i = 0; i < MK_ARRAY_SIZE(cases); i++) {
        mk_autofree char *req = with_port(cases[i].req, port);
        mk_autofree char *resp = http(port, req);
        if (!mk_str_has_prefix(resp, cases[i].status))
            fail_msg("case %zu: want %s, got \"%s\"", i, cases[i].status, resp);
        assert_non_null(strstr(resp, "\r\nConnection: close\r\n"));
    }
    /* a head past 64 KiB */
    struct mk_buf big;
    mk_buf_init(&big);
    mk_buf_addf(&big, "GET /api HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n", port);
    for (int i = 0; i < 1100; i++)
        mk_buf_addf(&big, "X-Filler-%04d: %060d\r\n", i, 0);
    mk_buf_adds(&big, "\r\n");
    int fd = client_connect(port);
    send(fd, big.buf, big.len, MSG_NOSIGNAL); /* the proxy may close before reading it all */
    mk_autofree char *resp = recv_until(fd, NULL, 10000);
    close(fd);
    mk_buf_release(&big);
    assert_true(mk_str_has_prefix(resp, "HTTP/1.1 431 "));
    /* none of these reached the API server */
    assert_int_equal(up_requests(&f->up), before);
    mk_apiproxy_stop(p);
}

static void test_request_bodies(void **state)
{
    struct fx *f = *state;
    struct mk_apiproxy *p = proxy_start(f, NULL, NULL);
    unsigned port = mk_apiproxy_port(p);
    mk_autofree char *req =
        xasprintf("POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
                  "Content-Type: application/json\r\nContent-Length: "
                  "27\r\n\r\n{\"kind\":\"ConfigMap\",\"a\":1}\n",
                  port);
    mk_autofree char *resp = http(port, req);
    assert_true(mk_str_has_prefix(resp, "HTTP/1.1 201 "));
    mk_autofree struct seen *s1 = up_seen(&f->up);
    assert_string_equal(s1->body, "{\"kind\":\"ConfigMap\",\"a\":1}\n");

    /* chunked, sent in two pieces with a pause between */
    int fd = client_connect(port);
    mk_autofree char *head =
        xasprintf("POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: localhost:%u\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
                  port);
    send_all(fd, head, strlen(head));
    sleep_ms(200);
    const char *rest = "6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n";
    send_all(fd, rest, strlen(rest));
    mk_autofree char *resp2 = recv_until(fd, NULL, 10000);
    close(fd);
    assert_true(mk_str_has_prefix(resp2, "HTTP/1.1 201 "));
    mk_autofree struct seen *s2 = up_seen(&f->up);
    assert_string_equal(s2->body, "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n");
    assert_non_null(strstr(s2->head, "\r\nTransfer-Encoding: chunked\r\n"));
    mk_apiproxy_stop(p);
}

static void test_upgrade_round_trip(void **state)
{
    struct fx *f = *state;
    struct mk_apiproxy *p = proxy_start(f, NULL, NULL);
    unsigned port = mk_apiproxy_port(p);
    int fd = client_connect(port);
    mk_autofree char *req = xasprintf(
        "GET /api/v1/namespaces/default/pods/hello/exec?command=sh&stdin=true HTTP/1.1\r\n"
        "Host: 127.0.0.1:%u\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n",
        port);
    send_all(fd, req, strlen(req));
    mk_autofree char *head = recv_until(fd, "\r\n\r\n", 10000);
    assert_true(mk_str_has_prefix(head, "HTTP/1.1 101 Switching Protocols\r\n"));
    mk_autofree struct seen *seen = up_seen(&f->up);
    assert_non_null(strstr(seen->head, "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"));
    assert_non_null(strstr(seen->head, "\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"));
    assert_null(strstr(seen->head, "Connection: close"));
    /* bytes both ways, twice, over the same connection */
    send_all(fd, "ls /\n", 5);
    mk_autofree char *e1 = recv_until(fd, "echo:ls /\n", 10000);
    assert_string_equal(e1, "echo:ls /\n");
    send_all(fd,
             "\x82\x03"
             "abc",
             5);
    mk_autofree char *e2 = recv_until(fd, "abc", 10000);
    assert_string_equal(e2, "echo:\x82\x03"
                            "abc");
    close(fd);

    /* without Connection: Upgrade the Upgrade header does not pass */
    mk_autofree char *req2 =
        xasprintf("GET /api/v1/namespaces/default/pods/hello/exec?command=sh HTTP/1.1\r\n"
                  "Host: 127.0.0.1:%u\r\nUpgrade: websocket\r\n\r\n",
                  port);
    mk_autofree char *resp = http(port, req2);
    assert_true(mk_str_has_prefix(resp, "HTTP/1.1 404 "));
    mk_apiproxy_stop(p);
}

static void test_stream_ends_with_client(void **state)
{
    struct fx *f = *state;
    struct mk_apiproxy *p = proxy_start(f, NULL, NULL);
    unsigned port = mk_apiproxy_port(p);
    int fd = client_connect(port);
    mk_autofree char *req =
        xasprintf("GET /api/v1/namespaces/default/pods/hello/log?follow=true HTTP/1.1\r\n"
                  "Host: 127.0.0.1:%u\r\n\r\n",
                  port);
    send_all(fd, req, strlen(req));
    /* lines arrive while the response is still open: not buffered */
    mk_autofree char *got = recv_until(fd, "line 03\r\n", 10000);
    assert_true(mk_str_has_prefix(got, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(got, "\r\nTransfer-Encoding: chunked\r\n"));
    assert_non_null(strstr(got, "7\r\nline 00\r\n7\r\nline 01\r\n"));
    close(fd);
    /* the reader went away: the proxy drops the upstream stream too */
    bool closed = false;
    for (int i = 0; i < 100 && !closed; i++) {
        sleep_ms(100);
        mk_autofree struct seen *seen = up_seen(&f->up);
        closed = seen->stream_closed;
    }
    assert_true(closed);
    mk_apiproxy_stop(p);
}

static void test_upstream_failures(void **state)
{
    struct fx *f = *state;
    /* a client certificate the API server does not trust */
    struct mk_apiproxy *p = proxy_start(f, f->bad_crt, f->bad_key);
    unsigned port = mk_apiproxy_port(p);
    mk_autofree char *req = xasprintf(
        "GET /api/v1/namespaces/kube-system/pods HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n\r\n", port);
    mk_autofree char *resp = http(port, req);
    assert_true(mk_str_has_prefix(resp, "HTTP/1.1 502 "));
    mk_apiproxy_stop(p);
    mk_autofree struct seen *seen = up_seen(&f->up);
    assert_true(seen->handshake_fails >= 1);

    /* nothing listens upstream */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(s, (struct sockaddr *)&sa, sizeof(sa));
    socklen_t len = sizeof(sa);
    getsockname(s, (struct sockaddr *)&sa, &len);
    close(s); /* bound, never listened: the port is closed */
    mk_autofree char *dead = xasprintf("https://127.0.0.1:%u", ntohs(sa.sin_port));
    struct mk_apiproxy_config cfg = {
        .upstream = dead, .ca_path = f->ca, .cert_path = f->cli_crt, .key_path = f->cli_key};
    struct mk_error *err = NULL;
    assert_int_equal(mk_apiproxy_start(&cfg, &p, &err), 0);
    port = mk_apiproxy_port(p);
    mk_autofree char *req2 = xasprintf("GET /version HTTP/1.1\r\nHost: localhost:%u\r\n\r\n", port);
    mk_autofree char *resp2 = http(port, req2);
    assert_true(mk_str_has_prefix(resp2, "HTTP/1.1 502 "));
    assert_non_null(strstr(resp2, "cannot connect to the API server"));
    mk_apiproxy_stop(p);
}

static void test_bad_config(void **state)
{
    struct fx *f = *state;
    struct mk_apiproxy *p = NULL;
    struct mk_error *err = NULL;
    struct mk_apiproxy_config cfg = {.upstream = f->upstream_url,
                                     .ca_path = f->ca,
                                     .cert_path = "/nonexistent/client.crt",
                                     .key_path = f->cli_key};
    assert_int_equal(mk_apiproxy_start(&cfg, &p, &err), -1);
    assert_null(p);
    assert_int_equal(err->code, MK_EXIT_CONFIG);
    assert_non_null(
        strstr(err->msg, "cannot load the client certificate \"/nonexistent/client.crt\""));
    mk_error_free(err);
    err = NULL;

    cfg.cert_path = f->cli_crt;
    cfg.key_path = f->bad_key; /* not the certificate's key */
    assert_int_equal(mk_apiproxy_start(&cfg, &p, &err), -1);
    assert_int_equal(err->code, MK_EXIT_CONFIG);
    mk_error_free(err);
    err = NULL;

    cfg.key_path = f->cli_key;
    cfg.upstream = "http://127.0.0.1:1";
    assert_int_equal(mk_apiproxy_start(&cfg, &p, &err), -1);
    assert_int_equal(err->code, MK_EXIT_USAGE);
    mk_error_free(err);
    err = NULL;

    /* a port already taken */
    cfg.upstream = f->upstream_url;
    struct mk_apiproxy *first = proxy_start(f, NULL, NULL);
    cfg.port = mk_apiproxy_port(first);
    assert_int_equal(mk_apiproxy_start(&cfg, &p, &err), -1);
    assert_int_equal(err->code, MK_EXIT_USAGE);
    assert_non_null(strstr(err->msg, "already in use"));
    mk_error_free(err);
    mk_apiproxy_stop(first);
    mk_apiproxy_stop(NULL);
}

/* The listening socket in /proc/net/tcp{,6}: bound to 127.0.0.1, nothing else. */
static void test_loopback_only(void **state)
{
    struct fx *f = *state;
    struct mk_apiproxy *p = proxy_start(f, NULL, NULL);
    unsigned port = mk_apiproxy_port(p);
    int on_loopback = 0, elsewhere = 0;
    const char *tables[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    for (size_t t = 0; t < 2; t++) {
        FILE *fp = fopen(tables[t], "r");
        if (!fp)
            continue;
        char line[512];
        while (fgets(line, sizeof(line), fp)) {
            char local[64];
            unsigned lport = 0, st = 0;
            if (sscanf(line, " %*d: %63[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x", local, &lport, &st) !=
                3)
                continue;
            if (lport != port || st != 0x0A) /* LISTEN */
                continue;
            if (t == 0 && strcmp(local, "0100007F") == 0)
                on_loopback++;
            else
                elsewhere++;
        }
        fclose(fp);
    }
    assert_int_equal(on_loopback, 1);
    assert_int_equal(elsewhere, 0);
    mk_apiproxy_stop(p);
}

/* Stop with a spliced upgrade, a stream and an idle client open: it returns
 * at once, every thread and descriptor it had is gone, the port is closed. */
static void test_stop_is_clean(void **state)
{
    struct fx *f = *state;
    sleep_ms(100); /* let earlier tests' server threads finish */
    int fds0 = count_dir("/proc/self/fd");
    pthread_mutex_lock(&f->up.mu);
    int upconns0 = f->up.nconns;
    pthread_mutex_unlock(&f->up.mu);
    struct mk_apiproxy *p = proxy_start(f, NULL, NULL);
    unsigned port = mk_apiproxy_port(p);

    int up = client_connect(port);
    mk_autofree char *r1 =
        xasprintf("GET /api/v1/namespaces/default/pods/hello/exec?command=sh HTTP/1.1\r\n"
                  "Host: 127.0.0.1:%u\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
                  port);
    send_all(up, r1, strlen(r1));
    mk_autofree char *h1 = recv_until(up, "\r\n\r\n", 10000);
    assert_true(mk_str_has_prefix(h1, "HTTP/1.1 101 "));

    int st = client_connect(port);
    mk_autofree char *r2 =
        xasprintf("GET /api/v1/namespaces/default/pods/hello/log?follow=true HTTP/1.1\r\n"
                  "Host: 127.0.0.1:%u\r\n\r\n",
                  port);
    send_all(st, r2, strlen(r2));
    mk_autofree char *h2 = recv_until(st, "line 01", 10000);
    assert_non_null(strstr(h2, "line 01"));

    int idle = client_connect(port); /* sends nothing */
    sleep_ms(100);
    int threads_busy = count_dir("/proc/self/task");

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    mk_apiproxy_stop(p);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    print_message("stop with 3 open connections took %.3f s\n", dt);
    assert_true(dt < 2.0);

    /* every client connection was closed by the proxy */
    mk_autofree char *rest1 = recv_until(up, NULL, 5000);
    mk_autofree char *rest2 = recv_until(st, NULL, 5000);
    mk_autofree char *rest3 = recv_until(idle, NULL, 5000);
    assert_string_equal(rest3, "");
    close(up);
    close(st);
    close(idle);
    assert_int_equal(client_connect(port), -1);

    /* the proxy's threads (accept + 3 connections) are gone; the fake server's
     * connection threads end once they see the proxy's side close */
    int threads_after = count_dir("/proc/self/task");
    for (int i = 0; i < 40 && threads_after > threads_busy - 4; i++) {
        sleep_ms(50); /* the fake server's threads exit on their own time */
        threads_after = count_dir("/proc/self/task");
    }
    print_message("threads: %d while serving, %d after stop\n", threads_busy, threads_after);
    assert_true(threads_after <= threads_busy - 4);
    /* descriptors: back to where they were, but for the fake server's side of
     * the two upstream connections (closed at teardown) */
    pthread_mutex_lock(&f->up.mu);
    int upconns = f->up.nconns - upconns0;
    pthread_mutex_unlock(&f->up.mu);
    assert_int_equal(upconns, 2);
    assert_int_equal(count_dir("/proc/self/fd"), fds0 + upconns);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_and_path_rules),
        cmocka_unit_test_setup_teardown(test_get_passthrough, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_ends_with_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upstream_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loopback_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_is_clean, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
