/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What dfusctl does without the bus: the history's paging loop against a fake GetHistory, its CSV
 * (read back by Python's csv module) and JSON lines, and the checks of its arguments and globs. */
#include <errno.h>
#include <glib.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "glob-check.h"
#include "history.h"
#include "test-main.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_object, json_object_put)

/* A fake GetHistory over entries with ids 0..n-1 and cursors 10, 20, ...: the newest LIMIT of those
 * older than BEFORE (capped at HISTORY_PAGE_MAX), oldest first. */
typedef struct Fake {
        GArray *ids;    /* guint, ascending: the history, oldest first */
        bool no_cursor; /* a dfusd from before paging: no cursor, before unknown */
        unsigned calls;
        unsigned grow_at;   /* on this call, 3 more jobs end first (0: never) */
        unsigned shrink_at; /* on this call, the 3 oldest are gone first (0: never) */
        bool broken_order;  /* ignores before */
        bool oversize;      /* returns one more than asked */
} Fake;

static uint64_t cursor_of(guint id) {
        return 10 * (uint64_t)(id + 1);
}

static void fake_init(Fake *f, guint n) {
        *f = (Fake){.ids = g_array_new(FALSE, FALSE, sizeof(guint))};
        for (guint i = 0; i < n; i++)
                g_array_append_val(f->ids, i);
}

static int fake_fetch(uint64_t before, uint32_t limit, json_object **ret, void *userdata) {
        Fake *f = userdata;
        json_object *page = json_object_new_array();
        guint end = 0, first;

        f->calls++;
        if (f->calls == f->grow_at)
                for (guint k = 0; k < 3; k++) {
                        guint id = f->ids->len ? g_array_index(f->ids, guint, f->ids->len - 1) + 1 : 0;
                        g_array_append_val(f->ids, id);
                }
        if (f->calls == f->shrink_at)
                g_array_remove_range(f->ids, 0, MIN(3u, f->ids->len));
        limit = MIN(limit, HISTORY_PAGE_MAX) + (f->oversize ? 1 : 0);
        while (end < f->ids->len && (f->no_cursor || f->broken_order || before == 0 ||
                                     cursor_of(g_array_index(f->ids, guint, end)) < before))
                end++;
        first = end > limit ? end - limit : 0;
        for (guint i = first; i < end; i++) {
                json_object *e = json_object_new_object();
                guint id = g_array_index(f->ids, guint, i);

                json_object_object_add(e, "id", json_object_new_int64(id));
                if (!f->no_cursor)
                        json_object_object_add(e, "cursor", json_object_new_uint64(cursor_of(id)));
                json_object_array_add(page, e);
        }
        *ret = page;
        return 0;
}

static int collect(json_object *entry, void *userdata) {
        GArray *out = userdata;
        guint id = (guint)json_object_get_int64(json_object_object_get(entry, "id"));

        g_array_append_val(out, id);
        return 0;
}

/* Walks the fake; returns the ids emitted, in order. */
static GArray *walk(Fake *f, uint64_t limit, uint32_t page_size, bool stream, int expect_r,
                    bool *truncated) {
        GArray *out = g_array_new(FALSE, FALSE, sizeof(guint));
        HistoryWalk w = {.fetch = fake_fetch,
                         .fetch_userdata = f,
                         .emit = collect,
                         .emit_userdata = out,
                         .limit = limit,
                         .page_size = page_size,
                         .stream = stream};

        g_assert_cmpint(history_walk(&w), ==, expect_r);
        if (truncated)
                *truncated = w.truncated;
        return out;
}

static void assert_ids(GArray *out, guint first, guint n) {
        g_assert_cmpuint(out->len, ==, n);
        for (guint i = 0; i < n; i++)
                g_assert_cmpuint(g_array_index(out, guint, i), ==, first + i);
}

static void test_walk_all(void) {
        const guint sizes[] = {0, 1, 4, 5, 6, 10, 23, 2500};

        for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++)
                for (int stream = 0; stream < 2; stream++) {
                        uint32_t page = sizes[i] > 1000 ? HISTORY_PAGE_MAX : 5;
                        g_autoptr(GArray) out = NULL;
                        bool truncated = true;
                        Fake f;

                        fake_init(&f, sizes[i]);
                        out = walk(&f, 0, page, stream, 0, &truncated);
                        assert_ids(out, 0, sizes[i]);
                        g_assert_false(truncated);
                        /* Collecting reads each page once (plus an empty one when the last was
                         * full); streaming reads all but the oldest twice. */
                        guint pages = sizes[i] / page + 1;
                        g_assert_cmpuint(f.calls, ==, stream ? 2 * pages - 1 : pages);
                        g_array_unref(f.ids);
                }
}

