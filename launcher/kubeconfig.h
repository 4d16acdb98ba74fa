/* kubeconfig.h - add, replace and remove mkube's cluster/user/context in the
 * user's kubeconfig (libyaml via yamltree.h), leaving everything else alone.
 *
 * Every other cluster, user, context and unknown field survives a merge or a
 * remove, in its order, with its scalar styles; YAML comments and anchors do
 * not (libyaml does not report comments; aliases are written out as copies).
 * Writes are atomic (temp file, fsync, rename), 0600, and done under the same
 * lock file kubectl uses (<path>.lock, created exclusively and removed after),
 * so concurrent mkube and kubectl writers lose nothing. A stale lock left by a
 * killed mkube is recognised and taken over; one left by kubectl is reported.
 * A kubeconfig that does not parse is never rewritten. */
#ifndef MK_KUBECONFIG_H
#define MK_KUBECONFIG_H

#include <stdbool.h>

#include "error.h"

#define MK_KUBECONFIG_LOCK_TIMEOUT_MS 10000

struct mk_kube_entry {
    const char *name;             /* cluster, user and context name (the profile) */
    const char *server;           /* https://127.0.0.1:PORT */
    const char *ca_path;          /* cluster CA certificate file */
    const char *client_cert_path; /* user client certificate */
    const char *client_key_path;  /* user client key */
    bool embed_certs;             /* write *-data (base64) instead of paths */
    const char *namespace_;       /* context namespace, or NULL for "default" */
};

enum mk_kubeconfig_state {
    MK_KUBECONFIG_MISSING,       /* no file, or no cluster/context by that name */
    MK_KUBECONFIG_CONFIGURED,    /* the cluster points at the expected server */
    MK_KUBECONFIG_MISCONFIGURED, /* it points somewhere else: run update-context */
};

/* The kubeconfig mkube writes to: the first entry of $KUBECONFIG, else
 * ~/.kube/config. Caller frees. */
char *mk_kubeconfig_path(void);

/* Add or replace cluster, user and context e->name (keeping unknown fields of
 * existing entries), and make it current when set_current. Creates the file
 * (and its directory, 0700) when missing. Leaves the file untouched - same
 * bytes, same mtime - when nothing would change. */
int mk_kubeconfig_merge(const char *path, const struct mk_kube_entry *e, bool set_current,
                        struct mk_error **err);

/* Remove cluster, user and context name; clear current-context if it was name.
 * A missing file or name is not an error. */
int mk_kubeconfig_remove(const char *path, const char *name, struct mk_error **err);

/* The server of cluster name (*server = NULL when there is no such cluster or
 * no file). Caller frees *server. */
int mk_kubeconfig_get_server(const char *path, const char *name, char **server,
                             struct mk_error **err);

/* Is context name there, pointing at cluster name whose server is expected? */
int mk_kubeconfig_status(const char *path, const char *name, const char *expected_server,
                         enum mk_kubeconfig_state *state, struct mk_error **err);
/* "Configured", "Misconfigured", "Missing" as minikube status prints them. */
const char *mk_kubeconfig_state_str(enum mk_kubeconfig_state state);

/* The current-context (NULL if unset). Caller frees. */
int mk_kubeconfig_current(const char *path, char **context, struct mk_error **err);

#endif
