/* fsutil.c - atomic writes, mkdir -p, rm -rf, flock-based locks, sha256 (see fsutil.h). */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int mk_mkdir_p(const char *path, mode_t mode, struct mk_error **err)
{
    mk_autofree char *p = xstrdup(path);
    size_t n = strlen(p);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST)
            return mk_error_errno(err, errno, "cannot create directory %s", p);
        p[i] = c;
    }
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
        return mk_error_set(err, MK_EXIT_FAILURE, "cannot create directory %s: not a directory",
                            path);
    return 0;
}

static int fsync_dir(const char *path)
{
    mk_autofree char *copy = xstrdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

int mk_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         struct mk_error **err)
{
    mk_autofree char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return mk_error_errno(err, errno, "cannot write %s", path);
    fchmod(fd, mode); /* umask must not widen or narrow what we asked for */
    const char *p = data;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, p + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return mk_error_errno(err, e, "cannot write %s", path);
        }
        off += (size_t)w;
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        int e = errno;
        unlink(tmp);
        return mk_error_errno(err, e, "cannot write %s", path);
    }
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return mk_error_errno(err, e, "cannot replace %s", path);
    }
    fsync_dir(path);
    return 0;
}

int mk_read_file(const char *path, struct mk_buf *out, size_t max, bool *enoent,
                 struct mk_error **err)
{
    if (enoent)
        *enoent = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT && enoent)
            *enoent = true;
        return mk_error_errno(err, errno, "cannot read %s", path);
    }
    if (!max)
        max = 64u << 20;
    char chunk[16384];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            return mk_error_errno(err, e, "cannot read %s", path);
        }
        if (n == 0)
            break;
        if (out->len + (size_t)n > max) {
            close(fd);
            return mk_error_set(err, MK_EXIT_FAILURE, "cannot read %s: larger than %zu bytes",
                                path, max);
        }
        mk_buf_add(out, chunk, (size_t)n);
    }
    close(fd);
    return 0;
}

bool mk_path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int r = (flag == FTW_DP) ? rmdir(p) : unlink(p);
    return (r < 0 && errno != ENOENT) ? -1 : 0;
}

int mk_rm_rf(const char *path, struct mk_error **err)
{
    if (!mk_path_exists(path))
        return 0;
    if (nftw(path, rm_cb, 32, FTW_DEPTH | FTW_PHYS) < 0)
        return mk_error_errno(err, errno, "cannot remove %s", path);
    return 0;
}

int mk_lock(const char *path, int timeout_ms, int *fd_out, struct mk_error **err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return mk_error_errno(err, errno, "cannot open lock file %s", path);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            *fd_out = fd;
            return 0;
        }
        if (errno != EWOULDBLOCK && errno != EINTR) {
            int e = errno;
            close(fd);
            return mk_error_errno(err, e, "cannot lock %s", path);
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long waited = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (timeout_ms >= 0 && waited >= timeout_ms) {
            close(fd);
            mk_error_set(err, MK_EXIT_FAILURE,
                         "%s is locked by another mkube process", path);
            return mk_error_hint(err, "wait for the other mkube command to finish, then retry");
        }
        struct timespec ts = {0, 50 * 1000000};
        nanosleep(&ts, NULL);
    }
}

void mk_unlock(int fd)
{
    if (fd >= 0) {
        flock(fd, LOCK_UN);
        close(fd);
    }
}

int mk_sha256_file(const char *path, char out[65], struct mk_error **err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mk_error_errno(err, errno, "cannot read %s", path);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    static char chunk[1 << 16];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof(chunk))) > 0)
        EVP_DigestUpdate(ctx, chunk, (size_t)n);
    int e = errno;
    close(fd);
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    if (n < 0)
        return mk_error_errno(err, e, "cannot read %s", path);
    for (unsigned i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
    out[64] = '\0';
    return 0;
}
