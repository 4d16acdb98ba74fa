/* artifacts.c - locating the ISO and the bundle (see artifacts.h). */
#include "artifacts.h"

#include <stdlib.h>
#include <string.h>

#include "download.h"
#include "driver.h"
#include "fsutil.h"
#include "log.h"

static char *candidate(const char *dir, const char *name)
{
    char *p = xasprintf("%s/%s", dir, name);
    if (mk_path_exists(p))
        return p;
    free(p);
    return NULL;
}

int mk_artifact_find(const char *name, const char *url, const char *cache_dir, char **path,
                     struct mk_error **err)
{
    *path = NULL;
    mk_autofree char *cached_dir = xasprintf("%s/artifacts", cache_dir);
    mk_autofree char *cached = xasprintf("%s/%s", cached_dir, name);
    if (url && *url) {
        /* an explicit URL wins: download (or reuse the verified download) */
        if (mk_mkdir_p(cached_dir, 0755, err) < 0)
            return -1;
        mk_autofree char *full = NULL;
        const char *u = url;
        /* a URL ending in "/" names a folder that holds the file */
        if (url[strlen(url) - 1] == '/')
            u = full = xasprintf("%s%s", url, name);
        if (mk_download(u, cached, NULL, NULL, err) < 0)
            return mk_error_wrap(err, "cannot get %s", name);
        *path = xstrdup(cached);
        return 0;
    }
    const char *env = getenv("MKUBE_DATADIR");
    char *p = NULL;
    if (env && *env)
        p = candidate(env, name);
    if (!p)
        p = candidate(MKUBE_DATADIR, name);
    if (!p && mk_path_exists(cached))
        p = xstrdup(cached);
    if (!p) {
        mk_autofree char *in_env =
            env && *env ? xasprintf("not in %s (MKUBE_DATADIR), ", env) : xstrdup("");
        mk_error_set(err, MK_EXIT_FAILURE,
                     "cannot find %s: %snot installed in %s and not in the cache %s", name, in_env,
                     MKUBE_DATADIR, cached_dir);
        return mk_error_hint(err,
                             "build and install it (cmake --build build --target image bundle && "
                             "cmake --install build), or pass --iso-url / --bundle-url "
                             "(file:// or http://)");
    }
    if (mk_file_verify_sha256(p, err) < 0) {
        free(p);
        return -1;
    }
    *path = p;
    return 0;
}
