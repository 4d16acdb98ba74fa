/* kubeconfig.c - merge and remove mkube's entries in the user's kubeconfig (see kubeconfig.h). */
#include "kubeconfig.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "yamltree.h"

#define EXT_PROVIDER "mkube.sigs.k8s.io"
#define EXT_VERSION "v" MKUBE_VERSION

/* ---- paths ---- */

static const char *home_dir(void)
{
    const char *h = getenv("HOME");
    if (h && *h)
        return h;
    struct passwd *pw = getpwuid(getuid());
    return pw ? pw->pw_dir : "/";
}

char *mk_kubeconfig_path(void)
{
    const char *env = getenv("KUBECONFIG");
    if (env) {
        const char *p = env;
        while (*p) {
            size_t n = strcspn(p, ":");
            if (n)
                return xstrndup(p, n);
            p += 1;
        }
    }
    return xasprintf("%s/.kube/config", home_dir());
}

/* The path as the user would type it: ~/.kube/config. */
static char *display_path(const char *path)
{
    const char *h = home_dir();
    size_t n = strlen(h);
    if (n > 1 && strncmp(path, h, n) == 0 && path[n] == '/')
        return xasprintf("~%s", path + n);
    return xstrdup(path);
}

/* ---- the lock kubectl uses: <path>.lock, created O_EXCL, removed after ----
 *
 * kubectl fails at once when the file exists and never cleans up after a crash.
 * mkube waits (bounded), and also holds flock on the file it created, so a lock
 * file whose creator died (flock released by the kernel) and that says it is
 * ours can be taken over safely. */

struct kc_lock {
    char *path;
    int fd;
};

