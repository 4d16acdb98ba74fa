/* cmd-config.c - `mkube config` (being written). */
#include "commands.h"

static int config_exec(const struct mk_globals *g, int argc, char **argv, struct mk_error **err)
{
    return mk_error_set(err, MK_EXIT_NOT_IMPLEMENTED, "'config' is not implemented yet");
}

const struct mk_cmd_entry mk_cmd_config = {
    .name = "config",
    .summary = "config",
    .exec = config_exec,
};
