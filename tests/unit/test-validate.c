/* test-validate.c - sizes, CPU counts, profile names, versions, drivers,
 * runtimes, durations, ports: what is accepted, what it becomes, what is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "validate.h"

static uint64_t size_ok(const char *s)
{
    uint64_t mib = 0;
    mk_autoerror struct mk_error *err = NULL;
    int r = mk_parse_size_mib(s, &mib, &err);
    if (r < 0)
        fail_msg("\"%s\" refused: %s", s, err->msg);
    return mib;
}

static void size_bad(const char *s, const char *want_in_msg)
{
    uint64_t mib = 12345;
    mk_autoerror struct mk_error *err = NULL;
    assert_int_equal(mk_parse_size_mib(s, &mib, &err), -1);
    assert_non_null(err);
    assert_int_equal(err->code, MK_EXIT_USAGE);
    assert_int_equal(mib, 12345); /* untouched */
    assert_null(strchr(err->msg, '\n'));
    if (!strstr(err->msg, want_in_msg))
        fail_msg("message for \"%s\" lacks \"%s\": %s", s, want_in_msg, err->msg);
}

static void test_size_units(void **state)
{
    assert_int_equal(size_ok("2048"), 2048);
    assert_int_equal(size_ok("2048mb"), 2048);
    assert_int_equal(size_ok("2048m"), 2048);
    assert_int_equal(size_ok("2048MiB"), 2048);
    assert_int_equal(size_ok("2g"), 2048);
    assert_int_equal(size_ok("2G"), 2048);
    assert_int_equal(size_ok("2GiB"), 2048);
    assert_int_equal(size_ok("2gb"), 2048);
    assert_int_equal(size_ok("2Gb"), 2048);
    assert_int_equal(size_ok("1.5g"), 1536);
    assert_int_equal(size_ok("1t"), 1024 * 1024);
    assert_int_equal(size_ok("2048k"), 2);
    assert_int_equal(size_ok("1048576KiB"), 1024);
    assert_int_equal(size_ok("1"), 1);
}

static void test_size_refused(void **state)
{
    size_bad("lots", "expected a number with an optional unit");
    size_bad("-1", "expected a number");
    size_bad("+5", "expected a number");
    size_bad(" 5", "expected a number");
    size_bad("5 g", "expected a number");
    size_bad("", "expected a number");
    size_bad("g", "expected a number");
    size_bad("2x", "expected a number");
    size_bad("2gg", "expected a number");
    size_bad("1.g", "expected a number");
    size_bad("0", "at least 1 MiB");
    size_bad("0g", "at least 1 MiB");
    size_bad("512k", "at least 1 MiB");
    size_bad("99999999999999999999", "too large");
    size_bad("18446744073709551615g", "too large");
    size_bad("17179869184t", "too large");
    /* the quoted input is in the message */
    size_bad("lots", "\"lots\"");
}

static void test_size_null_and_what(void **state)
{
    uint64_t mib;
    mk_autoerror struct mk_error *err = NULL;
    assert_int_equal(mk_parse_size_mib_what("lots", "memory size", &mib, &err), -1);
    assert_string_equal(err->msg, "invalid memory size \"lots\": expected a number with an "
                                  "optional unit (2048, 2048mb, 2g)");
    mk_autoerror struct mk_error *err2 = NULL;
    assert_int_equal(mk_parse_size_mib(NULL, &mib, &err2), -1);
}

static void test_memory_limits(void **state)
{
    uint64_t host = mk_host_memory_mib();
    assert_true(host > 0);
    mk_autoerror struct mk_error *e1 = NULL, *e2 = NULL, *e3 = NULL, *e4 = NULL;
    assert_int_equal(mk_validate_memory(1799, &e1), -1);
    assert_non_null(strstr(e1->msg, "minimum of 1800 MiB"));
    assert_int_equal(mk_validate_memory(1800, NULL), 0);
    assert_int_equal(mk_validate_memory(host, NULL), 0);
    assert_int_equal(mk_validate_memory(host + 1, &e2), -1);
    assert_non_null(strstr(e2->msg, "more than this host has"));
    uint64_t mib = 0;
    assert_int_equal(mk_parse_memory("100mb", &mib, &e3), -1);
    assert_string_equal(e3->msg,
                        "invalid memory size \"100mb\": less than the minimum of 1800 MiB");
    assert_int_equal(mk_parse_memory("99999g", &mib, &e4), -1);
    assert_non_null(strstr(e4->msg, "\"99999g\": more than this host has"));
    assert_int_equal(mk_parse_memory("2g", &mib, NULL), 0);
    assert_int_equal(mib, 2048);
}

