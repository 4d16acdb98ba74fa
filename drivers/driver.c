/* driver.c - the driver registry, the wrappers every caller goes through,
 * machine.json load/save and the 127.0.0.1 port helpers (see driver.h). */
#include "driver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../launcher/fsutil.h"
#include "../launcher/log.h"
#include "accel.h"

extern const struct mk_driver mk_driver_libvirt, mk_driver_qemu;
extern const struct mk_driver mk_driver_virtualbox, mk_driver_hyperv;

const struct mk_driver *const mk_drivers[] = {
    &mk_driver_libvirt,
    &mk_driver_qemu,
    &mk_driver_virtualbox,
    &mk_driver_hyperv,
    NULL,
};

const char *mk_vm_state_name(enum mk_vm_state s)
{
    switch (s) {
    case MK_VM_NONEXISTENT:
        return "Nonexistent";
    case MK_VM_STOPPED:
        return "Stopped";
    case MK_VM_RUNNING:
        return "Running";
    case MK_VM_STARTING:
        return "Starting";
    case MK_VM_ERROR:
        return "Error";
    }
    return "Unknown";
}

const struct mk_driver *mk_driver_lookup(const char *name)
{
    for (size_t i = 0; name && mk_drivers[i]; i++)
        if (strcmp(mk_drivers[i]->name, name) == 0)
            return mk_drivers[i];
    return NULL;
}

const struct mk_driver *mk_driver_autoselect(const struct mk_machine_config *cfg,
                                             struct mk_error **err)
{
    struct mk_buf why = MK_BUF_INIT;
    const struct mk_driver *found = NULL;
    for (size_t i = 0; mk_drivers[i] && !found; i++) {
        const struct mk_driver *d = mk_drivers[i];
        struct mk_error *perr = NULL;
        if (!d->probe || d->probe(cfg, &perr) == 0) {
            found = d;
        } else {
            mk_info("skipping driver \"%s\": %s", d->name, perr ? perr->msg : "not usable");
            mk_buf_addf(&why, "%s%s: %s", why.len ? "; " : "", d->name,
                        perr ? perr->msg : "not usable");
        }
        mk_error_free(perr);
    }
    if (!found)
        mk_error_set(err, MK_EXIT_DRIVER, "no usable driver found (%s)", mk_buf_str(&why));
    mk_buf_release(&why);
    return found;
}

/* ---- machine objects ---- */

struct mk_machine *mk_machine_new(const struct mk_driver *d, const char *machines_dir,
                                  const char *name)
{
    struct mk_machine *m = xcalloc(1, sizeof(*m));
    m->name = xstrdup(name);
    m->dir = xasprintf("%s/%s", machines_dir, name);
    mk_autofree char *copy = xstrdup(machines_dir);
    m->cache_dir = xasprintf("%s/cache", dirname(copy));
    m->driver = d;
    if (d && d->priv_size)
        m->priv = xcalloc(1, d->priv_size);
    return m;
}

void mk_machine_free(struct mk_machine *m)
{
    if (!m)
        return;
    if (m->driver && m->driver->release)
        m->driver->release(m);
    free(m->priv);
    free(m->name);
    free(m->dir);
    free(m->cache_dir);
    free(m->iso_path);
    free(m->kernel_path);
    free(m->initrd_path);
    free(m->libvirt_uri);
    free(m->hyperv_switch);
    free(m);
}

static char *json_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? xstrdup(s) : NULL;
}

static void json_set_str(json_t *o, const char *key, const char *v)
{
    if (v)
        json_object_set_new(o, key, json_string(v));
}

