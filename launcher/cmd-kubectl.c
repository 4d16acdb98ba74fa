/* cmd-kubectl.c - `mkube kubectl -- ARGS`: the bundle's kubectl (the cluster's
 * own version) against the profile's context. */
#include <string.h>

#include "cluster.h"
#include "commands.h"
#include "kubeconfig.h"
#include "run.h"

static int kubectl_exec(const struct mk_globals *g, int argc, char **argv, struct mk_error **err)
{
    struct mk_cluster c;
    int rc = -1;
    if (mk_cluster_open(g->home, g->profile, &c, err) < 0) {
        mk_cluster_close(&c);
        return -1;
    }
    mk_autofree char *kubectl = mk_cluster_kubectl(&c, err);
    if (kubectl) {
        const char **av = xcalloc((size_t)argc + 3, sizeof(*av));
        size_t n = 0;
        av[n++] = kubectl;
        mk_autofree char *ctx = xasprintf("--context=%s", g->profile);
        av[n++] = ctx;
        bool seen = false; /* drop only the first "--": later ones belong to kubectl */
        for (int i = 1; i < argc; i++) {
            if (!seen && strcmp(argv[i], "--") == 0) {
                seen = true;
                continue;
            }
            av[n++] = argv[i];
        }
        struct mk_run_opts o = {.inherit_stdin = true};
        struct mk_run_result r;
        mk_run_result_init(&r);
        if (mk_run(av, &o, &r, err) == 0)
            rc = r.status;
        mk_run_result_release(&r);
        free(av);
    }
    mk_cluster_close(&c);
    return rc;
}

const struct mk_cmd_entry mk_cmd_kubectl = {
    .name = "kubectl",
    .args = "[-- ARG...]",
    .summary = "Run a kubectl matching the cluster's version against it",
    .help = "Runs the kubectl from the cluster's Kubernetes bundle with --context=<profile>.\n"
            "Put kubectl's own flags after '--': mkube kubectl -- get pods -A\n",
    .exec = kubectl_exec,
};
