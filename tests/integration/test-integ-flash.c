/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Flashing through the daemon: bytes on the simulated boards, the Report, signals, cancellation. */
#include <string.h>

#include "harness.h"
#include "test-main.h"

#define FLASH_BASE 0x08000000u

static int compare_strings(gconstpointer a, gconstpointer b) {
        return g_strcmp0(*(char *const *)a, *(char *const *)b);
}

/* The PortPath of every attached board, sorted. */
static GPtrArray *device_ports(Integ *t) {
        g_autoptr(GVariant) devices = integ_get(t, DFUSD_PATH, DFUSD_MANAGER, "Devices", NULL);
        GPtrArray *ports = g_ptr_array_new_with_free_func(g_free);
        GVariantIter it;
        const char *path;

        g_assert_nonnull(devices);
        g_variant_iter_init(&it, devices);
        while (g_variant_iter_next(&it, "&o", &path))
                g_ptr_array_add(ports, integ_get_string(t, path, DFUSD_DEVICE, "PortPath"));
        g_ptr_array_sort(ports, compare_strings);
        return ports;
}

/* Finds the Report entry at address; returns its verdict. A drop must say what it dropped and why. */
static char *report_verdict(GVariant *report, uint32_t address) {
        GVariantIter it;
        GVariant *entry;

        g_variant_iter_init(&it, report);
        while ((entry = g_variant_iter_next_value(&it))) {
                g_autoptr(GVariant) e = entry;
                guint32 a;
                const char *verdict, *kind = NULL, *reason = NULL;
                if (!g_variant_lookup(e, "address", "u", &a) || a != address ||
                    !g_variant_lookup(e, "verdict", "&s", &verdict))
                        continue;
                if (g_str_equal(verdict, "drop")) {
                        g_assert_true(g_variant_lookup(e, "kind", "&s", &kind));
                        g_assert_cmpstr(kind, ==, "RAM");
                        g_assert_true(g_variant_lookup(e, "reason", "&s", &reason));
                        g_test_message("0x%08x dropped: %s", address, reason);
                        g_assert_cmpstr(reason, !=, "");
                }
                return g_strdup(verdict);
        }
        return NULL;
}

/*
 * Flashes the CM7 and CM4 images of a dual-core H747 in one job: the SRAM4 mailbox and the DTCM boot
 * flag are dropped (and say so in the Report), the flash bytes land exactly.
 */
static void flash_dualcore(Integ *t, const char *f7, const char *f4, GBytes *expect7, GBytes *expect4) {
        const char *parts[] = {"h747", NULL};
        g_autofree char *job = NULL, *state = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) report = NULL;
        g_autoptr(GBytes) dump = NULL;
        g_autoptr(GPtrArray) ports = NULL;
        struct {
                uint32_t address;
                const char *verdict;
        } expect[] = {
                {FLASH_BASE, "keep"}, {0x08100000, "keep"}, {0x38000000, "drop"}, {0x2001FF00, "drop"}};

        integ_start(t, &(IntegRun){.boards = 1, .parts = parts});
        integ_wait_devices(t, 1, 10);
        ports = device_ports(t);

        job = integ_submit(t, (const char *[]){f7, f4, NULL}, NULL, &error);
        g_assert_no_error(error);
        state = integ_wait_job(t, job, 60);
        g_assert_cmpstr(state, ==, "done");

        report = integ_get(t, job, DFUSD_JOB, "Report", &error);
        g_assert_no_error(error);
        g_assert_cmpuint(g_variant_n_children(report), ==, G_N_ELEMENTS(expect));
        for (size_t i = 0; i < G_N_ELEMENTS(expect); i++) {
                g_autofree char *verdict = report_verdict(report, expect[i].address);
                g_test_message("0x%08x: %s", expect[i].address, verdict);
                g_assert_cmpstr(verdict, ==, expect[i].verdict);
        }

        integ_stop(t);
        dump = integ_dump(t, ports->pdata[0]);
        g_assert_nonnull(dump);
        integ_assert_flash(dump, FLASH_BASE, FLASH_BASE, g_bytes_get_data(expect7, NULL),
                           g_bytes_get_size(expect7));
        integ_assert_flash(dump, FLASH_BASE, 0x08100000, g_bytes_get_data(expect4, NULL),
                           g_bytes_get_size(expect4));
        /* the rest of both 128 KiB sectors was erased and left blank */
        integ_assert_blank(dump, FLASH_BASE, FLASH_BASE + g_bytes_get_size(expect7),
                           128 * 1024 - g_bytes_get_size(expect7));
        integ_assert_blank(dump, FLASH_BASE, 0x08100000 + g_bytes_get_size(expect4),
                           128 * 1024 - g_bytes_get_size(expect4));
}

