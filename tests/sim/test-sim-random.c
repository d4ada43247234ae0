/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Random request streams against every part: whatever a host sends, the model keeps its invariants
 * (answers fit the request, time never runs backwards, states and status codes stay in range), and
 * a mass erase still brings the flash back. Fixed seeds, so a failure replays.
 */

#include "test-sim-host.h"

#include "test-main.h"

#define REQUESTS_PER_PART 6000

/* Requests biased towards the ones that move the state machine, with plausible and wild addresses. */
static void random_setup(GRand *r, const SimBoard *b, SimSetup *s, uint8_t *data) {
        static const uint32_t bases[] = {0x08000000, 0x08100000, 0x20000000, 0x24000000, 0x38000000,
                                         0x1FFF0000, 0x1FFFC000, 0x5200201C, 0xFFFF0000, 0x00000000};
        uint32_t address =
                bases[g_rand_int_range(r, 0, ELEMENTSOF(bases))] + g_rand_int_range(r, 0, 0x20000);
        uint16_t ts = sim_board_part(b)->transfer_size;

        *s = (SimSetup){0xA1, 3, 0, 0, 6};
        /* Mostly a host that clears errors, so that the stream gets somewhere. */
        if (sim_board_state(b) == SIM_STATE_ERROR && g_rand_int_range(r, 0, 4) > 0) {
                *s = (SimSetup){0x21, 4, 0, 0, 0};
                return;
        }
        switch (g_rand_int_range(r, 0, 12)) {
        case 0: /* set address */
        case 1:
                *s = (SimSetup){0x21, 1, 0, 0, 5};
                data[0] = 0x21;
                memcpy(data + 1, &address, 4); /* the tests run on little-endian hosts only */
                break;
        case 2: /* erase, sometimes mass erase, sometimes junk */
                *s = (SimSetup){0x21, 1, 0, 0, g_rand_boolean(r) ? 5 : (uint16_t)g_rand_int_range(r, 1, 3)};
                data[0] = g_rand_int_range(r, 0, 8) == 0 ? 0x92 : 0x41;
                memcpy(data + 1, &address, 4);
                break;
        case 3: /* write */
                *s = (SimSetup){0x21, 1, (uint16_t)g_rand_int_range(r, 1, 6), 0,
                                (uint16_t)g_rand_int_range(r, 0, ts + 2)};
                for (unsigned i = 0; i < s->wLength; i++)
                        data[i] = (uint8_t)g_rand_int(r);
                break;
        case 4: /* read */
                *s = (SimSetup){0xA1, 2, (uint16_t)g_rand_int_range(r, 0, 6), 0,
                                (uint16_t)g_rand_int_range(r, 0, ts + 2)};
                break;
        case 5:
                *s = (SimSetup){0x21, (uint8_t)g_rand_int_range(r, 4, 7), 0, 0, 0}; /* CLRSTATUS, ABORT */
                if (s->bRequest == 5) /* GETSTATE is an IN request */
                        *s = (SimSetup){0xA1, 5, 0, 0, 1};
                break;
        case 6: /* anything at all, standard requests included */
                *s = (SimSetup){(uint8_t)g_rand_int(r), (uint8_t)g_rand_int_range(r, 0, 12),
                                (uint16_t)g_rand_int(r), (uint16_t)g_rand_int_range(r, 0, 2),
                                (uint16_t)g_rand_int_range(r, 0, 64)};
                memset(data, 0, s->wLength);
                break;
        default: /* GETSTATUS */
                break;
        }
}

static void inject_random(GRand *r, SimBoard *b) {
        SimFaultSpec f = {
                .fault = (SimFault)g_rand_int_range(r, SIM_FAULT_UNPLUG, SIM_FAULT_NO_ANSWER + 1),
                .phase = (SimPhase)g_rand_int_range(r, SIM_PHASE_ANY, SIM_PHASE_LEAVE + 1),
                .after = (unsigned)g_rand_int_range(r, 0, 6),
                .count = (unsigned)g_rand_int_range(r, 0, 4),
                .status = (uint8_t)g_rand_int_range(r, 1, 16),
        };
        int k = sim_board_inject(b, &f);
        g_assert_true(k == 0 || k == -ENOSPC);
}

