/* apiproxy.c - the local authenticated API proxy (apiproxy.h): an accept
 * thread on 127.0.0.1, one thread per client connection, OpenSSL upstream. */
#include "apiproxy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

#define HEAD_MAX (64 * 1024) /* request or response head */
#define LINE_MAX_CHUNK 1024  /* a chunk-size or trailer line */
#define IO_CHUNK 16384
#define CONNECT_TIMEOUT_MS 30000   /* TCP connect + TLS handshake upstream */
#define RESPONSE_TIMEOUT_MS 300000 /* until the API server's response head */
#define DEFAULT_IDLE_MS 60000
#define DEFAULT_MAX_CONNS 256

struct conn {
    struct mk_apiproxy *p;
    int cfd;  /* client socket */
    int ufd;  /* upstream socket, -1 until connected */
    SSL *ssl; /* upstream TLS, NULL until connected */
    pthread_t tid;
    bool done; /* the thread has finished (under p->mu) */
    struct conn *next;
};

struct mk_apiproxy {
    char *up_host, *up_port;
    SSL_CTX *ctx;
    int lfd;
    unsigned port;
    int stop_pipe[2]; /* readable once stopping: wakes every poll */
    pthread_t accept_tid;
    bool accepting; /* accept_tid runs */
    pthread_mutex_t mu;
    struct conn *conns;
    int nconns;
    unsigned long served;
    int idle_ms, max_conns;
};

/* Buffered reads from the client: the bytes after a request head belong to
 * its body. */
struct rd {
    struct conn *c;
    char buf[IO_CHUNK];
    size_t off, len;
};

/* ------------------------------------------------------------- small checks */

static bool host_is(const char *host, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(host, name, n) == 0;
}

bool mk_apiproxy_host_ok(const char *host, unsigned port)
{
    if (!host)
        return false;
    const char *colon = strrchr(host, ':');
    size_t n = colon ? (size_t)(colon - host) : strlen(host);
    if (!host_is(host, n, "127.0.0.1") && !host_is(host, n, "localhost"))
        return false;
    if (!colon)
        return port == 80;
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(colon + 1, &end, 10);
    return colon[1] && !*end && errno == 0 && v == port && isdigit((unsigned char)colon[1]);
}

bool mk_apiproxy_path_ok(const char *path)
{
    static const char *const roots[] = {"/api",     "/apis",  "/version", "/openapi",
                                        "/healthz", "/livez", "/readyz"};
    if (!path || path[0] != '/')
        return false;
    size_t plen = strcspn(path, "?#");
    for (const char *s = path; s < path + plen; s++) {
        /* a ".." segment, raw or percent-encoded, is refused outright */
        if ((s == path || s[-1] == '/') &&
            (strncmp(s, "..", 2) == 0 || strncasecmp(s, "%2e%2e", 6) == 0 ||
             strncasecmp(s, ".%2e", 4) == 0 || strncasecmp(s, "%2e.", 4) == 0))
            return false;
    }
    for (size_t i = 0; i < MK_ARRAY_SIZE(roots); i++) {
        size_t n = strlen(roots[i]);
        if (plen >= n && strncmp(path, roots[i], n) == 0 &&
            (path[n] == '\0' || path[n] == '/' || path[n] == '?' || path[n] == '#'))
            return true;
    }
    return false;
}

/* Is token one of the comma-separated tokens of list (case-insensitive)? */
static bool list_has(const char *list, const char *token)
{
    size_t tn = strlen(token);
    for (const char *s = list; s && *s;) {
        while (*s == ' ' || *s == '\t' || *s == ',')
            s++;
        size_t n = strcspn(s, ",");
        size_t m = n;
        while (m > 0 && (s[m - 1] == ' ' || s[m - 1] == '\t'))
            m--;
        if (m == tn && strncasecmp(s, token, tn) == 0)
            return true;
        s += n;
    }
    return false;
}

/* -------------------------------------------------------------------- I/O */

