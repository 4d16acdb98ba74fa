/* cmd-ssh.c - `mkube ssh [-- CMD...]`: a shell in the VM, or one command. */
#include <getopt.h>
#include <string.h>

#include "cluster.h"
#include "commands.h"

static int ssh_exec(const struct mk_globals *g, int argc, char **argv, struct mk_error **err)
{
    static const struct option longopts[] = {{"native-ssh", no_argument, NULL, 'N'}, {0}};
    /* everything after "--" (or after the first word) is the remote command */
    int dashdash = argc;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--") == 0) {
            dashdash = i;
            break;
        }
    bool native = false;
    int c;
    optind = 0;
    int own = dashdash;
    while ((c = mk_cmd_getopt("ssh", own, argv, "", longopts, err)) != -1) {
        if (c != 'N')
            return -1;
        native = true;
    }
    const char **cmd = xcalloc((size_t)argc + 1, sizeof(*cmd));
    size_t n = 0;
    for (int i = optind; i < own; i++)
        cmd[n++] = argv[i];
    for (int i = dashdash + 1; i < argc; i++)
        cmd[n++] = argv[i];
    struct mk_cluster cl;
    int rc = -1;
    if (mk_cluster_open_running(g->home, g->profile, &cl, err) == 0) {
        struct mk_endpoint ep;
        if (mk_machine_endpoint(cl.machine, &ep, err) == 0) {
            struct mk_ssh_target t = {
                .host = ep.host,
                .port = ep.ssh_port,
                .user = ep.ssh_user ? ep.ssh_user : "docker",
                .key_path = cl.key_path,
                .known_hosts_path = cl.known_hosts,
            };
            rc = native ? mk_ssh_interactive_native(&t, n ? cmd : NULL, err)
                        : mk_ssh_interactive(t.host, t.port, t.user, t.key_path,
                                             t.known_hosts_path, n ? cmd : NULL, err);
        }
    }
    mk_cluster_close(&cl);
    free(cmd);
    return rc;
}

const struct mk_cmd_entry mk_cmd_ssh = {
    .name = "ssh",
    .args = "[--native-ssh] [-- COMMAND [ARG...]]",
    .summary = "Log into the VM, or run a command in it",
    .help = "Without a command, opens an interactive shell as the 'docker' user.\n"
            "The exit status is the remote command's.\n"
            "\n"
            "Flags:\n"
            "      --native-ssh   use the built-in SSH client instead of the system 'ssh'\n",
    .exec = ssh_exec,
};