static void test_walk_limit(void) {
        const struct {
                guint n;
                uint64_t limit;
                uint32_t page;
        } cases[] = {{23, 12, 5},  {23, 10, 5}, {23, 1, 5},        {23, 23, 5},
                     {23, 100, 5}, {0, 3, 5},   {2500, 1500, 1000}};

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
                for (int stream = 0; stream < 2; stream++) {
                        g_autoptr(GArray) out = NULL;
                        guint want = (guint)MIN((uint64_t)cases[i].n, cases[i].limit);
                        Fake f;

                        fake_init(&f, cases[i].n);
                        out = walk(&f, cases[i].limit, cases[i].page, stream, 0, NULL);
                        /* The newest LIMIT, oldest first. */
                        assert_ids(out, cases[i].n - want, want);
                        g_array_unref(f.ids);
                }
}

/* Jobs that end while a stream walks are left out; jobs that age out are not printed twice. */
static void test_walk_changes(void) {
        g_autoptr(GArray) grown = NULL, shrunk = NULL;
        Fake f;

        fake_init(&f, 23);
        f.grow_at = 2;
        grown = walk(&f, 0, 5, true, 0, NULL);
        assert_ids(grown, 0, 23);
        g_array_unref(f.ids);

        /* The walk back takes 5 calls; on the first read again, the 3 oldest are gone. */
        fake_init(&f, 23);
        f.shrink_at = 6;
        shrunk = walk(&f, 0, 5, true, 0, NULL);
        for (guint i = 1; i < shrunk->len; i++)
                g_assert_cmpuint(g_array_index(shrunk, guint, i - 1), <, g_array_index(shrunk, guint, i));
        g_assert_cmpuint(g_array_index(shrunk, guint, shrunk->len - 1), ==, 22);
        g_array_unref(f.ids);
}

static void test_walk_old_daemon(void) {
        g_autoptr(GArray) all = NULL, page = NULL;
        bool truncated;
        Fake f;

        /* Everything fits in one page: nothing is lost. */
        fake_init(&f, 4);
        f.no_cursor = true;
        all = walk(&f, 0, 5, true, 0, &truncated);
        assert_ids(all, 0, 4);
        g_assert_false(truncated);
        g_array_unref(f.ids);

        /* A full page without cursors: no way back; said so. */
        fake_init(&f, 23);
        f.no_cursor = true;
        page = walk(&f, 0, 5, false, 0, &truncated);
        assert_ids(page, 18, 5);
        g_assert_true(truncated);
        g_assert_cmpuint(f.calls, ==, 1);
        g_array_unref(f.ids);
}

static int fail_emit(json_object *entry, void *userdata) {
        return -EIO;
}

static void test_walk_errors(void) {
        g_autoptr(GArray) a = NULL, b = NULL;
        HistoryWalk w;
        Fake f;

        fake_init(&f, 23);
        f.broken_order = true;
        a = walk(&f, 0, 5, false, -EPROTO, NULL);
        g_array_unref(f.ids);

        fake_init(&f, 23);
        f.oversize = true;
        b = walk(&f, 0, 5, true, -EBADMSG, NULL);
        g_array_unref(f.ids);

        fake_init(&f, 3);
        w = (HistoryWalk){.fetch = fake_fetch, .fetch_userdata = &f, .emit = fail_emit, .page_size = 5};
        g_assert_cmpint(history_walk(&w), ==, -EIO);
        w.page_size = 0;
        g_assert_cmpint(history_walk(&w), ==, -EINVAL);
        w.page_size = HISTORY_PAGE_MAX + 1;
        g_assert_cmpint(history_walk(&w), ==, -EINVAL);
        g_array_unref(f.ids);
}

static char *capture(int (*fn)(FILE *, const void *), const void *arg) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        g_assert_nonnull(f);
        g_assert_cmpint(fn(f, arg), ==, 0);
        g_assert_cmpint(fclose(f), ==, 0);
        return buf;
}

static int write_field(FILE *f, const void *s) {
        return csv_write_field(f, s);
}

static void test_csv_field(void) {
        const char *const cases[][2] = {
                {"plain", "plain"},
                {"", ""},
                {"a,b", "\"a,b\""},
                {"say \"hi\"", "\"say \"\"hi\"\"\""},
                {"line 1\nline 2", "\"line 1\nline 2\""},
                {"cr\r", "\"cr\r\""},
                {" spaces stay ", " spaces stay "},
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *out = capture(write_field, cases[i][0]);
                g_assert_cmpstr(out, ==, cases[i][1]);
        }
}

static int write_rows(FILE *f, const void *entries) {
        int r = history_csv_header(f, (char *[]){"boards", "macs", NULL});

        for (size_t i = 0; r >= 0 && i < json_object_array_length((json_object *)entries); i++)
                r = history_csv_row(f, json_object_array_get_idx((json_object *)entries, i),
                                    (char *[]){"boards", "macs", NULL});
        return r;
}

