/* util.h - allocation that aborts on failure, cleanup attributes, small string helpers.
 *
 * Allocation failure aborts once, here (tmux xmalloc style), so call sites stay
 * readable. Ownership is visible at the declaration through the mk_autofree /
 * mk_autoclose attributes (crun cleanup_free style). */
#ifndef MK_UTIL_H
#define MK_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define MK_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MK_PRINTF(f, a) __attribute__((format(printf, f, a)))

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) MK_PRINTF(1, 2);
char *xvasprintf(const char *fmt, va_list ap) MK_PRINTF(1, 0);

void mk_freep(void *p);  /* free(*(void **)p) */
void mk_closep(int *fd); /* close(*fd) if >= 0 */
void mk_strvfreep(char ***v);
#define mk_autofree __attribute__((cleanup(mk_freep)))
#define mk_autoclose __attribute__((cleanup(mk_closep)))
#define mk_autostrv __attribute__((cleanup(mk_strvfreep)))

/* NULL-terminated string vectors. */
size_t mk_strv_len(char *const *v);
void mk_strv_free(char **v);
char **mk_strv_push(char **v, const char *s); /* copies s, returns the new vector */

bool mk_str_has_prefix(const char *s, const char *prefix);
bool mk_str_has_suffix(const char *s, const char *suffix);
bool mk_streq(const char *a, const char *b); /* NULL-safe */

#endif
