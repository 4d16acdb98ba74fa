/* run.h - the one way mkube runs another program.
 *
 * Every subprocess (qemu-system, VBoxManage, powershell, kubectl, ssh-keygen...)
 * goes through mk_run(), so a test can switch the whole program to dry-run with
 * mk_run_set_hook(): the hook sees the argv and options that would run and fills
 * the result with canned output (libvirt virCommandSetDryRun style). */
#ifndef MK_RUN_H
#define MK_RUN_H

#include <stdbool.h>
#include <sys/types.h>

#include "buf.h"
#include "error.h"

struct mk_run_opts {
    char *const *env;      /* extra "K=V" entries on top of the environment, or NULL */
    const char *cwd;       /* working directory, or NULL */
    const char *input;     /* bytes for stdin, or NULL for /dev/null */
    size_t input_len;      /* length of input (strlen if 0 and input set) */
    bool capture_stdout;   /* collect into result.out; otherwise inherit */
    bool capture_stderr;   /* collect into result.err; otherwise inherit */
    bool inherit_stdin;    /* interactive: pass our stdin through (input ignored) */
    int timeout_ms;        /* 0 = wait forever; else SIGTERM, 2 s later SIGKILL */
    bool detach;           /* new session, not waited for; result.pid is set */
    const char *output_file; /* detach: stdout+stderr appended here (else /dev/null) */
};

struct mk_run_result {
    int status;        /* exit code, or 128+signal */
    bool timed_out;
    pid_t pid;         /* for detach */
    struct mk_buf out; /* captured stdout */
    struct mk_buf err; /* captured stderr */
};

/* Run argv[0] (searched in PATH). Returns 0 when the program ran to its end
 * (whatever its status) or was detached; -1 (err set) when it could not start
 * or timed out. */
int mk_run(const char *const *argv, const struct mk_run_opts *opts, struct mk_run_result *res,
           struct mk_error **err);
/* Like mk_run, but a non-zero exit status is an error too; the error message
 * names the program and quotes the last line of its stderr. */
int mk_run_check(const char *const *argv, const struct mk_run_opts *opts,
                 struct mk_run_result *res, struct mk_error **err);
void mk_run_result_init(struct mk_run_result *res);
void mk_run_result_release(struct mk_run_result *res);

/* Dry-run: when a hook is set, mk_run calls it instead of executing. The hook
 * returns 0 (ran; fill res->status/out/err) or -1 (could not start). */
typedef int (*mk_run_hook)(const char *const *argv, const struct mk_run_opts *opts,
                           struct mk_run_result *res, void *data);
void mk_run_set_hook(mk_run_hook hook, void *data);

/* "a b 'c d'" - for logs and transcripts. Caller frees. */
char *mk_run_argv_string(const char *const *argv);
/* Is an executable named prog on PATH (or an absolute/relative path)? */
bool mk_run_have(const char *prog);

#endif
