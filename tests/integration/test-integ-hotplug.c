/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Boards that come and go: waiting jobs, auto-flash rules, a cable pulled mid-write. */
#include <string.h>

#include "harness.h"

#define FLASH_BASE 0x08000000u

static char *device_path(Integ *t, const char *port) {
        g_autoptr(GVariant) devices = integ_get(t, DFUSD_PATH, DFUSD_MANAGER, "Devices", NULL);
        GVariantIter it;
        const char *path;

        g_assert_nonnull(devices);
        g_variant_iter_init(&it, devices);
        while (g_variant_iter_next(&it, "&o", &path)) {
                /* a board may leave between the two calls */
                g_autoptr(GVariant) p = integ_get(t, path, DFUSD_DEVICE, "PortPath", NULL);
                if (p && g_str_equal(g_variant_get_string(p, NULL), port))
                        return g_strdup(path);
        }
        return NULL;
}

static void wait_device(Integ *t, const char *port, bool present, unsigned timeout_sec) {
        for (unsigned i = 0; i < timeout_sec * 100; i++) {
                g_autofree char *p = device_path(t, port);
                if ((p != NULL) == present)
                        return;
                g_usleep(10 * 1000);
        }
        g_error("board %s still %s after %u s", port, present ? "absent" : "present", timeout_sec);
}

static void test_wait_for_plug(Integ *t, gconstpointer data) {
        g_autofree uint8_t *img = integ_pattern(8192, 21);
        g_autofree char *file = integ_write_ihex(t, "app.hex", &(IntegSegment){FLASH_BASE, img, 8192}, 1);
        g_autofree char *job = NULL, *state = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) dump = NULL;

        /* the board at 1-3 appears 3 s after dfusd starts, well after the job is queued */
        integ_start(t, &(IntegRun){.boards = 1, .script = "at 3 plug 1-3 part=f405\n"});
        job = integ_submit(t, (const char *[]){file, NULL},
                           integ_options("port", g_variant_new_string("1-3"), "wait",
                                         g_variant_new_boolean(TRUE), "part", g_variant_new_string("f405"),
                                         NULL),
                           &error);
        g_assert_no_error(error);
        state = integ_get_string(t, job, DFUSD_JOB, "State");
        g_assert_cmpstr(state, ==, "waiting");
        g_free(state);
        state = integ_wait_job(t, job, 60);
        g_assert_cmpstr(state, ==, "done");
        integ_stop(t);
        dump = integ_dump(t, "1-3");
        integ_assert_flash(dump, FLASH_BASE, FLASH_BASE, img, 8192);
}

static void test_unplug_mid_write(Integ *t, gconstpointer data) {
        enum { SIZE = 64 * 1024 };
        g_autofree uint8_t *img = integ_pattern(SIZE, 22);
        g_autofree char *file = integ_write_ihex(t, "app.hex", &(IntegSegment){FLASH_BASE, img, SIZE}, 1);
        g_autofree char *ok = NULL, *bad = NULL, *state = NULL, *message = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) dump = NULL;

        /* 1-2 drops off the bus at its tenth write request */
        integ_start(t, &(IntegRun){.boards = 2, .script = "board 1-2 unplug phase=write after=10\n"});
        integ_wait_devices(t, 2, 10);
        ok = integ_submit(t, (const char *[]){file, NULL},
                          integ_options("port", g_variant_new_string("1-1"), NULL), &error);
        g_assert_no_error(error);
        bad = integ_submit(t, (const char *[]){file, NULL},
                           integ_options("port", g_variant_new_string("1-2"), NULL), &error);
        g_assert_no_error(error);

        state = integ_wait_job(t, bad, 60);
        g_assert_cmpstr(state, ==, "failed");
        message = integ_get_string(t, bad, DFUSD_JOB, "Error");
        g_test_message("the unplugged board's job: %s", message);
        g_assert_cmpstr(message, !=, "");
        g_free(state);
        state = integ_wait_job(t, ok, 60);
        g_assert_cmpstr(state, ==, "done");

        integ_stop(t);
        dump = integ_dump(t, "1-1");
        integ_assert_flash(dump, FLASH_BASE, FLASH_BASE, img, SIZE);
}

