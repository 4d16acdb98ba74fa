/* cluster.c - start/stop/delete/status of one profile's cluster (see cluster.h). */
#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "accel.h"
#include "addons.h"
#include "artifacts.h"
#include "bootstrap.h"
#include "bundle.h"
#include "fsutil.h"
#include "home.h"
#include "image.h"
#include "kubeconfig.h"
#include "log.h"
#include "pki.h"
#include "profile.h"

#define SSH_WAIT_MS (300 * 1000) /* a TCG boot takes ~45 s; leave room for a busy host */

int mk_cluster_open(const char *home, const char *name, struct mk_cluster *c, struct mk_error **err)
{
    memset(c, 0, sizeof(*c));
    c->home = xstrdup(home);
    c->name = xstrdup(name);
    c->machines_dir = mk_home_path(home, "machines");
    c->machine_dir = mk_home_path(home, "machines/%s", name);
    c->cache_dir = mk_home_path(home, "cache");
    c->certs_dir = mk_home_path(home, "certs");
    c->key_path = mk_home_path(home, "machines/%s/id_ed25519", name);
    c->known_hosts = mk_home_path(home, "machines/%s/known_hosts", name);
    c->client_crt = mk_home_path(home, "profiles/%s/client.crt", name);
    c->client_key = mk_home_path(home, "profiles/%s/client.key", name);
    return mk_machine_load(c->machines_dir, name, &c->machine, err);
}

void mk_cluster_close(struct mk_cluster *c)
{
    mk_machine_free(c->machine);
    free(c->home);
    free(c->name);
    free(c->machines_dir);
    free(c->machine_dir);
    free(c->cache_dir);
    free(c->certs_dir);
    free(c->key_path);
    free(c->known_hosts);
    free(c->client_crt);
    free(c->client_key);
    memset(c, 0, sizeof(*c));
}

static int write_kubeconfig(const struct mk_cluster *c, const struct mk_start_opts *o,
                            struct mk_error **err);

int mk_cluster_open_running(const char *home, const char *name, struct mk_cluster *c,
                            struct mk_error **err)
{
    if (mk_cluster_open(home, name, c, err) < 0)
        return -1;
    if (!c->machine) {
        mk_error_set(err, MK_EXIT_PROFILE_NOT_FOUND, "profile \"%s\" has no VM", name);
        return mk_error_hint(err, "start it with: mkube -p %s start", name);
    }
    enum mk_vm_state st;
    if (mk_machine_state(c->machine, &st, err) < 0)
        return -1;
    if (st != MK_VM_RUNNING) {
        mk_error_set(err, MK_EXIT_UNAVAILABLE, "the \"%s\" cluster is not running (host: %s)", name,
                     mk_vm_state_name(st));
        return mk_error_hint(err, "start it with: mkube -p %s start", name);
    }
    return 0;
}

char *mk_cluster_kubectl(const struct mk_cluster *c, struct mk_error **err)
{
    mk_autoprofile struct mk_profile *p = NULL;
    if (mk_profile_load(c->home, c->name, &p, err) < 0)
        return NULL;
    if (!p) {
        mk_error_set(err, MK_EXIT_PROFILE_NOT_FOUND, "profile \"%s\" not found", c->name);
        return NULL;
    }
    /* start unpacked it under cache/bundle/<archive sha>/; find the one whose
     * manifest names this version */
    mk_autofree char *name = mk_bundle_file_name(p->kubernetes_version);
    mk_autofree char *path = NULL;
    if (mk_artifact_find(name, p->bundle_url, c->cache_dir, &path, err) < 0)
        return NULL;
    mk_autofree char *cache = xasprintf("%s/bundle", c->cache_dir);
    struct mk_bundle *b = NULL;
    if (mk_bundle_open(path, cache, &b, err) < 0)
        return NULL;
    char *k = xstrdup(b->kubectl);
    mk_bundle_free(b);
    return k;
}

