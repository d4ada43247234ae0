/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dfusctl against the real dfusd on simulated boards: every verb, as text and as JSON, and the exit
 * status of each way a command can end. */
#include <stdarg.h>
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
        /* A directory opens, but is no image: refused as unreadable, naming it, before any call. */
        g_assert_cmpint(ctl_run(t, &r, "flash", t->dir, NULL), ==, 3);
        g_assert_nonnull(strstr(r.err, t->dir));
        g_assert_nonnull(strstr(r.err, "directory"));
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "rule", "add", t->dir, "--match", "any", NULL), ==, 3);
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
        ctl_result_clear(&r);

        /* The system bus without dfusd on it or able to start it: dfusd is not installed. */
        g_assert_cmpint(ctl_run_system(t, t->bus_address, &r, "devices", NULL), ==, 6);
        g_assert_nonnull(strstr(r.err, "dfusd is not installed or not activatable: see dfusd(8)"));
        ctl_result_clear(&r);

        /* No system bus at all: nothing listens where it should be. */
        g_autofree char *nowhere = g_strdup_printf("unix:path=%s/no-such-bus-socket", t->dir);
        g_assert_cmpint(ctl_run_system(t, nowhere, &r, "jobs", NULL), ==, 6);
        g_assert_nonnull(strstr(r.err, "the system D-Bus is not running"));
        g_assert_nonnull(strstr(r.err, "no-such-bus-socket"));
        g_assert_null(strstr(r.err, "dfusd is not running"));
}

/* dbus-daemon carries at most 16 descriptors in a message: 16 images go through, 17 are refused by
 * dfusctl itself, before it opens or sends anything. */
static void test_image_limit(Integ *t, gconstpointer data) {
        g_autofree char *image = ctl_image(t, "app.hex", IMAGE_SIZE, false, 11);
        g_autoptr(GPtrArray) args = g_ptr_array_new();
        g_auto(CtlResult) r = {};
        const char *const verbs[][3] = {
                {"inspect", "--device", "1-1"}, {"flash", "--port", "1-1"}, {"rule", "add", "--every-time"}};

        start(t, 1, NULL, NULL);
        g_ptr_array_add(args, (char *)"inspect");
        g_ptr_array_add(args, (char *)"--device");
        g_ptr_array_add(args, (char *)"1-1");
        for (unsigned i = 0; i < 16; i++)
                g_ptr_array_add(args, image);
        g_ptr_array_add(args, NULL);
        g_assert_cmpint(ctl_runv(t, NULL, &r, (const char *const *)args->pdata), ==, 0);
        ctl_result_clear(&r);

        for (size_t v = 0; v < G_N_ELEMENTS(verbs); v++) {
                g_ptr_array_set_size(args, 0);
                for (size_t k = 0; k < 3; k++)
                        g_ptr_array_add(args, (char *)verbs[v][k]);
                if (g_str_equal(verbs[v][0], "rule"))
                        g_ptr_array_add(args, (char *)"--match=any");
                for (unsigned i = 0; i < 17; i++)
                        g_ptr_array_add(args, image);
                g_ptr_array_add(args, NULL);
                g_assert_cmpint(ctl_runv(t, NULL, &r, (const char *const *)args->pdata), ==, 2);
                g_assert_nonnull(strstr(r.err, "at most 16 images per job: the D-Bus message limit"));
                g_assert_null(strstr(r.err, "reset by peer"));
                ctl_result_clear(&r);
        }
        /* Nothing reached the daemon. */
        g_assert_cmpint(ctl_run(t, &r, "jobs", "--all", "--no-legend", NULL), ==, 0);
        g_assert_cmpstr(r.out, ==, "");
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "rule", "list", "--no-legend", NULL), ==, 0);
        g_assert_cmpstr(r.out, ==, "");
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

/* Plugs a board at 1-3 once dfusd has a job waiting for one (while dfusctl flash --wait blocks). */
static gpointer plug_when_waiting(gpointer data) {
        Integ *t = data;

        for (unsigned i = 0; i < 6000; i++) {
                g_autoptr(GVariant) jobs = integ_get(t, DFUSD_PATH, DFUSD_MANAGER, "Jobs", NULL);
                for (size_t k = 0; jobs && k < g_variant_n_children(jobs); k++) {
                        g_autoptr(GVariant) path = g_variant_get_child_value(jobs, k);
                        g_autofree char *state =
                                integ_get_string(t, g_variant_get_string(path, NULL), DFUSD_JOB, "State");
                        if (g_str_equal(state, "waiting")) {
                                integ_sim_step(t, "plug 1-3 part=h743");
                                return GINT_TO_POINTER(TRUE);
                        }
                }
                g_usleep(10 * 1000);
        }
        return GINT_TO_POINTER(FALSE);
}

