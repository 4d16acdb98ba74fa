/* hyperv.c - the Hyper-V driver: a generation 1 VM "mkube-<name>" driven
 * through `powershell.exe -NoProfile -NonInteractive -Command <script>`, every
 * call through mk_run (so tests replay it). Cmdlets are module-qualified
 * (Hyper-V\Get-VM) so VMware's PowerCLI cannot shadow them.
 *
 * The VM boots the ISO from its DVD drive (BIOS, -BootDevice CD). The data
 * disk starts as <dir>/disk.vhd, a 64 MiB fixed VHD written from C (vhd.h:
 * the boot2docker-style tar, then the VHD footer), which Convert-VHD turns
 * into the dynamic <dir>/disk.vhdx and Resize-VHD grows to the wanted size.
 *
 * Networking: Hyper-V has no loopback NAT, so the endpoint is the guest's own
 * address on its virtual switch (the Default Switch, else an External switch,
 * or --hyperv-switch), read from the adapter's IPAddresses, which the guest's
 * KVP daemon (hyperv-daemons in the image) reports. Ports are the guest ports
 * 22/8443/2376, and forward() returns the guest port itself: NodePorts are
 * reachable on the guest address directly. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../launcher/buf.h"
#include "../launcher/fsutil.h"
#include "../launcher/log.h"
#include "../launcher/run.h"
#include "driver.h"
#include "hypervparse.h"
#include "vhd.h"

#define HV_TIMEOUT_MS 120000
#define HV_DISK_TIMEOUT_MS 600000
#define HV_SEED_MIB 64
#define HV_IP_TIMEOUT_S 180
#define HV_MAX_SWITCHES 32

static const char *ps_bin(void)
{
    const char *s = getenv("MKUBE_POWERSHELL");
    return s && *s ? s : "powershell.exe";
}

/* Pause between polls: 1 s, or $MKUBE_DRIVER_POLL_MS. */
static int poll_ms(void)
{
    const char *s = getenv("MKUBE_DRIVER_POLL_MS");
    return s && *s ? atoi(s) : 1000;
}

