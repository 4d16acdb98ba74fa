/* output.h - what commands print on stdout: aligned tables (minikube's
 * `profile list` style), JSON for `-o json`, and color only on a terminal
 * (never when NO_COLOR is set). Errors do not come through here: main prints
 * them (error.h). */
#ifndef MK_OUTPUT_H
#define MK_OUTPUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "error.h"

enum mk_output_format {
    MK_OUTPUT_TEXT = 0, /* tables and prose for people */
    MK_OUTPUT_JSON,
};
/* "-o" values: "table" / "text" (and "") or "json". */
int mk_output_parse(const char *s, enum mk_output_format *fmt, struct mk_error **err);

/* A table with a header row, printed as
 *   |---------|--------|
 *   | Profile | Driver |
 *   |---------|--------|
 *   | mkube   | qemu   |
 *   |---------|--------|
 * Cells are copied; NULL cells print empty. */
struct mk_table;
struct mk_table *mk_table_new(size_t ncols, const char *const *headers);
void mk_table_add_row(struct mk_table *t, const char *const *cells);
size_t mk_table_rows(const struct mk_table *t);
void mk_table_print(const struct mk_table *t, FILE *f);
void mk_table_free(struct mk_table *t);

/* j as JSON plus a newline: indented when pretty, else on one line. */
int mk_json_print(FILE *f, const json_t *j, bool pretty, struct mk_error **err);

/* SGR escape for f ("1" bold, "32" green ...) or "" when f gets no color. */
const char *mk_color(FILE *f, const char *sgr);
const char *mk_color_reset(FILE *f);

#endif