static void test_wait(Integ *t, gconstpointer data) {
        g_autofree char *image = ctl_image(t, "app.hex", IMAGE_SIZE, false, 10);
        g_auto(CtlResult) r = {};
        GThread *plugger;

        /* The board on 1-3 comes once the job waits for it, not at a time dfusctl is expected by. */
        start(t, 1, NULL, NULL);
        plugger = g_thread_new("plug", plug_when_waiting, t);
        g_assert_cmpint(ctl_run(t, &r, "flash", image, "--wait", "--port", "1-3", "--part", "h743",
                                "--no-leave", NULL),
                        ==, 0);
        g_assert_true(GPOINTER_TO_INT(g_thread_join(plugger)));
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

        /* Cancelling it again: it has already ended, nothing to do (2), not a failed board (5). */
        g_assert_cmpint(ctl_run(t, &r, "cancel", id, NULL), ==, 2);
        g_assert_nonnull(strstr(r.err, "already ended"));
        ctl_result_clear(&r);
        {
                g_autoptr(json_object) err = NULL;

                g_assert_cmpint(ctl_run(t, &r, "cancel", id, "--json", NULL), ==, 2);
                err = ctl_json(&r);
                g_assert_cmpint(json_object_get_int(jget(err, "exit_status")), ==, 2);
                ctl_result_clear(&r);
        }

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

        /* Malformed globs are refused by dfusctl, naming the key and the pattern. */
        {
                const char *const bad[][2] = {{"port=[", "port"},
                                              {"serial=ABC[0-9", "serial"},
                                              {"station=[[:alpah:]]", "station"},
                                              {"port=1-1\\", "port"}};

                for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                        g_autofree char *pattern = g_strdup_printf("\"%s\"", strchr(bad[i][0], '=') + 1);
                        g_autofree char *key = g_strdup_printf("--match %s:", bad[i][1]);

                        g_assert_cmpint(ctl_run(t, &r, "rule", "add", image, "--match", "any", "--match",
                                                bad[i][0], NULL),
                                        ==, 2);
                        g_assert_nonnull(strstr(r.err, key));
                        g_assert_nonnull(strstr(r.err, pattern));
                        ctl_result_clear(&r);
                }
        }
        g_assert_cmpint(ctl_run(t, &r, "rule", "add", image, "--match", "port=1-[!2]*", "--match",
                                "serial=[[:xdigit:]]?\\[", NULL),
                        ==, 0);
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

/* CSV as Python's csv module reads it (RFC 4180, strict): a JSON array of one object per row. */
static json_object *csv_rows(Integ *t, const char *text) {
        g_autofree char *path = integ_write_file(t, "history.csv", text, strlen(text));
        g_autofree char *out = NULL, *err = NULL;
        g_autoptr(GError) error = NULL;
        const char *script = "import csv, json, sys\n"
                             "with open(sys.argv[1], newline='') as f:\n"
                             "    print(json.dumps(list(csv.DictReader(f, strict=True))))\n";
        json_object *rows;
        int status;

        g_assert_true(g_spawn_sync(NULL, (char *[]){"python3", "-c", (char *)script, path, NULL}, NULL,
                                   G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, &error));
        g_assert_no_error(error);
        g_assert_cmpint(status, ==, 0);
        rows = json_tokener_parse(out);
        g_assert_nonnull(rows);
        return rows;
}

/* Who asked is kept with the job and shown wherever the job is: Submit's origin, as dfusd-web passes
 * it, in `job ID`, and in the history's table, JSON and CSV. */
