/* test-service.c - mkube service: Service and EndpointSlice JSON as the API
 * server returns them, labels and URLs, the forwards recorded in machine.json
 * (NodePort number reused when free, kept when present, none lost by two
 * processes at once), and the browser opener through the run hook. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testjson.h"
#include "cluster.h"
#include "fsutil.h"
#include "profile.h"
#include "run.h"
#include "service.h"

static const char *hello_json =
    "{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"hello\","
    "\"namespace\":\"default\"},\"spec\":{\"type\":\"NodePort\",\"ports\":["
    "{\"protocol\":\"TCP\",\"port\":80,\"targetPort\":80,\"nodePort\":31080},"
    "{\"name\":\"metrics\",\"protocol\":\"TCP\",\"port\":9090,\"nodePort\":31090},"
    "{\"name\":\"dns\",\"protocol\":\"UDP\",\"port\":53,\"nodePort\":31053}]}}";

static void test_parse_nodeport(void **state)
{
    (void)state;
    json_t *j = test_json(hello_json);
    struct mk_svc s;
    struct mk_error *err = NULL;
    assert_int_equal(mk_svc_from_json(j, &s, &err), 0);
    assert_string_equal(s.ns, "default");
    assert_string_equal(s.name, "hello");
    assert_string_equal(s.type, "NodePort");
    assert_int_equal(s.nports, 3);
    assert_int_equal(s.ports[0].port, 80);
    assert_int_equal(s.ports[0].node_port, 31080);
    assert_string_equal(s.ports[0].name, "");
    assert_string_equal(s.ports[2].protocol, "UDP");
    assert_true(mk_svc_has_node_port(&s));
    char *l0 = mk_svc_port_label(&s.ports[0]);
    char *l1 = mk_svc_port_label(&s.ports[1]);
    assert_string_equal(l0, "80");
    assert_string_equal(l1, "metrics/9090");
    free(l0);
    free(l1);
    mk_svc_release(&s);
    json_decref(j);
}

static void test_parse_clusterip_and_bad(void **state)
{
    (void)state;
    json_t *j = test_json("{\"metadata\":{\"name\":\"kubernetes\",\"namespace\":\"default\"},"
                          "\"spec\":{\"type\":\"ClusterIP\",\"ports\":[{\"name\":\"https\","
                          "\"protocol\":\"TCP\",\"port\":443,\"targetPort\":8443}]}}");
    struct mk_svc s;
    struct mk_error *err = NULL;
    assert_int_equal(mk_svc_from_json(j, &s, &err), 0);
    assert_false(mk_svc_has_node_port(&s));
    mk_svc_release(&s);
    json_decref(j);

    /* only a UDP NodePort: nothing we can forward */
    j = test_json("{\"metadata\":{\"name\":\"u\"},\"spec\":{\"type\":\"NodePort\",\"ports\":["
                  "{\"protocol\":\"UDP\",\"port\":53,\"nodePort\":30053}]}}");
    assert_int_equal(mk_svc_from_json(j, &s, &err), 0);
    assert_string_equal(s.ns, "default");
    assert_false(mk_svc_has_node_port(&s));
    mk_svc_release(&s);
    json_decref(j);

    j = test_json("{\"metadata\":{},\"spec\":{}}");
    assert_int_equal(mk_svc_from_json(j, &s, &err), -1);
    assert_non_null(err);
    mk_error_free(err);
    json_decref(j);
}

static void test_ready_endpoints(void **state)
{
    (void)state;
    json_t *j = test_json(
        "{\"kind\":\"EndpointSliceList\",\"items\":["
        "{\"endpoints\":[{\"addresses\":[\"10.244.0.5\"],\"conditions\":{\"ready\":true}},"
        "{\"addresses\":[\"10.244.0.6\"],\"conditions\":{\"ready\":false,\"terminating\":true}}]},"
        "{\"endpoints\":[{\"addresses\":[\"10.244.0.7\"],\"conditions\":{}}]},"
        "{\"endpoints\":null}]}");
    assert_int_equal(mk_svc_ready_endpoints(j), 2);
    json_decref(j);
    j = test_json("{\"items\":[]}");
    assert_int_equal(mk_svc_ready_endpoints(j), 0);
    json_decref(j);
}

