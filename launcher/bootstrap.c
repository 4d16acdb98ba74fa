/* bootstrap.c - provisioning and kubeadm over SSH, and the readiness waits (see bootstrap.h). */
#include "bootstrap.h"

#include <jansson.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fsutil.h"
#include "guest.h"
#include "kubeadm.h"
#include "log.h"

#define GUEST_UPLOAD "/home/docker/.mkube-bundle.tar.zst"
#define GUEST_KUBEADM_CONFIG "/var/lib/mkube/kubeadm.yaml"

/* Copy a host file into a root-owned place when its content differs. */
static int push_file(struct mk_ssh *s, const char *local, const char *remote, unsigned mode,
                     struct mk_error **err)
{
    mk_autobuf struct mk_buf data = MK_BUF_INIT;
    if (mk_read_file(local, &data, 0, NULL, err) < 0)
        return -1;
    if (mk_ssh_sudo_write(s, data.buf ? data.buf : "", data.len, remote, mode, err) < 0)
        return mk_error_wrap(err, "cannot copy %s into the guest", local);
    return 0;
}

/* The line that best says why a guest script failed: the last one that
 * mentions an error (kubeadm ends with a generic "--v=5" hint), else the last. */
static char *failure_line(const char *text)
{
    mk_autofree char *copy = xstrdup(text);
    char *save = NULL, *last = NULL, *last_err = NULL, *last_prefixed = NULL;
    for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        while (*l == ' ' || *l == '\t')
            l++;
        if (!*l)
            continue;
        last = l;
        if (strncasecmp(l, "error", 5) == 0 || strncasecmp(l, "fatal", 5) == 0)
            last_prefixed = l; /* kubeadm: "error: error execution phase ..." */
        else if (!strstr(l, "--v=5") &&
                 (strcasestr(l, "error") || strcasestr(l, "failed") || strcasestr(l, "timed out")))
            last_err = l;
    }
    const char *pick = last_prefixed ? last_prefixed : last_err ? last_err : last;
    return xstrdup(pick ? pick : "(no output)");
}

/* Run an embedded script as root with the given environment; its whole
 * output goes to log_path on the host (for `mkube logs` and bug reports). */
static int run_script(struct mk_ssh *s, const char *script, const char *env, int timeout_s,
                      const char *log_path, struct mk_error **err)
{
    mk_autofree char *cmd = xasprintf("sudo env %s sh -s 2>&1", env);
    mk_autobuf struct mk_buf out = MK_BUF_INIT;
    int status = 0;
    if (mk_ssh_run(s, cmd, script, strlen(script), &out, NULL, &status, timeout_s * 1000, err) < 0)
        return -1;
    mk_debug(1, "guest script output:\n%s", mk_buf_str(&out));
    if (log_path) {
        struct mk_error *e = NULL;
        if (mk_write_file_atomic(log_path, out.buf ? out.buf : "", out.len, 0600, &e) < 0) {
            mk_debug(1, "cannot keep the guest log: %s", e->msg);
            mk_error_free(e);
        }
    }
    if (status != 0) {
        mk_autofree char *why = failure_line(mk_buf_str(&out));
        mk_error_set(err, MK_EXIT_GUEST, "guest script exited with status %d: %s", status, why);
        if (log_path)
            mk_error_hint(err, "the whole output is in %s", log_path);
        return -1;
    }
    return 0;
}

