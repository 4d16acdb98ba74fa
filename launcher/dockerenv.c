/* dockerenv.c - the docker-env variables and their per-shell scripts (see dockerenv.h). */
#include "dockerenv.h"

#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "fsutil.h"
#include "home.h"
#include "log.h"
#include "profile.h"

const char *const mk_dockerenv_vars[MK_DOCKERENV_NVARS] = {
    "DOCKER_TLS_VERIFY",
    "DOCKER_HOST",
    "DOCKER_CERT_PATH",
    "MKUBE_ACTIVE_DOCKERD",
};

/* ---- shells ---- */

static const struct {
    const char *name;
    enum mk_shell sh;
} shell_names[] = {
    {"bash", MK_SHELL_BASH},
    {"zsh", MK_SHELL_BASH},
    {"sh", MK_SHELL_BASH},
    {"ksh", MK_SHELL_BASH},
    {"dash", MK_SHELL_BASH},
    {"fish", MK_SHELL_FISH},
    {"powershell", MK_SHELL_POWERSHELL},
    {"pwsh", MK_SHELL_POWERSHELL},
    {"cmd", MK_SHELL_CMD},
    {"tcsh", MK_SHELL_TCSH},
    {"csh", MK_SHELL_TCSH},
    {"emacs", MK_SHELL_EMACS},
    {"none", MK_SHELL_NONE},
};

int mk_shell_parse(const char *name, enum mk_shell *out, struct mk_error **err)
{
    for (size_t i = 0; i < MK_ARRAY_SIZE(shell_names); i++) {
        if (strcmp(name, shell_names[i].name) == 0) {
            *out = shell_names[i].sh;
            return 0;
        }
    }
    mk_error_set(err, MK_EXIT_USAGE, "unknown shell \"%s\"", name);
    return mk_error_hint(err, "use one of: bash, zsh, fish, powershell, cmd, tcsh, emacs, none");
}

enum mk_shell mk_shell_detect(const char *shell_env)
{
    if (!shell_env || !*shell_env)
        return MK_SHELL_BASH;
    const char *base = strrchr(shell_env, '/');
    base = base ? base + 1 : shell_env;
    /* Windows-style names, e.g. powershell.exe */
    size_t n = strcspn(base, ".");
    for (size_t i = 0; i < MK_ARRAY_SIZE(shell_names); i++) {
        if (strlen(shell_names[i].name) == n && strncmp(base, shell_names[i].name, n) == 0 &&
            shell_names[i].sh != MK_SHELL_NONE && shell_names[i].sh != MK_SHELL_EMACS)
            return shell_names[i].sh;
    }
    return MK_SHELL_BASH;
}

const char *mk_shell_name(enum mk_shell sh)
{
    switch (sh) {
    case MK_SHELL_BASH:
        return "bash";
    case MK_SHELL_FISH:
        return "fish";
    case MK_SHELL_POWERSHELL:
        return "powershell";
    case MK_SHELL_CMD:
        return "cmd";
    case MK_SHELL_TCSH:
        return "tcsh";
    case MK_SHELL_EMACS:
        return "emacs";
    case MK_SHELL_NONE:
        return "none";
    }
    return "bash";
}

