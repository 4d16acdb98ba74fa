/* test-download.c - downloads from file:// and from a Range-aware HTTP server on 127.0.0.1. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pty.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "download.h"
#include "fsutil.h"

/* ---- a small HTTP/1.1 server: GET with Range, one connection at a time ---- */

enum { F_DATA, F_DATA_SHA, F_NORANGE, F_BADRANGE, F_SLOW, F_STALL, F_COUNT };

struct srv_file {
    const char *path;
    char *data;
    size_t len;
    bool ignore_range; /* answer 200 with the whole body */
    bool bad_range;    /* answer 206 from the wrong offset */
    int delay_ms;      /* spread the body over about this long */
    bool stall;        /* send a little, then go silent */
};

static struct srv_file files[F_COUNT];
static int listen_fd = -1;
static unsigned port;
static pthread_t server_thread;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int requests[F_COUNT + 1]; /* last slot: unknown paths */
static char last_range[F_COUNT + 1][64];

static char tmpdir[] = "/tmp/mkube-test-dl-XXXXXX";
static char data_sha[65];

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        c += w;
        n -= (size_t)w;
    }
}

static void serve(int c)
{
    char req[8192];
    size_t n = 0;
    while (n < sizeof(req) - 1) {
        ssize_t r = recv(c, req + n, sizeof(req) - 1 - n, 0);
        if (r <= 0)
            return;
        n += (size_t)r;
        req[n] = '\0';
        if (strstr(req, "\r\n\r\n"))
            break;
    }
    char path[256] = "";
    sscanf(req, "GET %255s", path);
    long long from = -1;
    const char *rg = strcasestr(req, "\r\nRange: bytes=");
    if (rg)
        from = atoll(rg + strlen("\r\nRange: bytes="));
    int idx = F_COUNT;
    for (int i = 0; i < F_COUNT; i++)
        if (files[i].path && strcmp(files[i].path, path) == 0)
            idx = i;
    pthread_mutex_lock(&mu);
    requests[idx]++;
    snprintf(last_range[idx], sizeof(last_range[idx]), "%s", from >= 0 ? "" : "none");
    if (from >= 0)
        snprintf(last_range[idx], sizeof(last_range[idx]), "bytes=%lld-", from);
    pthread_mutex_unlock(&mu);
    char head[512];
    if (idx == F_COUNT) {
        const char *body = "not found\n";
        snprintf(head, sizeof(head),
                 "HTTP/1.1 404 Not Found\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                 strlen(body));
        send_all(c, head, strlen(head));
        send_all(c, body, strlen(body));
        return;
    }
    struct srv_file *f = &files[idx];
    size_t start = 0;
    if (from >= 0 && !f->ignore_range) {
        if ((size_t)from >= f->len) {
            snprintf(head, sizeof(head),
                     "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */%zu\r\n"
                     "Content-Length: 0\r\nConnection: close\r\n\r\n",
                     f->len);
            send_all(c, head, strlen(head));
            return;
        }
        start = f->bad_range ? 0 : (size_t)from;
        snprintf(head, sizeof(head),
                 "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes %zu-%zu/%zu\r\n"
                 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                 start, f->len - 1, f->len, f->len - start);
    } else {
        snprintf(head, sizeof(head),
                 "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nAccept-Ranges: %s\r\n"
                 "Connection: close\r\n\r\n",
                 f->len, f->ignore_range ? "none" : "bytes");
    }
    send_all(c, head, strlen(head));
    if (f->stall) {
        send_all(c, f->data, 100);
        usleep(4000 * 1000);
        return;
    }
    size_t steps = f->delay_ms ? 20 : 1;
    size_t step = (f->len - start + steps - 1) / steps;
    for (size_t off = start; off < f->len; off += step) {
        send_all(c, f->data + off, off + step > f->len ? f->len - off : step);
        if (f->delay_ms)
            usleep((useconds_t)f->delay_ms * 1000 / 20);
    }
}

static void *server_main(void *arg)
{
    for (;;) {
        int c = accept(listen_fd, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return NULL;
        }
        serve(c);
        shutdown(c, SHUT_WR);
        close(c);
    }
}

static int count(int idx)
{
    pthread_mutex_lock(&mu);
    int n = requests[idx];
    pthread_mutex_unlock(&mu);
    return n;
}

static char *make_data(size_t n, uint64_t seed)
{
    char *d = xmalloc(n);
    uint64_t x = seed;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        d[i] = (char)(x >> 24);
    }
    return d;
}

