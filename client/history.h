/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * `dfusctl history` without the bus: walking the pages of Manager.GetHistory through a fetch
 * callback, and writing entries as CSV or JSON lines. history.c puts these on the bus and the
 * terminal.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

/* The largest page dfusd returns (and the default page dfusctl asks for). */
#define HISTORY_PAGE_MAX 1000u

/* One GetHistory call: the entries (a JSON array, oldest first, each with "cursor") older than the
 * cursor BEFORE (0: from the newest), at most LIMIT of them. Returns 0 or a negative errno. */
typedef int (*HistoryFetchFn)(uint64_t before, uint32_t limit, json_object **ret_page, void *userdata);
/* Called for each entry, oldest first. Returns 0 or a negative errno, which stops the walk. */
typedef int (*HistoryEmitFn)(json_object *entry, void *userdata);

typedef struct HistoryWalk {
        HistoryFetchFn fetch;
        void *fetch_userdata;
        HistoryEmitFn emit;
        void *emit_userdata;
        uint64_t limit;     /* the newest LIMIT entries; 0: all of them */
        uint32_t page_size; /* entries asked per call, 1..HISTORY_PAGE_MAX */
        /* Without a limit, hold one page at a time instead of every entry: the history is walked
         * back once to find where the pages begin, then read again oldest page first. */
        bool stream;
        /* Out: a full page came without cursors (a dfusd that does not page): what it gave was all
         * that could be read. */
        bool truncated;
} HistoryWalk;

/* Pages back through the history as GetHistory says (a page shorter than asked, or empty, is the
 * end; the next page is the one before the oldest entry's cursor) and emits the entries oldest
 * first, each once. Returns 0, a fetch or emit error, or -EBADMSG when a page is not an array or
 * holds more than asked, -EPROTO when its cursors are not ascending below `before`. */
int history_walk(HistoryWalk *w);

typedef enum HistoryFormat {
        HISTORY_FORMAT_TABLE,
        HISTORY_FORMAT_CSV,
        HISTORY_FORMAT_JSONL,
        _HISTORY_FORMAT_MAX,
        _HISTORY_FORMAT_INVALID = -1,
} HistoryFormat;

HistoryFormat history_format_from_string(const char *s);

/* "done", "failed" or "cancelled". */
bool history_result_is_valid(const char *s);
/* An ImageSha256 summary: 64 hex digits, or several such joined by commas. *ret is a lowercase copy.
 * Returns 0, -EINVAL, or -ENOMEM. */
int history_image_normalize(const char *s, char **ret);

/* "2026-01-05T10:11:12Z" for CLOCK_REALTIME microseconds; "" for 0. */
void format_iso8601_utc(char buf[32], uint64_t usec);

/* One CSV field as RFC 4180 writes it: quoted, with quotes doubled, when it holds a comma, a quote,
 * CR or LF. Returns 0 or -EIO. */
int csv_write_field(FILE *f, const char *s);
/* The header row and one entry's row (CRLF-terminated), the columns in history_csv_columns order. */
/* After the fixed columns, one column per sequence named in sequences (may be NULL), "value-NAME",
 * holding the value the job took from it. */
int history_csv_header(FILE *f, char *const *sequences);
int history_csv_row(FILE *f, json_object *entry, char *const *sequences);
/* The per-board values an entry took, "boards=1000 macs=02:80:E1:00:00:01", into buf ("" for none). */
#define HISTORY_VALUES_MAX (16 * (512 + 66))
const char *history_values_string(json_object *entry, char buf[HISTORY_VALUES_MAX]);
/* One entry as a line of JSON. */
int history_jsonl_row(FILE *f, json_object *entry);
