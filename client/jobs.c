/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifdef DFUSCTL_HAVE_BUS

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "exit-codes.h"
#include "flash.h"
#include "output.h"
#include "progress.h"
#include "verbs-bus.h"

void verb_jobs_help(void) {
        printf("dfusctl jobs [--all]\n\n"
               "List the jobs that are queued, waiting or running; --all also those that ended.\n\n"
               "With --json: {\"jobs\": [{\"path\", and the Job properties}]}.\n");
}

void verb_job_help(void) {
        printf("dfusctl job ID\n\n"
               "Show every property of one job (ID is its number or object path), with the verdict on\n"
               "each segment of its image.\n\n"
               "With --json: {\"path\", and the Job properties: \"Id\", \"State\", \"Phase\", "
               "\"PhaseDone\",\n"
               "\"PhaseTotal\" (sectors while erasing, bytes otherwise), \"Progress\" (0 to 1, the whole "
               "job),\n"
               "\"BytesDone\", \"BytesTotal\", \"Rate\", \"SubmitTime\", \"StartTime\", \"EndTime\",\n"
               "\"ExpectedEndTime\" (CLOCK_REALTIME microseconds), \"Device\", \"PortPath\", \"Target\",\n"
               "\"ImageSha256\", \"Report\" ([{\"address\", \"size\", \"verdict\", \"kind\", \"source\",\n"
               "\"reason\"}]), \"Error\", \"Rule\", \"Trust\" (the key or allow-list that accepted the "
               "images),\n\"Protection\" (what the job changed: read protection removed, option bytes, "
               "lock),\n\"Values\" ([[SEQUENCE, VALUE]]: the per-board values the job took), \"Origin\" "
               "(who "
               "asked: Submit's\n\"origin\" option, \"web:NAME\" for dfusd-web's token NAME)}.\n");
}

void verb_cancel_help(void) {
        printf("dfusctl cancel ID\n\n"
               "Cancel a job (ID is its number or object path). A job is stopped between two transfers;\n"
               "sectors already erased stay erased. A job that has already ended, or that dfusd no longer\n"
               "keeps, exits 2.\n");
}

static OutputColor job_state_output_color(const char *state) {
        if (streq(state, "done"))
                return OUTPUT_COLOR_GREEN;
        if (streq(state, "failed"))
                return OUTPUT_COLOR_RED;
        if (streq(state, "cancelled") || streq(state, "waiting") || streq(state, "queued"))
                return OUTPUT_COLOR_YELLOW;
        return OUTPUT_COLOR_BOLD;
}

static int print_jobs(json_object *jobs, const DfusctlContext *ctx) {
        static const char *const headers[] = {"ID",    "STATE",     "PHASE", "WHOLE JOB",
                                              "BOARD", "SUBMITTED", "IMAGE"};
        _cleanup_(table_freep) Table *t = table_new(ELEMENTSOF(headers), headers);
        size_t n = json_object_array_length(jobs);

        if (!t)
                return EXIT_IO;
        for (size_t i = 0; i < n; i++) {
                json_object *j = json_object_array_get_idx(jobs, i);
                char id[16], phase[64], progress[16], submitted[32], image[16];
                const char *state = json_get_str(j, "State", "?");

                snprintf(id, sizeof id, "%" PRIu64, json_get_u64(j, "Id"));
                progress_format_phase(j, phase, sizeof phase);
                snprintf(progress, sizeof progress, "%.0f%%", json_get_double(j, "Progress") * 100);
                format_timestamp(submitted, sizeof submitted, json_get_u64(j, "SubmitTime"));
                snprintf(image, sizeof image, "%.12s", json_get_str(j, "ImageSha256", "-"));
                if (table_add_row(t,
                                  (const char *const[]){id, state, phase, progress, job_label(j), submitted,
                                                        image},
                                  1, job_state_output_color(state)) < 0)
                        return EXIT_IO;
        }
        return table_print_or_empty(t, stdout, "No jobs.", !ctx->no_legend, ctx->color) < 0 ? EXIT_IO
                                                                                            : EXIT_ACCEPTED;
}

