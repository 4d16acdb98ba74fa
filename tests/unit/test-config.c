/* test-config.c - `mkube config` storage and the flag > env > file > default
 * precedence, through config.h and the start flag parser (start-flags.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "fsutil.h"
#include "start-flags.h"

static char *home;

static int setup(void **state)
{
    char tmpl[] = "/tmp/mkube-test-config-XXXXXX";
    if (!mkdtemp(tmpl))
        return -1;
    home = xasprintf("%s/home", tmpl); /* does not exist yet */
    for (const struct mk_config_key *k = mk_config_keys; k->name; k++)
        unsetenv(k->env);
    return 0;
}

static int teardown(void **state)
{
    mk_autofree char *parent = xstrndup(home, strlen(home) - strlen("/home"));
    mk_rm_rf(parent, NULL);
    free(home);
    home = NULL;
    for (const struct mk_config_key *k = mk_config_keys; k->name; k++)
        unsetenv(k->env);
    return 0;
}

static char *resolve(const char *key, const char *flag, const char **source)
{
    char *v = NULL;
    mk_autoerror struct mk_error *err = NULL;
    if (mk_config_resolve(home, key, flag, &v, source, &err) < 0)
        fail_msg("resolve %s: %s", key, err->msg);
    return v;
}

static void write_config(const char *json)
{
    mk_autofree char *dir = xasprintf("%s/config", home);
    mk_autofree char *path = xasprintf("%s/config/config.json", home);
    assert_int_equal(mk_mkdir_p(dir, 0700, NULL), 0);
    assert_int_equal(mk_write_file_atomic(path, json, strlen(json), 0600, NULL), 0);
}

static void test_defaults(void **state)
{
    const char *src = NULL;
    mk_autofree char *mem = resolve("memory", NULL, &src);
    assert_string_equal(mem, "3072");
    assert_string_equal(src, "default");
    mk_autofree char *drv = resolve("driver", NULL, &src);
    assert_string_equal(drv, "");
    mk_autofree char *ver = resolve("kubernetes-version", NULL, NULL);
    assert_string_equal(ver, "v1.37.2");
    mk_autofree char *rt = resolve("container-runtime", NULL, NULL);
    assert_string_equal(rt, "docker");
    mk_autofree char *disk = resolve("disk-size", NULL, NULL);
    assert_string_equal(disk, "20000");
    mk_autofree char *cpus = resolve("cpus", NULL, NULL);
    assert_string_equal(cpus, "2");
    assert_false(mk_path_exists(home)); /* resolving creates nothing */
}

static void test_precedence(void **state)
{
    const char *src = NULL;
    assert_int_equal(mk_config_set(home, "memory", "4g", NULL), 0);
    mk_autofree char *a = resolve("memory", NULL, &src);
    assert_string_equal(a, "4096");
    assert_string_equal(src, "config");

    setenv("MKUBE_MEMORY", "5000mb", 1);
    mk_autofree char *b = resolve("memory", NULL, &src);
    assert_string_equal(b, "5000");
    assert_string_equal(src, "env");

    mk_autofree char *c = resolve("memory", "2g", &src);
    assert_string_equal(c, "2048");
    assert_string_equal(src, "flag");

    setenv("MKUBE_DISK_SIZE", "30g", 1);
    uint64_t disk = 0;
    assert_int_equal(mk_config_resolve_u64(home, "disk-size", NULL, &disk, &src, NULL), 0);
    assert_int_equal(disk, 30720);
    assert_string_equal(src, "env");

    /* an empty variable counts as unset */
    setenv("MKUBE_MEMORY", "", 1);
    mk_autofree char *d = resolve("memory", NULL, &src);
    assert_string_equal(src, "config");
    setenv("MKUBE_KUBERNETES_VERSION", "1.36.0", 1);
    mk_autofree char *v = resolve("kubernetes-version", NULL, &src);
    assert_string_equal(v, "v1.36.0");
}

