/* error.c - error objects with context wrapping and hints (see error.h). */
#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int set_va(struct mk_error **err, int code, const char *suffix, const char *fmt, va_list ap)
{
    if (!err || *err)
        return -1;
    struct mk_error *e = xcalloc(1, sizeof(*e));
    char *msg = xvasprintf(fmt, ap);
    e->code = code;
    if (suffix) {
        e->msg = xasprintf("%s: %s", msg, suffix);
        free(msg);
    } else {
        e->msg = msg;
    }
    *err = e;
    return -1;
}

int mk_error_set(struct mk_error **err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_va(err, code, NULL, fmt, ap);
    va_end(ap);
    return -1;
}

int mk_error_errno(struct mk_error **err, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_va(err, MK_EXIT_FAILURE, strerror(errnum), fmt, ap);
    va_end(ap);
    return -1;
}

int mk_error_wrap(struct mk_error **err, const char *fmt, ...)
{
    if (!err || !*err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    char *ctx = xvasprintf(fmt, ap);
    va_end(ap);
    char *msg = xasprintf("%s: %s", ctx, (*err)->msg);
    free(ctx);
    free((*err)->msg);
    (*err)->msg = msg;
    return -1;
}

int mk_error_hint(struct mk_error **err, const char *fmt, ...)
{
    if (!err || !*err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    free((*err)->hint);
    (*err)->hint = xvasprintf(fmt, ap);
    va_end(ap);
    return -1;
}

void mk_error_free(struct mk_error *err)
{
    if (!err)
        return;
    free(err->msg);
    free(err->hint);
    free(err);
}

void mk_error_freep(struct mk_error **err)
{
    mk_error_free(*err);
    *err = NULL;
}

int mk_error_report(const struct mk_error *err)
{
    if (!err)
        return MK_EXIT_FAILURE;
    fprintf(stderr, "mkube: %s\n", err->msg);
    if (err->hint)
        fprintf(stderr, "hint: %s\n", err->hint);
    return err->code ? err->code : MK_EXIT_FAILURE;
}
