/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "exit-codes.h"
#include "inspect-device.h"
#include "macro.h"

/*
 * `dfusctl inspect --device PORT IMAGE...`: the same question as the offline inspect, answered by
 * dfusd with the map the live board reports (Manager.Inspect), touching nothing on the board.
 */

bool inspect_wants_device(int argc, char *argv[]) {
        for (int i = 1; i < argc && !streq(argv[i], "--"); i++)
                if (streq(argv[i], "--device") || strncmp(argv[i], "--device=", 9) == 0)
                        return true;
        return false;
}

#ifndef DFUSCTL_HAVE_BUS

int inspect_device(int argc, char *argv[], const DfusctlContext *ctx) {
        fprintf(stderr, "dfusctl inspect: --device needs dfusd, and this dfusctl was built without D-Bus "
                        "support.\n");
        return EXIT_USAGE;
}

#else

#include "bus.h"
#include "flash.h"
#include "output.h"

enum { OPT_DEVICE = OPT_PATCH_ERASE + 1 };

/* The [address, size] pairs of the plan's list key, one line each. */
static void print_ranges(json_object *plan, const char *key, const char *label) {
        json_object *v;

        if (!json_object_object_get_ex(plan, key, &v))
                return;
        for (size_t i = 0; i < json_object_array_length(v); i++) {
                json_object *e = json_object_array_get_idx(v, i);
                uint64_t a = json_object_get_uint64(json_object_array_get_idx(e, 0));
                char size[32];

                format_bytes(json_object_get_uint64(json_object_array_get_idx(e, 1)), size);
                printf("  %-13s 0x%08" PRIX64 " %s\n", label, a, size);
        }
}

static void print_plan(json_object *plan) {
        static const char *const keys[] = {"transfer-size", "mass-erase",   "verify",
                                           "leave",         "erases",       "runs",
                                           "bytes-total",   "blocks-total", "estimate-ms"};
        json_object *v;

        if (!json_object_is_type(plan, json_type_object))
                return;
        printf("\nPlan:\n");
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (json_object_object_get_ex(plan, keys[i], &v))
                        printf("  %-13s %s\n", keys[i], json_object_get_string(v));
        print_ranges(plan, "erase-list", "erase");
        print_ranges(plan, "run-list", "write");
}

/* Where each patch goes, and what the next board would get (nothing is taken by inspecting). */
static void print_patches(json_object *patches) {
        printf("\nPatches:\n");
        for (size_t i = 0; i < json_object_array_length(patches); i++) {
                json_object *p = json_object_array_get_idx(patches, i);
                const char *error = json_get_str(p, "sample-error", NULL);

                printf("  0x%08" PRIX64 " %-9s %-16s %s\n", json_get_u64(p, "address"),
                       json_get_str(p, "format", "?"), json_get_str(p, "sequence", "?"),
                       json_get_str(p, "place", "?"));
                if (error)
                        printf("  %10s next: %s\n", "", error);
                else
                        printf("  %10s next: %s%s%s%s\n", "", json_get_str(p, "sample", "?"),
                               json_get_str(p, "sample-bytes", NULL) ? " (" : "",
                               json_get_str(p, "sample-bytes", ""),
                               json_get_str(p, "sample-bytes", NULL) ? ")" : "");
        }
}

static void print_result(json_object *result, const char *port, const DfusctlContext *ctx) {
        json_object *segments = NULL, *plan = NULL, *patches = NULL;
        char kept[32], dropped[32];
        bool accepted = json_get_bool(result, "accepted");

        format_bytes(json_get_u64(result, "bytes-kept"), kept);
        format_bytes(json_get_u64(result, "bytes-dropped"), dropped);
        printf("Board:    %s (%s)\n", port,
               json_get_str(result, "part", "")[0] ? json_get_str(result, "part", "") : "unknown part");
        printf("Image:    %s\n", json_get_str(result, "image-sha256", "-"));
        printf("Verdict:  %s%s%s, %s kept, %s dropped\n",
               output_color_on(ctx->color, accepted ? OUTPUT_COLOR_GREEN : OUTPUT_COLOR_RED),
               accepted ? "accepted" : "rejected", output_color_off(ctx->color), kept, dropped);
        if (!accepted)
                printf("Reason:   %s\n", json_get_str(result, "reason", "-"));
        if (json_object_object_get_ex(result, "segments", &segments))
                report_print_table(segments, ctx);
        if (json_object_object_get_ex(result, "patches", &patches))
                print_patches(patches);
        if (json_object_object_get_ex(result, "plan", &plan))
                print_plan(plan);
}

static int inspect_call(sd_bus *bus, const DfusctlContext *ctx, const char *port, const FlashOptions *o,
                        const int *fds, size_t n_fds, json_object **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = images_method_new(bus, "Inspect", fds, n_fds, &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}", "port", "s", port);
        if (r >= 0)
                r = flash_options_append(m, o, false);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r >= 0)
                r = bus_message_read_json(reply, ret);
        return r < 0 ? bus_log_error(ctx, "inspect the image against the board", &error, r) : EXIT_ACCEPTED;
}

int inspect_device(int argc, char *argv[], const DfusctlContext *ctx) {
        static const struct option options[] = {
                WRITE_LONG_OPTIONS,
                {"device", required_argument, NULL, OPT_DEVICE},
                {},
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(json_object_putp) json_object *result = NULL;
        _cleanup_(flash_signatures_done) FlashSignatures sigs = {};
        FlashOptions o = {.verify = -1, .signatures = &sigs};
        const char *port = NULL;
        int *fds = NULL, c, r;
        size_t n_fds;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                if (c == OPT_DEVICE)
                        port = optarg;
                else if (flash_options_parse_option(c, optarg, &o) <= 0) {
                        if (c != '?')
                                fprintf(stderr,
                                        "dfusctl inspect: --device takes the options of dfusctl flash "
                                        "that say how to write, not --family, --layout or --export.\n");
                        return EXIT_USAGE;
                }
        }
        if (!port || optind >= argc) {
                fprintf(stderr, "dfusctl inspect: expected --device PORT and at least one image.\n");
                return EXIT_USAGE;
        }
        n_fds = argc - optind;
        r = flash_signatures_load(&sigs, ctx, argv + optind, n_fds);
        if (r != EXIT_ACCEPTED)
                return r;
        r = images_open_connect(ctx, argv + optind, n_fds, &fds, &bus);
        if (r != EXIT_ACCEPTED || !bus) /* without a bus: it ran on the host of -H */
                return r;
        r = inspect_call(bus, ctx, port, &o, fds, n_fds, &result);
        images_close(fds, n_fds);
        if (r != EXIT_ACCEPTED)
                return r;

        json_object_object_add(result, "port", json_object_new_string(port));
        if (ctx->json) {
                if (output_json(result, stdout) < 0)
                        return EXIT_IO;
        } else
                print_result(result, port, ctx);
        return json_get_bool(result, "accepted") ? EXIT_ACCEPTED : EXIT_REJECTED;
}

#endif
