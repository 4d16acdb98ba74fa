/* test-disk.c - the data disk: libarchive reads the tar back (magic first,
 * the key with mode 0600, the hostname), the raw disk is sparse, and the
 * qcow2 made by the real qemu-img has the asked size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "disk.h"
#include "fsutil.h"
#include "run.h"

#define KEY "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMkubeTestKeyTestKeyTestKeyTestKeyTestKeyTest me@host"

static char *tmpdir(void)
{
    char tmpl[] = "/tmp/mkube-test-disk.XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    return xstrdup(tmpl);
}

static void rmtree(char *dir)
{
    struct mk_error *err = NULL;
    assert_int_equal(mk_rm_rf(dir, &err), 0);
    free(dir);
}

static char *entry_data(struct archive *a, struct archive_entry *e)
{
    size_t n = (size_t)archive_entry_size(e);
    char *buf = xcalloc(1, n + 1);
    assert_int_equal(archive_read_data(a, buf, n), (la_ssize_t)n);
    return buf;
}

static void check_tar(const char *path, const char *key, const char *hostname)
{
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    assert_int_equal(archive_read_open_filename(a, path, 10240), ARCHIVE_OK);
    struct archive_entry *e;
    /* the magic is the very first entry */
    assert_int_equal(archive_read_next_header(a, &e), ARCHIVE_OK);
    assert_string_equal(archive_entry_pathname(e), MK_DISK_MAGIC);
    assert_int_equal(archive_entry_filetype(e), AE_IFREG);
    bool seen_key = false, seen_host = false;
    int r;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        if (strcmp(name, ".ssh/authorized_keys") == 0) {
            mk_autofree char *data = entry_data(a, e);
            mk_autofree char *want = xasprintf("%s\n", key);
            assert_string_equal(data, want);
            assert_int_equal(archive_entry_perm(e), 0600);
            seen_key = true;
        } else if (strcmp(name, "mkube/hostname") == 0) {
            mk_autofree char *data = entry_data(a, e);
            mk_autofree char *want = xasprintf("%s\n", hostname);
            assert_string_equal(data, want);
            seen_host = true;
        }
    }
    assert_int_equal(r, ARCHIVE_EOF);
    assert_true(seen_key);
    assert_true(seen_host);
    archive_read_free(a);
}

static void test_raw_disk(void **state)
{
    (void)state;
    char *dir = tmpdir();
    mk_autofree char *raw = xasprintf("%s/disk.raw", dir);
    struct mk_error *err = NULL;
    assert_int_equal(mk_disk_create_raw(raw, 20000, KEY, "mkube", &err), 0);
    struct stat st;
    assert_int_equal(stat(raw, &st), 0);
    assert_int_equal(st.st_size, (off_t)20000 << 20);
    assert_true(st.st_blocks * 512 < (1 << 20)); /* sparse: the tar only */
    assert_int_equal(st.st_mode & 0777, 0600);
    /* the guest looks at byte 0 */
    char head[64] = {0};
    int fd = open(raw, O_RDONLY);
    assert_int_equal(read(fd, head, sizeof(head) - 1), (ssize_t)sizeof(head) - 1);
    close(fd);
    assert_string_equal(head, MK_DISK_MAGIC);
    check_tar(raw, KEY, "mkube");
    rmtree(dir);
}

static void test_tar_key_with_newline(void **state)
{
    (void)state;
    char *dir = tmpdir();
    mk_autofree char *raw = xasprintf("%s/disk.raw", dir);
    struct mk_error *err = NULL;
    assert_int_equal(mk_disk_create_raw(raw, 64, KEY "\n", "host-2", &err), 0);
    check_tar(raw, KEY, "host-2");
    /* too small is refused clearly */
    assert_int_equal(mk_disk_create_raw(raw, 10, KEY, "h", &err), -1);
    assert_non_null(strstr(err->msg, "too small"));
    mk_error_free(err);
    rmtree(dir);
}

static void test_qcow2_disk(void **state)
{
    (void)state;
    if (!mk_run_have("qemu-img"))
        skip();
    char *dir = tmpdir();
    mk_autofree char *q = xasprintf("%s/disk.qcow2", dir);
    struct mk_error *err = NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(mk_disk_create(q, 20000, KEY, "mkube", &err), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    fprintf(stderr, "# 20000 MiB qcow2 data disk created in %.3f s\n", secs);
    assert_true(secs < 30);
    mk_autofree char *raw = xasprintf("%s.raw.tmp", q);
    assert_false(mk_path_exists(raw));
    struct stat st;
    assert_int_equal(stat(q, &st), 0);
    assert_true(st.st_size < (4 << 20)); /* qcow2 keeps the holes as holes */

    const char *argv[] = {"qemu-img", "info", "--output=json", q, NULL};
    struct mk_run_opts o = {.capture_stdout = true};
    struct mk_run_result res;
    mk_run_result_init(&res);
    assert_int_equal(mk_run_check(argv, &o, &res, &err), 0);
    json_t *info = json_loads(mk_buf_str(&res.out), 0, NULL);
    assert_string_equal(json_string_value(json_object_get(info, "format")), "qcow2");
    assert_int_equal(json_integer_value(json_object_get(info, "virtual-size")),
                     (json_int_t)20000 << 20);
    json_decref(info);
    mk_run_result_release(&res);

    /* converted back to raw, the tar is still at byte 0 */
    mk_autofree char *back = xasprintf("%s/back.raw", dir);
    const char *conv[] = {"qemu-img", "convert", "-f", "qcow2", "-O", "raw", q, back, NULL};
    assert_int_equal(mk_run_check(conv, NULL, NULL, &err), 0);
    check_tar(back, KEY, "mkube");
    rmtree(dir);
}

static void test_no_space_dir(void **state)
{
    (void)state;
    struct mk_error *err = NULL;
    assert_int_equal(mk_disk_create_raw("/nonexistent-dir/disk.raw", 100, KEY, "h", &err), -1);
    assert_non_null(strstr(err->msg, "cannot create the disk /nonexistent-dir/disk.raw"));
    mk_error_free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_disk),
        cmocka_unit_test(test_tar_key_with_newline),
        cmocka_unit_test(test_qcow2_disk),
        cmocka_unit_test(test_no_space_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
