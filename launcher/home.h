/* home.h - where mkube keeps its state: paths under $MKUBE_HOME (default ~/.mkube).
 *
 * Layout:
 *   profiles/<name>/config.json   one profile (profile.h), profiles/<name>/.lock
 *   machines/<name>/              the VM of that profile (drivers)
 *   cache/                        downloads (image, bundle)
 *   certs/                        the CA and client certificates
 *   config/config.json            global defaults (config.h)
 *   active-profile                the profile `mkube profile NAME` selected
 *
 * Nothing here creates a file or directory: callers create what they need
 * only after their input is validated, so bad input leaves the home untouched. */
#ifndef MK_HOME_H
#define MK_HOME_H

#include "util.h"

/* $MKUBE_HOME if set and non-empty, else $HOME/.mkube (passwd entry if HOME is
 * unset). Caller frees. */
char *mk_home_dir(void);
/* home + "/" + formatted path. Caller frees. */
char *mk_home_path(const char *home, const char *fmt, ...) MK_PRINTF(2, 3);

#endif
