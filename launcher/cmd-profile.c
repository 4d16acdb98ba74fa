/* cmd-profile.c - `mkube profile`: show or select the active profile, list profiles. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "driver.h"
#include "home.h"
#include "output.h"
#include "profile.h"
#include "validate.h"

/* What `profile list` shows of one profile. */
struct row {
    char *name;
    struct mk_profile *p; /* NULL: invalid */
    char ip[64];
    char port[16];
    char status[32]; /* the VM's state when there is a machine, else the profile's hint */
};

/* Address, API port and state from the machine, when one exists (drivers/driver.c). */
static void machine_info(const char *home, struct row *r)
{
    snprintf(r->status, sizeof(r->status), "%s",
             r->p && r->p->status_hint ? r->p->status_hint : "Unknown");
    mk_autofree char *machines = mk_home_path(home, "machines");
    struct mk_machine *m = NULL;
    mk_autoerror struct mk_error *e = NULL;
    if (mk_machine_load(machines, r->name, &m, &e) < 0 || !m)
        return;
    if (m->driver && (m->driver->caps & MK_DRV_CAP_PORT_FORWARD))
        snprintf(r->ip, sizeof(r->ip), "127.0.0.1");
    unsigned port = mk_machine_forward_port(m, MK_GUEST_API_PORT);
    if (port)
        snprintf(r->port, sizeof(r->port), "%u", port);
    enum mk_vm_state st;
    mk_autoerror struct mk_error *se = NULL;
    if (mk_machine_state(m, &st, &se) == 0)
        snprintf(r->status, sizeof(r->status), "%s", mk_vm_state_name(st));
    mk_machine_free(m);
}

static int list(const struct mk_globals *g, enum mk_output_format fmt, struct mk_error **err)
{
    mk_autostrv char **names = NULL;
    if (mk_profile_list(g->home, &names, err) < 0)
        return -1;
    size_t n = mk_strv_len(names);
    struct row *rows = xcalloc(n + 1, sizeof(*rows));
    for (size_t i = 0; i < n; i++) {
        rows[i].name = names[i];
        mk_autoerror struct mk_error *e = NULL;
        if (mk_profile_load(g->home, names[i], &rows[i].p, &e) < 0)
            rows[i].p = NULL;
        machine_info(g->home, &rows[i]);
    }
    int ret = MK_EXIT_OK;
    if (fmt == MK_OUTPUT_JSON) {
        json_t *valid = json_array(), *invalid = json_array();
        for (size_t i = 0; i < n; i++) {
            struct row *r = &rows[i];
            if (!r->p) {
                json_array_append_new(invalid, json_pack("{s:s}", "Name", r->name));
                continue;
            }
            json_t *o =
                json_pack("{s:s, s:s, s:o, s:b}", "Name", r->name, "Status", r->status, "Config",
                          mk_profile_to_json(r->p), "Active", strcmp(r->name, g->profile) == 0);
            if (r->ip[0])
                json_object_set_new(o, "IP", json_string(r->ip));
            if (r->port[0])
                json_object_set_new(o, "Port", json_integer(atoi(r->port)));
            json_array_append_new(valid, o);
        }
        json_t *j = json_pack("{s:o, s:o}", "invalid", invalid, "valid", valid);
        if (mk_json_print(stdout, j, false, err) < 0)
            ret = -1;
        json_decref(j);
    } else if (n == 0) {
        mk_error_set(err, MK_EXIT_PROFILE_NOT_FOUND, "no mkube profile was found");
        ret = mk_error_hint(err, "create one with 'mkube start'");
    } else {
        static const char *const headers[] = {"Profile", "Driver", "Runtime", "IP",    "Port",
                                              "Version", "Status", "Nodes",   "Active"};
        struct mk_table *t = mk_table_new(MK_ARRAY_SIZE(headers), headers);
        mk_autofree char *invalid = NULL;
        for (size_t i = 0; i < n; i++) {
            struct row *r = &rows[i];
            if (!r->p) {
                char *more =
                    xasprintf("%s%s%s", invalid ? invalid : "", invalid ? ", " : "", r->name);
                free(invalid);
                invalid = more;
                continue;
            }
            const char *cells[] = {
                r->name,
                *r->p->driver ? r->p->driver : "",
                r->p->container_runtime,
                r->ip,
                r->port,
                r->p->kubernetes_version,
                r->status,
                "1",
                strcmp(r->name, g->profile) == 0 ? "*" : "",
            };
            mk_table_add_row(t, cells);
        }
        if (mk_table_rows(t))
            mk_table_print(t, stdout);
        mk_table_free(t);
        if (invalid)
            fprintf(stderr, "! found invalid profiles: %s\n", invalid);
    }
    for (size_t i = 0; i < n; i++)
        mk_profile_free(rows[i].p);
    free(rows);
    return ret;
}

static int profile_exec(const struct mk_globals *g, int argc, char **argv, struct mk_error **err)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {0},
    };
    enum mk_output_format fmt = MK_OUTPUT_TEXT;
    const char *output = NULL;
    int c;
    optind = 0;
    while ((c = mk_cmd_getopt("profile", argc, argv, "o:", longopts, err)) != -1) {
        if (c != 'o')
            return -1;
        output = optarg;
    }
    if (mk_output_parse(output, &fmt, err) < 0)
        return -1;
    int nargs = argc - optind;
    char **args = argv + optind;
    if (nargs > 1)
        return mk_cmd_usage_error(err, "profile", "'profile' takes at most one argument");
    if (nargs == 1 && strcmp(args[0], "list") == 0)
        return list(g, fmt, err);
    if (output)
        return mk_cmd_usage_error(err, "profile", "'-o' only applies to 'profile list'");
    if (nargs == 0) {
        printf("%s\n", g->profile);
        return MK_EXIT_OK;
    }
    if (mk_profile_set_active(g->home, args[0], err) < 0)
        return -1;
    printf("* mkube profile was successfully set to %s\n", args[0]);
    return MK_EXIT_OK;
}

const struct mk_cmd_entry mk_cmd_profile = {
    .name = "profile",
    .args = "[NAME | list [-o json]]",
    .summary = "Show the current profile, select another one, or list them",
    .help = "Without an argument, print the profile commands act on.\n"
            "With NAME, make it the active profile (it need not exist yet).\n"
            "\n"
            "Subcommands:\n"
            "  list           table of profiles: driver, runtime, address, API server port,\n"
            "                 version, the VM's state, and which one is active\n"
            "\n"
            "Flags:\n"
            "  -o, --output FORMAT   table (default) or json, for 'list'\n",
    .exec = profile_exec,
};
