/* test-commands.c - the command table: every command is there once, aliases
 * do not collide, help is generated from the table, and the shared flag
 * parser reports bad flags the way the CLI promises. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "commands.h"
#include "config.h"

static const char *const required[] = {
    "start",          "stop",    "delete",    "status",  "ip",      "ssh",
    "docker-env",     "service", "dashboard", "addons",  "profile", "config",
    "update-context", "logs",    "kubectl",   "version", "help",
};

static char *usage_text(const struct mk_cmd_entry *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    mk_cmd_usage(c, f);
    fclose(f);
    return text;
}

static void test_required_present(void **state)
{
    for (size_t i = 0; i < MK_ARRAY_SIZE(required); i++) {
        const struct mk_cmd_entry *c = mk_cmd_find(required[i]);
        if (!c)
            fail_msg("command %s missing", required[i]);
        assert_string_equal(c->name, required[i]);
        assert_non_null(c->exec);
        assert_non_null(c->summary);
        assert_true(strlen(c->summary) > 0);
    }
}

static void test_names_unique(void **state)
{
    for (size_t i = 0; mk_cmd_table[i]; i++) {
        const struct mk_cmd_entry *a = mk_cmd_table[i];
        for (size_t j = 0; mk_cmd_table[j]; j++) {
            const struct mk_cmd_entry *b = mk_cmd_table[j];
            if (i != j)
                assert_string_not_equal(a->name, b->name);
            if (a->alias)
                assert_string_not_equal(a->alias, b->name);
            if (i != j && a->alias && b->alias)
                assert_string_not_equal(a->alias, b->alias);
        }
        if (a->alias)
            assert_ptr_equal(mk_cmd_find(a->alias), a);
    }
}

static void test_exact_names_only(void **state)
{
    assert_null(mk_cmd_find("sta"));   /* no prefix matching */
    assert_null(mk_cmd_find("Start")); /* no case folding */
    assert_null(mk_cmd_find(""));
    assert_null(mk_cmd_find(NULL));
    assert_ptr_equal(mk_cmd_find("svc"), mk_cmd_find("service"));
}

static void test_usage_generated(void **state)
{
    mk_autofree char *all = usage_text(NULL);
    for (size_t i = 0; mk_cmd_table[i]; i++) {
        assert_non_null(strstr(all, mk_cmd_table[i]->name));
        assert_non_null(strstr(all, mk_cmd_table[i]->summary));
    }
    assert_non_null(strstr(all, "--profile"));
    assert_non_null(strstr(all, "--alsologtostderr"));

    mk_autofree char *start = usage_text(mk_cmd_find("start"));
    assert_non_null(strstr(start, "mkube start [flags]"));
    assert_non_null(strstr(start, "--memory"));
    assert_non_null(strstr(start, "--profile")); /* global flags too */

    mk_autofree char *svc = usage_text(mk_cmd_find("service"));
    assert_non_null(strstr(svc, "Aliases:\n  service, svc"));

    /* `mkube config --help` names every key it accepts */
    mk_autofree char *config = usage_text(mk_cmd_find("config"));
    for (const struct mk_config_key *k = mk_config_keys; k->name; k++) {
        mk_autofree char *line = xasprintf("\n  %s ", k->name);
        if (!strstr(config, line) || !strstr(config, k->env))
            fail_msg("config help lacks key %s / %s", k->name, k->env);
    }
}

static const struct option longopts[] = {
    {"memory", required_argument, NULL, 'm'},
    {"url", no_argument, NULL, 'u'},
    {"long-only", required_argument, NULL, 300},
    {0},
};

static int parse(char **argv, const char *shortopts, struct mk_error **err, int *seen)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    int c;
    optind = 0;
    *seen = 0;
    while ((c = mk_cmd_getopt("test", argc, argv, shortopts, longopts, err)) != -1) {
        if (c == '?')
            return -1;
        (*seen)++;
    }
    return optind;
}

static void flag_error(char **argv, const char *want)
{
    mk_autoerror struct mk_error *err = NULL;
    int seen;
    assert_int_equal(parse(argv, "m:u", &err, &seen), -1);
    assert_non_null(err);
    assert_int_equal(err->code, MK_EXIT_USAGE);
    assert_string_equal(err->msg, want);
    assert_string_equal(err->hint, "run 'mkube test --help'");
}

static void test_getopt_errors(void **state)
{
    char *a1[] = {"test", "--x", NULL};
    flag_error(a1, "unknown flag '--x' for 'test'");
    char *a2[] = {"test", "--x=1", NULL};
    flag_error(a2, "unknown flag '--x' for 'test'");
    char *a3[] = {"test", "-z", NULL};
    flag_error(a3, "unknown flag '-z' for 'test'");
    char *a4[] = {"test", "--memory", NULL};
    flag_error(a4, "flag '--memory' needs a value");
    char *a5[] = {"test", "-m", NULL};
    flag_error(a5, "flag '-m' needs a value");
    char *a6[] = {"test", "--url", "-uz", NULL};
    flag_error(a6, "unknown flag '-z' for 'test'");
    char *a7[] = {"test", "--long-only", NULL};
    flag_error(a7, "flag '--long-only' needs a value");
    char *a8[] = {"test", "--url=yes", NULL};
    mk_autoerror struct mk_error *err = NULL;
    int seen;
    assert_int_equal(parse(a8, "m:u", &err, &seen), -1); /* no_argument given one */
}

static void test_getopt_passthrough(void **state)
{
    int seen;
    /* permuting: flags after arguments still count */
    char *a1[] = {"test", "name", "--url", NULL};
    assert_int_equal(parse(a1, "m:u", NULL, &seen), 2);
    assert_int_equal(seen, 1);
    /* '+': stop at the first argument, the rest is untouched */
    char *a2[] = {"test", "get", "pods", "--x", "-v", NULL};
    assert_int_equal(parse(a2, "+m:u", NULL, &seen), 1);
    assert_int_equal(seen, 0);
    assert_string_equal(a2[1], "get");
    assert_string_equal(a2[3], "--x");
    /* after "--" nothing is a flag */
    char *a3[] = {"test", "-u", "--", "--x", "-z", NULL};
    int first = parse(a3, "m:u", NULL, &seen);
    assert_int_equal(first, 3);
    assert_int_equal(seen, 1);
    assert_string_equal(a3[first], "--x");
    /* a value that looks like a flag is still the value */
    char *a4[] = {"test", "--memory", "-1", NULL};
    assert_int_equal(parse(a4, "m:u", NULL, &seen), 3);
    assert_int_equal(seen, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_required_present), cmocka_unit_test(test_names_unique),
        cmocka_unit_test(test_exact_names_only), cmocka_unit_test(test_usage_generated),
        cmocka_unit_test(test_getopt_errors),    cmocka_unit_test(test_getopt_passthrough),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
