/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dfusd under load: 1, 8 and 32 simulated boards flashed at once through the daemon. Prints a table:
 * makespan and its ratio to one board, D-Bus property Get latency (p50/p99) while the boards flash,
 * the daemon's peak RSS, PropertiesChanged signals per second per job, and the time from a board's
 * arrival to the first DFU request of an auto-flash rule's job. Figures from one run each; nothing is
 * asserted.
 *
 * Usage: daemon-bench [--boards 1,8,32] [--size BYTES] [--time-scale X]
 * (DFUSD_BIN and DFUSD_SIM name the programs, as for the integration tests.)
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench-proc.h"
#include "harness.h"

#define FLASH_BASE 0x08000000u

typedef struct Figures {
        unsigned boards;
        double makespan_s;
        double p50_ms, p99_ms, max_ms;
        unsigned calls;
        unsigned long rss_kib;
        unsigned failed;
        unsigned changed; /* PropertiesChanged signals received */
} Figures;

static void on_changed(GDBusConnection *c, const char *sender, const char *path, const char *iface,
                       const char *name, GVariant *params, gpointer userdata) {
        (*(unsigned *)userdata)++;
}

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int compare_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

static bool job_final(const char *s) {
        return g_str_equal(s, "done") || g_str_equal(s, "failed") || g_str_equal(s, "cancelled");
}

/* Counts unfinished jobs; counts failures into *failed once all are final. */
static unsigned jobs_running(Integ *t, char **jobs, unsigned n, unsigned *failed) {
        unsigned running = 0, bad = 0;

        for (unsigned i = 0; i < n; i++) {
                g_autofree char *s = integ_get_string(t, jobs[i], DFUSD_JOB, "State");
                if (!job_final(s))
                        running++;
                else if (!g_str_equal(s, "done"))
                        bad++;
        }
        *failed = bad;
        return running;
}

static void flash_many(Integ *t, unsigned n, size_t size, const char *time_scale, Figures *f) {
        g_autofree uint8_t *img = integ_pattern(size, 1);
        g_autofree char *file = integ_write_ihex(t, "app.hex", &(IntegSegment){FLASH_BASE, img, size}, 1);
        g_autoptr(GArray) lat = g_array_new(FALSE, FALSE, sizeof(double));
        g_autoptr(GVariant) devices = NULL;
        char **jobs = g_new0(char *, n + 1);
        const char *parts[] = {"f405", NULL};
        double start;

        integ_start(t, &(IntegRun){.boards = n, .parts = parts, .time_scale = time_scale});
        integ_wait_devices(t, n, 30);
        devices = integ_get(t, DFUSD_PATH, DFUSD_MANAGER, "Devices", NULL);

        guint sub = g_dbus_connection_signal_subscribe(
                t->conn, DFUSD_BUS_NAME, "org.freedesktop.DBus.Properties", "PropertiesChanged", NULL, NULL,
                G_DBUS_SIGNAL_FLAGS_NONE, on_changed, &f->changed, NULL);
        start = now_s();
        for (unsigned i = 0; i < n; i++) {
                g_autoptr(GError) error = NULL;
                const char *dev;
                g_autofree char *port = NULL;
                g_variant_get_child(devices, i, "&o", &dev);
                port = integ_get_string(t, dev, DFUSD_DEVICE, "PortPath");
                jobs[i] = integ_submit(t, (const char *[]){file, NULL},
                                       integ_options("port", g_variant_new_string(port), NULL), &error);
                if (!jobs[i])
                        g_error("Submit for %s: %s", port, error->message);
        }
        for (unsigned iter = 0;; iter++) {
                double t0 = now_s(), dt;
                g_autoptr(GVariant) v = integ_get(t, DFUSD_PATH, DFUSD_MANAGER, "MaxParallel", NULL);
                dt = (now_s() - t0) * 1e3;
                if (!v)
                        g_error("Get MaxParallel failed while %u boards flash", n);
                g_array_append_val(lat, dt);
                if (iter % 20 == 0 && jobs_running(t, jobs, n, &f->failed) == 0)
                        break;
                while (g_main_context_iteration(NULL, FALSE))
                        ;
                /* a client polling hard, not one flooding the bus */
                g_usleep(1000);
        }
        f->makespan_s = now_s() - start;
        while (g_main_context_iteration(NULL, FALSE))
                ;
        g_dbus_connection_signal_unsubscribe(t->conn, sub);
        f->boards = n;
        f->rss_kib = peak_rss_kib(integ_daemon_pid(t));
        g_array_sort(lat, compare_double);
        f->calls = lat->len;
        f->p50_ms = g_array_index(lat, double, lat->len / 2);
        f->p99_ms = g_array_index(lat, double, lat->len * 99 / 100);
        f->max_ms = g_array_index(lat, double, lat->len - 1);
        integ_stop(t);
        g_strfreev(jobs);
}

/* From the runner's dump of the board at port: arrival and first DFU request, CLOCK_MONOTONIC µs. */
static bool runner_attach_us(Integ *t, const char *port, double *ret_ms) {
        g_autofree char *name = g_strconcat(port, ".json", NULL);
        g_autofree char *path = g_build_filename(t->dump_dir, name, NULL);
        json_object *o = json_object_from_file(path), *plugged, *first;
        bool ok = false;

        if (o && json_object_object_get_ex(o, "plugged_at_us", &plugged) &&
            json_object_object_get_ex(o, "first_dfu_request_us", &first)) {
                uint64_t p = json_object_get_uint64(plugged), f = json_object_get_uint64(first);
                /* both stamps, in order, or the figure means nothing */
                ok = p > 0 && f >= p;
                *ret_ms = ok ? (double)(f - p) / 1e3 : -1;
        }
        json_object_put(o);
        return ok;
}

