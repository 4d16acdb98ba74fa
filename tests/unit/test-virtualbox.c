/* test-virtualbox.c - the VirtualBox driver without VirtualBox: its parsers on
 * real captured VBoxManage output (tests/fixtures/virtualbox/SOURCES), and
 * every operation's VBoxManage command lines against a recorded replay
 * (tests named *_FAKE_VBoxManage), compared with golden transcripts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "contract.c"
#include "vboxparse.h"

extern const struct mk_driver mk_driver_virtualbox;

/* ---- parsers on captured output ---- */

static void test_vbox_version(void **state)
{
    struct mk_vbox_version v;
    mk_autofree char *v7 = mk_fixture("virtualbox/version-7.0.14.txt");
    assert_int_equal(mk_vbox_parse_version(v7, &v), 0);
    assert_int_equal(v.major, 7);
    assert_int_equal(v.minor, 0);
    assert_int_equal(v.patch, 14);
    assert_int_equal(v.revision, 161095);
    assert_true(mk_vbox_version_supported(&v));

    mk_autofree char *v5 = mk_fixture("virtualbox/version-5.0.16.txt");
    assert_int_equal(mk_vbox_parse_version(v5, &v), 0);
    assert_int_equal(v.revision, 105871);
    assert_false(mk_vbox_version_supported(&v));

    /* distribution builds put a tag before the revision; a warning may come first */
    assert_int_equal(mk_vbox_parse_version("WARNING: The vboxdrv kernel module is not loaded.\n"
                                           "6.1.50_Ubuntur161033\n",
                                           &v),
                     0);
    assert_int_equal(v.major, 6);
    assert_int_equal(v.minor, 1);
    assert_int_equal(v.revision, 161033);
    assert_true(mk_vbox_version_supported(&v));
    struct mk_vbox_version old = {6, 0, 24, 0};
    assert_false(mk_vbox_version_supported(&old));
    assert_int_equal(mk_vbox_parse_version("", &v), -1);
    assert_int_equal(mk_vbox_parse_version("Oracle VM VirtualBox Command Line", &v), -1);
}

static void check_state(const char *fixture, enum mk_vm_state want, const char *word, bool live)
{
    mk_autofree char *text = mk_fixture(fixture);
    enum mk_vm_state st;
    mk_autofree char *raw = NULL;
    assert_int_equal(mk_vbox_parse_state(text, &st, &raw), 0);
    assert_string_equal(raw, word);
    if (st != want)
        fail_msg("%s: %s, expected %s", fixture, mk_vm_state_name(st), mk_vm_state_name(want));
    assert_int_equal(mk_vbox_state_is_live(raw), live);
}

static void test_vbox_showvminfo_states(void **state)
{
    check_state("virtualbox/showvminfo-running.txt", MK_VM_RUNNING, "running", true);
    check_state("virtualbox/showvminfo-poweroff.txt", MK_VM_STOPPED, "poweroff", false);
    check_state("virtualbox/showvminfo-saved.txt", MK_VM_STOPPED, "saved", false);
    check_state("virtualbox/showvminfo-aborted.txt", MK_VM_ERROR, "aborted", false);
    check_state("virtualbox/showvminfo-paused.txt", MK_VM_STARTING, "paused", true);
    /* VMStateChangeTime must not be taken for VMState */
    enum mk_vm_state st;
    assert_int_equal(mk_vbox_parse_state("VMStateChangeTime=\"2020\"\n", &st, NULL), -1);
    assert_int_equal(mk_vbox_parse_state("VMState=\"\"\n", &st, NULL), -1);
    assert_int_equal(mk_vbox_parse_state("VMState=\"gurumeditation\"\r\n", &st, NULL), 0);
    assert_int_equal(st, MK_VM_ERROR);
}

