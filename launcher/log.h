/* log.h - user-facing progress lines, warnings, and the detail log.
 *
 * Progress ("mk_step") and warnings go to stderr so stdout stays clean for
 * machine-readable output (`--url`, `-o json`, docker-env). Detail lines
 * (mk_debug) are shown when -v is high enough or with --alsologtostderr. Color
 * only on a TTY and never when NO_COLOR is set. */
#ifndef MK_LOG_H
#define MK_LOG_H

#include <stdbool.h>
#include <stdio.h>

#include "util.h"

void mk_log_init(int verbosity, bool alsologtostderr);
int mk_log_verbosity(void);
bool mk_color_enabled(FILE *f);

void mk_step(const char *fmt, ...) MK_PRINTF(1, 2); /* "* Doing a thing ..." */
void mk_info(const char *fmt, ...) MK_PRINTF(1, 2); /* "  detail" under a step */
void mk_warn(const char *fmt, ...) MK_PRINTF(1, 2); /* "! something odd" */
void mk_debug(int level, const char *fmt, ...) MK_PRINTF(2, 3);

#endif
