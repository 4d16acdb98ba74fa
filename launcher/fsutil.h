/* fsutil.h - files written safely: atomic replace, directory creation, locks.
 *
 * Every file mkube writes under $MKUBE_HOME (and the user's kubeconfig) goes
 * through mk_write_file_atomic: temp file in the same directory, fsync, rename,
 * fsync of the directory. A crash at any point leaves the old file intact. */
#ifndef MK_FSUTIL_H
#define MK_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "error.h"

int mk_mkdir_p(const char *path, mode_t mode, struct mk_error **err);
int mk_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         struct mk_error **err);
/* Read a whole file (max bytes; 0 = 64 MiB). ENOENT gives -1 with errno kept
 * in *enoent (true) so callers can tell "missing" from "broken". */
int mk_read_file(const char *path, struct mk_buf *out, size_t max, bool *enoent,
                 struct mk_error **err);
bool mk_path_exists(const char *path);
int mk_rm_rf(const char *path, struct mk_error **err);

/* Advisory lock on path (created 0600 if missing). Waits up to timeout_ms
 * (0 = do not wait, <0 = forever). Returns an fd to pass to mk_unlock. */
int mk_lock(const char *path, int timeout_ms, int *fd_out, struct mk_error **err);
void mk_unlock(int fd);

/* sha256 of a file as 64 lowercase hex chars + NUL. */
int mk_sha256_file(const char *path, char out[65], struct mk_error **err);

#endif
