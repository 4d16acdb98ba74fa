/* cmd-profile.c - `mkube profile` (being written). */
#include "commands.h"

static int profile_exec(const struct mk_globals *g, int argc, char **argv, struct mk_error **err)
{
    return mk_error_set(err, MK_EXIT_NOT_IMPLEMENTED, "'profile' is not implemented yet");
}

const struct mk_cmd_entry mk_cmd_profile = {
    .name = "profile",
    .summary = "profile",
    .exec = profile_exec,
};