static void test_vbox_showvminfo_values(void **state)
{
    mk_autofree char *win = mk_fixture("virtualbox/showvminfo-windows-escapes.txt");
    mk_autofree char *cfg = mk_vbox_info_get(win, "CfgFile");
    assert_non_null(cfg);
    assert_true(mk_str_has_prefix(cfg, "F:\\VirtualBox VMs\\centos7_"));
    assert_null(strstr(cfg, "\\\\"));
    mk_autofree char *mem = mk_vbox_info_get(win, "memory");
    assert_string_equal(mem, "512");
    mk_autofree char *run = mk_fixture("virtualbox/showvminfo-running.txt");
    mk_autofree char *boot = mk_vbox_info_get(run, "boot1");
    assert_string_equal(boot, "dvd");
    mk_autofree char *none = mk_vbox_info_get(run, "Forwarding(0)");
    assert_null(none);
}

static void test_vbox_forwards(void **state)
{
    /* the rule format of `modifyvm --natpf1` as showvminfo prints it back */
    const char *out = "nic1=\"nat\"\r\n"
                      "Forwarding(0)=\"ssh,tcp,127.0.0.1,2200,,22\"\r\n"
                      "Forwarding(1)=\"tcp56790,tcp,,2201,,56789\"\r\n"
                      "Forwarding(2)=\"broken\"\r\n"
                      "Forwarding(3)=\"api,tcp,127.0.0.1,40443,10.0.2.15,8443\"\r\n";
    struct mk_vbox_rule r[8];
    int n = mk_vbox_parse_forwards(out, r, 8);
    assert_int_equal(n, 3);
    assert_string_equal(r[0].name, "ssh");
    assert_string_equal(r[0].host_ip, "127.0.0.1");
    assert_int_equal(r[0].host_port, 2200);
    assert_int_equal(r[0].guest_port, 22);
    assert_string_equal(r[1].host_ip, "");
    assert_int_equal(r[1].guest_port, 56789);
    assert_string_equal(r[2].guest_ip, "10.0.2.15");
    assert_int_equal(mk_vbox_parse_forwards("", r, 8), 0);
}

static void test_vbox_hostinfo(void **state)
{
    mk_autofree char *old = mk_fixture("virtualbox/hostinfo-no-hwvirt-line.txt");
    assert_int_equal(mk_vbox_hostinfo_hwvirt(old), -1);
    assert_int_equal(mk_vbox_hostinfo_hwvirt("Processor supports HW virtualization: yes\n"), 1);
    assert_int_equal(mk_vbox_hostinfo_hwvirt("Processor supports HW virtualization: no\n"), 0);
}

static void check_error(const char *fixture, enum mk_vbox_err want, const char *msg_prefix)
{
    mk_autofree char *text = mk_fixture(fixture);
    assert_int_equal(mk_vbox_classify_error(text), want);
    mk_autofree char *msg = mk_vbox_error_message(text);
    assert_non_null(msg);
    if (!mk_str_has_prefix(msg, msg_prefix))
        fail_msg("%s: message \"%s\" does not start with \"%s\"", fixture, msg, msg_prefix);
}

static void test_vbox_errors(void **state)
{
    check_error("virtualbox/error-not-found.txt", MK_VBOX_ERR_NOT_FOUND,
                "Could not find a registered machine named 'al2023'");
    check_error("virtualbox/error-locked.txt", MK_VBOX_ERR_LOCKED, "The machine 'packer-centos");
    check_error("virtualbox/error-locked-startvm.txt", MK_VBOX_ERR_LOCKED,
                "The machine 'BashScripts_");
    check_error("virtualbox/error-vmx-root.txt", MK_VBOX_ERR_VMX_ROOT,
                "VT-x is being used by another hypervisor");
    check_error("virtualbox/error-no-vmx.txt", MK_VBOX_ERR_NO_HWVIRT, "00:00:01.618668 ERROR");
    check_error("virtualbox/error-vtx-disabled.txt", MK_VBOX_ERR_NO_HWVIRT, "VT-x is disabled");
    assert_int_equal(mk_vbox_classify_error("VBoxManage: error: Machine settings file "
                                            "'/x/mkube-a.vbox' already exists\n"),
                     MK_VBOX_ERR_EXISTS);
    assert_int_equal(mk_vbox_classify_error(""), MK_VBOX_ERR_OTHER);
    assert_null(mk_vbox_error_message("\n \n"));
}

/* ---- the driver against a replay ---- */

