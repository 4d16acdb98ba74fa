/* yamltree.h - a YAML document as an ordered node tree (libyaml parser and emitter).
 *
 * Parsing keeps what a rewrite needs to leave a file recognisable: mapping key
 * order, unknown keys, scalar styles (plain, quoted, literal, folded), explicit
 * tags, and flow vs block collections. It does not keep comments (libyaml does
 * not report them) nor anchors: an alias is expanded into a copy of the node it
 * names (bounded, so an alias bomb fails instead of eating memory). Used by
 * kubeconfig.c and by writers of generated YAML (the kubeadm config). */
#ifndef MK_YAMLTREE_H
#define MK_YAMLTREE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "error.h"

enum mk_yaml_kind {
    MK_YAML_SCALAR,
    MK_YAML_SEQUENCE,
    MK_YAML_MAPPING,
};

/* Scalar styles, as libyaml names them. ANY lets the emitter choose. */
enum mk_yaml_style {
    MK_YAML_STYLE_ANY,
    MK_YAML_STYLE_PLAIN,
    MK_YAML_STYLE_SINGLE,
    MK_YAML_STYLE_DOUBLE,
    MK_YAML_STYLE_LITERAL,
    MK_YAML_STYLE_FOLDED,
};

struct mk_yaml_node;

struct mk_yaml_pair {
    struct mk_yaml_node *key;
    struct mk_yaml_node *value;
};

struct mk_yaml_node {
    enum mk_yaml_kind kind;
    char *tag;     /* explicit tag ("!!binary", "!foo"), or NULL when implicit */
    unsigned line; /* 1-based line where the node started (0 for built nodes) */
    /* scalar */
    char *value; /* NUL-terminated; value_len bytes (may hold NULs) */
    size_t value_len;
    enum mk_yaml_style style;
    /* sequence and mapping */
    bool flow; /* [a, b] / {k: v} rather than block style */
    size_t n;  /* items (sequence) or pairs (mapping) */
    size_t alloc;
    struct mk_yaml_node **items;
    struct mk_yaml_pair *pairs;
};

/* Parse exactly one document (an empty stream gives *root = NULL). Errors name
 * the place: "line 3: column 5: mapping values are not allowed in this context". */
int mk_yaml_parse(const char *data, size_t len, struct mk_yaml_node **root, struct mk_error **err);
/* Parse every document of a stream into a NULL-terminated list (free with
 * mk_yaml_free_docs). Empty documents (a bare "---") are left out. */
int mk_yaml_parse_all(const char *data, size_t len, struct mk_yaml_node ***docs,
                      struct mk_error **err);

/* Emit one document (block style where the tree says so, indent 2, no line
 * folding) and append it to out. */
int mk_yaml_emit(const struct mk_yaml_node *root, struct mk_buf *out, struct mk_error **err);
/* Emit a NULL-terminated list of documents separated by "---". */
int mk_yaml_emit_all(struct mk_yaml_node *const *docs, struct mk_buf *out, struct mk_error **err);

void mk_yaml_free(struct mk_yaml_node *node);
void mk_yaml_freep(struct mk_yaml_node **node);
void mk_yaml_free_docs(struct mk_yaml_node **docs);
#define mk_autoyaml __attribute__((cleanup(mk_yaml_freep)))
struct mk_yaml_node *mk_yaml_dup(const struct mk_yaml_node *node);
/* Same kind, tag, value and content (styles and flow are not compared). */
bool mk_yaml_equal(const struct mk_yaml_node *a, const struct mk_yaml_node *b);

/* Builders. mk_yaml_string quotes its value when a YAML 1.1 reader would take
 * it for something else (true, no, ~, 0x1f, 1e3, ""...): it stays a string. */
struct mk_yaml_node *mk_yaml_string(const char *value);
struct mk_yaml_node *mk_yaml_plain(const char *value); /* unquoted: true, 42, null */
struct mk_yaml_node *mk_yaml_mapping(void);
struct mk_yaml_node *mk_yaml_sequence(void);
/* Is s a plain scalar a YAML 1.1 reader would resolve to null/bool/int/float? */
bool mk_yaml_plain_is_special(const char *s);

/* Scalars. mk_yaml_str returns the value of a scalar node, or NULL for NULL,
 * for collections, and for a plain null (~, null, empty). */
const char *mk_yaml_str(const struct mk_yaml_node *node);
bool mk_yaml_is_null(const struct mk_yaml_node *node); /* NULL or a plain null scalar */

/* Mappings (keys compared as scalar strings). Setters take ownership of value. */
struct mk_yaml_node *mk_yaml_map_get(const struct mk_yaml_node *map, const char *key);
const char *mk_yaml_map_get_str(const struct mk_yaml_node *map, const char *key);
/* Replace the value in place (key order kept) or append a new pair. */
void mk_yaml_map_set(struct mk_yaml_node *map, const char *key, struct mk_yaml_node *value);
void mk_yaml_map_set_str(struct mk_yaml_node *map, const char *key, const char *value);
bool mk_yaml_map_remove(struct mk_yaml_node *map, const char *key);

/* Sequences. */
void mk_yaml_seq_append(struct mk_yaml_node *seq, struct mk_yaml_node *item);
void mk_yaml_seq_remove_at(struct mk_yaml_node *seq, size_t i);
/* Replace item i, freeing the old one. */
void mk_yaml_seq_replace_at(struct mk_yaml_node *seq, size_t i, struct mk_yaml_node *item);

#endif
