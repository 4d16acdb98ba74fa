/* driver.h - the hypervisor driver interface.
 *
 * One struct of function pointers per hypervisor (libvirt src/driver-hypervisor.h
 * style). Each drivers/<name>.c ends with `const struct mk_driver mk_driver_<name>`
 * filled with designated initializers; its helpers are static. Callers never use
 * the slots directly: they go through the mk_machine_* wrappers in driver.c,
 * which report "<op> is not supported by driver X" for an empty slot.
 *
 * Drivers know nothing about Kubernetes. They boot the image, attach the data
 * disk carrying the boot2docker-style tar (disk.h), and expose the guest through
 * forwards on 127.0.0.1 (or, for Hyper-V, the guest address). */
#ifndef MK_DRIVER_H
#define MK_DRIVER_H

#include <stdbool.h>
#include <stdint.h>

#include "../launcher/error.h"

enum mk_vm_state {
    MK_VM_NONEXISTENT = 0,
    MK_VM_STOPPED,
    MK_VM_RUNNING,
    MK_VM_STARTING, /* process/domain exists but is not up yet (paused, booting) */
    MK_VM_ERROR,    /* hypervisor reports a failure (crashed, aborted) */
};
const char *mk_vm_state_name(enum mk_vm_state s); /* "Running", "Stopped", ... */

enum mk_accel {
    MK_ACCEL_AUTO = 0, /* probe once per host, cache the verdict */
    MK_ACCEL_KVM,
    MK_ACCEL_TCG,
};

/* capability bits */
#define MK_DRV_CAP_PORT_FORWARD 0x1u  /* guest reached through 127.0.0.1 forwards */
#define MK_DRV_CAP_RUNTIME_FORWARD 0x2u /* forward() works while running (NodePorts) */
#define MK_DRV_CAP_DIRECT_BOOT 0x4u   /* can boot kernel+initrd without the CD bootloader */
#define MK_DRV_CAP_GUEST_IP 0x8u      /* endpoint is the guest's own address (no loopback NAT) */

/* Fixed guest side of the default forwards. */
#define MK_GUEST_SSH_PORT 22u
#define MK_GUEST_API_PORT 8443u
#define MK_GUEST_DOCKER_PORT 2376u
#define MK_MAX_FORWARDS 32

struct mk_forward {
    unsigned guest_port;
    unsigned host_port;
};

/* What the caller asks for at create time. Strings are owned by the caller. */
struct mk_machine_config {
    unsigned cpus;
    uint64_t memory_mib;
    uint64_t disk_mib;
    const char *iso_path;       /* mkube.iso (attached as CD-ROM always) */
    const char *kernel_path;    /* optional: direct kernel boot (libvirt/qemu) */
    const char *initrd_path;    /* optional, with kernel_path */
    const char *ssh_pubkey;     /* authorized_keys line for the data-disk tar */
    const char *hostname;       /* guest hostname, default the machine name */
    enum mk_accel accel;
    const char *libvirt_uri;    /* libvirt: default qemu:///system */
    const char *hyperv_switch;  /* hyperv: virtual switch name, NULL = auto */
    unsigned ssh_port, api_port, docker_port; /* wanted host ports; 0 = pick free */
    const char *cache_dir;      /* accel verdict, ISO boot files; NULL = <machines_dir>/../cache */
};

/* A machine: one VM under $MKUBE_HOME/machines/<name>/. The persistent part is
 * machine.json in dir (driver.c loads/saves it); priv is the driver's own
 * state, priv_size bytes allocated by the core. */
struct mk_machine {
    char *name;
    char *dir;
    const struct mk_driver *driver;
    /* persisted (machine.json) */
    unsigned cpus;
    uint64_t memory_mib;
    uint64_t disk_mib;
    char *iso_path;
    char *kernel_path;
    char *initrd_path;
    enum mk_accel accel;        /* resolved at create: KVM or TCG */
    char *libvirt_uri;
    char *hyperv_switch;
    struct mk_forward forwards[MK_MAX_FORWARDS]; /* [0]=ssh [1]=api [2]=docker, then NodePorts */
    unsigned nforwards;
    void *priv;
    char *cache_dir;            /* not persisted: set by mk_machine_new from machines_dir */
};

/* How to reach the guest. */
struct mk_endpoint {
    char host[64];      /* "127.0.0.1", or the guest IP for GUEST_IP drivers */
    char guest_ip[64];  /* the node's own address as seen from inside (e.g. 10.0.2.15) */
    unsigned ssh_port;
    unsigned api_port;
    unsigned docker_port;
    const char *ssh_user; /* "docker" */
};