struct fixture {
    char tmp[64];
    char *machines;
    char *iso;
    struct mk_machine_config cfg;
    struct mk_replay replay;
    char *poweroff_rules; /* poweroff output carrying the three rules create wrote */
    struct mk_contract_opts opts;
};

#define SSH_PORT 47022u
#define API_PORT 47443u
#define DOCKER_PORT 47376u
#define NODE_HOST_PORT 47080u

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    snprintf(f->tmp, sizeof(f->tmp), "/tmp/mk-vbox-XXXXXX");
    assert_non_null(mkdtemp(f->tmp));
    f->machines = xasprintf("%s/machines", f->tmp);
    f->iso = xasprintf("%s/mkube.iso", f->tmp);
    struct mk_error *err = NULL;
    assert_int_equal(mk_mkdir_p(f->machines, 0700, &err), 0);
    assert_int_equal(mk_write_file_atomic(f->iso, "iso", 3, 0644, &err), 0);
    f->cfg = (struct mk_machine_config){
        .cpus = 2,
        .memory_mib = 3072,
        .disk_mib = 20000,
        .iso_path = f->iso,
        .ssh_pubkey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE1rdWJlVGVzdEtleQ mkube@test",
        .ssh_port = SSH_PORT,
        .api_port = API_PORT,
        .docker_port = DOCKER_PORT,
    };
    mk_autofree char *off = mk_fixture("virtualbox/showvminfo-poweroff.txt");
    f->poweroff_rules = xasprintf("%sForwarding(0)=\"ssh,tcp,127.0.0.1,%u,,22\"\n"
                                  "Forwarding(1)=\"api,tcp,127.0.0.1,%u,,8443\"\n"
                                  "Forwarding(2)=\"docker,tcp,127.0.0.1,%u,,2376\"\n",
                                  off, SSH_PORT, API_PORT, DOCKER_PORT);
    f->opts = (struct mk_contract_opts){
        .machines_dir = f->machines,
        .cfg = &f->cfg,
        .forward_guest_port = 30080,
        .forward_host_port = NODE_HOST_PORT,
        .replay = &f->replay,
    };
    setenv("MKUBE_DRIVER_POLL_MS", "0", 1);
    setenv("MKUBE_STOP_TIMEOUT", "5", 1);
    setenv("MKUBE_SYSFS_ROOT", f->tmp, 1); /* no kvm modules in the fake /sys */
    mk_replay_begin(&f->replay, f->tmp);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    mk_replay_end(&f->replay);
    struct mk_error *err = NULL;
    mk_rm_rf(f->tmp, &err);
    mk_error_free(err);
    free(f->machines);
    free(f->iso);
    free(f->poweroff_rules);
    free(f);
    unsetenv("MKUBE_SYSFS_ROOT");
    return 0;
}

static const char hostinfo_yes[] = "Host Information:\n\nProcessor supports HW virtualization: yes\n";

/* Answers every command that only has to succeed. */
static void add_ok_rules(struct mk_replay *r)
{
    mk_replay_add(r, "--version", 0, 0, "@virtualbox/version-7.0.14.txt", NULL);
    mk_replay_add(r, "list hostinfo", 0, 0, hostinfo_yes, NULL);
    static const char *const ok[] = {"createvm", "modifyvm", "convertfromraw", "modifymedium",
                                     "storagectl", "storageattach", "startvm", "controlvm",
                                     "unregistervm", "closemedium"};
    for (size_t i = 0; i < MK_ARRAY_SIZE(ok); i++)
        mk_replay_add(r, ok[i], 0, 0, NULL, NULL);
}

