/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The simulated bootloader's DFU state machine and DfuSe commands, driven request by request. */

#include "test-sim-host.h"

#include "test-main.h"

#define F4_SECTOR1 0x08004000u /* 16 KiB */

static void test_arrival(void) {
        _cleanup_(sim_board_freep) SimBoard *f4 = test_board("f405", 0, 0);
        _cleanup_(sim_board_freep) SimBoard *h7 = test_board("h743", 0, 0);
        TestHost h;

        /* A fresh F4 may come up in dfuERROR/errFIRMWARE; CLRSTATUS brings it to dfuIDLE. */
        test_host_init(&h, f4);
        g_assert_cmpint(test_getstatus(&h), ==, SIM_OK);
        g_assert_cmpuint(test_state(&h), ==, SIM_STATE_ERROR);
        g_assert_cmpuint(test_bstatus(&h), ==, SIM_STATUS_ERR_FIRMWARE);
        test_clear(&h);
        g_assert_cmpint(test_getstatus(&h), ==, SIM_OK);
        g_assert_cmpuint(test_state(&h), ==, SIM_STATE_IDLE);
        g_assert_cmpuint(test_bstatus(&h), ==, SIM_STATUS_OK);
        g_assert_cmpuint(test_poll_ms(&h), ==, 0);

        test_host_init(&h, h7);
        g_assert_cmpint(test_getstatus(&h), ==, SIM_OK);
        g_assert_cmpuint(test_state(&h), ==, SIM_STATE_IDLE);
        g_assert_cmpuint(sim_board_flash_base(h7), ==, 0x08000000);
        g_assert_cmpuint(sim_board_flash_size(h7), ==, 2 * 1024 * 1024);
}

static void test_get_commands(void) {
        _cleanup_(sim_board_freep) SimBoard *b = test_board("h743", 0, 0);
        uint8_t buf[64];
        size_t n = 0;
        TestHost h;

        test_host_init(&h, b);
        g_assert_cmpint(test_ctl(&h, 0xA1, 2, 0, 0, sizeof(buf), buf, &n), ==, SIM_OK);
        g_assert_cmpuint(n, ==, 4);
        g_assert_cmpmem(buf, 4, ((uint8_t[]){0x00, 0x21, 0x41, 0x92}), 4);
        /* The short frame ended the upload. */
        g_assert_cmpuint(sim_board_state(b), ==, SIM_STATE_IDLE);
        g_assert_cmpint(test_ctl(&h, 0xA1, 2, 0, 0, 4, buf, &n), ==, SIM_OK);
        g_assert_cmpuint(sim_board_state(b), ==, SIM_STATE_UPLOAD_IDLE);
}

static void expect_stall_to_error(TestHost *h, uint8_t type, uint8_t request, uint16_t value,
                                  uint16_t length) {
        uint8_t buf[8] = {0x21, 0, 0, 0, 0x08};
        size_t n = 0;

        g_assert_cmpint(test_ctl(h, type, request, value, 0, length, buf, &n), ==, SIM_STALL);
        g_assert_cmpuint(sim_board_state(h->board), ==, SIM_STATE_ERROR);
        g_assert_cmpuint(sim_board_status(h->board), ==, SIM_STATUS_ERR_STALLEDPKT);
        test_clear(h);
}

