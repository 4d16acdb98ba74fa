/* cmd-update-context.c - `mkube update-context`: point the kubeconfig context
 * at the cluster's current API server forward. */
#include "cluster.h"
#include "commands.h"
#include "log.h"

static int update_context_exec(const struct mk_globals *g, int argc, char **argv,
                               struct mk_error **err)
{
    if (argc > 1)
        return mk_cmd_usage_error(err, "update-context", "'update-context' takes no arguments");
    struct mk_cluster c;
    int rc = -1;
    bool changed = false;
    if (mk_cluster_open(g->home, g->profile, &c, err) == 0 &&
        mk_cluster_update_context(&c, &changed, err) == 0) {
        if (changed)
            mk_step("\"%s\" context has been updated to point to the cluster's API forward",
                    g->profile);
        else
            mk_step("\"%s\" context is already correct", g->profile);
        rc = MK_EXIT_OK;
    }
    mk_cluster_close(&c);
    return rc;
}

const struct mk_cmd_entry mk_cmd_update_context = {
    .name = "update-context",
    .summary = "Point the kubeconfig context at the cluster's current address",
    .exec = update_context_exec,
};
