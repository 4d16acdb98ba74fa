/* test-wait.c - the checks behind `mkube start --wait` on the API server's
 * JSON: RFC 3339 times, a node lease renewed since the VM started, and pods
 * Running with a container started since then (after a restart the API
 * server still shows the status from before the stop). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "testjson.h"
#include "bootstrap.h"
#include "kapi.h"

static void test_parse_time(void **state)
{
    (void)state;
    time_t t = 0, u = 0;
    assert_int_equal(mk_kapi_parse_time("1970-01-01T00:00:00Z", &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(mk_kapi_parse_time("2026-11-28T14:07:05Z", &t), 0);
    assert_int_equal(t, 1795874825);
    /* MicroTime: fractions dropped */
    assert_int_equal(mk_kapi_parse_time("2026-11-28T14:07:05.987654Z", &u), 0);
    assert_int_equal(u, t);
    const char *bad[] = {"",
                         "2026-11-28",
                         "2026-11-28T14:07:05",       /* no zone */
                         "2026-11-28T14:07:05+01:00", /* not what the API writes */
                         "2026-13-28T14:07:05Z",
                         "2026-11-28T24:07:05Z",
                         "2026-11-28T14:07:05Zjunk",
                         "yesterday"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        t = 42;
        assert_int_equal(mk_kapi_parse_time(bad[i], &t), -1);
        assert_int_equal(t, 42);
    }
    assert_int_equal(mk_kapi_parse_time(NULL, &t), -1);
}

static void test_lease(void **state)
{
    (void)state;
    const time_t started = 1795874825; /* 14:07:05 */
    char *why = NULL;
    json_t *fresh = test_json("{\"kind\":\"Lease\",\"spec\":{\"holderIdentity\":\"m1\","
                              "\"renewTime\":\"2026-11-28T14:07:31.123456Z\"}}");
    json_t *stale = test_json("{\"kind\":\"Lease\",\"spec\":{\"holderIdentity\":\"m1\","
                              "\"renewTime\":\"2026-11-28T14:05:40.000001Z\"}}");
    json_t *none = test_json("{\"kind\":\"Lease\",\"spec\":{\"holderIdentity\":\"m1\"}}");
    /* within the clock slack of the start counts */
    json_t *edge = test_json("{\"spec\":{\"renewTime\":\"2026-11-28T14:07:03.5Z\"}}");
    assert_true(mk_wait_lease_fresh(fresh, started, &why));
    assert_null(why);
    assert_true(mk_wait_lease_fresh(edge, started, &why));
    assert_false(mk_wait_lease_fresh(stale, started, &why));
    assert_non_null(strstr(why, "since the VM started"));
    assert_false(mk_wait_lease_fresh(none, started, &why));
    assert_non_null(strstr(why, "not renewed its node lease yet"));
    free(why);
    json_decref(fresh);
    json_decref(stale);
    json_decref(none);
    json_decref(edge);
}

/* kube-system pods: the API server shows kube-proxy Running with the container
 * started before the stop, and the new apiserver container after it */
static const char *pods_json =
    "{\"kind\":\"PodList\",\"items\":["
    "{\"metadata\":{\"name\":\"kube-apiserver-m1\"},\"status\":{\"phase\":\"Running\","
    " \"containerStatuses\":[{\"name\":\"kube-apiserver\",\"state\":{\"running\":"
    "  {\"startedAt\":\"2026-11-28T14:08:10Z\"}}}]}},"
    "{\"metadata\":{\"name\":\"kube-proxy-tjrv4\"},\"status\":{\"phase\":\"Running\","
    " \"containerStatuses\":[{\"name\":\"kube-proxy\",\"state\":{\"running\":"
    "  {\"startedAt\":\"2026-11-28T13:58:00Z\"}}}]}},"
    "{\"metadata\":{\"name\":\"coredns-559f6c778d-hssww\"},\"status\":{\"phase\":\"Pending\","
    " \"containerStatuses\":[{\"name\":\"coredns\",\"state\":{\"waiting\":"
    "  {\"reason\":\"ContainerCreating\"}}}]}},"
    "{\"metadata\":{\"name\":\"etcd-m1\"},\"status\":{\"phase\":\"Running\","
    " \"containerStatuses\":[{\"name\":\"etcd\",\"state\":{\"terminated\":"
    "  {\"startedAt\":\"2026-11-28T14:08:00Z\"}}},"
    "  {\"name\":\"side\",\"state\":{\"running\":{\"startedAt\":\"2026-11-28T14:08:01Z\"}}}]}}"
    "]}";

static void test_pods(void **state)
{
    (void)state;
    const time_t started = 1795874825; /* 14:07:05 */
    json_t *pods = test_json(pods_json);
    char *why = NULL;
    const char *apiserver[] = {"kube-apiserver", NULL};
    const char *proxy[] = {"kube-proxy", NULL};
    const char *dns[] = {"coredns", NULL};
    const char *etcd[] = {"etcd", "kube-apiserver", NULL};
    const char *missing[] = {"kube-apiserver", "kube-scheduler", NULL};

    /* a VM that kept running: phase Running is enough */
    assert_true(mk_wait_pods_running(pods, proxy, 0, &why));
    assert_true(mk_wait_pods_running(pods, etcd, 0, &why));
    assert_null(why);
    /* after a restart: only containers started since */
    assert_true(mk_wait_pods_running(pods, apiserver, started, &why));
    assert_true(mk_wait_pods_running(pods, etcd, started, &why));
    assert_null(why);
    assert_false(mk_wait_pods_running(pods, proxy, started, &why));
    assert_string_equal(why, "kube-system pod kube-proxy is not Running yet");
    assert_false(mk_wait_pods_running(pods, dns, 0, &why));
    assert_string_equal(why, "kube-system pod coredns is not Running yet");
    assert_false(mk_wait_pods_running(pods, missing, 0, &why));
    assert_string_equal(why, "kube-system pod kube-scheduler is not Running yet");
    free(why);
    json_decref(pods);
}

static void test_readyz(void **state)
{
    (void)state;
    const char *body = "[+]ping ok\n[+]log ok\n[-]etcd failed: reason withheld\n"
                       "[+]etcd-readiness ok\n[-]poststarthook/rbac/bootstrap-roles failed: "
                       "not finished\n[+]shutdown ok\nreadyz check failed\n";
    char *f = mk_readyz_failing(body);
    assert_string_equal(f, "etcd, poststarthook/rbac/bootstrap-roles");
    free(f);
    f = mk_readyz_failing("[-]informer-sync failed: 3 informers not started yet");
    assert_string_equal(f, "informer-sync");
    free(f);
    assert_null(mk_readyz_failing("[+]ping ok\n[+]etcd ok\nreadyz check passed\n"));
    assert_null(mk_readyz_failing(""));
    assert_null(mk_readyz_failing(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_lease),
        cmocka_unit_test(test_pods),
        cmocka_unit_test(test_readyz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