static void test_wrong_state(void) {
        _cleanup_(sim_board_freep) SimBoard *b = test_board("h743", 0, 0);
        uint8_t buf[2048];
        size_t n = 0;
        TestHost h;

        test_host_init(&h, b);
        /* CLRSTATUS and DETACH have no place in dfuIDLE. */
        expect_stall_to_error(&h, 0x21, 4, 0, 0);
        expect_stall_to_error(&h, 0x21, 0, 1000, 0);

        /* dfuDNLOAD-IDLE: no upload. */
        g_assert_cmpint(test_set_address(&h, 0x08000000), ==, SIM_STATUS_OK);
        g_assert_cmpuint(sim_board_state(b), ==, SIM_STATE_DNLOAD_IDLE);
        expect_stall_to_error(&h, 0xA1, 2, 2, 16);

        /* dfuUPLOAD-IDLE: no download; ABORT returns to dfuIDLE. */
        g_assert_cmpint(test_ctl(&h, 0xA1, 2, 2, 0, 64, buf, &n), ==, SIM_OK);
        g_assert_cmpuint(sim_board_state(b), ==, SIM_STATE_UPLOAD_IDLE);
        expect_stall_to_error(&h, 0x21, 1, 2, 4);
        g_assert_cmpint(test_ctl(&h, 0xA1, 2, 2, 0, 64, buf, &n), ==, SIM_OK);
        g_assert_cmpint(test_out(&h, 6, 0, NULL, 0), ==, SIM_OK);
        g_assert_cmpuint(sim_board_state(b), ==, SIM_STATE_IDLE);

        /* dfuDNLOAD-SYNC: only GETSTATUS/GETSTATE; UPLOAD stalls and drops the command. */
        g_assert_cmpint(test_out(&h, 1, 0, ((uint8_t[]){0x41, 0, 0, 0, 0x08}), 5), ==, SIM_OK);
        g_assert_cmpint(test_ctl(&h, 0xA1, 5, 0, 0, 1, buf, &n), ==, SIM_OK);
        g_assert_cmpuint(buf[0], ==, SIM_STATE_DNLOAD_SYNC);
        expect_stall_to_error(&h, 0xA1, 2, 2, 16);
        g_assert_cmpuint(sim_board_counters(b)->erase, ==, 0);

        /* dfuDNBUSY: nothing but GETSTATUS. */
        g_assert_cmpint(test_out(&h, 1, 0, ((uint8_t[]){0x21, 0, 0, 0, 0x08}), 5), ==, SIM_OK);
        g_assert_cmpint(test_getstatus(&h), ==, SIM_OK);
        g_assert_cmpuint(test_state(&h), ==, SIM_STATE_DNBUSY);
        expect_stall_to_error(&h, 0x21, 6, 0, 0);

        /* dfuERROR: requests stall and the first error's status is kept until CLRSTATUS. */
        g_assert_cmpint(test_set_address(&h, 0x38000000), ==, SIM_STATUS_ERR_TARGET);
        g_assert_cmpint(test_out(&h, 1, 2, buf, 16), ==, SIM_STALL);
        g_assert_cmpint(test_out(&h, 6, 0, NULL, 0), ==, SIM_STALL);
        g_assert_cmpint(test_getstatus(&h), ==, SIM_OK);
        g_assert_cmpuint(test_state(&h), ==, SIM_STATE_ERROR);
        g_assert_cmpuint(test_bstatus(&h), ==, SIM_STATUS_ERR_TARGET);
        test_clear(&h);

        /* A DFU request with the wrong direction or interface stalls without changing state. */
        g_assert_cmpint(test_ctl(&h, 0x21, 3, 0, 0, 6, buf, &n), ==, SIM_STALL);
        g_assert_cmpint(test_ctl(&h, 0xA1, 3, 0, 1, 6, buf, &n), ==, SIM_STALL);
        g_assert_cmpuint(sim_board_state(b), ==, SIM_STATE_IDLE);
}

static void test_block_rules(void) {
        _cleanup_(sim_board_freep) SimBoard *b = test_board("h743", 0, 0);
        uint8_t buf[4096] = {0};
        size_t n = 0;
        TestHost h;

        test_host_init(&h, b);
        /* wBlockNum 1 is reserved, downloads and uploads alike. */
        expect_stall_to_error(&h, 0x21, 1, 1, 32);
        expect_stall_to_error(&h, 0xA1, 2, 1, 32);
        /* More than wTransferSize. */
        expect_stall_to_error(&h, 0x21, 1, 2, 2049);
        expect_stall_to_error(&h, 0xA1, 2, 2, 2049);
        /* Unknown commands and malformed known ones. */
        expect_stall_to_error(&h, 0x21, 1, 0, 1); /* 0x21 alone */
        buf[0] = 0x55;
        g_assert_cmpint(test_ctl(&h, 0x21, 1, 0, 0, 5, buf, &n), ==, SIM_STALL);
        g_assert_cmpint(test_getstatus(&h), ==, SIM_OK);
        g_assert_cmpuint(test_state(&h), ==, SIM_STATE_ERROR);
        g_assert_cmpuint(test_bstatus(&h), ==, SIM_STATUS_ERR_STALLEDPKT);
        test_clear(&h);
}

