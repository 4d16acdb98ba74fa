/* test-driver.c - the driver core: registry, machine.json round-trip, the
 * wrappers' empty-slot errors, port helpers, sha256 checks, accel names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "accel.h"
#include "driver.h"
#include "fsutil.h"

static char *tmpdir(void)
{
    char tmpl[] = "/tmp/mkube-test-driver.XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    return xstrdup(tmpl);
}

static void rmtree(char *dir)
{
    struct mk_error *err = NULL;
    assert_int_equal(mk_rm_rf(dir, &err), 0);
    free(dir);
}

static void test_registry(void **state)
{
    (void)state;
    assert_non_null(mk_drivers[0]);
    assert_string_equal(mk_drivers[0]->name, "libvirt");
    assert_string_equal(mk_drivers[1]->name, "qemu");
    assert_ptr_equal(mk_driver_lookup("qemu"), mk_drivers[1]);
    assert_null(mk_driver_lookup("vmware"));
    assert_null(mk_driver_lookup(NULL));
    assert_string_equal(mk_vm_state_name(MK_VM_RUNNING), "Running");
    assert_string_equal(mk_vm_state_name(MK_VM_STOPPED), "Stopped");
    assert_string_equal(mk_vm_state_name(MK_VM_NONEXISTENT), "Nonexistent");
    assert_string_equal(mk_vm_state_name(MK_VM_ERROR), "Error");
    assert_string_equal(mk_vm_state_name(MK_VM_STARTING), "Starting");
}

static void test_machine_json_roundtrip(void **state)
{
    (void)state;
    char *home = tmpdir();
    mk_autofree char *machines = xasprintf("%s/machines", home);
    struct mk_error *err = NULL;
    struct mk_machine *m = mk_machine_new(mk_driver_lookup("qemu"), machines, "rt");
    mk_autofree char *want_dir = xasprintf("%s/rt", machines);
    mk_autofree char *want_cache = xasprintf("%s/cache", home);
    assert_string_equal(m->dir, want_dir);
    assert_string_equal(m->cache_dir, want_cache);
    m->cpus = 3;
    m->memory_mib = 3072;
    m->disk_mib = 25000;
    m->iso_path = xstrdup("/images/mkube \"odd\".iso");
    m->kernel_path = xstrdup("/images/vmlinuz");
    m->initrd_path = xstrdup("/images/initrd.img");
    m->accel = MK_ACCEL_TCG;
    m->libvirt_uri = xstrdup("qemu:///session");
    m->forwards[0] = (struct mk_forward){22, 40022};
    m->forwards[1] = (struct mk_forward){8443, 40443};
    m->forwards[2] = (struct mk_forward){2376, 40376};
    m->forwards[3] = (struct mk_forward){30080, 40080};
    m->nforwards = 4;
    assert_int_equal(mk_machine_save(m, &err), 0);
    mk_machine_free(m);

    struct mk_machine *l = NULL;
    assert_int_equal(mk_machine_load(machines, "rt", &l, &err), 0);
    assert_non_null(l);
    assert_ptr_equal(l->driver, mk_driver_lookup("qemu"));
    assert_int_equal(l->cpus, 3);
    assert_int_equal(l->memory_mib, 3072);
    assert_int_equal(l->disk_mib, 25000);
    assert_string_equal(l->iso_path, "/images/mkube \"odd\".iso");
    assert_string_equal(l->kernel_path, "/images/vmlinuz");
    assert_string_equal(l->initrd_path, "/images/initrd.img");
    assert_int_equal(l->accel, MK_ACCEL_TCG);
    assert_string_equal(l->libvirt_uri, "qemu:///session");
    assert_null(l->hyperv_switch);
    assert_int_equal(l->nforwards, 4);
    assert_int_equal(l->forwards[3].guest_port, 30080);
    assert_int_equal(l->forwards[3].host_port, 40080);
    assert_int_equal(mk_machine_forward_port(l, 8443), 40443);
    assert_int_equal(mk_machine_forward_port(l, 9999), 0);
    mk_machine_free(l);

    /* missing: 0 and NULL, not an error */
    l = (struct mk_machine *)1;
    assert_int_equal(mk_machine_load(machines, "nope", &l, &err), 0);
    assert_null(l);
    assert_null(err);

    /* broken JSON and unknown drivers are config errors */
    mk_autofree char *bad = xasprintf("%s/rt/machine.json", machines);
    assert_int_equal(mk_write_file_atomic(bad, "{\"driver\": \"vmware\"}", 20, 0600, &err), 0);
    assert_int_equal(mk_machine_load(machines, "rt", &l, &err), -1);
    assert_non_null(strstr(err->msg, "unknown driver \"vmware\""));
    assert_int_equal(err->code, MK_EXIT_CONFIG);
    mk_error_free(err);
    err = NULL;
    assert_int_equal(mk_write_file_atomic(bad, "{not json", 9, 0600, &err), 0);
    assert_int_equal(mk_machine_load(machines, "rt", &l, &err), -1);
    assert_non_null(strstr(err->msg, "cannot parse"));
    mk_error_free(err);
    rmtree(home);
}

