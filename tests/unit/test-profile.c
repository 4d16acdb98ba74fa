/* test-profile.c - the profile store: round trips, unknown fields kept, the
 * active profile, locking between processes, and crash safety of writes. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
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

#include "fsutil.h"
#include "profile.h"

static char *home;

static int setup(void **state)
{
    char tmpl[] = "/tmp/mkube-test-profile-XXXXXX";
    if (!mkdtemp(tmpl))
        return -1;
    home = xstrdup(tmpl);
    unsetenv("MKUBE_PROFILE");
    return 0;
}

static int teardown(void **state)
{
    mk_rm_rf(home, NULL);
    free(home);
    home = NULL;
    unsetenv("MKUBE_PROFILE");
    return 0;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *config_path(const char *name)
{
    return xasprintf("%s/profiles/%s/config.json", home, name);
}

static void write_raw(const char *name, const char *text)
{
    mk_autofree char *dir = xasprintf("%s/profiles/%s", home, name);
    mk_autofree char *path = config_path(name);
    assert_int_equal(mk_mkdir_p(dir, 0700, NULL), 0);
    assert_int_equal(mk_write_file_atomic(path, text, strlen(text), 0600, NULL), 0);
}

static void test_round_trip(void **state)
{
    struct mk_profile *p = mk_profile_new("dev");
    assert_int_equal(p->cpus, 2);
    assert_int_equal(p->memory_mib, 3072);
    assert_string_equal(p->kubernetes_version, "v1.37.2");
    free(p->driver);
    p->driver = xstrdup("qemu");
    p->cpus = 1;
    p->memory_mib = 4096;
    p->disk_mib = 30000;
    p->iso_url = xstrdup("file:///srv/mkube.iso");
    mk_profile_set_addon(p, "dashboard", true);
    mk_profile_set_addon(p, "storage-provisioner", true);
    mk_profile_set_addon(p, "dashboard", true); /* once only */
    p->status_hint = xstrdup("Running");
    assert_int_equal(mk_profile_save(home, p, NULL), 0);
    mk_profile_free(p);

    mk_autoprofile struct mk_profile *q = NULL;
    assert_int_equal(mk_profile_load(home, "dev", &q, NULL), 0);
    assert_non_null(q);
    assert_string_equal(q->name, "dev");
    assert_string_equal(q->driver, "qemu");
    assert_int_equal(q->cpus, 1);
    assert_int_equal(q->memory_mib, 4096);
    assert_int_equal(q->disk_mib, 30000);
    assert_string_equal(q->container_runtime, "docker");
    assert_string_equal(q->iso_url, "file:///srv/mkube.iso");
    assert_null(q->bundle_url);
    assert_int_equal(mk_strv_len(q->addons), 2);
    assert_true(mk_profile_has_addon(q, "dashboard"));
    assert_true(mk_profile_has_addon(q, "storage-provisioner"));
    assert_false(mk_profile_has_addon(q, "registry"));
    assert_string_equal(q->status_hint, "Running");
    mk_profile_set_addon(q, "dashboard", false);
    assert_false(mk_profile_has_addon(q, "dashboard"));
    assert_true(mk_profile_has_addon(q, "storage-provisioner"));

    mk_autofree char *path = config_path("dev");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_absent_and_broken(void **state)
{
    struct mk_profile *p = (void *)1;
    assert_int_equal(mk_profile_load(home, "nothere", &p, NULL), 0);
    assert_null(p);
    mk_autofree char *absent = xasprintf("%s/profiles/nothere", home);
    assert_false(mk_path_exists(absent)); /* loading creates nothing */

    write_raw("broken", "{\"cpus\": 2,");
    mk_autoerror struct mk_error *e1 = NULL;
    assert_int_equal(mk_profile_load(home, "broken", &p, &e1), -1);
    assert_null(p);
    assert_int_equal(e1->code, MK_EXIT_CONFIG);
    assert_non_null(strstr(e1->msg, "cannot parse"));

    write_raw("wrongtype", "{\"cpus\": \"two\"}");
    mk_autoerror struct mk_error *e2 = NULL;
    assert_int_equal(mk_profile_load(home, "wrongtype", &p, &e2), -1);
    assert_non_null(strstr(e2->msg, "\"cpus\""));

    write_raw("array", "[1, 2]");
    mk_autoerror struct mk_error *e3 = NULL;
    assert_int_equal(mk_profile_load(home, "array", &p, &e3), -1);

    mk_autoerror struct mk_error *e4 = NULL;
    assert_int_equal(mk_profile_load(home, "../etc", &p, &e4), -1);
    assert_int_equal(e4->code, MK_EXIT_USAGE);

    /* missing fields take the defaults */
    write_raw("sparse", "{\"driver\": \"qemu\"}");
    mk_autoprofile struct mk_profile *s = NULL;
    assert_int_equal(mk_profile_load(home, "sparse", &s, NULL), 0);
    assert_int_equal(s->cpus, 2);
    assert_int_equal(s->disk_mib, 20000);
    assert_string_equal(s->driver, "qemu");
}

