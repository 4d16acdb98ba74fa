/* cmd-logs.c - `mkube logs`: the guest's kubelet, dockerd, cri-dockerd and
 * kubeadm journals, the control-plane containers' logs, and the VM console. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cluster.h"
#include "commands.h"
#include "fsutil.h"
#include "log.h"

static int logs_exec(const struct mk_globals *g, int argc, char **argv, struct mk_error **err)
{
    static const struct option longopts[] = {
        {"length", required_argument, NULL, 'n'},
        {"follow", no_argument, NULL, 'f'},
        {0},
    };
    long lines = 60;
    bool follow = false;
    int c;
    optind = 0;
    while ((c = mk_cmd_getopt("logs", argc, argv, "n:f", longopts, err)) != -1) {
        if (c == 'n') {
            char *end = NULL;
            lines = strtol(optarg, &end, 10);
            if (!*optarg || *end || lines <= 0 || lines > 1000000)
                return mk_cmd_usage_error(err, "logs", "invalid --length \"%s\": expected a "
                                                       "positive number of lines", optarg);
        } else if (c == 'f') {
            follow = true;
        } else {
            return -1;
        }
    }
    if (optind < argc)
        return mk_cmd_usage_error(err, "logs", "'logs' takes no arguments");
    struct mk_cluster cl;
    int rc = -1;
    mk_autofree char *console = NULL;
    mk_autofree char *cmd = NULL;
    mk_autobuf struct mk_buf con = MK_BUF_INIT;
    mk_autobuf struct mk_buf out = MK_BUF_INIT;
    if (mk_cluster_open(g->home, g->profile, &cl, err) < 0)
        goto cleanup;
    /* the console log is on the host and tells why a VM did not boot */
    console = xasprintf("%s/console.log", cl.machine_dir);
    if (!follow && mk_path_exists(console) && mk_read_file(console, &con, 0, NULL, NULL) == 0) {
        const char *p = mk_buf_str(&con) + con.len;
        for (long n = 0; p > con.buf && n <= lines; p--)
            if (p[-1] == '\n')
                n++;
        printf("==> VM console (%s) <==\n%s\n", console, p);
    }
    /* what the guest scripts of the last start printed */
    static const char *const saved[] = {"provision.log", "bootstrap.log"};
    for (size_t i = 0; !follow && i < MK_ARRAY_SIZE(saved); i++) {
        mk_autofree char *path = xasprintf("%s/%s", cl.machine_dir, saved[i]);
        mk_autobuf struct mk_buf text = MK_BUF_INIT;
        if (mk_path_exists(path) && mk_read_file(path, &text, 0, NULL, NULL) == 0)
            printf("==> last start: %s <==\n%s\n", path, mk_buf_str(&text));
    }
    mk_cluster_close(&cl);
    if (mk_cluster_open_running(g->home, g->profile, &cl, err) < 0)
        goto cleanup;
    struct mk_ssh *s = mk_cluster_ssh(&cl, 30000, err);
    if (!s)
        goto cleanup;
    cmd = follow ? xasprintf("sudo journalctl --no-pager -f -n %ld -u kubelet -u docker -u "
                           "cri-docker -u containerd",
                           lines)
               : xasprintf(
                     "for u in docker cri-docker kubelet; do echo \"==> $u <==\"; "
                     "sudo journalctl --no-pager -n %ld -u $u; done; "
                     "for n in kube-apiserver etcd kube-scheduler kube-controller-manager coredns; "
                     "do id=$(sudo docker ps -aq --filter name=k8s_$n | head -n1); "
                     "[ -n \"$id\" ] && { echo \"==> $n [$id] <==\"; sudo docker logs --tail %ld "
                     "$id 2>&1; }; done; echo '==> dmesg <=='; sudo dmesg | tail -n 20",
                     lines, lines);
    int status = 0;
    if (mk_ssh_run(s, cmd, NULL, 0, &out, NULL, &status, follow ? 0 : 120000, err) == 0) {
        fwrite(mk_buf_str(&out), 1, out.len, stdout);
        rc = MK_EXIT_OK;
    }
    mk_ssh_close(s);
cleanup:
    mk_cluster_close(&cl);
    return rc;
}

const struct mk_cmd_entry mk_cmd_logs = {
    .name = "logs",
    .args = "[-n LINES] [-f]",
    .summary = "Show the logs of the cluster's components",
    .help = "Prints the VM console, the journals of dockerd, cri-dockerd and kubelet, and\n"
            "the logs of the control-plane containers.\n"
            "\n"
            "Flags:\n"
            "  -n, --length N   lines of each log (default 60)\n"
            "  -f, --follow     follow the journals\n",
    .exec = logs_exec,
};
