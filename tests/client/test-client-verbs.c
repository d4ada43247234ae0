/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dfusctl against the real dfusd on simulated boards: every verb, as text and as JSON, and the exit
 * status of each way a command can end. */
#include <string.h>
#include <sys/wait.h>

#include "ctl.h"
#include "test-main.h"

#define FLASH_BASE 0x08000000u
#define IMAGE_SIZE (40 * 1024)

static const char *const h743[] = {"h743", NULL};

static void start(Integ *t, unsigned boards, const char *script, const char *time_scale) {
        integ_start(
                t, &(IntegRun){.boards = boards, .parts = h743, .script = script, .time_scale = time_scale});
        integ_wait_devices(t, boards, 10);
}

static json_object *array_find(json_object *array, const char *key, const char *value) {
        for (size_t i = 0; i < json_object_array_length(array); i++) {
                json_object *o = json_object_array_get_idx(array, i);
                if (g_strcmp0(jstr(o, key), value) == 0)
                        return o;
        }
        return NULL;
}

static void test_devices(Integ *t, gconstpointer data) {
        g_auto(CtlResult) r = {};
        g_autoptr(json_object) doc = NULL;
        json_object *devices, *d;

        start(t, 2, NULL, NULL);
        g_assert_cmpint(ctl_run(t, &r, "devices", NULL), ==, 0);
        g_assert_nonnull(strstr(r.out, "PORT"));
        g_assert_nonnull(strstr(r.out, "1-1"));
        g_assert_nonnull(strstr(r.out, "1-2"));
        g_assert_nonnull(strstr(r.out, "h743"));
        g_assert_null(strchr(r.out, '\033'));
        ctl_result_clear(&r);

        g_assert_cmpint(ctl_run(t, &r, "devices", "--json", NULL), ==, 0);
        doc = ctl_json(&r);
        devices = jget(doc, "devices");
        g_assert_cmpuint(json_object_array_length(devices), ==, 2);
        d = array_find(devices, "PortPath", "1-2");
        g_assert_nonnull(d);
        g_assert_cmpstr(jstr(d, "Part"), ==, "h743");
        g_assert_cmpstr(jstr(d, "State"), ==, "idle");
        g_assert_cmpstr(jstr(d, "CurrentJob"), ==, "/");
        g_assert_false(json_object_get_boolean(jget(d, "SerialDuplicated")));
        g_assert_true(g_str_has_prefix(jstr(d, "path"), "/org/dfusd/Flash1/device/"));
}

/* Two F723 report the same serial: both are flagged, in text and in JSON. */
static void test_devices_duplicate(Integ *t, gconstpointer data) {
        const char *const f722[] = {"f722", NULL};
        g_auto(CtlResult) r = {};
        g_autoptr(json_object) doc = NULL;
        json_object *devices;

        integ_start(t, &(IntegRun){.boards = 2, .parts = f722});
        integ_wait_devices(t, 2, 10);
        g_assert_cmpint(ctl_run(t, &r, "devices", NULL), ==, 0);
        g_assert_nonnull(strstr(r.out, "STM32FxSTM32 (duplicate)"));
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "devices", "--json", NULL), ==, 0);
        doc = ctl_json(&r);
        devices = jget(doc, "devices");
        g_assert_cmpuint(json_object_array_length(devices), ==, 2);
        for (size_t i = 0; i < 2; i++)
                g_assert_true(json_object_get_boolean(
                        jget(json_object_array_get_idx(devices, i), "SerialDuplicated")));
}

