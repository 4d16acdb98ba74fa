/* test-pki.c - the CA and leaf certificates, checked with the real openssl CLI. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fsutil.h"
#include "pki.h"
#include "run.h"

struct fx {
    char home[64];
    char certs[128];
    char prof[160];
    char mach[160];
};

static int setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof(*f));
    strcpy(f->home, "/tmp/mkube-test-pki-XXXXXX");
    if (!mkdtemp(f->home))
        return -1;
    snprintf(f->certs, sizeof(f->certs), "%s/certs", f->home);
    snprintf(f->prof, sizeof(f->prof), "%s/profiles/mkube", f->home);
    snprintf(f->mach, sizeof(f->mach), "%s/machines/mkube", f->home);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    mk_rm_rf(f->home, NULL);
    free(f);
    return 0;
}

/* Run openssl with the given arguments; returns its stdout+stderr, asserts exit 0
 * unless want_fail. */
static char *openssl_run(bool want_fail, const char *const *args)
{
    const char *argv[32] = {"openssl"};
    size_t n = 1;
    for (; args[n - 1]; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    struct mk_run_opts o = {.capture_stdout = true, .capture_stderr = true};
    struct mk_run_result r;
    mk_run_result_init(&r);
    mk_autoerror struct mk_error *err = NULL;
    if (mk_run(argv, &o, &r, &err) < 0)
        fail_msg("cannot run openssl: %s", err->msg);
    if (want_fail ? r.status == 0 : r.status != 0)
        fail_msg("openssl %s exited %d: %s%s", args[0], r.status, r.out.buf, r.err.buf);
    mk_buf_add(&r.out, r.err.buf, r.err.len);
    char *s = mk_buf_detach(&r.out);
    mk_run_result_release(&r);
    return s;
}
#define OPENSSL(...) openssl_run(false, (const char *const[]){__VA_ARGS__, NULL})
#define OPENSSL_FAILS(...) openssl_run(true, (const char *const[]){__VA_ARGS__, NULL})

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("expected '%s' in:\n%s", needle, hay);
}

