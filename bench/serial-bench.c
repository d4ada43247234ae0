/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What per-board values cost: with a patch, a job waits for its start record and its values to be
 * durable before it writes (one more fsync'd transaction on its path); without, the start record is
 * written alongside. Prints, with and without a counter patch: the mean time from Submit to the job's
 * end over sequential jobs on one board, and the makespan of N boards flashed at once; and the
 * ratios. Figures from one run each; nothing is asserted.
 *
 * Usage: serial-bench [--jobs 20] [--boards 32] [--size BYTES] [--time-scale X]
 * (DFUSD_BIN and DFUSD_SIM name the programs, as for the integration tests.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "harness.h"

#define FLASH_BASE 0x08000000u

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static GVariant *options(const char *port, bool patch) {
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE("a(uss)"));
        if (patch)
                g_variant_builder_add(&b, "(uss)", FLASH_BASE + 0x100, "u32le", "boards");
        /* The board stays in its bootloader: the sequential jobs all go to it. */
        return integ_options("port", g_variant_new_string(port), "leave", g_variant_new_boolean(FALSE),
                             "patches", g_variant_builder_end(&b), NULL);
}

static void add_counter(Integ *t) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) r = integ_call(
                t, DFUSD_PATH, DFUSD_MANAGER, "AddSequence",
                g_variant_new("(s@a{sv})", "boards", integ_options("start", g_variant_new_uint64(1), NULL)),
                "(o)", &error);
        if (!r)
                g_error("AddSequence: %s", error->message);
}

/* n boards flashed at once; returns the makespan in seconds, or the mean per job with sequential. */
static double run(unsigned boards, unsigned jobs, bool patch, size_t size, const char *time_scale,
                  unsigned *failed) {
        g_autofree uint8_t *img = integ_pattern(size, 1);
        const char *parts[] = {"f405", NULL};
        double start, total = 0;
        Integ t;

        integ_setup(&t, NULL);
        g_autofree char *file = integ_write_ihex(&t, "app.hex", &(IntegSegment){FLASH_BASE, img, size}, 1);
        integ_start(&t, &(IntegRun){.boards = boards, .parts = parts, .time_scale = time_scale});
        integ_wait_devices(&t, boards, 60);
        add_counter(&t);
        if (boards == 1) {
                for (unsigned k = 0; k < jobs; k++) {
                        g_autoptr(GError) error = NULL;
                        g_autofree char *job = NULL, *state = NULL;

                        start = now_s();
                        job = integ_submit(&t, (const char *[]){file, NULL}, options("1-1", patch), &error);
                        if (!job)
                                g_error("Submit: %s", error->message);
                        state = integ_wait_job(&t, job, 120);
                        total += now_s() - start;
                        *failed += !g_str_equal(state, "done");
                }
                integ_stop(&t);
                integ_teardown(&t, NULL);
                return total / jobs;
        }
        char **list = g_new0(char *, boards + 1);
        start = now_s();
        for (unsigned i = 0; i < boards; i++) {
                g_autoptr(GError) error = NULL;
                g_autofree char *port = i < 8 ? g_strdup_printf("1-%u", i + 1)
                                              : g_strdup_printf("1-%u.%u", 9 + (i - 8) / 7, 1 + (i - 8) % 7);
                list[i] = integ_submit(&t, (const char *[]){file, NULL}, options(port, patch), &error);
                if (!list[i])
                        g_error("Submit for %s: %s", port, error->message);
        }
        for (unsigned i = 0; i < boards; i++) {
                g_autofree char *state = integ_wait_job(&t, list[i], 600);
                *failed += !g_str_equal(state, "done");
        }
        total = now_s() - start;
        g_strfreev(list);
        integ_stop(&t);
        integ_teardown(&t, NULL);
        return total;
}

int main(int argc, char **argv) {
        g_autofree char *time_scale = NULL;
        gint64 size = 16 * 1024;
        gint jobs = 20, boards = 32;
        const GOptionEntry entries[] = {
                {"jobs", 0, 0, G_OPTION_ARG_INT, &jobs, "Sequential jobs on one board (default 20)", "N"},
                {"boards", 0, 0, G_OPTION_ARG_INT, &boards, "Boards flashed at once (default 32)", "N"},
                {"size", 0, 0, G_OPTION_ARG_INT64, &size, "Image size (default 16384)", "BYTES"},
                {"time-scale", 0, 0, G_OPTION_ARG_STRING, &time_scale,
                 "Simulator time scale (default 1: datasheet timing)", "X"},
                {},
        };
        g_autoptr(GOptionContext) ctx = g_option_context_new("- cost of per-board values");
        g_autoptr(GError) error = NULL;
        unsigned failed = 0;
        double seq[2], par[2];

        g_option_context_add_main_entries(ctx, entries, NULL);
        if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
                fprintf(stderr, "%s\n", error->message);
                return 2;
        }
        /* Without, with, with, without: what warms up (page cache, the first daemon) counts for both. */
        seq[0] = seq[1] = par[0] = par[1] = 0;
        for (int k = 0; k < 4; k++) {
                int p = k == 1 || k == 2;
                seq[p] += run(1, (unsigned)jobs, p, (size_t)size, time_scale ?: "1", &failed) / 2;
                par[p] += run((unsigned)boards, 0, p, (size_t)size, time_scale ?: "1", &failed) / 2;
        }
        printf("\nper-board values: %lld-byte image, f405, time scale %s, one u32le counter patch; the mean "
               "of two "
               "runs each\n\n",
               (long long)size, time_scale ?: "1");
        printf("%-34s %12s %12s %8s\n", "", "no patch", "patch", "ratio");
        printf("%-34s %10.1f ms %10.1f ms %7.3fx\n", "Submit -> done, 1 board (mean)", seq[0] * 1e3,
               seq[1] * 1e3, seq[1] / seq[0]);
        char label[64];
        snprintf(label, sizeof(label), "makespan, %d boards at once", boards);
        printf("%-34s %11.3f s %11.3f s %7.3fx\n", label, par[0], par[1], par[1] / par[0]);
        printf("\njobs failed: %u\naims: ratio (1 board) < 1.05, ratio (%d boards) < 1.02\n", failed,
               boards);
        return 0;
}
