/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dfusctl sequence and --patch against the real dfusd on simulated boards: the verbs, their JSON, the
 * values in flash's output and in the history, and the argument checks. */
#include <string.h>

#include "ctl.h"
#include "test-main.h"

#define FLASH_BASE 0x08000000u

static void test_sequences(Integ *t, gconstpointer data) {
        g_autofree char *image = ctl_image(t, "app.hex", 4096, false, 3);
        g_autofree char *list =
                integ_write_file(t, "macs.txt", "# batch 7\n02:80:E1:00:00:01\n\n02:80:E1:00:00:02\n", 47);
        g_auto(CtlResult) r = {};
        g_autoptr(json_object) doc = NULL;

        integ_start(t, &(IntegRun){.boards = 2});
        integ_wait_devices(t, 2, 10);
        g_assert_cmpint(
                ctl_run(t, &r, "sequence", "add", "serial", "--start", "0x100", "--last", "0x101", NULL), ==,
                0);
        g_assert_cmpstr(r.out, ==, "/org/dfusd/Flash1/sequence/serial\n");
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "sequence", "add", "mac-list", "--list", list, "--json", NULL), ==,
                        0);
        doc = ctl_json(&r);
        g_assert_cmpstr(jstr(doc, "Kind"), ==, "list");
        g_assert_cmpuint(json_object_get_uint64(jget(doc, "Left")), ==, 2);
        g_clear_pointer(&doc, json_object_put);
        ctl_result_clear(&r);

        /* Bad arguments: told before anything is sent. */
        g_assert_cmpint(ctl_run(t, &r, "sequence", "add", "x", NULL), ==, 2);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "sequence", "add", "a.b", "--start", "1", NULL), !=, 0);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "flash", image, "--patch", "0x08000100:u33le:serial", NULL), ==, 2);
        g_assert_nonnull(strstr(r.err, "u33le"));
        ctl_result_clear(&r);
        /* A patch in RAM is a rejected image. */
        g_assert_cmpint(
                ctl_run(t, &r, "flash", image, "--port", "1-1", "--patch", "0x20000000:u32le:serial", NULL),
                ==, 1);
        g_assert_nonnull(strstr(r.err, "RAM"));
        ctl_result_clear(&r);

        g_assert_cmpint(ctl_run(t, &r, "flash", image, "--all", "--no-leave", "--patch",
                                "0x08000100:u32le:serial", "--patch", "0x08000200:mac:mac-list", NULL),
                        ==, 0);
        g_assert_nonnull(strstr(r.out, "serial=256 mac-list=02:80:E1:00:00:01"));
        g_assert_nonnull(strstr(r.out, "serial=257 mac-list=02:80:E1:00:00:02"));
        ctl_result_clear(&r);

        g_assert_cmpint(ctl_run(t, &r, "sequence", "list", "--no-legend", NULL), ==, 0);
        g_assert_nonnull(strstr(r.out, "mac-list"));
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "sequence", "show", "serial", "--json", NULL), ==, 0);
        doc = ctl_json(&r);
        g_assert_cmpuint(json_object_get_uint64(jget(doc, "Used")), ==, 2);
        g_assert_cmpuint(json_object_get_uint64(jget(doc, "Left")), ==, 0);
        g_clear_pointer(&doc, json_object_put);
        ctl_result_clear(&r);

        /* Exhausted: the job fails with the sequence's name. */
        g_assert_cmpint(
                ctl_run(t, &r, "flash", image, "--port", "1-1", "--patch", "0x08000100:u32le:serial", NULL),
                ==, 5);
        g_assert_nonnull(strstr(r.out, "Sequence serial is exhausted."));
        ctl_result_clear(&r);

        g_assert_cmpint(ctl_run(t, &r, "history", "--value", "257", "--json", NULL), ==, 0);
        doc = ctl_json(&r);
        g_assert_cmpuint(json_object_array_length(jget(doc, "entries")), ==, 1);
        g_clear_pointer(&doc, json_object_put);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "history", "--value", "257", "--format", "csv", "--no-legend", NULL),
                        ==, 0);
        /* values, origin (dfusctl sends none), then one column per sequence */
        g_assert_nonnull(strstr(r.out, ",serial=257 mac-list=02:80:E1:00:00:02,,02:80:E1:00:00:02,257\r\n"));
        ctl_result_clear(&r);

        g_assert_cmpint(ctl_run(t, &r, "sequence", "remove", "serial", NULL), ==, 0);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "sequence", "show", "serial", NULL), !=, 0);
        ctl_result_clear(&r);
        integ_stop(t);
}

/* A count of `sequence show NAME --json`. */
static uint64_t seq_count(Integ *t, const char *name, const char *key) {
        g_auto(CtlResult) r = {};
        g_autoptr(json_object) doc = NULL;

        g_assert_cmpint(ctl_run(t, &r, "sequence", "show", name, "--json", NULL), ==, 0);
        doc = ctl_json(&r);
        return json_object_get_uint64(jget(doc, key));
}

