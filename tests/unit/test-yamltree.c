/* test-yamltree.c - the libyaml node tree: round trips, styles, anchors, edits, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "yamltree.h"

static struct mk_yaml_node *parse_ok(const char *text)
{
    struct mk_yaml_node *root = NULL;
    mk_autoerror struct mk_error *err = NULL;
    int r = mk_yaml_parse(text, strlen(text), &root, &err);
    if (r < 0)
        fail_msg("parse failed: %s", err->msg);
    return root;
}

static char *emit_ok(const struct mk_yaml_node *root)
{
    struct mk_buf b = MK_BUF_INIT;
    mk_buf_init(&b);
    mk_autoerror struct mk_error *err = NULL;
    if (mk_yaml_emit(root, &b, &err) < 0)
        fail_msg("emit failed: %s", err->msg);
    return mk_buf_detach(&b);
}

static char *parse_error(const char *text)
{
    struct mk_yaml_node *root = NULL;
    struct mk_error *err = NULL;
    assert_int_equal(mk_yaml_parse(text, strlen(text), &root, &err), -1);
    assert_null(root);
    assert_non_null(err);
    char *msg = xstrdup(err->msg);
    mk_error_free(err);
    return msg;
}

/* A file already in the emitter's canonical layout comes back byte for byte:
 * key order, unknown keys, quoting, block scalars, flow collections, tags. */
static void test_roundtrip_exact(void **state)
{
    (void)state;
    const char *text = "zeta: 1\n"
                       "alpha:\n"
                       "  single: 'it''s'\n"
                       "  double: \"tab\\there\"\n"
                       "  plain: hello world\n"
                       "  quoted-bool: \"true\"\n"
                       "  real-bool: true\n"
                       "  empty:\n"
                       "  tilde: ~\n"
                       "  literal: |\n"
                       "    line one\n"
                       "    line two\n"
                       "  folded: >\n"
                       "    some folded text\n"
                       "  flowseq: [a, b, 'c d']\n"
                       "  flowmap: {x: 1, y: [2, 3]}\n"
                       "  emptyseq: []\n"
                       "  emptymap: {}\n"
                       "  bin: !!binary aGVsbG8=\n"
                       "  custom: !thing value\n"
                       "list:\n"
                       "- name: one\n"
                       "  extra: keep\n"
                       "- - nested\n"
                       "  - seq\n";
    mk_autoyaml struct mk_yaml_node *root = parse_ok(text);
    mk_autofree char *out = emit_ok(root);
    assert_string_equal(out, text);

    assert_string_equal(mk_yaml_map_get_str(mk_yaml_map_get(root, "alpha"), "single"), "it's");
    assert_string_equal(mk_yaml_map_get_str(mk_yaml_map_get(root, "alpha"), "double"), "tab\there");
    assert_null(mk_yaml_map_get_str(mk_yaml_map_get(root, "alpha"), "empty"));
    assert_null(mk_yaml_map_get_str(mk_yaml_map_get(root, "alpha"), "tilde"));
    assert_string_equal(mk_yaml_map_get_str(mk_yaml_map_get(root, "alpha"), "literal"),
                        "line one\nline two\n");
    assert_true(mk_yaml_is_null(mk_yaml_map_get(mk_yaml_map_get(root, "alpha"), "empty")));
    assert_false(mk_yaml_is_null(mk_yaml_map_get(mk_yaml_map_get(root, "alpha"), "quoted-bool")));
    assert_string_equal(mk_yaml_map_get(mk_yaml_map_get(root, "alpha"), "bin")->tag,
                        "tag:yaml.org,2002:binary");
    assert_true(mk_yaml_map_get(mk_yaml_map_get(root, "alpha"), "flowmap")->flow);
    assert_int_equal(mk_yaml_map_get(root, "list")->n, 2);
}

/* Other layouts are normalised, never changed in meaning: re-parsing the output
 * gives an equal tree. */
