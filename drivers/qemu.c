/* qemu.c - the plain QEMU driver: no daemon, one daemonized qemu-system-x86_64
 * per machine, driven through its QMP socket.
 *
 * Machine folder: disk.qcow2 (data disk), qemu.pid, qmp.sock, console.log
 * (serial console), machine.json. Networking is user-mode (slirp) with
 * forwards bound to 127.0.0.1 only: SSH/API/dockerd on the command line, the
 * NodePort forwards added at runtime with HMP hostfwd_add (and re-added after
 * every start, since QEMU forgets them when it exits). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../launcher/fsutil.h"
#include "../launcher/log.h"
#include "../launcher/run.h"
#include "accel.h"
#include "disk.h"
#include "driver.h"
#include "qmp.h"

#define QEMU_BIN "qemu-system-x86_64"
#define QMP_TIMEOUT_MS 5000
#define START_TIMEOUT_MS 120000

static char *machine_file(const struct mk_machine *m, const char *name)
{
    return xasprintf("%s/%s", m->dir, name);
}

/* QEMU option values: a comma is written twice. */
static char *opt_escape(const char *s)
{
    struct mk_buf b = MK_BUF_INIT;
    for (; *s; s++)
        mk_buf_adds(&b, *s == ',' ? ",," : (char[]){*s, 0});
    return mk_buf_detach(&b);
}

static int qemu_probe(const struct mk_machine_config *cfg, struct mk_error **err)
{
    (void)cfg;
    if (!mk_run_have(QEMU_BIN)) {
        mk_error_set(err, MK_EXIT_DRIVER, "%s was not found in PATH", QEMU_BIN);
        return mk_error_hint(err, "install QEMU (apt-get install qemu-system-x86 qemu-utils)");
    }
    if (!mk_run_have("qemu-img")) {
        mk_error_set(err, MK_EXIT_DRIVER, "qemu-img was not found in PATH");
        return mk_error_hint(err, "install qemu-utils (apt-get install qemu-utils)");
    }
    return 0;
}

/* ---- the process ---- */

static pid_t read_pid(const struct mk_machine *m)
{
    mk_autofree char *path = machine_file(m, "qemu.pid");
    struct mk_buf b = MK_BUF_INIT;
    struct mk_error *e = NULL;
    pid_t pid = 0;
    if (mk_read_file(path, &b, 64, NULL, &e) == 0)
        pid = (pid_t)atol(mk_buf_str(&b));
    mk_error_free(e);
    mk_buf_release(&b);
    return pid > 0 ? pid : 0;
}

/* Start time (field 22 of /proc/PID/stat) and state of pid; false when the
 * process does not exist. */
static bool proc_stat(pid_t pid, unsigned long long *start, char *state)
{
    mk_autofree char *path = xasprintf("/proc/%ld/stat", (long)pid);
    struct mk_buf b = MK_BUF_INIT;
    struct mk_error *e = NULL;
    bool ok = false;
    if (mk_read_file(path, &b, 4096, NULL, &e) == 0) {
        const char *rp = strrchr(mk_buf_str(&b), ')');
        /* after ")": state is field 3, start time field 22 */
        ok = rp && sscanf(rp + 1,
                          " %c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
                          "%*s %*s %*s %*s %*s %llu",
                          state, start) == 2;
    }
    mk_error_free(e);
    mk_buf_release(&b);
    return ok;
}

/* Is pid a live (not zombie) QEMU of this machine? Pids are reused, so the
 * command line must name this machine's QMP socket. */
static bool pid_is_ours(const struct mk_machine *m, pid_t pid)
{
    if (pid <= 0 || (kill(pid, 0) < 0 && errno != EPERM))
        return false;
    unsigned long long start;
    char st = 0;
    bool ok = proc_stat(pid, &start, &st) && st != 'Z' && st != 'X';
    struct mk_buf b = MK_BUF_INIT;
    struct mk_error *e = NULL;
    mk_autofree char *cmd_path = xasprintf("/proc/%ld/cmdline", (long)pid);
    mk_autofree char *sock = machine_file(m, "qmp.sock");
    if (ok && mk_read_file(cmd_path, &b, 1u << 20, NULL, &e) == 0) {
        ok = false;
        for (size_t i = 0; i < b.len; i += strlen(b.buf + i) + 1)
            ok |= strstr(b.buf + i, sock) != NULL;
    } else {
        ok = false;
    }
    mk_error_free(e);
    mk_buf_release(&b);
    return ok;
}