static void test_vbox_contract_FAKE_VBoxManage(void **state)
{
    struct fixture *f = *state;
    struct mk_replay *r = &f->replay;
    const char *nf = "@virtualbox/error-not-found.txt";
    const char *run = "@virtualbox/showvminfo-running.txt";
    const char *off = "@virtualbox/showvminfo-poweroff.txt";
    mk_replay_add(r, "showvminfo", 1, 1, NULL, nf);                  /* state before create */
    mk_replay_add(r, "showvminfo", 3, 0, f->poweroff_rules, NULL);   /* after create, start x2 */
    mk_replay_add(r, "showvminfo", 4, 0, run, NULL); /* after start, forward, stop, 1st poll */
    mk_replay_add(r, "showvminfo", 4, 0, off, NULL); /* 2nd poll, after stop, remove x2 */
    mk_replay_add(r, "showvminfo", 1, 1, NULL, nf);  /* after remove */
    add_ok_rules(r);
    mk_driver_contract_run(&mk_driver_virtualbox, &f->opts);
    assert_int_equal(r->unmatched, 0);
    mk_golden_check("virtualbox/transcript-contract.txt", mk_buf_str(&r->transcript));
}

static void test_vbox_half_created_FAKE_VBoxManage(void **state)
{
    struct fixture *f = *state;
    struct mk_replay *r = &f->replay;
    mk_replay_add(r, "storageattach", 1, 1, NULL,
                  "VBoxManage: error: Could not find file for the medium '/nowhere/mkube.iso' "
                  "(VERR_FILE_NOT_FOUND)\n");
    mk_replay_add(r, "showvminfo", 2, 0, "@virtualbox/showvminfo-poweroff.txt", NULL);
    mk_replay_add(r, "showvminfo", 0, 1, NULL, "@virtualbox/error-not-found.txt");
    add_ok_rules(r);
    mk_driver_contract_half_created(&mk_driver_virtualbox, &f->opts);
    assert_int_equal(r->unmatched, 0);
    mk_golden_check("virtualbox/transcript-half-created.txt", mk_buf_str(&r->transcript));
}

static void test_vbox_null_slots(void **state)
{
    struct fixture *f = *state;
    mk_driver_contract_null_slots(&mk_driver_virtualbox, f->machines);
}

/* A machine made by create, loaded back, for the single-operation tests. */
static struct mk_machine *created(struct fixture *f)
{
    struct mk_replay *r = &f->replay;
    struct mk_machine *m = mk_machine_new(&mk_driver_virtualbox, f->machines, "demo");
    struct mk_error *err = NULL;
    if (mk_machine_create(m, &f->cfg, &err) < 0)
        fail_msg("create: %s", err->msg);
    mk_buf_reset(&r->transcript);
    return m;
}

static void test_vbox_start_moves_rules_FAKE_VBoxManage(void **state)
{
    struct fixture *f = *state;
    struct mk_replay *r = &f->replay;
    /* settings still hold an old SSH port: start rewrites that rule only */
    mk_autofree char *off = mk_fixture("virtualbox/showvminfo-poweroff.txt");
    mk_autofree char *stale = xasprintf("%sForwarding(0)=\"ssh,tcp,127.0.0.1,2222,,22\"\n"
                                        "Forwarding(1)=\"api,tcp,127.0.0.1,%u,,8443\"\n"
                                        "Forwarding(2)=\"docker,tcp,127.0.0.1,%u,,2376\"\n",
                                        off, API_PORT, DOCKER_PORT);
    mk_replay_add(r, "showvminfo", 0, 0, stale, NULL);
    add_ok_rules(r);
    struct mk_machine *m = created(f);
    struct mk_error *err = NULL;
    assert_int_equal(mk_machine_start(m, &err), 0);
    const char *t = mk_buf_str(&r->transcript);
    mk_autofree char *add =
        xasprintf("modifyvm mkube-demo --natpf1 ssh,tcp,127.0.0.1,%u,,22\n", SSH_PORT);
    assert_non_null(strstr(t, "modifyvm mkube-demo --natpf1 delete ssh\n"));
    assert_non_null(strstr(t, add));
    assert_null(strstr(t, "delete api"));
    assert_non_null(strstr(t, "startvm mkube-demo --type headless\n"));
    mk_machine_free(m);
}