static void test_bad_sources(void **state)
{
    setenv("MKUBE_MEMORY", "lots", 1);
    char *v = NULL;
    mk_autoerror struct mk_error *e1 = NULL;
    assert_int_equal(mk_config_resolve(home, "memory", NULL, &v, NULL, &e1), -1);
    assert_null(v);
    assert_int_equal(e1->code, MK_EXIT_USAGE);
    assert_non_null(strstr(e1->msg, "MKUBE_MEMORY: invalid memory size \"lots\""));
    /* a flag still wins over a broken variable */
    mk_autofree char *ok = resolve("memory", "3g", NULL);
    assert_string_equal(ok, "3072");
    unsetenv("MKUBE_MEMORY");

    write_config("{\"cpus\": \"lots\"}\n");
    mk_autoerror struct mk_error *e2 = NULL;
    assert_int_equal(mk_config_resolve(home, "cpus", NULL, &v, NULL, &e2), -1);
    assert_non_null(strstr(e2->msg, "config.json: cpus: invalid number of CPUs"));
    assert_non_null(e2->hint);

    write_config("{\"cpus\": 1, \"embed-certs\": true}\n"); /* hand-edited: not strings */
    mk_autofree char *cpus = resolve("cpus", NULL, NULL);
    assert_string_equal(cpus, "1");
    mk_autofree char *embed = resolve("embed-certs", NULL, NULL);
    assert_string_equal(embed, "true");

    write_config("{not json");
    mk_autoerror struct mk_error *e3 = NULL;
    assert_int_equal(mk_config_resolve(home, "cpus", NULL, &v, NULL, &e3), -1);
    assert_int_equal(e3->code, MK_EXIT_CONFIG);
    mk_autoerror struct mk_error *e4 = NULL;
    assert_int_equal(mk_config_set(home, "cpus", "1", &e4), -1); /* refuses to clobber it */
    assert_int_equal(e4->code, MK_EXIT_CONFIG);
}

static void test_set_get_unset_view(void **state)
{
    mk_autoerror struct mk_error *e1 = NULL, *e2 = NULL, *e3 = NULL;
    /* rejected input creates nothing */
    assert_int_equal(mk_config_set(home, "memory", "lots", &e1), -1);
    assert_int_equal(mk_config_set(home, "nope", "1", &e2), -1);
    assert_non_null(strstr(e2->msg, "unknown config key \"nope\""));
    assert_int_equal(mk_config_set(home, "kubernetes-version", "banana", &e3), -1);
    assert_int_equal(mk_config_unset(home, "memory", NULL), 0);
    assert_false(mk_path_exists(home));

    assert_int_equal(mk_config_set(home, "memory", "4g", NULL), 0);
    assert_int_equal(mk_config_set(home, "driver", "qemu", NULL), 0);
    assert_int_equal(mk_config_set(home, "kubernetes-version", "1.36.1", NULL), 0);
    char *v = NULL;
    assert_int_equal(mk_config_get(home, "memory", &v, NULL), 0);
    assert_string_equal(v, "4g"); /* stored as typed */
    free(v);
    assert_int_equal(mk_config_get(home, "cpus", &v, NULL), 0);
    assert_null(v);

    /* a temp file of a writer killed mid-write is swept by the next write */
    mk_autofree char *stale = xasprintf("%s/config/config.json.tmp.99999999", home);
    assert_int_equal(mk_write_file_atomic(stale, "{", 1, 0600, NULL), 0);
    assert_int_equal(mk_config_set(home, "cpus", "1", NULL), 0);
    assert_false(mk_path_exists(stale));
    assert_int_equal(mk_config_unset(home, "cpus", NULL), 0);

    /* a key from a newer mkube survives our rewrite */
    mk_autofree char *path = xasprintf("%s/config/config.json", home);
    mk_autobuf struct mk_buf text = MK_BUF_INIT;
    assert_int_equal(mk_read_file(path, &text, 0, NULL, NULL), 0);
    mk_autofree char *edited = xstrdup(mk_buf_str(&text));
    char *brace = strrchr(edited, '}');
    *brace = '\0';
    mk_autofree char *with_future = xasprintf("%s, \"future-key\": {\"x\": [1, 2]}}\n", edited);
    assert_int_equal(mk_write_file_atomic(path, with_future, strlen(with_future), 0600, NULL), 0);
    assert_int_equal(mk_config_unset(home, "driver", NULL), 0);

    mk_autostrv char **keys = NULL;
    mk_autostrv char **values = NULL;
    assert_int_equal(mk_config_view(home, &keys, &values, NULL), 0);
    assert_int_equal(mk_strv_len(keys), 3);
    assert_string_equal(keys[0], "future-key");
    assert_string_equal(values[0], "{\"x\":[1,2]}");
    assert_string_equal(keys[1], "kubernetes-version");
    assert_string_equal(values[1], "1.36.1");
    assert_string_equal(keys[2], "memory");
    assert_string_equal(values[2], "4g");

    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* a relative path is stored absolute, so it means the same from anywhere */
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(mk_config_set(home, "iso-url", "out/mkube.iso", NULL), 0);
    assert_int_equal(mk_config_get(home, "iso-url", &v, NULL), 0);
    mk_autofree char *want = xasprintf("%s/out/mkube.iso", cwd);
    assert_string_equal(v, want);
    free(v);
    assert_int_equal(mk_config_set(home, "bundle-url", "http://127.0.0.1:8000/", NULL), 0);
    assert_int_equal(mk_config_get(home, "bundle-url", &v, NULL), 0);
    assert_string_equal(v, "http://127.0.0.1:8000/");
    free(v);
}

