/* commands.h - the command table: one cmd-<verb>.c per command exports a
 * struct mk_cmd_entry; commands.c lists them and generates usage from them. */
#ifndef MK_COMMANDS_H
#define MK_COMMANDS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "error.h"

/* Global options, parsed by main before the command. */
struct mk_globals {
    const char *profile;   /* -p/--profile, else $MKUBE_PROFILE, else active profile, else "mkube" */
    int verbosity;         /* -v N */
    bool alsologtostderr;
    const char *home;      /* $MKUBE_HOME or ~/.mkube */
};

struct mk_cmd_entry {
    const char *name;
    const char *alias;     /* exact alternate name, or NULL */
    const char *args;      /* usage synopsis after the name, e.g. "[flags] NAME" */
    const char *summary;   /* one line for `mkube help` */
    const char *help;      /* full flag help for `mkube CMD --help`, or NULL */
    /* argv[0] is the command name; returns an exit code, or -1 with *err set */
    int (*exec)(const struct mk_globals *g, int argc, char **argv, struct mk_error **err);
};

/* NULL-terminated, in the order `mkube help` lists them. */
extern const struct mk_cmd_entry *const mk_cmd_table[];
/* Exact name or exact alias; NULL when unknown. */
const struct mk_cmd_entry *mk_cmd_find(const char *name);
/* Help generated from the table: one command's (usage, aliases, flags, global
 * flags), or with c == NULL the program's (every command with its summary). */
void mk_cmd_usage(const struct mk_cmd_entry *c, FILE *f);

/* getopt_long for the command named cmd ("start", "config set"), silent:
 * returns the option value, -1 after the last option, or '?' with *err set to
 * "unknown flag '--x' for 'start'" / "flag '--memory' needs a value" (code
 * MK_EXIT_USAGE, hint "run 'mkube start --help'"). Set optind = 0 before the
 * loop (glibc's way to start over); a new argv starts over too. shortopts may begin with '+' (stop at the first argument, so what
 * follows passes through untouched). Results in optarg/optind as usual. */
int mk_cmd_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
                  const struct option *longopts, struct mk_error **err);
/* A usage error for cmd with the "run 'mkube CMD --help'" hint; returns -1. */
int mk_cmd_usage_error(struct mk_error **err, const char *cmd, const char *fmt, ...)
    MK_PRINTF(3, 4);

#endif