int mk_machine_load(const char *machines_dir, const char *name, struct mk_machine **out,
                    struct mk_error **err)
{
    *out = NULL;
    mk_autofree char *path = xasprintf("%s/%s/machine.json", machines_dir, name);
    struct mk_buf b = MK_BUF_INIT;
    bool enoent = false;
    struct mk_error *rerr = NULL;
    json_t *root = NULL;
    struct mk_machine *m = NULL;
    int rc = -1;
    if (mk_read_file(path, &b, 1u << 20, &enoent, &rerr) < 0) {
        if (enoent) {
            mk_error_free(rerr);
            rc = 0;
        } else {
            *err = rerr;
        }
        goto cleanup;
    }
    json_error_t jerr;
    root = json_loadb(b.buf, b.len, 0, &jerr);
    if (!json_is_object(root)) {
        mk_error_set(err, MK_EXIT_CONFIG, "cannot parse %s: %s (line %d)", path,
                     root ? "not an object" : jerr.text, jerr.line);
        goto cleanup;
    }
    const char *dname = json_string_value(json_object_get(root, "driver"));
    const struct mk_driver *d = mk_driver_lookup(dname);
    if (!d) {
        mk_error_set(err, MK_EXIT_CONFIG, "%s names an unknown driver \"%s\"", path,
                     dname ? dname : "");
        goto cleanup;
    }
    m = mk_machine_new(d, machines_dir, name);
    m->cpus = (unsigned)json_integer_value(json_object_get(root, "cpus"));
    m->memory_mib = (uint64_t)json_integer_value(json_object_get(root, "memory_mib"));
    m->disk_mib = (uint64_t)json_integer_value(json_object_get(root, "disk_mib"));
    m->iso_path = json_str(root, "iso_path");
    m->kernel_path = json_str(root, "kernel_path");
    m->initrd_path = json_str(root, "initrd_path");
    m->libvirt_uri = json_str(root, "libvirt_uri");
    m->hyperv_switch = json_str(root, "hyperv_switch");
    const char *accel = json_string_value(json_object_get(root, "accel"));
    if (accel && mk_accel_parse(accel, &m->accel, err) < 0) {
        mk_error_wrap(err, "cannot load %s", path);
        goto cleanup;
    }
    json_t *fw = json_object_get(root, "forwards");
    size_t i;
    json_t *v;
    json_array_foreach(fw, i, v)
    {
        if (m->nforwards >= MK_MAX_FORWARDS)
            break;
        json_int_t g = json_integer_value(json_object_get(v, "guest"));
        json_int_t h = json_integer_value(json_object_get(v, "host"));
        if (g <= 0 || g > 65535 || h < 0 || h > 65535) {
            mk_error_set(err, MK_EXIT_CONFIG, "%s has an invalid forward (guest %lld, host %lld)",
                         path, (long long)g, (long long)h);
            goto cleanup;
        }
        m->forwards[m->nforwards++] = (struct mk_forward){(unsigned)g, (unsigned)h};
    }
    *out = m;
    m = NULL;
    rc = 0;
cleanup:
    mk_machine_free(m);
    json_decref(root);
    mk_buf_release(&b);
    return rc;
}

static char *machine_json_path(const struct mk_machine *m)
{
    return xasprintf("%s/machine.json", m->dir);
}

int mk_machine_save(const struct mk_machine *m, struct mk_error **err)
{
    json_t *root = json_object();
    json_set_str(root, "name", m->name);
    json_set_str(root, "driver", m->driver ? m->driver->name : NULL);
    json_object_set_new(root, "cpus", json_integer(m->cpus));
    json_object_set_new(root, "memory_mib", json_integer((json_int_t)m->memory_mib));
    json_object_set_new(root, "disk_mib", json_integer((json_int_t)m->disk_mib));
    json_set_str(root, "iso_path", m->iso_path);
    json_set_str(root, "kernel_path", m->kernel_path);
    json_set_str(root, "initrd_path", m->initrd_path);
    json_set_str(root, "accel", mk_accel_name(m->accel));
    json_set_str(root, "libvirt_uri", m->libvirt_uri);
    json_set_str(root, "hyperv_switch", m->hyperv_switch);
    json_t *fw = json_array();
    for (unsigned i = 0; i < m->nforwards; i++) {
        json_array_append_new(fw, json_pack("{s:i,s:i}", "guest", (int)m->forwards[i].guest_port,
                                            "host", (int)m->forwards[i].host_port));
    }
    json_object_set_new(root, "forwards", fw);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    mk_autofree char *path = machine_json_path(m);
    int rc = mk_mkdir_p(m->dir, 0700, err);
    if (rc == 0)
        rc = mk_write_file_atomic(path, text, strlen(text), 0600, err);
    free(text);
    return rc;
}

char *mk_machine_disk_path(const struct mk_machine *m)
{
    return xasprintf("%s/disk.qcow2", m->dir);
}

char *mk_machine_console_path(const struct mk_machine *m)
{
    return xasprintf("%s/console.log", m->dir);
}

int mk_machine_stop_timeout(void)
{
    const char *s = getenv("MKUBE_STOP_TIMEOUT");
    int v = s ? atoi(s) : 0;
    return v > 0 ? v : 90;
}