/* Wait until fd has events (1), timeout (0) or the proxy stops / fd fails (-1). */
static int wait_fd(struct conn *c, int fd, short events, int timeout_ms)
{
    struct pollfd pf[2] = {{.fd = fd, .events = events},
                           {.fd = c->p->stop_pipe[0], .events = POLLIN}};
    for (;;) {
        int r = poll(pf, 2, timeout_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || pf[1].revents)
            return -1;
        if (r == 0)
            return 0;
        return 1;
    }
}

static int client_send(struct conn *c, const void *data, size_t n)
{
    const char *s = data;
    while (n > 0) {
        ssize_t w = send(c->cfd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read what the client has: >0 bytes, 0 at EOF, -1 on error/stop/timeout. */
static ssize_t client_recv(struct conn *c, void *buf, size_t n, int timeout_ms)
{
    if (wait_fd(c, c->cfd, POLLIN, timeout_ms) <= 0)
        return -1;
    for (;;) {
        ssize_t r = recv(c->cfd, buf, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        return r < 0 ? -1 : r;
    }
}

static int up_send(struct conn *c, const void *data, size_t n)
{
    while (n > 0) {
        int chunk = n > INT_MAX ? INT_MAX : (int)n;
        int w = SSL_write(c->ssl, data, chunk);
        if (w <= 0)
            return -1;
        data = (const char *)data + w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read from the API server: >0 bytes, 0 at EOF, -1 on error/stop/timeout. */
static ssize_t up_recv(struct conn *c, void *buf, size_t n, int timeout_ms)
{
    if (SSL_pending(c->ssl) <= 0 && wait_fd(c, c->ufd, POLLIN, timeout_ms) <= 0)
        return -1;
    int chunk = n > INT_MAX ? INT_MAX : (int)n;
    int r = SSL_read(c->ssl, buf, chunk);
    if (r > 0)
        return r;
    int e = SSL_get_error(c->ssl, r);
    ERR_clear_error();
    if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && r == 0))
        return 0;
    return -1;
}

static int rd_fill(struct rd *r, int timeout_ms)
{
    if (r->off < r->len)
        return 1;
    ssize_t n = client_recv(r->c, r->buf, sizeof(r->buf), timeout_ms);
    if (n <= 0)
        return -1;
    r->off = 0;
    r->len = (size_t)n;
    return 1;
}

/* Copy n body bytes from the client to the API server. */
static int rd_copy(struct rd *r, unsigned long long n, int timeout_ms)
{
    while (n > 0) {
        if (rd_fill(r, timeout_ms) < 0)
            return -1;
        size_t k = r->len - r->off;
        if (k > n)
            k = (size_t)n;
        if (up_send(r->c, r->buf + r->off, k) < 0)
            return -1;
        r->off += k;
        n -= k;
    }
    return 0;
}

/* One CRLF-terminated line from the client into line (with its CRLF). */
static int rd_line(struct rd *r, struct mk_buf *line, int timeout_ms)
{
    mk_buf_reset(line);
    for (;;) {
        if (rd_fill(r, timeout_ms) < 0)
            return -1;
        char ch = r->buf[r->off++];
        if (mk_buf_add(line, &ch, 1) < 0)
            return -1;
        if (ch == '\n')
            return 0;
    }
}

/* Pass a chunked request body through, framing included. */
static int rd_copy_chunked(struct rd *r, int timeout_ms)
{
    mk_autobuf struct mk_buf line = MK_BUF_INIT;
    mk_buf_init(&line);
    line.cap = LINE_MAX_CHUNK;
    for (;;) {
        if (rd_line(r, &line, timeout_ms) < 0)
            return -1;
        char *end = NULL;
        errno = 0;
        unsigned long long size = strtoull(line.buf, &end, 16);
        if (end == line.buf || errno || !isxdigit((unsigned char)line.buf[0]))
            return -1;
        if (up_send(r->c, line.buf, line.len) < 0)
            return -1;
        if (size == 0)
            break;
        if (rd_copy(r, size + 2, timeout_ms) < 0) /* data and its CRLF */
            return -1;
    }
    /* trailer lines up to the empty one */
    for (;;) {
        if (rd_line(r, &line, timeout_ms) < 0 || up_send(r->c, line.buf, line.len) < 0)
            return -1;
        if (strcmp(line.buf, "\r\n") == 0 || strcmp(line.buf, "\n") == 0)
            return 0;
    }
}

/* ------------------------------------------------------------- the request */

struct req {
    char *method, *target;
    char *upgrade_proto; /* the Upgrade header, when upgrading */
    bool upgrade;
    bool chunked;
    bool has_length;
    unsigned long long length;
};

static void req_release(struct req *q)
{
    free(q->method);
    free(q->target);
    free(q->upgrade_proto);
}

static void reply_error(struct conn *c, int code, const char *reason, const char *msg)
{
    mk_autofree char *body = xasprintf("%s\n", msg);
    mk_autofree char *resp =
        xasprintf("HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                  "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                  code, reason, strlen(body), body);
    client_send(c, resp, strlen(resp));
}

static bool is_token_char(char ch)
{
    return isalnum((unsigned char)ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Headers the client may not pass: hop-by-hop ones and those that would
 * change who the proxy acts as. */
static bool header_dropped(const char *name, size_t n, const char *conn_tokens)
{
    static const char *const drop[] = {
        "host",    "connection", "keep-alive",          "proxy-connection", "te",
        "trailer", "upgrade",    "proxy-authorization", "authorization"};
    for (size_t i = 0; i < MK_ARRAY_SIZE(drop); i++)
        if (strlen(drop[i]) == n && strncasecmp(name, drop[i], n) == 0)
            return true;
    if (n >= 12 && strncasecmp(name, "impersonate-", 12) == 0)
        return true;
    /* names listed in Connection are hop-by-hop too */
    mk_autofree char *nm = xstrndup(name, n);
    return conn_tokens && list_has(conn_tokens, nm);
}

/* Parse the client's head (NUL-terminated, ending in CRLFCRLF) into q and the
 * head to send upstream. Returns 0, or an HTTP status to refuse with. */
static int parse_request(struct conn *c, char *head, struct req *q, struct mk_buf *out,
                         const char **why)
{
    char *save = NULL;
    char *line = strtok_r(head, "\n", &save);
    if (!line)
        return *why = "empty request", 400;
    line[strcspn(line, "\r")] = '\0';
    char *sp1 = strchr(line, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || strchr(sp2 + 1, ' '))
        return *why = "malformed request line", 400;
    *sp1 = *sp2 = '\0';
    const char *version = sp2 + 1;
    if (strcmp(version, "HTTP/1.1") != 0 && strcmp(version, "HTTP/1.0") != 0)
        return *why = "only HTTP/1.0 and HTTP/1.1 are served", 505;
    for (const char *m = line; *m; m++)
        if (!is_token_char(*m))
            return *why = "malformed method", 400;
    q->method = xstrdup(line);
    q->target = xstrdup(sp1 + 1);
    for (const char *t = q->target; *t; t++)
        if ((unsigned char)*t <= ' ' || *t == 0x7f)
            return *why = "malformed request target", 400;

    /* First pass over the headers: Host, Connection, Upgrade, body framing. */
    char *lines[512];
    size_t nlines = 0;
    const char *host = NULL, *conn_tokens = NULL, *upgrade = NULL, *te = NULL, *cl = NULL;
    int nhost = 0, ncl = 0;
    while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
        line[strcspn(line, "\r")] = '\0';
        if (!*line)
            break;
        if (*line == ' ' || *line == '\t')
            return *why = "folded header lines are not accepted", 400;
        char *colon = strchr(line, ':');
        if (!colon || colon == line)
            return *why = "malformed header line", 400;
        for (char *s = line; s < colon; s++)
            if (!is_token_char(*s))
                return *why = "malformed header name", 400;
        if (nlines == MK_ARRAY_SIZE(lines))
            return *why = "too many header lines", 431;
        lines[nlines++] = line;
        size_t n = (size_t)(colon - line);
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        for (char *e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t');)
            *--e = '\0';
        if (n == 4 && strncasecmp(line, "host", 4) == 0)
            host = v, nhost++;
        else if (n == 10 && strncasecmp(line, "connection", 10) == 0)
            conn_tokens = v;
        else if (n == 7 && strncasecmp(line, "upgrade", 7) == 0)
            upgrade = v;
        else if (n == 17 && strncasecmp(line, "transfer-encoding", 17) == 0)
            te = v;
        else if (n == 14 && strncasecmp(line, "content-length", 14) == 0)
            cl = v, ncl++;
    }
    if (nhost != 1 || !mk_apiproxy_host_ok(host, c->p->port))
        return *why = "the Host header must name this proxy (127.0.0.1 or localhost)", 403;
    if (!mk_apiproxy_path_ok(q->target))
        return *why = "only Kubernetes API paths are served", 404;
    if (te && cl)
        return *why = "both Transfer-Encoding and Content-Length", 400;
    if (te) {
        if (strcasecmp(te, "chunked") != 0)
            return *why = "only the chunked transfer coding is accepted", 501;
        q->chunked = true;
    }
    if (cl) {
        char *end = NULL;
        errno = 0;
        q->length = strtoull(cl, &end, 10);
        if (ncl != 1 || !isdigit((unsigned char)*cl) || *end || errno)
            return *why = "malformed Content-Length", 400;
        q->has_length = true;
    }
    q->upgrade = upgrade && *upgrade && conn_tokens && list_has(conn_tokens, "upgrade");
    if (q->upgrade)
        q->upgrade_proto = xstrdup(upgrade);

    /* Second pass: the head for the API server. */
    mk_buf_addf(out, "%s %s HTTP/1.1\r\nHost: %s:%s\r\n", q->method, q->target, c->p->up_host,
                c->p->up_port);
    for (size_t i = 0; i < nlines; i++) {
        const char *colon = strchr(lines[i], ':');
        size_t n = (size_t)(colon - lines[i]);
        if (header_dropped(lines[i], n, conn_tokens))
            continue;
        const char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        mk_buf_addf(out, "%.*s: %s\r\n", (int)n, lines[i], v);
    }
    if (q->chunked)
        mk_buf_adds(out, "Transfer-Encoding: chunked\r\n");
    if (q->upgrade)
        mk_buf_addf(out, "Connection: Upgrade\r\nUpgrade: %s\r\n", upgrade);
    else
        mk_buf_adds(out, "Connection: close\r\n");
    mk_buf_adds(out, "\r\n");
    return 0;
}

/* -------------------------------------------------------------- upstream */

static void conn_set_fds(struct conn *c, int ufd, SSL *ssl)
{
    pthread_mutex_lock(&c->p->mu);
    c->ufd = ufd;
    c->ssl = ssl;
    pthread_mutex_unlock(&c->p->mu);
}

static int up_connect(struct conn *c, const char **why)
{
    struct mk_apiproxy *p = c->p;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    if (getaddrinfo(p->up_host, p->up_port, &hints, &ai) != 0 || !ai)
        return *why = "cannot resolve the API server's host", -1;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        freeaddrinfo(ai);
        return *why = "cannot make a socket", -1;
    }
    int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    conn_set_fds(c, fd, NULL);
    if (r < 0 && errno != EINPROGRESS)
        return *why = "cannot connect to the API server", -1;
    if (r < 0) {
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        if (wait_fd(c, fd, POLLOUT, CONNECT_TIMEOUT_MS) <= 0 ||
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr != 0)
            return *why = "cannot connect to the API server", -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    struct timeval tv = {.tv_sec = CONNECT_TIMEOUT_MS / 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

    SSL *ssl = SSL_new(p->ctx);
    if (!ssl)
        return *why = "cannot make a TLS session", -1;
    conn_set_fds(c, fd, ssl);
    SSL_set_fd(ssl, fd);
    struct in6_addr a6;
    struct in_addr a4;
    if (inet_pton(AF_INET, p->up_host, &a4) == 1 || inet_pton(AF_INET6, p->up_host, &a6) == 1) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), p->up_host);
    } else {
        SSL_set_tlsext_host_name(ssl, p->up_host);
        SSL_set1_host(ssl, p->up_host);
    }
    if (SSL_connect(ssl) != 1) {
        long v = SSL_get_verify_result(ssl);
        mk_debug(2, "apiproxy: TLS handshake with %s:%s failed: %s", p->up_host, p->up_port,
                 v != X509_V_OK ? X509_verify_cert_error_string(v)
                                : ERR_reason_error_string(ERR_peek_last_error()));
        ERR_clear_error();
        return *why = v != X509_V_OK ? "the API server's certificate did not verify"
                                     : "the TLS handshake with the API server failed",
               -1;
    }
    struct timeval zero = {0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &zero, sizeof(zero));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &zero, sizeof(zero));
    return 0;
}

/* The API server's response head into head (plus whatever followed it). */
static int read_response_head(struct conn *c, struct mk_buf *head, size_t *head_len)
{
    char buf[IO_CHUNK];
    for (;;) {
        ssize_t n = up_recv(c, buf, sizeof(buf), RESPONSE_TIMEOUT_MS);
        if (n <= 0 || mk_buf_add(head, buf, (size_t)n) < 0)
            return -1;
        char *end = strstr(head->buf, "\r\n\r\n");
        if (end) {
            *head_len = (size_t)(end - head->buf) + 4;
            return 0;
        }
    }
}

/* Stream the response body until the API server closes; a client that goes
 * away ends it too (watches, followed logs). */
static void pump_down(struct conn *c)
{
    char buf[IO_CHUNK];
    for (;;) {
        if (SSL_pending(c->ssl) <= 0) {
            struct pollfd pf[3] = {{.fd = c->ufd, .events = POLLIN},
                                   {.fd = c->cfd, .events = POLLIN},
                                   {.fd = c->p->stop_pipe[0], .events = POLLIN}};
            int r = poll(pf, 3, -1);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0 || pf[2].revents)
                return;
            if (pf[1].revents) {
                ssize_t n = recv(c->cfd, buf, sizeof(buf), MSG_DONTWAIT);
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                    return; /* client gone; extra bytes are ignored */
            }
            if (!pf[0].revents)
                continue;
        }
        ssize_t n = up_recv(c, buf, sizeof(buf), 0);
        if (n <= 0 || client_send(c, buf, (size_t)n) < 0)
            return;
    }
}

/* After 101 Switching Protocols: bytes both ways until either side closes. */
static void splice_both(struct conn *c)
{
    char buf[IO_CHUNK];
    for (;;) {
        bool up_ready = SSL_pending(c->ssl) > 0, client_ready = false;
        if (!up_ready) {
            struct pollfd pf[3] = {{.fd = c->ufd, .events = POLLIN},
                                   {.fd = c->cfd, .events = POLLIN},
                                   {.fd = c->p->stop_pipe[0], .events = POLLIN}};
            int r = poll(pf, 3, -1);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0 || pf[2].revents)
                return;
            up_ready = pf[0].revents != 0;
            client_ready = pf[1].revents != 0;
        }
        if (client_ready) {
            ssize_t n = recv(c->cfd, buf, sizeof(buf), 0);
            if (n <= 0 || up_send(c, buf, (size_t)n) < 0)
                return;
        }
        if (up_ready) {
            ssize_t n = up_recv(c, buf, sizeof(buf), 0);
            if (n <= 0 || client_send(c, buf, (size_t)n) < 0)
                return;
        }
    }
}

/* --------------------------------------------------------- one connection */

static void serve(struct conn *c)
{
    struct rd *r = xcalloc(1, sizeof(*r));
    r->c = c;
    mk_autobuf struct mk_buf head = MK_BUF_INIT;
    mk_autobuf struct mk_buf up = MK_BUF_INIT;
    mk_autobuf struct mk_buf resp = MK_BUF_INIT;
    struct req q = {0};
    const char *why = NULL;
    mk_buf_init(&head);
    mk_buf_init(&up);
    mk_buf_init(&resp);
    head.cap = HEAD_MAX;
    resp.cap = HEAD_MAX + IO_CHUNK;

    /* the request head, and the first body bytes after it */
    char *end = NULL;
    while (!end) {
        ssize_t n = client_recv(c, r->buf, sizeof(r->buf), c->p->idle_ms);
        if (n <= 0)
            goto cleanup;
        if (mk_buf_add(&head, r->buf, (size_t)n) < 0) {
            reply_error(c, 431, "Request Header Fields Too Large", "request head too large");
            goto cleanup;
        }
        end = strstr(head.buf, "\r\n\r\n");
    }
    size_t head_len = (size_t)(end - head.buf) + 4;
    r->len = head.len - head_len;
    memcpy(r->buf, head.buf + head_len, r->len);
    head.buf[head_len] = '\0';

    int status = parse_request(c, head.buf, &q, &up, &why);
    if (status) {
        static const struct {
            int code;
            const char *reason;
        } reasons[] = {
            {400, "Bad Request"},     {403, "Forbidden"},
            {404, "Not Found"},       {431, "Request Header Fields Too Large"},
            {501, "Not Implemented"}, {505, "HTTP Version Not Supported"},
        };
        const char *reason = "Error";
        for (size_t i = 0; i < MK_ARRAY_SIZE(reasons); i++)
            if (reasons[i].code == status)
                reason = reasons[i].reason;
        mk_debug(2, "apiproxy: refused %s %s: %s", q.method ? q.method : "?",
                 q.target ? q.target : "?", why);
        reply_error(c, status, reason, why);
        goto cleanup;
    }
    if (up_connect(c, &why) < 0) {
        mk_debug(1, "apiproxy: %s %s: %s", q.method, q.target, why);
        mk_autofree char *msg =
            xasprintf("mkube proxy: %s (https://%s:%s)", why, c->p->up_host, c->p->up_port);
        reply_error(c, 502, "Bad Gateway", msg);
        goto cleanup;
    }
    if (up_send(c, up.buf, up.len) < 0)
        goto cleanup;
    if (q.chunked ? rd_copy_chunked(r, c->p->idle_ms) < 0
                  : q.has_length && rd_copy(r, q.length, c->p->idle_ms) < 0) {
        mk_debug(1, "apiproxy: %s %s: the request body was cut short", q.method, q.target);
        goto cleanup;
    }
    size_t rhead_len = 0;
    if (read_response_head(c, &resp, &rhead_len) < 0) {
        reply_error(c, 502, "Bad Gateway", "mkube proxy: no response from the API server");
        goto cleanup;
    }
    int code = 0;
    sscanf(resp.buf, "HTTP/1.%*d %d", &code);
    mk_debug(2, "apiproxy: %s %s -> %d%s%s", q.method, q.target, code, q.upgrade ? " upgrade " : "",
             q.upgrade ? q.upgrade_proto : "");
    if (client_send(c, resp.buf, resp.len) < 0)
        goto cleanup;
    if (code == 101 && q.upgrade) {
        /* bytes the client sent after its head already belong to the new protocol */
        if (r->off < r->len && up_send(c, r->buf + r->off, r->len - r->off) < 0)
            goto cleanup;
        splice_both(c);
    } else {
        pump_down(c);
    }
cleanup:
    req_release(&q);
    free(r);
}

static void conn_close_fds(struct conn *c)
{
    pthread_mutex_lock(&c->p->mu);
    if (c->ssl)
        SSL_free(c->ssl);
    c->ssl = NULL;
    if (c->ufd >= 0)
        close(c->ufd);
    c->ufd = -1;
    close(c->cfd);
    c->cfd = -1;
    c->done = true;
    pthread_mutex_unlock(&c->p->mu);
}

static void *conn_main(void *arg)
{
    struct conn *c = arg;
    serve(c);
    conn_close_fds(c);
    ERR_clear_error();
    OPENSSL_thread_stop();
    return NULL;
}

/* Join and free the finished connections (all of them when all is set,
 * after their sockets were shut down). */
static void reap(struct mk_apiproxy *p, bool all)
{
    for (;;) {
        struct conn *victim = NULL;
        pthread_mutex_lock(&p->mu);
        for (struct conn **pp = &p->conns; *pp; pp = &(*pp)->next) {
            if ((*pp)->done || all) {
                victim = *pp;
                *pp = victim->next;
                p->nconns--;
                break;
            }
        }
        pthread_mutex_unlock(&p->mu);
        if (!victim)
            return;
        pthread_join(victim->tid, NULL);
        free(victim);
    }
}

static void *accept_main(void *arg)
{
    struct mk_apiproxy *p = arg;
    for (;;) {
        struct pollfd pf[2] = {{.fd = p->lfd, .events = POLLIN},
                               {.fd = p->stop_pipe[0], .events = POLLIN}};
        int r = poll(pf, 2, 1000);
        if (r < 0 && errno != EINTR)
            break;
        if (r > 0 && pf[1].revents)
            break;
        reap(p, false);
        if (r <= 0 || !pf[0].revents)
            continue;
        int fd = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&p->mu);
        bool full = p->nconns >= p->max_conns;
        p->served++;
        pthread_mutex_unlock(&p->mu);
        struct conn *c = xcalloc(1, sizeof(*c));
        c->p = p;
        c->cfd = fd;
        c->ufd = -1;
        if (full) {
            reply_error(c, 503, "Service Unavailable", "mkube proxy: too many connections");
            close(fd);
            free(c);
            continue;
        }
        pthread_mutex_lock(&p->mu);
        c->next = p->conns;
        p->conns = c;
        p->nconns++;
        if (pthread_create(&c->tid, NULL, conn_main, c) != 0) {
            p->conns = c->next;
            p->nconns--;
            close(fd);
            free(c);
        }
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

/* ------------------------------------------------------------- lifecycle */

static int split_upstream(const char *url, char **host, char **port, struct mk_error **err)
{
    if (!mk_str_has_prefix(url, "https://"))
        return mk_error_set(err, MK_EXIT_USAGE, "the API server URL \"%s\" is not https://", url);
    const char *h = url + 8;
    size_t n = strcspn(h, "/");
    mk_autofree char *hp = xstrndup(h, n);
    const char *colon = NULL;
    if (hp[0] == '[') {
        char *rb = strchr(hp, ']');
        if (rb && rb[1] == ':')
            colon = rb + 1;
        if (rb) {
            *host = xstrndup(hp + 1, (size_t)(rb - hp - 1));
            *port = xstrdup(colon ? colon + 1 : "443");
            return 0;
        }
        return mk_error_set(err, MK_EXIT_USAGE, "malformed API server URL \"%s\"", url);
    }
    colon = strrchr(hp, ':');
    *host = colon ? xstrndup(hp, (size_t)(colon - hp)) : xstrdup(hp);
    *port = xstrdup(colon ? colon + 1 : "443");
    if (!**host || !**port)
        return mk_error_set(err, MK_EXIT_USAGE, "malformed API server URL \"%s\"", url);
    return 0;
}

static int ssl_error(struct mk_error **err, const char *what, const char *path)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "unknown error";
    if (e)
        ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return mk_error_set(err, MK_EXIT_CONFIG, "cannot load %s \"%s\": %s", what, path, buf);
}

static SSL_CTX *make_ctx(const struct mk_apiproxy_config *cfg, struct mk_error **err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        mk_error_set(err, MK_EXIT_FAILURE, "cannot make a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (SSL_CTX_load_verify_locations(ctx, cfg->ca_path, NULL) != 1)
        ssl_error(err, "the CA certificate", cfg->ca_path);
    else if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_path) != 1)
        ssl_error(err, "the client certificate", cfg->cert_path);
    else if (SSL_CTX_use_PrivateKey_file(ctx, cfg->key_path, SSL_FILETYPE_PEM) != 1)
        ssl_error(err, "the client key", cfg->key_path);
    else if (SSL_CTX_check_private_key(ctx) != 1)
        ssl_error(err, "the client key (it does not match the certificate)", cfg->key_path);
    else
        return ctx;
    SSL_CTX_free(ctx);
    return NULL;
}

