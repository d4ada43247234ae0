/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A well-behaved host for the model unit tests: it honours bwPollTimeout and keeps a virtual clock. */

#include <string.h>

/* Before glib.h, whose MIN/MAX replace macro.h's silently in that order. */
#include "sim.h"

#include <glib.h>

typedef struct TestHost {
        SimBoard *board;
        uint64_t now; /* virtual microseconds */
        unsigned events;
        uint8_t status[6]; /* last GETSTATUS answer */
} TestHost;

static inline SimBoard *test_board(const char *part, unsigned quirks, unsigned quirks_off) {
        SimBoardOptions o = {
                .part = part_find(part),
                .unique_id = {0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B},
                .time_scale = 1.0,
                .quirks = quirks,
                .quirks_off = quirks_off,
        };
        g_assert_nonnull(o.part);
        SimBoard *b = sim_board_new(&o);
        g_assert_nonnull(b);
        return b;
}

static inline void test_host_init(TestHost *h, SimBoard *b) {
        *h = (TestHost){.board = b, .now = 1000};
}

/* One control transfer; the clock moves to when its answer completes. */
static inline SimResult test_ctl(TestHost *h, uint8_t type, uint8_t request, uint16_t value, uint16_t index,
                                 uint16_t length, uint8_t *data, size_t *len) {
        SimSetup s = {type, request, value, index, length};
        uint64_t ready = 0;
        size_t n = 0;
        SimResult r = sim_board_control(h->board, &s, data, len ? len : &n, h->now, &ready, &h->events);
        g_assert_cmpuint(ready, >=, h->now);
        h->now = ready + 100;
        return r;
}

static inline SimResult test_out(TestHost *h, uint8_t request, uint16_t value, const void *data,
                                 uint16_t len) {
        uint8_t buf[4096];
        g_assert_cmpuint(len, <=, sizeof(buf));
        if (len)
                memcpy(buf, data, len);
        return test_ctl(h, 0x21, request, value, 0, len, buf, NULL);
}

static inline SimResult test_getstatus(TestHost *h) {
        size_t n = 0;
        memset(h->status, 0xEE, sizeof(h->status));
        SimResult r = test_ctl(h, 0xA1, 3, 0, 0, 6, h->status, &n);
        if (r == SIM_OK)
                g_assert_cmpuint(n, ==, 6);
        return r;
}

static inline unsigned test_poll_ms(const TestHost *h) {
        return h->status[1] | h->status[2] << 8 | h->status[3] << 16;
}

static inline uint8_t test_state(const TestHost *h) {
        return h->status[4];
}

static inline uint8_t test_bstatus(const TestHost *h) {
        return h->status[0];
}

/*
 * DNLOAD then the GETSTATUS dance: the first answer must be dfuDNBUSY; wait bwPollTimeout and poll
 * until the board leaves dfuDNBUSY. Returns the final bStatus, or -1 if the DNLOAD stalled.
 */
static inline int test_dnload(TestHost *h, uint16_t block, const void *data, uint16_t len) {
        if (test_out(h, 1, block, data, len) != SIM_OK)
                return -1;
        g_assert_cmpint(test_getstatus(h), ==, SIM_OK);
        g_assert_cmpuint(test_state(h), ==, SIM_STATE_DNBUSY);
        for (unsigned i = 0; i < 100; i++) {
                h->now += (uint64_t)test_poll_ms(h) * 1000;
                g_assert_cmpint(test_getstatus(h), ==, SIM_OK);
                if (test_state(h) != SIM_STATE_DNBUSY)
                        return test_bstatus(h);
        }
        g_assert_not_reached();
}

static inline int test_command(TestHost *h, uint8_t cmd, int64_t address) {
        uint8_t d[5] = {cmd, address & 0xFF, (address >> 8) & 0xFF, (address >> 16) & 0xFF,
                        (address >> 24) & 0xFF};
        return test_dnload(h, 0, d, address < 0 ? 1 : 5);
}

static inline int test_set_address(TestHost *h, uint32_t address) {
        return test_command(h, 0x21, address);
}

static inline int test_erase(TestHost *h, uint32_t address) {
        return test_command(h, 0x41, address);
}

static inline void test_clear(TestHost *h) {
        g_assert_cmpint(test_out(h, 4, 0, NULL, 0), ==, SIM_OK);
        g_assert_cmpuint(sim_board_state(h->board), ==, SIM_STATE_IDLE);
}

/* Set address + one block 2; returns the bStatus of the write (or of a failed set-address). */
static inline int test_write(TestHost *h, uint32_t address, const void *data, uint16_t len) {
        if (sim_board_state(h->board) == SIM_STATE_UPLOAD_IDLE)
                g_assert_cmpint(test_out(h, 6, 0, NULL, 0), ==, SIM_OK);
        int r = test_set_address(h, address);
        if (r != SIM_STATUS_OK)
                return r;
        return test_dnload(h, 2, data, len);
}

/* ABORT to dfuIDLE, set address, UPLOAD block 2; returns the bytes read or -1 on a stall. */
static inline int test_upload(TestHost *h, uint32_t address, uint8_t *buf, uint16_t len) {
        size_t n = 0;
        if (sim_board_state(h->board) != SIM_STATE_IDLE)
                g_assert_cmpint(test_out(h, 6, 0, NULL, 0), ==, SIM_OK);
        if (test_set_address(h, address) != SIM_STATUS_OK)
                return -1;
        g_assert_cmpint(test_out(h, 6, 0, NULL, 0), ==, SIM_OK);
        if (test_ctl(h, 0xA1, 2, 2, 0, len, buf, &n) != SIM_OK)
                return -1;
        return (int)n;
}