static void test_roundtrip_normalised(void **state)
{
    (void)state;
    const char *text = "---\n"
                       "# a comment (lost)\n"
                       "top:   {a: 1,\n"
                       "        b: [x,\n"
                       "            y]}\n"
                       "seq:\n"
                       "    -   indented: item\n"
                       "        other: 2\n"
                       "\"quoted key\": 'v'\n"
                       "? complex\n"
                       ": value\n"
                       "multi: \"a\\nb\"\n"
                       "...\n";
    mk_autoyaml struct mk_yaml_node *root = parse_ok(text);
    mk_autofree char *out = emit_ok(root);
    mk_autoyaml struct mk_yaml_node *again = parse_ok(out);
    assert_true(mk_yaml_equal(root, again));
    assert_null(strstr(out, "comment"));
    assert_string_equal(mk_yaml_map_get_str(root, "quoted key"), "v");
    assert_string_equal(mk_yaml_map_get_str(root, "multi"), "a\nb");
    mk_autofree char *out2 = emit_ok(again);
    assert_string_equal(out, out2); /* the canonical form is a fixed point */
}

static void test_anchors_expanded(void **state)
{
    (void)state;
    const char *text = "base: &b\n"
                       "  k: v\n"
                       "  list: [1, 2]\n"
                       "copy: *b\n"
                       "merged:\n"
                       "  <<: *b\n"
                       "  extra: 3\n"
                       "s: &s scalar\n"
                       "t: *s\n";
    mk_autoyaml struct mk_yaml_node *root = parse_ok(text);
    assert_true(mk_yaml_equal(mk_yaml_map_get(root, "base"), mk_yaml_map_get(root, "copy")));
    assert_string_equal(mk_yaml_map_get_str(root, "t"), "scalar");
    /* the copy is independent of its source */
    mk_yaml_map_set_str(mk_yaml_map_get(root, "copy"), "k", "changed");
    assert_string_equal(mk_yaml_map_get_str(mk_yaml_map_get(root, "base"), "k"), "v");
    mk_autofree char *out = emit_ok(root);
    assert_null(strchr(out, '&'));
    assert_null(strchr(out, '*'));
    assert_non_null(strstr(out, "<<:"));
}

static void test_alias_errors(void **state)
{
    (void)state;
    mk_autofree char *m1 = parse_error("a: *nope\n");
    assert_non_null(strstr(m1, "alias *nope"));
    assert_non_null(strstr(m1, "line 1"));
    /* an alias to an enclosing node cannot be expanded */
    mk_autofree char *m2 = parse_error("a: &x\n  b: *x\n");
    assert_non_null(strstr(m2, "line 2"));
    /* billion laughs: 9 levels of 10 aliases each would be 10^9 nodes */
    struct mk_buf b = MK_BUF_INIT;
    mk_buf_init(&b);
    mk_buf_adds(&b, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 9; i++) {
        mk_buf_addf(&b, "a%d: &a%d [", i, i);
        for (int j = 0; j < 10; j++)
            mk_buf_addf(&b, "%s*a%d", j ? ", " : "", i - 1);
        mk_buf_adds(&b, "]\n");
    }
    mk_autofree char *bomb = mk_buf_detach(&b);
    mk_autofree char *m3 = parse_error(bomb);
    assert_non_null(strstr(m3, "too large"));
}

static void test_syntax_errors(void **state)
{
    (void)state;
    mk_autofree char *m1 = parse_error("apiVersion: v1\nclusters:\n- a: b\n c: d\n");
    assert_non_null(strstr(m1, "line 4"));
    mk_autofree char *m2 = parse_error("a: b\n\tc: d\n");
    assert_non_null(strstr(m2, "line 2"));
    mk_autofree char *m3 = parse_error("key: \"unterminated\n");
    assert_non_null(strstr(m3, "line "));
    mk_autofree char *m4 = parse_error("a: 1\n---\nb: 2\n");
    assert_non_null(strstr(m4, "second yaml document"));
    /* too deep */
    char deep[1200];
    memset(deep, '[', 600);
    memset(deep + 600, ']', 600);
    deep[1199] = '\0';
    deep[599] = 'x';
    deep[600] = ']';
    mk_autofree char *m5 = parse_error(deep);
    assert_non_null(strstr(m5, "nesting"));
    /* invalid utf-8 */
    mk_autofree char *m6 = parse_error("a: \xff\xfe\n");
    assert_non_null(m6);
}