struct mk_driver {
    const char *name;
    const char *description;
    unsigned caps;
    size_t priv_size;
    /* usable on this host for cfg (NULL: the defaults; libvirt connects to
     * cfg->libvirt_uri)? err says why not (shown when auto-selecting) */
    int (*probe)(const struct mk_machine_config *cfg, struct mk_error **err);
    /* define the VM and its disks from cfg; m->name/dir are set. Does not boot.
     * The mk_machine_create wrapper has already created m->dir, checked the ISO
     * (and its .sha256), copied cfg into m (accel as asked, MK_ACCEL_AUTO left
     * for the driver to resolve) and picked the host ports of forwards[0..2];
     * it saves machine.json after create returns 0. */
    int (*create)(struct mk_machine *m, const struct mk_machine_config *cfg, struct mk_error **err);
    int (*start)(struct mk_machine *m, struct mk_error **err);
    int (*stop)(struct mk_machine *m, struct mk_error **err); /* graceful, bounded, then hard */
    int (*kill)(struct mk_machine *m, struct mk_error **err);
    /* remove the VM and its disks; tolerate half-created machines */
    int (*remove)(struct mk_machine *m, struct mk_error **err);
    int (*state)(struct mk_machine *m, enum mk_vm_state *st, struct mk_error **err);
    int (*endpoint)(struct mk_machine *m, struct mk_endpoint *ep, struct mk_error **err);
    /* add a runtime forward 127.0.0.1:*host_port -> guest_port (0 = pick) and
     * append it to m->forwards (the wrapper saves machine.json); a stopped
     * machine only records it, start re-adds every saved forward */
    int (*forward)(struct mk_machine *m, unsigned guest_port, unsigned *host_port,
                   struct mk_error **err);
    void (*release)(struct mk_machine *m); /* free priv contents (connections etc.) */
};

/* registry (driver.c): NULL-terminated, in auto-selection order */
extern const struct mk_driver *const mk_drivers[];
const struct mk_driver *mk_driver_lookup(const char *name);
/* First driver whose probe passes for cfg (NULL: the defaults); each skipped
 * driver is reported through mk_info with its reason. */
const struct mk_driver *mk_driver_autoselect(const struct mk_machine_config *cfg,
                                             struct mk_error **err);

/* Machine objects. machines_dir is $MKUBE_HOME/machines. */
struct mk_machine *mk_machine_new(const struct mk_driver *d, const char *machines_dir,
                                  const char *name);
/* Load machines/<name>/machine.json; returns 0 and *out=NULL when it does not exist. */
int mk_machine_load(const char *machines_dir, const char *name, struct mk_machine **out,
                    struct mk_error **err);
int mk_machine_save(const struct mk_machine *m, struct mk_error **err); /* atomic */
void mk_machine_free(struct mk_machine *m);

/* The wrappers every caller goes through. */
int mk_machine_create(struct mk_machine *m, const struct mk_machine_config *cfg,
                      struct mk_error **err);
int mk_machine_start(struct mk_machine *m, struct mk_error **err);
int mk_machine_stop(struct mk_machine *m, struct mk_error **err);
int mk_machine_kill(struct mk_machine *m, struct mk_error **err);
int mk_machine_remove(struct mk_machine *m, struct mk_error **err);
int mk_machine_state(struct mk_machine *m, enum mk_vm_state *st, struct mk_error **err);
int mk_machine_endpoint(struct mk_machine *m, struct mk_endpoint *ep, struct mk_error **err);
int mk_machine_forward(struct mk_machine *m, unsigned guest_port, unsigned *host_port,
                       struct mk_error **err);

/* Host port helpers (127.0.0.1 only). */
bool mk_port_free(unsigned port);
int mk_port_pick(unsigned *port, struct mk_error **err); /* a free ephemeral port */

/* Helpers shared by the drivers (driver.c). */
/* A free port not already used by one of m's forwards. */
int mk_machine_pick_port(const struct mk_machine *m, unsigned *port, struct mk_error **err);
/* Before a start: every forward whose host port got taken meanwhile moves to a
 * free one (said with mk_warn; machine.json saved) so the endpoint stays valid. */
int mk_machine_refresh_ports(struct mk_machine *m, struct mk_error **err);
/* The host port for a new runtime forward: *port itself when it is given and
 * free on 127.0.0.1 (an error when taken), else a free one not used by m. */
int mk_machine_forward_host_port(const struct mk_machine *m, unsigned *port,
                                 struct mk_error **err);
/* The endpoint of a machine reached through its 127.0.0.1 forwards (the
 * user-mode NAT drivers): host 127.0.0.1, the forwarded SSH/API/docker ports,
 * user "docker", guest_ip as the node's own address. */
int mk_machine_forwarded_endpoint(const struct mk_machine *m, const char *guest_ip,
                                  struct mk_endpoint *ep, struct mk_error **err);
/* Host port forwarding guest_port, or 0. */
unsigned mk_machine_forward_port(const struct mk_machine *m, unsigned guest_port);
char *mk_machine_disk_path(const struct mk_machine *m);    /* <dir>/disk.qcow2 */
char *mk_machine_console_path(const struct mk_machine *m); /* <dir>/console.log */
/* Seconds a graceful stop may take before the VM is killed: 90 (TCG boots and
 * shuts down slowly), or $MKUBE_STOP_TIMEOUT. */
int mk_machine_stop_timeout(void);
/* Fail clearly when a boot file the machine needs is missing. */
int mk_machine_check_files(const struct mk_machine *m, struct mk_error **err);
/* Verify path against "<path>.sha256" (sha256sum format) when that file exists. */
int mk_file_verify_sha256(const char *path, struct mk_error **err);

#endif