static char *url_of(const char *path)
{
    return xasprintf("http://127.0.0.1:%u%s", port, path);
}

static char *tmp_path(const char *name)
{
    return xasprintf("%s/%s", tmpdir, name);
}

static void write_file(const char *path, const void *data, size_t len)
{
    struct mk_error *err = NULL;
    assert_int_equal(mk_write_file_atomic(path, data, len, 0644, &err), 0);
}

static void sha_of(const char *path, char out[65])
{
    struct mk_error *err = NULL;
    assert_int_equal(mk_sha256_file(path, out, &err), 0);
}

static int setup(void **state)
{
    /* the test talks to 127.0.0.1 only: no proxy may sit in between */
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("ALL_PROXY");
    unsetenv("all_proxy");
    assert_non_null(mkdtemp(tmpdir));
    files[F_DATA] = (struct srv_file){"/data.bin", make_data(3u << 20, 1), 3u << 20};
    mk_autofree char *p = tmp_path("data.ref");
    write_file(p, files[F_DATA].data, files[F_DATA].len);
    sha_of(p, data_sha);
    mk_autofree char *sidecar = xasprintf("%s  data2.bin\n", data_sha);
    files[F_DATA_SHA] = (struct srv_file){"/data2.bin.sha256", xstrdup(sidecar), strlen(sidecar)};
    files[F_NORANGE] =
        (struct srv_file){"/norange.bin", make_data(3u << 20, 1), 3u << 20, .ignore_range = true};
    files[F_BADRANGE] =
        (struct srv_file){"/badrange.bin", make_data(3u << 20, 1), 3u << 20, .bad_range = true};
    files[F_SLOW] =
        (struct srv_file){"/slow.bin", make_data(3u << 20, 1), 3u << 20, .delay_ms = 1500};
    files[F_STALL] =
        (struct srv_file){"/stall.bin", make_data(3u << 20, 1), 3u << 20, .stall = true};
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    assert_int_equal(bind(listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(listen_fd, 16), 0);
    assert_int_equal(getsockname(listen_fd, (struct sockaddr *)&a, &l), 0);
    port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&server_thread, NULL, server_main, NULL), 0);
    return 0;
}

static int teardown(void **state)
{
    shutdown(listen_fd, SHUT_RDWR);
    close(listen_fd);
    pthread_join(server_thread, NULL);
    for (int i = 0; i < F_COUNT; i++)
        free(files[i].data);
    struct mk_error *err = NULL;
    mk_rm_rf(tmpdir, &err);
    return 0;
}

static const struct mk_download_opts quiet = {.progress = MK_PROGRESS_NONE};

static void assert_same_as_data(const char *path)
{
    char got[65];
    sha_of(path, got);
    assert_string_equal(got, data_sha);
}

