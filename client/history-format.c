/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "history.h"
#include "macro.h"

/* 16 values of at most 512 characters, with their sequences' names. */
#define HISTORY_CELL_MAX HISTORY_VALUES_MAX

HistoryFormat history_format_from_string(const char *s) {
        static const char *const names[_HISTORY_FORMAT_MAX] = {
                [HISTORY_FORMAT_TABLE] = "table",
                [HISTORY_FORMAT_CSV] = "csv",
                [HISTORY_FORMAT_JSONL] = "jsonl",
        };

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(s, names[i]))
                        return (HistoryFormat)i;
        return _HISTORY_FORMAT_INVALID;
}

bool history_result_is_valid(const char *s) {
        return streq(s, "done") || streq(s, "failed") || streq(s, "cancelled");
}

int history_image_normalize(const char *s, char **ret) {
        _cleanup_free_ char *copy = strdup(s);
        size_t digits = 0;

        if (!copy)
                return -ENOMEM;
        for (char *p = copy;; p++) {
                if (*p == ',' || *p == '\0') {
                        if (digits != 64)
                                return -EINVAL;
                        if (*p == '\0')
                                break;
                        digits = 0;
                } else if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))
                        digits++;
                else if (*p >= 'A' && *p <= 'F') {
                        *p = (char)(*p - 'A' + 'a');
                        digits++;
                } else
                        return -EINVAL;
        }
        *ret = TAKE_PTR(copy);
        return 0;
}