static void test_set_address_validity(void) {
        _cleanup_(sim_board_freep) SimBoard *h7 = test_board("h743", 0, 0);
        _cleanup_(sim_board_freep) SimBoard *f4 = test_board("f405", 0, PART_QUIRK_ARRIVES_IN_ERROR);
        static const struct {
                uint32_t address;
                uint8_t status;
        } h7_cases[] = {
                {0x08000000, SIM_STATUS_OK},         {0x081FFFFF, SIM_STATUS_OK}, /* flash */
                {0x08200000, SIM_STATUS_ERR_TARGET},                              /* past flash */
                {0x2001FF00, SIM_STATUS_OK},                                      /* DTCM */
                {0x24000000, SIM_STATUS_OK},                                      /* AXI SRAM */
                {0x1FF00000, SIM_STATUS_OK},                                      /* system memory */
                {0x5200201C, SIM_STATUS_OK},                                      /* option bytes */
                {0x38000000, SIM_STATUS_ERR_TARGET}, /* SRAM4: out of the bootloader's reach */
                {0x30000000, SIM_STATUS_ERR_TARGET}, /* SRAM1 */
                {0x60000000, SIM_STATUS_ERR_TARGET}, /* external memory */
        };
        TestHost h;

        test_host_init(&h, h7);
        FOREACH_ARRAY (c, h7_cases, ELEMENTSOF(h7_cases)) {
                g_assert_cmpint(test_set_address(&h, c->address), ==, c->status);
                if (c->status != SIM_STATUS_OK) {
                        g_assert_cmpuint(sim_board_state(h7), ==, SIM_STATE_ERROR);
                        test_clear(&h);
                }
        }
        g_assert_cmpuint(sim_board_counters(h7)->set_address, ==, ELEMENTSOF(h7_cases));

        test_host_init(&h, f4);
        g_assert_cmpint(test_set_address(&h, 0x1FFFC000), ==, SIM_STATUS_OK); /* option bytes */
        g_assert_cmpint(test_set_address(&h, 0x1FFF7800), ==, SIM_STATUS_OK); /* OTP */
        g_assert_cmpint(test_set_address(&h, 0x20010000), ==, SIM_STATUS_OK);
        g_assert_cmpint(test_set_address(&h, 0x08100000), ==, SIM_STATUS_ERR_TARGET);
}

static void test_erase_page(void) {
        _cleanup_(sim_board_freep) SimBoard *b = test_board("f405", 0, PART_QUIRK_ARRIVES_IN_ERROR);
        uint8_t data[64], buf[64];
        TestHost h;

        memset(data, 0x5A, sizeof(data));
        test_host_init(&h, b);
        g_assert_cmpint(test_write(&h, 0x08000000, data, sizeof(data)), ==, SIM_STATUS_OK);
        g_assert_cmpint(test_write(&h, F4_SECTOR1, data, sizeof(data)), ==, SIM_STATUS_OK);
        g_assert_cmpint(test_write(&h, F4_SECTOR1 + 0x3FC0, data, sizeof(data)), ==, SIM_STATUS_OK);

        /* Any address inside the page erases the whole page, and nothing else. */
        g_assert_cmpint(test_erase(&h, F4_SECTOR1 + 0x10), ==, SIM_STATUS_OK);
        g_assert_cmpint(sim_board_read_flash(b, F4_SECTOR1, buf, sizeof(buf)), ==, 0);
        for (size_t i = 0; i < sizeof(buf); i++)
                g_assert_cmpuint(buf[i], ==, 0xFF);
        g_assert_cmpint(sim_board_read_flash(b, F4_SECTOR1 + 0x3FC0, buf, sizeof(buf)), ==, 0);
        g_assert_cmpuint(buf[63], ==, 0xFF);
        g_assert_cmpint(sim_board_read_flash(b, 0x08000000, buf, sizeof(buf)), ==, 0);
        g_assert_cmpmem(buf, sizeof(buf), data, sizeof(data));

        const SimCounters *c = sim_board_counters(b);
        g_assert_cmpuint(c->n_sectors, ==, 12);
        g_assert_cmpuint(c->erases_per_sector[0], ==, 0);
        g_assert_cmpuint(c->erases_per_sector[1], ==, 1);
        g_assert_cmpuint(c->erase, ==, 1);

        /* Only internal flash erases: RAM, option bytes, OTP and nowhere answer errTARGET. */
        static const uint32_t not_flash[] = {0x20000000, 0x1FFFC000, 0x1FFF7800, 0x08100000, 0x60000000};
        FOREACH_ARRAY (a, not_flash, ELEMENTSOF(not_flash)) {
                g_assert_cmpint(test_erase(&h, *a), ==, SIM_STATUS_ERR_TARGET);
                test_clear(&h);
        }
}

