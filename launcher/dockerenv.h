/* dockerenv.h - `mkube docker-env`: the variables that point the docker CLI at
 * dockerd in the VM, written in the syntax of each shell.
 *
 * The hot path sits in people's shell start-up files, so it reads only files:
 * the profile, machine.json and the existence of the client certs. No SSH and
 * no API call. Whether the VM runs is asked of the driver only when the driver
 * can tell without a daemon round trip (see mk_dockerenv_resolve).
 *
 * Like minikube, variables the user had set before (DOCKER_HOST pointing at
 * another daemon, say) are saved as MKUBE_EXISTING_<NAME> and put back by
 * `docker-env --unset`. */
#ifndef MK_DOCKERENV_H
#define MK_DOCKERENV_H

#include <jansson.h>
#include <stdbool.h>

#include "buf.h"
#include "error.h"

enum mk_shell {
    MK_SHELL_BASH = 0, /* also zsh, sh, ksh, dash and any unknown $SHELL */
    MK_SHELL_FISH,
    MK_SHELL_POWERSHELL,
    MK_SHELL_CMD,
    MK_SHELL_TCSH, /* also csh */
    MK_SHELL_EMACS,
    MK_SHELL_NONE, /* plain NAME=value lines */
};

/* A --shell value: bash, zsh, sh, ksh, dash, fish, powershell, pwsh, cmd,
 * tcsh, csh, emacs or none. Anything else is a usage error. */
int mk_shell_parse(const char *name, enum mk_shell *out, struct mk_error **err);
/* The shell named by $SHELL (its basename); empty or unknown gives bash, as
 * minikube does. */
enum mk_shell mk_shell_detect(const char *shell_env);
const char *mk_shell_name(enum mk_shell sh);

/* value as one token of sh: "..." with the escapes that shell needs (none
 * for cmd and none, which take the rest of the line). Caller frees. */
char *mk_shell_quote(enum mk_shell sh, const char *value);

/* What docker-env points the CLI at. */
struct mk_dockerenv {
    char *profile;
    char *host;      /* tcp://127.0.0.1:PORT */
    char *cert_path; /* $MKUBE_HOME/certs: ca.pem, cert.pem, key.pem */
};

/* The variables docker-env sets, in output order. */
#define MK_DOCKERENV_NVARS 4
extern const char *const mk_dockerenv_vars[MK_DOCKERENV_NVARS];
/* Prefix under which a variable the user had before is kept. */
#define MK_DOCKERENV_EXISTING_PREFIX "MKUBE_EXISTING_"

/* Fill e for profile from files only. Errors: no such profile or VM
 * (MK_EXIT_PROFILE_NOT_FOUND), runtime not docker (MK_EXIT_USAGE), VM not
 * running (MK_EXIT_UNAVAILABLE), client certs missing (MK_EXIT_CONFIG). */
int mk_dockerenv_resolve(const char *home, const char *profile, struct mk_dockerenv *e,
                         struct mk_error **err);
void mk_dockerenv_release(struct mk_dockerenv *e);

/* How the formatters read the caller's environment (getenv in the command,
 * a table in tests). Returns NULL for unset. */
typedef const char *(*mk_getenv_fn)(const char *name, void *data);

/* The set script: one line per variable, MKUBE_EXISTING_* lines for what it
 * replaces, then the per-shell hint telling how to eval it. */
void mk_dockerenv_format(struct mk_buf *out, enum mk_shell sh, const struct mk_dockerenv *e,
                         mk_getenv_fn env, void *env_data);
/* The unset script: unsets the variables, restores saved MKUBE_EXISTING_* ones. */
void mk_dockerenv_format_unset(struct mk_buf *out, enum mk_shell sh, mk_getenv_fn env,
                               void *env_data);
/* {"DOCKER_TLS_VERIFY": "1", ...}; new reference. */
json_t *mk_dockerenv_json(const struct mk_dockerenv *e);

#endif