int verb_jobs(int argc, char *argv[], const DfusctlContext *ctx) {
        static const struct option options[] = {{"all", no_argument, NULL, 'a'}, {}};
        _cleanup_(json_object_putp) json_object *all = NULL, *shown = NULL;
        bool show_all = false;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "a", options, NULL)) >= 0) {
                if (c != 'a')
                        return EXIT_USAGE;
                show_all = true;
        }
        if (optind < argc) {
                fprintf(stderr, "dfusctl jobs: unexpected argument \"%s\".\n", argv[optind]);
                return EXIT_USAGE;
        }
        r = bus_list_objects(ctx, DFUSD_IFACE_JOB, "list jobs", &all);
        if (r != EXIT_ACCEPTED)
                return r;
        shown = json_object_new_array();
        if (!shown)
                return EXIT_IO;
        for (size_t i = 0; i < json_object_array_length(all); i++) {
                json_object *j = json_object_array_get_idx(all, i);

                if (show_all || !job_state_is_final(json_get_str(j, "State", NULL)))
                        json_object_array_add(shown, json_object_get(j));
        }
        if (ctx->json)
                return output_json_member("jobs", shown, stdout) < 0 ? EXIT_IO : EXIT_ACCEPTED;
        return print_jobs(shown, ctx);
}

void report_print_table(json_object *report, const DfusctlContext *ctx) {
        static const char *const headers[] = {"ADDRESS", "SIZE", "VERDICT", "KIND", "SOURCE", "REASON"};
        _cleanup_(table_freep) Table *t = table_new(ELEMENTSOF(headers), headers);
        size_t n = json_object_is_type(report, json_type_array) ? json_object_array_length(report) : 0;

        if (!t || n == 0)
                return;
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(report, i);
                const char *verdict = json_get_str(e, "verdict", "?");
                char address[16], size[32];

                format_address((uint32_t)json_get_u64(e, "address"), address);
                format_bytes(json_get_u64(e, "size"), size);
                (void)table_add_row(
                        t,
                        (const char *const[]){address, size, verdict, json_get_str(e, "kind", "-"),
                                              json_get_str(e, "source", "-"), json_get_str(e, "reason", "")},
                        2,
                        streq(verdict, "keep")   ? OUTPUT_COLOR_GREEN
                        : streq(verdict, "drop") ? OUTPUT_COLOR_YELLOW
                                                 : OUTPUT_COLOR_RED);
        }
        printf("\n");
        (void)table_print(t, stdout, !ctx->no_legend, ctx->color);
}

