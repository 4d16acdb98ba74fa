/* test-dockerenv.c - docker-env: the script of every shell against golden files
 * (tests/fixtures/docker-env/; MKUBE_UPDATE_GOLDEN=1 rewrites them), the
 * resolution from a profile's files, and the real shells that are installed
 * (bash, zsh, fish, tcsh) evaluating the real `mkube docker-env` output for a
 * MKUBE_HOME full of quotes, dollars, backticks and spaces, then --unset
 * restoring the DOCKER_HOST the user had. */
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
#include <unistd.h>

#include "dockerenv.h"
#include "driver.h"
#include "fsutil.h"
#include "profile.h"
#include "run.h"

static const enum mk_shell all_shells[] = {MK_SHELL_BASH, MK_SHELL_FISH, MK_SHELL_POWERSHELL,
                                           MK_SHELL_CMD,  MK_SHELL_TCSH, MK_SHELL_EMACS,
                                           MK_SHELL_NONE};

/* A table standing in for the caller's environment: "NAME=value" entries. */
static const char *table_env(const char *name, void *data)
{
    const char *const *t = data;
    size_t n = strlen(name);
    for (; t && *t; t++)
        if (strncmp(*t, name, n) == 0 && (*t)[n] == '=')
            return *t + n + 1;
    return NULL;
}

static void check_golden(const char *name, const struct mk_buf *got)
{
    char *path = xasprintf("%s/tests/fixtures/docker-env/%s", MKUBE_SOURCE_DIR, name);
    struct mk_error *err = NULL;
    if (getenv("MKUBE_UPDATE_GOLDEN")) {
        char *dir = xasprintf("%s/tests/fixtures/docker-env", MKUBE_SOURCE_DIR);
        assert_int_equal(mk_mkdir_p(dir, 0755, &err), 0);
        free(dir);
        assert_int_equal(mk_write_file_atomic(path, got->buf, got->len, 0644, &err), 0);
    }
    struct mk_buf want = MK_BUF_INIT;
    if (mk_read_file(path, &want, 0, NULL, &err) < 0)
        fail_msg("%s: %s (run with MKUBE_UPDATE_GOLDEN=1 to create it)", path, err->msg);
    if (strcmp(mk_buf_str(got), mk_buf_str(&want)) != 0)
        fail_msg("%s differs:\n--- got ---\n%s--- want ---\n%s", path, mk_buf_str(got),
                 mk_buf_str(&want));
    mk_buf_release(&want);
    free(path);
}

static void test_golden_set(void **state)
{
    (void)state;
    struct mk_dockerenv e = {"mkube", "tcp://127.0.0.1:32772", "/home/user/.mkube/certs"};
    const char *empty[] = {NULL};
    for (size_t i = 0; i < MK_ARRAY_SIZE(all_shells); i++) {
        struct mk_buf out = MK_BUF_INIT;
        mk_dockerenv_format(&out, all_shells[i], &e, table_env, empty);
        char *name = xasprintf("%s.txt", mk_shell_name(all_shells[i]));
        check_golden(name, &out);
        free(name);
        mk_buf_release(&out);
    }
}

static void test_golden_unset(void **state)
{
    (void)state;
    const char *empty[] = {NULL};
    for (size_t i = 0; i < MK_ARRAY_SIZE(all_shells); i++) {
        struct mk_buf out = MK_BUF_INIT;
        mk_dockerenv_format_unset(&out, all_shells[i], table_env, empty);
        char *name = xasprintf("%s-unset.txt", mk_shell_name(all_shells[i]));
        check_golden(name, &out);
        free(name);
        mk_buf_release(&out);
    }
}

/* A path needing every escape, and a DOCKER_HOST the user had before. */
static void test_golden_quoting_and_existing(void **state)
{
    (void)state;
    struct mk_dockerenv e = {"dev", "tcp://127.0.0.1:40001",
                             "/home/it's a \"dir\"/$HOME/`id`!/a\\b&c|d<e>^/certs"};
    const char *before[] = {"DOCKER_HOST=tcp://other:2375", "DOCKER_TLS_VERIFY=", NULL};
    const char *after[] = {"DOCKER_HOST=tcp://127.0.0.1:40001", "MKUBE_ACTIVE_DOCKERD=dev",
                           "MKUBE_EXISTING_DOCKER_HOST=tcp://other:2375", NULL};
    for (size_t i = 0; i < MK_ARRAY_SIZE(all_shells); i++) {
        struct mk_buf out = MK_BUF_INIT;
        mk_dockerenv_format(&out, all_shells[i], &e, table_env, before);
        char *name = xasprintf("%s-quoting.txt", mk_shell_name(all_shells[i]));
        check_golden(name, &out);
        free(name);
        mk_buf_reset(&out);
        mk_dockerenv_format_unset(&out, all_shells[i], table_env, after);
        name = xasprintf("%s-restore.txt", mk_shell_name(all_shells[i]));
        check_golden(name, &out);
        free(name);
        mk_buf_release(&out);
    }
}