static void test_disk_limits(void **state)
{
    uint64_t mib = 0;
    mk_autoerror struct mk_error *e1 = NULL;
    assert_int_equal(mk_parse_disk("1g", &mib, &e1), -1);
    assert_non_null(strstr(e1->msg, "minimum of 2048 MiB"));
    assert_int_equal(mk_parse_disk("2g", &mib, NULL), 0);
    assert_int_equal(mib, 2048);
    assert_int_equal(mk_validate_disk(2047, NULL), -1);
    assert_int_equal(mk_parse_disk("20000", &mib, NULL), 0);
    assert_int_equal(mib, 20000);
}

static void test_cpus(void **state)
{
    unsigned host = mk_host_cpus();
    unsigned n = 0;
    assert_int_equal(mk_parse_cpus("1", &n, NULL), 0);
    assert_int_equal(n, 1);
    char buf[16];
    snprintf(buf, sizeof(buf), "%u", host);
    assert_int_equal(mk_parse_cpus(buf, &n, NULL), 0);
    assert_int_equal(n, host);
    snprintf(buf, sizeof(buf), "%u", host + 1);
    mk_autoerror struct mk_error *e = NULL;
    assert_int_equal(mk_parse_cpus(buf, &n, &e), -1);
    assert_non_null(strstr(e->msg, "this host allows 1 to"));
    const char *bad[] = {"0", "-1", "two", "", "1.5", "999", "99999999999999", " 1", NULL};
    for (size_t i = 0; bad[i]; i++) {
        mk_autoerror struct mk_error *err = NULL;
        if (mk_parse_cpus(bad[i], &n, &err) == 0)
            fail_msg("cpus \"%s\" accepted", bad[i]);
        assert_int_equal(err->code, MK_EXIT_USAGE);
    }
}

static void test_profile_names(void **state)
{
    const char *good[] = {"mkube",
                          "a",
                          "0",
                          "dev-1",
                          "x-y-z",
                          "9lives",
                          "a23456789012345678901234567890123456789012345678901234567890123",
                          NULL};
    for (size_t i = 0; good[i]; i++) {
        mk_autoerror struct mk_error *err = NULL;
        if (mk_validate_profile_name(good[i], &err) < 0)
            fail_msg("\"%s\" refused: %s", good[i], err->msg);
    }
    const char *bad[] = {"",
                         "UPPER",
                         "Mkube",
                         "../x",
                         "a/b",
                         ".",
                         "..",
                         "-a",
                         "a_b",
                         "a b",
                         "a.b",
                         "é",
                         "a23456789012345678901234567890123456789012345678901234567890123"
                         "4",
                         "a\n",
                         NULL};
    for (size_t i = 0; bad[i]; i++) {
        mk_autoerror struct mk_error *err = NULL;
        if (mk_validate_profile_name(bad[i], &err) == 0)
            fail_msg("\"%s\" accepted", bad[i]);
        assert_non_null(strstr(err->msg, "invalid profile name"));
    }
    assert_int_equal(mk_validate_profile_name(NULL, NULL), -1);
}

static void test_k8s_versions(void **state)
{
    struct {
        const char *in, *out;
    } good[] = {
        {"v1.37.2", "v1.37.2"},           {"1.37.2", "v1.37.2"},  {"V1.30.0", "v1.30.0"},
        {"v1.38.0-rc.1", "v1.38.0-rc.1"}, {"v2.0.10", "v2.0.10"},
    };
    for (size_t i = 0; i < MK_ARRAY_SIZE(good); i++) {
        mk_autofree char *n = NULL;
        mk_autoerror struct mk_error *err = NULL;
        if (mk_validate_k8s_version(good[i].in, &n, &err) < 0)
            fail_msg("\"%s\" refused: %s", good[i].in, err->msg);
        assert_string_equal(n, good[i].out);
    }
    const char *bad[] = {"banana", "1.x",    "1.37",       "v1.37",      "1.37.2.1",
                         "v",      "",       "vv1.2.3",    "1..2",       "01.2.3",
                         "1.2.3-", "1.2.3 ", "1.2.3-rc/1", "123456.1.1", NULL};
    for (size_t i = 0; bad[i]; i++) {
        char *n = NULL;
        mk_autoerror struct mk_error *err = NULL;
        if (mk_validate_k8s_version(bad[i], &n, &err) == 0)
            fail_msg("\"%s\" accepted as %s", bad[i], n);
        assert_null(n);
        assert_non_null(strstr(err->msg, "invalid Kubernetes version"));
    }
}

