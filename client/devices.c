/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifdef DFUSCTL_HAVE_BUS

#include <inttypes.h>
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
               "dfusctl devices --option-bytes PORT reads the option bytes of the idle board on PORT now\n"
               "and prints them field by field (F4, F7, L4, G4, H7); --json: {\"port\", \"family\",\n"
               "\"address\", \"bytes\", \"fields\": {name: value}}.\n\n"
               "With --json: {\"devices\": [{\"path\", and the Device properties: \"PortPath\", "
               "\"Station\",\n"
               "\"Serial\", \"SerialDuplicated\", \"VendorId\", \"ProductId\", \"BcdDevice\", "
               "\"TransferSize\",\n"
               "\"MemoryMap\", \"Part\", \"Protection\", \"State\", \"CurrentJob\", \"LastJob\",\n"
               "\"LastError\"}]}: LastJob is the last job that ended on the board and LastError why it\n"
               "failed (a sequence exhausted, the board gone), empty when it succeeded.\n\n"
               "Below the table, each board whose last job failed or was cancelled says why.\n");
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
        /* A board left unflashed says why, like a stopped rule. */
        for (size_t i = 0; i < n; i++) {
                json_object *d = json_object_array_get_idx(devices, i);
                if (*json_get_str(d, "LastError", ""))
                        printf("Board %s, job %s: %s\n", json_get_str(d, "PortPath", "?"),
                               object_path_id(json_get_str(d, "LastJob", "/")),
                               json_get_str(d, "LastError", ""));
        }
        return EXIT_ACCEPTED;
}

/* `dfusctl devices --option-bytes PORT`: the board's option bytes, decoded, read now. */
static int print_option_bytes(const char *port, const DfusctlContext *ctx) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(json_object_putp) json_object *doc = NULL;
        _cleanup_free_ char *path = NULL;
        json_object *fields = NULL, *bytes = NULL;
        int r;

        r = bus_connect(ctx, &bus);
        if (r != EXIT_ACCEPTED)
                return r;
        if (sd_bus_path_encode("/org/dfusd/Flash1/device", port, &path) < 0)
                return EXIT_IO;
        r = sd_bus_call_method(bus, DFUSD_BUS_NAME, path, DFUSD_IFACE_DEVICE, "ReadOptionBytes", &error,
                               &reply, "");
        if (r < 0)
                return bus_log_error(ctx, "read the option bytes", &error, r);
        r = bus_message_read_json(reply, &doc);
        if (r < 0)
                return bus_log_error(ctx, "read the reply", NULL, r);
        if (ctx->json) {
                json_object_object_add(doc, "port", json_object_new_string(port));
                return output_json(doc, stdout) < 0 ? EXIT_IO : EXIT_ACCEPTED;
        }
        printf("Option bytes of the board on port %s (%s, at 0x%08" PRIX64 "):\n\n", port,
               json_get_str(doc, "family", "?"), json_get_u64(doc, "address"));
        if (json_object_object_get_ex(doc, "fields", &fields) &&
            json_object_is_type(fields, json_type_object)) {
                struct json_object_iterator it = json_object_iter_begin(fields),
                                            end = json_object_iter_end(fields);
                for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
                        printf("  %-14s %s\n", json_object_iter_peek_name(&it),
                               json_object_get_string(json_object_iter_peek_value(&it)));
        }
        if (json_object_object_get_ex(doc, "bytes", &bytes) && json_object_is_type(bytes, json_type_array)) {
                printf("\nBytes:");
                for (size_t i = 0; i < json_object_array_length(bytes); i++)
                        printf("%s%02x", i % 16 == 0 ? "\n  " : " ",
                               (unsigned)json_object_get_int(json_object_array_get_idx(bytes, i)));
                printf("\n");
        }
        return EXIT_ACCEPTED;
}

int verb_devices(int argc, char *argv[], const DfusctlContext *ctx) {
        _cleanup_(json_object_putp) json_object *devices = NULL;
        int r;

        if (argc == 3 && streq(argv[1], "--option-bytes"))
                return print_option_bytes(argv[2], ctx);
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