char *mk_shell_quote(enum mk_shell sh, const char *v)
{
    struct mk_buf b = MK_BUF_INIT;
    if (sh == MK_SHELL_NONE)
        return xstrdup(v);
    if (sh == MK_SHELL_CMD) {
        /* SET takes the rest of the line; ^ escapes cmd's operators */
        for (; *v; v++) {
            if (strchr("^&|<>", *v))
                mk_buf_add(&b, "^", 1);
            mk_buf_add(&b, v, 1);
        }
        return mk_buf_detach(&b);
    }
    mk_buf_add(&b, "\"", 1);
    for (; *v; v++) {
        char c = *v;
        switch (sh) {
        case MK_SHELL_BASH: /* inside "": \ escapes exactly these four */
            if (strchr("\"\\$`", c))
                mk_buf_add(&b, "\\", 1);
            break;
        case MK_SHELL_FISH:
            if (strchr("\"\\$", c))
                mk_buf_add(&b, "\\", 1);
            break;
        case MK_SHELL_POWERSHELL: /* the backtick is PowerShell's escape */
            if (strchr("\"`$", c))
                mk_buf_add(&b, "`", 1);
            break;
        case MK_SHELL_EMACS:
            if (strchr("\"\\", c))
                mk_buf_add(&b, "\\", 1);
            break;
        case MK_SHELL_TCSH:
            /* csh cannot escape inside "": close it, add the character with a
             * backslash outside, reopen */
            if (strchr("\"$`!", c)) {
                char seq[] = {'"', '\\', c, '"', 0};
                mk_buf_adds(&b, seq);
                continue;
            }
            break;
        default:
            break;
        }
        mk_buf_add(&b, &c, 1);
    }
    mk_buf_add(&b, "\"", 1);
    return mk_buf_detach(&b);
}

/* ---- scripts ---- */

static void set_line(struct mk_buf *out, enum mk_shell sh, const char *name, const char *value)
{
    mk_autofree char *q = mk_shell_quote(sh, value);
    switch (sh) {
    case MK_SHELL_BASH:
        mk_buf_addf(out, "export %s=%s\n", name, q);
        break;
    case MK_SHELL_FISH:
        mk_buf_addf(out, "set -gx %s %s;\n", name, q);
        break;
    case MK_SHELL_POWERSHELL:
        mk_buf_addf(out, "$Env:%s = %s\n", name, q);
        break;
    case MK_SHELL_CMD:
        mk_buf_addf(out, "SET %s=%s\n", name, q);
        break;
    case MK_SHELL_TCSH:
        mk_buf_addf(out, "setenv %s %s;\n", name, q);
        break;
    case MK_SHELL_EMACS:
        mk_buf_addf(out, "(setenv \"%s\" %s)\n", name, q);
        break;
    case MK_SHELL_NONE:
        mk_buf_addf(out, "%s=%s\n", name, q);
        break;
    }
}

static void unset_line(struct mk_buf *out, enum mk_shell sh, const char *name)
{
    switch (sh) {
    case MK_SHELL_BASH:
        mk_buf_addf(out, "unset %s;\n", name);
        break;
    case MK_SHELL_FISH:
        mk_buf_addf(out, "set -e %s;\n", name);
        break;
    case MK_SHELL_POWERSHELL:
        mk_buf_addf(out, "Remove-Item Env:\\%s\n", name);
        break;
    case MK_SHELL_CMD:
        mk_buf_addf(out, "SET %s=\n", name);
        break;
    case MK_SHELL_TCSH:
        mk_buf_addf(out, "unsetenv %s;\n", name);
        break;
    case MK_SHELL_EMACS:
        mk_buf_addf(out, "(setenv \"%s\" nil)\n", name);
        break;
    case MK_SHELL_NONE:
        mk_buf_addf(out, "%s\n", name);
        break;
    }
}

#define HINT_PLZ "To point your shell to mkube's docker-daemon, run:"

static void usage_hint(struct mk_buf *out, enum mk_shell sh, const char *profile)
{
    mk_autofree char *cmd = xasprintf("mkube -p %s docker-env", profile);
    switch (sh) {
    case MK_SHELL_BASH:
        mk_buf_addf(out, "\n# %s\n# eval $(%s)\n", HINT_PLZ, cmd);
        break;
    case MK_SHELL_FISH:
        mk_buf_addf(out, "\n# %s\n# %s | source\n", HINT_PLZ, cmd);
        break;
    case MK_SHELL_POWERSHELL:
        mk_buf_addf(out, "# %s\n# & %s --shell powershell | Invoke-Expression\n", HINT_PLZ, cmd);
        break;
    case MK_SHELL_CMD:
        mk_buf_addf(out, "REM %s\nREM @FOR /f \"tokens=*\" %%i IN ('%s --shell cmd') DO @%%i\n",
                    HINT_PLZ, cmd);
        break;
    case MK_SHELL_TCSH:
        /* ':' is a no-op command (eval'd text has no comments); single quotes
         * keep the backticks from running the command a second time */
        mk_buf_addf(out, "\n: \"%s\"\n: 'eval `%s --shell tcsh`'\n", HINT_PLZ, cmd);
        break;
    case MK_SHELL_EMACS:
        mk_buf_addf(out,
                    ";; %s\n;; (with-temp-buffer (shell-command \"%s --shell emacs\" "
                    "(current-buffer)) (eval-buffer))\n",
                    HINT_PLZ, cmd);
        break;
    case MK_SHELL_NONE:
        break;
    }
}

