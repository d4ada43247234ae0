/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Boards that come and go: waiting jobs, a cable pulled mid-write, a board that leaves. */
#include <string.h>

#include "harness.h"
#include "test-main.h"

#define FLASH_BASE 0x08000000u

static void test_wait_for_plug(Integ *t, gconstpointer data) {
        g_autofree uint8_t *img = integ_pattern(8192, 21);
        g_autofree char *file = integ_write_ihex(t, "app.hex", &(IntegSegment){FLASH_BASE, img, 8192}, 1);
        g_autofree char *job = NULL, *state = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) dump = NULL;

        integ_start(t, &(IntegRun){.boards = 1});
        job = integ_submit(t, (const char *[]){file, NULL},
                           integ_options("port", g_variant_new_string("1-3"), "wait",
                                         g_variant_new_boolean(TRUE), "part", g_variant_new_string("f405"),
                                         NULL),
                           &error);
        g_assert_no_error(error);
        state = integ_get_string(t, job, DFUSD_JOB, "State");
        g_assert_cmpstr(state, ==, "waiting");
        g_free(state);
        /* plugged only once the job is seen waiting: the order is the test's, not a clock's */
        integ_sim_step(t, "plug 1-3 part=f405");
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
        guint64 bytes_done = 0;

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
        /* Which block the cable went with depends on the polls before it; the rest is exact. */
        g_assert_true(g_str_has_prefix(message, "write of block at 0x080"));
        g_assert_nonnull(
                strstr(message, " failed: the board disconnected (phase write, last state dfuDNLOAD-"));
        g_free(state);
        state = integ_wait_job(t, ok, 60);
        g_assert_cmpstr(state, ==, "done");
        {
                /* BytesDone of the failed job is what reached the board, not the last progress tick. */
                g_autoptr(GVariant) v = integ_get(t, bad, DFUSD_JOB, "BytesDone", &error);
                g_assert_no_error(error);
                bytes_done = g_variant_get_uint64(v);
        }

        integ_stop(t);
        dump = integ_dump(t, "1-1");
        integ_assert_flash(dump, FLASH_BASE, FLASH_BASE, img, SIZE);
        {
                g_autoptr(GBytes) bad_dump = integ_dump(t, "1-2");
                const uint8_t *p = g_bytes_get_data(bad_dump, NULL);
                size_t written = 0;

                while (written < SIZE && p[written] == img[written])
                        written++;
                g_test_message("failed job: BytesDone %" G_GUINT64_FORMAT ", %zu bytes on the board",
                               bytes_done, written);
                g_assert_cmpuint(written, >, 0);
                g_assert_cmpuint(written, <, SIZE);
                g_assert_cmpuint(bytes_done, ==, written);
        }
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

        integ_start(t, &(IntegRun){.boards = 1, .parts = (const char *[]){"f405", NULL}});
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
        /*
         * The board comes back only after it has left (a plug while it is still on the bus would be
         * refused), and the second job must still be waiting then: whatever the speed of the machine.
         */
        integ_wait_device(t, "1-1", false, 60);
        state = integ_get_string(t, b, DFUSD_JOB, "State");
        g_assert_cmpstr(state, ==, "waiting");
        g_free(state);
        integ_sim_step(t, "plug 1-1");
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

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/integ/hotplug/wait-for-plug", Integ, NULL, integ_setup, test_wait_for_plug,
                   integ_teardown);
        g_test_add("/integ/hotplug/unplug-mid-write", Integ, NULL, integ_setup, test_unplug_mid_write,
                   integ_teardown);
        g_test_add("/integ/hotplug/queued-behind-leave", Integ, NULL, integ_setup, test_queued_behind_leave,
                   integ_teardown);
        return test_run();
}
