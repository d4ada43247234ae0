/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a board holds when the command is over: its flash as a file, its counters as JSON. */
#include "runner.h" /* first: see testbed.h */

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <json-c/json.h>
#include <string.h>

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

static int write_all(int fd, const uint8_t *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                p += k;
                n -= (size_t)k;
        }
        return 0;
}

static int dump_flash(const SimBoard *sim, const char *path, DfuError *error) {
        uint32_t base = sim_board_flash_base(sim), size = sim_board_flash_size(sim);
        _cleanup_free_ uint8_t *buf = malloc(64 * 1024);
        _cleanup_close_ int fd = -EBADF;

        if (!buf)
                return dfu_error_set(error, ENOMEM, "Out of memory");
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return dfu_error_set(error, errno, "Cannot create %s: %m", path);
        for (uint32_t off = 0; off < size;) {
                size_t n = MIN(size - off, 64u * 1024);
                int r = sim_board_read_flash(sim, base + off, buf, n);
                if (r < 0)
                        return dfu_error_set(error, -r, "Cannot read flash at 0x%08x of the board for %s",
                                             base + off, path);
                r = write_all(fd, buf, n);
                if (r < 0)
                        return dfu_error_set(error, -r, "Cannot write %s: %s", path, g_strerror(-r));
                off += (uint32_t)n;
        }
        return 0;
}

static void add_uint(json_object *o, const char *key, uint64_t v) {
        json_object_object_add(o, key, json_object_new_uint64(v));
}

static json_object *counters_json(const SimCounters *c) {
        json_object *o = json_object_new_object();

        add_uint(o, "requests", c->requests);
        add_uint(o, "getstatus", c->getstatus);
        add_uint(o, "dnload", c->dnload);
        add_uint(o, "upload", c->upload);
        add_uint(o, "clrstatus", c->clrstatus);
        add_uint(o, "abort", c->abort);
        add_uint(o, "stalls", c->stalls);
        add_uint(o, "set_address", c->set_address);
        add_uint(o, "erase", c->erase);
        add_uint(o, "mass_erase", c->mass_erase);
        add_uint(o, "blocks_written", c->blocks_written);
        add_uint(o, "leave", c->leave);
        add_uint(o, "bytes_written", c->bytes_written);
        add_uint(o, "bytes_read", c->bytes_read);
        add_uint(o, "device_min_us", c->device_min_us);
        add_uint(o, "op_us", c->op_us);
        add_uint(o, "wait_us", c->wait_us);
        add_uint(o, "bus_us", c->bus_us);
        add_uint(o, "errors", c->errors);
        json_object *sectors = json_object_new_array();
        for (size_t i = 0; i < c->n_sectors; i++)
                json_object_array_add(sectors, json_object_new_uint64(c->erases_per_sector[i]));
        json_object_object_add(o, "erases_per_sector", sectors);
        return o;
}

int dump_board(TestbedBoard *b, const char *dir, DfuError *error) {
        const SimBoard *sim = testbed_board_sim(b);
        const char *port = testbed_board_port(b);
        g_autofree char *bin = g_strdup_printf("%s/%s.bin", dir, port);
        g_autofree char *json = g_strdup_printf("%s/%s.json", dir, port);

        int r = dump_flash(sim, bin, error);
        if (r < 0)
                return r;

        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        json_object_object_add(o, "port", json_object_new_string(port));
        json_object_object_add(o, "part", json_object_new_string(testbed_board_part(b)->name));
        json_object_object_add(o, "serial", json_object_new_string(sim_board_serial(sim)));
        json_object_object_add(o, "plugged", json_object_new_boolean(testbed_board_plugged(b)));
        add_uint(o, "enumerations", testbed_board_plug_count(b));
        uint64_t plugged_at, first_request;
        testbed_board_times(b, &plugged_at, &first_request);
        add_uint(o, "plugged_at_us", plugged_at);
        add_uint(o, "first_dfu_request_us", first_request);
        add_uint(o, "flash_base", sim_board_flash_base(sim));
        add_uint(o, "flash_size", sim_board_flash_size(sim));
        add_uint(o, "dfu_state", sim_board_state(sim)); /* where the last job left the bootloader */
        json_object_object_add(o, "counters", counters_json(sim_board_counters(sim)));
        if (json_object_to_file_ext(json, o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE) < 0)
                return dfu_error_set(error, EIO, "Cannot write %s: %s", json,
                                     json_util_get_last_err() ?: "?");
        return 0;
}

int dump_rack(Testbed *t, const char *dir, DfuError *error) {
        g_autofree char *json = g_strdup_printf("%s/rack.json", dir);
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();

        add_uint(o, "boards_busy_max", testbed_busy_max(t));
        if (json_object_to_file_ext(json, o, JSON_C_TO_STRING_PRETTY) < 0)
                return dfu_error_set(error, EIO, "Cannot write %s: %s", json,
                                     json_util_get_last_err() ?: "?");
        return 0;
}
