/* ssh.c - libssh client for the guest: keys, TOFU host keys, commands, streamed copies. */
#include "ssh.h"
#include "ssh-internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"

#define DEFAULT_TIMEOUT_MS 30000
#define CHUNK (256u * 1024u)
#define STALL_MS (5 * 60 * 1000) /* a copy that makes no progress this long has failed */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* libssh says "Connection refused"; mkube messages are lowercase. */
static char *lower_first(const char *msg)
{
    char *s = xstrdup(msg && *msg ? msg : "unknown error");
    if (isupper((unsigned char)s[0]) && !isupper((unsigned char)s[1]))
        s[0] = (char)tolower((unsigned char)s[0]);
    size_t n = strlen(s);
    while (n && (s[n - 1] == '.' || s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
    return s;
}

char *mk_ssh_quote(const char *s)
{
    struct mk_buf b = MK_BUF_INIT;
    mk_buf_adds(&b, "'");
    for (const char *p = s; *p; p++) {
        if (*p == '\'')
            mk_buf_adds(&b, "'\\''");
        else
            mk_buf_add(&b, p, 1);
    }
    mk_buf_adds(&b, "'");
    return mk_buf_detach(&b);
}

/* ---- keys ---- */

static void key_freep(ssh_key *k)
{
    if (*k)
        ssh_key_free(*k);
}
#define autokey __attribute__((cleanup(key_freep)))

static char *pubkey_line(ssh_key key, struct mk_error **err)
{
    char *b64 = NULL;
    if (ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK) {
        mk_error_set(err, MK_EXIT_FAILURE, "cannot encode the public key");
        return NULL;
    }
    char *line =
        xasprintf("%s %s %s", ssh_key_type_to_char(ssh_key_type(key)), b64, MK_SSH_KEY_COMMENT);
    ssh_string_free_char(b64);
    return line;
}

static ssh_key load_privkey(const char *priv_path, struct mk_error **err)
{
    ssh_key key = NULL;
    if (access(priv_path, R_OK) < 0) {
        mk_error_errno(err, errno, "cannot read SSH key %s", priv_path);
        return NULL;
    }
    if (ssh_pki_import_privkey_file(priv_path, NULL, NULL, NULL, &key) != SSH_OK) {
        mk_error_set(err, MK_EXIT_FAILURE, "cannot load SSH key %s: not a private key", priv_path);
        return NULL;
    }
    return key;
}

char *mk_ssh_pubkey_line(const char *priv_path, struct mk_error **err)
{
    autokey ssh_key key = load_privkey(priv_path, err);
    if (!key)
        return NULL;
    return pubkey_line(key, err);
}

int mk_ssh_keygen(const char *priv_path, struct mk_error **err)
{
    mk_autofree char *pub_path = xasprintf("%s.pub", priv_path);
    autokey ssh_key key = NULL;
    if (mk_path_exists(priv_path)) {
        if (mk_path_exists(pub_path))
            return 0;
        key = load_privkey(priv_path, err);
        if (!key)
            return -1;
    } else {
        mk_autofree char *dir_copy = xstrdup(priv_path);
        if (mk_mkdir_p(dirname(dir_copy), 0700, err) < 0)
            return -1;
        if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK)
            return mk_error_set(err, MK_EXIT_FAILURE, "cannot generate an ed25519 key");
        /* written 0600 from the start, atomically, and a full disk is an
         * error: ssh_pki_export_privkey_file leaves an empty key file then */
        char *text = NULL;
        if (ssh_pki_export_privkey_base64(key, NULL, NULL, NULL, &text) != SSH_OK)
            return mk_error_set(err, MK_EXIT_FAILURE, "cannot encode the SSH key %s", priv_path);
        size_t len = strlen(text);
        int r = mk_write_file_atomic(priv_path, text, len, 0600, err);
        memset(text, 0, len);
        ssh_string_free_char(text);
        if (r < 0)
            return -1;
    }
    mk_autofree char *line = pubkey_line(key, err);
    if (!line)
        return -1;
    mk_autofree char *content = xasprintf("%s\n", line);
    return mk_write_file_atomic(pub_path, content, strlen(content), 0644, err);
}

/* ---- host keys ---- */

/* The known_hosts name of host:port, as OpenSSH and libssh write it. */
static char *known_hosts_name(const char *host, unsigned port)
{
    return port == 22 ? xstrdup(host) : xasprintf("[%s]:%u", host, port);
}

/* Drop the lines naming host:port from known_hosts (reset after a rebuild). */
static int forget_host_key(const char *path, const char *name, struct mk_error **err)
{
    mk_autobuf struct mk_buf in = MK_BUF_INIT;
    mk_autobuf struct mk_buf out = MK_BUF_INIT;
    bool enoent = false;
    if (mk_read_file(path, &in, 0, &enoent, NULL) < 0)
        return enoent ? 0 : mk_error_errno(err, errno, "cannot read %s", path);
    char *save = NULL;
    for (char *line = strtok_r(in.buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        size_t hl = strcspn(line, " \t");
        mk_autofree char *hosts = xstrndup(line, hl);
        bool match = false;
        char *hs = NULL;
        for (char *h = strtok_r(hosts, ",", &hs); h; h = strtok_r(NULL, ",", &hs))
            match = match || strcmp(h, name) == 0;
        if (!match)
            mk_buf_addf(&out, "%s\n", line);
    }
    return mk_write_file_atomic(path, out.buf ? out.buf : "", out.len, 0644, err);
}

enum conn_fail { CONN_RETRY = 1, CONN_FATAL = 2 };

static int verify_host_key(ssh_session ss, const struct mk_ssh_target *t, const char *where,
                           struct mk_error **err)
{
    mk_autofree char *name = known_hosts_name(t->host, t->port);
    enum ssh_known_hosts_e state = ssh_session_is_known_server(ss);
    switch (state) {
    case SSH_KNOWN_HOSTS_OK:
        return 0;
    case SSH_KNOWN_HOSTS_CHANGED:
    case SSH_KNOWN_HOSTS_OTHER:
        if (!t->reset_host_key) {
            mk_error_set(err, MK_EXIT_GUEST,
                         "the SSH host key of %s changed since it was stored in %s", where,
                         t->known_hosts_path);
            mk_error_hint(err,
                          "if the guest was rebuilt on purpose, delete %s and retry; "
                          "otherwise something else answers on port %u",
                          t->known_hosts_path, t->port);
            return -CONN_FATAL;
        }
        mk_debug(1, "ssh: forgetting the old host key of %s in %s", name, t->known_hosts_path);
        if (forget_host_key(t->known_hosts_path, name, err) < 0)
            return -CONN_FATAL;
        break;
    case SSH_KNOWN_HOSTS_NOT_FOUND:
    case SSH_KNOWN_HOSTS_UNKNOWN:
        break;
    case SSH_KNOWN_HOSTS_ERROR:
    default:
        mk_error_set(err, MK_EXIT_GUEST, "cannot check the SSH host key of %s against %s", where,
                     t->known_hosts_path);
        return -CONN_FATAL;
    }
    /* trust on first use */
    if (ssh_session_update_known_hosts(ss) != SSH_OK) {
        mk_autofree char *why = lower_first(ssh_get_error(ss));
        mk_error_set(err, MK_EXIT_GUEST, "cannot store the SSH host key of %s in %s: %s", where,
                     t->known_hosts_path, why);
        return -CONN_FATAL;
    }
    mk_debug(1, "ssh: trusting the host key of %s (stored in %s)", name, t->known_hosts_path);
    return 0;
}

/* ---- connections ---- */

/* Returns the connection, or NULL with *err set and *fail telling whether a
 * retry could help (refused, timed out, closed early, key not yet installed). */
static struct mk_ssh *try_connect(const struct mk_ssh_target *t, int timeout_ms, ssh_key key,
                                  int *fail, struct mk_error **err)
{
    mk_autofree char *where = xasprintf("%s@%s:%u", t->user, t->host, t->port);
    *fail = CONN_FATAL;
    ssh_session ss = ssh_new();
    if (!ss) {
        mk_error_set(err, MK_EXIT_FAILURE, "cannot create an SSH session");
        return NULL;
    }
    if (timeout_ms <= 0)
        timeout_ms = DEFAULT_TIMEOUT_MS;
    long secs = timeout_ms / 1000, usecs = (long)(timeout_ms % 1000) * 1000;
    int port = (int)t->port;
    bool no = false;
    int verbosity = SSH_LOG_NOLOG;
    ssh_options_set(ss, SSH_OPTIONS_PROCESS_CONFIG,
                    &no); /* the user's ~/.ssh/config must not steer us */
    ssh_options_set(ss, SSH_OPTIONS_HOST, t->host);
    ssh_options_set(ss, SSH_OPTIONS_PORT, &port);
    ssh_options_set(ss, SSH_OPTIONS_USER, t->user);
    ssh_options_set(ss, SSH_OPTIONS_TIMEOUT, &secs);
    ssh_options_set(ss, SSH_OPTIONS_TIMEOUT_USEC, &usecs);
    ssh_options_set(ss, SSH_OPTIONS_KNOWNHOSTS, t->known_hosts_path);
    ssh_options_set(ss, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null");
    ssh_options_set(ss, SSH_OPTIONS_LOG_VERBOSITY, &verbosity);

    if (ssh_connect(ss) != SSH_OK) {
        mk_autofree char *why = lower_first(ssh_get_error(ss));
        mk_error_set(err, MK_EXIT_GUEST, "cannot connect to %s: %s", where, why);
        *fail = CONN_RETRY;
        goto fail;
    }
    int r = verify_host_key(ss, t, where, err);
    if (r < 0) {
        *fail = -r;
        goto fail;
    }
    int rc = ssh_userauth_publickey(ss, NULL, key);
    if (rc != SSH_AUTH_SUCCESS) {
        mk_autofree char *why = lower_first(ssh_get_error(ss));
        if (rc == SSH_AUTH_DENIED || rc == SSH_AUTH_PARTIAL)
            mk_error_set(err, MK_EXIT_GUEST, "cannot log in to %s: the key %s was refused", where,
                         t->key_path);
        else
            mk_error_set(err, MK_EXIT_GUEST, "cannot log in to %s: %s", where, why);
        *fail = CONN_RETRY; /* early in boot the key may not be installed yet */
        goto fail;
    }
    struct mk_ssh *s = xcalloc(1, sizeof(*s));
    s->session = ss;
    s->user = xstrdup(t->user);
    s->where = xstrdup(where);
    s->timeout_ms = timeout_ms;
    mk_debug(2, "ssh: connected to %s", where);
    return s;
fail:
    ssh_disconnect(ss);
    ssh_free(ss);
    return NULL;
}

static int prepare_target(const struct mk_ssh_target *t, ssh_key *key, struct mk_error **err)
{
    if (!t->host || !t->user || !t->key_path || !t->known_hosts_path || !t->port)
        return mk_error_set(err, MK_EXIT_FAILURE, "incomplete SSH target");
    mk_autofree char *dir_copy = xstrdup(t->known_hosts_path);
    if (mk_mkdir_p(dirname(dir_copy), 0700, err) < 0)
        return -1;
    *key = load_privkey(t->key_path, err);
    return *key ? 0 : -1;
}

struct mk_ssh *mk_ssh_connect_target(const struct mk_ssh_target *t, int timeout_ms,
                                     struct mk_error **err)
{
    autokey ssh_key key = NULL;
    if (prepare_target(t, &key, err) < 0)
        return NULL;
    int fail;
    return try_connect(t, timeout_ms, key, &fail, err);
}

struct mk_ssh *mk_ssh_connect(const char *host, unsigned port, const char *user,
                              const char *key_path, const char *known_hosts_path, int timeout_ms,
                              struct mk_error **err)
{
    struct mk_ssh_target t = {host, port, user, key_path, known_hosts_path, false};
    return mk_ssh_connect_target(&t, timeout_ms, err);
}

struct mk_ssh *mk_ssh_wait_connect(const struct mk_ssh_target *t, int timeout_ms,
                                   struct mk_error **err)
{
    autokey ssh_key key = NULL;
    if (prepare_target(t, &key, err) < 0)
        return NULL;
    long long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS);
    for (int attempt = 1;; attempt++) {
        long long left = deadline - now_ms();
        int per_try = left > 15000 ? 15000 : (int)(left > 100 ? left : 100);
        struct mk_error *e = NULL;
        int fail = 0;
        struct mk_ssh *s = try_connect(t, per_try, key, &fail, &e);
        if (s) {
            mk_debug(1, "ssh: %s answered after %d attempt(s)", s->where, attempt);
            return s;
        }
        if (fail == CONN_FATAL) {
            *err = e;
            return NULL;
        }
        mk_debug(1, "ssh: waiting (attempt %d): %s", attempt, e->msg);
        left = deadline - now_ms();
        if (left <= 0) {
            mk_error_set(err, MK_EXIT_GUEST, "%s@%s:%u did not answer on SSH within %d s: %s",
                         t->user, t->host, t->port, (timeout_ms + 999) / 1000, e->msg);
            mk_error_free(e);
            return NULL;
        }
        mk_error_free(e);
        struct timespec ts = {0, (left > 1000 ? 1000 : left) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

int mk_ssh_wait(const char *host, unsigned port, const char *user, const char *key_path,
                const char *known_hosts_path, int timeout_ms, struct mk_error **err)
{
    struct mk_ssh_target t = {host, port, user, key_path, known_hosts_path, false};
    struct mk_ssh *s = mk_ssh_wait_connect(&t, timeout_ms, err);
    if (!s)
        return -1;
    mk_ssh_close(s);
    return 0;
}

void mk_ssh_close(struct mk_ssh *s)
{
    if (!s)
        return;
    ssh_disconnect(s->session);
    ssh_free(s->session);
    free(s->user);
    free(s->where);
    free(s);
}

void mk_ssh_closep(struct mk_ssh **s)
{
    mk_ssh_close(*s);
    *s = NULL;
}

/* ---- commands ---- */

static int signal_number(const char *name)
{
    static const struct {
        const char *n;
        int v;
    } sigs[] = {
        {"HUP", 1},   {"INT", 2},   {"QUIT", 3},  {"ILL", 4},   {"ABRT", 6},
        {"FPE", 8},   {"KILL", 9},  {"USR1", 10}, {"SEGV", 11}, {"USR2", 12},
        {"PIPE", 13}, {"ALRM", 14}, {"TERM", 15},
    };
    for (size_t i = 0; name && i < MK_ARRAY_SIZE(sigs); i++)
        if (strcmp(sigs[i].n, name) == 0)
            return sigs[i].v;
    return 127;
}

static int on_data(ssh_session ss, ssh_channel ch, void *data, uint32_t len, int is_stderr,
                   void *ud)
{
    struct mk_ssh_chan_state *st = ud;
    if (st->fn && !st->aborted && st->fn(st->data, is_stderr != 0, data, len) != 0)
        st->aborted = true;
    return (int)len;
}

static void on_eof(ssh_session ss, ssh_channel ch, void *ud)
{
    ((struct mk_ssh_chan_state *)ud)->eof = true;
}

static void on_close(ssh_session ss, ssh_channel ch, void *ud)
{
    ((struct mk_ssh_chan_state *)ud)->closed = true;
}

static void on_exit_status(ssh_session ss, ssh_channel ch, int status, void *ud)
{
    struct mk_ssh_chan_state *st = ud;
    st->status = status;
    st->have_status = true;
}

static void on_exit_signal(ssh_session ss, ssh_channel ch, const char *sig, int core,
                           const char *errmsg, const char *lang, void *ud)
{
    struct mk_ssh_chan_state *st = ud;
    st->status = 128 + signal_number(sig);
    st->have_status = true;
}

int mk_ssh_chan_open(struct mk_ssh *s, struct mk_ssh_chan *c, mk_ssh_output_fn fn, void *data)
{
    memset(c, 0, sizeof(*c));
    c->st.fn = fn;
    c->st.data = data;
    c->st.status = -1;
    c->ch = ssh_channel_new(s->session);
    if (!c->ch)
        return -1;
    c->cb.userdata = &c->st;
    c->cb.channel_data_function = on_data;
    c->cb.channel_eof_function = on_eof;
    c->cb.channel_close_function = on_close;
    c->cb.channel_exit_status_function = on_exit_status;
    c->cb.channel_exit_signal_function = on_exit_signal;
    ssh_callbacks_init(&c->cb);
    ssh_set_channel_callbacks(c->ch, &c->cb);
    return ssh_channel_open_session(c->ch) == SSH_OK ? 0 : -1;
}

void mk_ssh_chan_release(struct mk_ssh_chan *c)
{
    if (!c->ch)
        return;
    ssh_remove_channel_callbacks(c->ch, &c->cb);
    ssh_channel_close(c->ch);
    ssh_channel_free(c->ch);
    c->ch = NULL;
}
void mk_ssh_event_freep(ssh_event *ev)
{
    if (*ev)
        ssh_event_free(*ev);
}
/* A short form of a command for messages. */
static char *cmd_label(const char *cmd)
{
    size_t n = strcspn(cmd, "\n");
    if (n > 80)
        return xasprintf("%.77s...", cmd);
    return n < strlen(cmd) ? xasprintf("%.*s...", (int)n, cmd) : xstrdup(cmd);
}

int mk_ssh_lost(struct mk_ssh *s, const char *cmd, struct mk_error **err)
{
    mk_autofree char *why = lower_first(ssh_get_error(s->session));
    mk_autofree char *label = cmd_label(cmd);
    return mk_error_set(err, MK_EXIT_GUEST, "cannot run \"%s\" on %s: %s", label, s->where, why);
}

/* Source of stdin bytes: a buffer or a file descriptor. */
struct feed {
    const char *data;
    size_t len;
    int fd;
    uint64_t sent;
};

static int channel_feed(struct mk_ssh *s, ssh_channel ch, struct mk_ssh_chan_state *st,
                        struct feed *f, long long deadline, const char *cmd, struct mk_error **err)
{
    mk_autofree char *chunk = f->fd >= 0 ? xmalloc(CHUNK) : NULL;
    size_t off = 0, have = 0;
    long long last_progress = now_ms();
    for (;;) {
        if (f->fd >= 0 && off == have) {
            ssize_t n = read(f->fd, chunk, CHUNK);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return mk_error_errno(err, errno, "cannot read the data to send to %s", s->where);
            if (n == 0)
                break;
            off = 0;
            have = (size_t)n;
        } else if (f->fd < 0) {
            if (f->sent >= f->len)
                break;
        }
        const char *p = f->fd >= 0 ? chunk + off : f->data + f->sent;
        size_t want = f->fd >= 0 ? have - off : f->len - (size_t)f->sent;
        if (want > CHUNK)
            want = CHUNK;
        int w = ssh_channel_write(ch, p, (uint32_t)want);
        bool gone = st->closed || st->eof || ssh_channel_is_closed(ch);
        if (w == SSH_ERROR && !(gone && ssh_is_connected(s->session)))
            return mk_ssh_lost(s, cmd, err);
        if (w <= 0 && gone)
            break; /* the command ended without reading everything: its status will tell */
        if (w > 0) {
            last_progress = now_ms();
        } else if (now_ms() - last_progress > STALL_MS) {
            mk_autofree char *label = cmd_label(cmd);
            return mk_error_set(err, MK_EXIT_GUEST,
                                "\"%s\" on %s stopped reading its input for %d s", label, s->where,
                                STALL_MS / 1000);
        }
        if (f->fd >= 0)
            off += (size_t)w;
        f->sent += (uint64_t)w;
        if (deadline && now_ms() > deadline)
            break;
    }
    return 0;
}

/* Open a session channel, run cmd, feed stdin, collect until the end. */
static int run_channel(struct mk_ssh *s, const char *cmd, struct feed *f, mk_ssh_output_fn fn,
                       void *data, int *exit_status, int timeout_ms, struct mk_error **err)
{
    mk_autofree char *label = cmd_label(cmd);
    mk_debug(3, "ssh %s: %s", s->where, cmd);
    long long deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
    mk_autochan struct mk_ssh_chan c;
    if (mk_ssh_chan_open(s, &c, fn, data) < 0 || ssh_channel_request_exec(c.ch, cmd) != SSH_OK)
        return mk_ssh_lost(s, cmd, err);
    if (f && channel_feed(s, c.ch, &c.st, f, deadline, cmd, err) < 0)
        return -1;
    if (!c.st.closed && !ssh_channel_is_closed(c.ch))
        ssh_channel_send_eof(c.ch);

    mk_autoevent ssh_event ev = ssh_event_new();
    if (!ev || ssh_event_add_session(ev, s->session) != SSH_OK)
        return mk_error_set(err, MK_EXIT_FAILURE, "cannot poll the SSH connection");
    while (!c.st.closed && !(c.st.eof && c.st.have_status) && !c.st.aborted) {
        if (deadline && now_ms() > deadline) {
            ssh_channel_request_send_signal(c.ch, "TERM");
            ssh_event_remove_session(ev, s->session);
            return mk_error_set(err, MK_EXIT_GUEST, "\"%s\" did not finish within %d s on %s",
                                label, (timeout_ms + 999) / 1000, s->where);
        }
        if (ssh_event_dopoll(ev, 200) == SSH_ERROR ||
            ssh_get_status(s->session) & (SSH_CLOSED | SSH_CLOSED_ERROR)) {
            ssh_event_remove_session(ev, s->session);
            return mk_ssh_lost(s, cmd, err);
        }
    }
    ssh_event_remove_session(ev, s->session);
    if (c.st.aborted)
        return mk_error_set(err, MK_EXIT_GUEST, "\"%s\" on %s was aborted", label, s->where);
    if (!c.st.have_status)
        return mk_error_set(err, MK_EXIT_GUEST, "\"%s\" on %s ended without an exit status", label,
                            s->where);
    *exit_status = c.st.status;
    return 0;
}

int mk_ssh_run_stream(struct mk_ssh *s, const char *cmd, const char *input, size_t input_len,
                      mk_ssh_output_fn fn, void *data, int *exit_status, int timeout_ms,
                      struct mk_error **err)
{
    int dummy;
    struct feed f = {.data = input, .len = input ? input_len : 0, .fd = -1};
    return run_channel(s, cmd, input ? &f : NULL, fn, data, exit_status ? exit_status : &dummy,
                       timeout_ms, err);
}

struct collect {
    struct mk_buf *out;
    struct mk_buf *err;
};

static int collect_fn(void *data, bool is_stderr, const char *chunk, size_t len)
{
    struct collect *c = data;
    struct mk_buf *b = is_stderr ? c->err : c->out;
    if (b)
        mk_buf_add(b, chunk, len);
    return 0;
}

int mk_ssh_run(struct mk_ssh *s, const char *cmd, const char *input, size_t input_len,
               struct mk_buf *out, struct mk_buf *errout, int *exit_status, int timeout_ms,
               struct mk_error **err)
{
    struct collect c = {out, errout};
    return mk_ssh_run_stream(s, cmd, input, input_len, collect_fn, &c, exit_status, timeout_ms,
                             err);
}

static const char *last_line(struct mk_buf *b)
{
    mk_buf_rtrim(b);
    const char *s = mk_buf_str(b);
    const char *nl = strrchr(s, '\n');
    return nl ? nl + 1 : s;
}

static int status_error(struct mk_ssh *s, const char *cmd, int status, struct mk_buf *errb,
                        struct mk_buf *outb, struct mk_error **err)
{
    mk_autofree char *label = cmd_label(cmd);
    const char *why = last_line(errb);
    if (!*why && outb)
        why = last_line(outb);
    if (*why)
        return mk_error_set(err, MK_EXIT_GUEST, "\"%s\" exited with status %d on %s: %s", label,
                            status, s->where, why);
    return mk_error_set(err, MK_EXIT_GUEST, "\"%s\" exited with status %d on %s", label, status,
                        s->where);
}

int mk_ssh_run_check(struct mk_ssh *s, const char *cmd, const char *input, size_t input_len,
                     struct mk_buf *out, int timeout_ms, struct mk_error **err)
{
    mk_autobuf struct mk_buf errb = MK_BUF_INIT;
    int status = -1;
    if (mk_ssh_run(s, cmd, input, input_len, out, &errb, &status, timeout_ms, err) < 0)
        return -1;
    if (status != 0)
        return status_error(s, cmd, status, &errb, out, err);
    return 0;
}

struct logged {
    struct mk_buf *out;
    struct mk_buf err;
    struct mk_buf line[2];
};

static void log_lines(struct mk_buf *pending, const char *chunk, size_t len, bool flush)
{
    mk_buf_add(pending, chunk, len);
    char *start = pending->buf;
    char *nl;
    while (start && (nl = memchr(start, '\n', pending->len - (size_t)(start - pending->buf)))) {
        *nl = '\0';
        mk_debug(1, "%s", start);
        start = nl + 1;
    }
    size_t rest = start ? pending->len - (size_t)(start - pending->buf) : 0;
    if (flush && rest) {
        mk_debug(1, "%s", start);
        rest = 0;
    }
    if (start && start != pending->buf)
        memmove(pending->buf, start, rest);
    pending->len = rest;
    if (pending->buf)
        pending->buf[rest] = '\0';
}

static int logged_fn(void *data, bool is_stderr, const char *chunk, size_t len)
{
    struct logged *l = data;
    if (is_stderr)
        mk_buf_add(&l->err, chunk, len);
    else if (l->out)
        mk_buf_add(l->out, chunk, len);
    log_lines(&l->line[is_stderr], chunk, len, false);
    return 0;
}

int mk_ssh_run_logged(struct mk_ssh *s, const char *cmd, struct mk_buf *out, int timeout_ms,
                      struct mk_error **err)
{
    struct logged l = {.out = out};
    int status = -1;
    int rc = mk_ssh_run_stream(s, cmd, NULL, 0, logged_fn, &l, &status, timeout_ms, err);
    for (int i = 0; i < 2; i++) {
        log_lines(&l.line[i], "", 0, true);
        mk_buf_release(&l.line[i]);
    }
    if (rc == 0 && status != 0)
        rc = status_error(s, cmd, status, &l.err, out, err);
    mk_buf_release(&l.err);
    return rc;
}

/* ---- copies ---- */

static unsigned upload_counter;

/* Stream f into remote_path (mode) through `cat`, via a temp name beside it. */
static int upload(struct mk_ssh *s, struct feed *f, const char *remote_path, unsigned mode,
                  struct mk_error **err)
{
    mk_autofree char *dir_copy = xstrdup(remote_path);
    mk_autofree char *qdir = mk_ssh_quote(dirname(dir_copy));
    mk_autofree char *tmp =
        xasprintf("%s.mkube-%ld-%u", remote_path, (long)getpid(), ++upload_counter);
    mk_autofree char *qtmp = mk_ssh_quote(tmp);
    mk_autofree char *qdst = mk_ssh_quote(remote_path);
    mk_autofree char *cmd =
        xasprintf("umask 077 && mkdir -p %s && cat > %s && chmod %04o %s && mv -f %s %s || "
                  "{ rc=$?; rm -f %s; exit $rc; }",
                  qdir, qtmp, mode & 07777, qtmp, qtmp, qdst, qtmp);
    mk_autobuf struct mk_buf errb = MK_BUF_INIT;
    struct collect c = {NULL, &errb};
    int status = -1;
    long long t0 = now_ms();
    if (run_channel(s, cmd, f, collect_fn, &c, &status, 0, err) < 0)
        return mk_error_wrap(err, "cannot copy to %s", remote_path);
    if (status != 0) {
        const char *why = last_line(&errb);
        return mk_error_set(err, MK_EXIT_GUEST, "cannot copy to %s on %s: %s", remote_path,
                            s->where, *why ? why : "the remote side failed");
    }
    long long dt = now_ms() - t0;
    mk_debug(2, "ssh: copied %llu bytes to %s in %lld ms", (unsigned long long)f->sent, remote_path,
             dt);
    return 0;
}

int mk_ssh_write(struct mk_ssh *s, const void *data, size_t len, const char *remote_path,
                 unsigned mode, struct mk_error **err)
{
    struct feed f = {.data = data, .len = len, .fd = -1};
    return upload(s, &f, remote_path, mode, err);
}

int mk_ssh_copy(struct mk_ssh *s, const char *local_path, const char *remote_path, unsigned mode,
                struct mk_error **err)
{
    mk_autoclose int fd = open(local_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mk_error_errno(err, errno, "cannot read %s", local_path);
    struct feed f = {.fd = fd};
    return upload(s, &f, remote_path, mode, err);
}

/* After an upload to tmp: sudo install it into remote_path. */
static int sudo_install(struct mk_ssh *s, const char *tmp, const char *remote_path, unsigned mode,
                        struct mk_error **err)
{
    const char *sudo = mk_streq(s->user, "root") ? "" : "sudo ";
    mk_autofree char *dir_copy = xstrdup(remote_path);
    mk_autofree char *qdir = mk_ssh_quote(dirname(dir_copy));
    mk_autofree char *qtmp = mk_ssh_quote(tmp);
    mk_autofree char *qdst = mk_ssh_quote(remote_path);
    mk_autofree char *cmd =
        xasprintf("%smkdir -p %s && %sinstall -m %04o %s %s; rc=$?; rm -f %s; exit $rc", sudo, qdir,
                  sudo, mode & 07777, qtmp, qdst, qtmp);
    if (mk_ssh_run_check(s, cmd, NULL, 0, NULL, s->timeout_ms * 4, err) < 0)
        return mk_error_wrap(err, "cannot install %s", remote_path);
    return 0;
}

int mk_ssh_sudo_write(struct mk_ssh *s, const void *data, size_t len, const char *remote_path,
                      unsigned mode, struct mk_error **err)
{
    mk_autofree char *tmp = xasprintf("/tmp/mkube-upload-%ld-%u", (long)getpid(), ++upload_counter);
    if (mk_ssh_write(s, data, len, tmp, 0600, err) < 0)
        return -1;
    return sudo_install(s, tmp, remote_path, mode, err);
}

int mk_ssh_sudo_copy(struct mk_ssh *s, const char *local_path, const char *remote_path,
                     unsigned mode, struct mk_error **err)
{
    mk_autofree char *tmp = xasprintf("/tmp/mkube-upload-%ld-%u", (long)getpid(), ++upload_counter);
    if (mk_ssh_copy(s, local_path, tmp, 0600, err) < 0)
        return -1;
    return sudo_install(s, tmp, remote_path, mode, err);
}
