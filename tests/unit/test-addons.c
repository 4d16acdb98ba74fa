/* test-addons.c - the addons shipped in addons/: metadata loads, manifests are
 * YAML, every image a manifest runs is declared (so "unavailable" is right)
 * and never pulled; default-on state and its memory in the profile; image
 * availability against a bundle manifest; the kubectl argv through the run
 * hook; the cached bundle images `addons list` reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "addons.h"
#include "fsutil.h"
#include "profile.h"
#include "run.h"

static char *src_addons(void)
{
    return xasprintf("%s/addons", MKUBE_SOURCE_DIR);
}

static void test_dir_fallback(void **state)
{
    (void)state;
    setenv("MKUBE_DATADIR", "/nonexistent/mkube-data", 1);
    struct mk_error *err = NULL;
    char *dir = mk_addons_dir(&err);
    assert_non_null(dir);
    assert_true(mk_str_has_suffix(dir, "/addons"));
    assert_true(mk_path_exists(dir));
    free(dir);
    unsetenv("MKUBE_DATADIR");
}

/* Count YAML documents; fail on a parse error. */
static int yaml_docs(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    int docs = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev))
            fail_msg("%s: YAML error: %s (line %zu)", path, p.problem, p.problem_mark.line + 1);
        yaml_event_type_t t = ev.type;
        yaml_event_delete(&ev);
        if (t == YAML_DOCUMENT_START_EVENT)
            docs++;
        if (t == YAML_STREAM_END_EVENT)
            break;
    }
    yaml_parser_delete(&p);
    fclose(f);
    return docs;
}

static void test_shipped_addons(void **state)
{
    (void)state;
    char *dir = src_addons();
    struct mk_addon *all = NULL;
    size_t n = 0;
    struct mk_error *err = NULL;
    assert_int_equal(mk_addons_load_all(dir, &all, &n, &err), 0);
    const char *want[] = {"default-storageclass", "metrics-server", "storage-provisioner"};
    for (size_t w = 0; w < MK_ARRAY_SIZE(want); w++) {
        bool found = false;
        for (size_t i = 0; i < n; i++)
            found |= strcmp(all[i].name, want[w]) == 0;
        assert_true(found);
    }
    for (size_t i = 1; i < n; i++)
        assert_true(strcmp(all[i - 1].name, all[i].name) < 0);
    for (size_t i = 0; i < n; i++) {
        struct mk_addon *a = &all[i];
        assert_true(*a->description);
        for (char **m = a->manifests; *m; m++) {
            assert_true(yaml_docs(*m) >= 1);
            /* every image line names a declared image, never pulled */
            struct mk_buf text = MK_BUF_INIT;
            assert_int_equal(mk_read_file(*m, &text, 0, NULL, &err), 0);
            for (char *line = strtok(text.buf, "\n"); line; line = strtok(NULL, "\n")) {
                char *img = strstr(line, "image: ");
                if (!img || strstr(line, "#"))
                    continue;
                img += strlen("image: ");
                bool declared = false;
                for (char **d = a->images; *d; d++)
                    declared |= strcmp(*d, img) == 0;
                if (!declared)
                    fail_msg("%s: image %s is not in %s's addon.json", *m, img, a->name);
            }
            mk_buf_release(&text);
        }
    }
    /* the pull policy of every container in the provisioner's manifests */
    for (size_t i = 0; i < n; i++) {
        for (char **m = all[i].manifests; *m; m++) {
            struct mk_buf text = MK_BUF_INIT;
            assert_int_equal(mk_read_file(*m, &text, 0, NULL, &err), 0);
            size_t images = 0, never = 0;
            for (const char *s = text.buf; (s = strstr(s, "image: ")); s++)
                images++;
            for (const char *s = text.buf; (s = strstr(s, "imagePullPolicy: Never")); s++)
                never++;
            assert_int_equal(images, never);
            mk_buf_release(&text);
        }
    }
    mk_addons_free(all, n);
    free(dir);

    /* unknown names, and names that would leave the directory */
    struct mk_addon a;
    dir = src_addons();
    assert_int_equal(mk_addon_load(dir, "nope", &a, &err), -1);
    assert_int_equal(err->code, MK_EXIT_USAGE);
    mk_error_free(err);
    err = NULL;
    assert_int_equal(mk_addon_load(dir, "../addons/metrics-server", &a, &err), -1);
    mk_error_free(err);
    free(dir);
}

static void test_defaults_in_profile(void **state)
{
    (void)state;
    char *dir = src_addons();
    struct mk_addon *all = NULL;
    size_t n = 0;
    struct mk_error *err = NULL;
    assert_int_equal(mk_addons_load_all(dir, &all, &n, &err), 0);
    const struct mk_addon *sp = NULL, *ms = NULL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(all[i].name, "storage-provisioner") == 0)
            sp = &all[i];
        if (strcmp(all[i].name, "metrics-server") == 0)
            ms = &all[i];
    }
    assert_non_null(sp);
    assert_non_null(ms);

    assert_true(mk_addon_enabled(NULL, sp)); /* no profile yet: the defaults */
    struct mk_profile *p = mk_profile_new("ad");
    assert_true(mk_addon_enabled(p, sp));
    assert_false(mk_addon_enabled(p, ms));
    assert_true(mk_addons_take_defaults(p, all, n));
    assert_false(mk_addons_take_defaults(p, all, n));
    assert_true(mk_profile_has_addon(p, "storage-provisioner"));
    assert_true(mk_profile_has_addon(p, "default-storageclass"));
    mk_profile_set_addon(p, "storage-provisioner", false);
    mk_profile_set_addon(p, "metrics-server", true);

    /* saved and loaded: a disabled default stays disabled */
    char tmpl[] = "/tmp/mk-addons.XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    assert_int_equal(mk_profile_save(tmpl, p, &err), 0);
    mk_profile_free(p);
    p = NULL;
    assert_int_equal(mk_profile_load(tmpl, "ad", &p, &err), 0);
    assert_false(mk_addon_enabled(p, sp));
    assert_true(mk_addon_enabled(p, ms));
    assert_false(mk_addons_take_defaults(p, all, n));
    mk_profile_free(p);
    mk_rm_rf(tmpl, &err);
    mk_addons_free(all, n);
    free(dir);
}

