/* buf.h - one growable byte buffer (git strbuf style), always NUL-terminated.
 *
 * mk_buf_init() makes an empty buffer whose .buf is never NULL; _release frees
 * and re-inits; _detach hands the string to the caller and re-inits. A size cap
 * (curl dynbuf style) bounds what untrusted input may grow it to. */
#ifndef MK_BUF_H
#define MK_BUF_H

#include "util.h"

struct mk_buf {
    char *buf;
    size_t len;
    size_t alloc;
    size_t cap; /* 0 = unbounded; otherwise mk_buf_add fails past it */
};

#define MK_BUF_INIT {0}

void mk_buf_init(struct mk_buf *b);
void mk_buf_release(struct mk_buf *b);
void mk_buf_releasep(struct mk_buf *b);
char *mk_buf_detach(struct mk_buf *b);
const char *mk_buf_str(const struct mk_buf *b); /* "" for an empty buffer */
int mk_buf_add(struct mk_buf *b, const void *data, size_t n); /* -1 past cap */
int mk_buf_adds(struct mk_buf *b, const char *s);
int mk_buf_addf(struct mk_buf *b, const char *fmt, ...) MK_PRINTF(2, 3);
void mk_buf_reset(struct mk_buf *b);
void mk_buf_rtrim(struct mk_buf *b); /* drop trailing whitespace */
#define mk_autobuf __attribute__((cleanup(mk_buf_releasep)))

#endif
