/* cmd-service.c - `mkube service`: print or open the URL of a NodePort service,
 * and `mkube service list` (service.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "commands.h"
#include "log.h"
#include "output.h"
#include "service.h"

struct svc_opts {
    const char *ns;
    bool url, https, all, ns_given;
    int wait_s, interval_s;
    enum mk_output_format fmt;
};

static int parse_seconds(const char *flag, const char *s, int *out, struct mk_error **err)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 0 || v > 86400)
        return mk_cmd_usage_error(err, "service", "invalid value \"%s\" for %s: want seconds", s,
                                  flag);
    *out = (int)v;
    return 0;
}

static void add_rows(struct mk_table *t, const struct mk_svc *s, const char *host, bool https)
{
    bool any = false;
    for (size_t i = 0; i < s->nports; i++) {
        const struct mk_svc_port *p = &s->ports[i];
        if (!p->node_port)
            continue;
        mk_autofree char *label = mk_svc_port_label(p);
        mk_autofree char *url = p->host_port ? mk_svc_url(host, p->host_port, https)
                                             : xasprintf("no forward (%s)", p->protocol);
        const char *cells[] = {s->ns, s->name, label, url};
        mk_table_add_row(t, cells);
        any = true;
    }
    if (!any) {
        const char *cells[] = {s->ns, s->name, "No node port", ""};
        mk_table_add_row(t, cells);
    }
}

static struct mk_table *new_table(void)
{
    static const char *const headers[] = {"NAMESPACE", "NAME", "TARGET PORT", "URL"};
    return mk_table_new(MK_ARRAY_SIZE(headers), headers);
}

static json_t *svc_json(const struct mk_svc *s, const char *host, bool https)
{
    json_t *urls = json_array(), *names = json_array();
    for (size_t i = 0; i < s->nports; i++) {
        const struct mk_svc_port *p = &s->ports[i];
        if (!p->host_port)
            continue;
        mk_autofree char *url = mk_svc_url(host, p->host_port, https);
        mk_autofree char *label = mk_svc_port_label(p);
        json_array_append_new(urls, json_string(url));
        json_array_append_new(names, json_string(label));
    }
    return json_pack("{s:s, s:s, s:o, s:o}", "Namespace", s->ns, "Name", s->name, "URLs", urls,
                     "PortNames", names);
}

static int list(struct mk_cluster *c, const struct mk_kapi *k, const struct svc_opts *o,
                const char *host, struct mk_error **err)
{
    struct mk_svc *svcs = NULL;
    size_t n = 0;
    if (mk_svc_list(k, o->ns_given ? o->ns : NULL, &svcs, &n, err) < 0)
        return -1;
    int rc = -1;
    if (mk_svc_forward(c, svcs, n, err) < 0)
        goto cleanup;
    if (o->fmt == MK_OUTPUT_JSON) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, svc_json(&svcs[i], host, o->https));
        rc = mk_json_print(stdout, arr, false, err) < 0 ? -1 : MK_EXIT_OK;
        json_decref(arr);
        goto cleanup;
    }
    struct mk_table *t = new_table();
    for (size_t i = 0; i < n; i++)
        add_rows(t, &svcs[i], host, o->https);
    mk_table_print(t, stdout);
    mk_table_free(t);
    rc = MK_EXIT_OK;
cleanup:
    mk_svc_free_array(svcs, n);
    return rc;
}

/* The services NAME or --all asks for, waited for and forwarded. */
static int resolve(struct mk_cluster *c, const struct mk_kapi *k, const struct svc_opts *o,
                   const char *name, struct mk_svc **out, size_t *n, struct mk_error **err)
{
    if (!o->all) {
        struct mk_svc *s = xcalloc(1, sizeof(*s));
        if (mk_svc_get(k, o->ns, name, o->wait_s, o->interval_s, s, err) < 0) {
            free(s);
            return -1;
        }
        *out = s;
        *n = 1;
    } else {
        struct mk_svc *all = NULL;
        size_t count = 0, kept = 0;
        if (mk_svc_list(k, o->ns, &all, &count, err) < 0)
            return -1;
        for (size_t i = 0; i < count; i++) {
            if (mk_svc_has_node_port(&all[i])) {
                all[kept++] = all[i];
                continue;
            }
            mk_info("service %s/%s has no node port", all[i].ns, all[i].name);
            mk_svc_release(&all[i]);
        }
        *out = all;
        *n = kept;
        if (kept == 0) {
            mk_svc_free_array(all, 0);
            *out = NULL;
            mk_error_set(err, MK_EXIT_PROFILE_NOT_FOUND,
                         "no service in namespace \"%s\" has a node port", o->ns);
            return -1;
        }
    }
    if (mk_svc_forward(c, *out, *n, err) < 0) {
        mk_svc_free_array(*out, *n);
        *out = NULL;
        return -1;
    }
    return 0;
}