static pid_t running_pid(const struct mk_machine *m)
{
    pid_t pid = read_pid(m);
    return pid_is_ours(m, pid) ? pid : 0;
}

/* Threads of pid still listed in /proc/PID/task. */
static int proc_threads(pid_t pid)
{
    mk_autofree char *path = xasprintf("/proc/%ld/task", (long)pid);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int n = 0;
    for (struct dirent *de; (de = readdir(d));)
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Has QEMU (pid) let go of everything? A dead thread-group leader shows as a
 * zombie while its vCPU and I/O threads are still exiting, and those still
 * hold the forwards' listening sockets: wait for the last thread too. A
 * zombie nobody reaps (no init in a container) counts as gone once alone. */
static bool wait_gone(const struct mk_machine *m, pid_t pid, int timeout_ms)
{
    unsigned long long start0 = 0, start;
    char st;
    bool known = proc_stat(pid, &start0, &st);
    for (int waited = 0;; waited += 100) {
        if (!pid_is_ours(m, pid)) {
            if (!known || !proc_stat(pid, &start, &st) || start != start0)
                return true;
            if ((st == 'Z' || st == 'X') && proc_threads(pid) <= 1)
                return true;
        }
        if (waited >= timeout_ms)
            return false;
        struct timespec ts = {0, 100 * 1000000};
        nanosleep(&ts, NULL);
    }
}

static void remove_runtime_files(const struct mk_machine *m)
{
    mk_autofree char *pidf = machine_file(m, "qemu.pid");
    mk_autofree char *sock = machine_file(m, "qmp.sock");
    unlink(pidf);
    unlink(sock);
}

static int qmp_open(const struct mk_machine *m, struct mk_qmp **q, struct mk_error **err)
{
    mk_autofree char *sock = machine_file(m, "qmp.sock");
    return mk_qmp_connect(sock, QMP_TIMEOUT_MS, q, err);
}

static int hostfwd_add(struct mk_qmp *q, unsigned host, unsigned guest, struct mk_error **err)
{
    mk_autofree char *cmd = xasprintf("hostfwd_add mk0 tcp:127.0.0.1:%u-:%u", host, guest);
    mk_autofree char *out = NULL;
    if (mk_qmp_hmp(q, cmd, &out, err) < 0)
        return -1;
    /* HMP prints nothing on success, a sentence on failure */
    if (out && *out) {
        size_t n = strlen(out);
        while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
            out[--n] = '\0';
        return mk_error_set(err, MK_EXIT_FAILURE,
                            "cannot forward 127.0.0.1:%u to guest port %u: %s", host, guest, out);
    }
    return 0;
}

/* ---- driver operations ---- */

static int qemu_create(struct mk_machine *m, const struct mk_machine_config *cfg,
                       struct mk_error **err)
{
    if (qemu_probe(cfg, err) < 0)
        return -1;
    if (mk_accel_resolve(m->cache_dir, m->kernel_path, cfg->accel, &m->accel, err) < 0)
        return -1;
    mk_autofree char *disk = mk_machine_disk_path(m);
    if (!mk_path_exists(disk) &&
        mk_disk_create(disk, m->disk_mib, cfg->ssh_pubkey, cfg->hostname ? cfg->hostname : m->name,
                       err) < 0)
        return -1;
    return 0;
}

static char **build_argv(const struct mk_machine *m)
{
    mk_autofree char *dir = opt_escape(m->dir);
    mk_autofree char *iso = opt_escape(m->iso_path);
    char **v = NULL;
    char tmp[64];
#define ADD(s) (v = mk_strv_push(v, (s)))
#define ADDF(...)                                                                                 \
    do {                                                                                          \
        char *s_ = xasprintf(__VA_ARGS__);                                                        \
        ADD(s_);                                                                                  \
        free(s_);                                                                                 \
    } while (0)
    ADD(QEMU_BIN);
    ADD("-name");
    ADDF("mkube-%s", m->name);
    ADD("-machine");
    ADD("pc");
    ADD("-accel");
    ADD(m->accel == MK_ACCEL_KVM ? "kvm" : "tcg");
    /* "max": every feature the accelerator offers; TCG rejects "host" */
    ADD("-cpu");
    ADD("max");
    ADD("-smp");
    snprintf(tmp, sizeof(tmp), "%u", m->cpus);
    ADD(tmp);
    ADD("-m");
    snprintf(tmp, sizeof(tmp), "%lluM", (unsigned long long)m->memory_mib);
    ADD(tmp);
    ADD("-nodefaults");
    ADD("-no-user-config");
    ADD("-display");
    ADD("none");
    ADD("-drive");
    ADDF("file=%s,media=cdrom,if=ide,index=2,format=raw,readonly=on", iso);
    ADD("-drive");
    ADDF("file=%s/disk.qcow2,if=virtio,format=qcow2", dir);
    if (m->kernel_path) {
        ADD("-kernel");
        ADD(m->kernel_path);
        if (m->initrd_path) {
            ADD("-initrd");
            ADD(m->initrd_path);
        }
        ADD("-append");
        ADD("console=ttyS0,115200");
    } else {
        ADD("-boot");
        ADD("order=d");
    }
    ADD("-netdev");
    ADDF("user,id=mk0,hostfwd=tcp:127.0.0.1:%u-:%u,hostfwd=tcp:127.0.0.1:%u-:%u,"
         "hostfwd=tcp:127.0.0.1:%u-:%u",
         m->forwards[0].host_port, m->forwards[0].guest_port, m->forwards[1].host_port,
         m->forwards[1].guest_port, m->forwards[2].host_port, m->forwards[2].guest_port);
    ADD("-device");
    ADD("virtio-net-pci,netdev=mk0");
    ADD("-device");
    ADD("virtio-rng-pci");
    ADD("-qmp");
    ADDF("unix:%s/qmp.sock,server=on,wait=off", dir);
    ADD("-serial"); /* "file:" takes the rest verbatim, no comma escaping */
    ADDF("file:%s/console.log", m->dir);
    ADD("-pidfile");
    ADDF("%s/qemu.pid", m->dir);
    ADD("-daemonize");
#undef ADD
#undef ADDF
    return v;
}

static int qemu_start(struct mk_machine *m, struct mk_error **err)
{
    if (m->nforwards < 3)
        return mk_error_set(err, MK_EXIT_CONFIG, "machine \"%s\" lacks its SSH/API/docker forwards",
                            m->name);
    mk_autofree char *disk = mk_machine_disk_path(m);
    if (!mk_path_exists(disk))
        return mk_error_set(err, MK_EXIT_FAILURE, "the data disk %s is missing", disk);
    remove_runtime_files(m);
    mk_autostrv char **argv = build_argv(m);
    struct mk_run_opts o = {.capture_stdout = true, .timeout_ms = START_TIMEOUT_MS};
    /* -daemonize: QEMU returns once it is set up (ports bound, files open) */
    if (mk_run_check((const char *const *)argv, &o, NULL, err) < 0)
        return -1;
    mk_autofree char *console = mk_machine_console_path(m);
    chmod(console, 0600);
    if (m->nforwards <= 3)
        return 0;
    struct mk_qmp *q = NULL;
    int rc = -1;
    if (qmp_open(m, &q, err) < 0)
        goto cleanup;
    for (unsigned i = 3; i < m->nforwards; i++)
        if (hostfwd_add(q, m->forwards[i].host_port, m->forwards[i].guest_port, err) < 0)
            goto cleanup;
    rc = 0;
cleanup:
    mk_qmp_close(q);
    return rc;
}

static int qemu_kill(struct mk_machine *m, struct mk_error **err)
{
    pid_t pid = running_pid(m);
    if (pid) {
        kill(pid, SIGKILL);
        if (!wait_gone(m, pid, 10000))
            return mk_error_set(err, MK_EXIT_FAILURE, "QEMU (pid %ld) does not die",
                                (long)pid);
    }
    remove_runtime_files(m);
    return 0;
}

static int qemu_stop(struct mk_machine *m, struct mk_error **err)
{
    pid_t pid = running_pid(m);
    if (!pid) {
        remove_runtime_files(m);
        return 0;
    }
    int timeout = mk_machine_stop_timeout();
    struct mk_qmp *q = NULL;
    struct mk_error *qerr = NULL;
    if (qmp_open(m, &q, &qerr) == 0)
        mk_qmp_execute(q, "system_powerdown", NULL, NULL, &qerr);
    mk_qmp_close(q);
    if (qerr) {
        mk_debug(1, "graceful stop of %s: %s", m->name, qerr->msg);
        mk_error_free(qerr);
    } else if (wait_gone(m, pid, timeout * 1000)) {
        remove_runtime_files(m);
        return 0;
    } else {
        mk_warn("machine \"%s\" did not power off within %d s: stopping it hard", m->name,
                timeout);
    }
    kill(pid, SIGTERM);
    if (!wait_gone(m, pid, 5000))
        return qemu_kill(m, err);
    remove_runtime_files(m);
    return 0;
}

static int qemu_remove(struct mk_machine *m, struct mk_error **err)
{
    if (qemu_kill(m, err) < 0)
        return -1;
    mk_autofree char *disk = mk_machine_disk_path(m);
    mk_autofree char *raw = xasprintf("%s.raw.tmp", disk);
    mk_autofree char *console = mk_machine_console_path(m);
    if (unlink(disk) < 0 && errno != ENOENT)
        return mk_error_errno(err, errno, "cannot delete %s", disk);
    unlink(raw);
    unlink(console);
    return 0;
}

static int qemu_state(struct mk_machine *m, enum mk_vm_state *st, struct mk_error **err)
{
    pid_t pid = running_pid(m);
    if (!pid) {
        mk_autofree char *json = machine_file(m, "machine.json");
        mk_autofree char *disk = mk_machine_disk_path(m);
        *st = mk_path_exists(json) || mk_path_exists(disk) ? MK_VM_STOPPED : MK_VM_NONEXISTENT;
        return 0;
    }
    struct mk_qmp *q = NULL;
    struct mk_error *qerr = NULL;
    json_t *ret = NULL;
    if (qmp_open(m, &q, &qerr) < 0 || mk_qmp_execute(q, "query-status", NULL, &ret, &qerr) < 0) {
        mk_debug(1, "QEMU pid %ld of %s does not answer: %s", (long)pid, m->name, qerr->msg);
        *st = MK_VM_ERROR;
    } else {
        const char *s = json_string_value(json_object_get(ret, "status"));
        if (mk_streq(s, "running"))
            *st = MK_VM_RUNNING;
        else if (mk_streq(s, "paused") || mk_streq(s, "prelaunch") || mk_streq(s, "inmigrate") ||
                 mk_streq(s, "restore-vm") || mk_streq(s, "suspended") ||
                 mk_streq(s, "finish-migrate") || mk_streq(s, "postmigrate"))
            *st = MK_VM_STARTING;
        else
            *st = MK_VM_ERROR; /* guest-panicked, internal-error, io-error, shutdown, ... */
        mk_debug(2, "QEMU status of %s: %s", m->name, s ? s : "?");
    }
    json_decref(ret);
    mk_qmp_close(q);
    mk_error_free(qerr);
    return 0;
}

static int qemu_endpoint(struct mk_machine *m, struct mk_endpoint *ep, struct mk_error **err)
{
    return mk_machine_forwarded_endpoint(m, "10.0.2.15", ep, err);
}

static int qemu_forward(struct mk_machine *m, unsigned guest_port, unsigned *host_port,
                        struct mk_error **err)
{
    unsigned host = *host_port;
    if (mk_machine_forward_host_port(m, &host, err) < 0)
        return -1;
    if (running_pid(m)) {
        struct mk_qmp *q = NULL;
        int r = qmp_open(m, &q, err);
        if (r == 0)
            r = hostfwd_add(q, host, guest_port, err);
        mk_qmp_close(q);
        if (r < 0)
            return -1;
    }
    m->forwards[m->nforwards++] = (struct mk_forward){guest_port, host};
    *host_port = host;
    return 0;
}

const struct mk_driver mk_driver_qemu = {
    .name = "qemu",
    .description = "QEMU without a daemon (user-mode networking, KVM or TCG)",
    .caps = MK_DRV_CAP_PORT_FORWARD | MK_DRV_CAP_RUNTIME_FORWARD | MK_DRV_CAP_DIRECT_BOOT,
    .priv_size = 0,
    .probe = qemu_probe,
    .create = qemu_create,
    .start = qemu_start,
    .stop = qemu_stop,
    .kill = qemu_kill,
    .remove = qemu_remove,
    .state = qemu_state,
    .endpoint = qemu_endpoint,
    .forward = qemu_forward,
};
