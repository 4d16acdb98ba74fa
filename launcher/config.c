/* config.c - global defaults in $MKUBE_HOME/config/config.json and the
 * flag > env > file > default resolution (see config.h). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "home.h"
#include "validate.h"

#define LOCK_WAIT_MS 30000

static int norm_driver(const char *s, char **out, struct mk_error **err)
{
    if (mk_validate_driver(s, err) < 0)
        return -1;
    *out = xstrdup(s);
    return 0;
}

static int norm_cpus(const char *s, char **out, struct mk_error **err)
{
    unsigned n;
    if (mk_parse_cpus(s, &n, err) < 0)
        return -1;
    *out = xasprintf("%u", n);
    return 0;
}

static int norm_memory(const char *s, char **out, struct mk_error **err)
{
    uint64_t mib;
    if (mk_parse_memory(s, &mib, err) < 0)
        return -1;
    *out = xasprintf("%" PRIu64, mib);
    return 0;
}

static int norm_disk(const char *s, char **out, struct mk_error **err)
{
    uint64_t mib;
    if (mk_parse_disk(s, &mib, err) < 0)
        return -1;
    *out = xasprintf("%" PRIu64, mib);
    return 0;
}

static int norm_version(const char *s, char **out, struct mk_error **err)
{
    return mk_validate_k8s_version(s, out, err);
}

static int norm_runtime(const char *s, char **out, struct mk_error **err)
{
    if (mk_validate_runtime(s, err) < 0)
        return -1;
    *out = xstrdup(s);
    return 0;
}

/* A URL, or a path made absolute: a stored relative path must not change
 * meaning with the directory mkube runs in. */
static int norm_url(const char *s, const char *what, char **out, struct mk_error **err)
{
    if (*s && mk_validate_url(s, what, err) < 0)
        return -1;
    if (*s && !strstr(s, "://") && s[0] != '/') {
        char cwd[4096];
        if (!getcwd(cwd, sizeof(cwd)))
            return mk_error_errno(err, errno, "cannot resolve %s", s);
        *out = xasprintf("%s/%s", cwd, s);
        return 0;
    }
    *out = xstrdup(s);
    return 0;
}

static int norm_bundle_url(const char *s, char **out, struct mk_error **err)
{
    return norm_url(s, "bundle URL", out, err);
}

static int norm_iso_url(const char *s, char **out, struct mk_error **err)
{
    return norm_url(s, "ISO URL", out, err);
}

static int norm_duration(const char *s, char **out, struct mk_error **err)
{
    unsigned secs;
    if (mk_parse_duration_s(s, &secs, err) < 0)
        return -1;
    *out = xasprintf("%u", secs);
    return 0;
}

static int norm_bool(const char *s, char **out, struct mk_error **err)
{
    bool b;
    if (mk_parse_bool(s, &b, err) < 0)
        return -1;
    *out = xstrdup(b ? "true" : "false");
    return 0;
}

#define STR_(x) #x
#define STR(x) STR_(x)

const struct mk_config_key mk_config_keys[] = {
    {"driver", "MKUBE_DRIVER", "",
     "VM driver: libvirt, qemu, virtualbox, hyperv (empty: automatic)", norm_driver},
    {"cpus", "MKUBE_CPUS", STR(MK_DEFAULT_CPUS), "number of CPUs for the VM", norm_cpus},
    {"memory", "MKUBE_MEMORY", STR(MK_DEFAULT_MEMORY_MIB),
     "memory for the VM: 3072, 3072mb, 3g (MiB without a unit)", norm_memory},
    {"disk-size", "MKUBE_DISK_SIZE", STR(MK_DEFAULT_DISK_MIB), "size of the VM's data disk: 20g",
     norm_disk},
    {"kubernetes-version", "MKUBE_KUBERNETES_VERSION", MK_DEFAULT_K8S_VERSION,
     "Kubernetes version: v1.37.2", norm_version},
    {"container-runtime", "MKUBE_CONTAINER_RUNTIME", MK_DEFAULT_RUNTIME,
     "container runtime: docker or containerd", norm_runtime},
    {"bundle-url", "MKUBE_BUNDLE_URL", "",
     "where to fetch the Kubernetes bundle (file:// or http://)", norm_bundle_url},
    {"iso-url", "MKUBE_ISO_URL", "", "where to fetch the VM image (file:// or http://)",
     norm_iso_url},
    {"wait-timeout", "MKUBE_WAIT_TIMEOUT", STR(MK_DEFAULT_WAIT_TIMEOUT_S),
     "how long start waits for the cluster: 900s, 15m", norm_duration},
    {"embed-certs", "MKUBE_EMBED_CERTS", "false",
     "embed certificates in the kubeconfig instead of referring to files", norm_bool},
    {NULL, NULL, NULL, NULL, NULL},
};