int mk_cluster_update_context(const struct mk_cluster *c, bool *changed, struct mk_error **err)
{
    unsigned port = c->machine ? mk_machine_forward_port(c->machine, MK_GUEST_API_PORT) : 0;
    if (!port)
        return mk_error_set(err, MK_EXIT_PROFILE_NOT_FOUND, "profile \"%s\" has no VM", c->name);
    mk_autofree char *server = xasprintf("https://127.0.0.1:%u", port);
    mk_autofree char *path = mk_kubeconfig_path();
    enum mk_kubeconfig_state ks;
    if (mk_kubeconfig_status(path, c->name, server, &ks, err) < 0)
        return -1;
    *changed = ks != MK_KUBECONFIG_CONFIGURED;
    if (!*changed)
        return 0;
    return write_kubeconfig(c, NULL, err);
}

int mk_cluster_kapi(const struct mk_cluster *c, struct mk_kapi *k, struct mk_error **err)
{
    memset(k, 0, sizeof(*k));
    unsigned port = c->machine ? mk_machine_forward_port(c->machine, MK_GUEST_API_PORT) : 0;
    if (!port)
        return mk_error_set(err, MK_EXIT_UNAVAILABLE, "profile \"%s\" has no API server forward",
                            c->name);
    k->server = xasprintf("https://127.0.0.1:%u", port);
    k->ca_path = xasprintf("%s/ca.crt", c->certs_dir);
    k->cert_path = xstrdup(c->client_crt);
    k->key_path = xstrdup(c->client_key);
    return 0;
}

struct mk_ssh *mk_cluster_ssh(const struct mk_cluster *c, int timeout_ms, struct mk_error **err)
{
    struct mk_endpoint ep;
    if (mk_machine_endpoint(c->machine, &ep, err) < 0)
        return NULL;
    struct mk_ssh_target t = {
        .host = ep.host,
        .port = ep.ssh_port,
        .user = ep.ssh_user ? ep.ssh_user : "docker",
        .key_path = c->key_path,
        .known_hosts_path = c->known_hosts,
    };
    return mk_ssh_connect_target(&t, timeout_ms, err);
}