static void test_mass_erase(void) {
        _cleanup_(sim_board_freep) SimBoard *b = test_board("f405", 0, PART_QUIRK_ARRIVES_IN_ERROR);
        uint8_t data[16] = {0}, buf[16];
        TestHost h;

        test_host_init(&h, b);
        g_assert_cmpint(test_write(&h, 0x08000000, data, sizeof(data)), ==, SIM_STATUS_OK);
        g_assert_cmpint(test_write(&h, 0x080E0000, data, sizeof(data)), ==, SIM_STATUS_OK);
        g_assert_cmpint(test_command(&h, 0x41, -1), ==, SIM_STATUS_OK);
        g_assert_cmpint(sim_board_read_flash(b, 0x080E0000, buf, sizeof(buf)), ==, 0);
        for (size_t i = 0; i < sizeof(buf); i++)
                g_assert_cmpuint(buf[i], ==, 0xFF);
        g_assert_cmpint(sim_board_read_flash(b, 0x08000000, buf, sizeof(buf)), ==, 0);
        g_assert_cmpuint(buf[0], ==, 0xFF);
        g_assert_cmpuint(sim_board_counters(b)->mass_erase, ==, 1);
}

static void test_round_trip(void) {
        _cleanup_(sim_board_freep) SimBoard *b = test_board("h743", 0, 0);
        uint8_t data[2 * 2048 + 100], buf[2048];
        size_t n = 0;
        TestHost h;

        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t)(i * 7 + 3);
        test_host_init(&h, b);
        g_assert_cmpint(test_erase(&h, 0x08020000), ==, SIM_STATUS_OK);
        g_assert_cmpint(test_set_address(&h, 0x08020000), ==, SIM_STATUS_OK);
        /* Block n lands at (n - 2) * wTransferSize past the pointer. */
        g_assert_cmpint(test_dnload(&h, 2, data, 2048), ==, SIM_STATUS_OK);
        g_assert_cmpint(test_dnload(&h, 3, data + 2048, 2048), ==, SIM_STATUS_OK);
        g_assert_cmpint(test_dnload(&h, 4, data + 4096, 100), ==, SIM_STATUS_OK);
        g_assert_cmpuint(sim_board_counters(b)->blocks_written, ==, 3);
        g_assert_cmpuint(sim_board_counters(b)->bytes_written, ==, sizeof(data));

        g_assert_cmpint(test_upload(&h, 0x08020000, buf, 2048), ==, 2048);
        g_assert_cmpmem(buf, 2048, data, 2048);
        g_assert_cmpuint(sim_board_state(b), ==, SIM_STATE_UPLOAD_IDLE);
        g_assert_cmpint(test_ctl(&h, 0xA1, 2, 4, 0, 100, buf, &n), ==, SIM_OK);
        g_assert_cmpmem(buf, n, data + 4096, 100);
        g_assert_cmpint(test_ctl(&h, 0xA1, 2, 3, 0, 2048, buf, &n), ==, SIM_OK);
        g_assert_cmpmem(buf, n, data + 2048, 2048);

        /* Reading past the end of flash gives a short frame, which ends the upload. */
        g_assert_cmpint(test_upload(&h, 0x081FFF00, buf, 2048), ==, 256);
        g_assert_cmpuint(sim_board_state(b), ==, SIM_STATE_IDLE);
}

