/* profile.c - the profile store under $MKUBE_HOME/profiles (see profile.h). */
#include "profile.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fsutil.h"
#include "home.h"
#include "log.h"
#include "validate.h"

#define LOCK_WAIT_MS 30000

static const char *const known_fields[] = {
    "name",
    "driver",
    "cpus",
    "memory_mib",
    "disk_mib",
    "kubernetes_version",
    "container_runtime",
    "bundle_url",
    "iso_url",
    "addons",
    "status_hint",
};

/* Locks this process holds, so save/delete inside a locked section do not
 * wait for themselves (flock locks belong to an open file, not a process). */
struct held_lock {
    int fd;
    char *path;
};
static struct held_lock held[16];

static bool fd_is_file(int fd, const char *path)
{
    struct stat a, b;
    return fd >= 0 && fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

static bool lock_held(const char *path)
{
    for (size_t i = 0; i < MK_ARRAY_SIZE(held); i++)
        if (held[i].path && strcmp(held[i].path, path) == 0 && fd_is_file(held[i].fd, path))
            return true;
    return false;
}

static char *profile_dir(const char *home, const char *name)
{
    return mk_home_path(home, "profiles/%s", name);
}

struct mk_profile *mk_profile_new(const char *name)
{
    struct mk_profile *p = xcalloc(1, sizeof(*p));
    p->name = xstrdup(name);
    p->driver = xstrdup("");
    p->cpus = MK_DEFAULT_CPUS;
    p->memory_mib = MK_DEFAULT_MEMORY_MIB;
    p->disk_mib = MK_DEFAULT_DISK_MIB;
    p->kubernetes_version = xstrdup(MK_DEFAULT_K8S_VERSION);
    p->container_runtime = xstrdup(MK_DEFAULT_RUNTIME);
    return p;
}

void mk_profile_free(struct mk_profile *p)
{
    if (!p)
        return;
    free(p->name);
    free(p->driver);
    free(p->kubernetes_version);
    free(p->container_runtime);
    free(p->bundle_url);
    free(p->iso_url);
    mk_strv_free(p->addons);
    free(p->status_hint);
    json_decref((json_t *)p->extra);
    free(p);
}

void mk_profile_freep(struct mk_profile **p)
{
    mk_profile_free(*p);
    *p = NULL;
}

bool mk_profile_has_addon(const struct mk_profile *p, const char *addon)
{
    for (size_t i = 0; p && p->addons && p->addons[i]; i++)
        if (strcmp(p->addons[i], addon) == 0)
            return true;
    return false;
}

void mk_profile_set_addon(struct mk_profile *p, const char *addon, bool on)
{
    if (on) {
        if (!mk_profile_has_addon(p, addon))
            p->addons = mk_strv_push(p->addons, addon);
        return;
    }
    size_t w = 0;
    for (size_t r = 0; p->addons && p->addons[r]; r++) {
        if (strcmp(p->addons[r], addon) == 0)
            free(p->addons[r]);
        else
            p->addons[w++] = p->addons[r];
    }
    if (p->addons)
        p->addons[w] = NULL;
}

/* Field readers: absent is fine (the default stays), a wrong type is not. */
static int get_str(json_t *o, const char *key, char **dst, bool nullable, const char *path,
                   struct mk_error **err)
{
    json_t *v = json_object_get(o, key);
    if (!v || (nullable && json_is_null(v)))
        return 0;
    if (!json_is_string(v))
        return mk_error_set(err, MK_EXIT_CONFIG, "%s: field \"%s\" must be a string", path, key);
    free(*dst);
    *dst = xstrdup(json_string_value(v));
    return 0;
}

static int get_u64(json_t *o, const char *key, uint64_t *dst, const char *path,
                   struct mk_error **err)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return mk_error_set(err, MK_EXIT_CONFIG, "%s: field \"%s\" must be a non-negative integer",
                            path, key);
    *dst = (uint64_t)json_integer_value(v);
    return 0;
}

static int from_json(struct mk_profile *p, json_t *o, const char *path, struct mk_error **err)
{
    uint64_t cpus = p->cpus;
    if (get_str(o, "driver", &p->driver, false, path, err) < 0 ||
        get_u64(o, "cpus", &cpus, path, err) < 0 ||
        get_u64(o, "memory_mib", &p->memory_mib, path, err) < 0 ||
        get_u64(o, "disk_mib", &p->disk_mib, path, err) < 0 ||
        get_str(o, "kubernetes_version", &p->kubernetes_version, false, path, err) < 0 ||
        get_str(o, "container_runtime", &p->container_runtime, false, path, err) < 0 ||
        get_str(o, "bundle_url", &p->bundle_url, true, path, err) < 0 ||
        get_str(o, "iso_url", &p->iso_url, true, path, err) < 0 ||
        get_str(o, "status_hint", &p->status_hint, true, path, err) < 0)
        return -1;
    if (cpus > 4096)
        return mk_error_set(err, MK_EXIT_CONFIG, "%s: field \"cpus\" is out of range", path);
    p->cpus = (unsigned)cpus;
    json_t *addons = json_object_get(o, "addons");
    if (addons && !json_is_null(addons)) {
        if (!json_is_object(addons))
            return mk_error_set(err, MK_EXIT_CONFIG,
                                "%s: field \"addons\" must be an object of name: true/false", path);
        const char *name;
        json_t *on;
        json_object_foreach(addons, name, on)
        {
            if (!json_is_boolean(on))
                return mk_error_set(err, MK_EXIT_CONFIG, "%s: addon \"%s\" must be true or false",
                                    path, name);
            if (json_is_true(on))
                p->addons = mk_strv_push(p->addons, name);
        }
    }
    json_t *extra = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        bool known = false;
        for (size_t i = 0; i < MK_ARRAY_SIZE(known_fields); i++)
            if (strcmp(key, known_fields[i]) == 0)
                known = true;
        if (!known)
            json_object_set(extra, key, v);
    }
    p->extra = extra;
    return 0;
}