static void sleep_ms(int ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* 'mkube-<name>', quoted for a script */
static char *vm_q(const struct mk_machine *m)
{
    mk_autofree char *name = xasprintf("mkube-%s", m->name);
    return mk_ps_quote(name);
}

/* <dir>\<file> with Windows separators when dir is a Windows path, quoted */
static char *file_q(const struct mk_machine *m, const char *file)
{
    bool win = m->dir[0] && m->dir[1] == ':';
    mk_autofree char *p = xasprintf("%s%s%s", m->dir, win ? "\\" : "/", file);
    for (char *c = p; win && *c; c++)
        if (*c == '/')
            *c = '\\';
    return mk_ps_quote(p);
}

/* Run one script; *out (optional) gets stdout. On failure *kind says why. */
static int ps(const char *script, int timeout_ms, char **out, enum mk_hv_err *kind,
              struct mk_error **err)
{
    const char *argv[] = {ps_bin(), "-NoProfile", "-NonInteractive", "-Command", script, NULL};
    struct mk_run_opts o = {
        .capture_stdout = true,
        .capture_stderr = true,
        .timeout_ms = timeout_ms ? timeout_ms : HV_TIMEOUT_MS,
    };
    struct mk_run_result res;
    mk_run_result_init(&res);
    struct mk_error *rerr = NULL;
    enum mk_hv_err k = MK_HV_ERR_OTHER;
    int rc = -1;
    if (out)
        *out = NULL;
    if (mk_run(argv, &o, &res, &rerr) < 0) {
        if (rerr && strstr(rerr->msg, "cannot run")) {
            mk_error_set(err, MK_EXIT_DRIVER, "%s was not found in PATH", argv[0]);
            mk_error_hint(err, "the hyperv driver runs on Windows 10/11 Pro or Windows Server "
                               "with Hyper-V enabled");
            mk_error_free(rerr);
        } else if (err && !*err) {
            *err = rerr;
        } else {
            mk_error_free(rerr);
        }
        goto cleanup;
    }
    if (res.status != 0) {
        k = mk_hv_classify_error(mk_buf_str(&res.err));
        mk_autofree char *msg = mk_hv_error_message(mk_buf_str(&res.err));
        if (msg)
            mk_error_set(err, MK_EXIT_FAILURE, "PowerShell failed: %s", msg);
        else
            mk_error_set(err, MK_EXIT_FAILURE, "PowerShell exited with status %d", res.status);
        if (k == MK_HV_ERR_PERMISSION)
            mk_error_hint(err, "run mkube from an elevated shell, or join the \"Hyper-V "
                               "Administrators\" group and log in again");
        else if (k == MK_HV_ERR_NO_CMDLET)
            mk_error_hint(err, "enable Hyper-V with its PowerShell module: "
                               "Enable-WindowsOptionalFeature -Online -FeatureName "
                               "Microsoft-Hyper-V -All, then reboot");
        goto cleanup;
    }
    if (out)
        *out = mk_buf_detach(&res.out);
    rc = 0;
cleanup:
    if (kind)
        *kind = rc == 0 ? MK_HV_ERR_OTHER : k;
    mk_run_result_release(&res);
    return rc;
}

/* Run a script built with printf-style arguments. */
static int psf(char **out, enum mk_hv_err *kind, struct mk_error **err, const char *fmt, ...)
    MK_PRINTF(4, 5);
static int psf(char **out, enum mk_hv_err *kind, struct mk_error **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *script = xvasprintf(fmt, ap);
    va_end(ap);
    int rc = ps(script, 0, out, kind, err);
    free(script);
    return rc;
}

static int hv_probe(const struct mk_machine_config *cfg, struct mk_error **err)
{
    (void)cfg;
    static const char script[] =
        "$ErrorActionPreference = 'Stop'\n"
        "$m = @(Get-Module -ListAvailable -Name Hyper-V).Count\n"
        "$p = New-Object Security.Principal.WindowsPrincipal("
        "[Security.Principal.WindowsIdentity]::GetCurrent())\n"
        "$a = $p.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)\n"
        "$h = $p.IsInRole([Security.Principal.SecurityIdentifier]'S-1-5-32-578')\n"
        "\"module=$m\"\n\"admin=$a\"\n\"hyperv-admins=$h\"";
    mk_autofree char *out = NULL;
    if (ps(script, 0, &out, NULL, err) < 0)
        return -1;
    struct mk_hv_probe p;
    mk_hv_parse_probe(out, &p);
    if (p.module_count <= 0) {
        mk_error_set(err, MK_EXIT_DRIVER, "the Hyper-V PowerShell module is not installed");
        return mk_error_hint(err, "enable Hyper-V as Administrator: Enable-WindowsOptionalFeature "
                                  "-Online -FeatureName Microsoft-Hyper-V -All, then reboot");
    }
    if (p.admin != 1 && p.hyperv_admin != 1) {
        mk_error_set(err, MK_EXIT_DRIVER, "managing Hyper-V needs Administrator rights or the "
                                          "\"Hyper-V Administrators\" group");
        return mk_error_hint(err, "run mkube from an elevated shell, or: Add-LocalGroupMember "
                                  "-SID S-1-5-32-578 -Member $env:USERNAME, then log in again");
    }
    return 0;
}

/* The switch to plug the VM into: --hyperv-switch, the Default Switch, or an External one. */
static int pick_switch(struct mk_machine *m, struct mk_error **err)
{
    mk_autofree char *out = NULL;
    if (ps("@(Hyper-V\\Get-VMSwitch | Select-Object Name,"
           "@{Name='Id';Expression={[string]$_.Id}},"
           "@{Name='SwitchType';Expression={[string]$_.SwitchType}}) | ConvertTo-Json -Compress",
           0, &out, NULL, err) < 0)
        return mk_error_wrap(err, "cannot list the Hyper-V virtual switches");
    struct mk_hv_switch sw[HV_MAX_SWITCHES];
    int n = mk_hv_parse_switches(out, sw, HV_MAX_SWITCHES);
    if (n < 0)
        return mk_error_set(err, MK_EXIT_DRIVER, "cannot read the list of Hyper-V switches");
    int i = mk_hv_choose_switch(sw, n, m->hyperv_switch, err);
    if (i < 0)
        return -1;
    free(m->hyperv_switch);
    m->hyperv_switch = xstrdup(sw[i].name);
    mk_debug(1, "Hyper-V switch for %s: %s (%s)", m->name, sw[i].name, sw[i].type);
    return 0;
}

/* Each forward is the guest port itself: the endpoint is the guest address. */
static void guest_port_forwards(struct mk_machine *m)
{
    for (unsigned i = 0; i < m->nforwards; i++)
        m->forwards[i].host_port = m->forwards[i].guest_port;
}

static int hv_remove(struct mk_machine *m, struct mk_error **err);

/* After a failed create: leave nothing half-made behind; returns -1. */
static int undo_create(struct mk_machine *m)
{
    struct mk_error *rerr = NULL;
    if (hv_remove(m, &rerr) < 0)
        mk_warn("cannot clean up the half-created Hyper-V machine mkube-%s: %s", m->name,
                rerr->msg);
    mk_error_free(rerr);
    return -1;
}

static int hv_create(struct mk_machine *m, const struct mk_machine_config *cfg,
                     struct mk_error **err)
{
    if (hv_probe(cfg, err) < 0 || pick_switch(m, err) < 0)
        return -1;
    guest_port_forwards(m);
    mk_autofree char *vm = vm_q(m);
    mk_autofree char *dir = mk_ps_quote(m->dir);
    mk_autofree char *sw = mk_ps_quote(m->hyperv_switch);
    mk_autofree char *iso = mk_ps_quote(m->iso_path);
    mk_autofree char *vhd = file_q(m, "disk.vhd");
    mk_autofree char *vhdx = file_q(m, "disk.vhdx");
    mk_autofree char *vhd_path = xasprintf("%s/disk.vhd", m->dir);
    unsigned long long mem = (unsigned long long)m->memory_mib;
    if (psf(NULL, NULL, err,
            "$ErrorActionPreference = 'Stop'\n"
            "Hyper-V\\New-VM -Name %s -Path %s -Generation 1 -MemoryStartupBytes %lluMB "
            "-BootDevice CD -SwitchName %s | Out-Null\n"
            "Hyper-V\\Set-VM -Name %s -CheckpointType Disabled\n"
            "Hyper-V\\Set-VMProcessor -VMName %s -Count %u\n"
            "Hyper-V\\Set-VMMemory -VMName %s -DynamicMemoryEnabled $false -StartupBytes %lluMB\n"
            "Hyper-V\\Set-VMDvdDrive -VMName %s -Path %s",
            vm, dir, mem, sw, vm, vm, m->cpus, vm, mem, vm, iso) < 0)
        return -1;
    uint64_t seed = m->disk_mib < HV_SEED_MIB ? m->disk_mib : HV_SEED_MIB;
    if (mk_vhd_create_fixed(vhd_path, seed, cfg->ssh_pubkey,
                            cfg->hostname ? cfg->hostname : m->name, err) < 0)
        return undo_create(m);
    mk_autofree char *resize =
        m->disk_mib > seed ? xasprintf("Hyper-V\\Resize-VHD -Path %s -SizeBytes %lluMB\n", vhdx,
                                       (unsigned long long)m->disk_mib)
                           : xstrdup("");
    mk_autofree char *disk_script = xasprintf(
        "$ErrorActionPreference = 'Stop'\n"
        "Hyper-V\\Convert-VHD -Path %s -DestinationPath %s -VHDType Dynamic -DeleteSource\n"
        "%s"
        "Hyper-V\\Add-VMHardDiskDrive -VMName %s -Path %s",
        vhd, vhdx, resize, vm, vhdx);
    if (ps(disk_script, HV_DISK_TIMEOUT_MS, NULL, NULL, err) < 0) {
        mk_error_wrap(err, "cannot make the data disk");
        return undo_create(m);
    }
    return 0;
}

/* The VM's state; *exists false when Hyper-V does not know it. */
static int vm_state(const struct mk_machine *m, bool *exists, enum mk_vm_state *st, char **raw,
                    struct mk_error **err)
{
    mk_autofree char *vm = vm_q(m);
    mk_autofree char *out = NULL;
    if (psf(&out, NULL, err,
            "$vm = Hyper-V\\Get-VM -Name %s -ErrorAction SilentlyContinue -ErrorVariable gerr\n"
            "if ($vm) { $vm | Select-Object Name,"
            "@{Name='State';Expression={[string]$_.State}} | ConvertTo-Json -Compress }\n"
            "elseif ($gerr -and \"$($gerr[0].CategoryInfo.Category)\" -ne 'InvalidArgument') "
            "{ throw $gerr[0] }",
            vm) < 0)
        return -1;
    if (mk_hv_parse_state(out, exists, st, raw) < 0)
        return mk_error_set(err, MK_EXIT_FAILURE, "cannot read the state of mkube-%s from \"%s\"",
                            m->name, out);
    return 0;
}

static int hv_state(struct mk_machine *m, enum mk_vm_state *st, struct mk_error **err)
{
    bool exists;
    if (vm_state(m, &exists, st, NULL, err) < 0)
        return -1;
    if (!exists)
        *st = MK_VM_NONEXISTENT;
    return 0;
}

static int hv_start(struct mk_machine *m, struct mk_error **err)
{
    /* mk_machine_refresh_ports may have moved them: they are guest ports here */
    guest_port_forwards(m);
    mk_autofree char *vm = vm_q(m);
    return psf(NULL, NULL, err, "Hyper-V\\Start-VM -Name %s", vm);
}

static int hv_kill(struct mk_machine *m, struct mk_error **err)
{
    bool exists;
    enum mk_vm_state st;
    mk_autofree char *raw = NULL;
    if (vm_state(m, &exists, &st, &raw, err) < 0)
        return -1;
    if (!exists || strcmp(raw, "Off") == 0)
        return 0;
    mk_autofree char *vm = vm_q(m);
    return psf(NULL, NULL, err, "Hyper-V\\Stop-VM -Name %s -TurnOff -Force", vm);
}

static int hv_stop(struct mk_machine *m, struct mk_error **err)
{
    bool exists;
    enum mk_vm_state st;
    mk_autofree char *raw = NULL;
    if (vm_state(m, &exists, &st, &raw, err) < 0)
        return -1;
    if (!exists || st == MK_VM_STOPPED)
        return 0;
    if (strcmp(raw, "Running") != 0) /* paused, starting...: no guest to ask */
        return hv_kill(m, err);
    /* the guest's shutdown integration service (hv_utils) powers it off */
    mk_autofree char *vm = vm_q(m);
    mk_autofree char *script = xasprintf("Hyper-V\\Stop-VM -Name %s -Force", vm);
    int timeout = mk_machine_stop_timeout();
    struct mk_error *serr = NULL;
    if (ps(script, timeout * 1000, NULL, NULL, &serr) == 0) {
        free(raw);
        raw = NULL;
        if (vm_state(m, &exists, &st, &raw, err) < 0)
            return -1;
        if (!exists || st == MK_VM_STOPPED)
            return 0;
    } else {
        mk_debug(1, "graceful stop of mkube-%s: %s", m->name, serr->msg);
        mk_error_free(serr);
    }
    mk_warn("machine \"%s\" did not power off within %d s: stopping it hard", m->name, timeout);
    return psf(NULL, NULL, err, "Hyper-V\\Stop-VM -Name %s -TurnOff -Force", vm);
}

static int hv_remove(struct mk_machine *m, struct mk_error **err)
{
    bool exists;
    enum mk_vm_state st;
    mk_autofree char *raw = NULL;
    if (vm_state(m, &exists, &st, &raw, err) < 0)
        return -1;
    if (exists) {
        mk_autofree char *vm = vm_q(m);
        if (strcmp(raw, "Off") != 0 &&
            psf(NULL, NULL, err, "Hyper-V\\Stop-VM -Name %s -TurnOff -Force", vm) < 0)
            return -1;
        enum mk_hv_err kind;
        struct mk_error *rerr = NULL;
        if (psf(NULL, &kind, &rerr, "Hyper-V\\Remove-VM -Name %s -Force", vm) < 0) {
            if (kind != MK_HV_ERR_NOT_FOUND) {
                *err = rerr;
                return -1;
            }
            mk_error_free(rerr);
        }
    }
    /* Remove-VM keeps the disks */
    static const char *const files[] = {"disk.vhdx", "disk.vhd"};
    for (size_t i = 0; i < MK_ARRAY_SIZE(files); i++) {
        mk_autofree char *p = xasprintf("%s/%s", m->dir, files[i]);
        if (unlink(p) < 0 && errno != ENOENT)
            return mk_error_errno(err, errno, "cannot delete %s", p);
    }
    return 0;
}

static int hv_endpoint(struct mk_machine *m, struct mk_endpoint *ep, struct mk_error **err)
{
    mk_autofree char *vm = vm_q(m);
    mk_autofree char *script =
        xasprintf("(Hyper-V\\Get-VMNetworkAdapter -VMName %s).IPAddresses", vm);
    int step = poll_ms() > 0 ? poll_ms() : 1000;
    int polls = HV_IP_TIMEOUT_S * 1000 / step;
    for (int i = 0; i < polls; i++) {
        mk_autofree char *out = NULL;
        if (ps(script, 0, &out, NULL, err) < 0)
            return -1;
        if (mk_hv_pick_ipv4(out, ep->host, sizeof(ep->host)) == 0) {
            snprintf(ep->guest_ip, sizeof(ep->guest_ip), "%s", ep->host);
            ep->ssh_port = MK_GUEST_SSH_PORT;
            ep->api_port = MK_GUEST_API_PORT;
            ep->docker_port = MK_GUEST_DOCKER_PORT;
            ep->ssh_user = "docker";
            return 0;
        }
        if (i == 0)
            mk_info("Waiting for the IP address of mkube-%s on switch \"%s\"", m->name,
                    m->hyperv_switch ? m->hyperv_switch : "?");
        sleep_ms(poll_ms());
    }
    mk_error_set(err, MK_EXIT_FAILURE, "machine \"%s\" reported no IPv4 address within %d s",
                 m->name, HV_IP_TIMEOUT_S);
    return mk_error_hint(err, "the guest reports its address through the Hyper-V KVP daemon "
                              "(hyperv-daemons); check that the switch gives addresses (DHCP)");
}

static int hv_forward(struct mk_machine *m, unsigned guest_port, unsigned *host_port,
                      struct mk_error **err)
{
    (void)err;
    m->forwards[m->nforwards++] = (struct mk_forward){guest_port, guest_port};
    *host_port = guest_port;
    return 0;
}

const struct mk_driver mk_driver_hyperv = {
    .name = "hyperv",
    .description = "Hyper-V through PowerShell (the guest's address on a virtual switch)",
    .caps = MK_DRV_CAP_GUEST_IP | MK_DRV_CAP_RUNTIME_FORWARD,
    .priv_size = 0,
    .probe = hv_probe,
    .create = hv_create,
    .start = hv_start,
    .stop = hv_stop,
    .kill = hv_kill,
    .remove = hv_remove,
    .state = hv_state,
    .endpoint = hv_endpoint,
    .forward = hv_forward,
};
