/* test-qemu-argv.c - the qemu driver's command lines, recorded through the
 * mk_run dry-run hook and compared with golden files
 * (tests/fixtures/drivers/qemu-NAME.argv, one argument per line, with @DIR@
 * and @SSH@/@API@/@DOCKER@ for what changes between runs). Also: create makes
 * the data disk through qemu-img, and probe reports a missing QEMU clearly.
 * MKUBE_UPDATE_GOLDEN=1 rewrites the golden files on purpose. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driver.h"
#include "fsutil.h"
#include "run.h"

struct recorder {
    char **calls; /* each call as one string, arguments on their own lines */
    size_t n;
};

static int hook(const char *const *argv, const struct mk_run_opts *opts,
                struct mk_run_result *res, void *data)
{
    (void)opts;
    struct recorder *r = data;
    struct mk_buf b = MK_BUF_INIT;
    for (size_t i = 0; argv[i]; i++)
        mk_buf_addf(&b, "%s\n", argv[i]);
    r->calls = xrealloc(r->calls, (r->n + 1) * sizeof(char *));
    r->calls[r->n++] = mk_buf_detach(&b);
    res->status = 0;
    return 0;
}

static void recorder_free(struct recorder *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->calls[i]);
    free(r->calls);
    r->calls = NULL;
    r->n = 0;
}

static const char *source_dir(void)
{
    const char *s = getenv("MKUBE_SOURCE_DIR");
    return s && *s ? s : MKUBE_SOURCE_DIR;
}

static char *replace_all(const char *s, const char *from, const char *to)
{
    struct mk_buf b = MK_BUF_INIT;
    size_t n = strlen(from);
    for (const char *p; (p = strstr(s, from)); s = p + n) {
        mk_buf_add(&b, s, (size_t)(p - s));
        mk_buf_adds(&b, to);
    }
    mk_buf_adds(&b, s);
    return mk_buf_detach(&b);
}

static void golden(const char *name, const char *got)
{
    mk_autofree char *path = xasprintf("%s/tests/fixtures/drivers/%s", source_dir(), name);
    struct mk_error *err = NULL;
    const char *upd = getenv("MKUBE_UPDATE_GOLDEN");
    if (upd && *upd && strcmp(upd, "0") != 0) {
        assert_int_equal(mk_write_file_atomic(path, got, strlen(got), 0644, &err), 0);
        return;
    }
    struct mk_buf want = MK_BUF_INIT;
    if (mk_read_file(path, &want, 0, NULL, &err) < 0)
        fail_msg("%s (regenerate with MKUBE_UPDATE_GOLDEN=1)", err->msg);
    if (strcmp(mk_buf_str(&want), got) != 0) {
        fprintf(stderr, "--- %s\n%s--- generated\n%s", path, mk_buf_str(&want), got);
        fail_msg("%s differs from the generated command line", name);
    }
    mk_buf_release(&want);
}

struct fixture {
    char *home;
    char *machines;
    char *iso, *kernel, *initrd;
};

static void touch(const char *path)
{
    struct mk_error *err = NULL;
    assert_int_equal(mk_write_file_atomic(path, "x", 1, 0644, &err), 0);
}

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    char tmpl[] = "/tmp/mkube-test-qemu.XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    f->home = xstrdup(tmpl);
    f->machines = xasprintf("%s/machines", f->home);
    f->iso = xasprintf("%s/mkube.iso", f->home);
    f->kernel = xasprintf("%s/vmlinuz", f->home);
    f->initrd = xasprintf("%s/initrd.img", f->home);
    touch(f->iso);
    touch(f->kernel);
    touch(f->initrd);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    struct mk_error *err = NULL;
    mk_run_set_hook(NULL, NULL);
    mk_rm_rf(f->home, &err);
    free(f->home);
    free(f->machines);
    free(f->iso);
    free(f->kernel);
    free(f->initrd);
    free(f);
    return 0;
}

/* create then start one machine under the hook; returns the start's argv,
 * normalized */
