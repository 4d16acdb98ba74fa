/* start-flags.c - parse and validate `mkube start` flags (see start-flags.h). */
#include "start-flags.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "validate.h"

/* clang-format off */
const char mk_start_flags_help[] =
    "Flags:\n"
    "      --driver NAME              VM driver: libvirt, qemu, virtualbox, hyperv (default: automatic)\n"
    "      --cpus N                   CPUs for the VM (default 2)\n"
    "      --memory SIZE              memory for the VM: 3072, 3072mb, 3g (default 3072 MiB)\n"
    "      --disk-size SIZE           data disk size: 20000mb, 20g (default 20000 MiB)\n"
    "      --kubernetes-version VER   Kubernetes version (default " MK_DEFAULT_K8S_VERSION ")\n"
    "      --container-runtime NAME   docker or containerd (default docker)\n"
    "      --iso-url URL              VM image to boot (file://, http(s)://; default: the built image)\n"
    "      --bundle-url URL           Kubernetes bundle (file://, http(s)://; default: the built bundle)\n"
    "      --wait LIST                components to wait for: apiserver,system_pods,default_sa,\n"
    "                                 apps_running,node_ready,kubelet, all or none\n"
    "                                 (default apiserver,system_pods)\n"
    "      --wait-timeout DURATION    how long to wait for them: 900s, 15m (default 15m)\n"
    "      --keep-context[=BOOL]      do not make the new context kubectl's current one\n"
    "      --embed-certs[=BOOL]       embed certificates in the kubeconfig\n"
    "      --accel auto|kvm|tcg       QEMU acceleration (default auto: KVM when it works)\n"
    "      --libvirt-uri URI          libvirt connection (default qemu:///system)\n"
    "      --direct-boot[=BOOL]       boot the image's kernel directly (default true)\n"
    "      --ssh-port PORT            host port for SSH on 127.0.0.1 (default: a free one)\n"
    "      --apiserver-port PORT      host port for the API server (default: a free one)\n"
    "      --docker-port PORT         host port for dockerd (default: a free one)\n"
    "\n"
    "Settings also come from MKUBE_<KEY> variables and `mkube config set`;\n"
    "a flag wins over the environment, which wins over the config file.\n";
/* clang-format on */

enum {
    OPT_DRIVER = 256,
    OPT_CPUS,
    OPT_MEMORY,
    OPT_DISK,
    OPT_VERSION,
    OPT_RUNTIME,
    OPT_ISO,
    OPT_BUNDLE,
    OPT_WAIT,
    OPT_WAIT_TIMEOUT,
    OPT_KEEP_CONTEXT,
    OPT_EMBED_CERTS,
    OPT_ACCEL,
    OPT_LIBVIRT_URI,
    OPT_DIRECT_BOOT,
    OPT_SSH_PORT,
    OPT_API_PORT,
    OPT_DOCKER_PORT,
};

static const struct option longopts[] = {
    {"driver", required_argument, NULL, OPT_DRIVER},
    {"vm-driver", required_argument, NULL, OPT_DRIVER},
    {"cpus", required_argument, NULL, OPT_CPUS},
    {"memory", required_argument, NULL, OPT_MEMORY},
    {"disk-size", required_argument, NULL, OPT_DISK},
    {"kubernetes-version", required_argument, NULL, OPT_VERSION},
    {"container-runtime", required_argument, NULL, OPT_RUNTIME},
    {"iso-url", required_argument, NULL, OPT_ISO},
    {"bundle-url", required_argument, NULL, OPT_BUNDLE},
    {"wait", required_argument, NULL, OPT_WAIT},
    {"wait-timeout", required_argument, NULL, OPT_WAIT_TIMEOUT},
    {"keep-context", optional_argument, NULL, OPT_KEEP_CONTEXT},
    {"embed-certs", optional_argument, NULL, OPT_EMBED_CERTS},
    {"accel", required_argument, NULL, OPT_ACCEL},
    {"libvirt-uri", required_argument, NULL, OPT_LIBVIRT_URI},
    {"direct-boot", optional_argument, NULL, OPT_DIRECT_BOOT},
    {"ssh-port", required_argument, NULL, OPT_SSH_PORT},
    {"apiserver-port", required_argument, NULL, OPT_API_PORT},
    {"docker-port", required_argument, NULL, OPT_DOCKER_PORT},
    {0},
};

/* Raw flag values as typed (NULL = not given). */
struct raw {
    const char *driver, *cpus, *memory, *disk, *version, *runtime, *iso, *bundle, *wait,
        *wait_timeout, *embed_certs, *accel;
};

