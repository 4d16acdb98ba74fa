/* profile.h - profiles: one cluster's settings in $MKUBE_HOME/profiles/<name>/config.json.
 *
 * The file is JSON (jansson). Fields mkube does not know are kept in ->extra and
 * written back unchanged, so a newer mkube's data survives an older one.
 * Every write is atomic (temp file + rename) and happens under the profile's
 * lock (profiles/<name>/.lock, flock), so two mkube processes never lose or
 * corrupt each other's update. A command doing read-modify-write over a longer
 * operation holds mk_profile_lock() itself; mk_profile_save() sees that this
 * process holds the lock and does not take it again. */
#ifndef MK_PROFILE_H
#define MK_PROFILE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

#define MK_DEFAULT_PROFILE "mkube"

struct mk_profile {
    char *name;
    char *driver; /* "" until start picks one */
    unsigned cpus;
    uint64_t memory_mib, disk_mib;
    char *kubernetes_version;   /* "v1.37.2" */
    char *container_runtime;    /* "docker" */
    char *bundle_url, *iso_url; /* may be NULL */
    char **addons;              /* enabled addon names, NULL-terminated strv (may be NULL) */
    char *status_hint;          /* free-form, may be NULL */
    void *extra;                /* json_t* of unknown fields, preserved */
};

/* A new profile with the built-in defaults (config.h), not saved. */
struct mk_profile *mk_profile_new(const char *name);
/* *out = NULL (and 0) when the profile does not exist; MK_EXIT_CONFIG when
 * its file cannot be parsed. */
int mk_profile_load(const char *home, const char *name, struct mk_profile **out,
                    struct mk_error **err);
/* Atomic; creates profiles/<name>/ as needed; takes the lock unless this
 * process holds it already. */
int mk_profile_save(const char *home, const struct mk_profile *p, struct mk_error **err);
/* Removes profiles/<name>/ (under its lock); resets the active profile if it
 * was this one. Absent profile: 0. Does not touch machines/<name>/. */
int mk_profile_delete(const char *home, const char *name, struct mk_error **err);
/* Names of the directories under profiles/ (valid or not), sorted; *names is a
 * strv, never NULL on success. */
int mk_profile_list(const char *home, char ***names, struct mk_error **err);
/* Exclusive lock on the profile, waiting up to timeout_ms (<0 forever).
 * Creates profiles/<name>/. Release with mk_profile_unlock(). */
int mk_profile_lock(const char *home, const char *name, int timeout_ms, int *fd,
                    struct mk_error **err);
void mk_profile_unlock(int fd);
void mk_profile_free(struct mk_profile *p);
void mk_profile_freep(struct mk_profile **p);
#define mk_autoprofile __attribute__((cleanup(mk_profile_freep)))
bool mk_profile_has_addon(const struct mk_profile *p, const char *addon);
/* Enable (on) or disable an addon in p->addons. */
void mk_profile_set_addon(struct mk_profile *p, const char *addon, bool on);

/* The profile as stored in config.json (unknown fields included); new reference. */
json_t *mk_profile_to_json(const struct mk_profile *p);

/* The active profile: the name in $MKUBE_HOME/active-profile, or NULL. */
char *mk_profile_get_active(const char *home);
/* Validates the name and writes active-profile (creating $MKUBE_HOME). */
int mk_profile_set_active(const char *home, const char *name, struct mk_error **err);
/* Which profile a command acts on: flag (-p) > $MKUBE_PROFILE > active-profile
 * > "mkube". Validates the name. Caller frees *name. */
int mk_profile_resolve_name(const char *home, const char *flag, char **name, struct mk_error **err);

#endif