static char *create_and_start(struct fixture *f, const char *name, bool direct)
{
    struct recorder rec = {0};
    mk_run_set_hook(hook, &rec);
    struct mk_error *err = NULL;
    struct mk_machine_config cfg = {
        .cpus = 2,
        .memory_mib = 4096,
        .disk_mib = 20000,
        .iso_path = f->iso,
        .kernel_path = direct ? f->kernel : NULL,
        .initrd_path = direct ? f->initrd : NULL,
        .ssh_pubkey = "ssh-ed25519 AAAA test",
        .accel = MK_ACCEL_TCG,
    };
    struct mk_machine *m = mk_machine_new(mk_driver_lookup("qemu"), f->machines, name);
    if (mk_machine_create(m, &cfg, &err) < 0)
        fail_msg("create: %s", err->msg);
    /* create: qemu-img convert of the raw disk with the tar */
    assert_int_equal(rec.n, 1);
    assert_true(mk_str_has_prefix(rec.calls[0], "qemu-img\nconvert\n"));
    assert_non_null(strstr(rec.calls[0], "\n-O\nqcow2\n"));
    /* the hook wrote no qcow2: pretend it did */
    mk_autofree char *disk = mk_machine_disk_path(m);
    touch(disk);
    recorder_free(&rec);
    mk_run_set_hook(hook, &rec);
    if (mk_machine_start(m, &err) < 0)
        fail_msg("start: %s", err->msg);
    assert_int_equal(rec.n, 1);
    char ports[3][16];
    for (int i = 0; i < 3; i++)
        snprintf(ports[i], sizeof(ports[i]), "%u", m->forwards[i].host_port);
    char *a = replace_all(rec.calls[0], m->dir, "@DIR@");
    char *b = replace_all(a, f->home, "@HOME@");
    free(a);
    const char *names[3] = {"@SSH@", "@API@", "@DOCKER@"};
    for (int i = 0; i < 3; i++) {
        mk_autofree char *from = xasprintf(":%s-", ports[i]);
        mk_autofree char *to = xasprintf(":%s-", names[i]);
        a = replace_all(b, from, to);
        free(b);
        b = a;
    }
    recorder_free(&rec);
    mk_run_set_hook(NULL, NULL);
    mk_machine_free(m);
    return b;
}

static void test_direct_boot_argv(void **state)
{
    struct fixture *f = *state;
    mk_autofree char *argv = create_and_start(f, "mkube", true);
    golden("qemu-direct.argv", argv);
    /* every forward on loopback only */
    assert_null(strstr(argv, "hostfwd=tcp::"));
    assert_null(strstr(argv, "0.0.0.0"));
}

static void test_cdrom_boot_argv(void **state)
{
    struct fixture *f = *state;
    mk_autofree char *argv = create_and_start(f, "cd", false);
    golden("qemu-cdrom.argv", argv);
    assert_null(strstr(argv, "-kernel"));
}

static void test_probe_without_qemu(void **state)
{
    struct fixture *f = *state;
    mk_autofree char *old = xstrdup(getenv("PATH") ? getenv("PATH") : "");
    setenv("PATH", f->home, 1); /* a directory with no qemu in it */
    struct mk_error *err = NULL;
    int rc = mk_driver_lookup("qemu")->probe(NULL, &err);
    setenv("PATH", old, 1);
    assert_int_equal(rc, -1);
    assert_string_equal(err->msg, "qemu-system-x86_64 was not found in PATH");
    assert_non_null(strstr(err->hint, "apt-get install qemu-system-x86"));
    mk_error_free(err);
}

static void test_state_without_process(void **state)
{
    struct fixture *f = *state;
    struct mk_machine *m = mk_machine_new(mk_driver_lookup("qemu"), f->machines, "ghost");
    enum mk_vm_state st = MK_VM_RUNNING;
    struct mk_error *err = NULL;
    assert_int_equal(mk_machine_state(m, &st, &err), 0);
    assert_int_equal(st, MK_VM_NONEXISTENT);
    /* a stale pidfile naming a live process that is not this machine's QEMU */
    struct mk_machine *m2 = mk_machine_new(mk_driver_lookup("qemu"), f->machines, "stale");
    m2->forwards[0] = (struct mk_forward){22, 1};
    m2->nforwards = 1;
    assert_int_equal(mk_machine_save(m2, &err), 0);
    mk_autofree char *pidfile = xasprintf("%s/qemu.pid", m2->dir);
    mk_autofree char *pid = xasprintf("%ld\n", (long)getpid());
    assert_int_equal(mk_write_file_atomic(pidfile, pid, strlen(pid), 0600, &err), 0);
    assert_int_equal(mk_machine_state(m2, &st, &err), 0);
    assert_int_equal(st, MK_VM_STOPPED);
    mk_machine_free(m2);
    mk_machine_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_direct_boot_argv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cdrom_boot_argv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_probe_without_qemu, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_without_process, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
