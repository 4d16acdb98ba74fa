/* vboxparse.h - reading what VBoxManage prints: `--version`, `showvminfo
 * --machinereadable` (VMState, NAT forwarding rules), `list hostinfo`, and
 * its "VBoxManage: error:" texts. Pure functions on strings, no I/O, so the
 * virtualbox driver and its tests share one reading of every format. */
#ifndef MK_VBOXPARSE_H
#define MK_VBOXPARSE_H

#include <stdbool.h>

#include "driver.h"

/* Oldest VirtualBox the driver supports (NAT loopback forwards, VDI resize,
 * headless start all behave as used here since 6.1). */
#define MK_VBOX_MIN_MAJOR 6
#define MK_VBOX_MIN_MINOR 1

struct mk_vbox_version {
    unsigned major, minor, patch;
    unsigned revision; /* the number after 'r', 0 when absent */
};

/* "7.0.14r161095", "6.1.50_Ubuntur161033", "5.0.16r105871"; warning lines
 * printed before it (vboxdrv not loaded, ...) are skipped. */
int mk_vbox_parse_version(const char *out, struct mk_vbox_version *v);
bool mk_vbox_version_supported(const struct mk_vbox_version *v);

/* Value of key in `showvminfo --machinereadable` output: key="value",
 * key=value or "key"="value"; backslash escapes in quoted values undone.
 * Returns a new string or NULL when the key is absent. */
char *mk_vbox_info_get(const char *out, const char *key);

/* VMState -> mk_vm_state: running; poweroff/aborted(Error)/saved(Stopped);
 * paused/starting/restoring (Starting); gurumeditation (Error). *raw gets the
 * VirtualBox word (caller frees) when raw is non-NULL. -1 without VMState. */
int mk_vbox_parse_state(const char *out, enum mk_vm_state *st, char **raw);
/* Is the raw VMState one where the VM process exists (running, paused, ...)? */
bool mk_vbox_state_is_live(const char *raw);

/* One NAT rule: Forwarding(0)="ssh,tcp,127.0.0.1,2222,,22" */
struct mk_vbox_rule {
    char name[64];
    char proto[8];
    char host_ip[64];
    unsigned host_port;
    char guest_ip[64];
    unsigned guest_port;
};
/* Rules of the first NAT adapter; returns how many were stored (<= max). */
int mk_vbox_parse_forwards(const char *out, struct mk_vbox_rule *rules, int max);

/* `VBoxManage list hostinfo`: 1 yes, 0 no, -1 when the line is absent
 * (VirtualBox before 6.0 does not print it). */
int mk_vbox_hostinfo_hwvirt(const char *out);

/* What a failed VBoxManage call means, from its stderr. */
enum mk_vbox_err {
    MK_VBOX_ERR_OTHER = 0,
    MK_VBOX_ERR_NOT_FOUND,     /* Could not find a registered machine / VBOX_E_OBJECT_NOT_FOUND */
    MK_VBOX_ERR_LOCKED,        /* already locked for a session / object is not ready: retry */
    MK_VBOX_ERR_VMX_ROOT,      /* VT-x is being used by another hypervisor (KVM) */
    MK_VBOX_ERR_NO_HWVIRT,     /* VT-x/AMD-V not available or disabled in the BIOS */
    MK_VBOX_ERR_EXISTS,        /* createvm: the machine or its settings file already exists */
    MK_VBOX_ERR_NOT_RUNNING,   /* controlvm on a machine that is not running */
};
enum mk_vbox_err mk_vbox_classify_error(const char *err_text);

/* The first "VBoxManage: error: " message (prefix removed), or the last
 * non-empty line, or NULL for empty text. Caller frees. */
char *mk_vbox_error_message(const char *err_text);

#endif
