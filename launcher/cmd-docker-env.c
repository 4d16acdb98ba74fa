/* cmd-docker-env.c - `mkube docker-env`: print the environment that points the
 * docker CLI at dockerd in the VM, for the user's shell (dockerenv.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "commands.h"
#include "dockerenv.h"
#include "output.h"

static int docker_env_exec(const struct mk_globals *g, int argc, char **argv, struct mk_error **err)
{
    static const struct option longopts[] = {
        {"shell", required_argument, NULL, 's'},
        {"unset", no_argument, NULL, 'u'},
        {"output", required_argument, NULL, 'o'},
        {0},
    };
    const char *shell = NULL, *output = NULL;
    bool unset = false;
    int c;
    optind = 0;
    while ((c = mk_cmd_getopt("docker-env", argc, argv, "uo:", longopts, err)) != -1) {
        switch (c) {
        case 's':
            shell = optarg;
            break;
        case 'u':
            unset = true;
            break;
        case 'o':
            output = optarg;
            break;
        default:
            return -1;
        }
    }
    if (optind < argc)
        return mk_cmd_usage_error(err, "docker-env", "'docker-env' takes no arguments");
    enum mk_output_format fmt;
    if (mk_output_parse(output, &fmt, err) < 0)
        return -1;
    if (fmt == MK_OUTPUT_JSON && (unset || shell))
        return mk_cmd_usage_error(err, "docker-env",
                                  "'-o json' cannot be combined with --unset or --shell");
    enum mk_shell sh;
    if (shell) {
        if (mk_shell_parse(shell, &sh, err) < 0)
            return -1;
    } else {
        sh = mk_shell_detect(getenv("SHELL"));
    }

    mk_autobuf struct mk_buf out = MK_BUF_INIT;
    if (unset) {
        /* needs no cluster: it only undoes what the shell holds */
        mk_dockerenv_format_unset(&out, sh, NULL, NULL);
        fputs(mk_buf_str(&out), stdout);
        return MK_EXIT_OK;
    }
    struct mk_dockerenv e;
    if (mk_dockerenv_resolve(g->home, g->profile, &e, err) < 0)
        return -1;
    int rc = MK_EXIT_OK;
    if (fmt == MK_OUTPUT_JSON) {
        json_t *j = mk_dockerenv_json(&e);
        if (mk_json_print(stdout, j, false, err) < 0)
            rc = -1;
        json_decref(j);
    } else {
        mk_dockerenv_format(&out, sh, &e, NULL, NULL);
        fputs(mk_buf_str(&out), stdout);
    }
    mk_dockerenv_release(&e);
    return rc;
}

const struct mk_cmd_entry mk_cmd_docker_env = {
    .name = "docker-env",
    .args = "[--shell SHELL] [-u] [-o json]",
    .summary = "Print the environment that points docker at dockerd in the VM",
    .help = "Prints the variables that point the docker CLI at the Docker Engine inside the\n"
            "VM, so images you build are at once visible to Kubernetes:\n"
            "\n"
            "    eval $(mkube docker-env)\n"
            "\n"
            "It reads only local files (fast enough for a shell start-up file). Variables\n"
            "you had set before (DOCKER_HOST, ...) are kept as MKUBE_EXISTING_* and\n"
            "restored by --unset.\n"
            "\n"
            "Flags:\n"
            "      --shell SHELL     bash, zsh, fish, powershell, cmd, tcsh, emacs or none\n"
            "                        (default: detected from $SHELL)\n"
            "  -u, --unset           print the commands that undo it\n"
            "  -o, --output FORMAT   text (default) or json\n",
    .exec = docker_env_exec,
};