static double elapsed(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Write the profile's context into the user's kubeconfig. */
static int write_kubeconfig(const struct mk_cluster *c, const struct mk_start_opts *o,
                            struct mk_error **err)
{
    unsigned port = mk_machine_forward_port(c->machine, MK_GUEST_API_PORT);
    mk_autofree char *server = xasprintf("https://127.0.0.1:%u", port);
    mk_autofree char *ca = xasprintf("%s/ca.crt", c->certs_dir);
    mk_autofree char *path = mk_kubeconfig_path();
    struct mk_kube_entry e = {
        .name = c->name,
        .server = server,
        .ca_path = ca,
        .client_cert_path = c->client_crt,
        .client_key_path = c->client_key,
        .embed_certs = o ? o->embed_certs : false,
    };
    if (mk_kubeconfig_merge(path, &e, o ? !o->keep_context : true, err) < 0)
        return -1;
    mk_debug(1, "kubeconfig %s: context \"%s\" -> %s", path, c->name, server);
    return 0;
}

/* Create the machine of a new cluster (profile saved by the caller). */
static int create_machine(struct mk_cluster *c, struct mk_profile *p, const struct mk_start_opts *o,
                          const char *iso, struct mk_error **err)
{
    const struct mk_driver *d = NULL;
    const char *want = (o->driver && *o->driver) ? o->driver : p->driver;
    /* probed where the machine will live: libvirt at the asked URI */
    const struct mk_machine_config probe_cfg = {.libvirt_uri = o->libvirt_uri};
    if (want && *want) {
        d = mk_driver_lookup(want);
        if (!d)
            return mk_error_set(err, MK_EXIT_USAGE, "unknown driver \"%s\"", want);
        struct mk_error *why = NULL;
        if (d->probe && d->probe(&probe_cfg, &why) < 0) {
            mk_error_set(err, MK_EXIT_DRIVER, "driver \"%s\" cannot run here: %s", d->name,
                         why->msg);
            if (why->hint)
                mk_error_hint(err, "%s", why->hint);
            mk_error_free(why);
            return -1;
        }
    } else {
        d = mk_driver_autoselect(&probe_cfg, err);
        if (!d)
            return -1;
    }
    mk_step("Using the %s driver", d->name);
    free(p->driver);
    p->driver = xstrdup(d->name);

    if (mk_mkdir_p(c->machine_dir, 0700, err) < 0 || mk_ssh_keygen(c->key_path, err) < 0)
        return -1;
    unlink(c->known_hosts); /* a new machine has a new host key */
    mk_autofree char *pubkey = mk_ssh_pubkey_line(c->key_path, err);
    if (!pubkey)
        return -1;
    mk_autofree char *kernel = NULL;
    mk_autofree char *initrd = NULL;
    if (o->direct_boot && (d->caps & MK_DRV_CAP_DIRECT_BOOT) &&
        mk_image_boot_files(iso, c->cache_dir, &kernel, &initrd, err) < 0)
        return -1;
    struct mk_machine_config cfg = {
        .cpus = p->cpus,
        .memory_mib = p->memory_mib,
        .disk_mib = p->disk_mib,
        .iso_path = iso,
        .kernel_path = kernel,
        .initrd_path = initrd,
        .ssh_pubkey = pubkey,
        .hostname = c->name,
        .accel = o->accel,
        .libvirt_uri = o->libvirt_uri,
        .ssh_port = o->ssh_port,
        .api_port = o->api_port,
        .docker_port = o->docker_port,
        .cache_dir = c->cache_dir,
    };
    mk_step("Creating %s VM (CPUs=%u, Memory=%lluMB, Disk=%lluMB) ...", d->name, p->cpus,
            (unsigned long long)p->memory_mib, (unsigned long long)p->disk_mib);
    c->machine = mk_machine_new(d, c->machines_dir, c->name);
    if (mk_machine_create(c->machine, &cfg, err) < 0)
        return mk_error_wrap(err, "cannot create the VM");
    return 0;
}

/* Running already and healthy: nothing to do but fix the kubeconfig. */
static bool fast_path(struct mk_cluster *c, const struct mk_start_opts *o)
{
    struct mk_kapi k;
    struct mk_error *e = NULL;
    if (mk_cluster_kapi(c, &k, &e) < 0) {
        mk_error_free(e);
        return false;
    }
    mk_autobuf struct mk_buf body = MK_BUF_INIT;
    long code = 0;
    k.timeout_ms = 5000;
    bool ok = mk_kapi_get(&k, "/readyz", &code, &body, &e) == 0 && code == 200;
    mk_error_free(e);
    mk_kapi_release(&k);
    return ok;
}

/* A bootstrap step failed: if the VM itself is gone (killed, crashed, shut
 * down from inside), say so instead of leaving the user with an SSH error,
 * and tell them the next start picks up from there. */
static void explain_lost_vm(const struct mk_cluster *c, struct mk_error **err)
{
    enum mk_vm_state st = MK_VM_RUNNING;
    struct mk_error *e = NULL;
    if (!c->machine || mk_machine_state(c->machine, &st, &e) < 0 || st == MK_VM_RUNNING) {
        mk_error_free(e);
        return;
    }
    mk_error_wrap(err, "the VM stopped during the bootstrap (now %s)", mk_vm_state_name(st));
    mk_error_hint(err,
                  "run 'mkube -p %s start' again: it boots the VM and resets a half-done "
                  "kubeadm init before redoing it; 'mkube -p %s logs' shows the guest's log",
                  c->name, c->name);
}

int mk_cluster_start(const char *home, const char *name, const struct mk_start_opts *o,
                     struct mk_error **err)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct mk_cluster c;
    struct mk_profile *p = NULL;
    struct mk_bundle *bundle = NULL;
    struct mk_ssh *ssh = NULL;
    char *iso = NULL, *bundle_path = NULL;
    mk_autofree char *bundle_name = NULL, *bundle_cache = NULL;
    mk_autofree char *ca_crt = NULL, *ca_key = NULL, *docker_ca = NULL;
    mk_autofree char *server_crt = NULL, *server_key = NULL;
    mk_autofree char *provision_log = NULL, *cluster_log = NULL;
    int lockfd = -1;
    int rc = -1;
    unsigned wait_mask = 0;
    memset(&c, 0, sizeof(c));

    if (mk_wait_parse(o->wait ? o->wait : MK_START_DEFAULT_WAIT, &wait_mask, err) < 0)
        return -1;
    if (mk_profile_lock(home, name, 10000, &lockfd, err) < 0)
        return -1;
    if (mk_cluster_open(home, name, &c, err) < 0 || mk_profile_load(home, name, &p, err) < 0)
        goto cleanup;
    mk_step("mkube v%s: profile \"%s\"", MKUBE_VERSION, name);
    if (!p) {
        p = mk_profile_new(name);
        free(p->kubernetes_version);
        p->kubernetes_version = xstrdup(o->kubernetes_version);
        free(p->container_runtime);
        p->container_runtime = xstrdup(o->container_runtime);
        p->cpus = o->cpus;
        p->memory_mib = o->memory_mib;
        p->disk_mib = o->disk_mib;
        if (o->iso_url)
            p->iso_url = xstrdup(o->iso_url);
        if (o->bundle_url)
            p->bundle_url = xstrdup(o->bundle_url);
    } else if (c.machine) {
        if ((o->given & MK_START_GIVEN_MEMORY) && o->memory_mib != p->memory_mib)
            mk_warn("the memory of an existing cluster cannot change (%llu MB); delete it first",
                    (unsigned long long)p->memory_mib);
        if ((o->given & MK_START_GIVEN_CPUS) && o->cpus != p->cpus)
            mk_warn("the CPU count of an existing cluster cannot change (%u); delete it first",
                    p->cpus);
        if ((o->given & MK_START_GIVEN_K8S_VERSION) &&
            !mk_streq(o->kubernetes_version, p->kubernetes_version))
            mk_warn("this cluster runs Kubernetes %s; upgrades are not supported yet, keeping it",
                    p->kubernetes_version);
    }
    if (!mk_streq(p->container_runtime, "docker")) {
        mk_error_set(err, MK_EXIT_USAGE,
                     "container runtime \"%s\" is not supported yet: use docker",
                     p->container_runtime);
        goto cleanup;
    }

    enum mk_vm_state st = MK_VM_NONEXISTENT;
    if (c.machine && mk_machine_state(c.machine, &st, err) < 0)
        goto cleanup;
    if (st == MK_VM_RUNNING && fast_path(&c, o)) {
        mk_step("Cluster \"%s\" is already running", name);
        if (write_kubeconfig(&c, o, err) < 0)
            goto cleanup;
        rc = 0;
        goto done;
    }

    /* the image and the bundle */
    bundle_name = mk_bundle_file_name(p->kubernetes_version);
    bundle_cache = xasprintf("%s/bundle", c.cache_dir);
    if (mk_artifact_find("mkube.iso", p->iso_url, c.cache_dir, &iso, err) < 0 ||
        mk_artifact_find(bundle_name, p->bundle_url, c.cache_dir, &bundle_path, err) < 0 ||
        mk_bundle_open(bundle_path, bundle_cache, &bundle, err) < 0)
        goto cleanup;

    if (!c.machine) {
        if (create_machine(&c, p, o, iso, err) < 0)
            goto cleanup;
        if (mk_profile_save(home, p, err) < 0)
            goto cleanup;
        st = MK_VM_STOPPED;
    } else {
        if (mk_profile_save(home, p, err) < 0)
            goto cleanup;
        if (st == MK_VM_STOPPED || st == MK_VM_ERROR)
            mk_step("Restarting existing %s VM for \"%s\" ...", c.machine->driver->name, name);
        else if (st == MK_VM_RUNNING)
            mk_step("Updating the running %s VM \"%s\" ...", c.machine->driver->name, name);
    }
    if (st != MK_VM_RUNNING && mk_machine_start(c.machine, err) < 0)
        goto cleanup;

    struct mk_endpoint ep;
    if (mk_machine_endpoint(c.machine, &ep, err) < 0)
        goto cleanup;
    mk_info("Waiting for SSH on %s:%u", ep.host, ep.ssh_port);
    struct mk_ssh_target t = {
        .host = ep.host,
        .port = ep.ssh_port,
        .user = ep.ssh_user ? ep.ssh_user : "docker",
        .key_path = c.key_path,
        .known_hosts_path = c.known_hosts,
    };
    ssh = mk_ssh_wait_connect(&t, SSH_WAIT_MS, err);
    if (!ssh) {
        mk_error_wrap(err, "the VM did not answer on SSH");
        mk_error_hint(err, "see the console log in %s/console.log", c.machine_dir);
        goto cleanup;
    }
    mk_info("VM is up after %.0f s", elapsed(&t0));
    /* after a (re)start the waits count only what happened since the boot */
    time_t booted = 0;
    if (st != MK_VM_RUNNING && mk_bootstrap_boot_time(ssh, &booted, err) < 0)
        goto cleanup;

    const char *ips[] = {ep.guest_ip, NULL};
    if (mk_pki_ensure_profile(home, name, c.machine_dir, ips, err) < 0)
        goto cleanup;

    mk_step("Preparing Kubernetes %s on Docker ...", p->kubernetes_version);
    ca_crt = xasprintf("%s/ca.crt", c.certs_dir);
    ca_key = xasprintf("%s/ca.key", c.certs_dir);
    docker_ca = xasprintf("%s/ca.pem", c.certs_dir);
    server_crt = xasprintf("%s/server.pem", c.machine_dir);
    server_key = xasprintf("%s/server-key.pem", c.machine_dir);
    provision_log = xasprintf("%s/provision.log", c.machine_dir);
    cluster_log = xasprintf("%s/bootstrap.log", c.machine_dir);
    struct mk_bootstrap b = {
        .ssh = ssh,
        .profile = name,
        .node_name = name,
        .guest_ip = ep.guest_ip,
        .k8s_version = p->kubernetes_version,
        .bundle_path = bundle->path,
        .bundle_sha256 = bundle->sha256,
        .pause_image = bundle->pause_image,
        .ca_crt = ca_crt,
        .ca_key = ca_key,
        .docker_ca = docker_ca,
        .docker_server_crt = server_crt,
        .docker_server_key = server_key,
        .timeout_s = (int)o->wait_timeout_s,
        .provision_log = provision_log,
        .cluster_log = cluster_log,
    };
    if (mk_bootstrap_provision(&b, err) < 0) {
        explain_lost_vm(&c, err);
        goto cleanup;
    }
    bool fresh = false;
    mk_info(st == MK_VM_RUNNING ? "Checking the control plane ..."
                                : "Booting up control plane ...");
    if (mk_bootstrap_cluster(&b, &fresh, err) < 0) {
        explain_lost_vm(&c, err);
        goto cleanup;
    }
    mk_info(fresh ? "Configuring RBAC rules and a bridge CNI ..."
                  : "Restarted the existing cluster");

    mk_step("Configuring the kubeconfig context \"%s\"", name);
    if (write_kubeconfig(&c, o, err) < 0)
        goto cleanup;

    if (wait_mask) {
        mk_step("Verifying Kubernetes components ...");
        struct mk_kapi k;
        if (mk_cluster_kapi(&c, &k, err) < 0)
            goto cleanup;
        int w = mk_wait_cluster(&k, wait_mask, booted, (int)o->wait_timeout_s, err);
        mk_kapi_release(&k);
        if (w < 0)
            goto cleanup;
    }
    /* default addons on a new cluster, enabled ones re-applied on every start */
    if (mk_addons_apply_enabled(&c, err) < 0)
        goto cleanup;
    rc = 0;
done:
    if (rc == 0) {
        fprintf(stderr,
                "%s Done! kubectl is now configured to use \"%s\" cluster and \"default\" "
                "namespace by default (%.0f s)\n",
                mk_color_enabled(stderr) ? "\033[1;32m*\033[0m" : "*", name, elapsed(&t0));
    }
cleanup:
    if (ssh)
        mk_ssh_close(ssh);
    mk_bundle_free(bundle);
    free(iso);
    free(bundle_path);
    mk_profile_free(p);
    mk_cluster_close(&c);
    mk_profile_unlock(lockfd);
    return rc;
}

