/* test-hyperv.c - the Hyper-V driver without Hyper-V: its parsers on captured
 * PowerShell errors and on the output shapes its scripts ask for
 * (tests/fixtures/hyperv/SOURCES), every operation's PowerShell script
 * against a recorded replay (tests named *_FAKE_PowerShell) compared with
 * golden transcripts, and the fixed VHD it writes, checked by real qemu-img. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>
#include <jansson.h>

#include "contract.c"
#include "disk.h"
#include "hypervparse.h"
#include "vhd.h"

extern const struct mk_driver mk_driver_hyperv;

/* ---- parsers ---- */

static void check_state(const char *text, enum mk_vm_state want, const char *name)
{
    bool exists = false;
    enum mk_vm_state st = MK_VM_NONEXISTENT;
    mk_autofree char *raw = NULL;
    assert_int_equal(mk_hv_parse_state(text, &exists, &st, &raw), 0);
    assert_true(exists);
    assert_string_equal(raw, name);
    if (st != want)
        fail_msg("\"%s\": %s, expected %s", text, mk_vm_state_name(st), mk_vm_state_name(want));
}

static void test_hv_states(void **state)
{
    static const struct {
        const char *file, *name;
        enum mk_vm_state st;
    } cases[] = {
        {"hyperv/state-running.json", "Running", MK_VM_RUNNING},
        {"hyperv/state-off.json", "Off", MK_VM_STOPPED},
        {"hyperv/state-saved.json", "Saved", MK_VM_STOPPED},
        {"hyperv/state-paused.json", "Paused", MK_VM_STARTING},
        {"hyperv/get-vm-convertto-json.json", "Running", MK_VM_RUNNING}, /* "State": 2 */
    };
    for (size_t i = 0; i < MK_ARRAY_SIZE(cases); i++) {
        mk_autofree char *text = mk_fixture(cases[i].file);
        check_state(text, cases[i].st, cases[i].name);
    }
    check_state("Starting\r\n", MK_VM_STARTING, "Starting");
    check_state("[{\"Name\":\"x\",\"State\":3}]", MK_VM_STOPPED, "Off");
    check_state("{\"State\":\"RunningCritical\"}", MK_VM_ERROR, "RunningCritical");
    check_state("{\"State\":32779}", MK_VM_STOPPED, "FastSaved");
    bool exists = true;
    enum mk_vm_state st;
    assert_int_equal(mk_hv_parse_state(" \r\n", &exists, &st, NULL), 0);
    assert_false(exists);
    assert_int_equal(mk_hv_parse_state("{\"Name\":\"x\"}", &exists, &st, NULL), -1);
    assert_int_equal(mk_hv_parse_state("{broken", &exists, &st, NULL), -1);
}

static void test_hv_ip(void **state)
{
    char ip[64];
    mk_autofree char *lines = mk_fixture("hyperv/ipaddresses-lines.txt");
    assert_int_equal(mk_hv_pick_ipv4(lines, ip, sizeof(ip)), 0);
    assert_string_equal(ip, "172.17.35.198");
    mk_autofree char *json = mk_fixture("hyperv/ipaddresses.json");
    assert_int_equal(mk_hv_pick_ipv4(json, ip, sizeof(ip)), 0);
    assert_string_equal(ip, "192.168.1.57");
    mk_autofree char *ll = mk_fixture("hyperv/ipaddresses-linklocal-only.txt");
    assert_int_equal(mk_hv_pick_ipv4(ll, ip, sizeof(ip)), -1);
    assert_int_equal(mk_hv_pick_ipv4("", ip, sizeof(ip)), -1);
    assert_int_equal(mk_hv_pick_ipv4("\"10.1.2.3\"", ip, sizeof(ip)), 0);
    assert_string_equal(ip, "10.1.2.3");
    assert_int_equal(mk_hv_pick_ipv4("300.1.2.3\n1.2.3\n", ip, sizeof(ip)), -1);
}