const struct mk_config_key *mk_config_key_find(const char *name)
{
    for (const struct mk_config_key *k = mk_config_keys; name && k->name; k++)
        if (strcmp(k->name, name) == 0)
            return k;
    return NULL;
}

static const struct mk_config_key *known_key(const char *key, struct mk_error **err)
{
    const struct mk_config_key *k = mk_config_key_find(key);
    if (!k) {
        mk_error_set(err, MK_EXIT_USAGE, "unknown config key \"%s\"", key ? key : "");
        mk_error_hint(err, "run 'mkube config --help' to list the keys");
    }
    return k;
}

int mk_config_check(const char *key, const char *value, char **normalized, struct mk_error **err)
{
    const struct mk_config_key *k = known_key(key, err);
    if (!k)
        return -1;
    char *n = NULL;
    if (k->normalize(value ? value : "", &n, err) < 0)
        return -1;
    if (normalized)
        *normalized = n;
    else
        free(n);
    return 0;
}

/* The file as a JSON object (empty when it does not exist). */
static int read_file(const char *home, json_t **out, struct mk_error **err)
{
    mk_autofree char *path = mk_home_path(home, "config/config.json");
    mk_autobuf struct mk_buf data = MK_BUF_INIT;
    bool enoent = false;
    mk_autoerror struct mk_error *rerr = NULL;
    if (mk_read_file(path, &data, 1u << 20, &enoent, &rerr) < 0) {
        if (enoent) {
            *out = json_object();
            return 0;
        }
        return mk_error_set(err, MK_EXIT_CONFIG, "%s", rerr->msg);
    }
    json_error_t jerr;
    json_t *o = json_loadb(mk_buf_str(&data), data.len, 0, &jerr);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        mk_error_set(err, MK_EXIT_CONFIG, "cannot parse %s: %s", path,
                     o ? "not a JSON object" : jerr.text);
        return mk_error_hint(err, "fix or remove the file");
    }
    *out = o;
    return 0;
}

static int write_file(const char *home, json_t *o, struct mk_error **err)
{
    mk_autofree char *path = mk_home_path(home, "config/config.json");
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!text)
        return mk_error_set(err, MK_EXIT_FAILURE, "cannot encode %s", path);
    mk_autofree char *withnl = xasprintf("%s\n", text);
    free(text);
    return mk_write_file_atomic(path, withnl, strlen(withnl), 0600, err);
}

/* A value from the file as text: strings as they are, numbers and booleans
 * (a hand-edited file) in JSON form. */
static char *value_text(json_t *v)
{
    if (json_is_string(v))
        return xstrdup(json_string_value(v));
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    char *r = xstrdup(s ? s : "");
    free(s);
    return r;
}

int mk_config_get(const char *home, const char *key, char **value, struct mk_error **err)
{
    *value = NULL;
    if (!known_key(key, err))
        return -1;
    json_t *o = NULL;
    if (read_file(home, &o, err) < 0)
        return -1;
    json_t *v = json_object_get(o, key);
    if (v && !json_is_null(v))
        *value = value_text(v);
    json_decref(o);
    return 0;
}

/* Temp files of writers killed mid-write (every write holds the lock). */
static void remove_stale_temps(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (mk_str_has_prefix(de->d_name, "config.json.tmp.")) {
            mk_autofree char *path = xasprintf("%s/%s", dir, de->d_name);
            unlink(path);
        }
    }
    closedir(d);
}

