/* test-kubeconfig.c - merge/remove in real-world kubeconfigs, checked with a real kubectl. */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <glob.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "fsutil.h"
#include "kubeconfig.h"
#include "pki.h"
#include "run.h"
#include "yamltree.h"

static char *kubectl;

struct fx {
    char dir[64];
    char *config; /* dir/config */
    char *ca, *cert, *key;
};

/* kubectl: $MKUBE_KUBECTL, else one unpacked from the bundle under <repo>/out, else PATH. */
static char *find_kubectl(void)
{
    const char *env = getenv("MKUBE_KUBECTL");
    if (env && *env)
        return xstrdup(env);
    const char *src = getenv("MKUBE_SOURCE_DIR");
    mk_autofree char *pattern = xasprintf("%s/out/{kubectl,*/kubectl,*/*/kubectl,*/*/*/kubectl}",
                                          src ? src : MKUBE_SOURCE_DIR);
    glob_t g;
    if (glob(pattern, GLOB_BRACE | GLOB_NOSORT, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            if (access(g.gl_pathv[i], X_OK) == 0) {
                char *k = xstrdup(g.gl_pathv[i]);
                globfree(&g);
                return k;
            }
        }
        globfree(&g);
    }
    return mk_run_have("kubectl") ? xstrdup("kubectl") : NULL;
}

static char *fixture(const char *name)
{
    const char *src = getenv("MKUBE_SOURCE_DIR");
    return xasprintf("%s/tests/fixtures/kubeconfig/%s", src ? src : MKUBE_SOURCE_DIR, name);
}

static char *slurp(const char *path)
{
    struct mk_buf b = MK_BUF_INIT;
    mk_buf_init(&b);
    mk_autoerror struct mk_error *err = NULL;
    if (mk_read_file(path, &b, 0, NULL, &err) < 0)
        fail_msg("%s", err->msg);
    return mk_buf_detach(&b);
}

static void put(const char *path, const char *data)
{
    mk_autoerror struct mk_error *err = NULL;
    if (mk_write_file_atomic(path, data, strlen(data), 0600, &err) < 0)
        fail_msg("%s", err->msg);
}

static void copy_fixture(struct fx *f, const char *name)
{
    mk_autofree char *src = fixture(name);
    mk_autofree char *data = slurp(src);
    put(f->config, data);
}

static int setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/mkube-test-kc-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->config = xasprintf("%s/config", f->dir);
    f->ca = xasprintf("%s/ca.crt", f->dir);
    f->cert = xasprintf("%s/client.crt", f->dir);
    f->key = xasprintf("%s/client.key", f->dir);
    put(f->ca, "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n");
    put(f->cert, "-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n");
    put(f->key, "-----BEGIN RSA PRIVATE KEY-----\nKEY\n-----END RSA PRIVATE KEY-----\n");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    mk_rm_rf(f->dir, NULL);
    free(f->config);
    free(f->ca);
    free(f->cert);
    free(f->key);
    free(f);
    return 0;
}

/* `kubectl config view --raw -o json` of one file, parsed. */
static json_t *view(const char *path)
{
    mk_autofree char *env_kc = xasprintf("KUBECONFIG=%s", path);
    char *const env[] = {env_kc, NULL};
    const char *argv[] = {kubectl, "config", "view", "--raw", "-o", "json", NULL};
    struct mk_run_opts o = {
        .env = env, .capture_stdout = true, .capture_stderr = true, .timeout_ms = 60000};
    struct mk_run_result r;
    mk_run_result_init(&r);
    mk_autoerror struct mk_error *err = NULL;
    if (mk_run(argv, &o, &r, &err) < 0)
        fail_msg("cannot run kubectl: %s", err->msg);
    if (r.status != 0)
        fail_msg("kubectl config view %s failed: %s", path, r.err.buf);
    json_error_t jerr;
    json_t *j = json_loads(r.out.buf, 0, &jerr);
    if (!j)
        fail_msg("kubectl printed bad json: %s", jerr.text);
    mk_run_result_release(&r);
    return j;
}

