/* ssh-interactive.c - `mkube ssh`: the system ssh client via mk_run, else a libssh pty. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "run.h"
#include "ssh-internal.h"

/* Arguments joined with spaces, as the ssh client does: `mkube ssh 'a | b'` works. */
static char *join_cmd(const char *const *argv)
{
    struct mk_buf b = MK_BUF_INIT;
    for (size_t i = 0; argv && argv[i]; i++) {
        if (i)
            mk_buf_adds(&b, " ");
        mk_buf_adds(&b, argv[i]);
    }
    return mk_buf_detach(&b);
}

static volatile sig_atomic_t winch;

static void on_winch(int sig)
{
    winch = 1;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int term_fn(void *data, bool is_stderr, const char *chunk, size_t len)
{
    (void)write_all(is_stderr ? 2 : 1, chunk, len);
    return 0;
}

int mk_ssh_interactive_native(const struct mk_ssh_target *t, const char *const *cmd_argv,
                              struct mk_error **err)
{
    mk_autossh struct mk_ssh *s = mk_ssh_connect_target(t, 0, err);
    if (!s)
        return -1;
    mk_autofree char *cmd = join_cmd(cmd_argv);
    bool tty = isatty(0);
    mk_autochan struct mk_ssh_chan c;
    if (mk_ssh_chan_open(s, &c, term_fn, NULL) < 0)
        return mk_ssh_lost(s, cmd, err);
    ssh_channel ch = c.ch;
    struct mk_ssh_chan_state *st = &c.st;
    struct termios saved;
    bool raw = false;
    struct sigaction old_winch;
    if (tty) {
        struct winsize ws = {.ws_col = 80, .ws_row = 24};
        ioctl(0, TIOCGWINSZ, &ws);
        const char *term = getenv("TERM");
        if (ssh_channel_request_pty_size(ch, term && *term ? term : "xterm", ws.ws_col,
                                         ws.ws_row) != SSH_OK)
            return mk_ssh_lost(s, cmd, err);
    }
    int r = *cmd ? ssh_channel_request_exec(ch, cmd) : ssh_channel_request_shell(ch);
    if (r != SSH_OK)
        return mk_ssh_lost(s, cmd, err);
    if (tty && tcgetattr(0, &saved) == 0) {
        struct termios rawt = saved;
        cfmakeraw(&rawt);
        raw = tcsetattr(0, TCSADRAIN, &rawt) == 0;
        struct sigaction sa = {.sa_handler = on_winch};
        sigaction(SIGWINCH, &sa, &old_winch);
    }
    int rc = -1;
    mk_autoevent ssh_event ev = ssh_event_new();
    if (!ev || ssh_event_add_session(ev, s->session) != SSH_OK) {
        mk_error_set(err, MK_EXIT_FAILURE, "cannot poll the SSH connection");
        goto cleanup;
    }
    bool in_open = true;
    char buf[4096];
    while (!st->closed && !(st->eof && st->have_status)) {
        if (winch) {
            winch = 0;
            struct winsize ws;
            if (ioctl(0, TIOCGWINSZ, &ws) == 0)
                ssh_channel_change_pty_size(ch, ws.ws_col, ws.ws_row);
        }
        struct pollfd p[2] = {{.fd = ssh_get_fd(s->session), .events = POLLIN},
                              {.fd = 0, .events = POLLIN}};
        if (poll(p, in_open ? 2 : 1, 200) < 0 && errno != EINTR)
            break;
        if (in_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t n = read(0, buf, sizeof(buf));
            if (n > 0) {
                if (ssh_channel_write(ch, buf, (uint32_t)n) == SSH_ERROR)
                    break;
            } else if (n == 0 || errno != EINTR) {
                in_open = false;
                ssh_channel_send_eof(ch);
            }
        }
        if (ssh_event_dopoll(ev, 0) == SSH_ERROR ||
            ssh_get_status(s->session) & (SSH_CLOSED | SSH_CLOSED_ERROR))
            break;
    }
    ssh_event_remove_session(ev, s->session);
    if (!st->have_status) {
        mk_ssh_lost(s, cmd, err);
        goto cleanup;
    }
    rc = st->status;
cleanup:
    if (raw) {
        tcsetattr(0, TCSADRAIN, &saved);
        sigaction(SIGWINCH, &old_winch, NULL);
    }
    return rc;
}

int mk_ssh_interactive(const char *host, unsigned port, const char *user, const char *key_path,
                       const char *known_hosts_path, const char *const *cmd_argv,
                       struct mk_error **err)
{
    struct mk_ssh_target t = {host, port, user, key_path, known_hosts_path, false};
    if (!mk_run_have("ssh"))
        return mk_ssh_interactive_native(&t, cmd_argv, err);
    /* the options minikube passes to the system client, with our own known_hosts */
    mk_autofree char *port_s = xasprintf("%u", port);
    mk_autofree char *dest = xasprintf("%s@%s", user, host);
    mk_autofree char *khopt = xasprintf("UserKnownHostsFile=%s", known_hosts_path);
    const char *fixed[] = {
        "ssh",
        "-F",
        "/dev/null",
        "-o",
        "ConnectionAttempts=3",
        "-o",
        "ConnectTimeout=10",
        "-o",
        "ControlMaster=no",
        "-o",
        "ControlPath=none",
        "-o",
        "LogLevel=quiet",
        "-o",
        "PasswordAuthentication=no",
        "-o",
        "ServerAliveInterval=60",
        "-o",
        "StrictHostKeyChecking=accept-new",
        "-o",
        khopt,
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        "IdentitiesOnly=yes",
        "-i",
        key_path,
        "-p",
        port_s,
    };
    size_t ncmd = 0;
    while (cmd_argv && cmd_argv[ncmd])
        ncmd++;
    const char **argv = xcalloc(MK_ARRAY_SIZE(fixed) + ncmd + 4, sizeof(*argv));
    size_t n = 0;
    for (size_t i = 0; i < MK_ARRAY_SIZE(fixed); i++)
        argv[n++] = fixed[i];
    if (ncmd && isatty(0))
        argv[n++] = "-t";
    argv[n++] = dest;
    if (ncmd)
        argv[n++] = "--";
    for (size_t i = 0; i < ncmd; i++)
        argv[n++] = cmd_argv[i];
    argv[n] = NULL;
    struct mk_run_opts o = {.inherit_stdin = true};
    struct mk_run_result res;
    mk_run_result_init(&res);
    int rc = mk_run(argv, &o, &res, err);
    free(argv);
    if (rc == 0)
        rc = res.status;
    mk_run_result_release(&res);
    return rc;
}
