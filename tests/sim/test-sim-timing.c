/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The model's timing and its bootloader quirks. Time here is the virtual clock handed to the model,
 * so these are checks of arithmetic, not timed tests.
 */

#include "test-sim-host.h"

#include "test-main.h"

static SimBoard *board_scaled(const char *part, double scale, unsigned quirks, unsigned quirks_off) {
        SimBoardOptions o = {
                .part = part_find(part),
                .time_scale = scale,
                .quirks = quirks,
                .quirks_off = quirks_off,
        };
        SimBoard *b = sim_board_new(&o);
        g_assert_nonnull(b);
        return b;
}

/* One request at an exact time; returns when the model says the answer completes. */
static uint64_t at(SimBoard *b, uint64_t now, uint8_t type, uint8_t request, uint16_t value, uint16_t length,
                   uint8_t *data, SimResult expect) {
        SimSetup s = {type, request, value, 0, length};
        uint64_t ready = 0;
        unsigned events = 0;
        size_t n = 0;

        g_assert_cmpint(sim_board_control(b, &s, data, &n, now, &ready, &events), ==, expect);
        return ready;
}

static void erase_cmd(uint8_t d[5], uint32_t address) {
        d[0] = 0x41;
        d[1] = address & 0xFF;
        d[2] = (address >> 8) & 0xFF;
        d[3] = (address >> 16) & 0xFF;
        d[4] = address >> 24;
}

static unsigned poll_ms(const uint8_t st[6]) {
        return st[1] | st[2] << 8 | st[3] << 16;
}

static void check_erase_timing(double scale, unsigned expect_poll_ms) {
        _cleanup_(sim_board_freep) SimBoard *b = board_scaled("f405", scale, 0, PART_QUIRK_ARRIVES_IN_ERROR);
        const PartInfo *p = sim_board_part(b);
        uint64_t op_us = (uint64_t)((double)part_sector_erase_ms(p, 128 * 1024) * 1000 * scale + 0.5);
        uint8_t d[5], st[6];

        erase_cmd(d, 0x08020000);
        g_assert_cmpuint(at(b, 1000, 0x21, 1, 0, 5, d, SIM_OK), ==, 1000);
        /* The busy answer is immediate; the operation starts with it. */
        g_assert_cmpuint(at(b, 2000, 0xA1, 3, 0, 6, st, SIM_OK), ==, 2000);
        g_assert_cmpuint(st[4], ==, SIM_STATE_DNBUSY);
        g_assert_cmpuint(poll_ms(st), ==, expect_poll_ms);
        /* A poll sent too early is answered when the erase ends. */
        g_assert_cmpuint(at(b, 2001, 0xA1, 3, 0, 6, st, SIM_OK), ==, 2000 + op_us);
        g_assert_cmpuint(st[4], ==, SIM_STATE_DNLOAD_IDLE);
        /* Once done, answers come at once. */
        g_assert_cmpuint(at(b, 3000 + op_us, 0xA1, 3, 0, 6, st, SIM_OK), ==, 3000 + op_us);

        /* The device-bound minimum: bus time of every transfer plus the wait a host cannot avoid. */
        uint64_t expect = sim_usb_transfer_us(5) + 3 * sim_usb_transfer_us(6) +
                          MAX(op_us, (uint64_t)expect_poll_ms * 1000);
        g_assert_cmpuint(sim_board_counters(b)->device_min_us, ==, expect);
        g_assert_cmpuint(sim_board_counters(b)->op_us, ==, op_us);
        g_assert_cmpuint(sim_board_counters(b)->wait_us, ==, MAX(op_us, (uint64_t)expect_poll_ms * 1000));
        g_assert_cmpuint(sim_board_counters(b)->bus_us, ==,
                         sim_usb_transfer_us(5) + 3 * sim_usb_transfer_us(6));
}

static void test_erase_timing(void) {
        check_erase_timing(1.0, 1000);
        check_erase_timing(0.01, 10);
        /* bwPollTimeout never scales below 1 ms. */
        check_erase_timing(0.0001, 1);
}