/* Take the entry named name out of list key; returns it (new ref) or NULL. */
static json_t *take(json_t *cfg, const char *key, const char *name)
{
    json_t *arr = json_object_get(cfg, key);
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (mk_streq(json_string_value(json_object_get(v, "name")), name)) {
            json_incref(v);
            json_array_remove(arr, i);
            return v;
        }
    }
    return NULL;
}

static void assert_json_equal(json_t *a, json_t *b)
{
    if (!json_equal(a, b)) {
        char *sa = json_dumps(a, JSON_INDENT(1) | JSON_SORT_KEYS);
        char *sb = json_dumps(b, JSON_INDENT(1) | JSON_SORT_KEYS);
        fail_msg("json differs:\n%s\n---\n%s", sa, sb);
    }
}

static const char *jstr(json_t *j, const char *path)
{
    /* "a.b.c" lookup through objects */
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *tok = strtok(buf, "."); tok && j; tok = strtok(NULL, "."))
        j = json_object_get(j, tok);
    return json_string_value(j);
}

static struct mk_kube_entry entry(struct fx *f, const char *name, const char *server)
{
    struct mk_kube_entry e = {name, server, f->ca, f->cert, f->key, false, NULL};
    return e;
}

static void merge_ok(const char *path, const struct mk_kube_entry *e, bool current)
{
    mk_autoerror struct mk_error *err = NULL;
    if (mk_kubeconfig_merge(path, e, current, &err) < 0)
        fail_msg("merge: %s", err->msg);
}

/* The mkube entries kubectl sees are what we asked for. */
static void check_ours(json_t *cfg, const struct mk_kube_entry *e, const char *ns)
{
    json_t *c = take(cfg, "clusters", e->name);
    json_t *u = take(cfg, "users", e->name);
    json_t *x = take(cfg, "contexts", e->name);
    assert_non_null(c);
    assert_non_null(u);
    assert_non_null(x);
    assert_string_equal(jstr(c, "cluster.server"), e->server);
    if (e->embed_certs) {
        assert_non_null(jstr(c, "cluster.certificate-authority-data"));
        assert_null(jstr(c, "cluster.certificate-authority"));
        assert_non_null(jstr(u, "user.client-certificate-data"));
        assert_non_null(jstr(u, "user.client-key-data"));
    } else {
        assert_string_equal(jstr(c, "cluster.certificate-authority"), e->ca_path);
        assert_string_equal(jstr(u, "user.client-certificate"), e->client_cert_path);
        assert_string_equal(jstr(u, "user.client-key"), e->client_key_path);
    }
    json_t *ext = json_array_get(json_object_get(json_object_get(c, "cluster"), "extensions"), 0);
    assert_string_equal(jstr(ext, "name"), "cluster_info");
    assert_string_equal(jstr(ext, "extension.provider"), "mkube.sigs.k8s.io");
    assert_non_null(jstr(ext, "extension.last-update"));
    assert_string_equal(jstr(x, "context.cluster"), e->name);
    assert_string_equal(jstr(x, "context.user"), e->name);
    assert_string_equal(jstr(x, "context.namespace"), ns);
    json_decref(c);
    json_decref(u);
    json_decref(x);
}

/* Merge into a fixture: kubectl sees the original plus exactly our entries;
 * remove gives back exactly the original. */
