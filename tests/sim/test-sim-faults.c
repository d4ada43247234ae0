/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fault injection in the simulated bootloader: unplug, stall, error status, silence. */

#include "test-sim-host.h"

#include "test-main.h"

static const uint8_t block[64] = {0x11, 0x22, 0x33};

static void inject(SimBoard *b, SimFault fault, SimPhase phase, unsigned after, unsigned count,
                   uint8_t status) {
        SimFaultSpec f = {.fault = fault, .phase = phase, .after = after, .count = count, .status = status};
        g_assert_cmpint(sim_board_inject(b, &f), ==, 0);
}

static void test_unplug_in_phase(void) {
        _cleanup_(sim_board_freep) SimBoard *b = test_board("h743", 0, 0);
        TestHost h;

        /* Write phase: DNLOAD (0), busy GETSTATUS (1), then the third request of the phase unplugs. */
        inject(b, SIM_FAULT_UNPLUG, SIM_PHASE_WRITE, 2, 0, 0);
        test_host_init(&h, b);
        g_assert_cmpint(test_erase(&h, 0x08000000), ==, SIM_STATUS_OK);
        g_assert_cmpint(test_set_address(&h, 0x08000000), ==, SIM_STATUS_OK);
        g_assert_cmpint(test_out(&h, 1, 2, block, sizeof(block)), ==, SIM_OK);
        g_assert_cmpint(test_getstatus(&h), ==, SIM_OK);
        h.now += 100000;
        g_assert_cmpint(test_getstatus(&h), ==, SIM_DISCONNECT);
        g_assert_true(sim_board_gone(b));
        g_assert_cmpint(test_getstatus(&h), ==, SIM_DISCONNECT);

        /* Plugged back in: the block was programmed before the unplug; the fault is spent. */
        uint8_t first;
        g_assert_cmpint(sim_board_read_flash(b, 0x08000000, &first, 1), ==, 0);
        g_assert_cmpuint(first, ==, 0x11);
        sim_board_reset(b);
        g_assert_cmpint(test_write(&h, 0x08000040, block, sizeof(block)), ==, SIM_STATUS_OK);
}

static void test_unplug_on_read(void) {
        _cleanup_(sim_board_freep) SimBoard *b = test_board("h743", 0, 0);
        uint8_t buf[64];
        size_t n = 0;
        TestHost h;

        inject(b, SIM_FAULT_UNPLUG, SIM_PHASE_READ, 0, 0, 0);
        test_host_init(&h, b);
        /* Neither writes nor the get-commands upload belong to the read phase. */
        g_assert_cmpint(test_write(&h, 0x08000000, block, sizeof(block)), ==, SIM_STATUS_OK);
        g_assert_cmpint(test_out(&h, 6, 0, NULL, 0), ==, SIM_OK);
        g_assert_cmpint(test_ctl(&h, 0xA1, 2, 0, 0, 4, buf, &n), ==, SIM_OK);
        g_assert_cmpint(test_ctl(&h, 0xA1, 2, 2, 0, sizeof(buf), buf, &n), ==, SIM_DISCONNECT);
}

static void test_stall(void) {
        _cleanup_(sim_board_freep) SimBoard *b = test_board("h743", 0, 0);
        TestHost h;

        inject(b, SIM_FAULT_STALL, SIM_PHASE_ANY, 1, 2, 0);
        test_host_init(&h, b);
        g_assert_cmpint(test_getstatus(&h), ==, SIM_OK);
        /* Bus-level stalls: the requests are lost, the DFU state is not touched. */
        g_assert_cmpint(test_getstatus(&h), ==, SIM_STALL);
        g_assert_cmpint(test_out(&h, 1, 0, ((uint8_t[]){0x41}), 1), ==, SIM_STALL);
        g_assert_cmpuint(sim_board_state(b), ==, SIM_STATE_IDLE);
        g_assert_cmpint(test_getstatus(&h), ==, SIM_OK);
        g_assert_cmpuint(test_state(&h), ==, SIM_STATE_IDLE);
        g_assert_cmpuint(sim_board_counters(b)->stalls, ==, 2);
        g_assert_cmpuint(sim_board_counters(b)->mass_erase, ==, 0);
}

