/* virtualbox.c - the VirtualBox driver: a VM "mkube-<name>" driven through
 * VBoxManage, every call through mk_run (so tests replay it).
 *
 * Layout: createvm --basefolder <dir> puts the settings in <dir>/mkube-<name>/;
 * the data disk is <dir>/disk.vdi, made from the boot2docker-style tar
 * (disk.h): a 64 MiB sparse raw image holding the tar, convertfromraw to VDI,
 * then modifymedium --resize to the wanted size (VirtualBox resizes VDI and
 * VHD only, not VMDK, hence VDI). The ISO is the DVD on SATA port 0, the data
 * disk port 1; the serial console goes to <dir>/console.log.
 *
 * Networking: NAT with forwards bound to 127.0.0.1 only - rules "ssh", "api",
 * "docker" for forwards[0..2] and "tcp-<guest port>" for NodePorts. Rules are
 * (re)written with `modifyvm --natpf1` before each start, so ports moved by
 * mk_machine_refresh_ports take effect, and added with `controlvm natpf1`
 * while the VM runs. The guest sees itself as 10.0.2.15.
 *
 * VBoxManage fails transiently while another process holds the machine's
 * session lock ("is already locked for a session", "object is not ready"):
 * such calls are retried. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../launcher/fsutil.h"
#include "../launcher/log.h"
#include "../launcher/run.h"
#include "disk.h"
#include "driver.h"
#include "vboxparse.h"

#define VBOX_TIMEOUT_MS 120000
#define VBOX_CONVERT_TIMEOUT_MS 600000
#define VBOX_RETRIES 6
#define VBOX_SEED_MIB 64 /* size of the raw image converted to VDI before the resize */
#define VBOX_GUEST_IP "10.0.2.15"
#define VBOX_MAX_ARGS 40

static const char *vbox_bin(void)
{
    const char *s = getenv("MKUBE_VBOXMANAGE");
    return s && *s ? s : "VBoxManage";
}

/* Pause between polls and retries: 1 s, or $MKUBE_DRIVER_POLL_MS. */
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

static char *vm_name(const struct mk_machine *m)
{
    return xasprintf("mkube-%s", m->name);
}

static char *machine_file(const struct mk_machine *m, const char *name)
{
    return xasprintf("%s/%s", m->dir, name);
}

static void hint_for(struct mk_error **err, enum mk_vbox_err kind)
{
    switch (kind) {
    case MK_VBOX_ERR_VMX_ROOT:
        mk_error_hint(err, "KVM holds VT-x: unload the kvm modules (sudo modprobe -r kvm_intel "
                           "kvm_amd kvm) or use --driver=libvirt");
        break;
    case MK_VBOX_ERR_NO_HWVIRT:
        mk_error_hint(err, "enable VT-x/AMD-V in the BIOS/UEFI setup (on Windows, turn off "
                           "Hyper-V and Virtual Machine Platform), or use --driver=hyperv or "
                           "--driver=qemu");
        break;
    case MK_VBOX_ERR_EXISTS:
        mk_error_hint(err, "remove the leftover machine with `mkube delete` (or VBoxManage "
                           "unregistervm <name> --delete), then retry");
        break;
    default:
        break;
    }
}

/* Run `VBoxManage args...`; args is NULL-terminated. Retries while the
 * machine is locked by another session. On failure *kind (if non-NULL) says
 * why; res (if non-NULL) keeps the last output. */