static int parse_wait(const char *s, char **out, struct mk_error **err)
{
    static const char *const names[] = {"apiserver",    "system_pods", "default_sa",
                                        "apps_running", "node_ready",  "kubelet"};
    if (strcmp(s, "all") == 0 || strcmp(s, "true") == 0) {
        *out = xstrdup(MK_START_ALL_WAIT);
        return 0;
    }
    if (strcmp(s, "none") == 0 || strcmp(s, "false") == 0) {
        *out = xstrdup("none");
        return 0;
    }
    mk_autofree char *copy = xstrdup(s);
    char *save = NULL;
    bool any = false;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        bool known = false;
        for (size_t i = 0; i < MK_ARRAY_SIZE(names); i++)
            if (strcmp(t, names[i]) == 0)
                known = true;
        if (!known)
            return mk_error_set(err, MK_EXIT_USAGE,
                                "invalid --wait component \"%s\": expected %s, all or none", t,
                                MK_START_ALL_WAIT);
        any = true;
    }
    if (!any)
        return mk_error_set(err, MK_EXIT_USAGE, "invalid --wait \"%s\": expected a list", s);
    *out = xstrdup(s);
    return 0;
}

static int parse_accel(const char *s, enum mk_accel *a, struct mk_error **err)
{
    if (strcmp(s, "auto") == 0)
        *a = MK_ACCEL_AUTO;
    else if (strcmp(s, "kvm") == 0)
        *a = MK_ACCEL_KVM;
    else if (strcmp(s, "tcg") == 0)
        *a = MK_ACCEL_TCG;
    else
        return mk_error_set(err, MK_EXIT_USAGE, "invalid --accel \"%s\": expected auto, kvm or tcg",
                            s);
    return 0;
}

static int parse_flag_bool(const char *arg, const char *name, bool *b, struct mk_error **err)
{
    if (!arg) {
        *b = true;
        return 0;
    }
    if (mk_parse_bool(arg, b, err) < 0)
        return mk_error_wrap(err, "--%s", name);
    return 0;
}

/* Resolve one string key, remembering whether the user chose it. */
static int resolve(const struct mk_globals *g, const char *key, const char *flag, char **out,
                   unsigned given_bit, unsigned *given, struct mk_error **err)
{
    const char *source = NULL;
    if (mk_config_resolve(g->home, key, flag, out, &source, err) < 0)
        return -1;
    if (strcmp(source, "default") != 0)
        *given |= given_bit;
    return 0;
}

static int resolve_all(const struct mk_globals *g, const struct raw *r, struct mk_start_opts *o,
                       struct mk_error **err)
{
    mk_autofree char *cpus = NULL;
    mk_autofree char *memory = NULL;
    mk_autofree char *disk = NULL;
    mk_autofree char *timeout = NULL;
    mk_autofree char *embed = NULL;
    unsigned cpus_given = 0;
    if (resolve(g, "driver", r->driver, &o->driver, MK_START_GIVEN_DRIVER, &o->given, err) < 0 ||
        resolve(g, "cpus", r->cpus, &cpus, MK_START_GIVEN_CPUS, &cpus_given, err) < 0 ||
        resolve(g, "memory", r->memory, &memory, MK_START_GIVEN_MEMORY, &o->given, err) < 0 ||
        resolve(g, "disk-size", r->disk, &disk, MK_START_GIVEN_DISK, &o->given, err) < 0 ||
        resolve(g, "kubernetes-version", r->version, &o->kubernetes_version,
                MK_START_GIVEN_K8S_VERSION, &o->given, err) < 0 ||
        resolve(g, "container-runtime", r->runtime, &o->container_runtime, MK_START_GIVEN_RUNTIME,
                &o->given, err) < 0 ||
        resolve(g, "iso-url", r->iso, &o->iso_url, 0, &o->given, err) < 0 ||
        resolve(g, "bundle-url", r->bundle, &o->bundle_url, 0, &o->given, err) < 0 ||
        resolve(g, "wait-timeout", r->wait_timeout, &timeout, 0, &o->given, err) < 0 ||
        resolve(g, "embed-certs", r->embed_certs, &embed, 0, &o->given, err) < 0)
        return -1;
    o->given |= cpus_given;
    o->cpus = (unsigned)strtoul(cpus, NULL, 10);
    if (!cpus_given && o->cpus > mk_host_cpus())
        o->cpus = mk_host_cpus(); /* the default must fit a small host */
    o->memory_mib = strtoull(memory, NULL, 10);
    o->disk_mib = strtoull(disk, NULL, 10);
    o->wait_timeout_s = (unsigned)strtoul(timeout, NULL, 10);
    o->embed_certs = strcmp(embed, "true") == 0;
    /* "" means "the default" for the URLs */
    if (!*o->iso_url) {
        free(o->iso_url);
        o->iso_url = NULL;
    }
    if (!*o->bundle_url) {
        free(o->bundle_url);
        o->bundle_url = NULL;
    }
    if (parse_wait(r->wait ? r->wait : MK_START_DEFAULT_WAIT, &o->wait, err) < 0)
        return -1;
    if (r->accel && parse_accel(r->accel, &o->accel, err) < 0)
        return -1;
    return 0;
}