int mk_bootstrap_provision(const struct mk_bootstrap *b, struct mk_error **err)
{
    struct mk_ssh *s = b->ssh;
    if (push_file(s, b->ca_crt, MK_CERTS_DIR "/ca.crt", 0644, err) < 0 ||
        push_file(s, b->ca_key, MK_CERTS_DIR "/ca.key", 0600, err) < 0)
        return -1;
    if (b->docker_server_crt &&
        (push_file(s, b->docker_ca, "/var/lib/mkube/docker-tls/ca.pem", 0644, err) < 0 ||
         push_file(s, b->docker_server_crt, "/var/lib/mkube/docker-tls/server.pem", 0644, err) < 0 ||
         push_file(s, b->docker_server_key, "/var/lib/mkube/docker-tls/server-key.pem", 0600,
                   err) < 0))
        return -1;

    mk_autofree char *check =
        xasprintf("test -f /var/lib/mkube/binaries/%s/.complete", b->k8s_version);
    int status = 1;
    if (mk_ssh_run(s, check, NULL, 0, NULL, NULL, &status, 30000, err) < 0)
        return -1;
    const char *upload = "";
    if (status != 0) {
        mk_info("Copying the Kubernetes %s bundle into the VM", b->k8s_version);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (mk_ssh_copy(s, b->bundle_path, GUEST_UPLOAD, 0600, err) < 0)
            return mk_error_wrap(err, "cannot copy the bundle into the VM");
        clock_gettime(CLOCK_MONOTONIC, &t1);
        mk_debug(1, "bundle copied in %.1f s",
                 (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
        upload = GUEST_UPLOAD;
    }
    mk_autofree char *env = xasprintf(
        "MK_K8S_VERSION=%s MK_BUNDLE=%s MK_BUNDLE_SHA256=%s MK_GUEST_IP=%s MK_NODE_NAME=%s "
        "MK_PAUSE_IMAGE=%s MK_POD_SUBNET=%s",
        b->k8s_version, upload, b->bundle_sha256, b->guest_ip, b->node_name, b->pause_image,
        MK_POD_SUBNET);
    if (run_script(s, mk_guest_provision_sh, env, 1800, b->provision_log, err) < 0)
        return mk_error_wrap(err, "cannot provision the VM");
    return 0;
}

int mk_bootstrap_cluster(const struct mk_bootstrap *b, bool *fresh, struct mk_error **err)
{
    struct mk_ssh *s = b->ssh;
    int status = 1;
    if (mk_ssh_run(s, "sudo test -f /var/lib/mkube/.cluster-initialised", NULL, 0, NULL, NULL,
                   &status, 30000, err) < 0)
        return -1;
    *fresh = status != 0;

    const char *sans[] = {b->node_name, NULL};
    struct mk_kubeadm_params kp = {
        .kubernetes_version = b->k8s_version,
        .cluster_name = b->profile,
        .node_name = b->node_name,
        .advertise_address = b->guest_ip,
        .api_port = 8443,
        .cert_sans = sans,
    };
    mk_autobuf struct mk_buf cfg = MK_BUF_INIT;
    if (mk_kubeadm_render(&kp, &cfg, err) < 0)
        return -1;
    if (mk_ssh_sudo_write(s, cfg.buf, cfg.len, GUEST_KUBEADM_CONFIG, 0600, err) < 0)
        return mk_error_wrap(err, "cannot write the kubeadm config into the VM");
    mk_autofree char *env =
        xasprintf("MK_K8S_VERSION=%s MK_KUBEADM_CONFIG=%s MK_IGNORE_PREFLIGHT=%s",
                  b->k8s_version, GUEST_KUBEADM_CONFIG, mk_kubeadm_ignore_preflight);
    if (run_script(s, mk_guest_cluster_sh, env, b->timeout_s > 0 ? b->timeout_s : 1800,
                   b->cluster_log, err) < 0)
        return mk_error_wrap(err, *fresh ? "kubeadm init failed" : "cannot restart the cluster");
    return 0;
}

/* ---- waits ---- */

int mk_wait_parse(const char *spec, unsigned *mask, struct mk_error **err)
{
    *mask = 0;
    if (mk_streq(spec, "all") || mk_streq(spec, "true")) {
        *mask = MK_WAIT_ALL;
        return 0;
    }
    if (mk_streq(spec, "none") || mk_streq(spec, "false") || !*spec)
        return 0;
    mk_autofree char *copy = xstrdup(spec);
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (mk_streq(t, "apiserver"))
            *mask |= MK_WAIT_APISERVER;
        else if (mk_streq(t, "system_pods"))
            *mask |= MK_WAIT_SYSTEM_PODS;
        else if (mk_streq(t, "node_ready"))
            *mask |= MK_WAIT_NODE_READY;
        else if (mk_streq(t, "default_sa"))
            *mask |= MK_WAIT_DEFAULT_SA;
        else if (mk_streq(t, "apps_running"))
            *mask |= MK_WAIT_APPS_RUNNING;
        else if (mk_streq(t, "kubelet"))
            *mask |= MK_WAIT_KUBELET;
        else
            return mk_error_set(err, MK_EXIT_USAGE,
                                "invalid --wait component \"%s\": expected apiserver, "
                                "system_pods, default_sa, apps_running, node_ready, kubelet, "
                                "all or none",
                                t);
    }
    return 0;
}

static long now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

static bool apiserver_ready(const struct mk_kapi *k, char **why)
{
    mk_autobuf struct mk_buf body = MK_BUF_INIT;
    long code = 0;
    struct mk_error *e = NULL;
    if (mk_kapi_get(k, "/readyz", &code, &body, &e) < 0) {
        free(*why);
        *why = xstrdup(e->msg);
        mk_error_free(e);
        return false;
    }
    if (code != 200) {
        free(*why);
        *why = xasprintf("/readyz answered HTTP %ld", code);
        return false;
    }
    return true;
}

/* The node's Ready condition: *posted when kubelet reported one at all. */
static bool node_condition(const struct mk_kapi *k, bool *posted, char **why)
{
    json_t *nodes = NULL;
    struct mk_error *e = NULL;
    *posted = false;
    if (mk_kapi_get_json(k, "/api/v1/nodes", &nodes, &e) < 0) {
        free(*why);
        *why = xstrdup(e->msg);
        mk_error_free(e);
        return false;
    }
    bool ready = false;
    size_t i, j;
    json_t *n, *c;
    json_array_foreach(json_object_get(nodes, "items"), i, n)
    {
        json_array_foreach(json_object_get(json_object_get(n, "status"), "conditions"), j, c)
        {
            if (!mk_streq(json_string_value(json_object_get(c, "type")), "Ready"))
                continue;
            *posted = true;
            if (mk_streq(json_string_value(json_object_get(c, "status")), "True"))
                ready = true;
        }
    }
    json_decref(nodes);
    if (!*posted) {
        free(*why);
        *why = xstrdup("kubelet has not registered the node yet");
    }
    return ready;
}

static bool node_ready(const struct mk_kapi *k, char **why)
{
    bool posted;
    bool ready = node_condition(k, &posted, why);
    if (!ready && posted) {
        free(*why);
        *why = xstrdup("the node is not Ready yet");
    }
    return ready;
}

/* Are kube-system pods whose names start with each of want[] Running? */
static bool pods_running(const struct mk_kapi *k, const char *const *want, char **why)
{
    json_t *pods = NULL;
    struct mk_error *e = NULL;
    if (mk_kapi_get_json(k, "/api/v1/namespaces/kube-system/pods", &pods, &e) < 0) {
        free(*why);
        *why = xstrdup(e->msg);
        mk_error_free(e);
        return false;
    }
    bool ok = true;
    for (size_t w = 0; want[w] && ok; w++) {
        bool found = false;
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(pods, "items"), i, p)
        {
            const char *name = json_string_value(json_object_get(json_object_get(p, "metadata"), "name"));
            const char *phase = json_string_value(json_object_get(json_object_get(p, "status"), "phase"));
            if (name && mk_str_has_prefix(name, want[w]) && mk_streq(phase, "Running"))
                found = true;
        }
        if (!found) {
            free(*why);
            *why = xasprintf("kube-system pod %s is not Running yet", want[w]);
            ok = false;
        }
    }
    json_decref(pods);
    return ok;
}

