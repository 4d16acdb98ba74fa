/* kubeadm.c - kubeadm config rendering through libyaml's emitter (see kubeadm.h). */
#include "kubeadm.h"

#include <stdio.h>
#include <string.h>
#include <yaml.h>

const char mk_kubeadm_ignore_preflight[] =
    "NumCPU,Mem,Swap,SystemVerification,FileContent--proc-sys-net-bridge-bridge-nf-call-iptables,"
    "DirAvailable--var-lib-mkube-etcd,Port-10250";

struct emitter {
    yaml_emitter_t e;
    struct mk_buf *out;
    bool failed;
};

static int write_cb(void *data, unsigned char *buffer, size_t size)
{
    struct emitter *em = data;
    mk_buf_add(em->out, buffer, size);
    return 1;
}

static void emit(struct emitter *em, yaml_event_t *ev)
{
    if (em->failed) {
        yaml_event_delete(ev);
        return;
    }
    if (!yaml_emitter_emit(&em->e, ev))
        em->failed = true;
}

static void scalar(struct emitter *em, const char *s)
{
    yaml_event_t ev;
    /* plain style unless YAML would read the text as something else */
    yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
    if (!*s || strspn(s, "0123456789.") == strlen(s) || !strcmp(s, "true") || !strcmp(s, "false"))
        style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1, style);
    emit(em, &ev);
}

/* an unquoted scalar that YAML reads as a number or boolean */
static void raw(struct emitter *em, const char *s)
{
    yaml_event_t ev;
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
                                 YAML_PLAIN_SCALAR_STYLE);
    emit(em, &ev);
}

static void map_start(struct emitter *em)
{
    yaml_event_t ev;
    yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
    emit(em, &ev);
}

static void map_end(struct emitter *em)
{
    yaml_event_t ev;
    yaml_mapping_end_event_initialize(&ev);
    emit(em, &ev);
}

static void seq_start(struct emitter *em, bool flow)
{
    yaml_event_t ev;
    yaml_sequence_start_event_initialize(
        &ev, NULL, NULL, 1, flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE);
    emit(em, &ev);
}

static void seq_end(struct emitter *em)
{
    yaml_event_t ev;
    yaml_sequence_end_event_initialize(&ev);
    emit(em, &ev);
}

static void doc_start(struct emitter *em)
{
    yaml_event_t ev;
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 0);
    emit(em, &ev);
}

static void doc_end(struct emitter *em)
{
    yaml_event_t ev;
    yaml_document_end_event_initialize(&ev, 1);
    emit(em, &ev);
}

static void kv(struct emitter *em, const char *k, const char *v)
{
    scalar(em, k);
    scalar(em, v);
}

static void kv_raw(struct emitter *em, const char *k, const char *v)
{
    scalar(em, k);
    raw(em, v);
}

/* v1beta4 extraArgs/kubeletExtraArgs (key): a list of {name, value} */
static void extra_args(struct emitter *em, const char *key, const char *const *pairs)
{
    scalar(em, key);
    seq_start(em, false);
    for (size_t i = 0; pairs[i]; i += 2) {
        map_start(em);
        kv(em, "name", pairs[i]);
        kv(em, "value", pairs[i + 1]);
        map_end(em);
    }
    seq_end(em);
}

static void header(struct emitter *em, const char *api, const char *kind)
{
    doc_start(em);
    map_start(em);
    kv(em, "apiVersion", api);
    kv(em, "kind", kind);
}

/* Kubernetes 1.36 made ExtendWebSocketsToKubelet beta and on: the API server
 * hands exec/attach/port-forward websockets to kubelet, which then dials the
 * runtime's streaming URL. cri-dockerd advertises that URL without a scheme
 * ("//[::]:PORT/cri/exec/..."), kubelet takes it for https and every
 * `kubectl exec` fails with "server gave HTTP response to HTTPS client"
 * (Mirantis/cri-dockerd#569). The gate off on both sides restores the SPDY
 * path that works with cri-dockerd. Only 1.36 and later know the gate. */
static bool needs_websocket_gate(const char *version)
{
    unsigned major = 0, minor = 0;
    if (!version || sscanf(version[0] == 'v' ? version + 1 : version, "%u.%u", &major, &minor) != 2)
        return false;
    return major > 1 || (major == 1 && minor >= 36);
}

#define MK_WEBSOCKET_GATE "ExtendWebSocketsToKubelet"

