/* cluster.h - the lifecycle of one profile's cluster: start (create, boot,
 * provision, kubeadm, kubeconfig, waits), stop, delete, status. cmd-start.c,
 * cmd-stop.c, cmd-delete.c and cmd-status.c are thin wrappers around it. */
#ifndef MK_CLUSTER_H
#define MK_CLUSTER_H

#include <stdbool.h>

#include "commands.h"
#include "driver.h"
#include "kapi.h"
#include "ssh.h"
#include "start-flags.h"

/* Status bits for the exit code of `mkube status` (minikube-compatible). */
#define MK_STATUS_HOST_DOWN 1
#define MK_STATUS_CLUSTER_DOWN 2
#define MK_STATUS_KUBECONFIG_BAD 4

struct mk_status {
    char name[64];
    char host[16];       /* Running, Stopped, Starting, Error, Nonexistent */
    char kubelet[16];    /* Running, Stopped, Nonexistent */
    char apiserver[16];  /* Running, Stopped, Nonexistent */
    char kubeconfig[16]; /* Configured, Misconfigured, Nonexistent */
    char driver[32];
    char server[128];    /* https://127.0.0.1:PORT or "" */
    int exit_bits;
};

/* The paths and objects of one profile, opened by mk_cluster_open. */
struct mk_cluster {
    char *home;
    char *name;
    char *machines_dir;
    char *machine_dir;
    char *cache_dir;
    char *certs_dir;
    char *key_path;         /* machines/<name>/id_ed25519 */
    char *known_hosts;      /* machines/<name>/known_hosts */
    char *client_crt, *client_key; /* profiles/<name>/client.{crt,key} */
    struct mk_machine *machine; /* NULL when no machine exists */
};

int mk_cluster_open(const char *home, const char *name, struct mk_cluster *c,
                    struct mk_error **err);
void mk_cluster_close(struct mk_cluster *c);

/* Open the profile and check its VM is running; errors say how to start it. */
int mk_cluster_open_running(const char *home, const char *name, struct mk_cluster *c,
                            struct mk_error **err);
/* The kubectl of the profile's bundle (unpacked on the host by start). */
char *mk_cluster_kubectl(const struct mk_cluster *c, struct mk_error **err);
/* Point the kubeconfig context at the current API forward ("update-context"). */
int mk_cluster_update_context(const struct mk_cluster *c, bool *changed, struct mk_error **err);

/* A kapi client for the profile's API server forward (no network traffic). */
int mk_cluster_kapi(const struct mk_cluster *c, struct mk_kapi *k, struct mk_error **err);
/* An SSH session to the running machine. */
struct mk_ssh *mk_cluster_ssh(const struct mk_cluster *c, int timeout_ms, struct mk_error **err);

int mk_cluster_start(const char *home, const char *name, const struct mk_start_opts *o,
                     struct mk_error **err);
int mk_cluster_stop(const char *home, const char *name, struct mk_error **err);
int mk_cluster_delete(const char *home, const char *name, struct mk_error **err);
/* Fill st; returns 0 (st->exit_bits tells the state) or -1 with err set; a
 * profile that does not exist gives MK_EXIT_PROFILE_NOT_FOUND. */
int mk_cluster_status(const char *home, const char *name, struct mk_status *st,
                      struct mk_error **err);

#endif