static void test_hv_switches(void **state)
{
    struct mk_hv_switch sw[8];
    mk_autoerror struct mk_error *err = NULL;
    mk_autofree char *def = mk_fixture("hyperv/switches-default.json");
    int n = mk_hv_parse_switches(def, sw, 8);
    assert_int_equal(n, 2);
    assert_int_equal(mk_hv_choose_switch(sw, n, NULL, &err), 0);
    assert_int_equal(mk_hv_choose_switch(sw, n, "LAN", &err), 1);
    assert_int_equal(mk_hv_choose_switch(sw, n, "nope", &err), -1);
    assert_int_equal(err->code, MK_EXIT_USAGE);
    assert_non_null(strstr(err->msg, "no virtual switch named \"nope\""));
    mk_error_free(err);
    err = NULL;
    /* the Default Switch is found by its Id whatever its localized name */
    mk_autofree char *nl = mk_fixture("hyperv/switches-localized-default.json");
    n = mk_hv_parse_switches(nl, sw, 8);
    assert_int_equal(n, 1);
    assert_int_equal(mk_hv_choose_switch(sw, n, NULL, &err), 0);
    assert_string_equal(sw[0].name, "Standaard schakeloptie");
    mk_autofree char *ext = mk_fixture("hyperv/switches-external-only.json");
    n = mk_hv_parse_switches(ext, sw, 8);
    assert_int_equal(n, 2);
    assert_string_equal(sw[1].type, "External"); /* enum number 2 */
    assert_int_equal(mk_hv_choose_switch(sw, n, NULL, &err), 1);
    assert_int_equal(mk_hv_choose_switch(sw, 1, NULL, &err), -1);
    assert_non_null(strstr(err->hint, "--hyperv-switch"));
    assert_int_equal(mk_hv_parse_switches("", sw, 8), 0);
    assert_int_equal(mk_hv_parse_switches("[{", sw, 8), -1);
}

static void test_hv_probe_parse(void **state)
{
    struct mk_hv_probe p;
    mk_autofree char *ok = mk_fixture("hyperv/probe-hyperv-admin.txt");
    mk_hv_parse_probe(ok, &p);
    assert_int_equal(p.module_count, 1);
    assert_int_equal(p.admin, 0);
    assert_int_equal(p.hyperv_admin, 1);
    mk_hv_parse_probe("module=2\r\nadmin=True\r\n", &p);
    assert_int_equal(p.module_count, 2);
    assert_int_equal(p.admin, 1);
    assert_int_equal(p.hyperv_admin, -1);
}

static void check_error(const char *fixture, enum mk_hv_err want, const char *msg_prefix)
{
    mk_autofree char *text = mk_fixture(fixture);
    assert_int_equal(mk_hv_classify_error(text), want);
    mk_autofree char *msg = mk_hv_error_message(text);
    assert_non_null(msg);
    if (!mk_str_has_prefix(msg, msg_prefix))
        fail_msg("%s: message \"%s\" does not start with \"%s\"", fixture, msg, msg_prefix);
}

static void test_hv_errors(void **state)
{
    check_error("hyperv/error-not-found.txt", MK_HV_ERR_NOT_FOUND,
                "Hyper-V was unable to find a virtual machine with name \"minikube\"");
    check_error("hyperv/error-not-found-es.txt", MK_HV_ERR_NOT_FOUND, "Hyper-V no pudo encontrar");
    check_error("hyperv/error-permission.txt", MK_HV_ERR_PERMISSION,
                "Hyper-V encountered an error trying to access an object");
    check_error("hyperv/error-no-cmdlet.txt", MK_HV_ERR_NO_CMDLET, "Term 'Get-VM' not recognized");
    assert_null(mk_hv_error_message(" \r\n"));
}

static void test_ps_quote(void **state)
{
    mk_autofree char *a = mk_ps_quote("C:\\Users\\o'brien\\.mkube");
    assert_string_equal(a, "'C:\\Users\\o''brien\\.mkube'");
    mk_autofree char *b = mk_ps_quote("$(rm -r C:\\)");
    assert_string_equal(b, "'$(rm -r C:\\)'"); /* single quotes: no expansion */
}

/* ---- the VHD, read back by real qemu-img ---- */

static char *qemu_img(const char *const *argv, bool *ran)
{
    struct mk_run_opts o = {.capture_stdout = true, .timeout_ms = 60000};
    struct mk_run_result res;
    mk_run_result_init(&res);
    struct mk_error *err = NULL;
    *ran = mk_run_check(argv, &o, &res, &err) == 0;
    if (!*ran)
        print_message("qemu-img: %s\n", err->msg);
    mk_error_free(err);
    char *out = mk_buf_detach(&res.out);
    mk_run_result_release(&res);
    return out;
}

