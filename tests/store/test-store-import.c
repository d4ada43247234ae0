/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <string.h>

#include "store-test.h"
#include "test-main.h"

/* Records exactly as the journal of earlier versions wrote them (daemon/store.c). */
static const char journal[] =
        "{\"event\":\"submit\",\"id\":1,\"time\":1000,\"owner\":1000,\"submit-time\":1000,\"target\":\"port="
        "1-1\","
        "\"options\":{\"port\":\"1-1\",\"verify\":true},\"images\":[\"aa11\",\"bb22\"]}\n"
        "{\"event\":\"start\",\"id\":1,\"time\":2000,\"port\":\"1-1\",\"serial\":\"S1\"}\n"
        "{\"event\":\"submit\",\"id\":2,\"time\":2100,\"owner\":0,\"submit-time\":2100,\"target\":\"any\","
        "\"options\":{},\"images\":[\"cc33\"],\"rule\":3}\n"
        "{\"event\":\"leave\",\"id\":1,\"time\":2900}\n"
        "{\"event\":\"end\",\"id\":1,\"time\":3000,\"result\":\"done\",\"port\":\"1-1\",\"serial\":\"S1\","
        "\"station\":\"bench\",\"target\":\"port=1-1\",\"image-sha256\":\"dd44\",\"submit-time\":1000,"
        "\"start-time\":2000,\"end-time\":3000,\"duration-usec\":1000,\"bytes\":4096,\"dropped-segments\":1,"
        "\"interrupted\":false}\n"
        "{\"event\":\"start\",\"id\":2,\"time\":3100,\"port\":\"1-2\",\"serial\":\"S2\"}\n"
        "{\"event\":\"leave\",\"id\":2,\"time\":3500}\n"
        "{\"event\":\"submit\",\"id\":4,\"time\":3600,\"owner\":1001,\"submit-time\":3600,"
        "\"options\":{\"erase\":\"mass\"},\"images\":[\"ee55\"]}\n"
        /* A second submit of job 4: refused, the first one stands. */
        "{\"event\":\"submit\",\"id\":4,\"time\":3700,\"owner\":7,\"submit-time\":3700,\"options\":{},"
        "\"images\":[]}\n"
        /* An end without a submit: a job refused before it was recorded. */
        "{\"event\":\"end\",\"id\":6,\"time\":3800,\"result\":\"failed\",\"error\":\"No board on port 9-9\","
        "\"target\":\"port=9-9\",\"submit-time\":3790,\"start-time\":0,\"end-time\":3800,\"duration-usec\":"
        "0,"
        "\"bytes\":0,\"dropped-segments\":0,\"interrupted\":false,\"rule\":3}\n"
        /* A start of a job that never had a submit. */
        "{\"event\":\"start\",\"id\":5,\"time\":3900,\"port\":\"1-5\"}\n"
        /* A second end of job 1. */
        "{\"event\":\"end\",\"id\":1,\"time\":3950,\"result\":\"failed\",\"end-time\":3950}\n"
        "not json at all\n"
        /* The torn last line of a kill -9. */
        "{\"event\":\"submit\",\"id\":8,\"time\":4000,\"owner\":1000,\"submit-ti";

static const char rules[] =
        "[{\"id\":3,\"owner\":1000,\"options\":{\"match-port\":\"1-*\",\"once\":true},\"images\":[\"cc33\"],"
        "\"flashed\":[\"1-1 S1\",\"1-2 \"]},"
        "{\"id\":2,\"owner\":0,\"options\":{},\"images\":[\"ff66\",\"0077\"],\"flashed\":[]},"
        "{\"owner\":5,\"options\":{},\"images\":[]},"
        "{\"id\":3,\"owner\":1,\"options\":{},\"images\":[]}]";

static void write_file(StoreFixture *f, const char *name, const char *text, size_t len) {
        g_autofree char *path = fixture_path(f, name);
        g_assert_true(g_file_set_contents(path, text, (gssize)len, NULL));
}

static bool exists(StoreFixture *f, const char *name) {
        g_autofree char *path = fixture_path(f, name);
        return g_file_test(path, G_FILE_TEST_EXISTS);
}

/* A line longer than any record, in the middle of the file: skipped without being kept in memory. */
static char *journal_with_long_line(size_t *ret_len) {
        size_t big = 1536 * 1024;
        GString *s = g_string_new(NULL);
        const char *cut = strstr(journal, "not json at all");

        g_string_append_len(s, journal, cut - journal);
        g_string_append(s, "{\"event\":\"submit\",\"id\":7,\"target\":\"");
        for (size_t i = 0; i < big; i++)
                g_string_append_c(s, 'x');
        g_string_append(s, "\"}\n");
        g_string_append(s, cut);
        *ret_len = s->len;
        return g_string_free(s, FALSE);
}