static void test_write_timing(void) {
        _cleanup_(sim_board_freep) SimBoard *b = board_scaled("h743", 0.5, 0, 0);
        uint64_t op_us = (uint64_t)(part_program_us(sim_board_part(b), 2048) * 0.5 + 0.5);
        uint8_t data[2048], st[6];

        memset(data, 0x12, sizeof(data));
        g_assert_cmpuint(at(b, 0, 0x21, 1, 2, sizeof(data), data, SIM_OK), ==, 0);
        g_assert_cmpuint(at(b, 10, 0xA1, 3, 0, 6, st, SIM_OK), ==, 10);
        g_assert_cmpuint(poll_ms(st), ==, 5); /* 10 ms at half the time */
        /* Everything sent while the bootloader programs waits for it, not only polls. */
        g_assert_cmpuint(at(b, 20, 0xA1, 5, 0, 1, st, SIM_STALL), ==, 10 + op_us);
}

/* A set address costs its bus time only; the poll wait after it is the host's choice. */
static void test_set_address_costs_no_wait(void) {
        _cleanup_(sim_board_freep) SimBoard *b = board_scaled("f405", 1.0, 0, PART_QUIRK_ARRIVES_IN_ERROR);
        uint8_t cmd[5] = {0x21, 0, 0, 0, 0x08}, st[6];

        g_assert_cmpuint(at(b, 0, 0x21, 1, 0, 5, cmd, SIM_OK), ==, 0);
        g_assert_cmpuint(at(b, 0, 0xA1, 3, 0, 6, st, SIM_OK), ==, 0);
        g_assert_cmpuint(poll_ms(st), ==, 100);
        g_assert_cmpuint(sim_board_counters(b)->wait_us, ==, 0);
        g_assert_cmpuint(sim_board_counters(b)->device_min_us, ==,
                         sim_usb_transfer_us(5) + sim_usb_transfer_us(6));
}

static void test_transfer_time(void) {
        /* 2048 bytes at full speed with protocol overhead: about 2 ms. */
        g_assert_cmpuint(sim_usb_transfer_us(2048), >=, 1800);
        g_assert_cmpuint(sim_usb_transfer_us(2048), <=, 2100);
        g_assert_cmpuint(sim_usb_transfer_us(6), <, 60);
        g_assert_cmpuint(sim_usb_transfer_us(0), <, sim_usb_transfer_us(6));
        g_assert_cmpuint(sim_usb_transfer_us(65), >, sim_usb_transfer_us(64));
}

/* Polls at t (us) after a DfuSe command started at 0: three stall at once without an error, ... */
static void check_three_stalls(SimBoard *b, uint64_t t, unsigned stalls_before) {
        uint8_t st[6];

        for (unsigned i = 0; i < 3; i++) {
                g_assert_cmpuint(at(b, t + i, 0xA1, 3, 0, 6, st, SIM_STALL), ==, t + i);
                g_assert_cmpuint(sim_board_state(b), ==, SIM_STATE_DNBUSY);
                g_assert_cmpuint(sim_board_status(b), ==, SIM_STATUS_OK);
        }
        g_assert_cmpuint(sim_board_counters(b)->stalls, ==, stalls_before + 3);
}