int mk_kubeadm_render(const struct mk_kubeadm_params *p, struct mk_buf *out, struct mk_error **err)
{
    bool ws_gate = needs_websocket_gate(p->kubernetes_version);
    struct emitter em = {.out = out};
    if (!yaml_emitter_initialize(&em.e))
        return mk_error_set(err, MK_EXIT_FAILURE, "cannot initialise the YAML emitter");
    yaml_emitter_set_output(&em.e, write_cb, &em);
    yaml_emitter_set_unicode(&em.e, 1);
    yaml_emitter_set_width(&em.e, 1000);

    char port[16];
    snprintf(port, sizeof(port), "%u", p->api_port);
    mk_autofree char *endpoint = xasprintf("%s:%u", MK_CONTROL_PLANE_HOST, p->api_port);

    yaml_event_t ev;
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    emit(&em, &ev);

    header(&em, "kubeadm.k8s.io/v1beta4", "InitConfiguration");
    scalar(&em, "localAPIEndpoint");
    map_start(&em);
    kv(&em, "advertiseAddress", p->advertise_address);
    kv_raw(&em, "bindPort", port);
    map_end(&em);
    scalar(&em, "nodeRegistration");
    map_start(&em);
    kv(&em, "criSocket", MK_CRI_SOCKET);
    kv(&em, "name", p->node_name);
    kv(&em, "imagePullPolicy", "Never");
    const char *kubelet_args[] = {"node-ip", p->advertise_address, NULL};
    extra_args(&em, "kubeletExtraArgs", kubelet_args);
    /* a one-node cluster: no control-plane taint, workloads run here */
    scalar(&em, "taints");
    seq_start(&em, true);
    seq_end(&em);
    map_end(&em);
    scalar(&em, "timeouts");
    map_start(&em);
    /* sized for software emulation on a busy host: the API server alone took
     * more than 5 minutes to answer there (kubeadm's defaults are 4m/1m-ish) */
    kv(&em, "controlPlaneComponentHealthCheck", "30m0s");
    kv(&em, "kubeletHealthCheck", "20m0s");
    kv(&em, "kubernetesAPICall", "20m0s");
    kv(&em, "etcdAPICall", "20m0s");
    kv(&em, "tlsBootstrap", "20m0s");
    map_end(&em);
    map_end(&em);
    doc_end(&em);

    header(&em, "kubeadm.k8s.io/v1beta4", "ClusterConfiguration");
    kv(&em, "clusterName", p->cluster_name);
    kv(&em, "kubernetesVersion", p->kubernetes_version);
    kv(&em, "controlPlaneEndpoint", endpoint);
    kv(&em, "certificatesDir", MK_CERTS_DIR);
    kv(&em, "imageRepository", "registry.k8s.io");
    scalar(&em, "networking");
    map_start(&em);
    kv(&em, "dnsDomain", "cluster.local");
    kv(&em, "podSubnet", MK_POD_SUBNET);
    kv(&em, "serviceSubnet", MK_SERVICE_SUBNET);
    map_end(&em);
    scalar(&em, "apiServer");
    map_start(&em);
    scalar(&em, "certSANs");
    seq_start(&em, false);
    scalar(&em, "127.0.0.1");
    scalar(&em, "localhost");
    scalar(&em, MK_CONTROL_PLANE_HOST);
    scalar(&em, p->advertise_address);
    for (size_t i = 0; p->cert_sans && p->cert_sans[i]; i++)
        scalar(&em, p->cert_sans[i]);
    seq_end(&em);
    const char *api_args[] = {"enable-admission-plugins",
                              "NamespaceLifecycle,LimitRanger,ServiceAccount,DefaultStorageClass,"
                              "DefaultTolerationSeconds,NodeRestriction,MutatingAdmissionWebhook,"
                              "ValidatingAdmissionWebhook,ResourceQuota",
                              "service-node-port-range",
                              "30000-32767",
                              ws_gate ? "feature-gates" : NULL,
                              MK_WEBSOCKET_GATE "=false",
                              NULL};
    extra_args(&em, "extraArgs", api_args);
    map_end(&em);
    const char *no_elect[] = {"leader-elect", "false", NULL};
    scalar(&em, "controllerManager");
    map_start(&em);
    extra_args(&em, "extraArgs", no_elect);
    map_end(&em);
    scalar(&em, "scheduler");
    map_start(&em);
    extra_args(&em, "extraArgs", no_elect);
    map_end(&em);
    scalar(&em, "etcd");
    map_start(&em);
    scalar(&em, "local");
    map_start(&em);
    kv(&em, "dataDir", MK_ETCD_DIR);
    map_end(&em);
    map_end(&em);
    map_end(&em);
    doc_end(&em);

    header(&em, "kubelet.config.k8s.io/v1beta1", "KubeletConfiguration");
    kv(&em, "cgroupDriver", "systemd");
    kv(&em, "containerRuntimeEndpoint", MK_CRI_SOCKET);
    kv(&em, "hairpinMode", "hairpin-veth");
    kv_raw(&em, "failSwapOn", "false");
    kv(&em, "clusterDomain", "cluster.local");
    /* a laptop VM: do not evict pods because the small data disk fills up */
    scalar(&em, "evictionHard");
    map_start(&em);
    kv(&em, "nodefs.available", "0%");
    kv(&em, "nodefs.inodesFree", "0%");
    kv(&em, "imagefs.available", "0%");
    map_end(&em);
    kv_raw(&em, "imageGCHighThresholdPercent", "100");
    if (ws_gate) {
        scalar(&em, "featureGates");
        map_start(&em);
        kv_raw(&em, MK_WEBSOCKET_GATE, "false");
        map_end(&em);
    }
    map_end(&em);
    doc_end(&em);

    header(&em, "kubeproxy.config.k8s.io/v1alpha1", "KubeProxyConfiguration");
    kv(&em, "clusterCIDR", MK_POD_SUBNET);
    kv(&em, "metricsBindAddress", "0.0.0.0:10249");
    scalar(&em, "conntrack");
    map_start(&em);
    kv_raw(&em, "maxPerCore", "0");
    kv(&em, "tcpEstablishedTimeout", "0s");
    kv(&em, "tcpCloseWaitTimeout", "0s");
    map_end(&em);
    map_end(&em);
    doc_end(&em);

    yaml_stream_end_event_initialize(&ev);
    emit(&em, &ev);
    bool failed = em.failed;
    const char *problem = em.e.problem;
    mk_autofree char *why = xstrdup(problem ? problem : "unknown error");
    yaml_emitter_delete(&em.e);
    if (failed)
        return mk_error_set(err, MK_EXIT_FAILURE, "cannot render the kubeadm config: %s", why);
    return 0;
}