/* A station named in dfusd.conf shows in `devices` and targets exactly its board. */
static void test_flash_station(Integ *t, gconstpointer data) {
        g_autofree char *image = ctl_image(t, "app.hex", IMAGE_SIZE, false, 3);
        g_autofree uint8_t *expect = integ_pattern(IMAGE_SIZE, 3);
        g_auto(CtlResult) r = {};
        g_autoptr(json_object) doc = NULL;
        g_autoptr(GBytes) dump = NULL, other = NULL;
        json_object *d;

        integ_start(t, &(IntegRun){.boards = 2, .parts = h743, .config = "[Stations]\n1-2 = bench-B\n"});
        integ_wait_devices(t, 2, 10);
        g_assert_cmpint(ctl_run(t, &r, "devices", "--json", NULL), ==, 0);
        doc = ctl_json(&r);
        d = array_find(jget(doc, "devices"), "PortPath", "1-2");
        g_assert_nonnull(d);
        g_assert_cmpstr(jstr(d, "Station"), ==, "bench-B");
        ctl_result_clear(&r);

        g_assert_cmpint(ctl_run(t, &r, "flash", image, "--station", "bench-B", NULL), ==, 0);
        g_assert_nonnull(strstr(r.out, "1-2: done"));
        g_assert_null(strstr(r.out, "1-1:"));
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "flash", image, "--station", "nowhere", NULL), ==, 4);

        integ_stop(t);
        dump = integ_dump(t, "1-2");
        g_assert_nonnull(dump);
        integ_assert_flash(dump, FLASH_BASE, FLASH_BASE, expect, IMAGE_SIZE);
        other = integ_dump(t, "1-1");
        g_assert_nonnull(other);
        /* The other board was never touched: its whole 2 MB flash still reads erased. */
        g_assert_cmpuint(g_bytes_get_size(other), ==, 2 * 1024 * 1024);
        integ_assert_blank(other, FLASH_BASE, FLASH_BASE, g_bytes_get_size(other));
}

/* "-" is standard input, here a pipe; --all cannot read a pipe twice. */
static void test_flash_stdin(Integ *t, gconstpointer data) {
        g_autofree char *image = ctl_image(t, "app.hex", IMAGE_SIZE, false, 16);
        g_autofree uint8_t *expect = integ_pattern(IMAGE_SIZE, 16);
        const char *modes[] = {"--port 1-1", "--all"};
        int statuses[] = {0, 2};
        g_autoptr(GBytes) dump = NULL;
        g_auto(GStrv) env = NULL;

        start(t, 2, NULL, NULL);
        env = ctl_environ(t);
        for (size_t m = 0; m < G_N_ELEMENTS(modes); m++) {
                g_autofree char *cmd = g_strdup_printf("cat '%s' | '%s' --user flash - --no-leave %s", image,
                                                       ctl_path(), modes[m]);
                g_autofree char *out = NULL, *err = NULL;
                g_autoptr(GError) error = NULL;
                int status;

                g_assert_true(g_spawn_sync(NULL, (char *[]){"sh", "-c", cmd, NULL}, env, G_SPAWN_SEARCH_PATH,
                                           NULL, NULL, &out, &err, &status, &error));
                g_assert_no_error(error);
                g_test_message("%s: %s%s", cmd, out, err);
                g_assert_true(WIFEXITED(status));
                g_assert_cmpint(WEXITSTATUS(status), ==, statuses[m]);
                if (statuses[m] == 2) {
                        g_assert_nonnull(strstr(err, "pipe"));
                        g_assert_cmpstr(out, ==, ""); /* nothing was submitted */
                }
        }
        integ_stop(t);
        dump = integ_dump(t, "1-1");
        integ_assert_flash(dump, FLASH_BASE, FLASH_BASE, expect, IMAGE_SIZE);
}

/* Human form on a pipe: the drop warning before anything else, one line per phase, no escapes;
 * the bytes land on the board. */
static void test_flash_text(Integ *t, gconstpointer data) {
        g_autofree char *warning = NULL;
        g_autofree char *image = ctl_image(t, "app.hex", IMAGE_SIZE, true, 1);
        g_autofree uint8_t *expect = integ_pattern(IMAGE_SIZE, 1);
        g_auto(CtlResult) r = {};
        g_autoptr(GBytes) dump = NULL;

        start(t, 1, NULL, NULL);
        g_assert_cmpint(ctl_run(t, &r, "flash", image, "--port", "1-1", NULL), ==, 0);
        /* The daemon only knows "image 1"; dfusctl names the file it passed. */
        warning = g_strdup_printf("1-1: warning: %s: 0x38000000-0x380000FF (256 bytes) lies outside", image);
        g_assert_nonnull(strstr(r.err, warning));
        g_assert_nonnull(strstr(r.err, "NOLOAD"));
        g_assert_nonnull(strstr(r.out, "1-1: erasing\n"));
        g_assert_nonnull(strstr(r.out, "1-1: writing\n"));
        g_assert_nonnull(strstr(r.out, "1-1: done"));
        g_assert_null(strchr(r.out, '\033'));
        g_assert_null(strchr(r.out, '\r'));

        integ_stop(t);
        dump = integ_dump(t, "1-1");
        g_assert_nonnull(dump);
        integ_assert_flash(dump, FLASH_BASE, FLASH_BASE, expect, IMAGE_SIZE);
}

