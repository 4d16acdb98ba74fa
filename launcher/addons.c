/* addons.c - addon metadata, state in the profile, kubectl apply/delete (see addons.h). */
#include "addons.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fsutil.h"
#include "kubeconfig.h"
#include "log.h"
#include "run.h"

#define DEFAULTS_MARK "addon_defaults"
#define APPLY_ATTEMPTS 3
#define APPLY_RETRY_S 5
#define KUBECTL_TIMEOUT_MS (300 * 1000)

char *mk_addons_dir(struct mk_error **err)
{
    const char *env_data = getenv("MKUBE_DATADIR");
    const char *env_src = getenv("MKUBE_SOURCE_DIR");
    char *cands[4] = {
        env_data && *env_data ? xasprintf("%s/addons", env_data) : NULL,
        xasprintf("%s/addons", MKUBE_DATADIR),
        env_src && *env_src ? xasprintf("%s/addons", env_src) : NULL,
        xasprintf("%s/addons", MKUBE_SOURCE_DIR),
    };
    char *found = NULL;
    for (size_t i = 0; i < MK_ARRAY_SIZE(cands); i++) {
        if (!found && cands[i] && mk_path_exists(cands[i]))
            found = cands[i];
        else
            free(cands[i]);
    }
    if (!found) {
        mk_error_set(err, MK_EXIT_CONFIG, "no addons directory was found");
        mk_error_hint(err, "install mkube (it puts them in %s/addons), or set MKUBE_DATADIR",
                      MKUBE_DATADIR);
    }
    return found;
}

static char **json_strv(const json_t *arr, const char *prefix)
{
    char **v = xcalloc(1, sizeof(*v));
    size_t i;
    const json_t *s;
    json_array_foreach(arr, i, s)
    {
        if (!json_is_string(s))
            continue;
        mk_autofree char *item = prefix ? xasprintf("%s/%s", prefix, json_string_value(s))
                                        : xstrdup(json_string_value(s));
        v = mk_strv_push(v, item);
    }
    return v;
}

static bool valid_name(const char *name)
{
    if (!*name || strlen(name) > 63)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return false;
    return true;
}

int mk_addon_load(const char *dir, const char *name, struct mk_addon *out, struct mk_error **err)
{
    memset(out, 0, sizeof(*out));
    mk_autofree char *adir = xasprintf("%s/%s", dir, name);
    mk_autofree char *path = xasprintf("%s/addon.json", adir);
    if (!valid_name(name) || !mk_path_exists(path)) {
        mk_error_set(err, MK_EXIT_USAGE, "unknown addon \"%s\"", name);
        return mk_error_hint(err, "see the addons with: mkube addons list");
    }
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        return mk_error_set(err, MK_EXIT_CONFIG, "cannot parse %s: line %d: %s", path, je.line,
                            je.text);
    int rc = -1;
    const json_t *manifests = json_object_get(j, "manifests");
    if (!mk_streq(json_string_value(json_object_get(j, "name")), name) ||
        !json_is_array(manifests) || json_array_size(manifests) == 0) {
        mk_error_set(err, MK_EXIT_CONFIG,
                     "%s: \"name\" must be \"%s\" and \"manifests\" a non-empty list", path, name);
        goto cleanup;
    }
    out->name = xstrdup(name);
    const char *desc = json_string_value(json_object_get(j, "description"));
    out->description = xstrdup(desc ? desc : "");
    out->default_enabled = json_is_true(json_object_get(j, "default"));
    out->images = json_strv(json_object_get(j, "images"), NULL);
    out->manifests = json_strv(manifests, adir);
    for (char **m = out->manifests; *m; m++) {
        if (!mk_path_exists(*m)) {
            mk_error_set(err, MK_EXIT_CONFIG, "addon \"%s\": manifest %s is missing", name, *m);
            mk_addon_release(out);
            goto cleanup;
        }
    }
    rc = 0;
cleanup:
    json_decref(j);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct mk_addon *)a)->name, ((const struct mk_addon *)b)->name);
}

