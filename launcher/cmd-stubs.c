/* cmd-stubs.c - commands registered but not built yet. Each block below is
 * self-contained: whoever writes the real launcher/cmd-<verb>.c deletes that
 * command's block here (the table in commands.c keeps the same symbol). When
 * the last block goes, delete this file. */
#include <string.h>

#include "commands.h"
#include "start-flags.h"

static int not_implemented(const char *name, struct mk_error **err)
{
    return mk_error_set(err, MK_EXIT_NOT_IMPLEMENTED, "'%s' is not implemented yet", name);
}

/* ---- dashboard ---- */
static int dashboard_exec(const struct mk_globals *g, int argc, char **argv,
                          struct mk_error **err)
{
    return not_implemented("dashboard", err);
}

const struct mk_cmd_entry mk_cmd_dashboard = {
    .name = "dashboard",
    .args = "[--url]",
    .summary = "Open the Kubernetes Dashboard in the browser",
    .exec = dashboard_exec,
};