/* L4: polls sent too early after an erase stall; the bootloader asks for less than the erase takes. */
static void test_poll_stalls_erase(void) {
        _cleanup_(sim_board_freep) SimBoard *l4 = board_scaled("l476", 1.0, 0, 0);
        const PartInfo *p = part_find("l476");
        uint64_t erase_us = (uint64_t)part_sector_erase_ms(p, 2048) * 1000;
        uint8_t d[5], st[6];

        g_assert_true(sim_board_quirks(l4) & PART_QUIRK_POLL_STALLS);
        erase_cmd(d, 0x08000800);
        g_assert_cmpuint(at(l4, 0, 0x21, 1, 0, 5, d, SIM_OK), ==, 0);
        g_assert_cmpuint(at(l4, 0, 0xA1, 3, 0, 6, st, SIM_OK), ==, 0);
        g_assert_cmpuint(st[4], ==, SIM_STATE_DNBUSY);
        g_assert_cmpuint(poll_ms(st), ==, p->erase_poll_timeout_ms);
        g_assert_cmpuint((uint64_t)poll_ms(st) * 1000, <, erase_us);

        /* A host that waits what it was told polls before the end: three stalls in a row ... */
        check_three_stalls(l4, (uint64_t)poll_ms(st) * 1000, 0);
        /* ... then one is answered busy with the time left ... */
        uint64_t t = (uint64_t)poll_ms(st) * 1000 + 500;
        g_assert_cmpuint(at(l4, t, 0xA1, 3, 0, 6, st, SIM_OK), ==, t);
        g_assert_cmpuint(st[4], ==, SIM_STATE_DNBUSY);
        g_assert_cmpuint(poll_ms(st), ==, (erase_us - t + 999) / 1000);
        /* ... and a poll after the end gets the outcome. */
        g_assert_cmpuint(at(l4, erase_us, 0xA1, 3, 0, 6, st, SIM_OK), ==, erase_us);
        g_assert_cmpuint(st[4], ==, SIM_STATE_DNLOAD_IDLE);
        g_assert_cmpuint(sim_board_counters(l4)->stalls, ==, 3);
        g_assert_cmpuint(sim_board_counters(l4)->erase, ==, 1);
        g_assert_cmpuint(sim_board_counters(l4)->errors, ==, 0);

        /* Mass erase is a DfuSe command too. */
        uint8_t mass = 0x41;
        uint64_t t0 = 100000, mass_us = (uint64_t)part_mass_erase_ms(p) * 1000;
        g_assert_cmpuint(at(l4, t0, 0x21, 1, 0, 1, &mass, SIM_OK), ==, t0);
        g_assert_cmpuint(at(l4, t0, 0xA1, 3, 0, 6, st, SIM_OK), ==, t0);
        check_three_stalls(l4, t0 + 1000, 3);
        g_assert_cmpuint(at(l4, t0 + mass_us, 0xA1, 3, 0, 6, st, SIM_OK), ==, t0 + mass_us);
        g_assert_cmpuint(st[4], ==, SIM_STATE_DNLOAD_IDLE);
        g_assert_cmpuint(sim_board_counters(l4)->mass_erase, ==, 1);
}

/* A set address polled before its bwPollTimeout stalls too; polled when asked, it does not. */
static void test_poll_stalls_set_address(void) {
        _cleanup_(sim_board_freep) SimBoard *l4 = board_scaled("l476", 1.0, 0, 0);
        uint8_t cmd[5] = {0x21, 0x00, 0x08, 0x00, 0x08}, st[6];

        g_assert_cmpuint(at(l4, 0, 0x21, 1, 0, 5, cmd, SIM_OK), ==, 0);
        g_assert_cmpuint(at(l4, 0, 0xA1, 3, 0, 6, st, SIM_OK), ==, 0);
        g_assert_cmpuint(poll_ms(st), ==, part_find("l476")->poll_timeout_ms);
        check_three_stalls(l4, 1000, 0);
        g_assert_cmpuint(at(l4, (uint64_t)poll_ms(st) * 1000, 0xA1, 3, 0, 6, st, SIM_OK), ==,
                         (uint64_t)part_find("l476")->poll_timeout_ms * 1000);
        g_assert_cmpuint(st[4], ==, SIM_STATE_DNLOAD_IDLE);
        g_assert_cmpuint(sim_board_counters(l4)->set_address, ==, 1);

        /* On time: no stall. */
        g_assert_cmpuint(at(l4, 10000, 0x21, 1, 0, 5, cmd, SIM_OK), ==, 10000);
        g_assert_cmpuint(at(l4, 10000, 0xA1, 3, 0, 6, st, SIM_OK), ==, 10000);
        g_assert_cmpuint(at(l4, 10000 + (uint64_t)poll_ms(st) * 1000, 0xA1, 3, 0, 6, st, SIM_OK), ==,
                         10000 + (uint64_t)part_find("l476")->poll_timeout_ms * 1000);
        g_assert_cmpuint(st[4], ==, SIM_STATE_DNLOAD_IDLE);
        g_assert_cmpuint(sim_board_counters(l4)->stalls, ==, 3);
}

