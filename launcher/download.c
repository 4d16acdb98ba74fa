/* download.c - libcurl downloads: .part + Range resume, sha256, lock, progress (download.h). */
#include "download.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"

#define SMALL_MAX (1u << 20)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *mk_download_format_size(double b, char buf[32])
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    unsigned u = 0;
    while (b >= 1024.0 && u + 1 < MK_ARRAY_SIZE(units)) {
        b /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, 32, "%.0f B", b);
    else
        snprintf(buf, 32, "%.1f %s", b, units[u]);
    return buf;
}

/* curl says "Failed to connect to ..."; mkube messages are lowercase. */
static char *lower_first(const char *msg)
{
    char *s = xstrdup(msg && *msg ? msg : "unknown error");
    if (isupper((unsigned char)s[0]) && !isupper((unsigned char)s[1]))
        s[0] = (char)tolower((unsigned char)s[0]);
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '.' || s[n - 1] == ' '))
        s[--n] = '\0';
    return s;
}

static bool scheme_is(const char *url, const char *scheme)
{
    size_t n = strlen(scheme);
    return strncasecmp(url, scheme, n) == 0 && strncmp(url + n, "://", 3) == 0;
}

char *mk_download_normalize_url(const char *u, struct mk_error **err)
{
    if (!u || !*u) {
        mk_error_set(err, MK_EXIT_USAGE, "empty download URL");
        return NULL;
    }
    if (strstr(u, "://")) {
        if (scheme_is(u, "http") || scheme_is(u, "https") || scheme_is(u, "file"))
            return xstrdup(u);
        mk_error_set(err, MK_EXIT_USAGE, "unsupported URL %s", u);
        mk_error_hint(err, "use a file://, http:// or https:// URL, or a plain path");
        return NULL;
    }
    mk_autofree char *abs = NULL;
    if (u[0] == '/') {
        abs = xstrdup(u);
    } else {
        char cwd[4096];
        if (!getcwd(cwd, sizeof(cwd))) {
            mk_error_errno(err, errno, "cannot resolve %s", u);
            return NULL;
        }
        abs = xasprintf("%s/%s", cwd, u);
    }
    pthread_once(&curl_once, curl_init);
    CURLU *h = curl_url();
    char *out = NULL;
    if (curl_url_set(h, CURLUPART_SCHEME, "file", 0) != CURLUE_OK ||
        curl_url_set(h, CURLUPART_PATH, abs, CURLU_URLENCODE) != CURLUE_OK ||
        curl_url_get(h, CURLUPART_URL, &out, 0) != CURLUE_OK) {
        curl_url_cleanup(h);
        mk_error_set(err, MK_EXIT_USAGE, "cannot make a file:// URL of %s", u);
        return NULL;
    }
    curl_url_cleanup(h);
    char *r = xstrdup(out);
    curl_free(out);
    return r;
}

/* ---- one transfer ---- */

struct progress {
    const char *label;
    bool tty;
    enum mk_progress mode;
    long long last_ms;
    long long t0;
    curl_off_t offset; /* bytes already in .part before this request */
    curl_off_t now, total;
    bool drawn;
};

struct xfer {
    CURL *curl;
    int fd; /* .part, or -1 when collecting into mem */
    struct mk_buf *mem;
    size_t mem_max;
    curl_off_t resume_from;
    curl_off_t written; /* bytes in the .part file */
    EVP_MD_CTX *md;
    bool body_started; /* first write of this response seen */
    bool restart;      /* the server ignored or misread our Range */
    bool http_error;
    bool too_big;
    int write_errno;
    long code;
    char reason[96];
    bool have_range;
    curl_off_t range_start;
    struct progress *pr;
};

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    if (len > 5 && strncmp(p, "HTTP/", 5) == 0) {
        /* a new response (redirects, 100-continue): forget the last one */
        x->have_range = false;
        /* "HTTP/1.1 404 Not Found\r\n": keep the reason phrase for messages */
        size_t i = 0, spaces = 0;
        while (i < len && spaces < 2)
            spaces += p[i++] == ' ';
        size_t rl = 0;
        while (i + rl < len && p[i + rl] != '\r' && p[i + rl] != '\n' && rl + 1 < sizeof(x->reason))
            rl++;
        memcpy(x->reason, p + i, rl);
        x->reason[rl] = '\0';
    } else if (len > 14 && strncasecmp(p, "Content-Range:", 14) == 0) {
        const char *v = p + 14;
        while (*v == ' ')
            v++;
        long long start = 0;
        if (sscanf(v, "bytes %lld-", &start) == 1) {
            x->have_range = true;
            x->range_start = (curl_off_t)start;
        }
    }
    return len;
}

