/* run.c - subprocess execution with capture, stdin feeding, timeouts, detach,
 * and a dry-run hook for tests (see run.h). */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static mk_run_hook run_hook;
static void *run_hook_data;

void mk_run_set_hook(mk_run_hook hook, void *data)
{
    run_hook = hook;
    run_hook_data = data;
}

void mk_run_result_init(struct mk_run_result *res)
{
    memset(res, 0, sizeof(*res));
    mk_buf_init(&res->out);
    mk_buf_init(&res->err);
}

void mk_run_result_release(struct mk_run_result *res)
{
    mk_buf_release(&res->out);
    mk_buf_release(&res->err);
}

char *mk_run_argv_string(const char *const *argv)
{
    struct mk_buf b = MK_BUF_INIT;
    for (size_t i = 0; argv[i]; i++) {
        const char *a = argv[i];
        if (i)
            mk_buf_adds(&b, " ");
        if (*a && strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./:,@+%") ==
                      strlen(a)) {
            mk_buf_adds(&b, a);
            continue;
        }
        mk_buf_adds(&b, "'");
        for (const char *p = a; *p; p++) {
            if (*p == '\'')
                mk_buf_adds(&b, "'\\''");
            else
                mk_buf_add(&b, p, 1);
        }
        mk_buf_adds(&b, "'");
    }
    return mk_buf_detach(&b);
}