static void test_file_url_with_sha(void **state)
{
    struct mk_error *err = NULL;
    mk_autofree char *src = tmp_path("my image.iso"); /* a space: the URL must encode it */
    write_file(src, files[F_DATA].data, files[F_DATA].len);
    mk_autofree char *u = mk_download_normalize_url(src, &err);
    assert_non_null(u);
    assert_true(mk_str_has_prefix(u, "file:///"));
    assert_non_null(strstr(u, "my%20image.iso"));

    mk_autofree char *dest = tmp_path("cache/a/image.iso");
    assert_int_equal(mk_download(u, dest, data_sha, &quiet, &err), 0);
    assert_same_as_data(dest);
    mk_autofree char *part = xasprintf("%s.part", dest);
    assert_false(mk_path_exists(part));

    /* a plain path works too, and a cache hit does not touch the file */
    struct stat st1, st2;
    assert_int_equal(stat(dest, &st1), 0);
    unlink(src);
    assert_int_equal(mk_download(src, dest, data_sha, &quiet, &err), 0); /* src gone: cache */
    assert_int_equal(stat(dest, &st2), 0);
    assert_int_equal(st1.st_ino, st2.st_ino);

    /* upper-case checksums are fine, malformed ones are not */
    char upper[65];
    for (int i = 0; i < 65; i++)
        upper[i] =
            (char)(data_sha[i] >= 'a' && data_sha[i] <= 'f' ? data_sha[i] - 32 : data_sha[i]);
    assert_int_equal(mk_download(src, dest, upper, &quiet, &err), 0);
    assert_int_equal(mk_download(src, dest, "abc", &quiet, &err), -1);
    assert_int_equal(err->code, MK_EXIT_USAGE);
    mk_error_free(err);
    err = NULL;

    assert_null(mk_download_normalize_url("ftp://example.org/x", &err));
    assert_non_null(strstr(err->msg, "unsupported URL"));
    mk_error_free(err);
}

static void test_file_sidecar(void **state)
{
    struct mk_error *err = NULL;
    mk_autofree char *src = tmp_path("mirror/mkube.iso");
    mk_autofree char *side = tmp_path("mirror/mkube.iso.sha256");
    assert_int_equal(mk_mkdir_p(tmpdir, 0755, &err), 0);
    mk_autofree char *mdir = tmp_path("mirror");
    assert_int_equal(mk_mkdir_p(mdir, 0755, &err), 0);
    write_file(src, files[F_DATA].data, files[F_DATA].len);
    mk_autofree char *line = xasprintf("%s  mkube.iso\n", data_sha);
    write_file(side, line, strlen(line));
    mk_autofree char *dest = tmp_path("cache/b/mkube.iso");
    assert_int_equal(mk_download(src, dest, NULL, &quiet, &err), 0);
    assert_same_as_data(dest);

    /* a sidecar that disagrees stops the download and leaves nothing behind */
    mk_autofree char *dest2 = tmp_path("cache/b/other.iso");
    char bad[66];
    memcpy(bad, data_sha, 65);
    bad[0] = bad[0] == '0' ? '1' : '0';
    mk_autofree char *badline = xasprintf("%s\n", bad);
    write_file(side, badline, strlen(badline));
    assert_int_equal(mk_download(src, dest2, NULL, &quiet, &err), -1);
    assert_non_null(strstr(err->msg, "checksum mismatch"));
    assert_false(mk_path_exists(dest2));
    mk_error_free(err);
    err = NULL;

    /* no sidecar at all: downloaded without a check */
    unlink(side);
    assert_int_equal(mk_download(src, dest2, NULL, &quiet, &err), 0);
    assert_same_as_data(dest2);
}