static int listen_local(unsigned port, int *fd_out, unsigned *port_out, struct mk_error **err)
{
    mk_autoclose int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return mk_error_errno(err, errno, "cannot make a socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (errno == EADDRINUSE)
            return mk_error_set(err, MK_EXIT_USAGE, "port %u on 127.0.0.1 is already in use", port);
        return mk_error_errno(err, errno, "cannot listen on 127.0.0.1:%u", port);
    }
    if (listen(fd, 128) < 0)
        return mk_error_errno(err, errno, "cannot listen on 127.0.0.1:%u", port);
    socklen_t len = sizeof(sa);
    if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
        return mk_error_errno(err, errno, "cannot read the proxy's address");
    *port_out = ntohs(sa.sin_port);
    *fd_out = fd;
    fd = -1;
    return 0;
}

int mk_apiproxy_start(const struct mk_apiproxy_config *cfg, struct mk_apiproxy **out,
                      struct mk_error **err)
{
    *out = NULL;
    if (cfg->port > 65535)
        return mk_error_set(err, MK_EXIT_USAGE, "invalid port %u", cfg->port);
    struct mk_apiproxy *p = xcalloc(1, sizeof(*p));
    p->lfd = -1;
    p->stop_pipe[0] = p->stop_pipe[1] = -1;
    p->idle_ms = cfg->idle_timeout_ms > 0 ? cfg->idle_timeout_ms : DEFAULT_IDLE_MS;
    p->max_conns = cfg->max_conns > 0 ? cfg->max_conns : DEFAULT_MAX_CONNS;
    pthread_mutex_init(&p->mu, NULL);
    sigset_t block, old;
    if (split_upstream(cfg->upstream, &p->up_host, &p->up_port, err) < 0)
        goto cleanup;
    if (!(p->ctx = make_ctx(cfg, err)))
        goto cleanup;
    if (pipe2(p->stop_pipe, O_CLOEXEC) < 0) {
        mk_error_errno(err, errno, "cannot make a pipe");
        goto cleanup;
    }
    if (listen_local(cfg->port, &p->lfd, &p->port, err) < 0)
        goto cleanup;
    /* The proxy's threads leave SIGINT/SIGTERM/SIGHUP to the main thread and
     * never die of SIGPIPE (OpenSSL writes with write(2)). */
    sigemptyset(&block);
    sigaddset(&block, SIGPIPE);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    p->accepting = pthread_create(&p->accept_tid, NULL, accept_main, p) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!p->accepting) {
        mk_error_set(err, MK_EXIT_FAILURE, "cannot start the proxy thread");
        goto cleanup;
    }
    mk_debug(1, "apiproxy: 127.0.0.1:%u -> https://%s:%s", p->port, p->up_host, p->up_port);
    *out = p;
    return 0;