unsigned mk_machine_forward_port(const struct mk_machine *m, unsigned guest_port)
{
    for (unsigned i = 0; i < m->nforwards; i++)
        if (m->forwards[i].guest_port == guest_port)
            return m->forwards[i].host_port;
    return 0;
}

int mk_file_verify_sha256(const char *path, struct mk_error **err)
{
    mk_autofree char *sumfile = xasprintf("%s.sha256", path);
    struct mk_buf b = MK_BUF_INIT;
    bool enoent = false;
    struct mk_error *rerr = NULL;
    int rc = -1;
    if (mk_read_file(sumfile, &b, 4096, &enoent, &rerr) < 0) {
        if (enoent) {
            mk_debug(1, "no %s, not verifying %s", sumfile, path);
            mk_error_free(rerr);
            rc = 0;
        } else {
            *err = rerr;
        }
        goto cleanup;
    }
    char want[65] = "", have[65];
    if (sscanf(mk_buf_str(&b), "%64[0-9a-fA-F]", want) != 1 || strlen(want) != 64) {
        mk_error_set(err, MK_EXIT_FAILURE, "%s does not hold a sha256 checksum", sumfile);
        goto cleanup;
    }
    for (char *p = want; *p; p++)
        if (*p >= 'A' && *p <= 'F')
            *p = (char)(*p - 'A' + 'a');
    if (mk_sha256_file(path, have, err) < 0)
        goto cleanup;
    if (strcmp(want, have) != 0) {
        mk_error_set(err, MK_EXIT_FAILURE, "%s is corrupt: sha256 %s, expected %s (from %s)", path,
                     have, want, sumfile);
        mk_error_hint(err, "download or rebuild the image again");
        goto cleanup;
    }
    rc = 0;
cleanup:
    mk_buf_release(&b);
    return rc;
}

static int check_file(const char *what, const char *path, struct mk_error **err)
{
    if (!path)
        return 0;
    if (access(path, R_OK) < 0) {
        mk_error_errno(err, errno, "the %s %s cannot be read", what, path);
        return mk_error_hint(err, "build the image (cmake --build <dir> --target image) or pass "
                                  "the right path");
    }
    return 0;
}

int mk_machine_check_files(const struct mk_machine *m, struct mk_error **err)
{
    if (!m->iso_path)
        return mk_error_set(err, MK_EXIT_USAGE, "machine \"%s\" has no ISO image", m->name);
    if (check_file("ISO image", m->iso_path, err) < 0 ||
        check_file("kernel", m->kernel_path, err) < 0 ||
        check_file("initrd", m->initrd_path, err) < 0)
        return -1;
    return 0;
}

/* ---- ports ---- */

bool mk_port_free(unsigned port)
{
    if (port == 0 || port > 65535)
        return false;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    /* like QEMU's slirp listener, so a port in TIME_WAIT counts as free */
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

int mk_port_pick(unsigned *port, struct mk_error **err)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return mk_error_errno(err, errno, "cannot pick a free port on 127.0.0.1");
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        int e = errno;
        close(fd);
        mk_error_errno(err, e, "cannot pick a free port on 127.0.0.1");
        if (e == EADDRINUSE)
            mk_error_hint(err, "every port of net.ipv4.ip_local_port_range is taken: stop the "
                               "programs holding them, or widen the range");
        return -1;
    }
    close(fd);
    *port = ntohs(sa.sin_port);
    return 0;
}

int mk_machine_pick_port(const struct mk_machine *m, unsigned *port, struct mk_error **err)
{
    for (int tries = 0; tries < 64; tries++) {
        unsigned p;
        if (mk_port_pick(&p, err) < 0)
            return -1;
        bool used = false;
        for (unsigned i = 0; i < m->nforwards; i++)
            used |= m->forwards[i].host_port == p;
        if (!used) {
            *port = p;
            return 0;
        }
    }
    return mk_error_set(err, MK_EXIT_FAILURE, "cannot find a free port on 127.0.0.1");
}

int mk_machine_refresh_ports(struct mk_machine *m, struct mk_error **err)
{
    bool changed = false;
    for (unsigned i = 0; i < m->nforwards; i++) {
        struct mk_forward *f = &m->forwards[i];
        if (f->host_port && mk_port_free(f->host_port))
            continue;
        unsigned old = f->host_port, p;
        f->host_port = 0;
        if (mk_machine_pick_port(m, &p, err) < 0) {
            f->host_port = old;
            return mk_error_wrap(err, "cannot move the forward of guest port %u", f->guest_port);
        }
        f->host_port = p;
        if (old)
            mk_warn("port %u (guest port %u) is taken by another program: using port %u instead",
                    old, f->guest_port, p);
        changed = true;
    }
    return changed ? mk_machine_save(m, err) : 0;
}

