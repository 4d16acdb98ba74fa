/* disk.c - create the data disk with its boot2docker-style tar (see disk.h). */
#include "disk.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "../launcher/log.h"
#include "../launcher/run.h"

static int add_entry(struct archive *a, const char *name, mode_t type, mode_t perm,
                     const char *data, struct mk_error **err)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, perm);
    archive_entry_set_mtime(e, time(NULL), 0);
    size_t len = data ? strlen(data) : 0;
    archive_entry_set_size(e, (la_int64_t)len);
    int rc = 0;
    if (archive_write_header(a, e) != ARCHIVE_OK ||
        (len && archive_write_data(a, data, len) != (la_ssize_t)len))
        rc = mk_error_set(err, MK_EXIT_FAILURE, "cannot write %s into the disk tar: %s", name,
                          archive_error_string(a));
    archive_entry_free(e);
    return rc;
}

int mk_disk_write_tar(int fd, const char *pubkey_line, const char *hostname,
                      struct mk_error **err)
{
    struct archive *a = archive_write_new();
    int rc = -1;
    mk_autofree char *key = NULL;
    mk_autofree char *host = NULL;
    if (archive_write_set_format_ustar(a) != ARCHIVE_OK ||
        archive_write_add_filter_none(a) != ARCHIVE_OK ||
        archive_write_open_fd(a, fd) != ARCHIVE_OK) {
        mk_error_set(err, MK_EXIT_FAILURE, "cannot start the disk tar: %s",
                     archive_error_string(a));
        goto cleanup;
    }
    /* the magic must be the first header: the guest reads it at byte 0 */
    if (add_entry(a, MK_DISK_MAGIC, AE_IFREG, 0644, MK_DISK_MAGIC "\n", err) < 0)
        goto cleanup;
    if (pubkey_line && *pubkey_line) {
        size_t n = strlen(pubkey_line);
        key = xasprintf("%s%s", pubkey_line, pubkey_line[n - 1] == '\n' ? "" : "\n");
        if (add_entry(a, ".ssh", AE_IFDIR, 0700, NULL, err) < 0 ||
            add_entry(a, ".ssh/authorized_keys", AE_IFREG, 0600, key, err) < 0)
            goto cleanup;
    }
    if (hostname && *hostname) {
        host = xasprintf("%s\n", hostname);
        if (add_entry(a, "mkube", AE_IFDIR, 0755, NULL, err) < 0 ||
            add_entry(a, "mkube/hostname", AE_IFREG, 0644, host, err) < 0)
            goto cleanup;
    }
    if (archive_write_close(a) != ARCHIVE_OK) {
        mk_error_set(err, MK_EXIT_FAILURE, "cannot finish the disk tar: %s",
                     archive_error_string(a));
        goto cleanup;
    }
    rc = 0;
cleanup:
    archive_write_free(a);
    return rc;
}

static int check_space(const char *path, uint64_t size_mib, struct mk_error **err)
{
    mk_autofree char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    else
        strcpy(dir, ".");
    struct statvfs sv;
    if (statvfs(dir, &sv) < 0)
        return 0;
    uint64_t free_mib = (uint64_t)sv.f_bavail * sv.f_frsize >> 20;
    if (free_mib < 64) {
        mk_error_set(err, MK_EXIT_FAILURE, "out of disk space: %s has %llu MiB free", dir,
                     (unsigned long long)free_mib);
        return mk_error_hint(err, "free some space (mkube delete unused profiles), then retry");
    }
    if (free_mib < size_mib)
        mk_warn("the data disk may grow to %llu MiB but %s has only %llu MiB free",
                (unsigned long long)size_mib, dir, (unsigned long long)free_mib);
    return 0;
}

int mk_disk_create_raw(const char *path, uint64_t size_mib, const char *pubkey_line,
                       const char *hostname, struct mk_error **err)
{
    if (size_mib < 64)
        return mk_error_set(err, MK_EXIT_USAGE, "a data disk of %llu MiB is too small (64 MiB or more)",
                            (unsigned long long)size_mib);
    if (check_space(path, size_mib, err) < 0)
        return -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return mk_error_errno(err, errno, "cannot create the disk %s", path);
    int rc = -1;
    if (mk_disk_write_tar(fd, pubkey_line, hostname, err) < 0)
        goto cleanup;
    /* the rest stays a hole: sparse, instant even for 100 GB */
    if (ftruncate(fd, (off_t)(size_mib << 20)) < 0) {
        mk_error_errno(err, errno, "cannot size the disk %s", path);
        goto cleanup;
    }
    if (fsync(fd) < 0) {
        mk_error_errno(err, errno, "cannot write the disk %s", path);
        goto cleanup;
    }
    rc = 0;
cleanup:
    close(fd);
    if (rc < 0)
        unlink(path);
    return rc;
}

int mk_disk_create(const char *path_qcow2, uint64_t size_mib, const char *pubkey_line,
                   const char *hostname, struct mk_error **err)
{
    mk_autofree char *raw = xasprintf("%s.raw.tmp", path_qcow2);
    if (mk_disk_create_raw(raw, size_mib, pubkey_line, hostname, err) < 0)
        return -1;
    const char *argv[] = {"qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw,
                          path_qcow2, NULL};
    struct mk_run_opts o = {.capture_stdout = true, .timeout_ms = 300000};
    int rc = mk_run_check(argv, &o, NULL, err);
    unlink(raw);
    if (rc < 0) {
        unlink(path_qcow2);
        return mk_error_wrap(err, "cannot make the qcow2 data disk %s", path_qcow2);
    }
    chmod(path_qcow2, 0600);
    return 0;
}