/* Running docker-env twice must not save our own values as the user's. */
static void test_no_double_save(void **state)
{
    (void)state;
    struct mk_dockerenv e = {"mkube", "tcp://127.0.0.1:1", "/c"};
    const char *ours[] = {"DOCKER_HOST=tcp://127.0.0.1:9", "MKUBE_ACTIVE_DOCKERD=other", NULL};
    struct mk_buf out = MK_BUF_INIT;
    mk_dockerenv_format(&out, MK_SHELL_BASH, &e, table_env, ours);
    assert_null(strstr(mk_buf_str(&out), "MKUBE_EXISTING_"));
    mk_buf_release(&out);
}

static void test_shell_names(void **state)
{
    (void)state;
    assert_int_equal(mk_shell_detect(NULL), MK_SHELL_BASH);
    assert_int_equal(mk_shell_detect(""), MK_SHELL_BASH);
    assert_int_equal(mk_shell_detect("/usr/bin/fish"), MK_SHELL_FISH);
    assert_int_equal(mk_shell_detect("/bin/zsh"), MK_SHELL_BASH);
    assert_int_equal(mk_shell_detect("/bin/tcsh"), MK_SHELL_TCSH);
    assert_int_equal(mk_shell_detect("/bin/csh"), MK_SHELL_TCSH);
    assert_int_equal(mk_shell_detect("C:/Windows/powershell.exe"), MK_SHELL_POWERSHELL);
    assert_int_equal(mk_shell_detect("/opt/weird/xonsh"), MK_SHELL_BASH);
    enum mk_shell sh;
    struct mk_error *err = NULL;
    assert_int_equal(mk_shell_parse("pwsh", &sh, &err), 0);
    assert_int_equal(sh, MK_SHELL_POWERSHELL);
    assert_int_equal(mk_shell_parse("nushell", &sh, &err), -1);
    assert_int_equal(err->code, MK_EXIT_USAGE);
    assert_non_null(strstr(err->msg, "nushell"));
    mk_error_free(err);
}

/* ---- resolution from files, and real shells ---- */

struct fixture {
    char *tmp;
    char *home;    /* with every special character in it */
    int listen_fd; /* stands where QEMU's docker forward listens */
    unsigned port;
};

static int listen_any(unsigned *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 1), 0);
    socklen_t len = sizeof(sa);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static void write_file(const char *path, const char *text)
{
    struct mk_error *err = NULL;
    assert_int_equal(mk_write_file_atomic(path, text, strlen(text), 0600, &err), 0);
}

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    char tmpl[] = "/tmp/mk-dockerenv.XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    f->tmp = xstrdup(tmpl);
    f->home = xasprintf("%s/it's a \"home\" $HOME `id` !x \\w", tmpl);
    struct mk_error *err = NULL;
    struct mk_profile *p = mk_profile_new("de");
    assert_int_equal(mk_profile_save(f->home, p, &err), 0);
    mk_profile_free(p);

    f->listen_fd = listen_any(&f->port);
    char *machines = xasprintf("%s/machines", f->home);
    struct mk_machine *m = mk_machine_new(mk_driver_lookup("qemu"), machines, "de");
    assert_int_equal(mk_mkdir_p(m->dir, 0700, &err), 0);
    m->forwards[0] = (struct mk_forward){MK_GUEST_SSH_PORT, 1};
    m->forwards[1] = (struct mk_forward){MK_GUEST_API_PORT, 2};
    m->forwards[2] = (struct mk_forward){MK_GUEST_DOCKER_PORT, f->port};
    m->nforwards = 3;
    assert_int_equal(mk_machine_save(m, &err), 0);
    mk_machine_free(m);
    free(machines);

    char *certs = xasprintf("%s/certs", f->home);
    assert_int_equal(mk_mkdir_p(certs, 0700, &err), 0);
    const char *files[] = {"ca.pem", "cert.pem", "key.pem"};
    for (size_t i = 0; i < 3; i++) {
        char *path = xasprintf("%s/%s", certs, files[i]);
        write_file(path, "x\n");
        free(path);
    }
    free(certs);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->listen_fd >= 0)
        close(f->listen_fd);
    struct mk_error *err = NULL;
    mk_rm_rf(f->tmp, &err);
    mk_error_free(err);
    free(f->tmp);
    free(f->home);
    free(f);
    return 0;
}

