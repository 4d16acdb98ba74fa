/* commands.h - the command table: one cmd-<verb>.c per command exports a
 * struct mk_cmd_entry; commands.c lists them and generates usage from them. */
#ifndef MK_COMMANDS_H
#define MK_COMMANDS_H

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

extern const struct mk_cmd_entry *const mk_cmd_table[];
const struct mk_cmd_entry *mk_cmd_find(const char *name);
void mk_cmd_usage(const struct mk_cmd_entry *c, FILE *f);

#endif
