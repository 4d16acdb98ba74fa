/* yamltree.c - parse YAML into an ordered node tree and emit it back with libyaml (see yamltree.h).
 */
#include "yamltree.h"

#include <stdlib.h>
#include <sys/types.h>
#include <string.h>
#include <yaml.h>

/* Bounds for untrusted input: nesting depth (stack) and total nodes, which
 * alias expansion could otherwise blow up ("billion laughs"). */
#define MAX_DEPTH 256
#define MAX_NODES 1000000

struct anchor {
    char *name;
    struct mk_yaml_node *node;
};

struct parser {
    yaml_parser_t p;
    struct anchor *anchors;
    size_t nanchors;
    size_t nodes;
};

/* ---- nodes ---- */

static struct mk_yaml_node *node_new(enum mk_yaml_kind kind)
{
    struct mk_yaml_node *n = xcalloc(1, sizeof(*n));
    n->kind = kind;
    return n;
}

void mk_yaml_free(struct mk_yaml_node *node)
{
    if (!node)
        return;
    if (node->kind == MK_YAML_SEQUENCE) {
        for (size_t i = 0; i < node->n; i++)
            mk_yaml_free(node->items[i]);
    } else if (node->kind == MK_YAML_MAPPING) {
        for (size_t i = 0; i < node->n; i++) {
            mk_yaml_free(node->pairs[i].key);
            mk_yaml_free(node->pairs[i].value);
        }
    }
    free(node->items);
    free(node->pairs);
    free(node->value);
    free(node->tag);
    free(node);
}

void mk_yaml_freep(struct mk_yaml_node **node)
{
    mk_yaml_free(*node);
    *node = NULL;
}

void mk_yaml_free_docs(struct mk_yaml_node **docs)
{
    if (!docs)
        return;
    for (size_t i = 0; docs[i]; i++)
        mk_yaml_free(docs[i]);
    free(docs);
}

static size_t node_count(const struct mk_yaml_node *n)
{
    size_t c = 1;
    if (n->kind == MK_YAML_SEQUENCE) {
        for (size_t i = 0; i < n->n; i++)
            c += node_count(n->items[i]);
    } else if (n->kind == MK_YAML_MAPPING) {
        for (size_t i = 0; i < n->n; i++)
            c += node_count(n->pairs[i].key) + node_count(n->pairs[i].value);
    }
    return c;
}

struct mk_yaml_node *mk_yaml_dup(const struct mk_yaml_node *node)
{
    if (!node)
        return NULL;
    struct mk_yaml_node *d = node_new(node->kind);
    d->tag = node->tag ? xstrdup(node->tag) : NULL;
    d->line = node->line;
    d->style = node->style;
    d->flow = node->flow;
    if (node->kind == MK_YAML_SCALAR) {
        d->value = xmalloc(node->value_len + 1);
        memcpy(d->value, node->value, node->value_len + 1);
        d->value_len = node->value_len;
    } else if (node->kind == MK_YAML_SEQUENCE) {
        for (size_t i = 0; i < node->n; i++)
            mk_yaml_seq_append(d, mk_yaml_dup(node->items[i]));
    } else {
        d->alloc = node->n;
        d->pairs = xcalloc(node->n ? node->n : 1, sizeof(*d->pairs));
        for (size_t i = 0; i < node->n; i++) {
            d->pairs[i].key = mk_yaml_dup(node->pairs[i].key);
            d->pairs[i].value = mk_yaml_dup(node->pairs[i].value);
        }
        d->n = node->n;
    }
    return d;
}