static void test_and_without_ecc(void) {
        _cleanup_(sim_board_freep) SimBoard *b = test_board("f405", 0, PART_QUIRK_ARRIVES_IN_ERROR);
        uint8_t buf[4];
        TestHost h;

        test_host_init(&h, b);
        g_assert_cmpint(test_write(&h, 0x08000000, ((uint8_t[]){0xF0, 0x0F, 0xFF, 0x33}), 4), ==,
                        SIM_STATUS_OK);
        /* A rewrite succeeds and only clears bits: F4 flash has no ECC, only a verify notices. */
        g_assert_cmpint(test_write(&h, 0x08000000, ((uint8_t[]){0x0F, 0xFF, 0x81, 0xFF}), 4), ==,
                        SIM_STATUS_OK);
        g_assert_cmpint(sim_board_read_flash(b, 0x08000000, buf, 4), ==, 0);
        g_assert_cmpmem(buf, 4, ((uint8_t[]){0x00, 0x0F, 0x81, 0x33}), 4);
}

static void check_ecc(const char *part, unsigned word) {
        _cleanup_(sim_board_freep) SimBoard *b = test_board(part, 0, PART_QUIRK_POLL_STALLS);
        uint8_t data[128], buf[128];
        TestHost h;

        g_assert_cmpuint(sim_board_part(b)->ecc_word, ==, word);
        memset(data, 0xFF, sizeof(data));
        test_host_init(&h, b);

        /* A word written with 0xFF reads blank, yet it is programmed: writing it again fails. */
        g_assert_cmpint(test_write(&h, 0x08000000, data, (uint16_t)word), ==, SIM_STATUS_OK);
        g_assert_cmpint(test_write(&h, 0x08000000, data, (uint16_t)word), ==, SIM_STATUS_ERR_PROG);
        g_assert_cmpuint(sim_board_state(b), ==, SIM_STATE_ERROR);
        test_clear(&h);

        /* A partial word is padded with 0xFF: its other bytes can no longer be written. */
        memset(data, 0x00, sizeof(data));
        g_assert_cmpint(test_write(&h, 0x08000000 + 2 * word, data, 4), ==, SIM_STATUS_OK);
        g_assert_cmpint(test_write(&h, 0x08000000 + 2 * word + 4, data, 4), ==, SIM_STATUS_ERR_PROG);
        test_clear(&h);
        g_assert_cmpint(sim_board_read_flash(b, 0x08000000 + 2 * word, buf, word), ==, 0);
        g_assert_cmpuint(buf[3], ==, 0x00);
        g_assert_cmpuint(buf[4], ==, 0xFF);

        /* The words before the failing one are programmed; an erase makes them writable again. */
        g_assert_cmpint(test_write(&h, 0x08000000 + word, data, (uint16_t)(2 * word)), ==,
                        SIM_STATUS_ERR_PROG);
        test_clear(&h);
        g_assert_cmpint(sim_board_read_flash(b, 0x08000000 + word, buf, 1), ==, 0);
        g_assert_cmpuint(buf[0], ==, 0x00);
        g_assert_cmpint(test_erase(&h, 0x08000000), ==, SIM_STATUS_OK);
        g_assert_cmpint(test_write(&h, 0x08000000, data, (uint16_t)(3 * word)), ==, SIM_STATUS_OK);
}

static void test_ecc_h7(void) {
        check_ecc("h743", 32);
}

static void test_ecc_l4(void) {
        check_ecc("l476", 8);
}

