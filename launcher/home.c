/* home.c - paths under $MKUBE_HOME (see home.h). */
#include "home.h"

#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *mk_home_dir(void)
{
    const char *h = getenv("MKUBE_HOME");
    if (h && *h)
        return xstrdup(h);
    const char *user_home = getenv("HOME");
    if (!user_home || !*user_home) {
        struct passwd *pw = getpwuid(getuid());
        user_home = (pw && pw->pw_dir) ? pw->pw_dir : "/";
    }
    size_t n = strlen(user_home);
    while (n > 1 && user_home[n - 1] == '/')
        n--;
    return xasprintf("%.*s/.mkube", (int)n, user_home);
}

char *mk_home_path(const char *home, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mk_autofree char *rel = xvasprintf(fmt, ap);
    va_end(ap);
    return xasprintf("%s/%s", home, rel);
}