static bool lock_is_stale(int fd, const char *lockpath)
{
    struct stat a, b;
    if (fstat(fd, &a) < 0 || stat(lockpath, &b) < 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
        return false; /* replaced meanwhile: look again */
    char head[16] = {0};
    ssize_t n = pread(fd, head, sizeof(head) - 1, 0);
    return n >= 6 && strncmp(head, "mkube ", 6) == 0;
}

/* Create lockpath exclusively, already holding flock and saying "mkube <pid>".
 * An unnamed O_TMPFILE linked into place makes that atomic, so a kill at any
 * moment never leaves an anonymous lock file behind; where O_TMPFILE is not
 * supported, O_EXCL plus a write leaves a tiny window. Returns the fd or -1. */
static int create_lock(const char *lockpath)
{
    char id[32];
    int n = snprintf(id, sizeof(id), "mkube %ld\n", (long)getpid());
    mk_autofree char *copy = xstrdup(lockpath);
    int fd = open(dirname(copy), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0) {
        char proc[64];
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        if (write(fd, id, (size_t)n) == n && flock(fd, LOCK_EX) == 0 &&
            linkat(AT_FDCWD, proc, AT_FDCWD, lockpath, AT_SYMLINK_FOLLOW) == 0)
            return fd;
        int e = errno;
        close(fd);
        errno = e;
        if (e != ENOENT) /* ENOENT: no /proc; fall back */
            return -1;
    }
    fd = open(lockpath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    if (flock(fd, LOCK_EX) < 0 || write(fd, id, (size_t)n) != n) {
        int e = errno;
        unlink(lockpath);
        close(fd);
        errno = e ? e : EIO;
        return -1;
    }
    return fd;
}

static int kc_lock(const char *path, struct kc_lock *lk, struct mk_error **err)
{
    mk_autofree char *lockpath = xasprintf("%s.lock", path);
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        int fd = create_lock(lockpath);
        if (fd >= 0) {
            lk->path = lockpath;
            lockpath = NULL;
            lk->fd = fd;
            return 0;
        }
        if (errno != EEXIST)
            return mk_error_errno(err, errno, "cannot create lock file %s", lockpath);
        fd = open(lockpath, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            if (flock(fd, LOCK_EX | LOCK_NB) == 0 && lock_is_stale(fd, lockpath)) {
                mk_debug(1, "removing stale lock %s", lockpath);
                unlink(lockpath);
                close(fd);
                continue;
            }
            close(fd);
        } else if (errno == ENOENT) {
            continue;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        long waited = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (waited >= MK_KUBECONFIG_LOCK_TIMEOUT_MS) {
            mk_autofree char *shown = display_path(lockpath);
            mk_error_set(err, MK_EXIT_CONFIG, "kubeconfig is locked: %s exists", shown);
            return mk_error_hint(err, "if no kubectl or mkube command is running, remove %s",
                                 shown);
        }
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
    }
}

static void kc_unlock(struct kc_lock *lk)
{
    if (!lk->path)
        return;
    unlink(lk->path); /* still holding flock: waiters re-check the inode */
    close(lk->fd);
    free(lk->path);
    lk->path = NULL;
    lk->fd = -1;
}

/* Remove "<path>.tmp.<pid>" files (mk_write_file_atomic's temp names) left
 * by writers that were killed mid-write. Only called with the lock held, so
 * no live mkube is writing one, and only dead pids' files are touched. */
static void remove_stale_temps(const char *path)
{
    mk_autofree char *copy = xstrdup(path);
    mk_autofree char *copy2 = xstrdup(path);
    const char *dir = dirname(copy);
    mk_autofree char *prefix = xasprintf("%s.tmp.", basename(copy2));
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!mk_str_has_prefix(de->d_name, prefix))
            continue;
        char *end = NULL;
        long pid = strtol(de->d_name + strlen(prefix), &end, 10);
        if (pid <= 0 || *end || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* not ours, or its writer is alive */
        mk_debug(1, "removing %s/%s left by a killed writer", dir, de->d_name);
        unlinkat(dirfd(d), de->d_name, 0);
    }
    closedir(d);
}

/* ---- reading ---- */

static int malformed(struct mk_error **err, const char *verb, const char *path, const char *why)
{
    mk_autofree char *shown = display_path(path);
    return mk_error_set(err, MK_EXIT_CONFIG, "cannot %s kubeconfig %s: %s: fix or move the file",
                        verb, shown, why);
}

/* A list field must be absent, null or a sequence of mappings. */
static int check_list(const struct mk_yaml_node *root, const char *key, const char *verb,
                      const char *path, struct mk_error **err)
{
    const struct mk_yaml_node *l = mk_yaml_map_get(root, key);
    if (mk_yaml_is_null(l))
        return 0;
    if (l->kind != MK_YAML_SEQUENCE) {
        mk_autofree char *why = xasprintf("line %u: %s is not a list", l->line, key);
        return malformed(err, verb, path, why);
    }
    for (size_t i = 0; i < l->n; i++) {
        if (l->items[i]->kind != MK_YAML_MAPPING) {
            mk_autofree char *why =
                xasprintf("line %u: an entry of %s is not a mapping", l->items[i]->line, key);
            return malformed(err, verb, path, why);
        }
    }
    return 0;
}

/* Parse path into *root. A missing or empty file gives *root = NULL and
 * *missing = true; anything unparseable is an error naming the line. */
static int load(const char *path, const char *verb, struct mk_yaml_node **root, bool *missing,
                struct mk_error **err)
{
    struct mk_buf b = MK_BUF_INIT;
    mk_autoerror struct mk_error *perr = NULL;
    int ret = -1;

    *root = NULL;
    *missing = false;
    mk_buf_init(&b);
    if (mk_read_file(path, &b, 0, missing, &perr) < 0) {
        if (*missing)
            ret = 0;
        else
            mk_error_set(err, MK_EXIT_CONFIG, "cannot %s kubeconfig: %s", verb, perr->msg);
        goto cleanup;
    }
    if (mk_yaml_parse(b.buf, b.len, root, &perr) < 0) {
        malformed(err, verb, path, perr->msg);
        goto cleanup;
    }
    if (!*root) {
        *missing = true;
        ret = 0;
        goto cleanup;
    }
    if ((*root)->kind != MK_YAML_MAPPING) {
        mk_autofree char *why = xasprintf("line %u: not a mapping", (*root)->line);
        malformed(err, verb, path, why);
        goto cleanup;
    }
    if (check_list(*root, "clusters", verb, path, err) < 0 ||
        check_list(*root, "users", verb, path, err) < 0 ||
        check_list(*root, "contexts", verb, path, err) < 0)
        goto cleanup;
    ret = 0;
cleanup:
    if (ret < 0)
        mk_yaml_freep(root);
    mk_buf_release(&b);
    return ret;
}

static struct mk_yaml_node *new_config(void)
{
    struct mk_yaml_node *root = mk_yaml_mapping();
    mk_yaml_map_set_str(root, "apiVersion", "v1");
    mk_yaml_map_set(root, "clusters", mk_yaml_sequence());
    mk_yaml_map_set(root, "contexts", mk_yaml_sequence());
    mk_yaml_map_set_str(root, "current-context", "");
    mk_yaml_map_set_str(root, "kind", "Config");
    mk_yaml_map_set(root, "preferences", mk_yaml_mapping());
    mk_yaml_map_set(root, "users", mk_yaml_sequence());
    return root;
}

/* The list under key, made a sequence if it was absent or null. */
static struct mk_yaml_node *list_of(struct mk_yaml_node *root, const char *key)
{
    struct mk_yaml_node *l = mk_yaml_map_get(root, key);
    if (l && l->kind == MK_YAML_SEQUENCE)
        return l;
    l = mk_yaml_sequence();
    mk_yaml_map_set(root, key, l);
    return l;
}

/* Index of the entry called name in list, or -1. */
static ssize_t find_named(const struct mk_yaml_node *list, const char *name, size_t from)
{
    for (size_t i = from; list && list->kind == MK_YAML_SEQUENCE && i < list->n; i++)
        if (mk_streq(mk_yaml_map_get_str(list->items[i], "name"), name))
            return (ssize_t)i;
    return -1;
}

/* The inner mapping ("cluster", "user", "context") of entry name in list key,
 * creating the entry when missing. Later duplicates of name are dropped. */
static struct mk_yaml_node *upsert(struct mk_yaml_node *root, const char *key, const char *inner,
                                   const char *name)
{
    struct mk_yaml_node *list = list_of(root, key);
    ssize_t i = find_named(list, name, 0);
    struct mk_yaml_node *entry;
    if (i < 0) {
        entry = mk_yaml_mapping(); /* keys sorted, as kubectl writes them */
        if (strcmp(inner, "name") < 0)
            mk_yaml_map_set(entry, inner, mk_yaml_mapping());
        mk_yaml_map_set_str(entry, "name", name);
        if (!mk_yaml_map_get(entry, inner))
            mk_yaml_map_set(entry, inner, mk_yaml_mapping());
        mk_yaml_seq_append(list, entry);
    } else {
        entry = list->items[i];
        ssize_t dup;
        while ((dup = find_named(list, name, (size_t)i + 1)) >= 0)
            mk_yaml_seq_remove_at(list, (size_t)dup);
    }
    struct mk_yaml_node *m = mk_yaml_map_get(entry, inner);
    if (!m || m->kind != MK_YAML_MAPPING) {
        m = mk_yaml_mapping();
        mk_yaml_map_set(entry, inner, m);
    }
    return m;
}

/* Set a path or its embedded form, removing the other one. */
static void set_file_field(struct mk_yaml_node *m, const char *field, const char *path,
                           const char *data)
{
    mk_autofree char *data_field = xasprintf("%s-data", field);
    if (data) {
        mk_yaml_map_remove(m, field);
        mk_yaml_map_set_str(m, data_field, data);
    } else {
        mk_yaml_map_remove(m, data_field);
        mk_yaml_map_set_str(m, field, path);
    }
}

/* The minikube-style provenance extension; returns its last-update scalar. */
static struct mk_yaml_node *set_extension(struct mk_yaml_node *m, const char *ext_name)
{
    struct mk_yaml_node *exts = mk_yaml_map_get(m, "extensions");
    if (!exts || exts->kind != MK_YAML_SEQUENCE) {
        exts = mk_yaml_sequence();
        mk_yaml_map_set(m, "extensions", exts);
    }
    ssize_t i = find_named(exts, ext_name, 0);
    struct mk_yaml_node *item;
    if (i < 0) {
        item = mk_yaml_mapping();
        mk_yaml_map_set(item, "extension", mk_yaml_mapping());
        mk_yaml_map_set_str(item, "name", ext_name);
        mk_yaml_seq_append(exts, item);
    } else {
        item = exts->items[i];
    }
    struct mk_yaml_node *ext = mk_yaml_map_get(item, "extension");
    if (!ext || ext->kind != MK_YAML_MAPPING) {
        ext = mk_yaml_mapping();
        mk_yaml_map_set(item, "extension", ext);
    }
    if (!mk_yaml_map_get_str(ext, "last-update"))
        mk_yaml_map_set_str(ext, "last-update", "");
    mk_yaml_map_set_str(ext, "provider", EXT_PROVIDER);
    mk_yaml_map_set_str(ext, "version", EXT_VERSION);
    return mk_yaml_map_get(ext, "last-update");
}

static int read_base64(const char *path, char **out, struct mk_error **err)
{
    struct mk_buf b = MK_BUF_INIT;
    mk_buf_init(&b);
    if (mk_read_file(path, &b, 1 << 20, NULL, err) < 0) {
        mk_buf_release(&b);
        return -1;
    }
    *out = xmalloc(4 * ((b.len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)*out, (const unsigned char *)b.buf, (int)b.len);
    mk_buf_release(&b);
    return 0;
}

static int write_config(const char *path, const struct mk_yaml_node *root, struct mk_error **err)
{
    struct mk_buf out = MK_BUF_INIT;
    mk_buf_init(&out);
    int r = mk_yaml_emit(root, &out, err);
    /* write through a symlinked kubeconfig instead of replacing the link */
    mk_autofree char *real = realpath(path, NULL);
    if (r == 0)
        r = mk_write_file_atomic(real ? real : path, out.buf, out.len, 0600, err);
    mk_buf_release(&out);
    return r;
}

static char *emit_str(const struct mk_yaml_node *root)
{
    struct mk_buf out = MK_BUF_INIT;
    mk_buf_init(&out);
    mk_yaml_emit(root, &out, NULL);
    return mk_buf_detach(&out);
}

/* ---- public ---- */

int mk_kubeconfig_merge(const char *path, const struct mk_kube_entry *e, bool set_current,
                        struct mk_error **err)
{
    mk_autofree char *ca = NULL, *cert = NULL, *key = NULL, *before = NULL, *after = NULL;
    mk_autofree char *dir = NULL;
    mk_autoyaml struct mk_yaml_node *root = NULL;
    struct kc_lock lk = {NULL, -1};
    bool missing = false;
    int ret = -1;

    if (!e->name || !*e->name || !e->server || !e->ca_path || !e->client_cert_path ||
        !e->client_key_path)
        return mk_error_set(err, MK_EXIT_FAILURE, "cannot update kubeconfig: incomplete entry");
    if (e->embed_certs && (read_base64(e->ca_path, &ca, err) < 0 ||
                           read_base64(e->client_cert_path, &cert, err) < 0 ||
                           read_base64(e->client_key_path, &key, err) < 0))
        return mk_error_wrap(err, "cannot update kubeconfig");
    mk_autofree char *copy = xstrdup(path);
    dir = xstrdup(dirname(copy));
    if (!mk_path_exists(dir) && mk_mkdir_p(dir, 0700, err) < 0)
        return mk_error_wrap(err, "cannot update kubeconfig");
    if (kc_lock(path, &lk, err) < 0)
        goto cleanup;
    remove_stale_temps(path);
    if (load(path, "update", &root, &missing, err) < 0)
        goto cleanup;
    if (!root)
        root = new_config();
    before = missing ? NULL : emit_str(root);

    if (!mk_yaml_map_get(root, "apiVersion"))
        mk_yaml_map_set_str(root, "apiVersion", "v1");
    if (!mk_yaml_map_get(root, "kind"))
        mk_yaml_map_set_str(root, "kind", "Config");

    struct mk_yaml_node *c = upsert(root, "clusters", "cluster", e->name);
    set_file_field(c, "certificate-authority", e->ca_path, ca);
    mk_yaml_map_remove(c, "insecure-skip-tls-verify"); /* kubectl refuses it next to a CA */
    struct mk_yaml_node *stamp1 = set_extension(c, "cluster_info");
    mk_yaml_map_set_str(c, "server", e->server);

    struct mk_yaml_node *ctx = upsert(root, "contexts", "context", e->name);
    mk_yaml_map_set_str(ctx, "cluster", e->name);
    struct mk_yaml_node *stamp2 = set_extension(ctx, "context_info");
    if (e->namespace_ || !mk_yaml_map_get_str(ctx, "namespace"))
        mk_yaml_map_set_str(ctx, "namespace", e->namespace_ ? e->namespace_ : "default");
    mk_yaml_map_set_str(ctx, "user", e->name);

    struct mk_yaml_node *u = upsert(root, "users", "user", e->name);
    static const char *const other_auth[] = {"token",    "tokenFile", "username",
                                             "password", "exec",      "auth-provider"};
    for (size_t i = 0; i < MK_ARRAY_SIZE(other_auth); i++)
        mk_yaml_map_remove(u, other_auth[i]);
    set_file_field(u, "client-certificate", e->client_cert_path, cert);
    set_file_field(u, "client-key", e->client_key_path, key);

    if (set_current)
        mk_yaml_map_set_str(root, "current-context", e->name);

    after = emit_str(root);
    if (before && strcmp(before, after) == 0) {
        mk_debug(1, "kubeconfig %s already up to date for %s", path, e->name);
        ret = 0;
        goto cleanup;
    }
    /* something changed: stamp it the way minikube does (RFC 1123, UTC) */
    char when[64];
    time_t t = time(NULL);
    struct tm tm;
    strftime(when, sizeof(when), "%a, %d %b %Y %H:%M:%S UTC", gmtime_r(&t, &tm));
    free(stamp1->value);
    stamp1->value = xstrdup(when);
    stamp1->value_len = strlen(when);
    stamp1->style = MK_YAML_STYLE_ANY;
    free(stamp2->value);
    stamp2->value = xstrdup(when);
    stamp2->value_len = strlen(when);
    stamp2->style = MK_YAML_STYLE_ANY;
    ret = write_config(path, root, err);
cleanup:
    kc_unlock(&lk);
    if (ret < 0 && err && *err && !mk_str_has_prefix((*err)->msg, "cannot update kubeconfig") &&
        !mk_str_has_prefix((*err)->msg, "kubeconfig is locked"))
        mk_error_wrap(err, "cannot update kubeconfig");
    return ret;
}

int mk_kubeconfig_remove(const char *path, const char *name, struct mk_error **err)
{
    mk_autoyaml struct mk_yaml_node *root = NULL;
    struct kc_lock lk = {NULL, -1};
    bool missing = false, changed = false;
    int ret = -1;

    if (!mk_path_exists(path))
        return 0;
    if (kc_lock(path, &lk, err) < 0)
        goto cleanup;
    remove_stale_temps(path);
    if (load(path, "update", &root, &missing, err) < 0)
        goto cleanup;
    if (!root) {
        ret = 0;
        goto cleanup;
    }
    static const char *const lists[] = {"clusters", "users", "contexts"};
    for (size_t k = 0; k < MK_ARRAY_SIZE(lists); k++) {
        struct mk_yaml_node *l = mk_yaml_map_get(root, lists[k]);
        ssize_t i;
        while ((i = find_named(l, name, 0)) >= 0) {
            mk_yaml_seq_remove_at(l, (size_t)i);
            changed = true;
        }
    }
    if (mk_streq(mk_yaml_map_get_str(root, "current-context"), name)) {
        mk_yaml_map_set_str(root, "current-context", "");
        changed = true;
    }
    ret = changed ? write_config(path, root, err) : 0;
cleanup:
    kc_unlock(&lk);
    if (ret < 0 && err && *err && !mk_str_has_prefix((*err)->msg, "cannot update kubeconfig") &&
        !mk_str_has_prefix((*err)->msg, "kubeconfig is locked"))
        mk_error_wrap(err, "cannot update kubeconfig");
    return ret;
}

static const struct mk_yaml_node *inner_of(const struct mk_yaml_node *root, const char *key,
                                           const char *inner, const char *name)
{
    const struct mk_yaml_node *l = mk_yaml_map_get(root, key);
    ssize_t i = find_named(l, name, 0);
    return i < 0 ? NULL : mk_yaml_map_get(l->items[i], inner);
}

int mk_kubeconfig_get_server(const char *path, const char *name, char **server,
                             struct mk_error **err)
{
    mk_autoyaml struct mk_yaml_node *root = NULL;
    bool missing;
    *server = NULL;
    if (load(path, "read", &root, &missing, err) < 0)
        return -1;
    const char *s = mk_yaml_map_get_str(inner_of(root, "clusters", "cluster", name), "server");
    *server = s ? xstrdup(s) : NULL;
    return 0;
}

int mk_kubeconfig_current(const char *path, char **context, struct mk_error **err)
{
    mk_autoyaml struct mk_yaml_node *root = NULL;
    bool missing;
    *context = NULL;
    if (load(path, "read", &root, &missing, err) < 0)
        return -1;
    const char *s = mk_yaml_map_get_str(root, "current-context");
    *context = s && *s ? xstrdup(s) : NULL;
    return 0;
}

int mk_kubeconfig_status(const char *path, const char *name, const char *expected_server,
                         enum mk_kubeconfig_state *state, struct mk_error **err)
{
    mk_autoyaml struct mk_yaml_node *root = NULL;
    bool missing;
    *state = MK_KUBECONFIG_MISSING;
    if (load(path, "read", &root, &missing, err) < 0)
        return -1;
    const char *cluster =
        mk_yaml_map_get_str(inner_of(root, "contexts", "context", name), "cluster");
    if (!cluster)
        return 0;
    const char *server =
        mk_yaml_map_get_str(inner_of(root, "clusters", "cluster", cluster), "server");
    if (!server)
        return 0;
    size_t a = strlen(server), b = strlen(expected_server);
    while (a && server[a - 1] == '/')
        a--;
    while (b && expected_server[b - 1] == '/')
        b--;
    bool same = a == b && strncmp(server, expected_server, a) == 0;
    *state = same ? MK_KUBECONFIG_CONFIGURED : MK_KUBECONFIG_MISCONFIGURED;
    return 0;
}

const char *mk_kubeconfig_state_str(enum mk_kubeconfig_state state)
{
    switch (state) {
    case MK_KUBECONFIG_CONFIGURED:
        return "Configured";
    case MK_KUBECONFIG_MISCONFIGURED:
        return "Misconfigured";
    default:
        return "Missing";
    }
}
