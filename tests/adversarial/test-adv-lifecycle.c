/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What happens around dfusd rather than through its API: a caller's strings that try to forge log
 * lines, a second dfusd on the same state directory, and the bus going away under a running job.
 */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "adv.h"

#define FORGED "X\n<2>FORGED"

static char *small_image(Integ *t, size_t size) {
        g_autofree uint8_t *img = integ_pattern(size, 5);
        return integ_write_ihex(t, "fw.hex", &(IntegSegment){ADV_FLASH_BASE, img, size}, 1);
}

static void assert_no_forged_line(Integ *t) {
        g_autofree char *log = NULL;
        g_auto(GStrv) lines = NULL;
        unsigned escaped = 0;

        g_assert_true(g_file_get_contents(t->log_path, &log, NULL, NULL));
        lines = g_strsplit(log, "\n", -1);
        for (char **l = lines; *l; l++) {
                if (g_str_has_prefix(*l, "<2>FORGED") || g_str_has_prefix(*l, "FORGED"))
                        g_error("forged log line: \"%s\"", *l);
                escaped += strstr(*l, "X\\n<2>FORGED") != NULL;
        }
        g_test_message("%u log lines quote the string, escaped", escaped);
}

static void test_log_forging(Integ *t, gconstpointer data) {
        g_autofree char *file = small_image(t, 1024);
        const char *images[] = {file, NULL};
        g_autoptr(GError) error = NULL;
        g_autofree char *job = NULL, *rule = NULL, *name = NULL;

        integ_start(t, &(IntegRun){.boards = 1});
        integ_wait_devices(t, 1, 10);

        job = integ_submit(t, images, integ_options("serial", g_variant_new_string(FORGED), NULL), &error);
        g_assert_null(job);
        name = adv_error_name(error);
        g_assert_cmpstr(name, ==, ADV_NO_DEVICE);
        g_clear_error(&error);

        job = integ_submit(t, images,
                           integ_options("serial", g_variant_new_string(FORGED), "wait",
                                         g_variant_new_boolean(TRUE), "part", g_variant_new_string("f405"),
                                         NULL),
                           &error);
        g_assert_no_error(error);
        g_assert_nonnull(job);
        rule = integ_add_rule(t, images,
                              integ_options("match-serial", g_variant_new_string(FORGED), "match-station",
                                            g_variant_new_string(FORGED), NULL),
                              &error);
        g_assert_no_error(error);
        g_assert_nonnull(rule);
        g_autoptr(GVariant) cancelled = integ_call(t, job, DFUSD_JOB, "Cancel", NULL, NULL, &error);
        g_assert_no_error(error);
        g_assert_nonnull(cancelled);
        g_free(integ_wait_job(t, job, 10));

        adv_assert_answers(t);
        adv_assert_bounded(t, 100 * 1024, 64);
        g_assert_cmpuint(adv_history_count(t), ==, 1);
        integ_stop(t);
        assert_no_forged_line(t);
        adv_assert_dump_blank(t, "1-1");
}

