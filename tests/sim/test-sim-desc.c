/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Descriptors and strings of the simulated bootloader, checked against the part table. */

#include "test-sim-host.h"

#include "test-main.h"

static uint16_t get16(const uint8_t *p) {
        return (uint16_t)(p[0] | p[1] << 8);
}

/* GET_DESCRIPTOR(string) decoded back to ASCII; NULL on a stall. */
static char *get_string(TestHost *h, uint8_t index) {
        uint8_t buf[255];
        size_t n = 0;

        if (index == 0 || test_ctl(h, 0x80, 6, 0x0300 | index, 0x0409, sizeof(buf), buf, &n) != SIM_OK)
                return NULL;
        g_assert_cmpuint(n, >=, 2);
        g_assert_cmpuint(buf[0], ==, n);
        g_assert_cmpuint(buf[1], ==, 3);
        g_assert_cmpuint(n % 2, ==, 0);
        char *s = g_malloc0(n / 2);
        for (size_t i = 2; i < n; i += 2) {
                g_assert_cmpuint(buf[i + 1], ==, 0);
                s[i / 2 - 1] = (char)buf[i];
        }
        return s;
}

static void check_device(TestHost *h, const PartInfo *p, const uint8_t *d) {
        g_autofree char *manufacturer = NULL, *product = NULL, *serial = NULL;

        g_assert_cmpuint(d[0], ==, 18);
        g_assert_cmpuint(d[1], ==, 1);
        g_assert_cmpuint(get16(d + 2), ==, 0x0200);
        g_assert_cmpuint(d[4], ==, 0);
        g_assert_cmpuint(d[7], ==, 64);
        g_assert_cmpuint(get16(d + 8), ==, p->vid);
        g_assert_cmpuint(get16(d + 10), ==, p->pid);
        g_assert_cmpuint(get16(d + 12), ==, p->bcd_device);
        g_assert_cmpuint(d[17], ==, 1);

        manufacturer = get_string(h, d[14]);
        product = get_string(h, d[15]);
        serial = get_string(h, d[16]);
        g_assert_cmpstr(manufacturer, ==, "STMicroelectronics");
        g_assert_cmpstr(product, ==, p->product);
        g_assert_cmpstr(serial, ==, sim_board_serial(h->board));
}

/* Walks the configuration: one interface, one alternate setting per alt string, then DFU functional. */
static void check_config(TestHost *h, const PartInfo *p, const uint8_t *c, size_t n) {
        unsigned n_alt = 0, alts_seen = 0;
        bool same = sim_board_quirks(h->board) & PART_QUIRK_SAME_ALT_STRINGS;
        bool functional = false;

        while (p->alt_strings[n_alt])
                n_alt++;
        g_assert_cmpuint(c[1], ==, 2);
        g_assert_cmpuint(get16(c + 2), ==, n);
        g_assert_cmpuint(c[4], ==, 1);

        for (size_t off = c[0]; off < n; off += c[off]) {
                const uint8_t *d = c + off;
                g_assert_cmpuint(d[0], >=, 2);
                g_assert_cmpuint(off + d[0], <=, n);
                if (d[1] == 4) {
                        g_autofree char *name = get_string(h, d[8]);
                        g_assert_cmpuint(d[2], ==, 0);
                        g_assert_cmpuint(d[3], ==, alts_seen);
                        g_assert_cmpmem(d + 5, 3, ((uint8_t[]){0xFE, 0x01, 0x02}), 3);
                        g_assert_cmpstr(name, ==, p->alt_strings[same ? 0 : alts_seen]);
                        alts_seen++;
                } else if (d[1] == 0x21) {
                        uint8_t expect[] = {
                                9,    0x21, 0x0B, 0xFF, 0x00, p->transfer_size & 0xFF, p->transfer_size >> 8,
                                0x1A, 0x01};
                        g_assert_cmpmem(d, d[0], expect, sizeof(expect));
                        functional = true;
                }
        }
        g_assert_cmpuint(alts_seen, ==, n_alt);
        g_assert_true(functional);
}