static GBytes *read_bytes(const char *path) {
        char *data = NULL;
        gsize size = 0;
        g_autoptr(GError) error = NULL;

        g_file_get_contents(path, &data, &size, &error);
        g_assert_no_error(error);
        return g_bytes_new_take(data, size);
}

/* The committed fixture built from sources; objcopy, a peer, gives the CM4's expected flash bytes. */
static void test_dualcore_fixture(Integ *t, gconstpointer data) {
        const char *dir = g_getenv("DFUSD_FIXTURES");
        g_autofree char *f7 = NULL, *f4 = NULL, *bin7 = NULL, *bin4 = NULL, *out = NULL, *err = NULL;
        g_autoptr(GBytes) expect7 = NULL, expect4 = NULL;
        g_autoptr(GError) error = NULL;
        int status = 0;

        g_assert_nonnull(dir);
        f7 = g_build_filename(dir, "dualcore", "cm7.hex", NULL);
        f4 = g_build_filename(dir, "dualcore", "cm4.hex", NULL);
        bin7 = g_build_filename(dir, "dualcore", "cm7-flash-only.bin", NULL);
        bin4 = g_build_filename(t->dir, "cm4.bin", NULL);
        g_spawn_sync(NULL, (char *[]){"arm-none-eabi-objcopy", "-I", "ihex", "-O", "binary", f4, bin4, NULL},
                     NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, &error);
        g_assert_no_error(error);
        if (!g_spawn_check_wait_status(status, NULL))
                g_error("objcopy failed: %s%s", out, err);
        expect7 = read_bytes(bin7);
        expect4 = read_bytes(bin4);
        g_assert_cmpuint(g_bytes_get_size(expect4), >, 0);
        flash_dualcore(t, f7, f4, expect7, expect4);
}

/* The same shape with larger generated images: several blocks per core, RAM pieces in both. */
static void test_dualcore_generated(Integ *t, gconstpointer data) {
        g_autofree uint8_t *cm7 = integ_pattern(6000, 7), *cm4 = integ_pattern(3000, 4);
        g_autofree uint8_t *mailbox = integ_pattern(64, 1), *flag = integ_pattern(256, 2);
        IntegSegment cm7_segs[] = {{FLASH_BASE, cm7, 6000}, {0x2001FF00, flag, 256}};
        IntegSegment cm4_segs[] = {{0x08100000, cm4, 3000}, {0x38000000, mailbox, 64}};
        g_autofree char *f7 = integ_write_ihex(t, "cm7.hex", cm7_segs, G_N_ELEMENTS(cm7_segs));
        g_autofree char *f4 = integ_write_ihex(t, "cm4.hex", cm4_segs, G_N_ELEMENTS(cm4_segs));
        g_autoptr(GBytes) expect7 = g_bytes_new(cm7, 6000), expect4 = g_bytes_new(cm4, 3000);

        flash_dualcore(t, f7, f4, expect7, expect4);
}

static void test_four_boards(Integ *t, gconstpointer data) {
        enum { N = 4, SIZE = 20000 };
        g_autoptr(GPtrArray) ports = NULL;
        uint8_t *img[N];
        char *jobs[N];

        /*
         * Concurrency without a clock: every board holds its first operation (its polls answer busy)
         * until all four are busy at once, so a daemon that ran the jobs one after another would never
         * finish one, and the simulator's own record of the overlap is what the test reads.
         */
        integ_start(t,
                    &(IntegRun){.boards = N, .parts = (const char *[]){"f405", NULL}, .hold_until_busy = N});
        integ_wait_devices(t, N, 10);
        ports = device_ports(t);
        g_assert_cmpuint(ports->len, ==, N);

        for (unsigned i = 0; i < N; i++) {
                g_autoptr(GError) error = NULL;
                g_autofree char *name = g_strdup_printf("board%u.hex", i);
                g_autofree char *file = NULL;
                img[i] = integ_pattern(SIZE, 100 + i);
                file = integ_write_ihex(t, name, &(IntegSegment){FLASH_BASE, img[i], SIZE}, 1);
                jobs[i] = integ_submit(t, (const char *[]){file, NULL},
                                       integ_options("port", g_variant_new_string(ports->pdata[i]), NULL),
                                       &error);
                g_assert_no_error(error);
        }
        for (unsigned i = 0; i < N; i++) {
                g_autofree char *state = integ_wait_job(t, jobs[i], 60);
                g_assert_cmpstr(state, ==, "done");
        }
        integ_stop(t);
        for (unsigned i = 0; i < N; i++) {
                g_autoptr(GBytes) dump = integ_dump(t, ports->pdata[i]);
                integ_assert_flash(dump, FLASH_BASE, FLASH_BASE, img[i], SIZE);
                g_free(img[i]);
                g_free(jobs[i]);
        }
        /* all four were busy at the same time, as the simulator saw it */
        g_assert_cmpuint(integ_busy_max(t), ==, N);
}