static void print_job(json_object *j, const DfusctlContext *ctx) {
        static const struct {
                const char *label, *key;
        } times[] = {
                {"Submitted", "SubmitTime"},
                {"Started", "StartTime"},
                {"Ended", "EndTime"},
                {"Expected end", "ExpectedEndTime"},
        };
        const char *state = json_get_str(j, "State", "?");
        char done[32], total[32], rate[32], ts[32], phase[64];
        json_object *report, *values;

        format_bytes(json_get_u64(j, "BytesDone"), done);
        format_bytes(json_get_u64(j, "BytesTotal"), total);
        format_bytes(json_get_u64(j, "Rate"), rate);
        printf("%14s: %" PRIu64 " (%s)\n", "Job", json_get_u64(j, "Id"), json_get_str(j, "path", "?"));
        progress_format_phase(j, phase, sizeof phase);
        printf("%14s: %s%s%s\n", "State", output_color_on(ctx->color, job_state_output_color(state)), state,
               output_color_off(ctx->color));
        printf("%14s: %s\n", "Phase", phase);
        printf("%14s: %.0f%% of the whole job, by the time the plan expects each phase to take\n",
               "Progress", json_get_double(j, "Progress") * 100);
        printf("%14s: %s\n", "Board", job_label(j));
        printf("%14s: %s\n", "Target", json_get_str(j, "Target", "-"));
        if (job_state_is_final(state))
                printf("%14s: %s of %s\n", "Written", done, total);
        else
                printf("%14s: %s of %s, %s/s in this phase\n", "Written", done, total, rate);
        for (size_t i = 0; i < ELEMENTSOF(times); i++) {
                format_timestamp(ts, sizeof ts, json_get_u64(j, times[i].key));
                printf("%14s: %s\n", times[i].label, ts);
        }
        printf("%14s: %s\n", "Image SHA-256", json_get_str(j, "ImageSha256", "-"));
        if (*json_get_str(j, "Origin", ""))
                printf("%14s: %s\n", "Asked by", json_get_str(j, "Origin", ""));
        if (*json_get_str(j, "Protection", ""))
                printf("%14s: %s\n", "Protection", json_get_str(j, "Protection", ""));
        if (*json_get_str(j, "Trust", ""))
                printf("%14s: %s\n", "Accepted by", json_get_str(j, "Trust", ""));
        printf("%14s: %s\n", "Rule", object_path_id(json_get_str(j, "Rule", "/")));
        if (json_get_str(j, "Error", "")[0])
                printf("%14s: %s%s%s\n", "Error", output_color_on(ctx->color, OUTPUT_COLOR_RED),
                       json_get_str(j, "Error", ""), output_color_off(ctx->color));
        if (json_object_object_get_ex(j, "Values", &values) && json_object_is_type(values, json_type_array))
                for (size_t i = 0; i < json_object_array_length(values); i++) {
                        json_object *pair = json_object_array_get_idx(values, i);
                        printf("%14s: %s = %s\n", i == 0 ? "Values" : "",
                               json_object_get_string(json_object_array_get_idx(pair, 0)),
                               json_object_get_string(json_object_array_get_idx(pair, 1)));
                }
        if (json_object_object_get_ex(j, "Report", &report))
                report_print_table(report, ctx);
}

static int job_path_arg(int argc, char *argv[], char **ret) {
        if (argc != 2) {
                fprintf(stderr, "dfusctl %s: expected one job ID.\n", argv[0]);
                return EXIT_USAGE;
        }
        if (bus_object_path_from_arg(DFUSD_JOB_PREFIX, argv[1], ret) < 0) {
                fprintf(stderr, "dfusctl %s: \"%s\" is not a job number or job object path.\n", argv[0],
                        argv[1]);
                return EXIT_USAGE;
        }
        return EXIT_ACCEPTED;
}

int verb_job(int argc, char *argv[], const DfusctlContext *ctx) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(json_object_putp) json_object *props = NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        r = job_path_arg(argc, argv, &path);
        if (r == EXIT_ACCEPTED)
                r = bus_connect_object(ctx, DFUSD_IFACE_JOB, argv[1], &path, &bus);
        if (r != EXIT_ACCEPTED)
                return r;
        r = bus_get_all(bus, path, DFUSD_IFACE_JOB, &error, &props);
        if (r < 0)
                return bus_log_error(ctx, "read the job", &error, r);
        json_object_object_add(props, "path", json_object_new_string(path));
        if (ctx->json)
                return output_json(props, stdout) < 0 ? EXIT_IO : EXIT_ACCEPTED;
        print_job(props, ctx);
        return EXIT_ACCEPTED;
}

int verb_cancel(int argc, char *argv[], const DfusctlContext *ctx) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = job_path_arg(argc, argv, &path);
        if (r != EXIT_ACCEPTED)
                return r;
        /* dfusd answers Error.Failed for a job that has already ended: there is nothing to cancel,
         * which exits as a job that is no longer there does. */
        return bus_call_object_method(ctx, DFUSD_IFACE_JOB, argv[1], &path, "Cancel", "cancel the job",
                                      "cancelled", DFUSD_ERROR_FAILED);
}

#endif