bool mk_yaml_equal(const struct mk_yaml_node *a, const struct mk_yaml_node *b)
{
    if (!a || !b)
        return a == b;
    if (a->kind != b->kind || !mk_streq(a->tag, b->tag) || a->n != b->n)
        return false;
    switch (a->kind) {
    case MK_YAML_SCALAR:
        return a->value_len == b->value_len && memcmp(a->value, b->value, a->value_len) == 0;
    case MK_YAML_SEQUENCE:
        for (size_t i = 0; i < a->n; i++)
            if (!mk_yaml_equal(a->items[i], b->items[i]))
                return false;
        return true;
    case MK_YAML_MAPPING:
        for (size_t i = 0; i < a->n; i++)
            if (!mk_yaml_equal(a->pairs[i].key, b->pairs[i].key) ||
                !mk_yaml_equal(a->pairs[i].value, b->pairs[i].value))
                return false;
        return true;
    }
    return false;
}

static struct mk_yaml_node *scalar_new(const char *value, size_t len, enum mk_yaml_style style)
{
    struct mk_yaml_node *n = node_new(MK_YAML_SCALAR);
    n->value = xstrndup(value, len);
    n->value_len = len;
    n->style = style;
    return n;
}

bool mk_yaml_plain_is_special(const char *s)
{
    /* YAML 1.1 null/bool words (what go-yaml v2 and so kubectl resolve), and
     * anything that could read as a number, a timestamp or a merge key. */
    static const char *const words[] = {
        "~",  "null", "Null", "NULL", "y",    "Y",    "yes",  "Yes",   "YES",   "n",
        "N",  "no",   "No",   "NO",   "true", "True", "TRUE", "false", "False", "FALSE",
        "on", "On",   "ON",   "off",  "Off",  "OFF",  "<<",   "=",
    };
    if (!*s)
        return true;
    for (size_t i = 0; i < MK_ARRAY_SIZE(words); i++)
        if (strcmp(s, words[i]) == 0)
            return true;
    return strchr("0123456789+-.", s[0]) != NULL;
}

struct mk_yaml_node *mk_yaml_string(const char *value)
{
    return scalar_new(value, strlen(value),
                      mk_yaml_plain_is_special(value) ? MK_YAML_STYLE_DOUBLE : MK_YAML_STYLE_ANY);
}

struct mk_yaml_node *mk_yaml_plain(const char *value)
{
    return scalar_new(value, strlen(value), MK_YAML_STYLE_PLAIN);
}

struct mk_yaml_node *mk_yaml_mapping(void)
{
    return node_new(MK_YAML_MAPPING);
}

struct mk_yaml_node *mk_yaml_sequence(void)
{
    return node_new(MK_YAML_SEQUENCE);
}