/* ---- the wrappers ---- */

static int unsupported(const struct mk_machine *m, const char *op, struct mk_error **err)
{
    return mk_error_set(err, MK_EXIT_DRIVER, "\"%s\" is not supported by driver \"%s\"", op,
                        m->driver ? m->driver->name : "none");
}

#define SLOT(m, op) ((m)->driver ? (m)->driver->op : NULL)

static int pick_default_port(struct mk_machine *m, unsigned idx, unsigned guest, unsigned want,
                             struct mk_error **err)
{
    m->forwards[idx] = (struct mk_forward){guest, 0};
    if (want) {
        if (!mk_port_free(want))
            return mk_error_set(err, MK_EXIT_USAGE,
                                "port %u on 127.0.0.1 is already in use (wanted for guest port %u)",
                                want, guest);
        m->forwards[idx].host_port = want;
        return 0;
    }
    return mk_machine_pick_port(m, &m->forwards[idx].host_port, err);
}

static char *absolute(const char *path)
{
    if (!path)
        return NULL;
    char *r = realpath(path, NULL);
    return r ? r : xstrdup(path); /* missing: mk_machine_check_files says so */
}

int mk_machine_create(struct mk_machine *m, const struct mk_machine_config *cfg,
                      struct mk_error **err)
{
    if (!SLOT(m, create))
        return unsupported(m, "create", err);
    m->cpus = cfg->cpus ? cfg->cpus : 2;
    m->memory_mib = cfg->memory_mib ? cfg->memory_mib : 4096;
    m->disk_mib = cfg->disk_mib ? cfg->disk_mib : 20000;
    free(m->iso_path);
    free(m->kernel_path);
    free(m->initrd_path);
    free(m->libvirt_uri);
    free(m->hyperv_switch);
    /* absolute: the hypervisor (libvirtd's QEMU) runs in another directory */
    m->iso_path = absolute(cfg->iso_path);
    m->kernel_path = absolute(cfg->kernel_path);
    m->initrd_path = absolute(cfg->initrd_path);
    m->libvirt_uri = cfg->libvirt_uri ? xstrdup(cfg->libvirt_uri) : NULL;
    m->hyperv_switch = cfg->hyperv_switch ? xstrdup(cfg->hyperv_switch) : NULL;
    m->accel = cfg->accel;
    if (cfg->cache_dir) {
        free(m->cache_dir);
        m->cache_dir = xstrdup(cfg->cache_dir);
    }
    if (m->initrd_path && !m->kernel_path)
        return mk_error_set(err, MK_EXIT_USAGE, "an initrd needs a kernel for direct boot");
    if (mk_machine_check_files(m, err) < 0)
        return -1;
    if (mk_file_verify_sha256(m->iso_path, err) < 0)
        return -1;
    if (mk_mkdir_p(m->dir, 0700, err) < 0)
        return -1;
    m->nforwards = 0;
    if (pick_default_port(m, 0, MK_GUEST_SSH_PORT, cfg->ssh_port, err) < 0)
        return -1;
    m->nforwards = 1;
    if (pick_default_port(m, 1, MK_GUEST_API_PORT, cfg->api_port, err) < 0)
        return -1;
    m->nforwards = 2;
    if (pick_default_port(m, 2, MK_GUEST_DOCKER_PORT, cfg->docker_port, err) < 0)
        return -1;
    m->nforwards = 3;
    /* saved first, so a create killed halfway leaves a machine that remove
     * knows the driver of */
    if (mk_machine_save(m, err) < 0)
        return -1;
    if (m->driver->create(m, cfg, err) < 0) {
        /* a failed create leaves no VM behind (the drivers undo theirs):
         * without machine.json the machine does not exist either, so a
         * retry (after freeing space, say) creates it anew */
        mk_autofree char *json = machine_json_path(m);
        unlink(json);
        return mk_error_wrap(err, "cannot create machine \"%s\"", m->name);
    }
    return mk_machine_save(m, err);
}

