/* addons.h - cluster addons: manifests plus a small addon.json per folder
 * under the addons directory, applied in order with the bundle's kubectl
 * (`kubectl --context P apply -f ...`). Which addons a profile has enabled is
 * kept in the profile (profile->addons); `mkube start` re-applies them through
 * mk_addons_apply_enabled.
 *
 * addons/<name>/addon.json:
 *   {"name": "metrics-server", "description": "...", "default": false,
 *    "images": ["registry.k8s.io/metrics-server/metrics-server:v0.8.0"],
 *    "manifests": ["metrics-server.yaml"]}
 * "images" are the container images the manifests run; an addon whose images
 * are not all in the Kubernetes bundle is "unavailable" (nothing can be pulled
 * offline). "default": true addons are enabled in a profile until the user
 * says otherwise; the profile records that the defaults were taken
 * ("addon_defaults": true among its extra fields) so a disabled default stays
 * disabled. */
#ifndef MK_ADDONS_H
#define MK_ADDONS_H

#include <jansson.h>
#include <stdbool.h>

#include "cluster.h"
#include "error.h"
#include "profile.h"

struct mk_addon {
    char *name;
    char *description;
    bool default_enabled;
    char **images;    /* strv */
    char **manifests; /* strv of paths, in apply order */
};

/* The addons directory: the first that exists of $MKUBE_DATADIR/addons,
 * <prefix>/share/mkube/addons, $MKUBE_SOURCE_DIR/addons and the source tree's
 * addons/ (a build tree). NULL (err set) when none does. */
char *mk_addons_dir(struct mk_error **err);
/* One addon from dir/<name>/addon.json; an unknown name is MK_EXIT_USAGE. */
int mk_addon_load(const char *dir, const char *name, struct mk_addon *out, struct mk_error **err);
/* Every addon of dir, sorted by name. */
int mk_addons_load_all(const char *dir, struct mk_addon **out, size_t *n, struct mk_error **err);
void mk_addon_release(struct mk_addon *a);
void mk_addons_free(struct mk_addon *v, size_t n);

/* Enabled in p (defaults count until the profile took them)? p may be NULL. */
bool mk_addon_enabled(const struct mk_profile *p, const struct mk_addon *a);
/* Record the defaults in p once (enables default addons, sets the marker).
 * Returns true when p changed. */
bool mk_addons_take_defaults(struct mk_profile *p, const struct mk_addon *all, size_t n);

/* The image names of a bundle manifest ({"images": [{"name": ...}]}); strv. */
char **mk_bundle_manifest_images(const json_t *manifest);
/* The images of the bundle of k8s_version that start unpacked under
 * cache_dir/bundle/ (the newest, when several); NULL when none was. Quick: no
 * checksum, for `addons list`. */
char **mk_addons_cached_images(const char *cache_dir, const char *k8s_version);
/* Are all of a's images in images (strv)? *missing gets the first that is
 * not (allocated), else NULL. */
bool mk_addon_available(const struct mk_addon *a, char *const *images, char **missing);

/* kubectl apply (on) or delete (off) of a's manifests against profile's context. */
int mk_addon_apply(const char *kubectl, const char *context, const struct mk_addon *a, bool on,
                   struct mk_error **err);

/* For `mkube start`, at its end, with the profile lock held: take the defaults,
 * then apply every enabled addon. An addon that is unknown, unavailable or
 * fails to apply is a warning, not an error; -1 only when the profile or the
 * bundle's kubectl cannot be read. */
int mk_addons_apply_enabled(const struct mk_cluster *c, struct mk_error **err);

/* `mkube addons enable|disable NAME`: record the choice in the profile and,
 * when the cluster runs, apply or delete the manifests. */
int mk_addons_set(const char *home, const char *profile, const char *name, bool on,
                  struct mk_error **err);

#endif
