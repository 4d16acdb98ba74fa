/* cmd-ip.c - `mkube ip`: the address the host reaches the node at (127.0.0.1
 * with the default forwarded networking; the guest address for drivers that
 * have no loopback NAT). */
#include <stdio.h>

#include "cluster.h"
#include "commands.h"

static int ip_exec(const struct mk_globals *g, int argc, char **argv, struct mk_error **err)
{
    if (argc > 1)
        return mk_cmd_usage_error(err, "ip", "'ip' takes no arguments");
    struct mk_cluster c;
    int rc = -1;
    if (mk_cluster_open_running(g->home, g->profile, &c, err) == 0) {
        struct mk_endpoint ep;
        if (mk_machine_endpoint(c.machine, &ep, err) == 0) {
            printf("%s\n", ep.host);
            rc = MK_EXIT_OK;
        }
    }
    mk_cluster_close(&c);
    return rc;
}

const struct mk_cmd_entry mk_cmd_ip = {
    .name = "ip",
    .summary = "Print the address the host reaches the node at",
    .help = "With the default networking every port of the node is reached through a\n"
            "forward on 127.0.0.1, so this prints 127.0.0.1; 'mkube service --url' prints\n"
            "the forwarded port of a service.\n",
    .exec = ip_exec,
};
