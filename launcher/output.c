/* output.c - tables, JSON and color for command output (see output.h). */
#include "output.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

struct mk_table {
    size_t ncols;
    size_t nrows;
    char **cells; /* (nrows + 1) * ncols, row 0 is the header */
};

int mk_output_parse(const char *s, enum mk_output_format *fmt, struct mk_error **err)
{
    if (!s || !*s || strcmp(s, "table") == 0 || strcmp(s, "text") == 0) {
        *fmt = MK_OUTPUT_TEXT;
        return 0;
    }
    if (strcmp(s, "json") == 0) {
        *fmt = MK_OUTPUT_JSON;
        return 0;
    }
    return mk_error_set(err, MK_EXIT_USAGE, "invalid output format \"%s\": expected table or json",
                        s);
}

static void add_row(struct mk_table *t, const char *const *cells)
{
    size_t row = t->cells ? t->nrows + 1 : 0;
    t->cells = xrealloc(t->cells, (row + 1) * t->ncols * sizeof(*t->cells));
    for (size_t i = 0; i < t->ncols; i++)
        t->cells[row * t->ncols + i] = xstrdup(cells[i] ? cells[i] : "");
}

struct mk_table *mk_table_new(size_t ncols, const char *const *headers)
{
    struct mk_table *t = xcalloc(1, sizeof(*t));
    t->ncols = ncols;
    add_row(t, headers);
    return t;
}

void mk_table_add_row(struct mk_table *t, const char *const *cells)
{
    add_row(t, cells);
    t->nrows++;
}

size_t mk_table_rows(const struct mk_table *t)
{
    return t->nrows;
}

static void rule(FILE *f, const size_t *w, size_t ncols)
{
    for (size_t c = 0; c < ncols; c++) {
        fputc('|', f);
        for (size_t i = 0; i < w[c] + 2; i++)
            fputc('-', f);
    }
    fputs("|\n", f);
}

static void row(FILE *f, char **cells, const size_t *w, size_t ncols, bool header)
{
    for (size_t c = 0; c < ncols; c++)
        fprintf(f, "| %s%-*s%s ", header ? mk_color(f, "1") : "", (int)w[c], cells[c],
                header ? mk_color_reset(f) : "");
    fputs("|\n", f);
}

void mk_table_print(const struct mk_table *t, FILE *f)
{
    size_t *w = xcalloc(t->ncols, sizeof(*w));
    for (size_t r = 0; r <= t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t n = strlen(t->cells[r * t->ncols + c]);
            if (n > w[c])
                w[c] = n;
        }
    rule(f, w, t->ncols);
    row(f, t->cells, w, t->ncols, true);
    rule(f, w, t->ncols);
    for (size_t r = 1; r <= t->nrows; r++)
        row(f, t->cells + r * t->ncols, w, t->ncols, false);
    if (t->nrows)
        rule(f, w, t->ncols);
    free(w);
}

void mk_table_free(struct mk_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < (t->nrows + 1) * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

int mk_json_print(FILE *f, const json_t *j, bool pretty, struct mk_error **err)
{
    size_t flags = JSON_ENCODE_ANY | (pretty ? JSON_INDENT(2) : JSON_COMPACT);
    if (json_dumpf(j, f, flags) < 0 || fputc('\n', f) == EOF)
        return mk_error_set(err, MK_EXIT_FAILURE, "cannot write JSON output");
    return 0;
}

const char *mk_color(FILE *f, const char *sgr)
{
    static char buf[32];
    if (!mk_color_enabled(f))
        return "";
    snprintf(buf, sizeof(buf), "\033[%sm", sgr);
    return buf;
}

const char *mk_color_reset(FILE *f)
{
    return mk_color_enabled(f) ? "\033[0m" : "";
}