int mk_cluster_stop(const char *home, const char *name, struct mk_error **err)
{
    struct mk_cluster c;
    int lockfd = -1;
    int rc = -1;
    memset(&c, 0, sizeof(c));
    mk_autoprofile struct mk_profile *p = NULL;
    if (mk_profile_load(home, name, &p, err) < 0)
        return -1;
    if (!p) {
        mk_error_set(err, MK_EXIT_PROFILE_NOT_FOUND, "profile \"%s\" not found", name);
        return mk_error_hint(err, "run 'mkube profile list' to see the profiles");
    }
    if (mk_profile_lock(home, name, 10000, &lockfd, err) < 0)
        return -1;
    if (mk_cluster_open(home, name, &c, err) < 0)
        goto cleanup;
    enum mk_vm_state st = MK_VM_NONEXISTENT;
    if (c.machine && mk_machine_state(c.machine, &st, err) < 0)
        goto cleanup;
    if (st != MK_VM_RUNNING) {
        mk_step("Profile \"%s\" is not running (%s)", name, mk_vm_state_name(st));
        rc = 0;
        goto cleanup;
    }
    mk_step("Stopping node \"%s\" ...", name);
    struct mk_error *e = NULL;
    struct mk_ssh *ssh = mk_cluster_ssh(&c, 15000, &e);
    if (ssh) {
        /* kubelet first, so it does not restart pods while the VM shuts
         * down; then an orderly poweroff from inside, which does not depend
         * on the guest handling the ACPI power button in time (the driver's
         * graceful stop below waits for it, then forces it) */
        int status = 0;
        if (mk_ssh_run(ssh, "sudo systemctl stop kubelet", NULL, 0, NULL, NULL, &status, 60000,
                       &e) == 0)
            mk_ssh_run(ssh, "sudo systemctl poweroff --no-block", NULL, 0, NULL, NULL, &status,
                       30000, &e);
        mk_ssh_close(ssh);
    }
    if (e)
        mk_debug(1, "stopping kubelet: %s", e->msg);
    mk_error_free(e);
    if (mk_machine_stop(c.machine, err) < 0)
        goto cleanup;
    mk_step("1 node stopped.");
    rc = 0;
cleanup:
    mk_cluster_close(&c);
    mk_profile_unlock(lockfd);
    return rc;
}