static void assert_history_origin(Integ *t, const char *image) {
        const char *const images[] = {image, NULL};
        g_auto(CtlResult) r = {};
        g_autoptr(json_object) doc = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *job = NULL, *state = NULL;
        g_autoptr(json_object) rows = NULL;
        json_object *entries;

        job = integ_submit(t, images,
                           integ_options("port", g_variant_new_string("1-1"), "leave",
                                         g_variant_new_boolean(FALSE), "origin",
                                         g_variant_new_string("web:line3-mes"), NULL),
                           &error);
        g_assert_no_error(error);
        state = integ_wait_job(t, job, 30);
        g_assert_cmpstr(state, ==, "done");

        g_assert_cmpint(ctl_run(t, &r, "job", job, NULL), ==, 0);
        g_assert_nonnull(strstr(r.out, "Asked by: web:line3-mes\n"));
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "history", "--port", "1-1", "--json", NULL), ==, 0);
        doc = ctl_json(&r);
        entries = jget(doc, "entries");
        g_assert_cmpuint(json_object_array_length(entries), ==, 1);
        g_assert_cmpstr(jstr(json_object_array_get_idx(entries, 0), "origin"), ==, "web:line3-mes");
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "history", "--port", "1-1", NULL), ==, 0);
        g_assert_nonnull(strstr(r.out, "web:line3-mes"));
        ctl_result_clear(&r);
        /* the job flashed with dfusctl said nothing: its field is empty */
        g_assert_cmpint(ctl_run(t, &r, "history", "--format", "csv", NULL), ==, 0);
        rows = csv_rows(t, r.out);
        g_assert_cmpuint(json_object_array_length(rows), ==, 2);
        g_assert_cmpstr(jstr(json_object_array_get_idx(rows, 0), "origin"), ==, "");
        g_assert_cmpstr(jstr(json_object_array_get_idx(rows, 1), "origin"), ==, "web:line3-mes");
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
        ctl_result_clear(&r);
        assert_history_origin(t, image);
}

/* dfusd pages its history: GetHistory knows until, image, result and before, and each entry carries a
 * cursor. Needs one job in the history. */
static void assert_history_pages(Integ *t) {
        g_auto(CtlResult) r = {};
        g_autoptr(json_object) doc = NULL;
        json_object *entries;

        g_assert_cmpint(ctl_run(t, &r, "history", "--until", "@4102444800", "--limit", "1", "--json", NULL),
                        ==, 0);
        doc = ctl_json(&r);
        entries = jget(doc, "entries");
        g_assert_cmpuint(json_object_array_length(entries), ==, 1);
        g_assert_true(json_object_object_get_ex(json_object_array_get_idx(entries, 0), "cursor", NULL));
}

/* The ids `dfusctl history ARGS... --format jsonl` prints, in order, as "1 2 3". */
static char *history_ids(Integ *t, const char *first, ...) {
        g_autoptr(GPtrArray) args = g_ptr_array_new();
        g_autoptr(GString) ids = g_string_new(NULL);
        g_auto(GStrv) lines = NULL;
        g_auto(CtlResult) r = {};
        va_list ap;

        g_ptr_array_add(args, (char *)"history");
        va_start(ap, first);
        for (const char *a = first; a; a = va_arg(ap, const char *))
                g_ptr_array_add(args, (char *)a);
        va_end(ap);
        g_ptr_array_add(args, (char *)"--format=jsonl");
        g_ptr_array_add(args, NULL);
        g_assert_cmpint(ctl_runv(t, NULL, &r, (const char *const *)args->pdata), ==, 0);
        lines = g_strsplit(r.out, "\n", -1);
        for (size_t i = 0; lines[i] && lines[i][0]; i++) {
                g_autoptr(json_object) e = json_tokener_parse(lines[i]);

                g_assert_nonnull(e);
                g_string_append_printf(ids, "%s%" G_GUINT64_FORMAT, ids->len ? " " : "",
                                       json_object_get_uint64(jget(e, "id")));
        }
        return g_string_free(g_steal_pointer(&ids), FALSE);
}

/* Five jobs: 1-4 done on 1-1 (4 with another image), 5 failed on 1-2. */
static void history_jobs(Integ *t, char **ret_image, char **ret_other) {
        g_auto(CtlResult) r = {};

        *ret_image = ctl_image(t, "app.hex", IMAGE_SIZE, false, 12);
        *ret_other = ctl_image(t, "other.hex", IMAGE_SIZE, false, 13);
        for (unsigned i = 0; i < 3; i++) {
                g_assert_cmpint(ctl_run(t, &r, "flash", *ret_image, "--port", "1-1", "--no-leave", NULL), ==,
                                0);
                ctl_result_clear(&r);
        }
        g_assert_cmpint(ctl_run(t, &r, "flash", *ret_other, "--port", "1-1", "--no-leave", NULL), ==, 0);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "flash", *ret_image, "--port", "1-2", "--no-leave", NULL), ==, 5);
}