/* Stations from dfusd.conf name ports; a job may target a station. */
static void test_station(Integ *t, gconstpointer data) {
        g_autofree uint8_t *img = integ_pattern(4096, 12);
        g_autofree char *file = integ_write_ihex(t, "app.hex", &(IntegSegment){FLASH_BASE, img, 4096}, 1);
        g_autofree char *job = NULL, *state = NULL, *port = NULL, *dev = NULL, *station = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) d1 = NULL, d2 = NULL;

        integ_start(t, &(IntegRun){.boards = 2, .config = "[Stations]\n1-2=B\n"});
        integ_wait_devices(t, 2, 10);
        job = integ_submit(t, (const char *[]){file, NULL},
                           integ_options("station", g_variant_new_string("B"), NULL), &error);
        g_assert_no_error(error);
        port = integ_get_string(t, job, DFUSD_JOB, "PortPath");
        g_assert_cmpstr(port, ==, "1-2");
        dev = integ_get_string(t, job, DFUSD_JOB, "Device");
        station = integ_get_string(t, dev, DFUSD_DEVICE, "Station");
        g_assert_cmpstr(station, ==, "B");
        state = integ_wait_job(t, job, 60);
        g_assert_cmpstr(state, ==, "done");
        integ_stop(t);
        d1 = integ_dump(t, "1-1");
        d2 = integ_dump(t, "1-2");
        integ_assert_blank(d1, FLASH_BASE, FLASH_BASE, 4096);
        integ_assert_flash(d2, FLASH_BASE, FLASH_BASE, img, 4096);
}

/* F723 bootloaders all report the same serial: both boards say so, and a serial is no target then. */
static void test_duplicate_serial(Integ *t, gconstpointer data) {
        g_autoptr(GVariant) devices = NULL;
        GVariantIter it;
        const char *path;

        integ_start(t, &(IntegRun){.boards = 2, .parts = (const char *[]){"f722", NULL}});
        integ_wait_devices(t, 2, 10);
        devices = integ_get(t, DFUSD_PATH, DFUSD_MANAGER, "Devices", NULL);
        g_variant_iter_init(&it, devices);
        while (g_variant_iter_next(&it, "&o", &path)) {
                g_autoptr(GVariant) dup = integ_get(t, path, DFUSD_DEVICE, "SerialDuplicated", NULL);
                g_autofree char *serial = integ_get_string(t, path, DFUSD_DEVICE, "Serial");
                g_assert_cmpstr(serial, ==, "STM32FxSTM32");
                g_assert_nonnull(dup);
                g_assert_true(g_variant_get_boolean(dup));
        }
}

typedef struct Signals {
        unsigned job_new, job_removed, completed;
        char *new_path, *removed_path, *removed_result;
        gboolean success;
        char *message;
} Signals;

static void on_signal(GDBusConnection *c, const char *sender, const char *path, const char *iface,
                      const char *name, GVariant *params, gpointer userdata) {
        Signals *s = userdata;
        guint32 id;

        if (g_str_equal(name, "JobNew")) {
                s->job_new++;
                g_free(s->new_path);
                g_variant_get(params, "(uo)", &id, &s->new_path);
        } else if (g_str_equal(name, "JobRemoved")) {
                s->job_removed++;
                g_free(s->removed_path);
                g_free(s->removed_result);
                g_variant_get(params, "(uos)", &id, &s->removed_path, &s->removed_result);
        } else if (g_str_equal(name, "Completed")) {
                s->completed++;
                g_free(s->message);
                g_variant_get(params, "(bs)", &s->success, &s->message);
        }
}

