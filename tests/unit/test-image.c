/* test-image.c - reading the kernel and initrd out of an ISO9660 image: an
 * ISO written by libarchive is read back, cached, checked against its .sha256,
 * and missing parts are reported by name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "image.h"

#define KERNEL_DATA "this is not really a kernel\n"
#define INITRD_DATA "nor an initrd, but close enough\n"

static void add_file(struct archive *a, const char *name, const char *data)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)strlen(data));
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    assert_int_equal(archive_write_data(a, data, strlen(data)), (la_ssize_t)strlen(data));
    archive_entry_free(e);
}

static void add_dir(struct archive *a, const char *name)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFDIR);
    archive_entry_set_perm(e, 0755);
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    archive_entry_free(e);
}

static void write_iso(const char *path, bool with_initrd)
{
    struct archive *a = archive_write_new();
    assert_int_equal(archive_write_set_format_iso9660(a), ARCHIVE_OK);
    assert_int_equal(archive_write_set_option(a, "iso9660", "volume-id", "MKUBE"), ARCHIVE_OK);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    add_dir(a, "boot");
    add_file(a, "boot/vmlinuz", KERNEL_DATA);
    if (with_initrd)
        add_file(a, "boot/initrd.img", INITRD_DATA);
    add_dir(a, "live");
    add_file(a, "live/rootfs.squashfs", "squash");
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

static char *slurp(const char *path)
{
    struct mk_buf b = MK_BUF_INIT;
    struct mk_error *err = NULL;
    assert_int_equal(mk_read_file(path, &b, 0, NULL, &err), 0);
    return mk_buf_detach(&b);
}

struct fixture {
    char *dir, *iso, *cache;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    char tmpl[] = "/tmp/mkube-test-image.XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    f->dir = xstrdup(tmpl);
    f->iso = xasprintf("%s/mkube.iso", f->dir);
    f->cache = xasprintf("%s/cache", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    struct mk_error *err = NULL;
    mk_rm_rf(f->dir, &err);
    free(f->dir);
    free(f->iso);
    free(f->cache);
    free(f);
    return 0;
}

static void test_extract_and_cache(void **state)
{
    struct fixture *f = *state;
    write_iso(f->iso, true);
    struct mk_error *err = NULL;
    char *k = NULL, *i = NULL;
    if (mk_image_boot_files(f->iso, f->cache, &k, &i, &err) < 0)
        fail_msg("%s", err->msg);
    mk_autofree char *kd = slurp(k);
    mk_autofree char *id = slurp(i);
    assert_string_equal(kd, KERNEL_DATA);
    assert_string_equal(id, INITRD_DATA);
    assert_true(mk_str_has_prefix(k, f->cache));

    /* second call: the same cached files, not extracted again */
    struct stat st1, st2;
    assert_int_equal(stat(k, &st1), 0);
    char *k2 = NULL, *i2 = NULL;
    assert_int_equal(mk_image_boot_files(f->iso, f->cache, &k2, &i2, &err), 0);
    assert_string_equal(k, k2);
    assert_int_equal(stat(k2, &st2), 0);
    assert_int_equal(st1.st_ino, st2.st_ino);
    free(k);
    free(i);
    free(k2);
    free(i2);
}

static void test_sha256_file(void **state)
{
    struct fixture *f = *state;
    write_iso(f->iso, true);
    struct mk_error *err = NULL;
    char sum[65];
    assert_int_equal(mk_sha256_file(f->iso, sum, &err), 0);
    mk_autofree char *sumfile = xasprintf("%s.sha256", f->iso);
    mk_autofree char *line = xasprintf("%s  mkube.iso\n", sum);
    assert_int_equal(mk_write_file_atomic(sumfile, line, strlen(line), 0644, &err), 0);
    assert_int_equal(mk_image_verify(f->iso, &err), 0);
    char *k = NULL, *i = NULL;
    assert_int_equal(mk_image_boot_files(f->iso, f->cache, &k, &i, &err), 0);
    /* cached under the image's checksum */
    assert_non_null(strstr(k, sum));
    free(k);
    free(i);
    /* a different image with the old .sha256: refused */
    write_iso(f->iso, false);
    assert_int_equal(mk_image_boot_files(f->iso, f->cache, &k, &i, &err), -1);
    assert_non_null(strstr(err->msg, "is corrupt"));
    assert_null(k);
    mk_error_free(err);
}

static void test_missing_parts(void **state)
{
    struct fixture *f = *state;
    struct mk_error *err = NULL;
    char *k = NULL, *i = NULL;
    assert_int_equal(mk_image_boot_files(f->iso, f->cache, &k, &i, &err), -1);
    assert_non_null(strstr(err->msg, "cannot be read"));
    assert_non_null(err->hint);
    mk_error_free(err);
    err = NULL;
    write_iso(f->iso, false);
    assert_int_equal(mk_image_boot_files(f->iso, f->cache, &k, &i, &err), -1);
    assert_non_null(strstr(err->msg, "has no /boot/initrd.img"));
    mk_error_free(err);
    err = NULL;
    /* not an ISO at all */
    assert_int_equal(mk_write_file_atomic(f->iso, "garbage", 7, 0644, &err), 0);
    assert_int_equal(mk_image_boot_files(f->iso, f->cache, &k, &i, &err), -1);
    assert_non_null(err);
    mk_error_free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_extract_and_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sha256_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_parts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