/* A stall on the second poll of the erase phase: the erase command itself and the first poll pass. */
static void test_stall_on_poll(void) {
        _cleanup_(sim_board_freep) SimBoard *b = test_board("h743", 0, 0);
        SimFaultSpec f = {
                .fault = SIM_FAULT_STALL, .phase = SIM_PHASE_ERASE, .after = 1, .count = 2, .polls = true};
        TestHost h;

        g_assert_cmpint(sim_board_inject(b, &f), ==, 0);
        test_host_init(&h, b);
        g_assert_cmpint(test_out(&h, 1, 0, ((uint8_t[]){0x41, 0x00, 0x00, 0x00, 0x08}), 5), ==, SIM_OK);
        g_assert_cmpint(test_getstatus(&h), ==, SIM_OK);
        g_assert_cmpint(test_getstatus(&h), ==, SIM_STALL);
        g_assert_cmpint(test_getstatus(&h), ==, SIM_STALL);
        g_assert_cmpuint(sim_board_counters(b)->stalls, ==, 2);
        h.now += 10 * 1000 * 1000;
        g_assert_cmpint(test_getstatus(&h), ==, SIM_OK);
        g_assert_cmpuint(test_state(&h), ==, SIM_STATE_DNLOAD_IDLE);
        g_assert_cmpuint(sim_board_counters(b)->erase, ==, 1);
}

static void test_error_status(void) {
        _cleanup_(sim_board_freep) SimBoard *b = test_board("h743", 0, 0);
        uint8_t buf[sizeof(block)];
        TestHost h;

        inject(b, SIM_FAULT_STATUS, SIM_PHASE_WRITE, 0, 0, SIM_STATUS_ERR_WRITE);
        test_host_init(&h, b);
        g_assert_cmpint(test_set_address(&h, 0x08000000), ==, SIM_STATUS_OK);
        g_assert_cmpint(test_out(&h, 1, 2, block, sizeof(block)), ==, SIM_OK);
        g_assert_cmpint(test_getstatus(&h), ==, SIM_OK);
        g_assert_cmpuint(test_state(&h), ==, SIM_STATE_ERROR);
        g_assert_cmpuint(test_bstatus(&h), ==, SIM_STATUS_ERR_WRITE);
        g_assert_cmpuint(sim_board_counters(b)->errors, ==, 1);
        /* The block was never programmed. */
        g_assert_cmpint(sim_board_read_flash(b, 0x08000000, buf, sizeof(buf)), ==, 0);
        g_assert_cmpuint(buf[0], ==, 0xFF);
        test_clear(&h);
        g_assert_cmpint(test_write(&h, 0x08000000, block, sizeof(block)), ==, SIM_STATUS_OK);
}

static void test_no_answer(void) {
        _cleanup_(sim_board_freep) SimBoard *b = test_board("h743", 0, 0);
        TestHost h;

        test_host_init(&h, b);
        inject(b, SIM_FAULT_NO_ANSWER, SIM_PHASE_ANY, 0, 1, 0);
        g_assert_cmpint(test_getstatus(&h), ==, SIM_NO_ANSWER);
        g_assert_cmpint(test_getstatus(&h), ==, SIM_OK);

        /* Count 0: silent for good, until the board is power-cycled. */
        inject(b, SIM_FAULT_NO_ANSWER, SIM_PHASE_ERASE, 1, 0, 0);
        g_assert_cmpint(test_out(&h, 1, 0, ((uint8_t[]){0x41, 0, 0, 0, 0x08}), 5), ==, SIM_OK);
        for (unsigned i = 0; i < 5; i++)
                g_assert_cmpint(test_getstatus(&h), ==, SIM_NO_ANSWER);
        g_assert_cmpint(test_out(&h, 4, 0, NULL, 0), ==, SIM_NO_ANSWER);
        sim_board_reset(b);
        g_assert_cmpint(test_getstatus(&h), ==, SIM_OK);
}

