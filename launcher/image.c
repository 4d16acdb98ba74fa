/* image.c - read the kernel and initrd out of mkube.iso with libarchive,
 * cached per image (see image.h). */
#include "image.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../drivers/driver.h"
#include "fsutil.h"
#include "log.h"

int mk_image_verify(const char *iso_path, struct mk_error **err)
{
    if (access(iso_path, R_OK) < 0) {
        mk_error_errno(err, errno, "the ISO image %s cannot be read", iso_path);
        return mk_error_hint(err, "build it (cmake --build <dir> --target image) or pass its path");
    }
    return mk_file_verify_sha256(iso_path, err);
}

/* sha256 of the ISO: the .sha256 beside it (verified elsewhere), else computed */
static int image_key(const char *iso_path, char key[65], struct mk_error **err)
{
    mk_autofree char *sumfile = xasprintf("%s.sha256", iso_path);
    FILE *f = fopen(sumfile, "re");
    if (f) {
        int n = fscanf(f, "%64[0-9a-f]", key);
        fclose(f);
        if (n == 1 && strlen(key) == 64)
            return 0;
    }
    return mk_sha256_file(iso_path, key, err);
}

static int copy_entry(struct archive *a, const char *iso_path, const char *name, const char *dest,
                      struct mk_error **err)
{
    mk_autofree char *tmp = xasprintf("%s.tmp.%ld", dest, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return mk_error_errno(err, errno, "cannot write %s", tmp);
    int rc = -1;
    const void *buf;
    size_t size;
    la_int64_t off;
    int r;
    while ((r = archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK) {
        if (pwrite(fd, buf, size, (off_t)off) != (ssize_t)size) {
            mk_error_errno(err, errno, "cannot write %s", tmp);
            goto cleanup;
        }
    }
    if (r != ARCHIVE_EOF) {
        mk_error_set(err, MK_EXIT_FAILURE, "cannot read /%s from %s: %s", name, iso_path,
                     archive_error_string(a));
        goto cleanup;
    }
    if (fsync(fd) < 0) {
        mk_error_errno(err, errno, "cannot write %s", tmp);
        goto cleanup;
    }
    if (rename(tmp, dest) < 0) {
        mk_error_errno(err, errno, "cannot rename %s", tmp);
        goto cleanup;
    }
    rc = 0;
cleanup:
    close(fd);
    if (rc < 0)
        unlink(tmp);
    return rc;
}

static int extract(const char *iso_path, const char *kernel, const char *initrd,
                   struct mk_error **err)
{
    struct archive *a = archive_read_new();
    archive_read_support_format_iso9660(a);
    int rc = -1;
    bool have_kernel = false, have_initrd = false;
    if (archive_read_open_filename(a, iso_path, 1 << 16) != ARCHIVE_OK) {
        mk_error_set(err, MK_EXIT_FAILURE, "cannot open %s as an ISO image: %s", iso_path,
                     archive_error_string(a));
        goto cleanup;
    }
    struct archive_entry *e;
    int r;
    while ((!have_kernel || !have_initrd) && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *p = archive_entry_pathname(e);
        while (p && (*p == '/' || mk_str_has_prefix(p, "./")))
            p += *p == '/' ? 1 : 2;
        if (!p || archive_entry_filetype(e) != AE_IFREG)
            continue;
        if (strcasecmp(p, MK_IMAGE_KERNEL) == 0) {
            if (copy_entry(a, iso_path, p, kernel, err) < 0)
                goto cleanup;
            have_kernel = true;
        } else if (strcasecmp(p, MK_IMAGE_INITRD) == 0) {
            if (copy_entry(a, iso_path, p, initrd, err) < 0)
                goto cleanup;
            have_initrd = true;
        }
    }
    if (!have_kernel || !have_initrd) {
        mk_error_set(err, MK_EXIT_FAILURE, "%s has no /%s", iso_path,
                     have_kernel ? MK_IMAGE_INITRD : MK_IMAGE_KERNEL);
        goto cleanup;
    }
    rc = 0;
cleanup:
    archive_read_free(a);
    return rc;
}

int mk_image_boot_files(const char *iso_path, const char *cache_dir, char **kernel, char **initrd,
                        struct mk_error **err)
{
    *kernel = *initrd = NULL;
    if (mk_image_verify(iso_path, err) < 0)
        return -1;
    char key[65];
    if (image_key(iso_path, key, err) < 0)
        return -1;
    mk_autofree char *dir = xasprintf("%s/iso/%s", cache_dir, key);
    mk_autofree char *k = xasprintf("%s/vmlinuz", dir);
    mk_autofree char *i = xasprintf("%s/initrd.img", dir);
    if (!mk_path_exists(k) || !mk_path_exists(i)) {
        mk_debug(1, "extracting the kernel and initrd of %s into %s", iso_path, dir);
        if (mk_mkdir_p(dir, 0755, err) < 0 || extract(iso_path, k, i, err) < 0)
            return -1;
    }
    *kernel = k;
    *initrd = i;
    k = i = NULL;
    return 0;
}