static const char *env_get(mk_getenv_fn env, void *data, const char *name)
{
    const char *v = env ? env(name, data) : getenv(name);
    return v && *v ? v : NULL;
}

void mk_dockerenv_format(struct mk_buf *out, enum mk_shell sh, const struct mk_dockerenv *e,
                         mk_getenv_fn env, void *env_data)
{
    const char *values[MK_DOCKERENV_NVARS] = {"1", e->host, e->cert_path, e->profile};
    for (size_t i = 0; i < MK_DOCKERENV_NVARS; i++)
        set_line(out, sh, mk_dockerenv_vars[i], values[i]);
    /* Keep what the user had, unless it is ours (docker-env run twice, or
     * for another profile): then the saved copies are already there. */
    if (!env_get(env, env_data, "MKUBE_ACTIVE_DOCKERD")) {
        for (size_t i = 0; i < MK_DOCKERENV_NVARS - 1; i++) {
            const char *old = env_get(env, env_data, mk_dockerenv_vars[i]);
            if (!old)
                continue;
            mk_autofree char *name =
                xasprintf("%s%s", MK_DOCKERENV_EXISTING_PREFIX, mk_dockerenv_vars[i]);
            set_line(out, sh, name, old);
        }
    }
    usage_hint(out, sh, e->profile);
}

void mk_dockerenv_format_unset(struct mk_buf *out, enum mk_shell sh, mk_getenv_fn env,
                               void *env_data)
{
    const char *restore[MK_DOCKERENV_NVARS] = {0};
    for (size_t i = 0; i < MK_DOCKERENV_NVARS; i++) {
        mk_autofree char *saved =
            xasprintf("%s%s", MK_DOCKERENV_EXISTING_PREFIX, mk_dockerenv_vars[i]);
        restore[i] = env_get(env, env_data, saved);
        if (!restore[i])
            unset_line(out, sh, mk_dockerenv_vars[i]);
    }
    for (size_t i = 0; i < MK_DOCKERENV_NVARS; i++) {
        if (!restore[i])
            continue;
        mk_autofree char *saved =
            xasprintf("%s%s", MK_DOCKERENV_EXISTING_PREFIX, mk_dockerenv_vars[i]);
        unset_line(out, sh, saved);
    }
    for (size_t i = 0; i < MK_DOCKERENV_NVARS; i++)
        if (restore[i])
            set_line(out, sh, mk_dockerenv_vars[i], restore[i]);
}

json_t *mk_dockerenv_json(const struct mk_dockerenv *e)
{
    return json_pack("{s:s, s:s, s:s, s:s}", "DOCKER_TLS_VERIFY", "1", "DOCKER_HOST", e->host,
                     "DOCKER_CERT_PATH", e->cert_path, "MKUBE_ACTIVE_DOCKERD", e->profile);
}

/* ---- the profile's values, from files ---- */

/* Is the VM up? Drivers that reach the guest through 127.0.0.1 forwards are
 * asked nothing: QEMU (both drivers) listens on the docker forward's host port
 * exactly while the VM runs, so a port that can be bound means "stopped". The
 * reverse may be stale: a stopped VM whose port another program took since
 * reads as running; docker then fails to connect, and the next `mkube start`
 * moves the forward (docs/developer-loop.md). Drivers with a guest address
 * are asked for their state. */