static void test_http_download_and_cache(void **state)
{
    struct mk_error *err = NULL;
    mk_autofree char *u = url_of("/data.bin");
    mk_autofree char *dest = tmp_path("cache/http/data.bin");
    int before = count(F_DATA);
    assert_int_equal(mk_download(u, dest, data_sha, &quiet, &err), 0);
    assert_same_as_data(dest);
    assert_int_equal(count(F_DATA), before + 1);
    assert_string_equal(last_range[F_DATA], "none");
    mk_autobuf struct mk_buf sum = MK_BUF_INIT;
    mk_autofree char *sum_path = xasprintf("%s.sha256", dest);
    assert_int_equal(mk_read_file(sum_path, &sum, 0, NULL, &err), 0);
    mk_autofree char *sum_want = xasprintf("%s  data.bin\n", data_sha);
    assert_string_equal(sum.buf, sum_want);
    /* the second time is a cache hit: no request */
    assert_int_equal(mk_download(u, dest, data_sha, &quiet, &err), 0);
    assert_int_equal(count(F_DATA), before + 1);

    /* sha256 NULL: url.sha256 is fetched and used (data2.bin itself is missing: 404) */
    mk_autofree char *u2 = url_of("/data2.bin");
    mk_autofree char *dest2 = tmp_path("cache/http/data2.bin");
    int side = count(F_DATA_SHA);
    assert_int_equal(mk_download(u2, dest2, NULL, &quiet, &err), -1);
    assert_int_equal(count(F_DATA_SHA), side + 1);
    assert_non_null(strstr(err->msg, "404"));
    mk_error_free(err);
    err = NULL;

    /* a small document */
    mk_autobuf struct mk_buf b = MK_BUF_INIT;
    bool nf = true;
    mk_autofree char *su = url_of("/data2.bin.sha256");
    assert_int_equal(mk_download_to_buf(su, &b, 0, &nf, &err), 0);
    assert_false(nf);
    assert_true(mk_str_has_prefix(b.buf, data_sha));
    mk_autofree char *nope = url_of("/nope");
    assert_int_equal(mk_download_to_buf(nope, &b, 0, &nf, &err), -1);
    assert_true(nf);
    mk_error_free(err);
}

static void test_resume(void **state)
{
    struct mk_error *err = NULL;
    mk_autofree char *u = url_of("/data.bin");
    mk_autofree char *dest = tmp_path("cache/resume/data.bin");
    mk_autofree char *part = xasprintf("%s.part", dest);
    mk_autofree char *dir = tmp_path("cache/resume");
    assert_int_equal(mk_mkdir_p(dir, 0755, &err), 0);
    write_file(part, files[F_DATA].data, 1234567);
    int before = count(F_DATA);
    assert_int_equal(mk_download(u, dest, data_sha, &quiet, &err), 0);
    assert_int_equal(count(F_DATA), before + 1);
    assert_string_equal(last_range[F_DATA], "bytes=1234567-");
    assert_same_as_data(dest);
    assert_false(mk_path_exists(part));

    /* a .part that is already whole: 416 from the server, the checksum accepts it */
    unlink(dest);
    write_file(part, files[F_DATA].data, files[F_DATA].len);
    assert_int_equal(mk_download(u, dest, data_sha, &quiet, &err), 0);
    assert_same_as_data(dest);

    /* a server that ignores Range: the download starts over and is still right */
    mk_autofree char *u2 = url_of("/norange.bin");
    mk_autofree char *dest2 = tmp_path("cache/resume/norange.bin");
    mk_autofree char *part2 = xasprintf("%s.part", dest2);
    write_file(part2, "garbage that must not survive", 29);
    assert_int_equal(mk_download(u2, dest2, data_sha, &quiet, &err), 0);
    assert_same_as_data(dest2);
    assert_string_equal(last_range[F_NORANGE], "none"); /* the retry asked for everything */

    /* a server that answers 206 from the wrong offset: not trusted either */
    mk_autofree char *u3 = url_of("/badrange.bin");
    mk_autofree char *dest3 = tmp_path("cache/resume/badrange.bin");
    mk_autofree char *part3 = xasprintf("%s.part", dest3);
    write_file(part3, files[F_DATA].data, 1000);
    assert_int_equal(mk_download(u3, dest3, data_sha, &quiet, &err), 0);
    assert_same_as_data(dest3);

    /* resume over a corrupt .part: the checksum catches it and removes it */
    mk_autofree char *dest4 = tmp_path("cache/resume/corrupt.bin");
    mk_autofree char *part4 = xasprintf("%s.part", dest4);
    mk_autofree char *junk = make_data(5000, 99);
    write_file(part4, junk, 5000);
    assert_int_equal(mk_download(u, dest4, data_sha, &quiet, &err), -1);
    assert_non_null(strstr(err->msg, "checksum mismatch"));
    assert_false(mk_path_exists(part4));
    mk_error_free(err);
    err = NULL;
    assert_int_equal(mk_download(u, dest4, data_sha, &quiet, &err), 0); /* and a retry works */
    assert_same_as_data(dest4);
}