bool mk_yaml_is_null(const struct mk_yaml_node *node)
{
    if (!node)
        return true;
    if (node->kind != MK_YAML_SCALAR || node->style != MK_YAML_STYLE_PLAIN)
        return false;
    if (node->tag)
        return strcmp(node->tag, "tag:yaml.org,2002:null") == 0;
    const char *v = node->value;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

const char *mk_yaml_str(const struct mk_yaml_node *node)
{
    if (!node || node->kind != MK_YAML_SCALAR || mk_yaml_is_null(node))
        return NULL;
    return node->value;
}

/* ---- mappings and sequences ---- */

static ssize_t map_index(const struct mk_yaml_node *map, const char *key)
{
    if (!map || map->kind != MK_YAML_MAPPING)
        return -1;
    for (size_t i = 0; i < map->n; i++) {
        const struct mk_yaml_node *k = map->pairs[i].key;
        if (k->kind == MK_YAML_SCALAR && strcmp(k->value, key) == 0)
            return (ssize_t)i;
    }
    return -1;
}

struct mk_yaml_node *mk_yaml_map_get(const struct mk_yaml_node *map, const char *key)
{
    ssize_t i = map_index(map, key);
    return i < 0 ? NULL : map->pairs[i].value;
}

const char *mk_yaml_map_get_str(const struct mk_yaml_node *map, const char *key)
{
    return mk_yaml_str(mk_yaml_map_get(map, key));
}

void mk_yaml_map_set(struct mk_yaml_node *map, const char *key, struct mk_yaml_node *value)
{
    ssize_t i = map_index(map, key);
    if (i >= 0) {
        mk_yaml_free(map->pairs[i].value);
        map->pairs[i].value = value;
        return;
    }
    if (map->n == map->alloc) {
        map->alloc = map->alloc ? 2 * map->alloc : 8;
        map->pairs = xrealloc(map->pairs, map->alloc * sizeof(*map->pairs));
    }
    map->pairs[map->n].key = mk_yaml_string(key);
    map->pairs[map->n].value = value;
    map->n++;
}

void mk_yaml_map_set_str(struct mk_yaml_node *map, const char *key, const char *value)
{
    mk_yaml_map_set(map, key, mk_yaml_string(value));
}

bool mk_yaml_map_remove(struct mk_yaml_node *map, const char *key)
{
    ssize_t i = map_index(map, key);
    if (i < 0)
        return false;
    mk_yaml_free(map->pairs[i].key);
    mk_yaml_free(map->pairs[i].value);
    memmove(&map->pairs[i], &map->pairs[i + 1], (map->n - (size_t)i - 1) * sizeof(*map->pairs));
    map->n--;
    return true;
}

void mk_yaml_seq_append(struct mk_yaml_node *seq, struct mk_yaml_node *item)
{
    if (seq->n == seq->alloc) {
        seq->alloc = seq->alloc ? 2 * seq->alloc : 8;
        seq->items = xrealloc(seq->items, seq->alloc * sizeof(*seq->items));
    }
    seq->items[seq->n++] = item;
}

void mk_yaml_seq_remove_at(struct mk_yaml_node *seq, size_t i)
{
    if (i >= seq->n)
        return;
    mk_yaml_free(seq->items[i]);
    memmove(&seq->items[i], &seq->items[i + 1], (seq->n - i - 1) * sizeof(*seq->items));
    seq->n--;
}

void mk_yaml_seq_replace_at(struct mk_yaml_node *seq, size_t i, struct mk_yaml_node *item)
{
    if (i >= seq->n) {
        mk_yaml_free(item);
        return;
    }
    mk_yaml_free(seq->items[i]);
    seq->items[i] = item;
}

/* ---- parsing ---- */

static int parser_error(struct parser *ps, struct mk_error **err)
{
    yaml_parser_t *p = &ps->p;
    const char *problem = p->problem ? p->problem : "invalid yaml";
    if (p->context)
        return mk_error_set(err, MK_EXIT_CONFIG, "line %zu: column %zu: %s (%s at line %zu)",
                            p->problem_mark.line + 1, p->problem_mark.column + 1, problem,
                            p->context, p->context_mark.line + 1);
    if (p->error == YAML_READER_ERROR)
        return mk_error_set(err, MK_EXIT_CONFIG, "byte %zu: %s", p->problem_offset, problem);
    return mk_error_set(err, MK_EXIT_CONFIG, "line %zu: column %zu: %s", p->problem_mark.line + 1,
                        p->problem_mark.column + 1, problem);
}

static int next_event(struct parser *ps, yaml_event_t *ev, struct mk_error **err)
{
    if (!yaml_parser_parse(&ps->p, ev))
        return parser_error(ps, err);
    return 0;
}

static enum mk_yaml_style style_from(yaml_scalar_style_t s)
{
    switch (s) {
    case YAML_PLAIN_SCALAR_STYLE:
        return MK_YAML_STYLE_PLAIN;
    case YAML_SINGLE_QUOTED_SCALAR_STYLE:
        return MK_YAML_STYLE_SINGLE;
    case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
        return MK_YAML_STYLE_DOUBLE;
    case YAML_LITERAL_SCALAR_STYLE:
        return MK_YAML_STYLE_LITERAL;
    case YAML_FOLDED_SCALAR_STYLE:
        return MK_YAML_STYLE_FOLDED;
    default:
        return MK_YAML_STYLE_ANY;
    }
}

static void add_anchor(struct parser *ps, const yaml_char_t *name, struct mk_yaml_node *node)
{
    if (!name)
        return;
    ps->anchors = xrealloc(ps->anchors, (ps->nanchors + 1) * sizeof(*ps->anchors));
    ps->anchors[ps->nanchors].name = xstrdup((const char *)name);
    ps->anchors[ps->nanchors].node = node;
    ps->nanchors++;
}

static void clear_anchors(struct parser *ps)
{
    for (size_t i = 0; i < ps->nanchors; i++)
        free(ps->anchors[i].name);
    free(ps->anchors);
    ps->anchors = NULL;
    ps->nanchors = 0;
}

static int count_node(struct parser *ps, size_t n, size_t line, struct mk_error **err)
{
    ps->nodes += n;
    if (ps->nodes > MAX_NODES)
        return mk_error_set(err, MK_EXIT_CONFIG,
                            "line %zu: document too large (more than %d nodes after aliases)",
                            line + 1, MAX_NODES);
    return 0;
}

/* Build the node that starts with *ev (consumed here) and everything up to its end. */
static int parse_node(struct parser *ps, yaml_event_t *ev, unsigned depth,
                      struct mk_yaml_node **out, struct mk_error **err)
{
    struct mk_yaml_node *node = NULL;
    yaml_event_t child;
    size_t line = ev->start_mark.line;
    int ret = -1;

    if (depth > MAX_DEPTH) {
        mk_error_set(err, MK_EXIT_CONFIG, "line %zu: nesting deeper than %d levels", line + 1,
                     MAX_DEPTH);
        goto cleanup;
    }
    switch (ev->type) {
    case YAML_ALIAS_EVENT: {
        const char *name = (const char *)ev->data.alias.anchor;
        struct mk_yaml_node *target = NULL;
        for (size_t i = ps->nanchors; i-- > 0;) {
            if (strcmp(ps->anchors[i].name, name) == 0) {
                target = ps->anchors[i].node;
                break;
            }
        }
        if (!target) {
            mk_error_set(err, MK_EXIT_CONFIG,
                         "line %zu: alias *%s refers to an unknown or enclosing anchor", line + 1,
                         name);
            goto cleanup;
        }
        if (count_node(ps, node_count(target), line, err) < 0)
            goto cleanup;
        node = mk_yaml_dup(target);
        node->line = (unsigned)line + 1;
        break;
    }
    case YAML_SCALAR_EVENT:
        if (count_node(ps, 1, line, err) < 0)
            goto cleanup;
        node = scalar_new((const char *)ev->data.scalar.value, ev->data.scalar.length,
                          style_from(ev->data.scalar.style));
        node->value_len = ev->data.scalar.length;
        if (ev->data.scalar.tag)
            node->tag = xstrdup((const char *)ev->data.scalar.tag);
        node->line = (unsigned)line + 1;
        add_anchor(ps, ev->data.scalar.anchor, node);
        break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        bool is_map = ev->type == YAML_MAPPING_START_EVENT;
        yaml_event_type_t end = is_map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
        if (count_node(ps, 1, line, err) < 0)
            goto cleanup;
        node = node_new(is_map ? MK_YAML_MAPPING : MK_YAML_SEQUENCE);
        node->line = (unsigned)line + 1;
        const yaml_char_t *tag = is_map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
        if (tag)
            node->tag = xstrdup((const char *)tag);
        node->flow = is_map ? ev->data.mapping_start.style == YAML_FLOW_MAPPING_STYLE
                            : ev->data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE;
        for (;;) {
            struct mk_yaml_node *key = NULL, *value = NULL;
            if (next_event(ps, &child, err) < 0)
                goto cleanup;
            if (child.type == end) {
                yaml_event_delete(&child);
                break;
            }
            if (parse_node(ps, &child, depth + 1, is_map ? &key : &value, err) < 0)
                goto cleanup;
            if (!is_map) {
                mk_yaml_seq_append(node, value);
                continue;
            }
            if (next_event(ps, &child, err) < 0 ||
                parse_node(ps, &child, depth + 1, &value, err) < 0) {
                mk_yaml_free(key);
                goto cleanup;
            }
            if (node->n == node->alloc) {
                node->alloc = node->alloc ? 2 * node->alloc : 8;
                node->pairs = xrealloc(node->pairs, node->alloc * sizeof(*node->pairs));
            }
            node->pairs[node->n].key = key;
            node->pairs[node->n].value = value;
            node->n++;
        }
        /* registered once complete: an alias inside its own anchor is refused */
        add_anchor(ps, is_map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor,
                   node);
        break;
    }
    default:
        mk_error_set(err, MK_EXIT_CONFIG, "line %zu: unexpected yaml event %d", line + 1,
                     (int)ev->type);
        goto cleanup;
    }
    *out = node;
    node = NULL;
    ret = 0;
cleanup:
    yaml_event_delete(ev);
    mk_yaml_free(node);
    return ret;
}

