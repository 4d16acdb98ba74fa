/* qmp.h - a small QEMU Machine Protocol client (unix socket, jansson).
 *
 * Connect, negotiate capabilities, run commands one at a time; asynchronous
 * events arriving in between are skipped. Used by the qemu driver for
 * query-status, system_powerdown and (through human-monitor-command)
 * hostfwd_add. */
#ifndef MK_QMP_H
#define MK_QMP_H

#include <jansson.h>

#include "../launcher/error.h"

struct mk_qmp;

/* Connect to sock_path and finish the greeting/qmp_capabilities handshake,
 * waiting up to timeout_ms for the socket to appear and answer. */
int mk_qmp_connect(const char *sock_path, int timeout_ms, struct mk_qmp **out,
                   struct mk_error **err);
/* Run cmd with args (borrowed, may be NULL); *ret gets the "return" value (new
 * reference; pass NULL to drop it). A QMP "error" answer is an error. */
int mk_qmp_execute(struct mk_qmp *q, const char *cmd, json_t *args, json_t **ret,
                   struct mk_error **err);
/* human-monitor-command: the HMP command line's output in *out (caller frees). */
int mk_qmp_hmp(struct mk_qmp *q, const char *cmdline, char **out, struct mk_error **err);
void mk_qmp_close(struct mk_qmp *q);

#endif
