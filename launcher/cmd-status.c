/* cmd-status.c - `mkube status`: host, kubelet, API server and kubeconfig state,
 * as text or JSON, with minikube's exit-code bits. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>

#include "cluster.h"
#include "commands.h"
#include "output.h"

static int status_exec(const struct mk_globals *g, int argc, char **argv, struct mk_error **err)
{
    static const struct option longopts[] = {{"output", required_argument, NULL, 'o'}, {0}};
    const char *output = NULL;
    int c;
    optind = 0;
    while ((c = mk_cmd_getopt("status", argc, argv, "o:", longopts, err)) != -1) {
        if (c != 'o')
            return -1;
        output = optarg;
    }
    enum mk_output_format fmt;
    if (mk_output_parse(output, &fmt, err) < 0)
        return -1;
    if (optind < argc)
        return mk_cmd_usage_error(err, "status", "'status' takes no arguments");
    struct mk_status st;
    if (mk_cluster_status(g->home, g->profile, &st, err) < 0) {
        if ((*err)->code == MK_EXIT_PROFILE_NOT_FOUND && fmt == MK_OUTPUT_TEXT)
            printf("* Profile \"%s\" not found. Run \"mkube profile list\" to view all "
                   "profiles.\n",
                   g->profile);
        return -1;
    }
    if (fmt == MK_OUTPUT_JSON) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "Name", st.name, "Host", st.host,
                              "Kubelet", st.kubelet, "APIServer", st.apiserver, "Kubeconfig",
                              st.kubeconfig, "Worker", 0);
        int r = mk_json_print(stdout, j, false, err);
        json_decref(j);
        if (r < 0)
            return -1;
    } else {
        printf("%s\ntype: Control Plane\nhost: %s\nkubelet: %s\napiserver: %s\nkubeconfig: %s\n",
               st.name, st.host, st.kubelet, st.apiserver, st.kubeconfig);
    }
    return st.exit_bits;
}

const struct mk_cmd_entry mk_cmd_status = {
    .name = "status",
    .args = "[-o json]",
    .summary = "Show the state of the cluster's VM, kubelet, API server and kubeconfig",
    .help = "Exit status bits (as minikube): 1 host not running, 2 kubelet or API server\n"
            "not running, 4 kubeconfig not configured; 85 when the profile does not exist.\n"
            "\n"
            "Flags:\n"
            "  -o, --output FORMAT   text (default) or json\n",
    .exec = status_exec,
};