int mk_yaml_parse_all(const char *data, size_t len, struct mk_yaml_node ***docs,
                      struct mk_error **err)
{
    struct parser ps = {0};
    struct mk_yaml_node **list = xcalloc(1, sizeof(*list));
    size_t n = 0;
    yaml_event_t ev;
    int ret = -1;

    yaml_parser_initialize(&ps.p);
    yaml_parser_set_input_string(&ps.p, (const unsigned char *)(data ? data : ""), len);
    for (;;) {
        if (next_event(&ps, &ev, err) < 0)
            goto cleanup;
        yaml_event_type_t type = ev.type;
        yaml_event_delete(&ev);
        if (type == YAML_STREAM_END_EVENT)
            break;
        if (type != YAML_DOCUMENT_START_EVENT)
            continue; /* STREAM_START */
        /* one document: a root node (or, for an empty one, DOCUMENT_END) */
        struct mk_yaml_node *root = NULL;
        if (next_event(&ps, &ev, err) < 0)
            goto cleanup;
        if (ev.type != YAML_DOCUMENT_END_EVENT) {
            if (parse_node(&ps, &ev, 0, &root, err) < 0)
                goto cleanup;
            if (next_event(&ps, &ev, err) < 0) {
                mk_yaml_free(root);
                goto cleanup;
            }
        }
        yaml_event_delete(&ev);
        clear_anchors(&ps); /* anchors do not cross documents */
        if (root && mk_yaml_is_null(root) && root->value_len == 0) {
            mk_yaml_free(root);
            root = NULL;
        }
        if (!root)
            continue;
        list = xrealloc(list, (n + 2) * sizeof(*list));
        list[n++] = root;
        list[n] = NULL;
    }
    *docs = list;
    list = NULL;
    ret = 0;
cleanup:
    clear_anchors(&ps);
    yaml_parser_delete(&ps.p);
    mk_yaml_free_docs(list);
    return ret;
}