int mk_cluster_delete(const char *home, const char *name, struct mk_error **err)
{
    struct mk_cluster c;
    int lockfd = -1;
    int rc = -1;
    memset(&c, 0, sizeof(c));
    mk_autofree char *kc = mk_kubeconfig_path();
    mk_autoprofile struct mk_profile *p = NULL;
    if (mk_profile_load(home, name, &p, err) < 0)
        return -1;
    mk_autofree char *mdir = mk_home_path(home, "machines/%s", name);
    if (!p && !mk_path_exists(mdir)) {
        mk_step("\"%s\" profile does not exist, trying anyways.", name);
    }
    if (mk_profile_lock(home, name, 10000, &lockfd, err) < 0)
        return -1;
    if (mk_cluster_open(home, name, &c, err) < 0)
        goto cleanup;
    if (c.machine) {
        mk_step("Deleting \"%s\" in %s ...", name, c.machine->driver->name);
        if (mk_machine_remove(c.machine, err) < 0)
            goto cleanup;
    }
    if (mk_rm_rf(c.machine_dir, err) < 0)
        goto cleanup;
    struct mk_error *e = NULL;
    if (mk_kubeconfig_remove(kc, name, &e) < 0) {
        mk_warn("cannot remove the \"%s\" context from %s: %s", name, kc, e->msg);
        mk_error_free(e);
    } else {
        mk_step("Removed all traces of the \"%s\" cluster.", name);
    }
    mk_profile_unlock(lockfd);
    lockfd = -1;
    if (mk_profile_delete(home, name, err) < 0)
        goto cleanup;
    rc = 0;
cleanup:
    mk_cluster_close(&c);
    mk_profile_unlock(lockfd);
    return rc;
}