/* Paging: pages of 2 over five jobs, every way of reading them; --limit counts the newest. */
static void test_history_paged(Integ *t, gconstpointer data) {
        g_autofree char *image = NULL, *other = NULL;
        const char *const page_sizes[] = {"1", "2", "5", "1000"};

        start(t, 2, "board 1-2 status errWRITE phase=write\n", NULL);
        history_jobs(t, &image, &other);
        assert_history_pages(t);
        for (size_t i = 0; i < G_N_ELEMENTS(page_sizes); i++) {
                g_autofree char *all = history_ids(t, "--page-size", page_sizes[i], NULL);
                g_autofree char *newest = history_ids(t, "--page-size", page_sizes[i], "--limit", "3", NULL);
                g_auto(CtlResult) r = {};
                g_autoptr(json_object) doc = NULL;
                g_auto(GStrv) lines = NULL;

                g_assert_cmpstr(all, ==, "1 2 3 4 5");
                g_assert_cmpstr(newest, ==, "3 4 5");
                g_assert_cmpint(ctl_run(t, &r, "history", "--page-size", page_sizes[i], "--json", NULL), ==,
                                0);
                doc = ctl_json(&r);
                g_assert_cmpuint(json_object_array_length(jget(doc, "entries")), ==, 5);
                ctl_result_clear(&r);
                g_assert_cmpint(ctl_run(t, &r, "history", "--page-size", page_sizes[i], "--no-legend", NULL),
                                ==, 0);
                lines = g_strsplit(r.out, "\n", -1);
                g_assert_cmpuint(g_strv_length(lines), ==, 6); /* five rows and "" */
        }
}

/* --until, --result and --image filter in dfusd; CSV read back with Python's csv module. */
static void test_history_filters(Integ *t, gconstpointer data) {
        g_autofree char *image = NULL, *other = NULL, *failed = NULL, *none = NULL, *until = NULL;
        g_autofree char *by_image = NULL, *by_other = NULL;
        g_autofree char *sha = NULL, *other_sha = NULL;
        g_autofree char *until_none = NULL, *until_all = NULL;
        g_autoptr(json_object) doc = NULL, rows = NULL;
        g_auto(CtlResult) r = {};
        json_object *entries;

        start(t, 2, "board 1-2 status errWRITE phase=write\n", NULL);
        history_jobs(t, &image, &other);
        assert_history_pages(t);
        g_assert_cmpint(ctl_run(t, &r, "history", "--json", NULL), ==, 0);
        doc = ctl_json(&r);
        entries = jget(doc, "entries");
        sha = g_strdup(jstr(json_object_array_get_idx(entries, 0), "image-sha256"));
        other_sha = g_ascii_strup(jstr(json_object_array_get_idx(entries, 3), "image-sha256"), -1);
        /* --until is inclusive, in whole seconds here: the second after the last job ends takes all. */
        until = g_strdup_printf(
                "@%" G_GUINT64_FORMAT,
                json_object_get_uint64(jget(json_object_array_get_idx(entries, 4), "end-time")) /
                                G_USEC_PER_SEC +
                        1);
        ctl_result_clear(&r);

        failed = history_ids(t, "--result", "failed", NULL);
        g_assert_cmpstr(failed, ==, "5");
        none = history_ids(t, "--result", "cancelled", NULL);
        g_assert_cmpstr(none, ==, "");
        by_image = history_ids(t, "--image", sha, "--page-size", "1", NULL);
        g_assert_cmpstr(by_image, ==, "1 2 3 5");
        by_other = history_ids(t, "--image", other_sha, NULL); /* upper case is taken */
        g_assert_cmpstr(by_other, ==, "4");
        until_none = history_ids(t, "--until", "@1", NULL);
        g_assert_cmpstr(until_none, ==, "");
        until_all = history_ids(t, "--since", "@1", "--until", until, "--page-size", "2", NULL);
        g_assert_cmpstr(until_all, ==, "1 2 3 4 5");

        /* CSV: a header and one RFC 4180 row per job, CRLF; Python reads back what --json says. */
        g_assert_cmpint(ctl_run(t, &r, "history", "--format", "csv", "--page-size", "2", NULL), ==, 0);
        g_assert_true(g_str_has_prefix(r.out, "id,result,error,port,serial,station,target,image-sha256,"));
        g_assert_true(g_str_has_suffix(r.out, "\r\n"));
        rows = csv_rows(t, r.out);
        g_assert_cmpuint(json_object_array_length(rows), ==, 5);
        for (size_t i = 0; i < 5; i++) {
                json_object *row = json_object_array_get_idx(rows, i),
                            *e = json_object_array_get_idx(entries, i);
                g_autofree char *id =
                        g_strdup_printf("%" G_GUINT64_FORMAT, json_object_get_uint64(jget(e, "id")));
                g_autofree char *end =
                        g_strdup_printf("%" G_GUINT64_FORMAT, json_object_get_uint64(jget(e, "end-time")));

                g_assert_cmpstr(jstr(row, "id"), ==, id);
                g_assert_cmpstr(jstr(row, "result"), ==, jstr(e, "result"));
                g_assert_cmpstr(jstr(row, "port"), ==, jstr(e, "port"));
                g_assert_cmpstr(jstr(row, "image-sha256"), ==, jstr(e, "image-sha256"));
                g_assert_cmpstr(jstr(row, "end-time-usec"), ==, end);
                g_assert_true(g_str_has_suffix(jstr(row, "end-time"), "Z"));
        }
        g_assert_cmpstr(jstr(json_object_array_get_idx(rows, 4), "error"), ==,
                        jstr(json_object_array_get_idx(entries, 4), "error"));
}