static void md_restart(struct xfer *x)
{
    EVP_DigestInit_ex(x->md, EVP_sha256(), NULL);
}

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    if (!x->body_started) {
        x->body_started = true;
        curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &x->code);
        if (x->code >= 400) {
            x->http_error = true;
            return 0;
        }
        if (x->fd >= 0 && x->resume_from > 0 && x->code != 0) {
            /* http: 206 from the offset we asked is a resume; 200 is the whole file */
            if (x->code == 200) {
                mk_debug(1, "download: the server ignored the Range request, starting over");
                if (ftruncate(x->fd, 0) < 0 || lseek(x->fd, 0, SEEK_SET) < 0) {
                    x->write_errno = errno;
                    return 0;
                }
                md_restart(x);
                x->written = 0;
                x->pr->offset = 0;
            } else if (x->code != 206 || !x->have_range || x->range_start != x->resume_from) {
                mk_debug(1, "download: unexpected answer to the Range request (%ld), retrying",
                         x->code);
                x->restart = true;
                return 0;
            }
        }
    }
    if (x->fd < 0) {
        if (x->mem->len + len > x->mem_max) {
            x->too_big = true;
            return 0;
        }
        mk_buf_add(x->mem, p, len);
        return len;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(x->fd, p + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            x->write_errno = errno;
            return 0;
        }
        off += (size_t)w;
    }
    EVP_DigestUpdate(x->md, p, len);
    x->written += (curl_off_t)len;
    return len;
}

static void progress_draw(struct progress *pr, bool final)
{
    char a[32], b[32];
    double now = (double)pr->now, total = (double)pr->total;
    mk_download_format_size(now, a);
    if (pr->total > 0) {
        enum { W = 30 };
        int pct = (int)(now * 100.0 / total);
        if (pct > 100)
            pct = 100;
        int fill = pct * W / 100;
        char bar[W + 1];
        for (int i = 0; i < W; i++)
            bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
        bar[W] = '\0';
        fprintf(stderr, "\r   > %s: %s / %s [%s] %d%%\033[K", pr->label, a,
                mk_download_format_size(total, b), bar, pct);
    } else {
        fprintf(stderr, "\r   > %s: %s\033[K", pr->label, a);
    }
    if (final)
        fputc('\n', stderr);
    fflush(stderr);
    pr->drawn = true;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct xfer *x = ud;
    struct progress *pr = x->pr;
    if (!pr)
        return 0;
    pr->now = pr->offset + dlnow;
    pr->total = dltotal > 0 ? pr->offset + dltotal : 0;
    if (!pr->tty || pr->mode != MK_PROGRESS_AUTO)
        return 0;
    long long t = now_ms();
    if (t - pr->last_ms < 100) /* at most ~10 redraws a second */
        return 0;
    pr->last_ms = t;
    progress_draw(pr, false);
    return 0;
}

static CURL *new_handle(const char *url, struct xfer *x, const struct mk_download_opts *o,
                        char *errbuf)
{
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "mkube/" MKUBE_VERSION);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT,
                     (long)(o && o->connect_timeout_s ? o->connect_timeout_s : 30));
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT,
                     o && o->low_speed_bytes ? o->low_speed_bytes : 1024L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
                     (long)(o && o->low_speed_time_s ? o->low_speed_time_s : 60));
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    x->curl = c;
    return c;
}