static mode_t file_mode(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
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

static char *p(const char *dir, const char *name)
{
    return xasprintf("%s/%s", dir, name);
}

static void ensure_profile_ok(struct fx *f, const char *ip)
{
    const char *ips[] = {ip, NULL};
    mk_autoerror struct mk_error *err = NULL;
    if (mk_pki_ensure_profile(f->home, "mkube", f->mach, ip ? ips : NULL, &err) < 0)
        fail_msg("ensure_profile: %s", err->msg);
}

static void test_ca(void **state)
{
    struct fx *f = *state;
    mk_autoerror struct mk_error *err = NULL;
    assert_int_equal(mk_pki_ensure_ca(f->certs, &err), 0);
    mk_autofree char *crt = p(f->certs, "ca.crt");
    mk_autofree char *key = p(f->certs, "ca.key");
    assert_int_equal(file_mode(key), 0600);
    assert_int_equal(file_mode(crt), 0644);
    assert_int_equal(file_mode(f->certs), 0700);
    mk_autofree char *subj = OPENSSL("x509", "-in", crt, "-noout", "-subject", "-issuer");
    assert_contains(subj, "subject=CN = mkubeCA");
    assert_contains(subj, "issuer=CN = mkubeCA");
    mk_autofree char *ext = OPENSSL("x509", "-in", crt, "-noout", "-ext",
                                    "basicConstraints,keyUsage,subjectKeyIdentifier,"
                                    "authorityKeyIdentifier");
    assert_contains(ext, "critical");
    assert_contains(ext, "CA:TRUE");
    assert_contains(ext, "Certificate Sign");
    assert_contains(ext, "Subject Key Identifier");
    assert_contains(ext, "Authority Key Identifier");
    /* 10 years: valid in 9.98 years, expired in 10.01 */
    mk_autofree char *e1 = OPENSSL("x509", "-in", crt, "-noout", "-checkend", "315000000");
    mk_autofree char *e2 = OPENSSL_FAILS("x509", "-in", crt, "-noout", "-checkend", "315700000");
    /* 128-bit serial: 32 hex digits */
    mk_autofree char *serial = OPENSSL("x509", "-in", crt, "-noout", "-serial");
    assert_int_equal(strlen(serial), strlen("serial=") + 32 + 1);
    mk_autofree char *bits = OPENSSL("pkey", "-in", key, "-noout", "-text");
    assert_contains(bits, "2048 bit");
    mk_autofree char *self = OPENSSL("verify", "-CAfile", crt, crt);
    assert_contains(self, "OK");
}

static void test_profile_certs(void **state)
{
    struct fx *f = *state;
    ensure_profile_ok(f, "10.0.2.15");
    mk_autofree char *ca = p(f->certs, "ca.crt");
    mk_autofree char *api = p(f->prof, "apiserver.crt");
    mk_autofree char *api_key = p(f->prof, "apiserver.key");
    mk_autofree char *cl = p(f->prof, "client.crt");
    mk_autofree char *cl_key = p(f->prof, "client.key");
    mk_autofree char *dca = p(f->certs, "ca.pem");
    mk_autofree char *dcl = p(f->certs, "cert.pem");
    mk_autofree char *dcl_key = p(f->certs, "key.pem");
    mk_autofree char *sv = p(f->mach, "server.pem");
    mk_autofree char *sv_key = p(f->mach, "server-key.pem");

    /* chains and purposes */
    mk_autofree char *v1 = OPENSSL("verify", "-CAfile", ca, "-purpose", "sslserver", api, sv);
    mk_autofree char *v2 = OPENSSL("verify", "-CAfile", ca, "-purpose", "sslclient", cl, dcl);
    mk_autofree char *v3 = OPENSSL_FAILS("verify", "-CAfile", ca, "-purpose", "sslclient", api);
    mk_autofree char *v4 = OPENSSL_FAILS("verify", "-CAfile", ca, "-purpose", "sslserver", cl);

    mk_autofree char *san = OPENSSL("x509", "-in", api, "-noout", "-ext", "subjectAltName");
    static const char *const want[] = {"DNS:localhost",
                                       "DNS:control-plane.mkube.internal",
                                       "DNS:kubernetes",
                                       "DNS:kubernetes.default",
                                       "DNS:kubernetes.default.svc",
                                       "DNS:kubernetes.default.svc.cluster.local",
                                       "DNS:mkube",
                                       "IP Address:127.0.0.1",
                                       "IP Address:10.96.0.1",
                                       "IP Address:10.0.0.1",
                                       "IP Address:10.0.2.15"};
    for (size_t i = 0; i < MK_ARRAY_SIZE(want); i++)
        assert_contains(san, want[i]);
    mk_autofree char *svsan = OPENSSL("x509", "-in", sv, "-noout", "-ext", "subjectAltName");
    assert_contains(svsan, "DNS:localhost");
    assert_contains(svsan, "DNS:mkube");
    assert_contains(svsan, "IP Address:127.0.0.1");
    assert_contains(svsan, "IP Address:10.0.2.15");

    mk_autofree char *subj = OPENSSL("x509", "-in", cl, "-noout", "-subject", "-ext",
                                     "extendedKeyUsage,basicConstraints");
    assert_contains(subj, "subject=O = system:masters, CN = mkube-user");
    assert_contains(subj, "TLS Web Client Authentication");
    assert_contains(subj, "CA:FALSE");
    mk_autofree char *dsubj = OPENSSL("x509", "-in", dcl, "-noout", "-subject");
    assert_contains(dsubj, "CN = mkube-docker-client");
    /* 3 years */
    mk_autofree char *e1 = OPENSSL("x509", "-in", api, "-noout", "-checkend", "94000000");
    mk_autofree char *e2 = OPENSSL_FAILS("x509", "-in", api, "-noout", "-checkend", "94800000");

    /* keys: 0600, RSA, and each matches its cert */
    const char *pairs[][2] = {{api, api_key}, {cl, cl_key}, {dcl, dcl_key}, {sv, sv_key}};
    for (size_t i = 0; i < MK_ARRAY_SIZE(pairs); i++) {
        assert_int_equal(file_mode(pairs[i][1]), 0600);
        assert_int_equal(file_mode(pairs[i][0]), 0644);
        mk_autofree char *a = OPENSSL("x509", "-in", pairs[i][0], "-noout", "-pubkey");
        mk_autofree char *b = OPENSSL("pkey", "-in", pairs[i][1], "-pubout");
        assert_string_equal(a, b);
    }
    mk_autofree char *cab = slurp(ca);
    mk_autofree char *dcab = slurp(dca);
    assert_string_equal(cab, dcab);
}

struct snap {
    struct stat st;
    char *data;
};

static void snapshot(const char *const *paths, struct snap *out)
{
    for (size_t i = 0; paths[i]; i++) {
        assert_int_equal(stat(paths[i], &out[i].st), 0);
        out[i].data = slurp(paths[i]);
    }
}

static void test_idempotent_and_san_change(void **state)
{
    struct fx *f = *state;
    ensure_profile_ok(f, "10.0.2.15");
    mk_autofree char *ca = p(f->certs, "ca.crt");
    mk_autofree char *api = p(f->prof, "apiserver.crt");
    mk_autofree char *cl = p(f->prof, "client.crt");
    mk_autofree char *dcl = p(f->certs, "cert.pem");
    mk_autofree char *sv = p(f->mach, "server.pem");
    mk_autofree char *apik = p(f->prof, "apiserver.key");
    const char *const files[] = {ca, api, cl, dcl, sv, apik, NULL};
    struct snap a[6], b[6];
    snapshot(files, a);
    usleep(20000);
    ensure_profile_ok(f, "10.0.2.15");
    snapshot(files, b);
    for (size_t i = 0; files[i]; i++) {
        assert_string_equal(a[i].data, b[i].data);
        assert_int_equal(a[i].st.st_ino, b[i].st.st_ino);
        assert_true(a[i].st.st_mtim.tv_sec == b[i].st.st_mtim.tv_sec &&
                    a[i].st.st_mtim.tv_nsec == b[i].st.st_mtim.tv_nsec);
        free(b[i].data);
    }
    /* a new guest address: the server certs change, the CA and client certs do not */
    ensure_profile_ok(f, "10.0.2.16");
    snapshot(files, b);
    assert_string_equal(a[0].data, b[0].data);
    assert_string_not_equal(a[1].data, b[1].data);
    assert_string_equal(a[2].data, b[2].data);
    assert_string_equal(a[3].data, b[3].data);
    assert_string_not_equal(a[4].data, b[4].data);
    assert_string_not_equal(a[5].data, b[5].data);
    for (size_t i = 0; files[i]; i++) {
        free(a[i].data);
        free(b[i].data);
    }
    mk_autofree char *san = OPENSSL("x509", "-in", api, "-noout", "-ext", "subjectAltName");
    assert_contains(san, "IP Address:10.0.2.16");
    assert_null(strstr(san, "10.0.2.15"));
    mk_autofree char *v = OPENSSL("verify", "-CAfile", ca, api, sv);
}

/* Certs made by someone else (the openssl CLI here) are judged like ours. */
static void test_regenerate_bad_leaves(void **state)
{
    struct fx *f = *state;
    mk_autoerror struct mk_error *err = NULL;
    assert_int_equal(mk_pki_ensure_ca(f->certs, &err), 0);
    mk_autofree char *ca = p(f->certs, "ca.crt");
    mk_autofree char *cakey = p(f->certs, "ca.key");
    mk_autofree char *crt = p(f->home, "leaf.crt");
    mk_autofree char *key = p(f->home, "leaf.key");
    mk_autofree char *csr = p(f->home, "leaf.csr");
    const char *dns[] = {"a.example", NULL};
    const char *ips[] = {"127.0.0.1", "::1", NULL};
    const struct mk_cert_req req = {crt, key, "leaf", NULL, dns, ips, true, false};
    char *why = NULL;

    /* missing */
    assert_int_equal(mk_pki_check_leaf(f->certs, &req, &why, &err), 0);
    assert_string_equal(why, "missing or unreadable certificate");
    free(why);

    /* expiring in 10 days, otherwise right */
    mk_autofree char *o1 =
        OPENSSL("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-subj", "/CN=leaf",
                "-addext", "subjectAltName=DNS:a.example,IP:127.0.0.1,IP:::1", "-addext",
                "extendedKeyUsage=serverAuth", "-out", csr);
    mk_autofree char *o2 = OPENSSL("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", cakey, "-days",
                                   "10", "-copy_extensions", "copy", "-out", crt);
    assert_int_equal(mk_pki_check_leaf(f->certs, &req, &why, &err), 0);
    assert_string_equal(why, "expires within 30 days");
    free(why);
    assert_int_equal(mk_pki_ensure_leaf(f->certs, &req, &err), 0);
    assert_int_equal(mk_pki_check_leaf(f->certs, &req, &why, &err), 0);
    assert_string_equal(why, "");
    free(why);
    mk_autofree char *end = OPENSSL("x509", "-in", crt, "-noout", "-checkend", "31536000");

    /* the same cert for 400 days is kept, whatever tool made it */
    mk_autofree char *o1b =
        OPENSSL("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-subj", "/CN=leaf",
                "-addext", "subjectAltName=DNS:a.example,IP:127.0.0.1,IP:::1", "-addext",
                "extendedKeyUsage=serverAuth", "-out", csr);
    mk_autofree char *o3 = OPENSSL("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", cakey, "-days",
                                   "400", "-copy_extensions", "copy", "-out", crt);
    mk_autofree char *kept = slurp(crt);
    assert_int_equal(mk_pki_check_leaf(f->certs, &req, &why, &err), 0);
    assert_string_equal(why, "");
    free(why);
    assert_int_equal(mk_pki_ensure_leaf(f->certs, &req, &err), 0);
    mk_autofree char *kept2 = slurp(crt);
    assert_string_equal(kept, kept2);

    /* signed by another CA */
    mk_autofree char *oca = p(f->home, "other-ca.crt");
    mk_autofree char *ocakey = p(f->home, "other-ca.key");
    mk_autofree char *o4 = OPENSSL("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                                   ocakey, "-subj", "/CN=mkubeCA", "-days", "100", "-out", oca);
    mk_autofree char *o5 = OPENSSL("x509", "-req", "-in", csr, "-CA", oca, "-CAkey", ocakey,
                                   "-days", "400", "-copy_extensions", "copy", "-out", crt);
    assert_int_equal(mk_pki_check_leaf(f->certs, &req, &why, &err), 0);
    assert_string_equal(why, "not signed by the current CA");
    free(why);
    assert_int_equal(mk_pki_ensure_leaf(f->certs, &req, &err), 0);
    mk_autofree char *v = OPENSSL("verify", "-CAfile", ca, crt);

    /* a key that is not the cert's */
    mk_autofree char *o6 = OPENSSL("genpkey", "-algorithm", "RSA", "-out", key);
    assert_int_equal(mk_pki_check_leaf(f->certs, &req, &why, &err), 0);
    assert_string_equal(why, "key does not match the certificate");
    free(why);

    /* garbage in the cert file */
    assert_int_equal(mk_write_file_atomic(crt, "junk\n", 5, 0644, &err), 0);
    assert_int_equal(mk_pki_ensure_leaf(f->certs, &req, &err), 0);
    mk_autofree char *v2 = OPENSSL("verify", "-CAfile", ca, crt);

    /* other usages or names */
    const struct mk_cert_req client = {crt, key, "leaf", NULL, dns, ips, false, true};
    assert_int_equal(mk_pki_check_leaf(f->certs, &client, &why, &err), 0);
    assert_string_equal(why, "extended key usage differs");
    free(why);
    const char *ips2[] = {"::1", "127.0.0.1", "127.0.0.1", NULL}; /* same set, other order */
    const struct mk_cert_req same = {crt, key, "leaf", NULL, dns, ips2, true, false};
    assert_int_equal(mk_pki_check_leaf(f->certs, &same, &why, &err), 0);
    assert_string_equal(why, "");
    free(why);
    const struct mk_cert_req org = {crt, key, "leaf", "system:masters", dns, ips, true, false};
    assert_int_equal(mk_pki_check_leaf(f->certs, &org, &why, &err), 0);
    assert_string_equal(why, "subject differs");
    free(why);
}

static void test_new_ca_renews_leaves(void **state)
{
    struct fx *f = *state;
    ensure_profile_ok(f, NULL);
    mk_autofree char *ca = p(f->certs, "ca.crt");
    mk_autofree char *cakey = p(f->certs, "ca.key");
    mk_autofree char *api = p(f->prof, "apiserver.crt");
    mk_autofree char *old = slurp(ca);
    assert_int_equal(unlink(cakey), 0);
    ensure_profile_ok(f, NULL);
    mk_autofree char *now = slurp(ca);
    assert_string_not_equal(old, now);
    mk_autofree char *v = OPENSSL("verify", "-CAfile", ca, api);
    mk_autofree char *pem = p(f->certs, "ca.pem");
    mk_autofree char *pemdata = slurp(pem);
    assert_string_equal(now, pemdata);
}

static void test_bad_requests(void **state)
{
    struct fx *f = *state;
    mk_autoerror struct mk_error *err = NULL;
    mk_autofree char *crt = p(f->home, "x.crt");
    mk_autofree char *key = p(f->home, "x.key");
    const char *ips[] = {"10.0.2.300", NULL};
    const struct mk_cert_req req = {crt, key, "x", NULL, NULL, ips, true, false};
    /* no CA yet */
    assert_int_equal(mk_pki_ensure_leaf(f->certs, &req, &err), -1);
    assert_contains(err->msg, "the CA in");
    mk_error_free(err);
    err = NULL;
    assert_int_equal(mk_pki_ensure_ca(f->certs, &err), 0);
    assert_int_equal(mk_pki_ensure_leaf(f->certs, &req, &err), -1);
    assert_int_equal(err->code, MK_EXIT_USAGE);
    assert_contains(err->msg, "invalid IP address '10.0.2.300'");
    mk_error_free(err);
    err = NULL;
    const char *dns[] = {"bad name,DNS:evil", NULL};
    const struct mk_cert_req req2 = {crt, key, "x", NULL, dns, NULL, true, false};
    assert_int_equal(mk_pki_ensure_leaf(f->certs, &req2, &err), -1);
    assert_contains(err->msg, "invalid DNS name");
    assert_false(mk_path_exists(crt));
}

/* Several starts at once must agree on one CA: every process sees the CA that
 * ends up on disk. Without the lock each would generate and write its own. */
static void test_concurrent_ca(void **state)
{
    struct fx *f = *state;
    enum { N = 4 };
    int go[2], res[2];
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(res), 0);
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            char c;
            close(go[1]);
            if (read(go[0], &c, 1) != 1)
                _exit(2);
            struct mk_error *err = NULL;
            char sum[65] = {0};
            mk_autofree char *crt = xasprintf("%s/ca.crt", f->certs);
            if (mk_pki_ensure_ca(f->certs, &err) < 0 || mk_sha256_file(crt, sum, &err) < 0)
                _exit(3);
            if (write(res[1], sum, 64) != 64)
                _exit(4);
            _exit(0);
        }
    }
    close(go[0]);
    close(res[1]);
    char start[N];
    memset(start, 'x', N);
    assert_int_equal(write(go[1], start, N), N); /* release all at once */
    close(go[1]);
    for (int i = 0; i < N; i++) {
        int st;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    char sums[N][65];
    for (int i = 0; i < N; i++) {
        assert_int_equal(read(res[0], sums[i], 64), 64);
        sums[i][64] = '\0';
    }
    close(res[0]);
    char final[65];
    mk_autoerror struct mk_error *err = NULL;
    mk_autofree char *crt = p(f->certs, "ca.crt");
    assert_int_equal(mk_sha256_file(crt, final, &err), 0);
    for (int i = 0; i < N; i++)
        assert_string_equal(sums[i], final);
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

/* `docker version` with DOCKER_CERT_PATH=cert_path against host; returns stderr. */
static char *docker_version(const char *host, const char *cert_path)
{
    mk_autofree char *e1 = xasprintf("DOCKER_HOST=%s", host);
    mk_autofree char *e2 = xasprintf("DOCKER_CERT_PATH=%s", cert_path);
    char *const env[] = {e1, e2, "DOCKER_TLS_VERIFY=1", NULL};
    const char *argv[] = {"docker", "version", NULL};
    struct mk_run_opts o = {
        .env = env, .capture_stdout = true, .capture_stderr = true, .timeout_ms = 8000};
    struct mk_run_result r;
    mk_run_result_init(&r);
    struct mk_error *err = NULL;
    mk_run(argv, &o, &r, &err); /* a timeout is fine: the handshake is what counts */
    mk_error_free(err);
    char *out = mk_buf_detach(&r.err);
    mk_run_result_release(&r);
    return out;
}

/* The docker CLI (Go TLS, DOCKER_CERT_PATH layout) and dockerd's server cert:
 * an openssl s_server with server.pem demands a client cert from our CA. */
static void test_docker_tls(void **state)
{
    struct fx *f = *state;
    if (!mk_run_have("docker")) {
        print_message("docker CLI not installed: skipping\n");
        skip();
    }
    ensure_profile_ok(f, "10.0.2.15");
    mk_autofree char *ca = p(f->certs, "ca.crt");
    mk_autofree char *sv = p(f->mach, "server.pem");
    mk_autofree char *sv_key = p(f->mach, "server-key.pem");
    mk_autofree char *log = p(f->home, "s_server.log");
    unsigned port = free_port();
    mk_autofree char *accept = xasprintf("127.0.0.1:%u", port);
    const char *argv[] = {"openssl",
                          "s_server",
                          "-accept",
                          accept,
                          "-cert",
                          sv,
                          "-key",
                          sv_key,
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
    mk_autoerror struct mk_error *err = NULL;
    assert_int_equal(mk_run(argv, &o, &r, &err), 0);
    pid_t server = r.pid;
    mk_run_result_release(&r);
    for (int i = 0; i < 100 && !port_open(port); i++)
        usleep(50000);
    assert_true(port_open(port));

    mk_autofree char *host = xasprintf("tcp://127.0.0.1:%u", port);
    mk_autofree char *out = docker_version(host, f->certs);
    assert_null(strstr(out, "x509"));
    assert_null(strstr(out, "tls:"));
    mk_autofree char *slog = slurp(log);
    assert_contains(slog, "depth=0 CN = mkube-docker-client\nverify return:1");

    /* control: certs from another installation are refused by the client */
    mk_autofree char *other = p(f->home, "other");
    const char *ips[] = {"10.0.2.15", NULL};
    assert_int_equal(mk_pki_ensure_profile(other, "mkube", NULL, ips, &err), 0);
    mk_autofree char *other_certs = p(other, "certs");
    mk_autofree char *bad = docker_version(host, other_certs);
    assert_contains(bad, "x509: certificate signed by unknown authority");
    kill(server, SIGTERM);
    int st;
    waitpid(server, &st, 0);
}

int main(void)
{
    if (!mk_run_have("openssl")) {
        fprintf(stderr, "test-pki: the openssl CLI is needed as the checker\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ca, setup, teardown),
        cmocka_unit_test_setup_teardown(test_profile_certs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotent_and_san_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_regenerate_bad_leaves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_ca_renews_leaves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_ca, setup, teardown),
        cmocka_unit_test_setup_teardown(test_docker_tls, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
