/* ssh.h - talk to the guest over SSH (libssh): keys, host-key trust, commands, file copies.
 *
 * The non-interactive path never spawns a program: connections, commands and
 * copies all go through libssh. Host keys are trusted on first use and kept in
 * the machine folder's known_hosts; a different key later is an error unless the
 * caller asks for a reset (a recreated machine starts with a fresh known_hosts).
 * Only `mkube ssh` runs the system ssh client (through mk_run), like minikube's
 * --native-ssh=false, and falls back to a libssh pty session without it. */
#ifndef MK_SSH_H
#define MK_SSH_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "error.h"

/* The comment on the public key line (authorized_keys, .pub file). */
#define MK_SSH_KEY_COMMENT "mkube"

struct mk_ssh; /* one authenticated connection */

/* Where and how to connect. Strings are owned by the caller. */
struct mk_ssh_target {
    const char *host;             /* "127.0.0.1" for forwarded guests */
    unsigned port;                /* host side of the SSH forward */
    const char *user;             /* "docker" in the mkube image, or "root" */
    const char *key_path;         /* private key (mk_ssh_keygen) */
    const char *known_hosts_path; /* the machine's own known_hosts file */
    bool reset_host_key;          /* forget a stored key for host:port and trust the new one */
};

/* Create an ed25519 key pair at priv_path (0600) and priv_path.pub (0644,
 * "ssh-ed25519 AAAA... mkube"). An existing private key is kept; a missing
 * .pub is rebuilt from it. */
int mk_ssh_keygen(const char *priv_path, struct mk_error **err);
/* "ssh-ed25519 AAAA... mkube" (no newline) for the key at priv_path. Caller frees. */
char *mk_ssh_pubkey_line(const char *priv_path, struct mk_error **err);

/* Connect and authenticate with the key; timeout_ms bounds the TCP connect and
 * each protocol wait (0 = 30 s). Returns NULL with *err set on failure. */
struct mk_ssh *mk_ssh_connect(const char *host, unsigned port, const char *user,
                              const char *key_path, const char *known_hosts_path, int timeout_ms,
                              struct mk_error **err);
struct mk_ssh *mk_ssh_connect_target(const struct mk_ssh_target *t, int timeout_ms,
                                     struct mk_error **err);
void mk_ssh_close(struct mk_ssh *s);
void mk_ssh_closep(struct mk_ssh **s);
#define mk_autossh __attribute__((cleanup(mk_ssh_closep)))

/* Retry connect + auth until it works or timeout_ms passes (guests under TCG
 * need minutes: callers pass e.g. 300000). A changed host key stops at once.
 * mk_ssh_wait_connect hands back the working connection. */
int mk_ssh_wait(const char *host, unsigned port, const char *user, const char *key_path,
                const char *known_hosts_path, int timeout_ms, struct mk_error **err);
struct mk_ssh *mk_ssh_wait_connect(const struct mk_ssh_target *t, int timeout_ms,
                                   struct mk_error **err);

/* Streaming output: called for every chunk as it arrives (is_stderr tells the
 * stream). A non-zero return aborts the command. */
typedef int (*mk_ssh_output_fn)(void *data, bool is_stderr, const char *chunk, size_t len);

/* Run cmd (through the remote user's shell), feeding input (may be NULL) on its
 * stdin. Returns 0 when the command ran to its end, whatever its status, which
 * lands in *exit_status (128+N for a signal). timeout_ms = 0 waits forever. */
int mk_ssh_run_stream(struct mk_ssh *s, const char *cmd, const char *input, size_t input_len,
                      mk_ssh_output_fn fn, void *data, int *exit_status, int timeout_ms,
                      struct mk_error **err);
/* Same, collecting stdout/stderr into out/errout (either may be NULL). */
int mk_ssh_run(struct mk_ssh *s, const char *cmd, const char *input, size_t input_len,
               struct mk_buf *out, struct mk_buf *errout, int *exit_status, int timeout_ms,
               struct mk_error **err);
/* Like mk_ssh_run, but a non-zero status is an error naming the command and
 * quoting the last line of its stderr. */
int mk_ssh_run_check(struct mk_ssh *s, const char *cmd, const char *input, size_t input_len,
                     struct mk_buf *out, int timeout_ms, struct mk_error **err);
/* Like mk_ssh_run_check, but the output is also shown on stderr (at mk_debug
 * level 1, or always with --alsologtostderr) as it arrives: kubeadm init. */
int mk_ssh_run_logged(struct mk_ssh *s, const char *cmd, struct mk_buf *out, int timeout_ms,
                      struct mk_error **err);

/* Copy a local file / a buffer to remote_path with mode, streamed with bounded
 * memory (256 KiB chunks) over one exec channel running `cat` (SCP-like: full
 * channel window, no SFTP round trip per block, no sftp-server needed). The
 * remote directory is created; the file appears atomically (written beside
 * it, then renamed). */
int mk_ssh_copy(struct mk_ssh *s, const char *local_path, const char *remote_path, unsigned mode,
                struct mk_error **err);
int mk_ssh_write(struct mk_ssh *s, const void *data, size_t len, const char *remote_path,
                 unsigned mode, struct mk_error **err);
/* For root-owned places: write to /tmp, then `sudo install` into remote_path
 * (creating its directory). Without sudo when the login user is root. */
int mk_ssh_sudo_write(struct mk_ssh *s, const void *data, size_t len, const char *remote_path,
                      unsigned mode, struct mk_error **err);
int mk_ssh_sudo_copy(struct mk_ssh *s, const char *local_path, const char *remote_path,
                     unsigned mode, struct mk_error **err);

/* `mkube ssh`: an interactive session (cmd_argv NULL or empty) or one command,
 * with our stdin/stdout/stderr. Uses the system ssh client when it exists,
 * else libssh (a pty when stdin is a terminal). Returns the remote exit status,
 * or -1 with *err set when no session could be made. */
int mk_ssh_interactive(const char *host, unsigned port, const char *user, const char *key_path,
                       const char *known_hosts_path, const char *const *cmd_argv,
                       struct mk_error **err);
/* The libssh path of mk_ssh_interactive, callable on its own (--native-ssh). */
int mk_ssh_interactive_native(const struct mk_ssh_target *t, const char *const *cmd_argv,
                              struct mk_error **err);

/* 'it'\''s' - single-quoted for a POSIX shell. Caller frees. */
char *mk_ssh_quote(const char *s);

#endif
