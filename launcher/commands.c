/* commands.c - the command table, help generated from it, and the flag
 * parsing helpers every cmd-<verb>.c uses (tmux cmd.c style). */
#include "commands.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

extern const struct mk_cmd_entry mk_cmd_start;
extern const struct mk_cmd_entry mk_cmd_status;
extern const struct mk_cmd_entry mk_cmd_stop;
extern const struct mk_cmd_entry mk_cmd_delete;
extern const struct mk_cmd_entry mk_cmd_ip;
extern const struct mk_cmd_entry mk_cmd_ssh;
extern const struct mk_cmd_entry mk_cmd_docker_env;
extern const struct mk_cmd_entry mk_cmd_service;
extern const struct mk_cmd_entry mk_cmd_dashboard;
extern const struct mk_cmd_entry mk_cmd_addons;
extern const struct mk_cmd_entry mk_cmd_logs;
extern const struct mk_cmd_entry mk_cmd_kubectl;
extern const struct mk_cmd_entry mk_cmd_update_context;
extern const struct mk_cmd_entry mk_cmd_profile;
extern const struct mk_cmd_entry mk_cmd_config;
extern const struct mk_cmd_entry mk_cmd_version;
extern const struct mk_cmd_entry mk_cmd_help;

const struct mk_cmd_entry *const mk_cmd_table[] = {
    &mk_cmd_start,          &mk_cmd_status,  &mk_cmd_stop,
    &mk_cmd_delete,         &mk_cmd_ip,      &mk_cmd_ssh,
    &mk_cmd_docker_env,     &mk_cmd_service, &mk_cmd_dashboard,
    &mk_cmd_addons,         &mk_cmd_logs,    &mk_cmd_kubectl,
    &mk_cmd_update_context, &mk_cmd_profile, &mk_cmd_config,
    &mk_cmd_version,        &mk_cmd_help,    NULL,
};

static const char global_flags[] =
    "  -p, --profile NAME     the profile (cluster) to act on; default $MKUBE_PROFILE,\n"
    "                         else the one `mkube profile NAME` selected, else \"mkube\"\n"
    "  -v, --v N              log detail level (0-9) on stderr\n"
    "      --alsologtostderr  show every detail line on stderr\n"
    "  -h, --help             show help\n";

const struct mk_cmd_entry *mk_cmd_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; mk_cmd_table[i]; i++) {
        const struct mk_cmd_entry *c = mk_cmd_table[i];
        if (strcmp(c->name, name) == 0 || (c->alias && strcmp(c->alias, name) == 0))
            return c;
    }
    return NULL;
}

void mk_cmd_usage(const struct mk_cmd_entry *c, FILE *f)
{
    if (!c) {
        size_t w = 0;
        for (size_t i = 0; mk_cmd_table[i]; i++)
            if (strlen(mk_cmd_table[i]->name) > w)
                w = strlen(mk_cmd_table[i]->name);
        fputs("mkube runs a local single-node Kubernetes cluster in a VM.\n\n"
              "Usage:\n  mkube [flags] COMMAND [args]\n\nCommands:\n",
              f);
        for (size_t i = 0; mk_cmd_table[i]; i++)
            fprintf(f, "  %-*s  %s\n", (int)w, mk_cmd_table[i]->name, mk_cmd_table[i]->summary);
        fprintf(f, "\nGlobal flags (before or after the command):\n%s", global_flags);
        fputs("\nRun 'mkube help COMMAND' for more about a command.\n", f);
        return;
    }
    fprintf(f, "%s\n\nUsage:\n  mkube %s%s%s\n", c->summary, c->name, c->args ? " " : "",
            c->args ? c->args : "");
    if (c->alias)
        fprintf(f, "\nAliases:\n  %s, %s\n", c->name, c->alias);
    if (c->help) {
        size_t n = strlen(c->help);
        fprintf(f, "\n%s%s", c->help, (n && c->help[n - 1] != '\n') ? "\n" : "");
    }
    fprintf(f, "\nGlobal flags:\n%s", global_flags);
}

int mk_cmd_usage_error(struct mk_error **err, const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mk_autofree char *msg = xvasprintf(fmt, ap);
    va_end(ap);
    mk_error_set(err, MK_EXIT_USAGE, "%s", msg);
    return mk_error_hint(err, "run 'mkube %s --help'", cmd);
}

/* The flag a failed getopt_long call was about, as the user typed it. */
static char *failed_flag(int argc, char **argv, const struct option *longopts)
{
    char *prev = (optind >= 1 && optind - 1 < argc) ? argv[optind - 1] : NULL;
    bool long_form = prev && mk_str_has_prefix(prev, "--");
    if (optopt != 0 && long_form) {
        /* a short-option failure has optopt set to a letter; a long option
         * that carries a letter as its value has it set too */
        bool is_long_val = false;
        for (const struct option *o = longopts; o && o->name; o++)
            if (!o->flag && o->val == optopt)
                is_long_val = true;
        long_form = is_long_val;
    }
    if (optopt == 0 || long_form) {
        if (!prev)
            return xstrdup("?");
        size_t n = strcspn(prev, "=");
        return xstrndup(prev, n);
    }
    return xasprintf("-%c", optopt);
}

int mk_cmd_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
                  const struct option *longopts, struct mk_error **err)
{
    static char **last_argv;
    if (argv != last_argv) {
        optind = 0; /* glibc: start over, re-reading the optstring */
        last_argv = argv;
    }
    /* a leading ':' makes getopt tell a missing value (':') from an unknown
     * flag ('?') */
    char spec[160];
    const char *rest = shortopts ? shortopts : "";
    size_t n = 0;
    if (*rest == '+' || *rest == '-')
        spec[n++] = *rest++;
    spec[n++] = ':';
    if (*rest == ':')
        rest++;
    snprintf(spec + n, sizeof(spec) - n, "%s", rest);

    opterr = 0;
    int c = getopt_long(argc, argv, spec, longopts, NULL);
    if (c == -1) {
        last_argv = NULL;
        return -1;
    }
    if (c != '?' && c != ':')
        return c;
    mk_autofree char *flag = failed_flag(argc, argv, longopts);
    last_argv = NULL;
    if (c == ':')
        mk_cmd_usage_error(err, cmd, "flag '%s' needs a value", flag);
    else
        mk_cmd_usage_error(err, cmd, "unknown flag '%s' for '%s'", flag, cmd);
    return '?';
}

/* mkube help [COMMAND] */
static int help_exec(const struct mk_globals *g, int argc, char **argv, struct mk_error **err)
{
    static const struct option longopts[] = {{0}};
    int c;
    while ((c = mk_cmd_getopt("help", argc, argv, "+", longopts, err)) != -1)
        if (c == '?')
            return -1;
    if (argc - optind > 1)
        return mk_cmd_usage_error(err, "help", "'help' takes at most one command name");
    if (optind == argc) {
        mk_cmd_usage(NULL, stdout);
        return MK_EXIT_OK;
    }
    const struct mk_cmd_entry *e = mk_cmd_find(argv[optind]);
    if (!e) {
        mk_error_set(err, MK_EXIT_USAGE, "unknown command \"%s\" for \"mkube\"", argv[optind]);
        return mk_error_hint(err, "run 'mkube help' to list the commands");
    }
    mk_cmd_usage(e, stdout);
    return MK_EXIT_OK;
}

const struct mk_cmd_entry mk_cmd_help = {
    .name = "help",
    .args = "[COMMAND]",
    .summary = "Show help for mkube or one of its commands",
    .exec = help_exec,
};
