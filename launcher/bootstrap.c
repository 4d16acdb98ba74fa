/* bootstrap.c - provisioning and kubeadm over SSH, and the readiness waits (see bootstrap.h). */
#include "bootstrap.h"

#include <jansson.h>
#include <stdlib.h>
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
#define GUEST_BOOT_SCRIPT "/var/lib/mkube/boot/provision.sh"

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

/* Leave the provisioning that just worked on the data disk, its settings
 * first: the image's mkube-node.service runs it at the next boot and starts
 * kubelet before the host reconnects (docs/image.md). */
static int save_for_boot(struct mk_ssh *s, const struct mk_bootstrap *b, struct mk_error **err)
{
    mk_autofree char *script =
        xasprintf("# saved by mkube start: the settings of its last successful provisioning\n"
                  "export MK_K8S_VERSION='%s' MK_BUNDLE='' MK_BUNDLE_SHA256='%s' MK_GUEST_IP='%s'\n"
                  "export MK_NODE_NAME='%s' MK_PAUSE_IMAGE='%s' MK_POD_SUBNET='%s'\n%s",
                  b->k8s_version, b->bundle_sha256, b->guest_ip, b->node_name, b->pause_image,
                  MK_POD_SUBNET, mk_guest_provision_sh);
    if (mk_ssh_sudo_write(s, script, strlen(script), GUEST_BOOT_SCRIPT, 0755, err) < 0)
        return mk_error_wrap(err, "cannot save the provisioning for the next boot");
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
         push_file(s, b->docker_server_crt, "/var/lib/mkube/docker-tls/server.pem", 0644, err) <
             0 ||
         push_file(s, b->docker_server_key, "/var/lib/mkube/docker-tls/server-key.pem", 0600, err) <
             0))
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
    return save_for_boot(s, b, err);
}