static int open_or_print(struct mk_svc *svcs, size_t n, const struct svc_opts *o, const char *host)
{
    if (o->url) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < svcs[i].nports; j++)
                if (svcs[i].ports[j].host_port) {
                    mk_autofree char *url = mk_svc_url(host, svcs[i].ports[j].host_port, o->https);
                    printf("%s\n", url);
                }
        return MK_EXIT_OK;
    }
    struct mk_table *t = new_table();
    for (size_t i = 0; i < n; i++)
        add_rows(t, &svcs[i], host, o->https);
    mk_table_print(t, stdout);
    mk_table_free(t);
    for (size_t i = 0; i < n; i++) {
        mk_step("Opening service %s/%s in default browser...", svcs[i].ns, svcs[i].name);
        for (size_t j = 0; j < svcs[i].nports; j++) {
            if (!svcs[i].ports[j].host_port)
                continue;
            mk_autofree char *url = mk_svc_url(host, svcs[i].ports[j].host_port, o->https);
            bool opened = false;
            mk_autofree char *why = NULL;
            mk_browser_open(url, &opened, &why, NULL);
            if (!opened) {
                mk_warn("cannot open a browser: %s", why);
                mk_info("open this URL yourself:");
                printf("%s\n", url);
            }
        }
    }
    return MK_EXIT_OK;
}

static int service_exec(const struct mk_globals *g, int argc, char **argv, struct mk_error **err)
{
    static const struct option longopts[] = {
        {"namespace", required_argument, NULL, 'n'}, {"url", no_argument, NULL, 'u'},
        {"https", no_argument, NULL, 'h'},           {"all", no_argument, NULL, 'a'},
        {"wait", required_argument, NULL, 'w'},      {"interval", required_argument, NULL, 'i'},
        {"output", required_argument, NULL, 'o'},    {0},
    };
    struct svc_opts o = {.ns = "default",
                         .wait_s = MK_SERVICE_DEFAULT_WAIT_S,
                         .interval_s = MK_SERVICE_DEFAULT_INTERVAL_S};
    const char *output = NULL;
    int c;
    optind = 0;
    while ((c = mk_cmd_getopt("service", argc, argv, "n:o:", longopts, err)) != -1) {
        switch (c) {
        case 'n':
            o.ns = optarg;
            o.ns_given = true;
            break;
        case 'u':
            o.url = true;
            break;
        case 'h':
            o.https = true;
            break;
        case 'a':
            o.all = true;
            break;
        case 'w':
            if (parse_seconds("--wait", optarg, &o.wait_s, err) < 0)
                return -1;
            break;
        case 'i':
            if (parse_seconds("--interval", optarg, &o.interval_s, err) < 0)
                return -1;
            break;
        case 'o':
            output = optarg;
            break;
        default:
            return -1;
        }
    }
    if (mk_output_parse(output, &o.fmt, err) < 0)
        return -1;
    int nargs = argc - optind;
    char **args = argv + optind;
    bool is_list = nargs >= 1 && strcmp(args[0], "list") == 0;
    if (is_list && nargs > 1)
        return mk_cmd_usage_error(err, "service", "'service list' takes no arguments");
    if (!is_list) {
        if (output)
            return mk_cmd_usage_error(err, "service", "'-o' only applies to 'service list'");
        if (o.all && nargs > 0)
            return mk_cmd_usage_error(err, "service", "give a service NAME or --all, not both");
        if (!o.all && nargs != 1)
            return mk_cmd_usage_error(err, "service", "'service' needs one service NAME");
    }

    struct mk_cluster cl;
    struct mk_kapi k;
    memset(&k, 0, sizeof(k));
    int rc = -1;
    if (mk_cluster_open_running(g->home, g->profile, &cl, err) < 0)
        goto cleanup;
    if (!(cl.machine->driver->caps & MK_DRV_CAP_RUNTIME_FORWARD) &&
        !(cl.machine->driver->caps & MK_DRV_CAP_GUEST_IP)) {
        mk_error_set(err, MK_EXIT_DRIVER, "the %s driver cannot add port forwards at run time",
                     cl.machine->driver->name);
        goto cleanup;
    }
    struct mk_endpoint ep;
    if (mk_machine_endpoint(cl.machine, &ep, err) < 0 || mk_cluster_kapi(&cl, &k, err) < 0)
        goto cleanup;
    if (is_list) {
        rc = list(&cl, &k, &o, ep.host, err);
        goto cleanup;
    }
    struct mk_svc *svcs = NULL;
    size_t n = 0;
    if (resolve(&cl, &k, &o, o.all ? NULL : args[0], &svcs, &n, err) < 0)
        goto cleanup;
    rc = open_or_print(svcs, n, &o, ep.host);
    mk_svc_free_array(svcs, n);
cleanup:
    mk_kapi_release(&k);
    mk_cluster_close(&cl);
    return rc;
}

const struct mk_cmd_entry mk_cmd_service = {
    .name = "service",
    .alias = "svc",
    .args = "[flags] NAME | --all | list [-n NS] [-o json]",
    .summary = "Open a NodePort service in the browser, or print its URL",
    .help = "Waits for the service to have a running pod, adds a forward from a port on\n"
            "127.0.0.1 to its NodePort (kept across stop/start; no tunnel process, no sudo),\n"
            "then opens http://127.0.0.1:PORT in the default browser, or prints it.\n"
            "\n"
            "Subcommands:\n"
            "  list                  every service with its URL (forwards NodePorts too)\n"
            "\n"
            "Flags:\n"
            "  -n, --namespace NS    the service's namespace (default \"default\"; for\n"
            "                        'list': only that namespace)\n"
            "      --url             print the URL(s), one per line, instead of opening them\n"
            "      --https           https:// URLs\n"
            "      --all             every NodePort service of the namespace\n"
            "      --wait SECONDS    how long to wait for the service and a running pod\n"
            "                        (default 120)\n"
            "      --interval SECONDS  how often to look (default 1)\n"
            "  -o, --output FORMAT   table (default) or json, for 'list'\n",
    .exec = service_exec,
};
