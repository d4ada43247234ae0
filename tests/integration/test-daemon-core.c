/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon's own contract, beyond flashing: Inspect touches no board, GetHistory filters, the default
 * target, and what a finished job and its board say about each other.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "test-main.h"

#define FLASH_BASE 0x08000000u

/* The Device path of a port, escaped as sd_bus_path_encode() does ("1-2" -> "_31_2d2"). */
static char *device_path_for_port(const char *port) {
        GString *s = g_string_new("/org/dfusd/Flash1/device/");

        for (const char *c = port; *c; c++)
                if (g_ascii_isalpha(*c) || (g_ascii_isdigit(*c) && c != port))
                        g_string_append_c(s, *c);
                else
                        g_string_append_printf(s, "_%02x", (unsigned char)*c);
        return g_string_free(s, FALSE);
}

static GVariant *inspect(Integ *t, const char *file, GVariant *options, GError **error) {
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        GVariant *r;

        g_assert_cmpint(fd, >=, 0);
        r = integ_call_fds(t, "Inspect", &fd, 1, options, "(a{sv})", error);
        close(fd);
        return r;
}

static void test_inspect_offline(Integ *t, gconstpointer data) {
        g_autofree uint8_t *img = integ_pattern(4096, 41), *ram = integ_pattern(64, 42);
        const IntegSegment segs[] = {{FLASH_BASE, img, 4096}, {0x20000000, ram, 64}};
        g_autofree char *file = integ_write_ihex(t, "app.hex", segs, 2);
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = NULL, dict = NULL, segments = NULL, plan = NULL;
        gboolean accepted = FALSE;
        guint64 total = 0;
        guint32 erases = 0;

        /* no board at all: the part's map is enough */
        integ_start(t, &(IntegRun){.boards = 0});
        r = inspect(t, file, integ_options("part", g_variant_new_string("f405"), NULL), &error);
        g_assert_no_error(error);
        dict = g_variant_get_child_value(r, 0);
        g_assert_true(g_variant_lookup(dict, "accepted", "b", &accepted));
        g_assert_true(accepted);
        segments = g_variant_lookup_value(dict, "segments", G_VARIANT_TYPE("aa{sv}"));
        g_assert_nonnull(segments);
        g_assert_cmpuint(g_variant_n_children(segments), ==, 2);
        plan = g_variant_lookup_value(dict, "plan", G_VARIANT_TYPE("a{sv}"));
        g_assert_nonnull(plan);
        g_assert_true(g_variant_lookup(plan, "bytes-total", "t", &total));
        g_assert_cmpuint(total, >=, 4096);
        g_assert_true(g_variant_lookup(plan, "erases", "u", &erases));
        g_assert_cmpuint(erases, ==, 1);
        g_clear_pointer(&r, g_variant_unref);
        g_clear_pointer(&dict, g_variant_unref);

        /* strict turns the RAM drop into a rejection, reported, not raised */
        r = inspect(
                t, file,
                integ_options("layouts",
                              g_variant_new_strv(
                                      (const char *[]){"@Internal Flash  /0x08000000/04*016Kg", NULL}, -1),
                              "strict", g_variant_new_boolean(TRUE), NULL),
                &error);
        g_assert_no_error(error);
        dict = g_variant_get_child_value(r, 0);
        g_assert_true(g_variant_lookup(dict, "accepted", "b", &accepted));
        g_assert_false(accepted);
        g_clear_pointer(&r, g_variant_unref);

        /* a malformed layout names the problem */
        r = inspect(t, file,
                    integ_options("layouts",
                                  g_variant_new_strv((const char *[]){"@Flash /0x0800/4*16", NULL}, -1),
                                  NULL),
                    &error);
        g_assert_null(r);
        g_assert_error(error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
        g_clear_error(&error);

        /* nothing to inspect against */
        r = inspect(t, file, NULL, &error);
        g_assert_null(r);
        g_assert_error(error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
}

static guint history_count(Integ *t, GVariant *filter, GError **error) {
        g_autoptr(GVariant) r = integ_call(t, DFUSD_PATH, DFUSD_MANAGER, "GetHistory",
                                           g_variant_new("(@a{sv})", filter), "(aa{sv})", error);
        g_autoptr(GVariant) entries = NULL;

        if (!r)
                return G_MAXUINT;
        entries = g_variant_get_child_value(r, 0);
        return (guint)g_variant_n_children(entries);
}

static void test_default_target_and_history(Integ *t, gconstpointer data) {
        g_autofree uint8_t *img = integ_pattern(2048, 43);
        g_autofree char *file = integ_write_ihex(t, "app.hex", &(IntegSegment){FLASH_BASE, img, 2048}, 1);
        g_autofree char *a = NULL, *b = NULL, *state = NULL, *dev = NULL, *dev_state = NULL, *current = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) report = NULL;

        integ_start(t, &(IntegRun){.boards = 2});
        integ_wait_devices(t, 2, 10);

        /* two boards and no target: refused, with the way out in the message */
        a = integ_submit(t, (const char *[]){file, NULL}, NULL, &error);
        g_assert_null(a);
        g_assert_error(error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
        g_assert_nonnull(strstr(error->message, "several boards")
                                 ?: strstr(error->message, "Several boards"));
        g_clear_error(&error);

        /* the board stays (no leave): afterwards it is idle again and the job names it */
        a = integ_submit(t, (const char *[]){file, NULL},
                         integ_options("port", g_variant_new_string("1-1"), "leave",
                                       g_variant_new_boolean(FALSE), NULL),
                         &error);
        g_assert_no_error(error);
        state = integ_wait_job(t, a, 60);
        g_assert_cmpstr(state, ==, "done");
        dev = integ_get_string(t, a, DFUSD_JOB, "Device");
        g_assert_cmpstr(dev, !=, "/");
        dev_state = integ_get_string(t, dev, DFUSD_DEVICE, "State");
        g_assert_cmpstr(dev_state, ==, "idle");
        current = integ_get_string(t, dev, DFUSD_DEVICE, "CurrentJob");
        g_assert_cmpstr(current, ==, "/");
        report = integ_get(t, a, DFUSD_JOB, "Report", &error);
        g_assert_no_error(error);
        g_assert_cmpuint(g_variant_n_children(report), ==, 1);

        b = integ_submit(t, (const char *[]){file, NULL},
                         integ_options("port", g_variant_new_string("1-2"), NULL), &error);
        g_assert_no_error(error);
        g_free(state);
        state = integ_wait_job(t, b, 60);
        g_assert_cmpstr(state, ==, "done");

        g_assert_cmpuint(history_count(t, integ_options(NULL, NULL), &error), ==, 2);
        g_assert_cmpuint(history_count(t, integ_options("port", g_variant_new_string("1-2"), NULL), &error),
                         ==, 1);
        g_assert_cmpuint(history_count(t, integ_options("limit", g_variant_new_uint32(1), NULL), &error), ==,
                         1);
        g_assert_cmpuint(
                history_count(t, integ_options("since", g_variant_new_uint64(G_MAXUINT64), NULL), &error),
                ==, 0);
        g_assert_no_error(error);
        g_assert_cmpuint(history_count(t, integ_options("color", g_variant_new_string("red"), NULL), &error),
                         ==, G_MAXUINT);
        g_assert_error(error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
}

/* MaxParallel=1: the second board's job waits its turn, and gets it once the first is cancelled. */
static void test_max_parallel(Integ *t, gconstpointer data) {
        g_autofree uint8_t *img = integ_pattern(64 * 1024, 44);
        g_autofree char *file =
                integ_write_ihex(t, "app.hex", &(IntegSegment){FLASH_BASE, img, 64 * 1024}, 1);
        g_autofree char *a = NULL, *b = NULL, *state = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = NULL, max = NULL;

        /* datasheet timing: the first job is surely still erasing when the second is looked at */
        integ_start(t, &(IntegRun){.boards = 2,
                                   .parts = (const char *[]){"f405", NULL},
                                   .time_scale = "1",
                                   .config = "[Daemon]\nMaxParallel=1\n"});
        integ_wait_devices(t, 2, 10);
        max = integ_get(t, DFUSD_PATH, DFUSD_MANAGER, "MaxParallel", &error);
        g_assert_no_error(error);
        g_assert_cmpuint(g_variant_get_uint32(max), ==, 1);

        a = integ_submit(t, (const char *[]){file, NULL},
                         integ_options("port", g_variant_new_string("1-1"), NULL), &error);
        g_assert_no_error(error);
        b = integ_submit(t, (const char *[]){file, NULL},
                         integ_options("port", g_variant_new_string("1-2"), NULL), &error);
        g_assert_no_error(error);
        state = integ_wait_job_state(t, a, "erasing", 30);
        g_assert_cmpstr(state, ==, "erasing");
        g_free(state);
        state = integ_get_string(t, b, DFUSD_JOB, "State");
        g_assert_cmpstr(state, ==, "queued");
        g_free(state);

        r = integ_call(t, a, DFUSD_JOB, "Cancel", NULL, NULL, &error);
        g_assert_no_error(error);
        state = integ_wait_job(t, a, 30);
        g_assert_cmpstr(state, ==, "cancelled");
        g_free(state);
        state = integ_wait_job(t, b, 60);
        g_assert_cmpstr(state, ==, "done");
}

/* A board that does not answer when it attaches is listed in State "error" and takes no job. */
static void test_failed_board(Integ *t, gconstpointer data) {
        g_autofree uint8_t *img = integ_pattern(2048, 45);
        g_autofree char *file = integ_write_ihex(t, "app.hex", &(IntegSegment){FLASH_BASE, img, 2048}, 1);
        g_autofree char *bad = NULL, *dev_state = NULL, *job = NULL, *port = NULL, *state = NULL,
                        *none = NULL;
        g_autoptr(GError) error = NULL;

        integ_start(t, &(IntegRun){.boards = 2, .script = "board 1-2 stall count=100\n"});
        integ_wait_devices(t, 2, 10);
        bad = device_path_for_port("1-2");
        dev_state = integ_get_string(t, bad, DFUSD_DEVICE, "State");
        g_assert_cmpstr(dev_state, ==, "error");

        /* the only board that answers is the default target */
        job = integ_submit(t, (const char *[]){file, NULL}, NULL, &error);
        g_assert_no_error(error);
        state = integ_wait_job(t, job, 60);
        g_assert_cmpstr(state, ==, "done");
        port = integ_get_string(t, job, DFUSD_JOB, "PortPath");
        g_assert_cmpstr(port, ==, "1-1");

        none = integ_submit(t, (const char *[]){file, NULL},
                            integ_options("port", g_variant_new_string("1-2"), NULL), &error);
        g_assert_null(none);
        g_assert_true(g_dbus_error_is_remote_error(error));
        g_autofree char *name = g_dbus_error_get_remote_error(error);
        g_assert_cmpstr(name, ==, "org.dfusd.Flash1.Error.NoDevice");
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/daemon-core/inspect-offline", Integ, NULL, integ_setup, test_inspect_offline,
                   integ_teardown);
        g_test_add("/daemon-core/default-target-and-history", Integ, NULL, integ_setup,
                   test_default_target_and_history, integ_teardown);
        g_test_add("/daemon-core/max-parallel", Integ, NULL, integ_setup, test_max_parallel, integ_teardown);
        g_test_add("/daemon-core/failed-board", Integ, NULL, integ_setup, test_failed_board, integ_teardown);
        return test_run();
}
