/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kill -9 with work in hand: a job mid-erase, one queued behind it, one waiting for a board, a rule.
 * After a restart on the same state directory nothing acknowledged is lost, the jobs run to the end,
 * and the job store is whole.
 */
#include <sqlite3.h>
#include <string.h>

#include "harness.h"
#include "test-main.h"

#define FLASH_BASE 0x08000000u

static char *image(Integ *t, const char *name, size_t size, uint32_t seed, uint8_t **ret) {
        *ret = integ_pattern(size, seed);
        return integ_write_ihex(t, name, &(IntegSegment){FLASH_BASE, *ret, size}, 1);
}

static bool strv_has_path(GVariant *paths, const char *path) {
        GVariantIter it;
        const char *p;

        g_variant_iter_init(&it, paths);
        while (g_variant_iter_next(&it, "&o", &p))
                if (g_str_equal(p, path))
                        return true;
        return false;
}

/* The job store after a kill -9: a whole database (SQLite's own check), with `ended` of its jobs
 * ended and `unfinished` not. */
static void check_store(Integ *t, unsigned ended, unsigned unfinished) {
        g_autofree char *path = g_build_filename(t->state_dir, "dfusd.db", NULL);
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;

        g_assert_cmpint(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
        g_assert_cmpint(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), ==, SQLITE_OK);
        g_assert_cmpint(sqlite3_step(st), ==, SQLITE_ROW);
        g_assert_cmpstr((const char *)sqlite3_column_text(st, 0), ==, "ok");
        sqlite3_finalize(st);
        g_assert_cmpint(sqlite3_prepare_v2(db,
                                           "SELECT count(*) FILTER (WHERE end_seq IS NOT NULL), "
                                           "count(*) FILTER (WHERE end_seq IS NULL) FROM jobs",
                                           -1, &st, NULL),
                        ==, SQLITE_OK);
        g_assert_cmpint(sqlite3_step(st), ==, SQLITE_ROW);
        g_assert_cmpint(sqlite3_column_int(st, 0), ==, (int)ended);
        g_assert_cmpint(sqlite3_column_int(st, 1), ==, (int)unfinished);
        sqlite3_finalize(st);
        sqlite3_close(db);
}

static void test_kill9(Integ *t, gconstpointer data) {
        g_autofree uint8_t *img_a = NULL, *img_b = NULL, *img_c = NULL;
        g_autofree char *fa = image(t, "a.hex", 256 * 1024, 31, &img_a);
        g_autofree char *fb = image(t, "b.hex", 16 * 1024, 32, &img_b);
        g_autofree char *fc = image(t, "c.hex", 16 * 1024, 33, &img_c);
        g_autofree char *a = NULL, *b = NULL, *c = NULL, *rule = NULL, *state = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) jobs = NULL, rules = NULL;
        const char *parts[] = {"f405", NULL};

        /* slow enough (f405 erases at a fifth of datasheet time) to be killed mid-job */
        integ_start(t, &(IntegRun){.boards = 1, .parts = parts, .time_scale = "0.2"});
        integ_wait_devices(t, 1, 10);
        /* a stays in the bootloader (no leave) so that b, queued behind it, finds the board */
        a = integ_submit(t, (const char *[]){fa, NULL},
                         integ_options("port", g_variant_new_string("1-1"), "leave",
                                       g_variant_new_boolean(FALSE), NULL),
                         &error);
        g_assert_no_error(error);
        b = integ_submit(t, (const char *[]){fb, NULL},
                         integ_options("port", g_variant_new_string("1-1"), "wait",
                                       g_variant_new_boolean(TRUE), "part", g_variant_new_string("f405"),
                                       NULL),
                         &error);
        g_assert_no_error(error);
        c = integ_submit(t, (const char *[]){fc, NULL},
                         integ_options("port", g_variant_new_string("1-5"), "wait",
                                       g_variant_new_boolean(TRUE), "part", g_variant_new_string("f405"),
                                       NULL),
                         &error);
        g_assert_no_error(error);
        rule = integ_add_rule(t, (const char *[]){fc, NULL},
                              integ_options("match-port", g_variant_new_string("1-7"), NULL), &error);
        g_assert_no_error(error);
        state = integ_wait_job_state(t, a, "erasing", 30);
        g_assert_cmpstr(state, ==, "erasing");

        integ_crash(t);
        /* three acknowledged jobs, none ended: all of them must come back */
        check_store(t, 0, 3);

        integ_start(t, &(IntegRun){.boards = 1, .parts = parts});
        /* A resumed job is shown once its spooled image is read back, on a thread: that takes a
         * while for the 256 KiB one on a loaded machine or under a sanitizer. */
        for (unsigned tries = 0; tries < 300; tries++) {
                g_clear_pointer(&jobs, g_variant_unref);
                jobs = integ_get(t, DFUSD_PATH, DFUSD_MANAGER, "Jobs", &error);
                g_assert_no_error(error);
                if (g_variant_n_children(jobs) >= 3)
                        break;
                g_usleep(100 * 1000);
        }
        g_assert_true(strv_has_path(jobs, a));
        g_assert_true(strv_has_path(jobs, b));
        g_assert_true(strv_has_path(jobs, c));
        rules = integ_get(t, DFUSD_PATH, DFUSD_MANAGER, "Rules", &error);
        g_assert_no_error(error);
        g_assert_true(strv_has_path(rules, rule));
        /* the board the waiting job wants arrives after the restart: once its job is seen back */
        integ_sim_step(t, "plug 1-5 part=f405");

        for (unsigned i = 0; i < 3; i++) {
                const char *job = i == 0 ? a : i == 1 ? b : c;
                g_free(state);
                state = integ_wait_job(t, job, 120);
                g_test_message("%s: %s", job, state);
                g_assert_cmpstr(state, ==, "done");
        }
        {
                /* the history read back over the bus covers the jobs of both runs */
                g_autoptr(GVariant) h =
                        integ_call(t, DFUSD_PATH, DFUSD_MANAGER, "GetHistory",
                                   g_variant_new("(@a{sv})", integ_options(NULL, NULL)), "(aa{sv})", &error);
                g_autoptr(GVariant) entries = NULL;
                g_assert_no_error(error);
                entries = g_variant_get_child_value(h, 0);
                g_test_message("GetHistory: %zu entries", g_variant_n_children(entries));
                g_assert_cmpuint(g_variant_n_children(entries), ==, 3);
        }
        integ_stop(t);
        check_store(t, 3, 0);
        {
                /* a ran again from the start, then b (queued behind it) overwrote the first sector */
                g_autoptr(GBytes) d1 = integ_dump(t, "1-1"), d5 = integ_dump(t, "1-5");
                integ_assert_flash(d1, FLASH_BASE, FLASH_BASE, img_b, 16 * 1024);
                integ_assert_flash(d1, FLASH_BASE, FLASH_BASE + 16 * 1024, img_a + 16 * 1024, 240 * 1024);
                integ_assert_flash(d5, FLASH_BASE, FLASH_BASE, img_c, 16 * 1024);
        }
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/integ/restart/kill9", Integ, NULL, integ_setup, test_kill9, integ_teardown);
        return test_run();
}