static void test_checksum_mismatch(void **state)
{
    struct mk_error *err = NULL;
    mk_autofree char *u = url_of("/data.bin");
    mk_autofree char *dest = tmp_path("cache/bad/data.bin");
    const char *wrong = "0000000000000000000000000000000000000000000000000000000000000000";
    assert_int_equal(mk_download(u, dest, wrong, &quiet, &err), -1);
    mk_autofree char *expect =
        xasprintf("checksum mismatch for %s: expected %s, got %s", u, wrong, data_sha);
    assert_string_equal(err->msg, expect);
    assert_false(mk_path_exists(dest));
    mk_autofree char *part = xasprintf("%s.part", dest);
    assert_false(mk_path_exists(part));
    mk_error_free(err);
}

static void test_concurrent_fetch_once(void **state)
{
    mk_autofree char *u = url_of("/slow.bin");
    mk_autofree char *dest = tmp_path("cache/conc/slow.bin");
    int before = count(F_SLOW);
    pid_t kids[3];
    long long t0 = now_ms();
    for (int i = 0; i < 3; i++) {
        kids[i] = fork();
        assert_true(kids[i] >= 0);
        if (kids[i] == 0) {
            struct mk_error *err = NULL;
            int r = mk_download(u, dest, data_sha, &quiet, &err);
            if (r < 0)
                fprintf(stderr, "child: %s\n", err->msg);
            _exit(r < 0 ? 1 : 0);
        }
    }
    for (int i = 0; i < 3; i++) {
        int st = 0;
        assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    assert_int_equal(count(F_SLOW), before + 1);
    assert_true(now_ms() - t0 >= 1400); /* they really overlapped the slow transfer */
    assert_same_as_data(dest);
}

static void test_errors(void **state)
{
    struct mk_error *err = NULL;
    mk_autofree char *u = url_of("/missing.bin");
    mk_autofree char *dest = tmp_path("cache/err/missing.bin");
    mk_autofree char *part = xasprintf("%s.part", dest);
    const char *sha = data_sha;
    assert_int_equal(mk_download(u, dest, sha, &quiet, &err), -1);
    mk_autofree char *expect = xasprintf("cannot download %s: HTTP 404 Not Found", u);
    assert_string_equal(err->msg, expect);
    assert_false(mk_path_exists(dest));
    assert_false(mk_path_exists(part));
    mk_error_free(err);
    err = NULL;

    /* nothing listens */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    bind(fd, (struct sockaddr *)&a, sizeof(a));
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    mk_autofree char *u2 = xasprintf("http://127.0.0.1:%u/x.iso", ntohs(a.sin_port));
    assert_int_equal(mk_download(u2, dest, sha, &quiet, &err), -1);
    mk_autofree char *prefix = xasprintf("cannot download %s: ", u2);
    assert_true(mk_str_has_prefix(err->msg, prefix));
    assert_non_null(strstr(err->msg, "onnect"));
    assert_non_null(err->hint);
    mk_error_free(err);
    err = NULL;

    /* a missing file:// source */
    mk_autofree char *nofile = tmp_path("no/such.iso");
    assert_int_equal(mk_download(nofile, dest, sha, &quiet, &err), -1);
    assert_non_null(strstr(err->msg, "cannot download file://"));
    mk_error_free(err);
    err = NULL;

    /* a full disk: the .part is /dev/full */
    mk_autofree char *dest3 = tmp_path("cache/err/full.bin");
    mk_autofree char *part3 = xasprintf("%s.part", dest3);
    mk_autofree char *dir = tmp_path("cache/err");
    assert_int_equal(mk_mkdir_p(dir, 0755, &err), 0);
    assert_int_equal(symlink("/dev/full", part3), 0);
    mk_autofree char *u3 = url_of("/data.bin");
    assert_int_equal(mk_download(u3, dest3, sha, &quiet, &err), -1);
    assert_non_null(strstr(err->msg, "No space left on device"));
    assert_non_null(strstr(err->msg, part3));
    assert_non_null(err->hint);
    assert_false(mk_path_exists(dest3));
    mk_error_free(err);
    err = NULL;
    unlink(part3);

    /* a server that goes silent mid-way: the low-speed limit ends it */
    mk_autofree char *u4 = url_of("/stall.bin");
    mk_autofree char *dest4 = tmp_path("cache/err/stall.bin");
    struct mk_download_opts o = {
        .progress = MK_PROGRESS_NONE, .low_speed_bytes = 1000, .low_speed_time_s = 1};
    long long t0 = now_ms();
    assert_int_equal(mk_download(u4, dest4, sha, &o, &err), -1);
    assert_true(now_ms() - t0 < 3900);
    assert_non_null(strstr(err->msg, "cannot download"));
    mk_error_free(err);
    err = NULL;
    mk_autofree char *part4 = xasprintf("%s.part", dest4);
    assert_true(mk_path_exists(part4)); /* kept for a resume next time */
}

/* Run a download with stderr redirected to fd; return what was written there. */
static char *capture_stderr(int fd, int read_fd, const char *url, const char *dest,
                            const struct mk_download_opts *o)
{
    struct mk_error *err = NULL;
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    int r = mk_download(url, dest, data_sha, o, &err);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    assert_int_equal(r, 0);
    struct mk_buf b = MK_BUF_INIT;
    char chunk[4096];
    fcntl(read_fd, F_SETFL, O_NONBLOCK);
    ssize_t n;
    while ((n = read(read_fd, chunk, sizeof(chunk))) > 0)
        mk_buf_add(&b, chunk, (size_t)n);
    return mk_buf_detach(&b);
}

static void test_progress(void **state)
{
    /* piped: exactly a start line and a finish line */
    mk_autofree char *u = url_of("/slow.bin");
    mk_autofree char *dest = tmp_path("cache/progress/piped.bin");
    mk_autofree char *log = tmp_path("stderr.txt");
    int fd = open(log, O_RDWR | O_CREAT | O_TRUNC, 0600);
    struct mk_download_opts o = {.label = "mkube.iso"};
    int rfd = open(log, O_RDONLY);
    mk_autofree char *piped = capture_stderr(fd, rfd, u, dest, &o);
    close(fd);
    close(rfd);
    mk_autofree char *l1 = xasprintf("   > mkube.iso: downloading %s\n", u);
    assert_true(mk_str_has_prefix(piped, l1));
    const char *l2 = piped + strlen(l1);
    assert_true(mk_str_has_prefix(l2, "   > mkube.iso: 3.0 MiB in "));
    assert_non_null(strstr(l2, "sha256 verified"));
    assert_ptr_equal(strchr(l2, '\n'), piped + strlen(piped) - 1);
    assert_null(strchr(piped, '\r'));

    /* on a terminal: a bar redrawn in place, at most ~10 times a second */
    int master, slave;
    assert_int_equal(openpty(&master, &slave, NULL, NULL, NULL), 0);
    mk_autofree char *dest2 = tmp_path("cache/progress/tty.bin");
    long long t0 = now_ms();
    /* the pty buffer is small: the transfer output stays well below it */
    mk_autofree char *tty = capture_stderr(slave, master, u, dest2, &o);
    long long dt = now_ms() - t0;
    close(slave);
    close(master);
    int redraws = 0;
    for (const char *p = tty; *p; p++)
        redraws += *p == '\r' && p[1] != '\n';
    assert_non_null(
        strstr(tty, "   > mkube.iso: 3.0 MiB / 3.0 MiB [==============================] 100%"));
    assert_non_null(strstr(tty, "MiB / 3.0 MiB [="));
    assert_true(redraws >= 3);
    assert_true(redraws <= dt / 100 + 3);
    assert_null(strstr(tty, "downloading"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_url_with_sha),
        cmocka_unit_test(test_file_sidecar),
        cmocka_unit_test(test_http_download_and_cache),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_checksum_mismatch),
        cmocka_unit_test(test_concurrent_fetch_once),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_progress),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
