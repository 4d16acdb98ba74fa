/* accel.h - does hardware virtualization (KVM) really work here, or must QEMU
 * emulate (TCG)?
 *
 * /dev/kvm opening and KVM_CREATE_VM succeeding is not enough: under a nested
 * or paravirtual KVM (kvm_pvm) a stock guest kernel can hang in early boot. So
 * the verdict comes from a bounded tiny boot: the image's kernel without an
 * initrd must reach its "unable to mount root" panic on the serial port within
 * a few seconds under -accel kvm. The verdict is cached per host in
 * <cache_dir>/accel.json, keyed by the host kernel release and the QEMU
 * version, so the probe runs once. */
#ifndef MK_ACCEL_H
#define MK_ACCEL_H

#include "driver.h"

const char *mk_accel_name(enum mk_accel a); /* "auto", "kvm", "tcg" */
int mk_accel_parse(const char *s, enum mk_accel *out, struct mk_error **err);

/* want KVM: /dev/kvm must be usable (error otherwise); want TCG: TCG; want AUTO:
 * the cached verdict, or probe with kernel_path (NULL: no kernel to probe with,
 * TCG without caching). *out is KVM or TCG. */
int mk_accel_resolve(const char *cache_dir, const char *kernel_path, enum mk_accel want,
                     enum mk_accel *out, struct mk_error **err);

/* The probe itself (no cache): 0 and *works set, or -1 when QEMU cannot run. */
int mk_accel_probe_kvm(const char *kernel_path, int timeout_ms, bool *works, char **reason,
                       struct mk_error **err);

#endif