static void roundtrip(struct fx *f, const char *fixture_name)
{
    copy_fixture(f, fixture_name);
    json_t *orig = view(f->config);
    struct mk_kube_entry e = entry(f, "mkube", "https://127.0.0.1:32771");

    merge_ok(f->config, &e, true);
    json_t *merged = view(f->config);
    check_ours(merged, &e, "default");
    assert_string_equal(jstr(merged, "current-context"), "mkube");
    json_object_set(merged, "current-context", json_object_get(orig, "current-context"));
    assert_json_equal(orig, merged);

    struct stat st;
    assert_int_equal(stat(f->config, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    mk_autofree char *lock = xasprintf("%s.lock", f->config);
    assert_false(mk_path_exists(lock));

    mk_autoerror struct mk_error *err = NULL;
    assert_int_equal(mk_kubeconfig_remove(f->config, "mkube", &err), 0);
    json_t *removed = view(f->config);
    assert_string_equal(jstr(removed, "current-context"), "");
    json_t *cleared = json_deep_copy(removed);
    json_object_set(cleared, "current-context", json_object_get(orig, "current-context"));
    assert_json_equal(orig, cleared);
    json_decref(cleared);

    /* without set_current, merge + remove is the identity */
    merge_ok(f->config, &e, false);
    assert_int_equal(mk_kubeconfig_remove(f->config, "mkube", &err), 0);
    json_t *again = view(f->config);
    assert_json_equal(removed, again);
    json_decref(orig);
    json_decref(merged);
    json_decref(removed);
    json_decref(again);
}

static void test_realworld(void **state)
{
    struct fx *f = *state;
    roundtrip(f, "realworld.yaml");
    /* our own view of the written file: order and styles kept */
    copy_fixture(f, "realworld.yaml");
    struct mk_kube_entry e = entry(f, "mkube", "https://127.0.0.1:32771");
    merge_ok(f->config, &e, false);
    mk_autofree char *text = slurp(f->config);
    assert_non_null(strstr(text, "current-context: gke_proj_europe-west1_prod\n"));
    assert_non_null(strstr(text, "namespace: \"007\""));
    assert_non_null(strstr(text, "password: \"12345\""));
    assert_non_null(strstr(text, "cluster: {server: \"https://10.1.2.3:6443\", "
                                 "insecure-skip-tls-verify: true, proxy-url: "
                                 "\"socks5://localhost:1080\"}"));
    assert_non_null(strstr(text, "args: [--region, eu-west-1, eks, get-token"));
    mk_autoyaml struct mk_yaml_node *root = NULL;
    mk_autoerror struct mk_error *err = NULL;
    assert_int_equal(mk_yaml_parse(text, strlen(text), &root, &err), 0);
    struct mk_yaml_node *clusters = mk_yaml_map_get(root, "clusters");
    static const char *const order[] = {"gke_proj_europe-west1_prod",
                                        "arn:aws:eks:eu-west-1:123456789012:cluster/staging", "lab",
                                        "kind-kind", "mkube"};
    assert_int_equal(clusters->n, MK_ARRAY_SIZE(order));
    for (size_t i = 0; i < MK_ARRAY_SIZE(order); i++)
        assert_string_equal(mk_yaml_map_get_str(clusters->items[i], "name"), order[i]);
    /* top-level key order of the original, new keys appended */
    assert_string_equal(mk_yaml_str(root->pairs[0].key), "apiVersion");
    assert_string_equal(mk_yaml_str(root->pairs[2].key), "preferences");
}

static void test_flow_json(void **state)
{
    roundtrip(*state, "flow.json");
}

/* An existing mkube entry is updated in place: our fields replaced, the user's
 * own kept (proxy-url, namespace), conflicting auth dropped. */
static void test_replace_existing(void **state)
{
    struct fx *f = *state;
    copy_fixture(f, "existing-mkube.yaml");
    json_t *orig = view(f->config);
    struct mk_kube_entry e = entry(f, "mkube", "https://127.0.0.1:40000");
    e.embed_certs = true;
    merge_ok(f->config, &e, false);
    json_t *merged = view(f->config);
    assert_string_equal(jstr(merged, "current-context"), "other");
    json_t *c = take(merged, "clusters", "mkube");
    assert_string_equal(jstr(c, "cluster.server"), "https://127.0.0.1:40000");
    assert_string_equal(jstr(c, "cluster.proxy-url"), "http://proxy.local:3128");
    assert_null(json_object_get(json_object_get(c, "cluster"), "insecure-skip-tls-verify"));
    /* base64 of the CA file */
    assert_string_equal(jstr(c, "cluster.certificate-authority-data"),
                        "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkNBCi0tLS0tRU5EIENFUlRJRklDQVRFLS0t"
                        "LS0K");
    json_t *u = take(merged, "users", "mkube");
    assert_null(jstr(u, "user.token"));
    assert_non_null(jstr(u, "user.client-key-data"));
    json_t *x = take(merged, "contexts", "mkube");
    assert_string_equal(jstr(x, "context.namespace"), "my-work");
    json_decref(take(orig, "clusters", "mkube"));
    json_decref(take(orig, "users", "mkube"));
    json_decref(take(orig, "contexts", "mkube"));
    assert_json_equal(orig, merged);
    json_decref(c);
    json_decref(u);
    json_decref(x);
    json_decref(orig);
    json_decref(merged);
}

static void test_missing_file(void **state)
{
    struct fx *f = *state;
    mk_autofree char *path = xasprintf("%s/home/.kube/config", f->dir);
    struct mk_kube_entry e = entry(f, "mkube", "https://127.0.0.1:32771");
    e.namespace_ = "apps";
    merge_ok(path, &e, true);
    mk_autofree char *kdir = xasprintf("%s/home/.kube", f->dir);
    struct stat st;
    assert_int_equal(stat(kdir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    json_t *j = view(path);
    assert_string_equal(jstr(j, "apiVersion"), "v1");
    assert_string_equal(jstr(j, "kind"), "Config");
    assert_string_equal(jstr(j, "current-context"), "mkube");
    check_ours(j, &e, "apps");
    json_decref(j);
    /* an empty file counts as missing */
    put(f->config, "");
    merge_ok(f->config, &e, true);
    j = view(f->config);
    check_ours(j, &e, "apps");
    json_decref(j);
}

static void test_idempotent_and_status(void **state)
{
    struct fx *f = *state;
    copy_fixture(f, "realworld.yaml");
    struct mk_kube_entry e = entry(f, "mkube", "https://127.0.0.1:32771");
    mk_autoerror struct mk_error *err = NULL;
    enum mk_kubeconfig_state s;
    assert_int_equal(mk_kubeconfig_status(f->config, "mkube", e.server, &s, &err), 0);
    assert_int_equal(s, MK_KUBECONFIG_MISSING);
    assert_string_equal(mk_kubeconfig_state_str(s), "Missing");

    merge_ok(f->config, &e, true);
    struct stat a, b;
    assert_int_equal(stat(f->config, &a), 0);
    mk_autofree char *first = slurp(f->config);
    usleep(20000);
    merge_ok(f->config, &e, true);
    assert_int_equal(stat(f->config, &b), 0);
    mk_autofree char *second = slurp(f->config);
    assert_string_equal(first, second);
    assert_int_equal(a.st_ino, b.st_ino);
    assert_true(a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec);

    assert_int_equal(mk_kubeconfig_status(f->config, "mkube", e.server, &s, &err), 0);
    assert_int_equal(s, MK_KUBECONFIG_CONFIGURED);
    assert_int_equal(mk_kubeconfig_status(f->config, "mkube", "https://127.0.0.1:32771/", &s, &err),
                     0);
    assert_int_equal(s, MK_KUBECONFIG_CONFIGURED);
    assert_int_equal(mk_kubeconfig_status(f->config, "mkube", "https://127.0.0.1:1", &s, &err), 0);
    assert_int_equal(s, MK_KUBECONFIG_MISCONFIGURED);
    assert_string_equal(mk_kubeconfig_state_str(s), "Misconfigured");
    char *server = NULL, *cur = NULL;
    assert_int_equal(mk_kubeconfig_get_server(f->config, "mkube", &server, &err), 0);
    assert_string_equal(server, e.server);
    free(server);
    assert_int_equal(mk_kubeconfig_get_server(f->config, "nope", &server, &err), 0);
    assert_null(server);
    assert_int_equal(mk_kubeconfig_current(f->config, &cur, &err), 0);
    assert_string_equal(cur, "mkube");
    free(cur);

    /* a new port: the server changes, nothing is duplicated */
    e.server = "https://127.0.0.1:32999";
    merge_ok(f->config, &e, true);
    assert_int_equal(mk_kubeconfig_status(f->config, "mkube", e.server, &s, &err), 0);
    assert_int_equal(s, MK_KUBECONFIG_CONFIGURED);
    json_t *j = view(f->config);
    assert_int_equal(json_array_size(json_object_get(j, "clusters")), 5);
    assert_int_equal(json_array_size(json_object_get(j, "contexts")), 6);
    json_decref(j);

    /* missing file */
    mk_autofree char *none = xasprintf("%s/none", f->dir);
    assert_int_equal(mk_kubeconfig_status(none, "mkube", e.server, &s, &err), 0);
    assert_int_equal(s, MK_KUBECONFIG_MISSING);
    assert_int_equal(mk_kubeconfig_remove(none, "mkube", &err), 0);
    assert_false(mk_path_exists(none));
}

static void test_malformed_untouched(void **state)
{
    struct fx *f = *state;
    copy_fixture(f, "malformed.yaml");
    struct stat a, b;
    assert_int_equal(stat(f->config, &a), 0);
    mk_autofree char *before = slurp(f->config);
    struct mk_kube_entry e = entry(f, "mkube", "https://127.0.0.1:32771");
    struct mk_error *err = NULL;
    assert_int_equal(mk_kubeconfig_merge(f->config, &e, true, &err), -1);
    assert_non_null(strstr(err->msg, "cannot update kubeconfig"));
    assert_non_null(strstr(err->msg, ": line 7: column 5: did not find expected ',' or ']'"));
    assert_true(mk_str_has_suffix(err->msg, ": fix or move the file"));
    mk_error_free(err);
    err = NULL;
    assert_int_equal(mk_kubeconfig_remove(f->config, "a", &err), -1);
    mk_error_free(err);
    err = NULL;
    char *server = NULL;
    assert_int_equal(mk_kubeconfig_get_server(f->config, "a", &server, &err), -1);
    assert_non_null(strstr(err->msg, "cannot read kubeconfig"));
    mk_error_free(err);
    err = NULL;
    /* structurally wrong is malformed too */
    put(f->config, "apiVersion: v1\nclusters: {a: b}\n");
    assert_int_equal(mk_kubeconfig_merge(f->config, &e, true, &err), -1);
    assert_non_null(strstr(err->msg, "line 2: clusters is not a list"));
    mk_error_free(err);
    err = NULL;
    put(f->config, "- just\n- a list\n");
    assert_int_equal(mk_kubeconfig_merge(f->config, &e, true, &err), -1);
    assert_non_null(strstr(err->msg, "not a mapping"));
    mk_error_free(err);
    mk_autofree char *after = slurp(f->config);
    assert_string_equal(after, "- just\n- a list\n");

    copy_fixture(f, "malformed.yaml");
    assert_int_equal(stat(f->config, &b), 0);
    mk_autofree char *after2 = slurp(f->config);
    assert_string_equal(before, after2);
    mk_autofree char *lock = xasprintf("%s.lock", f->config);
    assert_false(mk_path_exists(lock));
}

/* Two processes merging 20 names each at the same time lose none. */
static void test_concurrent_merges(void **state)
{
    struct fx *f = *state;
    copy_fixture(f, "realworld.yaml");
    pid_t pids[2];
    for (int c = 0; c < 2; c++) {
        pids[c] = fork();
        assert_true(pids[c] >= 0);
        if (pids[c] == 0) {
            for (int i = 0; i < 20; i++) {
                char name[32], server[64];
                snprintf(name, sizeof(name), "p%d-%d", c, i);
                snprintf(server, sizeof(server), "https://127.0.0.1:%d", 30000 + c * 100 + i);
                struct mk_kube_entry e = entry(f, name, server);
                struct mk_error *err = NULL;
                if (mk_kubeconfig_merge(f->config, &e, i % 2, &err) < 0) {
                    fprintf(stderr, "child %d: %s\n", c, err->msg);
                    _exit(1);
                }
            }
            _exit(0);
        }
    }
    for (int c = 0; c < 2; c++) {
        int st;
        assert_int_equal(waitpid(pids[c], &st, 0), pids[c]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    json_t *j = view(f->config);
    assert_int_equal(json_array_size(json_object_get(j, "clusters")), 4 + 40);
    assert_int_equal(json_array_size(json_object_get(j, "users")), 5 + 40);
    assert_int_equal(json_array_size(json_object_get(j, "contexts")), 5 + 40);
    json_decref(j);
    mk_autoerror struct mk_error *err = NULL;
    for (int c = 0; c < 2; c++) {
        for (int i = 0; i < 20; i++) {
            char name[32], want[64];
            char *server = NULL;
            snprintf(name, sizeof(name), "p%d-%d", c, i);
            snprintf(want, sizeof(want), "https://127.0.0.1:%d", 30000 + c * 100 + i);
            assert_int_equal(mk_kubeconfig_get_server(f->config, name, &server, &err), 0);
            assert_non_null(server);
            assert_string_equal(server, want);
            free(server);
        }
    }
}

static size_t count_tmp_files(const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".tmp."))
            n++;
    closedir(d);
    return n;
}

/* SIGKILL a writer at random points: the file is always the old or the new
 * one, parseable by kubectl, and the next merge takes over the stale lock. */
static void test_kill9_writer(void **state)
{
    struct fx *f = *state;
    /* a big file makes the write window wide: 300 clusters with 4 KiB of data */
    struct mk_buf b = MK_BUF_INIT;
    mk_buf_init(&b);
    mk_buf_adds(&b, "apiVersion: v1\nkind: Config\nclusters:\n");
    char blob[4097];
    memset(blob, 'A', 4096);
    blob[4096] = '\0';
    for (int i = 0; i < 300; i++)
        mk_buf_addf(&b,
                    "- name: big%d\n  cluster:\n    server: https://127.0.0.1:%d\n"
                    "    certificate-authority-data: %s\n",
                    i, 1000 + i, blob);
    put(f->config, b.buf);
    mk_buf_release(&b);
    srand((unsigned)time(NULL));
    int killed_holding_lock = 0;
    mk_autofree char *lock = xasprintf("%s.lock", f->config);
    for (int round = 0; round < 12; round++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            for (int i = 0;; i++) {
                char name[32];
                snprintf(name, sizeof(name), "w%d", i % 7);
                struct mk_kube_entry e = entry(f, name, "https://127.0.0.1:1");
                char server[64];
                snprintf(server, sizeof(server), "https://127.0.0.1:%d", 2000 + i);
                e.server = server;
                struct mk_error *err = NULL;
                if (mk_kubeconfig_merge(f->config, &e, true, &err) < 0)
                    _exit(1);
            }
        }
        usleep(50000 + (useconds_t)(rand() % 200000));
        kill(pid, SIGKILL);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFSIGNALED(st));
        if (mk_path_exists(lock))
            killed_holding_lock++;
        json_t *j = view(f->config);
        assert_true(json_array_size(json_object_get(j, "clusters")) >= 300);
        json_decref(j);
        /* the next writer gets through (stale lock taken over) */
        struct mk_kube_entry e = entry(f, "after", "https://127.0.0.1:3");
        merge_ok(f->config, &e, false);
        assert_false(mk_path_exists(lock));
    }
    print_message("kill -9 rounds: 12, writer killed holding the lock: %d\n", killed_holding_lock);
    assert_int_equal(count_tmp_files(f->dir), 0); /* the last merge swept them */
    mk_autoerror struct mk_error *err = NULL;
    char *server = NULL;
    assert_int_equal(mk_kubeconfig_get_server(f->config, "big299", &server, &err), 0);
    assert_string_equal(server, "https://127.0.0.1:1299");
    free(server);
}

/* kubectl's own lock (an empty <path>.lock) is respected, and mkube leaves no
 * lock behind that would make kubectl fail. */
static void test_kubectl_lock_interop(void **state)
{
    struct fx *f = *state;
    copy_fixture(f, "realworld.yaml");
    mk_autofree char *lock = xasprintf("%s.lock", f->config);
    put(lock, "");
    pid_t pid = fork();
    if (pid == 0) {
        usleep(400000);
        unlink(lock);
        _exit(0);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct mk_kube_entry e = entry(f, "mkube", "https://127.0.0.1:32771");
    merge_ok(f->config, &e, true);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms >= 350);
    int st;
    waitpid(pid, &st, 0);
    assert_false(mk_path_exists(lock));

    /* kubectl writes the same file after us without complaint */
    mk_autofree char *env_kc = xasprintf("KUBECONFIG=%s", f->config);
    char *const env[] = {env_kc, NULL};
    const char *argv[] = {kubectl, "config", "set-context", "mkube", "--namespace=kube-system",
                          NULL};
    struct mk_run_opts o = {.env = env, .capture_stdout = true, .capture_stderr = true};
    struct mk_run_result r;
    mk_run_result_init(&r);
    mk_autoerror struct mk_error *err = NULL;
    assert_int_equal(mk_run_check(argv, &o, &r, &err), 0);
    mk_run_result_release(&r);
    json_t *j = view(f->config);
    json_t *x = take(j, "contexts", "mkube");
    assert_string_equal(jstr(x, "context.namespace"), "kube-system");
    json_decref(x);
    json_decref(j);
    /* and we keep what kubectl wrote */
    merge_ok(f->config, &e, true);
    j = view(f->config);
    x = take(j, "contexts", "mkube");
    assert_string_equal(jstr(x, "context.namespace"), "kube-system");
    json_decref(x);
    json_decref(j);
}

static unsigned free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    close(s);
    return ntohs(a.sin_port);
}

static bool port_open(unsigned port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(s);
    return ok;
}

static int kubectl_raw(const char *config, struct mk_run_result *r)
{
    mk_autofree char *env_kc = xasprintf("KUBECONFIG=%s", config);
    char *const env[] = {env_kc, NULL};
    const char *argv[] = {kubectl, "--request-timeout=20s", "get", "--raw", "/", NULL};
    struct mk_run_opts o = {
        .env = env, .capture_stdout = true, .capture_stderr = true, .timeout_ms = 60000};
    mk_run_result_init(r);
    mk_autoerror struct mk_error *err = NULL;
    if (mk_run(argv, &o, r, &err) < 0)
        fail_msg("cannot run kubectl: %s", err->msg);
    return r->status;
}

/* End to end: certificates from pki.c, a kubeconfig from kubeconfig.c, and
 * kubectl (Go's TLS stack, as against a real API server) talking to an
 * openssl s_server on 127.0.0.1 that demands a client cert from our CA. */
static void test_tls_end_to_end(void **state)
{
    struct fx *f = *state;
    mk_autoerror struct mk_error *err = NULL;
    mk_autofree char *home = xasprintf("%s/mkhome", f->dir);
    if (mk_pki_ensure_profile(home, "mkube", NULL, NULL, &err) < 0)
        fail_msg("%s", err->msg);
    mk_autofree char *ca = xasprintf("%s/certs/ca.crt", home);
    mk_autofree char *crt = xasprintf("%s/profiles/mkube/apiserver.crt", home);
    mk_autofree char *key = xasprintf("%s/profiles/mkube/apiserver.key", home);
    mk_autofree char *ccrt = xasprintf("%s/profiles/mkube/client.crt", home);
    mk_autofree char *ckey = xasprintf("%s/profiles/mkube/client.key", home);
    unsigned port = free_port();
    mk_autofree char *accept = xasprintf("127.0.0.1:%u", port);
    mk_autofree char *log = xasprintf("%s/s_server.log", f->dir);
    const char *argv[] = {"openssl",
                          "s_server",
                          "-accept",
                          accept,
                          "-cert",
                          crt,
                          "-key",
                          key,
                          "-CAfile",
                          ca,
                          "-Verify",
                          "1",
                          "-verify_return_error",
                          "-www",
                          NULL};
    struct mk_run_opts o = {.detach = true, .output_file = log};
    struct mk_run_result r;
    mk_run_result_init(&r);
    assert_int_equal(mk_run(argv, &o, &r, &err), 0);
    pid_t server = r.pid;
    mk_run_result_release(&r);
    for (int i = 0; i < 100 && !port_open(port); i++)
        usleep(50000);
    assert_true(port_open(port));

    mk_autofree char *server_url = xasprintf("https://127.0.0.1:%u", port);
    struct mk_kube_entry e = {"mkube", server_url, ca, ccrt, ckey, false, NULL};
    copy_fixture(f, "realworld.yaml");
    merge_ok(f->config, &e, true);
    int st = kubectl_raw(f->config, &r);
    if (st != 0)
        fail_msg("kubectl against s_server failed: %s", r.err.buf);
    assert_non_null(strstr(r.out.buf, "s_server -accept"));
    mk_run_result_release(&r);

    /* embedded data works the same */
    e.embed_certs = true;
    merge_ok(f->config, &e, true);
    assert_int_equal(kubectl_raw(f->config, &r), 0);
    mk_run_result_release(&r);

    /* control: another CA must be refused, so the check above means something */
    mk_autofree char *other = xasprintf("%s/other-certs", f->dir);
    assert_int_equal(mk_pki_ensure_ca(other, &err), 0);
    mk_autofree char *other_ca = xasprintf("%s/ca.crt", other);
    e.ca_path = other_ca;
    e.embed_certs = false;
    merge_ok(f->config, &e, true);
    assert_int_not_equal(kubectl_raw(f->config, &r), 0);
    assert_non_null(strstr(r.err.buf, "certificate signed by unknown authority"));
    mk_run_result_release(&r);
    kill(server, SIGTERM);
    waitpid(server, &st, 0);
}

static void test_path(void **state)
{
    (void)state;
    char *old = getenv("KUBECONFIG") ? xstrdup(getenv("KUBECONFIG")) : NULL;
    setenv("KUBECONFIG", "::/a/b:/c", 1);
    mk_autofree char *p1 = mk_kubeconfig_path();
    assert_string_equal(p1, "/a/b");
    unsetenv("KUBECONFIG");
    mk_autofree char *p2 = mk_kubeconfig_path();
    mk_autofree char *want = xasprintf("%s/.kube/config", getenv("HOME"));
    assert_string_equal(p2, want);
    setenv("KUBECONFIG", "", 1);
    mk_autofree char *p3 = mk_kubeconfig_path();
    assert_string_equal(p3, want);
    if (old)
        setenv("KUBECONFIG", old, 1);
    else
        unsetenv("KUBECONFIG");
    free(old);
}

int main(void)
{
    kubectl = find_kubectl();
    if (!kubectl) {
        fprintf(stderr, "test-kubeconfig: no kubectl found: set MKUBE_KUBECTL, unpack the "
                        "bundle under out/, or put kubectl on PATH\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_realworld, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flow_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace_existing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotent_and_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_untouched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_merges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill9_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kubectl_lock_interop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_end_to_end, setup, teardown),
        cmocka_unit_test(test_path),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    free(kubectl);
    return r;
}
