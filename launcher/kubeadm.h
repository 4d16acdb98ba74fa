/* kubeadm.h - renders mkube's kubeadm configuration (v1beta4) with libyaml:
 * InitConfiguration, ClusterConfiguration, KubeletConfiguration and
 * KubeProxyConfiguration, pinned so kubeadm never looks online or pulls. */
#ifndef MK_KUBEADM_H
#define MK_KUBEADM_H

#include "buf.h"
#include "error.h"

#define MK_POD_SUBNET "10.244.0.0/16"
#define MK_SERVICE_SUBNET "10.96.0.0/12"
#define MK_CONTROL_PLANE_HOST "control-plane.mkube.internal"
#define MK_CERTS_DIR "/var/lib/mkube/certs"
#define MK_ETCD_DIR "/var/lib/mkube/etcd"
#define MK_CRI_SOCKET "unix:///var/run/cri-dockerd.sock"

struct mk_kubeadm_params {
    const char *kubernetes_version; /* "v1.37.2" */
    const char *cluster_name;       /* the profile */
    const char *node_name;          /* the guest hostname */
    const char *advertise_address;  /* the guest IP */
    unsigned api_port;              /* guest side, 8443 */
    const char *const *cert_sans;   /* extra apiserver SANs, NULL-terminated */
};

/* Render the multi-document YAML into out. */
int mk_kubeadm_render(const struct mk_kubeadm_params *p, struct mk_buf *out, struct mk_error **err);

/* Preflight checks a one-node VM does not pass and does not need. */
extern const char mk_kubeadm_ignore_preflight[];

#endif