/* The last error of the only board, as devices --json shows it, with the job it names. */
static char *last_error(Integ *t) {
        g_auto(CtlResult) r = {};
        g_autoptr(json_object) doc = NULL;
        json_object *d;

        g_assert_cmpint(ctl_run(t, &r, "devices", "--json", NULL), ==, 0);
        doc = ctl_json(&r);
        d = json_object_array_get_idx(jget(doc, "devices"), 0);
        return g_strdup_printf("%s%s%s", jstr(d, "LastError"), *jstr(d, "LastError") ? " " : "",
                               *jstr(d, "LastError") ? jstr(d, "LastJob") : "");
}

/* inspect --patch shows the value itself (a list's next line), and moves on once a board took it; a
 * board whose job found a sequence exhausted says so in devices. */
static void test_sample_and_exhausted(Integ *t, gconstpointer data) {
        g_autofree char *image = ctl_image(t, "app.hex", 4096, false, 5);
        g_autofree char *list = integ_write_file(t, "names.txt", "# names\n\nfirst\n  second  \n", 26);
        g_auto(CtlResult) r = {};
        g_autoptr(json_object) doc = NULL;

        integ_start(t, &(IntegRun){.boards = 1});
        integ_wait_devices(t, 1, 10);
        g_assert_cmpint(ctl_run(t, &r, "sequence", "add", "names", "--list", list, NULL), ==, 0);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "sequence", "add", "one", "--start", "7", "--last", "7", NULL), ==,
                        0);
        ctl_result_clear(&r);

        g_assert_cmpint(ctl_run(t, &r, "inspect", "--device", "1-1", image, "--patch",
                                "0x08000200:str:8:names", NULL),
                        ==, 0);
        g_assert_nonnull(strstr(r.out, "next: first (66 69 72 73 74 00 00 00)"));
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "flash", image, "--port", "1-1", "--no-leave", "--patch",
                                "0x08000200:str:8:names", "--patch", "0x08000100:u32le:one", NULL),
                        ==, 0);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "inspect", "--device", "1-1", image, "--patch",
                                "0x08000200:str:8:names", "--patch", "0x08000100:u32le:one", "--json", NULL),
                        ==, 0);
        doc = ctl_json(&r);
        {
                json_object *patches = jget(doc, "patches");
                g_assert_cmpuint(json_object_array_length(patches), ==, 2);
                g_assert_cmpstr(jstr(json_object_array_get_idx(patches, 0), "sample"), ==, "second");
                g_assert_cmpstr(jstr(json_object_array_get_idx(patches, 0), "sample-bytes"), ==,
                                "73 65 63 6F 6E 64 00 00");
                g_assert_cmpstr(jstr(json_object_array_get_idx(patches, 1), "sample-error"), ==,
                                "Sequence one is exhausted.");
        }
        g_clear_pointer(&doc, json_object_put);
        ctl_result_clear(&r);
        /* Nothing was taken by inspecting: the second board still gets "second". */
        g_assert_cmpuint(seq_count(t, "names", "Left"), ==, 1);

        /* The counter ran out: the job fails cleanly, takes nothing, and the board says why. */
        g_assert_cmpint(ctl_run(t, &r, "flash", image, "--port", "1-1", "--no-leave", "--patch",
                                "0x08000200:str:8:names", "--patch", "0x08000100:u32le:one", NULL),
                        ==, 5);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "devices", NULL), ==, 0);
        g_assert_nonnull(strstr(r.out, "Board 1-1, job 2: Sequence one is exhausted.\n"));
        ctl_result_clear(&r);
        g_autofree char *why = last_error(t);
        g_assert_cmpstr(why, ==, "Sequence one is exhausted. /org/dfusd/Flash1/job/2");
        g_assert_cmpuint(seq_count(t, "names", "Left"), ==, 1);

        /* A job that succeeds clears it. */
        g_assert_cmpint(ctl_run(t, &r, "flash", image, "--port", "1-1", "--no-leave", "--patch",
                                "0x08000200:str:8:names", NULL),
                        ==, 0);
        ctl_result_clear(&r);
        g_autofree char *none = last_error(t);
        g_assert_cmpstr(none, ==, "");
        g_assert_cmpint(ctl_run(t, &r, "devices", NULL), ==, 0);
        g_assert_null(strstr(r.out, "Board 1-1, job"));
        ctl_result_clear(&r);

        /* dfusctl job shows what the job took. */
        g_assert_cmpint(ctl_run(t, &r, "job", "1", NULL), ==, 0);
        g_assert_nonnull(strstr(r.out, "        Values: names = first\n              : one = 7\n"));
        ctl_result_clear(&r);

        /* The history's table shows each job's values; --value finds the job and board. */
        g_assert_cmpint(ctl_run(t, &r, "history", NULL), ==, 0);
        g_assert_nonnull(strstr(r.out, "VALUES"));
        g_assert_nonnull(strstr(r.out, " names=first one=7 "));
        g_assert_nonnull(strstr(r.out, " names=second "));
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "history", "--value", "second", "--no-legend", NULL), ==, 0);
        {
                g_auto(GStrv) rows = g_strsplit(r.out, "\n", -1);
                g_assert_cmpuint(g_strv_length(rows), ==, 2); /* one row and "" */
                g_assert_nonnull(strstr(rows[0], " 3 "));
                g_assert_nonnull(strstr(rows[0], " 1-1 "));
                g_assert_nonnull(strstr(rows[0], " done "));
        }
        integ_stop(t);
}

