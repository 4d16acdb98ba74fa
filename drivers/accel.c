/* accel.c - the KVM-really-works probe and its per-host cache (see accel.h). */
#include "accel.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "../launcher/fsutil.h"
#include "../launcher/log.h"
#include "../launcher/run.h"

#define PROBE_TIMEOUT_MS 15000

const char *mk_accel_name(enum mk_accel a)
{
    switch (a) {
    case MK_ACCEL_KVM:
        return "kvm";
    case MK_ACCEL_TCG:
        return "tcg";
    case MK_ACCEL_AUTO:
        break;
    }
    return "auto";
}

int mk_accel_parse(const char *s, enum mk_accel *out, struct mk_error **err)
{
    if (mk_streq(s, "kvm"))
        *out = MK_ACCEL_KVM;
    else if (mk_streq(s, "tcg"))
        *out = MK_ACCEL_TCG;
    else if (mk_streq(s, "auto") || !s || !*s)
        *out = MK_ACCEL_AUTO;
    else
        return mk_error_set(err, MK_EXIT_USAGE, "unknown accelerator \"%s\" (want kvm, tcg or auto)",
                            s);
    return 0;
}

/* /dev/kvm opens and can create a VM: necessary, not sufficient. */
static bool kvm_device_usable(char **reason)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        *reason = xasprintf("/dev/kvm: %s", strerror(errno));
        return false;
    }
    bool ok = false;
    int v = ioctl(fd, KVM_GET_API_VERSION, 0);
    if (v != KVM_API_VERSION) {
        *reason = xasprintf("/dev/kvm speaks API version %d, not %d", v, KVM_API_VERSION);
    } else {
        int vm = ioctl(fd, KVM_CREATE_VM, 0);
        if (vm < 0) {
            *reason = xasprintf("/dev/kvm cannot create a VM: %s", strerror(errno));
        } else {
            close(vm);
            ok = true;
        }
    }
    close(fd);
    return ok;
}

int mk_accel_probe_kvm(const char *kernel_path, int timeout_ms, bool *works, char **reason,
                       struct mk_error **err)
{
    *works = false;
    *reason = NULL;
    if (!kvm_device_usable(reason))
        return 0;
    const char *argv[] = {"qemu-system-x86_64", "-accel", "kvm", "-cpu", "max", "-m", "256",
                          "-smp", "1", "-nodefaults", "-display", "none", "-no-reboot",
                          "-monitor", "none", "-serial", "stdio", "-kernel", kernel_path,
                          "-append", "console=ttyS0 panic=-1", NULL};
    struct mk_run_opts o = {.capture_stdout = true, .capture_stderr = true,
                            .timeout_ms = timeout_ms};
    struct mk_run_result res;
    mk_run_result_init(&res);
    struct mk_error *rerr = NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int r = mk_run(argv, &o, &res, &rerr);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    const char *out = mk_buf_str(&res.out);
    int rc = 0;
    if (r < 0 && !res.timed_out) {
        *err = rerr;
        rerr = NULL;
        rc = -1;
    } else if (!res.timed_out &&
               (strstr(out, "Unable to mount root") || strstr(out, "Kernel panic"))) {
        *works = true;
        *reason = xasprintf("a test kernel reached its root-mount panic in %ld ms under KVM", ms);
    } else if (res.timed_out) {
        *reason = xasprintf("KVM is present but a test kernel did not finish booting within "
                            "%d s under it (nested or paravirtual KVM?)",
                            timeout_ms / 1000);
    } else {
        mk_buf_rtrim(&res.err);
        const char *last = strrchr(mk_buf_str(&res.err), '\n');
        last = last ? last + 1 : mk_buf_str(&res.err);
        *reason = xasprintf("QEMU cannot boot a test kernel under KVM (status %d%s%s)",
                            res.status, *last ? ": " : "", last);
    }
    mk_debug(1, "kvm probe: %s", *reason ? *reason : "failed");
    mk_error_free(rerr);
    mk_run_result_release(&res);
    return rc;
}