static void test_url(void **state)
{
    (void)state;
    char *u = mk_svc_url("127.0.0.1", 31080, false);
    assert_string_equal(u, "http://127.0.0.1:31080");
    free(u);
    u = mk_svc_url("127.0.0.1", 443, true);
    assert_string_equal(u, "https://127.0.0.1:443");
    free(u);
}

/* ---- forwards in machine.json (qemu driver, VM not running: recorded only) ---- */

struct fixture {
    char *tmp;
    struct mk_cluster c;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    char tmpl[] = "/tmp/mk-service.XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    f->tmp = xstrdup(tmpl);
    struct mk_error *err = NULL;
    struct mk_profile *p = mk_profile_new("sv");
    assert_int_equal(mk_profile_save(f->tmp, p, &err), 0);
    mk_profile_free(p);
    char *machines = xasprintf("%s/machines", f->tmp);
    struct mk_machine *m = mk_machine_new(mk_driver_lookup("qemu"), machines, "sv");
    assert_int_equal(mk_mkdir_p(m->dir, 0700, &err), 0);
    m->forwards[0] = (struct mk_forward){MK_GUEST_SSH_PORT, 40022};
    m->forwards[1] = (struct mk_forward){MK_GUEST_API_PORT, 40443};
    m->forwards[2] = (struct mk_forward){MK_GUEST_DOCKER_PORT, 40376};
    m->nforwards = 3;
    assert_int_equal(mk_machine_save(m, &err), 0);
    mk_machine_free(m);
    free(machines);
    assert_int_equal(mk_cluster_open(f->tmp, "sv", &f->c, &err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    mk_cluster_close(&f->c);
    struct mk_error *err = NULL;
    mk_rm_rf(f->tmp, &err);
    mk_error_free(err);
    free(f->tmp);
    free(f);
    return 0;
}

/* A free port in the NodePort range, checked by binding it. */
static unsigned free_node_port(unsigned from)
{
    for (unsigned p = from; p < 32768; p++)
        if (mk_port_free(p))
            return p;
    fail_msg("no free port from %u", from);
    return 0;
}

static unsigned saved_forward(const char *home, unsigned guest)
{
    char *machines = xasprintf("%s/machines", home);
    struct mk_machine *m = NULL;
    struct mk_error *err = NULL;
    assert_int_equal(mk_machine_load(machines, "sv", &m, &err), 0);
    unsigned host = mk_machine_forward_port(m, guest);
    mk_machine_free(m);
    free(machines);
    return host;
}

static void test_forward(void **state)
{
    struct fixture *f = *state;
    json_t *j = test_json(hello_json);
    struct mk_svc s;
    struct mk_error *err = NULL;
    assert_int_equal(mk_svc_from_json(j, &s, &err), 0);
    json_decref(j);
    unsigned np0 = free_node_port(31000), np1 = free_node_port(np0 + 1);
    s.ports[0].node_port = np0;
    s.ports[1].node_port = np1;
    /* np1 is taken on the host: it gets another port */
    int busy = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)np1)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(busy, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(busy, 1), 0);

    assert_int_equal(mk_svc_forward(&f->c, &s, 1, &err), 0);
    assert_int_equal(s.ports[0].host_port, np0);
    assert_int_not_equal(s.ports[1].host_port, 0);
    assert_int_not_equal(s.ports[1].host_port, np1);
    assert_int_equal(s.ports[2].host_port, 0); /* UDP: no forward */
    assert_int_equal(saved_forward(f->tmp, np0), np0);
    assert_int_equal(saved_forward(f->tmp, np1), s.ports[1].host_port);
    assert_int_equal(saved_forward(f->tmp, 31053), 0);
    assert_int_equal(f->c.machine->nforwards, 5);

    /* again: the same ports, nothing added */
    unsigned h1 = s.ports[1].host_port;
    s.ports[0].host_port = s.ports[1].host_port = 0;
    assert_int_equal(mk_svc_forward(&f->c, &s, 1, &err), 0);
    assert_int_equal(s.ports[0].host_port, np0);
    assert_int_equal(s.ports[1].host_port, h1);
    assert_int_equal(f->c.machine->nforwards, 5);
    close(busy);
    mk_svc_release(&s);
}