/* Every part in the table: the sysfs blob and the GET_DESCRIPTOR answers agree with the table. */
static void test_descriptors_all_parts(void) {
        for (unsigned i = 0; i < part_table_size; i++) {
                const PartInfo *p = &part_table[i];
                _cleanup_(sim_board_freep) SimBoard *b = test_board(p->name, 0, 0);
                uint8_t blob[1024], buf[1024];
                size_t total, n = 0;
                TestHost h;

                test_host_init(&h, b);
                total = sim_board_descriptors(b, blob, sizeof(blob));
                g_assert_cmpuint(total, ==, sim_board_descriptors(b, NULL, 0));
                g_assert_cmpuint(total, >, 18 + 9);
                check_device(&h, p, blob);
                check_config(&h, p, blob + 18, total - 18);

                g_assert_cmpint(test_ctl(&h, 0x80, 6, 0x0100, 0, 18, buf, &n), ==, SIM_OK);
                g_assert_cmpmem(buf, n, blob, 18);
                /* Hosts read the first 9 bytes for wTotalLength, then the whole. */
                g_assert_cmpint(test_ctl(&h, 0x80, 6, 0x0200, 0, 9, buf, &n), ==, SIM_OK);
                g_assert_cmpuint(n, ==, 9);
                g_assert_cmpint(test_ctl(&h, 0x80, 6, 0x0200, 0, sizeof(buf), buf, &n), ==, SIM_OK);
                g_assert_cmpmem(buf, n, blob + 18, total - 18);
        }
}

static void test_strings(void) {
        _cleanup_(sim_board_freep) SimBoard *b = test_board("f405", 0, 0);
        uint8_t buf[255];
        size_t n = 0;
        TestHost h;

        test_host_init(&h, b);
        g_assert_cmpint(test_ctl(&h, 0x80, 6, 0x0300, 0, sizeof(buf), buf, &n), ==, SIM_OK);
        g_assert_cmpmem(buf, n, ((uint8_t[]){4, 3, 0x09, 0x04}), 4);
        /* Truncated to wLength. */
        g_assert_cmpint(test_ctl(&h, 0x80, 6, 0x0302, 0x0409, 6, buf, &n), ==, SIM_OK);
        g_assert_cmpmem(buf, n, ((uint8_t[]){36, 3, 'S', 0, 'T', 0}), 6);
        /* No such string, other language, other descriptor type: stalls that leave the DFU state alone. */
        g_assert_cmpint(test_ctl(&h, 0x80, 6, 0x0340, 0x0409, sizeof(buf), buf, &n), ==, SIM_STALL);
        g_assert_cmpint(test_ctl(&h, 0x80, 6, 0x0302, 0x0407, sizeof(buf), buf, &n), ==, SIM_STALL);
        g_assert_cmpint(test_ctl(&h, 0x80, 6, 0x0600, 0, sizeof(buf), buf, &n), ==, SIM_STALL);
        /* A zero-length read needs no buffer. */
        g_assert_cmpint(test_ctl(&h, 0x80, 6, 0x0100, 0, 0, NULL, &n), ==, SIM_OK);
        g_assert_cmpuint(n, ==, 0);
        g_assert_cmpint(test_ctl(&h, 0x80, 6, 0x0300, 0, 0, NULL, &n), ==, SIM_OK);
        g_assert_cmpuint(sim_board_state(b), ==, SIM_STATE_ERROR); /* F4 arrival state, untouched */
        g_assert_cmpuint(sim_board_status(b), ==, SIM_STATUS_ERR_FIRMWARE);
}

