/* main.c - mkube's entry point: global flags, dispatch through the command
 * table, and the one place where errors are printed and mapped to exit codes. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "home.h"
#include "log.h"
#include "profile.h"

struct cli {
    const char *profile; /* -p/--profile, or NULL */
    int verbosity;
    bool alsologtostderr;
    bool help;
    const char *command;
    char **args; /* args[0] = command, then its arguments; pointers into argv */
    int nargs;
};

static int parse_verbosity(const char *s, int *v, struct mk_error **err)
{
    bool ok = s && *s && strlen(s) <= 2;
    for (const char *p = s; ok && *p; p++)
        if (!isdigit((unsigned char)*p))
            ok = false;
    if (!ok) {
        mk_error_set(err, MK_EXIT_USAGE, "invalid verbosity \"%s\": expected a number 0-10",
                     s ? s : "");
        return mk_error_hint(err, "run 'mkube --help'");
    }
    *v = atoi(s);
    return 0;
}

/* The value of a global flag: "--flag=value", "-fvalue" or the next word. */
static int flag_value(int argc, char **argv, int *i, const char *eq, const char *name,
                      const char **out, struct mk_error **err)
{
    if (eq) {
        *out = eq;
        return 0;
    }
    if (*i + 1 >= argc) {
        mk_error_set(err, MK_EXIT_USAGE, "flag '%s' needs a value", name);
        return mk_error_hint(err, "run 'mkube --help'");
    }
    *out = argv[++*i];
    return 0;
}

/* Global flags may come before or after the command; they are taken out of
 * argv, everything else goes to the command in order. After "--" nothing is
 * looked at (kubectl, ssh pass it through). */
static int parse_cli(int argc, char **argv, struct cli *c, struct mk_error **err)
{
    c->args = xcalloc((size_t)argc + 1, sizeof(*c->args));
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            if (!c->command) /* "mkube -- x": nothing to pass it to */
                return mk_cmd_usage_error(err, "mkube", "expected a command before '--'");
            for (; i < argc; i++)
                c->args[c->nargs++] = argv[i];
            break;
        }
        const char *v = NULL;
        if (strcmp(a, "-p") == 0 || strcmp(a, "--profile") == 0) {
            if (flag_value(argc, argv, &i, NULL, a, &c->profile, err) < 0)
                return -1;
        } else if (mk_str_has_prefix(a, "--profile=")) {
            c->profile = a + strlen("--profile=");
        } else if (mk_str_has_prefix(a, "-p") && a[1] == 'p') {
            c->profile = a + 2;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--v") == 0) {
            if (flag_value(argc, argv, &i, NULL, a, &v, err) < 0 ||
                parse_verbosity(v, &c->verbosity, err) < 0)
                return -1;
        } else if (mk_str_has_prefix(a, "--v=") || mk_str_has_prefix(a, "-v=")) {
            if (parse_verbosity(strchr(a, '=') + 1, &c->verbosity, err) < 0)
                return -1;
        } else if (mk_str_has_prefix(a, "-v") && isdigit((unsigned char)a[2])) {
            if (parse_verbosity(a + 2, &c->verbosity, err) < 0)
                return -1;
        } else if (strcmp(a, "--alsologtostderr") == 0) {
            c->alsologtostderr = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            c->help = true;
        } else if (!c->command) {
            if (a[0] == '-') {
                size_t n = strcspn(a, "=");
                mk_error_set(err, MK_EXIT_USAGE, "unknown flag '%.*s' for 'mkube'", (int)n, a);
                return mk_error_hint(err, "run 'mkube --help'");
            }
            c->command = a;
            c->args[c->nargs++] = a;
        } else {
            c->args[c->nargs++] = a;
        }
    }
    return 0;
}

static int run(int argc, char **argv, struct mk_error **err)
{
    struct cli c = {0};
    mk_autofree char *home = NULL;
    mk_autofree char *profile = NULL;
    int ret = -1;
    if (parse_cli(argc, argv, &c, err) < 0)
        goto cleanup;
    mk_log_init(c.verbosity, c.alsologtostderr);

    const struct mk_cmd_entry *cmd = NULL;
    if (c.command) {
        cmd = mk_cmd_find(c.command);
        if (!cmd) {
            mk_error_set(err, MK_EXIT_USAGE, "unknown command \"%s\" for \"mkube\"", c.command);
            mk_error_hint(err, "run 'mkube --help' to list the commands");
            goto cleanup;
        }
    }
    if (!cmd || c.help) {
        mk_cmd_usage(cmd, stdout);
        ret = MK_EXIT_OK;
        goto cleanup;
    }

    home = mk_home_dir();
    if (mk_profile_resolve_name(home, c.profile, &profile, err) < 0)
        goto cleanup;
    struct mk_globals g = {
        .profile = profile,
        .verbosity = c.verbosity,
        .alsologtostderr = c.alsologtostderr,
        .home = home,
    };
    mk_debug(1, "mkube %s: profile %s, home %s", cmd->name, profile, home);
    optind = 0;
    ret = cmd->exec(&g, c.nargs, c.args, err);
cleanup:
    free(c.args);
    return ret;
}

int main(int argc, char **argv)
{
    mk_autoerror struct mk_error *err = NULL;
    int ret = run(argc, argv, &err);
    if (ret < 0)
        ret = err ? mk_error_report(err) : MK_EXIT_FAILURE;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (errno != EPIPE)
            fprintf(stderr, "mkube: cannot write output: %s\n", strerror(errno));
        if (ret == 0)
            ret = MK_EXIT_FAILURE;
    }
    return ret;
}