int mk_yaml_parse(const char *data, size_t len, struct mk_yaml_node **root, struct mk_error **err)
{
    struct mk_yaml_node **docs = NULL;
    if (mk_yaml_parse_all(data, len, &docs, err) < 0)
        return -1;
    if (docs[0] && docs[1]) {
        unsigned line = docs[1]->line;
        mk_yaml_free_docs(docs);
        return mk_error_set(err, MK_EXIT_CONFIG,
                            "line %u: a second yaml document where one was expected", line);
    }
    *root = docs[0];
    free(docs);
    return 0;
}

/* ---- emitting ---- */

static int write_handler(void *data, unsigned char *buffer, size_t size)
{
    mk_buf_add(data, buffer, size);
    return 1;
}

static yaml_scalar_style_t style_to(enum mk_yaml_style s)
{
    switch (s) {
    case MK_YAML_STYLE_PLAIN:
        return YAML_PLAIN_SCALAR_STYLE;
    case MK_YAML_STYLE_SINGLE:
        return YAML_SINGLE_QUOTED_SCALAR_STYLE;
    case MK_YAML_STYLE_DOUBLE:
        return YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    case MK_YAML_STYLE_LITERAL:
        return YAML_LITERAL_SCALAR_STYLE;
    case MK_YAML_STYLE_FOLDED:
        return YAML_FOLDED_SCALAR_STYLE;
    default:
        return YAML_ANY_SCALAR_STYLE;
    }
}