static void test_unknown_fields_kept(void **state)
{
    write_raw("fut", "{\"name\": \"fut\", \"cpus\": 1, \"future\": {\"nodes\": [1, 2]},"
                     " \"addons\": {\"dashboard\": true, \"registry\": false}, \"zzz\": null}");
    mk_autoprofile struct mk_profile *p = NULL;
    assert_int_equal(mk_profile_load(home, "fut", &p, NULL), 0);
    assert_true(mk_profile_has_addon(p, "dashboard"));
    assert_false(mk_profile_has_addon(p, "registry"));
    p->cpus = 2;
    assert_int_equal(mk_profile_save(home, p, NULL), 0);

    mk_autofree char *path = config_path("fut");
    json_t *o = json_load_file(path, 0, NULL);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "cpus")), 2);
    json_t *fut = json_object_get(o, "future");
    assert_non_null(fut);
    assert_int_equal(json_array_size(json_object_get(fut, "nodes")), 2);
    assert_true(json_is_null(json_object_get(o, "zzz")));
    json_decref(o);
}

static void test_list_delete_active(void **state)
{
    mk_autostrv char **none = NULL;
    assert_int_equal(mk_profile_list(home, &none, NULL), 0);
    assert_int_equal(mk_strv_len(none), 0);

    const char *names[] = {"zeta", "alpha", "mid"};
    for (size_t i = 0; i < 3; i++) {
        mk_autoprofile struct mk_profile *p = mk_profile_new(names[i]);
        assert_int_equal(mk_profile_save(home, p, NULL), 0);
    }
    write_raw("broken", "nope");
    mk_autofree char *stray = xasprintf("%s/profiles/stray-file", home);
    assert_int_equal(mk_write_file_atomic(stray, "x", 1, 0600, NULL), 0);
    mk_autostrv char **list = NULL;
    assert_int_equal(mk_profile_list(home, &list, NULL), 0);
    assert_int_equal(mk_strv_len(list), 4);
    assert_string_equal(list[0], "alpha");
    assert_string_equal(list[1], "broken");
    assert_string_equal(list[2], "mid");
    assert_string_equal(list[3], "zeta");

    char *name = NULL;
    assert_null(mk_profile_get_active(home));
    assert_int_equal(mk_profile_resolve_name(home, NULL, &name, NULL), 0);
    assert_string_equal(name, "mkube");
    free(name);
    mk_autoerror struct mk_error *e1 = NULL;
    assert_int_equal(mk_profile_set_active(home, "Bad/Name", &e1), -1);
    assert_int_equal(mk_profile_set_active(home, "mid", NULL), 0);
    mk_autofree char *active = mk_profile_get_active(home);
    assert_string_equal(active, "mid");
    assert_int_equal(mk_profile_resolve_name(home, NULL, &name, NULL), 0);
    assert_string_equal(name, "mid");
    free(name);
    setenv("MKUBE_PROFILE", "zeta", 1);
    assert_int_equal(mk_profile_resolve_name(home, NULL, &name, NULL), 0);
    assert_string_equal(name, "zeta");
    free(name);
    assert_int_equal(mk_profile_resolve_name(home, "alpha", &name, NULL), 0);
    assert_string_equal(name, "alpha");
    free(name);
    setenv("MKUBE_PROFILE", "../x", 1);
    mk_autoerror struct mk_error *e2 = NULL;
    assert_int_equal(mk_profile_resolve_name(home, NULL, &name, &e2), -1);
    assert_non_null(strstr(e2->msg, "MKUBE_PROFILE: invalid profile name"));
    unsetenv("MKUBE_PROFILE");

    assert_int_equal(mk_profile_delete(home, "mid", NULL), 0);
    mk_autofree char *middir = xasprintf("%s/profiles/mid", home);
    assert_false(mk_path_exists(middir));
    assert_null(mk_profile_get_active(home));                  /* reset with it */
    assert_int_equal(mk_profile_delete(home, "mid", NULL), 0); /* absent: fine */

    /* garbage in active-profile is ignored */
    mk_autofree char *ap = xasprintf("%s/active-profile", home);
    assert_int_equal(mk_write_file_atomic(ap, "../../etc\n", 10, 0644, NULL), 0);
    assert_null(mk_profile_get_active(home));
}