static int vbox_argv(const char *const *args, int timeout_ms, struct mk_run_result *res,
                     enum mk_vbox_err *kind, struct mk_error **err)
{
    const char *argv[VBOX_MAX_ARGS + 2];
    size_t n = 0;
    argv[n++] = vbox_bin();
    for (size_t i = 0; args[i] && n < VBOX_MAX_ARGS + 1; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    struct mk_run_result scratch;
    bool own = !res;
    if (own)
        res = &scratch;
    mk_run_result_init(res);
    struct mk_run_opts o = {
        .capture_stdout = true,
        .capture_stderr = true,
        .timeout_ms = timeout_ms ? timeout_ms : VBOX_TIMEOUT_MS,
    };
    enum mk_vbox_err k = MK_VBOX_ERR_OTHER;
    int rc = -1;
    for (int attempt = 0;; attempt++) {
        struct mk_error *rerr = NULL;
        if (mk_run(argv, &o, res, &rerr) < 0) {
            if (rerr && strstr(rerr->msg, "cannot run")) {
                mk_error_free(rerr);
                mk_error_set(err, MK_EXIT_DRIVER, "%s was not found in PATH", argv[0]);
                mk_error_hint(err, "install VirtualBox 6.1 or newer, or set MKUBE_VBOXMANAGE to "
                                   "the VBoxManage program");
            } else if (err && !*err) {
                *err = rerr;
            } else {
                mk_error_free(rerr);
            }
            goto cleanup;
        }
        if (res->status == 0) {
            rc = 0;
            goto cleanup;
        }
        k = mk_vbox_classify_error(mk_buf_str(&res->err));
        if (k != MK_VBOX_ERR_LOCKED || attempt + 1 >= VBOX_RETRIES)
            break;
        mk_debug(1, "VBoxManage %s: the machine is locked, retrying (%d)", args[0], attempt + 1);
        sleep_ms(poll_ms() / 2 * (attempt + 1));
        mk_buf_reset(&res->out);
        mk_buf_reset(&res->err);
    }
    {
        mk_autofree char *msg = mk_vbox_error_message(mk_buf_str(&res->err));
        if (msg)
            mk_error_set(err, k == MK_VBOX_ERR_VMX_ROOT || k == MK_VBOX_ERR_NO_HWVIRT
                                  ? MK_EXIT_DRIVER
                                  : MK_EXIT_FAILURE,
                         "VBoxManage %s failed: %s", args[0], msg);
        else
            mk_error_set(err, MK_EXIT_FAILURE, "VBoxManage %s exited with status %d", args[0],
                         res->status);
        hint_for(err, k);
    }
cleanup:
    if (kind)
        *kind = rc == 0 ? MK_VBOX_ERR_OTHER : k;
    if (own)
        mk_run_result_release(res);
    return rc;
}

/* vbox(res, kind, err, "arg", ..., NULL) */
static int vbox(struct mk_run_result *res, enum mk_vbox_err *kind, struct mk_error **err, ...)
{
    const char *args[VBOX_MAX_ARGS + 1];
    size_t n = 0;
    va_list ap;
    va_start(ap, err);
    for (const char *a = va_arg(ap, const char *); a && n < VBOX_MAX_ARGS;
         a = va_arg(ap, const char *))
        args[n++] = a;
    va_end(ap);
    args[n] = NULL;
    return vbox_argv(args, 0, res, kind, err);
}

/* `showvminfo --machinereadable`; *out NULL (and 0 returned) when VirtualBox
 * has no such machine. */
static int vm_info(const struct mk_machine *m, char **out, struct mk_error **err)
{
    mk_autofree char *name = vm_name(m);
    struct mk_run_result res;
    enum mk_vbox_err kind;
    struct mk_error *verr = NULL;
    *out = NULL;
    int rc = vbox(&res, &kind, &verr, "showvminfo", name, "--machinereadable", NULL);
    if (rc == 0) {
        *out = mk_buf_detach(&res.out);
    } else if (kind == MK_VBOX_ERR_NOT_FOUND) {
        mk_error_free(verr);
        rc = 0;
    } else {
        *err = verr;
    }
    mk_run_result_release(&res);
    return rc;
}

/* ---- probe ---- */

static bool read_flag(const char *path)
{
    struct mk_buf b = MK_BUF_INIT;
    struct mk_error *e = NULL;
    bool yes = mk_read_file(path, &b, 64, NULL, &e) == 0 && (b.buf[0] == 'Y' || b.buf[0] == '1');
    mk_error_free(e);
    mk_buf_release(&b);
    return yes;
}

/* Linux >= 6.12 turns VT-x on when kvm_intel/kvm_amd load
 * (kvm.enable_virt_at_load), and VirtualBox then cannot start any VM. Older
 * kernels only hold it while a KVM guest runs; startvm's error says so then.
 * $MKUBE_SYSFS_ROOT replaces /sys (tests). */
static bool kvm_holds_vtx(void)
{
    const char *root = getenv("MKUBE_SYSFS_ROOT");
    if (!root || !*root)
        root = "/sys";
    mk_autofree char *intel = xasprintf("%s/module/kvm_intel", root);
    mk_autofree char *amd = xasprintf("%s/module/kvm_amd", root);
    mk_autofree char *param = xasprintf("%s/module/kvm/parameters/enable_virt_at_load", root);
    return (mk_path_exists(intel) || mk_path_exists(amd)) && read_flag(param);
}

static int vbox_probe(const struct mk_machine_config *cfg, struct mk_error **err)
{
    (void)cfg;
    struct mk_run_result res;
    struct mk_vbox_version v;
    struct mk_error *herr = NULL;
    int rc = -1;
    if (vbox(&res, NULL, err, "--version", NULL) < 0)
        goto cleanup;
    if (mk_vbox_parse_version(mk_buf_str(&res.out), &v) < 0) {
        mk_buf_rtrim(&res.out);
        mk_error_set(err, MK_EXIT_DRIVER, "cannot read the VirtualBox version from \"%s\"",
                     mk_buf_str(&res.out));
        goto cleanup;
    }
    if (!mk_vbox_version_supported(&v)) {
        mk_error_set(err, MK_EXIT_DRIVER, "VirtualBox %u.%u.%u is too old: mkube needs %d.%d or newer",
                     v.major, v.minor, v.patch, MK_VBOX_MIN_MAJOR, MK_VBOX_MIN_MINOR);
        mk_error_hint(err, "upgrade VirtualBox (https://www.virtualbox.org/wiki/Downloads)");
        goto cleanup;
    }
    mk_run_result_release(&res);
    if (vbox(&res, NULL, &herr, "list", "hostinfo", NULL) == 0 &&
        mk_vbox_hostinfo_hwvirt(mk_buf_str(&res.out)) == 0) {
        mk_error_set(err, MK_EXIT_DRIVER, "VirtualBox finds no VT-x/AMD-V on this CPU");
        hint_for(err, MK_VBOX_ERR_NO_HWVIRT);
        goto cleanup;
    }
    if (herr)
        mk_debug(1, "VBoxManage list hostinfo: %s", herr->msg);
    if (kvm_holds_vtx()) {
        mk_error_set(err, MK_EXIT_DRIVER,
                     "the kvm kernel modules hold VT-x/AMD-V, so VirtualBox cannot start machines");
        hint_for(err, MK_VBOX_ERR_VMX_ROOT);
        goto cleanup;
    }
    mk_debug(1, "VirtualBox %u.%u.%u r%u", v.major, v.minor, v.patch, v.revision);
    rc = 0;
cleanup:
    mk_error_free(herr);
    mk_run_result_release(&res);
    return rc;
}

/* ---- NAT rules ---- */

static char *rule_name(unsigned idx, unsigned guest_port)
{
    static const char *const fixed[] = {"ssh", "api", "docker"};
    return idx < MK_ARRAY_SIZE(fixed) ? xstrdup(fixed[idx]) : xasprintf("tcp-%u", guest_port);
}

/* Add the rule, at runtime (controlvm natpf1) or in the settings (modifyvm --natpf1). */
static int rule_add(const char *name, const char *rule, unsigned host, unsigned guest,
                    bool runtime, struct mk_error **err)
{
    mk_autofree char *spec = xasprintf("%s,tcp,127.0.0.1,%u,,%u", rule, host, guest);
    if (runtime)
        return vbox(NULL, NULL, err, "controlvm", name, "natpf1", spec, NULL);
    return vbox(NULL, NULL, err, "modifyvm", name, "--natpf1", spec, NULL);
}

static int rule_delete(const char *name, const char *rule, bool runtime, struct mk_error **err)
{
    if (runtime)
        return vbox(NULL, NULL, err, "controlvm", name, "natpf1", "delete", rule, NULL);
    return vbox(NULL, NULL, err, "modifyvm", name, "--natpf1", "delete", rule, NULL);
}

/* Make the VM's rules match m->forwards (info: its showvminfo output). */
static int sync_forwards(const struct mk_machine *m, const char *info, bool runtime,
                         struct mk_error **err)
{
    mk_autofree char *name = vm_name(m);
    struct mk_vbox_rule have[MK_MAX_FORWARDS * 2];
    int nhave = mk_vbox_parse_forwards(info, have, (int)MK_ARRAY_SIZE(have));
    for (unsigned i = 0; i < m->nforwards; i++) {
        const struct mk_forward *f = &m->forwards[i];
        mk_autofree char *rule = rule_name(i, f->guest_port);
        const struct mk_vbox_rule *r = NULL;
        for (int j = 0; j < nhave && !r; j++)
            if (strcmp(have[j].name, rule) == 0)
                r = &have[j];
        if (r && r->host_port == f->host_port && r->guest_port == f->guest_port &&
            strcmp(r->host_ip, "127.0.0.1") == 0 && strcmp(r->proto, "tcp") == 0)
            continue;
        if (r && rule_delete(name, rule, runtime, err) < 0)
            return -1;
        if (rule_add(name, rule, f->host_port, f->guest_port, runtime, err) < 0)
            return -1;
    }
    return 0;
}

/* ---- driver operations ---- */

static int make_disk(const struct mk_machine *m, const struct mk_machine_config *cfg,
                     const char *vdi, struct mk_error **err)
{
    mk_autofree char *raw = machine_file(m, "disk.raw.tmp");
    uint64_t seed = m->disk_mib < VBOX_SEED_MIB ? m->disk_mib : VBOX_SEED_MIB;
    if (mk_disk_create_raw(raw, seed, cfg->ssh_pubkey, cfg->hostname ? cfg->hostname : m->name,
                           err) < 0)
        return -1;
    const char *conv[] = {"convertfromraw", raw, vdi, "--format", "VDI", NULL};
    int rc = vbox_argv(conv, VBOX_CONVERT_TIMEOUT_MS, NULL, NULL, err);
    unlink(raw);
    if (rc < 0)
        return mk_error_wrap(err, "cannot make the data disk %s", vdi);
    if (m->disk_mib > seed) {
        char size[32];
        snprintf(size, sizeof(size), "%llu", (unsigned long long)m->disk_mib);
        if (vbox(NULL, NULL, err, "modifymedium", "disk", vdi, "--resize", size, NULL) < 0)
            return mk_error_wrap(err, "cannot resize the data disk %s", vdi);
    }
    return 0;
}

static int define_vm(struct mk_machine *m, const struct mk_machine_config *cfg, const char *name,
                     struct mk_error **err)
{
    char cpus[16], mem[32];
    snprintf(cpus, sizeof(cpus), "%u", m->cpus);
    snprintf(mem, sizeof(mem), "%llu", (unsigned long long)m->memory_mib);
    mk_autofree char *console = mk_machine_console_path(m);
    mk_autofree char *vdi = machine_file(m, "disk.vdi");
    if (vbox(NULL, NULL, err, "modifyvm", name, "--firmware", "bios", "--cpus", cpus, "--memory",
             mem, "--acpi", "on", "--ioapic", "on", "--rtcuseutc", "on", "--boot1", "dvd",
             "--boot2", "disk", "--boot3", "none", "--boot4", "none", "--nic1", "nat",
             "--nictype1", "virtio", "--natdnshostresolver1", "on", "--uart1", "0x3F8", "4",
             "--uartmode1", "file", console, NULL) < 0)
        return -1;
    for (unsigned i = 0; i < m->nforwards; i++) {
        mk_autofree char *rule = rule_name(i, m->forwards[i].guest_port);
        if (rule_add(name, rule, m->forwards[i].host_port, m->forwards[i].guest_port, false,
                     err) < 0)
            return -1;
    }
    if (make_disk(m, cfg, vdi, err) < 0)
        return -1;
    if (vbox(NULL, NULL, err, "storagectl", name, "--name", "SATA", "--add", "sata",
             "--controller", "IntelAhci", "--portcount", "2", "--hostiocache", "on", "--bootable",
             "on", NULL) < 0 ||
        vbox(NULL, NULL, err, "storageattach", name, "--storagectl", "SATA", "--port", "0",
             "--device", "0", "--type", "dvddrive", "--medium", m->iso_path, NULL) < 0 ||
        vbox(NULL, NULL, err, "storageattach", name, "--storagectl", "SATA", "--port", "1",
             "--device", "0", "--type", "hdd", "--medium", vdi, NULL) < 0)
        return -1;
    return 0;
}

static int vbox_remove(struct mk_machine *m, struct mk_error **err);

static int vbox_create(struct mk_machine *m, const struct mk_machine_config *cfg,
                       struct mk_error **err)
{
    if (vbox_probe(cfg, err) < 0)
        return -1;
    mk_autofree char *name = vm_name(m);
    enum mk_vbox_err kind;
    if (vbox(NULL, &kind, err, "createvm", "--name", name, "--ostype", "Linux26_64",
             "--register", "--basefolder", m->dir, NULL) < 0)
        return -1;
    if (define_vm(m, cfg, name, err) == 0)
        return 0;
    /* leave nothing half-made behind; the first error is the one to report */
    struct mk_error *rerr = NULL;
    if (vbox_remove(m, &rerr) < 0)
        mk_warn("cannot clean up the half-created VirtualBox machine %s: %s", name, rerr->msg);
    mk_error_free(rerr);
    return -1;
}

static int vbox_start(struct mk_machine *m, struct mk_error **err)
{
    mk_autofree char *name = vm_name(m);
    mk_autofree char *info = NULL;
    mk_autofree char *raw = NULL;
    enum mk_vm_state st;
    if (vm_info(m, &info, err) < 0)
        return -1;
    if (!info) {
        mk_error_set(err, MK_EXIT_FAILURE, "VirtualBox has no machine named %s", name);
        return mk_error_hint(err, "run `mkube delete`, then `mkube start` to create it again");
    }
    if (mk_vbox_parse_state(info, &st, &raw) < 0)
        return mk_error_set(err, MK_EXIT_FAILURE, "cannot read the state of %s", name);
    /* a saved VM keeps its settings locked until it runs: fix its rules at runtime */
    bool saved = strcmp(raw, "saved") == 0;
    if (!saved && sync_forwards(m, info, false, err) < 0)
        return -1;
    enum mk_vbox_err kind;
    if (vbox(NULL, &kind, err, "startvm", name, "--type", "headless", NULL) < 0)
        return -1;
    if (saved && sync_forwards(m, info, true, err) < 0)
        return -1;
    return 0;
}

static int vbox_kill(struct mk_machine *m, struct mk_error **err)
{
    mk_autofree char *name = vm_name(m);
    mk_autofree char *info = NULL;
    mk_autofree char *raw = NULL;
    enum mk_vm_state st;
    if (vm_info(m, &info, err) < 0)
        return -1;
    if (!info || mk_vbox_parse_state(info, &st, &raw) < 0 || !mk_vbox_state_is_live(raw))
        return 0;
    enum mk_vbox_err kind;
    struct mk_error *perr = NULL;
    if (vbox(NULL, &kind, &perr, "controlvm", name, "poweroff", NULL) < 0) {
        if (kind == MK_VBOX_ERR_NOT_RUNNING || kind == MK_VBOX_ERR_NOT_FOUND) {
            mk_error_free(perr);
            return 0;
        }
        *err = perr;
        return -1;
    }
    return 0;
}

static int vbox_stop(struct mk_machine *m, struct mk_error **err)
{
    mk_autofree char *name = vm_name(m);
    mk_autofree char *info = NULL;
    mk_autofree char *raw = NULL;
    enum mk_vm_state st;
    if (vm_info(m, &info, err) < 0)
        return -1;
    if (!info || mk_vbox_parse_state(info, &st, &raw) < 0 || !mk_vbox_state_is_live(raw))
        return 0;
    if (strcmp(raw, "running") != 0) /* paused, stuck...: no ACPI to talk to */
        return vbox_kill(m, err);
    enum mk_vbox_err kind;
    struct mk_error *aerr = NULL;
    if (vbox(NULL, &kind, &aerr, "controlvm", name, "acpipowerbutton", NULL) < 0) {
        bool gone = kind == MK_VBOX_ERR_NOT_RUNNING || kind == MK_VBOX_ERR_NOT_FOUND;
        if (!gone)
            mk_debug(1, "graceful stop of %s: %s", name, aerr->msg);
        mk_error_free(aerr);
        return gone ? 0 : vbox_kill(m, err);
    }
    int timeout = mk_machine_stop_timeout();
    int step = poll_ms() > 0 ? poll_ms() : 1000;
    int polls = timeout * 1000 / step;
    for (int i = 0; i < polls; i++) {
        sleep_ms(poll_ms());
        free(info);
        free(raw);
        info = raw = NULL;
        if (vm_info(m, &info, err) < 0)
            return -1;
        if (!info || mk_vbox_parse_state(info, &st, &raw) < 0 || !mk_vbox_state_is_live(raw))
            return 0;
    }
    mk_warn("machine \"%s\" did not power off within %d s: stopping it hard", m->name, timeout);
    return vbox_kill(m, err);
}

static int vbox_remove(struct mk_machine *m, struct mk_error **err)
{
    mk_autofree char *name = vm_name(m);
    mk_autofree char *info = NULL;
    if (vm_info(m, &info, err) < 0)
        return -1;
    if (info) {
        if (vbox_kill(m, err) < 0)
            return -1;
        enum mk_vbox_err kind;
        struct mk_error *uerr = NULL;
        if (vbox(NULL, &kind, &uerr, "unregistervm", name, "--delete", NULL) < 0) {
            if (kind != MK_VBOX_ERR_NOT_FOUND) {
                *err = uerr;
                return -1;
            }
            mk_error_free(uerr);
        }
    }
    /* a disk made but never attached (half-created machine) is still known to VirtualBox */
    mk_autofree char *vdi = machine_file(m, "disk.vdi");
    if (mk_path_exists(vdi)) {
        struct mk_error *cerr = NULL;
        if (vbox(NULL, NULL, &cerr, "closemedium", "disk", vdi, "--delete", NULL) < 0)
            mk_debug(1, "closemedium %s: %s", vdi, cerr->msg);
        mk_error_free(cerr);
        if (unlink(vdi) < 0 && errno != ENOENT)
            return mk_error_errno(err, errno, "cannot delete %s", vdi);
    }
    mk_autofree char *raw = machine_file(m, "disk.raw.tmp");
    mk_autofree char *console = mk_machine_console_path(m);
    unlink(raw);
    unlink(console);
    return 0;
}

static int vbox_state(struct mk_machine *m, enum mk_vm_state *st, struct mk_error **err)
{
    mk_autofree char *info = NULL;
    if (vm_info(m, &info, err) < 0)
        return -1;
    if (!info) {
        *st = MK_VM_NONEXISTENT;
        return 0;
    }
    if (mk_vbox_parse_state(info, st, NULL) < 0)
        return mk_error_set(err, MK_EXIT_FAILURE,
                            "VBoxManage showvminfo printed no VMState for machine \"%s\"", m->name);
    return 0;
}

static int vbox_endpoint(struct mk_machine *m, struct mk_endpoint *ep, struct mk_error **err)
{
    return mk_machine_forwarded_endpoint(m, VBOX_GUEST_IP, ep, err);
}

static int vbox_forward(struct mk_machine *m, unsigned guest_port, unsigned *host_port,
                        struct mk_error **err)
{
    unsigned host = *host_port;
    if (mk_machine_forward_host_port(m, &host, err) < 0)
        return -1;
    mk_autofree char *info = NULL;
    mk_autofree char *raw = NULL;
    enum mk_vm_state st;
    if (vm_info(m, &info, err) < 0)
        return -1;
    /* a stopped machine only records it: start writes every saved rule */
    if (info && mk_vbox_parse_state(info, &st, &raw) == 0 && mk_vbox_state_is_live(raw)) {
        mk_autofree char *name = vm_name(m);
        mk_autofree char *rule = rule_name(m->nforwards, guest_port);
        if (rule_add(name, rule, host, guest_port, true, err) < 0)
            return -1;
    }
    m->forwards[m->nforwards++] = (struct mk_forward){guest_port, host};
    *host_port = host;
    return 0;
}

const struct mk_driver mk_driver_virtualbox = {
    .name = "virtualbox",
    .description = "VirtualBox through VBoxManage (NAT with 127.0.0.1 forwards)",
    .caps = MK_DRV_CAP_PORT_FORWARD | MK_DRV_CAP_RUNTIME_FORWARD,
    .priv_size = 0,
    .probe = vbox_probe,
    .create = vbox_create,
    .start = vbox_start,
    .stop = vbox_stop,
    .kill = vbox_kill,
    .remove = vbox_remove,
    .state = vbox_state,
    .endpoint = vbox_endpoint,
    .forward = vbox_forward,
};
