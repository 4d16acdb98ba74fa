/* test-dashboard.c - the dashboard addon's target (addon.json "dashboard"),
 * the service proxy URL, and when its deployments count as ready. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testjson.h"
#include "dashboard.h"
#include "fsutil.h"

static void test_target_from_json(void **state)
{
    (void)state;
    struct mk_dashboard_target t;
    struct mk_error *err = NULL;
    json_t *j = test_json("{\"dashboard\": {\"namespace\": \"kubernetes-dashboard\","
                          " \"service\": \"kubernetes-dashboard\", \"port\": 80}}");
    assert_int_equal(mk_dashboard_target_from_json(j, "a.json", &t, &err), 0);
    mk_autofree char *url = mk_dashboard_url(43210, &t);
    assert_string_equal(url, "http://127.0.0.1:43210/api/v1/namespaces/kubernetes-dashboard/"
                             "services/kubernetes-dashboard:80/proxy/");
    mk_dashboard_target_release(&t);
    json_decref(j);

    /* minikube's v2 form: a scheme-qualified service, no port */
    j = test_json("{\"dashboard\": {\"namespace\": \"kubernetes-dashboard\","
                  " \"service\": \"http:kubernetes-dashboard:\"}}");
    assert_int_equal(mk_dashboard_target_from_json(j, "a.json", &t, &err), 0);
    mk_autofree char *path = mk_dashboard_proxy_path(&t);
    assert_string_equal(path, "/api/v1/namespaces/kubernetes-dashboard/services/"
                              "http:kubernetes-dashboard:/proxy/");
    mk_dashboard_target_release(&t);
    json_decref(j);

    /* a named port */
    j = test_json(
        "{\"dashboard\": {\"namespace\": \"ns\", \"service\": \"web\", \"port\": \"http\"}}");
    assert_int_equal(mk_dashboard_target_from_json(j, "a.json", &t, &err), 0);
    mk_autofree char *p2 = mk_dashboard_proxy_path(&t);
    assert_string_equal(p2, "/api/v1/namespaces/ns/services/web:http/proxy/");
    mk_dashboard_target_release(&t);
    json_decref(j);

    static const char *const bad[] = {
        "{}",
        "{\"dashboard\": \"kubernetes-dashboard\"}",
        "{\"dashboard\": {\"service\": \"web\"}}",
        "{\"dashboard\": {\"namespace\": \"ns\"}}",
        "{\"dashboard\": {\"namespace\": \"ns/../x\", \"service\": \"web\"}}",
        "{\"dashboard\": {\"namespace\": \"..\", \"service\": \"web\"}}",
        "{\"dashboard\": {\"namespace\": \"ns\", \"service\": \"web?x=1\"}}",
        "{\"dashboard\": {\"namespace\": \"ns:x\", \"service\": \"web\"}}",
        "{\"dashboard\": {\"namespace\": \"ns\", \"service\": \"web\", \"port\": 0}}",
        "{\"dashboard\": {\"namespace\": \"ns\", \"service\": \"web\", \"port\": 65536}}",
        "{\"dashboard\": {\"namespace\": \"ns\", \"service\": \"web\", \"port\": \"a/b\"}}",
        "{\"dashboard\": {\"namespace\": \"ns\", \"service\": \"web\", \"port\": true}}",
    };
    for (size_t i = 0; i < MK_ARRAY_SIZE(bad); i++) {
        j = test_json(bad[i]);
        err = NULL;
        if (mk_dashboard_target_from_json(j, "x/addon.json", &t, &err) != -1)
            fail_msg("accepted %s", bad[i]);
        assert_int_equal(err->code, MK_EXIT_CONFIG);
        assert_true(mk_str_has_prefix(err->msg, "x/addon.json: "));
        mk_error_free(err);
        mk_dashboard_target_release(&t);
        json_decref(j);
    }
}