static void test_resolve(void **state)
{
    struct fixture *f = *state;
    struct mk_dockerenv e;
    struct mk_error *err = NULL;
    assert_int_equal(mk_dockerenv_resolve(f->home, "de", &e, &err), 0);
    char *want_host = xasprintf("tcp://127.0.0.1:%u", f->port);
    char *want_certs = xasprintf("%s/certs", f->home);
    assert_string_equal(e.host, want_host);
    assert_string_equal(e.cert_path, want_certs);
    assert_string_equal(e.profile, "de");
    json_t *j = mk_dockerenv_json(&e);
    assert_string_equal(json_string_value(json_object_get(j, "DOCKER_HOST")), want_host);
    assert_string_equal(json_string_value(json_object_get(j, "DOCKER_TLS_VERIFY")), "1");
    json_decref(j);
    mk_dockerenv_release(&e);
    free(want_host);
    free(want_certs);
}

static void test_resolve_errors(void **state)
{
    struct fixture *f = *state;
    struct mk_dockerenv e;
    struct mk_error *err = NULL;

    /* no such profile */
    assert_int_equal(mk_dockerenv_resolve(f->home, "nope", &e, &err), -1);
    assert_int_equal(err->code, MK_EXIT_PROFILE_NOT_FOUND);
    mk_error_free(err);
    err = NULL;

    /* a missing client cert */
    char *key = xasprintf("%s/certs/key.pem", f->home);
    char *moved = xasprintf("%s/certs/key.pem.away", f->home);
    assert_int_equal(rename(key, moved), 0);
    assert_int_equal(mk_dockerenv_resolve(f->home, "de", &e, &err), -1);
    assert_int_equal(err->code, MK_EXIT_CONFIG);
    assert_non_null(strstr(err->msg, "key.pem"));
    mk_error_free(err);
    err = NULL;
    assert_int_equal(rename(moved, key), 0);
    free(key);
    free(moved);

    /* the VM stopped: nothing listens on the docker forward any more */
    close(f->listen_fd);
    f->listen_fd = -1;
    assert_int_equal(mk_dockerenv_resolve(f->home, "de", &e, &err), -1);
    assert_int_equal(err->code, MK_EXIT_UNAVAILABLE);
    assert_non_null(strstr(err->msg, "not running"));
    assert_non_null(err->hint);
    mk_error_free(err);
    err = NULL;

    /* another runtime */
    struct mk_profile *p = NULL;
    assert_int_equal(mk_profile_load(f->home, "de", &p, &err), 0);
    free(p->container_runtime);
    p->container_runtime = xstrdup("containerd");
    assert_int_equal(mk_profile_save(f->home, p, &err), 0);
    mk_profile_free(p);
    assert_int_equal(mk_dockerenv_resolve(f->home, "de", &e, &err), -1);
    assert_int_equal(err->code, MK_EXIT_USAGE);
    assert_non_null(strstr(err->msg, "containerd"));
    mk_error_free(err);
}

/* The script each real shell runs: set (with a DOCKER_HOST of the user's),
 * print, unset, print. Output is one value per line, "none" for unset. */
