/* cmd-config.c - `mkube config set|get|unset|view`: global defaults in
 * $MKUBE_HOME/config/config.json (config.h); nested verbs in a sub-table. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "log.h"
#include "output.h"

struct config_verb {
    const char *name;
    int min_args, max_args;
    const char *usage; /* for argument count errors */
    int (*exec)(const struct mk_globals *g, char **args, enum mk_output_format fmt,
                struct mk_error **err);
};

static int config_set(const struct mk_globals *g, char **args, enum mk_output_format fmt,
                      struct mk_error **err)
{
    if (mk_config_set(g->home, args[0], args[1], err) < 0)
        return -1;
    const struct mk_config_key *k = mk_config_key_find(args[0]);
    const char *env = getenv(k->env);
    if (env && *env)
        mk_warn("%s=%s is set in the environment and wins over the config file", k->env, env);
    return MK_EXIT_OK;
}

static int config_get(const struct mk_globals *g, char **args, enum mk_output_format fmt,
                      struct mk_error **err)
{
    mk_autofree char *value = NULL;
    if (mk_config_get(g->home, args[0], &value, err) < 0)
        return -1;
    if (!value) {
        const struct mk_config_key *k = mk_config_key_find(args[0]);
        mk_error_set(err, MK_EXIT_FAILURE, "\"%s\" is not set in the config file", args[0]);
        return mk_error_hint(err, "the default is \"%s\"", k->def);
    }
    printf("%s\n", value);
    return MK_EXIT_OK;
}

static int config_unset(const struct mk_globals *g, char **args, enum mk_output_format fmt,
                        struct mk_error **err)
{
    return mk_config_unset(g->home, args[0], err) < 0 ? -1 : MK_EXIT_OK;
}

static int config_view(const struct mk_globals *g, char **args, enum mk_output_format fmt,
                       struct mk_error **err)
{
    mk_autostrv char **keys = NULL;
    mk_autostrv char **values = NULL;
    if (mk_config_view(g->home, &keys, &values, err) < 0)
        return -1;
    if (fmt == MK_OUTPUT_JSON) {
        json_t *o = json_object();
        for (size_t i = 0; keys[i]; i++)
            json_object_set_new(o, keys[i], json_string(values[i]));
        int r = mk_json_print(stdout, o, false, err);
        json_decref(o);
        return r < 0 ? -1 : MK_EXIT_OK;
    }
    for (size_t i = 0; keys[i]; i++)
        printf("- %s: %s\n", keys[i], values[i]);
    return MK_EXIT_OK;
}

static const struct config_verb verbs[] = {
    {"set", 2, 2, "'config set' needs KEY and VALUE", config_set},
    {"get", 1, 1, "'config get' needs one KEY", config_get},
    {"unset", 1, 1, "'config unset' needs one KEY", config_unset},
    {"view", 0, 0, "'config view' takes no arguments", config_view},
};

static int config_exec(const struct mk_globals *g, int argc, char **argv, struct mk_error **err)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {0},
    };
    const char *output = NULL;
    int c;
    optind = 0;
    while ((c = mk_cmd_getopt("config", argc, argv, "o:", longopts, err)) != -1) {
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
        return mk_cmd_usage_error(err, "config",
                                  "'config' needs a subcommand: set, get, unset or view");
    const struct config_verb *v = NULL;
    for (size_t i = 0; i < MK_ARRAY_SIZE(verbs); i++)
        if (strcmp(args[0], verbs[i].name) == 0)
            v = &verbs[i];
    if (!v)
        return mk_cmd_usage_error(err, "config", "unknown subcommand \"%s\" for 'config'", args[0]);
    if (nargs - 1 < v->min_args || nargs - 1 > v->max_args)
        return mk_cmd_usage_error(err, "config", "%s", v->usage);
    if (output && v->exec != config_view)
        return mk_cmd_usage_error(err, "config", "'-o' only applies to 'config view'");
    return v->exec(g, args + 1, fmt, err);
}

const struct mk_cmd_entry mk_cmd_config = {
    .name = "config",
    .args = "set KEY VALUE | get KEY | unset KEY | view [-o json]",
    .summary = "Set, show or remove the defaults that 'mkube start' uses",
    .help = "Subcommands:\n"
            "  set KEY VALUE    store a default (checked before it is stored)\n"
            "  get KEY          print the stored value\n"
            "  unset KEY        remove it\n"
            "  view             print every stored value ('-o json' for JSON)\n"
            "\n"
            "Keys (environment variable, built-in default):\n"
            "  driver              MKUBE_DRIVER              automatic\n"
            "  cpus                MKUBE_CPUS                2\n"
            "  memory              MKUBE_MEMORY              3072 (MiB; 3g, 3072mb also work)\n"
            "  disk-size           MKUBE_DISK_SIZE           20000 (MiB; 20g also works)\n"
            "  kubernetes-version  MKUBE_KUBERNETES_VERSION  " MK_DEFAULT_K8S_VERSION "\n"
            "  container-runtime   MKUBE_CONTAINER_RUNTIME   docker (or containerd)\n"
            "  bundle-url          MKUBE_BUNDLE_URL          the built Kubernetes bundle\n"
            "  iso-url             MKUBE_ISO_URL             the built VM image\n"
            "  wait-timeout        MKUBE_WAIT_TIMEOUT        900 (seconds; 15m also works)\n"
            "  embed-certs         MKUBE_EMBED_CERTS         false\n"
            "\n"
            "A flag wins over the environment variable, which wins over the config file.\n"
            "\n"
            "Flags:\n"
            "  -o, --output FORMAT   text (default) or json, for 'view'\n",
    .exec = config_exec,
};
