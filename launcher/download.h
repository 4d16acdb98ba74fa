/* download.h - fetch the image and the bundle into the cache (libcurl).
 *
 * One call, mk_download(), serves file://, http://, https:// URLs and plain
 * paths. Bytes land in DEST.part (resumed with a Range request when a partial
 * file is there), are checked against a sha256, and are renamed into place, so
 * DEST only ever exists complete; DEST.sha256 ("HEX  NAME") records its
 * digest, like the build output does. DEST.lock serialises concurrent mkube
 * processes: the second one waits, then finds and verifies the finished file.
 * Progress is a redrawn bar on a terminal, one start and one finish line
 * otherwise. */
#ifndef MK_DOWNLOAD_H
#define MK_DOWNLOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "error.h"

enum mk_progress {
    MK_PROGRESS_AUTO = 0, /* a bar when stderr is a terminal, else start/finish lines */
    MK_PROGRESS_LINES,    /* start/finish lines only */
    MK_PROGRESS_NONE,     /* silent */
};

struct mk_download_opts {
    const char *label; /* name shown in progress lines; default: basename of dest */
    enum mk_progress progress;
    int connect_timeout_s; /* 0 = 30 */
    long low_speed_bytes;  /* abort when slower than this ... (0 = 1024 bytes/s) */
    int low_speed_time_s;  /* ... for this long (0 = 60 s) */
    int lock_timeout_ms;   /* wait for another download of dest; 0 = 1 hour, <0 = forever */
};

/* Make dest_path a verified copy of url. sha256_hex (64 hex chars) is the
 * expected digest; NULL fetches url + ".sha256" (http(s) and file) and uses it
 * when it exists. An existing dest that matches returns at once (a cache hit).
 * Errors name the URL: HTTP status, refused connection, checksum mismatch
 * ("checksum mismatch for URL: expected X, got Y"; the bad file is removed),
 * full disk. */
int mk_download(const char *url, const char *dest_path, const char *sha256_hex,
                const struct mk_download_opts *o, struct mk_error **err);

/* Fetch a small document (a checksum file, an index) into out, at most max
 * bytes (0 = 1 MiB). *not_found is set (and -1 returned) for HTTP 404 or a
 * missing file, so callers can treat "absent" apart from "broken". */
int mk_download_to_buf(const char *url, struct mk_buf *out, size_t max, bool *not_found,
                       struct mk_error **err);

/* Plain paths become file:// URLs (percent-encoded); URLs are returned as is.
 * NULL with *err set for an unsupported scheme. Caller frees. */
char *mk_download_normalize_url(const char *url_or_path, struct mk_error **err);

/* "123.4 MiB" - for progress lines and messages. buf needs 32 bytes. */
const char *mk_download_format_size(double bytes, char buf[32]);

#endif