#define SEQ_BOARDS "/org/dfusd/Flash1/sequence/boards"

/* Polls a Sequence's count until it is want (the rule's jobs run on their own). */
static void wait_count(Integ *t, const char *prop, uint64_t want) {
        uint64_t have = 0;

        for (unsigned i = 0; i < 6000; i++) {
                g_autoptr(GVariant) v = integ_get(t, SEQ_BOARDS, "org.dfusd.Flash1.Sequence", prop, NULL);
                have = v ? g_variant_get_uint64(v) : 0;
                if (have == want)
                        return;
                g_usleep(10 * 1000);
        }
        g_assert_cmpuint(have, ==, want);
}

static uint64_t history_count(Integ *t) {
        g_auto(CtlResult) r = {};
        g_autoptr(json_object) doc = NULL;

        g_assert_cmpint(ctl_run(t, &r, "history", "--json", NULL), ==, 0);
        doc = ctl_json(&r);
        return json_object_array_length(jget(doc, "entries"));
}

static uint32_t serial_on(Integ *t, const char *port) {
        g_autoptr(GBytes) dump = integ_dump(t, port);
        const uint8_t *d = g_bytes_get_data(dump, NULL);
        return d[0x100] | (uint32_t)d[0x101] << 8 | (uint32_t)d[0x102] << 16 | (uint32_t)d[0x103] << 24;
}

/* A rule whose sequence ran out stops, says why, starts no job for the boards that attach after, and
 * resumes once the sequence is added again with new values; after a restart it is stopped at once. */
static void test_rule_exhausted(Integ *t, gconstpointer data) {
        g_autofree char *image = ctl_image(t, "app.hex", 4096, false, 7);
        g_auto(CtlResult) r = {};
        g_autoptr(json_object) doc = NULL;

        integ_start(t, &(IntegRun){.boards = 0});
        g_assert_cmpint(ctl_run(t, &r, "sequence", "add", "boards", "--start", "500", "--last", "501", NULL),
                        ==, 0);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "rule", "add", image, "--match", "port=1-*", "--patch",
                                "0x08000100:u32le:boards", NULL),
                        ==, 0);
        ctl_result_clear(&r);
        integ_sim_step(t, "plug 1-1");
        wait_count(t, "Used", 1);
        integ_sim_step(t, "plug 1-2");
        wait_count(t, "Used", 2);
        g_assert_cmpuint(history_count(t), ==, 2);

        /* The third board gets no job: the rule stopped when it attached, and says why. */
        integ_sim_step(t, "plug 1-3");
        integ_wait_device(t, "1-3", true, 20);
        g_assert_cmpint(ctl_run(t, &r, "rule", "list", NULL), ==, 0);
        g_assert_nonnull(strstr(r.out, "Rule 1 is stopped: Sequence boards is exhausted.\n"));
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "rule", "list", "--json", NULL), ==, 0);
        doc = ctl_json(&r);
        g_assert_cmpstr(jstr(json_object_array_get_idx(jget(doc, "rules"), 0), "Stopped"), ==,
                        "Sequence boards is exhausted.");
        g_clear_pointer(&doc, json_object_put);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "devices", "--json", NULL), ==, 0);
        g_assert_null(strstr(r.out, "/org/dfusd/Flash1/job/3"));
        ctl_result_clear(&r);
        g_assert_cmpuint(history_count(t), ==, 2);

        /* Only the stopped rule uses it: the sequence may go, and come back with new values. */
        g_assert_cmpint(ctl_run(t, &r, "sequence", "remove", "boards", NULL), ==, 0);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "sequence", "add", "boards", "--start", "600", "--last", "600", NULL),
                        ==, 0);
        ctl_result_clear(&r);
        /* The rule resumed and flashed the board that waited. */
        wait_count(t, "Used", 1);
        g_assert_cmpint(ctl_run(t, &r, "rule", "list", "--json", NULL), ==, 0);
        doc = ctl_json(&r);
        g_assert_cmpstr(jstr(json_object_array_get_idx(jget(doc, "rules"), 0), "Stopped"), ==, "");
        g_clear_pointer(&doc, json_object_put);
        ctl_result_clear(&r);
        g_assert_cmpuint(history_count(t), ==, 3);
        integ_stop(t);
        g_assert_cmpuint(serial_on(t, "1-1") + serial_on(t, "1-2"), ==, 500 + 501);
        g_assert_cmpuint(serial_on(t, "1-3"), ==, 600);

        /* At start, a rule whose sequence has nothing left is stopped before any board gets a job. */
        integ_start(t, &(IntegRun){.boards = 4});
        integ_wait_devices(t, 4, 20);
        g_assert_cmpint(ctl_run(t, &r, "rule", "list", NULL), ==, 0);
        g_assert_nonnull(strstr(r.out, "Rule 1 is stopped: Sequence boards is exhausted.\n"));
        ctl_result_clear(&r);
        g_assert_cmpuint(history_count(t), ==, 3);

        /* Removed while the rule waits, across a restart: the rule says so, and resumes when it is
         * added again, flashing the one board it has not flashed. */
        g_assert_cmpint(ctl_run(t, &r, "sequence", "remove", "boards", NULL), ==, 0);
        ctl_result_clear(&r);
        integ_stop(t);
        integ_start(t, &(IntegRun){.boards = 4});
        integ_wait_devices(t, 4, 20);
        g_assert_cmpint(ctl_run(t, &r, "rule", "list", NULL), ==, 0);
        g_assert_nonnull(
                strstr(r.out, "Rule 1 is stopped: Sequence boards no longer exists; add it again.\n"));
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "sequence", "add", "boards", "--start", "700", NULL), ==, 0);
        ctl_result_clear(&r);
        wait_count(t, "Used", 1);
        integ_stop(t);
        g_assert_cmpuint(serial_on(t, "1-4"), ==, 700);
}

