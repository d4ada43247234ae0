/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "output.h"

bool output_want_color(FILE *f) {
        const char *no_color = getenv("NO_COLOR"), *term = getenv("TERM");

        /* https://no-color.org: any non-empty value disables colour. */
        if (no_color && no_color[0])
                return false;
        if (term && streq(term, "dumb"))
                return false;
        return isatty(fileno(f));
}

const char *output_color_on(bool enabled, OutputColor c) {
        static const char *const seq[_OUTPUT_COLOR_MAX] = {
                [OUTPUT_COLOR_NONE] = "",
                [OUTPUT_COLOR_GREEN] = "\033[0;32m",
                [OUTPUT_COLOR_YELLOW] = "\033[0;33m",
                [OUTPUT_COLOR_RED] = "\033[0;31m",
                [OUTPUT_COLOR_BOLD] = "\033[1m",
                [OUTPUT_COLOR_GREY] = "\033[0;90m",
        };
        if (!enabled || c <= OUTPUT_COLOR_NONE || c >= _OUTPUT_COLOR_MAX)
                return "";
        return seq[c];
}

const char *output_color_off(bool enabled) {
        return enabled ? "\033[0m" : "";
}

typedef struct TableRow {
        char **cells;
        int color_column;
        OutputColor color;
} TableRow;

struct Table {
        unsigned n_columns;
        char **headers;
        TableRow *rows;
        size_t n_rows;
};

static void cells_free(char **cells, unsigned n) {
        for (unsigned i = 0; cells && i < n; i++)
                free(cells[i]);
        free(cells);
}

static char **cells_dup(const char *const *src, unsigned n) {
        char **c = calloc(n, sizeof(char *));
        if (!c)
                return NULL;
        for (unsigned i = 0; i < n; i++) {
                c[i] = strdup(src[i] ?: "");
                if (!c[i]) {
                        cells_free(c, n);
                        return NULL;
                }
        }
        return c;
}

Table *table_new(unsigned n_columns, const char *const *headers) {
        Table *t;

        if (n_columns == 0)
                return NULL;
        t = calloc(1, sizeof(*t));
        if (!t)
                return NULL;
        t->n_columns = n_columns;
        t->headers = cells_dup(headers, n_columns);
        if (!t->headers)
                return mfree(t);
        return t;
}

Table *table_free(Table *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_rows; i++)
                cells_free(t->rows[i].cells, t->n_columns);
        free(t->rows);
        cells_free(t->headers, t->n_columns);
        return mfree(t);
}

int table_add_row(Table *t, const char *const *cells, int color_column, OutputColor color) {
        TableRow *rows = realloc(t->rows, (t->n_rows + 1) * sizeof(*rows));
        if (!rows)
                return -ENOMEM;
        t->rows = rows;
        rows[t->n_rows].cells = cells_dup(cells, t->n_columns);
        if (!rows[t->n_rows].cells)
                return -ENOMEM;
        rows[t->n_rows].color_column = color_column;
        rows[t->n_rows].color = color;
        t->n_rows++;
        return 0;
}

static void print_row(FILE *f, char *const *cells, const size_t *width, unsigned n, int color_column,
                      OutputColor color, bool use_color) {
        for (unsigned i = 0; i < n; i++) {
                bool colored = use_color && (int)i == color_column;
                bool last = i + 1 == n;
                fprintf(f, "%s%s%s", colored ? output_color_on(true, color) : "", cells[i],
                        colored ? output_color_off(true) : "");
                if (!last)
                        fprintf(f, "%*s", (int)(width[i] - strlen(cells[i]) + 2), "");
        }
        fputc('\n', f);
}

int table_print(const Table *t, FILE *f, bool legend, bool color) {
        _cleanup_free_ size_t *width = calloc(t->n_columns, sizeof(size_t));

        if (!width)
                return -ENOMEM;
        for (unsigned i = 0; i < t->n_columns; i++) {
                width[i] = legend ? strlen(t->headers[i]) : 0;
                for (size_t r = 0; r < t->n_rows; r++)
                        width[i] = MAX(width[i], strlen(t->rows[r].cells[i]));
        }
        if (legend)
                print_row(f, t->headers, width, t->n_columns, 0, OUTPUT_COLOR_NONE, false);
        for (size_t r = 0; r < t->n_rows; r++)
                print_row(f, t->rows[r].cells, width, t->n_columns, t->rows[r].color_column,
                          t->rows[r].color, color);
        return 0;
}

int table_print_or_empty(const Table *t, FILE *f, const char *empty, bool legend, bool color) {
        if (t->n_rows > 0)
                return table_print(t, f, legend, color);
        if (legend)
                fprintf(f, "%s\n", empty);
        return 0;
}

void format_bytes(uint64_t n, char buf[32]) {
        if (n < 1024)
                snprintf(buf, 32, "%" PRIu64 " B", n);
        else if (n < 1024 * 1024)
                snprintf(buf, 32, n % 1024 == 0 ? "%.0f KiB" : "%.1f KiB", n / 1024.0);
        else
                snprintf(buf, 32, n % (1024 * 1024) == 0 ? "%.0f MiB" : "%.1f MiB", n / (1024.0 * 1024.0));
}

void format_address(uint32_t a, char buf[16]) {
        snprintf(buf, 16, "0x%08" PRIX32, a);
}

void format_duration_ms(uint64_t ms, char buf[32]) {
        if (ms < 1000)
                snprintf(buf, 32, "%" PRIu64 " ms", ms);
        else if (ms < 60 * 1000)
                snprintf(buf, 32, "%.1f s", ms / 1000.0);
        else
                snprintf(buf, 32, "%" PRIu64 " min %" PRIu64 " s", ms / 60000, ms % 60000 / 1000);
}

int output_json(json_object *doc, FILE *f) {
        int flags = JSON_C_TO_STRING_NOSLASHESCAPE;
        const char *s;

        flags |= isatty(fileno(f)) ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                                   : JSON_C_TO_STRING_PLAIN;
        s = json_object_to_json_string_ext(doc, flags);
        if (!s)
                return -ENOMEM;
        if (fprintf(f, "%s\n", s) < 0)
                return -EIO;
        return 0;
}

int output_json_error(const char *name, const char *message, int exit_status, FILE *f) {
        json_object *o = json_object_new_object();
        int r;

        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "error", json_object_new_string(name));
        json_object_object_add(o, "message", json_object_new_string(message));
        json_object_object_add(o, "exit_status", json_object_new_int(exit_status));
        r = output_json(o, f);
        json_object_put(o);
        return r;
}

int output_json_member(const char *key, json_object *value, FILE *f) {
        json_object *doc = json_object_new_object();
        int r;

        if (!doc)
                return -ENOMEM;
        json_object_object_add(doc, key, json_object_get(value));
        r = output_json(doc, f);
        json_object_put(doc);
        return r;
}

json_object *json_string_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}
