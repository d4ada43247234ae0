/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "macro.h"

/* Text output shared by the verbs: aligned tables, colours on a terminal only, JSON via json-c. */

typedef enum OutputColor {
        OUTPUT_COLOR_NONE,
        OUTPUT_COLOR_GREEN,
        OUTPUT_COLOR_YELLOW,
        OUTPUT_COLOR_RED,
        OUTPUT_COLOR_BOLD,
        OUTPUT_COLOR_GREY,
        _OUTPUT_COLOR_MAX,
} OutputColor;

/* True when f is a terminal, TERM is not "dumb" and NO_COLOR is unset or empty. */
bool output_want_color(FILE *f);
/* The escape sequence to start / end a colour, or "" when colour is off. */
const char *output_color_on(bool enabled, OutputColor c);
const char *output_color_off(bool enabled);

typedef struct Table Table;

Table *table_new(unsigned n_columns, const char *const *headers);
Table *table_free(Table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Table *, table_free);
/* Adds a row of n_columns cells (copied); color applies to cell color_column, or none if < 0. */
int table_add_row(Table *t, const char *const *cells, int color_column, OutputColor color);
/* Prints the headers unless legend is false; the last column is not padded. */
int table_print(const Table *t, FILE *f, bool legend, bool color);
/* As table_print(), but a table without rows prints the line `empty` instead (nothing when legend is
 * false). */
int table_print_or_empty(const Table *t, FILE *f, const char *empty, bool legend, bool color);

/* "4.6 KiB", "128 KiB", "2.0 MiB", "17 B". */
void format_bytes(uint64_t n, char buf[32]);
/* "0x08000000" */
void format_address(uint32_t a, char buf[16]);
/* "1.3 s", "850 ms", "2 min 5 s" */
void format_duration_ms(uint64_t ms, char buf[32]);

/* Prints the document followed by a newline: pretty on a terminal, one line otherwise. */
int output_json(json_object *doc, FILE *f);
/* With --json, a failure's document: {"error": name, "message": ..., "exit_status": ...}. */
int output_json_error(const char *name, const char *message, int exit_status, FILE *f);
/* Prints the document {key: value} (value's reference is shared, not taken). */
int output_json_member(const char *key, json_object *value, FILE *f);
/* json_object_new_* that never returns NULL for a NULL string: gives JSON null. */
json_object *json_string_or_null(const char *s);