/* A block write asks for less than it needs too, but its early polls wait for the end: no stall. */
static void test_poll_stalls_not_after_write(void) {
        _cleanup_(sim_board_freep) SimBoard *l4 = board_scaled("l476", 1.0, 0, 0);
        uint64_t op_us = part_program_us(part_find("l476"), 2048);
        uint8_t data[2048], st[6];

        memset(data, 0x5A, sizeof(data));
        g_assert_cmpuint(at(l4, 0, 0x21, 1, 2, sizeof(data), data, SIM_OK), ==, 0);
        g_assert_cmpuint(at(l4, 0, 0xA1, 3, 0, 6, st, SIM_OK), ==, 0);
        g_assert_cmpuint(poll_ms(st), ==, part_find("l476")->poll_timeout_ms);
        g_assert_cmpuint((uint64_t)poll_ms(st) * 1000, <, op_us);
        /* Polled when told, and even at once: answered when the program ends. */
        g_assert_cmpuint(at(l4, 1, 0xA1, 3, 0, 6, st, SIM_OK), ==, op_us);
        g_assert_cmpuint(st[4], ==, SIM_STATE_DNLOAD_IDLE);

        g_assert_cmpuint(at(l4, op_us, 0x21, 1, 3, sizeof(data), data, SIM_OK), ==, op_us);
        g_assert_cmpuint(at(l4, op_us, 0xA1, 3, 0, 6, st, SIM_OK), ==, op_us);
        g_assert_cmpuint(at(l4, op_us + (uint64_t)poll_ms(st) * 1000, 0xA1, 3, 0, 6, st, SIM_OK), ==,
                         2 * op_us);
        g_assert_cmpuint(st[4], ==, SIM_STATE_DNLOAD_IDLE);
        g_assert_cmpuint(sim_board_counters(l4)->stalls, ==, 0);
        g_assert_cmpuint(sim_board_counters(l4)->blocks_written, ==, 2);
        g_assert_cmpuint(sim_board_counters(l4)->errors, ==, 0);
}

/* Without the quirk an early poll after an erase just waits. */
static void test_poll_stalls_off(void) {
        _cleanup_(sim_board_freep) SimBoard *off = board_scaled("l476", 1.0, 0, PART_QUIRK_POLL_STALLS);
        uint64_t erase_us = (uint64_t)part_sector_erase_ms(part_find("l476"), 2048) * 1000;
        uint8_t d[5], st[6];

        erase_cmd(d, 0x08000000);
        g_assert_cmpuint(at(off, 0, 0x21, 1, 0, 5, d, SIM_OK), ==, 0);
        g_assert_cmpuint(at(off, 0, 0xA1, 3, 0, 6, st, SIM_OK), ==, 0);
        g_assert_cmpuint(at(off, 1000, 0xA1, 3, 0, 6, st, SIM_OK), ==, erase_us);
        g_assert_cmpuint(st[4], ==, SIM_STATE_DNLOAD_IDLE);
        g_assert_cmpuint(sim_board_counters(off)->stalls, ==, 0);
}

static void test_mass_erase_lies(void) {
        _cleanup_(sim_board_freep) SimBoard *liar =
                board_scaled("f405", 1.0, 0, PART_QUIRK_ARRIVES_IN_ERROR);
        _cleanup_(sim_board_freep) SimBoard *honest =
                board_scaled("f405", 1.0, 0, PART_QUIRK_ARRIVES_IN_ERROR | PART_QUIRK_MASS_ERASE_LIES);
        uint64_t mass_us = (uint64_t)part_mass_erase_ms(part_find("f405")) * 1000;
        uint8_t cmd = 0x41, st[6];

        g_assert_cmpuint(at(liar, 0, 0x21, 1, 0, 1, &cmd, SIM_OK), ==, 0);
        g_assert_cmpuint(at(liar, 0, 0xA1, 3, 0, 6, st, SIM_OK), ==, 0);
        g_assert_cmpuint(poll_ms(st), ==, 100);
        g_assert_cmpuint(at(liar, 100000, 0xA1, 3, 0, 6, st, SIM_OK), ==, mass_us);
        g_assert_cmpuint(st[4], ==, SIM_STATE_DNLOAD_IDLE);

        g_assert_cmpuint(at(honest, 0, 0x21, 1, 0, 1, &cmd, SIM_OK), ==, 0);
        g_assert_cmpuint(at(honest, 0, 0xA1, 3, 0, 6, st, SIM_OK), ==, 0);
        g_assert_cmpuint(poll_ms(st) * 1000ull, ==, mass_us);
}

