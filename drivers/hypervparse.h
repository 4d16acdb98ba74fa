/* hypervparse.h - reading what the hyperv driver's PowerShell scripts print
 * (Get-VM state as JSON or a word, Get-VMSwitch lists, the adapter's
 * IPAddresses, the probe's key=value lines, PowerShell error records) and
 * quoting values into scripts. Pure functions on strings, shared by the driver
 * and its tests. */
#ifndef MK_HYPERVPARSE_H
#define MK_HYPERVPARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "driver.h"

/* The well-known Id of Hyper-V's "Default Switch" (its name is localized). */
#define MK_HV_DEFAULT_SWITCH_ID "c08cb7b8-9b3c-408e-8e30-5e16a3aeb444"

/* 'text' for a PowerShell script: single quotes, inner ' doubled. Caller frees. */
char *mk_ps_quote(const char *s);

/* Microsoft.HyperV.PowerShell.VMState name -> mk_vm_state: Running; Off and
 * Saved (Stopped); Paused, Starting, Resuming, Reset (Starting); Stopping,
 * Saving, Pausing (Running); *Critical and unknown names (Error). */
enum mk_vm_state mk_hv_state_from_name(const char *name);
/* The enum's numeric value (what ConvertTo-Json prints for an enum) -> its
 * name, or NULL. */
const char *mk_hv_state_name(long value);

/* Output of `Get-VM X | ConvertTo-Json` (one object, or an array of one; State
 * as a number or a string) or a bare state word. Empty output: *exists false.
 * *raw (optional) gets the state name. Returns -1 when unreadable. */
int mk_hv_parse_state(const char *out, bool *exists, enum mk_vm_state *st, char **raw);

/* The first usable IPv4 address (not link-local, not 0.0.0.0) in the
 * adapter's IPAddresses: one address per line, or a JSON string/array.
 * Returns 0 and fills ip, or -1. */
int mk_hv_pick_ipv4(const char *out, char *ip, size_t len);

struct mk_hv_switch {
    char name[128];
    char id[64];
    char type[16]; /* "External", "Internal", "Private" (or the enum number) */
};
/* `Get-VMSwitch | Select-Object Name,Id,SwitchType | ConvertTo-Json`: one
 * object or an array. Returns how many were stored (<= max), -1 on bad JSON. */
int mk_hv_parse_switches(const char *json, struct mk_hv_switch *sw, int max);
/* wanted (a name) if it exists; else the Default Switch; else the first
 * External switch. Returns the index, or -1 with err set. */
int mk_hv_choose_switch(const struct mk_hv_switch *sw, int n, const char *wanted,
                        struct mk_error **err);

/* The probe script's "module=1", "admin=True", "hyperv-admins=False" lines. */
struct mk_hv_probe {
    int module_count; /* -1 when absent */
    int admin;        /* 1 True, 0 False, -1 absent */
    int hyperv_admin;
};
void mk_hv_parse_probe(const char *out, struct mk_hv_probe *p);

enum mk_hv_err {
    MK_HV_ERR_OTHER = 0,
    MK_HV_ERR_NOT_FOUND,  /* unable to find a virtual machine with name */
    MK_HV_ERR_PERMISSION, /* not allowed: elevation or Hyper-V Administrators needed */
    MK_HV_ERR_NO_CMDLET,  /* the Hyper-V module is missing */
};
enum mk_hv_err mk_hv_classify_error(const char *err_text);
/* The message of the first PowerShell error record ("Cmdlet : message"
 * without the cmdlet), or the first non-empty line. Caller frees. */
char *mk_hv_error_message(const char *err_text);

#endif