int mk_machine_start(struct mk_machine *m, struct mk_error **err)
{
    if (!SLOT(m, start))
        return unsupported(m, "start", err);
    enum mk_vm_state st = MK_VM_STOPPED;
    if (SLOT(m, state) && m->driver->state(m, &st, err) < 0)
        return -1;
    if (st == MK_VM_RUNNING || st == MK_VM_STARTING)
        return 0;
    mk_autofree char *json = machine_json_path(m);
    if (st == MK_VM_NONEXISTENT && !mk_path_exists(json))
        return mk_error_set(err, MK_EXIT_FAILURE, "machine \"%s\" does not exist", m->name);
    if (mk_machine_check_files(m, err) < 0)
        return -1;
    if (mk_machine_refresh_ports(m, err) < 0)
        return -1;
    if (m->driver->start(m, err) < 0)
        return mk_error_wrap(err, "cannot start machine \"%s\"", m->name);
    return mk_machine_save(m, err);
}

int mk_machine_stop(struct mk_machine *m, struct mk_error **err)
{
    if (!SLOT(m, stop))
        return unsupported(m, "stop", err);
    if (m->driver->stop(m, err) < 0)
        return mk_error_wrap(err, "cannot stop machine \"%s\"", m->name);
    return 0;
}

int mk_machine_kill(struct mk_machine *m, struct mk_error **err)
{
    if (!SLOT(m, kill))
        return unsupported(m, "kill", err);
    if (m->driver->kill(m, err) < 0)
        return mk_error_wrap(err, "cannot kill machine \"%s\"", m->name);
    return 0;
}

int mk_machine_remove(struct mk_machine *m, struct mk_error **err)
{
    if (!SLOT(m, remove))
        return unsupported(m, "remove", err);
    if (m->driver->remove(m, err) < 0)
        return mk_error_wrap(err, "cannot delete machine \"%s\"", m->name);
    return mk_rm_rf(m->dir, err);
}

int mk_machine_state(struct mk_machine *m, enum mk_vm_state *st, struct mk_error **err)
{
    if (!SLOT(m, state))
        return unsupported(m, "state", err);
    return m->driver->state(m, st, err);
}

int mk_machine_endpoint(struct mk_machine *m, struct mk_endpoint *ep, struct mk_error **err)
{
    if (!SLOT(m, endpoint))
        return unsupported(m, "endpoint", err);
    memset(ep, 0, sizeof(*ep));
    return m->driver->endpoint(m, ep, err);
}

int mk_machine_forward(struct mk_machine *m, unsigned guest_port, unsigned *host_port,
                       struct mk_error **err)
{
    if (!SLOT(m, forward))
        return unsupported(m, "forward", err);
    if (guest_port == 0 || guest_port > 65535)
        return mk_error_set(err, MK_EXIT_USAGE, "invalid guest port %u", guest_port);
    unsigned have = mk_machine_forward_port(m, guest_port);
    if (have) {
        *host_port = have;
        return 0;
    }
    if (m->nforwards >= MK_MAX_FORWARDS)
        return mk_error_set(err, MK_EXIT_FAILURE, "machine \"%s\" has too many forwards (%d)",
                            m->name, MK_MAX_FORWARDS);
    if (m->driver->forward(m, guest_port, host_port, err) < 0)
        return mk_error_wrap(err, "cannot forward guest port %u", guest_port);
    return mk_machine_save(m, err);
}

int mk_machine_forwarded_endpoint(const struct mk_machine *m, const char *guest_ip,
                                  struct mk_endpoint *ep, struct mk_error **err)
{
    if (m->nforwards < 3)
        return mk_error_set(err, MK_EXIT_CONFIG, "machine \"%s\" lacks its SSH/API/docker forwards",
                            m->name);
    snprintf(ep->host, sizeof(ep->host), "127.0.0.1");
    snprintf(ep->guest_ip, sizeof(ep->guest_ip), "%s", guest_ip);
    ep->ssh_port = mk_machine_forward_port(m, MK_GUEST_SSH_PORT);
    ep->api_port = mk_machine_forward_port(m, MK_GUEST_API_PORT);
    ep->docker_port = mk_machine_forward_port(m, MK_GUEST_DOCKER_PORT);
    ep->ssh_user = "docker";
    return 0;
}

int mk_machine_forward_host_port(const struct mk_machine *m, unsigned *port,
                                 struct mk_error **err)
{
    if (*port && !mk_port_free(*port))
        return mk_error_set(err, MK_EXIT_FAILURE, "port %u on 127.0.0.1 is already in use", *port);
    if (!*port && mk_machine_pick_port(m, port, err) < 0)
        return -1;
    return 0;
}