static void test_flash_json(Integ *t, gconstpointer data) {
        g_autofree char *image = ctl_image(t, "app.hex", IMAGE_SIZE, true, 2);
        g_auto(CtlResult) r = {};
        g_autoptr(json_object) doc = NULL;
        json_object *jobs, *report, *drop = NULL;

        start(t, 2, NULL, NULL);
        g_assert_cmpint(ctl_run(t, &r, "flash", image, "--all", "--no-leave", "--verify", "--json", NULL),
                        ==, 0);
        doc = ctl_json(&r);
        jobs = jget(doc, "jobs");
        g_assert_cmpuint(json_object_array_length(jobs), ==, 2);
        for (size_t i = 0; i < 2; i++) {
                json_object *j = json_object_array_get_idx(jobs, i);
                g_assert_true(json_object_get_boolean(jget(j, "success")));
                g_assert_cmpstr(jstr(j, "State"), ==, "done");
                g_assert_cmpstr(jstr(j, "Error"), ==, "");
                /* Counters of the image, not of the last phase: all of it was written. */
                g_assert_cmpuint(json_object_get_uint64(jget(j, "BytesTotal")), >=, IMAGE_SIZE);
                g_assert_cmpuint(json_object_get_uint64(jget(j, "BytesDone")), ==,
                                 json_object_get_uint64(jget(j, "BytesTotal")));
        }
        /* Both boards got the same image: the warning is said once, for both. */
        g_assert_true(strstr(r.err, "1-1, 1-2: warning: ") || strstr(r.err, "1-2, 1-1: warning: "));
        g_assert_null(strstr(strstr(r.err, "0x38000000-0x380000FF") + 1, "0x38000000-0x380000FF"));
        g_assert_nonnull(array_find(jobs, "PortPath", "1-1"));
        g_assert_nonnull(array_find(jobs, "PortPath", "1-2"));
        report = jget(json_object_array_get_idx(jobs, 0), "Report");
        drop = array_find(report, "verdict", "drop");
        g_assert_nonnull(drop);
        g_assert_cmpuint(json_object_get_uint64(jget(drop, "address")), ==, 0x38000000);
        g_assert_cmpstr(jstr(drop, "kind"), ==, "RAM");
        /* The boards stayed in the bootloader. */
        integ_wait_devices(t, 2, 10);
}

static void test_exit_status(Integ *t, gconstpointer data) {
        g_autofree char *image = ctl_image(t, "app.hex", IMAGE_SIZE, true, 3);
        g_autofree char *missing = g_build_filename(t->dir, "missing.hex", NULL);
        g_auto(CtlResult) r = {};
        g_autoptr(json_object) doc = NULL;

        start(t, 1, NULL, NULL);
        g_assert_cmpint(ctl_run(t, &r, "flash", NULL), ==, 2);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "flash", image, "--base", "banana", NULL), ==, 2);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "flash", image, "--port", "1-1", "--serial", "x", NULL), ==, 2);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "frobnicate", NULL), ==, 2);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "flash", missing, NULL), ==, 3);
        g_assert_nonnull(strstr(r.err, "missing.hex"));
        ctl_result_clear(&r);

        /* Rejected: strict mode turns the RAM drop into a reject, reported before anything runs. */
        g_assert_cmpint(ctl_run(t, &r, "flash", image, "--strict", NULL), ==, 1);
        g_assert_nonnull(strstr(r.err, "org.dfusd.Flash1.Error.ImageRejected"));
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "flash", image, "--strict", "--json", NULL), ==, 1);
        doc = ctl_json(&r);
        g_assert_cmpstr(jstr(doc, "error"), ==, "org.dfusd.Flash1.Error.ImageRejected");
        g_assert_cmpint(json_object_get_int(jget(doc, "exit_status")), ==, 1);
        ctl_result_clear(&r);

        g_assert_cmpint(ctl_run(t, &r, "flash", image, "--port", "9-9", NULL), ==, 4);
        g_assert_nonnull(strstr(r.err, "NoDevice"));
        ctl_result_clear(&r);

        /* No daemon on the bus: say how to start it. */
        integ_stop(t);
        g_assert_cmpint(ctl_run(t, &r, "devices", NULL), ==, 6);
        g_assert_nonnull(strstr(r.err, "dfusd --user"));
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "flash", image, NULL), ==, 6);
}