static void test_check_all_keys(void **state)
{
    /* every key has a default its own check accepts (or the empty "none") */
    for (const struct mk_config_key *k = mk_config_keys; k->name; k++) {
        assert_non_null(mk_config_key_find(k->name));
        assert_true(mk_str_has_prefix(k->env, "MKUBE_"));
        if (!*k->def)
            continue;
        mk_autofree char *n = NULL;
        mk_autoerror struct mk_error *err = NULL;
        if (strcmp(k->name, "cpus") == 0)
            continue; /* the default may exceed a 1-core host; start clamps it */
        if (mk_config_check(k->name, k->def, &n, &err) < 0)
            fail_msg("default of %s refused: %s", k->name, err->msg);
        assert_string_equal(n, k->def);
    }
    assert_null(mk_config_key_find("nope"));
}

/* mk_start_parse: flags over env over file over defaults, and refusals */
static int parse_start(char **argv, struct mk_start_opts *o, struct mk_error **err)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    struct mk_globals g = {.profile = "mkube", .home = home};
    return mk_start_parse(&g, argc, argv, o, err);
}

static void test_start_flags(void **state)
{
    struct mk_start_opts o;
    char *a0[] = {"start", NULL};
    assert_int_equal(parse_start(a0, &o, NULL), 0);
    assert_int_equal(o.memory_mib, 3072);
    assert_int_equal(o.disk_mib, 20000);
    assert_string_equal(o.kubernetes_version, "v1.37.2");
    assert_string_equal(o.container_runtime, "docker");
    assert_string_equal(o.driver, "");
    assert_string_equal(o.wait, MK_START_DEFAULT_WAIT);
    assert_int_equal(o.wait_timeout_s, 900);
    assert_true(o.direct_boot);
    assert_false(o.keep_context);
    assert_false(o.embed_certs);
    assert_null(o.iso_url);
    assert_null(o.bundle_url);
    assert_int_equal(o.accel, MK_ACCEL_AUTO);
    assert_int_equal(o.given, 0);
    mk_start_opts_release(&o);

    assert_int_equal(mk_config_set(home, "memory", "2500", NULL), 0);
    assert_int_equal(mk_config_set(home, "disk-size", "10g", NULL), 0);
    setenv("MKUBE_DISK_SIZE", "12g", 1);
    char *a1[] = {"start",
                  "--memory=4g",
                  "--kubernetes-version",
                  "1.36.0",
                  "--wait",
                  "all",
                  "--wait-timeout",
                  "5m",
                  "--keep-context",
                  "--direct-boot=false",
                  "--accel",
                  "tcg",
                  "--ssh-port",
                  "2222",
                  "--bundle-url",
                  "file:///srv/b.tar",
                  "--embed-certs",
                  "--driver",
                  "qemu",
                  NULL};
    assert_int_equal(parse_start(a1, &o, NULL), 0);
    assert_int_equal(o.memory_mib, 4096);
    assert_int_equal(o.disk_mib, 12288);
    assert_string_equal(o.kubernetes_version, "v1.36.0");
    assert_string_equal(o.wait, MK_START_ALL_WAIT);
    assert_int_equal(o.wait_timeout_s, 300);
    assert_true(o.keep_context);
    assert_false(o.direct_boot);
    assert_int_equal(o.accel, MK_ACCEL_TCG);
    assert_int_equal(o.ssh_port, 2222);
    assert_string_equal(o.bundle_url, "file:///srv/b.tar");
    assert_true(o.embed_certs);
    assert_string_equal(o.driver, "qemu");
    assert_int_equal(o.given, MK_START_GIVEN_MEMORY | MK_START_GIVEN_DISK |
                                  MK_START_GIVEN_K8S_VERSION | MK_START_GIVEN_DRIVER);
    mk_start_opts_release(&o);

    unsetenv("MKUBE_DISK_SIZE");
    assert_int_equal(parse_start(a0, &o, NULL), 0);
    assert_int_equal(o.memory_mib, 2500); /* from the file */
    assert_int_equal(o.disk_mib, 10240);
    mk_start_opts_release(&o);
}