static void test_available(void **state)
{
    (void)state;
    json_t *m = json_loads("{\"images\":[{\"name\":\"registry.k8s.io/pause:3.10.2\"},"
                           "{\"name\":\"docker.io/rancher/local-path-provisioner:v0.0.30\"},"
                           "{\"name\":\"mkube/busybox:1.35.0\"}]}",
                           0, NULL);
    char **images = mk_bundle_manifest_images(m);
    json_decref(m);
    assert_int_equal(mk_strv_len(images), 3);
    char *sp_images[] = {"docker.io/rancher/local-path-provisioner:v0.0.30",
                         "docker.io/mkube/busybox:1.35.0", NULL};
    char *ms_images[] = {"registry.k8s.io/metrics-server/metrics-server:v0.8.0", NULL};
    char *none[] = {NULL};
    struct mk_addon sp = {.name = "storage-provisioner", .images = sp_images};
    struct mk_addon ms = {.name = "metrics-server", .images = ms_images};
    struct mk_addon sc = {.name = "default-storageclass", .images = none};
    char *missing = NULL;
    assert_true(mk_addon_available(&sp, images, &missing)); /* docker.io/ is optional */
    assert_null(missing);
    assert_true(mk_addon_available(&sc, images, &missing));
    assert_false(mk_addon_available(&ms, images, &missing));
    assert_string_equal(missing, ms_images[0]);
    free(missing);
    mk_strv_free(images);
}

struct hook_log {
    char *argv;
};

static int record_hook(const char *const *argv, const struct mk_run_opts *o,
                       struct mk_run_result *r, void *data)
{
    struct hook_log *log = data;
    free(log->argv);
    log->argv = mk_run_argv_string(argv);
    r->status = 0;
    return 0;
}

static void test_kubectl_argv(void **state)
{
    (void)state;
    setenv("KUBECONFIG", "/tmp/kc-test", 1);
    char *manifests[] = {"/a/one.yaml", "/a/two.yaml", NULL};
    struct mk_addon a = {.name = "x", .manifests = manifests};
    struct hook_log log = {0};
    mk_run_set_hook(record_hook, &log);
    struct mk_error *err = NULL;
    assert_int_equal(mk_addon_apply("/k/kubectl", "prof", &a, true, &err), 0);
    assert_string_equal(log.argv, "/k/kubectl --kubeconfig /tmp/kc-test --context prof apply "
                                  "-f /a/one.yaml -f /a/two.yaml");
    assert_int_equal(mk_addon_apply("/k/kubectl", "prof", &a, false, &err), 0);
    assert_string_equal(log.argv,
                        "/k/kubectl --kubeconfig /tmp/kc-test --context prof delete "
                        "--ignore-not-found --timeout=120s -f /a/two.yaml -f /a/one.yaml");
    mk_run_set_hook(NULL, NULL);
    free(log.argv);
    unsetenv("KUBECONFIG");
}

static void put(const char *path, const char *text)
{
    struct mk_error *err = NULL;
    char *dir = xstrdup(path);
    *strrchr(dir, '/') = 0;
    assert_int_equal(mk_mkdir_p(dir, 0755, &err), 0);
    assert_int_equal(mk_write_file_atomic(path, text, strlen(text), 0644, &err), 0);
    free(dir);
}

static void test_cached_images(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/mk-addons-cache.XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    assert_null(mk_addons_cached_images(tmpl, "v1.37.2"));
    char *a = xasprintf("%s/bundle/aaa/manifest.json", tmpl);
    char *b = xasprintf("%s/bundle/bbb/manifest.json", tmpl);
    put(a, "{\"kubernetesVersion\":\"v1.36.0\",\"images\":[{\"name\":\"old:1\"}]}");
    put(b, "{\"kubernetesVersion\":\"v1.37.2\",\"images\":[{\"name\":\"new:1\"},"
           "{\"name\":\"new:2\"}]}");
    char **images = mk_addons_cached_images(tmpl, "v1.37.2");
    assert_non_null(images);
    assert_int_equal(mk_strv_len(images), 2);
    assert_string_equal(images[0], "new:1");
    mk_strv_free(images);
    assert_null(mk_addons_cached_images(tmpl, "v1.30.0"));
    struct mk_error *err = NULL;
    mk_rm_rf(tmpl, &err);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dir_fallback),        cmocka_unit_test(test_shipped_addons),
        cmocka_unit_test(test_defaults_in_profile), cmocka_unit_test(test_available),
        cmocka_unit_test(test_kubectl_argv),        cmocka_unit_test(test_cached_images),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