static void test_ram(void) {
        _cleanup_(sim_board_freep) SimBoard *b = test_board("h743", 0, 0);
        uint8_t data[16], buf[16];
        TestHost h;

        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t)(0xA0 + i);
        test_host_init(&h, b);
        /* DTCM and AXI SRAM take writes (and rewrites) ... */
        g_assert_cmpint(test_write(&h, 0x2001FF00, data, sizeof(data)), ==, SIM_STATUS_OK);
        g_assert_cmpint(test_write(&h, 0x24000010, data, sizeof(data)), ==, SIM_STATUS_OK);
        g_assert_cmpint(test_write(&h, 0x24000010, data, sizeof(data)), ==, SIM_STATUS_OK);
        g_assert_cmpint(test_upload(&h, 0x2001FF00, buf, sizeof(buf)), ==, sizeof(buf));
        g_assert_cmpmem(buf, sizeof(buf), data, sizeof(data));
        /* ... which a reset loses. */
        sim_board_reset(b);
        g_assert_cmpint(sim_board_read_flash(b, 0x2001FF00, buf, sizeof(buf)), ==, 0);
        g_assert_cmpuint(buf[0], ==, 0);

        /* SRAM4 is out of reach: set address, erase and write all fail with errTARGET. */
        g_assert_cmpint(test_write(&h, 0x38000000, data, sizeof(data)), ==, SIM_STATUS_ERR_TARGET);
        test_clear(&h);
        g_assert_cmpint(test_erase(&h, 0x38000000), ==, SIM_STATUS_ERR_TARGET);
        test_clear(&h);
        /* A block that runs from flash-less space past the pointer fails too. */
        g_assert_cmpint(test_set_address(&h, 0x1FF00000), ==, SIM_STATUS_OK);
        g_assert_cmpint(test_dnload(&h, 2, data, sizeof(data)), ==, SIM_STATUS_ERR_TARGET);
        test_clear(&h);
}

static void test_other_memories(void) {
        _cleanup_(sim_board_freep) SimBoard *b = test_board("f405", 0, PART_QUIRK_ARRIVES_IN_ERROR);
        uint8_t buf[16];
        TestHost h;

        test_host_init(&h, b);
        /* OTP: bits only clear, and nothing erases them. */
        g_assert_cmpint(test_write(&h, 0x1FFF7800, ((uint8_t[]){0xF0, 0x3C}), 2), ==, SIM_STATUS_OK);
        g_assert_cmpint(test_write(&h, 0x1FFF7800, ((uint8_t[]){0x0F, 0xFF}), 2), ==, SIM_STATUS_OK);
        g_assert_cmpint(test_erase(&h, 0x1FFF7800), ==, SIM_STATUS_ERR_TARGET);
        test_clear(&h);
        g_assert_cmpint(test_upload(&h, 0x1FFF7800, buf, 2), ==, 2);
        g_assert_cmpmem(buf, 2, ((uint8_t[]){0x00, 0x3C}), 2);

        /* Device feature: stored as written. */
        g_assert_cmpint(test_write(&h, 0xFFFF0000, ((uint8_t[]){0x00, 0x00, 0x00, 0x00}), 4), ==,
                        SIM_STATUS_OK);
        g_assert_cmpint(test_write(&h, 0xFFFF0000, ((uint8_t[]){0x12, 0x34, 0x56, 0x78}), 4), ==,
                        SIM_STATUS_OK);
        g_assert_cmpint(sim_board_read_flash(b, 0xFFFF0000, buf, 4), ==, 0);
        g_assert_cmpmem(buf, 4, ((uint8_t[]){0x12, 0x34, 0x56, 0x78}), 4);
        g_assert_cmpint(sim_board_read_flash(b, 0xFFFF0002, buf, 4), ==, -EFAULT);

        /* System memory reads (as zeros here) and never takes a write. */
        memset(buf, 0xEE, sizeof(buf));
        g_assert_cmpint(test_upload(&h, 0x1FFF0000, buf, sizeof(buf)), ==, sizeof(buf));
        g_assert_cmpuint(buf[0], ==, 0);
        g_assert_cmpint(test_write(&h, 0x1FFF0000, buf, 4), ==, SIM_STATUS_ERR_TARGET);
        test_clear(&h);

        /* Nowhere: the upload stalls with errTARGET. */
        g_assert_cmpint(test_set_address(&h, 0x08000000), ==, SIM_STATUS_OK);
        g_assert_cmpint(test_out(&h, 6, 0, NULL, 0), ==, SIM_OK);
        size_t n = 0;
        g_assert_cmpint(test_ctl(&h, 0xA1, 2, 2 + 0x100000 / 2048, 0, 16, buf, &n), ==, SIM_STALL);
        g_assert_cmpuint(sim_board_status(b), ==, SIM_STATUS_ERR_TARGET);
}

