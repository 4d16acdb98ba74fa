/* cmd-start.c - `mkube start`: create or restart the profile's cluster. */
#include "cluster.h"
#include "commands.h"
#include "start-flags.h"

static int start_exec(const struct mk_globals *g, int argc, char **argv, struct mk_error **err)
{
    struct mk_start_opts o;
    if (mk_start_parse(g, argc, argv, &o, err) < 0)
        return -1;
    int rc = mk_cluster_start(g->home, g->profile, &o, err);
    mk_start_opts_release(&o);
    return rc < 0 ? -1 : MK_EXIT_OK;
}

const struct mk_cmd_entry mk_cmd_start = {
    .name = "start",
    .args = "[flags]",
    .summary = "Start a local Kubernetes cluster",
    .help = mk_start_flags_help,
    .exec = start_exec,
};
