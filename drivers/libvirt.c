/* libvirt.c - the libvirt driver: a persistent domain "mkube-<name>" run by
 * libvirtd's QEMU, KVM when it really works (accel.h), else TCG.
 *
 * Networking is QEMU user-mode (slirp): an <interface type='user'> whose
 * netdev gets every forward - SSH/API/dockerd and the saved NodePorts - right
 * after each start with HMP hostfwd_add through virDomainQemuMonitorCommand,
 * bound to 127.0.0.1 only. (libvirt 9.0's own user-mode port forwarding needs
 * the passt backend, which Debian's libvirt rejects; a <qemu:commandline>
 * netdev works too but collides with libvirt's PCI slot allocation and taints
 * the domain.) QEMU forgets runtime forwards when it exits, so they are added
 * again at every start. The definition itself holds no ports, so it is
 * written once at create (a define can be slow: libvirtd re-probes QEMU's
 * capabilities when /dev/kvm is not usable by its QEMU user, see
 * scripts/install-deps.sh) and again only if it went missing.
 *
 * The serial console goes to <dir>/console.log. The file is created by mkube
 * (as the invoking user, 0600) before each start and attached with
 * append='on', so it stays the user's file whoever opens it. */
#include "libvirt.h"

#include <errno.h>
#include <fcntl.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../launcher/buf.h"
#include "../launcher/fsutil.h"
#include "../launcher/log.h"
#include "../launcher/run.h"
#include "accel.h"
#include "disk.h"

/* the NIC's user alias; libvirt names its QEMU netdev "host" + alias */
#define LV_NET_ALIAS "ua-mk0"
#define LV_NETDEV "host" LV_NET_ALIAS

/* machine folder marker while a define is in flight, and how long one may take
 * (about a minute where libvirtd re-probes QEMU at each capabilities lookup:
 * a root-only /dev/kvm; well under a second otherwise) */
#define DEFINING_MARKER "libvirt-defining"
#define DEFINE_MAX_SECONDS 150

struct lv_priv {
    virConnectPtr conn;
};

static void lv_silent(void *data, virErrorPtr e)
{
    (void)data;
    (void)e; /* errors are reported through mk_error, not printed by libvirt */
}

static const char *lv_msg(void)
{
    const char *s = virGetLastErrorMessage();
    return s ? s : "unknown libvirt error";
}

static char *machine_file(const struct mk_machine *m, const char *name)
{
    return xasprintf("%s/%s", m->dir, name);
}

static const char *uri_or_default(const char *uri)
{
    return uri ? uri : MK_LIBVIRT_DEFAULT_URI;
}

static const char *machine_uri(const struct mk_machine *m)
{
    return uri_or_default(m ? m->libvirt_uri : NULL);
}

static bool uri_is_system(const char *uri)
{
    return strstr(uri, "/system") != NULL;
}

static virConnectPtr lv_open(const char *uri, struct mk_error **err)
{
    virSetErrorFunc(NULL, lv_silent);
    virConnectPtr c = virConnectOpen(uri);
    if (c)
        return c;
    virErrorPtr e = virGetLastError();
    const char *msg = lv_msg();
    int code = e ? e->code : 0;
    mk_error_set(err, MK_EXIT_DRIVER, "cannot connect to libvirt at %s: %s", uri, msg);
    if (strstr(msg, "ermission denied") || code == VIR_ERR_AUTH_FAILED ||
        code == VIR_ERR_AUTH_UNAVAILABLE)
        mk_error_hint(err, "add yourself to the libvirt group (sudo usermod -aG libvirt $USER, "
                           "then log in again), or use --libvirt-uri=qemu:///session");
    else
        mk_error_hint(err, "start libvirtd (sudo systemctl start libvirtd, or libvirtd -d)");
    return NULL;
}

static virConnectPtr lv_conn(struct mk_machine *m, struct mk_error **err)
{
    struct lv_priv *p = m->priv;
    if (!p->conn)
        p->conn = lv_open(machine_uri(m), err);
    return p->conn;
}

static void lv_release(struct mk_machine *m)
{
    struct lv_priv *p = m->priv;
    if (p && p->conn) {
        virConnectClose(p->conn);
        p->conn = NULL;
    }
}

static int lv_probe(const struct mk_machine_config *cfg, struct mk_error **err)
{
    virConnectPtr c = lv_open(uri_or_default(cfg ? cfg->libvirt_uri : NULL), err);
    if (!c)
        return -1;
    virConnectClose(c);
    return 0;
}

/* ---- the domain XML ---- */