/* A board pulled out mid-write spoils its value: sequence show lists it, with the job and board. */
static void test_spoiled_listed(Integ *t, gconstpointer data) {
        g_autofree char *image = ctl_image(t, "app.hex", 4096, false, 9);
        g_auto(CtlResult) r = {};
        g_autoptr(json_object) doc = NULL;
        json_object *spoiled;

        integ_start(t, &(IntegRun){.boards = 2, .script = "board 1-1 unplug phase=write after=2\n"});
        integ_wait_devices(t, 2, 10);
        g_assert_cmpint(ctl_run(t, &r, "sequence", "add", "boards", "--start", "40", NULL), ==, 0);
        ctl_result_clear(&r);
        /* Nothing spoiled yet: no list. */
        g_assert_cmpint(ctl_run(t, &r, "sequence", "show", "boards", NULL), ==, 0);
        g_assert_null(strstr(r.out, "Spoiled values"));
        ctl_result_clear(&r);
        g_assert_cmpint(
                ctl_run(t, &r, "flash", image, "--port", "1-1", "--patch", "0x08000100:u32le:boards", NULL),
                ==, 5);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "flash", image, "--port", "1-2", "--no-leave", "--patch",
                                "0x08000100:u32le:boards", NULL),
                        ==, 0);
        ctl_result_clear(&r);

        g_assert_cmpint(ctl_run(t, &r, "sequence", "show", "boards", NULL), ==, 0);
        g_assert_nonnull(strstr(r.out, "\nSpoiled values (never handed out again):\n  40  job 1 on 1-1 ("));
        g_assert_null(strstr(r.out, "  41  job"));
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "sequence", "show", "boards", "--json", NULL), ==, 0);
        doc = ctl_json(&r);
        spoiled = jget(doc, "SpoiledValues");
        g_assert_cmpuint(json_object_array_length(spoiled), ==, 1);
        g_assert_cmpstr(jstr(json_object_array_get_idx(spoiled, 0), "value"), ==, "40");
        g_assert_cmpuint(json_object_get_uint64(jget(json_object_array_get_idx(spoiled, 0), "job")), ==, 1);
        g_assert_cmpstr(jstr(json_object_array_get_idx(spoiled, 0), "port"), ==, "1-1");
        g_assert_cmpuint(json_object_get_uint64(jget(doc, "Used")), ==, 1);
        integ_stop(t);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/client/sequences", Integ, NULL, integ_setup, test_sequences, integ_teardown);
        g_test_add("/client/sequences/sample-and-exhausted", Integ, NULL, integ_setup,
                   test_sample_and_exhausted, integ_teardown);
        g_test_add("/client/sequences/spoiled-listed", Integ, NULL, integ_setup, test_spoiled_listed,
                   integ_teardown);
        g_test_add("/client/sequences/rule-exhausted", Integ, NULL, integ_setup, test_rule_exhausted,
                   integ_teardown);
        return test_run();
}
