/* cmd-version.c - `mkube version`: the version, and the commit it was built from. */
#include <jansson.h>
#include <string.h>

#include "commands.h"
#include "output.h"

#if __has_include("mkube-commit.h")
#include "mkube-commit.h"
#endif
#ifndef MKUBE_COMMIT
#define MKUBE_COMMIT ""
#endif

static int version_exec(const struct mk_globals *g, int argc, char **argv, struct mk_error **err)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"short", no_argument, NULL, 's'},
        {0},
    };
    enum mk_output_format fmt = MK_OUTPUT_TEXT;
    bool short_form = false;
    int c;
    optind = 0;
    while ((c = mk_cmd_getopt("version", argc, argv, "o:", longopts, err)) != -1) {
        switch (c) {
        case 'o':
            if (mk_output_parse(optarg, &fmt, err) < 0)
                return -1;
            break;
        case 's':
            short_form = true;
            break;
        default:
            return -1;
        }
    }
    if (optind < argc)
        return mk_cmd_usage_error(err, "version", "'version' takes no arguments");

    const char *version = "v" MKUBE_VERSION;
    const char *commit = MKUBE_COMMIT;
    if (fmt == MK_OUTPUT_JSON) {
        json_t *j = json_pack("{s:s, s:s}", "mkubeVersion", version, "commit", commit);
        int r = mk_json_print(stdout, j, false, err);
        json_decref(j);
        return r < 0 ? -1 : MK_EXIT_OK;
    }
    if (short_form) {
        printf("%s\n", version);
        return MK_EXIT_OK;
    }
    printf("mkube version: %s\n", version);
    if (*commit)
        printf("commit: %s\n", commit);
    return MK_EXIT_OK;
}

const struct mk_cmd_entry mk_cmd_version = {
    .name = "version",
    .args = "[--short] [-o json]",
    .summary = "Print the version of mkube",
    .help = "Flags:\n"
            "  -o, --output FORMAT   json for machine-readable output\n"
            "      --short           print just the version number\n",
    .exec = version_exec,
};