bool mk_run_have(const char *prog)
{
    if (strchr(prog, '/'))
        return access(prog, X_OK) == 0;
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    mk_autofree char *copy = xstrdup(path);
    char *save = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        mk_autofree char *p = xasprintf("%s/%s", *dir ? dir : ".", prog);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0)
            return true;
    }
    return false;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void child_exec(const char *const *argv, const struct mk_run_opts *o, int in_fd, int out_fd,
                       int err_fd)
{
    if (o->detach)
        setsid();
    if (in_fd >= 0)
        dup2(in_fd, 0);
    if (out_fd >= 0)
        dup2(out_fd, 1);
    if (err_fd >= 0)
        dup2(err_fd, 2);
    /* close everything else so pipes and sockets do not leak into children */
    long maxfd = sysconf(_SC_OPEN_MAX);
    for (long fd = 3; fd < (maxfd > 0 && maxfd < 65536 ? maxfd : 4096); fd++)
        close((int)fd);
    if (o->cwd && chdir(o->cwd) < 0) {
        dprintf(2, "mkube: cannot change directory to %s: %s\n", o->cwd, strerror(errno));
        _exit(127);
    }
    for (size_t i = 0; o->env && o->env[i]; i++)
        putenv(o->env[i]);
    signal(SIGPIPE, SIG_DFL);
    execvp(argv[0], (char *const *)argv);
    dprintf(2, "mkube: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

static int run_detached(const char *const *argv, const struct mk_run_opts *o,
                        struct mk_run_result *res, struct mk_error **err)
{
    int out = open(o->output_file ? o->output_file : "/dev/null",
                   O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (out < 0)
        return mk_error_errno(err, errno, "cannot open %s", o->output_file);
    int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    /* double fork so the program is reparented and never becomes our zombie */
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        close(out);
        close(in);
        return mk_error_errno(err, errno, "cannot create a pipe");
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(out);
        close(in);
        close(pfd[0]);
        close(pfd[1]);
        return mk_error_errno(err, errno, "cannot fork");
    }
    if (pid == 0) {
        setsid();
        pid_t gc = fork();
        if (gc == 0) {
            close(pfd[0]);
            /* keep pfd[1] open across exec? no: it is CLOEXEC, so EOF tells exec happened */
            child_exec(argv, o, in, out, out);
        }
        (void)!write(pfd[1], &gc, sizeof(gc));
        _exit(gc < 0 ? 1 : 0);
    }
    close(pfd[1]);
    close(out);
    close(in);
    pid_t gc = -1;
    ssize_t n = read(pfd[0], &gc, sizeof(gc));
    close(pfd[0]);
    int st;
    waitpid(pid, &st, 0);
    if (n != sizeof(gc) || gc < 0)
        return mk_error_set(err, MK_EXIT_FAILURE, "cannot start %s", argv[0]);
    res->pid = gc;
    res->status = 0;
    return 0;
}

int mk_run(const char *const *argv, const struct mk_run_opts *opts, struct mk_run_result *res,
           struct mk_error **err)
{
    static const struct mk_run_opts none;
    const struct mk_run_opts *o = opts ? opts : &none;
    struct mk_run_result scratch;
    bool own = !res;
    if (own) {
        mk_run_result_init(&scratch);
        res = &scratch;
    }
    res->status = -1;
    res->timed_out = false;
    if (mk_log_verbosity() >= 2 || getenv("MKUBE_TRACE_RUN")) {
        mk_autofree char *s = mk_run_argv_string(argv);
        mk_debug(2, "run: %s", s);
    }
    if (run_hook) {
        int r = run_hook(argv, o, res, run_hook_data);
        if (r < 0 && err && !*err)
            mk_error_set(err, MK_EXIT_FAILURE, "cannot run %s", argv[0]);
        if (own)
            mk_run_result_release(&scratch);
        return r;
    }
    if (o->detach) {
        int r = run_detached(argv, o, res, err);
        if (own)
            mk_run_result_release(&scratch);
        return r;
    }

    int inp[2] = {-1, -1}, outp[2] = {-1, -1}, errp[2] = {-1, -1};
    int devnull = -1;
    int rc = -1;
    if (!o->inherit_stdin) {
        if (o->input) {
            if (pipe2(inp, O_CLOEXEC) < 0)
                goto pipe_fail;
        } else {
            devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        }
    }
    if (o->capture_stdout && pipe2(outp, O_CLOEXEC) < 0)
        goto pipe_fail;
    if (o->capture_stderr && pipe2(errp, O_CLOEXEC) < 0)
        goto pipe_fail;

    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        mk_error_errno(err, errno, "cannot fork to run %s", argv[0]);
        goto cleanup;
    }
    if (pid == 0)
        child_exec(argv, o, o->input ? inp[0] : devnull, outp[1], errp[1]);

    if (inp[0] >= 0)
        close(inp[0]), inp[0] = -1;
    if (outp[1] >= 0)
        close(outp[1]), outp[1] = -1;
    if (errp[1] >= 0)
        close(errp[1]), errp[1] = -1;

    size_t in_len = o->input ? (o->input_len ? o->input_len : strlen(o->input)) : 0, in_off = 0;
    if (inp[1] >= 0 && in_len == 0)
        close(inp[1]), inp[1] = -1;
    if (inp[1] >= 0)
        fcntl(inp[1], F_SETFL, O_NONBLOCK);
    void (*old_pipe)(int) = signal(SIGPIPE, SIG_IGN);
    long long deadline = o->timeout_ms > 0 ? now_ms() + o->timeout_ms : 0;
    long long kill_at = 0;
    int status = 0;
    bool reaped = false;
    while (outp[0] >= 0 || errp[0] >= 0 || inp[1] >= 0 || !reaped) {
        struct pollfd p[3];
        int np = 0;
        if (outp[0] >= 0)
            p[np++] = (struct pollfd){.fd = outp[0], .events = POLLIN};
        if (errp[0] >= 0)
            p[np++] = (struct pollfd){.fd = errp[0], .events = POLLIN};
        if (inp[1] >= 0)
            p[np++] = (struct pollfd){.fd = inp[1], .events = POLLOUT};
        int wait_ms = 100;
        if (np == 0 && !reaped) {
            pid_t w = waitpid(pid, &status, deadline ? WNOHANG : 0);
            if (w == pid) {
                reaped = true;
                continue;
            }
        }
        if (deadline && now_ms() >= deadline) {
            if (!res->timed_out) {
                res->timed_out = true;
                kill(pid, SIGTERM);
                kill_at = now_ms() + 2000;
            } else if (kill_at && now_ms() >= kill_at) {
                kill(pid, SIGKILL);
                kill_at = 0;
            }
        }
        if (np) {
            int r = poll(p, (nfds_t)np, wait_ms);
            if (r < 0 && errno != EINTR)
                break;
            for (int i = 0; i < np && r > 0; i++) {
                if (!p[i].revents)
                    continue;
                if (p[i].fd == inp[1]) {
                    ssize_t w = write(inp[1], o->input + in_off, in_len - in_off);
                    if (w > 0)
                        in_off += (size_t)w;
                    if (w < 0 && errno != EAGAIN && errno != EINTR)
                        in_off = in_len;
                    if (in_off >= in_len)
                        close(inp[1]), inp[1] = -1;
                    continue;
                }
                char chunk[8192];
                ssize_t n = read(p[i].fd, chunk, sizeof(chunk));
                if (n > 0) {
                    mk_buf_add(p[i].fd == outp[0] ? &res->out : &res->err, chunk, (size_t)n);
                } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                    if (p[i].fd == outp[0])
                        close(outp[0]), outp[0] = -1;
                    else
                        close(errp[0]), errp[0] = -1;
                }
            }
        } else if (!reaped) {
            struct timespec ts = {0, 50 * 1000000};
            nanosleep(&ts, NULL);
        }
        if (!reaped && waitpid(pid, &status, WNOHANG) == pid)
            reaped = true;
    }
    signal(SIGPIPE, old_pipe);
    if (!reaped)
        waitpid(pid, &status, 0);
    if (WIFEXITED(status))
        res->status = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        res->status = 128 + WTERMSIG(status);
    if (res->timed_out) {
        mk_error_set(err, MK_EXIT_FAILURE, "%s did not finish within %d s", argv[0],
                     o->timeout_ms / 1000);
        goto cleanup;
    }
    if (res->status == 127 && mk_str_has_prefix(mk_buf_str(&res->err), "mkube: cannot run")) {
        mk_buf_rtrim(&res->err);
        mk_error_set(err, MK_EXIT_FAILURE, "%s", mk_buf_str(&res->err) + strlen("mkube: "));
        goto cleanup;
    }
    rc = 0;
    goto cleanup;
pipe_fail:
    mk_error_errno(err, errno, "cannot create pipes to run %s", argv[0]);
cleanup:
    for (int i = 0; i < 2; i++) {
        if (inp[i] >= 0)
            close(inp[i]);
        if (outp[i] >= 0)
            close(outp[i]);
        if (errp[i] >= 0)
            close(errp[i]);
    }
    if (devnull >= 0)
        close(devnull);
    if (own)
        mk_run_result_release(&scratch);
    return rc;
}

int mk_run_check(const char *const *argv, const struct mk_run_opts *opts,
                 struct mk_run_result *res, struct mk_error **err)
{
    struct mk_run_opts o = opts ? *opts : (struct mk_run_opts){0};
    struct mk_run_result scratch;
    bool own = !res;
    if (own) {
        mk_run_result_init(&scratch);
        res = &scratch;
    }
    o.capture_stderr = true;
    int rc = mk_run(argv, &o, res, err);
    if (rc == 0 && res->status != 0) {
        struct mk_buf *e = &res->err;
        mk_buf_rtrim(e);
        const char *last = strrchr(mk_buf_str(e), '\n');
        last = last ? last + 1 : mk_buf_str(e);
        if (*last)
            mk_error_set(err, MK_EXIT_FAILURE, "%s exited with status %d: %s", argv[0],
                         res->status, last);
        else
            mk_error_set(err, MK_EXIT_FAILURE, "%s exited with status %d", argv[0], res->status);
        rc = -1;
    }
    if (own)
        mk_run_result_release(&scratch);
    return rc;
}