int mk_bootstrap_boot_time(struct mk_ssh *s, time_t *out, struct mk_error **err)
{
    mk_autobuf struct mk_buf o = MK_BUF_INIT;
    if (mk_ssh_run_check(s, "echo $(( $(date +%s) - $(cut -d. -f1 /proc/uptime) ))", NULL, 0, &o,
                         30000, err) < 0)
        return -1;
    char *end = NULL;
    long long v = strtoll(mk_buf_str(&o), &end, 10);
    if (end == mk_buf_str(&o) || v <= 0)
        return mk_error_set(err, MK_EXIT_GUEST, "the guest's boot time is not a number: \"%s\"",
                            mk_buf_str(&o));
    *out = (time_t)v;
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
        xasprintf("MK_K8S_VERSION=%s MK_KUBEADM_CONFIG=%s MK_IGNORE_PREFLIGHT=%s", b->k8s_version,
                  GUEST_KUBEADM_CONFIG, mk_kubeadm_ignore_preflight);
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

/* what every wait step sees: the API, and when the guest booted (0 when the
 * VM kept running) */
struct wait_ctx {
    const struct mk_kapi *k;
    time_t since;
};

static void set_why(char **why, char *text)
{
    free(*why);
    *why = text;
}

/* GET path as JSON; on failure *why says why */
static json_t *get_json(const struct wait_ctx *w, const char *path, char **why)
{
    json_t *j = NULL;
    struct mk_error *e = NULL;
    if (mk_kapi_get_json(w->k, path, &j, &e) < 0) {
        set_why(why, xstrdup(e->msg));
        mk_error_free(e);
        return NULL;
    }
    return j;
}

/* GET path into *code and body; false (and *why) when the API server was
 * not reached */
static bool get(const struct wait_ctx *w, const char *path, long *code, struct mk_buf *body,
                char **why)
{
    struct mk_error *e = NULL;
    if (mk_kapi_get(w->k, path, code, body, &e) < 0) {
        set_why(why, xstrdup(e->msg));
        mk_error_free(e);
        return false;
    }
    return true;
}

/* GET path: true on 200, else *why gets what (or the error) */
static bool get_ok(const struct wait_ctx *w, const char *path, const char *what, char **why)
{
    mk_autobuf struct mk_buf body = MK_BUF_INIT;
    long code = 0;
    if (!get(w, path, &code, &body, why))
        return false;
    if (code != 200) {
        set_why(why, xasprintf("%s (HTTP %ld)", what, code));
        return false;
    }
    return true;
}

/* Is the RFC 3339 time t from after `since` (the guest's boot, by its own
 * clock, which kubelet and dockerd stamp with)? A little slack for the boot
 * time's rounding to whole seconds. */
static bool after(const char *t, time_t since)
{
    time_t v;
    return mk_kapi_parse_time(t, &v) == 0 && v + MK_WAIT_CLOCK_SLACK_S >= since;
}

bool mk_wait_lease_fresh(const json_t *lease, time_t since, char **why)
{
    const char *renew =
        json_string_value(json_object_get(json_object_get(lease, "spec"), "renewTime"));
    if (after(renew, since))
        return true;
    set_why(why, xstrdup(renew ? "kubelet has not renewed its node lease since the VM started"
                               : "kubelet has not renewed its node lease yet"));
    return false;
}

bool mk_wait_pods_running(const json_t *pods, const char *const *want, time_t since, char **why)
{
    for (size_t w = 0; want[w]; w++) {
        bool found = false;
        size_t i, j;
        json_t *p, *c;
        json_array_foreach(json_object_get(pods, "items"), i, p)
        {
            const char *name =
                json_string_value(json_object_get(json_object_get(p, "metadata"), "name"));
            json_t *status = json_object_get(p, "status");
            if (!name || !mk_str_has_prefix(name, want[w]) ||
                !mk_streq(json_string_value(json_object_get(status, "phase")), "Running"))
                continue;
            if (!since) {
                found = true;
                break;
            }
            /* after a restart the stored status is the one from before the
             * stop: only a container started since counts */
            json_array_foreach(json_object_get(status, "containerStatuses"), j, c)
            {
                json_t *running = json_object_get(json_object_get(c, "state"), "running");
                if (after(json_string_value(json_object_get(running, "startedAt")), since))
                    found = true;
            }
            if (found)
                break;
        }
        if (!found) {
            set_why(why, xasprintf("kube-system pod %s is not Running yet", want[w]));
            return false;
        }
    }
    return true;
}

char *mk_readyz_failing(const char *body)
{
    mk_autobuf struct mk_buf failing = MK_BUF_INIT;
    for (const char *l = body ? body : ""; *l;) {
        size_t n = strcspn(l, "\n");
        if (n > 3 && strncmp(l, "[-]", 3) == 0) {
            size_t name = strcspn(l + 3, " \n");
            mk_buf_addf(&failing, "%s%.*s", failing.len ? ", " : "", (int)name, l + 3);
        }
        l += n + (l[n] ? 1 : 0);
    }
    return failing.len ? mk_buf_detach(&failing) : NULL;
}

static bool apiserver_ready(const struct wait_ctx *w, char **why)
{
    mk_autobuf struct mk_buf body = MK_BUF_INIT;
    long code = 0;
    if (!get(w, "/readyz?verbose", &code, &body, why))
        return false;
    if (code == 200)
        return true;
    mk_autofree char *failing = mk_readyz_failing(mk_buf_str(&body));
    set_why(why, failing ? xasprintf("the API server is not ready: %s", failing)
                         : xasprintf("the API server is not ready (HTTP %ld)", code));
    return false;
}

/* kubelet's node lease, renewed every 10 s: after a restart the node's
 * conditions still say what they said before the stop, the lease does not */
static bool lease_fresh(const struct wait_ctx *w, const char *node, char **why)
{
    if (!w->since)
        return true;
    mk_autofree char *path =
        xasprintf("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/%s", node);
    json_t *lease = get_json(w, path, why);
    if (!lease)
        return false;
    bool ok = mk_wait_lease_fresh(lease, w->since, why);
    json_decref(lease);
    return ok;
}

/* The node's Ready condition: *posted when kubelet reported one at all (and,
 * after a restart, renewed its lease since). */
static bool node_condition(const struct wait_ctx *w, bool *posted, char **why)
{
    *posted = false;
    json_t *nodes = get_json(w, "/api/v1/nodes", why);
    if (!nodes)
        return false;
    bool ready = false;
    const char *node = NULL;
    size_t i, j;
    json_t *n, *c;
    json_array_foreach(json_object_get(nodes, "items"), i, n)
    {
        json_array_foreach(json_object_get(json_object_get(n, "status"), "conditions"), j, c)
        {
            if (!mk_streq(json_string_value(json_object_get(c, "type")), "Ready"))
                continue;
            *posted = true;
            node = json_string_value(json_object_get(json_object_get(n, "metadata"), "name"));
            if (mk_streq(json_string_value(json_object_get(c, "status")), "True"))
                ready = true;
        }
    }
    if (!*posted)
        set_why(why, xstrdup("kubelet has not registered the node yet"));
    else if (!lease_fresh(w, node, why))
        *posted = ready = false;
    json_decref(nodes);
    return ready;
}

static bool node_ready(const struct wait_ctx *w, char **why)
{
    bool posted;
    bool ready = node_condition(w, &posted, why);
    if (!ready && posted)
        set_why(why, xstrdup("the node is not Ready yet"));
    return ready;
}

static bool pods_running(const struct wait_ctx *w, const char *const *want, char **why)
{
    json_t *pods = get_json(w, "/api/v1/namespaces/kube-system/pods", why);
    if (!pods)
        return false;
    bool ok = mk_wait_pods_running(pods, want, w->since, why);
    json_decref(pods);
    return ok;
}

/* The control plane and kube-system pods minikube waits for. */
static bool system_pods_running(const struct wait_ctx *w, char **why)
{
    static const char *const want[] = {"etcd",
                                       "kube-apiserver",
                                       "kube-controller-manager",
                                       "kube-scheduler",
                                       "kube-proxy",
                                       "coredns",
                                       NULL};
    return pods_running(w, want, why);
}

static bool apps_running(const struct wait_ctx *w, char **why)
{
    static const char *const want[] = {"coredns", "kube-proxy", NULL};
    return pods_running(w, want, why);
}

/* kubelet registered the node and posted a Ready condition (true or not) */
static bool kubelet_posting(const struct wait_ctx *w, char **why)
{
    bool posted;
    node_condition(w, &posted, why);
    return posted;
}

static bool default_sa(const struct wait_ctx *w, char **why)
{
    return get_ok(w, "/api/v1/namespaces/default/serviceaccounts/default",
                  "the default service account does not exist yet", why);
}

int mk_wait_cluster(const struct mk_kapi *k, unsigned mask, time_t since, int timeout_s,
                    struct mk_error **err)
{
    static const struct {
        unsigned bit;
        const char *what;
        bool (*check)(const struct wait_ctx *, char **);
    } steps[] = {
        {MK_WAIT_APISERVER, "the API server", apiserver_ready},
        {MK_WAIT_KUBELET, "kubelet to register the node", kubelet_posting},
        {MK_WAIT_NODE_READY, "the node to be Ready", node_ready},
        {MK_WAIT_SYSTEM_PODS, "the kube-system pods", system_pods_running},
        {MK_WAIT_APPS_RUNNING, "CoreDNS and kube-proxy", apps_running},
        {MK_WAIT_DEFAULT_SA, "the default service account", default_sa},
    };
    const struct wait_ctx w = {k, since};
    long deadline = now_s() + timeout_s;
    mk_autofree char *why = NULL;
    for (size_t i = 0; i < MK_ARRAY_SIZE(steps); i++) {
        if (!(mask & steps[i].bit))
            continue;
        mk_debug(1, "waiting for %s", steps[i].what);
        mk_autofree char *said = NULL;
        while (!steps[i].check(&w, &why)) {
            if (why && !mk_streq(why, said)) { /* each new reason once, with -v 2 */
                mk_debug(2, "not yet: %s", why);
                free(said);
                said = xstrdup(why);
            }
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
