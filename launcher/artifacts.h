/* artifacts.h - where `mkube start` finds the VM image and the Kubernetes
 * bundle: $MKUBE_DATADIR (tests, relocated installs), the installed copy under
 * <prefix>/share/mkube, the download cache, or a download from --iso-url /
 * --bundle-url (file:// or http(s)://) through the download module. */
#ifndef MK_ARTIFACTS_H
#define MK_ARTIFACTS_H

#include "error.h"

/* name: "mkube.iso" or a bundle file name. url may be NULL. cache_dir is
 * $MKUBE_HOME/cache. *path is allocated. */
int mk_artifact_find(const char *name, const char *url, const char *cache_dir, char **path,
                     struct mk_error **err);

#endif