/* What dfusctl checks itself, whatever the daemon: exit 2 and a message naming the option. */
static void test_history_arguments(Integ *t, gconstpointer data) {
        const char *const bad[][3] = {
                {"--result", "canceled", "--result"}, {"--image", "abc", "--image"},
                {"--image", "0123", "64 hex digits"}, {"--format", "xml", "--format"},
                {"--until", "someday", "--until"},    {"--page-size", "1001", "--page-size"},
                {"--limit", "lots", "--limit"},
        };
        g_auto(CtlResult) r = {};

        start(t, 0, NULL, NULL);
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_assert_cmpint(ctl_run(t, &r, "history", bad[i][0], bad[i][1], NULL), ==, 2);
                g_assert_nonnull(strstr(r.err, bad[i][2]));
                ctl_result_clear(&r);
        }
        g_assert_cmpint(ctl_run(t, &r, "history", "--since", "today", "--until", "yesterday", NULL), ==, 2);
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "history", "--json", "--format", "csv", NULL), ==, 2);
        ctl_result_clear(&r);
        /* An empty history: a CSV header, no JSON lines. */
        g_assert_cmpint(ctl_run(t, &r, "history", "--format", "csv", NULL), ==, 0);
        g_assert_true(g_str_has_prefix(r.out, "id,result,"));
        g_assert_true(g_str_has_suffix(r.out, "end-time-usec,trust,protection,values,origin\r\n"));
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "history", "--format", "csv", "--no-legend", NULL), ==, 0);
        g_assert_cmpstr(r.out, ==, "");
        ctl_result_clear(&r);
        g_assert_cmpint(ctl_run(t, &r, "history", "--format", "jsonl", NULL), ==, 0);
        g_assert_cmpstr(r.out, ==, "");
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
        g_test_add("/client/flash/image-limit", Integ, NULL, integ_setup, test_image_limit, integ_teardown);
        g_test_add("/client/flash/board-fails", Integ, NULL, integ_setup, test_board_fails, integ_teardown);
        g_test_add("/client/flash/no-board", Integ, NULL, integ_setup, test_no_board, integ_teardown);
        g_test_add("/client/flash/wait", Integ, NULL, integ_setup, test_wait, integ_teardown);
        g_test_add("/client/flash/interrupt", Integ, NULL, integ_setup, test_interrupt, integ_teardown);
        g_test_add("/client/jobs-cancel", Integ, NULL, integ_setup, test_jobs_cancel, integ_teardown);
        g_test_add("/client/rules", Integ, NULL, integ_setup, test_rules, integ_teardown);
        g_test_add("/client/history", Integ, NULL, integ_setup, test_history, integ_teardown);
        g_test_add("/client/history/paged", Integ, NULL, integ_setup, test_history_paged, integ_teardown);
        g_test_add("/client/history/filters", Integ, NULL, integ_setup, test_history_filters,
                   integ_teardown);
        g_test_add("/client/history/arguments", Integ, NULL, integ_setup, test_history_arguments,
                   integ_teardown);
        g_test_add("/client/inspect-device", Integ, NULL, integ_setup, test_inspect_device, integ_teardown);
        return test_run();
}
