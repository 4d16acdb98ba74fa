/* buf.c - growable NUL-terminated buffer (see buf.h). */
#include "buf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char empty[1];

void mk_buf_init(struct mk_buf *b)
{
    b->buf = NULL;
    b->len = b->alloc = b->cap = 0;
}

void mk_buf_release(struct mk_buf *b)
{
    free(b->buf);
    size_t cap = b->cap;
    mk_buf_init(b);
    b->cap = cap;
}

void mk_buf_releasep(struct mk_buf *b)
{
    mk_buf_release(b);
}

char *mk_buf_detach(struct mk_buf *b)
{
    char *s = b->buf ? b->buf : xstrdup("");
    size_t cap = b->cap;
    mk_buf_init(b);
    b->cap = cap;
    return s;
}

const char *mk_buf_str(const struct mk_buf *b)
{
    return b->buf ? b->buf : empty;
}

int mk_buf_add(struct mk_buf *b, const void *data, size_t n)
{
    if (b->cap && b->len + n > b->cap)
        return -1;
    if (b->len + n + 1 > b->alloc) {
        size_t a = b->alloc ? b->alloc : 64;
        while (a < b->len + n + 1)
            a *= 2;
        b->buf = xrealloc(b->buf, a);
        b->alloc = a;
    }
    if (n)
        memcpy(b->buf + b->len, data, n);
    b->len += n;
    b->buf[b->len] = '\0';
    return 0;
}

int mk_buf_adds(struct mk_buf *b, const char *s)
{
    return mk_buf_add(b, s, strlen(s));
}

int mk_buf_addf(struct mk_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = xvasprintf(fmt, ap);
    va_end(ap);
    int r = mk_buf_adds(b, s);
    free(s);
    return r;
}

void mk_buf_reset(struct mk_buf *b)
{
    b->len = 0;
    if (b->buf)
        b->buf[0] = '\0';
}

void mk_buf_rtrim(struct mk_buf *b)
{
    while (b->len && isspace((unsigned char)b->buf[b->len - 1]))
        b->buf[--b->len] = '\0';
}