/* Turn a failed transfer into an error naming url. */
static int xfer_error(struct xfer *x, CURLcode rc, const char *url, const char *errbuf,
                      const char *part, bool *not_found, struct mk_error **err)
{
    long code = x->code;
    if (!code)
        curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &code);
    bool http = scheme_is(url, "http") || scheme_is(url, "https");
    if (x->write_errno) {
        mk_error_errno(err, x->write_errno, "cannot write %s", part);
        if (x->write_errno == ENOSPC || x->write_errno == EDQUOT) {
            mk_autofree char *copy = xstrdup(part);
            mk_error_hint(err, "free some disk space in %s, then retry", dirname(copy));
        }
        return -1;
    }
    if (http && code >= 400) {
        if (not_found)
            *not_found = code == 404 || code == 410;
        if (x->reason[0])
            return mk_error_set(err, MK_EXIT_FAILURE, "cannot download %s: HTTP %ld %s", url, code,
                                x->reason);
        return mk_error_set(err, MK_EXIT_FAILURE, "cannot download %s: HTTP %ld", url, code);
    }
    if (x->too_big)
        return mk_error_set(err, MK_EXIT_FAILURE, "cannot download %s: larger than %zu bytes", url,
                            x->mem_max);
    if (rc == CURLE_FILE_COULDNT_READ_FILE && not_found)
        *not_found = true;
    mk_autofree char *why = lower_first(*errbuf ? errbuf : curl_easy_strerror(rc));
    mk_error_set(err, MK_EXIT_FAILURE, "cannot download %s: %s", url, why);
    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT ||
        rc == CURLE_COULDNT_RESOLVE_HOST)
        mk_error_hint(err, "check that the mirror is up and reachable, or point --iso-url / "
                           "--bundle-url at a file:// copy (docs/offline.md)");
    return -1;
}

int mk_download_to_buf(const char *url, struct mk_buf *out, size_t max, bool *not_found,
                       struct mk_error **err)
{
    if (not_found)
        *not_found = false;
    mk_autofree char *u = mk_download_normalize_url(url, err);
    if (!u)
        return -1;
    pthread_once(&curl_once, curl_init);
    struct xfer x = {.fd = -1, .mem = out, .mem_max = max ? max : SMALL_MAX};
    char errbuf[CURL_ERROR_SIZE] = "";
    struct mk_download_opts o = {.connect_timeout_s = 30};
    CURL *c = new_handle(u, &x, &o, errbuf);
    if (!c)
        return mk_error_set(err, MK_EXIT_FAILURE, "cannot start a download");
    CURLcode rc = curl_easy_perform(c);
    if (!x.body_started)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x.code);
    int r = 0;
    if (rc != CURLE_OK || x.code >= 400)
        r = xfer_error(&x, rc, u, errbuf, "memory", not_found, err);
    curl_easy_cleanup(c);
    return r;
}

/* ---- checksums ---- */