static void xml_attr(struct mk_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            mk_buf_adds(b, "&amp;");
            break;
        case '<':
            mk_buf_adds(b, "&lt;");
            break;
        case '>':
            mk_buf_adds(b, "&gt;");
            break;
        case '\'':
            mk_buf_adds(b, "&apos;");
            break;
        case '"':
            mk_buf_adds(b, "&quot;");
            break;
        default:
            mk_buf_add(b, s, 1);
        }
    }
}

/* before, then value XML-escaped, then after */
static void xml_line(struct mk_buf *b, const char *before, const char *value, const char *after)
{
    mk_buf_adds(b, before);
    xml_attr(b, value);
    mk_buf_adds(b, after);
}

char *mk_libvirt_domain_name(const struct mk_machine *m)
{
    return xasprintf("mkube-%s", m->name);
}

char *mk_libvirt_domain_xml(const struct mk_machine *m, const struct mk_libvirt_xml_opts *o)
{
    struct mk_buf b = MK_BUF_INIT;
    mk_autofree char *name = mk_libvirt_domain_name(m);
    mk_autofree char *disk = mk_machine_disk_path(m);
    mk_autofree char *console = mk_machine_console_path(m);
    bool kvm = m->accel == MK_ACCEL_KVM;
    mk_buf_addf(&b, "<domain type='%s'>\n", kvm ? "kvm" : "qemu");
    xml_line(&b, "  <name>", name, "</name>\n");
    if (o->uuid)
        xml_line(&b, "  <uuid>", o->uuid, "</uuid>\n");
    xml_line(&b, "  <description>mkube machine ", m->name,
             " (managed by mkube: created, started and deleted with it)</description>\n");
    mk_buf_addf(&b, "  <memory unit='MiB'>%llu</memory>\n", (unsigned long long)m->memory_mib);
    mk_buf_addf(&b, "  <vcpu>%u</vcpu>\n", m->cpus);
    mk_buf_adds(&b, "  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n");
    if (m->kernel_path) {
        xml_line(&b, "    <kernel>", m->kernel_path, "</kernel>\n");
        if (m->initrd_path)
            xml_line(&b, "    <initrd>", m->initrd_path, "</initrd>\n");
        mk_buf_adds(&b, "    <cmdline>console=ttyS0,115200</cmdline>\n");
    } else {
        mk_buf_adds(&b, "    <boot dev='cdrom'/>\n");
    }
    mk_buf_adds(&b, "  </os>\n  <features>\n    <acpi/>\n    <apic/>\n  </features>\n");
    /* "maximum": all the accelerator offers; TCG rejects host-passthrough */
    mk_buf_adds(&b, "  <cpu mode='maximum' check='none'/>\n");
    mk_buf_adds(&b, "  <clock offset='utc'/>\n"
                    "  <on_poweroff>destroy</on_poweroff>\n"
                    "  <on_reboot>restart</on_reboot>\n"
                    "  <on_crash>destroy</on_crash>\n"
                    "  <devices>\n");
    mk_buf_adds(&b, "    <disk type='file' device='cdrom'>\n"
                    "      <driver name='qemu' type='raw'/>\n");
    xml_line(&b, "      <source file='", m->iso_path, "'/>\n");
    mk_buf_adds(&b, "      <target dev='hdc' bus='ide'/>\n"
                    "      <readonly/>\n"
                    "    </disk>\n"
                    "    <disk type='file' device='disk'>\n"
                    "      <driver name='qemu' type='qcow2'/>\n");
    xml_line(&b, "      <source file='", disk, "'/>\n");
    mk_buf_adds(&b, "      <target dev='vda' bus='virtio'/>\n"
                    "    </disk>\n"
                    "    <serial type='file'>\n");
    xml_line(&b, "      <source path='", console, "' append='on'/>\n");
    mk_buf_adds(&b, "      <target port='0'/>\n"
                    "    </serial>\n"
                    "    <rng model='virtio'>\n"
                    "      <backend model='random'>/dev/urandom</backend>\n"
                    "    </rng>\n"
                    "    <memballoon model='none'/>\n"
                    "    <interface type='user'>\n"
                    "      <model type='virtio'/>\n"
                    "      <alias name='" LV_NET_ALIAS "'/>\n"
                    "    </interface>\n"
                    "  </devices>\n");
    if (o->system)
        mk_buf_addf(&b,
                    "  <seclabel type='static' model='dac' relabel='no'>\n"
                    "    <label>+%u:+%u</label>\n"
                    "  </seclabel>\n",
                    (unsigned)o->uid, (unsigned)o->gid);
    mk_buf_adds(&b, "</domain>\n");
    return mk_buf_detach(&b);
}

