/* bootstrap.h - turns a booted mkube VM into a Kubernetes node: provision the
 * guest (bundle, units, certs, CNI) and run kubeadm init, or bring an existing
 * cluster back after a restart. Knows nothing about the hypervisor: it only
 * gets an SSH connection and the guest's address. */
#ifndef MK_BOOTSTRAP_H
#define MK_BOOTSTRAP_H

#include <stdbool.h>
#include <time.h>

#include "error.h"
#include "kapi.h"
#include "ssh.h"

struct mk_bootstrap {
    struct mk_ssh *ssh;
    const char *profile;   /* cluster name */
    const char *node_name; /* guest hostname */
    const char *guest_ip;  /* e.g. 10.0.2.15 */
    const char *k8s_version;
    const char *bundle_path; /* host .tar.zst (uploaded only when not installed) */
    const char *bundle_sha256;
    const char *pause_image;
    const char *ca_crt, *ca_key; /* the installation CA: kubeadm signs the rest */
    const char *docker_ca, *docker_server_crt, *docker_server_key;
    int timeout_s;             /* bound for kubeadm init */
    const char *provision_log; /* host files keeping the guest scripts' output, or NULL */
    const char *cluster_log;
};

/* Every start: install the bundle once, re-create units/links/CNI/TLS. */
int mk_bootstrap_provision(const struct mk_bootstrap *b, struct mk_error **err);
/* When the guest booted, by the guest's own clock (the one kubelet and
 * dockerd stamp the API's times with). */
int mk_bootstrap_boot_time(struct mk_ssh *s, time_t *out, struct mk_error **err);
/* kubeadm init on a new node, kubelet restart on an existing one. *fresh says which. */
int mk_bootstrap_cluster(const struct mk_bootstrap *b, bool *fresh, struct mk_error **err);

/* Waits (--wait): bits of enum mk_wait. */
enum mk_wait {
    MK_WAIT_APISERVER = 1 << 0,
    MK_WAIT_SYSTEM_PODS = 1 << 1,
    MK_WAIT_NODE_READY = 1 << 2,
    MK_WAIT_DEFAULT_SA = 1 << 3,
    MK_WAIT_APPS_RUNNING = 1 << 4, /* kube-dns (CoreDNS) and kube-proxy Running */
    MK_WAIT_KUBELET = 1 << 5,      /* kubelet registered the node and posts its status */
    MK_WAIT_ALL = 0x3f,
};
/* minikube's names: "apiserver,system_pods,default_sa,apps_running,node_ready,kubelet"
 * (any subset) | "all" | "none" | "true"/"false" */
int mk_wait_parse(const char *spec, unsigned *mask, struct mk_error **err);
/* Wait for the components in mask. since: when the VM was (re)started (by
 * the guest's clock: mk_bootstrap_boot_time), 0 when it kept running; after a restart the API
 * server still holds the node's and pods' status from before the stop, so only a lease renewed and
 * containers started since then count. */
int mk_wait_cluster(const struct mk_kapi *k, unsigned mask, time_t since, int timeout_s,
                    struct mk_error **err);

/* The pure checks behind the waits, on the API's JSON (unit-tested). */
#define MK_WAIT_CLOCK_SLACK_S 2
/* The checks /readyz?verbose reports failed ("[-]etcd failed: ..."), comma
 * separated; NULL when none (caller frees). */
char *mk_readyz_failing(const char *body);
/* a coordination.k8s.io Lease renewed at or after since (minus the slack) */
bool mk_wait_lease_fresh(const json_t *lease, time_t since, char **why);
/* For each prefix in want (NULL-terminated), a pod of the list is Running
 * and, when since is not 0, has a container running since then. */
bool mk_wait_pods_running(const json_t *pods, const char *const *want, time_t since, char **why);

#endif