/* A second dfusd on the same state directory, with a board the first one's queued job would take. */
static void test_second_instance(Integ *t, gconstpointer data) {
        g_autofree char *file = small_image(t, 4096);
        g_autofree char *dump2 = g_build_filename(t->dir, "dump2", NULL);
        g_autofree char *conf = integ_write_file(t, "second.conf", "", 0);
        g_autofree char *out_path = g_build_filename(t->dir, "second.log", NULL), *out = NULL;
        g_autofree char *job = NULL, *state = NULL;
        g_autoptr(GSubprocessLauncher) l = NULL;
        g_autoptr(GSubprocess) second = NULL;
        g_autoptr(GError) error = NULL;

        integ_start(t, &(IntegRun){.boards = 1});
        integ_wait_devices(t, 1, 10);
        job = integ_submit(t, (const char *[]){file, NULL},
                           integ_options("port", g_variant_new_string("1-7"), "wait",
                                         g_variant_new_boolean(TRUE), "part", g_variant_new_string("f405"),
                                         NULL),
                           &error);
        g_assert_no_error(error);

        g_assert_cmpint(g_mkdir(dump2, 0755), ==, 0);
        l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
        g_subprocess_launcher_setenv(l, "DBUS_SESSION_BUS_ADDRESS", t->bus_address, TRUE);
        g_subprocess_launcher_setenv(l, "STATE_DIRECTORY", t->state_dir, TRUE);
        g_subprocess_launcher_setenv(l, "RUNTIME_DIRECTORY", t->runtime_dir, TRUE);
        g_subprocess_launcher_set_stdout_file_path(l, out_path);
        g_subprocess_launcher_set_stderr_file_path(l, out_path);
        second = g_subprocess_launcher_spawn(l, &error, integ_sim_path(), "--boards", "1", "--ports", "1-7",
                                             "--time-scale", INTEG_TIME_SCALE, "--dump-dir", dump2, "--",
                                             integ_dfusd_path(), "--config", conf, "--user", NULL);
        g_assert_no_error(error);
        g_assert_true(g_subprocess_wait(second, NULL, &error));
        g_assert_no_error(error);
        g_assert_true(g_file_get_contents(out_path, &out, NULL, NULL));
        g_test_message("second dfusd: %s", out);
        g_assert_true(g_subprocess_get_if_exited(second));
        g_assert_cmpint(g_subprocess_get_exit_status(second), !=, 0);
        g_autofree char *holder = g_strdup_printf("pid %d", (int)integ_daemon_pid(t));
        g_assert_nonnull(strstr(out, "in use by another dfusd"));
        g_assert_nonnull(strstr(out, holder));

        /* It changed nothing: its board untouched, no record, the first one's job still waiting. */
        g_autofree char *second_dump = g_build_filename(dump2, "1-7.bin", NULL);
        g_autoptr(GMappedFile) m = g_mapped_file_new(second_dump, FALSE, &error);
        g_assert_no_error(error);
        const uint8_t *p = (const uint8_t *)g_mapped_file_get_contents(m);
        for (gsize i = 0; i < g_mapped_file_get_length(m); i++)
                g_assert_cmphex(p[i], ==, 0xFF);
        state = integ_get_string(t, job, DFUSD_JOB, "State");
        g_assert_cmpstr(state, ==, "waiting");
        g_assert_cmpuint(adv_history_count(t), ==, 0);

        adv_assert_answers(t);
        adv_assert_bounded(t, 100 * 1024, 64);
        integ_stop(t);
        adv_assert_dump_blank(t, "1-1");
}

/* The bus dies under a running job: the job ends and is recorded, dfusd exits non-zero; a restart on
 * a new bus shows it in the history and the board holds the image. */
static void test_bus_killed(Integ *t, gconstpointer data) {
        const size_t size = 256 * 1024;
        g_autofree uint8_t *img = integ_pattern(size, 21);
        g_autofree char *file = integ_write_ihex(t, "fw.hex", &(IntegSegment){ADV_FLASH_BASE, img, size}, 1);
        g_autoptr(GError) error = NULL;
        g_autofree char *job = NULL, *state = NULL;

        integ_start(t, &(IntegRun){.boards = 1, .time_scale = "0.1"});
        integ_wait_devices(t, 1, 10);
        job = integ_submit(t, (const char *[]){file, NULL},
                           integ_options("port", g_variant_new_string("1-1"), "leave",
                                         g_variant_new_boolean(FALSE), NULL),
                           &error);
        g_assert_no_error(error);
        state = integ_wait_job_state(t, job, "writing", 30);
        g_assert_cmpstr(state, ==, "writing");

        g_subprocess_force_exit(t->bus);
        g_assert_true(g_subprocess_wait(t->bus, NULL, NULL));
        g_assert_true(g_subprocess_wait(t->runner, NULL, NULL));
        g_assert_true(g_subprocess_get_if_exited(t->runner));
        g_test_message("dfusd exited with %d", g_subprocess_get_exit_status(t->runner));
        g_assert_cmpint(g_subprocess_get_exit_status(t->runner), !=, 0);

        /* The job ran to its end: the board holds the image (its dump is written as the runner exits;
         * the next run's board starts blank). */
        g_autoptr(GBytes) dump = integ_dump(t, "1-1");
        integ_assert_flash(dump, ADV_FLASH_BASE, ADV_FLASH_BASE, img, size);

        /* A new bus, as systemd would restart dfusd on. */
        g_clear_object(&t->conn);
        g_clear_object(&t->bus);
        g_clear_pointer(&t->bus_address, g_free);
        integ_start(t, &(IntegRun){.boards = 1});
        g_assert_cmpuint(adv_history_count(t), ==, 1);
        g_autoptr(GVariant) r =
                integ_call(t, DFUSD_PATH, DFUSD_MANAGER, "GetHistory",
                           g_variant_new("(@a{sv})", integ_options(NULL, NULL)), "(aa{sv})", &error);
        g_assert_no_error(error);
        g_autoptr(GVariant) entry = g_variant_get_child_value(r, 0);
        entry = g_variant_get_child_value(entry, 0);
        const char *result = NULL;
        g_assert_true(g_variant_lookup(entry, "result", "&s", &result));
        g_assert_cmpstr(result, ==, "done");
        adv_assert_answers(t);
        integ_stop(t);
        adv_assert_dump_blank(t, "1-1");
}