static const struct {
    const char *shell;
    const char *flag;
    const char *script;
} shell_scripts[] = {
    {"bash", "bash",
     "export DOCKER_HOST=tcp://mine:2375\n"
     "eval $(\"$MKUBE_BIN\" -p de docker-env)\n"
     "for v in DOCKER_CERT_PATH DOCKER_HOST DOCKER_TLS_VERIFY MKUBE_ACTIVE_DOCKERD "
     "MKUBE_EXISTING_DOCKER_HOST; do printenv $v || echo none; done\n"
     "eval $(\"$MKUBE_BIN\" docker-env --unset)\n"
     "for v in DOCKER_CERT_PATH DOCKER_HOST MKUBE_ACTIVE_DOCKERD MKUBE_EXISTING_DOCKER_HOST; "
     "do printenv $v || echo none; done\n"},
    {"zsh", "zsh",
     "export DOCKER_HOST=tcp://mine:2375\n"
     "eval $(\"$MKUBE_BIN\" -p de docker-env)\n"
     "for v in DOCKER_CERT_PATH DOCKER_HOST DOCKER_TLS_VERIFY MKUBE_ACTIVE_DOCKERD "
     "MKUBE_EXISTING_DOCKER_HOST; do printenv $v || echo none; done\n"
     "eval $(\"$MKUBE_BIN\" docker-env --unset)\n"
     "for v in DOCKER_CERT_PATH DOCKER_HOST MKUBE_ACTIVE_DOCKERD MKUBE_EXISTING_DOCKER_HOST; "
     "do printenv $v || echo none; done\n"},
    {"fish", "fish",
     "set -gx DOCKER_HOST tcp://mine:2375\n"
     "$MKUBE_BIN -p de docker-env | source\n"
     "for v in DOCKER_CERT_PATH DOCKER_HOST DOCKER_TLS_VERIFY MKUBE_ACTIVE_DOCKERD "
     "MKUBE_EXISTING_DOCKER_HOST; printenv $v; or echo none; end\n"
     "$MKUBE_BIN docker-env --unset | source\n"
     "for v in DOCKER_CERT_PATH DOCKER_HOST MKUBE_ACTIVE_DOCKERD MKUBE_EXISTING_DOCKER_HOST; "
     "printenv $v; or echo none; end\n"},
    {"tcsh", "tcsh",
     "setenv DOCKER_HOST tcp://mine:2375\n"
     "eval `$MKUBE_BIN -p de docker-env`\n"
     "foreach v (DOCKER_CERT_PATH DOCKER_HOST DOCKER_TLS_VERIFY MKUBE_ACTIVE_DOCKERD "
     "MKUBE_EXISTING_DOCKER_HOST)\n printenv $v || echo none\nend\n"
     "eval `$MKUBE_BIN docker-env --unset`\n"
     "foreach v (DOCKER_CERT_PATH DOCKER_HOST MKUBE_ACTIVE_DOCKERD MKUBE_EXISTING_DOCKER_HOST)\n"
     " printenv $v || echo none\nend\n"},
};

static void test_real_shells(void **state)
{
    struct fixture *f = *state;
    const char *bin = getenv("MKUBE_BIN");
    if (!bin || !*bin) {
        print_message("[  SKIP    ] MKUBE_BIN is not set: no real-shell check\n");
        skip();
    }
    int ran = 0;
    for (size_t i = 0; i < MK_ARRAY_SIZE(shell_scripts); i++) {
        if (!mk_run_have(shell_scripts[i].shell)) {
            print_message("[  SKIP    ] %s is not installed\n", shell_scripts[i].shell);
            continue;
        }
        char *script = xasprintf("%s/script.%s", f->tmp, shell_scripts[i].shell);
        write_file(script, shell_scripts[i].script);
        char *env_home = xasprintf("MKUBE_HOME=%s", f->home);
        char *env_bin = xasprintf("MKUBE_BIN=%s", bin);
        char *env_shell = xasprintf("SHELL=/bin/%s", shell_scripts[i].flag);
        char *const env[] = {env_home,
                             env_bin,
                             env_shell,
                             "MKUBE_EXISTING_DOCKER_HOST=",
                             "MKUBE_ACTIVE_DOCKERD=",
                             "DOCKER_CERT_PATH=",
                             "DOCKER_TLS_VERIFY=",
                             "NO_COLOR=1",
                             NULL};
        const char *argv[] = {shell_scripts[i].shell, script, NULL};
        struct mk_run_opts o = {
            .env = env, .capture_stdout = true, .capture_stderr = true, .timeout_ms = 30000};
        struct mk_run_result r;
        mk_run_result_init(&r);
        struct mk_error *err = NULL;
        assert_int_equal(mk_run(argv, &o, &r, &err), 0);
        char *want = xasprintf("%s/certs\ntcp://127.0.0.1:%u\n1\nde\ntcp://mine:2375\n"
                               "none\ntcp://mine:2375\nnone\nnone\n",
                               f->home, f->port);
        if (r.status != 0 || strcmp(mk_buf_str(&r.out), want) != 0)
            fail_msg("%s (status %d):\n--- got ---\n%s--- want ---\n%s--- stderr ---\n%s",
                     shell_scripts[i].shell, r.status, mk_buf_str(&r.out), want,
                     mk_buf_str(&r.err));
        ran++;
        free(want);
        mk_run_result_release(&r);
        free(script);
        free(env_home);
        free(env_bin);
        free(env_shell);
    }
    assert_true(ran >= 1); /* bash at least */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_set),
        cmocka_unit_test(test_golden_unset),
        cmocka_unit_test(test_golden_quoting_and_existing),
        cmocka_unit_test(test_no_double_save),
        cmocka_unit_test(test_shell_names),
        cmocka_unit_test_setup_teardown(test_resolve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_real_shells, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolve_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