static void test_option_bytes(void) {
        _cleanup_(sim_board_freep) SimBoard *b = test_board("f405", 0, PART_QUIRK_ARRIVES_IN_ERROR);
        uint8_t opts[16], buf[16];
        TestHost h;

        memset(opts, 0xAA, sizeof(opts));
        test_host_init(&h, b);
        g_assert_cmpint(sim_board_set_alt(b, 1), ==, 0);
        g_assert_cmpint(test_set_address(&h, 0x1FFFC000), ==, SIM_STATUS_OK);
        /* Anything but the whole area is refused. */
        g_assert_cmpint(test_dnload(&h, 2, opts, 8), ==, SIM_STATUS_ERR_TARGET);
        test_clear(&h);

        /* The whole area: the first GETSTATUS answers busy and the board resets. */
        g_assert_cmpint(test_set_address(&h, 0x1FFFC000), ==, SIM_STATUS_OK);
        g_assert_cmpint(test_out(&h, 1, 2, opts, sizeof(opts)), ==, SIM_OK);
        g_assert_cmpint(test_getstatus(&h), ==, SIM_OK);
        g_assert_cmpuint(test_state(&h), ==, SIM_STATE_DNBUSY);
        g_assert_cmpuint(h.events, ==, SIM_EVENT_RESET);
        g_assert_cmpuint(sim_board_state(b), ==, SIM_STATE_IDLE);
        g_assert_cmpuint(sim_board_alt(b), ==, 0);
        g_assert_cmpint(sim_board_read_flash(b, 0x1FFFC000, buf, sizeof(buf)), ==, 0);
        g_assert_cmpmem(buf, sizeof(buf), opts, sizeof(opts));
}

static void test_read_protection(void) {
        SimBoardOptions o = {.part = part_find("h743"), .read_protected = true};
        _cleanup_(sim_board_freep) SimBoard *b = sim_board_new(&o);
        uint8_t data[32] = {0}, buf[32];
        TestHost h;

        g_assert_nonnull(b);
        g_assert_cmpint(sim_board_write_flash(b, 0x08000000, data, sizeof(data)), ==, 0);
        test_host_init(&h, b);
        g_assert_cmpint(test_upload(&h, 0x08000000, buf, sizeof(buf)), ==, -1);
        g_assert_cmpuint(sim_board_status(b), ==, SIM_STATUS_ERR_VENDOR);
        test_clear(&h);
        g_assert_cmpint(test_erase(&h, 0x08000000), ==, SIM_STATUS_ERR_VENDOR);
        test_clear(&h);
        g_assert_cmpint(test_command(&h, 0x41, -1), ==, SIM_STATUS_ERR_VENDOR);
        test_clear(&h);
        g_assert_cmpint(test_write(&h, 0x08020000, data, sizeof(data)), ==, SIM_STATUS_ERR_VENDOR);
        test_clear(&h);

        /* Read unprotect: busy, then the board wipes its flash and resets. */
        g_assert_cmpint(test_out(&h, 1, 0, ((uint8_t[]){0x92}), 1), ==, SIM_OK);
        g_assert_cmpint(test_getstatus(&h), ==, SIM_OK);
        g_assert_cmpuint(test_state(&h), ==, SIM_STATE_DNBUSY);
        g_assert_cmpuint(h.events, ==, SIM_EVENT_RESET);
        g_assert_cmpint(sim_board_read_flash(b, 0x08000000, buf, sizeof(buf)), ==, 0);
        g_assert_cmpuint(buf[0], ==, 0xFF);
        g_assert_cmpint(test_upload(&h, 0x08000000, buf, sizeof(buf)), ==, sizeof(buf));
        g_assert_cmpint(test_write(&h, 0x08000000, data, sizeof(data)), ==, SIM_STATUS_OK);
}

