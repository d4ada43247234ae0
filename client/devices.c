/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifdef DFUSCTL_HAVE_BUS

#include <stdio.h>
#include <string.h>

#include "bus.h"
#include "exit-codes.h"
#include "output.h"
#include "verbs-bus.h"

void verb_devices_help(void) {
        printf("dfusctl devices\n\n"
               "List the boards attached in bootloader mode: USB port path, station, part, serial (marked\n"
               "\"(duplicate)\" when another attached board reports the same one), read-out protection\n"
               "(none, read-protected or unknown), state and current job.\n\n"
               "With --json: {\"devices\": [{\"path\", and the Device properties: \"PortPath\", "
               "\"Station\",\n"
               "\"Serial\", \"SerialDuplicated\", \"VendorId\", \"ProductId\", \"BcdDevice\", "
               "\"TransferSize\",\n"
               "\"MemoryMap\", \"Part\", \"Protection\", \"State\", \"CurrentJob\"}]}.\n");
}

static OutputColor device_state_color(const char *state) {
        if (streq(state, "idle"))
                return OUTPUT_COLOR_GREEN;
        if (streq(state, "error"))
                return OUTPUT_COLOR_RED;
        return OUTPUT_COLOR_YELLOW;
}

static int print_devices(json_object *devices, const DfusctlContext *ctx) {
        static const char *const headers[] = {"PORT",       "STATION", "PART", "SERIAL",
                                              "PROTECTION", "STATE",   "JOB"};
        _cleanup_(table_freep) Table *t = table_new(ELEMENTSOF(headers), headers);
        size_t n = json_object_array_length(devices);

        if (!t)
                return EXIT_IO;
        for (size_t i = 0; i < n; i++) {
                json_object *d = json_object_array_get_idx(devices, i);
                const char *state = json_get_str(d, "State", "?");
                char serial[256];
                const char *cells[ELEMENTSOF(headers)];

                snprintf(serial, sizeof serial, "%s%s", json_get_str(d, "Serial", "-"),
                         json_get_bool(d, "SerialDuplicated") ? " (duplicate)" : "");
                cells[0] = json_get_str(d, "PortPath", "?");
                cells[1] = json_get_str(d, "Station", "")[0] ? json_get_str(d, "Station", "") : "-";
                cells[2] = json_get_str(d, "Part", "")[0] ? json_get_str(d, "Part", "") : "unknown";
                cells[3] = serial;
                cells[4] = json_get_str(d, "Protection", "unknown");
                cells[5] = state;
                cells[6] = object_path_id(json_get_str(d, "CurrentJob", "/"));
                if (table_add_row(t, cells, 5, device_state_color(state)) < 0)
                        return EXIT_IO;
        }
        if (table_print_or_empty(t, stdout, "No boards attached.", !ctx->no_legend, ctx->color) < 0)
                return EXIT_IO;
        if (n > 0 && !ctx->no_legend)
                printf("\n%zu board%s attached.\n", n, n == 1 ? "" : "s");
        return EXIT_ACCEPTED;
}

int verb_devices(int argc, char *argv[], const DfusctlContext *ctx) {
        _cleanup_(json_object_putp) json_object *devices = NULL;
        int r;

        if (argc > 1) {
                fprintf(stderr, "dfusctl devices: unexpected argument \"%s\".\n", argv[1]);
                return EXIT_USAGE;
        }
        r = bus_list_objects(ctx, DFUSD_IFACE_DEVICE, "list boards", &devices);
        if (r != EXIT_ACCEPTED)
                return r;
        if (ctx->json)
                return output_json_member("devices", devices, stdout) < 0 ? EXIT_IO : EXIT_ACCEPTED;
        return print_devices(devices, ctx);
}

#endif