int mk_cluster_status(const char *home, const char *name, struct mk_status *st,
                      struct mk_error **err)
{
    memset(st, 0, sizeof(*st));
    snprintf(st->name, sizeof(st->name), "%s", name);
    mk_autoprofile struct mk_profile *p = NULL;
    if (mk_profile_load(home, name, &p, err) < 0)
        return -1;
    if (!p) {
        mk_error_set(err, MK_EXIT_PROFILE_NOT_FOUND, "profile \"%s\" not found", name);
        return mk_error_hint(err, "to start a cluster, run: \"mkube -p %s start\"", name);
    }
    struct mk_cluster c;
    if (mk_cluster_open(home, name, &c, err) < 0) {
        mk_cluster_close(&c);
        return -1;
    }
    snprintf(st->driver, sizeof(st->driver), "%s", p->driver ? p->driver : "");
    enum mk_vm_state vs = MK_VM_NONEXISTENT;
    if (c.machine && mk_machine_state(c.machine, &vs, err) < 0) {
        mk_cluster_close(&c);
        return -1;
    }
    snprintf(st->host, sizeof(st->host), "%s", mk_vm_state_name(vs));
    snprintf(st->kubelet, sizeof(st->kubelet), "%s",
             vs == MK_VM_NONEXISTENT ? "Nonexistent" : "Stopped");
    snprintf(st->apiserver, sizeof(st->apiserver), "%s",
             vs == MK_VM_NONEXISTENT ? "Nonexistent" : "Stopped");
    snprintf(st->kubeconfig, sizeof(st->kubeconfig), "%s", "Nonexistent");
    if (vs != MK_VM_RUNNING)
        st->exit_bits |= MK_STATUS_HOST_DOWN;
    if (vs == MK_VM_RUNNING) {
        /* The API server first: it also answers for kubelet (its /healthz
         * through the node proxy), which keeps status at two HTTPS requests
         * on the 127.0.0.1 forward. SSH (a key exchange with an emulated
         * CPU: about 2 s under TCG) only when the API server cannot tell. */
        struct mk_error *e = NULL;
        struct mk_kapi k;
        bool kubelet_known = false;
        if (mk_cluster_kapi(&c, &k, &e) == 0) {
            k.timeout_ms = 5000;
            mk_autobuf struct mk_buf body = MK_BUF_INIT;
            long code = 0;
            if (mk_kapi_get(&k, "/livez", &code, &body, &e) == 0 && code == 200) {
                snprintf(st->apiserver, sizeof(st->apiserver), "Running");
                mk_autofree char *path = xasprintf("/api/v1/nodes/%s/proxy/healthz", name);
                mk_buf_reset(&body);
                if (mk_kapi_get(&k, path, &code, &body, &e) == 0 && code == 200) {
                    snprintf(st->kubelet, sizeof(st->kubelet), "Running");
                    kubelet_known = true;
                }
            }
        }
        mk_kapi_release(&k);
        mk_error_free(e);
        e = NULL;
        struct mk_ssh *ssh = kubelet_known ? NULL : mk_cluster_ssh(&c, 10000, &e);
        if (ssh) {
            int status = 1;
            if (mk_ssh_run(ssh, "systemctl is-active --quiet kubelet", NULL, 0, NULL, NULL, &status,
                           15000, &e) == 0 &&
                status == 0)
                snprintf(st->kubelet, sizeof(st->kubelet), "Running");
            mk_ssh_close(ssh);
        }
        mk_error_free(e);
    }
    if (!mk_streq(st->kubelet, "Running") || !mk_streq(st->apiserver, "Running"))
        st->exit_bits |= MK_STATUS_CLUSTER_DOWN;
    unsigned port = c.machine ? mk_machine_forward_port(c.machine, MK_GUEST_API_PORT) : 0;
    if (port) {
        snprintf(st->server, sizeof(st->server), "https://127.0.0.1:%u", port);
        mk_autofree char *kc = mk_kubeconfig_path();
        enum mk_kubeconfig_state ks = MK_KUBECONFIG_MISSING;
        struct mk_error *e = NULL;
        if (mk_kubeconfig_status(kc, name, st->server, &ks, &e) == 0)
            snprintf(st->kubeconfig, sizeof(st->kubeconfig), "%s",
                     ks == MK_KUBECONFIG_CONFIGURED      ? "Configured"
                     : ks == MK_KUBECONFIG_MISCONFIGURED ? "Misconfigured"
                                                         : "Nonexistent");
        mk_error_free(e);
    }
    if (!mk_streq(st->kubeconfig, "Configured"))
        st->exit_bits |= MK_STATUS_KUBECONFIG_BAD;
    mk_cluster_close(&c);
    return 0;
}