static void test_board_fails(Integ *t, gconstpointer data) {
        g_autofree char *image = ctl_image(t, "app.hex", IMAGE_SIZE, false, 4);
        g_auto(CtlResult) r = {};
        g_autoptr(json_object) doc = NULL;
        json_object *job;

        start(t, 1, "board 1-1 status errWRITE phase=write\n", NULL);
        g_assert_cmpint(ctl_run(t, &r, "flash", image, "--json", NULL), ==, 5);
        doc = ctl_json(&r);
        job = json_object_array_get_idx(jget(doc, "jobs"), 0);
        g_assert_false(json_object_get_boolean(jget(job, "success")));
        g_assert_cmpstr(jstr(job, "State"), ==, "failed");
        g_assert_cmpstr(jstr(job, "message"), !=, "");
        g_test_message("failure message: %s", jstr(job, "message"));
}

static void test_no_board(Integ *t, gconstpointer data) {
        g_autofree char *image = ctl_image(t, "app.hex", IMAGE_SIZE, false, 17);
        g_auto(CtlResult) r = {};
        g_autoptr(json_object) doc = NULL;

        start(t, 0, NULL, NULL);
        g_assert_cmpint(ctl_run(t, &r, "devices", NULL), ==, 0);
        g_assert_nonnull(strstr(r.out, "No boards attached."));
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "devices", "--json", NULL), ==, 0);
        doc = ctl_json(&r);
        g_assert_cmpuint(json_object_array_length(jget(doc, "devices")), ==, 0);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "flash", image, "--all", NULL), ==, 4);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "flash", image, NULL), ==, 4);
}

static void test_wait(Integ *t, gconstpointer data) {
        g_autofree char *image = ctl_image(t, "app.hex", IMAGE_SIZE, false, 10);
        g_auto(CtlResult) r = {};

        /* The board on 1-3 comes two seconds after dfusd started. */
        start(t, 1, "at 2 plug 1-3 part=h743\n", NULL);
        g_assert_cmpint(ctl_run(t, &r, "flash", image, "--wait", "--port", "1-3", "--part", "h743",
                                "--no-leave", NULL),
                        ==, 0);
        g_assert_nonnull(strstr(r.out, "1-3: done"));
        ctl_result_clear(&r);

        /* Waiting needs a part to check the image against before a board is there. */
        g_assert_cmpint(ctl_run(t, &r, "flash", image, "--wait", "--port", "9-9", NULL), ==, 2);
        ctl_result_clear(&r);
        /* Nobody comes: no board. */
        g_assert_cmpint(ctl_run(t, &r, "flash", image, "--wait", "--port", "9-9", "--part", "h743",
                                "--timeout", "1", NULL),
                        ==, 4);
        g_assert_nonnull(strstr(r.out, "port=9-9: waiting"));
}

/* Polls `dfusctl jobs --json` until a job is running; returns its Id. */
static char *wait_running_job(Integ *t) {
        for (unsigned i = 0; i < 1000; i++) {
                g_auto(CtlResult) r = {};
                g_autoptr(json_object) doc = NULL;
                json_object *jobs;

                g_assert_cmpint(ctl_run(t, &r, "jobs", "--json", NULL), ==, 0);
                doc = ctl_json(&r);
                jobs = jget(doc, "jobs");
                for (size_t k = 0; k < json_object_array_length(jobs); k++) {
                        json_object *j = json_object_array_get_idx(jobs, k);
                        if (g_str_equal(jstr(j, "State"), "erasing") ||
                            g_str_equal(jstr(j, "State"), "writing"))
                                return g_strdup_printf("%" G_GUINT64_FORMAT,
                                                       json_object_get_uint64(jget(j, "Id")));
                }
                g_usleep(10 * 1000);
        }
        g_error("no job started");
}