static void test_empty_and_multi(void **state)
{
    (void)state;
    struct mk_yaml_node *root = (void *)1;
    mk_autoerror struct mk_error *err = NULL;
    assert_int_equal(mk_yaml_parse("", 0, &root, &err), 0);
    assert_null(root);
    root = (void *)1;
    assert_int_equal(mk_yaml_parse("# only a comment\n", 17, &root, &err), 0);
    assert_null(root);

    const char *text = "kind: A\n---\n---\nkind: B\nlist: [1]\n";
    struct mk_yaml_node **docs = NULL;
    assert_int_equal(mk_yaml_parse_all(text, strlen(text), &docs, &err), 0);
    assert_non_null(docs[0]);
    assert_non_null(docs[1]);
    assert_null(docs[2]);
    assert_string_equal(mk_yaml_map_get_str(docs[1], "kind"), "B");
    struct mk_buf b = MK_BUF_INIT;
    mk_buf_init(&b);
    assert_int_equal(mk_yaml_emit_all(docs, &b, &err), 0);
    assert_string_equal(b.buf, "kind: A\n---\nkind: B\nlist: [1]\n");
    mk_buf_release(&b);
    mk_yaml_free_docs(docs);
}

/* Strings that a YAML 1.1 reader would take for something else are quoted. */
static void test_string_quoting(void **state)
{
    (void)state;
    static const char *const values[] = {
        "true", "no",         "On",   "",      "~",
        "null", "123",        "0x1f", "1e3",   "-1",
        ".5",   "2024-01-01", "<<",   "hello", "https://127.0.0.1:8443",
        "a: b", "- x",        "#c",   " lead", "multi\nline",
        "Yes"};
    mk_autoyaml struct mk_yaml_node *map = mk_yaml_mapping();
    for (size_t i = 0; i < MK_ARRAY_SIZE(values); i++) {
        mk_autofree char *key = xasprintf("k%zu", i);
        mk_yaml_map_set_str(map, key, values[i]);
    }
    mk_autofree char *out = emit_ok(map);
    assert_non_null(strstr(out, "k0: \"true\"\n"));
    assert_non_null(strstr(out, "k3: \"\"\n"));
    assert_non_null(strstr(out, "k13: hello\n"));
    assert_non_null(strstr(out, "k14: https://127.0.0.1:8443\n"));
    mk_autoyaml struct mk_yaml_node *back = parse_ok(out);
    for (size_t i = 0; i < MK_ARRAY_SIZE(values); i++) {
        mk_autofree char *key = xasprintf("k%zu", i);
        struct mk_yaml_node *v = mk_yaml_map_get(back, key);
        assert_non_null(v);
        /* a string comes back as a string, never as plain null/bool/number */
        if (v->style == MK_YAML_STYLE_PLAIN)
            assert_false(mk_yaml_plain_is_special(v->value));
        assert_string_equal(v->value, values[i]);
    }
    mk_autoyaml struct mk_yaml_node *p = mk_yaml_plain("true");
    mk_autofree char *pout = emit_ok(p);
    assert_string_equal(pout, "true\n");
}

static void test_edits(void **state)
{
    (void)state;
    mk_autoyaml struct mk_yaml_node *root = parse_ok("b: 1\na: 2\nc: [x, y, z]\n");
    mk_yaml_map_set_str(root, "a", "two");          /* in place */
    mk_yaml_map_set(root, "d", mk_yaml_plain("4")); /* appended */
    assert_true(mk_yaml_map_remove(root, "b"));
    assert_false(mk_yaml_map_remove(root, "b"));
    struct mk_yaml_node *c = mk_yaml_map_get(root, "c");
    mk_yaml_seq_remove_at(c, 1);
    mk_yaml_seq_append(c, mk_yaml_string("w"));
    mk_yaml_seq_replace_at(c, 0, mk_yaml_string("X"));
    mk_yaml_seq_remove_at(c, 99); /* out of range: ignored */
    mk_autofree char *out = emit_ok(root);
    assert_string_equal(out, "a: two\nc: [X, z, w]\nd: 4\n");
    mk_autoyaml struct mk_yaml_node *dup = mk_yaml_dup(root);
    assert_true(mk_yaml_equal(root, dup));
    mk_yaml_map_set_str(dup, "a", "three");
    assert_false(mk_yaml_equal(root, dup));
    assert_null(mk_yaml_map_get(NULL, "a"));
    assert_null(mk_yaml_map_get(c, "a")); /* not a mapping */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_exact),  cmocka_unit_test(test_roundtrip_normalised),
        cmocka_unit_test(test_anchors_expanded), cmocka_unit_test(test_alias_errors),
        cmocka_unit_test(test_syntax_errors),    cmocka_unit_test(test_empty_and_multi),
        cmocka_unit_test(test_string_quoting),   cmocka_unit_test(test_edits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