static void test_signals(Integ *t, gconstpointer data) {
        g_autofree uint8_t *img = integ_pattern(4096, 9);
        g_autofree char *file = NULL, *job = NULL, *state = NULL;
        g_autoptr(GError) error = NULL;
        Signals s = {0};
        guint sub_new, sub_removed, sub_completed;

        file = integ_write_ihex(t, "app.hex", &(IntegSegment){FLASH_BASE, img, 4096}, 1);
        /* finished jobs leave the bus (JobRemoved) after a second instead of five minutes */
        integ_start(t, &(IntegRun){.boards = 1, .config = "[Daemon]\nJobLinger=1\n"});
        integ_wait_devices(t, 1, 10);
        sub_new = g_dbus_connection_signal_subscribe(t->conn, DFUSD_BUS_NAME, DFUSD_MANAGER, "JobNew",
                                                     DFUSD_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_signal,
                                                     &s, NULL);
        sub_removed = g_dbus_connection_signal_subscribe(t->conn, DFUSD_BUS_NAME, DFUSD_MANAGER,
                                                         "JobRemoved", DFUSD_PATH, NULL,
                                                         G_DBUS_SIGNAL_FLAGS_NONE, on_signal, &s, NULL);
        sub_completed =
                g_dbus_connection_signal_subscribe(t->conn, DFUSD_BUS_NAME, DFUSD_JOB, "Completed", NULL,
                                                   NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_signal, &s, NULL);
        /* the match rules reach the bus before the call below goes out on the same connection */
        job = integ_submit(t, (const char *[]){file, NULL}, NULL, &error);
        g_assert_no_error(error);
        state = integ_wait_job(t, job, 60);
        g_assert_cmpstr(state, ==, "done");

        for (unsigned i = 0; i < 1000 && (s.job_new == 0 || s.completed == 0 || s.job_removed == 0); i++) {
                while (g_main_context_iteration(NULL, FALSE))
                        ;
                g_usleep(10 * 1000);
        }
        g_assert_cmpuint(s.job_new, ==, 1);
        g_assert_cmpstr(s.new_path, ==, job);
        g_assert_cmpuint(s.completed, ==, 1);
        g_assert_true(s.success);
        g_assert_cmpuint(s.job_removed, ==, 1);
        g_assert_cmpstr(s.removed_path, ==, job);
        g_assert_cmpstr(s.removed_result, ==, "done");

        g_dbus_connection_signal_unsubscribe(t->conn, sub_new);
        g_dbus_connection_signal_unsubscribe(t->conn, sub_removed);
        g_dbus_connection_signal_unsubscribe(t->conn, sub_completed);
        g_free(s.new_path);
        g_free(s.removed_path);
        g_free(s.removed_result);
        g_free(s.message);
}

static void test_cancel(Integ *t, gconstpointer data) {
        enum { SIZE = 512 * 1024 };
        g_autofree uint8_t *img = integ_pattern(SIZE, 11);
        g_autofree char *file = NULL, *job = NULL, *state = NULL, *err = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = NULL;

        file = integ_write_ihex(t, "big.hex", &(IntegSegment){FLASH_BASE, img, SIZE}, 1);
        /*
         * The board holds its first erase (it waits for a second busy board that never comes) until
         * the test has cancelled and releases it: the cancel lands mid-job whatever the machine's speed.
         */
        integ_start(t,
                    &(IntegRun){.boards = 1, .parts = (const char *[]){"h743", NULL}, .hold_until_busy = 2});
        integ_wait_devices(t, 1, 10);
        job = integ_submit(t, (const char *[]){file, NULL}, NULL, &error);
        g_assert_no_error(error);
        state = integ_wait_job_state(t, job, "erasing", 30);
        g_assert_cmpstr(state, ==, "erasing");
        r = integ_call(t, job, DFUSD_JOB, "Cancel", NULL, NULL, &error);
        g_assert_no_error(error);
        integ_sim_step(t, "release");
        g_free(state);
        state = integ_wait_job(t, job, 30);
        g_assert_cmpstr(state, ==, "cancelled");
        err = integ_get_string(t, job, DFUSD_JOB, "Error");
        g_assert_cmpstr(err, ==, "Cancelled.");
        /* a finished job cannot be cancelled again, and the daemon still answers */
        g_clear_pointer(&r, g_variant_unref);
        r = integ_call(t, job, DFUSD_JOB, "Cancel", NULL, NULL, &error);
        g_assert_null(r);
        integ_assert_dbus_error(error, "org.dfusd.Flash1.Error.Failed",
                                "Job 1 has already ended (cancelled)", NULL);
        g_clear_error(&error);
        g_clear_pointer(&r, g_variant_unref);
        r = integ_get(t, DFUSD_PATH, DFUSD_MANAGER, "Version", &error);
        g_assert_no_error(error);
        integ_stop(t);
        /* cancelled before any block went out */
        g_autoptr(GBytes) dump = integ_dump(t, "1-1");
        integ_assert_blank(dump, FLASH_BASE, FLASH_BASE, SIZE);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/integ/flash/dualcore-fixture", Integ, NULL, integ_setup, test_dualcore_fixture,
                   integ_teardown);
        g_test_add("/integ/flash/dualcore-generated", Integ, NULL, integ_setup, test_dualcore_generated,
                   integ_teardown);
        g_test_add("/integ/flash/four-boards", Integ, NULL, integ_setup, test_four_boards, integ_teardown);
        g_test_add("/integ/flash/station", Integ, NULL, integ_setup, test_station, integ_teardown);
        g_test_add("/integ/flash/duplicate-serial", Integ, NULL, integ_setup, test_duplicate_serial,
                   integ_teardown);
        g_test_add("/integ/flash/signals", Integ, NULL, integ_setup, test_signals, integ_teardown);
        g_test_add("/integ/flash/cancel", Integ, NULL, integ_setup, test_cancel, integ_teardown);
        return test_run();
}