cleanup:
    mk_apiproxy_stop(p);
    return -1;
}

unsigned mk_apiproxy_port(const struct mk_apiproxy *p)
{
    return p->port;
}

unsigned long mk_apiproxy_served(const struct mk_apiproxy *p)
{
    struct mk_apiproxy *mp = (struct mk_apiproxy *)p;
    pthread_mutex_lock(&mp->mu);
    unsigned long n = p->served;
    pthread_mutex_unlock(&mp->mu);
    return n;
}

void mk_apiproxy_stop(struct mk_apiproxy *p)
{
    if (!p)
        return;
    if (p->stop_pipe[1] >= 0) {
        ssize_t w;
        do
            w = write(p->stop_pipe[1], "x", 1);
        while (w < 0 && errno == EINTR);
    }
    if (p->accepting)
        pthread_join(p->accept_tid, NULL);
    if (p->lfd >= 0)
        close(p->lfd);
    /* wake threads blocked in send/SSL_write, then join them all */
    pthread_mutex_lock(&p->mu);
    for (struct conn *c = p->conns; c; c = c->next) {
        if (c->cfd >= 0)
            shutdown(c->cfd, SHUT_RDWR);
        if (c->ufd >= 0)
            shutdown(c->ufd, SHUT_RDWR);
    }
    pthread_mutex_unlock(&p->mu);
    reap(p, true);
    for (int i = 0; i < 2; i++)
        if (p->stop_pipe[i] >= 0)
            close(p->stop_pipe[i]);
    if (p->ctx)
        SSL_CTX_free(p->ctx);
    pthread_mutex_destroy(&p->mu);
    free(p->up_host);
    free(p->up_port);
    free(p);
}