static long long json_size(const char *text)
{
    json_t *root = json_loads(text, 0, NULL);
    long long v = (long long)json_integer_value(json_object_get(root, "virtual-size"));
    const char *fmt = json_string_value(json_object_get(root, "format"));
    assert_string_equal(fmt ? fmt : "", "vpc");
    json_decref(root);
    return v;
}

static void test_hv_vhd_fixed_read_by_qemu_img(void **state)
{
    if (!mk_run_have("qemu-img"))
        skip();
    char tmp[] = "/tmp/mk-vhd-XXXXXX";
    assert_non_null(mkdtemp(tmp));
    mk_autofree char *vhd = xasprintf("%s/disk.vhd", tmp);
    mk_autofree char *raw = xasprintf("%s/back.raw", tmp);
    struct mk_error *err = NULL;
    assert_int_equal(mk_vhd_create_fixed(vhd, 64, "ssh-ed25519 AAAAtest mkube@test", "demo", &err),
                     0);
    struct stat st;
    assert_int_equal(stat(vhd, &st), 0);
    assert_int_equal(st.st_size, (64 << 20) + MK_VHD_FOOTER_SIZE);

    /* qemu checks the footer checksum, reads the CHS geometry by default and
     * the footer's current size on request */
    bool ran;
    const char *chs[] = {"qemu-img", "info", "--output=json", "-f", "vpc", vhd, NULL};
    mk_autofree char *out1 = qemu_img(chs, &ran);
    assert_true(ran);
    struct mk_vhd_geometry g;
    mk_vhd_geometry(64 << 20, &g);
    assert_int_equal(json_size(out1), (long long)g.cylinders * g.heads * g.sectors * 512);
    mk_autofree char *opts =
        xasprintf("driver=vpc,force_size_calc=current_size,file.driver=file,file.filename=%s", vhd);
    const char *cur[] = {"qemu-img", "info", "--output=json", "--image-opts", opts, NULL};
    mk_autofree char *out2 = qemu_img(cur, &ran);
    assert_true(ran);
    assert_int_equal(json_size(out2), 64ll << 20);

    /* the guest sees the tar at byte 0, magic first */
    const char *conv[] = {"qemu-img", "convert", "-f", "vpc", "-O", "raw", vhd, raw, NULL};
    mk_autofree char *out3 = qemu_img(conv, &ran);
    assert_true(ran);
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    assert_int_equal(archive_read_open_filename(a, raw, 10240), ARCHIVE_OK);
    struct archive_entry *e;
    assert_int_equal(archive_read_next_header(a, &e), ARCHIVE_OK);
    assert_string_equal(archive_entry_pathname(e), MK_DISK_MAGIC);
    bool key = false;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK)
        key |= strcmp(archive_entry_pathname(e), ".ssh/authorized_keys") == 0;
    assert_true(key);
    archive_read_free(a);
    mk_rm_rf(tmp, &err);
    mk_error_free(err);
}

static void test_hv_vhd_footer(void **state)
{
    unsigned char f[MK_VHD_FOOTER_SIZE], uuid[16] = {1, 2, 3};
    mk_vhd_footer(f, 20000ull << 20, 0x2f000000, uuid);
    assert_memory_equal(f, "conectix", 8);
    uint32_t sum = 0, stored = (uint32_t)f[64] << 24 | f[65] << 16 | f[66] << 8 | f[67];
    for (int i = 0; i < MK_VHD_FOOTER_SIZE; i++)
        if (i < 64 || i > 67)
            sum += f[i];
    assert_int_equal(stored, ~sum);
    assert_int_equal(f[63], 2); /* fixed */
    /* geometry of the specification for sizes past 65535*16*63 sectors */
    struct mk_vhd_geometry g;
    mk_vhd_geometry(127ull << 30, &g);
    assert_int_equal(g.heads, 16);
    assert_int_equal(g.sectors, 255);
    mk_vhd_geometry(64ull << 20, &g);
    assert_int_equal(g.sectors, 17);
    assert_true(g.cylinders * g.heads * g.sectors <= (64u << 20) / 512);
}