/* Two processes add different forwards at once: both survive. */
static void test_forward_concurrent(void **state)
{
    struct fixture *f = *state;
    enum { N = 6 };
    unsigned ports[N];
    unsigned from = 31500;
    for (int i = 0; i < N; i++)
        from = (ports[i] = free_node_port(from)) + 1;
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            struct mk_cluster c;
            struct mk_error *err = NULL;
            if (mk_cluster_open(f->tmp, "sv", &c, &err) < 0)
                _exit(2);
            for (int i = k; i < N; i += 2) {
                struct mk_svc_port p = {
                    .name = "", .protocol = "TCP", .port = 80, .node_port = ports[i]};
                struct mk_svc s = {
                    .ns = "default", .name = "x", .type = "NodePort", .ports = &p, .nports = 1};
                if (mk_svc_forward(&c, &s, 1, &err) < 0)
                    _exit(3);
            }
            mk_cluster_close(&c);
            _exit(0);
        }
    }
    for (int k = 0; k < 2; k++) {
        int st = 0;
        assert_int_equal(waitpid(kids[k], &st, 0), kids[k]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    for (int i = 0; i < N; i++)
        assert_int_not_equal(saved_forward(f->tmp, ports[i]), 0);
}

/* ---- the browser ---- */

struct hook_log {
    char *argv;
    int status;
};

static int record_hook(const char *const *argv, const struct mk_run_opts *o,
                       struct mk_run_result *r, void *data)
{
    struct hook_log *log = data;
    free(log->argv);
    log->argv = mk_run_argv_string(argv);
    r->status = log->status;
    if (log->status)
        mk_buf_adds(&r->err, "xdg-open: no method available for opening 'http://x'\n");
    return 0;
}

static void test_browser(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/mk-browser.XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    /* a stand-in xdg-open, only so that PATH has one: the hook runs instead */
    char *opener = xasprintf("%s/xdg-open", tmpl);
    FILE *fp = fopen(opener, "w");
    assert_non_null(fp);
    fputs("#!/bin/sh\nexit 99\n", fp);
    fclose(fp);
    assert_int_equal(chmod(opener, 0755), 0);
    char *old_path = xstrdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    char *old_browser = getenv("BROWSER") ? xstrdup(getenv("BROWSER")) : NULL;
    unsetenv("BROWSER");
    setenv("PATH", tmpl, 1);

    struct hook_log log = {0};
    mk_run_set_hook(record_hook, &log);
    bool opened = false;
    char *why = NULL;
    assert_int_equal(mk_browser_open("http://127.0.0.1:31080", &opened, &why, NULL), 0);
    assert_true(opened);
    assert_null(why);
    assert_string_equal(log.argv, "xdg-open http://127.0.0.1:31080");

    log.status = 3;
    assert_int_equal(mk_browser_open("http://127.0.0.1:31080", &opened, &why, NULL), 0);
    assert_false(opened);
    assert_non_null(strstr(why, "status 3"));
    assert_non_null(strstr(why, "no method available"));
    free(why);

    setenv("BROWSER", opener, 1);
    log.status = 0;
    assert_int_equal(mk_browser_open("http://h:1", &opened, &why, NULL), 0);
    assert_true(opened);
    char *want = xasprintf("%s http://h:1", opener);
    assert_string_equal(log.argv, want);
    free(want);
    unsetenv("BROWSER");

    /* nothing to open a browser with */
    unlink(opener);
    assert_int_equal(mk_browser_open("http://h:1", &opened, &why, NULL), 0);
    assert_false(opened);
    assert_non_null(strstr(why, "no browser"));
    free(why);

    mk_run_set_hook(NULL, NULL);
    free(log.argv);
    setenv("PATH", old_path, 1);
    if (old_browser)
        setenv("BROWSER", old_browser, 1);
    free(old_path);
    free(old_browser);
    rmdir(tmpl);
    free(opener);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_nodeport),
        cmocka_unit_test(test_parse_clusterip_and_bad),
        cmocka_unit_test(test_ready_endpoints),
        cmocka_unit_test(test_url),
        cmocka_unit_test_setup_teardown(test_forward, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_concurrent, setup, teardown),
        cmocka_unit_test(test_browser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
