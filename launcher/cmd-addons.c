/* cmd-addons.c - `mkube addons list|enable|disable` (addons.h). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "addons.h"
#include "commands.h"
#include "home.h"
#include "output.h"
#include "profile.h"

static int list(const struct mk_globals *g, enum mk_output_format fmt, struct mk_error **err)
{
    mk_autofree char *dir = mk_addons_dir(err);
    if (!dir)
        return -1;
    struct mk_addon *all = NULL;
    size_t n = 0;
    if (mk_addons_load_all(dir, &all, &n, err) < 0)
        return -1;
    mk_autoprofile struct mk_profile *p = NULL;
    if (mk_profile_load(g->home, g->profile, &p, err) < 0) {
        mk_addons_free(all, n);
        return -1;
    }
    /* which images the profile's bundle has, when start unpacked it already */
    mk_autofree char *cache = mk_home_path(g->home, "cache");
    mk_autostrv char **images = p ? mk_addons_cached_images(cache, p->kubernetes_version) : NULL;
    int rc = MK_EXIT_OK;
    json_t *j = json_object();
    static const char *const headers[] = {"ADDON NAME", "PROFILE", "STATUS", "DESCRIPTION"};
    struct mk_table *t = mk_table_new(MK_ARRAY_SIZE(headers), headers);
    for (size_t i = 0; i < n; i++) {
        mk_autofree char *missing = NULL;
        const char *status = mk_addon_enabled(p, &all[i]) ? "enabled" : "disabled";
        if (images && !mk_addon_available(&all[i], images, &missing))
            status = "unavailable";
        const char *cells[] = {all[i].name, g->profile, status, all[i].description};
        mk_table_add_row(t, cells);
        json_object_set_new(j, all[i].name,
                            json_pack("{s:s, s:s, s:s}", "Profile", g->profile, "Status", status,
                                      "Description", all[i].description));
    }
    if (fmt == MK_OUTPUT_JSON)
        rc = mk_json_print(stdout, j, false, err) < 0 ? -1 : MK_EXIT_OK;
    else
        mk_table_print(t, stdout);
    if (!p && fmt == MK_OUTPUT_TEXT)
        fprintf(stderr, "* Profile \"%s\" does not exist yet: these are the defaults.\n",
                g->profile);
    mk_table_free(t);
    json_decref(j);
    mk_addons_free(all, n);
    return rc;
}

static int addons_exec(const struct mk_globals *g, int argc, char **argv, struct mk_error **err)
{
    static const struct option longopts[] = {{"output", required_argument, NULL, 'o'}, {0}};
    const char *output = NULL;
    int c;
    optind = 0;
    while ((c = mk_cmd_getopt("addons", argc, argv, "o:", longopts, err)) != -1) {
        if (c != 'o')
            return -1;
        output = optarg;
    }
    enum mk_output_format fmt;
    if (mk_output_parse(output, &fmt, err) < 0)
        return -1;
    int nargs = argc - optind;
    char **args = argv + optind;
    if (nargs == 0)
        return mk_cmd_usage_error(err, "addons",
                                  "'addons' needs list, enable NAME or disable NAME");
    if (strcmp(args[0], "list") == 0) {
        if (nargs != 1)
            return mk_cmd_usage_error(err, "addons", "'addons list' takes no arguments");
        return list(g, fmt, err);
    }
    bool on = strcmp(args[0], "enable") == 0;
    if (!on && strcmp(args[0], "disable") != 0)
        return mk_cmd_usage_error(err, "addons", "unknown subcommand \"%s\"", args[0]);
    if (output)
        return mk_cmd_usage_error(err, "addons", "'-o' only applies to 'addons list'");
    if (nargs != 2)
        return mk_cmd_usage_error(err, "addons", "'addons %s' needs one addon NAME", args[0]);
    return mk_addons_set(g->home, g->profile, args[1], on, err) < 0 ? -1 : MK_EXIT_OK;
}

const struct mk_cmd_entry mk_cmd_addons = {
    .name = "addons",
    .alias = "addon",
    .args = "list [-o json] | enable NAME | disable NAME",
    .summary = "List, enable or disable cluster addons",
    .help = "Addons are manifests applied with the bundle's kubectl. What is enabled is\n"
            "kept in the profile and applied again at every start; storage-provisioner\n"
            "and default-storageclass are enabled by default. An addon whose images are\n"
            "not in the Kubernetes bundle is unavailable (nothing is pulled offline).\n"
            "Enabling on a stopped cluster takes effect at the next start.\n"
            "\n"
            "Subcommands:\n"
            "  list                  every addon with its status\n"
            "  enable NAME           enable it (apply its manifests)\n"
            "  disable NAME          disable it (delete its objects; needs a running cluster)\n"
            "\n"
            "Flags:\n"
            "  -o, --output FORMAT   table (default) or json, for 'list'\n",
    .exec = addons_exec,
};