static void test_jobs_cancel(Integ *t, gconstpointer data) {
        g_autofree char *image = ctl_image(t, "app.hex", 256 * 1024, true, 5);
        g_autofree char *id = NULL;
        g_auto(CtlResult) r = {};
        g_autoptr(json_object) doc = NULL;
        json_object *jobs;
        const char *state = NULL;

        /* Slow boards, so that the job is still running when it is cancelled. */
        start(t, 1, NULL, "0.5");
        g_assert_cmpint(ctl_run(t, &r, "flash", "--no-block", image, "--no-leave", NULL), ==, 0);
        g_assert_true(g_str_has_prefix(r.out, "/org/dfusd/Flash1/job/"));
        g_assert_nonnull(strstr(r.err, ".hex: 0x38000000-0x380000FF"));
        ctl_result_clear(&r);

        id = wait_running_job(t);
        g_assert_cmpint(ctl_run(t, &r, "jobs", NULL), ==, 0);
        g_assert_nonnull(strstr(r.out, "STATE"));
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "cancel", id, NULL), ==, 0);
        ctl_result_clear(&r);
        for (unsigned i = 0; i < 1000; i++) {
                g_clear_pointer(&doc, json_object_put);
                ctl_result_clear(&r);
                g_assert_cmpint(ctl_run(t, &r, "job", id, "--json", NULL), ==, 0);
                doc = ctl_json(&r);
                state = jstr(doc, "State");
                if (g_str_equal(state, "cancelled") || g_str_equal(state, "done") ||
                    g_str_equal(state, "failed"))
                        break;
                g_usleep(10 * 1000);
        }
        g_assert_cmpstr(state, ==, "cancelled");
        g_assert_nonnull(array_find(jget(doc, "Report"), "verdict", "drop"));
        ctl_result_clear(&r);

        /* Human form of one job: properties and the report. */
        g_assert_cmpint(ctl_run(t, &r, "job", id, NULL), ==, 0);
        g_assert_nonnull(strstr(r.out, "cancelled"));
        g_assert_nonnull(strstr(r.out, "0x38000000"));
        g_assert_nonnull(strstr(r.out, "NOLOAD"));
        ctl_result_clear(&r);

        /* Finished jobs show with --all only. */
        g_clear_pointer(&doc, json_object_put);
        g_assert_cmpint(ctl_run(t, &r, "jobs", "--json", NULL), ==, 0);
        doc = ctl_json(&r);
        g_assert_cmpuint(json_object_array_length(jget(doc, "jobs")), ==, 0);
        ctl_result_clear(&r);
        g_clear_pointer(&doc, json_object_put);
        g_assert_cmpint(ctl_run(t, &r, "jobs", "--all", "--json", NULL), ==, 0);
        doc = ctl_json(&r);
        jobs = jget(doc, "jobs");
        g_assert_cmpuint(json_object_array_length(jobs), ==, 1);
        ctl_result_clear(&r);

        g_assert_cmpint(ctl_run(t, &r, "job", "999", NULL), ==, 2);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "job", "not-a-number", NULL), ==, 2);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "cancel", "999", NULL), ==, 2);
}

