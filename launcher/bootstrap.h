/* bootstrap.h - turns a booted mkube VM into a Kubernetes node: provision the
 * guest (bundle, units, certs, CNI) and run kubeadm init, or bring an existing
 * cluster back after a restart. Knows nothing about the hypervisor: it only
 * gets an SSH connection and the guest's address. */
#ifndef MK_BOOTSTRAP_H
#define MK_BOOTSTRAP_H

#include <stdbool.h>

#include "error.h"
#include "kapi.h"
#include "ssh.h"

struct mk_bootstrap {
    struct mk_ssh *ssh;
    const char *profile;        /* cluster name */
    const char *node_name;      /* guest hostname */
    const char *guest_ip;       /* e.g. 10.0.2.15 */
    const char *k8s_version;
    const char *bundle_path;    /* host .tar.zst (uploaded only when not installed) */
    const char *bundle_sha256;
    const char *pause_image;
    const char *ca_crt, *ca_key; /* the installation CA: kubeadm signs the rest */
    const char *docker_ca, *docker_server_crt, *docker_server_key;
    int timeout_s;              /* bound for kubeadm init */
    const char *provision_log;  /* host files keeping the guest scripts' output, or NULL */
    const char *cluster_log;
};

/* Every start: install the bundle once, re-create units/links/CNI/TLS. */
int mk_bootstrap_provision(const struct mk_bootstrap *b, struct mk_error **err);
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
int mk_wait_cluster(const struct mk_kapi *k, unsigned mask, int timeout_s,
                    struct mk_error **err);

#endif
