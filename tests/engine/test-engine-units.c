/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The engine's pure pieces: port paths, GETSTATUS decoding, names, errno mapping, the quirk table. */
#include <errno.h>

#include "dfuse-internal.h"

/* After our headers: GLib's MIN/MAX replace macro.h's cleanly, the other order warns. */
#include "test-main.h"
#include <glib.h>

static void test_port_path_parse(void) {
        uint8_t bus, ports[8];

        g_assert_cmpint(usb_port_path_parse("1-1.3", &bus, ports, 8), ==, 2);
        g_assert_cmpuint(bus, ==, 1);
        g_assert_cmpuint(ports[0], ==, 1);
        g_assert_cmpuint(ports[1], ==, 3);
        g_assert_cmpint(usb_port_path_parse("3-12", &bus, ports, 8), ==, 1);
        g_assert_cmpuint(bus, ==, 3);
        g_assert_cmpuint(ports[0], ==, 12);
        g_assert_cmpint(usb_port_path_parse("2-1.2.3.4", &bus, ports, 8), ==, 4);
        g_assert_cmpuint(ports[3], ==, 4);

        const char *bad[] = {"",    "1",   "1-",      "-1",   "1-1.", "1-.1",
                             "0-1", "1-0", "1-1.256", "1-1x", "a-1",  "1-1..2"};
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
                g_assert_cmpint(usb_port_path_parse(bad[i], &bus, ports, 8), ==, -EINVAL);
        g_assert_cmpint(usb_port_path_parse(NULL, &bus, ports, 8), ==, -EINVAL);
        g_assert_cmpint(usb_port_path_parse("1-1.2.3", &bus, ports, 2), ==, -E2BIG);
}

static void test_port_path_format(void) {
        const uint8_t ports[] = {1, 3, 2};
        char buf[16];

        g_assert_cmpint(usb_port_path_format(1, ports, 3, buf, sizeof(buf)), ==, 0);
        g_assert_cmpstr(buf, ==, "1-1.3.2");
        g_assert_cmpint(usb_port_path_format(12, ports, 1, buf, sizeof(buf)), ==, 0);
        g_assert_cmpstr(buf, ==, "12-1");
        g_assert_cmpint(usb_port_path_format(1, ports, 3, buf, 6), ==, -ENOBUFS);
}

static void test_status_decode(void) {
        /* errTARGET, 0x030201 ms, dfuERROR, iString 7: bwPollTimeout is three bytes, little-endian. */
        const uint8_t a[6] = {0x01, 0x01, 0x02, 0x03, 0x0a, 0x07};
        const uint8_t b[6] = {0x00, 0x64, 0x00, 0x00, 0x04, 0x00};
        DfuStatus st;

        g_assert_cmpint(dfu_status_decode(a, 6, &st), ==, 0);
        g_assert_cmpuint(st.status, ==, 1);
        g_assert_cmpuint(st.poll_timeout_ms, ==, 0x030201);
        g_assert_cmpuint(st.state, ==, DFU_STATE_ERROR);
        g_assert_cmpuint(st.string_index, ==, 7);
        g_assert_cmpint(dfu_status_decode(b, 6, &st), ==, 0);
        g_assert_cmpuint(st.poll_timeout_ms, ==, 100);
        g_assert_cmpuint(st.state, ==, DFU_STATE_DNBUSY);
        g_assert_cmpint(dfu_status_decode(b, 5, &st), ==, -EBADMSG);
}

static void test_names(void) {
        g_assert_cmpstr(dfu_state_to_string(DFU_STATE_DNLOAD_IDLE), ==, "dfuDNLOAD-IDLE");
        g_assert_cmpstr(dfu_state_to_string(DFU_STATE_ERROR), ==, "dfuERROR");
        g_assert_cmpstr(dfu_state_to_string(11), ==, "unknown state");
        g_assert_cmpstr(dfu_status_to_string(DFU_STATUS_ERR_VENDOR), ==, "errVENDOR");
        g_assert_cmpstr(dfu_status_to_string(15), ==, "errSTALLEDPKT");
        g_assert_cmpstr(dfu_status_to_string(16), ==, "unknown status");
        g_assert_cmpstr(dfuse_phase_to_string(DFUSE_PHASE_ERASE), ==, "erase");
        g_assert_cmpstr(dfuse_phase_to_string(_DFUSE_PHASE_MAX), ==, "unknown");
}

static void test_errno(void) {
        g_assert_cmpint(libusb_error_to_errno(LIBUSB_ERROR_NO_DEVICE), ==, -ENODEV);
        g_assert_cmpint(libusb_error_to_errno(LIBUSB_ERROR_PIPE), ==, -EPIPE);
        g_assert_cmpint(libusb_error_to_errno(LIBUSB_ERROR_TIMEOUT), ==, -ETIMEDOUT);
        g_assert_cmpint(libusb_error_to_errno(LIBUSB_ERROR_OTHER), ==, -EIO);
        g_assert_cmpint(libusb_error_to_errno(6), ==, 6);
}