static void check_state(StoreFixture *f) {
        StoreState *st = f->state;

        g_assert_cmpuint(st->next_job_id, ==, 7);
        g_assert_cmpuint(st->next_rule_id, ==, 4);
        g_assert_cmpuint(st->n_jobs, ==, 2);
        g_assert_cmpuint(st->jobs[0].id, ==, 2);
        g_assert_cmpuint(st->jobs[0].owner, ==, 0);
        g_assert_cmpuint(st->jobs[0].rule_id, ==, 3);
        g_assert_cmpuint(st->jobs[0].submit_usec, ==, 2100);
        g_assert_cmpstr(st->jobs[0].target, ==, "any");
        g_assert_cmpstr(st->jobs[0].options_json, ==, "{}");
        g_assert_cmpuint(strv_length(st->jobs[0].image_hashes), ==, 1);
        g_assert_cmpstr(st->jobs[0].image_hashes[0], ==, "cc33");
        g_assert_true(st->jobs[0].started);
        g_assert_true(st->jobs[0].leave);
        g_assert_cmpuint(st->jobs[1].id, ==, 4);
        g_assert_cmpuint(st->jobs[1].owner, ==, 1001);
        g_assert_null(st->jobs[1].target);
        g_assert_cmpstr(st->jobs[1].options_json, ==, "{\"erase\":\"mass\"}");
        g_assert_cmpstr(st->jobs[1].image_hashes[0], ==, "ee55");
        g_assert_false(st->jobs[1].started);
        g_assert_false(st->jobs[1].leave);

        g_assert_cmpuint(st->n_rules, ==, 2);
        g_assert_cmpuint(st->rules[0].id, ==, 2);
        g_assert_cmpstr(st->rules[0].options_json, ==, "{}");
        g_assert_cmpuint(strv_length(st->rules[0].image_hashes), ==, 2);
        g_assert_cmpstr(st->rules[0].image_hashes[1], ==, "0077");
        g_assert_cmpuint(strv_length(st->rules[0].flashed), ==, 0);
        g_assert_cmpuint(st->rules[1].id, ==, 3);
        g_assert_cmpuint(st->rules[1].owner, ==, 1000);
        g_assert_cmpstr(st->rules[1].options_json, ==, "{\"match-port\":\"1-*\",\"once\":true}");
        g_assert_cmpuint(strv_length(st->rules[1].flashed), ==, 2);
        g_assert_cmpstr(st->rules[1].flashed[0], ==, "1-1 S1");
        g_assert_cmpstr(st->rules[1].flashed[1], ==, "1-2 ");
}

static void check_history(StoreFixture *f) {
        g_autoptr(StoreHistory) h = NULL;

        history_query(f, NULL, &h);
        g_assert_cmpuint(h->n, ==, 2);
        g_assert_false(h->more);
        StoreHistoryEntry *a = &h->entries[0], *b = &h->entries[1];
        g_assert_cmpuint(a->cursor, ==, 1);
        g_assert_cmpuint(a->id, ==, 1);
        g_assert_cmpstr(a->result, ==, "done");
        g_assert_cmpstr(a->port, ==, "1-1");
        g_assert_cmpstr(a->serial, ==, "S1");
        g_assert_cmpstr(a->station, ==, "bench");
        g_assert_cmpstr(a->image_sha256, ==, "dd44");
        g_assert_cmpuint(a->submit_usec, ==, 1000);
        g_assert_cmpuint(a->start_usec, ==, 2000);
        g_assert_cmpuint(a->end_usec, ==, 3000);
        g_assert_cmpuint(a->duration_usec, ==, 1000);
        g_assert_cmpuint(a->bytes, ==, 4096);
        g_assert_cmpuint(a->dropped_segments, ==, 1);
        g_assert_false(a->interrupted);
        g_assert_cmpuint(b->cursor, ==, 2);
        g_assert_cmpuint(b->id, ==, 6);
        g_assert_cmpuint(b->rule_id, ==, 3);
        g_assert_cmpstr(b->result, ==, "failed");
        g_assert_cmpstr(b->error, ==, "No board on port 9-9");
        g_assert_null(b->port);
        g_assert_null(b->serial);
        g_assert_cmpstr(b->target, ==, "port=9-9");
        g_assert_cmpuint(b->end_usec, ==, 3800);
        g_assert_cmpuint(b->duration_usec, ==, 0);
}

static void test_import(void) {
        g_autofree char *text = NULL;
        StoreFixture f;
        size_t len;

        fixture_init(&f);
        text = journal_with_long_line(&len);
        write_file(&f, "jobs.jsonl", text, len);
        write_file(&f, "rules.json", rules, strlen(rules));
        fixture_open(&f);
        /* Jobs 1, 2, 4 and 6. */
        g_assert_cmpuint(f.state->imported_jobs, ==, 4);
        g_assert_cmpuint(f.state->imported_rules, ==, 2);
        /* Journal: the long line, the second submit, the start without submit, the second end, the
         * line that is not JSON, the torn line. Rules: the one without id, the second id 3. */
        g_assert_cmpuint(f.state->import_skipped_lines, ==, 8);
        check_state(&f);
        check_history(&f);
        g_assert_false(exists(&f, "jobs.jsonl"));
        g_assert_false(exists(&f, "rules.json"));
        g_assert_true(exists(&f, "jobs.jsonl.imported"));
        g_assert_true(exists(&f, "rules.json.imported"));

        /* Imported once: the next start reads the database only. */
        fixture_close(&f);
        fixture_open(&f);
        g_assert_cmpuint(f.state->imported_jobs, ==, 0);
        g_assert_cmpuint(f.state->imported_rules, ==, 0);
        g_assert_cmpuint(f.state->import_skipped_lines, ==, 0);
        check_state(&f);
        check_history(&f);
        fixture_done(&f);
}

