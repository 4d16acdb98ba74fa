/* validate.h - checking and normalising user input: sizes, CPU counts, names,
 * versions, driver and runtime names, durations, ports, booleans.
 *
 * Every function returns 0 or -1 with *err set to one line with code
 * MK_EXIT_USAGE, e.g. `invalid memory size "lots": expected a number with an
 * optional unit (2048, 2048mb, 2g)`. None of them touches the filesystem. */
#ifndef MK_VALIDATE_H
#define MK_VALIDATE_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

#define MK_MIN_MEMORY_MIB 1800u
#define MK_MIN_DISK_MIB 2048u

/* Sizes: a number with an optional unit, case-insensitive: none/m/mb/mib (MiB),
 * k/kb/kib, g/gb/gib, t/tb/tib; a decimal fraction is allowed ("1.5g").
 * Binary multiples throughout, as minikube does. The result must be >= 1 MiB.
 * what names the value in messages ("memory size", "disk size"). */
int mk_parse_size_mib_what(const char *s, const char *what, uint64_t *mib, struct mk_error **err);
int mk_parse_size_mib(const char *s, uint64_t *mib, struct mk_error **err); /* "size" */

uint64_t mk_host_memory_mib(void); /* physical RAM */
unsigned mk_host_cpus(void);       /* online cores */

int mk_validate_memory(uint64_t mib, struct mk_error **err); /* 1800 MiB .. host RAM */
int mk_validate_disk(uint64_t mib, struct mk_error **err);   /* >= 2 GiB */
/* parse + validate, with the text as typed in messages */
int mk_parse_memory(const char *s, uint64_t *mib, struct mk_error **err);
int mk_parse_disk(const char *s, uint64_t *mib, struct mk_error **err);
int mk_validate_cpus(unsigned long n, struct mk_error **err); /* 1 .. host cores */
/* "4" -> 4, then mk_validate_cpus */
int mk_parse_cpus(const char *s, unsigned *cpus, struct mk_error **err);

/* ^[a-z0-9][a-z0-9-]{0,62}$ */
int mk_validate_profile_name(const char *name, struct mk_error **err);
/* v?MAJOR.MINOR.PATCH -> "vMAJOR.MINOR.PATCH" (caller frees *normalized;
 * normalized may be NULL to only check) */
int mk_validate_k8s_version(const char *s, char **normalized, struct mk_error **err);
/* a driver in the registry (drivers/driver.c); "" means pick automatically */
int mk_validate_driver(const char *name, struct mk_error **err);
/* docker, containerd */
int mk_validate_runtime(const char *name, struct mk_error **err);

/* Durations: "900", "900s", "15m", "1h30m", "6m0s" (Go style) -> seconds > 0 */
int mk_parse_duration_s(const char *s, unsigned *secs, struct mk_error **err);
/* true/false/yes/no/1/0/on/off, case-insensitive */
int mk_parse_bool(const char *s, bool *b, struct mk_error **err);
/* 0..65535 (0 = pick a free one when allow_zero) */
int mk_parse_port(const char *s, bool allow_zero, unsigned *port, struct mk_error **err);
/* http://, https:// or file:// URL, or a plain path (download.c makes it a file:// URL) */
int mk_validate_url(const char *s, const char *what, struct mk_error **err);

#endif