static void test_csv_rows(void) {
        static const char entries_json[] =
                "[{\"id\": 7, \"result\": \"failed\", \"error\": \"Erase failed at 0x08020000, "
                "\\\"status\\\" "
                "errERASE\\r\\nretry\", \"port\": \"1-1.2\", \"serial\": \"A,B\", \"station\": \"bench "
                "\\\"A\\\"\", "
                "\"target\": \"port=1-1.2\", \"image-sha256\": \""
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,"
                "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\", \"submit-time\": "
                "1767225600000000, \"start-time\": 1767225601500000, \"end-time\": 1767225662250000, "
                "\"duration-usec\": 60750000, \"bytes\": 131072, \"dropped-segments\": 1, \"interrupted\": "
                "true, "
                "\"rule\": 3, \"cursor\": 99, \"values\": [[\"boards\", \"1000\"], [\"macs\", "
                "\"02:80:E1:00:00:01\"]]},"
                " {\"id\": 8, \"result\": \"done\", \"end-time\": 1767225700000000}]";
        g_autoptr(json_object) entries = json_tokener_parse(entries_json);
        g_autofree char *csv = NULL, *path = NULL, *out = NULL, *err = NULL, *expect_header = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(json_object) parsed = NULL;
        json_object *row0, *row1;
        int fd, status;

        g_assert_nonnull(entries);
        csv = capture(write_rows, entries);
        expect_header =
                g_strdup("id,result,error,port,serial,station,target,image-sha256,submit-time,"
                         "start-time,end-time,duration-usec,bytes,dropped-segments,interrupted,rule,"
                         "submit-time-usec,start-time-usec,end-time-usec,trust,protection,values,origin,"
                         "value-boards,value-macs\r\n");
        g_assert_true(g_str_has_prefix(csv, expect_header));
        g_assert_true(g_str_has_suffix(csv, "\r\n"));
        /* The second row: absent keys are empty fields. */
        g_assert_nonnull(
                strstr(csv, "\r\n8,done,,,,,,,,,2026-01-01T00:01:40Z,,,,,,,,1767225700000000,,,,,,\r\n"));

        /* Read back as a CSV consumer does: Python's csv module, RFC 4180's dialect. */
        fd = g_file_open_tmp("history-XXXXXX.csv", &path, &error);
        g_assert_no_error(error);
        close(fd);
        g_assert_true(g_file_set_contents(path, csv, -1, &error));
        g_assert_true(
                g_spawn_sync(NULL,
                             (char *[]){"python3", "-c",
                                        "import csv, json, sys\n"
                                        "with open(sys.argv[1], newline='') as f:\n"
                                        "    print(json.dumps(list(csv.DictReader(f, strict=True))))\n",
                                        path, NULL},
                             NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, &error));
        g_assert_no_error(error);
        g_test_message("%s%s", out, err);
        g_assert_cmpint(status, ==, 0);
        (void)unlink(path);
        parsed = json_tokener_parse(out);
        g_assert_nonnull(parsed);
        g_assert_cmpuint(json_object_array_length(parsed), ==, 2);
        row0 = json_object_array_get_idx(parsed, 0);
        row1 = json_object_array_get_idx(parsed, 1);
#define FIELD(row, key) json_object_get_string(json_object_object_get((row), (key)))
        g_assert_cmpstr(FIELD(row0, "id"), ==, "7");
        g_assert_cmpstr(FIELD(row0, "error"), ==,
                        "Erase failed at 0x08020000, \"status\" errERASE\r\nretry");
        g_assert_cmpstr(FIELD(row0, "serial"), ==, "A,B");
        g_assert_cmpstr(FIELD(row0, "station"), ==, "bench \"A\"");
        g_assert_cmpstr(FIELD(row0, "image-sha256"), ==,
                        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,"
                        "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
        g_assert_cmpstr(FIELD(row0, "submit-time"), ==, "2026-01-01T00:00:00Z");
        g_assert_cmpstr(FIELD(row0, "start-time"), ==, "2026-01-01T00:00:01Z");
        g_assert_cmpstr(FIELD(row0, "end-time"), ==, "2026-01-01T00:01:02Z");
        g_assert_cmpstr(FIELD(row0, "end-time-usec"), ==, "1767225662250000");
        g_assert_cmpstr(FIELD(row0, "interrupted"), ==, "true");
        g_assert_cmpstr(FIELD(row0, "rule"), ==, "3");
        g_assert_cmpstr(FIELD(row0, "values"), ==, "boards=1000 macs=02:80:E1:00:00:01");
        g_assert_cmpstr(FIELD(row0, "value-boards"), ==, "1000");
        g_assert_cmpstr(FIELD(row0, "value-macs"), ==, "02:80:E1:00:00:01");
        g_assert_cmpstr(FIELD(row1, "value-boards"), ==, "");
        g_assert_null(json_object_object_get(row0, "cursor"));
        g_assert_cmpstr(FIELD(row1, "result"), ==, "done");
        g_assert_cmpstr(FIELD(row1, "start-time"), ==, "");
#undef FIELD
}

static int write_jsonl(FILE *f, const void *entry) {
        return history_jsonl_row(f, (json_object *)entry);
}

static void test_jsonl(void) {
        g_autoptr(json_object) e = json_tokener_parse("{\"id\": 1, \"error\": \"a\\nb/c\", \"cursor\": 10}");
        g_autoptr(json_object) back = NULL;
        g_autofree char *line = capture(write_jsonl, e);

        g_assert_true(g_str_has_suffix(line, "}\n"));
        g_assert_true(strchr(line, '\n') == line + strlen(line) - 1); /* one line */
        g_assert_null(strstr(line, "\\/"));
        back = json_tokener_parse(line);
        g_assert_true(json_object_equal(e, back));
}

static void test_arguments(void) {
        const char *const good[] = {
                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef,"
                "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        };
        const char *const bad[] = {
                "",
                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde",
                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0",
                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg",
                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef,",
                ",0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "0123456789abcdef0123456789abcdef 0123456789abcdef0123456789abcdef",
        };
        char buf[32];

        for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
                g_autofree char *norm = NULL;
                g_autofree char *lower = g_ascii_strdown(good[i], -1);

                g_assert_cmpint(history_image_normalize(good[i], &norm), ==, 0);
                g_assert_cmpstr(norm, ==, lower);
        }
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                char *norm = NULL;

                g_assert_cmpint(history_image_normalize(bad[i], &norm), ==, -EINVAL);
                g_assert_null(norm);
        }
        g_assert_true(history_result_is_valid("done"));
        g_assert_true(history_result_is_valid("failed"));
        g_assert_true(history_result_is_valid("cancelled"));
        g_assert_false(history_result_is_valid("canceled"));
        g_assert_false(history_result_is_valid("running"));
        g_assert_false(history_result_is_valid(""));
        g_assert_cmpint(history_format_from_string("table"), ==, HISTORY_FORMAT_TABLE);
        g_assert_cmpint(history_format_from_string("csv"), ==, HISTORY_FORMAT_CSV);
        g_assert_cmpint(history_format_from_string("jsonl"), ==, HISTORY_FORMAT_JSONL);
        g_assert_cmpint(history_format_from_string("json"), ==, _HISTORY_FORMAT_INVALID);
        format_iso8601_utc(buf, 1767225600999999);
        g_assert_cmpstr(buf, ==, "2026-01-01T00:00:00Z");
        format_iso8601_utc(buf, 0);
        g_assert_cmpstr(buf, ==, "");
}