static void test_write_protection(void) {
        SimBoardOptions o = {.part = part_find("l476"), .write_protected = 1u << 1, .quirks_off = ~0u};
        _cleanup_(sim_board_freep) SimBoard *b = sim_board_new(&o);
        uint8_t data[4096], buf[4096];
        TestHost h;

        g_assert_nonnull(b);
        memset(data, 0x3C, sizeof(data));
        /* Page 1 (0x08000800) is protected: the erase "succeeds" and changes nothing ... */
        g_assert_cmpint(sim_board_write_flash(b, 0x08000800, data, 16), ==, 0);
        test_host_init(&h, b);
        g_assert_cmpint(test_erase(&h, 0x08000800), ==, SIM_STATUS_OK);
        g_assert_cmpint(sim_board_read_flash(b, 0x08000800, buf, 16), ==, 0);
        g_assert_cmpmem(buf, 16, data, 16);

        /* ... and a block across pages 0 to 1 is written only in page 0, without an error. */
        memset(data, 0x00, sizeof(data));
        g_assert_cmpint(test_erase(&h, 0x08000000), ==, SIM_STATUS_OK);
        g_assert_cmpint(test_write(&h, 0x08000400, data, 2048), ==, SIM_STATUS_OK);
        g_assert_cmpint(sim_board_read_flash(b, 0x08000400, buf, 2048), ==, 0);
        g_assert_cmpuint(buf[0x3FF], ==, 0x00);
        g_assert_cmpuint(buf[0x400], ==, 0x3C);
        g_assert_cmpuint(buf[0x7FF], ==, 0xFF);
}

static void test_leave(void) {
        _cleanup_(sim_board_freep) SimBoard *f4 = test_board("f405", 0, PART_QUIRK_ARRIVES_IN_ERROR);
        _cleanup_(sim_board_freep) SimBoard *h7 = test_board("h743", 0, 0);
        TestHost h;

        /* Classic: GETSTATUS answers dfuMANIFEST, then the board is gone. */
        test_host_init(&h, f4);
        g_assert_cmpint(test_set_address(&h, 0x08000000), ==, SIM_STATUS_OK);
        g_assert_cmpint(test_out(&h, 1, 0, NULL, 0), ==, SIM_OK);
        g_assert_cmpint(test_getstatus(&h), ==, SIM_OK);
        g_assert_cmpuint(test_state(&h), ==, SIM_STATE_MANIFEST);
        g_assert_cmpuint(h.events, ==, SIM_EVENT_LEAVE);
        g_assert_true(sim_board_gone(f4));
        g_assert_cmpint(test_getstatus(&h), ==, SIM_DISCONNECT);
        g_assert_cmpuint(sim_board_counters(f4)->leave, ==, 1);

        /* Newer parts reset before answering; leave works from dfuIDLE too. */
        test_host_init(&h, h7);
        g_assert_cmpint(test_out(&h, 1, 0, NULL, 0), ==, SIM_OK);
        g_assert_cmpuint(sim_board_state(h7), ==, SIM_STATE_MANIFEST_SYNC);
        g_assert_cmpint(test_getstatus(&h), ==, SIM_DISCONNECT);
        g_assert_cmpuint(h.events, ==, SIM_EVENT_LEAVE);
        g_assert_true(sim_board_gone(h7));

        /* Back into the bootloader: flash kept, state fresh. */
        sim_board_reset(h7);
        g_assert_false(sim_board_gone(h7));
        g_assert_cmpint(test_getstatus(&h), ==, SIM_OK);
        g_assert_cmpuint(test_state(&h), ==, SIM_STATE_IDLE);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/sim/dfu/arrival", test_arrival);
        g_test_add_func("/sim/dfu/get-commands", test_get_commands);
        g_test_add_func("/sim/dfu/wrong-state", test_wrong_state);
        g_test_add_func("/sim/dfu/block-rules", test_block_rules);
        g_test_add_func("/sim/dfu/set-address", test_set_address_validity);
        g_test_add_func("/sim/dfu/erase-page", test_erase_page);
        g_test_add_func("/sim/dfu/mass-erase", test_mass_erase);
        g_test_add_func("/sim/dfu/round-trip", test_round_trip);
        g_test_add_func("/sim/dfu/and-without-ecc", test_and_without_ecc);
        g_test_add_func("/sim/dfu/ecc-h7", test_ecc_h7);
        g_test_add_func("/sim/dfu/ecc-l4", test_ecc_l4);
        g_test_add_func("/sim/dfu/ram", test_ram);
        g_test_add_func("/sim/dfu/other-memories", test_other_memories);
        g_test_add_func("/sim/dfu/option-bytes", test_option_bytes);
        g_test_add_func("/sim/dfu/read-protection", test_read_protection);
        g_test_add_func("/sim/dfu/write-protection", test_write_protection);
        g_test_add_func("/sim/dfu/leave", test_leave);
        return test_run();
}
