/* cmd-stop.c - `mkube stop`: stop kubelet, then the VM, keeping all state. */
#include <getopt.h>

#include "cluster.h"
#include "commands.h"
#include "profile.h"

static int stop_exec(const struct mk_globals *g, int argc, char **argv, struct mk_error **err)
{
    static const struct option longopts[] = {{"all", no_argument, NULL, 'a'}, {0}};
    bool all = false;
    int c;
    optind = 0;
    while ((c = mk_cmd_getopt("stop", argc, argv, "", longopts, err)) != -1) {
        if (c != 'a')
            return -1;
        all = true;
    }
    if (optind < argc)
        return mk_cmd_usage_error(err, "stop", "'stop' takes no arguments");
    if (!all)
        return mk_cluster_stop(g->home, g->profile, err) < 0 ? -1 : MK_EXIT_OK;
    mk_autostrv char **names = NULL;
    if (mk_profile_list(g->home, &names, err) < 0)
        return -1;
    for (size_t i = 0; names[i]; i++)
        if (mk_cluster_stop(g->home, names[i], err) < 0)
            return -1;
    return MK_EXIT_OK;
}

const struct mk_cmd_entry mk_cmd_stop = {
    .name = "stop",
    .args = "[--all]",
    .summary = "Stop the cluster's VM, keeping everything in it",
    .help = "Stops kubelet, then shuts the VM down (ACPI, bounded wait, then power off).\n"
            "Everything on the data disk is kept: 'mkube start' brings the same cluster back.\n"
            "\n"
            "Flags:\n"
            "      --all   stop every profile\n",
    .exec = stop_exec,
};
