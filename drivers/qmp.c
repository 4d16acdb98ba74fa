/* qmp.c - QMP client over a unix socket (see qmp.h). */
#include "qmp.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../launcher/buf.h"
#include "../launcher/log.h"

#define QMP_REPLY_TIMEOUT_MS 30000
#define QMP_MAX_LINE (4u << 20)

struct mk_qmp {
    int fd;
    char *path;
    struct mk_buf in; /* bytes received, not yet parsed */
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Next JSON message (one per line), waiting until deadline. */
static int read_msg(struct mk_qmp *q, long long deadline, json_t **msg, struct mk_error **err)
{
    for (;;) {
        char *nl = q->in.len ? memchr(q->in.buf, '\n', q->in.len) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - q->in.buf) + 1;
            json_error_t jerr;
            json_t *j = json_loadb(q->in.buf, n, 0, &jerr);
            memmove(q->in.buf, q->in.buf + n, q->in.len - n);
            q->in.len -= n;
            q->in.buf[q->in.len] = '\0';
            if (!json_is_object(j)) {
                json_decref(j);
                return mk_error_set(err, MK_EXIT_FAILURE, "QEMU monitor %s sent bad JSON: %s",
                                    q->path, jerr.text);
            }
            *msg = j;
            return 0;
        }
        long long left = deadline - now_ms();
        if (left <= 0)
            return mk_error_set(err, MK_EXIT_FAILURE, "QEMU monitor %s did not answer in time",
                                q->path);
        struct pollfd p = {.fd = q->fd, .events = POLLIN};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return mk_error_errno(err, errno, "cannot read the QEMU monitor %s", q->path);
        if (r == 0)
            continue;
        char chunk[4096];
        ssize_t n = read(q->fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return mk_error_errno(err, errno, "cannot read the QEMU monitor %s", q->path);
        if (n == 0)
            return mk_error_set(err, MK_EXIT_FAILURE, "QEMU monitor %s closed the connection",
                                q->path);
        if (mk_buf_add(&q->in, chunk, (size_t)n) < 0)
            return mk_error_set(err, MK_EXIT_FAILURE, "QEMU monitor %s sent too much", q->path);
    }
}

static int send_json(struct mk_qmp *q, json_t *j, struct mk_error **err)
{
    char *text = json_dumps(j, JSON_COMPACT);
    size_t len = strlen(text), off = 0;
    int rc = 0;
    while (off < len) {
        ssize_t w = send(q->fd, text + off, len - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = mk_error_errno(err, errno, "cannot write to the QEMU monitor %s", q->path);
            break;
        }
        off += (size_t)w;
    }
    if (rc == 0 && send(q->fd, "\n", 1, MSG_NOSIGNAL) != 1)
        rc = mk_error_errno(err, errno, "cannot write to the QEMU monitor %s", q->path);
    free(text);
    return rc;
}

int mk_qmp_execute(struct mk_qmp *q, const char *cmd, json_t *args, json_t **ret,
                   struct mk_error **err)
{
    if (ret)
        *ret = NULL;
    json_t *req = json_pack("{s:s}", "execute", cmd);
    if (args)
        json_object_set(req, "arguments", args);
    int rc = send_json(q, req, err);
    json_decref(req);
    if (rc < 0)
        return -1;
    long long deadline = now_ms() + QMP_REPLY_TIMEOUT_MS;
    for (;;) {
        json_t *msg = NULL;
        if (read_msg(q, deadline, &msg, err) < 0)
            return mk_error_wrap(err, "QMP %s", cmd);
        if (json_object_get(msg, "event")) {
            mk_debug(3, "qmp event %s",
                     json_string_value(json_object_get(msg, "event")));
            json_decref(msg);
            continue;
        }
        json_t *e = json_object_get(msg, "error");
        if (e) {
            const char *desc = json_string_value(json_object_get(e, "desc"));
            mk_error_set(err, MK_EXIT_FAILURE, "QMP %s failed: %s", cmd,
                         desc ? desc : "unknown error");
            json_decref(msg);
            return -1;
        }
        json_t *r = json_object_get(msg, "return");
        if (!r) {
            json_decref(msg);
            continue;
        }
        if (ret)
            *ret = json_incref(r);
        json_decref(msg);
        return 0;
    }
}

int mk_qmp_hmp(struct mk_qmp *q, const char *cmdline, char **out, struct mk_error **err)
{
    json_t *args = json_pack("{s:s}", "command-line", cmdline);
    json_t *ret = NULL;
    int rc = mk_qmp_execute(q, "human-monitor-command", args, &ret, err);
    json_decref(args);
    if (rc == 0 && out) {
        const char *s = json_string_value(ret);
        *out = xstrdup(s ? s : "");
    }
    json_decref(ret);
    return rc;
}

void mk_qmp_close(struct mk_qmp *q)
{
    if (!q)
        return;
    if (q->fd >= 0)
        close(q->fd);
    free(q->path);
    mk_buf_release(&q->in);
    free(q);
}

int mk_qmp_connect(const char *sock_path, int timeout_ms, struct mk_qmp **out,
                   struct mk_error **err)
{
    *out = NULL;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(sock_path) >= sizeof(sa.sun_path))
        return mk_error_set(err, MK_EXIT_FAILURE,
                            "the QEMU monitor path %s is too long for a unix socket", sock_path);
    strcpy(sa.sun_path, sock_path);
    struct mk_qmp *q = xcalloc(1, sizeof(*q));
    q->fd = -1;
    q->path = xstrdup(sock_path);
    mk_buf_init(&q->in);
    q->in.cap = QMP_MAX_LINE;
    long long deadline = now_ms() + timeout_ms;
    int last_errno = 0, rc = -1;
    for (;;) {
        q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (q->fd < 0) {
            mk_error_errno(err, errno, "cannot create a socket");
            goto cleanup;
        }
        if (connect(q->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            break;
        last_errno = errno;
        close(q->fd);
        q->fd = -1;
        if (now_ms() >= deadline) {
            mk_error_errno(err, last_errno, "cannot connect to the QEMU monitor %s", sock_path);
            goto cleanup;
        }
        struct timespec ts = {0, 100 * 1000000};
        nanosleep(&ts, NULL);
    }
    long long reply_deadline = now_ms() + (timeout_ms > 5000 ? timeout_ms : 5000);
    json_t *greeting = NULL;
    if (read_msg(q, reply_deadline, &greeting, err) < 0)
        goto cleanup;
    bool ok = json_object_get(greeting, "QMP") != NULL;
    json_decref(greeting);
    if (!ok) {
        mk_error_set(err, MK_EXIT_FAILURE, "%s does not speak QMP", sock_path);
        goto cleanup;
    }
    if (mk_qmp_execute(q, "qmp_capabilities", NULL, NULL, err) < 0)
        goto cleanup;
    *out = q;
    q = NULL;
    rc = 0;
cleanup:
    mk_qmp_close(q);
    return rc;
}