/* A driver with every slot empty: each wrapper must refuse by name. */
static const struct mk_driver empty_driver = {.name = "empty"};

static void test_wrappers_empty_slots(void **state)
{
    (void)state;
    struct mk_machine *m = mk_machine_new(&empty_driver, "/nonexistent/machines", "x");
    struct mk_machine_config cfg = {0};
    struct mk_endpoint ep;
    enum mk_vm_state st;
    unsigned port = 0;
    struct {
        const char *op;
        int rc;
    } cases[7];
    struct mk_error *errs[7] = {0};
    cases[0].op = "create", cases[0].rc = mk_machine_create(m, &cfg, &errs[0]);
    cases[1].op = "start", cases[1].rc = mk_machine_start(m, &errs[1]);
    cases[2].op = "stop", cases[2].rc = mk_machine_stop(m, &errs[2]);
    cases[3].op = "kill", cases[3].rc = mk_machine_kill(m, &errs[3]);
    cases[4].op = "state", cases[4].rc = mk_machine_state(m, &st, &errs[4]);
    cases[5].op = "endpoint", cases[5].rc = mk_machine_endpoint(m, &ep, &errs[5]);
    cases[6].op = "forward", cases[6].rc = mk_machine_forward(m, 80, &port, &errs[6]);
    for (int i = 0; i < 7; i++) {
        assert_int_equal(cases[i].rc, -1);
        assert_non_null(errs[i]);
        mk_autofree char *want =
            xasprintf("\"%s\" is not supported by driver \"empty\"", cases[i].op);
        assert_string_equal(errs[i]->msg, want);
        assert_int_equal(errs[i]->code, MK_EXIT_DRIVER);
        mk_error_free(errs[i]);
    }
    struct mk_error *err = NULL;
    assert_int_equal(mk_machine_remove(m, &err), -1);
    assert_string_equal(err->msg, "\"remove\" is not supported by driver \"empty\"");
    mk_error_free(err);
    mk_machine_free(m);
}

static int listen_on(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 1), 0);
    return fd;
}

static void test_ports(void **state)
{
    (void)state;
    struct mk_error *err = NULL;
    unsigned p = 0;
    assert_int_equal(mk_port_pick(&p, &err), 0);
    assert_true(p > 1024 && p < 65536);
    assert_true(mk_port_free(p));
    int fd = listen_on(p);
    assert_false(mk_port_free(p));
    assert_false(mk_port_free(0));
    assert_false(mk_port_free(70000));

    /* a machine whose SSH port got taken moves it and saves machine.json */
    char *home = tmpdir();
    mk_autofree char *machines = xasprintf("%s/machines", home);
    struct mk_machine *m = mk_machine_new(mk_driver_lookup("qemu"), machines, "ports");
    unsigned q;
    assert_int_equal(mk_port_pick(&q, &err), 0);
    m->forwards[0] = (struct mk_forward){22, p};
    m->forwards[1] = (struct mk_forward){8443, q};
    m->nforwards = 2;
    unsigned r;
    assert_int_equal(mk_machine_pick_port(m, &r, &err), 0);
    assert_true(r != p && r != q);
    assert_int_equal(mk_machine_refresh_ports(m, &err), 0);
    assert_int_not_equal(m->forwards[0].host_port, p);
    assert_int_equal(m->forwards[1].host_port, q);
    struct mk_machine *l = NULL;
    assert_int_equal(mk_machine_load(machines, "ports", &l, &err), 0);
    assert_int_equal(l->forwards[0].host_port, m->forwards[0].host_port);
    mk_machine_free(l);
    mk_machine_free(m);
    close(fd);
    rmtree(home);
}