static void test_target_load(void **state)
{
    (void)state;
    char dir[] = "/tmp/mkube-test-dashboard-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct mk_dashboard_target t;
    struct mk_error *err = NULL;
    /* no dashboard addon: not available, with the way to the docs */
    assert_int_equal(mk_dashboard_target_load(dir, &t, &err), -1);
    assert_int_equal(err->code, MK_EXIT_NOT_IMPLEMENTED);
    assert_string_equal(err->msg, "no dashboard addon is available: no upstream Kubernetes web "
                                  "UI could be built for this release");
    assert_non_null(strstr(err->hint, "docs/dashboard.md"));
    mk_error_free(err);
    err = NULL;

    mk_autofree char *adir = xasprintf("%s/dashboard", dir);
    mk_autofree char *path = xasprintf("%s/addon.json", adir);
    assert_int_equal(mk_mkdir_p(adir, 0755, NULL), 0);
    const char *json = "{\"name\": \"dashboard\", \"manifests\": [\"x.yaml\"], \"dashboard\":"
                       " {\"namespace\": \"kubernetes-dashboard\", \"service\": \"web\","
                       " \"port\": \"8000\"}}";
    assert_int_equal(mk_write_file_atomic(path, json, strlen(json), 0644, NULL), 0);
    assert_int_equal(mk_dashboard_target_load(dir, &t, &err), 0);
    assert_string_equal(t.ns, "kubernetes-dashboard");
    assert_string_equal(t.service, "web");
    assert_string_equal(t.port, "8000");
    mk_dashboard_target_release(&t);

    assert_int_equal(mk_write_file_atomic(path, "{", 1, 0644, NULL), 0);
    assert_int_equal(mk_dashboard_target_load(dir, &t, &err), -1);
    assert_int_equal(err->code, MK_EXIT_CONFIG);
    mk_error_free(err);
    mk_rm_rf(dir, NULL);
}

static void test_deployments_ready(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        bool ready;
        const char *waiting;
    } cases[] = {
        {"{\"items\": []}", false, NULL},
        {"{}", false, NULL},
        {"{\"items\": [{\"metadata\": {\"name\": \"web\", \"generation\": 2},"
         " \"spec\": {\"replicas\": 1}, \"status\": {\"observedGeneration\": 2,"
         " \"updatedReplicas\": 1, \"availableReplicas\": 1}}]}",
         true, NULL},
        /* replicas defaults to 1 */
        {"{\"items\": [{\"metadata\": {\"name\": \"web\", \"generation\": 1},"
         " \"spec\": {}, \"status\": {\"observedGeneration\": 1}}]}",
         false, "web"},
        /* a new generation not seen yet by the controller */
        {"{\"items\": [{\"metadata\": {\"name\": \"web\", \"generation\": 3},"
         " \"spec\": {\"replicas\": 1}, \"status\": {\"observedGeneration\": 2,"
         " \"updatedReplicas\": 1, \"availableReplicas\": 1}}]}",
         false, "web"},
        /* the second of two is still rolling out */
        {"{\"items\": [{\"metadata\": {\"name\": \"api\", \"generation\": 1},"
         " \"spec\": {\"replicas\": 1}, \"status\": {\"observedGeneration\": 1,"
         " \"updatedReplicas\": 1, \"availableReplicas\": 1}},"
         " {\"metadata\": {\"name\": \"scraper\", \"generation\": 1},"
         " \"spec\": {\"replicas\": 2}, \"status\": {\"observedGeneration\": 1,"
         " \"updatedReplicas\": 2, \"availableReplicas\": 1}}]}",
         false, "scraper"},
        /* scaled to zero on purpose: nothing to wait for */
        {"{\"items\": [{\"metadata\": {\"name\": \"web\", \"generation\": 1},"
         " \"spec\": {\"replicas\": 0}, \"status\": {\"observedGeneration\": 1}}]}",
         true, NULL},
    };
    for (size_t i = 0; i < MK_ARRAY_SIZE(cases); i++) {
        json_t *j = test_json(cases[i].json);
        char *waiting = NULL;
        bool ready = mk_dashboard_deployments_ready(j, &waiting);
        if (ready != cases[i].ready)
            fail_msg("case %zu: ready %d", i, ready);
        if (cases[i].waiting)
            assert_string_equal(waiting, cases[i].waiting);
        else
            assert_null(waiting);
        free(waiting);
        json_decref(j);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_target_from_json),
        cmocka_unit_test(test_target_load),
        cmocka_unit_test(test_deployments_ready),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