/* Another process holds the lock: we time out, then get it once it lets go. */
static void test_lock_contention(void **state)
{
    int to_parent[2], to_child[2];
    assert_int_equal(pipe(to_parent), 0);
    assert_int_equal(pipe(to_child), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(to_parent[0]);
        close(to_child[1]);
        int fd = -1;
        if (mk_profile_lock(home, "shared", 1000, &fd, NULL) < 0)
            _exit(2);
        if (write(to_parent[1], "L", 1) != 1)
            _exit(3);
        char c;
        (void)!read(to_child[0], &c, 1); /* parent closes: let go */
        mk_profile_unlock(fd);
        _exit(0);
    }
    close(to_parent[1]);
    close(to_child[0]);
    char c = 0;
    assert_int_equal(read(to_parent[0], &c, 1), 1);

    int fd = -1;
    mk_autoerror struct mk_error *err = NULL;
    long long t0 = now_ms();
    assert_int_equal(mk_profile_lock(home, "shared", 300, &fd, &err), -1);
    long long waited = now_ms() - t0;
    assert_true(waited >= 300);
    assert_true(waited < 3000);
    assert_non_null(strstr(err->msg, "locked by another mkube process"));
    assert_non_null(err->hint);

    close(to_child[1]);
    assert_int_equal(mk_profile_lock(home, "shared", 5000, &fd, NULL), 0);
    mk_profile_unlock(fd);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(to_parent[0]);
}

/* Two processes doing read-modify-write under the lock lose no update. */
static void bump_loop(int n)
{
    for (int i = 0; i < n; i++) {
        int fd = -1;
        struct mk_profile *p = NULL;
        if (mk_profile_lock(home, "counter", -1, &fd, NULL) < 0 ||
            mk_profile_load(home, "counter", &p, NULL) < 0 || !p)
            _exit(2);
        p->disk_mib++;
        if (mk_profile_save(home, p, NULL) < 0) /* sees our lock, does not wait on itself */
            _exit(3);
        mk_profile_free(p);
        mk_profile_unlock(fd);
    }
}

static void test_no_lost_updates(void **state)
{
    mk_autoprofile struct mk_profile *p = mk_profile_new("counter");
    p->disk_mib = 1000;
    assert_int_equal(mk_profile_save(home, p, NULL), 0);
    const int n = 40;
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            bump_loop(n);
            _exit(0);
        }
    }
    for (int k = 0; k < 2; k++) {
        int status = 0;
        assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    mk_autoprofile struct mk_profile *q = NULL;
    assert_int_equal(mk_profile_load(home, "counter", &q, NULL), 0);
    assert_int_equal(q->disk_mib, 1000 + 2 * n);
}

static int count_temps(const char *name)
{
    mk_autofree char *dir = xasprintf("%s/profiles/%s", home, name);
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".tmp."))
            n++;
    closedir(d);
    return n;
}

/* Locks let go with a bare mk_unlock() do not use up the record of held
 * locks: after many of them, a save inside a held lock still does not wait
 * on itself (it would wait 30 s and fail). */
