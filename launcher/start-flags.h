/* start-flags.h - `mkube start` flags: parsed, validated and resolved against
 * the environment, config file and defaults (config.h) into one struct, so
 * cmd-start.c gets clean values and bad input is refused before anything runs. */
#ifndef MK_START_FLAGS_H
#define MK_START_FLAGS_H

#include <stdbool.h>
#include <stdint.h>

#include "commands.h"
#include "driver.h"

/* Which settings came from the user (flag, env or config file) rather than a
 * default: cmd-start.c warns when they differ from an existing profile. */
#define MK_START_GIVEN_DRIVER 0x01u
#define MK_START_GIVEN_CPUS 0x02u
#define MK_START_GIVEN_MEMORY 0x04u
#define MK_START_GIVEN_DISK 0x08u
#define MK_START_GIVEN_K8S_VERSION 0x10u
#define MK_START_GIVEN_RUNTIME 0x20u

#define MK_START_DEFAULT_WAIT "apiserver,system_pods"
#define MK_START_ALL_WAIT "apiserver,system_pods,default_sa,apps_running,node_ready,kubelet"

struct mk_start_opts {
    char *driver; /* "" = pick automatically */
    unsigned cpus;
    uint64_t memory_mib, disk_mib;
    char *kubernetes_version;   /* "vX.Y.Z" */
    char *container_runtime;    /* "docker" or "containerd" */
    char *iso_url, *bundle_url; /* NULL = the defaults (built image and bundle) */
    char *wait;                 /* comma list of components (MK_START_ALL_WAIT names), or "none" */
    unsigned wait_timeout_s;    /* default 900 */
    bool keep_context;          /* do not switch kubectl's current context */
    bool embed_certs;           /* certificates inline in the kubeconfig */
    enum mk_accel accel;        /* --accel auto|kvm|tcg */
    char *libvirt_uri;          /* NULL = the driver's default */
    bool direct_boot;           /* boot kernel+initrd directly when the driver can (default on) */
    unsigned ssh_port, api_port, docker_port; /* host side of the forwards; 0 = pick */
    unsigned given;                           /* MK_START_GIVEN_* */
};

/* Flag help for `mkube start --help`. */
extern const char mk_start_flags_help[];

/* Parse argv (argv[0] = "start") for profile g->profile. On success fills *o
 * (release with mk_start_opts_release); on bad input returns -1 with a one-line
 * MK_EXIT_USAGE error and touches nothing on disk. */
int mk_start_parse(const struct mk_globals *g, int argc, char **argv, struct mk_start_opts *o,
                   struct mk_error **err);
void mk_start_opts_release(struct mk_start_opts *o);

#endif