/* Ctrl-C while following cancels the job; the exit status says so. */
static void test_interrupt(Integ *t, gconstpointer data) {
        g_autofree char *image = ctl_image(t, "app.hex", 256 * 1024, false, 6);
        g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE);
        g_autoptr(GSubprocess) p = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *id = NULL, *out = NULL;
        g_auto(GStrv) env = NULL;

        start(t, 1, NULL, "0.5");
        env = ctl_environ(t);
        g_subprocess_launcher_set_environ(l, env);
        p = g_subprocess_launcher_spawn(l, &error, ctl_path(), "--user", "flash", image, "--no-leave", NULL);
        g_assert_no_error(error);
        id = wait_running_job(t);
        g_subprocess_send_signal(p, SIGINT);
        g_assert_true(g_subprocess_communicate_utf8(p, NULL, NULL, &out, NULL, &error));
        g_assert_no_error(error);
        g_test_message("%s", out);
        g_assert_true(g_subprocess_get_if_exited(p));
        g_assert_cmpint(g_subprocess_get_exit_status(p), ==, 7);
        g_assert_nonnull(strstr(out, "1-1: cancelled"));
}

static void test_rules(Integ *t, gconstpointer data) {
        g_autofree char *image = ctl_image(t, "app.hex", IMAGE_SIZE, false, 7);
        g_auto(CtlResult) r = {};
        g_autoptr(json_object) added = NULL, list = NULL;
        json_object *rules, *options;
        g_autofree char *path = NULL;

        start(t, 1, NULL, NULL);
        g_assert_cmpint(ctl_run(t, &r, "rule", "add", image, "--match", "port=3-*", "--every-time",
                                "--no-leave", "--json", NULL),
                        ==, 0);
        added = ctl_json(&r);
        g_assert_cmpstr(jstr(added, "Match"), ==, "port=3-*");
        g_assert_false(json_object_get_boolean(jget(added, "Once")));
        path = g_strdup(jstr(added, "path"));
        ctl_result_clear(&r);

        g_assert_cmpint(ctl_run(t, &r, "rule", "add", image, "--match", "serial=ABC*", NULL), ==, 0);
        g_assert_true(g_str_has_prefix(r.out, "/org/dfusd/Flash1/rule/"));
        ctl_result_clear(&r);

        g_assert_cmpint(ctl_run(t, &r, "rule", "list", "--json", NULL), ==, 0);
        list = ctl_json(&r);
        rules = jget(list, "rules");
        g_assert_cmpuint(json_object_array_length(rules), ==, 2);
        options = jget(array_find(rules, "path", path), "Options");
        g_assert_false(json_object_get_boolean(jget(options, "leave")));
        ctl_result_clear(&r);

        g_assert_cmpint(ctl_run(t, &r, "rule", "list", NULL), ==, 0);
        g_assert_nonnull(strstr(r.out, "port=3-*"));
        g_assert_nonnull(strstr(r.out, "serial=ABC*"));
        ctl_result_clear(&r);

        g_assert_cmpint(ctl_run(t, &r, "rule", "remove", path, NULL), ==, 0);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "rule", "remove", path, NULL), ==, 2);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "rule", "list", NULL), ==, 0);
        g_assert_null(strstr(r.out, "port=3-*"));
        ctl_result_clear(&r);

        g_assert_cmpint(ctl_run(t, &r, "rule", "add", image, "--match", "colour=red", NULL), ==, 2);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "rule", "add", image, NULL), ==, 2);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "rule", "frob", NULL), ==, 2);
}

/* How many entries `dfusctl history OPTION VALUE --json` lists. */
static size_t history_count(Integ *t, const char *option, const char *value) {
        g_auto(CtlResult) r = {};
        g_autoptr(json_object) doc = NULL;

        g_assert_cmpint(ctl_run(t, &r, "history", option, value, "--json", NULL), ==, 0);
        doc = ctl_json(&r);
        return json_object_array_length(jget(doc, "entries"));
}