int mk_profile_load(const char *home, const char *name, struct mk_profile **out,
                    struct mk_error **err)
{
    *out = NULL;
    if (mk_validate_profile_name(name, err) < 0)
        return -1;
    mk_autofree char *path = mk_home_path(home, "profiles/%s/config.json", name);
    mk_autobuf struct mk_buf data = MK_BUF_INIT;
    bool enoent = false;
    mk_autoerror struct mk_error *rerr = NULL;
    if (mk_read_file(path, &data, 1u << 20, &enoent, &rerr) < 0) {
        if (enoent)
            return 0;
        return mk_error_set(err, MK_EXIT_CONFIG, "%s", rerr->msg);
    }
    json_error_t jerr;
    json_t *o = json_loadb(mk_buf_str(&data), data.len, 0, &jerr);
    if (!o)
        return mk_error_set(err, MK_EXIT_CONFIG, "cannot parse %s: line %d: %s", path, jerr.line,
                            jerr.text);
    int ret = -1;
    struct mk_profile *p = mk_profile_new(name);
    if (!json_is_object(o)) {
        mk_error_set(err, MK_EXIT_CONFIG, "cannot parse %s: not a JSON object", path);
        goto cleanup;
    }
    if (from_json(p, o, path, err) < 0)
        goto cleanup;
    *out = p;
    p = NULL;
    ret = 0;
cleanup:
    mk_profile_free(p);
    json_decref(o);
    return ret;
}

json_t *mk_profile_to_json(const struct mk_profile *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(p->name));
    json_object_set_new(o, "driver", json_string(p->driver ? p->driver : ""));
    json_object_set_new(o, "cpus", json_integer(p->cpus));
    json_object_set_new(o, "memory_mib", json_integer((json_int_t)p->memory_mib));
    json_object_set_new(o, "disk_mib", json_integer((json_int_t)p->disk_mib));
    json_object_set_new(o, "kubernetes_version",
                        json_string(p->kubernetes_version ? p->kubernetes_version : ""));
    json_object_set_new(o, "container_runtime",
                        json_string(p->container_runtime ? p->container_runtime : ""));
    json_object_set_new(o, "bundle_url", p->bundle_url ? json_string(p->bundle_url) : json_null());
    json_object_set_new(o, "iso_url", p->iso_url ? json_string(p->iso_url) : json_null());
    json_t *addons = json_object();
    for (size_t i = 0; p->addons && p->addons[i]; i++)
        json_object_set_new(addons, p->addons[i], json_true());
    json_object_set_new(o, "addons", addons);
    json_object_set_new(o, "status_hint",
                        p->status_hint ? json_string(p->status_hint) : json_null());
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)p->extra, key, v)
    {
        if (!json_object_get(o, key))
            json_object_set(o, key, v);
    }
    return o;
}

int mk_profile_lock(const char *home, const char *name, int timeout_ms, int *fd,
                    struct mk_error **err)
{
    if (mk_validate_profile_name(name, err) < 0)
        return -1;
    mk_autofree char *dir = profile_dir(home, name);
    if (mk_mkdir_p(dir, 0700, err) < 0)
        return -1;
    mk_autofree char *path = mk_home_path(home, "profiles/%s/.lock", name);
    if (mk_lock(path, timeout_ms, fd, err) < 0)
        return mk_error_wrap(err, "profile \"%s\"", name);
    for (size_t i = 0; i < MK_ARRAY_SIZE(held); i++) {
        /* a slot whose lock was let go with a bare mk_unlock() is free too
         * (its fd is closed, or reused: then it is ours now) */
        if (held[i].path && (held[i].fd == *fd || !fd_is_file(held[i].fd, held[i].path))) {
            free(held[i].path);
            held[i] = (struct held_lock){.fd = -1};
        }
        if (!held[i].path) {
            held[i] = (struct held_lock){*fd, xstrdup(path)};
            break;
        }
    }
    return 0;
}

void mk_profile_unlock(int fd)
{
    if (fd < 0)
        return;
    for (size_t i = 0; i < MK_ARRAY_SIZE(held); i++) {
        if (held[i].path && held[i].fd == fd) {
            free(held[i].path);
            held[i] = (struct held_lock){.fd = -1};
        }
    }
    mk_unlock(fd);
}