static int emit_event(yaml_emitter_t *em, yaml_event_t *ev, struct mk_error **err)
{
    if (!yaml_emitter_emit(em, ev))
        return mk_error_set(err, MK_EXIT_FAILURE, "cannot write yaml: %s",
                            em->problem ? em->problem : "emitter error");
    return 0;
}

static int emit_node(yaml_emitter_t *em, const struct mk_yaml_node *n, struct mk_error **err)
{
    yaml_event_t ev;
    yaml_char_t *tag = (yaml_char_t *)n->tag;
    int implicit = n->tag == NULL;

    switch (n->kind) {
    case MK_YAML_SCALAR:
        yaml_scalar_event_initialize(&ev, NULL, tag, (yaml_char_t *)n->value, (int)n->value_len,
                                     implicit, implicit, style_to(n->style));
        return emit_event(em, &ev, err);
    case MK_YAML_SEQUENCE:
        yaml_sequence_start_event_initialize(&ev, NULL, tag, implicit,
                                             n->flow ? YAML_FLOW_SEQUENCE_STYLE
                                                     : YAML_BLOCK_SEQUENCE_STYLE);
        if (emit_event(em, &ev, err) < 0)
            return -1;
        for (size_t i = 0; i < n->n; i++)
            if (emit_node(em, n->items[i], err) < 0)
                return -1;
        yaml_sequence_end_event_initialize(&ev);
        return emit_event(em, &ev, err);
    case MK_YAML_MAPPING:
        yaml_mapping_start_event_initialize(
            &ev, NULL, tag, implicit, n->flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE);
        if (emit_event(em, &ev, err) < 0)
            return -1;
        for (size_t i = 0; i < n->n; i++)
            if (emit_node(em, n->pairs[i].key, err) < 0 ||
                emit_node(em, n->pairs[i].value, err) < 0)
                return -1;
        yaml_mapping_end_event_initialize(&ev);
        return emit_event(em, &ev, err);
    }
    return mk_error_set(err, MK_EXIT_FAILURE, "cannot write yaml: bad node kind");
}

int mk_yaml_emit_all(struct mk_yaml_node *const *docs, struct mk_buf *out, struct mk_error **err)
{
    yaml_emitter_t em;
    yaml_event_t ev;
    int ret = -1;

    yaml_emitter_initialize(&em);
    yaml_emitter_set_output(&em, write_handler, out);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, -1);
    yaml_emitter_set_indent(&em, 2);
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    if (emit_event(&em, &ev, err) < 0)
        goto cleanup;
    for (size_t i = 0; docs[i]; i++) {
        yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
        if (emit_event(&em, &ev, err) < 0 || emit_node(&em, docs[i], err) < 0)
            goto cleanup;
        yaml_document_end_event_initialize(&ev, 1);
        if (emit_event(&em, &ev, err) < 0)
            goto cleanup;
    }
    yaml_stream_end_event_initialize(&ev);
    if (emit_event(&em, &ev, err) < 0)
        goto cleanup;
    if (!yaml_emitter_flush(&em)) {
        mk_error_set(err, MK_EXIT_FAILURE, "cannot write yaml: flush failed");
        goto cleanup;
    }
    ret = 0;
cleanup:
    yaml_emitter_delete(&em);
    return ret;
}

int mk_yaml_emit(const struct mk_yaml_node *root, struct mk_buf *out, struct mk_error **err)
{
    struct mk_yaml_node *docs[2] = {(struct mk_yaml_node *)root, NULL};
    return mk_yaml_emit_all(docs, out, err);
}
