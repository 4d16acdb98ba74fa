/* cmd-stubs.c - commands registered but not built yet. Each block below is
 * self-contained: whoever writes the real launcher/cmd-<verb>.c deletes that
 * command's block here (the table in commands.c keeps the same symbol). When
 * the last block goes, delete this file. */
#include <string.h>

#include "commands.h"
#include "start-flags.h"

static int not_implemented(const char *name, struct mk_error **err)
{
    return mk_error_set(err, MK_EXIT_NOT_IMPLEMENTED, "'%s' is not implemented yet", name);
}

/* ---- start (lifecycle): validates its flags first, so bad input is refused today ---- */
static int start_exec(const struct mk_globals *g, int argc, char **argv, struct mk_error **err)
{
    struct mk_start_opts o;
    if (mk_start_parse(g, argc, argv, &o, err) < 0)
        return -1;
    mk_start_opts_release(&o);
    return not_implemented("start", err);
}

const struct mk_cmd_entry mk_cmd_start = {
    .name = "start",
    .args = "[flags]",
    .summary = "Start a local Kubernetes cluster",
    .help = mk_start_flags_help,
    .exec = start_exec,
};

/* ---- status (lifecycle) ---- */
static int status_exec(const struct mk_globals *g, int argc, char **argv, struct mk_error **err)
{
    return not_implemented("status", err);
}

const struct mk_cmd_entry mk_cmd_status = {
    .name = "status",
    .args = "[-o json]",
    .summary = "Show the state of the cluster's VM, kubelet, API server and kubeconfig",
    .exec = status_exec,
};

/* ---- stop (lifecycle) ---- */
static int stop_exec(const struct mk_globals *g, int argc, char **argv, struct mk_error **err)
{
    return not_implemented("stop", err);
}

const struct mk_cmd_entry mk_cmd_stop = {
    .name = "stop",
    .summary = "Stop the cluster's VM, keeping everything in it",
    .exec = stop_exec,
};

/* ---- delete (lifecycle) ---- */
static int delete_exec(const struct mk_globals *g, int argc, char **argv, struct mk_error **err)
{
    return not_implemented("delete", err);
}

const struct mk_cmd_entry mk_cmd_delete = {
    .name = "delete",
    .args = "[--all] [--purge]",
    .summary = "Delete the cluster: its VM, disks and kubeconfig context",
    .exec = delete_exec,
};

/* ---- ip (lifecycle) ---- */
static int ip_exec(const struct mk_globals *g, int argc, char **argv, struct mk_error **err)
{
    return not_implemented("ip", err);
}

const struct mk_cmd_entry mk_cmd_ip = {
    .name = "ip",
    .summary = "Print the node's IP address",
    .exec = ip_exec,
};

/* ---- ssh (guest access): everything after "--" is the remote command ---- */
static int ssh_exec(const struct mk_globals *g, int argc, char **argv, struct mk_error **err)
{
    return not_implemented("ssh", err);
}

const struct mk_cmd_entry mk_cmd_ssh = {
    .name = "ssh",
    .args = "[-- COMMAND [ARG...]]",
    .summary = "Log into the VM, or run a command in it",
    .exec = ssh_exec,
};

/* ---- docker-env ---- */
static int docker_env_exec(const struct mk_globals *g, int argc, char **argv,
                           struct mk_error **err)
{
    return not_implemented("docker-env", err);
}

const struct mk_cmd_entry mk_cmd_docker_env = {
    .name = "docker-env",
    .args = "[--shell SHELL] [--unset]",
    .summary = "Print the environment that points docker at dockerd in the VM",
    .exec = docker_env_exec,
};

/* ---- service ---- */
static int service_exec(const struct mk_globals *g, int argc, char **argv, struct mk_error **err)
{
    return not_implemented("service", err);
}

const struct mk_cmd_entry mk_cmd_service = {
    .name = "service",
    .alias = "svc",
    .args = "[--url] [-n NAMESPACE] NAME | list",
    .summary = "Open a NodePort service in the browser, or print its URL",
    .exec = service_exec,
};

/* ---- dashboard ---- */
static int dashboard_exec(const struct mk_globals *g, int argc, char **argv,
                          struct mk_error **err)
{
    return not_implemented("dashboard", err);
}

const struct mk_cmd_entry mk_cmd_dashboard = {
    .name = "dashboard",
    .args = "[--url]",
    .summary = "Open the Kubernetes Dashboard in the browser",
    .exec = dashboard_exec,
};

/* ---- addons ---- */
static int addons_exec(const struct mk_globals *g, int argc, char **argv, struct mk_error **err)
{
    return not_implemented("addons", err);
}

const struct mk_cmd_entry mk_cmd_addons = {
    .name = "addons",
    .alias = "addon",
    .args = "list | enable NAME | disable NAME",
    .summary = "List, enable or disable cluster addons",
    .exec = addons_exec,
};

/* ---- logs ---- */
static int logs_exec(const struct mk_globals *g, int argc, char **argv, struct mk_error **err)
{
    return not_implemented("logs", err);
}

const struct mk_cmd_entry mk_cmd_logs = {
    .name = "logs",
    .args = "[-f] [-n LINES]",
    .summary = "Show the logs of the cluster's components",
    .exec = logs_exec,
};

/* ---- kubectl: everything after "--" goes to kubectl untouched ---- */
static int kubectl_exec(const struct mk_globals *g, int argc, char **argv, struct mk_error **err)
{
    return not_implemented("kubectl", err);
}

const struct mk_cmd_entry mk_cmd_kubectl = {
    .name = "kubectl",
    .args = "[-- ARG...]",
    .summary = "Run a kubectl matching the cluster's version against it",
    .exec = kubectl_exec,
};

/* ---- update-context ---- */
static int update_context_exec(const struct mk_globals *g, int argc, char **argv,
                               struct mk_error **err)
{
    return not_implemented("update-context", err);
}

const struct mk_cmd_entry mk_cmd_update_context = {
    .name = "update-context",
    .summary = "Point the kubeconfig context at the cluster's current address",
    .exec = update_context_exec,
};