static int check_ports(const struct mk_start_opts *o, struct mk_error **err)
{
    unsigned p[3] = {o->ssh_port, o->api_port, o->docker_port};
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            if (p[i] && p[i] == p[j])
                return mk_error_set(err, MK_EXIT_USAGE,
                                    "invalid ports: port %u is given for two forwards", p[i]);
    return 0;
}

int mk_start_parse(const struct mk_globals *g, int argc, char **argv, struct mk_start_opts *o,
                   struct mk_error **err)
{
    memset(o, 0, sizeof(*o));
    o->direct_boot = true;
    o->accel = MK_ACCEL_AUTO;
    struct raw r = {0};
    int ret = -1;
    int c;
    optind = 0;
    while ((c = mk_cmd_getopt("start", argc, argv, "", longopts, err)) != -1) {
        switch (c) {
        case OPT_DRIVER:
            r.driver = optarg;
            break;
        case OPT_CPUS:
            r.cpus = optarg;
            break;
        case OPT_MEMORY:
            r.memory = optarg;
            break;
        case OPT_DISK:
            r.disk = optarg;
            break;
        case OPT_VERSION:
            r.version = optarg;
            break;
        case OPT_RUNTIME:
            r.runtime = optarg;
            break;
        case OPT_ISO:
            r.iso = optarg;
            break;
        case OPT_BUNDLE:
            r.bundle = optarg;
            break;
        case OPT_WAIT:
            r.wait = optarg;
            break;
        case OPT_WAIT_TIMEOUT:
            r.wait_timeout = optarg;
            break;
        case OPT_EMBED_CERTS:
            r.embed_certs = optarg ? optarg : "true";
            break;
        case OPT_ACCEL:
            r.accel = optarg;
            break;
        case OPT_KEEP_CONTEXT:
            if (parse_flag_bool(optarg, "keep-context", &o->keep_context, err) < 0)
                goto cleanup;
            break;
        case OPT_DIRECT_BOOT:
            if (parse_flag_bool(optarg, "direct-boot", &o->direct_boot, err) < 0)
                goto cleanup;
            break;
        case OPT_LIBVIRT_URI:
            if (!strstr(optarg, "://")) {
                mk_error_set(err, MK_EXIT_USAGE,
                             "invalid --libvirt-uri \"%s\": expected a URI such as qemu:///system",
                             optarg);
                goto cleanup;
            }
            free(o->libvirt_uri);
            o->libvirt_uri = xstrdup(optarg);
            break;
        case OPT_SSH_PORT:
        case OPT_API_PORT:
        case OPT_DOCKER_PORT: {
            unsigned *port = c == OPT_SSH_PORT   ? &o->ssh_port
                             : c == OPT_API_PORT ? &o->api_port
                                                 : &o->docker_port;
            if (mk_parse_port(optarg, true, port, err) < 0)
                goto cleanup;
            break;
        }
        default:
            goto cleanup;
        }
    }
    if (optind < argc) {
        mk_cmd_usage_error(err, "start", "'start' takes no arguments, got \"%s\"", argv[optind]);
        goto cleanup;
    }
    if (resolve_all(g, &r, o, err) < 0 || check_ports(o, err) < 0)
        goto cleanup;
    ret = 0;
cleanup:
    if (ret < 0)
        mk_start_opts_release(o);
    return ret;
}

void mk_start_opts_release(struct mk_start_opts *o)
{
    free(o->driver);
    free(o->kubernetes_version);
    free(o->container_runtime);
    free(o->iso_url);
    free(o->bundle_url);
    free(o->wait);
    free(o->libvirt_uri);
    memset(o, 0, sizeof(*o));
}