static bool is_sha256_hex(const char *s, size_t n)
{
    if (n != 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* URL.sha256 holds "HEX" or "HEX  name" (sha256sum output). 0 and out filled,
 * 1 when there is no such file, -1 on other errors. */
static int fetch_sidecar(const char *url, char out[65], struct mk_error **err)
{
    mk_autofree char *surl = xasprintf("%s.sha256", url);
    mk_autobuf struct mk_buf b = MK_BUF_INIT;
    bool not_found = false;
    struct mk_error *e = NULL;
    if (mk_download_to_buf(surl, &b, 4096, &not_found, &e) < 0) {
        if (not_found) {
            mk_error_free(e);
            mk_debug(1, "download: no checksum file at %s", surl);
            return 1;
        }
        *err = e;
        return -1;
    }
    const char *p = mk_buf_str(&b);
    while (isspace((unsigned char)*p))
        p++;
    size_t n = 0;
    while (isxdigit((unsigned char)p[n]))
        n++;
    if (!is_sha256_hex(p, n))
        return mk_error_set(err, MK_EXIT_FAILURE, "%s does not hold a sha256 checksum", surl);
    for (size_t i = 0; i < 64; i++)
        out[i] = (char)tolower((unsigned char)p[i]);
    out[64] = '\0';
    mk_debug(1, "download: expecting sha256 %s (from %s)", out, surl);
    return 0;
}

/* Hash the bytes already in fd (a .part being resumed) into md. */
static int hash_existing(int fd, EVP_MD_CTX *md, curl_off_t *len, const char *path,
                         struct mk_error **err)
{
    mk_autofree char *chunk = xmalloc(1 << 16);
    *len = 0;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return mk_error_errno(err, errno, "cannot read %s", path);
    if (!S_ISREG(st.st_mode) || st.st_size == 0)
        return 0;
    if (lseek(fd, 0, SEEK_SET) < 0)
        return mk_error_errno(err, errno, "cannot read %s", path);
    for (;;) {
        ssize_t n = read(fd, chunk, 1 << 16);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return mk_error_errno(err, errno, "cannot read %s", path);
        if (n == 0)
            break;
        EVP_DigestUpdate(md, chunk, (size_t)n);
        *len += n;
    }
    return 0;
}

static void md_hex(EVP_MD_CTX *md, char out[65])
{
    unsigned char d[32];
    unsigned int dl = 0;
    EVP_DigestFinal_ex(md, d, &dl);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
    out[64] = '\0';
}

/* ---- the download ---- */

static void md_freep(EVP_MD_CTX **m)
{
    if (*m)
        EVP_MD_CTX_free(*m);
}

static void unlockp(int *fd)
{
    if (*fd >= 0)
        mk_unlock(*fd);
}

/* Fetch url into part (resuming what is there); fill got with the sha256 of
 * the whole file. */
static int fetch_part(const char *url, const char *part, const struct mk_download_opts *o,
                      struct progress *pr, char got[65], struct mk_error **err)
{
    __attribute__((cleanup(md_freep))) EVP_MD_CTX *md = EVP_MD_CTX_new();
    for (int attempt = 0;; attempt++) {
        mk_autoclose int fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            return mk_error_errno(err, errno, "cannot write %s", part);
        EVP_DigestInit_ex(md, EVP_sha256(), NULL);
        curl_off_t have = 0;
        if (attempt > 0) { /* a retry starts from nothing */
            if (ftruncate(fd, 0) < 0 && errno != EINVAL)
                return mk_error_errno(err, errno, "cannot write %s", part);
        } else if (hash_existing(fd, md, &have, part, err) < 0) {
            return -1;
        }
        if (lseek(fd, have, SEEK_SET) < 0)
            return mk_error_errno(err, errno, "cannot write %s", part);
        if (have > 0)
            mk_debug(1, "download: resuming %s at byte %lld", part, (long long)have);
        struct xfer x = {.fd = fd, .md = md, .resume_from = have, .written = have, .pr = pr};
        char errbuf[CURL_ERROR_SIZE] = "";
        pr->offset = have;
        CURL *c = new_handle(url, &x, o, errbuf);
        if (!c)
            return mk_error_set(err, MK_EXIT_FAILURE, "cannot start a download");
        if (have > 0)
            curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, have);
        CURLcode rc = curl_easy_perform(c);
        if (!x.body_started)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x.code);
        bool http = scheme_is(url, "http") || scheme_is(url, "https");
        if (x.restart && attempt == 0) {
            curl_easy_cleanup(c);
            continue;
        }
        if (http && have > 0 && x.code == 416 && attempt == 0) {
            /* nothing past our offset: the .part may already be whole; the checksum decides */
            curl_easy_cleanup(c);
            pr->now = have;
            md_hex(md, got);
            return 0;
        }
        if (rc == CURLE_RANGE_ERROR && have > 0 && attempt == 0) { /* file:// shorter than .part */
            curl_easy_cleanup(c);
            continue;
        }
        int r = 0;
        if (rc != CURLE_OK || (http && x.code >= 400))
            r = xfer_error(&x, rc, url, errbuf, part, NULL, err);
        curl_easy_cleanup(c);
        if (r < 0)
            return -1;
        if (fsync(fd) < 0 && errno != EINVAL)
            return mk_error_errno(err, errno, "cannot write %s", part);
        pr->now = x.written;
        md_hex(md, got);
        return 0;
    }
}