int mk_addons_load_all(const char *dir, struct mk_addon **out, size_t *n, struct mk_error **err)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return mk_error_errno(err, errno, "cannot read %s", dir);
    struct mk_addon *v = NULL;
    size_t count = 0;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        mk_autofree char *meta = xasprintf("%s/%s/addon.json", dir, de->d_name);
        if (!mk_path_exists(meta))
            continue;
        v = xrealloc(v, (count + 1) * sizeof(*v));
        if (mk_addon_load(dir, de->d_name, &v[count], err) < 0) {
            rc = -1;
            break;
        }
        count++;
    }
    closedir(d);
    if (rc < 0) {
        mk_addons_free(v, count);
        return -1;
    }
    if (count)
        qsort(v, count, sizeof(*v), by_name);
    *out = v;
    *n = count;
    return 0;
}

void mk_addon_release(struct mk_addon *a)
{
    free(a->name);
    free(a->description);
    mk_strv_free(a->images);
    mk_strv_free(a->manifests);
    memset(a, 0, sizeof(*a));
}

void mk_addons_free(struct mk_addon *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mk_addon_release(&v[i]);
    free(v);
}

/* ---- state ---- */

static bool defaults_taken(const struct mk_profile *p)
{
    return p && p->extra && json_is_true(json_object_get((json_t *)p->extra, DEFAULTS_MARK));
}

bool mk_addon_enabled(const struct mk_profile *p, const struct mk_addon *a)
{
    if (mk_profile_has_addon(p, a->name))
        return true;
    return !defaults_taken(p) && a->default_enabled;
}

bool mk_addons_take_defaults(struct mk_profile *p, const struct mk_addon *all, size_t n)
{
    if (defaults_taken(p))
        return false;
    for (size_t i = 0; i < n; i++)
        if (all[i].default_enabled)
            mk_profile_set_addon(p, all[i].name, true);
    if (!p->extra)
        p->extra = json_object();
    json_object_set_new((json_t *)p->extra, DEFAULTS_MARK, json_true());
    return true;
}

char **mk_bundle_manifest_images(const json_t *manifest)
{
    char **v = xcalloc(1, sizeof(*v));
    size_t i;
    const json_t *img;
    json_array_foreach(json_object_get(manifest, "images"), i, img)
    {
        const char *name = json_string_value(json_object_get(img, "name"));
        if (name)
            v = mk_strv_push(v, name);
    }
    return v;
}

/* docker.io/library/x, docker.io/x and x name one image */
static const char *short_ref(const char *ref)
{
    if (mk_str_has_prefix(ref, "docker.io/library/"))
        return ref + strlen("docker.io/library/");
    if (mk_str_has_prefix(ref, "docker.io/"))
        return ref + strlen("docker.io/");
    return ref;
}

bool mk_addon_available(const struct mk_addon *a, char *const *images, char **missing)
{
    *missing = NULL;
    for (char **want = a->images; want && *want; want++) {
        bool have = false;
        for (char *const *i = images; i && *i && !have; i++)
            have = strcmp(short_ref(*i), short_ref(*want)) == 0;
        if (!have) {
            *missing = xstrdup(*want);
            return false;
        }
    }
    return true;
}

/* The image names of the bundle whose kubectl this is (manifest.json beside it). */
static int bundle_images(const char *kubectl, char ***images, struct mk_error **err)
{
    mk_autofree char *copy = xstrdup(kubectl);
    mk_autofree char *path = xasprintf("%s/manifest.json", dirname(copy));
    json_error_t je;
    json_t *m = json_load_file(path, 0, &je);
    if (!m)
        return mk_error_set(err, MK_EXIT_CONFIG, "cannot read the bundle manifest %s: %s", path,
                            je.text);
    *images = mk_bundle_manifest_images(m);
    json_decref(m);
    return 0;
}

char **mk_addons_cached_images(const char *cache_dir, const char *k8s_version)
{
    mk_autofree char *root = xasprintf("%s/bundle", cache_dir);
    DIR *d = opendir(root);
    if (!d)
        return NULL;
    char **best = NULL;
    time_t best_mtime = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        mk_autofree char *path = xasprintf("%s/%s/manifest.json", root, de->d_name);
        struct stat st;
        if (stat(path, &st) < 0 || (best && st.st_mtime <= best_mtime))
            continue;
        json_t *m = json_load_file(path, 0, NULL);
        if (m &&
            mk_streq(json_string_value(json_object_get(m, "kubernetesVersion")), k8s_version)) {
            mk_strv_free(best);
            best = mk_bundle_manifest_images(m);
            best_mtime = st.st_mtime;
        }
        json_decref(m);
    }
    closedir(d);
    return best;
}

/* ---- kubectl ---- */