/* ---- helpers ---- */

static virDomainPtr lv_lookup(struct mk_machine *m, bool *missing, struct mk_error **err)
{
    *missing = false;
    virConnectPtr c = lv_conn(m, err);
    if (!c)
        return NULL;
    mk_autofree char *name = mk_libvirt_domain_name(m);
    virDomainPtr d = virDomainLookupByName(c, name);
    if (!d) {
        virErrorPtr e = virGetLastError();
        if (e && e->code == VIR_ERR_NO_DOMAIN)
            *missing = true;
        else
            mk_error_set(err, MK_EXIT_DRIVER, "cannot look up domain %s: %s", name, lv_msg());
    }
    return d;
}

static int lv_define(struct mk_machine *m, struct mk_error **err)
{
    virConnectPtr c = lv_conn(m, err);
    if (!c)
        return -1;
    struct mk_libvirt_xml_opts o = {.system = uri_is_system(machine_uri(m)),
                                    .uid = getuid(),
                                    .gid = getgid()};
    /* redefining under the same name must keep the UUID */
    char uuid[VIR_UUID_STRING_BUFLEN];
    mk_autofree char *name = mk_libvirt_domain_name(m);
    virDomainPtr old = virDomainLookupByName(c, name);
    if (old && virDomainGetUUIDString(old, uuid) == 0)
        o.uuid = uuid;
    if (old)
        virDomainFree(old);
    mk_autofree char *xml = mk_libvirt_domain_xml(m, &o);
    mk_debug(3, "domain XML:\n%s", xml);
    /* libvirtd finishes a define even when we die meanwhile: the marker tells
     * remove that a domain may still appear */
    mk_autofree char *marker = machine_file(m, DEFINING_MARKER);
    if (mk_write_file_atomic(marker, "", 0, 0600, err) < 0)
        return -1;
    virDomainPtr d = virDomainDefineXML(c, xml);
    if (!d) {
        mk_error_set(err, MK_EXIT_DRIVER, "cannot define the libvirt domain: %s", lv_msg());
        unlink(marker);
        return -1;
    }
    virDomainFree(d);
    unlink(marker);
    return 0;
}

/* After a create killed while libvirtd was defining: wait (bounded) for the
 * define to land so that remove can undefine it. */
static virDomainPtr wait_inflight_define(struct mk_machine *m)
{
    mk_autofree char *marker = machine_file(m, DEFINING_MARKER);
    struct stat st;
    if (stat(marker, &st) < 0)
        return NULL;
    mk_autofree char *name = mk_libvirt_domain_name(m);
    struct mk_error *e = NULL;
    virConnectPtr c = lv_conn(m, &e);
    mk_error_free(e);
    if (!c)
        return NULL;
    time_t until = st.st_mtime + DEFINE_MAX_SECONDS;
    if (time(NULL) < until)
        mk_info("a create of machine \"%s\" was interrupted while defining its domain: waiting "
                "up to %ld s for libvirtd to finish it",
                m->name, (long)(until - time(NULL)));
    virDomainPtr d = NULL;
    while (!(d = virDomainLookupByName(c, name)) && time(NULL) < until) {
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
    }
    return d;
}

static int dom_state(virDomainPtr d, int *state, struct mk_error **err)
{
    int reason;
    if (virDomainGetState(d, state, &reason, 0) < 0)
        return mk_error_set(err, MK_EXIT_DRIVER, "cannot get the domain state: %s", lv_msg());
    return 0;
}

static int hmp(virDomainPtr d, const char *cmd, struct mk_error **err)
{
    char *out = NULL;
    if (virDomainQemuMonitorCommand(d, cmd, &out, VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP) < 0)
        return mk_error_set(err, MK_EXIT_DRIVER, "QEMU monitor command \"%s\" failed: %s", cmd,
                            lv_msg());
    int rc = 0;
    size_t n = out ? strlen(out) : 0;
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    if (n) /* HMP says nothing on success */
        rc = mk_error_set(err, MK_EXIT_FAILURE, "QEMU monitor command \"%s\" failed: %s", cmd,
                          out);
    free(out);
    return rc;
}

static int hostfwd_add(virDomainPtr d, unsigned host, unsigned guest, struct mk_error **err)
{
    mk_autofree char *cmd =
        xasprintf("hostfwd_add " LV_NETDEV " tcp:127.0.0.1:%u-:%u", host, guest);
    return hmp(d, cmd, err);
}

/* ---- driver operations ---- */