static char *cache_key(void)
{
    struct utsname u;
    uname(&u);
    const char *argv[] = {"qemu-system-x86_64", "--version", NULL};
    struct mk_run_opts o = {.capture_stdout = true, .capture_stderr = true, .timeout_ms = 10000};
    struct mk_run_result res;
    mk_run_result_init(&res);
    struct mk_error *e = NULL;
    mk_run(argv, &o, &res, &e);
    mk_error_free(e);
    const char *v = mk_buf_str(&res.out);
    size_t n = strcspn(v, "\n");
    char *key = xasprintf("%s|%.*s", u.release, (int)n, v);
    mk_run_result_release(&res);
    return key;
}

int mk_accel_resolve(const char *cache_dir, const char *kernel_path, enum mk_accel want,
                     enum mk_accel *out, struct mk_error **err)
{
    if (want == MK_ACCEL_TCG) {
        *out = MK_ACCEL_TCG;
        return 0;
    }
    mk_autofree char *reason = NULL;
    if (want == MK_ACCEL_KVM) {
        if (!kvm_device_usable(&reason)) {
            mk_error_set(err, MK_EXIT_DRIVER, "KVM was asked for but is not usable: %s", reason);
            return mk_error_hint(err, "use --accel=tcg (software emulation), or load kvm_intel/"
                                      "kvm_amd and join the kvm group");
        }
        *out = MK_ACCEL_KVM;
        return 0;
    }
    /* no usable /dev/kvm is cheap to see and may change (kvm group): never cached */
    if (!kvm_device_usable(&reason)) {
        mk_info("using software emulation (TCG), slower: %s", reason);
        *out = MK_ACCEL_TCG;
        return 0;
    }
    mk_autofree char *key = cache_key();
    mk_autofree char *path = cache_dir ? xasprintf("%s/accel.json", cache_dir) : NULL;
    json_t *cache = path ? json_load_file(path, 0, NULL) : NULL;
    const char *v = json_string_value(json_object_get(json_object_get(cache, key), "accel"));
    if (v && (mk_streq(v, "kvm") || mk_streq(v, "tcg"))) {
        *out = mk_streq(v, "kvm") ? MK_ACCEL_KVM : MK_ACCEL_TCG;
        mk_debug(1, "accel verdict from %s: %s", path, v);
        json_decref(cache);
        return 0;
    }
    if (!json_is_object(cache)) {
        json_decref(cache);
        cache = json_object();
    }
    int rc = -1;
    bool works = false;
    if (!kernel_path) {
        mk_info("using software emulation (TCG): no kernel to test KVM with");
        *out = MK_ACCEL_TCG;
        rc = 0;
        goto cleanup;
    }
    mk_info("checking that KVM really works (a bounded test boot, once per host)");
    if (mk_accel_probe_kvm(kernel_path, PROBE_TIMEOUT_MS, &works, &reason, err) < 0)
        goto cleanup;
    *out = works ? MK_ACCEL_KVM : MK_ACCEL_TCG;
    if (!works)
        mk_info("using software emulation (TCG), slower: %s", reason);
    if (path) {
        json_object_set_new(cache, key,
                            json_pack("{s:s,s:s,s:I}", "accel", mk_accel_name(*out), "reason",
                                      reason ? reason : "", "probed_at", (json_int_t)time(NULL)));
        char *text = json_dumps(cache, JSON_INDENT(2) | JSON_SORT_KEYS);
        struct mk_error *werr = NULL;
        if (mk_mkdir_p(cache_dir, 0700, &werr) < 0 ||
            mk_write_file_atomic(path, text, strlen(text), 0600, &werr) < 0)
            mk_warn("cannot cache the accelerator verdict: %s", werr->msg);
        mk_error_free(werr);
        free(text);
    }
    rc = 0;
cleanup:
    json_decref(cache);
    return rc;
}