static void test_arrives_in_error(void) {
        _cleanup_(sim_board_freep) SimBoard *h7 = board_scaled("h743", 1.0, PART_QUIRK_ARRIVES_IN_ERROR, 0);
        _cleanup_(sim_board_freep) SimBoard *f4 = board_scaled("f405", 1.0, 0, PART_QUIRK_ARRIVES_IN_ERROR);
        TestHost h;

        g_assert_cmpuint(sim_board_state(h7), ==, SIM_STATE_ERROR);
        g_assert_cmpuint(sim_board_status(h7), ==, SIM_STATUS_ERR_FIRMWARE);
        test_host_init(&h, h7);
        /* Nothing but the error is accepted until CLRSTATUS. */
        g_assert_cmpint(test_set_address(&h, 0x08000000), ==, -1);
        test_clear(&h);
        g_assert_cmpint(test_set_address(&h, 0x08000000), ==, SIM_STATUS_OK);
        /* Every power-up comes up in error again. */
        sim_board_reset(h7);
        g_assert_cmpuint(sim_board_state(h7), ==, SIM_STATE_ERROR);

        g_assert_cmpuint(sim_board_state(f4), ==, SIM_STATE_IDLE);
}

static void test_stuck_dnbusy(void) {
        _cleanup_(sim_board_freep) SimBoard *b = board_scaled("h743", 0.01, 0, 0);
        _cleanup_(sim_board_freep) SimBoard *off = board_scaled("h743", 0.01, 0, PART_QUIRK_STUCK_DNBUSY);
        TestHost h;

        g_assert_true(sim_board_quirks(b) & PART_QUIRK_STUCK_DNBUSY);
        test_host_init(&h, b);
        /* The first bank behaves. */
        g_assert_cmpint(test_erase(&h, 0x080E0000), ==, SIM_STATUS_OK);

        /* Past 1 MB the erase happens, but the board keeps saying busy ... */
        g_assert_cmpint(test_out(&h, 1, 0, ((uint8_t[]){0x41, 0, 0, 0x10, 0x08}), 5), ==, SIM_OK);
        for (unsigned i = 0; i < 10; i++) {
                g_assert_cmpint(test_getstatus(&h), ==, SIM_OK);
                g_assert_cmpuint(test_state(&h), ==, SIM_STATE_DNBUSY);
                g_assert_cmpuint(test_poll_ms(&h), >, 0);
                h.now += (uint64_t)test_poll_ms(&h) * 1000;
        }
        g_assert_cmpuint(sim_board_counters(b)->erases_per_sector[8], ==, 1);
        /* ... until the second CLRSTATUS. */
        g_assert_cmpint(test_out(&h, 4, 0, NULL, 0), ==, SIM_OK);
        g_assert_cmpint(test_getstatus(&h), ==, SIM_OK);
        g_assert_cmpuint(test_state(&h), ==, SIM_STATE_DNBUSY);
        g_assert_cmpint(test_out(&h, 4, 0, NULL, 0), ==, SIM_OK);
        g_assert_cmpint(test_getstatus(&h), ==, SIM_OK);
        g_assert_cmpuint(test_state(&h), ==, SIM_STATE_IDLE);
        g_assert_cmpuint(test_bstatus(&h), ==, SIM_STATUS_OK);

        test_host_init(&h, off);
        g_assert_cmpint(test_erase(&h, 0x08100000), ==, SIM_STATUS_OK);
}