/*
 * Two jobs for one board: the first ends with a leave, so the board is gone (its application runs)
 * until it comes back in DFU mode. The second job waits for that instead of starting on the board
 * that is leaving.
 */
static void test_queued_behind_leave(Integ *t, gconstpointer data) {
        g_autofree uint8_t *img_a = integ_pattern(16384, 24), *img_b = integ_pattern(8192, 25);
        g_autofree char *fa = integ_write_ihex(t, "a.hex", &(IntegSegment){FLASH_BASE, img_a, 16384}, 1);
        g_autofree char *fb = integ_write_ihex(t, "b.hex", &(IntegSegment){FLASH_BASE, img_b, 8192}, 1);
        g_autofree char *a = NULL, *b = NULL, *state = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) dump = NULL;

        integ_start(t, &(IntegRun){.boards = 1,
                                   .parts = (const char *[]){"f405", NULL},
                                   .script = "at 4 plug 1-1\n"});
        integ_wait_devices(t, 1, 10);
        a = integ_submit(t, (const char *[]){fa, NULL},
                         integ_options("port", g_variant_new_string("1-1"), NULL), &error);
        g_assert_no_error(error);
        b = integ_submit(t, (const char *[]){fb, NULL},
                         integ_options("port", g_variant_new_string("1-1"), "wait",
                                       g_variant_new_boolean(TRUE), "part", g_variant_new_string("f405"),
                                       NULL),
                         &error);
        g_assert_no_error(error);
        state = integ_wait_job(t, a, 60);
        g_assert_cmpstr(state, ==, "done");
        g_free(state);
        state = integ_wait_job(t, b, 60);
        if (!g_str_equal(state, "done")) {
                g_autofree char *message = integ_get_string(t, b, DFUSD_JOB, "Error");
                g_error("the job queued behind a leave ended %s: %s", state, message);
        }
        integ_stop(t);
        dump = integ_dump(t, "1-1");
        integ_assert_flash(dump, FLASH_BASE, FLASH_BASE, img_b, 8192);
        integ_assert_blank(dump, FLASH_BASE, FLASH_BASE + 8192, 8192);
}

static guint rule_boards_flashed(Integ *t, const char *rule) {
        g_autoptr(GVariant) v = integ_get(t, rule, DFUSD_RULE, "BoardsFlashed", NULL);
        g_assert_nonnull(v);
        return (guint)g_variant_n_children(v);
}

static guint n_jobs(Integ *t) {
        g_autoptr(GVariant) v = integ_get(t, DFUSD_PATH, DFUSD_MANAGER, "Jobs", NULL);
        g_assert_nonnull(v);
        return (guint)g_variant_n_children(v);
}

/*
 * A rule flashes 1-3 and 1-4 as they attach; each board leaves for its application after the job.
 * 1-3 then comes back (its application reset it into the bootloader): once=true means no second job.
 */