static int lv_create(struct mk_machine *m, const struct mk_machine_config *cfg,
                     struct mk_error **err)
{
    if (!mk_run_have("qemu-img")) {
        mk_error_set(err, MK_EXIT_DRIVER, "qemu-img was not found in PATH");
        return mk_error_hint(err, "install qemu-utils (apt-get install qemu-utils)");
    }
    bool missing;
    virDomainPtr d = lv_lookup(m, &missing, err);
    if (!d && !missing)
        return -1;
    if (d) {
        int st = 0;
        int r = dom_state(d, &st, err);
        virDomainFree(d);
        if (r < 0)
            return -1;
        if (st != VIR_DOMAIN_SHUTOFF) {
            mk_autofree char *name = mk_libvirt_domain_name(m);
            mk_error_set(err, MK_EXIT_DRIVER, "a running libvirt domain named %s already exists",
                         name);
            return mk_error_hint(err, "delete it first (mkube delete, or virsh destroy and "
                                      "virsh undefine %s)", name);
        }
    }
    if (mk_accel_resolve(m->cache_dir, m->kernel_path, cfg->accel, &m->accel, err) < 0)
        return -1;
    mk_autofree char *disk = mk_machine_disk_path(m);
    if (!mk_path_exists(disk) &&
        mk_disk_create(disk, m->disk_mib, cfg->ssh_pubkey, cfg->hostname ? cfg->hostname : m->name,
                       err) < 0)
        return -1;
    return lv_define(m, err);
}

static int lv_start(struct mk_machine *m, struct mk_error **err)
{
    if (m->nforwards < 3)
        return mk_error_set(err, MK_EXIT_CONFIG, "machine \"%s\" lacks its SSH/API/docker forwards",
                            m->name);
    mk_autofree char *disk = mk_machine_disk_path(m);
    if (!mk_path_exists(disk))
        return mk_error_set(err, MK_EXIT_FAILURE, "the data disk %s is missing", disk);
    mk_autofree char *console = mk_machine_console_path(m);
    int fd = open(console, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return mk_error_errno(err, errno, "cannot create %s", console);
    close(fd);
    bool missing;
    virDomainPtr d = lv_lookup(m, &missing, err);
    if (!d && missing) {
        mk_warn("the libvirt domain of machine \"%s\" went missing: defining it again", m->name);
        if (lv_define(m, err) < 0)
            return -1;
        d = lv_lookup(m, &missing, err);
    }
    if (!d)
        return missing ? mk_error_set(err, MK_EXIT_DRIVER, "the domain vanished after defining it")
                       : -1;
    int rc = -1;
    if (virDomainCreate(d) < 0) {
        mk_error_set(err, MK_EXIT_DRIVER, "cannot start the libvirt domain: %s", lv_msg());
        goto cleanup;
    }
    /* QEMU starts without forwards: add them all (saved ones too) */
    for (unsigned i = 0; i < m->nforwards; i++) {
        if (hostfwd_add(d, m->forwards[i].host_port, m->forwards[i].guest_port, err) < 0) {
            virDomainDestroy(d);
            goto cleanup;
        }
    }
    rc = 0;
cleanup:
    virDomainFree(d);
    return rc;
}

static int lv_kill(struct mk_machine *m, struct mk_error **err)
{
    bool missing;
    virDomainPtr d = lv_lookup(m, &missing, err);
    if (!d)
        return missing ? 0 : -1;
    int rc = 0;
    if (virDomainIsActive(d) == 1 && virDomainDestroy(d) < 0 && virDomainIsActive(d) == 1)
        rc = mk_error_set(err, MK_EXIT_DRIVER, "cannot destroy the libvirt domain: %s", lv_msg());
    virDomainFree(d);
    return rc;
}

static int lv_stop(struct mk_machine *m, struct mk_error **err)
{
    bool missing;
    virDomainPtr d = lv_lookup(m, &missing, err);
    if (!d)
        return missing ? 0 : -1;
    int rc = -1, st = 0;
    if (dom_state(d, &st, err) < 0)
        goto cleanup;
    if (st != VIR_DOMAIN_SHUTOFF) {
        int timeout = mk_machine_stop_timeout();
        bool off = false;
        if (virDomainShutdown(d) < 0)
            mk_debug(1, "ACPI shutdown of %s: %s", m->name, lv_msg());
        else
            for (int waited = 0; waited <= timeout * 10 && !off; waited++) {
                struct timespec ts = {0, 100 * 1000000};
                nanosleep(&ts, NULL);
                off = virDomainIsActive(d) == 0;
            }
        if (!off) {
            mk_warn("machine \"%s\" did not power off within %d s: stopping it hard", m->name,
                    timeout);
            if (virDomainDestroy(d) < 0 && virDomainIsActive(d) == 1) {
                mk_error_set(err, MK_EXIT_DRIVER, "cannot destroy the libvirt domain: %s",
                             lv_msg());
                goto cleanup;
            }
        }
    }
    rc = 0;
cleanup:
    virDomainFree(d);
    return rc;
}

static int lv_remove(struct mk_machine *m, struct mk_error **err)
{
    bool missing;
    struct mk_error *cerr = NULL;
    virDomainPtr d = lv_lookup(m, &missing, &cerr);
    if (!d && !missing) {
        /* no libvirtd: still remove the files, but say the domain may remain */
        mk_warn("cannot reach libvirt to remove the domain: %s", cerr->msg);
        mk_error_free(cerr);
    }
    if (!d && missing)
        d = wait_inflight_define(m);
    if (d) {
        if (virDomainIsActive(d) == 1 && virDomainDestroy(d) < 0 && virDomainIsActive(d) == 1) {
            mk_error_set(err, MK_EXIT_DRIVER, "cannot destroy the libvirt domain: %s", lv_msg());
            virDomainFree(d);
            return -1;
        }
        unsigned flags = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                         VIR_DOMAIN_UNDEFINE_NVRAM | VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA;
        if (virDomainUndefineFlags(d, flags) < 0 && virDomainUndefine(d) < 0) {
            mk_error_set(err, MK_EXIT_DRIVER, "cannot undefine the libvirt domain: %s", lv_msg());
            virDomainFree(d);
            return -1;
        }
        virDomainFree(d);
    }
    mk_autofree char *disk = mk_machine_disk_path(m);
    mk_autofree char *raw = xasprintf("%s.raw.tmp", disk);
    mk_autofree char *console = mk_machine_console_path(m);
    if (unlink(disk) < 0 && errno != ENOENT)
        return mk_error_errno(err, errno, "cannot delete %s", disk);
    unlink(raw);
    unlink(console);
    return 0;
}

static int lv_state(struct mk_machine *m, enum mk_vm_state *out, struct mk_error **err)
{
    bool missing;
    virDomainPtr d = lv_lookup(m, &missing, err);
    if (!d) {
        if (!missing)
            return -1;
        *out = MK_VM_NONEXISTENT;
        return 0;
    }
    int st = 0;
    int rc = dom_state(d, &st, err);
    virDomainFree(d);
    if (rc < 0)
        return -1;
    switch (st) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:
    case VIR_DOMAIN_SHUTDOWN: /* shutting down: still up */
        *out = MK_VM_RUNNING;
        break;
    case VIR_DOMAIN_PAUSED:
    case VIR_DOMAIN_NOSTATE:
    case VIR_DOMAIN_PMSUSPENDED:
        *out = MK_VM_STARTING;
        break;
    case VIR_DOMAIN_SHUTOFF:
        *out = MK_VM_STOPPED;
        break;
    case VIR_DOMAIN_CRASHED:
    default:
        *out = MK_VM_ERROR;
        break;
    }
    return 0;
}