/* ---- the driver against a replay ---- */

struct fixture {
    char tmp[64];
    char *machines;
    char *iso;
    struct mk_machine_config cfg;
    struct mk_replay replay;
    struct mk_contract_opts opts;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    snprintf(f->tmp, sizeof(f->tmp), "/tmp/mk-hyperv-XXXXXX");
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
    };
    f->opts = (struct mk_contract_opts){
        .machines_dir = f->machines,
        .cfg = &f->cfg,
        .forward_guest_port = 30080,
        .replay = &f->replay,
    };
    setenv("MKUBE_DRIVER_POLL_MS", "0", 1);
    setenv("MKUBE_STOP_TIMEOUT", "5", 1);
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
    free(f);
    return 0;
}

#define GET_VM "Hyper-V\\Get-VM -Name"

static void add_ok_rules(struct mk_replay *r)
{
    mk_replay_add(r, "Get-Module -ListAvailable", 0, 0, "@hyperv/probe-hyperv-admin.txt", NULL);
    mk_replay_add(r, "Get-VMSwitch", 0, 0, "@hyperv/switches-default.json", NULL);
    mk_replay_add(r, "Get-VMNetworkAdapter", 1, 0, "", NULL); /* no address yet */
    mk_replay_add(r, "Get-VMNetworkAdapter", 0, 0, "@hyperv/ipaddresses-lines.txt", NULL);
    static const char *const ok[] = {"New-VM", "Convert-VHD", "Start-VM", "Stop-VM", "Remove-VM"};
    for (size_t i = 0; i < MK_ARRAY_SIZE(ok); i++)
        mk_replay_add(r, ok[i], 0, 0, NULL, NULL);
}

static void test_hv_contract_FAKE_PowerShell(void **state)
{
    struct fixture *f = *state;
    struct mk_replay *r = &f->replay;
    mk_replay_add(r, GET_VM, 1, 0, "", NULL);                        /* before create */
    mk_replay_add(r, GET_VM, 2, 0, "@hyperv/state-off.json", NULL);     /* after create, start */
    mk_replay_add(r, GET_VM, 2, 0, "@hyperv/state-running.json", NULL); /* after start, stop */
    mk_replay_add(r, GET_VM, 3, 0, "@hyperv/state-off.json", NULL); /* stop, after stop, remove */
    mk_replay_add(r, GET_VM, 0, 0, "", NULL);                       /* after remove */
    add_ok_rules(r);
    mk_driver_contract_run(&mk_driver_hyperv, &f->opts);
    assert_int_equal(r->unmatched, 0);
    mk_golden_check("hyperv/transcript-contract.txt", mk_buf_str(&r->transcript));
}

static void test_hv_half_created_FAKE_PowerShell(void **state)
{
    struct fixture *f = *state;
    struct mk_replay *r = &f->replay;
    mk_replay_add(r, "Convert-VHD", 1, 1, NULL,
                  "Hyper-V\\Convert-VHD : There is not enough space on the disk.\n");
    mk_replay_add(r, GET_VM, 1, 0, "@hyperv/state-off.json", NULL); /* the driver's cleanup */
    mk_replay_add(r, GET_VM, 0, 0, "", NULL);
    add_ok_rules(r);
    mk_driver_contract_half_created(&mk_driver_hyperv, &f->opts);
    assert_int_equal(r->unmatched, 0);
    mk_golden_check("hyperv/transcript-half-created.txt", mk_buf_str(&r->transcript));
}

static void test_hv_null_slots(void **state)
{
    struct fixture *f = *state;
    mk_driver_contract_null_slots(&mk_driver_hyperv, f->machines);
}

static void test_hv_stop_turns_off_FAKE_PowerShell(void **state)
{
    struct fixture *f = *state;
    struct mk_replay *r = &f->replay;
    mk_replay_add(r, GET_VM, 0, 0, "@hyperv/state-running.json", NULL);
    mk_replay_add(r, "Stop-VM -Name 'mkube-demo' -Force", 1, 1, NULL,
                  "Hyper-V\\Stop-VM : The virtual machine could not be shut down.\n");
    add_ok_rules(r);
    struct mk_machine *m = mk_machine_new(&mk_driver_hyperv, f->machines, "demo");
    mk_autoerror struct mk_error *err = NULL;
    assert_int_equal(mk_machine_stop(m, &err), 0);
    const char *t = mk_buf_str(&r->transcript);
    const char *soft = strstr(t, "Hyper-V\\Stop-VM -Name 'mkube-demo' -Force\n");
    const char *hard = strstr(t, "Hyper-V\\Stop-VM -Name 'mkube-demo' -TurnOff -Force\n");
    assert_non_null(soft);
    assert_non_null(hard);
    assert_true(hard > soft);
    mk_machine_free(m);
}