static void test_serial(void) {
        SimBoardOptions o = {
                .part = part_find("h743"),
                .unique_id = {0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B},
        };
        _cleanup_(sim_board_freep) SimBoard *h7 = sim_board_new(&o);

        /* id[11], id[10] + id[2], id[9], id[8] + id[0], id[7], id[6] */
        g_assert_cmpstr(sim_board_serial(h7), ==, "1B2C19281716");

        o.unique_id[10] = 0xF0; /* the sums wrap at a byte */
        o.unique_id[2] = 0x20;
        _cleanup_(sim_board_freep) SimBoard *other = sim_board_new(&o);
        g_assert_cmpstr(sim_board_serial(other), ==, "1B1019281716");

        /* Parts with a constant serial report it whatever their ID. */
        for (unsigned i = 0; i < part_table_size; i++) {
                if (!part_table[i].serial)
                        continue;
                o.part = &part_table[i];
                _cleanup_(sim_board_freep) SimBoard *b = sim_board_new(&o);
                g_assert_cmpstr(sim_board_serial(b), ==, part_table[i].serial);
        }
}

static void test_interface(void) {
        _cleanup_(sim_board_freep) SimBoard *b = test_board("f405", 0, 0);
        uint8_t buf[8];
        size_t n = 0;
        TestHost h;

        test_host_init(&h, b);
        g_assert_cmpint(test_ctl(&h, 0x01, 11, 3, 0, 0, buf, &n), ==, SIM_OK);
        g_assert_cmpint(test_ctl(&h, 0x81, 10, 0, 0, 1, buf, &n), ==, SIM_OK);
        g_assert_cmpuint(buf[0], ==, 3);
        g_assert_cmpuint(sim_board_alt(b), ==, 3);
        g_assert_cmpint(test_ctl(&h, 0x01, 11, 4, 0, 0, buf, &n), ==, SIM_STALL);
        g_assert_cmpint(sim_board_set_alt(b, 4), ==, -EINVAL);
        g_assert_cmpint(sim_board_set_alt(b, 1), ==, 0);
        g_assert_cmpuint(sim_board_alt(b), ==, 1);

        g_assert_cmpint(test_ctl(&h, 0x00, 9, 1, 0, 0, buf, &n), ==, SIM_OK);
        g_assert_cmpint(test_ctl(&h, 0x80, 8, 0, 0, 1, buf, &n), ==, SIM_OK);
        g_assert_cmpuint(buf[0], ==, 1);
        g_assert_cmpint(test_ctl(&h, 0x80, 0, 0, 0, 2, buf, &n), ==, SIM_OK);
        g_assert_cmpuint(n, ==, 2);
}

static void test_same_alt_strings(void) {
        _cleanup_(sim_board_freep) SimBoard *h7 = test_board("h743", PART_QUIRK_SAME_ALT_STRINGS, 0);
        _cleanup_(sim_board_freep) SimBoard *g0 = test_board("g0b1", 0, PART_QUIRK_SAME_ALT_STRINGS);
        uint8_t blob[512];
        size_t n;

        /* Switched on for a part without it, every alternate setting names the flash ... */
        n = sim_board_descriptors(h7, blob, sizeof(blob));
        g_assert_cmpuint(n, ==, 18 + 9 + 2 * 9 + 9);
        g_assert_cmpuint(blob[18 + 9 + 8], ==, blob[18 + 9 + 9 + 8]);
        /* ... and switched off, each has its own string index. */
        n = sim_board_descriptors(g0, blob, sizeof(blob));
        g_assert_cmpuint(blob[18 + 9 + 8], !=, blob[18 + 9 + 9 + 8]);
        g_assert_true(sim_board_quirks(g0) == (part_find("g0b1")->quirks & ~PART_QUIRK_SAME_ALT_STRINGS));
        /* The memory behind the settings is unchanged by the quirk: option bytes stay where they are. */
        g_assert_cmpuint(sim_board_read_flash(h7, 0x5200201C, blob, 128), ==, 0);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/sim/desc/all-parts", test_descriptors_all_parts);
        g_test_add_func("/sim/desc/strings", test_strings);
        g_test_add_func("/sim/desc/serial", test_serial);
        g_test_add_func("/sim/desc/interface", test_interface);
        g_test_add_func("/sim/desc/same-alt-strings", test_same_alt_strings);
        return test_run();
}