static int vm_running(struct mk_machine *m, unsigned docker_port, bool *running,
                      struct mk_error **err)
{
    if (m->driver && (m->driver->caps & MK_DRV_CAP_PORT_FORWARD) &&
        !(m->driver->caps & MK_DRV_CAP_GUEST_IP)) {
        *running = !mk_port_free(docker_port);
        return 0;
    }
    enum mk_vm_state st;
    if (mk_machine_state(m, &st, err) < 0)
        return -1;
    *running = st == MK_VM_RUNNING;
    return 0;
}

int mk_dockerenv_resolve(const char *home, const char *profile, struct mk_dockerenv *e,
                         struct mk_error **err)
{
    memset(e, 0, sizeof(*e));
    mk_autoprofile struct mk_profile *p = NULL;
    struct mk_machine *m = NULL;
    int rc = -1;
    if (mk_profile_load(home, profile, &p, err) < 0)
        return -1;
    if (!p) {
        mk_error_set(err, MK_EXIT_PROFILE_NOT_FOUND, "profile \"%s\" not found", profile);
        return mk_error_hint(err, "start a cluster with: mkube -p %s start", profile);
    }
    if (!mk_streq(p->container_runtime, "docker")) {
        mk_error_set(err, MK_EXIT_USAGE,
                     "the docker-env command only works with the \"docker\" runtime, but profile "
                     "\"%s\" uses \"%s\"",
                     profile, p->container_runtime ? p->container_runtime : "");
        return mk_error_hint(err, "recreate the cluster with --container-runtime=docker");
    }
    mk_autofree char *machines = mk_home_path(home, "machines");
    if (mk_machine_load(machines, profile, &m, err) < 0)
        return -1;
    if (!m) {
        mk_error_set(err, MK_EXIT_PROFILE_NOT_FOUND, "profile \"%s\" has no VM", profile);
        return mk_error_hint(err, "start it with: mkube -p %s start", profile);
    }
    unsigned port = mk_machine_forward_port(m, MK_GUEST_DOCKER_PORT);
    if (!port) {
        mk_error_set(err, MK_EXIT_CONFIG, "machine \"%s\" has no forward for dockerd (port %u)",
                     profile, MK_GUEST_DOCKER_PORT);
        goto cleanup;
    }
    bool running = false;
    if (vm_running(m, port, &running, err) < 0)
        goto cleanup;
    if (!running) {
        mk_error_set(err, MK_EXIT_UNAVAILABLE, "the \"%s\" cluster is not running", profile);
        mk_error_hint(err, "start it with: mkube -p %s start", profile);
        goto cleanup;
    }
    struct mk_endpoint ep;
    if (mk_machine_endpoint(m, &ep, err) < 0)
        goto cleanup;
    e->cert_path = mk_home_path(home, "certs");
    static const char *const files[] = {"ca.pem", "cert.pem", "key.pem"};
    for (size_t i = 0; i < MK_ARRAY_SIZE(files); i++) {
        mk_autofree char *f = xasprintf("%s/%s", e->cert_path, files[i]);
        if (!mk_path_exists(f)) {
            mk_error_set(err, MK_EXIT_CONFIG, "the docker client certificate %s is missing", f);
            mk_error_hint(err, "run 'mkube -p %s start' to create it", profile);
            goto cleanup;
        }
    }
    e->profile = xstrdup(profile);
    e->host = xasprintf("tcp://%s:%u", ep.host, ep.docker_port ? ep.docker_port : port);
    rc = 0;
cleanup:
    mk_machine_free(m);
    if (rc < 0)
        mk_dockerenv_release(e);
    return rc;
}

void mk_dockerenv_release(struct mk_dockerenv *e)
{
    free(e->profile);
    free(e->host);
    free(e->cert_path);
    memset(e, 0, sizeof(*e));
}