static void start_refused(char **argv, const char *want)
{
    struct mk_start_opts o;
    mk_autoerror struct mk_error *err = NULL;
    assert_int_equal(parse_start(argv, &o, &err), -1);
    assert_non_null(err);
    assert_int_equal(err->code, MK_EXIT_USAGE);
    if (!strstr(err->msg, want))
        fail_msg("%s: want \"%s\", got \"%s\"", argv[1], want, err->msg);
    assert_null(o.driver); /* released */
}

static void test_start_refusals(void **state)
{
    char *a1[] = {"start", "--memory", "lots", NULL};
    start_refused(a1, "invalid memory size \"lots\"");
    char *a2[] = {"start", "--nope", NULL};
    start_refused(a2, "unknown flag '--nope' for 'start'");
    char *a3[] = {"start", "--memory", NULL};
    start_refused(a3, "flag '--memory' needs a value");
    char *a4[] = {"start", "extra", NULL};
    start_refused(a4, "takes no arguments");
    char *a5[] = {"start", "--wait", "apiserver,bogus", NULL};
    start_refused(a5, "invalid --wait component \"bogus\"");
    char *a6[] = {"start", "--accel", "hvf", NULL};
    start_refused(a6, "invalid --accel");
    char *a7[] = {"start", "--ssh-port", "2222", "--docker-port", "2222", NULL};
    start_refused(a7, "port 2222 is given for two forwards");
    char *a8[] = {"start", "--driver", "nope", NULL};
    start_refused(a8, "invalid driver \"nope\"");
    char *a9[] = {"start", "--keep-context=perhaps", NULL};
    start_refused(a9, "--keep-context: invalid boolean");
    char *a10[] = {"start", "--iso-url", "ftp://example.invalid/x.iso", NULL};
    start_refused(a10, "invalid ISO URL");
    char *a11[] = {"start", "-x", NULL};
    start_refused(a11, "unknown flag '-x' for 'start'");
    char *a12[] = {"start", "--memory=lots", NULL};
    start_refused(a12, "invalid memory size \"lots\"");
    assert_false(mk_path_exists(home));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_sources, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_get_unset_view, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_all_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_refusals, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
