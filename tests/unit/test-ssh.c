/* test-ssh.c - the libssh module against a real sshd on 127.0.0.1 started by this test. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdbool.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fsutil.h"
#include "run.h"
#include "ssh.h"

#define SSHD "/usr/sbin/sshd"

static char tmpdir[] = "/tmp/mkube-test-ssh-XXXXXX";
static char *key_path, *kh_path, *user;
static unsigned port;
static pid_t sshd_pid = -1;
static bool have_sshd;

#define NEED_SSHD()                                                                                \
    do {                                                                                           \
        if (!have_sshd)                                                                            \
            skip();                                                                                \
    } while (0)

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *path_in(const char *name)
{
    return xasprintf("%s/%s", tmpdir, name);
}

static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void host_key(const char *name)
{
    mk_autofree char *p = path_in(name);
    if (mk_path_exists(p))
        return;
    const char *argv[] = {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", p, NULL};
    struct mk_error *err = NULL;
    assert_int_equal(mk_run_check(argv, NULL, NULL, &err), 0);
}

/* Start sshd -D on p with the given host key, after delay_s seconds. */
static pid_t start_sshd(unsigned p, const char *key_name, int delay_s)
{
    host_key(key_name);
    mk_autofree char *hk = path_in(key_name);
    mk_autofree char *cfg = path_in("sshd_config");
    mk_autofree char *ak = xasprintf("%s.pub", key_path);
    mk_autofree char *text =
        xasprintf("HostKey %s\nAuthorizedKeysFile %s\nPermitRootLogin prohibit-password\n"
                  "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
                  "StrictModes no\nPidFile none\nLogLevel ERROR\n"
                  "Subsystem sftp /usr/lib/openssh/sftp-server\n",
                  hk, ak);
    struct mk_error *err = NULL;
    assert_int_equal(mk_write_file_atomic(cfg, text, strlen(text), 0600, &err), 0);
    mk_autofree char *log = path_in("sshd.log");
    mk_autofree char *script = xasprintf(
        "sleep %d; exec %s -D -e -f %s -p %u -o ListenAddress=127.0.0.1", delay_s, SSHD, cfg, p);
    const char *argv[] = {"sh", "-c", script, NULL};
    struct mk_run_opts o = {.detach = true, .output_file = log};
    struct mk_run_result res;
    mk_run_result_init(&res);
    assert_int_equal(mk_run(argv, &o, &res, &err), 0);
    return res.pid;
}

static void stop_sshd(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 100 && kill(pid, 0) == 0; i++)
        usleep(20000);
}

