/* cmd-delete.c - `mkube delete`: remove a cluster's VM, disks, machine folder,
 * profile and kubeconfig entries; --all for every profile, --purge for $MKUBE_HOME. */
#include <getopt.h>

#include "cluster.h"
#include "commands.h"
#include "fsutil.h"
#include "log.h"
#include "profile.h"

static int delete_exec(const struct mk_globals *g, int argc, char **argv, struct mk_error **err)
{
    static const struct option longopts[] = {
        {"all", no_argument, NULL, 'a'},
        {"purge", no_argument, NULL, 'P'},
        {0},
    };
    bool all = false, purge = false;
    int c;
    optind = 0;
    while ((c = mk_cmd_getopt("delete", argc, argv, "", longopts, err)) != -1) {
        if (c == 'a')
            all = true;
        else if (c == 'P')
            purge = true;
        else
            return -1;
    }
    if (optind < argc)
        return mk_cmd_usage_error(err, "delete", "'delete' takes no arguments");
    if (purge && !all)
        return mk_cmd_usage_error(err, "delete", "'--purge' needs '--all' (it removes %s)",
                                  g->home);
    if (!all)
        return mk_cluster_delete(g->home, g->profile, err) < 0 ? -1 : MK_EXIT_OK;
    mk_autostrv char **names = NULL;
    if (mk_profile_list(g->home, &names, err) < 0)
        return -1;
    for (size_t i = 0; names[i]; i++)
        if (mk_cluster_delete(g->home, names[i], err) < 0)
            return -1;
    if (purge) {
        if (mk_rm_rf(g->home, err) < 0)
            return -1;
        mk_step("Removed %s", g->home);
    } else {
        mk_step("Successfully deleted all profiles");
    }
    return MK_EXIT_OK;
}

const struct mk_cmd_entry mk_cmd_delete = {
    .name = "delete",
    .args = "[--all [--purge]]",
    .summary = "Delete the cluster: its VM, disks and kubeconfig context",
    .help = "Deletes the profile's VM, its disks and machine folder, its profile, and the\n"
            "cluster, user and context it added to the kubeconfig. The CA in $MKUBE_HOME/certs\n"
            "and the download cache are kept.\n"
            "\n"
            "Flags:\n"
            "      --all     delete every profile\n"
            "      --purge   with --all: also remove $MKUBE_HOME (CA, cache, config)\n",
    .exec = delete_exec,
};