static void test_reset_on_leave_switch(void) {
        _cleanup_(sim_board_freep) SimBoard *h7 = board_scaled("h743", 1.0, 0, PART_QUIRK_RESET_ON_LEAVE);
        _cleanup_(sim_board_freep) SimBoard *f4 =
                board_scaled("f405", 1.0, PART_QUIRK_RESET_ON_LEAVE, PART_QUIRK_ARRIVES_IN_ERROR);
        TestHost h;

        test_host_init(&h, h7);
        g_assert_cmpint(test_out(&h, 1, 0, NULL, 0), ==, SIM_OK);
        g_assert_cmpint(test_getstatus(&h), ==, SIM_OK);
        g_assert_cmpuint(test_state(&h), ==, SIM_STATE_MANIFEST);
        g_assert_cmpuint(h.events, ==, SIM_EVENT_LEAVE);

        test_host_init(&h, f4);
        g_assert_cmpint(test_out(&h, 1, 0, NULL, 0), ==, SIM_OK);
        g_assert_cmpint(test_getstatus(&h), ==, SIM_DISCONNECT);
        g_assert_cmpuint(h.events, ==, SIM_EVENT_LEAVE);
}

/* A board that resets itself comes back busy until the operation that caused the reset ends. */
static void test_reset_waits(void) {
        _cleanup_(sim_board_freep) SimBoard *b = board_scaled("f405", 1.0, 0, PART_QUIRK_ARRIVES_IN_ERROR);
        uint64_t mass_us = (uint64_t)part_mass_erase_ms(part_find("f405")) * 1000;
        uint8_t cmd = 0x92, st[6];
        SimSetup s = {0xA1, 3, 0, 0, 6};
        uint64_t ready = 0;
        unsigned events = 0;
        size_t n = 0;

        g_assert_cmpuint(at(b, 0, 0x21, 1, 0, 1, &cmd, SIM_OK), ==, 0);
        g_assert_cmpint(sim_board_control(b, &s, st, &n, 10, &ready, &events), ==, SIM_OK);
        g_assert_cmpuint(ready, ==, 10);
        g_assert_cmpuint(events, ==, SIM_EVENT_RESET);
        g_assert_cmpuint(at(b, 20, 0xA1, 3, 0, 6, st, SIM_OK), ==, 10 + mass_us);
        g_assert_cmpuint(st[4], ==, SIM_STATE_IDLE);

        /* A power cycle cuts the wait short. */
        g_assert_cmpuint(at(b, 30, 0x21, 1, 0, 1, &cmd, SIM_OK), ==, 10 + mass_us);
        g_assert_cmpuint(at(b, 40 + mass_us, 0xA1, 3, 0, 6, st, SIM_OK), ==, 40 + mass_us);
        sim_board_reset(b);
        g_assert_cmpuint(at(b, 50 + mass_us, 0xA1, 3, 0, 6, st, SIM_OK), ==, 50 + mass_us);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/sim/timing/erase", test_erase_timing);
        g_test_add_func("/sim/timing/write", test_write_timing);
        g_test_add_func("/sim/timing/transfer", test_transfer_time);
        g_test_add_func("/sim/timing/set-address", test_set_address_costs_no_wait);
        g_test_add_func("/sim/timing/reset-waits", test_reset_waits);
        g_test_add_func("/sim/quirk/poll-stalls/erase", test_poll_stalls_erase);
        g_test_add_func("/sim/quirk/poll-stalls/set-address", test_poll_stalls_set_address);
        g_test_add_func("/sim/quirk/poll-stalls/not-after-write", test_poll_stalls_not_after_write);
        g_test_add_func("/sim/quirk/poll-stalls/off", test_poll_stalls_off);
        g_test_add_func("/sim/quirk/mass-erase-lies", test_mass_erase_lies);
        g_test_add_func("/sim/quirk/arrives-in-error", test_arrives_in_error);
        g_test_add_func("/sim/quirk/stuck-dnbusy", test_stuck_dnbusy);
        g_test_add_func("/sim/quirk/reset-on-leave", test_reset_on_leave_switch);
        return test_run();
}