static void test_vbox_stop_timeout_powers_off_FAKE_VBoxManage(void **state)
{
    struct fixture *f = *state;
    struct mk_replay *r = &f->replay;
    mk_replay_add(r, "showvminfo", 0, 0, "@virtualbox/showvminfo-running.txt", NULL);
    add_ok_rules(r);
    struct mk_machine *m = created(f);
    struct mk_error *err = NULL;
    assert_int_equal(mk_machine_stop(m, &err), 0);
    const char *t = mk_buf_str(&r->transcript);
    const char *acpi = strstr(t, "controlvm mkube-demo acpipowerbutton\n");
    assert_non_null(acpi);
    const char *off = strstr(t, "controlvm mkube-demo poweroff\n");
    assert_non_null(off);
    assert_true(off > acpi);
    /* MKUBE_STOP_TIMEOUT=5 s at one poll per (virtual) second */
    int polls = 0;
    for (const char *p = acpi; (p = strstr(p, "showvminfo")) && p < off; p++)
        polls++;
    assert_int_equal(polls, 5 + 1); /* the polls, then vbox_kill's look */
    mk_machine_free(m);
}

static void test_vbox_forward_running_FAKE_VBoxManage(void **state)
{
    struct fixture *f = *state;
    struct mk_replay *r = &f->replay;
    mk_replay_add(r, "showvminfo", 1, 0, "@virtualbox/showvminfo-poweroff.txt", NULL);
    mk_replay_add(r, "showvminfo", 0, 0, "@virtualbox/showvminfo-running.txt", NULL);
    add_ok_rules(r);
    struct mk_machine *m = created(f);
    struct mk_error *err = NULL;
    unsigned hp = 0;
    /* stopped: only recorded, no VBoxManage rule yet */
    assert_int_equal(mk_machine_forward(m, 30080, &hp, &err), 0);
    assert_null(strstr(mk_buf_str(&r->transcript), "natpf1"));
    hp = NODE_HOST_PORT;
    assert_int_equal(mk_machine_forward(m, 31000, &hp, &err), 0);
    assert_int_equal(hp, NODE_HOST_PORT);
    mk_autofree char *want =
        xasprintf("controlvm mkube-demo natpf1 tcp-31000,tcp,127.0.0.1,%u,,31000\n", hp);
    assert_non_null(strstr(mk_buf_str(&r->transcript), want));
    mk_machine_free(m);
}

static void test_vbox_kvm_holds_vtx_FAKE_VBoxManage(void **state)
{
    struct fixture *f = *state;
    struct mk_replay *r = &f->replay;
    mk_replay_add(r, "showvminfo", 0, 0, f->poweroff_rules, NULL);
    mk_replay_add(r, "startvm", 0, 1, NULL, "@virtualbox/error-vmx-root.txt");
    add_ok_rules(r);
    struct mk_machine *m = created(f);
    mk_autoerror struct mk_error *err = NULL;
    assert_int_equal(mk_machine_start(m, &err), -1);
    assert_int_equal(err->code, MK_EXIT_DRIVER);
    assert_non_null(strstr(err->msg, "VT-x is being used by another hypervisor"));
    assert_non_null(err->hint);
    assert_non_null(strstr(err->hint, "unload the kvm modules"));
    assert_non_null(strstr(err->hint, "--driver=libvirt"));
    mk_machine_free(m);
}