static int setup(void **state)
{
    if (access(SSHD, X_OK) < 0) {
        /* scripts/install-deps.sh installs openssh-server; say loudly what is skipped */
        fprintf(stderr, "test-ssh: SKIPPING: %s is missing (install openssh-server)\n", SSHD);
        return 0;
    }
    have_sshd = true;
    unsetenv("SSH_AUTH_SOCK");
    assert_non_null(mkdtemp(tmpdir));
    if (geteuid() == 0)
        mkdir("/run/sshd", 0755); /* sshd's privilege separation directory */
    key_path = path_in("machine/id_ed25519");
    kh_path = path_in("machine/known_hosts");
    user = xstrdup(getpwuid(geteuid())->pw_name);
    struct mk_error *err = NULL;
    assert_int_equal(mk_ssh_keygen(key_path, &err), 0);
    port = free_port();
    sshd_pid = start_sshd(port, "host_a", 0);
    if (mk_ssh_wait("127.0.0.1", port, user, key_path, kh_path, 10000, &err) < 0) {
        fprintf(stderr, "test-ssh: sshd did not come up: %s\n", err->msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    if (!have_sshd)
        return 0;
    stop_sshd(sshd_pid);
    struct mk_error *err = NULL;
    mk_rm_rf(tmpdir, &err);
    free(key_path);
    free(kh_path);
    free(user);
    return 0;
}

static struct mk_ssh *conn(void)
{
    struct mk_error *err = NULL;
    struct mk_ssh *s = mk_ssh_connect("127.0.0.1", port, user, key_path, kh_path, 5000, &err);
    if (!s)
        fail_msg("connect: %s", err->msg);
    return s;
}

static void test_keygen_idempotent(void **state)
{
    NEED_SSHD();
    struct mk_error *err = NULL;
    mk_autobuf struct mk_buf k1 = MK_BUF_INIT, k2 = MK_BUF_INIT, p1 = MK_BUF_INIT, p2 = MK_BUF_INIT;
    mk_autofree char *pub = xasprintf("%s.pub", key_path);
    assert_int_equal(mk_read_file(key_path, &k1, 0, NULL, &err), 0);
    assert_int_equal(mk_read_file(pub, &p1, 0, NULL, &err), 0);
    struct stat st;
    assert_int_equal(stat(key_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_true(mk_str_has_prefix(p1.buf, "ssh-ed25519 AAAA"));
    assert_true(mk_str_has_suffix(p1.buf, " mkube\n"));

    assert_int_equal(mk_ssh_keygen(key_path, &err), 0); /* keeps the key */
    assert_int_equal(mk_read_file(key_path, &k2, 0, NULL, &err), 0);
    assert_string_equal(k1.buf, k2.buf);

    unlink(pub); /* a lost .pub comes back from the private key */
    assert_int_equal(mk_ssh_keygen(key_path, &err), 0);
    assert_int_equal(mk_read_file(pub, &p2, 0, NULL, &err), 0);
    assert_string_equal(p1.buf, p2.buf);

    mk_autofree char *line = mk_ssh_pubkey_line(key_path, &err);
    assert_non_null(line);
    assert_int_equal(strlen(line) + 1, p1.len);

    /* OpenSSH itself reads the private key and derives the same public key */
    const char *argv[] = {"ssh-keygen", "-y", "-f", key_path, NULL};
    struct mk_run_opts o = {.capture_stdout = true};
    struct mk_run_result res;
    mk_run_result_init(&res);
    assert_int_equal(mk_run_check(argv, &o, &res, &err), 0);
    assert_true(strlen(res.out.buf) > 80);
    assert_memory_equal(p1.buf, res.out.buf, 80); /* "ssh-ed25519 " + the key blob */
    mk_run_result_release(&res);

    assert_null(mk_ssh_pubkey_line("/nonexistent/key", &err));
    assert_non_null(strstr(err->msg, "/nonexistent/key"));
    mk_error_free(err);
}

static void test_run_status_and_streams(void **state)
{
    NEED_SSHD();
    mk_autossh struct mk_ssh *s = conn();
    struct mk_error *err = NULL;
    mk_autobuf struct mk_buf out = MK_BUF_INIT, errb = MK_BUF_INIT;
    int status = -1;
    assert_int_equal(mk_ssh_run(s, "echo to-out; echo to-err >&2; exit 3", NULL, 0, &out, &errb,
                                &status, 10000, &err),
                     0);
    assert_int_equal(status, 3);
    assert_string_equal(out.buf, "to-out\n");
    assert_string_equal(errb.buf, "to-err\n");

    mk_buf_reset(&out);
    assert_int_equal(mk_ssh_run(s, "true", NULL, 0, &out, NULL, &status, 10000, &err), 0);
    assert_int_equal(status, 0);
    assert_int_equal(out.len, 0);

    /* a command killed by a signal reports 128+N */
    assert_int_equal(mk_ssh_run(s, "kill -TERM $$", NULL, 0, NULL, NULL, &status, 10000, &err), 0);
    assert_int_equal(status, 143);

    /* run_check names the command and quotes the last stderr line */
    assert_int_equal(mk_ssh_run_check(s, "echo first >&2; echo 'disk is on fire' >&2; exit 2", NULL,
                                      0, NULL, 10000, &err),
                     -1);
    assert_non_null(strstr(err->msg, "exited with status 2"));
    assert_non_null(strstr(err->msg, "disk is on fire"));
    assert_true(mk_str_has_suffix(err->msg, ": disk is on fire"));
    assert_non_null(strstr(err->msg, "echo first"));
    mk_error_free(err);
    err = NULL;

    /* a timeout stops the wait */
    long long t0 = now_ms();
    assert_int_equal(mk_ssh_run(s, "sleep 20", NULL, 0, NULL, NULL, &status, 700, &err), -1);
    assert_true(now_ms() - t0 < 5000);
    assert_non_null(strstr(err->msg, "did not finish"));
    mk_error_free(err);
    err = NULL;

    /* many commands over one connection, and large output both ways */
    mk_buf_reset(&out);
    assert_int_equal(mk_ssh_run_check(s, "head -c 3000000 /dev/zero; head -c 1000000 /dev/zero >&2",
                                      NULL, 0, &out, 20000, &err),
                     0);
    assert_int_equal(out.len, 3000000);
}

static void test_run_stdin(void **state)
{
    NEED_SSHD();
    mk_autossh struct mk_ssh *s = conn();
    struct mk_error *err = NULL;
    size_t n = 5u << 20;
    mk_autofree char *data = xmalloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)('a' + i % 26);
    mk_autobuf struct mk_buf out = MK_BUF_INIT;
    assert_int_equal(mk_ssh_run_check(s, "wc -c", data, n, &out, 20000, &err), 0);
    assert_int_equal(strtoul(out.buf, NULL, 10), n);

    mk_buf_reset(&out);
    assert_int_equal(mk_ssh_run_check(s, "tr a-z A-Z", "hello\n", 6, &out, 10000, &err), 0);
    assert_string_equal(out.buf, "HELLO\n");

    /* a command that does not read its stdin still ends */
    int status = -1;
    assert_int_equal(mk_ssh_run(s, "exit 4", data, n, NULL, NULL, &status, 10000, &err), 0);
    assert_int_equal(status, 4);
}

static void test_run_logged(void **state)
{
    NEED_SSHD();
    mk_autossh struct mk_ssh *s = conn();
    struct mk_error *err = NULL;
    mk_autobuf struct mk_buf out = MK_BUF_INIT;
    assert_int_equal(
        mk_ssh_run_logged(s, "printf 'a\\nb\\n'; echo warn >&2; printf tail", &out, 10000, &err),
        0);
    assert_string_equal(out.buf, "a\nb\ntail");
    assert_int_equal(mk_ssh_run_logged(s, "echo boom >&2; exit 9", NULL, 10000, &err), -1);
    assert_non_null(strstr(err->msg, "boom"));
    mk_error_free(err);
}

static void test_copy_large(void **state)
{
    NEED_SSHD();
    mk_autossh struct mk_ssh *s = conn();
    struct mk_error *err = NULL;
    mk_autofree char *src = path_in("big.bin");
    mk_autofree char *dst = path_in("remote/sub/big.bin");
    size_t n = 50u << 20;
    {
        FILE *f = fopen(src, "w");
        assert_non_null(f);
        uint64_t x = 88172645463325252ull;
        for (size_t i = 0; i < n / 8; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            fwrite(&x, 8, 1, f);
        }
        fclose(f);
    }
    long long t0 = now_ms();
    assert_int_equal(mk_ssh_copy(s, src, dst, 0640, &err), 0);
    long long dt = now_ms() - t0;
    printf("# copied 50 MiB in %lld ms: %.1f MiB/s\n", dt, 50.0 * 1000.0 / (double)(dt ? dt : 1));
    char h1[65], h2[65];
    assert_int_equal(mk_sha256_file(src, h1, &err), 0);
    assert_int_equal(mk_sha256_file(dst, h2, &err), 0);
    assert_string_equal(h1, h2);
    struct stat st;
    assert_int_equal(stat(dst, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);

    /* replacing an existing file, and no temp files left beside it */
    assert_int_equal(mk_ssh_write(s, "small\n", 6, dst, 0600, &err), 0);
    mk_autobuf struct mk_buf b = MK_BUF_INIT;
    assert_int_equal(mk_read_file(dst, &b, 0, NULL, &err), 0);
    assert_string_equal(b.buf, "small\n");
    mk_autofree char *dir = path_in("remote/sub");
    mk_autobuf struct mk_buf ls = MK_BUF_INIT;
    mk_autofree char *cmd = xasprintf("ls -A %s", dir);
    assert_int_equal(mk_ssh_run_check(s, cmd, NULL, 0, &ls, 10000, &err), 0);
    assert_string_equal(ls.buf, "big.bin\n");
    unlink(src);

    /* an unwritable destination is an error naming it */
    assert_int_equal(mk_ssh_write(s, "x", 1, "/proc/mkube-nope/file", 0644, &err), -1);
    assert_non_null(strstr(err->msg, "/proc/mkube-nope/file"));
    mk_error_free(err);
    err = NULL;
    assert_int_equal(mk_ssh_copy(s, "/nonexistent-src", dst, 0644, &err), -1);
    mk_error_free(err);
}

static void test_sudo_write(void **state)
{
    NEED_SSHD();
    if (geteuid() != 0)
        skip(); /* sudo-less install needs the login user to be root */
    mk_autossh struct mk_ssh *s = conn();
    struct mk_error *err = NULL;
    mk_autofree char *dst = path_in("etc/kubernetes/admin.conf");
    assert_int_equal(mk_ssh_sudo_write(s, "secret: 1\n", 10, dst, 0600, &err), 0);
    mk_autobuf struct mk_buf b = MK_BUF_INIT;
    assert_int_equal(mk_read_file(dst, &b, 0, NULL, &err), 0);
    assert_string_equal(b.buf, "secret: 1\n");
    struct stat st;
    assert_int_equal(stat(dst, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    /* the /tmp staging copy is gone */
    mk_autobuf struct mk_buf ls = MK_BUF_INIT;
    assert_int_equal(mk_ssh_run_check(s, "ls /tmp | grep -c '^mkube-upload-' || true", NULL, 0, &ls,
                                      10000, &err),
                     0);
    assert_string_equal(ls.buf, "0\n");
}

static void test_known_hosts_tofu_and_mismatch(void **state)
{
    NEED_SSHD();
    struct mk_error *err = NULL;
    unsigned p2 = free_port();
    mk_autofree char *kh = path_in("machine2/known_hosts");
    pid_t a = start_sshd(p2, "host_a", 0);
    assert_int_equal(mk_ssh_wait("127.0.0.1", p2, user, key_path, kh, 10000, &err), 0);
    mk_autobuf struct mk_buf b = MK_BUF_INIT;
    assert_int_equal(mk_read_file(kh, &b, 0, NULL, &err), 0);
    mk_autofree char *name = xasprintf("[127.0.0.1]:%u ssh-ed25519 AAAA", p2);
    assert_true(mk_str_has_prefix(b.buf, name));
    /* the same key again: accepted, nothing appended */
    mk_ssh_close(conn()); /* main sshd: other port, other entry in its own file */
    struct mk_ssh *s = mk_ssh_connect("127.0.0.1", p2, user, key_path, kh, 5000, &err);
    assert_non_null(s);
    mk_ssh_close(s);
    mk_autobuf struct mk_buf b2 = MK_BUF_INIT;
    assert_int_equal(mk_read_file(kh, &b2, 0, NULL, &err), 0);
    assert_string_equal(b.buf, b2.buf);
    stop_sshd(a);

    /* another host key on the same address: refused, and wait does not retry it */
    pid_t c = start_sshd(p2, "host_b", 0);
    long long t0 = now_ms();
    for (int i = 0; i < 50; i++) {
        s = mk_ssh_connect("127.0.0.1", p2, user, key_path, kh, 5000, &err);
        if (err && strstr(err->msg, "changed"))
            break;
        mk_error_free(err); /* sshd not listening yet */
        err = NULL;
        usleep(100000);
    }
    assert_null(s);
    assert_non_null(err);
    assert_non_null(strstr(err->msg, "host key"));
    assert_non_null(strstr(err->msg, "changed"));
    assert_non_null(err->hint);
    mk_error_free(err);
    err = NULL;
    t0 = now_ms();
    assert_int_equal(mk_ssh_wait("127.0.0.1", p2, user, key_path, kh, 20000, &err), -1);
    assert_true(now_ms() - t0 < 3000);
    assert_non_null(strstr(err->msg, "changed"));
    mk_error_free(err);
    err = NULL;

    /* the caller may reset: the new key replaces the old one */
    struct mk_ssh_target t = {"127.0.0.1", p2, user, key_path, kh, true};
    s = mk_ssh_connect_target(&t, 5000, &err);
    assert_non_null(s);
    mk_ssh_close(s);
    mk_autobuf struct mk_buf b3 = MK_BUF_INIT;
    assert_int_equal(mk_read_file(kh, &b3, 0, NULL, &err), 0);
    assert_true(mk_str_has_prefix(b3.buf, name));
    assert_string_not_equal(b3.buf, b.buf);
    assert_ptr_equal(strchr(b3.buf, '\n'), b3.buf + b3.len - 1); /* one line only */
    s = mk_ssh_connect("127.0.0.1", p2, user, key_path, kh, 5000, &err);
    assert_non_null(s);
    mk_ssh_close(s);
    stop_sshd(c);
}

static void test_timeouts(void **state)
{
    NEED_SSHD();
    struct mk_error *err = NULL;
    unsigned p = free_port();
    /* nothing listens */
    long long t0 = now_ms();
    assert_int_equal(mk_ssh_wait("127.0.0.1", p, user, key_path, kh_path, 1500, &err), -1);
    long long dt = now_ms() - t0;
    assert_true(dt >= 1400 && dt < 5000);
    assert_non_null(strstr(err->msg, "did not answer"));
    mk_error_free(err);
    err = NULL;

    /* something accepts but never speaks SSH (a hostfwd before the guest is up) */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)p)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 4), 0);
    t0 = now_ms();
    assert_null(mk_ssh_connect("127.0.0.1", p, user, key_path, kh_path, 1000, &err));
    dt = now_ms() - t0;
    assert_true(dt >= 900 && dt < 5000);
    assert_non_null(strstr(err->msg, "cannot connect"));
    mk_error_free(err);
    close(fd);
}

static void test_wait_late_sshd(void **state)
{
    NEED_SSHD();
    struct mk_error *err = NULL;
    unsigned p = free_port();
    mk_autofree char *kh = path_in("machine3/known_hosts");
    long long t0 = now_ms();
    pid_t pid = start_sshd(p, "host_a", 2);
    int r = mk_ssh_wait("127.0.0.1", p, user, key_path, kh, 30000, &err);
    long long dt = now_ms() - t0;
    stop_sshd(pid);
    if (r < 0)
        fail_msg("wait: %s", err->msg);
    printf("# a late sshd answered after %lld ms\n", dt);
    assert_true(dt >= 1900);
}

/* Run f with stdout (and optionally stdin) redirected; return what it printed. */
static char *with_redirect(int (*f)(void), const char *input, int *rc)
{
    mk_autofree char *outp = path_in("stdout.txt");
    fflush(stdout);
    int saved_out = dup(1), saved_in = dup(0);
    int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(o, 1);
    close(o);
    int pfd[2] = {-1, -1};
    if (input) {
        assert_int_equal(pipe(pfd), 0);
        assert_int_equal(write(pfd[1], input, strlen(input)), (ssize_t)strlen(input));
        close(pfd[1]);
        dup2(pfd[0], 0);
        close(pfd[0]);
    }
    *rc = f();
    dup2(saved_out, 1);
    dup2(saved_in, 0);
    close(saved_out);
    close(saved_in);
    struct mk_buf b = MK_BUF_INIT;
    struct mk_error *err = NULL;
    assert_int_equal(mk_read_file(outp, &b, 0, NULL, &err), 0);
    return mk_buf_detach(&b);
}

static int interactive_echo(void)
{
    struct mk_error *err = NULL;
    const char *cmd[] = {"echo", "hello", "from", "$((6*7))", NULL};
    return mk_ssh_interactive("127.0.0.1", port, user, key_path, kh_path, cmd, &err);
}

static int interactive_exit(void)
{
    struct mk_error *err = NULL;
    const char *cmd[] = {"exit 7", NULL};
    return mk_ssh_interactive("127.0.0.1", port, user, key_path, kh_path, cmd, &err);
}

static int native_shell(void)
{
    struct mk_error *err = NULL;
    struct mk_ssh_target t = {"127.0.0.1", port, user, key_path, kh_path, false};
    return mk_ssh_interactive_native(&t, NULL, &err);
}

static int native_cmd(void)
{
    struct mk_error *err = NULL;
    struct mk_ssh_target t = {"127.0.0.1", port, user, key_path, kh_path, false};
    const char *cmd[] = {"tr", "a-z", "A-Z", NULL};
    return mk_ssh_interactive_native(&t, cmd, &err);
}

static void test_interactive(void **state)
{
    NEED_SSHD();
    int rc;
    if (mk_run_have("ssh")) {
        mk_autofree char *o1 = with_redirect(interactive_echo, NULL, &rc);
        assert_int_equal(rc, 0);
        assert_string_equal(o1, "hello from 42\n");
        mk_autofree char *o2 = with_redirect(interactive_exit, NULL, &rc);
        assert_int_equal(rc, 7);
    }
    mk_autofree char *o3 = with_redirect(native_shell, "echo native-$((1+1))\nexit 5\n", &rc);
    assert_int_equal(rc, 5);
    assert_string_equal(o3, "native-2\n");
    mk_autofree char *o4 = with_redirect(native_cmd, "piped input\n", &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(o4, "PIPED INPUT\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keygen_idempotent),
        cmocka_unit_test(test_run_status_and_streams),
        cmocka_unit_test(test_run_stdin),
        cmocka_unit_test(test_run_logged),
        cmocka_unit_test(test_copy_large),
        cmocka_unit_test(test_sudo_write),
        cmocka_unit_test(test_known_hosts_tofu_and_mismatch),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_wait_late_sshd),
        cmocka_unit_test(test_interactive),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