/* A rule matching 1-3; the board arrives 2 s after dfusd started. */
static void attach_latency(Integ *t, const char *time_scale, double *runner_ms, double *daemon_ms) {
        g_autofree uint8_t *img = integ_pattern(2048, 2);
        g_autofree char *file = integ_write_ihex(t, "rule.hex", &(IntegSegment){FLASH_BASE, img, 2048}, 1);
        g_autofree char *rule = NULL, *job = NULL, *state = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) jobs = NULL, submit = NULL, started = NULL;

        integ_start(
                t,
                &(IntegRun){.boards = 1, .time_scale = time_scale, .script = "at 2 plug 1-3 part=f405\n"});
        rule = integ_add_rule(t, (const char *[]){file, NULL},
                              integ_options("match-port", g_variant_new_string("1-3"), NULL), &error);
        if (!rule)
                g_error("AddRule: %s", error->message);
        for (unsigned i = 0; i < 1000; i++) {
                g_clear_pointer(&jobs, g_variant_unref);
                jobs = integ_get(t, DFUSD_PATH, DFUSD_MANAGER, "Jobs", NULL);
                if (jobs && g_variant_n_children(jobs) > 0)
                        break;
                g_usleep(10 * 1000);
        }
        g_assert_nonnull(jobs);
        g_assert_cmpuint(g_variant_n_children(jobs), >, 0);
        g_variant_get_child(jobs, 0, "o", &job);
        state = integ_wait_job(t, job, 60);
        submit = integ_get(t, job, DFUSD_JOB, "SubmitTime", NULL);
        started = integ_get(t, job, DFUSD_JOB, "StartTime", NULL);
        *daemon_ms = submit && started
                             ? (double)(g_variant_get_uint64(started) - g_variant_get_uint64(submit)) / 1e3
                             : -1;
        integ_stop(t);
        if (!runner_attach_us(t, "1-3", runner_ms))
                *runner_ms = -1;
}

int main(int argc, char **argv) {
        g_autofree char *boards_opt = NULL, *time_scale = NULL;
        gint64 size = 64 * 1024;
        const GOptionEntry entries[] = {
                {"boards", 0, 0, G_OPTION_ARG_STRING, &boards_opt, "Board counts (default 1,8,32)", "LIST"},
                {"size", 0, 0, G_OPTION_ARG_INT64, &size, "Image size per board (default 65536)", "BYTES"},
                {"time-scale", 0, 0, G_OPTION_ARG_STRING, &time_scale,
                 "Simulator time scale (default 1: datasheet timing)", "X"},
                {},
        };
        g_autoptr(GOptionContext) ctx = g_option_context_new("- dfusd daemon benchmark");
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) counts = NULL;
        Figures fig[8] = {0};
        unsigned n_fig = 0;
        double runner_ms = -1, daemon_ms = -1;

        g_option_context_add_main_entries(ctx, entries, NULL);
        if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
                fprintf(stderr, "%s\n", error->message);
                return 2;
        }
        counts = g_strsplit(boards_opt ?: "1,8,32", ",", G_N_ELEMENTS(fig));
        for (char **c = counts; *c; c++) {
                Integ t;
                integ_setup(&t, NULL);
                flash_many(&t, (unsigned)atoi(*c), (size_t)size, time_scale ?: "1", &fig[n_fig++]);
                integ_teardown(&t, NULL);
        }
        {
                Integ t;
                integ_setup(&t, NULL);
                attach_latency(&t, time_scale ?: "1", &runner_ms, &daemon_ms);
                integ_teardown(&t, NULL);
        }

        printf("\ndfusd daemon benchmark: %lld-byte image per board, f405, time scale %s\n\n",
               (long long)size, time_scale ?: "1");
        printf("%-7s %11s %8s %10s %10s %10s %7s %10s %13s %7s\n", "boards", "makespan s", "ratio",
               "Get p50 ms", "Get p99 ms", "Get max ms", "calls", "peak RSS", "changes/s/job", "failed");
        for (unsigned i = 0; i < n_fig; i++)
                printf("%-7u %11.3f %7.3fx %10.3f %10.3f %10.3f %7u %6.1f MiB %13.1f %7u\n", fig[i].boards,
                       fig[i].makespan_s, fig[i].makespan_s / fig[0].makespan_s, fig[i].p50_ms,
                       fig[i].p99_ms, fig[i].max_ms, fig[i].calls, fig[i].rss_kib / 1024.0,
                       fig[i].changed / fig[i].makespan_s / fig[i].boards, fig[i].failed);
        printf("\nattach -> first DFU request (auto-flash rule): ");
        if (runner_ms >= 0)
                printf("%.1f ms (runner timestamps)\n", runner_ms);
        else
                printf("n/a from the runner (no timestamps in its dump)\n");
        printf("rule job created -> started (daemon's SubmitTime/StartTime): %.1f ms\n", daemon_ms);
        printf("\naims: ratio(32) <= 1.10, Get p99 < 5 ms, attach < 100 ms, RSS < 16 MiB\n");
        return 0;
}
