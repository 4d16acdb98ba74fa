/* cmd-dashboard.c - `mkube dashboard`: enable the dashboard addon, wait for
 * it, serve it on 127.0.0.1 through the API proxy, print or open its URL and
 * stay in the foreground until Ctrl-C (dashboard.h, apiproxy.h). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addons.h"
#include "apiproxy.h"
#include "cluster.h"
#include "commands.h"
#include "dashboard.h"
#include "log.h"
#include "profile.h"
#include "service.h"

struct dash_opts {
    bool url;
    unsigned port;
    int wait_s;
};

static int parse_uint(const char *flag, const char *s, unsigned long max, unsigned long *out,
                      struct mk_error **err)
{
    char *end = NULL;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || *s == '-' || *s == '+' || v > max)
        return mk_cmd_usage_error(err, "dashboard", "invalid value \"%s\" for %s", s, flag);
    *out = v;
    return 0;
}

/* Enable the addon in the profile (and apply it) unless it is already. */
static int ensure_enabled(const struct mk_globals *g, const char *dir, struct mk_error **err)
{
    struct mk_addon a;
    if (mk_addon_load(dir, MK_DASHBOARD_ADDON, &a, err) < 0)
        return -1;
    mk_autoprofile struct mk_profile *p = NULL;
    int rc = mk_profile_load(g->home, g->profile, &p, err);
    if (rc == 0 && !mk_addon_enabled(p, &a)) {
        mk_step("Enabling the %s addon ...", MK_DASHBOARD_ADDON);
        rc = mk_addons_set(g->home, g->profile, MK_DASHBOARD_ADDON, true, err);
    }
    mk_addon_release(&a);
    return rc;
}

/* Block until SIGINT, SIGTERM or SIGHUP; returns the signal. */
static int wait_for_signal(void)
{
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, &old);
    /* A shell starts a background job with SIGINT ignored, and an ignored
     * signal never reaches sigwait: take them back (they stay blocked, so
     * sigwait gets them instead of their default action), as Go programs
     * like `kubectl proxy` do. */
    struct sigaction dfl = {.sa_handler = SIG_DFL}, saved[3];
    sigaction(SIGINT, &dfl, &saved[0]);
    sigaction(SIGTERM, &dfl, &saved[1]);
    sigaction(SIGHUP, &dfl, &saved[2]);
    int sig = 0;
    while (sigwait(&set, &sig) != 0)
        ;
    sigaction(SIGINT, &saved[0], NULL);
    sigaction(SIGTERM, &saved[1], NULL);
    sigaction(SIGHUP, &saved[2], NULL);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return sig;
}

static int serve(const struct mk_globals *g, const struct dash_opts *o,
                 const struct mk_dashboard_target *t, struct mk_error **err)
{
    struct mk_cluster cl;
    struct mk_kapi k;
    memset(&k, 0, sizeof(k));
    struct mk_apiproxy *proxy = NULL;
    mk_autofree char *url = NULL;
    int rc = -1;
    if (mk_cluster_open_running(g->home, g->profile, &cl, err) < 0)
        goto cleanup;
    if (mk_cluster_kapi(&cl, &k, err) < 0)
        goto cleanup;
    mk_step("Verifying the dashboard's health ...");
    if (mk_dashboard_wait(&k, t->ns, o->wait_s, err) < 0)
        goto cleanup;
    mk_step("Launching the proxy ...");
    struct mk_apiproxy_config cfg = {.upstream = k.server,
                                     .ca_path = k.ca_path,
                                     .cert_path = k.cert_path,
                                     .key_path = k.key_path,
                                     .port = o->port};
    if (mk_apiproxy_start(&cfg, &proxy, err) < 0) {
        mk_error_wrap(err, "cannot start the dashboard proxy");
        goto cleanup;
    }
    url = mk_dashboard_url(mk_apiproxy_port(proxy), t);
    if (o->url) {
        printf("%s\n", url);
        fflush(stdout);
    } else {
        mk_step("Opening %s in your default browser ...", url);
        bool opened = false;
        mk_autofree char *why = NULL;
        mk_browser_open(url, &opened, &why, NULL);
        if (!opened) {
            mk_warn("cannot open a browser: %s", why);
            mk_info("open this URL yourself:");
            printf("%s\n", url);
            fflush(stdout);
        }
    }
    mk_info("serving on 127.0.0.1:%u; press Ctrl-C to stop", mk_apiproxy_port(proxy));
    int sig = wait_for_signal();
    mk_debug(1, "dashboard: signal %d, stopping the proxy", sig);
    mk_step("Stopping the dashboard proxy ...");
    rc = MK_EXIT_OK;
cleanup:
    mk_apiproxy_stop(proxy);
    mk_kapi_release(&k);
    mk_cluster_close(&cl);
    return rc;
}

static int dashboard_exec(const struct mk_globals *g, int argc, char **argv, struct mk_error **err)
{
    static const struct option longopts[] = {
        {"url", no_argument, NULL, 'u'},
        {"port", required_argument, NULL, 'p'},
        {"wait", required_argument, NULL, 'w'},
        {0},
    };
    struct dash_opts o = {.wait_s = MK_DASHBOARD_DEFAULT_WAIT_S};
    unsigned long v = 0;
    int c;
    optind = 0;
    while ((c = mk_cmd_getopt("dashboard", argc, argv, "", longopts, err)) != -1) {
        switch (c) {
        case 'u':
            o.url = true;
            break;
        case 'p':
            if (parse_uint("--port", optarg, 65535, &v, err) < 0)
                return -1;
            o.port = (unsigned)v;
            break;
        case 'w':
            if (parse_uint("--wait", optarg, 86400, &v, err) < 0)
                return -1;
            o.wait_s = (int)v;
            break;
        default:
            return -1;
        }
    }
    if (optind < argc)
        return mk_cmd_usage_error(err, "dashboard", "'dashboard' takes no arguments");

    struct mk_dashboard_target t;
    mk_autofree char *dir = mk_addons_dir(err);
    if (!dir || mk_dashboard_target_load(dir, &t, err) < 0)
        return -1;
    int rc = -1;
    struct mk_cluster cl;
    /* the cluster must run before anything is recorded in the profile */
    if (mk_cluster_open_running(g->home, g->profile, &cl, err) < 0)
        goto cleanup;
    mk_cluster_close(&cl);
    if (ensure_enabled(g, dir, err) < 0)
        goto cleanup;
    rc = serve(g, &o, &t, err);
cleanup:
    mk_dashboard_target_release(&t);
    return rc;
}

const struct mk_cmd_entry mk_cmd_dashboard = {
    .name = "dashboard",
    .args = "[--url] [--port N]",
    .summary = "Open the Kubernetes Dashboard in the browser",
    .help = "Enables the dashboard addon if needed, waits for it, and serves it on\n"
            "127.0.0.1 through a local proxy to the API server that authenticates with\n"
            "the profile's client certificate (like 'kubectl proxy'); then opens\n"
            "http://127.0.0.1:PORT/api/v1/namespaces/NS/services/SVC:PORT/proxy/ in the\n"
            "default browser and keeps serving until Ctrl-C.\n"
            "\n"
            "No dashboard addon ships while no upstream web UI can be built (see\n"
            "docs/dashboard.md); the command then says so and exits 69.\n"
            "\n"
            "Flags:\n"
            "      --url             print the URL (stdout: only the URL) instead of\n"
            "                        opening it; still serves until Ctrl-C\n"
            "      --port N          the proxy's port on 127.0.0.1 (default: any free one)\n"
            "      --wait SECONDS    how long to wait for the dashboard (default 300)\n",
    .exec = dashboard_exec,
};