static void test_globs(void) {
        const char *const good[] = {"1-*",
                                    "1-1.?",
                                    "[abc]",
                                    "[!a]*",
                                    "[^a]",
                                    "[]]",
                                    "[]a]",
                                    "[!]]",
                                    "[[:digit:]]x",
                                    "[[:alpha:][:digit:]_]",
                                    "\\[",
                                    "a\\*",
                                    "[a\\]]",
                                    "",
                                    "[[.a.]]",
                                    "[[=a=]]",
                                    "a]"};
        const char *const bad[] = {"[",          "1-[",        "abc[0-9",   "[!",  "[]",   "[!]",
                                   "[[:digit:]", "[[:digit:]", "[[:foo:]]", "a\\", "[[.a]"};
        const char *why;

        for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
                why = NULL;
                if (glob_pattern_check(good[i], &why) != 0)
                        g_error("\"%s\" refused: %s", good[i], why);
        }
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                why = NULL;
                if (glob_pattern_check(bad[i], &why) != -EINVAL)
                        g_error("\"%s\" accepted", bad[i]);
                g_assert_nonnull(why);
        }
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/client-units/history/walk-all", test_walk_all);
        g_test_add_func("/client-units/history/walk-limit", test_walk_limit);
        g_test_add_func("/client-units/history/walk-changes", test_walk_changes);
        g_test_add_func("/client-units/history/walk-old-daemon", test_walk_old_daemon);
        g_test_add_func("/client-units/history/walk-errors", test_walk_errors);
        g_test_add_func("/client-units/history/csv-field", test_csv_field);
        g_test_add_func("/client-units/history/csv-rows", test_csv_rows);
        g_test_add_func("/client-units/history/jsonl", test_jsonl);
        g_test_add_func("/client-units/history/arguments", test_arguments);
        g_test_add_func("/client-units/globs", test_globs);
        return test_run();
}
