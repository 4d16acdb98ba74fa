/* bundle.h - the Kubernetes bundle on the host: find it, verify it against its
 * manifest, and unpack the host-runnable kubectl for `mkube kubectl`.
 *
 * Layout (iso/kubernetes/build-bundle.sh, docs/bundle.md):
 *   mkube-bundle-<version>-linux-amd64.tar.zst
 *     manifest.json  {kubernetesVersion, components, images:[{name,file}], files:{path:sha256}}
 *     bin/{kubeadm,kubelet,kubectl,cri-dockerd,crictl}
 *     images/<name>.tar (docker-archive) */
#ifndef MK_BUNDLE_H
#define MK_BUNDLE_H

#include "error.h"

struct mk_bundle {
    char *path;        /* the .tar.zst */
    char *sha256;      /* of the archive */
    char *version;     /* kubernetesVersion */
    char *pause_image; /* registry.k8s.io/pause:X */
    char *kubectl;     /* host path of the unpacked kubectl */
};

char *mk_bundle_file_name(const char *k8s_version); /* mkube-bundle-vX-linux-amd64.tar.zst */

/* Verify every member of the archive against manifest.json (one streaming
 * pass, remembered in cache_dir by archive checksum so later calls are quick)
 * and unpack bin/kubectl under cache_dir/<version>/. */
int mk_bundle_open(const char *path, const char *cache_dir, struct mk_bundle **out,
                   struct mk_error **err);
void mk_bundle_free(struct mk_bundle *b);

#endif
