/* ssh-internal.h - connection and channel internals shared by ssh.c and ssh-interactive.c. */
#ifndef MK_SSH_INTERNAL_H
#define MK_SSH_INTERNAL_H

#include <libssh/callbacks.h>
#include <libssh/libssh.h>

#include "ssh.h"

struct mk_ssh {
    ssh_session session;
    char *user;
    char *where; /* "user@host:port" for messages */
    int timeout_ms;
};

/* What the channel callbacks saw. */
struct mk_ssh_chan_state {
    mk_ssh_output_fn fn;
    void *data;
    int status;
    bool have_status;
    bool eof;
    bool closed;
    bool aborted;
};

/* A session channel with our callbacks. The callbacks are removed before the
 * channel is freed: libssh keeps a locally freed channel until the remote
 * closes it too, and must not call back into a finished stack frame. */
struct mk_ssh_chan {
    ssh_channel ch;
    struct ssh_channel_callbacks_struct cb;
    struct mk_ssh_chan_state st;
};

/* Open a session channel whose output goes to fn. -1: see mk_ssh_lost. */
int mk_ssh_chan_open(struct mk_ssh *s, struct mk_ssh_chan *c, mk_ssh_output_fn fn, void *data);
void mk_ssh_chan_release(struct mk_ssh_chan *c);
#define mk_autochan __attribute__((cleanup(mk_ssh_chan_release)))

void mk_ssh_event_freep(ssh_event *ev);
#define mk_autoevent __attribute__((cleanup(mk_ssh_event_freep)))

/* Set *err to "cannot run "cmd" on where: <libssh's reason>"; returns -1. */
int mk_ssh_lost(struct mk_ssh *s, const char *cmd, struct mk_error **err);

#endif