static void check_answer(const SimBoard *b, const SimSetup *s, SimResult res, const uint8_t *data,
                         size_t len, uint64_t now, uint64_t ready) {
        g_assert_cmpint(res, >=, SIM_OK);
        g_assert_cmpint(res, <=, SIM_DISCONNECT);
        g_assert_cmpuint(ready, >=, now);
        g_assert_cmpuint(sim_board_state(b), <=, SIM_STATE_ERROR);
        g_assert_cmpuint(sim_board_status(b), <=, SIM_STATUS_ERR_STALLEDPKT);
        if (res != SIM_OK)
                return;
        if (s->bmRequestType & 0x80)
                g_assert_cmpuint(len, <=, s->wLength);
        if (s->bmRequestType == 0xA1 && s->bRequest == 3) {
                g_assert_cmpuint(len, ==, 6);
                g_assert_cmpuint(data[0], <=, SIM_STATUS_ERR_STALLEDPKT);
                g_assert_cmpuint(data[4], <=, SIM_STATE_ERROR);
        }
}

static void run_part(const PartInfo *p, guint32 seed) {
        _cleanup_(sim_board_freep) SimBoard *b = test_board(p->name, 0, 0);
        g_autoptr(GRand) r = g_rand_new_with_seed(seed);
        uint8_t data[4096], buf[4096];
        uint64_t now = 0;
        unsigned silent = 0;

        for (unsigned i = 0; i < REQUESTS_PER_PART; i++) {
                SimSetup s;
                uint64_t ready = 0;
                unsigned events = 0;
                size_t len = 0;

                random_setup(r, b, &s, data);
                SimResult res = sim_board_control(b, &s, data, &len, now, &ready, &events);
                check_answer(b, &s, res, data, len, now, ready);
                silent = res == SIM_NO_ANSWER ? silent + 1 : 0;
                now = (res == SIM_NO_ANSWER ? now : ready) + (uint64_t)g_rand_int_range(r, 0, 3000);
                /* Pull the plug on a board that left, fell off or stays silent, as a user would. */
                if (sim_board_gone(b) || silent > 5) {
                        sim_board_reset(b);
                        silent = 0;
                }
                if (i % 400 == 399)
                        inject_random(r, b);
        }

        /* The stream did reach every kind of operation. */
        const SimCounters *c = sim_board_counters(b);
        g_test_message("%s: %u set-address, %u erases, %u blocks written, %u uploads, %u stalls, %u errors",
                       p->name, c->set_address, c->erase, c->blocks_written, c->upload, c->stalls,
                       c->errors);
        g_assert_cmpuint(c->set_address, >, 0);
        g_assert_cmpuint(c->erase, >, 0);
        g_assert_cmpuint(c->blocks_written, >, 0);
        g_assert_cmpuint(c->upload, >, 0);
        g_assert_cmpuint(c->stalls, >, 0);

        /* Whatever happened, a mass erase from a fresh start empties the flash. */
        TestHost h;
        sim_board_clear_faults(b);
        sim_board_reset(b);
        test_host_init(&h, b);
        h.now = now + 1000000000;
        if (sim_board_state(b) == SIM_STATE_ERROR)
                test_clear(&h);
        g_assert_cmpint(test_command(&h, 0x41, -1), ==, SIM_STATUS_OK);
        for (uint32_t off = 0; off < sim_board_flash_size(b); off += sizeof(buf)) {
                g_assert_cmpint(sim_board_read_flash(b, sim_board_flash_base(b) + off, buf, sizeof(buf)), ==,
                                0);
                for (size_t k = 0; k < sizeof(buf); k++)
                        g_assert_cmpuint(buf[k], ==, 0xFF);
        }
}

static void test_random(void) {
        for (unsigned i = 0; i < part_table_size; i++)
                run_part(&part_table[i], 0x5EED0000u + i);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/sim/random/all-parts", test_random);
        return test_run();
}
