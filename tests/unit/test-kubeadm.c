/* test-kubeadm.c - the rendered kubeadm config against its golden file, and
 * the --wait parser. MKUBE_UPDATE_GOLDEN=1 rewrites the golden file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "bootstrap.h"
#include "fsutil.h"
#include "kubeadm.h"

static void render_version(const char *version, struct mk_buf *out)
{
    const char *sans[] = {"mkube", NULL};
    struct mk_kubeadm_params p = {
        .kubernetes_version = version,
        .cluster_name = "mkube",
        .node_name = "mkube",
        .advertise_address = "10.0.2.15",
        .api_port = 8443,
        .cert_sans = sans,
    };
    struct mk_error *err = NULL;
    assert_int_equal(mk_kubeadm_render(&p, out, &err), 0);
    assert_null(err);
}

static void render_default(struct mk_buf *out)
{
    render_version("v1.37.2", out);
}

static void test_golden(void **state)
{
    (void)state;
    struct mk_buf out = MK_BUF_INIT;
    render_default(&out);
    char *path = xasprintf("%s/tests/fixtures/kubeadm/default.yaml", MKUBE_SOURCE_DIR);
    struct mk_error *err = NULL;
    if (getenv("MKUBE_UPDATE_GOLDEN"))
        assert_int_equal(mk_write_file_atomic(path, out.buf, out.len, 0644, &err), 0);
    struct mk_buf want = MK_BUF_INIT;
    assert_int_equal(mk_read_file(path, &want, 0, NULL, &err), 0);
    assert_string_equal(mk_buf_str(&out), mk_buf_str(&want));
    mk_buf_release(&want);
    mk_buf_release(&out);
    free(path);
}

/* The output parses back as four YAML documents with the kinds kubeadm needs. */
static void test_parses(void **state)
{
    (void)state;
    struct mk_buf out = MK_BUF_INIT;
    render_default(&out);
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)out.buf, out.len);
    int docs = 0, kinds = 0;
    bool next_is_kind = false;
    for (;;) {
        yaml_event_t ev;
        assert_true(yaml_parser_parse(&p, &ev));
        if (ev.type == YAML_DOCUMENT_START_EVENT)
            docs++;
        if (ev.type == YAML_SCALAR_EVENT) {
            const char *v = (const char *)ev.data.scalar.value;
            if (next_is_kind) {
                kinds += !strcmp(v, "InitConfiguration") || !strcmp(v, "ClusterConfiguration") ||
                         !strcmp(v, "KubeletConfiguration") ||
                         !strcmp(v, "KubeProxyConfiguration");
                next_is_kind = false;
            } else {
                next_is_kind = !strcmp(v, "kind");
            }
        }
        bool end = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
        if (end)
            break;
    }
    yaml_parser_delete(&p);
    assert_int_equal(docs, 4);
    assert_int_equal(kinds, 4);
    assert_non_null(strstr(out.buf, "kubernetesVersion: v1.37.2"));
    assert_non_null(strstr(out.buf, "imagePullPolicy: Never"));
    assert_non_null(strstr(out.buf, "controlPlaneEndpoint: control-plane.mkube.internal:8443"));
    assert_non_null(strstr(out.buf, "bindPort: 8443\n"));
    mk_buf_release(&out);
}

/* The websocket gate that breaks exec through cri-dockerd: off from 1.36,
 * absent before (older components reject an unknown gate). */
static void test_websocket_gate(void **state)
{
    (void)state;
    static const struct {
        const char *version;
        bool gate;
    } cases[] = {{"v1.34.3", false}, {"v1.35.0", false}, {"v1.36.0", true}, {"v1.37.2", true}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mk_buf out = MK_BUF_INIT;
        render_version(cases[i].version, &out);
        bool api = strstr(out.buf, "value: ExtendWebSocketsToKubelet=false\n") != NULL;
        bool kubelet =
            strstr(out.buf, "featureGates:\n  ExtendWebSocketsToKubelet: false\n") != NULL;
        assert_int_equal(api, cases[i].gate);
        assert_int_equal(kubelet, cases[i].gate);
        mk_buf_release(&out);
    }
}

static void test_wait_parse(void **state)
{
    (void)state;
    unsigned m = 0;
    struct mk_error *err = NULL;
    assert_int_equal(mk_wait_parse("all", &m, &err), 0);
    assert_int_equal(m, MK_WAIT_ALL);
    assert_int_equal(mk_wait_parse("none", &m, &err), 0);
    assert_int_equal(m, 0);
    assert_int_equal(mk_wait_parse("apiserver,node_ready", &m, &err), 0);
    assert_int_equal(m, MK_WAIT_APISERVER | MK_WAIT_NODE_READY);
    assert_int_equal(mk_wait_parse("apiserver,system_pods,default_sa,apps_running,node_ready,kubelet",
                                   &m, &err),
                     0);
    assert_int_equal(m, MK_WAIT_ALL);
    assert_int_equal(mk_wait_parse("apiserver,bogus", &m, &err), -1);
    assert_non_null(err);
    assert_non_null(strstr(err->msg, "\"bogus\""));
    mk_error_free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_parses),
        cmocka_unit_test(test_websocket_gate),
        cmocka_unit_test(test_wait_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
