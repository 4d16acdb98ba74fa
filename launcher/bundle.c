/* bundle.c - verify and unpack the Kubernetes bundle with libarchive (see bundle.h). */
#include "bundle.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"

char *mk_bundle_file_name(const char *k8s_version)
{
    return xasprintf("mkube-bundle-%s-linux-amd64.tar.zst", k8s_version);
}

void mk_bundle_free(struct mk_bundle *b)
{
    if (!b)
        return;
    free(b->path);
    free(b->sha256);
    free(b->version);
    free(b->pause_image);
    free(b->kubectl);
    free(b);
}

static void hex(const unsigned char *md, char out[65])
{
    for (unsigned i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
    out[64] = '\0';
}

/* fill version/pause image from the manifest text */
static int read_manifest(struct mk_bundle *b, const char *text, json_t **out,
                         struct mk_error **err)
{
    json_error_t je;
    json_t *m = json_loads(text, 0, &je);
    if (!m)
        return mk_error_set(err, MK_EXIT_FAILURE, "bundle %s: invalid manifest.json: %s", b->path,
                            je.text);
    const char *v = json_string_value(json_object_get(m, "kubernetesVersion"));
    if (!v) {
        json_decref(m);
        return mk_error_set(err, MK_EXIT_FAILURE, "bundle %s: manifest has no kubernetesVersion",
                            b->path);
    }
    b->version = xstrdup(v);
    size_t i;
    json_t *img;
    json_array_foreach(json_object_get(m, "images"), i, img)
    {
        const char *name = json_string_value(json_object_get(img, "name"));
        if (name && strstr(name, "/pause:"))
            b->pause_image = xstrdup(name);
    }
    if (!b->pause_image)
        b->pause_image = xstrdup("registry.k8s.io/pause:3.10.1");
    *out = m;
    return 0;
}

/* One pass over the archive: hash every member, keep the manifest, write kubectl. */
static int verify_pass(struct mk_bundle *b, const char *kubectl_tmp, json_t **manifest,
                       struct mk_error **err)
{
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    json_t *sums = json_object();
    mk_autobuf struct mk_buf mtext = MK_BUF_INIT;
    int rc = -1;
    int kfd = -1;
    if (archive_read_open_filename(a, b->path, 1 << 20) != ARCHIVE_OK) {
        mk_error_set(err, MK_EXIT_FAILURE, "cannot read bundle %s: %s", b->path,
                     archive_error_string(a));
        goto cleanup;
    }
    struct archive_entry *e;
    int r;
    static char chunk[1 << 16];
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        if (archive_entry_filetype(e) != AE_IFREG)
            continue;
        const char *name = archive_entry_pathname(e);
        if (mk_str_has_prefix(name, "./"))
            name += 2;
        bool is_manifest = mk_streq(name, "manifest.json");
        bool is_kubectl = mk_streq(name, "bin/kubectl");
        if (is_kubectl) {
            kfd = open(kubectl_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
            if (kfd < 0) {
                mk_error_errno(err, errno, "cannot write %s", kubectl_tmp);
                goto cleanup;
            }
        }
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
        la_ssize_t n;
        while ((n = archive_read_data(a, chunk, sizeof(chunk))) > 0) {
            EVP_DigestUpdate(ctx, chunk, (size_t)n);
            if (is_manifest)
                mk_buf_add(&mtext, chunk, (size_t)n);
            if (kfd >= 0 && write(kfd, chunk, (size_t)n) != n) {
                EVP_MD_CTX_free(ctx);
                mk_error_errno(err, errno, "cannot write %s", kubectl_tmp);
                goto cleanup;
            }
        }
        unsigned char md[32];
        EVP_DigestFinal_ex(ctx, md, NULL);
        EVP_MD_CTX_free(ctx);
        if (kfd >= 0) {
            close(kfd);
            kfd = -1;
        }
        if (n < 0) {
            mk_error_set(err, MK_EXIT_FAILURE, "bundle %s is damaged at %s: %s", b->path, name,
                         archive_error_string(a));
            goto cleanup;
        }
        char h[65];
        hex(md, h);
        json_object_set_new(sums, name, json_string(h));
    }
    if (r != ARCHIVE_EOF) {
        mk_error_set(err, MK_EXIT_FAILURE, "bundle %s is damaged: %s", b->path,
                     archive_error_string(a));
        goto cleanup;
    }
    if (!mtext.len) {
        mk_error_set(err, MK_EXIT_FAILURE, "bundle %s has no manifest.json", b->path);
        goto cleanup;
    }
    if (read_manifest(b, mk_buf_str(&mtext), manifest, err) < 0)
        goto cleanup;
    const char *path;
    json_t *want;
    json_t *files = json_object_get(*manifest, "files");
    if (!json_is_object(files) || json_object_size(files) == 0) {
        mk_error_set(err, MK_EXIT_FAILURE, "bundle %s: manifest lists no files", b->path);
        goto cleanup;
    }
    json_object_foreach(files, path, want)
    {
        const char *got = json_string_value(json_object_get(sums, path));
        if (!got) {
            mk_error_set(err, MK_EXIT_FAILURE, "bundle %s: %s is listed in the manifest but missing",
                         b->path, path);
            goto cleanup;
        }
        if (!mk_streq(got, json_string_value(want))) {
            mk_error_set(err, MK_EXIT_FAILURE,
                         "bundle %s: checksum mismatch for %s: expected %s, got %s", b->path, path,
                         json_string_value(want), got);
            mk_error_hint(err, "the bundle is damaged; delete it and build or download it again");
            goto cleanup;
        }
    }
    rc = 0;
cleanup:
    if (kfd >= 0)
        close(kfd);
    json_decref(sums);
    archive_read_free(a);
    if (rc < 0 && *manifest) {
        json_decref(*manifest);
        *manifest = NULL;
    }
    return rc;
}

int mk_bundle_open(const char *path, const char *cache_dir, struct mk_bundle **out,
                   struct mk_error **err)
{
    struct mk_bundle *b = xcalloc(1, sizeof(*b));
    b->path = xstrdup(path);
    json_t *manifest = NULL;
    char sum[65];
    int lockfd = -1;
    int rc = -1;
    mk_autofree char *dir = NULL;
    mk_autofree char *stamp = NULL;
    mk_autofree char *kubectl = NULL;
    mk_autofree char *lock = NULL;
    if (mk_sha256_file(path, sum, err) < 0)
        goto cleanup;
    b->sha256 = xstrdup(sum);
    dir = xasprintf("%s/%s", cache_dir, sum);
    stamp = xasprintf("%s/manifest.json", dir);
    kubectl = xasprintf("%s/kubectl", dir);
    lock = xasprintf("%s/.lock", dir);
    if (mk_mkdir_p(dir, 0755, err) < 0)
        goto cleanup;
    if (mk_lock(lock, 600000, &lockfd, err) < 0)
        goto cleanup;
    if (mk_path_exists(stamp) && mk_path_exists(kubectl)) {
        mk_autobuf struct mk_buf text = MK_BUF_INIT;
        if (mk_read_file(stamp, &text, 0, NULL, err) < 0 ||
            read_manifest(b, mk_buf_str(&text), &manifest, err) < 0)
            goto cleanup;
    } else {
        mk_info("Verifying the Kubernetes bundle %s", path);
        mk_autofree char *ktmp = xasprintf("%s.tmp", kubectl);
        if (verify_pass(b, ktmp, &manifest, err) < 0) {
            unlink(ktmp);
            goto cleanup;
        }
        if (rename(ktmp, kubectl) < 0) {
            mk_error_errno(err, errno, "cannot write %s", kubectl);
            goto cleanup;
        }
        char *text = json_dumps(manifest, JSON_INDENT(2));
        int w = mk_write_file_atomic(stamp, text, strlen(text), 0644, err);
        free(text);
        if (w < 0)
            goto cleanup;
    }
    b->kubectl = xstrdup(kubectl);
    rc = 0;
cleanup:
    mk_unlock(lockfd);
    json_decref(manifest);
    if (rc < 0) {
        mk_bundle_free(b);
        b = NULL;
    }
    *out = b;
    return rc;
}