/* A held board keeps answering busy long after its erase is done, and ends it once released. */
static void test_hold(void) {
        _cleanup_(sim_board_freep) SimBoard *b = test_board("h743", 0, 0);
        uint8_t erase[5] = {0x41, 0x00, 0x00, 0x00, 0x08};
        TestHost h;

        test_host_init(&h, b);
        g_assert_cmpint(test_out(&h, 1, 0, erase, sizeof(erase)), ==, SIM_OK);
        sim_board_hold(b, true);
        g_assert_cmpint(test_getstatus(&h), ==, SIM_OK);
        g_assert_cmpuint(test_state(&h), ==, SIM_STATE_DNBUSY);
        unsigned poll_ms = test_poll_ms(&h);
        g_assert_cmpuint(poll_ms, >, 0);
        for (unsigned i = 0; i < 3; i++) {
                h.now += 60 * G_USEC_PER_SEC; /* far past the end of any erase */
                g_assert_cmpint(test_getstatus(&h), ==, SIM_OK);
                g_assert_cmpuint(test_state(&h), ==, SIM_STATE_DNBUSY);
                g_assert_cmpuint(test_poll_ms(&h), ==, poll_ms);
        }
        sim_board_hold(b, false);
        g_assert_cmpint(test_getstatus(&h), ==, SIM_OK);
        g_assert_cmpuint(test_state(&h), ==, SIM_STATE_DNLOAD_IDLE);
        g_assert_cmpuint(test_bstatus(&h), ==, SIM_STATUS_OK);
        g_assert_cmpuint(sim_board_counters(b)->erase, ==, 1);
}

static void test_queue(void) {
        _cleanup_(sim_board_freep) SimBoard *b = test_board("h743", 0, 0);
        SimFaultSpec f = {.fault = SIM_FAULT_STALL};
        TestHost h;

        inject(b, SIM_FAULT_STALL, SIM_PHASE_ERASE, 0, 1, 0);
        inject(b, SIM_FAULT_STATUS, SIM_PHASE_LEAVE, 0, 0, SIM_STATUS_ERR_FIRMWARE);
        test_host_init(&h, b);
        /* The erase request itself is stalled; the retry goes through. */
        g_assert_cmpint(test_erase(&h, 0x08000000), ==, -1);
        g_assert_cmpint(test_erase(&h, 0x08000000), ==, SIM_STATUS_OK);
        /* The leave GETSTATUS reports the error and the board stays. */
        g_assert_cmpint(test_out(&h, 1, 0, NULL, 0), ==, SIM_OK);
        g_assert_cmpint(test_getstatus(&h), ==, SIM_OK);
        g_assert_cmpuint(test_state(&h), ==, SIM_STATE_ERROR);
        g_assert_cmpuint(test_bstatus(&h), ==, SIM_STATUS_ERR_FIRMWARE);
        g_assert_false(sim_board_gone(b));

        for (unsigned i = 2; i < SIM_FAULTS_MAX; i++)
                g_assert_cmpint(sim_board_inject(b, &f), ==, 0);
        g_assert_cmpint(sim_board_inject(b, &f), ==, -ENOSPC);
        f.fault = SIM_FAULT_NONE;
        g_assert_cmpint(sim_board_inject(b, &f), ==, -EINVAL);

        /* Cleared, the queue takes specs again and the stall in progress ends. */
        f.fault = SIM_FAULT_STALL;
        f.count = 5;
        sim_board_clear_faults(b);
        g_assert_cmpint(sim_board_inject(b, &f), ==, 0);
        g_assert_cmpint(test_getstatus(&h), ==, SIM_STALL);
        sim_board_clear_faults(b);
        g_assert_cmpint(test_getstatus(&h), ==, SIM_OK);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/sim/fault/unplug-in-phase", test_unplug_in_phase);
        g_test_add_func("/sim/fault/unplug-on-read", test_unplug_on_read);
        g_test_add_func("/sim/fault/stall", test_stall);
        g_test_add_func("/sim/fault/stall-on-poll", test_stall_on_poll);
        g_test_add_func("/sim/fault/error-status", test_error_status);
        g_test_add_func("/sim/fault/no-answer", test_no_answer);
        g_test_add_func("/sim/fault/queue", test_queue);
        g_test_add_func("/sim/fault/hold", test_hold);
        return test_run();
}