static void test_sha256_check(void **state)
{
    (void)state;
    char *dir = tmpdir();
    mk_autofree char *f = xasprintf("%s/image.iso", dir);
    mk_autofree char *sum = xasprintf("%s/image.iso.sha256", dir);
    struct mk_error *err = NULL;
    assert_int_equal(mk_write_file_atomic(f, "abc", 3, 0644, &err), 0);
    /* no .sha256: nothing to check */
    assert_int_equal(mk_file_verify_sha256(f, &err), 0);
    const char *good = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  image.iso\n";
    assert_int_equal(mk_write_file_atomic(sum, good, strlen(good), 0644, &err), 0);
    assert_int_equal(mk_file_verify_sha256(f, &err), 0);
    assert_int_equal(mk_write_file_atomic(f, "abd", 3, 0644, &err), 0);
    assert_int_equal(mk_file_verify_sha256(f, &err), -1);
    assert_non_null(strstr(err->msg, "is corrupt"));
    assert_non_null(err->hint);
    mk_error_free(err);
    err = NULL;
    assert_int_equal(mk_write_file_atomic(sum, "nonsense\n", 9, 0644, &err), 0);
    assert_int_equal(mk_file_verify_sha256(f, &err), -1);
    assert_non_null(strstr(err->msg, "does not hold a sha256"));
    mk_error_free(err);
    rmtree(dir);
}

static void test_create_checks_iso(void **state)
{
    (void)state;
    char *home = tmpdir();
    mk_autofree char *machines = xasprintf("%s/machines", home);
    struct mk_machine *m = mk_machine_new(mk_driver_lookup("qemu"), machines, "noiso");
    struct mk_machine_config cfg = {.iso_path = "/nonexistent/mkube.iso"};
    struct mk_error *err = NULL;
    assert_int_equal(mk_machine_create(m, &cfg, &err), -1);
    assert_non_null(strstr(err->msg, "the ISO image /nonexistent/mkube.iso cannot be read"));
    assert_non_null(err->hint);
    mk_error_free(err);
    mk_machine_free(m);
    rmtree(home);
}

static void test_accel_names(void **state)
{
    (void)state;
    enum mk_accel a;
    struct mk_error *err = NULL;
    assert_int_equal(mk_accel_parse("kvm", &a, &err), 0);
    assert_int_equal(a, MK_ACCEL_KVM);
    assert_int_equal(mk_accel_parse("tcg", &a, &err), 0);
    assert_int_equal(a, MK_ACCEL_TCG);
    assert_int_equal(mk_accel_parse("auto", &a, &err), 0);
    assert_int_equal(a, MK_ACCEL_AUTO);
    assert_int_equal(mk_accel_parse("hvf", &a, &err), -1);
    assert_non_null(strstr(err->msg, "unknown accelerator \"hvf\""));
    mk_error_free(err);
    assert_string_equal(mk_accel_name(MK_ACCEL_KVM), "kvm");
    assert_string_equal(mk_accel_name(MK_ACCEL_TCG), "tcg");
    /* tcg asked: no probe, no cache */
    assert_int_equal(mk_accel_resolve(NULL, NULL, MK_ACCEL_TCG, &a, &err), 0);
    assert_int_equal(a, MK_ACCEL_TCG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_machine_json_roundtrip),
        cmocka_unit_test(test_wrappers_empty_slots),
        cmocka_unit_test(test_ports),
        cmocka_unit_test(test_sha256_check),
        cmocka_unit_test(test_create_checks_iso),
        cmocka_unit_test(test_accel_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