static void test_rule(Integ *t, gconstpointer data) {
        g_autofree uint8_t *img = integ_pattern(4096, 23);
        g_autofree char *file = integ_write_ihex(t, "app.hex", &(IntegSegment){FLASH_BASE, img, 4096}, 1);
        g_autofree char *rule = NULL;
        g_autoptr(GError) error = NULL;
        guint jobs_before;
        const char *script = "at 3 plug 1-3 part=f405\n"
                             "at 3.2 plug 1-4 part=f405\n"
                             "at 6 plug 1-3\n";

        integ_start(t, &(IntegRun){.boards = 1, .script = script});
        rule = integ_add_rule(t, (const char *[]){file, NULL},
                              integ_options("match-port", g_variant_new_string("1-[34]"), NULL), &error);
        g_assert_no_error(error);
        /* the board at 1-1 was there before the rule and does not match */
        for (unsigned i = 0; i < 3000 && rule_boards_flashed(t, rule) < 2; i++)
                g_usleep(10 * 1000);
        g_assert_cmpuint(rule_boards_flashed(t, rule), ==, 2);
        wait_device(t, "1-3", false, 30);
        jobs_before = n_jobs(t);

        /* back again: the rule has flashed it once already */
        wait_device(t, "1-3", true, 30);
        g_assert_cmpuint(n_jobs(t), ==, jobs_before);
        g_assert_cmpuint(rule_boards_flashed(t, rule), ==, 2);

        integ_stop(t);
        for (unsigned i = 0; i < 2; i++) {
                g_autoptr(GBytes) dump = integ_dump(t, i == 0 ? "1-3" : "1-4");
                integ_assert_flash(dump, FLASH_BASE, FLASH_BASE, img, 4096);
        }
        {
                g_autoptr(GBytes) untouched = integ_dump(t, "1-1");
                integ_assert_blank(untouched, FLASH_BASE, FLASH_BASE, 4096);
        }
}

/* A removed rule leaves the bus and flashes nothing more. */
static void test_rule_remove(Integ *t, gconstpointer data) {
        g_autofree uint8_t *img = integ_pattern(2048, 26);
        g_autofree char *file = integ_write_ihex(t, "app.hex", &(IntegSegment){FLASH_BASE, img, 2048}, 1);
        g_autofree char *rule = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = NULL, rules = NULL, gone = NULL;
        g_autoptr(GBytes) d5 = NULL, d6 = NULL;
        guint jobs_before;

        integ_start(
                t, &(IntegRun){.boards = 1, .script = "at 2 plug 1-5 part=f405\nat 5 plug 1-6 part=f405\n"});
        rule = integ_add_rule(t, (const char *[]){file, NULL},
                              integ_options("match-port", g_variant_new_string("1-[56]"), NULL), &error);
        g_assert_no_error(error);
        for (unsigned i = 0; i < 3000 && rule_boards_flashed(t, rule) < 1; i++)
                g_usleep(10 * 1000);
        g_assert_cmpuint(rule_boards_flashed(t, rule), ==, 1);

        r = integ_call(t, rule, DFUSD_RULE, "Remove", NULL, NULL, &error);
        g_assert_no_error(error);
        rules = integ_get(t, DFUSD_PATH, DFUSD_MANAGER, "Rules", &error);
        g_assert_no_error(error);
        g_assert_cmpuint(g_variant_n_children(rules), ==, 0);
        gone = integ_get(t, rule, DFUSD_RULE, "Match", &error);
        g_assert_null(gone);
        g_assert_true(g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_OBJECT) ||
                      g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_INTERFACE) ||
                      g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD));
        g_clear_error(&error);

        jobs_before = n_jobs(t);
        wait_device(t, "1-6", true, 30);
        g_assert_cmpuint(n_jobs(t), ==, jobs_before);
        integ_stop(t);
        d5 = integ_dump(t, "1-5");
        d6 = integ_dump(t, "1-6");
        integ_assert_flash(d5, FLASH_BASE, FLASH_BASE, img, 2048);
        integ_assert_blank(d6, FLASH_BASE, FLASH_BASE, 2048);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/integ/hotplug/wait-for-plug", Integ, NULL, integ_setup, test_wait_for_plug,
                   integ_teardown);
        g_test_add("/integ/hotplug/unplug-mid-write", Integ, NULL, integ_setup, test_unplug_mid_write,
                   integ_teardown);
        g_test_add("/integ/hotplug/rule", Integ, NULL, integ_setup, test_rule, integ_teardown);
        g_test_add("/integ/hotplug/rule-remove", Integ, NULL, integ_setup, test_rule_remove, integ_teardown);
        g_test_add("/integ/hotplug/queued-behind-leave", Integ, NULL, integ_setup, test_queued_behind_leave,
                   integ_teardown);
        return g_test_run();
}
