/* log.c - progress, warnings and detail logging (see log.h). */
#include "log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int verbosity;
static bool also_stderr;

void mk_log_init(int v, bool alsologtostderr)
{
    verbosity = v;
    also_stderr = alsologtostderr;
}

int mk_log_verbosity(void)
{
    return verbosity;
}

bool mk_color_enabled(FILE *f)
{
    const char *nc = getenv("NO_COLOR");
    if (nc && *nc)
        return false;
    const char *term = getenv("TERM");
    if (term && mk_streq(term, "dumb"))
        return false;
    return isatty(fileno(f));
}

static void emit(const char *prefix, const char *color, const char *fmt, va_list ap)
{
    bool c = mk_color_enabled(stderr);
    if (c && color)
        fprintf(stderr, "\033[%sm%s\033[0m", color, prefix);
    else
        fputs(prefix, stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void mk_step(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit("* ", "1;36", fmt, ap);
    va_end(ap);
}

void mk_info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit("  - ", NULL, fmt, ap);
    va_end(ap);
}

void mk_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit("! ", "1;33", fmt, ap);
    va_end(ap);
}

void mk_debug(int level, const char *fmt, ...)
{
    if (!also_stderr && verbosity < level)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "I%02d%02d %02d:%02d:%02d.%06ld ] ", tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
            tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
