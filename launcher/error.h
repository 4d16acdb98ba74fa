/* error.h - the error object every fallible mkube function fills.
 *
 * Functions return 0 on success and -1 on failure, filling *err (crun style).
 * Each layer may add context with mk_error_wrap(); only main() prints the error
 * (as "mkube: <context>: <why>" plus an optional hint) and maps its code to the
 * process exit status. Messages are lowercase, without a trailing period. */
#ifndef MK_ERROR_H
#define MK_ERROR_H

#include "util.h"

/* Exit codes (docs/exit-codes.md). Usage errors are 64 like sysexits' EX_USAGE;
 * the rest follow minikube's groups where one exists. */
enum mk_exit {
    MK_EXIT_OK = 0,
    MK_EXIT_FAILURE = 1,
    MK_EXIT_USAGE = 64,         /* bad command line or input value */
    MK_EXIT_NOT_IMPLEMENTED = 69, /* command registered, not built yet */
    MK_EXIT_CONFIG = 78,        /* config/profile file problem */
    MK_EXIT_PROFILE_NOT_FOUND = 85, /* minikube's "no such profile" for status */
    MK_EXIT_DRIVER = 80,        /* driver/hypervisor unusable */
    MK_EXIT_GUEST = 81,         /* provisioning / bootstrap inside the VM failed */
    MK_EXIT_UNAVAILABLE = 82,   /* a needed service is down (e.g. cluster stopped) */
    MK_EXIT_INTERRUPTED = 130,
};

struct mk_error {
    int code;    /* enum mk_exit value */
    char *msg;   /* "what: why" */
    char *hint;  /* optional: what the user can do, or NULL */
};

/* Set *err (if err is non-NULL and *err is NULL) and return -1. */
int mk_error_set(struct mk_error **err, int code, const char *fmt, ...) MK_PRINTF(3, 4);
/* Like mk_error_set, appending ": strerror(errnum)". */
int mk_error_errno(struct mk_error **err, int errnum, const char *fmt, ...) MK_PRINTF(3, 4);
/* Prefix the message with context ("context: old message"); returns -1. */
int mk_error_wrap(struct mk_error **err, const char *fmt, ...) MK_PRINTF(2, 3);
/* Attach a hint (replaces an earlier one); returns -1. */
int mk_error_hint(struct mk_error **err, const char *fmt, ...) MK_PRINTF(2, 3);
void mk_error_free(struct mk_error *err);
void mk_error_freep(struct mk_error **err);
#define mk_autoerror __attribute__((cleanup(mk_error_freep)))

/* Print "mkube: msg" (and "  hint" lines) to stderr; return the exit code. */
int mk_error_report(const struct mk_error *err);

#endif