/* Read-modify-write under config/.lock. value NULL removes key. */
static int update(const char *home, const char *key, const char *value, struct mk_error **err)
{
    mk_autofree char *dir = mk_home_path(home, "config");
    mk_autofree char *lock = mk_home_path(home, "config/.lock");
    mk_autofree char *path = mk_home_path(home, "config/config.json");
    if (!value && !mk_path_exists(path))
        return 0; /* nothing to unset: create nothing */
    if (mk_mkdir_p(dir, 0700, err) < 0)
        return -1;
    int fd = -1;
    if (mk_lock(lock, LOCK_WAIT_MS, &fd, err) < 0)
        return -1;
    remove_stale_temps(dir);
    json_t *o = NULL;
    int ret = -1;
    if (read_file(home, &o, err) < 0)
        goto cleanup;
    if (value) {
        json_object_set_new(o, key, json_string(value));
    } else if (json_object_get(o, key)) {
        json_object_del(o, key);
    } else {
        ret = 0;
        goto cleanup;
    }
    ret = write_file(home, o, err);
cleanup:
    json_decref(o);
    mk_unlock(fd);
    return ret;
}

int mk_config_set(const char *home, const char *key, const char *value, struct mk_error **err)
{
    mk_autofree char *normalized = NULL;
    if (mk_config_check(key, value, &normalized, err) < 0)
        return -1;
    /* values are kept as typed ("4g"), except paths, which are made absolute */
    bool is_url = strcmp(key, "iso-url") == 0 || strcmp(key, "bundle-url") == 0;
    return update(home, key, is_url ? normalized : value, err);
}

int mk_config_unset(const char *home, const char *key, struct mk_error **err)
{
    if (!known_key(key, err))
        return -1;
    return update(home, key, NULL, err);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int mk_config_view(const char *home, char ***keys, char ***values, struct mk_error **err)
{
    json_t *o = NULL;
    if (read_file(home, &o, err) < 0)
        return -1;
    char **k = xcalloc(1, sizeof(*k));
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        if (!json_is_null(v))
            k = mk_strv_push(k, key);
    }
    qsort(k, mk_strv_len(k), sizeof(*k), cmp_str);
    char **vals = xcalloc(mk_strv_len(k) + 1, sizeof(*vals));
    for (size_t i = 0; k[i]; i++)
        vals[i] = value_text(json_object_get(o, k[i]));
    json_decref(o);
    *keys = k;
    *values = vals;
    return 0;
}

int mk_config_resolve(const char *home, const char *key, const char *flag_value, char **value,
                      const char **source, struct mk_error **err)
{
    const struct mk_config_key *k = known_key(key, err);
    if (!k)
        return -1;
    if (flag_value) {
        if (source)
            *source = "flag";
        return k->normalize(flag_value, value, err);
    }
    const char *env = getenv(k->env);
    if (env && *env) {
        if (source)
            *source = "env";
        if (k->normalize(env, value, err) < 0)
            return mk_error_wrap(err, "%s", k->env);
        return 0;
    }
    mk_autofree char *stored = NULL;
    if (mk_config_get(home, key, &stored, err) < 0)
        return -1;
    if (stored) {
        if (source)
            *source = "config";
        if (k->normalize(stored, value, err) < 0) {
            mk_autofree char *path = mk_home_path(home, "config/config.json");
            mk_error_wrap(err, "%s: %s", path, key);
            return mk_error_hint(err, "run 'mkube config set %s VALUE' or 'mkube config unset %s'",
                                 key, key);
        }
        return 0;
    }
    if (source)
        *source = "default";
    *value = xstrdup(k->def);
    return 0;
}

int mk_config_resolve_u64(const char *home, const char *key, const char *flag_value,
                          uint64_t *value, const char **source, struct mk_error **err)
{
    mk_autofree char *s = NULL;
    if (mk_config_resolve(home, key, flag_value, &s, source, err) < 0)
        return -1;
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 10);
    if (!*s || *end || errno)
        return mk_error_set(err, MK_EXIT_USAGE, "config key \"%s\" is not a number", key);
    *value = n;
    return 0;
}