/* The control plane and kube-system pods minikube waits for. */
static bool system_pods_running(const struct mk_kapi *k, char **why)
{
    static const char *const want[] = {"etcd", "kube-apiserver", "kube-controller-manager",
                                       "kube-scheduler", "kube-proxy", "coredns", NULL};
    return pods_running(k, want, why);
}

static bool apps_running(const struct mk_kapi *k, char **why)
{
    static const char *const want[] = {"coredns", "kube-proxy", NULL};
    return pods_running(k, want, why);
}

/* kubelet registered the node and posted a Ready condition (true or not) */
static bool kubelet_posting(const struct mk_kapi *k, char **why)
{
    bool posted;
    node_condition(k, &posted, why);
    return posted;
}

static bool default_sa(const struct mk_kapi *k, char **why)
{
    mk_autobuf struct mk_buf body = MK_BUF_INIT;
    long code = 0;
    struct mk_error *e = NULL;
    if (mk_kapi_get(k, "/api/v1/namespaces/default/serviceaccounts/default", &code, &body, &e) <
        0) {
        free(*why);
        *why = xstrdup(e->msg);
        mk_error_free(e);
        return false;
    }
    if (code != 200) {
        free(*why);
        *why = xstrdup("the default service account does not exist yet");
        return false;
    }
    return true;
}

int mk_wait_cluster(const struct mk_kapi *k, unsigned mask, int timeout_s, struct mk_error **err)
{
    static const struct {
        unsigned bit;
        const char *what;
        bool (*check)(const struct mk_kapi *, char **);
    } steps[] = {
        {MK_WAIT_APISERVER, "the API server", apiserver_ready},
        {MK_WAIT_KUBELET, "kubelet to register the node", kubelet_posting},
        {MK_WAIT_NODE_READY, "the node to be Ready", node_ready},
        {MK_WAIT_SYSTEM_PODS, "the kube-system pods", system_pods_running},
        {MK_WAIT_APPS_RUNNING, "CoreDNS and kube-proxy", apps_running},
        {MK_WAIT_DEFAULT_SA, "the default service account", default_sa},
    };
    long deadline = now_s() + timeout_s;
    mk_autofree char *why = NULL;
    for (size_t i = 0; i < MK_ARRAY_SIZE(steps); i++) {
        if (!(mask & steps[i].bit))
            continue;
        mk_debug(1, "waiting for %s", steps[i].what);
        while (!steps[i].check(k, &why)) {
            if (now_s() >= deadline) {
                mk_error_set(err, MK_EXIT_GUEST, "timed out after %d s waiting for %s: %s",
                             timeout_s, steps[i].what, why ? why : "not ready");
                return mk_error_hint(err, "run 'mkube logs' to see why; under software "
                                          "emulation (no KVM) a longer --wait-timeout may help");
            }
            sleep(2);
        }
    }
    return 0;
}
