/* test-libvirt-xml.c - golden files of the libvirt domain XML
 * (tests/fixtures/drivers/libvirt-*.xml), each validated with virt-xml-validate.
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

#include "fsutil.h"
#include "libvirt.h"
#include "run.h"

static const char *source_dir(void)
{
    const char *s = getenv("MKUBE_SOURCE_DIR");
    return s && *s ? s : MKUBE_SOURCE_DIR;
}

static void validate(const char *xml)
{
    if (!mk_run_have("virt-xml-validate")) {
        fprintf(stderr, "# virt-xml-validate not found (libvirt-clients): schema check skipped\n");
        return;
    }
    char path[] = "/tmp/mkube-domain-XXXXXX.xml";
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, xml, strlen(xml)), (ssize_t)strlen(xml));
    close(fd);
    const char *argv[] = {"virt-xml-validate", path, "domain", NULL};
    struct mk_run_opts o = {.capture_stdout = true, .capture_stderr = true};
    struct mk_run_result res;
    mk_run_result_init(&res);
    struct mk_error *err = NULL;
    int rc = mk_run(argv, &o, &res, &err);
    if (rc != 0 || res.status != 0)
        fprintf(stderr, "%s%s\n", mk_buf_str(&res.out), mk_buf_str(&res.err));
    assert_int_equal(rc, 0);
    assert_int_equal(res.status, 0);
    mk_run_result_release(&res);
    unlink(path);
}

static void golden(const char *name, const char *got)
{
    mk_autofree char *path = xasprintf("%s/tests/fixtures/drivers/%s", source_dir(), name);
    struct mk_error *err = NULL;
    const char *upd = getenv("MKUBE_UPDATE_GOLDEN");
    if (upd && *upd && strcmp(upd, "0") != 0) {
        assert_int_equal(mk_write_file_atomic(path, got, strlen(got), 0644, &err), 0);
        fprintf(stderr, "# updated %s\n", path);
        return;
    }
    struct mk_buf want = MK_BUF_INIT;
    if (mk_read_file(path, &want, 0, NULL, &err) < 0)
        fail_msg("%s (regenerate with MKUBE_UPDATE_GOLDEN=1)", err->msg);
    if (strcmp(mk_buf_str(&want), got) != 0) {
        fprintf(stderr, "--- %s\n%s--- generated\n%s", path, mk_buf_str(&want), got);
        fail_msg("%s differs from the generated XML", name);
    }
    mk_buf_release(&want);
}

static struct mk_machine *machine(const char *name)
{
    struct mk_machine *m = mk_machine_new(mk_driver_lookup("libvirt"), "/home/u/.mkube/machines",
                                          name);
    m->cpus = 2;
    m->memory_mib = 4096;
    m->disk_mib = 20000;
    m->iso_path = xstrdup("/usr/share/mkube/mkube.iso");
    m->forwards[0] = (struct mk_forward){22, 40022};
    m->forwards[1] = (struct mk_forward){8443, 40443};
    m->forwards[2] = (struct mk_forward){2376, 40376};
    m->nforwards = 3;
    return m;
}

static void test_direct_boot_system_tcg(void **state)
{
    (void)state;
    struct mk_machine *m = machine("mkube");
    m->kernel_path = xstrdup("/usr/share/mkube/mkube-vmlinuz");
    m->initrd_path = xstrdup("/usr/share/mkube/mkube-initrd.img");
    m->accel = MK_ACCEL_TCG;
    struct mk_libvirt_xml_opts o = {.system = true, .uid = 1000, .gid = 1000};
    mk_autofree char *xml = mk_libvirt_domain_xml(m, &o);
    validate(xml);
    golden("libvirt-direct-system-tcg.xml", xml);
    /* TCG: never host-passthrough, a 'qemu' domain */
    assert_null(strstr(xml, "host-passthrough"));
    assert_non_null(strstr(xml, "<domain type='qemu'"));
    mk_autofree char *name = mk_libvirt_domain_name(m);
    assert_string_equal(name, "mkube-mkube");
    mk_machine_free(m);
}

static void test_cdrom_session_kvm(void **state)
{
    (void)state;
    struct mk_machine *m = machine("dev & <test>");
    m->accel = MK_ACCEL_KVM;
    struct mk_libvirt_xml_opts o = {.system = false,
                                    .uuid = "5b7c55d8-2b8f-4a5e-9c53-0d1e2f3a4b5c"};
    mk_autofree char *xml = mk_libvirt_domain_xml(m, &o);
    validate(xml);
    golden("libvirt-cdrom-session-kvm.xml", xml);
    assert_non_null(strstr(xml, "<domain type='kvm'"));
    assert_null(strstr(xml, "<seclabel"));
    assert_null(strstr(xml, "<kernel>"));
    mk_machine_free(m);
}

/* no libvirtd behind the socket: a clear error with what to do */
static void test_connect_error(void **state)
{
    (void)state;
    struct mk_machine *m = machine("noconn");
    m->libvirt_uri = xstrdup("qemu:///system?socket=/nonexistent/libvirt-sock");
    enum mk_vm_state st;
    struct mk_error *err = NULL;
    assert_int_equal(mk_machine_state(m, &st, &err), -1);
    assert_non_null(strstr(err->msg, "cannot connect to libvirt at qemu:///system"));
    assert_int_equal(err->code, MK_EXIT_DRIVER);
    assert_non_null(err->hint);
    assert_non_null(strstr(err->hint, "start libvirtd"));
    mk_error_free(err);
    mk_machine_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_direct_boot_system_tcg),
        cmocka_unit_test(test_cdrom_session_kvm),
        cmocka_unit_test(test_connect_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