int mk_addon_apply(const char *kubectl, const char *context, const struct mk_addon *a, bool on,
                   struct mk_error **err)
{
    mk_autofree char *kubeconfig = mk_kubeconfig_path();
    size_t nm = mk_strv_len(a->manifests);
    const char **argv = xcalloc(12 + 2 * nm, sizeof(*argv));
    size_t k = 0;
    argv[k++] = kubectl;
    argv[k++] = "--kubeconfig";
    argv[k++] = kubeconfig;
    argv[k++] = "--context";
    argv[k++] = context;
    if (on) {
        argv[k++] = "apply";
        for (size_t i = 0; i < nm; i++) {
            argv[k++] = "-f";
            argv[k++] = a->manifests[i];
        }
    } else {
        argv[k++] = "delete";
        argv[k++] = "--ignore-not-found";
        argv[k++] = "--timeout=120s";
        for (size_t i = nm; i-- > 0;) {
            argv[k++] = "-f";
            argv[k++] = a->manifests[i];
        }
    }
    struct mk_run_opts o = {
        .capture_stdout = true, .capture_stderr = true, .timeout_ms = KUBECTL_TIMEOUT_MS};
    int rc = -1;
    for (int attempt = 1; attempt <= APPLY_ATTEMPTS; attempt++) {
        struct mk_run_result r;
        mk_run_result_init(&r);
        struct mk_error *e = NULL;
        rc = mk_run_check(argv, &o, &r, &e);
        if (rc == 0)
            mk_debug(1, "%s", mk_buf_str(&r.out));
        mk_run_result_release(&r);
        if (rc == 0) {
            mk_error_free(e);
            break;
        }
        if (attempt == APPLY_ATTEMPTS) {
            *err = e;
            mk_error_wrap(err, "cannot %s the \"%s\" addon", on ? "apply" : "delete", a->name);
            break;
        }
        mk_debug(1, "kubectl %s of %s failed (attempt %d): %s", on ? "apply" : "delete", a->name,
                 attempt, e->msg);
        mk_error_free(e);
        struct timespec ts = {APPLY_RETRY_S, 0};
        nanosleep(&ts, NULL);
    }
    free(argv);
    return rc;
}

int mk_addons_apply_enabled(const struct mk_cluster *c, struct mk_error **err)
{
    mk_autoprofile struct mk_profile *p = NULL;
    struct mk_addon *all = NULL;
    size_t n = 0;
    mk_autofree char *dir = NULL;
    mk_autofree char *kubectl = NULL;
    mk_autostrv char **images = NULL;
    mk_autofree char *names = NULL;
    int rc = -1;
    if (mk_profile_load(c->home, c->name, &p, err) < 0)
        return -1;
    if (!p)
        return mk_error_set(err, MK_EXIT_PROFILE_NOT_FOUND, "profile \"%s\" not found", c->name);
    struct mk_error *e = NULL;
    dir = mk_addons_dir(&e);
    if (!dir || mk_addons_load_all(dir, &all, &n, &e) < 0) {
        mk_warn("addons are not applied: %s", e->msg);
        mk_error_free(e);
        return 0;
    }
    /* the caller (start) holds the profile lock: mk_profile_save sees it */
    if (mk_addons_take_defaults(p, all, n) && mk_profile_save(c->home, p, err) < 0)
        goto cleanup;
    if (!(kubectl = mk_cluster_kubectl(c, err)) || bundle_images(kubectl, &images, err) < 0)
        goto cleanup;
    for (char **want = p->addons; want && *want; want++) {
        const struct mk_addon *a = NULL;
        for (size_t i = 0; i < n && !a; i++)
            if (strcmp(all[i].name, *want) == 0)
                a = &all[i];
        if (!a) {
            mk_warn("addon \"%s\" is enabled but not installed in %s", *want, dir);
            continue;
        }
        mk_autofree char *missing = NULL;
        if (!mk_addon_available(a, images, &missing)) {
            mk_warn("addon \"%s\" is unavailable: the bundle has no image %s", a->name, missing);
            continue;
        }
        char *more = xasprintf("%s%s%s", names ? names : "", names ? ", " : "", a->name);
        free(names);
        names = more;
    }
    if (names)
        mk_step("Enabled addons: %s", names);
    for (char **want = p->addons; want && *want; want++) {
        for (size_t i = 0; i < n; i++) {
            mk_autofree char *missing = NULL;
            if (strcmp(all[i].name, *want) != 0 || !mk_addon_available(&all[i], images, &missing))
                continue;
            e = NULL;
            if (mk_addon_apply(kubectl, c->name, &all[i], true, &e) < 0) {
                mk_warn("enabling the \"%s\" addon failed: %s", all[i].name, e->msg);
                mk_error_free(e);
            }
        }
    }
    rc = 0;
cleanup:
    mk_addons_free(all, n);
    return rc;
}