static void test_held_lock_record(void **state)
{
    for (int i = 0; i < 40; i++) {
        int fd = -1;
        assert_int_equal(mk_profile_lock(home, i % 2 ? "a" : "b", 1000, &fd, NULL), 0);
        mk_unlock(fd);
    }
    int fd = -1;
    assert_int_equal(mk_profile_lock(home, "c", 1000, &fd, NULL), 0);
    mk_autoprofile struct mk_profile *p = mk_profile_new("c");
    long long t0 = now_ms();
    assert_int_equal(mk_profile_save(home, p, NULL), 0);
    assert_true(now_ms() - t0 < 5000);
    assert_int_equal(mk_profile_delete(home, "c", NULL), 0); /* also inside the lock */
    mk_profile_unlock(fd);
}

/* kill -9 a writer in the middle of its save loop: the file is always one
 * whole version, never a torn one. */
static void test_crash_mid_write(void **state)
{
    mk_autoprofile struct mk_profile *base = mk_profile_new("crash");
    base->status_hint = xstrdup("version-0");
    assert_int_equal(mk_profile_save(home, base, NULL), 0);
    /* a big field makes each write take a while, so kills land mid-write */
    size_t big = 512 * 1024;
    int killed_mid_write = 0;
    for (int round = 0; round < 12; round++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            struct mk_profile *p = mk_profile_new("crash");
            for (unsigned long i = 1;; i++) {
                free(p->status_hint);
                p->status_hint = xmalloc(big + 32);
                int n = snprintf(p->status_hint, 32, "version-%lu-", i);
                memset(p->status_hint + n, 'a' + (char)(i % 26), big - (size_t)n);
                p->status_hint[big] = '\0';
                if (mk_profile_save(home, p, NULL) < 0)
                    _exit(2);
            }
        }
        /* wait until the writer is inside a write (its temp file exists),
         * then kill it there: at once, or a moment later */
        mk_autofree char *tmp = xasprintf("%s/profiles/crash/config.json.tmp.%ld", home, (long)pid);
        long long deadline = now_ms() + 10000;
        while (!mk_path_exists(tmp) && now_ms() < deadline) {
            struct timespec ts = {0, 50000};
            nanosleep(&ts, NULL);
        }
        if (round % 2) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        kill(pid, SIGKILL);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        if (mk_path_exists(tmp))
            killed_mid_write++;

        mk_autoprofile struct mk_profile *p = NULL;
        mk_autoerror struct mk_error *err = NULL;
        if (mk_profile_load(home, "crash", &p, &err) < 0)
            fail_msg("round %d: torn profile: %s", round, err->msg);
        assert_non_null(p);
        assert_non_null(p->status_hint);
        assert_true(mk_str_has_prefix(p->status_hint, "version-"));
        size_t len = strlen(p->status_hint);
        assert_true(len == big || strcmp(p->status_hint, "version-0") == 0);
        if (len == big) {
            char last = p->status_hint[len - 1];
            for (size_t i = 32; i < len; i++)
                if (p->status_hint[i] != last)
                    fail_msg("round %d: mixed content at %zu", round, i);
        }
    }
    /* the killed writer's lock died with it: we can take it at once */
    int fd = -1;
    assert_int_equal(mk_profile_lock(home, "crash", 0, &fd, NULL), 0);
    mk_profile_unlock(fd);
    /* most kills landed inside a write, or the test proved nothing */
    print_message("%d of 12 writers killed inside a write\n", killed_mid_write);
    assert_true(killed_mid_write >= 3);
    /* and the next save sweeps the temp files killed writers leave (each
     * writer above swept its predecessors'; one more, made by hand, here) */
    mk_autofree char *fake = xasprintf("%s/profiles/crash/config.json.tmp.99999999", home);
    assert_int_equal(mk_write_file_atomic(fake, "{", 1, 0600, NULL), 0);
    assert_true(count_temps("crash") >= 1);
    assert_int_equal(mk_profile_save(home, base, NULL), 0);
    assert_int_equal(count_temps("crash"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absent_and_broken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_fields_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_delete_active, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_contention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_lost_updates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_held_lock_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_mid_write, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
