/* config.h - global defaults: `mkube config set/get/unset/view` on
 * $MKUBE_HOME/config/config.json, and how a setting is resolved.
 *
 * Precedence: command-line flag > MKUBE_<KEY> environment variable (KEY in
 * upper case, dashes as underscores: MKUBE_MEMORY, MKUBE_DISK_SIZE) > config
 * file > built-in default. Values are validated when set and again when
 * resolved (the environment and a hand-edited file are input too). The file
 * keeps values as the user typed them ("4g"), except that a relative path
 * for iso-url/bundle-url is stored absolute; resolution returns values
 * normalised ("4096"). Keys the file holds but mkube does not know are kept. */
#ifndef MK_CONFIG_H
#define MK_CONFIG_H

#include <stdint.h>

#include "error.h"

#define MK_DEFAULT_CPUS 2
#define MK_DEFAULT_MEMORY_MIB 3072
#define MK_DEFAULT_DISK_MIB 20000
#define MK_DEFAULT_K8S_VERSION "v1.37.2"
#define MK_DEFAULT_RUNTIME "docker"
#define MK_DEFAULT_WAIT_TIMEOUT_S 900

struct mk_config_key {
    const char *name;        /* "memory" */
    const char *env;         /* "MKUBE_MEMORY" */
    const char *def;         /* built-in default, normalised ("" = none / automatic) */
    const char *description; /* one line for `mkube config --help` */
    /* Check s and give its normalised form (caller frees). */
    int (*normalize)(const char *s, char **normalized, struct mk_error **err);
};

/* Terminated by an entry with name == NULL. */
extern const struct mk_config_key mk_config_keys[];
const struct mk_config_key *mk_config_key_find(const char *name);

/* Validate value for key (unknown key: MK_EXIT_USAGE). normalized may be NULL. */
int mk_config_check(const char *key, const char *value, char **normalized, struct mk_error **err);
/* The raw value stored in the file, or *value = NULL when unset. */
int mk_config_get(const char *home, const char *key, char **value, struct mk_error **err);
/* Validate, then store atomically under the config lock. Creates the file. */
int mk_config_set(const char *home, const char *key, const char *value, struct mk_error **err);
/* Remove key from the file (no file or key: nothing to do). */
int mk_config_unset(const char *home, const char *key, struct mk_error **err);
/* Everything the file holds, sorted by key: parallel strvs (never NULL). */
int mk_config_view(const char *home, char ***keys, char ***values, struct mk_error **err);

/* Resolve key: flag_value (NULL = flag not given) > env > file > default.
 * *value is normalised (caller frees); *source (may be NULL) is "flag",
 * "env", "config" or "default". */
int mk_config_resolve(const char *home, const char *key, const char *flag_value, char **value,
                      const char **source, struct mk_error **err);
/* mk_config_resolve for numeric keys (cpus, memory, disk-size, wait-timeout). */
int mk_config_resolve_u64(const char *home, const char *key, const char *flag_value,
                          uint64_t *value, const char **source, struct mk_error **err);

#endif