void format_iso8601_utc(char buf[32], uint64_t usec) {
        time_t t = (time_t)(usec / 1000000);
        struct tm tm;

        if (usec == 0 || !gmtime_r(&t, &tm) || strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                buf[0] = '\0';
}

int csv_write_field(FILE *f, const char *s) {
        if (!strpbrk(s, ",\"\r\n"))
                return fputs(s, f) < 0 ? -EIO : 0;
        if (fputc('"', f) == EOF)
                return -EIO;
        for (; *s; s++)
                if ((*s == '"' && fputc('"', f) == EOF) || fputc(*s, f) == EOF)
                        return -EIO;
        return fputc('"', f) == EOF ? -EIO : 0;
}

/*
 * The CSV columns, in order: every key of a journal entry that dfusd documents, then the three
 * times again as raw CLOCK_REALTIME microseconds (exact, and what other tools take), since the
 * first ones are ISO 8601 UTC for people and spreadsheets. "cursor" is left out: it only means
 * something to GetHistory.
 */
typedef enum ColumnKind {
        COLUMN_VALUE,   /* the value as JSON writes a scalar: a string, a number, true/false */
        COLUMN_ISO8601, /* a time, as ISO 8601 UTC; empty when 0 */
        COLUMN_PAIRS,   /* [[a, b], ...] as "a=b a=b" */
} ColumnKind;

static const struct {
        const char *name, *key;
        ColumnKind kind;
} columns[] = {
        {"id", "id", COLUMN_VALUE},
        {"result", "result", COLUMN_VALUE},
        {"error", "error", COLUMN_VALUE},
        {"port", "port", COLUMN_VALUE},
        {"serial", "serial", COLUMN_VALUE},
        {"station", "station", COLUMN_VALUE},
        {"target", "target", COLUMN_VALUE},
        {"image-sha256", "image-sha256", COLUMN_VALUE},
        {"submit-time", "submit-time", COLUMN_ISO8601},
        {"start-time", "start-time", COLUMN_ISO8601},
        {"end-time", "end-time", COLUMN_ISO8601},
        {"duration-usec", "duration-usec", COLUMN_VALUE},
        {"bytes", "bytes", COLUMN_VALUE},
        {"dropped-segments", "dropped-segments", COLUMN_VALUE},
        {"interrupted", "interrupted", COLUMN_VALUE},
        {"rule", "rule", COLUMN_VALUE},
        {"submit-time-usec", "submit-time", COLUMN_VALUE},
        {"start-time-usec", "start-time", COLUMN_VALUE},
        {"end-time-usec", "end-time", COLUMN_VALUE},
        {"trust", "trust", COLUMN_VALUE},
        {"protection", "protection", COLUMN_VALUE},
        /* One column for every sequence: CSV is written page by page, before all the sequences of
         * the history are known. */
        {"values", "values", COLUMN_PAIRS},
        /* added after values: the columns before keep their places */
        {"origin", "origin", COLUMN_VALUE},
};

static int csv_end_row(FILE *f) {
        return fputs("\r\n", f) < 0 ? -EIO : 0;
}

int history_csv_header(FILE *f, char *const *sequences) {
        for (size_t i = 0; i < ELEMENTSOF(columns); i++) {
                if (i > 0 && fputc(',', f) == EOF)
                        return -EIO;
                if (csv_write_field(f, columns[i].name) < 0)
                        return -EIO;
        }
        for (char *const *q = sequences; q && *q; q++)
                if (fputs(",value-", f) < 0 || csv_write_field(f, *q) < 0)
                        return -EIO;
        return csv_end_row(f);
}

/* The value the entry took from sequence, or "". */
static const char *value_of(json_object *entry, const char *sequence) {
        json_object *values;

        if (!json_object_object_get_ex(entry, "values", &values) ||
            !json_object_is_type(values, json_type_array))
                return "";
        for (size_t k = 0; k < json_object_array_length(values); k++) {
                json_object *pair = json_object_array_get_idx(values, k);
                const char *name = json_object_get_string(json_object_array_get_idx(pair, 0));
                if (name && streq(name, sequence))
                        return json_object_get_string(json_object_array_get_idx(pair, 1)) ?: "";
        }
        return "";
}

/* "boards=1000 macs=02:80:E1:00:00:01" into buf. */
static const char *pairs(json_object *v, char *buf, size_t size) {
        size_t len = 0;

        buf[0] = '\0';
        for (size_t k = 0; json_object_is_type(v, json_type_array) && k < json_object_array_length(v); k++) {
                json_object *pair = json_object_array_get_idx(v, k);
                int n;

                if (!json_object_is_type(pair, json_type_array) || json_object_array_length(pair) != 2)
                        continue;
                n = snprintf(buf + len, size - len, "%s%s=%s", len ? " " : "",
                             json_object_get_string(json_object_array_get_idx(pair, 0)),
                             json_object_get_string(json_object_array_get_idx(pair, 1)));
                if (n < 0 || (size_t)n >= size - len)
                        break;
                len += (size_t)n;
        }
        return buf;
}

const char *history_values_string(json_object *entry, char buf[HISTORY_VALUES_MAX]) {
        json_object *v;

        if (!json_object_object_get_ex(entry, "values", &v))
                return buf[0] = '\0', buf;
        return pairs(v, buf, HISTORY_VALUES_MAX);
}

static const char *cell(json_object *entry, size_t i, char buf[HISTORY_CELL_MAX]) {
        json_object *v;

        if (!json_object_object_get_ex(entry, columns[i].key, &v) || json_object_is_type(v, json_type_null))
                return "";
        if (columns[i].kind == COLUMN_PAIRS)
                return pairs(v, buf, HISTORY_CELL_MAX);
        if (columns[i].kind == COLUMN_ISO8601) {
                format_iso8601_utc(buf,
                                   json_object_is_type(v, json_type_int) ? json_object_get_uint64(v) : 0);
                return buf;
        }
        return json_object_get_string(v) ?: "";
}

int history_csv_row(FILE *f, json_object *entry, char *const *sequences) {
        for (size_t i = 0; i < ELEMENTSOF(columns); i++) {
                char buf[HISTORY_CELL_MAX];

                if (i > 0 && fputc(',', f) == EOF)
                        return -EIO;
                if (csv_write_field(f, cell(entry, i, buf)) < 0)
                        return -EIO;
        }
        for (char *const *q = sequences; q && *q; q++)
                if (fputc(',', f) == EOF || csv_write_field(f, value_of(entry, *q)) < 0)
                        return -EIO;
        return csv_end_row(f);
}

int history_jsonl_row(FILE *f, json_object *entry) {
        const char *s = json_object_to_json_string_ext(entry, JSON_C_TO_STRING_PLAIN |
                                                                      JSON_C_TO_STRING_NOSLASHESCAPE);

        if (!s)
                return -ENOMEM;
        return fprintf(f, "%s\n", s) < 0 ? -EIO : 0;
}