static void lookup(const char *name, DfuseQuirks *q) {
        const PartInfo *p = name ? part_find(name) : NULL;

        g_assert_true(!name || p);
        dfuse_quirks_lookup(0x0483, 0xdf11, p ? p->bcd_device : 0x2200, p, q);
}

static void test_quirks(void) {
        DfuseQuirks q;

        /* An unknown board still gets the ST bootloader's USB timeout and nothing else. */
        lookup(NULL, &q);
        g_assert_cmpuint(q.timeout_ms, ==, 5000);
        g_assert_cmpuint(q.poll_stalls, ==, 0);
        g_assert_cmpuint(q.mass_erase_ms, ==, 0);
        g_assert_false(q.clrstatus_on_arrival || q.double_clrstatus || q.reset_on_leave);

        /* Every quirk the part table declares must turn into behaviour. */
        for (unsigned i = 0; i < part_table_size; i++) {
                const PartInfo *p = &part_table[i];
                lookup(p->name, &q);
                g_assert_cmpuint(q.part_quirks & p->quirks, ==, p->quirks);
                g_assert_true(!(p->quirks & PART_QUIRK_POLL_STALLS) == (q.poll_stalls == 0));
                g_assert_true(!(p->quirks & PART_QUIRK_MASS_ERASE_LIES) == (q.mass_erase_ms == 0));
                g_assert_true(!(p->quirks & PART_QUIRK_ARRIVES_IN_ERROR) == !q.clrstatus_on_arrival);
                g_assert_true(!(p->quirks & PART_QUIRK_STUCK_DNBUSY) == !q.double_clrstatus);
                g_assert_true(!(p->quirks & PART_QUIRK_RESET_ON_LEAVE) == !q.reset_on_leave);
                if (p->quirks & PART_QUIRK_MASS_ERASE_LIES)
                        g_assert_cmpuint(q.mass_erase_ms, >=, MAX(p->mass_erase_max_ms, 35000u));
        }

        lookup("l476", &q);
        g_assert_cmpuint(q.poll_stalls, ==, 3);
        lookup("f405", &q);
        g_assert_cmpuint(q.mass_erase_ms, >=, 35000);
        g_assert_true(q.clrstatus_on_arrival);

        /* A board of another vendor matches no ST row. */
        dfuse_quirks_lookup(0x1209, 0x0001, 0x0100, NULL, &q);
        g_assert_cmpuint(q.timeout_ms, ==, 5000);
        g_assert_cmpuint(q.part_quirks, ==, 0);
}

/* The ST row's USB timeout holds for every part: the rows for part quirks carry none and change none. */
static void test_quirk_timeouts(void) {
        DfuseQuirks q;

        for (unsigned i = 0; i < part_table_size; i++) {
                lookup(part_table[i].name, &q);
                g_assert_cmpuint(q.timeout_ms, ==, 5000);
        }
}

/* The bus number ends at its '-': another separator, or a bus past 255, is no port path. */
static void test_port_path_bus(void) {
        const char *bad[] = {"1:1", "1.1", "256-1", "1_1-1"};
        uint8_t bus = 0, ports[8];

        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
                g_assert_cmpint(usb_port_path_parse(bad[i], &bus, ports, 8), ==, -EINVAL);
        g_assert_cmpint(usb_port_path_parse("255-1", &bus, ports, 8), ==, 1);
        g_assert_cmpuint(bus, ==, 255);
}

/* --timeout 0 (or none) keeps the quirk table's timeout; no device, nothing to set. */
static void test_set_timeout(void) {
        DfuseDevice d = {.quirks = {.timeout_ms = 5000}};

        dfuse_set_timeout(&d, 0);
        g_assert_cmpuint(d.quirks.timeout_ms, ==, 5000);
        dfuse_set_timeout(&d, 250);
        g_assert_cmpuint(d.quirks.timeout_ms, ==, 250);
        dfuse_set_timeout(NULL, 250);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/engine/port-path/parse", test_port_path_parse);
        g_test_add_func("/engine/port-path/format", test_port_path_format);
        g_test_add_func("/engine/port-path/bus", test_port_path_bus);
        g_test_add_func("/engine/quirks/timeouts", test_quirk_timeouts);
        g_test_add_func("/engine/set-timeout", test_set_timeout);
        g_test_add_func("/engine/status/decode", test_status_decode);
        g_test_add_func("/engine/names", test_names);
        g_test_add_func("/engine/errno", test_errno);
        g_test_add_func("/engine/quirks", test_quirks);
        return test_run();
}