/* A crash between the commit and the rename imports the file again: nothing changes. */
static void test_import_again(void) {
        g_autofree char *imported = NULL, *path = NULL;
        StoreFixture f;

        fixture_init(&f);
        write_file(&f, "jobs.jsonl", journal, strlen(journal));
        fixture_open(&f);
        g_assert_cmpuint(f.state->imported_jobs, ==, 4);
        g_assert_cmpuint(f.state->import_skipped_lines, ==, 5);
        fixture_close(&f);
        imported = fixture_path(&f, "jobs.jsonl.imported");
        path = fixture_path(&f, "jobs.jsonl");
        g_assert_cmpint(rename(imported, path), ==, 0);
        fixture_open(&f);
        g_assert_cmpuint(f.state->imported_jobs, ==, 0);
        /* 14 lines: only the start and leave of job 2, still unfinished, apply again (the same values). */
        g_assert_cmpuint(f.state->import_skipped_lines, ==, 12);
        g_assert_cmpuint(f.state->n_jobs, ==, 2);
        g_assert_cmpuint(f.state->next_job_id, ==, 7);
        check_history(&f);
        fixture_done(&f);
}

static void test_import_bad_rules(void) {
        _cleanup_free_ char *error = NULL;
        StoreFixture f;
        Store *s = NULL;
        StoreState *st = NULL;

        fixture_init(&f);
        write_file(&f, "rules.json", "{\"id\":1}", 8);
        g_assert_cmpint(store_open(f.dir, f.event, &s, &st, &error), ==, -EBADMSG);
        g_assert_null(s);
        g_assert_null(st);
        g_autofree char *expected =
                g_strdup_printf("%s/rules.json: failed to import a JSON array of rules: Bad message", f.dir);
        g_assert_cmpstr(error, ==, expected);
        /* Left in place for someone to look at. */
        g_assert_true(exists(&f, "rules.json"));
        fixture_done(&f);
}

static void test_rules(void) {
        StoreFixture f;
        DoneLog log = {};
        char *images[] = {"aa", NULL}, *flashed[] = {"1-1 X", NULL};

        fixture_init(&f);
        fixture_open(&f);
        StoreRule r1 = {.id = 1, .owner = 5, .options_json = "{\"once\":true}", .image_hashes = images};
        StoreRule r2 = {.id = 2, .image_hashes = images, .flashed = flashed};
        DoneEntry e[6];
        for (size_t i = 0; i < G_N_ELEMENTS(e); i++)
                e[i] = (DoneEntry){.log = &log, .tag = i};
        /* done_log frees its entry: hand it copies. */
        g_assert_cmpint(store_rule_add(f.store, &r1, done_log, g_memdup2(&e[0], sizeof(e[0]))), ==, 0);
        g_assert_cmpint(store_rule_add(f.store, &r2, done_log, g_memdup2(&e[1], sizeof(e[0]))), ==, 0);
        g_assert_cmpint(store_rule_flashed(f.store, 1, "1-3 S3", done_log, g_memdup2(&e[2], sizeof(e[0]))),
                        ==, 0);
        g_assert_cmpint(store_rule_flashed(f.store, 1, "1-3 S3", done_log, g_memdup2(&e[3], sizeof(e[0]))),
                        ==, 0);
        g_assert_cmpint(store_rule_flashed(f.store, 1, "1-4 ", done_log, g_memdup2(&e[4], sizeof(e[0]))), ==,
                        0);
        g_assert_cmpint(store_rule_remove(f.store, 2, done_log, g_memdup2(&e[5], sizeof(e[0]))), ==, 0);
        wait_done(&f, &log, 6);
        for (size_t i = 0; i < 6; i++)
                g_assert_cmpint(log.results[i], ==, 0);
        fixture_close(&f);
        fixture_open(&f);
        g_assert_cmpuint(f.state->n_rules, ==, 1);
        g_assert_cmpuint(f.state->rules[0].id, ==, 1);
        g_assert_cmpuint(f.state->rules[0].owner, ==, 5);
        g_assert_cmpstr(f.state->rules[0].options_json, ==, "{\"once\":true}");
        g_assert_cmpuint(strv_length(f.state->rules[0].flashed), ==, 2);
        g_assert_cmpstr(f.state->rules[0].flashed[0], ==, "1-3 S3");
        g_assert_cmpstr(f.state->rules[0].flashed[1], ==, "1-4 ");
        /* Rule 2 is gone, its id is not reused. */
        g_assert_cmpuint(f.state->next_rule_id, ==, 3);
        fixture_done(&f);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/store/import", test_import);
        g_test_add_func("/store/import-again", test_import_again);
        g_test_add_func("/store/import-bad-rules", test_import_bad_rules);
        g_test_add_func("/store/rules", test_rules);
        return test_run();
}