static void test_driver_runtime(void **state)
{
    assert_int_equal(mk_validate_driver("", NULL), 0);
    assert_int_equal(mk_validate_driver("qemu", NULL), 0);
    assert_int_equal(mk_validate_driver("libvirt", NULL), 0);
    mk_autoerror struct mk_error *e = NULL;
    assert_int_equal(mk_validate_driver("nope", &e), -1);
    assert_non_null(strstr(e->msg, "invalid driver \"nope\": expected one of "));
    assert_non_null(strstr(e->msg, "qemu"));
    assert_int_equal(mk_validate_runtime("docker", NULL), 0);
    assert_int_equal(mk_validate_runtime("containerd", NULL), 0);
    assert_int_equal(mk_validate_runtime("crio", NULL), -1);
    assert_int_equal(mk_validate_runtime("", NULL), -1);
}

static void test_durations(void **state)
{
    struct {
        const char *in;
        unsigned s;
    } good[] = {{"900", 900},  {"900s", 900}, {"15m", 900},  {"1h30m", 5400},
                {"6m0s", 360}, {"1h", 3600},  {"2m30s", 150}};
    for (size_t i = 0; i < MK_ARRAY_SIZE(good); i++) {
        unsigned s = 0;
        mk_autoerror struct mk_error *err = NULL;
        if (mk_parse_duration_s(good[i].in, &s, &err) < 0)
            fail_msg("\"%s\" refused: %s", good[i].in, err->msg);
        assert_int_equal(s, good[i].s);
    }
    const char *bad[] = {"",     "0",  "0s",   "soon", "15x",          "m",
                         "1.5h", "-5", "15 m", "5sm",  "99999999999h", NULL};
    for (size_t i = 0; bad[i]; i++) {
        unsigned s = 7;
        if (mk_parse_duration_s(bad[i], &s, NULL) == 0)
            fail_msg("\"%s\" accepted as %u", bad[i], s);
    }
}

static void test_bool_port_url(void **state)
{
    bool b = false;
    assert_int_equal(mk_parse_bool("TRUE", &b, NULL), 0);
    assert_true(b);
    assert_int_equal(mk_parse_bool("off", &b, NULL), 0);
    assert_false(b);
    assert_int_equal(mk_parse_bool("maybe", &b, NULL), -1);
    unsigned p = 1;
    assert_int_equal(mk_parse_port("0", true, &p, NULL), 0);
    assert_int_equal(p, 0);
    assert_int_equal(mk_parse_port("0", false, &p, NULL), -1);
    assert_int_equal(mk_parse_port("65535", false, &p, NULL), 0);
    assert_int_equal(p, 65535);
    assert_int_equal(mk_parse_port("65536", false, &p, NULL), -1);
    assert_int_equal(mk_parse_port("-1", true, &p, NULL), -1);
    assert_int_equal(mk_parse_port("22a", true, &p, NULL), -1);
    assert_int_equal(mk_validate_url("file:///srv/x.iso", "ISO URL", NULL), 0);
    assert_int_equal(mk_validate_url("https://example.invalid/x", "ISO URL", NULL), 0);
    assert_int_equal(mk_validate_url("/srv/x.iso", "ISO URL", NULL), 0);
    assert_int_equal(mk_validate_url("out/x.iso", "ISO URL", NULL), 0); /* a plain path */
    assert_int_equal(mk_validate_url("", "ISO URL", NULL), -1);
    assert_int_equal(mk_validate_url("ftp://x", "ISO URL", NULL), -1);
    assert_int_equal(mk_validate_url("file://", "ISO URL", NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size_units),         cmocka_unit_test(test_size_refused),
        cmocka_unit_test(test_size_null_and_what), cmocka_unit_test(test_memory_limits),
        cmocka_unit_test(test_disk_limits),        cmocka_unit_test(test_cpus),
        cmocka_unit_test(test_profile_names),      cmocka_unit_test(test_k8s_versions),
        cmocka_unit_test(test_driver_runtime),     cmocka_unit_test(test_durations),
        cmocka_unit_test(test_bool_port_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