static int lv_endpoint(struct mk_machine *m, struct mk_endpoint *ep, struct mk_error **err)
{
    return mk_machine_forwarded_endpoint(m, "10.0.2.15", ep, err);
}

static int lv_forward(struct mk_machine *m, unsigned guest_port, unsigned *host_port,
                      struct mk_error **err)
{
    unsigned host = *host_port;
    if (mk_machine_forward_host_port(m, &host, err) < 0)
        return -1;
    bool missing;
    virDomainPtr d = lv_lookup(m, &missing, err);
    if (!d && !missing)
        return -1;
    int rc = 0;
    if (d && virDomainIsActive(d) == 1)
        rc = hostfwd_add(d, host, guest_port, err);
    if (d)
        virDomainFree(d);
    if (rc < 0)
        return -1;
    m->forwards[m->nforwards++] = (struct mk_forward){guest_port, host};
    *host_port = host;
    return 0;
}

const struct mk_driver mk_driver_libvirt = {
    .name = "libvirt",
    .description = "libvirt with QEMU (KVM when it really works, else TCG)",
    .caps = MK_DRV_CAP_PORT_FORWARD | MK_DRV_CAP_RUNTIME_FORWARD | MK_DRV_CAP_DIRECT_BOOT,
    .priv_size = sizeof(struct lv_priv),
    .probe = lv_probe,
    .create = lv_create,
    .start = lv_start,
    .stop = lv_stop,
    .kill = lv_kill,
    .remove = lv_remove,
    .state = lv_state,
    .endpoint = lv_endpoint,
    .forward = lv_forward,
    .release = lv_release,
};