/* Take the profile lock unless this process holds it; *fd = -1 then. */
static int lock_unless_held(const char *home, const char *name, int *fd, struct mk_error **err)
{
    *fd = -1;
    mk_autofree char *path = mk_home_path(home, "profiles/%s/.lock", name);
    if (lock_held(path))
        return 0;
    return mk_profile_lock(home, name, LOCK_WAIT_MS, fd, err);
}

/* Temp files of writers killed mid-write: every write holds the lock, so
 * while we hold it any config.json.tmp.* left in the folder is dead. */
static void remove_stale_temps(const char *home, const char *name)
{
    mk_autofree char *dir = profile_dir(home, name);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!mk_str_has_prefix(de->d_name, "config.json.tmp."))
            continue;
        mk_autofree char *path = xasprintf("%s/%s", dir, de->d_name);
        if (unlink(path) == 0)
            mk_debug(1, "removed %s, left by an interrupted write", path);
    }
    closedir(d);
}

int mk_profile_save(const char *home, const struct mk_profile *p, struct mk_error **err)
{
    if (mk_validate_profile_name(p->name, err) < 0)
        return -1;
    int fd = -1;
    if (lock_unless_held(home, p->name, &fd, err) < 0)
        return -1;
    remove_stale_temps(home, p->name);
    json_t *o = mk_profile_to_json(p);
    char *text = json_dumps(o, JSON_INDENT(2));
    json_decref(o);
    mk_autofree char *path = mk_home_path(home, "profiles/%s/config.json", p->name);
    int ret = 0;
    if (!text) {
        ret = mk_error_set(err, MK_EXIT_FAILURE, "cannot encode profile \"%s\"", p->name);
    } else {
        mk_autofree char *withnl = xasprintf("%s\n", text);
        ret = mk_write_file_atomic(path, withnl, strlen(withnl), 0600, err);
    }
    free(text);
    mk_profile_unlock(fd);
    return ret;
}

int mk_profile_delete(const char *home, const char *name, struct mk_error **err)
{
    if (mk_validate_profile_name(name, err) < 0)
        return -1;
    mk_autofree char *dir = profile_dir(home, name);
    if (!mk_path_exists(dir))
        return 0;
    int fd = -1;
    if (lock_unless_held(home, name, &fd, err) < 0)
        return -1;
    int ret = mk_rm_rf(dir, err);
    mk_profile_unlock(fd);
    if (ret < 0)
        return -1;
    mk_autofree char *active = mk_profile_get_active(home);
    if (active && strcmp(active, name) == 0) {
        mk_autofree char *path = mk_home_path(home, "active-profile");
        if (unlink(path) < 0 && errno != ENOENT)
            return mk_error_errno(err, errno, "cannot remove %s", path);
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int mk_profile_list(const char *home, char ***names, struct mk_error **err)
{
    mk_autofree char *dir = mk_home_path(home, "profiles");
    char **v = xcalloc(1, sizeof(*v));
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) {
            *names = v;
            return 0;
        }
        int e = errno;
        mk_strv_free(v);
        return mk_error_errno(err, e, "cannot list %s", dir);
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        mk_autofree char *sub = xasprintf("%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            v = mk_strv_push(v, de->d_name);
    }
    closedir(d);
    qsort(v, mk_strv_len(v), sizeof(*v), cmp_str);
    *names = v;
    return 0;
}

char *mk_profile_get_active(const char *home)
{
    mk_autofree char *path = mk_home_path(home, "active-profile");
    mk_autobuf struct mk_buf data = MK_BUF_INIT;
    struct mk_error *e = NULL;
    if (mk_read_file(path, &data, 4096, NULL, &e) < 0) {
        mk_error_free(e);
        return NULL;
    }
    mk_buf_rtrim(&data);
    if (mk_validate_profile_name(mk_buf_str(&data), &e) < 0) {
        mk_debug(1, "ignoring %s: %s", path, e->msg);
        mk_error_free(e);
        return NULL;
    }
    return mk_buf_detach(&data);
}

int mk_profile_set_active(const char *home, const char *name, struct mk_error **err)
{
    if (mk_validate_profile_name(name, err) < 0)
        return -1;
    if (mk_mkdir_p(home, 0700, err) < 0)
        return -1;
    mk_autofree char *path = mk_home_path(home, "active-profile");
    mk_autofree char *text = xasprintf("%s\n", name);
    return mk_write_file_atomic(path, text, strlen(text), 0644, err);
}

int mk_profile_resolve_name(const char *home, const char *flag, char **name, struct mk_error **err)
{
    if (flag) {
        if (mk_validate_profile_name(flag, err) < 0)
            return -1;
        *name = xstrdup(flag);
        return 0;
    }
    const char *env = getenv("MKUBE_PROFILE");
    if (env && *env) {
        if (mk_validate_profile_name(env, err) < 0)
            return mk_error_wrap(err, "MKUBE_PROFILE");
        *name = xstrdup(env);
        return 0;
    }
    char *active = mk_profile_get_active(home);
    *name = active ? active : xstrdup(MK_DEFAULT_PROFILE);
    return 0;
}