int mk_download(const char *url, const char *dest_path, const char *sha256_hex,
                const struct mk_download_opts *o, struct mk_error **err)
{
    static const struct mk_download_opts defaults;
    if (!o)
        o = &defaults;
    pthread_once(&curl_once, curl_init);
    mk_autofree char *u = mk_download_normalize_url(url, err);
    if (!u)
        return -1;
    char want[65] = "";
    if (sha256_hex) {
        if (!is_sha256_hex(sha256_hex, strlen(sha256_hex)))
            return mk_error_set(err, MK_EXIT_USAGE, "invalid sha256 checksum \"%s\" for %s",
                                sha256_hex, u);
        for (size_t i = 0; i < 64; i++)
            want[i] = (char)tolower((unsigned char)sha256_hex[i]);
    }
    mk_autofree char *dest_copy = xstrdup(dest_path);
    mk_autofree char *base_copy = xstrdup(dest_path);
    const char *label = o->label ? o->label : basename(base_copy);
    char got[65];

    /* a verified cache hit needs no lock */
    if (*want && mk_path_exists(dest_path) && mk_sha256_file(dest_path, got, NULL) == 0 &&
        strcmp(got, want) == 0) {
        mk_debug(1, "download: %s is cached and matches", dest_path);
        return 0;
    }
    if (mk_mkdir_p(dirname(dest_copy), 0755, err) < 0)
        return -1;
    mk_autofree char *lock_path = xasprintf("%s.lock", dest_path);
    mk_autofree char *part = xasprintf("%s.part", dest_path);
    mk_autofree char *sum_path = xasprintf("%s.sha256", dest_path);
    __attribute__((cleanup(unlockp))) int lock_fd = -1;
    long long t_lock = now_ms();
    if (mk_lock(lock_path, o->lock_timeout_ms ? o->lock_timeout_ms : 3600 * 1000, &lock_fd, err) <
        0)
        return mk_error_wrap(err, "cannot download %s", label);
    if (now_ms() - t_lock > 200)
        mk_debug(1, "download: waited %lld ms for another download of %s", now_ms() - t_lock,
                 dest_path);

    bool cached = mk_path_exists(dest_path);
    if (!*want) {
        struct mk_error *e = NULL;
        int r = fetch_sidecar(u, want, &e);
        if (r < 0 && cached) {
            /* offline with a finished download: it was verified when it was made */
            mk_debug(1, "download: keeping %s (%s)", dest_path, e->msg);
            mk_error_free(e);
            return 0;
        }
        if (r < 0) {
            *err = e;
            return -1;
        }
        if (r > 0)
            want[0] = '\0';
    }
    if (cached) {
        if (!*want)
            return 0; /* renamed into place only when complete */
        if (mk_sha256_file(dest_path, got, err) < 0)
            return -1;
        if (strcmp(got, want) == 0)
            return 0;
        mk_warn("%s does not match its checksum: downloading it again", dest_path);
        unlink(dest_path);
        unlink(sum_path);
    }

    struct progress pr = {.label = label,
                          .mode = o->progress,
                          .t0 = now_ms(),
                          .tty = isatty(2) && !mk_streq(getenv("TERM"), "dumb")};
    bool lines = o->progress != MK_PROGRESS_NONE && !(pr.tty && o->progress == MK_PROGRESS_AUTO);
    if (lines)
        fprintf(stderr, "   > %s: downloading %s\n", label, u);
    mk_debug(1, "download: %s -> %s", u, dest_path);
    int r = fetch_part(u, part, o, &pr, got, err);
    if (pr.drawn || (pr.tty && o->progress == MK_PROGRESS_AUTO && r == 0))
        progress_draw(&pr, true);
    if (r < 0) {
        struct stat st;
        if (stat(part, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0)
            unlink(part); /* keep a partial file for resuming, not an empty one */
        return -1;
    }
    if (*want && strcmp(got, want) != 0) {
        unlink(part);
        return mk_error_set(err, MK_EXIT_FAILURE, "checksum mismatch for %s: expected %s, got %s",
                            u, want, got);
    }
    /* the digest beside the file, as in the build output (mkube.iso + mkube.iso.sha256) */
    mk_autofree char *sum_line = xasprintf("%s  %s\n", got, label);
    if (mk_write_file_atomic(sum_path, sum_line, strlen(sum_line), 0644, err) < 0)
        return -1;
    if (rename(part, dest_path) < 0)
        return mk_error_errno(err, errno, "cannot move %s into place", part);
    if (lines) {
        char a[32], b[32];
        double secs = (double)(now_ms() - pr.t0) / 1000.0;
        mk_download_format_size((double)pr.now, a);
        mk_download_format_size(secs > 0 ? (double)pr.now / secs : 0, b);
        fprintf(stderr, "   > %s: %s in %.1f s (%s/s)%s\n", label, a, secs, b,
                *want ? ", sha256 verified" : "");
    }
    return 0;
}