/* Is the profile's VM running? (driver state; the API answers are checked by kubectl) */
static bool running(const struct mk_cluster *c)
{
    enum mk_vm_state st = MK_VM_NONEXISTENT;
    struct mk_error *e = NULL;
    if (c->machine && mk_machine_state(c->machine, &st, &e) < 0)
        st = MK_VM_ERROR;
    mk_error_free(e);
    return st == MK_VM_RUNNING;
}

int mk_addons_set(const char *home, const char *profile, const char *name, bool on,
                  struct mk_error **err)
{
    struct mk_addon *all = NULL;
    size_t n = 0;
    struct mk_cluster c;
    memset(&c, 0, sizeof(c));
    struct mk_profile *p = NULL;
    int lockfd = -1, rc = -1;
    mk_autofree char *dir = mk_addons_dir(err);
    mk_autofree char *kubectl = NULL;
    mk_autostrv char **images = NULL;
    if (!dir || mk_addons_load_all(dir, &all, &n, err) < 0)
        return -1;
    const struct mk_addon *a = NULL;
    for (size_t i = 0; i < n && !a; i++)
        if (strcmp(all[i].name, name) == 0)
            a = &all[i];
    if (!a) {
        mk_error_set(err, MK_EXIT_USAGE, "unknown addon \"%s\"", name);
        mk_error_hint(err, "see the addons with: mkube addons list");
        goto cleanup;
    }
    /* look before locking: the lock would create profiles/<name>/ */
    if (mk_profile_load(home, profile, &p, err) < 0)
        goto cleanup;
    if (p) {
        mk_profile_free(p);
        p = NULL;
        if (mk_profile_lock(home, profile, 10000, &lockfd, err) < 0 ||
            mk_profile_load(home, profile, &p, err) < 0)
            goto cleanup;
    }
    if (!p) {
        mk_error_set(err, MK_EXIT_PROFILE_NOT_FOUND, "profile \"%s\" not found", profile);
        mk_error_hint(err, "start a cluster with: mkube -p %s start", profile);
        goto cleanup;
    }
    if (mk_cluster_open(home, profile, &c, err) < 0)
        goto cleanup;
    bool up = running(&c);
    if (!on && !up) {
        /* its objects live in the stopped cluster: only a running one can drop them */
        mk_error_set(err, MK_EXIT_UNAVAILABLE,
                     "the \"%s\" cluster is not running: cannot remove the \"%s\" addon", profile,
                     name);
        mk_error_hint(err, "start it with 'mkube -p %s start', then disable the addon", profile);
        goto cleanup;
    }
    if (on && up) {
        /* say "unavailable" before recording anything */
        if (!(kubectl = mk_cluster_kubectl(&c, err)) || bundle_images(kubectl, &images, err) < 0)
            goto cleanup;
        mk_autofree char *missing = NULL;
        if (!mk_addon_available(a, images, &missing)) {
            mk_error_set(err, MK_EXIT_UNAVAILABLE,
                         "the \"%s\" addon is unavailable: the Kubernetes bundle has no image %s",
                         name, missing);
            mk_error_hint(err, "build the bundle with it (see docs/developer-loop.md)");
            goto cleanup;
        }
    }
    mk_addons_take_defaults(p, all, n);
    mk_profile_set_addon(p, name, on);
    if (mk_profile_save(home, p, err) < 0)
        goto cleanup;
    mk_profile_unlock(lockfd);
    lockfd = -1;
    if (!up) {
        mk_step("The '%s' addon will be enabled when the cluster starts", name);
        rc = 0;
        goto cleanup;
    }
    if (!kubectl && !(kubectl = mk_cluster_kubectl(&c, err)))
        goto cleanup;
    if (mk_addon_apply(kubectl, profile, a, on, err) < 0)
        goto cleanup;
    mk_step("The '%s' addon is %s", name, on ? "enabled" : "disabled");
    rc = 0;
cleanup:
    mk_profile_unlock(lockfd);
    mk_profile_free(p);
    mk_cluster_close(&c);
    mk_addons_free(all, n);
    return rc;
}