static void test_vbox_probe_FAKE_VBoxManage(void **state)
{
    struct fixture *f = *state;
    struct mk_replay *r = &f->replay;
    mk_autoerror struct mk_error *err = NULL;
    /* too old */
    mk_replay_add(r, "--version", 1, 0, "@virtualbox/version-5.0.16.txt", NULL);
    assert_int_equal(mk_driver_virtualbox.probe(NULL, &err), -1);
    assert_non_null(strstr(err->msg, "VirtualBox 5.0.16 is too old"));
    mk_error_free(err);
    err = NULL;
    /* no VT-x */
    mk_replay_add(r, "--version", 0, 0, "@virtualbox/version-7.0.14.txt", NULL);
    mk_replay_add(r, "list hostinfo", 1, 0, "Processor supports HW virtualization: no\n", NULL);
    assert_int_equal(mk_driver_virtualbox.probe(NULL, &err), -1);
    assert_non_null(strstr(err->msg, "no VT-x/AMD-V"));
    assert_non_null(strstr(err->hint, "BIOS"));
    mk_error_free(err);
    err = NULL;
    /* Linux with kvm_intel loaded and enable_virt_at_load=Y (a fake /sys) */
    mk_replay_add(r, "list hostinfo", 0, 0, "@virtualbox/hostinfo-no-hwvirt-line.txt", NULL);
    mk_autofree char *intel = xasprintf("%s/module/kvm_intel", f->tmp);
    mk_autofree char *params = xasprintf("%s/module/kvm/parameters", f->tmp);
    mk_autofree char *flag = xasprintf("%s/enable_virt_at_load", params);
    assert_int_equal(mk_driver_virtualbox.probe(NULL, &err), 0);
    assert_int_equal(mk_mkdir_p(intel, 0755, &err), 0);
    assert_int_equal(mk_mkdir_p(params, 0755, &err), 0);
    assert_int_equal(mk_write_file_atomic(flag, "N\n", 2, 0644, &err), 0);
    assert_int_equal(mk_driver_virtualbox.probe(NULL, &err), 0); /* loaded, VT-x not held */
    assert_int_equal(mk_write_file_atomic(flag, "Y\n", 2, 0644, &err), 0);
    assert_int_equal(mk_driver_virtualbox.probe(NULL, &err), -1);
    assert_non_null(strstr(err->msg, "kvm kernel modules hold VT-x"));
    assert_non_null(strstr(err->hint, "--driver=libvirt"));
}

static void test_vbox_lock_retry_FAKE_VBoxManage(void **state)
{
    struct fixture *f = *state;
    struct mk_replay *r = &f->replay;
    mk_replay_add(r, "showvminfo", 1, 0, "@virtualbox/showvminfo-running.txt", NULL);
    mk_replay_add(r, "acpipowerbutton", 2, 1, NULL, "@virtualbox/error-locked.txt");
    mk_replay_add(r, "showvminfo", 0, 0, "@virtualbox/showvminfo-poweroff.txt", NULL);
    add_ok_rules(r);
    struct mk_machine *m = created(f);
    mk_buf_reset(&r->transcript);
    struct mk_error *err = NULL;
    assert_int_equal(mk_machine_stop(m, &err), 0);
    const char *t = mk_buf_str(&r->transcript);
    int tries = 0;
    for (const char *p = t; (p = strstr(p, "acpipowerbutton")); p++)
        tries++;
    assert_int_equal(tries, 3); /* locked twice, then through */
    assert_null(strstr(t, "poweroff\n"));
    mk_machine_free(m);
}

static void test_vbox_not_installed(void **state)
{
    struct fixture *f = *state;
    mk_replay_end(&f->replay); /* really run: the program does not exist */
    setenv("MKUBE_VBOXMANAGE", "/nonexistent/VBoxManage", 1);
    mk_autoerror struct mk_error *err = NULL;
    assert_int_equal(mk_driver_virtualbox.probe(NULL, &err), -1);
    unsetenv("MKUBE_VBOXMANAGE");
    assert_int_equal(err->code, MK_EXIT_DRIVER);
    assert_non_null(strstr(err->msg, "/nonexistent/VBoxManage was not found"));
    assert_non_null(strstr(err->hint, "install VirtualBox"));
    mk_replay_begin(&f->replay, f->tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vbox_version),
        cmocka_unit_test(test_vbox_showvminfo_states),
        cmocka_unit_test(test_vbox_showvminfo_values),
        cmocka_unit_test(test_vbox_forwards),
        cmocka_unit_test(test_vbox_hostinfo),
        cmocka_unit_test(test_vbox_errors),
        cmocka_unit_test_setup_teardown(test_vbox_contract_FAKE_VBoxManage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vbox_half_created_FAKE_VBoxManage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vbox_null_slots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vbox_start_moves_rules_FAKE_VBoxManage, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_vbox_stop_timeout_powers_off_FAKE_VBoxManage, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_vbox_forward_running_FAKE_VBoxManage, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_vbox_kvm_holds_vtx_FAKE_VBoxManage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vbox_probe_FAKE_VBoxManage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vbox_lock_retry_FAKE_VBoxManage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vbox_not_installed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