static void test_hv_probe_refusals_FAKE_PowerShell(void **state)
{
    struct fixture *f = *state;
    struct mk_replay *r = &f->replay;
    mk_autoerror struct mk_error *err = NULL;
    mk_replay_add(r, "Get-Module", 1, 0, "@hyperv/probe-no-module.txt", NULL);
    mk_replay_add(r, "Get-Module", 1, 0, "@hyperv/probe-no-rights.txt", NULL);
    mk_replay_add(r, "Get-Module", 1, 1, NULL, "@hyperv/error-no-cmdlet.txt");
    assert_int_equal(mk_driver_hyperv.probe(NULL, &err), -1);
    assert_non_null(strstr(err->msg, "Hyper-V PowerShell module is not installed"));
    assert_non_null(strstr(err->hint, "Enable-WindowsOptionalFeature"));
    mk_error_free(err);
    err = NULL;
    assert_int_equal(mk_driver_hyperv.probe(NULL, &err), -1);
    assert_non_null(strstr(err->msg, "\"Hyper-V Administrators\""));
    mk_error_free(err);
    err = NULL;
    assert_int_equal(mk_driver_hyperv.probe(NULL, &err), -1);
    assert_non_null(strstr(err->msg, "Term 'Get-VM' not recognized"));
    assert_non_null(err->hint);
}

static void test_hv_state_permission_FAKE_PowerShell(void **state)
{
    struct fixture *f = *state;
    struct mk_replay *r = &f->replay;
    mk_replay_add(r, GET_VM, 1, 1, NULL, "@hyperv/error-permission.txt");
    struct mk_machine *m = mk_machine_new(&mk_driver_hyperv, f->machines, "demo");
    mk_autoerror struct mk_error *err = NULL;
    enum mk_vm_state st;
    /* not "Nonexistent": the user lacks rights, and must be told */
    assert_int_equal(mk_machine_state(m, &st, &err), -1);
    assert_non_null(strstr(err->msg, "access an object"));
    assert_non_null(strstr(err->hint, "Hyper-V Administrators"));
    assert_non_null(strstr(mk_buf_str(&r->transcript), "-ErrorVariable gerr"));
    mk_machine_free(m);
}

static void test_hv_not_installed(void **state)
{
    struct fixture *f = *state;
    mk_replay_end(&f->replay); /* really run: there is no powershell.exe here */
    setenv("MKUBE_POWERSHELL", "/nonexistent/powershell.exe", 1);
    mk_autoerror struct mk_error *err = NULL;
    assert_int_equal(mk_driver_hyperv.probe(NULL, &err), -1);
    unsetenv("MKUBE_POWERSHELL");
    assert_int_equal(err->code, MK_EXIT_DRIVER);
    assert_non_null(strstr(err->msg, "powershell.exe was not found"));
    assert_non_null(strstr(err->hint, "Windows"));
    mk_replay_begin(&f->replay, f->tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hv_states),
        cmocka_unit_test(test_hv_ip),
        cmocka_unit_test(test_hv_switches),
        cmocka_unit_test(test_hv_probe_parse),
        cmocka_unit_test(test_hv_errors),
        cmocka_unit_test(test_ps_quote),
        cmocka_unit_test(test_hv_vhd_footer),
        cmocka_unit_test(test_hv_vhd_fixed_read_by_qemu_img),
        cmocka_unit_test_setup_teardown(test_hv_contract_FAKE_PowerShell, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hv_half_created_FAKE_PowerShell, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hv_null_slots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hv_stop_turns_off_FAKE_PowerShell, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hv_probe_refusals_FAKE_PowerShell, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hv_state_permission_FAKE_PowerShell, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hv_not_installed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