/* A job queued behind another on a board that goes away ends, with a message, because it did not ask
 * to wait; one that asked waits until its timeout; the running job fails; nothing is left hanging. */
static void test_queued_board_gone(Integ *t, gconstpointer data) {
        g_autofree uint8_t *img = integ_pattern(64 * 1024, 9);
        g_autofree char *file =
                integ_write_ihex(t, "fw.hex", &(IntegSegment){ADV_FLASH_BASE, img, 64 * 1024}, 1);
        g_autofree char *a = NULL, *b = NULL, *c = NULL, *state = NULL, *msg = NULL;
        g_autoptr(GError) error = NULL;

        /* One board that holds its first job in the erase: the others queue behind it, for sure. */
        integ_start(t, &(IntegRun){.boards = 1, .hold_until_busy = 2});
        integ_wait_devices(t, 1, 10);
        a = integ_submit(t, (const char *[]){file, NULL},
                         integ_options("port", g_variant_new_string("1-1"), "leave",
                                       g_variant_new_boolean(FALSE), NULL),
                         &error);
        g_assert_no_error(error);
        state = integ_wait_job_state(t, a, "erasing", 30);
        g_assert_cmpstr(state, ==, "erasing");
        b = integ_submit(t, (const char *[]){file, NULL},
                         integ_options("port", g_variant_new_string("1-1"), NULL), &error);
        g_assert_no_error(error);
        c = integ_submit(t, (const char *[]){file, NULL},
                         integ_options("port", g_variant_new_string("1-1"), "wait",
                                       g_variant_new_boolean(TRUE), "timeout", g_variant_new_uint64(2),
                                       NULL),
                         &error);
        g_assert_no_error(error);
        g_free(state);
        state = integ_get_string(t, b, DFUSD_JOB, "State");
        g_assert_cmpstr(state, ==, "queued");

        integ_sim_step(t, "unplug 1-1");
        g_free(state);
        state = integ_wait_job(t, b, 30);
        g_assert_cmpstr(state, ==, "failed");
        msg = integ_get_string(t, b, DFUSD_JOB, "Error");
        g_assert_cmpstr(msg, ==, "No matching board is attached any more; pass wait to wait for one.");
        g_free(state);
        state = integ_wait_job(t, a, 30);
        g_assert_cmpstr(state, ==, "failed");
        g_free(state);
        state = integ_wait_job(t, c, 30);
        g_assert_cmpstr(state, ==, "failed");
        g_free(msg);
        msg = integ_get_string(t, c, DFUSD_JOB, "Error");
        g_assert_cmpstr(msg, ==, "No matching board appeared within 2 s.");

        g_assert_cmpuint(adv_history_count(t), ==, 3);
        adv_assert_answers(t);
        adv_assert_bounded(t, 100 * 1024, 64);
        integ_stop(t);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/adversarial/lifecycle/log-forging", Integ, NULL, integ_setup, test_log_forging,
                   integ_teardown);
        g_test_add("/adversarial/lifecycle/second-instance", Integ, NULL, integ_setup, test_second_instance,
                   integ_teardown);
        g_test_add("/adversarial/lifecycle/queued-board-gone", Integ, NULL, integ_setup,
                   test_queued_board_gone, integ_teardown);
        g_test_add("/adversarial/lifecycle/bus-killed", Integ, NULL, integ_setup, test_bus_killed,
                   integ_teardown);
        return g_test_run();
}