static void test_history(Integ *t, gconstpointer data) {
        g_autofree char *image = ctl_image(t, "app.hex", IMAGE_SIZE, false, 8);
        g_auto(CtlResult) r = {};
        g_autoptr(json_object) doc = NULL;
        json_object *entries;

        start(t, 2, NULL, NULL);
        g_assert_cmpint(ctl_run(t, &r, "flash", image, "--port", "1-2", "--no-leave", NULL), ==, 0);
        ctl_result_clear(&r);

        g_assert_cmpint(ctl_run(t, &r, "history", "--json", NULL), ==, 0);
        doc = ctl_json(&r);
        entries = jget(doc, "entries");
        g_assert_cmpuint(json_object_array_length(entries), ==, 1);
        g_assert_cmpstr(jstr(json_object_array_get_idx(entries, 0), "port"), ==, "1-2");
        ctl_result_clear(&r);

        g_assert_cmpint(ctl_run(t, &r, "history", NULL), ==, 0);
        g_assert_nonnull(strstr(r.out, "1-2"));
        g_assert_nonnull(strstr(r.out, "done"));
        ctl_result_clear(&r);

        g_assert_cmpuint(history_count(t, "--port", "1-1"), ==, 0);
        g_assert_cmpuint(history_count(t, "--since", "1h"), ==, 1);
        g_assert_cmpuint(history_count(t, "--since", "@4102444800"), ==, 0);

        g_assert_cmpint(ctl_run(t, &r, "history", "--since", "last tuesday", NULL), ==, 2);
}

static void test_inspect_device(Integ *t, gconstpointer data) {
        g_autofree char *image = ctl_image(t, "app.hex", IMAGE_SIZE, true, 9);
        g_auto(CtlResult) r = {};
        g_autoptr(json_object) doc = NULL;

        start(t, 1, NULL, NULL);
        g_assert_cmpint(ctl_run(t, &r, "inspect", "--device", "1-1", image, "--json", NULL), ==, 0);
        doc = ctl_json(&r);
        g_assert_true(json_object_get_boolean(jget(doc, "accepted")));
        g_assert_cmpstr(jstr(doc, "part"), ==, "h743");
        g_assert_cmpuint(json_object_array_length(jget(doc, "segments")), ==, 2);
        g_assert_nonnull(array_find(jget(doc, "segments"), "verdict", "drop"));
        g_assert_cmpuint(json_object_get_uint64(jget(jget(doc, "plan"), "bytes-total")), ==, IMAGE_SIZE);
        ctl_result_clear(&r);

        g_assert_cmpint(ctl_run(t, &r, "inspect", "--device", "1-1", image, NULL), ==, 0);
        g_assert_nonnull(strstr(r.out, "accepted"));
        g_assert_nonnull(strstr(r.out, "0x38000000"));
        ctl_result_clear(&r);

        g_assert_cmpint(ctl_run(t, &r, "inspect", "--device", "1-1", "--strict", image, NULL), ==, 1);
        g_assert_nonnull(strstr(r.out, "rejected"));
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "inspect", "--device", "7-7", image, NULL), ==, 4);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/client/devices", Integ, NULL, integ_setup, test_devices, integ_teardown);
        g_test_add("/client/devices/duplicate", Integ, NULL, integ_setup, test_devices_duplicate,
                   integ_teardown);
        g_test_add("/client/flash/stdin", Integ, NULL, integ_setup, test_flash_stdin, integ_teardown);
        g_test_add("/client/flash/text", Integ, NULL, integ_setup, test_flash_text, integ_teardown);
        g_test_add("/client/flash/station", Integ, NULL, integ_setup, test_flash_station, integ_teardown);
        g_test_add("/client/flash/json-all", Integ, NULL, integ_setup, test_flash_json, integ_teardown);
        g_test_add("/client/flash/exit-status", Integ, NULL, integ_setup, test_exit_status, integ_teardown);
        g_test_add("/client/flash/board-fails", Integ, NULL, integ_setup, test_board_fails, integ_teardown);
        g_test_add("/client/flash/no-board", Integ, NULL, integ_setup, test_no_board, integ_teardown);
        g_test_add("/client/flash/wait", Integ, NULL, integ_setup, test_wait, integ_teardown);
        g_test_add("/client/flash/interrupt", Integ, NULL, integ_setup, test_interrupt, integ_teardown);
        g_test_add("/client/jobs-cancel", Integ, NULL, integ_setup, test_jobs_cancel, integ_teardown);
        g_test_add("/client/rules", Integ, NULL, integ_setup, test_rules, integ_teardown);
        g_test_add("/client/history", Integ, NULL, integ_setup, test_history, integ_teardown);
        g_test_add("/client/inspect-device", Integ, NULL, integ_setup, test_inspect_device, integ_teardown);
        return test_run();
}
